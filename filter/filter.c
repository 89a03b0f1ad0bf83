/* filter - the scan pipeline: MIME parser events into the rule engine and
 * Bayes, and the verdict (filter.h, docs/filter.md). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filter.h"
#include "sl_err.h"

#define FLT_LIMITS_NAME "Heuristics.Limits.Exceeded"

struct flt_filter {
	flt_config_t cfg;
	flt_rules_t *rules;
	const flt_av_db_t *av;
	flt_av_db_t *own_av; /* compiled here when none was given */
};

enum { FS_IDLE, FS_OPEN, FS_ENDED };

struct flt_scan {
	flt_filter_t *f;
	msg_parser_t *mp;
	flt_rscan_t *rs;
	bayes_tok_t *tok;    /* NULL without a store */
	bayes_t *bayes;
	flt_av_scanner_t *av;
	sl_buf_t part;       /* decoded body of the current leaf, for AV */
	bool part_truncated;
	flt_av_result_t avr; /* the first finding of the message */
	bool av_found;
	int state;
	int err;             /* first error from a callback */
	uint64_t fed;
	bool truncated;
	uint32_t last_text_part, last_raw_part; /* UINT32_MAX: none yet */
	bayes_msg_t bmsg;
	bool bmsg_valid;
	flt_hit_t *hits;
	size_t hits_cap;
	sl_buf_t names;
	char reason[640];
	char virus[FLT_AV_NAME_MAX];
	flt_verdict_t v;
};

void flt_config_default(flt_config_t *c)
{
	memset(c, 0, sizeof(*c));
	c->spam_score = 5.0;
	c->quarantine_score = 10.0;
	c->reject_score = 15.0;
	c->virus_action = FLT_REJECT;
	c->policy_action = FLT_REJECT;
	c->bayes = true;
	c->max_message = 64ull << 20;
	c->max_rules_text = 4096;
	c->max_av_object = 25u << 20;
	msg_limits_default(&c->mime);
	flt_av_limits_default(&c->av);
	flt_av_policy_default(&c->policy);
	bayes_tok_opts_default(&c->tok);
	bayes_opts_default(&c->bayes_opts);
}

int flt_filter_new(const flt_config_t *config, flt_rules_t *rules, const flt_av_db_t *av,
		   flt_filter_t **f_r)
{
	flt_filter_t *f;
	const char *err;

	*f_r = NULL;
	if (rules == NULL)
		return SL_EINVAL;
	f = calloc(1, sizeof(*f));
	if (f == NULL)
		return SL_ENOMEM;
	if (config != NULL)
		f->cfg = *config;
	else
		flt_config_default(&f->cfg);
	if (!(f->cfg.spam_score <= f->cfg.quarantine_score &&
	      f->cfg.quarantine_score <= f->cfg.reject_score) ||
	    f->cfg.max_rules_text < 64) {
		free(f);
		return SL_EINVAL;
	}
	f->rules = rules;
	f->av = av;
	if (av == NULL) {
		if (flt_av_db_new(&f->own_av) != 0 || flt_av_db_compile(f->own_av, &err) != 0) {
			flt_av_db_free(&f->own_av);
			free(f);
			return SL_ENOMEM;
		}
		f->av = f->own_av;
	}
	*f_r = f;
	return 0;
}

void flt_filter_free(flt_filter_t **f_r)
{
	flt_filter_t *f = *f_r;

	*f_r = NULL;
	if (f == NULL)
		return;
	flt_av_db_free(&f->own_av);
	free(f);
}

const flt_config_t *flt_filter_config(const flt_filter_t *f)
{
	return &f->cfg;
}

/* --- MIME events ------------------------------------------------------- */

static int keep_err(flt_scan_t *s, int rc)
{
	if (rc != 0 && s->err == 0)
		s->err = rc;
	return 0; /* the parse goes on; the error is reported at the end */
}

static int on_header(void *ctx, const msg_part_t *part, const msg_header_t *h)
{
	flt_scan_t *s = ctx;

	/* Rules and Bayes see the message's own header, as a reader does. */
	if (part->index != 0)
		return 0;
	keep_err(s, flt_rscan_header(s->rs, h->name, h->raw_value, h->value));
	if (s->tok != NULL)
		bayes_tok_header(s->tok, h->name, h->value);
	return 0;
}

static int on_text(void *ctx, const msg_part_t *part, sl_slice_t utf8)
{
	flt_scan_t *s = ctx;

	/* Text parts form one body stream, a paragraph break between two. */
	if (s->last_text_part != part->index) {
		if (s->last_text_part != UINT32_MAX)
			keep_err(s, flt_rscan_body(s->rs, SL_SLICE_LIT("\n\n")));
		s->last_text_part = part->index;
	}
	keep_err(s, flt_rscan_body(s->rs, utf8));
	if (s->tok != NULL)
		bayes_tok_body(s->tok, utf8);
	return 0;
}

