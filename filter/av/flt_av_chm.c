/* flt_av_chm - Microsoft Compiled HTML Help (CHM, "ITSF") files.
 *
 * Layout (as the public write-ups of the format describe it): the ITSF
 * header gives the directory's offset and length and where the content
 * starts (version 3; version 2 puts it right after the directory). The
 * directory is an "ITSP" header and fixed-size chunks; "PMGL" chunks list
 * the entries: a name and three ENCINTs (7-bit big-endian groups, top bit
 * "more"): section, offset, length. Section 0 is stored at content +
 * offset. Section 1 ("MSCompressed") is one LZX stream, itself stored in
 * section 0 as ::DataSpace/Storage/MSCompressed/Content; its window and
 * reset interval come from .../ControlData ("LZXC"), and every file of
 * section 1 is a range of the decompressed stream.
 *
 * Every file becomes a member (its name without the leading '/'), except
 * the storage entries of ::DataSpace/Storage/ themselves. The directory
 * chunks are read in order (the PMGL links are not followed, so there is
 * no loop to guard); at most CHM_CHUNKS_MAX chunks and CHM_FILES_MAX
 * entries. Section 1 is decompressed once, up to the end of its last file
 * and at most e->cap bytes; a file beyond the cap is the max_file/max_total
 * verdict, a file beyond the stream's end is broken. */
#include <stdio.h>
#include <string.h>

#include "av/flt_av_dec.h"
#include "sl_err.h"

#define CHM_CHUNKS_MAX 65536u
#define CHM_FILES_MAX 100000u
#define CHM_STORAGE "::DataSpace/Storage/MSCompressed/"

typedef struct chm_entry {
	const uint8_t *name;
	size_t nlen;
	uint64_t sect, off, len;
} chm_entry_t;

typedef struct chm {
	sl_slice_t d;
	uint64_t dir_off, dir_len, content;
	uint32_t chunk_size, nchunks;
	av_emit_t *e;
} chm_t;

static bool chm_encint(const uint8_t **p, const uint8_t *end, uint64_t *v_r)
{
	uint64_t v = 0;

	for (int i = 0; i < 9 && *p < end; i++) {
		uint8_t b = *(*p)++;

		v = v << 7 | (b & 0x7f);
		if ((b & 0x80) == 0) {
			*v_r = v;
			return true;
		}
	}
	return false;
}

static uint64_t chm_le64(const uint8_t *p)
{
	return (uint64_t)av_le32(p) | (uint64_t)av_le32(p + 4) << 32;
}

static int chm_open(chm_t *c, sl_slice_t d, av_emit_t *e)
{
	uint32_t hlen, version;
	const uint8_t *s;

	memset(c, 0, sizeof(*c));
	c->d = d;
	c->e = e;
	if (d.len < 0x58 || memcmp(d.ptr, "ITSF", 4) != 0)
		return SL_EINVAL;
	version = av_le32(d.ptr + 4);
	hlen = av_le32(d.ptr + 8);
	if (hlen < 0x58 || hlen > d.len)
		return SL_EINVAL;
	c->dir_off = chm_le64(d.ptr + 0x48);
	c->dir_len = chm_le64(d.ptr + 0x50);
	if (c->dir_off > d.len || c->dir_len > d.len - c->dir_off || c->dir_len < 0x54)
		return SL_EINVAL;
	c->content = version >= 3 && hlen >= 0x60 ? chm_le64(d.ptr + 0x58) : c->dir_off + c->dir_len;
	s = d.ptr + c->dir_off;
	if (memcmp(s, "ITSP", 4) != 0 || av_le32(s + 8) < 0x54 || av_le32(s + 8) > c->dir_len)
		return SL_EINVAL;
	c->chunk_size = av_le32(s + 0x10);
	if (c->chunk_size < 0x20)
		return SL_EINVAL;
	/* the chunks that fit in the directory, whatever the header claims */
	c->nchunks = av_le32(s + 0x2c);
	if (c->nchunks > (c->dir_len - av_le32(s + 8)) / c->chunk_size) {
		e->broken++; /* more than the directory holds: read those it does */
		c->nchunks = (uint32_t)((c->dir_len - av_le32(s + 8)) / c->chunk_size);
	}
	if (c->nchunks == 0)
		return SL_EINVAL;
	if (c->nchunks > CHM_CHUNKS_MAX)
		c->nchunks = CHM_CHUNKS_MAX;
	c->dir_off += av_le32(s + 8); /* now the first chunk */
	return 0;
}

