/* test_store_notify - change notification (st_mailbox_gen, st_user_gen):
 * a change raises the generation only once its commit is durable and before
 * its completion runs; a reader that sees a raised generation sees the
 * committed change; flags, expunge, copy, move and the mailbox operations
 * raise the right counters; unrelated mailboxes and failed or no-op
 * requests raise nothing; an overflowing transaction raises everything. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
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

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* --- a delivery: not before the commit, already at the completion ------ */

struct seen {
	ut_store_t *u;
	uint64_t mbox;
	uint64_t gen_at_cb;
	uint32_t count_at_cb;
	int err;
	bool done;
};

static void on_deliver_seen(void *ctx, const st_result_t *res)
{
	struct seen *sn = ctx;
	st_mailbox_info_t mi;

	sn->err = res->err;
	sn->gen_at_cb = st_mailbox_gen(sn->u->s, sn->mbox);
	assert_int_equal(st_mailbox_get_by_id(sn->u->rd, sn->mbox, &mi), 0);
	sn->count_at_cb = mi.count;
	sn->done = true;
}

static void test_delivery_raises_after_commit_before_completion(void **state)
{
	ut_store_t *u = *state;
	uint64_t user, inbox, sent, g0, gs0, gu0;
	st_deliver_target_t t;
	st_target_result_t tr;
	st_deliver_t d = {0};
	struct seen sn = {0};

	ut_domain(u, "example.com");
	user = ut_user(u, "ann@example.com");
	inbox = ut_mbox_id(u, user, "INBOX");
	sent = ut_mbox_id(u, user, "Sent");
	assert_int_not_equal(inbox, sent);
	g0 = st_mailbox_gen(u->s, inbox);
	gs0 = st_mailbox_gen(u->s, sent);
	gu0 = st_user_gen(u->s, user);

	t = (st_deliver_target_t){user, NULL};
	d.body = SL_SLICE_LIT("Subject: hi\r\n\r\nbody\r\n");
	d.targets = &t;
	d.n_targets = 1;
	d.results = &tr;
	sn.u = u;
	sn.mbox = inbox;
	st_writer_hold_for_test(u->s, true);
	assert_int_equal(st_msg_deliver(u->c, &d, on_deliver_seen, &sn), 0);
	/* Queued, not committed: nothing may announce it yet. */
	sleep_ms(30);
	assert_int_equal(st_mailbox_gen(u->s, inbox), g0);
	assert_false(sn.done);
	st_writer_hold_for_test(u->s, false);
	while (!sn.done)
		st_client_wait(u->c, 1000);
	assert_int_equal(sn.err, 0);
	/* Raised before the completion was posted, and the reader in the
	 * callback already sees the message. */
	assert_int_not_equal(sn.gen_at_cb, g0);
	assert_int_equal(sn.count_at_cb, 1);
	assert_int_equal(st_mailbox_gen(u->s, inbox), sn.gen_at_cb);
	/* Another mailbox of the same user, and the user's mailbox set, are
	 * untouched by a delivery. */
	assert_int_equal(st_mailbox_gen(u->s, sent), gs0);
	assert_int_equal(st_user_gen(u->s, user), gu0);
	/* The accessors reach the same store. */
	assert_ptr_equal(st_client_store(u->c), u->s);
	assert_ptr_equal(st_reader_store(u->rd), u->s);
}

/* --- a watcher on another thread never sees a raise before the data ---- */

#define WATCH_MSGS 300

struct watcher {
	st_store_t *s;
	uint64_t mbox;
	uint64_t g_start;
	_Atomic int stop;
	unsigned observed;   /* distinct generations seen */
	unsigned violations; /* generation ahead of the visible messages */
	unsigned errors;
	uint64_t worst_gen;
	uint32_t worst_count;
};

