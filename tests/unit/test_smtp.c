/* test_smtp - the SMTP engine, as transcripts.
 *
 * Each case is a script of client lines and expected replies, run three
 * times: each client payload in one input call, one byte per call, and in
 * random splits. All three must give the same transcript. Requests are
 * answered by a fake directory/store ("auto"), or by Q: steps ("manual").
 *
 * Script steps:
 *   C:text   client sends text + CRLF       R:raw  client sends raw bytes
 *   S:line   next reply line is exactly     S*pfx  next reply line starts with
 *   W:pfx    skip "ddd-" continuation lines, then a line starting with pfx
 *   N        no reply is pending            X      the session is closing
 *   T:secs   advance the clock, call smtp_session_timeout
 *   M:manual / M:auto                       O:opt  harness option
 *   Q:KIND RESULT  assert the pending request and complete it
 *   G:n      n messages delivered so far    D:body last message, without Received:
 *   H:text   last message's Received: contains text
 *   V:text   last delivery's envelope summary contains text
 *   L:text   last txlog record summary contains text */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sl_buf.h"
#include "sl_err.h"
#include "sl_time.h"
#include "smtp/smtp_session.h"

#define HOST "mx.example.net"

struct h {
	struct smtp_config cfg;
	struct smtp_hooks hooks;
	struct smtp_stats stats;
	struct smtp_peer peer;
	smtp_session_t *s;
	uint64_t now;
	bool manual;
	int mode;
	unsigned seed;
	const char *name;
	int step;
	sl_buf_t backlog;
	sl_buf_t out;
	sl_buf_t msg;
	sl_buf_t last_msg;
	int delivered;
	int aborted;
	int txlogs;
	unsigned qid;
	bool sink_fail;
	bool begin_fail;
	bool sending;
	char env[4096];
	char txlog[1024];
};

/* ---- fake directory and store ---- */

static enum smtp_rcpt_status fake_rcpt(const struct smtp_request *r)
{
	static const char *const users[] = {"alice", "bob", "postmaster", "sales", NULL};
	sl_slice_t d = r->u.rcpt.domain, l = r->u.rcpt.local;

	if (d.len == 0)
		return SMTP_RCPT_LOCAL; /* bare <postmaster> */
	if (!sl_slice_eq_nocase(d, "example.com"))
		return SMTP_RCPT_NONLOCAL;
	if (sl_slice_eq_nocase(l, "full"))
		return SMTP_RCPT_OVERQUOTA;
	if (sl_slice_eq_nocase(l, "temp"))
		return SMTP_RCPT_TEMPFAIL;
	for (int i = 0; users[i]; i++)
		if (sl_slice_eq_nocase(l, users[i]))
			return SMTP_RCPT_LOCAL;
	return SMTP_RCPT_UNKNOWN;
}

static bool slice_is(sl_slice_t s, const char *lit)
{
	return s.len == strlen(lit) && memcmp(s.ptr, lit, s.len) == 0;
}

static enum smtp_auth_status fake_auth(const struct smtp_request *r)
{
	if (slice_is(r->u.auth.authcid, "temp"))
		return SMTP_AUTH_TEMPFAIL;
	if (slice_is(r->u.auth.authcid, "alice") && slice_is(r->u.auth.password, "secret") &&
	    (r->u.auth.authzid.len == 0 || slice_is(r->u.auth.authzid, "alice")))
		return SMTP_AUTH_OK;
	return SMTP_AUTH_FAIL;
}

static void h_env_summary(struct h *h, const struct smtp_request *r)
{
	struct smtp_envelope e;
	size_t n;

	smtp_session_envelope(h->s, &e);
	n = (size_t)snprintf(h->env, sizeof(h->env),
			     "from=<%.*s> ret=%d envid=%.*s body=%d utf8=%d tls=%d auth=%.*s verdict=%d "
			     "size=%" PRIu64 " declared=%" PRIu64 " nrcpt=%zu",
			     (int)e.mail_from.len, (const char *)e.mail_from.ptr, (int)e.ret,
			     (int)e.envid.len, (const char *)e.envid.ptr, (int)e.body, (int)e.smtputf8,
			     (int)e.tls, (int)e.auth_user.len, (const char *)e.auth_user.ptr,
			     (int)r->u.deliver.verdict.action, e.size, e.size_declared, e.rcpt_count);
	for (size_t i = 0; i < e.rcpt_count && n < sizeof(h->env); i++) {
		struct smtp_rcpt rc;

		assert_int_equal(smtp_session_rcpt(h->s, i, &rc), 0);
		n += (size_t)snprintf(h->env + n, sizeof(h->env) - n,
				      " rcpt=<%.*s>:notify=%u:orcpt=%.*s:class=%d", (int)rc.addr.len,
				      (const char *)rc.addr.ptr, rc.notify, (int)rc.orcpt.len,
				      (const char *)rc.orcpt.ptr, (int)rc.klass);
	}
	{
		struct smtp_rcpt rc;

		assert_int_equal(smtp_session_rcpt(h->s, e.rcpt_count, &rc), SL_ENOENT);
	}
}

static void h_delivered(struct h *h, const struct smtp_request *r)
{
	h_env_summary(h, r);
	sl_buf_reset(&h->last_msg);
	if (h->msg.len)
		assert_int_equal(sl_buf_append(&h->last_msg, h->msg.data, h->msg.len), 0);
	sl_buf_reset(&h->msg);
	h->delivered++;
}

/* h_autocomplete - answer the pending request like the glue would. */
static bool h_autocomplete(struct h *h)
{
	const struct smtp_request *r = smtp_session_request(h->s);

	if (r == NULL)
		return false;
	switch (r->kind) {
	case SMTP_REQ_RCPT:
		smtp_session_rcpt_done(h->s, h->now, fake_rcpt(r));
		break;
	case SMTP_REQ_AUTH:
		smtp_session_auth_done(h->s, h->now, fake_auth(r), NULL);
		break;
	case SMTP_REQ_DELIVER:
		h_delivered(h, r);
		smtp_session_deliver_done(h->s, h->now, SMTP_DELIVER_OK, NULL);
		break;
	case SMTP_REQ_STARTTLS:
		/* Bytes of the payload being sent were all plaintext: the
		 * handshake completes only after them, as on a real wire. */
		if (h->sending)
			return false;
		smtp_session_tls_done(h->s, h->now, true);
		smtp_session_set_tls_info(h->s, "TLSv1.3", "TLS13-CHACHA20-POLY1305-SHA256");
		break;
	default:
		fail_msg("unknown request kind %d", r->kind);
	}
	return true;
}

/* ---- hooks ---- */

static int hk_begin(void *ctx, smtp_session_t *s)
{
	struct h *h = ctx;

	(void)s;
	if (h->begin_fail)
		return SL_EFULL;
	sl_buf_reset(&h->msg);
	return 0;
}

static int hk_data(void *ctx, smtp_session_t *s, sl_slice_t c)
{
	struct h *h = ctx;

	(void)s;
	if (h->sink_fail)
		return SL_EFULL;
	assert_int_equal(sl_buf_append(&h->msg, c.ptr, c.len), 0);
	return 0;
}

static void hk_abort(void *ctx, smtp_session_t *s)
{
	struct h *h = ctx;

	(void)s;
	sl_buf_reset(&h->msg);
	h->aborted++;
}

static void hk_filter_end(void *ctx, smtp_session_t *s, struct smtp_verdict *v)
{
	struct h *h = ctx;

	(void)s;
	if (h->msg.len && memmem(h->msg.data, h->msg.len, "GTUBE", 5)) {
		v->action = SMTP_VERDICT_REJECT;
		v->code = 554;
		snprintf(v->text, sizeof(v->text), "5.7.1 Spam message rejected\r\nevil");
	} else if (h->msg.len && memmem(h->msg.data, h->msg.len, "TEMPFILTER", 10)) {
		v->action = SMTP_VERDICT_REJECT;
		v->code = 451;
		v->text[0] = '\0';
	} else if (h->msg.len && memmem(h->msg.data, h->msg.len, "TAGME", 5)) {
		v->action = SMTP_VERDICT_TAG;
	}
}

static void hk_txlog(void *ctx, smtp_session_t *s, const struct smtp_txlog *r)
{
	struct h *h = ctx;

	(void)s;
	h->txlogs++;
	snprintf(h->txlog, sizeof(h->txlog),
		 "qid=%.*s ip=%.*s helo=%.*s from=<%.*s> auth=%.*s nrcpt=%zu size=%" PRIu64
		 " verdict=%d code=%u reply=%.*s",
		 (int)r->queue_id.len, (const char *)r->queue_id.ptr, (int)r->client_ip.len,
		 (const char *)r->client_ip.ptr, (int)r->helo.len, (const char *)r->helo.ptr,
		 (int)r->mail_from.len, (const char *)r->mail_from.ptr, (int)r->auth_user.len,
		 (const char *)r->auth_user.ptr, r->rcpt_count, r->size, (int)r->verdict,
		 (unsigned)r->reply_code, (int)r->reply.len, (const char *)r->reply.ptr);
	assert_true(r->t_end_us >= r->t_data_us);
	assert_true(r->t_data_us >= r->t_mail_us);
}

static void hk_qid(void *ctx, smtp_session_t *s, char *buf, size_t size)
{
	struct h *h = ctx;

	(void)s;
	snprintf(buf, size, "TESTQ%u", ++h->qid);
}

static int64_t hk_clock(void *ctx)
{
	(void)ctx;
	return 1767225600; /* Thu, 1 Jan 2026 00:00:00 +0000 */
}

/* ---- harness ---- */

typedef void setup_fn(struct smtp_config *c, struct smtp_peer *p);

