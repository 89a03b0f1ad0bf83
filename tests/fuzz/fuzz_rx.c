/* fuzz_rx - libFuzzer harness for the whole receive path of netstack:
 * Ethernet, ARP, IPv4 (incl. reassembly), ICMP, UDP and TCP.
 *
 * Input format: a sequence of records, each
 *     op (1 byte) | length (2 bytes, big endian) | frame (length bytes)
 * op bit 7: first advance the clock by (op & 0x3f) * 100 ms and poll;
 * op bit 6: send a gratuitous ARP. The frame (truncated to what one mbuf
 * holds) goes to ns_stack_input, then ns_stack_flush runs. A trailing
 * partial record is fed as one frame. After the last record the clock runs
 * on in 1 s steps and then by an hour, so every timer path (ARP retries and
 * give-up, reassembly timeout, TCP timers) fires.
 *
 * The stack listens on UDP 7 (echo) and TCP 25 (echo), and knows the peer
 * 198.18.0.1 at 02:00:00:00:00:01 from an ARP request fed at creation, so
 * replies go all the way to the tx callback, which frees them.
 *
 * LLVMFuzzerInitialize brings up EAL (no hugepages, no shared config) and
 * the first stack. Every input then runs on that stack, which is destroyed
 * and re-created afterwards: each input replays exactly on its own, and the
 * pool must be full again after the destroy, or the harness aborts (an
 * mbuf leak, reported with the input that caused it). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_arp.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ether.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "ns.h"
#include "sl_err.h"
#include "sl_log.h"
#include "sl_time.h"

#define FUZZ_POOL_SIZE 4095
#define FUZZ_T0 (1000 * SL_US_PER_S)

static struct rte_mempool *fz_pool;
static ns_stack_t *fz_stack;
static unsigned fz_avail0;
static uint64_t fz_now;

static const uint8_t fz_mac_us[6] = {0x02, 0, 0, 0, 0, 0x02};
static const uint8_t fz_mac_peer[6] = {0x02, 0, 0, 0, 0, 0x01};
#define FZ_IP(a, b, c, d) \
	RTE_BE32(((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (uint32_t)(d))

static void fz_tx(void *ctx, struct rte_mbuf *m)
{
	(void)ctx;
	rte_pktmbuf_free(m);
}

static void fz_udp_echo(void *ctx, uint32_t src_ip, uint16_t src_port, uint16_t dst_port,
			sl_slice_t payload)
{
	(void)ns_udp_sendto(ctx, dst_port, src_ip, src_port, payload.ptr, payload.len);
}

static int fz_tcp_accepted(ns_conn_t *c, void *listen_ctx)
{
	(void)c;
	(void)listen_ctx;
	return 0;
}

static void fz_tcp_data(ns_conn_t *c, void *ctx)
{
	uint8_t buf[2048];
	size_t n;

	(void)ctx;
	while ((n = ns_conn_recv(c, buf, sizeof(buf))) > 0)
		if (ns_conn_send(c, buf, n) < 0)
			break;
	if (ns_conn_eof(c))
		ns_conn_close(c);
}

static void fz_tcp_closed(ns_conn_t *c, void *ctx, int reason)
{
	(void)c;
	(void)ctx;
	(void)reason;
}

static const ns_conn_ops_t fz_tcp_ops = {
	.accepted = fz_tcp_accepted,
	.data = fz_tcp_data,
	.closed = fz_tcp_closed,
};

static void fz_input(const uint8_t *frame, size_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(fz_pool);
	char *p;

	if (m == NULL)
		abort(); /* the pool is sized so that this means a leak */
	if (len > rte_pktmbuf_tailroom(m))
		len = rte_pktmbuf_tailroom(m);
	p = rte_pktmbuf_append(m, (uint16_t)len);
	memcpy(p, frame, len);
	ns_stack_input(fz_stack, m);
	ns_stack_flush(fz_stack);
}

/* Teach the stack the peer's address, as its first ARP request would. */
static void fz_learn_peer(void)
{
	uint8_t f[RTE_ETHER_HDR_LEN + sizeof(struct rte_arp_hdr)];
	struct rte_ether_hdr *eh = (struct rte_ether_hdr *)f;
	struct rte_arp_hdr *ah = (struct rte_arp_hdr *)(eh + 1);

	memset(&eh->dst_addr, 0xff, 6);
	memcpy(&eh->src_addr, fz_mac_peer, 6);
	eh->ether_type = RTE_BE16(RTE_ETHER_TYPE_ARP);
	ah->arp_hardware = RTE_BE16(RTE_ARP_HRD_ETHER);
	ah->arp_protocol = RTE_BE16(RTE_ETHER_TYPE_IPV4);
	ah->arp_hlen = 6;
	ah->arp_plen = 4;
	ah->arp_opcode = RTE_BE16(RTE_ARP_OP_REQUEST);
	memcpy(&ah->arp_data.arp_sha, fz_mac_peer, 6);
	ah->arp_data.arp_sip = FZ_IP(198, 18, 0, 1);
	memset(&ah->arp_data.arp_tha, 0, 6);
	ah->arp_data.arp_tip = FZ_IP(198, 18, 0, 2);
	fz_input(f, sizeof(f));
}

