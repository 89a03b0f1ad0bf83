/* smtp_server - netstack connections <-> smtp sessions <-> the store.
 *
 * One smtp_conn_t per TCP connection, owned by the lane. The only entry
 * points that move a session forward are conn_pump() (called from the TCP
 * callbacks, the session timer and every completion) and the completions
 * themselves. conn_pump() is the loop of docs/smtp.md "Driving a session":
 * send the output (short writes wait for `writable`), start the request,
 * close when the engine says so, feed input straight from the TCP receive
 * queue (peek, then consume only what the engine took: unconsumed bytes stay
 * in TCP and close the window, which is the backpressure).
 *
 * A delivery (smtp_delivery_t) outlives its session when the client goes
 * away while the store commits: the completion then only frees it. */
#include "smtp_server.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

#include "mta_iptable.h"
#include "mta_login.h"
#include "ns_tls.h"
#include "sl_err.h"
#include "sl_log.h"
#include "sl_time.h"
#include "sl_timer.h"

#define SMTP_LOG "smtp"
/* Room for the Received: header in front of the message. */
#define SMTP_STAGING_SLACK 4096
#define SMTP_PEEK_IOV 16

const char *const smtp_server_stats_names[] = {
#define SMTP_SERVER_STATS_NAME(n) #n,
	SMTP_SERVER_STATS_FIELDS(SMTP_SERVER_STATS_NAME)
#undef SMTP_SERVER_STATS_NAME
	NULL};

typedef struct smtp_conn smtp_conn_t;
typedef struct smtp_delivery smtp_delivery_t;

typedef struct smtp_listener {
	smtp_server_t *srv;
	struct smtp_config cfg;
	ns_listener_t *nl;
	uint16_t port;
	bool implicit_tls;
} smtp_listener_t;

struct smtp_delivery {
	smtp_server_t *srv;       /* NULL once the server is gone */
	smtp_conn_t *conn;        /* NULL once the session is gone */
	sl_buf_t body;            /* Received: + message, CRLF, unstuffed */
	st_sha256_t sha;
	uint8_t hash[ST_BLOB_ID_LEN];
	bool inflight;            /* submitted; the store owns the outcome */
	st_deliver_t d;
	st_deliver_target_t targets[ST_RCPT_MAX];
	st_target_result_t results[ST_RCPT_MAX];
	unsigned n_targets;
	const char *relay[ST_RCPT_MAX];
	uint32_t relay_off[ST_RCPT_MAX];
	unsigned n_relay;
	sl_buf_t strs;            /* sender and relay addresses, NUL-ended */
	sl_buf_t tag;             /* TAG: headers the filter wants in front */
	char verdict[ST_VERDICT_MAX + 1]; /* QUARANTINE: what the filter said */
	int32_t score_milli;
	st_quarantine_info_t quar;
	uint64_t t_submit;
	smtp_delivery_t *prev, *next; /* the server's in-flight list */
};

struct smtp_conn {
	smtp_server_t *srv;
	smtp_listener_t *lst;
	ns_stream_t *tc;
	smtp_session_t *s;
	struct smtp_hooks hooks;  /* ctx = this connection */
	sl_timer_t timer;
	uint32_t ip;              /* network order */
	uint16_t port;
	char ip_str[INET_ADDRSTRLEN];
	smtp_delivery_t *dl;      /* staging, waiting for a slot, or committing */
	smtp_filter_msg_t *fm;    /* the content scan of the message streaming in */
	mta_auth_job_t *auth;    /* at the auth pool */
	bool req_started;         /* the outstanding request has been started */
	bool retry_queued;        /* on the server's retry list */
	bool shutdown_pending;    /* 421 once the request in progress is done */
	bool tls_wait_flush;      /* STARTTLS: upgrade once the 220 is sent */
	bool tls_handshake;       /* STARTTLS: upgraded, handshake running */
	smtp_conn_t *prev, *next; /* all connections of the lane */
	smtp_conn_t *retry_next;
};

struct smtp_server {
	smtp_server_params_t p;
	ns_tls_ctx_t *tls;
	smtp_listener_t lst[SMTP_SERVER_LISTENERS_MAX];
	unsigned n_lst;
	sl_timer_wheel_t *wheel;
	struct smtp_stats stats;
	smtp_server_stats_t gs;
	uint64_t now;
	smtp_conn_t *conns;
	unsigned n_conns;
	smtp_delivery_t *inflight;
	smtp_conn_t *retry_head, *retry_tail;
	mta_ipcount_t *ipt;        /* sessions per client address */
	mta_authlock_t *authlk;    /* failed AUTH per client address */
	mta_login_t login;
	uint64_t staged;
	uint64_t conn_seq;
	uint64_t qid_last;
	unsigned auth_inflight;
	bool shutting_down;
};

static void conn_pump(smtp_conn_t *cn);

/* ---- deliveries ---- */

static void dl_free(smtp_delivery_t *dl)
{
	if (dl == NULL)
		return;
	if (dl->srv != NULL)
		dl->srv->staged -= dl->body.len;
	sl_buf_free(&dl->body);
	sl_buf_free(&dl->strs);
	sl_buf_free(&dl->tag);
	free(dl);
}

static smtp_delivery_t *dl_new(smtp_conn_t *cn)
{
	smtp_delivery_t *dl = calloc(1, sizeof(*dl));

	if (dl == NULL)
		return NULL;
	dl->srv = cn->srv;
	dl->conn = cn;
	sl_buf_init(&dl->body, cn->lst->cfg.message_max + SMTP_STAGING_SLACK);
	sl_buf_init(&dl->strs, (size_t)(ST_RCPT_MAX + 1) * (ST_ADDR_MAX + 8));
	sl_buf_init(&dl->tag, 8192);
	st_sha256_init(&dl->sha);
	return dl;
}