static void h_init(struct h *h, setup_fn *setup, int mode, const char *name)
{
	memset(h, 0, sizeof(*h));
	smtp_config_defaults(&h->cfg);
	h->cfg.hostname = HOST;
	h->cfg.stats = &h->stats;
	h->peer.client_ip = "192.0.2.10";
	h->peer.client_rdns = "client.rdns.example";
	h->peer.conn_id = 42;
	if (setup)
		setup(&h->cfg, &h->peer);
	h->hooks.ctx = h;
	h->hooks.msg_begin = hk_begin;
	h->hooks.msg_data = hk_data;
	h->hooks.msg_abort = hk_abort;
	h->hooks.filter_end = hk_filter_end;
	h->hooks.txlog = hk_txlog;
	h->hooks.queue_id = hk_qid;
	h->hooks.wall_clock = hk_clock;
	h->mode = mode;
	h->seed = 12345u + (unsigned)mode;
	h->name = name;
	h->now = 1000 * SL_US_PER_S;
	sl_buf_init(&h->backlog, 1u << 26);
	sl_buf_init(&h->out, 1u << 24);
	sl_buf_init(&h->msg, 1u << 26);
	sl_buf_init(&h->last_msg, 1u << 26);
	assert_int_equal(smtp_session_create(&h->cfg, &h->hooks, &h->peer, h->now, &h->s), 0);
	if (h->peer.tls_active)
		smtp_session_set_tls_info(h->s, "TLSv1.2", "ECDHE-ECDSA-AES128-GCM-SHA256");
}

static void h_pump(struct h *h);

static void h_fini(struct h *h)
{
	smtp_session_destroy(&h->s);
	assert_null(h->s);
	sl_buf_free(&h->backlog);
	sl_buf_free(&h->out);
	sl_buf_free(&h->msg);
	sl_buf_free(&h->last_msg);
}

static bool h_drain(struct h *h)
{
	bool any = false;

	for (;;) {
		sl_slice_t o = smtp_session_output(h->s);

		if (o.len == 0)
			return any;
		assert_int_equal(sl_buf_append(&h->out, o.ptr, o.len), 0);
		smtp_session_output_consume(h->s, h->now, o.len);
		any = true;
	}
}

