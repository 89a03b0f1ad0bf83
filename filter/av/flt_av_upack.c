/* flt_av_upack - PE files packed with Upack 0.39 (three sections; also the
 * build whose decoder is three bytes longer). Upack overlaps its PE header
 * with the DOS header (e_lfanew 0x10), makes the optional header 0x148
 * bytes long and maps the same file bytes (0 to 0x200: the header, the
 * loader) as sections 0 and 2: their raw pointers are not multiples of
 * the file alignment, and the Windows loader rounds them down, as the
 * image built here does.
 *
 * The entry code is MOV ESI, data; LODSD; PUSH EAX: the data starts with
 * the original entry point (VA), u32, the VA of the decoder's work area.
 * From the entry point, JMP short at +0xa reaches the stub; in it, JMP
 * short at +0x1a, ten bytes on MOV CH, n (n x 256 probabilities), eight on
 * JMP to the decoder; in the decoder, SHR EBP, k at +24 (+26 in the later
 * build) gives the literal context (the top 8 - k bits of the previous
 * byte), JECXZ at +42 (+45) leads, through a JMP, to CMP AL, marker (the
 * CALL/JMP transform's marker byte). MOV ESI, table at stub +7: 0x27
 * dwords copied to the work area (the last one the VA of the compressed
 * stream); after them u32, u32 number of CALL/JMP operands to turn back,
 * u32 output start (VA) at +0xc and output end at +0x34.
 *
 * The code is LZMA with no position bits (lp = pb = 0, lc = 8 - k) but
 * its own layout of 32-bit probabilities in the work area W (whose first
 * six dwords hold range, low and the four distances): align at W+0x18,
 * is-match, is-rep, is-rep0, is-rep0-long, is-rep1, is-rep2 at W+0x58 +
 * 0x30 i (per state), distance bits at W+0x178 + 4 (base), slots at
 * W+0x378 (0x100 per length state), rep lengths at W+0x778, match lengths
 * at W+0xbc0, literals at W+0x1008 (0xc00 per context). The range decoder
 * reads the big-endian dword at its input pointer and subtracts "low"
 * instead of keeping a code register. The tables live in the image as
 * the stub's do, so tables that overlap (the distance bits of slot 13
 * meet the slots) behave as they do under the stub. Decoding stops at
 * the output end. Then each E8/E9 followed by the marker byte carries a
 * big-endian 24-bit target that becomes relative again, as many times as
 * the table says.
 *
 * The member is the image with the output in place, named
 * "upack-unpacked", with the original entry point.
 *
 * Bounds: every probability, input dword, match source and output byte
 * is checked against the image (a failing check ends decoding as broken);
 * every step of the main loop writes at least one byte before the output
 * end; every tree walk takes at most 8 bits (26 direct bits); the CALL
 * fix-up scan ends at the image end. */
#include <string.h>

#include "av/flt_av_pepack.h"
#include "sl_err.h"

#define UPK_OPTHDR 0x148u /* SizeOfOptionalHeader of an Upack file */
#define UPK_TABLE 0x27u   /* dwords the stub copies to the work area */

/* work-area offsets of the tables */
#define W_ALIGN 0x18u
#define W_ISMATCH 0x58u
#define W_ISREP 0x88u
#define W_ISREP0 0xb8u
#define W_ISREP0L 0xe8u
#define W_ISREP1 0x118u
#define W_ISREP2 0x148u
#define W_DIST 0x178u
#define W_SLOT 0x378u
#define W_REPLEN 0x778u
#define W_LEN 0xbc0u
#define W_LIT 0x1008u

typedef struct upk {
	uint8_t *img;
	uint64_t n;
	uint64_t in;     /* the range decoder's input pointer */
	uint32_t range, low;
	bool err;
} upk_t;

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static bool upk_has(const upk_t *u, uint64_t off, uint64_t len)
{
	return off <= u->n && len <= u->n - off;
}

static void upk_norm(upk_t *u)
{
	if ((u->range & 0xff000000u) == 0) {
		u->low <<= 8;
		u->range <<= 8;
		u->in++;
	}
}

/* One bit with the probability at image offset PROB. */
static uint32_t upk_bit(upk_t *u, uint64_t prob)
{
	uint32_t pr, bound, code, bit;

	if (u->err || !upk_has(u, prob, 4) || !upk_has(u, u->in, 4)) {
		u->err = true;
		return 0;
	}
	pr = av_le32(u->img + prob);
	bound = (u->range >> 11) * pr;
	code = be32(u->img + u->in) - u->low;
	if (code < bound) {
		u->range = bound;
		pr += (0x800 - pr) >> 5;
		bit = 0;
	} else {
		u->low += bound;
		u->range -= bound;
		pr -= pr >> 5;
		bit = 1;
	}
	av_pe_put32(u->img + prob, pr);
	upk_norm(u);
	return bit;
}

