/* ut_wire - two stacks on an in-memory link, and a scripted TCP peer. */
#include "ut_wire.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <rte_arp.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_tcp.h>

#include "sl_time.h"
#include "ut_eal.h"
#include "sl_err.h"
#include "ut_pkt.h"

/* ---- Two stacks on a wire ---- */

#define WIRE_BURST 512
#define WIRE_BURST_ROOM (WIRE_BURST + 64) /* duplicates and released holds */
#define WIRE_RING (1u << 16)
#define WIRE_T0 UT_T0
#define WIRE_OVERHEAD 24 /* preamble, SFD, FCS and inter-frame gap */

struct wire_frame {
	struct rte_mbuf *m;
	uint64_t at; /* delivery time */
};

struct wire_dir {
	struct ut_wire *w;
	int side; /* the sender */
	struct rte_mbuf *burst[WIRE_BURST_ROOM];
	uint16_t nburst;
	struct wire_frame *ring;
	uint32_t head, count;
	uint64_t link_free_ns; /* the link is busy serializing until then */
	sl_fault_t *fault;
	uint64_t frames, delivered, qdrops;
};

struct ut_wire {
	ut_wire_params_t p;
	ns_stack_t *s[2];
	struct wire_dir d[2];
	uint64_t now;
	unsigned stall;
};

static const uint8_t wire_mac[2][6] = {{0x02, 0x77, 0, 0, 0, 0x01}, {0x02, 0x77, 0, 0, 0, 0x02}};

uint32_t ut_wire_ip(int side)
{
	return side == 0 ? UT_IP(10, 77, 0, 1) : UT_IP(10, 77, 0, 2);
}

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void ut_wire_params_default(ut_wire_params_t *p)
{
	memset(p, 0, sizeof(*p));
	p->delay_us = 500;
	p->rate_bps = 1000000000ULL;
	p->queue_max = 512;
	p->quantum_us = 20;
}

/* WIRE_TRACE=1 prints every frame put on the link: time, direction,
 * and for TCP the header fields. */
static void wire_trace(const struct ut_wire *w, const struct wire_dir *d, const struct rte_mbuf *m,
		       const char *what)
{
	static int on = -1;
	const struct rte_ipv4_hdr *ip;
	const struct rte_tcp_hdr *th;

	if (on < 0)
		on = getenv("WIRE_TRACE") != NULL;
	if (!on)
		return;
	if (ut_ethertype(m) != RTE_ETHER_TYPE_IPV4) {
		fprintf(stderr, "%llu %d>%d %s non-IP\n", (unsigned long long)w->now, d->side,
			1 - d->side, what);
		return;
	}
	ip = rte_pktmbuf_mtod_offset(m, const struct rte_ipv4_hdr *, 14);
	if (ip->next_proto_id != IPPROTO_TCP)
		return;
	th = rte_pktmbuf_mtod_offset(m, const struct rte_tcp_hdr *, 34);
	fprintf(stderr, "%llu %d>%d %s %u>%u seq %u ack %u flags %02x win %u len %u\n",
		(unsigned long long)w->now, d->side, 1 - d->side, what,
		rte_be_to_cpu_16(th->src_port), rte_be_to_cpu_16(th->dst_port),
		rte_be_to_cpu_32(th->sent_seq), rte_be_to_cpu_32(th->recv_ack), th->tcp_flags,
		rte_be_to_cpu_16(th->rx_win),
		(unsigned)(rte_be_to_cpu_16(ip->total_length) - 20 - (th->data_off >> 4) * 4));
}

