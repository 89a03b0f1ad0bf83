/* test_imap_qresync - QRESYNC (RFC 7162 §3.2) as transcripts against the
 * fake store of test_imap_harness.h: SELECT/EXAMINE (QRESYNC (...)) with
 * VANISHED (EARLIER) and the FETCHes of what changed, known-uids and
 * seq-match-data, UID FETCH (CHANGEDSINCE n VANISHED), VANISHED instead of
 * EXPUNGE once QRESYNC is on (EXPUNGE, MOVE, changes made elsewhere), the
 * CLOSED code, and hostile parameters; plus fixed tests driving the
 * engine directly with expunge histories far beyond the fixture (range
 * compression, the bounded collection, output backpressure).
 *
 * INBOX of the fixture: uid 1 \Seen (modseq 2), 2 $Forwarded (3),
 * 4 \Flagged \Deleted (4), 7 \Deleted \Recent (5); UIDVALIDITY 1000,
 * UIDNEXT 8, HIGHESTMODSEQ 5. G:seen/G:expunge raise the MODSEQ by one. */
#include "test_imap_harness.h"

#include "imap/imap_private.h"

#define ENABLE_QR "C:e ENABLE QRESYNC", "S:* ENABLED CONDSTORE QRESYNC", "S:e OK ENABLE completed"

