/* perf/tls/tlsload.c - the TLS load generator of perf/tls (issue 7).
 *
 * One client for both servers (Sluice on the TAP, Dovecot over a veth pair),
 * built on OpenSSL: the same library, settings and code path against both,
 * so a difference in the figures is the server's. Modes:
 *
 *   tlsload hs    --addr A --port P [--conc C] [--secs S] [--warmup W] [--resume]
 *   tlsload idle  --addr A --port P --n N [--conc C] [--ready FILE] [--hold S]
 *   tlsload append --addr A --port P --user U --pass PW --count N --size BYTES
 *   tlsload fetch --addr A --port P --user U --pass PW
 *   tlsload crypto [--secs S]
 *
 * hs: C connections in flight, each a TCP connect, a TLS 1.3 handshake and
 * the IMAP greeting (so the server has finished its side and sent its
 * tickets), then close_notify and close; another connection replaces it.
 * Counted over S seconds after W seconds of warm-up. --resume offers the
 * newest session ticket received (a full handshake first provides one),
 * and counts how many were really resumed.
 * idle: opens N connections (C at a time) up to the greeting and holds them
 * without a byte more; writes FILE once all are open, then waits for
 * SIGTERM or S seconds.
 * append: LOGIN, then N messages of BYTES each into INBOX (APPEND with
 * synchronising literals).
 * fetch: LOGIN, EXAMINE INBOX, `FETCH 1:* BODY.PEEK[]`, timed from the
 * command to its tagged OK; counts message bytes (literal payload) and all
 * bytes read.
 * crypto: OpenSSL's CPU time per server handshake operation (X25519 key
 * pair + shared secret, ECDSA P-256 and RSA-2048 PSS signatures) and its
 * sealing speed for 16 KB records, S seconds each; perf/tls/
 * bench_tls_crypto does the same in wolfCrypt.
 *
 * Every mode prints one JSON object on stdout and exits 0, or prints the
 * reason on stderr and exits 1. Every wait has a deadline (--timeout, 30 s
 * per step), so a stuck server fails the run instead of hanging it. Only
 * the address given is contacted.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define TL_CONC_MAX 4096
#define TL_IDLE_MAX 100000
#define TL_LINE_MAX 8192
#define TL_SIZE_MAX (64u << 20)

typedef struct tl_opts {
	const char *mode, *addr, *user, *pass, *ready, *ciphers, *sni;
	int port, conc, n, count;
	double secs, warmup, hold, timeout;
	size_t size;
	bool resume;
} tl_opts_t;

static tl_opts_t o = {
	.conc = 16, .secs = 5, .warmup = 1, .hold = 600, .timeout = 30, .sni = "mx.sluice.test"};
static SSL_CTX *ctx;
static SSL_SESSION *latest; /* newest ticket received (hs --resume) */
static volatile sig_atomic_t stop_flag;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

__attribute__((format(printf, 1, 2), noreturn)) static void die(const char *fmt, ...)
{
	va_list ap;
	unsigned long e;

	fprintf(stderr, "tlsload: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	while ((e = ERR_get_error()) != 0)
		fprintf(stderr, " [%s]", ERR_error_string(e, NULL));
	fputc('\n', stderr);
	exit(1);
}

static int new_session_cb(SSL *ssl, SSL_SESSION *sess)
{
	(void)ssl;
	if (latest)
		SSL_SESSION_free(latest);
	latest = sess; /* we keep the reference OpenSSL hands us */
	return 1;
}

static void ctx_init(void)
{
	ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx)
		die("SSL_CTX_new");
	/* The benchmark is of TLS 1.3 (issue 7); both servers also speak 1.2. */
	SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
	SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
	/* No chain validation (self-signed test certificates); the server's
	 * CertificateVerify signature is still checked, as in any handshake. */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	if (o.ciphers && SSL_CTX_set_ciphersuites(ctx, o.ciphers) != 1)
		die("bad --ciphers %s", o.ciphers);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(ctx, new_session_cb);
}

