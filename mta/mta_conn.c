/* mta_conn - netstack streams <-> a sans-IO engine, for POP3 and IMAP. */
#include "mta_conn.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>

#include "mta_iptable.h"
#include "ns_tls.h"
#include "sl_err.h"
#include "sl_log.h"
#include "sl_time.h"
#include "sl_timer.h"

#define MTA_PEEK_IOV 16

typedef struct mta_listener {
	mta_srv_t *srv;
	ns_listener_t *nl;
	mta_listen_conf_t conf;
} mta_listener_t;

struct mta_conn {
	mta_srv_t *srv;
	mta_listener_t *lst;
	ns_stream_t *tc;
	void *sess;
	void *data;
	sl_timer_t timer;
	uint32_t ip;
	uint16_t port;
	uint64_t id;
	char ip_str[INET_ADDRSTRLEN];
	bool req_started;       /* the outstanding request has been started */
	bool shutdown_pending;  /* shut down once the request in flight is done */
	bool tls_wait_flush;    /* STARTTLS: upgrade once the reply is out */
	bool tls_handshake;     /* STARTTLS: upgraded, handshake running */
	mta_conn_t *prev, *next;
};

struct mta_srv {
	mta_srv_params_t p;
	const mta_proto_ops_t *ops;
	ns_tls_ctx_t *tls;
	mta_listener_t lst[MTA_SRV_LISTENERS_MAX];
	unsigned n_lst;
	sl_timer_wheel_t *wheel;
	mta_ipcount_t *ipt;
	mta_srv_stats_t stats;
	mta_conn_t *conns;
	uint64_t now;
	uint64_t conn_seq;
	bool shutting_down;
	const char *shutdown_text;
};

enum conn_end { CONN_END_CLOSE, CONN_END_ABORT, CONN_END_GONE };

static void conn_free(mta_conn_t *cn, enum conn_end how)
{
	mta_srv_t *srv = cn->srv;

	sl_timer_cancel(srv->wheel, &cn->timer);
	srv->ops->session_destroy(srv->p.proto, cn, cn->sess);
	cn->sess = NULL;
	mta_ipcount_release(srv->ipt, cn->ip);
	if (cn->prev)
		cn->prev->next = cn->next;
	else
		srv->conns = cn->next;
	if (cn->next)
		cn->next->prev = cn->prev;
	srv->stats.current--;
	if (cn->tc != NULL) {
		ns_stream_set_ctx(cn->tc, NULL);
		if (how == CONN_END_ABORT)
			ns_stream_abort(cn->tc);
		else if (how == CONN_END_CLOSE)
			ns_stream_close(cn->tc);
	}
	free(cn);
}

static void conn_arm(mta_conn_t *cn)
{
	uint64_t d = cn->srv->ops->deadline(cn->sess);

	if (d == SL_TIME_NEVER)
		sl_timer_cancel(cn->srv->wheel, &cn->timer);
	else if (sl_timer_expiry(&cn->timer) != d)
		sl_timer_arm(cn->srv->wheel, &cn->timer, d);
}

static void conn_timer_cb(sl_timer_t *t, void *arg)
{
	mta_conn_t *cn = arg;

	(void)t;
	cn->srv->ops->timeout(cn->sess, cn->srv->now);
	mta_conn_pump(cn);
}

/* conn_feed - offer the TCP receive queue to the engine. True if some was
 * taken; *GONE_R when the client closed and nothing is left to do. */
static bool conn_feed(mta_conn_t *cn, bool idle, bool *gone_r)
{
	mta_srv_t *srv = cn->srv;
	sl_slice_t iov[MTA_PEEK_IOV];
	unsigned k = ns_stream_peek(cn->tc, iov, MTA_PEEK_IOV);
	size_t total = 0;

	for (unsigned i = 0; i < k; i++) {
		size_t used = 0;

		srv->ops->input(cn->sess, srv->now, iov[i].ptr, iov[i].len, &used);
		total += used;
		if (used < iov[i].len)
			break;
	}
	if (total > 0) {
		ns_stream_consume(cn->tc, total);
		return true;
	}
	*gone_r = k == 0 && idle && ns_stream_eof(cn->tc);
	return false;
}

