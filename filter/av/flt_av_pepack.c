/* flt_av_pepack - PE files packed by a packer other than UPX: a bounded
 * reader of the PE headers, the memory image every unpacker works on, and
 * av_dec_pepack, which flt_av_pe.c calls for every PE file. Each unpacker
 * first recognises its packer by the code at the entry point and the
 * section layout (a few bounded compares), so a PE file that is none of
 * them costs one header parse and those compares. */
#include <stdlib.h>
#include <string.h>

#include "av/flt_av_pepack.h"
#include "sl_err.h"

#define PE_IMG_MAX (1u << 30) /* an image past this is not a real one */

int av_pe_parse(sl_slice_t d, av_pe_t *p)
{
	uint32_t opt, salign, hdr, lo = UINT32_MAX;
	uint64_t end, tab_end;

	memset(p, 0, sizeof(*p));
	p->f = d;
	if (d.len < 0x40 || d.ptr[0] != 'M' || d.ptr[1] != 'Z')
		return SL_EINVAL;
	p->pe = av_le32(d.ptr + 0x3c);
	if ((uint64_t)p->pe + 24 + 0x70 > d.len || memcmp(d.ptr + p->pe, "PE\0\0", 4) != 0)
		return SL_EINVAL;
	if (av_le16(d.ptr + p->pe + 4) != 0x14c || av_le16(d.ptr + p->pe + 24) != 0x10b)
		return SL_EINVAL; /* i386, PE32 */
	p->nsec = av_le16(d.ptr + p->pe + 6);
	opt = av_le16(d.ptr + p->pe + 20);
	p->sect_off = p->pe + 24 + opt;
	tab_end = (uint64_t)p->sect_off + 40u * p->nsec;
	if (p->nsec == 0 || p->nsec > AV_PE_MAXSEC || tab_end > d.len)
		return SL_EINVAL;
	p->ep = av_le32(d.ptr + p->pe + 24 + 16);
	p->imagebase = av_le32(d.ptr + p->pe + 24 + 28);
	salign = av_le32(d.ptr + p->pe + 24 + 32);
	if (salign < 0x200 || salign > 0x10000 || (salign & (salign - 1)) != 0)
		salign = 0x1000;
	for (uint32_t i = 0; i < p->nsec; i++) {
		const uint8_t *s = d.ptr + p->sect_off + 40 * i;
		av_pe_sec_t *c = &p->sec[i];
		uint32_t span;

		memcpy(c->name, s, 8);
		c->name[8] = '\0';
		c->vsz = av_le32(s + 8);
		c->rva = av_le32(s + 12);
		c->rsz = av_le32(s + 16);
		c->raw = av_le32(s + 20);
		if (c->raw >= d.len)
			c->raw = 0, c->rsz = 0;
		else if (c->rsz > d.len - c->raw)
			c->rsz = (uint32_t)(d.len - c->raw);
		span = c->vsz > c->rsz ? c->vsz : c->rsz;
		end = (uint64_t)c->rva + span;
		end = (end + salign - 1) & ~(uint64_t)(salign - 1);
		if (end > PE_IMG_MAX)
			return SL_EINVAL;
		if (end > p->img_len)
			p->img_len = (uint32_t)end;
		if (c->rva < lo)
			lo = c->rva;
	}
	/* the headers: SizeOfHeaders, at least the section table, at most the
	 * first section and the file */
	hdr = av_le32(d.ptr + p->pe + 24 + 60);
	if (hdr < tab_end)
		hdr = (uint32_t)tab_end;
	if (hdr > lo && lo >= tab_end)
		hdr = lo;
	if (hdr > d.len)
		hdr = (uint32_t)d.len;
	p->hdr = hdr;
	if (p->img_len < hdr)
		p->img_len = hdr;
	return 0;
}

int av_pe_sec_at(const av_pe_t *p, uint32_t rva)
{
	for (uint32_t i = 0; i < p->nsec; i++) {
		const av_pe_sec_t *c = &p->sec[i];
		uint32_t span = c->vsz > c->rsz ? c->vsz : c->rsz;

		if (rva >= c->rva && rva - c->rva < span)
			return (int)i;
	}
	return -1;
}

const uint8_t *av_pe_file_at(const av_pe_t *p, uint32_t rva, uint32_t len)
{
	int i = av_pe_sec_at(p, rva);

	if (i < 0) {
		if ((uint64_t)rva + len <= p->hdr)
			return p->f.ptr + rva;
		return NULL;
	}
	if ((uint64_t)rva - p->sec[i].rva + len > p->sec[i].rsz)
		return NULL;
	return p->f.ptr + p->sec[i].raw + (rva - p->sec[i].rva);
}

int av_pe_img_load(const av_pe_t *p, av_emit_t *e, sl_buf_t *img)
{
	int rc;

	av_emit_buf_init(e, img);
	if (p->img_len > e->cap)
		return av_emit_toolarge(e);
	if ((rc = sl_buf_reserve(img, p->img_len)) != 0)
		return rc == SL_ELIMIT ? av_emit_toolarge(e) : rc;
	memset(img->data, 0, p->img_len);
	img->len = p->img_len;
	memcpy(img->data, p->f.ptr, p->hdr);
	for (uint32_t i = 0; i < p->nsec; i++) {
		const av_pe_sec_t *c = &p->sec[i];
		uint32_t n = c->rsz;

		/* the loader maps at most the virtual size (when it says one) */
		if (c->vsz != 0 && n > c->vsz)
			n = c->vsz;
		if (n > 0 && av_img_has(img, c->rva, n))
			memcpy(img->data + c->rva, p->f.ptr + c->raw, n);
	}
	return 0;
}

int av_pe_img_emit(const av_pe_t *p, sl_buf_t *img, uint32_t ep, const char *name, av_emit_t *e)
{
	if (av_img_has(img, p->sect_off, 40u * p->nsec)) {
		for (uint32_t i = 0; i < p->nsec; i++) {
			uint8_t *s = img->data + p->sect_off + 40 * i;
			uint32_t rva = p->sec[i].rva, span = p->sec[i].vsz ? p->sec[i].vsz : p->sec[i].rsz;

			if (rva > img->len)
				rva = (uint32_t)img->len;
			if (span > img->len - rva)
				span = (uint32_t)(img->len - rva);
			av_pe_put32(s + 16, span);
			av_pe_put32(s + 20, rva);
		}
	}
	if (ep == p->ep)
		ep = 0; /* a stub that "returns" to itself would be unpacked again */
	if (av_img_has(img, p->pe + 24 + 16, 4))
		av_pe_put32(img->data + p->pe + 24 + 16, ep);
	return e->member(e, name, NULL, sl_buf_slice(img));
}

int av_dec_pepack(sl_slice_t d, const char *name, av_emit_t *e)
{
	static int (*const unpackers[])(const av_pe_t *, av_emit_t *) = {
		av_pe_wwpack,
		av_pe_yc,
		av_pe_petite,
		av_pe_aspack,
		av_pe_mew,
		av_pe_upack,
		av_pe_pespin,
	};
	av_pe_t *p;
	int rc = 0;

	(void)name;
	if ((p = malloc(sizeof(*p))) == NULL)
		return SL_ENOMEM;
	if (av_pe_parse(d, p) == 0)
		for (size_t i = 0; i < sizeof(unpackers) / sizeof(unpackers[0]) && rc == 0; i++)
			rc = unpackers[i](p, e);
	free(p);
	return rc;
}
