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

#define PORT 25
#define PPORT 40000
#define PISS 1000000u

/* ---- The app side: records every callback ---- */

struct app {
	ns_conn_t *c;
	int accepted, connected, data, writable, closed, reason;
	int accept_rc;
	bool close_on_data, abort_on_data, eof;
	size_t rxlen;
	uint8_t rx[8192];
};

static int app_accepted(ns_conn_t *c, void *listen_ctx)
{
	struct app *a = listen_ctx;

	a->accepted++;
	if (a->accept_rc < 0)
		return a->accept_rc;
	a->c = c;
	ns_conn_set_ctx(c, a);
	return 0;
}

static void app_connected(ns_conn_t *c, void *ctx)
{
	struct app *a = ctx;

	(void)c;
	a->connected++;
}

static void app_data(ns_conn_t *c, void *ctx)
{
	struct app *a = ctx;

	a->data++;
	a->rxlen += ns_conn_recv(c, a->rx + a->rxlen, sizeof(a->rx) - a->rxlen);
	a->eof = ns_conn_eof(c);
	if (a->close_on_data) {
		ns_conn_close(c);
		a->c = NULL;
	} else if (a->abort_on_data) {
		ns_conn_abort(c);
		a->c = NULL;
	}
}

static void app_writable(ns_conn_t *c, void *ctx)
{
	struct app *a = ctx;

	(void)c;
	a->writable++;
}

static void app_closed(ns_conn_t *c, void *ctx, int reason)
{
	struct app *a = ctx;

	(void)c;
	a->closed++;
	a->reason = reason;
	a->c = NULL;
}

static const ns_conn_ops_t app_ops = {
	.accepted = app_accepted,
	.connected = app_connected,
	.data = app_data,
	.writable = app_writable,
	.closed = app_closed,
};

/* ---- Fixture: a stack, the peer's sequence state, the app ---- */

struct fx {
	ut_peer_t *p;
	struct app app;
	unsigned avail0;
	uint32_t snd;      /* peer's next sequence number */
	uint32_t rcv;      /* next sequence number expected from the stack */
	uint32_t our_iss;  /* the stack's ISS */
	uint32_t fin_seq;  /* sequence number of the stack's FIN */
	uint16_t port, pport;
	uint16_t wnd;
	bool ts;
	uint32_t tsval, ts_echo;
};

typedef void tweak_fn(ns_stack_params_t *p, void *arg);

static void fx_init(struct fx *f, tweak_fn *tweak, void *arg)
{
	memset(f, 0, sizeof(*f));
	f->avail0 = rte_mempool_avail_count(ut_pool());
	f->p = ut_peer_create(tweak, arg);
	f->port = PORT;
	f->pport = PPORT;
	f->wnd = 65535;
	f->ts = true;
	f->tsval = 5000;
}

static void fx_fini(struct fx *f)
{
	ut_peer_destroy(&f->p);
	assert_int_equal(rte_mempool_avail_count(ut_pool()), f->avail0);
}

static ns_stack_t *stk(struct fx *f)
{
	return ut_peer_stack(f->p);
}

static ns_stats_t stats(struct fx *f)
{
	return ut_stats(stk(f));
}

static ut_seg_t mk(struct fx *f, uint8_t flags)
{
	ut_seg_t g;

	memset(&g, 0, sizeof(g));
	g.sport = f->pport;
	g.dport = f->port;
	g.seq = f->snd;
	g.ack = (flags & UT_ACK) ? f->rcv : 0;
	g.flags = flags;
	g.wnd = f->wnd;
	if (f->ts) {
		g.has_ts = true;
		g.tsval = f->tsval;
		g.tsecr = f->ts_echo;
	}
	return g;
}

static void tx(struct fx *f, const ut_seg_t *g)
{
	ut_peer_send(f->p, g);
}

static void tx_flags(struct fx *f, uint8_t flags)
{
	ut_seg_t g = mk(f, flags);

	tx(f, &g);
}

/* Peer sends LEN bytes of DATA in sequence. */
static void tx_data(struct fx *f, const void *data, uint16_t len)
{
	ut_seg_t g = mk(f, UT_ACK | UT_PSH);

	g.data = data;
	g.len = len;
	tx(f, &g);
	f->snd += len;
}

static ut_seg_t expect(struct fx *f, uint8_t flags)
{
	ut_seg_t g;

	if (!ut_peer_recv(f->p, &g))
		fail_msg("expected a segment with flags %02x, got nothing", flags);
	if (g.flags != flags)
		fail_msg("expected flags %02x, got %02x (seq %u ack %u len %u)", flags, g.flags, g.seq,
			 g.ack, g.len);
	assert_int_equal(g.sport, f->port);
	assert_int_equal(g.dport, f->pport);
	if (g.has_ts)
		f->ts_echo = g.tsval;
	return g;
}

static void expect_none(struct fx *f)
{
	ut_seg_t g;

	if (ut_peer_recv(f->p, &g))
		fail_msg("expected silence, got flags %02x seq %u ack %u len %u", g.flags, g.seq, g.ack,
			 g.len);
}

