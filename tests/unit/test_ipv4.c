/* test_ipv4 - IPv4 input validation, delivery rules, fragmentation on
 * output and reassembly (order, duplicates, overlaps, limits, timeout). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <rte_ether.h>
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_udp.h>

#include "ns_private.h"
#include "sl_err.h"
#include "sl_time.h"
#include "ut_eal.h"
#include "ut_pkt.h"

#define MF RTE_IPV4_HDR_MF_FLAG
#define ETH RTE_ETHER_HDR_LEN
#define SINK_PORT 7777

static ut_udp_sink_t sink;
static uint8_t frame[70000];
static uint8_t l4buf[70000];

static void bind_sink(ut_fx_t *fx)
{
	memset(&sink, 0, sizeof(sink));
	assert_int_equal(ns_udp_bind(fx->s, SINK_PORT, ut_udp_sink_fn, &sink), 0);
}

/* A UDP datagram to SINK_PORT whose payload byte i is (i * 7 + seed). */
static size_t make_udp(uint8_t *l4, size_t len, uint8_t seed)
{
	static uint8_t data[70000];

	for (size_t i = 0; i < len; i++)
		data[i] = (uint8_t)(i * 7 + seed);
	return ut_udp(l4, ut_ip_peer, ut_ip_us, 4000, SINK_PORT, data, len);
}

static void assert_sink_got(size_t len, uint8_t seed)
{
	assert_int_equal(sink.count, 1);
	assert_int_equal(sink.len, len);
	for (size_t i = 0; i < len; i++)
		if (sink.data[i] != (uint8_t)(i * 7 + seed))
			fail_msg("payload byte %zu differs", i);
}

/* Feeds the fragment [OFF, OFF+LEN) of the L4 datagram. */
static void frag(ut_fx_t *fx, uint16_t id, const uint8_t *l4, size_t off, size_t len, bool more,
		 uint8_t proto)
{
	size_t n = ut_ipv4(frame, ut_ip_peer, ut_ip_us, proto, id,
			   (uint16_t)((off / 8) | (more ? MF : 0)), l4 + off, len);

	ut_input(fx->s, frame, n);
}

/* ---- header validation ---- */

typedef struct bad_hdr_row {
	const char *what;
	void (*mangle)(uint8_t *f, size_t *len);
	bool fix_csum;   /* recompute the header checksum after mangling */
	int counter;     /* 0 bad_header, 1 bad_csum, 2 not_for_us */
} bad_hdr_row_t;

static struct rte_ipv4_hdr *hdr(uint8_t *f)
{
	return (struct rte_ipv4_hdr *)(f + ETH);
}

static void m_version6(uint8_t *f, size_t *len) { (void)len; hdr(f)->version_ihl = 0x65; }
static void m_ihl4(uint8_t *f, size_t *len) { (void)len; hdr(f)->version_ihl = 0x44; }
static void m_ihl15(uint8_t *f, size_t *len) { (void)len; hdr(f)->version_ihl = 0x4f; }
static void m_totlen_lies(uint8_t *f, size_t *len)
{
	hdr(f)->total_length = rte_cpu_to_be_16((uint16_t)(*len - ETH + 1));
}
static void m_totlen_short(uint8_t *f, size_t *len)
{
	(void)len;
	hdr(f)->total_length = rte_cpu_to_be_16(19);
}
static void m_truncated(uint8_t *f, size_t *len) { (void)f; *len = ETH + 19; }
static void m_csum(uint8_t *f, size_t *len) { (void)len; hdr(f)->hdr_checksum ^= 0x0100; }
static void m_src_mcast(uint8_t *f, size_t *len)
{
	(void)len;
	hdr(f)->src_addr = UT_IP(224, 0, 0, 5);
}
static void m_src_bcast(uint8_t *f, size_t *len) { (void)len; hdr(f)->src_addr = ut_ip_bcast; }
static void m_src_us(uint8_t *f, size_t *len) { (void)len; hdr(f)->src_addr = ut_ip_us; }
static void m_src_loop(uint8_t *f, size_t *len)
{
	(void)len;
	hdr(f)->src_addr = UT_IP(127, 0, 0, 1);
}
static void m_src_zero(uint8_t *f, size_t *len) { (void)len; hdr(f)->src_addr = 0; }
static void m_dst_other(uint8_t *f, size_t *len)
{
	(void)len;
	hdr(f)->dst_addr = UT_IP(198, 18, 0, 3);
}
static void m_dst_mcast(uint8_t *f, size_t *len)
{
	(void)len;
	hdr(f)->dst_addr = UT_IP(224, 0, 0, 1);
}

