/* pop3_server - mta_conn connections <-> pop3 sessions <-> the store. */
#include "pop3_server.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mta_iptable.h"
#include "mta_login.h"
#include "sl_err.h"
#include "sl_log.h"
#include "sl_time.h"

#define POP3_LOG "pop3"

const char *const pop3_server_stats_names[] = {
#define POP3_SERVER_STATS_NAME(n) #n,
	POP3_SERVER_STATS_FIELDS(POP3_SERVER_STATS_NAME)
#undef POP3_SERVER_STATS_NAME
	NULL};

/* ---- the maildrop lock: one POP3 session per user, process-wide ---- */

static pthread_mutex_t maildrop_mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t *maildrop_held; /* user ids */
static size_t maildrop_n, maildrop_cap;

/* maildrop_lock - 0, SL_EBUSY (held by another session), SL_ENOMEM. */
static int maildrop_lock(uint64_t user_id)
{
	int rc = 0;

	pthread_mutex_lock(&maildrop_mu);
	for (size_t i = 0; i < maildrop_n; i++)
		if (maildrop_held[i] == user_id) {
			rc = SL_EBUSY;
			goto out;
		}
	if (maildrop_n == maildrop_cap) {
		size_t cap = maildrop_cap ? 2 * maildrop_cap : 64;
		uint64_t *p = realloc(maildrop_held, cap * sizeof(*p));

		if (p == NULL) {
			rc = SL_ENOMEM;
			goto out;
		}
		maildrop_held = p;
		maildrop_cap = cap;
	}
	maildrop_held[maildrop_n++] = user_id;
out:
	pthread_mutex_unlock(&maildrop_mu);
	return rc;
}

static void maildrop_unlock(uint64_t user_id)
{
	pthread_mutex_lock(&maildrop_mu);
	for (size_t i = 0; i < maildrop_n; i++)
		if (maildrop_held[i] == user_id) {
			maildrop_held[i] = maildrop_held[--maildrop_n];
			break;
		}
	pthread_mutex_unlock(&maildrop_mu);
}

/* ---- state ---- */

typedef struct pop3_listener {
	struct pop3_config cfg;
} pop3_listener_t;

typedef struct pop3_msg {
	uint32_t uid;
	st_blob_id_t blob;
} pop3_msg_t;

typedef struct pop3_update pop3_update_t;

/* What the server keeps per connection (mta_conn_data). */
typedef struct pop3_conn {
	pop3_server_t *srv;
	mta_conn_t *cn;
	pop3_session_t *s;
	mta_auth_job_t *auth;     /* at the auth pool */
	pop3_update_t *update;    /* UPDATE at the store */
	uint64_t user_id;         /* after a successful AUTH */
	bool locked;              /* holds the maildrop lock of user_id */
	uint64_t mailbox_id;
	pop3_msg_t *msgs;         /* the listing, by glue id */
	size_t n_msgs;
} pop3_conn_t;

struct pop3_update {
	pop3_conn_t *pc;          /* NULL once the session is gone */
	uint64_t user_id;         /* whose lock the completion releases */
	st_uid_range_t *ranges;
	unsigned n_ranges;
};

struct pop3_server {
	pop3_server_params_t p;
	mta_srv_t *srv;
	pop3_listener_t lst[MTA_SRV_LISTENERS_MAX];
	mta_authlock_t *authlk;
	mta_login_t login;
	struct pop3_stats stats;
	pop3_server_stats_t gs;
};

/* ---- AUTH ---- */

static void auth_result(mta_auth_job_t *job)
{
	pop3_conn_t *pc = job->owner;

	if (pc != NULL) {
		mta_login_peer_t peer = mta_login_peer_of(pc->cn);
		enum mta_login_status st = mta_login_result(&pc->srv->login, &peer, job);

		pc->auth = NULL;
		if (st == MTA_LOGIN_OK)
			pc->user_id = job->user_id;
		mta_conn_request_done(pc->cn);
		pop3_session_auth_done(pc->s, mta_srv_now(pc->srv->srv), (enum pop3_auth_status)st,
				       st == MTA_LOGIN_OK ? job->user : NULL);
		mta_conn_pump(pc->cn);
	}
	mta_login_job_free(job);
}

