/* test_av_uu - a bare uuencoded file: detection ("begin" with a 3 or 4
 * digit octal mode), two begin/end blocks as two members, EICAR through
 * flt_av_scan, a missing "end" and short lines counted as broken, the
 * member cap, every truncation. */
#include "test_av_dec.h"

static size_t uuenc(const void *p, size_t n, const char *name, char *o)
{
	const uint8_t *s = p;
	size_t k = (size_t)sprintf(o, "begin 644 %s\n", name);

	for (size_t i = 0; i < n; i += 45) {
		size_t m = n - i < 45 ? n - i : 45;

		o[k++] = (char)(32 + m);
		for (size_t j = 0; j < m; j += 3) {
			uint8_t b0 = s[i + j], b1 = j + 1 < m ? s[i + j + 1] : 0, b2 = j + 2 < m ? s[i + j + 2] : 0;
			uint8_t c[4] = {(uint8_t)(b0 >> 2), (uint8_t)((b0 & 3) << 4 | b1 >> 4),
					(uint8_t)((b1 & 15) << 2 | b2 >> 6), (uint8_t)(b2 & 63)};

			for (int q = 0; q < 4; q++)
				o[k++] = c[q] ? (char)(32 + c[q]) : '`';
		}
		o[k++] = '\n';
	}
	k += (size_t)sprintf(o + k, "`\nend\n");
	return k;
}

static void test_detect(void **state)
{
	static const char *const yes[] = {"begin 644 a.txt\n", "\n\nbegin 0755 x\n"};
	static const char *const no[] = {"begin 64 a\n", "begin 64444 a\n", "begin 644a\n", "xbegin 644 a\n", ""};

	(void)state;
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		assert_true(av_is_uu(sl_slice_make(yes[i], strlen(yes[i]))));
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		assert_false(av_is_uu(sl_slice_make(no[i], strlen(no[i]))));
}

static void test_decode(void **state)
{
	char text[4096];
	uint8_t big[200];
	size_t n;
	scan_fx_t f;
	rec_t r;

	(void)state;
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 13 + 1);
	n = uuenc(big, sizeof(big), "big.bin", text);
	n += uuenc(eicar, EICAR_LEN, "eicar.com", text + n);
	rec_init(&r, 1u << 20);
	assert_int_equal(av_dec_uu(sl_slice_make(text, n), "x.uu", &r.e), 0);
	assert_int_equal(r.e.broken, 0);
	assert_int_equal(r.n, 2);
	rec_expect(&r, 0, "big.bin", big, sizeof(big));
	rec_expect(&r, 1, "eicar.com", eicar, EICAR_LEN);
	rec_free(&r);
	scan_fx_open(&f, NULL);
	expect_verdict(scan_fx_run(&f, "x.uu", text, n), FLT_AV_INFECTED, FLT_AV_EICAR_NAME, "x.uu/eicar.com");
	scan_fx_close(&f);
}

static void test_hostile(void **state)
{
	char text[4096];
	size_t n = uuenc(eicar, EICAR_LEN, "e.com", text);
	rec_t r;

	(void)state;
	/* no "end" */
	rec_init(&r, 1u << 20);
	assert_int_equal(av_dec_uu(sl_slice_make(text, n - 4), "x.uu", &r.e), 0);
	assert_true(r.e.broken > 0);
	rec_expect(&r, 0, "e.com", eicar, EICAR_LEN);
	rec_free(&r);
	/* a line shorter than its count */
	memcpy(text, "begin 644 s\nM!!\nend\n", 21);
	rec_init(&r, 1u << 20);
	assert_int_equal(av_dec_uu(sl_slice_make(text, 21), "s.uu", &r.e), 0);
	assert_true(r.e.broken > 0 && r.n == 1 && r.len[0] <= 3);
	rec_free(&r);
	/* the cap */
	n = uuenc(eicar, EICAR_LEN, "e.com", text);
	rec_init(&r, 20);
	assert_int_equal(av_dec_uu(sl_slice_make(text, n), "x.uu", &r.e), 1);
	assert_non_null(strstr(r.limit, "max_file 20"));
	rec_free(&r);
	for (size_t cut = 0; cut < n; cut++) {
		rec_init(&r, 1u << 20);
		assert_true(av_dec_uu(sl_slice_make(text, cut), "t.uu", &r.e) >= 0);
		rec_free(&r);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_detect),
		cmocka_unit_test(test_decode),
		cmocka_unit_test(test_hostile),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
