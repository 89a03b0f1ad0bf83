/* test_store_chunks - the chunk layout of body blobs: full 65,520-byte
 * chunks, then a remainder that is split into a part filling whole
 * overflow pages and a small tail kept in a leaf page (docs/store.md).
 * Each size in the table (chunk counts worked out by hand) is delivered,
 * read whole, read across every chunk edge and at random ranges, checked
 * with st_store_check, and expunged; blobs in the layout written before the
 * split existed (one remainder chunk) still read and check clean. */
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
	ut_store_free(*state);
	return 0;
}

struct cmp_ctx {
	const uint8_t *want;
	uint64_t off;
	unsigned parts;
};

static int cmp_cb(void *ctx, sl_slice_t part)
{
	struct cmp_ctx *c = ctx;

	if (memcmp(part.ptr, c->want + c->off, part.len) != 0)
		return -1;
	c->off += part.len;
	c->parts++;
	return 0;
}

/* Read [OFF, OFF+LEN) and compare with BODY. */
static void check_range(ut_store_t *u, const st_blob_id_t *id, const uint8_t *body, uint64_t n,
			uint64_t off, uint64_t len, uint8_t *buf)
{
	uint64_t want = off >= n ? 0 : len < n - off ? len : n - off;
	size_t got = 0;

	assert_int_equal(st_body_copy(u->rd, id, off, buf, (size_t)len, &got), 0);
	if (got != want)
		fail_msg("size %llu range %llu+%llu: got %zu, want %llu", (unsigned long long)n,
			 (unsigned long long)off, (unsigned long long)len, got,
			 (unsigned long long)want);
	if (want > 0 && memcmp(buf, body + off, (size_t)want) != 0)
		fail_msg("size %llu range %llu+%llu: wrong bytes", (unsigned long long)n,
			 (unsigned long long)off, (unsigned long long)len);
}

/* Read the whole body and every range that starts or ends near a chunk
 * edge (EDGES: byte offsets where chunks start). */
static void check_body(ut_store_t *u, const st_blob_id_t *id, const uint8_t *body, uint64_t n,
		       const uint64_t *edges, unsigned n_edges, unsigned n_chunks)
{
	uint8_t *buf = malloc(n + 64);
	struct cmp_ctx c = {body, 0, 0};
	uint64_t seed = n + 1;

	assert_non_null(buf);
	assert_int_equal(st_body_read(u->rd, id, 0, UINT64_MAX, cmp_cb, &c), 0);
	assert_int_equal(c.off, n);
	assert_int_equal(c.parts, n_chunks);
	for (unsigned e = 0; e < n_edges; e++) {
		for (int d = -2; d <= 2; d++) {
			uint64_t off = (int64_t)edges[e] + d < 0 ? 0 : (uint64_t)((int64_t)edges[e] + d);

			check_range(u, id, body, n, off, 1, buf);
			check_range(u, id, body, n, off, 5000, buf);
			if (off > 0)
				check_range(u, id, body, n, 0, off, buf);
		}
	}
	for (int i = 0; i < 50; i++) {
		uint64_t off = ut_rand(&seed) % n, len = ut_rand(&seed) % (n - off + 10);

		check_range(u, id, body, n, off, len, buf);
	}
	free(buf);
}

static const struct {
	uint64_t size;
	unsigned chunks; /* by hand: 65520-byte chunks, then the remainder R,
			    split in two when R = n*4096-16 + T, 0 < T <= 2000 */
} sizes[] = {
	{1, 1},
	{2000, 1},
	{4079, 1},          /* R + 16 < 4096: one small chunk */
	{4080, 1},          /* exactly one overflow page */
	{4081, 2},          /* 4080 + 1 */
	{4096, 2},          /* 4080 + 16: the common 4 KB message */
	{6080, 2},          /* 4080 + 2000 */
	{6081, 1},          /* tail 2001: too big for a leaf, not split */
	{8176, 1},          /* exactly two pages */
	{8200, 2},          /* 8176 + 24 */
	{65520, 1},         /* one full chunk */
	{65521, 2},         /* full + 1 */
	{65520 + 4096, 3},  /* full + 4080 + 16 */
	{131040, 2},        /* two full */
	{1048576, 17},      /* 16 full + 256 */
	{1048576 + 4000, 18}, /* 16 full + 4080 + 176 */
};

