/* test_timer - sl_timer wheel: ordering, callbacks that re-arm and cancel,
 * far timers, past expiries, next() values, and a randomized run checked
 * against a sorted reference. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "sl_time.h"
#include "sl_timer.h"

#define MS SL_US_PER_MS
#define SEC SL_US_PER_S

/* Fire log shared by the simple callbacks. */
static int fire_log[64];
static unsigned fire_n;

static void log_cb(sl_timer_t *t, void *arg)
{
	(void)t;
	if (fire_n < 64)
		fire_log[fire_n] = (int)(intptr_t)arg;
	fire_n++;
}

static void log_reset(void)
{
	fire_n = 0;
}

static void test_fires_in_expiry_order(void **state)
{
	sl_timer_wheel_t *w = sl_timer_wheel_create(0, 1000);
	sl_timer_t t[6];
	/* Same tick (5 ms) with distinct sub-tick expiries, and a later one. */
	const uint64_t exp[6] = {5000, 4100, 4900, 4500, 4600, 12000};

	(void)state;
	log_reset();
	for (int i = 0; i < 6; i++) {
		sl_timer_init(&t[i], log_cb, (void *)(intptr_t)i);
		sl_timer_arm(w, &t[i], exp[i]);
	}
	assert_int_equal(sl_timer_wheel_count(w), 6);
	assert_int_equal(sl_timer_wheel_run(w, 4999), 0);
	assert_int_equal(sl_timer_wheel_run(w, 5000), 5);
	assert_int_equal(fire_n, 5);
	/* 4100, 4500, 4600, 4900, 5000 */
	assert_int_equal(fire_log[0], 1);
	assert_int_equal(fire_log[1], 3);
	assert_int_equal(fire_log[2], 4);
	assert_int_equal(fire_log[3], 2);
	assert_int_equal(fire_log[4], 0);
	assert_false(sl_timer_pending(&t[0]));
	assert_true(sl_timer_pending(&t[5]));
	assert_int_equal(sl_timer_wheel_run(w, 100 * MS), 1);
	assert_int_equal(fire_log[5], 5);
	assert_int_equal(sl_timer_wheel_count(w), 0);
	sl_timer_wheel_destroy(&w);
	assert_null(w);
}

static void test_rounds_up_to_tick(void **state)
{
	sl_timer_wheel_t *w = sl_timer_wheel_create(0, 1000);
	sl_timer_t t;

	(void)state;
	log_reset();
	sl_timer_init(&t, log_cb, NULL);
	sl_timer_arm(w, &t, 2500);
	assert_int_equal(sl_timer_expiry(&t), 2500);
	assert_int_equal(sl_timer_wheel_next(w), 3000);
	assert_int_equal(sl_timer_wheel_run(w, 2600), 0);
	assert_int_equal(sl_timer_wheel_run(w, 3000), 1);
	assert_int_equal(sl_timer_expiry(&t), SL_TIME_NEVER);
	sl_timer_wheel_destroy(&w);
}

/* A periodic timer re-arms itself from its own callback. */
struct periodic {
	sl_timer_t t;
	sl_timer_wheel_t *w;
	uint64_t period;
	unsigned fired;
	unsigned limit;
};

static void periodic_cb(sl_timer_t *t, void *arg)
{
	struct periodic *p = arg;

	p->fired++;
	if (p->fired < p->limit)
		sl_timer_arm(p->w, t, 0); /* long past */
}

static void periodic_rearm_cb(sl_timer_t *t, void *arg)
{
	struct periodic *p = arg;

	p->fired++;
	assert_false(sl_timer_pending(t));
	if (p->fired < p->limit)
		sl_timer_arm(p->w, t, (uint64_t)(p->fired + 1) * p->period);
}

static void test_rearm_from_callback(void **state)
{
	struct periodic p = {.period = 10 * MS, .limit = 5};

	(void)state;
	p.w = sl_timer_wheel_create(0, 1000);
	sl_timer_init(&p.t, periodic_rearm_cb, &p);
	sl_timer_arm(p.w, &p.t, p.period);
	/* One big step fires every period that falls inside it. */
	assert_int_equal(sl_timer_wheel_run(p.w, 35 * MS), 3);
	assert_int_equal(sl_timer_wheel_next(p.w), 40 * MS);
	assert_int_equal(sl_timer_wheel_run(p.w, 1 * SEC), 2);
	assert_false(sl_timer_pending(&p.t));
	assert_int_equal(sl_timer_wheel_next(p.w), SL_TIME_NEVER);
	sl_timer_wheel_destroy(&p.w);
}

/* A callback that re-arms itself in the past fires once per run, not in
 * an endless loop. */
