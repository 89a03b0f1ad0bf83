/* test_bayes - the Bayes tokenizer, the math against hand-computed values,
 * and learn/score/unlearn on the in-memory store. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bayes/bayes.h"
#include "sl_err.h"
#include "test_bayes_util.h"

/* --- token capture ----------------------------------------------------- */

#define CAP_MAX 512

typedef struct cap {
	char tok[CAP_MAX][BAYES_TOKEN_TEXT_MAX + 1];
	unsigned n;
} cap_t;

static void cap_trace(void *ctx, sl_slice_t text)
{
	cap_t *c = ctx;

	if (c->n < CAP_MAX) {
		memcpy(c->tok[c->n], text.ptr, text.len);
		c->tok[c->n][text.len] = '\0';
		c->n++;
	}
}

static bool cap_has(const cap_t *c, const char *tok)
{
	for (unsigned i = 0; i < c->n; i++)
		if (strcmp(c->tok[i], tok) == 0)
			return true;
	return false;
}

static void cap_dump(const cap_t *c)
{
	for (unsigned i = 0; i < c->n; i++)
		print_message("  [%s]\n", c->tok[i]);
}

#define assert_tok(c, t)                                                   \
	do {                                                               \
		if (!cap_has((c), (t))) {                                  \
			cap_dump(c);                                       \
			fail_msg("missing token [%s]", (t));               \
		}                                                          \
	} while (0)

#define assert_no_tok(c, t)                                                \
	do {                                                               \
		if (cap_has((c), (t))) {                                   \
			cap_dump(c);                                       \
			fail_msg("unexpected token [%s]", (t));            \
		}                                                          \
	} while (0)

static bayes_tok_t *tok_new(cap_t *c)
{
	bayes_tok_opts_t o;
	bayes_tok_t *t = NULL;

	bayes_tok_opts_default(&o);
	if (c != NULL) {
		memset(c, 0, sizeof(*c));
		o.trace = cap_trace;
		o.trace_ctx = c;
	}
	assert_int_equal(bayes_tok_create(&o, &t), 0);
	return t;
}

static void hdr(bayes_tok_t *t, const char *name, const char *value)
{
	assert_int_equal(bayes_tok_header(t, sl_slice_make(name, strlen(name)),
					  sl_slice_make(value, strlen(value))),
			 0);
}

static void body(bayes_tok_t *t, const char *text)
{
	assert_int_equal(bayes_tok_body(t, sl_slice_make(text, strlen(text))), 0);
}

static void uri(bayes_tok_t *t, const char *u)
{
	assert_int_equal(bayes_tok_uri(t, sl_slice_make(u, strlen(u))), 0);
}

/* --- tokenizer --------------------------------------------------------- */

