/* test_av_tnef - winmail.dat ([MS-OXTNEF]): attachments come back named
 * by their attAttachTitle, two attachments, EICAR found through
 * flt_av_scan; a length of 4 GiB, a bad level byte and every truncation
 * end as broken without reading past the input; clamav-testfiles'
 * clam.tnef. */
#include "test_av_dec.h"

static size_t attr(uint8_t *o, uint8_t level, uint32_t id, const void *p, uint32_t len)
{
	o[0] = level;
	memcpy(o + 1, &id, 4); /* the test runs on little-endian x86-64 */
	memcpy(o + 5, &len, 4);
	memcpy(o + 9, p, len);
	o[9 + len] = o[10 + len] = 0; /* checksum, not checked */
	return 11 + len;
}

static size_t tnef(uint8_t *o, const char *t1, const void *d1, uint32_t l1, const char *t2, const void *d2,
		   uint32_t l2)
{
	size_t i = 6;

	memcpy(o, "\x78\x9f\x3e\x22\x01\x00", 6);
	i += attr(o + i, 1, 0x00089006u, "\x01\x00\x00\x00", 4); /* a message-level attribute */
	i += attr(o + i, 2, 0x00069002u, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 14);
	i += attr(o + i, 2, 0x00018010u, t1, (uint32_t)strlen(t1) + 1);
	i += attr(o + i, 2, 0x0006800fu, d1, l1);
	if (t2 != NULL) {
		i += attr(o + i, 2, 0x00069002u, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 14);
		i += attr(o + i, 2, 0x00018010u, t2, (uint32_t)strlen(t2) + 1);
		i += attr(o + i, 2, 0x0006800fu, d2, l2);
	}
	return i;
}

static void test_attachments(void **state)
{
	uint8_t buf[1024];
	size_t n = tnef(buf, "a.txt", "hello", 5, "e.com", eicar, EICAR_LEN);
	scan_fx_t f;
	rec_t r;

	(void)state;
	rec_init(&r, 1u << 20);
	assert_int_equal(av_dec_tnef(sl_slice_make(buf, n), "winmail.dat", &r.e), 0);
	assert_int_equal(r.e.broken, 0);
	assert_int_equal(r.n, 2);
	rec_expect(&r, 0, "a.txt", "hello", 5);
	rec_expect(&r, 1, "e.com", eicar, EICAR_LEN);
	rec_free(&r);
	scan_fx_open(&f, NULL);
	expect_verdict(scan_fx_run(&f, "winmail.dat", buf, n), FLT_AV_INFECTED, FLT_AV_EICAR_NAME,
		       "winmail.dat/e.com");
	/* the extension policy sees attachment titles */
	n = tnef(buf, "run.exe", "harmless", 8, NULL, NULL, 0);
	expect_verdict(scan_fx_run(&f, "winmail.dat", buf, n), FLT_AV_POLICY, "Policy.Extension",
		       "winmail.dat/run.exe");
	scan_fx_close(&f);
}

static void test_hostile(void **state)
{
	uint8_t buf[1024];
	size_t n = tnef(buf, "a.txt", "hello", 5, NULL, NULL, 0);
	rec_t r;

	(void)state;
	/* the attachment data's length says 4 GiB - 1 */
	{
		size_t at = n - (11 + 5); /* the attAttachData attribute */
		uint32_t huge = 0xffffffffu;

		memcpy(buf + at + 5, &huge, 4);
		rec_init(&r, 1u << 20);
		assert_int_equal(av_dec_tnef(sl_slice_make(buf, n), "w.dat", &r.e), 0);
		assert_true(r.e.broken > 0);
		assert_int_equal(r.n, 1); /* what is there is still scanned */
		assert_true(r.len[0] <= 7);
		rec_free(&r);
	}
	/* a level byte that is neither 1 nor 2 */
	n = tnef(buf, "a.txt", "hello", 5, NULL, NULL, 0);
	buf[6] = 9;
	rec_init(&r, 1u << 20);
	assert_int_equal(av_dec_tnef(sl_slice_make(buf, n), "w.dat", &r.e), 0);
	assert_true(r.e.broken > 0 && r.n == 0);
	rec_free(&r);
	/* every truncation */
	n = tnef(buf, "a.txt", "hello", 5, "e.com", eicar, EICAR_LEN);
	for (size_t cut = 0; cut < n; cut++) {
		rec_init(&r, 1u << 20);
		assert_true(av_dec_tnef(sl_slice_make(buf, cut), "w.dat", &r.e) >= 0);
		for (uint32_t i = 0; i < r.n; i++)
			assert_true(r.len[i] <= cut);
		rec_free(&r);
	}
}

static void test_sample(void **state)
{
	size_t len;
	uint8_t *p = sample("clam.tnef", &len);
	scan_fx_t f;

	(void)state;
	if (p == NULL)
		return;
	scan_fx_open(&f, NULL);
	expect_verdict(scan_fx_run(&f, "clam.tnef", p, len), FLT_AV_INFECTED, "Sluice.Test.ClamExe.Body", NULL);
	print_message("clam.tnef: %s\n", f.r.where);
	scan_fx_close(&f);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_attachments),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_sample),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
