/* sluice-scan - the offline content filter (issue 5).
 *
 *   sluice-scan [options] scan PATH...          one line per message:
 *                                               path<TAB>verdict<TAB>score<TAB>rules
 *   sluice-scan [options] --db DIR learn spam|ham PATH...
 *   sluice-scan [options] rules                 what the rule set compiled to
 *
 * PATH is a message file, an mbox (a file whose first line starts "From "),
 * or a directory (its regular files, in name order, not recursive). Messages
 * in an mbox are named PATH:N (N from 1). verdict is ham, spam, virus or
 * policy.
 *
 * Options: --config FILE (filter section, docs/filter.md), --db DIR (the
 * Bayes token store, an LMDB store directory; without it no Bayes),
 * --rules PATH (repeatable; default conf/rules), --av DIR (ClamAV-format
 * signature files, docs/filter-av.md; EICAR is always built in), --cache DIR
 * (keep compiled Hyperscan databases in DIR, created if missing, so the next
 * start reads them instead of compiling), --jobs N (scan with N
 * threads, files spread over them; output stays in input order),
 * --scores (the rules column lists NAME:SCORE), --timing (messages/s and
 * MB/s on stderr). */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include "bayes_store.h"
#include "filter.h"
#include "sl_conf.h"
#include "sl_err.h"
#include "st.h"

#define MAX_RULE_PATHS 32
#define MAX_JOBS 64
#define LINE_MAX_BYTES (1u << 20)

typedef struct opts {
	const char *config;
	const char *db;
	const char *av;
	const char *cache;
	const char *rules[MAX_RULE_PATHS];
	unsigned nrules;
	unsigned jobs;
	bool timing;
	bool scores;
} opts_t;

/* The filter section of --config. */
typedef struct conf {
	sl_conf_strlist_t rules;
	char db[512];
	char spam[32], quarantine[32], reject[32];
	bool bayes;
	uint64_t max_message;
} conf_t;

static const sl_conf_field_t conf_filter_fields[] = {
	{"rules", SL_CONF_STRLIST, offsetof(conf_t, rules), .help = "rule files or directories"},
	{"db", SL_CONF_STRING, offsetof(conf_t, db), sizeof(((conf_t *)0)->db),
	 .help = "Bayes store directory"},
	{"spam_score", SL_CONF_STRING, offsetof(conf_t, spam), 32, .help = "spam (tag) threshold"},
	{"quarantine_score", SL_CONF_STRING, offsetof(conf_t, quarantine), 32,
	 .help = "quarantine threshold"},
	{"reject_score", SL_CONF_STRING, offsetof(conf_t, reject), 32, .help = "reject threshold"},
	{"bayes", SL_CONF_BOOL, offsetof(conf_t, bayes), .help = "use Bayes"},
	{"max_message", SL_CONF_SIZE, offsetof(conf_t, max_message), .min = 1024,
	 .max = 1ll << 32, .help = "bytes scanned per message"},
	{NULL},
};
static const sl_conf_section_t conf_filter = {"filter", conf_filter_fields};
static const sl_conf_field_t conf_root_fields[] = {
	{"filter", SL_CONF_SECTION, 0, .section = &conf_filter},
	{NULL},
};
static const sl_conf_section_t conf_root = {"", conf_root_fields};

static int parse_score(const char *text, double *out)
{
	char *e;
	double v;

	if (text[0] == '\0')
		return 0; /* not given: keep the default */
	errno = 0;
	v = strtod(text, &e);
	if (*e != '\0' || errno != 0 || !(v > -1000 && v < 1000))
		return SL_ECONFIG;
	*out = v;
	return 0;
}

/* --- Bayes store per thread -------------------------------------------- */

typedef struct bstore {
	st_client_t *c;
	st_reader_t *rd;
	bayes_st_t *bs;
	bayes_store_t ops;
} bstore_t;

static int bstore_open(st_store_t *st, bstore_t *b)
{
	memset(b, 0, sizeof(*b));
	if (st_client_create(st, 256, &b->c) != 0 || st_reader_create(st, &b->rd) != 0 ||
	    bayes_st_create(b->c, b->rd, &b->bs) != 0)
		return SL_ENOMEM;
	b->ops = bayes_st_store(b->bs);
	return 0;
}

static void bstore_close(bstore_t *b)
{
	if (b->bs != NULL) {
		while (bayes_st_inflight(b->bs) > 0)
			st_client_wait(b->c, 1000);
		bayes_st_destroy(&b->bs);
	}
	st_reader_destroy(&b->rd);
	st_client_destroy(&b->c);
}

