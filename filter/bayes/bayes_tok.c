/* bayes_tok - the Bayes tokenizer: message events in, a set of token ids out.
 *
 * A word is a run of ASCII letters and digits, the inner punctuation
 * - ' . _ @ $ % !, and any non-ASCII character that is not punctuation or
 * space. Leading - ' . _ @ ! % and trailing - ' . _ @ ! $ are trimmed, so
 * "$100", "50%" and "e-mail" survive while "free!!!" becomes "free". ASCII
 * and Latin-1 capitals are folded; other UTF-8 is kept as bytes. Zero-width
 * characters and the soft hyphen are dropped without ending the word
 * ("V<U+200B>iagra" is "viagra"). Words longer than max_word become
 * "sk:<first char> <length rounded down to 10>". docs/filter-bayes.md lists
 * every token form. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bayes.h"
#include "bayes_private.h"
#include "sl_err.h"

/* Word scanner state: one for the body (kept across chunks), one per header. */
typedef struct ws {
	uint8_t w[BAYES_WORD_MAX]; /* stored bytes of the current word */
	size_t wlen;               /* bytes stored */
	size_t wtotal;             /* bytes of the word seen (>= wlen) */
	bool overflow;             /* the word passed max_word */
	uint8_t u[4];              /* a pending UTF-8 sequence */
	unsigned ulen, uneed;      /* bytes pending, bytes the sequence needs */
} ws_t;

/* Header kinds: what a header's words become beyond "<prefix><word>". */
enum {
	HF_WORDS = 1u << 0,     /* prefixed words */
	HF_BIGRAM = 1u << 1,    /* prefixed bigrams too (Subject) */
	HF_ADDR = 1u << 2,      /* "<prefix>@<domain>" for addresses */
	HF_RECEIVED = 1u << 3,  /* IPv4 /24 and /16, host's parent domain */
	HF_MSGID = 1u << 4,     /* "mid:<domain>" only */
	HF_WHOLE = 1u << 5,     /* "<prefix>=<whole value>" (first 40 bytes) */
	HF_CTYPE = 1u << 6,     /* "ct:<type>", "cs:<charset>" */
	HF_CDISP = 1u << 7,     /* "cd:<disposition>", "fx:<file extension>" */
};

/* Where words go: the body, or one header with its prefix. */
typedef struct sink {
	bool body;
	const char *prefix;
	size_t plen;
	unsigned flags;
	uint8_t prev[BAYES_WORD_MAX]; /* previous word, for bigrams */
	size_t prevlen;
	bool have_prev;
} sink_t;

/* HTML markup scanner: tag and attribute names, across chunks. */
enum html_state { H_TEXT, H_TAGSTART, H_TAGNAME, H_ATTRSP, H_ATTRNAME, H_VALSTART,
		  H_VALQ, H_VALU, H_SKIP };

typedef struct html_scan {
	enum html_state st;
	uint8_t tag[16];
	size_t tl;
	uint8_t attr[24];
	size_t al;
	uint8_t quote;
	unsigned emitted;
	size_t bytes;
} html_scan_t;

struct bayes_tok {
	bayes_tok_opts_t o;
	html_scan_t html;
	uint64_t *set;             /* open addressing; 0 = empty slot */
	size_t set_mask;
	uint64_t *ids;             /* unique ids in arrival order */
	uint64_t *tmp;             /* radix sort scratch, max_tokens */
	size_t n;
	bool finished;
	bayes_msg_t msg;
	bayes_tok_stats_t st;
	ws_t bws;                  /* body word scanner */
	sink_t bsink;              /* body sink (bigram state) */
	bool in_part;
};

static const struct hdr_kind {
	const char *name;
	const char *prefix;
	unsigned flags;
} hdr_kinds[] = {
	{"subject", "s:", HF_WORDS | HF_BIGRAM},
	{"from", "f:", HF_WORDS | HF_ADDR},
	{"sender", "f:", HF_WORDS | HF_ADDR},
	{"to", "t:", HF_WORDS | HF_ADDR},
	{"cc", "t:", HF_WORDS | HF_ADDR},
	{"reply-to", "rt:", HF_WORDS | HF_ADDR},
	{"return-path", "rp:", HF_WORDS | HF_ADDR},
	{"received", "r:", HF_WORDS | HF_RECEIVED},
	{"message-id", "mid:", HF_MSGID},
	{"x-mailer", "x:", HF_WORDS | HF_WHOLE},
	{"user-agent", "x:", HF_WORDS | HF_WHOLE},
	{"content-type", "ct:", HF_CTYPE},
	{"content-transfer-encoding", "cte:", HF_WHOLE},
	{"content-disposition", "cd:", HF_CDISP},
};

