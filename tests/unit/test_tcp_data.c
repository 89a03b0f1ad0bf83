/* test_tcp_data - the data path against a scripted peer: reassembly and
 * the SACK blocks we report (RFC 2018), fast retransmit with SACK (RFC
 * 6675) and without (RFC 6582), receive window and window updates, send
 * backpressure and `writable`, zero-copy peek, memory and connection
 * limits, ephemeral ports, ICMP errors (RFC 5927). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <rte_ip.h>

#include "ns.h"
#include "sl_err.h"
#include "sl_time.h"
#include "ut_pkt.h"
#include "ut_wire.h"

#define MS SL_US_PER_MS
#define SEC SL_US_PER_S

static void small_rcvbuf(ns_stack_params_t *p, void *arg)
{
	(void)arg;
	p->rcvbuf = 65535;
}

/* Segments 2 and 4 arrive before 1 and 3: the SACK blocks name the most
 * recent first (RFC 2018 §4), and the data comes out in order. */
static void test_reassembly_and_sack_blocks(void **state)
{
	ut_tfx_t f;
	ut_seg_t g, r;
	uint8_t d[400];
	uint32_t a;

	(void)state;
	for (int i = 0; i < 400; i++)
		d[i] = (uint8_t)(i * 7 + 1);
	ut_tfx_init(&f, small_rcvbuf, NULL);
	ut_tfx_est_passive(&f);
	a = f.snd;
	g = ut_tfx_seg(&f, UT_ACK);
	g.len = 100;
	g.seq = a + 100;
	g.data = d + 100;
	ut_tfx_send(&f, &g);
	r = ut_tfx_expect(&f, UT_ACK);
	assert_int_equal(r.ack, a);
	assert_int_equal(r.nsack, 1);
	assert_int_equal(r.sack[0][0], a + 100);
	assert_int_equal(r.sack[0][1], a + 200);
	g.seq = a + 300;
	g.data = d + 300;
	ut_tfx_send(&f, &g);
	r = ut_tfx_expect(&f, UT_ACK);
	assert_int_equal(r.nsack, 2);
	assert_int_equal(r.sack[0][0], a + 300);
	assert_int_equal(r.sack[1][0], a + 100);
	/* A duplicate of a queued segment changes nothing. */
	ut_tfx_send(&f, &g);
	r = ut_tfx_expect(&f, UT_ACK);
	assert_int_equal(r.nsack, 2);
	assert_int_equal(f.app.rxlen, 0);
	g.seq = a;
	g.data = d;
	ut_tfx_send(&f, &g);
	r = ut_tfx_expect(&f, UT_ACK);
	assert_int_equal(r.ack, a + 200);
	assert_int_equal(r.nsack, 1);
	assert_int_equal(r.sack[0][0], a + 300);
	assert_int_equal(f.app.rxlen, 200);
	/* The last hole, overlapping both neighbours by a few bytes. */
	g.seq = a + 190;
	g.data = d + 190;
	g.len = 120;
	ut_tfx_send(&f, &g);
	r = ut_tfx_expect(&f, UT_ACK);
	assert_int_equal(r.ack, a + 400);
	assert_int_equal(r.nsack, 0);
	assert_int_equal(f.app.rxlen, 400);
	assert_memory_equal(f.app.rx, d, 400);
	assert_int_equal(ut_tfx_stats(&f).tcp_ooo_segs, 3);
	ns_conn_abort(f.app.c);
	ut_tfx_fini(&f);
}

/* The peer's sequence numbers wrap through 2^32 mid-stream, out of order
 * (RFC 9293 §3.4: all comparisons are modulo 2^32). */
