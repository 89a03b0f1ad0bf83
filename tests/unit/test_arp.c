/* test_arp - Ethernet filtering and ARP: replies, learning, resolution
 * queue, retries and give-up, ageing, eviction, gratuitous ARP. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <rte_arp.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "ns.h"
#include "sl_err.h"
#include "sl_time.h"
#include "ut_eal.h"
#include "ut_pkt.h"

static const uint8_t zero_mac[6];
static uint8_t f_frag[2048];

typedef ut_fx_t fx_t;
#define fx_restart ut_fx_restart

static const struct rte_arp_hdr *arp_of(const struct rte_mbuf *m)
{
	assert_int_equal(ut_ethertype(m), RTE_ETHER_TYPE_ARP);
	return rte_pktmbuf_mtod_offset(m, const struct rte_arp_hdr *, RTE_ETHER_HDR_LEN);
}

/* Asserts M is an ARP request from us for TIP, sent to ETH_DST. */
static void assert_request(struct rte_mbuf *m, const uint8_t eth_dst[6], uint32_t tip)
{
	const struct rte_arp_hdr *ah;

	assert_non_null(m);
	ah = arp_of(m);
	assert_memory_equal(ut_eth_dst(m), eth_dst, 6);
	assert_int_equal(rte_be_to_cpu_16(ah->arp_opcode), RTE_ARP_OP_REQUEST);
	assert_memory_equal(&ah->arp_data.arp_sha, ut_mac_us, 6);
	assert_int_equal(ah->arp_data.arp_sip, ut_ip_us);
	assert_int_equal(ah->arp_data.arp_tip, tip);
	rte_pktmbuf_free(m);
}

static void send_udp(fx_t *fx, uint32_t dst, uint8_t tag)
{
	assert_int_equal(ns_udp_sendto(fx->s, 5000, dst, 6000, &tag, 1), 0);
}

/* Asserts M is our UDP datagram carrying TAG, sent to ETH_DST. */
static void assert_udp_tag(struct rte_mbuf *m, const uint8_t eth_dst[6], uint8_t tag)
{
	size_t len;
	const uint8_t *l4;

	assert_non_null(m);
	assert_memory_equal(ut_eth_dst(m), eth_dst, 6);
	l4 = ut_l4_of(m, &len);
	assert_int_equal(len, 9);
	assert_int_equal(l4[8], tag);
	rte_pktmbuf_free(m);
}

static void peer_reply(fx_t *fx, const uint8_t mac[6], uint32_t ip)
{
	uint8_t f[64];

	ut_input(fx->s, f, ut_arp(f, ut_mac_us, RTE_ARP_OP_REPLY, mac, ip, ut_mac_us, ut_ip_us));
}

/* ---- Ethernet ---- */

static void test_eth_drops_short_foreign_and_unknown_frames(void **state)
{
	fx_t *fx = *state;
	uint8_t f[64] = {0};
	static const uint8_t other[6] = {0x02, 9, 9, 9, 9, 9};
	ns_stats_t st;

	ut_input(fx->s, f, 10);
	ut_eth(f, other, ut_mac_peer, RTE_ETHER_TYPE_ARP);
	ut_input(fx->s, f, 60);
	ut_eth(f, ut_mac_us, ut_mac_peer, RTE_ETHER_TYPE_VLAN);
	ut_input(fx->s, f, 60);
	ut_eth(f, ut_mac_us, ut_mac_peer, RTE_ETHER_TYPE_IPV6);
	ut_input(fx->s, f, 60);
	st = ut_stats(fx->s);
	assert_int_equal(st.eth_rx_frames, 4);
	assert_int_equal(st.eth_rx_drop_short, 1);
	assert_int_equal(st.eth_rx_drop_not_for_us, 1);
	assert_int_equal(st.eth_rx_drop_ethertype, 2);
	assert_int_equal(fx->cap.n, 0);
}

