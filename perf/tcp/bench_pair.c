/* bench_pair - two netstack instances, one lcore each, joined by a pair of
 * rte_rings: bulk throughput and new connections per second.
 *
 *   bench_pair bulk [--seconds S] [--warmup S] [--mtu N] [--zero-copy-rx]
 *   bench_pair conn [--seconds S] [--warmup S] [--concurrency C] [--ports P]
 *   common: [--mbufs N] [--sndbuf B] [--rcvbuf B] [--rx-csum-offload]
 *           [--trace N] (frame headers to stderr at the end)
 *
 * Lcore 0 (the EAL main lcore) owns the client stack and drives the test;
 * lcore 1 owns the server stack. Each stack is created, polled and destroyed
 * only on its own lcore. A stack's tx callback buffers frames and the loop
 * enqueues them in bursts on the ring the other lcore dequeues from (the
 * l2fwd pattern: RX burst -> stack -> flush -> TX burst). Each turn runs in
 * the order of platform/sl_worker.c (clock and timers, RX burst, app work,
 * flush, TX) so that the stack sees what it sees in sluiced; the clock
 * passed to ns_stack_poll is real time (sl_time_now_us). Before the load
 * starts the client resolves the server's MAC (bp_arp_prime).
 *
 * bulk: one connection; the client keeps the send queue full from a static
 *       buffer, the server copies everything out with ns_conn_recv (as
 *       iperf3's server does with read()). Throughput is counted at the
 *       receiver over the measurement window, after a warm-up.
 * conn: C connections in flight at all times. Each one: connect, client
 *       sends 1 byte, server echoes it, client reads it and closes first
 *       (so TIME_WAIT lands on the client stack), server closes on EOF. The
 *       server listens on P ports and connects are spread over them, the
 *       same pattern as bench_kernel_connect.
 *
 * The ring is a link without offloads: every frame's checksums are verified
 * in software, as on net_tap. --rx-csum-offload marks received frames
 * checksum-good, as a NIC with RX checksum offload would (a diagnostic:
 * the stack has no TX checksum offload, so the sender still computes it).
 *
 * Output: one JSON line on stdout. Exit status 0, or 1 when the test could
 * not run (EAL, stack creation, no connection). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_tcp.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "ns.h"
#include "sl_err.h"
#include "sl_time.h"

#define BP_BURST 32
#define BP_RING_SIZE 4096
#define BP_SEND_CHUNK (256u * 1024u)
#define BP_MAX_CONC 4096
#define BP_MAX_PORTS 64
#define BP_BASE_PORT 5001
#define BP_CLIENT_IP RTE_BE32(0xc6126401) /* 198.18.100.1 */
#define BP_SERVER_IP RTE_BE32(0xc6126402) /* 198.18.100.2 */

enum bp_mode { BP_BULK, BP_CONN };

typedef struct bp_opts {
	enum bp_mode mode;
	double seconds, warmup;
	uint32_t mtu;
	uint32_t mbufs;
	uint32_t concurrency;
	uint32_t ports;
	uint32_t sndbuf, rcvbuf;
	bool zero_copy_rx;
	uint64_t trace;     /* print the headers of this many frames (stderr) */
	bool rx_csum_offload; /* mark RX frames L4-checksum-good, as a NIC would */
} bp_opts_t;

/* One side of the link: the stack, its rings and its TX burst buffer. Only
 * the owning lcore touches it, except the fields marked "shared". */
typedef struct bp_side {
	const char *name;
	ns_stack_t *stack;
	struct rte_ring *rx_ring, *tx_ring;
	struct rte_mbuf *txbuf[BP_BURST];
	unsigned ntx;
	uint64_t ring_drops; /* frames freed because the peer's ring was full */
	uint64_t turns, rx_frames, tx_frames;
	/* Time spent in loop turns that moved a frame (RX or TX), measured
	 * from the clock read each turn already does: the CPU the stack
	 * really needs, busy polling excluded. Read by the other lcore. */
	uint64_t busy_us, last_now_us;
	bool last_busy;
	ns_stats_t stats;    /* snapshot taken on the owning lcore at the end */
} __rte_cache_aligned bp_side_t;

/* A client connection slot of the conn test. */
typedef struct bp_slot {
	ns_conn_t *c;
	bool busy;
	uint32_t next_free;
} bp_slot_t;

static bp_opts_t bp_opt;
static struct rte_mempool *bp_pool;
static bp_side_t bp_client, bp_server;

/* Shared between the lcores (relaxed atomics). */
static volatile int bp_server_tid;
static volatile int bp_server_state; /* 0 starting, 1 ready, -1 failed */
static volatile int bp_stop;
static uint64_t bp_server_rx_bytes;  /* bulk: bytes the server read */
static uint64_t bp_server_accepts;