static void flush(struct fx *f)
{
	ns_stack_flush(stk(f));
}

struct find {
	uint16_t rport;
	const char *state;
	ns_conn_info_t info;
};

static void find_fn(const ns_conn_info_t *i, void *arg)
{
	struct find *fd = arg;

	if (i->remote_port == fd->rport && strcmp(i->state, "LISTEN") != 0) {
		fd->state = i->state;
		fd->info = *i;
	}
}

/* The state of the connection with the peer port, or "NONE". */
static const char *state_of(struct fx *f, uint16_t pport)
{
	struct find fd = {.rport = pport, .state = "NONE"};

	ns_stack_foreach_conn(stk(f), find_fn, &fd);
	return fd.state;
}

static const char *cstate(struct fx *f)
{
	return state_of(f, f->pport);
}

/* SYN with the usual options (as Linux sends them). */
static ut_seg_t syn_seg(struct fx *f)
{
	ut_seg_t g = mk(f, UT_SYN);

	g.seq = f->snd;
	g.has_mss = true;
	g.mss = 1460;
	g.has_ws = true;
	g.ws = 7;
	g.sack_ok = true;
	g.tsecr = 0;
	return g;
}

static void listen_app(struct fx *f)
{
	assert_int_equal(ns_tcp_listen(stk(f), f->port, &app_ops, &f->app), 0);
}

/* LISTEN -> SYN_RCVD -> ESTABLISHED, passive. */
static void est_passive(struct fx *f)
{
	ut_seg_t g, r;

	listen_app(f);
	f->snd = PISS;
	g = syn_seg(f);
	tx(f, &g);
	r = expect(f, UT_SYN | UT_ACK);
	assert_int_equal(r.ack, PISS + 1);
	f->our_iss = r.seq;
	f->rcv = r.seq + 1;
	f->snd = PISS + 1;
	f->tsval++;
	tx_flags(f, UT_ACK);
	assert_int_equal(f->app.accepted, 1);
	assert_non_null(f->app.c);
	assert_string_equal(cstate(f), "ESTABLISHED");
	expect_none(f);
}

/* CLOSED -> SYN_SENT -> ESTABLISHED, active. The stack's local port becomes
 * f->port and the "peer port" is PORT. */
static void est_active(struct fx *f, bool answer)
{
	ut_seg_t g, r;

	assert_int_equal(ns_tcp_connect(stk(f), ut_ip_peer, PORT, &app_ops, &f->app, &f->app.c), 0);
	assert_true(ut_peer_recv(f->p, &r));
	assert_int_equal(r.flags, UT_SYN);
	assert_int_equal(r.dport, PORT);
	assert_true(r.sport >= 49152);
	f->port = r.sport;
	f->pport = PORT;
	f->our_iss = r.seq;
	f->rcv = r.seq + 1;
	f->ts_echo = r.tsval;
	if (!answer)
		return;
	f->snd = PISS;
	g = syn_seg(f);
	g.flags = UT_SYN | UT_ACK;
	g.ack = f->rcv;
	g.tsecr = f->ts_echo;
	tx(f, &g);
	f->snd = PISS + 1;
	expect(f, UT_ACK);
	assert_int_equal(f->app.connected, 1);
	assert_string_equal(cstate(f), "ESTABLISHED");
}

/* ---- Handshakes ---- */

static void test_passive_open_negotiates_options(void **state)
{
	struct fx f;
	ut_seg_t g, r;

	(void)state;
	fx_init(&f, NULL, NULL);
	listen_app(&f);
	f.snd = PISS;
	g = syn_seg(&f);
	tx(&f, &g);
	r = expect(&f, UT_SYN | UT_ACK);
	assert_int_equal(r.ack, PISS + 1);
	assert_true(r.has_mss && r.mss == 1460);
	assert_true(r.has_ws);
	assert_true(r.sack_ok);
	assert_true(r.has_ts && r.tsecr == g.tsval);
	assert_int_equal(f.app.accepted, 0);
	assert_string_equal(cstate(&f), "SYN_RCVD");
	/* A retransmitted SYN gets the same SYN-ACK again. */
	tx(&f, &g);
	g = expect(&f, UT_SYN | UT_ACK);
	assert_int_equal(g.seq, r.seq);
	/* An ACK that does not ack our SYN is answered with a RST. */
	f.snd = PISS + 1;
	f.rcv = r.seq + 7;
	tx_flags(&f, UT_ACK);
	g = expect(&f, UT_RST);
	assert_int_equal(g.seq, r.seq + 7);
	/* The right one completes the handshake. */
	f.rcv = r.seq + 1;
	tx_flags(&f, UT_ACK);
	assert_int_equal(f.app.accepted, 1);
	assert_string_equal(cstate(&f), "ESTABLISHED");
	assert_int_equal(stats(&f).tcp_passive_opens, 1);
	fx_fini(&f);
}

