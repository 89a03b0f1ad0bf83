/* test_imap_store - the IMAP engine bound to a real LMDB store through
 * mta/imap_store.c, without a network: every request kind against the
 * store, write completions after the group commit, \Recent given to exactly
 * one session, changes told to other sessions (at once for this lane's
 * writes, by the HIGHESTMODSEQ poll for IDLE sessions otherwise, at NOOP
 * through sync_on_poll), and a session that goes away with a write in the
 * store's hands. */
#include "test_imap_store_driver.h"

#define USER TD_USER
#define PASS TD_PASS

static struct tdrv *t_setup(void)
{
	struct tdrv *d = td_new();

	d->cfg.sync_on_poll = true;
	td_start(d, 100 * SL_US_PER_MS);
	return d;
}

/* APPEND a message with a synchronizing literal; returns the output. */
static const char *t_append(struct tdrv *d, int i, const char *mbox, const char *flags,
			    const char *msg)
{
	char head[512];

	snprintf(head, sizeof(head), "A9 APPEND %s %s{%zu}\r\n", mbox, flags, strlen(msg));
	HAS(td_cmd_raw(d, i, head, strlen(head), NULL, NULL), "+ ");
	td_cmd_raw(d, i, msg, strlen(msg), NULL, NULL);
	return td_cmd_raw(d, i, "\r\n", 2, "A9", NULL);
}

static const char msg1[] = "From: bob@example.org\r\nTo: alice@example.net\r\nSubject: one\r\n"
			   "\r\nHello one.\r\n";
static const char msg2[] = "From: carol@example.org\r\nSubject: two\r\n\r\nSecond body\r\n"
			   "with two lines.\r\n";

static void test_login_and_mailboxes(void **state)
{
	struct tdrv *d = t_setup();
	const char *o;

	(void)state;
	td_open(d, 0);
	/* a failed login's NO is held (the engine's delay) */
	assert_int_equal(strlen(td_cmd_raw(d, 0, "a LOGIN " USER " wrong\r\n", 16 + strlen(USER),
					   NULL, NULL)), 0);
	d->now += 10 * SL_US_PER_S;
	imap_session_timeout(d->x[0].s, d->now);
	td_pump(&d->x[0]);
	HAS((const char *)d->x[0].out.data, "a NO [AUTHENTICATIONFAILED]");
	td_login(d, 0);
	o = td_cmd(d, 0, "b LIST \"\" *");
	HAS(o, "* LIST (\\HasNoChildren) \"/\" \"INBOX\"");
	HAS(o, "\\Sent) \"/\" \"Sent\"");
	HAS(o, "\\Trash) \"/\" \"Trash\"");
	HAS(o, "b OK");
	HAS(td_cmd(d, 0, "c CREATE Work/Projects"), "c OK");
	HAS(td_cmd(d, 0, "c2 CREATE Work"), "c2 NO [ALREADYEXISTS]");
	o = td_cmd(d, 0, "d LIST \"\" Work*");
	HAS(o, "(\\HasChildren) \"/\" \"Work\"");
	HAS(o, "(\\HasNoChildren) \"/\" \"Work/Projects\"");
	HAS(td_cmd(d, 0, "e RENAME Work/Projects Work/Done"), "e OK");
	o = td_cmd(d, 0, "f LIST \"\" Work/%");
	HAS(o, "Work/Done");
	HASNT(o, "Work/Projects");
	HAS(td_cmd(d, 0, "g RENAME Nope Other"), "g NO [NONEXISTENT]");
	HAS(td_cmd(d, 0, "h SUBSCRIBE Work/Done"), "h OK");
	HAS(td_cmd(d, 0, "h2 SUBSCRIBE Ghost"), "h2 OK");
	o = td_cmd(d, 0, "i LSUB \"\" *");
	HAS(o, "* LSUB () \"/\" \"Work/Done\"");
	o = td_cmd(d, 0, "i2 LIST (SUBSCRIBED) \"\" *");
	HAS(o, "(\\NonExistent \\Subscribed) \"/\" \"Ghost\"");
	HAS(td_cmd(d, 0, "j UNSUBSCRIBE Work/Done"), "j OK");
	HAS(td_cmd(d, 0, "j2 UNSUBSCRIBE Work/Done"), "j2 NO");
	HAS(td_cmd(d, 0, "k DELETE Work/Done"), "k OK");
	HAS(td_cmd(d, 0, "k2 DELETE Work/Done"), "k2 NO [NONEXISTENT]");
	HAS(td_cmd(d, 0, "k3 DELETE INBOX"), "k3 NO");
	o = td_cmd(d, 0, "l STATUS INBOX (MESSAGES UIDNEXT UNSEEN RECENT)");
	HAS(o, "* STATUS \"INBOX\" (MESSAGES 0 UIDNEXT 1 UNSEEN 0 RECENT 0)");
	HAS(td_cmd(d, 0, "m STATUS Nope (MESSAGES)"), "m NO [NONEXISTENT]");
	HAS(td_cmd(d, 0, "n CREATE \"Caf\xc3\xa9\""), "n BAD");
	HAS(td_cmd(d, 0, "n2 CREATE Caf&AOk-"), "n2 OK");
	HAS(td_cmd(d, 0, "n3 LIST \"\" Caf*"), "\"/\" \"Caf&AOk-\"");
	td_free(d);
}

