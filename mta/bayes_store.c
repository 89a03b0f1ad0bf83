/* bayes_store - the Bayes store ops over st_kv_* (see bayes_store.h). */
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

/* A packed counter: spam << 32 | ham, each half in 0..BAYES_COUNT_MAX. */
static int unpack(int64_t v, bayes_counts_t *c)
{
	uint64_t u = (uint64_t)v;

	if (v < 0 || (u >> 32) > BAYES_COUNT_MAX || (u & 0xffffffffu) > BAYES_COUNT_MAX)
		return SL_ECORRUPT;
	c->spam = (uint32_t)(u >> 32);
	c->ham = (uint32_t)(u & 0xffffffffu);
	return 0;
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
		if (rc == 0)
			rc = unpack(v, &r->counts[i]);
		if (rc != 0)
			return rc;
	}
	rc = st_kv_counter(rd, ST_NS_FILTER, SL_SLICE_LIT(KEY_TOTALS), &v);
	if (rc == 0)
		rc = unpack(v, r->totals);
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
