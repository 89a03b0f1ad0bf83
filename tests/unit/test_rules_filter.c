/* test_rules_filter - the scan pipeline (filter/filter.h): MIME events
 * into the rules and Bayes, verdicts and thresholds, GTUBE through every
 * encoding, chunking, MIME bombs, tagging headers. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "filter.h"
#include "sl_err.h"

#define GTUBE "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"

static const char *test_rules =
	"header T_SUBJ_WIN Subject =~ /\\bwinner\\b/i\n"
	"header T_SUBJ_RAW Subject:raw =~ /=\\?utf-8\\?b\\?/i\n"
	"body   T_BODY_CLICK /click here now/i\n"
	"rawbody T_RAW_FONT /<font[^>]+size=1/i\n"
	"uri    T_URI_IP /^http:\\/\\/\\d+\\.\\d+\\.\\d+\\.\\d+/\n"
	"full   T_FULL_XM /^X-Mailer: spamware/m\n"
	"body   T_BODY_PART2 /second part text/\n"
	"score  T_SUBJ_WIN 2\nscore T_SUBJ_RAW 0.5\nscore T_BODY_CLICK 3\nscore T_RAW_FONT 1\n"
	"score  T_URI_IP 4\nscore T_FULL_XM 6\nscore T_BODY_PART2 0.25\n";

typedef struct fx {
	flt_rules_t *rules;
	flt_filter_t *f;
	flt_scan_t *s;
} fx_t;

static void fx_open(fx_t *x, const flt_config_t *cfg, const bayes_store_t *store)
{
	flt_rules_src_t src = {"t.cf", test_rules, strlen(test_rules)};
	const char *err;

	assert_int_equal(flt_rules_new(&x->rules), 0);
	if (flt_rules_load_sources(x->rules, &src, 1, 0, &err) != 0)
		fail_msg("%s", err);
	assert_int_equal(flt_filter_new(cfg, x->rules, NULL, &x->f), 0);
	assert_int_equal(flt_scan_new(x->f, store, &x->s), 0);
}

static void fx_close(fx_t *x)
{
	flt_scan_free(&x->s);
	flt_filter_free(&x->f);
	flt_rules_free(&x->rules);
	assert_null(x->s);
	assert_null(x->f);
}

/* Scan MSG fed in CHUNK-byte pieces (0: whole). */
static const flt_verdict_t *scan(fx_t *x, const char *msg, size_t chunk)
{
	const flt_verdict_t *v = NULL;
	size_t len = strlen(msg);

	assert_int_equal(flt_scan_begin(x->s), 0);
	if (chunk == 0)
		chunk = len ? len : 1;
	for (size_t off = 0; off < len; off += chunk)
		assert_int_equal(flt_scan_feed(x->s, msg + off, len - off < chunk ? len - off : chunk),
				 0);
	assert_int_equal(flt_scan_end(x->s, &v), 0);
	return v;
}

static bool has_rule(const flt_verdict_t *v, const char *name)
{
	for (size_t i = 0; i < v->nhits; i++)
		if (strcmp(v->hits[i].name, name) == 0)
			return true;
	return false;
}

static const char *html_spam =
	"From: a@example.test\r\n"
	"To: b@example.test\r\n"
	"Subject: =?utf-8?b?V2lubmVyIQ==?=\r\n"
	"X-Mailer: spamware 1.0\r\n"
	"MIME-Version: 1.0\r\n"
	"Content-Type: multipart/alternative; boundary=\"BB\"\r\n"
	"\r\n"
	"--BB\r\n"
	"Content-Type: text/html; charset=utf-8\r\n"
	"Content-Transfer-Encoding: quoted-printable\r\n"
	"\r\n"
	"<html><body><font size=3D1>x</font><p>Click <b>here</b>\r\n"
	"now: <a href=3D\"http://10.0.0.1/buy\">shop</a></p></body></html>\r\n"
	"--BB\r\n"
	"Content-Type: text/plain\r\n"
	"\r\n"
	"second part text\r\n"
	"--BB--\r\n";

