/* test_rules - the rule language, the Hyperscan rule engine and its PCRE2
 * reference: parse errors, every rule type, metas, flags, streaming across
 * chunk boundaries, prefilter confirmation, Hyperscan/PCRE2 equivalence,
 * reload that fails, GTUBE, limits, threads, the default rule set. */
#include <dirent.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "bayes/bayes.h"
#include "rules/rules.h"
#include "sl_err.h"

#define GTUBE "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"

/* A message as engine events. Headers are "Name: value" (raw == decoded
 * unless a "|" separates raw|decoded). CHUNK > 0 feeds streams in pieces of
 * that size. */
typedef struct tmsg {
	const char *headers[8];
	const char *body;
	const char *rawbody;
	const char *full;
	const char *uris[4];
} tmsg_t;

static flt_rules_t *load_rules(const char *text, unsigned flags)
{
	flt_rules_t *r;
	const char *err = NULL;
	flt_rules_src_t src = {"t.cf", text, strlen(text)};
	int rc;

	assert_int_equal(flt_rules_new(&r), 0);
	rc = flt_rules_load_sources(r, &src, 1, flags, &err);
	if (rc != 0)
		fail_msg("load failed: %s", err);
	return r;
}

static void feed_stream(int (*fn)(flt_rscan_t *, sl_slice_t), flt_rscan_t *s, const char *t,
			size_t chunk)
{
	size_t len, off = 0;

	if (t == NULL)
		return;
	len = strlen(t);
	if (chunk == 0)
		chunk = len ? len : 1;
	do {
		size_t n = len - off < chunk ? len - off : chunk;

		assert_int_equal(fn(s, sl_slice_make(t + off, n)), 0);
		off += n;
	} while (off < len);
}

static const flt_rules_result_t *scan_msg(flt_rscan_t *s, const tmsg_t *m, size_t chunk)
{
	const flt_rules_result_t *res;

	assert_int_equal(flt_rscan_begin(s), 0);
	for (size_t i = 0; i < 8 && m->headers[i] != NULL; i++) {
		const char *h = m->headers[i], *colon = strchr(h, ':'), *v, *bar;

		assert_non_null(colon);
		v = colon + 1;
		while (*v == ' ')
			v++;
		bar = strchr(v, '|');
		if (bar != NULL)
			assert_int_equal(flt_rscan_header(s, sl_slice_make(h, (size_t)(colon - h)),
							  sl_slice_make(v, (size_t)(bar - v)),
							  sl_slice_make(bar + 1, strlen(bar + 1))),
					 0);
		else
			assert_int_equal(flt_rscan_header(s, sl_slice_make(h, (size_t)(colon - h)),
							  sl_slice_make(v, strlen(v)),
							  sl_slice_make(v, strlen(v))),
					 0);
	}
	for (size_t i = 0; i < 4 && m->uris[i] != NULL; i++)
		assert_int_equal(flt_rscan_uri(s, sl_slice_make(m->uris[i], strlen(m->uris[i]))), 0);
	feed_stream(flt_rscan_body, s, m->body, chunk);
	feed_stream(flt_rscan_rawbody, s, m->rawbody, chunk);
	feed_stream(flt_rscan_full, s, m->full, chunk);
	assert_int_equal(flt_rscan_end(s, &res), 0);
	return res;
}

static double hit_value(const flt_rules_result_t *res, const char *name)
{
	for (size_t i = 0; i < res->nhits; i++)
		if (strcmp(res->hits[i].name, name) == 0)
			return res->hits[i].value;
	return 0;
}

/* "A,B,C" of the hit names, for messages and comparisons. */
static void hit_list(const flt_rules_result_t *res, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < res->nhits && n < len; i++)
		n += (size_t)snprintf(buf + n, len - n, "%s%s=%g", i ? "," : "", res->hits[i].name,
				      res->hits[i].value);
}

/* ---- parse errors ---------------------------------------------------- */

