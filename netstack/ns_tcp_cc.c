/* ns_tcp_cc - congestion control: NewReno (RFC 5681, RFC 6582) and CUBIC
 * (RFC 9438), chosen per stack by params.cc. Loss detection and recovery
 * (fast retransmit, SACK recovery, RTO) live in ns_tcp_input.c and
 * ns_tcp_timer.c; this file only decides how cwnd and ssthresh move. */
#include <math.h>

#include "ns_tcp_private.h"

/* RFC 6928 §2: IW = min(10*MSS, max(2*MSS, 14600)). RFC 5681 §3.1: after a
 * lost SYN or SYN-ACK the initial window is one segment. */
uint32_t tcp_initial_window(const struct ns_conn *c)
{
	uint32_t mss = c->smss, iw;

	if (c->flags & NS_TCPF_SYN_LOST)
		return mss;
	iw = 14600 > 2 * mss ? 14600 : 2 * mss;
	return iw < 10 * mss ? iw : 10 * mss;
}

/* RFC 5681 §3.1 slow start with RFC 3465 byte counting (L = 2*SMSS). */
static void slow_start(struct ns_conn *c, uint32_t acked)
{
	uint32_t lim = 2u * c->smss;

	c->cwnd += acked < lim ? acked : lim;
	if (c->cwnd > c->ssthresh && c->ssthresh >= 2u * c->smss)
		c->cwnd = c->ssthresh;
}

static void cc_clamp(struct ns_conn *c)
{
	/* A window beyond what the send buffer can ever fill only hides loss
	 * of control after an idle period. */
	uint32_t cap = tcp_of(c)->sndbuf * 2;

	if (c->cwnd > cap)
		c->cwnd = cap;
	if (c->cwnd < c->smss)
		c->cwnd = c->smss;
}

/* ---- NewReno ---- */

static void newreno_init(struct ns_conn *c)
{
	c->cwnd = tcp_initial_window(c);
	c->ssthresh = UINT32_MAX;
	c->abc_bytes = 0;
}

/* Congestion avoidance: one SMSS per cwnd of acknowledged bytes (RFC 5681
 * §3.1, equation 3's byte-counting form, RFC 3465 §2.1). */
static void newreno_acked(struct ns_conn *c, uint32_t acked)
{
	if (c->cwnd < c->ssthresh) {
		slow_start(c, acked);
	} else {
		c->abc_bytes += acked;
		if (c->abc_bytes >= c->cwnd) {
			c->abc_bytes -= c->cwnd;
			c->cwnd += c->smss;
		}
	}
	cc_clamp(c);
}

/* RFC 5681 §3.1 equation (4): ssthresh = max(FlightSize / 2, 2*SMSS); after
 * an RTO, cwnd = 1 SMSS (the loss window). */
static void newreno_loss(struct ns_conn *c, bool rto)
{
	uint32_t flight = c->snd_max - c->snd_una;
	uint32_t half = flight / 2;

	c->ssthresh = half > 2u * c->smss ? half : 2u * c->smss;
	c->cwnd = rto ? c->smss : c->ssthresh;
	c->abc_bytes = 0;
}

static void newreno_recovered(struct ns_conn *c)
{
	c->abc_bytes = 0;
}

const struct ns_tcp_cc_ops ns_tcp_cc_newreno = {
	.name = "newreno",
	.init = newreno_init,
	.acked = newreno_acked,
	.loss = newreno_loss,
	.recovered = newreno_recovered,
};

/* ---- CUBIC (RFC 9438) ---- */

#define CUBIC_C 0.4     /* §5: C */
#define CUBIC_BETA 0.7  /* §4.6: beta_cubic */

static void cubic_init(struct ns_conn *c)
{
	newreno_init(c);
	c->cubic = (struct ns_cubic){0};
}

static void cubic_acked(struct ns_conn *c, uint32_t acked)
{
	struct ns_cubic *k = &c->cubic;
	double smss = c->smss, cwnd = c->cwnd / smss, t, target, w_cubic_t, alpha;
	uint64_t now = c->s->now_us;

	if (c->cwnd < c->ssthresh) {
		slow_start(c, acked);
		cc_clamp(c);
		return;
	}
	/* §4.2: a congestion-avoidance epoch starts at the first ACK after a
	 * reduction (or after slow start ends). */
	if (k->t_epoch_us == 0) {
		k->t_epoch_us = now;
		if (cwnd < k->w_max) {
			k->k = cbrt((k->w_max - cwnd) / CUBIC_C);
			k->origin = k->w_max;
		} else {
			k->k = 0;
			k->origin = cwnd;
		}
		k->w_est = cwnd;
		k->frac = 0;
	}
	t = (double)(now - k->t_epoch_us) / 1e6;
	w_cubic_t = k->origin + CUBIC_C * (t - k->k) * (t - k->k) * (t - k->k);
	/* §4.2: aim at where the curve will be one RTT from now, within
	 * [cwnd, 1.5 cwnd]. */
	t += (double)(c->srtt_us ? c->srtt_us : 100000) / 1e6;
	target = k->origin + CUBIC_C * (t - k->k) * (t - k->k) * (t - k->k);
	if (target < cwnd)
		target = cwnd;
	if (target > 1.5 * cwnd)
		target = 1.5 * cwnd;
	/* §4.3: the Reno-friendly estimate grows by alpha per RTT, alpha =
	 * 3(1-beta)/(1+beta) until it passes w_max, then 1. */
	alpha = k->w_est >= k->w_max ? 1.0 : 3.0 * (1.0 - CUBIC_BETA) / (1.0 + CUBIC_BETA);
	k->w_est += alpha * ((double)acked / smss) / cwnd;
	if (w_cubic_t < k->w_est) {
		if (k->w_est * smss > c->cwnd)
			c->cwnd = (uint32_t)(k->w_est * smss);
	} else {
		/* §4.4/4.5: (target - cwnd) / cwnd segments per SMSS acked. */
		k->frac += (target - cwnd) / cwnd * (double)acked;
		if (k->frac >= 1.0) {
			uint32_t inc = (uint32_t)k->frac;

			c->cwnd += inc;
			k->frac -= inc;
		}
	}
	cc_clamp(c);
}

/* §4.6 multiplicative decrease with §4.7 fast convergence; §4.8 on RTO. */
static void cubic_loss(struct ns_conn *c, bool rto)
{
	struct ns_cubic *k = &c->cubic;
	double cwnd = (double)c->cwnd / c->smss;
	uint32_t ss = (uint32_t)(c->cwnd * CUBIC_BETA);

	if (cwnd < k->w_max)
		k->w_max = cwnd * (1.0 + CUBIC_BETA) / 2.0;
	else
		k->w_max = cwnd;
	c->ssthresh = ss > 2u * c->smss ? ss : 2u * c->smss;
	c->cwnd = rto ? c->smss : c->ssthresh;
	k->t_epoch_us = 0;
}

static void cubic_recovered(struct ns_conn *c)
{
	c->cubic.t_epoch_us = 0;
}

const struct ns_tcp_cc_ops ns_tcp_cc_cubic = {
	.name = "cubic",
	.init = cubic_init,
	.acked = cubic_acked,
	.loss = cubic_loss,
	.recovered = cubic_recovered,
};