static int tcp_socket(bool nonblock)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)o.port)};
	int fd, one = 1;

	if (inet_pton(AF_INET, o.addr, &sa.sin_addr) != 1)
		die("bad address %s", o.addr);
	fd = socket(AF_INET, SOCK_STREAM | (nonblock ? SOCK_NONBLOCK : 0), 0);
	if (fd < 0)
		die("socket: %s", strerror(errno));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* ---- hs and idle: many non-blocking connections on epoll ---- */

enum conn_state { C_FREE, C_CONNECTING, C_HANDSHAKE, C_GREETING, C_IDLE };

typedef struct conn {
	int fd;
	SSL *ssl;
	enum conn_state st;
	double t0;
	size_t glen;
	char greet[256];
} conn_t;

typedef struct hs_stats {
	uint64_t ok, resumed, failed, connect_failed, timeouts;
	uint64_t offered;  /* connections that offered a ticket (a resumable session) */
	uint64_t unusable; /* --resume, but the newest session was not resumable */
	char version[32], cipher[64], group[32], last_error[200];
} hs_stats_t;

static int ep;

static void conn_close(conn_t *c, bool graceful)
{
	if (c->ssl) {
		if (graceful)
			SSL_shutdown(c->ssl); /* one close_notify, not awaited */
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd >= 0) {
		epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
	}
	c->fd = -1;
	c->st = C_FREE;
}

static void conn_fail(conn_t *c, hs_stats_t *s, const char *why)
{
	unsigned long e = ERR_get_error();

	s->failed++;
	snprintf(s->last_error, sizeof(s->last_error), "%s%s%s", why, e ? ": " : "",
		 e ? ERR_error_string(e, NULL) : "");
	ERR_clear_error();
	conn_close(c, false);
}

static void conn_watch(conn_t *c, uint32_t ev)
{
	struct epoll_event e = {.events = ev, .data.ptr = c};

	if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e) < 0)
		epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &e);
}

static bool conn_open(conn_t *c, hs_stats_t *s)
{
	c->fd = tcp_socket(true);
	if (c->fd < 0) {
		s->connect_failed++;
		snprintf(s->last_error, sizeof(s->last_error), "connect: %s", strerror(errno));
		c->st = C_FREE;
		return false;
	}
	c->ssl = SSL_new(ctx);
	if (!c->ssl)
		die("SSL_new");
	SSL_set_fd(c->ssl, c->fd);
	SSL_set_tlsext_host_name(c->ssl, o.sni);
	if (o.resume && latest) {
		if (SSL_SESSION_is_resumable(latest)) {
			SSL_set_session(c->ssl, latest);
			s->offered++;
		} else {
			s->unusable++;
		}
	}
	c->st = C_CONNECTING;
	c->t0 = now_s();
	c->glen = 0;
	conn_watch(c, EPOLLOUT);
	return true;
}

/* One step of a connection; returns true when it reached the greeting. */
static bool conn_step(conn_t *c, hs_stats_t *s)
{
	int r, err;

	if (c->st == C_CONNECTING) {
		socklen_t l = sizeof(err);

		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0 || err) {
			s->connect_failed++;
			snprintf(s->last_error, sizeof(s->last_error), "connect: %s", strerror(err));
			conn_close(c, false);
			return false;
		}
		c->st = C_HANDSHAKE;
	}
	if (c->st == C_HANDSHAKE) {
		r = SSL_connect(c->ssl);
		if (r != 1) {
			err = SSL_get_error(c->ssl, r);
			if (err == SSL_ERROR_WANT_READ)
				conn_watch(c, EPOLLIN);
			else if (err == SSL_ERROR_WANT_WRITE)
				conn_watch(c, EPOLLOUT);
			else
				conn_fail(c, s, "handshake failed");
			return false;
		}
		c->st = C_GREETING;
		conn_watch(c, EPOLLIN);
	}
	if (c->st == C_GREETING) {
		for (;;) {
			r = SSL_read(c->ssl, c->greet + c->glen, (int)(sizeof(c->greet) - 1 - c->glen));
			if (r <= 0) {
				err = SSL_get_error(c->ssl, r);
				if (err == SSL_ERROR_WANT_READ)
					return false;
				conn_fail(c, s, "reading the greeting");
				return false;
			}
			c->glen += (size_t)r;
			c->greet[c->glen] = '\0';
			if (strstr(c->greet, "\r\n")) {
				if (strncmp(c->greet, "* OK", 4) != 0) {
					conn_fail(c, s, "greeting is not * OK");
					return false;
				}
				return true;
			}
			if (c->glen >= sizeof(c->greet) - 1) {
				conn_fail(c, s, "greeting too long");
				return false;
			}
		}
	}
	return false;
}

