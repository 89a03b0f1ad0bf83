/* st_writer - group commit: the request ring, the writer thread, and the
 * clients' completion queues.
 *
 * Submitters (worker lcores) push requests on a bounded lock-free MPSC ring
 * and wake the writer through an eventfd only if it sleeps. The writer pops
 * a batch, applies each request in a nested transaction of ONE write
 * transaction (a failing request is rolled back alone), commits (LMDB
 * fsyncs the data, then the meta page), and only then posts each request to
 * its client's completion ring and signals the client's eventfd once per
 * batch. A completion therefore always means "durable" (docs/store.md). */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "sl_log.h"
#include "st_private.h"

/* --- the request ring (Vyukov's bounded queue, single consumer) -------- */

static bool ring_push(st_store_t *s, st_req_t *r)
{
	size_t pos = atomic_load_explicit(&s->enq_pos, memory_order_relaxed);
	struct st_cell *cell;

	for (;;) {
		cell = &s->ring[pos & s->ring_mask];
		size_t seq = atomic_load_explicit(&cell->seq, memory_order_acquire);
		intptr_t dif = (intptr_t)seq - (intptr_t)pos;
		if (dif == 0) {
			if (atomic_compare_exchange_weak_explicit(&s->enq_pos, &pos, pos + 1,
								  memory_order_relaxed,
								  memory_order_relaxed))
				break;
		} else if (dif < 0) {
			return false;
		} else {
			pos = atomic_load_explicit(&s->enq_pos, memory_order_relaxed);
		}
	}
	cell->req = r;
	atomic_store_explicit(&cell->seq, pos + 1, memory_order_release);
	return true;
}

static bool ring_ready(st_store_t *s)
{
	struct st_cell *cell = &s->ring[s->deq_pos & s->ring_mask];

	return atomic_load_explicit(&cell->seq, memory_order_acquire) == s->deq_pos + 1;
}

static st_req_t *ring_pop(st_store_t *s)
{
	struct st_cell *cell = &s->ring[s->deq_pos & s->ring_mask];
	st_req_t *r;

	if (atomic_load_explicit(&cell->seq, memory_order_acquire) != s->deq_pos + 1)
		return NULL;
	r = cell->req;
	atomic_store_explicit(&cell->seq, s->deq_pos + s->ring_mask + 1, memory_order_release);
	s->deq_pos++;
	return r;
}

/* --- map growth -------------------------------------------------------- */

/* st_map_grow - double the map (at least to MIN_SIZE, at most to
 * map_size_max). Writer thread only, with no write transaction open; the
 * gate waits for every open read snapshot, because mdb_env_set_mapsize
 * remaps and would pull the pages out from under a reader. SL_EFULL at the
 * maximum. */
int st_map_grow(st_store_t *s, uint64_t min_size)
{
	uint64_t cur = atomic_load(&s->map_size), want, pg = 4096;
	MDB_envinfo info;
	int rc;

	if (cur == 0) {
		mdb_env_info(s->env, &info);
		cur = info.me_mapsize;
	}
	want = cur * 2;
	if (want < min_size)
		want = min_size;
	want = (want + pg - 1) / pg * pg;
	if (want > s->opts.map_size_max)
		want = s->opts.map_size_max / pg * pg;
	if (want <= cur)
		return SL_EFULL;
	st_gate_close(s);
	rc = mdb_env_set_mapsize(s->env, want);
	st_gate_open(s);
	if (rc != 0) {
		sl_log(SL_LOG_ERR, ST_LOG, "map grow to %llu failed: %s",
		       (unsigned long long)want, mdb_strerror(rc));
		return st_lmdb_err(rc);
	}
	mdb_env_info(s->env, &info);
	atomic_store(&s->map_size, (uint64_t)info.me_mapsize);
	atomic_fetch_add(&s->st_grows, 1);
	sl_log(SL_LOG_INFO, ST_LOG, "map grown to %llu KiB",
	       (unsigned long long)(info.me_mapsize >> 10));
	return 0;
}

static void update_used(st_store_t *s)
{
	MDB_envinfo info;

	mdb_env_info(s->env, &info);
	atomic_store(&s->map_used, ((uint64_t)info.me_last_pgno + 1) * s->page_size);
}

/* Grow before MDB_MAP_FULL is hit: when the pages in use pass
 * map_grow_pct of the map, or the batch's bodies may not fit. 100 turns
 * this off (growth on MDB_MAP_FULL only). */
