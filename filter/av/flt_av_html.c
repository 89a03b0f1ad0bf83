/* flt_av_html - files embedded in HTML as data: URIs (RFC 2397), the way
 * HTML smuggling carries an executable past a gateway:
 * <a href="data:application/octet-stream;base64,TVqQ..." download>. Every
 * base64 data URI is decoded into a member with the URI's media type as
 * its declared type. Decoding stops at the first byte that is neither
 * base64 nor white space; output is capped like any member. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "av/flt_av_dec.h"
#include "sl_err.h"

#define HTML_SNIFF 1024u
#define HTML_TYPE_MAX 100u /* bytes between "data:" and ";base64," */

bool av_is_html(sl_slice_t d)
{
	size_t i = 0, n = d.len < HTML_SNIFF ? d.len : HTML_SNIFF;

	if (n >= 3 && memcmp(d.ptr, "\xef\xbb\xbf", 3) == 0)
		i = 3;
	while (i < n && (d.ptr[i] == ' ' || d.ptr[i] == '\t' || d.ptr[i] == '\r' || d.ptr[i] == '\n'))
		i++;
	return i + 1 < n && d.ptr[i] == '<' &&
	       (d.ptr[i + 1] == '!' || ((d.ptr[i + 1] | 0x20) >= 'a' && (d.ptr[i + 1] | 0x20) <= 'z'));
}

static int b64val(uint8_t c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

int av_dec_html(sl_slice_t d, const char *name, av_emit_t *e)
{
	static const char tag[] = ";base64,";
	sl_buf_t out;
	size_t i = 0;
	int rc = 0;

	(void)name;
	av_emit_buf_init(e, &out);
	while (rc == 0 && i < d.len) {
		const uint8_t *p = memmem(d.ptr + i, d.len - i, tag, sizeof(tag) - 1);
		size_t at, from, k;
		char type[HTML_TYPE_MAX + 1];
		uint32_t acc = 0, nbits = 0;

		if (p == NULL)
			break;
		at = (size_t)(p - d.ptr);
		i = at + sizeof(tag) - 1;
		/* "data:" + media type right before ";base64," */
		from = at > HTML_TYPE_MAX + 5 ? at - HTML_TYPE_MAX - 5 : 0;
		for (k = at; k > from; k--)
			if (k >= 5 && strncasecmp((const char *)d.ptr + k - 5, "data:", 5) == 0)
				break;
		if (k == from || k < 5 || strncasecmp((const char *)d.ptr + k - 5, "data:", 5) != 0)
			continue;
		snprintf(type, sizeof(type), "%.*s", (int)(at - k), (const char *)d.ptr + k);
		sl_buf_reset(&out);
		for (; rc == 0 && i < d.len; i++) {
			uint8_t c = d.ptr[i];
			int v = b64val(c);

			if (v < 0) {
				if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
					continue;
				break; /* '=' padding, the closing quote, ... */
			}
			acc = acc << 6 | (uint32_t)v;
			nbits += 6;
			if (nbits >= 8) {
				uint8_t b;

				nbits -= 8;
				b = (uint8_t)(acc >> nbits);
				acc &= (1u << nbits) - 1;
				rc = av_emit_append(e, &out, &b, 1);
			}
		}
		if (rc == 0 && out.len > 0)
			rc = e->member(e, "data-uri", type[0] ? type : NULL, sl_buf_slice(&out));
	}
	sl_buf_free(&out);
	return rc;
}
