/* imap_search - SEARCH / UID SEARCH (RFC 9051 §6.4.4) with ESEARCH
 * results (RFC 4731) and the CONDSTORE MODSEQ key (RFC 7162 §3.1.5).
 *
 * The keys are parsed into a small tree (at most IMAP_SEARCH_NODES_MAX
 * nodes; nesting is bounded by the parser's depth limit), the glue walks
 * the mailbox's messages (IMAP_REQ_FETCH with the metadata the keys need),
 * and the engine evaluates each. Keys on the message content (BODY, TEXT,
 * HEADER, FROM, TO, CC, BCC, SUBJECT, SENTBEFORE/ON/SINCE) become
 * predicates the request carries (IMAP_WANT_TEXTMATCH): the glue evaluates
 * them while it reads each message (imap_textmatch.h) and reports one bit
 * per predicate, which the tree then uses like any other key. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap_private.h"
#include "sl_err.h"

struct imap_sparse {
	imap_session_t *s;
	struct imap_parser *ps;
	struct imap_search *se;
	bool refuse; /* a valid key we do not support: NO, not BAD */
	bool badcharset; /* a search string not in the charset: NO [BADCHARSET] */
};

static bool imap_ascii(sl_slice_t a)
{
	for (size_t i = 0; i < a.len; i++)
		if (a.ptr[i] >= 0x80)
			return false;
	return true;
}

static int32_t imap_snode_new(struct imap_sparse *sp, enum imap_sk kind)
{
	struct imap_search *se = sp->se;
	struct imap_snode *n;

	if (se->n_nodes >= IMAP_SEARCH_NODES_MAX) {
		imap_p_fail(sp->ps, "[LIMIT] Search too complex");
		return -1;
	}
	n = &se->nodes[se->n_nodes];
	memset(n, 0, sizeof(*n));
	n->kind = kind;
	n->child = -1;
	n->next = -1;
	return (int32_t)se->n_nodes++;
}

static int32_t imap_skey(struct imap_sparse *sp);

/* imap_skey_list - keys separated by SP until ')' or the line end; an AND */
static int32_t imap_skey_list(struct imap_sparse *sp, bool paren)
{
	struct imap_parser *ps = sp->ps;
	int32_t and = imap_snode_new(sp, IMAP_SK_AND), last = -1;

	if (and < 0)
		return -1;
	for (;;) {
		int32_t k = imap_skey(sp);

		if (k < 0)
			return -1;
		if (last < 0)
			sp->se->nodes[and].child = k;
		else
			sp->se->nodes[last].next = k;
		last = k;
		if (paren ? imap_p_at(ps, ')') : imap_p_end(ps))
			break;
		if (!imap_p_sp(ps))
			return -1;
	}
	return and;
}

static const struct {
	const char *name;
	enum imap_sk kind;
	uint32_t flag;
} imap_flag_keys[] = {
	{"ANSWERED", IMAP_SK_FLAG, IMAP_FLAG_ANSWERED},   {"DELETED", IMAP_SK_FLAG, IMAP_FLAG_DELETED},
	{"DRAFT", IMAP_SK_FLAG, IMAP_FLAG_DRAFT},         {"FLAGGED", IMAP_SK_FLAG, IMAP_FLAG_FLAGGED},
	{"SEEN", IMAP_SK_FLAG, IMAP_FLAG_SEEN},           {"UNANSWERED", IMAP_SK_UNFLAG, IMAP_FLAG_ANSWERED},
	{"UNDELETED", IMAP_SK_UNFLAG, IMAP_FLAG_DELETED}, {"UNDRAFT", IMAP_SK_UNFLAG, IMAP_FLAG_DRAFT},
	{"UNFLAGGED", IMAP_SK_UNFLAG, IMAP_FLAG_FLAGGED}, {"UNSEEN", IMAP_SK_UNFLAG, IMAP_FLAG_SEEN},
};

/* Content keys: a predicate for the glue. FIELD: the header field the
 * key stands for (HEADER names its own). */
