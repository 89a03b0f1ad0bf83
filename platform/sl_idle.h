/* sl_idle - how long a data-plane worker busy-polls before it sleeps.
 *
 * An empty poll is not free: on the TAP every one is a read() that fails
 * with EAGAIN, and the worker's CPU is what the benchmarks (and the other
 * programs on a small box) pay for. Sleeping in epoll costs a syscall and
 * a wake-up, about what a few microseconds of polling cost. So spinning
 * only pays while the next frame comes within about that long; beyond, it
 * is CPU burnt for a lower wake-up latency nobody asked for.
 *
 * The window adapts between a floor (SL_IDLE_MIN_US, or the configured
 * maximum if that is smaller) and the configured maximum (`idle_sleep`):
 * a sleep that a frame ended within SL_IDLE_QUICK_US means a longer spin
 * would have caught it cheaply, and the window doubles; any other sleep (a
 * long one, or one ended by a timer or a wake-up) means the whole window
 * was spun for nothing, and it halves. Measured on TLS handshakes over the
 * TAP (docs/perf.md "TLS"): a fixed 500 us window spent ~0.25 ms of server
 * CPU per handshake in empty polls.
 *
 * Pure state, no clock of its own: the worker feeds it what happened. */
#ifndef SL_IDLE_H
#define SL_IDLE_H

#include <stdbool.h>
#include <stdint.h>

#define SL_IDLE_MIN_US 20
#define SL_IDLE_QUICK_US 20

typedef struct sl_idle {
	uint64_t max_us;  /* the configured quiet time: never spin longer */
	uint64_t min_us;  /* never shorter (min(SL_IDLE_MIN_US, max_us)) */
	uint64_t spin_us; /* the current window */
} sl_idle_t;

/* sl_idle_init - start at the configured maximum MAX_US (0: never spin). */
void sl_idle_init(sl_idle_t *s, uint64_t max_us);

/* sl_idle_spin_us - the quiet time after which the worker sleeps now. */
static inline uint64_t sl_idle_spin_us(const sl_idle_t *s)
{
	return s->spin_us;
}

/* sl_idle_after_sleep - a sleep of SLEPT_US (wall time, wake-up included)
 * ended; BY_RX: because a frame was waiting. Adjusts the window. */
void sl_idle_after_sleep(sl_idle_t *s, uint64_t slept_us, bool by_rx);

#endif
