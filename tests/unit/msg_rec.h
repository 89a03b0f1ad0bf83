/* msg_rec - records the events of filter/message's parser as a transcript
 * (shared by test_msg_*.c). Bodies are gathered per part and printed at
 * part_end, so the transcript does not depend on how the input was split. */
#ifndef MSG_REC_H
#define MSG_REC_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "message/msg.h"
#include "sl_buf.h"
#include "sl_err.h"

typedef struct msg_rec {
	sl_buf_t out;               /* the transcript */
	sl_buf_t body, text, raw;   /* of the open leaf */
	int abort_at_part;          /* part_begin of this index returns SL_EINVAL (-1: never) */
	unsigned nurls;
} msg_rec_t;

static void rec_esc(sl_buf_t *o, sl_slice_t s, size_t max)
{
	for (size_t i = 0; i < s.len && i < max; i++) {
		uint8_t c = s.ptr[i];
		if (c == '\n')
			sl_buf_append(o, "\\n", 2);
		else if (c == '\r')
			sl_buf_append(o, "\\r", 2);
		else if (c < ' ' || c == 0x7f)
			sl_buf_printf(o, "\\x%02x", c);
		else
			sl_buf_append(o, &c, 1);
	}
	if (s.len > max)
		sl_buf_printf(o, "...(%zu)", s.len);
}

static int rec_begin(void *ctx, const msg_part_t *pt)
{
	msg_rec_t *r = ctx;

	sl_buf_printf(&r->out, "B [%s] #%u d%u %.*s/%.*s", pt->path, pt->index, pt->depth, (int)pt->type.len,
		      (const char *)pt->type.ptr, (int)pt->subtype.len, (const char *)pt->subtype.ptr);
	if (pt->charset.len)
		sl_buf_printf(&r->out, " cs=%.*s", (int)pt->charset.len, (const char *)pt->charset.ptr);
	sl_buf_printf(&r->out, " cte=%d", (int)pt->cte);
	if (pt->is_message)
		sl_buf_append(&r->out, " msg", 4);
	if (pt->is_multipart)
		sl_buf_append(&r->out, " multi", 6);
	if (pt->is_rfc822)
		sl_buf_append(&r->out, " rfc822", 7);
	if (pt->is_attachment)
		sl_buf_append(&r->out, " att", 4);
	if (pt->filename.len) {
		sl_buf_append(&r->out, " file=", 6);
		rec_esc(&r->out, pt->filename, 200);
	}
	for (uint32_t i = 0; i < pt->nparams; i++) {
		sl_buf_printf(&r->out, " %.*s=", (int)pt->params[i].name.len, (const char *)pt->params[i].name.ptr);
		rec_esc(&r->out, pt->params[i].value, 100);
	}
	sl_buf_printf(&r->out, " @%llu\n", (unsigned long long)pt->header_off);
	sl_buf_reset(&r->body);
	sl_buf_reset(&r->text);
	sl_buf_reset(&r->raw);
	if ((int)pt->index == r->abort_at_part)
		return SL_EINVAL;
	return 0;
}

static int rec_header(void *ctx, const msg_part_t *pt, const msg_header_t *h)
{
	msg_rec_t *r = ctx;

	(void)pt;
	sl_buf_printf(&r->out, "H %.*s: ", (int)h->name.len, (const char *)h->name.ptr);
	rec_esc(&r->out, h->value, 300);
	sl_buf_append(&r->out, "\n", 1);
	return 0;
}

static int rec_body(void *ctx, const msg_part_t *pt, sl_slice_t d)
{
	(void)pt;
	sl_buf_append(&((msg_rec_t *)ctx)->body, d.ptr, d.len);
	return 0;
}

static int rec_text(void *ctx, const msg_part_t *pt, sl_slice_t d)
{
	(void)pt;
	sl_buf_append(&((msg_rec_t *)ctx)->text, d.ptr, d.len);
	return 0;
}

