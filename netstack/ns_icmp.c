/* ns_icmp - ICMP for a host (RFC 792, RFC 1122 §3.2.2): echo replies,
 * destination unreachable out (port, protocol) and in (passed to TCP).
 *
 * Errors we originate go through a token bucket (RFC 1812 §4.3.2.8, RFC 1122
 * §3.2.2 "rate-limit"), so a port scan or a flood of junk protocols cannot
 * turn us into an amplifier; the state is the bucket and nothing else. */
#include <stdlib.h>
#include <string.h>

#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "ns_private.h"
#include "sl_err.h"
#include "sl_time.h"

#define ICMP_DEST_UNREACH 3
/* RFC 1812 §4.3.2.3: quote as much of the offending datagram as fits a
 * 576-octet error. */
#define ICMP_ERR_QUOTE_MAX (576 - sizeof(struct rte_ipv4_hdr) - sizeof(struct rte_icmp_hdr))
/* Token bucket in micro-tokens, so refill is integer arithmetic. */
#define ICMP_TOKEN 1000000ull

struct ns_icmp {
	uint64_t tokens;   /* micro-tokens, <= NS_ICMP_ERR_BURST * ICMP_TOKEN */
	uint64_t last_us;  /* last refill */
};

int ns_icmp_create(ns_stack_t *s)
{
	struct ns_icmp *ic = calloc(1, sizeof(*ic));

	if (ic == NULL)
		return SL_ENOMEM;
	ic->tokens = NS_ICMP_ERR_BURST * ICMP_TOKEN;
	ic->last_us = s->now_us;
	s->icmp = ic;
	return 0;
}

void ns_icmp_destroy(ns_stack_t *s)
{
	free(s->icmp);
	s->icmp = NULL;
}

static bool icmp_ratelimit_allow(ns_stack_t *s)
{
	struct ns_icmp *ic = s->icmp;
	uint64_t cap = NS_ICMP_ERR_BURST * ICMP_TOKEN;

	if (s->now_us > ic->last_us) {
		uint64_t dt = s->now_us - ic->last_us;

		/* Clamp before multiplying: an idle hour must not overflow. */
		ic->tokens += dt >= SL_US_PER_S * NS_ICMP_ERR_BURST ? cap : dt * NS_ICMP_ERR_RATE;
		if (ic->tokens > cap)
			ic->tokens = cap;
		ic->last_us = s->now_us;
	}
	if (ic->tokens < ICMP_TOKEN)
		return false;
	ic->tokens -= ICMP_TOKEN;
	return true;
}

/* Query types (RFC 792, RFC 950): an ICMP datagram of any other type is an
 * error, or unknown, and never gets an error back (RFC 1122 §3.2.2). */
static bool icmp_type_is_query(uint8_t type)
{
	switch (type) {
	case 0: case 8: case 13: case 14: case 15: case 16: case 17: case 18:
		return true;
	default:
		return false;
	}
}

void ns_icmp_send_unreach(ns_stack_t *s, const struct rte_ipv4_hdr *orig_ip, uint16_t orig_len,
			  uint8_t code)
{
	uint32_t dst, hdst, hl, quote;
	struct rte_icmp_hdr *ih;
	struct rte_mbuf *m;

	if (unlikely(orig_len < sizeof(*orig_ip)))
		return;
	hl = rte_ipv4_hdr_len(orig_ip);
	dst = orig_ip->src_addr;
	hdst = rte_be_to_cpu_32(orig_ip->dst_addr);
	/* RFC 1122 §3.2.2: never about a broadcast or multicast datagram, a
	 * fragment other than the first, a datagram whose source is not one
	 * host, or an ICMP error. */
	if ((rte_be_to_cpu_16(orig_ip->fragment_offset) & RTE_IPV4_HDR_OFFSET_MASK) != 0)
		return;
	if (orig_ip->dst_addr != s->p.ip || NS_IPV4_IS_MCAST(hdst))
		return;
	if (dst == 0 || NS_IPV4_IS_MCAST(rte_be_to_cpu_32(dst)) || dst == 0xffffffffu ||
	    (s->p.prefix_len < 31 && dst == (s->p.ip | ~s->netmask)))
		return;
	if (orig_ip->next_proto_id == IPPROTO_ICMP &&
	    (orig_len <= hl || !icmp_type_is_query(((const uint8_t *)orig_ip)[hl])))
		return;
	if (!icmp_ratelimit_allow(s)) {
		NS_STAT_INC(s, icmp_unreach_ratelimited);
		return;
	}
	m = ns_pkt_alloc(s);
	if (unlikely(m == NULL))
		return;
	quote = RTE_MIN((uint32_t)orig_len, (uint32_t)ICMP_ERR_QUOTE_MAX);
	ih = (struct rte_icmp_hdr *)rte_pktmbuf_append(m, (uint16_t)(sizeof(*ih) + quote));
	ih->icmp_type = ICMP_DEST_UNREACH;
	ih->icmp_code = code;
	ih->icmp_cksum = 0;
	ih->icmp_ident = 0; /* "unused" (RFC 792) */
	ih->icmp_seq_nb = 0;
	memcpy(ih + 1, orig_ip, quote);
	ih->icmp_cksum = (uint16_t)~rte_raw_cksum(ih, sizeof(*ih) + quote);
	NS_STAT_INC(s, icmp_unreach_tx);
	ns_ipv4_output(s, m, dst, IPPROTO_ICMP);
}

