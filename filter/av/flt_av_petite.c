/* flt_av_petite - PE files packed with Petite 2.x. The entry point starts
 * with MOV EAX, ImageBase + RVA of the packer's section (the last one for
 * 2.2, the one before it for 2.1). In that section, at +0x1b8 (2.2) or
 * +0x178 (2.1), a list of records tells the stub what to do, in order:
 *   u32 0                       the end
 *   u32 0x80000000|n, src, dst  move n dwords ending at src to end at dst
 *                               (the compressed blocks make room)
 *   u32 src, size, dst, (u32)   decompress size bytes read at src to dst
 * all addresses RVAs. The code is an NRV-like LZ77 (Markus Oberhumer's
 * UCL family) with an 8-bit bit buffer that refills itself from the input
 * through a sentinel bit; the first byte is stored, literals are XORed
 * with the low byte of the count of bytes still to come, distances have
 * a gamma-coded high part and 5, 7 or 8 low bits (by the block's size), a
 * high part of zero repeats the last distance.
 *
 * The member is the image after every record ran (headers, the packer's
 * own sections, and the original sections in place), named
 * "petite-unpacked". Not done: the import table and the encrypted
 * original entry point are left as the stub left them, and level 0
 * ("store only") files are not recognised.
 *
 * Bounds: every read and write is within the image (within e->cap);
 * gamma codes longer than 24 bits are broken input; each step takes at
 * least one input byte per eight bits or writes at least one byte; at
 * most PT_RECORDS records. */
#include <string.h>

#include "av/flt_av_pepack.h"
#include "sl_err.h"

#define PT_RECORDS 256u
#define PT_GAMMA_MAX (1u << 24)

typedef struct pt {
	sl_buf_t *img;
	uint64_t src; /* next input byte (image offset) */
	uint8_t dl;   /* bit buffer with its sentinel */
	bool err;
} pt_t;

static uint32_t pt_bit(pt_t *s)
{
	uint8_t old = s->dl;

	s->dl = (uint8_t)(s->dl << 1);
	if ((old & 0x7f) == 0) {
		if (s->src >= s->img->len) {
			s->err = true;
			return 0;
		}
		old = s->img->data[s->src++];
		s->dl = (uint8_t)(old << 1 | 1);
	}
	return old >> 7;
}

/* 1, then bit pairs (value bit, continue bit) until a 0 continue bit;
 * START is the value before the first pair. */
static uint32_t pt_gamma(pt_t *s, uint32_t start)
{
	uint32_t v = start;

	do {
		v = v * 2 + pt_bit(s);
		if (v > PT_GAMMA_MAX)
			s->err = true;
	} while (!s->err && pt_bit(s));
	return v;
}

/* Decompress SIZE bytes from SRC to DST in the image. 0, or SL_EINVAL on
 * broken input (what was written stays). */
static int pt_block(sl_buf_t *img, uint32_t src, uint32_t size, uint32_t dst)
{
	pt_t s = {.img = img, .src = src};
	uint8_t *o = img->data;
	uint64_t d = dst, n = img->len;
	int64_t left = size;
	uint32_t last = 0, check1, check2, lowbits;

	if (size < 0x10000)
		check1 = 0xffffc060u, check2 = 0xfffffc60u, lowbits = 5;
	else if (size < 0x40000)
		check1 = 0xffff8180u, check2 = 0xfffff980u, lowbits = 7;
	else
		check1 = 0xffff8300u, check2 = 0xfffffb00u, lowbits = 8;
	if (size == 0)
		return 0;
	if (src >= n || d >= n)
		return SL_EINVAL;
	o[d++] = o[s.src++];
	left--;
	while (left > 0) {
		uint32_t hi, dist, len, add = 0;

		if (!pt_bit(&s)) {
			if (s.err || s.src >= n || d >= n)
				return SL_EINVAL;
			o[d++] = o[s.src++] ^ (uint8_t)left;
			left--;
			continue;
		}
		hi = pt_gamma(&s, 1);
		if (hi >= 3) {
			uint32_t v = hi - 3, neg;

			for (uint32_t k = 0; k < lowbits; k++)
				v = v * 2 + pt_bit(&s);
			neg = ~v;
			add = 1 + (neg < check2) + (neg < check1);
			dist = last = v + 1;
			len = 0;
		} else {
			dist = last; /* a high part of zero: the last distance */
			len = 0;
		}
		len = len * 2 + pt_bit(&s);
		len = len * 2 + pt_bit(&s);
		if (len == 0)
			len = pt_gamma(&s, 1) + 2;
		len += add;
		if (s.err || dist == 0 || dist > d || len > n - d)
			return SL_EINVAL;
		for (uint32_t k = 0; k < len; k++, d++)
			o[d] = o[d - dist];
		left -= len;
	}
	return 0;
}

int av_pe_petite(const av_pe_t *p, av_emit_t *e)
{
	const uint8_t *ep = av_pe_file_at(p, p->ep, 200);
	uint32_t at, mov, ver, done = 0;
	sl_buf_t img;
	int rc;

	if (ep == NULL || ep[0] != 0xb8)
		return 0;
	mov = av_le32(ep + 1) - p->imagebase;
	if (mov == p->sec[p->nsec - 1].rva)
		ver = 2;
	else if (p->nsec >= 2 && mov == p->sec[p->nsec - 2].rva)
		ver = 1;
	else
		return 0;
	if (av_le32(ep + 0x80) == 0x163c988du)
		return 0; /* level 0: not compressed the same way */
	at = mov + (ver == 2 ? 0x1b8 : 0x178);
	if ((rc = av_pe_img_load(p, e, &img)) != 0)
		goto out;
	for (uint32_t k = 0;; k++) {
		uint32_t srva;

		if (k == PT_RECORDS || !av_img_has(&img, at, 4)) {
			e->broken++;
			break;
		}
		srva = av_le32(img.data + at);
		if (srva == 0)
			break;
		if (srva & 0x80000000u) {
			uint64_t nb = (uint64_t)(srva & 0x7fffffffu) * 4, from, to;

			if (!av_img_has(&img, at, 12) || nb == 0) {
				e->broken++;
				break;
			}
			from = (uint64_t)av_le32(img.data + at + 4) + 4 - nb;
			to = (uint64_t)av_le32(img.data + at + 8) + 4 - nb;
			if (nb > (uint64_t)av_le32(img.data + at + 4) + 4 || nb > (uint64_t)av_le32(img.data + at + 8) + 4 ||
			    !av_img_has(&img, from, nb) || !av_img_has(&img, to, nb)) {
				e->broken++;
				break;
			}
			memmove(img.data + to, img.data + from, nb);
			at += 12;
		} else {
			if (!av_img_has(&img, at, 16)) {
				e->broken++;
				break;
			}
			done++; /* what a broken block wrote is scanned too */
			if (pt_block(&img, srva, av_le32(img.data + at + 4), av_le32(img.data + at + 8)) != 0) {
				e->broken++;
				break;
			}
			at += 16;
		}
	}
	rc = done > 0 ? av_pe_img_emit(p, &img, 0, "petite-unpacked", e) : 0;
out:
	sl_buf_free(&img);
	return rc;
}