static const struct {
	const char *name;
	const char *field;
	enum imap_text_kind kind;
} imap_text_keys[] = {
	{"BCC", "Bcc", IMAP_TEXT_HEADER},
	{"CC", "Cc", IMAP_TEXT_HEADER},
	{"FROM", "From", IMAP_TEXT_HEADER},
	{"SUBJECT", "Subject", IMAP_TEXT_HEADER},
	{"TO", "To", IMAP_TEXT_HEADER},
	{"HEADER", NULL, IMAP_TEXT_HEADER},
	{"BODY", NULL, IMAP_TEXT_BODY},
	{"TEXT", NULL, IMAP_TEXT_TEXT},
	{"SENTBEFORE", NULL, IMAP_TEXT_SENTBEFORE},
	{"SENTON", NULL, IMAP_TEXT_SENTON},
	{"SENTSINCE", NULL, IMAP_TEXT_SENTSINCE},
};

/* Keys of extensions we do not advertise (RFC 5032 WITHIN, RFC 8514
 * SAVEDATE, RFC 6203 FUZZY, Gmail's X-GM-RAW): NO [CANNOT], not BAD. */
static const char *const imap_unsupported_keys[] = {"FUZZY",  "SAVEDBEFORE", "SAVEDON", "SAVEDSINCE",
						    "OLDER",  "YOUNGER",     "X-GM-RAW"};

/* imap_stext - the arguments of content key I into a new predicate. */
static int32_t imap_stext(struct imap_sparse *sp, size_t i)
{
	struct imap_parser *ps = sp->ps;
	struct imap_search *se = sp->se;
	struct imap_text_pred *pr;
	enum imap_text_kind kind = imap_text_keys[i].kind;
	sl_slice_t field = {NULL, 0}, needle = {NULL, 0};
	int64_t days = 0;
	int32_t k;

	if (!imap_p_sp(ps))
		return -1;
	if (kind == IMAP_TEXT_SENTBEFORE || kind == IMAP_TEXT_SENTON || kind == IMAP_TEXT_SENTSINCE) {
		if (!imap_p_date(ps, &days))
			return -1;
	} else {
		if (imap_text_keys[i].field != NULL) {
			field = sl_slice_make(imap_text_keys[i].field, strlen(imap_text_keys[i].field));
		} else if (kind == IMAP_TEXT_HEADER) {
			/* header-fld-name: printable ASCII but ':' (RFC 5322 §3.6.8) */
			if (!imap_p_astring(ps, &field) || !imap_p_sp(ps))
				return -1;
			if (field.len == 0 || field.len > IMAP_TEXT_FIELD_MAX)
				return imap_p_fail(ps, "Invalid header field name"), -1;
			for (size_t j = 0; j < field.len; j++)
				if (field.ptr[j] < 33 || field.ptr[j] > 126 || field.ptr[j] == ':')
					return imap_p_fail(ps, "Invalid header field name"), -1;
		}
		if (!imap_p_astring(ps, &needle))
			return -1;
		/* CHARSET UTF-8 (or none: we take UTF-8, as IMAP4rev2 does);
		 * US-ASCII allows no 8-bit byte */
		if ((se->ascii_only && !imap_ascii(needle)) ||
		    !imap_utf8_valid(needle.ptr, needle.len)) {
			sp->badcharset = true;
			return imap_p_fail(ps, "Search string is not in the given charset"), -1;
		}
	}
	if (se->n_preds >= IMAP_TEXT_PREDS_MAX)
		return imap_p_fail(ps, "[LIMIT] Too many text search keys"), -1;
	k = imap_snode_new(sp, IMAP_SK_TEXT);
	if (k < 0)
		return -1;
	pr = &se->preds[se->n_preds];
	pr->kind = kind;
	pr->field = field;
	pr->needle = needle;
	pr->days = days;
	se->nodes[k].num = se->n_preds++;
	se->want |= IMAP_WANT_TEXTMATCH;
	return k;
}