/* Client state (lcore 0 only). */
static ns_conn_t *bp_bulk_conn;
static bool bp_bulk_connected, bp_bulk_failed;
static uint64_t bp_bulk_sent;
static bp_slot_t bp_slots[BP_MAX_CONC];
static uint32_t bp_free_head = UINT32_MAX;
static uint64_t bp_completed, bp_conn_errors, bp_connect_fail, bp_short_reads;
static uint32_t bp_port_rr;
static int bp_last_connect_err;
static uint8_t bp_send_buf[BP_SEND_CHUNK];
static uint8_t bp_recv_buf[BP_SEND_CHUNK]; /* server lcore only */

/* ---- the link ---- */

/* --trace N: the headers of the first N TCP frames on the link, recorded in
 * memory (printing would slow the link down) and printed to stderr at the
 * end, to see where a stack waits: time, sender, flags, seq, ack, window,
 * payload length. */
typedef struct bp_trace_rec {
	uint64_t t_us;
	uint32_t seq, ack;
	uint16_t win, sport, dport;
	uint32_t len;
	uint8_t flags;
	char side;
} bp_trace_rec_t;

static bp_trace_rec_t *bp_trace_buf;
static uint64_t bp_trace_n; /* records taken, both lcores (atomic) */
static uint64_t bp_t_start_us;

static void bp_trace(const bp_side_t *sd, const struct rte_mbuf *m)
{
	const struct rte_ether_hdr *eh = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
	const struct rte_ipv4_hdr *ip = (const struct rte_ipv4_hdr *)(eh + 1);
	const struct rte_tcp_hdr *th;
	bp_trace_rec_t *r;
	unsigned ihl;
	uint64_t i;

	if (eh->ether_type != RTE_BE16(RTE_ETHER_TYPE_IPV4) || ip->next_proto_id != IPPROTO_TCP)
		return;
	i = __atomic_fetch_add(&bp_trace_n, 1, __ATOMIC_RELAXED);
	if (i >= bp_opt.trace)
		return;
	r = &bp_trace_buf[i];
	ihl = (ip->version_ihl & 0xf) * 4u;
	th = (const struct rte_tcp_hdr *)((const uint8_t *)ip + ihl);
	r->t_us = sl_time_now_us() - bp_t_start_us;
	r->side = sd->name[0];
	r->sport = rte_be_to_cpu_16(th->src_port);
	r->dport = rte_be_to_cpu_16(th->dst_port);
	r->flags = th->tcp_flags;
	r->seq = rte_be_to_cpu_32(th->sent_seq);
	r->ack = rte_be_to_cpu_32(th->recv_ack);
	r->win = rte_be_to_cpu_16(th->rx_win);
	r->len = rte_be_to_cpu_16(ip->total_length) - ihl - (th->data_off >> 4) * 4u;
}

static void bp_trace_dump(void)
{
	uint64_t n = bp_trace_n < bp_opt.trace ? bp_trace_n : bp_opt.trace;

	for (uint64_t i = 0; i < n; i++) {
		const bp_trace_rec_t *r = &bp_trace_buf[i];

		fprintf(stderr, "%10" PRIu64 " %c %5u>%-5u %c%c%c%c%c seq %10u ack %10u win %5u len %u\n",
			r->t_us, r->side, r->sport, r->dport, r->flags & RTE_TCP_SYN_FLAG ? 'S' : '.',
			r->flags & RTE_TCP_ACK_FLAG ? 'A' : '.', r->flags & RTE_TCP_FIN_FLAG ? 'F' : '.',
			r->flags & RTE_TCP_RST_FLAG ? 'R' : '.', r->flags & RTE_TCP_PSH_FLAG ? 'P' : '.',
			r->seq, r->ack, r->win, r->len);
	}
}

static void bp_tx_drain(bp_side_t *sd)
{
	unsigned sent;

	if (sd->ntx == 0)
		return;
	sent = rte_ring_enqueue_burst(sd->tx_ring, (void **)sd->txbuf, sd->ntx, NULL);
	if (unlikely(sent < sd->ntx)) {
		sd->ring_drops += sd->ntx - sent;
		rte_pktmbuf_free_bulk(&sd->txbuf[sent], sd->ntx - sent);
	}
	sd->ntx = 0;
}

/* The stack's tx callback: ownership of M moves to the TX burst buffer. */
static void bp_tx(void *ctx, struct rte_mbuf *m)
{
	bp_side_t *sd = ctx;

	if (unlikely(bp_opt.trace))
		bp_trace(sd, m);
	sd->tx_frames++;
	sd->txbuf[sd->ntx++] = m;
	if (sd->ntx == BP_BURST)
		bp_tx_drain(sd);
}

