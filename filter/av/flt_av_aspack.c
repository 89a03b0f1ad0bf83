/* flt_av_aspack - PE files packed with ASPack 2.x (2.12, the 2.2x-2.3x
 * builds, 2.42). The entry code starts PUSHAD; CALL $+8; JMP ...; and a
 * PUSH 0 / RET at a version-dependent distance from it tells the build.
 * The stub (from the entry point minus one) holds, at build-dependent
 * offsets: the list of packed blocks (u32 RVA, u32 unpacked size, and for
 * the later builds a third u32), the length tables of the LZ77 code, the
 * extra-bit counts that make the distance bases, and the marker byte of
 * the CALL/JMP transform.
 *
 * A block is decompressed in place: its compressed form is at the start of
 * its own unpacked range. The code is LZX-like: canonical Huffman codes
 * (lengths up to 15) for 721 main symbols (256 literals, 58 distance slots
 * x 8 lengths, and "new tables"), 28 long-length symbols and 8 aligned
 * distance symbols; their lengths are sent with a 19-symbol pre-code, as
 * deltas from the previous tables; three recent distances are kept. Bits
 * are read MSB first. After the first block, E8/E9 followed by the marker
 * byte carry a rotated absolute target that is turned back into a
 * relative one.
 *
 * The member is the image with every block unpacked, named
 * "aspack-unpacked" (entry point 0: the original one is not recovered).
 *
 * Bounds: reads stop at the block (plus the stub's 0x10e bytes of zero
 * padding); a table must be a complete code; output stays within the
 * block and the image; every symbol consumes bits, every literal or match
 * writes at least one byte, and a "new tables" symbol consumes at least 77
 * bits, so every loop is bounded by the input. */
#include <stdlib.h>
#include <string.h>

#include "av/flt_av_pepack.h"
#include "sl_err.h"

#define AS_PAD 0x10eu /* zero bytes the stub leaves after a block */
#define AS_BLOCKS 256u
#define AS_NLEN 757u /* 721 + 28 + 8 code lengths */

static const struct as_ver {
	uint32_t push_ret; /* from the entry point: PUSH 0; RET */
	uint32_t blocks, mlt, tabs, marker, rec;
} as_vers[] = {
	{0x3b9, 0x57c, 0x70e, 0x6d6, 0x148, 8},  /* 2.12 */
	{0x41f, 0x5d8, 0x76a, 0x732, 0x13a, 12}, /* 2.2x - 2.3x */
	{0x42b, 0x5e4, 0x776, 0x73e, 0x148, 12}, /* 2.42 */
};

typedef struct as_huff {
	uint32_t nsym;
	uint32_t lim[16];   /* limit of the codes of length <= L, in 24 bits */
	uint32_t first[16]; /* index in sym[] of the first code of length L */
	uint8_t fast[256];  /* length of a code by its first 8 bits (L <= 8) */
	uint16_t sym[721];
} as_huff_t;

typedef struct as {
	const uint8_t *in;
	size_t len, pos;
	uint32_t win;   /* next bits, MSB first, bits 31..8 valid */
	uint32_t nbits; /* valid bits in win */
	bool err;
	as_huff_t h[4]; /* 0 main, 1 long lengths, 2 aligned, 3 pre-code */
	uint8_t lens[AS_NLEN];
	bool aligned;
} as_t;

static void as_fill(as_t *s)
{
	while (s->nbits <= 24) {
		if (s->pos >= s->len) {
			s->err = true;
			return;
		}
		s->win |= (uint32_t)s->in[s->pos++] << (24 - s->nbits);
		s->nbits += 8;
	}
}

/* N bits, 0 <= N <= 24 */
static uint32_t as_bits(as_t *s, uint32_t n)
{
	uint32_t v;

	as_fill(s);
	if (s->err || n == 0)
		return 0;
	v = s->win >> (32 - n);
	s->win <<= n;
	s->nbits -= n;
	return v;
}

/* The canonical code of the NSYM lengths LEN (0: unused, at most 15); 0
 * or SL_EINVAL when it is not a complete code. */
