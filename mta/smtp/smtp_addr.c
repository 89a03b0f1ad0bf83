/* smtp_addr - envelope path syntax (RFC 5321 §4.1.2, RFC 6531 §3.3) and
 * the small token grammars of ESMTP parameters (xtext, RFC 3461 §4). */
#include <arpa/inet.h>
#include <string.h>

#include "sl_err.h"
#include "smtp_private.h"

static bool smtp_is_alpha(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static bool smtp_is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

/* atext, RFC 5322 §3.2.3 */
static bool smtp_is_atext(uint8_t c)
{
	if (smtp_is_alpha(c) || smtp_is_digit(c))
		return true;
	return c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

bool smtp_utf8_valid(const uint8_t *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint8_t c = p[i];
		size_t k;
		uint32_t cp;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			k = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			k = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			k = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (n - i <= k)
			return false;
		for (size_t j = 1; j <= k; j++) {
			if ((p[i + j] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i + j] & 0x3f);
		}
		/* overlong, surrogates, beyond U+10FFFF */
		if ((k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += k + 1;
	}
	return true;
}

/* xtext = *( xchar / hexchar ), RFC 3461 §4 */
bool smtp_xtext_valid(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t c = p[i];

		if (c == '+') {
			if (n - i < 3)
				return false;
			for (size_t j = 1; j <= 2; j++) {
				uint8_t h = p[i + j];

				if (!smtp_is_digit(h) && !(h >= 'A' && h <= 'F'))
					return false;
			}
			i += 2;
			continue;
		}
		if (c < 33 || c > 126 || c == '=')
			return false;
	}
	return true;
}

/* smtp_domain_scan - Domain (RFC 5321 §4.1.2) from P[I]; U-labels allowed
 * (RFC 6531), flagged in *UTF8. Returns the index after it, or 0. */
static size_t smtp_domain_scan(const uint8_t *p, size_t n, size_t i, bool *utf8)
{
	size_t label = 0;
	uint8_t prev = '.';

	while (i < n) {
		uint8_t c = p[i];

		if (c == '.') {
			if (label == 0 || prev == '-')
				return 0;
			label = 0;
		} else if (smtp_is_alpha(c) || smtp_is_digit(c) || c >= 0x80) {
			if (c >= 0x80)
				*utf8 = true;
			if (++label > 63)
				return 0;
		} else if (c == '-') {
			if (label == 0)
				return 0;
			label++;
		} else {
			break;
		}
		prev = c;
		i++;
	}
	if (label == 0 || prev == '-')
		return 0;
	return i;
}

/* smtp_literal_scan - address-literal "[...]" from P[I] (§4.1.3).
 * Returns the index after "]", or 0. */
static size_t smtp_literal_scan(const uint8_t *p, size_t n, size_t i)
{
	size_t start = i + 1, end;
	char tmp[64];
	uint8_t addr[16];

	end = start;
	while (end < n && p[end] != ']') {
		/* dcontent: %d33-90 / %d94-126 */
		if (p[end] < 33 || p[end] > 126 || p[end] == '[' || p[end] == '\\')
			return 0;
		end++;
	}
	if (end >= n || end == start || end - start >= sizeof(tmp))
		return 0;
	memcpy(tmp, p + start, end - start);
	tmp[end - start] = '\0';
	if (strncasecmp(tmp, "IPv6:", 5) == 0) {
		if (inet_pton(AF_INET6, tmp + 5, addr) != 1)
			return 0;
	} else if (smtp_is_digit((uint8_t)tmp[0])) {
		/* inet_pton accepts exactly dotted-quad decimal */
		if (inet_pton(AF_INET, tmp, addr) != 1)
			return 0;
	} else {
		/* General-address-literal: Standardized-tag ":" 1*dcontent */
		size_t k = 0;

		while (tmp[k] && (smtp_is_alpha((uint8_t)tmp[k]) || smtp_is_digit((uint8_t)tmp[k]) ||
				  tmp[k] == '-'))
			k++;
		if (k == 0 || tmp[k] != ':' || tmp[k + 1] == '\0' || tmp[k - 1] == '-')
			return 0;
	}
	return end + 1;
}

int smtp_path_parse(const uint8_t *p, size_t n, bool allow_null, struct smtp_path *r,
		    size_t *end_r, const char **why_r)
{
	size_t i = 1, j;
	bool utf8 = false;

	memset(r, 0, sizeof(*r));
	*end_r = 0;
	*why_r = "syntax error in address";
	if (n < 2 || p[0] != '<')
		return SL_EINVAL;
	if (p[1] == '>') {
		if (!allow_null) {
			*why_r = "null address not allowed here";
			return SL_EINVAL;
		}
		r->null_path = true;
		*end_r = 2;
		return 0;
	}
	/* A-d-l: a source route; must be accepted and ignored (§4.1.2, §C). */
	if (p[i] == '@') {
		for (;;) {
			j = smtp_domain_scan(p, n, i + 1, &utf8);
			if (j == 0) {
				*why_r = "bad source route";
				return SL_EINVAL;
			}
			i = j;
			if (i < n && p[i] == ',' && i + 1 < n && p[i + 1] == '@') {
				i++;
				continue;
			}
			if (i < n && p[i] == ':') {
				i++;
				break;
			}
			*why_r = "bad source route";
			return SL_EINVAL;
		}
	}
	r->addr_off = i;
	r->local_off = i;
	if (i < n && p[i] == '"') {
		/* Quoted-string: qtextSMTP / quoted-pairSMTP, UTF-8 allowed */
		r->quoted = true;
		i++;
		for (;;) {
			if (i >= n)
				return SL_EINVAL;
			if (p[i] == '"')
				break;
			if (p[i] == '\\') {
				if (i + 1 >= n || p[i + 1] < 32 || p[i + 1] > 126)
					return SL_EINVAL;
				i += 2;
				continue;
			}
			if (p[i] >= 0x80)
				utf8 = true;
			else if (p[i] < 32 || p[i] > 126)
				return SL_EINVAL;
			i++;
		}
		i++;
	} else {
		/* Dot-string */
		bool atom = false;

		while (i < n) {
			uint8_t c = p[i];

			if (smtp_is_atext(c) || c >= 0x80) {
				if (c >= 0x80)
					utf8 = true;
				atom = true;
			} else if (c == '.') {
				if (!atom)
					return SL_EINVAL;
				atom = false;
			} else {
				break;
			}
			i++;
		}
		if (!atom)
			return SL_EINVAL;
	}
	r->local_len = i - r->local_off;
	if (r->local_len > SMTP_LOCAL_MAX) {
		*why_r = "local part too long";
		return SL_ELIMIT;
	}
	if (i < n && p[i] == '>') {
		/* Only <postmaster> may come without a domain (§4.1.1.3). */
		if (r->quoted || r->local_len != 10 ||
		    strncasecmp((const char *)p + r->local_off, "postmaster", 10) != 0) {
			*why_r = "address must have a domain";
			return SL_EINVAL;
		}
		r->addr_len = i - r->addr_off;
		*end_r = i + 1;
		r->utf8 = utf8;
		return 0;
	}
	if (i >= n || p[i] != '@')
		return SL_EINVAL;
	i++;
	r->domain_off = i;
	if (i < n && p[i] == '[')
		j = smtp_literal_scan(p, n, i);
	else
		j = smtp_domain_scan(p, n, i, &utf8);
	if (j == 0) {
		*why_r = "bad domain";
		return SL_EINVAL;
	}
	i = j;
	r->domain_len = i - r->domain_off;
	if (i >= n || p[i] != '>')
		return SL_EINVAL;
	r->addr_len = i - r->addr_off;
	if (r->domain_len > SMTP_DOMAIN_MAX) {
		*why_r = "domain too long";
		return SL_ELIMIT;
	}
	/* §4.5.3.1.3 counts the path with its angle brackets. */
	if (i + 1 > SMTP_PATH_MAX) {
		*why_r = "path too long";
		return SL_ELIMIT;
	}
	if (utf8 && !smtp_utf8_valid(p + r->addr_off, r->addr_len)) {
		*why_r = "invalid UTF-8 in address";
		return SL_EINVAL;
	}
	r->utf8 = utf8;
	*end_r = i + 1;
	return 0;
}

long smtp_local_unquote(const uint8_t *p, size_t n, char *out, size_t out_max)
{
	size_t o = 0;

	if (n >= 2 && p[0] == '"' && p[n - 1] == '"') {
		for (size_t i = 1; i + 1 < n; i++) {
			if (p[i] == '\\' && i + 2 < n)
				i++;
			if (o + 1 >= out_max)
				return -1;
			out[o++] = (char)p[i];
		}
	} else {
		if (n + 1 > out_max)
			return -1;
		memcpy(out, p, n);
		o = n;
	}
	out[o] = '\0';
	return (long)o;
}
