/* test_av_szdd - MS COMPRESS (SZDD): literals, back-references into the
 * space-filled window (also before anything was written), the name's
 * last character restored ("x.ex_" -> "x.exe"), the member cap, every
 * truncation; clamav-testfiles' clam.exe.szdd. */
#include "test_av_dec.h"

static size_t hdr(uint8_t *o, char last)
{
	memcpy(o, "SZDD\x88\xf0\x27\x33" "A", 9);
	o[9] = (uint8_t)last;
	memset(o + 10, 0, 4);
	return 14;
}

/* All literals: a 0xff flag byte before every 8 bytes. */
static size_t literals(uint8_t *o, const void *p, size_t n)
{
	size_t i = hdr(o, 'm');

	for (size_t k = 0; k < n; k++) {
		if (k % 8 == 0)
			o[i++] = 0xff;
		o[i++] = ((const uint8_t *)p)[k];
	}
	return i;
}

static void test_decode(void **state)
{
	uint8_t buf[256];
	size_t n = literals(buf, eicar, EICAR_LEN);
	scan_fx_t f;
	rec_t r;

	(void)state;
	rec_init(&r, 1u << 20);
	assert_int_equal(av_dec_szdd(sl_slice_make(buf, n), "eicar.co_", &r.e), 0);
	rec_expect(&r, 0, "eicar.com", eicar, EICAR_LEN);
	rec_free(&r);
	scan_fx_open(&f, NULL);
	expect_verdict(scan_fx_run(&f, "eicar.co_", buf, n), FLT_AV_INFECTED, FLT_AV_EICAR_NAME, "eicar.co_/eicar.com");
	scan_fx_close(&f);
	/* "ab" then a reference to window position 4080 ("ab"), length 3+3 = 6:
	 * the copy overlaps what it writes; then a reference to position 0
	 * (spaces, never written) of length 3. Flags 0b00000011: two literals,
	 * two references. */
	n = hdr(buf, 'x');
	buf[n++] = 0x03;
	buf[n++] = 'a';
	buf[n++] = 'b';
	buf[n++] = 0xf0;
	buf[n++] = 0xf3;
	buf[n++] = 0x00;
	buf[n++] = 0x00;
	rec_init(&r, 1u << 20);
	assert_int_equal(av_dec_szdd(sl_slice_make(buf, n), "t.tx_", &r.e), 0);
	rec_expect(&r, 0, "t.txx", "abababab   ", 11);
	rec_free(&r);
}

static void test_hostile(void **state)
{
	/* 64 KiB of references of length 18: 576 KiB out, cap 100000 */
	size_t n = 14 + 65536 / 16 * 17;
	uint8_t *buf = calloc(1, n);
	uint8_t lit[256];
	size_t ln;
	rec_t r;

	(void)state;
	hdr(buf, 'x');
	for (size_t i = 14; i + 17 <= n; i += 17) {
		buf[i] = 0x00;
		memset(buf + i + 1, 0xff, 16);
	}
	rec_init(&r, 100000);
	assert_int_equal(av_dec_szdd(sl_slice_make(buf, n), "b.ex_", &r.e), 1);
	assert_non_null(strstr(r.limit, "max_file 100000"));
	rec_free(&r);
	free(buf);
	ln = literals(lit, eicar, EICAR_LEN);
	for (size_t cut = 0; cut < ln; cut++) {
		rec_init(&r, 1u << 20);
		assert_int_equal(av_dec_szdd(sl_slice_make(lit, cut), "t.ex_", &r.e), 0);
		assert_true(cut < 14 ? r.e.broken == 1 && r.n == 0 : r.n == 1 && r.len[0] <= EICAR_LEN);
		rec_free(&r);
	}
}

static void test_sample(void **state)
{
	size_t len;
	uint8_t *p = sample("clam.exe.szdd", &len);
	scan_fx_t f;

	(void)state;
	if (p == NULL)
		return;
	scan_fx_open(&f, NULL);
	expect_verdict(scan_fx_run(&f, "clam.ex_", p, len), FLT_AV_INFECTED, "Sluice.Test.ClamExe.Body",
		       "clam.ex_/clam.ex_"); /* its header does not keep the last letter */
	scan_fx_close(&f);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_sample),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