static void test_append_fetch_store_expunge(void **state)
{
	struct tdrv *d = t_setup();
	const char *o;
	char want[512];

	(void)state;
	td_open(d, 0);
	td_login(d, 0);
	o = t_append(d, 0, "INBOX", "(\\Flagged $Work) ", msg1);
	HAS(o, "A9 OK [APPENDUID ");
	HAS(o, " 1] APPEND");
	o = t_append(d, 0, "INBOX", "", msg2);
	HAS(o, " 2] APPEND");
	HAS(t_append(d, 0, "Nowhere", "", msg2), "A9 NO [TRYCREATE]");
	o = td_cmd(d, 0, "s SELECT INBOX");
	HAS(o, "* 2 EXISTS");
	HAS(o, "* 2 RECENT");
	HAS(o, "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Work)");
	HAS(o, "[UIDNEXT 3]");
	HAS(o, "s OK [READ-WRITE]");
	o = td_cmd(d, 0, "f FETCH 1:* (UID FLAGS RFC822.SIZE)");
	snprintf(want, sizeof(want), "* 1 FETCH (UID 1 FLAGS (\\Flagged $Work \\Recent) RFC822.SIZE %zu)",
		 strlen(msg1));
	HAS(o, want);
	snprintf(want, sizeof(want), "* 2 FETCH (UID 2 FLAGS (\\Recent) RFC822.SIZE %zu)",
		 strlen(msg2));
	HAS(o, want);
	/* the body, byte for byte, and the implicit \Seen */
	o = td_cmd(d, 0, "g FETCH 2 BODY[]");
	snprintf(want, sizeof(want), "BODY[] {%zu}\r\n%s", strlen(msg2), msg2);
	HAS(o, want);
	HAS(o, "\\Seen");
	o = td_cmd(d, 0, "g2 FETCH 1 (BODY.PEEK[HEADER.FIELDS (SUBJECT)] BODY.PEEK[TEXT])");
	HAS(o, "Subject: one\r\n\r\n");
	HAS(o, "BODY[TEXT] {12}\r\nHello one.\r\n");
	o = td_cmd(d, 0, "g3 FETCH 1 BODY.PEEK[]<6.10>");
	HAS(o, "BODY[]<6> {10}\r\nbob@exampl");
	o = td_cmd(d, 0, "h SEARCH UNSEEN");
	HAS(o, "* SEARCH 1\r\n");
	o = td_cmd(d, 0, "i STORE 1:2 +FLAGS (\\Deleted Urgent)");
	HAS(o, "* 1 FETCH (FLAGS (\\Flagged \\Deleted $Work Urgent \\Recent))");
	HAS(o, "i OK");
	o = td_cmd(d, 0, "i2 UID STORE 2 -FLAGS.SILENT (\\Deleted)");
	HASNT(o, "FETCH");
	HAS(o, "i2 OK");
	o = td_cmd(d, 0, "j EXPUNGE");
	HAS(o, "* 1 EXPUNGE\r\nj OK");
	o = td_cmd(d, 0, "k FETCH 1:* (UID FLAGS)");
	HAS(o, "* 1 FETCH (UID 2 FLAGS (\\Seen Urgent \\Recent))");
	o = td_cmd(d, 0, "l STATUS INBOX (MESSAGES UNSEEN)");
	HAS(o, "(MESSAGES 1 UNSEEN 0)");
	/* CONDSTORE: an UNCHANGEDSINCE below the message's MODSEQ changes
	 * nothing */
	o = td_cmd(d, 0, "m FETCH 1 (MODSEQ)");
	HAS(o, "MODSEQ (");
	o = td_cmd(d, 0, "m2 STORE 1 (UNCHANGEDSINCE 1) +FLAGS (\\Answered)");
	HAS(o, "m2 ");
	o = td_cmd(d, 0, "m3 FETCH 1 FLAGS");
	HASNT(o, "\\Answered");
	td_free(d);
}

