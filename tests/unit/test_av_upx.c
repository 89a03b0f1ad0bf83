/* test_av_upx - UPX-packed PE files: streams made here with a small
 * NRV encoder (literals, a match, the end marker) for NRV2B, NRV2D and
 * NRV2E with 32-, 16- and 8-bit bit buffers; a match before the start of
 * the output counted as broken; the member cap; clamav-testfiles'
 * clam-upx.exe (NRV2B) unpacked and detected through flt_av_scan, every
 * truncation and random corruption of it without a crash. */
#include "test_av_dec.h"

typedef struct bw {
	uint8_t *o;
	size_t n, wpos;
	uint32_t left, w, width;
} bw_t;

static void bw_flush(bw_t *b)
{
	for (uint32_t k = 0; k < b->width / 8; k++)
		b->o[b->wpos + k] = (uint8_t)(b->w >> (8 * k));
}

static void put_bit(bw_t *b, uint32_t bit)
{
	if (b->left == 0) {
		if (b->n > 0 && b->wpos != SIZE_MAX)
			bw_flush(b);
		b->wpos = b->n;
		b->n += b->width / 8;
		b->w = 0;
		b->left = b->width;
	}
	b->left--;
	b->w |= (bit & 1) << b->left;
}

static void put_byte(bw_t *b, uint8_t c)
{
	b->o[b->n++] = c;
}

/* NRV2B: gamma code of V >= 2, bits after the leading one, each followed
 * by 1 on the last and 0 before. */
static void gamma_b(bw_t *b, uint32_t v)
{
	int top = 31;

	while (!(v >> top))
		top--;
	for (int i = top - 1; i >= 0; i--) {
		put_bit(b, v >> i);
		put_bit(b, i == 0);
	}
}

/* A PE whose header area carries a UPX pack header for METHOD and whose
 * second section's raw data (at 0x400) is the stream. */
static size_t upx_pe(uint8_t *f, uint8_t method, const uint8_t *stream, size_t slen, uint32_t ulen)
{
	uint32_t pe = 0x80, st = pe + 24 + 0xe0, raw1 = 0x200, raw2 = 0x400, c = (uint32_t)slen;

	memset(f, 0, 0x400);
	f[0] = 'M', f[1] = 'Z';
	memcpy(f + 0x3c, &pe, 4);
	memcpy(f + pe, "PE\0\0", 4);
	f[pe + 6] = 2;
	f[pe + 20] = 0xe0;
	memcpy(f + st, "UPX0", 4);
	memcpy(f + st + 20, &raw1, 4);
	memcpy(f + st + 40, "UPX1", 4);
	memcpy(f + st + 40 + 20, &raw2, 4);
	memcpy(f + 0x1e0, "UPX!", 4);
	f[0x1e4] = 13, f[0x1e5] = 9, f[0x1e6] = method, f[0x1e7] = 8;
	memcpy(f + 0x1e0 + 16, &ulen, 4);
	memcpy(f + 0x1e0 + 20, &c, 4);
	memcpy(f + 0x400, stream, slen);
	return 0x400 + slen;
}

static void test_nrv2b_literals_match_end(void **state)
{
	uint8_t s[256], f[2048];
	bw_t b = {.o = s, .width = 32, .wpos = SIZE_MAX};
	size_t n;
	rec_t r;

	(void)state;
	/* "abc", then a match at offset 3 with length code 1 (two bytes:
	 * "abcab"), then the end marker */
	for (const char *p = "abc"; *p; p++)
		put_bit(&b, 1), put_byte(&b, (uint8_t)*p);
	put_bit(&b, 0);
	gamma_b(&b, 3); /* m_off 3: (3 - 3) * 256 + byte, then + 1 */
	put_byte(&b, 2);
	put_bit(&b, 0), put_bit(&b, 1); /* m_len 1: m_len + 1 bytes */
	put_bit(&b, 0);
	gamma_b(&b, 0x1000002u);
	put_byte(&b, 0xff);
	bw_flush(&b);
	n = upx_pe(f, 2, s, b.n, 100);
	rec_init(&r, 1u << 20);
	assert_int_equal(av_dec_upx(sl_slice_make(f, n), "p.exe", &r.e), 0);
	assert_int_equal(r.e.broken, 0);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.len[0], 0x200 + 5);
	assert_memory_equal(r.data[0], f, 0x200);
	assert_memory_equal(r.data[0] + 0x200, "abcab", 5);
	rec_free(&r);
	/* the same match with nothing written: broken */
	b = (bw_t){.o = s, .width = 32, .wpos = SIZE_MAX};
	put_bit(&b, 0);
	gamma_b(&b, 3);
	put_byte(&b, 2);
	put_bit(&b, 0), put_bit(&b, 1);
	bw_flush(&b);
	n = upx_pe(f, 2, s, b.n, 100);
	rec_init(&r, 1u << 20);
	assert_int_equal(av_dec_upx(sl_slice_make(f, n), "p.exe", &r.e), 0);
	assert_int_equal(r.e.broken, 1);
	assert_int_equal(r.n, 0);
	rec_free(&r);
}

