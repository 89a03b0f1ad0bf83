/* flt_av_ishield - the files an InstallShield setup.exe carries after its
 * PE sections (the overlay), in the two layouts public descriptions of the
 * format (e.g. the ISx extractor's notes) give:
 *
 * - "InstallShield" streams (setups of InstallShield 10.5 to 2014): a
 *   46-byte header ("InstallShield\0", u16 file count, ...), then per file
 *   a 312-byte record (file name[260], u32 flags at 260, u32 length at
 *   268, u16 "compressed" at 280) and the file's bytes. Flags 2 or 4 say
 *   the bytes are obfuscated with a key made from the file name (each
 *   name byte XOR 13 35 86 07 in turn); a byte b becomes
 *   ~(key ^ (b rotated by 4 bits)). With flag 4 the key restarts at every
 *   1024-byte block, with flag 2 alone it runs over the whole file. A
 *   "compressed" file is then a zlib stream (our inflate).
 * - the plain layout (older setups and setups made "uncompressed"): per
 *   file four NUL-terminated strings (name, target path, version, length
 *   in decimal) and the bytes as they are.
 *
 * - InstallShield cabinets ("ISc(", version 6 and later), which the plain
 *   layout often carries: data1.hdr holds the file table and the files'
 *   bytes are in data<volume>.cab. From the header (signature, version,
 *   volume info, descriptor offset and size) to the cabinet descriptor
 *   (file table offset at 0x0c, its size at 0x14, the file count at 0x28,
 *   the descriptor array at 0x2c from the table), then 0x57-byte file
 *   descriptors (flags, expanded and compressed sizes and the data offset
 *   as u64 at 2, 10 and 18, the name offset at 0x3a, the volume at 0x55).
 *   Flags: 1 split over volumes, 2 obfuscated, 4 compressed, 8 invalid.
 *   Compressed data is a run of chunks, each a u16 length and a raw
 *   deflate stream; obfuscated bytes b at position i of the file's data
 *   become ror2(b ^ 0xd5) - i % 0x47 first. Version 5 tables are not
 *   read (counted as broken).
 *
 * Files become members named by their file name. The overlay is found from
 * the section table; the stream header is looked for in its first
 * IS_SEARCH bytes (a debug-directory string may come first). At most
 * IS_FILES_MAX files; every length is checked against the file; decoded
 * and inflated members are capped by e->cap. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "av/flt_av_dec.h"
#include "sl_err.h"

#define IS_FILES_MAX 4096u
#define IS_SEARCH 4096u
#define IS_HDR 46u
#define IS_REC 312u
#define IS_NAME 260u
#define IS_VOLUMES 64u /* plain-layout files remembered to find cabinet volumes */
#define IS_FD 0x57u

static const char is_sig[] = "InstallShield";

/* Where the PE sections end, or 0 (not a PE, or nothing after them). */
static size_t is_overlay(sl_slice_t d)
{
	uint64_t end = 0;
	uint32_t pe;
	uint16_t nsec, opt;

	if (d.len < 0x40 || d.ptr[0] != 'M' || d.ptr[1] != 'Z')
		return 0;
	pe = av_le32(d.ptr + 0x3c);
	if (pe > d.len || d.len - pe < 24 || memcmp(d.ptr + pe, "PE\0\0", 4) != 0)
		return 0;
	nsec = av_le16(d.ptr + pe + 6);
	opt = av_le16(d.ptr + pe + 20);
	for (uint32_t i = 0; i < nsec && i < 96; i++) {
		uint64_t at = (uint64_t)pe + 24 + opt + 40ull * i;

		if (at + 40 > d.len)
			break;
		if ((uint64_t)av_le32(d.ptr + at + 20) + av_le32(d.ptr + at + 16) > end)
			end = (uint64_t)av_le32(d.ptr + at + 20) + av_le32(d.ptr + at + 16);
	}
	return end > 0 && end < d.len ? (size_t)end : 0;
}

static void is_name(char *dst, size_t cap, const uint8_t *p, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < n && k + 1 < cap; i++)
		dst[k++] = p[i] >= 0x20 && p[i] < 0x7f ? (char)p[i] : '_';
	dst[k] = '\0';
}

