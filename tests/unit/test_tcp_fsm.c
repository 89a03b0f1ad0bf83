/* test_tcp_fsm - the TCP state machine against a scripted peer: handshakes
 * (passive, active, simultaneous), closes (active, passive, simultaneous,
 * half-close), RST in every state, RFC 5961 challenge ACKs and their
 * limit, window checks, PAWS, SYN cookies, TIME_WAIT (recycling, RFC 6191
 * reuse), ports without listener, checksums.
 *
 * Each test reads as a transcript: the peer sends a segment (ut_peer_send),
 * then the test asserts what the stack answered (expect) and what the app
 * saw. The stack is ut_ip_us, the scripted peer ut_ip_peer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "ns.h"
#include "sl_err.h"
#include "sl_time.h"
#include "ut_eal.h"
#include "ut_pkt.h"
#include "ut_wire.h"

/* ---- Handshakes ---- */

static void test_passive_open_negotiates_options(void **state)
{
	ut_tfx_t f;
	ut_seg_t g, r;

	(void)state;
	ut_tfx_init(&f, NULL, NULL);
	ut_tfx_listen(&f);
	f.snd = UT_TFX_PISS;
	g = ut_tfx_syn(&f);
	ut_tfx_send(&f, &g);
	r = ut_tfx_expect(&f, UT_SYN | UT_ACK);
	assert_int_equal(r.ack, UT_TFX_PISS + 1);
	assert_true(r.has_mss && r.mss == 1460);
	assert_true(r.has_ws);
	assert_true(r.sack_ok);
	assert_true(r.has_ts && r.tsecr == g.tsval);
	assert_int_equal(f.app.accepted, 0);
	assert_string_equal(ut_tfx_state(&f), "SYN_RCVD");
	/* A retransmitted SYN gets the same SYN-ACK again. */
	ut_tfx_send(&f, &g);
	g = ut_tfx_expect(&f, UT_SYN | UT_ACK);
	assert_int_equal(g.seq, r.seq);
	/* An ACK that does not ack our SYN is answered with a RST. */
	f.snd = UT_TFX_PISS + 1;
	f.rcv = r.seq + 7;
	ut_tfx_send_flags(&f, UT_ACK);
	g = ut_tfx_expect(&f, UT_RST);
	assert_int_equal(g.seq, r.seq + 7);
	/* The right one completes the handshake. */
	f.rcv = r.seq + 1;
	ut_tfx_send_flags(&f, UT_ACK);
	assert_int_equal(f.app.accepted, 1);
	assert_string_equal(ut_tfx_state(&f), "ESTABLISHED");
	assert_int_equal(ut_tfx_stats(&f).tcp_passive_opens, 1);
	{
		/* Its window is scaled by the peer's shift (7); the MSS leaves
		 * room for the timestamp option (RFC 6691). */
		ns_conn_info_t info;

		assert_true(ut_tfx_info(&f, f.pport, &info));
		assert_int_equal(info.snd_wnd, 65535u << 7);
		assert_int_equal(info.mss, 1460 - 12);
		assert_int_equal(info.cwnd, 10 * (1460 - 12)); /* RFC 6928 */
	}
	ut_tfx_fini(&f);
}

static void test_passive_open_without_options(void **state)
{
	ut_tfx_t f;
	ut_seg_t g, r;

	(void)state;
	ut_tfx_init(&f, NULL, NULL);
	f.ts = false;
	ut_tfx_listen(&f);
	f.snd = UT_TFX_PISS;
	g = ut_tfx_seg(&f, UT_SYN);
	ut_tfx_send(&f, &g);
	r = ut_tfx_expect(&f, UT_SYN | UT_ACK);
	/* Only MSS: nothing the peer did not offer (RFC 7323 §2.2, RFC 2018). */
	assert_true(r.has_mss);
	assert_false(r.has_ws || r.sack_ok || r.has_ts);
	assert_true(r.wnd <= 65535);
	ut_tfx_fini(&f);
}

static void test_active_open(void **state)
{
	ut_tfx_t f;
	ut_seg_t r;
	ns_conn_info_t info;

	(void)state;
	ut_tfx_init(&f, NULL, NULL);
	ut_tfx_est_active(&f, false);
	/* Our SYN offers everything the stack enables. */
	assert_int_equal(ut_peer_pending(f.p), 0);
	assert_string_equal(ut_tfx_state(&f), "SYN_SENT");
	/* Data queued before ESTABLISHED goes once the handshake is done. */
	assert_int_equal(ns_conn_send(f.app.c, "HELO\r\n", 6), 6);
	f.snd = UT_TFX_PISS;
	{
		ut_seg_t g = ut_tfx_syn(&f);

		g.flags = UT_SYN | UT_ACK;
		g.ack = f.rcv;
		g.tsecr = f.ts_echo;
		ut_tfx_send(&f, &g);
	}
	f.snd = UT_TFX_PISS + 1;
	r = ut_tfx_expect(&f, UT_ACK | UT_PSH);
	assert_int_equal(r.seq, f.rcv);
	assert_int_equal(r.ack, UT_TFX_PISS + 1);
	assert_int_equal(r.len, 6);
	assert_memory_equal(r.data, "HELO\r\n", 6);
	assert_int_equal(f.app.connected, 1);
	ns_conn_get_info(f.app.c, &info);
	assert_string_equal(info.state, "ESTABLISHED");
	assert_int_equal(info.remote_port, UT_TFX_PORT);
	assert_int_equal(ut_tfx_stats(&f).tcp_active_opens, 1);
	ns_conn_abort(f.app.c);
	ut_tfx_fini(&f);
}

