/* flt_av_tnef - Transport Neutral Encapsulation Format ([MS-OXTNEF]):
 * winmail.dat, the attachment Outlook sends instead of MIME parts. The
 * stream is a u32 signature (0x223E9F78), a u16 key, then attributes:
 * level (1 message, 2 attachment), u32 id (type << 16 | tag), u32 length,
 * the data, a u16 checksum. Every attAttachData is a member, named by the
 * attAttachTitle of the same attachment. Lengths are checked against what
 * is left of the object before anything is read, so a length of 4 GiB
 * just ends the walk as broken; members are slices of the input (no copy). */
#include <stdio.h>
#include <string.h>

#include "av/flt_av_dec.h"
#include "sl_err.h"

#define TNEF_ATT_RENDDATA 0x00069002u /* attAttachRendData: a new attachment */
#define TNEF_ATT_TITLE 0x00018010u    /* attAttachTitle: its file name */
#define TNEF_ATT_DATA 0x0006800fu     /* attAttachData: its bytes */

int av_dec_tnef(sl_slice_t d, const char *name, av_emit_t *e)
{
	char title[256] = "";
	size_t i = 6;

	(void)name;
	while (i < d.len) {
		uint32_t id, len;
		uint8_t level;
		int rc;

		if (d.len - i < 9) {
			e->broken++;
			return 0;
		}
		level = d.ptr[i];
		id = av_le32(d.ptr + i + 1);
		len = av_le32(d.ptr + i + 5);
		i += 9;
		if (level != 1 && level != 2) {
			e->broken++;
			return 0;
		}
		if (len > d.len - i) {
			/* truncated or hostile: scan the rest of an attachment body */
			e->broken++;
			if (id == TNEF_ATT_DATA)
				return e->member(e, title[0] ? title : NULL, NULL,
						 sl_slice_make(d.ptr + i, d.len - i));
			return 0;
		}
		if (id == TNEF_ATT_RENDDATA) {
			title[0] = '\0';
		} else if (id == TNEF_ATT_TITLE) {
			size_t n = strnlen((const char *)d.ptr + i, len);

			snprintf(title, sizeof(title), "%.*s", (int)(n > 250 ? 250 : n), (const char *)d.ptr + i);
		} else if (id == TNEF_ATT_DATA) {
			rc = e->member(e, title[0] ? title : NULL, NULL, sl_slice_make(d.ptr + i, len));
			if (rc != 0)
				return rc;
		}
		i += len;
		i += d.len - i < 2 ? d.len - i : 2; /* checksum */
	}
	return 0;
}