/* imap_sset - a sequence set as key: UIDs ('*' = the last UID) or
 * sequence numbers ('*' = the last one; numbers past the end match
 * nothing, as Dovecot and Cyrus do). */
static int32_t imap_sset(struct imap_sparse *sp, bool uid)
{
	const struct imap_view *v = &sp->s->view;
	struct imap_range *set;
	uint32_t n, top = uid ? (v->n ? v->uids[v->n - 1] : 0) : v->n;
	int32_t k;

	if (!imap_p_seqset(sp->ps, &set, &n))
		return -1;
	for (uint32_t i = 0; i < n; i++) {
		if (set[i].lo == UINT32_MAX)
			set[i].lo = top;
		if (set[i].hi == UINT32_MAX)
			set[i].hi = top;
		if (set[i].lo > set[i].hi) {
			uint32_t t = set[i].lo;

			set[i].lo = set[i].hi;
			set[i].hi = t;
		}
	}
	k = imap_snode_new(sp, uid ? IMAP_SK_UID : IMAP_SK_SEQ);
	if (k < 0)
		return -1;
	sp->se->nodes[k].ranges = set;
	sp->se->nodes[k].n_ranges = n;
	return k;
}

static int32_t imap_skey(struct imap_sparse *sp)
{
	struct imap_parser *ps = sp->ps;
	struct imap_search *se = sp->se;
	sl_slice_t a;
	int32_t k;
	uint32_t u32;
	uint64_t u64;
	int64_t days;

	if (imap_p_at(ps, '(')) {
		if (!imap_p_open(ps))
			return -1;
		k = imap_skey_list(sp, true);
		if (k < 0 || !imap_p_close(ps))
			return -1;
		return k;
	}
	if (ps->pos < ps->n && ((ps->p[ps->pos] >= '0' && ps->p[ps->pos] <= '9') ||
				ps->p[ps->pos] == '*'))
		return imap_sset(sp, false);
	if (!imap_p_atom(ps, &a))
		return -1;
	if (sl_slice_eq_nocase(a, "ALL"))
		return imap_snode_new(sp, IMAP_SK_ALL);
	for (size_t i = 0; i < sizeof(imap_flag_keys) / sizeof(imap_flag_keys[0]); i++) {
		if (sl_slice_eq_nocase(a, imap_flag_keys[i].name)) {
			k = imap_snode_new(sp, imap_flag_keys[i].kind);
			if (k >= 0)
				se->nodes[k].num = imap_flag_keys[i].flag;
			return k;
		}
	}
	if (sl_slice_eq_nocase(a, "RECENT"))
		return imap_snode_new(sp, IMAP_SK_RECENT);
	if (sl_slice_eq_nocase(a, "NEW"))
		return imap_snode_new(sp, IMAP_SK_NEW);
	if (sl_slice_eq_nocase(a, "OLD"))
		return imap_snode_new(sp, IMAP_SK_OLD);
	if (sl_slice_eq_nocase(a, "KEYWORD") || sl_slice_eq_nocase(a, "UNKEYWORD")) {
		bool un = a.len == 9;
		sl_slice_t kw;

		if (!imap_p_sp(ps) || !imap_p_atom(ps, &kw))
			return -1;
		k = imap_snode_new(sp, un ? IMAP_SK_UNKEYWORD : IMAP_SK_KEYWORD);
		if (k >= 0)
			se->nodes[k].kw = kw;
		se->want |= IMAP_WANT_KEYWORDS;
		return k;
	}
	if (sl_slice_eq_nocase(a, "LARGER") || sl_slice_eq_nocase(a, "SMALLER")) {
		bool larger = a.len == 6;

		if (!imap_p_sp(ps) || !imap_p_number64(ps, &u64))
			return -1;
		k = imap_snode_new(sp, larger ? IMAP_SK_LARGER : IMAP_SK_SMALLER);
		if (k >= 0)
			se->nodes[k].num = u64;
		se->want |= IMAP_WANT_SIZE;
		return k;
	}
	if (sl_slice_eq_nocase(a, "BEFORE") || sl_slice_eq_nocase(a, "ON") ||
	    sl_slice_eq_nocase(a, "SINCE")) {
		enum imap_sk kind = a.len == 6 ? IMAP_SK_BEFORE : a.len == 2 ? IMAP_SK_ON : IMAP_SK_SINCE;

		if (!imap_p_sp(ps) || !imap_p_date(ps, &days))
			return -1;
		k = imap_snode_new(sp, kind);
		if (k >= 0)
			se->nodes[k].num = (uint64_t)days;
		se->want |= IMAP_WANT_DATE;
		return k;
	}
	if (sl_slice_eq_nocase(a, "UID")) {
		if (!imap_p_sp(ps))
			return -1;
		return imap_sset(sp, true);
	}
	if (sl_slice_eq_nocase(a, "NOT")) {
		int32_t c;

		k = imap_snode_new(sp, IMAP_SK_NOT);
		if (k < 0 || !imap_p_sp(ps) || (c = imap_skey(sp)) < 0)
			return -1;
		se->nodes[k].child = c;
		return k;
	}
	if (sl_slice_eq_nocase(a, "OR")) {
		int32_t c1, c2;

		k = imap_snode_new(sp, IMAP_SK_OR);
		if (k < 0 || !imap_p_sp(ps) || (c1 = imap_skey(sp)) < 0 || !imap_p_sp(ps) ||
		    (c2 = imap_skey(sp)) < 0)
			return -1;
		se->nodes[k].child = c1;
		se->nodes[c1].next = c2;
		return k;
	}
	if (sl_slice_eq_nocase(a, "MODSEQ")) {
		/* MODSEQ [entry-name entry-type-req] mod-sequence-valzer */
		sl_slice_t ename;

		if (!imap_p_sp(ps))
			return -1;
		if (imap_p_at(ps, '"')) {
			if (!imap_p_string(ps, &ename) || !imap_p_sp(ps) || !imap_p_atom(ps, &a) ||
			    !imap_p_sp(ps))
				return -1;
		}
		if (!imap_p_number64(ps, &u64))
			return -1;
		k = imap_snode_new(sp, IMAP_SK_MODSEQ);
		if (k >= 0)
			se->nodes[k].num = u64;
		se->want |= IMAP_WANT_MODSEQ;
		se->has_modseq = true;
		sp->s->enabled |= IMAP_EN_CONDSTORE;
		return k;
	}
	for (size_t i = 0; i < sizeof(imap_text_keys) / sizeof(imap_text_keys[0]); i++)
		if (sl_slice_eq_nocase(a, imap_text_keys[i].name))
			return imap_stext(sp, i);
	for (size_t i = 0; i < sizeof(imap_unsupported_keys) / sizeof(imap_unsupported_keys[0]); i++) {
		if (sl_slice_eq_nocase(a, imap_unsupported_keys[i])) {
			sp->refuse = true;
			imap_p_fail(ps, "Search key not supported");
			return -1;
		}
	}
	(void)u32;
	imap_p_fail(ps, "Unknown search key");
	return -1;
}