static void test_active_open_syn_options(void **state)
{
	ut_tfx_t f;
	ut_seg_t r;

	(void)state;
	ut_tfx_init(&f, NULL, NULL);
	assert_int_equal(ns_tcp_connect(ut_tfx_stack(&f), ut_ip_peer, UT_TFX_PORT, &ut_app_ops, &f.app, &f.app.c), 0);
	assert_true(ut_peer_recv(f.p, &r));
	assert_int_equal(r.flags, UT_SYN);
	assert_true(r.has_mss && r.mss == 1460);
	assert_true(r.has_ws && r.ws > 0 && r.ws <= 14);
	assert_true(r.sack_ok);
	assert_true(r.has_ts && r.tsecr == 0);
	ns_conn_close(f.app.c);
	ut_tfx_fini(&f);
}

/* RFC 9293 §3.5 figure 8: both sides send SYN; each answers with SYN-ACK. */
static void test_simultaneous_open(void **state)
{
	ut_tfx_t f;
	ut_seg_t g, r;

	(void)state;
	ut_tfx_init(&f, NULL, NULL);
	ut_tfx_est_active(&f, false);
	f.snd = UT_TFX_PISS;
	g = ut_tfx_syn(&f);
	g.tsecr = 0;
	ut_tfx_send(&f, &g); /* the peer's own SYN, crossing ours */
	r = ut_tfx_expect(&f, UT_SYN | UT_ACK);
	assert_int_equal(r.seq, f.our_iss);
	assert_int_equal(r.ack, UT_TFX_PISS + 1);
	assert_string_equal(ut_tfx_state(&f), "SYN_RCVD");
	assert_int_equal(f.app.connected, 0);
	/* The peer's SYN-ACK (its SYN again, now ACKing ours). */
	g.flags = UT_SYN | UT_ACK;
	g.ack = f.rcv;
	g.tsecr = f.ts_echo;
	ut_tfx_send(&f, &g);
	f.snd = UT_TFX_PISS + 1;
	assert_string_equal(ut_tfx_state(&f), "ESTABLISHED");
	assert_int_equal(f.app.connected, 1);
	ns_conn_abort(f.app.c);
	ut_tfx_fini(&f);
}

static void test_connect_refused_and_unreachable(void **state)
{
	ut_tfx_t f;
	ut_seg_t g;
	ns_conn_t *c;

	(void)state;
	ut_tfx_init(&f, NULL, NULL);
	ut_tfx_est_active(&f, false);
	f.snd = 0;
	g = ut_tfx_seg(&f, UT_RST | UT_ACK);
	g.ack = f.our_iss + 7; /* does not ACK our SYN: ignored */
	ut_tfx_send(&f, &g);
	assert_int_equal(f.app.closed, 0);
	g.ack = f.our_iss + 1;
	ut_tfx_send(&f, &g);
	assert_int_equal(f.app.closed, 1);
	assert_int_equal(f.app.reason, SL_ECONNREFUSED);
	assert_string_equal(ut_tfx_state(&f), "NONE");
	/* Bad arguments. */
	assert_int_equal(ns_tcp_connect(ut_tfx_stack(&f), ut_ip_bcast | 0, 0, &ut_app_ops, &f.app, &c), SL_EINVAL);
	ut_tfx_fini(&f);
}

/* SYN retransmissions back off (1 s, 2 s, 4 s...) and give up. */
static void test_connect_timeout(void **state)
{
	ut_tfx_t f;
	ut_seg_t r;
	uint32_t iss;
	unsigned n = 0;

	(void)state;
	ut_tfx_init(&f, NULL, NULL);
	ut_tfx_est_active(&f, false);
	iss = f.our_iss;
	ut_peer_advance(f.p, 999 * SL_US_PER_MS);
	ut_tfx_expect_none(&f);
	for (uint64_t wait = 1; wait <= 32 && f.app.closed == 0; wait *= 2) {
		ut_peer_advance(f.p, wait * SL_US_PER_S + 2 * SL_US_PER_MS);
		if (f.app.closed)
			break;
		assert_true(ut_peer_recv(f.p, &r));
		assert_int_equal(r.flags, UT_SYN);
		assert_int_equal(r.seq, iss);
		n++;
	}
	ut_peer_advance(f.p, 70 * SL_US_PER_S);
	assert_int_equal(n, 6);
	assert_int_equal(f.app.closed, 1);
	assert_int_equal(f.app.reason, SL_ETIMEDOUT);
	ut_tfx_fini(&f);
}

/* ---- Closing ---- */

static void test_active_close_to_time_wait(void **state)
{
	ut_tfx_t f;
	ut_seg_t r;

	(void)state;
	ut_tfx_init(&f, NULL, NULL);
	ut_tfx_est_passive(&f);
	ns_conn_close(f.app.c);
	f.app.c = NULL;
	ut_tfx_flush(&f);
	r = ut_tfx_expect(&f, UT_FIN | UT_ACK);
	assert_string_equal(ut_tfx_state(&f), "FIN_WAIT_1");
	f.rcv = r.seq + 1;
	ut_tfx_send_flags(&f, UT_ACK);
	assert_string_equal(ut_tfx_state(&f), "FIN_WAIT_2");
	ut_tfx_send_flags(&f, UT_FIN | UT_ACK);
	f.snd++;
	r = ut_tfx_expect(&f, UT_ACK);
	assert_int_equal(r.ack, f.snd);
	assert_string_equal(ut_tfx_state(&f), "TIME_WAIT");
	assert_int_equal(ut_tfx_stats(&f).tcp_time_wait_current, 1);
	/* A retransmitted FIN is ACKed again. */
	f.snd--;
	ut_tfx_send_flags(&f, UT_FIN | UT_ACK);
	f.snd++;
	ut_tfx_expect(&f, UT_ACK);
	/* 2*MSL later it is gone. */
	ut_peer_advance(f.p, 61 * SL_US_PER_S);
	assert_string_equal(ut_tfx_state(&f), "NONE");
	assert_int_equal(ut_tfx_stats(&f).tcp_time_wait_current, 0);
	assert_int_equal(f.app.closed, 0); /* the app closed: no callback */
	ut_tfx_fini(&f);
}