static void test_parse_errors_name_file_line_reason(void **state)
{
	static const struct {
		const char *text;
		const char *want; /* substring of the message */
	} cases[] = {
		{"body A /x/\nfrobnicate B /y/\n", "t.cf:2: unknown directive 'frobnicate'"},
		{"body 9A /x/\n", "t.cf:1: bad rule name '9A'"},
		{"body A\n", "t.cf:1: missing pattern"},
		{"body A /abc/q\n", "t.cf:1: unknown pattern flag 'q'"},
		{"body A /abc\n", "t.cf:1: pattern has no closing '/'"},
		{"body A abc\n", "t.cf:1: pattern must be written /regex/flags"},
		{"body A //\n", "t.cf:1: empty pattern"},
		{"\n\nbody A /a(b/\n", "t.cf:3: rule A: bad pattern at offset 3: missing closing parenthesis"},
		{"body A /x/\nmeta M A && B\n", "t.cf:2: meta M: unknown rule B"},
		{"body A /x/\nmeta M (A && A\n", "t.cf:2: meta M: missing ')'"},
		{"body A /x/\nmeta M A &&\n", "t.cf:2: meta M: expression ends too early"},
		{"body A /x/\nmeta M A ^ A\n", "t.cf:2: meta M: unexpected '^ A'"},
		{"meta M1 M2\nmeta M2 M1\n", "meta M1: refers to itself through other metas"},
		{"body A /x/\nscore B 2\n", "t.cf:2: score for unknown rule B"},
		{"body A /x/\nscore A lots\n", "t.cf:2: score A: 'lots' is not a number"},
		{"body A /x/\nscore A 5000\n", "t.cf:2: score A: 5000 is beyond"},
		/* Score sets: `score NAME a [b]`, one or two numbers. */
		{"body A /x/\nscore A 1 2 3\n", "t.cf:2: score A: more than two scores"},
		{"body A /x/\nscore A 1 many\n", "t.cf:2: score A: 'many' is not a number"},
		{"body A /x/\nscore A 1.5x 2\n", "t.cf:2: score A: '1.5x' is not a number"},
		{"body A /x/\nscore A 1 -5000\n", "t.cf:2: score A: -5000 is beyond"},
		{"body A /x/\nscore A 1 nan\n", "t.cf:2: score A: 'nan' is not a number"},
		{"body A /x/\nscore A\n", "t.cf:2: score A: missing score"},
		{"score GTUBE 1000 0\n", "t.cf:1: GTUBE is built in and cannot be changed"},
		{"score BAYES_99 1 2 3\n", "t.cf:1: score BAYES_99: more than two scores"},
		{"body A /x/\nbody A /y/\n", "t.cf:2: rule A already defined at t.cf:1"},
		{"body GTUBE /x/\n", "t.cf:1: GTUBE is built in and cannot be redefined"},
		{"score GTUBE 0\n", "t.cf:1: GTUBE is built in and cannot be changed"},
		/* The Bayes bands are declared by every set: score and describe
		 * only. */
		{"body BAYES_99 /x/\n", "t.cf:1: BAYES_99 is built in and cannot be redefined"},
		{"tflags BAYES_50 multiple\n",
		 "t.cf:1: tflags BAYES_50: BAYES_50 is scored outside the rule engine"},
		{"body A /x/\nmeta M A && BAYES_99\n",
		 "t.cf:2: meta M: BAYES_99 is scored outside the rule engine"},
		{"score BAYES_99 5000\n", "t.cf:1: score BAYES_99: 5000 is beyond"},
		{"body A /x/\ntflags A sometimes\n", "t.cf:2: tflags A: unknown flag 'sometimes'"},
		{"body A /x/\ntflags A maxhits=0\n", "t.cf:2: tflags A: maxhits must be 1..65535"},
		{"header A Subject /x/\n", "t.cf:1: header rule A: expected =~ or !~"},
		{"header A exists:\n", "t.cf:1: header rule A: bad header name"},
		{"header A Sub:ject =~ /x/\n", "t.cf:1: header rule A: bad header name"},
		{"header A\n", "t.cf:1: header rule A: missing header name"},
		{"describe\n", "t.cf:1: 'describe' needs a rule name"},
		{"header A exists:X-Foo\ntflags A multiple\n",
		 "t.cf:2: tflags A: multiple needs a positive pattern rule"},
		/* Hyperscan refuses a pattern that matches the empty string, even as
		 * a prefilter: the error still names the rule's line. */
		{"body OK /fine/\nbody EMPTY /a*/\n", "t.cf:2: rule EMPTY: pattern not supported"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		flt_rules_src_t src = {"t.cf", cases[i].text, strlen(cases[i].text)};
		flt_ruleset_t *set = (flt_ruleset_t *)1;
		const char *err = NULL;
		int rc = flt_ruleset_compile(&src, 1, 0, &set, &err);

		assert_true(rc == SL_ECONFIG || rc == SL_ELIMIT);
		assert_null(set);
		assert_non_null(err);
		if (strstr(err, cases[i].want) == NULL)
			fail_msg("case %zu: got \"%s\", want \"%s\"", i, err, cases[i].want);
	}
}

static void test_parse_error_names_second_file(void **state)
{
	const char *a = "body A /x/\n", *b = "# comment\n\nmeta M A && NOPE\n";
	flt_rules_src_t srcs[] = {{"one.cf", a, strlen(a)}, {"two.cf", b, strlen(b)}};
	flt_ruleset_t *set;
	const char *err;

	(void)state;
	assert_int_equal(flt_ruleset_compile(srcs, 2, 0, &set, &err), SL_ECONFIG);
	assert_string_equal(err, "two.cf:3: meta M: unknown rule NOPE");
}

static void test_parse_limits(void **state)
{
	size_t len = FLT_RULES_MAX_LINE + 100;
	char *text = malloc(len + 1);
	flt_rules_src_t src = {"big.cf", text, len};
	flt_ruleset_t *set;
	const char *err;

	(void)state;
	memcpy(text, "body A /", 8);
	memset(text + 8, 'a', len - 8);
	text[len - 1] = '/';
	text[len] = '\0';
	assert_int_equal(flt_ruleset_compile(&src, 1, 0, &set, &err), SL_ELIMIT);
	assert_non_null(strstr(err, "big.cf:1: line longer than"));
	/* An embedded NUL is refused, not truncated. */
	src.text = "body A /x\0y/\n";
	src.len = 13;
	assert_int_equal(flt_ruleset_compile(&src, 1, 0, &set, &err), SL_ECONFIG);
	assert_non_null(strstr(err, "big.cf:1: NUL byte"));
	free(text);
}

static void test_load_paths_errors(void **state)
{
	const char *paths[] = {"/nonexistent/rules.cf"};
	flt_ruleset_t *set;
	const char *err;

	(void)state;
	assert_int_equal(flt_ruleset_load(paths, 1, 0, &set, &err), SL_EIO);
	assert_non_null(strstr(err, "/nonexistent/rules.cf: cannot open"));
}

/* ---- rule types ------------------------------------------------------- */

static const char *all_types_rules =
	"header SUBJ_FREE   Subject =~ /\\bfree\\b/i\n"
	"header SUBJ_RAW_QP Subject:raw =~ /=\\?utf-8\\?q\\?/i\n"
	"header HAS_XMAILER exists:X-Mailer\n"
	"header NO_DATE     Date !~ /\\d/\n"
	"header ALL_BULK    ALL =~ /^Precedence: bulk$/mi\n"
	"header TOCC_UNDISC ToCc =~ /undisclosed/i\n"
	"body   BODY_CLICK  /click here/i\n"
	"rawbody RAW_FONT   /<font color=\"?#?ffffff/i\n"
	"uri    URI_IP      /^https?:\\/\\/\\d+\\.\\d+\\.\\d+\\.\\d+/\n"
	"full   FULL_BCC    /^Bcc: /m\n"
	"score SUBJ_FREE 2.5\n"
	"describe SUBJ_FREE Subject says free\n";

static void test_every_rule_type(void **state)
{
	flt_rules_t *r = load_rules(all_types_rules, 0);
	flt_rscan_t *s;
	const flt_rules_result_t *res;
	char list[512];
	tmsg_t spam = {
		.headers = {"Subject: =?utf-8?q?FREE_stuff?=|FREE stuff", "X-Mailer: Blaster 1.0",
			    "Date: sometime", "Precedence: bulk", "Cc: Undisclosed recipients"},
		.body = "Please click\nhere now",
		.rawbody = "<font color=#FFFFFF>hidden</font>",
		.uris = {"http://10.1.2.3/x"},
		.full = "From: a\nBcc: b\n\nbody\n",
	};
	tmsg_t ham = {
		.headers = {"Subject: freedom|freedom", "Date: Mon, 1 Jan 2024 10:00:00 +0000",
			    "Precedence: list", "To: bob@example.org"},
		.body = "Please click\n\nhere now",
		.rawbody = "<font color=#000000>text</font>",
		.uris = {"https://example.org/x"},
		.full = "From: a\nX-Bcc: b\n\nbody\n",
	};
	flt_rule_info_t info;

	(void)state;
	assert_int_equal(flt_rscan_new(r, NULL, &s), 0);
	res = scan_msg(s, &spam, 0);
	hit_list(res, list, sizeof(list));
	assert_int_equal(res->nhits, 10);
	assert_true(hit_value(res, "SUBJ_FREE") == 1);
	assert_true(hit_value(res, "SUBJ_RAW_QP") == 1);
	assert_true(hit_value(res, "HAS_XMAILER") == 1);
	assert_true(hit_value(res, "NO_DATE") == 1);
	assert_true(hit_value(res, "ALL_BULK") == 1);
	assert_true(hit_value(res, "TOCC_UNDISC") == 1);
	assert_true(hit_value(res, "BODY_CLICK") == 1); /* lines of a paragraph join */
	assert_true(hit_value(res, "RAW_FONT") == 1);
	assert_true(hit_value(res, "URI_IP") == 1);
	assert_true(hit_value(res, "FULL_BCC") == 1);
	assert_true(res->score == 2.5 + 9);

	res = scan_msg(s, &ham, 0);
	hit_list(res, list, sizeof(list));
	if (res->nhits != 0)
		fail_msg("ham hit: %s", list);
	assert_true(res->score == 0);

	/* A message without a Date header: !~ hits when the header is absent. */
	tmsg_t nodate = {.headers = {"Subject: hi"}};
	res = scan_msg(s, &nodate, 0);
	assert_true(hit_value(res, "NO_DATE") == 1);
	assert_int_equal(res->nhits, 1);

	{
		flt_ruleset_t *set = flt_rules_current(r);

		assert_int_equal(flt_ruleset_rule_info(set, "SUBJ_FREE", &info), 0);
		assert_string_equal(info.describe, "Subject says free");
		assert_true(info.score == 2.5);
		assert_int_equal(info.type, FLT_RULE_HEADER);
		assert_int_equal(info.line, 1);
		assert_string_equal(info.file, "t.cf");
		assert_int_equal(flt_ruleset_rule_info(set, "NOPE", &info), SL_ENOENT);
		flt_ruleset_unref(&set);
		assert_null(set);
	}
	flt_rscan_free(&s);
	assert_null(s);
	flt_rules_free(&r);
}

/* Score sets: `score NAME a b` is a without a Bayes opinion and b with
 * one, `score NAME a` both; the engine reports the hits' scores and the sums
 * of both sets, and a meta, a sub-rule and GTUBE follow the same rule. */
static void test_score_sets(void **state)
{
	flt_rules_t *r = load_rules("body TWO /free/\n"
				    "body ONE /money/\n"
				    "body __SUB /now/\n"
				    "meta M (TWO + __SUB) >= 2\n"
				    "score TWO 1 7\n"
				    "score ONE\t-0.5\n"
				    "score __SUB 0.25 -2\n"
				    "score M 3 0\n"
				    "score BAYES_95 0.5 4.5\n",
				    0);
	flt_rscan_t *s;
	const flt_rules_result_t *res;
	flt_rule_info_t info;
	flt_ruleset_t *set;
	tmsg_t m = {.body = "free money now\n"};
	tmsg_t gt = {.body = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X\n"};
	tmsg_t one = {.body = "free\n"};

	(void)state;
	set = flt_rules_current(r);
	assert_int_equal(flt_ruleset_rule_info(set, "TWO", &info), 0);
	assert_true(info.score == 1 && info.score_bayes == 7);
	assert_int_equal(flt_ruleset_rule_info(set, "ONE", &info), 0);
	assert_true(info.score == -0.5 && info.score_bayes == -0.5);
	assert_int_equal(flt_ruleset_rule_info(set, "BAYES_95", &info), 0);
	assert_true(info.score == 0.5 && info.score_bayes == 4.5);
	assert_int_equal(flt_ruleset_rule_info(set, "GTUBE", &info), 0);
	assert_true(info.score == 1000 && info.score_bayes == 1000);
	flt_ruleset_unref(&set);

	assert_int_equal(flt_rscan_new(r, NULL, &s), 0);
	res = scan_msg(s, &m, 0);
	assert_int_equal(res->nhits, 3); /* TWO, ONE, M; __SUB not listed */
	for (size_t i = 0; i < res->nhits; i++) {
		const flt_rule_hit_t *h = &res->hits[i];

		if (strcmp(h->name, "TWO") == 0)
			assert_true(h->score == 1 && h->score_bayes == 7);
		else if (strcmp(h->name, "ONE") == 0)
			assert_true(h->score == -0.5 && h->score_bayes == -0.5);
		else if (strcmp(h->name, "M") == 0)
			assert_true(h->score == 3 && h->score_bayes == 0);
		else
			fail_msg("unexpected hit %s", h->name);
	}
	assert_true(res->score == 1 - 0.5 + 0.25 + 3);
	assert_true(res->score_bayes == 7 - 0.5 - 2 + 0);

	res = scan_msg(s, &one, 0);
	assert_true(res->score == 1 && res->score_bayes == 7);

	res = scan_msg(s, &gt, 0);
	assert_true(res->score == 1000 && res->score_bayes == 1000);
	flt_rscan_free(&s);
	flt_rules_free(&r);
}

/* The Bayes bands are external rules: declared with their default points,
 * set by a `score` line (95_tuned.cf), never hit by the rule scan. */
static void test_bayes_bands_are_external_rules(void **state)
{
	flt_rules_t *r = load_rules("body A /free/\n"
				    "score BAYES_99 2.75\n"
				    "describe BAYES_99 sure it is spam\n",
				    0);
	flt_rscan_t *s;
	const flt_rules_result_t *res;
	flt_rule_info_t info;
	flt_ruleset_t *set;
	tmsg_t m = {.headers = {"Subject: BAYES_99 BAYES_00"},
		    .body = "free BAYES_99 BAYES_00 BAYES_999\n"};

	(void)state;
	set = flt_rules_current(r);
	assert_int_equal(flt_ruleset_rule_info(set, "BAYES_99", &info), 0);
	assert_int_equal(info.type, FLT_RULE_EXTERNAL);
	assert_true(info.score == 2.75);
	assert_string_equal(info.describe, "sure it is spam");
	for (unsigned i = 0; i < bayes_rules_n; i++) {
		assert_int_equal(flt_ruleset_rule_info(set, bayes_rules[i].name, &info), 0);
		assert_int_equal(info.type, FLT_RULE_EXTERNAL);
		if (strcmp(bayes_rules[i].name, "BAYES_99") != 0)
			assert_true(info.score == bayes_rules[i].score);
	}
	flt_ruleset_unref(&set);

	assert_int_equal(flt_rscan_new(r, NULL, &s), 0);
	res = scan_msg(s, &m, 0);
	assert_int_equal(res->nhits, 1);
	assert_true(hit_value(res, "A") == 1);
	assert_true(res->score == 1.0);
	assert_non_null(res->set);
	assert_int_equal(flt_ruleset_rule_info(res->set, "BAYES_99", &info), 0);
	assert_true(info.score == 2.75);
	flt_rscan_free(&s);
	flt_rules_free(&r);
}

static void test_events_need_an_open_message(void **state)
{
	flt_rules_t *r = load_rules("body A /x/\n", 0);
	flt_rscan_t *s;
	const flt_rules_result_t *res;

	(void)state;
	assert_int_equal(flt_rscan_new(r, NULL, &s), 0);
	assert_int_equal(flt_rscan_body(s, SL_SLICE_LIT("x")), SL_ESTATE);
	assert_int_equal(flt_rscan_header(s, SL_SLICE_LIT("A"), SL_SLICE_LIT("b"),
					  SL_SLICE_LIT("b")),
			 SL_ESTATE);
	assert_int_equal(flt_rscan_end(s, &res), SL_ESTATE);
	assert_int_equal(flt_rscan_begin(s), 0);
	assert_int_equal(flt_rscan_body(s, SL_SLICE_LIT("x")), 0);
	/* begin again drops the open message and its matches */
	assert_int_equal(flt_rscan_begin(s), 0);
	assert_int_equal(flt_rscan_end(s, &res), 0);
	assert_int_equal(res->nhits, 0);
	assert_int_equal(flt_rscan_end(s, &res), SL_ESTATE);
	flt_rscan_free(&s);
	flt_rules_free(&r);
}

/* ---- metas and flags ---------------------------------------------------- */

static void test_meta_boolean_and_arithmetic(void **state)
{
	flt_rules_t *r = load_rules(
		"body __A /alpha/\n"
		"body __B /beta/\n"
		"body __C /gamma/\n"
		"body D /delta/\n"
		"meta TWO_OF_THREE (__A + __B + __C) >= 2 && !D\n"
		"meta A_OR_D __A || D\n"
		"meta NOT_A !__A\n"
		"meta WEIGHTED __A * 2 + __B * 3 - 1 > 3\n"
		"meta NESTED TWO_OF_THREE && A_OR_D\n"
		"meta DIV __A / 2 == 0.5\n"
		"meta NE_ONE __C != 1\n"
		"score TWO_OF_THREE 3\n"
		"score NOT_A 0.5\n",
		0);
	flt_rscan_t *s;
	const flt_rules_result_t *res;
	tmsg_t ab = {.body = "alpha beta"}, abd = {.body = "alpha beta delta"},
	       c = {.body = "gamma"};

	(void)state;
	assert_int_equal(flt_rscan_new(r, NULL, &s), 0);
	res = scan_msg(s, &ab, 0);
	assert_true(hit_value(res, "TWO_OF_THREE") == 1);
	assert_true(hit_value(res, "A_OR_D") == 1);
	assert_true(hit_value(res, "NOT_A") == 0);
	assert_true(hit_value(res, "WEIGHTED") == 1); /* 2 + 3 - 1 = 4 > 3 */
	assert_true(hit_value(res, "NESTED") == 1);
	assert_true(hit_value(res, "DIV") == 1);
	assert_true(hit_value(res, "NE_ONE") == 1);
	assert_null(strstr(res->hits[0].name, "__")); /* sub-rules are not listed */
	/* 3 + 1 (A_OR_D) + 1 (WEIGHTED) + 1 (NESTED) + 1 (DIV) + 1 (NE_ONE) */
	assert_true(res->score == 8);

	res = scan_msg(s, &abd, 0);
	assert_true(hit_value(res, "TWO_OF_THREE") == 0);
	assert_true(hit_value(res, "NESTED") == 0);
	assert_true(hit_value(res, "D") == 1);

	res = scan_msg(s, &c, 0);
	assert_true(hit_value(res, "NOT_A") == 1);
	assert_true(hit_value(res, "A_OR_D") == 0);
	assert_true(hit_value(res, "WEIGHTED") == 0);
	assert_true(hit_value(res, "NE_ONE") == 0);
	assert_true(res->score == 0.5);
	flt_rscan_free(&s);
	flt_rules_free(&r);
}

static void test_multiple_nocase_maxhits(void **state)
{
	flt_rules_t *r = load_rules("body PILL /pill/\n"
				    "tflags PILL multiple nocase\n"
				    "body PILL_CAP /pill/i\n"
				    "tflags PILL_CAP maxhits=2\n"
				    "body PILL_ONCE /pill/\n"
				    "header SUBJ_X Subject =~ /x/\n"
				    "tflags SUBJ_X multiple\n"
				    "meta MANY_PILLS PILL > 2\n",
				    0);
	flt_rscan_t *s;
	const flt_rules_result_t *res;
	tmsg_t m = {.headers = {"Subject: x x", "Subject: x"},
		    .body = "PILL pill Pill pillpill"};

	(void)state;
	assert_int_equal(flt_rscan_new(r, NULL, &s), 0);
	for (size_t chunk = 0; chunk <= 3; chunk++) {
		res = scan_msg(s, &m, chunk);
		assert_true(hit_value(res, "PILL") == 5);
		assert_true(hit_value(res, "PILL_CAP") == 2);
		assert_true(hit_value(res, "PILL_ONCE") == 1);
		assert_true(hit_value(res, "MANY_PILLS") == 1);
		assert_true(hit_value(res, "SUBJ_X") == 3); /* across two headers */
	}
	flt_rscan_free(&s);
	flt_rules_free(&r);
}

/* ---- streaming ---------------------------------------------------------- */

static void test_stream_match_across_chunks(void **state)
{
	flt_rules_t *r = load_rules("body   B_PHRASE /limited time offer/i\n"
				    "rawbody R_TAG /<script[^>]*>/i\n"
				    "full   F_HDR /^X-Spam-Bait: yes$/m\n"
				    "body   B_END /offer$/\n",
				    0);
	flt_rscan_t *s;
	const flt_rules_result_t *res;
	tmsg_t m = {.body = "This is a limited\r\ntime OFFER",
		    .rawbody = "<p>hi</p><SCRIPT type=x>",
		    .full = "Subject: a\nX-Spam-Bait: yes\nTo: b\n"};

	(void)state;
	assert_int_equal(flt_rscan_new(r, NULL, &s), 0);
	for (size_t chunk = 1; chunk <= 7; chunk++) {
		res = scan_msg(s, &m, chunk);
		assert_true(hit_value(res, "B_PHRASE") == 1);
		assert_true(hit_value(res, "R_TAG") == 1);
		assert_true(hit_value(res, "F_HDR") == 1);
		assert_true(hit_value(res, "B_END") == 0); /* OFFER is upper case */
	}
	/* A match ending exactly at the end of the stream is reported at end. */
	tmsg_t end = {.body = "special offer"};
	res = scan_msg(s, &end, 5);
	assert_true(hit_value(res, "B_END") == 1);
	/* Paragraph mode: a blank line separates, so no match. */
	tmsg_t para = {.body = "limited time\n\n\noffer"};
	res = scan_msg(s, &para, 1);
	assert_true(hit_value(res, "B_PHRASE") == 0);
	flt_rscan_free(&s);
	flt_rules_free(&r);
}

/* Streams longer than the scanner's gather buffer (16 KiB), fed in pieces
 * of every size from one byte to more than the buffer: the same matches and
 * counts, matches straddling the points where gathered data is scanned, an
 * end-anchored match, and nothing carried over from a message that was
 * begun again without being ended. */
static void test_stream_gather_any_chunking(void **state)
{
	flt_rules_t *r = load_rules("full F_WORD /needle/\n"
				    "tflags F_WORD multiple maxhits=1000\n"
				    "full F_TAIL /the end$/\n"
				    "rawbody R_WORD /needle/\n"
				    "tflags R_WORD multiple maxhits=1000\n",
				    0);
	static const size_t chunks[] = {1, 3, 7, 100, 4096, 8191, 8193, 16383, 16384, 16385, 40000, 0};
	const size_t len = 100000;
	char *big = malloc(len + 1);
	flt_rscan_t *s;
	const flt_rules_result_t *res;
	size_t want = 0;

	(void)state;
	assert_non_null(big);
	memset(big, 'x', len);
	/* a needle every 997 bytes: many straddle 16 KiB boundaries */
	for (size_t off = 5; off + 6 < len - 8; off += 997, want++)
		memcpy(big + off, "needle", 6);
	memcpy(big + len - 7, "the end", 7);
	big[len] = '\0';
	tmsg_t m = {.rawbody = big, .full = big};

	assert_int_equal(flt_rscan_new(r, NULL, &s), 0);
	for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		/* an abandoned message first: its gathered bytes must not count */
		assert_int_equal(flt_rscan_begin(s), 0);
		assert_int_equal(flt_rscan_full(s, sl_slice_make("needle the end", 14)), 0);
		res = scan_msg(s, &m, chunks[i]);
		if (hit_value(res, "F_WORD") != (double)want || hit_value(res, "R_WORD") != (double)want ||
		    hit_value(res, "F_TAIL") != 1)
			fail_msg("chunk %zu: F_WORD %g R_WORD %g F_TAIL %g, want %zu %zu 1", chunks[i],
				 hit_value(res, "F_WORD"), hit_value(res, "R_WORD"),
				 hit_value(res, "F_TAIL"), want, want);
	}
	flt_rscan_free(&s);
	flt_rules_free(&r);
	free(big);
}

/* ---- prefilter + PCRE2 ------------------------------------------------ */

static void test_prefilter_confirmed_by_pcre2(void **state)
{
	flt_rules_t *r = load_rules("body   B_REPEAT /\\b(\\w{3,})\\s+\\1\\b/\n"
				    "header H_LOOK Subject =~ /^(?=.*\\bcash\\b)(?!.*\\bno\\b).*win/i\n"
				    "rawbody R_BACK /<(b|i)>[^<]*<\\/\\1>/\n"
				    "body   B_MULTI /(a)\\1/\n"
				    "tflags B_MULTI multiple\n"
				    "body   B_PLAIN /plain/\n",
				    0);
	flt_ruleset_t *set = flt_rules_current(r);
	flt_ruleset_stats_t st;
	flt_rule_info_t info;
	flt_rscan_t *s;
	const flt_rules_result_t *res;

	(void)state;
	flt_ruleset_stats(set, &st);
	assert_int_equal(st.prefilter, 4);
	assert_int_equal(flt_ruleset_rule_info(set, "B_REPEAT", &info), 0);
	assert_true(info.prefilter);
	assert_int_equal(flt_ruleset_rule_info(set, "B_PLAIN", &info), 0);
	assert_false(info.prefilter);
	flt_ruleset_unref(&set);

	assert_int_equal(flt_rscan_new(r, NULL, &s), 0);
	tmsg_t yes = {.headers = {"Subject: Win CASH today"},
		      .body = "you have have won: aaaaa plain",
		      .rawbody = "<b>bold</b>"};
	tmsg_t no = {.headers = {"Subject: no cash to win"},
		     .body = "you have hav won: a-a pla in",
		     .rawbody = "<b>bold</i>"};
	for (size_t chunk = 0; chunk <= 4; chunk += 2) {
		res = scan_msg(s, &yes, chunk);
		assert_true(hit_value(res, "B_REPEAT") == 1);
		assert_true(hit_value(res, "H_LOOK") == 1);
		assert_true(hit_value(res, "R_BACK") == 1);
		assert_true(hit_value(res, "B_MULTI") == 2); /* aa, aa in aaaaa */
		assert_true(hit_value(res, "B_PLAIN") == 1);
		res = scan_msg(s, &no, chunk);
		assert_int_equal(res->nhits, 0);
	}
	flt_rscan_free(&s);
	flt_rules_free(&r);
}

/* ---- database cache ----------------------------------------------------- */

static const char *cache_rules =
	"body   C_REPEAT /\\b(\\w{3,})\\s+\\1\\b/\n"
	"body   C_PLAIN /plain/\n"
	"header C_SUBJ Subject =~ /cash/i\n"
	"uri    C_URI /^https?:\\/\\/\\d+\\./\n"
	"full   C_FULL /^X-Bait: yes$/m\n";

/* Load TEXT into a holder caching in DIR; the live set's stats. */
static flt_rules_t *cache_load(const char *dir, const char *text, flt_ruleset_stats_t *st)
{
	flt_rules_t *r;
	flt_ruleset_t *set;
	const char *err = NULL;
	flt_rules_src_t src = {"c.cf", text, strlen(text)};

	assert_int_equal(flt_rules_new(&r), 0);
	assert_int_equal(flt_rules_set_cache(r, dir), 0);
	if (flt_rules_load_sources(r, &src, 1, 0, &err) != 0)
		fail_msg("load failed: %s", err);
	set = flt_rules_current(r);
	flt_ruleset_stats(set, st);
	flt_ruleset_unref(&set);
	return r;
}

/* The cached set must match exactly as the compiled one. */
static void cache_check_scan(flt_rules_t *r)
{
	flt_rscan_t *s;
	const flt_rules_result_t *res;
	tmsg_t yes = {.headers = {"Subject: CASH"}, .body = "you have have won, plain",
		      .uris = {"http://10.1.2.3/x"}, .full = "Subject: CASH\nX-Bait: yes\n"};
	tmsg_t no = {.headers = {"Subject: none"}, .body = "you have hav won, pla in",
		     .uris = {"http://example.test/"}, .full = "X-Bait: no\n"};

	assert_int_equal(flt_rscan_new(r, NULL, &s), 0);
	res = scan_msg(s, &yes, 3);
	assert_true(hit_value(res, "C_REPEAT") == 1);
	assert_true(hit_value(res, "C_PLAIN") == 1);
	assert_true(hit_value(res, "C_SUBJ") == 1);
	assert_true(hit_value(res, "C_URI") == 1);
	assert_true(hit_value(res, "C_FULL") == 1);
	res = scan_msg(s, &no, 3);
	assert_int_equal(res->nhits, 0);
	flt_rscan_free(&s);
}

/* Every *.hsdb file of DIR: damage (1) or remove (2) them; count them. */
static size_t cache_files(const char *dir, int what)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		char p[600];
		size_t l = strlen(e->d_name);
		FILE *f;

		if (l < 6 || strcmp(e->d_name + l - 5, ".hsdb") != 0)
			continue;
		n++;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		if (what == 1) {
			/* flip a byte well inside the serialized database */
			f = fopen(p, "r+b");
			assert_non_null(f);
			assert_int_equal(fseek(f, -40, SEEK_END), 0);
			int c = fgetc(f);
			assert_int_equal(fseek(f, -40, SEEK_END), 0);
			fputc(c ^ 0x5a, f);
			fclose(f);
		} else if (what == 2) {
			unlink(p);
		}
	}
	closedir(d);
	return n;
}

