/* test_av_wwpack - WWPack32: streams made here with a small encoder of
 * the format (literals, two-byte matches, every length class of block
 * matches, the end code) packed into a crafted PE and unpacked byte for
 * byte; a match before the image, a stream without its end code, a block
 * table that runs off its section, the member cap, a PE that only looks
 * like WWPack at one of the two places; clamav-testfiles' clam-wwpack.exe
 * unpacked (its packed section holds a zip of clam.exe) and detected
 * through flt_av_scan, every truncation and random
 * corruption of it without a crash. */
#include "test_av_dec.h"
#include "test_av_pecraft.h"

/* ---- an encoder: bits MSB first into little-endian dwords; a new dword
 * is reserved as soon as the last one is full, and literal bytes go after
 * the dwords reserved so far (the decoder's order) ---- */

typedef struct ww_enc {
	uint8_t o[8192];
	size_t n, slot;
	uint32_t w, used;
} ww_enc_t;

static void we_init(ww_enc_t *b)
{
	memset(b, 0, sizeof(*b));
	b->n = 4; /* the first dword */
}

static void we_bit(ww_enc_t *b, uint32_t bit)
{
	b->w |= (bit & 1) << (31 - b->used);
	if (++b->used == 32) {
		pc_put32(b->o + b->slot, b->w);
		b->slot = b->n;
		b->n += 4;
		b->w = 0;
		b->used = 0;
	}
}

static void we_bits(ww_enc_t *b, uint32_t v, uint32_t n)
{
	while (n--)
		we_bit(b, v >> n);
}

static void we_lit(ww_enc_t *b, uint8_t c)
{
	we_bit(b, 0);
	b->o[b->n++] = c;
}

/* a two-byte match, DIST 1..863 */
static void we_match2(ww_enc_t *b, uint32_t dist)
{
	static const uint32_t lo[] = {1, 33, 97, 353}, shift[] = {5, 6, 8, 9};
	uint32_t s = dist < 33 ? 0 : dist < 97 ? 1 : dist < 353 ? 2 : 3;

	we_bit(b, 1);
	we_bits(b, 3, 2);
	we_bits(b, s, 2);
	we_bits(b, dist - lo[s], shift[s]);
}

static void we_end(ww_enc_t *b)
{
	we_bit(b, 1);
	we_bits(b, 3, 2);
	we_bits(b, 3, 2);
	we_bits(b, 0x1ff, 9);
}

/* a block match of LEN 3..252 at DIST 1..32 or 4065..8160 */
static void we_match(ww_enc_t *b, uint32_t dist, uint32_t len)
{
	we_bit(b, 1);
	we_bits(b, len == 3 ? 1 : len == 4 ? 2 : 0, 2);
	if (dist <= 32) {
		we_bits(b, 0, 3);
		we_bits(b, dist - 1, 5);
	} else {
		we_bits(b, 5, 3);
		we_bits(b, dist - 4065, 12);
	}
	if (len <= 4)
		return;
	if (len <= 6) {
		we_bit(b, 0);
		we_bit(b, len - 5);
	} else if (len <= 13) {
		we_bit(b, 1);
		we_bits(b, len - 6, 3);
	} else if (len <= 28) {
		we_bit(b, 1);
		we_bits(b, 0, 3);
		we_bits(b, len - 13, 4);
	} else if (len <= 60) {
		we_bit(b, 1);
		we_bits(b, 0, 7);
		we_bit(b, 1);
		we_bits(b, len - 29, 5);
	} else if (len <= 124) {
		we_bit(b, 1);
		we_bits(b, 0, 7);
		we_bits(b, 1, 2);
		we_bits(b, len - 61, 6);
	} else {
		we_bit(b, 1);
		we_bits(b, 0, 7);
		we_bits(b, 1, 3);
		we_bits(b, len - 125, 7);
	}
}

static size_t we_done(ww_enc_t *b)
{
	pc_put32(b->o + b->slot, b->w);
	b->n = (b->n + 3) & ~(size_t)3;
	return b->n;
}

/* ---- a WWPack32 PE: .text (rva 0x1000) holds STREAM, the stub section
 * (rva 0x3000) the entry code and a one-block table (NBLK records, each
 * pointing at .text; the last says "no more" unless MORE_LAST) ---- */

#define WW_RVA 0x3000u

