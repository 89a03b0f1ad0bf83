/* flt_av_mail - an object that is itself a mail message or an mbox
 * (clamscan's "mail" file type): parsed with the streaming MIME parser of
 * filter/message, the same walk the filter uses for incoming mail, and
 * every leaf part's decoded body (base64, quoted-printable, uuencode) is
 * scanned as a member named after its file name. Nested message/rfc822
 * parts are descended by the parser itself, within its own depth and part
 * limits (RFC 2045, RFC 2046). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "av/flt_av_dec.h"
#include "message/msg.h"
#include "sl_err.h"

#define MAIL_SNIFF_MAX (16u * 1024) /* header bytes looked at to call it mail */
#define MAIL_STOP (-1000)           /* our callbacks' "stop", told apart by ctx */

typedef struct mail_ctx {
	av_emit_t *e;
	sl_buf_t body;
	bool toolarge; /* the current part passed the cap */
	int result;    /* 1: verdict reached; <0: scan error */
} mail_ctx_t;

/* Is the line [p, end) a header field "Name: ..." (RFC 5322 §2.2: printable
 * ASCII but colon, then a colon)? */
static bool is_field(const uint8_t *p, const uint8_t *end)
{
	const uint8_t *q = p;

	while (q < end && *q > 32 && *q < 127 && *q != ':')
		q++;
	return q > p && q < end && *q == ':' && q - p <= 76;
}

static bool field_is(const uint8_t *p, const uint8_t *end, const char *name)
{
	size_t n = strlen(name);

	return (size_t)(end - p) > n && strncasecmp((const char *)p, name, n) == 0 && p[n] == ':';
}

/* A message or mbox whose first header block declares MIME structure:
 * an optional mbox "From " line, then header fields (and folded
 * continuations) up to a blank line, among them Content-Type or
 * Content-Transfer-Encoding. A mail without either is one text part, which
 * the scan already saw whole. */
bool av_is_mail(sl_slice_t d)
{
	const uint8_t *p = d.ptr, *end = d.ptr + (d.len < MAIL_SNIFF_MAX ? d.len : MAIL_SNIFF_MAX);
	bool mime = false, first = true;

	if (d.len >= 5 && memcmp(p, "From ", 5) == 0) {
		const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));

		if (nl == NULL)
			return false;
		p = nl + 1;
	}
	while (p < end) {
		const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
		const uint8_t *le = nl != NULL ? nl : end;

		if (le > p && le[-1] == '\r')
			le--;
		if (le == p)
			break; /* the blank line ending the header */
		if (*p == ' ' || *p == '\t') {
			if (first)
				return false;
		} else if (!is_field(p, le)) {
			return false;
		} else if (field_is(p, le, "content-type") || field_is(p, le, "content-transfer-encoding")) {
			mime = true;
		}
		first = false;
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	return mime;
}

static int on_part_begin(void *ctx, const msg_part_t *part)
{
	mail_ctx_t *m = ctx;

	(void)part;
	sl_buf_reset(&m->body);
	m->toolarge = false;
	return 0;
}

static int on_body(void *ctx, const msg_part_t *part, sl_slice_t data)
{
	mail_ctx_t *m = ctx;
	int rc;

	(void)part;
	if (m->toolarge)
		return 0;
	rc = av_emit_append(m->e, &m->body, data.ptr, data.len);
	if (rc != 0) {
		m->result = rc;
		return MAIL_STOP;
	}
	return 0;
}

static int on_part_end(void *ctx, const msg_part_t *part)
{
	mail_ctx_t *m = ctx;
	char name[256], type[128];
	int rc;

	if (part->is_multipart || part->is_rfc822)
		return 0;
	if (part->body_end == part->body_off && m->body.len == 0)
		return 0; /* nothing in it */
	snprintf(name, sizeof(name), "%.*s", (int)(part->filename.len > 250 ? 250 : part->filename.len),
		 part->filename.ptr != NULL ? (const char *)part->filename.ptr : "");
	snprintf(type, sizeof(type), "%.*s/%.*s", (int)(part->type.len > 60 ? 60 : part->type.len),
		 part->type.ptr != NULL ? (const char *)part->type.ptr : "",
		 (int)(part->subtype.len > 60 ? 60 : part->subtype.len),
		 part->subtype.ptr != NULL ? (const char *)part->subtype.ptr : "");
	rc = m->e->member(m->e, name[0] != '\0' ? name : NULL, type, sl_buf_slice(&m->body));
	sl_buf_reset(&m->body);
	if (rc != 0) {
		m->result = rc;
		return MAIL_STOP;
	}
	return 0;
}

/* Parse one message; 0, 1 (verdict) or <0. */
static int parse_one(msg_parser_t *mp, mail_ctx_t *m, sl_slice_t msg)
{
	const char *err;
	int rc;

	msg_parser_reset(mp);
	m->result = 0;
	rc = msg_parser_feed(mp, msg.ptr, msg.len);
	if (rc == 0)
		rc = msg_parser_finish(mp, &err);
	if (m->result != 0)
		return m->result;
	if (rc == SL_ELIMIT) {
		/* the MIME depth or part limit: the parser kept the rest opaque */
		m->e->broken++;
		return 0;
	}
	return rc < 0 ? rc : 0;
}

/* The next mbox message boundary: a line starting "From " after START. */
static size_t next_from(sl_slice_t d, size_t start)
{
	for (size_t i = start; i + 6 <= d.len;) {
		const uint8_t *nl = memchr(d.ptr + i, '\n', d.len - i);

		if (nl == NULL)
			break;
		i = (size_t)(nl - d.ptr) + 1;
		if (i + 5 <= d.len && memcmp(d.ptr + i, "From ", 5) == 0)
			return i;
	}
	return d.len;
}

int av_dec_mail(sl_slice_t d, const char *name, av_emit_t *e)
{
	msg_callbacks_t cb = {0};
	mail_ctx_t m = {.e = e};
	msg_parser_t *mp;
	int rc = 0;

	(void)name;
	cb.ctx = &m;
	cb.part_begin = on_part_begin;
	cb.body = on_body;
	cb.part_end = on_part_end;
	av_emit_buf_init(e, &m.body);
	mp = msg_parser_new(NULL, &cb);
	if (mp == NULL)
		return SL_ENOMEM;
	if (d.len >= 5 && memcmp(d.ptr, "From ", 5) == 0) {
		/* an mbox: one message per "From " line */
		for (size_t off = 0; rc == 0 && off < d.len;) {
			size_t end = next_from(d, off);

			rc = parse_one(mp, &m, sl_slice_make(d.ptr + off, end - off));
			off = end;
		}
	} else {
		rc = parse_one(mp, &m, d);
	}
	msg_parser_free(&mp);
	sl_buf_free(&m.body);
	return rc;
}
