/* ns_tls_stream - the TLS implementation of a stream.
 *
 * wolfSSL never sees a socket: its I/O callbacks move ciphertext between
 * its buffers and the TCP connection (ns_conn_recv / ns_conn_send), never
 * block, and answer WANT_READ when TCP has nothing. The send callback always
 * takes everything: what TCP's send queue cannot hold goes to a small
 * overflow buffer (ov, bounded by NS_TLS_OV_MAX) that drains on `writable`.
 * So wolfSSL_write never has to be retried with the same arguments, and an
 * app send is simply "encrypt up to one record into TCP + ov"; a new record
 * is only made while ov is empty, which bounds ov to one record (or one
 * handshake flight) and arms TCP's `writable` through the short send.
 *
 * Reading decrypts into a per-stream plaintext buffer (rx, rx_buf bytes,
 * allocated while it holds data) that peek exposes as one slice. When rx
 * is full nothing more is decrypted, the ciphertext stays in TCP, and TCP's
 * window closes: that is the backpressure. peek/readable/eof decrypt what
 * TCP already holds when there is room, so data left after a consume is
 * readable without another event, as with ns_conn.
 *
 * Failures: in an event (handshake, timer), the app's `closed` runs at once;
 * found inside an app call (a bad record during peek), the stream is marked
 * failed and `closed` runs from a zero-delay timer on the stack's wheel. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ns_tls_private.h"
#include <wolfssl/error-ssl.h>
#include "sl_err.h"
#include "sl_log.h"
#include "sl_time.h"

enum tls_phase {
	PH_HANDSHAKE = 0,
	PH_UP,      /* handshake done, records flow */
	PH_FAILED,  /* fatal error; waiting for the app or the kick timer */
	PH_LINGER,  /* app closed; flushing ov before the FIN */
};

struct ns_tls_conn {
	ns_tls_ctx_t *ctx;        /* referenced */
	WOLFSSL *ssl;
	bool server;
	bool admitted;            /* holds a handshake slot */
	bool want_writable;       /* a send was refused or short */
	bool peer_closed;         /* close_notify or FIN: no more plaintext */
	bool tcp_eof;             /* the recv callback saw TCP's FIN */
	bool io_closed;           /* TCP refused a send: reset or shut */
	bool shut;                /* our close_notify is out */
	bool fin_pending;         /* send FIN once ov drains */
	bool secured;             /* the handshake completed */
	uint8_t once;             /* ns_tls_stream_once bits */
	uint8_t phase;
	int fail_reason;
	unsigned cert_index;
	uint32_t overhead;        /* record expansion, once up */
	uint64_t bytes_out;       /* ciphertext handed to TCP + ov */
	uint64_t started_us;
	uint8_t *rx;
	uint32_t rx_off, rx_len, rx_cap;
	sl_buf_t ov;
	sl_timer_t timer;         /* handshake deadline, then linger */
	sl_timer_t kick;          /* deferred `closed` after a failure */
};

static void fail_mark(ns_stream_t *st, int reason, int werr, const char *what);
static void fail_deliver(ns_stream_t *st);
static void fail_defer(ns_stream_t *st);

static ns_tls_conn_t *T(const ns_stream_t *st)
{
	return st->tls;
}

static uint64_t now_us(const ns_stream_t *st)
{
	return st->stack->now_us;
}

static const char *peer_str(const ns_stream_t *st, char *buf, size_t size)
{
	struct in_addr a = {.s_addr = st->remote_ip};
	char ip[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &a, ip, sizeof(ip));
	snprintf(buf, size, "%s:%u", ip, st->remote_port);
	return buf;
}

/* ---- wolfSSL I/O callbacks: ciphertext <-> TCP ---- */

/* Push ov into TCP. Returns false when TCP refused for good. */
static bool ov_flush(ns_stream_t *st)
{
	ns_tls_conn_t *t = T(st);
	ssize_t n;

	if (t->ov.len == 0)
		return true;
	if (st->conn == NULL)
		return false;
	n = ns_conn_send(st->conn, t->ov.data, t->ov.len);
	if (n < 0)
		return false;
	sl_buf_consume(&t->ov, (size_t)n);
	if (t->ov.len == 0)
		sl_buf_free(&t->ov); /* idle streams keep no buffer */
	return true;
}

