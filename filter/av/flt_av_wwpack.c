/* flt_av_wwpack - PE files packed with WWPack32 (1.x). The packer adds a
 * last section holding its stub (the entry point); at offset 0x2a1 of that
 * section a table of 17-byte records describes each packed block: u32
 * delta (the block's image address is the stub section's RVA minus it),
 * u32 (unused here), u32 length of the compressed data in dwords, u32 end
 * of the compressed data relative to the block, u8 "another record
 * follows". The compressed data sits at the end of the block; the stub
 * copies it aside and decompresses it to the start of the same place, so
 * the block is rebuilt in place in the image.
 *
 * The code is an LZ77 variant read MSB first from little-endian dwords,
 * refilled as soon as the last bit of a dword is taken; literal bytes are
 * read from the same stream, after the current dword:
 *   0          literal byte
 *   1 11 ss x  two-byte match, distance (1 << (5 + s')) - k + x, where
 *              x = 0x1ff with s = 3 is the end of the block
 *   1 ll ...   a match, distance class in 3 bits, then its bits; length
 *              ll + 2 for ll = 1, 2, and a length code for ll = 0.
 *
 * Bounds: a match may reach back anywhere in the image but not before it,
 * output stops at the image end (which is within e->cap), every step takes
 * at least one bit, and at most WW_BLOCKS blocks are unpacked. */
#include <stdlib.h>
#include <string.h>

#include "av/flt_av_pepack.h"
#include "sl_err.h"

#define WW_TABLE 0x2a1u /* the block table in the stub section */
#define WW_EPOFF 0x295u /* u32: the original entry point, relative to +0x299 */
#define WW_BLOCKS 64u

typedef struct ww {
	const uint8_t *in;
	uint32_t len, pos;
	uint32_t bt; /* bits, MSB first */
	uint32_t bc; /* bits left in bt */
	bool err;    /* a refill found no dword */
} ww_t;

static void ww_reseed(ww_t *w)
{
	if (w->len - w->pos >= 4) {
		w->bt = av_le32(w->in + w->pos);
		w->pos += 4;
	} else {
		w->err = true;
	}
	w->bc = 32;
}

static uint32_t ww_bit(ww_t *w)
{
	uint32_t b = w->bt >> 31;

	w->bt <<= 1;
	if (--w->bc == 0)
		ww_reseed(w);
	return b;
}

/* N bits, 1 <= N <= 15 */
static uint32_t ww_bits(ww_t *w, uint32_t n)
{
	uint32_t b = w->bt >> (32 - n);

	if (w->bc >= n) {
		w->bc -= n;
		w->bt <<= n;
		if (w->bc == 0)
			ww_reseed(w);
	} else if (w->len - w->pos >= 4) {
		uint32_t nw = av_le32(w->in + w->pos);

		w->pos += 4;
		w->bc += 32 - n;
		b |= nw >> w->bc;
		w->bt = nw << (32 - w->bc);
	} else {
		w->err = true;
	}
	return b;
}

static uint32_t ww_distance(ww_t *w)
{
	uint32_t t = ww_bits(w, 3), nb;

	if (t == 6)
		return ww_bits(w, 14) + 0x1fe1;
	if (t == 7)
		return ww_bits(w, 15) + 0x5fe1;
	if (t <= 2)
		nb = t + 5; /* 5, 6, 7 */
	else if (t == 3)
		nb = 8 + ww_bit(w);
	else if (t == 4)
		nb = 10 + ww_bit(w);
	else
		nb = 12;
	return ww_bits(w, nb) + (1u << nb) - 31;
}

static uint32_t ww_length(ww_t *w)
{
	uint32_t v, cnt, base;

	if (!ww_bit(w))
		return ww_bit(w) + 5;
	if ((v = ww_bits(w, 3)) != 0)
		return v + 6;
	if ((v = ww_bits(w, 4)) != 0)
		return v + 13;
	/* 5, 6 or 7 more bits after a unary prefix, or 14 bits */
	for (cnt = 4, base = 13;; cnt++) {
		if (cnt == 7)
			return ww_bits(w, 14);
		base = ((base + 2) << 1) - 1; /* 29, 61, 125 */
		if (ww_bit(w))
			return ww_bits(w, cnt + 1) + base;
	}
}

