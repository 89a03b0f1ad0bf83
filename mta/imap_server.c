/* imap_server - mta_conn connections <-> imap sessions <-> the store.
 *
 * mta_conn pumps each connection; start_request hands AUTH to the auth
 * pool, STARTTLS to mta_conn, and everything else to imap_store. A request
 * that completes later (an auth result, a store commit) comes back through
 * imap_wake, which tells mta_conn the request is done (only once the
 * session has no request in the store's or the pool's hands any more) and
 * pumps. */
#include "imap_server.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mta_iptable.h"
#include "mta_login.h"
#include "sl_err.h"
#include "sl_log.h"
#include "sl_time.h"

#define IMAP_LOG "imap"

const char *const imap_server_stats_names[] = {
#define IMAP_SERVER_STATS_NAME(n) #n,
	IMAP_SERVER_STATS_FIELDS(IMAP_SERVER_STATS_NAME)
#undef IMAP_SERVER_STATS_NAME
	NULL};

typedef struct imap_listener {
	struct imap_config cfg;
} imap_listener_t;

/* What is in flight for a connection's outstanding request. */
enum imap_pending { IMAP_PENDING_NONE = 0, IMAP_PENDING_STORE, IMAP_PENDING_AUTH };

/* Per connection (mta_conn_data). */
typedef struct imap_conn {
	imap_server_t *srv;
	mta_conn_t *cn;
	imap_session_t *s;
	imap_store_sess_t *ss;
	mta_auth_job_t *auth;     /* at the auth pool */
	enum imap_pending pending;
} imap_conn_t;

struct imap_server {
	imap_server_params_t p;
	mta_srv_t *srv;
	imap_store_t *store;
	imap_listener_t lst[MTA_SRV_LISTENERS_MAX];
	mta_authlock_t *authlk;
	mta_login_t login;
	struct imap_stats stats;
	imap_server_stats_t gs;
};

/* imap_wake - an asynchronous completion or a change notification for the
 * connection: finish the request in mta_conn's eyes if nothing of it is
 * still out, then pump. May free the connection. */
static void imap_wake(void *owner)
{
	imap_conn_t *ic = owner;

	if (ic->pending == IMAP_PENDING_STORE && !imap_store_sess_busy(ic->ss)) {
		ic->pending = IMAP_PENDING_NONE;
		mta_conn_request_done(ic->cn);
	}
	mta_conn_pump(ic->cn);
}

/* ---- AUTH ---- */

static void auth_result(mta_auth_job_t *job)
{
	imap_conn_t *ic = job->owner;

	if (ic != NULL) {
		mta_login_peer_t peer = mta_login_peer_of(ic->cn);
		enum mta_login_status st = mta_login_result(&ic->srv->login, &peer, job);

		ic->auth = NULL;
		ic->pending = IMAP_PENDING_NONE;
		if (st == MTA_LOGIN_OK)
			imap_store_sess_login(ic->ss, job->user_id);
		mta_conn_request_done(ic->cn);
		imap_session_auth_done(ic->s, mta_srv_now(ic->srv->srv), (enum imap_auth_status)st,
				       st == MTA_LOGIN_OK ? job->user : NULL);
		mta_conn_pump(ic->cn);
	}
	mta_login_job_free(job);
}

/* ---- requests ---- */

static void start_request(void *proto, mta_conn_t *cn, uint64_t now)
{
	imap_conn_t *ic = mta_conn_data(cn);
	const struct imap_request *rq = imap_session_request(ic->s);
	mta_login_peer_t peer;
	int rc;

	(void)proto;
	switch (rq->kind) {
	case IMAP_REQ_AUTH:
		peer = mta_login_peer_of(cn);
		rc = (int)mta_login_start(&ic->srv->login, &peer, rq->u.auth.authzid,
					  rq->u.auth.authcid, rq->u.auth.password, auth_result, ic->srv, ic,
					  &ic->auth);
		if (rc == MTA_LOGIN_PENDING) {
			ic->pending = IMAP_PENDING_AUTH;
		} else {
			mta_conn_request_done(cn);
			imap_session_auth_done(ic->s, now, (enum imap_auth_status)rc, NULL);
		}
		break;
	case IMAP_REQ_STARTTLS:
		mta_conn_starttls(cn);
		break;
	default:
		/* Reads complete inside serve (the engine may already have
		 * issued the next request: mta_conn starts it after this). */
		ic->pending = IMAP_PENDING_STORE;
		rc = imap_store_serve(ic->ss, rq, now);
		if (rc == SL_EINVAL) {
			/* no request kind we know: refuse it like a failed TLS */
			ic->pending = IMAP_PENDING_NONE;
			mta_conn_request_done(cn);
			imap_session_tls_done(ic->s, now, false);
			break;
		}
		if (!imap_store_sess_busy(ic->ss)) {
			ic->pending = IMAP_PENDING_NONE;
			mta_conn_request_done(cn);
		}
		break;
	}
}

