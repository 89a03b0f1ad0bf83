/* test_imap_store_driver - drives IMAP engine sessions bound to a real LMDB
 * store through mta/imap_store.c, without a network (test_imap_store.c,
 * test_imap_search_store.c).
 *
 * td_new() makes a store with one domain and one user (TD_USER/TD_PASS)
 * and the engine's config; the test adjusts d->cfg, delivers mail, then
 * td_start() creates the glue. td_open(d, i) opens session i (greeting
 * consumed); td_cmd() sends a line and runs the store until its tag is
 * answered. A login checks the password through the store unless d->user
 * is set, in which case it logs that user in at once (no argon2id cost).
 * While a tag is awaited the clock advances d->tick_us per tick. */
#ifndef TEST_IMAP_STORE_DRIVER_H
#define TEST_IMAP_STORE_DRIVER_H

#include "test_store_util.h"

#include <strings.h>

#include "imap/imap_session.h"
#include "imap_store.h"
#include "sl_time.h"

#define TD_USER "alice@example.net"
#define TD_PASS "secret-pw"
#define TD_SESSIONS 3

struct tdrv;

struct tsess {
	imap_session_t *s;
	imap_store_sess_t *ss;
	sl_buf_t out;
	struct tdrv *d;
	int wakes; /* times the glue called wake for this session */
};

struct tdrv {
	ut_store_t *u;
	imap_store_t *st;
	struct imap_config cfg;
	struct imap_stats stats;
	uint64_t now;
	uint64_t tick_us; /* clock advance per tick while a tag is awaited */
	uint64_t user;    /* nonzero: logins skip the password check */
	struct tsess x[TD_SESSIONS];
};

#define HAS(out, s)                                                                    \
	do {                                                                           \
		if (strstr((out), (s)) == NULL)                                        \
			fail_msg("expected \"%s\" in:\n%.4000s", (s), (out));          \
	} while (0)
#define HASNT(out, s)                                                                  \
	do {                                                                           \
		if (strstr((out), (s)) != NULL)                                        \
			fail_msg("did not expect \"%s\" in:\n%.4000s", (s), (out));    \
	} while (0)

/* Move output into t->out and hand requests to the glue until the session
 * waits for input or for the store. */
static inline void td_pump(struct tsess *t)
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
			uint64_t id = d->user;
			int rc = 0;

			if (id == 0)
				rc = st_user_authenticate(d->u->rd, (const char *)rq->u.auth.authcid.ptr,
							  rq->u.auth.password, &id);
			if (rc == 0)
				imap_store_sess_login(t->ss, id);
			imap_session_auth_done(t->s, d->now, rc == 0 ? IMAP_AUTH_OK : IMAP_AUTH_FAIL,
					       NULL);
			continue;
		}
		assert_int_equal(imap_store_serve(t->ss, rq, d->now), 0);
	}
	fail_msg("pump did not settle");
}

static inline void td_wake(void *owner)
{
	struct tsess *t = owner;

	t->wakes++;
	td_pump(t);
}

static inline struct tdrv *td_new(void)
{
	struct tdrv *d = calloc(1, sizeof(*d));
	const char *err = NULL;

	assert_non_null(d);
	d->u = ut_store_new();
	assert_int_equal(st_admin_domain_add(d->u->c, "example.net", &err), 0);
	assert_int_equal(st_admin_user_add(d->u->c, TD_USER, SL_SLICE_LIT(TD_PASS), NULL, &err), 0);
	imap_config_defaults(&d->cfg);
	d->cfg.hostname = "imap.example.net";
	d->cfg.allow_plaintext_auth = true;
	d->cfg.stats = &d->stats;
	d->now = 1000 * SL_US_PER_S;
	return d;
}

/* Create the glue; POLL_US is its HIGHESTMODSEQ poll period (0: default). */
static inline void td_start(struct tdrv *d, uint64_t poll_us)
{
	imap_store_params_t p;

	memset(&p, 0, sizeof(p));
	p.reader = d->u->rd;
	p.client = d->u->c;
	p.wake = td_wake;
	p.poll_us = poll_us;
	assert_int_equal(imap_store_create(&p, &d->st), 0);
}