/* Half-close: the peer's FIN shows as EOF; we keep sending, then close. */
static void test_passive_close_and_half_close(void **state)
{
	ut_tfx_t f;
	ut_seg_t r;

	(void)state;
	ut_tfx_init(&f, NULL, NULL);
	ut_tfx_est_passive(&f);
	ut_tfx_send_data(&f, "QUIT\r\n", 6);
	/* Reading it opens the window well beyond the SYN-ACK's 64 KB: that
	 * window update ACKs the data. */
	r = ut_tfx_expect(&f, UT_ACK);
	assert_int_equal(r.ack, f.snd);
	assert_true((uint32_t)r.wnd << 5 > 65535);
	ut_tfx_send_flags(&f, UT_FIN | UT_ACK);
	f.snd++;
	r = ut_tfx_expect(&f, UT_ACK);
	assert_int_equal(r.ack, f.snd);
	assert_true(f.app.eof);
	assert_int_equal(f.app.rxlen, 6);
	assert_string_equal(ut_tfx_state(&f), "CLOSE_WAIT");
	/* Still sending after the peer's FIN. */
	assert_int_equal(ns_conn_send(f.app.c, "221 bye\r\n", 9), 9);
	ut_tfx_flush(&f);
	r = ut_tfx_expect(&f, UT_ACK | UT_PSH);
	assert_int_equal(r.len, 9);
	f.rcv += 9;
	ut_tfx_send_flags(&f, UT_ACK);
	assert_int_equal(ns_conn_shutdown(f.app.c), 0);
	assert_int_equal(ns_conn_send(f.app.c, "x", 1), SL_ECLOSED);
	ut_tfx_flush(&f);
	r = ut_tfx_expect(&f, UT_FIN | UT_ACK);
	assert_string_equal(ut_tfx_state(&f), "LAST_ACK");
	f.rcv = r.seq + 1;
	ut_tfx_send_flags(&f, UT_ACK);
	/* The protocol is done; the app still holds the handle. */
	assert_string_equal(ut_tfx_state(&f), "CLOSED");
	assert_int_equal(f.app.closed, 0);
	ns_conn_close(f.app.c);
	assert_string_equal(ut_tfx_state(&f), "NONE");
	ut_tfx_fini(&f);
}

/* Both FINs cross: FIN_WAIT_1 -> CLOSING -> TIME_WAIT. */
static void test_simultaneous_close(void **state)
{
	ut_tfx_t f;
	ut_seg_t r;

	(void)state;
	ut_tfx_init(&f, NULL, NULL);
	ut_tfx_est_passive(&f);
	assert_int_equal(ns_conn_shutdown(f.app.c), 0);
	ut_tfx_flush(&f);
	r = ut_tfx_expect(&f, UT_FIN | UT_ACK);
	f.fin_seq = r.seq;
	ut_tfx_send_flags(&f, UT_FIN | UT_ACK); /* ack = our FIN's seq: not ACKing it */
	f.snd++;
	r = ut_tfx_expect(&f, UT_ACK);
	assert_int_equal(r.ack, f.snd);
	assert_string_equal(ut_tfx_state(&f), "CLOSING");
	f.rcv = f.fin_seq + 1;
	ut_tfx_send_flags(&f, UT_ACK);
	assert_string_equal(ut_tfx_state(&f), "TIME_WAIT");
	assert_true(f.app.eof);
	ns_conn_close(f.app.c);
	ut_peer_advance(f.p, 61 * SL_US_PER_S);
	assert_string_equal(ut_tfx_state(&f), "NONE");
	ut_tfx_fini(&f);
}

/* An orphaned FIN_WAIT_2 does not wait forever for the peer's FIN. */
static void test_orphan_fin_wait_2_times_out(void **state)
{
	ut_tfx_t f;
	ut_seg_t r;

	(void)state;
	ut_tfx_init(&f, NULL, NULL);
	ut_tfx_est_passive(&f);
	ns_conn_close(f.app.c);
	ut_tfx_flush(&f);
	r = ut_tfx_expect(&f, UT_FIN | UT_ACK);
	f.rcv = r.seq + 1;
	ut_tfx_send_flags(&f, UT_ACK);
	assert_string_equal(ut_tfx_state(&f), "FIN_WAIT_2");
	/* Data after close is ACKed and dropped. */
	ut_tfx_send_data(&f, "late", 4);
	ut_peer_advance(f.p, 50 * SL_US_PER_MS);
	r = ut_tfx_expect(&f, UT_ACK);
	assert_int_equal(r.ack, f.snd);
	ut_peer_advance(f.p, 61 * SL_US_PER_S);
	assert_string_equal(ut_tfx_state(&f), "NONE");
	ut_tfx_fini(&f);
}

/* ---- RST in every state (RFC 9293 §3.10.7, RFC 5961 §3.2) ---- */

