/* flt_av_lzx - Microsoft LZX, as CHM files (the MSCompressed section) and
 * cabinets (compression type 3) use it.
 *
 * The format, as the public descriptions (the LZX DELTA spec [MS-PATCH],
 * the CAB SDK notes) give it: a bit stream of 16-bit little-endian words
 * read from the most significant bit; output in 32 KiB frames, after each
 * of which the bit stream is realigned to a word; blocks of three kinds
 * (verbatim, aligned offsets, uncompressed) each with a 24-bit length;
 * Huffman code lengths sent as deltas through a 20-symbol pretree; three
 * repeated offsets R0..R2; and the "E8" call translation undone on each
 * frame when the stream header carried a translation size. CHM resets the
 * whole state every N frames (its reset table); a cabinet folder is one
 * stream.
 *
 * The window (2^15..2^21 bytes) is kept apart from the output because the
 * E8 translation changes output bytes that later matches must not see.
 * Every read is bounded by the input (past its end the reader feeds zero
 * words and the stream is judged truncated once one of them is used);
 * every match is checked against the window, the data written so far,
 * the block and the frame; every loop step consumes input bits or writes
 * output. */
#include <stdlib.h>
#include <string.h>

#include "av/flt_av_dec.h"
#include "sl_err.h"

#define LZX_FRAME 32768u
#define LZX_MAXBITS 16
#define LZX_FAST 10
#define LZX_MAIN_MAX (256 + 50 * 8)
#define LZX_LEN_MAX 249
#define LZX_PRE 20
#define LZX_ALIGNED 8

enum { LZX_VERBATIM = 1, LZX_ALIGNEDB = 2, LZX_UNCOMPRESSED = 3 };

typedef struct lzx_huff {
	uint16_t count[LZX_MAXBITS + 1];
	uint16_t sym[LZX_MAIN_MAX];
	uint16_t fast[1u << LZX_FAST]; /* sym << 5 | len, 0: not a short code */
	bool empty;
} lzx_huff_t;

typedef struct lzx {
	const uint8_t *p, *end;
	uint32_t buf; /* bits, most significant first */
	uint32_t n;   /* bits in buf: the rest of one word, then whole words */
	uint32_t over; /* zero words fed past the end */
	uint8_t *win;
	uint32_t wsize, wpos;
	uint64_t total;   /* bytes output since the stream's start */
	uint64_t written; /* bytes put in the window (total + the current frame) */
	uint32_t r[3];
	uint32_t slots;
	int btype;
	uint32_t bremain, blen;
	bool header_read, intel_started;
	int32_t intel_size;
	uint8_t main_len[LZX_MAIN_MAX], len_len[LZX_LEN_MAX], aligned_len[LZX_ALIGNED], pre_len[LZX_PRE];
	lzx_huff_t main, len, aligned, pre;
} lzx_t;

static uint8_t extra_bits[51];
static uint32_t position_base[51];

static void lzx_tables(void)
{
	uint32_t j = 0;

	if (position_base[50] != 0)
		return;
	for (uint32_t i = 0; i < 51; i += 2) {
		extra_bits[i] = (uint8_t)j;
		if (i + 1 < 51)
			extra_bits[i + 1] = (uint8_t)j;
		if (i != 0 && j < 17)
			j++;
	}
	j = 0;
	for (uint32_t i = 0; i < 51; i++) {
		position_base[i] = j;
		j += 1u << extra_bits[i];
	}
}

static void lzx_fill(lzx_t *z, uint32_t k)
{
	while (z->n < k) {
		uint32_t w = 0;

		if (z->end - z->p >= 2) {
			w = av_le16(z->p);
			z->p += 2;
		} else {
			z->p = z->end; /* an odd last byte cannot start a word */
			z->over++;
		}
		z->buf |= w << (16 - z->n);
		z->n += 16;
	}
}

static uint32_t lzx_bits(lzx_t *z, uint32_t k)
{
	uint32_t v;

	if (k == 0)
		return 0;
	lzx_fill(z, k);
	v = z->buf >> (32 - k);
	z->buf = k == 32 ? 0 : z->buf << k;
	z->n -= k;
	return v;
}

/* More bits used than the input held. */
static bool lzx_truncated(const lzx_t *z)
{
	return z->over * 16 > z->n;
}

/* Canonical code from LENS; 0, or -1 when over-subscribed. An all-zero
 * set is "empty" (decoding from it fails); an incomplete one is kept, and
 * its unused codes fail when met. */
