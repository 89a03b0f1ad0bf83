/* test_smtp_filter - a lane's filter pool behind the SMTP hooks
 * (mta/smtp_filter.h): verdicts become SMTP answers, and auto-learn feeds
 * the Bayes store with what the rules alone are sure of. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "filter.h"
#include "sl_err.h"
#include "smtp_filter.h"

#define GTUBE "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"

static const char *test_rules =
	"body T_LOUD /buy cheap pills/i\nscore T_LOUD 15\n"
	"body T_SOME /limited offer/i\nscore T_SOME 5\n";

typedef struct fx {
	flt_rules_t *rules;
	flt_filter_t *f;
	bayes_mem_t *mem;
	bayes_store_t store;
	smtp_filter_t *sf;
} fx_t;

static void fx_open(fx_t *x, bool autolearn_on)
{
	flt_rules_src_t src = {"t.cf", test_rules, strlen(test_rules)};
	bayes_autolearn_t al;
	flt_config_t cfg;
	const char *err;

	memset(x, 0, sizeof(*x));
	flt_config_default(&cfg);
	assert_int_equal(flt_rules_new(&x->rules), 0);
	if (flt_rules_load_sources(x->rules, &src, 1, 0, &err) != 0)
		fail_msg("%s", err);
	assert_int_equal(flt_filter_new(&cfg, x->rules, NULL, &x->f), 0);
	assert_int_equal(bayes_mem_create(100000, &x->mem), 0);
	x->store = bayes_mem_store(x->mem);
	bayes_autolearn_default(&al);
	al.enabled = autolearn_on;
	assert_int_equal(smtp_filter_create(x->f, &x->store, &al, &x->sf), 0);
}

static void fx_close(fx_t *x)
{
	smtp_filter_destroy(&x->sf);
	bayes_mem_destroy(&x->mem);
	flt_filter_free(&x->f);
	flt_rules_free(&x->rules);
}

/* One message through the pool: the SMTP verdict's action. */
static int deliver(fx_t *x, const char *subject, const char *body)
{
	char msg[1024];
	struct smtp_verdict v;
	sl_buf_t hdrs;
	smtp_filter_msg_t *m = smtp_filter_begin(x->sf);

	assert_non_null(m);
	snprintf(msg, sizeof(msg), "From: a@example.org\r\nTo: b@example.net\r\nSubject: %s\r\n\r\n%s\r\n",
		 subject, body);
	sl_buf_init(&hdrs, 4096);
	smtp_filter_feed(m, sl_slice_make(msg, strlen(msg)));
	assert_non_null(smtp_filter_end(m, &v, &hdrs));
	smtp_filter_release(&m);
	sl_buf_free(&hdrs);
	return (int)v.action;
}

static smtp_filter_stats_t stats(const fx_t *x)
{
	smtp_filter_stats_t st;

	smtp_filter_get_stats(x->sf, &st);
	return st;
}

static size_t sigs(const fx_t *x)
{
	size_t tokens, n;

	bayes_mem_size(x->mem, &tokens, &n);
	return n;
}

static void test_autolearn_spam_and_ham(void **state)
{
	fx_t x;

	(void)state;
	fx_open(&x, true);
	/* rules 15 >= 12: learned as spam (and rejected at the default 15) */
	deliver(&x, "pills", "Buy cheap pills today, best prices on the net");
	assert_int_equal(stats(&x).autolearn_spam, 1);
	/* rules 0 <= 0.1: learned as ham */
	assert_int_equal(deliver(&x, "minutes", "The minutes of Tuesday's meeting are attached."),
			 SMTP_VERDICT_ACCEPT);
	assert_int_equal(stats(&x).autolearn_ham, 1);
	/* rules 5: in between, not learned */
	deliver(&x, "offer", "A limited offer for our customers");
	/* the same spam again: already learned, not counted twice */
	deliver(&x, "pills", "Buy cheap pills today, best prices on the net");
	smtp_filter_stats_t st = stats(&x);
	assert_int_equal(st.autolearn_spam, 1);
	assert_int_equal(st.autolearn_ham, 1);
	assert_int_equal(st.autolearn_known, 1);
	assert_int_equal(st.autolearn_errors, 0);
	assert_int_equal(sigs(&x), 2);
	fx_close(&x);
}

static void test_gtube_is_not_learned(void **state)
{
	fx_t x;

	(void)state;
	fx_open(&x, true);
	assert_int_equal(deliver(&x, "test", GTUBE), SMTP_VERDICT_REJECT);
	assert_int_equal(stats(&x).autolearn_spam, 0);
	assert_int_equal(sigs(&x), 0);
	fx_close(&x);
}

static void test_autolearn_off(void **state)
{
	fx_t x;

	(void)state;
	fx_open(&x, false);
	deliver(&x, "pills", "Buy cheap pills today, best prices on the net");
	deliver(&x, "minutes", "The minutes of Tuesday's meeting are attached.");
	smtp_filter_stats_t st = stats(&x);
	assert_int_equal(st.autolearn_spam + st.autolearn_ham + st.autolearn_known, 0);
	assert_int_equal(sigs(&x), 0);
	fx_close(&x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_autolearn_spam_and_ham),
		cmocka_unit_test(test_gtube_is_not_learned),
		cmocka_unit_test(test_autolearn_off),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
