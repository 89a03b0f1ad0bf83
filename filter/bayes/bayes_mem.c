/* bayes_mem - the in-memory Bayes store: for tests, cross-validation and the
 * offline tool. Two open-addressing tables (linear probing, backward-shift
 * deletion so that no tombstones pile up): token id -> counts, signature ->
 * class. An apply is checked in full before anything changes, so a refused
 * apply leaves the store as it was. */
#include <stdlib.h>
#include <string.h>

#include "bayes.h"
#include "sl_err.h"

typedef struct slot {
	uint64_t k0, k1;   /* key; k0 == 0 && k1 == 0: empty (token ids are
			      never 0; a signature of all zeros is remapped) */
	uint32_t a, b;     /* tokens: spam, ham; signatures: class, unused */
} slot_t;

typedef struct table {
	slot_t *s;
	size_t mask;       /* capacity - 1 */
	size_t n;
} table_t;

struct bayes_mem {
	table_t tok, sig;
	size_t max;
	bayes_counts_t totals;
};

static inline size_t hash_key(uint64_t k0, uint64_t k1)
{
	uint64_t h = (k0 ^ (k1 * 0x9E3779B97F4A7C15ull)) * 0xBF58476D1CE4E5B9ull;

	return (size_t)(h ^ (h >> 31));
}

static int table_init(table_t *t, size_t cap)
{
	t->s = calloc(cap, sizeof(*t->s));
	if (t->s == NULL)
		return SL_ENOMEM;
	t->mask = cap - 1;
	t->n = 0;
	return 0;
}

static slot_t *table_find(const table_t *t, uint64_t k0, uint64_t k1)
{
	size_t i = hash_key(k0, k1) & t->mask;

	for (;;) {
		slot_t *s = &t->s[i];

		if (s->k0 == 0 && s->k1 == 0)
			return NULL;
		if (s->k0 == k0 && s->k1 == k1)
			return s;
		i = (i + 1) & t->mask;
	}
}

static int table_grow(table_t *t)
{
	table_t nt;
	int rc = table_init(&nt, (t->mask + 1) * 2);

	if (rc != 0)
		return rc;
	for (size_t i = 0; i <= t->mask; i++) {
		slot_t *s = &t->s[i];
		size_t j;

		if (s->k0 == 0 && s->k1 == 0)
			continue;
		j = hash_key(s->k0, s->k1) & nt.mask;
		while (nt.s[j].k0 != 0 || nt.s[j].k1 != 0)
			j = (j + 1) & nt.mask;
		nt.s[j] = *s;
		nt.n++;
	}
	free(t->s);
	*t = nt;
	return 0;
}

/* Find or insert KEY; the caller made sure there is room (load <= 1/2). */
static slot_t *table_upsert(table_t *t, uint64_t k0, uint64_t k1)
{
	size_t i = hash_key(k0, k1) & t->mask;

	for (;;) {
		slot_t *s = &t->s[i];

		if (s->k0 == 0 && s->k1 == 0) {
			s->k0 = k0;
			s->k1 = k1;
			s->a = s->b = 0;
			t->n++;
			return s;
		}
		if (s->k0 == k0 && s->k1 == k1)
			return s;
		i = (i + 1) & t->mask;
	}
}

/* Remove slot S, shifting later members of its cluster back (Knuth 6.4 R). */
static void table_remove(table_t *t, slot_t *s)
{
	size_t i = (size_t)(s - t->s), j = i;

	for (;;) {
		size_t home;

		j = (j + 1) & t->mask;
		if (t->s[j].k0 == 0 && t->s[j].k1 == 0)
			break;
		home = hash_key(t->s[j].k0, t->s[j].k1) & t->mask;
		/* Move j to i unless its home lies cyclically in (i, j]. */
		if ((i <= j) ? (i < home && home <= j) : (i < home || home <= j))
			continue;
		t->s[i] = t->s[j];
		i = j;
	}
	memset(&t->s[i], 0, sizeof(t->s[i]));
	t->n--;
}

static int table_reserve(table_t *t, size_t more)
{
	while ((t->n + more) * 2 > t->mask + 1) {
		int rc = table_grow(t);

		if (rc != 0)
			return rc;
	}
	return 0;
}

static void sig_key(const uint8_t sig[BAYES_SIG_LEN], uint64_t *k0, uint64_t *k1)
{
	memcpy(k0, sig, 8);
	memcpy(k1, sig + 8, 8);
	if (*k0 == 0 && *k1 == 0)
		*k1 = 1;
}

/* --- ops --------------------------------------------------------------- */

static int mem_read(void *ctx, const uint64_t *ids, size_t n, bayes_counts_t *counts_r,
		    bayes_counts_t *totals_r)
{
	bayes_mem_t *m = ctx;

	for (size_t i = 0; i < n; i++) {
		const slot_t *s = ids[i] != 0 ? table_find(&m->tok, ids[i], 0) : NULL;

		counts_r[i].spam = s ? s->a : 0;
		counts_r[i].ham = s ? s->b : 0;
	}
	*totals_r = m->totals;
	return 0;
}

