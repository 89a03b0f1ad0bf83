/* test_imap_search_store - SEARCH on message text through the real glue
 * (mta/imap_store.c) on a real LMDB store: the predicates are evaluated on
 * the stored bodies, a search over more than one slice of the budget gives
 * the lane back and goes on from the tick (another session is served in
 * between), and a session that goes away while its search waits is
 * forgotten cleanly. */
#include "test_store_util.h"
#include "st_private.h"

#include <strings.h>

#include "imap/imap_session.h"
#include "imap_store.h"
#include "sl_time.h"

#define USER "alice@example.net"
#define PASS "secret-pw"
#define NMSG 1500u

struct tsess {
	imap_session_t *s;
	imap_store_sess_t *ss;
	sl_buf_t out;
	struct tdrv *d;
};

struct tdrv {
	ut_store_t *u;
	imap_store_t *st;
	struct imap_config cfg;
	struct imap_stats stats;
	uint64_t now;
	uint64_t user;
	struct tsess x[2];
};

static void t_pump(struct tsess *t);

static void t_wake(void *owner)
{
	t_pump(owner);
}

static void t_pump(struct tsess *t)
{
	struct tdrv *d = t->d;

	for (int guard = 0; guard < 100000; guard++) {
		sl_slice_t o;
		const struct imap_request *rq;

		if (t->s == NULL)
			return;
		o = imap_session_output(t->s);
		if (o.len > 0) {
			assert_int_equal(sl_buf_append(&t->out, o.ptr, o.len), 0);
			imap_session_output_consume(t->s, d->now, o.len);
			continue;
		}
		rq = imap_session_request(t->s);
		if (rq == NULL || imap_store_sess_busy(t->ss))
			return;
		if (rq->kind == IMAP_REQ_AUTH) {
			imap_store_sess_login(t->ss, d->user);
			imap_session_auth_done(t->s, d->now, IMAP_AUTH_OK, NULL);
			continue;
		}
		assert_int_equal(imap_store_serve(t->ss, rq, d->now), 0);
	}
	fail_msg("pump did not settle");
}

static bool t_tagged(const sl_buf_t *out, const char *tag)
{
	size_t tl = strlen(tag);
	const char *p = (const char *)out->data, *end = p + out->len;

	while (p != NULL && p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		if (nl == NULL)
			return false;
		if ((size_t)(nl - p) > tl && memcmp(p, tag, tl) == 0 && p[tl] == ' ')
			return true;
		p = nl + 1;
	}
	return false;
}

/* Send LINE; if WAIT, tick until its tag is answered. *TICKS_R (may be
 * NULL): ticks it took. The output is NUL-terminated. */
static const char *t_cmd(struct tdrv *d, int i, const char *line, bool wait, int *ticks_r)
{
	struct tsess *t = &d->x[i];
	char buf[1024], tag[32];
	size_t n = 0, tl = strcspn(line, " ");
	int k = 0;

	snprintf(tag, sizeof(tag), "%.*s", (int)tl, line);
	snprintf(buf, sizeof(buf), "%s\r\n", line);
	sl_buf_reset(&t->out);
	assert_int_equal(imap_session_input(t->s, d->now, buf, strlen(buf), &n), 0);
	assert_int_equal(n, strlen(buf));
	t_pump(t);
	for (; wait && !t_tagged(&t->out, tag); k++) {
		if (k > 1000)
			fail_msg("no answer to %s", tag);
		d->now += 10;
		imap_store_tick(d->st, d->now);
		st_client_wait(d->u->c, 1);
		t_pump(t);
	}
	if (ticks_r != NULL)
		*ticks_r = k;
	assert_int_equal(sl_buf_append(&t->out, "", 1), 0);
	t->out.len--;
	return (const char *)t->out.data;
}

#define HAS(out, s)                                                              \
	do {                                                                     \
		if (strstr((out), (s)) == NULL)                                  \
			fail_msg("expected \"%s\" in:\n%.2000s", (s), (out));    \
	} while (0)

static void t_open(struct tdrv *d, int i)
{
	struct tsess *t = &d->x[i];
	struct imap_peer peer = {.client_ip = "192.0.2.7", .tls_active = false, .conn_id = 1};

	t->d = d;
	sl_buf_init(&t->out, 8u << 20);
	assert_int_equal(imap_session_create(&d->cfg, &peer, d->now, &t->s), 0);
	assert_int_equal(imap_store_sess_create(d->st, t->s, t, &t->ss), 0);
	t_pump(t);
	HAS(t_cmd(d, i, "L LOGIN " USER " " PASS, true, NULL), "L OK");
	HAS(t_cmd(d, i, "S SELECT INBOX", true, NULL), "S OK");
}

