/* ns_tcp - the TCP module of a stack: the connection pool and its 4-tuple
 * hash, listeners, active open, connection teardown, the flush queue that
 * coalesces output and runs the app's callbacks, and ICMP errors.
 *
 * Everything is allocated once at ns_tcp_create: a pool of max_conns +
 * time_wait_max connection objects on a free list, and a hash table with at
 * least as many buckets. The data plane allocates only mbufs. */
#include <stdlib.h>
#include <string.h>

#include <rte_jhash.h>

#include "ns_tcp_private.h"

const char *const ns_tcp_state_names[NS_TCP_NSTATES] = {
	[NS_TCP_CLOSED] = "CLOSED",
	[NS_TCP_LISTEN] = "LISTEN",
	[NS_TCP_SYN_SENT] = "SYN_SENT",
	[NS_TCP_SYN_RCVD] = "SYN_RCVD",
	[NS_TCP_ESTABLISHED] = "ESTABLISHED",
	[NS_TCP_FIN_WAIT_1] = "FIN_WAIT_1",
	[NS_TCP_FIN_WAIT_2] = "FIN_WAIT_2",
	[NS_TCP_CLOSE_WAIT] = "CLOSE_WAIT",
	[NS_TCP_CLOSING] = "CLOSING",
	[NS_TCP_LAST_ACK] = "LAST_ACK",
	[NS_TCP_TIME_WAIT] = "TIME_WAIT",
};

static uint64_t or_default(uint64_t v, uint64_t def)
{
	return v != 0 ? v : def;
}

/* ns.h documents the defaults; a zero where zero means nothing sensible
 * gets the default, so a caller that fills only some fields still gets a
 * working TCP. */
static void tcp_params(struct ns_tcp *t, const ns_stack_params_t *p)
{
	uint32_t ws = 0;

	t->max_conns = (uint32_t)or_default(p->max_conns, 16384);
	t->tw_max = (uint32_t)or_default(p->time_wait_max, 4096);
	t->sndbuf = (uint32_t)or_default(p->sndbuf, 1u << 20);
	t->rcvbuf = (uint32_t)or_default(p->rcvbuf, 1u << 20);
	t->backlog = (uint32_t)or_default(p->syn_backlog, 256);
	t->chack_limit = (uint32_t)or_default(p->challenge_ack_limit, 1000);
	t->mem_max = or_default(p->tcp_mem_max, 256ull << 20);
	t->delack_us = or_default(p->delack_us, 40 * SL_US_PER_MS);
	t->rto_min_us = or_default(p->rto_min_us, 200 * SL_US_PER_MS);
	t->rto_max_us = or_default(p->rto_max_us, 60 * SL_US_PER_S);
	if (t->rto_max_us < t->rto_min_us)
		t->rto_max_us = t->rto_min_us;
	t->ka_idle_us = p->keepalive_idle_us; /* 0 = off */
	t->ka_intvl_us = or_default(p->keepalive_intvl_us, 75 * SL_US_PER_S);
	t->ka_probes = (uint32_t)or_default(p->keepalive_probes, 9);
	t->tw_us = or_default(p->time_wait_us, 60 * SL_US_PER_S);
	/* Tiny buffers would make windows smaller than a segment. */
	if (t->sndbuf < 4096)
		t->sndbuf = 4096;
	if (t->rcvbuf < 4096)
		t->rcvbuf = 4096;
	if (t->sndbuf > (1u << 30))
		t->sndbuf = 1u << 30;
	if (t->rcvbuf > (1u << 30))
		t->rcvbuf = 1u << 30;
	if (p->window_scaling)
		while (ws < NS_TCP_MAX_WSCALE && (t->rcvbuf >> ws) > 65535)
			ws++;
	t->rcv_wscale = (uint8_t)ws;
	if (!p->window_scaling && t->rcvbuf > 65535)
		t->rcvbuf = 65535;
	t->cc = p->cc == NS_CC_NEWRENO ? &ns_tcp_cc_newreno : &ns_tcp_cc_cubic;
}