/* ---- MAILDROP ---- */

typedef struct maildrop_read {
	pop3_conn_t *pc;
	size_t cap;
	uint32_t uidvalidity; /* the unique-ids are "<uidvalidity>.<uid>" */
} maildrop_read_t;

static int maildrop_msg(void *ctx, const st_msg_info_t *m)
{
	maildrop_read_t *k = ctx;
	pop3_conn_t *pc = k->pc;
	char uid[32];
	int n, rc;

	if (pc->n_msgs == k->cap) {
		size_t cap = k->cap ? 2 * k->cap : 256;
		pop3_msg_t *p = realloc(pc->msgs, cap * sizeof(*p));

		if (p == NULL)
			return SL_ENOMEM;
		pc->msgs = p;
		k->cap = cap;
	}
	n = snprintf(uid, sizeof(uid), "%" PRIu32 ".%" PRIu32, k->uidvalidity, m->uid);
	rc = pop3_session_msg_add(pc->s, pc->n_msgs, m->size, sl_slice_make(uid, (size_t)n));
	if (rc == SL_ELIMIT)
		return 1; /* the rest is not listed */
	if (rc < 0)
		return rc;
	pc->msgs[pc->n_msgs].uid = m->uid;
	pc->msgs[pc->n_msgs].blob = m->blob;
	pc->n_msgs++;
	return 0;
}

static int maildrop_read(st_reader_t *rd, void *ctx)
{
	maildrop_read_t *k = ctx;
	pop3_conn_t *pc = k->pc;
	st_mailbox_info_t mb;
	int rc;

	rc = st_mailbox_get(rd, pc->user_id, "INBOX", &mb);
	if (rc < 0)
		return rc;
	pc->mailbox_id = mb.id;
	k->uidvalidity = mb.uidvalidity;
	rc = st_msg_list(rd, mb.id, 1, UINT32_MAX, maildrop_msg, k);
	return rc < 0 ? rc : 0;
}

static enum pop3_maildrop_status maildrop_open(pop3_conn_t *pc)
{
	pop3_server_t *srv = pc->srv;
	maildrop_read_t k = {pc, 0, 0};
	int rc;

	rc = maildrop_lock(pc->user_id);
	if (rc == SL_EBUSY)
		return POP3_MAILDROP_IN_USE;
	if (rc < 0)
		return POP3_MAILDROP_TEMPFAIL;
	pc->locked = true;
	rc = st_read(srv->p.reader, maildrop_read, &k);
	if (rc < 0) {
		srv->gs.store_errors++;
		sl_log(SL_LOG_WARN, POP3_LOG, "[%s]: maildrop of user %" PRIu64 ": %s",
		       mta_conn_ip_str(pc->cn), pc->user_id, sl_strerror(rc));
		free(pc->msgs);
		pc->msgs = NULL;
		pc->n_msgs = 0;
		maildrop_unlock(pc->user_id);
		pc->locked = false;
		return POP3_MAILDROP_TEMPFAIL;
	}
	return POP3_MAILDROP_OK;
}

/* ---- FETCH ---- */

typedef struct fetch_read {
	pop3_conn_t *pc;
	const struct pop3_request *rq;
} fetch_read_t;

static int fetch_part(void *ctx, sl_slice_t part)
{
	fetch_read_t *k = ctx;
	int rc = pop3_session_fetch_data(k->pc->s, part);

	return rc == SL_ELIMIT ? 0 : rc;
}

static int fetch_read(st_reader_t *rd, void *ctx)
{
	fetch_read_t *k = ctx;
	const pop3_msg_t *m = &k->pc->msgs[k->rq->u.fetch.id];

	return st_body_read(rd, &m->blob, k->rq->u.fetch.offset, k->rq->u.fetch.len, fetch_part,
			    k);
}

