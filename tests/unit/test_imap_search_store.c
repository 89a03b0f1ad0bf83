/* test_imap_search_store - SEARCH on message text through the real glue
 * (mta/imap_store.c) on a real LMDB store: the predicates are evaluated on
 * the stored bodies, a search over more than one slice of the budget gives
 * the lane back and goes on from the tick (another session is served in
 * between), and a session that goes away while its search waits is
 * forgotten cleanly. */
#include "test_imap_store_driver.h"
#include "st_private.h"

#define NMSG 1500u

/* Session I, logged in, INBOX selected. */
static void t_open(struct tdrv *d, int i)
{
	td_open(d, i);
	HAS(td_cmd(d, i, "L LOGIN " TD_USER " " TD_PASS), "L OK");
	HAS(td_cmd(d, i, "S SELECT INBOX"), "S OK");
}

/* NMSG messages of about 4 KB; every 100th has the term in its base64
 * body, every 7th is from bob, each has a Date a day apart. */
static struct tdrv *t_setup(void)
{
	struct tdrv *d = td_new();
	st_user_info_t ui;
	char *msg = malloc(8192);

	assert_non_null(msg);
	assert_int_equal(st_user_lookup(d->u->rd, TD_USER, &ui), 0);
	d->user = ui.id;
	d->tick_us = 10;
	for (unsigned i = 1; i <= NMSG; i++) {
		int n = snprintf(msg, 8192,
				 "From: %s@example.org\r\nTo: alice@example.net\r\n"
				 "Subject: message %u\r\nDate: %u Jan 2026 10:00:00 +0000\r\n",
				 i % 7 == 0 ? "bob" : "carol", i, 1 + i % 28);

		if (i % 100 == 0)
			n += snprintf(msg + n, 8192 - (size_t)n,
				      "Content-Transfer-Encoding: base64\r\n\r\n"
				      "U2VjcmV0IGxhdW5jaCBjb2RlOiBQSU5FQVBQTEUNCg==\r\n");
		else
			n += snprintf(msg + n, 8192 - (size_t)n, "\r\n");
		while (n < 4000)
			n += snprintf(msg + n, 8192 - (size_t)n,
				      "line %u of message %u, nothing to see here\r\n", (unsigned)n, i);
		assert_int_equal(ut_deliver(d->u, d->user, "INBOX", msg, (size_t)n, 0), i);
	}
	free(msg);
	td_start(d, 0);
	return d;
}

static void test_search_slices(void **state)
{
	struct tdrv *d = t_setup();
	char want[256];
	const char *o;
	int ticks = 0;
	uint64_t next;

	(void)state;
	t_open(d, 0);
	t_open(d, 1);
	/* 6 MB of bodies: the first slice stops at the budget */
	o = td_cmd_wait(d, 0, "a UID SEARCH BODY pineapple", false, NULL);
	assert_false(td_tagged(&d->x[0].out, "a"));
	assert_true(imap_store_sess_busy(d->x[0].ss));
	next = imap_store_next_deadline(d->st);
	assert_true(next <= d->now);
	/* meanwhile the lane serves another session (the UID key narrows
	 * what is scanned to 20 messages: one slice) */
	HAS(td_cmd_wait(d, 1, "n UID SEARCH FROM bob UID 1:20", false, NULL), "* SEARCH 7 14\r\nn OK");
	HAS(td_cmd_wait(d, 1, "n2 SEARCH 1:30 OR SUBJECT \"message 3\" TO nobody", false, NULL),
	    "* SEARCH 3 30\r\nn2 OK");
	assert_false(td_tagged(&d->x[0].out, "a"));
	for (; !td_tagged(&d->x[0].out, "a"); ticks++) {
		assert_true(ticks < 100);
		imap_store_tick(d->st, d->now);
		td_pump(&d->x[0]);
	}
	assert_true(ticks >= 2);
	assert_int_equal(sl_buf_append(&d->x[0].out, "", 1), 0);
	o = (const char *)d->x[0].out.data;
	want[0] = 0;
	for (unsigned i = 100; i <= NMSG; i += 100)
		snprintf(want + strlen(want), sizeof(want) - strlen(want), " %u", i);
	HAS(o, "* SEARCH");
	HAS(o, want);
	HAS(o, "a OK SEARCH completed");
	/* header keys read the header only: one slice is plenty */
	o = td_cmd_wait(d, 0, "b SEARCH RETURN (COUNT) FROM bob", true, &ticks);
	HAS(o, "* ESEARCH (TAG \"b\") COUNT 214");
	o = td_cmd_wait(d, 0, "c SEARCH RETURN (COUNT) SENTON 1-Jan-2026", true, NULL);
	HAS(o, "COUNT 53"); /* i % 28 == 0 */
	o = td_cmd_wait(d, 0, "d SEARCH RETURN (COUNT) NOT TEXT pineapple", true, NULL);
	HAS(o, "COUNT 1485");
	td_free(d);
}