static void test_passive_open_without_options(void **state)
{
	struct fx f;
	ut_seg_t g, r;

	(void)state;
	fx_init(&f, NULL, NULL);
	f.ts = false;
	listen_app(&f);
	f.snd = PISS;
	g = mk(&f, UT_SYN);
	tx(&f, &g);
	r = expect(&f, UT_SYN | UT_ACK);
	/* Only MSS: nothing the peer did not offer (RFC 7323 §2.2, RFC 2018). */
	assert_true(r.has_mss);
	assert_false(r.has_ws || r.sack_ok || r.has_ts);
	assert_true(r.wnd <= 65535);
	fx_fini(&f);
}

static void test_active_open(void **state)
{
	struct fx f;
	ut_seg_t r;
	ns_conn_info_t info;

	(void)state;
	fx_init(&f, NULL, NULL);
	est_active(&f, false);
	/* Our SYN offers everything the stack enables. */
	assert_int_equal(ut_peer_pending(f.p), 0);
	assert_string_equal(cstate(&f), "SYN_SENT");
	/* Data queued before ESTABLISHED goes once the handshake is done. */
	assert_int_equal(ns_conn_send(f.app.c, "HELO\r\n", 6), 6);
	f.snd = PISS;
	{
		ut_seg_t g = syn_seg(&f);

		g.flags = UT_SYN | UT_ACK;
		g.ack = f.rcv;
		g.tsecr = f.ts_echo;
		tx(&f, &g);
	}
	f.snd = PISS + 1;
	r = expect(&f, UT_ACK | UT_PSH);
	assert_int_equal(r.seq, f.rcv);
	assert_int_equal(r.ack, PISS + 1);
	assert_int_equal(r.len, 6);
	assert_memory_equal(r.data, "HELO\r\n", 6);
	assert_int_equal(f.app.connected, 1);
	ns_conn_get_info(f.app.c, &info);
	assert_string_equal(info.state, "ESTABLISHED");
	assert_int_equal(info.remote_port, PORT);
	assert_int_equal(stats(&f).tcp_active_opens, 1);
	ns_conn_abort(f.app.c);
	fx_fini(&f);
}

static void test_active_open_syn_options(void **state)
{
	struct fx f;
	ut_seg_t r;

	(void)state;
	fx_init(&f, NULL, NULL);
	assert_int_equal(ns_tcp_connect(stk(&f), ut_ip_peer, PORT, &app_ops, &f.app, &f.app.c), 0);
	assert_true(ut_peer_recv(f.p, &r));
	assert_int_equal(r.flags, UT_SYN);
	assert_true(r.has_mss && r.mss == 1460);
	assert_true(r.has_ws && r.ws > 0 && r.ws <= 14);
	assert_true(r.sack_ok);
	assert_true(r.has_ts && r.tsecr == 0);
	ns_conn_close(f.app.c);
	fx_fini(&f);
}

/* RFC 9293 §3.5 figure 8: both sides send SYN; each answers with SYN-ACK. */
static void test_simultaneous_open(void **state)
{
	struct fx f;
	ut_seg_t g, r;

	(void)state;
	fx_init(&f, NULL, NULL);
	est_active(&f, false);
	f.snd = PISS;
	g = syn_seg(&f);
	g.tsecr = 0;
	tx(&f, &g); /* the peer's own SYN, crossing ours */
	r = expect(&f, UT_SYN | UT_ACK);
	assert_int_equal(r.seq, f.our_iss);
	assert_int_equal(r.ack, PISS + 1);
	assert_string_equal(cstate(&f), "SYN_RCVD");
	assert_int_equal(f.app.connected, 0);
	/* The peer's SYN-ACK (its SYN again, now ACKing ours). */
	g.flags = UT_SYN | UT_ACK;
	g.ack = f.rcv;
	g.tsecr = f.ts_echo;
	tx(&f, &g);
	f.snd = PISS + 1;
	assert_string_equal(cstate(&f), "ESTABLISHED");
	assert_int_equal(f.app.connected, 1);
	ns_conn_abort(f.app.c);
	fx_fini(&f);
}

static void test_connect_refused_and_unreachable(void **state)
{
	struct fx f;
	ut_seg_t g;
	ns_conn_t *c;

	(void)state;
	fx_init(&f, NULL, NULL);
	est_active(&f, false);
	f.snd = 0;
	g = mk(&f, UT_RST | UT_ACK);
	g.ack = f.our_iss + 7; /* does not ACK our SYN: ignored */
	tx(&f, &g);
	assert_int_equal(f.app.closed, 0);
	g.ack = f.our_iss + 1;
	tx(&f, &g);
	assert_int_equal(f.app.closed, 1);
	assert_int_equal(f.app.reason, SL_ECONNREFUSED);
	assert_string_equal(cstate(&f), "NONE");
	/* Bad arguments. */
	assert_int_equal(ns_tcp_connect(stk(&f), ut_ip_bcast | 0, 0, &app_ops, &f.app, &c), SL_EINVAL);
	fx_fini(&f);
}

/* SYN retransmissions back off (1 s, 2 s, 4 s...) and give up. */
static void test_connect_timeout(void **state)
{
	struct fx f;
	ut_seg_t r;
	uint32_t iss;
	unsigned n = 0;

	(void)state;
	fx_init(&f, NULL, NULL);
	est_active(&f, false);
	iss = f.our_iss;
	ut_peer_advance(f.p, 999 * SL_US_PER_MS);
	expect_none(&f);
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
	fx_fini(&f);
}