static const bad_hdr_row_t bad_hdr_rows[] = {
	{"version 6", m_version6, true, 0},
	{"IHL 4", m_ihl4, true, 0},
	{"IHL 15 past the frame", m_ihl15, true, 0},
	{"total length longer than the frame", m_totlen_lies, true, 0},
	{"total length shorter than the header", m_totlen_short, true, 0},
	{"frame shorter than a header", m_truncated, false, 0},
	{"bad header checksum", m_csum, false, 1},
	{"multicast source", m_src_mcast, true, 0},
	{"broadcast source", m_src_bcast, true, 0},
	{"our own address as source", m_src_us, true, 0},
	{"loopback source", m_src_loop, true, 0},
	{"zero source", m_src_zero, true, 0},
	{"another host's destination", m_dst_other, true, 2},
	{"multicast destination", m_dst_mcast, true, 2},
};

static void test_bad_headers_are_dropped_and_counted(void **state)
{
	ut_fx_t *fx = *state;

	ut_learn(fx->s, &fx->cap, ut_mac_peer, ut_ip_peer);
	for (size_t i = 0; i < sizeof(bad_hdr_rows) / sizeof(bad_hdr_rows[0]); i++) {
		const bad_hdr_row_t *r = &bad_hdr_rows[i];
		uint8_t l4[64];
		size_t n = ut_ipv4(frame, ut_ip_peer, ut_ip_us, IPPROTO_ICMP, 1, 0, l4,
				   ut_icmp_echo(l4, 1, 1, "hello", 5));
		ns_stats_t a = ut_stats(fx->s), b;

		r->mangle(frame, &n);
		if (r->fix_csum) {
			hdr(frame)->hdr_checksum = 0;
			hdr(frame)->hdr_checksum = (uint16_t)~rte_raw_cksum(hdr(frame), 20);
		}
		ut_input(fx->s, frame, n);
		b = ut_stats(fx->s);
		if (fx->cap.n != 0 || b.icmp_rx != a.icmp_rx)
			fail_msg("row '%s' was delivered", r->what);
		if ((r->counter == 0 && b.ip_rx_bad_header != a.ip_rx_bad_header + 1) ||
		    (r->counter == 1 && b.ip_rx_bad_csum != a.ip_rx_bad_csum + 1) ||
		    (r->counter == 2 && b.ip_rx_not_for_us != a.ip_rx_not_for_us + 1))
			fail_msg("row '%s' not counted", r->what);
	}
}

static void test_good_echo_with_options_and_padding_is_answered(void **state)
{
	ut_fx_t *fx = *state;
	uint8_t l4[64];
	size_t l4_len = ut_icmp_echo(l4, 1, 1, "hi", 2), n;
	struct rte_ipv4_hdr *ip;
	struct rte_mbuf *m;

	ut_learn(fx->s, &fx->cap, ut_mac_peer, ut_ip_peer);
	/* IHL 6: one word of NOP options, then padding past total length. */
	n = ut_eth(frame, ut_mac_us, ut_mac_peer, RTE_ETHER_TYPE_IPV4);
	ip = hdr(frame);
	memset(ip, 0, 24);
	ip->version_ihl = 0x46;
	ip->total_length = rte_cpu_to_be_16((uint16_t)(24 + l4_len));
	ip->time_to_live = 1;
	ip->next_proto_id = IPPROTO_ICMP;
	ip->src_addr = ut_ip_peer;
	ip->dst_addr = ut_ip_us;
	memset((uint8_t *)ip + 20, 1, 4);
	ip->hdr_checksum = (uint16_t)~rte_raw_cksum(ip, 24);
	memcpy((uint8_t *)ip + 24, l4, l4_len);
	n += 24 + l4_len;
	memset(frame + n, 0xee, 20);
	ut_input(fx->s, frame, n + 20);
	m = ut_cap_take(&fx->cap);
	assert_non_null(m);
	{
		size_t len;
		const uint8_t *r = ut_l4_of(m, &len);

		assert_int_equal(len, l4_len);
		assert_int_equal(r[0], RTE_IP_ICMP_ECHO_REPLY);
		assert_memory_equal(r + 8, "hi", 2);
	}
	rte_pktmbuf_free(m);
}

