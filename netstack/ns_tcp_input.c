/* ns_tcp_input - segment arrival: validation, then the event processing of
 * RFC 9293 §3.10.7 with the RFC 5961 (blind attacks), RFC 7323 (PAWS),
 * RFC 6191 (TIME_WAIT reuse) and RFC 4987 (SYN cookie) amendments.
 *
 * Input never transmits data itself, except RSTs and SYN-cookie SYN-ACKs,
 * which have no connection to coalesce on: it updates state, queues
 * received data, marks the connection, and ns_tcp_flush later runs the
 * app's callbacks and sends one round of ACKs and data per connection. */
#include <string.h>

#include <rte_tcp.h>

#include "ns_tcp_private.h"

static bool input_sync(struct ns_conn *c, struct ns_tcp_seg *seg, struct rte_mbuf **mp);

/* ---- Connection creation from a listener ---- */

static void conn_init_passive(struct ns_conn *c, const struct ns_tcp_listener *l,
			      const struct ns_tcp_seg *seg)
{
	c->flags |= NS_TCPF_PASSIVE;
	c->ops = l->ops;
	c->ctx = l->ctx; /* passed as listen_ctx to `accepted` */
	c->irs = seg->seq;
	c->rcv_nxt = seg->seq + 1;
	c->rcv_adv = c->rcv_nxt;
	c->last_ack_sent = c->rcv_nxt;
	c->rcv_mss = NS_TCP_MSS_DEFAULT;
}

/* SYN on a listener with a full backlog: answer with a cookie and keep
 * nothing (RFC 4987 §3.6). */
static void send_cookie(struct ns_tcp *t, struct ns_tcp_listener *l, const struct ns_tcp_seg *seg)
{
	ns_stack_t *s = t->s;
	uint8_t opts[NS_TCP_OPT_MAX];
	uint16_t mss = seg->o.has_mss ? seg->o.mss : NS_TCP_MSS_DEFAULT;
	uint32_t idx, cookie, wnd;
	unsigned optlen;

	if (mss > t->mss_adv)
		mss = t->mss_adv;
	cookie = tcp_cookie_make(t, seg, mss, &idx);
	if (s->p.timestamps && seg->o.has_ts) {
		/* The peer's window scale and SACK-permitted come back in the
		 * echo of our TSval; our own scale is a stack constant. */
		int ws = s->p.window_scaling && seg->o.has_ws ? seg->o.wscale : -1;
		bool sack = s->p.sack && seg->o.sack_ok;
		uint32_t now = (uint32_t)(s->now_us / SL_US_PER_MS) +
			       tcp_ts_offset(t, seg->daddr, seg->saddr, seg->dport, seg->sport);
		uint32_t tsval = tcp_cookie_ts_encode(now, ws, sack);

		optlen = tcp_opts_build_syn(opts, t->mss_adv, ws >= 0 ? t->rcv_wscale : -1, sack,
					    true, tsval, seg->o.tsval);
	} else {
		/* No timestamps: nothing can carry the other options, so
		 * none are offered. */
		optlen = tcp_opts_build_syn(opts, t->mss_adv, -1, false, false, 0, 0);
	}
	wnd = t->rcvbuf > 65535 ? 65535 : t->rcvbuf;
	tcp_xmit_raw(s, seg->daddr, seg->saddr, seg->dport, seg->sport, cookie, seg->seq + 1,
		     NS_TH_SYN | NS_TH_ACK, (uint16_t)wnd, opts, optlen);
	l->cookie_us = s->now_us;
	NS_STAT_INC(s, tcp_syncookies_sent);
}

/* A bare ACK for a listener: maybe the third packet of a cookie handshake.
 * Returns the new ESTABLISHED connection, or NULL with *SILENT_R telling
 * whether to drop without the RST of RFC 9293 §3.10.7.2. */
