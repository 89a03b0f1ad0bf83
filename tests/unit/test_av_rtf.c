/* test_av_rtf - objects in RTF: a Package object's file and native data
 * come back as members, hex with white space and \binN raw bytes, the
 * longer control word \objdataX is not taken, an object that is not OLE1
 * is still scanned, a billion-hex-digit object stops at the member cap
 * with the LIMITS verdict, truncations; clamav-testfiles' clam.exe.rtf. */
#include "test_av_dec.h"

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* OLE1 ObjectHeader of class CLS around a Package native block for DATA. */
static size_t ole1(const char *cls, const char *fname, const void *data, size_t len, uint8_t *o)
{
	size_t i = 0, cl = strlen(cls) + 1, nl = strlen(fname) + 1, nat;

	put32(o, 0x0501);
	put32(o + 4, 2);
	put32(o + 8, (uint32_t)cl);
	memcpy(o + 12, cls, cl);
	i = 12 + cl;
	put32(o + i, 0);
	put32(o + i + 4, 0);
	i += 8;
	nat = i + 4;
	i = nat;
	o[i++] = 2;
	o[i++] = 0;
	memcpy(o + i, fname, nl);
	i += nl;
	memcpy(o + i, fname, nl);
	i += nl;
	o[i++] = 0;
	o[i++] = 0;
	o[i++] = 3;
	o[i++] = 0;
	put32(o + i, (uint32_t)nl);
	memcpy(o + i + 4, fname, nl);
	i += 4 + nl;
	put32(o + i, (uint32_t)len);
	memcpy(o + i + 4, data, len);
	i += 4 + len;
	put32(o + nat - 4, (uint32_t)(i - nat));
	return i;
}

static char *rtf_of(const uint8_t *obj, size_t n, const char *kw)
{
	char *r = malloc(n * 3 + 256), *p = r;

	p += sprintf(p, "{\\rtf1\\ansi{\\object\\objemb{\\*\\objclass Package}{\\*%s ", kw);
	for (size_t i = 0; i < n; i++)
		p += sprintf(p, "%02x%s", obj[i], i % 32 == 31 ? "\r\n" : "");
	sprintf(p, "}}}");
	return r;
}

static void test_package(void **state)
{
	uint8_t obj[512];
	size_t n = ole1("Package", "e.com", eicar, EICAR_LEN, obj);
	char *rtf = rtf_of(obj, n, "\\objdata");
	scan_fx_t f;
	rec_t r;

	(void)state;
	rec_init(&r, 1u << 20);
	assert_int_equal(av_dec_rtf(sl_slice_make(rtf, strlen(rtf)), "d.rtf", &r.e), 0);
	assert_int_equal(r.n, 2);
	rec_expect(&r, 0, "e.com", eicar, EICAR_LEN);
	assert_string_equal(r.name[1], "objdata");
	rec_free(&r);
	scan_fx_open(&f, NULL);
	expect_verdict(scan_fx_run(&f, "d.rtf", rtf, strlen(rtf)), FLT_AV_INFECTED, FLT_AV_EICAR_NAME, "d.rtf/e.com");
	/* \objdataX is another control word: nothing decoded */
	free(rtf);
	rtf = rtf_of(obj, n, "\\objdatax");
	expect_verdict(scan_fx_run(&f, "x.rtf", rtf, strlen(rtf)), FLT_AV_CLEAN, "", NULL);
	free(rtf);
	/* every truncation is clean or infected, never a crash */
	rtf = rtf_of(obj, n, "\\objdata");
	for (size_t cut = 0; cut < strlen(rtf); cut += 3)
		assert_true(scan_fx_run(&f, "t.rtf", rtf, cut)->verdict != FLT_AV_LIMITS);
	scan_fx_close(&f);
	free(rtf);
}

static void test_bin_and_raw(void **state)
{
	/* not OLE1: the decoded bytes are one member; \bin carries raw bytes */
	char rtf[512];
	int n = snprintf(rtf, sizeof(rtf), "{\\rtf1{\\*\\objdata 41 42\n43{\\bin4 %s}44}}", "\x01\x02\x03\x04");
	rec_t r;

	(void)state;
	rec_init(&r, 1u << 20);
	assert_int_equal(av_dec_rtf(sl_slice_make(rtf, (size_t)n), "b.rtf", &r.e), 0);
	assert_int_equal(r.n, 1);
	rec_expect(&r, 0, "objdata", "ABC\x01\x02\x03\x04" "D", 8);
	assert_true(r.e.broken > 0);
	rec_free(&r);
	/* \bin with a count past the end of the file */
	n = snprintf(rtf, sizeof(rtf), "{\\rtf1{\\*\\objdata 41\\bin999999999 xy");
	rec_init(&r, 1u << 20);
	assert_int_equal(av_dec_rtf(sl_slice_make(rtf, (size_t)n), "b.rtf", &r.e), 0);
	rec_expect(&r, 0, "objdata", "Axy", 3);
	rec_free(&r);
}

static void test_hex_bomb(void **state)
{
	/* 8 MB of hex digits with max_file 1 MiB: the LIMITS verdict */
	size_t n = 8u << 20;
	char *rtf = malloc(n + 64);
	flt_av_limits_t lim;
	scan_fx_t f;
	double t0 = now_s();

	(void)state;
	memcpy(rtf, "{\\rtf1{\\*\\objdata ", 18);
	memset(rtf + 18, '0', n);
	memcpy(rtf + 18 + n, "}}", 2);
	flt_av_limits_default(&lim);
	lim.max_file = 1u << 20;
	scan_fx_open(&f, &lim);
	expect_verdict(scan_fx_run(&f, "bomb.rtf", rtf, n + 20), FLT_AV_LIMITS, FLT_AV_LIMITS_NAME, "bomb.rtf");
	assert_non_null(strstr(f.r.reason, "max_file 1048576"));
	assert_true(now_s() - t0 < 5.0);
	scan_fx_close(&f);
	free(rtf);
}

static void test_sample(void **state)
{
	size_t len;
	uint8_t *p = sample("clam.exe.rtf", &len);
	scan_fx_t f;

	(void)state;
	if (p == NULL)
		return;
	scan_fx_open(&f, NULL);
	expect_verdict(scan_fx_run(&f, "clam.exe.rtf", p, len), FLT_AV_INFECTED, "Sluice.Test.ClamExe.Body",
		       "clam.exe.rtf/Clam.exe");
	scan_fx_close(&f);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_package),
		cmocka_unit_test(test_bin_and_raw),
		cmocka_unit_test(test_hex_bomb),
		cmocka_unit_test(test_sample),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
