/* test_fault - sl_fault: replay from a seed, rates against ppm, reorder and
 * room rules, and that no mbuf leaks whatever path it takes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "sl_fault.h"
#include "ut_eal.h"

#define BURST 32
#define FRAME_LEN 64

/* A frame whose bytes are all derived from its id: the id twice (so that
 * one flipped byte cannot hide it), then a pattern. */
static void frame_fill(uint8_t *p, uint32_t id)
{
	/* A full-avalanche hash, so that ids one flipped byte apart have
	 * patterns that differ nearly everywhere. */
	uint32_t h = id;

	h ^= h >> 16;
	h *= 0x7feb352dU;
	h ^= h >> 15;
	h *= 0x846ca68bU;
	h ^= h >> 16;
	memcpy(p, &id, sizeof(id));
	memcpy(p + sizeof(id), &id, sizeof(id));
	for (unsigned i = 2 * sizeof(id); i < FRAME_LEN; i++)
		p[i] = (uint8_t)((h >> (i % 4 * 8)) ^ i);
}

static struct rte_mbuf *frame_new(uint32_t id)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(ut_pool());
	uint8_t *p;

	assert_non_null(m);
	p = (uint8_t *)rte_pktmbuf_append(m, FRAME_LEN);
	assert_non_null(p);
	frame_fill(p, id);
	return m;
}

static uint32_t frame_id(const struct rte_mbuf *m)
{
	uint32_t id;

	memcpy(&id, rte_pktmbuf_mtod(m, const uint8_t *), sizeof(id));
	return id;
}

/* Bytes of P that differ from the pristine frame of ID. */
static unsigned frame_damage(const uint8_t *p, uint32_t id)
{
	uint8_t want[FRAME_LEN];
	unsigned diff = 0;

	frame_fill(want, id);
	for (unsigned i = 0; i < FRAME_LEN; i++)
		diff += p[i] != want[i];
	return diff;
}

/* Which frame P was, and how many of its bytes changed. */
static unsigned frame_identify(const uint8_t *p, uint32_t *id_r)
{
	uint32_t a, b;
	unsigned da, db;

	memcpy(&a, p, sizeof(a));
	memcpy(&b, p + sizeof(a), sizeof(b));
	da = frame_damage(p, a);
	db = a == b ? da : frame_damage(p, b);
	*id_r = da <= db ? a : b;
	return da <= db ? da : db;
}

/* Record of what came out of one run. */
struct trace {
	uint32_t *ids;       /* output order; corrupted ids are as read */
	uint8_t *bytes;      /* FRAME_LEN per output, for byte-exact replay */
	size_t n, cap;
};

static void trace_add(struct trace *t, struct rte_mbuf *m)
{
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 1024;
		t->ids = realloc(t->ids, t->cap * sizeof(*t->ids));
		t->bytes = realloc(t->bytes, t->cap * FRAME_LEN);
		assert_non_null(t->ids);
		assert_non_null(t->bytes);
	}
	assert_int_equal(m->pkt_len, FRAME_LEN);
	t->ids[t->n] = frame_id(m);
	memcpy(t->bytes + t->n * FRAME_LEN, rte_pktmbuf_mtod(m, uint8_t *), FRAME_LEN);
	t->n++;
}

static void trace_free(struct trace *t)
{
	free(t->ids);
	free(t->bytes);
	memset(t, 0, sizeof(*t));
}

/* Push COUNT frames through F in bursts, record and free every output,
 * then flush. Bursts vary in size and get room for extras. */
static void run_stream(sl_fault_t *f, uint32_t count, struct trace *t)
{
	struct rte_mbuf *pkts[BURST * 3];
	uint32_t id = 0;
	uint16_t out;

	while (id < count) {
		uint16_t n = (uint16_t)(1 + id % BURST);

		if (n > count - id)
			n = (uint16_t)(count - id);
		for (uint16_t i = 0; i < n; i++)
			pkts[i] = frame_new(id++);
		out = sl_fault_apply(f, pkts, n, (uint16_t)(sizeof(pkts) / sizeof(pkts[0])));
		for (uint16_t i = 0; i < out; i++) {
			trace_add(t, pkts[i]);
			rte_pktmbuf_free(pkts[i]);
		}
	}
	while ((out = sl_fault_flush(f, pkts, BURST)) > 0)
		for (uint16_t i = 0; i < out; i++) {
			trace_add(t, pkts[i]);
			rte_pktmbuf_free(pkts[i]);
		}
}

