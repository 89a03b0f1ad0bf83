/* flt_av_pe - UPX-packed PE files (flt_av_upx.c), NSIS installers
 * (flt_av_nsis.c), and archives embedded in a PE file: self-extracting zip, RAR and
 * 7-Zip archives, and installers (InstallShield, WiX bootstrappers) that
 * carry a cabinet or an MSI (OLE2) inside the executable. Each embedded
 * archive found after the PE headers becomes a member that starts at its
 * magic; the scanner then opens it as it would a file. A cabinet is cut
 * to its header's length (cbCabinet). At most PE_EMBED_MAX are taken, the
 * search moves forward only, so the work is a few passes over the file. */
#include <string.h>

#include "av/flt_av_dec.h"
#include "sl_err.h"

#define PE_EMBED_MAX 16

static const struct {
	const char *magic;
	size_t len;
	const char *name;
} pe_magic[] = {
	{"MSCF\0\0\0\0", 8, "embedded.cab"},
	{"PK\3\4", 4, "embedded.zip"},
	{"Rar!\x1a\x07", 6, "embedded.rar"},
	{"7z\xbc\xaf\x27\x1c", 6, "embedded.7z"},
	{"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", 8, "embedded.msi"},
};

int av_dec_pe_embedded(sl_slice_t d, const char *name, av_emit_t *e)
{
	uint32_t found = 0;
	int rc;

	/* a UPX-packed image first (its member is the unpacked PE), then an
	 * NSIS installer's blocks */
	if ((rc = av_dec_upx(d, name, e)) != 0 || (rc = av_dec_nsis(d, name, e)) != 0)
		return rc;
	if ((rc = av_dec_pepack(d, name, e)) != 0) /* other packers: flt_av_pepack.c */
		return rc;
	if ((rc = av_dec_ishield(d, name, e)) != 0) /* InstallShield's overlay files */
		return rc;
	if ((rc = av_dec_autoit(d, name, e)) != 0) /* compiled AutoIt scripts and their files */
		return rc;
	for (size_t m = 0; m < sizeof(pe_magic) / sizeof(pe_magic[0]); m++) {
		size_t i = 0x40; /* past the DOS header */

		while (i < d.len && found < PE_EMBED_MAX) {
			const uint8_t *p = memmem(d.ptr + i, d.len - i, pe_magic[m].magic, pe_magic[m].len);
			size_t at, len;

			if (p == NULL)
				break;
			at = (size_t)(p - d.ptr);
			len = d.len - at;
			i = at + pe_magic[m].len;
			if (m == 0) {
				/* CFHEADER: cbCabinet at 8, version 1.3 at 24 */
				uint32_t cb;

				if (len < 36 || d.ptr[at + 24] != 3 || d.ptr[at + 25] != 1)
					continue;
				cb = av_le32(d.ptr + at + 8);
				if (cb < 36 || cb > len)
					continue;
				len = cb;
				i = at + cb;
			} else if (m == 1 && (len < 30 || d.ptr[at + 5] > 0x3f)) {
				continue; /* "version needed" is a small number */
			}
			found++;
			rc = e->member(e, pe_magic[m].name, NULL, sl_slice_make(p, len));
			if (rc != 0)
				return rc;
			if (m != 0)
				break; /* one of each kind: the rest are its own members */
		}
	}
	return 0;
}