/* ---- Closing ---- */

static void test_active_close_to_time_wait(void **state)
{
	struct fx f;
	ut_seg_t r;

	(void)state;
	fx_init(&f, NULL, NULL);
	est_passive(&f);
	ns_conn_close(f.app.c);
	f.app.c = NULL;
	flush(&f);
	r = expect(&f, UT_FIN | UT_ACK);
	assert_string_equal(cstate(&f), "FIN_WAIT_1");
	f.rcv = r.seq + 1;
	tx_flags(&f, UT_ACK);
	assert_string_equal(cstate(&f), "FIN_WAIT_2");
	tx_flags(&f, UT_FIN | UT_ACK);
	f.snd++;
	r = expect(&f, UT_ACK);
	assert_int_equal(r.ack, f.snd);
	assert_string_equal(cstate(&f), "TIME_WAIT");
	assert_int_equal(stats(&f).tcp_time_wait_current, 1);
	/* A retransmitted FIN is ACKed again. */
	f.snd--;
	tx_flags(&f, UT_FIN | UT_ACK);
	f.snd++;
	expect(&f, UT_ACK);
	/* 2*MSL later it is gone. */
	ut_peer_advance(f.p, 61 * SL_US_PER_S);
	assert_string_equal(cstate(&f), "NONE");
	assert_int_equal(stats(&f).tcp_time_wait_current, 0);
	assert_int_equal(f.app.closed, 0); /* the app closed: no callback */
	fx_fini(&f);
}

/* Half-close: the peer's FIN shows as EOF; we keep sending, then close. */
static void test_passive_close_and_half_close(void **state)
{
	struct fx f;
	ut_seg_t r;

	(void)state;
	fx_init(&f, NULL, NULL);
	est_passive(&f);
	tx_data(&f, "QUIT\r\n", 6);
	/* Reading it opens the window well beyond the SYN-ACK's 64 KB: that
	 * window update ACKs the data. */
	r = expect(&f, UT_ACK);
	assert_int_equal(r.ack, f.snd);
	assert_true((uint32_t)r.wnd << 5 > 65535);
	tx_flags(&f, UT_FIN | UT_ACK);
	f.snd++;
	r = expect(&f, UT_ACK);
	assert_int_equal(r.ack, f.snd);
	assert_true(f.app.eof);
	assert_int_equal(f.app.rxlen, 6);
	assert_string_equal(cstate(&f), "CLOSE_WAIT");
	/* Still sending after the peer's FIN. */
	assert_int_equal(ns_conn_send(f.app.c, "221 bye\r\n", 9), 9);
	flush(&f);
	r = expect(&f, UT_ACK | UT_PSH);
	assert_int_equal(r.len, 9);
	f.rcv += 9;
	tx_flags(&f, UT_ACK);
	assert_int_equal(ns_conn_shutdown(f.app.c), 0);
	assert_int_equal(ns_conn_send(f.app.c, "x", 1), SL_ECLOSED);
	flush(&f);
	r = expect(&f, UT_FIN | UT_ACK);
	assert_string_equal(cstate(&f), "LAST_ACK");
	f.rcv = r.seq + 1;
	tx_flags(&f, UT_ACK);
	/* The protocol is done; the app still holds the handle. */
	assert_string_equal(cstate(&f), "CLOSED");
	assert_int_equal(f.app.closed, 0);
	ns_conn_close(f.app.c);
	assert_string_equal(cstate(&f), "NONE");
	fx_fini(&f);
}

/* Both FINs cross: FIN_WAIT_1 -> CLOSING -> TIME_WAIT. */
static void test_simultaneous_close(void **state)
{
	struct fx f;
	ut_seg_t r;

	(void)state;
	fx_init(&f, NULL, NULL);
	est_passive(&f);
	assert_int_equal(ns_conn_shutdown(f.app.c), 0);
	flush(&f);
	r = expect(&f, UT_FIN | UT_ACK);
	f.fin_seq = r.seq;
	tx_flags(&f, UT_FIN | UT_ACK); /* ack = our FIN's seq: not ACKing it */
	f.snd++;
	r = expect(&f, UT_ACK);
	assert_int_equal(r.ack, f.snd);
	assert_string_equal(cstate(&f), "CLOSING");
	f.rcv = f.fin_seq + 1;
	tx_flags(&f, UT_ACK);
	assert_string_equal(cstate(&f), "TIME_WAIT");
	assert_true(f.app.eof);
	ns_conn_close(f.app.c);
	ut_peer_advance(f.p, 61 * SL_US_PER_S);
	assert_string_equal(cstate(&f), "NONE");
	fx_fini(&f);
}

