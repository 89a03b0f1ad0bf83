/* imap_structure - IMAP ENVELOPE, BODY and BODYSTRUCTURE (RFC 3501 §7.4.2,
 * RFC 9051 §7.5.2) rendered from filter/message's structure, and the
 * compact blob the store keeps per body (st_blob_struct_set) so FETCH never
 * parses a message again: the three strings plus a part table that
 * resolves BODY[1.2], BODY[1.2.HEADER], BODY[1.2.TEXT], BODY[1.2.MIME].
 *
 * Typical use at delivery:
 *   msg_struct_t *ms = msg_struct_new(0);   msg_struct_callbacks(ms, &filter_cb, &cb);
 *   ... msg_parser_feed/finish with cb ...
 *   imap_structure_blob(ms, &blob);          st_blob_struct_set(c, id, sl_buf_slice(&blob), ...);
 * and at FETCH:
 *   imap_structure_view(blob, &v);           v.envelope / v.body / v.bodystructure
 *   imap_structure_section(blob, "1.2", IMAP_SECT_TEXT, &off, &len);  then st_body_read(off, len) */
#ifndef IMAP_STRUCTURE_H
#define IMAP_STRUCTURE_H

#include <stdint.h>

#include "message/msg_struct.h"
#include "sl_buf.h"

/* imap_structure_envelope - append the ENVELOPE "(...)" of message part
 * MSG (a part with is_message: 0 for the top level) to OUT. Sender and
 * Reply-To default to From (RFC 3501 §7.4.2). 0, SL_ENOENT (not a message
 * part), SL_ELIMIT (OUT's maximum), SL_ENOMEM. */
int imap_structure_envelope(const msg_struct_t *s, uint32_t msg, sl_buf_t *out);

/* imap_structure_body - append the BODYSTRUCTURE (EXTENDED true: with
 * extension data) or BODY (false) "(...)" of part PART (0: the message) to
 * OUT. Iterative: no recursion on nesting. Same returns. */
int imap_structure_body(const msg_struct_t *s, uint32_t part, bool extended, sl_buf_t *out);

/* imap_structure_blob - the serialized form of S into OUT (appended):
 * ENVELOPE, BODY, BODYSTRUCTURE of the top level and the part table.
 * 0, SL_ELIMIT, SL_ENOMEM, SL_EINVAL (S is empty or truncated). */
int imap_structure_blob(const msg_struct_t *s, sl_buf_t *out);

/* A parsed blob: slices into it, valid as long as the blob. */
typedef struct imap_structure_view {
	sl_slice_t envelope, body, bodystructure;
	uint32_t nparts;
} imap_structure_view_t;

/* imap_structure_view - check BLOB and point V at its strings. 0 or
 * SL_ECORRUPT (wrong magic or version, or lengths that do not add up). */
int imap_structure_view(sl_slice_t blob, imap_structure_view_t *v);

enum imap_sect {
	IMAP_SECT_PART = 0, /* BODY[P]: the part's body (for message/rfc822: the whole message) */
	IMAP_SECT_HEADER,   /* BODY[P.HEADER]: header of the message at P ("" = top level) */
	IMAP_SECT_TEXT,     /* BODY[P.TEXT]: body of the message at P */
	IMAP_SECT_MIME,     /* BODY[P.MIME]: the MIME header of part P */
};

/* imap_structure_section - resolve section PATH (digits and dots, e.g. "1.2";
 * "" for the top level, allowed with HEADER and TEXT only) of KIND to a
 * byte range of the raw message: *OFF_R, *LEN_R. RFC 3501 §6.4.5: part 1 of
 * a non-multipart message is its body; HEADER/TEXT need a message (the top
 * level or a message/rfc822 part). 0, SL_ENOENT (no such part), SL_EINVAL
 * (bad path, or HEADER/TEXT of a part that is not a message, or MIME of
 * ""), SL_ECORRUPT. */
int imap_structure_section(sl_slice_t blob, sl_slice_t path, enum imap_sect kind, uint64_t *off_r,
			   uint64_t *len_r);

#endif