static void maybe_grow(st_store_t *s, uint64_t batch_bytes)
{
	uint64_t size = atomic_load(&s->map_size), used = atomic_load(&s->map_used);
	uint64_t need = used + batch_bytes + batch_bytes / 8;

	if (s->opts.map_grow_pct >= 100)
		return;
	if (used * 100 >= size * s->opts.map_grow_pct || need * 100 >= size * s->opts.map_grow_pct)
		(void)st_map_grow(s, need * 100 / s->opts.map_grow_pct + 1);
}

/* --- change notification ---------------------------------------------- */

static void touch_slot(st_store_t *s, uint32_t slot)
{
	if (s->touched_all)
		return;
	/* Runs of requests on one mailbox (a batch of deliveries to one
	 * INBOX) record it once. */
	if (s->n_touched > 0 && s->touched[s->n_touched - 1] == slot)
		return;
	if (s->n_touched == ST_TOUCH_MAX) {
		s->touched_all = true;
		return;
	}
	s->touched[s->n_touched++] = slot;
}

void st_touch_mailbox(st_store_t *s, uint64_t id)
{
	touch_slot(s, (uint32_t)(id & (ST_GEN_HALF - 1)));
}

void st_touch_user(st_store_t *s, uint64_t id)
{
	touch_slot(s, ST_GEN_HALF + (uint32_t)(id & (ST_GEN_HALF - 1)));
}

/* After a commit returned: publish the changes. Release order: whoever
 * loads a bumped counter (acquire) and then opens a read snapshot sees
 * the committed transaction. */
static void gens_publish(st_store_t *s)
{
	if (s->touched_all) {
		for (unsigned i = 0; i < ST_GEN_SLOTS; i++)
			atomic_fetch_add_explicit(&s->gens[i], 1, memory_order_release);
	} else {
		for (unsigned i = 0; i < s->n_touched; i++)
			atomic_fetch_add_explicit(&s->gens[s->touched[i]], 1,
						  memory_order_release);
	}
	s->n_touched = 0;
	s->touched_all = false;
}

uint64_t st_mailbox_gen(st_store_t *s, uint64_t mailbox_id)
{
	return atomic_load_explicit(&s->gens[mailbox_id & (ST_GEN_HALF - 1)],
				    memory_order_acquire);
}

uint64_t st_user_gen(st_store_t *s, uint64_t user_id)
{
	return atomic_load_explicit(&s->gens[ST_GEN_HALF + (user_id & (ST_GEN_HALF - 1))],
				    memory_order_acquire);
}

st_store_t *st_client_store(const st_client_t *c)
{
	return c->s;
}

st_store_t *st_reader_store(const st_reader_t *rd)
{
	return rd->s;
}

/* --- applying a batch -------------------------------------------------- */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void req_reset(st_req_t *r)
{
	enum st_op op = r->op;

	memset(&r->res, 0, sizeof(r->res));
	r->res.op = op;
	r->res.err = r->pre_err;
	r->res.error = r->pre_error;
}

/* One write transaction over BATCH. 0 when committed; ST_RETRY_* when the
 * batch must be re-run (nothing was committed); other sl_err when the
 * commit failed.
 *
 * Fast mode applies every request straight into the transaction. Almost
 * every request succeeds, and a nested transaction per request costs LMDB
 * a 2 MB dirty-list allocation. If any request fails, the whole
 * transaction is dropped and the batch re-run in nested mode, where each
 * request gets a child transaction that is rolled back alone when it
 * fails. Either way only the final attempt commits. */
