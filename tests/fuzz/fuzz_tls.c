/* fuzz_tls - libFuzzer harness for the TLS layer: record-layer bytes from a
 * client into a server stream (ns_stream over netstack TCP, wolfSSL behind
 * it, our SNI and ticket callbacks in its path).
 *
 * Input format:
 *     flags (1 byte) | client bytes
 * flags bit 0: 0 = implicit TLS (port 465); 1 = STARTTLS: the client first
 *              sends "STARTTLS\r\n" plus bits 4-5 of junk lines in the
 *              same segment (discarded at the upgrade), waits for the 220,
 *              then sends the bytes;
 * flags bits 1-3: the bytes go out in pieces of 16 << n bytes, each
 *              delivered and processed before the next (partial records);
 * flags bit 6: the client closes (FIN) after the bytes;
 * flags bit 7: the client resets instead of waiting for the timeout.
 * Then virtual time runs past the handshake timeout, everything is torn
 * down, and the mbuf pool must be full again (else abort: a leak).
 *
 * Two stacks are connected back to back in memory and re-created for each
 * input, so every input replays on its own. The server certificate (ECDSA
 * P-256, generated at start-up: no key on disk) and the ticket secret are
 * fixed for the process, the clock starts at the same time for each input.
 *
 * FUZZ_TLS_SEEDS=DIR writes seed inputs (real ClientHellos from wolfSSL:
 * TLS 1.3, TLS 1.2, with SNI, a resumption carrying one of our tickets, and
 * STARTTLS variants) into DIR and exits. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_eal.h>
#include <rte_ether.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#define WOLFSSL_OPTIONS_IGNORE_SYS
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include "ns.h"
#include "ns_stream.h"
#include "ns_tls.h"
#include "sl_err.h"
#include "sl_log.h"
#include "sl_time.h"

#define FZ_POOL_SIZE 8191
#define FZ_T0 (1000 * SL_US_PER_S)
#define FZ_QMAX 4096
#define FZ_IP(a, b, c, d) \
	RTE_BE32(((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (uint32_t)(d))

static struct rte_mempool *fz_pool;
static unsigned fz_avail0;
static ns_tls_config_t *fz_cfg;
static uint64_t fz_now;

/* ---- two stacks back to back ---- */

typedef struct fz_q {
	struct rte_mbuf *m[FZ_QMAX];
	unsigned head, n;
} fz_q_t;

static fz_q_t fz_q[2];          /* [0]: client -> server, [1]: back */
static ns_stack_t *fz_s[2];     /* [0]: client, [1]: server */

static void fz_tx(void *ctx, struct rte_mbuf *m)
{
	fz_q_t *q = ctx;

	if (q->n == FZ_QMAX) {
		rte_pktmbuf_free(m);
		return;
	}
	q->m[(q->head + q->n++) % FZ_QMAX] = m;
}

static ns_stack_t *fz_stack(int side)
{
	static const uint8_t mac[2][6] = {{2, 0, 0, 0, 0, 1}, {2, 0, 0, 0, 0, 2}};
	ns_stack_params_t p;
	const char *err = NULL;
	ns_stack_t *s;

	ns_stack_params_default(&p);
	memcpy(p.mac, mac[side], 6);
	p.ip = FZ_IP(10, 99, 0, 1 + side);
	p.prefix_len = 24;
	p.pool = fz_pool;
	p.tx = fz_tx;
	p.tx_ctx = &fz_q[side];
	p.now_us = fz_now;
	p.max_conns = 16;
	p.time_wait_max = 16;
	p.arp_cache_size = 8;
	p.tcp_mem_max = 4 << 20;
	p.sndbuf = 256 * 1024;
	p.rcvbuf = 256 * 1024;
	p.isn_secret[0] = 0x5eed + (uint64_t)side;
	p.isn_secret[1] = 0xf00d;
	s = ns_stack_create(&p, &err);
	if (s == NULL) {
		fprintf(stderr, "fuzz_tls: ns_stack_create: %s\n", err);
		abort();
	}
	return s;
}