static void test_copy_move(void **state)
{
	struct tdrv *d = t_setup();
	const char *o;

	(void)state;
	td_open(d, 0);
	td_login(d, 0);
	t_append(d, 0, "INBOX", "(\\Seen) ", msg1);
	t_append(d, 0, "INBOX", "", msg2);
	t_append(d, 0, "INBOX", "", msg1);
	HAS(td_cmd(d, 0, "s SELECT INBOX"), "* 3 EXISTS");
	HAS(td_cmd(d, 0, "c COPY 1:2 Nowhere"), "c NO [TRYCREATE]");
	o = td_cmd(d, 0, "c2 COPY 1,3 Archive");
	HAS(o, "c2 OK [COPYUID ");
	HAS(o, " 1,3 1:2]");
	o = td_cmd(d, 0, "m UID MOVE 2 Trash");
	HAS(o, "* OK [COPYUID ");
	HAS(o, " 2 1]");
	HAS(o, "* 2 EXPUNGE");
	HAS(o, "m OK");
	o = td_cmd(d, 0, "x STATUS Archive (MESSAGES UNSEEN)");
	HAS(o, "(MESSAGES 2 UNSEEN 1)");
	o = td_cmd(d, 0, "y STATUS Trash (MESSAGES)");
	HAS(o, "(MESSAGES 1)");
	o = td_cmd(d, 0, "z SELECT Archive");
	HAS(o, "* 2 EXISTS");
	o = td_cmd(d, 0, "z2 FETCH 1 BODY.PEEK[]");
	HAS(o, msg1);
	/* COPY into the selected mailbox itself: announced at the next NOOP */
	HAS(td_cmd(d, 0, "z3 COPY 1 Archive"), "z3 OK [COPYUID");
	HAS(td_cmd(d, 0, "z4 NOOP"), "* 3 EXISTS");
	td_free(d);
}

/* RFC 3501 §2.3.2: exactly one session reports \Recent for a message. */
static void test_recent_once(void **state)
{
	struct tdrv *d = t_setup();
	const char *o;

	(void)state;
	td_open(d, 0);
	td_open(d, 1);
	td_login(d, 0);
	td_login(d, 1);
	t_append(d, 0, "INBOX", "", msg1);
	t_append(d, 0, "INBOX", "", msg2);
	/* EXAMINE sees \Recent but does not take it away (§6.3.2) */
	HAS(td_cmd(d, 1, "e EXAMINE INBOX"), "* 2 RECENT");
	HAS(td_cmd(d, 1, "e2 STATUS INBOX (RECENT)"), "(RECENT 2)");
	HAS(td_cmd(d, 0, "s SELECT INBOX"), "* 2 RECENT");
	HAS(td_cmd(d, 1, "s SELECT INBOX"), "* 0 RECENT");
	HAS(td_cmd(d, 1, "s2 STATUS INBOX (RECENT)"), "(RECENT 0)");
	t_append(d, 1, "INBOX", "", msg1);
	HAS(td_cmd(d, 1, "t STATUS INBOX (RECENT)"), "(RECENT 1)");
	o = td_cmd(d, 1, "u SELECT INBOX");
	HAS(o, "* 3 EXISTS");
	HAS(o, "* 1 RECENT");
	HAS(td_cmd(d, 0, "v SELECT INBOX"), "* 0 RECENT");
	td_free(d);
}

