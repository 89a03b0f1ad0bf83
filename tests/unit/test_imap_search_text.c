/* test_imap_search_text - SEARCH on message text and header fields: the
 * matcher (mta/imap/imap_textmatch) on its own, and transcripts of the
 * engine driven by a fake glue that evaluates the predicates with the real
 * matcher, as mta/imap_store.c does. Every transcript runs three times
 * (whole payloads, one byte per call, random splits; the message bodies
 * are fed to the matcher the same three ways); all must agree. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap_session.h"
#include "imap/imap_textmatch.h"
#include "sl_buf.h"
#include "sl_err.h"
#include "sl_time.h"

/* ---- the mailbox ---- */

static const char m1[] = "From: \"Alice Example\" <alice@example.com>\r\n"
			 "To: bob@example.org\r\n"
			 "Cc: carol@example.net\r\n"
			 "Subject: Quarterly report\r\n"
			 "Date: Mon, 5 Jan 2026 10:00:00 +0000\r\n"
			 "\r\n"
			 "The numbers look GOOD this quarter.\r\n";

static const char m2[] = "From: =?ISO-8859-1?Q?J=F6rg_M=FCller?= <jorg@example.de>\r\n"
			 "To: team@example.org\r\n"
			 "Subject: =?UTF-8?B?w4RyZ2VyIMO8YmVyIGRpZSBHcsO8w59l?=\r\n"
			 "Date: Tue, 6 Jan 2026 23:30:00 -0800 (PST)\r\n"
			 "MIME-Version: 1.0\r\n"
			 "Content-Type: text/plain; charset=utf-8\r\n"
			 "Content-Transfer-Encoding: quoted-printable\r\n"
			 "\r\n"
			 "Caf=C3=A9 cr=C3=A8me br=C3=BBl=C3=A9e, to=\r\n"
			 "gether.\r\n";

/* no Date: SENT* use the internal date */
static const char m3[] = "From: ops@example.com\r\n"
			 "Bcc: dave@example.com\r\n"
			 "Subject: codes\r\n"
			 "Content-Type: text/plain\r\n"
			 "Content-Transfer-Encoding: base64\r\n"
			 "\r\n"
			 "U2VjcmV0IGxhdW5jaCBjb2RlOiBQSU5FQVBQTEUNCg==\r\n";

static const char m4[] = "From: news@example.com\r\n"
			 "To: all@example.org\r\n"
			 "Subject: Greetings\r\n"
			 "X-Custom: Foo-Bar\r\n"
			 "Date: 31 Dec 25 08:00 +0100\r\n"
			 "MIME-Version: 1.0\r\n"
			 "Content-Type: multipart/mixed; boundary=\"outer\"\r\n"
			 "\r\n"
			 "preamble mentions kangaroo\r\n"
			 "--outer\r\n"
			 "Content-Type: multipart/alternative; boundary=\"alt\"\r\n"
			 "\r\n"
			 "--alt\r\n"
			 "Content-Type: text/plain; charset=iso-8859-1\r\n"
			 "Content-Transfer-Encoding: quoted-printable\r\n"
			 "\r\n"
			 "Gr=FC=DFe aus M=DCnchen\r\n"
			 "--alt\r\n"
			 "Content-Type: text/html; charset=us-ascii\r\n"
			 "\r\n"
			 "<p>Hello <b>World</b> &amp; friends</p>\r\n"
			 "--alt--\r\n"
			 "--outer\r\n"
			 "Content-Type: application/octet-stream\r\n"
			 "Content-Transfer-Encoding: base64\r\n"
			 "\r\n"
			 "aGlkZGVud29yZCBpbiBhbiBhdHRhY2htZW50DQo=\r\n"
			 "--outer--\r\n";

/* a forwarded message; an unusable Date: */
static const char m5[] = "From: fwd@example.com\r\n"
			 "Subject: Fwd\r\n"
			 "Date: yesterday afternoon\r\n"
			 "MIME-Version: 1.0\r\n"
			 "Content-Type: multipart/mixed; boundary=b\r\n"
			 "\r\n"
			 "--b\r\n"
			 "Content-Type: text/plain\r\n"
			 "\r\n"
			 "see below\r\n"
			 "--b\r\n"
			 "Content-Type: message/rfc822\r\n"
			 "\r\n"
			 "From: inner@example.com\r\n"
			 "Subject: Inner subject zebra\r\n"
			 "\r\n"
			 "a giraffe inside\r\n"
			 "--b--\r\n";

