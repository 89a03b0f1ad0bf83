/* test_imap_binary - BINARY (RFC 3516: BINARY[], BINARY.PEEK, BINARY.SIZE,
 * literal8 APPEND) and the sections of embedded messages (RFC 9051 §6.4.5:
 * BODY[2.HEADER.FIELDS (...)], BODY[1.2.TEXT], ...), as transcripts against
 * the fake store of test_imap_harness.h.
 *
 * Sections are resolved for real here: the section hook parses the
 * message with filter/message, builds the cached structure blob and asks
 * imap_structure_section, exactly as the glue does.
 *
 * Mailbox "Mime":
 *   uid 1  multipart/mixed: 1 text/plain quoted-printable, 2 base64 with
 *          NUL bytes, 3 message/rfc822 (multipart/alternative: 3.1 7bit,
 *          3.2 base64 with a comment in its CTE), 4 CTE x-foo (unknown)
 *   uid 2  a single-part base64 text
 *   uid 3  message/rfc822 inside message/rfc822 (2, 2.2)
 *   uid 4  a base64 attachment of 300 KB (through a 32 KB output) */
#include "test_imap_harness.h"

#include "imap/imap_private.h"
#include "imap/imap_structure.h"
#include "message/msg.h"
#include "message/msg_struct.h"

static const char mime1[] =
	"From: a@example.com\r\n"
	"Subject: mixed\r\n"
	"MIME-Version: 1.0\r\n"
	"Content-Type: multipart/mixed; boundary=\"b1\"\r\n"
	"\r\n"
	"--b1\r\n"
	"Content-Type: text/plain; charset=utf-8\r\n"
	"Content-Transfer-Encoding: quoted-printable\r\n"
	"\r\n"
	"caf=C3=A9 =3D soft=\r\n"
	"break\r\n"
	"--b1\r\n"
	"Content-Type: application/octet-stream\r\n"
	"Content-Transfer-Encoding: base64\r\n"
	"\r\n"
	"AAECAwBh\r\n"
	"YmM=\r\n"
	"--b1\r\n"
	"Content-Type: message/rfc822\r\n"
	"\r\n"
	"From: inner@example.com\r\n"
	"Subject: inner\r\n"
	"To: x@example.com\r\n"
	"Content-Type: multipart/alternative; boundary=\"b2\"\r\n"
	"\r\n"
	"--b2\r\n"
	"Content-Type: text/plain\r\n"
	"\r\n"
	"inner text\r\n"
	"--b2\r\n"
	"Content-Type: text/plain\r\n"
	"Content-Transfer-Encoding: BASE64 (a comment)\r\n"
	"\r\n"
	"aW5uZXIgYjY0\r\n"
	"--b2--\r\n"
	"--b1\r\n"
	"Content-Type: application/x-thing\r\n"
	"Content-Transfer-Encoding: x-foo\r\n"
	"\r\n"
	"zzz\r\n"
	"--b1--\r\n";

static const char mime2[] =
	"Subject: single\r\n"
	"Content-Type: text/plain\r\n"
	"Content-Transfer-Encoding: base64\r\n"
	"\r\n"
	"SGVsbG8s\r\n"
	"IHdvcmxkIQ==\r\n";

static const char mime3[] =
	"Subject: outer\r\n"
	"Content-Type: multipart/mixed; boundary=\"o\"\r\n"
	"\r\n"
	"--o\r\n"
	"Content-Type: text/plain\r\n"
	"\r\n"
	"outer text\r\n"
	"--o\r\n"
	"Content-Type: message/rfc822\r\n"
	"\r\n"
	"Subject: middle\r\n"
	"Content-Type: multipart/mixed; boundary=\"m\"\r\n"
	"\r\n"
	"--m\r\n"
	"Content-Type: text/plain\r\n"
	"\r\n"
	"middle text\r\n"
	"--m\r\n"
	"Content-Type: message/rfc822\r\n"
	"\r\n"
	"Subject: deepest\r\n"
	"X-Deep: yes\r\n"
	"\r\n"
	"deep body\r\n"
	"--m--\r\n"
	"--o--\r\n";

/* uid 4: BIG_N bytes of a fixed pseudo-random sequence, base64 in 76-column
 * lines, as an attachment */
#define BIG_N 300000u
static uint8_t big_raw[BIG_N];
static char *big_msg;
static size_t big_len;
static size_t big_body_off;