static void test_layout_table(void **state)
{
	ut_store_t *u = *state;
	uint64_t user, inbox;

	ut_domain(u, "example.com");
	user = ut_user(u, "a@example.com");
	inbox = ut_mbox_id(u, user, "INBOX");
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint64_t n = sizes[i].size, edges[40];
		uint8_t *body = malloc(n);
		st_check_report_t rep;
		st_blob_info_t bi;
		st_msg_info_t m;
		st_uid_range_t all = {1, UINT32_MAX};
		st_result_t res;
		unsigned n_edges = 0;
		uint32_t uid;

		assert_non_null(body);
		ut_fill(body, n, i + 100);
		uid = ut_deliver(u, user, NULL, body, n, 0);
		assert_int_equal(st_msg_get(u->rd, inbox, uid, &m), 0);
		assert_int_equal(st_blob_get(u->rd, &m.blob, &bi), 0);
		if (bi.n_chunks != sizes[i].chunks)
			fail_msg("size %llu: %u chunks, want %u", (unsigned long long)n,
				 bi.n_chunks, sizes[i].chunks);
		for (uint64_t off = 0; off < n && n_edges < 36; off += bi.chunk_size)
			edges[n_edges++] = off;
		/* The split point of the remainder, and the end. */
		edges[n_edges++] = n / bi.chunk_size * bi.chunk_size + 4080;
		edges[n_edges++] = n / bi.chunk_size * bi.chunk_size + 8176;
		edges[n_edges++] = n;
		check_body(u, &m.blob, body, n, edges, n_edges, bi.n_chunks);
		assert_int_equal(st_store_check(u->rd, &rep), 0);
		assert_int_equal(rep.chunks, bi.n_chunks);
		/* Expunging frees every chunk. */
		res = UT_SYNC(u, st_msg_expunge(u->c, inbox, &all, 1, false, NULL, 0,
						st_admin_done, w));
		assert_int_equal(res.err, 0);
		assert_int_equal(st_store_check(u->rd, &rep), 0);
		assert_int_equal(rep.chunks, 0);
		assert_int_equal(rep.blobs, 0);
		free(body);
	}
}

/* Rewrite blob ID in the layout of stores written before the split: the
 * whole remainder in one chunk. */
