/* filter - the scan pipeline: one object per thread that takes a raw
 * message in chunks, runs it through the streaming MIME parser, and feeds
 * the parser's events to the rule engine, the Bayes tokenizer and the virus
 * scanner; at the end it gives one verdict.
 *
 *   raw chunks ──► msg_parser ──► headers, text, decoded bodies, URLs
 *        │                           │        │         │        │
 *        └──► rules: full            ▼        ▼         ▼        ▼
 *                              rules+Bayes  rules  rules,AV,  rules+Bayes
 *                                          +Bayes  Bayes(html)
 *
 * Every leaf part's decoded body goes to the virus scanner (archives are
 * opened there); a virus, a blocked attachment or a limit decides the
 * verdict before any score does.
 *
 * Two objects. A filter (flt_filter_t) holds what is shared: the config,
 * the live rule set (flt_rules_t, reloadable), the virus database. A scan
 * (flt_scan_t) belongs to one thread: MIME parser, rule scanner (Hyperscan
 * scratch), Bayes tokenizer and classifier, virus scanner, and the verdict
 * of the last message. Nothing is allocated per message once a scan has
 * seen its first few messages.
 *
 * docs/filter.md describes the verdicts, the thresholds and the figures. */
#ifndef FLT_FILTER_H
#define FLT_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "av/flt_av.h"
#include "bayes/bayes.h"
#include "message/msg.h"
#include "rules/rules.h"
#include "sl_buf.h"

typedef struct flt_filter flt_filter_t;
typedef struct flt_scan flt_scan_t;

/* What to do with the message. */
enum flt_action {
	FLT_ACCEPT = 0,   /* deliver as is */
	FLT_TAG,          /* deliver with X-Spam-* headers (flt_verdict_headers) */
	FLT_QUARANTINE,   /* keep in the store's quarantine */
	FLT_REJECT,       /* refuse (5xx at end of data) */
};

/* What the message is. */
enum flt_class {
	FLT_HAM = 0,
	FLT_SPAM,         /* score >= spam_score */
	FLT_VIRUS,        /* a virus signature hit (virus names it) */
	FLT_POLICY,       /* attachment policy, or a MIME / archive limit */
};

typedef struct flt_config {
	double spam_score;       /* >= this: spam, tagged (default 5.0) */
	double quarantine_score; /* >= this: quarantined (default 10.0) */
	double reject_score;     /* >= this: rejected (default 15.0) */
	enum flt_action virus_action;  /* default FLT_REJECT */
	enum flt_action policy_action; /* default FLT_REJECT */
	bool bayes;              /* use Bayes when the scan has a store (true) */
	uint64_t max_message;    /* bytes scanned per message (default 64 MiB);
				  * the rest is not scanned and the verdict says
				  * truncated */
	size_t max_rules_text;   /* bytes of the joined rule names (4096) */
	size_t max_av_object;    /* decoded bytes of one part kept for the virus
				  * scanner (default 25 MiB); past it the part
				  * is scanned up to the limit (truncated) */
	msg_limits_t mime;       /* MIME parser limits (zero: its defaults) */
	flt_av_limits_t av;      /* archive limits (flt_av_limits_default) */
	flt_av_policy_t policy;  /* attachment policy (flt_av_policy_default) */
	flt_rscan_limits_t rules;/* rule scanner limits (zero: defaults) */
	bayes_tok_opts_t tok;    /* tokenizer (filled by flt_config_default) */
	bayes_opts_t bayes_opts; /* classifier (filled by flt_config_default) */
} flt_config_t;

/* One rule that hit: a rule of the rule set, or a Bayes pseudo-rule. */
typedef flt_rule_hit_t flt_hit_t;

