/* test_msg_decode - filter/message helpers: RFC 2047 header decoding,
 * charsets, the streaming transfer decoders, HTML entities, URL finding,
 * RFC 5322 address lists, and the structure recorder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "message/msg_private.h"
#include "message/msg_struct.h"
#include "sl_err.h"

static const struct {
	const char *in, *out;
	uint32_t anom;
} hdr_cases[] = {
	/* plain text untouched */
	{"Hello world", "Hello world", 0},
	/* Q with underscores and escapes */
	{"=?iso-8859-1?q?caf=E9_au_lait?=", "caf\xc3\xa9 au lait", 0},
	/* B, any case */
	{"=?UTF-8?B?w6l0w6k=?=", "\xc3\xa9t\xc3\xa9", 0},
	/* whitespace between adjacent encoded words is dropped (RFC 2047 §6.2) */
	{"=?utf-8?q?a?= =?utf-8?q?b?=", "ab", 0},
	{"=?utf-8?q?a?=\t  =?iso-8859-1?q?=E9?=", "a\xc3\xa9", 0},
	/* ... but kept between a word and text */
	{"x =?utf-8?q?a?= y", "x a y", 0},
	{"=?utf-8?q?a?= y =?utf-8?q?b?=", "a y b", 0},
	/* a UTF-8 character split over two B words joins up */
	{"=?utf-8?b?4oI=?= =?utf-8?b?rA==?=", "\xe2\x82\xac", 0},
	/* mixed charsets in one header */
	{"=?koi8-r?b?8NLJ18XU?= and =?shift_jis?b?k/qWew==?=",
	 "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82 and \xe6\x97\xa5\xe6\x9c\xac", 0},
	/* RFC 2231 language in a word */
	{"=?utf-8*en?q?hi?=", "hi", 0},
	/* malformed: kept as is */
	{"=?utf-8?x?abc?=", "=?utf-8?x?abc?=", 0},
	{"=?utf-8?q?abc", "=?utf-8?q?abc", 0},
	{"=??q?abc?=", "=??q?abc?=", 0},
	/* invalid escapes in Q and bad base64 are flagged */
	{"=?utf-8?q?a=ZZb?=", "a=ZZb", MSG_ANOM_BAD_ENCODED_WORD},
	{"=?utf-8?b?w6!l0?=", "\xc3\xa9t", MSG_ANOM_BAD_ENCODED_WORD},
	/* unknown charset: bytes passed through, flagged */
	{"=?x-martian?q?ab=41?=", "abA", MSG_ANOM_CHARSET_UNKNOWN},
	/* bytes invalid in the charset become U+FFFD */
	{"=?utf-8?q?a=FFb?=", "a\xef\xbf\xbd" "b", MSG_ANOM_CHARSET_INVALID},
	/* raw 8-bit: UTF-8 kept, else windows-1252 */
	{"caf\xc3\xa9", "caf\xc3\xa9", MSG_ANOM_8BIT_HEADER},
	{"caf\xe9 \x80", "caf\xc3\xa9 \xe2\x82\xac", MSG_ANOM_8BIT_HEADER},
	/* spaces inside a Q word (broken mailers): still decoded */
	{"=?utf-8?q?two words?=", "two words", 0},
	/* encoded word glued to text */
	{"re:=?utf-8?q?x?=", "re:x", 0},
	{"", "", 0},
};

static void test_hdr_decode_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(hdr_cases) / sizeof(hdr_cases[0]); i++) {
		sl_buf_t out;
		uint32_t anom = 0;
		sl_buf_init(&out, 4096);
		assert_int_equal(msg_hdr_decode(sl_slice_make(hdr_cases[i].in, strlen(hdr_cases[i].in)), &out, &anom), 0);
		sl_buf_append(&out, "", 1);
		if (strcmp((char *)out.data, hdr_cases[i].out) != 0 || anom != hdr_cases[i].anom)
			fail_msg("case %zu \"%s\": got \"%s\" anom %#x, want \"%s\" %#x", i, hdr_cases[i].in,
				 (char *)out.data, anom, hdr_cases[i].out, hdr_cases[i].anom);
		sl_buf_free(&out);
	}
}

static void test_hdr_decode_limit(void **state)
{
	(void)state;
	sl_buf_t out;
	sl_buf_init(&out, 4);
	assert_int_equal(msg_hdr_decode(SL_SLICE_LIT("=?utf-8?q?abcdef?="), &out, NULL), SL_ELIMIT);
	sl_buf_free(&out);
}

