/* rules_compile - Hyperscan databases for a parsed rule set, the set's
 * lifetime, loading from files, and the live holder with its reload. */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "rules_private.h"
#include "sl_err.h"

#define RULES_ERR_MAX 1024
static __thread char rules_errbuf[RULES_ERR_MAX];

static void bdb_free(bdb_t *b)
{
	if (b->db != NULL)
		hs_free_database(b->db);
	free(b->pf);
	free(b->all);
	memset(b, 0, sizeof(*b));
}

void rules_set_destroy(flt_ruleset_t *set)
{
	if (set == NULL)
		return;
	for (size_t i = 0; i < set->nrules; i++) {
		rule_t *r = &set->rules[i];

		free(r->name);
		free(r->describe);
		free(r->hname);
		free(r->meta);
		if (r->meta_names != NULL) {
			free(r->meta_names[0]);
			free(r->meta_names);
		}
		free(r->pats);
	}
	free(set->rules);
	for (size_t i = 0; i < set->npats; i++) {
		free(set->pats[i].re);
		pcre2_code_free(set->pats[i].pcre);
	}
	free(set->pats);
	for (size_t i = 0; i < set->ntargets; i++) {
		free(set->targets[i].key);
		bdb_free(&set->targets[i].bdb);
	}
	free(set->targets);
	free(set->tg_sorted);
	bdb_free(&set->uri);
	for (size_t i = 0; i < NSTREAMS; i++)
		bdb_free(&set->streams[i]);
	for (size_t i = 0; i < set->nfiles; i++)
		free(set->files[i]);
	free(set->files);
	free(set->by_name);
	free(set->meta_order);
	free(set->exists);
	free(set);
}

/* Compile the N patterns IDS into B. A pattern Hyperscan rejects is retried
 * as a prefilter (its matches become candidates for PCRE2); one it rejects
 * even then fails the whole set with the rule's file and line. */
static int build_db(flt_ruleset_t *set, uint32_t *ids, size_t n, bool stream, bdb_t *b,
		    char *err, size_t errlen)
{
	const char **exprs = NULL;
	unsigned *flags = NULL, *hsids = NULL;
	hs_compile_error_t *cerr = NULL;
	char cpath[4096];
	bool cached;
	int rc = 0;

	b->all = ids;
	b->nall = n;
	b->pf = malloc((n ? n : 1) * sizeof(uint32_t));
	if (b->pf == NULL)
		return SL_ENOMEM;
	if (set->flags & FLT_RULES_F_PCRE_ONLY) {
		memcpy(b->pf, ids, n * sizeof(uint32_t));
		b->npf = n;
		return 0;
	}
	exprs = malloc(n * sizeof(*exprs));
	flags = malloc(n * sizeof(*flags));
	hsids = malloc(n * sizeof(*hsids));
	if (exprs == NULL || flags == NULL || hsids == NULL) {
		rc = SL_ENOMEM;
		goto out;
	}
	cached = set->cache_dir != NULL &&
		 rules_cache_path(set, ids, n, stream ? HS_MODE_STREAM : HS_MODE_BLOCK, cpath,
				  sizeof(cpath)) == 0;
	if (cached && rules_cache_load(set, cpath, ids, n, &b->db) == 0) {
		set->dbs_cached++;
		cached = false; /* nothing to store */
	}
	for (size_t attempt = 0; b->db == NULL && attempt <= n; attempt++) {
		unsigned mode = stream ? HS_MODE_STREAM : HS_MODE_BLOCK;
		hs_error_t hrc;
		pat_t *p;

		for (size_t i = 0; i < n; i++) {
			p = &set->pats[ids[i]];
			exprs[i] = p->re;
			flags[i] = p->hsflags;
			hsids[i] = ids[i];
			if (stream && (p->flags & PF_SOM))
				mode |= HS_MODE_SOM_HORIZON_LARGE;
		}
		hrc = hs_compile_multi(exprs, flags, hsids, (unsigned)n, mode, NULL, &b->db, &cerr);
		if (hrc == HS_SUCCESS)
			break;
		b->db = NULL;
		if (cerr == NULL || cerr->expression < 0 || (size_t)cerr->expression >= n) {
			snprintf(err, errlen, "rules: Hyperscan cannot build a database: %s",
				 cerr != NULL ? cerr->message : "unknown error");
			rc = SL_ECONFIG;
			goto out;
		}
		p = &set->pats[ids[cerr->expression]];
		if (p->flags & PF_PREFILTER) {
			const rule_t *r = &set->rules[p->rule];

			snprintf(err, errlen, "%s:%u: rule %s: pattern not supported: %s", r->file,
				 r->line, r->name, cerr->message);
			rc = SL_ECONFIG;
			goto out;
		}
		p->flags = (uint8_t)((p->flags | PF_PREFILTER) & ~PF_SOM);
		p->hsflags = (p->hsflags & ~(unsigned)HS_FLAG_SOM_LEFTMOST) | HS_FLAG_PREFILTER |
			     HS_FLAG_SINGLEMATCH;
		hs_free_compile_error(cerr);
		cerr = NULL;
	}
	if (b->db == NULL) {
		snprintf(err, errlen, "rules: Hyperscan compile did not converge");
		rc = SL_ECONFIG;
		goto out;
	}
	if (cached)
		(void)rules_cache_store(set, cpath, ids, n, b->db); /* best effort */
	for (size_t i = 0; i < n; i++) {
		pat_t *p = &set->pats[ids[i]];

		if (p->flags & PF_PREFILTER) {
			b->pf[b->npf++] = ids[i];
			set->rules[p->rule].prefilter = true;
			set->nprefilter++;
		}
	}
	{
		size_t sz = 0;

		if (hs_database_size(b->db, &sz) == HS_SUCCESS)
			set->db_bytes += sz;
		if (stream && hs_stream_size(b->db, &sz) == HS_SUCCESS)
			set->stream_bytes += sz;
	}
out:
	if (cerr != NULL)
		hs_free_compile_error(cerr);
	free(exprs);
	free(flags);
	free(hsids);
	return rc;
}

