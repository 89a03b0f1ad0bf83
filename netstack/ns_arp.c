/* ns_arp - ARP for IPv4 over Ethernet (RFC 826, RFC 1122 §2.3.2).
 *
 * The cache is a fixed array of arp_cache_size entries allocated at create,
 * found through a hash of the IPv4 address and kept on an LRU list (least
 * recently confirmed first) that picks the victim when the cache is full.
 * Each entry embeds its timer and a ring of up to arp_queue_max packets that
 * wait for the address to resolve, so nothing is allocated per packet.
 *
 * Entry life:
 *   INCOMPLETE  a request went out; packets queue. Requests are repeated
 *               every second; after NS_ARP_TRIES unanswered ones (~3 s) the
 *               queue is dropped and the entry freed (arp_resolve_failed).
 *   REACHABLE   confirmed by a reply or a request from the host; usable for
 *               arp_reachable_us.
 *   PROBE       the lifetime ran out while the entry was still in use: keep
 *               using the old address while unicast requests re-confirm it
 *               (RFC 1122 §2.3.2.1 "unicast poll"), so busy flows do not
 *               stall every minute; freed after NS_ARP_TRIES unanswered.
 * An entry not used during its lifetime is simply freed when it ends.
 *
 * Counters: arp_queue_drops counts every queued packet that was dropped
 * (queue overflow, failed resolution, eviction); arp_resolve_failed counts
 * resolutions that gave up. */
#include <stdlib.h>
#include <string.h>

#include <rte_arp.h>
#include <rte_ether.h>
#include <rte_mbuf.h>

#include "ns_private.h"
#include "sl_err.h"
#include "sl_time.h"

#define NS_ARP_TRIES 3
#define NS_ARP_RETRY_US SL_US_PER_S

enum arp_state { ARP_FREE = 0, ARP_INCOMPLETE, ARP_REACHABLE, ARP_PROBE };

struct arp_entry {
	struct arp_entry *hnext;          /* hash chain, or free list */
	struct arp_entry *prev, *next;    /* LRU list while in use */
	struct ns_arp *arp;
	uint32_t ip;                      /* network order */
	struct rte_ether_addr mac;
	uint8_t state;
	uint8_t tries;                    /* requests sent in this state */
	bool used;                        /* sent through since confirmed */
	uint32_t qhead, qlen;             /* ring in q[0..arp_queue_max) */
	struct rte_mbuf **q;
	sl_timer_t timer;
};

struct ns_arp {
	ns_stack_t *s;
	struct arp_entry *entries;
	struct rte_mbuf **qslots;
	struct arp_entry **buckets;
	uint32_t bucket_mask;
	struct arp_entry *free_list;
	struct arp_entry lru;             /* sentinel: lru.next is the oldest */
};

static void arp_timer_cb(sl_timer_t *t, void *arg);

static inline uint32_t arp_hash(const struct ns_arp *a, uint32_t ip)
{
	/* Fibonacci hashing: the low bits of addresses on one subnet differ,
	 * the multiply spreads them over the high bits we keep. */
	return ((ip * 2654435761u) >> 8) & a->bucket_mask;
}

static struct arp_entry *arp_lookup(struct ns_arp *a, uint32_t ip)
{
	struct arp_entry *e;

	for (e = a->buckets[arp_hash(a, ip)]; e != NULL; e = e->hnext)
		if (e->ip == ip)
			return e;
	return NULL;
}

static void arp_lru_unlink(struct arp_entry *e)
{
	e->prev->next = e->next;
	e->next->prev = e->prev;
}

static void arp_lru_append(struct ns_arp *a, struct arp_entry *e)
{
	e->prev = a->lru.prev;
	e->next = &a->lru;
	a->lru.prev->next = e;
	a->lru.prev = e;
}

/* Drops every packet waiting on E (counted). */
static void arp_queue_purge(ns_stack_t *s, struct arp_entry *e)
{
	uint32_t qmax = s->p.arp_queue_max;

	while (e->qlen > 0) {
		rte_pktmbuf_free(e->q[e->qhead]);
		e->qhead = (e->qhead + 1) % qmax;
		e->qlen--;
		NS_STAT_INC(s, arp_queue_drops);
	}
	e->qhead = 0;
}

