/* test_store_writer - group commit and concurrency: many submitters on
 * several threads, completions on the submitting thread and only after the
 * commit, eventfd wake-ups for an epoll loop, back-pressure, batch
 * isolation (a failing request does not fail its batch), fallback to one
 * transaction per request, and readers that never see a torn state while
 * the writer commits and grows the map under them. */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/epoll.h>
#include <time.h>

#include "test_store_util.h"
#include "st_private.h"

static int setup(void **state)
{
	sl_log_set_level(SL_LOG_ERR);
	*state = ut_store_new();
	return 0;
}

static int teardown(void **state)
{
	ut_store_t *u = *state;
	st_check_report_t rep;

	if (u->s != NULL && st_store_check(u->rd, &rep) != 0)
		fail_msg("store check: %s", rep.first_problem);
	ut_store_free(u);
	return 0;
}

/* --- many submitters --------------------------------------------------- */

#define SUBMITTERS 8
#define PER_THREAD 150

struct submitter {
	ut_store_t *u;
	uint64_t user, mbox;
	pthread_t self;
	st_client_t *c;
	st_reader_t *rd;
	unsigned done, bad_thread, not_visible, failed;
	uint32_t uids[PER_THREAD];
	st_deliver_target_t target;
	st_target_result_t results[PER_THREAD];
	st_deliver_t d[PER_THREAD];
	uint8_t body[PER_THREAD][512];
};

struct one {
	struct submitter *sb;
	unsigned i;
};

static void on_delivered(void *ctx, const st_result_t *res)
{
	struct one *o = ctx;
	struct submitter *sb = o->sb;
	st_msg_info_t m;

	if (!pthread_equal(pthread_self(), sb->self))
		sb->bad_thread++;
	if (res->err != 0 || sb->results[o->i].err != 0) {
		sb->failed++;
	} else {
		/* Completion means committed: a fresh snapshot must see it. */
		sb->uids[o->i] = sb->results[o->i].uid;
		if (st_msg_get(sb->rd, sb->mbox, sb->uids[o->i], &m) != 0 ||
		    m.size != sizeof(sb->body[0]))
			sb->not_visible++;
	}
	sb->done++;
	free(o);
}

