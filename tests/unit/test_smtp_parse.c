/* test_smtp_parse - the SMTP engine's small grammars, table-driven:
 * envelope paths (RFC 5321 §4.1.2), xtext (RFC 3461), UTF-8 (RFC 3629),
 * base64 (RFC 4648) as used by AUTH. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "sl_base64.h"
#include "sl_err.h"
#include "smtp/smtp_private.h"

struct path_case {
	const char *in;
	bool allow_null;
	int rc;             /* expected return */
	const char *local;  /* expected local part as written */
	const char *domain; /* expected domain */
	bool utf8;
};

static const struct path_case path_cases[] = {
	{"<alice@example.com>", false, 0, "alice", "example.com", false},
	{"<alice@example.com> SIZE=1", false, 0, "alice", "example.com", false},
	{"<>", true, 0, "", "", false},
	{"<>", false, SL_EINVAL, NULL, NULL, false},
	{"<postmaster>", false, 0, "postmaster", "", false},
	{"<POSTMASTER>", false, 0, "POSTMASTER", "", false},
	{"<\"postmaster\">", false, SL_EINVAL, NULL, NULL, false},
	{"<alice>", false, SL_EINVAL, NULL, NULL, false},
	{"<first.last@sub.example.com>", false, 0, "first.last", "sub.example.com", false},
	{"<a+tag@example.com>", false, 0, "a+tag", "example.com", false},
	{"<!#$%&'*+-/=?^_`{|}~@example.com>", false, 0, "!#$%&'*+-/=?^_`{|}~", "example.com", false},
	{"<.a@example.com>", false, SL_EINVAL, NULL, NULL, false},
	{"<a.@example.com>", false, SL_EINVAL, NULL, NULL, false},
	{"<a..b@example.com>", false, SL_EINVAL, NULL, NULL, false},
	{"<\"a b\"@example.com>", false, 0, "\"a b\"", "example.com", false},
	{"<\"a\\\"b\"@example.com>", false, 0, "\"a\\\"b\"", "example.com", false},
	{"<\"unterminated@example.com>", false, SL_EINVAL, NULL, NULL, false},
	{"<@relay.example:alice@example.com>", false, 0, "alice", "example.com", false},
	{"<@a.example,@b.example:alice@example.com>", false, 0, "alice", "example.com", false},
	{"<@a.example,b.example:alice@example.com>", false, SL_EINVAL, NULL, NULL, false},
	{"<@:alice@example.com>", false, SL_EINVAL, NULL, NULL, false},
	{"<alice@[192.0.2.1]>", false, 0, "alice", "[192.0.2.1]", false},
	{"<alice@[192.0.2.256]>", false, SL_EINVAL, NULL, NULL, false},
	{"<alice@[192.0.2]>", false, SL_EINVAL, NULL, NULL, false},
	{"<alice@[IPv6:2001:db8::1]>", false, 0, "alice", "[IPv6:2001:db8::1]", false},
	{"<alice@[ipv6:::1]>", false, 0, "alice", "[ipv6:::1]", false},
	{"<alice@[IPv6:2001:db8::g]>", false, SL_EINVAL, NULL, NULL, false},
	{"<alice@[x-tag:stuff]>", false, 0, "alice", "[x-tag:stuff]", false},
	{"<alice@[]>", false, SL_EINVAL, NULL, NULL, false},
	{"<alice@example..com>", false, SL_EINVAL, NULL, NULL, false},
	{"<alice@-example.com>", false, SL_EINVAL, NULL, NULL, false},
	{"<alice@example-.com>", false, SL_EINVAL, NULL, NULL, false},
	{"<alice@example.com.>", false, SL_EINVAL, NULL, NULL, false},
	{"<alice@exa_mple.com>", false, SL_EINVAL, NULL, NULL, false},
	{"<alice@example.com", false, SL_EINVAL, NULL, NULL, false},
	{"alice@example.com", false, SL_EINVAL, NULL, NULL, false},
	{"<alice@@example.com>", false, SL_EINVAL, NULL, NULL, false},
	{"<a@b@example.com>", false, SL_EINVAL, NULL, NULL, false},
	{"<j\xc3\xb6rg@example.com>", false, 0, "j\xc3\xb6rg", "example.com", true},
	{"<alice@b\xc3\xbc" "cher.example>", false, 0, "alice", "b\xc3\xbc" "cher.example", true},
	{"<j\xc3rg@example.com>", false, SL_EINVAL, NULL, NULL, false},
	{"<j\xc0\xafrg@example.com>", false, SL_EINVAL, NULL, NULL, false},
	/* §4.5.3.1: local part 64, domain 255, path 256 octets */
	{"<aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@example.com>", false, 0,
	 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "example.com", false},
	{"<aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@example.com>", false,
	 SL_ELIMIT, NULL, NULL, false},
	{"<a@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com>", false, SL_EINVAL,
	 NULL, NULL, false}, /* label of 64 */
};

static void test_path_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(path_cases) / sizeof(path_cases[0]); i++) {
		const struct path_case *c = &path_cases[i];
		struct smtp_path p;
		const char *why = NULL;
		size_t end = 0;
		int rc = smtp_path_parse((const uint8_t *)c->in, strlen(c->in), c->allow_null, &p, &end,
					 &why);

		if (rc != c->rc)
			fail_msg("%s: rc %d, expected %d (%s)", c->in, rc, c->rc, why ? why : "");
		assert_non_null(why);
		if (rc != 0)
			continue;
		assert_true(end >= 2 && c->in[end - 1] == '>');
		assert_int_equal(p.local_len, strlen(c->local));
		assert_memory_equal(c->in + p.local_off, c->local, p.local_len);
		assert_int_equal(p.domain_len, strlen(c->domain));
		if (p.domain_len)
			assert_memory_equal(c->in + p.domain_off, c->domain, p.domain_len);
		assert_int_equal(p.utf8, c->utf8);
	}
}