/* An orphaned FIN_WAIT_2 does not wait forever for the peer's FIN. */
static void test_orphan_fin_wait_2_times_out(void **state)
{
	struct fx f;
	ut_seg_t r;

	(void)state;
	fx_init(&f, NULL, NULL);
	est_passive(&f);
	ns_conn_close(f.app.c);
	flush(&f);
	r = expect(&f, UT_FIN | UT_ACK);
	f.rcv = r.seq + 1;
	tx_flags(&f, UT_ACK);
	assert_string_equal(cstate(&f), "FIN_WAIT_2");
	/* Data after close is ACKed and dropped. */
	tx_data(&f, "late", 4);
	ut_peer_advance(f.p, 50 * SL_US_PER_MS);
	r = expect(&f, UT_ACK);
	assert_int_equal(r.ack, f.snd);
	ut_peer_advance(f.p, 61 * SL_US_PER_S);
	assert_string_equal(cstate(&f), "NONE");
	fx_fini(&f);
}

/* ---- RST in every state (RFC 9293 §3.10.7, RFC 5961 §3.2) ---- */

enum st { S_SYN_SENT, S_SYN_RCVD, S_EST, S_FW1, S_FW2, S_CW, S_CLOSING, S_LAST_ACK, S_TW };

static void drive(struct fx *f, enum st st)
{
	ut_seg_t g, r;

	if (st == S_SYN_SENT) {
		est_active(f, false);
		return;
	}
	if (st == S_SYN_RCVD) {
		listen_app(f);
		f->snd = PISS;
		g = syn_seg(f);
		tx(f, &g);
		r = expect(f, UT_SYN | UT_ACK);
		f->our_iss = r.seq;
		f->rcv = r.seq + 1;
		f->snd = PISS + 1;
		return;
	}
	est_passive(f);
	switch (st) {
	case S_FW1:
	case S_FW2:
	case S_CLOSING:
	case S_TW:
		ns_conn_shutdown(f->app.c);
		flush(f);
		r = expect(f, UT_FIN | UT_ACK);
		f->fin_seq = r.seq;
		if (st == S_FW1)
			break;
		if (st == S_CLOSING) {
			tx_flags(f, UT_FIN | UT_ACK);
			f->snd++;
			expect(f, UT_ACK);
			break;
		}
		f->rcv = r.seq + 1;
		tx_flags(f, UT_ACK);
		if (st == S_FW2)
			break;
		tx_flags(f, UT_FIN | UT_ACK);
		f->snd++;
		expect(f, UT_ACK);
		break;
	case S_CW:
	case S_LAST_ACK:
		tx_flags(f, UT_FIN | UT_ACK);
		f->snd++;
		expect(f, UT_ACK);
		if (st == S_CW)
			break;
		ns_conn_shutdown(f->app.c);
		flush(f);
		r = expect(f, UT_FIN | UT_ACK);
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
		struct fx f;
		ut_seg_t g;

		fx_init(&f, NULL, NULL);
		drive(&f, k->st);
		assert_string_equal(cstate(&f), k->name);
		if (k->st == S_SYN_SENT) {
			g = mk(&f, UT_RST | UT_ACK);
			g.seq = 0;
			g.ack = f.our_iss + 1;
		} else {
			g = mk(&f, UT_RST);
		}
		tx(&f, &g);
		if (strcmp(cstate(&f), k->after) != 0)
			fail_msg("%s: state after RST %s, want %s", k->name, cstate(&f), k->after);
		assert_int_equal(f.app.closed, k->reason != 0 ? 1 : 0);
		if (k->reason != 0)
			assert_int_equal(f.app.reason, k->reason);
		if (k->st == S_SYN_RCVD)
			assert_int_equal(f.app.accepted, 0);
		if (k->st != S_TW && k->st != S_SYN_RCVD)
			assert_int_equal(stats(&f).tcp_rst_rx, 1);
		expect_none(&f); /* never a RST for a RST */
		if (f.app.c != NULL)
			ns_conn_close(f.app.c);
		fx_fini(&f);
	}
}

/* ---- RFC 5961 ---- */

static void test_challenge_ack_for_in_window_rst(void **state)
{
	struct fx f;
	ut_seg_t g, r;

	(void)state;
	fx_init(&f, NULL, NULL);
	est_passive(&f);
	g = mk(&f, UT_RST);
	g.seq = f.snd + 1000; /* in the window, not exact */
	tx(&f, &g);
	r = expect(&f, UT_ACK);
	assert_int_equal(r.ack, f.snd);
	assert_int_equal(r.seq, f.rcv);
	assert_string_equal(cstate(&f), "ESTABLISHED");
	assert_int_equal(f.app.closed, 0);
	assert_int_equal(stats(&f).tcp_challenge_acks, 1);
	/* Out of the window: silently dropped. */
	g.seq = f.snd + 10000000;
	tx(&f, &g);
	expect_none(&f);
	/* The exact one resets (as the challenge ACK asked). */
	g.seq = f.snd;
	tx(&f, &g);
	assert_int_equal(f.app.closed, 1);
	assert_int_equal(f.app.reason, SL_ERESET);
	fx_fini(&f);
}

