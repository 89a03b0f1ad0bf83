/* test_buf - sl_buf bounds and slices, sl_strerror. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "sl_buf.h"
#include "sl_err.h"

static void test_append_respects_max(void **state)
{
	sl_buf_t b;

	(void)state;
	sl_buf_init(&b, 8);
	assert_int_equal(sl_buf_append(&b, "abcd", 4), 0);
	assert_int_equal(sl_buf_append(&b, "efgh", 4), 0);
	assert_int_equal(sl_buf_append(&b, "i", 1), SL_ELIMIT);
	assert_int_equal(b.len, 8);
	assert_memory_equal(b.data, "abcdefgh", 8);
	sl_buf_free(&b);
	assert_null(b.data);
}

static void test_consume_and_printf(void **state)
{
	sl_buf_t b;

	(void)state;
	sl_buf_init(&b, 64);
	assert_int_equal(sl_buf_printf(&b, "%d-%s", 42, "x"), 0);
	assert_string_equal((char *)b.data, "42-x");
	sl_buf_consume(&b, 3);
	assert_int_equal(b.len, 1);
	assert_int_equal(b.data[0], 'x');
	sl_buf_consume(&b, 100);
	assert_int_equal(b.len, 0);
	assert_int_equal(sl_buf_printf(&b, "%0100d", 1), SL_ELIMIT);
	sl_buf_free(&b);
}

static void test_slice_nocase(void **state)
{
	(void)state;
	assert_true(sl_slice_eq_nocase(SL_SLICE_LIT("EhLo"), "ehlo"));
	assert_false(sl_slice_eq_nocase(SL_SLICE_LIT("EHL"), "ehlo"));
	assert_false(sl_slice_eq_nocase(SL_SLICE_LIT("HELO"), "ehlo"));
}

static void test_strerror_covers_every_code(void **state)
{
	(void)state;
	for (int e = 0; e >= SL_ERR_MIN; e--)
		assert_non_null(sl_strerror(e));
	assert_string_equal(sl_strerror(SL_ERR_MIN - 1), "unknown error");
	assert_string_equal(sl_strerror(5), "unknown error");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_append_respects_max),
		cmocka_unit_test(test_consume_and_printf),
		cmocka_unit_test(test_slice_nocase),
		cmocka_unit_test(test_strerror_covers_every_code),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
