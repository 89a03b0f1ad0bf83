/* ns_tcp_opt - TCP options in and out: MSS (RFC 9293 §3.2), window scale
 * and timestamps (RFC 7323), SACK-permitted and SACK (RFC 2018). */
#include <string.h>

#include "ns_tcp_private.h"

#define OPT_EOL 0
#define OPT_NOP 1
#define OPT_MSS 2
#define OPT_WS 3
#define OPT_SACK_PERM 4
#define OPT_SACK 5
#define OPT_TS 8

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* The option list is peer input: every length is checked against what is
 * left before a byte is read. A broken length ends parsing (we cannot tell
 * where the next option starts); a known option with the wrong length is
 * skipped, as RFC 9293 §3.2 asks (MUST be prepared to handle an illegal
 * option length without crashing). MSS, window scale and SACK-permitted
 * are only meaningful on SYNs (RFC 9293 §3.2, RFC 7323 §2.2, RFC 2018 §2). */
bool tcp_opts_parse(const uint8_t *p, unsigned len, bool syn, struct ns_tcp_opts *o)
{
	bool ok = true;
	unsigned i = 0;

	memset(o, 0, sizeof(*o));
	while (i < len) {
		uint8_t kind = p[i], olen;

		if (kind == OPT_EOL)
			break;
		if (kind == OPT_NOP) {
			i++;
			continue;
		}
		if (i + 1 >= len)
			return false;
		olen = p[i + 1];
		if (olen < 2 || i + olen > len)
			return false;
		switch (kind) {
		case OPT_MSS:
			if (olen != 4) {
				ok = false;
			} else if (syn) {
				o->has_mss = true;
				o->mss = get16(p + i + 2);
			}
			break;
		case OPT_WS:
			if (olen != 3) {
				ok = false;
			} else if (syn) {
				o->has_ws = true;
				/* RFC 7323 §2.3: a shift above 14 is used as 14. */
				o->wscale = p[i + 2] > NS_TCP_MAX_WSCALE ? NS_TCP_MAX_WSCALE : p[i + 2];
			}
			break;
		case OPT_SACK_PERM:
			if (olen != 2)
				ok = false;
			else if (syn)
				o->sack_ok = true;
			break;
		case OPT_SACK:
			if (olen < 10 || (olen - 2) % 8 != 0 || olen > 34) {
				ok = false;
			} else if (!syn) {
				o->nsack = (uint8_t)((olen - 2) / 8);
				for (unsigned b = 0; b < o->nsack; b++) {
					o->sack[b].start = get32(p + i + 2 + 8 * b);
					o->sack[b].end = get32(p + i + 6 + 8 * b);
				}
			}
			break;
		case OPT_TS:
			if (olen != 10) {
				ok = false;
			} else {
				o->has_ts = true;
				o->tsval = get32(p + i + 2);
				o->tsecr = get32(p + i + 6);
			}
			break;
		default:
			break; /* unknown: skip by its length */
		}
		i += olen;
	}
	return ok;
}

/* Layout as Linux sends it, so middleboxes see the familiar shape: MSS,
 * SACK-permitted folded into the timestamp's NOPs, then window scale. */
unsigned tcp_opts_build_syn(uint8_t *buf, uint16_t mss, int wscale, bool sack_ok, bool ts,
			    uint32_t tsval, uint32_t tsecr)
{
	unsigned n = 0;

	buf[n++] = OPT_MSS;
	buf[n++] = 4;
	put16(buf + n, mss);
	n += 2;
	if (ts) {
		if (sack_ok) {
			buf[n++] = OPT_SACK_PERM;
			buf[n++] = 2;
		} else {
			buf[n++] = OPT_NOP;
			buf[n++] = OPT_NOP;
		}
		buf[n++] = OPT_TS;
		buf[n++] = 10;
		put32(buf + n, tsval);
		put32(buf + n + 4, tsecr);
		n += 8;
	} else if (sack_ok) {
		buf[n++] = OPT_NOP;
		buf[n++] = OPT_NOP;
		buf[n++] = OPT_SACK_PERM;
		buf[n++] = 2;
	}
	if (wscale >= 0) {
		buf[n++] = OPT_NOP;
		buf[n++] = OPT_WS;
		buf[n++] = 3;
		buf[n++] = (uint8_t)wscale;
	}
	return n;
}

unsigned tcp_opts_fixed_len(const struct ns_conn *c)
{
	return (c->flags & NS_TCPF_TS) ? 12 : 0;
}

unsigned tcp_opts_build(uint8_t *buf, const struct ns_conn *c, uint32_t tsval, unsigned max_sack)
{
	struct ns_tcp_blk blk[4];
	unsigned n = 0, nb = 0;

	if (c->flags & NS_TCPF_TS) {
		buf[n++] = OPT_NOP;
		buf[n++] = OPT_NOP;
		buf[n++] = OPT_TS;
		buf[n++] = 10;
		put32(buf + n, tsval);
		put32(buf + n + 4, c->ts_recent);
		n += 8;
	}
	if ((c->flags & NS_TCPF_SACK) && c->ooo_head != NULL && max_sack > 0) {
		/* 40 bytes of options: 3 blocks fit beside a timestamp, 4
		 * without (RFC 2018 §3). */
		unsigned room = (NS_TCP_OPT_MAX - n - 4) / 8;

		if (max_sack > room)
			max_sack = room;
		if (max_sack > 4)
			max_sack = 4;
		nb = tcp_rsack_blocks(c, blk, max_sack);
	}
	if (nb > 0) {
		buf[n++] = OPT_NOP;
		buf[n++] = OPT_NOP;
		buf[n++] = OPT_SACK;
		buf[n++] = (uint8_t)(2 + 8 * nb);
		for (unsigned i = 0; i < nb; i++) {
			put32(buf + n, blk[i].start);
			put32(buf + n + 4, blk[i].end);
			n += 8;
		}
	}
	return n;
}