static void *watch_main(void *arg)
{
	struct watcher *w = arg;
	st_reader_t *rd = NULL;
	uint64_t last = w->g_start;

	/* No cmocka asserts on this thread: failures are counted and
	 * checked by the test on the main thread. */
	if (st_reader_create(w->s, &rd) != 0) {
		w->errors++;
		return NULL;
	}
	while (!atomic_load(&w->stop)) {
		uint64_t g = st_mailbox_gen(w->s, w->mbox);
		st_mailbox_info_t mi;

		if (g == last) {
			sched_yield();
			continue;
		}
		last = g;
		w->observed++;
		/* Only deliveries to this one mailbox run, one raise per
		 * commit (a batch touches the mailbox once) and each commit
		 * adds at least one message: after seeing generation g, at
		 * least g - g_start messages must be visible. */
		if (st_mailbox_get_by_id(rd, w->mbox, &mi) != 0) {
			w->errors++;
			continue;
		}
		if (mi.count < g - w->g_start) {
			w->violations++;
			w->worst_gen = g - w->g_start;
			w->worst_count = mi.count;
		}
	}
	st_reader_destroy(&rd);
	return NULL;
}

struct counter {
	unsigned done, failed;
};

static void on_count(void *ctx, const st_result_t *res)
{
	struct counter *c = ctx;

	c->done++;
	if (res->err != 0)
		c->failed++;
}

static void test_watcher_never_sees_a_raise_before_the_data(void **state)
{
	ut_store_t *u = *state;
	uint64_t user, inbox;
	struct watcher w = {0};
	struct counter cnt = {0};
	st_deliver_target_t t;
	static st_target_result_t tr[WATCH_MSGS];
	static st_deliver_t d[WATCH_MSGS];
	pthread_t th;
	unsigned sent = 0;

	ut_domain(u, "example.com");
	user = ut_user(u, "ann@example.com");
	inbox = ut_mbox_id(u, user, "INBOX");
	t = (st_deliver_target_t){user, NULL};
	w.s = u->s;
	w.mbox = inbox;
	w.g_start = st_mailbox_gen(u->s, inbox);
	assert_int_equal(pthread_create(&th, NULL, watch_main, &w), 0);
	while (sent < WATCH_MSGS) {
		memset(&d[sent], 0, sizeof(d[sent]));
		d[sent].body = SL_SLICE_LIT("Subject: x\r\n\r\nwatched\r\n");
		d[sent].targets = &t;
		d[sent].n_targets = 1;
		d[sent].results = &tr[sent];
		int rc = st_msg_deliver(u->c, &d[sent], on_count, &cnt);
		if (rc == SL_EAGAIN) {
			st_client_wait(u->c, 1000);
			continue;
		}
		assert_int_equal(rc, 0);
		sent++;
	}
	while (cnt.done < WATCH_MSGS)
		st_client_wait(u->c, 1000);
	sleep_ms(20);
	atomic_store(&w.stop, 1);
	pthread_join(th, NULL);
	assert_int_equal(cnt.failed, 0);
	assert_int_equal(w.errors, 0);
	if (w.violations != 0)
		fail_msg("%u raises seen before their data (gen +%llu with %u messages)",
			 w.violations, (unsigned long long)w.worst_gen, w.worst_count);
	assert_true(w.observed > 0);
	/* Every commit raised it at least once, at most once per message. */
	uint64_t raised = st_mailbox_gen(u->s, inbox) - w.g_start;
	assert_true(raised >= 1 && raised <= WATCH_MSGS);
}

/* --- message operations ------------------------------------------------- */

static st_result_t flags_set(ut_store_t *u, uint64_t mbox, uint32_t lo, uint32_t hi,
			     enum st_flags_mode mode, uint32_t flags)
{
	st_uid_range_t rg = {lo, hi};
	st_flags_req_t fr = {0};

	fr.mailbox_id = mbox;
	fr.uids = &rg;
	fr.n_uids = 1;
	fr.mode = mode;
	fr.flags = flags;
	return UT_SYNC(u, st_msg_flags(u->c, &fr, st_admin_done, w));
}

