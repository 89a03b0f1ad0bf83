/* fuzz_imap - a whole IMAP session per input (libFuzzer): the command
 * framing and parser (literals, limits, nesting, sequence sets), every
 * command, and the request/completion protocol.
 *
 * Input: byte 0 picks the configuration (small limits, TLS, plaintext
 * logins, login delay), byte 1 seeds a PRNG, the rest is the client
 * stream. The PRNG splits the stream, drains the output partially, answers
 * requests at once, later, with errors or odd data (short bodies, lying
 * sizes, more bytes than asked), and jumps the clock. Invariants: input
 * consumed <= given; output within output_max + slack; every response
 * starts "* ", "+ " or "tag OK|NO|BAD " and literals are exactly as long
 * as announced; request ranges are sorted and disjoint; expunges ascend;
 * a closing session has no request; a session waiting on nothing makes
 * progress. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap_session.h"
#include "sl_err.h"
#include "sl_time.h"

#define FZ_MSGS 24

struct fz {
	uint32_t rng;
	imap_session_t *s;
	const struct imap_config *cfg;
	uint64_t now;
	/* the selected mailbox as the glue knows it */
	uint32_t uids[FZ_MSGS];
	uint32_t flags[FZ_MSGS];
	int n;
	/* output checker */
	bool resp_start;
	uint8_t line[256];
	size_t line_len;
	uint64_t lit_left;
	bool line_long;
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

static const char fz_body[] = "From: a@b\r\nSubject: x\r\nX: y\r\n z\r\n\r\nline 1\r\n.\r\nline 3\r\n";

/* fz_check_start - a response starts "* ", "+ " or "tag OK|NO|BAD ". */
static void fz_check_start(const uint8_t *p, size_t n)
{
	const uint8_t *sp;

	if (n >= 2 && (p[0] == '*' || p[0] == '+') && p[1] == ' ')
		return;
	sp = memchr(p, ' ', n);
	if (sp == NULL || sp == p)
		abort();
	n -= (size_t)(sp + 1 - p);
	sp++;
	if (!((n >= 3 && !memcmp(sp, "OK ", 3)) || (n >= 3 && !memcmp(sp, "NO ", 3)) ||
	      (n >= 4 && !memcmp(sp, "BAD ", 4))))
		abort();
}

/* fz_line_done - one line of output (a response, or the part of one that
 * follows a literal) ended at CRLF. */
static void fz_line_done(struct fz *f)
{
	if (f->resp_start && !f->line_long)
		fz_check_start(f->line, f->line_len);
	/* a line that ends in {n} announces a literal ({0} too: the
	 * response goes on after it) */
	bool announced = false;

	f->lit_left = 0;
	if (f->line_len >= 3 && f->line[f->line_len - 1] == '}') {
		size_t i = f->line_len - 2;
		uint64_t v = 0, mul = 1;

		while (i > 0 && f->line[i] >= '0' && f->line[i] <= '9') {
			v += (uint64_t)(f->line[i] - '0') * mul;
			mul *= 10;
			i--;
		}
		if (f->line[i] == '{' && i + 1 < f->line_len - 1) {
			f->lit_left = v;
			announced = true;
		}
	}
	f->resp_start = !announced;
	f->line_len = 0;
	f->line_long = false;
}

static void fz_check_output(struct fz *f, sl_slice_t o)
{
	for (size_t i = 0; i < o.len; i++) {
		if (f->lit_left > 0) {
			size_t k = o.len - i;

			if (k > f->lit_left)
				k = (size_t)f->lit_left;
			f->lit_left -= k;
			i += k - 1;
			if (f->lit_left == 0)
				f->resp_start = false; /* the rest of the response follows */
			continue;
		}
		if (o.ptr[i] == '\n') {
			if (f->line_len == 0 || f->line[f->line_len - 1] != '\r')
				abort(); /* bare LF outside a literal */
			f->line_len--;
			fz_line_done(f);
			continue;
		}
		if (f->line_len >= sizeof(f->line) - 1) {
			/* a long line: check its start now, keep its tail for
			 * the {n} check */
			if (f->resp_start && !f->line_long)
				fz_check_start(f->line, f->line_len);
			f->line_long = true;
			memmove(f->line, f->line + 128, f->line_len - 128);
			f->line_len -= 128;
		}
		f->line[f->line_len++] = o.ptr[i];
	}
}

