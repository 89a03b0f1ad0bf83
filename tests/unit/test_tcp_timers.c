/* test_tcp_timers - everything TCP does on its own clock: retransmission
 * with backoff and giving up (RFC 6298), zero-window probes (RFC 9293
 * §3.8.6.1), keepalive (RFC 9293 §3.8.4), delayed ACKs (RFC 9293
 * §3.8.6.3), TIME_WAIT expiry, recycling beyond time_wait_max, and reuse
 * by a newer SYN (RFC 6191). Virtual time via ut_peer_advance. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "ns.h"
#include "sl_err.h"
#include "sl_time.h"
#include "ut_pkt.h"
#include "ut_wire.h"

#define MS SL_US_PER_MS
#define SEC SL_US_PER_S

/* RTT in ut_peer is zero, so every RTO starts at rto_min (200 ms). */

static void test_rto_backoff_then_give_up(void **state)
{
	ut_tfx_t f;
	ut_seg_t r;
	uint64_t last = 0, prev_gap = 0;
	unsigned n = 0;

	(void)state;
	ut_tfx_init(&f, NULL, NULL);
	ut_tfx_est_passive(&f);
	assert_int_equal(ns_conn_send(f.app.c, "MAIL FROM:<>\r\n", 14), 14);
	ut_tfx_flush(&f);
	r = ut_tfx_expect(&f, UT_ACK | UT_PSH);
	assert_int_equal(r.len, 14);
	ut_peer_advance(f.p, 199 * MS);
	ut_tfx_expect_none(&f);
	last = ut_peer_now(f.p);
	for (unsigned step = 0; step < 2000 && f.app.closed == 0; step++) {
		ut_peer_advance(f.p, 500 * MS);
		while (ut_peer_recv(f.p, &r)) {
			uint64_t gap = ut_peer_now(f.p) - last;

			assert_int_equal(r.seq, f.rcv);
			assert_int_equal(r.len, 14);
			/* Each interval doubles until rto_max (60 s). */
			if (prev_gap != 0 && prev_gap < 30 * SEC)
				assert_true(gap >= 2 * prev_gap - SEC && gap <= 2 * prev_gap + SEC);
			prev_gap = gap;
			last = ut_peer_now(f.p);
			n++;
		}
	}
	assert_int_equal(n, 15);
	assert_int_equal(f.app.closed, 1);
	assert_int_equal(f.app.reason, SL_ETIMEDOUT);
	assert_int_equal(ut_tfx_stats(&f).tcp_retransmits, 15);
	assert_int_equal(ut_tfx_stats(&f).tcp_rto_expired, 15);
	ut_tfx_fini(&f);
}

/* An ACK of new data resets the backoff (RFC 6298 §5.3, §5.7). */
static void test_rto_retransmits_then_recovers(void **state)
{
	ut_tfx_t f;
	ut_seg_t r;
	ns_conn_info_t info;

	(void)state;
	ut_tfx_init(&f, NULL, NULL);
	ut_tfx_est_passive(&f);
	assert_int_equal(ns_conn_send(f.app.c, "abc", 3), 3);
	ut_tfx_flush(&f);
	ut_tfx_expect(&f, UT_ACK | UT_PSH);
	ut_peer_advance(f.p, 201 * MS);
	r = ut_tfx_expect(&f, UT_ACK | UT_PSH);
	assert_int_equal(r.seq, f.rcv);
	ut_peer_advance(f.p, 401 * MS);
	ut_tfx_expect(&f, UT_ACK | UT_PSH);
	assert_true(ut_tfx_info(&f, f.pport, &info));
	assert_true(info.rto_us >= 800 * MS);
	assert_int_equal(info.cwnd, info.mss); /* the loss window */
	f.rcv += 3;
	ut_tfx_send_flags(&f, UT_ACK);
	assert_true(ut_tfx_info(&f, f.pport, &info));
	assert_true(info.rto_us < 800 * MS);
	ut_peer_advance(f.p, 2 * SEC);
	ut_tfx_expect_none(&f);
	ns_conn_abort(f.app.c);
	ut_tfx_fini(&f);
}