static void h_pump(struct h *h)
{
	for (;;) {
		bool progress = false;

		if (h->backlog.len > 0) {
			size_t used = 0;
			int rc = smtp_session_input(h->s, h->now, h->backlog.data, h->backlog.len, &used);

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
	assert_non_null(e);
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

static void h_expect_multi(struct h *h, const char *want)
{
	char got[2048];

	for (;;) {
		if (!h_line(h, got, sizeof(got)))
			H_FAIL(h, "expected \"%s\", got no reply", want);
		if (strncmp(got, want, strlen(want)) == 0)
			return;
		if (strlen(got) < 4 || strncmp(got, want, 3) != 0 || got[3] != '-')
			H_FAIL(h, "expected \"%s\" (or continuation), got \"%s\"", want, got);
	}
}

static const char *h_body(const struct h *h, size_t *len_r)
{
	const char *p = (const char *)h->last_msg.data;
	size_t n = h->last_msg.len;

	/* the Received: header ends at the first CRLF not followed by TAB */
	for (size_t i = 0; i + 1 < n; i++) {
		if (p[i] == '\r' && p[i + 1] == '\n' && (i + 2 == n || p[i + 2] != '\t')) {
			*len_r = n - i - 2;
			return p + i + 2;
		}
	}
	*len_r = 0;
	return "";
}

static enum smtp_req_kind h_kind(const char *w)
{
	if (!strncmp(w, "RCPT", 4))
		return SMTP_REQ_RCPT;
	if (!strncmp(w, "AUTH", 4))
		return SMTP_REQ_AUTH;
	if (!strncmp(w, "DELIVER", 7))
		return SMTP_REQ_DELIVER;
	if (!strncmp(w, "TLS", 3))
		return SMTP_REQ_STARTTLS;
	return SMTP_REQ_NONE;
}

static void h_complete(struct h *h, const char *arg)
{
	const struct smtp_request *r = smtp_session_request(h->s);
	const char *res = strchr(arg, ' ');
	enum smtp_req_kind k = h_kind(arg);

	if (r == NULL || r->kind != k)
		H_FAIL(h, "expected request %s, pending %d", arg, r ? (int)r->kind : 0);
	res = res ? res + 1 : "";
	switch (k) {
	case SMTP_REQ_RCPT:
		smtp_session_rcpt_done(h->s, h->now,
				       !strcmp(res, "LOCAL")      ? SMTP_RCPT_LOCAL
				       : !strcmp(res, "UNKNOWN")  ? SMTP_RCPT_UNKNOWN
				       : !strcmp(res, "NONLOCAL") ? SMTP_RCPT_NONLOCAL
				       : !strcmp(res, "FULL")     ? SMTP_RCPT_OVERQUOTA
								  : SMTP_RCPT_TEMPFAIL);
		break;
	case SMTP_REQ_AUTH:
		smtp_session_auth_done(h->s, h->now,
				       !strcmp(res, "OK")     ? SMTP_AUTH_OK
				       : !strcmp(res, "FAIL") ? SMTP_AUTH_FAIL
							      : SMTP_AUTH_TEMPFAIL,
				       NULL);
		break;
	case SMTP_REQ_DELIVER:
		if (!strcmp(res, "OK"))
			h_delivered(h, r);
		smtp_session_deliver_done(h->s, h->now,
					  !strcmp(res, "OK")     ? SMTP_DELIVER_OK
					  : !strcmp(res, "FULL") ? SMTP_DELIVER_NOSPACE
					  : !strcmp(res, "PERM") ? SMTP_DELIVER_PERMFAIL
								 : SMTP_DELIVER_TEMPFAIL,
					  !strcmp(res, "TEMP") ? "store busy" : NULL);
		break;
	case SMTP_REQ_STARTTLS:
		if (smtp_session_tls_done(h->s, h->now, !strcmp(res, "OK")) == 0)
			smtp_session_set_tls_info(h->s, "TLSv1.3", "TLS13-CHACHA20-POLY1305-SHA256");
		break;
	default:
		H_FAIL(h, "bad Q: step %s", arg);
	}
	h_pump(h);
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
		case 'R':
			h_send(h, a, strlen(a));
			break;
		case 'S':
			h_expect(h, a, st[1] == '*');
			break;
		case 'W':
			h_expect_multi(h, a);
			break;
		case 'N':
			if (h->out.len != 0)
				H_FAIL(h, "unexpected reply \"%.*s\"", (int)h->out.len, h->out.data);
			break;
		case 'X':
			if (!smtp_session_closing(h->s))
				H_FAIL(h, "session should be closing");
			break;
		case 'T':
			h->now += (uint64_t)atoi(a) * SL_US_PER_S;
			smtp_session_timeout(h->s, h->now);
			h_pump(h);
			break;
		case 'M':
			h->manual = !strcmp(a, "manual");
			h_pump(h);
			break;
		case 'O':
			if (!strcmp(a, "sinkfail"))
				h->sink_fail = true;
			else if (!strcmp(a, "beginfail"))
				h->begin_fail = true;
			else if (!strcmp(a, "ok"))
				h->sink_fail = h->begin_fail = false;
			else
				H_FAIL(h, "bad option %s", a);
			break;
		case 'Q':
			h_complete(h, a);
			break;
		case 'G':
			if (h->delivered != atoi(a))
				H_FAIL(h, "delivered %d, expected %s", h->delivered, a);
			break;
		case 'D': {
			size_t n;
			const char *b = h_body(h, &n);

			if (n != strlen(a) || memcmp(b, a, n) != 0)
				H_FAIL(h, "body \"%.*s\", expected \"%s\"", (int)n, b, a);
			break;
		}
		case 'H': {
			size_t n;
			const char *b = h_body(h, &n);
			size_t hl = (size_t)(b - (const char *)h->last_msg.data);

			if (h->last_msg.len == 0 || !memmem(h->last_msg.data, hl, a, strlen(a)))
				H_FAIL(h, "Received: \"%.*s\" lacks \"%s\"", (int)hl,
				       (const char *)h->last_msg.data, a);
			break;
		}
		case 'V':
			if (!strstr(h->env, a))
				H_FAIL(h, "envelope \"%s\" lacks \"%s\"", h->env, a);
			break;
		case 'L':
			if (!strstr(h->txlog, a))
				H_FAIL(h, "txlog \"%s\" lacks \"%s\"", h->txlog, a);
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

static void cf_auth(struct smtp_config *c, struct smtp_peer *p)
{
	(void)p;
	c->allow_plaintext_auth = true;
}

static void cf_submission(struct smtp_config *c, struct smtp_peer *p)
{
	(void)p;
	c->role = SMTP_ROLE_SUBMISSION;
	c->allow_plaintext_auth = true;
}

static void cf_tls(struct smtp_config *c, struct smtp_peer *p)
{
	(void)p;
	c->starttls_available = true;
}

static void cf_require_tls(struct smtp_config *c, struct smtp_peer *p)
{
	(void)p;
	c->role = SMTP_ROLE_SUBMISSION;
	c->starttls_available = true;
	c->allow_plaintext_auth = true;
	c->require_tls = true;
}

static void cf_implicit_tls(struct smtp_config *c, struct smtp_peer *p)
{
	c->role = SMTP_ROLE_SUBMISSIONS;
	p->tls_active = true;
	p->client_ip = "2001:db8::7";
	p->client_rdns = NULL;
}

static void cf_normalize(struct smtp_config *c, struct smtp_peer *p)
{
	(void)p;
	c->eol_mode = SMTP_EOL_NORMALIZE;
}

static void cf_small(struct smtp_config *c, struct smtp_peer *p)
{
	(void)p;
	c->message_max = 100;
	c->rcpt_max = 2;
}

static void cf_errors3(struct smtp_config *c, struct smtp_peer *p)
{
	(void)p;
	c->errors_max = 3;
}

static void cf_vrfy(struct smtp_config *c, struct smtp_peer *p)
{
	(void)p;
	c->vrfy_enabled = true;
	c->expn_enabled = true;
}

static void cf_delay(struct smtp_config *c, struct smtp_peer *p)
{
	(void)p;
	c->greeting_delay_us = 5 * SL_US_PER_S;
}

static void cf_all(struct smtp_config *c, struct smtp_peer *p)
{
	(void)p;
	c->allow_plaintext_auth = true;
	c->starttls_available = true;
	c->vrfy_enabled = true;
	c->expn_enabled = true;
}

/* ---- the transcripts ---- */

#define GREET "S:220 " HOST " ESMTP Sluice"
#define EHLO "C:EHLO client.example.org", "W:250 "
#define MAILFROM "C:MAIL FROM:<sender@origin.example>", "S:250 2.1.0 Ok"
#define RCPT_ALICE "C:RCPT TO:<alice@example.com>", "S:250 2.1.5 Ok"
#define TXN MAILFROM, RCPT_ALICE
#define QUEUED(n) "S:250 2.0.0 Ok: queued as TESTQ" #n
#define AUTH_OK "C:AUTH PLAIN AGFsaWNlAHNlY3JldA==", "S:235 2.7.0 Authentication successful"
#define CASE(n, setup, ...) {#n, setup, (const char *const[]){__VA_ARGS__, NULL}}

/* A text line of exactly N octets including CRLF: "X...X". */
#define L998 \
	"XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"
/* NOOP + SP + 506 chars = 511 octets + CRLF = 513; one less is 512. */
#define PAD505 \
	"yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"

static const struct tcase cases[] = {
	CASE(basic_session, NULL, GREET, "C:EHLO client.example.org", "S:250-" HOST,
	     "S:250-PIPELINING", "S:250-SIZE 26214400", "S:250-8BITMIME",
	     "S:250-ENHANCEDSTATUSCODES", "S:250-SMTPUTF8", "S:250-CHUNKING", "S:250 DSN", TXN,
	     "C:DATA", "S:354 End data with <CR><LF>.<CR><LF>", "R:Subject: hi\r\n\r\nHello.\r\n",
	     "N", "C:.", QUEUED(1), "G:1", "D:Subject: hi\r\n\r\nHello.\r\n",
	     "H:Received: from client.example.org (client.rdns.example [192.0.2.10])\r\n\tby " HOST
	     " (Sluice) with ESMTP id TESTQ1\r\n\tfor <alice@example.com>;\r\n\tThu, 1 Jan 2026 "
	     "00:00:00 +0000",
	     "L:qid=TESTQ1 ip=192.0.2.10 helo=client.example.org from=<sender@origin.example>",
	     "L:nrcpt=1 size=23 verdict=0 code=250 reply=250 2.0.0 Ok: queued as TESTQ1",
	     "C:QUIT", "S:221 2.0.0 Bye", "X"),
	CASE(helo_plain_smtp, NULL, GREET, "C:HELO client.example.org", "S:250 " HOST,
	     "C:MAIL FROM:<a@origin.example> SIZE=10", "S*555 5.5.4", TXN, "C:RCPT TO:<bob@example.com>",
	     "S:250 2.1.5 Ok", "C:DATA", "S*354", "C:x", "C:.", QUEUED(1), "H:with SMTP id",
	     "V:rcpt=<alice@example.com>", "V:rcpt=<bob@example.com>"),
	CASE(helo_ehlo_syntax, NULL, GREET, "C:EHLO", "S:501 5.5.4 Syntax: EHLO hostname", "C:HELO",
	     "S:501 5.5.4 Syntax: HELO hostname", "C:EHLO two words", "S:501 5.5.4 Syntax: EHLO hostname",
	     "C:EHLO [192.0.2.1]", "W:250 ", "C:helo lower.example", "S:250 " HOST),
	CASE(ehlo_resets_transaction, NULL, GREET, EHLO, TXN, EHLO, "C:RCPT TO:<bob@example.com>",
	     "S:503 5.5.1 Error: need MAIL command"),
	CASE(pipelined_batch, NULL, GREET, EHLO,
	     "R:MAIL FROM:<a@origin.example>\r\nRCPT TO:<alice@example.com>\r\nRCPT "
	     "TO:<nobody@example.com>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\n",
	     "S:250 2.1.0 Ok", "S:250 2.1.5 Ok",
	     "S:550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown in local "
	     "recipient table",
	     "S:250 2.1.5 Ok", "S:354 End data with <CR><LF>.<CR><LF>",
	     "R:Subject: p\r\n\r\nbody\r\n.\r\nQUIT\r\n", QUEUED(1), "S:221 2.0.0 Bye", "X", "G:1",
	     "V:nrcpt=2", "H:Received: from client.example.org"),
	CASE(pipelined_whole_session, NULL, GREET,
	     "R:EHLO c.example\r\nMAIL FROM:<a@origin.example>\r\nRCPT TO:<alice@example.com>\r\nDATA\r\n"
	     "one\r\n.\r\nMAIL FROM:<b@origin.example>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\ntwo\r\n."
	     "\r\nRSET\r\nNOOP\r\nQUIT\r\nNOOP\r\n",
	     "W:250 ", "S:250 2.1.0 Ok", "S:250 2.1.5 Ok", "S*354", QUEUED(1), "S:250 2.1.0 Ok",
	     "S:250 2.1.5 Ok", "S*354", QUEUED(2), "S:250 2.0.0 Ok", "S:250 2.0.0 Ok",
	     "S:221 2.0.0 Bye", "X", "G:2", "D:two\r\n"),
	CASE(pipelined_manual_order, NULL, GREET, EHLO, "M:manual",
	     "R:MAIL FROM:<a@origin.example>\r\nRCPT TO:<alice@example.com>\r\nRCPT "
	     "TO:<x@example.com>\r\nRCPT TO:<y@elsewhere.example>\r\nDATA\r\nhello\r\n.\r\nNOOP\r\n",
	     "S:250 2.1.0 Ok", "N", "Q:RCPT LOCAL", "S:250 2.1.5 Ok", "N", "Q:RCPT UNKNOWN",
	     "S*550 5.1.1 <x@example.com>", "N", "Q:RCPT NONLOCAL",
	     "S:554 5.7.1 <y@elsewhere.example>: Relay access denied", "S*354", "N", "Q:DELIVER OK",
	     QUEUED(1), "S:250 2.0.0 Ok", "G:1", "D:hello\r\n"),
	CASE(rcpt_results, NULL, GREET, EHLO, MAILFROM, "C:RCPT TO:<full@example.com>",
	     "S:452 4.2.2 <full@example.com>: Mailbox full", "C:RCPT TO:<temp@example.com>",
	     "S:451 4.3.0 <temp@example.com>: Temporary lookup failure, try again later",
	     "C:RCPT TO:<postmaster>", "S:250 2.1.5 Ok", "C:RCPT TO:<PostMaster>", "S:250 2.1.5 Ok",
	     "C:RCPT TO:<sales@EXAMPLE.com>", "S:250 2.1.5 Ok", "C:RCPT TO:<user>",
	     "S*501 5.1.3 Bad recipient address syntax", "C:RCPT TO:<>", "S*501 5.1.3",
	     "C:RCPT TO:alice@example.com", "S*501 5.1.3", "C:RCPT FROM:<alice@example.com>",
	     "S:501 5.5.4 Syntax: RCPT TO:<address>", "C:RCPT TO: <bob@example.com>",
	     "S:250 2.1.5 Ok", "C:DATA", "S*354", "C:.", QUEUED(1), "V:nrcpt=4",
	     "V:rcpt=<postmaster>:notify=0:orcpt=:class=0"),
	CASE(relay_attempts, NULL, GREET, EHLO, MAILFROM,
	     "C:RCPT TO:<user%evil.example@example.com>", "S*550 5.1.1 <user%evil.example@example.com>",
	     "C:RCPT TO:<evil.example!user@example.com>", "S*550 5.1.1",
	     "C:RCPT TO:<\"user@evil.example\"@example.com>", "S*550 5.1.1",
	     "C:RCPT TO:<@example.com:user@evil.example>",
	     "S:554 5.7.1 <user@evil.example>: Relay access denied",
	     "C:RCPT TO:<@example.com,@relay.example:alice@example.com>", "S:250 2.1.5 Ok",
	     "C:RCPT TO:<user@[192.0.2.1]>", "S:554 5.7.1 <user@[192.0.2.1]>: Relay access denied",
	     "C:RCPT TO:<user@[IPv6:2001:db8::1]>", "S*554 5.7.1", "C:RCPT TO:<user@[300.1.1.1]>",
	     "S*501 5.1.3", "C:RCPT TO:<user@[IPv6:zz]>", "S*501 5.1.3",
	     "C:RCPT TO:<alice@example.com.evil.example>", "S*554 5.7.1",
	     "C:RCPT TO:<alice@example.com@evil.example>", "S*501 5.1.3",
	     "C:RCPT TO:<alice@-bad.example>", "S*501 5.1.3", "C:RCPT TO:<a..b@example.com>",
	     "S*501 5.1.3", "C:RCPT TO:<user@evil.example> NOTIFY=NEVER", "S*554 5.7.1",
	     "V:", "C:DATA", "S*354", "C:.", QUEUED(1), "V:nrcpt=1 rcpt=<alice@example.com>"),
	CASE(relay_authenticated, cf_auth, GREET, "C:EHLO c.example", "S:250-" HOST,
	     "S:250-PIPELINING", "S:250-SIZE 26214400", "S:250-8BITMIME",
	     "S:250-ENHANCEDSTATUSCODES", "S:250-SMTPUTF8", "S:250-CHUNKING", "S:250-DSN",
	     "S:250 AUTH PLAIN LOGIN", AUTH_OK, "C:MAIL FROM:<alice@example.com>", "S:250 2.1.0 Ok",
	     "C:RCPT TO:<friend@elsewhere.example>", "S:250 2.1.5 Ok", RCPT_ALICE, "C:DATA", "S*354",
	     "C:hi", "C:.", QUEUED(1), "H:with ESMTPA id", "H:;\r\n\tThu",
	     "V:auth=alice", "V:rcpt=<friend@elsewhere.example>:notify=0:orcpt=:class=1",
	     "V:rcpt=<alice@example.com>:notify=0:orcpt=:class=0", "L:auth=alice"),
	CASE(submission_requires_auth, cf_submission, GREET, EHLO, "C:MAIL FROM:<alice@example.com>",
	     "S:530 5.7.0 Authentication required", AUTH_OK, "C:MAIL FROM:<alice@example.com>",
	     "S:250 2.1.0 Ok", "C:AUTH PLAIN AGFsaWNlAHNlY3JldA==",
	     "S:503 5.5.1 Error: already authenticated"),
	CASE(auth_plain_continuation, cf_auth, GREET, EHLO, "C:AUTH PLAIN", "S:334 ",
	     "C:YWRtaW4AYWxpY2UAc2VjcmV0", "S:535 5.7.8 Error: authentication failed",
	     "C:auth plain", "S:334 ", "C:AGFsaWNlAHNlY3JldA==",
	     "S:235 2.7.0 Authentication successful"),
	CASE(auth_login, cf_auth, GREET, EHLO, "C:AUTH LOGIN", "S:334 VXNlcm5hbWU6", "C:YWxpY2U=",
	     "S:334 UGFzc3dvcmQ6", "C:c2VjcmV0", "S:235 2.7.0 Authentication successful"),
	CASE(auth_login_initial, cf_auth, GREET, EHLO, "C:AUTH LOGIN YWxpY2U=", "S:334 UGFzc3dvcmQ6",
	     "C:d3Jvbmc=", "S:535 5.7.8 Error: authentication failed", "C:AUTH LOGIN YWxpY2U=",
	     "S:334 UGFzc3dvcmQ6", "C:c2VjcmV0", "S*235"),
	CASE(auth_cancel_and_errors, cf_auth, GREET, EHLO, "C:AUTH PLAIN", "S:334 ", "C:*",
	     "S:501 5.7.0 Authentication aborted", "C:AUTH LOGIN", "S*334", "C:*", "S*501 5.7.0",
	     "C:AUTH PLAIN !!!!", "S:501 5.5.2 Error: cannot decode response", "C:AUTH PLAIN",
	     "S:334 ", "C:abc", "S*501 5.5.2", "C:AUTH PLAIN YWxpY2VzZWNyZXQ=",
	     "S:501 5.5.2 Error: malformed PLAIN response", "C:AUTH PLAIN =",
	     "S:501 5.5.2 Error: malformed PLAIN response", "C:AUTH PLAIN AABzZWNyZXQ=",
	     "S*501 5.5.2 Error: malformed PLAIN", "C:AUTH CRAM-MD5",
	     "S:504 5.5.4 Error: unrecognized authentication type", "C:AUTH",
	     "S:501 5.5.4 Syntax: AUTH mechanism [initial-response]", "C:AUTH LOGIN =",
	     "S:501 5.5.2 Error: malformed user name", "C:NOOP", "S:250 2.0.0 Ok"),
	CASE(auth_lockout, cf_auth, GREET, EHLO, "C:AUTH PLAIN AGFsaWNlAHdyb25n",
	     "S:535 5.7.8 Error: authentication failed", "C:AUTH PLAIN AGFsaWNlAHdyb25n",
	     "S:535 5.7.8 Error: authentication failed", "C:AUTH PLAIN AGFsaWNlAHdyb25n",
	     "S:535 5.7.8 Error: authentication failed",
	     "S:421 4.7.0 " HOST " Error: too many authentication failures", "X", "C:NOOP", "N"),
	CASE(auth_tempfail, cf_auth, GREET, EHLO, "C:AUTH PLAIN AHRlbXAAeA==",
	     "S:454 4.7.0 Temporary authentication failure", "C:AUTH PLAIN AGFsaWNlAHNlY3JldA==",
	     "S*235"),
	CASE(auth_state_rules, cf_auth, GREET, "C:AUTH PLAIN AGFsaWNlAHNlY3JldA==",
	     "S:503 5.5.1 Error: send EHLO first", "C:HELO c.example", "S*250",
	     "C:AUTH PLAIN AGFsaWNlAHNlY3JldA==", "S:503 5.5.1 Error: send EHLO first", EHLO,
	     MAILFROM, "C:AUTH PLAIN AGFsaWNlAHNlY3JldA==",
	     "S:503 5.5.1 Error: MAIL transaction in progress"),
	CASE(auth_needs_tls, cf_tls, GREET, "C:EHLO c.example", "W:250 STARTTLS",
	     "C:AUTH PLAIN AGFsaWNlAHNlY3JldA==",
	     "S:538 5.7.11 Encryption required for requested authentication mechanism"),
	CASE(auth_manual_pipelined, cf_auth, GREET, EHLO, "M:manual",
	     "R:AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\nMAIL FROM:<alice@example.com>\r\n", "N",
	     "Q:AUTH OK", "S*235", "S:250 2.1.0 Ok"),
	CASE(data_dot_stuffing, NULL, GREET, EHLO, TXN, "C:DATA", "S*354",
	     "R:..leading dot\r\n...\r\n.\tx\r\n..\r\nend\r\n.\r\n", QUEUED(1),
	     "D:.leading dot\r\n..\r\n\tx\r\n.\r\nend\r\n"),
	CASE(data_empty_message, NULL, GREET, EHLO, TXN, "C:DATA", "S*354", "C:.", QUEUED(1), "D:",
	     "V:size=0"),
	CASE(data_state_rules, NULL, GREET, EHLO, "C:DATA", "S:503 5.5.1 Error: need MAIL command",
	     MAILFROM, "C:DATA", "S:554 5.5.1 Error: no valid recipients", RCPT_ALICE, "C:DATA x",
	     "S:501 5.5.4 Syntax: DATA", "C:DATA", "S*354", "C:MAIL FROM:<x@y.example>", "C:.",
	     QUEUED(1), "D:MAIL FROM:<x@y.example>\r\n"),
	/* SMTP smuggling (strict): every lax end-of-data is text, and the
	 * transaction fails at the real CRLF.CRLF, so no second message. */
	CASE(smuggle_lf_dot_lf, NULL, GREET, EHLO, TXN, "C:DATA", "S*354",
	     "R:Subject: a\r\n\r\nx\n.\nMAIL FROM:<e@evil.example>\r\nRCPT TO:<bob@example.com>\r\n"
	     "DATA\r\nsmuggled\r\n.\r\n",
	     "S:554 5.6.0 Error: bare <CR> or <LF> in message; lines must end with <CR><LF>", "G:0",
	     "C:NOOP", "S:250 2.0.0 Ok", "C:RCPT TO:<bob@example.com>", "S*503 5.5.1",
	     "L:code=554"),
	CASE(smuggle_cr_dot_cr, NULL, GREET, EHLO, TXN, "C:DATA", "S*354",
	     "R:x\r.\rMAIL FROM:<e@evil.example>\r\nDATA\r\nsmuggled\r\n.\r\n", "S*554 5.6.0", "G:0"),
	CASE(smuggle_lf_dot_crlf, NULL, GREET, EHLO, TXN, "C:DATA", "S*354",
	     "R:x\n.\r\nMAIL FROM:<e@evil.example>\r\n.\r\n", "S*554 5.6.0", "G:0", "C:NOOP",
	     "S*250"),
	CASE(smuggle_crlf_dot_lf, NULL, GREET, EHLO, TXN, "C:DATA", "S*354",
	     "R:x\r\n.\nMAIL FROM:<e@evil.example>\r\n.\r\n", "S*554 5.6.0", "G:0"),
	CASE(smuggle_crlf_dot_cr, NULL, GREET, EHLO, TXN, "C:DATA", "S*354",
	     "R:x\r\n.\rMAIL FROM:<e@evil.example>\r\n.\r\n", "S*554 5.6.0", "G:0"),
	CASE(smuggle_cr_dot_crlf, NULL, GREET, EHLO, TXN, "C:DATA", "S*354",
	     "R:x\r.\r\nMAIL FROM:<e@evil.example>\r\n.\r\n", "S*554 5.6.0", "G:0"),
	CASE(smuggle_lf_dot_cr, NULL, GREET, EHLO, TXN, "C:DATA", "S*354",
	     "R:x\n.\rMAIL FROM:<e@evil.example>\r\n.\r\n", "S*554 5.6.0", "G:0"),
	CASE(smuggle_crcrlf, NULL, GREET, EHLO, TXN, "C:DATA", "S*354",
	     "R:x\r\r\n.\r\nNOOP\r\n", "S*554 5.6.0", "S:250 2.0.0 Ok", "G:0"),
	CASE(smuggle_dot_at_first_line_lf, NULL, GREET, EHLO, TXN, "C:DATA", "S*354",
	     "R:.\nMAIL FROM:<e@evil.example>\r\n.\r\n", "S*554 5.6.0", "G:0"),
	CASE(smuggle_normalize_one_message, cf_normalize, GREET, EHLO, TXN, "C:DATA", "S*354",
	     "R:a\n.\nMAIL FROM:<e@evil.example>\nb\r.\rc\r\n.\nd\n.\r\ne\r\n.\r\n", QUEUED(1),
	     "G:1",
	     "D:a\r\n.\r\nMAIL FROM:<e@evil.example>\r\nb\r\n.\r\nc\r\n.\r\nd\r\n.\r\ne\r\n",
	     "C:NOOP", "S:250 2.0.0 Ok"),
	CASE(normalize_unstuffs_after_bare_lf, cf_normalize, GREET, EHLO, TXN, "C:DATA", "S*354",
	     "R:a\n..b\n.\r\n", "N", "R:.\r\n", QUEUED(1), "D:a\r\n.b\r\n.\r\n"),
	CASE(command_bare_lf_strict, NULL, GREET, EHLO,
	     "R:MAIL FROM:<a@origin.example>\nRCPT TO:<alice@example.com>\r\n",
	     "S:500 5.5.2 Error: bare <LF> received; lines must end with <CR><LF>",
	     "S:503 5.5.1 Error: need MAIL command", "R:NOOP\n", "S*500 5.5.2", "R:NO\rOP\r\n",
	     "S:500 5.5.2 Error: bare <CR> received; lines must end with <CR><LF>"),
	CASE(command_bare_lf_normalize, cf_normalize, GREET, EHLO,
	     "R:MAIL FROM:<a@origin.example>\nRCPT TO:<alice@example.com>\n", "S:250 2.1.0 Ok",
	     "S:250 2.1.5 Ok", "R:NO\rOP\n", "S*500 5.5.2 Error: bare <CR>"),
	CASE(command_bad_chars, NULL, GREET, "R:NO\001OP\r\n",
	     "S:500 5.5.2 Error: invalid character in command", "R:\r\n",
	     "S:500 5.5.2 Error: command not recognized", "C:FOO bar",
	     "S:500 5.5.2 Error: command not recognized"),
	CASE(bdat_basic, NULL, GREET, EHLO, TXN, "R:BDAT 6\r\nhello ", "S:250 2.0.0 Ok: 6 octets received",
	     "R:BDAT 7 LAST\r\nworld\r\n", QUEUED(1), "D:hello world\r\n", "H:with ESMTP id TESTQ1",
	     "C:BDAT 0 LAST", "S:503 5.5.1 Error: need MAIL command", TXN, "C:BDAT 0 LAST",
	     QUEUED(2), "D:"),
	CASE(bdat_pipelined, NULL, GREET, EHLO,
	     "R:MAIL FROM:<a@origin.example>\r\nRCPT TO:<alice@example.com>\r\nBDAT 5\r\nabcdeBDAT 3 "
	     "last\r\nf\r\nQUIT\r\n",
	     "S:250 2.1.0 Ok", "S:250 2.1.5 Ok", "S:250 2.0.0 Ok: 5 octets received", QUEUED(1),
	     "S:221 2.0.0 Bye", "X", "D:abcdef\r\n"),
	CASE(bdat_smuggling_is_data, NULL, GREET, EHLO, TXN,
	     "R:BDAT 61 LAST\r\nx\r\n.\r\nMAIL FROM:<e@evil.example>\r\nRCPT TO:<bob@example.com>\r\n",
	     QUEUED(1), "G:1",
	     "D:x\r\n.\r\nMAIL FROM:<e@evil.example>\r\nRCPT TO:<bob@example.com>\r\n", "C:NOOP",
	     "S*250"),
	CASE(bdat_refused_reads_chunk, NULL, GREET, EHLO, "R:BDAT 12\r\nQUIT\r\nNOOP\r\n",
	     "S:503 5.5.1 Error: need MAIL command", "C:NOOP", "S:250 2.0.0 Ok", MAILFROM,
	     "R:BDAT 6 LAST\r\nRSET\r\n", "S:554 5.5.1 Error: no valid recipients", "C:NOOP",
	     "S*250", "C:HELO c.example", "S*250", "R:BDAT 4\r\nQUIT", "S:503 5.5.1 Error: send EHLO first",
	     "C:NOOP", "S*250"),
	CASE(bdat_then_data_refused, NULL, GREET, EHLO, TXN, "R:BDAT 3\r\nabc", "S*250 2.0.0 Ok: 3",
	     "C:DATA", "S:503 5.5.1 Error: DATA not allowed after BDAT", "R:BDAT 0 LAST\r\n",
	     QUEUED(1), "D:abc"),
	CASE(bdat_bad_size_closes, NULL, GREET, EHLO, TXN, "C:BDAT 12x",
	     "S:501 5.5.4 Syntax: BDAT size [LAST]",
	     "S:421 4.5.0 " HOST " Error: lost BDAT framing, closing", "X"),
	CASE(bdat_bad_keyword_closes, NULL, GREET, EHLO, TXN, "C:BDAT 1 FIRST", "S*501 5.5.4",
	     "S*421 4.5.0", "X"),
	CASE(bdat_huge_size_closes, NULL, GREET, EHLO, TXN, "C:BDAT 99999999999999999999999",
	     "S*501 5.5.4", "S*421", "X"),
	CASE(bdat_bare_lf_strict, NULL, GREET, EHLO, TXN, "R:BDAT 4 LAST\r\na\nb\n",
	     "S*554 5.6.0", "G:0", "C:NOOP", "S*250"),
	CASE(bdat_bare_lf_normalize, cf_normalize, GREET, EHLO, TXN, "R:BDAT 4\r\na\nb\r",
	     "S*250 2.0.0 Ok: 5 octets", "R:BDAT 1 LAST\r\nc", "S*250 2.0.0 Ok: queued",
	     "D:a\r\nb\r\nc"),
	CASE(bdat_cr_split_chunks, NULL, GREET, EHLO, TXN, "R:BDAT 2\r\na\r", "S*250",
	     "R:BDAT 3 LAST\r\n\nb\r", "S*554 5.6.0", "G:0"),
	CASE(size_mail_param, cf_small, GREET, EHLO, "C:MAIL FROM:<a@origin.example> SIZE=101",
	     "S:552 5.3.4 Error: message size exceeds fixed maximum message size",
	     "C:MAIL FROM:<a@origin.example> SIZE=abc", "S:501 5.5.4 Error: bad SIZE value",
	     "C:MAIL FROM:<a@origin.example> SIZE=100 SIZE=100",
	     "S*555 5.5.4 Error: unsupported MAIL parameter SIZE",
	     "C:MAIL FROM:<a@origin.example> SIZE=100", "S:250 2.1.0 Ok", RCPT_ALICE, "C:DATA",
	     "S*354", "R:0123456789012345678901234567890123456789012345678901234567890123456789"
		       "0123456789012345678901234567\r\n.\r\n",
	     QUEUED(1), "V:size=100 declared=100"),
	CASE(size_streaming_data, cf_small, GREET, EHLO, TXN, "C:DATA", "S*354",
	     "R:0123456789012345678901234567890123456789012345678901234567890123456789"
	     "01234567890123456789012345678\r\n.\r\n",
	     "S:552 5.3.4 Error: message size exceeds fixed maximum message size", "G:0", "C:NOOP",
	     "S*250", "L:code=552"),
	CASE(size_streaming_bdat, cf_small, GREET, EHLO, TXN, "R:BDAT 60\r\n"
	     "012345678901234567890123456789012345678901234567890123456789",
	     "S*250 2.0.0 Ok: 60", "R:BDAT 41 LAST\r\n01234567890123456789012345678901234567890",
	     "S:552 5.3.4 Error: message size exceeds fixed maximum message size", "G:0",
	     "C:RCPT TO:<alice@example.com>", "S*503 5.5.1"),
	CASE(too_many_recipients, cf_small, GREET, EHLO, TXN, "C:RCPT TO:<bob@example.com>",
	     "S:250 2.1.5 Ok", "C:RCPT TO:<sales@example.com>", "S:452 4.5.3 Error: too many recipients",
	     "C:DATA", "S*354", "C:.", QUEUED(1), "V:nrcpt=2"),
	CASE(line_limits_command, NULL, GREET, "C:NOOP " PAD505, "S:250 2.0.0 Ok",
	     "C:NOOP y" PAD505, "S:500 5.5.2 Error: line too long", "C:NOOP", "S*250"),
	CASE(line_limits_mail_rcpt_allowance, NULL, GREET, EHLO,
	     "C:MAIL FROM:<a@origin.example> ENVID=" PAD505, "S*501 5.5.4 Error: bad ENVID",
	     "C:RCPT TO:<x@example.com> ORCPT=rfc822;" PAD505, "S*503 5.5.1",
	     "C:HELO " PAD505 PAD505, "S:500 5.5.2 Error: line too long"),
	CASE(line_limits_huge_line, NULL, GREET,
	     "C:" PAD505 PAD505 PAD505 PAD505 PAD505 PAD505 PAD505 PAD505 PAD505 PAD505 PAD505 PAD505
	     PAD505 PAD505 PAD505 PAD505 PAD505 PAD505 PAD505 PAD505 PAD505 PAD505 PAD505 PAD505 PAD505
	     PAD505 PAD505 PAD505,
	     "S:500 5.5.2 Error: line too long", "C:NOOP", "S:250 2.0.0 Ok"),
	CASE(line_limits_text, NULL, GREET, EHLO, TXN, "C:DATA", "S*354", "C:" L998, "C:.",
	     QUEUED(1), TXN, "C:DATA", "S*354", "C:X" L998, "C:.",
	     "S:500 5.5.2 Error: message line longer than 1000 octets", "G:1"),
	CASE(errors_disconnect, cf_errors3, GREET, "C:FOO", "S*500", "C:MAIL FROM:<a@b.example>",
	     "S*503", "C:BAR", "S*500", "S:421 4.7.0 " HOST " Error: too many errors", "X"),
	CASE(timeout_command, NULL, GREET, "T:299", "N", "T:2",
	     "S:421 4.4.2 " HOST " Error: timeout exceeded", "X"),
	CASE(timeout_data, NULL, GREET, EHLO, TXN, "C:DATA", "S*354", "R:partial", "T:181",
	     "S:421 4.4.2 " HOST " Error: timeout exceeded", "X", "G:0", "L:code=0"),
	CASE(greeting_delay, cf_delay, "N", "T:4", "N", "T:1", GREET, EHLO),
	CASE(pregreet_talker, cf_delay, "T:1", "C:EHLO bot.example",
	     "S:554 5.5.1 " HOST " Error: protocol error, talked before greeting", "X"),
	CASE(starttls_discards_plaintext, cf_tls, GREET, "C:EHLO c.example", "S:250-" HOST,
	     "W:250-CHUNKING", "S:250-DSN", "S:250 STARTTLS",
	     "R:STARTTLS\r\nMAIL FROM:<evil@evil.example>\r\nRCPT TO:<bob@example.com>\r\n",
	     "S:220 2.0.0 Ready to start TLS", "C:MAIL FROM:<a@origin.example>",
	     "S:503 5.5.1 Error: send HELO/EHLO first", "C:EHLO c.example", "W:250-DSN",
	     "S:250 AUTH PLAIN LOGIN", "C:STARTTLS", "S:554 5.5.1 Error: TLS already active", TXN, "C:DATA", "S*354", "C:.",
	     QUEUED(1), "H:with ESMTPS id", "V:tls=1"),
	CASE(starttls_manual_discard, cf_tls, GREET, EHLO, "M:manual", "C:STARTTLS", "S*220 2.0.0",
	     "R:EHLO injected.example\r\n", "N", "Q:TLS OK", "N", "C:NOOP", "S*250"),
	CASE(starttls_rules, cf_tls, GREET, "C:STARTTLS now", "S:501 5.5.4 Syntax: STARTTLS", EHLO,
	     TXN, "C:STARTTLS", "S:503 5.5.1 Error: MAIL transaction in progress", "C:RSET",
	     "S*250", "M:manual", "C:STARTTLS", "S*220", "Q:TLS FAIL", "X"),
	CASE(starttls_not_offered, NULL, GREET, "C:STARTTLS",
	     "S:502 5.5.1 Error: command not implemented"),
	CASE(implicit_tls_submission, cf_implicit_tls, GREET, "C:EHLO c.example",
	     "W:250 AUTH PLAIN LOGIN", "C:MAIL FROM:<alice@example.com>", "S*530 5.7.0", AUTH_OK,
	     "C:MAIL FROM:<alice@example.com>", "S*250", "C:RCPT TO:<x@elsewhere.example>", "S*250",
	     "C:DATA", "S*354", "C:.", QUEUED(1),
	     "H:Received: from c.example (unknown [IPv6:2001:db8::7])", "H:with ESMTPSA id",
	     "H:\tfor <x@elsewhere.example>;"),
	CASE(starttls_received_records_tls, cf_tls, GREET, EHLO, "C:STARTTLS", "S*220 2.0.0",
	     "C:EHLO c.example", "W:250 ", TXN, "C:DATA", "S*354", "C:.", QUEUED(1),
	     "H:Received: from c.example (client.rdns.example [192.0.2.10])\r\n"
	     "\t(using TLSv1.3 with cipher TLS13-CHACHA20-POLY1305-SHA256)\r\n\tby " HOST
	     " (Sluice) with ESMTPS id"),
	CASE(plaintext_received_has_no_tls, NULL, GREET, EHLO, TXN, "C:DATA", "S*354", "C:.",
	     QUEUED(1), "H:client.rdns.example [192.0.2.10])\r\n\tby " HOST " (Sluice) with ESMTP id"),
	CASE(implicit_tls_received_records_tls, cf_implicit_tls, GREET, "C:EHLO c.example",
	     "W:250 ", AUTH_OK, "C:MAIL FROM:<alice@example.com>", "S*250",
	     "C:RCPT TO:<x@elsewhere.example>", "S*250", "C:DATA", "S*354", "C:.", QUEUED(1),
	     "H:\t(using TLSv1.2 with cipher ECDHE-ECDSA-AES128-GCM-SHA256)\r\n\tby "),
	CASE(require_tls_refuses_mail_and_auth, cf_require_tls, GREET, "C:EHLO c.example",
	     "W:250 STARTTLS", "C:MAIL FROM:<alice@example.com>",
	     "S:530 5.7.0 Must issue a STARTTLS command first", "C:AUTH PLAIN AGFsaWNlAHNlY3JldA==",
	     "S:530 5.7.0 Must issue a STARTTLS command first", "C:NOOP", "S*250", "C:STARTTLS",
	     "S*220 2.0.0", "C:EHLO c.example", "W:250 AUTH PLAIN LOGIN", AUTH_OK,
	     "C:MAIL FROM:<alice@example.com>", "S:250 2.1.0 Ok"),
	CASE(vrfy_expn_enabled, cf_vrfy, GREET, "C:VRFY alice",
	     "S:252 2.5.0 Cannot VRFY user, but will accept message and attempt delivery",
	     "C:EXPN staff", "S*252 2.5.0", "C:VRFY", "S:501 5.5.4 Syntax: VRFY address",
	     "C:EHLO c.example", "W:250-VRFY", "S:250-EXPN", "W:250 DSN"),
	CASE(vrfy_expn_disabled, NULL, GREET, "C:VRFY alice", "S:502 5.5.1 Error: VRFY command is disabled",
	     "C:EXPN staff", "S:502 5.5.1 Error: EXPN command is disabled"),
	CASE(help_noop_rset_quit, NULL, GREET, "C:HELP", "W:214 2.0.0", "C:HELP MAIL", "W:214 ",
	     "C:NOOP anything", "S:250 2.0.0 Ok", "C:RSET x", "S:501 5.5.4 Syntax: RSET", EHLO, TXN,
	     "C:RSET", "S:250 2.0.0 Ok", "C:RCPT TO:<alice@example.com>", "S*503", "C:QUIT now",
	     "S:501 5.5.4 Syntax: QUIT", "C:quit", "S:221 2.0.0 Bye", "X"),
	CASE(mail_syntax, NULL, GREET, EHLO, "C:MAIL FROM:a@b.example", "S*501 5.1.7",
	     "C:MAIL TO:<a@b.example>", "S:501 5.5.4 Syntax: MAIL FROM:<address>",
	     "C:MAIL FROM:<a@b.example>junk", "S*501 5.1.7", "C:MAIL FROM:<a>",
	     "S:501 5.1.7 Bad sender address syntax: address must have a domain",
	     "C:MAIL FROM:<postmaster>", "S*501 5.1.7", "C:MAIL FROM:<a@b.example> FOO=bar",
	     "S:555 5.5.4 Error: unsupported MAIL parameter FOO", "C:MAIL FROM:<a@b.example> =x",
	     "S*501 5.5.4", "C:MAIL FROM:<>", "S:250 2.1.0 Ok", "C:MAIL FROM:<>",
	     "S:503 5.5.1 Error: nested MAIL command", RCPT_ALICE, "C:DATA", "S*354", "C:.",
	     QUEUED(1), "V:from=<>", "C:MAIL FROM: <spaced@b.example>", "S*250"),
	CASE(mail_before_helo, NULL, GREET, "C:MAIL FROM:<a@b.example>",
	     "S:503 5.5.1 Error: send HELO/EHLO first"),
	CASE(dsn_parameters, NULL, GREET, EHLO,
	     "C:MAIL FROM:<a@origin.example> RET=HDRS ENVID=abc+2Bdef BODY=8BITMIME AUTH=<>",
	     "S:250 2.1.0 Ok", "C:RCPT TO:<alice@example.com> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;alice@example.com",
	     "S:250 2.1.5 Ok", "C:RCPT TO:<bob@example.com> NOTIFY=NEVER", "S*250",
	     "C:RCPT TO:<sales@example.com> NOTIFY=NEVER,DELAY", "S:501 5.5.4 Error: bad NOTIFY value",
	     "C:RCPT TO:<sales@example.com> NOTIFY=SOMETIMES", "S*501 5.5.4",
	     "C:RCPT TO:<sales@example.com> NOTIFY=DELAY,", "S*501 5.5.4",
	     "C:RCPT TO:<sales@example.com> ORCPT=rfc822", "S:501 5.5.4 Error: bad ORCPT value",
	     "C:RCPT TO:<sales@example.com> ORCPT=rfc822;a=b", "S*501 5.5.4",
	     "C:RCPT TO:<sales@example.com> FOO", "S:555 5.5.4 Error: unsupported RCPT parameter FOO",
	     "C:DATA", "S*354", "C:.", QUEUED(1), "V:ret=2 envid=abc+2Bdef body=2",
	     "V:rcpt=<alice@example.com>:notify=6:orcpt=rfc822;alice@example.com:class=0",
	     "V:rcpt=<bob@example.com>:notify=1:orcpt=:class=0",
	     "C:MAIL FROM:<a@origin.example> RET=ALL", "S:501 5.5.4 Error: bad RET value",
	     "C:MAIL FROM:<a@origin.example> ENVID=a+zz", "S*501 5.5.4 Error: bad ENVID",
	     "C:MAIL FROM:<a@origin.example> BODY=BINARYMIME",
	     "S:555 5.5.4 Error: unsupported BODY type", "C:MAIL FROM:<a@origin.example> BODY=7bit",
	     "S*250", "C:RCPT TO:<alice@example.com> NOTIFY=success", "S*250"),
	CASE(rcpt_params_need_ehlo, NULL, GREET, "C:HELO c.example", "S*250",
	     "C:MAIL FROM:<a@origin.example>", "S*250", "C:RCPT TO:<alice@example.com> NOTIFY=NEVER",
	     "S:555 5.5.4 Error: RCPT parameters require EHLO"),
	CASE(smtputf8, NULL, GREET, EHLO, "C:MAIL FROM:<j\xc3\xb6rg@origin.example>",
	     "S:553 5.6.7 Error: non-ASCII address requires SMTPUTF8",
	     "C:MAIL FROM:<j\xc3\xb6rg@origin.example> SMTPUTF8", "S:250 2.1.0 Ok",
	     "C:RCPT TO:<\xc3\xa9l\xc3\xa8ve@example.com>", "S*550 5.1.1",
	     "C:RCPT TO:<alice@b\xc3\xbc" "cher.example>", "S*554 5.7.1", "C:RCPT TO:<x\xff@example.com>",
	     "S*501 5.1.3", RCPT_ALICE, "C:DATA", "S*354", "C:caf\xc3\xa9", "C:.", QUEUED(1),
	     "H:with UTF8SMTP id", "V:utf8=1", "D:caf\xc3\xa9\r\n"),
	CASE(smtputf8_rcpt_without, NULL, GREET, EHLO, MAILFROM,
	     "C:RCPT TO:<\xc3\xa9l\xc3\xa8ve@example.com>", "S*553 5.6.7"),
	CASE(filter_reject_and_tag, NULL, GREET, EHLO, TXN, "C:DATA", "S*354",
	     "C:XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X", "C:.",
	     "S:554 5.7.1 Spam message rejected  evil", "G:0", "L:verdict=3 code=554", TXN, "C:DATA",
	     "S*354", "C:TEMPFILTER", "C:.", "S:451 4.7.1 Try again later", TXN, "C:DATA", "S*354",
	     "C:TAGME", "C:.", QUEUED(3), "V:verdict=1"),
	CASE(deliver_failures, NULL, GREET, EHLO, TXN, "C:DATA", "S*354", "C:a", "M:manual", "C:.",
	     "N", "Q:DELIVER TEMP", "S:451 4.3.0 Temporary failure, try again later: store busy",
	     "L:code=451", "M:auto", TXN, "C:DATA", "S*354", "M:manual", "C:.", "Q:DELIVER FULL",
	     "S:452 4.3.1 Insufficient system storage", "M:auto", TXN, "C:DATA", "S*354",
	     "M:manual", "C:.", "Q:DELIVER PERM", "S:554 5.3.0 Transaction failed", "G:0", "M:auto",
	     TXN, "C:DATA", "S*354", "M:manual", "C:.", "Q:DELIVER OK", QUEUED(4), "G:1"),
	CASE(store_sink_failures, NULL, GREET, EHLO, TXN, "O:beginfail", "C:DATA",
	     "S:452 4.3.1 Insufficient system storage", "O:ok", "O:sinkfail", "C:DATA", "S*354",
	     "C:x", "C:.", "S:452 4.3.1 Insufficient system storage", "O:ok", TXN, "O:beginfail",
	     "R:BDAT 3 LAST\r\nabc", "S:452 4.3.1 Insufficient system storage", "G:0"),
	CASE(rset_during_bdat, NULL, GREET, EHLO, TXN, "R:BDAT 2\r\nab", "S*250", "C:RSET",
	     "S:250 2.0.0 Ok", "L:code=0", "C:BDAT 0 LAST", "S*503", "G:0"),
};

/* ---- every command in every state ---- */

enum { ST_INIT, ST_HELO, ST_EHLO, ST_MAIL, ST_RCPT, ST_N };

static const char *const st_prefix[ST_N][8] = {
	[ST_INIT] = {GREET, NULL},
	[ST_HELO] = {GREET, "C:HELO c.example", "S*250", NULL},
	[ST_EHLO] = {GREET, "C:EHLO c.example", "W:250 ", NULL},
	[ST_MAIL] = {GREET, "C:EHLO c.example", "W:250 ", MAILFROM, NULL},
	[ST_RCPT] = {GREET, "C:EHLO c.example", "W:250 ", TXN, NULL},
};

struct mcell {
	const char *cmd;
	const char *expect[ST_N];
};

static const struct mcell matrix[] = {
	{"C:EHLO c.example", {"W:250 ", "W:250 ", "W:250 ", "W:250 ", "W:250 "}},
	{"C:HELO c.example", {"S:250 " HOST, "S:250 " HOST, "S:250 " HOST, "S:250 " HOST, "S:250 " HOST}},
	{"C:MAIL FROM:<a@b.example>", {"S*503 5.5.1", "S:250 2.1.0 Ok", "S:250 2.1.0 Ok", "S*503 5.5.1",
				      "S*503 5.5.1"}},
	{"C:RCPT TO:<bob@example.com>", {"S*503 5.5.1", "S*503 5.5.1", "S*503 5.5.1", "S:250 2.1.5 Ok",
					 "S:250 2.1.5 Ok"}},
	{"C:DATA", {"S*503 5.5.1", "S*503 5.5.1", "S*503 5.5.1", "S*554 5.5.1", "S*354"}},
	{"R:BDAT 4 LAST\r\nabcd", {"S*503 5.5.1", "S*503 5.5.1", "S*503 5.5.1", "S*554 5.5.1",
				   "S*250 2.0.0 Ok: queued"}},
	{"C:RSET", {"S:250 2.0.0 Ok", "S:250 2.0.0 Ok", "S:250 2.0.0 Ok", "S:250 2.0.0 Ok",
		    "S:250 2.0.0 Ok"}},
	{"C:NOOP", {"S:250 2.0.0 Ok", "S:250 2.0.0 Ok", "S:250 2.0.0 Ok", "S:250 2.0.0 Ok",
		    "S:250 2.0.0 Ok"}},
	{"C:HELP", {"W:214 ", "W:214 ", "W:214 ", "W:214 ", "W:214 "}},
	{"C:VRFY bob", {"S*502 5.5.1", "S*502 5.5.1", "S*502 5.5.1", "S*502 5.5.1", "S*502 5.5.1"}},
	{"C:EXPN staff", {"S*502 5.5.1", "S*502 5.5.1", "S*502 5.5.1", "S*502 5.5.1", "S*502 5.5.1"}},
	{"C:AUTH PLAIN", {"S*503 5.5.1", "S*503 5.5.1", "S*503 5.5.1", "S*503 5.5.1", "S*503 5.5.1"}},
	{"C:STARTTLS", {"S*502 5.5.1", "S*502 5.5.1", "S*502 5.5.1", "S*502 5.5.1", "S*502 5.5.1"}},
	{"C:XYZZY", {"S*500 5.5.2", "S*500 5.5.2", "S*500 5.5.2", "S*500 5.5.2", "S*500 5.5.2"}},
	{"C:QUIT", {"S:221 2.0.0 Bye", "S:221 2.0.0 Bye", "S:221 2.0.0 Bye", "S:221 2.0.0 Bye",
		    "S:221 2.0.0 Bye"}},
};

static void test_every_command_in_every_state(void **state)
{
	(void)state;
	for (size_t c = 0; c < sizeof(matrix) / sizeof(matrix[0]); c++) {
		for (int st = 0; st < ST_N; st++) {
			const char *script[24];
			char name[128];
			size_t n = 0;
			const char *e = matrix[c].expect[st];

			for (size_t k = 0; st_prefix[st][k]; k++)
				script[n++] = st_prefix[st][k];
			script[n++] = matrix[c].cmd;
			script[n++] = e;
			if (!strncmp(e, "S*354", 5)) {
				script[n++] = "C:.";
				script[n++] = "S*250 2.0.0 Ok: queued";
			}
			if (!strncmp(e, "S:221", 5)) {
				script[n++] = "X";
			} else {
				script[n++] = "C:NOOP";
				script[n++] = "S:250 2.0.0 Ok";
			}
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

/* The same matrix with everything offered: AUTH in plaintext, STARTTLS,
 * VRFY/EXPN; then AUTH and STARTTLS start their exchanges. */
static void test_every_command_all_features(void **state)
{
	static const char *const cmds[][ST_N + 1] = {
		{"C:VRFY bob", "S*252", "S*252", "S*252", "S*252", "S*252"},
		{"C:EXPN staff", "S*252", "S*252", "S*252", "S*252", "S*252"},
		{"C:AUTH PLAIN", "S*503 5.5.1", "S*503 5.5.1", "S:334 ", "S*503 5.5.1", "S*503 5.5.1"},
		{"C:STARTTLS", "S*220 2.0.0", "S*220 2.0.0", "S*220 2.0.0", "S*503 5.5.1", "S*503 5.5.1"},
	};

	(void)state;
	for (size_t c = 0; c < sizeof(cmds) / sizeof(cmds[0]); c++) {
		for (int st = 0; st < ST_N; st++) {
			const char *script[24];
			size_t n = 0;

			for (size_t k = 0; st_prefix[st][k]; k++)
				script[n++] = st_prefix[st][k];
			script[n++] = cmds[c][0];
			script[n++] = cmds[c][st + 1];
			if (!strcmp(cmds[c][st + 1], "S:334 ")) {
				script[n++] = "C:AGFsaWNlAHNlY3JldA==";
				script[n++] = "S*235";
			}
			if (!strcmp(cmds[c][st + 1], "S*220 2.0.0")) {
				script[n++] = "C:MAIL FROM:<a@b.example>";
				script[n++] = "S*503 5.5.1 Error: send HELO/EHLO first";
			}
			script[n++] = "C:NOOP";
			script[n++] = "S:250 2.0.0 Ok";
			script[n] = NULL;
			for (int mode = 0; mode < 3; mode++) {
				struct h h;

				h_init(&h, cf_all, mode, cmds[c][0]);
				h_run(&h, script);
				h_fini(&h);
			}
		}
	}
}

/* ---- engine properties outside transcripts ---- */

static void test_output_backpressure(void **state)
{
	struct smtp_config cfg;
	struct smtp_peer peer = {.client_ip = "192.0.2.1"};
	smtp_session_t *s;
	static char flood[200000];
	size_t used, total = 0, replies = 0, n = 0;

	(void)state;
	smtp_config_defaults(&cfg);
	cfg.hostname = HOST;
	for (size_t i = 0; i + 6 <= sizeof(flood); i += 6, n++)
		memcpy(flood + i, "NOOP\r\n", 6);
	assert_int_equal(smtp_session_create(&cfg, NULL, &peer, 0, &s), 0);
	/* Never drained: input must stop instead of growing the output. */
	assert_int_equal(smtp_session_input(s, 0, flood, n * 6, &used), 0);
	assert_true(used < n * 6);
	assert_true(smtp_session_output(s).len <= cfg.output_max);
	total = used;
	while (total < n * 6) {
		sl_slice_t o = smtp_session_output(s);

		for (size_t i = 0; i + 1 < o.len; i++)
			if (o.ptr[i] == '\r' && o.ptr[i + 1] == '\n')
				replies++;
		assert_int_equal(smtp_session_output_consume(s, 0, o.len), 0);
		assert_int_equal(smtp_session_input(s, 0, flood + total, n * 6 - total, &used), 0);
		total += used;
	}
	for (;;) {
		sl_slice_t o = smtp_session_output(s);

		if (o.len == 0)
			break;
		for (size_t i = 0; i + 1 < o.len; i++)
			if (o.ptr[i] == '\r' && o.ptr[i + 1] == '\n')
				replies++;
		smtp_session_output_consume(s, 0, o.len);
	}
	assert_int_equal(replies, n + 1); /* + the greeting */
	smtp_session_destroy(&s);
}

static void test_pipeline_buffer_bounded(void **state)
{
	struct smtp_config cfg;
	struct smtp_peer peer = {.client_ip = "192.0.2.1"};
	smtp_session_t *s;
	static char flood[300000];
	const char *head = "EHLO a.example\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\n";
	size_t used, hl = strlen(head);

	(void)state;
	smtp_config_defaults(&cfg);
	cfg.hostname = HOST;
	memcpy(flood, head, hl);
	for (size_t i = hl; i + 6 <= sizeof(flood); i += 6)
		memcpy(flood + i, "NOOP\r\n", 6);
	assert_int_equal(smtp_session_create(&cfg, NULL, &peer, 0, &s), 0);
	assert_int_equal(smtp_session_input(s, 0, flood, sizeof(flood) / 6 * 6, &used), 0);
	assert_non_null(smtp_session_request(s));
	assert_int_equal(smtp_session_request(s)->kind, SMTP_REQ_RCPT);
	assert_true(used <= hl + cfg.pipeline_max + cfg.auth_line_max + 1);
	assert_int_equal(smtp_session_deadline(s), SL_TIME_NEVER);
	assert_int_equal(smtp_session_deliver_done(s, 0, SMTP_DELIVER_OK, NULL), SL_ESTATE);
	assert_int_equal(smtp_session_rcpt_done(s, 0, SMTP_RCPT_NONLOCAL), 0);
	assert_null(smtp_session_request(s));
	assert_true(smtp_session_deadline(s) != SL_TIME_NEVER);
	smtp_session_destroy(&s);
}

/* Split one pipelined session at every byte boundary into two input calls:
 * the replies and the delivered messages must not change. */
static void split_run(const char *in, size_t n, size_t cut, sl_buf_t *out, sl_buf_t *msgs)
{
	struct h h;
	const char *parts[2] = {in, in + cut};
	size_t lens[2] = {cut, n - cut};

	h_init(&h, cf_auth, 0, "split");
	h_pump(&h);
	for (int p = 0; p < 2; p++) {
		assert_int_equal(sl_buf_append(&h.backlog, parts[p], lens[p]), 0);
		h_pump(&h);
	}
	sl_buf_init(out, 1u << 20);
	sl_buf_init(msgs, 1u << 20);
	assert_int_equal(sl_buf_append(out, h.out.data, h.out.len), 0);
	assert_int_equal(sl_buf_printf(msgs, "%d:", h.delivered), 0);
	assert_int_equal(sl_buf_append(msgs, h.last_msg.data, h.last_msg.len), 0);
	h_fini(&h);
}

static void test_split_every_boundary(void **state)
{
	static const char in[] =
		"EHLO c.example\r\nAUTH PLAIN AGFsaWNlAHNlY3JldA==\r\nMAIL FROM:<alice@example.com> "
		"SIZE=20 SMTPUTF8\r\nRCPT TO:<bob@example.com> NOTIFY=NEVER\r\nRCPT "
		"TO:<x@elsewhere.example>\r\nDATA\r\n..a\r\n.\r\nMAIL FROM:<>\r\nRCPT "
		"TO:<nobody@example.com>\r\nRCPT TO:<sales@example.com>\r\nBDAT 5\r\nab\r\nc"
		"BDAT 2 LAST\r\nd\nNOOP\nRSET\r\nAUTH LOGIN\r\n*\r\nQUIT\r\n";
	size_t n = sizeof(in) - 1;
	sl_buf_t ref_out, ref_msgs;

	(void)state;
	split_run(in, n, n, &ref_out, &ref_msgs);
	assert_non_null(memmem(ref_out.data, ref_out.len, "221 2.0.0 Bye", 13));
	assert_non_null(memmem(ref_out.data, ref_out.len, "554 5.6.0", 9));
	for (size_t cut = 0; cut < n; cut++) {
		sl_buf_t o, m;

		split_run(in, n, cut, &o, &m);
		if (o.len != ref_out.len || memcmp(o.data, ref_out.data, o.len) != 0)
			fail_msg("cut at %zu: replies differ:\n%s\n---\n%s", cut, (char *)o.data,
				 (char *)ref_out.data);
		assert_int_equal(m.len, ref_msgs.len);
		assert_memory_equal(m.data, ref_msgs.data, m.len);
		sl_buf_free(&o);
		sl_buf_free(&m);
	}
	sl_buf_free(&ref_out);
	sl_buf_free(&ref_msgs);
}

static int abort_calls, log_calls;
static void cnt_abort(void *ctx, smtp_session_t *s)
{
	(void)ctx;
	(void)s;
	abort_calls++;
}
static void cnt_log(void *ctx, smtp_session_t *s, const struct smtp_txlog *r)
{
	(void)ctx;
	(void)s;
	assert_int_equal(r->reply_code, 0);
	log_calls++;
}

static void test_destroy_mid_message(void **state)
{
	struct smtp_config cfg;
	struct smtp_stats st;
	struct smtp_hooks hooks = {.msg_abort = cnt_abort, .txlog = cnt_log};
	struct smtp_peer peer = {.client_ip = "192.0.2.1"};
	smtp_session_t *s;
	const char *in = "EHLO a.example\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\n";
	size_t used;

	(void)state;
	memset(&st, 0, sizeof(st));
	smtp_config_defaults(&cfg);
	cfg.hostname = HOST;
	cfg.stats = &st;
	abort_calls = log_calls = 0;
	assert_int_equal(smtp_session_create(&cfg, &hooks, &peer, 0, &s), 0);
	assert_int_equal(smtp_session_input(s, 0, in, strlen(in), &used), 0);
	assert_int_equal(smtp_session_rcpt_done(s, 0, SMTP_RCPT_LOCAL), 0);
	assert_int_equal(smtp_session_input(s, 0, "DATA\r\nabc", 9, &used), 0);
	assert_int_equal(used, 9);
	smtp_session_destroy(&s);
	assert_null(s);
	smtp_session_destroy(&s);
	assert_int_equal(abort_calls, 1);
	assert_int_equal(log_calls, 1);
	assert_int_equal(st.msg_aborted, 1);
	assert_int_equal(st.sessions, 1);
	assert_int_equal(st.mail, 1);
	assert_int_equal(st.rcpt_accepted, 1);
}

static void test_config_validation(void **state)
{
	struct smtp_config cfg;
	struct smtp_peer peer = {.client_ip = "192.0.2.1"};
	smtp_session_t *s = (smtp_session_t *)&cfg;

	(void)state;
	smtp_config_defaults(&cfg);
	assert_int_equal(smtp_session_create(&cfg, NULL, &peer, 0, &s), SL_EINVAL);
	assert_null(s);
	cfg.hostname = HOST;
	cfg.cmd_line_max = 100;
	assert_int_equal(smtp_session_create(&cfg, NULL, &peer, 0, &s), SL_EINVAL);
	smtp_config_defaults(&cfg);
	cfg.hostname = HOST;
	cfg.text_line_max = 0; /* "no limit" is allowed */
	assert_int_equal(smtp_session_create(&cfg, NULL, &peer, 0, &s), 0);
	smtp_session_destroy(&s);
	peer.client_ip = NULL;
	assert_int_equal(smtp_session_create(&cfg, NULL, &peer, 0, &s), SL_EINVAL);
	assert_int_equal(smtp_reply_code_valid(250), 1);
	assert_int_equal(smtp_reply_code_valid(199), 0);
	assert_int_equal(smtp_reply_code_valid(600), 0);
}

static void test_shutdown_and_stats(void **state)
{
	struct smtp_config cfg;
	struct smtp_stats st;
	struct smtp_peer peer = {.client_ip = "192.0.2.1"};
	smtp_session_t *s;
	size_t used;
	sl_slice_t o;

	(void)state;
	memset(&st, 0, sizeof(st));
	smtp_config_defaults(&cfg);
	cfg.hostname = HOST;
	cfg.stats = &st;
	assert_int_equal(smtp_session_create(&cfg, NULL, &peer, 0, &s), 0);
	assert_int_equal(smtp_session_input(s, 0, "FOO\r\nNOOP\n", 10, &used), 0);
	smtp_session_shutdown(s, 0, NULL);
	assert_true(smtp_session_closing(s));
	o = smtp_session_output(s);
	assert_non_null(memmem(o.ptr, o.len, "421 4.3.2 " HOST " Service shutting down\r\n", 39));
	assert_int_equal(smtp_session_input(s, 0, "NOOP\r\n", 6, &used), SL_ECLOSED);
	assert_int_equal(used, 6);
	assert_int_equal(smtp_session_timeout(s, UINT64_MAX - 1), SL_ECLOSED);
	assert_int_equal(smtp_session_deadline(s), SL_TIME_NEVER);
	assert_int_equal(st.errors, 2);
	assert_int_equal(st.bare_eol, 1);
	assert_int_equal(st.commands, 1);
	{
		struct smtp_stats sum;
		sl_buf_t b;

		memset(&sum, 0, sizeof(sum));
		smtp_stats_add(&sum, &st);
		smtp_stats_add(&sum, &st);
		assert_int_equal(sum.errors, 4);
		assert_int_equal(sum.sessions, 2);
		sl_buf_init(&b, 4096);
		assert_int_equal(smtp_stats_format(&sum, &b), 0);
		assert_non_null(strstr((char *)b.data, "smtp.sessions 2\n"));
		assert_non_null(strstr((char *)b.data, "smtp.errors 4\n"));
		assert_non_null(strstr((char *)b.data, "smtp.plaintext_discarded 0\n"));
		sl_buf_free(&b);
		sl_buf_init(&b, 10);
		assert_int_equal(smtp_stats_format(&sum, &b), SL_ELIMIT);
		sl_buf_free(&b);
	}
	smtp_session_destroy(&s);
}

/* A session created to refuse says 421 in place of the greeting, with
 * or without a greeting delay, and takes no command. */
static void test_refuse_in_place_of_greeting(void **state)
{
	static const char want[] = "421 4.3.2 " HOST " Too many sessions\r\n";
	struct smtp_config cfg;
	struct smtp_peer peer = {.client_ip = "192.0.2.1", .refuse = "Too many sessions"};
	smtp_session_t *s;
	size_t used;
	sl_slice_t o;

	(void)state;
	for (int delay = 0; delay < 2; delay++) {
		smtp_config_defaults(&cfg);
		cfg.hostname = HOST;
		cfg.greeting_delay_us = delay ? 500000 : 0;
		assert_int_equal(smtp_session_create(&cfg, NULL, &peer, 0, &s), 0);
		assert_true(smtp_session_closing(s));
		o = smtp_session_output(s);
		assert_int_equal(o.len, sizeof(want) - 1);
		assert_memory_equal(o.ptr, want, o.len);
		assert_int_equal(smtp_session_input(s, 0, "EHLO x\r\n", 8, &used), SL_ECLOSED);
		assert_int_equal(smtp_session_output(s).len, o.len);
		smtp_session_destroy(&s);
	}
}

int main(void)
{
	size_t nc = sizeof(cases) / sizeof(cases[0]);
	static const struct CMUnitTest fixed[] = {
		cmocka_unit_test(test_every_command_in_every_state),
		cmocka_unit_test(test_refuse_in_place_of_greeting),
		cmocka_unit_test(test_every_command_all_features),
		cmocka_unit_test(test_split_every_boundary),
		cmocka_unit_test(test_output_backpressure),
		cmocka_unit_test(test_pipeline_buffer_bounded),
		cmocka_unit_test(test_destroy_mid_message),
		cmocka_unit_test(test_config_validation),
		cmocka_unit_test(test_shutdown_and_stats),
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
	rc = _cmocka_run_group_tests("smtp", tests, nc + nf, NULL, NULL);
	free(tests);
	return rc;
}