static const char m6[] = "From: ivan@example.ru\r\n"
			 "Subject: =?KOI8-R?B?8NLJ18XU?=\r\n"
			 "Date: Sat, 10 Jan 2026 12:00:00 +0300\r\n"
			 "Content-Type: text/plain; charset=utf-8\r\n"
			 "Content-Transfer-Encoding: 8bit\r\n"
			 "\r\n"
			 "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82 \xd0\x9c\xd0\x98\xd0\xa0, "
			 "\xce\xa3\xce\x9f\xce\xa6\xce\x99\xce\x91 and \xc3\x84pfel\r\n";

struct tmsg {
	uint32_t uid;
	uint32_t flags;
	int64_t date;
	int32_t tz;
	const char *body;
};

static const struct tmsg mbox[] = {
	{1, IMAP_FLAG_SEEN, 1767607200, 0, m1},
	{2, 0, 1767771000, 0, m2},
	{3, IMAP_FLAG_SEEN, 1769904000, 0, m3},
	{5, 0, 1767164400, 60, m4},
	{6, IMAP_FLAG_FLAGGED, 1772323200, 0, m5},
	{9, 0, 1768046400, 180, m6},
};
#define NMSG (sizeof(mbox) / sizeof(mbox[0]))

/* ---- the fake glue ---- */

struct h {
	struct imap_config cfg;
	struct imap_stats stats;
	imap_session_t *s;
	imap_tm_t *tm;
	int mode;
	unsigned seed;
	const char *name;
	int step;
	sl_buf_t backlog;
	sl_buf_t out;
	uint32_t fetches;
	uint32_t text_fetches;
};

#define H_FAIL(h, ...)                                                           \
	do {                                                                     \
		print_error("%s [mode %d] step %d: ", (h)->name, (h)->mode, (h)->step); \
		print_error(__VA_ARGS__);                                        \
		print_error("\n");                                               \
		fail();                                                          \
	} while (0)

/* feed a message to the matcher in one piece, byte by byte or at random */
static uint64_t h_match(struct h *h, imap_tm_t *tm, const struct tmsg *m)
{
	const char *p = m->body;
	size_t n = strlen(p), i = 0;

	imap_tm_begin(tm, m->date, m->tz);
	while (i < n) {
		size_t k = n - i;
		int rc;

		if (h->mode == 1)
			k = 1;
		else if (h->mode == 2)
			k = 1 + (size_t)(rand_r(&h->seed) % 97);
		if (k > n - i)
			k = n - i;
		rc = imap_tm_feed(tm, p + i, k);
		assert_true(rc == 0 || rc == 1);
		i += k;
		if (rc == 1)
			break;
	}
	return imap_tm_end(tm);
}

static void h_fetch(struct h *h, const struct imap_request *r)
{
	h->fetches++;
	if (r->u.fetch.want & IMAP_WANT_TEXTMATCH) {
		h->text_fetches++;
		assert_int_equal(imap_tm_prepare(h->tm, r->u.fetch.text, r->u.fetch.n_text), 0);
	}
	for (size_t k = 0; k < NMSG; k++) {
		const struct tmsg *m = &mbox[k];
		struct imap_msg_meta meta;
		bool in = false;

		for (size_t j = 0; j < r->u.fetch.n_uids; j++)
			in = in || (m->uid >= r->u.fetch.uids[j].lo && m->uid <= r->u.fetch.uids[j].hi);
		if (!in || m->uid <= r->u.fetch.after)
			continue;
		memset(&meta, 0, sizeof(meta));
		meta.uid = m->uid;
		meta.flags = m->flags;
		meta.modseq = m->uid + 1;
		meta.internaldate = m->date;
		meta.tz_min = m->tz;
		meta.size = strlen(m->body);
		if (r->u.fetch.want & IMAP_WANT_TEXTMATCH)
			meta.text_match = h_match(h, h->tm, m);
		if (imap_session_fetch_msg(h->s, &meta) == 1)
			break;
	}
	imap_session_fetch_done(h->s, 0, 0);
}