static void inflight_link(smtp_server_t *srv, smtp_delivery_t *dl)
{
	dl->prev = NULL;
	dl->next = srv->inflight;
	if (srv->inflight)
		srv->inflight->prev = dl;
	srv->inflight = dl;
	srv->gs.deliveries_inflight++;
}

static void inflight_unlink(smtp_server_t *srv, smtp_delivery_t *dl)
{
	if (dl->prev)
		dl->prev->next = dl->next;
	else
		srv->inflight = dl->next;
	if (dl->next)
		dl->next->prev = dl->prev;
	dl->prev = dl->next = NULL;
	srv->gs.deliveries_inflight--;
}

static void retry_remove(smtp_server_t *srv, smtp_conn_t *cn)
{
	smtp_conn_t **pp = &srv->retry_head, *last = NULL;

	while (*pp != NULL && *pp != cn) {
		last = *pp;
		pp = &(*pp)->retry_next;
	}
	if (*pp == cn) {
		*pp = cn->retry_next;
		if (srv->retry_tail == cn)
			srv->retry_tail = last;
	}
	cn->retry_next = NULL;
	cn->retry_queued = false;
}

/* ---- hooks ---- */

static int hook_msg_begin(void *ctx, smtp_session_t *s)
{
	smtp_conn_t *cn = ctx;

	(void)s;
	if (cn->dl != NULL && cn->dl->inflight)
		return SL_ESTATE; /* cannot happen: no input while DELIVER waits */
	dl_free(cn->dl);
	cn->dl = dl_new(cn);
	if (cn->dl == NULL)
		return SL_ENOMEM;
	smtp_filter_release(&cn->fm);
	if (cn->srv->p.filter != NULL) {
		cn->fm = smtp_filter_begin(cn->srv->p.filter);
		if (cn->fm == NULL)
			return SL_ENOMEM;
	}
	return 0;
}

static int hook_msg_data(void *ctx, smtp_session_t *s, sl_slice_t chunk)
{
	smtp_conn_t *cn = ctx;
	smtp_server_t *srv = cn->srv;
	smtp_delivery_t *dl = cn->dl;
	int rc;

	(void)s;
	if (dl == NULL)
		return SL_ESTATE;
	if (srv->staged + chunk.len > srv->p.staging_max) {
		srv->gs.staging_full++;
		return SL_EFULL;
	}
	rc = sl_buf_append(&dl->body, chunk.ptr, chunk.len);
	if (rc < 0)
		return rc == SL_ELIMIT ? SL_EFULL : rc;
	st_sha256_update(&dl->sha, chunk.ptr, chunk.len);
	srv->staged += chunk.len;
	return 0;
}

static void hook_msg_abort(void *ctx, smtp_session_t *s)
{
	smtp_conn_t *cn = ctx;

	(void)s;
	dl_free(cn->dl);
	cn->dl = NULL;
	smtp_filter_release(&cn->fm);
}

static int hook_filter_data(void *ctx, smtp_session_t *s, sl_slice_t chunk)
{
	smtp_conn_t *cn = ctx;

	(void)s;
	if (cn->fm != NULL)
		smtp_filter_feed(cn->fm, chunk);
	return 0;
}

/* The verdict, at the final dot. What delivery needs of it (the tagging
 * headers, the quarantine record) is copied into the staged delivery. */
static void hook_filter_end(void *ctx, smtp_session_t *s, struct smtp_verdict *v_r)
{
	smtp_conn_t *cn = ctx;
	smtp_delivery_t *dl = cn->dl;
	const flt_verdict_t *fv;

	(void)s;
	if (cn->fm == NULL || dl == NULL) {
		memset(v_r, 0, sizeof(*v_r));
		v_r->action = SMTP_VERDICT_REJECT;
		v_r->code = 451;
		snprintf(v_r->text, sizeof(v_r->text), "4.3.0 Content scan failed, try again later");
		return;
	}
	sl_buf_reset(&dl->tag);
	fv = smtp_filter_end(cn->fm, v_r, &dl->tag);
	if (fv != NULL) {
		sl_log(SL_LOG_INFO, "filter",
		       "[%s] %s %s score=%.2f%s%s rules=%s parts=%u size=%" PRIu64 "%s", cn->ip_str,
		       flt_class_str(fv->cls), flt_action_str(fv->action), fv->score,
		       fv->virus[0] ? " name=" : "", fv->virus, fv->rules[0] ? fv->rules : "-",
		       fv->parts, fv->size, fv->truncated ? " truncated" : "");
		snprintf(dl->verdict, sizeof(dl->verdict), "%s score=%.2f %s%s%s",
			 flt_class_str(fv->cls), fv->score, fv->virus, fv->virus[0] ? " " : "",
			 fv->rules);
		dl->score_milli = (int32_t)(fv->score * 1000.0);
	} else {
		sl_log(SL_LOG_WARN, "filter", "[%s] content scan failed: 451", cn->ip_str);
	}
	smtp_filter_release(&cn->fm);
}

static const char *verdict_name(enum smtp_verdict_action v)
{
	switch (v) {
	case SMTP_VERDICT_ACCEPT: return "accept";
	case SMTP_VERDICT_TAG: return "tag";
	case SMTP_VERDICT_QUARANTINE: return "quarantine";
	case SMTP_VERDICT_REJECT: return "reject";
	}
	return "?";
}

