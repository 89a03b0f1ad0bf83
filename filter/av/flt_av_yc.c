/* flt_av_yc - PE files protected by yoda's Crypter 1.x (yC). The crypter
 * adds a last section whose code starts at +0x60 (the entry point) and
 * decrypts in two layers, each a loop over bytes that runs a short
 * generated ("polymorphic") decryptor of 0x30 bytes on AL, with CL the
 * loop counter's low byte, counting down:
 *   layer 1  the decryptor at +0x93 decrypts the crypter's own code from
 *            +0xc6 on (its length is in the entry code);
 *   layer 2  the decryptor at +0x457 (+0x3ea in the "modified" variant),
 *            now in clear, decrypts the raw data of every section but the
 *            resources, relocations, exports, imports, TLS and yC's own.
 * The generated code uses only these instructions, which are interpreted
 * here: SUB/ADD/XOR AL,imm8; SUB/ADD/XOR AL,CL; DEC AL; ROL/ROR AL,imm8;
 * ROL/ROR AL,CL; JMP short; NOP, CLC, STC. Anything else stops it.
 *
 * The member is the file with its sections decrypted, the yC section
 * dropped from the header and the original entry point restored, named
 * "yc-decrypted"; its own packer (often UPX) is opened by the recursion.
 *
 * Bounds: every byte decrypted lies in the file copy; each byte's
 * decryptor run stops after YC_STEPS instructions (a jump loop is broken
 * input). */
#include <stdlib.h>
#include <string.h>

#include "av/flt_av_pepack.h"
#include "sl_err.h"

#define YC_CODE 0x30u /* the generated decryptor */
#define YC_STEPS 256u /* instructions per byte at most */

static uint8_t rol8(uint8_t v, uint32_t n)
{
	n &= 7;
	return n ? (uint8_t)(v << n | v >> (8 - n)) : v;
}

static uint8_t ror8(uint8_t v, uint32_t n)
{
	n &= 7;
	return n ? (uint8_t)(v >> n | v << (8 - n)) : v;
}

/* Run the decryptor DEC (YC_CODE bytes, readable up to YC_CODE + 2) over
 * LEN bytes at BUF, CL starting at the low byte of LEN. 0, or SL_EINVAL on
 * an instruction it does not know or a jump loop (BUF is then partly
 * decrypted). */
static int yc_poly(const uint8_t *dec, uint8_t *buf, uint32_t len)
{
	uint8_t cl = (uint8_t)len;

	for (uint32_t i = 0; i < len; i++, cl--) {
		uint8_t al = buf[i];
		uint32_t steps = 0;

		for (int32_t j = 0; j >= 0 && j < (int32_t)YC_CODE; j++) {
			if (++steps > YC_STEPS)
				return SL_EINVAL;
			switch (dec[j]) {
			case 0xeb: /* JMP rel8: from the next instruction */
				j++;
				j += (int8_t)dec[j];
				break;
			case 0xfe: /* FE C8: DEC AL */
				al--, j++;
				break;
			case 0x2a: /* 2A C1: SUB AL,CL */
				al = (uint8_t)(al - cl), j++;
				break;
			case 0x02: /* 02 C1: ADD AL,CL */
				al = (uint8_t)(al + cl), j++;
				break;
			case 0x32: /* 32 C1: XOR AL,CL */
				al ^= cl, j++;
				break;
			case 0x04: /* ADD AL,imm8 */
				al = (uint8_t)(al + dec[++j]);
				break;
			case 0x34: /* XOR AL,imm8 */
				al ^= dec[++j];
				break;
			case 0x2c: /* SUB AL,imm8 */
				al = (uint8_t)(al - dec[++j]);
				break;
			case 0xc0: /* C0 C0 n: ROL AL,n; C0 C8 n: ROR AL,n */
				j += 2;
				al = dec[j - 1] == 0xc0 ? rol8(al, dec[j]) : ror8(al, dec[j]);
				break;
			case 0xd2: /* D2 C8: ROR AL,CL; D2 C0: ROL AL,CL */
				j++;
				al = dec[j] == 0xc8 ? ror8(al, cl) : rol8(al, cl);
				break;
			case 0x90: /* NOP */
			case 0xf8: /* CLC */
			case 0xf9: /* STC */
				break;
			default:
				return SL_EINVAL;
			}
		}
		buf[i] = al;
	}
	return 0;
}

/* The length of the crypter's own code (layer 1) and the offset of the
 * variant's section layout, from the entry code EP (0x80 bytes); 0 when
 * it is not yC. */
