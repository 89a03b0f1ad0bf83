/* sl_fault - seeded packet fault injection (drop, duplicate, reorder,
 * corrupt) for the test wire and the fault_injection config switch.
 *
 * Decisions for each packet are drawn in a fixed order (drop, corrupt,
 * duplicate, reorder) from one xorshift64* stream, so the same seed, params
 * and input replay exactly. A fault with ppm 0 (or 1000000) draws nothing.
 *
 * Reordering holds a packet back in a FIFO and releases it right after
 * `reorder_depth` later packets have arrived (whatever their own fate), so
 * at most about reorder_depth packets are held at once. Packets arrive only
 * with later bursts: a caller that stops sending must sl_fault_flush().
 *
 * The burst is rewritten in place with no scratch array: the unread inputs
 * are first moved to the tail of the caller's array, and output grows from
 * the front. Extra packets (duplicates, releases) are written only where
 * they cannot overrun an unread input; when there is no room a duplicate
 * is skipped and a release waits for the next call. */
#include "sl_fault.h"

#include <stdlib.h>
#include <string.h>

#include <rte_mbuf.h>

/* Held packets beyond the depth: releases postponed for lack of room. */
#define SL_FAULT_HOLD_SLACK 16
#define SL_FAULT_DEPTH_DEFAULT 3
#define SL_FAULT_DEPTH_MAX 4096
#define PPM 1000000u

struct sl_fault_held {
	struct rte_mbuf *m;
	uint64_t release_at; /* release once `seen` reaches this */
};

struct sl_fault {
	sl_fault_params_t p;
	struct rte_mempool *pool;
	uint64_t rng;
	sl_fault_stats_t stats;
	/* FIFO ring of held packets: release order is hold order, because
	 * every packet is held for the same number of arrivals. */
	unsigned head, count, cap;
	struct sl_fault_held held[];
};

/* splitmix64: spreads nearby seeds (1, 2, 3...) into unrelated states,
 * and never yields the all-zero state xorshift cannot leave. */
static uint64_t fault_seed(uint64_t seed)
{
	uint64_t z = seed + 0x9e3779b97f4a7c15ULL;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	z ^= z >> 31;
	return z != 0 ? z : 0x2545f4914f6cdd1dULL;
}

/* xorshift64* (Vigna 2016). */
static uint64_t fault_rand(sl_fault_t *f)
{
	f->rng ^= f->rng >> 12;
	f->rng ^= f->rng << 25;
	f->rng ^= f->rng >> 27;
	return f->rng * 0x2545f4914f6cdd1dULL;
}

/* Uniform in [0, n) from the high bits; n <= 2^32, bias below 2^-32. */
static uint32_t fault_below(sl_fault_t *f, uint32_t n)
{
	return (uint32_t)(((fault_rand(f) >> 32) * (uint64_t)n) >> 32);
}

static bool fault_hit(sl_fault_t *f, uint32_t ppm)
{
	if (ppm == 0)
		return false;
	return ppm >= PPM || fault_below(f, PPM) < ppm;
}

sl_fault_t *sl_fault_create(const sl_fault_params_t *p, struct rte_mempool *pool)
{
	uint32_t depth = p->reorder_depth ? p->reorder_depth : SL_FAULT_DEPTH_DEFAULT;
	sl_fault_t *f;

	if (depth > SL_FAULT_DEPTH_MAX)
		depth = SL_FAULT_DEPTH_MAX;
	f = calloc(1, sizeof(*f) + (depth + SL_FAULT_HOLD_SLACK) * sizeof(f->held[0]));
	if (f == NULL)
		return NULL;
	f->p = *p;
	f->p.reorder_depth = depth;
	f->pool = pool;
	f->rng = fault_seed(p->seed);
	f->cap = depth + SL_FAULT_HOLD_SLACK;
	return f;
}

