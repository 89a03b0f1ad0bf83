/* rules_scan - the per-thread scanner: Hyperscan scratch and streams,
 * per-message counters, PCRE2 confirmation of prefilter candidates, metas
 * and scores at the end of a message. */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rules_private.h"
#include "sl_err.h"

enum { SC_IDLE, SC_OPEN };

/* Stream data is gathered up to this many bytes before it goes to
 * Hyperscan: callers feed a line or a network chunk at a time, and each
 * hs_scan_stream call costs a stream-state load and save for every engine
 * of the database, more than scanning a line's bytes. Matching is the
 * same however a stream is cut, so gathering changes no result. */
#define STREAM_GATHER (16u << 10)

struct flt_rscan {
	flt_rules_t *holder;
	flt_ruleset_t *set;
	unsigned gen;
	flt_rscan_limits_t lim;
	int state;
	hs_scratch_t *scratch;
	hs_stream_t *streams[NSTREAMS];
	bool stream_dirty[NSTREAMS]; /* data went in since the last reset */
	uint8_t gather[NSTREAMS][STREAM_GATHER]; /* fed, not yet scanned */
	size_t ngather[NSTREAMS];
	sl_buf_t retain[NSTREAMS];   /* kept for PCRE2 when the db has prefilters */
	uint32_t body_nl;            /* newlines pending in body normalization */
	bool body_started;
	uint32_t *pcount;   /* per pattern: matches */
	uint64_t *plast;    /* per pattern: end of the last counted match (SOM) */
	uint8_t *cand;      /* per pattern: prefilter candidate */
	uint32_t *rcount;   /* per rule: EXISTS hits */
	double *val;        /* per rule: value at end */
	flt_rule_hit_t *hits;
	flt_rules_result_t res;
	pcre2_match_data *md;
	pcre2_match_context *mctx;
	const uint8_t *cur_data; /* header/URI being scanned (block confirmation) */
};

static void scan_release_set(flt_rscan_t *s)
{
	for (size_t k = 0; k < NSTREAMS; k++) {
		if (s->streams[k] != NULL)
			hs_close_stream(s->streams[k], s->scratch, NULL, NULL);
		s->streams[k] = NULL;
		sl_buf_free(&s->retain[k]);
	}
	if (s->scratch != NULL)
		hs_free_scratch(s->scratch);
	s->scratch = NULL;
	free(s->pcount);
	free(s->plast);
	free(s->cand);
	free(s->rcount);
	free(s->val);
	free(s->hits);
	s->pcount = NULL;
	s->plast = NULL;
	s->cand = NULL;
	s->rcount = NULL;
	s->val = NULL;
	s->hits = NULL;
	flt_ruleset_unref(&s->set);
}

static int alloc_scratch(flt_rscan_t *s, const bdb_t *b)
{
	if (b->db == NULL)
		return 0;
	return hs_alloc_scratch(b->db, &s->scratch) == HS_SUCCESS ? 0 : SL_ENOMEM;
}

/* Bind S to the holder's current set (scratch, streams, counters). */
static int scan_bind(flt_rscan_t *s)
{
	flt_ruleset_t *set = flt_rules_current(s->holder);
	size_t np, nr;
	int rc = 0;

	s->gen = set->generation;
	if (s->set == set) {
		flt_ruleset_unref(&set);
		return 0;
	}
	scan_release_set(s);
	s->set = set;
	np = set->npats ? set->npats : 1;
	nr = set->nrules ? set->nrules : 1;
	s->pcount = calloc(np, sizeof(*s->pcount));
	s->plast = calloc(np, sizeof(*s->plast));
	s->cand = calloc(np, 1);
	s->rcount = calloc(nr, sizeof(*s->rcount));
	s->val = calloc(nr, sizeof(*s->val));
	s->hits = calloc(nr, sizeof(*s->hits));
	if (s->pcount == NULL || s->plast == NULL || s->cand == NULL || s->rcount == NULL ||
	    s->val == NULL || s->hits == NULL)
		return SL_ENOMEM;
	for (size_t t = 0; rc == 0 && t < set->ntargets; t++)
		rc = alloc_scratch(s, &set->targets[t].bdb);
	if (rc == 0)
		rc = alloc_scratch(s, &set->uri);
	for (size_t k = 0; rc == 0 && k < NSTREAMS; k++) {
		const bdb_t *b = &set->streams[k];

		rc = alloc_scratch(s, b);
		if (rc == 0 && b->db != NULL &&
		    hs_open_stream(b->db, 0, &s->streams[k]) != HS_SUCCESS)
			rc = SL_ENOMEM;
		sl_buf_init(&s->retain[k], b->npf > 0 ? s->lim.retain_max : 0);
	}
	return rc;
}