/* Deliver until both directions are empty. */
static void fz_pump(void)
{
	bool more = true;

	while (more) {
		more = false;
		for (int d = 0; d < 2; d++) {
			fz_q_t *q = &fz_q[d];

			while (q->n > 0) {
				struct rte_mbuf *m = q->m[q->head];

				q->head = (q->head + 1) % FZ_QMAX;
				q->n--;
				ns_stack_input(fz_s[1 - d], m);
				more = true;
			}
		}
		ns_stack_flush(fz_s[0]);
		ns_stack_flush(fz_s[1]);
	}
}

static void fz_advance(uint64_t us)
{
	uint64_t end = fz_now + us;

	for (int guard = 0; guard < 100000; guard++) {
		uint64_t d0 = ns_stack_next_deadline(fz_s[0]), d1 = ns_stack_next_deadline(fz_s[1]);
		uint64_t d = d0 < d1 ? d0 : d1;

		if (d > end)
			break;
		fz_now = d > fz_now ? d : fz_now + 1000;
		ns_stack_poll(fz_s[0], fz_now);
		ns_stack_poll(fz_s[1], fz_now);
		fz_pump();
	}
	fz_now = end;
	ns_stack_poll(fz_s[0], fz_now);
	ns_stack_poll(fz_s[1], fz_now);
	fz_pump();
}

/* ---- the server app: echo, and STARTTLS on the plain port ---- */

static void srv_data(ns_stream_t *st, void *ctx);

static ns_tls_ctx_t *fz_tls;
static ns_listener_t *fz_lst[2];
/* The server's open streams: aborted before the stack goes. */
#define FZ_STREAMS 16
static ns_stream_t *fz_st[FZ_STREAMS];

static void st_forget(ns_stream_t *st)
{
	for (int i = 0; i < FZ_STREAMS; i++)
		if (fz_st[i] == st)
			fz_st[i] = NULL;
}

static int srv_accepted(ns_stream_t *st, void *lctx)
{
	int i;

	(void)lctx;
	for (i = 0; i < FZ_STREAMS && fz_st[i] != NULL; i++)
		;
	if (i == FZ_STREAMS)
		return SL_ELIMIT;
	fz_st[i] = st;
	ns_stream_set_ctx(st, NULL);
	if (!ns_stream_is_tls(st))
		srv_data(st, NULL);
	return 0;
}

static void srv_data(ns_stream_t *st, void *ctx)
{
	uint8_t buf[4096];
	size_t n;

	(void)ctx;
	if (!ns_stream_is_tls(st)) {
		sl_slice_t iov[4];
		unsigned k = ns_stream_peek(st, iov, 4);

		for (unsigned i = 0; i < k; i++) {
			const uint8_t *nl = memchr(iov[i].ptr, '\n', iov[i].len);

			if (nl != NULL) {
				ns_stream_consume(st, (size_t)(nl - iov[i].ptr) + 1);
				(void)ns_stream_send(st, "220 go ahead\r\n", 14);
				(void)ns_stream_starttls(st, fz_tls);
				return;
			}
		}
		return;
	}
	while ((n = ns_stream_recv(st, buf, sizeof(buf))) > 0)
		if (ns_stream_send(st, buf, n) < 0)
			break;
	if (ns_stream_eof(st)) {
		st_forget(st);
		ns_stream_close(st);
	}
}

static void srv_closed(ns_stream_t *st, void *ctx, int reason)
{
	(void)ctx;
	(void)reason;
	st_forget(st);
}

static const ns_stream_ops_t srv_ops = {
	.accepted = srv_accepted,
	.data = srv_data,
	.writable = srv_data,
	.closed = srv_closed,
};

/* ---- the client: a raw TCP connection (or wolfSSL over one) ---- */

typedef struct fz_cli {
	ns_conn_t *c;
	bool established, closed, got220;
	WOLFSSL *ssl;          /* seed capture only */
	FILE *cap;             /* seed capture: bytes the client sends */
	bool hs_done;
} fz_cli_t;

static void cli_connected(ns_conn_t *c, void *ctx)
{
	(void)c;
	((fz_cli_t *)ctx)->established = true;
}

