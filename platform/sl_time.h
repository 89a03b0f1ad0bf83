/* sl_time - monotonic clock in microseconds.
 *
 * netstack and the protocol engines never read the clock themselves: the
 * lcore loop reads it once per turn and passes `now_us` down, which lets
 * tests drive virtual time. */
#ifndef SL_TIME_H
#define SL_TIME_H

#include <stdint.h>
#include <time.h>

#define SL_US_PER_MS 1000ULL
#define SL_US_PER_S 1000000ULL
#define SL_TIME_NEVER UINT64_MAX

/* sl_time_now_us - CLOCK_MONOTONIC in microseconds (vDSO, ~20 ns). */
static inline uint64_t sl_time_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * SL_US_PER_S + (uint64_t)ts.tv_nsec / 1000;
}

#endif
