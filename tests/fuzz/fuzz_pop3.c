/* fuzz_pop3 - a whole POP3 session per input (libFuzzer).
 *
 * Input: byte 0 picks the configuration (TLS, plaintext logins, small
 * limits, login delay), byte 1 seeds a PRNG, the rest is what the client
 * sends. The PRNG decides how the stream is split into input calls, how
 * much output the "network" drains, when and how requests are answered
 * (at once, later, or never; with which result), how FETCH bytes are cut
 * up, and when the clock jumps. Invariants: the engine never consumes more
 * than it is given, the output never passes output_max, FETCH ranges stay
 * inside the listed size and fetch_max, UPDATE carries only listed ids,
 * each at most once, no request is left behind by a closing session, and
 * a session that is not waiting on anything makes progress. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pop3/pop3_session.h"
#include "sl_err.h"
#include "sl_time.h"

static const char *const fz_bodies[] = {
	"Subject: a\r\n\r\nbody\r\n",
	".\r\n..\r\n.x\r\n",
	"A: b\n\n.lf\nmore",
	"",
	"no header split at all",
	"H: 1\r\nH: 2\r\n\r\n1\r\n2\r\n3\r\n4\r\n.\r\n",
};
#define FZ_NBODIES (sizeof(fz_bodies) / sizeof(fz_bodies[0]))

struct fz {
	uint32_t rng;
	pop3_session_t *s;
	const struct pop3_config *cfg;
	uint64_t now;
	/* the maildrop as listed: body index per message, or big */
	unsigned n;
	uint8_t body[8];
	const char *big; /* 70000 bytes: long lines, dots after LF */
};

static uint32_t fz_rand(struct fz *f)
{
	uint32_t x = f->rng ? f->rng : 0x9e3779b9u;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	f->rng = x;
	return x;
}

static sl_slice_t fz_body(const struct fz *f, unsigned i)
{
	if (f->body[i] == FZ_NBODIES)
		return sl_slice_make(f->big, 70000);
	return sl_slice_make(fz_bodies[f->body[i]], strlen(fz_bodies[f->body[i]]));
}

static void fz_drain(struct fz *f, bool all)
{
	sl_slice_t o = pop3_session_output(f->s);
	size_t n = o.len;

	if (o.len > f->cfg->output_max)
		abort();
	if (!all && n > 0)
		n = fz_rand(f) % (n + 1);
	if (n == 0)
		return;
	if (o.ptr[0] == 0xAA && o.ptr[n - 1] == 0x55)
		f->rng ^= 1; /* touch the bytes so ASan checks the slice */
	pop3_session_output_consume(f->s, f->now, n);
}

static void fz_maildrop(struct fz *f, uint32_t x)
{
	char uid[8] = "uid-0";

	unsigned want = x % 7;

	f->n = 0;
	for (unsigned i = 0; i < want; i++) {
		sl_slice_t b;
		int rc;

		f->body[i] = (uint8_t)((x >> (3 + i)) % (FZ_NBODIES + 1));
		b = fz_body(f, i);
		uid[4] = (char)('0' + i);
		/* listed size: mostly exact, sometimes off (the store lied) */
		rc = pop3_session_msg_add(f->s, 100 + i, b.len + ((x & 0x8000) ? 3 : 0),
					  sl_slice_make(uid, 5));
		if (rc == SL_ELIMIT && i >= f->cfg->msgs_max)
			break;
		if (rc != 0)
			abort();
		f->n++;
	}
	if (pop3_session_msg_add(f->s, 1, 1, sl_slice_make("bad uid", 7)) != SL_EINVAL)
		abort();
}

static void fz_fetch(struct fz *f, const struct pop3_request *r, uint32_t x)
{
	unsigned i;
	sl_slice_t b;
	uint64_t off, end;

	if (r->u.fetch.id < 100 || r->u.fetch.id >= 100 + f->n)
		abort();
	i = (unsigned)(r->u.fetch.id - 100);
	if (r->u.fetch.msg != i + 1 || r->u.fetch.len == 0 || r->u.fetch.len > f->cfg->fetch_max)
		abort();
	b = fz_body(f, i);
	if ((x & 31) == 0) {
		pop3_session_fetch_done(f->s, f->now, SL_EIO);
		return;
	}
	off = r->u.fetch.offset;
	end = off + r->u.fetch.len;
	if (end > b.len + 3)
		abort(); /* beyond the listed size */
	if (off > b.len)
		off = b.len;
	if (end > b.len)
		end = b.len;
	while (off < end) {
		uint64_t k = 1 + fz_rand(f) % 5000;

		if (k > end - off)
			k = end - off;
		if (pop3_session_fetch_data(f->s, sl_slice_make(b.ptr + off, (size_t)k)) != 0)
			abort();
		off += k;
	}
	/* a glue bug: more bytes than asked for are refused */
	if ((x & 63) == 1 && r->u.fetch.offset + r->u.fetch.len <= b.len &&
	    pop3_session_fetch_data(f->s, sl_slice_make("xx", 2)) != SL_ELIMIT)
		abort();
	pop3_session_fetch_done(f->s, f->now, 0);
}