static int io_recv(WOLFSSL *ssl, char *buf, int sz, void *arg)
{
	ns_stream_t *st = arg;
	size_t n;

	(void)ssl;
	if (st->conn == NULL)
		return WOLFSSL_CBIO_ERR_CONN_CLOSE;
	n = ns_conn_recv(st->conn, buf, (size_t)sz);
	if (n > 0)
		return (int)n;
	if (ns_conn_eof(st->conn)) {
		T(st)->tcp_eof = true;
		return WOLFSSL_CBIO_ERR_CONN_CLOSE;
	}
	return WOLFSSL_CBIO_ERR_WANT_READ;
}

static int io_send(WOLFSSL *ssl, char *buf, int sz, void *arg)
{
	ns_stream_t *st = arg;
	ns_tls_conn_t *t = T(st);
	const char *p = buf;
	size_t left = (size_t)sz;

	(void)ssl;
	if (st->conn == NULL || !ov_flush(st)) {
		t->io_closed = true;
		return WOLFSSL_CBIO_ERR_CONN_CLOSE;
	}
	if (t->ov.len == 0) {
		ssize_t n = ns_conn_send(st->conn, p, left);

		if (n < 0) {
			t->io_closed = true;
			return WOLFSSL_CBIO_ERR_CONN_CLOSE;
		}
		p += n;
		left -= (size_t)n;
	}
	if (left > 0 && sl_buf_append(&t->ov, p, left) < 0)
		return WOLFSSL_CBIO_ERR_GENERAL; /* past NS_TLS_OV_MAX: fatal */
	t->bytes_out += (uint64_t)sz;
	return sz;
}

/* ---- handshake ---- */

static void slot_release(ns_stream_t *st)
{
	ns_tls_conn_t *t = T(st);

	if (t->admitted) {
		t->admitted = false;
		ns_tls_hs_release(t->ctx, st->remote_ip);
	}
}

static void timers_cancel(ns_stream_t *st)
{
	ns_tls_conn_t *t = T(st);

	sl_timer_cancel(st->stack->wheel, &t->timer);
	sl_timer_cancel(st->stack->wheel, &t->kick);
}

static void rx_fill(ns_stream_t *st);

/* ---- failures ---- */

/* A server that fails before sending a byte (garbage instead of a
 * ClientHello) still owes the peer an alert (RFC 8446 §6): wolfSSL sends
 * none there, so we write the plaintext record ourselves. */
static void send_plain_alert(ns_stream_t *st, int werr)
{
	uint8_t rec[7] = {21, 3, 3, 0, 2, 2, 50}; /* alert, fatal, decode_error */

	if (werr == VERSION_ERROR)
		rec[6] = 70; /* protocol_version */
	else if (werr == MATCH_SUITE_ERROR)
		rec[6] = 40; /* handshake_failure */
	if (st->conn != NULL && ns_conn_send(st->conn, rec, sizeof(rec)) == (ssize_t)sizeof(rec))
		T(st)->ctx->stats.alerts_garbage++;
}

/* fail_mark - the one place a TLS failure is recorded: counted, logged
 * with its reason (wolfSSL's error code and text, or WHAT), a plaintext
 * alert for garbage, the handshake slot given back. REASON: SL_EPROTO,
 * SL_ETIMEDOUT or SL_ECLOSED. The app hears of it from fail_deliver (in an
 * event) or fail_defer (inside an app call). */
