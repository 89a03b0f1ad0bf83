/* test_mta_conn - the connection driver (mta/mta_conn.c) between two
 * netstack instances on an in-memory wire, in virtual time, with a fake
 * engine.
 *
 * The engine answers "GO" with N_MSGS messages of MSG_LEN bytes, the way
 * the IMAP engine answers a long FETCH: each message is produced by a
 * request that completes at once (as the store's reads do); a request stops
 * before a message that does not fit in the output buffer, and the engine
 * issues the next one as soon as the buffer has RESERVE bytes of room,
 * which can be less than a message needs. While the TCP send queue is full,
 * such a request adds nothing, and the driver must wait for `writable`
 * rather than start the same empty request again and again: the worker
 * would never get back to the ACKs that drain the queue (the perf/imap
 * stall of a structure FETCH). The fake engine counts requests in a row
 * that added nothing without any output leaving, and gives up after
 * LIVELOCK of them so a regression fails instead of hanging. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <rte_mempool.h>

#include "mta_conn.h"
#include "ns.h"
#include "sl_err.h"
#include "sl_time.h"
#include "ut_eal.h"
#include "ut_wire.h"

#define PORT 1143
#define OUT_CAP 16384u
#define RESERVE 512u
#define LIVELOCK 100000u

struct fake {
	mta_conn_t *cn;
	uint8_t out[OUT_CAP];
	size_t out_len;
	uint32_t n_msgs, msg_len, next;
	bool go, req, done_sent;
	uint64_t requests, empty_streak;
	bool livelock;
};

static struct fake *the_fake;

static size_t room(const struct fake *f) { return OUT_CAP - f->out_len; }

/* The resume rule under test: a request as soon as RESERVE bytes are free. */
static void fake_resume(struct fake *f)
{
	if (f->go && !f->req && !f->done_sent && room(f) >= RESERVE)
		f->req = true;
}

static void fake_serve(struct fake *f)
{
	size_t before = f->out_len;

	f->requests++;
	while (f->next < f->n_msgs) {
		if (RESERVE + f->msg_len > room(f) && f->out_len > 0)
			break; /* resume from this message once the output drains */
		memset(f->out + f->out_len, 'a' + (int)(f->next % 26), f->msg_len);
		f->out_len += f->msg_len;
		f->next++;
	}
	if (f->next == f->n_msgs && room(f) >= 4) {
		memcpy(f->out + f->out_len, "OK\r\n", 4);
		f->out_len += 4;
		f->done_sent = true;
	}
	f->empty_streak = f->out_len == before ? f->empty_streak + 1 : 0;
	if (f->empty_streak >= LIVELOCK) {
		f->livelock = true; /* give up: the test fails, it does not hang */
		f->done_sent = true;
	}
}

static int e_create(void *proto, void *lst_ctx, mta_conn_t *cn, uint64_t now, void **sess_r)
{
	(void)proto;
	(void)lst_ctx;
	(void)now;
	assert_null(the_fake->cn);
	the_fake->cn = cn;
	*sess_r = the_fake;
	return 0;
}

static void e_destroy(void *proto, mta_conn_t *cn, void *sess)
{
	(void)proto;
	(void)cn;
	((struct fake *)sess)->cn = NULL;
}

static int e_input(void *sess, uint64_t now, const void *p, size_t n, size_t *used_r)
{
	struct fake *f = sess;

	(void)now;
	if (n >= 4 && memcmp(p, "GO\r\n", 4) == 0) {
		f->go = true;
		fake_resume(f);
		*used_r = 4;
		return 0;
	}
	*used_r = n; /* anything else is ignored */
	return 0;
}

static sl_slice_t e_output(const void *sess)
{
	const struct fake *f = sess;

	return sl_slice_make(f->out, f->out_len);
}

static int e_output_consume(void *sess, uint64_t now, size_t n)
{
	struct fake *f = sess;

	(void)now;
	assert_true(n <= f->out_len);
	memmove(f->out, f->out + n, f->out_len - n);
	f->out_len -= n;
	f->empty_streak = 0;
	fake_resume(f);
	return 0;
}

static bool e_closing(const void *sess)
{
	(void)sess;
	return false;
}

static bool e_has_request(const void *sess) { return ((const struct fake *)sess)->req; }

static void e_start_request(void *proto, mta_conn_t *cn, uint64_t now)
{
	struct fake *f = mta_conn_session(cn);

	(void)proto;
	(void)now;
	fake_serve(f);
	f->req = false;
	mta_conn_request_done(cn); /* answered at once, like a store read */
	fake_resume(f);
}

static uint64_t e_deadline(const void *sess)
{
	(void)sess;
	return SL_TIME_NEVER;
}

static int e_timeout(void *sess, uint64_t now)
{
	(void)sess;
	(void)now;
	return 0;
}

static void e_shutdown(void *sess, uint64_t now, const char *text)
{
	(void)sess;
	(void)now;
	(void)text;
}

static int e_tls_done(void *sess, uint64_t now, bool ok)
{
	(void)sess;
	(void)now;
	(void)ok;
	return 0;
}