/* One line per transaction: what an operator greps for first. */
static void hook_txlog(void *ctx, smtp_session_t *s, const struct smtp_txlog *r)
{
	smtp_conn_t *cn = ctx;
	char to[1024];
	size_t used = 0;
	uint64_t t_data = r->t_data_us && r->t_end_us >= r->t_data_us ? r->t_end_us - r->t_data_us : 0;
	uint64_t t_all = r->t_mail_us && r->t_end_us >= r->t_mail_us ? r->t_end_us - r->t_mail_us : 0;

	to[0] = '\0';
	for (size_t i = 0; i < r->rcpt_count; i++) {
		struct smtp_rcpt rc;
		int n;

		if (smtp_session_rcpt(s, i, &rc) < 0)
			break;
		n = snprintf(to + used, sizeof(to) - used, "%s<%.*s>", i ? "," : "",
			     (int)rc.addr.len, (const char *)rc.addr.ptr);
		if (n < 0 || (size_t)n >= sizeof(to) - used) {
			used = used < sizeof(to) - 5 ? used : sizeof(to) - 5;
			memcpy(to + used, ",...", 5);
			break;
		}
		used += (size_t)n;
	}
	sl_log(SL_LOG_INFO, SMTP_LOG,
	       "%.*s: client=[%.*s]:%u port=%u helo=<%.*s> from=<%.*s>%s%.*s to=%s nrcpt=%zu "
	       "size=%" PRIu64 " verdict=%s status=%u reply=\"%.*s\" data_ms=%" PRIu64
	       " total_ms=%" PRIu64,
	       (int)r->queue_id.len, (const char *)r->queue_id.ptr, (int)r->client_ip.len,
	       (const char *)r->client_ip.ptr, cn->port, cn->lst->port, (int)r->helo.len,
	       (const char *)r->helo.ptr, (int)r->mail_from.len, (const char *)r->mail_from.ptr,
	       r->auth_user.len ? " auth=" : "", (int)r->auth_user.len,
	       (const char *)r->auth_user.ptr, to, r->rcpt_count, r->size,
	       verdict_name(r->verdict), r->reply_code, (int)r->reply.len,
	       (const char *)r->reply.ptr, (uint64_t)(t_data / SL_US_PER_MS),
	       (uint64_t)(t_all / SL_US_PER_MS));
}

/* Queue ids unique across restarts: wall-clock microseconds (kept strictly
 * increasing per lane) and the lane number. */
static void hook_queue_id(void *ctx, smtp_session_t *s, char *buf, size_t size)
{
	smtp_conn_t *cn = ctx;
	smtp_server_t *srv = cn->srv;
	struct timeval tv;
	uint64_t us;

	(void)s;
	gettimeofday(&tv, NULL);
	us = (uint64_t)tv.tv_sec * SL_US_PER_S + (uint64_t)tv.tv_usec;
	if (us <= srv->qid_last)
		us = srv->qid_last + 1;
	srv->qid_last = us;
	snprintf(buf, size, "%013" PRIX64 "%02X", us, srv->p.lane & 0xff);
}

/* ---- requests ---- */

static int count_rcpt(void *ctx, const st_rcpt_t *r)
{
	(void)r;
	(*(unsigned *)ctx)++;
	return 0;
}

static bool slice_to_str(sl_slice_t sl, char *buf, size_t size)
{
	if (sl.len >= size || memchr(sl.ptr, '\0', sl.len) != NULL)
		return false;
	memcpy(buf, sl.ptr, sl.len);
	buf[sl.len] = '\0';
	return true;
}

/* rcpt_classify - local user or alias, unknown user of a local domain, or
 * not ours. Only the domain table decides what is local, so an address the
 * store cannot even parse (quoted local part, %-hack, !-path) in a local
 * domain is an unknown user, never a relay. */
static enum smtp_rcpt_status rcpt_classify(smtp_server_t *srv, const struct smtp_request *rq)
{
	char domain[ST_DOMAIN_MAX + 2], addr[ST_LOCAL_MAX + ST_DOMAIN_MAX + 8];
	char local[ST_LOCAL_MAX + 1];
	sl_slice_t dom = rq->u.rcpt.domain;
	unsigned n = 0;
	int rc;

	if (dom.len == 0) {
		/* RFC 5321 §4.5.1: the bare <postmaster> reaches the postmaster
		 * of the domain of our host name. */
		const char *h = srv->p.engine.hostname, *dot = strchr(h, '.');

		if (dot != NULL && st_domain_exists(srv->p.reader, dot + 1) == 0)
			h = dot + 1;
		snprintf(addr, sizeof(addr), "postmaster@%s", h);
		rc = st_rcpt_resolve(srv->p.reader, addr, count_rcpt, &n);
		return rc == 0 ? SMTP_RCPT_LOCAL : SMTP_RCPT_UNKNOWN;
	}
	if (dom.ptr[0] == '[')
		return SMTP_RCPT_NONLOCAL; /* address literals are never local here */
	if (!slice_to_str(dom, domain, sizeof(domain)))
		return SMTP_RCPT_NONLOCAL;
	rc = st_domain_exists(srv->p.reader, domain);
	if (rc == SL_ENOENT || rc == SL_EINVAL)
		return SMTP_RCPT_NONLOCAL;
	if (rc < 0)
		return SMTP_RCPT_TEMPFAIL;
	if (!slice_to_str(rq->u.rcpt.local, local, sizeof(local)))
		return SMTP_RCPT_UNKNOWN;
	snprintf(addr, sizeof(addr), "%s@%s", local, domain);
	if (strlen(local) + 1 + strlen(domain) > ST_ADDR_MAX)
		return SMTP_RCPT_UNKNOWN;
	rc = st_rcpt_resolve(srv->p.reader, addr, count_rcpt, &n);
	if (rc == 0)
		return SMTP_RCPT_LOCAL;
	if (rc == SL_ENOENT || rc == SL_EINVAL)
		return SMTP_RCPT_UNKNOWN;
	return SMTP_RCPT_TEMPFAIL;
}

static void auth_result(mta_auth_job_t *job);