static void test_every_event_reaches_the_rules(void **state)
{
	fx_t x;
	const flt_verdict_t *v;

	(void)state;
	fx_open(&x, NULL, NULL);
	for (size_t chunk = 0; chunk <= 13; chunk += 13) {
		v = scan(&x, html_spam, chunk);
		assert_true(has_rule(v, "T_SUBJ_WIN"));   /* decoded RFC 2047 */
		assert_true(has_rule(v, "T_SUBJ_RAW"));   /* raw value */
		assert_true(has_rule(v, "T_BODY_CLICK")); /* HTML rendered, QP decoded */
		assert_true(has_rule(v, "T_RAW_FONT"));   /* HTML source, QP decoded */
		assert_true(has_rule(v, "T_URI_IP"));     /* href */
		assert_true(has_rule(v, "T_FULL_XM"));    /* raw message */
		assert_true(has_rule(v, "T_BODY_PART2")); /* second text part */
		assert_true(v->score == 2 + 0.5 + 3 + 1 + 4 + 6 + 0.25);
		assert_int_equal(v->cls, FLT_SPAM);
		assert_int_equal(v->action, FLT_REJECT); /* 16.75 >= 15 */
	}
	fx_close(&x);
}

static void test_thresholds_pick_the_action(void **state)
{
	static const struct {
		const char *subject_extra; /* adds rules */
		const char *body;
		enum flt_class cls;
		enum flt_action action;
	} cases[] = {
		{"hello", "nothing", FLT_HAM, FLT_ACCEPT},
		{"winner", "nothing", FLT_HAM, FLT_ACCEPT},             /* 2 */
		{"winner", "click here now", FLT_SPAM, FLT_TAG},         /* 5 */
		{"winner", "click here now http://1.2.3.4/", FLT_SPAM, FLT_QUARANTINE}, /* 9 */
	};
	flt_config_t cfg;
	fx_t x;
	char msg[512];

	(void)state;
	flt_config_default(&cfg);
	cfg.spam_score = 5;
	cfg.quarantine_score = 8;
	cfg.reject_score = 12;
	fx_open(&x, &cfg, NULL);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const flt_verdict_t *v;

		snprintf(msg, sizeof(msg), "Subject: %s\r\nFrom: a@b\r\n\r\n%s\r\n",
			 cases[i].subject_extra, cases[i].body);
		v = scan(&x, msg, 0);
		if (v->cls != cases[i].cls || v->action != cases[i].action)
			fail_msg("case %zu: %s/%s score %.2f rules %s", i, flt_class_str(v->cls),
				 flt_action_str(v->action), v->score, v->rules);
	}
	/* Over the reject threshold. */
	const flt_verdict_t *v = scan(&x, "Subject: winner\r\nX-Mailer: spamware\r\n\r\n"
					  "click here now http://1.2.3.4/\r\n",
				      0);
	assert_int_equal(v->action, FLT_REJECT);
	assert_string_equal(v->rules, "T_SUBJ_WIN,T_BODY_CLICK,T_URI_IP,T_FULL_XM");
	fx_close(&x);

	cfg.reject_score = 4; /* out of order */
	assert_int_equal(flt_rules_new(&x.rules), 0);
	assert_int_equal(flt_filter_new(&cfg, x.rules, NULL, &x.f), SL_EINVAL);
	assert_null(x.f);
	flt_rules_free(&x.rules);
}

static void test_gtube_in_every_encoding(void **state)
{
	static const char *msgs[] = {
		"Subject: test\r\n\r\n" GTUBE "\r\n",
		"Subject: test\r\nContent-Transfer-Encoding: base64\r\n\r\n"
		"WEpTKkM0SkRCUUFETjEuTlNCTjMqMklETkVOKkdUVUJFLVNUQU5EQVJELUFOVEktVUJFLVRFU1QtRU1B\r\n"
		"SUwqQy4zNFg=\r\n",
		"Subject: test\r\nContent-Type: text/html\r\n\r\n<p>XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-"
		"STANDARD-ANTI-UBE-TEST-EMAIL*C.34X</p>\r\n",
		"Subject: t\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n"
		"Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
		"XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-=\r\nEMAIL*C.34X\r\n--x--\r\n",
	};
	fx_t x;

	(void)state;
	fx_open(&x, NULL, NULL);
	for (size_t i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
		for (size_t chunk = 0; chunk <= 7; chunk += 7) {
			const flt_verdict_t *v = scan(&x, msgs[i], chunk);

			if (!has_rule(v, "GTUBE") || v->action != FLT_REJECT || v->cls != FLT_SPAM)
				fail_msg("message %zu chunk %zu: %s %.1f %s", i, chunk,
					 flt_class_str(v->cls), v->score, v->rules);
		}
	}
	fx_close(&x);
}