static bool h_serve(struct h *h)
{
	const struct imap_request *r = imap_session_request(h->s);
	struct imap_mailbox_info info;

	if (r == NULL)
		return false;
	switch (r->kind) {
	case IMAP_REQ_AUTH:
		imap_session_auth_done(h->s, 0, IMAP_AUTH_OK, "alice@example.com");
		break;
	case IMAP_REQ_SELECT:
		for (size_t k = 0; k < NMSG; k++)
			imap_session_select_msg(h->s, mbox[k].uid, mbox[k].flags, false);
		memset(&info, 0, sizeof(info));
		info.name = r->u.select.name;
		info.messages = NMSG;
		info.uidnext = 10;
		info.uidvalidity = 77;
		info.highestmodseq = 20;
		imap_session_select_done(h->s, 0, 0, &info, NULL, 0);
		break;
	case IMAP_REQ_FETCH:
		h_fetch(h, r);
		break;
	default:
		fail_msg("unexpected request %d", r->kind);
	}
	return true;
}

static void h_pump(struct h *h)
{
	for (;;) {
		bool progress = false;
		sl_slice_t o;

		if (h->backlog.len > 0) {
			size_t used = 0;
			int rc = imap_session_input(h->s, 0, h->backlog.data, h->backlog.len, &used);

			assert_true(rc == 0 || rc == SL_ECLOSED);
			sl_buf_consume(&h->backlog, used);
			progress = used > 0;
		}
		while ((o = imap_session_output(h->s)).len > 0) {
			size_t n = o.len;

			if (h->mode == 2 && n > 1)
				n = 1 + (size_t)(rand_r(&h->seed) % n);
			assert_int_equal(sl_buf_append(&h->out, o.ptr, n), 0);
			imap_session_output_consume(h->s, 0, n);
			progress = true;
		}
		if (h_serve(h))
			progress = true;
		if (!progress)
			return;
	}
}

static void h_send(struct h *h, const char *p, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t k = h->mode == 1 ? 1 : h->mode == 2 ? 1 + (size_t)(rand_r(&h->seed) % 7) : n - i;

		if (k > n - i)
			k = n - i;
		assert_int_equal(sl_buf_append(&h->backlog, p + i, k), 0);
		i += k;
		h_pump(h);
	}
}

static void h_expect(struct h *h, const char *want, bool prefix)
{
	const uint8_t *p = h->out.data;
	const uint8_t *e = p != NULL ? memchr(p, '\n', h->out.len) : NULL;
	size_t len;

	if (e == NULL)
		H_FAIL(h, "expected \"%s\", got nothing", want);
	len = (size_t)(e - p);
	if (len > 0 && p[len - 1] == '\r')
		len--;
	if (prefix ? (len < strlen(want) || memcmp(p, want, strlen(want)) != 0)
		   : (len != strlen(want) || memcmp(p, want, len) != 0))
		H_FAIL(h, "expected \"%s\", got \"%.*s\"", want, (int)len, (const char *)p);
	sl_buf_consume(&h->out, (size_t)(e - p) + 1);
}

/* Steps: C:line (CRLF added)  R:raw bytes  S:exact line  S*prefix */
static void h_run(struct h *h, const char *const *script)
{
	h_pump(h);
	h_expect(h, "* OK [CAPABILITY", true);
	for (h->step = 0; script[h->step] != NULL; h->step++) {
		const char *st = script[h->step], *a = st + 2;

		if (st[0] == 'C' || st[0] == 'R') {
			char buf[1024];
			size_t n = strlen(a);

			assert_true(n + 2 < sizeof(buf));
			memcpy(buf, a, n);
			if (st[0] == 'C') {
				buf[n++] = '\r';
				buf[n++] = '\n';
			}
			h_send(h, buf, n);
		} else if (st[0] == 'S') {
			h_expect(h, a, st[1] == '*');
		} else {
			H_FAIL(h, "bad step %s", st);
		}
	}
	if (h->out.len != 0)
		H_FAIL(h, "unexpected output \"%.*s\"", (int)h->out.len, (const char *)h->out.data);
}