static void test_charset_aliases(void **state)
{
	(void)state;
	char name[MSG_CHARSET_NAME_MAX + 1];
	assert_int_equal(msg_charset_canon(SL_SLICE_LIT("ISO-8859-1"), name), MSG_CS_ICONV);
	assert_string_equal(name, "WINDOWS-1252");
	assert_int_equal(msg_charset_canon(SL_SLICE_LIT("\"gb2312\""), name), MSG_CS_ICONV);
	assert_string_equal(name, "GB18030");
	assert_int_equal(msg_charset_canon(SL_SLICE_LIT("us-ascii"), name), MSG_CS_UTF8);
	assert_int_equal(msg_charset_canon(SL_SLICE_LIT(""), name), MSG_CS_UTF8);
	assert_int_equal(msg_charset_canon(SL_SLICE_LIT("utf-8//TRANSLIT"), name), MSG_CS_UNKNOWN);
	assert_int_equal(msg_charset_canon(SL_SLICE_LIT("unknown-8bit"), name), MSG_CS_UNKNOWN);

	sl_buf_t out;
	uint32_t anom = 0;
	sl_buf_init(&out, 100);
	/* windows-1252 for iso-8859-1: 0x80 is the euro sign */
	assert_int_equal(msg_charset_to_utf8(SL_SLICE_LIT("iso-8859-1"), SL_SLICE_LIT("\x80"), &out, &anom), 0);
	assert_memory_equal(out.data, "\xe2\x82\xac", 3);
	sl_buf_reset(&out);
	assert_int_equal(msg_charset_to_utf8(SL_SLICE_LIT("no-such-cs"), SL_SLICE_LIT("ab"), &out, &anom), 1);
	assert_int_equal(anom, MSG_ANOM_CHARSET_UNKNOWN);
	sl_buf_free(&out);
}

/* Each decoder gives the same output fed whole or one byte at a time. */
static void test_decoders_streaming(void **state)
{
	(void)state;
	static const struct {
		int kind; /* 0 b64, 1 qp, 2 uu */
		const char *in, *out;
		uint32_t anom;
	} cases[] = {
		{0, "SGVsbG8sIHdvcmxkIQ==", "Hello, world!", 0},
		{0, "SGVs\r\nbG8s IHdv\tcmxk\r\nIQ==\r\n", "Hello, world!", 0},
		{0, "SGV*sbG8", "Hello", MSG_ANOM_BAD_BASE64},
		{0, "aGk=aGk=", "hihi", 0},    /* concatenated bodies */
		{0, "a=ZWxsbw==", "ello", MSG_ANOM_BAD_BASE64}, /* '=' in the middle */
		{1, "a=3Db", "a=b", 0},
		{1, "soft=\r\nbreak=\nx", "softbreakx", 0},
		{1, "trail= \t\r\nx", "trailx", 0},
		{1, "bad=G1 =4", "bad=G1 =4", MSG_ANOM_BAD_QP},
		{1, "low=e9", "low\xe9", 0},
		{1, "=\rx", "x", 0},
		{2, "junk\nbegin 644 a\n#86)C\n%86)C9&4`\n`\nend\nafter\n", "abcabcde", 0},
		{2, "begin 644 a\nM86)C\n", "abc", MSG_ANOM_BAD_UUENCODE},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (int bytewise = 0; bytewise < 2; bytewise++) {
			uint8_t out[512];
			size_t o = 0, n = strlen(cases[i].in);
			uint32_t anom = 0;
			msg_b64_t b = {0};
			msg_qp_t q = {0};
			msg_uu_t u = {0};
			for (size_t k = 0; k < n;) {
				size_t step = bytewise ? 1 : n;
				const uint8_t *p = (const uint8_t *)cases[i].in + k;
				if (cases[i].kind == 0)
					o += msg_b64_decode(&b, p, step, out + o, &anom);
				else if (cases[i].kind == 1)
					o += msg_qp_decode(&q, p, step, out + o, &anom);
				else
					o += msg_uu_decode(&u, p, step, out + o, &anom);
				k += step;
			}
			if (cases[i].kind == 1)
				o += msg_qp_flush(&q, out + o, &anom);
			if (cases[i].kind == 2)
				o += msg_uu_flush(&u, out + o, &anom);
			out[o] = 0;
			if (o != strlen(cases[i].out) || memcmp(out, cases[i].out, o) != 0 ||
			    (anom & ~MSG_ANOM_TRUNCATED) != cases[i].anom)
				fail_msg("case %zu (bytewise %d): got \"%s\" anom %#x", i, bytewise, (char *)out, anom);
		}
	}
}