typedef struct flt_verdict {
	enum flt_action action;
	enum flt_class cls;
	double score;            /* rules + Bayes, in score set `set` */
	double rules_score;      /* rules alone, same set */
	double learn_score;      /* rules alone in set 0, whatever set was used:
				  * what auto-learn looks at (bayes_autolearn_class;
				  * set 0 is fitted to be a verdict without Bayes,
				  * and Bayes must not teach itself) */
	unsigned set;            /* the score set used (enum flt_scoreset): 1
				  * (FLT_SET_BAYES) when a Bayes band fired, else
				  * 0; docs/filter-rules.md "Score sets" */
	const flt_hit_t *hits;   /* rule set order, then Bayes; .score in `set` */
	size_t nhits;
	const char *rules;       /* hit names joined with ',' ("" when none) */
	const char *virus;       /* virus or policy name ("" when none) */
	const char *reason;      /* one line for a log or a 5xx text */
	bool bayes_opinion;      /* false: no store, or too few learned */
	double bayes_prob;       /* 0..1 (0.5 without an opinion) */
	uint32_t anomalies;      /* MSG_ANOM_* of the message */
	uint32_t parts;          /* MIME parts seen */
	uint64_t size;           /* bytes fed */
	bool truncated;          /* a limit cut what was scanned */
} flt_verdict_t;

/* flt_config_default - fill C with the defaults above. */
void flt_config_default(flt_config_t *c);

/* flt_filter_new - a filter on RULES (borrowed: must outlive the filter;
 * reloads of RULES are picked up message by message) and the compiled virus
 * database AV (borrowed; NULL: the filter compiles an empty one, which
 * still detects EICAR). CONFIG is copied (NULL: defaults). 0, SL_EINVAL
 * (thresholds out of order: spam <= quarantine <= reject), SL_ENOMEM. */
int flt_filter_new(const flt_config_t *config, flt_rules_t *rules, const flt_av_db_t *av,
		   flt_filter_t **f_r);
/* flt_filter_free - *F_R = NULL. Every scan must be freed first. */
void flt_filter_free(flt_filter_t **f_r);
/* flt_filter_config - the filter's config (read-only). */
const flt_config_t *flt_filter_config(const flt_filter_t *f);

/* flt_scan_new - a scan for the calling thread. STORE is this thread's
 * view of the Bayes token store (copied; what it points to must outlive the
 * scan), or NULL for no Bayes. 0, SL_ENOMEM, SL_EIO (libmagic could not
 * load its database). */
int flt_scan_new(flt_filter_t *f, const bayes_store_t *store, flt_scan_t **s_r);
/* flt_scan_free - *S_R = NULL. */
void flt_scan_free(flt_scan_t **s_r);

/* flt_scan_begin - start a message (dropping one not ended). 0, SL_ENOMEM. */
int flt_scan_begin(flt_scan_t *s);
/* flt_scan_feed - the next LEN bytes of the raw message, split anywhere
 * (SMTP DATA/BDAT chunks as they arrive, dot-unstuffed). 0, SL_ESTATE (no
 * message open), SL_EIO (the matcher failed: treat as not scanned). Bad
 * input never fails a feed. */
int flt_scan_feed(flt_scan_t *s, const void *data, size_t len);
/* flt_scan_end - finish the message and decide. *V_R stays valid until the
 * next begin or free. 0, SL_ESTATE, SL_EIO, or the Bayes store's read
 * error (then the verdict is still given, without Bayes). */
int flt_scan_end(flt_scan_t *s, const flt_verdict_t **v_r);

/* flt_scan_learn - learn the last ended message as CLS (BAYES_SPAM or
 * BAYES_HAM) in the scan's store: as bayes_learn (1: already learned, 0:
 * started and CB will run, < 0: error; SL_ESTATE without a store or an
 * ended message). */
int flt_scan_learn(flt_scan_t *s, enum bayes_class cls, bayes_done_fn *cb, void *ctx);

/* flt_verdict_headers - append the tagging headers for V to OUT:
 * "X-Spam-Status: Yes|No, score=S required=R set=N\r\n" (N the score set,
 * 0 without a Bayes opinion, 1 with), "X-Spam-Score: S
 * (RULES)\r\n" and "X-Virus-Scanned: Sluice\r\n". 0 or SL_ELIMIT. */
int flt_verdict_headers(const flt_filter_t *f, const flt_verdict_t *v, sl_buf_t *out);

/* Names for logs and tools. */
const char *flt_action_str(enum flt_action a); /* accept tag quarantine reject */
const char *flt_class_str(enum flt_class c);   /* ham spam virus policy */

#endif
