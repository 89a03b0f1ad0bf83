/* test_tcp_opts - option parsing and building (well-formed and hostile),
 * SipHash-2-4 against the reference vectors, ISN properties (RFC 6528),
 * and the SYN cookie encoding. White-box: uses ns_tcp_private.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <rte_mempool.h>

#include "ns_tcp_private.h"
#include "ut_eal.h"
#include "ut_pkt.h"
#include "ut_wire.h"

/* ---- SipHash ---- */

static void test_siphash_reference_vectors(void **state)
{
	/* Aumasson & Bernstein's vectors: key 00..0f, message 00..(n-1). */
	static const struct {
		size_t n;
		uint64_t h;
	} v[] = {
		{0, 0x726fdb47dd0e0e31ULL}, {1, 0x74f839c593dc67fdULL}, {2, 0x0d6c8009d9a94f5aULL},
		{7, 0xab0200f58b01d137ULL}, {8, 0x93f5f5799a932462ULL}, {15, 0xa129ca6149be45e5ULL},
		{63, 0x958a324ceb064572ULL},
	};
	uint8_t kb[16], msg[64];
	uint64_t key[2] = {0, 0};

	(void)state;
	for (int i = 0; i < 16; i++)
		kb[i] = (uint8_t)i;
	for (int i = 0; i < 64; i++)
		msg[i] = (uint8_t)i;
	for (int i = 7; i >= 0; i--) {
		key[0] = (key[0] << 8) | kb[i];
		key[1] = (key[1] << 8) | kb[8 + i];
	}
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		assert_true(ns_siphash24(key, msg, v[i].n) == v[i].h);
}

/* ---- Option parsing ---- */

struct opt_case {
	const char *name;
	uint8_t bytes[40];
	unsigned len;
	bool syn;
	bool ok;
	/* expected */
	bool mss, ws, sack_ok, ts;
	uint16_t mss_v;
	uint8_t ws_v;
	uint8_t nsack;
};

static const struct opt_case opt_cases[] = {
	{"linux syn", {2, 4, 5, 180, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7}, 20, true, true,
	 true, true, true, true, 1460, 7, 0},
	{"nops and eol", {1, 1, 1, 0, 2, 4}, 6, true, true},
	{"kind at the end, no length", {1, 1, 1, 2}, 4, true, false},
	{"length zero", {8, 0, 1, 1}, 4, true, false},
	{"length one", {3, 1, 7, 1}, 4, true, false},
	{"length past the end", {8, 10, 1, 2, 3}, 5, true, false},
	{"mss with wrong length, then ws", {2, 3, 5, 1, 3, 3, 2}, 7, true, false, false, true, false,
	 false, 0, 2, 0},
	{"window scale above 14 is 14", {1, 3, 3, 20}, 4, true, true, false, true, false, false, 0, 14,
	 0},
	{"mss outside a syn is ignored", {2, 4, 1, 0}, 4, false, true},
	{"sack-permitted outside a syn is ignored", {4, 2, 1, 1}, 4, false, true},
	{"one sack block", {1, 1, 5, 10, 0, 0, 0, 1, 0, 0, 0, 2}, 12, false, true, false, false, false,
	 false, 0, 0, 1},
	{"four sack blocks",
	 {5, 34, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 5, 0, 0, 0, 6, 0, 0, 0, 7, 0,
	  0, 0, 8},
	 34, false, true, false, false, false, false, 0, 0, 4},
	{"sack length not 2 + 8n", {5, 12, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0}, 12, false, false},
	{"sack in a syn is ignored", {5, 10, 0, 0, 0, 1, 0, 0, 0, 2}, 10, true, true},
	{"timestamp with wrong length", {8, 8, 0, 0, 0, 1, 0, 0}, 8, false, false},
	{"unknown kind is skipped", {30, 4, 9, 9, 8, 10, 0, 0, 0, 5, 0, 0, 0, 6}, 14, false, true,
	 false, false, false, true},
	{"forty nops",
	 {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	  1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
	 40, true, true},
	{"eol then garbage", {0, 2, 0, 0xff}, 4, true, true},
	{"empty", {0}, 0, true, true},
};

static void test_options_parse_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(opt_cases) / sizeof(opt_cases[0]); i++) {
		const struct opt_case *k = &opt_cases[i];
		struct ns_tcp_opts o;
		bool ok = tcp_opts_parse(k->bytes, k->len, k->syn, &o);

		if (ok != k->ok || o.has_mss != k->mss || o.has_ws != k->ws ||
		    o.sack_ok != k->sack_ok || o.has_ts != k->ts || o.nsack != k->nsack)
			fail_msg("%s: ok %d mss %d ws %d sack_ok %d ts %d nsack %u", k->name, ok,
				 o.has_mss, o.has_ws, o.sack_ok, o.has_ts, o.nsack);
		if (k->mss)
			assert_int_equal(o.mss, k->mss_v);
		if (k->ws)
			assert_int_equal(o.wscale, k->ws_v);
	}
}

