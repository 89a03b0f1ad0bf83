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
 * flags bit 7: the client resets instead of waiting for the timeout;
 * flags bits 4-5 = 3 with bit 0 clear: application mode - a wolfSSL
 *              client completes a real handshake on 465, then the bytes
 *              (after two that pick a ciphertext byte to corrupt, 0xffff
 *              for none) go through its TLS as application data, in
 *              pieces, while the server echoes: the decrypted-data path,
 *              backpressure, KeyUpdate-free record handling and bad MACs.
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

/* Flush both stacks and deliver until both directions stay empty. */
static void fz_pump(void)
{
	bool more = true;

	while (more) {
		more = false;
		ns_stack_flush(fz_s[0]);
		ns_stack_flush(fz_s[1]);
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
	WOLFSSL *ssl;          /* seed capture and application mode */
	FILE *cap;             /* seed capture: bytes the client sends */
	bool hs_done;
	long corrupt_at;       /* ciphertext byte after the handshake; -1 */
	uint64_t sent_after;   /* ciphertext bytes sent after the handshake */
} fz_cli_t;

static WOLFSSL_CTX *fz_cli_ctx;

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

/* FUZZ_TLS_STATS=1 prints the lane's non-zero TLS counters after each
 * input, to check what a seed reaches. */
static void fz_stats_dump(void)
{
	ns_tls_stats_t st;
	const uint64_t *v = (const uint64_t *)&st;

	ns_tls_ctx_get_stats(fz_tls, &st);
	for (size_t i = 0; ns_tls_stats_names[i] != NULL; i++)
		if (v[i] != 0)
			fprintf(stderr, " %s=%llu", ns_tls_stats_names[i], (unsigned long long)v[i]);
	fprintf(stderr, "\n");
}

static void fz_world_down(void)
{
	static int dump = -1;

	if (dump < 0)
		dump = getenv("FUZZ_TLS_STATS") != NULL;
	if (dump)
		fz_stats_dump();
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

static int cap_recv(WOLFSSL *ssl, char *buf, int sz, void *arg);
static int cap_send(WOLFSSL *ssl, char *buf, int sz, void *arg);

/* Application mode: a real handshake, then DATA as application data. */
static void fz_app(fz_cli_t *k, uint8_t flags, const uint8_t *data, size_t size)
{
	size_t piece = (size_t)16 << ((flags >> 1) & 7), off;
	char buf[4096];

	k->corrupt_at = -1;
	if (size >= 2) {
		unsigned at = (unsigned)data[0] << 8 | data[1];

		if (at != 0xffff)
			k->corrupt_at = (long)at;
		data += 2;
		size -= 2;
	}
	k->ssl = wolfSSL_new(fz_cli_ctx);
	if (k->ssl == NULL)
		abort();
	wolfSSL_SSLSetIORecv(k->ssl, cap_recv);
	wolfSSL_SSLSetIOSend(k->ssl, cap_send);
	wolfSSL_SetIOReadCtx(k->ssl, k);
	wolfSSL_SetIOWriteCtx(k->ssl, k);
	k->got220 = true;
	if (!fz_connect(k, 465))
		return;
	cli_step(k);
	fz_pump();
	if (!k->hs_done)
		return;
	for (off = 0; off < size && k->c != NULL; off += piece) {
		size_t n = size - off < piece ? size - off : piece;

		if (wolfSSL_write(k->ssl, data + off, (int)n) <= 0)
			break;
		fz_pump();
		while (wolfSSL_read(k->ssl, buf, sizeof(buf)) > 0)
			;
	}
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
	if ((flags & 0x31) == 0x30) {
		fz_app(&k, flags, data, size);
		if (getenv("FUZZ_TLS_STATS") != NULL)
			fprintf(stderr, "app: handshake %s, %llu bytes sent after it\n",
				k.hs_done ? "done" : "not done", (unsigned long long)k.sent_after);
		goto tail;
	}
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
tail:
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
	if (k.ssl != NULL)
		wolfSSL_free(k.ssl);
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
	long at = -1;
	ssize_t n;

	(void)ssl;
	if (k->c == NULL)
		return WOLFSSL_CBIO_ERR_CONN_CLOSE;
	if (k->hs_done && k->corrupt_at >= 0 && (uint64_t)k->corrupt_at >= k->sent_after &&
	    (uint64_t)k->corrupt_at < k->sent_after + (uint64_t)sz)
		at = k->corrupt_at - (long)k->sent_after;
	if (at >= 0)
		buf[at] ^= 0x5a;
	n = ns_conn_send(k->c, buf, (size_t)sz);
	if (at >= 0)
		buf[at] ^= 0x5a;
	if (n < 0)
		return WOLFSSL_CBIO_ERR_CONN_CLOSE;
	if (n < sz)
		return n > 0 ? (int)n : WOLFSSL_CBIO_ERR_WANT_WRITE;
	if (k->hs_done)
		k->sent_after += (uint64_t)sz;
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

static void write_file(const char *dir, const char *name, const void *p, size_t n)
{
	char path[1024];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (f == NULL || fwrite(p, 1, n, f) != n)
		exit(1);
	fclose(f);
}

static void write_seeds(const char *dir)
{
	static const uint8_t app[] = "\x30\xff\xff" "EHLO x\r\nMAIL FROM:<a@b>\r\nDATA\r\n";
	static const uint8_t app_bad[] = "\x3e\x00\x10some application data, corrupted";
	WOLFSSL_SESSION *s13, *s12, *x;

	write_file(dir, "app", app, sizeof(app) - 1);
	write_file(dir, "app_corrupt", app_bad, sizeof(app_bad) - 1);
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
	fz_cli_ctx = wolfSSL_CTX_new(wolfSSLv23_client_method());
	if (fz_cli_ctx == NULL)
		abort();
	wolfSSL_CTX_set_verify(fz_cli_ctx, WOLFSSL_VERIFY_NONE, NULL);
	if (seeds != NULL) {
		write_seeds(seeds);
		exit(0);
	}
	return 0;
}