static void fail_mark(ns_stream_t *st, int reason, int werr, const char *what)
{
	ns_tls_conn_t *t = T(st);
	ns_tls_ctx_t *ctx = t->ctx;
	char peer[48], detail[WOLFSSL_MAX_ERROR_SZ + 32];
	const char *sni = NULL;

	if (t->phase == PH_FAILED)
		return;
	if (werr != 0) {
		char ebuf[WOLFSSL_MAX_ERROR_SZ];

		snprintf(detail, sizeof(detail), "%s (wolfSSL %d)",
			 wolfSSL_ERR_error_string((unsigned long)werr, ebuf), werr);
	} else {
		snprintf(detail, sizeof(detail), "%s", what != NULL ? what : sl_strerror(reason));
	}
	peer_str(st, peer, sizeof(peer));
	if (t->phase == PH_HANDSHAKE) {
		if (t->server)
			sni = wolfSSL_get_servername(t->ssl, WOLFSSL_SNI_HOST_NAME);
		ctx->stats.handshakes_failed++;
		if (reason == SL_ETIMEDOUT)
			ctx->stats.handshake_timeouts++;
		ns_tls_fail_log(ctx, "%s handshake with %s failed after %llu ms%s%s%s: %s",
				t->server ? "server" : "client", peer,
				(unsigned long long)((now_us(st) - t->started_us) / 1000),
				sni ? " (SNI " : "", sni ? sni : "", sni ? ")" : "", detail);
		if (reason == SL_EPROTO && t->server && t->bytes_out == 0)
			send_plain_alert(st, werr);
	} else {
		ctx->stats.records_failed++;
		ns_tls_fail_log(ctx, "TLS session with %s failed: %s", peer, detail);
	}
	slot_release(st);
	sl_timer_cancel(st->stack->wheel, &t->timer);
	t->phase = PH_FAILED;
	t->fail_reason = reason;
	t->peer_closed = true;
	wolfSSL_ERR_clear_error(); /* the lane's queue: nothing stale for the next */
}

/* In an event: the connection goes (RST for a stalled peer, else FIN after
 * the alert) and the app hears `closed`. ST is invalid afterwards. */
static void fail_deliver(ns_stream_t *st)
{
	ns_tls_conn_t *t = T(st);
	ns_conn_t *c = st->conn;
	int reason = t->fail_reason;

	sl_timer_cancel(st->stack->wheel, &t->kick);
	ns_stream_detach_conn(st);
	if (c != NULL) {
		if (reason == SL_ETIMEDOUT)
			ns_conn_abort(c); /* a stalled peer gets no more of our memory */
		else
			ns_conn_close(c);
	}
	ns_stream_ev_closed(st, reason);
}

/* Inside an app call: `closed` comes from the next timer run. */
static void fail_defer(ns_stream_t *st)
{
	ns_tls_conn_t *t = T(st);

	if (!sl_timer_pending(&t->kick))
		sl_timer_arm(st->stack->wheel, &t->kick, now_us(st));
}

static void kick_cb(sl_timer_t *tm, void *arg)
{
	ns_stream_t *st = arg;

	(void)tm;
	if (T(st)->phase == PH_FAILED && !st->app_gone)
		fail_deliver(st);
}

/* ---- handshake ---- */

/* Returns false when ST is gone. */
static bool hs_done(ns_stream_t *st)
{
	ns_tls_conn_t *t = T(st);
	ns_tls_stats_t *s = &t->ctx->stats;
	int ov;

	slot_release(st);
	sl_timer_cancel(st->stack->wheel, &t->timer);
	t->phase = PH_UP;
	t->secured = true;
	s->handshakes_ok++;
	if (wolfSSL_session_reused(t->ssl))
		s->handshakes_resumed++;
	if (wolfSSL_version(t->ssl) == TLS1_3_VERSION)
		s->tls13++;
	else
		s->tls12++;
	ov = wolfSSL_GetOutputSize(t->ssl, NS_TLS_RECORD_MAX);
	t->overhead = ov > NS_TLS_RECORD_MAX ? (uint32_t)(ov - NS_TLS_RECORD_MAX) : 64;
	if (SL_LOG_ENABLED(SL_LOG_DEBUG)) {
		char peer[48];

		sl_log(SL_LOG_DEBUG, NS_TLS_LOG, "%s: %s %s%s", peer_str(st, peer, sizeof(peer)),
		       wolfSSL_get_version(t->ssl), wolfSSL_get_cipher_name(t->ssl),
		       wolfSSL_session_reused(t->ssl) ? " resumed" : "");
	}
	return ns_stream_ev_secured(st);
}

/* The records after the handshake (or any new ones): decrypt, tell the
 * app, deliver a failure. From an event only. */
