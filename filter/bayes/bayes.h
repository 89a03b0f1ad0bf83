/* bayes - the Bayes spam classifier: tokenizer, Robinson/Fisher scoring,
 * learning, and the storage interface it runs on.
 *
 * docs/filter-bayes.md explains the tokens, the math and the numbers.
 *
 * Pieces
 * ------
 * bayes_tok_t    turns the events of one message (decoded headers, decoded
 *                body text in UTF-8 chunks, URLs) into a deduplicated set of
 *                64-bit token ids (SipHash-2-4 of the token text) and a
 *                128-bit signature of that set. It knows nothing of MIME: a
 *                thin adapter feeds it from the MIME parser's events.
 * bayes_store_t  a small ops table over the token counts: batch lookup,
 *                apply a learn/unlearn delta, look up a message signature.
 *                bayes_mem_t implements it in memory (tests, the offline
 *                tool); mta/bayes_store.h implements it on the LMDB store.
 * bayes_t        the classifier: scores a token set against a store, and
 *                learns or unlearns a message exactly once.
 *
 * Threads: every handle belongs to one thread. A store implementation may be
 * shared only if it says so (bayes_mem_t does not).
 */
#ifndef BAYES_H
#define BAYES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sl_buf.h"

/* --- Tokenizer --------------------------------------------------------- */

#define BAYES_SIG_LEN 16          /* bytes of a message signature */
#define BAYES_WORD_MAX 40         /* bytes of one word; longer: "sk:" token */
#define BAYES_TOKEN_TEXT_MAX 128  /* bytes of any token text (prefix, bigram) */

typedef struct bayes_tok_opts {
	uint64_t key[2];          /* SipHash key; changing it orphans every
				     learned token (default: a fixed key) */
	unsigned min_word;        /* shortest word kept, in bytes (default 2;
				     1..BAYES_WORD_MAX) */
	unsigned max_word;        /* longest word kept as is, in bytes (default
				     BAYES_WORD_MAX; min_word..BAYES_WORD_MAX) */
	unsigned max_tokens;      /* unique tokens per message; later new tokens
				     are dropped and counted (default 16384;
				     16..1<<20) */
	size_t max_body;          /* body text bytes read per message; the rest
				     is skipped and counted (default 512 KiB) */
	size_t max_header_value;  /* bytes of one header value read (default
				     4096) */
	unsigned max_bigrams;     /* body bigrams per message: the first word
				     pairs (default 64; 0: none) */
	unsigned max_html;        /* HTML markup tokens per message: the first
				     ones (default 16; 0: none) */
	/* Debugging and tests: called with the text of each new (not yet seen
	   in this message) token, before it is hashed. NULL: off. */
	void (*trace)(void *ctx, sl_slice_t text);
	void *trace_ctx;
} bayes_tok_opts_t;

/* The result of tokenizing one message: valid until the next
 * bayes_tok_reset or bayes_tok_destroy of the tokenizer that made it. */
typedef struct bayes_msg {
	const uint64_t *ids;      /* unique token ids, ascending, never 0 */
	size_t n;
	uint8_t sig[BAYES_SIG_LEN]; /* SipHash-2-4 of the sorted ids under two
				       derived keys: equal sets, equal sig */
} bayes_msg_t;

typedef struct bayes_tok_stats {
	size_t tokens;            /* unique tokens kept */
	size_t dropped;           /* new tokens refused by max_tokens */
	size_t body_bytes;        /* body text bytes read */
	size_t body_skipped;      /* body text bytes past max_body */
	size_t long_words;        /* words summarized as "sk:" tokens */
	size_t bigrams;           /* body bigrams emitted (before dedup) */
} bayes_tok_stats_t;

typedef struct bayes_tok bayes_tok_t;

/* bayes_tok_opts_default - fill O with the defaults above. */
void bayes_tok_opts_default(bayes_tok_opts_t *o);

/* bayes_tok_create - a tokenizer with options O (copied; NULL: defaults).
 * Allocates its token set once (about 24 bytes x max_tokens x 2). Returns
 * 0 and *T_R, SL_EINVAL (an option out of range) or SL_ENOMEM. */
int bayes_tok_create(const bayes_tok_opts_t *o, bayes_tok_t **t_r);

