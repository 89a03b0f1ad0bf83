/* ns_ipv4 - IPv4 input validation, routing and output, fragmentation and
 * reassembly (RFC 791, RFC 815, RFC 1122 §3.2/§3.3).
 *
 * Reassembly design.
 *   Fragments are kept as the received mbufs themselves (data adjusted to
 *   the fragment's payload), linked through m->next in offset order, with
 *   the offset kept in m->hash.usr, which we own once the frame is ours. No
 *   copy happens until the datagram is complete.
 *
 *   RFC 815's hole list reduces to the gaps between neighbours, because the
 *   fragments we hold never overlap: any overlap drops the whole datagram
 *   (the RFC 5722 rule, which closes the teardrop and fragment-overwrite
 *   tricks against the filters above us), while an exact duplicate is just
 *   ignored (RFC 5722 erratum 3089). So a datagram is complete when the
 *   last fragment (MF = 0) fixed its length and the bytes held equal it.
 *
 *   Limits: at most NS_REASM_SLOTS datagrams in progress; the fragments held
 *   by all of them cost at most reasm_mem_max bytes, where a fragment costs
 *   its whole mbuf buffer (buf_len), not its payload, since that is what it
 *   takes out of the RX pool (8-byte fragments would otherwise pin 2 KB each
 *   for free). Past either limit the oldest datagram is dropped (as Linux's
 *   inet_frag evictor does). Each datagram has reasm_timeout_us from its
 *   first fragment; the total is at most 64 KB (RFC 791 total length).
 *
 *   Delivery: the stack works on single-segment mbufs, and the pool's are
 *   2 KB. A complete datagram that fits one fresh mbuf is copied into one
 *   and takes the normal path. A larger one is copied into a per-stack 64 KB
 *   scratch buffer and handed to ns_udp_input_linear/ns_icmp_input_linear,
 *   which read it in place (the UDP callback gets its payload slice from
 *   there; an echo reply is fragmented straight out of it). TCP never gets
 *   one: our SYNs advertise an MSS that fits the MTU and our segments carry
 *   DF, so a TCP segment arriving in fragments larger than an mbuf is
 *   dropped (ip_reasm_drop_bad). */
#include <stdlib.h>
#include <string.h>

#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_random.h>

#include "ns_private.h"
#include "sl_err.h"

#define NS_REASM_SLOTS 128
#define NS_IPV4_TTL 64
/* The largest L4 datagram an IPv4 header without options can carry. */
#define NS_IPV4_MAX_L4 (RTE_IPV4_MAX_PKT_LEN - (uint32_t)sizeof(struct rte_ipv4_hdr))

struct reasm {
	struct reasm *prev, *next; /* in-progress list, oldest first */
	struct ns_ipv4 *ip4;
	uint32_t src, dst;         /* network order */
	uint16_t id;               /* network order */
	uint8_t proto;
	bool in_use;
	bool have_last;
	uint8_t hdr_len;           /* of the first fragment's header, 0 until seen */
	uint32_t total;            /* payload length, once have_last */
	uint32_t held;             /* payload bytes held */
	uint32_t mem;              /* buf_len of the mbufs held */
	struct rte_mbuf *frags;    /* offset order, linked by m->next */
	uint8_t hdr[60];           /* first fragment's header, options included */
	sl_timer_t timer;
};

struct ns_ipv4 {
	ns_stack_t *s;
	uint16_t next_id;
	uint32_t mem;              /* reasm: bytes charged across datagrams */
	struct reasm active;       /* sentinel of the in-progress list */
	struct reasm slots[NS_REASM_SLOTS];
	uint8_t *scratch;          /* RTE_IPV4_MAX_PKT_LEN bytes */
};

/* ---- helpers ---- */

static inline uint32_t ipv4_bcast(const ns_stack_t *s)
{
	return s->p.ip | ~s->netmask;
}

/* True for the limited broadcast and, on subnets where it exists (not /31
 * or /32, RFC 3021), our directed broadcast. */
static inline bool ipv4_is_bcast(const ns_stack_t *s, uint32_t a)
{
	return a == 0xffffffffu || (s->p.prefix_len < 31 && a == ipv4_bcast(s));
}