static int cmp_tg(const void *a, const void *b, void *arg)
{
	const flt_ruleset_t *set = arg;

	return strcmp(set->targets[*(const uint16_t *)a].key,
		      set->targets[*(const uint16_t *)b].key);
}

int rules_compile_dbs(flt_ruleset_t *set, char *err, size_t errlen)
{
	size_t nkinds = PK_COUNT;
	size_t *count = calloc(nkinds + set->ntargets, sizeof(size_t));
	uint32_t **lists = calloc(nkinds + set->ntargets, sizeof(uint32_t *));
	int rc = 0;

	if (count == NULL || lists == NULL) {
		rc = SL_ENOMEM;
		goto out;
	}
	/* Slot of a pattern: header patterns by target, others by kind. */
#define SLOT(p) ((p)->kind == PK_HEADER ? nkinds + (p)->target : (size_t)(p)->kind)
	for (size_t i = 0; i < set->npats; i++)
		count[SLOT(&set->pats[i])]++;
	for (size_t s = 0; s < nkinds + set->ntargets; s++) {
		lists[s] = malloc((count[s] ? count[s] : 1) * sizeof(uint32_t));
		if (lists[s] == NULL) {
			rc = SL_ENOMEM;
			goto out;
		}
		count[s] = 0;
	}
	for (size_t i = 0; i < set->npats; i++) {
		size_t s = SLOT(&set->pats[i]);

		lists[s][count[s]++] = (uint32_t)i;
	}
#undef SLOT
	set->tg_all = set->tg_tocc = -1;
	if (set->ntargets > 65535) {
		snprintf(err, errlen, "rules: too many header targets");
		rc = SL_ELIMIT;
		goto out;
	}
	set->tg_sorted = calloc(set->ntargets + 1, sizeof(uint16_t));
	if (set->tg_sorted == NULL) {
		rc = SL_ENOMEM;
		goto out;
	}
	for (size_t t = 0; t < set->ntargets; t++) {
		target_t *tg = &set->targets[t];

		if (tg->kind == TG_ALL)
			set->tg_all = (int)t;
		else if (tg->kind == TG_TOCC)
			set->tg_tocc = (int)t;
		else
			set->tg_sorted[set->ntg_sorted++] = (uint16_t)t;
		if (count[nkinds + t] == 0)
			continue; /* only exists: rules use it */
		rc = build_db(set, lists[nkinds + t], count[nkinds + t], false, &tg->bdb, err,
			      errlen);
		lists[nkinds + t] = NULL; /* owned by the bdb now */
		if (rc != 0)
			goto out;
	}
	qsort_r(set->tg_sorted, set->ntg_sorted, sizeof(uint16_t), cmp_tg, set);
	if (count[PK_URI] > 0) {
		rc = build_db(set, lists[PK_URI], count[PK_URI], false, &set->uri, err, errlen);
		lists[PK_URI] = NULL;
		if (rc != 0)
			goto out;
	}
	for (size_t k = PK_STREAM_FIRST; k < PK_COUNT; k++) {
		if (count[k] == 0)
			continue;
		rc = build_db(set, lists[k], count[k], true, &set->streams[k - PK_STREAM_FIRST], err,
			      errlen);
		lists[k] = NULL;
		if (rc != 0)
			goto out;
	}
out:
	if (rc == SL_ENOMEM)
		snprintf(err, errlen, "out of memory compiling rules");
	if (lists != NULL)
		for (size_t s = 0; s < nkinds + set->ntargets; s++)
			free(lists[s]);
	free(lists);
	free(count);
	return rc;
}

