/* flt_av_upx - PE files packed with UPX. UPX keeps a "pack header" in the
 * PE header area ("UPX!", version, format, method, level, two Adler-32
 * sums, uncompressed and compressed lengths, ...), and the compressed image
 * at the start of its second section (UPX1). Methods NRV2B, NRV2D and NRV2E
 * (UCL's bit-oriented LZ77 codes, with 8-, 16- or 32-bit bit buffers) are
 * decoded; LZMA-packed files are left alone.
 *
 * The member is the PE header area of the packed file (so that signatures
 * limited to PE files still apply) followed by the unpacked image, named
 * "upx-unpacked". Imports and the call-trick filter are not undone: strings
 * and data come back as they were, code bytes around calls may differ.
 *
 * Bounds: input is the compressed length within the file, output the
 * declared uncompressed length and the member cap; every match offset is
 * checked against what was written; reading past the input ends as broken. */
#include <stdio.h>
#include <string.h>

#include "av/flt_av_dec.h"
#include "sl_err.h"

#define UPX_HDR_SCAN 4096u /* where the pack header may sit */

typedef struct ucl {
	const uint8_t *p;
	size_t len, pos;
	uint32_t bb, bc;   /* bit buffer and bits left in it */
	uint32_t width;    /* 8, 16 or 32 */
	bool eof;
} ucl_t;

static uint32_t ucl_bit(ucl_t *u)
{
	if (u->bc == 0) {
		uint32_t nbytes = u->width / 8;

		if (u->len - u->pos < nbytes) {
			u->eof = true;
			return 0;
		}
		u->bb = 0;
		for (uint32_t k = 0; k < nbytes; k++)
			u->bb |= (uint32_t)u->p[u->pos + k] << (8 * k);
		u->pos += nbytes;
		u->bc = u->width;
	}
	u->bc--;
	return (u->bb >> u->bc) & 1;
}

static int ucl_byte(ucl_t *u)
{
	if (u->pos >= u->len) {
		u->eof = true;
		return -1;
	}
	return u->p[u->pos++];
}

/* VARIANT 'b', 'd' or 'e', appending to OUT, whose first BASE bytes are
 * not part of the window. 0 at the end marker or at ULEN bytes in OUT,
 * SL_EINVAL, 1 (cap), SL_ENOMEM. */
static int ucl_nrv(ucl_t *u, char variant, size_t base, uint64_t ulen, av_emit_t *e, sl_buf_t *out)
{
	uint32_t last_off = 1;
	int rc;

	for (;;) {
		uint32_t off, len;

		if (out->len >= ulen)
			return 0; /* all that was declared: the end marker need not be read */
		while (ucl_bit(u)) {
			int b = ucl_byte(u);
			uint8_t c = (uint8_t)b;

			if (b < 0 || u->eof)
				return SL_EINVAL;
			if (out->len >= ulen)
				return 0; /* more than declared: what was declared is enough */
			if ((rc = av_emit_append(e, out, &c, 1)) != 0)
				return rc;
		}
		if (u->eof)
			return SL_EINVAL;
		off = 1;
		if (variant == 'b') {
			do {
				off = off * 2 + ucl_bit(u);
				if (u->eof || off > 0x2000000)
					return SL_EINVAL;
			} while (!ucl_bit(u));
		} else {
			for (;;) {
				off = off * 2 + ucl_bit(u);
				if (ucl_bit(u))
					break;
				off = (off - 1) * 2 + ucl_bit(u);
				if (u->eof || off > 0x2000000)
					return SL_EINVAL;
			}
		}
		if (u->eof)
			return SL_EINVAL;
		len = 0;
		if (off == 2) {
			off = last_off;
			if (variant != 'b')
				len = ucl_bit(u);
		} else {
			int b = ucl_byte(u);

			if (b < 0)
				return SL_EINVAL;
			off = (off - 3) * 256 + (uint32_t)b;
			if (off == 0xffffffffu)
				return 0; /* the end marker */
			if (variant != 'b') {
				len = (off ^ 0xffffffffu) & 1;
				off >>= 1;
			}
			last_off = ++off;
		}
		if (variant == 'e') {
			if (len)
				len = 1 + ucl_bit(u);
			else if (ucl_bit(u))
				len = 3 + ucl_bit(u);
			else {
				len = 1;
				do {
					len = len * 2 + ucl_bit(u);
					if (u->eof || len > 0x1000000)
						return SL_EINVAL;
				} while (!ucl_bit(u));
				len += 3;
			}
		} else {
			if (variant == 'b')
				len = ucl_bit(u);
			len = len * 2 + ucl_bit(u);
			if (len == 0) {
				len = 1;
				do {
					len = len * 2 + ucl_bit(u);
					if (u->eof || len > 0x1000000)
						return SL_EINVAL;
				} while (!ucl_bit(u));
				len += 2;
			}
		}
		if (u->eof)
			return SL_EINVAL;
		len += off > (variant == 'b' ? 0xd00u : 0x500u);
		len += 1;
		if (off > out->len - base)
			return SL_EINVAL; /* before the start of the unpacked image */
		for (uint32_t k = 0; k < len; k++) {
			uint8_t c = out->data[out->len - off];

			if (out->len >= ulen)
				return 0;
			if ((rc = av_emit_append(e, out, &c, 1)) != 0)
				return rc;
		}
	}
}

