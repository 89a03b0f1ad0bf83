/* sl_worker - data-plane lcore loop with adaptive polling. */
#include "sl_worker.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <rte_branch_prediction.h>
#include <rte_cycles.h>
#include <rte_epoll.h>
#include <rte_ethdev.h>
#include <rte_interrupts.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

#include "sl_err.h"
#include "sl_idle.h"
#include "sl_log.h"
#include "sl_time.h"

#define SL_WORKER_BURST 32
#define SL_WORKER_TXBUF 128

struct sl_worker {
	sl_worker_params_t p;
	unsigned lcore;
	int wake_fd;
	struct rte_epoll_event wake_ev;
	unsigned n_watch;
	int watch_fd[SL_WORKER_MAX_FDS];
	struct rte_epoll_event watch_ev[SL_WORKER_MAX_FDS];
	bool rx_intr_armed;
	sl_fault_t *fault_rx, *fault_tx;

	uint16_t tx_len;
	struct rte_mbuf *tx_buf[SL_WORKER_TXBUF];
	uint64_t tx_drain_tsc, last_drain_tsc;

	/* Shared with other threads. */
	volatile int stop;
	int state;                 /* enum sl_worker_state, atomic */
	sl_worker_stats_t stats;   /* written by the worker only */

	pthread_mutex_t call_lock; /* serialises callers of sl_worker_call */
	void (*volatile call_fn)(void *);
	void *call_arg;
	volatile int call_done;
} __rte_cache_aligned;

void sl_worker_params_default(sl_worker_params_t *p)
{
	memset(p, 0, sizeof(*p));
	p->rx_intr = true;
	p->idle_us = 500;
	p->max_sleep_us = SL_US_PER_S;
	p->tx_drain_us = 100;
}

sl_worker_t *sl_worker_create(const sl_worker_params_t *p, const char **error_r)
{
	sl_worker_t *w;

	w = rte_zmalloc("sl_worker", sizeof(*w), RTE_CACHE_LINE_SIZE);
	if (w == NULL) {
		*error_r = "out of memory";
		return NULL;
	}
	w->p = *p;
	w->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->wake_fd < 0) {
		*error_r = "eventfd failed";
		goto fail;
	}
	pthread_mutex_init(&w->call_lock, NULL);
	if (p->fault_rx != NULL && (w->fault_rx = sl_fault_create(p->fault_rx, p->pool)) == NULL) {
		*error_r = "fault injection setup failed";
		goto fail;
	}
	if (p->fault_tx != NULL && (w->fault_tx = sl_fault_create(p->fault_tx, p->pool)) == NULL) {
		*error_r = "fault injection setup failed";
		goto fail;
	}
	w->tx_drain_tsc = rte_get_tsc_hz() / SL_US_PER_S * p->tx_drain_us;
	return w;
fail:
	sl_fault_destroy(&w->fault_rx);
	if (w->wake_fd >= 0)
		close(w->wake_fd);
	rte_free(w);
	return NULL;
}

void sl_worker_destroy(sl_worker_t **wp)
{
	sl_worker_t *w = *wp;

	if (w == NULL)
		return;
	rte_pktmbuf_free_bulk(w->tx_buf, w->tx_len);
	sl_fault_destroy(&w->fault_rx);
	sl_fault_destroy(&w->fault_tx);
	close(w->wake_fd);
	pthread_mutex_destroy(&w->call_lock);
	rte_free(w);
	*wp = NULL;
}

static void sl_worker_set_state(sl_worker_t *w, enum sl_worker_state s)
{
	__atomic_store_n(&w->state, (int)s, __ATOMIC_RELAXED);
}

static void sl_worker_drain(sl_worker_t *w)
{
	uint16_t n = w->tx_len, sent;

	if (n == 0)
		return;
	if (unlikely(w->fault_tx != NULL))
		n = sl_fault_apply(w->fault_tx, w->tx_buf, n, SL_WORKER_TXBUF);
	sent = rte_eth_tx_burst(w->p.port_id, w->p.queue_id, w->tx_buf, n);
	if (unlikely(sent < n)) {
		/* The ring is full: one retry, then drop (TCP recovers). */
		sent += rte_eth_tx_burst(w->p.port_id, w->p.queue_id, w->tx_buf + sent,
					 (uint16_t)(n - sent));
		if (sent < n) {
			rte_pktmbuf_free_bulk(w->tx_buf + sent, n - sent);
			w->stats.tx_dropped += n - sent;
		}
	}
	w->stats.tx_packets += sent;
	w->tx_len = 0;
	w->last_drain_tsc = rte_rdtsc();
}

