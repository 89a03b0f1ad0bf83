/* sl_worker - the run-to-completion loop of one data-plane lcore.
 *
 * Each turn: read the clock, run the owner's timers, poll an RX burst, hand
 * it to the owner (netstack), let the owner flush, and transmit. TX frames
 * are buffered and sent in bursts: when the buffer fills, when RX ran dry,
 * or when the TSC says the drain period has passed (l2fwd style).
 *
 * Adaptive polling: the worker busy-polls while traffic flows. Once no
 * packet has arrived for its spin window (adaptive, at most `idle_us`:
 * sl_idle.h), it sleeps in rte_epoll_wait on the RX
 * queue's interrupt fd, with the owner's next timer deadline as timeout.
 * net_tap has no rx_intr_enable (ENOTSUP) but its queue fd is readable when
 * frames wait, which is all epoll needs. A wake eventfd in the same epoll
 * set lets other threads (control plane, store writer) wake the worker.
 *
 * Everything here runs on the worker thread except the functions marked
 * "any thread". */
#ifndef SL_WORKER_H
#define SL_WORKER_H

#include <stdbool.h>
#include <stdint.h>

#include "sl_fault.h"

struct rte_mbuf;

typedef struct sl_worker sl_worker_t;

typedef struct sl_worker_ops {
	/* Set the clock and run due timers (start of every turn). */
	void (*tick)(void *ctx, uint64_t now_us);
	/* Process received frames; takes ownership of each mbuf. */
	void (*rx)(void *ctx, struct rte_mbuf **pkts, uint16_t n);
	/* Emit output produced by this turn (coalesced ACKs etc.). */
	void (*flush)(void *ctx);
	/* Earliest timer deadline (monotonic us) or SL_TIME_NEVER. */
	uint64_t (*next_deadline)(void *ctx);
} sl_worker_ops_t;

typedef struct sl_worker_params {
	uint16_t port_id, queue_id;
	bool rx_intr;          /* the port was configured with RX interrupts */
	uint64_t idle_us;      /* longest quiet time before sleeping (default 500 us) */
	uint64_t max_sleep_us; /* cap on one sleep (default 1 s) */
	uint64_t tx_drain_us;  /* TX buffer drain period (default 100 us) */
	const sl_worker_ops_t *ops;
	void *ctx;
	/* Optional fault injection on RX and TX (tests): NULL = off. */
	const sl_fault_params_t *fault_rx, *fault_tx;
	struct rte_mempool *pool; /* for fault duplication */
} sl_worker_params_t;

enum sl_worker_state {
	SL_WORKER_STARTING = 0,
	SL_WORKER_POLLING = 1,
	SL_WORKER_SLEEPING = 2,
	SL_WORKER_STOPPED = 3,
};

typedef struct sl_worker_stats {
	uint64_t turns, sleeps, wakeups_rx, wakeups_timer, wakeups_other;
	uint64_t rx_packets, tx_packets, tx_dropped;
	uint64_t busy_us, sleep_us;
} sl_worker_stats_t;

void sl_worker_params_default(sl_worker_params_t *p);
/* sl_worker_create - allocate the worker and its wake eventfd. Must be
 * called before the lcore is launched. NULL with *error_r on failure. */
sl_worker_t *sl_worker_create(const sl_worker_params_t *p, const char **error_r);
void sl_worker_destroy(sl_worker_t **w);

/* sl_worker_run - the loop; returns when sl_worker_stop was called. Runs
 * on the lcore thread (its signature fits rte_eal_remote_launch). */
int sl_worker_run(void *w);
/* sl_worker_watch_fd - before sl_worker_run: add FD (e.g. the store
 * client's completion eventfd) to the set that ends a sleep. The owner
 * polls its source in `tick`, which runs after every wake-up. 0, or
 * SL_ELIMIT beyond SL_WORKER_MAX_FDS. The worker never reads FD. */
#define SL_WORKER_MAX_FDS 8
int sl_worker_watch_fd(sl_worker_t *w, int fd);
/* sl_worker_tx - queue one frame for transmission (worker thread only). */
void sl_worker_tx(sl_worker_t *w, struct rte_mbuf *m);

/* sl_worker_stop - any thread, also async-signal-safe. */
void sl_worker_stop(sl_worker_t *w);
/* sl_worker_wake - any thread: interrupt a sleep. */
void sl_worker_wake(sl_worker_t *w);
/* sl_worker_call - any thread except the worker: run FN(ARG) on the worker
 * thread between two turns and wait for it. 0, or SL_ETIMEDOUT if the worker
 * did not get to it within TIMEOUT_US (FN may still run later, so ARG must
 * then stay valid: callers pass static or heap state they can leak). */
int sl_worker_call(sl_worker_t *w, void (*fn)(void *arg), void *arg, uint64_t timeout_us);
/* sl_worker_state / sl_worker_get_stats - any thread; relaxed snapshots. */
enum sl_worker_state sl_worker_get_state(const sl_worker_t *w);
const char *sl_worker_state_name(enum sl_worker_state s);
void sl_worker_get_stats(const sl_worker_t *w, sl_worker_stats_t *r);
unsigned sl_worker_lcore(const sl_worker_t *w);

#endif
