/* rules_private - internals shared by the parser, compiler and scanner of
 * filter/rules/. Nothing outside this folder includes it. */
#ifndef FLT_RULES_PRIVATE_H
#define FLT_RULES_PRIVATE_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <hs/hs.h>
#include <pcre2.h>
#include <stdatomic.h>

#include "rules.h"

/* Where a pattern is matched. */
enum pat_kind {
	PK_HEADER, /* block mode, one database per header target */
	PK_URI,    /* block mode */
	PK_BODY,   /* streaming */
	PK_RAWBODY,
	PK_FULL,
	PK_COUNT
};
#define PK_STREAM_FIRST PK_BODY
#define NSTREAMS 3

enum {
	PF_PREFILTER = 1u << 0, /* Hyperscan prefilter; PCRE2 decides */
	PF_SOM = 1u << 1,       /* counted (multiple) with leftmost start */
};

typedef struct pat {
	uint32_t rule;     /* index into set->rules */
	uint8_t kind;      /* enum pat_kind */
	uint8_t flags;     /* PF_* */
	uint16_t target;   /* header target index (PK_HEADER) */
	unsigned hsflags;  /* what it was compiled with */
	char *re;          /* the expression text, NUL-terminated */
	pcre2_code *pcre;  /* always compiled (validation, confirmation) */
} pat_t;

/* A meta expression in reverse Polish notation. */
enum mop {
	MOP_NUM, MOP_RULE, MOP_NOT, MOP_NEG, MOP_AND, MOP_OR, MOP_ADD, MOP_SUB, MOP_MUL,
	MOP_DIV, MOP_GT, MOP_GE, MOP_LT, MOP_LE, MOP_EQ, MOP_NE
};
typedef struct mtok {
	uint8_t op;
	uint32_t rule; /* MOP_RULE */
	double num;    /* MOP_NUM */
} mtok_t;

typedef struct rule {
	char *name;
	char *describe;   /* never NULL */
	const char *file; /* points into set->files */
	unsigned line;
	enum flt_rule_type type;
	double score[2];    /* per score set: enum flt_scoreset */
	bool has_score;
	bool multiple;
	bool nocase;
	bool negate;        /* header !~ */
	bool prefilter;
	uint32_t maxhits;
	uint16_t target;    /* header target (HEADER, EXISTS) */
	char *hname;        /* EXISTS: lower-case header name */
	mtok_t *meta;       /* META: RPN */
	size_t nmeta;
	char **meta_names;  /* META: names before resolution */
	uint32_t *pats;     /* pattern indexes */
	size_t npats;
} rule_t;

/* A block-mode database and the patterns in it. */
typedef struct bdb {
	hs_database_t *db;   /* NULL in PCRE-only mode */
	uint32_t *pf;        /* patterns to confirm with PCRE2 after a scan (all
			      * of them in PCRE-only mode) */
	size_t npf;
	uint32_t *all;       /* every pattern in it */
	size_t nall;
} bdb_t;

/* A header target: a lower-case header name, or a group. */
enum { TG_NAME, TG_RAW, TG_ALL, TG_TOCC };
typedef struct target {
	char *key;    /* lower-case name; "" for groups */
	uint8_t kind; /* TG_* */
	bdb_t bdb;
} target_t;

struct flt_ruleset {
	atomic_uint refs;
	unsigned flags;      /* FLT_RULES_F_* */
	rule_t *rules;
	size_t nrules;
	uint32_t *by_name;   /* rule indexes sorted by name */
	uint32_t *meta_order; /* metas in evaluation order */
	size_t nmeta_order;
	uint32_t *exists;    /* EXISTS rules */
	size_t nexists;
	pat_t *pats;
	size_t npats;
	target_t *targets;   /* in order of first use */
	size_t ntargets;
	uint16_t *tg_sorted; /* TG_NAME and TG_RAW targets sorted by key */
	size_t ntg_sorted;
	int tg_all, tg_tocc; /* the group targets, -1 when unused */
	bdb_t uri;
	bdb_t streams[NSTREAMS]; /* body, rawbody, full */
	char **files;        /* file names used in messages */
	size_t nfiles;
	size_t db_bytes, stream_bytes, nprefilter;
	size_t dbs_cached;      /* databases read from the cache, not compiled */
	const char *cache_dir;  /* while compiling only: rules_cache.c, or NULL */
	unsigned generation;
};

/* Parser (rules_parse.c): fills SET's rules, patterns and targets from the
 * sources; the databases are built by rules_compile_dbs. */
int rules_parse(flt_ruleset_t *set, const flt_rules_src_t *srcs, size_t n, char *err,
		size_t errlen);
int rules_compile_dbs(flt_ruleset_t *set, char *err, size_t errlen);
void rules_set_destroy(flt_ruleset_t *set);
int rules_find(const flt_ruleset_t *set, const char *name, size_t len);

/* Database cache (rules_cache.c). rules_cache_path names the file of the
 * database of patterns IDS in MODE as they stand before compiling: 0, or
 * <0 when no name can be made (then there is no caching). rules_cache_load
 * reads it: 0 with *db_r and the patterns' compiled flags set, or <0 for a
 * miss (no file, or one that does not fit; nothing is changed).
 * rules_cache_store writes DB compiled from IDS: 0 or <0 (the cache is
 * best effort: the caller goes on either way). */
int rules_cache_path(const flt_ruleset_t *set, const uint32_t *ids, size_t n, unsigned mode,
		     char *path, size_t len);
int rules_cache_load(flt_ruleset_t *set, const char *path, const uint32_t *ids, size_t n,
		     hs_database_t **db_r);
int rules_cache_store(const flt_ruleset_t *set, const char *path, const uint32_t *ids, size_t n,
		      const hs_database_t *db);

#endif