static int ruleset_compile(const flt_rules_src_t *srcs, size_t n, unsigned flags,
			   const char *cache_dir, flt_ruleset_t **set_r, const char **error_r)
{
	flt_ruleset_t *set = calloc(1, sizeof(*set));
	int rc;

	*set_r = NULL;
	rules_errbuf[0] = '\0';
	*error_r = rules_errbuf;
	if (set == NULL) {
		snprintf(rules_errbuf, sizeof(rules_errbuf), "out of memory compiling rules");
		return SL_ENOMEM;
	}
	atomic_init(&set->refs, 1);
	set->flags = flags;
	set->tg_all = set->tg_tocc = -1;
	set->cache_dir = cache_dir;
	rc = rules_parse(set, srcs, n, rules_errbuf, sizeof(rules_errbuf));
	if (rc == 0)
		rc = rules_compile_dbs(set, rules_errbuf, sizeof(rules_errbuf));
	set->cache_dir = NULL;
	if (rc != 0) {
		rules_set_destroy(set);
		return rc;
	}
	*set_r = set;
	return 0;
}

int flt_ruleset_compile(const flt_rules_src_t *srcs, size_t n, unsigned flags,
			flt_ruleset_t **set_r, const char **error_r)
{
	return ruleset_compile(srcs, n, flags, NULL, set_r, error_r);
}

static int read_file(const char *path, char **text_r, size_t *len_r)
{
	FILE *f = fopen(path, "rb");
	struct stat st;
	char *buf;
	size_t got;

	if (f == NULL) {
		snprintf(rules_errbuf, sizeof(rules_errbuf), "%s: cannot open: %s", path,
			 strerror(errno));
		return SL_EIO;
	}
	if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(rules_errbuf, sizeof(rules_errbuf), "%s: not a regular file", path);
		fclose(f);
		return SL_EIO;
	}
	if ((unsigned long long)st.st_size > FLT_RULES_MAX_FILE) {
		snprintf(rules_errbuf, sizeof(rules_errbuf), "%s: larger than %u bytes", path,
			 FLT_RULES_MAX_FILE);
		fclose(f);
		return SL_ELIMIT;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL) {
		fclose(f);
		return SL_ENOMEM;
	}
	got = fread(buf, 1, (size_t)st.st_size, f);
	if (got != (size_t)st.st_size || ferror(f)) {
		snprintf(rules_errbuf, sizeof(rules_errbuf), "%s: read error", path);
		free(buf);
		fclose(f);
		return SL_EIO;
	}
	fclose(f);
	*text_r = buf;
	*len_r = got;
	return 0;
}

static int cf_filter(const struct dirent *d)
{
	size_t l = strlen(d->d_name);

	return d->d_name[0] != '.' && l > 3 && strcmp(d->d_name + l - 3, ".cf") == 0;
}

typedef struct srclist {
	flt_rules_src_t *v;
	size_t n, cap;
} srclist_t;

static int srclist_add(srclist_t *l, const char *path)
{
	flt_rules_src_t *s;
	char *text, *name;
	size_t len;
	int rc;

	if (l->n >= FLT_RULES_MAX_FILES * 4) {
		snprintf(rules_errbuf, sizeof(rules_errbuf), "%s: too many rule files", path);
		return SL_ELIMIT;
	}
	if (l->n == l->cap) {
		size_t nc = l->cap ? l->cap * 2 : 16;

		s = realloc(l->v, nc * sizeof(*s));
		if (s == NULL)
			return SL_ENOMEM;
		l->v = s;
		l->cap = nc;
	}
	rc = read_file(path, &text, &len);
	if (rc != 0)
		return rc;
	name = strdup(path);
	if (name == NULL) {
		free(text);
		return SL_ENOMEM;
	}
	l->v[l->n++] = (flt_rules_src_t){name, text, len};
	return 0;
}