static void test_mime_bomb_is_policy(void **state)
{
	sl_buf_t m;
	fx_t x;
	const flt_verdict_t *v;

	(void)state;
	sl_buf_init(&m, 1 << 20);
	assert_int_equal(sl_buf_printf(&m, "Subject: deep\r\n"), 0);
	for (int i = 0; i < 100; i++)
		assert_int_equal(sl_buf_printf(&m,
					       "Content-Type: multipart/mixed; boundary=b%d\r\n\r\n"
					       "--b%d\r\n",
					       i, i),
				 0);
	assert_int_equal(sl_buf_printf(&m, "Content-Type: text/plain\r\n\r\nhi\r\n"), 0);
	fx_open(&x, NULL, NULL);
	v = scan(&x, (const char *)m.data, 0);
	assert_int_equal(v->cls, FLT_POLICY);
	assert_int_equal(v->action, FLT_REJECT);
	assert_string_equal(v->virus, "Heuristics.Limits.Exceeded");
	assert_true(v->anomalies & MSG_ANOM_DEPTH_LIMIT);
	/* and the next message is clean again */
	v = scan(&x, "Subject: hi\r\n\r\nhello\r\n", 0);
	assert_int_equal(v->cls, FLT_HAM);
	assert_string_equal(v->virus, "");
	fx_close(&x);
	sl_buf_free(&m);
}

static void test_size_limit_truncates(void **state)
{
	flt_config_t cfg;
	fx_t x;
	const flt_verdict_t *v;
	char msg[8192];

	(void)state;
	flt_config_default(&cfg);
	cfg.max_message = 2048;
	memset(msg, 'a', sizeof(msg));
	memcpy(msg, "Subject: x\r\n\r\n", 14);
	memcpy(msg + 6000, " click here now ", 16);
	msg[sizeof(msg) - 1] = '\0';
	fx_open(&x, &cfg, NULL);
	v = scan(&x, msg, 1000);
	assert_true(v->truncated);
	assert_int_equal(v->size, 2048);
	assert_false(has_rule(v, "T_BODY_CLICK"));
	fx_close(&x);
}

static void test_state_and_headers(void **state)
{
	fx_t x;
	const flt_verdict_t *v;
	sl_buf_t out;

	(void)state;
	fx_open(&x, NULL, NULL);
	assert_int_equal(flt_scan_feed(x.s, "x", 1), SL_ESTATE);
	assert_int_equal(flt_scan_end(x.s, &v), SL_ESTATE);
	assert_int_equal(flt_scan_learn(x.s, BAYES_SPAM, NULL, NULL), SL_ESTATE); /* no store */
	v = scan(&x, "Subject: winner\r\n\r\nclick here now\r\n", 0);
	sl_buf_init(&out, 4096);
	assert_int_equal(flt_verdict_headers(x.f, v, &out), 0);
	assert_string_equal((const char *)out.data,
			    "X-Spam-Status: Yes, score=5.0 required=5.0 set=0\r\n"
			    "X-Spam-Score: 5.0 (T_SUBJ_WIN,T_BODY_CLICK)\r\n"
			    "X-Virus-Scanned: Sluice\r\n");
	sl_buf_free(&out);
	assert_string_equal(flt_action_str(FLT_QUARANTINE), "quarantine");
	assert_string_equal(flt_class_str(FLT_POLICY), "policy");
	fx_close(&x);
}

static void learn_cb(void *ctx, int err)
{
	*(int *)ctx = err == 0 ? 1 : err;
}

/* Score sets: `score X 1 7` gives 1 while Bayes has no opinion (no store,
 * Bayes off, or a store that learned too little) and 7 once it has one;
 * a one-value score is the same in both; the verdict and X-Spam-Status
 * say which set was used. */
