/* sl_fault - seeded packet fault injection for tests (drop, duplicate,
 * reorder, corrupt).
 *
 * Used by the in-memory wire in unit tests and, when the config enables
 * `fault_injection`, on the RX and TX bursts of a worker lcore. Disabled by
 * default: the lcore loop pays one predictable branch per burst. Every
 * decision comes from a xorshift PRNG seeded by the caller, so a run replays
 * exactly from its seed. */
#ifndef SL_FAULT_H
#define SL_FAULT_H

#include <stdint.h>

struct rte_mbuf;
struct rte_mempool;

typedef struct sl_fault_params {
	uint64_t seed;
	uint32_t drop_ppm;      /* probability per packet, parts per million */
	uint32_t dup_ppm;       /* duplicate (copy sent right after) */
	uint32_t reorder_ppm;   /* hold back and release later */
	uint32_t corrupt_ppm;   /* flip one random byte */
	uint32_t reorder_depth; /* a held packet is released after this many
				   later packets pass (default 3) */
} sl_fault_params_t;

typedef struct sl_fault_stats {
	uint64_t seen, dropped, duplicated, reordered, corrupted;
} sl_fault_stats_t;

typedef struct sl_fault sl_fault_t;

/* sl_fault_create - NULL on allocation failure. P is copied; a
 * reorder_depth of 0 means 3 (at most 4096). POOL is used to copy
 * duplicated packets (rte_pktmbuf_copy); when it is empty the duplicate is
 * skipped. Corruption writes into the mbuf data: do not hand in mbufs whose
 * data is shared (indirect or cloned). */
sl_fault_t *sl_fault_create(const sl_fault_params_t *p, struct rte_mempool *pool);
/* sl_fault_destroy - frees held packets, then the state; sets *F = NULL.
 * NULL or *F == NULL is harmless. */
void sl_fault_destroy(sl_fault_t **f);

/* sl_fault_apply - apply faults to the burst PKTS[0..N) in place. The array
 * has room for CAP >= N entries (duplicates and released packets need room);
 * returns the new count, entries [0, count) are the packets to pass on, in
 * order. Dropped packets are freed; held packets are owned by F until
 * released by a later apply or sl_fault_flush. A held packet is released
 * right after REORDER_DEPTH later packets have arrived (dropped ones
 * count). When CAP leaves no room, a duplicate is skipped (not counted)
 * and a due release waits for the next call. */
uint16_t sl_fault_apply(sl_fault_t *f, struct rte_mbuf **pkts, uint16_t n, uint16_t cap);
/* sl_fault_flush - move up to CAP held packets into PKTS, oldest first;
 * returns the count. Call it when no more packets will arrive (held
 * packets are released only by later arrivals). */
uint16_t sl_fault_flush(sl_fault_t *f, struct rte_mbuf **pkts, uint16_t cap);
/* sl_fault_get_stats - counters since create: packets seen by apply, and
 * how many were dropped, duplicated, held back and corrupted. */
void sl_fault_get_stats(const sl_fault_t *f, sl_fault_stats_t *r);

#endif