static void cli_step(fz_cli_t *k);

static void cli_data(ns_conn_t *c, void *ctx)
{
	fz_cli_t *k = ctx;
	uint8_t buf[4096];
	size_t n;

	if (k->ssl != NULL && k->got220) {
		cli_step(k);
		return;
	}
	while ((n = ns_conn_recv(c, buf, sizeof(buf))) > 0)
		if (memmem(buf, n, "220 ", 4) != NULL)
			k->got220 = true;
}

static void cli_closed(ns_conn_t *c, void *ctx, int reason)
{
	fz_cli_t *k = ctx;

	(void)c;
	(void)reason;
	k->closed = true;
	k->c = NULL;
}

static int cli_accepted(ns_conn_t *c, void *lctx)
{
	(void)c;
	(void)lctx;
	return SL_EINVAL;
}

static const ns_conn_ops_t cli_ops = {
	.accepted = cli_accepted,
	.connected = cli_connected,
	.data = cli_data,
	.closed = cli_closed,
};

static void fz_world_up(void)
{
	const char *err = NULL;
	ns_listener_t *l;

	fz_now = FZ_T0;
	fz_s[0] = fz_stack(0);
	fz_s[1] = fz_stack(1);
	if (ns_tls_ctx_create(fz_s[1], fz_cfg, &fz_tls, &err) != 0) {
		fprintf(stderr, "fuzz_tls: ns_tls_ctx_create: %s\n", err);
		abort();
	}
	if (ns_stream_listen(fz_s[1], 465, &srv_ops, NULL, fz_tls, &l) != 0)
		abort();
	fz_lst[0] = l;
	if (ns_stream_listen(fz_s[1], 25, &srv_ops, NULL, NULL, &l) != 0)
		abort();
	fz_lst[1] = l;
}

static void fz_world_down(void)
{
	for (int i = 0; i < FZ_STREAMS; i++)
		if (fz_st[i] != NULL) {
			ns_stream_abort(fz_st[i]);
			fz_st[i] = NULL;
		}
	ns_stream_unlisten(&fz_lst[0]);
	ns_stream_unlisten(&fz_lst[1]);
	ns_tls_ctx_destroy(&fz_tls);
	ns_stack_destroy(&fz_s[0]);
	ns_stack_destroy(&fz_s[1]);
	for (int d = 0; d < 2; d++)
		while (fz_q[d].n > 0) {
			rte_pktmbuf_free(fz_q[d].m[fz_q[d].head]);
			fz_q[d].head = (fz_q[d].head + 1) % FZ_QMAX;
			fz_q[d].n--;
		}
	if (rte_mempool_avail_count(fz_pool) != fz_avail0) {
		fprintf(stderr, "fuzz_tls: mbuf leak: %u of %u back\n",
			rte_mempool_avail_count(fz_pool), fz_avail0);
		abort();
	}
}

static bool fz_connect(fz_cli_t *k, uint16_t port)
{
	if (ns_tcp_connect(fz_s[0], FZ_IP(10, 99, 0, 2), port, &cli_ops, k, &k->c) != 0)
		return false;
	fz_pump();
	return k->established;
}

static const char *const fz_junk[4] = {"", "NOOP\r\n", "NOOP\r\nQUIT\r\n", "\x16\x03\x01\x00\x05"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fz_cli_t k;
	uint8_t flags;
	size_t piece, off;

	if (size < 1)
		return 0;
	flags = data[0];
	data++;
	size--;
	fz_world_up();
	memset(&k, 0, sizeof(k));
	if (!fz_connect(&k, (flags & 1) ? 25 : 465))
		goto done;
	if (flags & 1) {
		char line[64];
		int n = snprintf(line, sizeof(line), "STARTTLS\r\n%s", fz_junk[(flags >> 4) & 3]);

		(void)ns_conn_send(k.c, line, (size_t)n);
		fz_pump();
		if (!k.got220 || k.c == NULL)
			goto done;
	}
	piece = (size_t)16 << ((flags >> 1) & 7);
	for (off = 0; off < size && k.c != NULL; off += piece) {
		size_t n = size - off < piece ? size - off : piece;

		if (ns_conn_send(k.c, data + off, n) < 0)
			break;
		fz_pump();
	}
	if (k.c != NULL && (flags & 0x40))
		ns_conn_shutdown(k.c);
	fz_pump();
	if (k.c != NULL && (flags & 0x80)) {
		ns_conn_abort(k.c);
		k.c = NULL;
		fz_pump();
	}
	fz_advance(3 * SL_US_PER_S); /* past the handshake timeout */
done:
	if (k.c != NULL)
		ns_conn_abort(k.c);
	fz_pump();
	fz_world_down();
	return 0;
}

