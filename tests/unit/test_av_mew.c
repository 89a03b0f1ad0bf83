/* test_av_mew - MEW 11: crafted files whose loader sits in the PE header
 * (at 0x154 and at 0x158), with an aPLib stream made here by a small
 * encoder (literals, short, one-byte, long and repeated matches, a zero
 * byte, the end code) in two blocks, unpacked byte for byte; the LZMA
 * stage (a record list, and the "special" single record with the CALL
 * fix-up) with a raw LZMA stream made by xz-utils (lc 4 lp 0 pb 2); a
 * match before the image, a stream without its end, a block chain past
 * the image, the member cap, an entry jump elsewhere; clamav-testfiles'
 * clam-mew.exe unpacked (its packed section holds a zip of clam.exe) and
 * detected through flt_av_scan; every truncation and random corruption of
 * both without a crash. */
#include "test_av_dec.h"
#include "test_av_pecraft.h"
#include "test_av_aplib.h"

/* ---- a MEW file: section 0 (rva 0x1000, 0x2000, no raw data) is the
 * destination; section 1 (rva 0x3000) starts with JMP to the loader,
 * MEW's data at +0x10. The loader at LOADER in the header: MOV ESI, data;
 * for LZMA, CALL rel32 at +0x7b to +0x100 of section 1, whose byte +8
 * says "special" (0x50) or not ---- */

#define MEW_DATA 0x3010u
#define MEW_OEP 0x1100u

static uint8_t *mew_file(uint32_t loader, const uint8_t *data, size_t dlen, int lzma, size_t *len_r)
{
	static uint8_t s1[0x800];
	pc_sec_t s[2] = {{"MEW", 0x1000, 0x2000, NULL, 0}, {"\x02\xd2u\xdb", 0x3000, 0x1000, s1, sizeof(s1)}};
	uint8_t *f;

	memset(s1, 0, sizeof(s1));
	s1[0] = 0xe9;
	pc_put32(s1 + 1, loader - (0x3000 + 5));
	assert_true(0x10 + dlen <= 0x100);
	memcpy(s1 + 0x10, data, dlen);
	if (lzma)
		s1[0x100 + 8] = lzma == 2 ? 0x50 : 0x90;
	f = pc_build(s, 2, 0x3000, len_r);
	f[loader] = 0xbe;
	pc_put32(f + loader + 1, 0x400000 + MEW_DATA);
	if (lzma) {
		f[loader + 0x7b] = 0xe8;
		pc_put32(f + loader + 0x7c, 0x3100 - (loader + 0x80));
	}
	return f;
}

static void test_aplib_byte_for_byte(void **state)
{
	uint8_t want[512], data[256];
	size_t wn = 0, dn = 0, flen;
	ap_t a;
	uint8_t *f;
	rec_t r;

	(void)state;
	ap_init(&a, 'C');
	want[wn++] = 'C';
	for (const char *p = "LAMessageBoxA"; *p; p++)
		ap_lit(&a, (uint8_t)*p), want[wn++] = (uint8_t)*p;
	ap_short(&a, 13, 3); /* "CLA" */
	memcpy(want + wn, want + wn - 13, 3), wn += 3;
	ap_one(&a, 0); /* a zero byte */
	want[wn++] = 0;
	ap_one(&a, 5);
	want[wn] = want[wn - 5], wn++;
	ap_lit(&a, '-');
	want[wn++] = '-';
	ap_rep(&a, 4); /* the last distance (13) */
	for (int k = 0; k < 4; k++, wn++)
		want[wn] = want[wn - 13];
	while (wn < 0x90)
		ap_lit(&a, (uint8_t)('a' + wn % 26)), want[wn] = (uint8_t)('a' + wn % 26), wn++;
	ap_long(&a, 0x85, 6); /* back to the start: "CLAMes" */
	for (int k = 0; k < 6; k++, wn++)
		want[wn] = want[wn - 0x85];
	ap_end(&a);
	/* the block: u32, OEP, destination, stream; a second block of two
	 * literals to 0x2000, then the end */
	pc_put32(data, 0), pc_put32(data + 4, 0x400000 + MEW_OEP), pc_put32(data + 8, 0x401000);
	memcpy(data + 12, a.o, a.n);
	dn = 12 + a.n;
	pc_put32(data + dn, 0x402000), dn += 4;
	ap_init(&a, 'Z');
	ap_lit(&a, 'Y');
	ap_end(&a);
	memcpy(data + dn, a.o, a.n), dn += a.n;
	pc_put32(data + dn, 0), dn += 4;
	f = mew_file(0x154, data, dn, 0, &flen);
	pc_seed("pe_mew", f, flen);
	pc_run(&r, f, flen, "m.exe");
	assert_int_equal(r.e.broken, 0);
	assert_int_equal(r.n, 1);
	assert_string_equal(r.name[0], "mew-unpacked");
	assert_memory_equal(r.data[0] + 0x1000, want, wn);
	assert_memory_equal(r.data[0] + 0x2000, "ZY", 2);
	assert_int_equal(av_le32(r.data[0] + PC_PE + 24 + 16), MEW_OEP);
	rec_free(&r);
	/* the cap */
	rec_init(&r, 0x3000);
	assert_int_equal(av_dec_pepack(sl_slice_make(f, flen), "m.exe", &r.e), 1);
	assert_non_null(strstr(r.limit, "max_file"));
	rec_free(&r);
	pc_hostile(f, flen, 5, 0x80, 2000);
	/* a jump to elsewhere in the header: not MEW */
	pc_put32(f + PC_HDR + 1, 0x160 - (0x3000 + 5));
	pc_run(&r, f, flen, "m.exe");
	assert_true(r.n == 0 && r.e.broken == 0);
	rec_free(&r);
	free(f);
}