static void big_init(void)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	static const char head[] = "Subject: big\r\n"
				   "Content-Type: multipart/mixed; boundary=\"z\"\r\n\r\n"
				   "--z\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
				   "--z\r\nContent-Type: application/octet-stream\r\n"
				   "Content-Transfer-Encoding: base64\r\n\r\n";
	uint32_t x = 12345;
	size_t n = 0, col = 0;

	if (big_msg)
		return;
	for (size_t i = 0; i < BIG_N; i++) {
		x = x * 1103515245u + 12345u;
		big_raw[i] = (uint8_t)(x >> 16);
	}
	big_msg = malloc(sizeof(head) + BIG_N * 2 + 64);
	assert_non_null(big_msg);
	memcpy(big_msg, head, sizeof(head) - 1);
	n = sizeof(head) - 1;
	big_body_off = n;
	for (size_t i = 0; i < BIG_N; i += 3) {
		uint32_t v = (uint32_t)big_raw[i] << 16;
		size_t k = BIG_N - i < 3 ? BIG_N - i : 3;

		if (k > 1)
			v |= (uint32_t)big_raw[i + 1] << 8;
		if (k > 2)
			v |= big_raw[i + 2];
		big_msg[n++] = b64[(v >> 18) & 63];
		big_msg[n++] = b64[(v >> 12) & 63];
		big_msg[n++] = k > 1 ? b64[(v >> 6) & 63] : '=';
		big_msg[n++] = k > 2 ? b64[v & 63] : '=';
		if ((col += 4) == 76) {
			big_msg[n++] = '\r';
			big_msg[n++] = '\n';
			col = 0;
		}
	}
	memcpy(big_msg + n, "\r\n--z--\r\n", 9);
	n += 9;
	big_len = n;
}

static void mime_setup(struct h *h)
{
	struct fs_mbox *b = fs_add(&h->st, "Mime", 0);

	big_init();
	fs_msg_add(b, 1, 0, NULL, 1767225600, 0, mime1, sizeof(mime1) - 1, false);
	fs_msg_add(b, 2, 0, NULL, 1767225600, 0, mime2, sizeof(mime2) - 1, false);
	fs_msg_add(b, 3, 0, NULL, 1767225600, 0, mime3, sizeof(mime3) - 1, false);
	fs_msg_add(b, 4, 0, NULL, 1767225600, 0, big_msg, big_len, false);
}

/* The glue's IMAP_REQ_SECTION: the structure built from the message and
 * resolved by imap_structure_section. */
static void real_section(struct h *h, const struct imap_request *r)
{
	static const enum imap_sect kinds[] = {
		[IMAP_PART_BODY] = IMAP_SECT_PART, [IMAP_PART_HEADER] = IMAP_SECT_HEADER,
		[IMAP_PART_TEXT] = IMAP_SECT_TEXT, [IMAP_PART_MIME] = IMAP_SECT_MIME};
	struct fs_mbox *b = &h->st.mb[h->sel];
	const struct fs_msg *m = NULL;
	msg_struct_t *ms = msg_struct_new(0);
	msg_callbacks_t cb;
	msg_parser_t *p;
	sl_buf_t blob;
	uint64_t off = 0, len = 0;
	int rc;

	for (int k = 0; k < b->n; k++)
		if (b->m[k].uid == r->u.section.uid)
			m = &b->m[k];
	assert_non_null(m);
	assert_non_null(ms);
	msg_struct_callbacks(ms, NULL, &cb);
	p = msg_parser_new(NULL, &cb);
	assert_non_null(p);
	assert_int_equal(msg_parser_feed(p, m->body, m->len), 0);
	(void)msg_parser_finish(p, NULL);
	sl_buf_init(&blob, 1u << 20);
	assert_int_equal(imap_structure_blob(ms, &blob), 0);
	rc = imap_structure_section(sl_buf_slice(&blob), r->u.section.path, kinds[r->u.section.kind],
				    &off, &len);
	sl_buf_free(&blob);
	msg_parser_free(&p);
	msg_struct_free(&ms);
	imap_session_section_done(h->s, h->now, rc, off, len);
}

static void run_mime_case(void **state)
{
	const struct tcase *tc = *state;

	for (int mode = 0; mode < 3; mode++) {
		struct h h;

		h_init(&h, tc->setup, mode, tc->name);
		mime_setup(&h);
		h_section_hook = real_section;
		h_run(&h, tc->script);
		h_section_hook = NULL;
		h_fini(&h);
	}
}