static const struct tcase cases[] = {
	CASE(qresync_select_reports_changes, NULL, GREET, LOGIN, ENABLE_QR, "G:seen 2",
	     "G:expunge 4", "C:s SELECT INBOX (QRESYNC (1000 5))",
	     "W:* OK [HIGHESTMODSEQ 7]", "S:* VANISHED (EARLIER) 4",
	     "S:* 2 FETCH (UID 2 FLAGS (\\Seen $Forwarded) MODSEQ (6))",
	     "S:s OK [READ-WRITE] SELECT completed", "C:n NOOP", "S:n OK NOOP completed"),
	CASE(qresync_select_everything_since_1, NULL, GREET, LOGIN, ENABLE_QR, "G:expunge 2",
	     "G:expunge 4", "C:s EXAMINE INBOX (QRESYNC (1000 1))", "W:* OK [HIGHESTMODSEQ 7]",
	     "S:* VANISHED (EARLIER) 2,4", "S:* 1 FETCH (UID 1 FLAGS (\\Seen) MODSEQ (2))",
	     "S:* 2 FETCH (UID 7 FLAGS (\\Deleted \\Recent) MODSEQ (5))",
	     "S:s OK [READ-ONLY] EXAMINE completed"),
	CASE(qresync_select_nothing_changed, NULL, GREET, LOGIN, ENABLE_QR,
	     "C:s SELECT INBOX (QRESYNC (1000 5 1:7))", "W:* OK [HIGHESTMODSEQ 5]",
	     "S:s OK [READ-WRITE] SELECT completed"),
	CASE(qresync_known_uids_narrow_vanished, NULL, GREET, LOGIN, ENABLE_QR, "G:expunge 2",
	     "G:expunge 4", "C:s SELECT INBOX (QRESYNC (1000 5 3:7))", "W:* OK [HIGHESTMODSEQ 7]",
	     "S:* VANISHED (EARLIER) 4", "S:s OK [READ-WRITE] SELECT completed",
	     "C:t SELECT INBOX (QRESYNC (1000 5 1,5:6 (1:2 1,5)))", "S:* OK [CLOSED] Previous mailbox closed",
	     "W:* OK [HIGHESTMODSEQ 7]", "S:t OK [READ-WRITE] SELECT completed"),
	CASE(qresync_other_uidvalidity_is_a_plain_select, NULL, GREET, LOGIN, ENABLE_QR,
	     "G:expunge 4", "C:s SELECT INBOX (QRESYNC (999 1))", "W:* OK [HIGHESTMODSEQ 6]",
	     "S:s OK [READ-WRITE] SELECT completed"),
	CASE(qresync_with_condstore_and_rev2, NULL, GREET, LOGIN, "C:e ENABLE QRESYNC IMAP4rev2",
	     "S:* ENABLED CONDSTORE QRESYNC IMAP4rev2", "S:e OK ENABLE completed", "G:seen 4",
	     "C:s SELECT INBOX (CONDSTORE QRESYNC (1000 5))", "W:* LIST () \"/\" ",
	     "S:* 3 FETCH (UID 4 FLAGS (\\Seen \\Flagged \\Deleted) MODSEQ (6))",
	     "S:s OK [READ-WRITE] SELECT completed"),
	CASE(qresync_hostile_parameters, NULL, GREET, LOGIN,
	     "C:a SELECT INBOX (QRESYNC (1000 5))",
	     "S:a BAD QRESYNC is not enabled (ENABLE QRESYNC first)", ENABLE_QR,
	     "C:b SELECT INBOX (QRESYNC (1000 0))", "S:b BAD Invalid mod-sequence value",
	     "C:c SELECT INBOX (QRESYNC (0 5))", "S*c BAD",
	     "C:d SELECT INBOX (QRESYNC (1000 5 1:*))", "S:d BAD known-uids must not use '*'",
	     "C:f SELECT INBOX (QRESYNC (1000 5 1:9 (1:2 1:3)))",
	     "S:f BAD Sequence match data sets differ in size",
	     "C:g SELECT INBOX (QRESYNC (1000 5 1:9 (1:* 1:3)))",
	     "S:g BAD Sequence match data sets differ in size",
	     "C:h SELECT INBOX (QRESYNC (1000 5) QRESYNC (1000 5))", "S:h BAD QRESYNC given twice",
	     "C:i SELECT INBOX (QRESYNC (1000 99999999999999999999))", "S*i BAD",
	     "C:j SELECT INBOX (QRESYNC (1000 5 0:3))", "S*j BAD", "C:k SELECT INBOX (QRESYNC)",
	     "S*k BAD", "C:l SELECT INBOX (QRESYNC (1000 5 1:3 (1:3 1:3) x))", "S*l BAD",
	     "C:m SELECT INBOX (QRESYNC (1000 5 1:3 (1:3 1:3)))", "W:m OK [READ-WRITE] SELECT completed",
	     /* a refused SELECT leaves nothing of its QRESYNC behind */
	     "C:o SELECT INBOX (QRESYNC (1000 5) FOO)", "S:o BAD Unsupported SELECT parameter",
	     "G:seen 2", "C:n NOOP", "S:* 2 FETCH (UID 2 FLAGS (\\Seen $Forwarded) MODSEQ (6))",
	     "S:n OK NOOP completed"),
	CASE(qresync_expunge_says_vanished, NULL, GREET, LOGIN, ENABLE_QR, SELECT,
	     "C:a STORE 1:2 +FLAGS.SILENT (\\Deleted)", "S:a OK STORE completed", "C:b EXPUNGE",
	     "S:* VANISHED 1:2,4,7", "S:b OK EXPUNGE completed", "C:c NOOP", "S:c OK NOOP completed"),
	CASE(qresync_uid_expunge_and_move, NULL, GREET, LOGIN, ENABLE_QR, SELECT,
	     "C:a UID EXPUNGE 7", "S:* VANISHED 7", "S:a OK EXPUNGE completed",
	     "C:b UID MOVE 1:2 Sent", "S:* OK [COPYUID 1001 1:2 1:2] Moved", "S:* VANISHED 1:2",
	     "S:b OK MOVE completed", "C:c FETCH 1 UID", "S:* 1 FETCH (UID 4)",
	     "S:c OK FETCH completed"),
	CASE(qresync_changes_elsewhere, NULL, GREET, LOGIN, ENABLE_QR, SELECT, "G:seen 2",
	     "G:expunge 1", "G:expunge 4", "G:deliver", "C:n NOOP",
	     "S:* 2 FETCH (UID 2 FLAGS (\\Seen $Forwarded) MODSEQ (6))", "S:* VANISHED 1,4",
	     "S:* 3 EXISTS", "S:n OK NOOP completed", "C:i IDLE",
	     "S:+ idling", "G:expunge 2", "S:* VANISHED 2", "C:DONE", "S:i OK IDLE terminated"),
	CASE(uid_fetch_vanished_modifier, NULL, GREET, LOGIN, ENABLE_QR, SELECT, "G:expunge 4",
	     "C:n NOOP", "S:* VANISHED 4", "S:n OK NOOP completed",
	     "C:a UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)", "S:* VANISHED (EARLIER) 4",
	     "S:* 1 FETCH (UID 1 FLAGS (\\Seen) MODSEQ (2))",
	     "S:* 2 FETCH (UID 2 FLAGS ($Forwarded) MODSEQ (3))",
	     "S:* 3 FETCH (UID 7 FLAGS (\\Deleted \\Recent) MODSEQ (5))", "S:a OK FETCH completed",
	     "C:b UID FETCH 5:6 FLAGS (VANISHED CHANGEDSINCE 5)", "S:b OK FETCH completed",
	     "C:c UID FETCH 3:5 FLAGS (CHANGEDSINCE 2 VANISHED)", "S:* VANISHED (EARLIER) 4",
	     "S:c OK FETCH completed", "C:d UID FETCH 1:7 FLAGS (CHANGEDSINCE 6 VANISHED)",
	     "S:d OK FETCH completed"),
	CASE(uid_fetch_vanished_errors, NULL, GREET, LOGIN, SELECT,
	     "C:a UID FETCH 1:* FLAGS (CHANGEDSINCE 1 VANISHED)",
	     "S:a BAD VANISHED needs ENABLE QRESYNC", "C:u UNSELECT", "S:u OK UNSELECT completed",
	     ENABLE_QR, SELECT,
	     "C:b FETCH 1:* FLAGS (CHANGEDSINCE 1 VANISHED)", "S:b BAD VANISHED needs UID FETCH",
	     "C:c UID FETCH 1:* FLAGS (VANISHED)", "S:c BAD VANISHED needs CHANGEDSINCE",
	     "C:d UID FETCH 1:* FLAGS (CHANGEDSINCE 1 FOO)", "S:d BAD Unknown FETCH modifier",
	     "C:f UID FETCH 1:* FLAGS ()", "S*f BAD"),
	CASE(qresync_store_fetch_has_uid, NULL, GREET, LOGIN, ENABLE_QR, SELECT,
	     "C:a STORE 2 +FLAGS (\\Answered)",
	     "S:* 2 FETCH (UID 2 FLAGS (\\Answered $Forwarded) MODSEQ (6))", "S:a OK STORE completed"),
	CASE(qresync_select_of_nothing, NULL, GREET, LOGIN, ENABLE_QR,
	     "C:s SELECT Nope (QRESYNC (1000 1))",
	     "S:s NO [NONEXISTENT] SELECT: mailbox does not exist", "C:t SELECT Archive (QRESYNC (1000 1))",
	     "S:t NO [CANNOT] Mailbox is not selectable", "C:n NOOP", "S:n OK NOOP completed"),
	CASE(without_qresync_expunge_is_numbered, NULL, GREET, LOGIN, SELECT, "C:b EXPUNGE",
	     "S:* 3 EXPUNGE", "S:* 3 EXPUNGE", "S:b OK EXPUNGE completed"),
};