static void up_input(ns_stream_t *st)
{
	ns_tls_conn_t *t = T(st);

	rx_fill(st);
	if (t->rx_len > 0 || (t->peer_closed && t->phase != PH_FAILED)) {
		if (!ns_stream_ev_data(st))
			return;
	}
	if (t->phase == PH_FAILED && !st->app_gone)
		fail_deliver(st);
}

/* One handshake step. From an event (FROM_APP false) a completion runs
 * the follow-up events and a failure is delivered; from an app call
 * (a client's first flight) both wait for events. */
static void hs_step(ns_stream_t *st, bool from_app)
{
	ns_tls_conn_t *t = T(st);
	int ret, err;

	ret = t->server ? wolfSSL_accept(t->ssl) : wolfSSL_connect(t->ssl);
	if (ret == WOLFSSL_SUCCESS) {
		if (!hs_done(st) || from_app)
			return;
		if (t->phase != PH_UP)
			return; /* closed (lingering) inside `secured` */
		if (t->want_writable) {
			t->want_writable = false;
			if (!ns_stream_ev_writable(st) || t->phase != PH_UP)
				return;
		}
		up_input(st);
		return;
	}
	err = wolfSSL_get_error(t->ssl, ret);
	if (err == WOLFSSL_ERROR_WANT_READ || err == WOLFSSL_ERROR_WANT_WRITE) {
		if (!t->tcp_eof && (st->conn == NULL || !ns_conn_eof(st->conn)))
			return;
		err = 0;
	}
	if (t->tcp_eof || err == 0)
		fail_mark(st, SL_ECLOSED, 0, "the peer closed the connection");
	else if (t->io_closed)
		fail_mark(st, SL_ECLOSED, 0, "the connection was reset or shut under it");
	else
		fail_mark(st, SL_EPROTO, err, NULL);
	if (from_app)
		fail_defer(st);
	else
		fail_deliver(st);
}

static void timer_cb(sl_timer_t *tm, void *arg)
{
	ns_stream_t *st = arg;
	ns_tls_conn_t *t = T(st);
	ns_conn_t *c;

	(void)tm;
	if (t->phase == PH_HANDSHAKE) {
		fail_mark(st, SL_ETIMEDOUT, 0, "handshake timed out");
		if (!st->app_gone)
			fail_deliver(st);
		return;
	}
	if (t->phase == PH_LINGER) {
		/* The peer never took our last records: give up. */
		c = st->conn;
		ns_stream_detach_conn(st);
		if (c != NULL)
			ns_conn_abort(c);
		ns_stream_release(st);
	}
}

int ns_tls_stream_start(ns_stream_t *st, ns_tls_ctx_t *ctx, bool server, const char *sni)
{
	const ns_tls_config_t *cfg = ctx->cfg;
	ns_tls_conn_t *t;
	char peer[48];
	int rc;

	if (server && ctx->n_srv == 0)
		return SL_EINVAL;
	if (server) {
		rc = ns_tls_hs_admit(ctx, st->remote_ip);
		if (rc < 0) {
			ns_tls_fail_log(ctx, "handshake from %s refused: %s",
					peer_str(st, peer, sizeof(peer)),
					ctx->stats.handshakes_current >= cfg->p.handshakes_max
						? "too many handshakes in progress"
						: "too many handshakes in progress from this address");
			return rc;
		}
	}
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		goto fail_nomem;
	t->ssl = wolfSSL_new(server ? ctx->srv[0] : ctx->cli);
	if (t->ssl == NULL)
		goto fail_nomem;
	wolfSSL_SSLSetIORecv(t->ssl, io_recv);
	wolfSSL_SSLSetIOSend(t->ssl, io_send);
	wolfSSL_SetIOReadCtx(t->ssl, st);
	wolfSSL_SetIOWriteCtx(t->ssl, st);
	if (server)
		ns_tls_rsa_ssl_setup(t->ssl, ctx);
	if (!server && sni != NULL && sni[0] != '\0') {
		if (wolfSSL_UseSNI(t->ssl, WOLFSSL_SNI_HOST_NAME, sni, (unsigned short)strlen(sni)) !=
		    WOLFSSL_SUCCESS)
			goto fail_nomem;
		if (cfg->p.client_verify)
			wolfSSL_check_domain_name(t->ssl, sni);
	}
	ns_tls_ctx_ref(ctx);
	t->ctx = ctx;
	t->server = server;
	t->admitted = server;
	t->phase = PH_HANDSHAKE;
	t->rx_cap = cfg->p.rx_buf;
	t->started_us = now_us(st);
	sl_buf_init(&t->ov, NS_TLS_OV_MAX);
	sl_timer_init(&t->timer, timer_cb, st);
	sl_timer_init(&t->kick, kick_cb, st);
	sl_timer_arm(st->stack->wheel, &t->timer, t->started_us + cfg->p.handshake_timeout_us);
	st->tls = t;
	st->impl = &ns_tls_stream_impl;
	ctx->stats.handshakes_started++;
	ctx->stats.streams_tls++;
	if (!server) {
		/* The ClientHello goes out now. */
		hs_step(st, true);
		if (t->phase == PH_FAILED)
			return SL_EPROTO;
	}
	return 0;

fail_nomem:
	if (t != NULL) {
		if (t->ssl != NULL)
			wolfSSL_free(t->ssl);
		free(t);
	}
	if (server)
		ns_tls_hs_release(ctx, st->remote_ip);
	return SL_ENOMEM;
}