static uint8_t *ww_pe(const uint8_t *stream, size_t slen, uint32_t nblk, bool more_last, size_t *len_r)
{
	static uint8_t stub[0x400];
	static const uint8_t ep0[] = {0x53, 0x55, 0x8b, 0xe8, 0x33, 0xdb, 0xeb};
	static const uint8_t ep68[] = {0xe8, 0x00, 0x00, 0x00, 0x00, 0x58, 0x2d, 0x6d, 0x00, 0x00,
				       0x00, 0x50, 0x60, 0x33, 0xc9, 0x50, 0x58, 0x50, 0x50};
	pc_sec_t s[2] = {{".text", 0x1000, 0x2000, stream, (uint32_t)slen}, {".WWP32", WW_RVA, 0x400, stub, 0x400}};

	memset(stub, 0, sizeof(stub));
	memcpy(stub, ep0, sizeof(ep0));
	memcpy(stub + 0x68, ep68, sizeof(ep68));
	pc_put32(stub + 0x295, 0x1234 - WW_RVA - 0x299); /* the original entry point 0x1234 */
	for (uint32_t k = 0; k < nblk && 0x2a1 + 17 * (k + 1) <= sizeof(stub); k++) {
		uint8_t *r = stub + 0x2a1 + 17 * k;

		pc_put32(r, WW_RVA - 0x1000);
		pc_put32(r + 8, (uint32_t)(slen / 4));
		pc_put32(r + 12, (uint32_t)slen - 4);
		r[16] = k + 1 < nblk || more_last;
	}
	return pc_build(s, 2, WW_RVA, len_r);
}

static void test_stream_byte_for_byte(void **state)
{
	ww_enc_t b;
	uint8_t want[1024];
	size_t wn = 0, slen, flen;
	uint8_t *f;
	rec_t r;

	(void)state;
	we_init(&b);
	for (const char *p = "CLAMessageBoxA"; *p; p++) {
		we_lit(&b, (uint8_t)*p);
		want[wn++] = (uint8_t)*p;
	}
	we_match2(&b, 14); /* "CL" */
	memcpy(want + wn, want + wn - 14, 2), wn += 2;
	/* one of each length class, all at distance 16 */
	static const uint32_t lens[] = {3, 4, 5, 6, 7, 13, 14, 28, 29, 60, 61, 124, 125, 252};
	for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
		we_match(&b, 16, lens[k]);
		for (uint32_t j = 0; j < lens[k]; j++, wn++)
			want[wn] = want[wn - 16];
	}
	we_lit(&b, '!');
	want[wn++] = '!';
	we_end(&b);
	slen = we_done(&b);
	assert_true(wn <= sizeof(want));
	f = ww_pe(b.o, slen, 1, false, &flen);
	pc_run(&r, f, flen, "w.exe");
	assert_int_equal(r.e.broken, 0);
	assert_int_equal(r.n, 1);
	assert_string_equal(r.name[0], "wwpack-unpacked");
	pc_seed("pe_wwpack", f, flen);

	assert_true(r.len[0] >= 0x1000 + wn);
	assert_memory_equal(r.data[0] + 0x1000, want, wn);
	assert_memory_equal(r.data[0], "MZ", 2);
	/* the section table now points raw data at the RVAs, the entry point
	 * is the original one */
	assert_int_equal(av_le32(r.data[0] + PC_TAB + 20), 0x1000);
	assert_int_equal(av_le32(r.data[0] + PC_TAB + 16), 0x2000);
	assert_int_equal(av_le32(r.data[0] + PC_PE + 24 + 16), 0x1234);
	rec_free(&r);
	/* a stub whose "original" entry point is itself: the member gets 0,
	 * so it is not unpacked again, level after level */
	pc_put32(f + PC_HDR + 0x200 + 0x295, 0u - 0x299);
	pc_run(&r, f, flen, "w.exe");
	assert_int_equal(r.n, 1);
	assert_int_equal(av_le32(r.data[0] + PC_PE + 24 + 16), 0);
	rec_free(&r);
	{
		scan_fx_t fx;

		scan_fx_open_pol(&fx, NULL, 0);
		assert_int_not_equal(scan_fx_run(&fx, "w.exe", f, flen)->verdict, FLT_AV_LIMITS);
		scan_fx_close(&fx);
	}
	pc_put32(f + PC_HDR + 0x200 + 0x295, 0x1234 - WW_RVA - 0x299);
	/* the cap: the image does not fit */
	rec_init(&r, 0x2000);
	assert_int_equal(av_dec_pepack(sl_slice_make(f, flen), "w.exe", &r.e), 1);
	assert_non_null(strstr(r.limit, "max_file"));
	assert_int_equal(r.n, 0);
	rec_free(&r);
	/* two records for the same block: decoded twice (the second run reads
	 * what the first wrote over its input, and goes wrong); a table whose
	 * "more" flag runs off the section is broken, and so is a block count
	 * past the limit */
	free(f);
	f = ww_pe(b.o, slen, 40, true, &flen);
	pc_run(&r, f, flen, "w.exe");
	assert_true(r.e.broken >= 1);
	assert_int_equal(r.n, 1);
	rec_free(&r);
	free(f);
}

