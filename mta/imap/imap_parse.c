/* imap_parse - the tokenizer over one complete command (RFC 9051 §9).
 *
 * The framing in imap_session.c hands over a command only once all of it,
 * literals included, is in the buffer and under every limit, so these
 * functions never wait for input: they walk the bytes and fail with a
 * static reason for the BAD response. Strings are copied, unescaped and
 * NUL-terminated, into the command's arena, which is sized for the
 * command before parsing starts and so never moves. */
#include <stdio.h>
#include <string.h>

#include "imap_private.h"
#include "sl_err.h"

void imap_p_init(struct imap_parser *ps, imap_session_t *s, const uint8_t *p, size_t n)
{
	memset(ps, 0, sizeof(*ps));
	ps->p = p;
	ps->n = n;
	ps->s = s;
	ps->depth_max = s->state == IMAP_STATE_NOT_AUTH ? s->cfg->preauth_nesting_max
							: s->cfg->nesting_max;
}

bool imap_p_fail(struct imap_parser *ps, const char *err)
{
	if (ps->err == NULL)
		ps->err = err;
	return false;
}

bool imap_p_at(const struct imap_parser *ps, uint8_t c)
{
	return ps->pos < ps->n && ps->p[ps->pos] == c;
}

bool imap_p_sp(struct imap_parser *ps)
{
	if (!imap_p_at(ps, ' '))
		return imap_p_fail(ps, "Expected a space");
	ps->pos++;
	return true;
}

/* imap_p_end - at the line end that finishes the command. */
bool imap_p_end(const struct imap_parser *ps)
{
	size_t r = ps->n - ps->pos;

	return (r == 1 && ps->p[ps->pos] == '\n') ||
	       (r == 2 && ps->p[ps->pos] == '\r' && ps->p[ps->pos + 1] == '\n');
}

bool imap_p_eol(struct imap_parser *ps)
{
	if (!imap_p_end(ps))
		return imap_p_fail(ps, "Unexpected extra arguments");
	ps->pos = ps->n;
	return true;
}

/* ATOM-CHAR: any CHAR except atom-specials (RFC 9051 §9). */
bool imap_atom_char(uint8_t c)
{
	if (c <= 0x20 || c >= 0x7f)
		return false;
	switch (c) {
	case '(':
	case ')':
	case '{':
	case '%':
	case '*':
	case '"':
	case '\\':
	case ']':
		return false;
	default:
		return true;
	}
}

bool imap_p_atom(struct imap_parser *ps, sl_slice_t *r)
{
	size_t st = ps->pos;

	while (ps->pos < ps->n && imap_atom_char(ps->p[ps->pos]))
		ps->pos++;
	if (ps->pos == st)
		return imap_p_fail(ps, "Expected an atom");
	*r = sl_slice_make(ps->p + st, ps->pos - st);
	return true;
}

/* tag = 1*<any ASTRING-CHAR except "+"> */
bool imap_p_tag(struct imap_parser *ps, sl_slice_t *r)
{
	size_t st = ps->pos;

	while (ps->pos < ps->n) {
		uint8_t c = ps->p[ps->pos];

		if (c == '+' || !(imap_atom_char(c) || c == ']'))
			break;
		ps->pos++;
	}
	if (ps->pos == st || ps->pos - st > IMAP_TAG_MAX)
		return imap_p_fail(ps, "Invalid tag");
	*r = sl_slice_make(ps->p + st, ps->pos - st);
	return true;
}

/* imap_p_copy - N bytes into the arena, NUL-terminated. */
static bool imap_p_copy(struct imap_parser *ps, const uint8_t *p, size_t n, sl_slice_t *r)
{
	uint8_t *d = imap_arena_alloc(ps->s, n + 1);

	if (d == NULL)
		return imap_p_fail(ps, "[LIMIT] Command too complex");
	if (n)
		memcpy(d, p, n);
	d[n] = '\0';
	*r = sl_slice_make(d, n);
	return true;
}

