/* flt_av_zipx - zip members in the two methods libarchive does not read
 * (PKWARE APPNOTE 6.3.10): 6 "implode" (PKZIP 1.x: LZ77 over a 4 or 8 KiB
 * window with two or three Shannon-Fano trees, §5.3) and 9 "deflate64"
 * (flt_av_inflate.c). libarchive reads a zip first; this walks the local
 * headers afterwards and decodes only members in those methods.
 *
 * Bounds: a member's input is its compressed size (or the rest of the
 * file with a data descriptor), its output the uncompressed size and the
 * member cap; every implode step reads bits or ends; at most ZIPX_MAX local
 * headers are looked at. */
#include <stdio.h>
#include <string.h>

#include "av/flt_av_dec.h"
#include "sl_err.h"

#define ZIPX_MAX 10000u

typedef struct sf_tree {
	uint16_t n;
	uint8_t len[256];
	uint16_t code[256]; /* right-aligned code, MSB first */
} sf_tree_t;

typedef struct bitrd {
	const uint8_t *p;
	size_t len, pos;
	uint32_t buf, cnt;
	bool eof;
} bitrd_t;

static uint32_t getbits(bitrd_t *b, uint32_t n)
{
	uint32_t v;

	while (b->cnt < n) {
		if (b->pos >= b->len) {
			b->eof = true;
			return 0;
		}
		b->buf |= (uint32_t)b->p[b->pos++] << b->cnt;
		b->cnt += 8;
	}
	v = b->buf & ((1u << n) - 1);
	b->buf >>= n;
	b->cnt -= n;
	return v;
}

/* Read one tree of N values (APPNOTE 5.3.7): a byte count - 1, then bytes
 * whose low nibble is a bit length - 1 and high nibble a repeat - 1; the
 * codes are assigned from the longest length down. 0 or SL_EINVAL. */
static int sf_read(bitrd_t *b, sf_tree_t *t, uint16_t n)
{
	uint32_t nb, k = 0, code = 0, inc = 0, last = 0;
	uint16_t order[256];

	t->n = n;
	if (b->pos >= b->len)
		return SL_EINVAL;
	nb = (uint32_t)b->p[b->pos++] + 1;
	for (uint32_t i = 0; i < nb; i++) {
		uint8_t v;
		uint32_t rep;

		if (b->pos >= b->len)
			return SL_EINVAL;
		v = b->p[b->pos++];
		rep = (uint32_t)(v >> 4) + 1;
		if (k + rep > n)
			return SL_EINVAL;
		while (rep--)
			t->len[k++] = (uint8_t)((v & 15) + 1);
	}
	if (k != n)
		return SL_EINVAL;
	/* stable sort by length (counting), then codes from the last entry up */
	for (uint32_t l = 1, m = 0; l <= 16; l++)
		for (uint32_t i = 0; i < n; i++)
			if (t->len[i] == l)
				order[m++] = (uint16_t)i;
	for (int i = (int)n - 1; i >= 0; i--) {
		uint32_t s = order[i];

		code += inc;
		if (t->len[s] != last) {
			last = t->len[s];
			inc = 1u << (16 - last);
		}
		if (code > 0xffff)
			return SL_EINVAL;
		t->code[s] = (uint16_t)(code >> (16 - t->len[s]));
	}
	return 0;
}

/* One symbol: the code comes MSB first, as assigned above. -1 at the end of input
 * or on a code no symbol has. */
static int sf_decode(bitrd_t *b, const sf_tree_t *t)
{
	uint32_t c = 0;

	for (uint32_t l = 1; l <= 16; l++) {
		c = c << 1 | getbits(b, 1);
		if (b->eof)
			return -1;
		for (uint32_t i = 0; i < t->n; i++)
			if (t->len[i] == l && t->code[i] == c)
				return (int)i;
	}
	return -1;
}

/* Explode into OUT until USIZE bytes (or the cap). 0, SL_EINVAL (truncated
 * or corrupt: OUT has what was decoded), 1 (cap: verdict set), SL_ENOMEM. */