static int on_body(void *ctx, const msg_part_t *part, sl_slice_t data)
{
	flt_scan_t *s = ctx;

	/* Every leaf goes to the virus scanner, text too (EICAR in plain
	 * text is a test case of its own). */
	if (!s->av_found && !s->part_truncated) {
		size_t room = s->part.max - s->part.len;

		if (data.len > room)
			s->part_truncated = true;
		if (sl_buf_append(&s->part, data.ptr, data.len < room ? data.len : room) != 0)
			keep_err(s, SL_ENOMEM);
	}
	if (!part->is_text)
		return 0;
	if (s->tok != NULL && part->subtype.len == 4 && memcmp(part->subtype.ptr, "html", 4) == 0)
		bayes_tok_html(s->tok, data);
	if (s->last_raw_part != part->index) {
		if (s->last_raw_part != UINT32_MAX)
			keep_err(s, flt_rscan_rawbody(s->rs, SL_SLICE_LIT("\n\n")));
		s->last_raw_part = part->index;
	}
	keep_err(s, flt_rscan_rawbody(s->rs, data));
	return 0;
}

static int on_url(void *ctx, const msg_part_t *part, sl_slice_t url)
{
	flt_scan_t *s = ctx;

	(void)part;
	keep_err(s, flt_rscan_uri(s->rs, url));
	if (s->tok != NULL)
		bayes_tok_uri(s->tok, url);
	return 0;
}

static int on_part_begin(void *ctx, const msg_part_t *part)
{
	flt_scan_t *s = ctx;

	(void)part;
	sl_buf_reset(&s->part);
	s->part_truncated = false;
	return 0;
}

/* The declared type as "type/subtype" for the policy checks. */
static void part_type(const msg_part_t *part, char *buf, size_t len)
{
	snprintf(buf, len, "%.*s/%.*s", (int)(part->type.len > 60 ? 60 : part->type.len),
		 (const char *)part->type.ptr,
		 (int)(part->subtype.len > 60 ? 60 : part->subtype.len),
		 (const char *)part->subtype.ptr);
}

static int on_part_end(void *ctx, const msg_part_t *part)
{
	flt_scan_t *s = ctx;

	if (part->is_text && s->tok != NULL)
		bayes_tok_body_end(s->tok);
	if (!part->is_multipart && !part->is_rfc822 && !s->av_found) {
		char name[256], type[128];
		flt_av_result_t r;
		int rc;

		snprintf(name, sizeof(name), "%.*s",
			 (int)(part->filename.len > 250 ? 250 : part->filename.len),
			 part->filename.ptr != NULL ? (const char *)part->filename.ptr : "");
		part_type(part, type, sizeof(type));
		rc = flt_av_scan(s->av, name, type, sl_buf_slice(&s->part), &r);
		if (rc != 0)
			keep_err(s, rc);
		else if (r.verdict != FLT_AV_CLEAN) {
			s->avr = r;
			s->av_found = true;
		}
		if (s->part_truncated)
			s->truncated = true;
	}
	sl_buf_reset(&s->part);
	return 0;
}

/* --- Scan lifetime ----------------------------------------------------- */

int flt_scan_new(flt_filter_t *f, const bayes_store_t *store, flt_scan_t **s_r)
{
	flt_scan_t *s = calloc(1, sizeof(*s));
	msg_callbacks_t cb = {0};
	int rc;

	*s_r = NULL;
	if (s == NULL)
		return SL_ENOMEM;
	s->f = f;
	cb.ctx = s;
	cb.part_begin = on_part_begin;
	cb.header = on_header;
	cb.text = on_text;
	cb.body = on_body;
	cb.url = on_url;
	cb.part_end = on_part_end;
	sl_buf_init(&s->names, f->cfg.max_rules_text);
	sl_buf_init(&s->part, f->cfg.max_av_object);
	s->mp = msg_parser_new(&f->cfg.mime, &cb);
	if (s->mp == NULL) {
		rc = SL_ENOMEM;
		goto fail;
	}
	rc = flt_rscan_new(f->rules, &f->cfg.rules, &s->rs);
	if (rc != 0)
		goto fail;
	{
		const char *err;

		rc = flt_av_scanner_new(f->av, &f->cfg.av, &f->cfg.policy, &s->av, &err);
		if (rc != 0)
			goto fail;
	}
	if (store != NULL && f->cfg.bayes) {
		rc = bayes_tok_create(&f->cfg.tok, &s->tok);
		if (rc == 0)
			rc = bayes_create(&f->cfg.bayes_opts, *store, &s->bayes);
		if (rc != 0)
			goto fail;
	}
	*s_r = s;
	return 0;
fail:
	flt_scan_free(&s);
	return rc;
}