static void conn_auth_start(smtp_conn_t *cn, const struct smtp_request *rq)
{
	smtp_server_t *srv = cn->srv;
	mta_login_peer_t peer = {cn->ip, cn->ip_str, srv->now};
	enum mta_login_status st = MTA_LOGIN_TEMPFAIL;

	if (!srv->shutting_down)
		st = mta_login_start(&srv->login, &peer, rq->u.auth.authzid, rq->u.auth.authcid,
				     rq->u.auth.password, auth_result, srv, cn, &cn->auth);
	if (st == MTA_LOGIN_PENDING) {
		srv->auth_inflight++;
		return;
	}
	cn->req_started = false;
	smtp_session_auth_done(cn->s, srv->now, (enum smtp_auth_status)st, NULL);
}

static void auth_result(mta_auth_job_t *job)
{
	smtp_server_t *srv = job->ctx;
	smtp_conn_t *cn = job->owner;

	srv->auth_inflight--;
	if (cn != NULL) {
		mta_login_peer_t peer = {cn->ip, cn->ip_str, srv->now};
		enum mta_login_status st = mta_login_result(&srv->login, &peer, job);

		cn->auth = NULL;
		cn->req_started = false;
		smtp_session_auth_done(cn->s, srv->now, (enum smtp_auth_status)st,
				       st == MTA_LOGIN_OK ? job->user : NULL);
		if (cn->shutdown_pending)
			smtp_session_shutdown(cn->s, srv->now, NULL);
		conn_pump(cn);
	}
	mta_login_job_free(job);
}

static int dl_str(smtp_delivery_t *dl, const char *str, uint32_t *off_r)
{
	*off_r = (uint32_t)dl->strs.len;
	return sl_buf_append(&dl->strs, str, strlen(str) + 1);
}

static int dl_add_relay(smtp_delivery_t *dl, const char *addr)
{
	for (unsigned i = 0; i < dl->n_relay; i++)
		if (strcasecmp((const char *)dl->strs.data + dl->relay_off[i], addr) == 0)
			return 0;
	if (dl->n_relay == ST_RCPT_MAX)
		return SL_ELIMIT;
	if (dl_str(dl, addr, &dl->relay_off[dl->n_relay]) < 0)
		return SL_ELIMIT;
	dl->n_relay++;
	return 0;
}

static int dl_collect(void *ctx, const st_rcpt_t *r)
{
	smtp_delivery_t *dl = ctx;

	if (r->user_id == 0)
		return dl_add_relay(dl, r->address);
	for (unsigned i = 0; i < dl->n_targets; i++)
		if (dl->targets[i].user_id == r->user_id)
			return 0;
	if (dl->n_targets == ST_RCPT_MAX)
		return SL_ELIMIT;
	dl->targets[dl->n_targets].user_id = r->user_id;
	dl->targets[dl->n_targets].mailbox = NULL; /* INBOX */
	dl->n_targets++;
	return 0;
}

static void dl_done(void *ctx, const st_result_t *res);

/* dl_prepend_tag - put the filter's tagging headers in front of the staged
 * message (above our Received:, as a filter on this host adds them). */
static int dl_prepend_tag(smtp_delivery_t *dl)
{
	sl_buf_t nb;
	int rc;

	sl_buf_init(&nb, dl->tag.len + dl->body.len);
	rc = sl_buf_reserve(&nb, dl->tag.len + dl->body.len);
	if (rc == 0)
		rc = sl_buf_append(&nb, dl->tag.data, dl->tag.len);
	if (rc == 0)
		rc = sl_buf_append(&nb, dl->body.data, dl->body.len);
	if (rc < 0) {
		sl_buf_free(&nb);
		return rc;
	}
	if (dl->srv != NULL)
		dl->srv->staged += dl->tag.len;
	sl_buf_free(&dl->body);
	dl->body = nb;
	return 0;
}

/* dl_build - the store request for the staged message: every local
 * recipient expanded through aliases to user ids (each user once), relay
 * recipients and remote alias targets into one outbound queue entry.
 * Returns 0, or the delivery status to answer with. */
static int dl_build(smtp_conn_t *cn, smtp_delivery_t *dl, enum smtp_verdict_action verdict,
		    enum smtp_deliver_status *st_r, const char **detail_r)
{
	smtp_server_t *srv = cn->srv;
	struct smtp_envelope env;
	char addr[ST_ADDR_MAX + 64];
	uint32_t sender_off;
	int rc;

