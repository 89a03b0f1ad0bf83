/* test_st_vanished - the bounded expunge history (docs/store.md, "The
 * expunge history"): at most vanished_max rows per mailbox, the oldest
 * pruned in the expunge's own transaction, the vanished floor raised and
 * kept in the mailbox record across a restart, records written before the
 * floor existed, the consistency checker's view of it, and the bound on
 * the work one prune does. */
#include "test_store_util.h"
#include "st_private.h"

#define VMAX 5u

static void reopen_with(ut_store_t *u, uint32_t vanished_max)
{
	st_store_opts_t o;

	ut_store_close(u);
	ut_opts(&o, u->path);
	o.vanished_max = vanished_max;
	ut_store_open_opts(u, &o);
}

static int setup(void **state)
{
	ut_store_t *u;

	sl_log_set_level(SL_LOG_WARN);
	u = ut_store_new();
	reopen_with(u, VMAX);
	ut_domain(u, "example.com");
	*state = u;
	return 0;
}

/* "uid@modseq;" for each history row still named since SINCE. */
struct hist {
	char text[4096];
	unsigned n;
};

static int hist_cb(void *ctx, uint32_t uid, uint64_t modseq)
{
	struct hist *h = ctx;
	size_t l = strlen(h->text);

	snprintf(h->text + l, sizeof(h->text) - l, "%u@%llu;", uid, (unsigned long long)modseq);
	h->n++;
	return 0;
}

static struct hist history(ut_store_t *u, uint64_t mbox, uint64_t since)
{
	struct hist h = {"", 0};

	assert_int_equal(st_changes_since(u->rd, mbox, since, NULL, hist_cb, &h), 0);
	return h;
}

static uint64_t floor_of(ut_store_t *u, uint64_t mbox)
{
	st_mailbox_info_t mi;
	uint64_t f = 0;

	assert_int_equal(st_mailbox_get_by_id(u->rd, mbox, &mi), 0);
	assert_int_equal(st_vanished_floor(u->rd, mbox, &f), 0);
	assert_true(f == mi.vanished_floor); /* the two ways agree */
	assert_true(f <= mi.highestmodseq);
	return f;
}

static void deliver_n(ut_store_t *u, uint64_t user, const char *mbox, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		char b[32];

		snprintf(b, sizeof(b), "body %u", i);
		ut_deliver(u, user, mbox, b, strlen(b), 0);
	}
}

static void expunge(ut_store_t *u, uint64_t mbox, uint32_t lo, uint32_t hi, uint32_t want)
{
	st_uid_range_t r = {lo, hi};
	st_result_t res = UT_SYNC(u, st_msg_expunge(u->c, mbox, &r, 1, false, NULL, 0,
						    st_admin_done, w));

	assert_int_equal(res.err, 0);
	assert_int_equal(res.u.expunge.count, want);
}

/* The raw mailbox record, for the tests that reach below the API. */
static st_mbox_t *raw_load(ut_store_t *u, uint64_t mbox)
{
	static st_mbox_t m;
	MDB_txn *txn;

	assert_int_equal(mdb_txn_begin(u->s->env, NULL, MDB_RDONLY, &txn), 0);
	assert_int_equal(st_mbox_load(u->s, txn, mbox, &m), 0);
	mdb_txn_abort(txn);
	return &m;
}

/* Modseqs: 12 deliveries take 2..13. UIDs 1..3 expunged one by one take
 * 14..16, then 4..9 in one request 17..22: nine rows, of which the four
 * oldest (14..17) go. With pruning off, all nine would stay. */