/* One file of an "InstallShield" stream: undo the obfuscation, inflate. */
static int is_stream_file(sl_slice_t raw, const char *fname, const uint8_t *kname, size_t klen, uint32_t flags,
			  bool zlib, av_emit_t *e, sl_buf_t *dec, sl_buf_t *inf)
{
	static const uint8_t mix[4] = {0x13, 0x35, 0x86, 0x07};
	sl_slice_t s = raw;
	int rc;

	if ((flags & 6) != 0) {
		uint8_t key[IS_NAME];

		if (klen == 0) {
			e->broken++; /* no name, no key */
			return 0;
		}
		for (size_t i = 0; i < klen; i++)
			key[i] = kname[i] ^ mix[i % 4];
		sl_buf_reset(dec);
		if (raw.len > e->cap)
			return av_emit_toolarge(e);
		if ((rc = sl_buf_reserve(dec, raw.len)) != 0)
			return rc == SL_ELIMIT ? av_emit_toolarge(e) : rc;
		for (size_t i = 0; i < raw.len; i++) {
			uint8_t b = raw.ptr[i], k = key[((flags & 4) ? i % 1024 : i) % klen];

			dec->data[i] = (uint8_t) ~(k ^ (uint8_t)(b << 4 | b >> 4));
		}
		dec->len = raw.len;
		s = sl_buf_slice(dec);
	}
	if (zlib) {
		sl_buf_reset(inf);
		rc = av_zlib(s, inf);
		if (rc == SL_ELIMIT)
			return av_emit_toolarge(e);
		if (rc == SL_EINVAL) {
			e->broken++; /* what was inflated is still scanned */
			rc = 0;
		}
		if (rc != 0)
			return rc;
		s = sl_buf_slice(inf);
	}
	return e->member(e, fname[0] != '\0' ? fname : NULL, NULL, s);
}

static int is_stream(sl_slice_t d, size_t at, av_emit_t *e)
{
	uint32_t nfiles = av_le16(d.ptr + at + 14);
	sl_buf_t dec, inf;
	int rc = 0;

	at += IS_HDR;
	av_emit_buf_init(e, &dec);
	av_emit_buf_init(e, &inf);
	for (uint32_t i = 0; i < nfiles && i < IS_FILES_MAX && rc == 0; i++) {
		const uint8_t *r = d.ptr + at, *nul;
		char fname[IS_NAME];
		uint32_t flags, len;

		if (d.len - at < IS_REC) {
			e->broken++;
			break;
		}
		nul = memchr(r, 0, IS_NAME);
		flags = av_le32(r + 260);
		len = av_le32(r + 268);
		at += IS_REC;
		if (nul == NULL || len > d.len - at) {
			e->broken++;
			break;
		}
		is_name(fname, sizeof(fname), r, (size_t)(nul - r));
		/* the key is made from the name's bytes as stored */
		rc = is_stream_file(sl_slice_make(d.ptr + at, len), fname, r, (size_t)(nul - r), flags,
				    av_le16(r + 280) != 0, e, &dec, &inf);
		at += len;
	}
	sl_buf_free(&dec);
	sl_buf_free(&inf);
	return rc;
}

/* A NUL-terminated printable string at D[*at..], at most MAX bytes. */
static bool is_str(sl_slice_t d, size_t *at, size_t max, const uint8_t **s_r, size_t *n_r)
{
	size_t i = *at;

	while (i < d.len && i - *at <= max && d.ptr[i] != 0) {
		if (d.ptr[i] < 0x20 || d.ptr[i] == 0x7f)
			return false;
		i++;
	}
	if (i >= d.len || d.ptr[i] != 0 || i - *at > max)
		return false;
	*s_r = d.ptr + *at;
	*n_r = i - *at;
	*at = i + 1;
	return true;
}

typedef struct is_vol {
	char name[IS_NAME];
	sl_slice_t data;
} is_vol_t;

static uint64_t is_le64(const uint8_t *p)
{
	return (uint64_t)av_le32(p) | (uint64_t)av_le32(p + 4) << 32;
}