uint16_t ns_ipv4_l4_cksum(uint32_t src, uint32_t dst, uint8_t proto, const void *l4,
			  uint16_t l4_len)
{
	uint32_t sum;

	/* Pseudo-header (RFC 793 §3.1, RFC 768), summed in memory order like
	 * the segment itself, so no byte swapping of the result is needed. */
	sum = (src & 0xffff) + (src >> 16) + (dst & 0xffff) + (dst >> 16);
	sum += rte_cpu_to_be_16((uint16_t)proto) + rte_cpu_to_be_16(l4_len);
	sum = __rte_raw_cksum(l4, l4_len, sum);
	return (uint16_t)~__rte_raw_cksum_reduce(sum);
}

/* Route lookup: the neighbour to send to, or SL_EUNREACH. Loopback to
 * ourselves is not supported; nothing in the appliance talks to itself. */
static int ipv4_route(ns_stack_t *s, uint32_t dst, uint32_t *next_hop_r)
{
	uint32_t h = rte_be_to_cpu_32(dst);

	if (unlikely(dst == 0 || dst == s->p.ip || (h >> 24) == 127)) {
		NS_STAT_INC(s, ip_tx_no_route);
		return SL_EUNREACH;
	}
	if (((dst ^ s->p.ip) & s->netmask) == 0 || h == 0xffffffffu || NS_IPV4_IS_MCAST(h)) {
		*next_hop_r = dst;
		return 0;
	}
	if (s->p.gateway != 0) {
		*next_hop_r = s->p.gateway;
		return 0;
	}
	NS_STAT_INC(s, ip_tx_no_route);
	return SL_EUNREACH;
}

static void ipv4_hdr_fill(ns_stack_t *s, struct rte_ipv4_hdr *ip, uint32_t dst, uint8_t proto,
			  uint16_t total_len, uint16_t id, uint16_t frag)
{
	ip->version_ihl = RTE_IPV4_VHL_DEF;
	ip->type_of_service = 0;
	ip->total_length = rte_cpu_to_be_16(total_len);
	ip->packet_id = id;
	ip->fragment_offset = rte_cpu_to_be_16(frag);
	ip->time_to_live = NS_IPV4_TTL;
	ip->next_proto_id = proto;
	ip->hdr_checksum = 0;
	ip->src_addr = s->p.ip;
	ip->dst_addr = dst;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
}

/* ---- output ---- */

/* Where fragment payload comes from: an mbuf (possibly chained), or an L4
 * header followed by data in separate buffers. */
struct frag_src {
	const struct rte_mbuf *m;
	const uint8_t *hdr;
	uint32_t hdr_len;
	const uint8_t *data;
};

static void frag_src_copy(const struct frag_src *src, uint32_t off, uint32_t len, uint8_t *to)
{
	if (src->m != NULL) {
		const void *p = rte_pktmbuf_read(src->m, off, len, to);

		if (p != to)
			memcpy(to, p, len);
		return;
	}
	if (off < src->hdr_len) {
		uint32_t n = RTE_MIN(len, src->hdr_len - off);

		memcpy(to, src->hdr + off, n);
		to += n;
		off += n;
		len -= n;
	}
	if (len > 0)
		memcpy(to, src->data + (off - src->hdr_len), len);
}

/* RFC 791 §3.2 fragmentation: every fragment but the last carries a
 * multiple of 8 bytes; all share the datagram's ID. Fragment size is also
 * bounded by what one of our mbufs holds, so a datagram that fits the MTU
 * but not an mbuf goes out in mbuf-sized fragments. */
static int ipv4_fragment(ns_stack_t *s, const struct frag_src *src, uint32_t len, uint32_t dst,
			 uint32_t next_hop, uint8_t proto)
{
	struct ns_ipv4 *ip4 = s->ipv4;
	uint32_t room = rte_pktmbuf_data_room_size(s->p.pool) - RTE_ALIGN_CEIL(NS_HDR_ROOM, 8);
	uint32_t max = (RTE_MIN((uint32_t)s->p.mtu - sizeof(struct rte_ipv4_hdr), room)) & ~7u;
	uint16_t id = rte_cpu_to_be_16(ip4->next_id++);
	uint32_t off;

	off = 0;
	do {
		uint32_t n = RTE_MIN(max, len - off);
		bool more = off + n < len;
		struct rte_ipv4_hdr *ip;
		struct rte_mbuf *m;
		uint8_t *p;

		m = ns_pkt_alloc(s);
		if (unlikely(m == NULL))
			return SL_ENOMEM;
		p = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)n);
		frag_src_copy(src, off, n, p);
		ip = (struct rte_ipv4_hdr *)rte_pktmbuf_prepend(m, sizeof(*ip));
		ipv4_hdr_fill(s, ip, dst, proto, (uint16_t)(n + sizeof(*ip)), id,
			      (uint16_t)((off / 8) | (more ? RTE_IPV4_HDR_MF_FLAG : 0)));
		if (more || off > 0)
			NS_STAT_INC(s, ip_frag_tx);
		ns_arp_output(s, m, next_hop);
		off += n;
	} while (off < len);
	NS_STAT_INC(s, ip_tx);
	return 0;
}

