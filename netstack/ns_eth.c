/* ns_eth - Ethernet II framing (no VLANs): the bottom of the stack. */
#include <string.h>

#include <rte_ether.h>
#include <rte_mbuf.h>

#include "ns_private.h"

/* 802.3 minimum frame without the FCS; shorter frames are padded on output
 * because not every PMD (net_tap, for one) pads them itself. */
#define NS_ETH_MIN_FRAME 60

void ns_eth_input(ns_stack_t *s, struct rte_mbuf *m)
{
	const struct rte_ether_hdr *eh;
	uint16_t type;

	NS_STAT_INC(s, eth_rx_frames);
	NS_STAT_ADD(s, eth_rx_bytes, rte_pktmbuf_pkt_len(m));
	/* The layers above read headers straight from the first segment; a
	 * chained frame (a jumbo RX, a PMD with scatter on) is flattened once
	 * here, or dropped when the first segment has no room for that. */
	if (unlikely(m->nb_segs > 1) && rte_pktmbuf_linearize(m) < 0) {
		NS_STAT_INC(s, eth_rx_drop_multiseg);
		goto drop;
	}
	if (unlikely(rte_pktmbuf_data_len(m) < RTE_ETHER_HDR_LEN)) {
		NS_STAT_INC(s, eth_rx_drop_short);
		goto drop;
	}
	eh = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
	if (!rte_is_same_ether_addr(&eh->dst_addr, (const struct rte_ether_addr *)s->p.mac) &&
	    !rte_is_broadcast_ether_addr(&eh->dst_addr)) {
		NS_STAT_INC(s, eth_rx_drop_not_for_us);
		goto drop;
	}
	type = rte_be_to_cpu_16(eh->ether_type);
	rte_pktmbuf_adj(m, RTE_ETHER_HDR_LEN);
	switch (type) {
	case RTE_ETHER_TYPE_IPV4:
		ns_ipv4_input(s, m);
		return;
	case RTE_ETHER_TYPE_ARP:
		ns_arp_input(s, m);
		return;
	default:
		/* VLAN tags, IPv6, LLDP, 802.3 length fields (< 0x600): none of
		 * them is ours. */
		NS_STAT_INC(s, eth_rx_drop_ethertype);
		goto drop;
	}
drop:
	rte_pktmbuf_free(m);
}

void ns_eth_output(ns_stack_t *s, struct rte_mbuf *m, const struct rte_ether_addr *dst,
		   uint16_t ethertype)
{
	struct rte_ether_hdr *eh;
	uint32_t len;

	eh = (struct rte_ether_hdr *)rte_pktmbuf_prepend(m, RTE_ETHER_HDR_LEN);
	if (unlikely(eh == NULL)) {
		/* Every mbuf comes from ns_pkt_alloc or is a received frame
		 * whose headers we stripped, so this is a caller's bug; drop
		 * rather than crash the appliance. */
		NS_STAT_INC(s, eth_tx_drop_nombuf);
		rte_pktmbuf_free(m);
		return;
	}
	rte_ether_addr_copy(dst, &eh->dst_addr);
	rte_ether_addr_copy((const struct rte_ether_addr *)s->p.mac, &eh->src_addr);
	eh->ether_type = rte_cpu_to_be_16(ethertype);
	len = rte_pktmbuf_pkt_len(m);
	if (unlikely(len < NS_ETH_MIN_FRAME)) {
		char *pad = rte_pktmbuf_append(m, (uint16_t)(NS_ETH_MIN_FRAME - len));

		if (pad != NULL)
			memset(pad, 0, NS_ETH_MIN_FRAME - len);
	}
	NS_STAT_INC(s, eth_tx_frames);
	NS_STAT_ADD(s, eth_tx_bytes, rte_pktmbuf_pkt_len(m));
	s->p.tx(s->p.tx_ctx, m);
}