/* --- Inputs -------------------------------------------------------------- */

typedef struct inputs {
	char **v;
	size_t n, cap;
} inputs_t;

static int inputs_add(inputs_t *in, const char *path)
{
	if (in->n == in->cap) {
		size_t nc = in->cap ? in->cap * 2 : 256;
		char **v = realloc(in->v, nc * sizeof(*v));

		if (v == NULL)
			return SL_ENOMEM;
		in->v = v;
		in->cap = nc;
	}
	in->v[in->n] = strdup(path);
	if (in->v[in->n] == NULL)
		return SL_ENOMEM;
	in->n++;
	return 0;
}

static int name_filter(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

static int inputs_expand(inputs_t *in, const char *path)
{
	struct stat st;
	struct dirent **ents;
	int n, rc = 0;

	if (stat(path, &st) != 0) {
		fprintf(stderr, "sluice-scan: %s: %s\n", path, strerror(errno));
		return SL_EIO;
	}
	if (!S_ISDIR(st.st_mode))
		return inputs_add(in, path);
	n = scandir(path, &ents, name_filter, alphasort);
	if (n < 0) {
		fprintf(stderr, "sluice-scan: %s: %s\n", path, strerror(errno));
		return SL_EIO;
	}
	for (int i = 0; i < n; i++) {
		char p[4096];
		struct stat est;

		if (rc == 0 && (size_t)snprintf(p, sizeof(p), "%s/%s", path, ents[i]->d_name) <
				       sizeof(p) &&
		    stat(p, &est) == 0 && S_ISREG(est.st_mode))
			rc = inputs_add(in, p);
		free(ents[i]);
	}
	free(ents);
	return rc;
}

/* --- One file: a message or an mbox ------------------------------------ */

typedef enum { MODE_SCAN, MODE_LEARN } mode_t_;

typedef struct worker {
	flt_filter_t *f;
	flt_scan_t *scan;
	bstore_t bs;
	bool has_bs;
	mode_t_ mode;
	enum bayes_class cls;
	bool scores;         /* rules column as NAME:SCORE */
	sl_buf_t out;        /* this file's output lines */
	uint64_t msgs, bytes, learned, already, errors;
} worker_t;

static void learn_done(void *ctx, int err)
{
	worker_t *w = ctx;

	if (err != 0)
		w->errors++;
}

static void finish_message(worker_t *w, const char *path, unsigned idx, bool mbox)
{
	const flt_verdict_t *v;
	int rc = flt_scan_end(w->scan, &v);
	char name[4200];

	if (mbox)
		snprintf(name, sizeof(name), "%s:%u", path, idx);
	else
		snprintf(name, sizeof(name), "%s", path);
	if (rc != 0) {
		/* a verdict is still given when only the Bayes read failed */
		fprintf(stderr, "sluice-scan: %s: %s\n", name, sl_strerror(rc));
		if (rc == SL_ESTATE || rc == SL_EIO || rc == SL_ENOMEM) {
			w->errors++;
			return;
		}
	}
	w->msgs++;
	w->bytes += v->size;
	if (w->mode == MODE_SCAN && w->scores) {
		sl_buf_printf(&w->out, "%s\t%s\t%.2f\t", name, flt_class_str(v->cls), v->score);
		for (size_t i = 0; i < v->nhits; i++)
			sl_buf_printf(&w->out, "%s%s:%g", i ? "," : "", v->hits[i].name,
				      v->hits[i].score);
		sl_buf_printf(&w->out, "\n");
		return;
	}
	if (w->mode == MODE_SCAN) {
		sl_buf_printf(&w->out, "%s\t%s\t%.2f\t%s\n", name, flt_class_str(v->cls), v->score,
			      v->rules);
		return;
	}
	for (;;) {
		rc = flt_scan_learn(w->scan, w->cls, learn_done, w);
		if (rc != SL_EAGAIN)
			break;
		st_client_wait(w->bs.c, 1000);
	}
	if (rc == 1)
		w->already++;
	else if (rc == 0)
		w->learned++;
	else {
		fprintf(stderr, "sluice-scan: %s: learn: %s\n", name, sl_strerror(rc));
		w->errors++;
	}
	st_client_poll(w->bs.c);
}

/* Feed PATH: one message, or an mbox split at "From " lines (mboxrd
 * quoting ">From " undone). Lines are fed one by one: no message is ever
 * held whole in memory. */
static int scan_file(worker_t *w, const char *path)
{
	FILE *fp = fopen(path, "rb");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	bool mbox = false, open_msg = false, prev_blank = true;
	unsigned idx = 0;
	size_t out0 = w->out.len;

	if (fp == NULL) {
		fprintf(stderr, "sluice-scan: %s: %s\n", path, strerror(errno));
		w->errors++;
		return SL_EIO;
	}
	while ((n = getline(&line, &cap, fp)) >= 0) {
		const char *p = line;
		size_t len = (size_t)n;

		if (idx == 0 && !open_msg && len >= 5 && memcmp(line, "From ", 5) == 0)
			mbox = true;
		if (mbox && prev_blank && len >= 5 && memcmp(line, "From ", 5) == 0) {
			if (open_msg)
				finish_message(w, path, idx, true);
			if (flt_scan_begin(w->scan) != 0)
				break;
			open_msg = true;
			idx++;
			prev_blank = false;
			continue;
		}
		if (!open_msg) {
			if (flt_scan_begin(w->scan) != 0)
				break;
			open_msg = true;
			idx++;
		}
		if (mbox && len > 5 && line[0] == '>') {
			size_t q = 0;

			while (q < len && line[q] == '>')
				q++;
			if (len - q >= 5 && memcmp(line + q, "From ", 5) == 0) {
				p++;
				len--;
			}
		}
		prev_blank = (len == 1 && p[0] == '\n') || (len == 2 && p[0] == '\r');
		if (flt_scan_feed(w->scan, p, len) != 0) {
			w->errors++;
			break;
		}
	}
	if (open_msg)
		finish_message(w, path, idx, mbox);
	/* An mbox of one message (a single message saved with its From_ line)
	 * is named by its path alone. */
	if (mbox && idx == 1 && w->mode == MODE_SCAN) {
		size_t pl = strlen(path), tail;

		if (w->out.len >= out0 + pl + 2 && memcmp(w->out.data + out0 + pl, ":1\t", 3) == 0) {
			tail = w->out.len - (out0 + pl + 2);
			memmove(w->out.data + out0 + pl, w->out.data + out0 + pl + 2, tail);
			w->out.len -= 2;
			w->out.data[w->out.len] = '\0';
		}
	}
	free(line);
	fclose(fp);
	return 0;
}

/* --- Threads ----------------------------------------------------------- */

typedef struct job {
	inputs_t *in;
	atomic_size_t next;
	sl_buf_t *outs;      /* one per input */
	flt_filter_t *f;
	st_store_t *st;
	mode_t_ mode;
	enum bayes_class cls;
	worker_t *workers;
	int rc;
} job_t;

typedef struct thr {
	job_t *job;
	worker_t *w;
} thr_t;

static void *thr_main(void *arg)
{
	thr_t *t = arg;
	job_t *j = t->job;
	worker_t *w = t->w;
	size_t i;

	while ((i = atomic_fetch_add(&j->next, 1)) < j->in->n) {
		sl_buf_init(&w->out, SIZE_MAX / 2);
		scan_file(w, j->in->v[i]);
		j->outs[i] = w->out;
	}
	return NULL;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: sluice-scan [--config FILE] [--db DIR] [--rules PATH]... [--av DIR] "
		   "[--cache DIR] [--jobs N] scan PATH...\n"
		   "       sluice-scan [--config FILE] --db DIR learn spam|ham PATH...\n"
		   "       sluice-scan [--config FILE] [--rules PATH]... rules\n");
}