static void test_tok_headers(void **state)
{
	cap_t *c = malloc(sizeof(*c));
	bayes_tok_t *t = tok_new(c);

	(void)state;
	hdr(t, "Subject", "Hello World");
	hdr(t, "FROM", "John <John@Example.COM>");
	hdr(t, "Received", "from mail.example.org ([192.168.10.20]) by mx.sluice.test");
	hdr(t, "Message-ID", "<abc.123@Host.Example.NET>");
	hdr(t, "Content-Type", "text/HTML; charset=\"UTF-8\"");
	hdr(t, "Content-Disposition", "attachment; filename=\"invoice.pdf.EXE\"");
	hdr(t, "X-Mailer", "Foo Mailer 1.0");
	hdr(t, "X-Junk-Header", "ignored words");
	/* Table: every token the headers above must yield. */
	static const char *const want[] = {
		"h:subject", "s:hello", "s:world", "sb:hello world",
		"h:from", "f:john", "f:john@example.com", "f:@example.com",
		"h:received", "r:from", "r:mail.example.org", "r:d:example.org",
		"r:192.168.10.20", "r:ip/24:192.168.10", "r:ip/16:192.168", "r:mx.sluice.test",
		"r:d:sluice.test",
		"h:message-id", "mid:host.example.net",
		"h:content-type", "ct:text/html", "cs:utf-8",
		"h:content-disposition", "cd:attachment", "fx:exe",
		"h:x-mailer", "x:=foo mailer 1.0", "x:foo", "x:mailer", "x:1.0",
		"h:x-junk-header",
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_tok(c, want[i]);
	assert_no_tok(c, "ignored");
	assert_no_tok(c, "words");
	assert_no_tok(c, "hello"); /* subject words carry their prefix */
	bayes_tok_destroy(&t);
	assert_null(t);
	free(c);
}

static void test_tok_words(void **state)
{
	cap_t *c = malloc(sizeof(*c));
	bayes_tok_t *t = tok_new(c);
	bayes_tok_opts_t o;
	static const struct {
		const char *text;
		const char *tok; /* NULL: no token at all */
	} cases[] = {
		{"FREE!!!", "free"},
		{"$100", "$100"},
		{"50%", "50%"},
		{"e-mail", "e-mail"},
		{"...dots...", "dots"},
		{"Größe", "größe"},                 /* Latin-1 capitals fold */
		{"V\xe2\x80\x8biagra", "viagra"},   /* zero-width space dropped */
		{"soft\xc2\xadhyphen", "softhyphen"},
		{"a", NULL},                        /* shorter than min_word */
		{"--", NULL},
		{"\xe6\x97\xa5\xe6\x9c\xac", "\xe6\x97\xa5\xe6\x9c\xac"}, /* kept as bytes */
	};

	(void)state;
	bayes_tok_opts_default(&o);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bayes_msg_t m;

		bayes_tok_reset(t);
		c->n = 0;
		body(t, cases[i].text);
		bayes_tok_finish(t, &m);
		if (cases[i].tok == NULL) {
			assert_int_equal(m.n, 0);
			continue;
		}
		assert_int_equal(c->n, 1);
		assert_string_equal(c->tok[0], cases[i].tok);
		assert_int_equal(m.n, 1);
		assert_true(m.ids[0] == bayes_token_id(o.key, sl_slice_make(cases[i].tok,
								      strlen(cases[i].tok))));
	}
	bayes_tok_destroy(&t);
	free(c);
}

static void test_tok_separators(void **state)
{
	cap_t *c = malloc(sizeof(*c));
	bayes_tok_t *t = tok_new(c);
	bayes_msg_t m;

	(void)state;
	/* em dash, no-break space, invalid byte, a truncated sequence, an
	   overlong encoding of '/', CJK full stop */
	body(t, "hello\xe2\x80\x94world no\xc2\xa0" "break abc\xff" "def ghi\xe2\x80jkl "
		"mn\xc0\xafop qr\xe3\x80\x82st");
	bayes_tok_finish(t, &m);
	static const char *const want[] = {"hello", "world", "no", "break", "abc", "def",
					   "ghi", "jkl", "mn", "op", "qr", "st"};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_tok(c, want[i]);
	assert_no_tok(c, "helloworld");
	assert_no_tok(c, "ghijkl");
	bayes_tok_destroy(&t);
	free(c);
}

static void test_tok_long_words(void **state)
{
	cap_t *c = malloc(sizeof(*c));
	bayes_tok_t *t = tok_new(c);
	char w[200];
	bayes_tok_stats_t st;
	bayes_msg_t m;

	(void)state;
	memset(w, 'X', 50);
	w[50] = ' ';
	memset(w + 51, 'q', 45);
	w[96] = ' ';
	memset(w + 97, 'z', 40); /* exactly max_word: kept */
	w[137] = '\0';
	body(t, w);
	bayes_tok_finish(t, &m);
	assert_tok(c, "sk:x 50");
	assert_tok(c, "sk:q 40");
	assert_tok(c, "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz");
	bayes_tok_stats(t, &st);
	assert_int_equal(st.long_words, 2);
	/* A long word breaks the bigram chain; the two skips have none. */
	for (unsigned i = 0; i < c->n; i++)
		assert_false(strncmp(c->tok[i], "b:", 2) == 0);
	bayes_tok_destroy(&t);
	free(c);
}

static void test_tok_bigrams(void **state)
{
	cap_t *c = malloc(sizeof(*c));
	bayes_tok_t *t = tok_new(c);
	bayes_msg_t m;

	(void)state;
	body(t, "One two, THREE");
	bayes_tok_body_end(t);
	body(t, "four");
	bayes_tok_finish(t, &m);
	assert_tok(c, "b:one two");
	assert_tok(c, "b:two three");
	assert_no_tok(c, "b:three four"); /* not across text parts */
	bayes_tok_destroy(&t);
	free(c);
}