static void arp_entry_free(struct ns_arp *a, struct arp_entry *e)
{
	ns_stack_t *s = a->s;
	struct arp_entry **pp;

	sl_timer_cancel(s->wheel, &e->timer);
	arp_queue_purge(s, e);
	for (pp = &a->buckets[arp_hash(a, e->ip)]; *pp != NULL; pp = &(*pp)->hnext) {
		if (*pp == e) {
			*pp = e->hnext;
			break;
		}
	}
	arp_lru_unlink(e);
	e->state = ARP_FREE;
	e->hnext = a->free_list;
	a->free_list = e;
	s->stats.arp_cache_entries--;
}

/* A fresh entry for IP, evicting the least recently confirmed one when the
 * cache is full. Never fails: the cache has at least one entry. */
static struct arp_entry *arp_entry_new(struct ns_arp *a, uint32_t ip, enum arp_state state)
{
	struct arp_entry *e;
	uint32_t h;

	if (a->free_list == NULL)
		arp_entry_free(a, a->lru.next);
	e = a->free_list;
	a->free_list = e->hnext;
	e->ip = ip;
	e->state = (uint8_t)state;
	e->tries = 0;
	e->used = false;
	e->qhead = e->qlen = 0;
	h = arp_hash(a, ip);
	e->hnext = a->buckets[h];
	a->buckets[h] = e;
	arp_lru_append(a, e);
	a->s->stats.arp_cache_entries++;
	return e;
}

/* Sends an ARP packet built from scratch. DST_MAC NULL means broadcast,
 * with a zero target hardware address (RFC 826: "don't care"). */
static void arp_send(ns_stack_t *s, uint16_t op, const struct rte_ether_addr *dst_mac,
		     uint32_t tip)
{
	static const struct rte_ether_addr zero_mac;
	struct rte_ether_addr bcast;
	struct rte_arp_hdr *ah;
	struct rte_mbuf *m;

	m = ns_pkt_alloc(s);
	if (unlikely(m == NULL))
		return;
	ah = (struct rte_arp_hdr *)rte_pktmbuf_append(m, sizeof(*ah));
	ah->arp_hardware = rte_cpu_to_be_16(RTE_ARP_HRD_ETHER);
	ah->arp_protocol = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	ah->arp_hlen = RTE_ETHER_ADDR_LEN;
	ah->arp_plen = 4;
	ah->arp_opcode = rte_cpu_to_be_16(op);
	rte_ether_addr_copy((const struct rte_ether_addr *)s->p.mac, &ah->arp_data.arp_sha);
	ah->arp_data.arp_sip = s->p.ip;
	rte_ether_addr_copy(dst_mac != NULL ? dst_mac : &zero_mac, &ah->arp_data.arp_tha);
	ah->arp_data.arp_tip = tip;
	memset(&bcast, 0xff, sizeof(bcast));
	ns_eth_output(s, m, dst_mac != NULL ? dst_mac : &bcast, RTE_ETHER_TYPE_ARP);
}

static void arp_send_request(ns_stack_t *s, struct arp_entry *e, bool unicast)
{
	NS_STAT_INC(s, arp_tx_requests);
	e->tries++;
	sl_timer_arm(s->wheel, &e->timer, s->now_us + NS_ARP_RETRY_US);
	arp_send(s, RTE_ARP_OP_REQUEST, unicast ? &e->mac : NULL, e->ip);
}

/* Sends what waited on E, oldest first. Reentrancy: the tx callback may feed
 * frames back into this stack (the unit tests' wire does), which may evict
 * or re-resolve E, so every packet is taken off the ring before it is sent
 * and the state is checked again each turn. */
static void arp_queue_flush(ns_stack_t *s, struct arp_entry *e)
{
	uint32_t qmax = s->p.arp_queue_max;

	while (e->qlen > 0 && e->state != ARP_INCOMPLETE && e->state != ARP_FREE) {
		struct rte_mbuf *m = e->q[e->qhead];
		struct rte_ether_addr mac = e->mac;

		e->qhead = (e->qhead + 1) % qmax;
		e->qlen--;
		ns_eth_output(s, m, &mac, RTE_ETHER_TYPE_IPV4);
	}
}

/* The host confirmed that IP is at MAC. */
static void arp_entry_confirm(ns_stack_t *s, struct arp_entry *e, const struct rte_ether_addr *mac)
{
	struct ns_arp *a = s->arp;

	rte_ether_addr_copy(mac, &e->mac);
	e->state = ARP_REACHABLE;
	e->tries = 0;
	e->used = false;
	arp_lru_unlink(e);
	arp_lru_append(a, e);
	sl_timer_arm(s->wheel, &e->timer, s->now_us + s->p.arp_reachable_us);
	arp_queue_flush(s, e);
}