static void record_params(conn_t *c, hs_stats_t *s)
{
	if (s->version[0])
		return;
	snprintf(s->version, sizeof(s->version), "%s", SSL_get_version(c->ssl));
	snprintf(s->cipher, sizeof(s->cipher), "%s", SSL_get_cipher_name(c->ssl));
#ifdef SSL_get_negotiated_group
	{
		int g = SSL_get_negotiated_group(c->ssl);
		const char *n = OBJ_nid2sn(g & ~TLSEXT_nid_unknown);

		snprintf(s->group, sizeof(s->group), "%s", n ? n : "?");
	}
#endif
}

static void json_str(const char *k, const char *v, bool comma)
{
	printf("\"%s\": \"", k);
	for (; *v; v++)
		if (*v == '"' || *v == '\\')
			printf("\\%c", *v);
		else if ((unsigned char)*v >= 0x20)
			putchar(*v);
	printf("\"%s", comma ? ", " : "");
}

static int mode_hs(void)
{
	static conn_t cs[TL_CONC_MAX];
	hs_stats_t tot = {0}, win = {0};
	struct epoll_event evs[256];
	double t_start, t_win, t_end, cpu0 = 0, cpu1;
	bool in_win = false;

	if (o.resume) {
		/* One full handshake gives the first ticket. */
		conn_t c = {.fd = -1};
		double dl = now_s() + o.timeout;

		if (!conn_open(&c, &tot))
			die("first connection: %s", tot.last_error);
		while (c.st != C_FREE) {
			int n = epoll_wait(ep, evs, 1, 100);

			if (n > 0 && conn_step(&c, &tot)) {
				conn_close(&c, true);
				break;
			}
			if (now_s() > dl)
				die("first connection timed out");
		}
		if (!latest)
			die("the server sent no session ticket (%s)", tot.last_error);
		memset(&tot, 0, sizeof(tot));
	}
	for (int i = 0; i < o.conc; i++)
		cs[i].fd = -1;
	t_start = now_s();
	t_win = t_start + o.warmup;
	t_end = t_win + o.secs;
	for (int i = 0; i < o.conc; i++)
		conn_open(&cs[i], &tot);
	for (;;) {
		double t = now_s();
		int n;

		if (!in_win && t >= t_win) {
			in_win = true;
			win = tot;
			cpu0 = cpu_s();
		}
		if (t >= t_end)
			break;
		n = epoll_wait(ep, evs, 256, 50);
		for (int i = 0; i < n; i++) {
			conn_t *c = evs[i].data.ptr;

			if (conn_step(c, &tot)) {
				record_params(c, &tot);
				tot.ok++;
				if (SSL_session_reused(c->ssl))
					tot.resumed++;
				conn_close(c, true);
			}
		}
		/* Refill, and time out connections stuck longer than --timeout. */
		t = now_s();
		for (int i = 0; i < o.conc; i++) {
			if (cs[i].st != C_FREE && t - cs[i].t0 > o.timeout) {
				tot.timeouts++;
				conn_fail(&cs[i], &tot, "timed out");
			}
			if (cs[i].st == C_FREE && !conn_open(&cs[i], &tot))
				usleep(1000); /* a refused connect: do not spin */
		}
	}
	cpu1 = cpu_s();
	for (int i = 0; i < o.conc; i++)
		if (cs[i].st != C_FREE)
			conn_close(&cs[i], false);
	{
		uint64_t ok = tot.ok - win.ok, res = tot.resumed - win.resumed;
		uint64_t offered = tot.offered - win.offered, unusable = tot.unusable - win.unusable;
		uint64_t fail = tot.failed - win.failed + tot.connect_failed - win.connect_failed;

		printf("{");
		json_str("mode", o.resume ? "resumed" : "full", true);
		printf("\"conc\": %d, \"secs\": %.3f, \"ok\": %" PRIu64 ", \"resumed\": %" PRIu64
		       ", \"failed\": %" PRIu64 ", \"timeouts\": %" PRIu64
		       ", \"rate\": %.1f, \"client_cpu_s\": %.3f, \"ok_total\": %" PRIu64
		       ", \"resumed_total\": %" PRIu64 ", \"elapsed_s\": %.3f, ",
		       o.conc, o.secs, ok, res, fail, tot.timeouts - win.timeouts, (double)ok / o.secs,
		       cpu1 - cpu0, tot.ok, tot.resumed, now_s() - t_start);
		if (o.resume)
			printf("\"offered\": %" PRIu64 ", \"unusable\": %" PRIu64 ", ", offered,
			       unusable);
		json_str("version", tot.version, true);
		json_str("cipher", tot.cipher, true);
		json_str("group", tot.group, true);
		json_str("last_error", tot.last_error, false);
		printf("}\n");
		if (ok == 0) {
			fprintf(stderr, "tlsload: no handshake completed (%s)\n", tot.last_error);
			return 1;
		}
	}
	return 0;
}

