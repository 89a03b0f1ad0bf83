/* test_av_pe - archives embedded in a PE (self-extractors, installers):
 * a zip appended to a minimal PE is found and its EICAR reported through
 * flt_av_scan; a cabinet is cut to its cbCabinet; a cabinet header whose
 * length runs past the end and a "PK\3\4" with a silly version are not
 * taken; a PE with hundreds of magics yields at most 16 members; the
 * InstallShield sample clam_IScab_ext.exe. */
#include "test_av_dec.h"

static size_t pe_stub(uint8_t *o)
{
	memset(o, 0, 0x200);
	o[0] = 'M', o[1] = 'Z';
	o[0x3c] = 0x40;
	memcpy(o + 0x40, "PE\0\0", 4);
	return 0x200;
}

static uint8_t *zip_of(const char *name, const void *p, size_t len, size_t *len_r)
{
	size_t cap = len + 4096, used = 0;
	uint8_t *buf = malloc(cap);
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();

	assert_int_equal(archive_write_set_format_zip(a), ARCHIVE_OK);
	assert_int_equal(archive_write_open_memory(a, buf, cap, &used), ARCHIVE_OK);
	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, (la_int64_t)len);
	assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
	assert_int_equal(archive_write_data(a, p, len), (la_ssize_t)len);
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_entry_free(e);
	archive_write_free(a);
	*len_r = used;
	return buf;
}

static void test_sfx_zip(void **state)
{
	uint8_t buf[8192];
	size_t zl, n = pe_stub(buf);
	uint8_t *z = zip_of("eicar.com", eicar, EICAR_LEN, &zl);
	scan_fx_t f;
	rec_t r;

	(void)state;
	memcpy(buf + n, z, zl);
	n += zl;
	rec_init(&r, 1u << 20);
	assert_int_equal(av_dec_pe_embedded(sl_slice_make(buf, n), "setup.exe", &r.e), 0);
	assert_int_equal(r.n, 1);
	rec_expect(&r, 0, "embedded.zip", z, zl);
	rec_free(&r);
	scan_fx_open_pol(&f, NULL, 0);
	expect_verdict(scan_fx_run(&f, "setup.exe", buf, n), FLT_AV_INFECTED, FLT_AV_EICAR_NAME,
		       "setup.exe/embedded.zip/eicar.com");
	scan_fx_close(&f);
	free(z);
}

static void test_cab_bounds(void **state)
{
	uint8_t buf[4096];
	size_t n = pe_stub(buf);
	uint32_t cb = 100;
	rec_t r;

	(void)state;
	/* a cabinet header claiming 100 bytes, then 20 more bytes of file */
	memset(buf + n, 0, 200);
	memcpy(buf + n, "MSCF\0\0\0\0", 8);
	memcpy(buf + n + 8, &cb, 4);
	buf[n + 24] = 3, buf[n + 25] = 1;
	rec_init(&r, 1u << 20);
	assert_int_equal(av_dec_pe_embedded(sl_slice_make(buf, n + 120), "i.exe", &r.e), 0);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.len[0], 100);
	rec_free(&r);
	/* a length past the end of the file, a wrong version: not taken */
	rec_init(&r, 1u << 20);
	assert_int_equal(av_dec_pe_embedded(sl_slice_make(buf, n + 60), "i.exe", &r.e), 0);
	assert_int_equal(r.n, 0);
	buf[n + 24] = 9;
	assert_int_equal(av_dec_pe_embedded(sl_slice_make(buf, n + 120), "i.exe", &r.e), 0);
	assert_int_equal(r.n, 0);
	memcpy(buf + n, "PK\3\4\x14\xff", 6);
	assert_int_equal(av_dec_pe_embedded(sl_slice_make(buf, n + 120), "i.exe", &r.e), 0);
	assert_int_equal(r.n, 0);
	rec_free(&r);
}

static void test_many(void **state)
{
	/* 500 cabinet headers of 40 bytes each, back to back */
	size_t n = 0x200 + 500 * 40;
	uint8_t *buf = calloc(1, n);
	uint32_t cb = 40;
	rec_t r;

	(void)state;
	pe_stub(buf);
	for (size_t i = 0; i < 500; i++) {
		uint8_t *c = buf + 0x200 + 40 * i;

		memcpy(c, "MSCF\0\0\0\0", 8);
		memcpy(c + 8, &cb, 4);
		c[24] = 3, c[25] = 1;
	}
	rec_init(&r, 1u << 20);
	assert_int_equal(av_dec_pe_embedded(sl_slice_make(buf, n), "m.exe", &r.e), 0);
	assert_int_equal(r.n, 16);
	rec_free(&r);
	free(buf);
}

static void test_sample(void **state)
{
	size_t len;
	uint8_t *p = sample("clam_IScab_ext.exe", &len);
	scan_fx_t f;

	(void)state;
	if (p == NULL)
		return;
	scan_fx_open_pol(&f, NULL, 0);
	expect_verdict(scan_fx_run(&f, "clam_IScab_ext.exe", p, len), FLT_AV_INFECTED, "Sluice.Test.ClamExe.Body",
		       NULL);
	print_message("clam_IScab_ext.exe: %s\n", f.r.where);
	scan_fx_close(&f);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sfx_zip),
		cmocka_unit_test(test_cab_bounds),
		cmocka_unit_test(test_many),
		cmocka_unit_test(test_sample),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
