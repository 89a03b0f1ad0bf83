/* test_icmp_udp - ICMP echo (plain and fragmented), unreachables out (port,
 * protocol, the never-about rules, rate limit) and in; UDP sockets,
 * checksums and an echo service. */
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

static uint8_t frame[70000];
static uint8_t l4buf[70000];
static uint8_t data[70000];
static uint8_t got[70000];

static void fill(size_t len, uint8_t seed)
{
	for (size_t i = 0; i < len; i++)
		data[i] = (uint8_t)(i * 13 + seed);
}

static int fx_setup_learnt(void **state)
{
	ut_fx_t *fx;

	ut_fx_setup(state);
	fx = *state;
	ut_learn(fx->s, &fx->cap, ut_mac_peer, ut_ip_peer);
	return 0;
}

/* Feeds an L4 datagram of LEN bytes from the peer, in fragments of at most
 * FRAGSZ (0 = unfragmented). */
static void send_l4(ut_fx_t *fx, uint8_t proto, const uint8_t *l4, size_t len, size_t fragsz,
		    uint16_t id)
{
	if (fragsz == 0) {
		ut_input(fx->s, frame, ut_ipv4(frame, ut_ip_peer, ut_ip_us, proto, id, 0, l4, len));
		return;
	}
	for (size_t off = 0; off < len; off += fragsz) {
		size_t n = RTE_MIN(fragsz, len - off);

		ut_input(fx->s, frame,
			 ut_ipv4(frame, ut_ip_peer, ut_ip_us, proto, id,
				 (uint16_t)((off / 8) | (off + n < len ? MF : 0)), l4 + off, n));
	}
}

/* Collects the captured frames as the fragments of one datagram to the
 * peer; returns its L4 length, with the L4 bytes in GOT. */
static size_t collect(ut_fx_t *fx, uint8_t proto)
{
	size_t total = 0, end = 0;
	struct rte_mbuf *m;

	while ((m = ut_cap_take(&fx->cap)) != NULL) {
		const struct rte_ipv4_hdr *ip = ut_ip_of(m);
		uint16_t fo = rte_be_to_cpu_16(ip->fragment_offset);
		size_t len, off = (size_t)(fo & RTE_IPV4_HDR_OFFSET_MASK) * 8;
		const uint8_t *p = ut_l4_of(m, &len);

		assert_memory_equal(ut_eth_dst(m), ut_mac_peer, 6);
		assert_int_equal(ip->dst_addr, ut_ip_peer);
		assert_int_equal(ip->next_proto_id, proto);
		memcpy(got + off, p, len);
		total += len;
		if (!(fo & MF))
			end = off + len;
		rte_pktmbuf_free(m);
	}
	assert_int_equal(total, end);
	return total;
}

/* ---- echo ---- */

typedef struct echo_row {
	size_t data;    /* echo payload bytes */
	size_t fragsz;  /* how the request arrives; 0 = whole */
	unsigned reply_frames;
} echo_row_t;

static const echo_row_t echo_rows[] = {
	{0, 0, 1},
	{56, 0, 1},
	{1472, 0, 1},       /* a full-MTU ping */
	{1000, 504, 1},     /* fragmented in, fits one mbuf, one frame out */
	{4000, 1480, 3},    /* fragmented in and out, from the scratch buffer */
	{65507, 1480, 45},  /* the largest echo there is */
};