static void test_path_length_limits(void **state)
{
	char buf[600];
	struct smtp_path p;
	const char *why;
	size_t end;
	int n;

	(void)state;
	/* a 255-octet domain of 63-octet labels, and a path over 256 */
	char dom[300];
	size_t d = 0;

	for (int l = 0; l < 4; l++) {
		memset(dom + d, 'a' + l, 63);
		d += 63;
		dom[d++] = '.';
	}
	dom[d - 1] = '\0'; /* 4*63+3 = 255 */
	assert_int_equal(strlen(dom), 255);
	n = snprintf(buf, sizeof(buf), "<x@%s>", dom);
	assert_int_equal(smtp_path_parse((const uint8_t *)buf, (size_t)n, false, &p, &end, &why),
			 SL_ELIMIT); /* the path is 259 octets */
	n = snprintf(buf, sizeof(buf), "<%s>", "x@a.example");
	assert_int_equal(smtp_path_parse((const uint8_t *)buf, (size_t)n, false, &p, &end, &why), 0);
	{
		char dom2[260];

		memcpy(dom2, dom, 255);
		dom2[255] = 'b'; /* 256-octet domain: last label of 64 */
		dom2[256] = '\0';
		n = snprintf(buf, sizeof(buf), "<x@%s>", dom2);
		assert_int_not_equal(
			smtp_path_parse((const uint8_t *)buf, (size_t)n, false, &p, &end, &why), 0);
	}
}

static void test_local_unquote(void **state)
{
	char out[65];

	(void)state;
	assert_int_equal(smtp_local_unquote((const uint8_t *)"\"a\\\"b c\"", 8, out, sizeof(out)), 5);
	assert_string_equal(out, "a\"b c");
	assert_int_equal(smtp_local_unquote((const uint8_t *)"plain", 5, out, sizeof(out)), 5);
	assert_string_equal(out, "plain");
	assert_int_equal(smtp_local_unquote((const uint8_t *)"toolong", 7, out, 4), -1);
}

static void test_xtext(void **state)
{
	static const struct {
		const char *in;
		bool ok;
	} t[] = {
		{"abc", true},      {"a+2Bb", true},  {"+3D", true},   {"", true},
		{"a+2b", false},    {"a+2", false},   {"a=b", false},  {"a b", false},
		{"a\x7f", false},   {"+GG", false},   {"~!", true},    {"\xc3\xa9", false},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (smtp_xtext_valid((const uint8_t *)t[i].in, strlen(t[i].in)) != t[i].ok)
			fail_msg("xtext \"%s\" should be %s", t[i].in, t[i].ok ? "valid" : "invalid");
}

static void test_utf8(void **state)
{
	static const struct {
		const char *in;
		bool ok;
	} t[] = {
		{"ascii", true},
		{"\xc3\xa9", true},
		{"\xe2\x82\xac", true},
		{"\xf0\x9f\x98\x80", true},
		{"\xc3", false},
		{"\xc0\x80", false},         /* overlong NUL */
		{"\xe0\x80\xaf", false},     /* overlong */
		{"\xed\xa0\x80", false},     /* surrogate */
		{"\xf4\x90\x80\x80", false}, /* > U+10FFFF */
		{"\xff", false},
		{"\xe2\x82", false},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (smtp_utf8_valid((const uint8_t *)t[i].in, strlen(t[i].in)) != t[i].ok)
			fail_msg("utf8 case %zu should be %s", i, t[i].ok ? "valid" : "invalid");
}

static void test_base64(void **state)
{
	static const struct {
		const char *enc;
		const char *dec;
		size_t dec_len;
	} ok[] = {
		{"", "", 0},
		{"Zg==", "f", 1},
		{"Zm8=", "fo", 2},
		{"Zm9v", "foo", 3},
		{"Zm9vYg==", "foob", 4},
		{"Zm9vYmE=", "fooba", 5},
		{"Zm9vYmFy", "foobar", 6},
		{"AGFsaWNlAHNlY3JldA==", "\0alice\0secret", 13},
		{"+/+/", "\xfb\xff\xbf", 3},
	};
	static const char *const bad[] = {"Zg=", "Z===", "Zg==Zg==", "Zm9v!", "Zg=a", "====", "Zm 9v",
					  "Zm9vY", "=Zg="};
	uint8_t out[64];
	char enc[64];

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		long n = sl_base64_decode((const uint8_t *)ok[i].enc, strlen(ok[i].enc), out, sizeof(out));

		assert_int_equal(n, (long)ok[i].dec_len);
		assert_memory_equal(out, ok[i].dec, ok[i].dec_len);
		assert_int_equal(sl_base64_encode((const uint8_t *)ok[i].dec, ok[i].dec_len, enc,
						 sizeof(enc)),
				 strlen(ok[i].enc));
		assert_string_equal(enc, ok[i].enc);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (sl_base64_decode((const uint8_t *)bad[i], strlen(bad[i]), out, sizeof(out)) >= 0)
			fail_msg("base64 \"%s\" should be refused", bad[i]);
	/* the output bound is respected */
	assert_int_equal(sl_base64_decode((const uint8_t *)"Zm9vYmFy", 8, out, 5), -1);
	assert_int_equal(sl_base64_encode((const uint8_t *)"foo", 3, enc, 4), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path_table),  cmocka_unit_test(test_path_length_limits),
		cmocka_unit_test(test_local_unquote), cmocka_unit_test(test_xtext),
		cmocka_unit_test(test_utf8),        cmocka_unit_test(test_base64),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