static const sl_fault_params_t mixed = {
	.seed = 42,
	.drop_ppm = 10000,    /* 1 % */
	.dup_ppm = 20000,     /* 2 % */
	.reorder_ppm = 30000, /* 3 % */
	.corrupt_ppm = 40000, /* 4 % */
	.reorder_depth = 3,
};

static void test_same_seed_same_sequence(void **state)
{
	struct trace a = {0}, b = {0}, c = {0};
	sl_fault_params_t other = mixed;
	sl_fault_t *f;

	(void)state;
	f = sl_fault_create(&mixed, ut_pool());
	run_stream(f, 20000, &a);
	sl_fault_destroy(&f);
	assert_null(f);
	f = sl_fault_create(&mixed, ut_pool());
	run_stream(f, 20000, &b);
	sl_fault_destroy(&f);
	assert_int_equal(a.n, b.n);
	assert_memory_equal(a.ids, b.ids, a.n * sizeof(*a.ids));
	assert_memory_equal(a.bytes, b.bytes, a.n * FRAME_LEN);

	other.seed = 43;
	f = sl_fault_create(&other, ut_pool());
	run_stream(f, 20000, &c);
	sl_fault_destroy(&f);
	assert_true(c.n != a.n || memcmp(a.ids, c.ids, a.n * sizeof(*a.ids)) != 0);
	trace_free(&a);
	trace_free(&b);
	trace_free(&c);
}

/* Within 15 % of the expectation: over 100k packets that is > 4 sigma
 * for the rarest fault (1 %). */
static void assert_near(uint64_t got, double want)
{
	if ((double)got < want * 0.85 || (double)got > want * 1.15)
		fail_msg("got %llu, expected about %.0f", (unsigned long long)got, want);
}

static void test_rates_match_ppm(void **state)
{
	const uint32_t n = 100000;
	struct trace t = {0};
	sl_fault_stats_t st;
	sl_fault_t *f;
	unsigned damaged = 0, dups = 0, late = 0;
	uint8_t *count;
	uint32_t max_seen = 0;

	(void)state;
	f = sl_fault_create(&mixed, ut_pool());
	run_stream(f, n, &t);
	sl_fault_get_stats(f, &st);
	sl_fault_destroy(&f);

	assert_int_equal(st.seen, n);
	print_message("dropped %llu duplicated %llu reordered %llu corrupted %llu of %u\n",
		      (unsigned long long)st.dropped, (unsigned long long)st.duplicated,
		      (unsigned long long)st.reordered, (unsigned long long)st.corrupted, n);
	assert_near(st.dropped, n * 0.01);
	/* The others apply to the packets that were not dropped. */
	assert_near(st.corrupted, (n - st.dropped) * 0.04);
	assert_near(st.duplicated, (n - st.dropped) * 0.02);
	assert_near(st.reordered, (n - st.dropped) * 0.03);
	/* Conservation: every survivor once, plus its duplicate. */
	assert_int_equal(t.n, n - st.dropped + st.duplicated);

	/* Check the outputs themselves. */
	count = calloc(n, 1);
	assert_non_null(count);
	for (size_t i = 0; i < t.n; i++) {
		uint32_t id;
		unsigned d = frame_identify(t.bytes + i * FRAME_LEN, &id);

		assert_true(d <= 1); /* corruption flips exactly one byte */
		assert_true(id < n);
		damaged += d;
		if (count[id]++ > 0)
			dups++;
		if (id < max_seen)
			late++;
		else
			max_seen = id;
	}
	/* A duplicate is a copy of the (possibly corrupted) original, so the
	 * damage count is the corruption count plus corrupted duplicates. */
	assert_true(damaged >= st.corrupted);
	assert_true(damaged <= st.corrupted + st.duplicated);
	assert_int_equal(dups, st.duplicated);
	assert_true(late > 0);
	for (uint32_t id = 0; id < n; id++)
		assert_true(count[id] <= 2);
	free(count);
	trace_free(&t);
}

/* Only reordering: every packet comes out exactly once, and a held packet
 * comes out right after the depth-th later arrival, so nothing trails the
 * newest packet already out by more than depth. */
