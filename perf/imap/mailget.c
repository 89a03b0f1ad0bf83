/* perf/imap/mailget.c - the bulk-read client of perf/imap (issue 6).
 *
 * bench.py (Python) drives every row, but a Python loop over 5,000 RETR
 * answers or a 20 MB FETCH is slower than both servers: the client set the
 * rate (servers 25-50 % busy). This program does the two bulk reads in C,
 * the same code against Sluice and Dovecot:
 *
 *   mailget pop3  --host A --port P --user U --pass PW --expect FILE --size S [--window W]
 *   mailget fetch --host A --port P --user U --pass PW --expect FILE --size S
 *   mailget structure --host A --port P --user U --pass PW --expect FILE --size S
 *   (all: [--timeout S] [--max-mb M] [--rcvbuf BYTES: SO_RCVBUF, no autotuning])
 *
 * pop3: USER/PASS; then (measured) STAT and RETR of every message, at most
 * W commands in flight (RFC 2449 PIPELINING), refilled in one write once
 * half of them are answered. fetch: LOGIN; then (measured)
 * SELECT INBOX and `UID FETCH 1:* (FLAGS BODY.PEEK[])`. structure: LOGIN,
 * SELECT; then (measured) `UID FETCH 1:* (ENVELOPE BODYSTRUCTURE)`.
 *
 * FILE holds the messages as APPENDed, each exactly S bytes, message i
 * (0-based) being UID i+1 and POP3 message i+1. While the clock runs the
 * client only frames the answers (POP3: the "+OK" line and the next
 * CRLF "." CRLF; IMAP: lines and {n} literals up to the tagged reply) and
 * keeps them in one buffer. After the clock stops it checks every answer:
 * POP3 bodies dot-unstuffed and byte-compared with FILE (a body may gain a
 * final CRLF, RFC 1939 §3); IMAP: one FETCH per message, each with its
 * UID once and a literal byte-equal to that message (structure: with an
 * ENVELOPE that has the message's own subject and a BODYSTRUCTURE). Any
 * difference fails the run.
 *
 * The client must not be what a row waits for: the receive buffer is one
 * mapping, pre-faulted before the clock; reads are blocking recv calls
 * (SO_RCVTIMEO), one system call each; the framing looks for LF and '.'
 * with memchr, not at every byte.
 *
 * Handshake with the caller, which measures the server's CPU: after the
 * login the client prints "ready" and waits for a line on stdin; it starts
 * its clock when the line comes, prints "end" the moment the last answer
 * is in, then checks and prints one JSON object {ok, ops, bytes, seconds,
 * client_cpu_s[, error]} and exits 0 (all answers right) or 1. Every read
 * has a deadline (--timeout, 60 s); the buffer has a hard maximum
 * (--max-mb, 1024).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MG_LINE_MAX 8192      /* a status or command line */
#define MG_WINDOW_MAX 4096

typedef struct mg_opts {
	const char *mode, *host, *user, *pass, *expect;
	int port, window, rcvbuf;
	size_t size, max_bytes;
	double timeout;
} mg_opts_t;

static mg_opts_t o = {.window = 64, .timeout = 60, .max_bytes = (size_t)1024 << 20};

/* The receive buffer: everything the measured part read, kept for the
 * checks after the clock. */
typedef struct mg_buf {
	char *p;
	size_t len, cap;
	uint64_t rx; /* bytes received in all */
} mg_buf_t;

static int sock = -1;
static const char *exp_map; /* FILE, n_msgs * o.size bytes */
static size_t n_msgs;

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

	fprintf(stderr, "mailget: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void send_all(const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(sock, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			die("send: %s", w < 0 ? strerror(errno) : "closed");
		p += w;
		n -= (size_t)w;
	}
}

__attribute__((format(printf, 1, 2))) static void send_fmt(const char *fmt, ...)
{
	char line[MG_LINE_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line))
		die("command line too long");
	send_all(line, (size_t)n);
}

/* The receive buffer is one mapping of --max-mb, reserved but not
 * committed (MAP_NORESERVE), so it never moves or grows by copying; the
 * part the answers are expected to fill is pre-faulted before the clock
 * (buf_prefault), so that page faults are not measured either. */