/* One loop turn: clock, RX burst, app work, flush, TX burst. */
static inline void bp_turn(bp_side_t *sd, void (*app)(void))
{
	struct rte_mbuf *pkts[BP_BURST];
	uint64_t now = sl_time_now_us(), tx0 = sd->tx_frames;
	unsigned n;

	if (sd->last_busy)
		__atomic_store_n(&sd->busy_us, sd->busy_us + (now - sd->last_now_us), __ATOMIC_RELAXED);
	sd->last_now_us = now;
	ns_stack_poll(sd->stack, now);
	n = rte_ring_dequeue_burst(sd->rx_ring, (void **)pkts, BP_BURST, NULL);
	for (unsigned i = 0; i < n; i++) {
		if (i + 1 < n)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1], void *));
		pkts[i]->ol_flags = 0;
		if (bp_opt.rx_csum_offload)
			pkts[i]->ol_flags = RTE_MBUF_F_RX_L4_CKSUM_GOOD | RTE_MBUF_F_RX_IP_CKSUM_GOOD;
		ns_stack_input(sd->stack, pkts[i]);
	}
	sd->rx_frames += n;
	if (app != NULL)
		app();
	ns_stack_flush(sd->stack);
	bp_tx_drain(sd);
	sd->last_busy = n > 0 || sd->tx_frames != tx0;
	sd->turns++;
}

static ns_stack_t *bp_stack_create(bp_side_t *sd, uint32_t ip, uint8_t mac_last)
{
	ns_stack_params_t p;
	const char *err = NULL;
	ns_stack_t *s;

	ns_stack_params_default(&p);
	p.mac[0] = 0x02;
	p.mac[5] = mac_last;
	p.ip = ip;
	p.prefix_len = 24;
	p.mtu = (uint16_t)bp_opt.mtu;
	p.pool = bp_pool;
	p.tx = bp_tx;
	p.tx_ctx = sd;
	p.now_us = sl_time_now_us();
	if (bp_opt.sndbuf)
		p.sndbuf = bp_opt.sndbuf;
	if (bp_opt.rcvbuf)
		p.rcvbuf = bp_opt.rcvbuf;
	s = ns_stack_create(&p, &err);
	if (s == NULL)
		fprintf(stderr, "bench_pair: %s stack: %s\n", sd->name, err);
	return s;
}

/* ---- server (lcore 1) ---- */

static int bp_srv_accepted(ns_conn_t *c, void *listen_ctx)
{
	(void)c;
	(void)listen_ctx;
	__atomic_fetch_add(&bp_server_accepts, 1, __ATOMIC_RELAXED);
	return 0;
}

/* Bulk: drain everything (copying, like read(), unless --zero-copy-rx). */
static void bp_srv_bulk_data(ns_conn_t *c, void *ctx)
{
	uint64_t got = 0;
	size_t n;

	(void)ctx;
	if (bp_opt.zero_copy_rx) {
		n = ns_conn_readable(c);
		ns_conn_consume(c, n);
		got = n;
	} else {
		while ((n = ns_conn_recv(c, bp_recv_buf, sizeof(bp_recv_buf))) > 0)
			got += n;
	}
	if (got)
		__atomic_store_n(&bp_server_rx_bytes, bp_server_rx_bytes + got, __ATOMIC_RELAXED);
	if (ns_conn_eof(c))
		ns_conn_close(c);
}

/* Conn: echo what arrived, close on EOF. */
static void bp_srv_echo_data(ns_conn_t *c, void *ctx)
{
	uint8_t b[64];
	size_t n;

	(void)ctx;
	while ((n = ns_conn_recv(c, b, sizeof(b))) > 0)
		(void)ns_conn_send(c, b, n);
	if (ns_conn_eof(c))
		ns_conn_close(c);
}

static void bp_srv_closed(ns_conn_t *c, void *ctx, int reason)
{
	(void)c;
	(void)ctx;
	(void)reason;
}

static const ns_conn_ops_t bp_srv_bulk_ops = {
	.accepted = bp_srv_accepted, .data = bp_srv_bulk_data, .closed = bp_srv_closed};
static const ns_conn_ops_t bp_srv_echo_ops = {
	.accepted = bp_srv_accepted, .data = bp_srv_echo_data, .closed = bp_srv_closed};

static int bp_server_main(void *arg)
{
	(void)arg;
	bp_server_tid = rte_sys_gettid();
	bp_server.stack = bp_stack_create(&bp_server, BP_SERVER_IP, 2);
	if (bp_server.stack == NULL)
		goto fail;
	for (uint32_t i = 0; i < bp_opt.ports; i++) {
		int rc = ns_tcp_listen(bp_server.stack, (uint16_t)(BP_BASE_PORT + i),
				       bp_opt.mode == BP_BULK ? &bp_srv_bulk_ops : &bp_srv_echo_ops,
				       NULL);
		if (rc < 0) {
			fprintf(stderr, "bench_pair: listen %u: %s\n", BP_BASE_PORT + i,
				sl_strerror(rc));
			goto fail;
		}
	}
	ns_stack_announce(bp_server.stack);
	__atomic_store_n(&bp_server_state, 1, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&bp_stop, __ATOMIC_ACQUIRE))
		bp_turn(&bp_server, NULL);
	ns_stack_get_stats(bp_server.stack, &bp_server.stats);
	ns_stack_destroy(&bp_server.stack);
	bp_tx_drain(&bp_server);
	return 0;