/* A bit tree: from 1, a bit per level, until LIMIT; the value less LIMIT. */
static uint32_t upk_tree(upk_t *u, uint64_t base, uint32_t limit)
{
	uint32_t m = 1;

	while (m < limit)
		m = m * 2 + upk_bit(u, base + 4ull * m);
	return m - limit;
}

/* A length less one (1..0x110) from the coder at BASE. */
static uint32_t upk_len(upk_t *u, uint64_t base)
{
	if (!upk_bit(u, base))
		return 1 + upk_tree(u, base + 8, 8);
	if (!upk_bit(u, base + 4))
		return 9 + upk_tree(u, base + 40, 8);
	return 0x11 + upk_tree(u, base + 0x48, 0x100);
}

/* NB bits without probabilities. */
static uint32_t upk_direct(upk_t *u, uint32_t nb)
{
	uint32_t v = 0;

	while (nb-- > 0 && !u->err) {
		uint32_t code;

		if (!upk_has(u, u->in, 4)) {
			u->err = true;
			break;
		}
		code = be32(u->img + u->in) - u->low;
		u->range >>= 1;
		v <<= 1;
		if (code >= u->range) {
			u->low += u->range;
			v++;
		}
		upk_norm(u);
	}
	return v;
}

/* The distance (plus one) after a match of LEN1 (length less one). */
static uint32_t upk_dist(upk_t *u, uint64_t w, uint32_t len1)
{
	uint32_t ls = len1 - 1 >= 3 ? 3 : len1 - 1;
	uint32_t slot = upk_tree(u, w + W_SLOT + 0x100ull * ls, 0x40), dist, nb, f, r = 0;
	uint64_t tree;

	if (slot < 4)
		return slot + 1;
	nb = (slot >> 1) - 1;
	dist = (2 | (slot & 1)) << nb;
	if (nb > 5) {
		dist += upk_direct(u, nb - 4) << 4;
		tree = w + W_ALIGN;
		nb = 4;
	} else {
		tree = w + W_DIST + 4ull * dist;
	}
	f = upk_tree(u, tree, 1u << nb);
	for (uint32_t i = 0; i < nb; i++, f >>= 1)
		r = r * 2 + (f & 1);
	return dist + r + 1;
}

/* Decode from the work area W into [out, end) of the image; LCSHIFT is
 * the literal context shift. 0, or SL_EINVAL (what was written stays). */
static int upk_decode(upk_t *u, uint64_t w, uint64_t out, uint64_t end, uint32_t lcshift)
{
	uint64_t start = out;
	uint32_t state = 0, rep[4];
	bool after_match = false;

	if (!upk_has(u, w, 0x18))
		return SL_EINVAL;
	u->range = av_le32(u->img + w);
	u->low = av_le32(u->img + w + 4);
	for (int i = 0; i < 4; i++)
		rep[i] = av_le32(u->img + w + 8 + 4 * i);
	while (out < end) {
		uint32_t len1;

		if (!upk_bit(u, w + W_ISMATCH + 4ull * state)) {
			uint64_t lit;
			uint32_t ctx = out > start ? u->img[out - 1] >> lcshift : 0, sym;

			state = state < 4 ? 0 : state < 10 ? state - 3 : state - 6;
			lit = w + W_LIT + 0xc00ull * ctx;
			if (after_match) {
				uint32_t mb, bit;

				if (rep[0] > out)
					return SL_EINVAL;
				mb = u->img[out - rep[0]];
				sym = 1;
				for (uint32_t mask = 0x80; mask != 0; mask >>= 1) {
					uint32_t m1 = (mb & mask) ? 1 : 0;

					bit = upk_bit(u, lit + 4ull * (((1 + m1) << 8) + sym));
					sym = (sym * 2 + bit) & 0xff;
					if (mask > 1 && bit != m1) {
						while (sym < 0x100)
							sym = sym * 2 + upk_bit(u, lit + 4ull * sym);
						break;
					}
				}
			} else {
				sym = upk_tree(u, lit, 0x100);
			}
			if (u->err || out >= u->n)
				return SL_EINVAL;
			u->img[out++] = (uint8_t)sym;
			after_match = false;
			continue;
		}
		if (!upk_bit(u, w + W_ISREP + 4ull * state)) {
			state = state < 7 ? 7 : 10;
			rep[3] = rep[2], rep[2] = rep[1], rep[1] = rep[0];
			len1 = upk_len(u, w + W_LEN);
			rep[0] = upk_dist(u, w, len1);
		} else {
			uint32_t st = state < 7 ? 8 : 11;

			if (!upk_bit(u, w + W_ISREP0 + 4ull * state)) {
				if (!upk_bit(u, w + W_ISREP0L + 4ull * state)) {
					/* one byte at the last distance */
					state = st | 1;
					if (u->err || rep[0] > out || out >= u->n)
						return SL_EINVAL;
					u->img[out] = u->img[out - rep[0]];
					out++;
					after_match = true;
					continue;
				}
			} else {
				uint32_t d;

				if (!upk_bit(u, w + W_ISREP1 + 4ull * state)) {
					d = rep[1];
				} else if (!upk_bit(u, w + W_ISREP2 + 4ull * state)) {
					d = rep[2];
					rep[2] = rep[1];
				} else {
					d = rep[3];
					rep[3] = rep[2];
					rep[2] = rep[1];
				}
				rep[1] = rep[0];
				rep[0] = d;
			}
			state = st;
			len1 = upk_len(u, w + W_REPLEN);
		}
		/* LEN1 + 1 bytes from REP[0] back */
		if (u->err || rep[0] > out || (uint64_t)len1 + 1 > u->n - out)
			return SL_EINVAL;
		for (uint32_t k = 0; k <= len1; k++, out++)
			u->img[out] = u->img[out - rep[0]];
		after_match = true;
	}
	return 0;
}