/* Method number to (variant, bit width); 0 when not an NRV method. */
static char upx_method(uint8_t m, uint32_t *width_r)
{
	static const struct {
		uint8_t m;
		char v;
		uint32_t w;
	} tab[] = {{2, 'b', 32}, {3, 'b', 8}, {4, 'b', 16}, {5, 'd', 32}, {6, 'd', 8},
		   {7, 'd', 16}, {8, 'e', 32}, {9, 'e', 8}, {10, 'e', 16}};

	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (tab[i].m == m) {
			*width_r = tab[i].w;
			return tab[i].v;
		}
	return 0;
}

int av_dec_upx(sl_slice_t d, const char *name, av_emit_t *e)
{
	size_t scan = d.len < UPX_HDR_SCAN ? d.len : UPX_HDR_SCAN, hdr;
	const uint8_t *ph = memmem(d.ptr, scan, "UPX!", 4);
	uint32_t pe, nsec, opt, st, raw = 0, width, ulen, clen;
	char variant;
	sl_buf_t out;
	int rc;

	(void)name;
	if (ph == NULL || (size_t)(ph - d.ptr) + 32 > d.len || ph[4] < 10)
		return 0; /* not UPX (or a pre-1.0 header we do not read) */
	if ((variant = upx_method(ph[6], &width)) == 0)
		return 0; /* LZMA and others: not decoded */
	ulen = av_le32(ph + 16);
	clen = av_le32(ph + 20);
	/* the second section's raw data holds the compressed image */
	pe = av_le32(d.ptr + 0x3c);
	if ((uint64_t)pe + 24 > d.len)
		goto broken;
	nsec = av_le16(d.ptr + pe + 6);
	opt = av_le16(d.ptr + pe + 20);
	st = pe + 24 + opt;
	if (nsec < 2 || (uint64_t)st + 80 > d.len)
		goto broken;
	raw = av_le32(d.ptr + st + 40 + 20);
	hdr = av_le32(d.ptr + st + 20); /* the first section's raw data: end of the header area */
	if (hdr > raw || hdr > UPX_HDR_SCAN)
		hdr = raw < UPX_HDR_SCAN ? raw : UPX_HDR_SCAN;
	if (raw >= d.len || clen > d.len - raw || hdr > d.len)
		goto broken;
	av_emit_buf_init(e, &out);
	rc = av_emit_append(e, &out, d.ptr, hdr);
	if (rc == 0) {
		ucl_t u = {.p = d.ptr + raw, .len = clen, .width = width};

		rc = ucl_nrv(&u, variant, hdr, (uint64_t)hdr + ulen, e, &out);
		if (rc == SL_EINVAL) {
			e->broken++;
			rc = 0;
		}
	}
	if (rc == 0 && out.len > hdr)
		rc = e->member(e, "upx-unpacked", NULL, sl_buf_slice(&out));
	sl_buf_free(&out);
	return rc;
broken:
	e->broken++;
	return 0;
}