fail:
	__atomic_store_n(&bp_server_state, -1, __ATOMIC_RELEASE);
	if (bp_server.stack != NULL)
		ns_stack_destroy(&bp_server.stack);
	return -1;
}

/* ---- how much CPU the two lcores really got ----
 *
 * On a shared box another process can take an lcore's CPU for a scheduler
 * slice, and a busy-polling stack then stalls completely. The run and
 * run-queue wait times of both lcore threads over the measurement window
 * (/proc/self/task/TID/schedstat, ns) say how much of that happened; the
 * report prints them so a disturbed run can be recognised. */
typedef struct bp_sched {
	uint64_t run_ns, wait_ns, busy_us;
} bp_sched_t;

static void bp_sched_read(int tid, bp_sched_t *r)
{
	char path[64];
	unsigned long long run = 0, wait = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/schedstat", tid);
	f = fopen(path, "r");
	if (f != NULL) {
		if (fscanf(f, "%llu %llu", &run, &wait) != 2)
			run = wait = 0;
		fclose(f);
	}
	r->run_ns = run;
	r->wait_ns = wait;
}

static bp_sched_t bp_sched0[2], bp_sched1[2];

/* The box as a whole (/proc/stat, all CPUs): busy and softirq jiffies.
 * Busy minus what our two lcores ran minus softirq is what other jobs
 * (and the hypervisor: steal) took during the window. */
typedef struct bp_box {
	unsigned long long busy, softirq;
} bp_box_t;

static bp_box_t bp_box0, bp_box1;

static void bp_box_read(bp_box_t *r)
{
	unsigned long long v[8] = {0};
	FILE *f = fopen("/proc/stat", "r");

	r->busy = r->softirq = 0;
	if (f == NULL)
		return;
	if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
		   &v[4], &v[5], &v[6], &v[7]) == 8) {
		/* user nice system idle iowait irq softirq steal */
		r->busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
		r->softirq = v[6];
	}
	fclose(f);
}

static void bp_sched_snap(bp_sched_t *r)
{
	bp_box_read(r == bp_sched0 ? &bp_box0 : &bp_box1);
	bp_sched_read(rte_sys_gettid(), &r[0]);
	bp_sched_read(bp_server_tid, &r[1]);
	r[0].busy_us = bp_client.busy_us;
	r[1].busy_us = __atomic_load_n(&bp_server.busy_us, __ATOMIC_RELAXED);
}

static void bp_sched_print(uint64_t window_us)
{
	double tck = (double)sysconf(_SC_CLK_TCK), ncpu = (double)sysconf(_SC_NPROCESSORS_ONLN);
	double box_s = (double)(bp_box1.busy - bp_box0.busy) / tck;
	double sirq_s = (double)(bp_box1.softirq - bp_box0.softirq) / tck;
	double ours_s = (double)(bp_sched1[0].run_ns - bp_sched0[0].run_ns +
				 bp_sched1[1].run_ns - bp_sched0[1].run_ns) / 1e9;
	double others = (box_s - ours_s - sirq_s) / (ncpu * (double)window_us / 1e6) * 100;

	printf(",\"others_pct\":%.1f", others < 0 ? 0 : others);
	printf(",\"lcore_busy_share\":[%.3f,%.3f]",
	       (double)(bp_sched1[0].busy_us - bp_sched0[0].busy_us) / (double)window_us,
	       (double)(bp_sched1[1].busy_us - bp_sched0[1].busy_us) / (double)window_us);
	printf(",\"lcore_cpu_share\":[%.3f,%.3f],\"lcore_wait_ms\":[%.1f,%.1f]",
	       (double)(bp_sched1[0].run_ns - bp_sched0[0].run_ns) / 1e3 / (double)window_us,
	       (double)(bp_sched1[1].run_ns - bp_sched0[1].run_ns) / 1e3 / (double)window_us,
	       (double)(bp_sched1[0].wait_ns - bp_sched0[0].wait_ns) / 1e6,
	       (double)(bp_sched1[1].wait_ns - bp_sched0[1].wait_ns) / 1e6);
}

/* Touch every mbuf's memory once: with --no-huge the pool is plain
 * anonymous memory, and first-touch page faults (expensive in a VM) would
 * otherwise land in the measurement while the pool cycles through. */