typedef int (*chm_visit_fn)(chm_t *c, const chm_entry_t *en, void *arg);

/* Every entry of every PMGL chunk, in order; VISIT returning non-zero
 * stops the walk with that value. */
static int chm_walk(chm_t *c, chm_visit_fn visit, void *arg)
{
	uint32_t files = 0;

	for (uint32_t k = 0; k < c->nchunks; k++) {
		const uint8_t *ch = c->d.ptr + c->dir_off + (size_t)k * c->chunk_size, *p, *end;
		uint32_t free_space;

		if (memcmp(ch, "PMGL", 4) != 0)
			continue; /* PMGI index chunks repeat names only */
		free_space = av_le32(ch + 4);
		if (free_space > c->chunk_size - 0x14) {
			c->e->broken++;
			continue;
		}
		p = ch + 0x14;
		end = ch + c->chunk_size - free_space;
		while (p < end) {
			chm_entry_t en;
			uint64_t nlen;
			int rc;

			if (!chm_encint(&p, end, &nlen) || nlen > (uint64_t)(end - p)) {
				c->e->broken++;
				break;
			}
			en.name = p;
			en.nlen = (size_t)nlen;
			p += nlen;
			if (!chm_encint(&p, end, &en.sect) || !chm_encint(&p, end, &en.off) ||
			    !chm_encint(&p, end, &en.len)) {
				c->e->broken++;
				break;
			}
			if (++files > CHM_FILES_MAX) {
				c->e->broken++;
				return 0;
			}
			if ((rc = visit(c, &en, arg)) != 0)
				return rc;
		}
	}
	return 0;
}

static bool chm_name_is(const chm_entry_t *en, const char *s)
{
	return en->nlen == strlen(s) && memcmp(en->name, s, en->nlen) == 0;
}

/* The bytes of a section-0 entry, or false when they lie outside the file. */
static bool chm_stored(const chm_t *c, const chm_entry_t *en, sl_slice_t *s_r)
{
	uint64_t at = c->content + en->off;

	if (c->content > c->d.len || en->off > c->d.len - c->content || en->len > c->d.len - at)
		return false;
	*s_r = sl_slice_make(c->d.ptr + at, (size_t)en->len);
	return true;
}

typedef struct chm_lzx {
	sl_slice_t content, control;
	bool has_content, has_control;
	uint64_t need; /* end of the last section-1 file */
} chm_lzx_t;

static int chm_find(chm_t *c, const chm_entry_t *en, void *arg)
{
	chm_lzx_t *l = arg;

	if (en->sect == 0 && chm_name_is(en, CHM_STORAGE "Content"))
		l->has_content = chm_stored(c, en, &l->content);
	else if (en->sect == 0 && chm_name_is(en, CHM_STORAGE "ControlData"))
		l->has_control = chm_stored(c, en, &l->control);
	else if (en->sect == 1 && en->len > 0 && en->off + en->len > l->need && en->off + en->len >= en->off)
		l->need = en->off + en->len;
	return 0;
}

typedef struct chm_out {
	sl_buf_t sec1;
	bool sec1_ok;   /* section 1 was decompressed (as far as sec1.len) */
	bool sec1_full; /* decompression stopped at e->cap, not at the end */
} chm_out_t;

