/* flt_av_pespin - PE files protected with PESpin 1.1. PESpin's code is the
 * last section; its entry code has CALL $+5; MOV EBX, [ESP]; ADD EBX, ..
 * at +4. Everything is found at fixed distances from the entry point E in
 * that section, layer after layer (each layer's keys sit in the one
 * before):
 *
 * 1. MOV EBX, k at E+0xdb (k8 = the low byte), MOV ECX, 0x11fe at E+0xe0:
 *    the 0x11fe bytes from E+0x1fe5 are XORed, from the last one down,
 *    with k8, k8 - 1, k8 - 2, ...
 * 2. u32 key at E+0x26eb and 0x5a0 at E+0x26f0: 0x5a0 bytes at E+0x2d5
 *    XORed with a 32-bit LFSR (shift right; an odd key also XORs
 *    0x8c328834), its low byte after each step.
 * 3. A checksum of the file's first (size - u32 at E+0x429) bytes (a
 *    shift/add/rotate mix per byte), subtracted from the u32 at E+0x3217,
 *    is the key of the other sections: those whose bit is set in the u32
 *    at E+0x3207 are XORed with the LFSR (an even key XORs 0xed43af31).
 * 4. 0x180 at E+0x644 and the key at E+0x650: 0x180 bytes at E+0x28d3
 *    under the LFSR (odd: 0xed43af32). In them, 0x1a1 at E+0x28dd and at
 *    E+0x28ec a 0x24-byte decryptor (ADD/SUB/XOR AL with an immediate or
 *    CL, INC/DEC AL, ROL/ROR AL, 1-3 byte no-ops, then STOSB), run for each
 *    of the 0x1a1 bytes at E+0x6d4 with CL = the count left.
 * 5. In those: the bitmap at E+0x6f1 of the sections decrypted the same
 *    way with the decryptor at E+0x755 (CL = the bytes left of the
 *    section).
 * 6. The bitmap at E+0x3061: those sections are aPLib-packed (their raw
 *    data unpacks to their virtual size); the u32 at E+0x2fee, when it
 *    falls inside a section that is not, is where that section's packed
 *    part (the resources) starts.
 *
 * The member is the image of the original sections (PESpin's own left as
 * it is) with the section table rewritten, named "pespin-unpacked",
 * entry point 0 (the original one is not recovered, nor the imports).
 *
 * Bounds: every layer's range is checked against PESpin's section, every
 * section's against the file; a decryptor instruction outside the list
 * or a decryptor that does not end on STOSB at 0x24 is broken; aPLib
 * writes only inside its section's virtual size in the image; every loop
 * runs over a byte range known beforehand or consumes input. */
#include <stdlib.h>
#include <string.h>

#include "av/flt_av_pepack.h"
#include "sl_err.h"

#define SP_LAYER1 0x11feu
#define SP_LAYER2 0x5a0u
#define SP_LAYER4 0x180u
#define SP_POLY1 0x1a1u
#define SP_EMU 0x24u /* a decryptor's length before its STOSB */
#define SP_NEED (0x3217u + 4) /* the last thing read from E */

/* Run the decryptor CODE (SP_EMU + 1 bytes) on AL with CL. false when it
 * holds an instruction outside the list or does not end at SP_EMU. */
