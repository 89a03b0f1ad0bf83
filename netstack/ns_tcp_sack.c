/* ns_tcp_sack - the sender's SACK scoreboard and the RFC 6675 loss
 * recovery algorithms (IsLost, SetPipe, NextSeg) over it.
 *
 * The scoreboard is a sorted array of disjoint SACKed byte ranges inside
 * [snd_una, snd_max). RFC 6675 is written per octet; here every rule is
 * computed per range. IsLost(s) only gets truer as s decreases, so one
 * "lost edge" splits the window: unSACKed bytes below it are lost, those
 * above are not. */
#include <string.h>

#include "ns_tcp_private.h"

static void sb_remove(struct ns_conn *c, unsigned i)
{
	c->sacked_bytes -= c->sb[i].end - c->sb[i].start;
	memmove(c->sb + i, c->sb + i + 1, (c->nsb - i - 1) * sizeof(c->sb[0]));
	c->nsb--;
}

/* Insert [start, end), merging with overlapping or adjacent ranges. */
static void sb_insert(struct ns_conn *c, uint32_t start, uint32_t end)
{
	unsigned i = 0;

	while (i < c->nsb && SEQ_LT(c->sb[i].end, start))
		i++;
	if (i < c->nsb && SEQ_LEQ(c->sb[i].start, end)) {
		/* Overlaps or touches range i: widen it and swallow the
		 * following ranges it now reaches. */
		struct ns_tcp_blk *b = &c->sb[i];

		c->sacked_bytes -= b->end - b->start;
		b->start = SEQ_MIN(b->start, start);
		b->end = SEQ_MAX(b->end, end);
		c->sacked_bytes += b->end - b->start;
		while (i + 1 < c->nsb && SEQ_LEQ(c->sb[i + 1].start, b->end)) {
			uint32_t e = SEQ_MAX(b->end, c->sb[i + 1].end);

			sb_remove(c, i + 1);
			c->sacked_bytes -= b->end - b->start;
			b->end = e;
			c->sacked_bytes += b->end - b->start;
		}
		return;
	}
	if (c->nsb == NS_TCP_SB_MAX) {
		/* Full: forgetting the highest range only costs a needless
		 * retransmission later, never correctness. */
		if (i == c->nsb)
			return;
		sb_remove(c, c->nsb - 1);
	}
	memmove(c->sb + i + 1, c->sb + i, (c->nsb - i) * sizeof(c->sb[0]));
	c->sb[i].start = start;
	c->sb[i].end = end;
	c->nsb++;
	c->sacked_bytes += end - start;
}

/* Blocks are peer input: only ranges inside what we sent and have not had
 * cumulatively acknowledged are believed (RFC 2018 §3; blocks below snd_una
 * are D-SACKs, RFC 2883, which we do not use). */
uint32_t tcp_sb_update(struct ns_conn *c, const struct ns_tcp_opts *o)
{
	uint32_t before = c->sacked_bytes;

	for (unsigned i = 0; i < o->nsack; i++) {
		uint32_t start = o->sack[i].start, end = o->sack[i].end;

		if (!SEQ_LT(start, end) || SEQ_LEQ(end, c->snd_una) || SEQ_GT(end, c->snd_max))
			continue;
		if (SEQ_LT(start, c->snd_una))
			start = c->snd_una;
		sb_insert(c, start, end);
	}
	return c->sacked_bytes > before ? c->sacked_bytes - before : 0;
}

void tcp_sb_trim(struct ns_conn *c)
{
	while (c->nsb > 0 && SEQ_LEQ(c->sb[0].end, c->snd_una))
		sb_remove(c, 0);
	if (c->nsb > 0 && SEQ_LT(c->sb[0].start, c->snd_una)) {
		c->sacked_bytes -= c->snd_una - c->sb[0].start;
		c->sb[0].start = c->snd_una;
	}
}

void tcp_sb_clear(struct ns_conn *c)
{
	c->nsb = 0;
	c->sacked_bytes = 0;
}

bool tcp_sb_is_sacked(const struct ns_conn *c, uint32_t seq, uint32_t *end_r)
{
	for (unsigned i = 0; i < c->nsb; i++) {
		if (SEQ_LT(seq, c->sb[i].start))
			return false;
		if (SEQ_LT(seq, c->sb[i].end)) {
			*end_r = c->sb[i].end;
			return true;
		}
	}
	return false;
}

uint32_t tcp_sb_skip(const struct ns_conn *c, uint32_t seq, uint32_t *until_r)
{
	for (unsigned i = 0; i < c->nsb; i++) {
		if (SEQ_LT(seq, c->sb[i].start)) {
			*until_r = c->sb[i].start;
			return seq;
		}
		if (SEQ_LT(seq, c->sb[i].end))
			seq = c->sb[i].end;
	}
	*until_r = c->snd_max;
	return seq;
}

/* RFC 6675 §4 IsLost(s): DupThresh discontiguous SACKed ranges above s, or
 * more than (DupThresh - 1) * SMSS SACKed bytes above s. Returns the lowest
 * range start at which that holds; unSACKed bytes below it are lost. */
