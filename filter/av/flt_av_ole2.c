/* flt_av_ole2 - OLE2 compound files ([MS-CFB]): Word, Excel and
 * PowerPoint 97-2003 documents, MSI installers, Outlook .msg. Every stream
 * is a member; an embedded OLE1 package (the "\1Ole10Native" stream) also
 * gives the file it carries, a PowerPoint document its zlib-compressed
 * embedded objects (ExOleObjStg records, [MS-PPT] 2.10.34), and a VBA
 * project the decompressed source of its macros (flt_av_vba.c).
 *
 * Hostile files: a chain that comes back to a sector it already read is a
 * loop and ends there as broken (and no chain is walked more steps than the
 * file has sectors), the mini stream serves only streams under 4096 bytes,
 * sector
 * numbers are checked against the file, a stream is read only up to its
 * declared size and the member cap, and the directory is read as a flat
 * array (no tree recursion, so no loop in the red-black tree matters). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "av/flt_av_dec.h"
#include "sl_err.h"

#define CFB_HDR 512u
#define CFB_FREE 0xffffffffu
#define CFB_END 0xfffffffeu
#define CFB_MAXREG 0xfffffffau
#define CFB_DIR_MAX 65536u /* directory entries read */

typedef struct cfb {
	sl_slice_t d;
	uint32_t ssz;       /* sector size */
	uint32_t nsect;     /* whole sectors after the header */
	uint32_t *fat;      /* one entry per sector of the FAT sectors read */
	uint32_t nfat;
	uint32_t *minifat;
	uint32_t nminifat;
	sl_buf_t ministream;
	uint32_t cutoff;
	uint32_t *seen;     /* per sector: the chain (epoch) that last read it */
	uint32_t epoch;
	av_emit_t *e;
} cfb_t;

/* Sector S starts at (S + 1) * ssz: the header fills sector "-1" (padded
 * to 4096 bytes in version 4). */
static const uint8_t *sector(const cfb_t *c, uint32_t s)
{
	if (s >= c->nsect)
		return NULL;
	return c->d.ptr + ((uint64_t)s + 1) * c->ssz;
}

/* Append the chain starting at START (SIZE bytes at most, SIZE_LIMITED) to
 * OUT through the FAT (or the mini FAT with MINI). Returns 0, 1 (verdict:
 * cap passed), SL_EINVAL (broken chain: OUT has what was read), SL_ENOMEM. */
static int read_chain(cfb_t *c, uint32_t start, uint64_t size, bool mini, sl_buf_t *out)
{
	uint32_t unit = mini ? 64u : c->ssz;
	uint32_t nent = mini ? c->nminifat : c->nfat;
	const uint32_t *tab = mini ? c->minifat : c->fat;
	/* a sound chain visits each sector once: more steps is a loop */
	uint64_t steps = 0, maxsteps = mini ? c->ministream.len / 64u : c->nsect;
	uint32_t s = start;

	c->epoch++;
	while (size > 0) {
		const uint8_t *p;
		uint32_t n = size < unit ? (uint32_t)size : unit;
		int rc;

		if (s > CFB_MAXREG || s >= nent || ++steps > maxsteps)
			return SL_EINVAL;
		if (mini) {
			if ((uint64_t)s * 64u + 64u > c->ministream.len)
				return SL_EINVAL;
			p = c->ministream.data + (uint64_t)s * 64u;
		} else if ((p = sector(c, s)) == NULL || c->seen[s] == c->epoch) {
			return SL_EINVAL; /* past the end, or a loop: this chain met itself */
		} else {
			c->seen[s] = c->epoch;
		}
		if (c->e != NULL)
			rc = av_emit_append(c->e, out, p, n);
		else
			rc = sl_buf_append(out, p, n);
		if (rc != 0)
			return rc;
		size -= n;
		s = tab[s];
	}
	return 0;
}

/* The FAT: sector numbers from the header's 109 DIFAT slots, then the DIFAT
 * chain. At most one FAT sector per sector in the file. */