static void wire_enqueue(struct ut_wire *w, struct wire_dir *d, struct rte_mbuf *m)
{
	uint64_t now_ns = w->now * 1000, at;

	d->frames++;
	if (w->p.rate_bps != 0) {
		uint64_t ser = (uint64_t)(rte_pktmbuf_pkt_len(m) + WIRE_OVERHEAD) * 8 *
			       1000000000ULL / w->p.rate_bps;
		uint64_t full = (uint64_t)(1514 + WIRE_OVERHEAD) * 8 * 1000000000ULL / w->p.rate_bps;

		if (d->link_free_ns < now_ns)
			d->link_free_ns = now_ns;
		if (full > 0 && (d->link_free_ns - now_ns) / full >= w->p.queue_max) {
			d->qdrops++;
			rte_pktmbuf_free(m);
			return;
		}
		d->link_free_ns += ser;
		at = (d->link_free_ns + 999) / 1000 + w->p.delay_us;
	} else {
		at = w->now + w->p.delay_us;
	}
	if (d->count == WIRE_RING) {
		d->qdrops++;
		rte_pktmbuf_free(m);
		return;
	}
	d->ring[(d->head + d->count) % WIRE_RING] = (struct wire_frame){m, at};
	d->count++;
}

/* Put the pending burst through the faults and onto the link. An idle
 * link also releases frames the reorder fault holds back: they arrive
 * late rather than never. */
static void wire_commit(struct ut_wire *w, struct wire_dir *d)
{
	uint16_t n = d->nburst;

	for (uint16_t i = 0; i < n; i++)
		wire_trace(w, d, d->burst[i], "tx");
	if (n == 0) {
		if (d->count != 0 || d->fault == NULL)
			return;
		n = sl_fault_flush(d->fault, d->burst, WIRE_BURST_ROOM);
	} else if (d->fault != NULL) {
		n = sl_fault_apply(d->fault, d->burst, n, WIRE_BURST_ROOM);
	}
	for (uint16_t i = 0; i < n; i++)
		wire_enqueue(w, d, d->burst[i]);
	d->nburst = 0;
}

static void wire_tx(void *ctx, struct rte_mbuf *m)
{
	struct wire_dir *d = ctx;

	if (d->nburst == WIRE_BURST)
		wire_commit(d->w, d);
	d->burst[d->nburst++] = m;
}

static void wire_learn(struct ut_wire *w, int side)
{
	static const uint8_t zero[6];
	uint8_t f[64];
	int other = 1 - side;
	size_t n = ut_arp(f, ut_mac_bcast, RTE_ARP_OP_REQUEST, wire_mac[other], ut_wire_ip(other),
			  zero, ut_wire_ip(side));
	struct rte_mbuf *m = rte_pktmbuf_alloc(w->p.pool);

	assert_non_null(m);
	memcpy(rte_pktmbuf_append(m, (uint16_t)n), f, n);
	ns_stack_input(w->s[side], m);
	/* The reply goes nowhere: both sides are taught directly. */
	for (uint16_t i = 0; i < w->d[side].nburst; i++)
		rte_pktmbuf_free(w->d[side].burst[i]);
	w->d[side].nburst = 0;
}

ut_wire_t *ut_wire_create(const ut_wire_params_t *p)
{
	struct ut_wire *w = calloc(1, sizeof(*w));
	uint64_t x;

	assert_non_null(w);
	w->p = *p;
	if (w->p.pool == NULL)
		w->p.pool = ut_pool();
	if (w->p.quantum_us == 0)
		w->p.quantum_us = 1;
	w->now = WIRE_T0;
	x = p->seed;
	for (int i = 0; i < 2; i++) {
		struct wire_dir *d = &w->d[i];
		sl_fault_params_t fp = p->fault[i];

		d->w = w;
		d->side = i;
		d->ring = calloc(WIRE_RING, sizeof(*d->ring));
		assert_non_null(d->ring);
		if (fp.seed == 0)
			fp.seed = splitmix64(&x);
		if (fp.drop_ppm || fp.dup_ppm || fp.reorder_ppm || fp.corrupt_ppm) {
			d->fault = sl_fault_create(&fp, w->p.pool);
			assert_non_null(d->fault);
		}
	}
	for (int i = 0; i < 2; i++) {
		ns_stack_params_t sp;
		const char *err = NULL;

		ns_stack_params_default(&sp);
		memcpy(sp.mac, wire_mac[i], 6);
		sp.ip = ut_wire_ip(i);
		sp.prefix_len = 24;
		sp.pool = w->p.pool;
		sp.tx = wire_tx;
		sp.tx_ctx = &w->d[i];
		sp.now_us = w->now;
		sp.isn_secret[0] = splitmix64(&x) | 1;
		sp.isn_secret[1] = splitmix64(&x);
		if (p->tweak != NULL)
			p->tweak(&sp, i, p->tweak_arg);
		w->s[i] = ns_stack_create(&sp, &err);
		if (w->s[i] == NULL)
			fail_msg("ns_stack_create: %s", err);
	}
	wire_learn(w, 0);
	wire_learn(w, 1);
	return w;
}