static void test_entities(void **state)
{
	(void)state;
	uint8_t o[8];
	assert_int_equal(msg_entity_decode((const uint8_t *)"amp", 3, o), 1);
	assert_int_equal(o[0], '&');
	assert_int_equal(msg_entity_decode((const uint8_t *)"#x20AC", 6, o), 3);
	assert_memory_equal(o, "\xe2\x82\xac", 3);
	assert_int_equal(msg_entity_decode((const uint8_t *)"#8364", 5, o), 3);
	assert_memory_equal(o, "\xe2\x82\xac", 3);
	assert_int_equal(msg_entity_decode((const uint8_t *)"#0", 2, o), 3); /* U+FFFD */
	assert_int_equal(msg_entity_decode((const uint8_t *)"#99999999999", 12, o), 3);
	assert_memory_equal(o, "\xef\xbf\xbd", 3);
	assert_int_equal(msg_entity_decode((const uint8_t *)"#xD800", 6, o), 3); /* surrogate */
	assert_memory_equal(o, "\xef\xbf\xbd", 3);
	assert_int_equal(msg_entity_decode((const uint8_t *)"nosuch", 6, o), 0);
	assert_int_equal(msg_entity_decode((const uint8_t *)"#", 1, o), 0);
	assert_int_equal(msg_entity_decode((const uint8_t *)"#x", 2, o), 0);
	assert_int_equal(msg_entity_decode((const uint8_t *)"AMP", 3, o), 1);
}