void mta_conn_pump(mta_conn_t *cn)
{
	mta_srv_t *srv = cn->srv;
	const mta_proto_ops_t *ops = srv->ops;

	for (;;) {
		bool progress = false, gone = false, blocked = false;
		sl_slice_t out;

		if (cn->shutdown_pending && !cn->req_started) {
			cn->shutdown_pending = false;
			ops->shutdown(cn->sess, srv->now, srv->shutdown_text);
		}
		out = ops->output(cn->sess);
		if (out.len > 0) {
			ssize_t n = ns_stream_send(cn->tc, out.ptr, out.len);

			if (n < 0) {
				conn_free(cn, CONN_END_ABORT);
				return;
			}
			if (n > 0) {
				ops->output_consume(cn->sess, srv->now, (size_t)n);
				progress = true;
			} else {
				blocked = true; /* the stream is full: `writable` follows */
			}
		}
		if (cn->tls_wait_flush && ops->output(cn->sess).len == 0) {
			/* The reply is accepted by the stream: whatever the client
			 * sent behind the command is discarded now. */
			int rc = ns_stream_starttls(cn->tc, srv->tls);

			cn->tls_wait_flush = false;
			if (rc < 0) {
				sl_log(SL_LOG_INFO, ops->name, "[%s]:%u: STARTTLS refused: %s",
				       cn->ip_str, cn->port, sl_strerror(rc));
				srv->stats.tls_refused++;
				cn->req_started = false;
				ops->tls_done(cn->sess, srv->now, false);
				continue;
			}
			srv->stats.plaintext_discarded += (uint64_t)rc;
			cn->tls_handshake = true;
		}
		if (ops->has_request(cn->sess) && !cn->req_started) {
			size_t before = out.len;

			cn->req_started = true;
			ops->start_request(srv->p.proto, cn, srv->now);
			/* A request answered at once that added no output and left
			 * another one behind, while the stream takes nothing: an
			 * engine that resumes a long answer (a FETCH) as soon as its
			 * buffer has some room, but needs more room than that for
			 * its next message, would otherwise re-issue the same
			 * empty request here for ever, and the worker would never
			 * get back to the ACKs that drain the stream. Wait for
			 * `writable` instead. */
			if (blocked && !cn->req_started && ops->has_request(cn->sess) &&
			    ops->output(cn->sess).len == before) {
				srv->stats.pump_yields++;
				break;
			}
			continue;
		}
		if (ops->closing(cn->sess)) {
			if (ops->output(cn->sess).len == 0) {
				conn_free(cn, CONN_END_CLOSE);
				return;
			}
			if (progress)
				continue;
			break; /* the rest goes out on `writable` */
		}
		if (!cn->tls_wait_flush && !cn->tls_handshake &&
		    conn_feed(cn, !ops->has_request(cn->sess), &gone))
			progress = true;
		if (gone) {
			conn_free(cn, CONN_END_CLOSE);
			return;
		}
		if (!progress)
			break;
	}
	conn_arm(cn);
}

/* ---- stream callbacks ---- */