static void test_message_operations_raise_their_mailboxes(void **state)
{
	ut_store_t *u = *state;
	uint64_t user, inbox, trash, sent, g, gt, gs, gu;
	st_uid_range_t all = {1, 100};
	st_result_t res;

	ut_domain(u, "example.com");
	user = ut_user(u, "ann@example.com");
	inbox = ut_mbox_id(u, user, "INBOX");
	trash = ut_mbox_id(u, user, "Trash");
	sent = ut_mbox_id(u, user, "Sent");
	for (int i = 0; i < 3; i++)
		ut_deliver(u, user, NULL, "a\r\n", 3, 0);
	gs = st_mailbox_gen(u->s, sent);
	gu = st_user_gen(u->s, user);

	/* A flag change raises it... */
	g = st_mailbox_gen(u->s, inbox);
	res = flags_set(u, inbox, 1, 1, ST_FLAGS_ADD, ST_FLAG_SEEN);
	assert_int_equal(res.err, 0);
	assert_int_equal(res.u.flags.changed, 1);
	assert_int_not_equal(st_mailbox_gen(u->s, inbox), g);
	/* ...a flag change that changes nothing does not. */
	g = st_mailbox_gen(u->s, inbox);
	res = flags_set(u, inbox, 1, 1, ST_FLAGS_ADD, ST_FLAG_SEEN);
	assert_int_equal(res.err, 0);
	assert_int_equal(res.u.flags.changed, 0);
	assert_int_equal(st_mailbox_gen(u->s, inbox), g);

	/* Copy raises the destination only. */
	g = st_mailbox_gen(u->s, inbox);
	gt = st_mailbox_gen(u->s, trash);
	res = UT_SYNC(u, st_msg_copy(u->c, inbox, &all, 1, trash, NULL, 0, st_admin_done, w));
	assert_int_equal(res.err, 0);
	assert_int_equal(res.u.copy.count, 3);
	assert_int_equal(st_mailbox_gen(u->s, inbox), g);
	assert_int_not_equal(st_mailbox_gen(u->s, trash), gt);

	/* Expunge raises it. */
	res = flags_set(u, inbox, 2, 2, ST_FLAGS_ADD, ST_FLAG_DELETED);
	assert_int_equal(res.err, 0);
	g = st_mailbox_gen(u->s, inbox);
	res = UT_SYNC(u, st_msg_expunge(u->c, inbox, &all, 1, true, NULL, 0, st_admin_done, w));
	assert_int_equal(res.err, 0);
	assert_int_equal(res.u.expunge.count, 1);
	assert_int_not_equal(st_mailbox_gen(u->s, inbox), g);

	/* Move raises both. */
	g = st_mailbox_gen(u->s, inbox);
	gt = st_mailbox_gen(u->s, trash);
	res = UT_SYNC(u, st_msg_move(u->c, inbox, &all, 1, trash, NULL, 0, st_admin_done, w));
	assert_int_equal(res.err, 0);
	assert_int_equal(res.u.copy.count, 2);
	assert_int_not_equal(st_mailbox_gen(u->s, inbox), g);
	assert_int_not_equal(st_mailbox_gen(u->s, trash), gt);

	/* None of this touched Sent or the user's mailbox set. */
	assert_int_equal(st_mailbox_gen(u->s, sent), gs);
	assert_int_equal(st_user_gen(u->s, user), gu);
}

/* --- mailbox operations and unrelated mailboxes ------------------------- */

#define MANY 40