static void test_prune_keeps_the_newest(void **state)
{
	ut_store_t *u = *state;
	uint64_t user = ut_user(u, "a@example.com"), mbox;
	struct hist h;

	deliver_n(u, user, "INBOX", 12);
	mbox = ut_mbox_id(u, user, "INBOX");
	for (uint32_t uid = 1; uid <= 3; uid++)
		expunge(u, mbox, uid, uid, 1);
	assert_int_equal(floor_of(u, mbox), 0); /* under the limit: nothing pruned */
	assert_string_equal(history(u, mbox, 0).text, "1@14;2@15;3@16;");

	expunge(u, mbox, 4, 9, 6);
	h = history(u, mbox, 0);
	assert_string_equal(h.text, "5@18;6@19;7@20;8@21;9@22;");
	assert_int_equal(h.n, VMAX);
	assert_int_equal(floor_of(u, mbox), 17);
	assert_int_equal(raw_load(u, mbox)->x.vanished_count, VMAX);
	/* above the floor the history is still exact */
	assert_string_equal(history(u, mbox, 20).text, "8@21;9@22;");
	ut_check(u);

	/* each further expunge pushes exactly as many out */
	expunge(u, mbox, 10, 11, 2);
	assert_string_equal(history(u, mbox, 0).text, "7@20;8@21;9@22;10@23;11@24;");
	assert_int_equal(floor_of(u, mbox), 19);
}

static void test_floor_survives_a_restart(void **state)
{
	ut_store_t *u = *state;
	uint64_t user = ut_user(u, "a@example.com"), mbox;

	deliver_n(u, user, "INBOX", 10);
	mbox = ut_mbox_id(u, user, "INBOX");
	expunge(u, mbox, 1, 8, 8); /* modseqs 12..19; 12..14 pruned */
	assert_int_equal(floor_of(u, mbox), 14);

	reopen_with(u, VMAX);
	assert_int_equal(floor_of(u, mbox), 14);
	assert_int_equal(raw_load(u, mbox)->x.vanished_count, VMAX);
	ut_check(u);
	/* the kept count goes on from where it was */
	expunge(u, mbox, 9, 9, 1); /* modseq 20 */
	assert_int_equal(floor_of(u, mbox), 15);
	assert_string_equal(history(u, mbox, 0).text, "5@16;6@17;7@18;8@19;9@20;");

	/* a larger limit later keeps the floor and stops pruning */
	reopen_with(u, 100);
	assert_int_equal(floor_of(u, mbox), 15);
	expunge(u, mbox, 10, 10, 1);
	assert_int_equal(floor_of(u, mbox), 15);
	assert_int_equal(history(u, mbox, 0).n, VMAX + 1);
}

/* MOVE expunges from its source: the source's history is bounded too, the
 * destination's untouched. */
static void test_move_prunes_the_source(void **state)
{
	ut_store_t *u = *state;
	uint64_t user = ut_user(u, "a@example.com"), inbox, arch;
	st_uid_range_t r = {1, 7};
	st_result_t res;

	deliver_n(u, user, "INBOX", 8);
	inbox = ut_mbox_id(u, user, "INBOX");
	arch = ut_mbox_id(u, user, "Archive");
	res = UT_SYNC(u, st_msg_move(u->c, inbox, &r, 1, arch, NULL, 0, st_admin_done, w));
	assert_int_equal(res.err, 0);
	assert_int_equal(res.u.copy.count, 7);
	/* INBOX: deliveries 2..9, expunges 10..16, the two oldest pruned */
	assert_int_equal(floor_of(u, inbox), 11);
	assert_string_equal(history(u, inbox, 0).text, "3@12;4@13;5@14;6@15;7@16;");
	assert_int_equal(floor_of(u, arch), 0);
	assert_int_equal(history(u, arch, 0).n, 0);
}

static int uid_cb(void *ctx, uint32_t uid)
{
	struct hist *h = ctx;
	size_t l = strlen(h->text);

	snprintf(h->text + l, sizeof(h->text) - l, "%u,", uid);
	h->n++;
	return h->n == 100 ? 7 : 0; /* a callback's value stops the walk */
}