static void test_db_cache_hit_miss_damage(void **state)
{
	char dir[] = "/tmp/test_rules_cache.XXXXXX";
	flt_ruleset_stats_t st, st2;
	flt_rules_t *r;
	size_t ndbs;

	(void)state;
	assert_non_null(mkdtemp(dir));
	/* argument checks */
	assert_int_equal(flt_rules_new(&r), 0);
	assert_int_equal(flt_rules_set_cache(r, ""), SL_EINVAL);
	assert_int_equal(flt_rules_set_cache(r, "/nonexistent/sluice-cache"), SL_ENOENT);
	assert_int_equal(flt_rules_set_cache(r, NULL), 0);
	flt_rules_free(&r);

	/* cold: everything compiled and written */
	r = cache_load(dir, cache_rules, &st);
	ndbs = st.block_dbs + st.stream_dbs;
	assert_true(ndbs >= 4);
	assert_int_equal(st.dbs_cached, 0);
	assert_int_equal(st.prefilter, 1);
	assert_int_equal(cache_files(dir, 0), ndbs);
	cache_check_scan(r);
	flt_rules_free(&r);

	/* warm: everything read back, the prefilter still confirmed by PCRE2 */
	r = cache_load(dir, cache_rules, &st2);
	assert_int_equal(st2.dbs_cached, ndbs);
	assert_int_equal(st2.prefilter, 1);
	assert_int_equal(st2.db_bytes, st.db_bytes);
	assert_int_equal(st2.stream_bytes, st.stream_bytes);
	cache_check_scan(r);
	flt_rules_free(&r);

	/* a score is not part of any database; a changed body pattern is */
	{
		char text[1024];

		snprintf(text, sizeof(text), "%sscore C_PLAIN 3\n", cache_rules);
		r = cache_load(dir, text, &st2);
		assert_int_equal(st2.dbs_cached, ndbs);
		flt_rules_free(&r);
		snprintf(text, sizeof(text), "%sbody C_MORE /more/\n", cache_rules);
		r = cache_load(dir, text, &st2);
		assert_int_equal(st2.dbs_cached, ndbs - 1);
		flt_rules_free(&r);
	}

	/* damaged files are compiled again (and rewritten) */
	cache_files(dir, 1);
	r = cache_load(dir, cache_rules, &st2);
	assert_int_equal(st2.dbs_cached, 0);
	cache_check_scan(r);
	flt_rules_free(&r);
	r = cache_load(dir, cache_rules, &st2);
	assert_int_equal(st2.dbs_cached, ndbs);
	cache_check_scan(r);
	flt_rules_free(&r);

	/* the public one-shot compile never uses a cache */
	{
		flt_ruleset_t *set;
		const char *err;
		flt_rules_src_t src = {"c.cf", cache_rules, strlen(cache_rules)};

		assert_int_equal(flt_ruleset_compile(&src, 1, 0, &set, &err), 0);
		flt_ruleset_stats(set, &st2);
		assert_int_equal(st2.dbs_cached, 0);
		flt_ruleset_unref(&set);
	}
	cache_files(dir, 2);
	assert_int_equal(rmdir(dir), 0);
}

