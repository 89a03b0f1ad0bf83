/* test_av_aspack - ASPack 2.x: a crafted 2.12 file whose block is a
 * stream made here (fixed-length canonical codes sent through the
 * pre-code: literals, matches with new and repeated distances, a long
 * length, new tables in the middle, kept as deltas), unpacked byte for
 * byte with the CALL transform undone; an incomplete code, a distance
 * before the output, a block list without its end, the member cap, an
 * entry code that matches only in part; clamav-testfiles' clam-aspack.exe
 * unpacked and detected through flt_av_scan; every truncation and random
 * corruption of both without a crash. */
#include "test_av_dec.h"
#include "test_av_pecraft.h"

/* ---- an MSB-first bit writer ---- */

typedef struct bw {
	uint8_t o[8192];
	size_t nbits;
} bw_t;

static void put(bw_t *b, uint32_t v, uint32_t n)
{
	while (n--) {
		if ((v >> n) & 1)
			b->o[b->nbits / 8] |= (uint8_t)(0x80 >> (b->nbits % 8));
		b->nbits++;
	}
}

/* The tables used here: pre-code: symbols 0-15 of 4 bits (code = symbol);
 * main: symbols 0-510 and 720 ("new tables", code 511) of 9 bits; long lengths: 0 and 1 of 1 bit; aligned:
 * all 8 of 3 bits (so it is not used). KEEP: send them as deltas (all
 * zero) from the previous tables. */
static void put_tables(bw_t *b, bool keep)
{
	put(b, keep, 1);
	for (int k = 0; k < 19; k++)
		put(b, k < 16 ? 4 : 0, 4);
	for (uint32_t i = 0; i < 757; i++) {
		uint32_t len = i < 511 || i == 720 ? 9 : i < 721 ? 0 : i < 723 ? 1 : i < 749 ? 0 : 3;

		put(b, keep ? 0 : len, 4);
	}
}

/* distances: slot bases from the stub's extra-bit counts, 2 bits each:
 * base[s] = 4 * s; offsets 0-2 repeat, N >= 3 is distance N - 2 */
#define XB 2

static void put_match(bw_t *b, uint32_t useold, uint32_t len)
{
	uint32_t slot = useold / 4;

	assert_true(len >= 2 && len <= 8 && slot < 32);
	put(b, 256 + slot * 8 + (len - 2), 9);
	put(b, useold % 4, XB);
}

#define AS_RVA 0x3000u
#define MARK 0x5a

static uint8_t want[4096];
static size_t wn;

/* A 2.12 file: .text (rva 0x1000, 0x1000 bytes) is one block holding
 * STREAM; the stub section holds the entry code, tables and block list. */
static uint8_t *as_file(const uint8_t *stream, size_t slen, uint32_t usize, size_t *len_r)
{
	static uint8_t text[0x1000], stub[0x1000];
	pc_sec_t s[2] = {{".text", 0x1000, 0x1000, text, sizeof(text)}, {".aspack", AS_RVA, 0x1000, stub, sizeof(stub)}};

	memset(text, 0, sizeof(text));
	memcpy(text, stream, slen);
	memset(stub, 0, sizeof(stub));
	memcpy(stub + 1, "\x60\xe8\x03\x00\x00\x00\xe9\xeb", 8);
	memcpy(stub + 1 + 0x3b9, "\x68\x00\x00\x00\x00\xc3", 6);
	pc_put32(stub + 0x57c, 0x1000);
	pc_put32(stub + 0x580, usize);
	/* long lengths: symbol 0 = 0 + 3 bits, symbol 1 = 8 + 4 bits */
	stub[0x6d6 + 0] = 0, stub[0x6d6 + 1] = 8;
	stub[0x6d6 + 28] = 3, stub[0x6d6 + 29] = 4;
	for (int k = 0; k < 58; k++)
		stub[0x6d6 + 56 + k] = XB, stub[0x70e + k] = XB;
	stub[0x148] = MARK;
	return pc_build(s, 2, AS_RVA + 1, len_r);
}

static void lit(bw_t *b, uint8_t c)
{
	put(b, c, 9);
	want[wn++] = c;
}

static void copy(uint32_t dist, uint32_t len)
{
	for (uint32_t k = 0; k < len; k++, wn++)
		want[wn] = want[wn - dist];
}