void ut_wire_destroy(ut_wire_t **wp)
{
	struct ut_wire *w = *wp;

	if (w == NULL)
		return;
	for (int i = 0; i < 2; i++)
		ns_stack_destroy(&w->s[i]);
	for (int i = 0; i < 2; i++) {
		struct wire_dir *d = &w->d[i];

		for (uint16_t k = 0; k < d->nburst; k++)
			rte_pktmbuf_free(d->burst[k]);
		for (uint32_t k = 0; k < d->count; k++)
			rte_pktmbuf_free(d->ring[(d->head + k) % WIRE_RING].m);
		sl_fault_destroy(&d->fault);
		free(d->ring);
	}
	free(w);
	*wp = NULL;
}

ns_stack_t *ut_wire_stack(ut_wire_t *w, int side)
{
	return w->s[side];
}

uint64_t ut_wire_now(const ut_wire_t *w)
{
	return w->now;
}

void ut_wire_flush(ut_wire_t *w)
{
	ns_stack_flush(w->s[0]);
	ns_stack_flush(w->s[1]);
	wire_commit(w, &w->d[0]);
	wire_commit(w, &w->d[1]);
}

static void wire_deliver(struct ut_wire *w, struct wire_dir *d)
{
	ns_stack_t *dst = w->s[1 - d->side];

	while (d->count > 0 && d->ring[d->head].at <= w->now) {
		struct rte_mbuf *m = d->ring[d->head].m;

		d->head = (d->head + 1) % WIRE_RING;
		d->count--;
		d->delivered++;
		wire_trace(w, d, m, "rx");
		ns_stack_input(dst, m);
	}
}

bool ut_wire_step(ut_wire_t *w)
{
	uint64_t next = SL_TIME_NEVER, q = w->p.quantum_us;

	for (int i = 0; i < 2; i++) {
		uint64_t t = ns_stack_next_deadline(w->s[i]);

		if (w->d[i].count > 0 && w->d[i].ring[w->d[i].head].at < next)
			next = w->d[i].ring[w->d[i].head].at;
		if (t < next)
			next = t;
	}
	if (next == SL_TIME_NEVER)
		return false;
	if (next <= w->now) {
		/* Something due now; but never spin without time moving. */
		if (++w->stall > 1000)
			next = w->now + q;
		else
			next = w->now;
	} else {
		w->stall = 0;
		next = (next + q - 1) / q * q;
	}
	w->now = next;
	ns_stack_poll(w->s[0], w->now);
	ns_stack_poll(w->s[1], w->now);
	wire_deliver(w, &w->d[0]);
	wire_deliver(w, &w->d[1]);
	ut_wire_flush(w);
	return true;
}

bool ut_wire_run(ut_wire_t *w, bool (*done)(void *arg), void *arg, uint64_t max_us)
{
	uint64_t end = w->now + max_us;

	ut_wire_flush(w);
	while (w->now < end) {
		if (done(arg))
			return true;
		if (!ut_wire_step(w))
			break;
	}
	return done(arg);
}

void ut_wire_get_stats(const ut_wire_t *w, ut_wire_stats_t *r)
{
	memset(r, 0, sizeof(*r));
	for (int i = 0; i < 2; i++) {
		r->frames[i] = w->d[i].frames;
		r->delivered[i] = w->d[i].delivered;
		r->queue_drops[i] = w->d[i].qdrops;
		if (w->d[i].fault != NULL)
			sl_fault_get_stats(w->d[i].fault, &r->fault[i]);
	}
}