/* ---- equivalence -------------------------------------------------------- */

static const char *equiv_rules =
	"header E_SUBJ_MONEY Subject =~ /\\$\\d+(,\\d{3})*/\n"
	"header E_SUBJ_CAPS  Subject =~ /^[A-Z !]{10,}$/\n"
	"header E_FROM_NUM   From =~ /\\d{5,}@/\n"
	"header E_FROM_RAW   From:raw =~ /^\"[^\"]*\" </\n"
	"header E_TOCC       ToCc =~ /,.*,.*,/\n"
	"header E_ALL_XPRI   ALL =~ /^X-Priority: 1/m\n"
	"header E_NOT_MSGID  Message-Id !~ /@/\n"
	"header E_SUBJ_REP   Subject =~ /(\\w)\\1\\1/\n"
	"body   E_VIAGRA     /v[i1!]agr[a@]/i\n"
	"body   E_MONEY      /\\$\\s?\\d{1,3}(,\\d{3})+/\n"
	"body   E_CLICK      /\\bclick (here|below)\\b/i\n"
	"body   E_UNSUB      /unsubscribe/i\n"
	"tflags E_UNSUB multiple\n"
	"body   E_SPACED     /\\bf\\s+r\\s+e\\s+e\\b/i\n"
	"body   E_DOTS       /\\w\\.\\w\\.\\w\\.\\w/\n"
	"body   E_NO_LOOK    /guarantee(?!d)/i\n"
	"body   E_WORDREP    /\\b(\\w+) \\1\\b/i\n"
	"body   E_ANCH       /^dear friend/im\n"
	"body   E_DOTALL     /start.*finish/s\n"
	"rawbody E_HIDDEN    /display:\\s*none/i\n"
	"rawbody E_B64LONG   /[A-Za-z0-9+\\/]{76}/\n"
	"rawbody E_TAGREP    /<(\\w+)><\\/\\1>/\n"
	"uri    E_URI_IP     /^\\w+:\\/\\/\\d+\\.\\d+\\.\\d+\\.\\d+/\n"
	"uri    E_URI_AT     /^\\w+:\\/\\/[^\\/]*@/\n"
	"uri    E_URI_PORT   /:\\d{2,5}\\//\n"
	"uri    E_URI_LOOK   /^https?:\\/\\/(?!www\\.)[^\\/]+\\.ru\\b/\n"
	"full   E_FULL_HTML  /^Content-Type: text\\/html/mi\n"
	"full   E_FULL_MULTI /boundary=/i\n"
	"tflags E_FULL_MULTI multiple\n"
	"meta   E_META       (E_VIAGRA + E_MONEY + E_CLICK) >= 2\n";