#define MSELECT "C:s1 SELECT Mime", "W:s1 OK [READ-WRITE] SELECT completed"
#define MEXAMINE "C:s1 EXAMINE Mime", "W:s1 OK [READ-ONLY] EXAMINE completed"

static const struct tcase cases[] = {
	/* ---- BINARY ---- */
	CASE(binary_quoted_printable, NULL, GREET, LOGIN, MEXAMINE, "C:a FETCH 1 BINARY[1]",
	     "S:* 1 FETCH (BINARY[1] {17}", "S:caf\xc3\xa9 = softbreak)", "S:a OK FETCH completed",
	     "C:b FETCH 1 BINARY.SIZE[1]", "S:* 1 FETCH (BINARY.SIZE[1] 17)",
	     "S:b OK FETCH completed", "C:c FETCH 1 BINARY.PEEK[1]<3.4>",
	     "S:* 1 FETCH (BINARY[1]<3> {4}", "S:\xc3\xa9 =)", "S:c OK FETCH completed",
	     "C:d FETCH 1 BINARY.PEEK[1]<100.4>", "S:* 1 FETCH (BINARY[1]<100> {0}", "S:)",
	     "S:d OK FETCH completed"),
	CASE(binary_base64_single_part, NULL, GREET, LOGIN, MSELECT,
	     "C:a FETCH 2 (BINARY.SIZE[1] BINARY.PEEK[1])",
	     "S:* 2 FETCH (BINARY.SIZE[1] 13 BINARY[1] {13}", "S:Hello, world!)",
	     "S:a OK FETCH completed", "C:b UID FETCH 2 BINARY[1]<7.100>",
	     "S:* 2 FETCH (UID 2 FLAGS (\\Seen) BINARY[1]<7> {6}", "S:world!)",
	     "S:b OK FETCH completed"),
	CASE(binary_nested_part_and_comment_in_cte, NULL, GREET, LOGIN, MEXAMINE,
	     "C:a FETCH 1 (BINARY[3.2] BINARY.SIZE[3.2] BINARY[3.1])",
	     "S:* 1 FETCH (BINARY[3.2] {9}", "S:inner b64 BINARY.SIZE[3.2] 9 BINARY[3.1] {10}",
	     "S:inner text)", "S:a OK FETCH completed"),
	CASE(binary_identity_and_whole_message, NULL, GREET, LOGIN, MEXAMINE,
	     "C:a FETCH 3 (BINARY.SIZE[1] BINARY[1]<0.10>)",
	     "S:* 3 FETCH (BINARY.SIZE[1] 10 BINARY[1]<0> {10}", "S:outer text)",
	     "S:a OK FETCH completed", "C:b FETCH 2 BINARY.PEEK[]<0.15>",
	     "S:* 2 FETCH (BINARY[]<0> {15}", "S:Subject: single)", "S:b OK FETCH completed"),
	CASE(binary_unknown_cte, NULL, GREET, LOGIN, MEXAMINE,
	     "C:a FETCH 1 (BINARY.SIZE[1] BINARY[4])", "S:* 1 FETCH (BINARY.SIZE[1] 17 BINARY[4] NIL)",
	     "S:a NO [UNKNOWN-CTE] A part has an unknown Content-Transfer-Encoding",
	     "C:b FETCH 1 BINARY.SIZE[4]", "S:* 1 FETCH (BINARY.SIZE[4] 0)",
	     "S:b NO [UNKNOWN-CTE] A part has an unknown Content-Transfer-Encoding",
	     "C:c FETCH 1 BODY.PEEK[4]", "S:* 1 FETCH (BODY[4] {3}", "S:zzz)",
	     "S:c OK FETCH completed"),
	CASE(binary_missing_part, NULL, GREET, LOGIN, MEXAMINE,
	     "C:a FETCH 1 (BINARY.SIZE[9] BINARY[9] BINARY[1.5])",
	     "S:* 1 FETCH (BINARY.SIZE[9] 0 BINARY[9] {0}", "S: BINARY[1.5] {0}", "S:)",
	     "S:a OK FETCH completed"),
	CASE(binary_syntax, NULL, GREET, LOGIN, MEXAMINE, "C:a FETCH 1 BINARY[1.MIME]",
	     "S:a BAD Expected ']'", "C:b FETCH 1 BINARY[HEADER]", "S:b BAD Invalid section part",
	     "C:c FETCH 1 BINARY.SIZE[1]<0.5>", "S:c BAD Unexpected extra arguments",
	     "C:d FETCH 1 BINARY.PEEK", "S:d BAD Expected '['", "C:e FETCH 1 BINARY[0]",
	     "S:e BAD Invalid section part", "C:f FETCH 1 BINARY.FOO[1]",
	     "S:f BAD Unknown FETCH attribute"),
	CASE(binary_sets_seen_peek_does_not, NULL, GREET, LOGIN, MSELECT,
	     "C:a FETCH 2 (FLAGS BINARY.PEEK[1]<0.5>)", "S:* 2 FETCH (FLAGS () BINARY[1]<0> {5}",
	     "S:Hello)", "S:a OK FETCH completed", "C:b FETCH 2 BINARY.SIZE[1]",
	     "S:* 2 FETCH (BINARY.SIZE[1] 13)", "S:b OK FETCH completed",
	     "C:c FETCH 2 BINARY[1]<0.5>", "S:* 2 FETCH (FLAGS (\\Seen) BINARY[1]<0> {5}",
	     "S:Hello)", "S:c OK FETCH completed"),
	/* ---- literal8 APPEND ---- */
	CASE(append_literal8, NULL, GREET, LOGIN, "C:a APPEND Sent ~{5}",
	     "S:+ Ready for literal data", "R:a^@b^@c\r\n", "S:a OK [APPENDUID 1001 1] APPEND completed",
	     "C:b APPEND Sent ~{3+}", "R:x^@y\r\n", "S:b OK [APPENDUID 1001 2] APPEND completed",
	     "C:c APPEND Sent {3+}", "R:x^@y\r\n", "S:c BAD NUL in literal",
	     "C:d SELECT ~{3+}", "R:x^@y\r\n", "S:d BAD NUL in literal"),
	/* ---- sections of embedded messages ---- */
	CASE(part_header_fields, NULL, GREET, LOGIN, MEXAMINE,
	     "C:a FETCH 1 BODY[3.HEADER.FIELDS (SUBJECT TO)]",
	     "S:* 1 FETCH (BODY[3.HEADER.FIELDS (SUBJECT TO)] {37}", "S:Subject: inner",
	     "S:To: x@example.com", "S:", "S:)", "S:a OK FETCH completed",
	     "C:b FETCH 1 BODY.PEEK[3.HEADER.FIELDS.NOT (Subject Content-Type)]<6.17>",
	     "S:* 1 FETCH (BODY[3.HEADER.FIELDS.NOT (Subject Content-Type)]<6> {17}",
	     "S:inner@example.com)", "S:b OK FETCH completed",
	     "C:c FETCH 1 BODY.PEEK[3.HEADER.FIELDS (X-None)]",
	     "S:* 1 FETCH (BODY[3.HEADER.FIELDS (X-None)] {2}", "S:", "S:)",
	     "S:c OK FETCH completed"),
	CASE(part_header_fields_not_a_message, NULL, GREET, LOGIN, MEXAMINE,
	     "C:a FETCH 1 (BODY[2.HEADER.FIELDS (Subject)] BODY[7.HEADER.FIELDS (Subject)])",
	     "S:* 1 FETCH (BODY[2.HEADER.FIELDS (Subject)] {0}",
	     "S: BODY[7.HEADER.FIELDS (Subject)] {0}", "S:)", "S:a OK FETCH completed"),
	CASE(nested_message_sections, NULL, GREET, LOGIN, MEXAMINE,
	     "C:a FETCH 3 (BODY[2.HEADER.FIELDS (SUBJECT)] BODY[2.2.HEADER.FIELDS (X-DEEP)])",
	     "S:* 3 FETCH (BODY[2.HEADER.FIELDS (SUBJECT)] {19}", "S:Subject: middle", "S:",
	     "S: BODY[2.2.HEADER.FIELDS (X-DEEP)] {15}", "S:X-Deep: yes", "S:", "S:)",
	     "S:a OK FETCH completed", "C:b FETCH 3 (BODY[2.2.TEXT] BODY[2.1] BODY[2.2.MIME])",
	     "S:* 3 FETCH (BODY[2.2.TEXT] {9}", "S:deep body BODY[2.1] {11}",
	     "S:middle text BODY[2.2.MIME] {32}", "S:Content-Type: message/rfc822", "S:", "S:)",
	     "S:b OK FETCH completed",
	     "C:c FETCH 3 (BODY[2.2.HEADER.FIELDS.NOT (X-Deep)] BODY[HEADER.FIELDS (Subject)])",
	     "S:* 3 FETCH (BODY[2.2.HEADER.FIELDS.NOT (X-Deep)] {20}", "S:Subject: deepest", "S:",
	     "S: BODY[HEADER.FIELDS (Subject)] {18}", "S:Subject: outer", "S:", "S:)",
	     "S:c OK FETCH completed"),
	CASE(part_header_fields_limits, NULL, GREET, LOGIN, MEXAMINE,
	     "C:a FETCH 1 BODY[1.HEADER.FIELDS ()]", "S:a BAD Expected a string",
	     "C:b FETCH 1 BODY[1.HEADER.FIELDS (A:B)]", "S:b BAD Invalid header field name",
	     "C:c FETCH 1 BODY[1.HEADER.FIELDS.NOTX (A)]", "S:c BAD Invalid section"),
};

