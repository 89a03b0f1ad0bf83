/* flt_av_dec - which container decoder an object goes to, and the member
 * buffer helpers every decoder shares. Detection looks only at magic bytes
 * or a bounded window at the start, so plain files pay almost nothing. */
#include <string.h>

#include "av/flt_av_dec.h"
#include "av/flt_av_private.h"
#include "sl_err.h"

void av_emit_buf_init(const av_emit_t *e, sl_buf_t *b)
{
	uint64_t max = e->cap + 1;

	if (max > SIZE_MAX / 4)
		max = SIZE_MAX / 4;
	sl_buf_init(b, (size_t)max);
}

int av_emit_toolarge(av_emit_t *e)
{
	return e->limit(e, e->cap_why);
}

int av_emit_append(av_emit_t *e, sl_buf_t *b, const void *p, size_t n)
{
	int rc;

	if (n == 0)
		return 0;
	if (b->len + n > b->max || b->len + n > e->cap)
		return av_emit_toolarge(e);
	rc = sl_buf_append(b, p, n);
	if (rc == SL_ELIMIT)
		return av_emit_toolarge(e);
	return rc;
}

static bool has_prefix(sl_slice_t d, size_t off, const char *m, size_t n)
{
	return d.len >= off + n && memcmp(d.ptr + off, m, n) == 0;
}

av_decoder_fn av_container_find(sl_slice_t d, const char **what_r)
{
	if (d.len == 0)
		return NULL; /* an empty member's slice may be {NULL, 0} */
	if (has_prefix(d, 0, "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", 8)) {
		*what_r = "ole2";
		return av_dec_ole2;
	}
	if (has_prefix(d, 0, "SZDD\x88\xf0\x27\x33", 8)) {
		*what_r = "szdd";
		return av_dec_szdd;
	}
	if (has_prefix(d, 0, "\x78\x9f\x3e\x22", 4)) {
		*what_r = "tnef";
		return av_dec_tnef;
	}
	if (has_prefix(d, 0, "{\\rtf", 5)) {
		*what_r = "rtf";
		return av_dec_rtf;
	}
	if (d.len >= 12 && av_le32(d.ptr + 8) == 0x10000419u &&
	    (av_le32(d.ptr + 4) == 0x1000006du || av_le32(d.ptr + 4) == 0x10003a12u)) {
		*what_r = "sis";
		return av_dec_sis;
	}
	if (has_prefix(d, 0, "ITSF", 4) && d.len >= 8 && (av_le32(d.ptr + 4) == 2 || av_le32(d.ptr + 4) == 3)) {
		*what_r = "chm";
		return av_dec_chm;
	}
	if (has_prefix(d, 0, "\x60\xea", 2) && d.len >= 4 && av_le16(d.ptr + 2) > 0 && av_le16(d.ptr + 2) <= 2600) {
		*what_r = "arj";
		return av_dec_arj;
	}
	if (av_file_type(d) == AV_T_PE) {
		*what_r = "pe";
		return av_dec_pe_embedded;
	}
	if (av_is_binhex(d)) {
		*what_r = "binhex";
		return av_dec_binhex;
	}
	if (av_is_mail(d)) {
		*what_r = "mail";
		return av_dec_mail;
	}
	if (av_is_uu(d)) {
		*what_r = "uuencode";
		return av_dec_uu;
	}
	if (av_is_html(d)) {
		*what_r = "html";
		return av_dec_html;
	}
	return NULL;
}
