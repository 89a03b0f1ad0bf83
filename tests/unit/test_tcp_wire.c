/* test_tcp_wire - TCP end to end between two stacks on an in-memory wire,
 * in virtual time, with seeded loss, duplication, reordering and corruption.
 *
 * The bulk matrix moves 4 MB in both directions at once over one connection
 * for every seed and loss level, checks every byte against a seeded stream,
 * closes gracefully and checks that every mbuf came back. WIRE_SEEDS sets
 * the number of seeds (default 100; the ASan run uses fewer). A summary per
 * loss level goes to stderr. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "ns.h"
#include "sl_err.h"
#include "sl_time.h"
#include "ut_eal.h"
#include "ut_wire.h"

#define PORT 5000

static struct rte_mempool *wire_pool(void)
{
	static struct rte_mempool *pool;

	if (pool == NULL) {
		ut_eal_init();
		pool = rte_pktmbuf_pool_create("wire_pool", 32767, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
					       SOCKET_ID_ANY);
		assert_non_null(pool);
	}
	return pool;
}

/* ---- A seeded byte stream: byte i depends only on (seed, i) ---- */

static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void stream_fill(uint64_t seed, uint64_t off, uint8_t *buf, size_t len)
{
	while (len > 0) {
		uint64_t word = mix64(seed + (off / 8) * 0x9e3779b97f4a7c15ULL);
		unsigned k = (unsigned)(off % 8);

		for (; k < 8 && len > 0; k++, len--, off++)
			*buf++ = (uint8_t)(word >> (8 * k));
	}
}

/* ---- An endpoint that sends TOTAL bytes and verifies what it gets ---- */

struct ep {
	ns_conn_t *c;
	uint64_t tx_seed, rx_seed;
	uint64_t total;
	uint64_t tx_done, rx_done;
	bool established, shut, eof, closed, bad;
	int reason;
	uint64_t done_us;
	ns_stack_t *s;
};

static struct ep *server_ep; /* the listener's target */

static void ep_pump(struct ep *e)
{
	static uint8_t buf[65536];

	while (e->tx_done < e->total) {
		size_t n = e->total - e->tx_done < sizeof(buf) ? (size_t)(e->total - e->tx_done)
							       : sizeof(buf);
		ssize_t k;

		stream_fill(e->tx_seed, e->tx_done, buf, n);
		k = ns_conn_send(e->c, buf, n);
		if (k < 0) {
			e->bad = true;
			return;
		}
		e->tx_done += (uint64_t)k;
		if ((size_t)k < n)
			return; /* `writable` will call again */
	}
	if (!e->shut) {
		e->shut = true;
		assert_int_equal(ns_conn_shutdown(e->c), 0);
	}
}

static void ep_data(ns_conn_t *c, void *ctx)
{
	static uint8_t want[4096];
	struct ep *e = ctx;
	sl_slice_t iov[16];
	unsigned n;

	while ((n = ns_conn_peek(c, iov, 16)) > 0) {
		size_t used = 0;

		for (unsigned i = 0; i < n; i++) {
			for (size_t off = 0; off < iov[i].len;) {
				size_t k = iov[i].len - off < sizeof(want) ? iov[i].len - off : sizeof(want);

				stream_fill(e->rx_seed, e->rx_done, want, k);
				if (memcmp(want, iov[i].ptr + off, k) != 0) {
					if (!e->bad && getenv("WIRE_DEBUG") != NULL)
						fprintf(stderr, "mismatch near offset %llu (slice %u len %zu)\n",
							(unsigned long long)e->rx_done, i, iov[i].len);
					e->bad = true;
				}
				e->rx_done += k;
				off += k;
			}
			used += iov[i].len;
		}
		ns_conn_consume(c, used);
	}
	if (ns_conn_eof(c))
		e->eof = true;
	if (e->rx_done > e->total)
		e->bad = true;
}

static void ep_writable(ns_conn_t *c, void *ctx)
{
	(void)c;
	ep_pump(ctx);
}

static void ep_closed(ns_conn_t *c, void *ctx, int reason)
{
	struct ep *e = ctx;

	(void)c;
	e->closed = true;
	e->reason = reason;
	e->c = NULL;
}

