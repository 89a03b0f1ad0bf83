/* ns_tcp_isn - keyed hashes for TCP: SipHash-2-4, ISNs (RFC 6528),
 * timestamp offsets (RFC 7323 §5.4), ephemeral port offsets (RFC 6056
 * §3.3.3) and SYN cookies (RFC 4987 §3.6, encoded as Linux does). */
#include <string.h>
#include <sys/random.h>

#include "ns_tcp_private.h"

#define ROTL64(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

#define SIPROUND(v0, v1, v2, v3)                                                                 \
	do {                                                                                     \
		v0 += v1;                                                                        \
		v1 = ROTL64(v1, 13);                                                             \
		v1 ^= v0;                                                                        \
		v0 = ROTL64(v0, 32);                                                             \
		v2 += v3;                                                                        \
		v3 = ROTL64(v3, 16);                                                             \
		v3 ^= v2;                                                                        \
		v0 += v3;                                                                        \
		v3 = ROTL64(v3, 21);                                                             \
		v3 ^= v0;                                                                        \
		v2 += v1;                                                                        \
		v1 = ROTL64(v1, 17);                                                             \
		v1 ^= v2;                                                                        \
		v2 = ROTL64(v2, 32);                                                             \
	} while (0)

static uint64_t load_le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

/* ns_siphash24 - SipHash-2-4 (Aumasson & Bernstein) of DATA under KEY
 * (k0 = key[0], k1 = key[1], i.e. the 16 key bytes read little-endian). */
uint64_t ns_siphash24(const uint64_t key[2], const void *data, size_t len)
{
	const uint8_t *p = data;
	uint64_t v0 = 0x736f6d6570736575ULL ^ key[0];
	uint64_t v1 = 0x646f72616e646f6dULL ^ key[1];
	uint64_t v2 = 0x6c7967656e657261ULL ^ key[0];
	uint64_t v3 = 0x7465646279746573ULL ^ key[1];
	uint64_t b = (uint64_t)len << 56;
	size_t i;

	for (i = 0; i + 8 <= len; i += 8) {
		uint64_t m = load_le64(p + i);

		v3 ^= m;
		SIPROUND(v0, v1, v2, v3);
		SIPROUND(v0, v1, v2, v3);
		v0 ^= m;
	}
	for (size_t j = 0; i + j < len; j++)
		b |= (uint64_t)p[i + j] << (8 * j);
	v3 ^= b;
	SIPROUND(v0, v1, v2, v3);
	SIPROUND(v0, v1, v2, v3);
	v0 ^= b;
	v2 ^= 0xff;
	for (int r = 0; r < 4; r++)
		SIPROUND(v0, v1, v2, v3);
	return v0 ^ v1 ^ v2 ^ v3;
}

struct tuple_key {
	uint32_t lip, rip;
	uint16_t lport, rport;
	uint32_t extra;
};

static uint64_t tuple_hash(const uint64_t key[2], uint32_t lip, uint32_t rip, uint16_t lport,
			   uint16_t rport, uint32_t extra)
{
	struct tuple_key k;

	memset(&k, 0, sizeof(k));
	k.lip = lip;
	k.rip = rip;
	k.lport = lport;
	k.rport = rport;
	k.extra = extra;
	return ns_siphash24(key, &k, sizeof(k));
}

/* Sub-keys are derived from the one secret so that a test that fixes
 * isn_secret replays exactly, and so that learning one hash output tells
 * nothing about the others. */
void tcp_keys_init(struct ns_tcp *t, const uint64_t secret[2])
{
	uint64_t master[2] = {secret[0], secret[1]};
	static const char *const labels[] = {"isn", "cookie", "ts", "port", "hash"};
	uint64_t *dst[] = {t->isn_key, t->cookie_key, t->ts_key, t->port_key};

	if (master[0] == 0 && master[1] == 0) {
		/* RFC 6528 §3: the key must be unpredictable. getrandom()
		 * blocks only before the kernel pool is seeded at boot. */
		if (getrandom(master, sizeof(master), 0) != (ssize_t)sizeof(master)) {
			/* Degraded but never predictable from outside:
			 * mix the clock and addresses. */
			master[0] = sl_time_now_us() ^ (uint64_t)(uintptr_t)t;
			master[1] = ROTL64(master[0], 29) ^ 0x9e3779b97f4a7c15ULL;
		}
	}
	for (unsigned i = 0; i < 4; i++) {
		dst[i][0] = ns_siphash24(master, labels[i], strlen(labels[i]));
		dst[i][1] = ns_siphash24(master, labels[i], strlen(labels[i]) + 1);
	}
	t->hseed = (uint32_t)ns_siphash24(master, labels[4], strlen(labels[4]));
	t->eph_next = (uint32_t)(ns_siphash24(master, "eph", 3) & 0xffff);
}

/* RFC 6528 §3: ISN = M + F(localip, localport, remoteip, remoteport,
 * secretkey), M a 4-microsecond timer. */