static int mem_sig_get(void *ctx, const uint8_t sig[BAYES_SIG_LEN], enum bayes_class *class_r)
{
	bayes_mem_t *m = ctx;
	uint64_t k0, k1;
	const slot_t *s;

	sig_key(sig, &k0, &k1);
	s = table_find(&m->sig, k0, k1);
	*class_r = s ? (enum bayes_class)s->a : BAYES_NONE;
	return 0;
}

static bool delta_ok(uint32_t v, int32_t d)
{
	return d >= 0 ? (uint64_t)v + (uint64_t)d <= BAYES_COUNT_MAX : v >= (uint32_t)-d;
}

static int mem_apply(void *ctx, const bayes_update_t *u, bayes_done_fn *cb, void *cbctx)
{
	bayes_mem_t *m = ctx;
	uint64_t k0, k1;
	slot_t *s;
	size_t fresh = 0;
	int rc;

	if (u->dspam < -1 || u->dspam > 1 || u->dham < -1 || u->dham > 1 ||
	    (u->n_ids > 0 && u->ids == NULL) || u->sig == NULL)
		return SL_EINVAL;
	/* Check everything first: an apply is all or nothing. */
	if (!delta_ok(m->totals.spam, u->dspam) || !delta_ok(m->totals.ham, u->dham))
		return u->dspam < 0 || u->dham < 0 ? SL_ECORRUPT : SL_ELIMIT;
	for (size_t i = 0; i < u->n_ids; i++) {
		s = u->ids[i] != 0 ? table_find(&m->tok, u->ids[i], 0) : NULL;
		if (u->ids[i] == 0)
			return SL_EINVAL;
		if (s == NULL) {
			if (u->dspam < 0 || u->dham < 0)
				return SL_ECORRUPT; /* taking back what was never added */
			fresh++;
		} else if (!delta_ok(s->a, u->dspam) || !delta_ok(s->b, u->dham)) {
			return SL_ECORRUPT;
		}
	}
	if (m->tok.n + fresh > m->max || m->sig.n + 1 > m->max)
		return SL_ELIMIT;
	rc = table_reserve(&m->tok, fresh);
	if (rc == 0)
		rc = table_reserve(&m->sig, 1);
	if (rc != 0)
		return rc;
	/* An id listed twice would be counted twice; the tokenizer never does
	   that, and the LMDB store would count it twice too. */
	for (size_t i = 0; i < u->n_ids; i++) {
		s = table_upsert(&m->tok, u->ids[i], 0);
		s->a = (uint32_t)((int64_t)s->a + u->dspam);
		s->b = (uint32_t)((int64_t)s->b + u->dham);
		if (s->a == 0 && s->b == 0)
			table_remove(&m->tok, s);
	}
	m->totals.spam = (uint32_t)((int64_t)m->totals.spam + u->dspam);
	m->totals.ham = (uint32_t)((int64_t)m->totals.ham + u->dham);
	sig_key(u->sig, &k0, &k1);
	if (u->sig_class == BAYES_NONE) {
		s = table_find(&m->sig, k0, k1);
		if (s != NULL)
			table_remove(&m->sig, s);
	} else {
		s = table_upsert(&m->sig, k0, k1);
		s->a = (uint32_t)u->sig_class;
	}
	if (cb != NULL)
		cb(cbctx, 0);
	return 0;
}

static const bayes_store_ops_t mem_ops = {
	.read = mem_read,
	.sig_get = mem_sig_get,
	.apply = mem_apply,
};

/* --- lifetime ---------------------------------------------------------- */

int bayes_mem_create(size_t max_tokens, bayes_mem_t **m_r)
{
	bayes_mem_t *m;

	*m_r = NULL;
	if (max_tokens == 0)
		return SL_EINVAL;
	m = calloc(1, sizeof(*m));
	if (m == NULL)
		return SL_ENOMEM;
	m->max = max_tokens;
	if (table_init(&m->tok, 1024) != 0 || table_init(&m->sig, 64) != 0) {
		free(m->tok.s);
		free(m);
		return SL_ENOMEM;
	}
	*m_r = m;
	return 0;
}

void bayes_mem_destroy(bayes_mem_t **mp)
{
	bayes_mem_t *m = mp != NULL ? *mp : NULL;

	if (m == NULL)
		return;
	free(m->tok.s);
	free(m->sig.s);
	free(m);
	*mp = NULL;
}

bayes_store_t bayes_mem_store(bayes_mem_t *m)
{
	return (bayes_store_t){.ops = &mem_ops, .ctx = m};
}

void bayes_mem_size(const bayes_mem_t *m, size_t *tokens_r, size_t *sigs_r)
{
	*tokens_r = m->tok.n;
	*sigs_r = m->sig.n;
}