enum st { S_SYN_SENT, S_SYN_RCVD, S_EST, S_FW1, S_FW2, S_CW, S_CLOSING, S_LAST_ACK, S_TW };

static void drive(ut_tfx_t *f, enum st st)
{
	ut_seg_t g, r;

	if (st == S_SYN_SENT) {
		ut_tfx_est_active(f, false);
		return;
	}
	if (st == S_SYN_RCVD) {
		ut_tfx_listen(f);
		f->snd = UT_TFX_PISS;
		g = ut_tfx_syn(f);
		ut_tfx_send(f, &g);
		r = ut_tfx_expect(f, UT_SYN | UT_ACK);
		f->our_iss = r.seq;
		f->rcv = r.seq + 1;
		f->snd = UT_TFX_PISS + 1;
		return;
	}
	ut_tfx_est_passive(f);
	switch (st) {
	case S_FW1:
	case S_FW2:
	case S_CLOSING:
	case S_TW:
		ns_conn_shutdown(f->app.c);
		ut_tfx_flush(f);
		r = ut_tfx_expect(f, UT_FIN | UT_ACK);
		f->fin_seq = r.seq;
		if (st == S_FW1)
			break;
		if (st == S_CLOSING) {
			ut_tfx_send_flags(f, UT_FIN | UT_ACK);
			f->snd++;
			ut_tfx_expect(f, UT_ACK);
			break;
		}
		f->rcv = r.seq + 1;
		ut_tfx_send_flags(f, UT_ACK);
		if (st == S_FW2)
			break;
		ut_tfx_send_flags(f, UT_FIN | UT_ACK);
		f->snd++;
		ut_tfx_expect(f, UT_ACK);
		break;
	case S_CW:
	case S_LAST_ACK:
		ut_tfx_send_flags(f, UT_FIN | UT_ACK);
		f->snd++;
		ut_tfx_expect(f, UT_ACK);
		if (st == S_CW)
			break;
		ns_conn_shutdown(f->app.c);
		ut_tfx_flush(f);
		r = ut_tfx_expect(f, UT_FIN | UT_ACK);
		f->fin_seq = r.seq;
		break;
	default:
		break;
	}
}

struct rst_case {
	enum st st;
	const char *name;
	int reason;          /* `closed` reason, or 0 for none */
	const char *after;   /* state after the RST */
};

static const struct rst_case rst_cases[] = {
	{S_SYN_SENT, "SYN_SENT", SL_ECONNREFUSED, "NONE"},
	{S_SYN_RCVD, "SYN_RCVD", 0, "NONE"},
	{S_EST, "ESTABLISHED", SL_ERESET, "NONE"},
	{S_FW1, "FIN_WAIT_1", SL_ERESET, "NONE"},
	{S_FW2, "FIN_WAIT_2", SL_ERESET, "NONE"},
	{S_CW, "CLOSE_WAIT", SL_ERESET, "NONE"},
	{S_CLOSING, "CLOSING", SL_ERESET, "NONE"},
	{S_LAST_ACK, "LAST_ACK", SL_ERESET, "NONE"},
	{S_TW, "TIME_WAIT", 0, "TIME_WAIT"}, /* RFC 1337: ignored */
};

static void test_rst_in_every_state(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rst_cases) / sizeof(rst_cases[0]); i++) {
		const struct rst_case *k = &rst_cases[i];
		ut_tfx_t f;
		ut_seg_t g;

		ut_tfx_init(&f, NULL, NULL);
		drive(&f, k->st);
		assert_string_equal(ut_tfx_state(&f), k->name);
		if (k->st == S_SYN_SENT) {
			g = ut_tfx_seg(&f, UT_RST | UT_ACK);
			g.seq = 0;
			g.ack = f.our_iss + 1;
		} else {
			g = ut_tfx_seg(&f, UT_RST);
		}
		ut_tfx_send(&f, &g);
		if (strcmp(ut_tfx_state(&f), k->after) != 0)
			fail_msg("%s: state after RST %s, want %s", k->name, ut_tfx_state(&f), k->after);
		assert_int_equal(f.app.closed, k->reason != 0 ? 1 : 0);
		if (k->reason != 0)
			assert_int_equal(f.app.reason, k->reason);
		if (k->st == S_SYN_RCVD)
			assert_int_equal(f.app.accepted, 0);
		if (k->st != S_TW && k->st != S_SYN_RCVD)
			assert_int_equal(ut_tfx_stats(&f).tcp_rst_rx, 1);
		ut_tfx_expect_none(&f); /* never a RST for a RST */
		if (f.app.c != NULL)
			ns_conn_close(f.app.c);
		ut_tfx_fini(&f);
	}
}

/* ---- RFC 5961 ---- */

static void test_challenge_ack_for_in_window_rst(void **state)
{
	ut_tfx_t f;
	ut_seg_t g, r;

	(void)state;
	ut_tfx_init(&f, NULL, NULL);
	ut_tfx_est_passive(&f);
	g = ut_tfx_seg(&f, UT_RST);
	g.seq = f.snd + 1000; /* in the window, not exact */
	ut_tfx_send(&f, &g);
	r = ut_tfx_expect(&f, UT_ACK);
	assert_int_equal(r.ack, f.snd);
	assert_int_equal(r.seq, f.rcv);
	assert_string_equal(ut_tfx_state(&f), "ESTABLISHED");
	assert_int_equal(f.app.closed, 0);
	assert_int_equal(ut_tfx_stats(&f).tcp_challenge_acks, 1);
	/* Out of the window: silently dropped. */
	g.seq = f.snd + 10000000;
	ut_tfx_send(&f, &g);
	ut_tfx_expect_none(&f);
	/* The exact one resets (as the challenge ACK asked). */
	g.seq = f.snd;
	ut_tfx_send(&f, &g);
	assert_int_equal(f.app.closed, 1);
	assert_int_equal(f.app.reason, SL_ERESET);
	ut_tfx_fini(&f);
}

