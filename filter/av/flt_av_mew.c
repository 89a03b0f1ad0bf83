/* flt_av_mew - PE files packed with MEW 11 SE. MEW empties a section (no
 * raw data, the virtual size of the unpacked image) and puts its data in
 * the next one; the entry point jumps into loader code that MEW keeps in
 * the PE header itself, at 0x154 or 0x158 (with or without Win9x
 * compatibility). There, MOV ESI, imm32 points at MEW's data: u32 (unused
 * here), u32 original entry point (VA), u32 destination (VA), then an
 * aPLib stream (Joergen Ibsen's LZ77: 8-bit tag bits with a sentinel,
 * gamma-coded lengths and distance high bytes, one-byte short matches, a
 * last-distance reuse), then u32 next destination or 0. When the loader
 * CALLs an LZMA routine (E8 at +0x7b), what the aPLib stage unpacked is
 * the LZMA stage's loader and the data after the last aPLib block holds
 * records: [u32 length for the CALL fix-up, "special" builds only] u32
 * work area, then u32 unpacked size, u32 destination (VA), u32 packed
 * size, one byte, the range-coder stream (LZMA, lc 4 lp 0 pb 2, decoded by
 * flt_av_lzma.c). The special build (PUSH EAX at the routine + 8) has one
 * record and turns E8/E9 operands back from big-endian absolute targets.
 *
 * The member is the mapped image with everything unpacked in place, named
 * "mew-unpacked", with the original entry point.
 *
 * Bounds: aPLib reads and writes only inside the image; a match before
 * the image start or past its end is broken; every tag bit comes from an
 * input byte at most eight at a time, every step writes a byte or ends;
 * at most MEW_BLOCKS aPLib blocks and MEW_RECORDS LZMA records; LZMA
 * output is capped by the record's size, the member cap and the image. */
#include <string.h>

#include "av/flt_av_pepack.h"
#include "sl_err.h"

#define MEW_BLOCKS 64u
#define MEW_RECORDS 64u
#define MEW_LZMA_PROPS (4 + 9 * (0 + 5 * 2)) /* lc 4, lp 0, pb 2 */

typedef struct apl {
	uint8_t *img;
	uint64_t n;   /* image length */
	uint64_t src; /* next input byte */
	uint8_t tag;  /* tag bits with a sentinel */
	bool err;
} apl_t;

static uint32_t apl_bit(apl_t *a)
{
	uint8_t old = a->tag;

	a->tag = (uint8_t)(a->tag << 1);
	if ((old & 0x7f) == 0) {
		if (a->src >= a->n) {
			a->err = true;
			return 0;
		}
		old = a->img[a->src++];
		a->tag = (uint8_t)(old << 1 | 1);
	}
	return old >> 7;
}

static uint32_t apl_gamma(apl_t *a)
{
	uint32_t v = 1;

	do {
		v = v * 2 + apl_bit(a);
		if (v > (1u << 24))
			a->err = true;
	} while (!a->err && apl_bit(a));
	return v;
}

/* aPLib from image offset SRC to DST. 0 with *end_r the offset after the
 * stream, or SL_EINVAL. */
static int apl_unpack(uint8_t *img, uint64_t n, uint64_t src, uint64_t dst, uint64_t *end_r)
{
	apl_t a = {.img = img, .n = n, .src = src, .tag = 0x80};
	uint64_t d = dst;
	uint32_t last = 0;
	bool lost = true; /* the previous step was a literal */

	if (src >= n || dst >= n)
		return SL_EINVAL;
	img[d++] = img[a.src++];
	for (;;) {
		uint32_t dist, len;

		if (!apl_bit(&a)) {
			if (a.err || a.src >= n || d >= n)
				return SL_EINVAL;
			img[d++] = img[a.src++];
			lost = true;
			continue;
		}
		if (apl_bit(&a)) {
			if (apl_bit(&a)) {
				/* 111 + 4 bits: one byte from up to 15 back, or a zero */
				uint32_t v = 0x10;

				while (v < 0x100)
					v = v * 2 + apl_bit(&a);
				v &= 0xff;
				if (a.err || d >= n || v > d)
					return SL_EINVAL;
				img[d] = v ? img[d - v] : 0;
				d++;
				lost = true;
				continue;
			}
			/* 110 + byte: 7-bit distance, 2 or 3 bytes; distance 0 ends */
			if (a.err || a.src >= n)
				return SL_EINVAL;
			dist = img[a.src] >> 1;
			len = 2 + (img[a.src] & 1);
			a.src++;
			if (dist == 0)
				break;
			last = dist;
			lost = false;
		} else {
			/* 10 + gamma: a long match, or the last distance again */
			uint32_t hi = apl_gamma(&a) - 1 - lost;

			if (hi == 0) {
				dist = last;
				len = apl_gamma(&a);
			} else {
				if (a.err || a.src >= n)
					return SL_EINVAL;
				dist = ((hi - 1) << 8) + img[a.src++];
				len = apl_gamma(&a);
				len += (dist >= 0x7d00) + (dist >= 0x500) + (dist <= 0x7f ? 2 : 0);
				last = dist;
			}
			lost = false;
		}
		if (a.err || dist == 0 || dist > d || len > n - d)
			return SL_EINVAL;
		for (uint32_t k = 0; k < len; k++, d++)
			img[d] = img[d - dist];
	}
	*end_r = a.src;
	return 0;
}

