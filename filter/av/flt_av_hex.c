/* flt_av_hex - ClamAV hex signatures and offsets to Hyperscan terms.
 *
 * The body-signature syntax (ClamAV manual, "Body-based Signature Content
 * Format"): hex byte pairs, "??" any byte, "a?"/"?a" nibbles, "*" any run,
 * "{n}" "{-n}" "{n-}" "{n-m}" bounded jumps, "[x-y]" anchored jumps,
 * "(aa|bb)" alternatives, "!(aa|bb)" a byte that is none of them. The
 * boundary markers (B) (L) (W) and the anchors ^ $ are not compiled. Every
 * literal is written as \xHH, so nothing in a signature can smuggle regex
 * syntax into Hyperscan. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "av/flt_av_private.h"
#include "sl_err.h"

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool is_pair_char(char c)
{
	return c == '?' || hexval(c) >= 0;
}

/* One byte term (a hex pair, "??" or a nibble) at s[0..1]. Appends its
 * regex to OUT; *literal_r tells whether it is a fixed byte. */
static int emit_pair(const char *s, bool wide, sl_buf_t *out, bool *literal_r, const char **why_r)
{
	int hi = hexval(s[0]), lo = hexval(s[1]);
	int rc;

	*literal_r = false;
	if (s[0] == '?' && s[1] == '?')
		return sl_buf_append(out, ".", 1); /* wildcards are never wide */
	if (hi >= 0 && lo >= 0) {
		*literal_r = true;
		rc = sl_buf_printf(out, "\\x%02x", (unsigned)(hi << 4 | lo));
	} else if (hi >= 0 && s[1] == '?') {
		rc = sl_buf_printf(out, "[\\x%02x-\\x%02x]", (unsigned)hi << 4, (unsigned)(hi << 4 | 0xf));
	} else if (s[0] == '?' && lo >= 0) {
		rc = sl_buf_append(out, "[", 1);
		for (unsigned h = 0; rc == 0 && h < 16; h++)
			rc = sl_buf_printf(out, "\\x%02x", h << 4 | (unsigned)lo);
		if (rc == 0)
			rc = sl_buf_append(out, "]", 1);
	} else {
		*why_r = "bad hex digit";
		return SL_EINVAL;
	}
	if (rc == 0 && wide)
		rc = sl_buf_append(out, "\\x00", 4);
	return rc;
}

/* A decimal number at s[*i], at most AV_JUMP_MAX. */
static int parse_bound(const char *s, size_t len, size_t *i, uint32_t *v_r, const char **why_r)
{
	uint64_t v = 0;
	size_t start = *i;

	while (*i < len && s[*i] >= '0' && s[*i] <= '9') {
		v = v * 10 + (uint64_t)(s[*i] - '0');
		if (v > 0xffffffffu) {
			*why_r = "jump bound too large";
			return SL_ENOTSUP;
		}
		(*i)++;
	}
	if (*i == start) {
		*why_r = "missing number in a jump";
		return SL_EINVAL;
	}
	if (v > AV_JUMP_MAX) {
		*why_r = "jump bound above 32767";
		return SL_ENOTSUP;
	}
	*v_r = (uint32_t)v;
	return 0;
}

/* Hyperscan compiles large bounded repeats slowly (two {1-1000} jumps take
 * 1.5 s, two {1-32767} jumps 17 s) and refuses them with start-of-match.
 * Past this bound a jump is widened to ".*" for Hyperscan, which then only
 * preselects, and PCRE2 confirms with the exact bounds. */
#define AV_HS_JUMP_EXACT 32u

static int emit_jump(sl_buf_t *out, uint32_t n, uint32_t m, bool unbounded, bool widen, bool *widened)
{
	if (widen && (unbounded || m > AV_HS_JUMP_EXACT)) {
		*widened = true;
		return sl_buf_append(out, ".*", 2);
	}
	/* The exact (PCRE2) form is lazy, so that counting matches of a
	 * logical subsignature finds each occurrence, not one greedy span. */
	if (unbounded)
		return n == 0 ? sl_buf_append(out, widen ? ".*" : ".*?", widen ? 2 : 3)
			      : sl_buf_printf(out, widen ? ".{%u,}" : ".{%u,}?", n);
	if (m == 0)
		return 0;
	if (n == m)
		return sl_buf_printf(out, ".{%u}", n);
	return sl_buf_printf(out, widen ? ".{%u,%u}" : ".{%u,%u}?", n, m);
}

