/* msg_html - streaming HTML to text, HTML entities, and URL finding.
 *
 * Not an HTML5 parser: a bounded state machine that does what a content
 * filter needs. Tags are removed (block-level ones become a line break,
 * inline ones nothing, so "Vi<b></b>agra" stays one word); the content of
 * script and style is dropped; comments and declarations are dropped;
 * entities (named, &#NNN; and &#xHH;) are decoded; runs of whitespace
 * become one space; URLs come from href/src/action/background attributes. */
#include <stddef.h>
#include <strings.h>

#include "message/msg_private.h"

static const struct {
	const char *name;
	uint32_t cp;
} entities[] = {
	{"amp", '&'},      {"lt", '<'},       {"gt", '>'},        {"quot", '"'},
	{"apos", '\''},    {"nbsp", ' '},     {"copy", 0xa9},     {"reg", 0xae},
	{"trade", 0x2122}, {"euro", 0x20ac},  {"pound", 0xa3},    {"yen", 0xa5},
	{"cent", 0xa2},    {"sect", 0xa7},    {"deg", 0xb0},      {"plusmn", 0xb1},
	{"times", 0xd7},   {"divide", 0xf7},  {"middot", 0xb7},   {"bull", 0x2022},
	{"hellip", 0x2026},{"ndash", 0x2013}, {"mdash", 0x2014},  {"lsquo", 0x2018},
	{"rsquo", 0x2019}, {"ldquo", 0x201c}, {"rdquo", 0x201d},  {"laquo", 0xab},
	{"raquo", 0xbb},   {"zwnj", 0x200c},  {"zwj", 0x200d},    {"shy", 0xad},
	{"iexcl", 0xa1},   {"iquest", 0xbf},  {"eacute", 0xe9},   {"egrave", 0xe8},
	{"aacute", 0xe1},  {"agrave", 0xe0},  {"auml", 0xe4},     {"ouml", 0xf6},
	{"uuml", 0xfc},    {"szlig", 0xdf},   {"ccedil", 0xe7},   {"ntilde", 0xf1},
	{"Auml", 0xc4},    {"Ouml", 0xd6},    {"Uuml", 0xdc},     {"Eacute", 0xc9},
	{"ecirc", 0xea},   {"acirc", 0xe2},   {"ocirc", 0xf4},    {"icirc", 0xee},
	{"oacute", 0xf3},  {"iacute", 0xed},  {"uacute", 0xfa},   {"thinsp", 0x2009},
	{"ensp", 0x2002},  {"emsp", 0x2003},  {"micro", 0xb5},    {"para", 0xb6},
};

size_t msg_entity_decode(const uint8_t *name, size_t n, uint8_t *out)
{
	if (n >= 2 && name[0] == '#') {
		uint32_t cp = 0;
		size_t i = 1;
		bool hex = false;
		if (name[1] == 'x' || name[1] == 'X') {
			hex = true;
			i = 2;
		}
		if (i >= n)
			return 0;
		for (; i < n; i++) {
			uint8_t c = msg_lower(name[i]);
			uint32_t d;
			if (c >= '0' && c <= '9')
				d = c - '0';
			else if (hex && c >= 'a' && c <= 'f')
				d = c - 'a' + 10;
			else
				return 0;
			cp = cp * (hex ? 16 : 10) + d;
			if (cp > 0x10ffff)
				cp = 0x110000; /* saturate: becomes U+FFFD */
		}
		if (cp == 0)
			cp = 0xfffd;
		return msg_utf8_put(cp, out);
	}
	for (size_t k = 0; k < sizeof(entities) / sizeof(entities[0]); k++) {
		if (strlen(entities[k].name) == n && memcmp(entities[k].name, name, n) == 0)
			return msg_utf8_put(entities[k].cp, out);
	}
	/* case-insensitive second chance for the ASCII ones (&AMP; &NBSP;) */
	for (size_t k = 0; k < 6; k++) {
		if (strlen(entities[k].name) == n && strncasecmp(entities[k].name, (const char *)name, n) == 0)
			return msg_utf8_put(entities[k].cp, out);
	}
	return 0;
}

/* --- URLs -------------------------------------------------------------- */