uint32_t tcp_isn(struct ns_tcp *t, uint32_t lip, uint32_t rip, uint16_t lport, uint16_t rport)
{
	uint32_t m = (uint32_t)(t->s->now_us >> 2);

	return m + (uint32_t)tuple_hash(t->isn_key, lip, rip, lport, rport, 0);
}

/* RFC 7323 §5.4: a per-connection random offset hides the host clock; the
 * same 4-tuple gets the same offset, so timestamps stay monotonic across
 * incarnations, which RFC 6191 TIME_WAIT reuse depends on. */
uint32_t tcp_ts_offset(struct ns_tcp *t, uint32_t lip, uint32_t rip, uint16_t lport, uint16_t rport)
{
	return (uint32_t)tuple_hash(t->ts_key, lip, rip, lport, rport, 0);
}

/* RFC 6056 §3.3.3 (Algorithm 3): offset = F(local IP, remote IP, remote
 * port, secret). */
uint32_t tcp_port_offset(struct ns_tcp *t, uint32_t lip, uint32_t rip, uint16_t rport)
{
	return (uint32_t)tuple_hash(t->port_key, lip, rip, 0, rport, 0);
}

/* ---- SYN cookies ----
 *
 * The cookie is our ISN for a SYN we keep no state for:
 *   cookie = H(4-tuple, 0) + peer ISN + (count << 24)
 *            + ((H(4-tuple, count) + mss index) & 0xffffff)
 * where count is a minute counter. A returning ACK (ack - 1 = cookie,
 * seq - 1 = peer ISN) is valid if count is at most 2 minutes old and the
 * decoded index is in the table. Window scale and SACK-permitted ride in the
 * low 6 bits of our SYN-ACK TSval when the peer uses timestamps. */
#define COOKIE_BITS 24
#define COOKIE_MASK ((1u << COOKIE_BITS) - 1)
#define COOKIE_MAX_AGE 2
#define COOKIE_TS_BITS 6
#define COOKIE_TS_MASK ((1u << COOKIE_TS_BITS) - 1)
#define COOKIE_TS_WS_NONE 0xf
#define COOKIE_TS_SACK 0x10

static const uint16_t cookie_mss_tab[] = {536, 1300, 1440, 1460};
#define COOKIE_NMSS (sizeof(cookie_mss_tab) / sizeof(cookie_mss_tab[0]))

static uint32_t cookie_count(const struct ns_tcp *t)
{
	return (uint32_t)(t->s->now_us / (60 * SL_US_PER_S));
}

static uint32_t cookie_hash(struct ns_tcp *t, const struct ns_tcp_seg *seg, uint32_t count)
{
	return (uint32_t)tuple_hash(t->cookie_key, seg->daddr, seg->saddr, seg->dport, seg->sport,
				    count);
}

uint32_t tcp_cookie_make(struct ns_tcp *t, const struct ns_tcp_seg *seg, uint16_t mss,
			 uint32_t *mss_idx_r)
{
	uint32_t count = cookie_count(t), idx = 0;

	for (uint32_t i = 0; i < COOKIE_NMSS; i++)
		if (cookie_mss_tab[i] <= mss)
			idx = i;
	*mss_idx_r = idx;
	return cookie_hash(t, seg, 0) + seg->seq + (count << COOKIE_BITS) +
	       ((cookie_hash(t, seg, count) + idx) & COOKIE_MASK);
}

int tcp_cookie_check(struct ns_tcp *t, const struct ns_tcp_seg *seg, uint16_t *mss_r)
{
	uint32_t peer_isn = seg->seq - 1, cookie = seg->ack - 1;
	uint32_t count = cookie_count(t), diff, idx;

	cookie -= cookie_hash(t, seg, 0) + peer_isn;
	diff = (count - (cookie >> COOKIE_BITS)) & (0xffffffffu >> COOKIE_BITS);
	if (diff >= COOKIE_MAX_AGE)
		return SL_EINVAL;
	idx = (cookie - cookie_hash(t, seg, count - diff)) & COOKIE_MASK;
	if (idx >= COOKIE_NMSS)
		return SL_EINVAL;
	*mss_r = cookie_mss_tab[idx];
	return 0;
}

uint32_t tcp_cookie_ts_encode(uint32_t ts_now, int wscale, bool sack_ok)
{
	uint32_t bits = (wscale < 0 ? COOKIE_TS_WS_NONE : (uint32_t)wscale & 0xf) |
			(sack_ok ? COOKIE_TS_SACK : 0);
	uint32_t ts = (ts_now & ~COOKIE_TS_MASK) | bits;

	/* Never put our timestamp in the future. */
	if (SEQ_GT(ts, ts_now))
		ts -= 1u << COOKIE_TS_BITS;
	return ts;
}

void tcp_cookie_ts_decode(uint32_t tsecr, int *wscale_r, bool *sack_ok_r)
{
	uint32_t ws = tsecr & 0xf;

	*wscale_r = ws == COOKIE_TS_WS_NONE ? -1 : (int)(ws > NS_TCP_MAX_WSCALE ? NS_TCP_MAX_WSCALE : ws);
	*sack_ok_r = (tsecr & COOKIE_TS_SACK) != 0;
}
