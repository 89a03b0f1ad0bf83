/* ut_pkt - hand-built frames and a capturing tx callback for netstack unit
 * tests (ARP, IPv4, ICMP, UDP). Addresses follow the test network of
 * DESIGN.md: we are 198.18.0.2/24, the peer is 198.18.0.1. */
#ifndef UT_PKT_H
#define UT_PKT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rte_byteorder.h>

#include "ns.h"

struct rte_mbuf;
struct rte_ipv4_hdr;

#define UT_CAP_MAX 256

/* Frames the stack sent, in order; owns them until popped or cleared. */
typedef struct ut_cap {
	struct rte_mbuf *m[UT_CAP_MAX];
	unsigned n;
	unsigned overflow; /* frames freed because the array was full */
} ut_cap_t;

extern const uint8_t ut_mac_us[6], ut_mac_peer[6], ut_mac_gw[6], ut_mac_bcast[6];
/* Network order. */
extern const uint32_t ut_ip_us, ut_ip_peer, ut_ip_gw, ut_ip_far, ut_ip_bcast;

/* UT_IP - a network-order address (unsigned shifts: DPDK's RTE_IPV4 shifts
 * signed ints, which UBSan rejects for a >= 128). */
#define UT_IP(a, b, c, d)                                                      \
	RTE_BE32(((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) |      \
			 ((uint32_t)(c) << 8) | (uint32_t)(d))

#define UT_T0 1000000ull /* the clock at creation: 1 s */

/* ut_cap_tx - ns_tx_fn_t that appends to the ut_cap_t in CTX. */
void ut_cap_tx(void *ctx, struct rte_mbuf *m);
/* ut_cap_take - remove and return the oldest captured frame (NULL if none). */
struct rte_mbuf *ut_cap_take(ut_cap_t *c);
/* ut_cap_clear - free every captured frame. */
void ut_cap_clear(ut_cap_t *c);

/* ut_params - defaults plus our MAC/IP, the ut_pool, the capture, and the
 * gateway ut_ip_gw. */
void ut_params(ns_stack_params_t *p, ut_cap_t *cap);

/* ut_mbuf - a single-segment mbuf from the pool holding LEN bytes of BUF. */
struct rte_mbuf *ut_mbuf(const void *buf, size_t len);
/* ut_input - ns_stack_input of a copy of BUF. */
void ut_input(ns_stack_t *s, const void *buf, size_t len);

/* Frame builders: write a frame into BUF (room for 64 KB + headers is the
 * caller's business) and return its length. */
size_t ut_eth(uint8_t *buf, const uint8_t dst[6], const uint8_t src[6], uint16_t type);
size_t ut_arp(uint8_t *buf, const uint8_t eth_dst[6], uint16_t op, const uint8_t sha[6],
	      uint32_t sip, const uint8_t tha[6], uint32_t tip);
/* IPv4 frame from the peer's MAC to ours: header (IHL 5, valid checksum)
 * plus L4 bytes. FRAG is the host-order flags+offset field. */
size_t ut_ipv4(uint8_t *buf, uint32_t src, uint32_t dst, uint8_t proto, uint16_t id,
	       uint16_t frag, const void *l4, size_t l4_len);
/* L4 builders: write into L4 and return the length. */
size_t ut_udp(uint8_t *l4, uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport,
	      const void *data, size_t len);
size_t ut_icmp_echo(uint8_t *l4, uint16_t id, uint16_t seq, const void *data, size_t len);

/* Views of a captured frame (data at the Ethernet header). */
uint16_t ut_ethertype(const struct rte_mbuf *m);
const uint8_t *ut_eth_dst(const struct rte_mbuf *m);
/* The IPv4 header of an IPv4 frame, after asserting it is well formed. */
const struct rte_ipv4_hdr *ut_ip_of(const struct rte_mbuf *m);
/* The IP payload and its length. */
const uint8_t *ut_l4_of(const struct rte_mbuf *m, size_t *len_r);

/* ut_learn_peer - teach S the peer's (or gateway's) MAC with an ARP request
 * to us, and drop the reply it sends. */
void ut_learn(ns_stack_t *s, ut_cap_t *cap, const uint8_t mac[6], uint32_t ip);

/* ut_stats - a snapshot of S's counters (a convenience for asserts). */
ns_stats_t ut_stats(const ns_stack_t *s);

/* A stack with capture, for cmocka setup/teardown. The teardown destroys
 * the stack and asserts that the pool got every mbuf back. */
typedef struct ut_fx {
	ut_cap_t cap;
	ns_stack_t *s;
	ns_stack_params_t p;
	unsigned avail0;
} ut_fx_t;

int ut_fx_setup(void **state);
int ut_fx_teardown(void **state);
/* ut_fx_restart - re-create the stack from fx->p (after a test changed it). */
void ut_fx_restart(ut_fx_t *fx);

/* A UDP receiver that records what it got (payload up to 64 KB). */
typedef struct ut_udp_sink {
	unsigned count;
	uint32_t src_ip;
	uint16_t src_port, dst_port;
	size_t len;
	uint8_t data[65536];
} ut_udp_sink_t;

void ut_udp_sink_fn(void *ctx, uint32_t src_ip, uint16_t src_port, uint16_t dst_port,
		    sl_slice_t payload);

#endif