static void test_challenge_ack_for_syn(void **state)
{
	ut_tfx_t f;
	ut_seg_t g, r;

	(void)state;
	ut_tfx_init(&f, NULL, NULL);
	ut_tfx_est_passive(&f);
	/* In-window SYN (RFC 5961 §4.2): ACK, no reset, no new connection. */
	g = ut_tfx_syn(&f);
	g.seq = f.snd + 100;
	ut_tfx_send(&f, &g);
	r = ut_tfx_expect(&f, UT_ACK);
	assert_int_equal(r.ack, f.snd);
	assert_string_equal(ut_tfx_state(&f), "ESTABLISHED");
	assert_int_equal(ut_tfx_stats(&f).tcp_challenge_acks, 1);
	/* An old SYN (retransmission of the first) gets an ACK too. */
	g.seq = UT_TFX_PISS;
	ut_tfx_send(&f, &g);
	r = ut_tfx_expect(&f, UT_ACK);
	assert_int_equal(r.ack, f.snd);
	assert_int_equal(f.app.closed, 0);
	ns_conn_abort(f.app.c);
	ut_tfx_expect(&f, UT_RST);
	ut_tfx_fini(&f);
}

static void test_challenge_ack_for_bad_ack(void **state)
{
	ut_tfx_t f;
	ut_seg_t g, r;

	(void)state;
	ut_tfx_init(&f, NULL, NULL);
	ut_tfx_est_passive(&f);
	/* ACK of data never sent (RFC 5961 §5.2): ACKed, data not taken. */
	g = ut_tfx_seg(&f, UT_ACK | UT_PSH);
	g.ack = f.rcv + 5000;
	g.data = (const uint8_t *)"evil";
	g.len = 4;
	ut_tfx_send(&f, &g);
	r = ut_tfx_expect(&f, UT_ACK);
	assert_int_equal(r.ack, f.snd);
	assert_int_equal(f.app.rxlen, 0);
	/* Older than SND.UNA - MAX.SND.WND (the peer's window is 64K << 7):
	 * the same. */
	g.ack = f.rcv - (100u << 20);
	ut_tfx_send(&f, &g);
	ut_tfx_expect(&f, UT_ACK);
	assert_int_equal(ut_tfx_stats(&f).tcp_challenge_acks, 2);
	assert_int_equal(f.app.rxlen, 0);
	ns_conn_abort(f.app.c);
	ut_tfx_expect(&f, UT_RST);
	ut_tfx_fini(&f);
}

static void limit_3(ns_stack_params_t *p, void *arg)
{
	(void)arg;
	p->challenge_ack_limit = 3;
}

/* RFC 5961 §7: one budget per second for all challenge ACKs. */
static void test_challenge_ack_limit(void **state)
{
	ut_tfx_t f;
	ut_seg_t g;

	(void)state;
	ut_tfx_init(&f, limit_3, NULL);
	ut_tfx_est_passive(&f);
	g = ut_tfx_seg(&f, UT_RST);
	g.seq = f.snd + 10;
	for (int i = 0; i < 5; i++)
		ut_tfx_send(&f, &g);
	assert_int_equal(ut_peer_pending(f.p), 3);
	ut_peer_drain(f.p);
	assert_int_equal(ut_tfx_stats(&f).tcp_challenge_acks, 3);
	assert_int_equal(ut_tfx_stats(&f).tcp_challenge_acks_suppressed, 2);
	/* The next second has a new budget. */
	ut_peer_advance(f.p, SL_US_PER_S);
	ut_tfx_send(&f, &g);
	ut_tfx_expect(&f, UT_ACK);
	assert_string_equal(ut_tfx_state(&f), "ESTABLISHED");
	ns_conn_abort(f.app.c);
	ut_peer_drain(f.p);
	ut_tfx_fini(&f);
}

/* ---- Sequence and timestamp checks ---- */

static void test_out_of_window_data_is_acked_not_accepted(void **state)
{
	ut_tfx_t f;
	ut_seg_t g, r;
	ns_stats_t st;

	(void)state;
	ut_tfx_init(&f, NULL, NULL);
	ut_tfx_est_passive(&f);
	g = ut_tfx_seg(&f, UT_ACK | UT_PSH);
	g.seq = f.snd + 3000000; /* far beyond the window */
	g.data = (const uint8_t *)"junk";
	g.len = 4;
	ut_tfx_send(&f, &g);
	r = ut_tfx_expect(&f, UT_ACK);
	assert_int_equal(r.ack, f.snd);
	/* Entirely old data: a duplicate, ACKed. */
	g.seq = f.snd - 100;
	ut_tfx_send(&f, &g);
	ut_tfx_expect(&f, UT_ACK);
	assert_int_equal(f.app.data, 0);
	assert_int_equal(ns_conn_readable(f.app.c), 0);
	st = ut_tfx_stats(&f);
	assert_int_equal(st.tcp_out_of_window, 1);
	assert_int_equal(st.tcp_dup_segs, 1);
	/* In-window data still works. */
	ut_tfx_send_data(&f, "ok", 2);
	assert_int_equal(f.app.rxlen, 2);
	ns_conn_abort(f.app.c);
	ut_peer_drain(f.p);
	ut_tfx_fini(&f);
}