/* E8/E9 followed by MARKER: a big-endian 24-bit target from START,
 * relative again; FIXES of them. */
static void upk_calls(uint8_t *img, uint64_t n, uint64_t start, uint8_t marker, uint32_t fixes, av_emit_t *e)
{
	uint64_t i = 0;

	while (fixes > 0) {
		if (start + i >= n) {
			e->broken++;
			return;
		}
		if (img[start + i] != 0xe8 && img[start + i] != 0xe9) {
			i++;
			continue;
		}
		i++;
		if (start + i + 4 > n) {
			e->broken++;
			return;
		}
		if (img[start + i] != marker)
			continue;
		{
			uint8_t *a = img + start + i;
			uint32_t t = (uint32_t)a[1] << 16 | (uint32_t)a[2] << 8 | a[3];

			av_pe_put32(a, t - (uint32_t)i - 4);
		}
		i += 4;
		fixes--;
	}
}

/* The file bytes at RVA as the Windows loader maps them (raw pointers
 * rounded down to 0x200), or NULL. */
static const uint8_t *upk_file_at(const av_pe_t *p, uint32_t rva, uint32_t len)
{
	int i = av_pe_sec_at(p, rva);
	uint64_t off;

	if (i < 0)
		return (uint64_t)rva + len <= p->hdr ? p->f.ptr + rva : NULL;
	off = (uint64_t)(p->sec[i].raw & ~0x1ffu) + (rva - p->sec[i].rva);
	if (p->sec[i].rsz == 0 || off + len > p->f.len)
		return NULL;
	return p->f.ptr + off;
}

/* The image with sections whose raw pointer is not a multiple of 0x200
 * mapped again from the rounded pointer. */
static int upk_img_load(const av_pe_t *p, av_emit_t *e, sl_buf_t *img)
{
	int rc = av_pe_img_load(p, e, img);

	if (rc != 0)
		return rc;
	for (uint32_t i = 0; i < p->nsec; i++) {
		const av_pe_sec_t *c = &p->sec[i];
		uint32_t raw = c->raw & ~0x1ffu;
		uint64_t n = ((uint64_t)c->rsz + (c->raw - raw) + 0x1ff) & ~0x1ffull;

		if (raw == c->raw || c->rsz == 0)
			continue;
		if (n > p->f.len - raw)
			n = p->f.len - raw;
		if (c->vsz != 0 && n > c->vsz)
			n = c->vsz;
		if (c->rva < img->len && n > img->len - c->rva)
			n = img->len - c->rva;
		if (c->rva < img->len)
			memcpy(img->data + c->rva, p->f.ptr + raw, n);
	}
	return 0;
}

static uint32_t rd32(const sl_buf_t *img, uint64_t off, bool *ok)
{
	if (!av_img_has(img, off, 4)) {
		*ok = false;
		return 0;
	}
	return av_le32(img->data + off);
}

static bool byte_is(const sl_buf_t *img, uint64_t off, uint8_t v)
{
	return av_img_has(img, off, 1) && img->data[off] == v;
}