static void test_aplib_broken(void **state)
{
	uint8_t data[64];
	size_t flen, dn;
	ap_t a;
	uint8_t *f;
	rec_t r;

	(void)state;
	/* a match before the image */
	ap_init(&a, 'x');
	ap_bit(&a, 1), ap_bit(&a, 0);
	ap_gamma(&a, 0x30 + 3); /* high byte 0x30: distance 0x2fxx */
	a.o[a.n++] = 0;
	ap_gamma(&a, 2);
	pc_put32(data, 0), pc_put32(data + 4, 0x400000 + MEW_OEP), pc_put32(data + 8, 0x401000);
	memcpy(data + 12, a.o, a.n);
	dn = 12 + a.n;
	f = mew_file(0x154, data, dn, 0, &flen);
	pc_run(&r, f, flen, "m.exe");
	assert_int_equal(r.e.broken, 1);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.data[0][0x1000], 'x');
	rec_free(&r);
	free(f);
	/* a stream without its end code: the literals run to the end of the
	 * image and stop there */
	ap_init(&a, 'y');
	for (int k = 0; k < 20; k++)
		ap_lit(&a, 'y');
	memcpy(data + 12, a.o, a.n);
	f = mew_file(0x154, data, 12 + a.n, 0, &flen);
	pc_run(&r, f, flen, "m.exe");
	assert_int_equal(r.e.broken, 1);
	rec_free(&r);
	free(f);
}

/* 141 bytes, and their raw LZMA (xz-utils: Python lzma, FORMAT_RAW, LZMA1
 * lc 4 lp 0 pb 2, end marker) */
static const uint8_t lz_plain[] = {
	0x43, 0x4c, 0x41, 0x4d, 0x65, 0x73, 0x73, 0x61, 0x67, 0x65, 0x42, 0x6f, 0x78, 0x41, 0x3a, 0x6d, 0x65, 0x77,
	0x2d, 0x6c, 0x7a, 0x6d, 0x61, 0x2d, 0x73, 0x74, 0x61, 0x67, 0x65, 0x3a, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35,
	0x36, 0x37, 0x38, 0x39, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x30, 0x31, 0x32, 0x33,
	0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0xe8, 0x00, 0x00, 0x10, 0x00, 0x74, 0x61, 0x69, 0x6c, 0x2d, 0x6f, 0x66,
	0x2d, 0x74, 0x68, 0x65, 0x2d, 0x6d, 0x65, 0x77, 0x2d, 0x74, 0x65, 0x73, 0x74, 0x43, 0x4c, 0x41, 0x4d, 0x65,
	0x73, 0x73, 0x61, 0x67, 0x65, 0x42, 0x6f, 0x78, 0x41, 0x43, 0x4c, 0x41, 0x4d, 0x65, 0x73, 0x73, 0x61, 0x67,
	0x65, 0x42, 0x6f, 0x78, 0x41, 0x43, 0x4c, 0x41, 0x4d, 0x65, 0x73, 0x73, 0x61, 0x67, 0x65, 0x42, 0x6f, 0x78,
	0x41, 0x43, 0x4c, 0x41, 0x4d, 0x65, 0x73, 0x73, 0x61, 0x67, 0x65, 0x42, 0x6f, 0x78, 0x41,
};
static const uint8_t lz_stream[] = {
	0x00, 0x21, 0x93, 0x04, 0x26, 0x92, 0x80, 0x14, 0x8d, 0xde, 0x7d, 0x7c, 0x0e, 0xce, 0x7f, 0xa3, 0xa4,
	0xe4, 0xac, 0xad, 0x0c, 0xf8, 0x43, 0xf7, 0x28, 0x44, 0xc8, 0x3c, 0x7a, 0x62, 0x54, 0x72, 0x75, 0x43,
	0x4c, 0x73, 0x12, 0xaa, 0xc8, 0x2a, 0x85, 0x30, 0x08, 0x98, 0xab, 0x19, 0x8e, 0x00, 0x0b, 0xf8, 0xba,
	0x3f, 0x1a, 0xaa, 0x51, 0x5d, 0xfd, 0x69, 0x9e, 0xd0, 0x80, 0x5c, 0xf7, 0xf1, 0x82, 0xc8, 0x51, 0x26,
	0xef, 0xc3, 0x3b, 0x53, 0x90, 0x2b, 0xe2, 0xaf, 0x73, 0xbf, 0xf9, 0x96, 0xfe, 0x80,
};