/* ---- seed capture ---- */

static int cap_recv(WOLFSSL *ssl, char *buf, int sz, void *arg)
{
	fz_cli_t *k = arg;
	size_t n;

	(void)ssl;
	if (k->c == NULL)
		return WOLFSSL_CBIO_ERR_CONN_CLOSE;
	n = ns_conn_recv(k->c, buf, (size_t)sz);
	return n > 0 ? (int)n : WOLFSSL_CBIO_ERR_WANT_READ;
}

static int cap_send(WOLFSSL *ssl, char *buf, int sz, void *arg)
{
	fz_cli_t *k = arg;

	(void)ssl;
	if (k->c == NULL || ns_conn_send(k->c, buf, (size_t)sz) != sz)
		return WOLFSSL_CBIO_ERR_CONN_CLOSE;
	if (k->cap != NULL && !k->hs_done)
		fwrite(buf, 1, (size_t)sz, k->cap);
	return sz;
}

static void cli_step(fz_cli_t *k)
{
	char buf[256];

	if (!k->hs_done) {
		if (wolfSSL_connect(k->ssl) != WOLFSSL_SUCCESS)
			return;
		k->hs_done = true;
		if (k->cap != NULL) {
			fclose(k->cap);
			k->cap = NULL;
		}
	}
	while (wolfSSL_read(k->ssl, buf, sizeof(buf)) > 0)
		;
}

/* One capture: the client's first flight (until its handshake is done)
 * into DIR/NAME behind FLAGS. Returns the session for a resumption. */
static WOLFSSL_SESSION *capture(const char *dir, const char *name, uint8_t flags,
				WOLFSSL_METHOD *method, const char *sni, WOLFSSL_SESSION *sess)
{
	WOLFSSL_CTX *wctx = wolfSSL_CTX_new(method);
	WOLFSSL_SESSION *out = NULL;
	char path[1024];
	fz_cli_t k;

	memset(&k, 0, sizeof(k));
	fz_world_up();
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	k.cap = fopen(path, "wb");
	if (wctx == NULL || k.cap == NULL) {
		fprintf(stderr, "fuzz_tls: cannot write %s\n", path);
		exit(1);
	}
	fputc(flags, k.cap);
	wolfSSL_CTX_set_verify(wctx, WOLFSSL_VERIFY_NONE, NULL);
	k.ssl = wolfSSL_new(wctx);
	wolfSSL_SSLSetIORecv(k.ssl, cap_recv);
	wolfSSL_SSLSetIOSend(k.ssl, cap_send);
	wolfSSL_SetIOReadCtx(k.ssl, &k);
	wolfSSL_SetIOWriteCtx(k.ssl, &k);
	if (sni != NULL)
		wolfSSL_UseSNI(k.ssl, WOLFSSL_SNI_HOST_NAME, sni, (unsigned short)strlen(sni));
	wolfSSL_UseSessionTicket(k.ssl);
	if (sess != NULL)
		wolfSSL_set_session(k.ssl, sess);
	if (fz_connect(&k, (flags & 1) ? 25 : 465)) {
		if (flags & 1) {
			(void)ns_conn_send(k.c, "STARTTLS\r\n", 10);
			fz_pump();
		} else {
			k.got220 = true;
		}
		cli_step(&k);
		fz_pump();
		fz_advance(100 * SL_US_PER_MS);
		if (k.hs_done)
			out = wolfSSL_get1_session(k.ssl);
	}
	if (k.cap != NULL)
		fclose(k.cap);
	if (k.c != NULL)
		ns_conn_abort(k.c);
	fz_pump();
	wolfSSL_free(k.ssl);
	wolfSSL_CTX_free(wctx);
	fz_world_down();
	fprintf(stderr, "fuzz_tls: seed %s (%s)\n", path, out ? "handshake done" : "no handshake");
	return out;
}