static void test_broadcast_echo_is_ignored_but_udp_broadcast_delivered(void **state)
{
	ut_fx_t *fx = *state;
	uint8_t l4[64];

	bind_sink(fx);
	ut_input(fx->s, frame,
		 ut_ipv4(frame, ut_ip_peer, ut_ip_bcast, IPPROTO_ICMP, 1, 0, l4,
			 ut_icmp_echo(l4, 1, 1, "x", 1)));
	ut_input(fx->s, frame,
		 ut_ipv4(frame, ut_ip_peer, 0xffffffffu, IPPROTO_ICMP, 1, 0, l4,
			 ut_icmp_echo(l4, 1, 1, "x", 1)));
	assert_int_equal(fx->cap.n, 0);
	ut_input(fx->s, frame,
		 ut_ipv4(frame, ut_ip_peer, ut_ip_bcast, IPPROTO_UDP, 1, 0, l4,
			 ut_udp(l4, ut_ip_peer, ut_ip_bcast, 1, SINK_PORT, "b", 1)));
	assert_int_equal(sink.count, 1);
	/* No port unreachable for a broadcast to a closed port. */
	ut_input(fx->s, frame,
		 ut_ipv4(frame, ut_ip_peer, ut_ip_bcast, IPPROTO_UDP, 1, 0, l4,
			 ut_udp(l4, ut_ip_peer, ut_ip_bcast, 1, 9, "b", 1)));
	assert_int_equal(fx->cap.n, 0);
	assert_int_equal(ut_stats(fx->s).udp_rx_no_port, 1);
}

static void test_tcp_to_broadcast_is_dropped(void **state)
{
	ut_fx_t *fx = *state;
	uint8_t l4[20] = {0};

	ut_input(fx->s, frame, ut_ipv4(frame, ut_ip_peer, ut_ip_bcast, IPPROTO_TCP, 1, 0, l4, 20));
	assert_int_equal(ut_stats(fx->s).ip_rx_not_for_us, 1);
}

/* ---- output ---- */

static void test_tcp_output_sets_df_and_refuses_oversize(void **state)
{
	ut_fx_t *fx = *state;
	struct rte_mbuf *m;

	ut_learn(fx->s, &fx->cap, ut_mac_peer, ut_ip_peer);
	m = ns_pkt_alloc(fx->s);
	memset(rte_pktmbuf_append(m, 20), 0, 20);
	assert_int_equal(ns_ipv4_output(fx->s, m, ut_ip_peer, IPPROTO_TCP), 0);
	m = ut_cap_take(&fx->cap);
	assert_non_null(m);
	assert_int_equal(rte_be_to_cpu_16(ut_ip_of(m)->fragment_offset), RTE_IPV4_HDR_DF_FLAG);
	assert_int_equal(ut_ip_of(m)->next_proto_id, IPPROTO_TCP);
	assert_int_equal(ut_ip_of(m)->time_to_live, 64);
	rte_pktmbuf_free(m);

	m = ns_pkt_alloc(fx->s);
	memset(rte_pktmbuf_append(m, 1481), 0, 1481);
	assert_int_equal(ns_ipv4_output(fx->s, m, ut_ip_peer, IPPROTO_TCP), SL_EINVAL);
	assert_int_equal(fx->cap.n, 0);
}

/* Checks that the captured frames are the fragments of one UDP datagram of
 * PAYLOAD bytes (seeded as make_udp does) with pieces of at most MAXFRAG. */