struct tcase {
	const char *name;
	const char *const *script;
	int text_fetches; /* FETCH requests with predicates, -1: any */
};

static void run_case(void **state)
{
	const struct tcase *tc = *state;

	for (int mode = 0; mode < 3; mode++) {
		struct h h;

		memset(&h, 0, sizeof(h));
		imap_config_defaults(&h.cfg);
		h.cfg.hostname = "imap.example.net";
		h.cfg.stats = &h.stats;
		h.cfg.allow_plaintext_auth = true;
		h.mode = mode;
		h.seed = 99u + (unsigned)mode;
		h.name = tc->name;
		sl_buf_init(&h.backlog, 1u << 20);
		sl_buf_init(&h.out, 1u << 20);
		assert_int_equal(imap_tm_create(&h.tm), 0);
		assert_int_equal(imap_session_create(&h.cfg, &(struct imap_peer){"192.0.2.1", false, 1},
						     0, &h.s),
				 0);
		h_run(&h, tc->script);
		if (tc->text_fetches >= 0)
			assert_int_equal(h.text_fetches, (uint32_t)tc->text_fetches);
		imap_session_destroy(&h.s);
		imap_tm_free(&h.tm);
		assert_null(h.tm);
		sl_buf_free(&h.backlog);
		sl_buf_free(&h.out);
	}
}

#define LOGIN "C:a1 LOGIN alice secret", "S*a1 OK"
#define SELECT "C:s1 SELECT INBOX", "S** FLAGS", "S** OK [PERMANENTFLAGS", "S:* 6 EXISTS", \
	       "S:* 0 RECENT", "S*", "S** OK [UIDVALIDITY", "S** OK [UIDNEXT", "S*s1 OK"
#define CASE(n, tf, ...) {#n, (const char *const[]){LOGIN, SELECT, __VA_ARGS__, NULL}, tf}

/* 64 content keys (the most one SEARCH takes): only message 2 has all */
#define MANY8 "BODY c BODY r BODY e BODY m BODY b BODY l BODY t BODY g "
#define MANY64 MANY8 MANY8 MANY8 MANY8 MANY8 MANY8 MANY8 "BODY c BODY r BODY e BODY m BODY b BODY l BODY t BODY \"\xc3\xa8\""

