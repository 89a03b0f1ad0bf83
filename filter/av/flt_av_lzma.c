/* flt_av_lzma - an LZMA decoder (the LZMA SDK's lzma-specification: range
 * coder, literal coder with lc/lp, length coders, distance slots, the
 * four-deep rep history) for the containers that carry raw LZMA streams:
 * NSIS installers. The whole output stays in one capped buffer, which is
 * the dictionary: a distance past its start is an error. Every decoded bit
 * consumes range-coder state; running out of input ends the stream (what
 * was decoded is kept), so no loop runs without input. */
#include <stdlib.h>
#include <string.h>

#include "av/flt_av_dec.h"
#include "sl_err.h"

#define LZ_STATES 12
#define LZ_POS_MAX 16
#define LZ_PROB_INIT 1024

typedef struct lz_len {
	uint16_t choice, choice2;
	uint16_t low[LZ_POS_MAX][8], mid[LZ_POS_MAX][8], high[256];
} lz_len_t;

typedef struct lz {
	const uint8_t *in;
	size_t len, pos;
	uint32_t range, code;
	bool eof;
	uint16_t is_match[LZ_STATES][LZ_POS_MAX], is_rep[LZ_STATES], is_g0[LZ_STATES], is_g1[LZ_STATES],
		is_g2[LZ_STATES], is_rep0_long[LZ_STATES][LZ_POS_MAX];
	uint16_t slot[4][64], posd[115], align[16];
	lz_len_t lenc, repc;
	uint16_t *lit;
} lz_t;

static void rc_norm(lz_t *s)
{
	if (s->range < (1u << 24)) {
		s->range <<= 8;
		if (s->pos >= s->len) {
			s->eof = true;
			s->code <<= 8;
			return;
		}
		s->code = s->code << 8 | s->in[s->pos++];
	}
}

static uint32_t rc_bit(lz_t *s, uint16_t *p)
{
	uint32_t bound = (s->range >> 11) * *p, bit;

	if (s->code < bound) {
		*p = (uint16_t)(*p + ((2048 - *p) >> 5));
		s->range = bound;
		bit = 0;
	} else {
		*p = (uint16_t)(*p - (*p >> 5));
		s->code -= bound;
		s->range -= bound;
		bit = 1;
	}
	rc_norm(s);
	return bit;
}

static uint32_t rc_direct(lz_t *s, uint32_t n)
{
	uint32_t r = 0;

	while (n--) {
		s->range >>= 1;
		if (s->code >= s->range) {
			s->code -= s->range;
			r = r << 1 | 1;
		} else {
			r <<= 1;
		}
		rc_norm(s);
	}
	return r;
}

static uint32_t tree(lz_t *s, uint16_t *p, uint32_t nbits)
{
	uint32_t m = 1;

	for (uint32_t i = 0; i < nbits; i++)
		m = (m << 1) + rc_bit(s, &p[m]);
	return m - (1u << nbits);
}

static uint32_t tree_rev(lz_t *s, uint16_t *p, uint32_t nbits)
{
	uint32_t m = 1, sym = 0;

	for (uint32_t i = 0; i < nbits; i++) {
		uint32_t b = rc_bit(s, &p[m]);

		m = (m << 1) + b;
		sym |= b << i;
	}
	return sym;
}

static uint32_t len_decode(lz_t *s, lz_len_t *l, uint32_t ps)
{
	if (!rc_bit(s, &l->choice))
		return tree(s, l->low[ps], 3);
	if (!rc_bit(s, &l->choice2))
		return 8 + tree(s, l->mid[ps], 3);
	return 16 + tree(s, l->high, 8);
}

static void probs_init(uint16_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = LZ_PROB_INIT;
}