static uint32_t pow2_at_least(uint32_t n)
{
	uint32_t v = 1;

	while (v < n && v < (1u << 30))
		v <<= 1;
	return v;
}

int ns_tcp_create(ns_stack_t *s)
{
	struct ns_tcp *t;
	struct rte_mbuf *probe;
	uint32_t nb, room;

	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return SL_ENOMEM;
	t->s = s;
	s->tcp = t;
	tcp_params(t, &s->p);
	t->nconns = t->max_conns + t->tw_max;
	t->conns = calloc(t->nconns, sizeof(*t->conns));
	nb = pow2_at_least(t->nconns);
	t->buckets = calloc(nb, sizeof(*t->buckets));
	if (t->conns == NULL || t->buckets == NULL)
		goto fail;
	t->hmask = nb - 1;
	for (uint32_t i = t->nconns; i-- > 0;) {
		t->conns[i].hnext = t->free_list;
		t->free_list = &t->conns[i];
	}
	tcp_keys_init(t, s->p.isn_secret);

	/* The largest segment one output mbuf carries: measured, since only
	 * ns_pkt_alloc knows the data offset it uses. */
	probe = ns_pkt_alloc(s);
	if (probe == NULL)
		goto fail;
	room = rte_pktmbuf_tailroom(probe);
	rte_pktmbuf_free(probe);
	if (room < NS_TCP_HDR_LEN + NS_TCP_MSS_MIN)
		goto fail;
	t->mss_cap = (uint16_t)(room - NS_TCP_HDR_LEN > 65535 ? 65535 : room - NS_TCP_HDR_LEN);
	/* ns_stack_create guarantees mtu >= 68: at least 28 bytes per
	 * segment, and more than the 12 bytes of a timestamp option. */
	t->mss_adv = (uint16_t)(s->p.mtu - 40);
	if (t->mss_adv > t->mss_cap)
		t->mss_adv = t->mss_cap;
	t->pool_reserve = s->p.pool->size / 8;
	return 0;
fail:
	ns_tcp_destroy(s);
	return SL_ENOMEM;
}

void ns_tcp_destroy(ns_stack_t *s)
{
	struct ns_tcp *t = s->tcp;
	struct ns_conn *c;

	if (t == NULL)
		return;
	if (t->conns != NULL) {
		t->depth++;
		for (uint32_t i = 0; i < t->nconns; i++) {
			c = &t->conns[i];
			if (!(c->flags & NS_TCPF_INUSE) || (c->flags & NS_TCPF_DEAD))
				continue;
			/* ns.h: destroy resets every connection, silently. */
			if (c->state >= NS_TCP_SYN_RCVD && c->state != NS_TCP_TIME_WAIT) {
				tcp_xmit_raw(s, c->lip, c->rip, c->lport, c->rport, c->snd_max, 0,
					     NS_TH_RST, 0, NULL, 0);
				NS_STAT_INC(s, tcp_rst_tx);
			}
			tcp_conn_release(c);
		}
		for (c = t->outq_head; c != NULL; c = c->out_next)
			c->flags &= ~NS_TCPF_ON_OUTQ;
		t->outq_head = t->outq_tail = NULL;
		t->depth = 0;
		tcp_reap(t);
	}
	free(t->buckets);
	free(t->conns);
	free(t);
	s->tcp = NULL;
}

/* ---- Lookup ---- */

static uint32_t tuple_bucket(const struct ns_tcp *t, uint32_t rip, uint16_t lport, uint16_t rport)
{
	/* The local address is always ours: three words suffice. The seed is
	 * secret, so a peer cannot aim many tuples at one chain. */
	return rte_jhash_3words(rip, lport, rport, t->hseed) & t->hmask;
}

