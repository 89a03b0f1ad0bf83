/* sl_conf_parse - the config text parser: a strict subset of UCL / nginx
 * syntax (docs/config-syntax.md) into a tree of sl_conf_node_t.
 *
 * A hand-written recursive-descent parser over a bounded byte range. It
 * never reads past `end`, never hunts for a NUL, and bounds every dimension
 * of the input (file size is checked by the caller; line length, nesting
 * depth and key length here), so hostile input costs at most linear time
 * and memory. Recursion depth is capped by SL_CONF_MAX_DEPTH. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sl_conf_private.h"
#include "sl_err.h"

/* ---- arena ---------------------------------------------------------- */

#define ARENA_CHUNK (64 * 1024)

struct arena_chunk {
	struct arena_chunk *next;
	size_t used, cap;
	max_align_t data[];
};

struct sl_conf_arena {
	struct arena_chunk *head;
};

sl_conf_arena_t *sl_conf_arena_create(void)
{
	return calloc(1, sizeof(sl_conf_arena_t));
}

void *sl_conf_arena_alloc(sl_conf_arena_t *a, size_t size)
{
	const size_t align = sizeof(max_align_t);
	struct arena_chunk *c = a->head;
	void *p;

	if (size > SIZE_MAX / 2)
		return NULL;
	size = (size + align - 1) / align * align;
	if (c == NULL || c->cap - c->used < size) {
		size_t cap = size > ARENA_CHUNK ? size : ARENA_CHUNK;

		c = malloc(sizeof(*c) + cap);
		if (c == NULL)
			return NULL;
		c->used = 0;
		c->cap = cap;
		c->next = a->head;
		a->head = c;
	}
	p = (char *)c->data + c->used;
	c->used += size;
	memset(p, 0, size);
	return p;
}

void sl_conf_arena_destroy(sl_conf_arena_t **a)
{
	if (a == NULL || *a == NULL)
		return;
	while ((*a)->head != NULL) {
		struct arena_chunk *c = (*a)->head;

		(*a)->head = c->next;
		free(c);
	}
	free(*a);
	*a = NULL;
}

/* ---- messages ------------------------------------------------------- */

void sl_conf_errf(char *err, size_t err_size, const char *name, unsigned line,
		  const char *path, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (line > 0)
		n = snprintf(err, err_size, "%s:%u: ", name, line);
	else
		n = snprintf(err, err_size, "%s: ", name);
	if (n < 0 || (size_t)n >= err_size)
		return;
	if (path != NULL && path[0] != '\0') {
		int m = snprintf(err + n, err_size - (size_t)n, "%s: ", path);

		if (m < 0 || (size_t)m >= err_size - (size_t)n)
			return;
		n += m;
	}
	va_start(ap, fmt);
	vsnprintf(err + n, err_size - (size_t)n, fmt, ap);
	va_end(ap);
}