static void test_broken_streams(void **state)
{
	ww_enc_t b;
	size_t slen, flen;
	uint8_t *f;
	rec_t r;

	(void)state;
	/* a match reaching before the image: broken, the member still comes */
	we_init(&b);
	we_lit(&b, 'a');
	we_match(&b, 5000, 3);
	we_end(&b);
	slen = we_done(&b);
	f = ww_pe(b.o, slen, 1, false, &flen);
	pc_run(&r, f, flen, "w.exe");
	assert_int_equal(r.e.broken, 1);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.data[0][0x1000], 'a');
	rec_free(&r);
	free(f);
	/* no end code: the stream runs out */
	we_init(&b);
	for (int k = 0; k < 40; k++)
		we_lit(&b, 'x');
	slen = we_done(&b);
	f = ww_pe(b.o, slen, 1, false, &flen);
	pc_run(&r, f, flen, "w.exe");
	assert_int_equal(r.e.broken, 1);
	assert_int_equal(r.n, 1);
	assert_memory_equal(r.data[0] + 0x1000, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", 40);
	rec_free(&r);
	/* only the first look matches (the code at +0x68 differs): not ours */
	f[PC_HDR + 0x200 * 1 + 0x68] ^= 0xff; /* .text takes one 0x200 page here */
	pc_expect(f, flen, "w.exe", 0, 0);
	/* a block larger than the image */
	f[PC_HDR + 0x200 + 0x68] ^= 0xff;
	pc_put32(f + PC_HDR + 0x200 + 0x2a1 + 8, 0x40000000u);
	pc_run(&r, f, flen, "w.exe");
	assert_int_equal(r.e.broken, 1);
	rec_free(&r);
	pc_hostile(f, flen, 1, 0x80, 2000);
	free(f);
}

static void test_sample(void **state)
{
	size_t len;
	uint8_t *p = sample("clam-wwpack.exe", &len);
	scan_fx_t f;
	rec_t r;

	(void)state;
	if (p == NULL)
		return;
	pc_sample_one(&r, p, len, "clam-wwpack.exe");
	/* the packed section held a zip of clam.exe: it is in clear now */
	assert_non_null(memmem(r.data[0], r.len[0], "PK\3\4\x14\0\0\0\x08\0", 10));
	assert_non_null(memmem(r.data[0], r.len[0], "clam.exe", 8));
	rec_free(&r);
	pc_sample_verdict(p, len, "clam-wwpack.exe", "clam-wwpack.exe/wwpack-unpacked/embedded.zip/clam.exe");
	pc_hostile(p, len, 3, 0x80, 3000);
	/* a 4 KiB file that declares a 24 MiB section: the image is built
	 * within max_file, and the expansion ratio refuses it */
	{
		uint32_t pe = av_le32(p + 0x3c), tab = pe + 24 + av_le16(p + pe + 20);
		clock_t t0 = clock();

		pc_put32(p + tab + 40 * 4 + 8, 24u << 20); /* the stub section's virtual size */
		scan_fx_open_pol(&f, NULL, 0);
		expect_verdict(scan_fx_run(&f, "big.exe", p, len), FLT_AV_LIMITS, NULL, "big.exe/wwpack-unpacked");
		assert_non_null(strstr(f.r.reason, "ratio"));
		scan_fx_close(&f);
		assert_true(clock() - t0 < 2 * CLOCKS_PER_SEC);
	}
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stream_byte_for_byte),
		cmocka_unit_test(test_broken_streams),
		cmocka_unit_test(test_sample),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