static void assert_fragments(ut_fx_t *fx, size_t payload, size_t maxfrag, unsigned nfrags)
{
	size_t total = payload + 8, got = 0;
	uint16_t id = 0;

	assert_int_equal(fx->cap.n, nfrags);
	for (unsigned i = 0; i < nfrags; i++) {
		struct rte_mbuf *m = ut_cap_take(&fx->cap);
		const struct rte_ipv4_hdr *ip = ut_ip_of(m);
		uint16_t fo = rte_be_to_cpu_16(ip->fragment_offset);
		size_t len;
		const uint8_t *p = ut_l4_of(m, &len);

		if (i == 0)
			id = ip->packet_id;
		assert_int_equal(ip->packet_id, id);
		assert_int_equal((fo & RTE_IPV4_HDR_OFFSET_MASK) * 8, got);
		assert_int_equal(!!(fo & MF), i + 1 < nfrags);
		assert_true(len <= maxfrag);
		if (i + 1 < nfrags)
			assert_int_equal(len % 8, 0);
		memcpy(l4buf + got, p, len);
		got += len;
		rte_pktmbuf_free(m);
	}
	assert_int_equal(got, total);
	assert_int_equal(ns_ipv4_l4_cksum(ut_ip_us, ut_ip_peer, IPPROTO_UDP, l4buf, (uint16_t)got), 0);
	for (size_t i = 0; i < payload; i++)
		if (l4buf[8 + i] != (uint8_t)(i * 7 + 3))
			fail_msg("byte %zu of the refragmented payload differs", i);
}

typedef struct frag_out_row {
	uint16_t mtu;
	size_t payload;
	size_t maxfrag;
	unsigned nfrags;
} frag_out_row_t;

static const frag_out_row_t frag_out_rows[] = {
	{1500, 1472, 1480, 1},    /* exactly the MTU */
	{1500, 1473, 1480, 2},    /* one byte over */
	{1500, 3000, 1480, 3},
	{576, 1000, 552, 2},
	{68, 100, 48, 3},
	{9000, 5000, 2040, 3},    /* MTU above what a 2 KB mbuf holds */
	{1500, 65507, 1480, 45},  /* the largest UDP datagram */
};

static void test_udp_output_is_fragmented_to_the_mtu(void **state)
{
	ut_fx_t *fx = *state;
	static uint8_t data[65507];

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7 + 3);
	for (size_t i = 0; i < sizeof(frag_out_rows) / sizeof(frag_out_rows[0]); i++) {
		const frag_out_row_t *r = &frag_out_rows[i];

		fx->p.mtu = r->mtu;
		ut_fx_restart(fx);
		ut_learn(fx->s, &fx->cap, ut_mac_peer, ut_ip_peer);
		assert_int_equal(ns_udp_sendto(fx->s, 4000, ut_ip_peer, SINK_PORT, data, r->payload),
				 0);
		assert_fragments(fx, r->payload, r->maxfrag, r->nfrags);
	}
	assert_int_equal(ns_udp_sendto(fx->s, 4000, ut_ip_peer, SINK_PORT, data, 65508), SL_EINVAL);
}

/* ---- reassembly ---- */

typedef struct piece {
	size_t off, len;
	bool more;
} piece_t;

typedef struct reasm_row {
	const char *what;
	size_t payload;        /* UDP payload; the L4 datagram is 8 more */
	piece_t p[8];
	unsigned n;
	bool delivered;
	uint64_t dup, bad;
} reasm_row_t;

static const reasm_row_t reasm_rows[] = {
	{"in order, fits one mbuf", 1000, {{0, 504, true}, {504, 504, false}}, 2, true, 0, 0},
	{"in order, larger than an mbuf", 3992,
	 {{0, 1480, true}, {1480, 1480, true}, {2960, 1040, false}}, 3, true, 0, 0},
	{"reverse order", 3992, {{2960, 1040, false}, {1480, 1480, true}, {0, 1480, true}}, 3, true,
	 0, 0},
	{"last first, then first, then middle", 2392,
	 {{1600, 800, false}, {0, 800, true}, {800, 800, true}}, 3, true, 0, 0},
	{"exact duplicates are ignored", 2392,
	 {{0, 800, true}, {0, 800, true}, {1600, 800, false}, {1600, 800, false}, {800, 800, true}},
	 5, true, 2, 0},
	{"overlap with the previous fragment", 2392, {{0, 800, true}, {400, 800, true}}, 2, false, 0,
	 1},
	{"overlap with the next fragment", 2392, {{800, 800, true}, {0, 808, true}}, 2, false, 0, 1},
	{"fragment inside another", 2392, {{0, 1600, true}, {800, 400, true}}, 2, false, 0, 1},
	{"same offset, different length", 2392, {{0, 800, true}, {0, 1600, true}}, 2, false, 0, 1},
	{"data beyond a later last fragment", 2392, {{800, 800, true}, {408, 592, false}}, 2, false,
	 0, 1},
	{"two different last fragments", 2392, {{1600, 800, false}, {1600, 808, false}}, 2, false, 0,
	 1},
	{"middle fragment not a multiple of 8", 2392, {{0, 804, true}}, 1, false, 0, 1},
	{"fragment past 64 KB", 100, {{65528, 16, false}}, 1, false, 0, 1},
	{"empty fragment", 100, {{0, 0, true}}, 1, false, 0, 1},
};