static int lzx_build(lzx_huff_t *h, const uint8_t *lens, uint32_t nsym)
{
	uint16_t offs[LZX_MAXBITS + 2];
	uint32_t code = 0;
	int left = 1;

	memset(h->count, 0, sizeof(h->count));
	memset(h->fast, 0, sizeof(h->fast));
	for (uint32_t i = 0; i < nsym; i++)
		h->count[lens[i]]++;
	h->empty = h->count[0] == nsym;
	if (h->empty)
		return 0;
	for (int l = 1; l <= LZX_MAXBITS; l++) {
		left = left * 2 - h->count[l];
		if (left < 0)
			return -1;
	}
	offs[1] = 0;
	for (int l = 1; l <= LZX_MAXBITS; l++)
		offs[l + 1] = (uint16_t)(offs[l] + h->count[l]);
	for (uint32_t i = 0; i < nsym; i++)
		if (lens[i] != 0)
			h->sym[offs[lens[i]]++] = (uint16_t)i;
	/* short codes: every table slot whose top bits are the code */
	for (int l = 1, k = 0; l <= LZX_FAST; l++) {
		for (uint32_t c = 0; c < h->count[l]; c++, k++, code++) {
			uint32_t lo = code << (LZX_FAST - l), hi = (code + 1) << (LZX_FAST - l);

			for (uint32_t s = lo; s < hi; s++)
				h->fast[s] = (uint16_t)(h->sym[k] << 5 | l);
		}
		code <<= 1;
	}
	return 0;
}

/* One symbol, or -1 (no such code, or past the input). */
static int lzx_decode(lzx_t *z, const lzx_huff_t *h)
{
	uint32_t v, code = 0, first = 0, index = 0;
	uint16_t f;

	if (h->empty)
		return -1;
	lzx_fill(z, LZX_MAXBITS);
	v = z->buf >> (32 - LZX_MAXBITS);
	f = h->fast[v >> (LZX_MAXBITS - LZX_FAST)];
	if (f != 0) {
		lzx_bits(z, f & 31u);
		return lzx_truncated(z) ? -1 : f >> 5;
	}
	for (uint32_t l = 1; l <= LZX_MAXBITS; l++) {
		uint32_t count = h->count[l];

		code |= (v >> (LZX_MAXBITS - l)) & 1;
		if (code - first < count) {
			lzx_bits(z, l);
			return lzx_truncated(z) ? -1 : h->sym[index + code - first];
		}
		index += count;
		first = (first + count) << 1;
		code <<= 1;
	}
	return -1;
}

/* Code lengths LENS[first..last) as deltas through a fresh pretree. */
static int lzx_read_lens(lzx_t *z, uint8_t *lens, uint32_t first, uint32_t last)
{
	for (uint32_t i = 0; i < LZX_PRE; i++)
		z->pre_len[i] = (uint8_t)lzx_bits(z, 4);
	if (lzx_build(&z->pre, z->pre_len, LZX_PRE) != 0 || lzx_truncated(z))
		return SL_EINVAL;
	for (uint32_t x = first; x < last;) {
		int s = lzx_decode(z, &z->pre);
		uint32_t run;

		if (s < 0)
			return SL_EINVAL;
		if (s == 17 || s == 18) {
			run = s == 17 ? lzx_bits(z, 4) + 4 : lzx_bits(z, 5) + 20;
			if (run > last - x)
				run = last - x;
			memset(lens + x, 0, run);
			x += run;
		} else if (s == 19) {
			uint8_t v;

			run = lzx_bits(z, 1) + 4;
			s = lzx_decode(z, &z->pre);
			if (s < 0 || s > 16)
				return SL_EINVAL;
			v = (uint8_t)((lens[x] + 17 - s) % 17);
			if (run > last - x)
				run = last - x;
			memset(lens + x, v, run);
			x += run;
		} else {
			lens[x] = (uint8_t)((lens[x] + 17 - s) % 17);
			x++;
		}
		if (lzx_truncated(z))
			return SL_EINVAL;
	}
	return 0;
}

static void lzx_reset(lzx_t *z)
{
	z->r[0] = z->r[1] = z->r[2] = 1;
	z->header_read = false;
	z->bremain = 0;
	z->btype = 0;
	memset(z->main_len, 0, sizeof(z->main_len));
	memset(z->len_len, 0, sizeof(z->len_len));
}