static int load_fat(cfb_t *c, sl_buf_t *fatbuf)
{
	const uint8_t *h = c->d.ptr;
	uint32_t nfatsect = av_le32(h + 0x2c), difat = av_le32(h + 0x44), ndifat = av_le32(h + 0x48);
	uint32_t per = c->ssz / 4, got = 0;
	int rc;

	if (nfatsect > c->nsect)
		return SL_EINVAL;
	for (uint32_t i = 0; i < 109 && got < nfatsect; i++, got++) {
		const uint8_t *p = sector(c, av_le32(h + 0x4c + 4 * i));

		if (p == NULL)
			return SL_EINVAL;
		if ((rc = sl_buf_append(fatbuf, p, c->ssz)) != 0)
			return rc;
	}
	for (uint32_t k = 0; got < nfatsect && k < ndifat && k <= c->nsect; k++) {
		const uint8_t *ds = sector(c, difat);

		if (ds == NULL)
			return SL_EINVAL;
		for (uint32_t i = 0; i + 1 < per && got < nfatsect; i++, got++) {
			const uint8_t *p = sector(c, av_le32(ds + 4 * i));

			if (p == NULL)
				return SL_EINVAL;
			if ((rc = sl_buf_append(fatbuf, p, c->ssz)) != 0)
				return rc;
		}
		difat = av_le32(ds + 4 * (per - 1));
	}
	if (got < nfatsect)
		return SL_EINVAL;
	c->fat = (uint32_t *)fatbuf->data;
	c->nfat = (uint32_t)(fatbuf->len / 4);
	for (uint32_t i = 0; i < c->nfat; i++)
		c->fat[i] = av_le32((const uint8_t *)&c->fat[i]);
	return 0;
}

int av_ole10native(sl_slice_t d, bool has_size, const char **label_r, sl_slice_t *file_r)
{
	size_t i = has_size ? 4 : 0;
	const uint8_t *nul;
	uint32_t n;

	if (i + 2 > d.len)
		return SL_EINVAL;
	i += 2;
	*label_r = (const char *)d.ptr + i;
	for (int k = 0; k < 2; k++) { /* label, original path */
		nul = memchr(d.ptr + i, 0, d.len - i);
		if (nul == NULL)
			return SL_EINVAL;
		i = (size_t)(nul - d.ptr) + 1;
	}
	if (i + 8 > d.len)
		return SL_EINVAL;
	i += 4; /* two u16: reserved, type */
	n = av_le32(d.ptr + i);
	i += 4;
	if (n > d.len - i)
		return SL_EINVAL;
	i += n; /* temporary path */
	if (i + 4 > d.len)
		return SL_EINVAL;
	n = av_le32(d.ptr + i);
	i += 4;
	if (n > d.len - i)
		n = (uint32_t)(d.len - i); /* truncated: scan what is there */
	*file_r = sl_slice_make(d.ptr + i, n);
	return 0;
}

/* PowerPoint: walk the record tree of "PowerPoint Document" for
 * ExOleObjStg records (type 0x1011); instance 1 means zlib-compressed after
 * a u32 decompressed size. Containers (version 0xF) are entered, each
 * record is bounded by its parent, and every step consumes 8 bytes. */
static int ppt_objects(cfb_t *c, sl_slice_t s)
{
	size_t i = 0;
	sl_buf_t out;
	int rc = 0;

	av_emit_buf_init(c->e, &out);
	while (rc == 0 && i + 8 <= s.len) {
		uint16_t vi = av_le16(s.ptr + i), type = av_le16(s.ptr + i + 2);
		uint32_t len = av_le32(s.ptr + i + 4);

		i += 8;
		if ((vi & 0xf) == 0xf)
			continue; /* a container: its children follow */
		if (len > s.len - i) {
			c->e->broken++;
			break;
		}
		if (type == 0x1011) {
			sl_slice_t body = sl_slice_make(s.ptr + i, len);

			sl_buf_reset(&out);
			if ((vi >> 4) == 1 && len >= 4) {
				int zr = av_zlib(sl_slice_make(body.ptr + 4, len - 4), &out);

				if (zr == SL_ELIMIT)
					rc = av_emit_toolarge(c->e);
				else if (zr == SL_ENOMEM)
					rc = zr;
				else {
					if (zr < 0)
						c->e->broken++;
					rc = c->e->member(c->e, "ExOleObjStg", NULL, sl_buf_slice(&out));
				}
			} else {
				rc = c->e->member(c->e, "ExOleObjStg", NULL, body);
			}
		}
		i += len;
	}
	sl_buf_free(&out);
	return rc;
}

