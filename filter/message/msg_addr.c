/* msg_addr - RFC 5322 §3.4 address lists (and §4.4 obsolete syntax) into
 * IMAP's (name adl mailbox host) form. Iterative; never fails on syntax. */
#include "message/msg_private.h"
#include "message/msg_struct.h"
#include "sl_err.h"

#define MISSING_HOST ".MISSING-HOST-NAME."

/* The next special (one of STOP) at or after I outside quotes, comments
 * and literals; N when none. */
static size_t find_special(const uint8_t *s, size_t n, size_t i, const char *stop)
{
	while (i < n) {
		uint8_t c = s[i];
		if (c == '"' || c == '(' || c == '[') {
			size_t j = i + 1;
			if (c == '(') {
				unsigned depth = 1;
				while (j < n && depth) {
					if (s[j] == '\\' && j + 1 < n)
						j++;
					else if (s[j] == '(')
						depth++;
					else if (s[j] == ')')
						depth--;
					j++;
				}
			} else {
				uint8_t close = c == '"' ? '"' : ']';
				while (j < n && s[j] != close) {
					if (s[j] == '\\' && j + 1 < n)
						j++;
					j++;
				}
				if (j < n)
					j++;
			}
			i = j;
			continue;
		}
		if (c && strchr(stop, c)) /* strchr finds the terminating NUL too */
			return i;
		i++;
	}
	return n;
}

typedef struct sbuf {
	sl_buf_t *b;
	size_t start;
} sbuf_t;

static void s_begin(sbuf_t *w, sl_buf_t *b)
{
	w->b = b;
	w->start = b->len;
}

/* Appends never reallocate: the caller reserved room for all of it. */
static void s_put(sbuf_t *w, const uint8_t *p, size_t n)
{
	if (n && w->b->len + n <= w->b->cap) {
		memcpy(w->b->data + w->b->len, p, n);
		w->b->len += n;
	}
}

static sl_slice_t s_end(sbuf_t *w)
{
	sl_slice_t r = sl_slice_make(w->b->data + w->start, w->b->len - w->start);

	if (w->b->len < w->b->cap)
		w->b->data[w->b->len++] = 0;
	return r;
}

enum { R_NAME, R_LOCAL };

/* Render the words of [A,B): quoted strings unquoted, comments dropped (the
 * first one's text goes to *COMMENT_R), whitespace dropped; in R_NAME mode
 * words are joined with one space (no space before '.' or after it
 * inside "Q."), in R_LOCAL mode glued. */
static sl_slice_t render(const uint8_t *s, size_t a, size_t b, int mode, sl_buf_t *strs,
			 sl_slice_t *comment_r, bool *any_r)
{
	sbuf_t w;
	bool need_space = false, any = false;
	size_t i = a;

	s_begin(&w, strs);
	while (i < b) {
		uint8_t c = s[i];
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			if (any)
				need_space = true;
			i++;
			continue;
		}
		if (c == '(') {
			size_t j = i + 1;
			unsigned depth = 1;
			while (j < b && depth) {
				if (s[j] == '\\' && j + 1 < b)
					j++;
				else if (s[j] == '(')
					depth++;
				else if (s[j] == ')')
					depth--;
				j++;
			}
			if (comment_r && !comment_r->len) {
				size_t ce = (j > i + 1 && s[j - 1] == ')') ? j - 1 : j;
				size_t cs = i + 1;
				while (cs < ce && (s[cs] == ' ' || s[cs] == '\t'))
					cs++;
				while (ce > cs && (s[ce - 1] == ' ' || s[ce - 1] == '\t'))
					ce--;
				*comment_r = sl_slice_make(s + cs, ce - cs);
			}
			i = j;
			if (any)
				need_space = true;
			continue;
		}
		if (mode == R_NAME && need_space && c != '.')
			s_put(&w, (const uint8_t *)" ", 1);
		need_space = false;
		if (c == '"') {
			size_t j = i + 1;
			while (j < b && s[j] != '"') {
				if (s[j] == '\\' && j + 1 < b)
					j++;
				s_put(&w, s + j, 1);
				j++;
			}
			i = j < b ? j + 1 : b;
			any = true;
			continue;
		}
		s_put(&w, &c, 1);
		any = true;
		i++;
	}
	if (any_r)
		*any_r = any;
	return s_end(&w);
}

/* A comment's text into STRS (escapes removed). */
static sl_slice_t put_comment(sl_slice_t c, sl_buf_t *strs)
{
	sbuf_t w;

	s_begin(&w, strs);
	for (size_t i = 0; i < c.len; i++) {
		if (c.ptr[i] == '\\' && i + 1 < c.len)
			i++;
		s_put(&w, c.ptr + i, 1);
	}
	return s_end(&w);
}