int flt_rscan_new(flt_rules_t *rules, const flt_rscan_limits_t *limits, flt_rscan_t **scan_r)
{
	flt_rscan_t *s = calloc(1, sizeof(*s));
	int rc;

	*scan_r = NULL;
	if (s == NULL)
		return SL_ENOMEM;
	s->holder = rules;
	if (limits != NULL)
		s->lim = *limits;
	if (s->lim.retain_max == 0)
		s->lim.retain_max = 1u << 20;
	if (s->lim.header_max == 0)
		s->lim.header_max = 64u << 10;
	if (s->lim.uri_max == 0)
		s->lim.uri_max = 8u << 10;
	if (s->lim.pcre_match_limit == 0)
		s->lim.pcre_match_limit = 1000000;
	s->md = pcre2_match_data_create(32, NULL);
	s->mctx = pcre2_match_context_create(NULL);
	if (s->md == NULL || s->mctx == NULL) {
		rc = SL_ENOMEM;
		goto fail;
	}
	pcre2_set_match_limit(s->mctx, s->lim.pcre_match_limit);
	pcre2_set_depth_limit(s->mctx, 10000);
	rc = scan_bind(s);
	if (rc != 0)
		goto fail;
	*scan_r = s;
	return 0;
fail:
	flt_rscan_free(&s);
	return rc;
}

void flt_rscan_free(flt_rscan_t **scan_r)
{
	flt_rscan_t *s = *scan_r;

	*scan_r = NULL;
	if (s == NULL)
		return;
	scan_release_set(s);
	pcre2_match_data_free(s->md);
	pcre2_match_context_free(s->mctx);
	free(s);
}

/* Hyperscan match callback; CTX is the scanner. */
static int on_match(unsigned int id, unsigned long long from, unsigned long long to,
		    unsigned int flags, void *ctx)
{
	flt_rscan_t *s = ctx;
	const pat_t *p = &s->set->pats[id];
	const rule_t *r = &s->set->rules[p->rule];

	(void)flags;
	if (p->flags & PF_PREFILTER) {
		s->cand[id] = 1;
	} else if (p->flags & PF_SOM) {
		/* Count non-overlapping matches, as a global PCRE2 search would. */
		if (from >= s->plast[id] && s->pcount[id] < r->maxhits) {
			s->pcount[id]++;
			s->plast[id] = to;
		}
	} else {
		s->pcount[id] = 1;
	}
	return 0;
}

/* PCRE2 over DATA for pattern PI: add its matches (one, or all for
 * multiple) to pcount. */
static void confirm(flt_rscan_t *s, uint32_t pi, const uint8_t *data, size_t len)
{
	const pat_t *p = &s->set->pats[pi];
	const rule_t *r = &s->set->rules[p->rule];
	PCRE2_SIZE off = 0;

	while (off <= len && s->pcount[pi] < (r->multiple ? r->maxhits : 1)) {
		int rc = pcre2_match(p->pcre, data != NULL ? data : (const uint8_t *)"", len, off,
				     0, s->md, s->mctx);
		PCRE2_SIZE *ov;

		if (rc == PCRE2_ERROR_NOMATCH)
			return;
		if (rc < 0) {
			s->res.pcre_errors++;
			return;
		}
		s->pcount[pi]++;
		if (!r->multiple)
			return;
		ov = pcre2_get_ovector_pointer(s->md);
		off = ov[1] > ov[0] ? ov[1] : ov[1] + 1;
	}
}

/* Block scan of DATA with B, then confirmation of its candidates. */
static int block_scan(flt_rscan_t *s, const bdb_t *b, const uint8_t *data, size_t len)
{
	bool pcre_only = s->set->flags & FLT_RULES_F_PCRE_ONLY;

	if (b->nall == 0)
		return 0;
	/* Offsets restart with every block: so does non-overlap counting. */
	for (size_t i = 0; i < b->nall; i++)
		s->plast[b->all[i]] = 0;
	if (!pcre_only && hs_scan(b->db, data != NULL ? (const char *)data : "", (unsigned)len, 0,
				  s->scratch, on_match, s) != HS_SUCCESS)
		return SL_EIO;
	for (size_t i = 0; i < b->npf; i++) {
		uint32_t pi = b->pf[i];

		if (pcre_only || s->cand[pi]) {
			s->cand[pi] = 0;
			confirm(s, pi, data, len);
		}
	}
	return 0;
}