/* quoted = DQUOTE *QUOTED-CHAR DQUOTE; QUOTED-CHAR excludes NUL, CR, LF;
 * only '"' and '\' may be escaped. 8-bit is taken (RFC 9051 utf8-quoted;
 * IMAP4rev1 clients send 8-bit passwords in practice). */
static bool imap_p_quoted(struct imap_parser *ps, sl_slice_t *r)
{
	uint8_t *d;
	size_t o = 0;

	ps->pos++; /* DQUOTE */
	d = imap_arena_alloc(ps->s, ps->n - ps->pos + 1);
	if (d == NULL)
		return imap_p_fail(ps, "[LIMIT] Command too complex");
	while (ps->pos < ps->n) {
		uint8_t c = ps->p[ps->pos++];

		if (c == '"') {
			d[o] = '\0';
			*r = sl_slice_make(d, o);
			return true;
		}
		if (c == '\\') {
			if (ps->pos >= ps->n || (ps->p[ps->pos] != '"' && ps->p[ps->pos] != '\\'))
				return imap_p_fail(ps, "Invalid escape in quoted string");
			c = ps->p[ps->pos++];
		} else if (c == 0) {
			return imap_p_fail(ps, "NUL in quoted string");
		} else if (c == '\r' || c == '\n') {
			return imap_p_fail(ps, "Unterminated quoted string");
		}
		d[o++] = c;
	}
	return imap_p_fail(ps, "Unterminated quoted string");
}

/* literal = "{" number64 ["+"] "}" CRLF *CHAR8 (RFC 7888); the framing
 * already checked the size against the limits. */
static bool imap_p_literal(struct imap_parser *ps, sl_slice_t *r)
{
	uint64_t n = 0;
	size_t digits = 0;

	ps->pos++; /* { */
	while (ps->pos < ps->n && ps->p[ps->pos] >= '0' && ps->p[ps->pos] <= '9') {
		if (n > (UINT64_MAX - 9) / 10)
			return imap_p_fail(ps, "Literal too large");
		n = n * 10 + (uint64_t)(ps->p[ps->pos++] - '0');
		digits++;
	}
	if (digits == 0)
		return imap_p_fail(ps, "Invalid literal");
	if (imap_p_at(ps, '+'))
		ps->pos++;
	if (!imap_p_at(ps, '}'))
		return imap_p_fail(ps, "Invalid literal");
	ps->pos++;
	if (imap_p_at(ps, '\r'))
		ps->pos++;
	if (!imap_p_at(ps, '\n'))
		return imap_p_fail(ps, "Literal must end its line");
	ps->pos++;
	if (n > ps->n - ps->pos)
		return imap_p_fail(ps, "Literal too large");
	if (memchr(ps->p + ps->pos, 0, (size_t)n) != NULL)
		return imap_p_fail(ps, "NUL in literal");
	if (!imap_p_copy(ps, ps->p + ps->pos, (size_t)n, r))
		return false;
	ps->pos += (size_t)n;
	return true;
}

/* imap_p_literal_raw - a literal, not copied: R points into the command
 * (APPEND's message, which may be as large as APPENDLIMIT). LITERAL8: the
 * "{n}" or "{n+}" of a literal8 after its '~' (RFC 3516), where NUL is
 * data. */
bool imap_p_literal_raw(struct imap_parser *ps, sl_slice_t *r, bool literal8)
{
	uint64_t n = 0;
	size_t digits = 0;

	if (!imap_p_at(ps, '{'))
		return imap_p_fail(ps, "Expected a literal");
	ps->pos++;
	while (ps->pos < ps->n && ps->p[ps->pos] >= '0' && ps->p[ps->pos] <= '9') {
		if (n > (UINT64_MAX - 9) / 10)
			return imap_p_fail(ps, "Literal too large");
		n = n * 10 + (uint64_t)(ps->p[ps->pos++] - '0');
		digits++;
	}
	if (digits == 0)
		return imap_p_fail(ps, "Invalid literal");
	if (imap_p_at(ps, '+'))
		ps->pos++;
	if (!imap_p_at(ps, '}'))
		return imap_p_fail(ps, "Invalid literal");
	ps->pos++;
	if (imap_p_at(ps, '\r'))
		ps->pos++;
	if (!imap_p_at(ps, '\n'))
		return imap_p_fail(ps, "Literal must end its line");
	ps->pos++;
	if (n > ps->n - ps->pos)
		return imap_p_fail(ps, "Literal too large");
	if (!literal8 && memchr(ps->p + ps->pos, 0, (size_t)n) != NULL)
		return imap_p_fail(ps, "NUL in literal");
	*r = sl_slice_make(ps->p + ps->pos, (size_t)n);
	ps->pos += (size_t)n;
	return true;
}

