/* sl_idle - the worker's adaptive spin window (sl_idle.h says why). */
#include "sl_idle.h"

void sl_idle_init(sl_idle_t *s, uint64_t max_us)
{
	s->max_us = max_us;
	s->min_us = max_us < SL_IDLE_MIN_US ? max_us : SL_IDLE_MIN_US;
	s->spin_us = max_us;
}

void sl_idle_after_sleep(sl_idle_t *s, uint64_t slept_us, bool by_rx)
{
	if (by_rx && slept_us < SL_IDLE_QUICK_US) {
		/* Caught short: spinning a little longer was the cheaper way. */
		s->spin_us = s->spin_us > s->max_us / 2 ? s->max_us : s->spin_us * 2;
		if (s->spin_us < s->min_us)
			s->spin_us = s->min_us;
		return;
	}
	/* The window was spun for nothing. */
	s->spin_us /= 2;
	if (s->spin_us < s->min_us)
		s->spin_us = s->min_us;
}