static void test_zero_window_probe(void **state)
{
	ut_tfx_t f;
	ut_seg_t g, r;

	(void)state;
	ut_tfx_init(&f, NULL, NULL);
	ut_tfx_est_passive(&f);
	g = ut_tfx_seg(&f, UT_ACK);
	g.wnd = 0;
	ut_tfx_send(&f, &g);
	assert_int_equal(ns_conn_send(f.app.c, "hello", 5), 5);
	ut_tfx_flush(&f);
	ut_tfx_expect_none(&f);
	ut_peer_advance(f.p, 190 * MS);
	ut_tfx_expect_none(&f);
	ut_peer_advance(f.p, 20 * MS);
	/* The probe: an old sequence number, no data, forces an ACK. */
	r = ut_tfx_expect(&f, UT_ACK);
	assert_int_equal(r.seq, f.rcv - 1);
	assert_int_equal(r.len, 0);
	assert_int_equal(ut_tfx_stats(&f).tcp_zero_window_probes, 1);
	ut_tfx_send(&f, &g); /* still closed */
	/* The first probe went at 200 ms; the next waits twice as long. */
	ut_peer_advance(f.p, 370 * MS);
	ut_tfx_expect_none(&f);
	ut_peer_advance(f.p, 40 * MS);
	ut_tfx_expect(&f, UT_ACK);
	assert_int_equal(ut_tfx_stats(&f).tcp_zero_window_probes, 2);
	/* Probes continue while the peer answers: never a timeout. */
	for (int i = 0; i < 20; i++) {
		ut_peer_advance(f.p, 61 * SEC);
		assert_true(ut_peer_pending(f.p) >= 1);
		ut_peer_drain(f.p);
		ut_tfx_send(&f, &g);
	}
	assert_int_equal(f.app.closed, 0);
	/* The window opens: the data goes. */
	g.wnd = 100;
	ut_tfx_send(&f, &g);
	r = ut_tfx_expect(&f, UT_ACK | UT_PSH);
	assert_int_equal(r.seq, f.rcv);
	assert_int_equal(r.len, 5);
	assert_memory_equal(r.data, "hello", 5);
	ns_conn_abort(f.app.c);
	ut_tfx_fini(&f);
}

/* A FIN waits for the window like data does. */
static void test_fin_waits_for_window(void **state)
{
	ut_tfx_t f;
	ut_seg_t g, r;

	(void)state;
	ut_tfx_init(&f, NULL, NULL);
	ut_tfx_est_passive(&f);
	g = ut_tfx_seg(&f, UT_ACK);
	g.wnd = 0;
	ut_tfx_send(&f, &g);
	assert_int_equal(ns_conn_shutdown(f.app.c), 0);
	ut_tfx_flush(&f);
	ut_tfx_expect_none(&f);
	assert_string_equal(ut_tfx_state(&f), "FIN_WAIT_1");
	ut_peer_advance(f.p, 210 * MS);
	r = ut_tfx_expect(&f, UT_ACK); /* a probe, not the FIN */
	assert_int_equal(r.seq, f.rcv - 1);
	g.wnd = 10;
	ut_tfx_send(&f, &g);
	r = ut_tfx_expect(&f, UT_FIN | UT_ACK);
	assert_int_equal(r.seq, f.rcv);
	ns_conn_abort(f.app.c);
	ut_tfx_fini(&f);
}

static void keepalive_fast(ns_stack_params_t *p, void *arg)
{
	(void)arg;
	p->keepalive_idle_us = 10 * SEC;
	p->keepalive_intvl_us = 1 * SEC;
	p->keepalive_probes = 3;
}

static void test_keepalive(void **state)
{
	ut_tfx_t f;
	ut_seg_t r;

	(void)state;
	ut_tfx_init(&f, keepalive_fast, NULL);
	ut_tfx_est_passive(&f);
	ut_peer_advance(f.p, 9900 * MS);
	ut_tfx_expect_none(&f);
	ut_peer_advance(f.p, 200 * MS);
	r = ut_tfx_expect(&f, UT_ACK);
	assert_int_equal(r.seq, f.rcv - 1);
	assert_int_equal(r.len, 0);
	/* The peer answers: idle again for a full period. */
	ut_tfx_send_flags(&f, UT_ACK);
	ut_peer_advance(f.p, 9 * SEC);
	ut_tfx_expect_none(&f);
	/* Now it is gone: three probes a second apart, then a reset. */
	ut_peer_advance(f.p, 1100 * MS);
	ut_tfx_expect(&f, UT_ACK);
	ut_peer_advance(f.p, 1 * SEC);
	ut_tfx_expect(&f, UT_ACK);
	ut_peer_advance(f.p, 1 * SEC);
	ut_tfx_expect(&f, UT_ACK);
	assert_int_equal(f.app.closed, 0);
	ut_peer_advance(f.p, 1 * SEC);
	r = ut_tfx_expect(&f, UT_RST);
	assert_int_equal(r.seq, f.rcv);
	assert_int_equal(f.app.closed, 1);
	assert_int_equal(f.app.reason, SL_ETIMEDOUT);
	assert_int_equal(ut_tfx_stats(&f).tcp_keepalive_timeouts, 1);
	ut_tfx_fini(&f);
}