static void on_term(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static int mode_idle(void)
{
	conn_t *cs;
	hs_stats_t s = {0};
	struct epoll_event evs[256];
	int next = 0, open_n = 0, inflight = 0;
	double t0 = now_s(), dl;

	if (o.n <= 0 || o.n > TL_IDLE_MAX)
		die("--n must be 1..%d", TL_IDLE_MAX);
	cs = calloc((size_t)o.n, sizeof(*cs));
	if (!cs)
		die("out of memory");
	for (int i = 0; i < o.n; i++)
		cs[i].fd = -1;
	dl = now_s() + o.timeout + o.n / 50.0;
	while (open_n < o.n) {
		while (inflight < o.conc && next < o.n) {
			if (!conn_open(&cs[next], &s))
				die("connection %d: %s", next, s.last_error);
			next++;
			inflight++;
		}
		int n = epoll_wait(ep, evs, 256, 100);

		for (int i = 0; i < n; i++) {
			conn_t *c = evs[i].data.ptr;

			if (conn_step(c, &s)) {
				c->st = C_IDLE;
				epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
				open_n++;
				inflight--;
			} else if (c->st == C_FREE) {
				die("connection %ld failed after %d open: %s", (long)(c - cs), open_n,
				    s.last_error);
			}
		}
		if (now_s() > dl)
			die("only %d of %d connections open in time", open_n, o.n);
	}
	printf("{\"mode\": \"idle\", \"n\": %d, \"open_s\": %.3f}\n", o.n, now_s() - t0);
	fflush(stdout);
	if (o.ready) {
		FILE *f = fopen(o.ready, "w");

		if (!f)
			die("cannot write %s: %s", o.ready, strerror(errno));
		fprintf(f, "%d\n", o.n);
		fclose(f);
	}
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	dl = now_s() + o.hold;
	while (!stop_flag && now_s() < dl)
		usleep(100000);
	for (int i = 0; i < o.n; i++)
		conn_close(&cs[i], true);
	free(cs);
	return 0;
}

/* ---- append and fetch: one blocking IMAP session ---- */

typedef struct sess {
	int fd;
	SSL *ssl;
	char *buf;
	size_t len, cap;
	uint64_t bytes_in;
} sess_t;

static void sess_wait(sess_t *s, short ev)
{
	struct pollfd p = {.fd = s->fd, .events = ev};

	if (poll(&p, 1, (int)(o.timeout * 1000)) <= 0)
		die("server silent for %.0f s", o.timeout);
}

static void sess_write(sess_t *s, const void *p, size_t n)
{
	const char *b = p;

	while (n) {
		int r = SSL_write(s->ssl, b, (int)(n > (1u << 20) ? (1u << 20) : n));

		if (r <= 0) {
			int e = SSL_get_error(s->ssl, r);

			if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
				sess_wait(s, e == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN);
				continue;
			}
			die("write failed");
		}
		b += r;
		n -= (size_t)r;
	}
}