/* --- The token set ----------------------------------------------------- */

void bayes_tok_opts_default(bayes_tok_opts_t *o)
{
	memset(o, 0, sizeof(*o));
	o->key[0] = BAYES_KEY0;
	o->key[1] = BAYES_KEY1;
	o->min_word = 2;
	o->max_word = BAYES_WORD_MAX;
	o->max_tokens = 16384;
	o->max_body = 512u << 10;
	o->max_header_value = 4096;
	o->max_bigrams = 64;
	o->max_html = 16;
}

uint64_t bayes_token_id(const uint64_t key[2], sl_slice_t text)
{
	uint64_t id = bayes_siphash24(key, text.ptr, text.len);

	return id != 0 ? id : 1;
}

/* Add the token TEXT (LEN bytes) to the message's set. */
static void tok_add(bayes_tok_t *t, const uint8_t *text, size_t len)
{
	uint64_t id = bayes_token_id(t->o.key, sl_slice_make(text, len));
	size_t i = (size_t)(id ^ (id >> 29)) & t->set_mask;

	while (t->set[i] != 0) {
		if (t->set[i] == id)
			return;
		i = (i + 1) & t->set_mask;
	}
	if (t->n >= t->o.max_tokens) {
		t->st.dropped++;
		return;
	}
	t->set[i] = id;
	t->ids[t->n++] = id;
	if (t->o.trace != NULL)
		t->o.trace(t->o.trace_ctx, sl_slice_make(text, len));
}

/* Emit the concatenation of up to three pieces, cut at BAYES_TOKEN_TEXT_MAX. */
static void emit3(bayes_tok_t *t, const void *a, size_t alen, const void *b, size_t blen,
		  const void *c, size_t clen)
{
	uint8_t buf[BAYES_TOKEN_TEXT_MAX];
	size_t n = 0, k;

	k = alen < sizeof(buf) ? alen : sizeof(buf);
	memcpy(buf, a, k);
	n = k;
	k = blen < sizeof(buf) - n ? blen : sizeof(buf) - n;
	if (k > 0)
		memcpy(buf + n, b, k);
	n += k;
	k = clen < sizeof(buf) - n ? clen : sizeof(buf) - n;
	if (k > 0)
		memcpy(buf + n, c, k);
	n += k;
	tok_add(t, buf, n);
}

static void emit_str(bayes_tok_t *t, const char *prefix, const void *w, size_t wlen)
{
	emit3(t, prefix, strlen(prefix), w, wlen, "", 0);
}

/* --- Character classes ------------------------------------------------- */