/* RFC 7323 §5: a segment with an older timestamp is a stale duplicate. */
static void test_paws_drops_old_timestamp(void **state)
{
	ut_tfx_t f;
	ut_seg_t g, r;

	(void)state;
	ut_tfx_init(&f, NULL, NULL);
	ut_tfx_est_passive(&f);
	ut_tfx_send_data(&f, "new", 3);
	assert_int_equal(f.app.rxlen, 3);
	g = ut_tfx_seg(&f, UT_ACK | UT_PSH);
	g.tsval = f.tsval - 10;
	g.data = (const uint8_t *)"old";
	g.len = 3;
	ut_tfx_send(&f, &g);
	r = ut_tfx_expect(&f, UT_ACK);
	assert_int_equal(r.ack, f.snd);
	assert_int_equal(f.app.rxlen, 3);
	assert_int_equal(ut_tfx_stats(&f).tcp_paws_drops, 1);
	/* A RST is not subject to PAWS (RFC 7323 §5.3 R1). */
	g = ut_tfx_seg(&f, UT_RST);
	g.tsval = 1;
	ut_tfx_send(&f, &g);
	assert_int_equal(f.app.closed, 1);
	ut_tfx_fini(&f);
}

/* ---- SYN cookies ---- */

static void backlog_1(ns_stack_params_t *p, void *arg)
{
	(void)arg;
	p->syn_backlog = 1;
}

static void test_syn_cookies_when_backlog_full(void **state)
{
	ut_tfx_t f;
	ut_seg_t g, r;
	ns_stats_t st;

	(void)state;
	ut_tfx_init(&f, backlog_1, NULL);
	ut_tfx_listen(&f);
	/* First SYN fills the backlog of one. */
	f.snd = UT_TFX_PISS;
	g = ut_tfx_syn(&f);
	ut_tfx_send(&f, &g);
	ut_tfx_expect(&f, UT_SYN | UT_ACK);
	/* The second, from another port, gets a cookie: no state kept. */
	f.pport = UT_TFX_PPORT + 1;
	f.snd = 777777;
	g = ut_tfx_syn(&f);
	g.ws = 9;
	ut_tfx_send(&f, &g);
	r = ut_tfx_expect(&f, UT_SYN | UT_ACK);
	assert_int_equal(r.ack, 777778);
	assert_true(r.has_mss && r.mss <= 1460 && r.mss >= 536);
	assert_true(r.has_ts && r.sack_ok && r.has_ws);
	assert_string_equal(ut_tfx_state(&f), "NONE");
	st = ut_tfx_stats(&f);
	assert_int_equal(st.tcp_syncookies_sent, 1);
	assert_int_equal(st.tcp_listen_overflows, 1);
	/* A forged ACK fails. While cookies are out it is dropped without a
	 * RST: it may be a later segment of a good handshake. */
	f.snd = 777778;
	f.rcv = r.seq + 12345;
	ut_tfx_send_flags(&f, UT_ACK);
	ut_tfx_expect_none(&f);
	assert_int_equal(ut_tfx_stats(&f).tcp_syncookies_failed, 1);
	/* Data that overtook the handshake's first segment: dropped too. */
	f.rcv = r.seq + 1;
	f.snd = 777778 + 8;
	ut_tfx_send_data(&f, "MAIL\r\n", 6);
	ut_tfx_expect_none(&f);
	assert_int_equal(ut_tfx_stats(&f).tcp_syncookies_failed, 2);
	assert_int_equal(f.app.accepted, 0);
	/* The right ACK, with data, completes the handshake from the cookie. */
	f.rcv = r.seq + 1;
	f.snd = 777778;
	ut_tfx_send_data(&f, "EHLO x\r\n", 8);
	assert_int_equal(ut_tfx_stats(&f).tcp_syncookies_ok, 1);
	assert_int_equal(f.app.accepted, 1);
	assert_string_equal(ut_tfx_state(&f), "ESTABLISHED");
	assert_int_equal(f.app.rxlen, 8);
	assert_memory_equal(f.app.rx, "EHLO x\r\n", 8);
	{
		ns_conn_info_t info;

		assert_true(ut_tfx_info(&f, f.pport, &info));
		assert_true(info.mss > 0 && info.mss <= 1460);
	}
	/* Options came back through the timestamp: SACK works, the window
	 * scale applies (9: the raw field times 512). */
	g = ut_tfx_seg(&f, UT_ACK);
	g.wnd = 100; /* 51200 bytes */
	ut_tfx_send(&f, &g);
	{
		ns_conn_info_t info;

		assert_true(ut_tfx_info(&f, f.pport, &info));
		assert_int_equal(info.snd_wnd, 100u << 9);
	}
	ns_conn_abort(f.app.c);
	ut_peer_drain(f.p);
	ut_tfx_fini(&f);
}