static void sess_fill(sess_t *s)
{
	int r;

	if (s->cap - s->len < 65536) {
		if (s->cap >= TL_SIZE_MAX)
			die("reply larger than %u bytes buffered", TL_SIZE_MAX);
		s->cap = s->cap ? s->cap * 2 : (1u << 20);
		s->buf = realloc(s->buf, s->cap);
		if (!s->buf)
			die("out of memory");
	}
	for (;;) {
		r = SSL_read(s->ssl, s->buf + s->len, (int)(s->cap - s->len));
		if (r > 0)
			break;
		int e = SSL_get_error(s->ssl, r);

		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
			sess_wait(s, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT);
			continue;
		}
		die("connection closed by the server");
	}
	s->len += (size_t)r;
	s->bytes_in += (uint64_t)r;
}

static void sess_consume(sess_t *s, size_t n)
{
	memmove(s->buf, s->buf + n, s->len - n);
	s->len -= n;
}

/* Reads one line (without CRLF) into out; returns its length. */
static size_t sess_line(sess_t *s, char *out, size_t max)
{
	for (;;) {
		char *e = memmem(s->buf, s->len, "\r\n", 2);

		if (e) {
			size_t n = (size_t)(e - s->buf);

			if (n >= max)
				die("line longer than %zu bytes", max);
			memcpy(out, s->buf, n);
			out[n] = '\0';
			sess_consume(s, n + 2);
			return n;
		}
		if (s->len > TL_LINE_MAX)
			die("line longer than %d bytes", TL_LINE_MAX);
		sess_fill(s);
	}
}

/* A literal announced as {n} at the end of a line: its size, or -1. */
static long line_literal(const char *l, size_t n)
{
	const char *p;

	if (n < 3 || l[n - 1] != '}')
		return -1;
	p = memrchr(l, '{', n);
	if (!p || p[1] == '}')
		return -1;
	return strtol(p + 1, NULL, 10);
}

/* Reads replies until the tagged one; skips literals, adds their size to
 * *lit_r. Returns true when it was OK. */
static bool sess_tagged(sess_t *s, const char *tag, uint64_t *lit_r, char *last, size_t lmax)
{
	size_t tl = strlen(tag);

	for (;;) {
		size_t n = sess_line(s, last, lmax);
		long lit;

		while ((lit = line_literal(last, n)) >= 0) {
			uint64_t left = (uint64_t)lit;

			if (lit_r)
				*lit_r += left;
			while (left) {
				size_t k;

				if (!s->len)
					sess_fill(s);
				k = s->len < left ? s->len : (size_t)left;
				sess_consume(s, k);
				left -= k;
			}
			n = sess_line(s, last, lmax); /* the rest of the response line */
		}
		if (n > tl && strncmp(last, tag, tl) == 0 && last[tl] == ' ')
			return strncmp(last + tl + 1, "OK", 2) == 0;
	}
}

static void sess_open(sess_t *s)
{
	char line[TL_LINE_MAX];

	memset(s, 0, sizeof(*s));
	s->fd = tcp_socket(false);
	if (s->fd < 0)
		die("connect: %s", strerror(errno));
	s->ssl = SSL_new(ctx);
	SSL_set_fd(s->ssl, s->fd);
	SSL_set_tlsext_host_name(s->ssl, o.sni);
	if (SSL_connect(s->ssl) != 1)
		die("handshake failed");
	sess_line(s, line, sizeof(line));
	if (strncmp(line, "* OK", 4) != 0)
		die("greeting: %s", line);
	snprintf(line, sizeof(line), "L LOGIN \"%s\" \"%s\"\r\n", o.user, o.pass);
	sess_write(s, line, strlen(line));
	if (!sess_tagged(s, "L", NULL, line, sizeof(line)))
		die("LOGIN refused: %s", line);
}

static void sess_close(sess_t *s)
{
	char line[TL_LINE_MAX];

	sess_write(s, "Z LOGOUT\r\n", 10);
	sess_tagged(s, "Z", NULL, line, sizeof(line));
	SSL_shutdown(s->ssl);
	SSL_free(s->ssl);
	close(s->fd);
	free(s->buf);
}