static void test_reorder_depth(void **state)
{
	const sl_fault_params_t p = {.seed = 7, .reorder_ppm = 200000, .reorder_depth = 5};
	struct trace t = {0};
	sl_fault_stats_t st;
	sl_fault_t *f = sl_fault_create(&p, ut_pool());
	uint32_t *pos;
	unsigned displaced = 0;

	(void)state;
	run_stream(f, 5000, &t);
	sl_fault_get_stats(f, &st);
	sl_fault_destroy(&f);
	assert_int_equal(t.n, 5000);
	assert_int_equal(st.dropped + st.duplicated + st.corrupted, 0);
	assert_true(st.reordered > 0);
	pos = malloc(5000 * sizeof(*pos));
	assert_non_null(pos);
	for (uint32_t i = 0; i < 5000; i++)
		pos[i] = UINT32_MAX;
	for (uint32_t i = 0; i < 5000; i++) {
		assert_true(t.ids[i] < 5000);
		assert_int_equal(pos[t.ids[i]], UINT32_MAX);
		pos[t.ids[i]] = i;
	}
	/* A packet that comes out after a later-numbered one was held. */
	for (uint32_t i = 1, newest = t.ids[0]; i < 5000; i++) {
		if (t.ids[i] < t.ids[i - 1])
			displaced++;
		if (t.ids[i] + p.reorder_depth < newest)
			fail_msg("id %u came out after %u (depth %u)", t.ids[i], newest,
				 p.reorder_depth);
		if (t.ids[i] > newest)
			newest = t.ids[i];
	}
	assert_true(displaced > 0);
	assert_true(displaced <= st.reordered);
	free(pos);
	trace_free(&t);
}

/* Exact positions for a deterministic case: everything held, depth 2. */
static void test_reorder_all_and_flush(void **state)
{
	const sl_fault_params_t p = {.seed = 1, .reorder_ppm = 1000000, .reorder_depth = 2};
	sl_fault_t *f = sl_fault_create(&p, ut_pool());
	struct rte_mbuf *pkts[8];
	uint16_t out;

	(void)state;
	for (uint32_t i = 0; i < 4; i++)
		pkts[i] = frame_new(i);
	/* 0 and 1 are held; 2 arrives: 0 is due; 3 arrives: 1 is due. */
	out = sl_fault_apply(f, pkts, 4, 8);
	assert_int_equal(out, 2);
	assert_int_equal(frame_id(pkts[0]), 0);
	assert_int_equal(frame_id(pkts[1]), 1);
	rte_pktmbuf_free_bulk(pkts, out);
	/* 2 and 3 stay until flushed, oldest first, CAP at a time. */
	out = sl_fault_flush(f, pkts, 1);
	assert_int_equal(out, 1);
	assert_int_equal(frame_id(pkts[0]), 2);
	rte_pktmbuf_free(pkts[0]);
	out = sl_fault_flush(f, pkts, 8);
	assert_int_equal(out, 1);
	assert_int_equal(frame_id(pkts[0]), 3);
	rte_pktmbuf_free(pkts[0]);
	assert_int_equal(sl_fault_flush(f, pkts, 8), 0);
	sl_fault_destroy(&f);
}

/* Extras need room: with CAP == N a duplicate is skipped, with room it
 * goes right after its original. */
static void test_duplicate_needs_room(void **state)
{
	const sl_fault_params_t p = {.seed = 3, .dup_ppm = 1000000};
	sl_fault_t *f = sl_fault_create(&p, ut_pool());
	struct rte_mbuf *pkts[8];
	sl_fault_stats_t st;
	uint16_t out;

	(void)state;
	for (uint32_t i = 0; i < 4; i++)
		pkts[i] = frame_new(i);
	out = sl_fault_apply(f, pkts, 4, 4);
	assert_int_equal(out, 4);
	sl_fault_get_stats(f, &st);
	assert_int_equal(st.duplicated, 0);
	for (uint32_t i = 0; i < 4; i++)
		assert_int_equal(frame_id(pkts[i]), i);
	/* Room for two extras: the first two packets get their copies. */
	out = sl_fault_apply(f, pkts, 4, 6);
	assert_int_equal(out, 6);
	sl_fault_get_stats(f, &st);
	assert_int_equal(st.duplicated, 2);
	assert_int_equal(frame_id(pkts[0]), 0);
	assert_int_equal(frame_id(pkts[1]), 0);
	assert_ptr_not_equal(pkts[0], pkts[1]);
	assert_int_equal(frame_id(pkts[2]), 1);
	assert_int_equal(frame_id(pkts[3]), 1);
	assert_int_equal(frame_id(pkts[4]), 2);
	assert_int_equal(frame_id(pkts[5]), 3);
	rte_pktmbuf_free_bulk(pkts, out);
	sl_fault_destroy(&f);
}

