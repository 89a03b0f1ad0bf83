/* ns_tcp_api - the ns_conn_* calls of ns.h, used by the protocol engines.
 *
 * None of them sends data or processes input directly: they change queues
 * and state and put the connection on the flush queue, so a call from
 * inside a callback never recurses into the stack. The exceptions are the
 * RST of ns_conn_abort and the SYN of ns_tcp_connect, which only transmit. */
#include <string.h>

#include "ns_tcp_private.h"

void ns_conn_set_ctx(ns_conn_t *c, void *ctx)
{
	c->ctx = ctx;
}

void *ns_conn_get_ctx(const ns_conn_t *c)
{
	return c->ctx;
}

static bool can_send(const struct ns_conn *c)
{
	if (c->flags & (NS_TCPF_DEAD | NS_TCPF_ORPHAN | NS_TCPF_SHUT_WR))
		return false;
	switch (c->state) {
	case NS_TCP_SYN_SENT:
	case NS_TCP_SYN_RCVD:
	case NS_TCP_ESTABLISHED:
	case NS_TCP_CLOSE_WAIT:
		return true;
	default:
		return false;
	}
}

ssize_t ns_conn_send(ns_conn_t *c, const void *data, size_t len)
{
	size_t n;

	if (!can_send(c))
		return SL_ECLOSED;
	if (len == 0)
		return 0;
	n = tcp_sq_append(c, data, len);
	if (n < len)
		c->flags |= NS_TCPF_WANT_WRITABLE;
	if (n > 0 && tcp_synchronized(c))
		tcp_conn_mark(c);
	return (ssize_t)n;
}

size_t ns_conn_send_space(const ns_conn_t *c)
{
	const struct ns_tcp *t = tcp_of(c);
	uint64_t space, mem;

	if (!can_send(c))
		return 0;
	space = c->sq_len < t->sndbuf ? t->sndbuf - c->sq_len : 0;
	mem = t->mem_used < t->mem_max ? t->mem_max - t->mem_used : 0;
	return (size_t)(space < mem ? space : mem);
}

unsigned ns_conn_peek(ns_conn_t *c, sl_slice_t *iov, unsigned n)
{
	unsigned i = 0;

	for (const struct rte_mbuf *m = c->rq_head; m != NULL && i < n; m = m->next)
		if (m->data_len > 0)
			iov[i++] = sl_slice_make(rte_pktmbuf_mtod(m, const uint8_t *), m->data_len);
	return i;
}

/* Tell the peer about a window that reopened (RFC 9293 §3.8.6.2.2), once
 * the increase is worth a segment: at least min(2 * MSS, rcvbuf / 2). */
static void window_update(struct ns_conn *c)
{
	const struct ns_tcp *t = tcp_of(c);
	uint32_t cur, space, mss, step;

	if (!tcp_synchronized(c) || (c->flags & NS_TCPF_FIN_RCVD) || c->state == NS_TCP_TIME_WAIT)
		return;
	cur = SEQ_GT(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;
	space = t->rcvbuf > c->rq_len ? t->rcvbuf - c->rq_len : 0;
	mss = c->rcv_mss ? c->rcv_mss : t->mss_adv;
	step = 2 * mss < t->rcvbuf / 2 ? 2 * mss : t->rcvbuf / 2;
	if (space > cur && space - cur >= step && cur <= t->rcvbuf / 2) {
		c->flags |= NS_TCPF_ACK_NOW;
		tcp_conn_mark(c);
	}
}

void ns_conn_consume(ns_conn_t *c, size_t len)
{
	if (c->flags & NS_TCPF_DEAD)
		return;
	tcp_rq_consume(c, len);
	window_update(c);
}

size_t ns_conn_recv(ns_conn_t *c, void *buf, size_t len)
{
	size_t done = 0;
	uint8_t *dst = buf;

	for (const struct rte_mbuf *m = c->rq_head; m != NULL && done < len; m = m->next) {
		size_t n = m->data_len < len - done ? m->data_len : len - done;

		memcpy(dst + done, rte_pktmbuf_mtod(m, const uint8_t *), n);
		done += n;
	}
	ns_conn_consume(c, done);
	return done;
}

size_t ns_conn_readable(const ns_conn_t *c)
{
	return c->rq_len;
}

bool ns_conn_eof(const ns_conn_t *c)
{
	return (c->flags & NS_TCPF_FIN_RCVD) && c->rq_len == 0;
}

/* RFC 9293 §3.10.4 CLOSE for the sending direction: the FIN is queued
 * behind the data, and the state moves now. */
static void queue_fin(struct ns_conn *c)
{
	if (c->flags & NS_TCPF_SHUT_WR)
		return;
	c->flags |= NS_TCPF_SHUT_WR;
	if (c->state == NS_TCP_ESTABLISHED)
		tcp_set_state(c, NS_TCP_FIN_WAIT_1);
	else if (c->state == NS_TCP_CLOSE_WAIT)
		tcp_set_state(c, NS_TCP_LAST_ACK);
	/* SYN_SENT / SYN_RCVD: moves to FIN_WAIT_1 on ESTABLISHED. */
	tcp_conn_mark(c);
}

int ns_conn_shutdown(ns_conn_t *c)
{
	if (c->flags & (NS_TCPF_DEAD | NS_TCPF_ORPHAN))
		return SL_ECLOSED;
	if (c->flags & NS_TCPF_SHUT_WR)
		return 0;
	switch (c->state) {
	case NS_TCP_SYN_SENT:
	case NS_TCP_SYN_RCVD:
	case NS_TCP_ESTABLISHED:
	case NS_TCP_CLOSE_WAIT:
		queue_fin(c);
		return 0;
	default:
		return SL_ECLOSED;
	}
}

void ns_conn_close(ns_conn_t *c)
{
	if (c->flags & (NS_TCPF_DEAD | NS_TCPF_ORPHAN))
		return;
	c->ev = 0;
	switch (c->state) {
	case NS_TCP_CLOSED:
	case NS_TCP_SYN_SENT:
		/* Nothing to tell the peer (RFC 9293 §3.10.4: SYN-SENT just
		 * deletes the TCB). */
		tcp_conn_release(c);
		return;
	default:
		break;
	}
	c->flags |= NS_TCPF_ORPHAN;
	/* Unread data is dropped; later data is ACKed and dropped too, so
	 * the peer's close can complete. */
	tcp_rq_free(c);
	if (c->state != NS_TCP_TIME_WAIT) {
		queue_fin(c);
		tcp_timer_update(c);
	}
}

void ns_conn_abort(ns_conn_t *c)
{
	if (c->flags & NS_TCPF_DEAD)
		return;
	/* RFC 9293 §3.10.4 ABORT: <SEQ=SND.NXT><CTL=RST> in the synchronized
	 * states and SYN-RECEIVED; nothing from SYN-SENT or TIME-WAIT. */
	if (c->state >= NS_TCP_SYN_RCVD && c->state != NS_TCP_TIME_WAIT) {
		tcp_xmit_raw(c->s, c->lip, c->rip, c->lport, c->rport, c->snd_max, 0, NS_TH_RST, 0,
			     NULL, 0);
		NS_STAT_INC(c->s, tcp_rst_tx);
	}
	tcp_conn_release(c);
}
