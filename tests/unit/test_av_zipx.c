/* test_av_zipx - zip methods libarchive lacks: deflate64 (method 9) made
 * here from a deflate stream (the formats agree below lengths of 258 and
 * distances of 32 KiB), a data descriptor, encrypted and other-method
 * members left alone, EICAR through flt_av_scan; implode (method 6) from
 * clamav-testfiles' clam.impl.zip decoded byte for byte to clam.exe, every
 * truncation and corruption of it without a crash; clam.d64.zip. */
#include "test_av_dec.h"

static size_t local(uint8_t *o, uint16_t flags, uint16_t method, const char *name, const void *data, size_t clen,
		    size_t ulen)
{
	size_t nl = strlen(name);
	uint32_t c = (uint32_t)clen, u = (uint32_t)ulen;

	memcpy(o, "PK\3\4\x14\0", 6);
	memcpy(o + 6, &flags, 2);
	memcpy(o + 8, &method, 2);
	memset(o + 10, 0, 8);
	memcpy(o + 18, &c, 4);
	memcpy(o + 22, &u, 4);
	o[26] = (uint8_t)nl, o[27] = 0, o[28] = 0, o[29] = 0;
	memcpy(o + 30, name, nl);
	memcpy(o + 30 + nl, data, clen);
	return 30 + nl + clen;
}

static void test_deflate64(void **state)
{
	size_t zl, n = 0;
	uint8_t *z = deflate_raw(eicar, EICAR_LEN, &zl);
	uint8_t buf[1024];
	scan_fx_t f;
	rec_t r;

	(void)state;
	n += local(buf + n, 0, 8, "plain.txt", "x", 1, 1);      /* libarchive's */
	n += local(buf + n, 1, 9, "secret.bin", z, zl, EICAR_LEN); /* encrypted: left to libarchive */
	n += local(buf + n, 0, 9, "eicar.com", z, zl, EICAR_LEN);
	n += local(buf + n, 8, 9, "dd.com", z, zl, 0);          /* sizes in a data descriptor */
	memcpy(buf + n, "PK\7\x08", 4), memset(buf + n + 4, 0, 12), n += 16;
	memcpy(buf + n, "PK\1\2", 4), n += 4;                    /* the central directory: stop */
	rec_init(&r, 1u << 20);
	assert_int_equal(av_dec_zipx(sl_slice_make(buf, n), "x.zip", &r.e), 0);
	assert_int_equal(r.n, 2);
	rec_expect(&r, 0, "eicar.com", eicar, EICAR_LEN);
	rec_expect(&r, 1, "dd.com", eicar, EICAR_LEN);
	rec_free(&r);
	scan_fx_open(&f, NULL);
	n = local(buf, 0, 9, "eicar.com", z, zl, EICAR_LEN);
	expect_verdict(scan_fx_run(&f, "d64.zip", buf, n), FLT_AV_INFECTED, FLT_AV_EICAR_NAME, "d64.zip/eicar.com");
	scan_fx_close(&f);
	free(z);
}

static void test_implode(void **state)
{
	size_t zlen, elen;
	uint8_t *zip = sample("clam.impl.zip", &zlen), *exe = sample("clam.exe", &elen);
	uint32_t x = 5;
	rec_t r;

	(void)state;
	if (zip == NULL || exe == NULL) {
		free(zip);
		free(exe);
		return;
	}
	rec_init(&r, 1u << 20);
	assert_int_equal(av_dec_zipx(sl_slice_make(zip, zlen), "clam.impl.zip", &r.e), 0);
	assert_int_equal(r.e.broken, 0);
	rec_expect(&r, 0, "CLAM.EXE", exe, elen);
	rec_free(&r);
	/* the member cap inside the decoder */
	rec_init(&r, 100);
	assert_int_equal(av_dec_zipx(sl_slice_make(zip, zlen), "clam.impl.zip", &r.e), 1);
	assert_non_null(strstr(r.limit, "max_file 100"));
	rec_free(&r);
	for (size_t cut = 0; cut < zlen; cut++) {
		rec_init(&r, 1u << 20);
		assert_int_equal(av_dec_zipx(sl_slice_make(zip, cut), "t.zip", &r.e), 0);
		for (uint32_t i = 0; i < r.n; i++)
			assert_true(r.len[i] <= elen);
		rec_free(&r);
	}
	for (int k = 0; k < 3000; k++) {
		uint8_t *c = malloc(zlen);

		memcpy(c, zip, zlen);
		for (int j = 0; j < 3; j++) {
			x = x * 1103515245u + 12345u;
			c[30 + (x >> 8) % (zlen - 30)] ^= (uint8_t)(x >> 24);
		}
		rec_init(&r, 1u << 20);
		assert_true(av_dec_zipx(sl_slice_make(c, zlen), "c.zip", &r.e) >= 0);
		rec_free(&r);
		free(c);
	}
	free(zip);
	free(exe);
}

static void test_samples(void **state)
{
	static const char *const files[][2] = {
		{"clam.impl.zip", "clam.impl.zip/CLAM.EXE"},
		{"clam.d64.zip", "clam.d64.zip/clam.exe"},
	};
	scan_fx_t f;

	(void)state;
	scan_fx_open(&f, NULL);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		size_t len;
		uint8_t *p = sample(files[i][0], &len);

		if (p == NULL)
			continue;
		expect_verdict(scan_fx_run(&f, files[i][0], p, len), FLT_AV_INFECTED, "Sluice.Test.ClamExe.Body",
			       files[i][1]);
		free(p);
	}
	scan_fx_close(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_deflate64),
		cmocka_unit_test(test_implode),
		cmocka_unit_test(test_samples),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
