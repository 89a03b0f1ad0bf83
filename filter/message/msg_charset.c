/* msg_charset - MIME charset labels to UTF-8 with glibc iconv. */
#include <errno.h>
#include <stdio.h>

#include "message/msg_private.h"
#include "sl_err.h"

/* Labels that mail clients (and the WHATWG encoding standard) read as a
 * different, usually larger, charset than the name says. */
static const struct {
	const char *label;
	const char *iconv;
} cs_alias[] = {
	{"iso-8859-1", "WINDOWS-1252"}, {"iso8859-1", "WINDOWS-1252"},
	{"latin1", "WINDOWS-1252"},     {"l1", "WINDOWS-1252"},
	{"iso-8859-9", "WINDOWS-1254"}, {"iso-8859-11", "CP874"},
	{"windows-874", "CP874"},       {"tis-620", "CP874"},
	{"gb2312", "GB18030"},          {"gbk", "GB18030"},
	{"x-gbk", "GB18030"},           {"gb_2312-80", "GB18030"},
	{"ks_c_5601-1987", "CP949"},    {"euc-kr", "CP949"},
	{"x-sjis", "SHIFT_JIS"},        {"shift-jis", "SHIFT_JIS"},
	{"ms_kanji", "SHIFT_JIS"},      {"iso-8859-8-i", "ISO-8859-8"},
	{"x-mac-roman", "MACINTOSH"},   {"macintosh", "MACINTOSH"},
	{"unicode-1-1-utf-7", "UTF-7"}, {"x-user-defined", "WINDOWS-1252"},
	{"ansi_x3.4-1968", "UTF-8"},    {"ascii", "UTF-8"},
	{"us-ascii", "UTF-8"},          {"utf-8", "UTF-8"},
	{"utf8", "UTF-8"},              {"x-unknown", NULL},
	{"unknown-8bit", NULL},         {"unknown", NULL},
};

enum msg_cs_kind msg_charset_canon(sl_slice_t label, char *out)
{
	size_t n = 0;

	out[0] = 0;
	while (label.len > 0 && (msg_is_wsp(label.ptr[0]) || label.ptr[0] == '"')) {
		label.ptr++;
		label.len--;
	}
	while (label.len > 0 && (msg_is_wsp(label.ptr[label.len - 1]) || label.ptr[label.len - 1] == '"'))
		label.len--;
	if (label.len == 0)
		return MSG_CS_UTF8; /* absent: us-ascii, read as UTF-8 */
	if (label.len > MSG_CHARSET_NAME_MAX)
		return MSG_CS_UNKNOWN;
	for (size_t i = 0; i < label.len; i++) {
		uint8_t c = msg_lower(label.ptr[i]);
		/* only what charset names use: no '/' (iconv suffixes), no NUL */
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		      c == '.' || c == ':' || c == '+'))
			return MSG_CS_UNKNOWN;
		out[n++] = (char)c;
	}
	out[n] = 0;
	for (size_t i = 0; i < sizeof(cs_alias) / sizeof(cs_alias[0]); i++) {
		if (strcmp(out, cs_alias[i].label) == 0) {
			if (!cs_alias[i].iconv)
				return MSG_CS_UNKNOWN;
			strcpy(out, cs_alias[i].iconv);
			return strcmp(out, "UTF-8") == 0 ? MSG_CS_UTF8 : MSG_CS_ICONV;
		}
	}
	return MSG_CS_ICONV;
}

iconv_t msg_iconv_get(msg_iconv_cache_t *c, const char *name)
{
	unsigned victim = 0;

	c->tick++;
	for (unsigned i = 0; i < MSG_ICONV_CACHE; i++) {
		if (c->e[i].name[0] && strcmp(c->e[i].name, name) == 0) {
			c->e[i].used = c->tick;
			if (c->e[i].cd != (iconv_t)-1)
				iconv(c->e[i].cd, NULL, NULL, NULL, NULL);
			return c->e[i].cd;
		}
		if (!c->e[i].name[0] || c->e[i].used < c->e[victim].used)
			victim = i;
	}
	if (c->e[victim].name[0] && c->e[victim].cd != (iconv_t)-1)
		iconv_close(c->e[victim].cd);
	snprintf(c->e[victim].name, sizeof(c->e[victim].name), "%s", name);
	c->e[victim].cd = iconv_open("UTF-8", name);
	c->e[victim].used = c->tick;
	return c->e[victim].cd;
}

void msg_iconv_cache_free(msg_iconv_cache_t *c)
{
	for (unsigned i = 0; i < MSG_ICONV_CACHE; i++) {
		if (c->e[i].name[0] && c->e[i].cd != (iconv_t)-1)
			iconv_close(c->e[i].cd);
		c->e[i].name[0] = 0;
	}
}