/* A message of exactly `size` bytes: headers, then 76-character lines. */
static char *make_message(int i, size_t size)
{
	char *m = malloc(size);
	int h;

	if (!m)
		die("out of memory");
	h = snprintf(m, size,
		     "From: load@example.org\r\nTo: demo@sluice.test\r\n"
		     "Subject: perf/tls bulk message %d\r\nMessage-ID: <tls-%d@perf.sluice.test>\r\n"
		     "Date: Mon, 1 Jan 2024 00:00:00 +0000\r\n\r\n",
		     i, i);
	if (h < 0 || (size_t)h + 2 > size)
		die("--size too small");
	for (size_t p = (size_t)h; p < size; p++) {
		size_t col = (p - (size_t)h) % 78;

		m[p] = col == 76 ? '\r' : col == 77 ? '\n' : (char)('a' + (p * 7 + (size_t)i) % 26);
	}
	m[size - 2] = '\r';
	m[size - 1] = '\n';
	return m;
}

static int mode_append(void)
{
	sess_t s;
	char line[TL_LINE_MAX];
	double t0;

	if (o.count <= 0 || o.size < 256 || o.size > TL_SIZE_MAX)
		die("--count >= 1 and --size 256..%u", TL_SIZE_MAX);
	sess_open(&s);
	t0 = now_s();
	for (int i = 0; i < o.count; i++) {
		char *m = make_message(i, o.size);

		snprintf(line, sizeof(line), "A%d APPEND INBOX {%zu}\r\n", i, o.size);
		sess_write(&s, line, strlen(line));
		sess_line(&s, line, sizeof(line));
		if (line[0] != '+')
			die("APPEND %d: no continuation: %s", i, line);
		sess_write(&s, m, o.size);
		sess_write(&s, "\r\n", 2);
		free(m);
		snprintf(line, sizeof(line), "A%d", i);
		{
			char tag[16];

			snprintf(tag, sizeof(tag), "A%d", i);
			if (!sess_tagged(&s, tag, NULL, line, sizeof(line)))
				die("APPEND %d refused: %s", i, line);
		}
	}
	printf("{\"mode\": \"append\", \"count\": %d, \"size\": %zu, \"secs\": %.3f}\n", o.count, o.size,
	       now_s() - t0);
	sess_close(&s);
	return 0;
}

static int mode_fetch(void)
{
	sess_t s;
	char line[TL_LINE_MAX];
	uint64_t lit = 0, in0;
	double t0, t1, c0, c1;
	long exists = -1;

	sess_open(&s);
	sess_write(&s, "E EXAMINE INBOX\r\n", 17);
	for (;;) {
		sess_line(&s, line, sizeof(line));
		if (strncmp(line, "* ", 2) == 0 && strstr(line, " EXISTS"))
			exists = strtol(line + 2, NULL, 10);
		if (strncmp(line, "E ", 2) == 0)
			break;
	}
	if (strncmp(line, "E OK", 4) != 0 || exists <= 0)
		die("EXAMINE INBOX: %s (%ld messages)", line, exists);
	in0 = s.bytes_in;
	c0 = cpu_s();
	t0 = now_s();
	sess_write(&s, "F FETCH 1:* BODY.PEEK[]\r\n", 25);
	if (!sess_tagged(&s, "F", &lit, line, sizeof(line)))
		die("FETCH failed: %s", line);
	t1 = now_s();
	c1 = cpu_s();
	printf("{\"mode\": \"fetch\", \"messages\": %ld, \"body_bytes\": %" PRIu64
	       ", \"wire_bytes\": %" PRIu64 ", \"secs\": %.4f, \"mb_per_s\": %.2f, "
	       "\"client_cpu_s\": %.3f, ",
	       exists, lit, s.bytes_in - in0, t1 - t0, (double)lit / 1e6 / (t1 - t0), c1 - c0);
	json_str("cipher", SSL_get_cipher_name(s.ssl), false);
	printf("}\n");
	sess_close(&s);
	return 0;
}

/* ---- crypto: OpenSSL's cost of the server's handshake operations ---- */