/* ---- the engine driven directly: large expunge histories ---- */

struct qd {
	struct imap_config cfg;
	struct imap_stats stats;
	imap_session_t *s;
	sl_buf_t out;
	uint32_t n_view;   /* the mailbox holds UIDs 2, 4, ..., 2 * n_view */
	uint32_t n_gone;   /* and the odd UIDs 1 .. 2 * n_gone - 1 were expunged */
	uint64_t floor;    /* the store's history: expunges at MODSEQ <= floor
			    * are pruned (not reported by sync_vanished) */
	uint32_t present_lo; /* NOOP syncs: the view UIDs below this are gone */
	int history_rc;    /* what sync_history answered last */
	bool exact_since;  /* report only the expunges after the SYNC's since
			    * (the older tests get them all) */
};

static void qd_drain(struct qd *d)
{
	for (;;) {
		sl_slice_t o = imap_session_output(d->s);

		if (o.len == 0)
			return;
		/* the output never holds more than its limit plus one response */
		assert_true(o.len <= d->cfg.output_max + 8192);
		assert_int_equal(sl_buf_append(&d->out, o.ptr, o.len), 0);
		imap_session_output_consume(d->s, 0, o.len);
	}
}

static void qd_serve(struct qd *d)
{
	const struct imap_request *r;

	qd_drain(d);
	while ((r = imap_session_request(d->s)) != NULL) {
		if (r->kind == IMAP_REQ_AUTH) {
			imap_session_auth_done(d->s, 0, IMAP_AUTH_OK, NULL);
		} else if (r->kind == IMAP_REQ_SELECT) {
			struct imap_mailbox_info mb;

			for (uint32_t i = 1; i <= d->n_view; i++)
				assert_int_equal(imap_session_select_msg(d->s, 2 * i, 0, false), 0);
			memset(&mb, 0, sizeof(mb));
			mb.name = SL_SLICE_LIT("INBOX");
			mb.uidvalidity = 7;
			mb.uidnext = 2 * d->n_view + 1;
			mb.messages = d->n_view;
			mb.highestmodseq = 10 + d->n_gone;
			imap_session_select_done(d->s, 0, 0, &mb, NULL, 0);
		} else if (r->kind == IMAP_REQ_SYNC) {
			/* every message changed, then the odd UIDs vanished, in
			 * an order that is not the UIDs' */
			for (uint32_t i = 1; i <= d->n_view; i++) {
				struct imap_msg_meta m;

				memset(&m, 0, sizeof(m));
				m.uid = 2 * i;
				m.modseq = 5 + i;
				if (m.uid < d->present_lo)
					continue; /* expunged elsewhere */
				if (m.modseq > r->u.sync.since)
					assert_int_equal(imap_session_sync_msg(d->s, &m), 0);
			}
			/* expunge i happened at MODSEQ 10 + i; the pruned
			 * ones (<= floor) are not reported one by one */
			for (uint32_t i = d->n_gone; i >= 1; i--)
				if (10 + (uint64_t)i > d->floor &&
				    (!d->exact_since || 10 + (uint64_t)i > r->u.sync.since))
					assert_int_equal(
						imap_session_sync_vanished(d->s, 2 * i - 1), 0);
			d->history_rc = 0;
			if (d->floor > r->u.sync.since) {
				d->history_rc = imap_session_sync_history(d->s, d->floor);
				assert_true(d->history_rc >= 0);
			}
			if (d->history_rc == 1)
				for (uint32_t u = d->present_lo | 1; u <= 2 * d->n_view + 1; u++)
					if (!(u & 1) || u > 2 * d->n_gone)
						assert_int_equal(imap_session_sync_present(d->s, u), 0);
			imap_session_sync_done(d->s, 0, 0, 10 + d->n_gone);
		} else if (r->kind == IMAP_REQ_FETCH) {
			imap_session_fetch_done(d->s, 0, 0);
		} else {
			fail_msg("unexpected request %d", r->kind);
		}
		qd_drain(d);
	}
}