static struct ns_conn *cookie_accept(struct ns_tcp *t, struct ns_tcp_listener *l,
				     const struct ns_tcp_seg *seg, bool *silent_r)
{
	ns_stack_t *s = t->s;
	struct ns_tcp_opts o;
	struct ns_conn *c;
	uint16_t mss;
	int ws = -1;
	bool sack = false;

	*silent_r = false;
	if (l->cookie_us == 0 || s->now_us - l->cookie_us > NS_TCP_COOKIE_LIFE_US)
		return NULL; /* no cookies out: an ordinary stray ACK */
	if (tcp_cookie_check(t, seg, &mss) < 0) {
		/* Only the first segment after a cookie SYN-ACK validates (its
		 * seq - 1 is the peer's ISN). A later one that overtook it, or
		 * followed its loss, must not reset a good handshake: drop it
		 * and let the peer retransmit from the start. (Linux resets.) */
		NS_STAT_INC(s, tcp_syncookies_failed);
		*silent_r = true;
		return NULL;
	}
	memset(&o, 0, sizeof(o));
	o.has_mss = true;
	o.mss = mss;
	if (s->p.timestamps && seg->o.has_ts) {
		uint32_t now = (uint32_t)(s->now_us / SL_US_PER_MS) +
			       tcp_ts_offset(t, seg->daddr, seg->saddr, seg->dport, seg->sport);

		/* Our echoed TSval must be from the past. */
		if (SEQ_GT(seg->o.tsecr, now)) {
			NS_STAT_INC(s, tcp_syncookies_failed);
			return NULL;
		}
		tcp_cookie_ts_decode(seg->o.tsecr, &ws, &sack);
		o.has_ts = true;
		o.tsval = seg->o.tsval;
		o.tsecr = seg->o.tsecr;
	}
	if (ws >= 0) {
		o.has_ws = true;
		o.wscale = (uint8_t)ws;
	}
	o.sack_ok = sack;
	c = tcp_conn_alloc(t, seg->saddr, seg->dport, seg->sport);
	if (c == NULL) {
		NS_STAT_INC(s, tcp_conn_limit_drops);
		return NULL;
	}
	conn_init_passive(c, l, seg);
	c->irs = seg->seq - 1;
	c->rcv_nxt = seg->seq;
	c->last_ack_sent = c->rcv_nxt;
	tcp_conn_setup_opts(c, &o);
	/* Our SYN-ACK carried an unscaled window of at most 64 KB; without
	 * the window scale option neither side scales. */
	c->rcv_adv = c->rcv_nxt + (t->rcvbuf > 65535 ? 65535 : t->rcvbuf);
	c->iss = seg->ack - 1;
	c->snd_una = c->snd_nxt = c->snd_max = seg->ack;
	c->sq_seq = seg->ack;
	c->high_rxt = c->recover = c->lost_hint = seg->ack;
	c->rescue_rxt = seg->ack - 1;
	c->snd_wnd = (uint32_t)seg->wnd << c->snd_wscale;
	c->max_sndwnd = c->snd_wnd;
	c->snd_wl1 = seg->seq;
	c->snd_wl2 = seg->ack;
	t->cc->init(c);
	tcp_set_state(c, NS_TCP_ESTABLISHED);
	tcp_conn_hash(t, c);
	NS_STAT_INC(s, tcp_syncookies_ok);
	NS_STAT_INC(s, tcp_passive_opens);
	tcp_conn_event(c, NS_TCP_EV_ESTABLISHED);
	return c;
}

static bool ip_ok_for_syn(const ns_stack_t *s, uint32_t ip)
{
	uint32_t h = rte_be_to_cpu_32(ip);

	if (h == 0 || h == 0xffffffffu || (h & 0xf0000000u) == 0xe0000000u)
		return false;
	return s->netmask == 0 || s->netmask == 0xffffffffu || (ip | s->netmask) != 0xffffffffu;
}

/* RFC 9293 §3.10.7.1 (CLOSED) and §3.10.7.2 (LISTEN). Returns true if it
 * took the mbuf. */
static bool input_no_conn(struct ns_tcp *t, struct ns_tcp_seg *seg, struct rte_mbuf **mp)
{
	ns_stack_t *s = t->s;
	struct ns_tcp_listener *l = tcp_listener_find(t, seg->dport);
	struct ns_conn *c;

	if (l == NULL) {
		tcp_send_reset_for(s, seg);
		return false;
	}
	if (seg->flags & NS_TH_RST)
		return false;
	if (seg->flags & NS_TH_ACK) {
		bool silent = false;

		if (!(seg->flags & NS_TH_SYN)) {
			c = cookie_accept(t, l, seg, &silent);
			if (c != NULL)
				return input_sync(c, seg, mp);
		}
		if (!silent)
			tcp_send_reset_for(s, seg);
		return false;
	}
	if (!(seg->flags & NS_TH_SYN))
		return false;
	if (!ip_ok_for_syn(s, seg->saddr))
		return false;

	if (l->half_open >= t->backlog) {
		NS_STAT_INC(s, tcp_listen_overflows);
		send_cookie(t, l, seg);
		return false;
	}
	c = tcp_conn_alloc(t, seg->saddr, seg->dport, seg->sport);
	if (c == NULL) {
		/* Pool or max_conns exhausted: a cookie costs nothing now and
		 * the handshake completes if room appears. */
		NS_STAT_INC(s, tcp_conn_limit_drops);
		send_cookie(t, l, seg);
		return false;
	}
	conn_init_passive(c, l, seg);
	c->listener = l;
	l->half_open++;
	tcp_conn_setup_opts(c, &seg->o);
	c->iss = tcp_isn(t, c->lip, c->rip, c->lport, c->rport);
	c->snd_una = c->snd_nxt = c->snd_max = c->iss;
	c->sq_seq = c->iss + 1;
	c->high_rxt = c->recover = c->lost_hint = c->iss;
	c->rescue_rxt = c->iss - 1;
	c->snd_wnd = seg->wnd; /* RFC 7323 §2.2: a SYN's window is unscaled */
	c->max_sndwnd = c->snd_wnd;
	c->snd_wl1 = seg->seq;
	c->snd_wl2 = c->iss;
	c->flags |= NS_TCPF_SEND_SYN;
	tcp_set_state(c, NS_TCP_SYN_RCVD);
	tcp_conn_hash(t, c);
	NS_STAT_INC(s, tcp_passive_opens);
	/* Data on a SYN is dropped: it comes again once the peer sees our
	 * window (RFC 9293 §3.10.7.2 allows either). */
	tcp_conn_mark(c);
	return false;
}

/* ---- TIME_WAIT ---- */

static bool input_time_wait(struct ns_tcp *t, struct ns_conn *c, struct ns_tcp_seg *seg,
			    struct rte_mbuf **mp)
{
	bool ts = (c->flags & NS_TCPF_TS) && seg->o.has_ts;