static const tmsg_t equiv_msgs[] = {
	{.headers = {"Subject: WIN $1,000,000 NOW!", "From: user12345@x.test",
		     "To: a@x, b@x, c@x, d@x", "X-Priority: 1 (Highest)", "Message-Id: nothing"},
	 .body = "Dear friend\nclick here for V1AGRA at $ 1,000 or $99,999 unsubscribe\n\n"
		 "unsubscribe UNSUBSCRIBE f r e e guarantee start and finish",
	 .rawbody = "<div style=\"display: none\"><b></b>",
	 .uris = {"http://192.168.1.1:8080/x", "http://user@evil.test/", "http://bad.ru/"},
	 .full = "Content-Type: text/html\nContent-Type: multipart/mixed; boundary=x; BOUNDARY=y\n"},
	{.headers = {"Subject: Meeting notes", "From: \"Alice\" <alice@example.org>",
		     "To: bob@example.org", "Message-Id: <1@example.org>"},
	 .body = "Hi Bob,\nthe the notes are attached. We guaranteed delivery.\nBye",
	 .rawbody = "plain text only",
	 .uris = {"https://www.example.ru/", "https://example.org/"},
	 .full = "Content-Type: text/plain\n\nHi"},
	{.headers = {"Subject: aaa bbb", "From: x@y"},
	 .body = "start\nline\nfinish e.g.a.b.c",
	 .rawbody = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0NTY3"
		    "ODkr<i></i>",
	 .uris = {"ftp://10.0.0.1/"},
	 .full = ""},
	{.headers = {"Subject: THIS IS ALL CAPS", "From: \"Shop\" <12345678@shop.test>"},
	 .body = "viagra viagra click below",
	 .full = "content-type: TEXT/HTML\n"},
	{.body = ""},
};