static void test_rearm_in_past_waits_for_next_run(void **state)
{
	struct periodic p = {.limit = 1000};

	(void)state;
	p.w = sl_timer_wheel_create(0, 1000);
	sl_timer_init(&p.t, periodic_cb, &p);
	sl_timer_arm(p.w, &p.t, 5 * MS);
	assert_int_equal(sl_timer_wheel_run(p.w, 10 * MS), 1);
	assert_true(sl_timer_pending(&p.t));
	assert_true(sl_timer_wheel_next(p.w) <= 10 * MS);
	assert_int_equal(sl_timer_wheel_run(p.w, 10 * MS), 1);
	assert_int_equal(sl_timer_wheel_run(p.w, 11 * MS), 1);
	assert_int_equal(p.fired, 3);
	sl_timer_wheel_destroy(&p.w);
	/* The wheel is gone; its timers must not look pending. */
	assert_false(sl_timer_pending(&p.t));
}

/* Owners that cancel each other, and one that frees itself. */
struct owner {
	sl_timer_t t;
	sl_timer_wheel_t *w;
	struct owner *victim;
	int id;
	int free_self;
};

static void owner_cb(sl_timer_t *t, void *arg)
{
	struct owner *o = arg;

	(void)t;
	log_cb(NULL, (void *)(intptr_t)o->id);
	if (o->victim != NULL) {
		sl_timer_cancel(o->w, &o->victim->t);
		assert_false(sl_timer_pending(&o->victim->t));
	}
	if (o->free_self)
		free(o); /* the wheel must not touch t afterwards (ASan checks) */
}

static void test_cancel_inside_callback(void **state)
{
	sl_timer_wheel_t *w = sl_timer_wheel_create(0, 1000);
	struct owner a = {.w = w, .id = 1}, b = {.w = w, .id = 2}, c = {.w = w, .id = 3},
		     d = {.w = w, .id = 4};
	struct owner *heap = calloc(1, sizeof(*heap));

	(void)state;
	log_reset();
	/* a and b share a tick: a cancels b, which is already on the batch
	 * being fired. c is later: a's neighbour d cancels it. */
	a.victim = &b;
	d.victim = &c;
	sl_timer_init(&a.t, owner_cb, &a);
	sl_timer_init(&b.t, owner_cb, &b);
	sl_timer_init(&c.t, owner_cb, &c);
	sl_timer_init(&d.t, owner_cb, &d);
	heap->w = w;
	heap->id = 5;
	heap->free_self = 1;
	sl_timer_init(&heap->t, owner_cb, heap);
	sl_timer_arm(w, &a.t, 3 * MS);
	sl_timer_arm(w, &b.t, 3 * MS);
	sl_timer_arm(w, &d.t, 4 * MS);
	sl_timer_arm(w, &c.t, 900 * MS);
	sl_timer_arm(w, &heap->t, 4 * MS);
	assert_int_equal(sl_timer_wheel_count(w), 5);
	assert_int_equal(sl_timer_wheel_run(w, 10 * SEC), 3);
	assert_int_equal(fire_n, 3);
	assert_int_equal(fire_log[0], 1);
	assert_int_equal(fire_log[1], 4);
	assert_int_equal(fire_log[2], 5);
	assert_int_equal(sl_timer_wheel_count(w), 0);
	/* Cancelling what is not pending is harmless. */
	sl_timer_cancel(w, &b.t);
	sl_timer_cancel(w, &c.t);
	sl_timer_wheel_destroy(&w);
}

static void test_cancel_and_move(void **state)
{
	sl_timer_wheel_t *w = sl_timer_wheel_create(1000 * SEC, 1000);
	sl_timer_t t, u;

	(void)state;
	log_reset();
	sl_timer_init(&t, log_cb, (void *)1);
	sl_timer_init(&u, log_cb, (void *)2);
	sl_timer_arm(w, &t, 1000 * SEC + 5 * MS);
	sl_timer_arm(w, &u, 1000 * SEC + 7 * MS);
	assert_int_equal(sl_timer_wheel_next(w), 1000 * SEC + 5 * MS);
	sl_timer_cancel(w, &t);
	assert_int_equal(sl_timer_wheel_next(w), 1000 * SEC + 7 * MS);
	/* Moving a pending timer later, then earlier. */
	sl_timer_arm(w, &u, 1000 * SEC + 60 * SEC);
	assert_int_equal(sl_timer_wheel_count(w), 1);
	sl_timer_arm(w, &u, 1000 * SEC + 2 * MS);
	assert_int_equal(sl_timer_wheel_next(w), 1000 * SEC + 2 * MS);
	assert_int_equal(sl_timer_wheel_run(w, 1000 * SEC + 61 * SEC), 1);
	assert_int_equal(fire_n, 1);
	assert_int_equal(fire_log[0], 2);
	sl_timer_wheel_destroy(&w);
}