/* "(aa|bbcc|??)" or, with NEG, "!(aa|bb)". s[*i] is at the '('. */
static int emit_alternatives(const char *s, size_t len, size_t *i, bool neg, bool wide, sl_buf_t *out,
			     int64_t *alt_len_r, const char **why_r)
{
	size_t j = *i + 1;
	int64_t alt_len = -2; /* -2: none seen yet, -1: lengths differ */
	int64_t cur = 0;
	unsigned nalts = 0;
	int rc;

	if (len - j >= 2 && (s[j] == 'B' || s[j] == 'L' || s[j] == 'W') && s[j + 1] == ')') {
		*why_r = "boundary markers (B) (L) (W) are not supported";
		return SL_ENOTSUP;
	}
	rc = sl_buf_append(out, neg ? "[^" : "(?:", neg ? 2 : 3);
	for (;;) {
		if (j >= len) {
			*why_r = "unterminated alternative";
			return SL_EINVAL;
		}
		if (s[j] == '|' || s[j] == ')') {
			if (cur == 0) {
				*why_r = "empty alternative";
				return SL_EINVAL;
			}
			if (alt_len == -2)
				alt_len = cur;
			else if (alt_len != cur)
				alt_len = -1;
			nalts++;
			cur = 0;
			if (s[j] == ')')
				break;
			if (!neg && rc == 0)
				rc = sl_buf_append(out, "|", 1);
			j++;
			continue;
		}
		if (j + 1 >= len || !is_pair_char(s[j]) || !is_pair_char(s[j + 1])) {
			*why_r = "bad byte in an alternative";
			return SL_EINVAL;
		}
		if (neg) {
			int hi = hexval(s[j]), lo = hexval(s[j + 1]);

			if (hi < 0 || lo < 0) {
				*why_r = "wildcards in a negated alternative are not supported";
				return SL_ENOTSUP;
			}
			if (cur >= 1) {
				*why_r = "negated alternatives must be single bytes";
				return SL_ENOTSUP;
			}
			if (rc == 0)
				rc = sl_buf_printf(out, "\\x%02x", (unsigned)(hi << 4 | lo));
		} else {
			bool lit;
			int prc = emit_pair(s + j, wide, out, &lit, why_r);

			if (prc == SL_EINVAL)
				return prc;
			if (rc == 0)
				rc = prc;
			cur += wide && !(s[j] == '?' && s[j + 1] == '?') ? 1 : 0;
		}
		cur++;
		j += 2;
	}
	if (nalts < 2 && !neg) {
		*why_r = "an alternative needs at least two choices";
		return SL_EINVAL;
	}
	if (rc == 0)
		rc = sl_buf_append(out, neg ? "]" : ")", 1);
	if (neg && wide && rc == 0)
		rc = sl_buf_append(out, "\\x00", 4);
	*i = j + 1;
	*alt_len_r = neg ? (wide ? 2 : 1) : alt_len;
	return rc;
}

