/* test_tls - the TLS layer of netstack end to end, in virtual time.
 *
 * Two stacks on ut_wire: side 1 is the server (an ns_tls_ctx, an implicit
 * TLS listener on 465 and a plain STARTTLS-capable one on 25, both running
 * the same tiny line engine), side 0 the client. Most clients are wolfSSL
 * driven directly by the test over a raw ns_conn (rawcli below), so the
 * server is checked against an independent client; a few use ns_stream's
 * own client mode. Certificates are generated at test time (ECDSA P-256
 * for a.example, RSA 2048 for b.example, ECDSA for *.c.example); no key is
 * committed.
 *
 * Every test ends by destroying the wire and checking that every mbuf went
 * back to the pool. TLS_BULK_MB sets the bulk transfer size (default 50,
 * 8 under ASan). */
#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <rte_mbuf.h>
#include <rte_mempool.h>

#define WOLFSSL_OPTIONS_IGNORE_SYS
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include "ns.h"
#include "ns_stream.h"
#include "ns_tls.h"
#include "ns_tls_rsa.h"
#include "sl_err.h"
#include "sl_log.h"
#include "sl_time.h"
#include "ut_eal.h"
#include "ut_wire.h"

#define PORT_TLS 465
#define PORT_PLAIN 25
#define MAX_SRV 48
#define HS_TIMEOUT_US (10 * SL_US_PER_S)

#if defined(__SANITIZE_ADDRESS__)
#define UT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UT_ASAN 1
#endif
#endif
#ifdef UT_ASAN
#define BULK_MB_DEFAULT 8
#else
#define BULK_MB_DEFAULT 50
#endif

static struct rte_mempool *tls_pool(void)
{
	static struct rte_mempool *pool;

	if (pool == NULL) {
		ut_eal_init();
		pool = rte_pktmbuf_pool_create("tls_pool", 32767, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
					       SOCKET_ID_ANY);
		assert_non_null(pool);
	}
	return pool;
}

/* ---- certificates, made once per run ---- */

static sl_buf_t cert_a, key_a, cert_b, key_b, cert_c, key_c;

static void gen(const char *host, enum ns_tls_key_kind kind, sl_buf_t *c, sl_buf_t *k)
{
	ns_tls_gen_params_t gp = {.hostname = host, .key = kind, .days = 30};
	const char *err = NULL;

	sl_buf_init(c, 1 << 20);
	sl_buf_init(k, 1 << 20);
	if (ns_tls_cert_generate(&gp, c, k, &err) != 0)
		fail_msg("generate %s: %s", host, err);
}

static void certs_once(void)
{
	if (cert_a.len > 0)
		return;
	gen("a.example", NS_TLS_KEY_EC_P256, &cert_a, &key_a);
	gen("b.example", NS_TLS_KEY_RSA_2048, &cert_b, &key_b);
	gen("*.c.example", NS_TLS_KEY_EC_P256, &cert_c, &key_c);
}

/* ---- a seeded byte stream ---- */

static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void stream_fill(uint64_t seed, uint64_t off, uint8_t *buf, size_t len)
{
	while (len > 0) {
		uint64_t word = mix64(seed + (off / 8) * 0x9e3779b97f4a7c15ULL);
		unsigned k = (unsigned)(off % 8);

		for (; k < 8 && len > 0; k++, len--, off++)
			*buf++ = (uint8_t)(word >> (8 * k));
	}
}

/* ---- a stream endpoint: the tiny line engine, or bulk ---- */

typedef struct fx fx_t;

typedef struct ep {
	fx_t *fx;
	ns_stream_t *st;
	bool server;
	int accepted, connected, secured, data, writable, closed, reason;
	bool eof, bad;
	/* line engine */
	bool engine;
	int starttls_rc;
	bool starttls_done;
	bool quit;
	/* raw capture (not engine, not bulk) */
	bool no_read;
	uint8_t rx[4096];
	size_t rx_len;
	/* bulk */
	bool bulk;
	uint64_t tx_seed, rx_seed, total, tx_done, rx_done;
	bool shut;
	/* implicit TLS client: start TLS on connect with this SNI */
	bool tls_client;
	const char *sni;
	ns_tls_info_t info;
	bool have_info;
} ep_t;

struct fx {
	ut_wire_t *w;
	ns_stack_t *cs, *ss;
	ns_tls_config_t *cfg;
	ns_tls_ctx_t *stls, *ctls;
	ns_listener_t *l_tls, *l_plain;
	ep_t srv[MAX_SRV];
	unsigned nsrv;
	ep_t cli;
	unsigned avail0;
	ns_stream_ops_t srv_ops;
	bool srv_engine, srv_bulk, srv_no_read;
	uint64_t bulk_total;
};

static void ep_send(ep_t *e, const char *s)
{
	size_t n = strlen(s);
	ssize_t k = ns_stream_send(e->st, s, n);

	assert_int_equal(k, (ssize_t)n);
}

static void bulk_pump(ep_t *e)
{
	static uint8_t buf[65536];

	while (e->tx_done < e->total && e->st != NULL) {
		size_t n = e->total - e->tx_done < sizeof(buf) ? (size_t)(e->total - e->tx_done)
							       : sizeof(buf);
		ssize_t k;

		stream_fill(e->tx_seed, e->tx_done, buf, n);
		k = ns_stream_send(e->st, buf, n);
		if (k < 0) {
			e->bad = true;
			return;
		}
		e->tx_done += (uint64_t)k;
		if ((size_t)k < n)
			return;
	}
	if (e->tx_done == e->total && !e->shut && e->st != NULL) {
		e->shut = true;
		assert_int_equal(ns_stream_shutdown(e->st), 0);
	}
}

static void bulk_read(ep_t *e)
{
	static uint8_t want[16384];
	sl_slice_t iov[8];
	unsigned n;

	while ((n = ns_stream_peek(e->st, iov, 8)) > 0) {
		size_t used = 0;

		for (unsigned i = 0; i < n; i++) {
			for (size_t off = 0; off < iov[i].len;) {
				size_t k = iov[i].len - off < sizeof(want) ? iov[i].len - off : sizeof(want);

				stream_fill(e->rx_seed, e->rx_done, want, k);
				if (memcmp(want, iov[i].ptr + off, k) != 0)
					e->bad = true;
				e->rx_done += k;
				off += k;
			}
			used += iov[i].len;
		}
		ns_stream_consume(e->st, used);
	}
	if (ns_stream_eof(e->st))
		e->eof = true;
}

/* The line engine: copies the first line out of the stream (any slices). */
static bool engine_line(ep_t *e, char *line, size_t size, size_t *len_r)
{
	sl_slice_t iov[16];
	unsigned n = ns_stream_peek(e->st, iov, 16);
	size_t off = 0;

	for (unsigned i = 0; i < n; i++)
		for (size_t j = 0; j < iov[i].len; j++) {
			if (off + 1 >= size)
				return false;
			line[off++] = (char)iov[i].ptr[j];
			if (off >= 2 && line[off - 2] == '\r' && line[off - 1] == '\n') {
				line[off - 2] = '\0';
				*len_r = off;
				return true;
			}
		}
	return false;
}

static void engine_run(ep_t *e)
{
	char line[1024];
	size_t len;

	while (e->st != NULL && !e->quit && engine_line(e, line, sizeof(line), &len)) {
		ns_stream_consume(e->st, len);
		if (strcmp(line, "STARTTLS") == 0) {
			ep_send(e, "220 go ahead\r\n");
			e->starttls_rc = ns_stream_starttls(e->st, e->fx->stls);
			e->starttls_done = true;
			return; /* whatever follows is TLS (or was discarded) */
		} else if (strcmp(line, "NOOP") == 0) {
			ep_send(e, "250 ok\r\n");
		} else if (strncmp(line, "EHLO", 4) == 0) {
			ep_send(e, ns_stream_is_secured(e->st) ? "250 hello secure\r\n"
								: "250 hello\r\n");
		} else if (strcmp(line, "QUIT") == 0) {
			ep_send(e, "221 bye\r\n");
			e->quit = true;
			ns_stream_close(e->st);
			e->st = NULL;
			return;
		} else {
			ep_send(e, "500 what\r\n");
		}
	}
}