/* ---- One stack and a scripted peer ---- */

struct ut_peer {
	ut_cap_t cap;
	ns_stack_t *s;
	ns_stack_params_t p;
	uint64_t now;
	uint16_t ip_id;
	uint8_t data[UT_SEG_DATA_MAX];
};

ut_peer_t *ut_peer_create(void (*tweak)(ns_stack_params_t *p, void *arg), void *arg)
{
	struct ut_peer *p = calloc(1, sizeof(*p));
	const char *err = NULL;

	assert_non_null(p);
	ut_params(&p->p, &p->cap);
	if (tweak != NULL)
		tweak(&p->p, arg);
	p->now = p->p.now_us;
	p->s = ns_stack_create(&p->p, &err);
	if (p->s == NULL)
		fail_msg("ns_stack_create: %s", err);
	ut_learn(p->s, &p->cap, ut_mac_peer, ut_ip_peer);
	return p;
}

void ut_peer_destroy(ut_peer_t **pp)
{
	struct ut_peer *p = *pp;

	if (p == NULL)
		return;
	ns_stack_destroy(&p->s);
	ut_cap_clear(&p->cap);
	free(p);
	*pp = NULL;
}

ns_stack_t *ut_peer_stack(ut_peer_t *p)
{
	return p->s;
}

uint64_t ut_peer_now(const ut_peer_t *p)
{
	return p->now;
}