static void compare_modes(const tmsg_t *msgs, size_t n, const char *rules)
{
	flt_rules_t *hs = load_rules(rules, 0), *pc = load_rules(rules, FLT_RULES_F_PCRE_ONLY);
	flt_rscan_t *shs, *spc;
	char a[2048], b[2048];
	size_t total = 0;

	assert_int_equal(flt_rscan_new(hs, NULL, &shs), 0);
	assert_int_equal(flt_rscan_new(pc, NULL, &spc), 0);
	for (size_t i = 0; i < n; i++) {
		for (size_t chunk = 0; chunk <= 3; chunk += 3) {
			hit_list(scan_msg(shs, &msgs[i], chunk), a, sizeof(a));
			hit_list(scan_msg(spc, &msgs[i], 0), b, sizeof(b));
			if (strcmp(a, b) != 0)
				fail_msg("message %zu chunk %zu:\n hyperscan: %s\n pcre2:     %s", i,
					 chunk, a, b);
		}
		total += scan_msg(spc, &msgs[i], 0)->nhits;
	}
	assert_true(total >= 20); /* the set exercises most rules */
	flt_rscan_free(&shs);
	flt_rscan_free(&spc);
	flt_rules_free(&hs);
	flt_rules_free(&pc);
}

static void test_hyperscan_pcre2_equivalence(void **state)
{
	(void)state;
	compare_modes(equiv_msgs, sizeof(equiv_msgs) / sizeof(equiv_msgs[0]), equiv_rules);
}