void sl_fault_destroy(sl_fault_t **f)
{
	if (f == NULL || *f == NULL)
		return;
	while ((*f)->count > 0) {
		rte_pktmbuf_free((*f)->held[(*f)->head].m);
		(*f)->head = ((*f)->head + 1) % (*f)->cap;
		(*f)->count--;
	}
	free(*f);
	*f = NULL;
}

/* Flip one byte at a uniformly random offset of the whole frame (any
 * segment). XOR with a non-zero value, so the byte always changes. */
static bool fault_corrupt(sl_fault_t *f, struct rte_mbuf *m)
{
	uint32_t off;
	uint8_t flip;

	if (m->pkt_len == 0)
		return false;
	off = fault_below(f, m->pkt_len);
	flip = (uint8_t)(1 + fault_below(f, 255));
	for (struct rte_mbuf *seg = m; seg != NULL; seg = seg->next) {
		if (off < seg->data_len) {
			*rte_pktmbuf_mtod_offset(seg, uint8_t *, off) ^= flip;
			return true;
		}
		off -= seg->data_len;
	}
	return false; /* pkt_len disagrees with the segments: leave it */
}

static void fault_hold(sl_fault_t *f, struct rte_mbuf *m)
{
	struct sl_fault_held *h = &f->held[(f->head + f->count) % f->cap];

	h->m = m;
	h->release_at = f->stats.seen + f->p.reorder_depth;
	f->count++;
}

static struct rte_mbuf *fault_unhold(sl_fault_t *f)
{
	struct rte_mbuf *m = f->held[f->head].m;

	f->head = (f->head + 1) % f->cap;
	f->count--;
	return m;
}

uint16_t sl_fault_apply(sl_fault_t *f, struct rte_mbuf **pkts, uint16_t n, uint16_t cap)
{
	unsigned o = 0, next_in;

	if (cap < n)
		cap = n; /* contract breach: at least never write past N */
	/* Unread inputs live in [next_in, cap); output grows in [0, o). */
	next_in = (unsigned)cap - n;
	if (next_in > 0)
		memmove(pkts + next_in, pkts, n * sizeof(*pkts));
	while (next_in < cap) {
		struct rte_mbuf *m = pkts[next_in++];
		bool dropped = false;

		f->stats.seen++;
		if (fault_hit(f, f->p.drop_ppm)) {
			rte_pktmbuf_free(m);
			f->stats.dropped++;
			dropped = true;
		}
		if (!dropped && fault_hit(f, f->p.corrupt_ppm) && fault_corrupt(f, m))
			f->stats.corrupted++;
		if (!dropped && fault_hit(f, f->p.dup_ppm)) {
			/* The copy goes right after the original (and may be
			 * the one held back below): it needs a free slot
			 * besides the original's own. */
			struct rte_mbuf *copy = o + 1 < next_in
							? rte_pktmbuf_copy(m, f->pool, 0, UINT32_MAX)
							: NULL;

			if (copy != NULL) {
				pkts[o++] = m;
				m = copy;
				f->stats.duplicated++;
			}
		}
		if (!dropped && fault_hit(f, f->p.reorder_ppm) && f->count < f->cap) {
			fault_hold(f, m);
			f->stats.reordered++;
		} else if (!dropped) {
			pkts[o++] = m;
		}
		/* Releases due after this arrival, if there is room for them. */
		while (f->count > 0 && f->held[f->head].release_at <= f->stats.seen &&
		       o < next_in)
			pkts[o++] = fault_unhold(f);
	}
	return (uint16_t)o;
}

uint16_t sl_fault_flush(sl_fault_t *f, struct rte_mbuf **pkts, uint16_t cap)
{
	uint16_t o = 0;

	while (f->count > 0 && o < cap)
		pkts[o++] = fault_unhold(f);
	return o;
}

void sl_fault_get_stats(const sl_fault_t *f, sl_fault_stats_t *r)
{
	*r = f->stats;
}