/* date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP time
 * SP zone DQUOTE (RFC 9051 §9). Seconds since the epoch (UTC), zone in
 * minutes east. */
bool imap_p_date_time(struct imap_parser *ps, int64_t *t_r, int32_t *tz_r)
{
	int64_t days;
	uint32_t hh, mm, ss, zh, zm;
	const uint8_t *p;
	int sign;

	if (!imap_p_at(ps, '"'))
		return imap_p_fail(ps, "Invalid date-time");
	ps->pos++;
	if (imap_p_at(ps, ' '))
		ps->pos++; /* date-day-fixed: SP DIGIT */
	if (!imap_p_date(ps, &days))
		return false;
	if (ps->n - ps->pos < 16)
		return imap_p_fail(ps, "Invalid date-time");
	p = ps->p + ps->pos;
	for (int i = 0; i < 15; i++) {
		static const char shape[] = " 99:99:99 s9999";

		if (shape[i] == '9' ? !(p[i] >= '0' && p[i] <= '9')
		    : shape[i] == 's' ? (p[i] != '+' && p[i] != '-')
				      : p[i] != shape[i])
			return imap_p_fail(ps, "Invalid date-time");
	}
	if (p[15] != '"')
		return imap_p_fail(ps, "Invalid date-time");
	hh = (uint32_t)((p[1] - '0') * 10 + (p[2] - '0'));
	mm = (uint32_t)((p[4] - '0') * 10 + (p[5] - '0'));
	ss = (uint32_t)((p[7] - '0') * 10 + (p[8] - '0'));
	sign = p[10] == '-' ? -1 : 1;
	zh = (uint32_t)((p[11] - '0') * 10 + (p[12] - '0'));
	zm = (uint32_t)((p[13] - '0') * 10 + (p[14] - '0'));
	if (hh > 23 || mm > 59 || ss > 60 || zh > 23 || zm > 59)
		return imap_p_fail(ps, "Invalid date-time");
	*tz_r = sign * (int32_t)(zh * 60 + zm);
	*t_r = days * 86400 + hh * 3600 + mm * 60 + ss - (int64_t)*tz_r * 60;
	ps->pos += 16;
	return true;
}

bool imap_p_string(struct imap_parser *ps, sl_slice_t *r)
{
	if (imap_p_at(ps, '"'))
		return imap_p_quoted(ps, r);
	if (imap_p_at(ps, '{'))
		return imap_p_literal(ps, r);
	return imap_p_fail(ps, "Expected a string");
}

bool imap_p_astring(struct imap_parser *ps, sl_slice_t *r)
{
	size_t st = ps->pos;

	if (imap_p_at(ps, '"') || imap_p_at(ps, '{'))
		return imap_p_string(ps, r);
	while (ps->pos < ps->n && (imap_atom_char(ps->p[ps->pos]) || ps->p[ps->pos] == ']'))
		ps->pos++;
	if (ps->pos == st)
		return imap_p_fail(ps, "Expected a string");
	return imap_p_copy(ps, ps->p + st, ps->pos - st, r);
}

bool imap_p_nstring(struct imap_parser *ps, sl_slice_t *r, bool *nil_r)
{
	if (ps->n - ps->pos >= 3 && !strncasecmp((const char *)ps->p + ps->pos, "NIL", 3) &&
	    (ps->pos + 3 == ps->n || !imap_atom_char(ps->p[ps->pos + 3]))) {
		ps->pos += 3;
		*nil_r = true;
		*r = sl_slice_make("", 0);
		return true;
	}
	*nil_r = false;
	return imap_p_string(ps, r);
}