static void ep_data(ns_stream_t *st, void *ctx)
{
	ep_t *e = ctx;

	e->data++;
	if (e->engine) {
		engine_run(e);
		return;
	}
	if (e->bulk) {
		bulk_read(e);
		return;
	}
	if (e->no_read)
		return;
	e->rx_len += ns_stream_recv(st, e->rx + e->rx_len, sizeof(e->rx) - e->rx_len);
	if (ns_stream_eof(st))
		e->eof = true;
}

static void ep_writable(ns_stream_t *st, void *ctx)
{
	ep_t *e = ctx;

	(void)st;
	e->writable++;
	if (e->bulk)
		bulk_pump(e);
}

static void ep_closed(ns_stream_t *st, void *ctx, int reason)
{
	ep_t *e = ctx;

	(void)st;
	e->closed++;
	e->reason = reason;
	e->st = NULL;
}

static void ep_secured(ns_stream_t *st, void *ctx)
{
	ep_t *e = ctx;

	e->secured++;
	assert_int_equal(ns_stream_tls_info(st, &e->info), 0);
	e->have_info = true;
	if (e->bulk)
		bulk_pump(e);
}

static int srv_accepted(ns_stream_t *st, void *listen_ctx)
{
	fx_t *fx = listen_ctx;
	ep_t *e;

	if (fx->nsrv == MAX_SRV)
		return SL_ELIMIT;
	e = &fx->srv[fx->nsrv++];
	memset(e, 0, sizeof(*e));
	e->fx = fx;
	e->st = st;
	e->server = true;
	e->accepted = 1;
	e->engine = fx->srv_engine;
	e->no_read = fx->srv_no_read;
	if (fx->srv_bulk) {
		e->bulk = true;
		e->total = fx->bulk_total;
		e->tx_seed = 2;
		e->rx_seed = 1;
	}
	ns_stream_set_ctx(st, e);
	if (e->bulk && !ns_stream_is_tls(st))
		bulk_pump(e);
	if (e->bulk && ns_stream_is_tls(st)) {
		/* Sends are refused until the handshake is done: 0, and
		 * `writable` comes after `secured`. */
		assert_int_equal(ns_stream_send(st, "x", 1), 0);
	}
	return 0;
}

static void cli_connected(ns_stream_t *st, void *ctx)
{
	ep_t *e = ctx;

	e->connected++;
	if (e->tls_client)
		assert_int_equal(ns_stream_starttls_client(st, e->fx->ctls, e->sni), 0);
	else if (e->bulk)
		bulk_pump(e);
}

static const ns_stream_ops_t ep_ops = {
	.accepted = srv_accepted,
	.connected = cli_connected,
	.data = ep_data,
	.writable = ep_writable,
	.closed = ep_closed,
	.secured = ep_secured,
};

/* ---- the fixture ---- */

typedef void cfg_tweak_fn(ns_tls_config_params_t *p);

/* ut_wire_step jumps straight to the next event, which may be a 10 s
 * handshake timer: keepalives every 20 ms on idle connections are the
 * test's clock tick, so quiesce() and advance() stop close to their end. */
static void stack_tweak_tick(ns_stack_params_t *p, int side, void *arg)
{
	(void)side;
	(void)arg;
	p->keepalive_idle_us = 20 * SL_US_PER_MS;
	p->keepalive_intvl_us = 20 * SL_US_PER_MS;
	p->keepalive_probes = 1000000;
}

static void fx_init(fx_t *fx, cfg_tweak_fn *tweak)
{
	ns_tls_cert_src_t src[3];
	ns_tls_config_params_t p;
	ut_wire_params_t wp;
	const char *err = NULL;

	certs_once();
	memset(fx, 0, sizeof(*fx));
	memset(src, 0, sizeof(src));
	src[0].cert_pem = cert_a.data;
	src[0].cert_pem_len = cert_a.len;
	src[0].key_pem = key_a.data;
	src[0].key_pem_len = key_a.len;
	src[1].cert_pem = cert_b.data;
	src[1].cert_pem_len = cert_b.len;
	src[1].key_pem = key_b.data;
	src[1].key_pem_len = key_b.len;
	src[2].cert_pem = cert_c.data;
	src[2].cert_pem_len = cert_c.len;
	src[2].key_pem = key_c.data;
	src[2].key_pem_len = key_c.len;
	ns_tls_config_params_default(&p);
	p.certs = src;
	p.n_certs = 3;
	p.handshake_timeout_us = HS_TIMEOUT_US;
	p.fail_log_per_s = 0;
	if (tweak != NULL)
		tweak(&p);
	if (ns_tls_config_create(&p, &fx->cfg, &err) != 0)
		fail_msg("config: %s", err);
	fx->avail0 = rte_mempool_avail_count(tls_pool());
	ut_wire_params_default(&wp);
	wp.pool = tls_pool();
	wp.seed = 7;
	wp.tweak = stack_tweak_tick;
	fx->w = ut_wire_create(&wp);
	fx->cs = ut_wire_stack(fx->w, 0);
	fx->ss = ut_wire_stack(fx->w, 1);
	if (ns_tls_ctx_create(fx->ss, fx->cfg, &fx->stls, &err) != 0)
		fail_msg("ctx: %s", err);
	if (ns_tls_ctx_create(fx->cs, fx->cfg, &fx->ctls, &err) != 0)
		fail_msg("client ctx: %s", err);
	fx->srv_engine = true;
	assert_int_equal(ns_stream_listen(fx->ss, PORT_TLS, &ep_ops, fx, fx->stls, &fx->l_tls), 0);
	assert_int_equal(ns_stream_listen(fx->ss, PORT_PLAIN, &ep_ops, fx, NULL, &fx->l_plain), 0);
}

static void fx_fini(fx_t *fx)
{
	for (unsigned i = 0; i < fx->nsrv; i++)
		if (fx->srv[i].st != NULL)
			ns_stream_abort(fx->srv[i].st);
	if (fx->cli.st != NULL)
		ns_stream_abort(fx->cli.st);
	ns_stream_unlisten(&fx->l_tls);
	ns_stream_unlisten(&fx->l_plain);
	ns_tls_ctx_destroy(&fx->stls);
	ns_tls_ctx_destroy(&fx->ctls);
	ns_tls_config_unref(&fx->cfg);
	ut_wire_destroy(&fx->w);
	assert_int_equal(rte_mempool_avail_count(tls_pool()), fx->avail0);
}

static void quiesce(fx_t *fx, uint64_t us);

/* Forget the server endpoints (after the clients went): let the wire
 * settle, abort what is still open, reuse the slots. */
static void srv_reset(fx_t *fx)
{
	quiesce(fx, 50 * SL_US_PER_MS);
	for (unsigned i = 0; i < fx->nsrv; i++)
		if (fx->srv[i].st != NULL) {
			ns_stream_abort(fx->srv[i].st);
			fx->srv[i].st = NULL;
		}
	fx->nsrv = 0;
}

static ns_tls_stats_t srv_stats(fx_t *fx)
{
	ns_tls_stats_t s;

	ns_tls_ctx_get_stats(fx->stls, &s);
	return s;
}

/* ---- rawcli: wolfSSL as the client, driven by the test over ns_conn ---- */

typedef struct rawcli {
	fx_t *fx;
	ns_conn_t *c;
	WOLFSSL_CTX *wctx;
	WOLFSSL *ssl;
	bool established, tls, hs_done, hs_failed, frozen, closed, eof, close_notify;
	bool stall;          /* freeze after the ClientHello */
	int hs_err, reason;
	uint8_t plain[4096]; /* bytes before TLS, or all bytes when never TLS */
	size_t plain_len;
	uint8_t rx[65536];   /* decrypted */
	size_t rx_len;
	sl_buf_t ov;
} rawcli_t;

static int rc_io_recv(WOLFSSL *ssl, char *buf, int sz, void *arg)
{
	rawcli_t *r = arg;
	size_t n;

	(void)ssl;
	if (r->c == NULL)
		return WOLFSSL_CBIO_ERR_CONN_CLOSE;
	n = ns_conn_recv(r->c, buf, (size_t)sz);
	if (n > 0)
		return (int)n;
	return ns_conn_eof(r->c) ? WOLFSSL_CBIO_ERR_CONN_CLOSE : WOLFSSL_CBIO_ERR_WANT_READ;
}

static int rc_io_send(WOLFSSL *ssl, char *buf, int sz, void *arg)
{
	rawcli_t *r = arg;
	ssize_t n = 0;

	(void)ssl;
	if (r->c == NULL)
		return WOLFSSL_CBIO_ERR_CONN_CLOSE;
	if (r->ov.len == 0) {
		n = ns_conn_send(r->c, buf, (size_t)sz);
		if (n < 0)
			return WOLFSSL_CBIO_ERR_CONN_CLOSE;
	}
	if (n < sz)
		assert_int_equal(sl_buf_append(&r->ov, buf + n, (size_t)(sz - n)), 0);
	return sz;
}

