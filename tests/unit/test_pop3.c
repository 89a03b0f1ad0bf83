/* test_pop3 - the POP3 engine, as transcripts.
 *
 * Each case is a script of client lines and expected replies, run three
 * times: each client payload in one input call, one byte per call, and in
 * random splits; FETCH answers are cut into pieces the same way. All three
 * must give the same transcript. Requests are answered by a fake
 * directory/store ("auto"), or by Q: steps ("manual").
 *
 * Script steps:
 *   C:text   client sends text + CRLF       R:raw  client sends raw bytes
 *   S:line   next reply line is exactly     S*pfx  next reply line starts with
 *   D        discard all output received so far
 *   E        skip lines up to and including a "." line (rest of a listing)
 *   Y:n      next is "+OK size octets" and message n, byte-identical
 *   N        no reply is pending            X      the session is closing
 *   T:secs   advance the clock, call pop3_session_timeout
 *   M:manual / M:auto                       O:opt  harness option
 *   Q:KIND RESULT  assert the pending request and complete it
 *   U:ids    the last UPDATE carried these ids ("1,3")
 *   P:KIND   this request is pending (not completed) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pop3/pop3_session.h"
#include "sl_buf.h"
#include "sl_err.h"
#include "sl_time.h"

#define HOST "pop.example.net"

/* ---- the fake maildrops ---- */

struct fmsg {
	const char *uid;
	const char *body;
	size_t len; /* 0: strlen(body) */
};

static const struct fmsg alice_msgs[] = {
	{"uid-one", "Subject: one\r\n\r\nHello.\r\n", 0},
	{"uid-two", "Subject: dots\r\n\r\n.leading dot\r\n..two\r\n.\r\nend\r\n", 0},
	{"uid-three", "Subject: x\r\nFrom: a\r\n\r\nline1\r\nline2\r\nline3", 0},
	{"uid-four", ".\r\n", 0},
};
#define ALICE_N 4

static const struct fmsg lf_msgs[] = {
	{"lf1", "Subject: lf\n\nbody1\n.dot\nbody3\n", 0},
	{"lf2", "No-Blank-Line: here\r\nOther: x\r\n", 0},
	{"lf3", "", 0},
	{"lf4", "A: b\r\n\r\nbinary\0with NUL\r\n", 25},
};
#define LF_N 4

static char big_body[300000];
static size_t big_len;

static void big_init(void)
{
	size_t n = 0;

	if (big_len)
		return;
	n += (size_t)snprintf(big_body, sizeof(big_body), "Subject: big\r\n\r\n");
	for (unsigned i = 0; n + 64 < sizeof(big_body); i++)
		n += (size_t)snprintf(big_body + n, sizeof(big_body) - n, "%sline %u of the big one\r\n",
				      (i % 7 == 0) ? "." : "", i);
	big_len = n;
}

static const struct fmsg *fake_maildrop(sl_slice_t user, size_t *n_r)
{
	static struct fmsg big[1];

	if (user.len == 17 && !memcmp(user.ptr, "alice@example.com", 17)) {
		*n_r = ALICE_N;
		return alice_msgs;
	}
	if (user.len == 3 && !memcmp(user.ptr, "lfu", 3)) {
		*n_r = LF_N;
		return lf_msgs;
	}
	if (user.len == 3 && !memcmp(user.ptr, "big", 3)) {
		big_init();
		big[0].uid = "big-1";
		big[0].body = big_body;
		big[0].len = big_len;
		*n_r = 1;
		return big;
	}
	*n_r = 0;
	return NULL;
}

static size_t fmsg_len(const struct fmsg *m)
{
	return m->len ? m->len : strlen(m->body);
}

struct h {
	struct pop3_config cfg;
	struct pop3_stats stats;
	struct pop3_peer peer;
	pop3_session_t *s;
	uint64_t now;
	bool manual;
	int mode;
	unsigned seed;
	const char *name;
	int step;
	sl_buf_t backlog;
	sl_buf_t out;
	bool sending;
	const struct fmsg *drop;
	size_t ndrop;
	size_t drop_cap;    /* O:cap=n: list only n messages */
	int short_by;       /* O:short: bodies 5 bytes shorter than listed */
	bool fetch_fail;    /* O:fetchfail: every FETCH fails */
	int fetch_fail_at;  /* O:fetchfail2: the second FETCH of a message fails */
	int fetches;
	bool update_fail;
	char update_ids[256];
};

static bool slice_is(sl_slice_t s, const char *lit)
{
	return s.len == strlen(lit) && memcmp(s.ptr, lit, s.len) == 0;
}

static enum pop3_auth_status fake_auth(const struct pop3_request *r, const char **user_r)
{
	sl_slice_t u = r->u.auth.authcid, p = r->u.auth.password;

	*user_r = NULL;
	if (slice_is(u, "temp"))
		return POP3_AUTH_TEMPFAIL;
	if (r->u.auth.authzid.len && !slice_is(r->u.auth.authzid, "alice"))
		return POP3_AUTH_FAIL;
	if (slice_is(u, "alice") && slice_is(p, "secret")) {
		*user_r = "alice@example.com";
		return POP3_AUTH_OK;
	}
	if (slice_is(u, "pass word") && slice_is(p, " with spaces ")) {
		*user_r = "alice@example.com";
		return POP3_AUTH_OK;
	}
	if ((slice_is(u, "locked") || slice_is(u, "broken") || slice_is(u, "empty") ||
	     slice_is(u, "big") || slice_is(u, "lfu")) &&
	    slice_is(p, "pw"))
		return POP3_AUTH_OK;
	return POP3_AUTH_FAIL;
}

static void h_maildrop(struct h *h, enum pop3_maildrop_status want)
{
	const struct pop3_request *r = pop3_session_request(h->s);
	size_t n;

	assert_non_null(r);
	assert_int_equal(r->kind, POP3_REQ_MAILDROP);
	h->drop = fake_maildrop(r->u.maildrop.user, &n);
	h->ndrop = n;
	if (want == POP3_MAILDROP_OK) {
		for (size_t i = 0; i < n; i++) {
			const struct fmsg *m = &h->drop[i];
			int rc = pop3_session_msg_add(h->s, 1000 + i, fmsg_len(m),
						      sl_slice_make(m->uid, strlen(m->uid)));

			if (h->drop_cap && i >= h->drop_cap) {
				assert_int_equal(rc, SL_ELIMIT);
				break;
			}
			assert_int_equal(rc, 0);
		}
	}
	pop3_session_maildrop_done(h->s, h->now, want);
}

static enum pop3_maildrop_status fake_maildrop_status(const struct pop3_request *r)
{
	if (slice_is(r->u.maildrop.user, "locked"))
		return POP3_MAILDROP_IN_USE;
	if (slice_is(r->u.maildrop.user, "broken"))
		return POP3_MAILDROP_TEMPFAIL;
	return POP3_MAILDROP_OK;
}

/* h_fetch - answer a FETCH from the fake maildrop, in pieces that depend
 * on the mode. */
static void h_fetch(struct h *h)
{
	const struct pop3_request *r = pop3_session_request(h->s);
	const struct fmsg *m;
	size_t len, off, end, i;

	assert_non_null(r);
	assert_int_equal(r->kind, POP3_REQ_FETCH);
	assert_true(r->u.fetch.id >= 1000 && r->u.fetch.id < 1000 + h->ndrop);
	assert_int_equal(r->u.fetch.msg, r->u.fetch.id - 1000 + 1);
	assert_true(r->u.fetch.len >= 1 && r->u.fetch.len <= h->cfg.fetch_max);
	m = &h->drop[r->u.fetch.id - 1000];
	len = fmsg_len(m);
	if (h->short_by && len >= (size_t)h->short_by)
		len -= (size_t)h->short_by;
	h->fetches++;
	if (h->fetch_fail || (h->fetch_fail_at && h->fetches == h->fetch_fail_at)) {
		if (h->fetch_fail_at)
			pop3_session_fetch_data(h->s, sl_slice_make(m->body, 3));
		pop3_session_fetch_done(h->s, h->now, SL_EIO);
		return;
	}
	off = r->u.fetch.offset;
	end = off + r->u.fetch.len;
	if (off > len)
		off = len;
	if (end > len)
		end = len;
	for (i = off; i < end;) {
		size_t k = end - i;

		if (h->mode == 1)
			k = k > 1 ? 1 + (i % 3) : k;
		else if (h->mode == 2)
			k = 1 + (size_t)(rand_r(&h->seed) % 4096);
		if (k > end - i)
			k = end - i;
		assert_int_equal(pop3_session_fetch_data(h->s, sl_slice_make(m->body + i, k)), 0);
		i += k;
	}
	pop3_session_fetch_done(h->s, h->now, 0);
}