static void ep_connected(ns_conn_t *c, void *ctx)
{
	struct ep *e = ctx;

	(void)c;
	e->established = true;
	ep_pump(e);
}

static int ep_accepted(ns_conn_t *c, void *listen_ctx)
{
	struct ep *e = listen_ctx;

	assert_non_null(e);
	assert_null(e->c);
	e->c = c;
	e->established = true;
	ns_conn_set_ctx(c, e);
	ep_pump(e);
	return 0;
}

static const ns_conn_ops_t ep_ops = {
	.accepted = ep_accepted,
	.connected = ep_connected,
	.data = ep_data,
	.writable = ep_writable,
	.closed = ep_closed,
};

struct pair {
	struct ep a, b;
	ut_wire_t *w;
};

static bool pair_done(void *arg)
{
	struct pair *p = arg;

	if (p->a.bad || p->b.bad || p->a.closed || p->b.closed)
		return true;
	return p->a.eof && p->b.eof && p->a.rx_done == p->a.total && p->b.rx_done == p->b.total;
}

static bool wire_quiet(void *arg)
{
	struct pair *p = arg;
	ns_stats_t s0, s1;

	ns_stack_get_stats(ut_wire_stack(p->w, 0), &s0);
	ns_stack_get_stats(ut_wire_stack(p->w, 1), &s1);
	return s0.tcp_conns_current == 0 && s1.tcp_conns_current == 0 &&
	       s0.tcp_time_wait_current == 0 && s1.tcp_time_wait_current == 0;
}

static bool wire_quiet_w(void *arg)
{
	ut_wire_t *w = arg;
	ns_stats_t s0, s1;

	ns_stack_get_stats(ut_wire_stack(w, 0), &s0);
	ns_stack_get_stats(ut_wire_stack(w, 1), &s1);
	return s0.tcp_conns_current == 0 && s1.tcp_conns_current == 0 &&
	       s0.tcp_time_wait_current == 0 && s1.tcp_time_wait_current == 0;
}

/* ---- Configuration of one run ---- */

struct run_cfg {
	uint64_t seed;
	uint32_t drop_ppm, dup_ppm, reorder_ppm, corrupt_ppm;
	uint64_t bytes;
	bool sack, timestamps;
	enum ns_cc_algo cc;
};

struct run_out {
	uint64_t segs, rexmits, fast_rexmits, rtos, virt_us, frames;
	uint64_t fault_drops, queue_drops, dups, reorders, corrupts;
};

static void run_tweak(ns_stack_params_t *p, int side, void *arg)
{
	const struct run_cfg *cfg = arg;

	(void)side;
	p->sack = cfg->sack;
	p->timestamps = cfg->timestamps;
	p->cc = cfg->cc;
	p->max_conns = 64;
	p->time_wait_max = 64;
	p->keepalive_idle_us = 0;
}