bool imap_search_parse(imap_session_t *s, struct imap_parser *ps)
{
	struct imap_search *se = s->search;
	struct imap_sparse sp = {s, ps, NULL, false, false};
	sl_slice_t a;

	if (se == NULL) {
		se = calloc(1, sizeof(*se));
		if (se == NULL)
			return imap_p_fail(ps, "[SERVERBUG] Out of memory");
		s->search = se;
	}
	{
		uint32_t *hits = se->hits;
		uint32_t cap = se->hits_cap;

		memset(se, 0, sizeof(*se));
		se->hits = hits;
		se->hits_cap = cap;
	}
	sp.se = se;
	se->esearch = (s->enabled & IMAP_EN_IMAP4REV2) != 0;
	if (!imap_p_sp(ps))
		return false;
	/* RETURN (options) (RFC 4731 §3.1) */
	if (ps->n - ps->pos >= 7 && !strncasecmp((const char *)ps->p + ps->pos, "RETURN ", 7)) {
		bool first = true;

		ps->pos += 7;
		if (!imap_p_open(ps))
			return false;
		se->esearch = true;
		while (!imap_p_at(ps, ')')) {
			if (!first && !imap_p_sp(ps))
				return false;
			first = false;
			if (!imap_p_atom(ps, &a))
				return false;
			if (sl_slice_eq_nocase(a, "MIN"))
				se->ret |= IMAP_SR_MIN;
			else if (sl_slice_eq_nocase(a, "MAX"))
				se->ret |= IMAP_SR_MAX;
			else if (sl_slice_eq_nocase(a, "ALL"))
				se->ret |= IMAP_SR_ALL;
			else if (sl_slice_eq_nocase(a, "COUNT"))
				se->ret |= IMAP_SR_COUNT;
			else
				return imap_p_fail(ps, "Unknown RETURN option");
		}
		if (!imap_p_close(ps) || !imap_p_sp(ps))
			return false;
	}
	if (se->ret == 0)
		se->ret = IMAP_SR_ALL; /* RFC 4731 §3.1: () means ALL */
	if (ps->n - ps->pos >= 8 && !strncasecmp((const char *)ps->p + ps->pos, "CHARSET ", 8)) {
		sl_slice_t cs;

		ps->pos += 8;
		if (!imap_p_astring(ps, &cs) || !imap_p_sp(ps))
			return false;
		if (!sl_slice_eq_nocase(cs, "UTF-8") && !sl_slice_eq_nocase(cs, "US-ASCII")) {
			imap_tagged(s, "NO", "[BADCHARSET (UTF-8 US-ASCII)] Unsupported charset");
			ps->err = NULL;
			return false;
		}
		se->ascii_only = sl_slice_eq_nocase(cs, "US-ASCII");
	}
	se->root = imap_skey_list(&sp, false);
	if (se->root < 0) {
		if (sp.refuse) {
			imap_tagged(s, "NO", "[CANNOT] %s", ps->err);
			ps->err = NULL;
		} else if (sp.badcharset) {
			imap_tagged(s, "NO", "[BADCHARSET (UTF-8 US-ASCII)] %s", ps->err);
			ps->err = NULL;
		}
		return false;
	}
	return imap_p_eol(ps);
}