static void test_options_build_roundtrip(void **state)
{
	uint8_t buf[40];
	struct ns_tcp_opts o;

	(void)state;
	for (int ws = -1; ws <= 14; ws += 5) {
		for (int sack = 0; sack < 2; sack++) {
			for (int ts = 0; ts < 2; ts++) {
				unsigned n = tcp_opts_build_syn(buf, 1400, ws, sack, ts, 123, 456);

				assert_true(n <= 40 && n % 4 == 0);
				assert_true(tcp_opts_parse(buf, n, true, &o));
				assert_true(o.has_mss && o.mss == 1400);
				assert_int_equal(o.has_ws, ws >= 0);
				if (ws >= 0)
					assert_int_equal(o.wscale, ws);
				assert_int_equal(o.sack_ok, sack);
				assert_int_equal(o.has_ts, ts);
				if (ts)
					assert_true(o.tsval == 123 && o.tsecr == 456);
			}
		}
	}
}

/* Hostile options on the wire: counted, never fatal; the handshake still
 * happens with whatever parsed. Then random junk, in every state we can
 * reach cheaply, under ASan in the sanitizer build. */
static void test_malformed_options_on_the_wire(void **state)
{
	ut_tfx_t f;
	ut_seg_t g;
	uint64_t x = 0x1234567;

	(void)state;
	ut_tfx_init(&f, NULL, NULL);
	ut_tfx_listen(&f);
	for (size_t i = 0; i < sizeof(opt_cases) / sizeof(opt_cases[0]); i++) {
		const struct opt_case *k = &opt_cases[i];
		uint8_t raw[40];
		unsigned n = (k->len + 3) / 4 * 4;

		memset(raw, 0, sizeof(raw));
		memcpy(raw, k->bytes, k->len);
		f.pport = (uint16_t)(41000 + i);
		f.snd = 5000;
		g = ut_tfx_seg(&f, UT_SYN);
		g.raw_opts = raw;
		g.raw_optlen = (uint8_t)n;
		ut_tfx_send(&f, &g);
		ut_tfx_expect(&f, UT_SYN | UT_ACK);
	}
	assert_true(ut_tfx_stats(&f).tcp_rx_bad_options >= 5);
	ut_tfx_fini(&f);

	ut_tfx_init(&f, NULL, NULL);
	ut_tfx_est_passive(&f);
	for (int i = 0; i < 3000; i++) {
		uint8_t raw[40];
		unsigned n;
		static const uint8_t flag_set[] = {UT_SYN, UT_ACK, UT_ACK | UT_PSH, UT_RST,
						   UT_FIN | UT_ACK, UT_SYN | UT_ACK};

		for (int b = 0; b < 40; b++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			raw[b] = (uint8_t)x;
			/* Bias towards known kinds to reach deep branches. */
			if ((x >> 20) % 4 == 0)
				raw[b] = (uint8_t)((x >> 30) % 9);
		}
		n = (unsigned)((x >> 40) % 11) * 4;
		f.pport = (uint16_t)((x >> 50) % 3 == 0 ? 42000 + (x >> 8) % 50 : UT_TFX_PPORT);
		g = ut_tfx_seg(&f, flag_set[(x >> 33) % sizeof(flag_set)]);
		g.seq = f.snd + (uint32_t)((x >> 12) % 3000) - 1500;
		g.raw_opts = raw;
		g.raw_optlen = (uint8_t)n;
		g.data = raw;
		g.len = (uint16_t)((x >> 24) % 2 ? (x >> 27) % 40 : 0);
		ut_tfx_send(&f, &g);
		ut_peer_drain(f.p);
		if ((x >> 35) % 64 == 0)
			ut_peer_advance(f.p, 300 * SL_US_PER_MS);
	}
	f.pport = UT_TFX_PPORT;
	if (f.app.c != NULL)
		ns_conn_abort(f.app.c);
	ut_peer_drain(f.p);
	ut_tfx_fini(&f);
}