/* Two sessions on one mailbox: one changes, the other hears at NOOP or,
 * in IDLE, at once. */
static void test_two_sessions(void **state)
{
	struct tdrv *d = t_setup();
	const char *o;

	(void)state;
	td_open(d, 0);
	td_open(d, 1);
	td_login(d, 0);
	td_login(d, 1);
	t_append(d, 0, "INBOX", "", msg1);
	t_append(d, 0, "INBOX", "", msg2);
	HAS(td_cmd(d, 0, "s SELECT INBOX"), "* 2 EXISTS");
	HAS(td_cmd(d, 1, "s SELECT INBOX"), "* 2 EXISTS");
	/* B idles; A appends: B hears EXISTS without asking */
	o = td_cmd_raw(d, 1, "i IDLE\r\n", 8, NULL, NULL);
	HAS(o, "+ idling");
	sl_buf_reset(&d->x[1].out);
	t_append(d, 0, "INBOX", "", msg1);
	sl_buf_append(&d->x[1].out, "", 1);
	d->x[1].out.len--;
	HAS((const char *)d->x[1].out.data, "* 3 EXISTS");
	/* A sets a flag: B hears FETCH (FLAGS) in IDLE too */
	sl_buf_reset(&d->x[1].out);
	HAS(td_cmd(d, 0, "f STORE 2 +FLAGS (\\Flagged)"), "f OK");
	sl_buf_append(&d->x[1].out, "", 1);
	d->x[1].out.len--;
	HAS((const char *)d->x[1].out.data, "* 2 FETCH (FLAGS (\\Flagged");
	HAS(td_cmd_raw(d, 1, "DONE\r\n", 6, "i", NULL), "i OK");
	/* A expunges: B hears it at NOOP */
	HAS(td_cmd(d, 0, "g STORE 1 +FLAGS.SILENT (\\Deleted)"), "g OK");
	HAS(td_cmd(d, 0, "h EXPUNGE"), "* 1 EXPUNGE");
	o = td_cmd(d, 1, "n NOOP");
	HAS(o, "* 1 EXPUNGE");
	HAS(o, "n OK");
	o = td_cmd(d, 1, "n2 FETCH 1:* UID");
	HAS(o, "* 1 FETCH (UID 2)");
	HAS(o, "* 2 FETCH (UID 3)");
	/* a nothing-changed NOOP says nothing more */
	o = td_cmd(d, 1, "n3 NOOP");
	HASNT(o, "EXPUNGE");
	HASNT(o, "EXISTS");
	td_free(d);
}

/* A delivery that does not come from an IMAP session of this lane (SMTP,
 * another lane) reaches an IDLE session through the HIGHESTMODSEQ poll and
 * a NOOP-ing one through sync_on_poll. */
static void test_outside_delivery(void **state)
{
	struct tdrv *d = t_setup();
	st_user_info_t ui;
	st_deliver_target_t tgt = {0, NULL};
	st_target_result_t res;
	st_deliver_t dv;
	st_admin_wait_t w = {0};
	const char *o;

	(void)state;
	td_open(d, 0);
	td_open(d, 1);
	td_login(d, 0);
	td_login(d, 1);
	HAS(td_cmd(d, 0, "s SELECT INBOX"), "* 0 EXISTS");
	HAS(td_cmd(d, 1, "s SELECT INBOX"), "* 0 EXISTS");
	HAS(td_cmd_raw(d, 1, "i IDLE\r\n", 8, NULL, NULL), "+ idling");
	imap_store_tick(d->st, d->now); /* the poll just ran */
	assert_int_equal(st_user_lookup(d->u->rd, USER, &ui), 0);
	tgt.user_id = ui.id;
	memset(&dv, 0, sizeof(dv));
	dv.body = sl_slice_make(msg1, strlen(msg1));
	dv.targets = &tgt;
	dv.n_targets = 1;
	dv.results = &res;
	assert_int_equal(st_msg_deliver(d->u->c, &dv, st_admin_done, &w), 0);
	assert_int_equal(st_admin_wait_for(d->u->c, &w), 0);
	sl_buf_reset(&d->x[1].out);
	imap_store_tick(d->st, d->now);
	assert_int_equal(d->x[1].out.len, 0); /* not before the poll is due */
	d->now += 150 * SL_US_PER_MS;
	imap_store_tick(d->st, d->now);
	sl_buf_append(&d->x[1].out, "", 1);
	d->x[1].out.len--;
	HAS((const char *)d->x[1].out.data, "* 1 EXISTS\r\n* 1 RECENT\r\n");
	/* the IDLE session saw it first: \Recent is its */
	o = td_cmd(d, 0, "n NOOP");
	HAS(o, "* 1 EXISTS");
	HASNT(o, "RECENT");
	o = td_cmd(d, 0, "f FETCH 1 BODY.PEEK[]");
	HAS(o, msg1);
	td_free(d);
}