static void run_one(const struct run_cfg *cfg, struct run_out *out)
{
	struct rte_mempool *pool = wire_pool();
	unsigned avail0 = rte_mempool_avail_count(pool);
	ut_wire_params_t wp;
	struct pair p;
	ns_stats_t st[2];
	ut_wire_stats_t ws;
	uint64_t t0;

	ut_wire_params_default(&wp);
	wp.pool = pool;
	wp.seed = cfg->seed;
	for (int d = 0; d < 2; d++) {
		wp.fault[d].drop_ppm = cfg->drop_ppm;
		wp.fault[d].dup_ppm = cfg->dup_ppm;
		wp.fault[d].reorder_ppm = cfg->reorder_ppm;
		wp.fault[d].corrupt_ppm = cfg->corrupt_ppm;
	}
	wp.tweak = run_tweak;
	wp.tweak_arg = (void *)cfg;
	memset(&p, 0, sizeof(p));
	p.w = ut_wire_create(&wp);
	p.a.total = p.b.total = cfg->bytes;
	p.a.tx_seed = p.b.rx_seed = mix64(cfg->seed * 2 + 1);
	p.b.tx_seed = p.a.rx_seed = mix64(cfg->seed * 2 + 2);
	p.a.s = ut_wire_stack(p.w, 0);
	p.b.s = ut_wire_stack(p.w, 1);
	server_ep = &p.b;
	assert_int_equal(ns_tcp_listen(p.b.s, PORT, &ep_ops, &p.b), 0);
	t0 = ut_wire_now(p.w);
	assert_int_equal(ns_tcp_connect(p.a.s, ut_wire_ip(1), PORT, &ep_ops, &p.a, &p.a.c), 0);
	if (!ut_wire_run(p.w, pair_done, &p, 3600 * SL_US_PER_S))
		fail_msg("seed %llu: transfer did not finish (a rx %llu b rx %llu)",
			 (unsigned long long)cfg->seed, (unsigned long long)p.a.rx_done,
			 (unsigned long long)p.b.rx_done);
	if (p.a.bad || p.b.bad || p.a.closed || p.b.closed)
		fail_msg("seed %llu: bad=%d/%d closed=%d/%d reason=%d/%d",
			 (unsigned long long)cfg->seed, p.a.bad, p.b.bad, p.a.closed, p.b.closed,
			 p.a.reason, p.b.reason);
	out->virt_us += ut_wire_now(p.w) - t0;
	/* Both sides have sent FIN and read the peer's: close and let the
	 * FIN exchange and TIME_WAIT run out. */
	ns_conn_close(p.a.c);
	ns_conn_close(p.b.c);
	p.a.c = p.b.c = NULL;
	if (!ut_wire_run(p.w, wire_quiet, &p, 600 * SL_US_PER_S))
		fail_msg("seed %llu: connections did not go away", (unsigned long long)cfg->seed);
	for (int i = 0; i < 2; i++)
		ns_stack_get_stats(ut_wire_stack(p.w, i), &st[i]);
	ut_wire_get_stats(p.w, &ws);
	for (int i = 0; i < 2; i++) {
		out->segs += st[i].tcp_tx_segs;
		out->rexmits += st[i].tcp_retransmits;
		out->fast_rexmits += st[i].tcp_fast_retransmits;
		out->rtos += st[i].tcp_rto_expired;
		out->frames += ws.frames[i];
		out->queue_drops += ws.queue_drops[i];
		out->fault_drops += ws.fault[i].dropped;
		out->dups += ws.fault[i].duplicated;
		out->reorders += ws.fault[i].reordered;
		out->corrupts += ws.fault[i].corrupted;
	}
	ut_wire_destroy(&p.w);
	assert_int_equal(rte_mempool_avail_count(pool), avail0);
}

static unsigned wire_first(void)
{
	const char *v = getenv("WIRE_FIRST");

	return v != NULL ? (unsigned)strtoul(v, NULL, 10) : 1;
}

static unsigned wire_seeds(void)
{
	const char *v = getenv("WIRE_SEEDS");
	unsigned n = v != NULL ? (unsigned)strtoul(v, NULL, 10) : 100;

	return n > 0 ? n : 1;
}

static double wall_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Seeds vary the configuration too: every 4th without SACK (NewReno
 * recovery, RFC 6582), every 3rd with NewReno congestion control, every
 * 5th without timestamps; and the extra faults rotate. */
static void seed_cfg(struct run_cfg *cfg, uint64_t seed, uint32_t drop_ppm, uint64_t bytes)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->seed = seed;
	cfg->drop_ppm = drop_ppm;
	cfg->bytes = bytes;
	cfg->sack = seed % 4 != 3;
	cfg->timestamps = seed % 5 != 4;
	cfg->cc = seed % 3 == 2 ? NS_CC_NEWRENO : NS_CC_CUBIC;
	if (drop_ppm > 0) {
		switch (seed % 4) {
		case 1:
			cfg->dup_ppm = 10000;
			break;
		case 2:
			cfg->reorder_ppm = 20000;
			break;
		case 3:
			cfg->corrupt_ppm = 5000;
			break;
		default:
			break;
		}
	}
}