static int explode(sl_slice_t in, uint16_t flags, uint64_t usize, av_emit_t *e, sl_buf_t *out)
{
	sf_tree_t lit, lens, dist;
	bitrd_t b = {.p = in.ptr, .len = in.len};
	bool big = flags & 2, three = flags & 4;
	uint32_t dbits = big ? 7 : 6, minlen = three ? 3 : 2;
	int rc;

	if ((three && sf_read(&b, &lit, 256) != 0) || sf_read(&b, &lens, 64) != 0 || sf_read(&b, &dist, 64) != 0)
		return SL_EINVAL;
	while (out->len < usize) {
		if (getbits(&b, 1)) {
			int c = three ? sf_decode(&b, &lit) : (int)getbits(&b, 8);
			uint8_t ch = (uint8_t)c;

			if (c < 0 || b.eof)
				return SL_EINVAL;
			if ((rc = av_emit_append(e, out, &ch, 1)) != 0)
				return rc;
		} else {
			uint32_t low = getbits(&b, dbits), len, distance;
			int hi = sf_decode(&b, &dist), l;

			if (hi < 0 || b.eof)
				return SL_EINVAL;
			distance = ((uint32_t)hi << dbits | low) + 1;
			if ((l = sf_decode(&b, &lens)) < 0)
				return SL_EINVAL;
			len = (uint32_t)l;
			if (len == 63)
				len += getbits(&b, 8);
			len += minlen;
			if (b.eof)
				return SL_EINVAL;
			if (len > usize - out->len)
				len = (uint32_t)(usize - out->len);
			for (uint32_t k = 0; k < len; k++) {
				/* before the start of the output the window is zeros */
				uint8_t ch = distance > out->len ? 0 : out->data[out->len - distance];

				if ((rc = av_emit_append(e, out, &ch, 1)) != 0)
					return rc;
			}
		}
	}
	return 0;
}

int av_dec_zipx(sl_slice_t d, const char *name, av_emit_t *e)
{
	size_t i = 0;
	sl_buf_t out;
	int rc = 0;

	(void)name;
	av_emit_buf_init(e, &out);
	for (uint32_t n = 0; rc == 0 && n < ZIPX_MAX && i + 30 <= d.len; n++) {
		const uint8_t *h = d.ptr + i;
		uint16_t flags, method, nlen, xlen;
		uint64_t csize, usize;
		size_t data;
		char mname[256];

		if (memcmp(h, "PK\3\4", 4) != 0)
			break; /* the central directory, or junk: done */
		flags = av_le16(h + 6);
		method = av_le16(h + 8);
		csize = av_le32(h + 18);
		usize = av_le32(h + 22);
		nlen = av_le16(h + 26);
		xlen = av_le16(h + 28);
		data = i + 30 + (size_t)nlen + xlen;
		if (data > d.len) {
			e->broken++;
			break;
		}
		if ((flags & 8) && csize == 0)
			csize = d.len - data; /* sizes in a data descriptor: decode to the end */
		if (csize > d.len - data) {
			e->broken++;
			csize = d.len - data;
		}
		i = data + (size_t)csize;
		if ((method != 6 && method != 9) || (flags & 1))
			continue; /* libarchive's, or encrypted (its policy is applied there) */
		snprintf(mname, sizeof(mname), "%.*s", nlen > 250 ? 250 : nlen, (const char *)h + 30);
		sl_buf_reset(&out);
		if (method == 9) {
			size_t used = 0;

			rc = av_inflate(sl_slice_make(d.ptr + data, (size_t)csize), true, &out, &used);
			if (rc == SL_ELIMIT)
				rc = av_emit_toolarge(e);
			if ((flags & 8) && rc == 0)
				i = data + used; /* the descriptor follows the stream */
		} else {
			if ((flags & 8) && usize == 0)
				usize = e->cap;
			rc = explode(sl_slice_make(d.ptr + data, (size_t)csize), flags, usize, e, &out);
		}
		if (rc == SL_EINVAL) {
			e->broken++;
			rc = 0;
		}
		if (rc == 0)
			rc = e->member(e, mname[0] ? mname : NULL, NULL, sl_buf_slice(&out));
		if ((flags & 8) && rc == 0) {
			/* skip the data descriptor (with or without its signature) */
			if (i + 4 <= d.len && memcmp(d.ptr + i, "PK\7\x08", 4) == 0)
				i += 16;
			else
				i += 12;
		}
	}
	sl_buf_free(&out);
	return rc;
}