static const is_vol_t *is_volume(const is_vol_t *v, uint32_t nv, const char *prefix, size_t plen, uint32_t vol)
{
	char want[IS_NAME + 16];

	snprintf(want, sizeof(want), "%.*s%u.cab", (int)plen, prefix, vol);
	for (uint32_t i = 0; i < nv; i++)
		if (strcasecmp(v[i].name, want) == 0)
			return &v[i];
	return NULL;
}

/* One file of an InstallShield cabinet: SRC (its bytes in the volume),
 * deobfuscated and inflated chunk by chunk into OUT. */
static int is_cab_file(sl_slice_t src, uint16_t flags, av_emit_t *e, sl_buf_t *tmp, sl_buf_t *out)
{
	size_t i = 0;

	sl_buf_reset(out);
	if (flags & 2) {
		int rc;

		sl_buf_reset(tmp);
		if (src.len > e->cap)
			return av_emit_toolarge(e);
		if ((rc = sl_buf_reserve(tmp, src.len)) != 0)
			return rc == SL_ELIMIT ? av_emit_toolarge(e) : rc;
		for (size_t k = 0; k < src.len; k++) {
			uint8_t b = src.ptr[k] ^ 0xd5;

			tmp->data[k] = (uint8_t)((uint8_t)(b >> 2 | b << 6) - k % 0x47);
		}
		tmp->len = src.len;
		src = sl_buf_slice(tmp);
	}
	if ((flags & 4) == 0)
		return av_emit_append(e, out, src.ptr, src.len);
	while (src.len - i >= 2) {
		uint16_t n = av_le16(src.ptr + i);
		int rc;

		i += 2;
		if (n > src.len - i) {
			e->broken++;
			n = (uint16_t)(src.len - i);
		}
		rc = av_inflate(sl_slice_make(src.ptr + i, n), false, out, NULL);
		if (rc == SL_ELIMIT)
			return av_emit_toolarge(e);
		if (rc == SL_EINVAL) {
			e->broken++;
			return 0; /* what was inflated is kept */
		}
		if (rc != 0)
			return rc;
		i += n;
	}
	return 0;
}

/* The files of the cabinet whose header is HDR (the file table); the data
 * is in the volumes V named PREFIX<n>.cab. */
static int is_cab(sl_slice_t hdr, const char *prefix, size_t plen, const is_vol_t *v, uint32_t nv, av_emit_t *e)
{
	uint32_t ver, cdo, cds, major, fto, fts, nfiles, fto2;
	uint64_t ft, fds;
	sl_buf_t tmp, out;
	int rc = 0;

	if (hdr.len < 20)
		return 0;
	ver = av_le32(hdr.ptr + 4);
	cdo = av_le32(hdr.ptr + 12);
	cds = av_le32(hdr.ptr + 16);
	if (ver >> 24 == 1)
		major = (ver >> 12) & 0xf;
	else if (ver >> 24 == 2 || ver >> 24 == 4)
		major = (ver & 0xffff) / 100;
	else
		major = 0;
	if (cds == 0)
		return 0; /* a data volume: its table is in the .hdr */
	if (major < 6 || cdo > hdr.len || cds > hdr.len - cdo || cds < 0x30) {
		e->broken++;
		return 0;
	}
	fto = av_le32(hdr.ptr + cdo + 0x0c);
	fts = av_le32(hdr.ptr + cdo + 0x14);
	nfiles = av_le32(hdr.ptr + cdo + 0x28);
	fto2 = av_le32(hdr.ptr + cdo + 0x2c);
	ft = (uint64_t)cdo + fto;
	fds = ft + fto2;
	if (ft > hdr.len || fts > hdr.len - ft || fds > hdr.len || nfiles > (hdr.len - fds) / IS_FD) {
		e->broken++;
		return 0;
	}
	av_emit_buf_init(e, &tmp);
	av_emit_buf_init(e, &out);
	for (uint32_t k = 0; k < nfiles && k < 65536 && rc == 0; k++) {
		const uint8_t *fd = hdr.ptr + fds + (uint64_t)k * IS_FD;
		uint16_t flags = av_le16(fd);
		uint64_t csize = is_le64(fd + 10), off = is_le64(fd + 18), noff = ft + av_le32(fd + 0x3a);
		const is_vol_t *vol;
		const uint8_t *nul;
		char fname[IS_NAME];

		if ((flags & 8) || off == 0 || is_le64(fd + 2) == 0)
			continue; /* invalid, or not stored in the cabinet */
		vol = is_volume(v, nv, prefix, plen, av_le16(fd + 0x55));
		if (vol == NULL || off > vol->data.len || noff >= hdr.len) {
			e->broken++;
			continue;
		}
		if (csize > vol->data.len - off) {
			e->broken++; /* split over volumes, or cut: what this one holds */
			csize = vol->data.len - off;
		}
		nul = memchr(hdr.ptr + noff, 0, hdr.len - noff);
		is_name(fname, sizeof(fname), hdr.ptr + noff,
			nul != NULL ? (size_t)(nul - (hdr.ptr + noff)) : hdr.len - noff);
		rc = is_cab_file(sl_slice_make(vol->data.ptr + off, (size_t)csize), flags, e, &tmp, &out);
		if (rc == 0 && out.len > 0)
			rc = e->member(e, fname[0] != '\0' ? fname : NULL, NULL, sl_buf_slice(&out));
	}
	sl_buf_free(&tmp);
	sl_buf_free(&out);
	return rc;
}

