/* flt_av_szdd - MS-DOS COMPRESS.EXE files ("SZDD", the EXPAND.EXE format
 * of setup disks, "file.ex_"): a 14-byte header (magic, mode 'A', the
 * name's last character, u32 size) and LZSS over a 4 KiB window that
 * starts filled with spaces, writing at 4096 - 16. A flag byte gives eight
 * items, low bit first: 1 a literal, 0 a two-byte reference (12-bit window
 * position, 4-bit length + 3). The output is bounded by the member cap;
 * every item consumes input, so there is no loop without progress. */
#include <stdio.h>
#include <string.h>

#include "av/flt_av_dec.h"
#include "sl_err.h"

int av_dec_szdd(sl_slice_t d, const char *name, av_emit_t *e)
{
	uint8_t win[4096];
	uint32_t wpos = 4096 - 16;
	size_t i = 14;
	char mname[256];
	sl_buf_t out;
	int rc = 0;

	if (d.len < 14 || d.ptr[8] != 'A') {
		e->broken++;
		return 0;
	}
	/* "x.ex_" holds "x.exe"; the missing character is in the header */
	snprintf(mname, sizeof(mname), "%s", name != NULL ? name : "data");
	if (mname[0] != '\0' && mname[strlen(mname) - 1] == '_' && d.ptr[9] >= 0x20 && d.ptr[9] < 0x7f)
		mname[strlen(mname) - 1] = (char)d.ptr[9];
	memset(win, ' ', sizeof(win));
	av_emit_buf_init(e, &out);
	while (rc == 0 && i < d.len) {
		uint8_t flags = d.ptr[i++];

		for (int b = 0; b < 8 && rc == 0 && i < d.len; b++) {
			if (flags & (1u << b)) {
				win[wpos] = d.ptr[i];
				wpos = (wpos + 1) & 4095;
				rc = av_emit_append(e, &out, d.ptr + i, 1);
				i++;
			} else {
				uint32_t pos, len;
				uint8_t tmp[18];

				if (i + 2 > d.len) {
					e->broken++;
					i = d.len;
					break;
				}
				pos = d.ptr[i] | (uint32_t)(d.ptr[i + 1] & 0xf0) << 4;
				len = (d.ptr[i + 1] & 0x0fu) + 3;
				i += 2;
				for (uint32_t k = 0; k < len; k++) {
					tmp[k] = win[(pos + k) & 4095];
					win[wpos] = tmp[k];
					wpos = (wpos + 1) & 4095;
				}
				rc = av_emit_append(e, &out, tmp, len);
			}
		}
	}
	if (rc == 0)
		rc = e->member(e, mname, NULL, sl_buf_slice(&out));
	sl_buf_free(&out);
	return rc;
}