static bool imap_in_ranges(const struct imap_range *r, uint32_t n, uint32_t v)
{
	for (uint32_t i = 0; i < n; i++)
		if (v >= r[i].lo && v <= r[i].hi)
			return true;
	return false;
}

static int64_t imap_days(int64_t t, int32_t tz_min)
{
	int64_t l = t + (int64_t)tz_min * 60;

	return l >= 0 ? l / 86400 : -((-l + 86399) / 86400);
}

/* imap_seval - does message M (sequence number MSN) match node K? */
static bool imap_seval(const imap_session_t *s, int32_t k, const struct imap_msg_meta *m,
		       uint32_t msn)
{
	const struct imap_snode *n = &s->search->nodes[k];
	bool recent = s->view.recent[msn - 1] != 0;
	int32_t c;

	switch (n->kind) {
	case IMAP_SK_ALL:
		return true;
	case IMAP_SK_AND:
		for (c = n->child; c >= 0; c = s->search->nodes[c].next)
			if (!imap_seval(s, c, m, msn))
				return false;
		return true;
	case IMAP_SK_OR:
		return imap_seval(s, n->child, m, msn) ||
		       imap_seval(s, s->search->nodes[n->child].next, m, msn);
	case IMAP_SK_NOT:
		return !imap_seval(s, n->child, m, msn);
	case IMAP_SK_FLAG:
		return (m->flags & n->num) != 0;
	case IMAP_SK_UNFLAG:
		return (m->flags & n->num) == 0;
	case IMAP_SK_KEYWORD:
	case IMAP_SK_UNKEYWORD: {
		bool has = false;

		for (size_t i = 0; i < m->n_keywords && !has; i++)
			has = m->keywords[i].len == n->kw.len &&
			      !strncasecmp((const char *)m->keywords[i].ptr, (const char *)n->kw.ptr,
					   n->kw.len);
		return n->kind == IMAP_SK_KEYWORD ? has : !has;
	}
	case IMAP_SK_RECENT:
		return recent;
	case IMAP_SK_NEW:
		return recent && !(m->flags & IMAP_FLAG_SEEN);
	case IMAP_SK_OLD:
		return !recent;
	case IMAP_SK_LARGER:
		return m->size > n->num;
	case IMAP_SK_SMALLER:
		return m->size < n->num;
	case IMAP_SK_UID:
		return imap_in_ranges(n->ranges, n->n_ranges, m->uid);
	case IMAP_SK_SEQ:
		return imap_in_ranges(n->ranges, n->n_ranges, msn);
	case IMAP_SK_BEFORE:
		return imap_days(m->internaldate, m->tz_min) < (int64_t)n->num;
	case IMAP_SK_ON:
		return imap_days(m->internaldate, m->tz_min) == (int64_t)n->num;
	case IMAP_SK_SINCE:
		return imap_days(m->internaldate, m->tz_min) >= (int64_t)n->num;
	case IMAP_SK_MODSEQ:
		return m->modseq >= n->num;
	case IMAP_SK_TEXT:
		return (m->text_match >> n->num) & 1;
	default:
		return false;
	}
}