void flt_scan_free(flt_scan_t **s_r)
{
	flt_scan_t *s = *s_r;

	*s_r = NULL;
	if (s == NULL)
		return;
	msg_parser_free(&s->mp);
	flt_rscan_free(&s->rs);
	bayes_tok_destroy(&s->tok);
	bayes_destroy(&s->bayes);
	flt_av_scanner_free(&s->av);
	sl_buf_free(&s->part);
	sl_buf_free(&s->names);
	free(s->hits);
	free(s);
}

int flt_scan_begin(flt_scan_t *s)
{
	int rc = flt_rscan_begin(s->rs);

	if (rc != 0)
		return rc;
	msg_parser_reset(s->mp);
	if (s->tok != NULL)
		bayes_tok_reset(s->tok);
	s->bmsg_valid = false;
	s->err = 0;
	s->fed = 0;
	s->truncated = false;
	s->last_text_part = s->last_raw_part = UINT32_MAX;
	s->av_found = false;
	s->part_truncated = false;
	sl_buf_reset(&s->part);
	memset(&s->v, 0, sizeof(s->v));
	s->state = FS_OPEN;
	return 0;
}

int flt_scan_feed(flt_scan_t *s, const void *data, size_t len)
{
	uint64_t room;
	int rc;

	if (s->state != FS_OPEN)
		return SL_ESTATE;
	room = s->f->cfg.max_message - s->fed;
	if (len > room) {
		s->truncated = true;
		len = (size_t)room;
	}
	if (len == 0)
		return 0;
	s->fed += len;
	rc = flt_rscan_full(s->rs, sl_slice_make(data, len));
	if (rc != 0)
		return rc;
	rc = msg_parser_feed(s->mp, data, len);
	if (rc == SL_ENOMEM)
		return rc;
	return s->err == SL_EIO ? SL_EIO : 0;
}

static int add_hit(flt_scan_t *s, const flt_hit_t *h)
{
	if (s->v.nhits == s->hits_cap) {
		size_t nc = s->hits_cap ? s->hits_cap * 2 : 32;
		flt_hit_t *n = realloc(s->hits, nc * sizeof(*n));

		if (n == NULL)
			return SL_ENOMEM;
		s->hits = n;
		s->hits_cap = nc;
	}
	s->hits[s->v.nhits++] = *h;
	/* The joined names are cut at max_rules_text; the hit list is whole. */
	if (s->names.len > 0)
		(void)sl_buf_append(&s->names, ",", 1);
	(void)sl_buf_append(&s->names, h->name, strlen(h->name));
	return 0;
}