static void test_eth_chained_frame_is_linearized(void **state)
{
	fx_t *fx = *state;
	uint8_t f[64];
	size_t n = ut_arp(f, ut_mac_bcast, RTE_ARP_OP_REQUEST, ut_mac_peer, ut_ip_peer, zero_mac,
			  ut_ip_us);
	struct rte_mbuf *a = ut_mbuf(f, 20), *b = ut_mbuf(f + 20, n - 20);
	struct rte_mbuf *m;

	assert_int_equal(rte_pktmbuf_chain(a, b), 0);
	ns_stack_input(fx->s, a);
	m = ut_cap_take(&fx->cap);
	assert_non_null(m);
	assert_int_equal(rte_be_to_cpu_16(arp_of(m)->arp_opcode), RTE_ARP_OP_REPLY);
	rte_pktmbuf_free(m);
	assert_int_equal(ut_stats(fx->s).eth_rx_drop_multiseg, 0);
}

/* ---- answering and learning ---- */

static void test_request_for_us_is_answered_and_learnt(void **state)
{
	fx_t *fx = *state;
	uint8_t f[64];
	const struct rte_arp_hdr *ah;
	struct rte_mbuf *m;

	ut_input(fx->s, f,
		 ut_arp(f, ut_mac_bcast, RTE_ARP_OP_REQUEST, ut_mac_peer, ut_ip_peer, zero_mac,
			ut_ip_us));
	m = ut_cap_take(&fx->cap);
	assert_non_null(m);
	ah = arp_of(m);
	assert_memory_equal(ut_eth_dst(m), ut_mac_peer, 6);
	assert_int_equal(rte_be_to_cpu_16(ah->arp_opcode), RTE_ARP_OP_REPLY);
	assert_memory_equal(&ah->arp_data.arp_sha, ut_mac_us, 6);
	assert_int_equal(ah->arp_data.arp_sip, ut_ip_us);
	assert_memory_equal(&ah->arp_data.arp_tha, ut_mac_peer, 6);
	assert_int_equal(ah->arp_data.arp_tip, ut_ip_peer);
	rte_pktmbuf_free(m);
	assert_int_equal(ut_stats(fx->s).arp_tx_replies, 1);
	assert_int_equal(ut_stats(fx->s).arp_cache_entries, 1);

	/* Learnt: a datagram to the peer goes straight out. */
	send_udp(fx, ut_ip_peer, 7);
	assert_udp_tag(ut_cap_take(&fx->cap), ut_mac_peer, 7);
	assert_int_equal(ut_stats(fx->s).arp_tx_requests, 0);
}

static void test_request_for_other_host_is_ignored(void **state)
{
	fx_t *fx = *state;
	uint8_t f[64];

	ut_input(fx->s, f,
		 ut_arp(f, ut_mac_bcast, RTE_ARP_OP_REQUEST, ut_mac_peer, ut_ip_peer, zero_mac,
			ut_ip_gw));
	assert_int_equal(fx->cap.n, 0);
	assert_int_equal(ut_stats(fx->s).arp_cache_entries, 0);
	assert_int_equal(ut_stats(fx->s).arp_rx_bad, 0);
}

static void test_probe_with_zero_sender_is_answered_not_learnt(void **state)
{
	fx_t *fx = *state;
	uint8_t f[64];
	struct rte_mbuf *m;

	/* RFC 5227 probe: sender IP 0.0.0.0. */
	ut_input(fx->s, f,
		 ut_arp(f, ut_mac_bcast, RTE_ARP_OP_REQUEST, ut_mac_peer, 0, zero_mac, ut_ip_us));
	m = ut_cap_take(&fx->cap);
	assert_non_null(m);
	assert_int_equal(arp_of(m)->arp_data.arp_tip, 0);
	rte_pktmbuf_free(m);
	assert_int_equal(ut_stats(fx->s).arp_cache_entries, 0);
}