struct ns_conn *tcp_conn_lookup(struct ns_tcp *t, uint32_t lip, uint32_t rip, uint16_t lport,
				uint16_t rport)
{
	struct ns_conn *c = t->buckets[tuple_bucket(t, rip, lport, rport)];

	for (; c != NULL; c = c->hnext)
		if (c->rip == rip && c->lport == lport && c->rport == rport && c->lip == lip)
			return c;
	return NULL;
}

void tcp_conn_hash(struct ns_tcp *t, struct ns_conn *c)
{
	uint32_t b = tuple_bucket(t, c->rip, c->lport, c->rport);

	c->hnext = t->buckets[b];
	t->buckets[b] = c;
	c->flags |= NS_TCPF_HASHED;
}

void tcp_conn_unhash(struct ns_tcp *t, struct ns_conn *c)
{
	struct ns_conn **pp;

	if (!(c->flags & NS_TCPF_HASHED))
		return;
	pp = &t->buckets[tuple_bucket(t, c->rip, c->lport, c->rport)];
	while (*pp != NULL && *pp != c)
		pp = &(*pp)->hnext;
	if (*pp == c)
		*pp = c->hnext;
	c->hnext = NULL;
	c->flags &= ~NS_TCPF_HASHED;
}

static void stats_update(struct ns_tcp *t)
{
	t->s->stats.tcp_conns_current = t->nlive;
	t->s->stats.tcp_time_wait_current = t->ntw;
}

struct ns_conn *tcp_conn_alloc(struct ns_tcp *t, uint32_t rip, uint16_t lport, uint16_t rport)
{
	struct ns_conn *c = t->free_list;

	if (t->nlive >= t->max_conns || c == NULL)
		return NULL;
	t->free_list = c->hnext;
	memset(c, 0, sizeof(*c));
	c->s = t->s;
	c->flags = NS_TCPF_INUSE;
	c->lip = t->s->p.ip;
	c->rip = rip;
	c->lport = lport;
	c->rport = rport;
	c->rto_us = NS_TCP_RTO_INIT_US;
	if (c->rto_us < t->rto_min_us)
		c->rto_us = (uint32_t)t->rto_min_us;
	if (c->rto_us > t->rto_max_us)
		c->rto_us = (uint32_t)t->rto_max_us;
	c->last_rx_us = t->s->now_us;
	c->mss = NS_TCP_MSS_DEFAULT;
	c->smss = NS_TCP_MSS_DEFAULT;
	c->ts_offset = tcp_ts_offset(t, c->lip, rip, lport, rport);
	tcp_timers_init(c);
	t->nlive++;
	stats_update(t);
	return c;
}

/* Fix the per-connection options from the peer's SYN (or SYN-ACK) options
 * O, given what we offered (the stack params). */
void tcp_conn_setup_opts(struct ns_conn *c, const struct ns_tcp_opts *o)
{
	const struct ns_tcp *t = tcp_of(c);
	const ns_stack_params_t *p = &c->s->p;
	uint32_t mss = o->has_mss ? o->mss : NS_TCP_MSS_DEFAULT;

	if (p->timestamps && o->has_ts) {
		c->flags |= NS_TCPF_TS;
		c->ts_recent = o->tsval;
		c->ts_recent_us = c->s->now_us;
	}
	if (p->sack && o->sack_ok)
		c->flags |= NS_TCPF_SACK;
	/* RFC 7323 §2.2: scaling is on only if both sides sent the option. */
	if (p->window_scaling && o->has_ws) {
		c->flags |= NS_TCPF_WSCALE;
		c->snd_wscale = o->wscale;
		c->rcv_wscale = t->rcv_wscale;
	} else {
		c->snd_wscale = 0;
		c->rcv_wscale = 0;
	}
	/* A tiny or zero MSS from the peer would mean segments of a few
	 * bytes (or none): RFC 6691 floors aside, keep 88 unless our own MTU
	 * is smaller still. */
	if (mss < NS_TCP_MSS_MIN)
		mss = NS_TCP_MSS_MIN;
	if (mss > t->mss_adv)
		mss = t->mss_adv;
	c->mss = (uint16_t)mss;
	c->smss = (uint16_t)(mss - tcp_opts_fixed_len(c));
}