static void test_challenge_ack_for_syn(void **state)
{
	struct fx f;
	ut_seg_t g, r;

	(void)state;
	fx_init(&f, NULL, NULL);
	est_passive(&f);
	/* In-window SYN (RFC 5961 §4.2): ACK, no reset, no new connection. */
	g = syn_seg(&f);
	g.seq = f.snd + 100;
	tx(&f, &g);
	r = expect(&f, UT_ACK);
	assert_int_equal(r.ack, f.snd);
	assert_string_equal(cstate(&f), "ESTABLISHED");
	assert_int_equal(stats(&f).tcp_challenge_acks, 1);
	/* An old SYN (retransmission of the first) gets an ACK too. */
	g.seq = PISS;
	tx(&f, &g);
	r = expect(&f, UT_ACK);
	assert_int_equal(r.ack, f.snd);
	assert_int_equal(f.app.closed, 0);
	ns_conn_abort(f.app.c);
	expect(&f, UT_RST);
	fx_fini(&f);
}

static void test_challenge_ack_for_bad_ack(void **state)
{
	struct fx f;
	ut_seg_t g, r;

	(void)state;
	fx_init(&f, NULL, NULL);
	est_passive(&f);
	/* ACK of data never sent (RFC 5961 §5.2): ACKed, data not taken. */
	g = mk(&f, UT_ACK | UT_PSH);
	g.ack = f.rcv + 5000;
	g.data = (const uint8_t *)"evil";
	g.len = 4;
	tx(&f, &g);
	r = expect(&f, UT_ACK);
	assert_int_equal(r.ack, f.snd);
	assert_int_equal(f.app.rxlen, 0);
	/* Older than SND.UNA - MAX.SND.WND (the peer's window is 64K << 7):
	 * the same. */
	g.ack = f.rcv - (100u << 20);
	tx(&f, &g);
	expect(&f, UT_ACK);
	assert_int_equal(stats(&f).tcp_challenge_acks, 2);
	assert_int_equal(f.app.rxlen, 0);
	ns_conn_abort(f.app.c);
	expect(&f, UT_RST);
	fx_fini(&f);
}

static void limit_3(ns_stack_params_t *p, void *arg)
{
	(void)arg;
	p->challenge_ack_limit = 3;
}

/* RFC 5961 §7: one budget per second for all challenge ACKs. */
static void test_challenge_ack_limit(void **state)
{
	struct fx f;
	ut_seg_t g;

	(void)state;
	fx_init(&f, limit_3, NULL);
	est_passive(&f);
	g = mk(&f, UT_RST);
	g.seq = f.snd + 10;
	for (int i = 0; i < 5; i++)
		tx(&f, &g);
	assert_int_equal(ut_peer_pending(f.p), 3);
	ut_peer_drain(f.p);
	assert_int_equal(stats(&f).tcp_challenge_acks, 3);
	assert_int_equal(stats(&f).tcp_challenge_acks_suppressed, 2);
	/* The next second has a new budget. */
	ut_peer_advance(f.p, SL_US_PER_S);
	tx(&f, &g);
	expect(&f, UT_ACK);
	assert_string_equal(cstate(&f), "ESTABLISHED");
	ns_conn_abort(f.app.c);
	ut_peer_drain(f.p);
	fx_fini(&f);
}

/* ---- Sequence and timestamp checks ---- */

static void test_out_of_window_data_is_acked_not_accepted(void **state)
{
	struct fx f;
	ut_seg_t g, r;
	ns_stats_t st;

	(void)state;
	fx_init(&f, NULL, NULL);
	est_passive(&f);
	g = mk(&f, UT_ACK | UT_PSH);
	g.seq = f.snd + 3000000; /* far beyond the window */
	g.data = (const uint8_t *)"junk";
	g.len = 4;
	tx(&f, &g);
	r = expect(&f, UT_ACK);
	assert_int_equal(r.ack, f.snd);
	/* Entirely old data: a duplicate, ACKed. */
	g.seq = f.snd - 100;
	tx(&f, &g);
	expect(&f, UT_ACK);
	assert_int_equal(f.app.data, 0);
	assert_int_equal(ns_conn_readable(f.app.c), 0);
	st = stats(&f);
	assert_int_equal(st.tcp_out_of_window, 1);
	assert_int_equal(st.tcp_dup_segs, 1);
	/* In-window data still works. */
	tx_data(&f, "ok", 2);
	assert_int_equal(f.app.rxlen, 2);
	ns_conn_abort(f.app.c);
	ut_peer_drain(f.p);
	fx_fini(&f);
}

/* RFC 7323 §5: a segment with an older timestamp is a stale duplicate. */
static void test_paws_drops_old_timestamp(void **state)
{
	struct fx f;
	ut_seg_t g, r;

	(void)state;
	fx_init(&f, NULL, NULL);
	est_passive(&f);
	tx_data(&f, "new", 3);
	assert_int_equal(f.app.rxlen, 3);
	g = mk(&f, UT_ACK | UT_PSH);
	g.tsval = f.tsval - 10;
	g.data = (const uint8_t *)"old";
	g.len = 3;
	tx(&f, &g);
	r = expect(&f, UT_ACK);
	assert_int_equal(r.ack, f.snd);
	assert_int_equal(f.app.rxlen, 3);
	assert_int_equal(stats(&f).tcp_paws_drops, 1);
	/* A RST is not subject to PAWS (RFC 7323 §5.3 R1). */
	g = mk(&f, UT_RST);
	g.tsval = 1;
	tx(&f, &g);
	assert_int_equal(f.app.closed, 1);
	fx_fini(&f);
}

