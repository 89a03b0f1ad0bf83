/* test_av_aplib - an aPLib encoder for the unpacker tests (MEW and
 * PESpin carry aPLib streams): the caller picks every step, so a test can
 * produce each kind of token on purpose. Tag bits go MSB first in bytes
 * reserved when their first bit is written, the other bytes after them.
 * Tests only. */
#ifndef TEST_AV_APLIB_H
#define TEST_AV_APLIB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct ap {
	uint8_t o[2048];
	size_t n, slot;
	uint32_t used;
	bool lost; /* the last step was a literal */
} ap_t;

static inline void ap_init(ap_t *a, uint8_t first)
{
	memset(a, 0, sizeof(*a));
	a->o[a->n++] = first;
	a->used = 8;
	a->lost = true;
}

static inline void ap_bit(ap_t *a, uint32_t bit)
{
	if (a->used == 8) {
		a->slot = a->n++;
		a->used = 0;
	}
	a->o[a->slot] |= (uint8_t)((bit & 1) << (7 - a->used));
	a->used++;
}

static inline void ap_gamma(ap_t *a, uint32_t v)
{
	int top = 31;

	while (!(v >> top))
		top--;
	for (int i = top - 1; i >= 0; i--) {
		ap_bit(a, v >> i);
		ap_bit(a, i != 0);
	}
}

static inline void ap_lit(ap_t *a, uint8_t c)
{
	ap_bit(a, 0);
	a->o[a->n++] = c;
	a->lost = true;
}

static inline void ap_short(ap_t *a, uint32_t dist, uint32_t len) /* dist 1-127, len 2-3 */
{
	ap_bit(a, 1), ap_bit(a, 1), ap_bit(a, 0);
	a->o[a->n++] = (uint8_t)(dist << 1 | (len - 2));
	a->lost = false;
}

static inline void ap_one(ap_t *a, uint32_t dist) /* one byte from 1-15 back; 0: a zero */
{
	ap_bit(a, 1), ap_bit(a, 1), ap_bit(a, 1);
	for (int i = 3; i >= 0; i--)
		ap_bit(a, dist >> i);
	a->lost = true;
}

static inline void ap_long(ap_t *a, uint32_t dist, uint32_t len) /* dist 0x80-0x4ff */
{
	ap_bit(a, 1), ap_bit(a, 0);
	ap_gamma(a, (dist >> 8) + 2 + a->lost);
	a->o[a->n++] = (uint8_t)dist;
	ap_gamma(a, len);
	a->lost = false;
}

static inline void ap_rep(ap_t *a, uint32_t len) /* only after a literal */
{
	assert_true(a->lost);
	ap_bit(a, 1), ap_bit(a, 0);
	ap_gamma(a, 2);
	ap_gamma(a, len);
	a->lost = false;
}

static inline void ap_end(ap_t *a)
{
	ap_short(a, 0, 2);
}

#endif