static void rc_step(rawcli_t *r)
{
	int ret, err;

	if (r->frozen || r->c == NULL)
		return;
	if (!r->hs_done && !r->hs_failed) {
		ret = wolfSSL_connect(r->ssl);
		if (ret != WOLFSSL_SUCCESS) {
			err = wolfSSL_get_error(r->ssl, ret);
			if (err != WOLFSSL_ERROR_WANT_READ && err != WOLFSSL_ERROR_WANT_WRITE) {
				r->hs_failed = true;
				r->hs_err = err;
			}
			return;
		}
		r->hs_done = true;
	}
	for (;;) {
		int n = wolfSSL_read(r->ssl, r->rx + r->rx_len, (int)(sizeof(r->rx) - r->rx_len));

		if (n > 0) {
			r->rx_len += (size_t)n;
			if (r->rx_len == sizeof(r->rx))
				r->rx_len = 0; /* tests that care read it in time */
			continue;
		}
		err = wolfSSL_get_error(r->ssl, n);
		if (err == WOLFSSL_ERROR_ZERO_RETURN)
			r->close_notify = true;
		break;
	}
}

static void rc_data(ns_conn_t *c, void *ctx)
{
	rawcli_t *r = ctx;

	if (!r->tls) {
		r->plain_len += ns_conn_recv(c, r->plain + r->plain_len, sizeof(r->plain) - r->plain_len);
		if (ns_conn_eof(c))
			r->eof = true;
		return;
	}
	rc_step(r);
	if (ns_conn_eof(c))
		r->eof = true;
}

static void rc_writable(ns_conn_t *c, void *ctx)
{
	rawcli_t *r = ctx;
	ssize_t n;

	if (r->ov.len == 0)
		return;
	n = ns_conn_send(c, r->ov.data, r->ov.len);
	if (n > 0)
		sl_buf_consume(&r->ov, (size_t)n);
}

static void rc_closed(ns_conn_t *c, void *ctx, int reason)
{
	rawcli_t *r = ctx;

	(void)c;
	r->closed = true;
	r->reason = reason;
	r->c = NULL;
}

static void rc_connected(ns_conn_t *c, void *ctx)
{
	rawcli_t *r = ctx;

	(void)c;
	r->established = true;
	if (r->tls)
		rc_step(r);
	if (r->stall)
		r->frozen = true;
}

static int rc_accepted(ns_conn_t *c, void *lctx)
{
	(void)c;
	(void)lctx;
	return SL_EINVAL;
}

static const ns_conn_ops_t rc_ops = {
	.accepted = rc_accepted,
	.connected = rc_connected,
	.data = rc_data,
	.writable = rc_writable,
	.closed = rc_closed,
};

typedef struct rc_opts {
	int version;          /* 12, 13, 11; 0 = any (1.2+) */
	const char *sni;
	const char *ciphers;
	int keyshare;         /* WOLFSSL_ECC_X25519, ...; 0 = wolfSSL's choice */
	WOLFSSL_SESSION *session;
	bool plain;           /* connect only; rc_start_tls later */
	bool stall;           /* send the ClientHello, then nothing */
} rc_opts_t;

static void rc_make_ssl(rawcli_t *r, const rc_opts_t *o)
{
	WOLFSSL_METHOD *m;

	switch (o->version) {
	case 13: m = wolfTLSv1_3_client_method(); break;
	case 12: m = wolfTLSv1_2_client_method(); break;
	case 11: m = wolfTLSv1_1_client_method(); break;
	default: m = wolfSSLv23_client_method(); break;
	}
	r->wctx = wolfSSL_CTX_new(m);
	assert_non_null(r->wctx);
	wolfSSL_CTX_set_verify(r->wctx, WOLFSSL_VERIFY_NONE, NULL);
	if (o->ciphers != NULL)
		assert_int_equal(wolfSSL_CTX_set_cipher_list(r->wctx, o->ciphers), WOLFSSL_SUCCESS);
	r->ssl = wolfSSL_new(r->wctx);
	assert_non_null(r->ssl);
	wolfSSL_SSLSetIORecv(r->ssl, rc_io_recv);
	wolfSSL_SSLSetIOSend(r->ssl, rc_io_send);
	wolfSSL_SetIOReadCtx(r->ssl, r);
	wolfSSL_SetIOWriteCtx(r->ssl, r);
	if (o->sni != NULL)
		assert_int_equal(wolfSSL_UseSNI(r->ssl, WOLFSSL_SNI_HOST_NAME, o->sni,
					       (unsigned short)strlen(o->sni)),
				 WOLFSSL_SUCCESS);
	if (o->keyshare != 0)
		assert_int_equal(wolfSSL_UseKeyShare(r->ssl, (word16)o->keyshare), WOLFSSL_SUCCESS);
	if (o->version != 13)
		wolfSSL_UseSessionTicket(r->ssl);
	if (o->session != NULL)
		assert_int_equal(wolfSSL_set_session(r->ssl, o->session), WOLFSSL_SUCCESS);
}

static rawcli_t *rc_open(fx_t *fx, uint16_t port, const rc_opts_t *o)
{
	rawcli_t *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	r->fx = fx;
	sl_buf_init(&r->ov, 1 << 24);
	if (o != NULL && !o->plain) {
		rc_make_ssl(r, o);
		r->tls = true;
		r->stall = o->stall;
	}
	assert_int_equal(ns_tcp_connect(fx->cs, ut_wire_ip(1), port, &rc_ops, r, &r->c), 0);
	ut_wire_flush(fx->w);
	return r;
}

/* Switch an established plain rawcli to TLS (after a go-ahead). */
static void rc_start_tls(rawcli_t *r, const rc_opts_t *o)
{
	rc_make_ssl(r, o);
	r->tls = true;
	rc_step(r);
	ut_wire_flush(r->fx->w);
}

static void rc_write(rawcli_t *r, const void *data, size_t len)
{
	int n = wolfSSL_write(r->ssl, data, (int)len);

	assert_int_equal(n, (int)len);
	ut_wire_flush(r->fx->w);
}

static void rc_send_raw(rawcli_t *r, const void *data, size_t len)
{
	assert_int_equal(ns_conn_send(r->c, data, len), (ssize_t)len);
	ut_wire_flush(r->fx->w);
}

static void rc_free(rawcli_t **rp)
{
	rawcli_t *r = *rp;

	if (r->c != NULL)
		ns_conn_abort(r->c);
	if (r->ssl != NULL)
		wolfSSL_free(r->ssl);
	if (r->wctx != NULL)
		wolfSSL_CTX_free(r->wctx);
	sl_buf_free(&r->ov);
	free(r);
	*rp = NULL;
}

/* ---- running the wire ---- */

typedef bool cond_fn(void *arg);

static void run_until(fx_t *fx, cond_fn *cond, void *arg, uint64_t max_us)
{
	if (!ut_wire_run(fx->w, cond, arg, max_us))
		fail_msg("condition not reached in %llu us of virtual time",
			 (unsigned long long)max_us);
}

static bool rc_hs_over(void *arg)
{
	rawcli_t *r = arg;

	return r->hs_done || r->hs_failed || r->closed;
}

static bool rc_closed_cond(void *arg)
{
	return ((rawcli_t *)arg)->closed || ((rawcli_t *)arg)->eof;
}

struct rx_want {
	rawcli_t *r;
	const char *s;
	bool plain;
};

static bool rc_has(void *arg)
{
	struct rx_want *w = arg;
	size_t n = strlen(w->s);
	const uint8_t *buf = w->plain ? w->r->plain : w->r->rx;
	size_t len = w->plain ? w->r->plain_len : w->r->rx_len;

	return len >= n && memmem(buf, len, w->s, n) != NULL;
}

static void expect_rx(fx_t *fx, rawcli_t *r, const char *s, bool plain)
{
	struct rx_want w = {r, s, plain};

	run_until(fx, rc_has, &w, 5 * SL_US_PER_S);
}

static void quiesce(fx_t *fx, uint64_t us)
{
	uint64_t end = ut_wire_now(fx->w) + us;

	ut_wire_flush(fx->w); /* what app calls outside callbacks sent */
	while (ut_wire_now(fx->w) < end && ut_wire_step(fx->w))
		;
}

