/* test_av_ole2 - OLE2 compound files ([MS-CFB]) built here sector by
 * sector: streams come back as members, an OLE1 package (\1Ole10Native)
 * gives its file, EICAR in a stream is found through flt_av_scan; hostile
 * files (a FAT chain that loops, a sector past the end, a FAT count far
 * beyond the file, every truncation, random corruption) end as broken
 * without a hang; clamav-testfiles' clam.ole.doc (mini stream) and
 * clam.ppt (zlib-compressed PowerPoint object). */
#include "test_av_dec.h"

/* An OLE1 package holding DATA as NAME (the \1Ole10Native layout). */
static size_t package(const char *name, const void *data, size_t len, uint8_t *out)
{
	size_t i = 4, nl = strlen(name) + 1;

	out[i++] = 2;
	out[i++] = 0;
	memcpy(out + i, name, nl);
	i += nl;
	memcpy(out + i, "C:\\x\\", 6);
	memcpy(out + i + 5, name, nl);
	i += 5 + nl;
	out[i++] = 0;
	out[i++] = 0;
	out[i++] = 3;
	out[i++] = 0;
	cfb_put32(out + i, (uint32_t)nl);
	i += 4;
	memcpy(out + i, name, nl);
	i += nl;
	cfb_put32(out + i, (uint32_t)len);
	i += 4;
	memcpy(out + i, data, len);
	i += len;
	cfb_put32(out, (uint32_t)(i - 4));
	return i;
}

static void test_streams(void **state)
{
	uint8_t big[3000], pkg[512];
	size_t plen = package("e.com", eicar, EICAR_LEN, pkg), len;
	stream_t s[] = {{"WordDocument", big, sizeof(big)}, {"\001Ole10Native", pkg, plen}, {"tiny", "abc", 3}};
	uint8_t *f;
	rec_t r;

	(void)state;
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7);
	f = cfb_build(s, 3, &len, NULL);
	rec_init(&r, 1u << 20);
	assert_int_equal(av_dec_ole2(sl_slice_make(f, len), "x.doc", &r.e), 0);
	assert_int_equal(r.e.broken, 0);
	assert_int_equal(r.n, 4);
	rec_expect(&r, 0, "WordDocument", big, sizeof(big));
	rec_expect(&r, 1, "e.com", eicar, EICAR_LEN); /* the package's file first */
	rec_expect(&r, 2, "\001Ole10Native", pkg, plen);
	rec_expect(&r, 3, "tiny", "abc", 3);
	rec_free(&r);
	/* a member cap below a stream's size: the limit, named */
	rec_init(&r, 1000);
	assert_int_equal(av_dec_ole2(sl_slice_make(f, len), "x.doc", &r.e), 1);
	assert_non_null(strstr(r.limit, "max_file 1000"));
	rec_free(&r);
	free(f);
}

static void test_scan(void **state)
{
	uint8_t pkg[512];
	size_t plen = package("readme.txt", eicar, EICAR_LEN, pkg), len;
	stream_t s1[] = {{"Data", eicar, EICAR_LEN}};
	stream_t s2[] = {{"\001Ole10Native", pkg, plen}};
	scan_fx_t fx;
	uint8_t *f;

	(void)state;
	scan_fx_open(&fx, NULL);
	f = cfb_build(s1, 1, &len, NULL);
	expect_verdict(scan_fx_run(&fx, "a.doc", f, len), FLT_AV_INFECTED, FLT_AV_EICAR_NAME, "a.doc/Data");
	free(f);
	f = cfb_build(s2, 1, &len, NULL);
	expect_verdict(scan_fx_run(&fx, "b.xls", f, len), FLT_AV_INFECTED, FLT_AV_EICAR_NAME, "b.xls/readme.txt");
	free(f);
	scan_fx_close(&fx);
}