static void bp_prefault_cb(struct rte_mempool *mp, void *arg, void *obj, unsigned idx)
{
	struct rte_mbuf *m = obj;

	(void)mp;
	(void)arg;
	(void)idx;
	memset(m->buf_addr, 0, m->buf_len);
}

/* ---- client (lcore 0) ---- */

static void bp_cli_bulk_connected(ns_conn_t *c, void *ctx)
{
	(void)c;
	(void)ctx;
	bp_bulk_connected = true;
}

static void bp_cli_bulk_data(ns_conn_t *c, void *ctx)
{
	(void)ctx;
	ns_conn_consume(c, ns_conn_readable(c));
}

static void bp_cli_bulk_closed(ns_conn_t *c, void *ctx, int reason)
{
	(void)c;
	(void)ctx;
	fprintf(stderr, "bench_pair: bulk connection closed: %s\n", sl_strerror(reason));
	bp_bulk_failed = true;
	bp_bulk_conn = NULL;
}

static const ns_conn_ops_t bp_cli_bulk_ops = {.connected = bp_cli_bulk_connected,
					      .data = bp_cli_bulk_data,
					      .closed = bp_cli_bulk_closed};

/* Keep the send queue full. */
static void bp_app_bulk(void)
{
	size_t space;
	ssize_t n;

	if (!bp_bulk_connected || bp_bulk_conn == NULL)
		return;
	while ((space = ns_conn_send_space(bp_bulk_conn)) > 0) {
		n = ns_conn_send(bp_bulk_conn, bp_send_buf,
				 space < sizeof(bp_send_buf) ? space : sizeof(bp_send_buf));
		if (n <= 0)
			break;
		bp_bulk_sent += (uint64_t)n;
	}
}

static void bp_slot_release(bp_slot_t *sl)
{
	sl->busy = false;
	sl->c = NULL;
	sl->next_free = bp_free_head;
	bp_free_head = (uint32_t)(sl - bp_slots);
}

static void bp_cli_conn_connected(ns_conn_t *c, void *ctx)
{
	(void)ctx;
	if (ns_conn_send(c, "x", 1) != 1)
		bp_conn_errors++;
}

static void bp_cli_conn_data(ns_conn_t *c, void *ctx)
{
	bp_slot_t *sl = ctx;
	uint8_t b[8];
	size_t n = ns_conn_recv(c, b, sizeof(b));

	if (n == 0 && !ns_conn_eof(c))
		return;
	if (n != 1)
		bp_short_reads++;
	else
		bp_completed++;
	ns_conn_close(c);
	bp_slot_release(sl);
}

static void bp_cli_conn_closed(ns_conn_t *c, void *ctx, int reason)
{
	(void)c;
	(void)reason;
	bp_conn_errors++;
	bp_slot_release(ctx);
}

static const ns_conn_ops_t bp_cli_conn_ops = {.connected = bp_cli_conn_connected,
					      .data = bp_cli_conn_data,
					      .closed = bp_cli_conn_closed};

/* Refill the free slots with new connections (outside the callbacks). */
static void bp_app_conn(void)
{
	while (bp_free_head != UINT32_MAX) {
		bp_slot_t *sl = &bp_slots[bp_free_head];
		uint16_t port = (uint16_t)(BP_BASE_PORT + bp_port_rr++ % bp_opt.ports);
		int rc;

		rc = ns_tcp_connect(bp_client.stack, BP_SERVER_IP, port, &bp_cli_conn_ops, sl,
				    &sl->c);
		if (rc < 0) {
			bp_connect_fail++;
			bp_last_connect_err = rc;
			return; /* try again next turn */
		}
		bp_free_head = sl->next_free;
		sl->busy = true;
	}
}

static void bp_run_until(uint64_t until_us, void (*app)(void))
{
	while (sl_time_now_us() < until_us)
		bp_turn(&bp_client, app);
}