static void test_sequence_wraparound(void **state)
{
	ut_tfx_t f;
	ut_seg_t g, r;
	uint8_t d[600];
	uint32_t a;

	(void)state;
	for (int i = 0; i < 600; i++)
		d[i] = (uint8_t)(i ^ 0x5a);
	ut_tfx_init(&f, small_rcvbuf, NULL);
	ut_tfx_listen(&f);
	f.snd = 0xfffffe00u;
	g = ut_tfx_syn(&f);
	ut_tfx_send(&f, &g);
	r = ut_tfx_expect(&f, UT_SYN | UT_ACK);
	f.rcv = r.seq + 1;
	f.snd = 0xfffffe01u;
	ut_tfx_send_flags(&f, UT_ACK);
	a = f.snd;
	/* [a+400, a+600) crosses zero and arrives first. */
	g = ut_tfx_seg(&f, UT_ACK);
	g.seq = a + 400;
	g.data = d + 400;
	g.len = 200;
	ut_tfx_send(&f, &g);
	r = ut_tfx_expect(&f, UT_ACK);
	assert_int_equal(r.ack, a);
	assert_int_equal(r.nsack, 1);
	assert_int_equal(r.sack[0][0], a + 400);
	assert_int_equal(r.sack[0][1], (uint32_t)(a + 600));
	g.seq = a;
	g.data = d;
	g.len = 400;
	ut_tfx_send(&f, &g);
	r = ut_tfx_expect(&f, UT_ACK);
	assert_int_equal(r.ack, (uint32_t)(a + 600));
	assert_int_equal(f.app.rxlen, 600);
	assert_memory_equal(f.app.rx, d, 600);
	ns_conn_abort(f.app.c);
	ut_peer_drain(f.p);
	ut_tfx_fini(&f);
}

/* IW10 segments out; the first is lost; SACKed duplicate ACKs make the
 * sender retransmit exactly it (RFC 6675 §5). */
static void test_sack_fast_retransmit(void **state)
{
	static uint8_t buf[10 * 1448];
	ut_tfx_t f;
	ut_seg_t g, r;
	uint32_t base, smss = 1448;
	unsigned n = 0;

	(void)state;
	ut_tfx_init(&f, NULL, NULL);
	ut_tfx_est_passive(&f);
	base = f.rcv;
	assert_int_equal(ns_conn_send(f.app.c, buf, sizeof(buf)), sizeof(buf));
	ut_tfx_flush(&f);
	while (ut_peer_recv(f.p, &r)) {
		assert_int_equal(r.seq, base + n * smss);
		assert_int_equal(r.len, smss);
		n++;
	}
	assert_int_equal(n, 10); /* RFC 6928 initial window */
	for (unsigned k = 1; k <= 3; k++) {
		g = ut_tfx_seg(&f, UT_ACK);
		g.ack = base;
		g.nsack = 1;
		g.sack[0][0] = base + smss;
		g.sack[0][1] = base + (k + 1) * smss;
		ut_tfx_send(&f, &g);
		if (k < 3)
			ut_tfx_expect_none(&f);
	}
	r = ut_tfx_expect(&f, UT_ACK);
	assert_int_equal(r.seq, base);
	assert_int_equal(r.len, smss);
	ut_tfx_expect_none(&f);
	assert_int_equal(ut_tfx_stats(&f).tcp_fast_retransmits, 1);
	assert_int_equal(ut_tfx_stats(&f).tcp_sack_recoveries, 1);
	/* The rest is ACKed: recovery ends, nothing more to send. */
	g = ut_tfx_seg(&f, UT_ACK);
	g.ack = base + 10 * smss;
	ut_tfx_send(&f, &g);
	ut_tfx_expect_none(&f);
	assert_int_equal(ut_tfx_stats(&f).tcp_rto_expired, 0);
	ns_conn_abort(f.app.c);
	ut_tfx_fini(&f);
}

/* The tail of a transfer is lost: no duplicate ACKs will come. A tail
 * loss probe (RFC 8985 §7) goes after 2 * SRTT instead of the RTO, and its
 * SACK marks what was sent before it as lost. */
