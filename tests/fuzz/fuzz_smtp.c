/* fuzz_smtp - a whole SMTP session per input (libFuzzer).
 *
 * Input: byte 0 picks the configuration (role, EOL mode, TLS, AUTH, small
 * limits), byte 1 seeds a PRNG, the rest is what the client sends. The
 * PRNG decides how the stream is split into input calls, how much output
 * the "network" drains, when and how requests are answered (immediately,
 * later, or never), and when the clock jumps. Invariants checked: the
 * engine never consumes more than it is given, every reply line is
 * "ddd " or "ddd-" and ends in CRLF, no request is lost while the session
 * lives, and no message is delivered without a DELIVER request. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sl_err.h"
#include "sl_time.h"
#include "smtp/smtp_session.h"

struct fz {
	uint32_t rng;
	smtp_session_t *s;
	uint64_t now;
	size_t msg_bytes;
	bool msg_open;
	uint8_t line[2048];
	size_t line_len;
};

static uint32_t fz_rand(struct fz *f)
{
	/* xorshift32: reproducible from the input alone */
	uint32_t x = f->rng ? f->rng : 0x9e3779b9u;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	f->rng = x;
	return x;
}

static int fz_begin(void *ctx, smtp_session_t *s)
{
	struct fz *f = ctx;

	(void)s;
	if (f->msg_open)
		abort(); /* two messages open at once */
	if ((fz_rand(f) & 63) == 0)
		return SL_EFULL;
	f->msg_open = true;
	f->msg_bytes = 0;
	return 0;
}

static int fz_data(void *ctx, smtp_session_t *s, sl_slice_t c)
{
	struct fz *f = ctx;

	(void)s;
	if (!f->msg_open)
		abort(); /* data outside a message */
	f->msg_bytes += c.len;
	if (c.len > 0 && (c.ptr[0] == 0xAA && c.ptr[c.len - 1] == 0x55))
		return 0; /* touch the bytes so ASan checks the slice */
	return (fz_rand(f) & 1023) == 0 ? SL_EIO : 0;
}

static void fz_abort(void *ctx, smtp_session_t *s)
{
	struct fz *f = ctx;

	(void)s;
	f->msg_open = false;
}

static void fz_filter_end(void *ctx, smtp_session_t *s, struct smtp_verdict *v)
{
	struct fz *f = ctx;
	uint32_t r = fz_rand(f);

	(void)s;
	if ((r & 15) == 0) {
		v->action = SMTP_VERDICT_REJECT;
		v->code = (uint16_t)(r >> 8) % 700;
		memcpy(v->text, "5.7.1 no\r\nthanks", 17);
	} else if ((r & 15) == 1) {
		v->action = SMTP_VERDICT_TAG;
	}
}

static void fz_txlog(void *ctx, smtp_session_t *s, const struct smtp_txlog *r)
{
	struct smtp_rcpt rc;

	(void)ctx;
	for (size_t i = 0; i < r->rcpt_count; i++)
		if (smtp_session_rcpt(s, i, &rc) != 0)
			abort();
}

static void fz_check_output(struct fz *f, sl_slice_t o)
{
	for (size_t i = 0; i < o.len; i++) {
		if (f->line_len >= sizeof(f->line))
			abort(); /* a reply line without end */
		f->line[f->line_len++] = o.ptr[i];
		if (o.ptr[i] != '\n')
			continue;
		if (f->line_len < 6 || f->line[f->line_len - 2] != '\r' || f->line[0] < '2' ||
		    f->line[0] > '5' || f->line[1] < '0' || f->line[1] > '9' || f->line[2] < '0' ||
		    f->line[2] > '9' || (f->line[3] != ' ' && f->line[3] != '-'))
			abort();
		for (size_t k = 0; k + 2 < f->line_len; k++)
			if (f->line[k] == '\r' || f->line[k] == '\n')
				abort(); /* CR/LF inside a reply line */
		f->line_len = 0;
	}
}

static void fz_drain(struct fz *f, bool all)
{
	sl_slice_t o = smtp_session_output(f->s);
	size_t n = o.len;

	if (!all && n > 0)
		n = fz_rand(f) % (n + 1);
	if (n == 0)
		return;
	fz_check_output(f, sl_slice_make(o.ptr, n));
	smtp_session_output_consume(f->s, f->now, n);
}