static int fetch_run(pop3_conn_t *pc, const struct pop3_request *rq)
{
	fetch_read_t k = {pc, rq};
	int rc;

	if (rq->u.fetch.id >= pc->n_msgs)
		return SL_EINVAL;
	rc = st_read(pc->srv->p.reader, fetch_read, &k);
	if (rc < 0) {
		pc->srv->gs.store_errors++;
		sl_log(SL_LOG_WARN, POP3_LOG, "[%s]: message %" PRIu32 " of user %" PRIu64 ": %s",
		       mta_conn_ip_str(pc->cn), pc->msgs[rq->u.fetch.id].uid, pc->user_id,
		       sl_strerror(rc));
	}
	return rc;
}

/* ---- UPDATE ---- */

static void update_free(pop3_update_t *u)
{
	maildrop_unlock(u->user_id);
	free(u->ranges);
	free(u);
}

static void update_done(void *ctx, const st_result_t *res)
{
	pop3_update_t *u = ctx;
	pop3_conn_t *pc = u->pc;

	if (pc != NULL) {
		pop3_server_t *srv = pc->srv;

		pc->update = NULL;
		pc->locked = false; /* released below, after the commit */
		if (res->err < 0) {
			srv->gs.store_errors++;
			sl_log(SL_LOG_WARN, POP3_LOG, "[%s]: UPDATE of user %" PRIu64 " failed: %s",
			       mta_conn_ip_str(pc->cn), pc->user_id, sl_strerror(res->err));
		}
		mta_conn_request_done(pc->cn);
		pop3_session_update_done(pc->s, mta_srv_now(srv->srv), res->err == 0);
		update_free(u);
		mta_conn_pump(pc->cn);
		return;
	}
	update_free(u);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* update_start - 0 (submitted) or an error for update_done(false). */
static int update_start(pop3_conn_t *pc, const struct pop3_request *rq)
{
	size_t n = rq->u.update.n_ids;
	uint32_t *uids = malloc(n * sizeof(*uids));
	pop3_update_t *u = calloc(1, sizeof(*u));
	int rc = SL_ENOMEM;

	if (uids == NULL || u == NULL)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		if (rq->u.update.ids[i] >= pc->n_msgs) {
			rc = SL_EINVAL;
			goto fail;
		}
		uids[i] = pc->msgs[rq->u.update.ids[i]].uid;
	}
	qsort(uids, n, sizeof(*uids), cmp_u32);
	u->ranges = malloc(n * sizeof(*u->ranges));
	if (u->ranges == NULL)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		if (u->n_ranges > 0 && u->ranges[u->n_ranges - 1].hi + 1 == uids[i])
			u->ranges[u->n_ranges - 1].hi = uids[i];
		else if (u->n_ranges == 0 || u->ranges[u->n_ranges - 1].hi != uids[i])
			u->ranges[u->n_ranges++] = (st_uid_range_t){uids[i], uids[i]};
	}
	u->pc = pc;
	u->user_id = pc->user_id;
	rc = st_msg_expunge(pc->srv->p.client, pc->mailbox_id, u->ranges, u->n_ranges, false, NULL,
			    0, update_done, u);
	if (rc < 0)
		goto fail;
	free(uids);
	pc->update = u;
	return 0;
fail:
	free(uids);
	if (u != NULL)
		free(u->ranges);
	free(u);
	return rc;
}

/* ---- requests ---- */