static int ruleset_load(const char *const *paths, size_t n, unsigned flags, const char *cache_dir,
			flt_ruleset_t **set_r, const char **error_r)
{
	srclist_t l = {0};
	int rc = 0;

	*set_r = NULL;
	rules_errbuf[0] = '\0';
	*error_r = rules_errbuf;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		struct stat st;

		if (stat(paths[i], &st) != 0) {
			snprintf(rules_errbuf, sizeof(rules_errbuf), "%s: cannot open: %s", paths[i],
				 strerror(errno));
			rc = SL_EIO;
		} else if (S_ISDIR(st.st_mode)) {
			struct dirent **ents = NULL;
			int ne = scandir(paths[i], &ents, cf_filter, alphasort);

			if (ne < 0) {
				snprintf(rules_errbuf, sizeof(rules_errbuf), "%s: cannot read: %s",
					 paths[i], strerror(errno));
				rc = SL_EIO;
				continue;
			}
			if (ne > FLT_RULES_MAX_FILES) {
				snprintf(rules_errbuf, sizeof(rules_errbuf),
					 "%s: more than %d rule files", paths[i],
					 FLT_RULES_MAX_FILES);
				rc = SL_ELIMIT;
			}
			for (int j = 0; j < ne; j++) {
				char p[4096];

				if (rc == 0) {
					if ((size_t)snprintf(p, sizeof(p), "%s/%s", paths[i],
							     ents[j]->d_name) >= sizeof(p)) {
						snprintf(rules_errbuf, sizeof(rules_errbuf),
							 "%s: path too long", paths[i]);
						rc = SL_ELIMIT;
					} else {
						rc = srclist_add(&l, p);
					}
				}
				free(ents[j]);
			}
			free(ents);
		} else {
			rc = srclist_add(&l, paths[i]);
		}
	}
	if (rc == 0)
		rc = ruleset_compile(l.v, l.n, flags, cache_dir, set_r, error_r);
	else if (rc == SL_ENOMEM)
		snprintf(rules_errbuf, sizeof(rules_errbuf), "out of memory reading rules");
	for (size_t i = 0; i < l.n; i++) {
		free((char *)l.v[i].name);
		free((char *)l.v[i].text);
	}
	free(l.v);
	return rc;
}

int flt_ruleset_load(const char *const *paths, size_t n, unsigned flags, flt_ruleset_t **set_r,
		     const char **error_r)
{
	return ruleset_load(paths, n, flags, NULL, set_r, error_r);
}

flt_ruleset_t *flt_ruleset_ref(flt_ruleset_t *set)
{
	atomic_fetch_add_explicit(&set->refs, 1, memory_order_relaxed);
	return set;
}

void flt_ruleset_unref(flt_ruleset_t **set_r)
{
	flt_ruleset_t *set = *set_r;

	*set_r = NULL;
	if (set != NULL && atomic_fetch_sub_explicit(&set->refs, 1, memory_order_acq_rel) == 1)
		rules_set_destroy(set);
}

void flt_ruleset_stats(const flt_ruleset_t *set, flt_ruleset_stats_t *st)
{
	memset(st, 0, sizeof(*st));
	st->rules = set->nrules;
	st->patterns = set->npats;
	st->prefilter = set->nprefilter;
	for (size_t t = 0; t < set->ntargets; t++)
		st->block_dbs += set->targets[t].bdb.db != NULL;
	st->block_dbs += set->uri.db != NULL;
	for (size_t k = 0; k < NSTREAMS; k++)
		st->stream_dbs += set->streams[k].db != NULL;
	st->db_bytes = set->db_bytes;
	st->stream_bytes = set->stream_bytes;
	st->dbs_cached = set->dbs_cached;
}