bool ns_tls_stream_secured(const ns_stream_t *st)
{
	return T(st)->secured;
}

bool ns_tls_stream_once(ns_stream_t *st, unsigned bit)
{
	ns_tls_conn_t *t;

	if (st == NULL || st->tls == NULL || bit >= 8)
		return false;
	t = T(st);
	if (t->once & (1u << bit))
		return false;
	t->once |= (uint8_t)(1u << bit);
	return true;
}

void ns_tls_stream_set_cert(ns_stream_t *st, unsigned idx)
{
	if (st->tls != NULL)
		T(st)->cert_index = idx;
}

int ns_tls_stream_info(ns_stream_t *st, ns_tls_info_t *r)
{
	ns_tls_conn_t *t = T(st);

	memset(r, 0, sizeof(*r));
	if (!t->secured || t->ssl == NULL)
		return SL_ESTATE;
	r->version = wolfSSL_get_version(t->ssl);
	r->cipher = wolfSSL_get_cipher_name(t->ssl);
	r->group = wolfSSL_get_curve_name(t->ssl);
	if (t->server)
		r->sni = wolfSSL_get_servername(t->ssl, WOLFSSL_SNI_HOST_NAME);
	r->cert_index = t->cert_index;
	r->resumed = wolfSSL_session_reused(t->ssl) != 0;
	return 0;
}

/* ---- reading ---- */

static void rx_free(ns_tls_conn_t *t)
{
	free(t->rx);
	t->rx = NULL;
	t->rx_off = t->rx_len = 0;
}

/* Decrypt what TCP holds into rx while there is room. Failures are only
 * marked: the caller delivers or defers them. */
static void rx_fill(ns_stream_t *st)
{
	ns_tls_conn_t *t = T(st);

	if (t->phase != PH_UP || t->peer_closed || st->conn == NULL)
		return;
	while (t->rx_len < t->rx_cap) {
		int n, err;

		if (t->rx == NULL) {
			if (wolfSSL_pending(t->ssl) == 0 && ns_conn_readable(st->conn) == 0 &&
			    !ns_conn_eof(st->conn))
				return;
			t->rx = malloc(t->rx_cap);
			if (t->rx == NULL)
				return; /* retried on the next call or event */
			t->rx_off = t->rx_len = 0;
		}
		if (t->rx_off > 0) {
			memmove(t->rx, t->rx + t->rx_off, t->rx_len);
			t->rx_off = 0;
		}
		n = wolfSSL_read(t->ssl, t->rx + t->rx_len, (int)(t->rx_cap - t->rx_len));
		if (n > 0) {
			t->rx_len += (uint32_t)n;
			continue;
		}
		err = wolfSSL_get_error(t->ssl, n);
		if (err == WOLFSSL_ERROR_ZERO_RETURN) {
			t->peer_closed = true; /* close_notify */
		} else if (t->tcp_eof) {
			/* FIN without close_notify: a truncation (RFC 8446
			 * §6.1); protocols with their own end marker (SMTP's
			 * dot, IMAP's tagged reply) do not care. */
			t->peer_closed = true;
			t->ctx->stats.truncated_eof++;
		} else if (err != WOLFSSL_ERROR_WANT_READ && err != WOLFSSL_ERROR_WANT_WRITE) {
			fail_mark(st, SL_EPROTO, err, NULL);
		}
		break;
	}
	if (t->rx_len == 0 && t->rx != NULL)
		rx_free(t);
}