static void test_echo_is_answered_at_every_size(void **state)
{
	ut_fx_t *fx = *state;

	for (size_t i = 0; i < sizeof(echo_rows) / sizeof(echo_rows[0]); i++) {
		const echo_row_t *r = &echo_rows[i];
		size_t len, n;
		const struct rte_icmp_hdr *ih = (const struct rte_icmp_hdr *)got;

		fill(r->data, (uint8_t)i);
		len = ut_icmp_echo(l4buf, 0x1234, (uint16_t)i, data, r->data);
		send_l4(fx, IPPROTO_ICMP, l4buf, len, r->fragsz, (uint16_t)(50 + i));
		assert_int_equal(fx->cap.n, r->reply_frames);
		n = collect(fx, IPPROTO_ICMP);
		assert_int_equal(n, len);
		assert_int_equal(ih->icmp_type, RTE_IP_ICMP_ECHO_REPLY);
		assert_int_equal(ih->icmp_code, 0);
		assert_int_equal(rte_be_to_cpu_16(ih->icmp_ident), 0x1234);
		assert_int_equal(rte_be_to_cpu_16(ih->icmp_seq_nb), i);
		assert_int_equal(rte_raw_cksum(got, n), 0xffff);
		assert_memory_equal(got + 8, data, r->data);
	}
	assert_int_equal(ut_stats(fx->s).icmp_echo_replies, sizeof(echo_rows) / sizeof(echo_rows[0]));
}

static void test_bad_icmp_is_dropped(void **state)
{
	ut_fx_t *fx = *state;
	size_t len = ut_icmp_echo(l4buf, 1, 1, "abcd", 4);

	l4buf[9] ^= 1;
	send_l4(fx, IPPROTO_ICMP, l4buf, len, 0, 1);
	assert_int_equal(ut_stats(fx->s).icmp_rx_bad_csum, 1);
	send_l4(fx, IPPROTO_ICMP, l4buf, 7, 0, 2);
	assert_int_equal(ut_stats(fx->s).icmp_rx_bad, 1);
	assert_int_equal(fx->cap.n, 0);
}

/* ---- unreachables out ---- */

static const struct rte_icmp_hdr *assert_unreach(ut_fx_t *fx, uint8_t code, const uint8_t *orig,
						 size_t orig_len)
{
	size_t len;
	struct rte_mbuf *m = ut_cap_take(&fx->cap);
	const uint8_t *p;
	static uint8_t copy[600];

	assert_non_null(m);
	p = ut_l4_of(m, &len);
	assert_int_equal(ut_ip_of(m)->dst_addr, ut_ip_peer);
	assert_int_equal(p[0], 3);
	assert_int_equal(p[1], code);
	assert_int_equal(rte_raw_cksum(p, len), 0xffff);
	assert_int_equal(len, 8 + RTE_MIN(orig_len, (size_t)548));
	assert_memory_equal(p + 8, orig, len - 8);
	memcpy(copy, p, len);
	rte_pktmbuf_free(m);
	return (const struct rte_icmp_hdr *)copy;
}

static void test_closed_port_gets_port_unreachable(void **state)
{
	ut_fx_t *fx = *state;
	size_t len = ut_udp(l4buf, ut_ip_peer, ut_ip_us, 1234, 9, "ping", 4);
	size_t n = ut_ipv4(frame, ut_ip_peer, ut_ip_us, IPPROTO_UDP, 3, 0, l4buf, len);

	ut_input(fx->s, frame, n);
	assert_unreach(fx, 3, frame + ETH, n - ETH);
	assert_int_equal(ut_stats(fx->s).udp_rx_no_port, 1);
	assert_int_equal(ut_stats(fx->s).icmp_unreach_tx, 1);
}

static void test_large_datagram_to_closed_port_quotes_576_bytes(void **state)
{
	ut_fx_t *fx = *state;
	size_t len, n;

	fill(1400, 1);
	len = ut_udp(l4buf, ut_ip_peer, ut_ip_us, 1234, 9, data, 1400);
	n = ut_ipv4(frame, ut_ip_peer, ut_ip_us, IPPROTO_UDP, 3, 0, l4buf, len);
	ut_input(fx->s, frame, n);
	assert_unreach(fx, 3, frame + ETH, n - ETH);
}