static size_t make_stream(bw_t *b)
{
	memset(b, 0, sizeof(*b));
	wn = 0;
	put_tables(b, false);
	for (const char *p = "CLAMessageBoxA"; *p; p++)
		lit(b, (uint8_t)*p);
	put_match(b, 14 + 2, 5); /* distance 14: "CLAMe" */
	copy(14, 5);
	put_match(b, 0, 8); /* the last distance again */
	copy(14, 8);
	/* a long length: symbol 1 (1 bit), 8 + 4 extra bits of 5: 9 + 13 */
	put(b, 256 + 1 * 8 + 7, 9); /* slot 1 (useold 4..7), length code 7 */
	put(b, 1, 1);
	put(b, 5, 4);
	put(b, 3, XB); /* useold 7: distance 5 */
	copy(5, 22);
	/* new tables, kept as deltas, then more literals */
	put(b, 511, 9); /* symbol 720 */
	put_tables(b, true);
	/* a CALL whose target the packer rotated: E8 <marker> 00 10 00 at 60 */
	for (const uint8_t *p = (const uint8_t *)"\xe8\x5a\x00\x10\x00"; p < (const uint8_t *)"\xe8\x5a\x00\x10\x00" + 5; p++)
		lit(b, *p);
	/* filler up to past the stream's own length (decompression in place) */
	while (wn < 1500) {
		put_match(b, 3 + 2, 8); /* distance 3 */
		copy(3, 8);
	}
	return (b->nbits + 7) / 8;
}

static void test_stream_byte_for_byte(void **state)
{
	bw_t b;
	size_t slen = make_stream(&b), flen;
	uint8_t *f;
	uint32_t call_at;
	rec_t r;

	(void)state;
	assert_true(slen < wn);
	f = as_file(b.o, slen, (uint32_t)wn, &flen);
	pc_seed("pe_aspack", f, flen);
	pc_run(&r, f, flen, "a.exe");
	assert_int_equal(r.e.broken, 0);
	assert_int_equal(r.n, 1);
	assert_string_equal(r.name[0], "aspack-unpacked");
	/* the CALL: target (rotated) 0x00100000 >> 8 = 0x1000, minus its offset */
	call_at = 14 + 5 + 8 + 22;
	assert_int_equal(want[call_at], 0xe8);
	pc_put32(want + call_at + 1, 0x1000 - call_at);
	assert_memory_equal(r.data[0] + 0x1000, want, wn);
	rec_free(&r);
	/* the cap */
	rec_init(&r, 0x2000);
	assert_int_equal(av_dec_pepack(sl_slice_make(f, flen), "a.exe", &r.e), 1);
	assert_non_null(strstr(r.limit, "max_file"));
	rec_free(&r);
	pc_hostile(f, flen, 7, 0x80, 2000);
	/* the entry code without its PUSH 0 / RET: not ASPack */
	f[PC_HDR + 0x1000 + 1 + 0x3b9] = 0x90;
	pc_run(&r, f, flen, "a.exe");
	assert_true(r.n == 0 && r.e.broken == 0);
	rec_free(&r);
	free(f);
}

static void test_broken(void **state)
{
	bw_t b;
	size_t flen;
	uint8_t *f;
	rec_t r;

	(void)state;
	/* an incomplete main code: symbol 720 gets no length */
	memset(&b, 0, sizeof(b));
	put(&b, 0, 1);
	for (int k = 0; k < 19; k++)
		put(&b, k < 16 ? 4 : 0, 4);
	for (uint32_t i = 0; i < 757; i++)
		put(&b, i < 511 ? 9 : i < 721 ? 0 : i < 723 ? 1 : i < 749 ? 0 : 3, 4);
	f = as_file(b.o, (b.nbits + 7) / 8, 1000, &flen);
	pc_run(&r, f, flen, "a.exe");
	assert_int_equal(r.e.broken, 1);
	rec_free(&r);
	free(f);
	/* a distance before the start of the block */
	memset(&b, 0, sizeof(b));
	put_tables(&b, false);
	put(&b, 'x', 9);
	put_match(&b, 40 + 2, 4);
	f = as_file(b.o, (b.nbits + 7) / 8, 1000, &flen);
	pc_run(&r, f, flen, "a.exe");
	assert_int_equal(r.e.broken, 1);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.data[0][0x1000], 'x');
	rec_free(&r);
	/* a block list that runs to the end of the image */
	for (uint32_t k = 0x57c; k + 8 <= 0x1000; k += 8) {
		pc_put32(f + PC_HDR + 0x1000 + k, 0x1000);
		pc_put32(f + PC_HDR + 0x1000 + k + 4, 1);
	}
	pc_run(&r, f, flen, "a.exe");
	assert_true(r.e.broken >= 1);
	rec_free(&r);
	free(f);
}

static void test_sample(void **state)
{
	size_t len;
	uint8_t *p = sample("clam-aspack.exe", &len);
	rec_t r;

	(void)state;
	if (p == NULL)
		return;
	pc_sample_one(&r, p, len, "clam-aspack.exe");
	assert_null(memmem(p, len, "CLAMessageBoxA", 14));
	assert_non_null(memmem(r.data[0], r.len[0], "CLAMessageBoxA", 14));
	assert_non_null(memmem(r.data[0], r.len[0], "This is a ClamAV test file", 26));
	rec_free(&r);
	pc_sample_verdict(p, len, "clam-aspack.exe", "clam-aspack.exe/aspack-unpacked");
	pc_hostile(p, len, 5, 0x80, 3000);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stream_byte_for_byte),
		cmocka_unit_test(test_broken),
		cmocka_unit_test(test_sample),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