static void bp_print_stats(const char *key, const ns_stats_t *st)
{
	printf(",\"%s\":{\"tcp_tx_segs\":%" PRIu64 ",\"tcp_rx_segs\":%" PRIu64
	       ",\"eth_tx_frames\":%" PRIu64 ",\"eth_tx_bytes\":%" PRIu64
	       ",\"tcp_retransmits\":%" PRIu64 ",\"tcp_rto_expired\":%" PRIu64
	       ",\"tcp_rst_tx\":%" PRIu64 ",\"tcp_time_wait_current\":%" PRIu64
	       ",\"tcp_time_wait_recycled\":%" PRIu64 ",\"tcp_conn_limit_drops\":%" PRIu64
	       ",\"tcp_mem_drops\":%" PRIu64 ",\"tcp_syncookies_sent\":%" PRIu64
	       ",\"tcp_listen_overflows\":%" PRIu64 ",\"eth_tx_drop_nombuf\":%" PRIu64
	       ",\"tcp_fast_retransmits\":%" PRIu64 ",\"tcp_sack_recoveries\":%" PRIu64
	       ",\"tcp_dup_segs\":%" PRIu64 ",\"tcp_ooo_segs\":%" PRIu64
	       ",\"tcp_out_of_window\":%" PRIu64 ",\"tcp_zero_window_probes\":%" PRIu64
	       ",\"tcp_paws_drops\":%" PRIu64 ",\"arp_queue_drops\":%" PRIu64 "}",
	       key, st->tcp_tx_segs, st->tcp_rx_segs, st->eth_tx_frames, st->eth_tx_bytes,
	       st->tcp_retransmits, st->tcp_rto_expired, st->tcp_rst_tx,
	       st->tcp_time_wait_current, st->tcp_time_wait_recycled, st->tcp_conn_limit_drops,
	       st->tcp_mem_drops, st->tcp_syncookies_sent, st->tcp_listen_overflows,
	       st->eth_tx_drop_nombuf, st->tcp_fast_retransmits, st->tcp_sack_recoveries,
	       st->tcp_dup_segs, st->tcp_ooo_segs, st->tcp_out_of_window, st->tcp_zero_window_probes,
	       st->tcp_paws_drops, st->arp_queue_drops);
}

/* Resolve the server's MAC before the test starts: one UDP datagram makes
 * the client ARP for it. Without this, the first burst of connects queues
 * behind an unresolved ARP entry, which holds only arp_queue_max (8)
 * packets; the other SYNs are dropped and wait out the 1 s initial RTO. */
static int bp_arp_prime(void)
{
	uint64_t deadline = sl_time_now_us() + 2 * SL_US_PER_S;
	ns_stats_t st;

	(void)ns_udp_sendto(bp_client.stack, 9, BP_SERVER_IP, 9, "arp", 3);
	do {
		bp_turn(&bp_client, NULL);
		ns_stack_get_stats(bp_client.stack, &st);
		if (st.arp_cache_entries > 0)
			return 0;
	} while (sl_time_now_us() < deadline);
	fprintf(stderr, "bench_pair: the server's address did not resolve\n");
	return -1;
}

static int bp_client_bulk(void)
{
	uint64_t t0, t1, b0, b1, deadline;
	int rc;

	rc = ns_tcp_connect(bp_client.stack, BP_SERVER_IP, BP_BASE_PORT, &bp_cli_bulk_ops, NULL,
			    &bp_bulk_conn);
	if (rc < 0) {
		fprintf(stderr, "bench_pair: connect: %s\n", sl_strerror(rc));
		return -1;
	}
	deadline = sl_time_now_us() + 5 * SL_US_PER_S;
	while (!bp_bulk_connected && !bp_bulk_failed && sl_time_now_us() < deadline)
		bp_turn(&bp_client, NULL);
	if (!bp_bulk_connected) {
		fprintf(stderr, "bench_pair: bulk connection not established\n");
		return -1;
	}
	bp_run_until(sl_time_now_us() + (uint64_t)(bp_opt.warmup * 1e6), bp_app_bulk);
	bp_sched_snap(bp_sched0);
	t0 = sl_time_now_us();
	b0 = __atomic_load_n(&bp_server_rx_bytes, __ATOMIC_RELAXED);
	bp_run_until(t0 + (uint64_t)(bp_opt.seconds * 1e6), bp_app_bulk);
	t1 = sl_time_now_us();
	b1 = __atomic_load_n(&bp_server_rx_bytes, __ATOMIC_RELAXED);
	bp_sched_snap(bp_sched1);
	if (bp_bulk_failed)
		return -1;
	{
		ns_conn_info_t ci;

		ns_conn_get_info(bp_bulk_conn, &ci);
		printf("{\"suite\":\"tcp\",\"bench\":\"pair_bulk\",\"impl\":\"sluice\","
		       "\"gbps\":%.3f,\"bytes\":%" PRIu64 ",\"seconds\":%.3f,\"mtu\":%u,"
		       "\"mss\":%u,\"cwnd\":%u,\"snd_wnd\":%u,\"srtt_us\":%u,"
		       "\"zero_copy_rx\":%s,\"rx_csum_offload\":%s,\"client_turns\":%" PRIu64,
		       (double)(b1 - b0) * 8.0 / (double)(t1 - t0) / 1e3, b1 - b0,
		       (double)(t1 - t0) / 1e6, bp_opt.mtu, ci.mss, ci.cwnd, ci.snd_wnd,
		       ci.srtt_us, bp_opt.zero_copy_rx ? "true" : "false",
		       bp_opt.rx_csum_offload ? "true" : "false", bp_client.turns);
		bp_sched_print(t1 - t0);
	}
	return 0;
}