static void test_msg_uids_walks_present_uids(void **state)
{
	ut_store_t *u = *state;
	uint64_t user = ut_user(u, "a@example.com"), mbox;
	struct hist h = {"", 0};

	deliver_n(u, user, "INBOX", 6);
	mbox = ut_mbox_id(u, user, "INBOX");
	expunge(u, mbox, 2, 3, 2);
	assert_int_equal(st_msg_uids(u->rd, mbox, 1, UINT32_MAX, uid_cb, &h), 0);
	assert_string_equal(h.text, "1,4,5,6,");
	memset(&h, 0, sizeof(h));
	assert_int_equal(st_msg_uids(u->rd, mbox, 2, 5, uid_cb, &h), 0);
	assert_string_equal(h.text, "4,5,");
	memset(&h, 0, sizeof(h));
	assert_int_equal(st_msg_uids(u->rd, mbox + 100, 1, UINT32_MAX, uid_cb, &h), 0);
	assert_int_equal(h.n, 0);
	h.n = 99;
	assert_int_equal(st_msg_uids(u->rd, mbox, 1, UINT32_MAX, uid_cb, &h), 7);
	assert_int_equal(st_vanished_floor(u->rd, mbox + 100, &(uint64_t){0}), SL_ENOENT);
}

/* Rewrite the INBOX record as firmware before the floor wrote it: no
 * extension after the keywords. */