static void test_syn_cookie_without_timestamps(void **state)
{
	ut_tfx_t f;
	ut_seg_t g, r;

	(void)state;
	ut_tfx_init(&f, backlog_1, NULL);
	ut_tfx_listen(&f);
	f.snd = UT_TFX_PISS;
	g = ut_tfx_syn(&f);
	ut_tfx_send(&f, &g);
	ut_tfx_expect(&f, UT_SYN | UT_ACK);
	f.pport = UT_TFX_PPORT + 1;
	f.ts = false;
	f.snd = 5555;
	g = ut_tfx_syn(&f);
	g.has_mss = true;
	g.mss = 1400;
	ut_tfx_send(&f, &g);
	r = ut_tfx_expect(&f, UT_SYN | UT_ACK);
	/* Nothing can carry the other options: our MSS only. */
	assert_true(r.has_mss && r.mss == 1460);
	assert_false(r.has_ts || r.sack_ok || r.has_ws);
	f.snd = 5556;
	f.rcv = r.seq + 1;
	ut_tfx_send_flags(&f, UT_ACK);
	assert_int_equal(f.app.accepted, 1);
	assert_int_equal(ut_tfx_stats(&f).tcp_syncookies_ok, 1);
	{
		/* The peer's 1400 came back as the table entry below it. */
		ns_conn_info_t info;

		assert_true(ut_tfx_info(&f, f.pport, &info));
		assert_int_equal(info.mss, 1300);
	}
	/* A cookie is good for two minutes at most. */
	ns_conn_abort(f.app.c);
	ut_peer_drain(f.p);
	f.pport = UT_TFX_PPORT + 2;
	f.snd = 9000;
	g = ut_tfx_syn(&f);
	ut_tfx_send(&f, &g);
	r = ut_tfx_expect(&f, UT_SYN | UT_ACK);
	ut_peer_advance(f.p, 3 * 60 * SL_US_PER_S);
	ut_peer_drain(f.p);
	f.snd = 9001;
	f.rcv = r.seq + 1;
	ut_tfx_send_flags(&f, UT_ACK);
	ut_tfx_expect(&f, UT_RST); /* the last cookie is long expired */
	assert_int_equal(ut_tfx_stats(&f).tcp_syncookies_failed, 0);
	ut_tfx_fini(&f);
}

/* ---- Ports without a listener (RFC 9293 §3.10.7.1) ---- */

static void test_closed_port_resets(void **state)
{
	ut_tfx_t f;
	ut_seg_t g, r;

	(void)state;
	ut_tfx_init(&f, NULL, NULL);
	f.snd = 4242;
	g = ut_tfx_syn(&f);
	ut_tfx_send(&f, &g);
	r = ut_tfx_expect(&f, UT_RST | UT_ACK);
	assert_int_equal(r.seq, 0);
	assert_int_equal(r.ack, 4243);
	f.rcv = 99;
	ut_tfx_send_flags(&f, UT_ACK);
	r = ut_tfx_expect(&f, UT_RST);
	assert_int_equal(r.seq, 99);
	/* Data without ACK: the ACK covers the data and the FIN. */
	g = ut_tfx_seg(&f, UT_FIN | UT_PSH);
	g.data = (const uint8_t *)"abc";
	g.len = 3;
	ut_tfx_send(&f, &g);
	r = ut_tfx_expect(&f, UT_RST | UT_ACK);
	assert_int_equal(r.ack, 4242 + 3 + 1);
	ut_tfx_send_flags(&f, UT_RST);
	ut_tfx_send_flags(&f, UT_RST | UT_ACK);
	ut_tfx_expect_none(&f);
	assert_int_equal(ut_tfx_stats(&f).tcp_rst_tx, 3);
	ut_tfx_fini(&f);
}

static void test_bad_checksum_and_header_dropped(void **state)
{
	ut_tfx_t f;
	ut_seg_t g;
	uint8_t raw[40];

	(void)state;
	ut_tfx_init(&f, NULL, NULL);
	ut_tfx_listen(&f);
	f.snd = UT_TFX_PISS;
	g = ut_tfx_syn(&f);
	g.bad_csum = true;
	ut_tfx_send(&f, &g);
	ut_tfx_expect_none(&f);
	assert_int_equal(ut_tfx_stats(&f).tcp_rx_bad_csum, 1);
	/* Truncated header, data offset beyond the segment, SYN+RST. */
	memset(raw, 0, sizeof(raw));
	ut_peer_send_raw(f.p, raw, 10);
	raw[12] = 0xf0;
	ut_peer_send_raw(f.p, raw, 20);
	ut_tfx_expect_none(&f);
	assert_true(ut_tfx_stats(&f).tcp_rx_bad_header >= 1);
	g = ut_tfx_syn(&f);
	g.flags = UT_SYN | UT_RST;
	ut_tfx_send(&f, &g);
	ut_tfx_expect_none(&f);
	assert_string_equal(ut_tfx_state(&f), "NONE");
	ut_tfx_fini(&f);
}

/* ---- Listening ---- */

static void count_listeners(const ns_conn_info_t *i, void *arg)
{
	if (strcmp(i->state, "LISTEN") == 0 && i->local_port == 25)
		(*(int *)arg)++;
}

static void test_listen_errors(void **state)
{
	ut_tfx_t f;
	int n = 0;

	(void)state;
	ut_tfx_init(&f, NULL, NULL);
	assert_int_equal(ns_tcp_listen(ut_tfx_stack(&f), 25, &ut_app_ops, NULL), 0);
	ns_stack_foreach_conn(ut_tfx_stack(&f), count_listeners, &n);
	assert_int_equal(n, 1);
	assert_int_equal(ns_tcp_listen(ut_tfx_stack(&f), 25, &ut_app_ops, NULL), SL_EADDRINUSE);
	assert_int_equal(ns_tcp_listen(ut_tfx_stack(&f), 0, &ut_app_ops, NULL), SL_EINVAL);
	assert_int_equal(ns_tcp_unlisten(ut_tfx_stack(&f), 25), 0);
	assert_int_equal(ns_tcp_unlisten(ut_tfx_stack(&f), 25), SL_ENOENT);
	{
		ns_conn_ops_t no_accept = ut_app_ops;

		no_accept.accepted = NULL;
		assert_int_equal(ns_tcp_listen(ut_tfx_stack(&f), 25, &no_accept, NULL), SL_EINVAL);
	}
	assert_int_equal(ns_tcp_listen(ut_tfx_stack(&f), 25, &ut_app_ops, NULL), 0);
	ut_tfx_fini(&f);
}