/* rx_fill from inside an app call. */
static void rx_fill_app(ns_stream_t *st)
{
	rx_fill(st);
	if (T(st)->phase == PH_FAILED)
		fail_defer(st);
}

static unsigned tls_peek(ns_stream_t *st, sl_slice_t *iov, unsigned n)
{
	ns_tls_conn_t *t = T(st);

	(void)n;
	rx_fill_app(st);
	if (t->rx_len == 0)
		return 0;
	iov[0] = sl_slice_make(t->rx + t->rx_off, t->rx_len);
	return 1;
}

static void tls_consume(ns_stream_t *st, size_t len)
{
	ns_tls_conn_t *t = T(st);

	if (len > t->rx_len)
		len = t->rx_len;
	t->rx_off += (uint32_t)len;
	t->rx_len -= (uint32_t)len;
	if (t->rx_len == 0)
		rx_free(t);
}

static size_t tls_readable(ns_stream_t *st)
{
	rx_fill_app(st);
	return T(st)->rx_len;
}

static bool tls_eof(ns_stream_t *st)
{
	ns_tls_conn_t *t = T(st);

	rx_fill_app(st);
	return t->rx_len == 0 && (t->peer_closed || t->phase == PH_FAILED || st->conn == NULL);
}

/* ---- writing ---- */

static ssize_t tls_send(ns_stream_t *st, const void *data, size_t len)
{
	ns_tls_conn_t *t = T(st);
	const uint8_t *p = data;
	size_t done = 0;

	if (t->phase == PH_FAILED || t->phase == PH_LINGER || t->shut || st->conn == NULL)
		return SL_ECLOSED;
	if (t->phase == PH_HANDSHAKE) {
		if (len > 0)
			t->want_writable = true;
		return 0;
	}
	if (!ov_flush(st))
		return SL_ECLOSED;
	/* One record at a time, and only while nothing waits in ov: each
	 * wolfSSL_write completes (io_send takes all), and a short TCP send
	 * inside it leaves ov non-empty, which ends the loop and arms
	 * TCP's `writable`. */
	while (done < len && t->ov.len == 0) {
		int chunk = len - done < NS_TLS_RECORD_MAX ? (int)(len - done) : NS_TLS_RECORD_MAX;
		int n = wolfSSL_write(t->ssl, p + done, chunk);

		if (n <= 0) {
			fail_mark(st, SL_EPROTO, wolfSSL_get_error(t->ssl, n), NULL);
			fail_defer(st);
			return done > 0 ? (ssize_t)done : SL_ECLOSED;
		}
		done += (size_t)n;
	}
	if (done < len)
		t->want_writable = true;
	return (ssize_t)done;
}

static size_t tls_send_space(const ns_stream_t *st)
{
	const ns_tls_conn_t *t = T(st);
	size_t space, records;

	if (t->phase != PH_UP || t->shut || st->conn == NULL || t->ov.len > 0)
		return 0;
	space = ns_conn_send_space(st->conn);
	records = space / NS_TLS_RECORD_MAX + 1;
	return space > records * t->overhead ? space - records * t->overhead : 0;
}

/* ---- closing ---- */

static void tls_destroy(ns_stream_t *st)
{
	ns_tls_conn_t *t = T(st);

	if (t == NULL)
		return;
	slot_release(st);
	timers_cancel(st);
	if (t->ssl != NULL)
		wolfSSL_free(t->ssl);
	rx_free(t);
	sl_buf_free(&t->ov);
	t->ctx->stats.streams_tls--;
	ns_tls_ctx_unref(&t->ctx);
	free(t);
	st->tls = NULL;
}

