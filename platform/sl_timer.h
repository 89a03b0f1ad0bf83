/* sl_timer - per-lcore hierarchical timer wheel.
 *
 * One wheel per lcore, never shared, never locked. Timers are embedded in
 * their owner (a TCP connection, a session), so arming allocates nothing.
 * sl_timer_t is a public struct for that reason only: callers must treat its
 * fields as private and use the functions below.
 *
 * Time is whatever the caller passes as now_us (monotonic microseconds);
 * the wheel never reads a clock, so tests can run in virtual time.
 * Resolution is the wheel's tick (default 1 ms): a timer fires at the first
 * sl_timer_wheel_run() whose now_us >= expire_us, rounded up to a tick. */
#ifndef SL_TIMER_H
#define SL_TIMER_H

#include <stdbool.h>
#include <stdint.h>

typedef struct sl_timer sl_timer_t;
typedef struct sl_timer_wheel sl_timer_wheel_t;

/* Called once when the timer expires; the timer is no longer pending, and
 * the callback may re-arm it, cancel others, or free its owner. */
typedef void sl_timer_cb_t(sl_timer_t *t, void *arg);

struct sl_timer {
	struct sl_timer *next, *prev; /* private: slot list */
	uint64_t expire_us;           /* private */
	sl_timer_cb_t *cb;            /* private */
	void *arg;                    /* private */
	uint32_t slot;                /* private: UINT32_MAX when not pending */
};

/* sl_timer_wheel_create - new wheel whose clock starts at NOW_US, with the
 * given tick (0 means 1000 us). NULL on allocation failure. */
sl_timer_wheel_t *sl_timer_wheel_create(uint64_t now_us, uint32_t tick_us);
/* sl_timer_wheel_destroy - free the wheel and set *W to NULL. Pending timers
 * are never fired; they are left not pending, so their owners may outlive
 * the wheel. NULL or *W == NULL is harmless. */
void sl_timer_wheel_destroy(sl_timer_wheel_t **w);

/* sl_timer_init - prepare an embedded timer; it is not pending. */
void sl_timer_init(sl_timer_t *t, sl_timer_cb_t *cb, void *arg);
/* sl_timer_arm - (re)arm T to fire at EXPIRE_US; an already pending timer is
 * moved. An expiry in the past fires at the next run. */
void sl_timer_arm(sl_timer_wheel_t *w, sl_timer_t *t, uint64_t expire_us);
/* sl_timer_cancel - disarm T if pending; harmless otherwise. */
void sl_timer_cancel(sl_timer_wheel_t *w, sl_timer_t *t);
/* sl_timer_pending - true while armed and not yet fired. */
bool sl_timer_pending(const sl_timer_t *t);
/* sl_timer_expiry - the armed expiry, or SL_TIME_NEVER when not pending. */
uint64_t sl_timer_expiry(const sl_timer_t *t);

/* sl_timer_wheel_run - advance the wheel to NOW_US and fire every timer that
 * is due, in expiry order. Returns the number
 * fired. A NOW_US earlier than a previous one is treated as that one (the
 * clock never goes back). Inside a callback, "now" is the tick being fired:
 * a timer armed for a later tick up to NOW_US fires in this same run (a
 * periodic timer catches up), one armed for that tick or earlier fires at
 * the next run, so a callback re-arming in the past cannot loop forever.
 * Callbacks must not run or destroy the wheel itself. */
unsigned sl_timer_wheel_run(sl_timer_wheel_t *w, uint64_t now_us);
/* sl_timer_wheel_next - when the earliest pending timer will fire, or
 * SL_TIME_NEVER when none is pending. Used as the sleep timeout.
 * The value is the earliest expiry rounded up to a tick, i.e. the first
 * now_us at which sl_timer_wheel_run() fires it (equal to the expiry when
 * that is a multiple of the tick; at or before the wheel's latest now_us
 * when a past-expiry timer waits for the next run). Exact when that timer
 * is due within 256 ticks; for farther ones it may be an earlier lower
 * bound (a cascade point), never later than the true value. Cheap: memoised
 * between changes, otherwise a few bitmap word scans. */
uint64_t sl_timer_wheel_next(const sl_timer_wheel_t *w);
/* sl_timer_wheel_count - number of pending timers. */
unsigned sl_timer_wheel_count(const sl_timer_wheel_t *w);

#endif