static void h_update_record(struct h *h, const struct pop3_request *r)
{
	size_t n = 0;

	h->update_ids[0] = '\0';
	for (size_t i = 0; i < r->u.update.n_ids; i++)
		n += (size_t)snprintf(h->update_ids + n, sizeof(h->update_ids) - n, "%s%" PRIu64,
				      i ? "," : "", r->u.update.ids[i] - 1000 + 1);
}

/* h_autocomplete - answer the pending request like the glue would. */
static bool h_autocomplete(struct h *h)
{
	const struct pop3_request *r = pop3_session_request(h->s);
	const char *user;
	enum pop3_auth_status st;

	if (r == NULL)
		return false;
	switch (r->kind) {
	case POP3_REQ_AUTH:
		st = fake_auth(r, &user);
		pop3_session_auth_done(h->s, h->now, st, user);
		break;
	case POP3_REQ_MAILDROP:
		h_maildrop(h, fake_maildrop_status(r));
		break;
	case POP3_REQ_FETCH:
		h_fetch(h);
		break;
	case POP3_REQ_UPDATE:
		h_update_record(h, r);
		pop3_session_update_done(h->s, h->now, !h->update_fail);
		break;
	case POP3_REQ_STLS:
		if (h->sending)
			return false;
		pop3_session_tls_done(h->s, h->now, true);
		break;
	default:
		fail_msg("unknown request kind %d", r->kind);
	}
	return true;
}

/* ---- harness ---- */

typedef void setup_fn(struct pop3_config *c, struct pop3_peer *p);

static void h_init(struct h *h, setup_fn *setup, int mode, const char *name)
{
	memset(h, 0, sizeof(*h));
	pop3_config_defaults(&h->cfg);
	h->cfg.hostname = HOST;
	h->cfg.stats = &h->stats;
	h->cfg.allow_plaintext_auth = true;
	h->cfg.auth_fail_delay_us = 0;
	h->peer.client_ip = "192.0.2.10";
	h->peer.conn_id = 42;
	if (setup)
		setup(&h->cfg, &h->peer);
	h->mode = mode;
	h->seed = 777u + (unsigned)mode;
	h->name = name;
	h->now = 1000 * SL_US_PER_S;
	sl_buf_init(&h->backlog, 1u << 24);
	sl_buf_init(&h->out, 1u << 24);
	assert_int_equal(pop3_session_create(&h->cfg, &h->peer, h->now, &h->s), 0);
}

static void h_fini(struct h *h)
{
	pop3_session_destroy(&h->s);
	assert_null(h->s);
	pop3_session_destroy(&h->s); /* NULL is a no-op */
	sl_buf_free(&h->backlog);
	sl_buf_free(&h->out);
}

static bool h_drain(struct h *h)
{
	bool any = false;

	for (;;) {
		sl_slice_t o = pop3_session_output(h->s);
		size_t n = o.len;

		if (n == 0)
			return any;
		/* mode 2: the network takes part of it at a time */
		if (h->mode == 2 && n > 1)
			n = 1 + (size_t)(rand_r(&h->seed) % n);
		assert_int_equal(sl_buf_append(&h->out, o.ptr, n), 0);
		pop3_session_output_consume(h->s, h->now, n);
		any = true;
	}
}

static void h_pump(struct h *h)
{
	for (;;) {
		bool progress = false;

		if (h->backlog.len > 0) {
			size_t used = 0;
			int rc = pop3_session_input(h->s, h->now, h->backlog.data, h->backlog.len, &used);

			assert_true(rc == 0 || rc == SL_ECLOSED);
			assert_true(used <= h->backlog.len);
			sl_buf_consume(&h->backlog, used);
			progress = used > 0;
		}
		if (h_drain(h))
			progress = true;
		if (!h->manual && h_autocomplete(h))
			progress = true;
		if (!progress)
			return;
	}
}

static void h_send(struct h *h, const char *p, size_t n)
{
	size_t i = 0;

	h->sending = true;
	while (i < n) {
		size_t k = n - i;

		if (h->mode == 1)
			k = 1;
		else if (h->mode == 2)
			k = 1 + (size_t)(rand_r(&h->seed) % 7);
		if (k > n - i)
			k = n - i;
		assert_int_equal(sl_buf_append(&h->backlog, p + i, k), 0);
		h_pump(h);
		i += k;
	}
	h->sending = false;
	h_pump(h);
}