/* bayes_tok_destroy - free; *T = NULL; NULL or *T == NULL is a no-op. */
void bayes_tok_destroy(bayes_tok_t **t);

/* bayes_tok_reset - forget the current message and start a new one. */
void bayes_tok_reset(bayes_tok_t *t);

/* bayes_tok_header - one header field: NAME without the colon, VALUE
 * decoded (RFC 2047 words already in UTF-8) and unfolded. Every header
 * yields "h:<name>"; Subject, From, To, Cc, Reply-To, Return-Path, Sender,
 * Received, Message-ID, X-Mailer, User-Agent, Content-Type,
 * Content-Transfer-Encoding, Content-Disposition yield prefixed tokens (see
 * docs). Only the first max_header_value bytes of VALUE are read. Returns 0,
 * or SL_ESTATE after bayes_tok_finish. */
int bayes_tok_header(bayes_tok_t *t, sl_slice_t name, sl_slice_t value);

/* bayes_tok_body - the next CHUNK of one text part's decoded UTF-8 text.
 * Chunks may split anywhere, inside a word or a UTF-8 sequence: the
 * tokenizer keeps the partial word. Invalid UTF-8 separates words. 0, or
 * SL_ESTATE after bayes_tok_finish. */
int bayes_tok_body(bayes_tok_t *t, sl_slice_t chunk);

/* bayes_tok_body_end - the current text part ended: flush its last word; the
 * next bayes_tok_body starts a new part (no bigram across parts). A no-op
 * when no part is open. */
void bayes_tok_body_end(bayes_tok_t *t);

/* bayes_tok_html - the next CHUNK of one HTML part's decoded markup (the
 * part's body before tags are stripped; its visible text goes to
 * bayes_tok_body). Yields "<tag" for each start tag and "<tag attr" for each
 * attribute name, lowercased (markup style separates bulk mail from
 * people's mail), at most max_html per message; reads at most max_body
 * bytes of markup. The markup of all HTML parts of a message is one stream:
 * chunks may split anywhere. 0, or SL_ESTATE after bayes_tok_finish. */
int bayes_tok_html(bayes_tok_t *t, sl_slice_t chunk);

/* bayes_tok_uri - one URL found in the message (any scheme; "www.x.y/..."
 * without a scheme too). Yields "u:<host>" and "u:<parent domain>" tokens
 * down to two labels, or "u:<IPv4>" and "u:ip". Hosts over 253 bytes are
 * summarized. 0, or SL_ESTATE after bayes_tok_finish. */
int bayes_tok_uri(bayes_tok_t *t, sl_slice_t uri);

/* bayes_tok_finish - end the message (flushes an open body part), sort the
 * ids and compute the signature. *M_R stays valid until bayes_tok_reset or
 * bayes_tok_destroy. Calling it again returns the same result. */
void bayes_tok_finish(bayes_tok_t *t, bayes_msg_t *m_r);

/* bayes_tok_stats - counters of the current message. */
void bayes_tok_stats(const bayes_tok_t *t, bayes_tok_stats_t *st_r);

/* bayes_token_id - the id of token TEXT under KEY (what the tokenizer stores
 * for it): SipHash-2-4, 0 mapped to 1. For tests and tools. */
uint64_t bayes_token_id(const uint64_t key[2], sl_slice_t text);

/* --- Storage interface ------------------------------------------------- */

enum bayes_class {
	BAYES_NONE = 0,           /* not learned */
	BAYES_SPAM = 1,
	BAYES_HAM = 2,
};

/* Counts of learned messages that contained a token. */
typedef struct bayes_counts {
	uint32_t spam, ham;
} bayes_counts_t;

/* One atomic change: add DSPAM to the spam count and DHAM to the ham count
 * of every token in IDS and of the message totals, and record the
 * signature SIG as SIG_CLASS (BAYES_NONE removes it). A count never goes
 * below 0: callers only subtract what they added (bayes_t guarantees it). */
typedef struct bayes_update {
	const uint64_t *ids;
	size_t n_ids;
	int32_t dspam, dham;      /* each -1, 0 or +1 */
	const uint8_t *sig;       /* BAYES_SIG_LEN bytes */
	enum bayes_class sig_class;
} bayes_update_t;

/* Completion of an apply: ERR is 0 once the change is durable (for the LMDB
 * store: committed), or a negative sl_err (nothing was applied). */