	/* RFC 1337: an RST must not cut TIME_WAIT short (TIME-WAIT
	 * assassination). */
	if (seg->flags & NS_TH_RST)
		return false;
	if ((seg->flags & NS_TH_SYN) && !(seg->flags & NS_TH_ACK)) {
		/* RFC 6191 §2: a new incarnation may reuse the 4-tuple if its
		 * timestamp is newer, or, without timestamps, its ISN is
		 * above what we have seen (RFC 1122 4.2.2.13). */
		bool newer = ts ? SEQ_GT(seg->o.tsval, c->ts_recent) : SEQ_GT(seg->seq, c->rcv_nxt);

		if (newer && tcp_listener_find(t, seg->dport) != NULL) {
			tcp_conn_finish(c, 0);
			return input_no_conn(t, seg, mp);
		}
		c->flags |= NS_TCPF_ACK_NOW;
		tcp_conn_mark(c);
		return false;
	}
	if (ts && SEQ_LT(seg->o.tsval, c->ts_recent)) {
		NS_STAT_INC(t->s, tcp_paws_drops);
		c->flags |= NS_TCPF_ACK_NOW;
		tcp_conn_mark(c);
		return false;
	}
	if (seg->flags & NS_TH_FIN) {
		/* The peer lost our last ACK: ACK again and restart 2*MSL
		 * (RFC 9293 §3.10.7.4, eighth check). */
		sl_timer_arm(t->s->wheel, &c->timer, t->s->now_us + t->tw_us);
		c->tmode = NS_TCP_T_TIME_WAIT;
	}
	if (seg->len > 0 || (seg->flags & NS_TH_FIN)) {
		c->flags |= NS_TCPF_ACK_NOW;
		tcp_conn_mark(c);
	}
	return false;
}

/* ---- SYN_SENT (RFC 9293 §3.10.7.3) ---- */

static void establish(struct ns_conn *c)
{
	struct ns_tcp *t = tcp_of(c);

	if (c->listener != NULL) {
		c->listener->half_open--;
		c->listener = NULL;
	}
	c->retries = 0;
	c->backoff = 0;
	/* RFC 6298 §5.7: after a lost SYN, and with no RTT sample yet, data
	 * starts with a 3 s RTO. */
	if ((c->flags & NS_TCPF_SYN_LOST) && c->srtt_us == 0 && c->rto_us < NS_TCP_RTO_SYN_LOST_US)
		c->rto_us = NS_TCP_RTO_SYN_LOST_US;
	t->cc->init(c);
	tcp_set_state(c, (c->flags & NS_TCPF_SHUT_WR) ? NS_TCP_FIN_WAIT_1 : NS_TCP_ESTABLISHED);
	tcp_conn_event(c, NS_TCP_EV_ESTABLISHED);
	/* Data queued before the handshake finished can go now. */
	tcp_conn_mark(c);
}

static void syn_rtt(struct ns_conn *c, const struct ns_tcp_seg *seg)
{
	if (c->rtt_active && SEQ_GEQ(seg->ack, c->rtt_seq)) {
		tcp_rtt_sample(c, (uint32_t)(c->s->now_us - c->rtt_start_us));
		c->rtt_active = false;
	}
}

static bool input_syn_sent(struct ns_conn *c, struct ns_tcp_seg *seg)
{
	bool ack = (seg->flags & NS_TH_ACK) != 0;

	if (ack && (SEQ_LEQ(seg->ack, c->iss) || SEQ_GT(seg->ack, c->snd_max))) {
		tcp_send_reset_for(c->s, seg);
		return false;
	}
	if (seg->flags & NS_TH_RST) {
		/* RFC 5961 §3.2 / RFC 9293: only a RST that ACKs our SYN is
		 * believed here. */
		if (ack) {
			NS_STAT_INC(c->s, tcp_rst_rx);
			tcp_conn_finish(c, SL_ECONNREFUSED);
		}
		return false;
	}
	if (!(seg->flags & NS_TH_SYN))
		return false;
	c->irs = seg->seq;
	c->rcv_nxt = seg->seq + 1;
	c->rcv_adv = c->rcv_nxt;
	c->last_ack_sent = c->rcv_nxt;
	c->rcv_mss = NS_TCP_MSS_DEFAULT;
	tcp_conn_setup_opts(c, &seg->o);
	c->snd_wnd = seg->wnd;
	c->max_sndwnd = c->snd_wnd;
	c->snd_wl1 = seg->seq;
	c->snd_wl2 = seg->ack;
	c->last_rx_us = c->s->now_us;
	if (ack) {
		c->snd_una = seg->ack;
		syn_rtt(c, seg);
		establish(c);
		c->flags |= NS_TCPF_ACK_NOW;
		/* Data or FIN on a SYN-ACK is rare; the peer sends it again
		 * once our ACK tells it where we are. */
	} else {
		/* Simultaneous open (RFC 9293 §3.5, figure 8). */
		tcp_set_state(c, NS_TCP_SYN_RCVD);
		c->flags |= NS_TCPF_SEND_SYN;
	}
	tcp_timer_update(c);
	tcp_conn_mark(c);
	return false;
}

/* ---- Synchronized states (and SYN_RCVD) ---- */