int av_pe_upack(const av_pe_t *p, av_emit_t *e)
{
	const uint8_t *epc;
	uint32_t ib = p->imagebase, data, oep, w, src, count, fixes, paddr, out, end, lcshift;
	uint64_t code, a, proc, j, marker_at;
	uint32_t aljump, shroff;
	bool ok = true;
	sl_buf_t img;
	upk_t u;
	int rc;

	if (p->nsec != 3 || av_le16(p->f.ptr + p->pe + 20) != UPK_OPTHDR)
		return 0;
	epc = upk_file_at(p, p->ep, 7);
	if (epc == NULL || epc[0] != 0xbe || epc[5] != 0xad || epc[6] != 0x50)
		return 0;
	if ((rc = upk_img_load(p, e, &img)) != 0)
		goto out;
	/* the stub's landmarks; a file without them is not Upack 0.39 */
	if (!byte_is(&img, (uint64_t)p->ep + 0xa, 0xeb) || !av_img_has(&img, (uint64_t)p->ep + 0xb, 1))
		goto out;
	code = (uint64_t)p->ep + 0xc + (int8_t)img.data[p->ep + 0xb];
	if (!byte_is(&img, code + 0x1a, 0xeb) || !av_img_has(&img, code + 0x1b, 1))
		goto out;
	a = code + 0x1c + (int8_t)img.data[code + 0x1b] + 0xa;
	if (!byte_is(&img, a, 0xb5) || !av_img_has(&img, a + 1, 1) || !byte_is(&img, a + 9, 0xe9))
		goto out;
	count = img.data[a + 1] * 0x100u;
	proc = (uint32_t)(rd32(&img, a + 10, &ok) + (uint32_t)(a + 14));
	if (byte_is(&img, proc + 42, 0xe3)) {
		j = proc + 43, aljump = 8, shroff = 24;
	} else if (byte_is(&img, proc + 45, 0xe3)) {
		j = proc + 46, aljump = 7, shroff = 26;
	} else {
		goto out;
	}
	if (!av_img_has(&img, j, 1))
		goto out;
	j = j + 1 + (int8_t)img.data[j];
	if (!byte_is(&img, j + aljump, 0xe9))
		goto out;
	marker_at = (uint32_t)(rd32(&img, j + aljump + 1, &ok) + (uint32_t)(j + aljump + 5) + 27);
	if (!ok || !av_img_has(&img, marker_at, 1) || !byte_is(&img, proc + shroff, 0xc1) ||
	    !byte_is(&img, proc + shroff + 1, 0xed) || !av_img_has(&img, proc + shroff + 2, 1))
		goto out;
	lcshift = img.data[proc + shroff + 2];
	if (lcshift < 2 || lcshift > 8 || !byte_is(&img, code + 7, 0xbe))
		goto out;
	/* it is Upack: from here on a failure is a broken file */
	src = rd32(&img, code + 8, &ok) - ib; /* MOV ESI, table */
	data = (uint32_t)(av_le32(epc + 1) - ib);
	oep = rd32(&img, data, &ok) - ib;
	w = rd32(&img, (uint64_t)data + 8, &ok) - ib;
	if (!ok || !av_img_has(&img, w, 4ull * (UPK_TABLE + 6 + count)) ||
	    !av_img_has(&img, src, 4ull * UPK_TABLE + 0x38)) {
		e->broken++;
		goto emit_none;
	}
	for (uint32_t k = 0; k < UPK_TABLE; k++)
		av_pe_put32(img.data + w + 4 * k, av_le32(img.data + src + 4 * k));
	src += 4 * UPK_TABLE;
	w += 4 * UPK_TABLE;
	fixes = av_le32(img.data + src + 4);
	paddr = av_le32(img.data + w - 4) - ib;
	out = av_le32(img.data + src + 0xc) - ib;
	end = av_le32(img.data + src + 0x34) - ib;
	av_pe_put32(img.data + w, 0xffffffffu);
	av_pe_put32(img.data + w + 4, 0);
	for (uint32_t k = 0; k < 4; k++)
		av_pe_put32(img.data + w + 8 + 4 * k, 1);
	for (uint32_t k = 0; k < count; k++)
		av_pe_put32(img.data + w + 0x18 + 4 * k, 0x400);
	if (out > end || end > img.len) {
		e->broken++;
		goto emit_none;
	}
	u = (upk_t){.img = img.data, .n = img.len, .in = paddr};
	if (upk_decode(&u, w, out, end, lcshift) != 0 || u.err) {
		e->broken++;
	} else {
		upk_calls(img.data, img.len, out, img.data[marker_at], fixes, e);
	}
	rc = av_pe_img_emit(p, &img, oep, "upack-unpacked", e);
	goto out;
emit_none:
	rc = 0;
out:
	sl_buf_free(&img);
	return rc;
}