static bool url_delim(uint8_t c)
{
	return c <= ' ' || c == 0x7f || c == '<' || c == '>' || c == '"' || c == '\'' || c == '`';
}

static bool is_alpha(uint8_t c)
{
	c = msg_lower(c);
	return c >= 'a' && c <= 'z';
}

static bool is_alnum(uint8_t c)
{
	return is_alpha(c) || (c >= '0' && c <= '9');
}

int msg_url_in_token(const uint8_t *t, size_t n, size_t *off_r, size_t *len_r)
{
	size_t best = n, start = n;

	for (size_t i = 0; i + 3 <= n; i++) {
		if (t[i] == ':' && t[i + 1] == '/' && t[i + 2] == '/' && i + 3 < n && !url_delim(t[i + 3]) &&
		    t[i + 3] != '/') {
			size_t s = i;
			while (s > 0 && (is_alnum(t[s - 1]) || t[s - 1] == '+' || t[s - 1] == '-' || t[s - 1] == '.'))
				s--;
			while (s < i && !is_alpha(t[s]))
				s++;
			if (i - s >= 2) {
				best = s;
				break;
			}
		}
		if ((t[i] | 0x20) == 'm' && (i == 0 || !is_alnum(t[i - 1])) && i + 7 < n &&
		    strncasecmp((const char *)t + i, "mailto:", 7) == 0) {
			best = i;
			break;
		}
		if ((t[i] | 0x20) == 'w' &&
		    (i == 0 || (!is_alnum(t[i - 1]) && t[i - 1] != '.' && t[i - 1] != '/' && t[i - 1] != '@')) &&
		    i + 5 < n && strncasecmp((const char *)t + i, "www.", 4) == 0 && is_alnum(t[i + 4])) {
			best = i;
			break;
		}
	}
	if (best == n)
		return 0;
	start = best;
	size_t end = n;
	/* trailing punctuation belongs to the sentence, not the URL */
	while (end > start && strchr(".,;:!?)]}*", t[end - 1]) != NULL)
		end--;
	if (end - start < 5)
		return 0;
	*off_r = start;
	*len_r = end - start;
	return 1;
}

void msg_urlscan_init(msg_urlscan_t *u, uint32_t max)
{
	u->len = 0;
	u->overflow = false;
	u->max = max > 2048 ? 2048 : max;
}

int msg_urlscan_flush(msg_urlscan_t *u, msg_url_fn fn, void *ctx)
{
	size_t off, len;
	int rc = 0;

	if (u->len >= 5 && msg_url_in_token(u->tok, u->len, &off, &len))
		rc = fn(ctx, u->tok + off, len);
	u->len = 0;
	u->overflow = false;
	return rc;
}

int msg_urlscan_feed(msg_urlscan_t *u, const uint8_t *p, size_t n, msg_url_fn fn, void *ctx)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t c = p[i];
		if (url_delim(c)) {
			if (u->len) {
				int rc = msg_urlscan_flush(u, fn, ctx);
				if (rc < 0)
					return rc;
			}
			continue;
		}
		if (u->len < u->max)
			u->tok[u->len++] = c;
		else
			u->overflow = true;
	}
	return 0;
}

/* --- HTML -------------------------------------------------------------- */

enum {
	H_TEXT = 0,
	H_LT,
	H_BANG,
	H_BANG_DASH,
	H_COMMENT,
	H_DECL,
	H_TAGNAME,
	H_ATTRS,
	H_ATTRNAME,
	H_ATTR_AFTERNAME,
	H_ATTRVAL_START,
	H_ATTRVAL_Q,
	H_ATTRVAL_UQ,
	H_RAW,
	H_ENT,
};

/* Tags that break a line when rendered; compared by length first. */
static const struct {
	uint8_t len;
	char name[11];
} block_tags[] = {
	{2, "br"}, {1, "p"}, {3, "div"}, {2, "tr"}, {2, "li"}, {2, "h1"}, {2, "h2"}, {2, "h3"},
	{2, "h4"}, {2, "h5"}, {2, "h6"}, {5, "table"}, {2, "ul"}, {2, "ol"}, {10, "blockquote"},
	{2, "hr"}, {5, "title"}, {3, "pre"}, {2, "dt"}, {2, "dd"}, {7, "address"}, {7, "section"},
	{7, "article"}, {6, "header"}, {6, "footer"}, {4, "body"}, {4, "html"}, {4, "form"},
};