static void test_far_timers(void **state)
{
	/* Past one revolution of every level: 300 ms, 70 s, 5 h, 60 days
	 * (> 2^32 ticks of 1 ms, parked in the last level), 1000 years. */
	const uint64_t exp[5] = {300 * MS, 70 * SEC, 5 * 3600 * SEC, 60ULL * 86400 * SEC,
				 1000ULL * 365 * 86400 * SEC};
	sl_timer_wheel_t *w = sl_timer_wheel_create(0, 1000);
	sl_timer_t t[5];

	(void)state;
	log_reset();
	for (int i = 4; i >= 0; i--) {
		sl_timer_init(&t[i], log_cb, (void *)(intptr_t)i);
		sl_timer_arm(w, &t[i], exp[i] + 1); /* off-tick: rounds up */
	}
	for (int i = 0; i < 5; i++) {
		uint64_t fire_at = exp[i] + 1000;
		uint64_t next = sl_timer_wheel_next(w);

		/* A lower bound, never later than the true firing time. */
		assert_true(next <= fire_at);
		/* Sleep-until-next loop: walk there as the lcore would. */
		while (sl_timer_wheel_next(w) < fire_at) {
			next = sl_timer_wheel_next(w);
			assert_int_equal(sl_timer_wheel_run(w, next), 0);
			assert_true(sl_timer_wheel_next(w) > next);
		}
		assert_int_equal(sl_timer_wheel_next(w), fire_at);
		assert_int_equal(sl_timer_wheel_run(w, fire_at - 1), 0);
		assert_int_equal(sl_timer_wheel_run(w, fire_at), 1);
		assert_int_equal(fire_log[i], i);
	}
	assert_int_equal(sl_timer_wheel_next(w), SL_TIME_NEVER);
	sl_timer_wheel_destroy(&w);
}

static void test_past_expiry_fires_at_next_run(void **state)
{
	sl_timer_wheel_t *w = sl_timer_wheel_create(50 * MS, 1000);
	sl_timer_t t, u;

	(void)state;
	log_reset();
	sl_timer_init(&t, log_cb, (void *)1);
	sl_timer_init(&u, log_cb, (void *)2);
	sl_timer_arm(w, &u, 50 * MS);       /* exactly now */
	sl_timer_arm(w, &t, 10 * MS);       /* long ago */
	assert_int_equal(sl_timer_wheel_next(w), 10 * MS);
	/* Even a run that does not advance the clock fires them. */
	assert_int_equal(sl_timer_wheel_run(w, 50 * MS), 2);
	assert_int_equal(fire_log[0], 1);
	assert_int_equal(fire_log[1], 2);
	/* A clock that goes backwards is treated as standing still. */
	sl_timer_arm(w, &t, 51 * MS);
	assert_int_equal(sl_timer_wheel_run(w, 1 * MS), 0);
	assert_int_equal(sl_timer_wheel_run(w, 51 * MS), 1);
	sl_timer_wheel_destroy(&w);
}

static void test_next_values(void **state)
{
	sl_timer_wheel_t *w = sl_timer_wheel_create(0, 0); /* default 1 ms */
	sl_timer_t a, b, c;

	(void)state;
	sl_timer_init(&a, log_cb, NULL);
	sl_timer_init(&b, log_cb, NULL);
	sl_timer_init(&c, log_cb, NULL);
	assert_int_equal(sl_timer_wheel_next(w), SL_TIME_NEVER);
	assert_int_equal(sl_timer_wheel_count(w), 0);
	/* a sits in level 1 (armed 300 ticks ahead); after 200 ticks pass, b
	 * goes to level 0 yet fires after a: next() must still say a. */
	sl_timer_arm(w, &a, 300 * MS);
	assert_true(sl_timer_wheel_next(w) <= 300 * MS);
	sl_timer_wheel_run(w, 200 * MS);
	sl_timer_arm(w, &b, 400 * MS);
	assert_int_equal(sl_timer_wheel_next(w), 300 * MS);
	sl_timer_arm(w, &c, 250 * MS);
	assert_int_equal(sl_timer_wheel_next(w), 250 * MS);
	sl_timer_cancel(w, &c);
	assert_int_equal(sl_timer_wheel_next(w), 300 * MS);
	sl_timer_cancel(w, &a);
	assert_int_equal(sl_timer_wheel_next(w), 400 * MS);
	assert_int_equal(sl_timer_wheel_count(w), 1);
	sl_timer_cancel(w, &b);
	assert_int_equal(sl_timer_wheel_next(w), SL_TIME_NEVER);
	sl_timer_wheel_destroy(&w);
	sl_timer_wheel_destroy(&w); /* NULL is harmless */
}