static void test_tail_loss_probe(void **state)
{
	static uint8_t buf[5 * 1448];
	ut_tfx_t f;
	ut_seg_t g, r;
	uint32_t base, smss = 1448;

	(void)state;
	ut_tfx_init(&f, NULL, NULL);
	ut_tfx_est_passive(&f);
	base = f.rcv;
	assert_int_equal(ns_conn_send(f.app.c, buf, sizeof(buf)), sizeof(buf));
	ut_tfx_flush(&f);
	assert_int_equal(ut_peer_pending(f.p), 5);
	ut_peer_drain(f.p);
	g = ut_tfx_seg(&f, UT_ACK);
	g.ack = base + 2 * smss; /* 0 and 1 arrived, 2..4 did not */
	ut_tfx_send(&f, &g);
	ut_tfx_expect_none(&f);
	ut_peer_advance(f.p, 11 * SL_US_PER_MS);
	r = ut_tfx_expect(&f, UT_ACK | UT_PSH);
	assert_int_equal(r.seq, base + 4 * smss); /* the last segment again */
	assert_int_equal(ut_tfx_stats(&f).tcp_tlp_probes, 1);
	assert_int_equal(ut_tfx_stats(&f).tcp_rto_expired, 0);
	g.nsack = 1;
	g.sack[0][0] = base + 4 * smss;
	g.sack[0][1] = base + 5 * smss;
	ut_tfx_send(&f, &g);
	r = ut_tfx_expect(&f, UT_ACK);
	assert_int_equal(r.seq, base + 2 * smss);
	r = ut_tfx_expect(&f, UT_ACK);
	assert_int_equal(r.seq, base + 3 * smss);
	ut_tfx_expect_none(&f);
	g.nsack = 0;
	g.ack = base + 5 * smss;
	ut_tfx_send(&f, &g);
	ut_peer_advance(f.p, SL_US_PER_S);
	ut_tfx_expect_none(&f);
	assert_int_equal(ut_tfx_stats(&f).tcp_rto_expired, 0);
	ns_conn_abort(f.app.c);
	ut_tfx_fini(&f);
}

/* Two segments out, nothing more to send, the first lost: one SACKed
 * duplicate ACK is all that can come (RFC 5827 early retransmit). */
static void test_early_retransmit(void **state)
{
	static uint8_t buf[2 * 1448];
	ut_tfx_t f;
	ut_seg_t g, r;
	uint32_t base, smss = 1448;

	(void)state;
	ut_tfx_init(&f, NULL, NULL);
	ut_tfx_est_passive(&f);
	base = f.rcv;
	assert_int_equal(ns_conn_send(f.app.c, buf, sizeof(buf)), sizeof(buf));
	ut_tfx_flush(&f);
	ut_peer_drain(f.p);
	g = ut_tfx_seg(&f, UT_ACK);
	g.ack = base;
	g.nsack = 1;
	g.sack[0][0] = base + smss;
	g.sack[0][1] = base + 2 * smss;
	ut_tfx_send(&f, &g);
	r = ut_tfx_expect(&f, UT_ACK);
	assert_int_equal(r.seq, base);
	assert_int_equal(r.len, smss);
	assert_int_equal(ut_tfx_stats(&f).tcp_fast_retransmits, 1);
	ns_conn_abort(f.app.c);
	ut_peer_drain(f.p);
	ut_tfx_fini(&f);
}

static void no_sack(ns_stack_params_t *p, void *arg)
{
	(void)arg;
	p->sack = false;
}

/* Without SACK: three duplicate ACKs, then partial ACKs each resend the
 * next hole at once (RFC 6582 §3.2). */