static void start_request(void *proto, mta_conn_t *cn, uint64_t now)
{
	pop3_server_t *srv = proto;
	pop3_conn_t *pc = mta_conn_data(cn);
	const struct pop3_request *rq = pop3_session_request(pc->s);
	mta_login_peer_t peer;
	int rc;

	switch (rq->kind) {
	case POP3_REQ_AUTH:
		peer = mta_login_peer_of(cn);
		rc = (int)mta_login_start(&srv->login, &peer, rq->u.auth.authzid, rq->u.auth.authcid,
					  rq->u.auth.password, auth_result, srv, pc, &pc->auth);
		if (rc != MTA_LOGIN_PENDING) {
			mta_conn_request_done(cn);
			pop3_session_auth_done(pc->s, now, (enum pop3_auth_status)rc, NULL);
		}
		break;
	case POP3_REQ_MAILDROP: {
		enum pop3_maildrop_status st = maildrop_open(pc);

		mta_conn_request_done(cn);
		pop3_session_maildrop_done(pc->s, now, st);
		break;
	}
	case POP3_REQ_FETCH:
		rc = fetch_run(pc, rq);
		mta_conn_request_done(cn);
		pop3_session_fetch_done(pc->s, now, rc < 0 ? rc : 0);
		break;
	case POP3_REQ_UPDATE:
		rc = update_start(pc, rq);
		if (rc < 0) {
			srv->gs.store_errors++;
			sl_log(SL_LOG_WARN, POP3_LOG, "[%s]: UPDATE not submitted: %s",
			       mta_conn_ip_str(cn), sl_strerror(rc));
			mta_conn_request_done(cn);
			pop3_session_update_done(pc->s, now, false);
		}
		break;
	case POP3_REQ_STLS:
		mta_conn_starttls(cn);
		break;
	default:
		mta_conn_request_done(cn);
		pop3_session_tls_done(pc->s, now, false);
		break;
	}
}

/* ---- engine entry points for mta_conn ---- */

static int e_session_create(void *proto, void *lst_ctx, mta_conn_t *cn, uint64_t now,
			    void **sess_r)
{
	pop3_server_t *srv = proto;
	pop3_listener_t *l = lst_ctx;
	struct pop3_peer peer = {mta_conn_ip_str(cn), mta_conn_implicit_tls(cn), mta_conn_id(cn)};
	pop3_conn_t *pc = calloc(1, sizeof(*pc));
	int rc;

	if (pc == NULL)
		return SL_ENOMEM;
	rc = pop3_session_create(&l->cfg, &peer, now, &pc->s);
	if (rc < 0) {
		free(pc);
		return rc;
	}
	pc->srv = srv;
	pc->cn = cn;
	mta_conn_set_data(cn, pc);
	*sess_r = pc->s;
	return 0;
}

static void e_session_destroy(void *proto, mta_conn_t *cn, void *sess)
{
	pop3_conn_t *pc = mta_conn_data(cn);

	(void)proto;
	(void)sess;
	if (pc->auth != NULL)
		pc->auth->owner = NULL; /* auth_result frees it */
	if (pc->update != NULL)
		pc->update->pc = NULL;  /* update_done releases the lock */
	else if (pc->locked)
		maildrop_unlock(pc->user_id);
	pop3_session_destroy(&pc->s);
	free(pc->msgs);
	free(pc);
}

static int e_input(void *s, uint64_t now, const void *p, size_t n, size_t *used_r)
{
	return pop3_session_input(s, now, p, n, used_r);
}
static sl_slice_t e_output(const void *s) { return pop3_session_output(s); }
static int e_output_consume(void *s, uint64_t now, size_t n)
{
	return pop3_session_output_consume(s, now, n);
}
static bool e_closing(const void *s) { return pop3_session_closing(s); }
static bool e_has_request(const void *s) { return pop3_session_request(s) != NULL; }
static uint64_t e_deadline(const void *s) { return pop3_session_deadline(s); }
static int e_timeout(void *s, uint64_t now) { return pop3_session_timeout(s, now); }
static void e_shutdown(void *s, uint64_t now, const char *text)
{
	pop3_session_shutdown(s, now, text);
}
static int e_tls_done(void *s, uint64_t now, bool ok) { return pop3_session_tls_done(s, now, ok); }

