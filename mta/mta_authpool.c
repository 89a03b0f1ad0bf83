/* mta_authpool - argon2id verification threads for the SMTP workers. */
#include "mta_authpool.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <rte_ring.h>

#include "sl_err.h"
#include "sl_log.h"

#define AUTHPOOL_THREADS_MAX 64
#define AUTHPOOL_LANES_MAX 64

typedef struct authpool_lane {
	struct rte_ring *results; /* MP (verifier threads), SC (the worker) */
	int efd;
} authpool_lane_t;

struct mta_authpool {
	st_store_t *store;
	struct rte_ring *requests; /* MP (workers), MC (verifiers) */
	int wake_fd;               /* EFD_SEMAPHORE: one count per job (and per stop) */
	atomic_int stop;
	atomic_uint outstanding;   /* submitted, not yet handed back */
	unsigned queue;
	unsigned n_threads, n_lanes;
	pthread_t thread[AUTHPOOL_THREADS_MAX];
	bool started[AUTHPOOL_THREADS_MAX];
	authpool_lane_t lane[AUTHPOOL_LANES_MAX];
};

static void authpool_post(mta_authpool_t *p, mta_auth_job_t *job)
{
	authpool_lane_t *l = &p->lane[job->lane];
	uint64_t one = 1;

	explicit_bzero(job->password, sizeof(job->password));
	job->password_len = 0;
	/* At most `queue` jobs are outstanding (submit counts them) and a
	 * result ring has `queue` slots, so this cannot fail. */
	while (rte_ring_mp_enqueue(l->results, job) != 0)
		sched_yield();
	if (write(l->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		sl_log(SL_LOG_WARN, "auth", "result eventfd: %s", strerror(errno));
}

static void *authpool_thread(void *arg)
{
	mta_authpool_t *p = arg;
	st_reader_t *rd = NULL;
	uint64_t v;

	pthread_setname_np(pthread_self(), "sluice-auth");
	if (st_reader_create(p->store, &rd) < 0)
		sl_log(SL_LOG_ERR, "auth", "no store reader: AUTH will fail temporarily");
	for (;;) {
		void *obj;

		if (read(p->wake_fd, &v, sizeof(v)) < 0 && errno == EINTR)
			continue;
		if (atomic_load(&p->stop))
			break;
		while (rte_ring_mc_dequeue(p->requests, &obj) == 0) {
			mta_auth_job_t *job = obj;

			if (rd == NULL)
				job->rc = SL_EIO;
			else
				job->rc = st_user_authenticate(
					rd, job->user, sl_slice_make(job->password, job->password_len),
					&job->user_id);
			authpool_post(p, job);
		}
	}
	st_reader_destroy(&rd);
	return NULL;
}

int mta_authpool_create(st_store_t *store, unsigned threads, unsigned n_lanes, unsigned queue,
			 mta_authpool_t **pool_r, const char **error_r)
{
	mta_authpool_t *p;
	char name[RTE_RING_NAMESIZE];

	*pool_r = NULL;
	if (threads == 0 || threads > AUTHPOOL_THREADS_MAX || n_lanes == 0 ||
	    n_lanes > AUTHPOOL_LANES_MAX || queue < 2 || (queue & (queue - 1)) != 0) {
		*error_r = "auth pool: bad parameters";
		return SL_EINVAL;
	}
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return SL_ENOMEM;
	p->store = store;
	p->queue = queue;
	p->n_lanes = n_lanes;
	p->wake_fd = -1;
	for (unsigned i = 0; i < AUTHPOOL_LANES_MAX; i++)
		p->lane[i].efd = -1;
	/* RING_F_EXACT_SZ: QUEUE usable slots, not QUEUE - 1. */
	p->requests = rte_ring_create("mta_auth_req", queue, SOCKET_ID_ANY, RING_F_EXACT_SZ);
	if (p->requests == NULL)
		goto nomem;
	for (unsigned i = 0; i < n_lanes; i++) {
		snprintf(name, sizeof(name), "mta_auth_res%u", i);
		p->lane[i].results = rte_ring_create(name, queue, SOCKET_ID_ANY,
						     RING_F_EXACT_SZ | RING_F_SC_DEQ);
		p->lane[i].efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (p->lane[i].results == NULL || p->lane[i].efd < 0)
			goto nomem;
	}
	p->wake_fd = eventfd(0, EFD_SEMAPHORE | EFD_CLOEXEC);
	if (p->wake_fd < 0)
		goto nomem;
	p->n_threads = threads;
	for (unsigned i = 0; i < threads; i++) {
		if (pthread_create(&p->thread[i], NULL, authpool_thread, p) != 0) {
			*error_r = "auth pool: cannot start a thread";
			mta_authpool_destroy(&p);
			return SL_EIO;
		}
		p->started[i] = true;
	}
	*pool_r = p;
	return 0;
nomem:
	*error_r = "auth pool: cannot create rings or eventfds";
	mta_authpool_destroy(&p);
	return SL_ENOMEM;
}

void mta_authpool_stop(mta_authpool_t *p)
{
	uint64_t n;
	void *obj;

	if (p == NULL || atomic_exchange(&p->stop, 1))
		return;
	n = p->n_threads;
	if (p->wake_fd >= 0 && write(p->wake_fd, &n, sizeof(n)) < 0)
		sl_log(SL_LOG_WARN, "auth", "wake eventfd: %s", strerror(errno));
	for (unsigned i = 0; i < p->n_threads; i++)
		if (p->started[i]) {
			pthread_join(p->thread[i], NULL);
			p->started[i] = false;
		}
	/* Hand back what was never verified. */
	while (p->requests != NULL && rte_ring_mc_dequeue(p->requests, &obj) == 0) {
		mta_auth_job_t *job = obj;

		job->rc = SL_ESTATE;
		authpool_post(p, job);
	}
}

void mta_authpool_destroy(mta_authpool_t **pp)
{
	mta_authpool_t *p = *pp;

	if (p == NULL)
		return;
	mta_authpool_stop(p);
	rte_ring_free(p->requests);
	for (unsigned i = 0; i < AUTHPOOL_LANES_MAX; i++) {
		rte_ring_free(p->lane[i].results);
		if (p->lane[i].efd >= 0)
			close(p->lane[i].efd);
	}
	if (p->wake_fd >= 0)
		close(p->wake_fd);
	free(p);
	*pp = NULL;
}

int mta_authpool_submit(mta_authpool_t *p, mta_auth_job_t *job)
{
	uint64_t one = 1;

	if (atomic_load(&p->stop) || job->lane >= p->n_lanes)
		return SL_ESTATE;
	if (atomic_fetch_add(&p->outstanding, 1) >= p->queue) {
		atomic_fetch_sub(&p->outstanding, 1);
		return SL_EAGAIN;
	}
	if (rte_ring_mp_enqueue(p->requests, job) != 0) {
		atomic_fetch_sub(&p->outstanding, 1);
		return SL_EAGAIN;
	}
	if (write(p->wake_fd, &one, sizeof(one)) < 0)
		sl_log(SL_LOG_WARN, "auth", "wake eventfd: %s", strerror(errno));
	return 0;
}

int mta_authpool_fd(const mta_authpool_t *p, unsigned lane)
{
	return p->lane[lane].efd;
}

unsigned mta_authpool_poll(mta_authpool_t *p, unsigned lane)
{
	authpool_lane_t *l = &p->lane[lane];
	unsigned n = 0;
	uint64_t v;
	void *obj;

	/* Clear first: a result posted after this signals again. */
	if (read(l->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		sl_log(SL_LOG_WARN, "auth", "result eventfd: %s", strerror(errno));
	while (rte_ring_sc_dequeue(l->results, &obj) == 0) {
		mta_auth_job_t *job = obj;

		atomic_fetch_sub(&p->outstanding, 1);
		job->done(job);
		n++;
	}
	return n;
}

bool mta_authpool_ready(const mta_authpool_t *p, unsigned lane)
{
	return rte_ring_count(p->lane[lane].results) > 0;
}