static void set_rules(fx_t *x, const char *text)
{
	flt_rules_src_t src = {"sets.cf", text, strlen(text)};
	const char *err;

	if (flt_rules_load_sources(x->rules, &src, 1, 0, &err) != 0)
		fail_msg("%s", err);
}

static double hit_score(const flt_verdict_t *v, const char *name)
{
	for (size_t i = 0; i < v->nhits; i++)
		if (strcmp(v->hits[i].name, name) == 0)
			return v->hits[i].score;
	fail_msg("%s did not hit", name);
	return 0;
}

static void assert_status_set(fx_t *x, const flt_verdict_t *v, const char *want)
{
	sl_buf_t out;

	sl_buf_init(&out, 4096);
	assert_int_equal(flt_verdict_headers(x->f, v, &out), 0);
	if (strstr((const char *)out.data, want) == NULL)
		fail_msg("no \"%s\" in %s", want, (const char *)out.data);
	sl_buf_free(&out);
}

static void test_score_set_follows_bayes_opinion(void **state)
{
	static const char *sets = "header X_PILLS Subject =~ /pills/\nscore X_PILLS 1 7\n"
				  "body X_SAME /agenda/\nscore X_SAME 0.5\n";
	static const char *probe = "Subject: cheap pills\r\n\r\nbuy pills, see the agenda\r\n";
	bayes_mem_t *mem;
	bayes_store_t st;
	flt_config_t cfg;
	fx_t x, off;
	const flt_verdict_t *v;
	char msg[512];

	(void)state;
	assert_int_equal(bayes_mem_create(100000, &mem), 0);
	st = bayes_mem_store(mem);
	flt_config_default(&cfg);
	cfg.bayes_opts.min_spam = 5;
	cfg.bayes_opts.min_ham = 5;
	fx_open(&x, &cfg, &st);
	set_rules(&x, sets);

	/* An empty store: no opinion, set 0. */
	v = scan(&x, probe, 0);
	assert_false(v->bayes_opinion);
	assert_int_equal(v->set, FLT_SET_NOBAYES);
	assert_true(hit_score(v, "X_PILLS") == 1);
	assert_true(hit_score(v, "X_SAME") == 0.5);
	assert_true(v->rules_score == 1.5 && v->score == 1.5 && v->learn_score == 1.5);
	assert_status_set(&x, v, "score=1.5 required=5.0 set=0\r\n");

	for (int i = 0; i < 5; i++) {
		int done = 0;

		/* 4 of each learned: still below min_spam/min_ham, still set 0 */
		if (i == 4) {
			v = scan(&x, probe, 0);
			assert_false(v->bayes_opinion);
			assert_int_equal(v->set, FLT_SET_NOBAYES);
			assert_true(v->rules_score == 1.5);
		}
		snprintf(msg, sizeof(msg),
			 "Subject: cheap pills\r\n\r\nbuy cheap pills pharmacy discount code%c\r\n", 'a' + i);
		scan(&x, msg, 0);
		assert_int_equal(flt_scan_learn(x.s, BAYES_SPAM, learn_cb, &done), 0);
		snprintf(msg, sizeof(msg),
			 "Subject: meeting notes\r\n\r\nthe project meeting item%c\r\n", 'a' + i);
		scan(&x, msg, 0);
		assert_int_equal(flt_scan_learn(x.s, BAYES_HAM, learn_cb, &done), 0);
	}

	/* An opinion: set 1, the second value; the band adds its points. */
	v = scan(&x, probe, 0);
	assert_true(v->bayes_opinion);
	assert_int_equal(v->set, FLT_SET_BAYES);
	assert_true(hit_score(v, "X_PILLS") == 7);
	assert_true(hit_score(v, "X_SAME") == 0.5);
	assert_true(v->rules_score == 7.5);
	assert_true(v->learn_score == 1.5); /* auto-learn looks at set 0 */
	assert_true(v->score > v->rules_score); /* a spam band */
	assert_status_set(&x, v, " set=1\r\n");

	/* The same store with Bayes switched off in the config: set 0. */
	cfg.bayes = false;
	fx_open(&off, &cfg, &st);
	set_rules(&off, sets);
	v = scan(&off, probe, 0);
	assert_false(v->bayes_opinion);
	assert_int_equal(v->set, FLT_SET_NOBAYES);
	assert_true(v->rules_score == 1.5 && v->score == 1.5);
	fx_close(&off);

	/* A rescore on reload is picked up at the next message. */
	set_rules(&x, "header X_PILLS Subject =~ /pills/\nscore X_PILLS 2 3\n");
	v = scan(&x, probe, 0);
	assert_int_equal(v->set, FLT_SET_BAYES);
	assert_true(v->rules_score == 3);
	fx_close(&x);
	bayes_mem_destroy(&mem);
}

