/* bayes_classify - Robinson's token probabilities, Fisher's chi-square
 * combining, learning exactly once, and the mapping to pseudo-rules.
 *
 * The method is Gary Robinson's ("A Statistical Approach to the Spam
 * Problem", Linux Journal 2003) as SpamBayes, bogofilter and SpamAssassin
 * use it; docs/filter-bayes.md works through the formulas. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bayes.h"
#include "sl_err.h"

typedef struct clue {
	double f;
	double dev; /* |f - 0.5| */
} clue_t;

struct bayes {
	bayes_opts_t o;
	bayes_store_t store;
	bayes_counts_t *counts; /* scratch, cap entries */
	clue_t *clues;
	double *fv;
	size_t cap;
};

/* --- The math ---------------------------------------------------------- */

double bayes_token_prob(double s, double x, uint32_t spam, uint32_t ham, uint32_t nspam,
			uint32_t nham)
{
	double n = (double)spam + (double)ham, rs, rh, p;

	if (n == 0 || nspam == 0 || nham == 0)
		return x;
	rs = (double)spam / nspam;
	rh = (double)ham / nham;
	if (rs > 1)
		rs = 1;
	if (rh > 1)
		rh = 1;
	p = rs / (rs + rh);
	return (s * x + n * p) / (s + n);
}

double bayes_chi2q(double x2, unsigned v)
{
	double m, lterm, lsum;

	if (v == 0 || (v & 1))
		return NAN;
	if (!(x2 > 0))
		return 1.0;
	/* Q(x2 | 2k) = e^-m * sum_{i<k} m^i / i!  with m = x2 / 2; summed in
	   the log domain so that e^-m cannot underflow before the sum grows. */
	m = x2 / 2;
	lterm = -m;
	lsum = lterm;
	for (unsigned i = 1; i < v / 2; i++) {
		lterm += log(m / i);
		if (lterm > lsum)
			lsum = lterm + log1p(exp(lsum - lterm));
		else
			lsum = lsum + log1p(exp(lterm - lsum));
	}
	return lsum >= 0 ? 1.0 : exp(lsum);
}

double bayes_fisher(const double *f, size_t n, double *s_r, double *h_r)
{
	double ls = 0, lh = 0, s, h;

	if (n == 0) {
		if (s_r != NULL)
			*s_r = 0;
		if (h_r != NULL)
			*h_r = 0;
		return 0.5;
	}
	for (size_t i = 0; i < n; i++) {
		ls += log1p(-f[i]); /* ln(1 - f) */
		lh += log(f[i]);
	}
	s = 1.0 - bayes_chi2q(-2.0 * ls, (unsigned)(2 * n));
	h = 1.0 - bayes_chi2q(-2.0 * lh, (unsigned)(2 * n));
	if (s_r != NULL)
		*s_r = s;
	if (h_r != NULL)
		*h_r = h;
	return (1.0 + s - h) / 2.0;
}

/* --- Classifier -------------------------------------------------------- */

void bayes_opts_default(bayes_opts_t *o)
{
	o->s = 1.0;
	o->x = 0.5;
	o->min_dev = 0.1;
	o->max_clues = 150;
	o->min_spam = 200;
	o->min_ham = 200;
	o->max_ids = 1u << 20;
}

int bayes_create(const bayes_opts_t *o, bayes_store_t store, bayes_t **b_r)
{
	bayes_t *b;

	*b_r = NULL;
	if (store.ops == NULL || store.ops->read == NULL || store.ops->sig_get == NULL ||
	    store.ops->apply == NULL)
		return SL_EINVAL;
	b = calloc(1, sizeof(*b));
	if (b == NULL)
		return SL_ENOMEM;
	if (o != NULL)
		b->o = *o;
	else
		bayes_opts_default(&b->o);
	if (!(b->o.s > 0) || !(b->o.x > 0 && b->o.x < 1) ||
	    !(b->o.min_dev >= 0 && b->o.min_dev < 0.5) || b->o.max_clues == 0 ||
	    b->o.max_ids == 0) {
		free(b);
		return SL_EINVAL;
	}
	b->store = store;
	*b_r = b;
	return 0;
}