static int apply_txn(st_store_t *s, st_req_t **batch, unsigned n, bool nested)
{
	MDB_txn *txn = NULL, *child = NULL;
	uint64_t t_begin = now_ns(), t_commit;
	int rc;

	/* Touches of an earlier attempt at this batch were never committed. */
	s->n_touched = 0;
	s->touched_all = false;
	rc = mdb_txn_begin(s->env, NULL, 0, &txn);
	if (rc != 0)
		return st_lmdb_err(rc);
	for (unsigned i = 0; i < n; i++) {
		st_req_t *r = batch[i];
		unsigned touched_mark = s->n_touched;

		req_reset(r);
		if (r->pre_err != 0)
			continue;
		if (!nested) {
			rc = st_apply(s, txn, r);
			if (rc == ST_RETRY_MAPFULL || rc == ST_RETRY_TXNFULL)
				goto fail;
			if (rc < 0) {
				rc = ST_RETRY_NESTED;
				goto fail;
			}
			continue;
		}
		rc = mdb_txn_begin(s->env, txn, 0, &child);
		if (rc != 0) {
			rc = st_lmdb_err(rc);
			goto fail;
		}
		rc = st_apply(s, child, r);
		if (rc == 0) {
			rc = st_lmdb_err(mdb_txn_commit(child));
			child = NULL;
		} else {
			mdb_txn_abort(child);
			child = NULL;
		}
		/* Rolled back alone: what it touched did not change
		 * (touched_all stays: at worst a spurious wake-up). */
		if (rc != 0)
			s->n_touched = touched_mark;
		if (rc == ST_RETRY_MAPFULL || rc == ST_RETRY_TXNFULL)
			goto fail;
		if (rc < 0) {
			r->res.err = rc;
			if (r->res.error == NULL)
				r->res.error = sl_strerror(rc);
		}
	}
	t_commit = now_ns();
	atomic_fetch_add_explicit(&s->st_apply_ns, t_commit - t_begin, memory_order_relaxed);
	rc = mdb_txn_commit(txn);
	txn = NULL;
	atomic_fetch_add_explicit(&s->st_commit_ns, now_ns() - t_commit, memory_order_relaxed);
	if (rc != 0) {
		rc = st_lmdb_err(rc);
		goto fail;
	}
	/* Durable now; the completions are posted after this returns. */
	gens_publish(s);
	update_used(s);
	return 0;
fail:
	if (txn != NULL)
		mdb_txn_abort(txn);
	return rc;
}

static void fail_req(st_req_t *r, int rc)
{
	req_reset(r);
	if (r->pre_err != 0)
		return;
	switch (rc) {
	case ST_RETRY_MAPFULL:
	case SL_EFULL:
		r->res.err = SL_EFULL;
		r->res.error = "store full: the map cannot grow further";
		break;
	case ST_RETRY_TXNFULL:
		r->res.err = SL_ELIMIT;
		r->res.error = "request too large for one transaction";
		break;
	default:
		r->res.err = rc < 0 ? rc : SL_EIO;
		r->res.error = "commit failed";
		break;
	}
}

static void run_batch(st_store_t *s, st_req_t **batch, unsigned n)
{
	uint64_t bytes = 0, prev;
	int rc;

	for (unsigned i = 0; i < n; i++)
		bytes += batch[i]->bytes;
	maybe_grow(s, bytes);
	for (bool nested = false;;) {
		rc = apply_txn(s, batch, n, nested);
		if (rc == ST_RETRY_NESTED) {
			nested = true;
			continue;
		}
		if (rc == 0) {
			atomic_fetch_add(&s->st_batches, 1);
			prev = atomic_load(&s->st_batch_max);
			if (n > prev)
				atomic_store(&s->st_batch_max, n);
			return;
		}
		if (rc != ST_RETRY_MAPFULL || st_map_grow(s, 0) < 0)
			break;
		atomic_fetch_add(&s->st_retries, 1);
	}
	if (n == 1) {
		sl_log(SL_LOG_WARN, ST_LOG, "request failed in the writer: %s",
		       rc == ST_RETRY_MAPFULL ? "map full" : sl_strerror(rc));
		fail_req(batch[0], rc);
		return;
	}
	/* The batch as a whole cannot commit (too many dirty pages, the map
	 * at its maximum, or an I/O error): give each request its own
	 * transaction so one oversized request does not fail the others. */
	for (unsigned i = 0; i < n; i++) {
		atomic_fetch_add(&s->st_singles, 1);
		run_batch(s, &batch[i], 1);
	}
}

