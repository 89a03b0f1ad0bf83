/* ns_stack - the stack object: parameters, lifecycle, clock, counters and
 * the entry points of ns.h that belong to no single protocol module.
 *
 * The stack owns one timer wheel; every module arms its timers there, so
 * ns_stack_poll() fires them all and ns_stack_next_deadline() is the single
 * sleep timeout of the lcore. */
#include <stdlib.h>
#include <string.h>

#include <rte_mbuf.h>

#include "ns_private.h"
#include "sl_err.h"
#include "sl_time.h"

/* Data offset of every mbuf we allocate for output. NS_HDR_ROOM (134) is
 * more than DPDK's default headroom (128), and rounding it to 8 puts the IPv4
 * header of a TCP/UDP packet without options on a 4-byte boundary. */
#define NS_PKT_DATA_OFF RTE_ALIGN_CEIL(NS_HDR_ROOM, 8)

#define NS_STATS_NAME(name) #name,
const char *const ns_stats_names[] = {NS_STATS_FIELDS(NS_STATS_NAME) NULL};
#undef NS_STATS_NAME

void ns_stack_params_default(ns_stack_params_t *p)
{
	memset(p, 0, sizeof(*p));
	p->prefix_len = 24;
	p->mtu = 1500;
	p->arp_reachable_us = 60 * SL_US_PER_S;
	p->arp_cache_size = 1024;
	p->arp_queue_max = 8;
	p->reasm_mem_max = 4u << 20;
	p->reasm_timeout_us = 30 * SL_US_PER_S;
	p->max_conns = 16384;
	p->tcp_mem_max = 256ull << 20;
	p->sndbuf = 1u << 20;
	p->rcvbuf = 1u << 20;
	p->syn_backlog = 256;
	p->cc = NS_CC_CUBIC;
	p->timestamps = true;
	p->sack = true;
	p->window_scaling = true;
	p->delack_us = 40 * SL_US_PER_MS;
	p->rto_min_us = 200 * SL_US_PER_MS;
	p->rto_max_us = 60 * SL_US_PER_S;
	p->keepalive_idle_us = 2 * 3600 * SL_US_PER_S;
	p->keepalive_intvl_us = 75 * SL_US_PER_S;
	p->keepalive_probes = 9;
	p->time_wait_us = 60 * SL_US_PER_S;
	p->time_wait_max = 4096;
	p->challenge_ack_limit = 1000;
}

/* Rejects what would make a module misbehave later rather than fail now. */
static int stack_params_check(const ns_stack_params_t *p, const char **error_r)
{
	static const uint8_t zero_mac[6];

	if (p->pool == NULL || p->tx == NULL) {
		*error_r = "pool and tx callback are required";
		return SL_EINVAL;
	}
	if (p->ip == 0 || p->prefix_len > 32) {
		*error_r = "bad IPv4 address or prefix length";
		return SL_EINVAL;
	}
	if (memcmp(p->mac, zero_mac, sizeof(zero_mac)) == 0 || (p->mac[0] & 1) != 0) {
		*error_r = "MAC address must be a non-zero unicast address";
		return SL_EINVAL;
	}
	/* RFC 791: every host must accept 576-byte datagrams, and every link
	 * carries at least 68; below that fragmentation cannot work. */
	if (p->mtu < 68 || p->mtu > 65000) {
		*error_r = "mtu must be within 68..65000";
		return SL_EINVAL;
	}
	if (p->arp_cache_size == 0 || p->arp_queue_max == 0 || p->arp_reachable_us == 0) {
		*error_r = "ARP cache size, queue length and lifetime must be non-zero";
		return SL_EINVAL;
	}
	if (p->reasm_timeout_us == 0) {
		*error_r = "reassembly timeout must be non-zero";
		return SL_EINVAL;
	}
	if (rte_pktmbuf_data_room_size(p->pool) < NS_PKT_DATA_OFF + 576) {
		*error_r = "mbuf data room too small for headers plus a 576-byte datagram";
		return SL_EINVAL;
	}
	return 0;
}