/* The LZMA records at AT (image offset). 0, 1 (cap), SL_ENOMEM; broken
 * input counts in e->broken. */
static int mew_lzma_records(const av_pe_t *p, sl_buf_t *img, uint64_t at, bool special, av_emit_t *e)
{
	uint32_t fixlen = 0;
	int rc = 0;

	if (special) {
		if (!av_img_has(img, at, 4))
			goto broken;
		fixlen = av_le32(img->data + at);
		at += 4;
	}
	at += 4; /* the work area of the stub's decoder */
	for (uint32_t k = 0; k < MEW_RECORDS; k++) {
		uint32_t usize, dst, csize;
		sl_buf_t out;

		if (!av_img_has(img, at, 13))
			goto broken;
		usize = av_le32(img->data + at);
		if (usize == 0 && !special)
			return 0; /* the end of the list */
		dst = av_le32(img->data + at + 4) - p->imagebase;
		csize = av_le32(img->data + at + 8);
		at += 13;
		if (!av_img_has(img, at, csize) || !av_img_has(img, dst, usize))
			goto broken;
		av_emit_buf_init(e, &out);
		rc = av_lzma(sl_slice_make(img->data + at, csize), MEW_LZMA_PROPS, usize, e, &out);
		if (rc == SL_EINVAL) {
			e->broken++;
			rc = 0;
		}
		if (out.len > 0)
			memcpy(img->data + dst, out.data, out.len);
		sl_buf_free(&out);
		if (rc != 0)
			return rc;
		at += csize;
		if (special) {
			/* CALL/JMP operands: big-endian absolute back to relative */
			uint8_t *b = img->data + dst;

			for (uint32_t i = 0; fixlen >= 5 && fixlen <= usize && i < fixlen - 5; i++)
				if (b[i] == 0xe8 || b[i] == 0xe9) {
					uint32_t v = av_le32(b + i + 1);

					v = v >> 24 | (v >> 8 & 0xff00) | (v << 8 & 0xff0000) | v << 24;
					av_pe_put32(b + i + 1, v - i - 1);
					i += 4;
				}
			return 0;
		}
	}
broken:
	e->broken++;
	return rc;
}

int av_pe_mew(const av_pe_t *p, av_emit_t *e)
{
	const uint8_t *epc = av_pe_file_at(p, p->ep, 16), *t;
	uint32_t i, loader, data, lzproc = 0, oep, dst;
	uint64_t src, end = 0;
	bool lzma = false, special = false;
	sl_buf_t img;
	int rc;

	if (epc == NULL || epc[0] != 0xe9)
		return 0;
	loader = p->ep + 5 + av_le32(epc + 1);
	if (loader != 0x154 && loader != 0x158)
		return 0;
	for (i = 0; i + 1 < p->nsec; i++)
		if (p->sec[i].rsz == 0 && p->sec[i].vsz != 0 && p->sec[i + 1].rsz != 0 && p->sec[i + 1].vsz != 0)
			break;
	if (i + 1 >= p->nsec || (uint64_t)loader + 0xb0 > p->f.len)
		return 0;
	t = p->f.ptr + loader; /* the loader sits in the header: RVA = offset */
	if (t[0] != 0xbe)
		return 0; /* MOV ESI, imm32 */
	data = av_le32(t + 1) - p->imagebase;
	if (t[0x7b] == 0xe8) {
		lzma = true;
		lzproc = loader + 0x80 + av_le32(t + 0x7c);
	}
	if ((rc = av_pe_img_load(p, e, &img)) != 0)
		goto out;
	if (data <= p->sec[i + 1].rva || !av_img_has(&img, data, 12)) {
		e->broken++;
		goto out;
	}
	oep = av_le32(img.data + data + 4) - p->imagebase;
	dst = av_le32(img.data + data + 8) - p->imagebase;
	src = (uint64_t)data + 12;
	for (uint32_t k = 0;; k++) {
		if (k == MEW_BLOCKS || apl_unpack(img.data, img.len, src, dst, &end) != 0 ||
		    !av_img_has(&img, end, 4)) {
			e->broken++;
			lzma = false;
			break;
		}
		if (av_le32(img.data + end) == 0)
			break;
		dst = av_le32(img.data + end) - p->imagebase;
		src = end + 4;
	}
	if (lzma) {
		if (!av_img_has(&img, lzproc, 9)) {
			e->broken++;
		} else {
			special = img.data[lzproc + 8] == 0x50; /* PUSH EAX */
			if ((rc = mew_lzma_records(p, &img, end + 4, special, e)) != 0)
				goto out;
		}
	}
	rc = av_pe_img_emit(p, &img, oep, "mew-unpacked", e);
out:
	sl_buf_free(&img);
	return rc;
}