static void test_unknown_protocol_gets_protocol_unreachable(void **state)
{
	ut_fx_t *fx = *state;
	size_t n = ut_ipv4(frame, ut_ip_peer, ut_ip_us, 99, 3, 0, "whatever", 8);

	ut_input(fx->s, frame, n);
	assert_unreach(fx, 2, frame + ETH, n - ETH);
	assert_int_equal(ut_stats(fx->s).ip_rx_unknown_proto, 1);
	/* A non-first fragment of it gets nothing (RFC 1122 §3.2.2). */
	ut_input(fx->s, frame, ut_ipv4(frame, ut_ip_peer, ut_ip_us, 99, 4, 100, "whatever", 8));
	assert_int_equal(fx->cap.n, 0);
	assert_int_equal(ut_stats(fx->s).ip_rx_unknown_proto, 2);
}

/* Datagrams about which no error may be sent, fed straight to
 * ns_icmp_send_unreach. */
typedef struct never_row {
	const char *what;
	uint8_t proto;
	uint8_t l4_first;   /* first L4 byte (the ICMP type) */
	uint16_t frag;
	uint32_t src, dst;
} never_row_t;

static void test_never_errors_about_errors_broadcasts_or_later_fragments(void **state)
{
	ut_fx_t *fx = *state;
	const never_row_t rows[] = {
		{"ICMP unreachable", IPPROTO_ICMP, 3, 0, ut_ip_peer, ut_ip_us},
		{"ICMP time exceeded", IPPROTO_ICMP, 11, 0, ut_ip_peer, ut_ip_us},
		{"ICMP of unknown type", IPPROTO_ICMP, 200, 0, ut_ip_peer, ut_ip_us},
		{"non-first fragment", IPPROTO_UDP, 0, 1, ut_ip_peer, ut_ip_us},
		{"limited broadcast", IPPROTO_UDP, 0, 0, ut_ip_peer, 0xffffffffu},
		{"subnet broadcast", IPPROTO_UDP, 0, 0, ut_ip_peer, ut_ip_bcast},
		{"multicast", IPPROTO_UDP, 0, 0, ut_ip_peer, UT_IP(224, 0, 0, 9)},
		{"broadcast source", IPPROTO_UDP, 0, 0, ut_ip_bcast, ut_ip_us},
		{"zero source", IPPROTO_UDP, 0, 0, 0, ut_ip_us},
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		uint8_t buf[64] = {0};
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)buf;

		ip->version_ihl = 0x45;
		ip->total_length = rte_cpu_to_be_16(28);
		ip->fragment_offset = rte_cpu_to_be_16(rows[i].frag);
		ip->next_proto_id = rows[i].proto;
		ip->src_addr = rows[i].src;
		ip->dst_addr = rows[i].dst;
		buf[20] = rows[i].l4_first;
		ns_icmp_send_unreach(fx->s, ip, 28, 3);
		if (fx->cap.n != 0)
			fail_msg("an error was sent about: %s", rows[i].what);
	}
	/* ...but an echo request is a query, so it may get one. */
	{
		uint8_t buf[64] = {0};
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)buf;

		ip->version_ihl = 0x45;
		ip->next_proto_id = IPPROTO_ICMP;
		ip->src_addr = ut_ip_peer;
		ip->dst_addr = ut_ip_us;
		buf[20] = 8;
		ns_icmp_send_unreach(fx->s, ip, 28, 3);
		assert_int_equal(fx->cap.n, 1);
	}
}