/* RFC 9293 §3.10.7.4 first check: is any of the segment in the window? */
static bool seq_acceptable(const struct ns_conn *c, const struct ns_tcp_seg *seg, uint32_t rwnd)
{
	uint32_t seglen = seg->end - seg->seq;

	if (seglen == 0) {
		if (rwnd == 0)
			return seg->seq == c->rcv_nxt;
		return SEQ_GEQ(seg->seq, c->rcv_nxt) && SEQ_LT(seg->seq, c->rcv_nxt + rwnd);
	}
	if (rwnd == 0)
		return false;
	return (SEQ_GEQ(seg->seq, c->rcv_nxt) && SEQ_LT(seg->seq, c->rcv_nxt + rwnd)) ||
	       (SEQ_GEQ(seg->end - 1, c->rcv_nxt) && SEQ_LT(seg->end - 1, c->rcv_nxt + rwnd));
}

static void ack_now(struct ns_conn *c)
{
	c->flags |= NS_TCPF_ACK_NOW;
	tcp_conn_mark(c);
}

/* RFC 5681 §4.2: every out-of-order segment gets its own immediate
 * duplicate ACK. Deferring it to the flush would merge all the segments of
 * one RX burst into a single ACK, and a sender without SACK would rarely
 * see the three duplicates that trigger fast retransmit. */
static void ack_dup_now(struct ns_conn *c)
{
	if (tcp_xmit(c, c->snd_max, 0, NS_TH_ACK) < 0)
		ack_now(c); /* no mbuf now: the flush will try again */
}

/* The duplicate ACK that answers an unacceptable segment (RFC 9293
 * §3.10.7.4). If that segment carried nothing, it may itself be such an
 * answer: two ends answering each other's ACKs forever is an ACK storm, so
 * those replies are limited per connection, as Linux does. */
static void ack_oow(struct ns_conn *c, const struct ns_tcp_seg *seg)
{
	uint64_t now = c->s->now_us;

	if (seg->end == seg->seq) {
		if (c->last_oow_ack_us != 0 && now - c->last_oow_ack_us < NS_TCP_OOW_ACK_US)
			return;
		c->last_oow_ack_us = now;
	}
	ack_now(c);
}

static void fin_received(struct ns_conn *c)
{
	c->rcv_nxt++;
	c->flags |= NS_TCPF_FIN_RCVD;
	c->flags &= ~NS_TCPF_OOO_FIN;
	ack_now(c);
	tcp_conn_event(c, NS_TCP_EV_DATA);
	switch (c->state) {
	case NS_TCP_SYN_RCVD:
	case NS_TCP_ESTABLISHED:
		tcp_set_state(c, NS_TCP_CLOSE_WAIT);
		break;
	case NS_TCP_FIN_WAIT_1:
		/* Simultaneous close if our FIN is still unacknowledged. */
		if (tcp_fin_acked(c))
			tcp_enter_time_wait(c);
		else
			tcp_set_state(c, NS_TCP_CLOSING);
		break;
	case NS_TCP_FIN_WAIT_2:
		tcp_enter_time_wait(c);
		break;
	default:
		break;
	}
}

static void rtt_from_ack(struct ns_conn *c, const struct ns_tcp_seg *seg)
{
	if (c->rtt_active && SEQ_GEQ(seg->ack, c->rtt_seq)) {
		tcp_rtt_sample(c, (uint32_t)(c->s->now_us - c->rtt_start_us));
		c->rtt_active = false;
	} else if ((c->flags & NS_TCPF_TS) && seg->o.has_ts && seg->o.tsecr != 0) {
		/* RFC 7323 §4.1: the echo times the segment that advanced the
		 * window, retransmitted or not, so Karn does not apply. */
		uint32_t d = tcp_ts_now(c) - seg->o.tsecr;

		if ((int32_t)d >= 0 && d < 600000)
			tcp_rtt_sample(c, d * 1000u);
	}
}

static void writable_check(struct ns_conn *c)
{
	const struct ns_tcp *t = tcp_of(c);

	if (!(c->flags & NS_TCPF_WANT_WRITABLE))
		return;
	if (c->sq_len == 0 || t->sndbuf - c->sq_len >= t->sndbuf / 4)
		tcp_conn_event(c, NS_TCP_EV_WRITABLE);
}

/* RFC 5827 early retransmit: with fewer than four segments out and
 * nothing new that the receiver would take, three duplicate ACKs may never
 * come; oseg - 1 of them are enough. */
static uint32_t dupthresh(const struct ns_conn *c)
{
	uint32_t out = c->snd_max - c->snd_una;
	uint32_t oseg = (out + c->smss - 1) / c->smss;
	bool more = SEQ_LT(c->snd_max, tcp_data_end(c)) && out + c->smss <= c->snd_wnd;

	if (oseg < 4 && !more)
		return oseg > 1 ? oseg - 1 : 1;
	return NS_TCP_DUPTHRESH;
}

static void enter_recovery(struct ns_conn *c)
{
	struct ns_tcp *t = tcp_of(c);

	c->flags |= NS_TCPF_RECOVERY | NS_TCPF_RXT_HEAD;
	c->flags &= ~(NS_TCPF_TLP | NS_TCPF_TLP_RXT);
	c->recover = c->snd_max;
	t->cc->loss(c, false);
	if (!(c->flags & NS_TCPF_SACK))
		c->cwnd = c->ssthresh + NS_TCP_DUPTHRESH * (uint32_t)c->smss; /* RFC 6582 §3.2 (3) */
	c->high_rxt = c->snd_una;
	c->rescue_rxt = c->snd_una - 1;
	c->rtt_active = false;
	NS_STAT_INC(c->s, tcp_fast_retransmits);
	if (c->flags & NS_TCPF_SACK)
		NS_STAT_INC(c->s, tcp_sack_recoveries);
}

