/* ns_stream - the stream object, listeners, and the plain implementation.
 *
 * Every TCP connection a listener accepts (or ns_stream_connect opens)
 * gets an ns_stream_t as its ns_conn ctx; the TCP events come here and go
 * to st->impl, which is the plain pass-through below or the TLS one
 * (ns_tls_stream.c). STARTTLS swaps the impl on the same stream.
 *
 * App events run under a depth count: a stream the app closes inside an
 * event is freed only when that event returns, so no caller up the stack
 * ever touches freed memory (the ev_* helpers return false then). */
#include <stdlib.h>
#include <string.h>

#include "ns_tls_private.h"
#include "sl_err.h"
#include "sl_log.h"

struct ns_listener {
	ns_stack_t *stack;
	uint16_t port;
	ns_stream_ops_t ops;
	void *ctx;
	ns_tls_ctx_t *tls; /* referenced; NULL = plain */
};

/* ---- event delivery ---- */

static bool ev_leave(ns_stream_t *st)
{
	st->depth--;
	if (st->dead) {
		if (st->depth == 0)
			ns_stream_release(st);
		return false;
	}
	return true;
}

bool ns_stream_ev_data(ns_stream_t *st)
{
	if (st->app_gone || st->ops.data == NULL)
		return !st->dead;
	st->depth++;
	st->ops.data(st, st->ctx);
	return ev_leave(st);
}

bool ns_stream_ev_writable(ns_stream_t *st)
{
	if (st->app_gone || st->ops.writable == NULL)
		return !st->dead;
	st->depth++;
	st->ops.writable(st, st->ctx);
	return ev_leave(st);
}

bool ns_stream_ev_secured(ns_stream_t *st)
{
	if (st->app_gone || st->ops.secured == NULL)
		return !st->dead;
	st->depth++;
	st->ops.secured(st, st->ctx);
	return ev_leave(st);
}

static bool ev_connected(ns_stream_t *st)
{
	if (st->app_gone || st->ops.connected == NULL)
		return !st->dead;
	st->depth++;
	st->ops.connected(st, st->ctx);
	return ev_leave(st);
}

void ns_stream_ev_closed(ns_stream_t *st, int reason)
{
	bool tell = !st->app_gone && st->ops.closed != NULL;

	/* From here on close/abort by the app are no-ops. */
	st->app_gone = true;
	if (tell) {
		st->depth++;
		st->ops.closed(st, st->ctx, reason);
		st->depth--;
	}
	ns_stream_release(st);
}

void ns_stream_detach_conn(ns_stream_t *st)
{
	if (st->conn != NULL) {
		ns_conn_set_ctx(st->conn, NULL);
		st->conn = NULL;
	}
}

void ns_stream_release(ns_stream_t *st)
{
	st->dead = true;
	st->app_gone = true;
	if (st->depth > 0)
		return;
	if (st->impl->destroy != NULL)
		st->impl->destroy(st);
	free(st);
}

static ns_stream_t *stream_new(ns_stack_t *stack, ns_conn_t *c, const ns_stream_ops_t *ops,
			       void *ctx)
{
	ns_stream_t *st = calloc(1, sizeof(*st));
	ns_conn_info_t info;

	if (st == NULL)
		return NULL;
	st->stack = stack;
	st->conn = c;
	st->impl = &ns_stream_plain_impl;
	st->ops = *ops;
	st->ctx = ctx;
	if (c != NULL) {
		ns_conn_get_info(c, &info);
		st->remote_ip = info.remote_ip;
		st->remote_port = info.remote_port;
		ns_conn_set_ctx(c, st);
	}
	return st;
}

/* ---- TCP callbacks: look the stream up, hand to the impl ---- */

static int tcp_accepted(ns_conn_t *c, void *listen_ctx)
{
	ns_listener_t *l = listen_ctx;
	ns_stream_t *st = stream_new(l->stack, c, &l->ops, NULL);
	int rc;

	if (st == NULL)
		return SL_ENOMEM;
	if (l->tls != NULL) {
		rc = ns_tls_stream_start(st, l->tls, true, NULL);
		if (rc < 0) {
			ns_stream_detach_conn(st);
			ns_stream_release(st);
			return rc; /* TCP resets it */
		}
	}
	st->depth++;
	rc = l->ops.accepted(st, l->ctx);
	st->depth--;
	if (rc < 0 && !st->dead) {
		/* Refused: TCP resets the connection when we return. */
		ns_stream_detach_conn(st);
		ns_stream_release(st);
		return rc;
	}
	if (st->dead) {
		/* Closed or aborted inside `accepted`: the conn is already
		 * handed back to TCP. */
		ns_stream_release(st);
	}
	return 0;
}

static void tcp_connected(ns_conn_t *c, void *ctx)
{
	ns_stream_t *st = ctx;

	(void)c;
	if (st != NULL)
		ev_connected(st);
}

static void tcp_data(ns_conn_t *c, void *ctx)
{
	ns_stream_t *st = ctx;

	(void)c;
	if (st != NULL)
		st->impl->on_data(st);
}