/* Decompress IN into IMG from OFF on. 0 at the end code, SL_EINVAL when
 * the stream is malformed or runs out (what was written stays). */
static int ww_block(const uint8_t *in, uint32_t len, sl_buf_t *img, uint32_t off)
{
	ww_t w = {.in = in, .len = len};
	uint8_t *o = img->data;
	uint64_t cur = off, n = img->len;

	ww_reseed(&w);
	while (!w.err) {
		uint32_t dist, size, sel;

		if (!ww_bit(&w)) {
			if (w.pos >= w.len || cur >= n)
				return SL_EINVAL;
			o[cur++] = w.in[w.pos++];
			continue;
		}
		sel = ww_bits(&w, 2);
		if (sel == 3) {
			uint32_t s = ww_bits(&w, 2), shift = s + 5, sub = 31;

			if (s >= 2)
				shift++, sub += 0x80;
			dist = ww_bits(&w, shift);
			if (w.err)
				break;
			if (dist == 0x1ff && s == 3)
				return 0; /* the end of the block */
			dist += (1u << shift) - sub;
			size = 2;
		} else {
			dist = ww_distance(&w);
			size = sel == 0 ? ww_length(&w) : sel + 2;
		}
		if (dist > cur || size > n - cur)
			return SL_EINVAL;
		for (uint32_t k = 0; k < size; k++, cur++)
			o[cur] = o[cur - dist];
	}
	return SL_EINVAL;
}

int av_pe_wwpack(const av_pe_t *p, av_emit_t *e)
{
	static const uint8_t ep0[] = {0x53, 0x55, 0x8b, 0xe8, 0x33, 0xdb, 0xeb};
	static const uint8_t ep68[] = {0xe8, 0x00, 0x00, 0x00, 0x00, 0x58, 0x2d, 0x6d, 0x00, 0x00,
				       0x00, 0x50, 0x60, 0x33, 0xc9, 0x50, 0x58, 0x50, 0x50};
	const av_pe_sec_t *ws = &p->sec[p->nsec - 1];
	const uint8_t *epc, *sect = p->f.ptr + ws->raw;
	uint32_t rec = WW_TABLE, ep = 0;
	uint8_t *tmp = NULL;
	sl_buf_t img;
	int rc;

	if (p->nsec < 2 || p->ep != ws->rva || (epc = av_pe_file_at(p, p->ep, 0x68 + sizeof(ep68))) == NULL ||
	    memcmp(epc, ep0, sizeof(ep0)) != 0 || memcmp(epc + 0x68, ep68, sizeof(ep68)) != 0)
		return 0;
	if ((rc = av_pe_img_load(p, e, &img)) != 0)
		goto out;
	for (uint32_t blk = 0;; blk++) {
		uint32_t delta, dwords, srcend, szd;
		uint64_t src, at;
		bool more;

		if (blk == WW_BLOCKS || (uint64_t)rec + 17 > ws->rsz) {
			e->broken++; /* no last record */
			break;
		}
		delta = av_le32(sect + rec);
		dwords = av_le32(sect + rec + 8);
		srcend = av_le32(sect + rec + 12);
		more = sect[rec + 16] != 0;
		rec += 17;
		src = (uint64_t)ws->rva - delta;
		szd = dwords <= img.len / 4 ? dwords * 4 : 0;
		at = src + srcend + 4 - szd;
		if (delta > ws->rva || szd == 0 || (uint64_t)srcend + 4 < szd || !av_img_has(&img, at, szd)) {
			e->broken++;
			break;
		}
		free(tmp);
		if ((tmp = malloc(szd)) == NULL) {
			rc = SL_ENOMEM;
			goto out;
		}
		memcpy(tmp, img.data + at, szd);
		if (ww_block(tmp, szd, &img, (uint32_t)at) != 0) {
			e->broken++;
			break;
		}
		if (!more)
			break;
	}
	if ((uint64_t)WW_EPOFF + 4 <= ws->rsz)
		ep = av_le32(sect + WW_EPOFF) + ws->rva + 0x299;
	rc = av_pe_img_emit(p, &img, ep, "wwpack-unpacked", e);
out:
	free(tmp);
	sl_buf_free(&img);
	return rc;
}