static void test_unsolicited_reply_is_not_learnt(void **state)
{
	fx_t *fx = *state;

	peer_reply(fx, ut_mac_peer, ut_ip_peer);
	assert_int_equal(ut_stats(fx->s).arp_cache_entries, 0);
	send_udp(fx, ut_ip_peer, 1);
	assert_request(ut_cap_take(&fx->cap), ut_mac_bcast, ut_ip_peer);
}

/* One malformed field per row, on an otherwise valid request for us. */
typedef struct bad_arp_row {
	const char *what;
	size_t off;      /* byte offset in the ARP header */
	uint8_t val[6];
	size_t n;
	size_t trunc;    /* frame length to feed; 0 = whole */
} bad_arp_row_t;

static const bad_arp_row_t bad_arp_rows[] = {
	{"truncated", 0, {0}, 0, RTE_ETHER_HDR_LEN + 20},
	{"hardware type 6", 0, {0, 6}, 2, 0},
	{"protocol IPv6", 2, {0x86, 0xdd}, 2, 0},
	{"hlen 8", 4, {8}, 1, 0},
	{"plen 16", 5, {16}, 1, 0},
	{"opcode RARP", 6, {0, 3}, 2, 0},
	{"multicast sender MAC", 8, {0x01, 0, 0x5e, 0, 0, 1}, 6, 0},
	{"zero sender MAC", 8, {0, 0, 0, 0, 0, 0}, 6, 0},
	{"sender claims our IP", 14, {198, 18, 0, 2}, 4, 0},
	{"sender is broadcast", 14, {255, 255, 255, 255}, 4, 0},
	{"sender is subnet broadcast", 14, {198, 18, 0, 255}, 4, 0},
	{"sender is multicast", 14, {224, 0, 0, 1}, 4, 0},
	{"sender is loopback", 14, {127, 0, 0, 1}, 4, 0},
};

static void test_malformed_arp_is_rejected(void **state)
{
	fx_t *fx = *state;

	for (size_t i = 0; i < sizeof(bad_arp_rows) / sizeof(bad_arp_rows[0]); i++) {
		const bad_arp_row_t *r = &bad_arp_rows[i];
		uint8_t f[64];
		size_t n = ut_arp(f, ut_mac_bcast, RTE_ARP_OP_REQUEST, ut_mac_peer, ut_ip_peer,
				  zero_mac, ut_ip_us);
		uint64_t bad0 = ut_stats(fx->s).arp_rx_bad;

		memcpy(f + RTE_ETHER_HDR_LEN + r->off, r->val, r->n);
		ut_input(fx->s, f, r->trunc ? r->trunc : n);
		if (ut_stats(fx->s).arp_rx_bad != bad0 + 1 || fx->cap.n != 0)
			fail_msg("row '%s' was not rejected", r->what);
		assert_int_equal(ut_stats(fx->s).arp_cache_entries, 0);
	}
}

/* ---- resolution ---- */

static void test_resolution_queues_then_flushes_on_reply(void **state)
{
	fx_t *fx = *state;

	send_udp(fx, ut_ip_peer, 1);
	send_udp(fx, ut_ip_peer, 2);
	assert_request(ut_cap_take(&fx->cap), ut_mac_bcast, ut_ip_peer);
	assert_int_equal(fx->cap.n, 0); /* one request for both */
	peer_reply(fx, ut_mac_peer, ut_ip_peer);
	assert_udp_tag(ut_cap_take(&fx->cap), ut_mac_peer, 1);
	assert_udp_tag(ut_cap_take(&fx->cap), ut_mac_peer, 2);
	assert_int_equal(fx->cap.n, 0);
	assert_int_equal(ut_stats(fx->s).arp_tx_requests, 1);
}

static void test_queue_overflow_drops_oldest_and_counts(void **state)
{
	fx_t *fx = *state;

	fx->p.arp_queue_max = 2;
	fx_restart(fx);
	for (uint8_t i = 1; i <= 5; i++)
		send_udp(fx, ut_ip_peer, i);
	assert_request(ut_cap_take(&fx->cap), ut_mac_bcast, ut_ip_peer);
	assert_int_equal(ut_stats(fx->s).arp_queue_drops, 3);
	peer_reply(fx, ut_mac_peer, ut_ip_peer);
	assert_udp_tag(ut_cap_take(&fx->cap), ut_mac_peer, 4);
	assert_udp_tag(ut_cap_take(&fx->cap), ut_mac_peer, 5);
	assert_int_equal(fx->cap.n, 0);
}