/* A session that goes away while its search waits for the tick. */
static void test_search_session_gone(void **state)
{
	struct tdrv *d = t_setup();

	(void)state;
	t_open(d, 0);
	t_open(d, 1);
	td_cmd_wait(d, 0, "a SEARCH TEXT nowhere-to-be-found", false, NULL);
	assert_true(imap_store_sess_busy(d->x[0].ss));
	imap_store_sess_destroy(&d->x[0].ss, &d->x[0].s);
	assert_null(d->x[0].s);
	imap_store_tick(d->st, d->now);
	HAS(td_cmd_wait(d, 1, "b SEARCH SUBJECT \"message 1499\"", true, NULL), "* SEARCH 1499\r\nb OK");
	td_free(d);
}

/* A body the store cannot read (its first chunk is gone) does not match,
 * is logged, and the search answers OK with the other messages. */
static void test_search_damaged_body(void **state)
{
	static const char dmg[] = "Subject: damaged\r\n\r\nPINEAPPLE here too\r\n";
	struct tdrv *d = t_setup();
	st_store_t *s = d->u->s;
	st_blob_id_t id;
	st_blob_rec_t b;
	MDB_txn *txn;
	MDB_val k = {ST_BLOB_ID_LEN, id.b}, v, ck;
	uint8_t kb[12];
	const char *o;
	char want[256];

	(void)state;
	assert_int_equal(ut_deliver(d->u, d->user, "INBOX", dmg, strlen(dmg), 0), NMSG + 1);
	st_sha256(dmg, strlen(dmg), id.b);
	assert_int_equal(mdb_txn_begin(s->env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_get(txn, s->dbi[ST_DB_BLOB], &k, &v), 0);
	memcpy(&b, v.mv_data, sizeof(b));
	st_chunk_key(kb, b.no, 0);
	ck = (MDB_val){sizeof(kb), kb};
	assert_int_equal(mdb_del(txn, s->dbi[ST_DB_CHUNK], &ck, NULL), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	t_open(d, 0);
	o = td_cmd_wait(d, 0, "a UID SEARCH BODY pineapple", true, NULL);
	snprintf(want, sizeof(want), "* SEARCH");
	for (unsigned i = 100; i <= NMSG; i += 100)
		snprintf(want + strlen(want), sizeof(want) - strlen(want), " %u", i);
	strcat(want, "\r\na OK SEARCH completed");
	HAS(o, want);
	HAS(td_cmd_wait(d, 0, "b UID SEARCH SUBJECT damaged", true, NULL), "* SEARCH\r\nb OK");
	HAS(td_cmd_wait(d, 0, "c UID SEARCH UID 1501", true, NULL), "* SEARCH 1501\r\nc OK");
	td_free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_search_slices),
		cmocka_unit_test(test_search_session_gone),
		cmocka_unit_test(test_search_damaged_body),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