static void rewrite_unsplit(ut_store_t *u, const st_blob_id_t *id, const uint8_t *body)
{
	st_store_t *s = u->s;
	MDB_txn *txn;
	MDB_val k = {ST_BLOB_ID_LEN, (void *)id->b}, v;
	st_blob_rec_t b;
	uint8_t kb[12];
	uint64_t full;

	assert_int_equal(mdb_txn_begin(s->env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_get(txn, s->dbi[ST_DB_BLOB], &k, &v), 0);
	memcpy(&b, v.mv_data, sizeof(b));
	full = b.size / b.chunk_size;
	for (uint32_t i = (uint32_t)full; i < b.n_chunks; i++) {
		MDB_val ck;

		st_chunk_key(kb, b.no, i);
		ck = (MDB_val){sizeof(kb), kb};
		assert_int_equal(mdb_del(txn, s->dbi[ST_DB_CHUNK], &ck, NULL), 0);
	}
	st_chunk_key(kb, b.no, (uint32_t)full);
	{
		MDB_val ck = {sizeof(kb), kb};
		MDB_val cv = {(size_t)(b.size - full * b.chunk_size),
			      (void *)(body + full * b.chunk_size)};

		assert_int_equal(mdb_put(txn, s->dbi[ST_DB_CHUNK], &ck, &cv, 0), 0);
	}
	b.n_chunks = (uint32_t)full + 1;
	v = (MDB_val){sizeof(b), &b};
	assert_int_equal(mdb_put(txn, s->dbi[ST_DB_BLOB], &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
}

static void test_unsplit_layout_still_reads(void **state)
{
	ut_store_t *u = *state;
	static const uint64_t old_sizes[] = {4096, 65520 + 4096, 1048576 + 4000};
	uint64_t user, inbox;

	ut_domain(u, "example.com");
	user = ut_user(u, "a@example.com");
	inbox = ut_mbox_id(u, user, "INBOX");
	for (size_t i = 0; i < sizeof(old_sizes) / sizeof(old_sizes[0]); i++) {
		uint64_t n = old_sizes[i], edges[3];
		uint8_t *body = malloc(n);
		st_check_report_t rep;
		st_blob_info_t bi;
		st_msg_info_t m;
		uint32_t uid;

		assert_non_null(body);
		ut_fill(body, n, i + 7);
		uid = ut_deliver(u, user, NULL, body, n, 0);
		assert_int_equal(st_msg_get(u->rd, inbox, uid, &m), 0);
		rewrite_unsplit(u, &m.blob, body);
		assert_int_equal(st_blob_get(u->rd, &m.blob, &bi), 0);
		assert_int_equal(bi.n_chunks, n / 65520 + 1);
		edges[0] = n / 65520 * 65520;
		edges[1] = edges[0] + 4080;
		edges[2] = n;
		check_body(u, &m.blob, body, n, edges, 3, bi.n_chunks);
		assert_int_equal(st_store_check(u->rd, &rep), 0);
		free(body);
	}
	/* And they are freed like any other. */
	{
		st_uid_range_t all = {1, UINT32_MAX};
		st_check_report_t rep;
		st_result_t res = UT_SYNC(u, st_msg_expunge(u->c, inbox, &all, 1, false, NULL, 0,
							    st_admin_done, w));

		assert_int_equal(res.err, 0);
		assert_int_equal(st_store_check(u->rd, &rep), 0);
		assert_int_equal(rep.chunks, 0);
	}
}

/* A chunk count that fits neither layout is corruption, for the reader and
 * for the check. */
static void test_bad_chunk_count_is_corrupt(void **state)
{
	ut_store_t *u = *state;
	uint8_t body[4096];
	st_check_report_t rep;
	st_msg_info_t m;
	uint64_t user;
	uint32_t uid;
	MDB_txn *txn;
	MDB_val k, v;
	st_blob_rec_t b;
	size_t got;

	ut_fill(body, sizeof(body), 3);
	ut_domain(u, "example.com");
	user = ut_user(u, "a@example.com");
	uid = ut_deliver(u, user, NULL, body, sizeof(body), 0);
	assert_int_equal(st_msg_get(u->rd, ut_mbox_id(u, user, "INBOX"), uid, &m), 0);
	assert_int_equal(mdb_txn_begin(u->s->env, NULL, 0, &txn), 0);
	k = (MDB_val){ST_BLOB_ID_LEN, m.blob.b};
	assert_int_equal(mdb_get(txn, u->s->dbi[ST_DB_BLOB], &k, &v), 0);
	memcpy(&b, v.mv_data, sizeof(b));
	b.n_chunks = 3; /* 4096 bytes: 1 or 2 */
	v = (MDB_val){sizeof(b), &b};
	assert_int_equal(mdb_put(txn, u->s->dbi[ST_DB_BLOB], &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	assert_int_equal(st_body_copy(u->rd, &m.blob, 0, body, sizeof(body), &got), SL_ECORRUPT);
	assert_int_equal(st_store_check(u->rd, &rep), SL_ECORRUPT);
	if (strstr(rep.first_problem, "chunk") == NULL)
		fail_msg("first problem '%s'", rep.first_problem);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_layout_table, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unsplit_layout_still_reads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_chunk_count_is_corrupt, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