static void bulk_level(uint32_t drop_ppm)
{
	unsigned seeds = wire_seeds();
	struct run_out out;
	double t = wall_s();

	memset(&out, 0, sizeof(out));
	for (unsigned i = 0; i < seeds; i++) {
		struct run_cfg cfg;

		seed_cfg(&cfg, wire_first() + i, drop_ppm, 4u << 20);
		run_one(&cfg, &out);
	}
	fprintf(stderr,
		"# wire loss %.1f%%: %u seeds x 2 x 4 MB: %llu segments, %llu retransmits "
		"(%llu fast, %llu RTO), virtual %.2f s total (%.3f s/seed), wall %.2f s; "
		"wire: %llu frames, %llu fault drops, %llu queue drops, %llu dup, %llu reordered, "
		"%llu corrupted\n",
		drop_ppm / 10000.0, seeds, (unsigned long long)out.segs,
		(unsigned long long)out.rexmits, (unsigned long long)out.fast_rexmits,
		(unsigned long long)out.rtos, out.virt_us / 1e6, out.virt_us / 1e6 / seeds,
		wall_s() - t, (unsigned long long)out.frames, (unsigned long long)out.fault_drops,
		(unsigned long long)out.queue_drops, (unsigned long long)out.dups,
		(unsigned long long)out.reorders, (unsigned long long)out.corrupts);
}

static void test_bulk_both_ways_no_loss(void **state)
{
	(void)state;
	bulk_level(0);
}

static void test_bulk_both_ways_1pct_loss(void **state)
{
	(void)state;
	bulk_level(10000);
}

static void test_bulk_both_ways_10pct_loss(void **state)
{
	(void)state;
	bulk_level(100000);
}

/* A short exchange, then the full close: the active closer ends in
 * TIME_WAIT, the other side goes away, and TIME_WAIT expires. */
static void test_small_exchange_and_close(void **state)
{
	struct run_cfg cfg;
	struct run_out out;

	(void)state;
	memset(&out, 0, sizeof(out));
	seed_cfg(&cfg, 1, 0, 1000);
	run_one(&cfg, &out);
	assert_int_equal(out.rexmits, 0);
}

/* ---- Many short request/response connections ----
 *
 * Mail traffic is mostly this: connect, a request, a reply, close. Side 0
 * keeps up to CONCURRENT connections open to side 1, each sending a
 * request of seeded size and then FIN; the server reads it all, answers
 * with a seeded reply and closes; the client reads the reply to EOF and
 * closes. A small SYN backlog forces SYN cookies and a small TIME_WAIT
 * limit forces recycling, while the wire loses and reorders. */

#define SHORT_TOTAL 500
#define SHORT_CONCURRENT 20

struct sconn {
	struct short_run *run;
	ns_conn_t *c;
	uint64_t req_seed, rep_seed;
	uint32_t req_len, rep_len;
	uint32_t tx, rx;
	bool server, shut, done, bad;
};

struct short_run {
	struct sconn cli[SHORT_TOTAL], srv[SHORT_TOTAL];
	unsigned started, finished, accepted, failures;
	uint64_t seed;
	ns_stack_t *s0;
};

static uint32_t short_size(uint64_t seed)
{
	/* Mostly small, sometimes a few segments. */
	uint64_t r = mix64(seed);

	return (r & 3) == 0 ? (uint32_t)(1 + (r >> 8) % 20000) : (uint32_t)(1 + (r >> 8) % 600);
}

static void sconn_pump(struct sconn *k)
{
	static uint8_t buf[20000];
	uint32_t len = k->server ? k->rep_len : k->req_len;
	uint64_t seed = k->server ? k->rep_seed : k->req_seed;

	if (k->c == NULL || k->shut)
		return;
	while (k->tx < len) {
		ssize_t n;

		stream_fill(seed, k->tx, buf, len - k->tx);
		n = ns_conn_send(k->c, buf, len - k->tx);
		if (n <= 0) {
			if (n < 0)
				k->bad = true;
			return;
		}
		k->tx += (uint32_t)n;
	}
	if (k->server) {
		/* The reply is queued: a graceful close delivers it. */
		ns_conn_close(k->c);
		k->c = NULL;
		k->done = true;
	} else {
		ns_conn_shutdown(k->c);
	}
	k->shut = true;
}

