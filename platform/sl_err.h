/* sl_err - the one error model of Sluice (STYLE.md #5).
 *
 * Every fallible function returns int: 0 on success, or a negative value
 * from enum sl_err. Human-readable detail, where useful, comes back through
 * a `const char **error_r` out-parameter. */
#ifndef SL_ERR_H
#define SL_ERR_H

enum sl_err {
	SL_OK = 0,
	SL_ENOMEM = -1,       /* allocation or mempool exhausted */
	SL_EINVAL = -2,       /* bad argument or malformed input */
	SL_EAGAIN = -3,       /* would block; retry after the next event */
	SL_ENOENT = -4,       /* no such object */
	SL_EEXIST = -5,       /* object already exists */
	SL_ELIMIT = -6,       /* a configured hard limit was reached */
	SL_ECONFIG = -7,      /* configuration is invalid */
	SL_EIO = -8,          /* I/O or device error */
	SL_ECLOSED = -9,      /* the stream or connection is closed */
	SL_ETIMEDOUT = -10,   /* the peer did not answer in time */
	SL_ERESET = -11,      /* the peer reset the connection */
	SL_ENOTSUP = -12,     /* operation not supported here */
	SL_EADDRINUSE = -13,  /* port or address already bound */
	SL_ECONNREFUSED = -14,/* the peer refused the connection */
	SL_EPROTO = -15,      /* protocol violation by the peer */
	SL_EBUSY = -16,       /* resource is in use (a lock, a mailbox) */
	SL_ESTATE = -17,      /* operation not valid in the current state */
	SL_EUNREACH = -18,    /* no route or ARP resolution failed */
	SL_EAUTH = -19,       /* authentication failed */
	SL_ECORRUPT = -20,    /* stored data failed a consistency check */
	SL_EFULL = -21,       /* storage full (e.g. LMDB map full) */
	SL_ERR_MIN = -21
};

/* sl_strerror - text for an sl_err code (0 or negative). Never NULL; the
 * string is static. Unknown codes give "unknown error". */
const char *sl_strerror(int err);

#endif