int flt_rscan_begin(flt_rscan_t *s)
{
	int rc = 0;

	if (s->state == SC_OPEN || s->res.hits != NULL) {
		for (size_t k = 0; k < NSTREAMS; k++) {
			if (s->streams[k] != NULL && s->stream_dirty[k])
				hs_reset_stream(s->streams[k], 0, s->scratch, NULL, NULL);
			s->stream_dirty[k] = false;
		}
	}
	if (flt_rules_generation(s->holder) != s->gen || s->set == NULL) {
		rc = scan_bind(s);
		if (rc != 0) {
			scan_release_set(s);
			s->state = SC_IDLE;
			return rc;
		}
	}
	memset(s->pcount, 0, s->set->npats * sizeof(*s->pcount));
	memset(s->plast, 0, s->set->npats * sizeof(*s->plast));
	memset(s->cand, 0, s->set->npats);
	memset(s->rcount, 0, s->set->nrules * sizeof(*s->rcount));
	for (size_t k = 0; k < NSTREAMS; k++) {
		sl_buf_reset(&s->retain[k]);
		s->ngather[k] = 0;
	}
	s->body_nl = 0;
	s->body_started = false;
	memset(&s->res, 0, sizeof(s->res));
	s->res.generation = s->gen;
	s->res.set = s->set;
	s->state = SC_OPEN;
	return 0;
}

static int scan_target(flt_rscan_t *s, int t, const uint8_t *data, size_t len)
{
	if (t < 0)
		return 0;
	return block_scan(s, &s->set->targets[t].bdb, data, len);
}

int flt_rscan_header(flt_rscan_t *s, sl_slice_t name, sl_slice_t raw, sl_slice_t decoded)
{
	const flt_ruleset_t *set;
	char lname[201];
	size_t lo, hi;
	int rc;

	if (s->state != SC_OPEN)
		return SL_ESTATE;
	set = s->set;
	if (raw.len > s->lim.header_max) {
		raw.len = s->lim.header_max;
		s->res.truncated = true;
	}
	if (decoded.len > s->lim.header_max) {
		decoded.len = s->lim.header_max;
		s->res.truncated = true;
	}
	if (set->tg_all >= 0) {
		/* ALL sees "Name: raw value" lines. */
		uint8_t buf[256 + 2];
		sl_buf_t line;

		sl_buf_init(&line, name.len + 2 + raw.len);
		if (name.len <= 256 && raw.len == 0) {
			memcpy(buf, name.ptr, name.len);
			memcpy(buf + name.len, ": ", 2);
			rc = scan_target(s, set->tg_all, buf, name.len + 2);
		} else if (sl_buf_append(&line, name.ptr, name.len) != 0 ||
			   sl_buf_append(&line, ": ", 2) != 0 ||
			   sl_buf_append(&line, raw.ptr, raw.len) != 0) {
			rc = SL_ENOMEM;
		} else {
			rc = scan_target(s, set->tg_all, line.data, line.len);
		}
		sl_buf_free(&line);
		if (rc != 0)
			return rc;
	}
	if (name.len == 0 || name.len >= sizeof(lname))
		return 0;
	for (size_t i = 0; i < name.len; i++)
		lname[i] = (char)tolower(name.ptr[i]);
	lname[name.len] = '\0';
	for (size_t i = 0; i < set->nexists; i++) {
		uint32_t ri = set->exists[i];

		if (strcmp(set->targets[set->rules[ri].target].key, lname) == 0)
			s->rcount[ri] = 1;
	}
	if (set->tg_tocc >= 0 && (strcmp(lname, "to") == 0 || strcmp(lname, "cc") == 0)) {
		rc = scan_target(s, set->tg_tocc, decoded.ptr, decoded.len);
		if (rc != 0)
			return rc;
	}
	lo = 0;
	hi = set->ntg_sorted;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (strcmp(set->targets[set->tg_sorted[mid]].key, lname) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < set->ntg_sorted; lo++) {
		const target_t *tg = &set->targets[set->tg_sorted[lo]];

		if (strcmp(tg->key, lname) != 0)
			break;
		rc = tg->kind == TG_RAW ? block_scan(s, &tg->bdb, raw.ptr, raw.len)
					: block_scan(s, &tg->bdb, decoded.ptr, decoded.len);
		if (rc != 0)
			return rc;
	}
	return 0;
}

