/* ns_tcp_timer - the two timers of a connection.
 *
 * The main timer does one job at a time, chosen from the state by
 * tcp_timer_update(): retransmission (RFC 6298), persist (RFC 9293
 * §3.8.6.1), keepalive (RFC 9293 §3.8.4, RFC 1122 4.2.3.6), the orphaned
 * FIN_WAIT_2 limit, or 2*MSL in TIME_WAIT. The second timer is the delayed
 * ACK (RFC 9293 §3.8.6.3). Both live in the stack's wheel; callbacks only
 * change state and queue output, which ns_stack_poll flushes. */
#include "ns_tcp_private.h"

static void tcp_timer_fire(sl_timer_t *tm, void *arg);
static void tcp_delack_fire(sl_timer_t *tm, void *arg);

/* Timer granularity G of RFC 6298 §2.3: the wheel's tick. */
#define TCP_CLOCK_G_US 1000

void tcp_timers_init(struct ns_conn *c)
{
	sl_timer_init(&c->timer, tcp_timer_fire, c);
	sl_timer_init(&c->delack, tcp_delack_fire, c);
	c->tmode = NS_TCP_T_NONE;
}

void tcp_timers_cancel(struct ns_conn *c)
{
	sl_timer_cancel(c->s->wheel, &c->timer);
	sl_timer_cancel(c->s->wheel, &c->delack);
	c->tmode = NS_TCP_T_NONE;
}

uint64_t tcp_rto_current(const struct ns_conn *c)
{
	const struct ns_tcp *t = tcp_of(c);
	uint64_t rto = c->rto_us;

	for (unsigned i = 0; i < c->backoff && rto < t->rto_max_us; i++)
		rto <<= 1;
	return rto < t->rto_max_us ? rto : t->rto_max_us;
}

static void timer_arm(struct ns_conn *c, enum ns_tcp_tmode mode, uint64_t expire)
{
	c->tmode = (uint8_t)mode;
	sl_timer_arm(c->s->wheel, &c->timer, expire);
}

static void timer_stop(struct ns_conn *c)
{
	sl_timer_cancel(c->s->wheel, &c->timer);
	c->tmode = NS_TCP_T_NONE;
}

/* RFC 8985 §7.2: a probe instead of waiting for the RTO, while SACK can
 * tell us what the probe reveals, nothing is being recovered, no probe is
 * out already, and the RTT is known. */
static bool tlp_eligible(const struct ns_conn *c)
{
	return (c->flags & NS_TCPF_SACK) && !(c->flags & (NS_TCPF_RECOVERY | NS_TCPF_TLP)) &&
	       c->backoff == 0 && c->srtt_us != 0 && tcp_synchronized(c) &&
	       c->state != NS_TCP_TIME_WAIT;
}

/* PTO = 2 * SRTT, plus the worst-case delayed ACK when only one segment
 * is out (its ACK may be delayed), at least 10 ms, never past the RTO. */
static void rto_or_tlp_arm(struct ns_conn *c)
{
	uint64_t now = c->s->now_us, rto = tcp_rto_current(c), pto;

	if (!tlp_eligible(c)) {
		timer_arm(c, NS_TCP_T_RTO, now + rto);
		return;
	}
	pto = 2ULL * c->srtt_us;
	if (c->snd_max - c->snd_una <= c->smss)
		pto += NS_TCP_WCDELACK_US;
	if (pto < NS_TCP_TLP_MIN_US)
		pto = NS_TCP_TLP_MIN_US;
	if (pto >= rto)
		timer_arm(c, NS_TCP_T_RTO, now + rto);
	else
		timer_arm(c, NS_TCP_T_TLP, now + pto);
}

static bool has_unsent(const struct ns_conn *c)
{
	if (SEQ_LT(c->snd_nxt, tcp_data_end(c)))
		return true;
	return (c->flags & NS_TCPF_SHUT_WR) && !tcp_fin_sent(c);
}

