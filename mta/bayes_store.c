/* bayes_store - the Bayes store ops over st_kv_* (see bayes_store.h). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bayes_store.h"
#include "sl_err.h"

#define KEY_TOK "bayes/t/"
#define KEY_TOK_LEN 8
#define KEY_TOTALS "bayes/n"
#define KEY_SIG "bayes/s/"
#define KEY_SIG_LEN 8

/* One apply in flight: owns its ops and keys until the store completes it. */
typedef struct pend {
	struct pend *prev, *next;
	bayes_st_t *owner;
	bayes_done_fn *cb;
	void *cbctx;
	uint8_t sig[BAYES_SIG_LEN];
	enum bayes_class sig_class;
	uint8_t sig_key[KEY_SIG_LEN + BAYES_SIG_LEN];
	uint8_t sig_val;
	unsigned n_ops;
	st_kv_op_t *ops;          /* n_ops, after this struct */
	uint8_t (*tok_keys)[KEY_TOK_LEN + 8];
} pend_t;

struct bayes_st {
	st_client_t *c;
	st_reader_t *rd;
	pend_t *head, *tail;      /* in submission order */
	unsigned inflight;
};

static void be64_put(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

/* A packed counter holds spam * 2^32 + ham, each half a signed 32-bit
 * count: the low half is read as int32 and the high half is what remains.
 * A half below 0 (a token expired, then the message that had it unlearned)
 * reads as 0. */
static void unpack(int64_t v, bayes_counts_t *c)
{
	int64_t ham = (int32_t)(uint32_t)((uint64_t)v & 0xffffffffu);
	int64_t spam = (v - ham) / ((int64_t)1 << 32);

	c->spam = spam > 0 ? (uint32_t)spam : 0;
	c->ham = ham > 0 ? (uint32_t)ham : 0;
}

/* --- read -------------------------------------------------------------- */

typedef struct read_ctx {
	const uint64_t *ids;
	size_t n;
	bayes_counts_t *counts;
	bayes_counts_t *totals;
} read_ctx_t;

static int read_fn(st_reader_t *rd, void *arg)
{
	read_ctx_t *r = arg;
	uint8_t key[KEY_TOK_LEN + 8];
	int64_t v;
	int rc;

	memcpy(key, KEY_TOK, KEY_TOK_LEN);
	for (size_t i = 0; i < r->n; i++) {
		be64_put(key + KEY_TOK_LEN, r->ids[i]);
		rc = st_kv_counter(rd, ST_NS_FILTER, sl_slice_make(key, sizeof(key)), &v);
		if (rc != 0)
			return rc;
		unpack(v, &r->counts[i]);
	}
	rc = st_kv_counter(rd, ST_NS_FILTER, SL_SLICE_LIT(KEY_TOTALS), &v);
	if (rc == 0)
		unpack(v, r->totals);
	return rc;
}

static int st_read_counts(void *ctx, const uint64_t *ids, size_t n, bayes_counts_t *counts_r,
			  bayes_counts_t *totals_r)
{
	bayes_st_t *b = ctx;
	read_ctx_t r = {.ids = ids, .n = n, .counts = counts_r, .totals = totals_r};

	return st_read(b->rd, read_fn, &r);
}

/* --- signatures -------------------------------------------------------- */

static int st_sig_get(void *ctx, const uint8_t sig[BAYES_SIG_LEN], enum bayes_class *class_r)
{
	bayes_st_t *b = ctx;
	uint8_t key[KEY_SIG_LEN + BAYES_SIG_LEN];
	sl_buf_t v;
	int rc;

	/* The newest update in flight for SIG decides: it will commit after
	   anything read from the map now. */
	for (const pend_t *p = b->tail; p != NULL; p = p->prev) {
		if (memcmp(p->sig, sig, BAYES_SIG_LEN) == 0) {
			*class_r = p->sig_class;
			return 0;
		}
	}
	memcpy(key, KEY_SIG, KEY_SIG_LEN);
	memcpy(key + KEY_SIG_LEN, sig, BAYES_SIG_LEN);
	sl_buf_init(&v, 16);
	rc = st_kv_get(b->rd, ST_NS_FILTER, sl_slice_make(key, sizeof(key)), &v);
	*class_r = BAYES_NONE;
	if (rc == SL_ENOENT) {
		rc = 0;
	} else if (rc == SL_ELIMIT) {
		rc = SL_ECORRUPT; /* a value longer than any class byte */
	} else if (rc == 0) {
		if (v.len == 1 && (v.data[0] == BAYES_SPAM || v.data[0] == BAYES_HAM))
			*class_r = (enum bayes_class)v.data[0];
		else
			rc = SL_ECORRUPT;
	}
	sl_buf_free(&v);
	return rc;
}

/* --- apply ------------------------------------------------------------- */

static void pend_unlink(bayes_st_t *b, pend_t *p)
{
	if (p->prev != NULL)
		p->prev->next = p->next;
	else
		b->head = p->next;
	if (p->next != NULL)
		p->next->prev = p->prev;
	else
		b->tail = p->prev;
	b->inflight--;
}

static void apply_done(void *ctx, const st_result_t *res)
{
	pend_t *p = ctx;
	bayes_done_fn *cb = p->cb;
	void *cbctx = p->cbctx;

	pend_unlink(p->owner, p);
	free(p);
	if (cb != NULL)
		cb(cbctx, res->err);
}

static int st_apply(void *ctx, const bayes_update_t *u, bayes_done_fn *cb, void *cbctx)
{
	bayes_st_t *b = ctx;
	size_t n_tok, n_ops, size;
	int64_t delta;
	pend_t *p;
	int rc;

	if (u->dspam < -1 || u->dspam > 1 || u->dham < -1 || u->dham > 1 || u->sig == NULL ||
	    (u->n_ids > 0 && u->ids == NULL))
		return SL_EINVAL;
	delta = (int64_t)u->dspam * ((int64_t)1 << 32) + u->dham;
	n_tok = delta != 0 ? u->n_ids : 0;
	n_ops = n_tok + 2;
	if (n_ops > ((size_t)1 << 24))
		return SL_ELIMIT;
	size = sizeof(*p) + n_ops * sizeof(st_kv_op_t) + n_tok * sizeof(*p->tok_keys);
	p = calloc(1, size);
	if (p == NULL)
		return SL_ENOMEM;
	p->owner = b;
	p->cb = cb;
	p->cbctx = cbctx;
	memcpy(p->sig, u->sig, BAYES_SIG_LEN);
	p->sig_class = u->sig_class;
	p->ops = (st_kv_op_t *)(p + 1);
	p->tok_keys = (void *)(p->ops + n_ops);
	for (size_t i = 0; i < n_tok; i++) {
		memcpy(p->tok_keys[i], KEY_TOK, KEY_TOK_LEN);
		be64_put(p->tok_keys[i] + KEY_TOK_LEN, u->ids[i]);
		p->ops[i] = (st_kv_op_t){.kind = ST_KV_ADD,
					 .key = sl_slice_make(p->tok_keys[i],
							      sizeof(p->tok_keys[i])),
					 .delta = delta};
	}
	p->ops[n_tok] = (st_kv_op_t){.kind = ST_KV_ADD, .key = SL_SLICE_LIT(KEY_TOTALS),
				     .delta = delta};
	memcpy(p->sig_key, KEY_SIG, KEY_SIG_LEN);
	memcpy(p->sig_key + KEY_SIG_LEN, u->sig, BAYES_SIG_LEN);
	p->sig_val = (uint8_t)u->sig_class;
	if (u->sig_class == BAYES_NONE)
		p->ops[n_tok + 1] = (st_kv_op_t){
			.kind = ST_KV_DEL, .key = sl_slice_make(p->sig_key, sizeof(p->sig_key))};
	else
		p->ops[n_tok + 1] = (st_kv_op_t){
			.kind = ST_KV_PUT, .key = sl_slice_make(p->sig_key, sizeof(p->sig_key)),
			.value = sl_slice_make(&p->sig_val, 1)};
	p->n_ops = (unsigned)n_ops;
	/* Link before submitting: the store may complete it on this thread
	   only from st_client_poll, never inside st_kv_write. */
	p->prev = b->tail;
	if (b->tail != NULL)
		b->tail->next = p;
	else
		b->head = p;
	b->tail = p;
	b->inflight++;
	rc = st_kv_write(b->c, ST_NS_FILTER, p->ops, p->n_ops, apply_done, p);
	if (rc != 0) {
		pend_unlink(b, p);
		free(p);
	}
	return rc;
}

static const bayes_store_ops_t st_ops = {
	.read = st_read_counts,
	.sig_get = st_sig_get,
	.apply = st_apply,
};

/* --- expiry ---------------------------------------------------------- */

#define EXPIRE_HIST 16     /* messages per token tracked one by one */
#define EXPIRE_BATCH 4096  /* deletions per transaction */

typedef struct expire_scan {
	uint64_t hist[EXPIRE_HIST + 1]; /* tokens by messages (last: more) */
	uint64_t total;
	uint32_t threshold;        /* second pass: collect n < threshold, */
	uint64_t at_threshold;     /* and this many with n == threshold */
	uint8_t (*keys)[KEY_TOK_LEN + 8];
	size_t n_keys, cap_keys;
	int err;
} expire_scan_t;

static uint32_t token_msgs(sl_slice_t value)
{
	bayes_counts_t c;
	int64_t v;

	if (value.len != sizeof(v))
		return UINT32_MAX; /* not a counter: never expired by count */
	memcpy(&v, value.ptr, sizeof(v));
	unpack(v, &c);
	return c.spam + c.ham;
}

static int expire_count(void *ctx, sl_slice_t key, sl_slice_t value)
{
	expire_scan_t *x = ctx;
	uint32_t n = token_msgs(value);

	(void)key;
	x->hist[n < EXPIRE_HIST ? n : EXPIRE_HIST]++;
	x->total++;
	return 0;
}

static int expire_collect(void *ctx, sl_slice_t key, sl_slice_t value)
{
	expire_scan_t *x = ctx;

	uint32_t n;

	if (key.len != sizeof(*x->keys))
		return 0;
	n = token_msgs(value);
	if (n > x->threshold)
		return 0;
	if (n == x->threshold) {
		/* Ids are hashes, so key order picks these at random. */
		if (x->at_threshold == 0)
			return 0;
		x->at_threshold--;
	}
	if (x->n_keys == x->cap_keys)
		return 1; /* the plan's count is reached */
	memcpy(x->keys[x->n_keys++], key.ptr, key.len);
	return 0;
}

int bayes_st_expire(bayes_st_t *b, uint64_t max_tokens, bayes_st_expiry_t *r_r)
{
	expire_scan_t x;
	uint64_t keep, drop = 0;
	st_kv_op_t *ops = NULL;
	int rc;

	memset(&x, 0, sizeof(x));
	memset(r_r, 0, sizeof(*r_r));
	if (max_tokens == 0)
		return SL_EINVAL;
	if (b->inflight > 0)
		return SL_EBUSY;
	rc = st_kv_scan(b->rd, ST_NS_FILTER, SL_SLICE_LIT(KEY_TOK), expire_count, &x);
	if (rc != 0)
		return rc;
	r_r->before = r_r->after = x.total;
	if (x.total <= max_tokens)
		return 0;
	/* Keep 90 % of the maximum, so expiry does not run again at once:
	   drop the rarest tokens first (seen in 1 message, then 2, ...). */
	keep = max_tokens - max_tokens / 10;
	for (x.threshold = 0; x.threshold < EXPIRE_HIST; x.threshold++) {
		uint64_t left = x.total - drop;

		if (left - x.hist[x.threshold] <= keep) {
			/* Only part of this level is needed. */
			x.at_threshold = left - keep;
			drop += x.at_threshold;
			break;
		}
		drop += x.hist[x.threshold];
		x.at_threshold = x.hist[x.threshold];
	}
	if (x.threshold == EXPIRE_HIST)
		x.threshold = EXPIRE_HIST - 1; /* frequent tokens are never dropped */
	r_r->threshold = x.threshold;
	if (drop == 0)
		return 0;
	x.cap_keys = (size_t)drop;
	x.keys = malloc(x.cap_keys * sizeof(*x.keys));
	ops = malloc((x.cap_keys < EXPIRE_BATCH ? x.cap_keys : EXPIRE_BATCH) * sizeof(*ops));
	if (x.keys == NULL || ops == NULL) {
		rc = SL_ENOMEM;
		goto out;
	}
	rc = st_kv_scan(b->rd, ST_NS_FILTER, SL_SLICE_LIT(KEY_TOK), expire_collect, &x);
	if (rc < 0)
		goto out;
	rc = 0;
	/* Delete outside the scan: a read snapshot must not wait for a write. */
	for (size_t i = 0; i < x.n_keys && rc == 0; i += EXPIRE_BATCH) {
		size_t n = x.n_keys - i < EXPIRE_BATCH ? x.n_keys - i : EXPIRE_BATCH;
		st_admin_wait_t w = {0};

		for (size_t k = 0; k < n; k++)
			ops[k] = (st_kv_op_t){.kind = ST_KV_DEL,
					      .key = sl_slice_make(x.keys[i + k],
								   sizeof(*x.keys))};
		rc = st_kv_write(b->c, ST_NS_FILTER, ops, (unsigned)n, st_admin_done, &w);
		if (rc == 0)
			rc = st_admin_wait_for(b->c, &w);
		if (rc == 0)
			r_r->after -= n;
	}
out:
	free(ops);
	free(x.keys);
	return rc;
}

/* --- lifetime ---------------------------------------------------------- */

int bayes_st_create(st_client_t *c, st_reader_t *rd, bayes_st_t **b_r)
{
	bayes_st_t *b;

	*b_r = NULL;
	if (c == NULL || rd == NULL)
		return SL_EINVAL;
	b = calloc(1, sizeof(*b));
	if (b == NULL)
		return SL_ENOMEM;
	b->c = c;
	b->rd = rd;
	*b_r = b;
	return 0;
}

int bayes_st_destroy(bayes_st_t **bp)
{
	bayes_st_t *b = bp != NULL ? *bp : NULL;

	if (b == NULL)
		return 0;
	if (b->inflight > 0)
		return SL_EBUSY;
	free(b);
	*bp = NULL;
	return 0;
}

bayes_store_t bayes_st_store(bayes_st_t *b)
{
	return (bayes_store_t){.ops = &st_ops, .ctx = b};
}

unsigned bayes_st_inflight(const bayes_st_t *b)
{
	return b->inflight;
}