static uint32_t sb_lost_edge(const struct ns_conn *c)
{
	uint32_t sacked = 0, edge = c->snd_una;

	for (unsigned i = c->nsb; i-- > 0;) {
		sacked += c->sb[i].end - c->sb[i].start;
		if (sacked > (NS_TCP_DUPTHRESH - 1) * (uint32_t)c->smss ||
		    c->nsb - i >= NS_TCP_DUPTHRESH) {
			edge = c->sb[i].start;
			break;
		}
	}
	/* A SACKed tail loss probe vouches for everything sent before it
	 * (the RACK rule of RFC 8985 §6.2, for the one segment we time). */
	if (SEQ_GT(c->lost_hint, edge) && SEQ_LEQ(c->lost_hint, c->snd_max))
		edge = c->lost_hint;
	return edge;
}

bool tcp_sb_head_lost(const struct ns_conn *c)
{
	return SEQ_GT(sb_lost_edge(c), c->snd_una);
}

/* UnSACKed bytes within [a, b). */
static uint32_t sb_unsacked(const struct ns_conn *c, uint32_t a, uint32_t b)
{
	uint32_t n;

	if (!SEQ_LT(a, b))
		return 0;
	n = b - a;
	for (unsigned i = 0; i < c->nsb; i++) {
		uint32_t s = SEQ_MAX(a, c->sb[i].start), e = SEQ_MIN(b, c->sb[i].end);

		if (SEQ_LT(s, e))
			n -= e - s;
	}
	return n;
}

/* RFC 6675 §4 SetPipe(): each unSACKed octet counts once if not lost and
 * once more if retransmitted (below HighRxt). */
uint32_t tcp_sack_pipe(const struct ns_conn *c)
{
	uint32_t edge = sb_lost_edge(c);
	uint32_t hr = SEQ_MIN(SEQ_MAX(c->high_rxt, c->snd_una), c->snd_max);

	return sb_unsacked(c, edge, c->snd_max) + sb_unsacked(c, c->snd_una, hr);
}

/* A retransmission from S up to UNTIL: at most one SMSS, never past the
 * data. At the end of the data only the FIN is left: length 0. */
static uint32_t rxt_len(const struct ns_conn *c, uint32_t s, uint32_t until)
{
	uint32_t end = SEQ_MIN(SEQ_MIN(until, s + c->smss), tcp_data_end(c));

	return SEQ_GT(end, s) ? end - s : 0;
}

/* RFC 6675 §4 NextSeg(), rules 1 to 4. */
enum ns_tcp_nextseg tcp_sack_next_seg(const struct ns_conn *c, uint32_t *seq_r, uint32_t *len_r)
{
	uint32_t smss = c->smss, edge = sb_lost_edge(c), until;
	uint32_t hr = SEQ_MAX(c->high_rxt, c->snd_una);
	uint32_t s = tcp_sb_skip(c, hr, &until);
	uint32_t data_end = tcp_data_end(c);

	/* (1) the first lost, unSACKed byte above HighRxt. */
	if (SEQ_LT(s, edge) && SEQ_LT(s, c->snd_max)) {
		*seq_r = s;
		*len_r = rxt_len(c, s, until);
		return NS_TCP_NS_RXT;
	}
	/* (2) new data, if the receiver's window has room. */
	if (SEQ_LT(c->snd_max, data_end) && SEQ_LT(c->snd_max, c->snd_una + c->snd_wnd)) {
		uint32_t len = data_end - c->snd_max, win = c->snd_una + c->snd_wnd - c->snd_max;

		if (len > win)
			len = win;
		if (len > smss)
			len = smss;
		*seq_r = c->snd_max;
		*len_r = len;
		return NS_TCP_NS_NEW;
	}
	/* (3) an unSACKed byte above HighRxt below the highest SACKed one. */
	if (c->nsb > 0 && SEQ_LT(s, c->sb[c->nsb - 1].end) && SEQ_LT(s, c->snd_max)) {
		*seq_r = s;
		*len_r = rxt_len(c, s, until);
		return NS_TCP_NS_RXT;
	}
	/* (4) rescue: once per recovery, the highest unSACKed segment, so that
	 * a lost tail does not have to wait for the RTO. */
	if (SEQ_GT(c->snd_una, c->rescue_rxt) && SEQ_LT(c->snd_una, c->snd_max)) {
		uint32_t hi = c->snd_max, lo;

		if (c->nsb > 0 && c->sb[c->nsb - 1].end == c->snd_max)
			hi = c->sb[c->nsb - 1].start;
		lo = SEQ_MAX(c->snd_una, hi - smss);
		if (c->nsb > 1 && c->sb[c->nsb - 1].end == c->snd_max &&
		    SEQ_GT(c->sb[c->nsb - 2].end, lo))
			lo = c->sb[c->nsb - 2].end;
		else if (c->nsb > 0 && c->sb[c->nsb - 1].end != c->snd_max &&
			 SEQ_GT(c->sb[c->nsb - 1].end, lo))
			lo = c->sb[c->nsb - 1].end;
		/* Already retransmitted by rules 1 and 3: nothing to rescue. */
		if (SEQ_LT(lo, hi) && SEQ_GT(hi, hr)) {
			if (SEQ_GEQ(lo, data_end))
				lo = data_end; /* only the FIN */
			*seq_r = lo;
			*len_r = rxt_len(c, lo, hi);
			return NS_TCP_NS_RESCUE;
		}
	}
	return NS_TCP_NS_NONE;
}