static void test_hostile(void **state)
{
	uint8_t big[5000];
	stream_t s[] = {{"S", big, sizeof(big)}};
	uint32_t *fat;
	size_t len;
	uint8_t *f;
	rec_t r;
	double t0 = now_s();

	(void)state;
	memset(big, 'x', sizeof(big));
	/* a FAT loop: the stream's second sector points back to its first */
	f = cfb_build(s, 1, &len, &fat);
	cfb_put32((uint8_t *)&fat[3], 2);
	rec_init(&r, 1u << 20);
	assert_int_equal(av_dec_ole2(sl_slice_make(f, len), "loop.doc", &r.e), 0);
	assert_true(r.e.broken > 0);
	assert_true(r.n == 1 && r.len[0] < sizeof(big) + SECT * 20);
	rec_free(&r);
	/* a chain into a sector past the end */
	cfb_put32((uint8_t *)&fat[3], 100000);
	rec_init(&r, 1u << 20);
	assert_int_equal(av_dec_ole2(sl_slice_make(f, len), "far.doc", &r.e), 0);
	assert_true(r.e.broken > 0);
	rec_free(&r);
	/* a directory chain that loops on itself */
	cfb_put32((uint8_t *)&fat[3], 4);
	cfb_put32((uint8_t *)&fat[1], 1);
	rec_init(&r, 1u << 20);
	assert_int_equal(av_dec_ole2(sl_slice_make(f, len), "dirloop.doc", &r.e), 0);
	rec_free(&r);
	free(f);
	/* a FAT count far beyond the file, a sector shift that is not 9 or 12 */
	f = cfb_build(s, 1, &len, NULL);
	cfb_put32(f + 0x2c, 0x7fffffffu);
	rec_init(&r, 1u << 20);
	assert_int_equal(av_dec_ole2(sl_slice_make(f, len), "fat.doc", &r.e), 0);
	assert_true(r.e.broken > 0 && r.n == 0);
	rec_free(&r);
	cfb_put32(f + 0x2c, 1);
	f[0x1e] = 30;
	rec_init(&r, 1u << 20);
	assert_int_equal(av_dec_ole2(sl_slice_make(f, len), "shift.doc", &r.e), 0);
	assert_true(r.e.broken > 0 && r.n == 0);
	rec_free(&r);
	f[0x1e] = 9;
	/* every truncation, and random corruption */
	for (size_t cut = 0; cut < len; cut += 7) {
		rec_init(&r, 1u << 20);
		assert_true(av_dec_ole2(sl_slice_make(f, cut), "t.doc", &r.e) >= 0);
		rec_free(&r);
	}
	{
		uint32_t x = 99;
		uint8_t *c = malloc(len);

		for (int k = 0; k < 3000; k++) {
			memcpy(c, f, len);
			for (int j = 0; j < 6; j++) {
				x = x * 1103515245u + 12345u;
				c[(x >> 8) % (3 * SECT)] = (uint8_t)(x >> 20);
			}
			rec_init(&r, 1u << 20);
			assert_true(av_dec_ole2(sl_slice_make(c, len), "c.doc", &r.e) >= 0);
			rec_free(&r);
		}
		free(c);
	}
	free(f);
	assert_true(now_s() - t0 < 10.0);
}

static void test_samples(void **state)
{
	static const char *const files[][2] = {
		{"clam.ole.doc", "clam.ole.doc/Clam.exe"},
		{"clam.ppt", "clam.ppt/ExOleObjStg/\001Ole10Native"},
	};
	scan_fx_t f;

	(void)state;
	scan_fx_open(&f, NULL);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		size_t len;
		uint8_t *p = sample(files[i][0], &len);

		if (p == NULL)
			continue;
		expect_verdict(scan_fx_run(&f, files[i][0], p, len), FLT_AV_INFECTED, "Sluice.Test.ClamExe.Body", NULL);
		print_message("%s: %s\n", files[i][0], f.r.where);
		free(p);
	}
	scan_fx_close(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_streams),
		cmocka_unit_test(test_scan),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_samples),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