static void test_reassembly_table(void **state)
{
	ut_fx_t *fx = *state;

	for (size_t i = 0; i < sizeof(reasm_rows) / sizeof(reasm_rows[0]); i++) {
		const reasm_row_t *r = &reasm_rows[i];
		ns_stats_t st;

		ut_fx_restart(fx);
		bind_sink(fx);
		make_udp(l4buf, r->payload, (uint8_t)i);
		for (unsigned k = 0; k < r->n; k++)
			frag(fx, (uint16_t)(100 + i), l4buf, r->p[k].off, r->p[k].len, r->p[k].more,
			     IPPROTO_UDP);
		st = ut_stats(fx->s);
		if ((sink.count == 1) != r->delivered)
			fail_msg("row '%s': delivered %u times", r->what, sink.count);
		if (r->delivered)
			assert_sink_got(r->payload, (uint8_t)i);
		if (st.ip_frag_dup != r->dup || st.ip_reasm_drop_bad != r->bad)
			fail_msg("row '%s': dup %lu bad %lu", r->what, (unsigned long)st.ip_frag_dup,
				 (unsigned long)st.ip_reasm_drop_bad);
		assert_int_equal(st.ip_reasm_ok, r->delivered ? 1 : 0);
		assert_int_equal(st.ip_frag_rx, r->n);
		assert_int_equal(fx->cap.n, 0);
	}
}

static void test_overlap_drops_the_whole_datagram(void **state)
{
	ut_fx_t *fx = *state;

	bind_sink(fx);
	make_udp(l4buf, 2392, 1);
	frag(fx, 9, l4buf, 0, 800, true, IPPROTO_UDP);
	frag(fx, 9, l4buf, 400, 800, true, IPPROTO_UDP);
	/* The rest arrives; what was held is gone, so nothing completes. */
	frag(fx, 9, l4buf, 800, 800, true, IPPROTO_UDP);
	frag(fx, 9, l4buf, 1600, 800, false, IPPROTO_UDP);
	assert_int_equal(sink.count, 0);
	assert_int_equal(ut_stats(fx->s).ip_reasm_drop_bad, 1);
}

static void test_reassembly_times_out(void **state)
{
	ut_fx_t *fx = *state;

	fx->p.reasm_timeout_us = 2 * SL_US_PER_S;
	ut_fx_restart(fx);
	bind_sink(fx);
	make_udp(l4buf, 2392, 1);
	frag(fx, 9, l4buf, 0, 800, true, IPPROTO_UDP);
	frag(fx, 9, l4buf, 1600, 800, false, IPPROTO_UDP);
	ns_stack_poll(fx->s, UT_T0 + 2 * SL_US_PER_S - 1000);
	assert_int_equal(ut_stats(fx->s).ip_reasm_timeout, 0);
	ns_stack_poll(fx->s, UT_T0 + 2 * SL_US_PER_S);
	assert_int_equal(ut_stats(fx->s).ip_reasm_timeout, 1);
	/* The middle alone starts a new datagram; it does not complete. */
	frag(fx, 9, l4buf, 800, 800, true, IPPROTO_UDP);
	assert_int_equal(sink.count, 0);
	assert_int_equal(ns_stack_next_deadline(fx->s) > UT_T0 + 2 * SL_US_PER_S, true);
}