/* An error about a datagram we sent: the quoted header must be ours and
 * whole, with the 8 bytes of L4 header RFC 792 guarantees. Only TCP has
 * someone to tell; UDP senders here are fire-and-forget. */
static void icmp_error_input(ns_stack_t *s, uint8_t type, uint8_t code, const uint8_t *q,
			     uint32_t qlen)
{
	const struct rte_ipv4_hdr *inner = (const struct rte_ipv4_hdr *)q;
	uint32_t hl;

	NS_STAT_INC(s, icmp_unreach_rx);
	if (unlikely(qlen < sizeof(*inner)))
		goto bad;
	hl = rte_ipv4_hdr_len(inner);
	if (unlikely((inner->version_ihl >> 4) != 4 || hl < sizeof(*inner) || qlen < hl + 8 ||
		     inner->src_addr != s->p.ip))
		goto bad;
	if (inner->next_proto_id == IPPROTO_TCP)
		ns_tcp_icmp_error(s, inner, (uint16_t)RTE_MIN(qlen, 0xffffu), type, code);
	return;
bad:
	NS_STAT_INC(s, icmp_rx_bad);
}

/* Validates the message at L4 (LEN bytes) and handles everything except
 * sending an echo reply. Returns true when L4 is an echo request that
 * deserves a reply. */
static bool icmp_input_common(ns_stack_t *s, const struct rte_ipv4_hdr *ip, const uint8_t *l4,
			      uint32_t len)
{
	const struct rte_icmp_hdr *ih = (const struct rte_icmp_hdr *)l4;

	NS_STAT_INC(s, icmp_rx);
	if (unlikely(len < sizeof(*ih))) {
		NS_STAT_INC(s, icmp_rx_bad);
		return false;
	}
	if (unlikely(rte_raw_cksum(l4, len) != 0xffff)) {
		NS_STAT_INC(s, icmp_rx_bad_csum);
		return false;
	}
	switch (ih->icmp_type) {
	case RTE_IP_ICMP_ECHO_REQUEST:
		/* RFC 1122 §3.2.2.6 lets a host ignore broadcast echoes;
		 * answering them is how smurf amplification works. */
		return ip->dst_addr == s->p.ip;
	case ICMP_DEST_UNREACH:
		icmp_error_input(s, ih->icmp_type, ih->icmp_code, l4 + sizeof(*ih),
				 len - (uint32_t)sizeof(*ih));
		return false;
	default:
		return false;
	}
}

void ns_icmp_input(ns_stack_t *s, struct rte_mbuf *m, const struct rte_ipv4_hdr *ip)
{
	struct rte_icmp_hdr *ih = rte_pktmbuf_mtod(m, struct rte_icmp_hdr *);
	uint32_t len = rte_pktmbuf_data_len(m), dst;

	if (!icmp_input_common(s, ip, (const uint8_t *)ih, len)) {
		rte_pktmbuf_free(m);
		return;
	}
	/* Reply in place (RFC 792: same identifier, sequence and data). The
	 * IP header lives in the headroom ns_ipv4_output is about to reuse,
	 * so take the address first. */
	dst = ip->src_addr;
	ih->icmp_type = RTE_IP_ICMP_ECHO_REPLY;
	ih->icmp_code = 0;
	ih->icmp_cksum = 0;
	ih->icmp_cksum = (uint16_t)~rte_raw_cksum(ih, len);
	NS_STAT_INC(s, icmp_echo_replies);
	ns_ipv4_output(s, m, dst, IPPROTO_ICMP);
}

void ns_icmp_input_linear(ns_stack_t *s, const struct rte_ipv4_hdr *ip, const uint8_t *l4,
			  uint16_t l4_len)
{
	struct rte_icmp_hdr hdr;
	uint32_t sum;

	if (!icmp_input_common(s, ip, l4, l4_len))
		return;
	/* The request is in the reassembly scratch buffer; the reply's header
	 * is built aside and its data fragmented straight out of the request. */
	memcpy(&hdr, l4, sizeof(hdr));
	hdr.icmp_type = RTE_IP_ICMP_ECHO_REPLY;
	hdr.icmp_code = 0;
	hdr.icmp_cksum = 0;
	sum = __rte_raw_cksum(&hdr, sizeof(hdr), 0);
	sum = __rte_raw_cksum(l4 + sizeof(hdr), l4_len - sizeof(hdr), sum);
	hdr.icmp_cksum = (uint16_t)~__rte_raw_cksum_reduce(sum);
	NS_STAT_INC(s, icmp_echo_replies);
	ns_ipv4_output_buf(s, ip->src_addr, IPPROTO_ICMP, &hdr, sizeof(hdr), l4 + sizeof(hdr),
			   l4_len - sizeof(hdr));
}