void tcp_timer_update(struct ns_conn *c)
{
	const struct ns_tcp *t = tcp_of(c);
	uint64_t now = c->s->now_us;

	switch (c->state) {
	case NS_TCP_CLOSED:
	case NS_TCP_LISTEN:
		timer_stop(c);
		return;
	case NS_TCP_TIME_WAIT:
		if (c->tmode != NS_TCP_T_TIME_WAIT)
			timer_arm(c, NS_TCP_T_TIME_WAIT, now + t->tw_us);
		return;
	default:
		break;
	}
	if (SEQ_LT(c->snd_una, c->snd_max) || (c->flags & NS_TCPF_SEND_SYN)) {
		if (c->tmode != NS_TCP_T_RTO && c->tmode != NS_TCP_T_TLP)
			rto_or_tlp_arm(c);
		return;
	}
	/* Nothing in flight but something to send: either the window is
	 * zero or sender SWS avoidance holds a runt; the persist timer makes
	 * sure we ask again (RFC 9293 §3.8.6.1, §3.8.6.2.1). */
	if (has_unsent(c) && tcp_synchronized(c)) {
		if (c->tmode != NS_TCP_T_PERSIST)
			timer_arm(c, NS_TCP_T_PERSIST, now + tcp_rto_current(c));
		return;
	}
	if ((c->flags & NS_TCPF_ORPHAN) && c->state == NS_TCP_FIN_WAIT_2) {
		if (c->tmode != NS_TCP_T_FIN_WAIT_2)
			timer_arm(c, NS_TCP_T_FIN_WAIT_2, now + t->tw_us);
		return;
	}
	if (t->ka_idle_us != 0 &&
	    (c->state == NS_TCP_ESTABLISHED || c->state == NS_TCP_CLOSE_WAIT ||
	     c->state == NS_TCP_FIN_WAIT_2)) {
		if (c->tmode != NS_TCP_T_KEEPALIVE)
			timer_arm(c, NS_TCP_T_KEEPALIVE,
				  c->ka_probes ? now + t->ka_intvl_us : c->last_rx_us + t->ka_idle_us);
		return;
	}
	timer_stop(c);
}

/* RFC 6298 §5.3: restart on an ACK of new data; stop when all is ACKed. */
void tcp_rto_restart(struct ns_conn *c)
{
	if (SEQ_LT(c->snd_una, c->snd_max))
		rto_or_tlp_arm(c);
	else
		tcp_timer_update(c);
}

/* RFC 6298 §2: SRTT/RTTVAR with alpha = 1/8, beta = 1/4,
 * RTO = SRTT + max(G, 4 * RTTVAR), bounded by rto_min/rto_max. */
void tcp_rtt_sample(struct ns_conn *c, uint32_t r)
{
	const struct ns_tcp *t = tcp_of(c);
	uint64_t rto;

	if (r == 0)
		r = 1;
	if (c->min_rtt_us == 0 || r < c->min_rtt_us)
		c->min_rtt_us = r;
	if (c->srtt_us == 0) {
		c->srtt_us = r;
		c->rttvar_us = r / 2;
	} else {
		uint32_t d = c->srtt_us > r ? c->srtt_us - r : r - c->srtt_us;

		c->rttvar_us = (3 * c->rttvar_us + d) / 4;
		c->srtt_us = (7 * c->srtt_us + r) / 8;
	}
	rto = (uint64_t)c->srtt_us + (4ULL * c->rttvar_us > TCP_CLOCK_G_US ? 4ULL * c->rttvar_us
									     : TCP_CLOCK_G_US);
	if (rto < t->rto_min_us)
		rto = t->rto_min_us;
	if (rto > t->rto_max_us)
		rto = t->rto_max_us;
	c->rto_us = (uint32_t)rto;
}

/* SYN or SYN-ACK unanswered: resend it, backing off (RFC 6298 §5.5). */
static void rto_fire_syn(struct ns_conn *c)
{
	unsigned limit = c->state == NS_TCP_SYN_SENT ? NS_TCP_SYN_RETRIES : NS_TCP_SYNACK_RETRIES;

	if (c->retries >= limit) {
		tcp_conn_finish(c, c->soft_err ? c->soft_err : SL_ETIMEDOUT);
		return;
	}
	c->retries++;
	c->backoff++;
	c->flags |= NS_TCPF_SYN_LOST | NS_TCPF_SEND_SYN;
	c->rtt_active = false;
	NS_STAT_INC(c->s, tcp_rto_expired);
	timer_arm(c, NS_TCP_T_RTO, c->s->now_us + tcp_rto_current(c));
	tcp_conn_mark(c);
}

static void rto_fire(struct ns_conn *c)
{
	struct ns_tcp *t = tcp_of(c);
	unsigned limit = (c->flags & NS_TCPF_ORPHAN) ? NS_TCP_ORPHAN_RETRIES : NS_TCP_RETRIES;

	if (c->state == NS_TCP_SYN_SENT || c->state == NS_TCP_SYN_RCVD) {
		rto_fire_syn(c);
		return;
	}
	if (!SEQ_LT(c->snd_una, c->snd_max)) {
		tcp_timer_update(c);
		return;
	}
	if (c->retries >= limit) {
		tcp_conn_finish(c, c->soft_err ? c->soft_err : SL_ETIMEDOUT);
		return;
	}
	NS_STAT_INC(c->s, tcp_rto_expired);
	/* RFC 5681 §3.1: ssthresh is reduced only on the first timeout of a
	 * series (the segment had not been resent by the timer yet); every
	 * timeout sets cwnd to the loss window. */
	if (c->backoff == 0)
		t->cc->loss(c, true);
	else
		c->cwnd = c->smss;
	c->retries++;
	if (tcp_rto_current(c) < t->rto_max_us)
		c->backoff++;
	/* Leave fast recovery; go back to snd_una. RFC 6582 §4: recover =
	 * highest sent, so old duplicate ACKs do not trigger a new fast
	 * retransmit. SACK information is dropped: the receiver may have
	 * reneged (RFC 2018 §8), and go-back-N re-learns it from new ACKs. */
	c->flags &= ~(NS_TCPF_RECOVERY | NS_TCPF_RXT_HEAD | NS_TCPF_TLP | NS_TCPF_TLP_RXT);
	c->recover = c->snd_max;
	c->dupacks = 0;
	c->high_rxt = c->snd_una;
	c->lost_hint = c->snd_una;
	c->rescue_rxt = c->snd_una - 1;
	tcp_sb_clear(c);
	c->snd_nxt = c->snd_una;
	c->rtt_active = false; /* Karn's algorithm (RFC 6298 §3) */
	timer_arm(c, NS_TCP_T_RTO, c->s->now_us + tcp_rto_current(c));
	tcp_conn_mark(c);
}

