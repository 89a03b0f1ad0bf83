/* test_av_arj - ARJ archives: a stored member made here (and through
 * flt_av_scan), encrypted and method-4 members counted as broken, a header
 * size above 2600, clamav-testfiles' clam.arj (method 1) decoded byte for
 * byte to clam.exe, every truncation and random corruption of it without a
 * crash or a member over its declared size. */
#include "test_av_dec.h"

static size_t hdr(uint8_t *o, uint8_t flags, uint8_t method, const char *name, uint32_t csize, uint32_t usize)
{
	size_t nl = strlen(name) + 1, n = 30 + nl + 1;

	o[0] = 0x60, o[1] = 0xea, o[2] = (uint8_t)n, o[3] = 0;
	memset(o + 4, 0, 30);
	o[4] = 30, o[5] = 11, o[6] = 1, o[7] = 2, o[8] = flags, o[9] = method;
	memcpy(o + 4 + 12, &csize, 4);
	memcpy(o + 4 + 16, &usize, 4);
	memcpy(o + 4 + 30, name, nl);
	o[4 + 30 + nl] = 0;      /* comment */
	memset(o + 4 + n, 0, 6); /* CRC (not checked), no extended header */
	return 4 + n + 6;
}

static size_t arj(uint8_t *o, uint8_t flags, uint8_t method, const char *name, const void *data, size_t len)
{
	size_t i = hdr(o, 0, 0, "t.arj", 0, 0);

	i += hdr(o + i, flags, method, name, (uint32_t)len, (uint32_t)len);
	memcpy(o + i, data, len);
	i += len;
	memcpy(o + i, "\x60\xea\0\0", 4);
	return i + 4;
}

static void test_stored(void **state)
{
	uint8_t buf[512];
	size_t n = arj(buf, 0, 0, "eicar.com", eicar, EICAR_LEN);
	scan_fx_t f;
	rec_t r;

	(void)state;
	rec_init(&r, 1u << 20);
	assert_int_equal(av_dec_arj(sl_slice_make(buf, n), "t.arj", &r.e), 0);
	assert_int_equal(r.e.broken, 0);
	rec_expect(&r, 0, "eicar.com", eicar, EICAR_LEN);
	rec_free(&r);
	scan_fx_open(&f, NULL);
	expect_verdict(scan_fx_run(&f, "t.arj", buf, n), FLT_AV_INFECTED, FLT_AV_EICAR_NAME, "t.arj/eicar.com");
	scan_fx_close(&f);
	/* encrypted (garbled), method 4: not decoded, counted */
	for (int k = 0; k < 2; k++) {
		n = arj(buf, k == 0 ? 1 : 0, k == 0 ? 1 : 4, "x.bin", "abc", 3);
		rec_init(&r, 1u << 20);
		assert_int_equal(av_dec_arj(sl_slice_make(buf, n), "t.arj", &r.e), 0);
		assert_int_equal(r.n, 0);
		assert_int_equal(r.e.broken, 1);
		rec_free(&r);
	}
	/* a basic header larger than ARJ allows */
	n = arj(buf, 0, 0, "x.bin", "abc", 3);
	buf[2] = 0x40, buf[3] = 0x0b;
	rec_init(&r, 1u << 20);
	assert_int_equal(av_dec_arj(sl_slice_make(buf, n), "t.arj", &r.e), 0);
	assert_true(r.n == 0 && r.e.broken == 1);
	rec_free(&r);
}

static void test_method1(void **state)
{
	size_t alen, elen;
	uint8_t *a = sample("clam.arj", &alen), *exe = sample("clam.exe", &elen);
	uint32_t x = 3;
	rec_t r;

	(void)state;
	if (a == NULL || exe == NULL) {
		free(a);
		free(exe);
		return;
	}
	rec_init(&r, 1u << 20);
	assert_int_equal(av_dec_arj(sl_slice_make(a, alen), "clam.arj", &r.e), 0);
	assert_int_equal(r.e.broken, 0);
	rec_expect(&r, 0, "clam.exe", exe, elen);
	rec_free(&r);
	rec_init(&r, 100);
	assert_int_equal(av_dec_arj(sl_slice_make(a, alen), "clam.arj", &r.e), 1);
	assert_non_null(strstr(r.limit, "max_file 100"));
	rec_free(&r);
	for (size_t cut = 0; cut < alen; cut++) {
		rec_init(&r, 1u << 20);
		assert_int_equal(av_dec_arj(sl_slice_make(a, cut), "t.arj", &r.e), 0);
		for (uint32_t i = 0; i < r.n; i++)
			assert_true(r.len[i] <= elen);
		rec_free(&r);
	}
	for (int k = 0; k < 5000; k++) {
		uint8_t *c = malloc(alen);

		memcpy(c, a, alen);
		for (int j = 0; j < 3; j++) {
			x = x * 1103515245u + 12345u;
			c[0x76 + (x >> 8) % (alen - 0x76)] ^= (uint8_t)(x >> 24);
		}
		rec_init(&r, 1u << 20);
		assert_int_equal(av_dec_arj(sl_slice_make(c, alen), "c.arj", &r.e), 0);
		for (uint32_t i = 0; i < r.n; i++)
			assert_true(r.len[i] <= elen);
		rec_free(&r);
		free(c);
	}
	free(a);
	free(exe);
}

static void test_sample(void **state)
{
	size_t len;
	uint8_t *p = sample("clam.arj", &len);
	scan_fx_t f;

	(void)state;
	if (p == NULL)
		return;
	scan_fx_open(&f, NULL);
	expect_verdict(scan_fx_run(&f, "clam.arj", p, len), FLT_AV_INFECTED, "Sluice.Test.ClamExe.Body",
		       "clam.arj/clam.exe");
	scan_fx_close(&f);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stored),
		cmocka_unit_test(test_method1),
		cmocka_unit_test(test_sample),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
