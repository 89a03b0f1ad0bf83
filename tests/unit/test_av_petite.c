/* test_av_petite - Petite 2.x: streams made here with a small encoder of
 * the format (the stored first byte, XORed literals, matches with short
 * and long distances, a repeated distance, every length code) in a crafted
 * file whose record list first moves the compressed data and then unpacks
 * it, checked byte for byte; a match before the image, a truncated
 * stream, a record list without its end, a move out of the image, the
 * member cap, level-0 files left alone; clamav-testfiles'
 * clam-petite.exe unpacked (its packed section holds a zip of clam.exe)
 * and detected through flt_av_scan; every truncation and random
 * corruption of both without a crash. */
#include "test_av_dec.h"
#include "test_av_pecraft.h"

/* ---- an encoder: bits MSB first in bytes reserved when the first bit
 * of a byte is written; literal bytes follow what was reserved ---- */

typedef struct pt_enc {
	uint8_t o[4096];
	size_t n, slot;
	uint32_t used; /* bits in o[slot]; 8: full */
	uint32_t left; /* bytes still to produce */
} pt_enc_t;

static void pe_init(pt_enc_t *b, uint32_t total, uint8_t first)
{
	memset(b, 0, sizeof(*b));
	b->o[b->n++] = first;
	b->left = total - 1;
	b->used = 8;
}

static void pe_bit(pt_enc_t *b, uint32_t bit)
{
	if (b->used == 8) {
		b->slot = b->n++;
		b->used = 0;
	}
	b->o[b->slot] |= (uint8_t)((bit & 1) << (7 - b->used));
	b->used++;
}

/* V >= 2: the bits after its leading one, each followed by "more" */
static void pe_gamma(pt_enc_t *b, uint32_t v)
{
	int top = 31;

	while (!(v >> top))
		top--;
	for (int i = top - 1; i >= 0; i--) {
		pe_bit(b, v >> i);
		pe_bit(b, i != 0);
	}
}

static void pe_lit(pt_enc_t *b, uint8_t c)
{
	pe_bit(b, 0);
	b->o[b->n++] = c ^ (uint8_t)b->left;
	b->left--;
}

static void pe_len(pt_enc_t *b, uint32_t code)
{
	if (code <= 3) {
		pe_bit(b, code >> 1);
		pe_bit(b, code);
	} else {
		pe_bit(b, 0);
		pe_bit(b, 0);
		pe_gamma(b, code - 2);
	}
}

/* a match at a new DIST with LEN bytes (blocks under 64 KiB: 5 low bits) */
static void pe_match(pt_enc_t *b, uint32_t dist, uint32_t len)
{
	uint32_t v = dist - 1, neg = ~v, add = 1 + (neg < 0xfffffc60u) + (neg < 0xffffc060u);

	pe_bit(b, 1);
	pe_gamma(b, (v >> 5) + 3);
	for (int i = 4; i >= 0; i--)
		pe_bit(b, v >> i);
	assert_true(len > add);
	pe_len(b, len - add);
	b->left -= len;
}

/* a match at the last distance */
static void pe_rep(pt_enc_t *b, uint32_t len)
{
	pe_bit(b, 1);
	pe_bit(b, 0), pe_bit(b, 0); /* gamma 2 */
	pe_len(b, len);
	b->left -= len;
}

/* ---- a Petite 2.2 file: .text (rva 0x1000) to be unpacked, .petite
 * (rva 0x2000, last) with the entry code at +0x40, the record list at
 * +0x1b8: move the stream from +0x400 to +0x800, unpack it to .text, end */

#define PT_RVA 0x2000u

static uint8_t *pt_file(const uint8_t *stream, size_t slen, uint32_t total, size_t *len_r)
{
	static uint8_t pet[0x1000];
	uint32_t nd = (uint32_t)((slen + 3) / 4);
	uint8_t *rec = pet + 0x1b8;
	pc_sec_t s[2] = {{".text", 0x1000, 0x1000, NULL, 0}, {".petite", PT_RVA, 0x1000, pet, sizeof(pet)}};

	assert_true(slen <= 0x400);
	memset(pet, 0, sizeof(pet));
	pet[0x40] = 0xb8;
	pc_put32(pet + 0x41, 0x400000 + PT_RVA);
	memcpy(pet + 0x400, stream, slen);
	pc_put32(rec, 0x80000000u | nd);
	pc_put32(rec + 4, PT_RVA + 0x400 + 4 * (nd - 1));
	pc_put32(rec + 8, PT_RVA + 0x800 + 4 * (nd - 1));
	pc_put32(rec + 12, PT_RVA + 0x800);
	pc_put32(rec + 16, total);
	pc_put32(rec + 20, 0x1000);
	return pc_build(s, 2, PT_RVA + 0x40, len_r);
}

