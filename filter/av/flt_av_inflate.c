/* flt_av_inflate - deflate (RFC 1951), its Deflate64 variant (PKWARE
 * APPNOTE 4.4.5 method 9) and the zlib wrapper (RFC 1950), for the
 * containers that hold raw deflate streams libarchive cannot be handed:
 * SIS files, PowerPoint embedded objects, zip members in deflate64.
 *
 * The whole output stays in one buffer with a hard maximum, so the window
 * is the output itself: a distance past its start is an error. Every
 * Huffman table is checked (over-subscribed or incomplete sets are
 * refused, as zlib does), every read is bounded by the input, and every
 * loop step consumes input bits or writes output within the maximum. */
#include <string.h>

#include "av/flt_av_dec.h"
#include "sl_err.h"

#define INF_MAXBITS 15

typedef struct inf {
	const uint8_t *in;
	size_t len, pos;
	uint32_t bitbuf, bitcnt;
	sl_buf_t *out;
	bool d64;
	bool eof; /* ran past the input */
} inf_t;

typedef struct huff {
	uint16_t count[INF_MAXBITS + 1];
	uint16_t symbol[320];
} huff_t;

static uint32_t bits(inf_t *s, uint32_t n)
{
	uint32_t v = s->bitbuf;

	while (s->bitcnt < n) {
		if (s->pos >= s->len) {
			s->eof = true;
			return 0;
		}
		v |= (uint32_t)s->in[s->pos++] << s->bitcnt;
		s->bitcnt += 8;
	}
	s->bitbuf = (uint32_t)((uint64_t)v >> n);
	s->bitcnt -= n;
	return n == 32 ? v : v & ((1u << n) - 1);
}

/* Canonical Huffman table from code lengths. 0 complete, 1 incomplete
 * (allowed for a single distance code), -1 over-subscribed. */
static int huff_build(huff_t *h, const uint16_t *lens, uint32_t n)
{
	uint16_t offs[INF_MAXBITS + 1];
	int left = 1;

	memset(h->count, 0, sizeof(h->count));
	for (uint32_t i = 0; i < n; i++)
		h->count[lens[i]]++;
	if (h->count[0] == n)
		return 1;
	for (int len = 1; len <= INF_MAXBITS; len++) {
		left <<= 1;
		left -= h->count[len];
		if (left < 0)
			return -1;
	}
	offs[1] = 0;
	for (int len = 1; len < INF_MAXBITS; len++)
		offs[len + 1] = (uint16_t)(offs[len] + h->count[len]);
	for (uint32_t i = 0; i < n; i++)
		if (lens[i] != 0)
			h->symbol[offs[lens[i]]++] = (uint16_t)i;
	return left > 0;
}

static int decode(inf_t *s, const huff_t *h)
{
	int code = 0, first = 0, index = 0;

	for (int len = 1; len <= INF_MAXBITS; len++) {
		int count;

		code |= (int)bits(s, 1);
		if (s->eof)
			return -1;
		count = h->count[len];
		if (code - count < first)
			return h->symbol[index + (code - first)];
		index += count;
		first += count;
		first <<= 1;
		code <<= 1;
	}
	return -1;
}