int msg_addr_parse(sl_slice_t in, msg_addr_t *out, uint32_t max, uint32_t *n_r, sl_buf_t *strs)
{
	const uint8_t *s = in.ptr;
	size_t n = in.len, i = 0;
	uint32_t cnt = 0;
	bool in_group = false;
	int rc = 0;

	*n_r = 0;
	/* every string comes from input bytes, plus one space or NUL per input
	 * byte at most, plus the missing-host text per address */
	size_t naddr = (max < n + 2) ? max : n + 2;
	size_t need = 2 * n + naddr * (sizeof(MISSING_HOST) + 8) + 64;
	if (strs->len + need > strs->max)
		need = strs->max - strs->len;
	if ((rc = sl_buf_reserve(strs, need)) < 0)
		return rc;
	/* only use the reserved room: later appends must not move the strings */
	size_t saved_cap = strs->cap;
	strs->cap = strs->len + need;

	while (i < n) {
		msg_addr_t a;
		memset(&a, 0, sizeof(a));
		size_t p0 = i;
		size_t sp = find_special(s, n, i, "<>@,;:");
		uint8_t c = sp < n ? s[sp] : 0;
		sl_slice_t comment = {NULL, 0};
		bool any = false;

		if (c == ':' && !in_group) {
			a.kind = MSG_ADDR_GROUP_START;
			a.mailbox = render(s, p0, sp, R_NAME, strs, NULL, &any);
			in_group = true;
			i = sp + 1;
		} else if (c == '<') {
			a.name = render(s, p0, sp, R_NAME, strs, &comment, &any);
			if (!any)
				a.name = (sl_slice_t){NULL, 0};
			size_t gt = find_special(s, n, sp + 1, ">");
			size_t j = sp + 1;
			/* obsolete route: @a,@b: */
			size_t k = j;
			while (k < gt && (s[k] == ' ' || s[k] == '\t'))
				k++;
			if (k < gt && s[k] == '@') {
				size_t colon = find_special(s, gt, k, ":");
				if (colon < gt) {
					a.adl = render(s, k, colon, R_LOCAL, strs, NULL, NULL);
					j = colon + 1;
				}
			}
			size_t at = j, last_at = gt;
			while ((at = find_special(s, gt, at, "@")) < gt) {
				last_at = at;
				at++;
			}
			bool any_local = false;
			if (last_at < gt) {
				a.mailbox = render(s, j, last_at, R_LOCAL, strs, NULL, &any_local);
				a.host = render(s, last_at + 1, gt, R_LOCAL, strs, NULL, NULL);
			} else {
				a.mailbox = render(s, j, gt, R_LOCAL, strs, NULL, &any_local);
				a.host = any_local ? sl_slice_make(MISSING_HOST, sizeof(MISSING_HOST) - 1)
						   : sl_slice_make("", 0);
			}
			/* to the end of this address; a comment there may be the name */
			size_t e = find_special(s, n, gt < n ? gt + 1 : n, in_group ? ",;" : ",");
			if (!a.name.len && !comment.len && gt < n) {
				sl_slice_t c2 = {NULL, 0};
				render(s, gt + 1, e, R_LOCAL, strs, &c2, NULL);
				comment = c2;
			}
			if (!a.name.len && comment.len)
				a.name = put_comment(comment, strs);
			i = e;
			any = true;
		} else if (c == '@') {
			size_t e = find_special(s, n, sp + 1, in_group ? ",;<>" : ",<>");
			a.mailbox = render(s, p0, sp, R_LOCAL, strs, &comment, NULL);
			a.host = render(s, sp + 1, e, R_LOCAL, strs, &comment, NULL);
			if (comment.len)
				a.name = put_comment(comment, strs);
			/* "a@b <c@d>" style junk: the part from '<' or '>' is dropped */
			if (e < n && (s[e] == '<' || s[e] == '>'))
				e = find_special(s, n, e, in_group ? ",;" : ",");
			i = e;
			any = true;
		} else {
			/* ',' ';' '>' ':' (in a group) or the end: a bare word, if any */
			a.mailbox = render(s, p0, sp, R_LOCAL, strs, &comment, &any);
			if (any)
				a.host = sl_slice_make(MISSING_HOST, sizeof(MISSING_HOST) - 1);
			i = sp < n ? sp : n;
		}
		if (a.kind == MSG_ADDR_GROUP_START || any) {
			if (cnt >= max) {
				rc = SL_ELIMIT;
				break;
			}
			out[cnt++] = a;
		}
		if (i < n && s[i] == ';' && in_group) {
			if (cnt >= max) {
				rc = SL_ELIMIT;
				break;
			}
			memset(&out[cnt], 0, sizeof(out[cnt]));
			out[cnt++].kind = MSG_ADDR_GROUP_END;
			in_group = false;
			i++;
		} else if (i < n && (s[i] == ',' || s[i] == ';' || s[i] == '>' || (s[i] == ':' && i == sp))) {
			if (a.kind != MSG_ADDR_GROUP_START)
				i++;
		}
		if (i <= p0)
			i = p0 + 1; /* never stall on a byte nothing above consumes */
	}
	if (rc == 0 && in_group) {
		if (cnt < max) {
			memset(&out[cnt], 0, sizeof(out[cnt]));
			out[cnt++].kind = MSG_ADDR_GROUP_END;
		} else {
			rc = SL_ELIMIT;
		}
	}
	if (strs->len >= strs->cap)
		rc = SL_ELIMIT; /* the reserved room ran out: strings may be cut */
	strs->cap = saved_cap;
	*n_r = cnt;
	return rc;
}