static void test_resolution_retries_each_second_then_gives_up(void **state)
{
	fx_t *fx = *state;
	ns_stats_t st;

	send_udp(fx, ut_ip_peer, 1);
	send_udp(fx, ut_ip_peer, 2);
	assert_request(ut_cap_take(&fx->cap), ut_mac_bcast, ut_ip_peer);
	/* The wheel may report a lower bound, never a later time. */
	assert_true(ns_stack_next_deadline(fx->s) <= UT_T0 + SL_US_PER_S);
	assert_true(ns_stack_next_deadline(fx->s) > UT_T0);
	ns_stack_poll(fx->s, UT_T0 + SL_US_PER_S / 2);
	assert_int_equal(fx->cap.n, 0);
	ns_stack_poll(fx->s, UT_T0 + SL_US_PER_S);
	assert_request(ut_cap_take(&fx->cap), ut_mac_bcast, ut_ip_peer);
	ns_stack_poll(fx->s, UT_T0 + 2 * SL_US_PER_S);
	assert_request(ut_cap_take(&fx->cap), ut_mac_bcast, ut_ip_peer);
	ns_stack_poll(fx->s, UT_T0 + 3 * SL_US_PER_S);
	assert_int_equal(fx->cap.n, 0);
	st = ut_stats(fx->s);
	assert_int_equal(st.arp_tx_requests, 3);
	assert_int_equal(st.arp_resolve_failed, 1);
	assert_int_equal(st.arp_queue_drops, 2);
	assert_int_equal(st.arp_cache_entries, 0);
	assert_int_equal(ns_stack_next_deadline(fx->s), SL_TIME_NEVER);

	/* A late reply does not resurrect anything. */
	peer_reply(fx, ut_mac_peer, ut_ip_peer);
	assert_int_equal(ut_stats(fx->s).arp_cache_entries, 0);
	assert_int_equal(fx->cap.n, 0);
}

static void test_unused_entry_expires_after_lifetime(void **state)
{
	fx_t *fx = *state;

	fx->p.arp_reachable_us = 5 * SL_US_PER_S;
	fx_restart(fx);
	ut_learn(fx->s, &fx->cap, ut_mac_peer, ut_ip_peer);
	ns_stack_poll(fx->s, UT_T0 + 5 * SL_US_PER_S - 1000);
	assert_int_equal(ut_stats(fx->s).arp_cache_entries, 1);
	ns_stack_poll(fx->s, UT_T0 + 5 * SL_US_PER_S);
	assert_int_equal(ut_stats(fx->s).arp_cache_entries, 0);
	assert_int_equal(fx->cap.n, 0);
	send_udp(fx, ut_ip_peer, 1);
	assert_request(ut_cap_take(&fx->cap), ut_mac_bcast, ut_ip_peer);
}

static void test_used_entry_is_refreshed_by_unicast_probe(void **state)
{
	fx_t *fx = *state;
	uint64_t t = UT_T0 + 5 * SL_US_PER_S;

	fx->p.arp_reachable_us = 5 * SL_US_PER_S;
	fx_restart(fx);
	ut_learn(fx->s, &fx->cap, ut_mac_peer, ut_ip_peer);
	send_udp(fx, ut_ip_peer, 1);
	assert_udp_tag(ut_cap_take(&fx->cap), ut_mac_peer, 1);
	ns_stack_poll(fx->s, t);
	assert_request(ut_cap_take(&fx->cap), ut_mac_peer, ut_ip_peer);
	/* Traffic keeps flowing with the old address while probing. */
	send_udp(fx, ut_ip_peer, 2);
	assert_udp_tag(ut_cap_take(&fx->cap), ut_mac_peer, 2);
	peer_reply(fx, ut_mac_peer, ut_ip_peer);
	ns_stack_poll(fx->s, t + 3 * SL_US_PER_S);
	assert_int_equal(fx->cap.n, 0);
	assert_int_equal(ut_stats(fx->s).arp_cache_entries, 1);
}