/* User + system CPU seconds of the whole process (every thread). */
static double cpu_s(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0;
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{"config", required_argument, NULL, 'c'}, {"db", required_argument, NULL, 'd'},
		{"rules", required_argument, NULL, 'r'},  {"jobs", required_argument, NULL, 'j'},
		{"timing", no_argument, NULL, 't'},       {"help", no_argument, NULL, 'h'},
		{"scores", no_argument, NULL, 's'},       {"av", required_argument, NULL, 'a'},
		{"cache", required_argument, NULL, 'C'},  {NULL, 0, NULL, 0},
	};
	opts_t o = {.jobs = 1};
	conf_t conf = {.bayes = true};
	flt_config_t fc;
	flt_rules_t *rules = NULL;
	flt_filter_t *f = NULL;
	flt_av_db_t *av = NULL;
	st_store_t *st = NULL;
	inputs_t in = {0};
	job_t job = {0};
	const char *err = NULL, *cmd;
	int c, rc = 1;
	double t0, c0;

	while ((c = getopt_long(argc, argv, "+c:d:r:j:tsa:C:h", lopts, NULL)) != -1) {
		switch (c) {
		case 'c': o.config = optarg; break;
		case 'd': o.db = optarg; break;
		case 'r':
			if (o.nrules == MAX_RULE_PATHS) {
				fprintf(stderr, "sluice-scan: at most %d --rules\n", MAX_RULE_PATHS);
				return 2;
			}
			o.rules[o.nrules++] = optarg;
			break;
		case 'j': {
			char *e;
			unsigned long v = strtoul(optarg, &e, 10);

			if (*e != '\0' || v < 1 || v > MAX_JOBS) {
				fprintf(stderr, "sluice-scan: --jobs must be 1..%d\n", MAX_JOBS);
				return 2;
			}
			o.jobs = (unsigned)v;
			break;
		}
		case 't': o.timing = true; break;
		case 's': o.scores = true; break;
		case 'a': o.av = optarg; break;
		case 'C': o.cache = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	cmd = argv[optind++];

	flt_config_default(&fc);
	if (o.config != NULL) {
		if (sl_conf_load_file(o.config, &conf_root, &conf, &err) != 0) {
			fprintf(stderr, "sluice-scan: %s\n", err);
			return 2;
		}
		if (parse_score(conf.spam, &fc.spam_score) || parse_score(conf.quarantine, &fc.quarantine_score) ||
		    parse_score(conf.reject, &fc.reject_score)) {
			fprintf(stderr, "sluice-scan: %s: a score is not a number in -1000..1000\n",
				o.config);
			return 2;
		}
		fc.bayes = conf.bayes;
		if (conf.max_message != 0)
			fc.max_message = conf.max_message;
		if (o.db == NULL && conf.db[0] != '\0')
			o.db = conf.db;
		if (o.nrules == 0)
			for (unsigned i = 0; i < conf.rules.count && o.nrules < MAX_RULE_PATHS; i++)
				o.rules[o.nrules++] = conf.rules.items[i];
	}
	if (o.nrules == 0)
		o.rules[o.nrules++] = "conf/rules";

	if (flt_rules_new(&rules) != 0)
		goto out;
	if (o.cache != NULL) {
		if (mkdir(o.cache, 0755) != 0 && errno != EEXIST) {
			fprintf(stderr, "sluice-scan: %s: %s\n", o.cache, strerror(errno));
			rc = 2;
			goto out;
		}
		c = flt_rules_set_cache(rules, o.cache);
		if (c != 0) {
			fprintf(stderr, "sluice-scan: --cache %s: %s\n", o.cache, sl_strerror(c));
			rc = 2;
			goto out;
		}
	}
	if (flt_rules_load(rules, o.rules, o.nrules, 0, &err) != 0) {
		fprintf(stderr, "sluice-scan: %s\n", err);
		goto out;
	}
	if (strcmp(cmd, "rules") == 0) {
		flt_ruleset_t *set = flt_rules_current(rules);
		flt_ruleset_stats_t s;

		flt_ruleset_stats(set, &s);
		printf("rules\t%zu\npatterns\t%zu\nprefilter\t%zu\nblock_dbs\t%zu\nstream_dbs\t%zu\n"
		       "db_bytes\t%zu\nstream_bytes\t%zu\ndbs_cached\t%zu\n",
		       s.rules, s.patterns, s.prefilter, s.block_dbs, s.stream_dbs, s.db_bytes,
		       s.stream_bytes, s.dbs_cached);
		for (size_t i = 0; i < s.rules; i++) {
			flt_rule_info_t ri;

			if (flt_ruleset_rule_at(set, i, &ri) == 0 && ri.prefilter)
				printf("prefilter_rule\t%s\t%s:%u\n", ri.name, ri.file, ri.line);
		}
		flt_ruleset_unref(&set);
		rc = 0;
		goto out;
	}
	if (strcmp(cmd, "scan") == 0) {
		job.mode = MODE_SCAN;
	} else if (strcmp(cmd, "learn") == 0) {
		if (optind >= argc ||
		    (strcmp(argv[optind], "spam") != 0 && strcmp(argv[optind], "ham") != 0)) {
			usage(stderr);
			rc = 2;
			goto out;
		}
		job.mode = MODE_LEARN;
		job.cls = strcmp(argv[optind++], "spam") == 0 ? BAYES_SPAM : BAYES_HAM;
		if (o.db == NULL) {
			fprintf(stderr, "sluice-scan: learn needs --db DIR\n");
			rc = 2;
			goto out;
		}
		o.jobs = 1; /* learn from one thread per store (bayes.h) */
	} else {
		usage(stderr);
		rc = 2;
		goto out;
	}
	for (int i = optind; i < argc; i++)
		if (inputs_expand(&in, argv[i]) != 0)
			goto out;
	if (o.db != NULL) {
		st_store_opts_t so;

		st_store_opts_default(&so);
		so.path = o.db;
		if (st_store_open(&so, &st, &err) != 0) {
			fprintf(stderr, "sluice-scan: %s: %s\n", o.db, err ? err : "cannot open");
			goto out;
		}
	}
	if (o.av != NULL) {
		if (flt_av_db_new(&av) != 0 || flt_av_db_load_dir(av, o.av, &err) != 0 ||
		    flt_av_db_compile(av, &err) != 0) {
			fprintf(stderr, "sluice-scan: %s: %s\n", o.av, err ? err : "out of memory");
			goto out;
		}
	}
	if (flt_filter_new(&fc, rules, av, &f) != 0) {
		fprintf(stderr, "sluice-scan: thresholds must be spam <= quarantine <= reject\n");
		goto out;
	}
	job.in = &in;
	job.f = f;
	job.st = st;
	job.outs = calloc(in.n ? in.n : 1, sizeof(sl_buf_t));
	job.workers = calloc(o.jobs, sizeof(worker_t));
	if (job.outs == NULL || job.workers == NULL)
		goto out;
	atomic_init(&job.next, 0);
	for (unsigned i = 0; i < o.jobs; i++) {
		worker_t *w = &job.workers[i];

		w->f = f;
		w->mode = job.mode;
		w->cls = job.cls;
		w->scores = o.scores;
		if (st != NULL) {
			if (bstore_open(st, &w->bs) != 0)
				goto out;
			w->has_bs = true;
		}
		if (flt_scan_new(f, w->has_bs ? &w->bs.ops : NULL, &w->scan) != 0)
			goto out;
	}
	t0 = now_s();
	c0 = cpu_s();
	{
		pthread_t th[MAX_JOBS];
		thr_t ta[MAX_JOBS];

		for (unsigned i = 0; i < o.jobs; i++) {
			ta[i] = (thr_t){&job, &job.workers[i]};
			if (o.jobs == 1)
				thr_main(&ta[i]);
			else if (pthread_create(&th[i], NULL, thr_main, &ta[i]) != 0)
				goto out;
		}
		for (unsigned i = 0; o.jobs > 1 && i < o.jobs; i++)
			pthread_join(th[i], NULL);
	}
	for (size_t i = 0; i < in.n; i++) {
		if (job.outs[i].len)
			fwrite(job.outs[i].data, 1, job.outs[i].len, stdout);
		sl_buf_free(&job.outs[i]);
	}
	{
		uint64_t msgs = 0, bytes = 0, learned = 0, already = 0, errors = 0;
		double dt = now_s() - t0, dc = cpu_s() - c0;

		for (unsigned i = 0; i < o.jobs; i++) {
			worker_t *w = &job.workers[i];

			if (w->has_bs)
				while (bayes_st_inflight(w->bs.bs) > 0)
					st_client_wait(w->bs.c, 1000);
			msgs += w->msgs;
			bytes += w->bytes;
			learned += w->learned;
			already += w->already;
			errors += w->errors;
		}
		if (job.mode == MODE_LEARN)
			fprintf(stderr, "sluice-scan: learned %llu as %s, %llu already known, %llu errors\n",
				(unsigned long long)learned, job.cls == BAYES_SPAM ? "spam" : "ham",
				(unsigned long long)already, (unsigned long long)errors);
		if (o.timing)
			fprintf(stderr,
				"sluice-scan: %llu messages, %llu bytes in %.3f s: %.1f msg/s, %.2f MB/s "
				"(%u jobs); %.3f CPU s: %.1f msg per CPU s (start-up not counted)\n",
				(unsigned long long)msgs, (unsigned long long)bytes, dt,
				dt > 0 ? (double)msgs / dt : 0, dt > 0 ? (double)bytes / dt / 1e6 : 0,
				o.jobs, dc, dc > 0 ? (double)msgs / dc : 0);
		rc = errors ? 1 : 0;
	}
out:
	if (job.workers != NULL) {
		for (unsigned i = 0; i < o.jobs; i++) {
			flt_scan_free(&job.workers[i].scan);
			if (job.workers[i].has_bs)
				bstore_close(&job.workers[i].bs);
		}
		free(job.workers);
	}
	free(job.outs);
	for (size_t i = 0; i < in.n; i++)
		free(in.v[i]);
	free(in.v);
	flt_filter_free(&f);
	flt_av_db_free(&av);
	st_store_close(&st);
	flt_rules_free(&rules);
	sl_conf_strlist_free(&conf.rules);
	return rc;
}
