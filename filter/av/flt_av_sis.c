/* flt_av_sis - Symbian installation files, SIS version 1 (EPOC releases
 * 3 to 6; UID3 0x10000419). The header gives the number of files and a
 * pointer to their records; a simple file record (type 0) or a
 * multi-language one (type 1) holds, per language, the length and the
 * pointer of the file's data, zlib-compressed unless the header's
 * NoCompress option (0x0008) is set. Each file is a member named after its
 * destination path. Conditions (types 2 to 6) hold no data and are
 * stepped over. Every pointer and length is checked against the file;
 * at most SIS_FILES_MAX records and SIS_LANGS_MAX languages are read. */
#include <stdio.h>
#include <string.h>

#include "av/flt_av_dec.h"
#include "sl_err.h"

#define SIS_FILES_MAX 4096u
#define SIS_LANGS_MAX 64u
#define SIS_OPT_UNICODE 0x0001u
#define SIS_OPT_NOCOMPRESS 0x0008u

/* The last path component of the name at PTR (LEN bytes), as ASCII. */
static void sis_name(sl_slice_t d, uint32_t len, uint32_t ptr, bool wide, char *out, size_t outlen)
{
	size_t k = 0, step = wide ? 2 : 1;

	out[0] = '\0';
	if (ptr > d.len || len > d.len - ptr)
		return;
	for (size_t i = 0; i + step <= len && k + 1 < outlen; i += step) {
		uint8_t c = d.ptr[ptr + i];

		if (c == '\\' || c == '/' || c == ':') {
			k = 0;
			continue;
		}
		out[k++] = c >= 32 && c < 127 ? (char)c : '_';
	}
	out[k] = '\0';
}

int av_dec_sis(sl_slice_t d, const char *name, av_emit_t *e)
{
	uint32_t nlangs, nfiles, opts, ver, rec;
	sl_buf_t out;
	int rc = 0;

	(void)name;
	if (d.len < 0x44) {
		e->broken++;
		return 0;
	}
	nlangs = av_le16(d.ptr + 0x12);
	nfiles = av_le16(d.ptr + 0x14);
	ver = av_le32(d.ptr + 0x20);
	opts = av_le16(d.ptr + 0x24);
	rec = av_le32(d.ptr + 0x34);
	if (nlangs == 0 || nlangs > SIS_LANGS_MAX || nfiles > SIS_FILES_MAX) {
		e->broken++;
		return 0;
	}
	av_emit_buf_init(e, &out);
	for (uint32_t f = 0; rc == 0 && f < nfiles; f++) {
		uint32_t type, n, srclen, dstlen, dstptr;
		size_t need, lens, ptrs;
		char mname[128];

		if (rec > d.len || d.len - rec < 4) {
			e->broken++;
			break;
		}
		type = av_le32(d.ptr + rec);
		if (type >= 2) {
			/* options, if, elseif: a u32 size and its bytes; else, endif: nothing */
			if (type == 5 || type == 6) {
				rec += 4;
			} else if (d.len - rec >= 8 && av_le32(d.ptr + rec + 4) <= d.len - rec - 8) {
				rec += 8 + av_le32(d.ptr + rec + 4);
			} else {
				e->broken++;
				break;
			}
			continue;
		}
		n = type == 1 ? nlangs : 1;
		/* type, file type, details, src len/ptr, dst len/ptr, lengths, pointers
		 * (and, from EPOC release 6, original lengths and the MIME type) */
		need = 28 + 8 * (size_t)n + (ver >= 0x44 ? 4 * (size_t)n + 8 : 0);
		if (d.len - rec < need) {
			e->broken++;
			break;
		}
		srclen = av_le32(d.ptr + rec + 12);
		dstlen = av_le32(d.ptr + rec + 20);
		dstptr = av_le32(d.ptr + rec + 24);
		(void)srclen;
		sis_name(d, dstlen, dstptr, opts & SIS_OPT_UNICODE, mname, sizeof(mname));
		lens = rec + 28;
		ptrs = lens + 4 * (size_t)n;
		for (uint32_t l = 0; rc == 0 && l < n; l++) {
			uint32_t flen = av_le32(d.ptr + lens + 4 * l), fptr = av_le32(d.ptr + ptrs + 4 * l);
			sl_slice_t data;

			if (fptr > d.len || flen > d.len - fptr) {
				e->broken++;
				continue;
			}
			data = sl_slice_make(d.ptr + fptr, flen);
			if (flen == 0)
				continue;
			if (opts & SIS_OPT_NOCOMPRESS) {
				rc = e->member(e, mname[0] ? mname : NULL, NULL, data);
				continue;
			}
			sl_buf_reset(&out);
			rc = av_zlib(data, &out);
			if (rc == SL_ELIMIT) {
				rc = av_emit_toolarge(e);
				break;
			}
			if (rc == SL_EINVAL) {
				e->broken++;
				rc = 0;
			}
			if (rc == 0)
				rc = e->member(e, mname[0] ? mname : NULL, NULL, sl_buf_slice(&out));
		}
		rec += (uint32_t)need;
	}
	sl_buf_free(&out);
	return rc;
}