/* Unlisten keeps accepted connections and resets half-open ones, so that
 * `accepted` never runs with a listen ctx that is gone. */
static void test_unlisten_resets_half_open(void **state)
{
	ut_tfx_t f;
	ut_seg_t g;

	(void)state;
	ut_tfx_init(&f, NULL, NULL);
	ut_tfx_est_passive(&f);
	f.pport = UT_TFX_PPORT + 1;
	f.snd = 777;
	g = ut_tfx_syn(&f);
	ut_tfx_send(&f, &g);
	ut_tfx_expect(&f, UT_SYN | UT_ACK);
	assert_int_equal(ns_tcp_unlisten(ut_tfx_stack(&f), UT_TFX_PORT), 0);
	ut_tfx_expect(&f, UT_RST);
	assert_string_equal(ut_tfx_state(&f), "NONE");
	assert_string_equal(ut_tfx_state_of(&f, UT_TFX_PPORT), "ESTABLISHED");
	/* Its handshake ACK now finds a closed port. */
	f.snd = 778;
	ut_tfx_send_flags(&f, UT_ACK);
	ut_tfx_expect(&f, UT_RST);
	assert_int_equal(f.app.accepted, 1);
	ns_conn_abort(f.app.c);
	ut_peer_drain(f.p);
	ut_tfx_fini(&f);
}

/* accepted() may refuse: the connection is reset, nothing else fires. */
static void test_accept_refused_resets(void **state)
{
	ut_tfx_t f;
	ut_seg_t g, r;

	(void)state;
	ut_tfx_init(&f, NULL, NULL);
	f.app.accept_rc = SL_ELIMIT;
	ut_tfx_listen(&f);
	f.snd = UT_TFX_PISS;
	g = ut_tfx_syn(&f);
	ut_tfx_send(&f, &g);
	r = ut_tfx_expect(&f, UT_SYN | UT_ACK);
	f.snd = UT_TFX_PISS + 1;
	f.rcv = r.seq + 1;
	ut_tfx_send_flags(&f, UT_ACK);
	assert_int_equal(f.app.accepted, 1);
	ut_tfx_expect(&f, UT_RST);
	assert_string_equal(ut_tfx_state(&f), "NONE");
	assert_int_equal(f.app.closed, 0);
	ut_tfx_fini(&f);
}

/* Callbacks may close or abort their own connection. */
static void test_close_and_abort_from_callback(void **state)
{
	ut_tfx_t f;
	ut_seg_t r;

	(void)state;
	ut_tfx_init(&f, NULL, NULL);
	ut_tfx_est_passive(&f);
	f.app.close_on_data = true;
	ut_tfx_send_data(&f, "x", 1);
	r = ut_tfx_expect(&f, UT_FIN | UT_ACK);
	assert_int_equal(r.ack, f.snd);
	assert_string_equal(ut_tfx_state(&f), "FIN_WAIT_1");
	ut_tfx_fini(&f);

	ut_tfx_init(&f, NULL, NULL);
	ut_tfx_est_passive(&f);
	f.app.abort_on_data = true;
	ut_tfx_send_data(&f, "y", 1);
	r = ut_tfx_expect(&f, UT_RST);
	assert_string_equal(ut_tfx_state(&f), "NONE");
	assert_int_equal(f.app.closed, 0);
	/* Later segments for it find nothing and are reset. */
	ut_tfx_send_data(&f, "z", 1);
	ut_tfx_expect(&f, UT_RST);
	ut_tfx_fini(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_passive_open_negotiates_options),
		cmocka_unit_test(test_passive_open_without_options),
		cmocka_unit_test(test_active_open),
		cmocka_unit_test(test_active_open_syn_options),
		cmocka_unit_test(test_simultaneous_open),
		cmocka_unit_test(test_connect_refused_and_unreachable),
		cmocka_unit_test(test_connect_timeout),
		cmocka_unit_test(test_active_close_to_time_wait),
		cmocka_unit_test(test_passive_close_and_half_close),
		cmocka_unit_test(test_simultaneous_close),
		cmocka_unit_test(test_orphan_fin_wait_2_times_out),
		cmocka_unit_test(test_rst_in_every_state),
		cmocka_unit_test(test_challenge_ack_for_in_window_rst),
		cmocka_unit_test(test_challenge_ack_for_syn),
		cmocka_unit_test(test_challenge_ack_for_bad_ack),
		cmocka_unit_test(test_challenge_ack_limit),
		cmocka_unit_test(test_out_of_window_data_is_acked_not_accepted),
		cmocka_unit_test(test_paws_drops_old_timestamp),
		cmocka_unit_test(test_syn_cookies_when_backlog_full),
		cmocka_unit_test(test_syn_cookie_without_timestamps),
		cmocka_unit_test(test_closed_port_resets),
		cmocka_unit_test(test_bad_checksum_and_header_dropped),
		cmocka_unit_test(test_listen_errors),
		cmocka_unit_test(test_unlisten_resets_half_open),
		cmocka_unit_test(test_accept_refused_resets),
		cmocka_unit_test(test_close_and_abort_from_callback),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