static void fz_drain(struct fz *f, bool all)
{
	sl_slice_t o = imap_session_output(f->s);
	size_t n = o.len;

	if (o.len > (size_t)f->cfg->output_max + (1u << 20) + 65536)
		abort();
	if (!all && n > 0)
		n = fz_rand(f) % (n + 1);
	if (n == 0)
		return;
	fz_check_output(f, sl_slice_make(o.ptr, n));
	imap_session_output_consume(f->s, f->now, n);
}

static void fz_ranges_ok(const struct imap_range *r, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (r[i].lo > r[i].hi || r[i].lo == 0)
			abort();
		if (i > 0 && r[i].lo <= r[i - 1].hi)
			abort();
	}
}

static bool fz_in(const struct imap_range *r, size_t n, uint32_t v)
{
	for (size_t i = 0; i < n; i++)
		if (v >= r[i].lo && v <= r[i].hi)
			return true;
	return false;
}

static void fz_list(struct fz *f, const struct imap_request *r, uint32_t x)
{
	static const char *const names[] = {"INBOX", "Archive", "Archive/2025", "Sent",
					    "T\xc3\xabst", "a&b", "x/y/z", "\xff\xfe"};
	uint32_t seen = 0;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct imap_mailbox_info mi;

		if (seen++ < r->u.list.skip)
			continue;
		memset(&mi, 0, sizeof(mi));
		mi.name = sl_slice_make(names[i], strlen(names[i]));
		mi.attrs = (x >> i) & 0x0f;
		mi.roles = (x >> (i + 3)) & 0x3f;
		mi.messages = x & 0xff;
		if (imap_session_list_entry(f->s, &mi) == 1)
			break;
	}
	imap_session_list_done(f->s, f->now, (x & 31) == 0 ? SL_EIO : 0);
}

static void fz_select(struct fz *f, uint32_t x)
{
	struct imap_mailbox_info mi;
	sl_slice_t kw[3] = {SL_SLICE_LIT("$Forwarded"), SL_SLICE_LIT("Work"), SL_SLICE_LIT("bad kw")};
	uint32_t uid = 0;

	f->n = 0;
	if ((x & 15) == 0) {
		imap_session_select_done(f->s, f->now, (x & 16) ? SL_ENOENT : SL_EIO, NULL, NULL, 0);
		return;
	}
	for (int i = 0; i < (int)((x >> 4) % FZ_MSGS); i++) {
		int rc;

		uid += 1 + (fz_rand(f) % 5);
		f->uids[f->n] = uid;
		f->flags[f->n] = fz_rand(f) & 0x1f;
		rc = imap_session_select_msg(f->s, uid, f->flags[f->n], (fz_rand(f) & 3) == 0);
		if (rc == SL_ELIMIT && (uint32_t)f->n >= f->cfg->view_max)
			break;
		if (rc != 0)
			abort();
		f->n++;
	}
	if (f->n > 0 && imap_session_select_msg(f->s, f->uids[f->n - 1], 0, false) != SL_EINVAL)
		abort(); /* not ascending */
	memset(&mi, 0, sizeof(mi));
	mi.name = SL_SLICE_LIT("INBOX");
	mi.uidvalidity = 42;
	mi.uidnext = uid + 1;
	mi.highestmodseq = 100;
	mi.attrs = (x & 0x100) ? IMAP_MBA_NOSELECT : 0;
	imap_session_select_done(f->s, f->now, 0, &mi, kw, (x >> 9) % 4);
}

