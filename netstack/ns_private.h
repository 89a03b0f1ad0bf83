/* ns_private - what the netstack modules share with each other, and with
 * nobody else (STYLE.md #3).
 *
 * Module ownership:
 *   ns_stack.c   stack object, clock, timers, counters, input dispatch
 *   ns_eth.c     Ethernet in/out
 *   ns_arp.c     ARP cache, resolution queue, gratuitous ARP
 *   ns_ipv4.c    IPv4 validation, output/routing, fragment reassembly
 *   ns_icmp.c    echo, unreachable in/out
 *   ns_udp.c     UDP sockets
 *   ns_tcp*.c    TCP (state machine, output, timers, congestion control)
 *
 * Packet conventions inside the stack:
 *   - Frames are single-segment mbufs. On input each layer adjusts the mbuf
 *     so data starts at its own header before passing it up; the IPv4 header
 *     is passed alongside (read-only) for pseudo-header checksums, and the
 *     mbuf's data_len is already trimmed to the IP total length. That header
 *     lives in the mbuf's headroom: a layer that reuses the mbuf for a reply
 *     must copy what it needs from it before prepending.
 *   - On output each layer prepends its header (rte_pktmbuf_prepend); mbufs
 *     are allocated with ns_pkt_alloc, which leaves room for every header.
 *   - Every function that takes an mbuf takes ownership of it, on every
 *     path, including errors. */
#ifndef NS_PRIVATE_H
#define NS_PRIVATE_H

#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "ns.h"
#include "sl_timer.h"

struct ns_arp;
struct ns_ipv4;
struct ns_icmp;
struct ns_udp;
struct ns_tcp;

struct ns_stack {
	ns_stack_params_t p;
	uint64_t now_us;
	sl_timer_wheel_t *wheel; /* every timer of this stack */
	ns_stats_t stats;
	uint32_t netmask;        /* network order, from p.prefix_len */
	struct ns_arp *arp;
	struct ns_ipv4 *ipv4;
	struct ns_udp *udp;
	struct ns_tcp *tcp;
	struct ns_icmp *icmp;    /* error rate limiter */
};

#define NS_STAT_INC(s, name) ((s)->stats.name++)
#define NS_STAT_ADD(s, name, n) ((s)->stats.name += (n))

/* Headroom every outgoing packet needs: Ethernet + IPv4 with options + TCP
 * with options. ns_pkt_alloc guarantees it. */
#define NS_HDR_ROOM (RTE_ETHER_HDR_LEN + 60 + 60)

/* ns_pkt_alloc - an empty mbuf from the stack's pool, with data_off set so
 * that at least NS_HDR_ROOM bytes of headroom remain. NULL when the pool is
 * empty (counted in eth_tx_drop_nombuf). */
struct rte_mbuf *ns_pkt_alloc(ns_stack_t *s);

/* ---- ns_eth.c ---- */
void ns_eth_input(ns_stack_t *s, struct rte_mbuf *m);
/* Prepend an Ethernet header (src = our MAC) and hand M to the tx callback. */
void ns_eth_output(ns_stack_t *s, struct rte_mbuf *m, const struct rte_ether_addr *dst,
		   uint16_t ethertype);

/* ---- ns_arp.c ---- */
int ns_arp_create(ns_stack_t *s);
void ns_arp_destroy(ns_stack_t *s);
void ns_arp_input(ns_stack_t *s, struct rte_mbuf *m);   /* data at ARP header */
/* Send the IPv4 packet M (data at the IP header) to NEXT_HOP: directly if
 * the MAC is known, else queued while a request goes out. */
void ns_arp_output(ns_stack_t *s, struct rte_mbuf *m, uint32_t next_hop);
void ns_arp_announce(ns_stack_t *s);

/* ---- ns_ipv4.c ---- */
int ns_ipv4_create(ns_stack_t *s);
void ns_ipv4_destroy(ns_stack_t *s);
void ns_ipv4_input(ns_stack_t *s, struct rte_mbuf *m);  /* data at IP header */
/* ns_ipv4_output - M's data starts at the L4 header, with its checksum
 * already final. Prepends the IPv4 header (src = our IP, DF set for TCP,
 * fragments larger datagrams for UDP/ICMP), routes (on-link or gateway) and
 * passes to ARP. 0 or SL_EUNREACH / SL_ENOMEM; M is consumed either way.
 * A TCP segment larger than the MTU is refused with SL_EINVAL (DF). */