static bool never(void *arg)
{
	(void)arg;
	return false;
}

/* Let virtual time pass (the keepalive fixture keeps timers pending). */
static void advance(fx_t *fx, uint64_t us)
{
	uint64_t end = ut_wire_now(fx->w) + us;

	ut_wire_run(fx->w, never, NULL, us);
	assert_true(ut_wire_now(fx->w) >= end);
}

static rawcli_t *rc_handshake(fx_t *fx, const rc_opts_t *o)
{
	rawcli_t *r = rc_open(fx, PORT_TLS, o);

	run_until(fx, rc_hs_over, r, 5 * SL_US_PER_S);
	return r;
}

static const char *peer_cn(rawcli_t *r, char *buf, size_t size)
{
	WOLFSSL_X509 *x = wolfSSL_get_peer_certificate(r->ssl);

	assert_non_null(x);
	wolfSSL_X509_NAME_oneline(wolfSSL_X509_get_subject_name(x), buf, (int)size);
	wolfSSL_X509_free(x);
	return buf;
}

static bool is_aead(const char *cipher)
{
	return strstr(cipher, "GCM") != NULL || strstr(cipher, "CHACHA20-POLY1305") != NULL ||
	       strstr(cipher, "CCM") != NULL;
}

/* ---- tests: handshakes ---- */

static void check_exchange(fx_t *fx, rawcli_t *r)
{
	rc_write(r, "EHLO x\r\n", 8);
	expect_rx(fx, r, "250 hello secure\r\n", false);
	assert_int_equal(fx->nsrv, 1);
	assert_int_equal(fx->srv[0].secured, 1);
}

static void test_tls13_handshake_aead(void **state)
{
	rc_opts_t o = {.version = 13};
	fx_t fx;
	rawcli_t *r;
	ns_tls_stats_t s;

	(void)state;
	fx_init(&fx, NULL);
	r = rc_handshake(&fx, &o);
	assert_true(r->hs_done);
	check_exchange(&fx, r);
	assert_string_equal(wolfSSL_get_version(r->ssl), "TLSv1.3");
	assert_true(is_aead(wolfSSL_get_cipher_name(r->ssl)));
	assert_string_equal(fx.srv[0].info.version, "TLSv1.3");
	assert_true(is_aead(fx.srv[0].info.cipher));
	/* Server order: ChaCha20 first (no AES-NI in this wolfSSL). */
	assert_string_equal(fx.srv[0].info.cipher, "TLS13-CHACHA20-POLY1305-SHA256");
	assert_false(fx.srv[0].info.resumed);
	s = srv_stats(&fx);
	assert_int_equal(s.handshakes_ok, 1);
	assert_int_equal(s.tls13, 1);
	assert_int_equal(s.handshakes_current, 0);
	rc_free(&r);
	fx_fini(&fx);
}

static void test_tls12_handshake_aead(void **state)
{
	rc_opts_t o = {.version = 12};
	fx_t fx;
	rawcli_t *r;

	(void)state;
	fx_init(&fx, NULL);
	r = rc_handshake(&fx, &o);
	assert_true(r->hs_done);
	check_exchange(&fx, r);
	assert_string_equal(fx.srv[0].info.version, "TLSv1.2");
	assert_true(is_aead(fx.srv[0].info.cipher));
	assert_non_null(strstr(fx.srv[0].info.cipher, "ECDHE-"));
	assert_int_equal(srv_stats(&fx).tls12, 1);
	rc_free(&r);
	fx_fini(&fx);
}

/* Each AEAD suite the client may insist on is served; groups too. */
static void test_suites_and_groups(void **state)
{
	static const struct {
		int version;
		const char *cipher;
		int group;
		const char *group_name;
	} rows[] = {
		{13, "TLS13-AES128-GCM-SHA256", WOLFSSL_ECC_X25519, "X25519"},
		{13, "TLS13-AES256-GCM-SHA384", WOLFSSL_ECC_SECP256R1, "SECP256R1"},
		{13, "TLS13-CHACHA20-POLY1305-SHA256", WOLFSSL_ECC_SECP384R1, "SECP384R1"},
		/* A key share for a group we do not take: HelloRetryRequest. */
		{13, "TLS13-AES128-GCM-SHA256", WOLFSSL_ECC_SECP521R1, "X25519"},
		{12, "ECDHE-ECDSA-AES128-GCM-SHA256", 0, NULL},
		{12, "ECDHE-ECDSA-AES256-GCM-SHA384", 0, NULL},
		{12, "ECDHE-ECDSA-CHACHA20-POLY1305", 0, NULL},
	};

	(void)state;
	for (unsigned i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		rc_opts_t o = {.version = rows[i].version, .ciphers = rows[i].cipher,
			       .keyshare = rows[i].group};
		fx_t fx;
		rawcli_t *r;

		fx_init(&fx, NULL);
		r = rc_handshake(&fx, &o);
		if (!r->hs_done)
			fail_msg("row %u (%s): handshake failed: %s", i, rows[i].cipher,
				 ns_tls_ctx_last_failure(fx.stls));
		check_exchange(&fx, r);
		assert_string_equal(fx.srv[0].info.cipher, rows[i].cipher);
		if (rows[i].group_name != NULL)
			assert_string_equal(fx.srv[0].info.group, rows[i].group_name);
		rc_free(&r);
		fx_fini(&fx);
	}
}

/* What the server must refuse: non-AEAD suites, TLS 1.1, FFDHE-only. */
static void test_refused_offers(void **state)
{
	static const struct {
		int version;
		const char *ciphers;
	} rows[] = {
		{12, "ECDHE-ECDSA-AES128-SHA256:ECDHE-RSA-AES128-SHA256:AES128-SHA"},
		{12, "DHE-RSA-AES128-GCM-SHA256"}, /* finite-field DH */
		{12, "ADH-AES128-SHA"},            /* anonymous */
		{12, "ECDHE-ECDSA-RC4-SHA"},
		{12, "ECDHE-ECDSA-NULL-SHA"},
		{12, "ECDHE-ECDSA-AES128-CCM-8"},  /* AEAD with a truncated tag */
		{13, "TLS13-SHA256-SHA256"},       /* integrity only, no encryption */
		{13, "TLS13-AES128-CCM-8-SHA256"},
		{11, NULL},
	};

	(void)state;
	for (unsigned i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		rc_opts_t o = {.version = rows[i].version, .ciphers = rows[i].ciphers};
		fx_t fx;
		rawcli_t *r;
		ns_tls_stats_t s;

		fx_init(&fx, NULL);
		r = rc_handshake(&fx, &o);
		assert_false(r->hs_done);
		quiesce(&fx, SL_US_PER_S);
		s = srv_stats(&fx);
		assert_int_equal(s.handshakes_failed, 1);
		assert_int_equal(s.handshakes_ok, 0);
		assert_int_equal(s.handshakes_current, 0);
		assert_int_equal(fx.srv[0].closed, 1);
		assert_int_equal(fx.srv[0].reason, SL_EPROTO);
		assert_non_null(strstr(ns_tls_ctx_last_failure(fx.stls), "handshake with"));
		rc_free(&r);
		fx_fini(&fx);
	}
}

static void test_sni_selects_certificate(void **state)
{
	static const struct {
		const char *sni;
		const char *cn;
		unsigned idx;
	} rows[] = {
		{NULL, "/CN=a.example", 0},
		{"a.example", "/CN=a.example", 0},
		{"b.example", "/CN=b.example", 1},
		{"B.Example", "/CN=b.example", 1},
		{"mx.c.example", "/CN=*.c.example", 2},
		{"deep.mx.c.example", "/CN=a.example", 0}, /* '*' is one label */
		{"unknown.example", "/CN=a.example", 0},
	};

	(void)state;
	for (unsigned v = 12; v <= 13; v++)
		for (unsigned i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
			rc_opts_t o = {.version = (int)v, .sni = rows[i].sni};
			char cn[256];
			fx_t fx;
			rawcli_t *r;

			fx_init(&fx, NULL);
			r = rc_handshake(&fx, &o);
			assert_true(r->hs_done);
			check_exchange(&fx, r);
			assert_string_equal(peer_cn(r, cn, sizeof(cn)), rows[i].cn);
			assert_int_equal(fx.srv[0].info.cert_index, rows[i].idx);
			if (rows[i].sni != NULL)
				assert_int_equal(srv_stats(&fx).sni_matched + srv_stats(&fx).sni_unknown, 1);
			if (rows[i].sni != NULL)
				assert_string_equal(fx.srv[0].info.sni, rows[i].sni);
			if (rows[i].idx == 1 && v == 12)
				assert_non_null(strstr(fx.srv[0].info.cipher, "ECDHE-RSA-"));
			/* The RSA-2048 certificate signs with the IFMA engine
			 * where the CPU has it (the client checked the
			 * signature); the ECDSA ones never reach it. */
			assert_int_equal(srv_stats(&fx).rsa_ifma_signs,
					 rows[i].idx == 1 && ns_tls_rsa_ifma_cpu() ? 1 : 0);
			assert_int_equal(srv_stats(&fx).rsa_ifma_fallbacks, 0);
			rc_free(&r);
			fx_fini(&fx);
		}
}

