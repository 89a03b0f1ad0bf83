/* flt_av_vba - VBA macro source in Office 97-2003 files ([MS-OVBA]). The
 * "dir" stream of a VBA project is a CompressedContainer (2.4.1) of
 * records (2.3.4.2) that name each module's stream (MODULESTREAMNAME,
 * 0x001A) and where its compressed source starts in it (MODULEOFFSET,
 * 0x0031). flt_av_ole2.c hands the streams over; each module's source is
 * decompressed into a member "<stream>.vba", so signatures see macro text
 * as ClamAV's do.
 *
 * Decompression: chunks of at most 4096 bytes out, each a 2-byte header
 * (size, signature 0b011, compressed flag), then flag bytes and tokens;
 * a copy token splits into offset and length bits by the position inside
 * the chunk (2.4.1.3.19.1). Every token consumes input; offsets are checked
 * against the chunk; output is capped like any member. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "av/flt_av_dec.h"
#include "sl_err.h"

#define VBA_MODULES_MAX 1024u

int av_vba_decompress(sl_slice_t in, av_emit_t *e, sl_buf_t *out)
{
	size_t i = 1;
	int rc;

	if (in.len < 1 || in.ptr[0] != 0x01)
		return SL_EINVAL;
	while (in.len - i >= 2) {
		uint16_t h = av_le16(in.ptr + i);
		size_t size = (size_t)(h & 0x0fff) + 3, end, cstart = out->len;

		if (((h >> 12) & 7) != 3)
			return SL_EINVAL;
		end = i + size < in.len ? i + size : in.len;
		i += 2;
		if (!(h & 0x8000)) { /* a raw chunk: 4096 bytes as they are */
			size_t n = in.len - i < 4096 ? in.len - i : 4096;

			if ((rc = av_emit_append(e, out, in.ptr + i, n)) != 0)
				return rc;
			i += n;
			continue;
		}
		while (i < end) {
			uint8_t flags = in.ptr[i++];

			for (int b = 0; b < 8 && i < end; b++) {
				if (!(flags & (1u << b))) {
					if ((rc = av_emit_append(e, out, in.ptr + i, 1)) != 0)
						return rc;
					i++;
				} else {
					size_t diff = out->len - cstart;
					uint32_t bits = 4, tok, len, off;

					if (end - i < 2)
						return SL_EINVAL;
					tok = av_le16(in.ptr + i);
					i += 2;
					while (bits < 12 && ((size_t)1 << bits) < diff)
						bits++;
					len = (tok & (0xffffu >> bits)) + 3;
					off = (tok >> (16 - bits)) + 1;
					if (off > diff)
						return SL_EINVAL;
					for (uint32_t k = 0; k < len; k++) {
						uint8_t c = out->data[out->len - off];

						if ((rc = av_emit_append(e, out, &c, 1)) != 0)
							return rc;
					}
				}
			}
		}
	}
	return 0;
}

int av_vba_modules(sl_slice_t dir, av_vba_stream_fn get, void *ctx, av_emit_t *e)
{
	sl_buf_t d, src;
	char sname[64] = "";
	uint32_t off = UINT32_MAX, nmod = 0;
	int rc;

	av_emit_buf_init(e, &d);
	rc = av_vba_decompress(dir, e, &d);
	if (rc == SL_EINVAL) {
		e->broken++;
		rc = 0;
	}
	av_emit_buf_init(e, &src);
	for (size_t i = 0; rc == 0 && d.len - i >= 6 && nmod < VBA_MODULES_MAX;) {
		uint16_t id = av_le16(d.data + i);
		uint32_t size = av_le32(d.data + i + 2);

		i += 6;
		if (id == 0x0009)
			size = 6; /* PROJECTVERSION: its "size" field is a reserved 4 */
		if (size > d.len - i) {
			e->broken++;
			break;
		}
		if (id == 0x001a) {
			size_t n = size < sizeof(sname) - 1 ? size : sizeof(sname) - 1;

			memcpy(sname, d.data + i, n);
			sname[n] = '\0';
		} else if (id == 0x0031 && size == 4) {
			off = av_le32(d.data + i);
		} else if (id == 0x002b) { /* the end of a module's records */
			sl_slice_t s;

			nmod++;
			if (sname[0] != '\0' && off != UINT32_MAX && get(ctx, sname, &s) == 0 && off < s.len) {
				int r;

				sl_buf_reset(&src);
				r = av_vba_decompress(sl_slice_make(s.ptr + off, s.len - off), e, &src);
				if (r == SL_EINVAL) {
					e->broken++;
					r = 0;
				}
				if (r == 0 && src.len > 0) {
					char mname[80];

					snprintf(mname, sizeof(mname), "%s.vba", sname);
					r = e->member(e, mname, NULL, sl_buf_slice(&src));
				}
				rc = r;
			}
			sname[0] = '\0';
			off = UINT32_MAX;
		}
		i += size;
	}
	sl_buf_free(&d);
	sl_buf_free(&src);
	return rc;
}