/* ---- Listeners ---- */

struct ns_tcp_listener *tcp_listener_find(struct ns_tcp *t, uint16_t port)
{
	for (unsigned i = 0; i < NS_TCP_LISTEN_MAX; i++)
		if (t->listeners[i].used && t->listeners[i].port == port)
			return &t->listeners[i];
	return NULL;
}

int ns_tcp_listen(ns_stack_t *s, uint16_t port, const ns_conn_ops_t *ops, void *ctx)
{
	struct ns_tcp *t = s->tcp;

	/* Without `accepted` nobody would ever own the connections. */
	if (port == 0 || ops == NULL || ops->accepted == NULL)
		return SL_EINVAL;
	if (tcp_listener_find(t, port) != NULL)
		return SL_EADDRINUSE;
	for (unsigned i = 0; i < NS_TCP_LISTEN_MAX; i++) {
		struct ns_tcp_listener *l = &t->listeners[i];

		if (!l->used) {
			memset(l, 0, sizeof(*l));
			l->used = true;
			l->port = port;
			l->ops = *ops;
			l->ctx = ctx;
			return 0;
		}
	}
	return SL_ENOMEM;
}

int ns_tcp_unlisten(ns_stack_t *s, uint16_t port)
{
	struct ns_tcp *t = s->tcp;
	struct ns_tcp_listener *l = tcp_listener_find(t, port);

	if (l == NULL)
		return SL_ENOENT;
	/* Connections the app already accepted stay. Those it has not seen
	 * (half-open, or established with `accepted` still pending) are reset:
	 * after unlisten returns, nothing may call `accepted` with a listen
	 * ctx the caller may be about to free. */
	for (uint32_t i = 0; i < t->nconns; i++) {
		struct ns_conn *c = &t->conns[i];

		if (!(c->flags & NS_TCPF_INUSE) || (c->flags & (NS_TCPF_DEAD | NS_TCPF_APP_SEEN)) ||
		    !(c->flags & NS_TCPF_PASSIVE) || c->lport != port ||
		    c->state == NS_TCP_TIME_WAIT)
			continue;
		ns_conn_abort(c);
	}
	l->used = false;
	return 0;
}

/* ---- Active open ---- */

static bool route_ok(const ns_stack_t *s, uint32_t dst)
{
	if ((dst & s->netmask) == (s->p.ip & s->netmask))
		return true;
	return s->p.gateway != 0;
}

/* RFC 6056 §3.3.3 (Algorithm 3): a per-destination offset plus a global
 * counter, probing until a 4-tuple is free. */
static uint16_t ephemeral_port(struct ns_tcp *t, uint32_t rip, uint16_t rport)
{
	uint32_t n = NS_TCP_EPH_MAX - NS_TCP_EPH_MIN + 1;
	uint32_t off = tcp_port_offset(t, t->s->p.ip, rip, rport);

	for (uint32_t i = 0; i < n; i++) {
		uint16_t port = (uint16_t)(NS_TCP_EPH_MIN + (off + t->eph_next + i) % n);

		if (tcp_listener_find(t, port) != NULL)
			continue;
		if (tcp_conn_lookup(t, t->s->p.ip, rip, port, rport) != NULL)
			continue;
		t->eph_next += i + 1;
		return port;
	}
	return 0;
}