static void fz_complete(struct fz *f)
{
	const struct smtp_request *r = smtp_session_request(f->s);
	uint32_t x;

	if (r == NULL)
		return;
	x = fz_rand(f);
	if ((x & 7) == 0)
		return; /* not yet */
	x >>= 3;
	switch (r->kind) {
	case SMTP_REQ_RCPT:
		if (r->u.rcpt.addr.len == 0 && r->u.rcpt.domain.len != 0)
			abort();
		smtp_session_rcpt_done(f->s, f->now, (enum smtp_rcpt_status)(x % 5));
		break;
	case SMTP_REQ_AUTH:
		if (r->u.auth.authcid.len == 0)
			abort();
		smtp_session_auth_done(f->s, f->now, (enum smtp_auth_status)(x % 3),
				       (x & 8) ? "user" : NULL);
		break;
	case SMTP_REQ_DELIVER:
		if (!f->msg_open || r->u.deliver.verdict.action == SMTP_VERDICT_REJECT)
			abort();
		f->msg_open = false; /* the glue owns it now */
		smtp_session_deliver_done(f->s, f->now, (enum smtp_deliver_status)(x % 4),
					  (x & 16) ? "detail\r\nx" : NULL);
		break;
	case SMTP_REQ_STARTTLS:
		smtp_session_tls_done(f->s, f->now, (x % 5) != 0);
		break;
	default:
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtp_config cfg;
	struct smtp_stats st;
	struct smtp_hooks hooks;
	struct smtp_peer peer;
	struct fz f;
	size_t off = 2;
	uint8_t c;

	if (size < 2)
		return 0;
	c = data[0];
	memset(&f, 0, sizeof(f));
	memset(&st, 0, sizeof(st));
	memset(&hooks, 0, sizeof(hooks));
	memset(&peer, 0, sizeof(peer));
	f.rng = 0x1234567u * (data[1] + 1u);
	smtp_config_defaults(&cfg);
	cfg.hostname = "mx.fuzz.example";
	cfg.stats = &st;
	cfg.role = (enum smtp_role)(c & 3) == 3 ? SMTP_ROLE_MX : (enum smtp_role)(c & 3);
	cfg.eol_mode = (c & 4) ? SMTP_EOL_NORMALIZE : SMTP_EOL_STRICT;
	cfg.starttls_available = (c & 8) != 0;
	cfg.allow_plaintext_auth = (c & 16) != 0;
	cfg.vrfy_enabled = cfg.expn_enabled = (c & 32) != 0;
	if (c & 64) {
		cfg.message_max = 200;
		cfg.rcpt_max = 2;
		cfg.errors_max = 5;
		cfg.pipeline_max = 64;
		cfg.output_max = 2048;
		cfg.text_line_max = 0;
	}
	if (c & 128)
		cfg.greeting_delay_us = SL_US_PER_S;
	peer.client_ip = (c & 1) ? "2001:db8::1" : "192.0.2.1";
	peer.tls_active = cfg.role == SMTP_ROLE_SUBMISSIONS;
	hooks.ctx = &f;
	hooks.msg_begin = fz_begin;
	hooks.msg_data = fz_data;
	hooks.msg_abort = fz_abort;
	hooks.filter_end = fz_filter_end;
	hooks.txlog = fz_txlog;
	f.now = 1;
	if (smtp_session_create(&cfg, &hooks, &peer, f.now, &f.s) != 0)
		abort();

	while (off < size) {
		uint32_t r = fz_rand(&f);
		size_t want = (r & 3) == 0 ? size - off : 1 + ((r >> 2) % 64);
		size_t used = 0;
		int rc;

		if (want > size - off)
			want = size - off;
		if ((r & 0x700) == 0x700) {
			f.now += ((r >> 12) % 400) * SL_US_PER_S;
			smtp_session_timeout(f.s, f.now);
		}
		rc = smtp_session_input(f.s, f.now, data + off, want, &used);
		if (used > want || (rc != 0 && rc != SL_ECLOSED))
			abort();
		if (rc == SL_ECLOSED && used != want)
			abort();
		off += used;
		fz_drain(&f, (r & 0x800) == 0);
		fz_complete(&f);
		fz_drain(&f, true);
		if (smtp_session_closing(f.s)) {
			if (smtp_session_request(f.s) != NULL)
				abort();
			break;
		}
		if (used == 0 && smtp_session_request(f.s) == NULL &&
		    smtp_session_output(f.s).len == 0 && off < size) {
			/* no request, nothing to send, yet no progress: a stall */
			abort();
		}
	}
	/* let the session finish what is pending */
	for (int i = 0; i < 8 && smtp_session_request(f.s); i++) {
		fz_complete(&f);
		fz_drain(&f, true);
	}
	if (!smtp_session_closing(f.s) && smtp_session_deadline(f.s) != SL_TIME_NEVER) {
		f.now = smtp_session_deadline(f.s);
		smtp_session_timeout(f.s, f.now);
		fz_drain(&f, true);
	}
	smtp_session_destroy(&f.s);
	if (f.s != NULL)
		abort();
	return 0;
}