typedef void bayes_done_fn(void *ctx, int err);

typedef struct bayes_store_ops {
	/* read - in one consistent snapshot: the counts of N ids into COUNTS_R
	   (absent tokens: 0/0) and the learned message totals. N may be 0 (IDS
	   and COUNTS_R may then be NULL) to read the totals only. 0 or an
	   sl_err. */
	int (*read)(void *sctx, const uint64_t *ids, size_t n, bayes_counts_t *counts_r,
		    bayes_counts_t *totals_r);
	/* sig_get - the class SIG was learned as (BAYES_NONE if never). */
	int (*sig_get)(void *sctx, const uint8_t sig[BAYES_SIG_LEN], enum bayes_class *class_r);
	/* apply - start the update U (its arrays are only borrowed for the call:
	   an implementation copies what it keeps). Returns 0 when started: CB
	   then runs exactly once, possibly before apply returns. A negative
	   sl_err (SL_EAGAIN: too many in flight, retry later; SL_ELIMIT; ...)
	   means nothing started and CB will not run. */
	int (*apply)(void *sctx, const bayes_update_t *u, bayes_done_fn *cb, void *cbctx);
} bayes_store_ops_t;

typedef struct bayes_store {
	const bayes_store_ops_t *ops;
	void *ctx;
} bayes_store_t;

/* Message totals and token counts are limited to this (a learn that would
 * pass it fails with SL_ELIMIT). */
#define BAYES_COUNT_MAX 0x7fffffffu

/* --- In-memory store --------------------------------------------------- */

typedef struct bayes_mem bayes_mem_t;

/* bayes_mem_create - an empty in-memory store holding at most MAX_TOKENS
 * distinct tokens and as many signatures (an apply that would pass either
 * fails with SL_ELIMIT, unapplied). 0, SL_EINVAL (0), SL_ENOMEM. apply
 * completes before it returns. Single-threaded. */
int bayes_mem_create(size_t max_tokens, bayes_mem_t **m_r);
/* bayes_mem_destroy - free; *M = NULL; NULL is a no-op. */
void bayes_mem_destroy(bayes_mem_t **m);
/* bayes_mem_store - the ops view of M; valid as long as M. */
bayes_store_t bayes_mem_store(bayes_mem_t *m);
/* bayes_mem_size - distinct tokens and signatures held. */
void bayes_mem_size(const bayes_mem_t *m, size_t *tokens_r, size_t *sigs_r);

/* --- Classifier -------------------------------------------------------- */

typedef struct bayes_opts {
	double s;                 /* Robinson's strength of the prior (1.0) */
	double x;                 /* Robinson's prior for an unknown token (0.5) */
	double min_dev;           /* use tokens with |f - 0.5| >= this (0.1) */
	unsigned max_clues;       /* most significant tokens used (150) */
	uint32_t min_spam;        /* below this many learned spams ... (200) */
	uint32_t min_ham;         /* ... or hams: no opinion (200) */
	size_t max_ids;           /* largest token set accepted (1 << 20) */
} bayes_opts_t;

typedef struct bayes_result {
	bool opinion;             /* false: too few learned messages; prob 0.5 */
	double prob;              /* 0 (ham) .. 1 (spam) */
	double spamminess;        /* S of Fisher's method, 0..1 */
	double hamminess;         /* H of Fisher's method, 0..1 */
	unsigned clues;           /* tokens that entered the combination */
	size_t known;             /* tokens with a count in the store */
	bayes_counts_t totals;    /* learned messages at scoring time */
} bayes_result_t;

typedef struct bayes bayes_t;

/* bayes_opts_default - fill O with the defaults above. */
void bayes_opts_default(bayes_opts_t *o);

/* bayes_create - a classifier over STORE (copied; what it points to must
 * outlive the classifier) with options O (copied; NULL: defaults). It owns
 * scratch space for max_ids tokens, allocated as needed up to that bound.
 * 0, SL_EINVAL (s <= 0, x or min_dev outside [0, 0.5]/(0, 1), max_clues
 * 0), SL_ENOMEM. */
int bayes_create(const bayes_opts_t *o, bayes_store_t store, bayes_t **b_r);
/* bayes_destroy - free; *B = NULL; NULL is a no-op. */
void bayes_destroy(bayes_t **b);

