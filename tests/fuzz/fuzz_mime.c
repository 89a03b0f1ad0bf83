/* fuzz_mime - the streaming MIME parser fed arbitrary messages (libFuzzer).
 *
 * Input: byte 0 picks small or default limits, byte 1 seeds how the
 * message (the rest) is split into feed calls. The message is parsed
 * twice, whole and split, with the structure recorder chained in; the
 * events are hashed (body, text and raw bytes as streams, so piece
 * boundaries do not matter) and must be identical. Invariants: offsets are
 * ordered and inside the message, depth and part counts stay within the
 * limits, a limit hit is reported by finish as SL_ELIMIT; the IMAP
 * blob renders and every section of every part resolves inside the
 * message. The header decoder and the address parser also get the raw
 * input. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap_structure.h"
#include "message/msg.h"
#include "message/msg_struct.h"
#include "sl_err.h"

struct fz {
	uint64_t h, body, text, raw;
	uint64_t size;
	msg_limits_t lim;
};

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const uint8_t *d = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ d[i]) * 1099511628211ull;
	return h;
}

static int fz_begin(void *ctx, const msg_part_t *p)
{
	struct fz *f = ctx;

	if (p->depth > f->lim.max_depth || p->index >= f->lim.max_parts || p->header_off > p->body_off)
		abort();
	f->h = fnv(f->h, "B", 1);
	f->h = fnv(f->h, p->path, strlen(p->path));
	f->h = fnv(f->h, p->type.ptr, p->type.len);
	f->h = fnv(f->h, p->subtype.ptr, p->subtype.len);
	f->h = fnv(f->h, &p->body_off, sizeof(p->body_off));
	for (uint32_t i = 0; i < p->nparams; i++)
		f->h = fnv(f->h, p->params[i].value.ptr, p->params[i].value.len);
	f->h = fnv(f->h, p->filename.ptr, p->filename.len);
	return 0;
}

static int fz_header(void *ctx, const msg_part_t *p, const msg_header_t *hd)
{
	struct fz *f = ctx;

	(void)p;
	f->h = fnv(f->h, "H", 1);
	f->h = fnv(f->h, hd->name.ptr, hd->name.len);
	f->h = fnv(f->h, hd->value.ptr, hd->value.len);
	f->h = fnv(f->h, &hd->offset, sizeof(hd->offset));
	return 0;
}

static int fz_body(void *ctx, const msg_part_t *p, sl_slice_t d)
{
	(void)p;
	((struct fz *)ctx)->body = fnv(((struct fz *)ctx)->body, d.ptr, d.len);
	return 0;
}

static int fz_text(void *ctx, const msg_part_t *p, sl_slice_t d)
{
	(void)p;
	((struct fz *)ctx)->text = fnv(((struct fz *)ctx)->text, d.ptr, d.len);
	return 0;
}

static int fz_raw(void *ctx, const msg_part_t *p, sl_slice_t d)
{
	(void)p;
	((struct fz *)ctx)->raw = fnv(((struct fz *)ctx)->raw, d.ptr, d.len);
	return 0;
}

static int fz_url(void *ctx, const msg_part_t *p, sl_slice_t u)
{
	struct fz *f = ctx;

	(void)p;
	if (u.len == 0 || u.len > f->lim.max_url_bytes)
		abort();
	f->h = fnv(f->h, "U", 1);
	f->h = fnv(f->h, u.ptr, u.len);
	return 0;
}

static int fz_end(void *ctx, const msg_part_t *p)
{
	struct fz *f = ctx;

	if (p->body_off > p->body_end || p->body_end > f->size || p->body_lines > p->body_end - p->body_off)
		abort();
	f->h = fnv(f->h, "E", 1);
	f->h = fnv(f->h, &p->body_end, sizeof(p->body_end));
	f->h = fnv(f->h, &p->body_lines, sizeof(p->body_lines));
	f->h = fnv(f->h, &p->anomalies, sizeof(p->anomalies));
	f->h = fnv(f->h, &f->body, sizeof(f->body));
	f->h = fnv(f->h, &f->text, sizeof(f->text));
	f->h = fnv(f->h, &f->raw, sizeof(f->raw));
	return 0;
}

static uint64_t parse(const msg_limits_t *lim, const uint8_t *d, size_t n, uint32_t seed, int *rc_r)
{
	struct fz f = {1469598103934665603ull, 0, 0, 0, n, *lim};
	msg_callbacks_t chain = {&f, fz_begin, fz_header, fz_body, fz_text, fz_raw, fz_url, fz_end}, cb;
	msg_struct_t *s = msg_struct_new(64 * 1024);
	msg_parser_t *p;
	size_t i = 0;
	int rc = 0;

	if (!s)
		abort();
	msg_struct_callbacks(s, &chain, &cb);
	p = msg_parser_new(lim, &cb);
	if (!p)
		abort();
	while (i < n && rc == 0) {
		size_t k = n - i;
		if (seed) {
			seed = seed * 1103515245u + 12345u;
			size_t want = 1 + (seed >> 16) % 97;
			if (want < k)
				k = want;
		}
		rc = msg_parser_feed(p, d + i, k);
		i += k;
	}
	if (rc == 0)
		rc = msg_parser_finish(p, NULL);
	if (msg_parser_size(p) != n || msg_parser_nparts(p) > lim->max_parts)
		abort();
	if (((msg_parser_anomalies(p) & (MSG_ANOM_DEPTH_LIMIT | MSG_ANOM_PART_LIMIT)) != 0) != (rc == SL_ELIMIT))
		abort();
	/* the structure mirrors the parts (when it had room) */
	if (!msg_struct_truncated(s) && msg_struct_nparts(s) != msg_parser_nparts(p))
		abort();
	for (uint32_t k = 0; k < msg_struct_nparts(s); k++) {
		const msg_snode_t *nd = msg_struct_part(s, k);
		if (nd->body_end < nd->body_off || nd->body_end > n)
			abort();
	}
	/* IMAP: the blob renders, and every section of every part resolves
	 * inside the message */
	if (!msg_struct_truncated(s) && msg_struct_nparts(s) > 0) {
		sl_buf_t blob;
		imap_structure_view_t v;
		sl_buf_init(&blob, 1u << 22);
		int brc = imap_structure_blob(s, &blob);
		if (brc == 0) {
			if (imap_structure_view(sl_buf_slice(&blob), &v) != 0 || v.nparts != msg_struct_nparts(s))
				abort();
			f.h = fnv(f.h, blob.data, blob.len);
			for (uint32_t k = 0; k < msg_struct_nparts(s); k++) {
				sl_slice_t path = msg_struct_str(s, msg_struct_part(s, k)->path);
				for (int kind = IMAP_SECT_PART; kind <= IMAP_SECT_MIME; kind++) {
					uint64_t off = 0, len = 0;
					int r = imap_structure_section(sl_buf_slice(&blob), path, (enum imap_sect)kind,
								       &off, &len);
					if (r == 0 && (off > n || len > n - off))
						abort();
					if (r != 0 && r != SL_EINVAL && r != SL_ENOENT)
						abort();
				}
			}
		} else if (brc != SL_ELIMIT) {
			abort();
		}
		sl_buf_free(&blob);
	}
	f.h = fnv(f.h, &rc, sizeof(rc));
	*rc_r = rc;
	msg_parser_free(&p);
	msg_struct_free(&s);
	return f.h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	msg_limits_t lim;
	int rc1, rc2;

	if (size < 2)
		return 0;
	msg_limits_default(&lim);
	if (data[0] & 1) {
		lim.max_depth = 4;
		lim.max_parts = 8;
		lim.max_headers = 6;
		lim.max_header_bytes = 300;
		lim.max_field_bytes = 100;
		lim.max_params = 3;
		lim.max_urls = 5;
		lim.max_url_bytes = 40;
	}
	uint32_t seed = (uint32_t)data[1] * 2654435761u + 1;
	const uint8_t *m = data + 2;
	size_t n = size - 2;

	uint64_t a = parse(&lim, m, n, 0, &rc1);
	uint64_t b = parse(&lim, m, n, seed, &rc2);
	if (a != b || rc1 != rc2)
		abort();

	/* the header helpers on the raw bytes */
	sl_buf_t out;
	sl_buf_init(&out, 4 * n + 64);
	if (msg_hdr_decode(sl_slice_make(m, n), &out, NULL) < 0)
		abort();
	sl_buf_free(&out);
	msg_addr_t addrs[32];
	uint32_t na;
	sl_buf_init(&out, 4 * n + 4096);
	msg_addr_parse(sl_slice_make(m, n), addrs, 32, &na, &out);
	if (na > 32)
		abort();
	for (uint32_t k = 0; k < na; k++) {
		sl_slice_t f[4] = {addrs[k].name, addrs[k].adl, addrs[k].mailbox, addrs[k].host};
		for (int j = 0; j < 4; j++)
			if (f[j].len && (f[j].ptr < out.data || f[j].ptr + f[j].len > out.data + out.len) &&
			    !(f[j].len == 19 && memcmp(f[j].ptr, ".MISSING-HOST-NAME.", 19) == 0))
				abort();
	}
	sl_buf_free(&out);
	return 0;
}