static void test_url_in_token(void **state)
{
	(void)state;
	static const struct {
		const char *tok, *url;
	} cases[] = {
		{"http://a.example/x", "http://a.example/x"},
		{"(https://a.example/p?q=1).", "https://a.example/p?q=1"},
		{"www.example.com,", "www.example.com"},
		{"x.www.example.com", NULL},
		{"mailto:me@x.example", "mailto:me@x.example"},
		{"nothing", NULL},
		{"http://", NULL},
		{"://x", NULL},
		{"see:http://x.example", "http://x.example"},
		{"hxxps://evil.example", "hxxps://evil.example"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t off = 0, len = 0;
		int r = msg_url_in_token((const uint8_t *)cases[i].tok, strlen(cases[i].tok), &off, &len);
		if (!cases[i].url) {
			if (r)
				fail_msg("case %zu: unexpected URL %.*s", i, (int)len, cases[i].tok + off);
			continue;
		}
		if (!r || len != strlen(cases[i].url) || memcmp(cases[i].tok + off, cases[i].url, len) != 0)
			fail_msg("case %zu: got %d \"%.*s\"", i, r, (int)len, cases[i].tok + off);
	}
}

/* --- addresses --------------------------------------------------------- */

static char *addr_str(const char *in)
{
	msg_addr_t a[16];
	uint32_t n = 0;
	sl_buf_t strs, out;
	sl_buf_init(&strs, 1 << 16);
	sl_buf_init(&out, 1 << 16);
	int rc = msg_addr_parse(sl_slice_make(in, strlen(in)), a, 16, &n, &strs);
	sl_buf_printf(&out, "rc=%d", rc);
	for (uint32_t i = 0; i < n; i++) {
		sl_slice_t f[4] = {a[i].name, a[i].adl, a[i].mailbox, a[i].host};
		sl_buf_printf(&out, " %c(", a[i].kind == MSG_ADDR_MAILBOX ? 'M' : a[i].kind == MSG_ADDR_GROUP_START ? 'G' : 'E');
		for (int k = 0; k < 4; k++) {
			if (f[k].ptr)
				sl_buf_printf(&out, "%s\"%.*s\"", k ? " " : "", (int)f[k].len, (const char *)f[k].ptr);
			else
				sl_buf_printf(&out, "%sNIL", k ? " " : "");
		}
		sl_buf_printf(&out, ")");
	}
	char *r = strdup((char *)out.data);
	sl_buf_free(&strs);
	sl_buf_free(&out);
	return r;
}

static void test_addr_lists(void **state)
{
	(void)state;
	static const struct {
		const char *in, *out;
	} cases[] = {
		{"a@b.example", "rc=0 M(NIL NIL \"a\" \"b.example\")"},
		{"John Q. Public <john@x.example>", "rc=0 M(\"John Q. Public\" NIL \"john\" \"x.example\")"},
		{"\"Doe, Jane\" <jane@x>, bob@y", "rc=0 M(\"Doe, Jane\" NIL \"jane\" \"x\") M(NIL NIL \"bob\" \"y\")"},
		{"\"quoted \\\"local\\\"\"@x", "rc=0 M(NIL NIL \"quoted \"local\"\" \"x\")"},
		{"a@b (Real Name)", "rc=0 M(\"Real Name\" NIL \"a\" \"b\")"},
		{"<a@b> (Comment Name)", "rc=0 M(\"Comment Name\" NIL \"a\" \"b\")"},
		{"Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>",
		 "rc=0 M(\"Pete\" NIL \"pete\" \"silly.test\")"},
		{"A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;",
		 "rc=0 G(NIL NIL \"A Group\" NIL) M(\"Ed Jones\" NIL \"c\" \"a.test\") "
		 "M(NIL NIL \"joe\" \"where.test\") M(\"John\" NIL \"jdoe\" \"one.test\") E(NIL NIL NIL NIL)"},
		{"undisclosed-recipients:;", "rc=0 G(NIL NIL \"undisclosed-recipients\" NIL) E(NIL NIL NIL NIL)"},
		{"<@route1,@route2:user@host>", "rc=0 M(NIL \"@route1,@route2\" \"user\" \"host\")"},
		{"justaname", "rc=0 M(NIL NIL \"justaname\" \".MISSING-HOST-NAME.\")"},
		{", ,a@b,,", "rc=0 M(NIL NIL \"a\" \"b\")"},
		{"Name <broken", "rc=0 M(\"Name\" NIL \"broken\" \".MISSING-HOST-NAME.\")"},
		{"=?utf-8?q?J=C3=B6rg?= <j@x>", "rc=0 M(\"=?utf-8?q?J=C3=B6rg?=\" NIL \"j\" \"x\")"},
		{"a@[127.0.0.1]", "rc=0 M(NIL NIL \"a\" \"[127.0.0.1]\")"},
		{"", "rc=0"},
		{"g: a@b", "rc=0 G(NIL NIL \"g\" NIL) M(NIL NIL \"a\" \"b\") E(NIL NIL NIL NIL)"},
		{"a@b >>> <<", "rc=0 M(NIL NIL \"a\" \"b\")"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = addr_str(cases[i].in);
		if (strcmp(got, cases[i].out) != 0)
			fail_msg("case %zu \"%s\":\n got  %s\n want %s", i, cases[i].in, got, cases[i].out);
		free(got);
	}
}

static void test_addr_limits(void **state)
{
	(void)state;
	/* a NUL byte is not a special (it once stalled the scanner) */
	{
		msg_addr_t b[4];
		uint32_t nb = 0;
		sl_buf_t st;
		sl_buf_init(&st, 1 << 16);
		assert_int_equal(msg_addr_parse(sl_slice_make("x\0y@z, q@r", 11), b, 4, &nb, &st), 0);
		assert_int_equal(nb, 2);
		assert_int_equal(b[0].mailbox.len, 3);
		assert_memory_equal(b[1].mailbox.ptr, "q", 1);
		sl_buf_free(&st);
	}
	msg_addr_t a[2];
	uint32_t n = 9;
	sl_buf_t strs;
	sl_buf_init(&strs, 1 << 16);
	assert_int_equal(msg_addr_parse(SL_SLICE_LIT("a@b, c@d, e@f"), a, 2, &n, &strs), SL_ELIMIT);
	assert_int_equal(n, 2);
	sl_buf_free(&strs);
	/* strings that do not fit */
	sl_buf_init(&strs, 8);
	assert_int_equal(msg_addr_parse(SL_SLICE_LIT("Long Name <longlocal@longhost.example>"), a, 2, &n, &strs),
			 SL_ELIMIT);
	sl_buf_free(&strs);
}

/* --- the structure recorder ------------------------------------------- */

static unsigned chained_text;
static int count_text(void *ctx, const msg_part_t *p, sl_slice_t d)
{
	(void)p;
	assert_ptr_equal(ctx, &chained_text);
	chained_text += (unsigned)d.len;
	return 0;
}

static void test_struct_build(void **state)
{
	(void)state;
	static const char m[] = "Date: Mon, 7 Feb 1994 21:52:25 -0800\r\n"
				"From: Fred <fred@x.example>\r\n"
				"Subject: =?utf-8?q?hi?=\r\n"
				"Content-Type: multipart/mixed; boundary=b\r\n\r\n"
				"--b\r\nContent-Type: text/plain; charset=us-ascii\r\nContent-ID: <c1>\r\n\r\nhello\r\n"
				"--b\r\nContent-Type: message/rfc822\r\nContent-Disposition: attachment; filename=f.eml\r\n\r\n"
				"Subject: inner\r\nTo: a@b\r\n\r\nbody\r\n"
				"--b--\r\n";
	msg_struct_t *s = msg_struct_new(0);
	msg_callbacks_t chain = {&chained_text, NULL, NULL, NULL, count_text, NULL, NULL, NULL}, cb;
	msg_struct_callbacks(s, &chain, &cb);
	msg_parser_t *p = msg_parser_new(NULL, &cb);
	chained_text = 0;
	assert_int_equal(msg_parser_feed(p, m, sizeof(m) - 1), 0);
	assert_int_equal(msg_parser_finish(p, NULL), 0);
	assert_int_equal(chained_text, 5 + 4); /* "hello", "body" went to the chain */
	assert_int_equal(msg_struct_nparts(s), 4);
	assert_false(msg_struct_truncated(s));

	const msg_snode_t *root = msg_struct_part(s, 0);
	assert_true(root->is_multipart);
	assert_int_equal(root->first_child, 1);
	assert_int_equal(msg_struct_part(s, 1)->next_sibling, 2);
	assert_int_equal(msg_struct_part(s, 2)->first_child, 3);
	sl_slice_t v = msg_struct_str(s, root->env[MSG_ENV_SUBJECT]);
	assert_int_equal(v.len, 14);
	assert_memory_equal(v.ptr, "=?utf-8?q?hi?=", 14); /* raw, as ENVELOPE wants */
	assert_false(root->env[MSG_ENV_TO].set);
	v = msg_struct_str(s, msg_struct_part(s, 3)->env[MSG_ENV_TO]);
	assert_memory_equal(v.ptr, "a@b", 3);
	const msg_snode_t *t1 = msg_struct_part(s, 1);
	v = msg_struct_str(s, t1->id);
	assert_memory_equal(v.ptr, "<c1>", 4);
	assert_int_equal(t1->nparams, 1);
	sl_slice_t pn, pv;
	msg_struct_param(s, t1->param0, &pn, &pv);
	assert_memory_equal(pn.ptr, "charset", 7);
	assert_memory_equal(pv.ptr, "us-ascii", 8);
	assert_int_equal(t1->body_end - t1->body_off, 5);
	const msg_snode_t *r = msg_struct_part(s, 2);
	assert_true(r->is_rfc822);
	assert_int_equal(r->ndparams, 1);
	assert_int_equal(msg_struct_find(s, "2"), 2);
	assert_int_equal(msg_struct_find(s, "1"), 1);
	assert_int_equal(msg_struct_find(s, ""), 0);
	assert_int_equal(msg_struct_find(s, "3"), -1);

	/* a tiny maximum: truncated, the parse still completes */
	msg_struct_free(&s);
	s = msg_struct_new(200);
	msg_struct_callbacks(s, NULL, &cb);
	msg_parser_free(&p);
	p = msg_parser_new(NULL, &cb);
	assert_int_equal(msg_parser_feed(p, m, sizeof(m) - 1), 0);
	assert_int_equal(msg_parser_finish(p, NULL), 0);
	assert_true(msg_struct_truncated(s));
	assert_true(msg_struct_nparts(s) < 4);
	msg_parser_free(&p);
	msg_struct_free(&s);
	assert_null(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hdr_decode_table),
		cmocka_unit_test(test_hdr_decode_limit),
		cmocka_unit_test(test_charset_aliases),
		cmocka_unit_test(test_decoders_streaming),
		cmocka_unit_test(test_entities),
		cmocka_unit_test(test_url_in_token),
		cmocka_unit_test(test_addr_lists),
		cmocka_unit_test(test_addr_limits),
		cmocka_unit_test(test_struct_build),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