static int bp_client_conn(void)
{
	uint64_t t0, t1, c0, c1;

	for (uint32_t i = bp_opt.concurrency; i-- > 0;)
		bp_slot_release(&bp_slots[i]);
	bp_run_until(sl_time_now_us() + (uint64_t)(bp_opt.warmup * 1e6), bp_app_conn);
	bp_sched_snap(bp_sched0);
	t0 = sl_time_now_us();
	c0 = bp_completed;
	bp_run_until(t0 + (uint64_t)(bp_opt.seconds * 1e6), bp_app_conn);
	t1 = sl_time_now_us();
	c1 = bp_completed;
	bp_sched_snap(bp_sched1);
	if (c1 == c0) {
		fprintf(stderr, "bench_pair: no connection completed (last connect error: %s)\n",
			bp_last_connect_err ? sl_strerror(bp_last_connect_err) : "none");
		return -1;
	}
	printf("{\"suite\":\"tcp\",\"bench\":\"pair_conn\",\"impl\":\"sluice\","
	       "\"conns_per_s\":%.1f,\"completed\":%" PRIu64 ",\"seconds\":%.3f,"
	       "\"concurrency\":%u,\"ports\":%u,\"mtu\":%u,\"errors\":%" PRIu64
	       ",\"connect_fail\":%" PRIu64 ",\"short_reads\":%" PRIu64,
	       (double)(c1 - c0) * 1e6 / (double)(t1 - t0), c1 - c0, (double)(t1 - t0) / 1e6,
	       bp_opt.concurrency, bp_opt.ports, bp_opt.mtu, bp_conn_errors, bp_connect_fail,
	       bp_short_reads);
	bp_sched_print(t1 - t0);
	return 0;
}

/* ---- set-up ---- */

static void bp_usage(void)
{
	fprintf(stderr,
		"usage: bench_pair bulk|conn [--seconds S] [--warmup S] [--mtu N]\n"
		"                  [--mbufs N] [--concurrency C] [--ports P]\n"
		"                  [--sndbuf B] [--rcvbuf B] [--zero-copy-rx] [--trace N]\n"
		"                  [--rx-csum-offload]\n");
}