static inline bool ascii_alnum(uint8_t c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static inline bool ascii_word(uint8_t c)
{
	return ascii_alnum(c) || c == '-' || c == '\'' || c == '.' || c == '_' || c == '@' ||
	       c == '$' || c == '%' || c == '!';
}

static inline uint8_t ascii_fold(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

/* Characters dropped inside a word: soft hyphen, zero-width space/joiners,
 * word joiner, BOM. Spammers put them inside words to break filters. */
static inline bool cp_invisible(uint32_t cp)
{
	return cp == 0xAD || (cp >= 0x200B && cp <= 0x200D) || cp == 0x2060 || cp == 0xFEFF;
}

/* Non-ASCII characters that separate words: Latin-1 punctuation and spaces
 * (ª µ º are letters), × ÷, general punctuation, CJK punctuation, fullwidth
 * ASCII punctuation, and the replacement character. */
static bool cp_separator(uint32_t cp)
{
	if (cp >= 0x80 && cp <= 0xBF)
		return cp != 0xAA && cp != 0xB5 && cp != 0xBA;
	if (cp == 0xD7 || cp == 0xF7)
		return true;
	if (cp >= 0x2000 && cp <= 0x206F)
		return true;
	if (cp >= 0x3000 && cp <= 0x303F)
		return true;
	if ((cp >= 0xFF01 && cp <= 0xFF0F) || (cp >= 0xFF1A && cp <= 0xFF20))
		return true;
	return cp == 0xFFFD;
}

/* --- Words ------------------------------------------------------------- */

static void sink_word(bayes_tok_t *t, sink_t *s, const uint8_t *w, size_t len);

static void sink_break(sink_t *s)
{
	s->have_prev = false;
}

static void ws_reset(ws_t *ws)
{
	ws->wlen = ws->wtotal = 0;
	ws->overflow = false;
	ws->ulen = ws->uneed = 0;
}

static void ws_put(bayes_tok_t *t, ws_t *ws, const uint8_t *p, size_t k)
{
	if (!ws->overflow && ws->wlen + k <= t->o.max_word) {
		memcpy(ws->w + ws->wlen, p, k);
		ws->wlen += k;
	} else {
		ws->overflow = true;
	}
	ws->wtotal += k;
}

static bool trim_lead(uint8_t c)
{
	return c == '-' || c == '\'' || c == '.' || c == '_' || c == '@' || c == '!' || c == '%';
}

static bool trim_trail(uint8_t c)
{
	return c == '-' || c == '\'' || c == '.' || c == '_' || c == '@' || c == '!' || c == '$';
}

static void ws_end_word(bayes_tok_t *t, ws_t *ws, sink_t *s)
{
	size_t a = 0, b = ws->wlen;

	if (ws->wtotal == 0)
		return;
	if (ws->overflow) {
		/* A long word says little by itself; its first character and
		   rough length (base64 left in text, hashes, URLs) still do. */
		char tail[24];
		size_t first = 1;
		int tl;

		if (ws->w[0] >= 0xF0)
			first = 4;
		else if (ws->w[0] >= 0xE0)
			first = 3;
		else if (ws->w[0] >= 0xC0)
			first = 2;
		if (first > ws->wlen)
			first = ws->wlen;
		tl = snprintf(tail, sizeof(tail), " %zu", ws->wtotal / 10 * 10);
		emit3(t, "sk:", 3, ws->w, first, tail, (size_t)tl);
		t->st.long_words++;
		sink_break(s);
	} else {
		while (a < b && trim_lead(ws->w[a]))
			a++;
		while (b > a && trim_trail(ws->w[b - 1]))
			b--;
		if (b - a >= t->o.min_word)
			sink_word(t, s, ws->w + a, b - a);
	}
	ws->wlen = ws->wtotal = 0;
	ws->overflow = false;
}

/* A complete UTF-8 sequence in ws->u: decode, then join, drop or separate. */
static void ws_utf8_done(bayes_tok_t *t, ws_t *ws, sink_t *s)
{
	uint32_t cp;
	unsigned n = ws->ulen;

	ws->ulen = ws->uneed = 0;
	if (n == 2)
		cp = ((uint32_t)(ws->u[0] & 0x1F) << 6) | (ws->u[1] & 0x3F);
	else if (n == 3)
		cp = ((uint32_t)(ws->u[0] & 0x0F) << 12) | ((uint32_t)(ws->u[1] & 0x3F) << 6) |
		     (ws->u[2] & 0x3F);
	else
		cp = ((uint32_t)(ws->u[0] & 0x07) << 18) | ((uint32_t)(ws->u[1] & 0x3F) << 12) |
		     ((uint32_t)(ws->u[2] & 0x3F) << 6) | (ws->u[3] & 0x3F);
	/* Overlong forms, surrogates and values past U+10FFFF are invalid. */
	if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) {
		ws_end_word(t, ws, s);
		return;
	}
	if (cp_invisible(cp))
		return;
	if (cp_separator(cp)) {
		ws_end_word(t, ws, s);
		return;
	}
	if (n == 2 && cp >= 0xC0 && cp <= 0xDE) { /* Latin-1 capitals: fold */
		uint8_t f[2];

		cp += 0x20;
		f[0] = (uint8_t)(0xC0 | (cp >> 6));
		f[1] = (uint8_t)(0x80 | (cp & 0x3F));
		ws_put(t, ws, f, 2);
		return;
	}
	ws_put(t, ws, ws->u, n);
}

static void ws_feed(bayes_tok_t *t, ws_t *ws, sink_t *s, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t c = p[i];

		if (ws->uneed > 0) {
			if ((c & 0xC0) == 0x80) {
				ws->u[ws->ulen++] = c;
				if (ws->ulen == ws->uneed)
					ws_utf8_done(t, ws, s);
				continue;
			}
			/* A sequence cut short: it separates, and C starts anew. */
			ws->ulen = ws->uneed = 0;
			ws_end_word(t, ws, s);
		}
		if (c < 0x80) {
			if (ascii_word(c)) {
				uint8_t f = ascii_fold(c);

				ws_put(t, ws, &f, 1);
			} else {
				ws_end_word(t, ws, s);
			}
		} else if (c >= 0xC2 && c <= 0xF4) {
			ws->u[0] = c;
			ws->ulen = 1;
			ws->uneed = c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
		} else {
			ws_end_word(t, ws, s); /* stray continuation or invalid byte */
		}
	}
}