static void test_bayes_learns_and_scores(void **state)
{
	bayes_mem_t *mem;
	bayes_store_t st;
	flt_config_t cfg;
	fx_t x;
	const flt_verdict_t *v;
	char msg[512];

	(void)state;
	assert_int_equal(bayes_mem_create(100000, &mem), 0);
	st = bayes_mem_store(mem);
	flt_config_default(&cfg);
	cfg.bayes_opts.min_spam = 5;
	cfg.bayes_opts.min_ham = 5;
	fx_open(&x, &cfg, &st);
	v = scan(&x, "Subject: hi\r\n\r\nhello\r\n", 0);
	assert_false(v->bayes_opinion); /* nothing learned yet */
	for (int i = 0; i < 10; i++) {
		int done = 0;

		snprintf(msg, sizeof(msg),
			 "Subject: cheap pills\r\n\r\nbuy cheap pills pharmacy discount code%c\r\n", 'a' + i);
		scan(&x, msg, 0);
		assert_int_equal(flt_scan_learn(x.s, BAYES_SPAM, learn_cb, &done), 0);
		assert_int_equal(done, 1);
		snprintf(msg, sizeof(msg),
			 "Subject: meeting notes\r\n\r\nthe agenda for the project meeting item%c\r\n", 'a' + i);
		scan(&x, msg, 0);
		assert_int_equal(flt_scan_learn(x.s, BAYES_HAM, learn_cb, &done), 0);
		/* learning the same message twice is a no-op */
		assert_int_equal(flt_scan_learn(x.s, BAYES_HAM, learn_cb, &done), 1);
	}
	v = scan(&x, "Subject: cheap pills\r\n\r\nbuy cheap pharmacy pills now\r\n", 0);
	assert_true(v->bayes_opinion);
	assert_true(v->bayes_prob > 0.9);
	assert_non_null(strstr(v->rules, "BAYES_9"));
	assert_true(v->score > v->rules_score);
	v = scan(&x, "Subject: project meeting\r\n\r\nthe agenda for the meeting\r\n", 0);
	assert_true(v->bayes_prob < 0.1);
	assert_non_null(strstr(v->rules, "BAYES_0"));
	assert_true(v->score < 0);

	/* `score BAYES_xx` lines (95_tuned.cf) set the bands' points: a reload
	 * that gives every band its own value moves the Bayes part of the
	 * score to exactly those values. */
	{
		char text[2048];
		size_t n = (size_t)snprintf(text, sizeof(text), "%s", test_rules);
		flt_rules_src_t src;
		const char *err;

		for (unsigned i = 0; i < bayes_rules_n; i++)
			n += (size_t)snprintf(text + n, sizeof(text) - n, "score %s %g\n",
					      bayes_rules[i].name, 7.0 + 0.125 * i);
		assert_true(n < sizeof(text));
		src = (flt_rules_src_t){"t.cf", text, n};
		if (flt_rules_load_sources(x.rules, &src, 1, 0, &err) != 0)
			fail_msg("%s", err);
	}
	for (int round = 0; round < 2; round++) {
		double bayes_pts = 0;
		int nbayes = 0;

		v = scan(&x, round == 0 ? "Subject: cheap pills\r\n\r\nbuy cheap pharmacy pills now\r\n"
					: "Subject: project meeting\r\n\r\nthe agenda for the meeting\r\n",
			 0);
		for (size_t i = 0; i < v->nhits; i++) {
			if (strncmp(v->hits[i].name, "BAYES_", 6) != 0)
				continue;
			for (unsigned j = 0; j < bayes_rules_n; j++)
				if (strcmp(bayes_rules[j].name, v->hits[i].name) == 0)
					assert_true(v->hits[i].score == 7.0 + 0.125 * j);
			bayes_pts += v->hits[i].score;
			nbayes++;
		}
		assert_true(nbayes >= 1);
		assert_true(fabs(v->score - v->rules_score - bayes_pts) < 1e-9);
		assert_true(v->score - v->rules_score >= 7.0);
	}
	fx_close(&x);
	bayes_mem_destroy(&mem);
}

