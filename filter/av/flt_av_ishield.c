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
 * Files become members named by their file name. The overlay is found from
 * the section table; the stream header is looked for in its first
 * IS_SEARCH bytes (a debug-directory string may come first). At most
 * IS_FILES_MAX files; every length is checked against the file; decoded
 * and inflated members are capped by e->cap. */
#include <stdio.h>
#include <string.h>

#include "av/flt_av_dec.h"
#include "sl_err.h"

#define IS_FILES_MAX 4096u
#define IS_SEARCH 4096u
#define IS_HDR 46u
#define IS_REC 312u
#define IS_NAME 260u

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

/* The plain layout from AT; 0 files found is not an error (not this format). */
static int is_plain(sl_slice_t d, size_t at, av_emit_t *e)
{
	for (uint32_t k = 0; k < IS_FILES_MAX && at < d.len; k++) {
		const uint8_t *name, *path, *ver, *num;
		size_t nn, np, nv, nnum, i = at;
		uint64_t len = 0;
		char fname[IS_NAME];
		int rc;

		if (!is_str(d, &i, IS_NAME, &name, &nn) || nn == 0 || !is_str(d, &i, IS_NAME, &path, &np) ||
		    !is_str(d, &i, 32, &ver, &nv) || !is_str(d, &i, 10, &num, &nnum) || nnum == 0) {
			if (k > 0)
				e->broken++; /* trailing bytes that are no record */
			return 0;
		}
		for (size_t j = 0; j < nnum; j++) {
			if (num[j] < '0' || num[j] > '9')
				return k > 0 ? (e->broken++, 0) : 0;
			len = len * 10 + (uint64_t)(num[j] - '0');
		}
		if (len > d.len - i) {
			e->broken++;
			len = d.len - i;
		}
		is_name(fname, sizeof(fname), name, nn);
		if ((rc = e->member(e, fname, NULL, sl_slice_make(d.ptr + i, (size_t)len))) != 0)
			return rc;
		at = i + (size_t)len;
	}
	return 0;
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