int ns_ipv4_output(ns_stack_t *s, struct rte_mbuf *m, uint32_t dst, uint8_t proto);
/* ns_ipv4_output_buf - like ns_ipv4_output for a datagram too large for one
 * mbuf (UDP/ICMP only): the L4 datagram is HDR (HDR_LEN bytes, even, with
 * its checksum final) followed by DATA; both are copied into fragments, so
 * nothing is owned. 0, SL_EINVAL (over 64 KB, or TCP), SL_EUNREACH,
 * SL_ENOMEM (fragments already sent are not recalled). */
int ns_ipv4_output_buf(ns_stack_t *s, uint32_t dst, uint8_t proto, const void *hdr,
		       uint16_t hdr_len, const void *data, size_t data_len);
/* NS_IPV4_IS_MCAST - H (host order) is class D. DPDK's RTE_IS_IPV4_MCAST
 * shifts a signed 224 into the sign bit, which UBSan rejects. */
#define NS_IPV4_IS_MCAST(h) (((uint32_t)(h) >> 28) == 0xe)
/* Pseudo-header checksum helpers over a contiguous L4 segment. */
uint16_t ns_ipv4_l4_cksum(uint32_t src, uint32_t dst, uint8_t proto, const void *l4,
			  uint16_t l4_len);

/* ---- ns_icmp.c ---- */
/* ICMP errors we originate are limited by a token bucket (RFC 1812 §4.3.2.8):
 * at most NS_ICMP_ERR_BURST back to back, refilled at NS_ICMP_ERR_RATE/s. */
#define NS_ICMP_ERR_BURST 50
#define NS_ICMP_ERR_RATE 100
int ns_icmp_create(ns_stack_t *s);
void ns_icmp_destroy(ns_stack_t *s);
void ns_icmp_input(ns_stack_t *s, struct rte_mbuf *m, const struct rte_ipv4_hdr *ip);
/* ns_icmp_input_linear - a reassembled ICMP message too large for one mbuf:
 * IP is the (rewritten, unfragmented) header, L4 the message, both in a
 * contiguous buffer valid only during the call. Nothing is owned. */
void ns_icmp_input_linear(ns_stack_t *s, const struct rte_ipv4_hdr *ip, const uint8_t *l4,
			  uint16_t l4_len);
/* Send "destination unreachable" CODE about the datagram whose IP header is
 * ORIG_IP (read-only; the caller keeps ownership of its mbuf). Rate-limited;
 * never sent about ICMP errors, broadcasts or fragments other than the first. */
void ns_icmp_send_unreach(ns_stack_t *s, const struct rte_ipv4_hdr *orig_ip, uint16_t orig_len,
			  uint8_t code);

/* ---- ns_udp.c ---- */
int ns_udp_create(ns_stack_t *s);
void ns_udp_destroy(ns_stack_t *s);
void ns_udp_input(ns_stack_t *s, struct rte_mbuf *m, const struct rte_ipv4_hdr *ip);
/* ns_udp_input_linear - as ns_icmp_input_linear, for UDP. */
void ns_udp_input_linear(ns_stack_t *s, const struct rte_ipv4_hdr *ip, const uint8_t *l4,
			 uint16_t l4_len);

/* ---- ns_tcp*.c ---- */
int ns_tcp_create(ns_stack_t *s);
void ns_tcp_destroy(ns_stack_t *s);
void ns_tcp_input(ns_stack_t *s, struct rte_mbuf *m, const struct rte_ipv4_hdr *ip);
void ns_tcp_flush(ns_stack_t *s);
/* An ICMP unreachable/frag-needed arrived about a TCP segment we sent. */
void ns_tcp_icmp_error(ns_stack_t *s, const struct rte_ipv4_hdr *orig_ip, uint16_t orig_len,
		       uint8_t type, uint8_t code);

#endif