static void write_seeds(const char *dir)
{
	WOLFSSL_SESSION *s13, *s12, *x;

	s13 = capture(dir, "tls13_sni", 0x00, wolfTLSv1_3_client_method(), "a.example", NULL);
	s12 = capture(dir, "tls12", 0x06, wolfTLSv1_2_client_method(), NULL, NULL);
	x = capture(dir, "any_starttls", 0x11, wolfSSLv23_client_method(), "a.example", NULL);
	wolfSSL_SESSION_free(x);
	if (s13 != NULL) {
		x = capture(dir, "tls13_resume", 0x02, wolfTLSv1_3_client_method(), "a.example", s13);
		wolfSSL_SESSION_free(x);
		wolfSSL_SESSION_free(s13);
	}
	if (s12 != NULL) {
		x = capture(dir, "tls12_resume", 0x40, wolfTLSv1_2_client_method(), NULL, s12);
		wolfSSL_SESSION_free(x);
		wolfSSL_SESSION_free(s12);
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	/* --no-huge is incompatible with --in-memory in DPDK 22.11;
	 * --no-shconf keeps runs from sharing a runtime directory. */
	char *eal_argv[] = {"fuzz_tls", "--no-huge", "-m", "256", "--no-pci", "--no-shconf",
			    "-l", "0", "--log-level=lib.*:error", "--no-telemetry", NULL};
	static const uint8_t secret[32] = "fuzz_tls fixed ticket secret...";
	ns_tls_gen_params_t gp = {.hostname = "a.example", .key = NS_TLS_KEY_EC_P256};
	ns_tls_config_params_t p;
	ns_tls_cert_src_t src;
	sl_buf_t cert, key;
	const char *err = NULL;
	const char *seeds = getenv("FUZZ_TLS_SEEDS");

	(void)argc;
	(void)argv;
	sl_log_set_level(SL_LOG_ERR);
	if (rte_eal_init(10, eal_argv) < 0) {
		fprintf(stderr, "fuzz_tls: rte_eal_init failed\n");
		abort();
	}
	fz_pool = rte_pktmbuf_pool_create("fuzz_tls", FZ_POOL_SIZE, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
					  SOCKET_ID_ANY);
	if (fz_pool == NULL || ns_tls_global_init() != 0)
		abort();
	fz_avail0 = rte_mempool_avail_count(fz_pool);
	sl_buf_init(&cert, 1 << 16);
	sl_buf_init(&key, 1 << 16);
	if (ns_tls_cert_generate(&gp, &cert, &key, &err) != 0) {
		fprintf(stderr, "fuzz_tls: %s\n", err);
		abort();
	}
	memset(&src, 0, sizeof(src));
	src.cert_pem = cert.data;
	src.cert_pem_len = cert.len;
	src.key_pem = key.data;
	src.key_pem_len = key.len;
	ns_tls_config_params_default(&p);
	p.certs = &src;
	p.n_certs = 1;
	p.handshake_timeout_us = 2 * SL_US_PER_S;
	p.ticket_secret = secret;
	p.session_lifetime_s = 604800; /* seeds with tickets stay valid a week */
	p.ticket_rotate_s = 604800;
	p.fail_log_per_s = 1;
	if (ns_tls_config_create(&p, &fz_cfg, &err) != 0) {
		fprintf(stderr, "fuzz_tls: %s\n", err);
		abort();
	}
	sl_buf_free(&cert);
	sl_buf_free(&key);
	if (seeds != NULL) {
		write_seeds(seeds);
		exit(0);
	}
	return 0;
}