/* bayes_classify - score M. 0 with *R_R filled (opinion false when the store
 * has fewer than min_spam spams or min_ham hams), SL_ELIMIT (M->n over
 * max_ids), SL_ENOMEM, or the store's read error. */
int bayes_classify(bayes_t *b, const bayes_msg_t *m, bayes_result_t *r_r);

/* bayes_learn - learn M as CLASS (BAYES_SPAM or BAYES_HAM), exactly once:
 *   returns 1  M's signature is already learned as CLASS: nothing to do,
 *              CB will not run;
 *   returns 0  the update started (a message learned as the other class is
 *              moved: its old counts are taken back in the same update);
 *              CB(CTX, err) runs exactly once, possibly before this returns;
 *   < 0        SL_EINVAL (CLASS), SL_ELIMIT (a count would pass
 *              BAYES_COUNT_MAX, or M over max_ids), or the store's error;
 *              CB will not run.
 * Two learns of one message racing each other (both before the first
 * completes) are not detected: learn from one thread per store. */
int bayes_learn(bayes_t *b, const bayes_msg_t *m, enum bayes_class cls, bayes_done_fn *cb,
		void *ctx);

/* bayes_unlearn - take M back: 1 when it was never learned (CB will not
 * run), otherwise as bayes_learn. */
int bayes_unlearn(bayes_t *b, const bayes_msg_t *m, bayes_done_fn *cb, void *ctx);

/* --- The math, exposed for tests and tools ----------------------------- */

/* bayes_token_prob - Robinson's f(w) = (s*x + n*p) / (s + n) with n = SPAM +
 * HAM and p = (SPAM/NSPAM) / (SPAM/NSPAM + HAM/NHAM) (ratios capped at 1).
 * NSPAM or NHAM 0, or n 0: x. */
double bayes_token_prob(double s, double x, uint32_t spam, uint32_t ham, uint32_t nspam,
			uint32_t nham);

/* bayes_chi2q - the chi-square survival function Q(X2 | V) for even V >= 2:
 * the probability that a chi-square variable with V degrees of freedom is
 * at least X2. Computed in the log domain (no underflow). V odd or 0: NaN. */
double bayes_chi2q(double x2, unsigned v);

/* bayes_fisher - Fisher's combination of the N probabilities F (each in
 * (0, 1)): S = 1 - Q(-2 sum ln(1-f), 2N), H = 1 - Q(-2 sum ln f, 2N),
 * returns (1 + S - H) / 2; N 0: 0.5 (S = H = 0). S_R and H_R may be NULL. */
double bayes_fisher(const double *f, size_t n, double *s_r, double *h_r);

/* --- Score mapping: Bayes as a set of pseudo-rules --------------------- */

typedef struct bayes_rule {
	const char *name;         /* BAYES_00 ... BAYES_999 */
	double lo, hi;            /* matches lo <= prob < hi (hi 1.0 inclusive) */
	double score;             /* default score points */
	const char *describe;
} bayes_rule_t;

/* The table, in ascending lo; BAYES_999 overlaps BAYES_99 on purpose. */
extern const bayes_rule_t bayes_rules[];
extern const unsigned bayes_rules_n;

/* bayes_rules_match - the rules that R hits: none without an opinion, else
 * one band, plus BAYES_999 when prob >= 0.999. Writes up to 2 pointers into
 * OUT and returns how many. */
unsigned bayes_rules_match(const bayes_result_t *r, const bayes_rule_t *out[2]);

/* --- Auto-learn -------------------------------------------------------- */

typedef struct bayes_autolearn {
	bool enabled;             /* default true */
	double spam_min;          /* learn as spam when score >= this (12.0) */
	double ham_max;           /* learn as ham when score <= this (0.1) */
} bayes_autolearn_t;

/* bayes_autolearn_default - fill A with the defaults above. */
void bayes_autolearn_default(bayes_autolearn_t *a);

/* bayes_autolearn_class - what to learn a message as, given its total score
 * WITHOUT the Bayes rules' points (so Bayes cannot teach itself):
 * BAYES_SPAM, BAYES_HAM, or BAYES_NONE (disabled, in between, or NaN). */
enum bayes_class bayes_autolearn_class(const bayes_autolearn_t *a, double score);

#endif