static void tcp_writable(ns_conn_t *c, void *ctx)
{
	ns_stream_t *st = ctx;

	(void)c;
	if (st != NULL)
		st->impl->on_writable(st);
}

static void tcp_closed(ns_conn_t *c, void *ctx, int reason)
{
	ns_stream_t *st = ctx;

	(void)c;
	if (st == NULL)
		return;
	st->conn = NULL; /* invalid once this callback returns */
	st->impl->on_closed(st, reason);
}

static const ns_conn_ops_t stream_tcp_ops = {
	.accepted = tcp_accepted,
	.connected = tcp_connected,
	.data = tcp_data,
	.writable = tcp_writable,
	.closed = tcp_closed,
};

/* ---- listeners and active opens ---- */

int ns_stream_listen(ns_stack_t *stack, uint16_t port, const ns_stream_ops_t *ops,
		     void *listen_ctx, ns_tls_ctx_t *tls, ns_listener_t **l_r)
{
	ns_listener_t *l;
	int rc;

	*l_r = NULL;
	if (stack == NULL || ops == NULL || ops->accepted == NULL)
		return SL_EINVAL;
	l = calloc(1, sizeof(*l));
	if (l == NULL)
		return SL_ENOMEM;
	l->stack = stack;
	l->port = port;
	l->ops = *ops;
	l->ctx = listen_ctx;
	rc = ns_tcp_listen(stack, port, &stream_tcp_ops, l);
	if (rc < 0) {
		free(l);
		return rc;
	}
	if (tls != NULL) {
		ns_tls_ctx_ref(tls);
		l->tls = tls;
	}
	*l_r = l;
	return 0;
}

int ns_stream_listener_set_tls(ns_listener_t *l, ns_tls_ctx_t *tls)
{
	if ((l->tls == NULL) != (tls == NULL))
		return SL_EINVAL;
	if (tls == l->tls)
		return 0;
	ns_tls_ctx_ref(tls);
	ns_tls_ctx_unref(&l->tls);
	l->tls = tls;
	return 0;
}

void ns_stream_unlisten(ns_listener_t **lp)
{
	ns_listener_t *l = *lp;

	if (l == NULL)
		return;
	ns_tcp_unlisten(l->stack, l->port);
	if (l->tls != NULL)
		ns_tls_ctx_unref(&l->tls);
	free(l);
	*lp = NULL;
}

int ns_stream_connect(ns_stack_t *stack, uint32_t dst_ip, uint16_t dst_port,
		      const ns_stream_ops_t *ops, void *ctx, ns_stream_t **st_r)
{
	ns_stream_t *st;
	ns_conn_t *c;
	int rc;

	*st_r = NULL;
	st = stream_new(stack, NULL, ops, ctx);
	if (st == NULL)
		return SL_ENOMEM;
	rc = ns_tcp_connect(stack, dst_ip, dst_port, &stream_tcp_ops, st, &c);
	if (rc < 0) {
		free(st);
		return rc;
	}
	st->conn = c;
	st->remote_ip = dst_ip;
	st->remote_port = dst_port;
	*st_r = st;
	return 0;
}

/* ---- the API: dispatch ---- */

void ns_stream_set_ctx(ns_stream_t *st, void *ctx)
{
	st->ctx = ctx;
}

void *ns_stream_get_ctx(const ns_stream_t *st)
{
	return st->ctx;
}

ssize_t ns_stream_send(ns_stream_t *st, const void *data, size_t len)
{
	if (st->app_gone)
		return SL_ECLOSED;
	return st->impl->send(st, data, len);
}

size_t ns_stream_send_space(const ns_stream_t *st)
{
	if (st->app_gone)
		return 0;
	return st->impl->send_space(st);
}

unsigned ns_stream_peek(ns_stream_t *st, sl_slice_t *iov, unsigned n)
{
	if (st->app_gone || n == 0)
		return 0;
	return st->impl->peek(st, iov, n);
}

void ns_stream_consume(ns_stream_t *st, size_t len)
{
	if (!st->app_gone)
		st->impl->consume(st, len);
}

size_t ns_stream_recv(ns_stream_t *st, void *buf, size_t len)
{
	uint8_t *dst = buf;
	size_t done = 0;

	while (done < len && !st->app_gone) {
		sl_slice_t iov[8];
		unsigned k = st->impl->peek(st, iov, 8);
		size_t got = 0;

		if (k == 0)
			break;
		for (unsigned i = 0; i < k && done + got < len; i++) {
			size_t n = iov[i].len < len - done - got ? iov[i].len : len - done - got;

			memcpy(dst + done + got, iov[i].ptr, n);
			got += n;
		}
		st->impl->consume(st, got);
		done += got;
	}
	return done;
}

size_t ns_stream_readable(ns_stream_t *st)
{
	if (st->app_gone)
		return 0;
	return st->impl->readable(st);
}

bool ns_stream_eof(ns_stream_t *st)
{
	if (st->app_gone)
		return true;
	return st->impl->eof(st);
}

int ns_stream_shutdown(ns_stream_t *st)
{
	if (st->app_gone)
		return SL_ECLOSED;
	return st->impl->shutdown(st);
}