static void test_variants_literals(void **state)
{
	static const uint8_t methods[] = {2, 3, 4, 5, 6, 7, 8, 9, 10};
	static const uint32_t widths[] = {32, 8, 16, 32, 8, 16, 32, 8, 16};

	(void)state;
	for (size_t k = 0; k < sizeof(methods); k++) {
		uint8_t s[256], f[2048];
		bw_t b = {.o = s, .width = widths[k], .wpos = SIZE_MAX};
		size_t n;
		rec_t r;

		/* EICAR as literals; the declared length ends the stream */
		for (size_t i = 0; i < EICAR_LEN; i++)
			put_bit(&b, 1), put_byte(&b, (uint8_t)eicar[i]);
		bw_flush(&b);
		n = upx_pe(f, methods[k], s, b.n, (uint32_t)EICAR_LEN);
		rec_init(&r, 1u << 20);
		assert_int_equal(av_dec_upx(sl_slice_make(f, n), "v.exe", &r.e), 0);
		assert_int_equal(r.n, 1);
		assert_int_equal(r.len[0], 0x200 + EICAR_LEN);
		assert_memory_equal(r.data[0] + 0x200, eicar, EICAR_LEN);
		rec_free(&r);
		/* the cap */
		rec_init(&r, 0x200 + 10);
		assert_int_equal(av_dec_upx(sl_slice_make(f, n), "v.exe", &r.e), 1);
		assert_non_null(strstr(r.limit, "max_file"));
		rec_free(&r);
	}
	/* LZMA (method 14) is not ours to decode: no member, not broken */
	{
		uint8_t f[2048];
		size_t n = upx_pe(f, 14, (const uint8_t *)"xxxx", 4, 4);
		rec_t r;

		rec_init(&r, 1u << 20);
		assert_int_equal(av_dec_upx(sl_slice_make(f, n), "l.exe", &r.e), 0);
		assert_true(r.n == 0 && r.e.broken == 0);
		rec_free(&r);
	}
}

static void test_sample(void **state)
{
	size_t len;
	uint8_t *p = sample("clam-upx.exe", &len);
	uint32_t x = 11;
	scan_fx_t f;
	rec_t r;

	(void)state;
	if (p == NULL)
		return;
	rec_init(&r, 1u << 20);
	assert_int_equal(av_dec_upx(sl_slice_make(p, len), "clam-upx.exe", &r.e), 0);
	assert_int_equal(r.e.broken, 0);
	assert_int_equal(r.n, 1);
	assert_non_null(memmem(r.data[0], r.len[0], "CLAMessageBoxA", 14));
	rec_free(&r);
	scan_fx_open_pol(&f, NULL, 0);
	expect_verdict(scan_fx_run(&f, "clam-upx.exe", p, len), FLT_AV_INFECTED, "Sluice.Test.ClamExe.Body",
		       "clam-upx.exe/upx-unpacked");
	scan_fx_close(&f);
	for (size_t cut = 0; cut < len; cut += 3) {
		rec_init(&r, 1u << 20);
		assert_true(av_dec_upx(sl_slice_make(p, cut), "t.exe", &r.e) >= 0);
		rec_free(&r);
	}
	for (int k = 0; k < 3000; k++) {
		uint8_t *c = malloc(len);

		memcpy(c, p, len);
		for (int j = 0; j < 3; j++) {
			x = x * 1103515245u + 12345u;
			c[0x3e0 + (x >> 8) % (len - 0x3e0)] ^= (uint8_t)(x >> 24);
		}
		rec_init(&r, 1u << 20);
		assert_true(av_dec_upx(sl_slice_make(c, len), "c.exe", &r.e) >= 0);
		rec_free(&r);
		free(c);
	}
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nrv2b_literals_match_end),
		cmocka_unit_test(test_variants_literals),
		cmocka_unit_test(test_sample),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