static void test_tok_html(void **state)
{
	static const char html[] =
		"<HTML><body BGCOLOR=\"#fff\" text=black>Hi <font face='Arial' size=2>there"
		"</font><!-- note --><img src=x alt=\"a>b\" width = 3><a\nhref=y>z</a></body>";
	static const char *const want[] = {
		"<html", "<body", "<body bgcolor", "<body text", "<font", "<font face",
		"<font size", "<!--", "<img", "<img src", "<img alt", "<img width", "<a",
		"<a href",
	};
	cap_t *c = malloc(sizeof(*c));
	bayes_tok_t *t = tok_new(c), *u = tok_new(NULL);
	size_t len = strlen(html);
	bayes_tok_opts_t o;
	bayes_msg_t a, b;

	(void)state;
	assert_int_equal(bayes_tok_html(t, sl_slice_make(html, len)), 0);
	bayes_tok_finish(t, &a);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_tok(c, want[i]);
	assert_int_equal(c->n, sizeof(want) / sizeof(want[0])); /* nothing else */
	assert_no_tok(c, "<img b"); /* '>' inside quotes ends no tag */
	/* Split at every byte: the same. */
	for (size_t cut = 0; cut <= len; cut++) {
		bayes_tok_reset(u);
		bayes_tok_html(u, sl_slice_make(html, cut));
		bayes_tok_html(u, sl_slice_make(html + cut, len - cut));
		bayes_tok_finish(u, &b);
		assert_int_equal(a.n, b.n);
		assert_memory_equal(a.ids, b.ids, a.n * sizeof(*a.ids));
	}
	assert_int_equal(bayes_tok_html(t, SL_SLICE_LIT("<p>")), SL_ESTATE);
	bayes_tok_destroy(&t);
	bayes_tok_destroy(&u);

	/* max_html bounds them: the first ones are kept. */
	bayes_tok_opts_default(&o);
	o.max_html = 3;
	o.trace = cap_trace;
	o.trace_ctx = c;
	c->n = 0;
	assert_int_equal(bayes_tok_create(&o, &t), 0);
	bayes_tok_html(t, sl_slice_make(html, len));
	bayes_tok_finish(t, &a);
	assert_int_equal(a.n, 3);
	assert_tok(c, "<html");
	assert_tok(c, "<body bgcolor");
	bayes_tok_destroy(&t);
	free(c);
}

/* Feeding TEXT whole and split at every byte gives the same message. */
static void test_tok_chunk_splits(void **state)
{
	static const char *const texts[] = {
		"Buy cheap viagra now!!! Only $99.95 at our store, e-mail us.",
		"Gr\xc3\xb6\xc3\x9f" "e caf\xc3\xa9 na\xc3\xafve \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e "
		"emoji\xf0\x9f\x98\x80smile zw\xe2\x80\x8bj dash\xe2\x80\x94" "end",
	};
	bayes_tok_t *whole = tok_new(NULL), *split = tok_new(NULL);

	(void)state;
	for (size_t k = 0; k < sizeof(texts) / sizeof(texts[0]); k++) {
		const char *s = texts[k];
		size_t len = strlen(s);
		bayes_msg_t a, b;

		bayes_tok_reset(whole);
		body(whole, s);
		bayes_tok_finish(whole, &a);
		assert_true(a.n > 5);
		for (size_t cut = 0; cut <= len; cut++) {
			bayes_tok_reset(split);
			assert_int_equal(bayes_tok_body(split, sl_slice_make(s, cut)), 0);
			assert_int_equal(bayes_tok_body(split, sl_slice_make(s + cut, len - cut)), 0);
			bayes_tok_finish(split, &b);
			assert_int_equal(a.n, b.n);
			assert_memory_equal(a.ids, b.ids, a.n * sizeof(*a.ids));
			assert_memory_equal(a.sig, b.sig, BAYES_SIG_LEN);
		}
		/* One byte at a time. */
		bayes_tok_reset(split);
		for (size_t i = 0; i < len; i++)
			body(split, (char[]){s[i], 0});
		bayes_tok_finish(split, &b);
		assert_int_equal(a.n, b.n);
		assert_memory_equal(a.ids, b.ids, a.n * sizeof(*a.ids));
	}
	bayes_tok_destroy(&whole);
	bayes_tok_destroy(&split);
}

