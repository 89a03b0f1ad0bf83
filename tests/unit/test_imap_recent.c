/* test_imap_recent - the \Recent claims shared by every lane: claims are
 * monotonic, per mailbox, and two threads claiming the same UIDs never
 * both get one. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "imap_recent.h"

static void test_claims(void **state)
{
	imap_recent_t *t = imap_recent_create();

	(void)state;
	assert_non_null(t);
	assert_int_equal(imap_recent_claimed(t, 7), 0);
	assert_int_equal(imap_recent_claim(t, 7, 10), 0);  /* 1..10 are ours */
	assert_int_equal(imap_recent_claimed(t, 7), 10);
	assert_int_equal(imap_recent_claim(t, 7, 5), 10);  /* nothing new */
	assert_int_equal(imap_recent_claimed(t, 7), 10);   /* never lowered */
	assert_int_equal(imap_recent_claim(t, 7, 12), 10); /* 11..12 */
	assert_int_equal(imap_recent_claimed(t, 8), 0);    /* per mailbox */
	assert_int_equal(imap_recent_claim(t, 0, 3), 3);   /* no mailbox: nothing */
	imap_recent_destroy(&t);
	assert_null(t);
	imap_recent_destroy(&t);
}

/* Many mailboxes: the table starts over when half full, so claims are
 * forgotten (every message \Recent once more), never wrong or crashing. */
static void test_many_mailboxes(void **state)
{
	imap_recent_t *t = imap_recent_create();

	(void)state;
	for (uint64_t id = 1; id <= 100000; id++)
		assert_true(imap_recent_claim(t, id, 5) <= 5);
	assert_int_equal(imap_recent_claim(t, 100000, 6), 5);
	imap_recent_destroy(&t);
}

#define RACE_UIDS 200000u

struct racer {
	imap_recent_t *t;
	uint32_t won;
};

static void *race(void *arg)
{
	struct racer *r = arg;

	for (uint32_t uid = 1; uid <= RACE_UIDS; uid++)
		if (imap_recent_claim(r->t, 42, uid) < uid)
			r->won++;
	return NULL;
}

static void test_two_lanes_never_share(void **state)
{
	imap_recent_t *t = imap_recent_create();
	struct racer a = {t, 0}, b = {t, 0};
	pthread_t ta, tb;

	(void)state;
	assert_int_equal(pthread_create(&ta, NULL, race, &a), 0);
	assert_int_equal(pthread_create(&tb, NULL, race, &b), 0);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	/* each UID was claimed by exactly one of the two */
	assert_int_equal(a.won + b.won, RACE_UIDS);
	assert_int_equal(imap_recent_claimed(t, 42), RACE_UIDS);
	imap_recent_destroy(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_claims),
		cmocka_unit_test(test_many_mailboxes),
		cmocka_unit_test(test_two_lanes_never_share),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