static void fz_stack_new(void)
{
	ns_stack_params_t p;
	const char *err = NULL;

	ns_stack_params_default(&p);
	memcpy(p.mac, fz_mac_us, 6);
	p.ip = FZ_IP(198, 18, 0, 2);
	p.prefix_len = 24;
	p.gateway = FZ_IP(198, 18, 0, 254);
	p.pool = fz_pool;
	p.tx = fz_tx;
	p.now_us = FUZZ_T0;
	/* Small limits, so that inputs reach eviction and limit paths. */
	p.arp_cache_size = 8;
	p.arp_queue_max = 4;
	p.reasm_mem_max = 256 * 1024;
	p.max_conns = 64;
	p.tcp_mem_max = 1 << 20;
	p.sndbuf = 64 * 1024;
	p.rcvbuf = 64 * 1024;
	p.syn_backlog = 16;
	p.time_wait_max = 16;
	p.isn_secret[0] = 0x5eed;
	p.isn_secret[1] = 0xf00d;
	fz_now = FUZZ_T0;
	fz_stack = ns_stack_create(&p, &err);
	if (fz_stack == NULL) {
		fprintf(stderr, "fuzz_rx: ns_stack_create: %s\n", err);
		abort();
	}
	if (ns_udp_bind(fz_stack, 7, fz_udp_echo, fz_stack) < 0 ||
	    ns_tcp_listen(fz_stack, 25, &fz_tcp_ops, NULL) < 0) {
		fprintf(stderr, "fuzz_rx: bind/listen failed\n");
		abort();
	}
	fz_learn_peer();
}

/* FUZZ_RX_STATS=1 prints the non-zero counters after each input, to check
 * what a seed reaches. */
static bool fz_dump_stats;

static void fz_stats_dump(void)
{
	ns_stats_t st;
	const uint64_t *v = (const uint64_t *)&st;

	ns_stack_get_stats(fz_stack, &st);
	for (size_t i = 0; ns_stats_names[i] != NULL; i++)
		if (v[i] != 0)
			fprintf(stderr, "  %s=%llu", ns_stats_names[i], (unsigned long long)v[i]);
	fprintf(stderr, "\n");
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	/* --no-huge is incompatible with --in-memory in DPDK 22.11;
	 * --no-shconf keeps runs from sharing a runtime directory. */
	char *eal_argv[] = {"fuzz_rx", "--no-huge", "-m", "256", "--no-pci", "--no-shconf",
			    "-l", "0", "--log-level=lib.*:error", "--no-telemetry", NULL};

	(void)argc;
	(void)argv;
	sl_log_set_level(SL_LOG_ERR);
	if (rte_eal_init((int)(sizeof(eal_argv) / sizeof(eal_argv[0])) - 1, eal_argv) < 0) {
		fprintf(stderr, "fuzz_rx: rte_eal_init failed\n");
		abort();
	}
	/* No per-lcore cache: the leak check compares exact counts. */
	fz_pool = rte_pktmbuf_pool_create("fuzz_rx", FUZZ_POOL_SIZE, 0, 0,
					  RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	if (fz_pool == NULL) {
		fprintf(stderr, "fuzz_rx: pool: %s\n", rte_strerror(rte_errno));
		abort();
	}
	fz_avail0 = rte_mempool_avail_count(fz_pool);
	fz_dump_stats = getenv("FUZZ_RX_STATS") != NULL;
	fz_stack_new();
	return 0;
}

static void fz_advance(uint64_t us)
{
	fz_now += us;
	ns_stack_poll(fz_stack, fz_now);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	while (size > 0) {
		uint8_t op = data[0];
		size_t len;

		if (size < 3) {
			fz_input(data, size);
			break;
		}
		len = ((size_t)data[1] << 8) | data[2];
		data += 3;
		size -= 3;
		if (len > size)
			len = size;
		if (op & 0x80)
			fz_advance((uint64_t)(op & 0x3f) * 100 * SL_US_PER_MS);
		if (op & 0x40)
			ns_stack_announce(fz_stack);
		fz_input(data, len);
		data += len;
		size -= len;
	}
	for (unsigned i = 0; i < 5; i++)
		fz_advance(SL_US_PER_S);
	fz_advance(3600 * SL_US_PER_S);
	(void)ns_stack_next_deadline(fz_stack);

	if (fz_dump_stats)
		fz_stats_dump();
	ns_stack_destroy(&fz_stack);
	if (rte_mempool_avail_count(fz_pool) != fz_avail0) {
		fprintf(stderr, "fuzz_rx: mbuf leak: %u of %u back in the pool\n",
			rte_mempool_avail_count(fz_pool), fz_avail0);
		abort();
	}
	fz_stack_new();
	return 0;
}