bool imap_p_number64(struct imap_parser *ps, uint64_t *v)
{
	uint64_t n = 0;
	size_t st = ps->pos;

	while (ps->pos < ps->n && ps->p[ps->pos] >= '0' && ps->p[ps->pos] <= '9') {
		uint64_t d = (uint64_t)(ps->p[ps->pos] - '0');

		/* number64 is 63 bits (RFC 9051 §9) */
		if (n > (INT64_MAX - d) / 10)
			return imap_p_fail(ps, "Number too large");
		n = n * 10 + d;
		ps->pos++;
	}
	if (ps->pos == st)
		return imap_p_fail(ps, "Expected a number");
	*v = n;
	return true;
}

bool imap_p_number(struct imap_parser *ps, uint32_t *v)
{
	uint64_t n;

	if (!imap_p_number64(ps, &n))
		return false;
	if (n > UINT32_MAX)
		return imap_p_fail(ps, "Number too large");
	*v = (uint32_t)n;
	return true;
}

bool imap_p_nz_number(struct imap_parser *ps, uint32_t *v)
{
	if (!imap_p_number(ps, v))
		return false;
	if (*v == 0)
		return imap_p_fail(ps, "Zero is not allowed here");
	return true;
}

bool imap_p_open(struct imap_parser *ps)
{
	if (!imap_p_at(ps, '('))
		return imap_p_fail(ps, "Expected '('");
	if (++ps->depth > ps->depth_max)
		return imap_p_fail(ps, "[LIMIT] Too many nested parentheses");
	ps->pos++;
	return true;
}

bool imap_p_close(struct imap_parser *ps)
{
	if (!imap_p_at(ps, ')'))
		return imap_p_fail(ps, "Expected ')'");
	ps->depth--;
	ps->pos++;
	return true;
}

/* imap_p_name_finish - wire name R (already in the arena) to the store's
 * form: UTF-8 (modified UTF-7 decoded unless UTF-8 is enabled) with the
 * first level "INBOX" in capitals (RFC 9051 §5.1: INBOX is
 * case-insensitive). */
static bool imap_p_name_finish(struct imap_parser *ps, sl_slice_t *r)
{
	uint8_t *d;
	long k;

	if (r->len > IMAP_NAME_MAX)
		return imap_p_fail(ps, "Mailbox name too long");
	if (imap_utf8_mode(ps->s)) {
		if (!imap_utf8_valid(r->ptr, r->len))
			return imap_p_fail(ps, "Mailbox name is not valid UTF-8");
		d = (uint8_t *)r->ptr;
		k = (long)r->len;
	} else {
		/* decoding never grows a name: 3 UTF-8 bytes come from at
		 * least 3 base64 characters */
		d = imap_arena_alloc(ps->s, r->len * 2 + 8);
		if (d == NULL)
			return imap_p_fail(ps, "[LIMIT] Command too complex");
		k = imap_mutf7_decode(r->ptr, r->len, (char *)d, r->len * 2 + 8);
		if (k < 0)
			return imap_p_fail(ps, "Mailbox name is not valid modified UTF-7");
	}
	if (k >= 5 && !strncasecmp((const char *)d, "INBOX", 5) && (k == 5 || d[5] == '/'))
		memcpy(d, "INBOX", 5);
	*r = sl_slice_make(d, (size_t)k);
	return true;
}

bool imap_p_mailbox(struct imap_parser *ps, sl_slice_t *r)
{
	return imap_p_astring(ps, r) && imap_p_name_finish(ps, r);
}

/* list-mailbox = 1*list-char / string; list-char adds '%' and '*'. */
bool imap_p_list_mailbox(struct imap_parser *ps, sl_slice_t *r)
{
	size_t st = ps->pos;

	if (imap_p_at(ps, '"') || imap_p_at(ps, '{'))
		return imap_p_string(ps, r) && imap_p_name_finish(ps, r);
	while (ps->pos < ps->n) {
		uint8_t c = ps->p[ps->pos];

		if (!(imap_atom_char(c) || c == ']' || c == '%' || c == '*'))
			break;
		ps->pos++;
	}
	if (ps->pos == st)
		return imap_p_fail(ps, "Expected a mailbox pattern");
	return imap_p_copy(ps, ps->p + st, ps->pos - st, r) && imap_p_name_finish(ps, r);
}