/* ---- SYN cookies ---- */

static void backlog_1(ns_stack_params_t *p, void *arg)
{
	(void)arg;
	p->syn_backlog = 1;
}

static void test_syn_cookies_when_backlog_full(void **state)
{
	struct fx f;
	ut_seg_t g, r, a;
	ns_stats_t st;

	(void)state;
	fx_init(&f, backlog_1, NULL);
	listen_app(&f);
	/* First SYN fills the backlog of one. */
	f.snd = PISS;
	g = syn_seg(&f);
	tx(&f, &g);
	expect(&f, UT_SYN | UT_ACK);
	/* The second, from another port, gets a cookie: no state kept. */
	f.pport = PPORT + 1;
	f.snd = 777777;
	g = syn_seg(&f);
	g.ws = 9;
	tx(&f, &g);
	r = expect(&f, UT_SYN | UT_ACK);
	assert_int_equal(r.ack, 777778);
	assert_true(r.has_mss && r.mss <= 1460 && r.mss >= 536);
	assert_true(r.has_ts && r.sack_ok && r.has_ws);
	assert_string_equal(cstate(&f), "NONE");
	st = stats(&f);
	assert_int_equal(st.tcp_syncookies_sent, 1);
	assert_int_equal(st.tcp_listen_overflows, 1);
	/* A forged ACK fails and is reset. */
	f.snd = 777778;
	f.rcv = r.seq + 12345;
	tx_flags(&f, UT_ACK);
	a = expect(&f, UT_RST);
	assert_int_equal(a.seq, r.seq + 12345);
	assert_int_equal(stats(&f).tcp_syncookies_failed, 1);
	/* The right ACK, with data, completes the handshake from the cookie. */
	f.rcv = r.seq + 1;
	tx_data(&f, "EHLO x\r\n", 8);
	assert_int_equal(stats(&f).tcp_syncookies_ok, 1);
	assert_int_equal(f.app.accepted, 1);
	assert_string_equal(cstate(&f), "ESTABLISHED");
	assert_int_equal(f.app.rxlen, 8);
	assert_memory_equal(f.app.rx, "EHLO x\r\n", 8);
	{
		struct find fd = {.rport = f.pport, .state = "NONE"};

		ns_stack_foreach_conn(stk(&f), find_fn, &fd);
		assert_true(fd.info.mss > 0 && fd.info.mss <= 1460);
	}
	/* Options came back through the timestamp: SACK works, the window
	 * scale applies (9: the raw field times 512). */
	g = mk(&f, UT_ACK);
	g.wnd = 100; /* 51200 bytes */
	tx(&f, &g);
	{
		struct find fd = {.rport = f.pport, .state = "NONE"};

		ns_stack_foreach_conn(stk(&f), find_fn, &fd);
		assert_int_equal(fd.info.snd_wnd, 100u << 9);
	}
	ns_conn_abort(f.app.c);
	ut_peer_drain(f.p);
	fx_fini(&f);
}

static void test_syn_cookie_without_timestamps(void **state)
{
	struct fx f;
	ut_seg_t g, r;

	(void)state;
	fx_init(&f, backlog_1, NULL);
	listen_app(&f);
	f.snd = PISS;
	g = syn_seg(&f);
	tx(&f, &g);
	expect(&f, UT_SYN | UT_ACK);
	f.pport = PPORT + 1;
	f.ts = false;
	f.snd = 5555;
	g = syn_seg(&f);
	g.has_mss = true;
	g.mss = 1400;
	tx(&f, &g);
	r = expect(&f, UT_SYN | UT_ACK);
	/* Nothing can carry the other options: our MSS only. */
	assert_true(r.has_mss && r.mss == 1460);
	assert_false(r.has_ts || r.sack_ok || r.has_ws);
	f.snd = 5556;
	f.rcv = r.seq + 1;
	tx_flags(&f, UT_ACK);
	assert_int_equal(f.app.accepted, 1);
	assert_int_equal(stats(&f).tcp_syncookies_ok, 1);
	{
		/* The peer's 1400 came back as the table entry below it. */
		struct find fd = {.rport = f.pport, .state = "NONE"};

		ns_stack_foreach_conn(stk(&f), find_fn, &fd);
		assert_int_equal(fd.info.mss, 1300);
	}
	/* A cookie is good for two minutes at most. */
	ns_conn_abort(f.app.c);
	ut_peer_drain(f.p);
	f.pport = PPORT + 2;
	f.snd = 9000;
	g = syn_seg(&f);
	tx(&f, &g);
	r = expect(&f, UT_SYN | UT_ACK);
	ut_peer_advance(f.p, 3 * 60 * SL_US_PER_S);
	ut_peer_drain(f.p);
	f.snd = 9001;
	f.rcv = r.seq + 1;
	tx_flags(&f, UT_ACK);
	expect(&f, UT_RST);
	assert_int_equal(stats(&f).tcp_syncookies_failed, 1);
	fx_fini(&f);
}