static void test_newreno_fast_retransmit(void **state)
{
	static uint8_t buf[10 * 1448];
	ut_tfx_t f;
	ut_seg_t g, r;
	uint32_t base, smss = 1448;

	(void)state;
	ut_tfx_init(&f, no_sack, NULL);
	ut_tfx_est_passive(&f);
	base = f.rcv;
	assert_int_equal(ns_conn_send(f.app.c, buf, sizeof(buf)), sizeof(buf));
	ut_tfx_flush(&f);
	assert_int_equal(ut_peer_pending(f.p), 10);
	ut_peer_drain(f.p);
	g = ut_tfx_seg(&f, UT_ACK);
	g.ack = base;
	for (int k = 0; k < 3; k++)
		ut_tfx_send(&f, &g);
	r = ut_tfx_expect(&f, UT_ACK);
	assert_int_equal(r.seq, base);
	assert_int_equal(r.nsack, 0);
	ut_tfx_expect_none(&f);
	/* Partial ACK: segments 0 and 1 arrived, 2 was lost too. */
	g.ack = base + 2 * smss;
	ut_tfx_send(&f, &g);
	r = ut_tfx_expect(&f, UT_ACK);
	assert_int_equal(r.seq, base + 2 * smss);
	assert_int_equal(r.len, smss);
	g.ack = base + 10 * smss;
	ut_tfx_send(&f, &g);
	ut_tfx_expect_none(&f);
	assert_int_equal(ut_tfx_stats(&f).tcp_fast_retransmits, 1);
	assert_int_equal(ut_tfx_stats(&f).tcp_sack_recoveries, 0);
	assert_int_equal(ut_tfx_stats(&f).tcp_retransmits, 2);
	ns_conn_abort(f.app.c);
	ut_tfx_fini(&f);
}

static void rcvbuf_8k(ns_stack_params_t *p, void *arg)
{
	(void)arg;
	p->rcvbuf = 8192;
}

/* A full receive buffer closes the window; reading reopens it and the
 * peer is told at once (RFC 9293 §3.8.6.2.2). */
static void test_window_closes_and_reopens(void **state)
{
	static uint8_t d[1024], out[8192];
	ut_tfx_t f;
	ut_seg_t r, g;

	(void)state;
	ut_tfx_init(&f, rcvbuf_8k, NULL);
	f.app.no_read = true;
	ut_tfx_est_passive(&f);
	for (int i = 0; i < 8; i++)
		ut_tfx_send_data(&f, d, sizeof(d));
	ut_peer_advance(f.p, 50 * MS);
	while (ut_peer_recv(f.p, &r))
		;
	assert_int_equal(r.ack, f.snd);
	assert_int_equal(r.wnd, 0);
	assert_int_equal(ns_conn_readable(f.app.c), 8192);
	/* Beyond the window: not taken. */
	g = ut_tfx_seg(&f, UT_ACK);
	g.data = d;
	g.len = 1;
	ut_tfx_send(&f, &g);
	r = ut_tfx_expect(&f, UT_ACK);
	assert_int_equal(r.wnd, 0);
	assert_int_equal(ns_conn_readable(f.app.c), 8192);
	assert_int_equal(ns_conn_recv(f.app.c, out, sizeof(out)), 8192);
	ut_tfx_flush(&f);
	r = ut_tfx_expect(&f, UT_ACK);
	assert_int_equal(r.wnd, 8192);
	ns_conn_abort(f.app.c);
	ut_tfx_fini(&f);
}

/* Peek hands out slices into the received segments; consume releases. */
static void test_peek_is_zero_copy_and_ordered(void **state)
{
	ut_tfx_t f;
	sl_slice_t iov[4];
	unsigned n;

	(void)state;
	ut_tfx_init(&f, small_rcvbuf, NULL);
	f.app.no_read = true;
	ut_tfx_est_passive(&f);
	ut_tfx_send_data(&f, "hello ", 6);
	ut_tfx_send_data(&f, "world", 5);
	n = ns_conn_peek(f.app.c, iov, 4);
	assert_true(n >= 1);
	{
		char all[16];
		size_t k = 0;

		for (unsigned i = 0; i < n; i++) {
			memcpy(all + k, iov[i].ptr, iov[i].len);
			k += iov[i].len;
		}
		assert_int_equal(k, 11);
		assert_memory_equal(all, "hello world", 11);
	}
	ns_conn_consume(f.app.c, 8);
	assert_int_equal(ns_conn_readable(f.app.c), 3);
	n = ns_conn_peek(f.app.c, iov, 4);
	assert_int_equal(n, 1);
	assert_memory_equal(iov[0].ptr, "rld", 3);
	ns_conn_consume(f.app.c, 100); /* clamped */
	assert_int_equal(ns_conn_readable(f.app.c), 0);
	assert_int_equal(ns_conn_peek(f.app.c, iov, 4), 0);
	ns_conn_abort(f.app.c);
	ut_tfx_fini(&f);
}