void msg_html_init(msg_html_t *h, uint32_t max_url)
{
	memset(h, 0, offsetof(msg_html_t, attr));
	h->max_attr = max_url > 2048 ? 2048 : max_url;
	h->last_space = true;
	h->nout = 0;
	h->nattr = 0;
}

static int out_flush(msg_html_t *h, msg_text_fn fn, void *ctx)
{
	int rc = 0;

	if (h->nout && fn)
		rc = fn(ctx, h->out, h->nout);
	h->nout = 0;
	return rc;
}

static int out_bytes(msg_html_t *h, const uint8_t *p, size_t n, msg_text_fn fn, void *ctx)
{
	for (size_t i = 0; i < n;) {
		if (h->nout == sizeof(h->out)) {
			int rc = out_flush(h, fn, ctx);
			if (rc < 0)
				return rc;
		}
		size_t k = sizeof(h->out) - h->nout;
		if (k > n - i)
			k = n - i;
		memcpy(h->out + h->nout, p + i, k);
		h->nout += (uint32_t)k;
		i += k;
	}
	if (n)
		h->last_space = (p[n - 1] == ' ' || p[n - 1] == '\n');
	return 0;
}

static int out_space(msg_html_t *h, uint8_t c, msg_text_fn fn, void *ctx)
{
	if (h->last_space)
		return 0;
	return out_bytes(h, &c, 1, fn, ctx);
}

static bool name_is(const uint8_t *nm, uint8_t n, const char *lit)
{
	/* strncmp stops at LIT's end; then LIT must end exactly at N */
	return strncmp(lit, (const char *)nm, n) == 0 && lit[n] == 0;
}

static int attr_done(msg_html_t *h, msg_text_fn fn, msg_url_fn url_fn, void *ctx)
{
	int rc = 0;

	if (h->url_attr && h->nattr > 0) {
		/* decode entities in place (&amp; in query strings): output is never longer */
		size_t o = 0;
		for (size_t i = 0; i < h->nattr; i++) {
			if (h->attr[i] == '&') {
				size_t j = i + 1;
				while (j < h->nattr && j - i < 32 && (is_alnum(h->attr[j]) || h->attr[j] == '#'))
					j++;
				uint8_t tmp[8];
				size_t k = (j > i + 1) ? msg_entity_decode(h->attr + i + 1, j - i - 1, tmp) : 0;
				if (k && k <= j - i) {
					memcpy(h->attr + o, tmp, k);
					o += k;
					i = (j < h->nattr && h->attr[j] == ';') ? j : j - 1;
					continue;
				}
			}
			h->attr[o++] = h->attr[i];
		}
		size_t s = 0;
		while (s < o && h->attr[s] <= ' ')
			s++;
		while (o > s && h->attr[o - 1] <= ' ')
			o--;
		size_t uoff, ulen;
		if (url_fn && o > s && msg_url_in_token(h->attr + s, o - s, &uoff, &ulen)) {
			/* the text so far goes out first, so the order of URL events
			 * does not depend on how the input was split */
			rc = out_flush(h, fn, ctx);
			if (rc >= 0)
				rc = url_fn(ctx, h->attr + s + uoff, o - s - uoff);
		}
	}
	h->url_attr = false;
	h->nattr = 0;
	return rc;
}

static int tag_done(msg_html_t *h, msg_text_fn fn, void *ctx)
{
	if (!h->closing && name_is(h->tag, h->ntag, "script")) {
		h->state = H_RAW;
		h->raw_kind = 1;
		h->match = 0;
		return 0;
	}
	if (!h->closing && name_is(h->tag, h->ntag, "style")) {
		h->state = H_RAW;
		h->raw_kind = 2;
		h->match = 0;
		return 0;
	}
	h->state = H_TEXT;
	for (size_t i = 0; i < sizeof(block_tags) / sizeof(block_tags[0]); i++)
		if (block_tags[i].len == h->ntag && memcmp(block_tags[i].name, h->tag, h->ntag) == 0)
			return out_space(h, '\n', fn, ctx);
	if (name_is(h->tag, h->ntag, "td") || name_is(h->tag, h->ntag, "th"))
		return out_space(h, ' ', fn, ctx);
	return 0;
}