	smtp_session_envelope(cn->s, &env);
	dl->n_targets = dl->n_relay = 0;
	sl_buf_reset(&dl->strs);
	if (!slice_to_str(env.mail_from, addr, sizeof(addr)) || dl_str(dl, addr, &sender_off) < 0) {
		*st_r = SMTP_DELIVER_PERMFAIL;
		*detail_r = "bad sender";
		return -1;
	}
	for (size_t i = 0; i < env.rcpt_count; i++) {
		struct smtp_rcpt r;

		if (smtp_session_rcpt(cn->s, i, &r) < 0 || !slice_to_str(r.addr, addr, sizeof(addr)))
			continue;
		if (r.klass == SMTP_RCPT_CLASS_RELAY || verdict == SMTP_VERDICT_QUARANTINE) {
			rc = dl_add_relay(dl, addr); /* quarantine: every recipient, as given */
		} else {
			rc = st_rcpt_resolve(srv->p.reader, addr, dl_collect, dl);
			if (rc == SL_ENOENT || rc == SL_EINVAL)
				rc = 0; /* gone since RCPT: nothing to deliver to */
		}
		if (rc == SL_ELIMIT) {
			*st_r = SMTP_DELIVER_PERMFAIL;
			*detail_r = "too many recipients after alias expansion";
			return -1;
		}
		if (rc < 0) {
			*st_r = SMTP_DELIVER_TEMPFAIL;
			*detail_r = "recipient lookup failed";
			return -1;
		}
	}
	if (dl->n_targets == 0 && dl->n_relay == 0) {
		*st_r = SMTP_DELIVER_PERMFAIL;
		*detail_r = "no deliverable recipients";
		return -1;
	}
	/* strs no longer grows: pointers into it are stable from here. */
	for (unsigned i = 0; i < dl->n_relay; i++)
		dl->relay[i] = (const char *)dl->strs.data + dl->relay_off[i];
	st_sha256_final(&dl->sha, dl->hash);
	memset(&dl->d, 0, sizeof(dl->d));
	dl->d.hash = dl->hash;
	if (verdict == SMTP_VERDICT_TAG && dl->tag.len > 0) {
		rc = dl_prepend_tag(dl);
		if (rc < 0) {
			*st_r = SMTP_DELIVER_TEMPFAIL;
			*detail_r = "no memory for the tagged message";
			return -1;
		}
		dl->d.hash = NULL; /* the body changed: the store hashes it */
	}
	dl->d.body = sl_buf_slice(&dl->body);
	dl->d.results = dl->results;
	if (verdict == SMTP_VERDICT_QUARANTINE) {
		dl->quar.verdict = dl->verdict;
		dl->quar.score_milli = dl->score_milli;
		dl->quar.sender = (const char *)dl->strs.data + sender_off;
		dl->quar.rcpts = dl->relay;
		dl->quar.n_rcpts = dl->n_relay;
		dl->d.quarantine = &dl->quar;
		return 0;
	}
	dl->d.targets = dl->targets;
	dl->d.n_targets = dl->n_targets;
	dl->d.relay_sender = (const char *)dl->strs.data + sender_off;
	dl->d.relay_rcpts = dl->n_relay ? dl->relay : NULL;
	dl->d.n_relay_rcpts = dl->n_relay;
	return 0;
}

/* dl_submit - hand the delivery to the writer. Returns false when the
 * client's slots are all in flight (retry from the tick). */
static bool dl_submit(smtp_conn_t *cn)
{
	smtp_server_t *srv = cn->srv;
	smtp_delivery_t *dl = cn->dl;
	int rc = st_msg_deliver(srv->p.client, &dl->d, dl_done, dl);

	if (rc == SL_EAGAIN)
		return false;
	if (rc < 0) {
		cn->dl = NULL;
		dl_free(dl);
		cn->req_started = false;
		srv->gs.deliveries_failed++;
		smtp_session_deliver_done(cn->s, srv->now,
					  rc == SL_EINVAL ? SMTP_DELIVER_PERMFAIL : SMTP_DELIVER_TEMPFAIL,
					  rc == SL_EINVAL ? "message refused by the store" : NULL);
		return true;
	}
	dl->inflight = true;
	dl->t_submit = srv->now;
	inflight_link(srv, dl);
	return true;
}

static void conn_deliver_start(smtp_conn_t *cn)
{
	smtp_server_t *srv = cn->srv;
	enum smtp_deliver_status st;
	const char *detail = NULL;

	if (cn->dl == NULL) {
		st = SMTP_DELIVER_TEMPFAIL;
		goto now;
	}
	if (dl_build(cn, cn->dl, smtp_session_request(cn->s)->u.deliver.verdict.action, &st,
		     &detail) < 0)
		goto now;
	if (!dl_submit(cn)) {
		srv->gs.store_submit_retries++;
		cn->retry_queued = true;
		cn->retry_next = NULL;
		if (srv->retry_tail)
			srv->retry_tail->retry_next = cn;
		else
			srv->retry_head = cn;
		srv->retry_tail = cn;
	}
	return;
now:
	dl_free(cn->dl);
	cn->dl = NULL;
	cn->req_started = false;
	srv->gs.deliveries_failed++;
	smtp_session_deliver_done(cn->s, srv->now, st, detail);
}

/* The group commit is done: only now may the client hear 250. */
static void dl_done(void *ctx, const st_result_t *res)
{
	smtp_delivery_t *dl = ctx;
	smtp_server_t *srv = dl->srv;
	smtp_conn_t *cn = dl->conn;
	enum smtp_deliver_status st;

	if (srv != NULL) {
		inflight_unlink(srv, dl);
		if (res->err == 0)
			srv->gs.deliveries_committed++;
		else
			srv->gs.deliveries_failed++;
	}
	if (res->err != 0)
		sl_log(SL_LOG_WARN, SMTP_LOG, "delivery failed in the store: %s",
		       res->error ? res->error : sl_strerror(res->err));
	if (cn != NULL) {
		switch (res->err) {
		case 0: st = SMTP_DELIVER_OK; break;
		case SL_EFULL: st = SMTP_DELIVER_NOSPACE; break;
		case SL_ELIMIT:
		case SL_ENOENT:
		case SL_EINVAL: st = SMTP_DELIVER_PERMFAIL; break;
		default: st = SMTP_DELIVER_TEMPFAIL; break;
		}
		cn->dl = NULL;
		cn->req_started = false;
		smtp_session_deliver_done(cn->s, srv->now, st, res->err ? res->error : NULL);
		if (cn->shutdown_pending)
			smtp_session_shutdown(cn->s, srv->now, NULL);
		conn_pump(cn);
	}
	dl_free(dl);
}

