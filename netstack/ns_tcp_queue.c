/* ns_tcp_queue - the byte queues of a connection.
 *
 * Send queue: app bytes copied into mbufs from the stack pool, packed from
 * the start of each buffer, linked through m->next. Every transmission copies
 * from here into a fresh packet (ns_tcp_output.c), so nothing here is ever
 * shared with the driver.
 *
 * Receive queue: the received mbufs themselves, trimmed to their payload,
 * linked through m->next; ns_conn_peek hands out slices into them. Small
 * segments are copied into the tail mbuf's tailroom instead of being kept,
 * so a peer that sends many tiny segments cannot pin one 2 KB buffer per
 * byte.
 *
 * Out-of-order queue: received mbufs sorted by sequence number (kept in
 * m->hash.usr, which the RSS hash no longer needs), disjoint, bounded in
 * count and memory.
 *
 * mbufs linked here are single-segment frames chained through `next` only
 * as queue links: they are always unlinked before rte_pktmbuf_free. */
#include <string.h>

#include "ns_tcp_private.h"

#define MB_SEQ(m) ((m)->hash.usr)
#define MB_END(m) ((uint32_t)(MB_SEQ(m) + (m)->data_len))

static void mb_free1(struct rte_mbuf *m)
{
	m->next = NULL;
	m->nb_segs = 1;
	m->pkt_len = m->data_len;
	rte_pktmbuf_free(m);
}

uint32_t tcp_mbuf_truesize(const struct rte_mbuf *m)
{
	return m->buf_len;
}

bool tcp_mem_charge(struct ns_conn *c, uint32_t bytes)
{
	struct ns_tcp *t = tcp_of(c);

	if (unlikely(t->mem_used + bytes > t->mem_max))
		return false;
	t->mem_used += bytes;
	return true;
}

void tcp_mem_uncharge(struct ns_conn *c, uint32_t bytes)
{
	struct ns_tcp *t = tcp_of(c);

	t->mem_used -= bytes;
}

/* ---- Send queue ---- */

/* Send space was refused for lack of memory, not of sndbuf: no ACK may be
 * coming to fire `writable`, so the flush polls for memory instead. */
static void sq_wait_mem(struct ns_conn *c)
{
	if (!(c->flags & NS_TCPF_WAIT_MEM)) {
		c->flags |= NS_TCPF_WAIT_MEM;
		tcp_of(c)->wait_mem++;
	}
}

size_t tcp_sq_append(struct ns_conn *c, const uint8_t *data, size_t len)
{
	struct ns_tcp *t = tcp_of(c);
	struct rte_mempool *pool = c->s->p.pool;
	size_t done = 0;

	if (c->sq_len >= t->sndbuf)
		return 0;
	if (len > t->sndbuf - c->sq_len)
		len = t->sndbuf - c->sq_len;
	while (done < len) {
		struct rte_mbuf *m = c->sq_tail;
		uint16_t room = m != NULL ? rte_pktmbuf_tailroom(m) : 0;

		if (room == 0) {
			/* Leave a reserve so that a full send path cannot
			 * starve RX refills and ACKs of mbufs. */
			if (rte_mempool_avail_count(pool) <= t->pool_reserve) {
				sq_wait_mem(c);
				break;
			}
			m = rte_pktmbuf_alloc(pool);
			if (unlikely(m == NULL)) {
				sq_wait_mem(c);
				break;
			}
			if (unlikely(!tcp_mem_charge(c, m->buf_len))) {
				rte_pktmbuf_free(m);
				sq_wait_mem(c);
				break;
			}
			c->sq_mem += m->buf_len;
			m->data_off = 0;
			if (c->sq_tail != NULL)
				c->sq_tail->next = m;
			else
				c->sq_head = m;
			c->sq_tail = m;
			room = rte_pktmbuf_tailroom(m);
		}
		size_t n = len - done < room ? len - done : room;
		memcpy(rte_pktmbuf_mtod_offset(m, uint8_t *, m->data_len), data + done, n);
		m->data_len = (uint16_t)(m->data_len + n);
		m->pkt_len = m->data_len;
		done += n;
	}
	c->sq_len += (uint32_t)done;
	return done;
}

void tcp_sq_ack(struct ns_conn *c, uint32_t seq)
{
	uint32_t n;

	if (SEQ_LEQ(seq, c->sq_seq))
		return;
	n = seq - c->sq_seq;
	if (n > c->sq_len)
		n = c->sq_len;
	c->sq_seq += n;
	c->sq_len -= n;
	while (n > 0) {
		struct rte_mbuf *m = c->sq_head;

		if (m == c->sq_cur)
			c->sq_cur = NULL; /* its first byte moves or goes */
		if (m->data_len <= n) {
			n -= m->data_len;
			c->sq_head = m->next;
			if (c->sq_head == NULL)
				c->sq_tail = NULL;
			c->sq_mem -= m->buf_len;
			tcp_mem_uncharge(c, m->buf_len);
			mb_free1(m);
		} else {
			m->data_off = (uint16_t)(m->data_off + n);
			m->data_len = (uint16_t)(m->data_len - n);
			m->pkt_len = m->data_len;
			n = 0;
		}
	}
}

