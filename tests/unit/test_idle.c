/* test_idle - the worker's adaptive spin window (platform/sl_idle.c):
 * bounds, halving after wasted windows, doubling after quick wake-ups, and
 * the degenerate maxima (0: never spin; below the floor). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "sl_idle.h"

typedef struct {
	uint64_t slept_us;
	bool by_rx;
	uint64_t want_spin_us; /* the window after this sleep */
} idle_step_t;

static void run_steps(uint64_t max_us, uint64_t want_start, const idle_step_t *steps, size_t n)
{
	sl_idle_t s;

	sl_idle_init(&s, max_us);
	assert_int_equal(sl_idle_spin_us(&s), want_start);
	for (size_t i = 0; i < n; i++) {
		sl_idle_after_sleep(&s, steps[i].slept_us, steps[i].by_rx);
		if (sl_idle_spin_us(&s) != steps[i].want_spin_us)
			fail_msg("step %zu (slept %llu us, by_rx %d): window %llu us, want %llu", i,
				 (unsigned long long)steps[i].slept_us, steps[i].by_rx,
				 (unsigned long long)sl_idle_spin_us(&s),
				 (unsigned long long)steps[i].want_spin_us);
	}
}

static void test_wasted_windows_halve_to_the_floor(void **state)
{
	/* Long sleeps, by a frame or not: each window was spun for nothing. */
	static const idle_step_t steps[] = {
		{1000, true, 250}, {1000, false, 125}, {300, true, 62}, {21, true, 31},
		{5000, false, 20}, {5000, true, 20},   {20, true, 20},
	};

	(void)state;
	run_steps(500, 500, steps, sizeof(steps) / sizeof(steps[0]));
}

static void test_quick_wakeups_double_to_the_maximum(void **state)
{
	static const idle_step_t steps[] = {
		{900, false, 250}, {800, false, 125}, {700, false, 62}, {600, false, 31},
		{500, false, 20},  {3, true, 40},     {19, true, 80},   {0, true, 160},
		{10, true, 320},   {10, true, 500},   {10, true, 500},
		/* a quick wake-up by a timer or a wake fd is no reason to spin */
		{5, false, 250},
	};

	(void)state;
	run_steps(500, 500, steps, sizeof(steps) / sizeof(steps[0]));
}

static void test_zero_maximum_never_spins(void **state)
{
	static const idle_step_t steps[] = {
		{1000, true, 0}, {1, true, 0}, {0, false, 0},
	};

	(void)state;
	run_steps(0, 0, steps, sizeof(steps) / sizeof(steps[0]));
}

static void test_maximum_below_the_floor_is_kept(void **state)
{
	static const idle_step_t steps[] = {
		{1000, true, 10}, {1, true, 10}, {500, false, 10},
	};

	(void)state;
	run_steps(10, 10, steps, sizeof(steps) / sizeof(steps[0]));
}

static void test_odd_maximum_reached_exactly(void **state)
{
	static const idle_step_t steps[] = {
		{999, true, 35}, {999, true, 20}, {1, true, 40}, {1, true, 71}, {1, true, 71},
	};

	(void)state;
	run_steps(71, 71, steps, sizeof(steps) / sizeof(steps[0]));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wasted_windows_halve_to_the_floor),
		cmocka_unit_test(test_quick_wakeups_double_to_the_maximum),
		cmocka_unit_test(test_zero_maximum_never_spins),
		cmocka_unit_test(test_maximum_below_the_floor_is_kept),
		cmocka_unit_test(test_odd_maximum_reached_exactly),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