/* The connection goes away while the store commits an APPEND: the engine
 * session (which holds the borrowed body) lives until the commit. */
static void test_orphaned_write(void **state)
{
	struct tdrv *d = t_setup();
	imap_store_stats_t ss;
	char head[128];
	const char *o;

	(void)state;
	td_open(d, 0);
	td_login(d, 0);
	snprintf(head, sizeof(head), "A APPEND INBOX {%zu+}\r\n", strlen(msg1));
	td_cmd_raw(d, 0, head, strlen(head), NULL, NULL);
	td_cmd_raw(d, 0, msg1, strlen(msg1), NULL, NULL);
	td_cmd_raw(d, 0, "\r\n", 2, NULL, NULL);
	assert_true(imap_store_sess_busy(d->x[0].ss));
	assert_int_equal(imap_store_busy(d->st), 1);
	td_close(d, 0);
	imap_store_get_stats(d->st, &ss);
	assert_int_equal(ss.orphaned_sessions, 1);
	/* the delivery and its structure's cache write both complete */
	for (int k = 0; k < 100 && imap_store_busy(d->st) > 0; k++)
		st_client_wait(d->u->c, 50);
	assert_int_equal(imap_store_busy(d->st), 0);
	/* the message made it */
	td_open(d, 1);
	td_login(d, 1);
	o = td_cmd(d, 1, "s STATUS INBOX (MESSAGES)");
	HAS(o, "(MESSAGES 1)");
	td_free(d);
}

/* A larger mailbox: FETCH resumes across output pauses, bodies over many
 * BODY requests arrive intact. */
static void test_many_messages(void **state)
{
	struct tdrv *d = t_setup();
	const char *o;
	char big[150000];
	size_t n = 0;
	char want[64];

	(void)state;
	td_open(d, 0);
	td_login(d, 0);
	n += (size_t)snprintf(big, sizeof(big), "Subject: big\r\n\r\n");
	for (unsigned i = 0; n + 64 < sizeof(big); i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n, "line %u of the big body\r\n", i);
	for (int i = 0; i < 300; i++)
		t_append(d, 0, "INBOX", "", (i == 150) ? big : msg2);
	o = td_cmd(d, 0, "s SELECT INBOX");
	HAS(o, "* 300 EXISTS");
	o = td_cmd(d, 0, "f FETCH 1:* (UID FLAGS)");
	HAS(o, "* 300 FETCH (UID 300 FLAGS (\\Recent))");
	o = td_cmd(d, 0, "b FETCH 151 BODY.PEEK[]");
	snprintf(want, sizeof(want), "BODY[] {%zu}\r\n", n);
	HAS(o, want);
	HAS(o, big + n - 200);
	assert_non_null(strstr(o, big));
	o = td_cmd(d, 0, "e SEARCH LARGER 100000");
	HAS(o, "* SEARCH 151\r\n");
	o = td_cmd(d, 0, "x STORE 1:* +FLAGS.SILENT (\\Deleted)");
	HAS(o, "x OK");
	o = td_cmd(d, 0, "y EXPUNGE");
	HAS(o, "* 1 EXPUNGE");
	HAS(o, "y OK");
	HAS(td_cmd(d, 0, "z STATUS INBOX (MESSAGES)"), "(MESSAGES 0)");
	td_free(d);
}