static bool sp_emu(const uint8_t *code, uint8_t *al, uint8_t cl)
{
	uint32_t i = 0;
	uint8_t a = *al;

	while (i < SP_EMU) {
		uint8_t op = code[i++], r;

		switch (op) {
		case 0xeb: /* JMP short over one byte */
			i += 2;
			break;
		case 0x0a: /* a two-byte no-op */
			i += 1;
			break;
		case 0x90: /* NOP, CLC, STC */
		case 0xf8:
		case 0xf9:
			break;
		case 0x02: /* ADD AL, CL */
			a = (uint8_t)(a + cl), i++;
			break;
		case 0x2a: /* SUB AL, CL */
			a = (uint8_t)(a - cl), i++;
			break;
		case 0x32: /* XOR AL, CL */
			a ^= cl, i++;
			break;
		case 0x04: /* ADD AL, imm8 */
		case 0x2c: /* SUB AL, imm8 */
		case 0x34: /* XOR AL, imm8 */
			if (i >= SP_EMU + 1)
				return false;
			a = op == 0x04 ? (uint8_t)(a + code[i]) : op == 0x2c ? (uint8_t)(a - code[i]) : (uint8_t)(a ^ code[i]);
			i++;
			break;
		case 0xfe: /* INC AL (C0) / DEC AL */
			if (i >= SP_EMU + 1)
				return false;
			a = code[i] == 0xc0 ? (uint8_t)(a + 1) : (uint8_t)(a - 1);
			i++;
			break;
		case 0xc0: /* ROL AL, imm8 (C0) / ROR AL, imm8 */
			if (i + 1 >= SP_EMU + 1)
				return false;
			r = code[i + 1] & 7;
			if (code[i] == 0xc0)
				a = (uint8_t)(a << r | a >> ((8 - r) & 7));
			else
				a = (uint8_t)(a >> r | a << ((8 - r) & 7));
			i += 2;
			break;
		default:
			return false;
		}
	}
	if (i != SP_EMU || code[SP_EMU] != 0xaa)
		return false;
	*al = a;
	return true;
}

/* The LFSR layer: N bytes at P, key KEY, POLY XORed in when the bit shifted
 * out is ODD (1) or even (0). */
static void sp_lfsr(uint8_t *p, uint32_t n, uint32_t key, uint32_t poly, uint32_t odd)
{
	for (uint32_t i = 0; i < n; i++) {
		uint32_t low = key & 1;

		key >>= 1;
		if (low == odd)
			key ^= poly;
		p[i] ^= (uint8_t)key;
	}
}

static uint32_t ror32(uint32_t v, uint32_t n)
{
	n &= 31;
	return n ? v >> n | v << (32 - n) : v;
}

/* PESpin's checksum of N bytes. */
static uint32_t sp_sum(const uint8_t *p, uint32_t n)
{
	uint32_t a = 0xffffffffu, b = 0xffffffffu;

	for (uint32_t k = 0; k < n; k++) {
		a ^= (uint32_t)p[k] << 8;
		a = a >> 3 & 0x1fffffffu;
		for (int i = 0; i < 4; i++) {
			uint32_t t;

			a ^= b >> 8 & 0xff;
			a += 0x7801a108u;
			a ^= b;
			a = ror32(a, b & 0xff);
			t = a, a = b, b = t;
		}
	}
	return b;
}

/* aPLib from IN (N bytes) to OUT (CAP bytes, zero-filled). 0 or SL_EINVAL. */
typedef struct sp_apl {
	const uint8_t *in;
	uint32_t n, at;
	uint8_t tag;
	bool err;
} sp_apl_t;

static uint32_t sp_bit(sp_apl_t *a)
{
	uint8_t old = a->tag;

	a->tag = (uint8_t)(a->tag << 1);
	if ((old & 0x7f) == 0) {
		if (a->at + 1 >= a->n) { /* the stub's own bound: not the last byte */
			a->err = true;
			return 0;
		}
		old = a->in[a->at++];
		a->tag = (uint8_t)(old << 1 | 1);
	}
	return old >> 7;
}

static uint32_t sp_gamma(sp_apl_t *a)
{
	uint32_t v = 1;

	do {
		v = v * 2 + sp_bit(a);
		if (v > (1u << 24))
			a->err = true;
	} while (!a->err && sp_bit(a));
	return v;
}