int flt_rscan_uri(flt_rscan_t *s, sl_slice_t uri)
{
	if (s->state != SC_OPEN)
		return SL_ESTATE;
	if (uri.len > s->lim.uri_max) {
		uri.len = s->lim.uri_max;
		s->res.truncated = true;
	}
	return block_scan(s, &s->set->uri, uri.ptr, uri.len);
}

/* Scan what stream K has gathered. */
static int stream_flush(flt_rscan_t *s, size_t k)
{
	size_t n = s->ngather[k];

	s->ngather[k] = 0;
	if (n == 0 || s->streams[k] == NULL)
		return 0;
	if (hs_scan_stream(s->streams[k], (const char *)s->gather[k], (unsigned)n, 0, s->scratch,
			   on_match, s) != HS_SUCCESS)
		return SL_EIO;
	return 0;
}

/* Feed DATA to stream K (after any normalization). */
static int stream_feed(flt_rscan_t *s, size_t k, const uint8_t *data, size_t len)
{
	const bdb_t *b = &s->set->streams[k];
	sl_buf_t *keep = &s->retain[k];
	int rc;

	if (len == 0 || b->nall == 0)
		return 0;
	if (b->npf > 0 && keep->len < keep->max) {
		size_t room = keep->max - keep->len;

		if (sl_buf_append(keep, data, len < room ? len : room) != 0)
			return SL_ENOMEM;
		if (len > room)
			s->res.truncated = true;
	} else if (b->npf > 0) {
		s->res.truncated = true;
	}
	if (b->db == NULL)
		return 0;
	s->stream_dirty[k] = true;
	if (s->ngather[k] + len <= STREAM_GATHER) {
		memcpy(s->gather[k] + s->ngather[k], data, len);
		s->ngather[k] += len;
		return 0;
	}
	rc = stream_flush(s, k);
	if (rc != 0)
		return rc;
	if (len <= STREAM_GATHER / 2) {
		memcpy(s->gather[k], data, len);
		s->ngather[k] = len;
		return 0;
	}
	while (len > 0) {
		unsigned n = len > UINT32_MAX ? UINT32_MAX : (unsigned)len;

		if (hs_scan_stream(s->streams[k], (const char *)data, n, 0, s->scratch, on_match, s) !=
		    HS_SUCCESS)
			return SL_EIO;
		data += n;
		len -= n;
	}
	return 0;
}

/* Body text in paragraph mode: CR dropped, a single LF joins two lines with
 * a space, a run of two or more LFs ends a paragraph and becomes one LF.
 * The state crosses chunk boundaries. */
int flt_rscan_body(flt_rscan_t *s, sl_slice_t chunk)
{
	uint8_t out[4096];
	size_t n = 0;
	int rc;

	if (s->state != SC_OPEN)
		return SL_ESTATE;
	for (size_t i = 0; i < chunk.len; i++) {
		uint8_t c = chunk.ptr[i];

		if (c == '\r')
			continue;
		if (c == '\n') {
			if (s->body_nl < 2)
				s->body_nl++;
			continue;
		}
		if (n + 2 > sizeof(out)) {
			rc = stream_feed(s, 0, out, n);
			if (rc != 0)
				return rc;
			n = 0;
		}
		if (s->body_nl > 0 && s->body_started)
			out[n++] = s->body_nl == 1 ? ' ' : '\n';
		s->body_nl = 0;
		s->body_started = true;
		out[n++] = c;
	}
	return stream_feed(s, 0, out, n);
}

int flt_rscan_rawbody(flt_rscan_t *s, sl_slice_t chunk)
{
	if (s->state != SC_OPEN)
		return SL_ESTATE;
	return stream_feed(s, 1, chunk.ptr, chunk.len);
}

int flt_rscan_full(flt_rscan_t *s, sl_slice_t chunk)
{
	if (s->state != SC_OPEN)
		return SL_ESTATE;
	return stream_feed(s, 2, chunk.ptr, chunk.len);
}

