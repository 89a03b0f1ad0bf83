/* smtp_filter - a lane's pool of filter scans for the SMTP server. */
#include "smtp_filter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sl_err.h"
#include "sl_log.h"
#include "sl_time.h"

#define FILTER_LOG "filter"

const char *const smtp_filter_stats_names[] = {
#define SMTP_FILTER_STATS_NAME(n) #n,
	SMTP_FILTER_STATS_FIELDS(SMTP_FILTER_STATS_NAME)
#undef SMTP_FILTER_STATS_NAME
	NULL};

struct smtp_filter_msg {
	smtp_filter_t *owner;
	flt_scan_t *scan;
	bool failed;              /* a feed failed: the verdict is a 451 */
	uint64_t bytes;
	uint64_t us;
	smtp_filter_msg_t *next;  /* the free list */
};

struct smtp_filter {
	flt_filter_t *filter;
	bayes_store_t bayes;
	bool has_bayes;
	bayes_autolearn_t autolearn;
	smtp_filter_msg_t *free_list;
	unsigned out;             /* messages not released */
	smtp_filter_stats_t stats;
};

int smtp_filter_create(flt_filter_t *filter, const bayes_store_t *bayes,
		       const bayes_autolearn_t *autolearn, smtp_filter_t **f_r)
{
	smtp_filter_t *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return SL_ENOMEM;
	f->filter = filter;
	if (bayes != NULL) {
		f->bayes = *bayes;
		f->has_bayes = true;
	}
	if (autolearn != NULL && bayes != NULL)
		f->autolearn = *autolearn;
	*f_r = f;
	return 0;
}

void smtp_filter_destroy(smtp_filter_t **fp)
{
	smtp_filter_t *f = *fp;

	if (f == NULL)
		return;
	if (f->out > 0)
		sl_log(SL_LOG_WARN, FILTER_LOG, "%u scans still out at shutdown (leaked)", f->out);
	while (f->free_list != NULL) {
		smtp_filter_msg_t *m = f->free_list;

		f->free_list = m->next;
		flt_scan_free(&m->scan);
		free(m);
	}
	free(f);
	*fp = NULL;
}

smtp_filter_msg_t *smtp_filter_begin(smtp_filter_t *f)
{
	smtp_filter_msg_t *m = f->free_list;

	if (m != NULL) {
		f->free_list = m->next;
	} else {
		m = calloc(1, sizeof(*m));
		if (m == NULL)
			return NULL;
		m->owner = f;
		if (flt_scan_new(f->filter, f->has_bayes ? &f->bayes : NULL, &m->scan) < 0) {
			free(m);
			return NULL;
		}
	}
	m->next = NULL;
	m->failed = flt_scan_begin(m->scan) < 0;
	m->bytes = 0;
	m->us = 0;
	f->out++;
	return m;
}

void smtp_filter_feed(smtp_filter_msg_t *m, sl_slice_t chunk)
{
	uint64_t t0;

	if (m->failed)
		return;
	t0 = sl_time_now_us();
	if (flt_scan_feed(m->scan, chunk.ptr, chunk.len) < 0)
		m->failed = true;
	m->bytes += chunk.len;
	m->us += sl_time_now_us() - t0;
}

static void autolearn_done(smtp_filter_t *f, uint64_t *learned, int err)
{
	if (err == 0) {
		(*learned)++;
		return;
	}
	f->stats.autolearn_errors++;
	sl_log(SL_LOG_WARN, FILTER_LOG, "auto-learn failed: %s", sl_strerror(err));
}

static void autolearn_spam_done(void *ctx, int err)
{
	smtp_filter_t *f = ctx;

	autolearn_done(f, &f->stats.autolearn_spam, err);
}

static void autolearn_ham_done(void *ctx, int err)
{
	smtp_filter_t *f = ctx;

	autolearn_done(f, &f->stats.autolearn_ham, err);
}

/* A test message (GTUBE) must not teach Bayes anything. */
static bool is_test_message(const flt_verdict_t *fv)
{
	for (size_t i = 0; i < fv->nhits; i++)
		if (strcmp(fv->hits[i].name, "GTUBE") == 0)
			return true;
	return false;
}