static void arp_timer_cb(sl_timer_t *t, void *arg)
{
	struct arp_entry *e = arg;
	struct ns_arp *a = e->arp;
	ns_stack_t *s = a->s;

	(void)t;
	switch (e->state) {
	case ARP_INCOMPLETE:
		if (e->tries < NS_ARP_TRIES) {
			arp_send_request(s, e, false);
			return;
		}
		NS_STAT_INC(s, arp_resolve_failed);
		arp_entry_free(a, e);
		return;
	case ARP_REACHABLE:
		if (!e->used) {
			arp_entry_free(a, e);
			return;
		}
		e->state = ARP_PROBE;
		e->tries = 0;
		arp_send_request(s, e, true);
		return;
	case ARP_PROBE:
		if (e->tries < NS_ARP_TRIES) {
			arp_send_request(s, e, true);
			return;
		}
		arp_entry_free(a, e);
		return;
	default:
		return;
	}
}

int ns_arp_create(ns_stack_t *s)
{
	struct ns_arp *a;
	uint32_t n = s->p.arp_cache_size, nb = 1;

	while (nb < n && nb < (1u << 30))
		nb <<= 1;
	a = calloc(1, sizeof(*a));
	if (a == NULL)
		return SL_ENOMEM;
	s->arp = a;
	a->s = s;
	a->lru.prev = a->lru.next = &a->lru;
	a->bucket_mask = nb - 1;
	a->entries = calloc(n, sizeof(*a->entries));
	a->buckets = calloc(nb, sizeof(*a->buckets));
	a->qslots = calloc((size_t)n * s->p.arp_queue_max, sizeof(*a->qslots));
	if (a->entries == NULL || a->buckets == NULL || a->qslots == NULL)
		goto fail;
	for (uint32_t i = n; i-- > 0;) {
		struct arp_entry *e = &a->entries[i];

		e->arp = a;
		e->q = &a->qslots[(size_t)i * s->p.arp_queue_max];
		sl_timer_init(&e->timer, arp_timer_cb, e);
		e->hnext = a->free_list;
		a->free_list = e;
	}
	return 0;
fail:
	ns_arp_destroy(s);
	return SL_ENOMEM;
}

void ns_arp_destroy(ns_stack_t *s)
{
	struct ns_arp *a = s->arp;

	if (a == NULL)
		return;
	if (a->entries != NULL) {
		while (a->lru.next != &a->lru)
			arp_entry_free(a, a->lru.next);
	}
	free(a->qslots);
	free(a->buckets);
	free(a->entries);
	free(a);
	s->arp = NULL;
}

/* Addresses that can never be a neighbour's: RFC 1122 §3.2.1.3 forbids them
 * as sources, and learning them would only let a peer poison the cache. */
static bool arp_sip_is_bogus(const ns_stack_t *s, uint32_t sip)
{
	uint32_t h = rte_be_to_cpu_32(sip);

	return NS_IPV4_IS_MCAST(h) || h == 0xffffffffu || (h >> 24) == 127 ||
	       (s->p.prefix_len < 31 && sip == (s->p.ip | ~s->netmask));
}

void ns_arp_input(ns_stack_t *s, struct rte_mbuf *m)
{
	struct rte_arp_hdr *ah;
	struct rte_ether_addr sha;
	struct arp_entry *e;
	uint32_t sip, tip;
	uint16_t op;

	NS_STAT_INC(s, arp_rx);
	if (unlikely(rte_pktmbuf_data_len(m) < sizeof(*ah)))
		goto bad;
	ah = rte_pktmbuf_mtod(m, struct rte_arp_hdr *);
	op = rte_be_to_cpu_16(ah->arp_opcode);
	if (unlikely(ah->arp_hardware != rte_cpu_to_be_16(RTE_ARP_HRD_ETHER) ||
		     ah->arp_protocol != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4) ||
		     ah->arp_hlen != RTE_ETHER_ADDR_LEN || ah->arp_plen != 4 ||
		     (op != RTE_ARP_OP_REQUEST && op != RTE_ARP_OP_REPLY)))
		goto bad;
	sha = ah->arp_data.arp_sha;
	sip = ah->arp_data.arp_sip;
	tip = ah->arp_data.arp_tip;
	if (unlikely(!rte_is_valid_assigned_ether_addr(&sha)))
		goto bad;
	/* Somebody else claims our address (or our own frame looped back):
	 * never let it into the cache. A real conflict is an operator's
	 * problem (RFC 5227 §2.4); we keep our address and count it. */
	if (unlikely(sip == s->p.ip))
		goto bad;
	if (unlikely(arp_sip_is_bogus(s, sip)))
		goto bad;

	/* RFC 826 "merge": an entry we already have is refreshed by any ARP
	 * packet from that host, including gratuitous ones. */
	e = sip != 0 ? arp_lookup(s->arp, sip) : NULL;
	if (e != NULL)
		arp_entry_confirm(s, e, &sha);
	if (tip != s->p.ip)
		goto done;
	if (op == RTE_ARP_OP_REPLY)
		goto done; /* unsolicited replies never create entries */

	/* A request for us: the asker is about to talk to us, so learn it
	 * (RFC 826), unless it is an RFC 5227 probe (sender IP 0). */
	if (e == NULL && sip != 0) {
		e = arp_entry_new(s->arp, sip, ARP_INCOMPLETE);
		arp_entry_confirm(s, e, &sha);
	}
	/* Answer in place: the request's buffer has the right size and the
	 * headroom the Ethernet header needs. */
	rte_pktmbuf_trim(m, (uint16_t)(rte_pktmbuf_data_len(m) - sizeof(*ah)));
	ah->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REPLY);
	ah->arp_data.arp_tha = sha;
	ah->arp_data.arp_tip = sip;
	rte_ether_addr_copy((const struct rte_ether_addr *)s->p.mac, &ah->arp_data.arp_sha);
	ah->arp_data.arp_sip = s->p.ip;
	NS_STAT_INC(s, arp_tx_replies);
	ns_eth_output(s, m, &sha, RTE_ETHER_TYPE_ARP);
	return;
