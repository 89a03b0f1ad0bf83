/* test_av_vba - VBA macros in OLE2 files ([MS-OVBA]): the decompression
 * of literal runs, copy tokens and raw chunks, bad chunk signatures and
 * offsets before the chunk refused, every truncation; a project built here
 * (a "dir" stream naming Module1 and the offset of its source) whose
 * module source is EICAR, found through flt_av_scan as "x.doc/Module1.vba". */
#include "test_av_dec.h"

/* A compressed container of all-literal tokens (one chunk, < 4096 bytes). */
static size_t ovba_literals(const void *p, size_t n, uint8_t *o)
{
	size_t i = 3;

	o[0] = 0x01;
	for (size_t k = 0; k < n; k++) {
		if (k % 8 == 0)
			o[i++] = 0x00;
		o[i++] = ((const uint8_t *)p)[k];
	}
	{
		uint16_t h = (uint16_t)(0xb000 | ((i - 1 - 3) & 0x0fff)); /* compressed, signature 0b011 */

		o[1] = (uint8_t)h, o[2] = (uint8_t)(h >> 8);
	}
	return i;
}

static void test_decompress(void **state)
{
	/* "abc" then a copy token: offset 3, length 6 -> "abcabcabc" (4 offset bits
	 * at position 3: token = (3 - 1) << 12 | (6 - 3)) */
	static const uint8_t copy[] = {0x01, 0x05, 0xb0, 0x08, 'a', 'b', 'c', 0x03, 0x20};
	static const uint8_t badsig[] = {0x01, 0x05, 0xa0, 0x00, 'a', 'b', 'c'};
	static const uint8_t before[] = {0x01, 0x03, 0xb0, 0x01, 0x03, 0x20};
	uint8_t lit[256], raw[4100];
	size_t n = ovba_literals(eicar, EICAR_LEN, lit);
	sl_buf_t out;
	rec_t r;

	(void)state;
	rec_init(&r, 1u << 20);
	av_emit_buf_init(&r.e, &out);
	assert_int_equal(av_vba_decompress(sl_slice_make(lit, n), &r.e, &out), 0);
	assert_int_equal(out.len, EICAR_LEN);
	assert_memory_equal(out.data, eicar, EICAR_LEN);
	sl_buf_reset(&out);
	assert_int_equal(av_vba_decompress(sl_slice_make(copy, sizeof(copy)), &r.e, &out), 0);
	assert_int_equal(out.len, 9);
	assert_memory_equal(out.data, "abcabcabc", 9);
	sl_buf_reset(&out);
	assert_int_equal(av_vba_decompress(sl_slice_make(badsig, sizeof(badsig)), &r.e, &out), SL_EINVAL);
	sl_buf_reset(&out);
	assert_int_equal(av_vba_decompress(sl_slice_make(before, sizeof(before)), &r.e, &out), SL_EINVAL);
	/* a raw chunk: 4096 bytes as they are */
	raw[0] = 0x01, raw[1] = 0xff, raw[2] = 0x3f;
	memset(raw + 3, 'R', 4096);
	sl_buf_reset(&out);
	assert_int_equal(av_vba_decompress(sl_slice_make(raw, 4099), &r.e, &out), 0);
	assert_int_equal(out.len, 4096);
	for (size_t cut = 0; cut < n; cut++) {
		int rc;

		sl_buf_reset(&out);
		rc = av_vba_decompress(sl_slice_make(lit, cut), &r.e, &out);
		assert_true(rc == 0 || rc == SL_EINVAL);
		assert_true(out.len <= EICAR_LEN);
	}
	sl_buf_free(&out);
	rec_free(&r);
}

static size_t rec16(uint8_t *o, uint16_t id, const void *p, uint32_t len)
{
	memcpy(o, &id, 2);
	memcpy(o + 2, &len, 4);
	memcpy(o + 6, p, len);
	return 6 + len;
}

static void test_project(void **state)
{
	uint8_t recs[256], dirs[512], mod[256], *f;
	size_t rn = 0, dn, mn, len;
	uint32_t off = 4;
	scan_fx_t fx;
	rec_t r;

	(void)state;
	/* PROJECTVERSION (its size field says 4, 6 bytes follow), then one module */
	rn += rec16(recs + rn, 0x0009, "\x04\x00\x00\x00\x01\x00", 4);
	recs[rn++] = 0, recs[rn++] = 0; /* the two extra bytes of PROJECTVERSION */
	rn += rec16(recs + rn, 0x0019, "Module1", 7);
	rn += rec16(recs + rn, 0x001a, "Module1", 7);
	rn += rec16(recs + rn, 0x0031, &off, 4);
	rn += rec16(recs + rn, 0x002b, "", 0);
	dn = ovba_literals(recs, rn, dirs);
	memcpy(mod, "PCOD", 4); /* performance cache before the source */
	mn = 4 + ovba_literals(eicar, EICAR_LEN, mod + 4);
	{
		stream_t s[] = {{"dir", dirs, dn}, {"Module1", mod, mn}};

		f = cfb_build(s, 2, &len, NULL);
	}
	rec_init(&r, 1u << 20);
	assert_int_equal(av_dec_ole2(sl_slice_make(f, len), "x.doc", &r.e), 0);
	assert_int_equal(r.e.broken, 0);
	assert_int_equal(r.n, 3);
	rec_expect(&r, 2, "Module1.vba", eicar, EICAR_LEN);
	rec_free(&r);
	scan_fx_open(&fx, NULL);
	expect_verdict(scan_fx_run(&fx, "x.doc", f, len), FLT_AV_INFECTED, FLT_AV_EICAR_NAME, "x.doc/Module1.vba");
	scan_fx_close(&fx);
	free(f);
	/* a module offset past its stream: nothing decoded, no crash */
	off = 100000;
	rn = 0;
	rn += rec16(recs + rn, 0x001a, "Module1", 7);
	rn += rec16(recs + rn, 0x0031, &off, 4);
	rn += rec16(recs + rn, 0x002b, "", 0);
	dn = ovba_literals(recs, rn, dirs);
	{
		stream_t s[] = {{"dir", dirs, dn}, {"Module1", mod, mn}};

		f = cfb_build(s, 2, &len, NULL);
	}
	rec_init(&r, 1u << 20);
	assert_int_equal(av_dec_ole2(sl_slice_make(f, len), "y.doc", &r.e), 0);
	assert_int_equal(r.n, 2);
	rec_free(&r);
	free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decompress),
		cmocka_unit_test(test_project),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