static void put32(uint8_t *b, uint32_t v)
{
	b[0] = (uint8_t)(v >> 24);
	b[1] = (uint8_t)(v >> 16);
	b[2] = (uint8_t)(v >> 8);
	b[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *b)
{
	return ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | b[3];
}

static size_t build_opts(uint8_t *o, const ut_seg_t *g)
{
	size_t n = 0;

	if (g->raw_opts != NULL) {
		memcpy(o, g->raw_opts, g->raw_optlen);
		n = g->raw_optlen;
	} else {
		if (g->has_mss) {
			o[n++] = 2;
			o[n++] = 4;
			o[n++] = (uint8_t)(g->mss >> 8);
			o[n++] = (uint8_t)g->mss;
		}
		if (g->has_ws) {
			o[n++] = 1;
			o[n++] = 3;
			o[n++] = 3;
			o[n++] = g->ws;
		}
		if (g->sack_ok) {
			o[n++] = 1;
			o[n++] = 1;
			o[n++] = 4;
			o[n++] = 2;
		}
		if (g->has_ts) {
			o[n++] = 1;
			o[n++] = 1;
			o[n++] = 8;
			o[n++] = 10;
			put32(o + n, g->tsval);
			put32(o + n + 4, g->tsecr);
			n += 8;
		}
		if (g->nsack > 0) {
			o[n++] = 1;
			o[n++] = 1;
			o[n++] = 5;
			o[n++] = (uint8_t)(2 + 8 * g->nsack);
			for (unsigned i = 0; i < g->nsack; i++) {
				put32(o + n, g->sack[i][0]);
				put32(o + n + 4, g->sack[i][1]);
				n += 8;
			}
		}
	}
	while (n % 4 != 0)
		o[n++] = 0; /* end of list padding */
	return n;
}

void ut_peer_send(ut_peer_t *p, const ut_seg_t *g)
{
	uint8_t l4[60 + UT_SEG_DATA_MAX], frame[14 + 20 + sizeof(l4)];
	struct rte_tcp_hdr *th = (struct rte_tcp_hdr *)l4;
	size_t optlen = build_opts(l4 + sizeof(*th), g), hlen = sizeof(*th) + optlen, n;
	struct rte_ipv4_hdr *ip;

	assert_true(optlen <= 40 && g->len <= UT_SEG_DATA_MAX);
	th->src_port = rte_cpu_to_be_16(g->sport);
	th->dst_port = rte_cpu_to_be_16(g->dport);
	th->sent_seq = rte_cpu_to_be_32(g->seq);
	th->recv_ack = rte_cpu_to_be_32(g->ack);
	th->data_off = (uint8_t)((hlen / 4) << 4);
	th->tcp_flags = g->flags;
	th->rx_win = rte_cpu_to_be_16(g->wnd);
	th->cksum = 0;
	th->tcp_urp = 0;
	if (g->len > 0)
		memcpy(l4 + hlen, g->data, g->len);
	n = ut_ipv4(frame, ut_ip_peer, ut_ip_us, IPPROTO_TCP, p->ip_id++, 0, l4, hlen + g->len);
	ip = (struct rte_ipv4_hdr *)(frame + 14);
	th = (struct rte_tcp_hdr *)(frame + 14 + 20);
	th->cksum = rte_ipv4_udptcp_cksum(ip, th);
	if (g->bad_csum)
		th->cksum ^= 0x5a5a;
	ut_input(p->s, frame, n);
	ns_stack_flush(p->s);
}

void ut_peer_send_raw(ut_peer_t *p, const void *l4, size_t len)
{
	uint8_t frame[14 + 20 + 65536];

	assert_true(len <= 65536 - 20);
	ut_input(p->s, frame, ut_ipv4(frame, ut_ip_peer, ut_ip_us, IPPROTO_TCP, p->ip_id++, 0, l4, len));
	ns_stack_flush(p->s);
}

static void parse_opts(const uint8_t *o, size_t len, ut_seg_t *g)
{
	size_t i = 0;

	while (i < len) {
		if (o[i] == 0)
			break;
		if (o[i] == 1) {
			i++;
			continue;
		}
		assert_true(i + 1 < len && o[i + 1] >= 2 && i + o[i + 1] <= len);
		switch (o[i]) {
		case 2:
			g->has_mss = true;
			g->mss = (uint16_t)((o[i + 2] << 8) | o[i + 3]);
			break;
		case 3:
			g->has_ws = true;
			g->ws = o[i + 2];
			break;
		case 4:
			g->sack_ok = true;
			break;
		case 5:
			g->nsack = (uint8_t)((o[i + 1] - 2) / 8);
			for (unsigned b = 0; b < g->nsack; b++) {
				g->sack[b][0] = get32(o + i + 2 + 8 * b);
				g->sack[b][1] = get32(o + i + 6 + 8 * b);
			}
			break;
		case 8:
			g->has_ts = true;
			g->tsval = get32(o + i + 2);
			g->tsecr = get32(o + i + 6);
			break;
		default:
			break;
		}
		i += o[i + 1];
	}
}

static bool frame_is_tcp(const struct rte_mbuf *m)
{
	const struct rte_ipv4_hdr *ip;

	if (ut_ethertype(m) != RTE_ETHER_TYPE_IPV4)
		return false;
	ip = rte_pktmbuf_mtod_offset(m, const struct rte_ipv4_hdr *, 14);
	return ip->next_proto_id == IPPROTO_TCP;
}

static void answer_arp(struct ut_peer *p, const struct rte_mbuf *m)
{
	const struct rte_arp_hdr *ah = rte_pktmbuf_mtod_offset(m, const struct rte_arp_hdr *, 14);
	uint8_t f[64];
	size_t n;

	if (rte_be_to_cpu_16(ah->arp_opcode) != RTE_ARP_OP_REQUEST ||
	    ah->arp_data.arp_tip != ut_ip_peer)
		return;
	n = ut_arp(f, ut_mac_us, RTE_ARP_OP_REPLY, ut_mac_peer, ut_ip_peer, ut_mac_us, ut_ip_us);
	ut_input(p->s, f, n);
}

bool ut_peer_recv(ut_peer_t *p, ut_seg_t *g)
{
	struct rte_mbuf *m;

	while ((m = ut_cap_take(&p->cap)) != NULL) {
		const struct rte_ipv4_hdr *ip;
		const struct rte_tcp_hdr *th;
		const uint8_t *l4;
		size_t len, hlen;

		if (ut_ethertype(m) == RTE_ETHER_TYPE_ARP) {
			answer_arp(p, m);
			rte_pktmbuf_free(m);
			continue;
		}
		if (!frame_is_tcp(m)) {
			rte_pktmbuf_free(m);
			continue;
		}
		ip = ut_ip_of(m);
		l4 = ut_l4_of(m, &len);
		th = (const struct rte_tcp_hdr *)l4;
		assert_true(len >= 20);
		/* Everything the stack sends must carry a valid checksum:
		 * recomputed here with DPDK's code, not the stack's. */
		{
			static uint8_t copy[65536];
			struct rte_tcp_hdr *ct = (struct rte_tcp_hdr *)copy;
			uint16_t want;

			memcpy(copy, l4, len);
			ct->cksum = 0;
			want = rte_ipv4_udptcp_cksum(ip, ct);
			assert_true(th->cksum == want || (th->cksum == 0 && want == 0xffff));
		}
		memset(g, 0, sizeof(*g));
		g->sport = rte_be_to_cpu_16(th->src_port);
		g->dport = rte_be_to_cpu_16(th->dst_port);
		g->seq = rte_be_to_cpu_32(th->sent_seq);
		g->ack = rte_be_to_cpu_32(th->recv_ack);
		g->flags = th->tcp_flags;
		g->wnd = rte_be_to_cpu_16(th->rx_win);
		hlen = (th->data_off >> 4) * 4u;
		assert_true(hlen >= 20 && hlen <= len);
		parse_opts(l4 + 20, hlen - 20, g);
		g->len = (uint16_t)(len - hlen);
		memcpy(p->data, l4 + hlen, g->len < UT_SEG_DATA_MAX ? g->len : UT_SEG_DATA_MAX);
		g->data = p->data;
		rte_pktmbuf_free(m);
		return true;
	}
	return false;
}

unsigned ut_peer_pending(ut_peer_t *p)
{
	unsigned n = 0;

	/* Answer ARP first so that frames it released are counted too. */
	for (unsigned i = 0; i < p->cap.n;) {
		struct rte_mbuf *m = p->cap.m[i];

		if (ut_ethertype(m) == RTE_ETHER_TYPE_ARP) {
			memmove(&p->cap.m[i], &p->cap.m[i + 1], (p->cap.n - i - 1) * sizeof(m));
			p->cap.n--;
			answer_arp(p, m);
			rte_pktmbuf_free(m);
			continue;
		}
		i++;
	}
	for (unsigned i = 0; i < p->cap.n; i++)
		if (frame_is_tcp(p->cap.m[i]))
			n++;
	return n;
}

void ut_peer_drain(ut_peer_t *p)
{
	ut_seg_t g;

	while (ut_peer_recv(p, &g))
		;
}

void ut_peer_advance(ut_peer_t *p, uint64_t us)
{
	uint64_t target = p->now + us;

	for (unsigned guard = 0; guard < 1000000; guard++) {
		uint64_t d = ns_stack_next_deadline(p->s);

		if (d > target)
			break;
		if (d > p->now)
			p->now = d;
		ns_stack_poll(p->s, p->now);
		ns_stack_flush(p->s);
		if (d <= p->now && ns_stack_next_deadline(p->s) <= p->now && guard > 1000)
			fail_msg("timer loop at %llu", (unsigned long long)p->now);
	}
	p->now = target;
	ns_stack_poll(p->s, p->now);
	ns_stack_flush(p->s);
}

/* ---- TCP fixture ---- */

static int ut_app_accepted(ns_conn_t *c, void *listen_ctx)
{
	ut_app_t *a = listen_ctx;

	a->accepted++;
	if (a->accept_rc < 0)
		return a->accept_rc;
	a->c = c;
	ns_conn_set_ctx(c, a);
	return 0;
}

static void ut_app_connected(ns_conn_t *c, void *ctx)
{
	ut_app_t *a = ctx;

	(void)c;
	a->connected++;
}

static void ut_app_data(ns_conn_t *c, void *ctx)
{
	ut_app_t *a = ctx;

	a->data++;
	if (!a->no_read)
		a->rxlen += ns_conn_recv(c, a->rx + a->rxlen, sizeof(a->rx) - a->rxlen);
	a->eof = ns_conn_eof(c);
	if (a->close_on_data) {
		ns_conn_close(c);
		a->c = NULL;
	} else if (a->abort_on_data) {
		ns_conn_abort(c);
		a->c = NULL;
	}
}

static void ut_app_writable(ns_conn_t *c, void *ctx)
{
	ut_app_t *a = ctx;

	(void)c;
	a->writable++;
}

static void ut_app_closed(ns_conn_t *c, void *ctx, int reason)
{
	ut_app_t *a = ctx;

	(void)c;
	a->closed++;
	a->reason = reason;
	a->c = NULL;
}

const ns_conn_ops_t ut_app_ops = {
	.accepted = ut_app_accepted,
	.connected = ut_app_connected,
	.data = ut_app_data,
	.writable = ut_app_writable,
	.closed = ut_app_closed,
};

void ut_tfx_init(ut_tfx_t *f, ut_tfx_tweak_fn *tweak, void *arg)
{
	memset(f, 0, sizeof(*f));
	f->avail0 = rte_mempool_avail_count(ut_pool());
	f->p = ut_peer_create(tweak, arg);
	f->port = UT_TFX_PORT;
	f->pport = UT_TFX_PPORT;
	f->wnd = 65535;
	f->ts = true;
	f->tsval = 5000;
}

void ut_tfx_fini(ut_tfx_t *f)
{
	ut_peer_destroy(&f->p);
	assert_int_equal(rte_mempool_avail_count(ut_pool()), f->avail0);
}

ns_stack_t *ut_tfx_stack(ut_tfx_t *f)
{
	return ut_peer_stack(f->p);
}

ns_stats_t ut_tfx_stats(ut_tfx_t *f)
{
	return ut_stats(ut_tfx_stack(f));
}

ut_seg_t ut_tfx_seg(ut_tfx_t *f, uint8_t flags)
{
	ut_seg_t g;

	memset(&g, 0, sizeof(g));
	g.sport = f->pport;
	g.dport = f->port;
	g.seq = f->snd;
	g.ack = (flags & UT_ACK) ? f->rcv : 0;
	g.flags = flags;
	g.wnd = f->wnd;
	if (f->ts) {
		g.has_ts = true;
		g.tsval = f->tsval;
		g.tsecr = f->ts_echo;
	}
	return g;
}

void ut_tfx_send(ut_tfx_t *f, const ut_seg_t *g)
{
	ut_peer_send(f->p, g);
}

void ut_tfx_send_flags(ut_tfx_t *f, uint8_t flags)
{
	ut_seg_t g = ut_tfx_seg(f, flags);

	ut_tfx_send(f, &g);
}

/* Peer sends LEN bytes of DATA in sequence. */
void ut_tfx_send_data(ut_tfx_t *f, const void *data, uint16_t len)
{
	ut_seg_t g = ut_tfx_seg(f, UT_ACK | UT_PSH);

	g.data = data;
	g.len = len;
	ut_tfx_send(f, &g);
	f->snd += len;
}

ut_seg_t ut_tfx_expect(ut_tfx_t *f, uint8_t flags)
{
	ut_seg_t g;

	if (!ut_peer_recv(f->p, &g))
		fail_msg("expected a segment with flags %02x, got nothing", flags);
	if (g.flags != flags)
		fail_msg("expected flags %02x, got %02x (seq %u ack %u len %u)", flags, g.flags, g.seq,
			 g.ack, g.len);
	assert_int_equal(g.sport, f->port);
	assert_int_equal(g.dport, f->pport);
	if (g.has_ts)
		f->ts_echo = g.tsval;
	return g;
}

void ut_tfx_expect_none(ut_tfx_t *f)
{
	ut_seg_t g;

	if (ut_peer_recv(f->p, &g))
		fail_msg("expected silence, got flags %02x seq %u ack %u len %u", g.flags, g.seq, g.ack,
			 g.len);
}

void ut_tfx_flush(ut_tfx_t *f)
{
	ns_stack_flush(ut_tfx_stack(f));
}

struct tfx_find {
	uint16_t rport;
	bool found;
	ns_conn_info_t info;
};

static void tfx_find_fn(const ns_conn_info_t *i, void *arg)
{
	struct tfx_find *fd = arg;

	if (i->remote_port == fd->rport && strcmp(i->state, "LISTEN") != 0) {
		fd->found = true;
		fd->info = *i;
	}
}

bool ut_tfx_info(ut_tfx_t *f, uint16_t pport, ns_conn_info_t *r)
{
	struct tfx_find fd = {.rport = pport};

	ns_stack_foreach_conn(ut_tfx_stack(f), tfx_find_fn, &fd);
	*r = fd.info;
	return fd.found;
}

/* The state of the connection with the peer port, or "NONE". */
const char *ut_tfx_state_of(ut_tfx_t *f, uint16_t pport)
{
	ns_conn_info_t info;

	return ut_tfx_info(f, pport, &info) ? info.state : "NONE";
}

const char *ut_tfx_state(ut_tfx_t *f)
{
	return ut_tfx_state_of(f, f->pport);
}

/* SYN with the usual options (as Linux sends them). */
ut_seg_t ut_tfx_syn(ut_tfx_t *f)
{
	ut_seg_t g = ut_tfx_seg(f, UT_SYN);

	g.seq = f->snd;
	g.has_mss = true;
	g.mss = 1460;
	g.has_ws = true;
	g.ws = 7;
	g.sack_ok = true;
	g.tsecr = 0;
	return g;
}

void ut_tfx_listen(ut_tfx_t *f)
{
	assert_int_equal(ns_tcp_listen(ut_tfx_stack(f), f->port, &ut_app_ops, &f->app), 0);
}

/* LISTEN -> SYN_RCVD -> ESTABLISHED, passive. */
void ut_tfx_est_passive(ut_tfx_t *f)
{
	ut_seg_t g, r;

	ut_tfx_listen(f);
	f->snd = UT_TFX_PISS;
	g = ut_tfx_syn(f);
	ut_tfx_send(f, &g);
	r = ut_tfx_expect(f, UT_SYN | UT_ACK);
	assert_int_equal(r.ack, UT_TFX_PISS + 1);
	f->our_iss = r.seq;
	f->rcv = r.seq + 1;
	f->snd = UT_TFX_PISS + 1;
	f->tsval++;
	ut_tfx_send_flags(f, UT_ACK);
	assert_int_equal(f->app.accepted, 1);
	assert_non_null(f->app.c);
	assert_string_equal(ut_tfx_state(f), "ESTABLISHED");
	ut_tfx_expect_none(f);
}

/* CLOSED -> SYN_SENT -> ESTABLISHED, active. The stack's local port becomes
 * f->port and the "peer port" is UT_TFX_PORT. */
void ut_tfx_est_active(ut_tfx_t *f, bool answer)
{
	ut_seg_t g, r;

	assert_int_equal(ns_tcp_connect(ut_tfx_stack(f), ut_ip_peer, UT_TFX_PORT, &ut_app_ops, &f->app, &f->app.c), 0);
	assert_true(ut_peer_recv(f->p, &r));
	assert_int_equal(r.flags, UT_SYN);
	assert_int_equal(r.dport, UT_TFX_PORT);
	assert_true(r.sport >= 49152);
	f->port = r.sport;
	f->pport = UT_TFX_PORT;
	f->our_iss = r.seq;
	f->rcv = r.seq + 1;
	f->ts_echo = r.tsval;
	if (!answer)
		return;
	f->snd = UT_TFX_PISS;
	g = ut_tfx_syn(f);
	g.flags = UT_SYN | UT_ACK;
	g.ack = f->rcv;
	g.tsecr = f->ts_echo;
	ut_tfx_send(f, &g);
	f->snd = UT_TFX_PISS + 1;
	ut_tfx_expect(f, UT_ACK);
	assert_int_equal(f->app.connected, 1);
	assert_string_equal(ut_tfx_state(f), "ESTABLISHED");
}
