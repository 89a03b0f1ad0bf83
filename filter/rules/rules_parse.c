/* rules_parse - the rule language (docs/filter-rules.md) into rule_t and
 * pat_t records: one line at a time, every error as "file:line: reason". */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bayes/bayes.h"
#include "rules_private.h"
#include "sl_err.h"

/* Regex flags written after the closing delimiter. */
enum { RX_I = 1, RX_M = 2, RX_S = 4 };

/* score / describe / tflags lines wait until every rule is known. */
enum attr_kind { AT_SCORE, AT_DESCRIBE, AT_TFLAGS };
typedef struct attr {
	enum attr_kind kind;
	char *name;
	char *text; /* the rest of the line */
	const char *file;
	unsigned line;
} attr_t;

typedef struct pstate {
	flt_ruleset_t *set;
	size_t rules_cap, pats_cap, targets_cap;
	attr_t *attrs;
	size_t nattrs, attrs_cap;
	uint8_t *pat_rxflags; /* RX_* per pattern, until resolution */
	char *err;
	size_t errlen;
	const char *file;
	unsigned line;
} pstate_t;

__attribute__((format(printf, 2, 3))) static int perr(pstate_t *ps, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(ps->err, ps->errlen, "%s:%u: ", ps->file, ps->line);

	if (n < 0 || (size_t)n >= ps->errlen)
		return SL_ECONFIG;
	va_start(ap, fmt);
	vsnprintf(ps->err + n, ps->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return SL_ECONFIG;
}

static int grow(void **arr, size_t *cap, size_t need, size_t elem)
{
	size_t ncap;
	void *p;

	if (need <= *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 64;
	while (ncap < need)
		ncap *= 2;
	p = realloc(*arr, ncap * elem);
	if (p == NULL)
		return SL_ENOMEM;
	memset((char *)p + *cap * elem, 0, (ncap - *cap) * elem);
	*arr = p;
	*cap = ncap;
	return 0;
}

static char *xstrndup(const char *s, size_t n)
{
	char *p = malloc(n + 1);

	if (p != NULL) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

static bool name_ok(const char *s, size_t n)
{
	if (n == 0 || n > FLT_RULES_MAX_NAME)
		return false;
	if (!isalpha((unsigned char)s[0]) && s[0] != '_')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_')
			return false;
	return true;
}

/* Next whitespace-separated token of [*p, end): sets tok/len, advances. */
static bool next_tok(const char **p, const char *end, const char **tok, size_t *len)
{
	const char *s = *p;

	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	if (s == end)
		return false;
	*tok = s;
	while (s < end && *s != ' ' && *s != '\t')
		s++;
	*len = (size_t)(s - *tok);
	*p = s;
	return true;
}

static const char *skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

static int new_rule(pstate_t *ps, const char *name, size_t nlen, enum flt_rule_type type,
		    rule_t **r_r)
{
	flt_ruleset_t *set = ps->set;
	rule_t *r;

	if (!name_ok(name, nlen))
		return perr(ps, "bad rule name '%.*s' (letters, digits and _, at most %d)",
			    (int)(nlen > 80 ? 80 : nlen), name, FLT_RULES_MAX_NAME);
	if (set->nrules >= FLT_RULES_MAX_RULES) {
		perr(ps, "more than %d rules", FLT_RULES_MAX_RULES);
		return SL_ELIMIT;
	}
	if (grow((void **)&set->rules, &ps->rules_cap, set->nrules + 1, sizeof(rule_t)))
		return SL_ENOMEM;
	r = &set->rules[set->nrules];
	memset(r, 0, sizeof(*r));
	r->name = xstrndup(name, nlen);
	r->describe = xstrndup("", 0);
	if (r->name == NULL || r->describe == NULL) {
		free(r->name);
		free(r->describe);
		return SL_ENOMEM;
	}
	set->nrules++;
	r->file = ps->file;
	r->line = ps->line;
	r->type = type;
	r->maxhits = 1000;
	r->score[0] = r->score[1] = 1.0;
	*r_r = r;
	return 0;
}

static int add_pat(pstate_t *ps, rule_t *r, uint32_t ridx, enum pat_kind kind, uint16_t target,
		   const char *re, size_t relen, uint8_t rxflags)
{
	flt_ruleset_t *set = ps->set;
	uint32_t *np;
	pat_t *p;

	if (grow((void **)&set->pats, &ps->pats_cap, set->npats + 1, sizeof(pat_t)))
		return SL_ENOMEM;
	np = realloc(r->pats, (r->npats + 1) * sizeof(*np));
	if (np == NULL)
		return SL_ENOMEM;
	r->pats = np;
	/* pat_rxflags grows with pats (same capacity). */
	{
		uint8_t *f = realloc(ps->pat_rxflags, ps->pats_cap);

		if (f == NULL)
			return SL_ENOMEM;
		ps->pat_rxflags = f;
	}
	p = &set->pats[set->npats];
	memset(p, 0, sizeof(*p));
	p->re = xstrndup(re, relen);
	if (p->re == NULL)
		return SL_ENOMEM;
	p->rule = ridx;
	p->kind = (uint8_t)kind;
	p->target = target;
	ps->pat_rxflags[set->npats] = rxflags;
	r->pats[r->npats++] = (uint32_t)set->npats;
	set->npats++;
	return 0;
}

/* /re/flags or m<d>re<d>flags: the closing delimiter is the last one on the
 * line, so the expression itself may contain the delimiter. */
static int parse_regex(pstate_t *ps, const char *p, const char *end, const char **re_r,
		       size_t *len_r, uint8_t *flags_r)
{
	char d;
	const char *close;

	p = skip_ws(p, end);
	while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if (p == end)
		return perr(ps, "missing pattern");
	if (*p == 'm' && end - p >= 2 && ispunct((unsigned char)p[1]) && p[1] != '\\')
		p++;
	d = *p;
	if (d != '/' && !(ispunct((unsigned char)d) && p[-1] == 'm'))
		return perr(ps, "pattern must be written /regex/flags");
	close = end - 1;
	while (close > p && *close != d)
		close--;
	if (close == p)
		return perr(ps, "pattern has no closing '%c'", d);
	*flags_r = 0;
	for (const char *f = close + 1; f < end; f++) {
		switch (*f) {
		case 'i': *flags_r |= RX_I; break;
		case 'm': *flags_r |= RX_M; break;
		case 's': *flags_r |= RX_S; break;
		default:
			return perr(ps, "unknown pattern flag '%c' (i, m and s are supported)", *f);
		}
	}
	*re_r = p + 1;
	*len_r = (size_t)(close - p - 1);
	if (*len_r == 0)
		return perr(ps, "empty pattern");
	if (memchr(*re_r, '\0', *len_r) != NULL)
		return perr(ps, "NUL byte in pattern");
	return 0;
}

static int find_target(pstate_t *ps, uint8_t kind, const char *key, size_t klen, uint16_t *t_r)
{
	flt_ruleset_t *set = ps->set;
	target_t *t;

	for (size_t i = 0; i < set->ntargets; i++) {
		t = &set->targets[i];
		if (t->kind == kind && strlen(t->key) == klen && memcmp(t->key, key, klen) == 0) {
			*t_r = (uint16_t)i;
			return 0;
		}
	}
	if (set->ntargets >= 65535)
		return perr(ps, "too many distinct header targets");
	if (grow((void **)&set->targets, &ps->targets_cap, set->ntargets + 1, sizeof(target_t)))
		return SL_ENOMEM;
	t = &set->targets[set->ntargets];
	memset(t, 0, sizeof(*t));
	t->key = xstrndup(key, klen);
	if (t->key == NULL)
		return SL_ENOMEM;
	for (size_t i = 0; i < klen; i++)
		t->key[i] = (char)tolower((unsigned char)t->key[i]);
	t->kind = kind;
	*t_r = (uint16_t)set->ntargets++;
	return 0;
}

static bool hname_ok(const char *s, size_t n)
{
	if (n == 0 || n > 200)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 32 || (unsigned char)s[i] >= 127 || s[i] == ':')
			return false;
	return true;
}

/* header NAME Target =~ /re/ | header NAME Target !~ /re/ | header NAME exists:Name */
static int parse_header(pstate_t *ps, rule_t *r, const char *p, const char *end)
{
	const char *tok, *re;
	size_t tlen, relen;
	uint8_t kind = TG_NAME, rxf;
	uint16_t t;
	int rc;

	if (!next_tok(&p, end, &tok, &tlen))
		return perr(ps, "header rule %s: missing header name", r->name);
	if (tlen > 7 && strncmp(tok, "exists:", 7) == 0) {
		if (!hname_ok(tok + 7, tlen - 7))
			return perr(ps, "header rule %s: bad header name '%.*s'", r->name,
				    (int)(tlen - 7 > 80 ? 80 : tlen - 7), tok + 7);
		if (skip_ws(p, end) != end)
			return perr(ps, "header rule %s: unexpected text after exists:", r->name);
		r->type = FLT_RULE_EXISTS;
		rc = find_target(ps, TG_NAME, tok + 7, tlen - 7, &t);
		if (rc != 0)
			return rc;
		r->target = t;
		return 0;
	}
	if (tlen == 3 && memcmp(tok, "ALL", 3) == 0) {
		kind = TG_ALL;
		tlen = 0;
	} else if (tlen == 4 && memcmp(tok, "ToCc", 4) == 0) {
		kind = TG_TOCC;
		tlen = 0;
	} else if (tlen > 4 && memcmp(tok + tlen - 4, ":raw", 4) == 0) {
		kind = TG_RAW;
		tlen -= 4;
	}
	if (kind == TG_NAME || kind == TG_RAW) {
		if (!hname_ok(tok, tlen))
			return perr(ps, "header rule %s: bad header name '%.*s'", r->name,
				    (int)(tlen > 80 ? 80 : tlen), tok);
	}
	rc = find_target(ps, kind, tok, tlen, &t);
	if (rc != 0)
		return rc;
	r->target = t;
	if (!next_tok(&p, end, &tok, &tlen) || tlen != 2 || tok[1] != '~' ||
	    (tok[0] != '=' && tok[0] != '!'))
		return perr(ps, "header rule %s: expected =~ or !~ after the header name",
			    r->name);
	r->negate = tok[0] == '!';
	rc = parse_regex(ps, p, end, &re, &relen, &rxf);
	if (rc != 0)
		return rc;
	return add_pat(ps, r, (uint32_t)(r - ps->set->rules), PK_HEADER, t, re, relen, rxf);
}

static int parse_line(pstate_t *ps, const char *p, const char *end)
{
	static const struct {
		const char *kw;
		enum flt_rule_type type;
		enum pat_kind kind;
	} pat_kws[] = {
		{"body", FLT_RULE_BODY, PK_BODY},     {"rawbody", FLT_RULE_RAWBODY, PK_RAWBODY},
		{"uri", FLT_RULE_URI, PK_URI},        {"full", FLT_RULE_FULL, PK_FULL},
	};
	const char *kw, *name, *re;
	size_t kwlen, nlen, relen;
	uint8_t rxf;
	rule_t *r;
	int rc;

	if (!next_tok(&p, end, &kw, &kwlen))
		return 0;
	if (kw[0] == '#')
		return 0;
	if (!next_tok(&p, end, &name, &nlen))
		return perr(ps, "'%.*s' needs a rule name", (int)(kwlen > 40 ? 40 : kwlen), kw);

	for (size_t i = 0; i < sizeof(pat_kws) / sizeof(pat_kws[0]); i++) {
		if (strlen(pat_kws[i].kw) != kwlen || memcmp(kw, pat_kws[i].kw, kwlen) != 0)
			continue;
		rc = new_rule(ps, name, nlen, pat_kws[i].type, &r);
		if (rc != 0)
			return rc;
		rc = parse_regex(ps, p, end, &re, &relen, &rxf);
		if (rc != 0)
			return rc;
		return add_pat(ps, r, (uint32_t)(r - ps->set->rules), pat_kws[i].kind, 0, re,
			       relen, rxf);
	}
	if (kwlen == 6 && memcmp(kw, "header", 6) == 0) {
		rc = new_rule(ps, name, nlen, FLT_RULE_HEADER, &r);
		return rc != 0 ? rc : parse_header(ps, r, p, end);
	}
	if (kwlen == 4 && memcmp(kw, "meta", 4) == 0) {
		rc = new_rule(ps, name, nlen, FLT_RULE_META, &r);
		if (rc != 0)
			return rc;
		p = skip_ws(p, end);
		if (p == end)
			return perr(ps, "meta %s: missing expression", r->name);
		/* Kept as text in meta_names[0] until every rule is known. */
		r->meta_names = calloc(1, sizeof(char *));
		if (r->meta_names == NULL)
			return SL_ENOMEM;
		r->meta_names[0] = xstrndup(p, (size_t)(end - p));
		return r->meta_names[0] == NULL ? SL_ENOMEM : 0;
	}
	{
		enum attr_kind ak;
		attr_t *a;

		if (kwlen == 5 && memcmp(kw, "score", 5) == 0)
			ak = AT_SCORE;
		else if (kwlen == 8 && memcmp(kw, "describe", 8) == 0)
			ak = AT_DESCRIBE;
		else if (kwlen == 6 && memcmp(kw, "tflags", 6) == 0)
			ak = AT_TFLAGS;
		else
			return perr(ps, "unknown directive '%.*s'", (int)(kwlen > 40 ? 40 : kwlen),
				    kw);
		if (!name_ok(name, nlen))
			return perr(ps, "bad rule name '%.*s'", (int)(nlen > 80 ? 80 : nlen), name);
		if (grow((void **)&ps->attrs, &ps->attrs_cap, ps->nattrs + 1, sizeof(attr_t)))
			return SL_ENOMEM;
		a = &ps->attrs[ps->nattrs];
		p = skip_ws(p, end);
		while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		a->kind = ak;
		a->name = xstrndup(name, nlen);
		a->text = xstrndup(p, (size_t)(end - p));
		a->file = ps->file;
		a->line = ps->line;
		if (a->name == NULL || a->text == NULL) {
			free(a->name);
			free(a->text);
			return SL_ENOMEM;
		}
		ps->nattrs++;
		return 0;
	}
}

static int parse_source(pstate_t *ps, const flt_rules_src_t *src)
{
	const char *p = src->text, *end = src->text + src->len;
	char **files;
	int rc;

	files = realloc(ps->set->files, (ps->set->nfiles + 1) * sizeof(char *));
	if (files == NULL)
		return SL_ENOMEM;
	ps->set->files = files;
	files[ps->set->nfiles] = strdup(src->name != NULL ? src->name : "<string>");
	if (files[ps->set->nfiles] == NULL)
		return SL_ENOMEM;
	ps->file = files[ps->set->nfiles++];
	ps->line = 0;
	if (src->len > FLT_RULES_MAX_FILE) {
		perr(ps, "file larger than %u bytes", FLT_RULES_MAX_FILE);
		return SL_ELIMIT;
	}
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl != NULL ? nl : end;

		ps->line++;
		if ((size_t)(le - p) > FLT_RULES_MAX_LINE) {
			perr(ps, "line longer than %d bytes", FLT_RULES_MAX_LINE);
			return SL_ELIMIT;
		}
		if (memchr(p, '\0', (size_t)(le - p)) != NULL)
			return perr(ps, "NUL byte in line");
		if (le > p && le[-1] == '\r')
			le--;
		rc = parse_line(ps, p, le);
		if (rc != 0)
			return rc;
		p = nl != NULL ? nl + 1 : end;
	}
	return 0;
}

static int cmp_name_idx(const void *a, const void *b, void *arg)
{
	const flt_ruleset_t *set = arg;

	return strcmp(set->rules[*(const uint32_t *)a].name, set->rules[*(const uint32_t *)b].name);
}

int rules_find(const flt_ruleset_t *set, const char *name, size_t len)
{
	size_t lo = 0, hi = set->nrules;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		const char *n = set->rules[set->by_name[mid]].name;
		int c = strncmp(n, name, len);

		if (c == 0 && n[len] != '\0')
			c = 1;
		if (c == 0)
			return (int)set->by_name[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

static int apply_attr(pstate_t *ps, const attr_t *a)
{
	flt_ruleset_t *set = ps->set;
	int idx = rules_find(set, a->name, strlen(a->name));
	rule_t *r;

	ps->file = a->file;
	ps->line = a->line;
	if (idx < 0)
		return perr(ps, "%s for unknown rule %s",
			    a->kind == AT_SCORE ? "score" : a->kind == AT_DESCRIBE ? "describe" : "tflags",
			    a->name);
	r = &set->rules[idx];
	if (r->type == FLT_RULE_BUILTIN)
		return perr(ps, "%s is built in and cannot be changed", r->name);
	if (r->type == FLT_RULE_EXTERNAL && a->kind == AT_TFLAGS)
		return perr(ps, "tflags %s: %s is scored outside the rule engine and takes no flags",
			    r->name, r->name);
	switch (a->kind) {
	case AT_SCORE: {
		/* `score NAME a [b]`: a for both sets, or a without a Bayes
		 * opinion and b with one. */
		const char *p = a->text;
		double v[2];
		int n = 0;

		while (*p != '\0') {
			char *e;

			if (n == 2)
				return perr(ps, "score %s: more than two scores (set 0 without Bayes, "
					    "set 1 with Bayes)", r->name);
			errno = 0;
			v[n] = strtod(p, &e);
			if (e == p || errno != 0 || !isfinite(v[n]) ||
			    (*e != '\0' && *e != ' ' && *e != '\t')) {
				size_t w = strcspn(p, " \t");

				return perr(ps, "score %s: '%.*s' is not a number", r->name,
					    (int)(w > 80 ? 80 : w), p);
			}
			if (fabs(v[n]) > FLT_RULES_MAX_SCORE)
				return perr(ps, "score %s: %g is beyond +-%g", r->name, v[n],
					    FLT_RULES_MAX_SCORE);
			n++;
			p = e;
			while (*p == ' ' || *p == '\t')
				p++;
		}
		if (n == 0)
			return perr(ps, "score %s: missing score", r->name);
		r->score[FLT_SET_NOBAYES] = v[0];
		r->score[FLT_SET_BAYES] = n == 2 ? v[1] : v[0];
		r->has_score = true;
		return 0;
	}
	case AT_DESCRIBE: {
		char *d;

		if (strlen(a->text) > 256)
			return perr(ps, "describe %s: longer than 256 bytes", r->name);
		d = strdup(a->text);
		if (d == NULL)
			return SL_ENOMEM;
		free(r->describe);
		r->describe = d;
		return 0;
	}
	case AT_TFLAGS: {
		const char *p = a->text, *end = a->text + strlen(a->text), *tok;
		size_t tl;

		while (next_tok(&p, end, &tok, &tl)) {
			if (tl == 8 && memcmp(tok, "multiple", 8) == 0) {
				r->multiple = true;
			} else if (tl == 6 && memcmp(tok, "nocase", 6) == 0) {
				r->nocase = true;
			} else if (tl > 8 && memcmp(tok, "maxhits=", 8) == 0) {
				char buf[16], *e;
				unsigned long v;

				if (tl - 8 >= sizeof(buf))
					return perr(ps, "tflags %s: bad maxhits", r->name);
				memcpy(buf, tok + 8, tl - 8);
				buf[tl - 8] = '\0';
				errno = 0;
				v = strtoul(buf, &e, 10);
				if (*e != '\0' || errno != 0 || v < 1 || v > 65535)
					return perr(ps, "tflags %s: maxhits must be 1..65535",
						    r->name);
				r->maxhits = (uint32_t)v;
				r->multiple = true;
			} else {
				return perr(ps,
					    "tflags %s: unknown flag '%.*s' (multiple, nocase, "
					    "maxhits=N)",
					    r->name, (int)(tl > 40 ? 40 : tl), tok);
			}
		}
		if ((r->multiple || r->nocase) && r->type == FLT_RULE_META)
			return perr(ps, "tflags %s: a meta rule takes no flags", r->name);
		if (r->multiple && (r->type == FLT_RULE_EXISTS || r->negate))
			return perr(ps, "tflags %s: multiple needs a positive pattern rule",
				    r->name);
		return 0;
	}
	}
	return 0;
}

/* Meta expressions: precedence climbing into RPN.
 *   or := and ('||' and)*   and := cmp ('&&' cmp)*
 *   cmp := sum (('>'|'>='|'<'|'<='|'=='|'!=') sum)?
 *   sum := prod (('+'|'-') prod)*   prod := unary (('*'|'/') unary)*
 *   unary := ('!'|'-') unary | primary   primary := NUMBER | NAME | '(' or ')' */
typedef struct mparse {
	pstate_t *ps;
	rule_t *r;
	const char *p, *end;
	mtok_t *out;
	size_t n, cap;
	unsigned depth;
	int rc;
} mparse_t;

static void mp_ws(mparse_t *m)
{
	while (m->p < m->end && isspace((unsigned char)*m->p))
		m->p++;
}

static bool mp_eat(mparse_t *m, const char *op)
{
	size_t l = strlen(op);

	mp_ws(m);
	if ((size_t)(m->end - m->p) >= l && memcmp(m->p, op, l) == 0) {
		/* '>' must not eat the start of '>=' etc. */
		if (l == 1 && m->p + 1 < m->end && m->p[1] == '=' && strchr("<>!=", op[0]))
			return false;
		if (l == 1 && (op[0] == '&' || op[0] == '|'))
			return false;
		m->p += l;
		return true;
	}
	return false;
}

static void mp_emit(mparse_t *m, uint8_t op, uint32_t rule, double num)
{
	if (m->rc != 0)
		return;
	if (m->n >= FLT_RULES_MAX_META_TOKENS) {
		m->rc = perr(m->ps, "meta %s: expression longer than %d terms", m->r->name,
			     FLT_RULES_MAX_META_TOKENS);
		m->rc = SL_ELIMIT;
		return;
	}
	if (m->n == m->cap) {
		size_t nc = m->cap ? m->cap * 2 : 16;
		mtok_t *t = realloc(m->out, nc * sizeof(*t));

		if (t == NULL) {
			m->rc = SL_ENOMEM;
			return;
		}
		m->out = t;
		m->cap = nc;
	}
	m->out[m->n++] = (mtok_t){op, rule, num};
}

static void mp_or(mparse_t *m);

static void mp_primary(mparse_t *m)
{
	mp_ws(m);
	if (m->rc != 0)
		return;
	if (m->p == m->end) {
		m->rc = perr(m->ps, "meta %s: expression ends too early", m->r->name);
		return;
	}
	if (*m->p == '(') {
		m->p++;
		mp_or(m);
		if (m->rc == 0 && !mp_eat(m, ")"))
			m->rc = perr(m->ps, "meta %s: missing ')'", m->r->name);
		return;
	}
	if (isdigit((unsigned char)*m->p) || *m->p == '.') {
		char buf[32], *e;
		size_t l = 0;

		while (m->p + l < m->end && (isdigit((unsigned char)m->p[l]) || m->p[l] == '.') &&
		       l < sizeof(buf) - 1)
			l++;
		memcpy(buf, m->p, l);
		buf[l] = '\0';
		double v = strtod(buf, &e);
		if (*e != '\0' || !isfinite(v)) {
			m->rc = perr(m->ps, "meta %s: bad number '%s'", m->r->name, buf);
			return;
		}
		m->p += l;
		mp_emit(m, MOP_NUM, 0, v);
		return;
	}
	if (isalpha((unsigned char)*m->p) || *m->p == '_') {
		const char *s = m->p;
		int idx;

		while (m->p < m->end && (isalnum((unsigned char)*m->p) || *m->p == '_'))
			m->p++;
		idx = rules_find(m->ps->set, s, (size_t)(m->p - s));
		if (idx < 0) {
			m->rc = perr(m->ps, "meta %s: unknown rule %.*s", m->r->name,
				     (int)(m->p - s > 80 ? 80 : m->p - s), s);
			return;
		}
		if (m->ps->set->rules[idx].type == FLT_RULE_EXTERNAL) {
			/* Bayes runs after the rules: its bands are not known
			 * when metas are evaluated. */
			m->rc = perr(m->ps, "meta %s: %s is scored outside the rule engine",
				     m->r->name, m->ps->set->rules[idx].name);
			return;
		}
		mp_emit(m, MOP_RULE, (uint32_t)idx, 0);
		return;
	}
	m->rc = perr(m->ps, "meta %s: unexpected '%c'", m->r->name, *m->p);
}

static void mp_unary(mparse_t *m)
{
	if (++m->depth > 64) {
		m->rc = perr(m->ps, "meta %s: expression nested too deeply", m->r->name);
		m->rc = SL_ELIMIT;
		return;
	}
	mp_ws(m);
	if (m->p < m->end && *m->p == '!' && !(m->p + 1 < m->end && m->p[1] == '=')) {
		m->p++;
		mp_unary(m);
		mp_emit(m, MOP_NOT, 0, 0);
	} else if (m->p < m->end && *m->p == '-') {
		m->p++;
		mp_unary(m);
		mp_emit(m, MOP_NEG, 0, 0);
	} else {
		mp_primary(m);
	}
	m->depth--;
}

static void mp_prod(mparse_t *m)
{
	mp_unary(m);
	while (m->rc == 0) {
		if (mp_eat(m, "*")) {
			mp_unary(m);
			mp_emit(m, MOP_MUL, 0, 0);
		} else if (mp_eat(m, "/")) {
			mp_unary(m);
			mp_emit(m, MOP_DIV, 0, 0);
		} else {
			break;
		}
	}
}

static void mp_sum(mparse_t *m)
{
	mp_prod(m);
	while (m->rc == 0) {
		if (mp_eat(m, "+")) {
			mp_prod(m);
			mp_emit(m, MOP_ADD, 0, 0);
		} else if (mp_eat(m, "-")) {
			mp_prod(m);
			mp_emit(m, MOP_SUB, 0, 0);
		} else {
			break;
		}
	}
}

static void mp_cmp(mparse_t *m)
{
	static const struct {
		const char *s;
		uint8_t op;
	} ops[] = {{">=", MOP_GE}, {"<=", MOP_LE}, {"==", MOP_EQ}, {"!=", MOP_NE},
		   {">", MOP_GT},  {"<", MOP_LT}};

	mp_sum(m);
	if (m->rc != 0)
		return;
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		if (mp_eat(m, ops[i].s)) {
			mp_sum(m);
			mp_emit(m, ops[i].op, 0, 0);
			return;
		}
	}
}

static void mp_and(mparse_t *m)
{
	mp_cmp(m);
	while (m->rc == 0 && mp_eat(m, "&&")) {
		mp_cmp(m);
		mp_emit(m, MOP_AND, 0, 0);
	}
}

static void mp_or(mparse_t *m)
{
	if (++m->depth > 64) {
		m->rc = perr(m->ps, "meta %s: expression nested too deeply", m->r->name);
		m->rc = SL_ELIMIT;
		return;
	}
	mp_and(m);
	while (m->rc == 0 && mp_eat(m, "||")) {
		mp_and(m);
		mp_emit(m, MOP_OR, 0, 0);
	}
	m->depth--;
}

static int compile_meta(pstate_t *ps, rule_t *r)
{
	mparse_t m = {.ps = ps, .r = r};
	const char *text = r->meta_names[0];

	ps->file = r->file;
	ps->line = r->line;
	m.p = text;
	m.end = text + strlen(text);
	mp_or(&m);
	mp_ws(&m);
	if (m.rc == 0 && m.p != m.end)
		m.rc = perr(ps, "meta %s: unexpected '%.20s'", r->name, m.p);
	if (m.rc != 0) {
		free(m.out);
		return m.rc;
	}
	r->meta = m.out;
	r->nmeta = m.n;
	free(r->meta_names[0]);
	free(r->meta_names);
	r->meta_names = NULL;
	return 0;
}

/* Depth-first order of metas, so each is evaluated after the metas it uses. */
static int order_meta(pstate_t *ps, uint32_t ri, uint8_t *mark)
{
	flt_ruleset_t *set = ps->set;
	rule_t *r = &set->rules[ri];
	int rc;

	if (mark[ri] == 2)
		return 0;
	if (mark[ri] == 1) {
		ps->file = r->file;
		ps->line = r->line;
		return perr(ps, "meta %s: refers to itself through other metas", r->name);
	}
	mark[ri] = 1;
	for (size_t i = 0; i < r->nmeta; i++) {
		uint32_t d = r->meta[i].rule;

		if (r->meta[i].op != MOP_RULE || set->rules[d].type != FLT_RULE_META)
			continue;
		rc = order_meta(ps, d, mark);
		if (rc != 0)
			return rc;
	}
	mark[ri] = 2;
	set->meta_order[set->nmeta_order++] = ri;
	return 0;
}

static int compile_pcre(pstate_t *ps, size_t pi)
{
	pat_t *p = &ps->set->pats[pi];
	rule_t *r = &ps->set->rules[p->rule];
	uint8_t rx = ps->pat_rxflags[pi];
	uint32_t opts = 0;
	int errc;
	PCRE2_SIZE erroff;

	if ((rx & RX_I) || r->nocase)
		opts |= PCRE2_CASELESS;
	if (rx & RX_M)
		opts |= PCRE2_MULTILINE;
	if (rx & RX_S)
		opts |= PCRE2_DOTALL;
	p->hsflags = 0;
	if (opts & PCRE2_CASELESS)
		p->hsflags |= HS_FLAG_CASELESS;
	if (opts & PCRE2_MULTILINE)
		p->hsflags |= HS_FLAG_MULTILINE;
	if (opts & PCRE2_DOTALL)
		p->hsflags |= HS_FLAG_DOTALL;
	if (r->multiple) {
		p->flags |= PF_SOM;
		p->hsflags |= HS_FLAG_SOM_LEFTMOST;
	} else {
		p->hsflags |= HS_FLAG_SINGLEMATCH;
	}
	p->pcre = pcre2_compile((PCRE2_SPTR)p->re, PCRE2_ZERO_TERMINATED, opts, &errc, &erroff,
				NULL);
	if (p->pcre == NULL) {
		PCRE2_UCHAR msg[160];

		pcre2_get_error_message(errc, msg, sizeof(msg));
		ps->file = r->file;
		ps->line = r->line;
		return perr(ps, "rule %s: bad pattern at offset %zu: %s", r->name, (size_t)erroff,
			    (const char *)msg);
	}
	(void)pcre2_jit_compile(p->pcre, PCRE2_JIT_COMPLETE); /* interpreter if no JIT */
	return 0;
}

static int add_builtin(pstate_t *ps)
{
	static const enum pat_kind kinds[] = {PK_BODY, PK_RAWBODY, PK_FULL};
	rule_t *r;
	int rc;

	ps->file = "<builtin>";
	ps->line = 0;
	rc = new_rule(ps, "GTUBE", 5, FLT_RULE_BUILTIN, &r);
	if (rc != 0)
		return rc;
	r->score[0] = r->score[1] = FLT_RULES_GTUBE_SCORE;
	r->has_score = true;
	free(r->describe);
	r->describe = strdup("Generic Test for Unsolicited Bulk Email");
	if (r->describe == NULL)
		return SL_ENOMEM;
	for (size_t i = 0; i < 3; i++) {
		/* The GTUBE string with its regex metacharacters escaped. */
		rc = add_pat(ps, r, 0, kinds[i], 0,
			     "XJS\\*C4JDBQADN1\\.NSBN3\\*2IDNEN\\*GTUBE-STANDARD-ANTI-UBE-TEST-"
			     "EMAIL\\*C\\.34X",
			     strlen("XJS\\*C4JDBQADN1\\.NSBN3\\*2IDNEN\\*GTUBE-STANDARD-ANTI-UBE-"
				    "TEST-EMAIL\\*C\\.34X"),
			     0);
		if (rc != 0)
			return rc;
	}
	/* The Bayes bands: scored by filter.c from the Bayes probability, with
	 * the score these rules carry (their defaults, or a `score` line). */
	for (unsigned i = 0; i < bayes_rules_n; i++) {
		const bayes_rule_t *b = &bayes_rules[i];

		rc = new_rule(ps, b->name, strlen(b->name), FLT_RULE_EXTERNAL, &r);
		if (rc != 0)
			return rc;
		r->score[0] = r->score[1] = b->score;
		r->has_score = true;
		free(r->describe);
		r->describe = strdup(b->describe);
		if (r->describe == NULL)
			return SL_ENOMEM;
	}
	return 0;
}

int rules_parse(flt_ruleset_t *set, const flt_rules_src_t *srcs, size_t n, char *err,
		size_t errlen)
{
	pstate_t ps = {.set = set, .err = err, .errlen = errlen};
	uint8_t *mark = NULL;
	int rc;

	rc = add_builtin(&ps);
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = parse_source(&ps, &srcs[i]);
	if (rc != 0)
		goto out;

	set->by_name = malloc(set->nrules * sizeof(uint32_t));
	set->meta_order = malloc(set->nrules * sizeof(uint32_t));
	set->exists = malloc(set->nrules * sizeof(uint32_t));
	mark = calloc(set->nrules, 1);
	if (set->by_name == NULL || set->meta_order == NULL || set->exists == NULL ||
	    mark == NULL) {
		rc = SL_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < set->nrules; i++)
		set->by_name[i] = (uint32_t)i;
	qsort_r(set->by_name, set->nrules, sizeof(uint32_t), cmp_name_idx, set);
	for (size_t i = 1; i < set->nrules; i++) {
		const rule_t *a = &set->rules[set->by_name[i - 1]];
		const rule_t *b = &set->rules[set->by_name[i]];

		if (strcmp(a->name, b->name) == 0) {
			if (b < a) { /* report the later definition */
				const rule_t *t = a;
				a = b;
				b = t;
			}
			ps.file = b->file;
			ps.line = b->line;
			rc = a->type == FLT_RULE_BUILTIN || a->type == FLT_RULE_EXTERNAL
				     ? perr(&ps, "%s is built in and cannot be redefined", b->name)
				     : perr(&ps, "rule %s already defined at %s:%u", b->name,
					    a->file, a->line);
			goto out;
		}
	}
	for (size_t i = 0; i < ps.nattrs; i++) {
		rc = apply_attr(&ps, &ps.attrs[i]);
		if (rc != 0)
			goto out;
	}
	for (size_t i = 0; i < set->nrules; i++) {
		rule_t *r = &set->rules[i];

		if (!r->has_score && strncmp(r->name, "__", 2) == 0)
			r->score[0] = r->score[1] = 0;
		if (r->type == FLT_RULE_META) {
			rc = compile_meta(&ps, r);
			if (rc != 0)
				goto out;
		}
		if (r->type == FLT_RULE_EXISTS)
			set->exists[set->nexists++] = (uint32_t)i;
	}
	for (size_t i = 0; i < set->nrules; i++) {
		if (set->rules[i].type == FLT_RULE_META) {
			rc = order_meta(&ps, (uint32_t)i, mark);
			if (rc != 0)
				goto out;
		}
	}
	for (size_t i = 0; i < set->npats; i++) {
		rc = compile_pcre(&ps, i);
		if (rc != 0)
			goto out;
	}
out:
	if (rc == SL_ENOMEM)
		snprintf(err, errlen, "out of memory compiling rules");
	for (size_t i = 0; i < ps.nattrs; i++) {
		free(ps.attrs[i].name);
		free(ps.attrs[i].text);
	}
	free(ps.attrs);
	free(ps.pat_rxflags);
	free(mark);
	return rc;
}
