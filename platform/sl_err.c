/* sl_err - text for the error enum. */
#include "sl_err.h"

static const char *const sl_err_text[] = {
	[0] = "success",
	[1] = "out of memory",
	[2] = "invalid argument",
	[3] = "try again",
	[4] = "not found",
	[5] = "already exists",
	[6] = "limit reached",
	[7] = "invalid configuration",
	[8] = "I/O error",
	[9] = "connection closed",
	[10] = "timed out",
	[11] = "connection reset by peer",
	[12] = "not supported",
	[13] = "address in use",
	[14] = "connection refused",
	[15] = "protocol error",
	[16] = "busy",
	[17] = "invalid state",
	[18] = "unreachable",
	[19] = "authentication failed",
	[20] = "data corrupt",
	[21] = "storage full",
};

const char *sl_strerror(int err)
{
	if (err > 0 || err < SL_ERR_MIN)
		return "unknown error";
	return sl_err_text[-err];
}