static void test_unanswered_probes_remove_the_entry(void **state)
{
	fx_t *fx = *state;
	uint64_t t = UT_T0 + 5 * SL_US_PER_S;

	fx->p.arp_reachable_us = 5 * SL_US_PER_S;
	fx_restart(fx);
	ut_learn(fx->s, &fx->cap, ut_mac_peer, ut_ip_peer);
	send_udp(fx, ut_ip_peer, 1);
	ut_cap_clear(&fx->cap);
	for (unsigned i = 0; i < 3; i++) {
		ns_stack_poll(fx->s, t + i * SL_US_PER_S);
		assert_request(ut_cap_take(&fx->cap), ut_mac_peer, ut_ip_peer);
	}
	ns_stack_poll(fx->s, t + 3 * SL_US_PER_S);
	assert_int_equal(ut_stats(fx->s).arp_cache_entries, 0);
}

static void test_full_cache_evicts_least_recently_confirmed(void **state)
{
	fx_t *fx = *state;
	static const uint8_t mac3[6] = {0x02, 0, 0, 0, 0, 0x03};
	uint32_t ip3 = UT_IP(198, 18, 0, 3);

	fx->p.arp_cache_size = 2;
	fx_restart(fx);
	ut_learn(fx->s, &fx->cap, ut_mac_peer, ut_ip_peer);
	ut_learn(fx->s, &fx->cap, ut_mac_gw, ut_ip_gw);
	ut_learn(fx->s, &fx->cap, mac3, ip3);
	assert_int_equal(ut_stats(fx->s).arp_cache_entries, 2);
	send_udp(fx, ip3, 3);
	assert_udp_tag(ut_cap_take(&fx->cap), mac3, 3);
	send_udp(fx, ut_ip_gw, 2);
	assert_udp_tag(ut_cap_take(&fx->cap), ut_mac_gw, 2);
	send_udp(fx, ut_ip_peer, 1);
	assert_request(ut_cap_take(&fx->cap), ut_mac_bcast, ut_ip_peer);
}

static void test_known_entry_is_updated_by_gratuitous_arp(void **state)
{
	fx_t *fx = *state;
	static const uint8_t newmac[6] = {0x02, 0, 0, 0, 0, 0x77};
	uint8_t f[64];

	ut_learn(fx->s, &fx->cap, ut_mac_peer, ut_ip_peer);
	ut_input(fx->s, f,
		 ut_arp(f, ut_mac_bcast, RTE_ARP_OP_REQUEST, newmac, ut_ip_peer, zero_mac,
			ut_ip_peer));
	assert_int_equal(fx->cap.n, 0);
	send_udp(fx, ut_ip_peer, 1);
	assert_udp_tag(ut_cap_take(&fx->cap), newmac, 1);
}

static void test_announce_sends_gratuitous_request(void **state)
{
	fx_t *fx = *state;
	struct rte_mbuf *m;

	ns_stack_announce(fx->s);
	m = ut_cap_take(&fx->cap);
	assert_non_null(m);
	assert_int_equal(arp_of(m)->arp_data.arp_tip, ut_ip_us);
	assert_request(m, ut_mac_bcast, ut_ip_us);
	assert_int_equal(ut_stats(fx->s).arp_tx_gratuitous, 1);
}

/* ---- routing ---- */

static void test_off_link_goes_via_gateway(void **state)
{
	fx_t *fx = *state;

	send_udp(fx, ut_ip_far, 1);
	assert_request(ut_cap_take(&fx->cap), ut_mac_bcast, ut_ip_gw);
	peer_reply(fx, ut_mac_gw, ut_ip_gw);
	assert_udp_tag(ut_cap_take(&fx->cap), ut_mac_gw, 1);
}