static int sp_aplib(const uint8_t *in, uint32_t n, uint8_t *out, uint32_t cap)
{
	sp_apl_t a = {.in = in, .n = n, .tag = 0x80};
	uint32_t d = 0, last = 0;
	bool lost = true;

	if (n == 0 || cap == 0)
		return SL_EINVAL;
	out[d++] = in[a.at++];
	for (;;) {
		uint32_t dist, len;

		if (!sp_bit(&a)) {
			if (a.err || a.at >= n || d >= cap)
				return SL_EINVAL;
			out[d++] = in[a.at++];
			lost = true;
			continue;
		}
		if (sp_bit(&a)) {
			if (sp_bit(&a)) {
				uint32_t v = 0x10;

				while (v < 0x100 && !a.err)
					v = v * 2 + sp_bit(&a);
				v &= 0xff;
				lost = true;
				if (a.err)
					return SL_EINVAL;
				if (v == 0) {
					if (d >= cap)
						return SL_EINVAL;
					out[d++] = 0;
					continue;
				}
				dist = v, len = 1;
			} else {
				if (a.err || a.at >= n)
					return SL_EINVAL;
				dist = in[a.at] >> 1;
				len = 2 + (in[a.at] & 1);
				a.at++;
				if (dist == 0)
					return 0; /* the end code */
				last = dist;
				lost = false;
			}
		} else {
			uint32_t hi = sp_gamma(&a) - 1 - lost;

			if (a.err)
				return SL_EINVAL;
			if (hi == 0) {
				dist = last;
				len = sp_gamma(&a);
			} else {
				if (a.at >= n)
					return SL_EINVAL;
				dist = ((hi - 1) << 8) + in[a.at++];
				len = sp_gamma(&a);
				len += (dist >= 0x7d00) + (dist >= 0x500) + (dist <= 0x7f ? 2 : 0);
				last = dist;
			}
			lost = false;
		}
		if (a.err || len > cap - d || dist > d)
			return SL_EINVAL;
		for (uint32_t k = 0; k < len; k++, d++)
			out[d] = out[d - dist];
	}
}

/* aPLib from SRC (N bytes) into the image at RVA, up to VSZ bytes: on
 * success the section's range is the output, zero-filled past it. */
static int sp_unpack_into(sl_buf_t *img, uint32_t rva, uint32_t vsz, const uint8_t *src, uint32_t n)
{
	uint8_t *tmp;
	int rc;

	if (rva > img->len)
		return SL_EINVAL;
	if (vsz > img->len - rva)
		vsz = (uint32_t)(img->len - rva);
	if (vsz == 0 || (tmp = calloc(1, vsz)) == NULL)
		return vsz == 0 ? SL_EINVAL : SL_ENOMEM;
	if ((rc = sp_aplib(src, n, tmp, vsz)) == 0)
		memcpy(img->data + rva, tmp, vsz);
	free(tmp);
	return rc;
}

