/* smtp_authpool - password verification off the worker lcores.
 *
 * argon2id takes tens of milliseconds on purpose; a worker that ran it would
 * stall every other session of its lane. Workers post jobs on a shared
 * request ring (rte_ring, lock-free); a few plain threads, each with its own
 * st_reader_t, run st_user_authenticate and post the job back on the
 * submitting lane's result ring, whose eventfd the worker watches
 * (sl_worker_watch_fd). The worker then drains the results in its tick.
 *
 * Ownership: a job belongs to the worker that allocated it, except between
 * smtp_authpool_submit() and the moment smtp_authpool_poll() hands it back,
 * when the pool owns it. The pool only reads `user`/`password` and writes
 * `rc`/`user_id`; it never touches `owner`. */
#ifndef SMTP_AUTHPOOL_H
#define SMTP_AUTHPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "st.h"

typedef struct smtp_authpool smtp_authpool_t;

typedef struct smtp_auth_job {
	void *owner;                       /* the worker's; NULL = abandoned */
	unsigned lane;                     /* result ring to post to */
	char user[ST_ADDR_MAX + 1];
	char password[ST_PASSWORD_MAX + 1];
	size_t password_len;
	int rc;                            /* st_user_authenticate's result */
	uint64_t user_id;
} smtp_auth_job_t;

/* smtp_authpool_create - THREADS verifier threads over STORE and N_LANES
 * result rings (EAL must be up: the rings are rte_rings). Up to QUEUE jobs
 * wait at once (a power of 2). 0, SL_ENOMEM, SL_EIO with *error_r. */
int smtp_authpool_create(st_store_t *store, unsigned threads, unsigned n_lanes, unsigned queue,
			 smtp_authpool_t **pool_r, const char **error_r);
/* smtp_authpool_stop - any thread but a verifier: stop and join the
 * threads. Jobs still queued are posted back unverified (rc = SL_ESTATE),
 * so one more smtp_authpool_poll per lane hands every job back; further
 * submissions fail with SL_ESTATE. Idempotent. */
void smtp_authpool_stop(smtp_authpool_t *pool);
/* smtp_authpool_destroy - stop, then free the rings; results not polled
 * by then are lost (their jobs leak). *POOL = NULL; NULL is a no-op. */
void smtp_authpool_destroy(smtp_authpool_t **pool);

/* smtp_authpool_submit - worker thread: queue JOB (job->lane set). 0, or
 * SL_EAGAIN when the queue is full (answer the client "try later"). */
int smtp_authpool_submit(smtp_authpool_t *pool, smtp_auth_job_t *job);
/* smtp_authpool_fd - LANE's eventfd, readable while results wait. */
int smtp_authpool_fd(const smtp_authpool_t *pool, unsigned lane);
/* smtp_authpool_poll - LANE's worker: hand each finished job to FN (which
 * takes it back; the password has been wiped). Returns how many. */
unsigned smtp_authpool_poll(smtp_authpool_t *pool, unsigned lane,
			    void (*fn)(void *ctx, smtp_auth_job_t *job), void *ctx);

#endif