static int chm_emit(chm_t *c, const chm_entry_t *en, void *arg)
{
	chm_out_t *o = arg;
	char name[256];
	sl_slice_t s;

	if (en->len == 0 || (en->nlen > 0 && en->name[en->nlen - 1] == '/'))
		return 0; /* empty files and directories */
	if (en->nlen >= strlen("::DataSpace/Storage/") && memcmp(en->name, "::DataSpace/Storage/", 20) == 0)
		return 0;
	if (en->sect == 0) {
		if (!chm_stored(c, en, &s)) {
			c->e->broken++;
			return 0;
		}
	} else if (en->sect == 1) {
		if (!o->sec1_ok)
			return 0; /* counted once where section 1 failed */
		if (en->off > o->sec1.len || en->len > o->sec1.len - en->off) {
			if (o->sec1_full)
				return av_emit_toolarge(c->e);
			c->e->broken++;
			return 0;
		}
		s = sl_slice_make(o->sec1.data + en->off, (size_t)en->len);
	} else {
		c->e->broken++;
		return 0;
	}
	if (s.len > c->e->cap)
		return av_emit_toolarge(c->e);
	{
		size_t skip = en->nlen > 0 && en->name[0] == '/' ? 1 : 0;
		int n = (int)(en->nlen - skip < sizeof(name) - 1 ? en->nlen - skip : sizeof(name) - 1);

		snprintf(name, sizeof(name), "%.*s", n, (const char *)en->name + skip);
	}
	return c->e->member(c->e, name[0] != '\0' ? name : NULL, NULL, s);
}

/* Section 1: the LZX parameters from ControlData, then the stream. */
static int chm_section1(chm_t *c, const chm_lzx_t *l, chm_out_t *o)
{
	uint32_t version, reset, window, bits = 0;
	uint64_t want = l->need;
	int rc;

	if (!l->has_content || !l->has_control || l->control.len < 24 ||
	    memcmp(l->control.ptr + 4, "LZXC", 4) != 0) {
		c->e->broken++;
		return 0;
	}
	version = av_le32(l->control.ptr + 8);
	reset = av_le32(l->control.ptr + 12);
	window = av_le32(l->control.ptr + 16);
	if (version == 2) {
		/* in 32 KiB frames; larger values cannot be a valid window */
		if (reset > (1u << 16) || window > 64) {
			c->e->broken++;
			return 0;
		}
		reset *= 32768;
		window *= 32768;
	}
	while (bits < 32 && (1u << bits) < window)
		bits++;
	if (bits < 15 || bits > 21 || (1u << bits) != window || reset == 0 || reset % 32768 != 0) {
		c->e->broken++;
		return 0;
	}
	if (want > c->e->cap) {
		want = c->e->cap;
		o->sec1_full = true;
	}
	rc = av_lzx(l->content, bits, reset / 32768, want, c->e, &o->sec1);
	if (rc == SL_EINVAL || (rc == 0 && o->sec1.len < want)) {
		c->e->broken++; /* the files decoded so far are still scanned */
		o->sec1_full = false;
		rc = 0;
	}
	o->sec1_ok = rc == 0;
	return rc;
}

int av_dec_chm(sl_slice_t d, const char *name, av_emit_t *e)
{
	chm_t c;
	chm_lzx_t l;
	chm_out_t o;
	int rc;

	(void)name;
	if (chm_open(&c, d, e) != 0) {
		e->broken++;
		return 0;
	}
	memset(&l, 0, sizeof(l));
	memset(&o, 0, sizeof(o));
	av_emit_buf_init(e, &o.sec1);
	rc = chm_walk(&c, chm_find, &l);
	if (rc == 0 && l.need > 0)
		rc = chm_section1(&c, &l, &o);
	if (rc == 0)
		rc = chm_walk(&c, chm_emit, &o);
	sl_buf_free(&o.sec1);
	return rc;
}