static void send_close_notify(ns_stream_t *st)
{
	ns_tls_conn_t *t = T(st);

	if (t->shut)
		return;
	t->shut = true;
	if (t->phase == PH_UP)
		wolfSSL_shutdown(t->ssl); /* one close_notify; theirs is not awaited */
}

static int tls_shutdown(ns_stream_t *st)
{
	ns_tls_conn_t *t = T(st);

	if (st->conn == NULL || t->phase == PH_FAILED)
		return SL_ECLOSED;
	send_close_notify(st);
	if (t->ov.len > 0) {
		t->fin_pending = true;
		return 0;
	}
	return ns_conn_shutdown(st->conn);
}

static void tls_close(ns_stream_t *st)
{
	ns_tls_conn_t *t = T(st);
	ns_conn_t *c;

	if (t->phase == PH_UP)
		send_close_notify(st);
	slot_release(st);
	timers_cancel(st);
	if (st->conn != NULL && t->ov.len > 0 && t->phase == PH_UP) {
		/* The last records still have to go out: linger. */
		t->phase = PH_LINGER;
		rx_free(t);
		ns_conn_consume(st->conn, ns_conn_readable(st->conn));
		sl_timer_arm(st->stack->wheel, &t->timer, now_us(st) + t->ctx->cfg->p.linger_us);
		return;
	}
	c = st->conn;
	ns_stream_detach_conn(st);
	if (c != NULL)
		ns_conn_close(c);
	ns_stream_release(st);
}

static void tls_abort(ns_stream_t *st)
{
	ns_conn_t *c = st->conn;

	ns_stream_detach_conn(st);
	if (c != NULL)
		ns_conn_abort(c);
	ns_stream_release(st);
}

/* ---- TCP events ---- */

static void tls_on_data(ns_stream_t *st)
{
	ns_tls_conn_t *t = T(st);

	switch (t->phase) {
	case PH_HANDSHAKE:
		hs_step(st, false);
		return;
	case PH_UP:
		up_input(st);
		return;
	case PH_FAILED:
		if (!st->app_gone)
			fail_deliver(st);
		return;
	case PH_LINGER:
	default:
		if (st->conn != NULL)
			ns_conn_consume(st->conn, ns_conn_readable(st->conn));
		return;
	}
}

static void tls_on_writable(ns_stream_t *st)
{
	ns_tls_conn_t *t = T(st);
	ns_conn_t *c;

	if (!ov_flush(st) || t->ov.len > 0)
		return; /* TCP fires again (short send) or `closed` comes */
	if (t->phase == PH_LINGER) {
		c = st->conn;
		ns_stream_detach_conn(st);
		if (c != NULL)
			ns_conn_close(c);
		ns_stream_release(st);
		return;
	}
	if (t->fin_pending) {
		t->fin_pending = false;
		if (st->conn != NULL)
			ns_conn_shutdown(st->conn);
	}
	if (t->want_writable && t->phase == PH_UP) {
		t->want_writable = false;
		ns_stream_ev_writable(st);
	}
}

static void tls_on_closed(ns_stream_t *st, int reason)
{
	ns_tls_conn_t *t = T(st);

	if (t->phase == PH_HANDSHAKE) {
		char peer[48];

		t->ctx->stats.handshakes_failed++;
		ns_tls_fail_log(t->ctx, "%s handshake with %s failed: %s",
				t->server ? "server" : "client", peer_str(st, peer, sizeof(peer)),
				sl_strerror(reason));
	}
	slot_release(st);
	timers_cancel(st);
	if (t->phase == PH_FAILED)
		reason = t->fail_reason;
	ns_stream_ev_closed(st, reason);
}

const ns_stream_impl_t ns_tls_stream_impl = {
	.send = tls_send,
	.send_space = tls_send_space,
	.peek = tls_peek,
	.consume = tls_consume,
	.readable = tls_readable,
	.eof = tls_eof,
	.shutdown = tls_shutdown,
	.close = tls_close,
	.abort = tls_abort,
	.on_data = tls_on_data,
	.on_writable = tls_on_writable,
	.on_closed = tls_on_closed,
	.destroy = tls_destroy,
};
