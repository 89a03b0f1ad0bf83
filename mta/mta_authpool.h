/* mta_authpool - password verification off the worker lcores, shared by
 * the SMTP, IMAP and POP3 servers of every lane.
 *
 * argon2id takes tens of milliseconds on purpose; a worker that ran it would
 * stall every other session of its lane. Workers post jobs on a shared
 * request ring (rte_ring, lock-free); a few plain threads, each with its own
 * st_reader_t, run st_user_authenticate and post the job back on the
 * submitting lane's result ring, whose eventfd the worker watches
 * (sl_worker_watch_fd). The worker then drains the results in its tick.
 *
 * Ownership: a job belongs to the worker that allocated it, except between
 * mta_authpool_submit() and the moment mta_authpool_poll() hands it back
 * to its `done` callback, when the pool owns it. The pool only reads
 * `user`/`password` and writes `rc`/`user_id`; it never touches `owner`
 * or `ctx`. */
#ifndef MTA_AUTHPOOL_H
#define MTA_AUTHPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "st.h"

typedef struct mta_authpool mta_authpool_t;

typedef struct mta_auth_job mta_auth_job_t;

struct mta_auth_job {
	/* Called on the lane's worker by mta_authpool_poll; it takes the job
	 * back (the password has been wiped). */
	void (*done)(mta_auth_job_t *job);
	void *ctx;                         /* the submitting server's */
	void *owner;                       /* its session; NULL = abandoned */
	unsigned lane;                     /* result ring to post to */
	char user[ST_ADDR_MAX + 1];
	char password[ST_PASSWORD_MAX + 1];
	size_t password_len;
	int rc;                            /* st_user_authenticate's result */
	uint64_t user_id;
};

/* mta_authpool_create - THREADS verifier threads over STORE and N_LANES
 * result rings (EAL must be up: the rings are rte_rings). Up to QUEUE jobs
 * wait at once (a power of 2). 0, SL_ENOMEM, SL_EIO with *error_r. */
int mta_authpool_create(st_store_t *store, unsigned threads, unsigned n_lanes, unsigned queue,
			 mta_authpool_t **pool_r, const char **error_r);
/* mta_authpool_stop - any thread but a verifier: stop and join the
 * threads. Jobs still queued are posted back unverified (rc = SL_ESTATE),
 * so one more mta_authpool_poll per lane hands every job back; further
 * submissions fail with SL_ESTATE. Idempotent. */
void mta_authpool_stop(mta_authpool_t *pool);
/* mta_authpool_destroy - stop, then free the rings; results not polled
 * by then are lost (their jobs leak). *POOL = NULL; NULL is a no-op. */
void mta_authpool_destroy(mta_authpool_t **pool);

/* mta_authpool_submit - worker thread: queue JOB (job->lane set). 0, or
 * SL_EAGAIN when the queue is full (answer the client "try later"). */
int mta_authpool_submit(mta_authpool_t *pool, mta_auth_job_t *job);
/* mta_authpool_fd - LANE's eventfd, readable while results wait. */
int mta_authpool_fd(const mta_authpool_t *pool, unsigned lane);
/* mta_authpool_poll - LANE's worker: hand each finished job to its done
 * callback. Returns how many. */
unsigned mta_authpool_poll(mta_authpool_t *pool, unsigned lane);
/* mta_authpool_ready - results wait for LANE (a cheap check, no syscall). */
bool mta_authpool_ready(const mta_authpool_t *pool, unsigned lane);

#endif
