/* imap_utf7 - modified UTF-7 mailbox names (RFC 3501 §5.1.3).
 *
 * Printable US-ASCII except '&' stands for itself; '&' is "&-"; anything
 * else is "&" + modified base64 (',' for '/', no padding) of UTF-16BE + "-".
 * The decoder accepts only the canonical form, so that every UTF-8 name
 * has exactly one wire spelling and the store never sees two names that
 * the client thinks are one: no shifted printable ASCII, no empty or
 * adjacent shifts, no leftover bits, no lone surrogates, no U+0000. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap_private.h"

static const char imap_b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

static int imap_b64_val(uint8_t c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == ',')
		return 63;
	return -1;
}

static bool imap_put(char *out, size_t cap, size_t *o, char c)
{
	if (*o + 1 >= cap)
		return false;
	out[(*o)++] = c;
	return true;
}

static bool imap_put_utf8(char *out, size_t cap, size_t *o, uint32_t cp)
{
	if (cp < 0x80)
		return imap_put(out, cap, o, (char)cp);
	if (cp < 0x800)
		return imap_put(out, cap, o, (char)(0xc0 | (cp >> 6))) &&
		       imap_put(out, cap, o, (char)(0x80 | (cp & 0x3f)));
	if (cp < 0x10000)
		return imap_put(out, cap, o, (char)(0xe0 | (cp >> 12))) &&
		       imap_put(out, cap, o, (char)(0x80 | ((cp >> 6) & 0x3f))) &&
		       imap_put(out, cap, o, (char)(0x80 | (cp & 0x3f)));
	return imap_put(out, cap, o, (char)(0xf0 | (cp >> 18))) &&
	       imap_put(out, cap, o, (char)(0x80 | ((cp >> 12) & 0x3f))) &&
	       imap_put(out, cap, o, (char)(0x80 | ((cp >> 6) & 0x3f))) &&
	       imap_put(out, cap, o, (char)(0x80 | (cp & 0x3f)));
}

long imap_mutf7_decode(const uint8_t *in, size_t len, char *out, size_t cap)
{
	size_t i = 0, o = 0;
	bool prev_shift = false; /* the previous token was a base64 run */

	if (cap == 0)
		return -1;
	while (i < len) {
		uint8_t c = in[i];
		uint32_t bits = 0, hi = 0;
		unsigned nbits = 0;
		size_t start;

		if (c < 0x20 || c > 0x7e)
			return -1;
		if (c != '&') {
			if (!imap_put(out, cap, &o, (char)c))
				return -1;
			i++;
			prev_shift = false;
			continue;
		}
		i++;
		if (i < len && in[i] == '-') {
			if (!imap_put(out, cap, &o, '&'))
				return -1;
			i++;
			prev_shift = false;
			continue;
		}
		if (prev_shift)
			return -1; /* "&AAA-&BBB-" is one shift, canonically */
		start = i;
		while (i < len && in[i] != '-') {
			int v = imap_b64_val(in[i]);

			if (v < 0)
				return -1;
			bits = (bits << 6) | (uint32_t)v;
			nbits += 6;
			if (nbits >= 16) {
				uint32_t u;

				nbits -= 16;
				u = (bits >> nbits) & 0xffff;
				if (u >= 0xd800 && u <= 0xdbff) {
					if (hi)
						return -1;
					hi = u;
				} else if (u >= 0xdc00 && u <= 0xdfff) {
					if (!hi)
						return -1;
					if (!imap_put_utf8(out, cap, &o,
							   0x10000 + ((hi - 0xd800) << 10) + (u - 0xdc00)))
						return -1;
					hi = 0;
				} else {
					/* printable ASCII must stand for itself */
					if (hi || u == 0 || (u >= 0x20 && u <= 0x7e))
						return -1;
					if (!imap_put_utf8(out, cap, &o, u))
						return -1;
				}
			}
			bits &= (1u << nbits) - 1; /* keep only the bits not yet used */
			i++;
		}
		if (i == len || i == start || hi)
			return -1; /* unterminated, empty, or half a pair */
		if (nbits >= 6 || (bits & ((1u << nbits) - 1)) != 0)
			return -1; /* a spare character or non-zero padding bits */
		i++;
		prev_shift = true;
	}
	out[o] = '\0';
	return (long)o;
}

/* imap_utf8_next - one code point from P (N bytes). Returns its length,
 * or 0 for invalid UTF-8 (overlong, surrogate, > U+10FFFF, truncated). */
size_t imap_utf8_next(const uint8_t *p, size_t n, uint32_t *cp_r)
{
	uint32_t cp;
	size_t k;

	if (n == 0)
		return 0;
	if (p[0] < 0x80) {
		*cp_r = p[0];
		return 1;
	}
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		k = 2;
		cp = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		k = 3;
		cp = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		k = 4;
		cp = p[0] & 0x07;
	} else {
		return 0;
	}
	if (n < k)
		return 0;
	for (size_t i = 1; i < k; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((k == 3 && cp < 0x800) || (k == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	*cp_r = cp;
	return k;
}

bool imap_utf8_valid(const uint8_t *p, size_t n)
{
	size_t i = 0;
	uint32_t cp;

	while (i < n) {
		size_t k = imap_utf8_next(p + i, n - i, &cp);

		if (k == 0)
			return false;
		i += k;
	}
	return true;
}

static bool imap_flush(char *out, size_t cap, size_t *o, uint32_t *bits, unsigned *nbits)
{
	if (*nbits > 0 &&
	    !imap_put(out, cap, o, imap_b64[(*bits << (6 - *nbits)) & 0x3f]))
		return false;
	*bits = 0;
	*nbits = 0;
	return imap_put(out, cap, o, '-');
}

long imap_mutf7_encode(const uint8_t *in, size_t len, char *out, size_t cap)
{
	size_t i = 0, o = 0;
	bool shifted = false;
	uint32_t bits = 0;
	unsigned nbits = 0;

	if (cap == 0)
		return -1;
	while (i < len) {
		uint32_t cp, units[2];
		size_t k = imap_utf8_next(in + i, len - i, &cp);
		unsigned nu;

		if (k == 0 || cp == 0)
			return -1;
		i += k;
		if (cp >= 0x20 && cp <= 0x7e) {
			if (shifted) {
				if (!imap_flush(out, cap, &o, &bits, &nbits))
					return -1;
				shifted = false;
			}
			if (!imap_put(out, cap, &o, (char)cp))
				return -1;
			if (cp == '&' && !imap_put(out, cap, &o, '-'))
				return -1;
			continue;
		}
		if (!shifted) {
			if (!imap_put(out, cap, &o, '&'))
				return -1;
			shifted = true;
		}
		if (cp >= 0x10000) {
			units[0] = 0xd800 + ((cp - 0x10000) >> 10);
			units[1] = 0xdc00 + ((cp - 0x10000) & 0x3ff);
			nu = 2;
		} else {
			units[0] = cp;
			nu = 1;
		}
		for (unsigned u = 0; u < nu; u++) {
			bits = (bits << 16) | units[u];
			nbits += 16;
			while (nbits >= 6) {
				nbits -= 6;
				if (!imap_put(out, cap, &o, imap_b64[(bits >> nbits) & 0x3f]))
					return -1;
			}
			bits &= (1u << nbits) - 1;
		}
	}
	if (shifted && !imap_flush(out, cap, &o, &bits, &nbits))
		return -1;
	out[o] = '\0';
	return (long)o;
}