static const char mime_msg[] =
	"From: Bob <bob@example.org>\r\nTo: alice@example.net\r\nSubject: parts\r\n"
	"Message-ID: <p1@example.org>\r\nMIME-Version: 1.0\r\n"
	"Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
	"preamble\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
	"first part\r\n--b1\r\nContent-Type: text/html\r\nContent-ID: <h1>\r\n\r\n"
	"<p>second</p>\r\n--b1--\r\n";

/* ENVELOPE and BODYSTRUCTURE built at APPEND; MIME part sections resolved
 * from the part table. */
static void test_structure_and_parts(void **state)
{
	struct tdrv *d = t_setup();
	imap_store_stats_t ss;
	const char *o;

	(void)state;
	td_open(d, 0);
	td_login(d, 0);
	HAS(t_append(d, 0, "INBOX", "", mime_msg), "A9 OK");
	imap_store_get_stats(d->st, &ss);
	assert_int_equal(ss.structs_built, 1);
	assert_int_equal(ss.structs_cached, 1);
	HAS(td_cmd(d, 0, "s SELECT INBOX"), "s OK");
	o = td_cmd(d, 0, "f FETCH 1 (ENVELOPE BODYSTRUCTURE)");
	HAS(o, "ENVELOPE (NIL \"parts\" ((\"Bob\" NIL \"bob\" \"example.org\"))");
	HAS(o, "\"<p1@example.org>\")");
	HAS(o, "BODYSTRUCTURE ((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\")");
	HAS(o, "\"MIXED\"");
	HAS(o, "f OK FETCH completed");
	o = td_cmd(d, 0, "g FETCH 1 BODY");
	HAS(o, "BODY ((\"TEXT\" \"PLAIN\"");
	o = td_cmd(d, 0, "h FETCH 1 (BODY.PEEK[1] BODY.PEEK[2.MIME] BODY.PEEK[2]<3.6>)");
	HAS(o, "BODY[1] {10}\r\nfirst part");
	HAS(o, "BODY[2.MIME] {45}\r\nContent-Type: text/html\r\nContent-ID: <h1>\r\n\r\n");
	HAS(o, "BODY[2]<3> {6}\r\nsecond");
	HAS(o, "h OK FETCH completed");
	o = td_cmd(d, 0, "i FETCH 1 (BODY.PEEK[3] BODY.PEEK[1.TEXT])");
	HAS(o, "BODY[3] {0}");
	HAS(o, "BODY[1.TEXT] {0}");
	HAS(o, "i OK FETCH completed");
	/* the cache is used: no second parse */
	imap_store_get_stats(d->st, &ss);
	assert_int_equal(ss.structs_built, 1);
	td_free(d);
}

/* A message delivered without a structure (SMTP, the control thread) gets
 * one built at its first FETCH ENVELOPE, then cached. */
static void test_structure_built_lazily(void **state)
{
	struct tdrv *d = t_setup();
	st_user_info_t ui;
	st_deliver_target_t tgt = {0, NULL};
	st_target_result_t res;
	st_deliver_t dv;
	st_admin_wait_t w = {0};
	imap_store_stats_t ss;
	const char *o;

	(void)state;
	assert_int_equal(st_user_lookup(d->u->rd, USER, &ui), 0);
	tgt.user_id = ui.id;
	memset(&dv, 0, sizeof(dv));
	dv.body = sl_slice_make(mime_msg, strlen(mime_msg));
	dv.targets = &tgt;
	dv.n_targets = 1;
	dv.results = &res;
	assert_int_equal(st_msg_deliver(d->u->c, &dv, st_admin_done, &w), 0);
	assert_int_equal(st_admin_wait_for(d->u->c, &w), 0);
	td_open(d, 0);
	td_login(d, 0);
	HAS(td_cmd(d, 0, "s SELECT INBOX"), "s OK");
	o = td_cmd(d, 0, "f FETCH 1 ENVELOPE");
	HAS(o, "ENVELOPE (NIL \"parts\"");
	HAS(o, "f OK FETCH completed");
	st_client_wait(d->u->c, 1000); /* the cache write */
	o = td_cmd(d, 0, "g FETCH 1 (BODYSTRUCTURE BODY.PEEK[2])");
	HAS(o, "\"HTML\"");
	HAS(o, "BODY[2] {13}\r\n<p>second</p>");
	imap_store_get_stats(d->st, &ss);
	assert_int_equal(ss.structs_built, 1);
	assert_int_equal(ss.structs_cached, 1);
	td_free(d);
}