static void test_tok_uris(void **state)
{
	cap_t *c = malloc(sizeof(*c));
	bayes_tok_t *t = tok_new(c);
	bayes_msg_t m;

	(void)state;
	uri(t, "http://user@www.Evil.example.com:8080/path?x=1");
	uri(t, "https://192.168.1.1/login");
	uri(t, "HTTP://3232235777/");
	uri(t, "mailto:bob@Spam.Example");
	uri(t, "www.foo.org/bar");
	uri(t, "<http://[2001:db8::1]:80/x>");
	uri(t, "http:///nohost");
	uri(t, "");
	bayes_tok_finish(t, &m);
	static const char *const want[] = {
		"u:@", "u:www.evil.example.com", "u:evil.example.com", "u:example.com",
		"u:192.168.1.1", "u:ip", "u:3232235777", "um:spam.example",
		"u:www.foo.org", "u:foo.org", "u:[2001:db8::1]",
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_tok(c, want[i]);
	assert_no_tok(c, "u:com");
	assert_no_tok(c, "u:1.1"); /* no parent domains of an IP */
	bayes_tok_destroy(&t);
	free(c);
}

static void test_tok_dedup_and_limits(void **state)
{
	bayes_tok_opts_t o;
	bayes_tok_t *t = NULL;
	bayes_tok_stats_t st;
	bayes_msg_t m;
	char buf[2048];
	size_t n = 0;

	(void)state;
	bayes_tok_opts_default(&o);
	o.max_tokens = 16;
	o.max_bigrams = 0;
	o.max_body = 1000;
	assert_int_equal(bayes_tok_create(&o, &t), 0);
	body(t, "spam spam SPAM Spam");
	bayes_tok_finish(t, &m);
	assert_int_equal(m.n, 1);
	bayes_tok_reset(t);
	for (int i = 0; i < 100; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "word%03d ", i);
	assert_int_equal(bayes_tok_body(t, sl_slice_make(buf, n)), 0);
	bayes_tok_finish(t, &m);
	bayes_tok_stats(t, &st);
	assert_int_equal(m.n, 16);
	assert_int_equal(st.tokens, 16);
	assert_int_equal(st.body_bytes, 800);
	assert_int_equal(st.body_skipped, 0);
	assert_int_equal(st.dropped, 84);
	for (size_t i = 1; i < m.n; i++)
		assert_true(m.ids[i - 1] < m.ids[i]);
	/* After finish the message is closed. */
	assert_int_equal(bayes_tok_body(t, SL_SLICE_LIT("more")), SL_ESTATE);
	assert_int_equal(bayes_tok_header(t, SL_SLICE_LIT("Subject"), SL_SLICE_LIT("x")),
			 SL_ESTATE);
	assert_int_equal(bayes_tok_uri(t, SL_SLICE_LIT("http://x.y/")), SL_ESTATE);
	/* max_body: bytes past it are counted, not read. */
	bayes_tok_reset(t);
	assert_int_equal(bayes_tok_body(t, sl_slice_make(buf, n)), 0);
	assert_int_equal(bayes_tok_body(t, sl_slice_make(buf, n)), 0);
	bayes_tok_stats(t, &st);
	assert_int_equal(st.body_bytes, 1000);
	assert_int_equal(st.body_skipped, 600);
	bayes_tok_destroy(&t);

	/* Bad options. */
	bayes_tok_opts_default(&o);
	o.min_word = 0;
	assert_int_equal(bayes_tok_create(&o, &t), SL_EINVAL);
	bayes_tok_opts_default(&o);
	o.max_word = BAYES_WORD_MAX + 1;
	assert_int_equal(bayes_tok_create(&o, &t), SL_EINVAL);
	bayes_tok_opts_default(&o);
	o.max_tokens = 1u << 21;
	assert_int_equal(bayes_tok_create(&o, &t), SL_EINVAL);
	assert_null(t);
	bayes_tok_destroy(&t); /* NULL is a no-op */
}

/* A tokenizer reused after reset gives what a fresh one gives. */
static void test_tok_reset_reuse(void **state)
{
	bayes_tok_t *a = tok_new(NULL), *b = tok_new(NULL);
	bayes_msg_t ma, mb, again;
	uint8_t sig[BAYES_SIG_LEN];

	(void)state;
	for (uint64_t seed = 1; seed < 40; seed++) {
		tb_message(a, seed & 1 ? BAYES_SPAM : BAYES_HAM, seed, &ma);
		tb_message(b, seed & 1 ? BAYES_SPAM : BAYES_HAM, seed, &mb);
		assert_int_equal(ma.n, mb.n);
		assert_memory_equal(ma.ids, mb.ids, ma.n * sizeof(*ma.ids));
		assert_memory_equal(ma.sig, mb.sig, BAYES_SIG_LEN);
		bayes_tok_finish(a, &again);
		assert_ptr_equal(again.ids, ma.ids);
		/* b gets a throwaway message in between, a fresh one is made. */
		tb_message(b, BAYES_HAM, seed + 1000, &mb);
		bayes_tok_destroy(&b);
		b = tok_new(NULL);
	}
	/* Different messages, different signatures. */
	tb_message(a, BAYES_SPAM, 1, &ma);
	memcpy(sig, ma.sig, sizeof(sig));
	tb_message(a, BAYES_SPAM, 2, &ma);
	assert_memory_not_equal(sig, ma.sig, BAYES_SIG_LEN);
	bayes_tok_destroy(&a);
	bayes_tok_destroy(&b);
}

static void test_siphash_vector(void **state)
{
	/* The SipHash paper's test vector: key 00..0f, message 00..0e. */
	uint64_t key[2] = {0x0706050403020100ull, 0x0f0e0d0c0b0a0908ull};
	uint8_t msg[15];

	(void)state;
	for (int i = 0; i < 15; i++)
		msg[i] = (uint8_t)i;
	assert_true(bayes_token_id(key, sl_slice_make(msg, 15)) == 0xa129ca6149be45e5ull);
}

/* --- math -------------------------------------------------------------- */

static void test_token_prob(void **state)
{
	(void)state;
	/* 10 of 100 spams, 0 of 100 hams: p = 1, f = (0.5 + 10) / 11 */
	assert_float_equal(bayes_token_prob(1, 0.5, 10, 0, 100, 100), 10.5 / 11, 1e-12);
	/* 3/100 spam vs 1/200 ham: p = .03/.035 = 6/7, f = (0.5 + 4*6/7) / 5 */
	assert_float_equal(bayes_token_prob(1, 0.5, 3, 1, 100, 200), 0.7857142857142857, 1e-12);
	/* symmetric */
	assert_float_equal(bayes_token_prob(1, 0.5, 0, 10, 100, 100), 0.5 / 11, 1e-12);
	/* unknown token, or nothing learned: the prior */
	assert_float_equal(bayes_token_prob(1, 0.5, 0, 0, 100, 100), 0.5, 0);
	assert_float_equal(bayes_token_prob(1, 0.4, 5, 5, 0, 100), 0.4, 0);
	/* a count above its total (stale data) is capped at ratio 1 */
	assert_float_equal(bayes_token_prob(1, 0.5, 200, 0, 100, 100), 200.5 / 201, 1e-12);
}

static void test_chi2q(void **state)
{
	(void)state;
	assert_float_equal(bayes_chi2q(2.0, 2), exp(-1.0), 1e-12);
	assert_float_equal(bayes_chi2q(4.0, 4), 3 * exp(-2.0), 1e-12);
	assert_float_equal(bayes_chi2q(10.0, 6), 18.5 * exp(-5.0), 1e-12);
	assert_float_equal(bayes_chi2q(0.0, 4), 1.0, 0);
	assert_true(isnan(bayes_chi2q(1.0, 3)));
	assert_true(isnan(bayes_chi2q(1.0, 0)));
	/* e^-1000 underflows a double; the log domain still gets the tail. */
	double q = bayes_chi2q(2000.0, 300);
	assert_true(q > 0 && q < 1e-200);
	/* a small statistic with many degrees of freedom: almost 1 */
	assert_true(bayes_chi2q(1.0, 300) <= 1.0);
	assert_true(bayes_chi2q(1.0, 300) > 0.999999);
}

static void test_fisher(void **state)
{
	double s, h, p;
	const double one[] = {0.9};
	const double two[] = {0.9, 0.8};
	const double two_h[] = {0.1, 0.2};
	const double three[] = {0.99, 0.2, 0.7};

	(void)state;
	/* One token: S = 1 - (1-f), H = 1 - f, I = f. */
	p = bayes_fisher(one, 1, &s, &h);
	assert_float_equal(s, 0.9, 1e-12);
	assert_float_equal(h, 0.1, 1e-12);
	assert_float_equal(p, 0.9, 1e-12);
	/* Two: S = 1 - 0.02 (1 + ln 50), H = 1 - 0.72 (1 - ln 0.72). */
	p = bayes_fisher(two, 2, &s, &h);
	assert_float_equal(s, 0.9017595398914371, 1e-12);
	assert_float_equal(h, 0.043477071780133936, 1e-12);
	assert_float_equal(p, 0.9291412340556515, 1e-12);
	/* Mirror image. */
	assert_float_equal(bayes_fisher(two_h, 2, NULL, NULL), 1 - 0.9291412340556515, 1e-12);
	p = bayes_fisher(three, 3, &s, &h);
	assert_float_equal(p, 0.8112921831631932, 1e-12);
	assert_float_equal(s, 0.9394563351957212, 1e-12);
	assert_float_equal(h, 0.3168719688693349, 1e-12);
	/* No clues: undecided. */
	assert_float_equal(bayes_fisher(NULL, 0, &s, &h), 0.5, 0);
	assert_float_equal(s, 0, 0);
	assert_float_equal(h, 0, 0);
}

static void test_rules_map(void **state)
{
	static const struct {
		double p;
		const char *a, *b;
	} cases[] = {
		{0.0, "BAYES_00", NULL},    {0.0099, "BAYES_00", NULL},
		{0.01, "BAYES_05", NULL},   {0.1, "BAYES_20", NULL},
		{0.3, "BAYES_40", NULL},    {0.5, "BAYES_50", NULL},
		{0.7, "BAYES_60", NULL},    {0.9, "BAYES_80", NULL},
		{0.97, "BAYES_95", NULL},   {0.995, "BAYES_99", NULL},
		{0.9995, "BAYES_99", "BAYES_999"}, {1.0, "BAYES_99", "BAYES_999"},
	};
	const bayes_rule_t *out[2];
	bayes_result_t r = {.opinion = true};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned n;

		r.prob = cases[i].p;
		n = bayes_rules_match(&r, out);
		assert_int_equal(n, cases[i].b ? 2 : 1);
		assert_string_equal(out[0]->name, cases[i].a);
		if (cases[i].b)
			assert_string_equal(out[1]->name, cases[i].b);
	}
	r.opinion = false;
	assert_int_equal(bayes_rules_match(&r, out), 0);
	r.opinion = true;
	r.prob = NAN;
	assert_int_equal(bayes_rules_match(&r, out), 0);
	/* Scores rise with the band. */
	for (unsigned i = 1; i + 1 < bayes_rules_n; i++)
		assert_true(bayes_rules[i].score > bayes_rules[i - 1].score);
}