static WOLFSSL_SESSION *session_of(fx_t *fx, rawcli_t *r)
{
	WOLFSSL_SESSION *s;

	/* TLS 1.3 tickets come after the handshake: let them arrive. */
	quiesce(fx, 100 * SL_US_PER_MS);
	s = wolfSSL_get1_session(r->ssl);
	assert_non_null(s);
	return s;
}

static void test_resumption(void **state)
{
	/* The second and third rows resume a suite that is not the server's
	 * first choice: wolfSSL then offers the ticket to our callback once per
	 * suite it tries, the same buffer each time. */
	static const struct {
		int version;
		const char *ciphers;
	} rows[] = {
		{12, NULL},
		{13, NULL},
		{13, "TLS13-AES256-GCM-SHA384"},
		{12, "ECDHE-RSA-AES256-GCM-SHA384"},
		{-13, "TLS13-AES256-GCM-SHA384"}, /* resumed with every suite offered */
		{-12, "ECDHE-RSA-AES256-GCM-SHA384"},
	};

	(void)state;
	for (unsigned i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int v = rows[i].version < 0 ? -rows[i].version : rows[i].version;
		rc_opts_t o = {.version = v, .sni = "b.example", .ciphers = rows[i].ciphers};
		WOLFSSL_SESSION *sess;
		fx_t fx;
		rawcli_t *r;
		ns_tls_stats_t s;

		fx_init(&fx, NULL);
		r = rc_handshake(&fx, &o);
		assert_true(r->hs_done);
		check_exchange(&fx, r);
		assert_false(wolfSSL_session_reused(r->ssl));
		sess = session_of(&fx, r);
		rc_free(&r);
		srv_reset(&fx);
		o.session = sess;
		if (rows[i].version < 0)
			o.ciphers = NULL;
		r = rc_handshake(&fx, &o);
		assert_true(r->hs_done);
		check_exchange(&fx, r);
		if (!wolfSSL_session_reused(r->ssl))
			fail_msg("row %u: not resumed (%s; tickets rejected %llu)", i,
				 fx.srv[0].info.cipher,
				 (unsigned long long)srv_stats(&fx).tickets_rejected);
		assert_true(fx.srv[0].info.resumed);
		s = srv_stats(&fx);
		assert_int_equal(s.handshakes_ok, 2);
		assert_int_equal(s.handshakes_resumed, 1);
		assert_int_equal(s.tickets_opened, 1);
		assert_true(s.tickets_issued >= 1);
		wolfSSL_SESSION_free(sess);
		rc_free(&r);
		fx_fini(&fx);
	}
}

static void tweak_rotate(ns_tls_config_params_t *p)
{
	p->ticket_rotate_s = 10;
	p->session_lifetime_s = 20; /* keys decrypt for two more epochs */
}

static uint64_t epoch_now(fx_t *fx)
{
	return ut_wire_now(fx->w) / (10 * SL_US_PER_S);
}

/* A ticket from the previous epoch resumes and is renewed; one whose key
 * has retired does not resume (a full handshake instead); a ticket from
 * another secret (a box with another config) is refused. */
static void test_ticket_key_rotation(void **state)
{
	rc_opts_t o = {.version = 13};
	WOLFSSL_SESSION *sess, *sess2;
	rawcli_t *r, *idle;
	uint64_t e0;
	fx_t fx;
	ns_tls_stats_t s;

	(void)state;
	fx_init(&fx, tweak_rotate);
	/* An idle connection whose keepalives keep virtual time going. */
	idle = rc_open(&fx, PORT_PLAIN, &(rc_opts_t){.plain = true});
	r = rc_handshake(&fx, &o);
	assert_true(r->hs_done);
	sess = session_of(&fx, r);
	rc_free(&r);
	e0 = epoch_now(&fx);

	while (epoch_now(&fx) < e0 + 1)
		advance(&fx, SL_US_PER_S);
	o.session = sess;
	r = rc_handshake(&fx, &o);
	assert_true(r->hs_done);
	assert_true(wolfSSL_session_reused(r->ssl));
	s = srv_stats(&fx);
	assert_int_equal(s.tickets_renewed, 1);
	sess2 = session_of(&fx, r);
	rc_free(&r);

	while (epoch_now(&fx) < e0 + 3)
		advance(&fx, SL_US_PER_S);
	r = rc_handshake(&fx, &o); /* sess: its epoch's key has retired */
	assert_true(r->hs_done);
	assert_false(wolfSSL_session_reused(r->ssl));
	assert_int_equal(srv_stats(&fx).tickets_rejected, 1);
	/* a rejected ticket is not counted as opened */
	assert_int_equal(srv_stats(&fx).tickets_opened, s.tickets_opened);
	rc_free(&r);

	o.session = sess2; /* renewed at e0 + 1: still good at e0 + 3 */
	r = rc_handshake(&fx, &o);
	assert_true(r->hs_done);
	assert_true(wolfSSL_session_reused(r->ssl));
	rc_free(&r);

	wolfSSL_SESSION_free(sess);
	wolfSSL_SESSION_free(sess2);
	rc_free(&idle);
	fx_fini(&fx);
}

static void test_ticket_from_other_secret(void **state)
{
	rc_opts_t o = {.version = 13};
	WOLFSSL_SESSION *sess;
	fx_t fx, fx2;
	rawcli_t *r;

	(void)state;
	fx_init(&fx, NULL);
	r = rc_handshake(&fx, &o);
	sess = session_of(&fx, r);
	rc_free(&r);
	fx_fini(&fx);
	fx_init(&fx2, NULL); /* a new config: a new random secret */
	o.session = sess;
	r = rc_handshake(&fx2, &o);
	assert_true(r->hs_done);
	assert_false(wolfSSL_session_reused(r->ssl));
	assert_int_equal(srv_stats(&fx2).tickets_rejected, 1);
	wolfSSL_SESSION_free(sess);
	rc_free(&r);
	fx_fini(&fx2);
}

/* ---- STARTTLS ---- */

/* CVE-2011-0411: "STARTTLS\r\nNOOP\r\n" in one segment. The NOOP must not
 * be answered, neither in plaintext nor inside TLS. */
static void test_starttls_injection(void **state)
{
	rc_opts_t o = {.version = 13, .plain = true};
	fx_t fx;
	rawcli_t *r;
	ns_tls_stats_t s;

	(void)state;
	fx_init(&fx, NULL);
	r = rc_open(&fx, PORT_PLAIN, &o);
	quiesce(&fx, 10 * SL_US_PER_MS);
	rc_send_raw(r, "EHLO x\r\n", 8);
	expect_rx(&fx, r, "250 hello\r\n", true);
	rc_send_raw(r, "STARTTLS\r\nNOOP\r\n", 16);
	expect_rx(&fx, r, "220 go ahead\r\n", true);
	assert_int_equal(fx.srv[0].starttls_rc, 6); /* "NOOP\r\n" thrown away */
	assert_int_equal(r->plain_len, strlen("250 hello\r\n220 go ahead\r\n"));
	o.plain = false;
	rc_start_tls(r, &o);
	run_until(&fx, rc_hs_over, r, 5 * SL_US_PER_S);
	assert_true(r->hs_done);
	rc_write(r, "EHLO y\r\n", 8);
	expect_rx(&fx, r, "250 hello secure\r\n", false);
	quiesce(&fx, 100 * SL_US_PER_MS);
	/* Exactly one reply inside TLS: no "250 ok" for the NOOP. */
	assert_int_equal(r->rx_len, strlen("250 hello secure\r\n"));
	assert_int_equal(r->plain_len, strlen("250 hello\r\n220 go ahead\r\n"));
	s = srv_stats(&fx);
	assert_int_equal(s.plaintext_discarded, 6);
	assert_int_equal(s.handshakes_ok, 1);
	rc_free(&r);
	fx_fini(&fx);
}