int msg_iconv_run(iconv_t cd, const uint8_t *in, size_t len, bool final, sl_buf_t *out,
		  size_t *used_r, uint32_t *anom)
{
	char *ip = (char *)(uintptr_t)in;
	size_t il = len;
	int err;

	while (il > 0) {
		size_t room = il * 4 + 16;
		if ((err = sl_buf_reserve(out, room)) < 0) {
			/* near the maximum: try with what is left */
			room = out->max - out->len;
			if (room < 8)
				return err;
			if ((err = sl_buf_reserve(out, room)) < 0)
				return err;
		}
		char *op = (char *)out->data + out->len;
		size_t ol = room;
		size_t r = iconv(cd, &ip, &il, &op, &ol);
		out->len = (size_t)((uint8_t *)op - out->data);
		if (r != (size_t)-1)
			break;
		if (errno == E2BIG)
			continue;
		if (errno == EINVAL && !final)
			break; /* incomplete sequence: wait for more */
		/* EILSEQ, or EINVAL at the end: one byte becomes U+FFFD */
		*anom |= MSG_ANOM_CHARSET_INVALID;
		if ((err = sl_buf_append(out, "\xef\xbf\xbd", 3)) < 0)
			return err;
		ip++;
		il--;
		iconv(cd, NULL, NULL, NULL, NULL);
	}
	if (final) {
		/* flush the shift state (ISO-2022-JP) */
		if (sl_buf_reserve(out, 16) == 0) {
			char *op = (char *)out->data + out->len;
			size_t ol = 16;
			iconv(cd, NULL, NULL, &op, &ol);
			out->len = (size_t)((uint8_t *)op - out->data);
		}
	}
	if (used_r)
		*used_r = len - il;
	if (out->data)
		out->data[out->len] = 0;
	return 0;
}

bool msg_utf8_valid(const uint8_t *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint8_t c = s[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		size_t k;
		uint32_t cp, min;
		if ((c & 0xe0) == 0xc0) {
			k = 1, cp = c & 0x1f, min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			k = 2, cp = c & 0x0f, min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			k = 3, cp = c & 0x07, min = 0x10000;
		} else {
			return false;
		}
		if (i + k >= n)
			return false;
		for (size_t j = 1; j <= k; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + j] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += k + 1;
	}
	return true;
}

size_t msg_utf8_put(uint32_t cp, uint8_t *o)
{
	if (cp >= 0xd800 && cp <= 0xdfff)
		cp = 0xfffd;
	if (cp < 0x80) {
		o[0] = (uint8_t)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (uint8_t)(0xc0 | cp >> 6);
		o[1] = (uint8_t)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (uint8_t)(0xe0 | cp >> 12);
		o[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (uint8_t)(0x80 | (cp & 0x3f));
		return 3;
	}
	if (cp > 0x10ffff)
		return msg_utf8_put(0xfffd, o);
	o[0] = (uint8_t)(0xf0 | cp >> 18);
	o[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (uint8_t)(0x80 | (cp & 0x3f));
	return 4;
}

/* Header decoding is stateless between calls, so one cache per thread
 * serves every parser of the lcore. */
static __thread msg_iconv_cache_t tls_cache;

int msg_charset_to_utf8(sl_slice_t charset, sl_slice_t in, sl_buf_t *out, uint32_t *anom_r)
{
	char name[MSG_CHARSET_NAME_MAX + 1];
	uint32_t anom = 0;
	int rc;

	switch (msg_charset_canon(charset, name)) {
	case MSG_CS_UTF8:
		if (msg_utf8_valid(in.ptr, in.len))
			return sl_buf_append(out, in.ptr, in.len);
		/* invalid UTF-8: let iconv replace the bad bytes with U+FFFD */
		strcpy(name, "UTF-8");
		break;
	case MSG_CS_UNKNOWN:
		if (anom_r)
			*anom_r |= MSG_ANOM_CHARSET_UNKNOWN;
		rc = sl_buf_append(out, in.ptr, in.len);
		return rc < 0 ? rc : 1;
	case MSG_CS_ICONV:
		break;
	}
	iconv_t cd = msg_iconv_get(&tls_cache, name);
	if (cd == (iconv_t)-1) {
		if (anom_r)
			*anom_r |= MSG_ANOM_CHARSET_UNKNOWN;
		rc = sl_buf_append(out, in.ptr, in.len);
		return rc < 0 ? rc : 1;
	}
	rc = msg_iconv_run(cd, in.ptr, in.len, true, out, NULL, &anom);
	if (anom_r)
		*anom_r |= anom;
	return rc;
}
