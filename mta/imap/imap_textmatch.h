/* imap_textmatch - the content predicates of IMAP SEARCH (RFC 9051 §6.4.4:
 * BODY, TEXT, HEADER, FROM, TO, CC, BCC, SUBJECT, SENTBEFORE/ON/SINCE)
 * evaluated on one message at a time, sans-IO.
 *
 * The glue (mta/imap_store.c) owns one matcher per lane. For each SEARCH
 * request it calls imap_tm_prepare with the request's predicates, then per
 * message imap_tm_begin, imap_tm_feed with the raw message in pieces (any
 * split) until it returns 1 or the message ends, and imap_tm_end, which
 * gives the bit mask of the predicates that hold.
 *
 * One pass over the message through filter/message's streaming parser
 * (transfer decoding, RFC 2047, charsets to UTF-8, HTML to text); matching
 * is a case-insensitive substring search on text folded with imap_tm_fold.
 * The feed stops as soon as every predicate is decided: a search on header
 * fields only reads the header block, BODY stops at the first hit. Steady
 * state allocates nothing per message.
 *
 * What is matched (docs/imap.md, "SEARCH"):
 *   HEADER f s / FROM / TO / CC / BCC / SUBJECT: the top-level header
 *     fields named f (any case), value unfolded and RFC 2047-decoded, in
 *     UTF-8; each field on its own. s = "": the message has such a field.
 *   BODY s: the text of every text part (transfer-decoded, in UTF-8;
 *     text/html as its text, without tags), and the header fields of
 *     embedded messages (message/rfc822) as "Name: value". Non-text parts
 *     (images, applications) are not searched. A match does not span two
 *     parts.
 *   TEXT s: BODY, or any top-level header field as "Name: value".
 *   SENT*: the date of the first Date: field (RFC 5322 §3.3, its own zone,
 *     time ignored); without a valid one, the internal date's day in its
 *     own zone.
 *
 * Threading: a matcher belongs to one lcore. */
#ifndef IMAP_TEXTMATCH_H
#define IMAP_TEXTMATCH_H

#include <stddef.h>
#include <stdint.h>

#include "imap/imap_session.h"
#include "sl_buf.h"

typedef struct imap_tm imap_tm_t;

/* imap_tm_create - a matcher (its MIME parser included). 0 and *TM_R, or
 * SL_ENOMEM. */
int imap_tm_create(imap_tm_t **tm_r);
/* imap_tm_free - release *TM and set it to NULL (NULL-safe). */
void imap_tm_free(imap_tm_t **tm);

/* imap_tm_prepare - the predicates of the next messages: PREDS[0..N) are
 * borrowed until the next prepare (the needles are folded into the
 * matcher). 0; SL_ELIMIT when N > IMAP_TEXT_PREDS_MAX or a needle is over
 * 1 MiB; SL_EINVAL for an unknown kind; SL_ENOMEM. */
int imap_tm_prepare(imap_tm_t *tm, const struct imap_text_pred *preds, size_t n);

/* imap_tm_begin - start a message whose internal date is INTERNALDATE
 * (unix seconds) in zone TZ_MIN (minutes east of UTC). */
void imap_tm_begin(imap_tm_t *tm, int64_t internaldate, int32_t tz_min);

/* imap_tm_feed - the next LEN raw bytes of the message (borrowed). 0: go
 * on; 1: every predicate is decided, feed no more; SL_ENOMEM. */
int imap_tm_feed(imap_tm_t *tm, const void *data, size_t len);

/* imap_tm_end - the message ended (or the caller stopped after a 1): bit i
 * set when predicate i holds. */
uint64_t imap_tm_end(imap_tm_t *tm);

/* imap_tm_fold - case-fold IN[0..N) into OUT (N bytes: the fold keeps every
 * length). Folded: ASCII A-Z; Latin-1 À-Þ (not ×); Latin Extended-A
 * pairs (U+0100-U+017F; Ÿ to ÿ; İ and ı stay); Greek Α-Ω and final ς to σ;
 * Cyrillic А-Я and Ѐ-Џ. Everything else (ß, other scripts, invalid UTF-8)
 * is copied. With PARTIAL, an incomplete UTF-8 sequence at the end is not
 * consumed. Returns the bytes consumed (= written). */
size_t imap_tm_fold(const uint8_t *in, size_t n, uint8_t *out, int partial);

/* imap_tm_date_days - the date of an RFC 5322 date-time ("Mon, 2 Jan 2006
 * 15:04:05 -0700", obsolete 2- and 3-digit years, comments) as days since
 * 1970-01-01, in the value's own zone (the time is ignored). 0 or
 * SL_EINVAL. */
int imap_tm_date_days(sl_slice_t value, int64_t *days_r);

#endif