static int tcp_accepted(ns_stream_t *c, void *listen_ctx)
{
	mta_listener_t *lst = listen_ctx;
	mta_srv_t *srv = lst->srv;
	ns_conn_info_t info;
	mta_conn_t *cn;
	struct in_addr a;
	bool over;
	int rc;

	if (srv->shutting_down)
		return SL_ESTATE;
	/* Over max_sessions a client is told so (IMAP BYE, POP3 -ERR) by up
	 * to mta_overflow_sessions() extra sessions that say only that and
	 * close; past those it is reset. */
	over = srv->stats.current >= srv->p.max_sessions;
	if (over) {
		srv->stats.rejected_limit++;
		if (srv->stats.current >= srv->p.max_sessions + mta_overflow_sessions(srv->p.max_sessions))
			return SL_ELIMIT; /* reset */
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
	cn->id = ++srv->conn_seq;
	a.s_addr = info.remote_ip;
	inet_ntop(AF_INET, &a, cn->ip_str, sizeof(cn->ip_str));
	sl_timer_init(&cn->timer, conn_timer_cb, cn);
	rc = srv->ops->session_create(srv->p.proto, lst->conf.ctx, cn, srv->now, &cn->sess);
	if (rc < 0) {
		free(cn);
		return rc;
	}
	ns_stream_set_ctx(c, cn);
	cn->next = srv->conns;
	if (srv->conns)
		srv->conns->prev = cn;
	srv->conns = cn;
	srv->stats.current++;
	srv->stats.accepted++;
	if (over) {
		sl_log(SL_LOG_INFO, srv->ops->name, "[%s]: too many sessions (max_sessions %u)",
		       cn->ip_str, srv->p.max_sessions);
		srv->ops->shutdown(cn->sess, srv->now, "Too many sessions, try again later");
	}
	if (mta_ipcount_acquire(srv->ipt, cn->ip) > srv->p.max_per_ip && !over) {
		srv->stats.rejected_ip_limit++;
		sl_log(SL_LOG_INFO, srv->ops->name, "[%s]: too many connections from this address",
		       cn->ip_str);
		srv->ops->shutdown(cn->sess, srv->now,
				   srv->p.ip_limit_text ? srv->p.ip_limit_text
							: "Too many connections from your address");
	}
	mta_conn_pump(cn);
	return 0;
}

static void tcp_data(ns_stream_t *c, void *ctx)
{
	(void)c;
	if (ctx != NULL)
		mta_conn_pump(ctx);
}

static void tcp_secured(ns_stream_t *c, void *ctx)
{
	mta_conn_t *cn = ctx;
	ns_tls_info_t ti;

	if (cn == NULL)
		return;
	if (ns_stream_tls_info(c, &ti) == 0)
		sl_log(SL_LOG_DEBUG, cn->srv->ops->name, "[%s]:%u: %s %s%s%s%s", cn->ip_str,
		       cn->port, ti.version, ti.cipher, ti.sni ? " sni=" : "", ti.sni ? ti.sni : "",
		       ti.resumed ? " resumed" : "");
	if (cn->tls_handshake) {
		cn->tls_handshake = false;
		cn->req_started = false;
		cn->srv->ops->tls_done(cn->sess, cn->srv->now, true);
	}
	mta_conn_pump(cn);
}

static void tcp_closed(ns_stream_t *c, void *ctx, int reason)
{
	mta_conn_t *cn = ctx;

	(void)c;
	(void)reason;
	if (cn == NULL)
		return;
	cn->tc = NULL;
	conn_free(cn, CONN_END_GONE);
}

static const ns_stream_ops_t mta_tcp_ops = {
	.accepted = tcp_accepted,
	.data = tcp_data,
	.writable = tcp_data,
	.closed = tcp_closed,
	.secured = tcp_secured,
};

/* ---- the server ---- */

static void srv_unlisten(mta_srv_t *srv)
{
	for (unsigned i = 0; i < srv->n_lst; i++)
		ns_stream_unlisten(&srv->lst[i].nl);
}

int mta_srv_create(const mta_srv_params_t *p, mta_srv_t **srv_r, const char **error_r)
{
	static char errbuf[128];
	mta_srv_t *srv;

	*srv_r = NULL;
	if (p->stack == NULL || p->ops == NULL || p->n_listeners == 0 ||
	    p->n_listeners > MTA_SRV_LISTENERS_MAX || p->max_sessions == 0 || p->max_per_ip == 0) {
		*error_r = "mail server: bad parameters";
		return SL_EINVAL;
	}
	srv = calloc(1, sizeof(*srv));
	if (srv == NULL)
		return SL_ENOMEM;
	srv->p = *p;
	srv->ops = p->ops;
	srv->tls = p->tls;
	srv->now = p->now_us;
	srv->ipt = mta_ipcount_create(p->max_sessions);
	srv->wheel = sl_timer_wheel_create(p->now_us, 0);
	if (srv->ipt == NULL || srv->wheel == NULL) {
		mta_srv_destroy(&srv);
		return SL_ENOMEM;
	}
	for (unsigned i = 0; i < p->n_listeners; i++) {
		mta_listener_t *l = &srv->lst[i];
		int rc;

		l->srv = srv;
		l->conf = p->listeners[i];
		srv->n_lst++;
		if (l->conf.implicit_tls && p->tls == NULL) {
			snprintf(errbuf, sizeof(errbuf),
				 "%s: port %u is implicit TLS but TLS is not configured",
				 p->ops->name, l->conf.port);
			*error_r = errbuf;
			mta_srv_destroy(&srv);
			return SL_EINVAL;
		}
		rc = ns_stream_listen(p->stack, l->conf.port, &mta_tcp_ops, l,
				      l->conf.implicit_tls ? p->tls : NULL, &l->nl);
		if (rc < 0) {
			snprintf(errbuf, sizeof(errbuf), "%s: cannot listen on port %u: %s",
				 p->ops->name, l->conf.port, sl_strerror(rc));
			*error_r = errbuf;
			mta_srv_destroy(&srv);
			return rc;
		}
	}
	*srv_r = srv;
	return 0;
}

void mta_srv_destroy(mta_srv_t **srvp)
{
	mta_srv_t *srv = *srvp;

	if (srv == NULL)
		return;
	srv_unlisten(srv);
	while (srv->conns != NULL)
		conn_free(srv->conns, CONN_END_ABORT);
	sl_timer_wheel_destroy(&srv->wheel);
	mta_ipcount_destroy(&srv->ipt);
	free(srv);
	*srvp = NULL;
}

int mta_srv_set_tls(mta_srv_t *srv, ns_tls_ctx_t *tls)
{
	if (tls == NULL || srv->tls == NULL)
		return SL_EINVAL;
	for (unsigned i = 0; i < srv->n_lst; i++)
		if (srv->lst[i].conf.implicit_tls && srv->lst[i].nl != NULL) {
			int rc = ns_stream_listener_set_tls(srv->lst[i].nl, tls);

			if (rc < 0)
				return rc;
		}
	srv->tls = tls;
	return 0;
}

bool mta_srv_has_tls(const mta_srv_t *srv) { return srv->tls != NULL; }

void mta_srv_tick(mta_srv_t *srv, uint64_t now_us)
{
	srv->now = now_us;
	sl_timer_wheel_run(srv->wheel, now_us);
}

uint64_t mta_srv_next_deadline(const mta_srv_t *srv) { return sl_timer_wheel_next(srv->wheel); }
uint64_t mta_srv_now(const mta_srv_t *srv) { return srv->now; }

void mta_srv_shutdown(mta_srv_t *srv, uint64_t now_us, const char *text)
{
	mta_conn_t *cn, *next;

	srv->now = now_us;
	srv->shutting_down = true;
	srv->shutdown_text = text;
	srv_unlisten(srv);
	for (cn = srv->conns; cn != NULL; cn = next) {
		next = cn->next;
		cn->shutdown_pending = true;
		mta_conn_pump(cn);
	}
}

unsigned mta_srv_busy(const mta_srv_t *srv)
{
	unsigned n = 0;

	for (const mta_conn_t *cn = srv->conns; cn != NULL; cn = cn->next)
		n += cn->req_started;
	return n;
}

void mta_srv_get_stats(const mta_srv_t *srv, mta_srv_stats_t *r) { *r = srv->stats; }

void mta_srv_foreach(mta_srv_t *srv, void (*fn)(void *ctx, mta_conn_t *cn), void *ctx)
{
	mta_conn_t *cn, *next;

	for (cn = srv->conns; cn != NULL; cn = next) {
		next = cn->next;
		fn(ctx, cn);
	}
}

/* ---- per connection ---- */

void *mta_conn_session(const mta_conn_t *cn) { return cn->sess; }
void *mta_conn_data(const mta_conn_t *cn) { return cn->data; }
void mta_conn_set_data(mta_conn_t *cn, void *data) { cn->data = data; }
mta_srv_t *mta_conn_srv(const mta_conn_t *cn) { return cn->srv; }
uint32_t mta_conn_ip(const mta_conn_t *cn) { return cn->ip; }
const char *mta_conn_ip_str(const mta_conn_t *cn) { return cn->ip_str; }
uint16_t mta_conn_port(const mta_conn_t *cn) { return cn->port; }
uint64_t mta_conn_id(const mta_conn_t *cn) { return cn->id; }
bool mta_conn_implicit_tls(const mta_conn_t *cn) { return cn->lst->conf.implicit_tls; }

void mta_conn_starttls(mta_conn_t *cn)
{
	if (cn->srv->tls != NULL) {
		cn->tls_wait_flush = true; /* the pump upgrades once the reply is out */
		return;
	}
	cn->req_started = false;
	cn->srv->ops->tls_done(cn->sess, cn->srv->now, false);
}

void mta_conn_request_done(mta_conn_t *cn)
{
	cn->req_started = false;
}