static const uint16_t len_base[29] = {3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31,
				       35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
static const uint8_t len_extra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
				      2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
static const uint32_t dist_base[32] = {1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193,
				       257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193,
				       12289, 16385, 24577, 32769, 49153};
static const uint8_t dist_extra[32] = {0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6,
				       7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14};

static int put(inf_t *s, const void *p, size_t n)
{
	return sl_buf_append(s->out, p, n);
}

static int codes(inf_t *s, const huff_t *lencode, const huff_t *distcode)
{
	for (;;) {
		int sym = decode(s, lencode);

		if (sym < 0)
			return SL_EINVAL;
		if (sym < 256) {
			uint8_t b = (uint8_t)sym;
			int rc = put(s, &b, 1);

			if (rc != 0)
				return rc;
		} else if (sym == 256) {
			return 0;
		} else {
			uint32_t len, dist;
			sl_buf_t *o = s->out;
			int rc;

			sym -= 257;
			if (sym >= 29)
				return SL_EINVAL;
			if (s->d64 && sym == 28)
				len = 3 + bits(s, 16); /* Deflate64: code 285 carries 16 extra bits */
			else
				len = len_base[sym] + bits(s, len_extra[sym]);
			sym = decode(s, distcode);
			if (sym < 0 || sym >= (s->d64 ? 32 : 30) || s->eof)
				return SL_EINVAL;
			dist = dist_base[sym] + bits(s, dist_extra[sym]);
			if (s->eof || dist > o->len)
				return SL_EINVAL;
			if ((rc = sl_buf_reserve(o, len)) != 0)
				return rc;
			/* byte by byte: the source may overlap what is being written */
			for (uint32_t i = 0; i < len; i++)
				o->data[o->len + i] = o->data[o->len - dist + i];
			o->len += len;
		}
	}
}

static int stored(inf_t *s)
{
	uint32_t len, nlen;

	s->bitbuf = 0;
	s->bitcnt = 0;
	if (s->pos + 4 > s->len)
		return SL_EINVAL;
	len = av_le16(s->in + s->pos);
	nlen = av_le16(s->in + s->pos + 2);
	s->pos += 4;
	if (len != (~nlen & 0xffff) || len > s->len - s->pos)
		return SL_EINVAL;
	s->pos += len;
	return put(s, s->in + s->pos - len, len);
}

static int fixed(inf_t *s)
{
	huff_t lencode, distcode;
	uint16_t lens[320];
	int i;

	for (i = 0; i < 144; i++)
		lens[i] = 8;
	for (; i < 256; i++)
		lens[i] = 9;
	for (; i < 280; i++)
		lens[i] = 7;
	for (; i < 288; i++)
		lens[i] = 8;
	huff_build(&lencode, lens, 288);
	for (i = 0; i < 32; i++)
		lens[i] = 5;
	huff_build(&distcode, lens, 32);
	return codes(s, &lencode, &distcode);
}

static int dynamic(inf_t *s)
{
	static const uint8_t order[19] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};
	uint16_t lens[320];
	huff_t lencode, distcode;
	uint32_t nlen = bits(s, 5) + 257, ndist = bits(s, 5) + 1, ncode = bits(s, 4) + 4, index = 0;
	int err;

	if (s->eof || nlen > 286 || ndist > 32)
		return SL_EINVAL;
	memset(lens, 0, sizeof(lens));
	for (uint32_t i = 0; i < ncode; i++)
		lens[order[i]] = (uint16_t)bits(s, 3);
	if (s->eof || huff_build(&lencode, lens, 19) != 0)
		return SL_EINVAL;
	while (index < nlen + ndist) {
		int sym = decode(s, &lencode);
		uint32_t rep, val = 0;

		if (sym < 0)
			return SL_EINVAL;
		if (sym < 16) {
			lens[index++] = (uint16_t)sym;
			continue;
		}
		if (sym == 16) {
			if (index == 0)
				return SL_EINVAL;
			val = lens[index - 1];
			rep = 3 + bits(s, 2);
		} else if (sym == 17) {
			rep = 3 + bits(s, 3);
		} else {
			rep = 11 + bits(s, 7);
		}
		if (s->eof || index + rep > nlen + ndist)
			return SL_EINVAL;
		while (rep--)
			lens[index++] = (uint16_t)val;
	}
	if (lens[256] == 0)
		return SL_EINVAL;
	err = huff_build(&lencode, lens, nlen);
	if (err < 0 || (err > 0 && nlen - lencode.count[0] != 1))
		return SL_EINVAL;
	err = huff_build(&distcode, lens + nlen, ndist);
	if (err < 0 || (err > 0 && ndist - distcode.count[0] != 1))
		return SL_EINVAL;
	return codes(s, &lencode, &distcode);
}

int av_inflate(sl_slice_t in, bool deflate64, sl_buf_t *out, size_t *used_r)
{
	inf_t s = {.in = in.ptr, .len = in.len, .out = out, .d64 = deflate64};
	uint32_t last = 0;
	int rc = 0;

	while (rc == 0 && !last) {
		uint32_t type;

		last = bits(&s, 1);
		type = bits(&s, 2);
		if (s.eof)
			rc = SL_EINVAL;
		else if (type == 0)
			rc = stored(&s);
		else if (type == 1)
			rc = fixed(&s);
		else if (type == 2)
			rc = dynamic(&s);
		else
			rc = SL_EINVAL;
	}
	if (used_r != NULL)
		*used_r = s.pos;
	return rc;
}

int av_zlib(sl_slice_t in, sl_buf_t *out)
{
	/* RFC 1950: CM 8, window <= 32K, header check, no preset dictionary */
	if (in.len < 2 || (in.ptr[0] & 0x0f) != 8 || (in.ptr[0] >> 4) > 7 ||
	    ((unsigned)in.ptr[0] << 8 | in.ptr[1]) % 31 != 0 || (in.ptr[1] & 0x20) != 0)
		return SL_EINVAL;
	return av_inflate(sl_slice_make(in.ptr + 2, in.len - 2), false, out, NULL);
}