int av_lzma(sl_slice_t in, uint8_t props, uint64_t usize, av_emit_t *e, sl_buf_t *out)
{
	uint32_t lc = props % 9, lp = (props / 9) % 5, pb = props / 45;
	uint32_t state = 0, rep[4] = {0, 0, 0, 0};
	size_t start = out->len;
	lz_t *s;
	int rc = 0;

	if (props >= 9 * 5 * 5 || in.len < 5 || in.ptr[0] != 0)
		return SL_EINVAL;
	if ((s = calloc(1, sizeof(*s))) == NULL || (s->lit = malloc(sizeof(uint16_t) * (0x300u << (lc + lp)))) == NULL) {
		free(s);
		return SL_ENOMEM;
	}
	probs_init(s->lit, 0x300u << (lc + lp));
	probs_init(&s->is_match[0][0], sizeof(s->is_match) / 2);
	probs_init(s->is_rep, LZ_STATES);
	probs_init(s->is_g0, LZ_STATES);
	probs_init(s->is_g1, LZ_STATES);
	probs_init(s->is_g2, LZ_STATES);
	probs_init(&s->is_rep0_long[0][0], sizeof(s->is_rep0_long) / 2);
	probs_init(&s->slot[0][0], sizeof(s->slot) / 2);
	probs_init(s->posd, 115);
	probs_init(s->align, 16);
	probs_init((uint16_t *)&s->lenc, sizeof(s->lenc) / 2);
	probs_init((uint16_t *)&s->repc, sizeof(s->repc) / 2);
	s->in = in.ptr;
	s->len = in.len;
	s->range = 0xffffffffu;
	s->code = (uint32_t)in.ptr[1] << 24 | (uint32_t)in.ptr[2] << 16 | (uint32_t)in.ptr[3] << 8 | in.ptr[4];
	s->pos = 5;
	while (rc == 0 && out->len - start < usize && !s->eof) {
		size_t done = out->len - start;
		uint32_t ps = (uint32_t)done & ((1u << pb) - 1), len;

		if (!rc_bit(s, &s->is_match[state][ps])) {
			uint8_t prev = done ? out->data[out->len - 1] : 0;
			uint16_t *p = s->lit + 0x300u * ((((uint32_t)done & ((1u << lp) - 1)) << lc) + (prev >> (8 - lc)));
			uint32_t sym = 1;
			uint8_t b;

			if (state >= 7 && rep[0] < done) {
				uint32_t mb = out->data[out->len - rep[0] - 1];

				while (sym < 0x100) {
					uint32_t mbit = (mb >> 7) & 1, bit;

					mb <<= 1;
					bit = rc_bit(s, &p[((1 + mbit) << 8) + sym]);
					sym = sym << 1 | bit;
					if (mbit != bit)
						break;
				}
			}
			while (sym < 0x100)
				sym = sym << 1 | rc_bit(s, &p[sym]);
			b = (uint8_t)sym;
			if (s->eof)
				break;
			rc = av_emit_append(e, out, &b, 1);
			state = state < 4 ? 0 : state < 10 ? state - 3 : state - 6;
			continue;
		}
		if (!rc_bit(s, &s->is_rep[state])) {
			uint32_t ls, slot, dist;

			rep[3] = rep[2], rep[2] = rep[1], rep[1] = rep[0];
			len = len_decode(s, &s->lenc, ps);
			state = state < 7 ? 7 : 10;
			ls = len < 3 ? len : 3;
			slot = tree(s, s->slot[ls], 6);
			if (slot < 4) {
				dist = slot;
			} else {
				uint32_t nd = (slot >> 1) - 1;

				dist = (2 | (slot & 1)) << nd;
				if (slot < 14)
					dist += tree_rev(s, s->posd + dist - slot, nd);
				else {
					dist += rc_direct(s, nd - 4) << 4;
					dist += tree_rev(s, s->align, 4);
				}
			}
			if (dist == 0xffffffffu)
				break; /* the end marker */
			rep[0] = dist;
		} else {
			if (!rc_bit(s, &s->is_g0[state])) {
				if (!rc_bit(s, &s->is_rep0_long[state][ps])) {
					uint8_t b;

					if (s->eof || rep[0] >= done) {
						rc = SL_EINVAL;
						break;
					}
					state = state < 7 ? 9 : 11;
					b = out->data[out->len - rep[0] - 1];
					rc = av_emit_append(e, out, &b, 1);
					continue;
				}
			} else {
				uint32_t dist;

				if (!rc_bit(s, &s->is_g1[state])) {
					dist = rep[1];
				} else {
					if (!rc_bit(s, &s->is_g2[state])) {
						dist = rep[2];
					} else {
						dist = rep[3];
						rep[3] = rep[2];
					}
					rep[2] = rep[1];
				}
				rep[1] = rep[0];
				rep[0] = dist;
			}
			len = len_decode(s, &s->repc, ps);
			state = state < 7 ? 8 : 11;
		}
		if (s->eof)
			break;
		if (rep[0] >= done) {
			rc = SL_EINVAL; /* before the start of the output */
			break;
		}
		len += 2;
		if (len > usize - done)
			len = (uint32_t)(usize - done);
		for (uint32_t k = 0; k < len && rc == 0; k++) {
			uint8_t b = out->data[out->len - rep[0] - 1];

			rc = av_emit_append(e, out, &b, 1);
		}
	}
	free(s->lit);
	free(s);
	return rc;
}