static void test_errors_are_rate_limited_by_token_bucket(void **state)
{
	ut_fx_t *fx = *state;
	size_t len = ut_udp(l4buf, ut_ip_peer, ut_ip_us, 1234, 9, "x", 1);

	for (unsigned i = 0; i < NS_ICMP_ERR_BURST + 10; i++)
		send_l4(fx, IPPROTO_UDP, l4buf, len, 0, (uint16_t)i);
	assert_int_equal(fx->cap.n, NS_ICMP_ERR_BURST);
	assert_int_equal(ut_stats(fx->s).icmp_unreach_ratelimited, 10);
	ut_cap_clear(&fx->cap);
	/* 100 ms refill NS_ICMP_ERR_RATE / 10 tokens. */
	ns_stack_poll(fx->s, UT_T0 + 100 * SL_US_PER_MS);
	for (unsigned i = 0; i < NS_ICMP_ERR_RATE / 10 + 1; i++)
		send_l4(fx, IPPROTO_UDP, l4buf, len, 0, (uint16_t)i);
	assert_int_equal(fx->cap.n, NS_ICMP_ERR_RATE / 10);
	assert_int_equal(ut_stats(fx->s).icmp_unreach_ratelimited, 11);
	ut_cap_clear(&fx->cap);
	/* A long idle period refills to the burst, no more. */
	ns_stack_poll(fx->s, UT_T0 + 3600 * SL_US_PER_S);
	ut_learn(fx->s, &fx->cap, ut_mac_peer, ut_ip_peer);
	ut_cap_clear(&fx->cap); /* the ARP probe of the aged entry */
	for (unsigned i = 0; i < NS_ICMP_ERR_BURST + 1; i++)
		send_l4(fx, IPPROTO_UDP, l4buf, len, 0, (uint16_t)i);
	assert_int_equal(fx->cap.n, NS_ICMP_ERR_BURST);
}

/* ---- unreachables in ---- */

static size_t make_unreach(uint8_t *l4, uint8_t code, uint8_t inner_proto, uint32_t inner_src,
			   size_t quote)
{
	struct rte_icmp_hdr *ih = (struct rte_icmp_hdr *)l4;
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(ih + 1);

	memset(l4, 0, 8 + quote);
	ih->icmp_type = 3;
	ih->icmp_code = code;
	ip->version_ihl = 0x45;
	ip->total_length = rte_cpu_to_be_16(40);
	ip->next_proto_id = inner_proto;
	ip->src_addr = inner_src;
	ip->dst_addr = ut_ip_peer;
	ih->icmp_cksum = (uint16_t)~rte_raw_cksum(l4, 8 + quote);
	return 8 + quote;
}

static void test_unreachable_input_is_validated(void **state)
{
	ut_fx_t *fx = *state;
	size_t n;

	/* Well formed, about a TCP segment of ours: handed to TCP. */
	n = make_unreach(l4buf, 3, IPPROTO_TCP, ut_ip_us, 28);
	send_l4(fx, IPPROTO_ICMP, l4buf, n, 0, 1);
	assert_int_equal(ut_stats(fx->s).icmp_unreach_rx, 1);
	assert_int_equal(ut_stats(fx->s).icmp_rx_bad, 0);
	/* Quote too short for the 8 L4 bytes RFC 792 promises. */
	n = make_unreach(l4buf, 3, IPPROTO_TCP, ut_ip_us, 24);
	send_l4(fx, IPPROTO_ICMP, l4buf, n, 0, 2);
	assert_int_equal(ut_stats(fx->s).icmp_rx_bad, 1);
	/* About a datagram somebody else sent. */
	n = make_unreach(l4buf, 3, IPPROTO_TCP, ut_ip_gw, 28);
	send_l4(fx, IPPROTO_ICMP, l4buf, n, 0, 3);
	assert_int_equal(ut_stats(fx->s).icmp_rx_bad, 2);
	/* About UDP: accepted, nobody to tell. */
	n = make_unreach(l4buf, 3, IPPROTO_UDP, ut_ip_us, 28);
	send_l4(fx, IPPROTO_ICMP, l4buf, n, 0, 4);
	assert_int_equal(ut_stats(fx->s).icmp_unreach_rx, 4);
	assert_int_equal(ut_stats(fx->s).icmp_rx_bad, 2);
	assert_int_equal(fx->cap.n, 0);
}

/* ---- UDP ---- */