/* ---- reload ----------------------------------------------------------- */

static void test_failed_reload_keeps_old_set(void **state)
{
	flt_rules_t *r = load_rules("body OLD /needle/\nscore OLD 4\n", 0);
	const char *bad = "body NEW /needle/\nbody BROKEN /(/\n", *good = "body NEW /needle/\n";
	flt_rules_src_t src = {"bad.cf", bad, strlen(bad)};
	flt_rscan_t *s;
	const flt_rules_result_t *res;
	const char *err;
	unsigned gen;
	tmsg_t m = {.body = "a needle here"};

	(void)state;
	assert_int_equal(flt_rscan_new(r, NULL, &s), 0);
	gen = flt_rules_generation(r);
	assert_int_equal(flt_rules_load_sources(r, &src, 1, 0, &err), SL_ECONFIG);
	assert_non_null(strstr(err, "bad.cf:2: rule BROKEN: bad pattern"));
	assert_int_equal(flt_rules_generation(r), gen);
	res = scan_msg(s, &m, 0);
	assert_true(hit_value(res, "OLD") == 1);
	assert_true(res->score == 4);
	assert_int_equal(res->generation, gen);

	/* A good reload is picked up at the next begin. */
	src = (flt_rules_src_t){"good.cf", good, strlen(good)};
	assert_int_equal(flt_rules_load_sources(r, &src, 1, 0, &err), 0);
	assert_int_equal(flt_rules_generation(r), gen + 1);
	res = scan_msg(s, &m, 0);
	assert_true(hit_value(res, "OLD") == 0);
	assert_true(hit_value(res, "NEW") == 1);
	assert_int_equal(res->generation, gen + 1);
	flt_rscan_free(&s);
	flt_rules_free(&r);
	assert_null(r);
}

/* ---- GTUBE ---------------------------------------------------------- */