static void ws_flush(bayes_tok_t *t, ws_t *ws, sink_t *s)
{
	ws->ulen = ws->uneed = 0; /* an unfinished sequence is dropped */
	ws_end_word(t, ws, s);
}

/* --- Header specifics -------------------------------------------------- */

/* IPv4 dotted quad: four decimal groups of 1..3 digits. Sets *DOT3_R to the
 * offset of the last dot and *DOT2_R to the second. */
static bool is_ipv4(const uint8_t *w, size_t len, size_t *dot2_r, size_t *dot3_r)
{
	unsigned dots = 0, digits = 0;

	for (size_t i = 0; i < len; i++) {
		if (w[i] == '.') {
			if (digits == 0)
				return false;
			dots++;
			if (dots == 2)
				*dot2_r = i;
			else if (dots == 3)
				*dot3_r = i;
			digits = 0;
		} else if (w[i] >= '0' && w[i] <= '9') {
			if (++digits > 3)
				return false;
		} else {
			return false;
		}
	}
	return dots == 3 && digits > 0;
}

/* The offset of the last two labels of a host name, or LEN if it has fewer
 * than three labels. */
static size_t parent2(const uint8_t *w, size_t len)
{
	unsigned dots = 0;

	for (size_t i = len; i > 0; i--) {
		if (w[i - 1] == '.' && ++dots == 2)
			return i;
	}
	return len;
}

static void sink_word(bayes_tok_t *t, sink_t *s, const uint8_t *w, size_t len)
{
	if (s->body) {
		emit3(t, "", 0, w, len, "", 0);
	} else {
		emit3(t, s->prefix, s->plen, w, len, "", 0);
		if (s->flags & HF_ADDR) {
			const uint8_t *at = memrchr(w, '@', len);

			if (at != NULL && at + 1 < w + len) {
				emit3(t, s->prefix, s->plen, "@", 1, at + 1,
				      (size_t)(w + len - at - 1));
			}
		}
		if (s->flags & HF_RECEIVED) {
			size_t d2 = 0, d3 = 0, p2;

			if (is_ipv4(w, len, &d2, &d3)) {
				emit3(t, s->prefix, s->plen, "ip/24:", 6, w, d3);
				emit3(t, s->prefix, s->plen, "ip/16:", 6, w, d2);
			} else if ((p2 = parent2(w, len)) < len) {
				emit3(t, s->prefix, s->plen, "d:", 2, w + p2, len - p2);
			}
		}
	}
	if (s->body || (s->flags & HF_BIGRAM)) {
		/* max_bigrams bounds the body's; a Subject is short anyway. */
		if (s->have_prev && (!s->body || t->st.bigrams < t->o.max_bigrams)) {
			uint8_t buf[2 * BAYES_WORD_MAX + 1];

			memcpy(buf, s->prev, s->prevlen);
			buf[s->prevlen] = ' ';
			memcpy(buf + s->prevlen + 1, w, len);
			t->st.bigrams += s->body;
			emit3(t, s->body ? "b:" : "sb:", s->body ? 2 : 3, buf,
			      s->prevlen + 1 + len, "", 0);
		}
		memcpy(s->prev, w, len);
		s->prevlen = len;
		s->have_prev = true;
	}
}

/* Folded, trimmed copy of up to CAP bytes of P into OUT; returns length. */
static size_t fold_trim(const uint8_t *p, size_t n, uint8_t *out, size_t cap)
{
	size_t a = 0, b = n, k = 0;

	while (a < b && (p[a] == ' ' || p[a] == '\t' || p[a] == '"' || p[a] == '<'))
		a++;
	while (b > a && (p[b - 1] == ' ' || p[b - 1] == '\t' || p[b - 1] == '"' ||
			 p[b - 1] == '>' || p[b - 1] == '\r' || p[b - 1] == '\n'))
		b--;
	for (size_t i = a; i < b && k < cap; i++)
		out[k++] = ascii_fold(p[i]);
	return k;
}