/* autolearn - learn the message just ended when the rules alone are sure
 * of it. A virus or policy verdict, a scan a limit cut short, or a GTUBE
 * test message is not learned: its rules' score does not describe what
 * the message's words are. */
static void autolearn(smtp_filter_t *f, smtp_filter_msg_t *m, const flt_verdict_t *fv)
{
	enum bayes_class cls;
	int rc;

	if (!f->autolearn.enabled || fv->truncated || (fv->cls != FLT_HAM && fv->cls != FLT_SPAM))
		return;
	cls = bayes_autolearn_class(&f->autolearn, fv->learn_score);
	if (cls == BAYES_NONE || is_test_message(fv))
		return;
	rc = flt_scan_learn(m->scan, cls, cls == BAYES_SPAM ? autolearn_spam_done : autolearn_ham_done,
			    f);
	if (rc == 1) {
		f->stats.autolearn_known++;
	} else if (rc < 0) {
		f->stats.autolearn_errors++;
		sl_log(SL_LOG_WARN, FILTER_LOG, "auto-learn not started: %s", sl_strerror(rc));
	}
}

static void set_reject(struct smtp_verdict *v, uint16_t code, const char *text)
{
	v->action = SMTP_VERDICT_REJECT;
	v->code = code;
	snprintf(v->text, sizeof(v->text), "%s", text);
}

const flt_verdict_t *smtp_filter_end(smtp_filter_msg_t *m, struct smtp_verdict *v, sl_buf_t *hdrs)
{
	smtp_filter_t *f = m->owner;
	smtp_filter_stats_t *st = &f->stats;
	const flt_verdict_t *fv = NULL;
	uint64_t t0 = sl_time_now_us();
	char text[sizeof(v->text)];
	int rc;

	memset(v, 0, sizeof(*v));
	st->bytes += m->bytes;
	rc = m->failed ? SL_EIO : flt_scan_end(m->scan, &fv);
	m->us += sl_time_now_us() - t0;
	st->scan_us += m->us;
	/* A Bayes read error still gives a verdict (without Bayes). */
	if (rc == SL_EIO || rc == SL_ESTATE || fv == NULL) {
		st->scan_errors++;
		set_reject(v, 451, "4.3.0 Content scan failed, try again later");
		return NULL;
	}
	st->scanned++;
	autolearn(f, m, fv);
	switch (fv->cls) {
	case FLT_HAM: st->ham++; break;
	case FLT_SPAM: st->spam++; break;
	case FLT_VIRUS: st->virus++; break;
	case FLT_POLICY: st->policy++; break;
	}
	switch (fv->action) {
	case FLT_ACCEPT:
		st->accepted++;
		v->action = SMTP_VERDICT_ACCEPT;
		break;
	case FLT_TAG:
		st->tagged++;
		v->action = SMTP_VERDICT_TAG;
		if (flt_verdict_headers(f->filter, fv, hdrs) < 0)
			sl_log(SL_LOG_WARN, FILTER_LOG, "tagging headers too long; delivered untagged");
		break;
	case FLT_QUARANTINE:
		st->quarantined++;
		v->action = SMTP_VERDICT_QUARANTINE;
		break;
	case FLT_REJECT:
		st->rejected++;
		if (fv->cls == FLT_VIRUS)
			snprintf(text, sizeof(text), "5.7.1 Message rejected: virus %s found",
				 fv->virus);
		else if (fv->cls == FLT_POLICY)
			snprintf(text, sizeof(text), "5.7.1 Message rejected by policy: %s",
				 fv->virus[0] ? fv->virus : fv->reason);
		else
			snprintf(text, sizeof(text), "5.7.1 Message rejected as spam (score %.1f)",
				 fv->score);
		set_reject(v, 550, text);
		break;
	}
	return fv;
}

void smtp_filter_release(smtp_filter_msg_t **mp)
{
	smtp_filter_msg_t *m = *mp;

	if (m == NULL)
		return;
	m->next = m->owner->free_list;
	m->owner->free_list = m;
	m->owner->out--;
	*mp = NULL;
}

void smtp_filter_get_stats(const smtp_filter_t *f, smtp_filter_stats_t *r)
{
	*r = f->stats;
}