#define EICAR "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
#define EICAR_B64 "WDVPIVAlQEFQWzRcUFpYNTQoUF4pN0NDKTd9JEVJQ0FSLVNUQU5EQVJELUFOVElWSVJVUy1URVNULUZJTEUhJEgrSCo="

static void test_viruses_and_policy_decide(void **state)
{
	static const struct {
		const char *what;
		const char *msg;
		enum flt_class cls;
		const char *name; /* prefix */
	} cases[] = {
		{"plain", "Subject: t\r\n\r\n" EICAR "\r\n", FLT_VIRUS, "Eicar"},
		{"base64 attachment",
		 "Subject: t\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n"
		 "Content-Type: text/plain\r\n\r\nsee attached\r\n--x\r\n"
		 "Content-Type: application/octet-stream; name=\"a.bin\"\r\n"
		 "Content-Disposition: attachment; filename=\"a.bin\"\r\n"
		 "Content-Transfer-Encoding: base64\r\n\r\n" EICAR_B64 "\r\n--x--\r\n",
		 FLT_VIRUS, "Eicar"},
		{"inside message/rfc822",
		 "Subject: fwd\r\nContent-Type: multipart/mixed; boundary=o\r\n\r\n--o\r\n"
		 "Content-Type: message/rfc822\r\n\r\nSubject: inner\r\n"
		 "Content-Type: multipart/mixed; boundary=i\r\n\r\n--i\r\n"
		 "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
		 EICAR_B64 "\r\n--i--\r\n--o--\r\n",
		 FLT_VIRUS, "Eicar"},
		{"executable attachment",
		 "Subject: t\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n"
		 "Content-Type: application/octet-stream; name=\"invoice.pdf.exe\"\r\n"
		 "Content-Transfer-Encoding: base64\r\n\r\nTVqQAAMAAAAEAAAA//8AALgAAAAAAAAAQAAAAAAAAAA=\r\n"
		 "--x--\r\n",
		 FLT_POLICY, "Policy"},
	};
	fx_t x;

	(void)state;
	fx_open(&x, NULL, NULL);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (size_t chunk = 0; chunk <= 5; chunk += 5) {
			const flt_verdict_t *v = scan(&x, cases[i].msg, chunk);

			if (v->cls != cases[i].cls || v->action != FLT_REJECT ||
			    strncmp(v->virus, cases[i].name, strlen(cases[i].name)) != 0)
				fail_msg("%s (chunk %zu): %s %s \"%s\" (%s)", cases[i].what, chunk,
					 flt_class_str(v->cls), flt_action_str(v->action), v->virus,
					 v->reason);
		}
	}
	/* The next clean message is not tainted by the last finding. */
	const flt_verdict_t *v = scan(&x, "Subject: hi\r\n\r\nhello\r\n", 0);
	assert_int_equal(v->cls, FLT_HAM);
	assert_string_equal(v->virus, "");
	fx_close(&x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_event_reaches_the_rules),
		cmocka_unit_test(test_thresholds_pick_the_action),
		cmocka_unit_test(test_gtube_in_every_encoding),
		cmocka_unit_test(test_mime_bomb_is_policy),
		cmocka_unit_test(test_size_limit_truncates),
		cmocka_unit_test(test_state_and_headers),
		cmocka_unit_test(test_bayes_learns_and_scores),
		cmocka_unit_test(test_score_set_follows_bayes_opinion),
		cmocka_unit_test(test_viruses_and_policy_decide),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