int ns_tcp_connect(ns_stack_t *s, uint32_t dst_ip, uint16_t dst_port, const ns_conn_ops_t *ops,
		   void *ctx, ns_conn_t **conn_r)
{
	struct ns_tcp *t = s->tcp;
	struct ns_conn *c;
	uint16_t port;
	uint32_t h = rte_be_to_cpu_32(dst_ip);

	*conn_r = NULL;
	if (dst_port == 0 || ops == NULL || h == 0 || h == 0xffffffffu ||
	    (h & 0xf0000000u) == 0xe0000000u)
		return SL_EINVAL;
	if (!route_ok(s, dst_ip))
		return SL_EUNREACH;
	if (t->nlive >= t->max_conns || t->free_list == NULL) {
		NS_STAT_INC(s, tcp_conn_limit_drops);
		return SL_ELIMIT;
	}
	port = ephemeral_port(t, dst_ip, dst_port);
	if (port == 0)
		return SL_ELIMIT;
	c = tcp_conn_alloc(t, dst_ip, port, dst_port);
	if (c == NULL)
		return SL_ELIMIT;
	c->flags |= NS_TCPF_APP_SEEN | NS_TCPF_SEND_SYN;
	c->ops = *ops;
	c->ctx = ctx;
	c->state = NS_TCP_SYN_SENT;
	c->iss = tcp_isn(t, c->lip, c->rip, c->lport, c->rport);
	c->snd_una = c->snd_nxt = c->snd_max = c->iss;
	c->sq_seq = c->iss + 1;
	c->high_rxt = c->recover = c->lost_hint = c->iss;
	c->rescue_rxt = c->iss - 1;
	/* Until the peer's SYN says otherwise (RFC 9293 §3.7.1). */
	c->mss = c->smss = NS_TCP_MSS_DEFAULT;
	tcp_conn_hash(t, c);
	NS_STAT_INC(s, tcp_active_opens);
	tcp_output(c); /* the SYN goes now; it cannot recurse into input */
	*conn_r = c;
	return 0;
}

/* ---- Teardown ---- */

void tcp_set_state(struct ns_conn *c, enum ns_tcp_state st)
{
	c->state = (uint8_t)st;
}

static void tw_unlink(struct ns_tcp *t, struct ns_conn *c)
{
	if (c->tw_prev != NULL)
		c->tw_prev->tw_next = c->tw_next;
	else
		t->tw_head = c->tw_next;
	if (c->tw_next != NULL)
		c->tw_next->tw_prev = c->tw_prev;
	else
		t->tw_tail = c->tw_prev;
	c->tw_prev = c->tw_next = NULL;
	c->flags &= ~NS_TCPF_ON_TW;
	t->ntw--;
}

/* RFC 9293 §3.10.7.4: TIME_WAIT holds the 4-tuple for 2*MSL. Entries are
 * bounded by time_wait_max: beyond it the oldest is recycled early, which
 * RFC 6191's timestamp check and the ISN clock make safe in practice, and
 * which keeps a burst of short connections from exhausting the pool. */
void tcp_enter_time_wait(struct ns_conn *c)
{
	struct ns_tcp *t = tcp_of(c);

	tcp_set_state(c, NS_TCP_TIME_WAIT);
	if (!(c->flags & NS_TCPF_ON_TW)) {
		t->nlive--;
		t->ntw++;
		c->tw_prev = t->tw_tail;
		c->tw_next = NULL;
		if (t->tw_tail != NULL)
			t->tw_tail->tw_next = c;
		else
			t->tw_head = c;
		t->tw_tail = c;
		c->flags |= NS_TCPF_ON_TW;
	}
	tcp_sq_free(c);
	if (c->flags & NS_TCPF_ORPHAN)
		tcp_rq_free(c);
	tcp_delack_cancel(c);
	sl_timer_cancel(c->s->wheel, &c->timer);
	c->tmode = NS_TCP_T_NONE;
	tcp_timer_update(c);
	while (t->ntw > t->tw_max && t->tw_head != NULL && t->tw_head != c) {
		NS_STAT_INC(c->s, tcp_time_wait_recycled);
		tcp_conn_finish(t->tw_head, 0);
	}
	stats_update(t);
}