static const mta_proto_ops_t fake_ops = {
	.name = "fake",
	.session_create = e_create,
	.session_destroy = e_destroy,
	.input = e_input,
	.output = e_output,
	.output_consume = e_output_consume,
	.closing = e_closing,
	.has_request = e_has_request,
	.start_request = e_start_request,
	.deadline = e_deadline,
	.timeout = e_timeout,
	.shutdown = e_shutdown,
	.tls_done = e_tls_done,
};

/* ---- the client: sends GO, reads and checks everything ---- */

struct client {
	ns_conn_t *c;
	uint32_t n_msgs, msg_len;
	uint64_t got;
	bool bad, closed, ok;
};

static void cl_connected(ns_conn_t *c, void *ctx)
{
	(void)ctx;
	assert_int_equal(ns_conn_send(c, "GO\r\n", 4), 4);
}

static void cl_data(ns_conn_t *c, void *ctx)
{
	struct client *k = ctx;
	uint64_t body = (uint64_t)k->n_msgs * k->msg_len;
	sl_slice_t iov[16];
	unsigned n;

	while ((n = ns_conn_peek(c, iov, 16)) > 0) {
		size_t used = 0;

		for (unsigned i = 0; i < n; i++) {
			for (size_t j = 0; j < iov[i].len; j++, k->got++) {
				const uint8_t b = iov[i].ptr[j];

				if (k->got < body) {
					if (b != 'a' + (int)((k->got / k->msg_len) % 26))
						k->bad = true;
				} else if (k->got - body >= 4 || b != "OK\r\n"[k->got - body]) {
					k->bad = true;
				}
			}
			used += iov[i].len;
		}
		ns_conn_consume(c, used);
	}
	if (k->got == body + 4)
		k->ok = true;
}

static void cl_closed(ns_conn_t *c, void *ctx, int reason)
{
	struct client *k = ctx;

	(void)c;
	(void)reason;
	k->closed = true;
	k->c = NULL;
}

static const ns_conn_ops_t cl_ops = {
	.connected = cl_connected,
	.data = cl_data,
	.closed = cl_closed,
};

struct rig {
	ut_wire_t *w;
	mta_srv_t *srv;
	struct client *k;
	struct fake *f;
};

static bool rig_done(void *arg)
{
	struct rig *r = arg;

	mta_srv_tick(r->srv, ut_wire_now(r->w));
	return r->k->ok || r->k->bad || r->k->closed || r->f->livelock;
}

static void small_sndbuf(ns_stack_params_t *p, int side, void *arg)
{
	(void)arg;
	p->max_conns = 16;
	p->keepalive_idle_us = 0;
	if (side == 1)
		p->sndbuf = 32768; /* the server's send queue fills often */
}

/* A long answer through a slow link: every message arrives, in order, and
 * the driver never spins on requests that make no progress. */
static void test_pump_waits_for_writable_on_empty_requests(void **state)
{
	static struct fake f;
	static struct client k;
	ut_wire_params_t wp;
	mta_srv_params_t mp;
	mta_srv_stats_t ms;
	const char *err = NULL;
	struct rig r;

	(void)state;
	ut_eal_init();
	memset(&f, 0, sizeof(f));
	memset(&k, 0, sizeof(k));
	f.n_msgs = k.n_msgs = 3000;
	f.msg_len = k.msg_len = 3000; /* more than RESERVE: the window exists */
	the_fake = &f;
	ut_wire_params_default(&wp);
	wp.seed = 7;
	wp.rate_bps = 20000000; /* 20 Mbit/s: the send queue backs up */
	wp.tweak = small_sndbuf;
	r.w = ut_wire_create(&wp);
	memset(&mp, 0, sizeof(mp));
	mp.stack = ut_wire_stack(r.w, 1);
	mp.ops = &fake_ops;
	mp.listeners[0] = (mta_listen_conf_t){PORT, false, NULL};
	mp.n_listeners = 1;
	mp.max_sessions = 4;
	mp.max_per_ip = 4;
	mp.ip_limit_text = "too many";
	mp.now_us = ut_wire_now(r.w);
	assert_int_equal(mta_srv_create(&mp, &r.srv, &err), 0);
	r.k = &k;
	r.f = &f;
	assert_int_equal(ns_tcp_connect(ut_wire_stack(r.w, 0), ut_wire_ip(1), PORT, &cl_ops, &k, &k.c),
			 0);
	ut_wire_run(r.w, rig_done, &r, 600 * SL_US_PER_S);
	mta_srv_get_stats(r.srv, &ms);
	if (f.livelock)
		fail_msg("the driver re-issued %u empty requests in a row (at message %u)", LIVELOCK,
			 f.next);
	assert_false(k.bad);
	assert_false(k.closed);
	assert_true(k.ok);
	assert_int_equal(f.next, f.n_msgs);
	/* the situation did arise, and was waited out */
	assert_true(ms.pump_yields > 0);
	mta_srv_destroy(&r.srv);
	if (k.c != NULL)
		ns_conn_abort(k.c);
	ut_wire_destroy(&r.w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pump_waits_for_writable_on_empty_requests),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