int flt_scan_end(flt_scan_t *s, const flt_verdict_t **v_r)
{
	const flt_config_t *cfg = &s->f->cfg;
	const flt_rules_result_t *rr = NULL;
	const char *mime_err = NULL;
	flt_verdict_t *v = &s->v;
	bayes_result_t br = {0};
	const bayes_rule_t *bh[2];
	unsigned nbands = 0;
	int rc, ret = 0, mrc;

	if (s->state != FS_OPEN)
		return SL_ESTATE;
	s->state = FS_ENDED;
	mrc = msg_parser_finish(s->mp, &mime_err);
	rc = flt_rscan_end(s->rs, &rr);
	if (rc != 0 || rr == NULL)
		return rc != 0 ? rc : SL_EIO;
	if (s->err != 0)
		ret = s->err;

	memset(v, 0, sizeof(*v));
	sl_buf_reset(&s->names);
	s->virus[0] = '\0';
	v->bayes_prob = 0.5;
	v->truncated = rr->truncated || s->truncated;

	if (s->tok != NULL) {
		bayes_tok_finish(s->tok, &s->bmsg);
		s->bmsg_valid = true;
		rc = bayes_classify(s->bayes, &s->bmsg, &br);
		if (rc == 0) {
			nbands = bayes_rules_match(&br, bh);
			v->bayes_opinion = br.opinion;
			v->bayes_prob = br.prob;
		} else if (ret == 0) {
			ret = rc;
		}
	}
	/* The score set: 1 exactly when a Bayes band fires (Bayes has an
	 * opinion), else 0, whose scores were fitted to do without Bayes. */
	v->set = nbands > 0 ? FLT_SET_BAYES : FLT_SET_NOBAYES;
	for (size_t i = 0; i < rr->nhits; i++) {
		flt_hit_t h = rr->hits[i];

		if (v->set == FLT_SET_BAYES)
			h.score = h.score_bayes;
		if (add_hit(s, &h) != 0)
			return SL_ENOMEM;
	}
	v->rules_score = v->set == FLT_SET_BAYES ? rr->score_bayes : rr->score;
	v->learn_score = rr->score;
	v->score = v->rules_score;
	for (unsigned i = 0; i < nbands; i++) {
		flt_hit_t h = {bh[i]->name, bh[i]->describe, bh[i]->score, br.prob, bh[i]->score};
		flt_rule_info_t ri;

		/* The rule set declares the bands (FLT_RULE_EXTERNAL): a `score`
		 * line there (95_tuned.cf) sets their points; a band only fires
		 * in set 1, so its set-1 score counts. */
		if (rr->set != NULL && flt_ruleset_rule_info(rr->set, bh[i]->name, &ri) == 0 &&
		    ri.type == FLT_RULE_EXTERNAL) {
			h.score = h.score_bayes = ri.score_bayes;
			h.describe = ri.describe;
		}
		if (add_hit(s, &h) != 0)
			return SL_ENOMEM;
		v->score += h.score;
	}
	v->anomalies = msg_parser_anomalies(s->mp);
	v->parts = msg_parser_nparts(s->mp);
	v->size = s->fed;
	v->hits = s->hits;
	v->rules = s->names.len ? (const char *)s->names.data : "";

	if (s->av_found) {
		/* A virus, a blocked attachment or an archive limit decides. */
		v->cls = s->avr.verdict == FLT_AV_INFECTED ? FLT_VIRUS : FLT_POLICY;
		v->action = v->cls == FLT_VIRUS ? cfg->virus_action : cfg->policy_action;
		snprintf(s->virus, sizeof(s->virus), "%s", s->avr.name);
		/* Bounded pieces: the reason is one log line or one 5xx text. */
		snprintf(s->reason, sizeof(s->reason), "%s %.64s%s%.96s%s%.64s",
			 v->cls == FLT_VIRUS ? "virus" : "blocked:", s->avr.name,
			 s->avr.where[0] ? " in " : "", s->avr.where,
			 s->avr.reason[0] ? ": " : "", s->avr.reason);
	} else if (mrc == SL_ELIMIT) {
		/* A MIME bomb: what lies past the limit was not looked at. */
		v->cls = FLT_POLICY;
		v->action = cfg->policy_action;
		snprintf(s->virus, sizeof(s->virus), "%s", FLT_LIMITS_NAME);
		snprintf(s->reason, sizeof(s->reason), "message structure over the limits: %s",
			 mime_err != NULL ? mime_err : "MIME limit");
	} else if (v->score >= cfg->spam_score) {
		v->cls = FLT_SPAM;
		v->action = v->score >= cfg->reject_score       ? FLT_REJECT
			    : v->score >= cfg->quarantine_score ? FLT_QUARANTINE
								: FLT_TAG;
		snprintf(s->reason, sizeof(s->reason), "spam, score %.1f (spam at %.1f, reject at %.1f)",
			 v->score, cfg->spam_score, cfg->reject_score);
	} else {
		v->cls = FLT_HAM;
		v->action = FLT_ACCEPT;
		snprintf(s->reason, sizeof(s->reason), "ham, score %.1f", v->score);
	}
	v->virus = s->virus;
	v->reason = s->reason;
	*v_r = v;
	return ret;
}

int flt_scan_learn(flt_scan_t *s, enum bayes_class cls, bayes_done_fn *cb, void *ctx)
{
	if (s->bayes == NULL || s->state != FS_ENDED || !s->bmsg_valid)
		return SL_ESTATE;
	return bayes_learn(s->bayes, &s->bmsg, cls, cb, ctx);
}

int flt_verdict_headers(const flt_filter_t *f, const flt_verdict_t *v, sl_buf_t *out)
{
	int rc = sl_buf_printf(out, "X-Spam-Status: %s, score=%.1f required=%.1f set=%u\r\n",
			       v->cls == FLT_SPAM ? "Yes" : "No", v->score, f->cfg.spam_score,
			       v->set);

	if (rc == 0)
		rc = sl_buf_printf(out, "X-Spam-Score: %.1f (%s)\r\n", v->score, v->rules);
	if (rc == 0)
		rc = sl_buf_printf(out, "X-Virus-Scanned: Sluice%s%s\r\n",
				   v->virus[0] ? "; found " : "", v->virus);
	return rc;
}

const char *flt_action_str(enum flt_action a)
{
	switch (a) {
	case FLT_ACCEPT: return "accept";
	case FLT_TAG: return "tag";
	case FLT_QUARANTINE: return "quarantine";
	case FLT_REJECT: return "reject";
	}
	return "unknown";
}

const char *flt_class_str(enum flt_class c)
{
	switch (c) {
	case FLT_HAM: return "ham";
	case FLT_SPAM: return "spam";
	case FLT_VIRUS: return "virus";
	case FLT_POLICY: return "policy";
	}
	return "unknown";
}