/* Plaintext that arrives after the upgrade (in a later segment) is fed to
 * the handshake, fails it, and is never seen by the engine. */
static void test_starttls_late_plaintext(void **state)
{
	rc_opts_t o = {.version = 13, .plain = true};
	fx_t fx;
	rawcli_t *r;

	(void)state;
	fx_init(&fx, NULL);
	r = rc_open(&fx, PORT_PLAIN, &o);
	quiesce(&fx, 10 * SL_US_PER_MS);
	rc_send_raw(r, "STARTTLS\r\n", 10);
	expect_rx(&fx, r, "220 go ahead\r\n", true);
	assert_int_equal(fx.srv[0].starttls_rc, 0);
	rc_send_raw(r, "NOOP\r\n", 6);
	quiesce(&fx, SL_US_PER_S);
	assert_int_equal(fx.srv[0].closed, 1);
	assert_int_equal(fx.srv[0].reason, SL_EPROTO);
	assert_null(memmem(r->plain, r->plain_len, "250 ok", 6));
	assert_int_equal(srv_stats(&fx).handshakes_failed, 1);
	rc_free(&r);
	fx_fini(&fx);
}

/* The same engine on 25 (plain) and 465 (TLS): same transcript. */
static void test_engine_cannot_tell(void **state)
{
	const char *script = "EHLO x\r\nNOOP\r\nFOO\r\nQUIT\r\n";
	const char *want_plain = "250 hello\r\n250 ok\r\n500 what\r\n221 bye\r\n";
	const char *want_tls = "250 hello secure\r\n250 ok\r\n500 what\r\n221 bye\r\n";
	rc_opts_t o = {.version = 13};
	fx_t fx;
	rawcli_t *r;

	(void)state;
	fx_init(&fx, NULL);
	r = rc_open(&fx, PORT_PLAIN, &(rc_opts_t){.plain = true});
	quiesce(&fx, 10 * SL_US_PER_MS);
	rc_send_raw(r, script, strlen(script));
	run_until(&fx, rc_closed_cond, r, 5 * SL_US_PER_S);
	assert_int_equal(r->plain_len, strlen(want_plain));
	assert_memory_equal(r->plain, want_plain, r->plain_len);
	rc_free(&r);

	r = rc_handshake(&fx, &o);
	rc_write(r, script, strlen(script));
	run_until(&fx, rc_closed_cond, r, 5 * SL_US_PER_S);
	assert_int_equal(r->rx_len, strlen(want_tls));
	assert_memory_equal(r->rx, want_tls, r->rx_len);
	assert_true(r->close_notify); /* the engine's close sent close_notify */
	rc_free(&r);
	fx_fini(&fx);
}

/* ---- failures ---- */

static void test_stalled_handshake_times_out(void **state)
{
	fx_t fx;
	rawcli_t *r, *half;
	uint64_t t0;
	ns_tls_stats_t s;

	(void)state;
	fx_init(&fx, NULL);
	/* One says nothing at all; one stops after its ClientHello. */
	r = rc_open(&fx, PORT_TLS, &(rc_opts_t){.plain = true});
	half = rc_open(&fx, PORT_TLS, &(rc_opts_t){.version = 13, .stall = true});
	t0 = ut_wire_now(fx.w);
	run_until(&fx, rc_closed_cond, r, 2 * HS_TIMEOUT_US);
	run_until(&fx, rc_closed_cond, half, 2 * HS_TIMEOUT_US);
	assert_true(ut_wire_now(fx.w) - t0 >= HS_TIMEOUT_US - 10 * SL_US_PER_MS);
	assert_int_equal(r->reason, SL_ERESET);
	assert_int_equal(fx.nsrv, 2);
	assert_int_equal(fx.srv[0].reason, SL_ETIMEDOUT);
	assert_int_equal(fx.srv[1].reason, SL_ETIMEDOUT);
	s = srv_stats(&fx);
	assert_int_equal(s.handshake_timeouts, 2);
	assert_int_equal(s.handshakes_current, 0);
	assert_non_null(strstr(ns_tls_ctx_last_failure(fx.stls), "timed out"));
	/* The server keeps serving. */
	rc_free(&r);
	srv_reset(&fx);
	r = rc_handshake(&fx, &(rc_opts_t){.version = 13});
	assert_true(r->hs_done);
	check_exchange(&fx, r);
	rc_free(&r);
	rc_free(&half);
	fx_fini(&fx);
}