/* A cached structure that does not read back (another version's format,
 * or damage) is rebuilt at FETCH and replaced, not reported unavailable. */
static void test_stale_structure_rebuilt(void **state)
{
	struct tdrv *d = t_setup();
	st_user_info_t ui;
	st_deliver_target_t tgt = {0, NULL};
	st_target_result_t res;
	st_deliver_t dv;
	st_admin_wait_t w = {0}, w2 = {0};
	st_blob_id_t id;
	imap_store_stats_t ss;
	const char *o;

	(void)state;
	assert_int_equal(st_user_lookup(d->u->rd, USER, &ui), 0);
	tgt.user_id = ui.id;
	memset(&dv, 0, sizeof(dv));
	dv.body = sl_slice_make(mime_msg, strlen(mime_msg));
	dv.targets = &tgt;
	dv.n_targets = 1;
	dv.results = &res;
	assert_int_equal(st_msg_deliver(d->u->c, &dv, st_admin_done, &w), 0);
	assert_int_equal(st_admin_wait_for(d->u->c, &w), 0);
	st_sha256(mime_msg, strlen(mime_msg), id.b);
	assert_int_equal(st_blob_struct_set(d->u->c, &id, sl_slice_make("garbage", 7), st_admin_done,
					    &w2),
			 0);
	assert_int_equal(st_admin_wait_for(d->u->c, &w2), 0);
	td_open(d, 0);
	td_login(d, 0);
	HAS(td_cmd(d, 0, "s SELECT INBOX"), "s OK");
	o = td_cmd(d, 0, "f FETCH 1 ENVELOPE");
	HAS(o, "ENVELOPE (NIL \"parts\"");
	HAS(o, "f OK FETCH completed");
	imap_store_get_stats(d->st, &ss);
	assert_int_equal(ss.structs_built, 1);
	assert_int_equal(ss.structs_cached, 1);
	td_free(d);
}

/* FETCH of structures over many messages resumes across output pauses
 * (a small output buffer makes it pause often). */
static void test_structure_fetch_resumes(void **state)
{
	struct tdrv *d = t_setup();
	const char *o;
	char want[64];

	(void)state;
	d->cfg.body_chunk_max = 4096;
	d->cfg.output_max = 32768;
	td_open(d, 0);
	td_login(d, 0);
	for (int i = 0; i < 150; i++)
		HAS(t_append(d, 0, "INBOX", "", mime_msg), "A9 OK");
	HAS(td_cmd(d, 0, "s SELECT INBOX"), "s OK");
	HAS(td_cmd(d, 0, "b UID FETCH 1:* (FLAGS BODY.PEEK[])"), "b OK FETCH completed");
	o = td_cmd(d, 0, "f FETCH 1:* (ENVELOPE BODYSTRUCTURE)");
	for (int i = 1; i <= 150; i++) {
		snprintf(want, sizeof(want), "* %d FETCH (ENVELOPE (NIL \"parts\"", i);
		HAS(o, want);
	}
	HAS(o, "f OK FETCH completed");
	td_free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_login_and_mailboxes),
		cmocka_unit_test(test_append_fetch_store_expunge),
		cmocka_unit_test(test_copy_move),
		cmocka_unit_test(test_recent_once),
		cmocka_unit_test(test_two_sessions),
		cmocka_unit_test(test_outside_delivery),
		cmocka_unit_test(test_orphaned_write),
		cmocka_unit_test(test_many_messages),
		cmocka_unit_test(test_structure_and_parts),
		cmocka_unit_test(test_structure_built_lazily),
		cmocka_unit_test(test_stale_structure_rebuilt),
		cmocka_unit_test(test_structure_fetch_resumes),
	};

	sl_log_set_level(SL_LOG_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