static void test_stream_byte_for_byte(void **state)
{
	uint8_t want[2048];
	size_t wn = 0, flen;
	pt_enc_t b;
	uint8_t *f;
	rec_t r;
	static const char text[] = "CLAMessageBoxA petite";
	static const uint32_t lens[] = {2, 3, 4, 5, 9, 40, 300};
	uint32_t total = 0;

	(void)state;
	/* the plain text first, to know the total */
	for (size_t i = 0; i < sizeof(text) - 1; i++)
		want[wn++] = (uint8_t)text[i];
	for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
		uint32_t d = k == 6 ? 61 : 7; /* one distance above 32: a longer gamma */

		for (uint32_t j = 0; j < lens[k]; j++, wn++)
			want[wn] = want[wn - d];
		for (uint32_t j = 0; j < 3; j++, wn++) /* a repeat of the last distance */
			want[wn] = want[wn - d];
	}
	want[wn++] = '!';
	total = (uint32_t)wn;
	/* then the same as a stream */
	wn = 0;
	pe_init(&b, total, (uint8_t)text[0]);
	wn = 1;
	for (size_t i = 1; i < sizeof(text) - 1; i++, wn++)
		pe_lit(&b, (uint8_t)text[i]);
	for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
		uint32_t d = k == 6 ? 61 : 7;

		pe_match(&b, d, lens[k]);
		wn += lens[k];
		pe_rep(&b, 3);
		wn += 3;
	}
	pe_lit(&b, '!');
	assert_int_equal(b.left, 0);
	f = pt_file(b.o, b.n, total, &flen);
	pc_seed("pe_petite", f, flen);
	pc_run(&r, f, flen, "p.exe");
	assert_int_equal(r.e.broken, 0);
	assert_int_equal(r.n, 1);
	assert_string_equal(r.name[0], "petite-unpacked");
	assert_memory_equal(r.data[0] + 0x1000, want, total);
	assert_memory_equal(r.data[0], "MZ", 2);
	rec_free(&r);
	/* the cap */
	rec_init(&r, 0x2000);
	assert_int_equal(av_dec_pepack(sl_slice_make(f, flen), "p.exe", &r.e), 1);
	assert_non_null(strstr(r.limit, "max_file"));
	rec_free(&r);
	pc_hostile(f, flen, 5, 0x80, 2000);
	/* truncated: the stream's second half is gone (the move brought
	 * zeros): broken or wrong bytes, never past the image */
	memset(f + PC_HDR + 0x400 + b.n / 2, 0, b.n - b.n / 2);
	pc_run(&r, f, flen, "p.exe");
	assert_true(r.e.broken == 1 || memcmp(r.data[0] + 0x1000, want, total) != 0);
	rec_free(&r);
	free(f);
}

static void test_broken(void **state)
{
	size_t flen;
	pt_enc_t b;
	uint8_t *f, *rec;
	rec_t r;

	(void)state;
	/* a match reaching before the image start */
	pe_init(&b, 100, 'a');
	pe_match(&b, 0x5000, 10);
	f = pt_file(b.o, b.n, 100, &flen);
	pc_run(&r, f, flen, "p.exe");
	assert_int_equal(r.e.broken, 1);
	assert_int_equal(r.n, 1); /* what was unpacked is scanned */
	assert_int_equal(r.data[0][0x1000], 'a');
	rec_free(&r);
	rec = f + PC_HDR + 0x1b8; /* .text has no raw data: .petite comes first */
	/* a move out of the image */
	pc_put32(rec + 8, 0xfffffff0u);
	pc_run(&r, f, flen, "p.exe");
	assert_int_equal(r.e.broken, 1);
	rec_free(&r);
	/* a list that never ends: records of "unpack 0 bytes" up to the end
	 * of the image */
	for (uint32_t k = 0; k <= (0x1000 - 0x1b8) / 16; k++) { /* the last one half */
		pc_put32(rec + 16 * k, 0x1000);
		pc_put32(rec + 16 * k + 4, 0);
	}
	pc_run(&r, f, flen, "p.exe");
	assert_true(r.e.broken >= 1);
	rec_free(&r);
	/* level 0 ("store only") is another format: not taken */
	pc_put32(f + PC_HDR + 0x40 + 0x80, 0x163c988du);
	pc_run(&r, f, flen, "p.exe");
	assert_true(r.n == 0 && r.e.broken == 0);
	rec_free(&r);
	free(f);
}

static void test_sample(void **state)
{
	size_t len;
	uint8_t *p = sample("clam-petite.exe", &len);
	rec_t r;

	(void)state;
	if (p == NULL)
		return;
	pc_sample_one(&r, p, len, "clam-petite.exe");
	assert_null(memmem(p, len, "This is a ClamAV test file", 26));
	assert_non_null(memmem(r.data[0], r.len[0], "This is a ClamAV test file", 26));
	assert_non_null(memmem(r.data[0], r.len[0], "PK\3\4\x14\0\0\0\x08\0", 10));
	rec_free(&r);
	pc_sample_verdict(p, len, "clam-petite.exe", "clam-petite.exe/petite-unpacked/embedded.zip/clam.exe");
	pc_hostile(p, len, 3, 0x80, 3000);
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