static int lzx_block_header(lzx_t *z)
{
	if (z->btype == LZX_UNCOMPRESSED) {
		z->buf = 0; /* bits start afresh after stored bytes */
		z->n = 0;
	}
	z->btype = (int)lzx_bits(z, 3);
	z->blen = lzx_bits(z, 16) << 8;
	z->blen |= lzx_bits(z, 8);
	z->bremain = z->blen;
	if (lzx_truncated(z))
		return SL_EINVAL;
	switch (z->btype) {
	case LZX_ALIGNEDB:
		for (uint32_t i = 0; i < LZX_ALIGNED; i++)
			z->aligned_len[i] = (uint8_t)lzx_bits(z, 3);
		if (lzx_build(&z->aligned, z->aligned_len, LZX_ALIGNED) != 0 || z->aligned.empty)
			return SL_EINVAL;
		/* the rest is a verbatim block's header */
		__attribute__((fallthrough));
	case LZX_VERBATIM:
		if (lzx_read_lens(z, z->main_len, 0, 256) != 0 ||
		    lzx_read_lens(z, z->main_len, 256, 256 + z->slots * 8) != 0)
			return SL_EINVAL;
		if (lzx_build(&z->main, z->main_len, 256 + z->slots * 8) != 0 || z->main.empty)
			return SL_EINVAL;
		if (z->main_len[0xe8] != 0)
			z->intel_started = true;
		if (lzx_read_lens(z, z->len_len, 0, LZX_LEN_MAX) != 0 ||
		    lzx_build(&z->len, z->len_len, LZX_LEN_MAX) != 0)
			return SL_EINVAL;
		return 0;
	case LZX_UNCOMPRESSED:
		z->intel_started = true;
		/* realign to a word: 1 to 16 bits go; whole words already in
		 * the bit buffer go back to the input, which is read as bytes */
		if (z->n % 16 == 0)
			lzx_fill(z, 16);
		z->n -= z->n % 16 == 0 ? 16 : z->n % 16;
		if (z->over != 0)
			return SL_EINVAL;
		z->p -= z->n / 8;
		z->buf = 0;
		z->n = 0;
		if (z->end - z->p < 12)
			return SL_EINVAL;
		for (int i = 0; i < 3; i++)
			z->r[i] = av_le32(z->p + 4 * i);
		z->p += 12;
		return 0;
	default:
		return SL_EINVAL;
	}
}

/* One literal, one match or a run of stored bytes, at most ROOM bytes
 * (what is left of the block and of the frame). *done_r gets the count. */
static int lzx_step(lzx_t *z, uint32_t room, uint32_t *done_r)
{
	uint32_t mask = z->wsize - 1, len, off;
	int s;

	if (z->btype == LZX_UNCOMPRESSED) {
		uint32_t n = room;

		if ((size_t)(z->end - z->p) < n)
			return SL_EINVAL;
		/* the window is a power of two and frames never cross its end */
		memcpy(z->win + z->wpos, z->p, n);
		z->p += n;
		z->wpos = (z->wpos + n) & mask;
		z->written += n;
		*done_r = n;
		return 0;
	}
	s = lzx_decode(z, &z->main);
	if (s < 0)
		return SL_EINVAL;
	if (s < 256) {
		z->win[z->wpos] = (uint8_t)s;
		z->wpos = (z->wpos + 1) & mask;
		z->written++;
		*done_r = 1;
		return 0;
	}
	s -= 256;
	len = (uint32_t)s & 7;
	if (len == 7) {
		int l = lzx_decode(z, &z->len);

		if (l < 0)
			return SL_EINVAL;
		len += (uint32_t)l;
	}
	len += 2;
	off = (uint32_t)s >> 3;
	if (off > 2) {
		uint32_t eb = extra_bits[off];

		if (z->btype == LZX_ALIGNEDB && eb >= 3) {
			uint32_t v = lzx_bits(z, eb - 3) << 3;
			int a = lzx_decode(z, &z->aligned);

			if (a < 0)
				return SL_EINVAL;
			off = position_base[off] - 2 + v + (uint32_t)a;
		} else {
			off = position_base[off] - 2 + lzx_bits(z, eb);
		}
		z->r[2] = z->r[1];
		z->r[1] = z->r[0];
		z->r[0] = off;
	} else if (off == 0) {
		off = z->r[0];
	} else {
		uint32_t t = z->r[off];

		z->r[off] = z->r[0];
		z->r[0] = t;
		off = t;
	}
	if (lzx_truncated(z) || len > room || off == 0 || off > z->wsize || off > z->written)
		return SL_EINVAL;
	for (uint32_t i = 0, from = (z->wpos - off) & mask; i < len; i++) {
		z->win[z->wpos] = z->win[from];
		z->wpos = (z->wpos + 1) & mask;
		from = (from + 1) & mask;
	}
	z->written += len;
	*done_r = len;
	return 0;
}