/* ---- Ports without a listener (RFC 9293 §3.10.7.1) ---- */

static void test_closed_port_resets(void **state)
{
	struct fx f;
	ut_seg_t g, r;

	(void)state;
	fx_init(&f, NULL, NULL);
	f.snd = 4242;
	g = syn_seg(&f);
	tx(&f, &g);
	r = expect(&f, UT_RST | UT_ACK);
	assert_int_equal(r.seq, 0);
	assert_int_equal(r.ack, 4243);
	f.rcv = 99;
	tx_flags(&f, UT_ACK);
	r = expect(&f, UT_RST);
	assert_int_equal(r.seq, 99);
	/* Data without ACK: the ACK covers the data and the FIN. */
	g = mk(&f, UT_FIN | UT_PSH);
	g.data = (const uint8_t *)"abc";
	g.len = 3;
	tx(&f, &g);
	r = expect(&f, UT_RST | UT_ACK);
	assert_int_equal(r.ack, 4242 + 3 + 1);
	tx_flags(&f, UT_RST);
	tx_flags(&f, UT_RST | UT_ACK);
	expect_none(&f);
	assert_int_equal(stats(&f).tcp_rst_tx, 3);
	fx_fini(&f);
}

static void test_bad_checksum_and_header_dropped(void **state)
{
	struct fx f;
	ut_seg_t g;
	uint8_t raw[40];

	(void)state;
	fx_init(&f, NULL, NULL);
	listen_app(&f);
	f.snd = PISS;
	g = syn_seg(&f);
	g.bad_csum = true;
	tx(&f, &g);
	expect_none(&f);
	assert_int_equal(stats(&f).tcp_rx_bad_csum, 1);
	/* Truncated header, data offset beyond the segment, SYN+RST. */
	memset(raw, 0, sizeof(raw));
	ut_peer_send_raw(f.p, raw, 10);
	raw[12] = 0xf0;
	ut_peer_send_raw(f.p, raw, 20);
	expect_none(&f);
	assert_true(stats(&f).tcp_rx_bad_header >= 1);
	g = syn_seg(&f);
	g.flags = UT_SYN | UT_RST;
	tx(&f, &g);
	expect_none(&f);
	assert_string_equal(cstate(&f), "NONE");
	fx_fini(&f);
}

/* ---- Listening ---- */

static void test_listen_errors(void **state)
{
	struct fx f;

	(void)state;
	fx_init(&f, NULL, NULL);
	assert_int_equal(ns_tcp_listen(stk(&f), 25, &app_ops, NULL), 0);
	assert_int_equal(ns_tcp_listen(stk(&f), 25, &app_ops, NULL), SL_EADDRINUSE);
	assert_int_equal(ns_tcp_listen(stk(&f), 0, &app_ops, NULL), SL_EINVAL);
	assert_int_equal(ns_tcp_unlisten(stk(&f), 25), 0);
	assert_int_equal(ns_tcp_unlisten(stk(&f), 25), SL_ENOENT);
	assert_int_equal(ns_tcp_listen(stk(&f), 25, &app_ops, NULL), 0);
	fx_fini(&f);
}

/* accepted() may refuse: the connection is reset, nothing else fires. */
static void test_accept_refused_resets(void **state)
{
	struct fx f;
	ut_seg_t g, r;

	(void)state;
	fx_init(&f, NULL, NULL);
	f.app.accept_rc = SL_ELIMIT;
	listen_app(&f);
	f.snd = PISS;
	g = syn_seg(&f);
	tx(&f, &g);
	r = expect(&f, UT_SYN | UT_ACK);
	f.snd = PISS + 1;
	f.rcv = r.seq + 1;
	tx_flags(&f, UT_ACK);
	assert_int_equal(f.app.accepted, 1);
	expect(&f, UT_RST);
	assert_string_equal(cstate(&f), "NONE");
	assert_int_equal(f.app.closed, 0);
	fx_fini(&f);
}

/* Callbacks may close or abort their own connection. */
static void test_close_and_abort_from_callback(void **state)
{
	struct fx f;
	ut_seg_t r;

	(void)state;
	fx_init(&f, NULL, NULL);
	est_passive(&f);
	f.app.close_on_data = true;
	tx_data(&f, "x", 1);
	r = expect(&f, UT_FIN | UT_ACK);
	assert_int_equal(r.ack, f.snd);
	assert_string_equal(cstate(&f), "FIN_WAIT_1");
	fx_fini(&f);

	fx_init(&f, NULL, NULL);
	est_passive(&f);
	f.app.abort_on_data = true;
	tx_data(&f, "y", 1);
	r = expect(&f, UT_RST);
	assert_string_equal(cstate(&f), "NONE");
	assert_int_equal(f.app.closed, 0);
	/* Later segments for it find nothing and are reset. */
	tx_data(&f, "z", 1);
	expect(&f, UT_RST);
	fx_fini(&f);
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
		cmocka_unit_test(test_accept_refused_resets),
		cmocka_unit_test(test_close_and_abort_from_callback),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