static void sndbuf_8k(ns_stack_params_t *p, void *arg)
{
	(void)arg;
	p->sndbuf = 8192;
}

static void test_send_backpressure_and_writable(void **state)
{
	static uint8_t buf[20000];
	ut_tfx_t f;
	ut_seg_t g;

	(void)state;
	ut_tfx_init(&f, sndbuf_8k, NULL);
	ut_tfx_est_passive(&f);
	assert_int_equal(ns_conn_send_space(f.app.c), 8192);
	assert_int_equal(ns_conn_send(f.app.c, buf, sizeof(buf)), 8192);
	assert_int_equal(ns_conn_send(f.app.c, buf, 1), 0);
	assert_int_equal(ns_conn_send_space(f.app.c), 0);
	ut_tfx_flush(&f);
	assert_int_equal(ut_peer_pending(f.p), 6); /* 8192 in 1448-byte segments */
	ut_peer_drain(f.p);
	assert_int_equal(f.app.writable, 0);
	g = ut_tfx_seg(&f, UT_ACK);
	g.ack = f.rcv + 8192;
	ut_tfx_send(&f, &g);
	assert_int_equal(f.app.writable, 1);
	assert_int_equal(ns_conn_send_space(f.app.c), 8192);
	/* After shutdown nothing more is accepted. */
	assert_int_equal(ns_conn_shutdown(f.app.c), 0);
	assert_int_equal(ns_conn_send(f.app.c, buf, 1), SL_ECLOSED);
	assert_int_equal(ns_conn_send_space(f.app.c), 0);
	ns_conn_abort(f.app.c);
	ut_tfx_fini(&f);
}

static void mem_tiny(ns_stack_params_t *p, void *arg)
{
	(void)arg;
	p->tcp_mem_max = 3 * 2176;
}

/* Beyond tcp_mem_max received data is dropped and counted; the peer's
 * retransmission gets in once the app has read. */
static void test_memory_limit_drops_not_crashes(void **state)
{
	static uint8_t d[1000];
	ut_tfx_t f;
	ut_seg_t g, r;
	uint32_t a;

	(void)state;
	ut_tfx_init(&f, mem_tiny, NULL);
	f.app.no_read = true;
	ut_tfx_est_passive(&f);
	a = f.snd;
	for (int i = 0; i < 5; i++)
		ut_tfx_send_data(&f, d, sizeof(d));
	ut_peer_advance(f.p, 50 * MS);
	while (ut_peer_recv(f.p, &r))
		;
	assert_int_equal(ns_conn_readable(f.app.c), 3000);
	assert_int_equal(r.ack, a + 3000);
	assert_int_equal(ut_tfx_stats(&f).tcp_mem_drops, 2);
	/* Sending is limited by the same budget. */
	assert_true(ns_conn_send(f.app.c, d, sizeof(d)) < (ssize_t)sizeof(d));
	/* Read, then the retransmission is taken; `writable` fires once
	 * memory is back although no ACK freed send space. */
	f.app.no_read = false;
	ns_conn_consume(f.app.c, 3000);
	assert_int_equal(f.app.writable, 0);
	ut_peer_advance(f.p, 2 * MS);
	assert_int_equal(f.app.writable, 1);
	g = ut_tfx_seg(&f, UT_ACK);
	g.seq = a + 3000;
	g.data = d;
	g.len = 1000;
	ut_tfx_send(&f, &g);
	assert_int_equal(f.app.rxlen, 1000);
	ns_conn_abort(f.app.c);
	ut_peer_drain(f.p);
	ut_tfx_fini(&f);
}