void tcp_conn_mark(struct ns_conn *c)
{
	struct ns_tcp *t = tcp_of(c);

	if (c->flags & (NS_TCPF_ON_OUTQ | NS_TCPF_DEAD))
		return;
	c->flags |= NS_TCPF_ON_OUTQ;
	c->out_next = NULL;
	if (t->outq_tail != NULL)
		t->outq_tail->out_next = c;
	else
		t->outq_head = c;
	t->outq_tail = c;
}

void tcp_conn_event(struct ns_conn *c, uint8_t ev)
{
	if (c->flags & (NS_TCPF_ORPHAN | NS_TCPF_DEAD))
		return;
	c->ev |= ev;
	tcp_conn_mark(c);
}

void tcp_conn_finish(struct ns_conn *c, int reason)
{
	struct ns_tcp *t = tcp_of(c);

	if (c->flags & NS_TCPF_DEAD)
		return;
	if ((c->flags & NS_TCPF_ORPHAN) || !(c->flags & NS_TCPF_APP_SEEN)) {
		tcp_conn_release(c);
		return;
	}
	/* The app still holds C: keep the object (and what is readable) in
	 * CLOSED until it closes it or `closed` returns. */
	tcp_conn_unhash(t, c);
	tcp_timers_cancel(c);
	if (c->flags & NS_TCPF_ON_TW) {
		tw_unlink(t, c);
		t->nlive++;
	}
	if (c->listener != NULL) {
		c->listener->half_open--;
		c->listener = NULL;
	}
	tcp_sq_free(c);
	tcp_set_state(c, NS_TCP_CLOSED);
	c->ev &= (uint8_t)~NS_TCP_EV_WRITABLE; /* nothing can be sent any more */
	if (reason < 0) {
		c->close_reason = reason;
		tcp_conn_event(c, NS_TCP_EV_CLOSED);
	}
	stats_update(t);
}

void tcp_conn_release(struct ns_conn *c)
{
	struct ns_tcp *t = tcp_of(c);

	if (c->flags & NS_TCPF_DEAD)
		return;
	tcp_conn_unhash(t, c);
	tcp_timers_cancel(c);
	tcp_sq_free(c);
	tcp_rq_free(c);
	if (c->flags & NS_TCPF_ON_TW)
		tw_unlink(t, c);
	else
		t->nlive--;
	if (c->listener != NULL) {
		c->listener->half_open--;
		c->listener = NULL;
	}
	if ((c->flags & NS_TCPF_WAIT_MEM) && t->wait_mem > 0)
		t->wait_mem--;
	c->flags = NS_TCPF_INUSE | NS_TCPF_DEAD | (c->flags & NS_TCPF_ON_OUTQ);
	tcp_set_state(c, NS_TCP_CLOSED);
	c->ev = 0;
	c->hnext = t->zombies;
	t->zombies = c;
	stats_update(t);
}

/* Zombies go back to the pool only when no caller up the stack can still
 * hold them: outside input/flush, and off the flush queue. */
void tcp_reap(struct ns_tcp *t)
{
	struct ns_conn **pp = &t->zombies;

	if (t->depth > 0)
		return;
	while (*pp != NULL) {
		struct ns_conn *c = *pp;

		if (c->flags & NS_TCPF_ON_OUTQ) {
			pp = &c->hnext;
			continue;
		}
		*pp = c->hnext;
		c->flags = 0;
		c->hnext = t->free_list;
		t->free_list = c;
	}
}

/* ---- Flush: events, then output, once per marked connection ---- */