static inline void td_open(struct tdrv *d, int i)
{
	struct tsess *t = &d->x[i];
	struct imap_peer peer = {.client_ip = "192.0.2.7", .tls_active = false, .conn_id = 1};

	t->d = d;
	sl_buf_init(&t->out, 64u << 20);
	assert_int_equal(imap_session_create(&d->cfg, &peer, d->now, &t->s), 0);
	assert_int_equal(imap_store_sess_create(d->st, t->s, t, &t->ss), 0);
	td_pump(t);
	sl_buf_reset(&t->out);
}

static inline void td_close(struct tdrv *d, int i)
{
	struct tsess *t = &d->x[i];

	imap_store_sess_destroy(&t->ss, &t->s);
	assert_null(t->s);
	sl_buf_free(&t->out);
}

static inline void td_free(struct tdrv *d)
{
	for (int i = 0; i < TD_SESSIONS; i++) {
		if (d->x[i].ss != NULL)
			td_close(d, i);
		sl_buf_free(&d->x[i].out);
	}
	imap_store_destroy(&d->st);
	ut_store_free(d->u);
	free(d);
}

/* Has OUT a line starting with "TAG "? */
static inline bool td_tagged(const sl_buf_t *out, const char *tag)
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

/* Send raw bytes and, if TAG is not NULL, tick the store until TAG is
 * answered; *TICKS_R (may be NULL) gets the ticks that took. The output is
 * returned NUL-terminated (valid until the next call for this session). */
static inline const char *td_cmd_raw(struct tdrv *d, int i, const void *data, size_t len,
				     const char *tag, int *ticks_r)
{
	struct tsess *t = &d->x[i];
	size_t used = 0;
	int k = 0;

	sl_buf_reset(&t->out);
	while (used < len) {
		size_t n = 0;

		assert_int_equal(imap_session_input(t->s, d->now, (const uint8_t *)data + used,
						    len - used, &n),
				 0);
		used += n;
		td_pump(t);
		if (n == 0) {
			imap_store_tick(d->st, d->now);
			st_client_wait(d->u->c, 50);
		}
	}
	for (; tag != NULL && !td_tagged(&t->out, tag); k++) {
		if (k > 2000)
			fail_msg("no answer to %s; output: %.*s", tag, (int)t->out.len,
				 (const char *)t->out.data);
		d->now += d->tick_us;
		imap_store_tick(d->st, d->now);
		st_client_wait(d->u->c, 5);
		td_pump(t);
	}
	if (ticks_r != NULL)
		*ticks_r = k;
	assert_int_equal(sl_buf_append(&t->out, "", 1), 0);
	t->out.len--;
	return (const char *)t->out.data;
}

/* Send LINE (CRLF added); if WAIT, run until its tag is answered. */
static inline const char *td_cmd_wait(struct tdrv *d, int i, const char *line, bool wait,
				      int *ticks_r)
{
	char tag[32];
	char buf[8192];
	size_t tl = strcspn(line, " ");

	snprintf(tag, sizeof(tag), "%.*s", (int)tl, line);
	snprintf(buf, sizeof(buf), "%s\r\n", line);
	return td_cmd_raw(d, i, buf, strlen(buf), wait ? tag : NULL, ticks_r);
}

static inline const char *td_cmd(struct tdrv *d, int i, const char *line)
{
	return td_cmd_wait(d, i, line, true, NULL);
}

static inline void td_login(struct tdrv *d, int i)
{
	HAS(td_cmd(d, i, "L1 LOGIN " TD_USER " " TD_PASS), "L1 OK");
}

/* TD_USER's INBOX as the store has it now, in MI_R; returns the user id. */
static inline uint64_t td_inbox(struct tdrv *d, st_mailbox_info_t *mi_r)
{
	st_user_info_t ui;

	assert_int_equal(st_user_lookup(d->u->rd, TD_USER, &ui), 0);
	assert_int_equal(st_mailbox_get(d->u->rd, ui.id, "INBOX", mi_r), 0);
	return ui.id;
}

#endif