static void sconn_data(ns_conn_t *c, void *ctx)
{
	static uint8_t want[4096];
	struct sconn *k = ctx;
	uint32_t len = k->server ? k->req_len : k->rep_len;
	uint64_t seed = k->server ? k->req_seed : k->rep_seed;
	sl_slice_t iov[8];
	unsigned n;

	while ((n = ns_conn_peek(c, iov, 8)) > 0) {
		size_t used = 0;

		for (unsigned i = 0; i < n; i++) {
			for (size_t off = 0; off < iov[i].len;) {
				size_t m = iov[i].len - off < sizeof(want) ? iov[i].len - off : sizeof(want);

				stream_fill(seed, k->rx, want, m);
				if (k->rx + m > len || memcmp(want, iov[i].ptr + off, m) != 0)
					k->bad = true;
				k->rx += (uint32_t)m;
				off += m;
			}
			used += iov[i].len;
		}
		ns_conn_consume(c, used);
	}
	if (!ns_conn_eof(c))
		return;
	if (k->rx != len)
		k->bad = true;
	if (k->server) {
		sconn_pump(k); /* request complete: reply and close */
	} else {
		ns_conn_close(c);
		k->c = NULL;
		k->done = true;
		k->run->finished++;
	}
}

static void sconn_writable(ns_conn_t *c, void *ctx)
{
	(void)c;
	sconn_pump(ctx);
}

static void sconn_closed(ns_conn_t *c, void *ctx, int reason)
{
	struct sconn *k = ctx;

	if (getenv("WIRE_DEBUG") != NULL) {
		ns_conn_info_t ci;

		ns_conn_get_info(c, &ci);
		fprintf(stderr, "ports %u>%u state %s ", ci.local_port, ci.remote_port, ci.state);
	}
	if (getenv("WIRE_DEBUG") != NULL)
		fprintf(stderr, "%s %ld closed: %d (tx %u/%u rx %u/%u)\n",
			k->server ? "server" : "client",
			(long)(k - (k->server ? k->run->srv : k->run->cli)), reason, k->tx,
			k->server ? k->rep_len : k->req_len, k->rx, k->server ? k->req_len : k->rep_len);
	k->c = NULL;
	k->bad = true;
	k->run->failures++;
	if (!k->server)
		k->run->finished++;
}

static void sconn_connected(ns_conn_t *c, void *ctx)
{
	(void)c;
	sconn_pump(ctx);
}

static int sconn_accepted(ns_conn_t *c, void *listen_ctx)
{
	struct short_run *run = listen_ctx;
	ns_conn_info_t info;
	struct sconn *k;
	unsigned idx;

	/* The client's port says which connection this is. */
	ns_conn_get_info(c, &info);
	for (idx = 0; idx < run->started; idx++)
		if (run->cli[idx].c != NULL || run->cli[idx].done || run->cli[idx].bad) {
			ns_conn_info_t ci;

			if (run->cli[idx].c == NULL)
				continue;
			ns_conn_get_info(run->cli[idx].c, &ci);
			if (ci.local_port == info.remote_port)
				break;
		}
	if (idx == run->started || run->srv[idx].c != NULL)
		return SL_EINVAL;
	k = &run->srv[idx];
	k->c = c;
	run->accepted++;
	ns_conn_set_ctx(c, k);
	return 0;
}

static const ns_conn_ops_t sconn_ops = {
	.accepted = sconn_accepted,
	.connected = sconn_connected,
	.data = sconn_data,
	.writable = sconn_writable,
	.closed = sconn_closed,
};

static bool short_step(void *arg)
{
	struct short_run *run = arg;

	/* Keep CONCURRENT connections going. */
	while (run->started < SHORT_TOTAL && run->started - run->finished < SHORT_CONCURRENT) {
		unsigned i = run->started++;
		struct sconn *k = &run->cli[i];

		k->run = run;
		k->req_seed = mix64(run->seed * 1000 + i * 2 + 1);
		k->rep_seed = mix64(run->seed * 1000 + i * 2 + 2);
		k->req_len = short_size(k->req_seed);
		k->rep_len = short_size(k->rep_seed);
		run->srv[i] = (struct sconn){.run = run, .server = true, .req_seed = k->req_seed,
					     .rep_seed = k->rep_seed, .req_len = k->req_len,
					     .rep_len = k->rep_len};
		assert_int_equal(ns_tcp_connect(run->s0, ut_wire_ip(1), PORT, &sconn_ops, k, &k->c), 0);
	}
	return run->finished == SHORT_TOTAL;
}

