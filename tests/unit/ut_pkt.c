/* ut_pkt - frame builders and the capturing tx callback. */
#include "ut_pkt.h"

#include <setjmp.h>
#include <stdarg.h>
#include <string.h>
#include <cmocka.h>

#include <rte_arp.h>
#include <rte_ether.h>
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_udp.h>

#include "ns_private.h"
#include "ut_eal.h"

const uint8_t ut_mac_us[6] = {0x02, 0, 0, 0, 0, 0x02};
const uint8_t ut_mac_peer[6] = {0x02, 0, 0, 0, 0, 0x01};
const uint8_t ut_mac_gw[6] = {0x02, 0, 0, 0, 0, 0xfe};
const uint8_t ut_mac_bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
const uint32_t ut_ip_us = UT_IP(198, 18, 0, 2);
const uint32_t ut_ip_peer = UT_IP(198, 18, 0, 1);
const uint32_t ut_ip_gw = UT_IP(198, 18, 0, 254);
const uint32_t ut_ip_far = UT_IP(198, 19, 7, 7);
const uint32_t ut_ip_bcast = UT_IP(198, 18, 0, 255);

void ut_cap_tx(void *ctx, struct rte_mbuf *m)
{
	ut_cap_t *c = ctx;

	if (c->n == UT_CAP_MAX) {
		c->overflow++;
		rte_pktmbuf_free(m);
		return;
	}
	/* The contract: a complete frame in one segment, at least 60 bytes. */
	assert_int_equal(m->nb_segs, 1);
	assert_true(rte_pktmbuf_pkt_len(m) >= 60);
	c->m[c->n++] = m;
}

struct rte_mbuf *ut_cap_take(ut_cap_t *c)
{
	struct rte_mbuf *m;

	if (c->n == 0)
		return NULL;
	m = c->m[0];
	memmove(&c->m[0], &c->m[1], (c->n - 1) * sizeof(c->m[0]));
	c->n--;
	return m;
}

void ut_cap_clear(ut_cap_t *c)
{
	for (unsigned i = 0; i < c->n; i++)
		rte_pktmbuf_free(c->m[i]);
	c->n = 0;
}

void ut_params(ns_stack_params_t *p, ut_cap_t *cap)
{
	ns_stack_params_default(p);
	memcpy(p->mac, ut_mac_us, 6);
	p->ip = ut_ip_us;
	p->prefix_len = 24;
	p->gateway = ut_ip_gw;
	p->pool = ut_pool();
	p->tx = ut_cap_tx;
	p->tx_ctx = cap;
	p->now_us = UT_T0;
}

struct rte_mbuf *ut_mbuf(const void *buf, size_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(ut_pool());
	char *p;

	assert_non_null(m);
	p = rte_pktmbuf_append(m, (uint16_t)len);
	assert_non_null(p);
	memcpy(p, buf, len);
	return m;
}

void ut_input(ns_stack_t *s, const void *buf, size_t len)
{
	ns_stack_input(s, ut_mbuf(buf, len));
}

size_t ut_eth(uint8_t *buf, const uint8_t dst[6], const uint8_t src[6], uint16_t type)
{
	struct rte_ether_hdr *eh = (struct rte_ether_hdr *)buf;

	memcpy(&eh->dst_addr, dst, 6);
	memcpy(&eh->src_addr, src, 6);
	eh->ether_type = rte_cpu_to_be_16(type);
	return sizeof(*eh);
}

size_t ut_arp(uint8_t *buf, const uint8_t eth_dst[6], uint16_t op, const uint8_t sha[6],
	      uint32_t sip, const uint8_t tha[6], uint32_t tip)
{
	size_t n = ut_eth(buf, eth_dst, sha, RTE_ETHER_TYPE_ARP);
	struct rte_arp_hdr *ah = (struct rte_arp_hdr *)(buf + n);

	ah->arp_hardware = rte_cpu_to_be_16(RTE_ARP_HRD_ETHER);
	ah->arp_protocol = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	ah->arp_hlen = 6;
	ah->arp_plen = 4;
	ah->arp_opcode = rte_cpu_to_be_16(op);
	memcpy(&ah->arp_data.arp_sha, sha, 6);
	ah->arp_data.arp_sip = sip;
	memcpy(&ah->arp_data.arp_tha, tha, 6);
	ah->arp_data.arp_tip = tip;
	return n + sizeof(*ah);
}

size_t ut_ipv4(uint8_t *buf, uint32_t src, uint32_t dst, uint8_t proto, uint16_t id,
	       uint16_t frag, const void *l4, size_t l4_len)
{
	size_t n = ut_eth(buf, ut_mac_us, ut_mac_peer, RTE_ETHER_TYPE_IPV4);
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(buf + n);

	memset(ip, 0, sizeof(*ip));
	ip->version_ihl = 0x45;
	ip->total_length = rte_cpu_to_be_16((uint16_t)(sizeof(*ip) + l4_len));
	ip->packet_id = rte_cpu_to_be_16(id);
	ip->fragment_offset = rte_cpu_to_be_16(frag);
	ip->time_to_live = 64;
	ip->next_proto_id = proto;
	ip->src_addr = src;
	ip->dst_addr = dst;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	memmove(ip + 1, l4, l4_len);
	return n + sizeof(*ip) + l4_len;
}