static const mta_proto_ops_t pop3_proto_ops = {
	.name = POP3_LOG,
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

int pop3_server_create(const pop3_server_params_t *p, pop3_server_t **srv_r,
		       const char **error_r)
{
	pop3_server_t *srv;
	mta_srv_params_t mp;
	int rc;

	*srv_r = NULL;
	if (p->client == NULL || p->reader == NULL || p->engine.hostname == NULL ||
	    p->n_listeners == 0 || p->n_listeners > MTA_SRV_LISTENERS_MAX) {
		*error_r = "pop3: bad parameters";
		return SL_EINVAL;
	}
	srv = calloc(1, sizeof(*srv));
	if (srv == NULL)
		return SL_ENOMEM;
	srv->p = *p;
	srv->authlk = mta_authlock_create(p->auth_lockout_failures, p->auth_lockout_us);
	if (srv->authlk == NULL) {
		pop3_server_destroy(&srv);
		return SL_ENOMEM;
	}
	srv->login = (mta_login_t){p->auth, srv->authlk, p->lane, POP3_LOG,
				   &srv->gs.auth_ip_locked, &srv->gs.auth_queue_full,
				   MTA_LOGIN_FAIL};
	memset(&mp, 0, sizeof(mp));
	mp.stack = p->stack;
	mp.tls = p->tls;
	mp.ops = &pop3_proto_ops;
	mp.proto = srv;
	mp.max_sessions = p->max_sessions;
	mp.max_per_ip = p->max_per_ip;
	mp.ip_limit_text = "Too many connections from your address";
	mp.now_us = p->now_us;
	for (unsigned i = 0; i < p->n_listeners; i++) {
		pop3_listener_t *l = &srv->lst[i];

		l->cfg = p->engine;
		l->cfg.stls_available = p->tls != NULL && !p->listeners[i].implicit_tls;
		l->cfg.allow_plaintext_auth = p->listeners[i].allow_plaintext_auth;
		l->cfg.stats = &srv->stats;
		mp.listeners[i] = (mta_listen_conf_t){p->listeners[i].port,
						      p->listeners[i].implicit_tls, l};
	}
	mp.n_listeners = p->n_listeners;
	rc = mta_srv_create(&mp, &srv->srv, error_r);
	if (rc < 0) {
		pop3_server_destroy(&srv);
		return rc;
	}
	*srv_r = srv;
	return 0;
}

void pop3_server_destroy(pop3_server_t **srvp)
{
	pop3_server_t *srv = *srvp;

	if (srv == NULL)
		return;
	mta_srv_destroy(&srv->srv);
	mta_authlock_destroy(&srv->authlk);
	free(srv);
	*srvp = NULL;
}

int pop3_server_set_tls(pop3_server_t *srv, ns_tls_ctx_t *tls)
{
	return mta_srv_set_tls(srv->srv, tls);
}

void pop3_server_tick(pop3_server_t *srv, uint64_t now_us) { mta_srv_tick(srv->srv, now_us); }

uint64_t pop3_server_next_deadline(const pop3_server_t *srv)
{
	return mta_srv_next_deadline(srv->srv);
}

void pop3_server_shutdown(pop3_server_t *srv, uint64_t now_us)
{
	mta_srv_shutdown(srv->srv, now_us, NULL);
}

unsigned pop3_server_busy(const pop3_server_t *srv) { return mta_srv_busy(srv->srv); }

void pop3_server_get_stats(const pop3_server_t *srv, struct pop3_stats *engine_r,
			   pop3_server_stats_t *glue_r)
{
	mta_srv_stats_t ms;

	if (engine_r != NULL)
		*engine_r = srv->stats;
	if (glue_r == NULL)
		return;
	mta_srv_get_stats(srv->srv, &ms);
	*glue_r = srv->gs;
	glue_r->sessions_current = ms.current;
	glue_r->sessions_accepted = ms.accepted;
	glue_r->rejected_session_limit = ms.rejected_limit;
	glue_r->rejected_ip_limit = ms.rejected_ip_limit;
	glue_r->tls_refused = ms.tls_refused;
}
