/* test_av_sis - Symbian SIS v1 built here: a zlib-compressed file record
 * named after its destination path, an uncompressed one (NoCompress),
 * condition records stepped over, EICAR through flt_av_scan; pointers and
 * lengths past the end, a record count far beyond the file, corrupt zlib
 * and every truncation end as broken; clamav-testfiles' clam.sis. */
#include "test_av_dec.h"

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4); /* little-endian x86-64 */
}

/* A SIS with one condition record (endif) and one simple file record. */
static size_t sis(uint8_t *o, bool compress, const char *dst, const void *data, size_t len)
{
	size_t rec = 0x50, i, dl = strlen(dst), nptr, dptr;
	uint16_t nfiles = 2, opts = compress ? 0 : 8;

	memset(o, 0, 0x50);
	put32(o, 0x10000000u);
	put32(o + 4, 0x1000006du);
	put32(o + 8, 0x10000419u);
	o[0x12] = 1;               /* languages */
	memcpy(o + 0x14, &nfiles, 2);
	put32(o + 0x20, 200);      /* installer version: EPOC release 6 */
	memcpy(o + 0x24, &opts, 2);
	put32(o + 0x34, (uint32_t)rec);
	put32(o + rec, 6);         /* endif: no payload */
	i = rec + 4;
	nptr = i + 48;
	dptr = nptr + dl;
	memset(o + i, 0, 48);
	put32(o + i + 20, (uint32_t)dl);
	put32(o + i + 24, (uint32_t)nptr);
	memcpy(o + nptr, dst, dl);
	if (compress) {
		size_t zl;
		uint8_t *z = deflate_raw(data, len, &zl);

		o[dptr] = 0x78, o[dptr + 1] = 0x01;
		memcpy(o + dptr + 2, z, zl);
		put32(o + i + 28, (uint32_t)zl + 2);
		free(z);
	} else {
		memcpy(o + dptr, data, len);
		put32(o + i + 28, (uint32_t)len);
	}
	put32(o + i + 32, (uint32_t)dptr);
	put32(o + i + 36, (uint32_t)len);
	return dptr + (compress ? 0 : len) + (compress ? (size_t)o[i + 28] | (size_t)o[i + 29] << 8 : 0);
}

static void test_files(void **state)
{
	uint8_t buf[1024];
	size_t n;
	scan_fx_t f;
	rec_t r;

	(void)state;
	for (int c = 0; c < 2; c++) {
		n = sis(buf, c == 1, "!:\\system\\apps\\e.com", eicar, EICAR_LEN);
		rec_init(&r, 1u << 20);
		assert_int_equal(av_dec_sis(sl_slice_make(buf, n), "x.sis", &r.e), 0);
		assert_int_equal(r.e.broken, 0);
		assert_int_equal(r.n, 1);
		rec_expect(&r, 0, "e.com", eicar, EICAR_LEN);
		rec_free(&r);
	}
	scan_fx_open(&f, NULL);
	expect_verdict(scan_fx_run(&f, "x.sis", buf, n), FLT_AV_INFECTED, FLT_AV_EICAR_NAME, "x.sis/e.com");
	scan_fx_close(&f);
}

static void test_hostile(void **state)
{
	uint8_t buf[1024];
	size_t n = sis(buf, true, "e.com", eicar, EICAR_LEN);
	rec_t r;

	(void)state;
	/* the file pointer past the end */
	put32(buf + 0x54 + 32, 0xfffffff0u);
	rec_init(&r, 1u << 20);
	assert_int_equal(av_dec_sis(sl_slice_make(buf, n), "x.sis", &r.e), 0);
	assert_true(r.e.broken > 0 && r.n == 0);
	rec_free(&r);
	/* corrupt zlib data */
	n = sis(buf, true, "e.com", eicar, EICAR_LEN);
	buf[n - 3] ^= 0xff;
	buf[n - 6] ^= 0x55;
	rec_init(&r, 1u << 20);
	assert_true(av_dec_sis(sl_slice_make(buf, n), "x.sis", &r.e) >= 0);
	rec_free(&r);
	/* 4096 file records claimed: the walk stops at the end of the file */
	n = sis(buf, true, "e.com", eicar, EICAR_LEN);
	buf[0x14] = 0x00, buf[0x15] = 0x10;
	rec_init(&r, 1u << 20);
	assert_int_equal(av_dec_sis(sl_slice_make(buf, n), "x.sis", &r.e), 0);
	assert_true(r.e.broken > 0 && r.n <= 2);
	rec_free(&r);
	n = sis(buf, true, "e.com", eicar, EICAR_LEN);
	for (size_t cut = 0; cut < n; cut++) {
		rec_init(&r, 1u << 20);
		assert_int_equal(av_dec_sis(sl_slice_make(buf, cut), "t.sis", &r.e), 0);
		rec_free(&r);
	}
}

static void test_sample(void **state)
{
	size_t len;
	uint8_t *p = sample("clam.sis", &len);
	scan_fx_t f;

	(void)state;
	if (p == NULL)
		return;
	scan_fx_open(&f, NULL);
	expect_verdict(scan_fx_run(&f, "clam.sis", p, len), FLT_AV_INFECTED, "Sluice.Test.ClamExe.Body",
		       "clam.sis/clam.exe");
	scan_fx_close(&f);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_files),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_sample),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