int flt_ruleset_rule_at(const flt_ruleset_t *set, size_t i, flt_rule_info_t *info)
{
	const rule_t *r;

	if (i >= set->nrules)
		return SL_ENOENT;
	r = &set->rules[i];
	info->name = r->name;
	info->describe = r->describe;
	info->file = r->file;
	info->line = r->line;
	info->type = r->type;
	info->score = r->score[FLT_SET_NOBAYES];
	info->score_bayes = r->score[FLT_SET_BAYES];
	info->multiple = r->multiple;
	info->prefilter = r->prefilter;
	return 0;
}

int flt_ruleset_rule_info(const flt_ruleset_t *set, const char *name, flt_rule_info_t *info)
{
	int idx = rules_find(set, name, strlen(name));

	return idx < 0 ? SL_ENOENT : flt_ruleset_rule_at(set, (size_t)idx, info);
}

struct flt_rules {
	pthread_mutex_t mu;
	flt_ruleset_t *cur;
	atomic_uint gen;
	char *cache_dir; /* NULL: compile every database */
};

int flt_rules_set_cache(flt_rules_t *rules, const char *dir)
{
	char *d = NULL;
	struct stat st;

	if (dir != NULL) {
		if (dir[0] == '\0' || strlen(dir) > FLT_RULES_MAX_CACHE_PATH)
			return SL_EINVAL;
		if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
			return SL_ENOENT;
		d = strdup(dir);
		if (d == NULL)
			return SL_ENOMEM;
	}
	pthread_mutex_lock(&rules->mu);
	free(rules->cache_dir);
	rules->cache_dir = d;
	pthread_mutex_unlock(&rules->mu);
	return 0;
}

/* A copy of the holder's cache directory, or NULL (none, or no memory:
 * the load then compiles everything). */
static char *rules_cache_dup(flt_rules_t *rules)
{
	char *d;

	pthread_mutex_lock(&rules->mu);
	d = rules->cache_dir != NULL ? strdup(rules->cache_dir) : NULL;
	pthread_mutex_unlock(&rules->mu);
	return d;
}

int flt_rules_new(flt_rules_t **rules_r)
{
	flt_rules_t *r = calloc(1, sizeof(*r));
	const char *err;
	int rc;

	*rules_r = NULL;
	if (r == NULL)
		return SL_ENOMEM;
	rc = flt_ruleset_compile(NULL, 0, 0, &r->cur, &err);
	if (rc != 0) {
		free(r);
		return rc;
	}
	pthread_mutex_init(&r->mu, NULL);
	atomic_init(&r->gen, 0);
	*rules_r = r;
	return 0;
}

static void rules_swap(flt_rules_t *rules, flt_ruleset_t *set)
{
	flt_ruleset_t *old;

	pthread_mutex_lock(&rules->mu);
	old = rules->cur;
	set->generation = atomic_load(&rules->gen) + 1;
	rules->cur = set;
	atomic_fetch_add(&rules->gen, 1);
	pthread_mutex_unlock(&rules->mu);
	flt_ruleset_unref(&old);
}

int flt_rules_load(flt_rules_t *rules, const char *const *paths, size_t n, unsigned flags,
		   const char **error_r)
{
	flt_ruleset_t *set;
	char *cache = rules_cache_dup(rules);
	int rc = ruleset_load(paths, n, flags, cache, &set, error_r);

	free(cache);
	if (rc == 0)
		rules_swap(rules, set);
	return rc;
}

int flt_rules_load_sources(flt_rules_t *rules, const flt_rules_src_t *srcs, size_t n,
			   unsigned flags, const char **error_r)
{
	flt_ruleset_t *set;
	char *cache = rules_cache_dup(rules);
	int rc = ruleset_compile(srcs, n, flags, cache, &set, error_r);

	free(cache);
	if (rc == 0)
		rules_swap(rules, set);
	return rc;
}

flt_ruleset_t *flt_rules_current(flt_rules_t *rules)
{
	flt_ruleset_t *s;

	pthread_mutex_lock(&rules->mu);
	s = flt_ruleset_ref(rules->cur);
	pthread_mutex_unlock(&rules->mu);
	return s;
}

unsigned flt_rules_generation(const flt_rules_t *rules)
{
	return atomic_load(&((flt_rules_t *)rules)->gen);
}

void flt_rules_free(flt_rules_t **rules_r)
{
	flt_rules_t *r = *rules_r;

	*rules_r = NULL;
	if (r == NULL)
		return;
	flt_ruleset_unref(&r->cur);
	pthread_mutex_destroy(&r->mu);
	free(r->cache_dir);
	free(r);
}
