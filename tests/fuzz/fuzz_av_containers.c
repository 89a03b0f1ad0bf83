/* fuzz_av_containers - libFuzzer harness for the container decoders of
 * filter/av (flt_av_dec.h): mail, uuencode, BinHex, RTF, TNEF, OLE2, SZDD,
 * HTML data URIs, zip implode/deflate64, SIS, PE-embedded archives, ARJ, UPX, NSIS,
 * the other PE packers (flt_av_pepack.c), CHM, InstallShield, AutoIt, raw
 * inflate and raw LZX (first byte 0xfe: window and reset interval from the
 * input's size).
 *
 * The first byte picks a decoder, which runs on the rest directly (no
 * magic needed), with a member cap of 64 KiB: no crash, no read out of
 * bounds, no member over the cap, no error other than SL_ENOMEM. Then the
 * rest goes through flt_av_scan with small limits (EICAR-only database),
 * where every verdict must be a known one and the LIMITS verdict must say
 * which limit. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "av/flt_av.h"
#include "av/flt_av_dec.h"
#include "sl_err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_CAP (64u * 1024)

static const av_decoder_fn fz_dec[] = {
	av_dec_mail, av_dec_uu,   av_dec_binhex, av_dec_rtf,  av_dec_tnef,        av_dec_ole2,
	av_dec_szdd, av_dec_html, av_dec_zipx,   av_dec_sis,  av_dec_pe_embedded, av_dec_arj, av_dec_upx, av_dec_nsis,
	av_dec_pepack, /* 14: WWPack32, yC, Petite, ASPack, MEW, Upack, PESpin (flt_av_pepack.c) */
	av_dec_chm,    /* 15 */
	av_dec_ishield, /* 16 */
	av_dec_autoit,  /* 17 */
};
#define FZ_NDEC (sizeof(fz_dec) / sizeof(fz_dec[0]))

static volatile uint8_t fz_sink;

static int fz_member(av_emit_t *e, const char *name, const char *declared, sl_slice_t d)
{
	(void)name;
	(void)declared;
	if (d.len > e->cap)
		abort();
	/* touch every byte: ASan checks the slice is real memory */
	for (size_t i = 0; i < d.len; i++)
		fz_sink ^= d.ptr[i];
	return 0;
}

static int fz_limit(av_emit_t *e, const char *reason)
{
	(void)e;
	if (reason == NULL || reason[0] == '\0')
		abort();
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static flt_av_db_t *db;
	static flt_av_scanner_t *sc;
	av_emit_t e = {.member = fz_member, .limit = fz_limit, .cap = FZ_CAP};
	sl_slice_t in;
	flt_av_result_t res;
	int rc;

	if (size < 1 || size > 256 * 1024)
		return 0;
	if (sc == NULL) {
		flt_av_limits_t lim;
		const char *err;

		flt_av_limits_default(&lim);
		lim.max_file = 1u << 20;
		lim.max_total = 4u << 20;
		lim.max_depth = 6;
		lim.max_files = 200;
		if (flt_av_db_new(&db) != 0 || flt_av_db_compile(db, &err) != 0 ||
		    flt_av_scanner_new(db, &lim, NULL, &sc, &err) != 0)
			abort();
	}
	snprintf(e.cap_why, sizeof(e.cap_why), "member larger than %u bytes", FZ_CAP);
	in = sl_slice_make(data + 1, size - 1);
	if (data[0] < FZ_NDEC) {
		rc = fz_dec[data[0]](in, "fuzz.bin", &e);
		if (rc < 0 && rc != SL_ENOMEM)
			abort();
	} else if (data[0] == 0xff) {
		sl_buf_t out;
		size_t used = 0;

		sl_buf_init(&out, FZ_CAP);
		rc = av_inflate(in, size & 1, &out, &used);
		if ((rc != 0 && rc != SL_EINVAL && rc != SL_ELIMIT && rc != SL_ENOMEM) || out.len > FZ_CAP ||
		    used > in.len)
			abort();
		sl_buf_free(&out);
	} else if (data[0] == 0xfe) {
		sl_buf_t out;

		av_emit_buf_init(&e, &out);
		rc = av_lzx(in, 15 + (uint32_t)(size % 7), (uint32_t)(size % 3), FZ_CAP + 1, &e, &out);
		if ((rc != 0 && rc != 1 && rc != SL_EINVAL && rc != SL_ENOMEM) || out.len > FZ_CAP)
			abort();
		sl_buf_free(&out);
	}
	rc = flt_av_scan(sc, "fuzz.bin", NULL, in, &res);
	if (rc != 0 && rc != SL_ENOMEM)
		abort();
	if (res.verdict == FLT_AV_LIMITS && res.reason[0] == '\0')
		abort();
	return 0;
}