/* The value of parameter NAME (e.g. "charset") in a header value, or an
 * empty slice. Good enough for tokens: no RFC 2231 continuations. */
static sl_slice_t param_value(const uint8_t *p, size_t n, const char *name)
{
	size_t nl = strlen(name);

	for (size_t i = 0; i + nl < n; i++) {
		size_t j, e;

		if (p[i] != ';' && p[i] != ' ' && p[i] != '\t')
			continue;
		j = i + 1;
		while (j < n && (p[j] == ' ' || p[j] == '\t'))
			j++;
		if (j + nl >= n || strncasecmp((const char *)p + j, name, nl) != 0 ||
		    p[j + nl] != '=')
			continue;
		j += nl + 1;
		if (j < n && p[j] == '"') {
			j++;
			for (e = j; e < n && p[e] != '"'; e++)
				;
		} else {
			for (e = j; e < n && p[e] != ';' && p[e] != ' ' && p[e] != '\t'; e++)
				;
		}
		return sl_slice_make(p + j, e - j);
	}
	return sl_slice_make(p, 0);
}

static void hdr_ctype(bayes_tok_t *t, const struct hdr_kind *k, const uint8_t *p, size_t n)
{
	uint8_t v[BAYES_WORD_MAX];
	const uint8_t *semi = memchr(p, ';', n);
	size_t tl = fold_trim(p, semi ? (size_t)(semi - p) : n, v, sizeof(v));
	sl_slice_t x;

	if (tl > 0)
		emit_str(t, k->flags & HF_CTYPE ? "ct:" : "cd:", v, tl);
	if (k->flags & HF_CTYPE) {
		x = param_value(p, n, "charset");
		tl = fold_trim(x.ptr, x.len, v, sizeof(v));
		if (tl > 0)
			emit_str(t, "cs:", v, tl);
	} else {
		const uint8_t *dot;

		x = param_value(p, n, "filename");
		dot = x.len > 0 ? memrchr(x.ptr, '.', x.len) : NULL;
		if (dot != NULL && x.ptr + x.len - dot - 1 <= 10) {
			tl = fold_trim(dot + 1, (size_t)(x.ptr + x.len - dot - 1), v, sizeof(v));
			if (tl > 0)
				emit_str(t, "fx:", v, tl);
		}
	}
}

int bayes_tok_header(bayes_tok_t *t, sl_slice_t name, sl_slice_t value)
{
	uint8_t v[BAYES_WORD_MAX];
	const struct hdr_kind *k = NULL;
	size_t n = value.len < t->o.max_header_value ? value.len : t->o.max_header_value;
	const uint8_t *p = value.ptr;

	if (t->finished)
		return SL_ESTATE;
	if (name.len > 0 && name.len <= 64) {
		uint8_t lname[64];

		for (size_t i = 0; i < name.len; i++)
			lname[i] = ascii_fold(name.ptr[i]);
		emit3(t, "h:", 2, lname, name.len, "", 0);
	}
	for (size_t i = 0; i < sizeof(hdr_kinds) / sizeof(hdr_kinds[0]); i++) {
		if (sl_slice_eq_nocase(name, hdr_kinds[i].name)) {
			k = &hdr_kinds[i];
			break;
		}
	}
	if (k == NULL || n == 0)
		return 0;
	if (k->flags & (HF_CTYPE | HF_CDISP)) {
		hdr_ctype(t, k, p, n);
		return 0;
	}
	if (k->flags & HF_MSGID) {
		const uint8_t *at = memrchr(p, '@', n);

		if (at != NULL) {
			size_t dl = fold_trim(at + 1, (size_t)(p + n - at - 1), v, sizeof(v));

			if (dl > 0)
				emit_str(t, k->prefix, v, dl);
		} else {
			emit_str(t, k->prefix, "none", 4);
		}
		return 0;
	}
	if (k->flags & HF_WHOLE) {
		size_t wl = fold_trim(p, n, v, sizeof(v));

		if (wl > 0)
			emit3(t, k->prefix, strlen(k->prefix), "=", 1, v, wl);
	}
	if (k->flags & HF_WORDS) {
		ws_t ws;
		sink_t s = {.body = false, .prefix = k->prefix, .plen = strlen(k->prefix),
			    .flags = k->flags};

		ws_reset(&ws);
		ws_feed(t, &ws, &s, p, n);
		ws_flush(t, &ws, &s);
	}
	return 0;
}