void tcp_sq_copy(struct ns_conn *c, uint32_t seq, uint32_t len, uint8_t *dst)
{
	struct rte_mbuf *m;
	uint32_t mseq;

	if (c->sq_cur != NULL && SEQ_LEQ(c->sq_cur_seq, seq)) {
		m = c->sq_cur;
		mseq = c->sq_cur_seq;
	} else {
		m = c->sq_head;
		mseq = c->sq_seq;
	}
	while (m != NULL && SEQ_GEQ(seq, mseq + m->data_len)) {
		mseq += m->data_len;
		m = m->next;
	}
	while (len > 0 && m != NULL) {
		uint32_t off = seq - mseq;
		uint32_t n = m->data_len - off;

		if (n > len)
			n = len;
		memcpy(dst, rte_pktmbuf_mtod_offset(m, const uint8_t *, off), n);
		dst += n;
		seq += n;
		len -= n;
		c->sq_cur = m;
		c->sq_cur_seq = mseq;
		if (off + n == m->data_len) {
			mseq += m->data_len;
			m = m->next;
		}
	}
}

void tcp_sq_free(struct ns_conn *c)
{
	struct rte_mbuf *m = c->sq_head, *next;

	while (m != NULL) {
		next = m->next;
		tcp_mem_uncharge(c, m->buf_len);
		mb_free1(m);
		m = next;
	}
	c->sq_head = c->sq_tail = c->sq_cur = NULL;
	c->sq_seq += c->sq_len;
	c->sq_len = 0;
	c->sq_mem = 0;
}

/* ---- Receive queue ---- */

void tcp_rq_append(struct ns_conn *c, struct rte_mbuf *m)
{
	struct rte_mbuf *tail = c->rq_tail;
	uint16_t len = m->data_len;

	c->rq_len += len;
	c->bytes_in += len;
	if (tail != NULL && len <= NS_TCP_COALESCE_MAX && RTE_MBUF_DIRECT(tail) &&
	    rte_mbuf_refcnt_read(tail) == 1 && rte_pktmbuf_tailroom(tail) >= len) {
		memcpy(rte_pktmbuf_mtod_offset(tail, uint8_t *, tail->data_len),
		       rte_pktmbuf_mtod(m, const uint8_t *), len);
		tail->data_len = (uint16_t)(tail->data_len + len);
		tail->pkt_len = tail->data_len;
		c->rx_mem -= tcp_mbuf_truesize(m);
		tcp_mem_uncharge(c, tcp_mbuf_truesize(m));
		mb_free1(m);
		return;
	}
	m->next = NULL;
	if (tail != NULL)
		tail->next = m;
	else
		c->rq_head = m;
	c->rq_tail = m;
}

void tcp_rq_consume(struct ns_conn *c, size_t len)
{
	if (len > c->rq_len)
		len = c->rq_len;
	c->rq_len -= (uint32_t)len;
	while (len > 0) {
		struct rte_mbuf *m = c->rq_head;

		if (m->data_len <= len) {
			len -= m->data_len;
			c->rq_head = m->next;
			if (c->rq_head == NULL)
				c->rq_tail = NULL;
			c->rx_mem -= tcp_mbuf_truesize(m);
			tcp_mem_uncharge(c, tcp_mbuf_truesize(m));
			mb_free1(m);
		} else {
			m->data_off = (uint16_t)(m->data_off + len);
			m->data_len = (uint16_t)(m->data_len - len);
			m->pkt_len = m->data_len;
			len = 0;
		}
	}
}

static void mb_list_free(struct ns_conn *c, struct rte_mbuf *m)
{
	struct rte_mbuf *next;

	while (m != NULL) {
		next = m->next;
		c->rx_mem -= tcp_mbuf_truesize(m);
		tcp_mem_uncharge(c, tcp_mbuf_truesize(m));
		mb_free1(m);
		m = next;
	}
}

void tcp_rq_free(struct ns_conn *c)
{
	mb_list_free(c, c->rq_head);
	c->rq_head = c->rq_tail = NULL;
	c->rq_len = 0;
	mb_list_free(c, c->ooo_head);
	c->ooo_head = NULL;
	c->ooo_cnt = 0;
	c->nrsack = 0;
}

/* ---- Out-of-order queue ---- */

static void ooo_drop(struct ns_conn *c, struct rte_mbuf *m)
{
	c->rx_mem -= tcp_mbuf_truesize(m);
	tcp_mem_uncharge(c, tcp_mbuf_truesize(m));
	mb_free1(m);
}

