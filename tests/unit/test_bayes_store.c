/* test_bayes_store - the Bayes classifier on a real LMDB store (mta's
 * bayes_store adapter over the filter key space): learn, double-learn
 * protection with updates in flight, move, unlearn down to no keys, a round
 * trip that must score exactly as the in-memory store does, persistence
 * across a reopen, and corrupt counters. */
#include "test_store_util.h"

#include <math.h>

#include "bayes/bayes.h"
#include "bayes_store.h"
#include "test_bayes_util.h"

typedef struct done {
	int calls;
	int err;
} done_t;

static void on_done(void *ctx, int err)
{
	done_t *d = ctx;

	d->calls++;
	d->err = err;
}

typedef struct fx {
	ut_store_t *u;
	bayes_st_t *bs;
	bayes_t *b;
	bayes_tok_t *t;
} fx_t;

static void fx_open_bayes(fx_t *f)
{
	assert_int_equal(bayes_st_create(f->u->c, f->u->rd, &f->bs), 0);
	assert_int_equal(bayes_create(NULL, bayes_st_store(f->bs), &f->b), 0);
}

static void fx_close_bayes(fx_t *f)
{
	bayes_destroy(&f->b);
	assert_int_equal(bayes_st_destroy(&f->bs), 0);
	assert_null(f->bs);
}