/* Sequence numbers: 1..6 are UIDs 1 2 3 5 6 9. */
static const struct tcase cases[] = {
	CASE(search_header_keys, 5, "C:a SEARCH FROM alice", "S:* SEARCH 1", "S:a OK SEARCH completed",
	     "C:b UID SEARCH TO EXAMPLE.ORG", "S:* SEARCH 1 2 5", "S*b OK",
	     "C:c SEARCH CC carol", "S:* SEARCH 1", "S*c OK", "C:d SEARCH BCC dave",
	     "S:* SEARCH 3", "S*d OK", "C:e SEARCH SUBJECT \"quarterly REP\"", "S:* SEARCH 1",
	     "S*e OK"),
	CASE(search_header_field, 4, "C:a SEARCH HEADER X-Custom foo-bar", "S:* SEARCH 4", "S*a OK",
	     "C:b SEARCH HEADER x-custom \"\"", "S:* SEARCH 4", "S*b OK",
	     "C:c SEARCH HEADER Content-Type \"\"", "S:* SEARCH 2 3 4 5 6", "S*c OK",
	     "C:d SEARCH HEADER X-Missing \"\"", "S:* SEARCH", "S*d OK",
	     "C:e SEARCH HEADER \"\" x", "S:e BAD Invalid header field name",
	     "C:f SEARCH HEADER a:b x", "S:f BAD Invalid header field name"),
	CASE(search_encoded_words, 3, "C:a SEARCH FROM \"j\xc3\xb6rg m\xc3\xbcller\"", "S:* SEARCH 2",
	     "S*a OK", "C:b SEARCH CHARSET UTF-8 SUBJECT \"\xc3\xa4RGER \xc3\x9c\x62\x65r\"",
	     "S:* SEARCH 2", "S*b OK", "C:c SEARCH SUBJECT \"\xd0\xbf\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82\"",
	     "S:* SEARCH 6", "S*c OK"),
	CASE(search_body_decoded, 6, "C:a SEARCH BODY \"numbers look good\"", "S:* SEARCH 1", "S*a OK",
	     "C:b SEARCH BODY \"cr\xc3\x88me BR\xc3\x9bL\xc3\x89\x65\"", "S:* SEARCH 2", "S*b OK",
	     "C:c SEARCH BODY together", "S:* SEARCH 2", "S*c OK",
	     "C:d SEARCH BODY pineapple", "S:* SEARCH 3", "S*d OK",
	     "C:e SEARCH BODY \"m\xc3\xbcnchen\"", "S:* SEARCH 4", "S*e OK",
	     "C:f SEARCH BODY \"world & friends\"", "S:* SEARCH 4", "S*f OK"),
	CASE(search_body_scope, 5, "C:a SEARCH BODY hiddenword", "S:* SEARCH", "S*a OK",
	     "C:b SEARCH BODY kangaroo", "S:* SEARCH", "S*b OK", "C:c SEARCH BODY <b>", "S:* SEARCH",
	     "S*c OK", "C:d SEARCH BODY giraffe", "S:* SEARCH 5", "S*d OK",
	     "C:e SEARCH BODY zebra", "S:* SEARCH 5", "S*e OK"),
	CASE(search_body_vs_text, 4, "C:a SEARCH BODY quarterly", "S:* SEARCH", "S*a OK",
	     "C:b SEARCH TEXT quarterly", "S:* SEARCH 1", "S*b OK",
	     "C:c SEARCH TEXT \"subject: codes\"", "S:* SEARCH 3", "S*c OK",
	     "C:d SEARCH TEXT pineapple", "S:* SEARCH 3", "S*d OK"),
	CASE(search_fold_scripts, 3, "C:a SEARCH BODY \"\xd0\xbc\xd0\xb8\xd1\x80\"", "S:* SEARCH 6",
	     "S*a OK", "C:b SEARCH BODY \"\xcf\x83\xce\xbf\xcf\x86\xce\xb9\xce\xb1\"", "S:* SEARCH 6",
	     "S*b OK", "C:c SEARCH BODY \"\xc3\xa4PFEL\"", "S:* SEARCH 6", "S*c OK"),
	CASE(search_sent_dates, 5, "C:a SEARCH SENTON 6-Jan-2026", "S:* SEARCH 2", "S*a OK",
	     "C:b SEARCH SENTBEFORE 1-Jan-2026", "S:* SEARCH 4", "S*b OK",
	     "C:c UID SEARCH SENTSINCE 1-Feb-2026", "S:* SEARCH 3 6", "S*c OK",
	     "C:d SEARCH SENTON 10-Jan-2026", "S:* SEARCH 6", "S*d OK",
	     "C:e SEARCH SENTSINCE 5-Jan-2026 SENTBEFORE 7-Jan-2026", "S:* SEARCH 1 2", "S*e OK"),
	CASE(search_not_or, 4, "C:a SEARCH NOT BODY o", "S:* SEARCH 6", "S*a OK",
	     "C:b SEARCH OR FROM alice SUBJECT codes", "S:* SEARCH 1 3", "S*b OK",
	     "C:c SEARCH UNSEEN NOT FROM news", "S:* SEARCH 2 5 6", "S*c OK",
	     "C:d SEARCH OR (SEEN BODY pineapple) (FLAGGED TEXT zebra)", "S:* SEARCH 3 5", "S*d OK"),
	CASE(search_literals, 2, "C:a SEARCH CHARSET UTF-8 BODY {6}", "S:+ Ready for literal data",
	     "C:cr\xc3\xa8me", "S:* SEARCH 2", "S*a OK", "C:b UID SEARCH SUBJECT {3+}",
	     "C:fwd", "S:* SEARCH 6", "S*b OK"),
	CASE(search_charsets, 2, "C:a SEARCH CHARSET US-ASCII BODY pineapple", "S:* SEARCH 3", "S*a OK",
	     "C:b SEARCH CHARSET ISO-8859-1 BODY x",
	     "S:b NO [BADCHARSET (UTF-8 US-ASCII)] Unsupported charset",
	     "C:c SEARCH CHARSET US-ASCII BODY \"cr\xc3\xa8me\"",
	     "S:c NO [BADCHARSET (UTF-8 US-ASCII)] Search string is not in the given charset",
	     "C:d SEARCH BODY \"cr\xe8me\"",
	     "S:d NO [BADCHARSET (UTF-8 US-ASCII)] Search string is not in the given charset",
	     "C:e SEARCH BODY \"\"", "S:* SEARCH 1 2 3 4 5 6", "S*e OK"),
	CASE(search_esearch, 3, "C:a UID SEARCH RETURN (MIN MAX COUNT) BODY o",
	     "S:* ESEARCH (TAG \"a\") UID MIN 1 MAX 6 COUNT 5", "S*a OK",
	     "C:b SEARCH RETURN (ALL) TEXT example.com", "S:* ESEARCH (TAG \"b\") ALL 1,3:5", "S*b OK",
	     "C:c SEARCH RETURN (COUNT) BODY nothing-like-this", "S:* ESEARCH (TAG \"c\") COUNT 0",
	     "S*c OK"),
	/* UID and sequence keys narrow what the glue scans; nothing left:
	 * no request at all */
	CASE(search_narrowed, 4, "C:a SEARCH 2:3 BODY o", "S:* SEARCH 2 3", "S*a OK",
	     "C:b UID SEARCH UID 7:8 BODY o", "S:* SEARCH", "S*b OK",
	     "C:c SEARCH 7:9 TEXT x", "S:* SEARCH", "S*c OK",
	     "C:d SEARCH 6,1 NOT BODY o", "S:* SEARCH 6", "S*d OK",
	     "C:e UID SEARCH UID 4 SEEN SUBJECT codes", "S:* SEARCH", "S*e OK"),
	CASE(search_mixed_no_text, 2, "C:a SEARCH SEEN", "S:* SEARCH 1 3", "S*a OK",
	     "C:b SEARCH SEEN SUBJECT codes", "S:* SEARCH 3", "S*b OK",
	     "C:c SEARCH YOUNGER 5", "S:c NO [CANNOT] Search key not supported",
	     "C:d SEARCH SENTON 32-Jan-2026", "S:d BAD Invalid date", "C:e SEARCH BODY",
	     "S:e BAD Expected a space", "C:f SEARCH " MANY64 " BODY x",
	     "S:f BAD [LIMIT] Too many text search keys", "C:g SEARCH " MANY64, "S:* SEARCH 2",
	     "S*g OK"),
};