/* The base64 attachment of 300 KB through a 32 KB output: BINARY is the
 * original bytes exactly, streamed (never more than the output holds),
 * with literal8 since the data holds NUL; BINARY.SIZE agrees; a partial
 * from the middle is the right slice. */
static void cf_small_output(struct imap_config *c, struct imap_peer *p)
{
	(void)p;
	c->output_max = 32768;
	c->body_chunk_max = 16384;
}

static void expect_literal(struct h *h, const char *head, const uint8_t *data, size_t n,
			   const char *tail)
{
	size_t hl = strlen(head), tl = strlen(tail);

	if (h->out.len < hl + n + tl)
		H_FAIL(h, "short output: %zu bytes", h->out.len);
	if (memcmp(h->out.data, head, hl) != 0)
		H_FAIL(h, "expected \"%s\", got \"%.*s\"", head, (int)hl, h->out.data);
	assert_memory_equal(h->out.data + hl, data, n);
	if (memcmp(h->out.data + hl + n, tail, tl) != 0)
		H_FAIL(h, "expected tail \"%s\"", tail);
	sl_buf_consume(&h->out, hl + n + tl);
}

static void test_binary_big_attachment(void **state)
{
	(void)state;
	for (int mode = 0; mode < 3; mode++) {
		static const char *const script[] = {GREET, LOGIN, MEXAMINE, NULL};
		struct h h;
		char head[128];

		h_init(&h, cf_small_output, mode, "binary_big_attachment");
		mime_setup(&h);
		h_section_hook = real_section;
		h_run(&h, script);
		h_send(&h, "a UID FETCH 4 (BINARY.SIZE[2] BINARY.PEEK[2])\r\n", 47);
		snprintf(head, sizeof(head), "* 4 FETCH (UID 4 BINARY.SIZE[2] %u BINARY[2] ~{%u}\r\n",
			 BIG_N, BIG_N);
		expect_literal(&h, head, big_raw, BIG_N, ")\r\n");
		h_expect(&h, "a OK FETCH completed", false);
		h_send(&h, "b FETCH 4 BINARY.PEEK[2]<123457.70000>\r\n", 40);
		expect_literal(&h, "* 4 FETCH (BINARY[2]<123457> ~{70000}\r\n", big_raw + 123457,
			       70000, ")\r\n");
		h_expect(&h, "b OK FETCH completed", false);
		/* a partial at the end is cut to what there is */
		h_send(&h, "c FETCH 4 BINARY.PEEK[2]<299990.100>\r\n", 38);
		expect_literal(&h, "* 4 FETCH (BINARY[2]<299990> ~{10}\r\n", big_raw + 299990, 10,
			       ")\r\n");
		h_expect(&h, "c OK FETCH completed", false);
		assert_true(h.stats.body_bytes >= BIG_N + 70000);
		/* streamed: the output buffer never grew past twice output_max
		 * (it doubles), and the header scratch holds a MIME header */
		assert_true(h.s->out.cap <= 2 * 32768);
		assert_true(h.s->hdr.cap <= 4096);
		h_section_hook = NULL;
		h_fini(&h);
	}
}

