/* rules - the Hyperscan rule engine of the content filter.
 *
 * A rule set is written in Sluice's rule language (docs/filter-rules.md):
 * header, body, rawbody, uri and full rules with a regular expression each,
 * meta rules over other rules, and score / describe / tflags lines. It is
 * compiled once into Hyperscan databases: one block-mode database per header
 * target (a header name, a group such as ToCc, or ALL), one for URIs, and
 * one streaming database each for body, rawbody and full, so a message is
 * matched chunk by chunk as it arrives. Patterns Hyperscan cannot take
 * (backreferences, lookaround, ...) are compiled with HS_FLAG_PREFILTER and
 * every candidate is confirmed with PCRE2.
 *
 * Three objects:
 *  - flt_ruleset_t: one compiled rule set; immutable and reference counted,
 *    so any number of threads may scan with it at once.
 *  - flt_rules_t: the live rule set of a process. A reload compiles a new
 *    set; if that fails the old one stays live and the error is returned.
 *  - flt_rscan_t: one scanner per thread (Hyperscan scratch, stream state,
 *    per-message counters). Fed by events that do not depend on any MIME
 *    parser: begin; header / body / rawbody / uri / full, in any order; end.
 *
 * GTUBE is built into every rule set (rule GTUBE, score 1000), whatever the
 * rule files say. */
#ifndef FLT_RULES_H
#define FLT_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sl_buf.h"

typedef struct flt_ruleset flt_ruleset_t;
typedef struct flt_rules flt_rules_t;
typedef struct flt_rscan flt_rscan_t;

/* Hard limits of the rule language; a file that passes one gets an error. */
#define FLT_RULES_MAX_RULES 20000
#define FLT_RULES_MAX_LINE 16384   /* bytes per line */
#define FLT_RULES_MAX_NAME 64      /* bytes per rule name */
#define FLT_RULES_MAX_FILE (8u << 20)
#define FLT_RULES_MAX_FILES 256    /* *.cf files per directory */
#define FLT_RULES_MAX_META_TOKENS 1024
#define FLT_RULES_MAX_SCORE 1000.0
#define FLT_RULES_GTUBE_SCORE 1000.0
#define FLT_RULES_MAX_CACHE_PATH 3800 /* bytes of a cache directory path */

/* Score sets, as SpamAssassin's: `score NAME a b` gives a rule the score A
 * for a message Bayes has no opinion on (no store, or one that has learned
 * too little) and B for one it has; `score NAME a` gives A in both. The
 * scan pipeline picks the set per message (filter.c); the rule engine
 * reports the sums of both. */
enum flt_scoreset {
	FLT_SET_NOBAYES = 0, /* set 0: Bayes has no opinion */
	FLT_SET_BAYES = 1,   /* set 1: a Bayes band (BAYES_xx) fired */
};

/* One source of rule text. NAME is used in error messages. */
typedef struct flt_rules_src {
	const char *name;
	const char *text; /* LEN bytes, no NUL needed; a NUL byte is an error */
	size_t len;
} flt_rules_src_t;

/* Compile flags. */
enum {
	/* Evaluate every pattern with PCRE2 only, no Hyperscan. Slow; it is the
	 * reference the Hyperscan path is tested against. */
	FLT_RULES_F_PCRE_ONLY = 1u << 0,
};

/* What kind a rule is (flt_ruleset_rule_info). */
enum flt_rule_type {
	FLT_RULE_HEADER,
	FLT_RULE_EXISTS,
	FLT_RULE_BODY,
	FLT_RULE_RAWBODY,
	FLT_RULE_URI,
	FLT_RULE_FULL,
	FLT_RULE_META,
	FLT_RULE_BUILTIN,
	FLT_RULE_EXTERNAL, /* scored outside the rule engine (the Bayes bands
			    * BAYES_*): declared by the rule set so that `score`
			    * and `describe` lines can set them, never hits in a
			    * scan, and a meta cannot use it */
};

typedef struct flt_rule_info {
	const char *name;     /* valid while the set is referenced */
	const char *describe; /* "" when none */
	const char *file;     /* where it was defined ("<builtin>") */
	unsigned line;
	enum flt_rule_type type;
	double score;        /* score set 0 (no Bayes opinion) */
	double score_bayes;  /* score set 1 (Bayes active); = score unless the
			      * score line gave two values */
	bool multiple;
	bool prefilter; /* at least one pattern needs PCRE2 confirmation */
} flt_rule_info_t;

