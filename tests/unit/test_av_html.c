/* test_av_html - base64 data: URIs in HTML (HTML smuggling): detection,
 * the member with the URI's media type as declared type, EICAR through
 * flt_av_scan, a ";base64," without "data:" ignored, white space inside
 * the base64, the member cap; clamav-testfiles' clam.exe.html. */
#include "test_av_dec.h"

static void test_detect(void **state)
{
	static const char *const yes[] = {"<html>", "\xef\xbb\xbf  <!DOCTYPE html>", "\r\n<a href=x>"};
	static const char *const no[] = {"html", "< html>", "<", "", "x<html>"};

	(void)state;
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		assert_true(av_is_html(sl_slice_make(yes[i], strlen(yes[i]))));
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		assert_false(av_is_html(sl_slice_make(no[i], strlen(no[i]))));
}

static void test_data_uri(void **state)
{
	/* EICAR in base64, split by a line break */
	static const char html[] =
		"<html><body><a download=\"e.com\" href=\"data:application/x-msdownload;base64,"
		"WDVPIVAlQEFQWzRcUFpYNTQoUF4pN0NDKTd9JEVJQ0FSLVNUQU5EQVJELUFOVElWSVJVUy1URVNU\r\n"
		"LUZJTEUhJEgrSCo=\">x</a>"
		"<p>text;base64,QUJD not a uri</p>"
		"<img src='data:image/png;base64,QUJD'></body></html>";
	scan_fx_t f;
	rec_t r;

	(void)state;
	rec_init(&r, 1u << 20);
	assert_int_equal(av_dec_html(sl_slice_make(html, sizeof(html) - 1), "p.html", &r.e), 0);
	assert_int_equal(r.n, 2);
	rec_expect(&r, 0, "data-uri", eicar, EICAR_LEN);
	assert_string_equal(r.type[0], "application/x-msdownload");
	rec_expect(&r, 1, "data-uri", "ABC", 3);
	assert_string_equal(r.type[1], "image/png");
	rec_free(&r);
	scan_fx_open(&f, NULL);
	expect_verdict(scan_fx_run(&f, "p.html", html, sizeof(html) - 1), FLT_AV_INFECTED, FLT_AV_EICAR_NAME,
		       "p.html/data-uri");
	scan_fx_close(&f);
	/* the cap */
	rec_init(&r, 10);
	assert_int_equal(av_dec_html(sl_slice_make(html, sizeof(html) - 1), "p.html", &r.e), 1);
	assert_non_null(strstr(r.limit, "max_file 10"));
	rec_free(&r);
}

static void test_sample(void **state)
{
	size_t len;
	uint8_t *p = sample("clam.exe.html", &len);
	scan_fx_t f;

	(void)state;
	if (p == NULL)
		return;
	scan_fx_open(&f, NULL);
	expect_verdict(scan_fx_run(&f, "clam.exe.html", p, len), FLT_AV_INFECTED, "Sluice.Test.ClamExe.Body",
		       "clam.exe.html/data-uri");
	scan_fx_close(&f);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_detect),
		cmocka_unit_test(test_data_uri),
		cmocka_unit_test(test_sample),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