/* BINARY[2] of uid 1: the base64 part decodes to bytes with NUL, so the
 * response is a literal8. */
static void test_binary_nul_literal8(void **state)
{
	static const uint8_t want[] = {0, 1, 2, 3, 0, 'a', 'b', 'c'};

	(void)state;
	for (int mode = 0; mode < 3; mode++) {
		static const char *const script[] = {GREET, LOGIN, MEXAMINE, NULL};
		struct h h;

		h_init(&h, NULL, mode, "binary_nul_literal8");
		mime_setup(&h);
		h_section_hook = real_section;
		h_run(&h, script);
		h_send(&h, "a FETCH 1 (BINARY.SIZE[2] BINARY[2])\r\n", 38);
		expect_literal(&h, "* 1 FETCH (BINARY.SIZE[2] 8 BINARY[2] ~{8}\r\n", want, 8, ")\r\n");
		h_expect(&h, "a OK FETCH completed", false);
		h_send(&h, "b FETCH 1 BINARY[2]<4.2>\r\n", 26);
		expect_literal(&h, "* 1 FETCH (BINARY[2]<4> ~{2}\r\n", want + 4, 2, ")\r\n");
		h_expect(&h, "b OK FETCH completed", false);
		/* literal8 APPEND of bytes with NUL is stored as it is */
		h_send(&h, "c APPEND Sent ~{8+}\r\n", 21);
		h_send(&h, (const char *)want, 8);
		h_send(&h, "\r\n", 2);
		h_expect(&h, "c OK [APPENDUID 1001 1] APPEND completed", false);
		assert_int_equal(h.st.mb[fs_find(&h.st, "Sent")].m[0].len, 8);
		assert_memory_equal(h.st.mb[fs_find(&h.st, "Sent")].m[0].body, want, 8);
		h_section_hook = NULL;
		h_fini(&h);
	}
}