/* ---- the matcher on its own ---- */

static void test_fold(void **state)
{
	static const struct {
		const char *in, *out;
	} v[] = {
		{"ABC xyz 09 @[`{", "abc xyz 09 @[`{"},
		{"\xc3\x80\xc3\x9e\xc3\x97\xc3\x9f", "\xc3\xa0\xc3\xbe\xc3\x97\xc3\x9f"}, /* ÀÞ×ß */
		{"\xc4\x80\xc4\x81\xc4\xb0\xc4\xb9\xc5\xb8\xc5\xbd", "\xc4\x81\xc4\x81\xc4\xb0\xc4\xba\xc3\xbf\xc5\xbe"},
		{"\xce\xa3\xcf\x82\xce\x91", "\xcf\x83\xcf\x83\xce\xb1"},              /* Σς Α */
		{"\xd0\x81\xd0\x90\xd0\xaf", "\xd1\x91\xd0\xb0\xd1\x8f"},              /* ЁАЯ */
		{"\xe2\x82\xac\xf0\x9f\x98\x80\xff\x80", "\xe2\x82\xac\xf0\x9f\x98\x80\xff\x80"},
	};
	uint8_t out[64];

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		size_t n = strlen(v[i].in);

		assert_int_equal(imap_tm_fold((const uint8_t *)v[i].in, n, out, 0), n);
		assert_memory_equal(out, v[i].out, n);
	}
	/* an unfinished sequence at the end is left for the next piece */
	assert_int_equal(imap_tm_fold((const uint8_t *)"ab\xc3", 3, out, 1), 2);
	assert_int_equal(imap_tm_fold((const uint8_t *)"ab\xe2\x82", 4, out, 1), 2);
	assert_int_equal(imap_tm_fold((const uint8_t *)"ab\xc3", 3, out, 0), 3);
}