/* The entry name as ASCII ('?' for anything else; \1 kept as is). */
static void entry_name(const uint8_t *ent, char *out, size_t len)
{
	uint32_t nlen = av_le16(ent + 64);
	size_t k = 0;

	if (nlen > 64)
		nlen = 64;
	for (uint32_t i = 0; i + 1 < nlen && k + 1 < len; i += 2) {
		uint16_t ch = av_le16(ent + i);

		if (ch == 0)
			break;
		out[k++] = ch < 128 && (ch >= 32 || ch == 1) ? (char)ch : '?';
	}
	out[k] = '\0';
}

/* VBA: module streams fetched by name for flt_av_vba.c. */
typedef struct vba_ctx {
	cfb_t *c;
	const sl_buf_t *dir;
	uint32_t ndir;
	sl_buf_t buf;
} vba_ctx_t;

static int vba_get(void *ctx, const char *name, sl_slice_t *s_r)
{
	vba_ctx_t *v = ctx;

	for (uint32_t k = 1; k < v->ndir; k++) {
		const uint8_t *ent = v->dir->data + (size_t)k * 128;
		uint64_t size = av_le32(ent + 120);
		char ename[40];

		entry_name(ent, ename, sizeof(ename));
		if (ent[66] != 2 || strcasecmp(ename, name) != 0)
			continue;
		sl_buf_reset(&v->buf);
		if (read_chain(v->c, av_le32(ent + 116), size, size < v->c->cutoff, &v->buf) < 0 && v->buf.len == 0)
			return SL_ENOENT;
		*s_r = sl_buf_slice(&v->buf);
		return 0;
	}
	return SL_ENOENT;
}