/* Undo the E8 call translation in one frame of output at stream offset POS. */
static void lzx_e8(uint8_t *d, uint32_t n, int64_t pos, int64_t size)
{
	for (uint32_t i = 0; i + 10 < n;) {
		int64_t abs_off, cur = pos + i;

		if (d[i] != 0xe8) {
			i++;
			continue;
		}
		abs_off = (int32_t)av_le32(d + i + 1);
		if (abs_off >= -cur && abs_off < size) {
			uint32_t rel = (uint32_t)(abs_off >= 0 ? abs_off - cur : abs_off + size);

			d[i + 1] = (uint8_t)rel;
			d[i + 2] = (uint8_t)(rel >> 8);
			d[i + 3] = (uint8_t)(rel >> 16);
			d[i + 4] = (uint8_t)(rel >> 24);
		}
		i += 5;
	}
}

int av_lzx(sl_slice_t in, uint32_t window_bits, uint32_t reset_frames, uint64_t usize, av_emit_t *e, sl_buf_t *out)
{
	lzx_t *z;
	uint64_t frame = 0;
	int rc = 0;

	if (window_bits < 15 || window_bits > 21)
		return SL_EINVAL;
	lzx_tables();
	z = calloc(1, sizeof(*z));
	if (z == NULL)
		return SL_ENOMEM;
	z->wsize = 1u << window_bits;
	z->win = malloc(z->wsize);
	if (z->win == NULL) {
		free(z);
		return SL_ENOMEM;
	}
	z->p = in.ptr;
	z->end = in.ptr + in.len;
	z->slots = window_bits == 21 ? 50 : window_bits == 20 ? 42 : window_bits * 2;
	lzx_reset(z);
	while (z->total < usize) {
		/* FSIZE bytes are wanted from this frame; the last match may
		 * run past them (not past the frame): its excess is dropped */
		uint32_t fsize = usize - z->total < LZX_FRAME ? (uint32_t)(usize - z->total) : LZX_FRAME;
		uint32_t fstart = z->wpos, fdone = 0;

		if (reset_frames != 0 && frame % reset_frames == 0)
			lzx_reset(z);
		if (z->p >= z->end && z->n == 0)
			break; /* the input ended on a frame boundary */
		if (!z->header_read) {
			if (lzx_bits(z, 1)) {
				uint32_t hi = lzx_bits(z, 16);

				z->intel_size = (int32_t)(hi << 16 | lzx_bits(z, 16));
			}
			z->header_read = true;
		}
		while (fdone < fsize && rc == 0) {
			uint32_t done = 0, room = LZX_FRAME - fdone;

			if (z->bremain == 0)
				rc = lzx_block_header(z);
			if (rc == 0 && z->bremain > 0) {
				rc = lzx_step(z, z->bremain < room ? z->bremain : room, &done);
				z->bremain -= done;
				fdone += done;
				/* an odd-length stored block is padded to a word (here,
				 * not at the next header: a reset may come between) */
				if (rc == 0 && z->bremain == 0 && z->btype == LZX_UNCOMPRESSED && (z->blen & 1) &&
				    z->p < z->end)
					z->p++;
			}
		}
		/* the frame (or what of it was decoded) to the output */
		{
			uint32_t got = fdone < fsize ? fdone : fsize;
			size_t at = out->len;

			z->total += got;

			if (got > 0) {
				int arc = av_emit_append(e, out, z->win + fstart, got);

				if (arc != 0) {
					rc = arc;
					break;
				}
				if (rc == 0 && z->intel_started && z->intel_size != 0 && frame < 32768 && got > 10)
					lzx_e8(out->data + at, got, (int64_t)(z->total - got), z->intel_size);
			}
		}
		if (rc != 0)
			break;
		/* the next frame starts on a word: the rest of this one goes */
		lzx_bits(z, z->n % 16);
		frame++;
	}
	free(z->win);
	free(z);
	return rc;
}