/* --- Body and URLs ----------------------------------------------------- */

int bayes_tok_body(bayes_tok_t *t, sl_slice_t chunk)
{
	size_t room, take;

	if (t->finished)
		return SL_ESTATE;
	if (!t->in_part) {
		t->in_part = true;
		ws_reset(&t->bws);
		sink_break(&t->bsink);
	}
	room = t->o.max_body - t->st.body_bytes;
	take = chunk.len < room ? chunk.len : room;
	t->st.body_skipped += chunk.len - take;
	t->st.body_bytes += take;
	ws_feed(t, &t->bws, &t->bsink, chunk.ptr, take);
	return 0;
}

void bayes_tok_body_end(bayes_tok_t *t)
{
	if (!t->in_part)
		return;
	ws_flush(t, &t->bws, &t->bsink);
	sink_break(&t->bsink);
	t->in_part = false;
}

static bool starts_nocase(const uint8_t *p, size_t n, const char *lit)
{
	size_t l = strlen(lit);

	return n >= l && strncasecmp((const char *)p, lit, l) == 0;
}

int bayes_tok_uri(bayes_tok_t *t, sl_slice_t uri)
{
	const uint8_t *p = uri.ptr, *e = uri.ptr + uri.len, *h, *he, *at;
	uint8_t host[253];
	size_t hl = 0;
	bool mail = false, digits_only = true;
	size_t d2 = 0, d3 = 0;

	if (t->finished)
		return SL_ESTATE;
	if (uri.len == 0)
		return 0;
	while (p < e && (*p == ' ' || *p == '\t' || *p == '<' || *p == '"' || *p == '\''))
		p++;
	if (starts_nocase(p, (size_t)(e - p), "mailto:")) {
		p += 7;
		mail = true;
	} else {
		/* Scheme: letters, digits, + - . before "://" within 32 bytes. */
		for (const uint8_t *q = p; q < e && q - p < 32; q++) {
			if (*q == ':') {
				if (e - q >= 3 && q[1] == '/' && q[2] == '/')
					p = q + 3;
				break;
			}
			if (!ascii_alnum(*q) && *q != '+' && *q != '-' && *q != '.')
				break;
		}
	}
	/* The authority ends at the path, query or fragment. */
	for (he = p; he < e && *he != '/' && *he != '?' && *he != '#' && *he != '\\' &&
		     *he != '>' && *he != '"' && *he != ' ';
	     he++)
		;
	h = p;
	at = memrchr(h, '@', (size_t)(he - h));
	if (at != NULL) {
		if (!mail)
			emit_str(t, "u:", "@", 1); /* userinfo: "http://bank@evil" */
		h = at + 1;
	} else if (mail) {
		return 0;
	}
	if (h < he && *h == '[') { /* IPv6 literal */
		const uint8_t *rb = memchr(h, ']', (size_t)(he - h));

		if (rb != NULL)
			he = rb + 1;
	} else {
		const uint8_t *colon = memchr(h, ':', (size_t)(he - h));

		if (colon != NULL)
			he = colon;
	}
	while (he > h && he[-1] == '.')
		he--;
	if (he == h)
		return 0;
	if ((size_t)(he - h) > sizeof(host)) {
		emit_str(t, "u:", "sk", 2);
		return 0;
	}
	for (const uint8_t *q = h; q < he; q++) {
		host[hl++] = ascii_fold(*q);
		if (!(*q >= '0' && *q <= '9'))
			digits_only = false;
	}
	emit_str(t, mail ? "um:" : "u:", host, hl);
	if (mail)
		return 0;
	if (is_ipv4(host, hl, &d2, &d3) || digits_only || host[0] == '[') {
		emit_str(t, "u:", "ip", 2);
		return 0;
	}
	/* Parent domains down to two labels. */
	for (size_t i = 0, k = 0; i < hl && k < 8; i++) {
		if (host[i] != '.')
			continue;
		if (memchr(host + i + 1, '.', hl - i - 1) == NULL)
			break;
		emit_str(t, "u:", host + i + 1, hl - i - 1);
		k++;
	}
	return 0;
}


