/* imap_server - the IMAP glue of one data-plane lane (ports 143 and 993).
 *
 * Binds the sans-IO IMAP engine (mta/imap/) to netstack streams through
 * mta_conn, and answers its requests:
 *   AUTH      st_user_authenticate on the shared auth pool (argon2id never
 *             runs on the worker); an address with too many recent failures
 *             is refused without a check (auth_lockout_*), on top of the
 *             engine's growing per-session delay;
 *   STARTTLS  mta_conn_starttls (flush the OK, discard what followed,
 *             handshake); LOGINDISABLED before TLS unless the listener
 *             allows plaintext logins;
 *   the rest  imap_store (mta/imap_store.h): reads in one short st_read on
 *             the lane's reader, writes on the lane's store client with the
 *             tagged OK after the group commit, \Recent for exactly one
 *             session, change notification between sessions (at once for
 *             this lane's writes, st_mailbox_gen for IDLE, a SYNC at every
 *             NOOP/CHECK for everything else).
 *
 * Threading: everything runs on the lane's worker (get_stats too, through
 * sl_worker_call). The lane polls the store client and the auth pool
 * (their completions call back into this server on the same thread). */
#ifndef IMAP_SERVER_H
#define IMAP_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "imap/imap_session.h"
#include "imap_store.h"
#include "mta_authpool.h"
#include "mta_conn.h"
#include "ns_stream.h"
#include "st.h"

typedef struct imap_server imap_server_t;

typedef struct imap_listener_conf {
	uint16_t port;
	bool implicit_tls;         /* 993 */
	bool allow_plaintext_auth; /* LOGIN/AUTHENTICATE before STARTTLS */
} imap_listener_conf_t;

typedef struct imap_server_params {
	ns_stack_t *stack;
	st_client_t *client;     /* the lane's; borrowed */
	st_reader_t *reader;     /* the lane's; borrowed */
	mta_authpool_t *auth;    /* shared; NULL: logins fail temporarily */
	struct imap_recent *recent; /* \Recent claims, shared; NULL: this lane's own */
	ns_tls_ctx_t *tls;       /* the lane's, borrowed; NULL: no TLS */
	unsigned lane;
	/* Engine settings shared by the listeners (hostname must outlive the
	 * server); starttls_available, allow_plaintext_auth, sync_on_poll and
	 * stats are set per listener by the server. */
	struct imap_config engine;
	imap_listener_conf_t listeners[MTA_SRV_LISTENERS_MAX];
	unsigned n_listeners;
	uint32_t max_sessions;   /* per lane */
	uint32_t max_per_ip;     /* concurrent sessions per client address */
	/* Failed logins per client address across sessions: after this many
	 * within auth_lockout_us, logins fail without a check (0 = off). */
	uint32_t auth_lockout_failures;
	uint64_t auth_lockout_us;
	uint64_t idle_poll_us;   /* st_mailbox_gen poll of IDLE sessions (0: 50 ms) */
	uint64_t now_us;
} imap_server_params_t;

/* Counters of the glue (summed over lanes by the control socket): the
 * driver's, the server's, and the store side's (imap_store.h). */
#define IMAP_SERVER_STATS_FIELDS(X)                                                      \
	X(sessions_current) X(sessions_accepted) X(rejected_session_limit)                \
	X(rejected_ip_limit) X(auth_ip_locked) X(auth_queue_full) X(tls_refused)          \
	X(store_reads) X(store_read_errors) X(store_writes_committed)                      \
	X(store_writes_failed) X(store_writes_inflight) X(store_submit_retries)           \
	X(change_notifications) X(idle_polls)
typedef struct imap_server_stats {
#define IMAP_SERVER_STATS_FIELD(n) uint64_t n;
	IMAP_SERVER_STATS_FIELDS(IMAP_SERVER_STATS_FIELD)
#undef IMAP_SERVER_STATS_FIELD
} imap_server_stats_t;
extern const char *const imap_server_stats_names[]; /* field order, NULL-ended */

/* imap_server_create - listen on every configured port. 0, or SL_EINVAL /
 * SL_EADDRINUSE / SL_ENOMEM with *error_r (static text). */
int imap_server_create(const imap_server_params_t *p, imap_server_t **srv_r,
		       const char **error_r);
/* imap_server_destroy - abort every session, stop listening. Store writes
 * still in flight are detached (their completions only free). Auth jobs
 * must have been handed back first (stop the pool, poll once). *SRV =
 * NULL; NULL is a no-op. */
void imap_server_destroy(imap_server_t **srv);
/* imap_server_set_tls - sessions accepted from now on (and STARTTLS from
 * now on) use TLS; the caller destroys the old context afterwards. 0 or
 * SL_EINVAL (made without TLS). */
int imap_server_set_tls(imap_server_t *srv, ns_tls_ctx_t *tls);
/* imap_server_tick - set the clock, fire session timers, resubmit queued
 * store writes, poll the mailboxes of IDLE sessions. Every loop turn. */
void imap_server_tick(imap_server_t *srv, uint64_t now_us);
/* imap_server_next_deadline - earliest timer or poll (SL_TIME_NEVER). */
uint64_t imap_server_next_deadline(const imap_server_t *srv);
/* imap_server_shutdown - stop listening; sessions get "* BYE" (a command
 * whose write is being committed gets its answer first). */
void imap_server_shutdown(imap_server_t *srv, uint64_t now_us);
/* imap_server_busy - requests in flight, writes of closed sessions
 * included (a drain waits for 0). */
unsigned imap_server_busy(const imap_server_t *srv);
void imap_server_get_stats(const imap_server_t *srv, struct imap_stats *engine_r,
			   imap_server_stats_t *glue_r);

#endif
