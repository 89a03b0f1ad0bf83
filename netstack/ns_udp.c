/* ns_udp - UDP sockets (RFC 768, RFC 1122 §4.1).
 *
 * Bindings live in a small chained hash keyed by port. They are created by
 * ns_udp_bind (control path, so malloc is fine there) and bounded by
 * NS_UDP_MAX_BINDS; the receive path allocates nothing. */
#include <stdlib.h>
#include <string.h>

#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_udp.h>

#include "ns_private.h"
#include "sl_err.h"

#define NS_UDP_BUCKETS 64
#define NS_UDP_MAX_BINDS 4096
/* RFC 768 over IPv4: 65535 minus the IP and UDP headers. */
#define NS_UDP_MAX_PAYLOAD (RTE_IPV4_MAX_PKT_LEN - sizeof(struct rte_ipv4_hdr) - \
			    sizeof(struct rte_udp_hdr))

struct udp_bind {
	struct udp_bind *next;
	uint16_t port;
	ns_udp_recv_fn_t *fn;
	void *ctx;
};

struct ns_udp {
	struct udp_bind *buckets[NS_UDP_BUCKETS];
	uint32_t count;
};

static inline struct udp_bind **udp_bucket(struct ns_udp *u, uint16_t port)
{
	return &u->buckets[(port ^ (port >> 6)) & (NS_UDP_BUCKETS - 1)];
}

static struct udp_bind *udp_lookup(struct ns_udp *u, uint16_t port)
{
	struct udp_bind *b;

	for (b = *udp_bucket(u, port); b != NULL; b = b->next)
		if (b->port == port)
			return b;
	return NULL;
}

int ns_udp_create(ns_stack_t *s)
{
	s->udp = calloc(1, sizeof(*s->udp));
	return s->udp == NULL ? SL_ENOMEM : 0;
}

void ns_udp_destroy(ns_stack_t *s)
{
	struct ns_udp *u = s->udp;

	if (u == NULL)
		return;
	for (unsigned i = 0; i < NS_UDP_BUCKETS; i++) {
		while (u->buckets[i] != NULL) {
			struct udp_bind *b = u->buckets[i];

			u->buckets[i] = b->next;
			free(b);
		}
	}
	free(u);
	s->udp = NULL;
}

int ns_udp_bind(ns_stack_t *s, uint16_t port, ns_udp_recv_fn_t *fn, void *ctx)
{
	struct ns_udp *u = s->udp;
	struct udp_bind *b, **head;

	if (port == 0 || fn == NULL)
		return SL_EINVAL;
	if (udp_lookup(u, port) != NULL)
		return SL_EADDRINUSE;
	if (u->count >= NS_UDP_MAX_BINDS)
		return SL_ENOMEM;
	b = malloc(sizeof(*b));
	if (b == NULL)
		return SL_ENOMEM;
	head = udp_bucket(u, port);
	b->port = port;
	b->fn = fn;
	b->ctx = ctx;
	b->next = *head;
	*head = b;
	u->count++;
	return 0;
}

int ns_udp_unbind(ns_stack_t *s, uint16_t port)
{
	struct udp_bind **pp;

	for (pp = udp_bucket(s->udp, port); *pp != NULL; pp = &(*pp)->next) {
		if ((*pp)->port == port) {
			struct udp_bind *b = *pp;

			*pp = b->next;
			free(b);
			s->udp->count--;
			return 0;
		}
	}
	return SL_ENOENT;
}

/* Validates and delivers the datagram at L4 (LEN bytes of IP payload, which
 * directly follow the IP header IP in memory, as ICMP errors quote them). */