static void fz_fetch(struct fz *f, const struct imap_request *r, uint32_t x)
{
	fz_ranges_ok(r->u.fetch.uids, r->u.fetch.n_uids);
	for (int i = 0; i < f->n; i++) {
		struct imap_msg_meta m;
		sl_slice_t kw[2] = {SL_SLICE_LIT("$Forwarded"), SL_SLICE_LIT("a b")};
		uint32_t y = fz_rand(f);

		if (f->uids[i] <= r->u.fetch.after ||
		    !fz_in(r->u.fetch.uids, r->u.fetch.n_uids, f->uids[i]))
			continue;
		memset(&m, 0, sizeof(m));
		m.uid = f->uids[i];
		m.flags = f->flags[i];
		m.keywords = kw;
		m.n_keywords = y % 3;
		m.modseq = y % 200;
		m.internaldate = (int64_t)(y % 2000000000u) - ((y & 1) ? 1000000 : 0);
		m.tz_min = (int32_t)(y % 3000) - 1500;
		m.size = (y & 0x40) ? sizeof(fz_body) - 1 : (y % 100000);
		if (y & 0x80)
			m.envelope = SL_SLICE_LIT("(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
		if (y & 0x100)
			m.bodystructure = SL_SLICE_LIT("(\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 0 0)");
		if (imap_session_fetch_msg(f->s, &m) == 1)
			break;
		if ((x & 0x3ff) == 7)
			break; /* a glue that stops early, unasked: allowed */
	}
	imap_session_fetch_done(f->s, f->now, (x & 63) == 0 ? SL_EIO : 0);
}

static void fz_body_req(struct fz *f, const struct imap_request *r, uint32_t x)
{
	uint64_t off = r->u.body.offset;
	uint32_t len = r->u.body.len, done = 0;

	if (len == 0 || len > f->cfg->body_chunk_max)
		abort();
	if ((x & 63) == 0) {
		imap_session_body_done(f->s, f->now, SL_EIO);
		return;
	}
	while (done < len && (x & 7) != 1) {
		uint8_t buf[512];
		uint32_t k = 1 + fz_rand(f) % sizeof(buf);

		if (k > len - done)
			k = len - done;
		for (uint32_t i = 0; i < k; i++)
			buf[i] = (uint8_t)fz_body[(off + done + i) % (sizeof(fz_body) - 1)];
		if (imap_session_body_data(f->s, sl_slice_make(buf, k)) != 0)
			abort();
		done += k;
	}
	if (done == len && (x & 0x1f0) == 0x10 &&
	    imap_session_body_data(f->s, sl_slice_make("x", 1)) != SL_ELIMIT)
		abort();
	imap_session_body_done(f->s, f->now, 0);
}

static void fz_expunge(struct fz *f, const struct imap_range *r, size_t n, bool deleted_only)
{
	int w = 0;

	fz_ranges_ok(r, n);
	for (int i = 0; i < f->n; i++) {
		if (fz_in(r, n, f->uids[i]) && (!deleted_only || (f->flags[i] & 0x08)) &&
		    (fz_rand(f) & 3) != 0) {
			if (imap_session_expunged(f->s, f->uids[i]) != 0)
				abort();
			continue;
		}
		f->uids[w] = f->uids[i];
		f->flags[w] = f->flags[i];
		w++;
	}
	f->n = w;
}

static void fz_complete(struct fz *f)
{
	const struct imap_request *r = imap_session_request(f->s);
	uint32_t x;

	if (r == NULL)
		return;
	x = fz_rand(f);
	if ((x & 7) == 0)
		return; /* not yet */
	x >>= 3;
	switch (r->kind) {
	case IMAP_REQ_AUTH:
		if (r->u.auth.authcid.len == 0 || r->u.auth.password.len == 0)
			abort();
		imap_session_auth_done(f->s, f->now, (enum imap_auth_status)(x % 3),
				       (x & 4) ? "user@fuzz.example" : NULL);
		break;
	case IMAP_REQ_STARTTLS:
		imap_session_tls_done(f->s, f->now, (x % 5) != 0);
		break;
	case IMAP_REQ_MAILBOX:
		if (r->u.mailbox.name.ptr[r->u.mailbox.name.len] != 0)
			abort();
		imap_session_mailbox_done(f->s, f->now, -(int)(x % 22));
		break;
	case IMAP_REQ_LIST:
		fz_list(f, r, x);
		break;
	case IMAP_REQ_STATUS: {
		struct imap_mailbox_info mi;

		memset(&mi, 0, sizeof(mi));
		mi.name = r->u.status.name;
		mi.attrs = (x & 8) ? IMAP_MBA_NOSELECT : 0;
		imap_session_status_done(f->s, f->now, (x & 7) == 0 ? SL_ENOENT : 0,
					 (x & 16) ? NULL : &mi);
		break;
	}
	case IMAP_REQ_SELECT:
		fz_select(f, x);
		break;
	case IMAP_REQ_FETCH:
		fz_fetch(f, r, x);
		break;
	case IMAP_REQ_BODY:
		fz_body_req(f, r, x);
		break;
	case IMAP_REQ_STORE:
		fz_ranges_ok(r->u.store.uids, r->u.store.n_uids);
		for (size_t i = 0; i < r->u.store.n_keywords; i++)
			if (r->u.store.keywords[i].len == 0)
				abort();
		imap_session_store_done(f->s, f->now, (x & 15) == 0 ? SL_EFULL : 0);
		break;
	case IMAP_REQ_EXPUNGE:
		fz_expunge(f, r->u.expunge.uids, r->u.expunge.n_uids, true);
		imap_session_expunge_done(f->s, f->now, (x & 31) == 0 ? SL_EIO : 0);
		break;
	case IMAP_REQ_COPY: {
		uint32_t src[FZ_MSGS];
		size_t k = 0;

		fz_ranges_ok(r->u.copy.uids, r->u.copy.n_uids);
		for (int i = 0; i < f->n; i++)
			if (fz_in(r->u.copy.uids, r->u.copy.n_uids, f->uids[i]))
				src[k++] = f->uids[i];
		if ((x & 7) == 0) {
			imap_session_copy_done(f->s, f->now, SL_ENOENT, 0, NULL, 0, 0);
			break;
		}
		if (r->u.copy.move)
			fz_expunge(f, r->u.copy.uids, r->u.copy.n_uids, false);
		imap_session_copy_done(f->s, f->now, 0, 9, src, k, 100);
		break;
	}
	case IMAP_REQ_APPEND:
		if (r->u.append.mailbox.ptr[r->u.append.mailbox.len] != 0)
			abort();
		if (r->u.append.body.len > 0 &&
		    (r->u.append.body.ptr[0] == 0xAA && r->u.append.body.ptr[r->u.append.body.len - 1] == 0x55))
			f->rng ^= 1; /* touch the borrowed body so ASan checks it */
		imap_session_append_done(f->s, f->now, (x & 7) == 0 ? SL_ENOENT : 0, x & 0xff, x >> 8);
		break;
	case IMAP_REQ_SYNC: {
		int n = f->n;

		/* changed and new messages (some beyond the view), vanished ones */
		for (int i = 0; i < n + 2; i++) {
			struct imap_msg_meta m;

			memset(&m, 0, sizeof(m));
			m.uid = i < n ? f->uids[i] : (n ? f->uids[n - 1] : 0) + 1 + (uint32_t)i;
			m.flags = fz_rand(f) & 0x1f;
			m.modseq = r->u.sync.since + 1 + (uint64_t)i;
			if ((fz_rand(f) & 1) && imap_session_sync_msg(f->s, &m) != 0)
				abort();
		}
		for (int i = n - 1; i >= 0; i--)
			if ((fz_rand(f) & 3) == 0 && imap_session_sync_vanished(f->s, f->uids[i]) != 0)
				abort();
		imap_session_sync_done(f->s, f->now, (x & 15) == 0 ? SL_EIO : 0,
				       r->u.sync.since + (uint64_t)n + 3);
		break;
	}
	case IMAP_REQ_SECTION: {
		sl_slice_t pth = r->u.section.path;

		/* a path is digits and dots, starts with a digit, ends in NUL */
		if (pth.len == 0 || pth.ptr[pth.len] != 0 || pth.ptr[0] < '1' || pth.ptr[0] > '9')
			abort();
		for (size_t i = 0; i < pth.len; i++)
			if (pth.ptr[i] != '.' && (pth.ptr[i] < '0' || pth.ptr[i] > '9'))
				abort();
		/* ranges past the message's end are the engine's to clamp */
		imap_session_section_done(f->s, f->now,
					  (x & 3) == 0 ? SL_ENOENT : (x & 3) == 1 ? SL_EIO : 0,
					  (x >> 2) & 0x3ff, (x >> 12) & 0xfff);
		break;
	}
	default:
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fz f;
	struct imap_config cfg;
	struct imap_stats st;
	struct imap_peer peer;
	size_t off = 2;
	uint8_t c;

	if (size < 2)
		return 0;
	c = data[0];
	memset(&f, 0, sizeof(f));
	memset(&st, 0, sizeof(st));
	memset(&peer, 0, sizeof(peer));
	f.rng = 0x1234567u * (data[1] + 1u);
	f.resp_start = true;
	imap_config_defaults(&cfg);
	cfg.hostname = "imap.fuzz.example";
	cfg.stats = &st;
	cfg.starttls_available = (c & 1) != 0;
	cfg.allow_plaintext_auth = (c & 2) != 0;
	peer.tls_active = (c & 4) != 0;
	if (c & 8) {
		cfg.line_max = 1000;
		cfg.cmd_max = 3000;
		cfg.literal_max = 1000;
		cfg.preauth_literal_max = 300;
		cfg.nesting_max = 4;
		cfg.preauth_nesting_max = 1;
		cfg.seqset_max = 16;
		cfg.errors_max = 6;
		cfg.pipeline_max = 64;
		cfg.output_max = 4 * 8192;
		cfg.body_chunk_max = 1024;
		cfg.header_max = 1024;
		cfg.view_max = 16;
	}
	cfg.auth_fail_delay_us = (c & 16) ? SL_US_PER_S : 0;
	peer.client_ip = "192.0.2.1";
	f.cfg = &cfg;
	f.now = 1;
	if (imap_session_create(&cfg, &peer, f.now, &f.s) != 0)
		abort();
	while (off < size) {
		uint32_t r = fz_rand(&f);
		size_t want = (r & 3) == 0 ? size - off : 1 + ((r >> 2) % 64);
		size_t used = 0;
		int rc;

		if (want > size - off)
			want = size - off;
		if ((r & 0x700) == 0x700) {
			f.now += ((r >> 12) % 2000) * SL_US_PER_S;
			imap_session_timeout(f.s, f.now);
		}
		rc = imap_session_input(f.s, f.now, data + off, want, &used);
		if (used > want || (rc != 0 && rc != SL_ECLOSED))
			abort();
		if (rc == SL_ECLOSED && used != want)
			abort();
		off += used;
		fz_drain(&f, (r & 0x800) == 0);
		if ((r & 0xf000) == 0xf000 &&
		    imap_session_mailbox_changed(f.s, f.now) != 0 && !imap_session_closing(f.s))
			abort();
		fz_complete(&f);
		fz_drain(&f, true);
		if (imap_session_closing(f.s)) {
			if (imap_session_request(f.s) != NULL)
				abort();
			break;
		}
		if (used == 0 && imap_session_request(f.s) == NULL &&
		    imap_session_output(f.s).len == 0 && off < size) {
			uint64_t d = imap_session_deadline(f.s);

			if (d == SL_TIME_NEVER || d <= f.now)
				abort(); /* waiting on nothing, yet stuck */
			f.now = d;
			imap_session_timeout(f.s, f.now);
		}
	}
	for (int i = 0; i < 4096 && imap_session_request(f.s); i++) {
		fz_complete(&f);
		fz_drain(&f, true);
	}
	imap_session_destroy(&f.s);
	if (f.s != NULL)
		abort();
	return 0;
}