/* ---- ISNs (RFC 6528) ---- */

static ns_stack_t *stack_with_secret(uint64_t a, uint64_t b, ut_cap_t *cap)
{
	ns_stack_params_t p;
	const char *err = NULL;
	ns_stack_t *s;

	ut_params(&p, cap);
	p.isn_secret[0] = a;
	p.isn_secret[1] = b;
	s = ns_stack_create(&p, &err);
	assert_non_null(s);
	return s;
}

static void test_isn_properties(void **state)
{
	ut_cap_t cap = {0};
	ns_stack_t *s1 = stack_with_secret(1, 2, &cap), *s2 = stack_with_secret(1, 2, &cap);
	ns_stack_t *s3 = stack_with_secret(3, 4, &cap), *r1 = stack_with_secret(0, 0, &cap);
	ns_stack_t *r2 = stack_with_secret(0, 0, &cap);
	static uint32_t seen[1000];
	uint32_t a, b;
	unsigned bits = 0;

	(void)state;
	/* M: the ISN advances with a 4 us clock for a given 4-tuple. */
	a = tcp_isn(s1->tcp, ut_ip_us, ut_ip_peer, 25, 40000);
	ns_stack_poll(s1, UT_T0 + SL_US_PER_S);
	b = tcp_isn(s1->tcp, ut_ip_us, ut_ip_peer, 25, 40000);
	assert_int_equal(b - a, 250000);
	/* F: per 4-tuple, unpredictable across tuples. */
	for (unsigned i = 0; i < 1000; i++) {
		seen[i] = tcp_isn(s1->tcp, ut_ip_us, ut_ip_peer, 25, (uint16_t)(30000 + i));
		for (unsigned k = 0; k < i; k++)
			assert_int_not_equal(seen[k], seen[i]);
		if (i > 0)
			bits += (unsigned)__builtin_popcount(seen[i] ^ seen[i - 1]);
	}
	assert_true(bits / 999 >= 12 && bits / 999 <= 20); /* ~16 bits flip */
	/* The secret decides: same secret, same ISN; other secret, other. */
	ns_stack_poll(s2, UT_T0 + SL_US_PER_S);
	ns_stack_poll(s3, UT_T0 + SL_US_PER_S);
	assert_int_equal(tcp_isn(s2->tcp, ut_ip_us, ut_ip_peer, 25, 40000), b);
	assert_int_not_equal(tcp_isn(s3->tcp, ut_ip_us, ut_ip_peer, 25, 40000), b);
	/* An all-zero secret means a random one. */
	assert_int_not_equal(tcp_isn(r1->tcp, ut_ip_us, ut_ip_peer, 25, 40000),
			     tcp_isn(r2->tcp, ut_ip_us, ut_ip_peer, 25, 40000));
	ns_stack_destroy(&s1);
	ns_stack_destroy(&s2);
	ns_stack_destroy(&s3);
	ns_stack_destroy(&r1);
	ns_stack_destroy(&r2);
	ut_cap_clear(&cap);
}