void bayes_destroy(bayes_t **bp)
{
	bayes_t *b = bp != NULL ? *bp : NULL;

	if (b == NULL)
		return;
	free(b->counts);
	free(b->clues);
	free(b->fv);
	free(b);
	*bp = NULL;
}

static int scratch(bayes_t *b, size_t n)
{
	size_t cap = b->cap ? b->cap : 1024;
	bayes_counts_t *c;
	clue_t *k;
	double *fv;

	if (n > b->o.max_ids)
		return SL_ELIMIT;
	if (n <= b->cap)
		return 0;
	while (cap < n)
		cap *= 2;
	if (cap > b->o.max_ids)
		cap = b->o.max_ids;
	c = realloc(b->counts, cap * sizeof(*c));
	if (c == NULL)
		return SL_ENOMEM;
	b->counts = c;
	k = realloc(b->clues, cap * sizeof(*k));
	if (k == NULL)
		return SL_ENOMEM;
	b->clues = k;
	fv = realloc(b->fv, cap * sizeof(*fv));
	if (fv == NULL)
		return SL_ENOMEM;
	b->fv = fv;
	b->cap = cap;
	return 0;
}

/* Most deviant first; ties broken by f so that the order is total and the
 * result does not depend on the sort's stability. */
static int cmp_clue(const void *a, const void *b)
{
	const clue_t *x = a, *y = b;

	if (x->dev != y->dev)
		return x->dev > y->dev ? -1 : 1;
	return x->f < y->f ? -1 : x->f > y->f;
}

int bayes_classify(bayes_t *b, const bayes_msg_t *m, bayes_result_t *r_r)
{
	bayes_counts_t tot = {0, 0};
	size_t nc = 0, known = 0, use;
	int rc;

	memset(r_r, 0, sizeof(*r_r));
	r_r->prob = 0.5;
	rc = scratch(b, m->n);
	if (rc != 0)
		return rc;
	rc = b->store.ops->read(b->store.ctx, m->ids, m->n, b->counts, &tot);
	if (rc != 0)
		return rc;
	r_r->totals = tot;
	if (tot.spam < b->o.min_spam || tot.ham < b->o.min_ham || tot.spam == 0 ||
	    tot.ham == 0)
		return 0;
	r_r->opinion = true;
	for (size_t i = 0; i < m->n; i++) {
		const bayes_counts_t *c = &b->counts[i];
		double p, dev;

		if (c->spam == 0 && c->ham == 0)
			continue;
		known++;
		p = bayes_token_prob(b->o.s, b->o.x, c->spam, c->ham, tot.spam, tot.ham);
		dev = fabs(p - 0.5);
		if (dev < b->o.min_dev)
			continue;
		b->clues[nc].f = p;
		b->clues[nc].dev = dev;
		nc++;
	}
	r_r->known = known;
	use = nc;
	if (use > b->o.max_clues) {
		qsort(b->clues, nc, sizeof(*b->clues), cmp_clue);
		use = b->o.max_clues;
	}
	for (size_t i = 0; i < use; i++)
		b->fv[i] = b->clues[i].f;
	r_r->prob = bayes_fisher(b->fv, use, &r_r->spamminess, &r_r->hamminess);
	r_r->clues = (unsigned)use;
	return 0;
}

/* One learn or unlearn: from class OLD to class NEW. */
static int relearn(bayes_t *b, const bayes_msg_t *m, enum bayes_class old,
		   enum bayes_class cls, bayes_done_fn *cb, void *ctx)
{
	bayes_update_t u = {.ids = m->ids, .n_ids = m->n, .sig = m->sig, .sig_class = cls};
	bayes_counts_t tot;
	int rc;

	if (m->n > b->o.max_ids)
		return SL_ELIMIT;
	u.dspam = (cls == BAYES_SPAM) - (old == BAYES_SPAM);
	u.dham = (cls == BAYES_HAM) - (old == BAYES_HAM);
	rc = b->store.ops->read(b->store.ctx, NULL, 0, NULL, &tot);
	if (rc != 0)
		return rc;
	/* Totals bound every token count, so checking them is enough. */
	if ((u.dspam > 0 && tot.spam >= BAYES_COUNT_MAX) ||
	    (u.dham > 0 && tot.ham >= BAYES_COUNT_MAX))
		return SL_ELIMIT;
	return b->store.ops->apply(b->store.ctx, &u, cb, ctx);
}