typedef struct flt_ruleset_stats {
	size_t rules;         /* including the built-in ones */
	size_t patterns;      /* regular expressions */
	size_t prefilter;     /* of which Hyperscan prefilters + PCRE2 */
	size_t block_dbs;     /* header targets + uri */
	size_t stream_dbs;    /* body, rawbody, full (those that have patterns) */
	size_t db_bytes;      /* total size of the Hyperscan databases */
	size_t stream_bytes;  /* stream state per scanner */
	size_t dbs_cached;    /* databases read from the cache (flt_rules_set_cache) */
} flt_ruleset_stats_t;

/* flt_ruleset_compile - parse and compile the N sources as one rule set (a
 * rule in one may be used by a meta in another). Returns 0 with *SET_R
 * holding one reference, or SL_ECONFIG (a rule error; *error_r reads
 * "file:line: reason"), SL_ELIMIT (a limit above was passed, same form) or
 * SL_ENOMEM. The message lives until the next call from this thread. */
int flt_ruleset_compile(const flt_rules_src_t *srcs, size_t n, unsigned flags,
			flt_ruleset_t **set_r, const char **error_r);

/* flt_ruleset_load - the same, from PATHS: each a rule file, or a directory
 * whose *.cf files are read in name order. SL_EIO when one cannot be read
 * (the message names it). */
int flt_ruleset_load(const char *const *paths, size_t n, unsigned flags, flt_ruleset_t **set_r,
		     const char **error_r);

/* flt_ruleset_ref - take one more reference; returns SET. */
flt_ruleset_t *flt_ruleset_ref(flt_ruleset_t *set);
/* flt_ruleset_unref - drop a reference, free on the last; *SET_R = NULL. */
void flt_ruleset_unref(flt_ruleset_t **set_r);

void flt_ruleset_stats(const flt_ruleset_t *set, flt_ruleset_stats_t *stats_r);
/* flt_ruleset_rule_info - look a rule up by name: 0, or SL_ENOENT. */
int flt_ruleset_rule_info(const flt_ruleset_t *set, const char *name, flt_rule_info_t *info_r);
/* flt_ruleset_rule_at - the I-th rule (0 <= I < stats.rules): 0 or SL_ENOENT. */
int flt_ruleset_rule_at(const flt_ruleset_t *set, size_t i, flt_rule_info_t *info_r);

/* flt_rules_new - a live holder whose first set holds only the built-in
 * rules. 0 or SL_ENOMEM. */
int flt_rules_new(flt_rules_t **rules_r);
/* flt_rules_load / flt_rules_load_sources - compile a new set (as
 * flt_ruleset_load / _compile) and make it live. On any error the set that
 * was live stays live and the error is returned as there. Scanners pick up
 * the new set at their next flt_rscan_begin. Safe to call from any thread,
 * concurrently with scanning. */
int flt_rules_load(flt_rules_t *rules, const char *const *paths, size_t n, unsigned flags,
		   const char **error_r);
int flt_rules_load_sources(flt_rules_t *rules, const flt_rules_src_t *srcs, size_t n,
			   unsigned flags, const char **error_r);
/* flt_rules_set_cache - keep compiled Hyperscan databases in DIR (an
 * existing directory, at most FLT_RULES_MAX_CACHE_PATH bytes; NULL: no
 * cache) for this holder's later loads. A database whose patterns, flags,
 * Hyperscan version and CPU are unchanged is read back instead of compiled
 * (a cached rule set matches exactly as a compiled one); a file that is
 * missing, stale or damaged is compiled as if there were no cache, and
 * writing it is best effort: the cache never fails a load. Returns 0,
 * SL_EINVAL (empty or too long), SL_ENOENT (not a directory), SL_ENOMEM. */
int flt_rules_set_cache(flt_rules_t *rules, const char *dir);

/* flt_rules_current - a new reference to the live set (never NULL). */
flt_ruleset_t *flt_rules_current(flt_rules_t *rules);
/* flt_rules_generation - increases by one with every successful load. */
unsigned flt_rules_generation(const flt_rules_t *rules);
/* flt_rules_free - drop the holder's reference; *RULES_R = NULL. Scanners
 * must be freed first. */