static void *submit_thread(void *arg)
{
	struct submitter *sb = arg;
	unsigned next = 0;

	sb->self = pthread_self();
	assert_int_equal(st_client_create(sb->u->s, 16, &sb->c), 0);
	assert_int_equal(st_reader_create(sb->u->s, &sb->rd), 0);
	sb->target = (st_deliver_target_t){sb->user, NULL};
	while (sb->done < PER_THREAD) {
		while (next < PER_THREAD) {
			struct one *o = malloc(sizeof(*o));
			st_deliver_t *d = &sb->d[next];
			int rc;

			o->sb = sb;
			o->i = next;
			memset(d, 0, sizeof(*d));
			d->body = sl_slice_make(sb->body[next], sizeof(sb->body[next]));
			d->targets = &sb->target;
			d->n_targets = 1;
			d->results = &sb->results[next];
			rc = st_msg_deliver(sb->c, d, on_delivered, o);
			if (rc == SL_EAGAIN) {
				free(o);
				break;
			}
			assert_int_equal(rc, 0);
			next++;
		}
		st_client_wait(sb->c, 1000);
	}
	st_reader_destroy(&sb->rd);
	st_client_destroy(&sb->c);
	return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static void test_group_commit_many_submitters(void **state)
{
	ut_store_t *u = *state;
	static struct submitter sb[SUBMITTERS];
	static uint32_t all[SUBMITTERS * PER_THREAD];
	st_store_stats_t st;
	st_mailbox_info_t mi;
	uint64_t user;
	size_t n = 0;

	ut_domain(u, "example.com");
	user = ut_user(u, "a@example.com");
	st_store_stats(u->s, &st);
	uint64_t req0 = st.requests, batch0 = st.batches;
	for (int t = 0; t < SUBMITTERS; t++) {
		memset(&sb[t], 0, sizeof(sb[t]));
		sb[t].u = u;
		sb[t].user = user;
		sb[t].mbox = ut_mbox_id(u, user, "INBOX");
		for (int i = 0; i < PER_THREAD; i++)
			ut_fill(sb[t].body[i], sizeof(sb[t].body[i]), (uint64_t)(t * 1000 + i));
	}
	for (int t = 0; t < SUBMITTERS; t++)
		assert_int_equal(pthread_create(&sb[t].self, NULL, submit_thread, &sb[t]), 0);
	for (int t = 0; t < SUBMITTERS; t++)
		pthread_join(sb[t].self, NULL);
	for (int t = 0; t < SUBMITTERS; t++) {
		assert_int_equal(sb[t].done, PER_THREAD);
		assert_int_equal(sb[t].failed, 0);
		assert_int_equal(sb[t].bad_thread, 0);
		assert_int_equal(sb[t].not_visible, 0);
		for (int i = 0; i < PER_THREAD; i++)
			all[n++] = sb[t].uids[i];
	}
	/* Every delivery got its own UID, 1..N with no gaps. */
	qsort(all, n, sizeof(all[0]), cmp_u32);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(all[i], i + 1);
	assert_int_equal(st_mailbox_get(u->rd, user, "INBOX", &mi), 0);
	assert_int_equal(mi.count, n);
	/* Group commit happened: fewer transactions than requests. */
	st_store_stats(u->s, &st);
	assert_int_equal(st.requests - req0, n);
	assert_true(st.batches - batch0 < n);
	assert_true(st.batch_max > 1);
}

/* --- eventfd + epoll ---------------------------------------------------- */

static void count_cb(void *ctx, const st_result_t *res)
{
	(void)res;
	(*(int *)ctx)++;
}

static void test_eventfd_wakes_an_epoll_loop(void **state)
{
	ut_store_t *u = *state;
	struct epoll_event ev = {.events = EPOLLIN}, out;
	int ep = epoll_create1(0), called = 0;

	assert_true(ep >= 0);
	assert_int_equal(epoll_ctl(ep, EPOLL_CTL_ADD, st_client_fd(u->c), &ev), 0);
	/* Idle: nothing wakes the loop. */
	assert_int_equal(epoll_wait(ep, &out, 1, 0), 0);
	assert_false(st_client_pending(u->c));
	assert_int_equal(st_domain_add(u->c, "example.com", count_cb, &called), 0);
	assert_int_equal(st_client_inflight(u->c), 1);
	/* The worker sleeps in epoll until the commit is durable. */
	assert_int_equal(epoll_wait(ep, &out, 1, 5000), 1);
	assert_int_equal(called, 0); /* callbacks run only from poll */
	assert_int_equal(st_client_poll(u->c), 1);
	assert_int_equal(called, 1);
	assert_int_equal(st_client_inflight(u->c), 0);
	/* Level-triggered and drained: no spurious wake-up. */
	assert_int_equal(epoll_wait(ep, &out, 1, 0), 0);
	assert_int_equal(st_client_poll(u->c), 0);
	close(ep);
}

/* --- back-pressure and argument errors ---------------------------------- */

static void test_backpressure_and_limits(void **state)
{
	ut_store_t *u = *state;
	st_client_t *small = NULL, *huge = NULL;
	int called = 0;

	assert_int_equal(st_client_create(u->s, 2, &small), 0);
	st_writer_hold_for_test(u->s, true);
	assert_int_equal(st_domain_add(small, "a.example", count_cb, &called), 0);
	assert_int_equal(st_domain_add(small, "b.example", count_cb, &called), 0);
	assert_int_equal(st_domain_add(small, "c.example", count_cb, &called), SL_EAGAIN);
	assert_int_equal(st_client_inflight(small), 2);
	st_writer_hold_for_test(u->s, false);
	while (called < 2)
		st_client_wait(small, 1000);
	assert_int_equal(st_domain_add(small, "c.example", count_cb, &called), 0);
	st_client_destroy(&small); /* waits for, and runs, the last callback */
	assert_null(small);
	assert_int_equal(called, 3);

	/* Clients reserve ring slots: the ring can never overflow. */
	assert_int_equal(st_client_create(u->s, 4096, &huge), SL_ELIMIT);
	assert_int_equal(st_client_create(u->s, 0, &huge), SL_EINVAL);
	assert_int_equal(st_domain_add(NULL, "x.example", count_cb, &called), SL_EINVAL);
	assert_int_equal(st_msg_deliver(u->c, NULL, count_cb, &called), SL_EINVAL);
}

/* --- one batch, independent requests ------------------------------------ */

struct res_log {
	int err[8];
	int n;
};

static void log_cb(void *ctx, const st_result_t *res)
{
	struct res_log *l = ctx;

	l->err[l->n++] = res->err;
}

static void test_batch_isolation(void **state)
{
	ut_store_t *u = *state;
	struct res_log log = {0};
	st_store_stats_t before, after;

	ut_domain(u, "example.com");
	st_store_stats(u->s, &before);
	st_writer_hold_for_test(u->s, true);
	assert_int_equal(st_domain_add(u->c, "one.example", log_cb, &log), 0);
	assert_int_equal(st_domain_add(u->c, "example.com", log_cb, &log), 0); /* exists */
	assert_int_equal(st_domain_add(u->c, "bad domain", log_cb, &log), 0);  /* pre-failed */
	assert_int_equal(st_domain_add(u->c, "two.example", log_cb, &log), 0);
	assert_int_equal(st_domain_del(u->c, "one.example", log_cb, &log), 0); /* sees #1 */
	st_writer_hold_for_test(u->s, false);
	while (log.n < 5)
		st_client_wait(u->c, 1000);
	st_store_stats(u->s, &after);
	assert_int_equal(after.batches - before.batches, 1);
	assert_int_equal(log.err[0], 0);
	assert_int_equal(log.err[1], SL_EEXIST);
	assert_int_equal(log.err[2], SL_EINVAL);
	assert_int_equal(log.err[3], 0);
	assert_int_equal(log.err[4], 0);
	assert_int_equal(st_domain_exists(u->rd, "two.example"), 0);
	assert_int_equal(st_domain_exists(u->rd, "one.example"), SL_ENOENT);
}

/* A batch that cannot commit as a whole (the map is at its maximum) is
 * re-run one request per transaction: only the oversized request fails. */
static void test_oversized_request_fails_alone(void **state)
{
	ut_store_t *u = *state;
	st_store_opts_t o;
	struct res_log log = {0};
	st_store_stats_t st;
	st_deliver_target_t t;
	st_target_result_t tr[4];
	st_deliver_t d[4];
	uint8_t *huge = malloc(24u << 20);
	uint64_t user;

	ut_store_close(u);
	ut_opts(&o, u->path);
	o.map_size = 16u << 20;
	o.map_size_max = 16u << 20;
	ut_store_open_opts(u, &o);
	ut_domain(u, "example.com");
	user = ut_user(u, "a@example.com");
	t = (st_deliver_target_t){user, NULL};
	memset(huge, 'h', 24u << 20);
	memset(d, 0, sizeof(d));
	for (int i = 0; i < 4; i++) {
		d[i].targets = &t;
		d[i].n_targets = 1;
		d[i].results = &tr[i];
		d[i].body = i == 2 ? sl_slice_make(huge, 24u << 20)
				   : sl_slice_make(huge, 1000 + (size_t)i);
	}
	st_writer_hold_for_test(u->s, true);
	for (int i = 0; i < 4; i++)
		assert_int_equal(st_msg_deliver(u->c, &d[i], log_cb, &log), 0);
	st_writer_hold_for_test(u->s, false);
	while (log.n < 4)
		st_client_wait(u->c, 1000);
	assert_int_equal(log.err[0], 0);
	assert_int_equal(log.err[1], 0);
	assert_int_equal(log.err[2], SL_EFULL);
	assert_int_equal(log.err[3], 0);
	st_store_stats(u->s, &st);
	assert_true(st.singles >= 4);
	free(huge);
}

/* --- readers against a committing, growing writer ----------------------- */

struct torn {
	ut_store_t *u;
	uint64_t a, b, a_inbox, a_arch, b_inbox;
	atomic_int stop;
	unsigned snapshots, torn;
	char why[128];
};

struct snap {
	struct torn *t;
	uint64_t rows, bytes;
};

static int sum_rows(void *ctx, const st_msg_info_t *m)
{
	struct snap *s = ctx;

	s->rows++;
	s->bytes += m->size;
	return 0;
}

/* One snapshot: counters agree with rows, and every two-recipient delivery
 * is in both users' mailboxes or in neither. */
static int check_snapshot(st_reader_t *rd, void *ctx)
{
	struct torn *t = ctx;
	st_mailbox_info_t ai, aa, bi;
	struct snap s = {t, 0, 0};

	if (st_mailbox_get_by_id(rd, t->a_inbox, &ai) != 0 ||
	    st_mailbox_get_by_id(rd, t->a_arch, &aa) != 0 ||
	    st_mailbox_get_by_id(rd, t->b_inbox, &bi) != 0)
		return -1;
	if (st_msg_list(rd, t->a_inbox, 1, UINT32_MAX, sum_rows, &s) != 0)
		return -1;
	if (s.rows != ai.count || s.bytes != ai.size) {
		snprintf(t->why, sizeof(t->why), "rows %llu/%u", (unsigned long long)s.rows,
			 ai.count);
		return 1;
	}
	if (ai.count + aa.count != bi.count) {
		snprintf(t->why, sizeof(t->why), "a %u+%u b %u", ai.count, aa.count, bi.count);
		return 1;
	}
	return 0;
}

static void *reader_thread(void *arg)
{
	struct torn *t = arg;
	st_reader_t *rd;

	assert_int_equal(st_reader_create(t->u->s, &rd), 0);
	while (!atomic_load(&t->stop)) {
		int rc = st_read(rd, check_snapshot, t);
		if (rc > 0)
			t->torn++;
		else
			assert_int_equal(rc, 0);
		t->snapshots++;
	}
	st_reader_destroy(&rd);
	return NULL;
}

static void test_readers_never_see_torn_state(void **state)
{
	ut_store_t *u = *state;
	static struct torn t;
	st_store_opts_t o;
	st_store_stats_t st;
	pthread_t th[3];
	uint8_t body[40000];

	ut_store_close(u);
	ut_opts(&o, u->path);
	ut_rmrf(u->path);
	o.map_size = 512u << 10; /* small: the map grows while readers read */
	ut_store_open_opts(u, &o);
	memset(&t, 0, sizeof(t));
	t.u = u;
	ut_domain(u, "example.com");
	t.a = ut_user(u, "a@example.com");
	t.b = ut_user(u, "b@example.com");
	t.a_inbox = ut_mbox_id(u, t.a, "INBOX");
	t.a_arch = ut_mbox_id(u, t.a, "Archive");
	t.b_inbox = ut_mbox_id(u, t.b, "INBOX");
	for (int i = 0; i < 3; i++)
		assert_int_equal(pthread_create(&th[i], NULL, reader_thread, &t), 0);
	for (int i = 0; i < 120; i++) {
		st_deliver_target_t tg[2] = {{t.a, NULL}, {t.b, NULL}};
		st_target_result_t tr[2];
		st_deliver_t d = {0};
		st_result_t res;

		ut_fill(body, sizeof(body), (uint64_t)i);
		d.body = sl_slice_make(body, sizeof(body) - (size_t)(i * 37 % 1000));
		d.targets = tg;
		d.n_targets = 2;
		d.results = tr;
		res = UT_SYNC(u, st_msg_deliver(u->c, &d, st_admin_done, w));
		assert_int_equal(res.err, 0);
		assert_int_equal(res.u.deliver.n_ok, 2);
		if (i % 3 == 2) {
			st_uid_range_t r = {tr[0].uid, tr[0].uid};
			res = UT_SYNC(u, st_msg_move(u->c, t.a_inbox, &r, 1, t.a_arch, NULL, 0,
						     st_admin_done, w));
			assert_int_equal(res.u.copy.count, 1);
		}
		if (i % 10 == 9) {
			st_uid_range_t r = {1, UINT32_MAX};
			st_flags_req_t f = {.mailbox_id = t.a_inbox, .uids = &r, .n_uids = 1,
					    .mode = ST_FLAGS_ADD, .flags = ST_FLAG_SEEN};
			res = UT_SYNC(u, st_msg_flags(u->c, &f, st_admin_done, w));
			assert_int_equal(res.err, 0);
		}
	}
	atomic_store(&t.stop, 1);
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	if (t.torn != 0)
		fail_msg("%u torn snapshots of %u: %s", t.torn, t.snapshots, t.why);
	assert_true(t.snapshots > 10);
	st_store_stats(u->s, &st);
	assert_true(st.map_grows >= 2);
}

/* --- destroy with requests in flight ------------------------------------ */

static void test_client_destroy_runs_pending_callbacks(void **state)
{
	ut_store_t *u = *state;
	st_client_t *c = NULL;
	int called = 0;
	char name[32];

	assert_int_equal(st_client_create(u->s, 64, &c), 0);
	for (int i = 0; i < 50; i++) {
		snprintf(name, sizeof(name), "d%d.example", i);
		assert_int_equal(st_domain_add(c, name, count_cb, &called), 0);
	}
	st_client_destroy(&c);
	assert_int_equal(called, 50);
	assert_int_equal(st_domain_exists(u->rd, "d49.example"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_group_commit_many_submitters, setup, teardown),
		cmocka_unit_test_setup_teardown(test_eventfd_wakes_an_epoll_loop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backpressure_and_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch_isolation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversized_request_fails_alone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_readers_never_see_torn_state, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_destroy_runs_pending_callbacks, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
