/* ns_tcp_output - building segments and deciding what to send.
 *
 * Every segment is a fresh mbuf from ns_pkt_alloc: header, options, and a
 * copy of the payload from the send queue. tcp_output() is called once per
 * connection per flush (coalescing ACKs) and sends, in order: SYN or
 * SYN-ACK, a pending head retransmission, data allowed by the congestion
 * and receive windows (RFC 6675 NextSeg() during SACK recovery), FIN, and
 * finally a pure ACK if one is owed and nothing else carried it. */
#include <string.h>

#include <rte_ip.h>
#include <rte_tcp.h>

#include "ns_tcp_private.h"

uint16_t tcp_cksum(uint32_t src, uint32_t dst, const void *seg, uint32_t len)
{
	uint32_t sum = rte_raw_cksum(seg, len);

	/* The pseudo-header words are added in memory order, like
	 * rte_raw_cksum's, so the result is right on either endianness. */
	sum += (src & 0xffff) + (src >> 16) + (dst & 0xffff) + (dst >> 16);
	sum += rte_cpu_to_be_16(IPPROTO_TCP) + rte_cpu_to_be_16((uint16_t)len);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* RFC 9293 §3.8.6.2.2 receiver SWS avoidance and §3.8.6 "do not shrink the
 * window": the right edge we advertised never moves left, and it only moves
 * right by at least min(rcvbuf/2, MSS). */
uint32_t tcp_rcv_window(struct ns_conn *c)
{
	const struct ns_tcp *t = tcp_of(c);
	uint32_t space = t->rcvbuf > c->rq_len ? t->rcvbuf - c->rq_len : 0;
	uint32_t maxw = 65535u << c->rcv_wscale;
	uint32_t cur = SEQ_GT(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;
	uint32_t mss = c->rcv_mss ? c->rcv_mss : t->mss_adv;
	uint32_t step = t->rcvbuf / 2 < mss ? t->rcvbuf / 2 : mss;

	if (space > maxw)
		space = maxw;
	if (space < cur || space - cur < step)
		space = cur;
	return space;
}

static struct rte_tcp_hdr *seg_start(ns_stack_t *s, struct rte_mbuf **m_r, unsigned hlen,
				     uint32_t dlen)
{
	struct rte_mbuf *m = ns_pkt_alloc(s);
	struct rte_tcp_hdr *th;

	if (unlikely(m == NULL))
		return NULL;
	th = (struct rte_tcp_hdr *)rte_pktmbuf_append(m, (uint16_t)(hlen + dlen));
	if (unlikely(th == NULL)) {
		rte_pktmbuf_free(m);
		return NULL;
	}
	*m_r = m;
	return th;
}

static void seg_finish(ns_stack_t *s, struct rte_mbuf *m, struct rte_tcp_hdr *th, uint32_t lip,
		       uint32_t rip, uint32_t len)
{
	th->cksum = 0;
	th->cksum = tcp_cksum(lip, rip, th, len);
	NS_STAT_INC(s, tcp_tx_segs);
	/* A failure here (no route, no mbuf for ARP) is a lost packet like
	 * any other: retransmission covers it. */
	(void)ns_ipv4_output(s, m, rip, IPPROTO_TCP);
}

int tcp_xmit_raw(ns_stack_t *s, uint32_t lip, uint32_t rip, uint16_t lport, uint16_t rport,
		 uint32_t seq, uint32_t ack, uint8_t flags, uint16_t wnd, const uint8_t *opts,
		 unsigned optlen)
{
	unsigned hlen = NS_TCP_HDR_LEN + optlen;
	struct rte_mbuf *m;
	struct rte_tcp_hdr *th = seg_start(s, &m, hlen, 0);

	if (th == NULL)
		return SL_ENOMEM;
	th->src_port = rte_cpu_to_be_16(lport);
	th->dst_port = rte_cpu_to_be_16(rport);
	th->sent_seq = rte_cpu_to_be_32(seq);
	th->recv_ack = rte_cpu_to_be_32((flags & NS_TH_ACK) ? ack : 0);
	th->data_off = (uint8_t)((hlen / 4) << 4);
	th->tcp_flags = flags;
	th->rx_win = rte_cpu_to_be_16(wnd);
	th->tcp_urp = 0;
	if (optlen > 0)
		memcpy(th + 1, opts, optlen);
	seg_finish(s, m, th, lip, rip, hlen);
	return 0;
}

static bool ip_is_unicast_peer(const ns_stack_t *s, uint32_t ip)
{
	uint32_t h = rte_be_to_cpu_32(ip);

	if (h == 0 || h == 0xffffffffu || (h & 0xf0000000u) == 0xe0000000u)
		return false;
	/* The directed broadcast of our subnet. */
	if (s->netmask != 0 && s->netmask != 0xffffffffu && (ip | s->netmask) == 0xffffffffu)
		return false;
	return true;
}

/* RFC 9293 §3.10.7.1: never answer a RST; otherwise take the sequence
 * number from the ACK field, or ACK what the segment occupied. RFC 1122
 * 4.2.3.10: nothing is sent towards a broadcast or multicast source. */
void tcp_send_reset_for(ns_stack_t *s, const struct ns_tcp_seg *seg)
{
	if (seg->flags & NS_TH_RST)
		return;
	if (!ip_is_unicast_peer(s, seg->saddr))
		return;
	if (seg->flags & NS_TH_ACK)
		tcp_xmit_raw(s, seg->daddr, seg->saddr, seg->dport, seg->sport, seg->ack, 0, NS_TH_RST,
			     0, NULL, 0);
	else
		tcp_xmit_raw(s, seg->daddr, seg->saddr, seg->dport, seg->sport, 0, seg->end,
			     NS_TH_RST | NS_TH_ACK, 0, NULL, 0);
	NS_STAT_INC(s, tcp_rst_tx);
}

static unsigned syn_opts(const struct ns_conn *c, uint8_t *opts, bool synack)
{
	const struct ns_tcp *t = tcp_of(c);
	const ns_stack_params_t *p = &c->s->p;
	bool ts, sack;
	int ws;

	if (!synack) {
		/* Active SYN: offer what the stack allows. */
		ts = p->timestamps;
		sack = p->sack;
		ws = p->window_scaling ? t->rcv_wscale : -1;
		return tcp_opts_build_syn(opts, t->mss_adv, ws, sack, ts, ts ? tcp_ts_now(c) : 0, 0);
	}
	/* SYN-ACK: only what the peer offered too (RFC 7323 §2.2, §3.2;
	 * RFC 2018 §2). */
	ts = (c->flags & NS_TCPF_TS) != 0;
	sack = (c->flags & NS_TCPF_SACK) != 0;
	ws = (c->flags & NS_TCPF_WSCALE) ? c->rcv_wscale : -1;
	return tcp_opts_build_syn(opts, t->mss_adv, ws, sack, ts, ts ? tcp_ts_now(c) : 0,
				  c->ts_recent);
}

int tcp_xmit(struct ns_conn *c, uint32_t seq, uint32_t dlen, uint8_t flags)
{
	ns_stack_t *s = c->s;
	uint8_t opts[NS_TCP_OPT_MAX];
	unsigned optlen, hlen;
	uint32_t wnd;
	uint16_t wfield;
	struct rte_mbuf *m;
	struct rte_tcp_hdr *th;

	if (flags & NS_TH_SYN) {
		optlen = syn_opts(c, opts, (flags & NS_TH_ACK) != 0);
		dlen = 0;
	} else {
		optlen = tcp_opts_build(opts, c, tcp_ts_now(c), 4);
		if (dlen + optlen > c->mss)
			dlen = c->mss > optlen ? c->mss - optlen : 0;
		if (dlen == 0)
			flags &= (uint8_t)~NS_TH_PSH;
	}
	/* A FIN rides only on the segment that ends the data. */
	if ((flags & NS_TH_FIN) && seq + dlen != tcp_data_end(c))
		flags &= (uint8_t)~NS_TH_FIN;
	hlen = NS_TCP_HDR_LEN + optlen;
	th = seg_start(s, &m, hlen, dlen);
	if (th == NULL)
		return SL_ENOMEM;

	wnd = tcp_rcv_window(c);
	if (flags & NS_TH_SYN) {
		/* RFC 7323 §2.2: the window of a SYN is never scaled. */
		wfield = (uint16_t)(wnd > 65535 ? 65535 : wnd);
		if (c->state == NS_TCP_SYN_SENT || c->state == NS_TCP_SYN_RCVD)
			c->rcv_adv = c->rcv_nxt + wfield;
	} else {
		uint32_t w = (wnd + (1u << c->rcv_wscale) - 1) >> c->rcv_wscale;

		wfield = (uint16_t)(w > 65535 ? 65535 : w);
		if (SEQ_GT(c->rcv_nxt + ((uint32_t)wfield << c->rcv_wscale), c->rcv_adv))
			c->rcv_adv = c->rcv_nxt + ((uint32_t)wfield << c->rcv_wscale);
	}
	th->src_port = rte_cpu_to_be_16(c->lport);
	th->dst_port = rte_cpu_to_be_16(c->rport);
	th->sent_seq = rte_cpu_to_be_32(seq);
	th->recv_ack = rte_cpu_to_be_32((flags & NS_TH_ACK) ? c->rcv_nxt : 0);
	th->data_off = (uint8_t)((hlen / 4) << 4);
	th->tcp_flags = flags;
	th->rx_win = rte_cpu_to_be_16(wfield);
	th->tcp_urp = 0;
	memcpy(th + 1, opts, optlen);
	if (dlen > 0)
		tcp_sq_copy(c, seq, dlen, (uint8_t *)th + hlen);
	if (flags & NS_TH_ACK) {
		c->last_ack_sent = c->rcv_nxt;
		c->flags &= ~NS_TCPF_ACK_NOW;
		c->rcv_unacked = 0;
		tcp_delack_cancel(c);
	}
	c->last_tx_us = s->now_us;
	c->bytes_out += dlen;
	seg_finish(s, m, th, c->lip, c->rip, hlen + dlen);
	return (int)dlen;
}

int tcp_send_probe(struct ns_conn *c)
{
	/* An old sequence number with no data: any live peer must answer it
	 * with an ACK carrying its current window (RFC 9293 §3.10.7.4, first
	 * check), which is all a keepalive or window probe needs. */
	int rc = tcp_xmit(c, c->snd_una - 1, 0, NS_TH_ACK);

	return rc < 0 ? rc : 0;
}

/* RFC 5961 §7: challenge ACKs share one per-second budget per stack. */
void tcp_challenge_ack(struct ns_conn *c)
{
	struct ns_tcp *t = tcp_of(c);
	uint64_t sec = c->s->now_us / SL_US_PER_S;

	if (sec != t->chack_sec) {
		t->chack_sec = sec;
		t->chack_count = 0;
	}
	if (t->chack_count >= t->chack_limit) {
		NS_STAT_INC(c->s, tcp_challenge_acks_suppressed);
		return;
	}
	t->chack_count++;
	NS_STAT_INC(c->s, tcp_challenge_acks);
	c->flags |= NS_TCPF_ACK_NOW;
	tcp_conn_mark(c);
}

static void note_retransmit(struct ns_conn *c)
{
	c->retransmits++;
	c->rtt_active = false; /* Karn (RFC 6298 §3) */
	NS_STAT_INC(c->s, tcp_retransmits);
}

/* Send one data (or FIN) segment at SEQ. Returns the sequence space it
 * occupied (data, plus 1 for a FIN), or a negative error. */
static int send_data(struct ns_conn *c, uint32_t seq, uint32_t len)
{
	uint32_t end = tcp_data_end(c);
	uint8_t flags = NS_TH_ACK;
	int n;

	if (SEQ_GEQ(seq, end)) {
		/* Nothing but the FIN lives at or past the end of the data. */
		if (!(c->flags & NS_TCPF_SHUT_WR) || seq != end)
			return SL_EINVAL;
		len = 0;
	} else if (SEQ_GT(seq + len, end)) {
		len = end - seq;
	}
	if (seq + len == end) {
		if (len > 0)
			flags |= NS_TH_PSH;
		if ((c->flags & NS_TCPF_SHUT_WR))
			flags |= NS_TH_FIN;
	}
	n = tcp_xmit(c, seq, len, flags);
	if (n < 0)
		return n;
	if (SEQ_LT(seq, c->snd_max)) {
		note_retransmit(c);
	} else if (!c->rtt_active && n > 0) {
		c->rtt_active = true;
		c->rtt_seq = seq + (uint32_t)n;
		c->rtt_start_us = c->s->now_us;
	}
	if ((c->flags & NS_TCPF_SHUT_WR) && seq + (uint32_t)n == end)
		n++; /* the FIN went along */
	return n;
}

/* After an idle period longer than the RTO, restart from the initial window
 * (RFC 5681 §4.1): the ACK clock is gone. */
static void idle_restart(struct ns_conn *c)
{
	uint32_t iw;

	if (c->snd_una != c->snd_max || c->last_tx_us == 0)
		return;
	if (c->s->now_us - c->last_tx_us <= tcp_rto_current(c))
		return;
	iw = tcp_initial_window(c);
	if (c->cwnd > iw)
		c->cwnd = iw;
	c->cubic.t_epoch_us = 0;
}

/* NewReno's retransmission of the first unacknowledged segment (RFC 6582
 * §3.2 steps 2 and 5), also the first step of SACK recovery (RFC 6675 §5
 * step 4.3). */
static bool output_head_rxt(struct ns_conn *c)
{
	uint32_t end = tcp_data_end(c), len = 0, until;
	int n;

	c->flags &= ~NS_TCPF_RXT_HEAD;
	if (!SEQ_LT(c->snd_una, c->snd_max))
		return false;
	if (SEQ_LT(c->snd_una, end)) {
		len = SEQ_MIN(end, c->snd_max) - c->snd_una;
		if (c->nsb > 0 && tcp_sb_skip(c, c->snd_una, &until) == c->snd_una &&
		    SEQ_LT(until, c->snd_una + len))
			len = until - c->snd_una;
		if (len > c->smss)
			len = c->smss;
	} else if (!(c->flags & NS_TCPF_SHUT_WR)) {
		return false;
	}
	n = send_data(c, c->snd_una, len); /* len 0: the FIN alone */
	if (n <= 0)
		return false;
	c->high_rxt = SEQ_MAX(c->high_rxt, c->snd_una + (uint32_t)n);
	c->rxt_mark = c->snd_max;
	return true;
}

static bool output_fin(struct ns_conn *c)
{
	uint32_t end = tcp_data_end(c);

	if (!(c->flags & NS_TCPF_SHUT_WR) || c->snd_nxt != end)
		return false;
	/* FIN not sent yet, or being resent after an RTO (snd_nxt went
	 * back). A zero window would not take it either (RFC 9293
	 * §3.10.7.4): the persist timer waits for the window, as for data. */
	if (c->snd_wnd == 0 && !tcp_fin_sent(c))
		return false;
	if (tcp_xmit(c, end, 0, NS_TH_FIN | NS_TH_ACK) < 0)
		return false;
	if (SEQ_LT(end, c->snd_max))
		note_retransmit(c);
	c->snd_nxt = end + 1;
	if (SEQ_GT(c->snd_nxt, c->snd_max))
		c->snd_max = c->snd_nxt;
	return true;
}

/* RFC 6675 §5 step (C): while cwnd - pipe >= 1 SMSS, send NextSeg(). */
static bool output_sack_recovery(struct ns_conn *c)
{
	bool sent = false;

	for (unsigned guard = 0; guard < 4096; guard++) {
		uint32_t pipe = tcp_sack_pipe(c), seq, len;
		enum ns_tcp_nextseg kind;
		int n;

		if (pipe + c->smss > c->cwnd) {
			c->flags |= NS_TCPF_CWND_LIMITED;
			break;
		}
		kind = tcp_sack_next_seg(c, &seq, &len);
		if (kind == NS_TCP_NS_NONE)
			break;
		n = send_data(c, seq, len);
		if (n <= 0)
			break;
		sent = true;
		switch (kind) {
		case NS_TCP_NS_RXT:
			c->high_rxt = SEQ_MAX(c->high_rxt, seq + (uint32_t)n);
			c->rxt_mark = c->snd_max;
			break;
		case NS_TCP_NS_RESCUE:
			c->rescue_rxt = c->recover;
			break;
		case NS_TCP_NS_NEW:
			c->snd_nxt = seq + (uint32_t)n;
			c->snd_max = SEQ_MAX(c->snd_max, c->snd_nxt);
			break;
		case NS_TCP_NS_NONE:
			break;
		}
	}
	if (output_fin(c))
		sent = true;
	return sent;
}

static bool output_window(struct ns_conn *c)
{
	uint32_t end = tcp_data_end(c);
	bool sent = false;

	c->flags &= ~NS_TCPF_CWND_LIMITED;
	for (unsigned guard = 0; guard < 4096; guard++) {
		uint32_t until = end, limit, flight, avail, room, len;
		int n;

		if (!SEQ_LT(c->snd_nxt, end))
			break;
		/* Resending after an RTO: skip what the peer SACKed since. */
		if (SEQ_LT(c->snd_nxt, c->snd_max) && c->nsb > 0) {
			c->snd_nxt = tcp_sb_skip(c, c->snd_nxt, &until);
			if (!SEQ_LT(c->snd_nxt, end))
				break;
			until = SEQ_MIN(until, end);
		}
		/* RFC 3042 limited transmit: one more segment for each of the
		 * first two duplicate ACKs. */
		limit = c->cwnd;
		if (!(c->flags & NS_TCPF_RECOVERY) && c->dupacks > 0 && c->dupacks < NS_TCP_DUPTHRESH)
			limit += c->dupacks * (uint32_t)c->smss;
		flight = c->snd_nxt - c->snd_una;
		avail = until - c->snd_nxt;
		room = 0;
		if (c->snd_wnd > flight)
			room = c->snd_wnd - flight;
		if (limit > flight) {
			if (limit - flight < room)
				room = limit - flight;
		} else {
			room = 0;
		}
		len = avail < room ? avail : room;
		if (len > c->smss)
			len = c->smss;
		if (len == 0) {
			if (limit <= flight + c->smss && c->snd_wnd > flight)
				c->flags |= NS_TCPF_CWND_LIMITED;
			break;
		}
		/* RFC 9293 §3.8.6.2.1 sender SWS avoidance: a runt cut by the
		 * window waits, unless it is half the largest window seen.
		 * What is all we have goes at once (no Nagle: the engines
		 * batch their writes per event already). If nothing is in
		 * flight, the persist timer asks again. */
		if (len < c->smss && len < avail && len < c->max_sndwnd / 2) {
			if (limit < c->snd_wnd)
				c->flags |= NS_TCPF_CWND_LIMITED;
			break;
		}
		n = send_data(c, c->snd_nxt, len);
		if (n <= 0)
			break;
		sent = true;
		c->snd_nxt += (uint32_t)n;
		c->snd_max = SEQ_MAX(c->snd_max, c->snd_nxt);
	}
	if (output_fin(c))
		sent = true;
	return sent;
}

void tcp_send_tlp(struct ns_conn *c)
{
	uint32_t end = tcp_data_end(c), last, start;
	int n;

	c->flags |= NS_TCPF_TLP;
	c->flags &= ~NS_TCPF_TLP_RXT;
	if (c->snd_nxt == c->snd_max && SEQ_LT(c->snd_max, end) &&
	    SEQ_LT(c->snd_max, c->snd_una + c->snd_wnd)) {
		/* New data if the receiver takes it, whatever cwnd says. */
		uint32_t len = SEQ_MIN(SEQ_MIN(end, c->snd_max + c->smss), c->snd_una + c->snd_wnd) -
			       c->snd_max;

		c->tlp_seq = c->snd_max;
		n = send_data(c, c->snd_max, len);
		if (n > 0) {
			c->snd_nxt = c->snd_max + (uint32_t)n;
			c->snd_max = c->snd_nxt;
		}
	} else {
		/* Otherwise the last segment again (with the FIN, if sent). */
		last = SEQ_MIN(c->snd_max, end);
		start = SEQ_MAX(c->snd_una, last - c->smss);
		if (SEQ_GT(start, last))
			start = last;
		c->tlp_seq = start;
		n = send_data(c, start, last - start);
		if (n >= 0)
			c->flags |= NS_TCPF_TLP_RXT;
	}
	c->tlp_end = c->snd_max;
}

/* SYN (SYN_SENT) or SYN-ACK (SYN_RCVD); also the answer to anything
 * unacceptable in SYN_RCVD, whose "ACK" is the SYN-ACK again. */
static void output_syn(struct ns_conn *c)
{
	uint8_t flags = c->state == NS_TCP_SYN_SENT ? NS_TH_SYN : NS_TH_SYN | NS_TH_ACK;

	c->flags &= ~(NS_TCPF_SEND_SYN | NS_TCPF_ACK_NOW);
	if (tcp_xmit(c, c->iss, 0, flags) < 0) {
		tcp_timer_update(c);
		return;
	}
	c->snd_nxt = c->snd_max = c->iss + 1;
	/* Time the handshake unless this is a retransmission (Karn). */
	if (!(c->flags & NS_TCPF_SYN_LOST)) {
		c->rtt_active = true;
		c->rtt_seq = c->iss + 1;
		c->rtt_start_us = c->s->now_us;
	}
	tcp_timer_update(c);
}

void tcp_output(struct ns_conn *c)
{
	if (c->flags & NS_TCPF_DEAD)
		return;
	switch (c->state) {
	case NS_TCP_CLOSED:
	case NS_TCP_LISTEN:
		return;
	case NS_TCP_SYN_SENT:
	case NS_TCP_SYN_RCVD:
		if (c->flags & (NS_TCPF_SEND_SYN | NS_TCPF_ACK_NOW))
			output_syn(c);
		return;
	case NS_TCP_TIME_WAIT:
		if (c->flags & NS_TCPF_ACK_NOW)
			tcp_xmit(c, c->snd_max, 0, NS_TH_ACK);
		return;
	default:
		break;
	}
	if (SEQ_LT(c->snd_nxt, tcp_data_end(c)))
		idle_restart(c);
	if (c->flags & NS_TCPF_RXT_HEAD)
		output_head_rxt(c);
	if ((c->flags & NS_TCPF_RECOVERY) && (c->flags & NS_TCPF_SACK))
		output_sack_recovery(c);
	else
		output_window(c);
	/* Every segment above carried the ACK; one is still owed only if
	 * nothing went out. A pure ACK carries SND.MAX, not SND.NXT: after an
	 * RTO pulled snd_nxt back, the peer may already hold data up to
	 * snd_max and would find an older number unacceptable, answer with an
	 * ACK of its own, and never look at ours (BSD does the same). */
	if (c->flags & NS_TCPF_ACK_NOW)
		tcp_xmit(c, c->snd_max, 0, NS_TH_ACK);
	tcp_timer_update(c);
}