static void test_dates(void **state)
{
	static const struct {
		const char *v;
		int64_t days; /* -1: invalid */
	} v[] = {
		{"Mon, 5 Jan 2026 10:00:00 +0000", 20458},
		{"5 Jan 2026 10:00 +0000", 20458},
		{"  Tue , 06 jan 2026 23:30:00 -0800 (PST)", 20459},
		{"(comment) 1 Jan 70 00:00 GMT", 0},
		{"31 Dec 49 00:00 GMT", 29219},
		{"1 Jan 100 00:00 GMT", 10957},
		{"29 Feb 2024 00:00 +0000", 19782},
		{"29 Feb 2025 00:00 +0000", -1},
		{"32 Jan 2026 00:00 +0000", -1},
		{"5 Janx 2026 00:00", -1},
		{"5 Jan 2026", -1},
		{"Monday 5 Jan 2026 10:00", -1},
		{"yesterday", -1},
		{"", -1},
		{"2026-01-05T10:00:00Z", -1},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		int64_t d = -7;
		int rc = imap_tm_date_days(sl_slice_make(v[i].v, strlen(v[i].v)), &d);

		if (v[i].days < 0) {
			assert_int_equal(rc, SL_EINVAL);
		} else {
			assert_int_equal(rc, 0);
			assert_int_equal(d, v[i].days);
		}
	}
}

static uint64_t match_one(imap_tm_t *tm, const char *msg, size_t chunk)
{
	size_t n = strlen(msg);

	imap_tm_begin(tm, 0, 0);
	for (size_t i = 0; i < n; i += chunk) {
		int rc = imap_tm_feed(tm, msg + i, n - i < chunk ? n - i : chunk);

		assert_true(rc == 0 || rc == 1);
		if (rc == 1)
			break;
	}
	return imap_tm_end(tm);
}

#define PRED(k, f, n) {k, SL_SLICE_LIT(f), SL_SLICE_LIT(n), 0}

/* The same bits for every split of every message, also across a folded
 * multibyte character and a needle cut by the 64 KiB window. */
static void test_splits_and_windows(void **state)
{
	static const struct imap_text_pred preds[] = {
		PRED(IMAP_TEXT_BODY, "", "\xc3\xa9" "e, to"),     /* m2: "brûlée, to" */
		PRED(IMAP_TEXT_BODY, "", "M\xc3\x9cNCHEN"),
		PRED(IMAP_TEXT_HEADER, "subject", "\xc3\xa4rger"),
		PRED(IMAP_TEXT_TEXT, "", "GIRAFFE"),
		PRED(IMAP_TEXT_HEADER, "From", ""),
	};
	imap_tm_t *tm;
	char *big;
	size_t n = 200000, at;
	static const struct imap_text_pred bp[] = {PRED(IMAP_TEXT_BODY, "", "needle\xc3\x84X")};

	(void)state;
	assert_int_equal(imap_tm_create(&tm), 0);
	assert_int_equal(imap_tm_prepare(tm, preds, 5), 0);
	for (size_t k = 0; k < NMSG; k++) {
		uint64_t whole = match_one(tm, mbox[k].body, 1u << 20);

		for (size_t c = 1; c < 40; c++)
			assert_int_equal(match_one(tm, mbox[k].body, c), whole);
		switch (mbox[k].uid) {
		case 2:
			assert_int_equal(whole, 0x1 | 0x4 | 0x10);
			break;
		case 5:
			assert_int_equal(whole, 0x2 | 0x10);
			break;
		case 6:
			assert_int_equal(whole, 0x8 | 0x10);
			break;
		default:
			assert_int_equal(whole, 0x10);
		}
	}
	/* a needle across the window boundary, in a 200 KB body */
	big = malloc(n + 1);
	assert_non_null(big);
	at = (size_t)snprintf(big, n, "Subject: big\r\n\r\n");
	memset(big + at, 'x', n - at);
	big[n] = '\0';
	assert_int_equal(imap_tm_prepare(tm, bp, 1), 0);
	assert_int_equal(match_one(tm, big, 4096), 0);
	memcpy(big + at + 65536 - 4, "NEEDLE\xc3\xa4x", 9);
	for (size_t c = 1000; c < 70000; c += 7919)
		assert_int_equal(match_one(tm, big, c), 1);
	free(big);
	imap_tm_free(&tm);
}