static void big_rcvbuf_off(ns_stack_params_t *p, void *arg)
{
	(void)arg;
	p->rcvbuf = 65535; /* the SYN-ACK window is the whole buffer */
}

static void test_delayed_ack(void **state)
{
	static uint8_t full[1448];
	ut_tfx_t f;
	ut_seg_t r, g;

	(void)state;
	ut_tfx_init(&f, big_rcvbuf_off, NULL);
	ut_tfx_est_passive(&f);
	ut_tfx_send_data(&f, "NOOP\r\n", 6);
	ut_tfx_expect_none(&f);
	ut_peer_advance(f.p, 38 * MS);
	ut_tfx_expect_none(&f);
	ut_peer_advance(f.p, 3 * MS);
	r = ut_tfx_expect(&f, UT_ACK);
	assert_int_equal(r.ack, f.snd);
	/* Every second full-sized segment is ACKed at once. */
	ut_tfx_send_data(&f, full, sizeof(full));
	ut_tfx_expect_none(&f);
	ut_tfx_send_data(&f, full, sizeof(full));
	r = ut_tfx_expect(&f, UT_ACK);
	assert_int_equal(r.ack, f.snd);
	/* Out of order: at once, with a SACK block. */
	g = ut_tfx_seg(&f, UT_ACK);
	g.seq = f.snd + 1000;
	g.data = full;
	g.len = 100;
	ut_tfx_send(&f, &g);
	r = ut_tfx_expect(&f, UT_ACK);
	assert_int_equal(r.ack, f.snd);
	assert_int_equal(r.nsack, 1);
	assert_int_equal(r.sack[0][0], f.snd + 1000);
	assert_int_equal(r.sack[0][1], f.snd + 1100);
	/* A reply from the app carries the ACK: nothing else is sent. */
	ut_tfx_send_data(&f, "RSET\r\n", 6);
	ut_tfx_expect(&f, UT_ACK); /* it fills the front of nothing: still a hole */
	ns_conn_abort(f.app.c);
	ut_tfx_fini(&f);
}

/* The reply to a request carries the ACK; no separate ACK follows. */
static void test_ack_piggybacks_on_reply(void **state)
{
	ut_tfx_t f;
	ut_seg_t r;

	(void)state;
	ut_tfx_init(&f, big_rcvbuf_off, NULL);
	ut_tfx_est_passive(&f);
	ut_tfx_send_data(&f, "HELO a\r\n", 8);
	assert_int_equal(ns_conn_send(f.app.c, "250 ok\r\n", 8), 8);
	ut_tfx_flush(&f);
	r = ut_tfx_expect(&f, UT_ACK | UT_PSH);
	assert_int_equal(r.ack, f.snd);
	assert_int_equal(r.len, 8);
	ut_peer_advance(f.p, 100 * MS);
	ut_tfx_expect_none(&f);
	ns_conn_abort(f.app.c);
	ut_tfx_fini(&f);
}

/* ---- TIME_WAIT ---- */

/* A connection from peer port PPORT, closed by us, ending in TIME_WAIT. */
static void to_time_wait(ut_tfx_t *f, uint16_t pport)
{
	ut_seg_t g, r;

	f->pport = pport;
	f->snd = UT_TFX_PISS;
	g = ut_tfx_syn(f);
	ut_tfx_send(f, &g);
	r = ut_tfx_expect(f, UT_SYN | UT_ACK);
	f->rcv = r.seq + 1;
	f->snd = UT_TFX_PISS + 1;
	f->tsval++;
	ut_tfx_send_flags(f, UT_ACK);
	assert_string_equal(ut_tfx_state(f), "ESTABLISHED");
	ns_conn_close(f->app.c);
	f->app.c = NULL;
	ut_tfx_flush(f);
	r = ut_tfx_expect(f, UT_FIN | UT_ACK);
	f->rcv = r.seq + 1;
	f->tsval++;
	ut_tfx_send_flags(f, UT_FIN | UT_ACK);
	f->snd++;
	ut_tfx_expect(f, UT_ACK);
	assert_string_equal(ut_tfx_state(f), "TIME_WAIT");
}

