/* flt_av_dec - the contract between the scanner and the container
 * decoders of filter/av (mail, uuencode, BinHex, RTF, TNEF, OLE2, SZDD,
 * HTML data URIs, zip methods libarchive lacks, ARJ, SIS, embedded
 * archives in PE files). Not for use outside filter/av/.
 *
 * A decoder gets the bytes of one object and hands every member it finds
 * back through av_emit_t, which runs the scanner's own recursion on it:
 * depth, file count, total bytes, per-member size and expansion ratio are
 * checked there exactly as for zip and tar members. A decoder only has to
 * keep every member it builds within e->cap (a buffer with max = cap + 1
 * and av_emit_toolarge() when it fills), never loop without consuming
 * input, and count format errors in e->broken. */
#ifndef FLT_AV_DEC_H
#define FLT_AV_DEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sl_buf.h"

typedef struct av_emit av_emit_t;

struct av_emit {
	/* Scan one member NAME (may be NULL: "?"), declared type DECLARED (may
	 * be NULL), bytes DATA (borrowed for the call). Returns 0 to go on, 1
	 * when the scan has its verdict (a finding or a limit: stop decoding
	 * and return 1), <0 on an error of the scan itself (return it). */
	int (*member)(av_emit_t *e, const char *name, const char *declared, sl_slice_t data);
	/* A limit hit inside the decoder: the verdict becomes LIMITS with
	 * REASON. Always returns 1. */
	int (*limit)(av_emit_t *e, const char *reason);
	uint64_t cap;     /* the most bytes one member may hold right now */
	char cap_why[96]; /* the limit reason when a member passes cap */
	uint32_t broken;  /* format errors: the decoder counts, the scanner reports */
	uint32_t depth;   /* depth of the container (members are depth + 1) */
	void *ctx;        /* the scanner's */
};

/* av_emit_buf_init - B empty, allowed to grow to one byte past E->cap so
 * that "too large" is seen (sl_buf_append then fails with SL_ELIMIT). */
void av_emit_buf_init(const av_emit_t *e, sl_buf_t *b);

/* av_emit_toolarge - the member being built passed e->cap: the LIMITS
 * verdict naming max_file or max_total, whichever made the cap. Returns 1. */
int av_emit_toolarge(av_emit_t *e);

/* av_emit_append - append to a member buffer made by av_emit_buf_init.
 * 0; 1 after av_emit_toolarge when the cap is passed; SL_ENOMEM. */
int av_emit_append(av_emit_t *e, sl_buf_t *b, const void *p, size_t n);

/* A decoder: 0 when done (clean so far), 1 when the scan has its verdict,
 * <0 on an error of the scan (SL_ENOMEM, ...). Malformed input is never an
 * error: it counts in e->broken and what was decoded so far is scanned. */
typedef int (*av_decoder_fn)(sl_slice_t data, const char *name, av_emit_t *e);

/* av_container_find - the decoder for DATA, or NULL when it is none of the
 * formats below (cheap: magic bytes and a bounded look at the start).
 * *what_r names the format ("mail", "ole2", ...). */
av_decoder_fn av_container_find(sl_slice_t data, const char **what_r);

/* The decoders, one file each. */
int av_dec_mail(sl_slice_t data, const char *name, av_emit_t *e);    /* flt_av_mail.c */
int av_dec_uu(sl_slice_t data, const char *name, av_emit_t *e);      /* flt_av_uu.c */
int av_dec_binhex(sl_slice_t data, const char *name, av_emit_t *e);  /* flt_av_binhex.c */
int av_dec_rtf(sl_slice_t data, const char *name, av_emit_t *e);     /* flt_av_rtf.c */
int av_dec_tnef(sl_slice_t data, const char *name, av_emit_t *e);    /* flt_av_tnef.c */
int av_dec_ole2(sl_slice_t data, const char *name, av_emit_t *e);    /* flt_av_ole2.c */
int av_dec_szdd(sl_slice_t data, const char *name, av_emit_t *e);    /* flt_av_szdd.c */
int av_dec_html(sl_slice_t data, const char *name, av_emit_t *e);    /* flt_av_html.c */
int av_dec_zipx(sl_slice_t data, const char *name, av_emit_t *e);    /* flt_av_zipx.c */
int av_dec_sis(sl_slice_t data, const char *name, av_emit_t *e);     /* flt_av_sis.c */
int av_dec_arj(sl_slice_t data, const char *name, av_emit_t *e);     /* flt_av_arj.c */
int av_dec_pe_embedded(sl_slice_t data, const char *name, av_emit_t *e); /* flt_av_pe.c */
int av_dec_upx(sl_slice_t data, const char *name, av_emit_t *e);     /* flt_av_upx.c (called by flt_av_pe.c) */
int av_dec_nsis(sl_slice_t data, const char *name, av_emit_t *e);    /* flt_av_nsis.c (called by flt_av_pe.c) */
int av_dec_pepack(sl_slice_t data, const char *name, av_emit_t *e);  /* flt_av_pepack.c (called by flt_av_pe.c) */
int av_dec_chm(sl_slice_t data, const char *name, av_emit_t *e);     /* flt_av_chm.c */
int av_dec_ishield(sl_slice_t data, const char *name, av_emit_t *e); /* flt_av_ishield.c (called by flt_av_pe.c) */
int av_dec_autoit(sl_slice_t data, const char *name, av_emit_t *e);  /* flt_av_autoit.c (called by flt_av_pe.c) */