/* Randomized: 100k timers with random expiries (sub-tick offsets, spread
 * from 0 to ~3 days so every level is used), random cancels and re-arms,
 * random clock steps. Each run must fire exactly the live timers whose
 * rounded expiry has been reached, in expiry order, and
 * next() must be exact when near and never late. */
#define N_RAND 100000
#define TICK 1000

struct rt {
	sl_timer_t t;
	uint64_t expire;
	int live;
	int fired;
};

static struct rt *rts;
static uint64_t last_expire, run_now;
static unsigned fired_in_run;
static int order_ok;

static uint64_t rng_state = 88172645463325252ULL;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static uint64_t rounded(uint64_t e)
{
	return (e + TICK - 1) / TICK * TICK;
}

static void rt_cb(sl_timer_t *t, void *arg)
{
	struct rt *r = arg;

	(void)t;
	if (!r->live || r->fired || rounded(r->expire) > run_now)
		order_ok = 0;
	if (fired_in_run > 0 && r->expire < last_expire)
		order_ok = 0;
	last_expire = r->expire;
	r->fired = 1;
	r->live = 0;
	fired_in_run++;
}

static uint64_t random_delay(void)
{
	switch (rng() % 4) {
	case 0:
		return rng() % (300 * MS);         /* level 0-1 */
	case 1:
		return rng() % (120 * SEC);        /* level 1-2 */
	case 2:
		return rng() % (6 * 3600 * SEC);   /* level 2-3 */
	default:
		return rng() % (3 * 86400 * SEC);  /* level 3 */
	}
}

static void test_random_vs_reference(void **state)
{
	sl_timer_wheel_t *w;
	uint64_t now = 12345678;
	unsigned live = 0, total_fired = 0;

	(void)state;
	rts = calloc(N_RAND, sizeof(*rts));
	assert_non_null(rts);
	w = sl_timer_wheel_create(now, TICK);
	order_ok = 1;
	for (unsigned i = 0; i < N_RAND; i++) {
		sl_timer_init(&rts[i].t, rt_cb, &rts[i]);
		rts[i].expire = now + 1 + random_delay();
		rts[i].live = 1;
		sl_timer_arm(w, &rts[i].t, rts[i].expire);
		live++;
	}
	assert_int_equal(sl_timer_wheel_count(w), live);
	while (live > 0) {
		uint64_t step, true_next = UINT64_MAX, next;
		unsigned expect = 0;

		/* Churn: cancel or move a few random timers. */
		for (int k = 0; k < 8; k++) {
			struct rt *r = &rts[rng() % N_RAND];

			if (!r->live)
				continue;
			if (rng() % 2) {
				sl_timer_cancel(w, &r->t);
				r->live = 0;
				live--;
			} else {
				r->expire = now + 1 + random_delay();
				sl_timer_arm(w, &r->t, r->expire);
			}
		}
		assert_int_equal(sl_timer_wheel_count(w), live);
		if (live == 0)
			break;
		for (unsigned i = 0; i < N_RAND; i++)
			if (rts[i].live && rounded(rts[i].expire) < true_next)
				true_next = rounded(rts[i].expire);
		next = sl_timer_wheel_next(w);
		assert_true(next <= true_next);
		if (true_next - now <= 255 * TICK)
			assert_int_equal(next, true_next);
		/* Step: sometimes exactly to next(), sometimes a random leap. */
		switch (rng() % 3) {
		case 0:
			step = next > now ? next - now : 0;
			break;
		case 1:
			step = rng() % (2 * SEC);
			break;
		default:
			step = rng() % (3600 * SEC);
			break;
		}
		now += step;
		for (unsigned i = 0; i < N_RAND; i++)
			if (rts[i].live && rounded(rts[i].expire) <= now)
				expect++;
		run_now = now;
		fired_in_run = 0;
		assert_int_equal(sl_timer_wheel_run(w, now), expect);
		assert_int_equal(fired_in_run, expect);
		assert_true(order_ok);
		live -= expect;
		total_fired += expect;
	}
	assert_int_equal(sl_timer_wheel_count(w), 0);
	assert_true(total_fired > N_RAND / 2);
	sl_timer_wheel_destroy(&w);
	free(rts);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fires_in_expiry_order),
		cmocka_unit_test(test_rounds_up_to_tick),
		cmocka_unit_test(test_rearm_from_callback),
		cmocka_unit_test(test_rearm_in_past_waits_for_next_run),
		cmocka_unit_test(test_cancel_inside_callback),
		cmocka_unit_test(test_cancel_and_move),
		cmocka_unit_test(test_far_timers),
		cmocka_unit_test(test_past_expiry_fires_at_next_run),
		cmocka_unit_test(test_next_values),
		cmocka_unit_test(test_random_vs_reference),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