/* MEW's data for the LZMA stage: one aPLib block ("LZ" to 0x2800), then
 * [fix-up length] work area, one record to 0x1000, and the end */
static size_t lz_data(uint8_t *data, bool special)
{
	size_t dn = 0;
	ap_t a;

	pc_put32(data, 0), pc_put32(data + 4, 0x400000 + MEW_OEP), pc_put32(data + 8, 0x402800);
	dn = 12;
	ap_init(&a, 'L');
	ap_lit(&a, 'Z');
	ap_end(&a);
	memcpy(data + dn, a.o, a.n), dn += a.n;
	pc_put32(data + dn, 0), dn += 4;
	if (special)
		pc_put32(data + dn, sizeof(lz_plain)), dn += 4;
	pc_put32(data + dn, 0x402c00), dn += 4; /* work area */
	pc_put32(data + dn, sizeof(lz_plain)), dn += 4;
	pc_put32(data + dn, 0x401000), dn += 4;
	pc_put32(data + dn, sizeof(lz_stream)), dn += 4;
	data[dn++] = 0x5e; /* the byte before the stream */
	memcpy(data + dn, lz_stream, sizeof(lz_stream)), dn += sizeof(lz_stream);
	pc_put32(data + dn, 0), dn += 4;
	return dn;
}

static void test_lzma_stage(void **state)
{
	uint8_t data[240], want[sizeof(lz_plain)];
	size_t dn, flen;
	uint8_t *f;
	rec_t r;

	(void)state;
	/* the record list */
	dn = lz_data(data, false);
	f = mew_file(0x158, data, dn, 1, &flen);
	pc_run(&r, f, flen, "l.exe");
	assert_int_equal(r.e.broken, 0);
	assert_int_equal(r.n, 1);
	assert_memory_equal(r.data[0] + 0x2800, "LZ", 2);
	assert_memory_equal(r.data[0] + 0x1000, lz_plain, sizeof(lz_plain));
	rec_free(&r);
	/* a packed size past the image */
	pc_put32(f + PC_HDR + 0x10 + dn - 4 - sizeof(lz_stream) - 1 - 4, 0x10000);
	pc_run(&r, f, flen, "l.exe");
	assert_int_equal(r.e.broken, 1);
	rec_free(&r);
	free(f);
	/* the special build: one record, then E8 + big-endian absolute target
	 * (0x1000) becomes relative to the byte after E8 */
	dn = lz_data(data, true);
	f = mew_file(0x158, data, dn, 2, &flen);
	pc_seed("pe_mew_lzma", f, flen);
	pc_run(&r, f, flen, "l.exe");
	assert_int_equal(r.e.broken, 0);
	memcpy(want, lz_plain, sizeof(want));
	assert_int_equal(want[60], 0xe8);
	pc_put32(want + 61, 0x1000 - 61);
	assert_memory_equal(r.data[0] + 0x1000, want, sizeof(want));
	rec_free(&r);
	pc_hostile(f, flen, 3, 0x80, 2000);
	free(f);
}

static void test_sample(void **state)
{
	size_t len;
	uint8_t *p = sample("clam-mew.exe", &len);
	rec_t r;

	(void)state;
	if (p == NULL)
		return;
	pc_sample_one(&r, p, len, "clam-mew.exe");
	assert_null(memmem(p, len, "This is a ClamAV test file", 26));
	assert_non_null(memmem(r.data[0], r.len[0], "This is a ClamAV test file", 26));
	assert_non_null(memmem(r.data[0], r.len[0], "PK\3\4\x14\0\0\0\x08\0", 10));
	rec_free(&r);
	pc_sample_verdict(p, len, "clam-mew.exe", "clam-mew.exe/mew-unpacked/embedded.zip/clam.exe");
	pc_hostile(p, len, 1, 0x40, 3000);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_aplib_byte_for_byte),
		cmocka_unit_test(test_aplib_broken),
		cmocka_unit_test(test_lzma_stage),
		cmocka_unit_test(test_sample),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