static void conn_dispatch(struct ns_conn *c)
{
	while (c->ev != 0 && !(c->flags & (NS_TCPF_DEAD | NS_TCPF_ORPHAN))) {
		if (c->ev & NS_TCP_EV_ESTABLISHED) {
			c->ev &= (uint8_t)~NS_TCP_EV_ESTABLISHED;
			if (c->flags & NS_TCPF_PASSIVE) {
				int rc = 0;

				c->flags |= NS_TCPF_APP_SEEN;
				if (c->ops.accepted != NULL)
					rc = c->ops.accepted(c, c->ctx);
				if (rc < 0 && !(c->flags & (NS_TCPF_DEAD | NS_TCPF_ORPHAN)))
					ns_conn_abort(c);
			} else if (c->ops.connected != NULL) {
				c->ops.connected(c, c->ctx);
			}
		} else if (c->ev & NS_TCP_EV_DATA) {
			c->ev &= (uint8_t)~NS_TCP_EV_DATA;
			if (c->ops.data != NULL)
				c->ops.data(c, c->ctx);
		} else if (c->ev & NS_TCP_EV_WRITABLE) {
			c->ev &= (uint8_t)~NS_TCP_EV_WRITABLE;
			c->flags &= ~NS_TCPF_WANT_WRITABLE;
			if (c->ops.writable != NULL)
				c->ops.writable(c, c->ctx);
		} else if (c->ev & NS_TCP_EV_CLOSED) {
			c->ev = 0;
			if (c->ops.closed != NULL)
				c->ops.closed(c, c->ctx, c->close_reason);
			tcp_conn_release(c);
		}
	}
}

/* Connections refused send space for lack of mbufs or tcp_mem_max get
 * `writable` once memory is back (checked at most once per millisecond). */
static void wait_mem_check(struct ns_tcp *t)
{
	ns_stack_t *s = t->s;

	if (s->now_us - t->wait_mem_us < NS_TCP_WAIT_MEM_US)
		return;
	t->wait_mem_us = s->now_us;
	if (rte_mempool_avail_count(s->p.pool) <= 2 * t->pool_reserve ||
	    t->mem_used + t->mem_max / 8 > t->mem_max)
		return;
	for (uint32_t i = 0; i < t->nconns && t->wait_mem > 0; i++) {
		struct ns_conn *c = &t->conns[i];

		if (!(c->flags & NS_TCPF_WAIT_MEM))
			continue;
		c->flags &= ~NS_TCPF_WAIT_MEM;
		t->wait_mem--;
		if (c->flags & NS_TCPF_WANT_WRITABLE)
			tcp_conn_event(c, NS_TCP_EV_WRITABLE);
	}
	t->wait_mem = 0;
}

void ns_tcp_flush(ns_stack_t *s)
{
	struct ns_tcp *t = s->tcp;
	struct ns_conn *c;

	if (unlikely(t->wait_mem > 0))
		wait_mem_check(t);
	t->depth++;
	while ((c = t->outq_head) != NULL) {
		t->outq_head = c->out_next;
		if (t->outq_head == NULL)
			t->outq_tail = NULL;
		/* ON_OUTQ stays set while C is processed, so that sends from
		 * its own callbacks do not queue it twice. */
		if (!(c->flags & NS_TCPF_DEAD))
			conn_dispatch(c);
		if (!(c->flags & NS_TCPF_DEAD))
			tcp_output(c);
		c->flags &= ~NS_TCPF_ON_OUTQ;
	}
	t->depth--;
	tcp_reap(t);
}

/* ---- Introspection ---- */