int ns_ipv4_output(ns_stack_t *s, struct rte_mbuf *m, uint32_t dst, uint8_t proto)
{
	uint32_t len = rte_pktmbuf_pkt_len(m), next_hop;
	struct rte_ipv4_hdr *ip;
	int rc;

	rc = ipv4_route(s, dst, &next_hop);
	if (unlikely(rc < 0))
		goto fail;
	/* A chain that fits the MTU goes out as it is (only the first segment
	 * gets the header); a larger datagram is copied into fragments. */
	if (unlikely(len + sizeof(*ip) > s->p.mtu)) {
		struct frag_src src = {.m = m};

		/* DF: TCP sizes its segments to the MTU itself. */
		if (proto == IPPROTO_TCP || len > NS_IPV4_MAX_L4) {
			rc = SL_EINVAL;
			goto fail;
		}
		rc = ipv4_fragment(s, &src, len, dst, next_hop, proto);
		rte_pktmbuf_free(m);
		return rc;
	}
	ip = (struct rte_ipv4_hdr *)rte_pktmbuf_prepend(m, sizeof(*ip));
	if (unlikely(ip == NULL)) {
		rc = SL_ENOMEM;
		goto fail;
	}
	/* RFC 6864 §4.1: the ID of an atomic (DF) datagram is never used for
	 * reassembly, but a counter costs nothing and helps in captures. */
	ipv4_hdr_fill(s, ip, dst, proto, (uint16_t)(len + sizeof(*ip)),
		      rte_cpu_to_be_16(s->ipv4->next_id++),
		      proto == IPPROTO_TCP ? RTE_IPV4_HDR_DF_FLAG : 0);
	NS_STAT_INC(s, ip_tx);
	ns_arp_output(s, m, next_hop);
	return 0;
fail:
	rte_pktmbuf_free(m);
	return rc;
}

int ns_ipv4_output_buf(ns_stack_t *s, uint32_t dst, uint8_t proto, const void *hdr,
		       uint16_t hdr_len, const void *data, size_t data_len)
{
	struct frag_src src = {.hdr = hdr, .hdr_len = hdr_len, .data = data};
	uint32_t next_hop;
	int rc;

	if (unlikely(proto == IPPROTO_TCP || hdr_len + data_len > NS_IPV4_MAX_L4 ||
		     (hdr_len & 1) != 0))
		return SL_EINVAL;
	rc = ipv4_route(s, dst, &next_hop);
	if (unlikely(rc < 0))
		return rc;
	return ipv4_fragment(s, &src, (uint32_t)(hdr_len + data_len), dst, next_hop, proto);
}

/* ---- input ---- */

/* Hands a complete, unfragmented datagram (data at the IP header, trimmed
 * to its total length, header already validated) to its protocol. */
static void ipv4_deliver(ns_stack_t *s, struct rte_mbuf *m)
{
	const struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod(m, const struct rte_ipv4_hdr *);

	rte_pktmbuf_adj(m, (uint16_t)rte_ipv4_hdr_len(ip));
	switch (ip->next_proto_id) {
	case IPPROTO_TCP:
		ns_tcp_input(s, m, ip);
		return;
	case IPPROTO_UDP:
		ns_udp_input(s, m, ip);
		return;
	case IPPROTO_ICMP:
		ns_icmp_input(s, m, ip);
		return;
	default:
		/* ns_ipv4_input filtered protocols before this point. */
		rte_pktmbuf_free(m);
		return;
	}
}

static void reasm_free(struct ns_ipv4 *ip4, struct reasm *r)
{
	struct rte_mbuf *m = r->frags;

	while (m != NULL) {
		struct rte_mbuf *next = m->next;

		m->next = NULL;
		m->nb_segs = 1;
		rte_pktmbuf_free(m);
		m = next;
	}
	r->frags = NULL;
	sl_timer_cancel(ip4->s->wheel, &r->timer);
	ip4->mem -= r->mem;
	r->prev->next = r->next;
	r->next->prev = r->prev;
	r->in_use = false;
}