static void test_gtube_always_spam(void **state)
{
	flt_rules_t *empty, *r = load_rules("body A /x/\nscore A -50\n", 0);
	flt_rscan_t *s, *se;
	const flt_rules_result_t *res;
	tmsg_t body = {.body = "hello\n" GTUBE "\nbye"};
	tmsg_t full = {.full = "Subject: t\n\n" GTUBE "\n"};
	tmsg_t raw = {.rawbody = "<p>" GTUBE "</p>"};
	tmsg_t broken = {.body = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL"};

	(void)state;
	assert_int_equal(flt_rules_new(&empty), 0);
	assert_int_equal(flt_rscan_new(empty, NULL, &se), 0);
	assert_int_equal(flt_rscan_new(r, NULL, &s), 0);
	for (size_t chunk = 0; chunk <= 9; chunk += 9) {
		res = scan_msg(se, &body, chunk);
		assert_true(hit_value(res, "GTUBE") == 1);
		assert_true(res->score >= FLT_RULES_GTUBE_SCORE);
		res = scan_msg(se, &full, chunk);
		assert_true(hit_value(res, "GTUBE") == 1);
		res = scan_msg(se, &raw, chunk);
		assert_true(hit_value(res, "GTUBE") == 1);
		res = scan_msg(s, &body, chunk);
		assert_true(hit_value(res, "GTUBE") == 1);
		assert_true(res->score >= FLT_RULES_GTUBE_SCORE - 50);
		res = scan_msg(se, &broken, chunk);
		assert_int_equal(res->nhits, 0);
	}
	flt_rscan_free(&s);
	flt_rscan_free(&se);
	flt_rules_free(&r);
	flt_rules_free(&empty);
}

/* ---- limits ------------------------------------------------------------ */

static void test_limits_truncate_not_fail(void **state)
{
	flt_rules_t *r = load_rules("body B_BACK /(zz)\\1/\n"
				    "header H_LONG Subject =~ /tail/\n"
				    "uri U_LONG /tail/\n",
				    0);
	flt_rscan_limits_t lim = {.retain_max = 64, .header_max = 32, .uri_max = 32};
	flt_rscan_t *s;
	const flt_rules_result_t *res;
	char body[256], subj[128], uri[128];

	(void)state;
	memset(body, 'a', sizeof(body));
	memcpy(body + 10, "zzzz", 4);
	body[sizeof(body) - 1] = '\0';
	snprintf(subj, sizeof(subj), "Subject: %060d tail", 0);
	snprintf(uri, sizeof(uri), "http://x/%060d/tail", 0);
	assert_int_equal(flt_rscan_new(r, &lim, &s), 0);
	tmsg_t m = {.headers = {subj}, .body = body, .uris = {uri}};
	res = scan_msg(s, &m, 16);
	assert_true(res->truncated);
	assert_true(hit_value(res, "B_BACK") == 1); /* inside the retained prefix */
	assert_true(hit_value(res, "H_LONG") == 0); /* past header_max */
	assert_true(hit_value(res, "U_LONG") == 0);
	/* the same pattern past retain_max is not confirmed */
	memset(body, 'a', sizeof(body));
	memcpy(body + 200, "zzzz", 4);
	body[sizeof(body) - 1] = '\0';
	tmsg_t late = {.body = body};
	res = scan_msg(s, &late, 16);
	assert_true(res->truncated);
	assert_true(hit_value(res, "B_BACK") == 0);
	flt_rscan_free(&s);
	flt_rules_free(&r);
}

static void test_pcre_match_limit_counts_error(void **state)
{
	/* Catastrophic backtracking is cut off by the match limit. */
	flt_rules_t *r = load_rules("body B_EXP /^(a+)+\\1b/\n", 0);
	flt_rscan_limits_t lim = {.pcre_match_limit = 1000};
	flt_rscan_t *s;
	const flt_rules_result_t *res;
	char body[64];

	(void)state;
	memset(body, 'a', sizeof(body));
	body[sizeof(body) - 1] = '\0';
	assert_int_equal(flt_rscan_new(r, &lim, &s), 0);
	tmsg_t m = {.body = body};
	res = scan_msg(s, &m, 0);
	assert_int_equal(res->nhits, 0);
	/* Hyperscan may or may not give a candidate; when it does, PCRE2 stops. */
	assert_true(res->pcre_errors <= 1);
	flt_rscan_free(&s);
	flt_rules_free(&r);
}

/* ---- threads ------------------------------------------------------------ */

struct thr {
	flt_rules_t *r;
	int ok;
};

static void *thr_scan(void *arg)
{
	struct thr *t = arg;
	flt_rscan_t *s;
	const flt_rules_result_t *res;

	if (flt_rscan_new(t->r, NULL, &s) != 0)
		return NULL;
	for (int i = 0; i < 200; i++) {
		char body[64];
		int n = snprintf(body, sizeof(body), "message %d limited time offer %s", i,
				 i % 2 ? "yes" : "no");

		if (flt_rscan_begin(s) != 0 || flt_rscan_body(s, sl_slice_make(body, (size_t)n)) ||
		    flt_rscan_end(s, &res) != 0)
			break;
		if (hit_value(res, "OFFER") != 1 || hit_value(res, "YES") != (i % 2))
			break;
		t->ok++;
	}
	flt_rscan_free(&s);
	return NULL;
}

static void test_scanners_on_threads(void **state)
{
	flt_rules_t *r = load_rules("body OFFER /limited time offer/\nbody YES /\\byes$/\n", 0);
	struct thr t[4] = {{r, 0}, {r, 0}, {r, 0}, {r, 0}};
	pthread_t th[4];

	(void)state;
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, thr_scan, &t[i]), 0);
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(t[i].ok, 200);
	}
	flt_rules_free(&r);
}

/* ---- the default rule set (conf/rules) -------------------------------- */

static void test_default_rule_set(void **state)
{
	const char *paths[] = {"conf/rules"};
	flt_rules_t *r;
	flt_ruleset_t *set;
	flt_ruleset_stats_t st;
	flt_rscan_t *s;
	const flt_rules_result_t *res;
	const char *err;
	size_t scored = 0;
	int rc;

	(void)state;
	assert_int_equal(flt_rules_new(&r), 0);
	rc = flt_rules_load(r, paths, 1, 0, &err);
	if (rc != 0)
		fail_msg("conf/rules: %s", err);
	set = flt_rules_current(r);
	flt_ruleset_stats(set, &st);
	for (size_t i = 0; i < st.rules; i++) {
		flt_rule_info_t info;

		assert_int_equal(flt_ruleset_rule_at(set, i, &info), 0);
		if (strncmp(info.name, "__", 2) == 0)
			continue;
		scored++;
		if (info.describe[0] == '\0')
			fail_msg("%s:%u: rule %s has no describe", info.file, info.line, info.name);
	}
	assert_true(scored >= 150);
	assert_true(st.stream_dbs == 3 && st.block_dbs >= 10);
	flt_ruleset_unref(&set);

	assert_int_equal(flt_rscan_new(r, NULL, &s), 0);
	tmsg_t spam = {
		.headers = {"Subject: FREE Viagra!!!                     kxq93",
			    "From: deals4u12345@hotmail.com", "X-Mailer: Group Mail 2.0",
			    "Content-Type: text/html"},
		.body = "Dear Friend,\nclick here to order now! 100% satisfaction guaranteed, risk free. "
			"To be removed from our list reply with remove in the subject.",
		.rawbody = "<html><body><font size=1 color=#ffffff>hash</font>v<!-- x -->iagra</body>",
		.uris = {"http://192.168.0.1/remove.html"},
	};
	tmsg_t ham = {
		.headers = {"Subject: Re: [dev] patch for the parser",
			    "From: Alice Example <alice@example.org>", "In-Reply-To: <1@example.org>",
			    "Message-Id: <2@example.org>", "Date: Mon, 2 Sep 2002 10:00:00 +0100",
			    "To: dev@lists.example.org", "User-Agent: Mutt/1.4i"},
		.body = "Bob wrote:\n> the parser breaks\n\nThe patch below fixes the bug in the "
			"makefile.\n\n-- \nAlice",
	};
	res = scan_msg(s, &spam, 0);
	assert_true(res->score >= 10);
	res = scan_msg(s, &ham, 0);
	assert_true(res->score < 0);
	flt_rscan_free(&s);
	flt_rules_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_errors_name_file_line_reason),
		cmocka_unit_test(test_parse_error_names_second_file),
		cmocka_unit_test(test_parse_limits),
		cmocka_unit_test(test_load_paths_errors),
		cmocka_unit_test(test_every_rule_type),
		cmocka_unit_test(test_score_sets),
		cmocka_unit_test(test_bayes_bands_are_external_rules),
		cmocka_unit_test(test_events_need_an_open_message),
		cmocka_unit_test(test_meta_boolean_and_arithmetic),
		cmocka_unit_test(test_multiple_nocase_maxhits),
		cmocka_unit_test(test_stream_match_across_chunks),
		cmocka_unit_test(test_stream_gather_any_chunking),
		cmocka_unit_test(test_db_cache_hit_miss_damage),
		cmocka_unit_test(test_prefilter_confirmed_by_pcre2),
		cmocka_unit_test(test_hyperscan_pcre2_equivalence),
		cmocka_unit_test(test_failed_reload_keeps_old_set),
		cmocka_unit_test(test_gtube_always_spam),
		cmocka_unit_test(test_limits_truncate_not_fail),
		cmocka_unit_test(test_pcre_match_limit_counts_error),
		cmocka_unit_test(test_scanners_on_threads),
		cmocka_unit_test(test_default_rule_set),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