/* Garbage instead of a ClientHello: an alert record, then FIN. */
static void test_garbage_clienthello(void **state)
{
	static const struct {
		const char *data;
		size_t len;
		uint8_t alert;
	} rows[] = {
		{"\x16\x03\x01\x00\x10garbagegarbage!!", 21, 50},
		{"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27, 50},
		{"\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00", 10, 50},
	};

	(void)state;
	for (unsigned i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		fx_t fx;
		rawcli_t *r;

		fx_init(&fx, NULL);
		r = rc_open(&fx, PORT_TLS, &(rc_opts_t){.plain = true});
		quiesce(&fx, 5 * SL_US_PER_MS);
		rc_send_raw(r, rows[i].data, rows[i].len);
		run_until(&fx, rc_closed_cond, r, 5 * SL_US_PER_S);
		assert_true(r->eof);
		assert_true(r->plain_len >= 7);
		assert_int_equal(r->plain[0], 21); /* alert */
		assert_int_equal(r->plain[1], 3);
		assert_int_equal(r->plain[5], 2); /* fatal */
		assert_int_equal(fx.srv[0].reason, SL_EPROTO);
		assert_int_equal(srv_stats(&fx).handshakes_failed, 1);
		assert_non_null(strstr(ns_tls_ctx_last_failure(fx.stls), "wolfSSL"));
		rc_free(&r);
		fx_fini(&fx);
	}
}

/* A corrupted record after the handshake: the session ends, EPROTO. */
static void test_bad_record_after_handshake(void **state)
{
	uint8_t junk[5 + 40] = {23, 3, 3, 0, 40};
	fx_t fx;
	rawcli_t *r;

	(void)state;
	fx_init(&fx, NULL);
	r = rc_handshake(&fx, &(rc_opts_t){.version = 13});
	check_exchange(&fx, r);
	memset(junk + 5, 0xa5, 40);
	rc_send_raw(r, junk, sizeof(junk));
	quiesce(&fx, SL_US_PER_S);
	assert_int_equal(fx.srv[0].closed, 1);
	assert_int_equal(fx.srv[0].reason, SL_EPROTO);
	assert_int_equal(srv_stats(&fx).records_failed, 1);
	rc_free(&r);
	fx_fini(&fx);
}

static void tweak_per_ip(ns_tls_config_params_t *p)
{
	p->handshakes_per_ip = 2;
}

static void test_per_ip_handshake_cap(void **state)
{
	rawcli_t *r[3], *ok;
	fx_t fx;
	ns_tls_stats_t s;

	(void)state;
	fx_init(&fx, tweak_per_ip);
	for (int i = 0; i < 3; i++)
		r[i] = rc_open(&fx, PORT_TLS, &(rc_opts_t){.plain = true});
	quiesce(&fx, 50 * SL_US_PER_MS);
	assert_false(r[0]->closed);
	assert_false(r[1]->closed);
	assert_true(r[2]->closed); /* reset at accept */
	assert_int_equal(fx.nsrv, 2);
	s = srv_stats(&fx);
	assert_int_equal(s.handshakes_refused_ip, 1);
	assert_int_equal(s.handshakes_current, 2);
	/* A handshake finishing frees its slot. */
	rc_free(&r[2]);
	rc_free(&r[0]);
	quiesce(&fx, 50 * SL_US_PER_MS);
	assert_int_equal(srv_stats(&fx).handshakes_current, 1);
	ok = rc_handshake(&fx, &(rc_opts_t){.version = 12});
	assert_true(ok->hs_done);
	assert_int_equal(srv_stats(&fx).handshakes_current, 1);
	rc_free(&ok);
	rc_free(&r[1]);
	quiesce(&fx, 50 * SL_US_PER_MS);
	assert_int_equal(srv_stats(&fx).handshakes_current, 0);
	fx_fini(&fx);
}

/* STARTTLS when the address is at its cap: SL_ELIMIT, the stream stays
 * plain (the engine then ends the session). */
static void test_starttls_refused_by_cap(void **state)
{
	rawcli_t *stall, *r;
	fx_t fx;

	(void)state;
	fx_init(&fx, tweak_per_ip); /* 2 per address */
	stall = rc_open(&fx, PORT_TLS, &(rc_opts_t){.plain = true});
	r = rc_open(&fx, PORT_TLS, &(rc_opts_t){.plain = true});
	quiesce(&fx, 10 * SL_US_PER_MS);
	rc_free(&r);
	r = rc_open(&fx, PORT_PLAIN, &(rc_opts_t){.plain = true});
	quiesce(&fx, 10 * SL_US_PER_MS);
	/* One slot left: take it with a third implicit-TLS connection. */
	{
		rawcli_t *third = rc_open(&fx, PORT_TLS, &(rc_opts_t){.plain = true});

		quiesce(&fx, 10 * SL_US_PER_MS);
		assert_false(third->closed);
		rc_send_raw(r, "STARTTLS\r\n", 10);
		expect_rx(&fx, r, "220 go ahead\r\n", true);
		assert_int_equal(fx.srv[fx.nsrv - 2].starttls_rc, SL_ELIMIT);
		assert_false(ns_stream_is_tls(fx.srv[fx.nsrv - 2].st));
		rc_free(&third);
	}
	assert_true(srv_stats(&fx).handshakes_refused_ip >= 1);
	rc_free(&r);
	rc_free(&stall);
	fx_fini(&fx);
}

static void tweak_tls13_only(ns_tls_config_params_t *p)
{
	p->min_version = NS_TLS_1_3;
}

static void tweak_tls12_only(ns_tls_config_params_t *p)
{
	p->max_version = NS_TLS_1_2;
}

static void test_version_limits(void **state)
{
	fx_t fx;
	rawcli_t *r;

	(void)state;
	fx_init(&fx, tweak_tls13_only);
	r = rc_handshake(&fx, &(rc_opts_t){.version = 12});
	assert_false(r->hs_done);
	rc_free(&r);
	r = rc_handshake(&fx, &(rc_opts_t){.version = 0});
	assert_true(r->hs_done);
	assert_string_equal(wolfSSL_get_version(r->ssl), "TLSv1.3");
	rc_free(&r);
	fx_fini(&fx);

	fx_init(&fx, tweak_tls12_only);
	r = rc_handshake(&fx, &(rc_opts_t){.version = 13});
	assert_false(r->hs_done);
	rc_free(&r);
	r = rc_handshake(&fx, &(rc_opts_t){.version = 0});
	assert_true(r->hs_done);
	assert_string_equal(wolfSSL_get_version(r->ssl), "TLSv1.2");
	rc_free(&r);
	fx_fini(&fx);
}

/* ---- close, half-close ---- */

static void test_close_notify_both_ways(void **state)
{
	fx_t fx;
	rawcli_t *r;

	(void)state;
	fx_init(&fx, NULL);
	fx.srv_engine = false;
	r = rc_handshake(&fx, &(rc_opts_t){.version = 13});
	rc_write(r, "bye", 3);
	wolfSSL_shutdown(r->ssl);
	ut_wire_flush(fx.w);
	quiesce(&fx, 100 * SL_US_PER_MS);
	assert_int_equal(fx.srv[0].rx_len, 3);
	assert_true(fx.srv[0].eof);
	assert_int_equal(srv_stats(&fx).truncated_eof, 0);
	ns_stream_send(fx.srv[0].st, "ok", 2);
	ns_stream_close(fx.srv[0].st);
	fx.srv[0].st = NULL;
	ut_wire_flush(fx.w);
	run_until(&fx, rc_closed_cond, r, 5 * SL_US_PER_S);
	assert_int_equal(r->rx_len, 2);
	assert_true(r->close_notify);
	rc_free(&r);
	fx_fini(&fx);
}

/* TLS 1.3 KeyUpdate from the client, with update_requested: the server
 * answers with its own inside rx_fill, and data keeps flowing both ways. */
static void test_key_update(void **state)
{
	fx_t fx;
	rawcli_t *r;

	(void)state;
	fx_init(&fx, NULL);
	r = rc_handshake(&fx, &(rc_opts_t){.version = 13});
	check_exchange(&fx, r);
	assert_int_equal(wolfSSL_update_keys(r->ssl), WOLFSSL_SUCCESS);
	ut_wire_flush(fx.w);
	rc_write(r, "NOOP\r\n", 6);
	expect_rx(&fx, r, "250 ok\r\n", false);
	assert_int_equal(wolfSSL_update_keys(r->ssl), WOLFSSL_SUCCESS);
	rc_write(r, "EHLO q\r\n", 8);
	expect_rx(&fx, r, "250 ok\r\n250 hello secure\r\n", false);
	assert_int_equal(srv_stats(&fx).records_failed, 0);
	rc_free(&r);
	fx_fini(&fx);
}

static void test_fin_without_close_notify(void **state)
{
	fx_t fx;
	rawcli_t *r;

	(void)state;
	fx_init(&fx, NULL);
	fx.srv_engine = false;
	r = rc_handshake(&fx, &(rc_opts_t){.version = 12});
	rc_write(r, "abc", 3);
	ns_conn_shutdown(r->c);
	ut_wire_flush(fx.w);
	quiesce(&fx, 100 * SL_US_PER_MS);
	assert_int_equal(fx.srv[0].rx_len, 3);
	assert_true(fx.srv[0].eof);
	assert_int_equal(srv_stats(&fx).truncated_eof, 1);
	rc_free(&r);
	fx_fini(&fx);
}

/* ---- data path ---- */

static bool bulk_done(void *arg)
{
	fx_t *fx = arg;
	ep_t *c = &fx->cli, *s = &fx->srv[0];

	if (c->bad || s->bad || c->closed || (fx->nsrv > 0 && s->closed))
		return true;
	return fx->nsrv > 0 && c->eof && s->eof && c->rx_done == c->total &&
	       s->rx_done == s->total;
}

static uint64_t bulk_bytes(void)
{
	const char *e = getenv("TLS_BULK_MB");
	uint64_t mb = e != NULL ? strtoull(e, NULL, 10) : BULK_MB_DEFAULT;

	return (mb > 0 ? mb : 1) << 20;
}

/* Both directions at once through ns_stream on both ends (client mode
 * too), every byte checked, then both sides close. */
static void test_bulk_both_ways(void **state)
{
	fx_t fx;
	ep_t *c;
	uint64_t total = bulk_bytes();
	clock_t t0 = clock();
	ns_tls_stats_t s;

	(void)state;
	fx_init(&fx, NULL);
	fx.srv_engine = false;
	fx.srv_bulk = true;
	fx.bulk_total = total;
	c = &fx.cli;
	c->fx = &fx;
	c->bulk = true;
	c->total = total;
	c->tx_seed = 1;
	c->rx_seed = 2;
	c->tls_client = true;
	c->sni = "b.example";
	assert_int_equal(ns_stream_connect(fx.cs, ut_wire_ip(1), PORT_TLS, &ep_ops, c, &c->st), 0);
	run_until(&fx, bulk_done, &fx, 600 * SL_US_PER_S);
	assert_false(c->bad);
	assert_false(fx.srv[0].bad);
	assert_int_equal(c->closed, 0);
	assert_int_equal(fx.srv[0].closed, 0);
	assert_true(c->rx_done == total && fx.srv[0].rx_done == total);
	assert_int_equal(c->secured, 1);
	assert_int_equal(fx.srv[0].info.cert_index, 1);
	assert_string_equal(c->info.cipher, fx.srv[0].info.cipher);
	s = srv_stats(&fx);
	assert_int_equal(s.records_failed, 0);
	assert_int_equal(s.truncated_eof, 0);
	fprintf(stderr, "bulk: %llu MB each way over TLS (%s) in %.2f s CPU, %.2f s virtual\n",
		(unsigned long long)(total >> 20), fx.srv[0].info.cipher,
		(double)(clock() - t0) / CLOCKS_PER_SEC, (double)ut_wire_now(fx.w) / 1e6);
	ns_stream_close(c->st);
	c->st = NULL;
	ns_stream_close(fx.srv[0].st);
	fx.srv[0].st = NULL;
	quiesce(&fx, SL_US_PER_S);
	fx_fini(&fx);
}

/* A server that does not read: the decrypted buffer stays bounded, TCP's
 * window closes, and everything arrives once it reads again. */
static void test_backpressure(void **state)
{
	const size_t total = 4 << 20;
	fx_t fx;
	rawcli_t *r;
	uint8_t *buf = malloc(total), *got = malloc(total);
	size_t sent = 0, recvd = 0;
	ns_conn_info_t ci;

	(void)state;
	assert_non_null(buf);
	assert_non_null(got);
	stream_fill(9, 0, buf, total);
	fx_init(&fx, NULL);
	fx.srv_engine = false;
	fx.srv_no_read = true;
	r = rc_handshake(&fx, &(rc_opts_t){.version = 13});
	while (sent < total) {
		size_t n = total - sent < 16384 ? total - sent : 16384;

		rc_write(r, buf + sent, n);
		sent += n;
	}
	quiesce(&fx, SL_US_PER_S);
	assert_true(ns_stream_readable(fx.srv[0].st) <= 16384);
	ns_stream_get_info(fx.srv[0].st, &ci);
	assert_true(ci.rcv_queued > 0);    /* ciphertext waits in TCP */
	assert_true(r->ov.len > 0);        /* and in the client: window closed */
	while (recvd < total) {
		size_t n = ns_stream_recv(fx.srv[0].st, got + recvd, total - recvd);

		recvd += n;
		if (n == 0)
			quiesce(&fx, 10 * SL_US_PER_MS);
	}
	assert_memory_equal(got, buf, total);
	free(buf);
	free(got);
	rc_free(&r);
	fx_fini(&fx);
}

#ifndef UT_ASAN
static void test_memory_per_idle_connection(void **state)
{
	enum { N = 40 };
	rawcli_t *r[N];
	struct mallinfo2 m0, m1;
	fx_t fx;
	size_t per;

	(void)state;
	fx_init(&fx, NULL);
	fx.srv_engine = false;
	/* Warm-up: first-use allocations of wolfSSL are not per connection. */
	r[0] = rc_handshake(&fx, &(rc_opts_t){.version = 13});
	rc_free(&r[0]);
	srv_reset(&fx);
	m0 = mallinfo2();
	for (int i = 0; i < N; i++) {
		r[i] = rc_handshake(&fx, &(rc_opts_t){.version = 13});
		assert_true(r[i]->hs_done);
		rc_write(r[i], "EHLO\r\n", 6);
	}
	quiesce(&fx, 100 * SL_US_PER_MS);
	for (int i = 0; i < N; i++) {
		/* Leave the server's side only: the client's TLS goes. */
		wolfSSL_free(r[i]->ssl);
		wolfSSL_CTX_free(r[i]->wctx);
		r[i]->ssl = NULL;
		r[i]->wctx = NULL;
		sl_buf_free(&r[i]->ov);
	}
	m1 = mallinfo2();
	per = (m1.uordblks - m0.uordblks) / N - sizeof(rawcli_t);
	fprintf(stderr, "heap per idle TLS connection (server TLS state + both TCP ends): %zu "
			"bytes\n",
		per);
	assert_true(per < 64 * 1024);
	for (int i = 0; i < N; i++)
		rc_free(&r[i]);
	fx_fini(&fx);
}

#endif

/* ns_stream as a STARTTLS client against the STARTTLS server. */
static void test_stream_client_starttls(void **state)
{
	fx_t fx;
	ep_t *c;

	(void)state;
	fx_init(&fx, NULL);
	c = &fx.cli;
	c->fx = &fx;
	assert_int_equal(ns_stream_connect(fx.cs, ut_wire_ip(1), PORT_PLAIN, &ep_ops, c, &c->st), 0);
	ut_wire_flush(fx.w);
	quiesce(&fx, 10 * SL_US_PER_MS);
	assert_int_equal(c->connected, 1);
	assert_int_equal(ns_stream_send(c->st, "STARTTLS\r\n", 10), 10);
	ut_wire_flush(fx.w);
	quiesce(&fx, 10 * SL_US_PER_MS);
	assert_int_equal(c->rx_len, 14); /* "220 go ahead\r\n" */
	assert_int_equal(ns_stream_starttls_client(c->st, fx.ctls, "mx.c.example"), 0);
	ut_wire_flush(fx.w);
	quiesce(&fx, 100 * SL_US_PER_MS);
	assert_int_equal(c->secured, 1);
	assert_int_equal(fx.srv[0].secured, 1);
	assert_int_equal(fx.srv[0].info.cert_index, 2);
	assert_int_equal(ns_stream_send(c->st, "EHLO z\r\n", 8), 8);
	ut_wire_flush(fx.w);
	quiesce(&fx, 100 * SL_US_PER_MS);
	assert_int_equal(c->rx_len, 14 + strlen("250 hello secure\r\n"));
	assert_memory_equal(c->rx + 14, "250 hello secure\r\n", 18);
	/* A second upgrade is refused. */
	assert_int_equal(ns_stream_starttls_client(c->st, fx.ctls, NULL), SL_ESTATE);
	fx_fini(&fx);
}

/* Config errors come back as text, not crashes. */
static void test_config_errors(void **state)
{
	ns_tls_config_params_t p;
	ns_tls_cert_src_t src = {0};
	ns_tls_config_t *cfg = NULL;
	const char *err = NULL;

	(void)state;
	certs_once();
	ns_tls_config_params_default(&p);
	p.min_version = 0x0302;
	assert_int_equal(ns_tls_config_create(&p, &cfg, &err), SL_EINVAL);
	assert_non_null(err);
	ns_tls_config_params_default(&p);
	src.cert_pem = cert_a.data;
	src.cert_pem_len = cert_a.len;
	src.key_pem = key_b.data; /* the wrong key */
	src.key_pem_len = key_b.len;
	p.certs = &src;
	p.n_certs = 1;
	assert_int_equal(ns_tls_config_create(&p, &cfg, &err), SL_EINVAL);
	assert_non_null(strstr(err, "certificate 1"));
	assert_non_null(strstr(err, "does not match"));
	ns_tls_config_params_default(&p);
	p.ciphers = "NO-SUCH-CIPHER";
	assert_int_equal(ns_tls_config_create(&p, &cfg, &err), 0);
	{
		ut_wire_params_t wp;
		ut_wire_t *w;
		ns_tls_ctx_t *ctx = NULL;

		ut_wire_params_default(&wp);
		wp.pool = tls_pool();
		w = ut_wire_create(&wp);
		assert_int_equal(ns_tls_ctx_create(ut_wire_stack(w, 0), cfg, &ctx, &err), SL_EINVAL);
		assert_non_null(strstr(err, "cipher"));
		ut_wire_destroy(&w);
	}
	ns_tls_config_unref(&cfg);
	assert_null(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tls13_handshake_aead),
		cmocka_unit_test(test_tls12_handshake_aead),
		cmocka_unit_test(test_suites_and_groups),
		cmocka_unit_test(test_refused_offers),
		cmocka_unit_test(test_sni_selects_certificate),
		cmocka_unit_test(test_resumption),
		cmocka_unit_test(test_ticket_key_rotation),
		cmocka_unit_test(test_ticket_from_other_secret),
		cmocka_unit_test(test_starttls_injection),
		cmocka_unit_test(test_starttls_late_plaintext),
		cmocka_unit_test(test_engine_cannot_tell),
		cmocka_unit_test(test_stalled_handshake_times_out),
		cmocka_unit_test(test_garbage_clienthello),
		cmocka_unit_test(test_bad_record_after_handshake),
		cmocka_unit_test(test_per_ip_handshake_cap),
		cmocka_unit_test(test_starttls_refused_by_cap),
		cmocka_unit_test(test_version_limits),
		cmocka_unit_test(test_close_notify_both_ways),
		cmocka_unit_test(test_key_update),
		cmocka_unit_test(test_fin_without_close_notify),
		cmocka_unit_test(test_backpressure),
#ifndef UT_ASAN /* ASan's allocator does not feed mallinfo2; cmocka's TAP
		  * prints a skip as "not ok", so the case is left out */
		cmocka_unit_test(test_memory_per_idle_connection),
#endif
		cmocka_unit_test(test_stream_client_starttls),
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test(test_bulk_both_ways),
	};

	/* TLS_LOG=1 shows the failure lines the tests provoke. */
	sl_log_set_level(getenv("TLS_LOG") != NULL ? SL_LOG_INFO : SL_LOG_WARN);
	assert_int_equal(ns_tls_global_init(), 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