/* RFC 9293 §3.10.7.4 fifth check for ESTABLISHED and later, with loss
 * detection (RFC 5681, RFC 6582, RFC 6675). Returns false if C is gone. */
static bool ack_process(struct ns_conn *c, const struct ns_tcp_seg *seg)
{
	struct ns_tcp *t = tcp_of(c);
	uint32_t ack = seg->ack, old_wnd = c->snd_wnd, newly_sacked = 0, sacked_end;

	if (SEQ_LT(c->snd_wl1, seg->seq) || (c->snd_wl1 == seg->seq && SEQ_LEQ(c->snd_wl2, ack))) {
		c->snd_wnd = (uint32_t)seg->wnd << c->snd_wscale;
		c->snd_wl1 = seg->seq;
		c->snd_wl2 = ack;
		if (c->snd_wnd > c->max_sndwnd)
			c->max_sndwnd = c->snd_wnd;
	}
	if ((c->flags & NS_TCPF_SACK) && seg->o.nsack > 0)
		newly_sacked = tcp_sb_update(c, &seg->o);

	if (SEQ_GT(ack, c->snd_una)) {
		uint32_t acked = ack - c->snd_una, data_end = tcp_data_end(c);
		uint32_t data_acked = 0;

		rtt_from_ack(c, seg);
		if (SEQ_GT(SEQ_MIN(ack, data_end), c->sq_seq)) {
			data_acked = SEQ_MIN(ack, data_end) - c->sq_seq;
			tcp_sq_ack(c, SEQ_MIN(ack, data_end));
		}
		c->snd_una = ack;
		if (SEQ_LT(c->snd_nxt, c->snd_una))
			c->snd_nxt = c->snd_una;
		tcp_sb_trim(c);
		if ((c->flags & NS_TCPF_TLP) && SEQ_GEQ(ack, c->tlp_end)) {
			/* RFC 8985 §7.4: a retransmitted probe ACKed with no
			 * D-SACK repaired a loss; respond to it as one. */
			if ((c->flags & NS_TCPF_TLP_RXT) && !(c->flags & NS_TCPF_RECOVERY)) {
				t->cc->loss(c, false);
				t->cc->recovered(c);
			}
			c->flags &= ~(NS_TCPF_TLP | NS_TCPF_TLP_RXT);
		}
		c->retries = 0;
		c->backoff = 0;
		if (c->flags & NS_TCPF_RECOVERY) {
			if (SEQ_GEQ(ack, c->recover)) {
				/* Full ACK (RFC 6582 §3.2 step 6, option 1). */
				uint32_t flight = c->snd_max - c->snd_una;
				uint32_t w = (flight > c->smss ? flight : c->smss) + c->smss;

				c->flags &= ~(NS_TCPF_RECOVERY | NS_TCPF_RXT_HEAD);
				c->lost_hint = c->snd_una;
				c->cwnd = w < c->ssthresh ? w : c->ssthresh;
				c->dupacks = 0;
				t->cc->recovered(c);
			} else if (!(c->flags & NS_TCPF_SACK)) {
				/* Partial ACK (RFC 6582 §3.2 step 5): resend the
				 * next hole, deflate by what was ACKed, add one
				 * SMSS back. */
				c->flags |= NS_TCPF_RXT_HEAD;
				c->cwnd = c->cwnd > acked ? c->cwnd - acked : 0;
				if (acked >= c->smss)
					c->cwnd += c->smss;
				if (c->cwnd < c->smss)
					c->cwnd = c->smss;
			}
		} else {
			c->dupacks = 0;
			if ((c->flags & NS_TCPF_CWND_LIMITED) && data_acked > 0)
				t->cc->acked(c, data_acked);
			/* Markers left behind by snd_una follow it, or after 2 GB
			 * without a loss sequence arithmetic would put them
			 * ahead again. */
			if (SEQ_LT(c->recover, c->snd_una))
				c->recover = c->snd_una;
			if (SEQ_LT(c->lost_hint, c->snd_una))
				c->lost_hint = c->snd_una;
		}
		tcp_rto_restart(c);
		writable_check(c);
		if (tcp_fin_acked(c)) {
			switch (c->state) {
			case NS_TCP_FIN_WAIT_1:
				tcp_set_state(c, NS_TCP_FIN_WAIT_2);
				break;
			case NS_TCP_CLOSING:
				tcp_enter_time_wait(c);
				break;
			case NS_TCP_LAST_ACK:
				tcp_conn_finish(c, 0);
				return false;
			default:
				break;
			}
		}
		tcp_conn_mark(c);
	} else if (ack == c->snd_una && SEQ_LT(c->snd_una, c->snd_max)) {
		/* Duplicate ACK: RFC 5681 §2 conditions, or (RFC 6675 §2) an
		 * ACK carrying new SACK information. */
		bool dup = (seg->len == 0 && !(seg->flags & (NS_TH_SYN | NS_TH_FIN)) &&
			    c->snd_wnd == old_wnd) ||
			   newly_sacked > 0;

		if (dup) {
			c->dupacks++;
			if (c->flags & NS_TCPF_RECOVERY) {
				if (!(c->flags & NS_TCPF_SACK))
					c->cwnd += c->smss; /* RFC 6582 §3.2 (4) */
				tcp_conn_mark(c);
			} else if ((c->dupacks >= dupthresh(c) ||
				    ((c->flags & NS_TCPF_SACK) && tcp_sb_head_lost(c))) &&
				   SEQ_GEQ(ack, c->recover)) {
				/* RFC 6582 §3.2 (2): not again for losses of
				 * the window a recovery or RTO already
				 * handled. */
				enter_recovery(c);
				tcp_conn_mark(c);
			} else {
				tcp_conn_mark(c); /* RFC 3042 limited transmit */
			}
		}
	}
	if ((c->flags & NS_TCPF_TLP) && !(c->flags & NS_TCPF_RECOVERY) && newly_sacked > 0 &&
	    SEQ_LT(c->snd_una, c->tlp_seq) && tcp_sb_is_sacked(c, c->tlp_seq, &sacked_end) &&
	    SEQ_GEQ(ack, c->recover)) {
		/* The probe arrived, what was sent before it did not: it is
		 * lost (RFC 8985 §7.4 with the RACK rule). */
		c->lost_hint = c->tlp_seq;
		enter_recovery(c);
		tcp_conn_mark(c);
	}
	if ((c->flags & (NS_TCPF_RECOVERY | NS_TCPF_SACK)) == (NS_TCPF_RECOVERY | NS_TCPF_SACK) &&
	    newly_sacked > 0 && SEQ_LT(c->snd_una, c->high_rxt) && c->nsb > 0 &&
	    SEQ_GT(c->sb[c->nsb - 1].end, c->rxt_mark)) {
		/* Lost retransmission. Data sent after our last
		 * retransmission was SACKed while retransmitted holes are
		 * still open: those retransmissions were lost too. RFC 6675
		 * alone would wait for the RTO; like Linux (and RACK, RFC
		 * 8985), start the holes over. */
		c->high_rxt = c->snd_una;
		c->rxt_mark = c->snd_max;
		NS_STAT_INC(c->s, tcp_lost_retransmits);
		tcp_conn_mark(c);
	}
	if (old_wnd == 0 && c->snd_wnd > 0) {
		/* The window reopened: the persist episode is over. */
		c->retries = 0;
		c->backoff = 0;
		tcp_conn_mark(c);
	}
	return true;
}