static double cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static EVP_PKEY *keygen(const char *alg, const char *curve, unsigned bits)
{
	EVP_PKEY_CTX *kc = EVP_PKEY_CTX_new_from_name(NULL, alg, NULL);
	EVP_PKEY *k = NULL;

	if (!kc || EVP_PKEY_keygen_init(kc) != 1)
		die("keygen %s", alg);
	if (curve && EVP_PKEY_CTX_set_group_name(kc, curve) != 1)
		die("curve %s", curve);
	if (bits && EVP_PKEY_CTX_set_rsa_keygen_bits(kc, (int)bits) != 1)
		die("RSA bits");
	if (EVP_PKEY_keygen(kc, &k) != 1)
		die("keygen %s", alg);
	EVP_PKEY_CTX_free(kc);
	return k;
}

static void op_x25519(EVP_PKEY *peer)
{
	EVP_PKEY *k = keygen("X25519", NULL, 0);
	EVP_PKEY_CTX *dc = EVP_PKEY_CTX_new(k, NULL);
	unsigned char out[32];
	size_t len = sizeof(out);

	if (!dc || EVP_PKEY_derive_init(dc) != 1 || EVP_PKEY_derive_set_peer(dc, peer) != 1 ||
	    EVP_PKEY_derive(dc, out, &len) != 1)
		die("X25519 derive");
	EVP_PKEY_CTX_free(dc);
	EVP_PKEY_free(k);
}

static void op_sign(EVP_PKEY_CTX *sc)
{
	unsigned char hash[32] = {1, 2, 3}, sig[512];
	size_t len = sizeof(sig);

	if (EVP_PKEY_sign(sc, sig, &len, hash, sizeof(hash)) != 1)
		die("sign");
}

static double seal_mb_s(const EVP_CIPHER *c, double secs)
{
	static unsigned char in[16384], out[16384 + 32];
	unsigned char key[32] = {5}, iv[12] = {9}, tag[16];
	EVP_CIPHER_CTX *cc = EVP_CIPHER_CTX_new();
	double t0 = cpu_now(), t;
	long n = 0;
	int l;

	do {
		if (EVP_EncryptInit_ex(cc, c, NULL, key, iv) != 1 || EVP_EncryptUpdate(cc, out, &l, in, sizeof(in)) != 1 ||
		    EVP_EncryptFinal_ex(cc, out + l, &l) != 1 ||
		    EVP_CIPHER_CTX_ctrl(cc, EVP_CTRL_AEAD_GET_TAG, 16, tag) != 1)
			die("seal");
		n++;
		t = cpu_now();
	} while (t - t0 < secs);
	EVP_CIPHER_CTX_free(cc);
	return (double)n * sizeof(in) / 1e6 / (t - t0);
}

#define TIME_OP(expr, out)                                                                         \
	do {                                                                                       \
		double t0_ = cpu_now(), t_;                                                        \
		long n_ = 0;                                                                       \
		do {                                                                               \
			expr;                                                                      \
			n_++;                                                                      \
			t_ = cpu_now();                                                            \
		} while (t_ - t0_ < o.secs);                                                       \
		(out) = (t_ - t0_) * 1e6 / (double)n_;                                             \
	} while (0)