size_t ut_udp(uint8_t *l4, uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport,
	      const void *data, size_t len)
{
	struct rte_udp_hdr *uh = (struct rte_udp_hdr *)l4;
	uint16_t ck;

	uh->src_port = rte_cpu_to_be_16(sport);
	uh->dst_port = rte_cpu_to_be_16(dport);
	uh->dgram_len = rte_cpu_to_be_16((uint16_t)(sizeof(*uh) + len));
	uh->dgram_cksum = 0;
	memmove(uh + 1, data, len);
	ck = ns_ipv4_l4_cksum(src, dst, IPPROTO_UDP, l4, (uint16_t)(sizeof(*uh) + len));
	uh->dgram_cksum = ck == 0 ? 0xffff : ck;
	return sizeof(*uh) + len;
}

size_t ut_icmp_echo(uint8_t *l4, uint16_t id, uint16_t seq, const void *data, size_t len)
{
	struct rte_icmp_hdr *ih = (struct rte_icmp_hdr *)l4;

	ih->icmp_type = RTE_IP_ICMP_ECHO_REQUEST;
	ih->icmp_code = 0;
	ih->icmp_cksum = 0;
	ih->icmp_ident = rte_cpu_to_be_16(id);
	ih->icmp_seq_nb = rte_cpu_to_be_16(seq);
	memmove(ih + 1, data, len);
	ih->icmp_cksum = (uint16_t)~rte_raw_cksum(ih, sizeof(*ih) + len);
	return sizeof(*ih) + len;
}

uint16_t ut_ethertype(const struct rte_mbuf *m)
{
	return rte_be_to_cpu_16(rte_pktmbuf_mtod(m, const struct rte_ether_hdr *)->ether_type);
}

const uint8_t *ut_eth_dst(const struct rte_mbuf *m)
{
	return rte_pktmbuf_mtod(m, const uint8_t *);
}

const struct rte_ipv4_hdr *ut_ip_of(const struct rte_mbuf *m)
{
	const struct rte_ipv4_hdr *ip;

	assert_int_equal(ut_ethertype(m), RTE_ETHER_TYPE_IPV4);
	assert_true(rte_pktmbuf_data_len(m) >= RTE_ETHER_HDR_LEN + sizeof(*ip));
	ip = rte_pktmbuf_mtod_offset(m, const struct rte_ipv4_hdr *, RTE_ETHER_HDR_LEN);
	assert_int_equal(ip->version_ihl, 0x45);
	assert_int_equal(rte_raw_cksum(ip, sizeof(*ip)), 0xffff);
	assert_true(rte_be_to_cpu_16(ip->total_length) + RTE_ETHER_HDR_LEN <=
		    rte_pktmbuf_data_len(m));
	assert_int_equal(ip->src_addr, ut_ip_us);
	return ip;
}

const uint8_t *ut_l4_of(const struct rte_mbuf *m, size_t *len_r)
{
	const struct rte_ipv4_hdr *ip = ut_ip_of(m);

	*len_r = rte_be_to_cpu_16(ip->total_length) - sizeof(*ip);
	return (const uint8_t *)(ip + 1);
}

void ut_learn(ns_stack_t *s, ut_cap_t *cap, const uint8_t mac[6], uint32_t ip)
{
	static const uint8_t zero[6];
	uint8_t f[64];
	struct rte_mbuf *r;
	size_t n = ut_arp(f, ut_mac_bcast, RTE_ARP_OP_REQUEST, mac, ip, zero, ut_ip_us);

	ut_input(s, f, n);
	r = ut_cap_take(cap);
	assert_non_null(r);
	assert_int_equal(ut_ethertype(r), RTE_ETHER_TYPE_ARP);
	rte_pktmbuf_free(r);
}

ns_stats_t ut_stats(const ns_stack_t *s)
{
	ns_stats_t st;

	ns_stack_get_stats(s, &st);
	return st;
}

int ut_fx_setup(void **state)
{
	static ut_fx_t fx;
	const char *err = NULL;

	memset(&fx, 0, sizeof(fx));
	fx.avail0 = rte_mempool_avail_count(ut_pool());
	ut_params(&fx.p, &fx.cap);
	fx.s = ns_stack_create(&fx.p, &err);
	assert_non_null(fx.s);
	*state = &fx;
	return 0;
}

int ut_fx_teardown(void **state)
{
	ut_fx_t *fx = *state;

	ns_stack_destroy(&fx->s);
	assert_null(fx->s);
	ut_cap_clear(&fx->cap);
	assert_int_equal(fx->cap.overflow, 0);
	assert_int_equal(rte_mempool_avail_count(ut_pool()), fx->avail0);
	return 0;
}

void ut_fx_restart(ut_fx_t *fx)
{
	const char *err = NULL;

	ns_stack_destroy(&fx->s);
	fx->s = ns_stack_create(&fx->p, &err);
	assert_non_null(fx->s);
}

void ut_udp_sink_fn(void *ctx, uint32_t src_ip, uint16_t src_port, uint16_t dst_port,
		    sl_slice_t payload)
{
	ut_udp_sink_t *k = ctx;

	k->count++;
	k->src_ip = src_ip;
	k->src_port = src_port;
	k->dst_port = dst_port;
	k->len = payload.len;
	memcpy(k->data, payload.ptr, RTE_MIN(payload.len, sizeof(k->data)));
}