int bayes_learn(bayes_t *b, const bayes_msg_t *m, enum bayes_class cls, bayes_done_fn *cb,
		void *ctx)
{
	enum bayes_class old = BAYES_NONE;
	int rc;

	if (cls != BAYES_SPAM && cls != BAYES_HAM)
		return SL_EINVAL;
	rc = b->store.ops->sig_get(b->store.ctx, m->sig, &old);
	if (rc != 0)
		return rc;
	if (old == cls)
		return 1;
	return relearn(b, m, old, cls, cb, ctx);
}

int bayes_unlearn(bayes_t *b, const bayes_msg_t *m, bayes_done_fn *cb, void *ctx)
{
	enum bayes_class old = BAYES_NONE;
	int rc;

	rc = b->store.ops->sig_get(b->store.ctx, m->sig, &old);
	if (rc != 0)
		return rc;
	if (old == BAYES_NONE)
		return 1;
	return relearn(b, m, old, BAYES_NONE, cb, ctx);
}

/* --- Pseudo-rules ------------------------------------------------------ */

/* Sluice's own scores. The bands follow the classifier's calibration on the
 * training groups (docs/filter-bayes.md): below 0.2 nearly all ham, above
 * 0.99 nearly all spam, and the middle rarely reached. The 0.99 band alone
 * stays under the default reject threshold, so Bayes cannot reject a mail
 * without one rule agreeing. */
const bayes_rule_t bayes_rules[] = {
	{"BAYES_00", 0.00, 0.01, -2.0, "Bayes spam probability is 0 to 1%"},
	{"BAYES_05", 0.01, 0.05, -1.0, "Bayes spam probability is 1 to 5%"},
	{"BAYES_20", 0.05, 0.20, -0.4, "Bayes spam probability is 5 to 20%"},
	{"BAYES_40", 0.20, 0.40, -0.1, "Bayes spam probability is 20 to 40%"},
	{"BAYES_50", 0.40, 0.60, 0.5, "Bayes spam probability is 40 to 60%"},
	{"BAYES_60", 0.60, 0.80, 1.2, "Bayes spam probability is 60 to 80%"},
	{"BAYES_80", 0.80, 0.95, 2.0, "Bayes spam probability is 80 to 95%"},
	{"BAYES_95", 0.95, 0.99, 3.0, "Bayes spam probability is 95 to 99%"},
	{"BAYES_99", 0.99, 1.00, 3.5, "Bayes spam probability is 99 to 100%"},
	{"BAYES_999", 0.999, 1.00, 1.0, "Bayes spam probability is 99.9 to 100%"},
};
const unsigned bayes_rules_n = sizeof(bayes_rules) / sizeof(bayes_rules[0]);

unsigned bayes_rules_match(const bayes_result_t *r, const bayes_rule_t *out[2])
{
	unsigned n = 0;
	double p = r->prob;

	if (!r->opinion || !(p >= 0 && p <= 1))
		return 0;
	for (unsigned i = 0; i + 1 < bayes_rules_n; i++) {
		const bayes_rule_t *x = &bayes_rules[i];

		if (p >= x->lo && (p < x->hi || (x->hi == 1.0 && p <= 1.0))) {
			out[n++] = x;
			break;
		}
	}
	if (p >= bayes_rules[bayes_rules_n - 1].lo)
		out[n++] = &bayes_rules[bayes_rules_n - 1];
	return n;
}

/* --- Auto-learn -------------------------------------------------------- */

void bayes_autolearn_default(bayes_autolearn_t *a)
{
	a->enabled = true;
	a->spam_min = 12.0;
	a->ham_max = 0.1;
}

enum bayes_class bayes_autolearn_class(const bayes_autolearn_t *a, double score)
{
	if (!a->enabled || isnan(score))
		return BAYES_NONE;
	if (score >= a->spam_min)
		return BAYES_SPAM;
	if (score <= a->ham_max)
		return BAYES_HAM;
	return BAYES_NONE;
}
