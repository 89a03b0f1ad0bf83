/* flt_av_nsis - Nullsoft (NSIS) installers: after the PE stub comes the
 * "first header" (flags, 0xDEADBEEF, "NullsoftInst", the header's length,
 * the length of all the data), then blocks: a u32 whose top bit says
 * "compressed" and whose other bits are the block's length, and the block.
 * The first block is the installer script's header, the others are the
 * files. Compressed blocks are LZMA (a properties byte and a dictionary
 * size first) or raw deflate; a solid installer is one LZMA stream holding
 * the same length-prefixed blocks. Every block becomes a member
 * ("nsis-header", "nsis-file-N"). bzip2 blocks are counted as broken.
 *
 * Bounds: at most NSIS_BLOCKS_MAX blocks; every length is checked against
 * the file (or the decompressed solid stream); outputs are capped. */
#include <stdio.h>
#include <string.h>

#include "av/flt_av_dec.h"
#include "sl_err.h"

#define NSIS_BLOCKS_MAX 4096u

static const char nsis_sig[] = "\xef\xbe\xad\xdeNullsoftInst";

/* Decode one compressed block B into OUT: LZMA or raw deflate. */
static int nsis_unpack(sl_slice_t b, av_emit_t *e, sl_buf_t *out)
{
	if (b.len >= 5 && b.ptr[0] < 9 * 5 * 5 && b.ptr[0] == 0x5d)
		return av_lzma(sl_slice_make(b.ptr + 5, b.len - 5), b.ptr[0], UINT64_MAX, e, out);
	{
		int rc = av_inflate(b, false, out, NULL);

		return rc == SL_ELIMIT ? av_emit_toolarge(e) : rc;
	}
}

/* Walk the length-prefixed blocks of D from I; members named by index. */
static int nsis_blocks(sl_slice_t d, size_t i, bool may_compress, av_emit_t *e, sl_buf_t *out)
{
	int rc = 0;

	/* more than 4 bytes left: the last 4 of the data are its CRC */
	for (uint32_t k = 0; rc == 0 && k < NSIS_BLOCKS_MAX && d.len > i && d.len - i > 4; k++) {
		uint32_t n = av_le32(d.ptr + i), len = n & 0x7fffffffu;
		char mname[32];
		sl_slice_t b;

		i += 4;
		if (len > d.len - i) {
			e->broken++;
			len = (uint32_t)(d.len - i);
		}
		b = sl_slice_make(d.ptr + i, len);
		i += len;
		if (k == 0)
			snprintf(mname, sizeof(mname), "nsis-header");
		else
			snprintf(mname, sizeof(mname), "nsis-file-%u", k);
		if ((n & 0x80000000u) && may_compress) {
			sl_buf_reset(out);
			rc = nsis_unpack(b, e, out);
			if (rc == SL_EINVAL) {
				e->broken++;
				rc = 0;
			}
			if (rc == 0 && out->len > 0)
				rc = e->member(e, mname, NULL, sl_buf_slice(out));
		} else {
			rc = e->member(e, mname, NULL, b);
		}
	}
	return rc;
}

int av_dec_nsis(sl_slice_t d, const char *name, av_emit_t *e)
{
	const uint8_t *p = memmem(d.ptr, d.len, nsis_sig, sizeof(nsis_sig) - 1);
	size_t i, end;
	sl_buf_t out;
	int rc;

	(void)name;
	if (p == NULL || p - d.ptr < 4)
		return 0;
	if ((size_t)(p - d.ptr) + 24 > d.len) {
		e->broken++;
		return 0;
	}
	/* the data (first header, blocks, CRC) is as long as its header says */
	end = (size_t)(p - d.ptr) - 4;
	end = av_le32(p + 20) <= d.len - end ? end + av_le32(p + 20) : d.len;
	d.len = end;
	i = (size_t)(p - d.ptr) + 16 + 8; /* signature, then the two lengths */
	if (i > d.len) {
		e->broken++; /* the data length ends inside the first header */
		return 0;
	}
	av_emit_buf_init(e, &out);
	if (d.len - i >= 5 && d.ptr[i] == 0x5d && d.ptr[i + 3] == 0 && (d.ptr[i + 4] & 0x7f) != 0) {
		/* solid: one LZMA stream of length-prefixed blocks */
		sl_buf_t all;

		av_emit_buf_init(e, &all);
		rc = av_lzma(sl_slice_make(d.ptr + i + 5, d.len - i - 5), d.ptr[i], UINT64_MAX, e, &all);
		if (rc == SL_EINVAL) {
			e->broken++;
			rc = 0;
		}
		if (rc == 0)
			rc = nsis_blocks(sl_buf_slice(&all), 0, false, e, &out);
		sl_buf_free(&all);
	} else {
		rc = nsis_blocks(d, i, true, e, &out);
	}
	sl_buf_free(&out);
	return rc;
}