static double meta_eval(const rule_t *r, const double *val)
{
	double st[FLT_RULES_MAX_META_TOKENS];
	size_t sp = 0;

	for (size_t i = 0; i < r->nmeta; i++) {
		const mtok_t *t = &r->meta[i];
		double a, b;

		switch (t->op) {
		case MOP_NUM: st[sp++] = t->num; continue;
		case MOP_RULE: st[sp++] = val[t->rule]; continue;
		case MOP_NOT: st[sp - 1] = st[sp - 1] == 0; continue;
		case MOP_NEG: st[sp - 1] = -st[sp - 1]; continue;
		default: break;
		}
		b = st[--sp];
		a = st[sp - 1];
		switch (t->op) {
		case MOP_AND: a = (a != 0) && (b != 0); break;
		case MOP_OR: a = (a != 0) || (b != 0); break;
		case MOP_ADD: a = a + b; break;
		case MOP_SUB: a = a - b; break;
		case MOP_MUL: a = a * b; break;
		case MOP_DIV: a = b == 0 ? 0 : a / b; break;
		case MOP_GT: a = a > b; break;
		case MOP_GE: a = a >= b; break;
		case MOP_LT: a = a < b; break;
		case MOP_LE: a = a <= b; break;
		case MOP_EQ: a = a == b; break;
		case MOP_NE: a = a != b; break;
		}
		st[sp - 1] = isfinite(a) ? a : 0;
	}
	return sp == 1 ? st[0] : 0;
}

int flt_rscan_end(flt_rscan_t *s, const flt_rules_result_t **result_r)
{
	const flt_ruleset_t *set;
	bool pcre_only;
	int rc = 0;

	if (s->state != SC_OPEN)
		return SL_ESTATE;
	set = s->set;
	pcre_only = set->flags & FLT_RULES_F_PCRE_ONLY;
	/* Flush the streams: end-anchored patterns match here. */
	for (size_t k = 0; k < NSTREAMS; k++) {
		if (s->streams[k] == NULL)
			continue;
		if (stream_flush(s, k) != 0)
			rc = SL_EIO;
		if (hs_reset_stream(s->streams[k], 0, s->scratch, on_match, s) != HS_SUCCESS)
			rc = SL_EIO;
		s->stream_dirty[k] = false;
	}
	for (size_t k = 0; k < NSTREAMS; k++) {
		const bdb_t *b = &set->streams[k];

		for (size_t i = 0; i < b->npf; i++) {
			uint32_t pi = b->pf[i];

			if (pcre_only || s->cand[pi])
				confirm(s, pi, s->retain[k].data, s->retain[k].len);
		}
	}
	/* Pattern counts into rule values, then metas in dependency order. */
	for (size_t i = 0; i < set->nrules; i++) {
		const rule_t *r = &set->rules[i];
		double v = 0;

		if (r->type == FLT_RULE_EXISTS) {
			v = s->rcount[i];
		} else if (r->type != FLT_RULE_META) {
			for (size_t j = 0; j < r->npats; j++)
				v += s->pcount[r->pats[j]];
			if (r->negate)
				v = v == 0;
			else if (!r->multiple && v > 1)
				v = 1;
			else if (v > r->maxhits)
				v = r->maxhits;
		}
		s->val[i] = v;
	}
	for (size_t i = 0; i < set->nmeta_order; i++) {
		uint32_t ri = set->meta_order[i];

		s->val[ri] = meta_eval(&set->rules[ri], s->val);
	}
	s->res.nhits = 0;
	s->res.score = 0;
	s->res.score_bayes = 0;
	for (size_t i = 0; i < set->nrules; i++) {
		const rule_t *r = &set->rules[i];

		if (s->val[i] == 0)
			continue;
		s->res.score += r->score[FLT_SET_NOBAYES];
		s->res.score_bayes += r->score[FLT_SET_BAYES];
		if (strncmp(r->name, "__", 2) == 0)
			continue;
		s->hits[s->res.nhits++] = (flt_rule_hit_t){r->name, r->describe,
							   r->score[FLT_SET_NOBAYES], s->val[i],
							   r->score[FLT_SET_BAYES]};
	}
	s->res.hits = s->hits;
	s->state = SC_IDLE;
	*result_r = &s->res;
	return rc;
}