static int mode_crypto(void)
{
	EVP_PKEY *peer = keygen("X25519", NULL, 0), *ec = keygen("EC", "P-256", 0), *rsa = keygen("RSA", NULL, 2048);
	EVP_PKEY_CTX *ecs = EVP_PKEY_CTX_new(ec, NULL), *rss = EVP_PKEY_CTX_new(rsa, NULL);
	double x, e, r;

	if (!ecs || !rss || EVP_PKEY_sign_init(ecs) != 1 || EVP_PKEY_sign_init(rss) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(rss, RSA_PKCS1_PSS_PADDING) != 1 ||
	    EVP_PKEY_CTX_set_signature_md(rss, EVP_sha256()) != 1 ||
	    EVP_PKEY_CTX_set_signature_md(ecs, EVP_sha256()) != 1)
		die("sign setup");
	TIME_OP(op_x25519(peer), x);
	TIME_OP(op_sign(ecs), e);
	TIME_OP(op_sign(rss), r);
	printf("{\"lib\": \"%s\", \"x25519_keygen_derive_us\": %.1f, \"ecdsa_p256_sign_us\": %.1f, "
	       "\"rsa2048_pss_sign_us\": %.1f, \"chacha20_poly1305_mb_s\": %.1f, \"aes256_gcm_mb_s\": %.1f}\n",
	       OpenSSL_version(OPENSSL_VERSION), x, e, r, seal_mb_s(EVP_chacha20_poly1305(), o.secs),
	       seal_mb_s(EVP_aes_256_gcm(), o.secs));
	EVP_PKEY_CTX_free(ecs);
	EVP_PKEY_CTX_free(rss);
	EVP_PKEY_free(peer);
	EVP_PKEY_free(ec);
	EVP_PKEY_free(rsa);
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: tlsload hs|idle|append|fetch|crypto --addr IPV4 --port N [options]; "
			"see the comment at the top of perf/tls/tlsload.c\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"addr", 1, 0, 'a'}, {"port", 1, 0, 'p'}, {"conc", 1, 0, 'c'},
		{"secs", 1, 0, 's'}, {"warmup", 1, 0, 'w'}, {"resume", 0, 0, 'r'},
		{"n", 1, 0, 'n'}, {"ready", 1, 0, 'R'}, {"hold", 1, 0, 'H'},
		{"user", 1, 0, 'u'}, {"pass", 1, 0, 'P'}, {"count", 1, 0, 'N'},
		{"size", 1, 0, 'z'}, {"timeout", 1, 0, 't'}, {"ciphers", 1, 0, 'C'},
		{"sni", 1, 0, 'S'}, {0, 0, 0, 0}};
	int ch;

	if (argc < 2)
		usage();
	o.mode = argv[1];
	optind = 2;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'a': o.addr = optarg; break;
		case 'p': o.port = atoi(optarg); break;
		case 'c': o.conc = atoi(optarg); break;
		case 's': o.secs = atof(optarg); break;
		case 'w': o.warmup = atof(optarg); break;
		case 'r': o.resume = true; break;
		case 'n': o.n = atoi(optarg); break;
		case 'R': o.ready = optarg; break;
		case 'H': o.hold = atof(optarg); break;
		case 'u': o.user = optarg; break;
		case 'P': o.pass = optarg; break;
		case 'N': o.count = atoi(optarg); break;
		case 'z': o.size = (size_t)strtoul(optarg, NULL, 10); break;
		case 't': o.timeout = atof(optarg); break;
		case 'C': o.ciphers = optarg; break;
		case 'S': o.sni = optarg; break;
		default: usage();
		}
	}
	if (!strcmp(o.mode, "crypto")) {
		if (o.secs <= 0 || o.secs > 60)
			die("--secs must be in (0, 60]");
		return mode_crypto();
	}
	if (!o.addr || o.port <= 0 || o.port > 65535)
		usage();
	if (o.conc < 1 || o.conc > TL_CONC_MAX)
		die("--conc must be 1..%d", TL_CONC_MAX);
	if (o.secs <= 0 || o.warmup < 0 || o.timeout <= 0)
		die("--secs and --timeout must be positive");
	if ((!strcmp(o.mode, "append") || !strcmp(o.mode, "fetch")) && (!o.user || !o.pass))
		die("%s needs --user and --pass", o.mode);
	if ((o.user && strpbrk(o.user, "\"\\\r\n")) || (o.pass && strpbrk(o.pass, "\"\\\r\n")))
		die("--user/--pass must not contain quotes, backslashes or line breaks");
	signal(SIGPIPE, SIG_IGN);
	ctx_init();
	ep = epoll_create1(0);
	if (ep < 0)
		die("epoll_create1: %s", strerror(errno));
	if (!strcmp(o.mode, "hs"))
		return mode_hs();
	if (!strcmp(o.mode, "idle"))
		return mode_idle();
	if (!strcmp(o.mode, "append"))
		return mode_append();
	if (!strcmp(o.mode, "fetch"))
		return mode_fetch();
	usage();
}