void sl_worker_tx(sl_worker_t *w, struct rte_mbuf *m)
{
	/* Leave room for fault duplicates when injection is on. */
	uint16_t cap = w->fault_tx ? SL_WORKER_TXBUF / 2 : SL_WORKER_TXBUF;

	if (unlikely(w->tx_len >= cap))
		sl_worker_drain(w);
	w->tx_buf[w->tx_len++] = m;
}

static void sl_worker_run_call(sl_worker_t *w)
{
	void (*fn)(void *) = __atomic_load_n(&w->call_fn, __ATOMIC_ACQUIRE);

	if (fn == NULL)
		return;
	fn(w->call_arg);
	__atomic_store_n(&w->call_fn, NULL, __ATOMIC_RELAXED);
	__atomic_store_n(&w->call_done, 1, __ATOMIC_RELEASE);
}

int sl_worker_call(sl_worker_t *w, void (*fn)(void *arg), void *arg, uint64_t timeout_us)
{
	uint64_t deadline = sl_time_now_us() + timeout_us;
	int rc = SL_ETIMEDOUT;

	pthread_mutex_lock(&w->call_lock);
	w->call_arg = arg;
	__atomic_store_n(&w->call_done, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&w->call_fn, fn, __ATOMIC_RELEASE);
	sl_worker_wake(w);
	while (sl_time_now_us() < deadline) {
		if (__atomic_load_n(&w->call_done, __ATOMIC_ACQUIRE)) {
			rc = 0;
			break;
		}
		usleep(100);
	}
	pthread_mutex_unlock(&w->call_lock);
	return rc;
}

int sl_worker_watch_fd(sl_worker_t *w, int fd)
{
	if (w->n_watch == SL_WORKER_MAX_FDS)
		return SL_ELIMIT;
	w->watch_fd[w->n_watch++] = fd;
	return 0;
}

void sl_worker_wake(sl_worker_t *w)
{
	uint64_t one = 1;
	ssize_t rc = write(w->wake_fd, &one, sizeof(one));

	(void)rc; /* EAGAIN means a wake-up is already pending */
}

void sl_worker_stop(sl_worker_t *w)
{
	w->stop = 1;
	sl_worker_wake(w);
}

/* Register the RX queue fd and the wake fd in this thread's DPDK epoll set.
 * Must run on the worker thread: RTE_EPOLL_PER_THREAD is thread-local. */
static void sl_worker_epoll_setup(sl_worker_t *w)
{
	int rc;

	if (w->p.rx_intr) {
		rc = rte_eth_dev_rx_intr_ctl_q(w->p.port_id, w->p.queue_id, RTE_EPOLL_PER_THREAD,
					       RTE_INTR_EVENT_ADD, NULL);
		if (rc == 0)
			w->rx_intr_armed = true;
		else
			sl_log(SL_LOG_WARN, "worker",
			       "lcore %u: RX interrupt registration failed (%d); busy-polling",
			       w->lcore, rc);
	}
	memset(&w->wake_ev, 0, sizeof(w->wake_ev));
	w->wake_ev.epdata.event = EPOLLIN;
	rc = rte_epoll_ctl(RTE_EPOLL_PER_THREAD, EPOLL_CTL_ADD, w->wake_fd, &w->wake_ev);
	if (rc != 0)
		sl_log(SL_LOG_WARN, "worker", "lcore %u: wake fd registration failed", w->lcore);
	for (unsigned i = 0; i < w->n_watch; i++) {
		memset(&w->watch_ev[i], 0, sizeof(w->watch_ev[i]));
		w->watch_ev[i].epdata.event = EPOLLIN;
		if (rte_epoll_ctl(RTE_EPOLL_PER_THREAD, EPOLL_CTL_ADD, w->watch_fd[i],
				  &w->watch_ev[i]) != 0)
			sl_log(SL_LOG_WARN, "worker", "lcore %u: fd %d registration failed", w->lcore,
			       w->watch_fd[i]);
	}
}

/* Sleep until a frame, a wake-up or the next timer. Returns false when it
 * did not sleep (a timer is due); else *SLEPT_US_R is how long the sleep
 * took and *BY_RX_R whether a frame ended it. */