static void test_mailbox_operations_and_unrelated_mailboxes(void **state)
{
	ut_store_t *u = *state;
	uint64_t ann, bob, ids[MANY], gens[MANY], gu_ann, gu_bob, work, g;
	char name[32];
	st_result_t res;

	ut_domain(u, "example.com");
	ann = ut_user(u, "ann@example.com");
	bob = ut_user(u, "bob@example.com");
	for (int i = 0; i < MANY; i++) {
		snprintf(name, sizeof(name), "box%02d", i);
		res = UT_SYNC(u, st_mailbox_create(u->c, bob, name, 0, st_admin_done, w));
		assert_int_equal(res.err, 0);
		ids[i] = res.u.mailbox.mailbox_id;
	}
	for (int i = 0; i < MANY; i++)
		gens[i] = st_mailbox_gen(u->s, ids[i]);
	gu_bob = st_user_gen(u->s, bob);

	/* Create raises the user's set. */
	gu_ann = st_user_gen(u->s, ann);
	res = UT_SYNC(u, st_mailbox_create(u->c, ann, "Work", 0, st_admin_done, w));
	assert_int_equal(res.err, 0);
	work = res.u.mailbox.mailbox_id;
	assert_int_not_equal(st_user_gen(u->s, ann), gu_ann);

	/* Rename raises the mailbox and the set. */
	g = st_mailbox_gen(u->s, work);
	gu_ann = st_user_gen(u->s, ann);
	res = UT_SYNC(u, st_mailbox_rename(u->c, ann, "Work", "Jobs", st_admin_done, w));
	assert_int_equal(res.err, 0);
	assert_int_not_equal(st_mailbox_gen(u->s, work), g);
	assert_int_not_equal(st_user_gen(u->s, ann), gu_ann);

	/* Subscribing raises the set, not the mailbox. */
	g = st_mailbox_gen(u->s, work);
	gu_ann = st_user_gen(u->s, ann);
	res = UT_SYNC(u, st_mailbox_subscribe(u->c, ann, "Jobs", true, st_admin_done, w));
	assert_int_equal(res.err, 0);
	assert_int_equal(st_mailbox_gen(u->s, work), g);
	assert_int_not_equal(st_user_gen(u->s, ann), gu_ann);

	/* A failed request raises nothing. */
	gu_ann = st_user_gen(u->s, ann);
	res = UT_SYNC(u, st_mailbox_set_roles(u->c, ann, "Nope", ST_ROLE_ARCHIVE,
					      st_admin_done, w));
	assert_int_equal(res.err, SL_ENOENT);
	assert_int_equal(st_user_gen(u->s, ann), gu_ann);

	/* A delivery into it, then delete: both raise it; delete raises the
	 * set too. */
	g = st_mailbox_gen(u->s, work);
	ut_deliver(u, ann, "Jobs", "x\r\n", 3, 0);
	assert_int_not_equal(st_mailbox_gen(u->s, work), g);
	g = st_mailbox_gen(u->s, work);
	gu_ann = st_user_gen(u->s, ann);
	res = UT_SYNC(u, st_mailbox_delete(u->c, ann, "Jobs", st_admin_done, w));
	assert_int_equal(res.err, 0);
	assert_int_not_equal(st_mailbox_gen(u->s, work), g);
	assert_int_not_equal(st_user_gen(u->s, ann), gu_ann);

	/* Nothing of that reached bob's 40 mailboxes or bob's set (ids are
	 * sequential and below the table size, so no counter is shared). */
	for (int i = 0; i < MANY; i++)
		assert_int_equal(st_mailbox_gen(u->s, ids[i]), gens[i]);
	assert_int_equal(st_user_gen(u->s, bob), gu_bob);
}

/* --- overflow: a transaction touching too much raises everything -------- */

static void test_overflow_raises_every_counter(void **state)
{
	ut_store_t *u = *state;
	uint64_t ann, bob, bob_inbox, g_bob_inbox, gu_bob;
	struct counter cnt = {0};
	unsigned want = ST_TOUCH_MAX + 8, sent = 0;
	char names[ST_TOUCH_MAX + 8][16];
	st_result_t res;

	ut_domain(u, "example.com");
	ann = ut_user(u, "ann@example.com");
	bob = ut_user(u, "bob@example.com");
	bob_inbox = ut_mbox_id(u, bob, "INBOX");
	while (sent < want) {
		snprintf(names[sent], sizeof(names[sent]), "m%04u", sent);
		int rc = st_mailbox_create(u->c, ann, names[sent], 0, on_count, &cnt);
		if (rc == SL_EAGAIN) {
			st_client_wait(u->c, 1000);
			continue;
		}
		assert_int_equal(rc, 0);
		sent++;
	}
	while (cnt.done < want)
		st_client_wait(u->c, 1000);
	assert_int_equal(cnt.failed, 0);
	g_bob_inbox = st_mailbox_gen(u->s, bob_inbox);
	gu_bob = st_user_gen(u->s, bob);
	/* Deleting ann removes more mailboxes than one transaction records:
	 * every counter is raised (spurious for bob, never a missed one). */
	res = UT_SYNC(u, st_user_del(u->c, "ann@example.com", st_admin_done, w));
	assert_int_equal(res.err, 0);
	assert_int_not_equal(st_mailbox_gen(u->s, bob_inbox), g_bob_inbox);
	assert_int_not_equal(st_user_gen(u->s, bob), gu_bob);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_delivery_raises_after_commit_before_completion,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_watcher_never_sees_a_raise_before_the_data,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_message_operations_raise_their_mailboxes,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_mailbox_operations_and_unrelated_mailboxes,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_overflow_raises_every_counter, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