int imap_search_msg(imap_session_t *s, const struct imap_msg_meta *m)
{
	struct imap_search *se = s->search;
	uint32_t msn = imap_view_msn(s, m->uid);

	if (msn == 0 || m->uid <= se->after)
		return 0;
	se->after = m->uid;
	if (!imap_seval(s, se->root, m, msn))
		return 0;
	if (se->n_hits == se->hits_cap) {
		uint32_t cap = se->hits_cap ? se->hits_cap * 2 : 256;
		uint32_t *h;

		if (cap > s->view.n)
			cap = s->view.n;
		h = realloc(se->hits, (size_t)cap * sizeof(*h));
		if (h == NULL)
			return SL_ENOMEM;
		se->hits = h;
		se->hits_cap = cap;
	}
	se->hits[se->n_hits++] = s->uid ? m->uid : msn;
	if (m->modseq > se->max_modseq)
		se->max_modseq = m->modseq;
	return 0;
}

/* imap_search_out - write the results as the output drains. */
static bool imap_search_out(imap_session_t *s)
{
	struct imap_search *se = s->search;
	bool any = false;

	if (!se->out_started) {
		se->out_started = true;
		any = true;
		if (se->esearch) {
			/* RFC 4731 §3.1 / RFC 9051 §7.3.4 */
			imap_printf(s, "* ESEARCH (TAG ");
			imap_write_string(s, sl_slice_make(s->tag, s->tag_len));
			imap_out(s, ")", 1);
			if (s->uid)
				imap_out(s, " UID", 4);
			if ((se->ret & IMAP_SR_MIN) && se->n_hits)
				imap_printf(s, " MIN %" PRIu32, se->hits[0]);
			if ((se->ret & IMAP_SR_MAX) && se->n_hits)
				imap_printf(s, " MAX %" PRIu32, se->hits[se->n_hits - 1]);
			if (se->ret & IMAP_SR_COUNT)
				imap_printf(s, " COUNT %" PRIu32, se->n_hits);
			if (!(se->ret & IMAP_SR_ALL) || se->n_hits == 0)
				se->out_next = se->n_hits;
			else
				imap_out(s, " ALL ", 5);
		} else {
			imap_out(s, "* SEARCH", 8);
		}
	}
	while (se->out_next < se->n_hits && imap_room(s) >= 64) {
		uint32_t i = se->out_next, j = i;

		if (se->esearch) {
			/* ALL as a compact sequence set */
			while (j + 1 < se->n_hits && se->hits[j + 1] == se->hits[j] + 1)
				j++;
			if (j > i)
				imap_printf(s, "%s%" PRIu32 ":%" PRIu32, i ? "," : "", se->hits[i],
					    se->hits[j]);
			else
				imap_printf(s, "%s%" PRIu32, i ? "," : "", se->hits[i]);
		} else {
			imap_printf(s, " %" PRIu32, se->hits[i]);
		}
		se->out_next = j + 1;
		any = true;
	}
	if (se->out_next < se->n_hits || imap_room(s) < 64)
		return any;
	if (se->has_modseq && se->n_hits > 0) {
		/* RFC 7162 §3.1.5 */
		if (se->esearch)
			imap_printf(s, " MODSEQ %" PRIu64, se->max_modseq);
		else
			imap_printf(s, " (MODSEQ %" PRIu64 ")", se->max_modseq);
	}
	imap_out(s, "\r\n", 2);
	s->stats->searches++;
	imap_tagged(s, "OK", "SEARCH completed");
	return true;
}