static void persist_fire(struct ns_conn *c)
{
	struct ns_tcp *t = tcp_of(c);

	if (c->snd_wnd > 0 && SEQ_LT(c->snd_nxt, c->snd_una + c->snd_wnd)) {
		/* The window is open; a held runt may go now. */
		tcp_conn_mark(c);
		tcp_timer_update(c);
		return;
	}
	/* RFC 9293 §3.8.6.1 keeps probing while the peer answers; only an
	 * orphan (nobody will ever abort it) gives up. */
	if ((c->flags & NS_TCPF_ORPHAN) && c->retries >= NS_TCP_ORPHAN_RETRIES) {
		tcp_conn_finish(c, SL_ETIMEDOUT);
		return;
	}
	c->retries++;
	NS_STAT_INC(c->s, tcp_zero_window_probes);
	tcp_send_probe(c);
	if (tcp_rto_current(c) < t->rto_max_us)
		c->backoff++;
	timer_arm(c, NS_TCP_T_PERSIST, c->s->now_us + tcp_rto_current(c));
}

/* RFC 8985 §7.3: send the probe, then fall back to the RTO. */
static void tlp_fire(struct ns_conn *c)
{
	if (SEQ_LT(c->snd_una, c->snd_max) && tlp_eligible(c)) {
		NS_STAT_INC(c->s, tcp_tlp_probes);
		tcp_send_tlp(c);
	}
	if (SEQ_LT(c->snd_una, c->snd_max))
		timer_arm(c, NS_TCP_T_RTO, c->s->now_us + tcp_rto_current(c));
	else
		tcp_timer_update(c);
}

static void keepalive_fire(struct ns_conn *c)
{
	struct ns_tcp *t = tcp_of(c);
	uint64_t now = c->s->now_us;

	if (c->ka_probes == 0 && now < c->last_rx_us + t->ka_idle_us) {
		timer_arm(c, NS_TCP_T_KEEPALIVE, c->last_rx_us + t->ka_idle_us);
		return;
	}
	if (c->ka_probes >= t->ka_probes) {
		NS_STAT_INC(c->s, tcp_keepalive_timeouts);
		tcp_xmit_raw(c->s, c->lip, c->rip, c->lport, c->rport, c->snd_max, 0, NS_TH_RST, 0,
			     NULL, 0);
		NS_STAT_INC(c->s, tcp_rst_tx);
		tcp_conn_finish(c, SL_ETIMEDOUT);
		return;
	}
	c->ka_probes++;
	tcp_send_probe(c);
	timer_arm(c, NS_TCP_T_KEEPALIVE, now + t->ka_intvl_us);
}

static void tcp_timer_fire(sl_timer_t *tm, void *arg)
{
	struct ns_conn *c = arg;
	enum ns_tcp_tmode mode = (enum ns_tcp_tmode)c->tmode;

	(void)tm;
	c->tmode = NS_TCP_T_NONE;
	switch (mode) {
	case NS_TCP_T_RTO:
		rto_fire(c);
		break;
	case NS_TCP_T_PERSIST:
		persist_fire(c);
		break;
	case NS_TCP_T_KEEPALIVE:
		keepalive_fire(c);
		break;
	case NS_TCP_T_FIN_WAIT_2:
		tcp_conn_finish(c, 0);
		break;
	case NS_TCP_T_TIME_WAIT:
		tcp_conn_finish(c, 0);
		break;
	case NS_TCP_T_TLP:
		tlp_fire(c);
		break;
	case NS_TCP_T_NONE:
		break;
	}
}

void tcp_delack_schedule(struct ns_conn *c)
{
	if (!sl_timer_pending(&c->delack))
		sl_timer_arm(c->s->wheel, &c->delack, c->s->now_us + tcp_of(c)->delack_us);
}

void tcp_delack_cancel(struct ns_conn *c)
{
	sl_timer_cancel(c->s->wheel, &c->delack);
}

static void tcp_delack_fire(sl_timer_t *tm, void *arg)
{
	struct ns_conn *c = arg;

	(void)tm;
	c->flags |= NS_TCPF_ACK_NOW;
	tcp_conn_mark(c);
}
