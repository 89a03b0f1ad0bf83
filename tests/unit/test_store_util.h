/* test_store_util - helpers shared by the test_store*.c suites: a scratch
 * directory per test, a store opened with cheap argon2 parameters, and
 * synchronous wrappers around the asynchronous write API.
 *
 * Header-only (static functions) so that each suite stays one translation
 * unit and the Makefile's auto-discovery needs nothing more. */
#ifndef TEST_STORE_UTIL_H
#define TEST_STORE_UTIL_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "sl_err.h"
#include "sl_log.h"
#include "st.h"

typedef struct ut_store {
	char dir[256];
	char path[300];
	st_store_t *s;
	st_client_t *c;
	st_reader_t *rd;
} ut_store_t;

static inline int ut_rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(p);
}

static inline void ut_rmrf(const char *dir)
{
	nftw(dir, ut_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Options for tests: cheap argon2 (t=1, 8 KiB) so user creation is fast. */
static inline void ut_opts(st_store_opts_t *o, const char *path)
{
	st_store_opts_default(o);
	o->path = path;
	o->argon2_t_cost = 1;
	o->argon2_m_cost_kib = 8;
	o->argon2_parallelism = 1;
	o->map_size = 8u << 20;
}

static inline void ut_store_open_opts(ut_store_t *u, const st_store_opts_t *o)
{
	const char *err = NULL;
	int rc = st_store_open(o, &u->s, &err);

	if (rc != 0)
		fail_msg("st_store_open: %s (%s)", sl_strerror(rc), err ? err : "");
	assert_int_equal(st_client_create(u->s, 64, &u->c), 0);
	assert_int_equal(st_reader_create(u->s, &u->rd), 0);
}

static inline void ut_store_close(ut_store_t *u)
{
	st_reader_destroy(&u->rd);
	st_client_destroy(&u->c);
	st_store_close(&u->s);
	assert_null(u->s);
}

/* A fresh directory and an open store in it. */
static inline ut_store_t *ut_store_new(void)
{
	ut_store_t *u = calloc(1, sizeof(*u));
	const char *tmp = getenv("TMPDIR");
	st_store_opts_t o;

	assert_non_null(u);
	snprintf(u->dir, sizeof(u->dir), "%s/st_test_XXXXXX", tmp && *tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(u->dir));
	snprintf(u->path, sizeof(u->path), "%s/db", u->dir);
	ut_opts(&o, u->path);
	ut_store_open_opts(u, &o);
	return u;
}

static inline void ut_store_reopen(ut_store_t *u)
{
	st_store_opts_t o;

	ut_store_close(u);
	ut_opts(&o, u->path);
	ut_store_open_opts(u, &o);
}

static inline void ut_store_free(ut_store_t *u)
{
	if (u == NULL)
		return;
	if (u->s != NULL)
		ut_store_close(u);
	ut_rmrf(u->dir);
	free(u);
}

/* --- synchronous wrappers --------------------------------------------- */

/* Wait for the request just submitted with st_admin_done/&w. */
static inline st_result_t ut_wait(ut_store_t *u, st_admin_wait_t *w, int submit_rc)
{
	assert_int_equal(submit_rc, 0);
	st_admin_wait_for(u->c, w);
	return w->res;
}

#define UT_SYNC(u, call_with_w)                                                   \
	({                                                                        \
		st_admin_wait_t w_ = {0};                                         \
		st_admin_wait_t *w = &w_;                                         \
		ut_wait((u), w, (call_with_w));                                   \
	})

static inline uint64_t ut_user(ut_store_t *u, const char *addr)
{
	const char *err = NULL;
	uint64_t id = 0;
	int rc = st_admin_user_add(u->c, addr, SL_SLICE_LIT("secret"), &id, &err);

	if (rc != 0)
		fail_msg("user add %s: %s", addr, err ? err : "");
	return id;
}

static inline void ut_domain(ut_store_t *u, const char *d)
{
	const char *err = NULL;

	assert_int_equal(st_admin_domain_add(u->c, d, &err), 0);
}

static inline uint64_t ut_mbox_id(ut_store_t *u, uint64_t user, const char *name)
{
	st_mailbox_info_t mi;

	assert_int_equal(st_mailbox_get(u->rd, user, name, &mi), 0);
	return mi.id;
}

/* Deliver BODY to one mailbox; returns the UID. */
static inline uint32_t ut_deliver(ut_store_t *u, uint64_t user, const char *mbox, const void *body,
				  size_t len, uint32_t flags)
{
	st_deliver_target_t t = {user, mbox};
	st_target_result_t tr;
	st_deliver_t d = {0};
	st_result_t res;

	d.body = sl_slice_make(body, len);
	d.flags = flags;
	d.targets = &t;
	d.n_targets = 1;
	d.results = &tr;
	res = UT_SYNC(u, st_msg_deliver(u->c, &d, st_admin_done, w));
	if (res.err != 0 || tr.err != 0)
		fail_msg("deliver: %s / %s (%s)", sl_strerror(res.err), sl_strerror(tr.err),
			 res.error ? res.error : "");
	return tr.uid;
}

/* Deterministic pseudo-random bytes. */
static inline uint64_t ut_rand(uint64_t *st)
{
	uint64_t x = *st;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*st = x;
	return x;
}

static inline void ut_fill(uint8_t *p, size_t n, uint64_t seed)
{
	uint64_t st = seed * 0x9e3779b97f4a7c15ull + 1;

	for (size_t i = 0; i < n; i++) {
		if ((i & 7) == 0)
			ut_rand(&st);
		p[i] = (uint8_t)(st >> ((i & 7) * 8));
	}
}

/* The consistency check (st_store_check) must pass; on failure the first
 * problem is the message. */
static inline void ut_check(ut_store_t *u)
{
	st_check_report_t rep;
	int rc = st_store_check(u->rd, &rep);

	if (rc != 0)
		fail_msg("store check: %s: %llu problem(s), first: %s", sl_strerror(rc),
			 (unsigned long long)rep.problems, rep.first_problem);
}

/* A cmocka teardown: a store still open must check clean, then it goes. */
static inline int ut_teardown_checked(void **state)
{
	ut_store_t *u = *state;

	if (u->s != NULL)
		ut_check(u);
	ut_store_free(u);
	return 0;
}

#endif