/* Header-only predicates stop at the end of the header; BODY stops at its
 * first hit; limits are refused. */
static void test_early_stop_and_limits(void **state)
{
	static const struct imap_text_pred hp[] = {PRED(IMAP_TEXT_HEADER, "Subject", "nope")};
	static const struct imap_text_pred bp[] = {PRED(IMAP_TEXT_BODY, "", "numbers")};
	struct imap_text_pred many[IMAP_TEXT_PREDS_MAX + 1];
	imap_tm_t *tm;
	const char *msg = m1;
	size_t hdr = (size_t)(strstr(msg, "\r\n\r\n") - msg) + 4;
	int rc = 0;
	size_t i;

	(void)state;
	assert_int_equal(imap_tm_create(&tm), 0);
	assert_int_equal(imap_tm_prepare(tm, hp, 1), 0);
	imap_tm_begin(tm, 0, 0);
	for (i = 0; i < strlen(msg) && rc == 0; i++)
		rc = imap_tm_feed(tm, msg + i, 1);
	assert_int_equal(rc, 1);
	assert_true(i <= hdr + 1); /* decided by the first body byte */
	assert_int_equal(imap_tm_end(tm), 0);

	assert_int_equal(imap_tm_prepare(tm, bp, 1), 0);
	imap_tm_begin(tm, 0, 0);
	rc = 0;
	for (i = 0; i < strlen(msg) && rc == 0; i++)
		rc = imap_tm_feed(tm, msg + i, 1);
	assert_int_equal(rc, 1);
	assert_true(i < strlen(msg));
	assert_int_equal(imap_tm_feed(tm, "more", 4), 1);
	assert_int_equal(imap_tm_end(tm), 1);

	for (i = 0; i < IMAP_TEXT_PREDS_MAX + 1; i++)
		many[i] = (struct imap_text_pred)PRED(IMAP_TEXT_BODY, "", "x");
	assert_int_equal(imap_tm_prepare(tm, many, IMAP_TEXT_PREDS_MAX + 1), SL_ELIMIT);
	assert_int_equal(imap_tm_prepare(tm, many, IMAP_TEXT_PREDS_MAX), 0);
	assert_int_equal(match_one(tm, "\r\nx", 3), UINT64_MAX);
	many[0].kind = (enum imap_text_kind)42;
	assert_int_equal(imap_tm_prepare(tm, many, 1), SL_EINVAL);
	/* garbage and an empty message never fail */
	assert_int_equal(imap_tm_prepare(tm, bp, 1), 0);
	assert_int_equal(match_one(tm, "", 1), 0);
	assert_int_equal(match_one(tm, "\x01\xff\xfe--\r\n\r\n=?=?\r\n", 3), 0);
	imap_tm_free(&tm);
	imap_tm_free(&tm);
}

int main(void)
{
	static const struct CMUnitTest fixed[] = {
		cmocka_unit_test(test_fold),
		cmocka_unit_test(test_dates),
		cmocka_unit_test(test_splits_and_windows),
		cmocka_unit_test(test_early_stop_and_limits),
	};
	size_t nc = sizeof(cases) / sizeof(cases[0]), nf = sizeof(fixed) / sizeof(fixed[0]);
	struct CMUnitTest *tests = calloc(nc + nf, sizeof(*tests));
	int rc;

	assert_non_null(tests);
	for (size_t i = 0; i < nc; i++) {
		tests[i].name = cases[i].name;
		tests[i].test_func = run_case;
		tests[i].initial_state = (void *)&cases[i];
	}
	memcpy(tests + nc, fixed, sizeof(fixed));
	rc = _cmocka_run_group_tests("imap_search_text", tests, nc + nf, NULL, NULL);
	free(tests);
	return rc;
}
