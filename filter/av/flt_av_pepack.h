/* flt_av_pepack - shared pieces of the PE packer unpackers of filter/av
 * (WWPack32, yoda's Crypter, Petite, ...): a bounded PE header reader and
 * a memory image of the file (headers and sections at their RVAs) that an
 * unpacker rewrites in place and then hands back as one member. Not for
 * use outside filter/av/.
 *
 * The image is what the packer's own stub would see after the Windows
 * loader mapped the file; unpacking writes the original sections back into
 * it. The member is that image with every section header rewritten so that
 * its raw data is its virtual range (raw offset = RVA), so the member is
 * again a PE file and PE-only signatures apply to it. */
#ifndef FLT_AV_PEPACK_H
#define FLT_AV_PEPACK_H

#include <stdbool.h>
#include <stdint.h>

#include "av/flt_av_dec.h"

#define AV_PE_MAXSEC 96u /* the Windows loader's own limit */

typedef struct av_pe_sec {
	uint32_t vsz, rva, rsz, raw; /* raw and rsz already clipped to the file */
	char name[9];
} av_pe_sec_t;

typedef struct av_pe {
	sl_slice_t f;       /* the file */
	uint32_t pe;        /* offset of "PE\0\0" */
	uint32_t sect_off;  /* file offset of the section table */
	uint32_t nsec;
	uint32_t ep;        /* AddressOfEntryPoint (an RVA) */
	uint32_t imagebase; /* ImageBase */
	uint32_t hdr;       /* bytes of header mapped at RVA 0 */
	uint32_t img_len;   /* the image: highest section end */
	av_pe_sec_t sec[AV_PE_MAXSEC];
} av_pe_t;

/* av_pe_parse - the headers of a 32-bit PE file (PE32, i386). 0, or
 * SL_EINVAL when D is not one (no MZ/PE, a PE32+ file, no sections, more
 * than AV_PE_MAXSEC, a section table past the end). Raw ranges past the end
 * of the file are clipped, not refused (packers leave them so). */
int av_pe_parse(sl_slice_t d, av_pe_t *p);

/* av_pe_sec_at - index of the section holding RVA, or -1. */
int av_pe_sec_at(const av_pe_t *p, uint32_t rva);

/* av_pe_file_at - LEN bytes of the file at RVA (within one section's raw
 * data or the headers), or NULL when they are not all in the file. */
const uint8_t *av_pe_file_at(const av_pe_t *p, uint32_t rva, uint32_t len);

/* av_pe_img_load - IMG (a member buffer, av_emit_buf_init) becomes the
 * mapped image: p->img_len bytes, zero-filled, the headers at 0 and each
 * section's raw data at its RVA. 0; 1 when the image passes e->cap (the
 * LIMITS verdict was given); SL_ENOMEM. */
int av_pe_img_load(const av_pe_t *p, av_emit_t *e, sl_buf_t *img);

/* av_pe_img_emit - rewrite the section table in IMG (raw = RVA, raw size =
 * virtual size), set AddressOfEntryPoint to EP (the original entry point,
 * or 0 when the unpacker does not know it: then no unpacker recognises
 * the member again, where the packer's entry code would be found anew at
 * every level), and hand IMG to e->member as NAME. Returns what e->member
 * returns. */
int av_pe_img_emit(const av_pe_t *p, sl_buf_t *img, uint32_t ep, const char *name, av_emit_t *e);

/* IMG has LEN bytes at OFF. */
static inline bool av_img_has(const sl_buf_t *img, uint64_t off, uint64_t len)
{
	return off <= img->len && len <= img->len - off;
}

/* av_pe_put32 - store V little-endian at P. */
static inline void av_pe_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24);
}

/* The unpackers, one file each; each returns 0 at once when the file is
 * not its packer's. */
int av_pe_wwpack(const av_pe_t *p, av_emit_t *e); /* flt_av_wwpack.c */
int av_pe_yc(const av_pe_t *p, av_emit_t *e);     /* flt_av_yc.c */
int av_pe_petite(const av_pe_t *p, av_emit_t *e); /* flt_av_petite.c */
int av_pe_aspack(const av_pe_t *p, av_emit_t *e); /* flt_av_aspack.c */
int av_pe_mew(const av_pe_t *p, av_emit_t *e);    /* flt_av_mew.c */
int av_pe_upack(const av_pe_t *p, av_emit_t *e);  /* flt_av_upack.c */
int av_pe_pespin(const av_pe_t *p, av_emit_t *e); /* flt_av_pespin.c */

#endif
