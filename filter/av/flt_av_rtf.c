/* flt_av_rtf - objects embedded in RTF documents (RTF 1.9.1, "Objects"):
 * the hex digits of every {\*\objdata ...} group (and the raw bytes of any
 * \binN in it) are decoded into one member per object. The decoded data is
 * an OLE1 object (an ObjectHeader: version, format, class name, topic,
 * item, native size, native data); its native data is a member, and for
 * class "Package" (files dragged into the document) so is the file inside.
 *
 * Limits: the decoded object is capped like any member, so a billion hex
 * digits end in the LIMITS verdict after cap bytes; \binN cannot reach past
 * the input; the group walk is one pass over the input. */
#include <stdio.h>
#include <string.h>

#include "av/flt_av_dec.h"
#include "sl_err.h"

static int hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Decode the object data starting at *IP (just after "\objdata") up to
 * the end of its group. 0, 1 (verdict: cap), SL_ENOMEM. */
static int objdata(sl_slice_t d, size_t *ip, av_emit_t *e, sl_buf_t *out)
{
	size_t i = *ip;
	uint32_t depth = 0;
	int hi = -1, rc = 0;

	while (rc == 0 && i < d.len) {
		uint8_t c = d.ptr[i];
		int v;

		if (c == '{') {
			depth++;
			i++;
		} else if (c == '}') {
			i++;
			if (depth == 0)
				break;
			depth--;
		} else if (c == '\\') {
			size_t w = ++i;
			uint64_t n = 0;
			bool num = false;

			while (i < d.len && ((d.ptr[i] | 0x20) >= 'a' && (d.ptr[i] | 0x20) <= 'z'))
				i++;
			if (i == w) { /* a control symbol: \\ \{ \} \' ... */
				i += i < d.len;
				continue;
			}
			if (i < d.len && d.ptr[i] == '-')
				i++;
			while (i < d.len && d.ptr[i] >= '0' && d.ptr[i] <= '9') {
				n = n * 10 + (d.ptr[i++] - '0');
				if (n > d.len)
					n = d.len;
				num = true;
			}
			if (i < d.len && d.ptr[i] == ' ')
				i++;
			if (i - w >= 3 && memcmp(d.ptr + w, "bin", 3) == 0 && num) {
				/* \binN: N raw bytes follow */
				if (n > d.len - i)
					n = d.len - i;
				rc = av_emit_append(e, out, d.ptr + i, (size_t)n);
				i += (size_t)n;
			}
		} else if ((v = hexval(c)) >= 0) {
			i++;
			if (hi < 0) {
				hi = v;
			} else {
				uint8_t b = (uint8_t)(hi << 4 | v);

				hi = -1;
				rc = av_emit_append(e, out, &b, 1);
			}
		} else {
			i++; /* white space and anything else between the digits */
		}
	}
	*ip = i;
	return rc;
}

/* One length-prefixed OLE1 string at *I: sets *s_r, moves *I. */
static bool ole1_str(sl_slice_t d, size_t *i, sl_slice_t *s_r)
{
	uint32_t n;

	if (d.len - *i < 4)
		return false;
	n = av_le32(d.ptr + *i);
	*i += 4;
	if (n > d.len - *i)
		return false;
	*s_r = sl_slice_make(d.ptr + *i, n);
	*i += n;
	return true;
}

/* Members of one decoded OLE1 object. */
static int ole1_object(sl_slice_t obj, av_emit_t *e)
{
	sl_slice_t cls, topic, item;
	size_t i = 8;
	uint32_t n;

	if (obj.len < 8 || !ole1_str(obj, &i, &cls) || !ole1_str(obj, &i, &topic) || !ole1_str(obj, &i, &item) ||
	    obj.len - i < 4) {
		e->broken++;
		return e->member(e, "objdata", NULL, obj);
	}
	n = av_le32(obj.ptr + i);
	i += 4;
	if (n > obj.len - i) {
		e->broken++;
		n = (uint32_t)(obj.len - i);
	}
	if (cls.len >= 7 && memcmp(cls.ptr, "Package", 7) == 0) {
		const char *label;
		sl_slice_t file;

		if (av_ole10native(sl_slice_make(obj.ptr + i, n), false, &label, &file) == 0) {
			char lname[128];
			int rc;

			snprintf(lname, sizeof(lname), "%.*s", (int)strnlen(label, 120), label);
			if ((rc = e->member(e, lname[0] ? lname : NULL, NULL, file)) != 0)
				return rc;
		} else {
			e->broken++;
		}
	}
	return e->member(e, "objdata", NULL, sl_slice_make(obj.ptr + i, n));
}

int av_dec_rtf(sl_slice_t d, const char *name, av_emit_t *e)
{
	static const char kw[] = "\\objdata";
	sl_buf_t out;
	size_t i = 0;
	int rc = 0;

	(void)name;
	av_emit_buf_init(e, &out);
	while (rc == 0 && i < d.len) {
		const uint8_t *p = memmem(d.ptr + i, d.len - i, kw, sizeof(kw) - 1);

		if (p == NULL)
			break;
		i = (size_t)(p - d.ptr) + sizeof(kw) - 1;
		if (i < d.len && (d.ptr[i] | 0x20) >= 'a' && (d.ptr[i] | 0x20) <= 'z')
			continue; /* a longer control word */
		sl_buf_reset(&out);
		rc = objdata(d, &i, e, &out);
		if (rc == 0 && out.len > 0)
			rc = ole1_object(sl_buf_slice(&out), e);
	}
	sl_buf_free(&out);
	return rc;
}