static int as_build(as_huff_t *h, const uint8_t *len, uint32_t nsym)
{
	uint32_t count[16] = {0}, next[16], sum = 0, idx = 0;

	memset(h, 0, sizeof(*h));
	h->nsym = nsym;
	for (uint32_t i = 0; i < nsym; i++) {
		if (len[i] > 15)
			return SL_EINVAL;
		count[len[i]]++;
	}
	for (uint32_t l = 1; l <= 15; l++) {
		uint32_t from = sum >> 16;

		h->first[l] = idx;
		next[l] = idx;
		idx += count[l];
		sum += count[l] << (24 - l);
		if (sum > 0x1000000)
			return SL_EINVAL;
		h->lim[l] = sum;
		if (l <= 8)
			for (uint32_t k = from; k < (sum >> 16) && k < 256; k++)
				h->fast[k] = (uint8_t)l;
	}
	if (sum != 0x1000000)
		return SL_EINVAL;
	for (uint32_t i = 0; i < nsym; i++)
		if (len[i])
			h->sym[next[len[i]]++] = (uint16_t)i;
	return 0;
}

static uint32_t as_sym(as_t *s, const as_huff_t *h)
{
	uint32_t top, l;

	as_fill(s);
	if (s->err)
		return 0;
	top = s->win >> 8; /* 24 bits */
	if (top < h->lim[8]) {
		l = h->fast[top >> 16];
		if (l == 0) {
			s->err = true;
			return 0;
		}
	} else {
		for (l = 9; l < 15 && top >= h->lim[l]; l++)
			;
	}
	s->win <<= l;
	s->nbits -= l;
	return h->sym[h->first[l] + ((top - h->lim[l - 1]) >> (24 - l))];
}

/* New tables: a "keep the old lengths" bit, 19 pre-code lengths, then
 * the 757 lengths as deltas (mod 16) from the old ones or runs. */
static int as_tables(as_t *s)
{
	uint8_t pre[19];
	uint32_t i = 0;

	if (as_bits(s, 1) == 0)
		memset(s->lens, 0, sizeof(s->lens));
	for (uint32_t k = 0; k < 19; k++)
		pre[k] = (uint8_t)as_bits(s, 4);
	if (s->err || as_build(&s->h[3], pre, 19) != 0)
		return SL_EINVAL;
	while (i < AS_NLEN) {
		uint32_t c = as_sym(s, &s->h[3]), run;
		uint8_t v;

		if (s->err)
			return SL_EINVAL;
		if (c < 16) {
			s->lens[i] = (uint8_t)((s->lens[i] + c) & 0xf);
			i++;
			continue;
		}
		if (c == 16)
			run = 3 + as_bits(s, 2), v = i > 0 ? s->lens[i - 1] : 0;
		else if (c == 17)
			run = 3 + as_bits(s, 3), v = 0;
		else
			run = 11 + as_bits(s, 7), v = 0;
		for (; run > 0 && i < AS_NLEN; run--)
			s->lens[i++] = v;
	}
	if (as_build(&s->h[0], s->lens, 721) != 0 || as_build(&s->h[1], s->lens + 721, 28) != 0 ||
	    as_build(&s->h[2], s->lens + 749, 8) != 0)
		return SL_EINVAL;
	s->aligned = false;
	for (uint32_t k = 749; k < AS_NLEN; k++)
		if (s->lens[k] != 3)
			s->aligned = true;
	return 0;
}

/* Decompress the block IN into OUT (SIZE bytes). TABS: 28 long-length
 * bases, their 28 extra-bit counts, the 58 distance extra-bit counts;
 * BASE: the 58 distance bases. 0 or SL_EINVAL (what was written stays). */
static int as_block(as_t *s, const uint8_t *tabs, const uint32_t *base, uint8_t *out, uint32_t size)
{
	uint32_t hist[3] = {0, 0, 0}, n = 0;

	memset(s->lens, 0, sizeof(s->lens));
	if (as_tables(s) != 0)
		return SL_EINVAL;
	while (n < size) {
		uint32_t c = as_sym(s, &s->h[0]), slot, len, off, xb;

		if (s->err)
			return SL_EINVAL;
		if (c < 256) {
			out[n++] = (uint8_t)c;
			continue;
		}
		if (c >= 720) {
			if (as_tables(s) != 0)
				return SL_EINVAL;
			continue;
		}
		slot = (c - 256) >> 3;
		len = ((c - 256) & 7) + 2;
		if (len == 9) {
			uint32_t l = as_sym(s, &s->h[1]);

			if (tabs[l + 28] > 24)
				return SL_EINVAL;
			len += tabs[l] + as_bits(s, tabs[l + 28]);
		}
		off = base[slot];
		xb = tabs[56 + slot];
		if (!s->aligned || xb < 3) {
			if (xb > 24)
				return SL_EINVAL;
			off += as_bits(s, xb);
		} else {
			if (xb - 3 > 24)
				return SL_EINVAL;
			off += as_bits(s, xb - 3) * 8;
			off += as_sym(s, &s->h[2]);
		}
		if (s->err)
			return SL_EINVAL;
		if (off < 3) {
			uint32_t d = hist[off];

			hist[off] = hist[0];
			hist[0] = d;
			off = d;
		} else {
			off -= 3;
			hist[2] = hist[1], hist[1] = hist[0], hist[0] = off;
		}
		off++;
		if (off == 0 || off > n || len > size - n)
			return SL_EINVAL;
		for (uint32_t k = 0; k < len; k++, n++)
			out[n] = out[n - off];
	}
	return 0;
}

