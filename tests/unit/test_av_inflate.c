/* test_av_inflate - our deflate/zlib decoder (flt_av_inflate.c) against
 * libarchive's gzip writer: mixed text and random data round-trip, stored
 * blocks, the output cap, every truncation and corrupted streams refused
 * without a crash, a distance before the start refused, and the zlib
 * header checks. */
#include "test_av_dec.h"

static uint8_t *mixed(size_t n)
{
	uint8_t *p = malloc(n);
	uint32_t x = 12345;

	assert_non_null(p);
	for (size_t i = 0; i < n; i++) {
		x = x * 1103515245u + 12345u;
		/* runs of text (matches) and runs of noise (literals) */
		p[i] = (i / 4096) % 2 ? (uint8_t)(x >> 16) : (uint8_t)("the quick brown fox "[i % 20]);
	}
	return p;
}

static void test_roundtrip(void **state)
{
	size_t sizes[] = {0, 1, 100, 70000, 300000};

	(void)state;
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		uint8_t *src = mixed(sizes[k]), *z;
		size_t zlen, used = 0;
		sl_buf_t out;

		z = deflate_raw(src, sizes[k], &zlen);
		sl_buf_init(&out, sizes[k] + 1);
		assert_int_equal(av_inflate(sl_slice_make(z, zlen), false, &out, &used), 0);
		assert_int_equal(out.len, sizes[k]);
		if (sizes[k])
			assert_memory_equal(out.data, src, sizes[k]);
		assert_true(used <= zlen);
		/* the same stream with a smaller output maximum */
		if (sizes[k] > 10) {
			sl_buf_reset(&out);
			out.max = sizes[k] / 2;
			assert_int_equal(av_inflate(sl_slice_make(z, zlen), false, &out, NULL), SL_ELIMIT);
			assert_true(out.len <= sizes[k] / 2);
		}
		sl_buf_free(&out);
		free(src);
		free(z);
	}
}

static void test_stored_and_zlib(void **state)
{
	/* one final stored block "hello", then the same in a zlib wrapper */
	static const uint8_t stored[] = {0x01, 0x05, 0x00, 0xfa, 0xff, 'h', 'e', 'l', 'l', 'o'};
	static const uint8_t zl[] = {0x78, 0x01, 0x01, 0x05, 0x00, 0xfa, 0xff, 'h', 'e', 'l', 'l', 'o', 0, 0, 0, 0};
	static const uint8_t badhdr[] = {0x78, 0x02, 0x01, 0x05, 0x00, 0xfa, 0xff, 'h', 'e', 'l', 'l', 'o'};
	static const uint8_t badlen[] = {0x01, 0x05, 0x00, 0xfa, 0xfe, 'h', 'e', 'l', 'l', 'o'};
	sl_buf_t out;

	(void)state;
	sl_buf_init(&out, 1024);
	assert_int_equal(av_inflate(sl_slice_make(stored, sizeof(stored)), false, &out, NULL), 0);
	assert_int_equal(out.len, 5);
	assert_memory_equal(out.data, "hello", 5);
	sl_buf_reset(&out);
	assert_int_equal(av_zlib(sl_slice_make(zl, sizeof(zl)), &out), 0);
	assert_memory_equal(out.data, "hello", 5);
	sl_buf_reset(&out);
	assert_int_equal(av_zlib(sl_slice_make(badhdr, sizeof(badhdr)), &out), SL_EINVAL);
	assert_int_equal(av_inflate(sl_slice_make(badlen, sizeof(badlen)), false, &out, NULL), SL_EINVAL);
	assert_int_equal(av_zlib(sl_slice_make(zl, 1), &out), SL_EINVAL);
	sl_buf_free(&out);
}

static void test_distance_before_start(void **state)
{
	/* fixed Huffman: a match (length 3, distance 1) with nothing written yet.
	 * Bits LSB first: BFINAL 1, BTYPE 01, then code 257 (0000001, 7 bits),
	 * distance code 0 (00000, 5 bits). */
	static const uint8_t bad[] = {0x03, 0x02, 0x00, 0x00};
	sl_buf_t out;

	(void)state;
	sl_buf_init(&out, 1024);
	assert_int_equal(av_inflate(sl_slice_make(bad, sizeof(bad)), false, &out, NULL), SL_EINVAL);
	sl_buf_free(&out);
}

static void test_truncated_and_corrupt(void **state)
{
	uint8_t *src = mixed(50000), *z;
	size_t zlen;
	sl_buf_t out;
	uint32_t x = 7;

	(void)state;
	z = deflate_raw(src, 50000, &zlen);
	sl_buf_init(&out, 1u << 20);
	for (size_t cut = 0; cut < zlen; cut += 1 + cut / 64) {
		sl_buf_reset(&out);
		assert_int_equal(av_inflate(sl_slice_make(z, cut), false, &out, NULL), SL_EINVAL);
		assert_true(out.len <= 50000);
	}
	for (int k = 0; k < 2000; k++) {
		uint8_t *c = malloc(zlen);
		int rc;

		memcpy(c, z, zlen);
		for (int j = 0; j < 4; j++) {
			x = x * 1103515245u + 12345u;
			c[(x >> 8) % zlen] ^= (uint8_t)(1u << ((x >> 4) & 7));
		}
		sl_buf_reset(&out);
		rc = av_inflate(sl_slice_make(c, zlen), k % 2 == 0, &out, NULL);
		assert_true(rc == 0 || rc == SL_EINVAL || rc == SL_ELIMIT);
		assert_true(out.len <= out.max);
		free(c);
	}
	sl_buf_free(&out);
	free(src);
	free(z);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_stored_and_zlib),
		cmocka_unit_test(test_distance_before_start),
		cmocka_unit_test(test_truncated_and_corrupt),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