static void post_completions(st_store_t *s, st_req_t **batch, unsigned n)
{
	uint64_t one = 1, t0 = now_ns();

	atomic_fetch_add(&s->st_requests, n);
	pthread_mutex_lock(&s->complete_lock);
	s->batch_no++;
	/* Once a completion is published its client may consume the request
	 * and reuse it for a new submission, so batch[i] must not be read
	 * after that: take every client first. The clients themselves stay
	 * alive, since st_client_destroy waits for complete_lock. */
	for (unsigned i = 0; i < n; i++)
		s->batch_clients[i] = batch[i]->client;
	for (unsigned i = 0; i < n; i++) {
		st_client_t *c = s->batch_clients[i];
		unsigned h = atomic_load_explicit(&c->chead, memory_order_relaxed);

		c->cring[h & c->cmask] = batch[i];
		atomic_store_explicit(&c->chead, h + 1, memory_order_release);
	}
	for (unsigned i = 0; i < n; i++) {
		st_client_t *c = s->batch_clients[i];

		if (c->mark == s->batch_no)
			continue;
		c->mark = s->batch_no;
		if (write(c->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
			sl_log(SL_LOG_ERR, ST_LOG, "completion eventfd: %s", strerror(errno));
	}
	pthread_mutex_unlock(&s->complete_lock);
	atomic_fetch_add_explicit(&s->st_post_ns, now_ns() - t0, memory_order_relaxed);
}

static void *writer_main(void *arg)
{
	st_store_t *s = arg;
	uint64_t v;

	for (;;) {
		unsigned n = 0;
		uint64_t bytes = 0;
		st_req_t *r;

		if (atomic_load(&s->test_hold)) {
			usleep(1000);
			continue;
		}
		while (n < s->opts.batch_max && bytes < s->opts.batch_bytes_max &&
		       (r = ring_pop(s)) != NULL) {
			s->batch[n++] = r;
			bytes += r->bytes;
		}
		if (n > 0) {
			run_batch(s, s->batch, n);
			post_completions(s, s->batch, n);
			continue;
		}
		if (atomic_load(&s->closing))
			break;
		/* Sleep. The fence pairs with the one in st_submit: either the
		 * submitter sees writer_sleeping, or we see its request. */
		atomic_store(&s->writer_sleeping, 1);
		atomic_thread_fence(memory_order_seq_cst);
		if (!ring_ready(s) && !atomic_load(&s->closing)) {
			if (read(s->wake_fd, &v, sizeof(v)) < 0 && errno != EINTR)
				sl_log(SL_LOG_ERR, ST_LOG, "writer eventfd: %s", strerror(errno));
		}
		atomic_store(&s->writer_sleeping, 0);
	}
	return NULL;
}

int st_writer_start(st_store_t *s)
{
	s->batch = calloc(s->opts.batch_max, sizeof(*s->batch));
	s->batch_clients = calloc(s->opts.batch_max, sizeof(*s->batch_clients));
	if (s->batch == NULL || s->batch_clients == NULL) {
		free(s->batch);
		free(s->batch_clients);
		s->batch = NULL;
		s->batch_clients = NULL;
		return SL_ENOMEM;
	}
	pthread_mutex_init(&s->complete_lock, NULL);
	if (pthread_create(&s->writer, NULL, writer_main, s) != 0) {
		pthread_mutex_destroy(&s->complete_lock);
		free(s->batch);
		free(s->batch_clients);
		s->batch = NULL;
		s->batch_clients = NULL;
		return SL_ENOMEM;
	}
	pthread_setname_np(s->writer, "st-writer");
	s->writer_started = true;
	return 0;
}

void st_writer_stop(st_store_t *s)
{
	uint64_t one = 1;

	atomic_store(&s->closing, 1);
	if (write(s->wake_fd, &one, sizeof(one)) < 0)
		sl_log(SL_LOG_ERR, ST_LOG, "writer wake: %s", strerror(errno));
	pthread_join(s->writer, NULL);
	s->writer_started = false;
	pthread_mutex_destroy(&s->complete_lock);
	free(s->batch);
	free(s->batch_clients);
	s->batch = NULL;
	s->batch_clients = NULL;
}

/* --- clients ----------------------------------------------------------- */

int st_client_create(st_store_t *s, unsigned max_inflight, st_client_t **c_r)
{
	st_client_t *c;
	unsigned cur, ring = 1;

	*c_r = NULL;
	if (s == NULL || max_inflight == 0 || max_inflight > 4096)
		return SL_EINVAL;
	cur = atomic_load(&s->reserved);
	do {
		if (cur + max_inflight > s->opts.queue_size)
			return SL_ELIMIT;
	} while (!atomic_compare_exchange_weak(&s->reserved, &cur, cur + max_inflight));
	while (ring < max_inflight)
		ring <<= 1;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		goto fail;
	c->s = s;
	c->cap = max_inflight;
	c->efd = -1;
	c->slots = calloc(max_inflight, sizeof(*c->slots));
	c->cring = calloc(ring, sizeof(*c->cring));
	if (c->slots == NULL || c->cring == NULL)
		goto fail;
	c->cmask = ring - 1;
	c->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (c->efd < 0) {
		atomic_fetch_sub(&s->reserved, max_inflight);
		free(c->slots);
		free(c->cring);
		free(c);
		return SL_EIO;
	}
	for (unsigned i = 0; i < max_inflight; i++) {
		c->slots[i].next_free = c->free_list;
		c->free_list = &c->slots[i];
	}
	*c_r = c;
	return 0;
fail:
	atomic_fetch_sub(&s->reserved, max_inflight);
	if (c != NULL) {
		free(c->slots);
		free(c->cring);
		free(c);
	}
	return SL_ENOMEM;
}

void st_client_destroy(st_client_t **cp)
{
	st_client_t *c = cp != NULL ? *cp : NULL;

	if (c == NULL)
		return;
	*cp = NULL;
	while (c->inflight > 0)
		st_client_wait(c, -1);
	/* The writer may still be signalling our eventfd for the batch that
	 * carried our last completion. */
	pthread_mutex_lock(&c->s->complete_lock);
	pthread_mutex_unlock(&c->s->complete_lock);
	atomic_fetch_sub(&c->s->reserved, c->cap);
	close(c->efd);
	free(c->slots);
	free(c->cring);
	free(c);
}

int st_client_fd(const st_client_t *c)
{
	return c->efd;
}

unsigned st_client_inflight(const st_client_t *c)
{
	return c->inflight;
}

unsigned st_client_poll(st_client_t *c)
{
	unsigned n = 0;
	uint64_t v;

	/* Clear the eventfd before draining: a completion posted after this
	 * read signals again, so no wakeup is lost. */
	if (read(c->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		sl_log(SL_LOG_ERR, ST_LOG, "client eventfd: %s", strerror(errno));
	while (c->ctail != atomic_load_explicit(&c->chead, memory_order_acquire)) {
		st_req_t *r = c->cring[c->ctail & c->cmask];
		st_result_t res = r->res;
		st_done_fn *cb = r->cb;
		void *ctx = r->ctx;

		c->ctail++;
		/* Free the slot first so the callback can submit again. */
		st_req_release(c, r);
		if (cb != NULL)
			cb(ctx, &res);
		n++;
	}
	return n;
}

unsigned st_client_wait(st_client_t *c, int timeout_ms)
{
	struct pollfd pfd = {.fd = c->efd, .events = POLLIN};

	if (c->ctail == atomic_load_explicit(&c->chead, memory_order_acquire)) {
		int rc;
		do
			rc = poll(&pfd, 1, timeout_ms);
		while (rc < 0 && errno == EINTR);
		if (rc <= 0)
			return 0;
	}
	return st_client_poll(c);
}

/* --- submission -------------------------------------------------------- */

st_req_t *st_req_alloc(st_client_t *c, enum st_op op, st_done_fn *cb, void *ctx)
{
	st_req_t *r = c->free_list;

	if (r == NULL)
		return NULL;
	c->free_list = r->next_free;
	c->inflight++;
	memset(r, 0, sizeof(*r));
	r->op = op;
	r->client = c;
	r->cb = cb;
	r->ctx = ctx;
	return r;
}

void st_req_release(st_client_t *c, st_req_t *r)
{
	r->next_free = c->free_list;
	c->free_list = r;
	c->inflight--;
}

int st_submit(st_client_t *c, st_req_t *r)
{
	st_store_t *s = c->s;
	uint64_t one = 1;

	if (atomic_load(&s->closing)) {
		st_req_release(c, r);
		return SL_ESTATE;
	}
	/* Cannot fail: clients reserve their slots in the ring up front. */
	if (!ring_push(s, r))
		sl_panic(ST_LOG, "request ring overflow despite reservations");
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load(&s->writer_sleeping) &&
	    write(s->wake_fd, &one, sizeof(one)) < 0)
		sl_log(SL_LOG_ERR, ST_LOG, "writer wake: %s", strerror(errno));
	return 0;
}

void st_writer_hold_for_test(st_store_t *s, bool on)
{
	uint64_t one = 1;

	atomic_store(&s->test_hold, on);
	if (!on && write(s->wake_fd, &one, sizeof(one)) < 0)
		sl_log(SL_LOG_ERR, ST_LOG, "writer wake: %s", strerror(errno));
}

bool st_client_pending(const st_client_t *c)
{
	return c->ctail != atomic_load_explicit(&c->chead, memory_order_acquire);
}