/* --- HTML markup ------------------------------------------------------- */

static inline bool html_space(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f';
}

static void html_emit_tag(bayes_tok_t *t, html_scan_t *h)
{
	if (h->tl == 0 || h->emitted >= t->o.max_html)
		return;
	h->emitted++;
	emit3(t, "<", 1, h->tag, h->tl, "", 0);
}

static void html_emit_attr(bayes_tok_t *t, html_scan_t *h)
{
	uint8_t ta[sizeof(h->tag) + 1];

	if (h->tl == 0 || h->al == 0 || h->emitted >= t->o.max_html)
		return;
	h->emitted++;
	memcpy(ta, h->tag, h->tl);
	ta[h->tl] = ' ';
	emit3(t, "<", 1, ta, h->tl + 1, h->attr, h->al);
}

int bayes_tok_html(bayes_tok_t *t, sl_slice_t chunk)
{
	html_scan_t *h = &t->html;
	size_t room, take;

	if (t->finished)
		return SL_ESTATE;
	room = t->o.max_body - h->bytes;
	take = chunk.len < room ? chunk.len : room;
	h->bytes += take;
	for (size_t i = 0; i < take; i++) {
		uint8_t c = chunk.ptr[i];

		switch (h->st) {
		case H_TEXT:
			if (c == '<')
				h->st = H_TAGSTART;
			break;
		case H_TAGSTART:
			h->tl = 0;
			if (ascii_alnum(c) || c == '!') {
				h->tag[h->tl++] = ascii_fold(c);
				h->st = H_TAGNAME;
			} else {
				h->st = c == '/' ? H_SKIP : c == '<' ? H_TAGSTART : H_TEXT;
			}
			break;
		case H_TAGNAME:
			if (ascii_alnum(c) || c == '-' || c == ':') {
				if (h->tl < sizeof(h->tag))
					h->tag[h->tl++] = ascii_fold(c);
			} else {
				html_emit_tag(t, h);
				/* Comments and declarations have no attributes. */
				h->st = c == '>' ? H_TEXT : h->tag[0] == '!' ? H_SKIP : H_ATTRSP;
			}
			break;
		case H_ATTRSP:
			if (c == '>') {
				h->st = H_TEXT;
			} else if (c == '=') {
				h->st = H_VALSTART;
			} else if (ascii_alnum(c)) {
				h->al = 0;
				h->attr[h->al++] = ascii_fold(c);
				h->st = H_ATTRNAME;
			}
			break;
		case H_ATTRNAME:
			if (ascii_alnum(c) || c == '-' || c == '_' || c == ':') {
				if (h->al < sizeof(h->attr))
					h->attr[h->al++] = ascii_fold(c);
				break;
			}
			html_emit_attr(t, h);
			h->st = c == '>' ? H_TEXT : c == '=' ? H_VALSTART : H_ATTRSP;
			break;
		case H_VALSTART:
			if (c == '"' || c == '\'') {
				h->quote = c;
				h->st = H_VALQ;
			} else if (c == '>') {
				h->st = H_TEXT;
			} else if (!html_space(c)) {
				h->st = H_VALU;
			}
			break;
		case H_VALQ:
			if (c == h->quote)
				h->st = H_ATTRSP;
			break;
		case H_VALU:
			if (c == '>')
				h->st = H_TEXT;
			else if (html_space(c))
				h->st = H_ATTRSP;
			break;
		case H_SKIP:
			if (c == '>')
				h->st = H_TEXT;
			break;
		}
	}
	return 0;
}

/* --- Lifetime ---------------------------------------------------------- */

int bayes_tok_create(const bayes_tok_opts_t *o, bayes_tok_t **t_r)
{
	bayes_tok_t *t;
	size_t cap = 16;

	*t_r = NULL;
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return SL_ENOMEM;
	if (o != NULL)
		t->o = *o;
	else
		bayes_tok_opts_default(&t->o);
	if (t->o.min_word < 1 || t->o.min_word > BAYES_WORD_MAX ||
	    t->o.max_word < t->o.min_word || t->o.max_word > BAYES_WORD_MAX ||
	    t->o.max_tokens < 16 || t->o.max_tokens > (1u << 20)) {
		free(t);
		return SL_EINVAL;
	}
	while (cap < 2 * (size_t)t->o.max_tokens)
		cap <<= 1;
	t->set = calloc(cap, sizeof(*t->set));
	t->ids = calloc(t->o.max_tokens, sizeof(*t->ids));
	t->tmp = calloc(t->o.max_tokens, sizeof(*t->tmp));
	if (t->set == NULL || t->ids == NULL || t->tmp == NULL) {
		free(t->set);
		free(t->ids);
		free(t->tmp);
		free(t);
		return SL_ENOMEM;
	}
	t->set_mask = cap - 1;
	t->bsink.body = true;
	*t_r = t;
	return 0;
}