static void test_autolearn(void **state)
{
	bayes_autolearn_t a;

	(void)state;
	bayes_autolearn_default(&a);
	assert_int_equal(bayes_autolearn_class(&a, 12.0), BAYES_SPAM);
	assert_int_equal(bayes_autolearn_class(&a, 30.0), BAYES_SPAM);
	assert_int_equal(bayes_autolearn_class(&a, 0.1), BAYES_HAM);
	assert_int_equal(bayes_autolearn_class(&a, -5.0), BAYES_HAM);
	assert_int_equal(bayes_autolearn_class(&a, 5.0), BAYES_NONE);
	assert_int_equal(bayes_autolearn_class(&a, NAN), BAYES_NONE);
	a.enabled = false;
	assert_int_equal(bayes_autolearn_class(&a, 50.0), BAYES_NONE);
}

/* --- learning on the in-memory store ----------------------------------- */

typedef struct done {
	int calls;
	int err;
} done_t;

static void on_done(void *ctx, int err)
{
	done_t *d = ctx;

	d->calls++;
	d->err = err;
}

static void learn_ok(bayes_t *b, const bayes_msg_t *m, enum bayes_class cls)
{
	done_t d = {0};

	assert_int_equal(bayes_learn(b, m, cls, on_done, &d), 0);
	assert_int_equal(d.calls, 1);
	assert_int_equal(d.err, 0);
}