static void conn_start_request(smtp_conn_t *cn, const struct smtp_request *rq)
{
	smtp_server_t *srv = cn->srv;

	switch (rq->kind) {
	case SMTP_REQ_RCPT:
		cn->req_started = false;
		smtp_session_rcpt_done(cn->s, srv->now, rcpt_classify(srv, rq));
		break;
	case SMTP_REQ_AUTH:
		conn_auth_start(cn, rq);
		break;
	case SMTP_REQ_DELIVER:
		conn_deliver_start(cn);
		break;
	case SMTP_REQ_STARTTLS:
		if (srv->tls != NULL) {
			/* The 220 must be out first (conn_pump does it). */
			cn->tls_wait_flush = true;
			break;
		}
		cn->req_started = false; /* never offered without TLS */
		smtp_session_tls_done(cn->s, srv->now, false);
		break;
	default:
		cn->req_started = false;
		smtp_session_tls_done(cn->s, srv->now, false);
		break;
	}
}

/* ---- connection lifecycle ---- */

enum conn_end { CONN_END_CLOSE, CONN_END_ABORT, CONN_END_GONE };

static void conn_free(smtp_conn_t *cn, enum conn_end how)
{
	smtp_server_t *srv = cn->srv;

	sl_timer_cancel(srv->wheel, &cn->timer);
	if (cn->retry_queued)
		retry_remove(srv, cn);
	if (cn->auth != NULL) {
		cn->auth->owner = NULL; /* auth_result frees it */
		cn->auth = NULL;
	}
	/* Aborts a streaming message (msg_abort frees the staging) and logs. */
	smtp_session_destroy(&cn->s);
	smtp_filter_release(&cn->fm);
	if (cn->dl != NULL) {
		if (cn->dl->inflight)
			cn->dl->conn = NULL; /* dl_done frees it */
		else
			dl_free(cn->dl);
		cn->dl = NULL;
	}
	mta_ipcount_release(srv->ipt, cn->ip);
	if (cn->prev)
		cn->prev->next = cn->next;
	else
		srv->conns = cn->next;
	if (cn->next)
		cn->next->prev = cn->prev;
	srv->n_conns--;
	srv->gs.sessions_current = srv->n_conns;
	if (cn->tc != NULL) {
		ns_stream_set_ctx(cn->tc, NULL);
		if (how == CONN_END_ABORT)
			ns_stream_abort(cn->tc);
		else if (how == CONN_END_CLOSE)
			ns_stream_close(cn->tc);
	}
	free(cn);
}

static void conn_timer_cb(sl_timer_t *t, void *arg)
{
	smtp_conn_t *cn = arg;

	(void)t;
	smtp_session_timeout(cn->s, cn->srv->now);
	conn_pump(cn);
}

static void conn_arm(smtp_conn_t *cn)
{
	uint64_t d = smtp_session_deadline(cn->s);

	if (d == SL_TIME_NEVER)
		sl_timer_cancel(cn->srv->wheel, &cn->timer);
	else if (sl_timer_expiry(&cn->timer) != d)
		sl_timer_arm(cn->srv->wheel, &cn->timer, d);
}

static void conn_pump(smtp_conn_t *cn)
{
	smtp_server_t *srv = cn->srv;

	for (;;) {
		bool progress = false;
		sl_slice_t out = smtp_session_output(cn->s);
		const struct smtp_request *rq;

		if (out.len > 0) {
			ssize_t n = ns_stream_send(cn->tc, out.ptr, out.len);

			if (n < 0) {
				conn_free(cn, CONN_END_ABORT);
				return;
			}
			if (n > 0) {
				smtp_session_output_consume(cn->s, srv->now, (size_t)n);
				progress = true;
			}
		}
		if (cn->tls_wait_flush && smtp_session_output(cn->s).len == 0) {
			/* The 220 is accepted by the stream: whatever the client
			 * sent behind STARTTLS is discarded now (CVE-2011-0411). */
			int rc = ns_stream_starttls(cn->tc, srv->tls);

			cn->tls_wait_flush = false;
			if (rc < 0) {
				sl_log(SL_LOG_INFO, SMTP_LOG, "[%s]:%u: STARTTLS refused: %s",
				       cn->ip_str, cn->port, sl_strerror(rc));
				cn->req_started = false;
				smtp_session_tls_done(cn->s, srv->now, false);
				continue;
			}
			srv->stats.plaintext_discarded += (uint64_t)rc;
			cn->tls_handshake = true;
		}
		rq = smtp_session_request(cn->s);
		if (rq != NULL && !cn->req_started) {
			cn->req_started = true;
			conn_start_request(cn, rq);
			continue;
		}
		if (smtp_session_closing(cn->s)) {
			if (smtp_session_output(cn->s).len == 0) {
				conn_free(cn, CONN_END_CLOSE);
				return;
			}
			if (progress)
				continue;
			break; /* the rest goes out on `writable` */
		}
		{
			sl_slice_t iov[SMTP_PEEK_IOV];
			unsigned k = ns_stream_peek(cn->tc, iov, SMTP_PEEK_IOV);
			size_t total = 0;

			for (unsigned i = 0; i < k; i++) {
				size_t used = 0;

				smtp_session_input(cn->s, srv->now, iov[i].ptr, iov[i].len, &used);
				total += used;
				if (used < iov[i].len)
					break;
			}
			if (total > 0) {
				ns_stream_consume(cn->tc, total);
				progress = true;
			} else if (k == 0 && ns_stream_eof(cn->tc) && rq == NULL) {
				/* The client is gone; whatever it left half-done is
				 * aborted (and logged) with the session. */
				conn_free(cn, CONN_END_CLOSE);
				return;
			}
		}
		if (!progress)
			break;
	}
	conn_arm(cn);
}

/* ---- stream callbacks ---- */