static void qd_cmd(struct qd *d, const char *cmd)
{
	size_t used = 0;

	assert_int_equal(imap_session_input(d->s, 0, cmd, strlen(cmd), &used), 0);
	assert_int_equal(used, strlen(cmd));
	qd_serve(d);
}

static void qd_init(struct qd *d, uint32_t n_view, uint32_t n_gone)
{
	struct imap_peer peer = {.client_ip = "192.0.2.9"};

	memset(d, 0, sizeof(*d));
	imap_config_defaults(&d->cfg);
	d->cfg.hostname = HOST;
	d->cfg.allow_plaintext_auth = true;
	d->cfg.output_max = 64 * 1024;
	d->cfg.body_chunk_max = 16384;
	d->cfg.stats = &d->stats;
	d->n_view = n_view;
	d->n_gone = n_gone;
	sl_buf_init(&d->out, 1u << 28);
	assert_int_equal(imap_session_create(&d->cfg, &peer, 0, &d->s), 0);
	qd_cmd(d, "a LOGIN u p\r\nb ENABLE QRESYNC\r\n");
	sl_buf_reset(&d->out);
}

static void qd_fini(struct qd *d)
{
	imap_session_destroy(&d->s);
	sl_buf_free(&d->out);
}

/* count_uids - the UIDs named by the VANISHED (EARLIER) lines of OUT, and
 * check each is odd (an expunged one) and that lines stay short. */