static int setup(void **state)
{
	fx_t *f = calloc(1, sizeof(*f));

	f->u = ut_store_new();
	fx_open_bayes(f);
	assert_int_equal(bayes_tok_create(NULL, &f->t), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fx_t *f = *state;

	fx_close_bayes(f);
	bayes_tok_destroy(&f->t);
	ut_store_free(f->u);
	free(f);
	return 0;
}

/* Submit, then poll the client until every apply has completed. */
static void drain(fx_t *f)
{
	while (bayes_st_inflight(f->bs) > 0)
		st_client_wait(f->u->c, 1000);
}

static void learn_sync(fx_t *f, const bayes_msg_t *m, enum bayes_class cls)
{
	done_t d = {0};

	assert_int_equal(bayes_learn(f->b, m, cls, on_done, &d), 0);
	drain(f);
	assert_int_equal(d.calls, 1);
	assert_int_equal(d.err, 0);
}

static int count_keys(void *ctx, sl_slice_t key, sl_slice_t value)
{
	(void)key, (void)value;
	(*(unsigned *)ctx)++;
	return 0;
}

static unsigned keys_with(fx_t *f, const char *prefix)
{
	unsigned n = 0;

	assert_int_equal(st_kv_scan(f->u->rd, ST_NS_FILTER, sl_slice_make(prefix, strlen(prefix)),
				    count_keys, &n),
			 0);
	return n;
}

static void test_learn_move_unlearn(void **state)
{
	fx_t *f = *state;
	bayes_store_t st = bayes_st_store(f->bs);
	bayes_counts_t *cnt, tot;
	enum bayes_class cls;
	bayes_msg_t m;
	done_t d1 = {0}, d2 = {0};

	tb_message(f->t, BAYES_SPAM, 7, &m);
	cnt = calloc(m.n, sizeof(*cnt));

	/* First learn submitted; a second one before it commits is caught. */
	assert_int_equal(bayes_learn(f->b, &m, BAYES_SPAM, on_done, &d1), 0);
	assert_int_equal(bayes_st_inflight(f->bs), 1);
	assert_int_equal(bayes_learn(f->b, &m, BAYES_SPAM, on_done, &d2), 1);
	assert_int_equal(d1.calls, 0); /* completes only from the client's poll */
	drain(f);
	assert_int_equal(d1.calls, 1);
	assert_int_equal(d1.err, 0);
	assert_int_equal(d2.calls, 0);
	/* And after it committed, from the map. */
	assert_int_equal(bayes_learn(f->b, &m, BAYES_SPAM, on_done, &d2), 1);
	assert_int_equal(st.ops->sig_get(st.ctx, m.sig, &cls), 0);
	assert_int_equal(cls, BAYES_SPAM);
	assert_int_equal(st.ops->read(st.ctx, m.ids, m.n, cnt, &tot), 0);
	assert_int_equal(tot.spam, 1);
	assert_int_equal(tot.ham, 0);
	for (size_t i = 0; i < m.n; i++)
		assert_true(cnt[i].spam == 1 && cnt[i].ham == 0);
	assert_int_equal(keys_with(f, "bayes/t/"), m.n);
	assert_int_equal(keys_with(f, "bayes/s/"), 1);

	/* Move to ham. */
	learn_sync(f, &m, BAYES_HAM);
	assert_int_equal(st.ops->read(st.ctx, m.ids, m.n, cnt, &tot), 0);
	assert_int_equal(tot.spam, 0);
	assert_int_equal(tot.ham, 1);
	for (size_t i = 0; i < m.n; i++)
		assert_true(cnt[i].spam == 0 && cnt[i].ham == 1);

	/* Unlearn: every Bayes key is gone (counters at 0 are removed). */
	d1.calls = 0;
	assert_int_equal(bayes_unlearn(f->b, &m, on_done, &d1), 0);
	drain(f);
	assert_int_equal(d1.calls, 1);
	assert_int_equal(keys_with(f, "bayes/"), 0);
	assert_int_equal(bayes_unlearn(f->b, &m, on_done, &d1), 1);
	assert_int_equal(st.ops->sig_get(st.ctx, m.sig, &cls), 0);
	assert_int_equal(cls, BAYES_NONE);
	free(cnt);
}

/* Learn 250 + 250 through LMDB (many applies in flight, as a busy learner
 * would), and the same into memory: every score must be identical, and
 * unseen mail must be classified right. Then reopen the store. */
static void test_round_trip_matches_memory(void **state)
{
	fx_t *f = *state;
	bayes_mem_t *mem = NULL;
	bayes_t *bm = NULL;
	bayes_msg_t m;
	bayes_result_t rs, rm;
	unsigned right = 0, sure = 0;
	done_t d = {0};

	assert_int_equal(bayes_mem_create(1u << 20, &mem), 0);
	assert_int_equal(bayes_create(NULL, bayes_mem_store(mem), &bm), 0);
	for (uint64_t i = 0; i < 500; i++) {
		enum bayes_class cls = (i & 1) ? BAYES_SPAM : BAYES_HAM;
		int rc;

		tb_message(f->t, cls, i, &m);
		while ((rc = bayes_learn(f->b, &m, cls, on_done, &d)) == SL_EAGAIN)
			st_client_wait(f->u->c, 1000);
		assert_int_equal(rc, 0);
		assert_int_equal(bayes_learn(bm, &m, cls, NULL, NULL), 0);
	}
	drain(f);
	assert_int_equal(d.calls, 500);
	assert_int_equal(d.err, 0);
	for (int pass = 0; pass < 2; pass++) {
		right = sure = 0;
		for (uint64_t i = 20000; i < 20100; i++) {
			enum bayes_class cls = (i & 1) ? BAYES_SPAM : BAYES_HAM;

			tb_message(f->t, cls, i, &m);
			assert_int_equal(bayes_classify(f->b, &m, &rs), 0);
			assert_int_equal(bayes_classify(bm, &m, &rm), 0);
			assert_true(rs.opinion);
			assert_int_equal(rs.totals.spam, 250);
			assert_int_equal(rs.totals.ham, 250);
			assert_true(rs.prob == rm.prob);
			assert_int_equal(rs.clues, rm.clues);
			assert_int_equal(rs.known, rm.known);
			right += cls == BAYES_SPAM ? rs.prob > 0.5 : rs.prob < 0.5;
			sure += cls == BAYES_SPAM ? rs.prob > 0.9 : rs.prob < 0.1;
		}
		assert_int_equal(right, 100);
		assert_true(sure >= 95);
		/* Durable: the same after closing and reopening the store. */
		fx_close_bayes(f);
		ut_store_reopen(f->u);
		fx_open_bayes(f);
	}
	bayes_destroy(&bm);
	bayes_mem_destroy(&mem);
}

static void test_corrupt_and_busy(void **state)
{
	fx_t *f = *state;
	bayes_store_t st = bayes_st_store(f->bs);
	bayes_counts_t c, tot;
	enum bayes_class cls;
	uint8_t key[16] = "bayes/t/";
	int64_t neg = -5;
	uint8_t sig[BAYES_SIG_LEN] = {1, 2, 3};
	uint8_t skey[24] = "bayes/s/";
	uint64_t id = 0x0102030405060708ull;
	st_kv_op_t op;
	st_result_t res;
	bayes_msg_t m;
	done_t d = {0};

	/* A token value that is no counter is corrupt. */
	for (int i = 0; i < 8; i++)
		key[8 + i] = (uint8_t)(id >> (56 - 8 * i));
	op = (st_kv_op_t){.kind = ST_KV_PUT, .key = sl_slice_make(key, 16),
			  .value = SL_SLICE_LIT("abc")};
	res = UT_SYNC(f->u, st_kv_write(f->u->c, ST_NS_FILTER, &op, 1, st_admin_done, w));
	assert_int_equal(res.err, 0);
	assert_int_equal(st.ops->read(st.ctx, &id, 1, &c, &tot), SL_ECORRUPT);
	/* A counter with a negative half (an expired token's message
	   unlearned) reads as 0 for that half, the other half intact. */
	op = (st_kv_op_t){.kind = ST_KV_DEL, .key = sl_slice_make(key, 16)};
	res = UT_SYNC(f->u, st_kv_write(f->u->c, ST_NS_FILTER, &op, 1, st_admin_done, w));
	assert_int_equal(res.err, 0);
	op = (st_kv_op_t){.kind = ST_KV_ADD, .key = sl_slice_make(key, 16),
			  .delta = ((int64_t)3 << 32) + neg};
	res = UT_SYNC(f->u, st_kv_write(f->u->c, ST_NS_FILTER, &op, 1, st_admin_done, w));
	assert_int_equal(res.err, 0);
	assert_int_equal(st.ops->read(st.ctx, &id, 1, &c, &tot), 0);
	assert_int_equal(c.spam, 3);
	assert_int_equal(c.ham, 0);
	op = (st_kv_op_t){.kind = ST_KV_ADD, .key = sl_slice_make(key, 16),
			  .delta = -5 * ((int64_t)1 << 32) + 7};
	res = UT_SYNC(f->u, st_kv_write(f->u->c, ST_NS_FILTER, &op, 1, st_admin_done, w));
	assert_int_equal(res.err, 0);
	assert_int_equal(st.ops->read(st.ctx, &id, 1, &c, &tot), 0);
	assert_int_equal(c.spam, 0); /* 3 - 5 */
	assert_int_equal(c.ham, 2);  /* -5 + 7 */
	/* A signature value that is no class. */
	memcpy(skey + 8, sig, sizeof(sig) < 16 ? sizeof(sig) : 16);
	memset(skey + 8 + sizeof(sig), 0, 16 - sizeof(sig));
	op = (st_kv_op_t){.kind = ST_KV_PUT, .key = sl_slice_make(skey, 24),
			  .value = SL_SLICE_LIT("xx")};
	res = UT_SYNC(f->u, st_kv_write(f->u->c, ST_NS_FILTER, &op, 1, st_admin_done, w));
	assert_int_equal(res.err, 0);
	{
		uint8_t full[BAYES_SIG_LEN] = {1, 2, 3};

		assert_int_equal(st.ops->sig_get(st.ctx, full, &cls), SL_ECORRUPT);
	}
	/* A signature value far too long for a class byte. */
	{
		uint8_t full[BAYES_SIG_LEN] = {9};
		static const char big[100] = "not a class";

		memcpy(skey + 8, full, BAYES_SIG_LEN);
		op = (st_kv_op_t){.kind = ST_KV_PUT, .key = sl_slice_make(skey, 24),
				  .value = sl_slice_make(big, sizeof(big))};
		res = UT_SYNC(f->u, st_kv_write(f->u->c, ST_NS_FILTER, &op, 1, st_admin_done, w));
		assert_int_equal(res.err, 0);
		assert_int_equal(st.ops->sig_get(st.ctx, full, &cls), SL_ECORRUPT);
	}
	/* Bad updates are refused before anything is submitted. */
	{
		bayes_update_t u = {.ids = &id, .n_ids = 1, .dspam = 2, .sig = sig};

		assert_int_equal(st.ops->apply(st.ctx, &u, on_done, &d), SL_EINVAL);
		u.dspam = 1;
		u.sig = NULL;
		assert_int_equal(st.ops->apply(st.ctx, &u, on_done, &d), SL_EINVAL);
	}
	/* The adapter cannot go while an apply is in flight. */
	tb_message(f->t, BAYES_HAM, 3, &m);
	assert_int_equal(bayes_learn(f->b, &m, BAYES_HAM, on_done, &d), 0);
	assert_int_equal(bayes_st_destroy(&f->bs), SL_EBUSY);
	assert_non_null(f->bs);
	drain(f);
	assert_int_equal(d.calls, 1);
	assert_int_equal(d.err, 0);
	{
		bayes_st_t *other = (bayes_st_t *)f; /* any non-NULL value */

		assert_int_equal(bayes_st_create(NULL, f->u->rd, &other), SL_EINVAL);
		assert_null(other);
	}
}

/* Expiry drops the rarest tokens down to 90 % of the bound, keeps learning
 * exactly-once, and an unlearn after it leaves no negative count behind. */
static void test_expire(void **state)
{
	fx_t *f = *state;
	bayes_store_t st = bayes_st_store(f->bs);
	bayes_st_expiry_t ex;
	bayes_counts_t *cnt, tot;
	uint64_t *ids0;
	bayes_msg_t m, m0;
	unsigned before, after;
	done_t d = {0};

	for (uint64_t i = 0; i < 60; i++) {
		tb_message(f->t, (i & 1) ? BAYES_SPAM : BAYES_HAM, i, &m);
		learn_sync(f, &m, (i & 1) ? BAYES_SPAM : BAYES_HAM);
	}
	before = keys_with(f, "bayes/t/");
	assert_true(before > 1000);
	/* Under the bound: nothing to do. */
	assert_int_equal(bayes_st_expire(f->bs, before, &ex), 0);
	assert_int_equal(ex.before, before);
	assert_int_equal(ex.after, before);
	assert_int_equal(ex.threshold, 0);
	assert_int_equal(keys_with(f, "bayes/t/"), before);
	assert_int_equal(bayes_st_expire(f->bs, 0, &ex), SL_EINVAL);

	/* Half the bound: the hapaxes go first. */
	assert_int_equal(bayes_st_expire(f->bs, before / 2, &ex), 0);
	after = keys_with(f, "bayes/t/");
	assert_int_equal(ex.before, before);
	assert_int_equal(ex.after, after);
	assert_true(ex.threshold >= 1);
	/* Exactly 90 % of the bound remain: a level is cut part way. */
	assert_int_equal(after, before / 2 - (before / 2) / 10);
	/* Totals and signatures are untouched: no double learning. */
	tb_message(f->t, BAYES_HAM, 0, &m0);
	assert_int_equal(bayes_learn(f->b, &m0, BAYES_HAM, on_done, &d), 1);
	assert_int_equal(st.ops->read(st.ctx, NULL, 0, NULL, &tot), 0);
	assert_int_equal(tot.spam, 30);
	assert_int_equal(tot.ham, 30);
	/* Unlearn a message that lost tokens: every count stays >= 0 and no
	   key is left with both halves at 0 or below. */
	ids0 = malloc(m0.n * sizeof(*ids0));
	memcpy(ids0, m0.ids, m0.n * sizeof(*ids0));
	m0.ids = ids0;
	cnt = calloc(m0.n, sizeof(*cnt));
	assert_int_equal(bayes_unlearn(f->b, &m0, on_done, &d), 0);
	drain(f);
	assert_int_equal(d.err, 0);
	assert_int_equal(st.ops->read(st.ctx, m0.ids, m0.n, cnt, &tot), 0);
	assert_int_equal(tot.ham, 29);
	for (size_t i = 0; i < m0.n; i++)
		assert_true(cnt[i].spam <= 30 && cnt[i].ham <= 29);
	/* In flight: refused. */
	tb_message(f->t, BAYES_SPAM, 999, &m);
	assert_int_equal(bayes_learn(f->b, &m, BAYES_SPAM, on_done, &d), 0);
	assert_int_equal(bayes_st_expire(f->bs, 10, &ex), SL_EBUSY);
	drain(f);
	free(cnt);
	free(ids0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_learn_move_unlearn, setup, teardown),
		cmocka_unit_test_setup_teardown(test_round_trip_matches_memory, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_and_busy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expire, setup, teardown),
	};

	sl_log_set_level(SL_LOG_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
