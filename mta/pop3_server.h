/* pop3_server - the POP3 glue of one data-plane lane (ports 110 and 995).
 *
 * Binds the sans-IO POP3 engine (mta/pop3/) to netstack streams through
 * mta_conn, and answers its requests from the store:
 *   AUTH      st_user_authenticate on the shared auth pool (argon2id never
 *             runs on the worker); an address with too many recent failures
 *             is refused without a check;
 *   MAILDROP  the process-wide maildrop lock of the user (a second session
 *             gets -ERR [IN-USE], RFC 2449), then the INBOX listing in UID
 *             order; the unique-id is "<UIDVALIDITY>.<UID>", stable across
 *             sessions for as long as the mailbox lives;
 *   FETCH     st_body_read, zero copy, inside one short read transaction;
 *   UPDATE    one st_msg_expunge of the deleted UIDs; +OK only after the
 *             commit is durable; the lock is held until then;
 *   STLS      mta_conn_starttls.
 *
 * Threading: everything runs on the lane's worker (get_stats too, through
 * sl_worker_call); the maildrop lock table is the only shared state. */
#ifndef POP3_SERVER_H
#define POP3_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "mta_authpool.h"
#include "mta_conn.h"
#include "ns_stream.h"
#include "pop3/pop3_session.h"
#include "st.h"

typedef struct pop3_server pop3_server_t;

typedef struct pop3_listener_conf {
	uint16_t port;
	bool implicit_tls;         /* 995 */
	bool allow_plaintext_auth; /* USER/PASS and AUTH before STLS */
} pop3_listener_conf_t;

typedef struct pop3_server_params {
	ns_stack_t *stack;
	st_client_t *client;     /* the lane's; borrowed */
	st_reader_t *reader;     /* the lane's; borrowed */
	mta_authpool_t *auth;    /* shared; NULL: logins fail temporarily */
	ns_tls_ctx_t *tls;       /* the lane's, borrowed; NULL: no TLS */
	unsigned lane;
	/* Engine settings shared by the listeners (hostname must outlive the
	 * server); stls_available, allow_plaintext_auth and stats are set
	 * per listener. */
	struct pop3_config engine;
	pop3_listener_conf_t listeners[MTA_SRV_LISTENERS_MAX];
	unsigned n_listeners;
	uint32_t max_sessions;
	uint32_t max_per_ip;
	/* Failed logins per client address across sessions: after this many
	 * within auth_lockout_us, logins fail without a check (0 = off). */
	uint32_t auth_lockout_failures;
	uint64_t auth_lockout_us;
	uint64_t now_us;
} pop3_server_params_t;

/* Counters of the glue (summed over lanes by the control socket). */
#define POP3_SERVER_STATS_FIELDS(X)                                                       \
	X(sessions_current) X(sessions_accepted) X(rejected_session_limit)                 \
	X(rejected_ip_limit) X(auth_ip_locked) X(auth_queue_full) X(tls_refused)           \
	X(store_errors)
typedef struct pop3_server_stats {
#define POP3_SERVER_STATS_FIELD(n) uint64_t n;
	POP3_SERVER_STATS_FIELDS(POP3_SERVER_STATS_FIELD)
#undef POP3_SERVER_STATS_FIELD
} pop3_server_stats_t;
extern const char *const pop3_server_stats_names[];

/* pop3_server_create - listen on every configured port. 0, or SL_EINVAL /
 * SL_EADDRINUSE / SL_ENOMEM with *error_r (static text). */
int pop3_server_create(const pop3_server_params_t *p, pop3_server_t **srv_r,
		       const char **error_r);
/* pop3_server_destroy - abort every session (their maildrop locks are
 * released), stop listening. Store requests still in flight are detached.
 * Auth jobs must have been handed back first (stop the pool, poll once).
 * *SRV = NULL; NULL is a no-op. */
void pop3_server_destroy(pop3_server_t **srv);
/* pop3_server_set_tls - see smtp_server_set_tls. */
int pop3_server_set_tls(pop3_server_t *srv, ns_tls_ctx_t *tls);
void pop3_server_tick(pop3_server_t *srv, uint64_t now_us);
uint64_t pop3_server_next_deadline(const pop3_server_t *srv);
/* pop3_server_shutdown - stop listening; sessions get -ERR [SYS/TEMP] and
 * close without UPDATE (an UPDATE in flight finishes first). */
void pop3_server_shutdown(pop3_server_t *srv, uint64_t now_us);
/* pop3_server_busy - requests in flight (a drain waits for 0). */
unsigned pop3_server_busy(const pop3_server_t *srv);
void pop3_server_get_stats(const pop3_server_t *srv, struct pop3_stats *engine_r,
			   pop3_server_stats_t *glue_r);

#endif