static int rec_raw(void *ctx, const msg_part_t *pt, sl_slice_t d)
{
	(void)pt;
	sl_buf_append(&((msg_rec_t *)ctx)->raw, d.ptr, d.len);
	return 0;
}

static int rec_url(void *ctx, const msg_part_t *pt, sl_slice_t u)
{
	msg_rec_t *r = ctx;

	sl_buf_printf(&r->out, "U [%s] ", pt->path);
	rec_esc(&r->out, u, 300);
	sl_buf_append(&r->out, "\n", 1);
	r->nurls++;
	return 0;
}

static int rec_end(void *ctx, const msg_part_t *pt)
{
	msg_rec_t *r = ctx;

	if (r->body.len || r->raw.len) {
		sl_buf_append(&r->out, "D ", 2);
		rec_esc(&r->out, sl_buf_slice(&r->body), 400);
		sl_buf_append(&r->out, "\n", 1);
		if (r->text.len) {
			sl_buf_append(&r->out, "T ", 2);
			rec_esc(&r->out, sl_buf_slice(&r->text), 400);
			sl_buf_append(&r->out, "\n", 1);
		}
	}
	sl_buf_printf(&r->out, "E [%s] hdr=%llu body=%llu end=%llu lines=%llu raw=%zu anom=%#x\n", pt->path,
		      (unsigned long long)pt->header_off, (unsigned long long)pt->body_off,
		      (unsigned long long)pt->body_end, (unsigned long long)pt->body_lines, r->raw.len,
		      pt->anomalies);
	sl_buf_reset(&r->body);
	sl_buf_reset(&r->text);
	sl_buf_reset(&r->raw);
	return 0;
}

static void rec_init(msg_rec_t *r)
{
	sl_buf_init(&r->out, 64u << 20);
	sl_buf_init(&r->body, 64u << 20);
	sl_buf_init(&r->text, 64u << 20);
	sl_buf_init(&r->raw, 64u << 20);
	r->abort_at_part = -1;
	r->nurls = 0;
}

static void rec_free(msg_rec_t *r)
{
	sl_buf_free(&r->out);
	sl_buf_free(&r->body);
	sl_buf_free(&r->text);
	sl_buf_free(&r->raw);
}

static msg_callbacks_t rec_callbacks(msg_rec_t *r)
{
	msg_callbacks_t cb = {r, rec_begin, rec_header, rec_body, rec_text, rec_raw, rec_url, rec_end};
	return cb;
}

/* rec_parse - parse MSG fed in pieces: SPLIT 0 = whole, 1 = byte by byte,
 * otherwise random pieces of 1..SPLIT bytes from SEED. Appends a final
 * "F rc anom" line. Returns finish's return. */
static int rec_parse(msg_rec_t *r, const msg_limits_t *lim, const void *msg, size_t len, size_t split,
		     unsigned seed)
{
	msg_callbacks_t cb = rec_callbacks(r);
	msg_parser_t *p = msg_parser_new(lim, &cb);
	const uint8_t *d = msg;
	size_t i = 0;
	int rc = 0;
	const char *err = NULL;

	while (i < len && rc == 0) {
		size_t n = len - i;
		if (split == 1)
			n = 1;
		else if (split > 1) {
			seed = seed * 1103515245u + 12345u;
			size_t k = 1 + (seed >> 8) % split;
			if (k < n)
				n = k;
		}
		rc = msg_parser_feed(p, d + i, n);
		i += n;
	}
	if (rc == 0)
		rc = msg_parser_finish(p, &err);
	sl_buf_printf(&r->out, "F %d anom=%#x parts=%u size=%llu%s%s\n", rc, msg_parser_anomalies(p),
		      msg_parser_nparts(p), (unsigned long long)msg_parser_size(p), err ? " " : "",
		      err ? err : "");
	msg_parser_free(&p);
	return rc;
}

#endif