/* ---- engine entry points for mta_conn ---- */

static int e_session_create(void *proto, void *lst_ctx, mta_conn_t *cn, uint64_t now,
			    void **sess_r)
{
	imap_server_t *srv = proto;
	imap_listener_t *l = lst_ctx;
	struct imap_peer peer = {mta_conn_ip_str(cn), mta_conn_implicit_tls(cn), mta_conn_id(cn)};
	imap_conn_t *ic = calloc(1, sizeof(*ic));
	int rc;

	if (ic == NULL)
		return SL_ENOMEM;
	rc = imap_session_create(&l->cfg, &peer, now, &ic->s);
	if (rc < 0) {
		free(ic);
		return rc;
	}
	rc = imap_store_sess_create(srv->store, ic->s, ic, &ic->ss);
	if (rc < 0) {
		imap_session_destroy(&ic->s);
		free(ic);
		return rc;
	}
	ic->srv = srv;
	ic->cn = cn;
	mta_conn_set_data(cn, ic);
	*sess_r = ic->s;
	return 0;
}

static void e_session_destroy(void *proto, mta_conn_t *cn, void *sess)
{
	imap_conn_t *ic = mta_conn_data(cn);

	(void)proto;
	(void)sess;
	if (ic->auth != NULL)
		ic->auth->owner = NULL; /* auth_result frees it */
	/* a write in the store's hands keeps the engine session (it holds
	 * the borrowed arrays) until the commit */
	imap_store_sess_destroy(&ic->ss, &ic->s);
	free(ic);
}

static int e_input(void *s, uint64_t now, const void *p, size_t n, size_t *used_r)
{
	return imap_session_input(s, now, p, n, used_r);
}
static sl_slice_t e_output(const void *s) { return imap_session_output(s); }
static int e_output_consume(void *s, uint64_t now, size_t n)
{
	return imap_session_output_consume(s, now, n);
}
static bool e_closing(const void *s) { return imap_session_closing(s); }
static bool e_has_request(const void *s) { return imap_session_request(s) != NULL; }
static uint64_t e_deadline(const void *s) { return imap_session_deadline(s); }
static int e_timeout(void *s, uint64_t now) { return imap_session_timeout(s, now); }
static void e_shutdown(void *s, uint64_t now, const char *text)
{
	imap_session_shutdown(s, now, text);
}
static int e_tls_done(void *s, uint64_t now, bool ok) { return imap_session_tls_done(s, now, ok); }

static const mta_proto_ops_t imap_proto_ops = {
	.name = IMAP_LOG,
	.session_create = e_session_create,
	.session_destroy = e_session_destroy,
	.input = e_input,
	.output = e_output,
	.output_consume = e_output_consume,
	.closing = e_closing,
	.has_request = e_has_request,
	.start_request = start_request,
	.deadline = e_deadline,
	.timeout = e_timeout,
	.shutdown = e_shutdown,
	.tls_done = e_tls_done,
};

/* ---- the server ---- */