static uint64_t count_vanished(const sl_buf_t *out, uint32_t *lines_r, bool odd_only)
{
	const char *p = (const char *)out->data, *end = p + out->len;
	uint64_t n = 0;

	*lines_r = 0;
	while (p < end) {
		const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);

		assert_non_null(eol);
		if (eol - p > 21 && !strncmp(p, "* VANISHED (EARLIER) ", 21)) {
			const char *q = p + 21;

			assert_true(eol - p < (long)IMAP_VAN_LINE_MAX + 64);
			(*lines_r)++;
			while (q < eol) {
				char *e;
				unsigned long lo = strtoul(q, &e, 10), hi = lo;

				if (*e == ':')
					hi = strtoul(e + 1, &e, 10);
				assert_true(hi >= lo);
				if (odd_only)
					assert_true(lo == hi && (lo & 1));
				n += hi - lo + 1;
				q = *e == ',' ? e + 1 : e;
			}
		}
		p = eol + 2;
	}
	return n;
}

/* 5,000 expunged UIDs interleaved with 5,000 live ones: 5,000 ranges, on
 * lines of at most ~4 KB, every one reported once; the FETCHes of the
 * 5,000 changed messages resume across output drains (64 KB output). */
static void test_vanished_many_exact(void **state)
{
	struct qd d;
	uint32_t lines = 0, fetches = 0;

	(void)state;
	qd_init(&d, 5000, 5000);
	qd_cmd(&d, "s SELECT INBOX (QRESYNC (7 1))\r\n");
	assert_int_equal(count_vanished(&d.out, &lines, true), 5000);
	assert_true(lines >= 5);
	for (const uint8_t *p = d.out.data; (p = memmem(p, d.out.len - (size_t)(p - d.out.data),
							 " FETCH (UID ", 12)) != NULL;
	     p++)
		fetches++;
	assert_int_equal(fetches, 5000);
	assert_non_null(memmem(d.out.data, d.out.len, "s OK [READ-WRITE] SELECT completed\r\n", 36));
	qd_fini(&d);
}

/* 40,000 expunged odd UIDs are more ranges than the engine keeps
 * (IMAP_VAN_RANGES_MAX): the answer is computed from the view instead,
 * still every UID not in the mailbox and nothing that is in it. */
static void test_vanished_overflow_uses_the_view(void **state)
{
	struct qd d;
	uint32_t lines = 0;

	(void)state;
	qd_init(&d, 40000, 40000);
	qd_cmd(&d, "s EXAMINE INBOX (QRESYNC (7 100000))\r\n");
	assert_int_equal(count_vanished(&d.out, &lines, true), 40000);
	assert_non_null(memmem(d.out.data, d.out.len, "s OK [READ-ONLY] EXAMINE completed\r\n", 36));
	sl_buf_reset(&d.out);
	/* known-uids bound the answer */
	qd_cmd(&d, "t EXAMINE INBOX (QRESYNC (7 100000 1:101))\r\n");
	assert_int_equal(count_vanished(&d.out, &lines, true), 51);
	qd_fini(&d);
}

/* The store pruned its expunge history up to MODSEQ 10 + 600 (expunges
 * 1..600 of 1,000 are no longer named one by one). A client whose MODSEQ
 * is above the floor gets the exact list; one below it gets every UID of
 * its known-uids (or 1..UIDNEXT-1) that is not in the mailbox: all 1,000
 * expunged UIDs, none that is still there. */