/* M is charged to C already. Overlaps are trimmed from the new segment so
 * that the queue stays disjoint (what we hold first wins: RFC 9293 §3.10.7.4
 * lets either copy stand, and the old one may already be SACKed). */
bool tcp_ooo_insert(struct ns_conn *c, struct rte_mbuf *m, uint32_t seq)
{
	struct rte_mbuf *prev = NULL, *cur = c->ooo_head;
	uint32_t end = seq + m->data_len;

	while (cur != NULL && SEQ_LEQ(MB_END(cur), seq)) {
		prev = cur;
		cur = cur->next;
	}
	if (cur != NULL && SEQ_LEQ(MB_SEQ(cur), seq)) {
		uint32_t cend = MB_END(cur);

		if (SEQ_GEQ(cend, end)) {
			ooo_drop(c, m); /* all of it is here already */
			return false;
		}
		rte_pktmbuf_adj(m, (uint16_t)(cend - seq));
		seq = cend;
		prev = cur;
		cur = cur->next;
	}
	while (cur != NULL && SEQ_LEQ(MB_END(cur), end)) {
		struct rte_mbuf *next = cur->next;

		/* Entirely covered by the new segment. */
		if (prev != NULL)
			prev->next = next;
		else
			c->ooo_head = next;
		c->ooo_cnt--;
		ooo_drop(c, cur);
		cur = next;
	}
	if (cur != NULL && SEQ_LT(MB_SEQ(cur), end))
		rte_pktmbuf_trim(m, (uint16_t)(end - MB_SEQ(cur)));
	if (unlikely(c->ooo_cnt >= NS_TCP_OOO_MAX)) {
		ooo_drop(c, m);
		return false;
	}
	MB_SEQ(m) = seq;
	m->next = cur;
	if (prev != NULL)
		prev->next = m;
	else
		c->ooo_head = m;
	c->ooo_cnt++;
	tcp_rsack_note(c, seq);
	return true;
}

void tcp_ooo_drain(struct ns_conn *c)
{
	struct rte_mbuf *m;

	while ((m = c->ooo_head) != NULL && SEQ_LEQ(MB_SEQ(m), c->rcv_nxt)) {
		uint32_t end = MB_END(m);

		c->ooo_head = m->next;
		c->ooo_cnt--;
		m->next = NULL;
		if (SEQ_LEQ(end, c->rcv_nxt)) {
			ooo_drop(c, m);
			continue;
		}
		rte_pktmbuf_adj(m, (uint16_t)(c->rcv_nxt - MB_SEQ(m)));
		c->rcv_nxt = end;
		tcp_rq_append(c, m);
	}
}

/* ---- SACK blocks we report (RFC 2018 §4) ----
 *
 * The first block must hold the segment that arrived last, the others the
 * most recently reported ones; rsack[] remembers one sequence number inside
 * each, most recent first. The actual block edges are recomputed from the
 * queue, since later arrivals merge blocks. */
void tcp_rsack_note(struct ns_conn *c, uint32_t seq)
{
	unsigned n = c->nrsack < NS_TCP_RSACK_MAX ? c->nrsack : NS_TCP_RSACK_MAX - 1;

	memmove(c->rsack + 1, c->rsack, n * sizeof(c->rsack[0]));
	c->rsack[0] = seq;
	c->nrsack = (uint8_t)(n + 1);
}

#define RSACK_RANGES 64

unsigned tcp_rsack_blocks(const struct ns_conn *c, struct ns_tcp_blk *out, unsigned max)
{
	struct ns_tcp_blk r[RSACK_RANGES];
	bool used[RSACK_RANGES];
	unsigned nr = 0, n = 0;

	for (const struct rte_mbuf *m = c->ooo_head; m != NULL; m = m->next) {
		if (nr > 0 && r[nr - 1].end == MB_SEQ(m)) {
			r[nr - 1].end = MB_END(m);
		} else {
			if (nr == RSACK_RANGES)
				break;
			r[nr].start = MB_SEQ(m);
			r[nr].end = MB_END(m);
			used[nr] = false;
			nr++;
		}
	}
	for (unsigned i = 0; i < c->nrsack && n < max; i++) {
		for (unsigned k = 0; k < nr; k++) {
			if (SEQ_LEQ(r[k].start, c->rsack[i]) && SEQ_LT(c->rsack[i], r[k].end)) {
				if (!used[k]) {
					used[k] = true;
					out[n++] = r[k];
				}
				break;
			}
		}
	}
	/* Report as many distinct blocks as fit (RFC 2018 §4). */
	for (unsigned k = 0; k < nr && n < max; k++) {
		if (!used[k]) {
			used[k] = true;
			out[n++] = r[k];
		}
	}
	return n;
}