static void reasm_timer_cb(sl_timer_t *t, void *arg)
{
	struct reasm *r = arg;

	(void)t;
	/* RFC 1122 §3.3.2 suggests a Time Exceeded when the first fragment
	 * was seen; we do not originate those (ns_icmp only sends
	 * unreachables), so the datagram just goes. */
	NS_STAT_INC(r->ip4->s, ip_reasm_timeout);
	reasm_free(r->ip4, r);
}

static struct reasm *reasm_find(struct ns_ipv4 *ip4, const struct rte_ipv4_hdr *ip)
{
	struct reasm *r;

	for (r = ip4->active.next; r != &ip4->active; r = r->next)
		if (r->id == ip->packet_id && r->src == ip->src_addr && r->dst == ip->dst_addr &&
		    r->proto == ip->next_proto_id)
			return r;
	return NULL;
}

static struct reasm *reasm_new(struct ns_ipv4 *ip4, const struct rte_ipv4_hdr *ip)
{
	ns_stack_t *s = ip4->s;
	struct reasm *r = NULL;

	for (unsigned i = 0; i < NS_REASM_SLOTS; i++) {
		if (!ip4->slots[i].in_use) {
			r = &ip4->slots[i];
			break;
		}
	}
	if (r == NULL) {
		r = ip4->active.next;
		NS_STAT_INC(s, ip_reasm_drop_mem);
		reasm_free(ip4, r);
	}
	r->in_use = true;
	r->src = ip->src_addr;
	r->dst = ip->dst_addr;
	r->id = ip->packet_id;
	r->proto = ip->next_proto_id;
	r->have_last = false;
	r->hdr_len = 0;
	r->total = r->held = r->mem = 0;
	r->frags = NULL;
	r->prev = ip4->active.prev;
	r->next = &ip4->active;
	ip4->active.prev->next = r;
	ip4->active.prev = r;
	sl_timer_arm(s->wheel, &r->timer, s->now_us + s->p.reasm_timeout_us);
	return r;
}

static inline uint32_t frag_off(const struct rte_mbuf *m)
{
	return m->hash.usr;
}

/* Copies the complete datagram R into DST (header, then payload). */
static void reasm_copy(const struct reasm *r, uint8_t *dst)
{
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)dst;
	const struct rte_mbuf *f;

	memcpy(dst, r->hdr, r->hdr_len);
	ip->total_length = rte_cpu_to_be_16((uint16_t)(r->hdr_len + r->total));
	ip->fragment_offset = 0;
	ip->hdr_checksum = 0;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	for (f = r->frags; f != NULL; f = f->next)
		memcpy(dst + r->hdr_len + frag_off(f), rte_pktmbuf_mtod(f, const void *),
		       rte_pktmbuf_data_len(f));
}

static void reasm_complete(ns_stack_t *s, struct reasm *r)
{
	struct ns_ipv4 *ip4 = s->ipv4;
	uint32_t len = r->hdr_len + r->total, hl;
	const struct rte_ipv4_hdr *ip;
	struct rte_mbuf *m;

	/* The first fragment may have carried options that push the whole
	 * past RFC 791's 65535-octet total length. */
	if (unlikely(len > RTE_IPV4_MAX_PKT_LEN)) {
		NS_STAT_INC(s, ip_reasm_drop_bad);
		reasm_free(ip4, r);
		return;
	}
	NS_STAT_INC(s, ip_reasm_ok);
	m = rte_pktmbuf_alloc(s->p.pool);
	if (m != NULL && rte_pktmbuf_tailroom(m) >= len) {
		reasm_copy(r, (uint8_t *)rte_pktmbuf_append(m, (uint16_t)len));
		reasm_free(ip4, r);
		ipv4_deliver(s, m);
		return;
	}
	rte_pktmbuf_free(m);
	reasm_copy(r, ip4->scratch);
	hl = r->hdr_len;
	reasm_free(ip4, r);
	ip = (const struct rte_ipv4_hdr *)ip4->scratch;
	switch (ip->next_proto_id) {
	case IPPROTO_UDP:
		ns_udp_input_linear(s, ip, ip4->scratch + hl, (uint16_t)(len - hl));
		return;
	case IPPROTO_ICMP:
		ns_icmp_input_linear(s, ip, ip4->scratch + hl, (uint16_t)(len - hl));
		return;
	default:
		NS_STAT_INC(s, ip_reasm_drop_bad);
		return;
	}
}

