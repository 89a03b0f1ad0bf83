/* flt_av_binhex - BinHex 4.0 (RFC 1741): the Macintosh encoding of old
 * mail. After the line "(This file must be converted with BinHex 4.0)",
 * the text between two colons holds 6-bit characters of a 64-letter
 * alphabet; their bytes are run-length coded (0x90 n: the previous byte n
 * times in all; 0x90 0: a literal 0x90). The result is a header (name,
 * type, creator, flags, big-endian data and resource fork lengths, CRC),
 * the data fork and its CRC, the resource fork and its CRC. Both forks are
 * members. The decoded stream is capped like a member, so a run-length
 * bomb stops at the cap; CRCs are not checked (a bad one is no reason to
 * let a payload through). */
#include <stdio.h>
#include <string.h>

#include "av/flt_av_dec.h"
#include "sl_err.h"

#define BINHEX_SNIFF 8192u

static const char bh_intro[] = "(This file must be converted with BinHex";
static const char bh_alpha[] = "!\"#$%&'()*+,-012345689@ABCDEFGHIJKLMNPQRSTUVXYZ[`abcdefhijklmpqr";

bool av_is_binhex(sl_slice_t d)
{
	size_t n = d.len < BINHEX_SNIFF ? d.len : BINHEX_SNIFF;
	const uint8_t *p = memmem(d.ptr, n, bh_intro, sizeof(bh_intro) - 1);

	/* at the start of a line */
	return p != NULL && (p == d.ptr || p[-1] == '\n' || p[-1] == '\r');
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int av_dec_binhex(sl_slice_t d, const char *name, av_emit_t *e)
{
	int8_t val[256];
	const uint8_t *p = memmem(d.ptr, d.len, bh_intro, sizeof(bh_intro) - 1);
	size_t i;
	uint32_t acc = 0, nbits = 0;
	int prev = -1, rc = 0;
	bool mark = false;
	sl_buf_t out;
	char mname[64];

	(void)name;
	memset(val, -1, sizeof(val));
	for (int k = 0; bh_alpha[k] != '\0'; k++)
		val[(uint8_t)bh_alpha[k]] = (int8_t)k;
	if (p == NULL) {
		e->broken++;
		return 0;
	}
	i = (size_t)(p - d.ptr);
	p = memchr(d.ptr + i, ':', d.len - i); /* the opening colon */
	if (p == NULL) {
		e->broken++;
		return 0;
	}
	i = (size_t)(p - d.ptr) + 1;
	av_emit_buf_init(e, &out);
	for (; rc == 0 && i < d.len && d.ptr[i] != ':'; i++) {
		uint8_t c = d.ptr[i];
		uint8_t b;

		if (c == '\r' || c == '\n' || c == ' ' || c == '\t')
			continue;
		if (val[c] < 0) {
			e->broken++;
			break;
		}
		acc = acc << 6 | (uint32_t)val[c];
		nbits += 6;
		if (nbits < 8)
			continue;
		nbits -= 8;
		b = (uint8_t)(acc >> nbits);
		acc &= (1u << nbits) - 1;
		if (mark) {
			mark = false;
			if (b == 0) {
				static const uint8_t lit = 0x90;

				rc = av_emit_append(e, &out, &lit, 1);
				prev = 0x90;
			} else if (prev >= 0) {
				uint8_t run[255];

				memset(run, prev, sizeof(run));
				rc = av_emit_append(e, &out, run, (size_t)b - 1);
			}
		} else if (b == 0x90) {
			mark = true;
		} else {
			rc = av_emit_append(e, &out, &b, 1);
			prev = b;
		}
	}
	if (rc == 0) {
		const uint8_t *h = out.data;
		size_t n = out.len, off;
		uint32_t dlen, rlen;

		/* header: name length, name, version, type, creator, flags, lengths, crc */
		if (n < 1 || n < (size_t)1 + h[0] + 1 + 4 + 4 + 2 + 4 + 4 + 2) {
			e->broken++;
			goto out;
		}
		off = 1 + (size_t)h[0] + 1 + 10;
		snprintf(mname, sizeof(mname), "%.*s", (int)h[0], (const char *)h + 1);
		for (char *q = mname; *q; q++)
			if ((uint8_t)*q < 32 || *q == '/')
				*q = '_';
		dlen = be32(h + off);
		rlen = be32(h + off + 4);
		off += 10;
		if (dlen > n - off) {
			e->broken++;
			dlen = (uint32_t)(n - off);
		}
		rc = e->member(e, mname[0] ? mname : NULL, NULL, sl_slice_make(h + off, dlen));
		off += dlen;
		off += n - off < 2 ? n - off : 2;
		if (rlen > n - off)
			rlen = (uint32_t)(n - off);
		if (rc == 0 && rlen > 0)
			rc = e->member(e, "resource-fork", NULL, sl_slice_make(h + off, rlen));
	}
out:
	sl_buf_free(&out);
	return rc;
}