/* ---- SYN cookies ---- */

static void test_syn_cookie_encoding(void **state)
{
	ut_cap_t cap = {0};
	ns_stack_t *s = stack_with_secret(7, 8, &cap);
	struct ns_tcp *t = s->tcp;
	static const uint16_t mss_in[] = {536, 1000, 1300, 1400, 1440, 1460, 9000};
	static const uint16_t mss_out[] = {536, 536, 1300, 1300, 1440, 1460, 1460};

	(void)state;
	for (size_t i = 0; i < sizeof(mss_in) / sizeof(mss_in[0]); i++) {
		struct ns_tcp_seg syn = {.saddr = ut_ip_peer, .daddr = ut_ip_us, .sport = 40000,
					 .dport = 25, .seq = 123456789};
		struct ns_tcp_seg ack = syn;
		uint32_t idx, cookie = tcp_cookie_make(t, &syn, mss_in[i], &idx);
		uint16_t mss = 0;

		ack.seq = syn.seq + 1;
		ack.ack = cookie + 1;
		assert_int_equal(tcp_cookie_check(t, &ack, &mss), 0);
		assert_int_equal(mss, mss_out[i]);
		/* Another peer ISN, another port, a changed cookie: refused.
		 * (The ISN enters additively, as in Linux: a neighbour of a
		 * cookie one has seen may decode; blind guesses do not.) */
		ack.seq += 1000000;
		assert_int_equal(tcp_cookie_check(t, &ack, &mss), SL_EINVAL);
		ack.seq -= 1000000;
		ack.sport++;
		assert_int_equal(tcp_cookie_check(t, &ack, &mss), SL_EINVAL);
		ack.sport--;
		ack.ack ^= 0x100;
		assert_int_equal(tcp_cookie_check(t, &ack, &mss), SL_EINVAL);
		ack.ack ^= 0x100;
		/* Good for a minute or two, not longer. */
		ns_stack_poll(s, s->now_us + 60 * SL_US_PER_S);
		assert_int_equal(tcp_cookie_check(t, &ack, &mss), 0);
		ns_stack_poll(s, s->now_us + 120 * SL_US_PER_S);
		assert_int_equal(tcp_cookie_check(t, &ack, &mss), SL_EINVAL);
	}
	/* Blind guesses essentially never pass (2 of 256 minutes, 4 of 2^24
	 * values). */
	{
		struct ns_tcp_seg g = {.saddr = ut_ip_peer, .daddr = ut_ip_us, .sport = 40000,
				       .dport = 25};
		uint64_t x = 99;
		unsigned ok = 0;
		uint16_t mss;

		for (int i = 0; i < 200000; i++) {
			x = x * 6364136223846793005ULL + 1442695040888963407ULL;
			g.seq = (uint32_t)(x >> 32);
			g.ack = (uint32_t)x;
			ok += tcp_cookie_check(t, &g, &mss) == 0;
		}
		assert_true(ok <= 1);
	}
	for (int ws = -1; ws <= 14; ws++) {
		for (int sack = 0; sack < 2; sack++) {
			uint32_t now = 1000000 + (uint32_t)ws * 77;
			uint32_t ts = tcp_cookie_ts_encode(now, ws, sack);
			int ws2;
			bool sack2;

			assert_true(SEQ_LEQ(ts, now) && now - ts < 128);
			tcp_cookie_ts_decode(ts, &ws2, &sack2);
			assert_int_equal(ws2, ws);
			assert_int_equal(sack2, sack);
		}
	}
	ns_stack_destroy(&s);
	ut_cap_clear(&cap);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_siphash_reference_vectors),
		cmocka_unit_test(test_options_parse_table),
		cmocka_unit_test(test_options_build_roundtrip),
		cmocka_unit_test(test_malformed_options_on_the_wire),
		cmocka_unit_test(test_isn_properties),
		cmocka_unit_test(test_syn_cookie_encoding),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