bad:
	NS_STAT_INC(s, arp_rx_bad);
done:
	rte_pktmbuf_free(m);
}

/* The Ethernet address for destinations ARP does not resolve: broadcast
 * (limited and directed) and multicast (RFC 1112 §6.4). */
static bool arp_static_mac(const ns_stack_t *s, uint32_t next_hop, struct rte_ether_addr *mac)
{
	uint32_t h = rte_be_to_cpu_32(next_hop);

	if (h == 0xffffffffu || (s->p.prefix_len < 31 && next_hop == (s->p.ip | ~s->netmask))) {
		memset(mac, 0xff, sizeof(*mac));
		return true;
	}
	if (NS_IPV4_IS_MCAST(h)) {
		mac->addr_bytes[0] = 0x01;
		mac->addr_bytes[1] = 0x00;
		mac->addr_bytes[2] = 0x5e;
		mac->addr_bytes[3] = (uint8_t)((h >> 16) & 0x7f);
		mac->addr_bytes[4] = (uint8_t)(h >> 8);
		mac->addr_bytes[5] = (uint8_t)h;
		return true;
	}
	return false;
}

void ns_arp_output(ns_stack_t *s, struct rte_mbuf *m, uint32_t next_hop)
{
	struct ns_arp *a = s->arp;
	struct rte_ether_addr mac;
	struct arp_entry *e;
	uint32_t qmax = s->p.arp_queue_max;

	e = arp_lookup(a, next_hop);
	if (likely(e != NULL && e->state != ARP_INCOMPLETE)) {
		e->used = true;
		mac = e->mac;
		ns_eth_output(s, m, &mac, RTE_ETHER_TYPE_IPV4);
		return;
	}
	if (e == NULL) {
		if (arp_static_mac(s, next_hop, &mac)) {
			ns_eth_output(s, m, &mac, RTE_ETHER_TYPE_IPV4);
			return;
		}
		e = arp_entry_new(a, next_hop, ARP_INCOMPLETE);
		arp_send_request(s, e, false);
		/* The tx callback may have re-entered the stack and resolved
		 * (or evicted) the entry already. */
		if (unlikely(e->state != ARP_INCOMPLETE || e->ip != next_hop)) {
			ns_arp_output(s, m, next_hop);
			return;
		}
	}
	if (unlikely(e->qlen == qmax)) {
		/* Keep the newest: a retransmission supersedes what it
		 * repeats, and the oldest is the likeliest to be stale. */
		rte_pktmbuf_free(e->q[e->qhead]);
		e->qhead = (e->qhead + 1) % qmax;
		e->qlen--;
		NS_STAT_INC(s, arp_queue_drops);
	}
	e->q[(e->qhead + e->qlen) % qmax] = m;
	e->qlen++;
}

/* RFC 5227 §3 ARP Announcement: a request with our address as both sender
 * and target, so that neighbours update entries for us. */
void ns_arp_announce(ns_stack_t *s)
{
	NS_STAT_INC(s, arp_tx_gratuitous);
	arp_send(s, RTE_ARP_OP_REQUEST, NULL, s->p.ip);
}