/* Payload and FIN (RFC 9293 §3.10.7.4 seventh and eighth checks). */
static bool segment_text(struct ns_conn *c, struct ns_tcp_seg *seg, struct rte_mbuf **mp)
{
	struct ns_tcp *t = tcp_of(c);
	struct rte_mbuf *m = *mp;
	uint32_t seq = seg->seq + ((seg->flags & NS_TH_SYN) ? 1 : 0);
	uint32_t len = seg->len, right;
	bool fin = (seg->flags & NS_TH_FIN) != 0, kept = false;

	if (c->state != NS_TCP_ESTABLISHED && c->state != NS_TCP_FIN_WAIT_1 &&
	    c->state != NS_TCP_FIN_WAIT_2) {
		/* After the peer's FIN nothing new may arrive; a retransmitted
		 * FIN is ACKed again. */
		if (fin || len > 0)
			ack_now(c);
		return false;
	}
	if (c->flags & NS_TCPF_FIN_RCVD)
		return false;
	/* Drop what we already have at the front. */
	if (SEQ_LT(seq, c->rcv_nxt)) {
		uint32_t old = c->rcv_nxt - seq;

		if (old >= len) {
			if (len > 0)
				NS_STAT_INC(c->s, tcp_dup_segs);
			seq += len;
			len = 0;
		} else {
			rte_pktmbuf_adj(m, (uint16_t)old);
			seq += old;
			len -= old;
		}
		if (len == 0 && !(fin && seq == c->rcv_nxt)) {
			ack_now(c);
			return false;
		}
	}
	/* And what lies beyond the window we advertised; a FIN beyond it is
	 * lost with the data. */
	right = SEQ_MAX(c->rcv_adv, c->rcv_nxt);
	if (len > 0 && SEQ_GT(seq + len, right)) {
		uint32_t over = seq + len - right;

		if (over >= len) {
			len = 0;
		} else {
			rte_pktmbuf_trim(m, (uint16_t)over);
			len -= over;
		}
		fin = false;
		if (len == 0) {
			ack_now(c);
			return false;
		}
	}

	if (len > 0) {
		uint32_t ts = tcp_mbuf_truesize(m);

		if (len > c->rcv_mss)
			c->rcv_mss = (uint16_t)(len < t->mss_adv ? len : t->mss_adv);
		if (c->flags & NS_TCPF_ORPHAN) {
			/* Nobody will read it: ACK in-order data, drop it. */
			if (seq != c->rcv_nxt)
				return false;
			c->rcv_nxt += len;
			c->bytes_in += len;
		} else if (unlikely(c->rx_mem + ts > NS_TCP_RX_MEM_FACTOR * (uint64_t)t->rcvbuf ||
				    !tcp_mem_charge(c, ts))) {
			NS_STAT_INC(c->s, tcp_mem_drops);
			ack_now(c);
			return false;
		} else {
			c->rx_mem += ts;
			if (seq == c->rcv_nxt) {
				bool had_ooo = c->ooo_head != NULL;

				c->rcv_nxt += len;
				tcp_rq_append(c, m);
				kept = true;
				tcp_ooo_drain(c);
				tcp_conn_event(c, NS_TCP_EV_DATA);
				/* RFC 5681 §4.2: ACK at once when a segment
				 * fills (part of) a hole. */
				if (had_ooo)
					ack_now(c);
			} else {
				NS_STAT_INC(c->s, tcp_ooo_segs);
				if (fin) {
					c->flags |= NS_TCPF_OOO_FIN;
					c->ooo_fin_seq = seq + len;
				}
				tcp_ooo_insert(c, m, seq);
				kept = true;
				/* RFC 5681 §4.2: out-of-order data is ACKed
				 * immediately (a duplicate ACK with SACK). */
				ack_dup_now(c);
				return kept;
			}
		}
	} else if (fin && seq != c->rcv_nxt) {
		c->flags |= NS_TCPF_OOO_FIN;
		c->ooo_fin_seq = seq;
		ack_now(c);
		return false;
	}

	if (fin && seq + len == c->rcv_nxt) {
		fin_received(c);
	} else if ((c->flags & NS_TCPF_OOO_FIN) && c->ooo_fin_seq == c->rcv_nxt &&
		   c->ooo_head == NULL) {
		fin_received(c);
	} else if (len > 0 && !(c->flags & NS_TCPF_ACK_NOW)) {
		/* RFC 9293 §3.8.6.3 / RFC 5681 §4.2: delay the ACK, but ACK
		 * at least every second full-sized segment. */
		c->rcv_unacked += len;
		if (c->rcv_unacked >= 2u * c->rcv_mss)
			ack_now(c);
		else
			tcp_delack_schedule(c);
	}
	return kept;
}