static int tcp_accepted(ns_stream_t *c, void *listen_ctx)
{
	smtp_listener_t *lst = listen_ctx;
	smtp_server_t *srv = lst->srv;
	ns_conn_info_t info;
	struct smtp_peer peer;
	smtp_conn_t *cn;
	struct in_addr a;
	bool over;
	int rc;

	if (srv->shutting_down)
		return SL_ESTATE;
	/* Over max_sessions a client is told so with a 421 (RFC 5321 §3.8)
	 * by up to mta_overflow_sessions() extra sessions that only say that
	 * and close; past those it is reset: we cannot even afford a 421. */
	over = srv->n_conns >= srv->p.max_sessions;
	if (over) {
		srv->gs.rejected_session_limit++;
		if (srv->n_conns >= srv->p.max_sessions + mta_overflow_sessions(srv->p.max_sessions))
			return SL_ELIMIT;
	}
	cn = calloc(1, sizeof(*cn));
	if (cn == NULL)
		return SL_ENOMEM;
	ns_stream_get_info(c, &info);
	cn->srv = srv;
	cn->lst = lst;
	cn->tc = c;
	cn->ip = info.remote_ip;
	cn->port = info.remote_port;
	a.s_addr = info.remote_ip;
	inet_ntop(AF_INET, &a, cn->ip_str, sizeof(cn->ip_str));
	cn->hooks.ctx = cn;
	cn->hooks.msg_begin = hook_msg_begin;
	cn->hooks.msg_data = hook_msg_data;
	cn->hooks.msg_abort = hook_msg_abort;
	if (srv->p.filter != NULL) {
		cn->hooks.filter_data = hook_filter_data;
		cn->hooks.filter_end = hook_filter_end;
	}
	cn->hooks.txlog = hook_txlog;
	cn->hooks.queue_id = hook_queue_id;
	sl_timer_init(&cn->timer, conn_timer_cb, cn);
	memset(&peer, 0, sizeof(peer));
	peer.client_ip = cn->ip_str;
	peer.conn_id = ++srv->conn_seq;
	/* Implicit TLS: the session starts secured; its greeting waits in the
	 * stream until the handshake is done. */
	peer.tls_active = lst->implicit_tls;
	/* Over a limit the session only refuses in place of its greeting. */
	if (over) {
		sl_log(SL_LOG_INFO, SMTP_LOG, "[%s]: too many sessions (max_sessions %u)", cn->ip_str,
		       srv->p.max_sessions);
		peer.refuse = "Too many sessions, try again later";
	}
	if (mta_ipcount_acquire(srv->ipt, cn->ip) > srv->p.max_per_ip && !over) {
		srv->gs.rejected_ip_limit++;
		sl_log(SL_LOG_INFO, SMTP_LOG, "[%s]: too many connections from this address",
		       cn->ip_str);
		peer.refuse = "Error: too many connections from your address";
	}
	rc = smtp_session_create(&lst->cfg, &cn->hooks, &peer, srv->now, &cn->s);
	if (rc < 0) {
		mta_ipcount_release(srv->ipt, cn->ip);
		free(cn);
		return rc;
	}
	ns_stream_set_ctx(c, cn);
	cn->next = srv->conns;
	if (srv->conns)
		srv->conns->prev = cn;
	srv->conns = cn;
	srv->n_conns++;
	srv->gs.sessions_current = srv->n_conns;
	conn_pump(cn);
	return 0;
}

static void tcp_data(ns_stream_t *c, void *ctx)
{
	(void)c;
	if (ctx != NULL)
		conn_pump(ctx);
}

/* The handshake is done: a STARTTLS session starts over (RFC 3207 §4.2),
 * and both kinds learn what was negotiated for the Received: header. */
static void tcp_secured(ns_stream_t *c, void *ctx)
{
	smtp_conn_t *cn = ctx;
	ns_tls_info_t ti;

	if (cn == NULL)
		return;
	if (cn->tls_handshake) {
		cn->tls_handshake = false;
		cn->req_started = false;
		smtp_session_tls_done(cn->s, cn->srv->now, true);
	}
	if (ns_stream_tls_info(c, &ti) == 0) {
		smtp_session_set_tls_info(cn->s, ti.version, ti.cipher);
		sl_log(SL_LOG_DEBUG, SMTP_LOG, "[%s]:%u: %s %s%s%s%s", cn->ip_str, cn->port,
		       ti.version, ti.cipher, ti.sni ? " sni=" : "", ti.sni ? ti.sni : "",
		       ti.resumed ? " resumed" : "");
	}
	conn_pump(cn);
}

static void tcp_closed(ns_stream_t *c, void *ctx, int reason)
{
	smtp_conn_t *cn = ctx;

	(void)c;
	(void)reason;
	if (cn == NULL)
		return;
	cn->tc = NULL;
	conn_free(cn, CONN_END_GONE);
}

static const ns_stream_ops_t smtp_tcp_ops = {
	.accepted = tcp_accepted,
	.data = tcp_data,
	.writable = tcp_data,
	.closed = tcp_closed,
	.secured = tcp_secured,
};

/* ---- the server ---- */