static void test_vanished_below_the_floor(void **state)
{
	struct qd d;
	uint32_t lines = 0;

	(void)state;
	qd_init(&d, 1000, 1000);
	d.floor = 10 + 600;
	d.exact_since = true;
	/* above the floor: exactly expunges 701..1000 (MODSEQ > 710) */
	qd_cmd(&d, "a EXAMINE INBOX (QRESYNC (7 710))\r\n");
	assert_int_equal(d.history_rc, 0);
	assert_int_equal(count_vanished(&d.out, &lines, true), 300);
	assert_non_null(memmem(d.out.data, d.out.len, "VANISHED (EARLIER) 1401,1403,", 29));
	sl_buf_reset(&d.out);
	/* at the floor: still exact (nothing at or below it is asked for) */
	qd_cmd(&d, "b EXAMINE INBOX (QRESYNC (7 610))\r\n");
	assert_int_equal(count_vanished(&d.out, &lines, true), 400);
	sl_buf_reset(&d.out);
	/* below: the complement of the mailbox, every expunged UID */
	qd_cmd(&d, "c EXAMINE INBOX (QRESYNC (7 100))\r\n");
	assert_int_equal(count_vanished(&d.out, &lines, true), 1000);
	assert_non_null(memmem(d.out.data, d.out.len, "* VANISHED (EARLIER) 1,3,5,", 27));
	assert_non_null(memmem(d.out.data, d.out.len, "c OK [READ-ONLY] EXAMINE completed\r\n", 36));
	sl_buf_reset(&d.out);
	/* known-uids still bound it */
	qd_cmd(&d, "e EXAMINE INBOX (QRESYNC (7 100 1:20))\r\n");
	assert_int_equal(count_vanished(&d.out, &lines, true), 10);
	sl_buf_reset(&d.out);
	/* UID FETCH (CHANGEDSINCE m VANISHED) below the floor: the set's
	 * UIDs not in the mailbox */
	qd_cmd(&d, "f UID FETCH 1:100 (FLAGS) (CHANGEDSINCE 5 VANISHED)\r\n");
	assert_int_equal(count_vanished(&d.out, &lines, true), 50);
	assert_non_null(memmem(d.out.data, d.out.len, "f OK FETCH completed\r\n", 22));
	qd_fini(&d);
}

/* A NOOP sync from below the floor: the engine asks for the present UIDs
 * and announces exactly the view's messages that are not among them. */
static void test_noop_sync_below_the_floor(void **state)
{
	struct qd d;
	const char *p;
	uint32_t n = 0;

	(void)state;
	qd_init(&d, 100, 0);
	qd_cmd(&d, "s SELECT INBOX\r\n");
	sl_buf_reset(&d.out);
	/* elsewhere: UIDs 2..40 (20 messages of the view) expunged, and the
	 * history of those expunges pruned past the session's MODSEQ */
	d.floor = 1000;
	d.present_lo = 41;
	d.n_view = 100;
	imap_session_mailbox_changed(d.s, 0);
	qd_cmd(&d, "n NOOP\r\n");
	assert_int_equal(d.history_rc, 1);
	for (p = (const char *)d.out.data; (p = memmem(p, d.out.len - (size_t)(p - (const char *)d.out.data),
						      "* VANISHED ", 11)) != NULL;
	     p++)
		n++;
	/* QRESYNC is on: one VANISHED line naming the 20 even UIDs 2..40 */
	assert_int_equal(n, 1);
	assert_non_null(memmem(d.out.data, d.out.len, "* VANISHED 2,4,6,", 17));
	assert_non_null(memmem(d.out.data, d.out.len, ",38,40\r\n", 8));
	assert_null(memmem(d.out.data, d.out.len, ",42", 3));
	assert_non_null(memmem(d.out.data, d.out.len, "n OK NOOP completed\r\n", 21));
	/* the view shrank to the 80 left: message 1 is UID 42 now */
	assert_int_equal(d.s->view.n, 80);
	assert_int_equal(d.s->view.uids[0], 42);
	assert_int_equal(d.s->view.uids[79], 200);
	/* sync_present outside a pruned-history sync is refused */
	assert_int_equal(imap_session_sync_present(d.s, 42), SL_ESTATE);
	assert_int_equal(imap_session_sync_history(d.s, 5), SL_ESTATE);
	qd_fini(&d);
}

int main(void)
{
	static const struct CMUnitTest fixed[] = {
		cmocka_unit_test(test_vanished_many_exact),
		cmocka_unit_test(test_vanished_overflow_uses_the_view),
		cmocka_unit_test(test_vanished_below_the_floor),
		cmocka_unit_test(test_noop_sync_below_the_floor),
	};

	return run_cases("imap_qresync", cases, sizeof(cases) / sizeof(cases[0]), fixed,
			 sizeof(fixed) / sizeof(fixed[0]));
}