static uint32_t yc_detect(const uint8_t *ep, int32_t *off_r)
{
	uint32_t ecx = 0;

	if (memcmp(ep, "\x55\x8b\xec\x53\x56\x57\x60\xe8\x00\x00\x00\x00\x5d\x81\xed", 15) == 0 &&
	    memcmp(ep + 0x26, "\x8d\x3a\x8b\xf7\x33\xc0\xeb\x04\x90\xeb\x01\xc2\xac", 13) == 0 && ep[0x13] == 0xb9 &&
	    av_le16(ep + 0x18) == 0xe981 && memcmp(ep + 0x1e, "\x8b\xd5\x81\xc2", 4) == 0) {
		*off_r = 0; /* 1.3 */
		if (0x6c - av_le32(ep + 0xf) + av_le32(ep + 0x22) == 0xc6)
			ecx = av_le32(ep + 0x14) - av_le32(ep + 0x1a);
	}
	if (ecx == 0 && memcmp(ep, "\x55\x8b\xec\x83\xec\x40\x53\x56\x57", 9) == 0 &&
	    memcmp(ep + 0x17, "\xe8\x00\x00\x00\x00\x5d\x81\xed", 8) == 0 && ep[0x23] == 0xb9) {
		*off_r = 0x10; /* 1.3, another build */
		if (0x6c - av_le32(ep + 0x1f) + av_le32(ep + 0x32) == 0xc6)
			ecx = av_le32(ep + 0x24) - av_le32(ep + 0x2a);
	}
	if (ecx == 0 && memcmp(ep, "\x60\xe8\x00\x00\x00\x00\x5d\x81\xed", 9) == 0 && ep[0xd] == 0xb9 &&
	    av_le16(ep + 0x12) == 0xbd8d && memcmp(ep + 0x18, "\x8b\xf7\xac", 3) == 0) {
		*off_r = -0x18; /* 1.x, modified */
		if (0x66 - av_le32(ep + 0x9) + av_le32(ep + 0x14) == 0xae)
			ecx = av_le32(ep + 0xe);
	}
	if (ecx <= 0x800 || ecx >= 0x2000 || memcmp(ep + 0x63 + *off_r, "\xaa\xe2\xcc", 3) != 0)
		return 0;
	return ecx;
}

static bool yc_skip(const uint8_t *name)
{
	static const char *const keep[] = {"rsrc", ".rsr", "relo", ".rel", ".eda", ".rda", ".ida", ".tls"};

	for (size_t k = 0; k < sizeof(keep) / sizeof(keep[0]); k++)
		if (memcmp(name, keep[k], 4) == 0)
			return true;
	return name[0] == 'y' && name[1] == 'C';
}

int av_pe_yc(const av_pe_t *p, av_emit_t *e)
{
	const av_pe_sec_t *ys = &p->sec[p->nsec - 1];
	const uint8_t *ep;
	uint32_t ecx, base, flen, oep;
	int32_t off = 0;
	sl_buf_t f;
	uint8_t *b;
	int rc;

	if (p->nsec < 2 || p->ep != ys->rva + 0x60 || (ep = av_pe_file_at(p, p->ep, 0x80)) == NULL ||
	    (ecx = yc_detect(ep, &off)) == 0)
		return 0;
	if ((int64_t)ys->raw + off < 0 || (int64_t)ys->raw + off + 0xc6 + ecx > (int64_t)p->f.len ||
	    (int64_t)ys->raw + off + 0xa0f + 4 > (int64_t)p->f.len) {
		e->broken++;
		return 0;
	}
	base = (uint32_t)((int64_t)ys->raw + off);
	/* the file without the yC section's raw data (the crypter's last) */
	flen = (uint32_t)p->f.len;
	if (ys->rsz <= flen - ys->raw && (uint64_t)ys->raw + ys->rsz == p->f.len)
		flen = ys->raw;
	av_emit_buf_init(e, &f);
	if ((rc = av_emit_append(e, &f, p->f.ptr, p->f.len)) != 0)
		goto out;
	b = f.data;
	if (yc_poly(b + base + 0x93, b + base + 0xc6, ecx) != 0) {
		e->broken++;
		goto out;
	}
	for (uint32_t i = 0; i + 1 < p->nsec; i++) {
		const av_pe_sec_t *c = &p->sec[i];
		const uint8_t *dec = b + base + (off == -0x18 ? 0x3ea : 0x457);
		uint32_t n = av_le32(p->f.ptr + p->sect_off + 40 * i + 16); /* unclipped size: CL's start */

		if (c->raw == 0 || c->rsz == 0 || yc_skip(p->f.ptr + p->sect_off + 40 * i))
			continue;
		if (n > c->rsz) {
			e->broken++; /* the loop would run past the end of the file */
			n = c->rsz;
		}
		if (yc_poly(dec, b + c->raw, n) != 0) {
			e->broken++;
			goto out;
		}
	}
	/* one section fewer, no import directory, the original entry point,
	 * the image without the yC section */
	oep = av_le32(b + base + 0xa0f);
	if (oep == p->ep)
		oep = 0; /* decrypted again at every level otherwise */
	b[p->pe + 6] = (uint8_t)(p->nsec - 1), b[p->pe + 7] = (uint8_t)((p->nsec - 1) >> 8);
	memset(b + p->pe + 24 + 0x68, 0, 8);
	av_pe_put32(b + p->pe + 24 + 16, oep);
	av_pe_put32(b + p->pe + 24 + 56, av_le32(b + p->pe + 24 + 56) - ys->vsz);
	f.len = flen;
	rc = e->member(e, "yc-decrypted", NULL, sl_buf_slice(&f));
out:
	sl_buf_free(&f);
	return rc;
}