int smtp_server_create(const smtp_server_params_t *p, smtp_server_t **srv_r,
		       const char **error_r)
{
	static char errbuf[128];
	smtp_server_t *srv;

	*srv_r = NULL;
	if (p->stack == NULL || p->client == NULL || p->reader == NULL || p->n_listeners == 0 ||
	    p->n_listeners > SMTP_SERVER_LISTENERS_MAX || p->max_sessions == 0 ||
	    p->max_per_ip == 0 || p->engine.hostname == NULL) {
		*error_r = "smtp: bad parameters";
		return SL_EINVAL;
	}
	srv = calloc(1, sizeof(*srv));
	if (srv == NULL)
		return SL_ENOMEM;
	srv->p = *p;
	srv->tls = p->tls;
	srv->now = p->now_us;
	srv->ipt = mta_ipcount_create(p->max_sessions);
	srv->authlk = mta_authlock_create(p->auth_lockout_failures, p->auth_lockout_us);
	srv->login = (mta_login_t){p->auth, srv->authlk, p->lane, SMTP_LOG,
				   &srv->gs.auth_ip_locked, &srv->gs.auth_queue_full,
				   MTA_LOGIN_TEMPFAIL};
	srv->wheel = sl_timer_wheel_create(p->now_us, 0);
	if (srv->ipt == NULL || srv->authlk == NULL || srv->wheel == NULL) {
		smtp_server_destroy(&srv);
		return SL_ENOMEM;
	}
	for (unsigned i = 0; i < p->n_listeners; i++) {
		smtp_listener_t *l = &srv->lst[i];
		int rc;

		l->srv = srv;
		l->port = p->listeners[i].port;
		l->cfg = p->engine;
		l->cfg.role = p->listeners[i].role;
		l->cfg.allow_plaintext_auth = p->listeners[i].allow_plaintext_auth;
		l->implicit_tls = l->cfg.role == SMTP_ROLE_SUBMISSIONS;
		l->cfg.starttls_available = p->tls != NULL && !l->implicit_tls;
		l->cfg.require_tls = p->listeners[i].require_tls && !l->implicit_tls;
		l->cfg.stats = &srv->stats;
		srv->n_lst++;
		if (l->implicit_tls && p->tls == NULL) {
			snprintf(errbuf, sizeof(errbuf),
				 "smtp: port %u is implicit TLS but TLS is not configured", l->port);
			*error_r = errbuf;
			smtp_server_destroy(&srv);
			return SL_EINVAL;
		}
		if (l->cfg.require_tls && p->tls == NULL) {
			snprintf(errbuf, sizeof(errbuf),
				 "smtp: port %u requires TLS but TLS is not configured", l->port);
			*error_r = errbuf;
			smtp_server_destroy(&srv);
			return SL_EINVAL;
		}
		rc = ns_stream_listen(p->stack, l->port, &smtp_tcp_ops, l,
				      l->implicit_tls ? p->tls : NULL, &l->nl);
		if (rc < 0) {
			snprintf(errbuf, sizeof(errbuf), "smtp: cannot listen on port %u: %s",
				 l->port, sl_strerror(rc));
			*error_r = errbuf;
			smtp_server_destroy(&srv);
			return rc;
		}
	}
	*srv_r = srv;
	return 0;
}

static void srv_unlisten(smtp_server_t *srv)
{
	for (unsigned i = 0; i < srv->n_lst; i++)
		ns_stream_unlisten(&srv->lst[i].nl);
}

int smtp_server_set_tls(smtp_server_t *srv, ns_tls_ctx_t *tls)
{
	if (tls == NULL || srv->tls == NULL)
		return SL_EINVAL;
	for (unsigned i = 0; i < srv->n_lst; i++)
		if (srv->lst[i].implicit_tls && srv->lst[i].nl != NULL) {
			int rc = ns_stream_listener_set_tls(srv->lst[i].nl, tls);

			if (rc < 0)
				return rc;
		}
	srv->tls = tls;
	return 0;
}

void smtp_server_destroy(smtp_server_t **srvp)
{
	smtp_server_t *srv = *srvp;

	if (srv == NULL)
		return;
	srv_unlisten(srv);
	while (srv->conns != NULL)
		conn_free(srv->conns, CONN_END_ABORT);
	/* Deliveries the store still holds: their callbacks only free them. */
	for (smtp_delivery_t *dl = srv->inflight; dl != NULL; dl = dl->next) {
		dl->srv = NULL;
		dl->conn = NULL;
	}
	if (srv->auth_inflight > 0)
		sl_log(SL_LOG_WARN, SMTP_LOG, "%u auth checks still out at shutdown",
		       srv->auth_inflight);
	sl_timer_wheel_destroy(&srv->wheel);
	mta_ipcount_destroy(&srv->ipt);
	mta_authlock_destroy(&srv->authlk);
	free(srv);
	*srvp = NULL;
}

void smtp_server_tick(smtp_server_t *srv, uint64_t now_us)
{
	srv->now = now_us;
	sl_timer_wheel_run(srv->wheel, now_us);
	while (srv->retry_head != NULL) {
		smtp_conn_t *cn = srv->retry_head;

		if (!dl_submit(cn))
			break;
		srv->retry_head = cn->retry_next;
		if (srv->retry_head == NULL)
			srv->retry_tail = NULL;
		cn->retry_next = NULL;
		cn->retry_queued = false;
		conn_pump(cn);
	}
}

uint64_t smtp_server_next_deadline(const smtp_server_t *srv)
{
	if (srv->retry_head != NULL)
		return srv->now; /* a slot may free up any moment: poll */
	return sl_timer_wheel_next(srv->wheel);
}

void smtp_server_shutdown(smtp_server_t *srv, uint64_t now_us)
{
	smtp_conn_t *cn, *next;

	srv->now = now_us;
	srv->shutting_down = true;
	srv_unlisten(srv);
	for (cn = srv->conns; cn != NULL; cn = next) {
		next = cn->next;
		if (cn->dl != NULL && (cn->dl->inflight || cn->retry_queued)) {
			cn->shutdown_pending = true; /* 250 first, then 421 */
			continue;
		}
		smtp_session_shutdown(cn->s, now_us, NULL);
		conn_pump(cn);
	}
}

unsigned smtp_server_busy(const smtp_server_t *srv)
{
	return (unsigned)srv->gs.deliveries_inflight + srv->auth_inflight +
	       (srv->retry_head != NULL ? 1 : 0);
}

unsigned smtp_server_sessions(const smtp_server_t *srv)
{
	return srv->n_conns;
}

void smtp_server_get_stats(const smtp_server_t *srv, struct smtp_stats *engine_r,
			   smtp_server_stats_t *glue_r)
{
	if (engine_r != NULL)
		*engine_r = srv->stats;
	if (glue_r != NULL)
		*glue_r = srv->gs;
}