int av_hex_translate(const char *s, size_t len, bool wide, bool widen, sl_buf_t *out, int64_t *fixed_len_r,
		     bool *widened_r, const char **why_r)
{
	bool widened = false;

	int64_t fixed = 0;
	unsigned run = 0, best_run = 0;
	size_t i = 0;
	int rc;

	*why_r = NULL;
	if (len == 0) {
		*why_r = "empty signature";
		return SL_EINVAL;
	}
	while (i < len) {
		char c = s[i];

		if (is_pair_char(c)) {
			bool lit;

			if (i + 1 >= len || !is_pair_char(s[i + 1])) {
				*why_r = "odd number of hex digits";
				return SL_EINVAL;
			}
			rc = emit_pair(s + i, wide, out, &lit, why_r);
			if (rc < 0)
				return rc;
			run = lit ? run + 1 : 0;
			if (run > best_run)
				best_run = run;
			/* in wide mode a literal or nibble is followed by its NUL, "??" is not */
			if (fixed >= 0)
				fixed += wide && !(s[i] == '?' && s[i + 1] == '?') ? 2 : 1;
			i += 2;
		} else if (c == '*') {
			rc = sl_buf_append(out, widen ? ".*" : ".*?", widen ? 2 : 3);
			if (rc < 0)
				return rc;
			fixed = -1;
			run = 0;
			i++;
		} else if (c == '{' || c == '[') {
			char close = c == '{' ? '}' : ']';
			uint32_t n = 0, m = 0;
			bool unbounded = false;

			i++;
			if (i < len && s[i] == '-' && c == '{') {
				i++;
				rc = parse_bound(s, len, &i, &m, why_r);
			} else {
				rc = parse_bound(s, len, &i, &n, why_r);
				if (rc == 0 && i < len && s[i] == '-') {
					i++;
					if (i < len && s[i] == close && c == '{')
						unbounded = true;
					else
						rc = parse_bound(s, len, &i, &m, why_r);
				} else if (rc == 0) {
					if (c == '[') {
						*why_r = "[x-y] needs a range";
						return SL_EINVAL;
					}
					m = n;
				}
			}
			if (rc < 0)
				return rc;
			if (i >= len || s[i] != close) {
				*why_r = c == '{' ? "unterminated {jump}" : "unterminated [jump]";
				return SL_EINVAL;
			}
			i++;
			if (!unbounded && m < n) {
				*why_r = "jump range with max below min";
				return SL_EINVAL;
			}
			rc = emit_jump(out, n, m, unbounded, widen, &widened);
			if (rc < 0)
				return rc;
			if (unbounded || n != m)
				fixed = -1;
			else if (fixed >= 0)
				fixed += n;
			run = 0;
		} else if (c == '(' || (c == '!' && i + 1 < len && s[i + 1] == '(')) {
			bool neg = c == '!';
			int64_t alt_len;

			if (neg)
				i++;
			rc = emit_alternatives(s, len, &i, neg, wide, out, &alt_len, why_r);
			if (rc < 0)
				return rc;
			if (alt_len < 0)
				fixed = -1;
			else if (fixed >= 0)
				fixed += alt_len;
			run = 0;
		} else if (c == '^' || c == '$') {
			*why_r = "anchors ^ $ are not supported";
			return SL_ENOTSUP;
		} else {
			*why_r = "unexpected character in hex signature";
			return SL_EINVAL;
		}
	}
	if (best_run < 2) {
		*why_r = "needs at least two consecutive fixed bytes";
		return SL_EINVAL;
	}
	*fixed_len_r = fixed;
	if (widened_r != NULL)
		*widened_r = widened;
	return 0;
}

/* A decimal u64 at s[*i]. */
static int parse_u64(const char *s, size_t len, size_t *i, uint64_t *v_r)
{
	uint64_t v = 0;
	size_t start = *i;

	while (*i < len && s[*i] >= '0' && s[*i] <= '9') {
		if (v > (UINT64_MAX - 9) / 10)
			return SL_EINVAL;
		v = v * 10 + (uint64_t)(s[*i] - '0');
		(*i)++;
	}
	if (*i == start)
		return SL_EINVAL;
	*v_r = v;
	return 0;
}

int av_offset_parse(const char *s, size_t len, av_offset_t *off_r, const char **why_r)
{
	size_t i = 0;

	memset(off_r, 0, sizeof(*off_r));
	if (len == 1 && s[0] == '*') {
		off_r->kind = AV_OFF_ANY;
		return 0;
	}
	if (len >= 2 && (memcmp(s, "EP", 2) == 0 || s[0] == 'S' || memcmp(s, "VI", 2) == 0)) {
		*why_r = "offsets relative to executable structure (EP, Sx, SE, SL, VI) are not supported";
		return SL_ENOTSUP;
	}
	if (len >= 4 && memcmp(s, "EOF-", 4) == 0) {
		off_r->kind = AV_OFF_EOF;
		i = 4;
	} else {
		off_r->kind = AV_OFF_ABS;
	}
	if (parse_u64(s, len, &i, &off_r->off) < 0) {
		*why_r = "bad offset";
		return SL_EINVAL;
	}
	if (i < len && s[i] == ',') {
		i++;
		if (parse_u64(s, len, &i, &off_r->shift) < 0) {
			*why_r = "bad offset shift";
			return SL_EINVAL;
		}
	}
	if (i != len) {
		*why_r = "bad offset";
		return SL_EINVAL;
	}
	return 0;
}