void flt_rules_free(flt_rules_t **rules_r);

/* Per-scan limits of a scanner; zero fields take the defaults. */
typedef struct flt_rscan_limits {
	size_t retain_max;     /* bytes of each stream kept for PCRE2 confirmation
				* (default 1 MiB); candidates beyond it are
				* confirmed against the first retain_max bytes */
	size_t header_max;     /* bytes of one header value scanned (64 KiB) */
	size_t uri_max;        /* bytes of one URI scanned (8 KiB) */
	uint32_t pcre_match_limit; /* PCRE2 match limit per confirmation (1e6) */
} flt_rscan_limits_t;

typedef struct flt_rule_hit {
	const char *name;     /* valid until the next begin or free */
	const char *describe;
	double score;         /* from flt_rscan_end: the score in set 0; in a
			       * verdict (filter.h): in the set it used */
	double value;         /* hit count (multiple) or 1; a meta's value */
	double score_bayes;   /* the score in set 1 (Bayes active) */
} flt_rule_hit_t;

typedef struct flt_rules_result {
	const flt_rule_hit_t *hits; /* rules that hit, in rule set order; rules
				     * named __* are not listed */
	size_t nhits;
	double score;               /* sum of the scores of all hit rules, set 0
				     * (no Bayes opinion) */
	double score_bayes;         /* the same sum in set 1 (Bayes active) */
	unsigned generation;        /* of the rule set that was used */
	const flt_ruleset_t *set;   /* that rule set: valid until the next begin
				     * or free (for flt_ruleset_rule_info, e.g.
				     * the score of an external rule) */
	bool truncated;             /* a stream passed retain_max, or a header
				     * or URI passed its limit: the verdict is on
				     * the prefix that was kept */
	uint32_t pcre_errors;       /* confirmations that hit the match limit
				     * (counted as no match) */
} flt_rules_result_t;

/* flt_rscan_new - a scanner on RULES (which must outlive it). LIMITS may be
 * NULL. 0, SL_ENOMEM. Use one scanner per thread. */
int flt_rscan_new(flt_rules_t *rules, const flt_rscan_limits_t *limits, flt_rscan_t **scan_r);
/* flt_rscan_free - *SCAN_R = NULL; any open message is dropped. */
void flt_rscan_free(flt_rscan_t **scan_r);

/* flt_rscan_begin - start a message (dropping one that was not ended).
 * Picks up a reloaded rule set. 0, SL_ENOMEM. */
int flt_rscan_begin(flt_rscan_t *scan);
/* flt_rscan_header - one header field: NAME (without the colon), RAW the
 * unfolded value as it was on the wire, DECODED the value with RFC 2047
 * words decoded to UTF-8. 0, SL_ESTATE (no message open), SL_EIO (Hyperscan
 * failed; the message should be treated as not scanned). */
int flt_rscan_header(flt_rscan_t *scan, sl_slice_t name, sl_slice_t raw, sl_slice_t decoded);
/* flt_rscan_body - the next chunk of decoded text (UTF-8, HTML rendered to
 * text); all text parts form one stream (feed "\n\n" between parts).
 * Lines of a paragraph are joined with a space before matching, a blank
 * line becomes one "\n" (docs/filter-rules.md). Same returns. */
int flt_rscan_body(flt_rscan_t *scan, sl_slice_t chunk);
/* flt_rscan_rawbody - the next chunk of body text after transfer decoding,
 * before HTML rendering. Same returns. */
int flt_rscan_rawbody(flt_rscan_t *scan, sl_slice_t chunk);
/* flt_rscan_uri - one URI found in the message. Same returns. */
int flt_rscan_uri(flt_rscan_t *scan, sl_slice_t uri);
/* flt_rscan_full - the next chunk of the raw message, headers included.
 * Same returns. */
int flt_rscan_full(flt_rscan_t *scan, sl_slice_t chunk);
/* flt_rscan_end - finish the message: confirm prefilter candidates,
 * evaluate metas and scores. *RESULT_R stays valid until the next begin or
 * free. 0, SL_ESTATE, SL_EIO. */
int flt_rscan_end(flt_rscan_t *scan, const flt_rules_result_t **result_r);

#endif