static bool input_sync(struct ns_conn *c, struct ns_tcp_seg *seg, struct rte_mbuf **mp)
{
	ns_stack_t *s = c->s;
	uint32_t rwnd;
	bool kept;

	/* The SYN-ACK answering our SYN-ACK in a simultaneous open: its ACK
	 * completes the handshake, its SYN is the one we already have. */
	if (c->state == NS_TCP_SYN_RCVD && !(c->flags & NS_TCPF_PASSIVE) &&
	    (seg->flags & (NS_TH_SYN | NS_TH_ACK | NS_TH_RST)) == (NS_TH_SYN | NS_TH_ACK) &&
	    seg->seq == c->irs && seg->ack == c->snd_max) {
		seg->flags &= (uint8_t)~NS_TH_SYN;
		seg->seq++;
	}

	/* RFC 7323 §5.3 R1: PAWS. */
	if ((c->flags & NS_TCPF_TS) && seg->o.has_ts && !(seg->flags & NS_TH_RST) &&
	    SEQ_LT(seg->o.tsval, c->ts_recent)) {
		if (s->now_us - c->ts_recent_us > NS_TCP_PAWS_IDLE_US) {
			c->ts_recent = seg->o.tsval; /* R3: ts_recent is stale */
		} else {
			NS_STAT_INC(s, tcp_paws_drops);
			ack_oow(c, seg);
			return false;
		}
	}

	/* First: the sequence number. */
	rwnd = SEQ_GT(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;
	if (!seq_acceptable(c, seg, rwnd)) {
		/* A zero window still takes ACKs and RSTs at RCV.NXT. */
		if (!(rwnd == 0 && seg->seq == c->rcv_nxt)) {
			if (!(seg->flags & NS_TH_RST)) {
				if (seg->end != seg->seq && SEQ_LEQ(seg->end, c->rcv_nxt))
					NS_STAT_INC(s, tcp_dup_segs);
				else
					NS_STAT_INC(s, tcp_out_of_window);
				ack_oow(c, seg);
			}
			return false;
		}
		/* Its data is not: tell the sender the window is still shut. */
		if (seg->len > 0 || (seg->flags & NS_TH_FIN))
			ack_now(c);
		seg->len = 0;
		seg->flags &= (uint8_t)~NS_TH_FIN;
		seg->end = seg->seq + ((seg->flags & NS_TH_SYN) ? 1 : 0);
	}

	/* Second: RST (RFC 5961 §3.2): only an exact match resets;
	 * in-window gets a challenge ACK. */
	if (seg->flags & NS_TH_RST) {
		if (seg->seq != c->rcv_nxt) {
			tcp_challenge_ack(c);
			return false;
		}
		NS_STAT_INC(s, tcp_rst_rx);
		if (c->state == NS_TCP_SYN_RCVD && (c->flags & NS_TCPF_PASSIVE))
			tcp_conn_release(c); /* back to LISTEN: the app never saw it */
		else
			tcp_conn_finish(c, c->state == NS_TCP_SYN_RCVD ? SL_ECONNREFUSED : SL_ERESET);
		return false;
	}

	/* Fourth: SYN (RFC 5961 §4.2): challenge, whatever its number. */
	if (seg->flags & NS_TH_SYN) {
		tcp_challenge_ack(c);
		return false;
	}

	/* Fifth: ACK. */
	if (!(seg->flags & NS_TH_ACK))
		return false;
	/* RFC 5961 §5.2: acceptable only within [SND.UNA - MAX.SND.WND,
	 * SND.NXT]; anything else is answered with a (limited) ACK. */
	if (SEQ_GT(seg->ack, c->snd_max) || SEQ_LT(seg->ack, c->snd_una - c->max_sndwnd)) {
		if (c->state == NS_TCP_SYN_RCVD) {
			tcp_send_reset_for(s, seg);
			return false;
		}
		tcp_challenge_ack(c);
		return false;
	}
	if (c->state == NS_TCP_SYN_RCVD) {
		if (!SEQ_GT(seg->ack, c->snd_una)) {
			tcp_send_reset_for(s, seg);
			return false;
		}
		syn_rtt(c, seg);
		c->snd_una = seg->ack;
		c->snd_wnd = (uint32_t)seg->wnd << c->snd_wscale;
		c->max_sndwnd = c->snd_wnd;
		c->snd_wl1 = seg->seq;
		c->snd_wl2 = seg->ack;
		establish(c);
	}
	/* RFC 7323 §4.3: remember the timestamp to echo, from a segment
	 * that passed every check and starts at or before what we ACKed. */
	if ((c->flags & NS_TCPF_TS) && seg->o.has_ts && SEQ_GEQ(seg->o.tsval, c->ts_recent) &&
	    SEQ_LEQ(seg->seq, c->last_ack_sent)) {
		c->ts_recent = seg->o.tsval;
		c->ts_recent_us = s->now_us;
	}
	c->last_rx_us = s->now_us;
	c->ka_probes = 0;
	if (!ack_process(c, seg))
		return false;
	if (c->flags & NS_TCPF_DEAD)
		return false;

	/* Seventh and eighth: data and FIN. */
	kept = false;
	if (seg->len > 0 || (seg->flags & NS_TH_FIN))
		kept = segment_text(c, seg, mp);
	if (!(c->flags & NS_TCPF_DEAD) && c->state != NS_TCP_CLOSED)
		tcp_timer_update(c);
	return kept;
}

/* ---- Entry point ---- */

void ns_tcp_input(ns_stack_t *s, struct rte_mbuf *m, const struct rte_ipv4_hdr *ip)
{
	struct ns_tcp *t = s->tcp;
	struct ns_tcp_seg seg;
	const struct rte_tcp_hdr *th;
	uint32_t len = rte_pktmbuf_data_len(m);
	unsigned hlen;
	uint64_t ck;
	struct ns_conn *c;
	bool kept = false;

	NS_STAT_INC(s, tcp_rx_segs);
	if (unlikely(len < NS_TCP_HDR_LEN || m->nb_segs != 1))
		goto bad_header;
	th = rte_pktmbuf_mtod(m, const struct rte_tcp_hdr *);
	hlen = (th->data_off >> 4) * 4u;
	if (unlikely(hlen < NS_TCP_HDR_LEN || hlen > len))
		goto bad_header;
	ck = m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK;
	if (unlikely(ck == RTE_MBUF_F_RX_L4_CKSUM_BAD) ||
	    (ck != RTE_MBUF_F_RX_L4_CKSUM_GOOD && tcp_cksum(ip->src_addr, ip->dst_addr, th, len) != 0)) {
		NS_STAT_INC(s, tcp_rx_bad_csum);
		goto drop;
	}
	memset(&seg, 0, sizeof(seg));
	seg.saddr = ip->src_addr;
	seg.daddr = ip->dst_addr;
	seg.sport = rte_be_to_cpu_16(th->src_port);
	seg.dport = rte_be_to_cpu_16(th->dst_port);
	seg.seq = rte_be_to_cpu_32(th->sent_seq);
	seg.ack = rte_be_to_cpu_32(th->recv_ack);
	seg.flags = th->tcp_flags & (NS_TH_FIN | NS_TH_SYN | NS_TH_RST | NS_TH_PSH | NS_TH_ACK | NS_TH_URG);
	seg.wnd = rte_be_to_cpu_16(th->rx_win);
	seg.len = len - hlen;
	seg.end = seg.seq + seg.len + ((seg.flags & NS_TH_SYN) ? 1 : 0) + ((seg.flags & NS_TH_FIN) ? 1 : 0);
	/* Port 0 is reserved; SYN+RST and SYN+FIN are scanner probes that no
	 * implementation sends. Only unicast to our own address is TCP's. */
	if (unlikely(seg.sport == 0 || seg.dport == 0 || seg.daddr != s->p.ip ||
		     ((seg.flags & NS_TH_SYN) && (seg.flags & (NS_TH_RST | NS_TH_FIN)))))
		goto bad_header;
	if (hlen > NS_TCP_HDR_LEN &&
	    !tcp_opts_parse((const uint8_t *)(th + 1), hlen - NS_TCP_HDR_LEN,
			    (seg.flags & NS_TH_SYN) != 0, &seg.o))
		NS_STAT_INC(s, tcp_rx_bad_options);
	rte_pktmbuf_adj(m, (uint16_t)hlen);

	t->depth++;
	c = tcp_conn_lookup(t, seg.daddr, seg.saddr, seg.dport, seg.sport);
	if (c == NULL)
		kept = input_no_conn(t, &seg, &m);
	else if (c->state == NS_TCP_TIME_WAIT)
		kept = input_time_wait(t, c, &seg, &m);
	else if (c->state == NS_TCP_SYN_SENT)
		kept = input_syn_sent(c, &seg);
	else
		kept = input_sync(c, &seg, &m);
	t->depth--;
	if (!kept)
		rte_pktmbuf_free(m);
	tcp_reap(t);
	return;
bad_header:
	NS_STAT_INC(s, tcp_rx_bad_header);
drop:
	rte_pktmbuf_free(m);
}
