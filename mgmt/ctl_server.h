/* ctl_server - the UNIX control socket that sluicectl talks to.
 *
 * Runs on its own non-polling thread. One request per connection:
 *   request  = argv strings, each ending in NUL, then EOF (shutdown write)
 *   response = "ok\n" or "error: <text>\n", then the command's output,
 *              then EOF.
 * Only root and the uid sluiced runs as may connect (SO_PEERCRED); the
 * socket file is mode 0660. Requests are capped at 64 KB. */
#ifndef CTL_SERVER_H
#define CTL_SERVER_H

#include "sl_buf.h"

typedef struct ctl_server ctl_server_t;

/* A command handler writes its output into OUT and returns 0, or a negative
 * sl_err with *error_r set (static or thread-local text). ARGV[0] is the
 * first word after the command's own words. */
typedef int ctl_handler_t(void *ctx, int argc, char **argv, sl_buf_t *out, const char **error_r);

typedef struct ctl_cmd {
	const char *words; /* "show interfaces" */
	const char *usage; /* "show interfaces" (shown by `help`) */
	ctl_handler_t *fn;
} ctl_cmd_t;

/* ctl_server_start - bind PATH (replacing a stale socket; refusing if a live
 * daemon answers on it) and start the thread. TABLES is a NULL-terminated
 * list of command tables, each ending in a {NULL} entry. 0 or SL_EIO /
 * SL_EADDRINUSE with *error_r. */
int ctl_server_start(const char *path, const ctl_cmd_t *const *tables, void *ctx,
		     ctl_server_t **srv_r, const char **error_r);
/* ctl_server_stop - stop the thread, remove the socket file; *SRV = NULL. */
void ctl_server_stop(ctl_server_t **srv);

#endif