/* Corruption reaches every segment of a chained frame. */
static void test_corrupt_multi_segment(void **state)
{
	const sl_fault_params_t p = {.seed = 11, .corrupt_ppm = 1000000};
	sl_fault_t *f = sl_fault_create(&p, ut_pool());
	unsigned hit_tail = 0;

	(void)state;
	for (int round = 0; round < 200; round++) {
		struct rte_mbuf *head = rte_pktmbuf_alloc(ut_pool());
		struct rte_mbuf *tail = rte_pktmbuf_alloc(ut_pool());
		struct rte_mbuf *pkts[1];
		unsigned changed = 0;
		uint8_t *a, *b;

		a = (uint8_t *)rte_pktmbuf_append(head, 10);
		b = (uint8_t *)rte_pktmbuf_append(tail, 30);
		memset(a, 0, 10);
		memset(b, 0, 30);
		assert_int_equal(rte_pktmbuf_chain(head, tail), 0);
		pkts[0] = head;
		assert_int_equal(sl_fault_apply(f, pkts, 1, 1), 1);
		for (int i = 0; i < 10; i++)
			changed += a[i] != 0;
		for (int i = 0; i < 30; i++) {
			changed += b[i] != 0;
			hit_tail += b[i] != 0;
		}
		assert_int_equal(changed, 1);
		rte_pktmbuf_free(pkts[0]);
	}
	assert_true(hit_tail > 100); /* 3/4 of the frame is in the tail */
	sl_fault_destroy(&f);
}

/* Every path gives its mbufs back: the pool is full again afterwards,
 * including packets still held when the injector is destroyed. */
static void test_nothing_leaks(void **state)
{
	struct rte_mempool *pool = ut_pool();
	const unsigned full = rte_mempool_avail_count(pool);
	sl_fault_params_t p = mixed;
	struct trace t = {0};
	struct rte_mbuf *pkts[BURST * 3];
	sl_fault_t *f;
	uint16_t out;

	(void)state;
	p.drop_ppm = 100000;
	p.dup_ppm = 100000;
	p.reorder_ppm = 300000;
	p.reorder_depth = 8;
	f = sl_fault_create(&p, pool);
	run_stream(f, 30000, &t);
	sl_fault_destroy(&f);
	trace_free(&t);
	assert_int_equal(rte_mempool_avail_count(pool), full);

	/* Destroy with packets held. */
	f = sl_fault_create(&p, pool);
	for (uint32_t round = 0; round < 50; round++) {
		for (uint32_t i = 0; i < BURST; i++)
			pkts[i] = frame_new(round * BURST + i);
		out = sl_fault_apply(f, pkts, BURST, (uint16_t)(sizeof(pkts) / sizeof(pkts[0])));
		rte_pktmbuf_free_bulk(pkts, out);
	}
	assert_true(rte_mempool_avail_count(pool) < full);
	sl_fault_destroy(&f);
	sl_fault_destroy(&f); /* NULL is harmless */
	assert_int_equal(rte_mempool_avail_count(pool), full);
}

/* Duplication with an empty pool degrades to no duplicate, not a crash. */
static void test_pool_exhausted(void **state)
{
	const sl_fault_params_t p = {.seed = 5, .dup_ppm = 1000000};
	struct rte_mempool *tiny;
	struct rte_mbuf *pkts[4];
	sl_fault_stats_t st;
	sl_fault_t *f;

	(void)state;
	ut_eal_init();
	tiny = rte_pktmbuf_pool_create("fault_tiny", 2, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
				       SOCKET_ID_ANY);
	assert_non_null(tiny);
	f = sl_fault_create(&p, tiny);
	pkts[0] = rte_pktmbuf_alloc(tiny);
	pkts[1] = rte_pktmbuf_alloc(tiny);
	assert_non_null(pkts[1]);
	rte_pktmbuf_append(pkts[0], 20);
	rte_pktmbuf_append(pkts[1], 20);
	assert_int_equal(sl_fault_apply(f, pkts, 2, 4), 2);
	sl_fault_get_stats(f, &st);
	assert_int_equal(st.duplicated, 0);
	rte_pktmbuf_free_bulk(pkts, 2);
	sl_fault_destroy(&f);
	rte_mempool_free(tiny);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_seed_same_sequence),
		cmocka_unit_test(test_rates_match_ppm),
		cmocka_unit_test(test_reorder_depth),
		cmocka_unit_test(test_reorder_all_and_flush),
		cmocka_unit_test(test_duplicate_needs_room),
		cmocka_unit_test(test_corrupt_multi_segment),
		cmocka_unit_test(test_nothing_leaks),
		cmocka_unit_test(test_pool_exhausted),
	};

	ut_eal_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