static int bp_parse(int argc, char **argv)
{
	static const struct option lo[] = {
		{"seconds", required_argument, NULL, 's'},
		{"warmup", required_argument, NULL, 'w'},
		{"mtu", required_argument, NULL, 'm'},
		{"mbufs", required_argument, NULL, 'n'},
		{"concurrency", required_argument, NULL, 'c'},
		{"ports", required_argument, NULL, 'p'},
		{"sndbuf", required_argument, NULL, 'S'},
		{"rcvbuf", required_argument, NULL, 'R'},
		{"zero-copy-rx", no_argument, NULL, 'z'},
		{"trace", required_argument, NULL, 't'},
		{"rx-csum-offload", no_argument, NULL, 'o'},
		{NULL, 0, NULL, 0},
	};
	int o;

	bp_opt.seconds = 5;
	bp_opt.warmup = 1;
	bp_opt.mtu = 65000; /* the stack's maximum (ns_stack_params_t.mtu) */
	bp_opt.mbufs = 4095;
	bp_opt.concurrency = 64;
	bp_opt.ports = 8;
	if (argc < 2) {
		bp_usage();
		return -1;
	}
	if (strcmp(argv[1], "bulk") == 0)
		bp_opt.mode = BP_BULK;
	else if (strcmp(argv[1], "conn") == 0)
		bp_opt.mode = BP_CONN;
	else {
		bp_usage();
		return -1;
	}
	optind = 2;
	while ((o = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (o) {
		case 's': bp_opt.seconds = atof(optarg); break;
		case 'w': bp_opt.warmup = atof(optarg); break;
		case 'm': bp_opt.mtu = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'n': bp_opt.mbufs = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'c': bp_opt.concurrency = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'p': bp_opt.ports = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'S': bp_opt.sndbuf = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'R': bp_opt.rcvbuf = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'z': bp_opt.zero_copy_rx = true; break;
		case 't': bp_opt.trace = strtoull(optarg, NULL, 0); break;
		case 'o': bp_opt.rx_csum_offload = true; break;
		default: bp_usage(); return -1;
		}
	}
	if (bp_opt.mode == BP_BULK)
		bp_opt.ports = 1;
	if (bp_opt.seconds <= 0 || bp_opt.warmup < 0 || bp_opt.concurrency == 0 ||
	    bp_opt.concurrency > BP_MAX_CONC || bp_opt.ports == 0 || bp_opt.ports > BP_MAX_PORTS ||
	    bp_opt.mtu < 576) {
		bp_usage();
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	char *eal_argv[] = {"bench_pair", "-l", "0-1", "--no-huge", "-m", "1024", "--no-pci",
			    "--no-shconf", "--no-telemetry", "--log-level=lib.*:error", NULL};
	uint32_t data_room;
	uint64_t deadline;
	int rc = 1;

	if (bp_parse(argc, argv) < 0)
		return 2;
	if (rte_eal_init((int)(sizeof(eal_argv) / sizeof(eal_argv[0])) - 1, eal_argv) < 0) {
		fprintf(stderr, "bench_pair: rte_eal_init: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	if (rte_lcore_count() < 2) {
		fprintf(stderr, "bench_pair: needs two lcores\n");
		goto out;
	}
	/* Single-segment frames: the stack's output headroom (ns_pkt_alloc:
	 * Ethernet + 60 + 60 rounded to 8 = 136, above RTE_PKTMBUF_HEADROOM)
	 * plus Ethernet plus the MTU must fit one mbuf. */
	data_room = RTE_ALIGN_CEIL(RTE_ETHER_HDR_LEN + 60 + 60, 8) + RTE_ETHER_HDR_LEN + bp_opt.mtu;
	if (data_room < RTE_MBUF_DEFAULT_BUF_SIZE)
		data_room = RTE_MBUF_DEFAULT_BUF_SIZE;
	if (data_room > UINT16_MAX) {
		fprintf(stderr, "bench_pair: mtu %u does not fit one mbuf\n", bp_opt.mtu);
		goto out;
	}
	bp_pool = rte_pktmbuf_pool_create("bp_pool", bp_opt.mbufs, 256, 0, (uint16_t)data_room,
					  SOCKET_ID_ANY);
	if (bp_pool != NULL)
		rte_mempool_obj_iter(bp_pool, bp_prefault_cb, NULL);
	bp_client.rx_ring = rte_ring_create("bp_s2c", BP_RING_SIZE, SOCKET_ID_ANY,
					    RING_F_SP_ENQ | RING_F_SC_DEQ);
	bp_server.rx_ring = rte_ring_create("bp_c2s", BP_RING_SIZE, SOCKET_ID_ANY,
					    RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (bp_pool == NULL || bp_client.rx_ring == NULL || bp_server.rx_ring == NULL) {
		fprintf(stderr, "bench_pair: pool/ring: %s\n", rte_strerror(rte_errno));
		goto out;
	}
	bp_client.name = "client";
	bp_server.name = "server";
	bp_client.tx_ring = bp_server.rx_ring;
	bp_server.tx_ring = bp_client.rx_ring;
	memset(bp_send_buf, 'a', sizeof(bp_send_buf));
	bp_t_start_us = sl_time_now_us();
	if (bp_opt.trace) {
		bp_trace_buf = calloc(bp_opt.trace, sizeof(*bp_trace_buf));
		if (bp_trace_buf == NULL)
			bp_opt.trace = 0;
	}

	if (rte_eal_remote_launch(bp_server_main, NULL, rte_get_next_lcore(-1, 1, 0)) != 0) {
		fprintf(stderr, "bench_pair: cannot launch the server lcore\n");
		goto out;
	}
	bp_client.stack = bp_stack_create(&bp_client, BP_CLIENT_IP, 1);
	deadline = sl_time_now_us() + 5 * SL_US_PER_S;
	while (__atomic_load_n(&bp_server_state, __ATOMIC_ACQUIRE) == 0 &&
	       sl_time_now_us() < deadline)
		rte_pause();
	if (bp_client.stack != NULL && __atomic_load_n(&bp_server_state, __ATOMIC_ACQUIRE) == 1) {
		ns_stack_announce(bp_client.stack);
		if (bp_arp_prime() == 0 && (bp_opt.mode == BP_BULK ? bp_client_bulk() : bp_client_conn()) == 0)
			rc = 0;
	}
	if (bp_client.stack != NULL)
		ns_stack_get_stats(bp_client.stack, &bp_client.stats);
	__atomic_store_n(&bp_stop, 1, __ATOMIC_RELEASE);
	rte_eal_mp_wait_lcore();
	if (rc == 0) {
		bp_print_stats("client", &bp_client.stats);
		bp_print_stats("server", &bp_server.stats);
		printf(",\"ring_drops\":%" PRIu64 ",\"server_accepts\":%" PRIu64 "}\n",
		       bp_client.ring_drops + bp_server.ring_drops, bp_server_accepts);
		fflush(stdout);
	}
	if (bp_client.stack != NULL)
		ns_stack_destroy(&bp_client.stack);
	bp_tx_drain(&bp_client);
	if (bp_opt.trace)
		bp_trace_dump();
out:
	if (bp_client.rx_ring != NULL) {
		struct rte_mbuf *m = NULL;

		while (rte_ring_dequeue(bp_client.rx_ring, (void **)&m) == 0)
			rte_pktmbuf_free(m);
		while (rte_ring_dequeue(bp_server.rx_ring, (void **)&m) == 0)
			rte_pktmbuf_free(m);
	}
	rte_eal_cleanup();
	return rc;
}