static void udp_input_common(ns_stack_t *s, const struct rte_ipv4_hdr *ip, const uint8_t *l4,
			     uint32_t len)
{
	const struct rte_udp_hdr *uh = (const struct rte_udp_hdr *)l4;
	const struct udp_bind *b;
	uint32_t ulen;
	uint16_t dport;

	NS_STAT_INC(s, udp_rx);
	if (unlikely(len < sizeof(*uh)))
		goto bad_header;
	/* RFC 768: the length field covers header and data; bytes past it in
	 * the IP payload are padding, a length past the payload is a lie. */
	ulen = rte_be_to_cpu_16(uh->dgram_len);
	if (unlikely(ulen < sizeof(*uh) || ulen > len))
		goto bad_header;
	/* A zero checksum means the sender computed none (RFC 768); anything
	 * else must verify, pseudo-header included (RFC 1122 §4.1.3.4). */
	if (uh->dgram_cksum != 0 &&
	    unlikely(ns_ipv4_l4_cksum(ip->src_addr, ip->dst_addr, IPPROTO_UDP, l4, (uint16_t)ulen) !=
		     0)) {
		NS_STAT_INC(s, udp_rx_bad_csum);
		return;
	}
	dport = rte_be_to_cpu_16(uh->dst_port);
	b = udp_lookup(s->udp, dport);
	if (b == NULL) {
		NS_STAT_INC(s, udp_rx_no_port);
		/* RFC 1122 §4.1.3.1; ns_icmp skips broadcasts. */
		ns_icmp_send_unreach(s, ip, (uint16_t)(rte_ipv4_hdr_len(ip) + len), 3);
		return;
	}
	/* The callback may unbind (freeing b) or send; copy what we use. */
	{
		ns_udp_recv_fn_t *fn = b->fn;

		fn(b->ctx, ip->src_addr, rte_be_to_cpu_16(uh->src_port), dport,
		   sl_slice_make(l4 + sizeof(*uh), ulen - sizeof(*uh)));
	}
	return;
bad_header:
	NS_STAT_INC(s, udp_rx_bad_header);
}

void ns_udp_input(ns_stack_t *s, struct rte_mbuf *m, const struct rte_ipv4_hdr *ip)
{
	udp_input_common(s, ip, rte_pktmbuf_mtod(m, const uint8_t *), rte_pktmbuf_data_len(m));
	rte_pktmbuf_free(m);
}

void ns_udp_input_linear(ns_stack_t *s, const struct rte_ipv4_hdr *ip, const uint8_t *l4,
			 uint16_t l4_len)
{
	udp_input_common(s, ip, l4, l4_len);
}

int ns_udp_sendto(ns_stack_t *s, uint16_t src_port, uint32_t dst_ip, uint16_t dst_port,
		  const void *data, size_t len)
{
	struct rte_udp_hdr uh;
	struct rte_mbuf *m;
	uint32_t ulen = (uint32_t)(len + sizeof(uh)), sum;
	int rc;

	if (unlikely(len > NS_UDP_MAX_PAYLOAD || (len > 0 && data == NULL)))
		return SL_EINVAL;
	uh.src_port = rte_cpu_to_be_16(src_port);
	uh.dst_port = rte_cpu_to_be_16(dst_port);
	uh.dgram_len = rte_cpu_to_be_16((uint16_t)ulen);
	uh.dgram_cksum = 0;

	m = ns_pkt_alloc(s);
	if (unlikely(m == NULL))
		return SL_ENOMEM;
	if (ulen + sizeof(struct rte_ipv4_hdr) <= s->p.mtu && ulen <= rte_pktmbuf_tailroom(m)) {
		uint8_t *p = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)ulen);
		struct rte_udp_hdr *h = (struct rte_udp_hdr *)p;

		memcpy(p, &uh, sizeof(uh));
		if (len > 0)
			memcpy(p + sizeof(uh), data, len);
		h->dgram_cksum = ns_ipv4_l4_cksum(s->p.ip, dst_ip, IPPROTO_UDP, p, (uint16_t)ulen);
		/* RFC 768: a computed zero goes out as all ones. */
		if (h->dgram_cksum == 0)
			h->dgram_cksum = 0xffff;
		rc = ns_ipv4_output(s, m, dst_ip, IPPROTO_UDP);
	} else {
		/* Larger than an mbuf or the MTU: fragment straight from the
		 * caller's buffer, header and data summed separately (the
		 * header's 8 bytes keep the data 16-bit aligned in the sum). */
		rte_pktmbuf_free(m);
		sum = (s->p.ip & 0xffff) + (s->p.ip >> 16) + (dst_ip & 0xffff) + (dst_ip >> 16);
		sum += rte_cpu_to_be_16(IPPROTO_UDP) + uh.dgram_len;
		sum = __rte_raw_cksum(&uh, sizeof(uh), sum);
		sum = __rte_raw_cksum(data, len, sum);
		uh.dgram_cksum = (uint16_t)~__rte_raw_cksum_reduce(sum);
		if (uh.dgram_cksum == 0)
			uh.dgram_cksum = 0xffff;
		rc = ns_ipv4_output_buf(s, dst_ip, IPPROTO_UDP, &uh, sizeof(uh), data, len);
	}
	if (rc == 0)
		NS_STAT_INC(s, udp_tx);
	return rc;
}