/* The CTE reader on its own: folding, comments, case, absence. */
static void test_cte_of_header(void **state)
{
	static const struct {
		const char *hdr;
		int cte;
	} t[] = {
		{"Content-Type: text/plain\r\n\r\n", 0},
		{"Content-Transfer-Encoding: base64\r\n\r\n", 1},
		{"content-transfer-encoding :\r\n  Quoted-Printable\r\n\r\n", 2},
		{"Content-Transfer-Encoding: (c) 8bit (d)\r\n\r\n", 0},
		{"Content-Transfer-Encoding: x-uuencode\r\n\r\n", 3},
		{"Content-Transfer-Encoding: gzip\r\n\r\n", 4},
		{"Content-Transfer-Encoding: base64 extra\r\n\r\n", 4},
		{"X: y\r\n\r\nContent-Transfer-Encoding: base64\r\n", 0},
		{"Content-Transfer-Encoding:\r\n\r\n", 0},
		{"Content-Transfer-Encoding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n", 4},
	};

	(void)state;
	assert_int_equal(IMAP_CTE_IDENTITY, 0);
	assert_int_equal(IMAP_CTE_BASE64, 1);
	assert_int_equal(IMAP_CTE_QP, 2);
	assert_int_equal(IMAP_CTE_UU, 3);
	assert_int_equal(IMAP_CTE_UNKNOWN, 4);
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		assert_int_equal(imap_cte_of_header((const uint8_t *)t[i].hdr, strlen(t[i].hdr)),
				 t[i].cte);
}

int main(void)
{
	static const struct CMUnitTest fixed[] = {
		cmocka_unit_test(test_binary_big_attachment),
		cmocka_unit_test(test_binary_nul_literal8),
		cmocka_unit_test(test_cte_of_header),
	};
	size_t nc = sizeof(cases) / sizeof(cases[0]), nf = sizeof(fixed) / sizeof(fixed[0]);
	struct CMUnitTest *tests = calloc(nc + nf, sizeof(*tests));
	int rc;

	(void)run_cases; /* the cases need the Mime mailbox: run_mime_case */
	assert_non_null(tests);
	for (size_t i = 0; i < nc; i++) {
		tests[i].name = cases[i].name;
		tests[i].test_func = run_mime_case;
		tests[i].initial_state = (void *)&cases[i];
	}
	memcpy(tests + nc, fixed, sizeof(fixed));
	rc = _cmocka_run_group_tests("imap_binary", tests, nc + nf, NULL, NULL);
	free(tests);
	free(big_msg);
	return rc;
}