/* E8/E9 + MARKER + 3 bytes: the rotated absolute target back to a
 * relative one */
static void as_calls(uint8_t *b, uint32_t size, uint8_t marker)
{
	for (uint32_t i = 0; size > 7 && i < size - 6; i++) {
		if ((b[i] == 0xe8 || b[i] == 0xe9) && b[i + 1] == marker) {
			uint32_t t = av_le32(b + i + 1) & 0xffffff00u;

			t = t >> 8 | t << 24;
			av_pe_put32(b + i + 1, t - i);
			i += 4;
		}
	}
}

int av_pe_aspack(const av_pe_t *p, av_emit_t *e)
{
	const uint8_t *epc = av_pe_file_at(p, p->ep, 0x440);
	const struct as_ver *v = NULL;
	uint32_t ep = p->ep - 1, base[58], at, sum = 0;
	uint8_t tabs[0x72];
	uint8_t *in = NULL;
	as_t *s = NULL;
	sl_buf_t img;
	int rc;

	if (epc == NULL || memcmp(epc, "\x60\xe8\x03\x00\x00\x00\xe9\xeb", 8) != 0)
		return 0;
	for (size_t k = 0; k < sizeof(as_vers) / sizeof(as_vers[0]); k++)
		if (memcmp(epc + as_vers[k].push_ret, "\x68\x00\x00\x00\x00\xc3", 6) == 0)
			v = &as_vers[k];
	if (v == NULL)
		return 0;
	if ((rc = av_pe_img_load(p, e, &img)) != 0)
		goto out;
	if (!av_img_has(&img, (uint64_t)ep + v->mlt, 58) || !av_img_has(&img, (uint64_t)ep + v->tabs, sizeof(tabs)) ||
	    !av_img_has(&img, (uint64_t)ep + v->marker, 1)) {
		e->broken++;
		goto out;
	}
	memcpy(tabs, img.data + ep + v->tabs, sizeof(tabs));
	for (uint32_t i = 0; i < 58; i++) {
		uint8_t m = img.data[ep + v->mlt + i];

		base[i] = sum;
		if (m > 24) {
			e->broken++;
			goto out;
		}
		sum += 1u << m;
	}
	if ((s = malloc(sizeof(*s))) == NULL) {
		rc = SL_ENOMEM;
		goto out;
	}
	at = ep + v->blocks;
	for (uint32_t blk = 0;; blk++) {
		uint32_t rva, size;

		if (blk == AS_BLOCKS || !av_img_has(&img, at, v->rec)) {
			e->broken++;
			break;
		}
		rva = av_le32(img.data + at);
		size = av_le32(img.data + at + 4);
		at += v->rec;
		if (rva == 0 || size == 0)
			break; /* the end of the list */
		if (v->rec == 12 && size == 0u - AS_PAD)
			continue; /* a record the later builds skip */
		if (!av_img_has(&img, rva, size)) {
			e->broken++;
			break;
		}
		free(in);
		if ((in = calloc(1, (size_t)size + AS_PAD)) == NULL) {
			rc = SL_ENOMEM;
			goto out;
		}
		memcpy(in, img.data + rva, size);
		memset(s, 0, sizeof(*s));
		s->in = in;
		s->len = (size_t)size + AS_PAD;
		if (as_block(s, tabs, base, img.data + rva, size) != 0) {
			e->broken++;
			break;
		}
		if (blk == 0)
			as_calls(img.data + rva, size, img.data[ep + v->marker]);
	}
	rc = av_pe_img_emit(p, &img, 0, "aspack-unpacked", e);
out:
	free(in);
	free(s);
	sl_buf_free(&img);
	return rc;
}
