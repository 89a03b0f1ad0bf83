/* test_imap_qresync_store - the bounded expunge history end to end: the
 * IMAP engine on a real store (vanished_max small) through
 * mta/imap_store.c. A session that slept through more expunges than the
 * history keeps still hears every one at NOOP (EXPUNGE, or VANISHED with
 * QRESYNC), and a QRESYNC SELECT or UID FETCH (CHANGEDSINCE VANISHED) from
 * below the vanished floor gets a VANISHED (EARLIER) that names every UID
 * gone since (docs/imap.md, "A bounded expunge history"). Without the
 * glue's floor handling each of these names only the expunges the history
 * kept. */
#include "test_imap_store_driver.h"

#define VMAX 4u

/* 12 messages (MODSEQs 2..13) in INBOX of a store that keeps VMAX
 * expunges per mailbox. */
static struct tdrv *q_setup(uint32_t *uidvalidity_r)
{
	struct tdrv *d = td_new();
	st_store_opts_t o;
	st_mailbox_info_t mi;
	uint64_t user;

	ut_store_close(d->u);
	ut_opts(&o, d->u->path);
	o.vanished_max = VMAX;
	ut_store_open_opts(d->u, &o);
	user = td_inbox(d, &mi);
	for (int i = 0; i < 12; i++) {
		char b[64];

		snprintf(b, sizeof(b), "Subject: m%d\r\n\r\nbody %d\r\n", i + 1, i + 1);
		ut_deliver(d->u, user, "INBOX", b, strlen(b), 0);
	}
	td_inbox(d, &mi);
	assert_int_equal(mi.highestmodseq, 13);
	*uidvalidity_r = mi.uidvalidity;
	d->cfg.sync_on_poll = true;
	td_start(d, 100 * SL_US_PER_MS);
	return d;
}

static unsigned count_of(const char *out, const char *s)
{
	unsigned n = 0;

	for (const char *p = strstr(out, s); p != NULL; p = strstr(p + 1, s))
		n++;
	return n;
}

static uint64_t inbox_floor(struct tdrv *d)
{
	st_mailbox_info_t mi;

	td_inbox(d, &mi);
	return mi.vanished_floor;
}

/* Session 0 expunges UIDs 2..9 (eight, more than VMAX) while session 1
 * sleeps; session 1's NOOP announces all eight. */
static void test_noop_after_more_expunges_than_kept(void **state)
{
	uint32_t uv;
	struct tdrv *d = q_setup(&uv);
	const char *o;

	(void)state;
	td_open(d, 0);
	td_open(d, 1);
	td_login(d, 0);
	td_login(d, 1);
	HAS(td_cmd(d, 0, "s SELECT INBOX"), "* 12 EXISTS");
	HAS(td_cmd(d, 1, "s SELECT INBOX"), "* 12 EXISTS");
	HAS(td_cmd(d, 0, "a STORE 2:9 +FLAGS.SILENT (\\Deleted)"), "a OK");
	o = td_cmd(d, 0, "b EXPUNGE");
	assert_int_equal(count_of(o, "* 2 EXPUNGE"), 8);
	/* STORE took 14..21, EXPUNGE 22..29; the four oldest rows pruned */
	assert_int_equal(inbox_floor(d), 25);

	o = td_cmd(d, 1, "n NOOP");
	HAS(o, "n OK");
	assert_int_equal(count_of(o, "* 2 EXPUNGE"), 8);
	assert_int_equal(count_of(o, "EXPUNGE"), 8);
	o = td_cmd(d, 1, "f FETCH 1:* (UID)");
	HAS(o, "* 1 FETCH (UID 1)\r\n* 2 FETCH (UID 10)\r\n* 3 FETCH (UID 11)\r\n"
	       "* 4 FETCH (UID 12)\r\nf OK");
	/* nothing more the next time */
	o = td_cmd(d, 1, "n2 NOOP");
	HASNT(o, "EXPUNGE");
	HASNT(o, "EXISTS");

	/* once more, for a QRESYNC session, with deliveries on both sides:
	   VANISHED names exactly the UIDs gone, EXISTS counts the new one */
	{
		st_mailbox_info_t mi;
		st_uid_range_t r[3] = {{1, 1}, {10, 11}, {13, 15}};
		st_result_t res;
		uint64_t user = td_inbox(d, &mi);

		for (int i = 0; i < 5; i++) /* UIDs 13..17, MODSEQs 30..34 */
			ut_deliver(d->u, user, "INBOX", "Subject: a\r\n\r\nx\r\n", 17, 0);
		td_open(d, 2);
		td_login(d, 2);
		HAS(td_cmd(d, 2, "e ENABLE QRESYNC"), "* ENABLED CONDSTORE QRESYNC\r\n");
		HAS(td_cmd(d, 2, "s SELECT INBOX"), "* 9 EXISTS");
		/* six expunges (35..40): rows 26..29 and 35..36 pruned */
		res = UT_SYNC(d->u, st_msg_expunge(d->u->c, mi.id, r, 3, false, NULL, 0,
						   st_admin_done, w));
		assert_int_equal(res.err, 0);
		assert_int_equal(res.u.expunge.count, 6);
		assert_int_equal(inbox_floor(d), 36);
		ut_deliver(d->u, user, "INBOX", "Subject: b\r\n\r\ny\r\n", 17, 0);
	}
	o = td_cmd(d, 2, "n3 NOOP");
	HAS(o, "* VANISHED 1,10:11,13:15\r\n");
	HAS(o, "* 4 EXISTS\r\n");
	HASNT(o, " EXPUNGE");
	o = td_cmd(d, 2, "f2 FETCH 1:* (UID)");
	HAS(o, "* 1 FETCH (UID 12)\r\n* 2 FETCH (UID 16)\r\n* 3 FETCH (UID 17)\r\n"
	       "* 4 FETCH (UID 18)\r\nf2 OK");
	/* the plain session never saw 13..17: of its view (1, 10..12) it
	   loses three, and gains 16..18 */
	o = td_cmd(d, 1, "n4 NOOP");
	assert_int_equal(count_of(o, "* 1 EXPUNGE\r\n"), 3);
	assert_int_equal(count_of(o, " EXPUNGE"), 3);
	HAS(o, "* 4 EXISTS\r\n");
	td_free(d);
}