int imap_server_create(const imap_server_params_t *p, imap_server_t **srv_r,
		       const char **error_r)
{
	imap_server_t *srv;
	imap_store_params_t sp;
	mta_srv_params_t mp;
	int rc;

	*srv_r = NULL;
	if (p->client == NULL || p->reader == NULL || p->engine.hostname == NULL ||
	    p->n_listeners == 0 || p->n_listeners > MTA_SRV_LISTENERS_MAX) {
		*error_r = "imap: bad parameters";
		return SL_EINVAL;
	}
	srv = calloc(1, sizeof(*srv));
	if (srv == NULL)
		return SL_ENOMEM;
	srv->p = *p;
	srv->authlk = mta_authlock_create(p->auth_lockout_failures, p->auth_lockout_us);
	srv->login = (mta_login_t){p->auth, srv->authlk, p->lane, IMAP_LOG,
				   &srv->gs.auth_ip_locked, &srv->gs.auth_queue_full,
				   MTA_LOGIN_FAIL};
	memset(&sp, 0, sizeof(sp));
	sp.reader = p->reader;
	sp.client = p->client;
	sp.poll_us = p->idle_poll_us;
	sp.wake = imap_wake;
	sp.recent = p->recent;
	rc = imap_store_create(&sp, &srv->store);
	if (srv->authlk == NULL || rc < 0) {
		*error_r = "imap: out of memory";
		imap_server_destroy(&srv);
		return SL_ENOMEM;
	}
	memset(&mp, 0, sizeof(mp));
	mp.stack = p->stack;
	mp.tls = p->tls;
	mp.ops = &imap_proto_ops;
	mp.proto = srv;
	mp.max_sessions = p->max_sessions;
	mp.max_per_ip = p->max_per_ip;
	mp.ip_limit_text = "Too many connections from your address";
	mp.now_us = p->now_us;
	for (unsigned i = 0; i < p->n_listeners; i++) {
		imap_listener_t *l = &srv->lst[i];

		l->cfg = p->engine;
		l->cfg.starttls_available = p->tls != NULL && !p->listeners[i].implicit_tls;
		l->cfg.allow_plaintext_auth = p->listeners[i].allow_plaintext_auth;
		/* NOOP/CHECK always look for changes: SMTP deliveries and other
		 * lanes are seen without any watcher */
		l->cfg.sync_on_poll = true;
		l->cfg.stats = &srv->stats;
		mp.listeners[i] = (mta_listen_conf_t){p->listeners[i].port,
						      p->listeners[i].implicit_tls, l};
	}
	mp.n_listeners = p->n_listeners;
	rc = mta_srv_create(&mp, &srv->srv, error_r);
	if (rc < 0) {
		imap_server_destroy(&srv);
		return rc;
	}
	*srv_r = srv;
	return 0;
}

void imap_server_destroy(imap_server_t **srvp)
{
	imap_server_t *srv = *srvp;

	if (srv == NULL)
		return;
	mta_srv_destroy(&srv->srv);
	imap_store_destroy(&srv->store);
	mta_authlock_destroy(&srv->authlk);
	free(srv);
	*srvp = NULL;
}

int imap_server_set_tls(imap_server_t *srv, ns_tls_ctx_t *tls)
{
	return mta_srv_set_tls(srv->srv, tls);
}

void imap_server_tick(imap_server_t *srv, uint64_t now_us)
{
	mta_srv_tick(srv->srv, now_us);
	imap_store_tick(srv->store, now_us);
}

uint64_t imap_server_next_deadline(const imap_server_t *srv)
{
	uint64_t d = mta_srv_next_deadline(srv->srv), e = imap_store_next_deadline(srv->store);

	return e < d ? e : d;
}

void imap_server_shutdown(imap_server_t *srv, uint64_t now_us)
{
	mta_srv_shutdown(srv->srv, now_us, NULL);
}

unsigned imap_server_busy(const imap_server_t *srv)
{
	return mta_srv_busy(srv->srv) + imap_store_busy(srv->store);
}

void imap_server_get_stats(const imap_server_t *srv, struct imap_stats *engine_r,
			   imap_server_stats_t *glue_r)
{
	mta_srv_stats_t ms;
	imap_store_stats_t ss;

	if (engine_r != NULL)
		*engine_r = srv->stats;
	if (glue_r == NULL)
		return;
	mta_srv_get_stats(srv->srv, &ms);
	imap_store_get_stats(srv->store, &ss);
	*glue_r = srv->gs;
	glue_r->sessions_current = ms.current;
	glue_r->sessions_accepted = ms.accepted;
	glue_r->rejected_session_limit = ms.rejected_limit;
	glue_r->rejected_ip_limit = ms.rejected_ip_limit;
	glue_r->tls_refused = ms.tls_refused;
	glue_r->store_reads = ss.reads;
	glue_r->store_read_errors = ss.read_errors;
	glue_r->store_writes_committed = ss.writes_committed;
	glue_r->store_writes_failed = ss.writes_failed;
	glue_r->store_writes_inflight = ss.writes_inflight;
	glue_r->store_submit_retries = ss.submit_retries;
	glue_r->change_notifications = ss.notifications;
	glue_r->idle_polls = ss.gen_polls;
}