static void tw_max_2(ns_stack_params_t *p, void *arg)
{
	(void)arg;
	p->time_wait_max = 2;
}

static void test_time_wait_recycled_beyond_max(void **state)
{
	ut_tfx_t f;
	ns_stats_t st;

	(void)state;
	ut_tfx_init(&f, tw_max_2, NULL);
	ut_tfx_listen(&f);
	to_time_wait(&f, 40000);
	to_time_wait(&f, 40001);
	st = ut_tfx_stats(&f);
	assert_int_equal(st.tcp_time_wait_current, 2);
	assert_int_equal(st.tcp_time_wait_recycled, 0);
	to_time_wait(&f, 40002);
	st = ut_tfx_stats(&f);
	assert_int_equal(st.tcp_time_wait_current, 2);
	assert_int_equal(st.tcp_time_wait_recycled, 1);
	assert_int_equal(st.tcp_conns_current, 0);
	assert_string_equal(ut_tfx_state_of(&f, 40000), "NONE");
	assert_string_equal(ut_tfx_state_of(&f, 40001), "TIME_WAIT");
	assert_string_equal(ut_tfx_state_of(&f, 40002), "TIME_WAIT");
	ut_peer_advance(f.p, 61 * SEC);
	st = ut_tfx_stats(&f);
	assert_int_equal(st.tcp_time_wait_current, 0);
	ut_tfx_fini(&f);
}

/* RFC 6191: a SYN with a newer timestamp may reuse a TIME_WAIT 4-tuple;
 * an older one only gets the TIME_WAIT ACK. */
static void test_time_wait_reuse_by_newer_syn(void **state)
{
	ut_tfx_t f;
	ut_seg_t g, r;
	uint32_t rcv_nxt;

	(void)state;
	ut_tfx_init(&f, NULL, NULL);
	ut_tfx_listen(&f);
	to_time_wait(&f, 40000);
	rcv_nxt = f.snd;
	f.snd = UT_TFX_PISS + 100000;
	g = ut_tfx_syn(&f);
	g.tsval = f.tsval - 5; /* older */
	ut_tfx_send(&f, &g);
	r = ut_tfx_expect(&f, UT_ACK);
	assert_int_equal(r.ack, rcv_nxt);
	assert_string_equal(ut_tfx_state(&f), "TIME_WAIT");
	g.tsval = f.tsval + 1000; /* newer */
	ut_tfx_send(&f, &g);
	r = ut_tfx_expect(&f, UT_SYN | UT_ACK);
	assert_int_equal(r.ack, UT_TFX_PISS + 100001);
	assert_string_equal(ut_tfx_state(&f), "SYN_RCVD");
	assert_int_equal(ut_tfx_stats(&f).tcp_time_wait_current, 0);
	ut_tfx_fini(&f);
}

static void test_time_wait_reuse_without_timestamps(void **state)
{
	ut_tfx_t f;
	ut_seg_t g, r;
	uint32_t rcv_nxt;

	(void)state;
	ut_tfx_init(&f, NULL, NULL);
	f.ts = false;
	ut_tfx_listen(&f);
	to_time_wait(&f, 40000);
	rcv_nxt = f.snd;
	/* RFC 1122 4.2.2.13: only a SYN above the old sequence space. */
	f.snd = rcv_nxt - 10;
	g = ut_tfx_syn(&f);
	ut_tfx_send(&f, &g);
	ut_tfx_expect(&f, UT_ACK);
	assert_string_equal(ut_tfx_state(&f), "TIME_WAIT");
	f.snd = rcv_nxt + 1000000;
	g = ut_tfx_syn(&f);
	ut_tfx_send(&f, &g);
	r = ut_tfx_expect(&f, UT_SYN | UT_ACK);
	assert_int_equal(r.ack, rcv_nxt + 1000001);
	ut_tfx_fini(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rto_backoff_then_give_up),
		cmocka_unit_test(test_rto_retransmits_then_recovers),
		cmocka_unit_test(test_zero_window_probe),
		cmocka_unit_test(test_fin_waits_for_window),
		cmocka_unit_test(test_keepalive),
		cmocka_unit_test(test_delayed_ack),
		cmocka_unit_test(test_ack_piggybacks_on_reply),
		cmocka_unit_test(test_time_wait_recycled_beyond_max),
		cmocka_unit_test(test_time_wait_reuse_by_newer_syn),
		cmocka_unit_test(test_time_wait_reuse_without_timestamps),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