static void h_fail(const struct h *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void h_fail(const struct h *h, const char *fmt, ...)
{
	char m[8192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(m, sizeof(m), fmt, ap);
	va_end(ap);
	fail_msg("%s [mode %d] step %d: %s", h->name, h->mode, h->step, m);
}
#define H_FAIL(h, ...) h_fail((h), __VA_ARGS__)

/* h_line - pop the next complete reply line (without CRLF) into BUF. */
static bool h_line(struct h *h, char *buf, size_t size)
{
	uint8_t *e;
	size_t n;

	if (h->out.len == 0)
		return false;
	e = memmem(h->out.data, h->out.len, "\r\n", 2);
	if (e == NULL)
		H_FAIL(h, "reply without CRLF: \"%.*s\"", (int)h->out.len, h->out.data);
	n = (size_t)(e - h->out.data);
	if (n >= size)
		n = size - 1;
	memcpy(buf, h->out.data, n);
	buf[n] = '\0';
	sl_buf_consume(&h->out, (size_t)(e - h->out.data) + 2);
	return true;
}

static void h_expect(struct h *h, const char *want, bool prefix)
{
	char got[2048];

	if (!h_line(h, got, sizeof(got)))
		H_FAIL(h, "expected \"%s\", got no reply", want);
	if (prefix ? strncmp(got, want, strlen(want)) != 0 : strcmp(got, want) != 0)
		H_FAIL(h, "expected \"%s\"%s, got \"%s\"", want, prefix ? "..." : "", got);
}

static void h_skip_listing(struct h *h)
{
	char got[2048];

	for (;;) {
		if (!h_line(h, got, sizeof(got)))
			H_FAIL(h, "listing without terminator");
		if (!strcmp(got, "."))
			return;
	}
}

/* h_retr - "+OK n octets", then message N unstuffed must equal the body
 * (plus the CRLF the engine adds to a body that does not end in one). */
static void h_retr(struct h *h, int n)
{
	const struct fmsg *m;
	char first[128], want_first[128];
	size_t len, i = 0, o = 0;
	uint8_t *buf;
	uint8_t *term;
	const uint8_t *p;
	size_t plen;

	if (h->drop == NULL || n < 1 || (size_t)n > h->ndrop)
		H_FAIL(h, "Y:%d: no such fake message", n);
	m = &h->drop[n - 1];
	len = fmsg_len(m);
	snprintf(want_first, sizeof(want_first), "+OK %zu octets", len);
	if (!h_line(h, first, sizeof(first)) || strcmp(first, want_first) != 0)
		H_FAIL(h, "expected \"%s\", got \"%s\"", want_first, first);
	p = h->out.data;
	plen = h->out.len;
	if (plen >= 3 && !memcmp(p, ".\r\n", 3)) {
		term = (uint8_t *)p - 2;
	} else {
		term = memmem(p, plen, "\r\n.\r\n", 5);
		if (term == NULL)
			H_FAIL(h, "no terminator in %zu bytes", plen);
	}
	buf = malloc(len + 8);
	assert_non_null(buf);
	/* unstuff: drop the first '.' of every line (after any LF) */
	{
		size_t body_end = (size_t)(term - p) + 2;
		bool bol = true;

		for (i = 0; i < body_end; i++) {
			if (bol && p[i] == '.') {
				bol = false;
				continue;
			}
			if (o >= len + 4)
				H_FAIL(h, "message %d: longer than expected", n);
			buf[o++] = p[i];
			bol = p[i] == '\n';
		}
		sl_buf_consume(&h->out, body_end + 3);
	}
	if (len > 0 && (len < 2 || memcmp(m->body + len - 2, "\r\n", 2) != 0)) {
		/* the engine ends the last line */
		if (o != len + 2 || memcmp(buf + len, "\r\n", 2) != 0)
			H_FAIL(h, "message %d: missing added CRLF (%zu vs %zu)", n, o, len);
		o -= 2;
	}
	if (o != len || memcmp(buf, m->body, len) != 0)
		H_FAIL(h, "message %d differs (%zu vs %zu bytes)", n, o, len);
	free(buf);
}

static enum pop3_req_kind h_kind(const char *w)
{
	if (!strncmp(w, "AUTH", 4))
		return POP3_REQ_AUTH;
	if (!strncmp(w, "MAILDROP", 8))
		return POP3_REQ_MAILDROP;
	if (!strncmp(w, "FETCH", 5))
		return POP3_REQ_FETCH;
	if (!strncmp(w, "UPDATE", 6))
		return POP3_REQ_UPDATE;
	if (!strncmp(w, "TLS", 3))
		return POP3_REQ_STLS;
	return POP3_REQ_NONE;
}

static void h_complete(struct h *h, const char *arg)
{
	const struct pop3_request *r = pop3_session_request(h->s);
	const char *res = strchr(arg, ' ');
	enum pop3_req_kind k = h_kind(arg);

	if (r == NULL || r->kind != k)
		H_FAIL(h, "expected request %s, pending %d", arg, r ? (int)r->kind : 0);
	res = res ? res + 1 : "";
	switch (k) {
	case POP3_REQ_AUTH: {
		const char *user;

		fake_auth(r, &user);
		pop3_session_auth_done(h->s, h->now,
				       !strcmp(res, "OK")     ? POP3_AUTH_OK
				       : !strcmp(res, "FAIL") ? POP3_AUTH_FAIL
							      : POP3_AUTH_TEMPFAIL,
				       user);
		break;
	}
	case POP3_REQ_MAILDROP:
		h_maildrop(h, !strcmp(res, "OK")       ? POP3_MAILDROP_OK
			      : !strcmp(res, "INUSE") ? POP3_MAILDROP_IN_USE
						      : POP3_MAILDROP_TEMPFAIL);
		break;
	case POP3_REQ_FETCH:
		if (!strcmp(res, "OK"))
			h_fetch(h);
		else
			pop3_session_fetch_done(h->s, h->now, SL_EIO);
		break;
	case POP3_REQ_UPDATE:
		h_update_record(h, r);
		pop3_session_update_done(h->s, h->now, !strcmp(res, "OK"));
		break;
	case POP3_REQ_STLS:
		pop3_session_tls_done(h->s, h->now, !strcmp(res, "OK"));
		break;
	default:
		H_FAIL(h, "bad Q: step %s", arg);
	}
	h_pump(h);
}

static void h_option(struct h *h, const char *a)
{
	if (!strcmp(a, "updatefail"))
		h->update_fail = true;
	else if (!strcmp(a, "fetchfail"))
		h->fetch_fail = true;
	else if (!strcmp(a, "fetchfail2"))
		h->fetch_fail_at = h->fetches + 2;
	else if (!strcmp(a, "short"))
		h->short_by = 5;
	else if (!strncmp(a, "cap=", 4))
		h->drop_cap = (size_t)atoi(a + 4);
	else if (!strcmp(a, "ok"))
		h->fetch_fail = h->update_fail = false;
	else
		H_FAIL(h, "bad option %s", a);
}

static void h_run(struct h *h, const char *const *script)
{
	h_pump(h);
	for (h->step = 0; script[h->step]; h->step++) {
		const char *st = script[h->step];
		const char *a = st + 2;

		switch (st[0]) {
		case 'C': {
			size_t n = strlen(a);
			char *buf = malloc(n + 2);

			assert_non_null(buf);
			memcpy(buf, a, n);
			buf[n] = '\r';
			buf[n + 1] = '\n';
			h_send(h, buf, n + 2);
			free(buf);
			break;
		}
		case 'R': {
			/* "^@" stands for a NUL byte */
			size_t n = 0;
			char *buf = malloc(strlen(a) + 1);

			assert_non_null(buf);
			for (const char *q = a; *q; q++) {
				if (q[0] == '^' && q[1] == '@') {
					buf[n++] = '\0';
					q++;
				} else {
					buf[n++] = *q;
				}
			}
			h_send(h, buf, n);
			free(buf);
			break;
		}
		case 'D':
			sl_buf_reset(&h->out);
			break;
		case 'S':
			h_expect(h, a, st[1] == '*');
			break;
		case 'E':
			h_skip_listing(h);
			break;
		case 'Y':
			h_retr(h, atoi(a));
			break;
		case 'N':
			if (h->out.len != 0)
				H_FAIL(h, "unexpected reply \"%.*s\"", (int)h->out.len, h->out.data);
			break;
		case 'X':
			if (!pop3_session_closing(h->s))
				H_FAIL(h, "session should be closing");
			break;
		case 'T':
			h->now += (uint64_t)atoi(a) * SL_US_PER_S;
			pop3_session_timeout(h->s, h->now);
			h_pump(h);
			break;
		case 'M':
			h->manual = !strcmp(a, "manual");
			h_pump(h);
			break;
		case 'O':
			h_option(h, a);
			break;
		case 'Q':
			h_complete(h, a);
			break;
		case 'P': {
			const struct pop3_request *r = pop3_session_request(h->s);

			if (r == NULL || r->kind != h_kind(a))
				H_FAIL(h, "expected pending %s, have %d", a, r ? (int)r->kind : 0);
			break;
		}
		case 'U':
			if (strcmp(h->update_ids, a) != 0)
				H_FAIL(h, "update ids \"%s\", expected \"%s\"", h->update_ids, a);
			break;
		default:
			H_FAIL(h, "bad step \"%s\"", st);
		}
	}
	if (h->out.len != 0)
		H_FAIL(h, "unexpected trailing reply \"%.*s\"", (int)h->out.len, h->out.data);
}

struct tcase {
	const char *name;
	setup_fn *setup;
	const char *const *script;
};

static void run_case(void **state)
{
	const struct tcase *tc = *state;

	for (int mode = 0; mode < 3; mode++) {
		struct h h;

		h_init(&h, tc->setup, mode, tc->name);
		h_run(&h, tc->script);
		h_fini(&h);
	}
}

/* ---- configurations ---- */

static void cf_tls_required(struct pop3_config *c, struct pop3_peer *p)
{
	(void)p;
	c->allow_plaintext_auth = false;
	c->stls_available = true;
}

static void cf_stls(struct pop3_config *c, struct pop3_peer *p)
{
	(void)p;
	c->stls_available = true;
}

static void cf_implicit_tls(struct pop3_config *c, struct pop3_peer *p)
{
	c->allow_plaintext_auth = false;
	c->stls_available = true;
	p->tls_active = true;
}

static void cf_delay(struct pop3_config *c, struct pop3_peer *p)
{
	(void)p;
	c->auth_fail_delay_us = 2 * SL_US_PER_S;
}

static void cf_errors3(struct pop3_config *c, struct pop3_peer *p)
{
	(void)p;
	c->errors_max = 3;
}

static void cf_errors99(struct pop3_config *c, struct pop3_peer *p)
{
	(void)p;
	c->errors_max = 99;
}

static void cf_small_out(struct pop3_config *c, struct pop3_peer *p)
{
	(void)p;
	c->fetch_max = 512;
	c->output_max = 2 * 512 + 4096;
}

static void cf_msgs2(struct pop3_config *c, struct pop3_peer *p)
{
	(void)p;
	c->msgs_max = 2;
}

/* ---- the transcripts ---- */

#define GREET "S:+OK " HOST " Sluice POP3 ready"
#define LOGIN "C:USER alice", "S:+OK", "C:PASS secret", \
	"S:+OK Logged in, maildrop has 4 messages (115 octets)"
#define BYE "S:+OK " HOST " Sluice POP3 signing off"
#define A64 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define CASE(n, setup, ...) {#n, setup, (const char *const[]){__VA_ARGS__, NULL}}

/* alice's sizes: 24 + 46 + 42 + 3 = 115 */

static const struct tcase cases[] = {
	CASE(basic_session, NULL, GREET, LOGIN, "C:STAT", "S:+OK 4 115", "C:LIST",
	     "S:+OK 4 messages (115 octets)", "S:1 24", "S:2 46", "S:3 42", "S:4 3", "S:.",
	     "C:RETR 1", "Y:1", "C:QUIT", BYE, "X"),
	CASE(retr_every_message, NULL, GREET, LOGIN, "C:RETR 1", "Y:1", "C:RETR 2", "Y:2",
	     "C:RETR 3", "Y:3", "C:RETR 4", "Y:4", "C:QUIT", BYE),
	CASE(retr_stuffing_on_the_wire, NULL, GREET, LOGIN, "C:RETR 2", "S:+OK 46 octets",
	     "S:Subject: dots", "S:", "S:..leading dot", "S:...two", "S:..", "S:end", "S:.",
	     "C:RETR 4", "S:+OK 3 octets", "S:..", "S:.", "C:RETR 3", "S:+OK 42 octets",
	     "S:Subject: x", "S:From: a", "S:", "S:line1", "S:line2", "S:line3", "S:.", "C:QUIT",
	     BYE),
	CASE(list_and_uidl_single, NULL, GREET, LOGIN, "C:LIST 2", "S:+OK 2 46", "C:UIDL 3",
	     "S:+OK 3 uid-three", "C:UIDL", "S:+OK Unique-ID listing follows", "S:1 uid-one",
	     "S:2 uid-two", "S:3 uid-three", "S:4 uid-four", "S:.", "C:LIST 0",
	     "S:-ERR No such message, only 4 messages in maildrop", "C:LIST 5",
	     "S:-ERR No such message, only 4 messages in maildrop", "C:UIDL 9",
	     "S:-ERR No such message, only 4 messages in maildrop", "C:LIST 1 2",
	     "S:-ERR Syntax: LIST [msg]", "C:UIDL 1 2", "S:-ERR Syntax: UIDL [msg]",
	     "C:LIST x", "S:-ERR Invalid message number", "C:QUIT", BYE),
	CASE(dele_rset_and_listings, NULL, GREET, LOGIN, "C:DELE 2",
	     "S:+OK Message 2 deleted", "C:DELE 2", "S:-ERR Message 2 already deleted",
	     "C:RETR 2", "S:-ERR Message 2 already deleted", "C:LIST 2",
	     "S:-ERR Message 2 already deleted", "C:TOP 2 0", "S:-ERR Message 2 already deleted",
	     "C:UIDL 2", "S:-ERR Message 2 already deleted", "C:STAT", "S:+OK 3 69", "C:LIST",
	     "S:+OK 3 messages (69 octets)", "S:1 24", "S:3 42", "S:4 3", "S:.", "C:UIDL",
	     "S*+OK", "S:1 uid-one", "S:3 uid-three", "S:4 uid-four", "S:.", "C:RSET",
	     "S:+OK Maildrop has 4 messages (115 octets)", "C:STAT", "S:+OK 4 115", "C:QUIT",
	     BYE, "X"),
	CASE(update_commits_deletions, NULL, GREET, LOGIN, "C:DELE 1", "S*+OK", "C:DELE 3",
	     "S*+OK", "M:manual", "C:QUIT", "N", "P:UPDATE", "Q:UPDATE OK", "U:1,3",
	     "S:+OK " HOST " Sluice POP3 signing off (2 messages deleted)", "X"),
	CASE(update_failure, NULL, GREET, LOGIN, "O:updatefail", "C:DELE 4", "S*+OK", "C:QUIT",
	     "S:-ERR [SYS/TEMP] Some deleted messages not removed", "U:4", "X"),
	CASE(quit_without_deletions_no_update, NULL, GREET, LOGIN, "C:DELE 1", "S*+OK",
	     "C:RSET", "S*+OK", "M:manual", "C:QUIT", BYE, "X"),
	CASE(rset_then_dele_again, NULL, GREET, LOGIN, "C:DELE 1", "S*+OK", "C:RSET", "S*+OK",
	     "C:DELE 4", "S*+OK", "C:QUIT", "S*+OK " HOST, "U:4", "X"),
	CASE(top_variants, NULL, GREET, LOGIN, "C:TOP 3 0", "S:+OK Top of message follows",
	     "S:Subject: x", "S:From: a", "S:", "S:.", "C:TOP 3 1", "S*+OK", "S:Subject: x",
	     "S:From: a", "S:", "S:line1", "S:.", "C:TOP 3 2", "S*+OK", "S:Subject: x",
	     "S:From: a", "S:", "S:line1", "S:line2", "S:.", "C:TOP 3 99", "S*+OK",
	     "S:Subject: x", "S:From: a", "S:", "S:line1", "S:line2", "S:line3", "S:.",
	     "C:TOP 2 2", "S*+OK", "S:Subject: dots", "S:", "S:..leading dot", "S:...two", "S:.",
	     "C:TOP 2 18446744073709551615", "S*+OK", "E", "C:TOP 1", "S:-ERR Syntax: TOP msg n",
	     "C:TOP 1 -1", "S:-ERR Invalid line count", "C:TOP 1 18446744073709551616",
	     "S:-ERR Invalid line count", "C:TOP 1 1 1", "S:-ERR Syntax: TOP msg n", "C:TOP",
	     "S:-ERR Syntax: TOP msg n", "C:QUIT", BYE),
	CASE(top_lf_and_headers_only, NULL, GREET, "C:USER lfu", "S:+OK", "C:PASS pw",
	     "S:+OK Logged in, maildrop has 4 messages (86 octets)", "C:TOP 1 1",
	     "S*+OK", "S:Subject: lf\n\nbody1\n", "S:.", "C:TOP 2 5", "S*+OK", "S:No-Blank-Line: here", "S:Other: x", "S:.",
	     "C:TOP 3 0", "S*+OK", "S:.", "C:RETR 3", "S:+OK 0 octets", "S:.", "C:RETR 2", "Y:2",
	     "C:RETR 4", "Y:4", "C:QUIT", BYE),
	CASE(lf_only_lines_are_stuffed, NULL, GREET, "C:USER lfu", "S:+OK", "C:PASS pw",
	     "S*+OK Logged in", "C:RETR 1", "Y:1", "C:QUIT", BYE),
	CASE(big_message_streams, NULL, GREET, "C:USER big", "S:+OK", "C:PASS pw", "S*+OK",
	     "C:RETR 1", "Y:1", "C:TOP 1 3", "S*+OK", "S:Subject: big", "S:", "S:..line 0 of the big one",
	     "S:line 1 of the big one", "S:line 2 of the big one", "S:.", "C:QUIT", BYE),
	CASE(big_message_small_output, cf_small_out, GREET, "C:USER big", "S:+OK", "C:PASS pw",
	     "S*+OK", "C:RETR 1", "Y:1", "C:LIST", "S*+OK", "E", "C:QUIT", BYE),
	CASE(pipelined_transaction, NULL, GREET,
	     "R:USER alice\r\nPASS secret\r\nSTAT\r\nLIST\r\nRETR 2\r\nTOP 1 0\r\nDELE 1\r\n"
	     "UIDL\r\nNOOP\r\nQUIT\r\n",
	     "S:+OK", "S*+OK Logged in", "S:+OK 4 115", "S*+OK 4 messages", "E", "Y:2", "S*+OK",
	     "S:Subject: one", "S:", "S:.", "S:+OK Message 1 deleted", "S*+OK", "E", "S:+OK",
	     "S*+OK " HOST, "U:1", "X"),
	CASE(pipelined_after_quit_ignored, NULL, GREET, LOGIN, "R:QUIT\r\nSTAT\r\nNOOP\r\n", BYE,
	     "X"),
	CASE(user_pass_errors, NULL, GREET, "C:PASS secret",
	     "S:-ERR No user name given, send USER first", "C:USER", "S:-ERR Syntax: USER name",
	     "C:USER alice", "S:+OK", "C:PASS", "S:-ERR Syntax: PASS password",
	     "C:PASS wrong", "S:-ERR [AUTH] Authentication failed", "C:PASS secret",
	     "S:-ERR No user name given, send USER first", "C:USER alice", "S:+OK",
	     "C:PASS secret", "S*+OK Logged in", "C:USER bob",
	     "S:-ERR Command not valid in this state", "C:PASS x",
	     "S:-ERR Command not valid in this state", "C:QUIT", BYE),
	CASE(password_with_spaces, NULL, GREET, "C:USER pass word", "S:+OK",
	     "C:PASS  with spaces ", "S*+OK Logged in", "C:QUIT", BYE),
	CASE(user_too_long, NULL, GREET, "C:USER " A64 A64 A64 A64 "a",
	     "S:-ERR User name too long", "C:QUIT", BYE),
	CASE(auth_tempfail_and_in_use, NULL, GREET, "C:USER temp", "S:+OK", "C:PASS x",
	     "S:-ERR [SYS/TEMP] Temporary authentication failure", "C:USER locked", "S:+OK",
	     "C:PASS pw", "S:-ERR [IN-USE] Mailbox is locked by another POP3 session",
	     "C:USER broken", "S:+OK", "C:PASS pw",
	     "S:-ERR [SYS/TEMP] Unable to open the maildrop, try again later", "C:STAT",
	     "S:-ERR Command not valid in this state", "C:USER alice", "S:+OK", "C:PASS secret",
	     "S*+OK Logged in", "C:QUIT", BYE),
	CASE(in_use_manual, NULL, GREET, "M:manual", "C:USER alice", "S:+OK", "C:PASS secret",
	     "N", "Q:AUTH OK", "N", "P:MAILDROP", "Q:MAILDROP INUSE",
	     "S:-ERR [IN-USE] Mailbox is locked by another POP3 session", "C:PASS secret",
	     "S:-ERR No user name given, send USER first", "C:USER alice", "S:+OK",
	     "C:PASS secret", "Q:AUTH OK", "Q:MAILDROP OK", "S*+OK Logged in", "C:QUIT", BYE),
	CASE(lockout_after_three_failures, NULL, GREET, "C:USER alice", "S:+OK", "C:PASS a",
	     "S:-ERR [AUTH] Authentication failed", "C:USER alice", "S:+OK", "C:PASS b",
	     "S:-ERR [AUTH] Authentication failed", "C:USER alice", "S:+OK", "C:PASS c",
	     "S:-ERR [AUTH] Authentication failed, closing connection", "X"),
	CASE(failed_login_delay, cf_delay, GREET, "C:USER alice", "S:+OK", "C:PASS bad", "N",
	     "C:NOOP", "N", "T:1", "N", "T:1", "S:-ERR [AUTH] Authentication failed",
	     "S:-ERR Command not valid in this state", "C:USER alice", "S:+OK", "C:PASS bad", "N",
	     "T:3", "N", "T:1", "S:-ERR [AUTH] Authentication failed", "C:USER alice", "S:+OK",
	     "C:PASS secret", "S*+OK Logged in", "C:QUIT", BYE),
	CASE(auth_plain_initial, NULL, GREET, "C:AUTH PLAIN AGFsaWNlAHNlY3JldA==",
	     "S*+OK Logged in", "C:AUTH PLAIN AGFsaWNlAHNlY3JldA==",
	     "S:-ERR Command not valid in this state", "C:QUIT", BYE),
	CASE(auth_plain_continuation, NULL, GREET, "C:AUTH PLAIN", "S:+ ",
	     "C:YWxpY2UAYWxpY2UAc2VjcmV0", "S*+OK Logged in", "C:QUIT", BYE),
	CASE(auth_plain_cancel_and_errors, NULL, GREET, "C:AUTH PLAIN", "S:+ ", "C:*",
	     "S:-ERR Authentication cancelled", "C:AUTH PLAIN", "S:+ ", "C:not base64!",
	     "S:-ERR Invalid base64 in SASL response", "C:AUTH PLAIN =",
	     "S:-ERR [AUTH] Malformed PLAIN response", "C:AUTH PLAIN YWxpY2U=",
	     "S:-ERR [AUTH] Malformed PLAIN response", "C:AUTH PLAIN AGFsaWNlAA==",
	     "S:-ERR [AUTH] Malformed PLAIN response", "C:AUTH PLAIN AABzZWNyZXQ=",
	     "S:-ERR [AUTH] Malformed PLAIN response", "C:AUTH PLAIN AGEAYgBj",
	     "S:-ERR [AUTH] Malformed PLAIN response", "C:AUTH LOGIN",
	     "S:-ERR Unsupported authentication mechanism", "C:AUTH PLAIN a b",
	     "S:-ERR Syntax: AUTH mechanism [initial-response]", "C:AUTH", "S:+OK", "S:PLAIN",
	     "S:.", "C:AUTH PLAIN", "S:+ ", "R:AGFsaWNlAHNlY3JldA==\n", "S*+OK Logged in",
	     "C:QUIT", BYE),
	CASE(auth_plain_wrong_authzid, NULL, GREET, "C:AUTH PLAIN Ym9iAGFsaWNlAHNlY3JldA==",
	     "S:-ERR [AUTH] Authentication failed", "C:QUIT", BYE),
	CASE(auth_plain_long_continuation, NULL, GREET, "C:AUTH PLAIN", "S:+ ",
	     "C:QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB",
	     "S:-ERR [AUTH] Malformed PLAIN response", "C:QUIT", BYE),
	CASE(plaintext_refused_without_tls, cf_tls_required, GREET, "C:USER alice",
	     "S:-ERR [AUTH] Plaintext authentication disallowed on non-secure connections",
	     "C:PASS secret",
	     "S:-ERR [AUTH] Plaintext authentication disallowed on non-secure connections",
	     "C:AUTH PLAIN AGFsaWNlAHNlY3JldA==",
	     "S:-ERR [AUTH] Plaintext authentication disallowed on non-secure connections",
	     "C:CAPA", "S:+OK Capability list follows", "S:TOP", "S:UIDL", "S:RESP-CODES",
	     "S:AUTH-RESP-CODE", "S:PIPELINING", "S:STLS", "S:IMPLEMENTATION Sluice", "S:.",
	     "C:QUIT", BYE),
	CASE(stls_upgrade, cf_tls_required, GREET, "M:manual", "C:STLS",
	     "S:+OK Begin TLS negotiation", "P:TLS", "R:USER evil\r\nPASS evil\r\n", "N",
	     "Q:TLS OK", "N", "C:CAPA", "S:+OK Capability list follows", "S:TOP", "S:UIDL",
	     "S:RESP-CODES", "S:AUTH-RESP-CODE", "S:PIPELINING", "S:USER", "S:SASL PLAIN",
	     "S:IMPLEMENTATION Sluice", "S:.", "C:STLS", "S:-ERR TLS already active",
	     "C:USER alice", "S:+OK", "C:PASS secret", "Q:AUTH OK", "Q:MAILDROP OK", "S*+OK",
	     "C:QUIT", BYE),
	CASE(stls_pipelined_plaintext_discarded, cf_tls_required, GREET,
	     "R:STLS\r\nUSER alice\r\nPASS secret\r\n", "S:+OK Begin TLS negotiation", "N",
	     "C:PASS secret", "S:-ERR No user name given, send USER first", "C:QUIT", BYE),
	CASE(stls_user_forgotten, cf_stls, GREET, "C:USER alice", "S:+OK", "C:STLS", "S*+OK",
	     "C:PASS secret", "S:-ERR No user name given, send USER first", "C:QUIT", BYE),
	CASE(stls_handshake_fails, cf_stls, GREET, "M:manual", "C:STLS", "S*+OK", "Q:TLS FAIL",
	     "X"),
	CASE(stls_not_available_or_in_transaction, cf_stls, GREET, "C:STLS x",
	     "S:-ERR Syntax: STLS", LOGIN, "C:STLS", "S:-ERR Command not valid in this state",
	     "C:QUIT", BYE),
	CASE(stls_unavailable, NULL, GREET, "C:STLS", "S:-ERR STLS not available", "C:QUIT", BYE),
	CASE(implicit_tls_allows_login, cf_implicit_tls, GREET, "C:CAPA", "S*+OK", "S:TOP",
	     "S:UIDL", "S:RESP-CODES", "S:AUTH-RESP-CODE", "S:PIPELINING", "S:USER",
	     "S:SASL PLAIN", "S:IMPLEMENTATION Sluice", "S:.", LOGIN, "C:QUIT", BYE),
	CASE(capa_in_transaction, NULL, GREET, LOGIN, "C:CAPA", "S:+OK Capability list follows",
	     "S:TOP", "S:UIDL", "S:RESP-CODES", "S:AUTH-RESP-CODE", "S:PIPELINING",
	     "S:IMPLEMENTATION Sluice", "S:.", "C:CAPA x", "S:-ERR Syntax: CAPA", "C:QUIT", BYE),
	CASE(argument_syntax, cf_errors99, GREET, LOGIN, "C:STAT x", "S:-ERR Syntax: STAT", "C:NOOP x",
	     "S:-ERR Syntax: NOOP", "C:RSET x", "S:-ERR Syntax: RSET", "C:QUIT x",
	     "S:-ERR Syntax: QUIT", "C:RETR", "S:-ERR Syntax: RETR msg", "C:RETR 1 2",
	     "S:-ERR Syntax: RETR msg", "C:DELE", "S:-ERR Syntax: DELE msg", "C:DELE 1 1",
	     "S:-ERR Syntax: DELE msg", "C:RETR -1", "S:-ERR Invalid message number",
	     "C:RETR +1", "S:-ERR Invalid message number", "C:RETR 99999999999999999999999",
	     "S:-ERR Invalid message number", "C:RETR 18446744073709551615",
	     "S:-ERR No such message, only 4 messages in maildrop", "C:retr   01  ", "Y:1",
	     "C:QUIT", BYE),
	CASE(case_insensitive_and_lenient_spacing, NULL, GREET, "C:user alice", "S:+OK",
	     "C:pAsS secret", "S*+OK", "C:stat", "S:+OK 4 115", "C:list  1 ", "S:+OK 1 24",
	     "C:QUIT", BYE),
	CASE(transaction_commands_before_login, NULL, GREET, "C:STAT",
	     "S:-ERR Command not valid in this state", "C:LIST",
	     "S:-ERR Command not valid in this state", "C:RETR 1",
	     "S:-ERR Command not valid in this state", "C:DELE 1",
	     "S:-ERR Command not valid in this state", "C:NOOP",
	     "S:-ERR Command not valid in this state", "C:RSET",
	     "S:-ERR Command not valid in this state", "C:TOP 1 1",
	     "S:-ERR Command not valid in this state", "C:UIDL",
	     "S:-ERR Command not valid in this state", "C:APOP alice 0123",
	     "S:-ERR Unknown command", "C:QUIT", BYE),
	CASE(hostile_lines, NULL, GREET, "R:NOOP^@x\r\n", "S:-ERR Invalid character in command",
	     "R:US\rER alice\r\n", "S:-ERR Invalid character in command", "R:\r\n",
	     "S:-ERR Unknown command", "R:USER alice\n", "S:+OK", "R:\x80\xff\r\n",
	     "S:-ERR Unknown command", "C:QUIT", BYE),
	CASE(too_many_errors, cf_errors3, GREET, "C:FOO", "S:-ERR Unknown command", "C:BAR",
	     "S:-ERR Unknown command", "C:BAZ", "S:-ERR Unknown command",
	     "S:-ERR Too many errors, closing connection", "X"),
	CASE(errors_pipelined_stop_at_close, cf_errors3, GREET, "R:A\r\nB\r\nC\r\nD\r\nE\r\n",
	     "S:-ERR Unknown command", "S:-ERR Unknown command", "S:-ERR Unknown command",
	     "S:-ERR Too many errors, closing connection", "X"),
	CASE(long_line_refused_once, NULL, GREET,
	     "R:NOOP xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n",
	     "S:-ERR Line too long", "C:USER alice", "S:+OK", "C:QUIT", BYE),
	CASE(timeouts_auth, NULL, GREET, "T:59", "N", "C:NOOP",
	     "S:-ERR Command not valid in this state", "T:59", "N", "T:1",
	     "S:-ERR Disconnected for inactivity", "X"),
	CASE(timeouts_transaction_no_update, NULL, GREET, LOGIN, "C:DELE 1", "S*+OK", "T:599",
	     "N", "T:1", "S:-ERR Disconnected for inactivity", "X", "U:"),
	CASE(fetch_error_before_first_byte, NULL, GREET, LOGIN, "O:fetchfail", "C:RETR 1",
	     "S:-ERR [SYS/TEMP] Unable to read message 1", "O:ok", "C:RETR 1", "Y:1", "C:QUIT",
	     BYE),
	CASE(fetch_error_mid_message_closes, cf_small_out, GREET, "C:USER big", "S:+OK",
	     "C:PASS pw", "S*+OK", "O:fetchfail2", "C:RETR 1", "S*+OK", "D", "X"),
	CASE(body_shorter_than_listed, NULL, GREET, LOGIN, "O:short", "C:RETR 1",
	     "S:+OK 24 octets", "S:Subject: one", "S:", "S:Hel", "S:.", "C:QUIT", BYE),
	CASE(manual_fetch_waits, NULL, GREET, LOGIN, "M:manual", "C:RETR 1", "N", "P:FETCH",
	     "C:NOOP", "N", "Q:FETCH OK", "Y:1", "S:+OK", "C:QUIT", BYE),
	CASE(maildrop_limit, cf_msgs2, GREET, "O:cap=2", "C:USER alice", "S:+OK", "C:PASS secret",
	     "S:+OK Logged in, maildrop has 2 messages (70 octets)", "C:STAT", "S:+OK 2 70",
	     "C:RETR 3", "S:-ERR No such message, only 2 messages in maildrop", "C:QUIT", BYE),
};

/* ---- every command in every state ---- */

enum { ST_AUTH, ST_USER, ST_TRANS, ST_TRANS_DEL, ST_N };

static const char *const *const st_prefix[ST_N] = {
	(const char *const[]){GREET, NULL},
	(const char *const[]){GREET, "C:USER alice", "S:+OK", NULL},
	(const char *const[]){GREET, LOGIN, NULL},
	(const char *const[]){GREET, LOGIN, "C:DELE 1", "S:+OK Message 1 deleted", NULL},
};

#define BADSTATE "S:-ERR Command not valid in this state"
#define AUTHONLY BADSTATE, BADSTATE
#define TRANSONLY(a, b) BADSTATE, BADSTATE, a, b

/* An expectation "M*pfx" is a multi-line reply whose first line starts
 * with pfx; the rest is skipped up to its terminator. */
static const struct {
	const char *cmd;
	const char *expect[ST_N];
} matrix[] = {
	{"C:USER bob", {"S:+OK", "S:+OK", AUTHONLY}},
	{"C:PASS secret",
	 {"S:-ERR No user name given, send USER first", "S*+OK Logged in", AUTHONLY}},
	{"C:AUTH", {"M*+OK", "M*+OK", AUTHONLY}},
	{"C:AUTH PLAIN AGFsaWNlAHNlY3JldA==", {"S*+OK Logged in", "S*+OK Logged in", AUTHONLY}},
	{"C:AUTH PLAIN", {"S:+ ", "S:+ ", AUTHONLY}},
	{"C:STLS", {"S:-ERR STLS not available", "S:-ERR STLS not available", AUTHONLY}},
	{"C:CAPA", {"M*+OK Capability", "M*+OK Capability", "M*+OK Capability", "M*+OK Capability"}},
	{"C:QUIT", {"S*+OK " HOST, "S*+OK " HOST, "S*+OK " HOST, "S*+OK " HOST}},
	{"C:STAT", {TRANSONLY("S:+OK 4 115", "S:+OK 3 91")}},
	{"C:LIST", {TRANSONLY("M*+OK 4 messages", "M*+OK 3 messages")}},
	{"C:LIST 1", {TRANSONLY("S:+OK 1 24", "S:-ERR Message 1 already deleted")}},
	{"C:RETR 1", {TRANSONLY("Y:1", "S:-ERR Message 1 already deleted")}},
	{"C:RETR 2", {TRANSONLY("Y:2", "Y:2")}},
	{"C:DELE 1", {TRANSONLY("S:+OK Message 1 deleted", "S:-ERR Message 1 already deleted")}},
	{"C:NOOP", {TRANSONLY("S:+OK", "S:+OK")}},
	{"C:RSET",
	 {TRANSONLY("S:+OK Maildrop has 4 messages (115 octets)",
		    "S:+OK Maildrop has 4 messages (115 octets)")}},
	{"C:TOP 2 0", {TRANSONLY("M*+OK Top", "M*+OK Top")}},
	{"C:TOP 1 0", {TRANSONLY("M*+OK Top", "S:-ERR Message 1 already deleted")}},
	{"C:UIDL", {TRANSONLY("M*+OK Unique-ID", "M*+OK Unique-ID")}},
	{"C:UIDL 1", {TRANSONLY("S:+OK 1 uid-one", "S:-ERR Message 1 already deleted")}},
	{"C:XYZZY",
	 {"S:-ERR Unknown command", "S:-ERR Unknown command", "S:-ERR Unknown command",
	  "S:-ERR Unknown command"}},
	{"C:", {"S:-ERR Unknown command", "S:-ERR Unknown command", "S:-ERR Unknown command",
		"S:-ERR Unknown command"}},
};

static void test_every_command_in_every_state(void **state)
{
	(void)state;
	for (size_t c = 0; c < sizeof(matrix) / sizeof(matrix[0]); c++) {
		for (int st = 0; st < ST_N; st++) {
			const char *script[32];
			char name[128], first[64];
			size_t n = 0;
			const char *e = matrix[c].expect[st];

			for (size_t k = 0; st_prefix[st][k]; k++)
				script[n++] = st_prefix[st][k];
			script[n++] = matrix[c].cmd;
			if (e[0] == 'M') {
				snprintf(first, sizeof(first), "S*%s", e + 2);
				script[n++] = first;
				script[n++] = "E";
			} else {
				script[n++] = e;
			}
			if (!strcmp(e, "S:+ ")) {
				script[n++] = "C:*";
				script[n++] = "S:-ERR Authentication cancelled";
			}
			if (strncmp(matrix[c].cmd, "C:QUIT", 6) != 0) {
				script[n++] = "C:QUIT";
				script[n++] = "S*+OK " HOST;
			}
			script[n++] = "X";
			script[n] = NULL;
			snprintf(name, sizeof(name), "matrix[%s][state %d]", matrix[c].cmd, st);
			for (int mode = 0; mode < 3; mode++) {
				struct h h;

				h_init(&h, NULL, mode, name);
				h_run(&h, script);
				h_fini(&h);
			}
		}
	}
}

/* ---- input split at every byte ---- */

static void split_run(setup_fn *setup, const char *in, size_t n, size_t cut, sl_buf_t *out_r)
{
	struct h h;

	h_init(&h, setup, 0, "split");
	h_pump(&h);
	h_send(&h, in, cut);
	h_send(&h, in + cut, n - cut);
	sl_buf_init(out_r, 1u << 24);
	assert_int_equal(sl_buf_append(out_r, h.out.data ? (const void *)h.out.data : "", h.out.len),
			 0);
	assert_int_equal(sl_buf_append(out_r, "", 1), 0);
	h_fini(&h);
}

static void split_check(setup_fn *setup, const char *in, const char *must)
{
	size_t n = strlen(in);
	sl_buf_t ref;

	split_run(setup, in, n, n, &ref);
	if (!strstr((const char *)ref.data, must))
		fail_msg("reference transcript lacks \"%s\":\n%s", must, (const char *)ref.data);
	for (size_t cut = 0; cut < n; cut++) {
		sl_buf_t o;

		split_run(setup, in, n, cut, &o);
		if (o.len != ref.len || memcmp(o.data, ref.data, o.len) != 0)
			fail_msg("cut at %zu: replies differ:\n%s\n---\n%s", cut, (char *)o.data,
				 (char *)ref.data);
		sl_buf_free(&o);
	}
	sl_buf_free(&ref);
}

static void test_split_every_boundary(void **state)
{
	(void)state;
	split_check(NULL,
		    "CAPA\r\nUSER alice\r\nPASS secret\r\nSTAT\r\nLIST\r\nUIDL\r\nRETR 2\r\n"
		    "TOP 3 1\r\nDELE 2\r\nLIST 2\r\nRSET\r\nDELE 4\r\nNOOP\nBOGUS\r\nQUIT\r\n",
		    "(1 messages deleted)");
	split_check(NULL,
		    "AUTH PLAIN\r\nAGFsaWNlAHNlY3JldA==\r\nRETR 1\r\nRETR 4\r\nTOP 2 1\r\nQUIT\r\n",
		    "signing off");
}

/* ---- backpressure ---- */

/* The client pipelines RETRs and never reads: the engine must stop
 * taking input instead of growing its buffers; once the client reads,
 * everything arrives in order and intact. */
static void test_output_backpressure(void **state)
{
	struct h h;
	sl_buf_t in;
	size_t used, total_used = 0, retrs = 3, noops = 6000;
	size_t in_max;
	int rc;

	(void)state;
	h_init(&h, cf_small_out, 0, "backpressure");
	h_send(&h, "USER big\r\nPASS pw\r\n", 19);
	sl_buf_reset(&h.out);
	in_max = h.cfg.auth_line_max + 1 + h.cfg.pipeline_max;
	sl_buf_init(&in, 1u << 20);
	for (size_t i = 0; i < retrs; i++)
		assert_int_equal(sl_buf_append(&in, "RETR 1\r\n", 8), 0);
	for (size_t i = 0; i < noops; i++)
		assert_int_equal(sl_buf_append(&in, "NOOP\r\n", 6), 0);
	assert_true(in.len > in_max + 8);
	/* feed without draining, answering FETCHes */
	for (int round = 0; round < 1000; round++) {
		const struct pop3_request *r;

		rc = pop3_session_input(h.s, h.now, in.data + total_used, in.len - total_used, &used);
		assert_int_equal(rc, 0);
		total_used += used;
		r = pop3_session_request(h.s);
		if (r != NULL && r->kind == POP3_REQ_FETCH)
			h_fetch(&h);
		else if (used == 0)
			break;
	}
	assert_true(pop3_session_output(h.s).len <= h.cfg.output_max);
	assert_true(total_used < in.len);
	assert_true(total_used <= in_max + 8);
	/* now the client reads */
	for (int round = 0; round < 100000 && total_used < in.len; round++) {
		rc = pop3_session_input(h.s, h.now, in.data + total_used, in.len - total_used, &used);
		assert_int_equal(rc, 0);
		total_used += used;
		h_pump(&h);
	}
	h_pump(&h);
	assert_int_equal(total_used, in.len);
	for (size_t i = 0; i < retrs; i++)
		h_retr(&h, 1);
	for (size_t i = 0; i < noops; i++)
		h_expect(&h, "+OK", false);
	assert_int_equal(h.out.len, 0);
	sl_buf_free(&in);
	h_fini(&h);
}

/* A client that floods commands while a request is outstanding fills
 * only the bounded pipeline buffer. */
static void test_pipeline_buffer_bounded(void **state)
{
	struct h h;
	sl_buf_t in;
	size_t used;

	(void)state;
	h_init(&h, NULL, 0, "pipeline");
	h.manual = true;
	h_pump(&h);
	sl_buf_reset(&h.out);
	sl_buf_init(&in, 1u << 22);
	assert_int_equal(sl_buf_append(&in, "USER alice\r\nPASS secret\r\n", 25), 0);
	while (in.len < (1u << 21))
		assert_int_equal(sl_buf_append(&in, "NOOP\r\n", 6), 0);
	assert_int_equal(pop3_session_input(h.s, h.now, in.data, in.len, &used), 0);
	assert_non_null(pop3_session_request(h.s));
	assert_true(used < 25 + h.cfg.auth_line_max + 1 + h.cfg.pipeline_max + 8);
	sl_buf_free(&in);
	h_fini(&h);
}

/* ---- API edges ---- */

static void test_config_validation(void **state)
{
	struct pop3_config c;
	struct pop3_peer p = {.client_ip = "192.0.2.1"};
	pop3_session_t *s = (pop3_session_t *)&c;
	static char longhost[300];

	(void)state;
	memset(longhost, 'a', sizeof(longhost) - 1);
	pop3_config_defaults(&c);
	assert_int_equal(pop3_session_create(&c, &p, 0, &s), SL_EINVAL);
	assert_null(s);
	c.hostname = "";
	assert_int_equal(pop3_session_create(&c, &p, 0, &s), SL_EINVAL);
	c.hostname = longhost;
	assert_int_equal(pop3_session_create(&c, &p, 0, &s), SL_EINVAL);
	c.hostname = HOST;
#define BAD(field, v)                                                          \
	do {                                                                   \
		struct pop3_config b = c;                                      \
		b.field = v;                                                   \
		assert_int_equal(pop3_session_create(&b, &p, 0, &s), SL_EINVAL); \
	} while (0)
	BAD(cmd_line_max, 254);
	BAD(cmd_line_max, 70000);
	BAD(auth_line_max, 100);
	BAD(errors_max, 0);
	BAD(auth_failures_max, 0);
	BAD(msgs_max, 0);
	BAD(fetch_max, 100);
	BAD(output_max, 2 * c.fetch_max);
#undef BAD
	assert_int_equal(pop3_session_create(&c, NULL, 0, &s), SL_EINVAL);
	p.client_ip = NULL;
	assert_int_equal(pop3_session_create(&c, &p, 0, &s), SL_EINVAL);
	p.client_ip = "192.0.2.1";
	assert_int_equal(pop3_session_create(&c, &p, 0, &s), 0);
	assert_non_null(s);
	pop3_session_destroy(&s);
	assert_null(s);
}

static void test_completions_out_of_place(void **state)
{
	struct h h;
	uint8_t big[100];
	const struct pop3_request *r;

	(void)state;
	memset(big, 'u', sizeof(big));
	h_init(&h, NULL, 0, "completions");
	h.manual = true;
	h_pump(&h);
	assert_int_equal(pop3_session_auth_done(h.s, h.now, POP3_AUTH_OK, NULL), SL_ESTATE);
	assert_int_equal(pop3_session_maildrop_done(h.s, h.now, POP3_MAILDROP_OK), SL_ESTATE);
	assert_int_equal(pop3_session_fetch_done(h.s, h.now, 0), SL_ESTATE);
	assert_int_equal(pop3_session_fetch_data(h.s, sl_slice_make("x", 1)), SL_ESTATE);
	assert_int_equal(pop3_session_update_done(h.s, h.now, true), SL_ESTATE);
	assert_int_equal(pop3_session_tls_done(h.s, h.now, true), SL_ESTATE);
	assert_int_equal(pop3_session_msg_add(h.s, 1, 1, sl_slice_make("a", 1)), SL_ESTATE);
	assert_false(pop3_session_tls_active(h.s));
	assert_int_equal(pop3_session_user(h.s).len, 0);
	h_send(&h, "USER alice\r\nPASS secret\r\n", 25);
	r = pop3_session_request(h.s);
	assert_non_null(r);
	assert_int_equal(r->kind, POP3_REQ_AUTH);
	assert_true(slice_is(r->u.auth.mechanism, "USER"));
	assert_true(slice_is(r->u.auth.authcid, "alice"));
	assert_true(slice_is(r->u.auth.password, "secret"));
	assert_int_equal(r->u.auth.authzid.len, 0);
	/* the deadline waits on the glue while a request is outstanding */
	assert_true(pop3_session_deadline(h.s) == SL_TIME_NEVER);
	assert_int_equal(pop3_session_auth_done(h.s, h.now, POP3_AUTH_OK, NULL), 0);
	r = pop3_session_request(h.s);
	assert_non_null(r);
	assert_int_equal(r->kind, POP3_REQ_MAILDROP);
	assert_true(slice_is(r->u.maildrop.user, "alice"));
	assert_true(slice_is(pop3_session_user(h.s), "alice"));
	/* unique-ids: RFC 1939 §7 */
	assert_int_equal(pop3_session_msg_add(h.s, 1, 1, sl_slice_make("", 0)), SL_EINVAL);
	assert_int_equal(pop3_session_msg_add(h.s, 1, 1, sl_slice_make(big, 71)), SL_EINVAL);
	assert_int_equal(pop3_session_msg_add(h.s, 1, 1, sl_slice_make(big, 70)), 0);
	assert_int_equal(pop3_session_msg_add(h.s, 2, 1, sl_slice_make("a b", 3)), SL_EINVAL);
	assert_int_equal(pop3_session_msg_add(h.s, 2, 1, sl_slice_make("a\x7f", 2)), SL_EINVAL);
	assert_int_equal(pop3_session_msg_add(h.s, 2, 1, sl_slice_make("\x80", 1)), SL_EINVAL);
	assert_int_equal(pop3_session_msg_add(h.s, 2, 5, sl_slice_make("!~", 2)), 0);
	assert_int_equal(pop3_session_maildrop_done(h.s, h.now, POP3_MAILDROP_OK), 0);
	assert_true(pop3_session_in_transaction(h.s));
	assert_true(pop3_session_deadline(h.s) == h.now + h.cfg.timeout_us);
	h_drain(&h);
	h_send(&h, "RETR 2\r\n", 8);
	r = pop3_session_request(h.s);
	assert_non_null(r);
	assert_int_equal(r->kind, POP3_REQ_FETCH);
	assert_int_equal(r->u.fetch.id, 2);
	assert_int_equal(r->u.fetch.offset, 0);
	assert_int_equal(r->u.fetch.len, 5);
	assert_int_equal(pop3_session_fetch_data(h.s, sl_slice_make("abcdefg", 7)), SL_ELIMIT);
	assert_int_equal(pop3_session_fetch_data(h.s, sl_slice_make("x", 1)), SL_ELIMIT);
	assert_int_equal(pop3_session_fetch_done(h.s, h.now, 0), 0);
	h_drain(&h);
	assert_non_null(memmem(h.out.data, h.out.len, "+OK 5 octets\r\nabcde\r\n.\r\n", 24));
	pop3_session_shutdown(h.s, h.now, NULL);
	assert_true(pop3_session_closing(h.s));
	assert_int_equal(pop3_session_auth_done(h.s, h.now, POP3_AUTH_OK, NULL), SL_ECLOSED);
	{
		size_t used = 0;

		assert_int_equal(pop3_session_input(h.s, h.now, "NOOP\r\n", 6, &used), SL_ECLOSED);
		assert_int_equal(used, 6);
	}
	assert_int_equal(pop3_session_timeout(h.s, h.now), SL_ECLOSED);
	assert_true(pop3_session_deadline(h.s) == SL_TIME_NEVER);
	pop3_session_shutdown(h.s, h.now, NULL); /* twice is harmless */
	h_drain(&h);
	assert_non_null(memmem(h.out.data, h.out.len, "-ERR [SYS/TEMP] Server shutting down\r\n", 38));
	h_fini(&h);
}

/* Destroy with every kind of request outstanding: nothing leaks (ASan),
 * nothing is called back. */
static void test_destroy_mid_request(void **state)
{
	static const char *const steps[][3] = {
		{"USER alice\r\nPASS secret\r\n", NULL, NULL},
		{"USER alice\r\nPASS secret\r\n", "auth", NULL},
		{"USER alice\r\nPASS secret\r\n", "drop", "RETR 2\r\n"},
		{"USER alice\r\nPASS secret\r\n", "drop", "DELE 1\r\nQUIT\r\n"},
		{"STLS\r\nUSER x\r\n", NULL, NULL},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		struct h h;

		h_init(&h, cf_stls, 0, "destroy");
		h.manual = true;
		h_pump(&h);
		h_send(&h, steps[i][0], strlen(steps[i][0]));
		if (steps[i][1]) {
			pop3_session_auth_done(h.s, h.now, POP3_AUTH_OK, "alice@example.com");
			if (!strcmp(steps[i][1], "drop"))
				h_maildrop(&h, POP3_MAILDROP_OK);
			h_pump(&h);
		}
		if (steps[i][2])
			h_send(&h, steps[i][2], strlen(steps[i][2]));
		assert_non_null(pop3_session_request(h.s));
		h_fini(&h);
	}
}

static void test_deadlines(void **state)
{
	struct h h;

	(void)state;
	h_init(&h, cf_delay, 0, "deadlines");
	h_pump(&h);
	assert_true(pop3_session_deadline(h.s) == h.now + 60 * SL_US_PER_S);
	h.now += 10 * SL_US_PER_S;
	assert_int_equal(pop3_session_timeout(h.s, h.now), 0); /* early: harmless */
	h_send(&h, "USER alice\r\n", 12);
	assert_true(pop3_session_deadline(h.s) == h.now + 60 * SL_US_PER_S);
	h_send(&h, "PASS bad\r\n", 10);
	assert_true(pop3_session_deadline(h.s) == h.now + 2 * SL_US_PER_S);
	h_send(&h, "USER alice\r\nPASS bad\r\n", 22); /* buffered during the delay */
	h.now += 2 * SL_US_PER_S;
	pop3_session_timeout(h.s, h.now);
	h_pump(&h);
	/* the second failure doubles the delay */
	assert_true(pop3_session_deadline(h.s) == h.now + 4 * SL_US_PER_S);
	h_fini(&h);
}

static void test_stats(void **state)
{
	static const char *const script[] = {
		GREET, "C:USER alice", "S:+OK", "C:PASS bad", "S*-ERR [AUTH]", "C:USER locked",
		"S:+OK", "C:PASS pw", "S*-ERR [IN-USE]", "C:USER temp", "S:+OK", "C:PASS x",
		"S*-ERR [SYS/TEMP]", LOGIN, "C:RETR 1", "Y:1", "C:TOP 2 1", "S*+OK", "E",
		"C:DELE 1", "S*+OK", "C:DELE 2", "S*+OK", "C:BOGUS", "S*-ERR", "C:QUIT",
		"S*+OK " HOST, NULL};
	struct h h;
	struct pop3_stats sum;
	sl_buf_t b;

	(void)state;
	h_init(&h, NULL, 0, "stats");
	h_run(&h, script);
	assert_int_equal(h.stats.sessions, 1);
	assert_int_equal(h.stats.auth_success, 2);
	assert_int_equal(h.stats.auth_failure, 1);
	assert_int_equal(h.stats.auth_tempfail, 1);
	assert_int_equal(h.stats.in_use, 1);
	assert_int_equal(h.stats.logins, 1);
	assert_int_equal(h.stats.retr, 1);
	assert_int_equal(h.stats.top, 1);
	assert_int_equal(h.stats.dele, 2);
	assert_int_equal(h.stats.bytes_sent, 24 + 15 + 2 + 14);
	assert_int_equal(h.stats.updates, 1);
	assert_int_equal(h.stats.msgs_expunged, 2);
	assert_int_equal(h.stats.errors, 1);
	assert_int_equal(h.stats.commands, 14);
	memset(&sum, 0, sizeof(sum));
	pop3_stats_add(&sum, &h.stats);
	pop3_stats_add(&sum, &h.stats);
	assert_int_equal(sum.retr, 2);
	sl_buf_init(&b, 1 << 16);
	assert_int_equal(pop3_stats_format(&sum, &b), 0);
	assert_non_null(memmem(b.data, b.len, "pop3.retr 2\n", 12));
	assert_non_null(memmem(b.data, b.len, "pop3.plaintext_discarded 0\n", 27));
	sl_buf_free(&b);
	sl_buf_init(&b, 10);
	assert_int_equal(pop3_stats_format(&sum, &b), SL_ELIMIT);
	sl_buf_free(&b);
	h_fini(&h);
}

static void test_stls_counts_discarded(void **state)
{
	static const char *const script[] = {GREET, "M:manual", "R:STLS\r\nUSER evil\r\n",
					     "S:+OK Begin TLS negotiation", "R:PASS evil\r\n",
					     "Q:TLS OK", "N", NULL};
	struct h h;

	(void)state;
	h_init(&h, cf_stls, 0, "stls-count");
	h_run(&h, script);
	assert_int_equal(h.stats.plaintext_discarded, 11 + 11);
	assert_int_equal(h.stats.stls, 1);
	assert_true(pop3_session_tls_active(h.s));
	h_fini(&h);
}

int main(void)
{
	size_t nc = sizeof(cases) / sizeof(cases[0]);
	static const struct CMUnitTest fixed[] = {
		cmocka_unit_test(test_every_command_in_every_state),
		cmocka_unit_test(test_split_every_boundary),
		cmocka_unit_test(test_output_backpressure),
		cmocka_unit_test(test_pipeline_buffer_bounded),
		cmocka_unit_test(test_config_validation),
		cmocka_unit_test(test_completions_out_of_place),
		cmocka_unit_test(test_destroy_mid_request),
		cmocka_unit_test(test_deadlines),
		cmocka_unit_test(test_stats),
		cmocka_unit_test(test_stls_counts_discarded),
	};
	size_t nf = sizeof(fixed) / sizeof(fixed[0]);
	struct CMUnitTest *tests = calloc(nc + nf, sizeof(*tests));
	int rc;

	assert_non_null(tests);
	for (size_t i = 0; i < nc; i++) {
		tests[i].name = cases[i].name;
		tests[i].test_func = run_case;
		tests[i].initial_state = (void *)&cases[i];
	}
	memcpy(tests + nc, fixed, sizeof(fixed));
	rc = _cmocka_run_group_tests("pop3", tests, nc + nf, NULL, NULL);
	free(tests);
	return rc;
}