static void buf_init(mg_buf_t *b)
{
	void *p = mmap(NULL, o.max_bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED)
		die("mmap of %zu MB: %s", o.max_bytes >> 20, strerror(errno));
	b->p = p;
	b->cap = o.max_bytes;
}

/* Touch the pages from the end of what is there up to BYTES more (at most
 * the buffer): writes to memory nothing will read before recv fills it. */
static void buf_prefault(mg_buf_t *b, size_t bytes)
{
	size_t end = b->len + bytes > b->cap ? b->cap : b->len + bytes;

	for (size_t i = (b->len + 4095) & ~(size_t)4095; i < end; i += 4096)
		((volatile char *)b->p)[i] = 0;
}

/* Read once more into B: a blocking recv that waits up to the timeout
 * (SO_RCVTIMEO, set in connect_to), one system call per read. */
static void fill(mg_buf_t *b)
{
	ssize_t r;

	if (b->cap - b->len < 4096)
		die("answer larger than --max-mb");
	for (;;) {
		r = recv(sock, b->p + b->len, b->cap - b->len, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			die("no answer within %.0f s", o.timeout);
		if (r < 0)
			die("recv: %s", strerror(errno));
		if (r == 0)
			die("the server closed the connection");
		b->len += (size_t)r;
		b->rx += (uint64_t)r;
		return;
	}
}

/* The first CRLF in [p, p+n): memchr for the LF, then its CR. NULL if none. */
static const char *find_crlf(const char *p, size_t n)
{
	const char *end = p + n, *q = p;

	while (q < end) {
		const char *lf = memchr(q, '\n', (size_t)(end - q));

		if (lf == NULL)
			return NULL;
		if (lf > p && lf[-1] == '\r')
			return lf - 1;
		q = lf + 1;
	}
	return NULL;
}

/* The first CRLF "." CRLF in [p, p+n) (the POP3 end line with the CRLF
 * before it), NULL if none: memchr for the dot, which is rare in mail
 * text, rather than a five-byte memmem that looks at every byte. */
static const char *find_pop3_end(const char *p, size_t n)
{
	const char *end = p + n, *q = p + 2;

	while (q + 3 <= end) {
		const char *d = memchr(q, '.', (size_t)(end - 2 - q));

		if (d == NULL)
			return NULL;
		if (d[-2] == '\r' && d[-1] == '\n' && d[1] == '\r' && d[2] == '\n')
			return d - 2;
		q = d + 1;
	}
	return NULL;
}

/* The line at *POS (CRLF included), reading more as needed; its length. */
static size_t line_at(mg_buf_t *b, size_t pos)
{
	for (;;) {
		const char *e = b->len > pos ? find_crlf(b->p + pos, b->len - pos) : NULL;

		if (e != NULL)
			return (size_t)(e - (b->p + pos)) + 2;
		if (b->len - pos > MG_LINE_MAX * 64)
			die("a line without CRLF");
		fill(b);
	}
}

static void connect_to(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)o.port)};
	int one = 1;

	if (inet_pton(AF_INET, o.host, &sa.sin_addr) != 1)
		die("--host must be an IPv4 address");
	sock = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (sock < 0)
		die("socket: %s", strerror(errno));
	/* --rcvbuf: a fixed receive buffer (no autotuning), set before the
	 * SYN so the window scale fits it; for experiments */
	if (o.rcvbuf > 0)
		setsockopt(sock, SOL_SOCKET, SO_RCVBUF, &o.rcvbuf, sizeof(o.rcvbuf));
	if (connect(sock, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("connect %s:%d: %s", o.host, o.port, strerror(errno));
	setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* every read waits at most --timeout (fill: EAGAIN) */
	{
		struct timeval tv = {.tv_sec = (time_t)o.timeout,
				     .tv_usec = (suseconds_t)((o.timeout - (double)(time_t)o.timeout) * 1e6)};

		if (setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
			die("SO_RCVTIMEO: %s", strerror(errno));
	}
}

/* What the measured answers should take in the buffer: each message with
 * room for its response line or a few stuffed dots, and 1 MB more. */
static size_t expected_bytes(void)
{
	return n_msgs * (o.size + o.size / 16 + 128) + ((size_t)1 << 20);
}

/* "ready", then the caller's go line; returns the start time. */
static double handshake(void)
{
	char line[64];

	printf("ready\n");
	fflush(stdout);
	if (fgets(line, sizeof(line), stdin) == NULL)
		die("no go line on stdin");
	return now_s();
}

static void finish(bool ok, uint64_t ops, uint64_t bytes, double secs, double cpu,
		   const char *error)
{
	printf("{\"ok\": %s, \"ops\": %" PRIu64 ", \"bytes\": %" PRIu64
	       ", \"seconds\": %.6f, \"client_cpu_s\": %.4f",
	       ok ? "true" : "false", ops, bytes, secs, cpu);
	if (error != NULL) {
		printf(", \"error\": \"");
		for (const char *p = error; *p; p++)
			putchar(*p == '"' || *p == '\\' || (unsigned char)*p < 0x20 ? '?' : *p);
		printf("\"");
	}
	printf("}\n");
	fflush(stdout);
	exit(ok ? 0 : 1);
}

/* ---- POP3 ---- */

typedef struct pop3_ans {
	size_t start, body, end; /* status line, body (after it), one past ".\r\n" */
} pop3_ans_t;

/* Body [p, p+n) of a multi-line answer, without its ".\r\n" end line,
 * dot-unstuffed, equal to message I (or to it plus a CRLF)? */
static bool pop3_body_ok(const char *p, size_t n, size_t i, char *scratch)
{
	const char *want = exp_map + i * o.size;
	size_t k = 0;
	bool bol = true;

	for (size_t j = 0; j < n; j++) {
		if (bol && p[j] == '.') {
			bol = false;
			continue; /* a stuffed dot (RFC 1939 §3) */
		}
		scratch[k++] = p[j];
		bol = p[j] == '\n';
	}
	return (k == o.size && memcmp(scratch, want, o.size) == 0) ||
	       (k == o.size + 2 && memcmp(scratch, want, o.size) == 0 &&
		memcmp(scratch + o.size, "\r\n", 2) == 0);
}

static void run_pop3(void)
{
	mg_buf_t b = {0};
	pop3_ans_t *ans;
	size_t pos = 0, n, sent = 0, done = 0, l;
	uint64_t rx0;
	double t0, t1, c0, c1;
	char *scratch, cmds[MG_WINDOW_MAX * 16];
	char errbuf[160];

	buf_init(&b);
	connect_to();
	l = line_at(&b, 0);
	if (strncmp(b.p, "+OK", 3) != 0)
		die("POP3 greeting: %.*s", (int)l, b.p);
	pos = l;
	send_fmt("USER %s\r\n", o.user);
	l = line_at(&b, pos);
	if (strncmp(b.p + pos, "+OK", 3) != 0)
		die("USER: %.*s", (int)l, b.p + pos);
	pos += l;
	send_fmt("PASS %s\r\n", o.pass);
	l = line_at(&b, pos);
	if (strncmp(b.p + pos, "+OK", 3) != 0)
		die("PASS: %.*s", (int)l, b.p + pos);
	pos += l;
	ans = calloc(n_msgs ? n_msgs : 1, sizeof(*ans));
	if (ans == NULL)
		die("out of memory");
	buf_prefault(&b, expected_bytes());

	t0 = handshake();
	c0 = cpu_s();
	send_fmt("STAT\r\n");
	l = line_at(&b, pos);
	if (strncmp(b.p + pos, "+OK ", 4) != 0)
		die("STAT: %.*s", (int)l, b.p + pos);
	n = strtoul(b.p + pos + 4, NULL, 10);
	pos += l;
	if (n != n_msgs)
		die("STAT says %zu messages, expected %zu", n, n_msgs);
	rx0 = b.rx - (b.len - pos);
	while (done < n) {
		size_t c = 0;

		/* The window is refilled once half of it is answered, with
		 * one send: a command per send would cost both the client
		 * and the server a packet (and a wake-up) per message. */
		if (sent - done <= (size_t)o.window / 2) {
			while (sent < n && sent - done < (size_t)o.window) {
				int w = snprintf(cmds + c, sizeof(cmds) - c, "RETR %zu\r\n", ++sent);

				c += (size_t)w;
			}
		}
		if (c > 0)
			send_all(cmds, c);
		/* Frame the next answer: its status line, then (for +OK) the
		 * first CRLF "." CRLF from that line's own CRLF on, so that an
		 * empty body (".\r\n" right after it) ends it too. */
		l = line_at(&b, pos);
		ans[done].start = pos;
		ans[done].body = pos + l;
		if (b.p[pos] != '+') {
			ans[done].end = pos + l; /* -ERR: no body; checked below */
		} else {
			size_t from = pos + l - 2;
			const char *e;

			while ((e = find_pop3_end(b.p + from, b.len - from)) == NULL) {
				from = b.len > from + 4 ? b.len - 4 : from;
				fill(&b);
			}
			ans[done].end = (size_t)(e - b.p) + 5;
		}
		pos = ans[done].end;
		done++;
	}
	t1 = now_s();
	c1 = cpu_s();
	printf("end\n");
	fflush(stdout);
	send_fmt("QUIT\r\n");

	/* stuffing adds at most one byte per line: a right body is < 2S+4 */
	scratch = malloc(2 * o.size + 8);
	if (scratch == NULL)
		die("out of memory");
	for (size_t i = 0; i < n; i++) {
		const pop3_ans_t *a = &ans[i];
		size_t blen;

		if (strncmp(b.p + a->start, "+OK", 3) != 0) {
			snprintf(errbuf, sizeof(errbuf), "RETR %zu: %.60s", i + 1, b.p + a->start);
			finish(false, n, b.rx - rx0, t1 - t0, c1 - c0, errbuf);
		}
		/* body: up to and including the CRLF before the end line */
		blen = a->end - 3 - a->body;
		if (a->end - 3 < a->body)
			blen = 0; /* ".\r\n" right after the status line */
		if (blen > 2 * o.size + 4 ||
		    !pop3_body_ok(b.p + a->body, blen, i, scratch)) {
			snprintf(errbuf, sizeof(errbuf), "RETR %zu: wrong bytes", i + 1);
			finish(false, n, b.rx - rx0, t1 - t0, c1 - c0, errbuf);
		}
	}
	finish(true, n, b.rx - rx0, t1 - t0, c1 - c0, NULL);
}

/* ---- IMAP ---- */

typedef struct imap_lit {
	size_t line; /* start of the response line the literal belongs to */
	size_t at, len;
} imap_lit_t;

/* Read responses from *POS up to the one tagged TAG; literals are skipped
 * (and recorded in LITS, up to *N_LITS < CAP, when LITS is not NULL).
 * Returns the offset of the tagged line. */
static size_t imap_until(mg_buf_t *b, size_t *pos, const char *tag, imap_lit_t *lits,
			 size_t *n_lits, size_t cap)
{
	size_t tl = strlen(tag);

	for (;;) {
		size_t start = *pos, l;

		for (;;) { /* one response: lines joined by literals */
			l = line_at(b, *pos);
			/* "{n}\r\n" (or "{n+}") at the end of the line */
			if (l >= 5 && b->p[*pos + l - 3] == '}') {
				size_t j = *pos + l - 4, v = 0, mul = 1;

				while (j > *pos && b->p[j] >= '0' && b->p[j] <= '9' && mul <= 1000000000) {
					v += (size_t)(b->p[j] - '0') * mul;
					mul *= 10;
					j--;
				}
				if (b->p[j] == '{' && j + 1 < *pos + l - 3) {
					if (v > o.max_bytes)
						die("a literal of %zu bytes", v);
					*pos += l;
					while (b->len - *pos < v)
						fill(b);
					if (lits != NULL) {
						if (*n_lits >= cap)
							die("more literals than messages");
						lits[*n_lits] = (imap_lit_t){start, *pos, v};
						(*n_lits)++;
					}
					*pos += v;
					continue;
				}
			}
			*pos += l;
			break;
		}
		if (strncmp(b->p + start, tag, tl) == 0 && b->p[start + tl] == ' ')
			return start;
	}
}

static bool imap_ok(const mg_buf_t *b, size_t at, const char *tag)
{
	size_t tl = strlen(tag);

	return strncmp(b->p + at + tl, " OK", 3) == 0;
}

/* The UID in a FETCH response line "* n FETCH (... UID u ...", 0 if none
 * before END. */
static uint64_t imap_uid(const char *p, const char *end)
{
	const char *u = memmem(p, (size_t)(end - p), "UID ", 4);

	if (u == NULL || (u > p && u[-1] != '(' && u[-1] != ' '))
		return 0;
	return strtoull(u + 4, NULL, 10);
}

/* The response [p, end) of a structure FETCH (its first line: ENVELOPE
 * and BODYSTRUCTURE of our messages need no literal): both items, and the
 * subject that the message of UID has. */
static bool structure_ok(const char *p, const char *end, uint64_t uid)
{
	char subj[64];
	int n = snprintf(subj, sizeof(subj), "\"bench message %" PRIu64 "\"", uid - 1);

	return memmem(p, (size_t)(end - p), "ENVELOPE (", 10) != NULL &&
	       memmem(p, (size_t)(end - p), "BODYSTRUCTURE (", 15) != NULL &&
	       memmem(p, (size_t)(end - p), subj, (size_t)n) != NULL;
}

/* fetch: SELECT + UID FETCH 1:* (FLAGS BODY.PEEK[]), SELECT measured;
 * structure: SELECT first, then UID FETCH 1:* (ENVELOPE BODYSTRUCTURE). */
static void run_fetch(bool structure)
{
	mg_buf_t b = {0};
	imap_lit_t *lits;
	size_t pos = 0, at, n_lits = 0, n_fetch = 0, *resp;
	uint64_t rx0;
	double t0 = 0, t1, c0 = 0, c1;
	unsigned char *seen;
	char errbuf[160];

	lits = calloc(n_msgs + 1, sizeof(*lits));
	resp = calloc(n_msgs + 1, sizeof(*resp));
	seen = calloc(n_msgs + 1, 1);
	if (lits == NULL || resp == NULL || seen == NULL)
		die("out of memory");
	buf_init(&b);
	connect_to();
	pos = line_at(&b, 0);
	if (strncmp(b.p, "* OK", 4) != 0)
		die("IMAP greeting: %.*s", (int)pos, b.p);
	send_fmt("l LOGIN \"%s\" \"%s\"\r\n", o.user, o.pass);
	at = imap_until(&b, &pos, "l", NULL, NULL, 0);
	if (!imap_ok(&b, at, "l"))
		die("LOGIN: %.80s", b.p + at);

	buf_prefault(&b, expected_bytes());
	if (!structure) {
		t0 = handshake();
		c0 = cpu_s();
	}
	send_fmt("s SELECT INBOX\r\n");
	at = imap_until(&b, &pos, "s", NULL, NULL, 0);
	if (!imap_ok(&b, at, "s"))
		die("SELECT: %.80s", b.p + at);
	if (structure) {
		t0 = handshake();
		c0 = cpu_s();
	}
	rx0 = b.rx - (b.len - pos);
	send_fmt(structure ? "f UID FETCH 1:* (ENVELOPE BODYSTRUCTURE)\r\n"
			   : "f UID FETCH 1:* (FLAGS BODY.PEEK[])\r\n");
	{
		size_t from = pos;

		at = imap_until(&b, &pos, "f", lits, &n_lits, n_msgs + 1);
		t1 = now_s();
		c1 = cpu_s();
		printf("end\n");
		fflush(stdout);
		send_fmt("o LOGOUT\r\n");
		/* the untagged FETCH responses, checked now the clock is off */
		for (size_t p = from, k = 0; p < at;) {
			char *e = memmem(b.p + p, at - p, "\r\n", 2);
			size_t ll = e ? (size_t)(e - (b.p + p)) + 2 : at - p;
			bool cont = k > 0 && lits[k - 1].at + lits[k - 1].len == p;

			/* a response's first line (not the rest after a literal) */
			if (!cont && ll > 4 && b.p[p] == '*' &&
			    memmem(b.p + p, ll, " FETCH (", 8) != NULL) {
				if (n_fetch <= n_msgs)
					resp[n_fetch] = p;
				n_fetch++;
			}
			p += ll;
			if (k < n_lits && lits[k].at == p) /* the literal this line announced */
				p += lits[k++].len;
		}
	}
	if (!imap_ok(&b, at, "f")) {
		snprintf(errbuf, sizeof(errbuf), "FETCH: %.80s", b.p + at);
		finish(false, n_fetch, b.rx - rx0, t1 - t0, c1 - c0, errbuf);
	}
	if (n_fetch != n_msgs || n_lits != (structure ? 0 : n_msgs)) {
		snprintf(errbuf, sizeof(errbuf), "%zu FETCH responses and %zu literals for %zu messages",
			 n_fetch, n_lits, n_msgs);
		finish(false, n_fetch, b.rx - rx0, t1 - t0, c1 - c0, errbuf);
	}
	for (size_t k = 0; k < n_fetch; k++) {
		const char *line = b.p + resp[k];
		const char *eol = memmem(line, (size_t)(b.p + at - line), "\r\n", 2);
		const char *upto = structure ? eol : b.p + lits[k].at;
		uint64_t uid = imap_uid(line, upto);

		if (uid == 0 || uid > n_msgs || seen[uid]) {
			snprintf(errbuf, sizeof(errbuf), "FETCH response %zu: UID %" PRIu64
				 " missing, out of range or twice", k + 1, uid);
			finish(false, n_fetch, b.rx - rx0, t1 - t0, c1 - c0, errbuf);
		}
		seen[uid] = 1;
		if (structure ? !structure_ok(line, eol, uid)
			      : lits[k].line != resp[k] || lits[k].len != o.size ||
					memcmp(b.p + lits[k].at, exp_map + (uid - 1) * o.size,
					       o.size) != 0) {
			snprintf(errbuf, sizeof(errbuf), "UID %" PRIu64 ": wrong %s", uid,
				 structure ? "ENVELOPE/BODYSTRUCTURE" : "body bytes");
			finish(false, n_fetch, b.rx - rx0, t1 - t0, c1 - c0, errbuf);
		}
	}
	finish(true, n_fetch, b.rx - rx0, t1 - t0, c1 - c0, NULL);
}

static void load_expect(void)
{
	struct stat st;
	int fd = open(o.expect, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) < 0)
		die("%s: %s", o.expect, strerror(errno));
	if (o.size == 0 || st.st_size == 0 || (size_t)st.st_size % o.size != 0)
		die("%s: %jd bytes is not a whole number of %zu-byte messages", o.expect,
		    (intmax_t)st.st_size, o.size);
	n_msgs = (size_t)st.st_size / o.size;
	exp_map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (exp_map == MAP_FAILED)
		die("mmap %s: %s", o.expect, strerror(errno));
	close(fd);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"host", 1, 0, 'h'},   {"port", 1, 0, 'p'},    {"user", 1, 0, 'u'},
		{"pass", 1, 0, 'w'},   {"expect", 1, 0, 'e'},  {"size", 1, 0, 's'},
		{"window", 1, 0, 'W'}, {"timeout", 1, 0, 't'}, {"max-mb", 1, 0, 'm'},
		{"rcvbuf", 1, 0, 'r'},
		{0, 0, 0, 0}};
	int c;

	if (argc < 2)
		die("usage: mailget pop3|fetch|structure --host A --port P --user U --pass PW --expect FILE "
		    "--size S [--window W] [--timeout S] [--max-mb M]");
	o.mode = argv[1];
	optind = 2;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'h': o.host = optarg; break;
		case 'p': o.port = atoi(optarg); break;
		case 'u': o.user = optarg; break;
		case 'w': o.pass = optarg; break;
		case 'e': o.expect = optarg; break;
		case 's': o.size = strtoul(optarg, NULL, 10); break;
		case 'W': o.window = atoi(optarg); break;
		case 't': o.timeout = atof(optarg); break;
		case 'r': o.rcvbuf = atoi(optarg); break;
		case 'm': o.max_bytes = strtoul(optarg, NULL, 10) << 20; break;
		default: die("unknown option");
		}
	}
	if (!o.host || !o.user || !o.pass || !o.expect || o.port <= 0 || o.port > 65535)
		die("--host, --port, --user, --pass and --expect are needed");
	if (o.window < 1 || o.window > MG_WINDOW_MAX)
		die("--window: 1..%d", MG_WINDOW_MAX);
	if (o.timeout <= 0 || o.max_bytes < ((size_t)8 << 20))
		die("--timeout > 0, --max-mb >= 8");
	if (strpbrk(o.user, "\"\\\r\n") || strpbrk(o.pass, "\"\\\r\n"))
		die("user and password must not need quoting");
	load_expect();
	if (strcmp(o.mode, "pop3") == 0)
		run_pop3();
	else if (strcmp(o.mode, "fetch") == 0)
		run_fetch(false);
	else if (strcmp(o.mode, "structure") == 0)
		run_fetch(true);
	die("mode must be pop3, fetch or structure");
}