static void conns_2(ns_stack_params_t *p, void *arg)
{
	(void)arg;
	p->max_conns = 2;
}

static void open_from(ut_tfx_t *f, uint16_t pport)
{
	ut_seg_t g, r;

	f->pport = pport;
	f->snd = UT_TFX_PISS;
	g = ut_tfx_syn(f);
	ut_tfx_send(f, &g);
	r = ut_tfx_expect(f, UT_SYN | UT_ACK);
	f->rcv = r.seq + 1;
	f->snd = UT_TFX_PISS + 1;
	ut_tfx_send_flags(f, UT_ACK);
}

static void test_max_conns(void **state)
{
	ut_tfx_t f;
	ns_conn_t *c;
	ns_stats_t st;

	(void)state;
	ut_tfx_init(&f, conns_2, NULL);
	ut_tfx_listen(&f);
	open_from(&f, 40000);
	open_from(&f, 40001);
	assert_int_equal(f.app.accepted, 2);
	assert_int_equal(ut_tfx_stats(&f).tcp_conns_current, 2);
	/* The third gets a cookie, and its ACK finds no room: reset. */
	open_from(&f, 40002);
	ut_tfx_expect(&f, UT_RST);
	assert_int_equal(f.app.accepted, 2);
	st = ut_tfx_stats(&f);
	assert_int_equal(st.tcp_syncookies_sent, 1);
	assert_true(st.tcp_conn_limit_drops >= 2);
	assert_int_equal(ns_tcp_connect(ut_tfx_stack(&f), ut_ip_peer, 80, &ut_app_ops, &f.app, &c),
			 SL_ELIMIT);
	ut_tfx_fini(&f);
}

static void test_ephemeral_ports_are_distinct(void **state)
{
	ut_tfx_t f;
	ns_conn_t *c[50];
	uint16_t ports[50];
	ut_seg_t r;

	(void)state;
	ut_tfx_init(&f, NULL, NULL);
	for (int i = 0; i < 50; i++) {
		assert_int_equal(ns_tcp_connect(ut_tfx_stack(&f), ut_ip_peer, 25, &ut_app_ops, &f.app,
						&c[i]),
				 0);
		assert_true(ut_peer_recv(f.p, &r));
		ports[i] = r.sport;
		assert_true(ports[i] >= 49152);
		for (int k = 0; k < i; k++)
			assert_int_not_equal(ports[k], ports[i]);
	}
	for (int i = 0; i < 50; i++)
		ns_conn_close(c[i]);
	/* Off-link without a gateway is unreachable. */
	ut_tfx_fini(&f);
}

static void no_gateway(ns_stack_params_t *p, void *arg)
{
	(void)arg;
	p->gateway = 0;
}

static void test_connect_off_link_unreachable(void **state)
{
	ut_tfx_t f;
	ns_conn_t *c;

	(void)state;
	ut_tfx_init(&f, no_gateway, NULL);
	assert_int_equal(ns_tcp_connect(ut_tfx_stack(&f), ut_ip_far, 25, &ut_app_ops, &f.app, &c),
			 SL_EUNREACH);
	assert_null(c);
	ut_tfx_fini(&f);
}