static void conn_info(const struct ns_conn *c, ns_conn_info_t *r)
{
	memset(r, 0, sizeof(*r));
	r->local_ip = c->lip;
	r->remote_ip = c->rip;
	r->local_port = c->lport;
	r->remote_port = c->rport;
	r->state = ns_tcp_state_names[c->state < NS_TCP_NSTATES ? c->state : NS_TCP_CLOSED];
	r->snd_queued = c->sq_len;
	r->rcv_queued = c->rq_len;
	r->cwnd = c->cwnd;
	r->ssthresh = c->ssthresh;
	r->snd_wnd = c->snd_wnd;
	r->rcv_wnd = SEQ_GT(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;
	r->mss = c->smss;
	r->srtt_us = c->srtt_us;
	r->rto_us = (uint32_t)tcp_rto_current(c);
	r->retransmits = c->retransmits;
	r->bytes_in = c->bytes_in;
	r->bytes_out = c->bytes_out;
}

void ns_conn_get_info(const ns_conn_t *c, ns_conn_info_t *r)
{
	conn_info(c, r);
}

void ns_stack_foreach_conn(const ns_stack_t *s, void (*fn)(const ns_conn_info_t *i, void *arg),
			   void *arg)
{
	const struct ns_tcp *t = s->tcp;
	ns_conn_info_t info;

	for (unsigned i = 0; i < NS_TCP_LISTEN_MAX; i++) {
		const struct ns_tcp_listener *l = &t->listeners[i];

		if (!l->used)
			continue;
		memset(&info, 0, sizeof(info));
		info.local_ip = s->p.ip;
		info.local_port = l->port;
		info.state = ns_tcp_state_names[NS_TCP_LISTEN];
		fn(&info, arg);
	}
	for (uint32_t i = 0; i < t->nconns; i++) {
		const struct ns_conn *c = &t->conns[i];

		if (!(c->flags & NS_TCPF_INUSE) || (c->flags & NS_TCPF_DEAD))
			continue;
		conn_info(c, &info);
		fn(&info, arg);
	}
}

/* ---- ICMP errors (RFC 5927, RFC 1122 4.2.3.9, RFC 1191) ---- */

/* RFC 1191 §7 plateaus, for "fragmentation needed" without a usable MTU. */
static const uint16_t mtu_plateaus[] = {32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296, 68};

void ns_tcp_icmp_error(ns_stack_t *s, const struct rte_ipv4_hdr *orig_ip, uint16_t orig_len,
		       uint8_t type, uint8_t code)
{
	struct ns_tcp *t = s->tcp;
	unsigned ihl = (orig_ip->version_ihl & 0x0f) * 4u;
	const uint8_t *th;
	struct ns_conn *c;
	uint32_t seq;

	if (t == NULL || ihl < 20 || orig_len < ihl + 8)
		return;
	th = (const uint8_t *)orig_ip + ihl;
	c = tcp_conn_lookup(t, orig_ip->src_addr, orig_ip->dst_addr,
			    (uint16_t)((th[0] << 8) | th[1]), (uint16_t)((th[2] << 8) | th[3]));
	if (c == NULL || c->state < NS_TCP_SYN_SENT || c->state == NS_TCP_TIME_WAIT)
		return;
	seq = ((uint32_t)th[4] << 24) | ((uint32_t)th[5] << 16) | ((uint32_t)th[6] << 8) | th[7];
	/* RFC 5927 §4.1: believe only errors about data in flight; anything
	 * else may be forged by someone guessing the 4-tuple. */
	if (!(SEQ_GEQ(seq, c->snd_una) && SEQ_LT(seq, c->snd_max)))
		return;
	if (type == 3 && code == 4) {
		uint32_t mtu = (uint32_t)c->mss + 40, next = 68;

		for (unsigned i = 0; i < sizeof(mtu_plateaus) / sizeof(mtu_plateaus[0]); i++) {
			if (mtu_plateaus[i] < mtu) {
				next = mtu_plateaus[i];
				break;
			}
		}
		if (next - 40 < NS_TCP_MSS_MIN)
			return;
		c->mss = (uint16_t)(next - 40);
		c->smss = (uint16_t)(c->mss - tcp_opts_fixed_len(c));
		/* Not congestion (RFC 1191 §6): resend at the new size
		 * without touching cwnd. */
		if (tcp_synchronized(c)) {
			c->snd_nxt = c->snd_una;
			tcp_conn_mark(c);
		}
		return;
	}
	/* RFC 1122 4.2.3.9: protocol/port unreachable are hard errors; RFC
	 * 5461 §4 limits aborting to connections still opening. */
	if (type == 3 && (code == 2 || code == 3) && c->state == NS_TCP_SYN_SENT) {
		t->depth++;
		tcp_conn_finish(c, SL_ECONNREFUSED);
		t->depth--;
		return;
	}
	if (type == 3 || type == 11)
		c->soft_err = SL_EUNREACH;
}