static void test_learn_score_round_trip(void **state)
{
	bayes_mem_t *mem = NULL;
	bayes_t *b = NULL;
	bayes_tok_t *t = tok_new(NULL);
	bayes_result_t r;
	bayes_msg_t m;
	unsigned spam_ok = 0, ham_ok = 0, sure = 0;

	(void)state;
	assert_int_equal(bayes_mem_create(1u << 20, &mem), 0);
	assert_int_equal(bayes_create(NULL, bayes_mem_store(mem), &b), 0);

	/* Too few learned: no opinion. */
	for (uint64_t i = 0; i < 199; i++) {
		tb_message(t, BAYES_SPAM, i, &m);
		learn_ok(b, &m, BAYES_SPAM);
		tb_message(t, BAYES_HAM, i, &m);
		learn_ok(b, &m, BAYES_HAM);
	}
	tb_message(t, BAYES_SPAM, 5000, &m);
	assert_int_equal(bayes_classify(b, &m, &r), 0);
	assert_false(r.opinion);
	assert_float_equal(r.prob, 0.5, 0);
	assert_int_equal(r.totals.spam, 199);
	for (uint64_t i = 199; i < 300; i++) {
		tb_message(t, BAYES_SPAM, i, &m);
		learn_ok(b, &m, BAYES_SPAM);
		tb_message(t, BAYES_HAM, i, &m);
		learn_ok(b, &m, BAYES_HAM);
	}
	/* Unseen messages. */
	for (uint64_t i = 10000; i < 10100; i++) {
		tb_message(t, BAYES_SPAM, i, &m);
		assert_int_equal(bayes_classify(b, &m, &r), 0);
		assert_true(r.opinion);
		assert_true(r.clues > 0 && r.clues <= 150);
		spam_ok += r.prob > 0.5;
		sure += r.prob > 0.9;
		tb_message(t, BAYES_HAM, i, &m);
		assert_int_equal(bayes_classify(b, &m, &r), 0);
		ham_ok += r.prob < 0.5;
		sure += r.prob < 0.1;
	}
	assert_int_equal(spam_ok, 100);
	assert_int_equal(ham_ok, 100);
	assert_true(sure >= 190);
	bayes_destroy(&b);
	assert_null(b);
	bayes_mem_destroy(&mem);
	bayes_tok_destroy(&t);
}