static void fz_complete(struct fz *f)
{
	const struct pop3_request *r = pop3_session_request(f->s);
	uint32_t x;

	if (r == NULL)
		return;
	x = fz_rand(f);
	if ((x & 7) == 0)
		return; /* not yet */
	x >>= 3;
	switch (r->kind) {
	case POP3_REQ_AUTH:
		if (r->u.auth.authcid.len == 0 || r->u.auth.password.len == 0)
			abort();
		pop3_session_auth_done(f->s, f->now, (enum pop3_auth_status)(x % 3),
				       (x & 4) ? "user@fuzz.example" : NULL);
		break;
	case POP3_REQ_MAILDROP:
		if (r->u.maildrop.user.len == 0)
			abort();
		if (x % 4 == 0) {
			fz_maildrop(f, x >> 2);
			pop3_session_maildrop_done(f->s, f->now,
						   (enum pop3_maildrop_status)(1 + (x >> 9) % 2));
		} else {
			fz_maildrop(f, x >> 2);
			pop3_session_maildrop_done(f->s, f->now, POP3_MAILDROP_OK);
		}
		break;
	case POP3_REQ_FETCH:
		fz_fetch(f, r, x);
		break;
	case POP3_REQ_UPDATE: {
		uint32_t seen = 0;

		if (r->u.update.n_ids == 0 || r->u.update.n_ids > f->n)
			abort();
		for (size_t i = 0; i < r->u.update.n_ids; i++) {
			uint64_t id = r->u.update.ids[i];

			if (id < 100 || id >= 100 + f->n || (seen & (1u << (id - 100))))
				abort();
			seen |= 1u << (id - 100);
		}
		pop3_session_update_done(f->s, f->now, (x % 3) != 0);
		break;
	}
	case POP3_REQ_STLS:
		pop3_session_tls_done(f->s, f->now, (x % 5) != 0);
		break;
	default:
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fz f;
	static char big[70000];
	struct pop3_config cfg;
	struct pop3_stats st;
	struct pop3_peer peer;
	size_t off = 2;
	uint8_t c;

	if (size < 2)
		return 0;
	c = data[0];
	memset(&f, 0, sizeof(f));
	memset(&st, 0, sizeof(st));
	memset(&peer, 0, sizeof(peer));
	if (big[0] == 0)
		for (size_t i = 0; i < sizeof(big); i++)
			big[i] = (i % 37 == 0) ? '\n' : (i % 37 == 1) ? '.' : 'b';
	f.big = big;
	f.rng = 0x1234567u * (data[1] + 1u);
	pop3_config_defaults(&cfg);
	cfg.hostname = "pop.fuzz.example";
	cfg.stats = &st;
	cfg.stls_available = (c & 1) != 0;
	cfg.allow_plaintext_auth = (c & 2) != 0;
	peer.tls_active = (c & 4) != 0;
	if (c & 8) {
		cfg.errors_max = 4;
		cfg.auth_failures_max = 2;
		cfg.msgs_max = 3;
		cfg.pipeline_max = 32;
		cfg.fetch_max = 512;
		cfg.output_max = 2 * 512 + 4096;
		cfg.cmd_line_max = 255;
		cfg.auth_line_max = 300;
	}
	cfg.auth_fail_delay_us = (c & 16) ? SL_US_PER_S : 0;
	peer.client_ip = "192.0.2.1";
	f.cfg = &cfg;
	f.now = 1;
	if (pop3_session_create(&cfg, &peer, f.now, &f.s) != 0)
		abort();

	while (off < size) {
		uint32_t r = fz_rand(&f);
		size_t want = (r & 3) == 0 ? size - off : 1 + ((r >> 2) % 64);
		size_t used = 0;
		int rc;

		if (want > size - off)
			want = size - off;
		if ((r & 0x700) == 0x700) {
			f.now += ((r >> 12) % 700) * SL_US_PER_S;
			pop3_session_timeout(f.s, f.now);
		}
		rc = pop3_session_input(f.s, f.now, data + off, want, &used);
		if (used > want || (rc != 0 && rc != SL_ECLOSED))
			abort();
		if (rc == SL_ECLOSED && used != want)
			abort();
		off += used;
		fz_drain(&f, (r & 0x800) == 0);
		fz_complete(&f);
		fz_drain(&f, true);
		if (pop3_session_closing(f.s)) {
			if (pop3_session_request(f.s) != NULL)
				abort();
			break;
		}
		if (used == 0 && pop3_session_request(f.s) == NULL &&
		    pop3_session_output(f.s).len == 0 && off < size) {
			/* Nothing to wait for but the clock (a login delay). */
			uint64_t d = pop3_session_deadline(f.s);

			if (d == SL_TIME_NEVER || d <= f.now)
				abort();
			f.now = d;
			pop3_session_timeout(f.s, f.now);
		}
	}
	for (int i = 0; i < 64 && pop3_session_request(f.s); i++) {
		fz_complete(&f);
		fz_drain(&f, true);
	}
	if (!pop3_session_closing(f.s) && pop3_session_deadline(f.s) != SL_TIME_NEVER) {
		f.now = pop3_session_deadline(f.s);
		pop3_session_timeout(f.s, f.now);
		fz_drain(&f, true);
	}
	pop3_session_destroy(&f.s);
	if (f.s != NULL)
		abort();
	return 0;
}