static bool sl_worker_sleep(sl_worker_t *w, uint64_t now, uint64_t *slept_us_r, bool *by_rx_r)
{
	struct rte_epoll_event ev[4];
	uint64_t deadline = w->p.ops->next_deadline(w->p.ctx), wait_us, t1;
	int timeout_ms, n;
	uint64_t drained;

	*slept_us_r = 0;
	*by_rx_r = false;
	if (deadline <= now)
		return false;
	wait_us = deadline - now;
	if (wait_us > w->p.max_sleep_us)
		wait_us = w->p.max_sleep_us;
	timeout_ms = (int)((wait_us + 999) / 1000);
	sl_worker_set_state(w, SL_WORKER_SLEEPING);
	w->stats.sleeps++;
	n = rte_epoll_wait(RTE_EPOLL_PER_THREAD, ev, 4, timeout_ms);
	sl_worker_set_state(w, SL_WORKER_POLLING);
	t1 = sl_time_now_us();
	w->stats.sleep_us += t1 - now;
	*slept_us_r = t1 - now;
	if (n <= 0) {
		w->stats.wakeups_timer++;
		return true;
	}
	for (int i = 0; i < n; i++) {
		if (ev[i].fd == w->wake_fd) {
			if (read(w->wake_fd, &drained, sizeof(drained)) < 0 && errno != EAGAIN)
				sl_log(SL_LOG_WARN, "worker", "wake fd read failed");
			w->stats.wakeups_other++;
		} else if (ev[i].epdata.event == EPOLLIN) {
			w->stats.wakeups_other++; /* a watched fd; its owner polls it */
		} else {
			w->stats.wakeups_rx++;
			*by_rx_r = true;
		}
	}
	return true;
}

int sl_worker_run(void *arg)
{
	sl_worker_t *w = arg;
	const sl_worker_ops_t *ops = w->p.ops;
	struct rte_mbuf *pkts[SL_WORKER_BURST * 2];
	uint64_t now, last_rx, turn_start, slept_us;
	uint16_t n;
	bool can_sleep, by_rx;
	sl_idle_t idle;

	w->lcore = rte_lcore_id();
	sl_worker_epoll_setup(w);
	can_sleep = w->rx_intr_armed;
	sl_idle_init(&idle, w->p.idle_us);
	sl_worker_set_state(w, SL_WORKER_POLLING);
	last_rx = now = sl_time_now_us();
	w->last_drain_tsc = rte_rdtsc();
	while (likely(!w->stop)) {
		turn_start = now = sl_time_now_us();
		w->stats.turns++;
		if (unlikely(w->call_fn != NULL))
			sl_worker_run_call(w);
		ops->tick(w->p.ctx, now);
		n = rte_eth_rx_burst(w->p.port_id, w->p.queue_id, pkts, SL_WORKER_BURST);
		if (unlikely(w->fault_rx != NULL))
			n = sl_fault_apply(w->fault_rx, pkts, n, RTE_DIM(pkts));
		if (n > 0) {
			w->stats.rx_packets += n;
			last_rx = now;
			ops->rx(w->p.ctx, pkts, n);
		}
		ops->flush(w->p.ctx);
		/* Drain when RX ran dry (nothing to batch with) or the period
		 * has passed under load. */
		if (w->tx_len > 0 &&
		    (n < SL_WORKER_BURST || rte_rdtsc() - w->last_drain_tsc >= w->tx_drain_tsc))
			sl_worker_drain(w);
		if (n > 0) {
			w->stats.busy_us += sl_time_now_us() - turn_start;
			continue;
		}
		if (can_sleep && now - last_rx >= sl_idle_spin_us(&idle) && w->tx_len == 0) {
			if (sl_worker_sleep(w, now, &slept_us, &by_rx))
				sl_idle_after_sleep(&idle, slept_us, by_rx);
			/* Whatever woke us, poll at full speed again for a while:
			 * a timer may have produced output that draws replies. */
			last_rx = sl_time_now_us();
		} else {
			rte_pause();
		}
	}
	sl_worker_drain(w);
	if (w->rx_intr_armed)
		rte_eth_dev_rx_intr_ctl_q(w->p.port_id, w->p.queue_id, RTE_EPOLL_PER_THREAD,
					  RTE_INTR_EVENT_DEL, NULL);
	rte_epoll_ctl(RTE_EPOLL_PER_THREAD, EPOLL_CTL_DEL, w->wake_fd, &w->wake_ev);
	for (unsigned i = 0; i < w->n_watch; i++)
		rte_epoll_ctl(RTE_EPOLL_PER_THREAD, EPOLL_CTL_DEL, w->watch_fd[i], &w->watch_ev[i]);
	sl_worker_set_state(w, SL_WORKER_STOPPED);
	return 0;
}

enum sl_worker_state sl_worker_get_state(const sl_worker_t *w)
{
	return (enum sl_worker_state)__atomic_load_n(&w->state, __ATOMIC_RELAXED);
}

const char *sl_worker_state_name(enum sl_worker_state s)
{
	static const char *const names[] = {"starting", "polling", "sleeping", "stopped"};

	return (unsigned)s < RTE_DIM(names) ? names[s] : "unknown";
}

void sl_worker_get_stats(const sl_worker_t *w, sl_worker_stats_t *r)
{
	/* Torn reads of individual counters cannot happen on x86-64; the
	 * snapshot as a whole is not atomic, which is fine for display. */
	memcpy(r, (const void *)&w->stats, sizeof(*r));
}

unsigned sl_worker_lcore(const sl_worker_t *w) { return w->lcore; }