/* A QRESYNC client last synced at MODSEQ 13 (before the expunges). */
static void test_qresync_select_below_the_floor(void **state)
{
	uint32_t uv;
	struct tdrv *d = q_setup(&uv);
	st_uid_range_t r = {2, 9};
	st_mailbox_info_t mi;
	st_result_t res;
	char cmd[160];
	const char *o;

	(void)state;
	td_inbox(d, &mi);
	/* UIDs 2..9 expunged at 14..21; 14..17 pruned */
	res = UT_SYNC(d->u, st_msg_expunge(d->u->c, mi.id, &r, 1, false, NULL, 0,
					   st_admin_done, w));
	assert_int_equal(res.err, 0);
	assert_int_equal(inbox_floor(d), 17);

	td_open(d, 0);
	td_login(d, 0);
	HAS(td_cmd(d, 0, "e ENABLE QRESYNC"), "* ENABLED CONDSTORE QRESYNC\r\n");
	/* from 13, known-uids 1:12: the history alone would say 6:9 */
	snprintf(cmd, sizeof(cmd), "s SELECT INBOX (QRESYNC (%u 13 1:12))", uv);
	o = td_cmd(d, 0, cmd);
	HAS(o, "* VANISHED (EARLIER) 2:9\r\n");
	HAS(o, "* OK [HIGHESTMODSEQ 21]");
	HAS(o, "s OK [READ-WRITE]");
	/* no known-uids: 1..UIDNEXT-1 minus what is there */
	snprintf(cmd, sizeof(cmd), "t EXAMINE INBOX (QRESYNC (%u 1))", uv);
	o = td_cmd(d, 0, cmd);
	HAS(o, "* VANISHED (EARLIER) 2:9\r\n");
	HAS(o, "t OK [READ-ONLY]");
	/* known-uids restrict the answer */
	snprintf(cmd, sizeof(cmd), "u EXAMINE INBOX (QRESYNC (%u 13 3,5,10:12))", uv);
	o = td_cmd(d, 0, cmd);
	HAS(o, "* VANISHED (EARLIER) 3,5\r\n");
	/* at the floor the history is exact */
	snprintf(cmd, sizeof(cmd), "v EXAMINE INBOX (QRESYNC (%u 17 1:12))", uv);
	o = td_cmd(d, 0, cmd);
	HAS(o, "* VANISHED (EARLIER) 6:9\r\n");
	/* above every expunge: no VANISHED */
	snprintf(cmd, sizeof(cmd), "w EXAMINE INBOX (QRESYNC (%u 21 1:12))", uv);
	o = td_cmd(d, 0, cmd);
	HASNT(o, "VANISHED");
	HAS(o, "w OK");

	/* UID FETCH (CHANGEDSINCE 13 VANISHED) from below the floor */
	o = td_cmd(d, 0, "x UID FETCH 1:12 (FLAGS) (CHANGEDSINCE 13 VANISHED)");
	HAS(o, "* VANISHED (EARLIER) 2:9\r\n");
	HAS(o, "x OK");
	o = td_cmd(d, 0, "y UID FETCH 4:12 (FLAGS) (CHANGEDSINCE 16 VANISHED)");
	HAS(o, "* VANISHED (EARLIER) 4:9\r\n");
	o = td_cmd(d, 0, "z UID FETCH 1:12 (FLAGS) (CHANGEDSINCE 18 VANISHED)");
	HAS(o, "* VANISHED (EARLIER) 7:9\r\n");
	td_free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_noop_after_more_expunges_than_kept),
		cmocka_unit_test(test_qresync_select_below_the_floor),
	};

	sl_log_set_level(SL_LOG_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