static void test_reassembly_memory_limit_evicts_oldest(void **state)
{
	ut_fx_t *fx = *state;
	uint32_t truesize = rte_pktmbuf_data_room_size(ut_pool());

	/* Room for three fragments. */
	fx->p.reasm_mem_max = 3 * truesize;
	ut_fx_restart(fx);
	bind_sink(fx);
	make_udp(l4buf, 2392, 5);
	for (uint16_t id = 1; id <= 3; id++)
		frag(fx, id, l4buf, 0, 800, true, IPPROTO_UDP);
	assert_int_equal(ut_stats(fx->s).ip_reasm_drop_mem, 0);
	/* A fourth fragment pushes out datagram 1. */
	frag(fx, 4, l4buf, 0, 800, true, IPPROTO_UDP);
	assert_int_equal(ut_stats(fx->s).ip_reasm_drop_mem, 1);
	/* Datagram 4 completes by evicting 2 and 3 along the way. */
	frag(fx, 4, l4buf, 800, 800, true, IPPROTO_UDP);
	frag(fx, 4, l4buf, 1600, 800, false, IPPROTO_UDP);
	assert_int_equal(ut_stats(fx->s).ip_reasm_drop_mem, 3);
	assert_sink_got(2392, 5);
}

static void test_datagram_larger_than_memory_limit_is_dropped(void **state)
{
	ut_fx_t *fx = *state;
	uint32_t truesize = rte_pktmbuf_data_room_size(ut_pool());

	fx->p.reasm_mem_max = 2 * truesize;
	ut_fx_restart(fx);
	bind_sink(fx);
	make_udp(l4buf, 2392, 5);
	frag(fx, 1, l4buf, 0, 800, true, IPPROTO_UDP);
	frag(fx, 1, l4buf, 800, 800, true, IPPROTO_UDP);
	frag(fx, 1, l4buf, 1600, 800, false, IPPROTO_UDP);
	assert_int_equal(sink.count, 0);
	assert_int_equal(ut_stats(fx->s).ip_reasm_drop_mem, 1);
}

static void test_too_many_datagrams_in_progress_evicts_oldest(void **state)
{
	ut_fx_t *fx = *state;

	bind_sink(fx);
	make_udp(l4buf, 2392, 5);
	for (uint16_t id = 1; id <= 200; id++)
		frag(fx, id, l4buf, 0, 800, true, IPPROTO_UDP);
	assert_int_equal(ut_stats(fx->s).ip_reasm_drop_mem, 200 - 128);
	/* The newest ones are still there. */
	frag(fx, 200, l4buf, 800, 1600, false, IPPROTO_UDP);
	assert_sink_got(2392, 5);
}

static void test_unknown_protocol_fragments_are_not_held(void **state)
{
	ut_fx_t *fx = *state;

	make_udp(l4buf, 2392, 5);
	frag(fx, 1, l4buf, 0, 800, true, 99);
	frag(fx, 1, l4buf, 800, 800, true, 99);
	assert_int_equal(ut_stats(fx->s).ip_rx_unknown_proto, 2);
	assert_int_equal(ut_stats(fx->s).ip_frag_rx, 0);
}

static void test_largest_datagram_reassembles(void **state)
{
	ut_fx_t *fx = *state;
	size_t payload = 65507, total = payload + 8;

	bind_sink(fx);
	make_udp(l4buf, payload, 9);
	for (size_t off = 0; off < total; off += 1480)
		frag(fx, 77, l4buf, off, RTE_MIN((size_t)1480, total - off), off + 1480 < total,
		     IPPROTO_UDP);
	assert_sink_got(payload, 9);
}

#define T(f) cmocka_unit_test_setup_teardown(f, ut_fx_setup, ut_fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_bad_headers_are_dropped_and_counted),
		T(test_good_echo_with_options_and_padding_is_answered),
		T(test_broadcast_echo_is_ignored_but_udp_broadcast_delivered),
		T(test_tcp_to_broadcast_is_dropped),
		T(test_tcp_output_sets_df_and_refuses_oversize),
		T(test_udp_output_is_fragmented_to_the_mtu),
		T(test_reassembly_table),
		T(test_overlap_drops_the_whole_datagram),
		T(test_reassembly_times_out),
		T(test_reassembly_memory_limit_evicts_oldest),
		T(test_datagram_larger_than_memory_limit_is_dropped),
		T(test_too_many_datagrams_in_progress_evicts_oldest),
		T(test_unknown_protocol_fragments_are_not_held),
		T(test_largest_datagram_reassembles),
	};

	ut_eal_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