void ns_stream_close(ns_stream_t *st)
{
	if (st->app_gone)
		return;
	st->app_gone = true;
	st->impl->close(st);
}

void ns_stream_abort(ns_stream_t *st)
{
	if (st->app_gone)
		return;
	st->app_gone = true;
	st->impl->abort(st);
}

void ns_stream_get_info(const ns_stream_t *st, ns_conn_info_t *r)
{
	if (st->conn != NULL) {
		ns_conn_get_info(st->conn, r);
		return;
	}
	memset(r, 0, sizeof(*r));
	r->remote_ip = st->remote_ip;
	r->remote_port = st->remote_port;
	r->state = "CLOSED";
}

/* RFC 3207 §4.2 / RFC 2595 §3.1 / RFC 3501 §6.2.1: nothing the client
 * sent before the handshake may be acted on after it. Whatever TCP holds
 * now arrived before our go-ahead could have been read: it goes. */
static size_t discard_unread(ns_stream_t *st)
{
	size_t n = ns_conn_readable(st->conn);

	ns_conn_consume(st->conn, n);
	return n;
}

static int starttls(ns_stream_t *st, ns_tls_ctx_t *tls, bool server, const char *sni)
{
	size_t n;
	int rc;

	if (tls == NULL)
		return SL_EINVAL;
	if (st->app_gone || st->tls != NULL || st->conn == NULL)
		return SL_ESTATE;
	n = discard_unread(st);
	if (n > 0) {
		tls->stats.plaintext_discarded += n;
		sl_log(SL_LOG_INFO, NS_TLS_LOG,
		       "STARTTLS: discarded %zu bytes the peer sent before the handshake", n);
	}
	rc = ns_tls_stream_start(st, tls, server, sni);
	if (rc < 0)
		return rc;
	return n > (size_t)INT32_MAX ? INT32_MAX : (int)n;
}

int ns_stream_starttls(ns_stream_t *st, ns_tls_ctx_t *tls)
{
	return starttls(st, tls, true, NULL);
}

int ns_stream_starttls_client(ns_stream_t *st, ns_tls_ctx_t *tls, const char *server_name)
{
	return starttls(st, tls, false, server_name);
}

bool ns_stream_is_tls(const ns_stream_t *st)
{
	return st->tls != NULL;
}

bool ns_stream_is_secured(const ns_stream_t *st)
{
	return st->tls != NULL && ns_tls_stream_secured(st);
}

int ns_stream_tls_info(ns_stream_t *st, ns_tls_info_t *r)
{
	if (st->tls == NULL)
		return SL_ESTATE;
	return ns_tls_stream_info(st, r);
}

/* ---- the plain implementation: ns_conn, one to one ---- */

static ssize_t plain_send(ns_stream_t *st, const void *data, size_t len)
{
	if (st->conn == NULL)
		return SL_ECLOSED;
	return ns_conn_send(st->conn, data, len);
}

static size_t plain_send_space(const ns_stream_t *st)
{
	return st->conn != NULL ? ns_conn_send_space(st->conn) : 0;
}

static unsigned plain_peek(ns_stream_t *st, sl_slice_t *iov, unsigned n)
{
	return st->conn != NULL ? ns_conn_peek(st->conn, iov, n) : 0;
}

static void plain_consume(ns_stream_t *st, size_t len)
{
	if (st->conn != NULL)
		ns_conn_consume(st->conn, len);
}

static size_t plain_readable(ns_stream_t *st)
{
	return st->conn != NULL ? ns_conn_readable(st->conn) : 0;
}

static bool plain_eof(ns_stream_t *st)
{
	return st->conn == NULL || ns_conn_eof(st->conn);
}

static int plain_shutdown(ns_stream_t *st)
{
	return st->conn != NULL ? ns_conn_shutdown(st->conn) : SL_ECLOSED;
}

static void plain_close(ns_stream_t *st)
{
	ns_conn_t *c = st->conn;

	ns_stream_detach_conn(st);
	if (c != NULL)
		ns_conn_close(c);
	ns_stream_release(st);
}

static void plain_abort(ns_stream_t *st)
{
	ns_conn_t *c = st->conn;

	ns_stream_detach_conn(st);
	if (c != NULL)
		ns_conn_abort(c);
	ns_stream_release(st);
}

static void plain_on_data(ns_stream_t *st)
{
	ns_stream_ev_data(st);
}

static void plain_on_writable(ns_stream_t *st)
{
	ns_stream_ev_writable(st);
}

static void plain_on_closed(ns_stream_t *st, int reason)
{
	ns_stream_ev_closed(st, reason);
}

const ns_stream_impl_t ns_stream_plain_impl = {
	.send = plain_send,
	.send_space = plain_send_space,
	.peek = plain_peek,
	.consume = plain_consume,
	.readable = plain_readable,
	.eof = plain_eof,
	.shutdown = plain_shutdown,
	.close = plain_close,
	.abort = plain_abort,
	.on_data = plain_on_data,
	.on_writable = plain_on_writable,
	.on_closed = plain_on_closed,
	.destroy = NULL,
};