static void test_off_link_without_gateway_is_unreachable(void **state)
{
	fx_t *fx = *state;
	uint8_t b = 0;

	fx->p.gateway = 0;
	fx_restart(fx);
	assert_int_equal(ns_udp_sendto(fx->s, 1, ut_ip_far, 2, &b, 1), SL_EUNREACH);
	assert_int_equal(ut_stats(fx->s).ip_tx_no_route, 1);
	assert_int_equal(fx->cap.n, 0);
}

static void test_broadcast_needs_no_resolution(void **state)
{
	fx_t *fx = *state;

	send_udp(fx, ut_ip_bcast, 1);
	assert_udp_tag(ut_cap_take(&fx->cap), ut_mac_bcast, 1);
	send_udp(fx, 0xffffffffu, 2);
	assert_udp_tag(ut_cap_take(&fx->cap), ut_mac_bcast, 2);
}

/* Teardown checks the pool: queued packets and held fragments must all be
 * freed by ns_stack_destroy. */
static void test_destroy_frees_queued_and_held_packets(void **state)
{
	fx_t *fx = *state;
	uint8_t l4[1600] = {0};

	send_udp(fx, ut_ip_peer, 1);
	send_udp(fx, ut_ip_far, 2);
	ut_input(fx->s, f_frag, ut_ipv4(f_frag, ut_ip_peer, ut_ip_us, IPPROTO_UDP, 5,
					RTE_IPV4_HDR_MF_FLAG, l4, 800));
	assert_int_equal(ut_stats(fx->s).ip_frag_rx, 1);
	ut_cap_clear(&fx->cap);
}

static void test_create_rejects_bad_params(void **state)
{
	fx_t *fx = *state;
	ns_stack_params_t p = fx->p;
	const char *err = NULL;

	p.mtu = 60;
	assert_null(ns_stack_create(&p, &err));
	assert_non_null(err);
	p = fx->p;
	p.pool = NULL;
	assert_null(ns_stack_create(&p, &err));
	p = fx->p;
	p.mac[0] = 1;
	assert_null(ns_stack_create(&p, &err));
	p = fx->p;
	p.arp_cache_size = 0;
	assert_null(ns_stack_create(&p, &err));
}

static void test_stats_names_cover_every_counter(void **state)
{
	size_t n = 0;

	(void)state;
	while (ns_stats_names[n] != NULL)
		n++;
	assert_int_equal(n, sizeof(ns_stats_t) / sizeof(uint64_t));
	assert_string_equal(ns_stats_names[0], "eth_rx_frames");
}

#define T(f) cmocka_unit_test_setup_teardown(f, ut_fx_setup, ut_fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_eth_drops_short_foreign_and_unknown_frames),
		T(test_eth_chained_frame_is_linearized),
		T(test_request_for_us_is_answered_and_learnt),
		T(test_request_for_other_host_is_ignored),
		T(test_probe_with_zero_sender_is_answered_not_learnt),
		T(test_unsolicited_reply_is_not_learnt),
		T(test_malformed_arp_is_rejected),
		T(test_resolution_queues_then_flushes_on_reply),
		T(test_queue_overflow_drops_oldest_and_counts),
		T(test_resolution_retries_each_second_then_gives_up),
		T(test_unused_entry_expires_after_lifetime),
		T(test_used_entry_is_refreshed_by_unicast_probe),
		T(test_unanswered_probes_remove_the_entry),
		T(test_full_cache_evicts_least_recently_confirmed),
		T(test_known_entry_is_updated_by_gratuitous_arp),
		T(test_announce_sends_gratuitous_request),
		T(test_off_link_goes_via_gateway),
		T(test_off_link_without_gateway_is_unreachable),
		T(test_broadcast_needs_no_resolution),
		T(test_destroy_frees_queued_and_held_packets),
		T(test_create_rejects_bad_params),
		T(test_stats_names_cover_every_counter),
	};

	ut_eal_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