/* The plain layout from AT; 0 files found is not an error (not this
 * format). The files are members; then each "*.hdr" among them that is an
 * InstallShield cabinet header opens its cabinet. */
static int is_plain(sl_slice_t d, size_t at, av_emit_t *e)
{
	is_vol_t vols[IS_VOLUMES];
	uint32_t nv = 0;
	int rc = 0;

	for (uint32_t k = 0; k < IS_FILES_MAX && at < d.len && rc == 0; k++) {
		const uint8_t *name, *path, *ver, *num;
		size_t nn, np, nv_, nnum, i = at;
		uint64_t len = 0;
		char fname[IS_NAME];
		bool digits = true;

		if (!is_str(d, &i, IS_NAME, &name, &nn) || nn == 0 || !is_str(d, &i, IS_NAME, &path, &np) ||
		    !is_str(d, &i, 32, &ver, &nv_) || !is_str(d, &i, 10, &num, &nnum) || nnum == 0) {
			if (k > 0)
				e->broken++; /* trailing bytes that are no record */
			break;
		}
		for (size_t j = 0; j < nnum; j++) {
			digits = digits && num[j] >= '0' && num[j] <= '9';
			len = len * 10 + (uint64_t)(num[j] - '0');
		}
		if (!digits) {
			if (k > 0)
				e->broken++;
			break;
		}
		if (len > d.len - i) {
			e->broken++;
			len = d.len - i;
		}
		is_name(fname, sizeof(fname), name, nn);
		if (nv < IS_VOLUMES) {
			memcpy(vols[nv].name, fname, sizeof(fname));
			vols[nv++].data = sl_slice_make(d.ptr + i, (size_t)len);
		}
		rc = e->member(e, fname, NULL, sl_slice_make(d.ptr + i, (size_t)len));
		at = i + (size_t)len;
	}
	for (uint32_t k = 0; k < nv && rc == 0; k++) {
		size_t n = strlen(vols[k].name);
		sl_slice_t h = vols[k].data;

		if (n > 5 && strcasecmp(vols[k].name + n - 4, ".hdr") == 0 && h.len >= 4 && memcmp(h.ptr, "ISc(", 4) == 0) {
			/* data1.hdr: volumes data1.cab, data2.cab, ... */
			size_t p = n - 4;

			while (p > 0 && vols[k].name[p - 1] >= '0' && vols[k].name[p - 1] <= '9')
				p--;
			rc = is_cab(h, vols[k].name, p, vols, nv, e);
		}
	}
	return rc;
}

int av_dec_ishield(sl_slice_t d, const char *name, av_emit_t *e)
{
	size_t ov = is_overlay(d), lim;
	const uint8_t *p;

	(void)name;
	if (ov == 0)
		return 0;
	lim = d.len - ov < IS_SEARCH ? d.len - ov : IS_SEARCH;
	p = memmem(d.ptr + ov, lim, is_sig, sizeof(is_sig));
	if (p != NULL) {
		size_t at = (size_t)(p - d.ptr);

		if (d.len - at < IS_HDR) {
			e->broken++;
			return 0;
		}
		return is_stream(d, at, e);
	}
	return is_plain(d, ov, e);
}