static void test_learn_once_move_unlearn(void **state)
{
	bayes_mem_t *mem = NULL;
	bayes_t *b = NULL;
	bayes_tok_t *t = tok_new(NULL);
	bayes_counts_t *cnt, tot;
	bayes_msg_t m;
	done_t d = {0};
	size_t nt, ns;
	bayes_store_t st;

	(void)state;
	assert_int_equal(bayes_mem_create(1u << 16, &mem), 0);
	st = bayes_mem_store(mem);
	assert_int_equal(bayes_create(NULL, st, &b), 0);
	tb_message(t, BAYES_SPAM, 42, &m);
	cnt = calloc(m.n, sizeof(*cnt));

	learn_ok(b, &m, BAYES_SPAM);
	/* Twice: refused without a callback. */
	assert_int_equal(bayes_learn(b, &m, BAYES_SPAM, on_done, &d), 1);
	assert_int_equal(d.calls, 0);
	assert_int_equal(st.ops->read(st.ctx, m.ids, m.n, cnt, &tot), 0);
	assert_int_equal(tot.spam, 1);
	assert_int_equal(tot.ham, 0);
	for (size_t i = 0; i < m.n; i++) {
		assert_int_equal(cnt[i].spam, 1);
		assert_int_equal(cnt[i].ham, 0);
	}
	/* Learn it as ham: moved, not added. */
	learn_ok(b, &m, BAYES_HAM);
	assert_int_equal(st.ops->read(st.ctx, m.ids, m.n, cnt, &tot), 0);
	assert_int_equal(tot.spam, 0);
	assert_int_equal(tot.ham, 1);
	for (size_t i = 0; i < m.n; i++) {
		assert_int_equal(cnt[i].spam, 0);
		assert_int_equal(cnt[i].ham, 1);
	}
	/* Unlearn: nothing left at all. */
	assert_int_equal(bayes_unlearn(b, &m, on_done, &d), 0);
	assert_int_equal(d.calls, 1);
	bayes_mem_size(mem, &nt, &ns);
	assert_int_equal(nt, 0);
	assert_int_equal(ns, 0);
	assert_int_equal(bayes_unlearn(b, &m, on_done, &d), 1);
	assert_int_equal(d.calls, 1);
	assert_int_equal(bayes_learn(b, &m, BAYES_NONE, on_done, &d), SL_EINVAL);

	/* Two messages sharing tokens, unlearned in the other order. */
	{
		bayes_msg_t m2;
		uint64_t *ids1 = malloc(m.n * sizeof(*ids1));
		size_t n1 = m.n;
		bayes_msg_t m1 = m;

		memcpy(ids1, m.ids, n1 * sizeof(*ids1));
		m1.ids = ids1;
		learn_ok(b, &m1, BAYES_SPAM);
		tb_message(t, BAYES_SPAM, 43, &m2);
		learn_ok(b, &m2, BAYES_SPAM);
		bayes_mem_size(mem, &nt, &ns);
		assert_int_equal(ns, 2);
		assert_int_equal(bayes_unlearn(b, &m1, on_done, &d), 0);
		assert_int_equal(bayes_unlearn(b, &m2, on_done, &d), 0);
		bayes_mem_size(mem, &nt, &ns);
		assert_int_equal(nt, 0);
		assert_int_equal(ns, 0);
		free(ids1);
	}
	free(cnt);
	bayes_destroy(&b);
	bayes_mem_destroy(&mem);
	bayes_tok_destroy(&t);
}