const char *sl_conf_quote(const char *s, char *out, size_t out_size)
{
	size_t i, max = out_size > 4 ? out_size - 4 : 0;

	if (max > 60)
		max = 60;
	for (i = 0; s[i] != '\0' && i < max; i++) {
		unsigned char c = (unsigned char)s[i];

		out[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	if (s[i] != '\0' && out_size >= 4) {
		memcpy(out + i, "...", 3);
		i += 3;
	}
	if (out_size > 0)
		out[i < out_size ? i : out_size - 1] = '\0';
	return out;
}

/* ---- parser --------------------------------------------------------- */

struct parser {
	const char *name;
	const char *p, *end;
	unsigned line;
	sl_conf_arena_t *arena;
	char *err;
	size_t err_size;
	char path[SL_CONF_PATH_MAX]; /* key path of the member being parsed */
	size_t path_len;
};

#define PERR(P, LINE, ...) \
	sl_conf_errf((P)->err, (P)->err_size, (P)->name, (LINE), (P)->path, __VA_ARGS__)

static int parse_value(struct parser *ps, sl_conf_node_t **node_r, unsigned depth);

static bool is_key_start(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_key_char(int c)
{
	return is_key_start(c) || (c >= '0' && c <= '9') || c == '-';
}

/* Bytes of a bare word: anything visible except the punctuation of the
 * syntax. Bytes >= 0x80 pass, so UTF-8 words work unquoted. */
static bool is_word_char(int c)
{
	return c > 0x20 && c != 0x7f && strchr(";,{}[]\"'#=", c) == NULL;
}

/* Reject what the grammar never allows anywhere, with the line it is on,
 * before parsing: NUL, control characters, over-long lines. */
static int check_bytes(struct parser *ps)
{
	const char *line_start = ps->p;
	unsigned line = 1;

	for (const char *q = ps->p; q < ps->end; q++) {
		unsigned char c = (unsigned char)*q;

		if (c == '\n') {
			if ((size_t)(q - line_start) > SL_CONF_MAX_LINE)
				goto too_long;
			line++;
			line_start = q + 1;
			continue;
		}
		if (c == '\r' && q + 1 < ps->end && q[1] == '\n')
			continue;
		if ((c < 0x20 && c != '\t') || c == 0x7f) {
			if (c == 0)
				sl_conf_errf(ps->err, ps->err_size, ps->name, line, NULL,
					     "NUL byte in the text");
			else
				sl_conf_errf(ps->err, ps->err_size, ps->name, line, NULL,
					     "control character 0x%02x in the text", c);
			return SL_ECONFIG;
		}
	}
	if ((size_t)(ps->end - line_start) <= SL_CONF_MAX_LINE)
		return 0;
too_long:
	sl_conf_errf(ps->err, ps->err_size, ps->name, line, NULL,
		     "line is longer than %d bytes", SL_CONF_MAX_LINE);
	return SL_ECONFIG;
}

/* Describe what sits at the cursor, for "unexpected ..." messages. */
static const char *describe_here(const struct parser *ps, char *out, size_t out_size)
{
	char tok[80], quoted[72];
	size_t n = 0;

	if (ps->p >= ps->end)
		return "end of file";
	if (*ps->p == '\n' || *ps->p == '\r')
		return "end of line";
	if (is_word_char((unsigned char)*ps->p)) {
		while (ps->p + n < ps->end && n < sizeof(tok) - 1 &&
		       is_word_char((unsigned char)ps->p[n]))
			n++;
	} else {
		n = 1;
	}
	memcpy(tok, ps->p, n);
	tok[n] = '\0';
	snprintf(out, out_size, "'%s'", sl_conf_quote(tok, quoted, sizeof(quoted)));
	return out;
}

/* Skip blanks and comments. With NEWLINES, line ends are skipped too;
 * without, the cursor stops at '\n'. Returns 1 when a newline was passed
 * (or one inside a block comment, which then ends a value like a newline
 * would), 0 when not, SL_ECONFIG for an unterminated block comment. */
static int skip_space(struct parser *ps, bool newlines)
{
	int crossed = 0;

	while (ps->p < ps->end) {
		char c = *ps->p;

		if (c == ' ' || c == '\t' || c == '\r') {
			ps->p++;
		} else if (c == '\n') {
			if (!newlines)
				return crossed;
			ps->line++;
			ps->p++;
			crossed = 1;
		} else if (c == '#' ||
			   (c == '/' && ps->p + 1 < ps->end && ps->p[1] == '/')) {
			while (ps->p < ps->end && *ps->p != '\n')
				ps->p++;
		} else if (c == '/' && ps->p + 1 < ps->end && ps->p[1] == '*') {
			unsigned start = ps->line;

			ps->p += 2;
			for (;;) {
				if (ps->p + 1 >= ps->end) {
					sl_conf_errf(ps->err, ps->err_size, ps->name, start,
						     NULL, "unterminated comment (missing '*/')");
					return SL_ECONFIG;
				}
				if (ps->p[0] == '*' && ps->p[1] == '/')
					break;
				if (*ps->p == '\n') {
					ps->line++;
					crossed = 1;
				}
				ps->p++;
			}
			ps->p += 2;
		} else {
			break;
		}
	}
	return crossed;
}

static sl_conf_node_t *node_new(struct parser *ps, enum sl_conf_node_kind kind)
{
	sl_conf_node_t *n = sl_conf_arena_alloc(ps->arena, sizeof(*n));

	if (n != NULL) {
		n->kind = kind;
		n->line = ps->line;
	}
	return n;
}

/* Turn the sibling chain FIRST.. of a finished container into its array,
 * so that sl_conf_node_at() is O(1). */
static int node_seal(struct parser *ps, sl_conf_node_t *n, sl_conf_node_t *first)
{
	unsigned i = 0;

	if (n->count == 0)
		return 0;
	n->items = sl_conf_arena_alloc(ps->arena, n->count * sizeof(*n->items));
	if (n->items == NULL)
		return SL_ENOMEM;
	for (sl_conf_node_t *c = first; c != NULL; c = c->next)
		n->items[i++] = c;
	return 0;
}

static int hex4(const char *q, unsigned *r)
{
	unsigned v = 0;

	for (int i = 0; i < 4; i++) {
		char c = q[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	*r = v;
	return 0;
}

static size_t utf8_put(char *out, unsigned cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Decode a "\uXXXX" (and its low surrogate, if any) at Q. Returns the
 * bytes of input used, or 0 after writing the error. */
static size_t decode_u(struct parser *ps, const char *q, const char *close, unsigned *cp_r)
{
	unsigned hi, lo;

	if (close - q < 6 || hex4(q + 2, &hi) < 0) {
		PERR(ps, ps->line, "'\\u' must be followed by 4 hex digits");
		return 0;
	}
	if (hi == 0) {
		PERR(ps, ps->line, "'\\u0000' is not allowed in a string");
		return 0;
	}
	if (hi >= 0xdc00 && hi <= 0xdfff)
		goto lone;
	if (hi >= 0xd800 && hi <= 0xdbff) {
		if (close - q < 12 || q[6] != '\\' || q[7] != 'u' || hex4(q + 8, &lo) < 0 ||
		    lo < 0xdc00 || lo > 0xdfff)
			goto lone;
		*cp_r = 0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00);
		return 12;
	}
	*cp_r = hi;
	return 6;
lone:
	PERR(ps, ps->line, "'\\u%04x' is an unpaired UTF-16 surrogate", hi);
	return 0;
}

/* "..." with JSON escapes (plus \'), or '...' where only \' and \\ are
 * escapes. A string ends on its own line: a raw newline is an error, which
 * makes a missing quote point at the right line. */
static int parse_string(struct parser *ps, sl_conf_node_t **node_r)
{
	const char quote = *ps->p;
	const char *q = ps->p + 1, *close;
	sl_conf_node_t *n;
	char *out;
	size_t o = 0;

	while (q < ps->end && *q != quote && *q != '\n') {
		if (*q == '\\' && q + 1 < ps->end && q[1] != '\n')
			q++;
		q++;
	}
	if (q >= ps->end || *q != quote) {
		PERR(ps, ps->line, "unterminated string (missing %c)", quote);
		return SL_ECONFIG;
	}
	close = q;
	n = node_new(ps, SL_CONF_NODE_SCALAR);
	/* Decoding never grows the text: \uXXXX (6 bytes) is at most 3 bytes
	 * of UTF-8, a surrogate pair (12) is 4. */
	out = n ? sl_conf_arena_alloc(ps->arena, (size_t)(close - ps->p)) : NULL;
	if (out == NULL)
		return SL_ENOMEM;
	for (q = ps->p + 1; q < close; q++) {
		unsigned cp;
		size_t used;

		if (*q != '\\') {
			out[o++] = *q;
			continue;
		}
		if (quote == '\'') {
			if (q[1] == '\'' || q[1] == '\\')
				q++;
			out[o++] = *q;
			continue;
		}
		switch (q[1]) {
		case '"': case '\\': case '/': case '\'':
			out[o++] = q[1];
			break;
		case 'b': out[o++] = '\b'; break;
		case 'f': out[o++] = '\f'; break;
		case 'n': out[o++] = '\n'; break;
		case 'r': out[o++] = '\r'; break;
		case 't': out[o++] = '\t'; break;
		case 'u':
			used = decode_u(ps, q, close, &cp);
			if (used == 0)
				return SL_ECONFIG;
			o += utf8_put(out + o, cp);
			q += used - 2;
			break;
		default:
			PERR(ps, ps->line, "unknown escape '\\%c' in a string (use \\\\ for a backslash)",
			     (unsigned char)q[1] >= 0x20 ? q[1] : '?');
			return SL_ECONFIG;
		}
		q++;
	}
	out[o] = '\0';
	n->str = out;
	n->len = o;
	n->quoted = true;
	ps->p = close + 1;
	*node_r = n;
	return 0;
}

static int parse_word(struct parser *ps, sl_conf_node_t **node_r)
{
	const char *q = ps->p;
	sl_conf_node_t *n;

	while (q < ps->end && is_word_char((unsigned char)*q))
		q++;
	n = node_new(ps, SL_CONF_NODE_SCALAR);
	if (n == NULL || (n->str = sl_conf_arena_alloc(ps->arena, (size_t)(q - ps->p) + 1)) == NULL)
		return SL_ENOMEM;
	memcpy(n->str, ps->p, (size_t)(q - ps->p));
	n->len = (size_t)(q - ps->p);
	ps->p = q;
	*node_r = n;
	return 0;
}

static int parse_members(struct parser *ps, sl_conf_node_t *obj, unsigned depth, bool braced);

static int parse_array(struct parser *ps, sl_conf_node_t **node_r, unsigned depth)
{
	sl_conf_node_t *arr = node_new(ps, SL_CONF_NODE_ARRAY), *first = NULL, *last = NULL;
	unsigned open_line = ps->line;
	char what[96];
	int rc;

	if (arr == NULL)
		return SL_ENOMEM;
	ps->p++; /* '[' */
	for (;;) {
		sl_conf_node_t *v;

		if ((rc = skip_space(ps, true)) < 0)
			return rc;
		if (ps->p >= ps->end)
			goto unterminated;
		if (*ps->p == ']')
			break;
		if ((rc = parse_value(ps, &v, depth)) < 0)
			return rc;
		if (last != NULL)
			last->next = v;
		else
			first = v;
		last = v;
		arr->count++;
		if ((rc = skip_space(ps, true)) < 0)
			return rc;
		if (ps->p >= ps->end)
			goto unterminated;
		if (*ps->p == ']')
			break;
		if (*ps->p != ',') {
			PERR(ps, ps->line, "expected ',' or ']' in the array, found %s",
			     describe_here(ps, what, sizeof(what)));
			return SL_ECONFIG;
		}
		ps->p++;
	}
	ps->p++; /* ']' */
	if ((rc = node_seal(ps, arr, first)) < 0)
		return rc;
	*node_r = arr;
	return 0;
unterminated:
	PERR(ps, open_line, "unterminated array (missing ']')");
	return SL_ECONFIG;
}

static int parse_object(struct parser *ps, sl_conf_node_t **node_r, unsigned depth)
{
	sl_conf_node_t *obj = node_new(ps, SL_CONF_NODE_OBJECT);
	int rc;

	if (obj == NULL)
		return SL_ENOMEM;
	ps->p++; /* '{' */
	if ((rc = parse_members(ps, obj, depth, true)) < 0)
		return rc;
	*node_r = obj;
	return 0;
}

/* Any value: scalar, array or object. DEPTH counts the containers around
 * it (the root object is 0). */
static int parse_value(struct parser *ps, sl_conf_node_t **node_r, unsigned depth)
{
	char what[96];
	char c;

	if (ps->p >= ps->end)
		goto unexpected;
	c = *ps->p;
	if ((c == '{' || c == '[') && depth + 1 > SL_CONF_MAX_DEPTH) {
		PERR(ps, ps->line, "nesting deeper than %d levels", SL_CONF_MAX_DEPTH);
		return SL_ECONFIG;
	}
	if (c == '{')
		return parse_object(ps, node_r, depth + 1);
	if (c == '[')
		return parse_array(ps, node_r, depth + 1);
	if (c == '"' || c == '\'')
		return parse_string(ps, node_r);
	if (is_word_char((unsigned char)c))
		return parse_word(ps, node_r);
unexpected:
	PERR(ps, ps->line, "expected a value, found %s", describe_here(ps, what, sizeof(what)));
	return SL_ECONFIG;
}

/* After a scalar or array member: ';', ',', a newline, or (not consumed)
 * the '}' of the enclosing section or the end of the file. */
static int parse_terminator(struct parser *ps, bool braced)
{
	char what[96];
	int rc = skip_space(ps, false);

	if (rc != 0)
		return rc < 0 ? rc : 0;
	if (ps->p >= ps->end)
		return 0;
	switch (*ps->p) {
	case '\n':
		ps->line++;
		/* fall through */
	case ';':
	case ',':
		ps->p++;
		return 0;
	case '}':
		if (braced)
			return 0;
		break;
	}
	PERR(ps, ps->line, "unexpected %s after the value (missing ';'?)",
	     describe_here(ps, what, sizeof(what)));
	return SL_ECONFIG;
}

static int parse_member(struct parser *ps, sl_conf_node_t **node_r, unsigned depth, bool braced)
{
	const char *k = ps->p;
	size_t saved_len = ps->path_len, klen;
	unsigned key_line = ps->line;
	sl_conf_node_t *v;
	char *key, what[96];
	int rc, crossed;

	while (ps->p < ps->end && is_key_char((unsigned char)*ps->p))
		ps->p++;
	klen = (size_t)(ps->p - k);
	if (klen > SL_CONF_MAX_KEY) {
		PERR(ps, ps->line, "key '%.20s...' is longer than %d bytes", k, SL_CONF_MAX_KEY);
		return SL_ECONFIG;
	}
	key = sl_conf_arena_alloc(ps->arena, klen + 1);
	if (key == NULL)
		return SL_ENOMEM;
	memcpy(key, k, klen);
	/* Path for messages; depth and key length are bounded, so it fits. */
	if (ps->path_len > 0)
		ps->path[ps->path_len++] = '.';
	memcpy(ps->path + ps->path_len, key, klen + 1);
	ps->path_len += klen;

	if (ps->p < ps->end && *ps->p == '.') {
		PERR(ps, key_line, "dotted keys are not supported (use a section: %s { ... })", key);
		return SL_ECONFIG;
	}
	crossed = skip_space(ps, false);
	if (crossed < 0)
		return crossed;
	/* '=' always separates. ':' separates right after the key or before a
	 * blank ("key: v", "key : v"), so that a value may itself start with
	 * ':' ("addr ::1"). */
	if (!crossed && ps->p < ps->end &&
	    (*ps->p == '=' ||
	     (*ps->p == ':' && (ps->p == k + klen || ps->p + 1 >= ps->end ||
				strchr(" \t\r\n", ps->p[1]) != NULL)))) {
		ps->p++;
		crossed = skip_space(ps, false);
		if (crossed < 0)
			return crossed;
	}
	if (crossed || ps->p >= ps->end || strchr("\n;,}", *ps->p) != NULL)
		goto no_value;
	if ((rc = parse_value(ps, &v, depth)) < 0)
		return rc;
	v->key = key;
	v->key_line = key_line;
	if (v->kind == SL_CONF_NODE_OBJECT) {
		/* A section closes itself; one ';' or ',' after it is tolerated. */
		if ((rc = skip_space(ps, false)) < 0)
			return rc;
		if (rc == 0 && ps->p < ps->end && (*ps->p == ';' || *ps->p == ','))
			ps->p++;
	} else if ((rc = parse_terminator(ps, braced)) < 0) {
		return rc;
	}
	ps->path_len = saved_len;
	ps->path[saved_len] = '\0';
	*node_r = v;
	return 0;
no_value:
	PERR(ps, key_line, "missing value (found %s)", describe_here(ps, what, sizeof(what)));
	return SL_ECONFIG;
}

/* Members of the root (BRACED false: ends at end of file) or of a section
 * whose '{' was just consumed (ends at the matching '}'). */
static int parse_members(struct parser *ps, sl_conf_node_t *obj, unsigned depth, bool braced)
{
	sl_conf_node_t *first = NULL, *last = NULL;
	unsigned open_line = ps->line;
	char what[96];
	int rc;

	for (;;) {
		sl_conf_node_t *m;

		if ((rc = skip_space(ps, true)) < 0)
			return rc;
		if (ps->p >= ps->end) {
			if (!braced)
				break;
			PERR(ps, open_line, "unterminated section (missing '}')");
			return SL_ECONFIG;
		}
		if (*ps->p == '}') {
			if (braced) {
				ps->p++;
				break;
			}
			PERR(ps, ps->line, "unexpected '}' (no section is open)");
			return SL_ECONFIG;
		}
		if (!is_key_start((unsigned char)*ps->p)) {
			PERR(ps, ps->line, "expected a key, found %s",
			     describe_here(ps, what, sizeof(what)));
			return SL_ECONFIG;
		}
		if ((rc = parse_member(ps, &m, depth, braced)) < 0)
			return rc;
		if (last != NULL)
			last->next = m;
		else
			first = m;
		last = m;
		obj->count++;
	}
	return node_seal(ps, obj, first);
}

int sl_conf_parse(const char *name, const char *text, size_t len, sl_conf_arena_t *a,
		  sl_conf_node_t **root_r, char *err, size_t err_size)
{
	struct parser *ps = calloc(1, sizeof(*ps));
	sl_conf_node_t *root;
	int rc;

	if (ps == NULL)
		return SL_ENOMEM;
	ps->name = name;
	ps->p = text;
	ps->end = text + len;
	ps->line = 1;
	ps->arena = a;
	ps->err = err;
	ps->err_size = err_size;
	if ((rc = check_bytes(ps)) < 0)
		goto done;
	root = node_new(ps, SL_CONF_NODE_OBJECT);
	if (root == NULL) {
		rc = SL_ENOMEM;
		goto done;
	}
	if ((rc = parse_members(ps, root, 0, false)) < 0)
		goto done;
	*root_r = root;
done:
	if (rc == SL_ENOMEM)
		snprintf(err, err_size, "%s: out of memory", name);
	free(ps);
	return rc;
}