ns_stack_t *ns_stack_create(const ns_stack_params_t *p, const char **error_r)
{
	ns_stack_t *s;

	if (stack_params_check(p, error_r) < 0)
		return NULL;
	/* Per-lcore state starts on its own cache line (STYLE.md #12). */
	s = aligned_alloc(RTE_CACHE_LINE_SIZE, RTE_ALIGN_CEIL(sizeof(*s), RTE_CACHE_LINE_SIZE));
	if (s != NULL)
		memset(s, 0, sizeof(*s));
	if (s == NULL) {
		*error_r = "out of memory (stack)";
		return NULL;
	}
	s->p = *p;
	s->now_us = p->now_us;
	s->netmask = p->prefix_len == 0 ? 0 : rte_cpu_to_be_32(~0u << (32 - p->prefix_len));
	s->wheel = sl_timer_wheel_create(p->now_us, 0);
	if (s->wheel == NULL) {
		*error_r = "out of memory (timer wheel)";
		goto fail;
	}
	if (ns_arp_create(s) < 0) {
		*error_r = "out of memory (ARP cache)";
		goto fail;
	}
	if (ns_ipv4_create(s) < 0) {
		*error_r = "out of memory (IPv4 reassembly)";
		goto fail;
	}
	if (ns_icmp_create(s) < 0) {
		*error_r = "out of memory (ICMP)";
		goto fail;
	}
	if (ns_udp_create(s) < 0) {
		*error_r = "out of memory (UDP)";
		goto fail;
	}
	if (ns_tcp_create(s) < 0) {
		*error_r = "out of memory (TCP)";
		goto fail;
	}
	return s;
fail:
	ns_stack_destroy(&s);
	return NULL;
}

/* Top-down: TCP may still emit RSTs through IPv4 and ARP while it tears its
 * connections down, so the lower layers go last, and the wheel after every
 * module has cancelled its timers. Each module destroy tolerates a module
 * that was never created (partial ns_stack_create). */
void ns_stack_destroy(ns_stack_t **sp)
{
	ns_stack_t *s = *sp;

	if (s == NULL)
		return;
	if (s->wheel != NULL) {
		ns_tcp_destroy(s);
		ns_udp_destroy(s);
		ns_icmp_destroy(s);
		ns_ipv4_destroy(s);
		ns_arp_destroy(s);
		sl_timer_wheel_destroy(&s->wheel);
	}
	free(s);
	*sp = NULL;
}

/* Timer callbacks may queue TCP output (delayed ACKs, retransmissions), so
 * the flush that ns_stack_flush() does for input also follows every run. */
void ns_stack_poll(ns_stack_t *s, uint64_t now_us)
{
	/* The clock is monotonic by contract; a caller that goes backwards
	 * must not make expiries in the past look like the future. */
	if (likely(now_us > s->now_us))
		s->now_us = now_us;
	if (sl_timer_wheel_run(s->wheel, s->now_us) > 0)
		ns_tcp_flush(s);
}

void ns_stack_input(ns_stack_t *s, struct rte_mbuf *m)
{
	ns_eth_input(s, m);
}

void ns_stack_flush(ns_stack_t *s)
{
	ns_tcp_flush(s);
}

uint64_t ns_stack_next_deadline(const ns_stack_t *s)
{
	return sl_timer_wheel_next(s->wheel);
}

void ns_stack_announce(ns_stack_t *s)
{
	ns_arp_announce(s);
}

uint32_t ns_stack_ip(const ns_stack_t *s)
{
	return s->p.ip;
}

void ns_stack_get_stats(const ns_stack_t *s, ns_stats_t *r)
{
	*r = s->stats;
}

struct rte_mbuf *ns_pkt_alloc(ns_stack_t *s)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(s->p.pool);

	if (unlikely(m == NULL)) {
		NS_STAT_INC(s, eth_tx_drop_nombuf);
		return NULL;
	}
	/* stack_params_check guaranteed buf_len > NS_PKT_DATA_OFF. */
	m->data_off = NS_PKT_DATA_OFF;
	return m;
}