static void test_mem_limits(void **state)
{
	bayes_mem_t *mem = NULL;
	bayes_t *b = NULL;
	bayes_tok_t *t = tok_new(NULL);
	bayes_msg_t m;
	done_t d = {0};
	size_t nt, ns;
	bayes_opts_t o;
	bayes_update_t bad;
	bayes_store_t st;

	(void)state;
	assert_int_equal(bayes_mem_create(0, &mem), SL_EINVAL);
	assert_int_equal(bayes_mem_create(10, &mem), 0);
	st = bayes_mem_store(mem);
	assert_int_equal(bayes_create(NULL, st, &b), 0);
	tb_message(t, BAYES_SPAM, 1, &m);
	assert_true(m.n > 10);
	assert_int_equal(bayes_learn(b, &m, BAYES_SPAM, on_done, &d), SL_ELIMIT);
	assert_int_equal(d.calls, 0);
	bayes_mem_size(mem, &nt, &ns);
	assert_int_equal(nt + ns, 0);
	/* Taking back what was never added is refused whole. */
	bad = (bayes_update_t){.ids = m.ids, .n_ids = 3, .dspam = -1, .sig = m.sig};
	assert_int_equal(st.ops->apply(st.ctx, &bad, on_done, &d), SL_ECORRUPT);
	bad.dspam = 2;
	assert_int_equal(st.ops->apply(st.ctx, &bad, on_done, &d), SL_EINVAL);
	bayes_destroy(&b);

	bayes_opts_default(&o);
	o.max_ids = 5;
	assert_int_equal(bayes_create(&o, st, &b), 0);
	{
		bayes_result_t r;

		assert_int_equal(bayes_classify(b, &m, &r), SL_ELIMIT);
	}
	bayes_destroy(&b);
	o.s = 0;
	assert_int_equal(bayes_create(&o, st, &b), SL_EINVAL);
	bayes_opts_default(&o);
	o.min_dev = 0.5;
	assert_int_equal(bayes_create(&o, st, &b), SL_EINVAL);
	assert_int_equal(bayes_create(NULL, (bayes_store_t){0}, &b), SL_EINVAL);
	bayes_mem_destroy(&mem);
	assert_null(mem);
	bayes_tok_destroy(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tok_headers),
		cmocka_unit_test(test_tok_words),
		cmocka_unit_test(test_tok_separators),
		cmocka_unit_test(test_tok_long_words),
		cmocka_unit_test(test_tok_bigrams),
		cmocka_unit_test(test_tok_chunk_splits),
		cmocka_unit_test(test_tok_uris),
		cmocka_unit_test(test_tok_html),
		cmocka_unit_test(test_tok_dedup_and_limits),
		cmocka_unit_test(test_tok_reset_reuse),
		cmocka_unit_test(test_siphash_vector),
		cmocka_unit_test(test_token_prob),
		cmocka_unit_test(test_chi2q),
		cmocka_unit_test(test_fisher),
		cmocka_unit_test(test_rules_map),
		cmocka_unit_test(test_autolearn),
		cmocka_unit_test(test_learn_score_round_trip),
		cmocka_unit_test(test_learn_once_move_unlearn),
		cmocka_unit_test(test_mem_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
