/* smtp_server - the SMTP glue of one data-plane lane.
 *
 * Binds netstack TCP connections to sans-IO smtp sessions (mta/smtp/) and
 * answers their requests:
 *   RCPT     st_rcpt_resolve on the lane's reader, synchronously (a read
 *            transaction of microseconds);
 *   AUTH     st_user_authenticate on the auth pool (argon2id never runs on
 *            the worker), result posted back to the lane;
 *   DELIVER  the message was streamed into a bounded staging buffer (and
 *            hashed) while it arrived; one st_msg_deliver for all local
 *            recipients (INBOX) plus an outbound queue entry for relay
 *            recipients; the 250 is given in the completion callback, i.e.
 *            after the group commit (RFC 5321 §6.1).
 * While a request waits the worker serves every other session.
 *
 * Threading: everything here runs on the lane's worker thread, except
 * smtp_server_get_stats, which must be called there too (sl_worker_call).
 * The lane calls smtp_server_tick() at the start of every loop turn, after
 * it has polled its store client and the auth pool (whose completions call
 * back into the server). */
#ifndef SMTP_SERVER_H
#define SMTP_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "ns.h"
#include "ns_stream.h"
#include "smtp/smtp_session.h"
#include "mta_authpool.h"
#include "smtp_filter.h"
#include "st.h"

typedef struct smtp_server smtp_server_t;

#define SMTP_SERVER_LISTENERS_MAX 4

/* A listener with role SMTP_ROLE_SUBMISSIONS is implicit TLS (RFC 8314,
 * port 465) and needs params.tls; the others are plain, and offer STARTTLS
 * when params.tls is set. */
typedef struct smtp_listener_conf {
	uint16_t port;
	enum smtp_role role;
	bool allow_plaintext_auth;
	bool require_tls;        /* MAIL/AUTH get 530 5.7.0 before STARTTLS */
} smtp_listener_conf_t;

typedef struct smtp_server_params {
	ns_stack_t *stack;
	st_client_t *client;     /* the lane's store client; borrowed */
	st_reader_t *reader;     /* the lane's reader; borrowed */
	mta_authpool_t *auth;   /* shared; NULL: AUTH answers 454 */
	smtp_filter_t *filter;   /* the lane's content filter; NULL: pass-through */
	ns_tls_ctx_t *tls;       /* the lane's TLS context, borrowed (it must
				    outlive the server); NULL: no TLS */
	unsigned lane;           /* index for the auth pool and queue ids */
	/* Engine settings shared by the listeners (hostname must outlive the
	 * server); role, allow_plaintext_auth and stats are set per listener. */
	struct smtp_config engine;
	smtp_listener_conf_t listeners[SMTP_SERVER_LISTENERS_MAX];
	unsigned n_listeners;
	uint32_t max_sessions;   /* per lane */
	uint32_t max_per_ip;     /* concurrent sessions per client address */
	uint64_t staging_max;    /* message bytes staged by all sessions */
	/* Per-address AUTH lockout across sessions: after this many failures
	 * within auth_lockout_us, AUTH answers 454 without checking (0 = off). */
	uint32_t auth_lockout_failures;
	uint64_t auth_lockout_us;
	uint64_t now_us;
} smtp_server_params_t;

/* smtp_server_create - listen on every configured port of P->stack. 0, or
 * SL_EADDRINUSE / SL_ENOMEM / SL_EINVAL with *error_r (static text). */
int smtp_server_create(const smtp_server_params_t *p, smtp_server_t **srv_r,
		       const char **error_r);
/* smtp_server_destroy - abort every session, stop listening, release
 * everything. Deliveries still in the store's hands are detached: their
 * completions (run later by st_client_destroy or _poll) only free them.
 * Auth jobs must have been handed back first: stop the pool, then call
 * smtp_server_tick once. *SRV = NULL; NULL is a no-op. */
void smtp_server_destroy(smtp_server_t **srv);

/* smtp_server_set_tls - sessions accepted from now on (and STARTTLS from
 * now on) use TLS, a new lane context after `tls install`; sessions
 * already in TLS keep theirs. The caller destroys the old context after
 * this returns. 0, or SL_EINVAL (TLS NULL, or the server was made without
 * TLS: STARTTLS was never advertised). */
int smtp_server_set_tls(smtp_server_t *srv, ns_tls_ctx_t *tls);

/* smtp_server_tick - set the clock, fire session timers, retry deliveries
 * that waited for a store slot. Call every loop turn, after the stack's
 * poll. */
void smtp_server_tick(smtp_server_t *srv, uint64_t now_us);
/* smtp_server_next_deadline - earliest session timer (SL_TIME_NEVER). */
uint64_t smtp_server_next_deadline(const smtp_server_t *srv);
/* smtp_server_shutdown - stop listening and end sessions with 421; a
 * session whose message is being committed gets its 250 first. */
void smtp_server_shutdown(smtp_server_t *srv, uint64_t now_us);
/* smtp_server_busy - deliveries or auth checks in flight (after a shutdown:
 * wait until 0 before stopping the worker). */
unsigned smtp_server_busy(const smtp_server_t *srv);
/* smtp_server_sessions - sessions open. */
unsigned smtp_server_sessions(const smtp_server_t *srv);

/* Counters of the glue itself (the engine's are struct smtp_stats). */
#define SMTP_SERVER_STATS_FIELDS(X)                                              \
	X(sessions_current) X(rejected_session_limit) X(rejected_ip_limit)       \
	X(staging_full) X(auth_queue_full) X(auth_ip_locked)                     \
	X(deliveries_inflight)                                                   \
	X(deliveries_committed) X(deliveries_failed) X(store_submit_retries)
typedef struct smtp_server_stats {
#define SMTP_SERVER_STATS_DECLARE(n) uint64_t n;
	SMTP_SERVER_STATS_FIELDS(SMTP_SERVER_STATS_DECLARE)
#undef SMTP_SERVER_STATS_DECLARE
} smtp_server_stats_t;
extern const char *const smtp_server_stats_names[]; /* field order, NULL-ended */

/* smtp_server_get_stats - the lane's engine and glue counters (worker
 * thread). */
void smtp_server_get_stats(const smtp_server_t *srv, struct smtp_stats *engine_r,
			   smtp_server_stats_t *glue_r);

#endif