/* Detectors the dispatcher uses (each a bounded look at the start). */
bool av_is_mail(sl_slice_t data);
bool av_is_uu(sl_slice_t data);
bool av_is_binhex(sl_slice_t data);
bool av_is_html(sl_slice_t data);

/* av_ole10native - the file inside an OLE1 "Package" native stream (the
 * \1Ole10Native stream of OLE2, the native data of an RTF object):
 * u32 size (OLE2 only, HAS_SIZE), u16, label, path, u16, u16, u32 len,
 * temp path, u32 data size, data. On success *label_r points at the NUL
 * terminated label inside DATA and *file_r at the file. 0 or SL_EINVAL. */
int av_ole10native(sl_slice_t data, bool has_size, const char **label_r, sl_slice_t *file_r);

/* av_inflate - raw deflate (RFC 1951) of IN into OUT (made by
 * av_emit_buf_init or any buffer with a max); DEFLATE64 selects the
 * Deflate64 variant (64 KiB window, length code 285 with 16 extra bits,
 * distance codes 30 and 31). *used_r (may be NULL) gets the input bytes
 * consumed. 0 at the final block's end; SL_EINVAL on malformed or
 * truncated data (OUT keeps what was decoded); SL_ELIMIT when OUT is full;
 * SL_ENOMEM. flt_av_inflate.c. */
int av_inflate(sl_slice_t in, bool deflate64, sl_buf_t *out, size_t *used_r);

/* av_zlib - a zlib stream (RFC 1950 header, deflate, Adler-32 not
 * checked); same returns as av_inflate. */
int av_zlib(sl_slice_t in, sl_buf_t *out);

/* av_lzma - a raw LZMA stream (no header: range coder bytes) with the
 * properties byte PROPS (lc + 9 * (lp + 5 * pb)), appended to OUT (a member
 * buffer: av_emit_append, so passing the cap is the LIMITS verdict) until
 * USIZE bytes, the end marker or the end of IN. 0 (also when IN ran out:
 * what was decoded is kept), 1 (cap), SL_EINVAL (malformed), SL_ENOMEM.
 * flt_av_lzma.c. */
int av_lzma(sl_slice_t in, uint8_t props, uint64_t usize, av_emit_t *e, sl_buf_t *out);

/* av_lzx - an MS-LZX stream IN (CHM section 1, a cabinet folder) with a
 * window of 2^WINDOW_BITS bytes (15..21), its state reset every
 * RESET_FRAMES 32 KiB frames (0: never), appended to OUT (a member buffer)
 * until USIZE bytes. 0 (also when IN ends on a frame boundary: OUT is
 * shorter), 1 (cap), SL_EINVAL (malformed or truncated: OUT keeps what was
 * decoded), SL_ENOMEM. flt_av_lzx.c. */
int av_lzx(sl_slice_t in, uint32_t window_bits, uint32_t reset_frames, uint64_t usize, av_emit_t *e, sl_buf_t *out);

/* av_vba_decompress - an [MS-OVBA] 2.4.1 CompressedContainer IN appended
 * to OUT (a member buffer). 0, 1 (cap), SL_EINVAL, SL_ENOMEM. flt_av_vba.c. */
int av_vba_decompress(sl_slice_t in, av_emit_t *e, sl_buf_t *out);

/* The bytes of the OLE2 stream named NAME (case-insensitive): 0 and
 * *s_r valid until the next call, or SL_ENOENT. */
typedef int (*av_vba_stream_fn)(void *ctx, const char *name, sl_slice_t *s_r);

/* av_vba_modules - the VBA project whose compressed "dir" stream is DIR:
 * each module's source, fetched through GET and decompressed, becomes a
 * member "<stream>.vba". 0, 1 (verdict), <0 error; malformed parts count
 * in e->broken. */
int av_vba_modules(sl_slice_t dir, av_vba_stream_fn get, void *ctx, av_emit_t *e);

/* Little-endian readers; the caller checks the bounds. */
static inline uint16_t av_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t av_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

#endif
