/* flt_av_uu - a file that is itself uuencoded ("begin 644 name" ...
 * "end"; POSIX uuencode). Each begin/end block is a member named after its
 * begin line. (A uuencoded part of a MIME mail is decoded by
 * filter/message; this is for the bare file.) Each line's first character
 * gives its byte count, then four characters carry three bytes. Output is
 * capped like any member; every line consumes input. */
#include <stdio.h>
#include <string.h>

#include "av/flt_av_dec.h"
#include "sl_err.h"

#define UU_SNIFF 4096u

/* "begin " and three or four octal digits and a space at P. */
static bool is_begin(const uint8_t *p, const uint8_t *end)
{
	size_t n = 0;

	if (end - p < 10 || memcmp(p, "begin ", 6) != 0)
		return false;
	p += 6;
	while (p < end && *p >= '0' && *p <= '7' && n < 5)
		p++, n++;
	return (n == 3 || n == 4) && p < end && *p == ' ';
}

bool av_is_uu(sl_slice_t d)
{
	const uint8_t *p = d.ptr, *end = d.ptr + (d.len < UU_SNIFF ? d.len : UU_SNIFF);

	while (p < end && (*p == '\r' || *p == '\n'))
		p++;
	return is_begin(p, d.ptr + d.len);
}

int av_dec_uu(sl_slice_t d, const char *name, av_emit_t *e)
{
	const uint8_t *p = d.ptr, *end = d.ptr + d.len;
	sl_buf_t out;
	int rc = 0;

	(void)name;
	av_emit_buf_init(e, &out);
	while (rc == 0 && p < end) {
		const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
		const uint8_t *le = nl != NULL ? nl : end;
		char mname[256];
		bool ended = false;

		if (!is_begin(p, end)) {
			p = nl != NULL ? nl + 1 : end;
			continue;
		}
		{
			const uint8_t *s = p + 6;

			while (s < le && *s != ' ')
				s++;
			s += s < le;
			snprintf(mname, sizeof(mname), "%.*s", (int)((le - s) > 250 ? 250 : (le - s)), (const char *)s);
			if (mname[0] != '\0' && mname[strlen(mname) - 1] == '\r')
				mname[strlen(mname) - 1] = '\0';
		}
		p = nl != NULL ? nl + 1 : end;
		sl_buf_reset(&out);
		while (rc == 0 && p < end) {
			const uint8_t *l = p;
			uint32_t n;

			nl = memchr(p, '\n', (size_t)(end - p));
			le = nl != NULL ? nl : end;
			p = nl != NULL ? nl + 1 : end;
			if (le - l >= 3 && memcmp(l, "end", 3) == 0) {
				ended = true;
				break;
			}
			if (le == l)
				continue;
			n = (uint32_t)((l[0] - 32) & 63);
			l++;
			for (uint32_t got = 0; got < n && rc == 0; l += 4) {
				uint8_t c[4], b[3];
				uint32_t k;

				for (k = 0; k < 4; k++)
					c[k] = l + k < le ? (uint8_t)((l[k] - 32) & 63) : 0;
				b[0] = (uint8_t)(c[0] << 2 | c[1] >> 4);
				b[1] = (uint8_t)(c[1] << 4 | c[2] >> 2);
				b[2] = (uint8_t)(c[2] << 6 | c[3]);
				k = n - got < 3 ? n - got : 3;
				rc = av_emit_append(e, &out, b, k);
				got += k;
				if (l + 4 > le && got < n) {
					e->broken++; /* the line is shorter than its count says */
					break;
				}
			}
		}
		if (!ended)
			e->broken++;
		if (rc == 0)
			rc = e->member(e, mname[0] ? mname : NULL, NULL, sl_buf_slice(&out));
	}
	sl_buf_free(&out);
	return rc;
}