static int ent_done(msg_html_t *h, bool semicolon, msg_text_fn fn, void *ctx)
{
	uint8_t tmp[8];
	size_t k = h->nent ? msg_entity_decode(h->ent, h->nent, tmp) : 0;
	int rc;

	h->state = H_TEXT;
	if (k) {
		if (tmp[0] == ' ' && k == 1)
			return out_space(h, ' ', fn, ctx);
		return out_bytes(h, tmp, k, fn, ctx);
	}
	if ((rc = out_bytes(h, (const uint8_t *)"&", 1, fn, ctx)) < 0)
		return rc;
	if ((rc = out_bytes(h, h->ent, h->nent, fn, ctx)) < 0)
		return rc;
	if (semicolon)
		rc = out_bytes(h, (const uint8_t *)";", 1, fn, ctx);
	return rc;
}

int msg_html_feed(msg_html_t *h, const uint8_t *p, size_t n, msg_text_fn fn, msg_url_fn url_fn,
		  void *ctx)
{
	int rc = 0;

	for (size_t i = 0; i < n && rc >= 0; i++) {
		uint8_t c = p[i], lc = msg_lower(c);
		bool ws = c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f';

		switch (h->state) {
		case H_TEXT: {
			/* fast path: a run of plain text */
			size_t j = i;
			while (j < n && p[j] != '<' && p[j] != '&' && p[j] > ' ')
				j++;
			if (j > i) {
				rc = out_bytes(h, p + i, j - i, fn, ctx);
				i = j - 1;
			} else if (c == '<') {
				h->state = H_LT;
			} else if (c == '&') {
				h->state = H_ENT;
				h->nent = 0;
			} else if (ws) {
				rc = out_space(h, ' ', fn, ctx);
			} else if (c != 0) {
				rc = out_bytes(h, &c, 1, fn, ctx);
			}
			break;
		}
		case H_LT:
			h->closing = false;
			h->ntag = 0;
			if (c == '/') {
				h->closing = true;
				h->state = H_TAGNAME;
			} else if (c == '!') {
				h->state = H_BANG;
			} else if (c == '?') {
				h->state = H_DECL;
			} else if (is_alpha(c)) {
				h->tag[h->ntag++] = lc;
				h->state = H_TAGNAME;
			} else {
				h->state = H_TEXT;
				rc = out_bytes(h, (const uint8_t *)"<", 1, fn, ctx);
				i--;
			}
			break;
		case H_BANG:
			h->state = (c == '-') ? H_BANG_DASH : (c == '>' ? H_TEXT : H_DECL);
			break;
		case H_BANG_DASH:
			h->dashes = 0;
			h->state = (c == '-') ? H_COMMENT : (c == '>' ? H_TEXT : H_DECL);
			break;
		case H_COMMENT:
			if (c == '-')
				h->dashes = h->dashes < 2 ? h->dashes + 1 : 2;
			else if (c == '>' && h->dashes >= 2)
				h->state = H_TEXT;
			else
				h->dashes = 0;
			break;
		case H_DECL: {
			const uint8_t *gt = memchr(p + i, '>', n - i);
			if (gt) {
				i = (size_t)(gt - p);
				h->state = H_TEXT;
			} else {
				i = n;
			}
			break;
		}
		case H_TAGNAME:
			if (is_alnum(c) || c == '-' || c == ':') {
				if (h->ntag < sizeof(h->tag))
					h->tag[h->ntag++] = lc;
			} else if (c == '>') {
				rc = tag_done(h, fn, ctx);
			} else {
				h->state = H_ATTRS;
			}
			break;
		case H_ATTRS:
			if (c == '>') {
				rc = tag_done(h, fn, ctx);
			} else if (!ws && c != '/') {
				h->naname = 0;
				h->state = H_ATTRNAME;
				i--;
			}
			break;
		case H_ATTRNAME:
			if (c == '=') {
				h->state = H_ATTRVAL_START;
			} else if (ws || c == '/') {
				h->state = H_ATTR_AFTERNAME;
			} else if (c == '>') {
				rc = tag_done(h, fn, ctx);
			} else if (h->naname < sizeof(h->aname)) {
				h->aname[h->naname++] = lc;
			}
			if (h->state == H_ATTRVAL_START)
				h->url_attr = name_is(h->aname, h->naname, "href") ||
					      name_is(h->aname, h->naname, "src") ||
					      name_is(h->aname, h->naname, "action") ||
					      name_is(h->aname, h->naname, "background");
			break;
		case H_ATTR_AFTERNAME:
			if (c == '=') {
				h->state = H_ATTRVAL_START;
				h->url_attr = name_is(h->aname, h->naname, "href") ||
					      name_is(h->aname, h->naname, "src") ||
					      name_is(h->aname, h->naname, "action") ||
					      name_is(h->aname, h->naname, "background");
			} else if (c == '>') {
				rc = tag_done(h, fn, ctx);
			} else if (!ws && c != '/') {
				h->naname = 0;
				h->state = H_ATTRNAME;
				i--;
			}
			break;
		case H_ATTRVAL_START:
			h->nattr = 0;
			if (c == '"' || c == '\'') {
				h->quote = c;
				h->state = H_ATTRVAL_Q;
			} else if (c == '>') {
				h->url_attr = false;
				rc = tag_done(h, fn, ctx);
			} else if (!ws) {
				h->state = H_ATTRVAL_UQ;
				i--;
			}
			break;
		case H_ATTRVAL_Q:
			if (!h->url_attr && c != h->quote) {
				/* a value nobody reads: skip to the closing quote */
				const uint8_t *q = memchr(p + i, h->quote, n - i);
				i = q ? (size_t)(q - p) - 1 : n;
				break;
			}
			if (c == h->quote) {
				rc = attr_done(h, fn, url_fn, ctx);
				h->state = H_ATTRS;
			} else if (h->url_attr && h->nattr < h->max_attr) {
				h->attr[h->nattr++] = c;
			}
			break;
		case H_ATTRVAL_UQ:
			if (ws) {
				rc = attr_done(h, fn, url_fn, ctx);
				h->state = H_ATTRS;
			} else if (c == '>') {
				rc = attr_done(h, fn, url_fn, ctx);
				if (rc >= 0)
					rc = tag_done(h, fn, ctx);
			} else if (h->url_attr && h->nattr < h->max_attr) {
				h->attr[h->nattr++] = c;
			}
			break;
		case H_RAW: {
			/* drop everything up to "</script" or "</style" */
			const char *end = h->raw_kind == 1 ? "</script" : "</style";
			size_t el = h->raw_kind == 1 ? 8 : 7;
			if (h->match == 0 && c != '<') {
				const uint8_t *lt = memchr(p + i, '<', n - i);
				i = lt ? (size_t)(lt - p) - 1 : n;
				break;
			}
			if (lc == (uint8_t)end[h->match]) {
				if (++h->match == el) {
					h->raw_kind = 0;
					h->state = H_DECL; /* skip to '>' */
				}
			} else {
				h->match = (c == '<') ? 1 : 0;
			}
			break;
		}
		case H_ENT:
			if (c == ';') {
				rc = ent_done(h, true, fn, ctx);
			} else if ((is_alnum(c) || (c == '#' && h->nent == 0)) && h->nent < 32) {
				h->ent[h->nent++] = c;
			} else {
				/* "&amp " without ';' still decodes, as in browsers */
				rc = ent_done(h, false, fn, ctx);
				i--;
			}
			break;
		}
	}
	if (rc >= 0)
		rc = out_flush(h, fn, ctx);
	return rc;
}

int msg_html_flush(msg_html_t *h, msg_text_fn fn, msg_url_fn url_fn, void *ctx)
{
	int rc = 0;

	if (h->state == H_ENT)
		rc = ent_done(h, false, fn, ctx);
	if (rc >= 0 && (h->state == H_ATTRVAL_Q || h->state == H_ATTRVAL_UQ))
		rc = attr_done(h, fn, url_fn, ctx);
	if (rc >= 0)
		rc = out_flush(h, fn, ctx);
	h->state = H_TEXT;
	return rc;
}
