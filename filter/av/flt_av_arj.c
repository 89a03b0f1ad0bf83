/* flt_av_arj - ARJ archives (Robert Jung's format, "ARJ technical
 * information"): a main header, then one local header per file (0x60 0xEA,
 * a basic header of at most 2600 bytes with its CRC, extended headers) and
 * the compressed data. Methods 0 (stored) and 1 to 3 (LZ77 over a 26 KiB
 * window with Huffman-coded literals/lengths and positions, LHA's scheme
 * with 17 position codes and 16-bit block sizes) are decoded; method 4
 * ("fastest") and encrypted members are counted as broken.
 *
 * Bounds: a member's input is its compressed size within the file, its
 * output the original size and the member cap; every Huffman table is
 * checked; every decoded code consumes bits, and reading past the input
 * ends the member as broken. */
#include <stdio.h>
#include <string.h>

#include "av/flt_av_dec.h"
#include "sl_err.h"

#define ARJ_HDR_MAX 2600u
#define ARJ_FILES_MAX 10000u
#define ARJ_NC 510 /* 256 literals + 256 lengths - 3 + 1 */
#define ARJ_NP 17
#define ARJ_NT 19
#define ARJ_CBIT 9
#define ARJ_PBIT 5
#define ARJ_TBIT 5

typedef struct arj_in {
	const uint8_t *p;
	size_t len, pos;
	uint32_t buf; /* bits, MSB first, left-aligned in the low 32 */
	uint32_t cnt;
	bool eof;
} arj_in_t;

typedef struct arj_huff {
	uint16_t count[17];
	uint16_t symbol[ARJ_NC];
	int single; /* >= 0: the table has one symbol and no bits */
} arj_huff_t;

static uint32_t arj_bits(arj_in_t *s, uint32_t n)
{
	uint32_t v = 0;

	for (uint32_t i = 0; i < n; i++) {
		if (s->cnt == 0) {
			if (s->pos >= s->len) {
				s->eof = true;
				return 0;
			}
			s->buf = s->p[s->pos++];
			s->cnt = 8;
		}
		s->cnt--;
		v = v << 1 | ((s->buf >> s->cnt) & 1);
	}
	return v;
}

/* Canonical codes from lengths (1..16), shorter first, in symbol order. */
static int arj_build(arj_huff_t *h, const uint8_t *lens, uint32_t n)
{
	uint16_t offs[17];
	int left = 1;

	memset(h->count, 0, sizeof(h->count));
	h->single = -1;
	for (uint32_t i = 0; i < n; i++) {
		if (lens[i] > 16)
			return SL_EINVAL;
		h->count[lens[i]]++;
	}
	for (int l = 1; l <= 16; l++) {
		left <<= 1;
		left -= h->count[l];
		if (left < 0)
			return SL_EINVAL;
	}
	offs[1] = 0;
	for (int l = 1; l < 16; l++)
		offs[l + 1] = (uint16_t)(offs[l] + h->count[l]);
	for (uint32_t i = 0; i < n; i++)
		if (lens[i] != 0)
			h->symbol[offs[lens[i]]++] = (uint16_t)i;
	return 0;
}

static int arj_decode(arj_in_t *s, const arj_huff_t *h)
{
	int code = 0, first = 0, index = 0;

	if (h->single >= 0)
		return h->single;
	for (int l = 1; l <= 16; l++) {
		int count = h->count[l];

		code |= (int)arj_bits(s, 1);
		if (s->eof)
			return -1;
		if (code - count < first)
			return h->symbol[index + (code - first)];
		index += count;
		first += count;
		first <<= 1;
		code <<= 1;
	}
	return -1;
}

/* The position or the pre-tree lengths: NBIT-bit count, 3-bit lengths with
 * 7 extended by a run of ones; after SPECIAL entries a 2-bit run of zeros. */
static int arj_pt_len(arj_in_t *s, arj_huff_t *h, uint32_t nn, uint32_t nbit, int special)
{
	uint8_t lens[ARJ_NT > ARJ_NP ? ARJ_NT : ARJ_NP];
	uint32_t n = arj_bits(s, nbit), i = 0;

	if (n == 0) {
		uint32_t c = arj_bits(s, nbit);

		if (s->eof || c >= nn)
			return SL_EINVAL;
		memset(h->count, 0, sizeof(h->count));
		h->single = (int)c;
		return 0;
	}
	if (n > nn)
		return SL_EINVAL;
	while (i < n) {
		uint32_t c = arj_bits(s, 3);

		if (c == 7)
			while (arj_bits(s, 1) == 1 && !s->eof)
				if (++c > 16)
					return SL_EINVAL;
		if (s->eof)
			return SL_EINVAL;
		lens[i++] = (uint8_t)c;
		if ((int)i == special) {
			uint32_t z = arj_bits(s, 2);

			while (z-- > 0 && i < nn)
				lens[i++] = 0;
		}
	}
	while (i < nn)
		lens[i++] = 0;
	return arj_build(h, lens, nn);
}

static int arj_c_len(arj_in_t *s, arj_huff_t *c, const arj_huff_t *pt)
{
	uint8_t lens[ARJ_NC];
	uint32_t n = arj_bits(s, ARJ_CBIT), i = 0;

	if (n == 0) {
		uint32_t v = arj_bits(s, ARJ_CBIT);

		if (s->eof || v >= ARJ_NC)
			return SL_EINVAL;
		memset(c->count, 0, sizeof(c->count));
		c->single = (int)v;
		return 0;
	}
	if (n > ARJ_NC)
		return SL_EINVAL;
	while (i < n) {
		int v = arj_decode(s, pt);

		if (v < 0)
			return SL_EINVAL;
		if (v <= 2) {
			uint32_t run = v == 0 ? 1 : v == 1 ? arj_bits(s, 4) + 3 : arj_bits(s, ARJ_CBIT) + 20;

			if (s->eof || i + run > ARJ_NC)
				return SL_EINVAL;
			while (run-- > 0)
				lens[i++] = 0;
		} else {
			lens[i++] = (uint8_t)(v - 2);
		}
	}
	while (i < ARJ_NC)
		lens[i++] = 0;
	return arj_build(c, lens, ARJ_NC);
}

