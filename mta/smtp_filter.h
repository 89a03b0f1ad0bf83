/* smtp_filter - the content filter (filter/filter.h) behind the SMTP
 * engine's filter hooks, for one lane.
 *
 * Every message in DATA/BDAT gets a scan (flt_scan_t: MIME parser, rule
 * scanner, Bayes, virus scanner) from the lane's pool; the chunks are fed
 * as they arrive, so the verdict is ready at the final dot. Scans are kept
 * for reuse: after warm-up nothing is allocated per message.
 *
 * Verdicts map onto the engine's: reject -> 550 5.7.1 with the reason
 * (451 4.3.0 if the scan itself failed), quarantine -> QUARANTINE (the
 * glue stores the message in the store's quarantine with the verdict
 * text), tag -> TAG with the X-Spam-* / X-Virus-Scanned headers the glue
 * prepends, accept -> ACCEPT.
 *
 * Auto-learn: a ham or spam verdict whose rules' score alone in score set 0 (Bayes
 * excluded, so Bayes never teaches itself) is at or past a threshold is
 * learned into the lane's Bayes store as the message ends. The learn is
 * asynchronous (the store's group commit); its completion only counts, so
 * the lane's st_client must be destroyed (which runs the completions)
 * before this object.
 *
 * Threading: a lane's object is used on its worker only; the flt_filter_t
 * (config, live rule set, virus database) is shared by every lane. */
#ifndef SMTP_FILTER_H
#define SMTP_FILTER_H

#include <stdint.h>

#include "filter.h"
#include "sl_buf.h"
#include "smtp/smtp_session.h"

typedef struct smtp_filter smtp_filter_t;
typedef struct smtp_filter_msg smtp_filter_msg_t;

/* Counters (per lane): scan_errors are scans that failed (451); scan_us
 * is the time spent in feed + end. autolearn_spam/_ham: learns committed;
 * autolearn_known: already learned (the same message again); autolearn_errors:
 * learns that could not start or failed in the store. */
#define SMTP_FILTER_STATS_FIELDS(X)                                                   \
	X(scanned) X(ham) X(spam) X(virus) X(policy) X(accepted) X(tagged)             \
	X(quarantined) X(rejected) X(scan_errors) X(bytes) X(scan_us)                  \
	X(autolearn_spam) X(autolearn_ham) X(autolearn_known) X(autolearn_errors)
typedef struct smtp_filter_stats {
#define SMTP_FILTER_STATS_FIELD(n) uint64_t n;
	SMTP_FILTER_STATS_FIELDS(SMTP_FILTER_STATS_FIELD)
#undef SMTP_FILTER_STATS_FIELD
} smtp_filter_stats_t;
extern const char *const smtp_filter_stats_names[];

/* smtp_filter_create - a lane's pool over FILTER (borrowed, shared) with
 * BAYES as this lane's token store (copied; NULL: no Bayes) and AUTOLEARN
 * (copied; NULL or not enabled: off). 0, SL_ENOMEM. */
int smtp_filter_create(flt_filter_t *filter, const bayes_store_t *bayes,
		       const bayes_autolearn_t *autolearn, smtp_filter_t **f_r);
/* smtp_filter_destroy - every message must have been released. */
void smtp_filter_destroy(smtp_filter_t **f);

/* smtp_filter_begin - a scan for a new message; NULL if none could be
 * made (out of memory): the caller then fails the message with 451. */
smtp_filter_msg_t *smtp_filter_begin(smtp_filter_t *f);
/* smtp_filter_feed - the next bytes of the message (dot-unstuffed). */
void smtp_filter_feed(smtp_filter_msg_t *m, sl_slice_t chunk);
/* smtp_filter_end - decide: the engine's verdict in *V, the tagging
 * headers (TAG only) appended to HDRS. Returns the filter's verdict (for
 * the log and the quarantine record; valid until release), or NULL when
 * the scan failed (V is then a 451). */
const flt_verdict_t *smtp_filter_end(smtp_filter_msg_t *m, struct smtp_verdict *v, sl_buf_t *hdrs);
/* smtp_filter_release - back to the pool; *M = NULL. NULL is a no-op. */
void smtp_filter_release(smtp_filter_msg_t **m);

void smtp_filter_get_stats(const smtp_filter_t *f, smtp_filter_stats_t *r);

#endif