static void test_bind_rules(void **state)
{
	ut_fx_t *fx = *state;
	ut_udp_sink_t *k = NULL;

	assert_int_equal(ns_udp_bind(fx->s, 53, ut_udp_sink_fn, k), 0);
	assert_int_equal(ns_udp_bind(fx->s, 53, ut_udp_sink_fn, k), SL_EADDRINUSE);
	assert_int_equal(ns_udp_bind(fx->s, 0, ut_udp_sink_fn, k), SL_EINVAL);
	assert_int_equal(ns_udp_bind(fx->s, 54, NULL, k), SL_EINVAL);
	assert_int_equal(ns_udp_unbind(fx->s, 55), SL_ENOENT);
	assert_int_equal(ns_udp_unbind(fx->s, 53), 0);
	assert_int_equal(ns_udp_unbind(fx->s, 53), SL_ENOENT);
	assert_int_equal(ns_udp_bind(fx->s, 53, ut_udp_sink_fn, k), 0);
	/* Ports that share a hash bucket stay distinct. */
	for (uint16_t p = 1000; p < 1000 + 64 * 4; p += 64)
		assert_int_equal(ns_udp_bind(fx->s, p, ut_udp_sink_fn, k), 0);
	assert_int_equal(ns_udp_unbind(fx->s, 1064), 0);
	assert_int_equal(ns_udp_bind(fx->s, 1128, ut_udp_sink_fn, k), SL_EADDRINUSE);
}

typedef struct udp_rx_row {
	const char *what;
	size_t payload;
	int mangle;          /* 0 none, 1 flip a data byte, 2 zero checksum,
				3 length past the payload, 4 length < 8,
				5 IP payload padded past the UDP length */
	bool delivered;
	size_t delivered_len;
} udp_rx_row_t;

static const udp_rx_row_t udp_rx_rows[] = {
	{"valid", 10, 0, true, 10},
	{"empty payload", 0, 0, true, 0},
	{"odd length", 11, 0, true, 11},
	{"bad checksum", 10, 1, false, 0},
	{"no checksum (zero) is accepted", 10, 2, true, 10},
	{"length field past the IP payload", 10, 3, false, 0},
	{"length field below the header", 10, 4, false, 0},
	{"IP payload longer than UDP length", 10, 5, true, 10},
};

static void test_udp_receive_table(void **state)
{
	ut_fx_t *fx = *state;
	static ut_udp_sink_t sink;

	assert_int_equal(ns_udp_bind(fx->s, 7, ut_udp_sink_fn, &sink), 0);
	for (size_t i = 0; i < sizeof(udp_rx_rows) / sizeof(udp_rx_rows[0]); i++) {
		const udp_rx_row_t *r = &udp_rx_rows[i];
		struct rte_udp_hdr *uh = (struct rte_udp_hdr *)l4buf;
		size_t len;

		memset(&sink, 0, sizeof(sink));
		fill(r->payload, (uint8_t)i);
		len = ut_udp(l4buf, ut_ip_peer, ut_ip_us, 3333, 7, data, r->payload);
		switch (r->mangle) {
		case 1: l4buf[8] ^= 0x40; break;
		case 2: uh->dgram_cksum = 0; break;
		case 3: uh->dgram_len = rte_cpu_to_be_16((uint16_t)(len + 2)); break;
		case 4: uh->dgram_len = rte_cpu_to_be_16(7); break;
		case 5: memset(l4buf + len, 0, 6); len += 6; break;
		}
		send_l4(fx, IPPROTO_UDP, l4buf, len, 0, (uint16_t)i);
		if ((sink.count == 1) != r->delivered)
			fail_msg("row '%s': delivered %u", r->what, sink.count);
		if (r->delivered) {
			assert_int_equal(sink.len, r->delivered_len);
			assert_memory_equal(sink.data, data, r->delivered_len);
			assert_int_equal(sink.src_ip, ut_ip_peer);
			assert_int_equal(sink.src_port, 3333);
			assert_int_equal(sink.dst_port, 7);
		}
	}
	assert_int_equal(ut_stats(fx->s).udp_rx_bad_csum, 1);
	assert_int_equal(ut_stats(fx->s).udp_rx_bad_header, 2);
	assert_int_equal(fx->cap.n, 0);
}

