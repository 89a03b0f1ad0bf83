/* st_names - validation and canonical forms of domains, addresses and
 * mailbox names. Everything the store keys on passes through here, so the
 * same address always maps to the same key. */
#include <string.h>

#include "st_private.h"

static char lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
}

static int is_ldh(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

/* A domain is LDH labels (RFC 1035 §2.3.1, RFC 5321 §4.1.2), compared
 * case-insensitively, so it is stored lowercased. */
static int domain_canon_n(const char *in, size_t n, char *out, const char **error_r)
{
	size_t label = 0;

	if (n == 0) {
		*error_r = "empty domain";
		return SL_EINVAL;
	}
	if (n > ST_DOMAIN_MAX) {
		*error_r = "domain too long";
		return SL_EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		char c = lower(in[i]);
		if (c == '.') {
			if (label == 0 || out[i - 1] == '-') {
				*error_r = "bad domain syntax";
				return SL_EINVAL;
			}
			label = 0;
		} else if (is_ldh(c)) {
			if (label == 0 && c == '-') {
				*error_r = "bad domain syntax";
				return SL_EINVAL;
			}
			if (++label > 63) {
				*error_r = "domain label too long";
				return SL_EINVAL;
			}
		} else {
			*error_r = "bad domain syntax";
			return SL_EINVAL;
		}
		out[i] = c;
	}
	if (label == 0 || out[n - 1] == '-') {
		*error_r = "bad domain syntax";
		return SL_EINVAL;
	}
	out[n] = '\0';
	return 0;
}

int st_domain_canon(const char *in, char *out, const char **error_r)
{
	if (in == NULL) {
		*error_r = "no domain";
		return SL_EINVAL;
	}
	return domain_canon_n(in, strnlen(in, ST_DOMAIN_MAX + 1), out, error_r);
}

/* atext of RFC 5322 §3.2.3; quoted local parts are not accepted for
 * mailboxes we host. */
static int is_atext(char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return 1;
	return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

int st_address_canon(const char *in, char *out, const char **error_r)
{
	const char *at;
	size_t n, local;

	if (in == NULL) {
		*error_r = "no address";
		return SL_EINVAL;
	}
	n = strnlen(in, ST_ADDR_MAX + 1);
	if (n > ST_ADDR_MAX) {
		*error_r = "address too long";
		return SL_EINVAL;
	}
	at = memrchr(in, '@', n);
	if (at == NULL) {
		*error_r = "bad address syntax: no '@'";
		return SL_EINVAL;
	}
	local = (size_t)(at - in);
	if (local == 0 || local > ST_LOCAL_MAX) {
		*error_r = local == 0 ? "bad address syntax: empty local part"
				      : "local part too long";
		return SL_EINVAL;
	}
	for (size_t i = 0; i < local; i++) {
		char c = in[i];
		if (c == '.') {
			if (i == 0 || i == local - 1 || in[i - 1] == '.') {
				*error_r = "bad address syntax: misplaced '.'";
				return SL_EINVAL;
			}
		} else if (!is_atext(c)) {
			*error_r = "bad address syntax: bad character in local part";
			return SL_EINVAL;
		}
		out[i] = lower(c);
	}
	out[local] = '@';
	if (domain_canon_n(at + 1, n - local - 1, out + local + 1, error_r) < 0)
		return SL_EINVAL;
	return 0;
}

const char *st_address_domain(const char *addr)
{
	const char *at = strrchr(addr, '@');

	return at != NULL ? at + 1 : addr;
}

/* Length of the UTF-8 sequence at P (at most N bytes), or 0 if invalid:
 * overlong forms, surrogates and code points past U+10FFFF are refused. */
static size_t utf8_len(const uint8_t *p, size_t n)
{
	uint32_t cp;
	size_t len;

	if (p[0] < 0x80)
		return 1;
	if ((p[0] & 0xe0) == 0xc0)
		len = 2, cp = p[0] & 0x1f;
	else if ((p[0] & 0xf0) == 0xe0)
		len = 3, cp = p[0] & 0x0f;
	else if ((p[0] & 0xf8) == 0xf0)
		len = 4, cp = p[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

int st_mailbox_canon(const char *in, char *out, const char **error_r)
{
	size_t n, level_start = 0;
	unsigned depth = 1;

	if (in == NULL) {
		*error_r = "no mailbox name";
		return SL_EINVAL;
	}
	n = strnlen(in, ST_MAILBOX_NAME_MAX + 1);
	if (n == 0) {
		*error_r = "empty mailbox name";
		return SL_EINVAL;
	}
	if (n > ST_MAILBOX_NAME_MAX) {
		*error_r = "mailbox name too long";
		return SL_EINVAL;
	}
	for (size_t i = 0; i < n;) {
		const uint8_t c = (uint8_t)in[i];
		size_t len;

		if (c < 0x20 || c == 0x7f) {
			*error_r = "control character in mailbox name";
			return SL_EINVAL;
		}
		if (c == '*' || c == '%') {
			*error_r = "wildcard in mailbox name";
			return SL_EINVAL;
		}
		if (c == ST_MAILBOX_DELIM || i + 1 == n) {
			size_t end = c == ST_MAILBOX_DELIM ? i : n;
			size_t ll = end - level_start;
			const char *lv = in + level_start;
			if (ll == 0 || (ll == 1 && lv[0] == '.') ||
			    (ll == 2 && lv[0] == '.' && lv[1] == '.')) {
				*error_r = "empty, '.' or '..' level in mailbox name";
				return SL_EINVAL;
			}
			if (c == ST_MAILBOX_DELIM) {
				if (i + 1 == n) {
					*error_r = "mailbox name ends with the delimiter";
					return SL_EINVAL;
				}
				if (++depth > ST_MAILBOX_DEPTH_MAX) {
					*error_r = "mailbox hierarchy too deep";
					return SL_EINVAL;
				}
				level_start = i + 1;
			}
		}
		len = utf8_len((const uint8_t *)in + i, n - i);
		if (len == 0) {
			*error_r = "mailbox name is not valid UTF-8";
			return SL_EINVAL;
		}
		i += len;
	}
	memcpy(out, in, n);
	out[n] = '\0';
	/* RFC 3501 §5.1: INBOX is case-insensitive; so is it as a superior. */
	if (strncasecmp(out, "INBOX", 5) == 0 && (out[5] == '\0' || out[5] == ST_MAILBOX_DELIM))
		memcpy(out, "INBOX", 5);
	return 0;
}

int st_mailbox_name_valid(const char *name, const char **error_r)
{
	char tmp[ST_STR_CAP];
	const char *dummy;

	return st_mailbox_canon(name, tmp, error_r != NULL ? error_r : &dummy);
}