/* Methods 1-3 into OUT, up to USIZE bytes. 0, 1 (cap), SL_EINVAL, SL_ENOMEM. */
static int arj_lzh(sl_slice_t in, uint64_t usize, av_emit_t *e, sl_buf_t *out)
{
	arj_in_t s = {.p = in.ptr, .len = in.len};
	arj_huff_t pt, c, p;
	uint32_t block = 0;
	int rc;

	while (out->len < usize) {
		int v;

		if (block == 0) {
			block = arj_bits(&s, 16);
			if (s.eof || block == 0 || arj_pt_len(&s, &pt, ARJ_NT, ARJ_TBIT, 3) != 0 ||
			    arj_c_len(&s, &c, &pt) != 0 || arj_pt_len(&s, &p, ARJ_NP, ARJ_PBIT, -1) != 0)
				return SL_EINVAL;
		}
		block--;
		if ((v = arj_decode(&s, &c)) < 0)
			return SL_EINVAL;
		if (v < 256) {
			uint8_t b = (uint8_t)v;

			if ((rc = av_emit_append(e, out, &b, 1)) != 0)
				return rc;
		} else {
			uint32_t len = (uint32_t)v - 256 + 3, dist;
			int pc = arj_decode(&s, &p);

			if (pc < 0)
				return SL_EINVAL;
			dist = pc == 0 ? 0 : (1u << (pc - 1)) + arj_bits(&s, (uint32_t)pc - 1);
			if (s.eof || dist + 1 > out->len)
				return SL_EINVAL;
			if (len > usize - out->len)
				len = (uint32_t)(usize - out->len);
			for (uint32_t k = 0; k < len; k++) {
				uint8_t b = out->data[out->len - dist - 1];

				if ((rc = av_emit_append(e, out, &b, 1)) != 0)
					return rc;
			}
		}
	}
	return 0;
}

/* The header at *I: sets *hdr_r and *size_r, and moves *I past its CRC and
 * extended headers. 0, or SL_EINVAL; size 0 is the end of the archive. */
static int arj_header(sl_slice_t d, size_t *i, const uint8_t **hdr_r, uint32_t *size_r)
{
	size_t k = *i;
	uint32_t n;

	if (d.len - k < 4 || d.ptr[k] != 0x60 || d.ptr[k + 1] != 0xea)
		return SL_EINVAL;
	n = av_le16(d.ptr + k + 2);
	*size_r = n;
	if (n == 0) {
		*i = k + 4;
		return 0;
	}
	if (n > ARJ_HDR_MAX || d.len - k - 4 < (size_t)n + 4)
		return SL_EINVAL;
	*hdr_r = d.ptr + k + 4;
	k += 4 + n + 4;
	for (int x = 0; x < 16; x++) { /* extended headers: u16 size, data, CRC */
		uint32_t xs;

		if (d.len - k < 2)
			return SL_EINVAL;
		xs = av_le16(d.ptr + k);
		k += 2;
		if (xs == 0)
			break;
		if (d.len - k < (size_t)xs + 4)
			return SL_EINVAL;
		k += xs + 4;
	}
	*i = k;
	return 0;
}

int av_dec_arj(sl_slice_t d, const char *name, av_emit_t *e)
{
	const uint8_t *h;
	uint32_t hsize;
	size_t i = 0;
	sl_buf_t out;
	int rc = 0;

	(void)name;
	if (arj_header(d, &i, &h, &hsize) != 0 || hsize == 0) {
		e->broken++;
		return 0;
	}
	av_emit_buf_init(e, &out);
	for (uint32_t f = 0; rc == 0 && f < ARJ_FILES_MAX; f++) {
		uint32_t first, csize, usize, method, flags;
		size_t nend;
		char mname[256];

		if (arj_header(d, &i, &h, &hsize) != 0) {
			e->broken++;
			break;
		}
		if (hsize == 0)
			break; /* the end of the archive */
		first = h[0];
		if (first < 30 || first > hsize) {
			e->broken++;
			break;
		}
		flags = h[4];
		method = h[5];
		csize = av_le32(h + 12);
		usize = av_le32(h + 16);
		nend = first;
		while (nend < hsize && h[nend] != 0)
			nend++;
		snprintf(mname, sizeof(mname), "%.*s", (int)(nend - first > 250 ? 250 : nend - first),
			 (const char *)h + first);
		if (csize > d.len - i) {
			e->broken++;
			csize = (uint32_t)(d.len - i);
		}
		sl_buf_reset(&out);
		if ((flags & 0x01) || method > 3 || h[6] > 1) {
			/* garbled (encrypted), method 4, directories and labels: no content here */
			if ((flags & 0x01) || method > 3)
				e->broken++;
		} else if (method == 0) {
			rc = e->member(e, mname[0] ? mname : NULL, NULL, sl_slice_make(d.ptr + i, csize));
		} else {
			rc = arj_lzh(sl_slice_make(d.ptr + i, csize), usize, e, &out);
			if (rc == SL_EINVAL) {
				e->broken++;
				rc = 0;
			}
			if (rc == 0)
				rc = e->member(e, mname[0] ? mname : NULL, NULL, sl_buf_slice(&out));
		}
		i += csize;
	}
	sl_buf_free(&out);
	return rc;
}