int av_dec_ole2(sl_slice_t d, const char *name, av_emit_t *e)
{
	cfb_t c = {.d = d, .e = e};
	sl_buf_t fatbuf, dir, minifat, stream;
	uint16_t shift;
	uint32_t ndir, vba_dir = 0;
	int rc = 0;

	(void)name;
	sl_buf_init(&fatbuf, 0);
	sl_buf_init(&dir, 0);
	sl_buf_init(&minifat, 0);
	sl_buf_init(&c.ministream, 0);
	av_emit_buf_init(e, &stream);
	if (d.len < CFB_HDR)
		goto broken;
	shift = av_le16(d.ptr + 0x1e);
	if (shift != 9 && shift != 12)
		goto broken;
	c.ssz = 1u << shift;
	if (d.len < 2 * (size_t)c.ssz)
		goto broken;
	if (d.len / c.ssz - 1 > UINT32_MAX - 8)
		goto broken;
	c.nsect = (uint32_t)(d.len / c.ssz - 1);
	c.cutoff = av_le32(d.ptr + 0x38);
	if (c.cutoff > 4096)
		c.cutoff = 4096; /* [MS-CFB] 2.2: it MUST be 4096 */
	if ((c.seen = calloc(c.nsect, sizeof(*c.seen))) == NULL) {
		rc = SL_ENOMEM;
		goto fail;
	}
	/* the FAT, the directory and the mini FAT are all within the file's size */
	fatbuf.max = dir.max = minifat.max = d.len + 8;
	if ((rc = load_fat(&c, &fatbuf)) != 0)
		goto fail;
	c.e = NULL; /* metadata chains are not members: plain appends */
	if ((rc = read_chain(&c, av_le32(d.ptr + 0x30), (uint64_t)c.nsect * c.ssz, false, &dir)) == SL_EINVAL)
		rc = 0; /* the directory chain ends at CFB_END before that size: normal */
	if (rc != 0)
		goto fail;
	if (av_le32(d.ptr + 0x3c) <= CFB_MAXREG) {
		rc = read_chain(&c, av_le32(d.ptr + 0x3c), (uint64_t)av_le32(d.ptr + 0x40) * c.ssz, false, &minifat);
		if (rc == SL_EINVAL) {
			e->broken++;
			rc = 0;
		}
		if (rc != 0)
			goto fail;
		c.minifat = (uint32_t *)minifat.data;
		c.nminifat = (uint32_t)(minifat.len / 4);
		for (uint32_t i = 0; i < c.nminifat; i++)
			c.minifat[i] = av_le32((const uint8_t *)&c.minifat[i]);
	}
	ndir = (uint32_t)(dir.len / 128);
	if (ndir > CFB_DIR_MAX)
		ndir = CFB_DIR_MAX;
	if (ndir == 0 || dir.data[66] != 5)
		goto broken;
	/* the root entry's stream is the mini stream */
	c.ministream.max = d.len + 64;
	if (read_chain(&c, av_le32(dir.data + 116), av_le32(dir.data + 120), false, &c.ministream) == SL_EINVAL)
		e->broken++;
	c.e = e;
	for (uint32_t k = 1; k < ndir; k++) {
		const uint8_t *ent = dir.data + (size_t)k * 128;
		uint64_t size = av_le32(ent + 120);
		char ename[40];
		int r;

		if (ent[66] != 2)
			continue; /* storages and unused entries hold no bytes */
		if (c.ssz == 4096)
			size |= (uint64_t)av_le32(ent + 124) << 32;
		if (size == 0)
			continue;
		entry_name(ent, ename, sizeof(ename));
		sl_buf_reset(&stream);
		r = read_chain(&c, av_le32(ent + 116), size, size < c.cutoff, &stream);
		if (r == SL_EINVAL)
			e->broken++;
		else if (r != 0) {
			rc = r;
			goto fail;
		}
		if (strcmp(ename, "\001Ole10Native") == 0) {
			const char *label;
			sl_slice_t file;

			if (av_ole10native(sl_buf_slice(&stream), true, &label, &file) == 0) {
				char lname[128];

				snprintf(lname, sizeof(lname), "%.*s", (int)strnlen(label, 120), label);
				if ((rc = e->member(e, lname[0] ? lname : NULL, NULL, file)) != 0)
					goto fail;
			} else {
				e->broken++;
			}
		} else if (strcmp(ename, "PowerPoint Document") == 0) {
			if ((rc = ppt_objects(&c, sl_buf_slice(&stream))) != 0)
				goto fail;
		}
		if (strcasecmp(ename, "dir") == 0)
			vba_dir = k;
		if ((rc = e->member(e, ename[0] ? ename : NULL, NULL, sl_buf_slice(&stream))) != 0)
			goto fail;
	}
	if (vba_dir != 0) {
		/* a VBA project: the macro source of each module */
		const uint8_t *ent = dir.data + (size_t)vba_dir * 128;
		uint64_t size = av_le32(ent + 120);
		vba_ctx_t v = {.c = &c, .dir = &dir, .ndir = ndir};

		sl_buf_reset(&stream);
		if (read_chain(&c, av_le32(ent + 116), size, size < c.cutoff, &stream) == 0) {
			av_emit_buf_init(e, &v.buf);
			rc = av_vba_modules(sl_buf_slice(&stream), vba_get, &v, e);
			sl_buf_free(&v.buf);
		}
	}
	goto fail;
broken:
	e->broken++;
fail:
	if (rc == SL_EINVAL) {
		e->broken++;
		rc = 0;
	}
	sl_buf_free(&fatbuf);
	sl_buf_free(&dir);
	sl_buf_free(&minifat);
	sl_buf_free(&c.ministream);
	sl_buf_free(&stream);
	free(c.seen);
	return rc;
}