static bool imap_p_seq_number(struct imap_parser *ps, uint32_t *v)
{
	if (imap_p_at(ps, '*')) {
		ps->pos++;
		*v = UINT32_MAX;
		return true;
	}
	if (ps->pos >= ps->n || ps->p[ps->pos] < '0' || ps->p[ps->pos] > '9')
		return imap_p_fail(ps, "Invalid sequence set");
	if (!imap_p_number(ps, v))
		return false;
	if (*v == 0)
		return imap_p_fail(ps, "Invalid sequence set: 0");
	return true;
}

/* sequence-set (RFC 9051 §9), with at most seqset_max ranges: a client
 * that sends "1,3,5,...,99999" is told so instead of costing memory. */
bool imap_p_seqset(struct imap_parser *ps, struct imap_range **r, uint32_t *n_r)
{
	size_t end = ps->pos, count = 1;
	struct imap_range *a;
	uint32_t n = 0;

	while (end < ps->n && (ps->p[end] == ',' || ps->p[end] == ':' || ps->p[end] == '*' ||
			       (ps->p[end] >= '0' && ps->p[end] <= '9'))) {
		if (ps->p[end] == ',')
			count++;
		end++;
	}
	if (end == ps->pos)
		return imap_p_fail(ps, "Invalid sequence set");
	if (count > ps->s->cfg->seqset_max) {
		ps->s->stats->seqset_too_big++;
		return imap_p_fail(ps, "[LIMIT] Too many ranges in the sequence set");
	}
	a = imap_arena_alloc(ps->s, count * sizeof(*a));
	if (a == NULL)
		return imap_p_fail(ps, "[LIMIT] Command too complex");
	for (;;) {
		uint32_t lo, hi;

		if (!imap_p_seq_number(ps, &lo))
			return false;
		hi = lo;
		if (imap_p_at(ps, ':')) {
			ps->pos++;
			if (!imap_p_seq_number(ps, &hi))
				return false;
		}
		if (lo > hi) {
			uint32_t t = lo;

			lo = hi;
			hi = t;
		}
		a[n].lo = lo;
		a[n].hi = hi;
		n++;
		if (!imap_p_at(ps, ','))
			break;
		ps->pos++;
	}
	if (ps->pos != end)
		return imap_p_fail(ps, "Invalid sequence set");
	*r = a;
	*n_r = n;
	return true;
}

/* date = date-text / DQUOTE date-text DQUOTE; date-text = date-day "-"
 * date-month "-" date-year. Returns days since 1970-01-01. */
bool imap_p_date(struct imap_parser *ps, int64_t *days_r)
{
	static const char *const months[] = {"jan", "feb", "mar", "apr", "may", "jun",
					     "jul", "aug", "sep", "oct", "nov", "dec"};
	bool q = imap_p_at(ps, '"');
	uint32_t day = 0, year = 0, digits = 0;
	int mon = -1;
	int64_t y, m, era, yoe, doy, doe;

	if (q)
		ps->pos++;
	while (ps->pos < ps->n && ps->p[ps->pos] >= '0' && ps->p[ps->pos] <= '9' && digits < 2) {
		day = day * 10 + (uint32_t)(ps->p[ps->pos++] - '0');
		digits++;
	}
	if (digits == 0 || day < 1 || day > 31 || !imap_p_at(ps, '-'))
		return imap_p_fail(ps, "Invalid date");
	ps->pos++;
	if (ps->n - ps->pos < 4)
		return imap_p_fail(ps, "Invalid date");
	for (int i = 0; i < 12; i++)
		if (!strncasecmp((const char *)ps->p + ps->pos, months[i], 3))
			mon = i;
	if (mon < 0 || ps->p[ps->pos + 3] != '-')
		return imap_p_fail(ps, "Invalid date");
	ps->pos += 4;
	for (digits = 0; digits < 4; digits++) {
		if (ps->pos >= ps->n || ps->p[ps->pos] < '0' || ps->p[ps->pos] > '9')
			return imap_p_fail(ps, "Invalid date");
		year = year * 10 + (uint32_t)(ps->p[ps->pos++] - '0');
	}
	if (q) {
		if (!imap_p_at(ps, '"'))
			return imap_p_fail(ps, "Invalid date");
		ps->pos++;
	}
	/* days from civil (H. Hinnant's algorithm) */
	y = (int64_t)year - (mon < 2);
	m = mon + 1;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + (int64_t)day - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	*days_r = era * 146097 + doe - 719468;
	return true;
}

