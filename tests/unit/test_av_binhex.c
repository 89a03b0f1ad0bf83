/* test_av_binhex - BinHex 4.0 encoded here: header, data and resource
 * forks come back as members, run-length coding (0x90 runs and the
 * literal 0x90) decodes, EICAR is found through flt_av_scan, a run-length
 * bomb stops at the member cap, a bad character and every truncation end
 * without a crash; clamav-testfiles' clam.exe.binhex. */
#include "test_av_dec.h"

static const char alpha[] = "!\"#$%&'()*+,-012345689@ABCDEFGHIJKLMNPQRSTUVXYZ[`abcdefhijklmpqr";

/* 8-bit stream RAW (already run-length coded) to BinHex text in OUT. */
static size_t bh_text(const uint8_t *raw, size_t n, char *out)
{
	size_t o = (size_t)sprintf(out, "(This file must be converted with BinHex 4.0)\r\n:");
	uint32_t acc = 0, bits = 0, col = 1;

	for (size_t i = 0; i < n; i++) {
		acc = acc << 8 | raw[i];
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			out[o++] = alpha[(acc >> bits) & 63];
			if (++col == 64) {
				out[o++] = '\r';
				out[o++] = '\n';
				col = 0;
			}
		}
	}
	if (bits > 0)
		out[o++] = alpha[(acc << (6 - bits)) & 63];
	out[o++] = ':';
	out[o] = '\0';
	return o;
}

/* Header for NAME with fork lengths; no run-length coding needed as long
 * as no byte is 0x90. */
static size_t bh_raw(uint8_t *o, const char *name, const void *data, uint32_t dlen, const void *rsrc,
		     uint32_t rlen)
{
	size_t i = 0, nl = strlen(name);

	o[i++] = (uint8_t)nl;
	memcpy(o + i, name, nl);
	i += nl;
	o[i++] = 0;
	memcpy(o + i, "TEXTttxt\0\0", 10);
	i += 10;
	o[i++] = (uint8_t)(dlen >> 24), o[i++] = (uint8_t)(dlen >> 16), o[i++] = (uint8_t)(dlen >> 8),
	o[i++] = (uint8_t)dlen;
	o[i++] = (uint8_t)(rlen >> 24), o[i++] = (uint8_t)(rlen >> 16), o[i++] = (uint8_t)(rlen >> 8),
	o[i++] = (uint8_t)rlen;
	o[i++] = 0x12, o[i++] = 0x34; /* header CRC: not checked */
	memcpy(o + i, data, dlen);
	i += dlen;
	o[i++] = 0, o[i++] = 1;
	memcpy(o + i, rsrc, rlen);
	i += rlen;
	o[i++] = 0, o[i++] = 1;
	return i;
}

static void test_decode(void **state)
{
	uint8_t raw[512];
	char text[1024];
	size_t n = bh_text(raw, bh_raw(raw, "eicar.com", eicar, EICAR_LEN, "RSRC", 4), text);
	scan_fx_t f;
	rec_t r;

	(void)state;
	assert_true(av_is_binhex(sl_slice_make(text, n)));
	rec_init(&r, 1u << 20);
	assert_int_equal(av_dec_binhex(sl_slice_make(text, n), "x.hqx", &r.e), 0);
	assert_int_equal(r.e.broken, 0);
	assert_int_equal(r.n, 2);
	rec_expect(&r, 0, "eicar.com", eicar, EICAR_LEN);
	rec_expect(&r, 1, "resource-fork", "RSRC", 4);
	rec_free(&r);
	scan_fx_open(&f, NULL);
	expect_verdict(scan_fx_run(&f, "x.hqx", text, n), FLT_AV_INFECTED, FLT_AV_EICAR_NAME, "x.hqx/eicar.com");
	scan_fx_close(&f);
}

static void test_rle(void **state)
{
	/* data fork "a" x 5, 0x90, "b": coded as 'a' 0x90 5, 0x90 0, 'b' */
	uint8_t raw[64];
	char text[256];
	size_t i = 0, n;
	rec_t r;

	(void)state;
	raw[i++] = 1, raw[i++] = 'n', raw[i++] = 0;
	memcpy(raw + i, "TEXTttxt\0\0", 10), i += 10;
	memcpy(raw + i, "\0\0\0\x07\0\0\0\0\0\0", 10), i += 10;
	raw[i++] = 'a', raw[i++] = 0x90, raw[i++] = 5, raw[i++] = 0x90, raw[i++] = 0, raw[i++] = 'b';
	raw[i++] = 0, raw[i++] = 0, raw[i++] = 0, raw[i++] = 0;
	n = bh_text(raw, i, text);
	rec_init(&r, 1u << 20);
	assert_int_equal(av_dec_binhex(sl_slice_make(text, n), "r.hqx", &r.e), 0);
	rec_expect(&r, 0, "n", "aaaaa\x90" "b", 7);
	rec_free(&r);
}

static void test_hostile(void **state)
{
	/* a run-length bomb: 'x' then 0x90 255 repeated, cap 100000 */
	size_t nraw = 30000 * 2 + 1;
	uint8_t *raw = malloc(nraw);
	char *text = malloc(nraw * 2 + 256);
	size_t n;
	uint8_t ok[512];
	char good[1024];
	size_t gn;
	rec_t r;

	(void)state;
	raw[0] = 'x';
	for (size_t i = 1; i + 1 < nraw; i += 2)
		raw[i] = 0x90, raw[i + 1] = 0xff;
	n = bh_text(raw, nraw, text);
	rec_init(&r, 100000);
	assert_int_equal(av_dec_binhex(sl_slice_make(text, n), "bomb.hqx", &r.e), 1);
	assert_non_null(strstr(r.limit, "max_file 100000"));
	rec_free(&r);
	free(raw);
	free(text);
	/* a character outside the alphabet, and every truncation */
	gn = bh_text(ok, bh_raw(ok, "e.com", eicar, EICAR_LEN, "", 0), good);
	good[60] = '~';
	rec_init(&r, 1u << 20);
	assert_int_equal(av_dec_binhex(sl_slice_make(good, gn), "bad.hqx", &r.e), 0);
	assert_true(r.e.broken > 0);
	rec_free(&r);
	gn = bh_text(ok, bh_raw(ok, "e.com", eicar, EICAR_LEN, "", 0), good);
	for (size_t cut = 0; cut < gn; cut++) {
		rec_init(&r, 1u << 20);
		assert_true(av_dec_binhex(sl_slice_make(good, cut), "t.hqx", &r.e) >= 0);
		rec_free(&r);
	}
}

static void test_sample(void **state)
{
	size_t len;
	uint8_t *p = sample("clam.exe.binhex", &len);
	scan_fx_t f;

	(void)state;
	if (p == NULL)
		return;
	scan_fx_open(&f, NULL);
	expect_verdict(scan_fx_run(&f, "clam.exe.binhex", p, len), FLT_AV_INFECTED, "Sluice.Test.ClamExe.Body", NULL);
	print_message("clam.exe.binhex: %s\n", f.r.where);
	scan_fx_close(&f);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode),
		cmocka_unit_test(test_rle),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_sample),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