static void short_tweak(ns_stack_params_t *p, int side, void *arg)
{
	(void)side;
	(void)arg;
	p->syn_backlog = 4;
	p->time_wait_max = 16;
	p->max_conns = 256;
	p->keepalive_idle_us = 0;
}

static void test_many_short_connections(void **state)
{
	unsigned seeds = (wire_seeds() + 4) / 5;
	struct rte_mempool *pool = wire_pool();
	static struct short_run run;
	uint64_t cookies = 0, recycled = 0, virt = 0, segs = 0, rexmits = 0;
	double t = wall_s();

	(void)state;
	for (unsigned sd = 0; sd < seeds; sd++) {
		unsigned avail0 = rte_mempool_avail_count(pool);
		ut_wire_params_t wp;
		ut_wire_t *w;
		ns_stats_t st[2];
		uint64_t t0;

		ut_wire_params_default(&wp);
		wp.pool = pool;
		wp.seed = 1000 + wire_first() + sd;
		for (int d = 0; d < 2; d++) {
			wp.fault[d].drop_ppm = 10000;
			wp.fault[d].reorder_ppm = 10000;
		}
		wp.tweak = short_tweak;
		w = ut_wire_create(&wp);
		memset(&run, 0, sizeof(run));
		run.seed = wp.seed;
		run.s0 = ut_wire_stack(w, 0);
		assert_int_equal(ns_tcp_listen(ut_wire_stack(w, 1), PORT, &sconn_ops, &run), 0);
		t0 = ut_wire_now(w);
		if (!ut_wire_run(w, short_step, &run, 3600 * SL_US_PER_S))
			fail_msg("seed %llu: %u of %u finished", (unsigned long long)wp.seed,
				 run.finished, SHORT_TOTAL);
		virt += ut_wire_now(w) - t0;
		assert_int_equal(run.failures, 0);
		for (unsigned i = 0; i < SHORT_TOTAL; i++) {
			if (run.cli[i].bad || run.srv[i].bad || !run.cli[i].done || !run.srv[i].done)
				fail_msg("seed %llu: connection %u bad", (unsigned long long)wp.seed, i);
		}
		ut_wire_run(w, wire_quiet_w, w, 600 * SL_US_PER_S);
		for (int i = 0; i < 2; i++)
			ns_stack_get_stats(ut_wire_stack(w, i), &st[i]);
		assert_int_equal(st[0].tcp_conns_current + st[1].tcp_conns_current, 0);
		cookies += st[1].tcp_syncookies_ok;
		recycled += st[0].tcp_time_wait_recycled + st[1].tcp_time_wait_recycled;
		segs += st[0].tcp_tx_segs + st[1].tcp_tx_segs;
		rexmits += st[0].tcp_retransmits + st[1].tcp_retransmits;
		ut_wire_destroy(&w);
		assert_int_equal(rte_mempool_avail_count(pool), avail0);
	}
	fprintf(stderr,
		"# short connections: %u seeds x %u (1%% loss, 1%% reorder): %llu segments, %llu "
		"retransmits, %llu completed by SYN cookie, %llu TIME_WAIT recycled, virtual %.2f s, "
		"wall %.2f s\n",
		seeds, SHORT_TOTAL, (unsigned long long)segs, (unsigned long long)rexmits,
		(unsigned long long)cookies, (unsigned long long)recycled, virt / 1e6, wall_s() - t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_small_exchange_and_close),
		cmocka_unit_test(test_many_short_connections),
		cmocka_unit_test(test_bulk_both_ways_no_loss),
		cmocka_unit_test(test_bulk_both_ways_1pct_loss),
		cmocka_unit_test(test_bulk_both_ways_10pct_loss),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