/* The UDP echo service: what a daemon's ns_diag does. */
static void echo_fn(void *ctx, uint32_t src_ip, uint16_t src_port, uint16_t dst_port,
		    sl_slice_t payload)
{
	ns_stack_t *s = ctx;

	assert_int_equal(ns_udp_sendto(s, dst_port, src_ip, src_port, payload.ptr, payload.len), 0);
}

static void test_udp_echo_replies_at_every_size(void **state)
{
	ut_fx_t *fx = *state;
	static const size_t sizes[] = {0, 1, 100, 1472, 1473, 3000, 65507};

	assert_int_equal(ns_udp_bind(fx->s, 7, echo_fn, fx->s), 0);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		const struct rte_udp_hdr *uh = (const struct rte_udp_hdr *)got;
		size_t len, n;

		fill(sizes[i], (uint8_t)i);
		len = ut_udp(l4buf, ut_ip_peer, ut_ip_us, 40000, 7, data, sizes[i]);
		send_l4(fx, IPPROTO_UDP, l4buf, len, len + 20 > 1500 ? 1480 : 0, (uint16_t)i);
		n = collect(fx, IPPROTO_UDP);
		assert_int_equal(n, len);
		assert_int_equal(rte_be_to_cpu_16(uh->src_port), 7);
		assert_int_equal(rte_be_to_cpu_16(uh->dst_port), 40000);
		assert_int_equal(rte_be_to_cpu_16(uh->dgram_len), len);
		assert_int_equal(ns_ipv4_l4_cksum(ut_ip_us, ut_ip_peer, IPPROTO_UDP, got, (uint16_t)n), 0);
		assert_memory_equal(got + 8, data, sizes[i]);
	}
	assert_int_equal(ut_stats(fx->s).udp_tx, sizeof(sizes) / sizeof(sizes[0]));
}

static void unbind_self_fn(void *ctx, uint32_t src_ip, uint16_t src_port, uint16_t dst_port,
			   sl_slice_t payload)
{
	ns_stack_t *s = ctx;

	(void)src_ip;
	(void)src_port;
	(void)payload;
	assert_int_equal(ns_udp_unbind(s, dst_port), 0);
}

static void test_callback_may_unbind_its_own_port(void **state)
{
	ut_fx_t *fx = *state;
	size_t len = ut_udp(l4buf, ut_ip_peer, ut_ip_us, 1, 99, "z", 1);

	assert_int_equal(ns_udp_bind(fx->s, 99, unbind_self_fn, fx->s), 0);
	send_l4(fx, IPPROTO_UDP, l4buf, len, 0, 1);
	assert_int_equal(ns_udp_unbind(fx->s, 99), SL_ENOENT);
	send_l4(fx, IPPROTO_UDP, l4buf, len, 0, 2);
	assert_int_equal(ut_stats(fx->s).udp_rx_no_port, 1);
}

#define T(f) cmocka_unit_test_setup_teardown(f, fx_setup_learnt, ut_fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_echo_is_answered_at_every_size),
		T(test_bad_icmp_is_dropped),
		T(test_closed_port_gets_port_unreachable),
		T(test_large_datagram_to_closed_port_quotes_576_bytes),
		T(test_unknown_protocol_gets_protocol_unreachable),
		T(test_never_errors_about_errors_broadcasts_or_later_fragments),
		T(test_errors_are_rate_limited_by_token_bucket),
		T(test_unreachable_input_is_validated),
		T(test_bind_rules),
		T(test_udp_receive_table),
		T(test_udp_echo_replies_at_every_size),
		T(test_callback_may_unbind_its_own_port),
	};

	ut_eal_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