/* Adds fragment M (data at its IP header, validated, trimmed) to its
 * datagram. Takes M. */
static void ipv4_reasm_input(ns_stack_t *s, struct rte_mbuf *m)
{
	struct ns_ipv4 *ip4 = s->ipv4;
	const struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod(m, const struct rte_ipv4_hdr *);
	uint16_t fo = rte_be_to_cpu_16(ip->fragment_offset);
	uint32_t hl = rte_ipv4_hdr_len(ip);
	uint32_t off = (uint32_t)(fo & RTE_IPV4_HDR_OFFSET_MASK) * 8;
	uint32_t len = rte_pktmbuf_data_len(m) - hl, end = off + len;
	bool more = (fo & RTE_IPV4_HDR_MF_FLAG) != 0;
	struct rte_mbuf **pp, *next, *prev;
	struct reasm *r;

	NS_STAT_INC(s, ip_frag_rx);
	r = reasm_find(ip4, ip);
	if (r == NULL)
		r = reasm_new(ip4, ip);

	/* RFC 791: all but the last fragment carry a multiple of 8 octets; a
	 * datagram never exceeds 64 KB; empty fragments carry nothing but
	 * trouble. Any of these poisons the whole datagram. */
	if (unlikely(len == 0 || (more && (len & 7) != 0) || end > NS_IPV4_MAX_L4))
		goto bad;
	if (!more) {
		if (unlikely(r->have_last ? end != r->total : false))
			goto bad;
		r->have_last = true;
		r->total = end;
	} else if (unlikely(r->have_last && end > r->total)) {
		goto bad;
	}

	/* Find the first held fragment that starts at or after OFF. */
	for (pp = &r->frags, prev = NULL; *pp != NULL && frag_off(*pp) < off;
	     prev = *pp, pp = &(*pp)->next)
		;
	next = *pp;
	if (next != NULL && frag_off(next) == off && rte_pktmbuf_data_len(next) == len) {
		/* RFC 5722 erratum 3089: exact duplicates are ignored. A
		 * duplicate last fragment already matched r->total above. */
		NS_STAT_INC(s, ip_frag_dup);
		rte_pktmbuf_free(m);
		return;
	}
	/* Overlap with either neighbour; held fragments beyond a newly
	 * learnt end overlap the "nothing" past it. */
	if (unlikely((next != NULL && (end > frag_off(next) || !more)) ||
		     (prev != NULL && frag_off(prev) + rte_pktmbuf_data_len(prev) > off)))
		goto bad;

	/* Memory: evict the oldest datagrams until this fragment fits. */
	while (unlikely(ip4->mem + m->buf_len > s->p.reasm_mem_max)) {
		struct reasm *victim = ip4->active.next;

		NS_STAT_INC(s, ip_reasm_drop_mem);
		if (victim == r) {
			reasm_free(ip4, r);
			rte_pktmbuf_free(m);
			return;
		}
		reasm_free(ip4, victim);
	}

	if (off == 0) {
		memcpy(r->hdr, ip, hl);
		r->hdr_len = (uint8_t)hl;
	}
	rte_pktmbuf_adj(m, (uint16_t)hl);
	m->hash.usr = off;
	m->next = next;
	*pp = m;
	r->held += len;
	r->mem += m->buf_len;
	ip4->mem += m->buf_len;
	if (r->have_last && r->held == r->total)
		reasm_complete(s, r);
	return;
bad:
	NS_STAT_INC(s, ip_reasm_drop_bad);
	reasm_free(ip4, r);
	rte_pktmbuf_free(m);
}

/* Sources no datagram may come from (RFC 1122 §3.2.1.3; RFC 1812 §5.3.7
 * "martians"): replying to them would misdirect our answers. */
static bool ipv4_src_is_bogus(const ns_stack_t *s, uint32_t src)
{
	uint32_t h = rte_be_to_cpu_32(src);

	return src == 0 || src == s->p.ip || NS_IPV4_IS_MCAST(h) || h >= 0xf0000000u ||
	       (h >> 24) == 127 || (h >> 24) == 0 || ipv4_is_bcast(s, src);
}