/* An ICMP error from the peer about a segment we sent. */
static void send_icmp(ut_tfx_t *f, uint8_t type, uint8_t code, uint32_t seq)
{
	uint8_t icmp[8 + 20 + 8], frame[128];
	struct rte_ipv4_hdr *oip = (struct rte_ipv4_hdr *)(icmp + 8);
	uint16_t ck;

	memset(icmp, 0, sizeof(icmp));
	icmp[0] = type;
	icmp[1] = code;
	oip->version_ihl = 0x45;
	oip->total_length = rte_cpu_to_be_16(40);
	oip->time_to_live = 64;
	oip->next_proto_id = IPPROTO_TCP;
	oip->src_addr = ut_ip_us;
	oip->dst_addr = ut_ip_peer;
	oip->hdr_checksum = rte_ipv4_cksum(oip);
	icmp[28] = (uint8_t)(f->port >> 8);
	icmp[29] = (uint8_t)f->port;
	icmp[30] = (uint8_t)(f->pport >> 8);
	icmp[31] = (uint8_t)f->pport;
	icmp[32] = (uint8_t)(seq >> 24);
	icmp[33] = (uint8_t)(seq >> 16);
	icmp[34] = (uint8_t)(seq >> 8);
	icmp[35] = (uint8_t)seq;
	ck = (uint16_t)~rte_raw_cksum(icmp, sizeof(icmp));
	memcpy(icmp + 2, &ck, 2);
	ut_input(ut_tfx_stack(f), frame,
		 ut_ipv4(frame, ut_ip_peer, ut_ip_us, IPPROTO_ICMP, 1, 0, icmp, sizeof(icmp)));
	ns_stack_flush(ut_tfx_stack(f));
}

static void test_icmp_errors(void **state)
{
	static uint8_t buf[3000];
	ut_tfx_t f;
	ut_seg_t r;
	ns_conn_info_t info;

	(void)state;
	/* Port unreachable while connecting: refused (RFC 1122 4.2.3.9). */
	ut_tfx_init(&f, NULL, NULL);
	ut_tfx_est_active(&f, false);
	send_icmp(&f, 3, 3, f.our_iss + 5); /* not about our SYN: ignored */
	assert_int_equal(f.app.closed, 0);
	send_icmp(&f, 3, 3, f.our_iss);
	assert_int_equal(f.app.closed, 1);
	assert_int_equal(f.app.reason, SL_ECONNREFUSED);
	ut_tfx_fini(&f);

	/* Fragmentation needed: smaller segments, no congestion response. */
	ut_tfx_init(&f, NULL, NULL);
	ut_tfx_est_passive(&f);
	assert_int_equal(ns_conn_send(f.app.c, buf, sizeof(buf)), sizeof(buf));
	ut_tfx_flush(&f);
	r = ut_tfx_expect(&f, UT_ACK);
	assert_int_equal(r.len, 1448);
	ut_peer_drain(f.p);
	send_icmp(&f, 3, 4, f.rcv);
	assert_true(ut_tfx_info(&f, f.pport, &info));
	assert_true(info.mss < 1448);
	r = ut_tfx_expect(&f, UT_ACK);
	assert_int_equal(r.seq, f.rcv);
	assert_int_equal(r.len, info.mss);
	assert_int_equal(f.app.closed, 0);
	ns_conn_abort(f.app.c);
	ut_peer_drain(f.p);
	ut_tfx_fini(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reassembly_and_sack_blocks),
		cmocka_unit_test(test_sequence_wraparound),
		cmocka_unit_test(test_sack_fast_retransmit),
		cmocka_unit_test(test_tail_loss_probe),
		cmocka_unit_test(test_early_retransmit),
		cmocka_unit_test(test_newreno_fast_retransmit),
		cmocka_unit_test(test_window_closes_and_reopens),
		cmocka_unit_test(test_peek_is_zero_copy_and_ordered),
		cmocka_unit_test(test_send_backpressure_and_writable),
		cmocka_unit_test(test_memory_limit_drops_not_crashes),
		cmocka_unit_test(test_max_conns),
		cmocka_unit_test(test_ephemeral_ports_are_distinct),
		cmocka_unit_test(test_connect_off_link_unreachable),
		cmocka_unit_test(test_icmp_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