int av_pe_pespin(const av_pe_t *p, av_emit_t *e)
{
	const av_pe_sec_t *last;
	uint32_t nsec, e0, key8, key32, bits, len, at;
	uint8_t *f = NULL, *ep;
	sl_buf_t img;
	int rc = 0;

	if (p->nsec < 2)
		return 0;
	nsec = p->nsec - 1;
	last = &p->sec[nsec];
	if (p->ep < last->rva || last->rsz < SP_NEED || p->ep - last->rva >= last->rsz - SP_NEED)
		return 0;
	e0 = last->raw + (p->ep - last->rva); /* file offset of E */
	if ((uint64_t)e0 + 14 > p->f.len || memcmp(p->f.ptr + e0 + 4, "\xe8\x00\x00\x00\x00\x8b\x1c\x24\x83\xc3", 10) != 0)
		return 0;
	ep = (uint8_t *)p->f.ptr + e0; /* read-only until F is made */
	if ((uint64_t)e0 + 0x1fe5 + SP_LAYER1 > (uint64_t)last->raw + last->rsz || ep[0xdb] != 0xbb ||
	    ep[0xe0] != 0xb9 || av_le32(ep + 0xe1) != SP_LAYER1)
		return 0;
	/* work on a copy of the file (layers 1-2 decrypt PESpin's section,
	 * the checksum reads the file as it was) */
	if (p->f.len > e->cap)
		return av_emit_toolarge(e);
	if ((f = malloc(p->f.len)) == NULL)
		return SL_ENOMEM;
	memcpy(f, p->f.ptr, p->f.len);
	ep = f + e0;
	key8 = ep[0xdc];
	for (uint32_t k = 0; k < SP_LAYER1; k++)
		ep[0x1fe5 + SP_LAYER1 - 1 - k] ^= (uint8_t)(key8 - k);
	key32 = av_le32(ep + 0x26eb);
	if (av_le32(ep + 0x26f0) != SP_LAYER2) {
		e->broken++;
		goto out;
	}
	sp_lfsr(ep + 0x2d5, SP_LAYER2, key32, 0x8c328834u, 1);
	len = (uint32_t)p->f.len - av_le32(ep + 0x429);
	if (len >= p->f.len) {
		e->broken++;
		goto out;
	}
	key32 = av_le32(p->f.ptr + e0 + 0x3217) - sp_sum(p->f.ptr, len);
	bits = av_le32(ep + 0x3207);
	for (uint32_t j = 0; j < nsec && j < 32; j++)
		if (bits >> j & 1)
			sp_lfsr(f + p->sec[j].raw, p->sec[j].rsz, key32, 0xed43af31u, 0);
	if (av_le32(ep + 0x644) != SP_LAYER4) {
		e->broken++;
		goto out;
	}
	sp_lfsr(ep + 0x28d3, SP_LAYER4, av_le32(ep + 0x650), 0xed43af32u, 1);
	if (av_le32(ep + 0x28dd) != SP_POLY1) {
		e->broken++;
		goto out;
	}
	for (uint32_t k = 0; k < SP_POLY1; k++)
		if (!sp_emu(ep + 0x28ec, &ep[0x6d4 + k], (uint8_t)(SP_POLY1 - k))) {
			e->broken++;
			goto out;
		}
	bits = av_le32(ep + 0x6f1);
	for (uint32_t j = 0; j < nsec && j < 32; j++) {
		uint8_t *s = f + p->sec[j].raw;

		if (!(bits >> j & 1))
			continue;
		for (uint32_t k = 0; k < p->sec[j].rsz; k++)
			if (!sp_emu(ep + 0x755, &s[k], (uint8_t)(p->sec[j].rsz - k))) {
				e->broken++;
				goto out;
			}
	}
	/* the image: the decrypted sections at their RVAs, the packed ones
	 * unpacked there */
	{
		av_pe_t q = *p;

		q.f = sl_slice_make(f, p->f.len);
		if ((rc = av_pe_img_load(&q, e, &img)) != 0) {
			free(f);
			sl_buf_free(&img);
			return rc;
		}
	}
	bits = av_le32(ep + 0x3061);
	for (uint32_t j = 0; j < nsec && j < 32; j++) {
		const av_pe_sec_t *c = &p->sec[j];

		if (!(bits >> j & 1))
			continue;
		if ((rc = sp_unpack_into(&img, c->rva, c->vsz, f + c->raw, c->rsz)) != 0) {
			if (rc != SL_EINVAL)
				goto out_img;
			rc = 0;
			e->broken++;
		}
	}
	at = av_le32(ep + 0x2fee);
	if (at != 0) {
		for (uint32_t j = 0; j < nsec && j < 32; j++) {
			const av_pe_sec_t *c = &p->sec[j];
			uint32_t off = at - c->rva;

			if (c->rva > at || off >= c->vsz || off > c->rsz)
				continue;
			if (!(bits >> j & 1)) {
				/* the resources: a failure leaves them as they are */
				rc = sp_unpack_into(&img, at, c->vsz - off, f + c->raw + off, c->rsz - off);
				if (rc == SL_ENOMEM)
					goto out_img;
				rc = 0;
			}
			break;
		}
	}
	rc = av_pe_img_emit(p, &img, 0, "pespin-unpacked", e);
out_img:
	sl_buf_free(&img);
out:
	free(f);
	return rc;
}