void bayes_tok_destroy(bayes_tok_t **tp)
{
	bayes_tok_t *t = tp != NULL ? *tp : NULL;

	if (t == NULL)
		return;
	free(t->set);
	free(t->ids);
	free(t->tmp);
	free(t);
	*tp = NULL;
}

void bayes_tok_reset(bayes_tok_t *t)
{
	/* Clearing only the used slots keeps a reset O(tokens), not O(set).
	   Each id is present, so its probe runs past slots already cleared
	   until it meets it. */
	for (size_t i = 0; i < t->n; i++) {
		size_t j = (size_t)(t->ids[i] ^ (t->ids[i] >> 29)) & t->set_mask;

		while (t->set[j] != t->ids[i])
			j = (j + 1) & t->set_mask;
		t->set[j] = 0;
	}
	t->n = 0;
	t->finished = false;
	memset(&t->st, 0, sizeof(t->st));
	memset(&t->msg, 0, sizeof(t->msg));
	ws_reset(&t->bws);
	sink_break(&t->bsink);
	t->in_part = false;
	memset(&t->html, 0, sizeof(t->html));
}

/* LSD radix sort of N ids, one byte per pass (a pass where every id has the
 * same byte is skipped): no comparison callback, linear in N. */
static void sort_ids(uint64_t *a, uint64_t *tmp, size_t n)
{
	uint64_t *src = a, *dst = tmp, *sw;

	for (unsigned shift = 0; shift < 64; shift += 8) {
		size_t count[256] = {0}, pos = 0;

		for (size_t i = 0; i < n; i++)
			count[(src[i] >> shift) & 0xff]++;
		if (n == 0 || count[(src[0] >> shift) & 0xff] == n)
			continue;
		for (unsigned d = 0; d < 256; d++) {
			size_t c = count[d];

			count[d] = pos;
			pos += c;
		}
		for (size_t i = 0; i < n; i++)
			dst[count[(src[i] >> shift) & 0xff]++] = src[i];
		sw = src;
		src = dst;
		dst = sw;
	}
	if (src != a)
		memcpy(a, src, n * sizeof(*a));
}

void bayes_tok_finish(bayes_tok_t *t, bayes_msg_t *m_r)
{
	if (!t->finished) {
		uint64_t k1[2] = {t->o.key[0] ^ 0x5349473a6f6e6531ull,
				  t->o.key[1] ^ 0x0123456789abcdefull};
		uint64_t k2[2] = {t->o.key[0] ^ 0x5349473a74776f32ull,
				  t->o.key[1] ^ 0xfedcba9876543210ull};
		uint64_t h1, h2;

		bayes_tok_body_end(t);
		sort_ids(t->ids, t->tmp, t->n);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
		for (size_t i = 0; i < t->n; i++)
			t->ids[i] = __builtin_bswap64(t->ids[i]);
#endif
		h1 = bayes_siphash24(k1, t->ids, t->n * sizeof(*t->ids));
		h2 = bayes_siphash24(k2, t->ids, t->n * sizeof(*t->ids));
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
		for (size_t i = 0; i < t->n; i++)
			t->ids[i] = __builtin_bswap64(t->ids[i]);
#endif
		for (int i = 0; i < 8; i++) {
			t->msg.sig[i] = (uint8_t)(h1 >> (8 * i));
			t->msg.sig[8 + i] = (uint8_t)(h2 >> (8 * i));
		}
		t->msg.ids = t->ids;
		t->msg.n = t->n;
		t->finished = true;
	}
	*m_r = t->msg;
}

void bayes_tok_stats(const bayes_tok_t *t, bayes_tok_stats_t *st_r)
{
	*st_r = t->st;
	st_r->tokens = t->n;
}