/* imap_search_narrow - clip R (UIDs) to the span of every UID or sequence
 * set key at the top level of the search (they are ANDed with the rest):
 * the glue then reads, and for content keys scans, only the messages that
 * can match. False if nothing is left. */
static bool imap_search_narrow(const imap_session_t *s, struct imap_range *r)
{
	const struct imap_search *se = s->search;
	const struct imap_view *v = &s->view;

	for (int32_t c = se->nodes[se->root].child; c >= 0; c = se->nodes[c].next) {
		const struct imap_snode *n = &se->nodes[c];
		uint32_t lo = UINT32_MAX, hi = 0;

		if (n->kind != IMAP_SK_UID && n->kind != IMAP_SK_SEQ)
			continue;
		for (uint32_t i = 0; i < n->n_ranges; i++) {
			if (n->ranges[i].lo < lo)
				lo = n->ranges[i].lo;
			if (n->ranges[i].hi > hi)
				hi = n->ranges[i].hi;
		}
		if (n->kind == IMAP_SK_SEQ) {
			/* sequence numbers to the UIDs they stand for */
			if (lo == 0)
				lo = 1;
			if (n->n_ranges == 0 || hi == 0 || lo > v->n)
				return false;
			if (hi > v->n)
				hi = v->n;
			lo = v->uids[lo - 1];
			hi = v->uids[hi - 1];
		}
		if (lo > r->lo)
			r->lo = lo;
		if (hi < r->hi)
			r->hi = hi;
		if (r->lo > r->hi)
			return false;
	}
	return true;
}

bool imap_search_pump(imap_session_t *s)
{
	struct imap_search *se = s->search;

	if (s->req.kind != IMAP_REQ_NONE)
		return false;
	if (se->iter_done || s->view.n == 0)
		return imap_search_out(s);
	if (imap_room(s) < IMAP_REPLY_RESERVE)
		return false;
	/* every message of the view: the keys decide */
	if (s->ranges == NULL) {
		s->ranges = malloc((size_t)s->cfg->seqset_max * sizeof(*s->ranges));
		if (s->ranges == NULL) {
			imap_tagged(s, "NO", "[SERVERBUG] Out of memory");
			return true;
		}
	}
	s->ranges[0].lo = s->view.uids[0];
	s->ranges[0].hi = s->view.uids[s->view.n - 1];
	if (!imap_search_narrow(s, &s->ranges[0])) {
		se->iter_done = true; /* a UID or sequence key leaves nothing */
		return imap_search_out(s);
	}
	s->n_ranges = 1;
	se->stopped = false;
	s->req.u.fetch.uids = s->ranges;
	s->req.u.fetch.n_uids = 1;
	s->req.u.fetch.after = se->after;
	s->req.u.fetch.want = se->want;
	s->req.u.fetch.text = se->preds;
	s->req.u.fetch.n_text = se->n_preds;
	imap_request_issue(s, IMAP_REQ_FETCH);
	return true;
}