/* NMSG messages of about 4 KB; every 100th has the term in its base64
 * body, every 7th is from bob, each has a Date a day apart. */
static struct tdrv *t_setup(void)
{
	struct tdrv *d = calloc(1, sizeof(*d));
	imap_store_params_t p;
	const char *err = NULL;
	st_user_info_t ui;
	char *msg = malloc(8192);

	assert_non_null(d);
	assert_non_null(msg);
	d->u = ut_store_new();
	assert_int_equal(st_admin_domain_add(d->u->c, "example.net", &err), 0);
	assert_int_equal(st_admin_user_add(d->u->c, USER, SL_SLICE_LIT(PASS), NULL, &err), 0);
	assert_int_equal(st_user_lookup(d->u->rd, USER, &ui), 0);
	d->user = ui.id;
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
	memset(&p, 0, sizeof(p));
	p.reader = d->u->rd;
	p.client = d->u->c;
	p.wake = t_wake;
	assert_int_equal(imap_store_create(&p, &d->st), 0);
	imap_config_defaults(&d->cfg);
	d->cfg.hostname = "imap.example.net";
	d->cfg.allow_plaintext_auth = true;
	d->cfg.stats = &d->stats;
	d->now = 1000 * SL_US_PER_S;
	return d;
}

static void t_teardown(struct tdrv *d)
{
	for (int i = 0; i < 2; i++) {
		if (d->x[i].ss != NULL) {
			imap_store_sess_destroy(&d->x[i].ss, &d->x[i].s);
			assert_null(d->x[i].s);
		}
		sl_buf_free(&d->x[i].out);
	}
	imap_store_destroy(&d->st);
	ut_store_free(d->u);
	free(d);
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
	o = t_cmd(d, 0, "a UID SEARCH BODY pineapple", false, NULL);
	assert_false(t_tagged(&d->x[0].out, "a"));
	assert_true(imap_store_sess_busy(d->x[0].ss));
	next = imap_store_next_deadline(d->st);
	assert_true(next <= d->now);
	/* meanwhile the lane serves another session (the UID key narrows
	 * what is scanned to 20 messages: one slice) */
	HAS(t_cmd(d, 1, "n UID SEARCH FROM bob UID 1:20", false, NULL), "* SEARCH 7 14\r\nn OK");
	HAS(t_cmd(d, 1, "n2 SEARCH 1:30 OR SUBJECT \"message 3\" TO nobody", false, NULL),
	    "* SEARCH 3 30\r\nn2 OK");
	assert_false(t_tagged(&d->x[0].out, "a"));
	for (; !t_tagged(&d->x[0].out, "a"); ticks++) {
		assert_true(ticks < 100);
		imap_store_tick(d->st, d->now);
		t_pump(&d->x[0]);
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
	o = t_cmd(d, 0, "b SEARCH RETURN (COUNT) FROM bob", true, &ticks);
	HAS(o, "* ESEARCH (TAG \"b\") COUNT 214");
	o = t_cmd(d, 0, "c SEARCH RETURN (COUNT) SENTON 1-Jan-2026", true, NULL);
	HAS(o, "COUNT 53"); /* i % 28 == 0 */
	o = t_cmd(d, 0, "d SEARCH RETURN (COUNT) NOT TEXT pineapple", true, NULL);
	HAS(o, "COUNT 1485");
	t_teardown(d);
}

/* A session that goes away while its search waits for the tick. */
static void test_search_session_gone(void **state)
{
	struct tdrv *d = t_setup();

	(void)state;
	t_open(d, 0);
	t_open(d, 1);
	t_cmd(d, 0, "a SEARCH TEXT nowhere-to-be-found", false, NULL);
	assert_true(imap_store_sess_busy(d->x[0].ss));
	imap_store_sess_destroy(&d->x[0].ss, &d->x[0].s);
	assert_null(d->x[0].s);
	imap_store_tick(d->st, d->now);
	HAS(t_cmd(d, 1, "b SEARCH SUBJECT \"message 1499\"", true, NULL), "* SEARCH 1499\r\nb OK");
	t_teardown(d);
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
	o = t_cmd(d, 0, "a UID SEARCH BODY pineapple", true, NULL);
	snprintf(want, sizeof(want), "* SEARCH");
	for (unsigned i = 100; i <= NMSG; i += 100)
		snprintf(want + strlen(want), sizeof(want) - strlen(want), " %u", i);
	strcat(want, "\r\na OK SEARCH completed");
	HAS(o, want);
	HAS(t_cmd(d, 0, "b UID SEARCH SUBJECT damaged", true, NULL), "* SEARCH\r\nb OK");
	HAS(t_cmd(d, 0, "c UID SEARCH UID 1501", true, NULL), "* SEARCH 1501\r\nc OK");
	t_teardown(d);
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