void ns_ipv4_input(ns_stack_t *s, struct rte_mbuf *m)
{
	const struct rte_ipv4_hdr *ip;
	uint32_t len = rte_pktmbuf_data_len(m), hl, tot;
	uint16_t fo;
	bool bcast;

	NS_STAT_INC(s, ip_rx);
	if (unlikely(len < sizeof(*ip)))
		goto bad_header;
	ip = rte_pktmbuf_mtod(m, const struct rte_ipv4_hdr *);
	hl = rte_ipv4_hdr_len(ip);
	tot = rte_be_to_cpu_16(ip->total_length);
	/* RFC 1122 §3.2.1.1-2 and RFC 791 §3.1: version 4, IHL at least 5
	 * words, a total length that covers the header and no more than the
	 * frame holds (the Ethernet minimum pads short datagrams, hence
	 * total <= frame, not ==). Options are allowed and skipped. */
	if (unlikely((ip->version_ihl >> 4) != 4 || hl < sizeof(*ip) || hl > len || tot < hl ||
		     tot > len))
		goto bad_header;
	if (unlikely(rte_raw_cksum(ip, hl) != 0xffff)) {
		NS_STAT_INC(s, ip_rx_bad_csum);
		goto drop;
	}
	if (tot < len)
		rte_pktmbuf_trim(m, (uint16_t)(len - tot));
	if (unlikely(ipv4_src_is_bogus(s, ip->src_addr)))
		goto bad_header;
	bcast = ipv4_is_bcast(s, ip->dst_addr);
	if (unlikely(ip->dst_addr != s->p.ip && !bcast)) {
		NS_STAT_INC(s, ip_rx_not_for_us);
		goto drop;
	}
	fo = rte_be_to_cpu_16(ip->fragment_offset);
	switch (ip->next_proto_id) {
	case IPPROTO_TCP:
		/* TCP is unicast only (RFC 1122 §4.2.3.10). */
		if (unlikely(bcast)) {
			NS_STAT_INC(s, ip_rx_not_for_us);
			goto drop;
		}
		break;
	case IPPROTO_UDP:
	case IPPROTO_ICMP:
		break;
	default:
		/* Checked before reassembly so that unknown protocols cannot
		 * tie up reassembly memory. ns_icmp_send_unreach skips
		 * broadcasts and non-first fragments itself. */
		NS_STAT_INC(s, ip_rx_unknown_proto);
		ns_icmp_send_unreach(s, ip, (uint16_t)tot, 2 /* protocol unreachable */);
		goto drop;
	}
	if (unlikely((fo & (RTE_IPV4_HDR_MF_FLAG | RTE_IPV4_HDR_OFFSET_MASK)) != 0)) {
		ipv4_reasm_input(s, m);
		return;
	}
	ipv4_deliver(s, m);
	return;
bad_header:
	NS_STAT_INC(s, ip_rx_bad_header);
drop:
	rte_pktmbuf_free(m);
}

/* ---- lifecycle ---- */

int ns_ipv4_create(ns_stack_t *s)
{
	struct ns_ipv4 *ip4 = calloc(1, sizeof(*ip4));

	if (ip4 == NULL)
		return SL_ENOMEM;
	s->ipv4 = ip4;
	ip4->s = s;
	ip4->active.prev = ip4->active.next = &ip4->active;
	for (unsigned i = 0; i < NS_REASM_SLOTS; i++) {
		ip4->slots[i].ip4 = ip4;
		sl_timer_init(&ip4->slots[i].timer, reasm_timer_cb, &ip4->slots[i]);
	}
	ip4->scratch = malloc(RTE_IPV4_MAX_PKT_LEN);
	if (ip4->scratch == NULL) {
		ns_ipv4_destroy(s);
		return SL_ENOMEM;
	}
	/* Spread IDs across restarts so a fresh stack does not reuse the IDs
	 * of datagrams still being reassembled by a peer. */
	ip4->next_id = (uint16_t)(rte_rand() & 0xffff);
	return 0;
}

void ns_ipv4_destroy(ns_stack_t *s)
{
	struct ns_ipv4 *ip4 = s->ipv4;

	if (ip4 == NULL)
		return;
	while (ip4->active.next != &ip4->active)
		reasm_free(ip4, ip4->active.next);
	free(ip4->scratch);
	free(ip4);
	s->ipv4 = NULL;
}