static void strip_extension(ut_store_t *u, uint64_t mbox)
{
	uint8_t kb[8], buf[4096];
	MDB_val k = st_val(kb, 8), v;
	MDB_txn *txn;

	st_be64_put(kb, mbox);
	assert_int_equal(mdb_txn_begin(u->s->env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_get(txn, u->s->dbi[ST_DB_MBOX], &k, &v), 0);
	assert_true(v.mv_size > sizeof(st_mbox_ext_t) && v.mv_size <= sizeof(buf));
	memcpy(buf, v.mv_data, v.mv_size);
	v = st_val(buf, v.mv_size - sizeof(st_mbox_ext_t));
	assert_int_equal(mdb_put(txn, u->s->dbi[ST_DB_MBOX], &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
}

/* A store from before: its records have no count and no floor. It opens,
 * checks clean, and its first expunge counts the old history once and
 * prunes it to the limit. */
static void test_record_without_the_extension(void **state)
{
	ut_store_t *u = *state;
	uint64_t user = ut_user(u, "a@example.com"), mbox;
	st_mailbox_info_t mi;

	reopen_with(u, 1000); /* the old firmware did not prune */
	deliver_n(u, user, "INBOX", 12);
	mbox = ut_mbox_id(u, user, "INBOX");
	expunge(u, mbox, 1, 9, 9); /* modseqs 14..22 */
	ut_store_close(u);
	{
		st_store_opts_t o;
		ut_opts(&o, u->path);
		o.vanished_max = VMAX;
		ut_store_open_opts(u, &o);
	}
	strip_extension(u, mbox);
	assert_true(raw_load(u, mbox)->x.flags & ST_MBOX_EXT_UNCOUNTED);
	assert_int_equal(floor_of(u, mbox), 0);
	assert_int_equal(st_mailbox_get_by_id(u->rd, mbox, &mi), 0);
	assert_int_equal(mi.count, 3);
	ut_check(u);
	/* a write that is not an expunge keeps the record uncounted */
	ut_deliver(u, user, "INBOX", "x", 1, 0);
	assert_true(raw_load(u, mbox)->x.flags & ST_MBOX_EXT_UNCOUNTED);
	ut_check(u);

	expunge(u, mbox, 10, 10, 1); /* modseq 24: ten rows, five pruned */
	assert_false(raw_load(u, mbox)->x.flags & ST_MBOX_EXT_UNCOUNTED);
	assert_int_equal(raw_load(u, mbox)->x.vanished_count, VMAX);
	assert_int_equal(floor_of(u, mbox), 18);
	assert_string_equal(history(u, mbox, 0).text, "6@19;7@20;8@21;9@22;10@24;");
}

/* Work per prune is bounded: lowering the limit under a long history
 * prunes at most (rows added + ST_VANISHED_PRUNE_EXTRA) per request, so
 * the history shrinks over a few expunges instead of in one long one. */
static void test_prune_work_is_bounded(void **state)
{
	ut_store_t *u = *state;
	uint64_t user = ut_user(u, "a@example.com"), mbox, f1;
	st_uid_range_t all = {1, UINT32_MAX};
	st_result_t res;
	const unsigned total = 2048;

	reopen_with(u, 10000);
	deliver_n(u, user, "INBOX", 1);
	mbox = ut_mbox_id(u, user, "INBOX");
	for (unsigned n = 1; n < total; n *= 2) { /* 2048 messages by copying */
		res = UT_SYNC(u, st_msg_copy(u->c, mbox, &all, 1, mbox, NULL, 0, st_admin_done, w));
		assert_int_equal(res.err, 0);
	}
	deliver_n(u, user, "INBOX", 2); /* UIDs 2049, 2050 */
	expunge(u, mbox, 1, total, total);
	assert_int_equal(floor_of(u, mbox), 0);
	assert_int_equal(history(u, mbox, 0).n, total);

	reopen_with(u, VMAX);
	expunge(u, mbox, total + 1, total + 1, 1);
	assert_int_equal(raw_load(u, mbox)->x.vanished_count,
			 total + 1 - (1 + ST_VANISHED_PRUNE_EXTRA));
	f1 = floor_of(u, mbox);
	assert_true(f1 > 0);
	ut_check(u);
	expunge(u, mbox, total + 2, total + 2, 1);
	assert_int_equal(raw_load(u, mbox)->x.vanished_count, VMAX);
	assert_true(floor_of(u, mbox) > f1);
	assert_int_equal(history(u, mbox, 0).n, VMAX);
}

/* The checker verifies the floor: no row at or below it, not above
 * HIGHESTMODSEQ, and the kept count matches the rows. */
static void test_checker_verifies_the_floor(void **state)
{
	ut_store_t *u = *state;
	uint64_t user = ut_user(u, "a@example.com"), mbox;
	st_check_report_t rep;
	uint8_t kb[20];
	MDB_val k = st_val(kb, 20), v = st_val("", 0);
	MDB_txn *txn;
	st_mbox_t m;

	deliver_n(u, user, "INBOX", 9);
	mbox = ut_mbox_id(u, user, "INBOX");
	expunge(u, mbox, 1, 7, 7); /* floor 12 */
	assert_int_equal(floor_of(u, mbox), 12);
	ut_check(u);

	/* a row at the floor: pruning left one behind */
	st_be64_put(kb, mbox);
	st_be64_put(kb + 8, 12);
	st_be32_put(kb + 16, 2);
	assert_int_equal(mdb_txn_begin(u->s->env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_put(txn, u->s->dbi[ST_DB_VANISHED], &k, &v, 0), 0);
	assert_int_equal(st_store_check(u->rd, &rep), SL_OK); /* (not committed yet) */
	assert_int_equal(mdb_txn_commit(txn), 0);
	assert_int_equal(st_store_check(u->rd, &rep), SL_ECORRUPT);
	assert_non_null(strstr(rep.first_problem, "at or below the vanished floor"));
	/* and the count no longer matches */
	assert_int_equal(rep.problems, 2);
	assert_int_equal(mdb_txn_begin(u->s->env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_del(txn, u->s->dbi[ST_DB_VANISHED], &k, NULL), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	ut_check(u);

	/* a floor above HIGHESTMODSEQ */
	assert_int_equal(mdb_txn_begin(u->s->env, NULL, 0, &txn), 0);
	assert_int_equal(st_mbox_load(u->s, txn, mbox, &m), 0);
	m.x.vanished_floor = m.r.highestmodseq + 1;
	assert_int_equal(st_mbox_store(u->s, txn, &m), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	/* (every kept row is now below the floor too: VMAX problems, and one
	   more for the floor itself) */
	assert_int_equal(st_store_check(u->rd, &rep), SL_ECORRUPT);
	assert_int_equal(rep.problems, VMAX + 1);

	/* a count that disagrees with the rows */
	assert_int_equal(mdb_txn_begin(u->s->env, NULL, 0, &txn), 0);
	assert_int_equal(st_mbox_load(u->s, txn, mbox, &m), 0);
	m.x.vanished_floor = 12;
	m.x.vanished_count = VMAX - 1;
	assert_int_equal(st_mbox_store(u->s, txn, &m), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	assert_int_equal(st_store_check(u->rd, &rep), SL_ECORRUPT);
	assert_non_null(strstr(rep.first_problem, "expunge entries, the record says 4"));
	/* the writer refuses to prune past the rows it can find (count too
	   high), instead of looping */
	assert_int_equal(mdb_txn_begin(u->s->env, NULL, 0, &txn), 0);
	assert_int_equal(st_mbox_load(u->s, txn, mbox, &m), 0);
	m.x.vanished_count = 100;
	assert_int_equal(st_mbox_store(u->s, txn, &m), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	{
		st_uid_range_t r = {8, 8};
		st_result_t res = UT_SYNC(u, st_msg_expunge(u->c, mbox, &r, 1, false, NULL, 0,
							    st_admin_done, w));
		assert_int_equal(res.err, SL_ECORRUPT);
	}
	/* put it right for the teardown check */
	assert_int_equal(mdb_txn_begin(u->s->env, NULL, 0, &txn), 0);
	assert_int_equal(st_mbox_load(u->s, txn, mbox, &m), 0);
	m.x.vanished_count = VMAX;
	assert_int_equal(st_mbox_store(u->s, txn, &m), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
}

/* A record whose extension is cut short, or has unknown flags, is corrupt
 * (not silently read as floor 0). */
static void test_bad_extension_is_corrupt(void **state)
{
	st_mbox_t m;
	uint8_t buf[sizeof(st_mbox_rec_t) + 8 + sizeof(st_mbox_ext_t)];
	st_mbox_rec_t r;
	st_mbox_ext_t x = {.vanished_floor = 3, .vanished_count = 1};
	size_t n = 0;

	(void)state;
	memset(&r, 0, sizeof(r));
	r.name_len = 5;
	memcpy(buf, &r, sizeof(r));
	n += sizeof(r);
	memcpy(buf + n, "INBOX", 6);
	n += 6;
	assert_int_equal(st_mbox_decode(1, st_val(buf, n), &m), 0);
	assert_true(m.x.flags & ST_MBOX_EXT_UNCOUNTED);
	memcpy(buf + n, &x, sizeof(x));
	assert_int_equal(st_mbox_decode(1, st_val(buf, n + sizeof(x)), &m), 0);
	assert_int_equal(m.x.vanished_floor, 3);
	assert_int_equal(m.x.vanished_count, 1);
	assert_int_equal(st_mbox_decode(1, st_val(buf, n + 5), &m), SL_ECORRUPT);
	x.flags = 0x80;
	memcpy(buf + n, &x, sizeof(x));
	assert_int_equal(st_mbox_decode(1, st_val(buf, n + sizeof(x)), &m), SL_ECORRUPT);
}

static void test_option_range(void **state)
{
	ut_store_t *u = *state;
	st_store_opts_t o;
	st_store_t *s2 = NULL;
	const char *err = NULL;

	st_store_opts_default(&o);
	assert_int_equal(o.vanished_max, 10000);
	ut_store_close(u);
	ut_opts(&o, u->path);
	o.vanished_max = 0;
	assert_int_equal(st_store_open(&o, &s2, &err), SL_EINVAL);
	assert_string_equal(err, "vanished_max must be 1..67108864");
	o.vanished_max = ST_VANISHED_MAX_LIMIT + 1;
	assert_int_equal(st_store_open(&o, &s2, &err), SL_EINVAL);
	assert_null(s2);
	o.vanished_max = ST_VANISHED_MAX_LIMIT;
	ut_store_open_opts(u, &o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_prune_keeps_the_newest, setup, ut_teardown_checked),
		cmocka_unit_test_setup_teardown(test_floor_survives_a_restart, setup, ut_teardown_checked),
		cmocka_unit_test_setup_teardown(test_move_prunes_the_source, setup, ut_teardown_checked),
		cmocka_unit_test_setup_teardown(test_msg_uids_walks_present_uids, setup, ut_teardown_checked),
		cmocka_unit_test_setup_teardown(test_record_without_the_extension, setup, ut_teardown_checked),
		cmocka_unit_test_setup_teardown(test_prune_work_is_bounded, setup, ut_teardown_checked),
		cmocka_unit_test_setup_teardown(test_checker_verifies_the_floor, setup, ut_teardown_checked),
		cmocka_unit_test_setup_teardown(test_bad_extension_is_corrupt, setup, ut_teardown_checked),
		cmocka_unit_test_setup_teardown(test_option_range, setup, ut_teardown_checked),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