/* flag = "\Answered" / "\Flagged" / "\Deleted" / "\Seen" / "\Draft" /
 * flag-keyword / flag-extension. */
bool imap_p_flag(struct imap_parser *ps, uint32_t *sysflag_r, sl_slice_t *kw_r, bool *recent_r)
{
	static const struct {
		const char *name;
		uint32_t bit;
	} sys[] = {{"Answered", IMAP_FLAG_ANSWERED}, {"Flagged", IMAP_FLAG_FLAGGED},
		   {"Deleted", IMAP_FLAG_DELETED},   {"Seen", IMAP_FLAG_SEEN},
		   {"Draft", IMAP_FLAG_DRAFT}};
	sl_slice_t a;

	*sysflag_r = 0;
	*recent_r = false;
	kw_r->len = 0;
	if (imap_p_at(ps, '\\')) {
		ps->pos++;
		if (!imap_p_atom(ps, &a))
			return imap_p_fail(ps, "Invalid flag");
		for (size_t i = 0; i < sizeof(sys) / sizeof(sys[0]); i++) {
			if (sl_slice_eq_nocase(a, sys[i].name)) {
				*sysflag_r = sys[i].bit;
				return true;
			}
		}
		if (sl_slice_eq_nocase(a, "Recent")) {
			*recent_r = true;
			return true;
		}
		return imap_p_fail(ps, "Unknown system flag");
	}
	if (!imap_p_atom(ps, &a))
		return imap_p_fail(ps, "Invalid flag");
	if (a.len > 64)
		return imap_p_fail(ps, "Keyword too long");
	return imap_p_copy(ps, a.ptr, a.len, kw_r);
}

/* ---- output of strings ---- */

void imap_write_string(imap_session_t *s, sl_slice_t str)
{
	bool quotable = str.len <= 1024;

	for (size_t i = 0; i < str.len && quotable; i++) {
		uint8_t c = str.ptr[i];

		if (c == 0 || c == '\r' || c == '\n' || (c >= 0x80 && !imap_utf8_mode(s)))
			quotable = false;
	}
	if (!quotable) {
		imap_printf(s, "{%zu}\r\n", str.len);
		imap_out(s, str.ptr, str.len);
		return;
	}
	imap_out(s, "\"", 1);
	for (size_t i = 0, st = 0; i <= str.len; i++) {
		if (i == str.len || str.ptr[i] == '"' || str.ptr[i] == '\\') {
			imap_out(s, str.ptr + st, i - st);
			if (i < str.len)
				imap_out(s, i < str.len && str.ptr[i] == '"' ? "\\\"" : "\\\\", 2);
			st = i + 1;
		}
	}
	imap_out(s, "\"", 1);
}

void imap_write_mailbox(imap_session_t *s, sl_slice_t name)
{
	char enc[IMAP_NAME_MAX * 3 + 8];
	long k;

	if (imap_utf8_mode(s)) {
		imap_write_string(s, name);
		return;
	}
	k = imap_mutf7_encode(name.ptr, name.len, enc, sizeof(enc));
	if (k < 0) {
		/* not UTF-8 in the store: send what we have, quoted or literal */
		imap_write_string(s, name);
		return;
	}
	imap_write_string(s, sl_slice_make(enc, (size_t)k));
}
