/* msg_parser - the streaming MIME parser: one pass over the raw message,
 * a bounded stack of open parts instead of recursion, and a decode
 * pipeline (transfer decoding -> charset -> HTML/URLs) for the one leaf
 * part that is open at a time.
 *
 * Line ends: CRLF or bare LF. Per RFC 2046 §5.1.1 the line end before a
 * delimiter line belongs to the delimiter, so it is held back ("pending
 * newline") until the next line is known not to be a delimiter. Only lines
 * that start with '-' are buffered (up to LB_MAX bytes); everything else
 * goes through as slices of the caller's chunk. */
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "message/msg_private.h"
#include "sl_err.h"

#define LB_MAX (2 + MSG_BOUNDARY_MAX + 2 + 64) /* "--" boundary "--" + blanks */
#define DEC_CHUNK 4096                         /* raw bytes decoded per step */
#define UTF_CHUNK 8192                         /* bytes converted per iconv step */

enum pstate { P_HDR, P_BOL, P_LB, P_MID };

enum fmode {
	F_HDR,   /* reading its header block */
	F_LEAF,  /* a leaf body: decoded */
	F_PRE,   /* multipart preamble */
	F_IN,    /* multipart or message/rfc822 with a child open */
	F_SKIP,  /* multipart over the part limit: ignoring to the next delimiter */
	F_EPI,   /* multipart epilogue */
};

struct msg_frame {
	msg_part_t part;
	sl_buf_t strs; /* the part's strings */
	msg_param_off_t *poff, *dpoff;
	msg_param_t *params, *dparams;
	uint32_t nchildren;
	uint8_t mode;
	bool active; /* boundary in force */
	bool seen_delim;
	bool digest; /* multipart/digest: children default to message/rfc822 */
	uint64_t body_lfs;
	uint32_t blen;
	uint8_t boundary[MSG_BOUNDARY_MAX];
};

struct msg_parser {
	msg_limits_t lim;
	msg_callbacks_t cb;
	struct msg_frame *fr;
	uint32_t nfr;
	char *paths;
	size_t pathcap;
	uint32_t nactive;

	uint64_t base; /* offset of the current chunk's first byte */
	uint64_t lfs;  /* LFs consumed */
	uint32_t nparts, nurls;
	uint32_t anom;
	const char *limit_err;
	bool finished, stopped;
	uint8_t st;

	/* header block of the part being read */
	sl_buf_t hdr;
	bool hdr_trunc;
	uint64_t hline_len;
	sl_buf_t fld, fdec;

	/* line-start buffer */
	uint8_t lb[LB_MAX];
	uint32_t nlb;
	uint64_t lb_off, lb_lfs;

	/* pending line end */
	uint8_t nl_len;
	bool pending_cr;
	uint64_t nl_off, nl_lfs, cr_off;

	/* leaf decoding */
	msg_b64_t b64;
	msg_qp_t qp;
	msg_uu_t uu;
	uint8_t cs_kind;
	bool html;
	iconv_t cd;
	uint8_t carry[16];
	uint32_t ncarry;
	msg_iconv_cache_t ic;
	sl_buf_t utf;
	uint64_t last_url;
	uint8_t dec[DEC_CHUNK + 256];
	msg_html_t hs;
	msg_urlscan_t us;
};

static const char *const anom_names[] = {
	"bad_base64", "bad_qp", "bad_uuencode", "missing_boundary", "bad_boundary",
	"no_close_boundary", "no_parts", "bad_encoded_word", "charset_unknown", "charset_invalid",
	"8bit_header", "bad_header", "header_limit", "depth_limit", "part_limit", "url_limit",
	"bad_cte", "bad_content_type", "dup_header", "encoded_rfc822", "nul", "truncated",
	"bad_param",
};

const char *msg_anomaly_name(uint32_t bit)
{
	for (unsigned i = 0; i < sizeof(anom_names) / sizeof(anom_names[0]); i++)
		if (bit == (1u << i))
			return anom_names[i];
	return "unknown";
}

void msg_limits_default(msg_limits_t *l)
{
	l->max_depth = 32;
	l->max_parts = 500;
	l->max_headers = 512;
	l->max_header_bytes = 256 * 1024;
	l->max_field_bytes = 64 * 1024;
	l->max_params = 64;
	l->max_urls = 1000;
	l->max_url_bytes = 2048;
}

static void flag(msg_parser_t *p, struct msg_frame *f, uint32_t bits)
{
	if (f)
		f->part.anomalies |= bits;
	p->anom |= bits;
}

static struct msg_frame *top(msg_parser_t *p)
{
	return p->nfr ? &p->fr[p->nfr - 1] : NULL;
}

msg_parser_t *msg_parser_new(const msg_limits_t *limits, const msg_callbacks_t *cb)
{
	msg_parser_t *p = calloc(1, sizeof(*p));
	msg_limits_t d;

	if (!p)
		return NULL;
	msg_limits_default(&d);
	p->lim = d;
	if (limits) {
#define TAKE(x) p->lim.x = limits->x ? limits->x : d.x
		TAKE(max_depth);
		TAKE(max_parts);
		TAKE(max_headers);
		TAKE(max_header_bytes);
		TAKE(max_field_bytes);
		TAKE(max_params);
		TAKE(max_urls);
		TAKE(max_url_bytes);
#undef TAKE
	}
	if (p->lim.max_depth > 1000)
		p->lim.max_depth = 1000;
	if (p->lim.max_url_bytes > 2048)
		p->lim.max_url_bytes = 2048;
	if (p->lim.max_params > 1024)
		p->lim.max_params = 1024;
	if (cb)
		p->cb = *cb;
	p->fr = calloc(p->lim.max_depth + 1, sizeof(*p->fr));
	p->pathcap = 12 * (size_t)(p->lim.max_depth + 1) + 1;
	p->paths = calloc(p->lim.max_depth + 1, p->pathcap);
	if (!p->fr || !p->paths) {
		msg_parser_free(&p);
		return NULL;
	}
	for (uint32_t i = 0; i <= p->lim.max_depth; i++) {
		sl_buf_init(&p->fr[i].strs, 2 * (size_t)p->lim.max_header_bytes + 4096);
		p->fr[i].part.path = p->paths + i * p->pathcap;
	}
	sl_buf_init(&p->hdr, p->lim.max_header_bytes);
	sl_buf_init(&p->fld, p->lim.max_field_bytes);
	sl_buf_init(&p->fdec, 4 * (size_t)p->lim.max_field_bytes + 64);
	sl_buf_init(&p->utf, 4 * UTF_CHUNK + 256);
	msg_parser_reset(p);
	return p;
}

static int part_push(msg_parser_t *p, uint64_t header_off, bool is_message);

void msg_parser_reset(msg_parser_t *p)
{
	p->nfr = 0;
	p->nactive = 0;
	p->base = 0;
	p->lfs = 0;
	p->nparts = 0;
	p->nurls = 0;
	p->anom = 0;
	p->limit_err = NULL;
	p->finished = false;
	p->stopped = false;
	p->nlb = 0;
	p->nl_len = 0;
	p->pending_cr = false;
	p->hline_len = 0;
	p->hdr_trunc = false;
	sl_buf_reset(&p->hdr);
	part_push(p, 0, true); /* the root: always room for it */
	p->st = P_HDR;
}

void msg_parser_free(msg_parser_t **pp)
{
	msg_parser_t *p = *pp;

	if (!p)
		return;
	if (p->fr) {
		for (uint32_t i = 0; i <= p->lim.max_depth; i++) {
			sl_buf_free(&p->fr[i].strs);
			free(p->fr[i].poff);
			free(p->fr[i].dpoff);
			free(p->fr[i].params);
			free(p->fr[i].dparams);
		}
	}
	free(p->fr);
	free(p->paths);
	sl_buf_free(&p->hdr);
	sl_buf_free(&p->fld);
	sl_buf_free(&p->fdec);
	sl_buf_free(&p->utf);
	msg_iconv_cache_free(&p->ic);
	free(p);
	*pp = NULL;
}

uint32_t msg_parser_anomalies(const msg_parser_t *p)
{
	return p->anom;
}

uint32_t msg_parser_nparts(const msg_parser_t *p)
{
	return p->nparts;
}

uint64_t msg_parser_size(const msg_parser_t *p)
{
	return p->base;
}

/* A new part on top of the stack, reading its header. The caller checked
 * the depth and part limits (the root is always allowed). */
static int part_push(msg_parser_t *p, uint64_t header_off, bool is_message)
{
	struct msg_frame *parent = top(p);
	struct msg_frame *f = &p->fr[p->nfr];
	char *path = (char *)f->part.path;

	memset(&f->part, 0, sizeof(f->part));
	f->part.path = path;
	sl_buf_reset(&f->strs);
	f->nchildren = 0;
	f->mode = F_HDR;
	f->active = false;
	f->seen_delim = false;
	f->digest = false;
	f->blen = 0;
	f->part.index = p->nparts++;
	f->part.header_off = header_off;
	f->part.is_message = is_message;
	if (!parent) {
		f->part.parent = UINT32_MAX;
		path[0] = 0;
	} else {
		f->part.parent = parent->part.index;
		f->part.depth = parent->part.depth + 1;
		if (is_message) {
			memcpy(path, parent->part.path, strlen(parent->part.path) + 1);
		} else {
			parent->nchildren++;
			snprintf(path, p->pathcap, parent->part.path[0] ? "%s.%u" : "%s%u", parent->part.path,
				 parent->nchildren);
		}
	}
	p->nfr++;
	sl_buf_reset(&p->hdr);
	p->hdr_trunc = false;
	p->hline_len = 0;
	p->nlb = 0;
	return 0;
}

/* --- URLs and text ----------------------------------------------------- */

static int url_found(void *ctx, const uint8_t *u, size_t n)
{
	msg_parser_t *p = ctx;
	struct msg_frame *f = top(p);
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ u[i]) * 1099511628211ull;
	if (h == p->last_url)
		return 0; /* href="x">x</a>: once */
	p->last_url = h;
	if (p->nurls >= p->lim.max_urls) {
		flag(p, f, MSG_ANOM_URL_LIMIT);
		return 0;
	}
	p->nurls++;
	return p->cb.url ? p->cb.url(p->cb.ctx, &f->part, sl_slice_make(u, n)) : 0;
}

static int text_out(void *ctx, const uint8_t *d, size_t n)
{
	msg_parser_t *p = ctx;
	int rc = 0;

	if (p->cb.text)
		rc = p->cb.text(p->cb.ctx, &top(p)->part, sl_slice_make(d, n));
	/* no url callback (IMAP's structure and SEARCH): no URL scan */
	if (rc >= 0 && p->cb.url != NULL)
		rc = msg_urlscan_feed(&p->us, d, n, url_found, p);
	return rc;
}

/* UTF-8 (or passed-through) text of a text part. */
static int leaf_utf8(msg_parser_t *p, const uint8_t *d, size_t n)
{
	struct msg_frame *f = top(p);
	int rc = 0;

	if (n == 0)
		return 0;
	if (p->cb.body)
		rc = p->cb.body(p->cb.ctx, &f->part, sl_slice_make(d, n));
	if (rc < 0)
		return rc;
	if (p->html)
		return msg_html_feed(&p->hs, d, n, text_out, url_found, p);
	return text_out(p, d, n);
}

static int conv_run(msg_parser_t *p, const uint8_t *d, size_t n, bool final, size_t *used_r)
{
	uint32_t a = 0;
	int rc;

	sl_buf_reset(&p->utf);
	rc = msg_iconv_run(p->cd, d, n, final, &p->utf, used_r, &a);
	if (a)
		flag(p, top(p), a);
	if (rc < 0)
		return rc;
	return leaf_utf8(p, p->utf.data, p->utf.len);
}

/* Transfer-decoded bytes of a leaf. */
static int leaf_dec(msg_parser_t *p, const uint8_t *d, size_t n)
{
	struct msg_frame *f = top(p);
	int rc;

	if (n == 0)
		return 0;
	if (!f->part.is_text)
		return p->cb.body ? p->cb.body(p->cb.ctx, &f->part, sl_slice_make(d, n)) : 0;
	if (p->cs_kind != MSG_CS_ICONV)
		return leaf_utf8(p, d, n);
	/* an incomplete multibyte sequence held from the last call */
	if (p->ncarry) {
		uint8_t tmp[32];
		size_t take = n < 16 ? n : 16, used = 0, old = p->ncarry;
		memcpy(tmp, p->carry, old);
		memcpy(tmp + old, d, take);
		if ((rc = conv_run(p, tmp, old + take, false, &used)) < 0)
			return rc;
		if (used <= old && old + take <= sizeof(p->carry) && take == n) {
			/* still incomplete, and that was all the input: keep waiting */
			memcpy(p->carry, tmp, old + take);
			p->ncarry = (uint32_t)(old + take);
			return 0;
		}
		if (used <= old) {
			/* still incomplete with 16 more bytes: not a real sequence */
			p->ncarry = 0;
			if ((rc = conv_run(p, tmp, old, true, NULL)) < 0)
				return rc;
			used = old;
		}
		p->ncarry = 0;
		d += used - old;
		n -= used - old;
	}
	while (n > 0) {
		size_t step = n < UTF_CHUNK ? n : UTF_CHUNK, used = 0;
		if ((rc = conv_run(p, d, step, false, &used)) < 0)
			return rc;
		if (used < step && step == n) {
			size_t left = step - used;
			if (left > sizeof(p->carry)) {
				if ((rc = conv_run(p, d + used, left, true, NULL)) < 0)
					return rc;
			} else {
				memcpy(p->carry, d + used, left);
				p->ncarry = (uint32_t)left;
			}
			break;
		}
		if (used == 0)
			used = step; /* cannot happen with final=false unless a lone fragment: skip */
		d += used;
		n -= used;
	}
	return 0;
}

/* Raw body bytes of a leaf. */
static int leaf_raw(msg_parser_t *p, const uint8_t *d, size_t n)
{
	struct msg_frame *f = top(p);
	uint32_t a = 0;
	int rc = 0;

	if (n == 0)
		return 0;
	if (p->cb.rawbody && (rc = p->cb.rawbody(p->cb.ctx, &f->part, sl_slice_make(d, n))) < 0)
		return rc;
	switch (f->part.cte) {
	case MSG_CTE_BASE64:
	case MSG_CTE_QP:
	case MSG_CTE_UUENCODE:
		while (n > 0 && rc >= 0) {
			size_t step = n < DEC_CHUNK ? n : DEC_CHUNK, k;
			if (f->part.cte == MSG_CTE_BASE64)
				k = msg_b64_decode(&p->b64, d, step, p->dec, &a);
			else if (f->part.cte == MSG_CTE_QP)
				k = msg_qp_decode(&p->qp, d, step, p->dec, &a);
			else
				k = msg_uu_decode(&p->uu, d, step, p->dec, &a);
			rc = leaf_dec(p, p->dec, k);
			d += step;
			n -= step;
		}
		break;
	default:
		rc = leaf_dec(p, d, n);
		break;
	}
	if (a)
		flag(p, f, a);
	return rc;
}

static void leaf_init(msg_parser_t *p, struct msg_frame *f)
{
	char name[MSG_CHARSET_NAME_MAX + 1];

	memset(&p->b64, 0, sizeof(p->b64));
	memset(&p->qp, 0, sizeof(p->qp));
	p->uu.len = 0;
	p->uu.state = 0;
	p->uu.overlong = false;
	p->ncarry = 0;
	p->last_url = 0;
	p->html = false;
	p->cs_kind = MSG_CS_UTF8;
	if (!f->part.is_text)
		return;
	p->cs_kind = msg_charset_canon(f->part.charset, name);
	if (p->cs_kind == MSG_CS_ICONV) {
		p->cd = msg_iconv_get(&p->ic, name);
		if (p->cd == (iconv_t)-1)
			p->cs_kind = MSG_CS_UNKNOWN;
	}
	if (p->cs_kind == MSG_CS_UNKNOWN)
		flag(p, f, MSG_ANOM_CHARSET_UNKNOWN);
	p->html = f->part.subtype.len == 4 && memcmp(f->part.subtype.ptr, "html", 4) == 0;
	if (p->html)
		msg_html_init(&p->hs, p->lim.max_url_bytes);
	msg_urlscan_init(&p->us, p->lim.max_url_bytes);
}

static int leaf_flush(msg_parser_t *p, struct msg_frame *f)
{
	uint32_t a = 0;
	uint8_t tail[256];
	size_t k = 0;
	int rc = 0;

	if (f->part.cte == MSG_CTE_QP)
		k = msg_qp_flush(&p->qp, tail, &a);
	else if (f->part.cte == MSG_CTE_UUENCODE)
		k = msg_uu_flush(&p->uu, tail, &a);
	else if (f->part.cte == MSG_CTE_BASE64 && p->b64.nbits >= 6)
		a |= MSG_ANOM_BAD_BASE64; /* a dangling sextet */
	if (a)
		flag(p, f, a);
	if ((rc = leaf_dec(p, tail, k)) < 0)
		return rc;
	if (!f->part.is_text)
		return 0;
	if (p->cs_kind == MSG_CS_ICONV && p->ncarry) {
		uint32_t n = p->ncarry;
		p->ncarry = 0;
		if ((rc = conv_run(p, p->carry, n, true, NULL)) < 0)
			return rc;
	}
	if (p->html && (rc = msg_html_flush(&p->hs, text_out, url_found, p)) < 0)
		return rc;
	return p->cb.url != NULL ? msg_urlscan_flush(&p->us, url_found, p) : 0;
}

/* Body bytes at the current position: only a leaf uses them. */
static int emit(msg_parser_t *p, const uint8_t *d, size_t n)
{
	struct msg_frame *f = top(p);

	if (n == 0 || f->mode != F_LEAF)
		return 0;
	return leaf_raw(p, d, n);
}

static int flush_nl(msg_parser_t *p)
{
	int rc = 0;

	if (p->nl_len)
		rc = emit(p, (const uint8_t *)"\r\n" + (2 - p->nl_len), p->nl_len);
	p->nl_len = 0;
	return rc;
}

/* --- closing parts ----------------------------------------------------- */

static int hdr_complete(msg_parser_t *p, uint64_t body_off, uint64_t body_lfs);

static int frame_close(msg_parser_t *p, uint64_t end, uint64_t end_lfs)
{
	struct msg_frame *f = top(p);
	int rc = 0;

	/* a part whose header never ended (a delimiter or the end of input came
	 * first) is reported with what it has, then closed */
	while (f->mode == F_HDR) {
		if ((rc = hdr_complete(p, end, end_lfs)) < 0)
			return rc;
		f = top(p);
	}
	if (f->mode == F_LEAF && (rc = leaf_flush(p, f)) < 0)
		return rc;
	if (f->active) {
		flag(p, f, MSG_ANOM_NO_CLOSE_BOUNDARY);
		f->active = false;
		p->nactive--;
	}
	if ((f->mode == F_PRE || f->mode == F_EPI || f->mode == F_IN || f->mode == F_SKIP) &&
	    f->part.is_multipart && !f->seen_delim)
		flag(p, f, MSG_ANOM_NO_PARTS);
	f->part.body_end = end < f->part.body_off ? f->part.body_off : end;
	f->part.body_lines = end_lfs > f->body_lfs ? end_lfs - f->body_lfs : 0;
	if (p->cb.part_end)
		rc = p->cb.part_end(p->cb.ctx, &f->part);
	p->nfr--;
	return rc;
}

/* --- header block ------------------------------------------------------ */

/* The next field of the stored header block from *POS: NAME points into
 * the block, the unfolded value is in p->fld. false at the end. */
static bool hdr_next(msg_parser_t *p, size_t *pos, sl_slice_t *name, size_t *foff, struct msg_frame *f)
{
	const uint8_t *h = p->hdr.data;
	size_t n = p->hdr.len, i = *pos;

	while (i < n) {
		size_t le = i;
		while (le < n && h[le] != '\n')
			le++;
		size_t line_end = le < n ? le + 1 : n;
		size_t ce = le;
		if (ce > i && h[ce - 1] == '\r')
			ce--;
		if (ce == i) {
			*pos = n; /* the blank line */
			return false;
		}
		if (msg_is_wsp(h[i])) {
			flag(p, f, MSG_ANOM_BAD_HEADER); /* continuation of nothing */
			i = line_end;
			continue;
		}
		const uint8_t *colon = memchr(h + i, ':', ce - i);
		size_t ne = colon ? (size_t)(colon - h) : i;
		while (ne > i && msg_is_wsp(h[ne - 1]))
			ne--;
		bool ok = colon && ne > i;
		for (size_t k = i; ok && k < ne; k++)
			if (h[k] <= ' ' || h[k] >= 0x7f)
				ok = false;
		if (!ok) {
			/* not a field (an mbox "From " line, junk): skip it and its continuations */
			flag(p, f, MSG_ANOM_BAD_HEADER);
			i = line_end;
			while (i < n && msg_is_wsp(h[i])) {
				while (i < n && h[i] != '\n')
					i++;
				i++;
			}
			continue;
		}
		*name = sl_slice_make(h + i, ne - i);
		*foff = i;
		sl_buf_reset(&p->fld);
		size_t vs = (size_t)(colon - h) + 1, ve = ce;
		bool over = false;
		for (;;) {
			if (!over && sl_buf_append(&p->fld, h + vs, ve - vs) < 0) {
				size_t room = p->fld.max - p->fld.len;
				sl_buf_append(&p->fld, h + vs, room);
				over = true;
				flag(p, f, MSG_ANOM_HEADER_LIMIT);
			}
			i = line_end;
			if (i >= n || !msg_is_wsp(h[i]))
				break;
			/* folded: the next line, CRLF removed, whitespace kept */
			le = i;
			while (le < n && h[le] != '\n')
				le++;
			line_end = le < n ? le + 1 : n;
			ce = le;
			if (ce > i && h[ce - 1] == '\r')
				ce--;
			vs = i;
			ve = ce;
		}
		*pos = i;
		return true;
	}
	*pos = n;
	return false;
}

static sl_slice_t trim(sl_slice_t s)
{
	while (s.len && (msg_is_wsp(s.ptr[0]) || s.ptr[0] == '\r' || s.ptr[0] == '\n')) {
		s.ptr++;
		s.len--;
	}
	while (s.len && (msg_is_wsp(s.ptr[s.len - 1]) || s.ptr[s.len - 1] == '\r' || s.ptr[s.len - 1] == '\n'))
		s.len--;
	return s;
}

typedef struct soff {
	uint32_t off, len;
	bool set;
} soff_t;

static void put_str(struct msg_frame *f, soff_t *o, const void *d, size_t n, bool lower)
{
	o->off = (uint32_t)f->strs.len;
	o->len = 0;
	o->set = true;
	if (sl_buf_append(&f->strs, d, n) < 0 || sl_buf_append(&f->strs, "", 1) < 0) {
		o->set = false;
		return;
	}
	o->len = (uint32_t)n;
	if (lower)
		for (size_t k = 0; k < n; k++)
			f->strs.data[o->off + k] = msg_lower(f->strs.data[o->off + k]);
}

static sl_slice_t sl_of(struct msg_frame *f, const soff_t *o)
{
	if (!o->set)
		return (sl_slice_t){NULL, 0};
	return sl_slice_make(f->strs.data + o->off, o->len);
}

static bool slice_is(sl_slice_t s, const char *lit)
{
	return sl_slice_eq_nocase(s, lit);
}

static int lazy_params(struct msg_frame *f, uint32_t maxp)
{
	if (!f->poff) {
		f->poff = calloc(maxp, sizeof(*f->poff));
		f->dpoff = calloc(maxp, sizeof(*f->dpoff));
		f->params = calloc(maxp, sizeof(*f->params));
		f->dparams = calloc(maxp, sizeof(*f->dparams));
		if (!f->poff || !f->dpoff || !f->params || !f->dparams)
			return SL_ENOMEM;
	}
	return 0;
}

static bool boundary_in_use(msg_parser_t *p, const uint8_t *b, size_t n)
{
	for (uint32_t i = 0; i + 1 < p->nfr; i++)
		if (p->fr[i].active && p->fr[i].blen == n && memcmp(p->fr[i].boundary, b, n) == 0)
			return true;
	return false;
}

/* The header block of the top part is complete: work out what the part is,
 * report it, and set up its body. */
static int hdr_complete(msg_parser_t *p, uint64_t body_off, uint64_t body_lfs)
{
	struct msg_frame *f = top(p);
	struct msg_frame *parent = p->nfr > 1 ? &p->fr[p->nfr - 2] : NULL;
	msg_part_t *pt = &f->part;
	soff_t o_type = {0}, o_sub = {0}, o_cte = {0}, o_disp = {0}, o_id = {0}, o_desc = {0}, o_md5 = {0},
	       o_lang = {0}, o_loc = {0};
	msg_ctype_t ct = {0}, cd = {0};
	bool have_ct = false, have_cd = false, have_cte = false;
	uint32_t a = 0, nfields = 0;
	size_t pos = 0, foff;
	sl_slice_t name;
	int rc;

	pt->body_off = body_off;
	f->body_lfs = body_lfs;
	if ((rc = lazy_params(f, p->lim.max_params)) < 0)
		return rc;

	/* pass 1: the MIME fields */
	while (hdr_next(p, &pos, &name, &foff, f)) {
		if (++nfields > p->lim.max_headers) {
			flag(p, f, MSG_ANOM_HEADER_LIMIT);
			break;
		}
		if (name.len < 8 || strncasecmp((const char *)name.ptr, "content-", 8) != 0)
			continue;
		sl_slice_t v = trim(sl_buf_slice(&p->fld));
		if (slice_is(name, "content-type")) {
			if (have_ct) {
				flag(p, f, MSG_ANOM_DUP_HEADER);
				continue;
			}
			have_ct = true;
			if (msg_ctype_parse(v, true, &ct, &f->strs, f->poff, p->lim.max_params, &a) < 0) {
				flag(p, f, MSG_ANOM_BAD_CONTENT_TYPE);
				ct.nparams = 0;
				have_ct = false;
				continue;
			}
			put_str(f, &o_type, ct.type.ptr, ct.type.len, true);
			put_str(f, &o_sub, ct.subtype.ptr, ct.subtype.len, true);
		} else if (slice_is(name, "content-transfer-encoding")) {
			if (have_cte) {
				flag(p, f, MSG_ANOM_DUP_HEADER);
				continue;
			}
			have_cte = true;
			put_str(f, &o_cte, v.ptr, v.len, false);
		} else if (slice_is(name, "content-disposition")) {
			if (have_cd) {
				flag(p, f, MSG_ANOM_DUP_HEADER);
				continue;
			}
			if (msg_ctype_parse(v, false, &cd, &f->strs, f->dpoff, p->lim.max_params, &a) == 0) {
				have_cd = true;
				put_str(f, &o_disp, cd.type.ptr, cd.type.len, true);
			}
		} else if (slice_is(name, "content-id")) {
			put_str(f, &o_id, v.ptr, v.len, false);
		} else if (slice_is(name, "content-description")) {
			put_str(f, &o_desc, v.ptr, v.len, false);
		} else if (slice_is(name, "content-md5")) {
			put_str(f, &o_md5, v.ptr, v.len, false);
		} else if (slice_is(name, "content-language")) {
			put_str(f, &o_lang, v.ptr, v.len, false);
		} else if (slice_is(name, "content-location")) {
			put_str(f, &o_loc, v.ptr, v.len, false);
		}
	}
	if (a)
		flag(p, f, a);

	/* a lowercased copy of the charset (the parameter keeps its case for
	 * BODYSTRUCTURE); copied out first, as the append may move strs */
	soff_t o_cs = {0};
	for (uint32_t k = 0; have_ct && k < ct.nparams; k++) {
		const msg_param_off_t *q = &f->poff[k];
		uint8_t tmp[MSG_CHARSET_NAME_MAX + 8];
		if (q->name_len == 7 && memcmp(f->strs.data + q->name_off, "charset", 7) == 0 &&
		    q->val_len <= sizeof(tmp)) {
			memcpy(tmp, f->strs.data + q->val_off, q->val_len);
			put_str(f, &o_cs, tmp, q->val_len, true);
			break;
		}
	}

	/* the strings are complete: slices from here on stay valid */
	if (have_ct) {
		pt->type = sl_of(f, &o_type);
		pt->subtype = sl_of(f, &o_sub);
		for (uint32_t k = 0; k < ct.nparams; k++) {
			f->params[k].name = sl_slice_make(f->strs.data + f->poff[k].name_off, f->poff[k].name_len);
			f->params[k].value = sl_slice_make(f->strs.data + f->poff[k].val_off, f->poff[k].val_len);
		}
		pt->params = f->params;
		pt->nparams = ct.nparams;
	}
	if (!have_ct || !pt->type.len || !pt->subtype.len) {
		bool digest = parent && parent->digest;
		pt->type = digest ? SL_SLICE_LIT("message") : SL_SLICE_LIT("text");
		pt->subtype = digest ? SL_SLICE_LIT("rfc822") : SL_SLICE_LIT("plain");
	}
	for (uint32_t k = 0; k < pt->nparams; k++) {
		if (slice_is(pt->params[k].name, "charset"))
			continue;
		else if (slice_is(pt->params[k].name, "boundary"))
			pt->boundary = pt->params[k].value;
		else if (slice_is(pt->params[k].name, "name") && !pt->filename.len)
			pt->filename = pt->params[k].value;
	}
	pt->charset = sl_of(f, &o_cs);
	if (have_cd) {
		pt->disp_type = sl_of(f, &o_disp);
		for (uint32_t k = 0; k < cd.nparams; k++) {
			f->dparams[k].name = sl_slice_make(f->strs.data + f->dpoff[k].name_off, f->dpoff[k].name_len);
			f->dparams[k].value = sl_slice_make(f->strs.data + f->dpoff[k].val_off, f->dpoff[k].val_len);
			if (slice_is(f->dparams[k].name, "filename") && f->dparams[k].value.len)
				pt->filename = f->dparams[k].value;
		}
		pt->disp_params = f->dparams;
		pt->ndisp_params = cd.nparams;
		pt->disp = slice_is(pt->disp_type, "inline")       ? MSG_DISP_INLINE
			   : slice_is(pt->disp_type, "attachment") ? MSG_DISP_ATTACHMENT
								   : MSG_DISP_OTHER;
	}
	pt->cte_raw = sl_of(f, &o_cte);
	pt->cte = MSG_CTE_7BIT;
	if (o_cte.set) {
		sl_slice_t c = trim(pt->cte_raw);
		/* a comment or parameters after the token: ignore them */
		size_t k = 0;
		while (k < c.len && c.ptr[k] != ' ' && c.ptr[k] != '\t' && c.ptr[k] != '(' && c.ptr[k] != ';')
			k++;
		c.len = k;
		if (slice_is(c, "7bit") || c.len == 0)
			pt->cte = MSG_CTE_7BIT;
		else if (slice_is(c, "8bit"))
			pt->cte = MSG_CTE_8BIT;
		else if (slice_is(c, "binary"))
			pt->cte = MSG_CTE_BINARY;
		else if (slice_is(c, "quoted-printable"))
			pt->cte = MSG_CTE_QP;
		else if (slice_is(c, "base64"))
			pt->cte = MSG_CTE_BASE64;
		else if (slice_is(c, "x-uuencode") || slice_is(c, "x-uue") || slice_is(c, "uuencode") ||
			 slice_is(c, "uue"))
			pt->cte = MSG_CTE_UUENCODE;
		else {
			pt->cte = MSG_CTE_UNKNOWN;
			flag(p, f, MSG_ANOM_BAD_CTE);
		}
	}
	pt->content_id = sl_of(f, &o_id);
	pt->description = sl_of(f, &o_desc);
	pt->md5 = sl_of(f, &o_md5);
	pt->language = sl_of(f, &o_lang);
	pt->location = sl_of(f, &o_loc);

	/* what kind of part */
	bool is_multi = slice_is(pt->type, "multipart");
	bool is_msg = slice_is(pt->type, "message") &&
		      (slice_is(pt->subtype, "rfc822") || slice_is(pt->subtype, "global"));
	if (is_multi) {
		sl_slice_t b = pt->boundary;
		if (!b.len) {
			flag(p, f, MSG_ANOM_MISSING_BOUNDARY);
			is_multi = false;
		} else if (b.len > MSG_BOUNDARY_MAX || boundary_in_use(p, b.ptr, b.len)) {
			flag(p, f, MSG_ANOM_BAD_BOUNDARY);
			is_multi = false;
		} else if (b.len > MSG_BOUNDARY_RFC_MAX) {
			flag(p, f, MSG_ANOM_BAD_BOUNDARY); /* longer than RFC 2046 allows; used anyway */
		}
		if (!is_multi) {
			/* what clients show for an unusable multipart: its text */
			pt->type = SL_SLICE_LIT("text");
			pt->subtype = SL_SLICE_LIT("plain");
		}
	}
	if (is_msg && pt->cte != MSG_CTE_7BIT && pt->cte != MSG_CTE_8BIT && pt->cte != MSG_CTE_BINARY) {
		flag(p, f, MSG_ANOM_ENCODED_RFC822); /* RFC 2046 §5.2.1 forbids it; kept as a leaf */
		is_msg = false;
	}
	if ((is_multi || is_msg) && pt->depth >= p->lim.max_depth) {
		flag(p, f, MSG_ANOM_DEPTH_LIMIT);
		p->limit_err = "MIME nesting depth limit exceeded";
		is_multi = is_msg = false;
	}
	if (is_msg && p->nparts >= p->lim.max_parts) {
		flag(p, f, MSG_ANOM_PART_LIMIT);
		p->limit_err = "MIME part count limit exceeded";
		is_msg = false;
	}
	pt->is_multipart = is_multi;
	pt->is_rfc822 = is_msg;
	pt->is_text = !is_multi && !is_msg && slice_is(pt->type, "text");
	pt->is_attachment = !is_multi && (pt->disp == MSG_DISP_ATTACHMENT || pt->filename.len > 0 ||
					  (!is_msg && !pt->is_text));

	if (p->cb.part_begin && (rc = p->cb.part_begin(p->cb.ctx, pt)) < 0)
		return rc;
	/* pass 2: every field, decoded */
	if (p->cb.header) {
		pos = 0;
		nfields = 0;
		while (hdr_next(p, &pos, &name, &foff, f)) {
			if (++nfields > p->lim.max_headers)
				break;
			msg_header_t h;
			a = 0;
			sl_buf_reset(&p->fdec);
			h.raw_value = trim(sl_buf_slice(&p->fld));
			if (msg_hdr_decode(h.raw_value, &p->fdec, &a) < 0)
				flag(p, f, MSG_ANOM_HEADER_LIMIT);
			if (a)
				flag(p, f, a);
			h.name = name;
			h.value = sl_buf_slice(&p->fdec);
			h.offset = pt->header_off + foff;
			if ((rc = p->cb.header(p->cb.ctx, pt, &h)) < 0)
				return rc;
		}
	} else {
		/* still flag 8-bit headers and bad words for the rule engine */
		pos = 0;
		nfields = 0;
		while (hdr_next(p, &pos, &name, &foff, f) && ++nfields <= p->lim.max_headers) {
			const uint8_t *v = p->fld.data;
			bool interesting = false;
			for (size_t k = 0; k < p->fld.len && !interesting; k++)
				interesting = (v[k] & 0x80) || (v[k] == '=' && k + 1 < p->fld.len && v[k + 1] == '?');
			if (interesting) {
				a = 0;
				sl_buf_reset(&p->fdec);
				msg_hdr_decode(sl_buf_slice(&p->fld), &p->fdec, &a);
				if (a)
					flag(p, f, a);
			}
		}
	}

	p->nl_len = 0;
	p->pending_cr = false;
	if (is_multi) {
		f->mode = F_PRE;
		f->active = true;
		f->blen = (uint32_t)pt->boundary.len;
		memcpy(f->boundary, pt->boundary.ptr, f->blen);
		f->digest = slice_is(pt->subtype, "digest");
		p->nactive++;
		p->st = P_BOL;
	} else if (is_msg) {
		f->mode = F_IN;
		part_push(p, body_off, true);
		p->st = P_HDR;
	} else {
		f->mode = F_LEAF;
		leaf_init(p, f);
		p->st = P_BOL;
	}
	return 0;
}

/* --- delimiters -------------------------------------------------------- */

/* Whether line L (line end removed) is a delimiter of an open multipart,
 * innermost first: an outer boundary also ends the inner parts, as in
 * every client. */
static bool find_delim(msg_parser_t *p, const uint8_t *l, size_t n, uint32_t *fidx, bool *close)
{
	if (n < 3 || l[0] != '-' || l[1] != '-' || p->nactive == 0)
		return false;
	for (uint32_t i = p->nfr; i-- > 0;) {
		struct msg_frame *f = &p->fr[i];
		if (!f->active || n < 2 + f->blen || memcmp(l + 2, f->boundary, f->blen) != 0)
			continue;
		const uint8_t *r = l + 2 + f->blen;
		size_t rn = n - 2 - f->blen;
		if (rn >= 2 && r[0] == '-' && r[1] == '-') {
			*fidx = i;
			*close = true;
			return true;
		}
		size_t k = 0;
		while (k < rn && (msg_is_wsp(r[k]) || r[k] == '\r'))
			k++;
		if (k == rn) {
			*fidx = i;
			*close = false;
			return true;
		}
	}
	return false;
}

static int on_delim(msg_parser_t *p, uint32_t fidx, bool close, uint64_t end, uint64_t end_lfs,
		    uint64_t after_off)
{
	int rc;

	while (p->nfr - 1 > fidx)
		if ((rc = frame_close(p, end, end_lfs)) < 0)
			return rc;
	struct msg_frame *f = top(p);
	f->seen_delim = true;
	p->nl_len = 0;
	p->pending_cr = false;
	if (close) {
		f->mode = F_EPI;
		f->active = false;
		p->nactive--;
		p->st = P_BOL;
		return 0;
	}
	if (p->nparts >= p->lim.max_parts) {
		flag(p, f, MSG_ANOM_PART_LIMIT);
		p->limit_err = "MIME part count limit exceeded";
		f->mode = F_SKIP;
		p->st = P_BOL;
		return 0;
	}
	f->mode = F_IN;
	part_push(p, after_off, false);
	p->st = P_HDR;
	return 0;
}

/* --- the scanner ------------------------------------------------------- */

static int st_hdr(msg_parser_t *p, const uint8_t *d, size_t n, size_t *ip)
{
	size_t i = *ip;
	const uint8_t *lf = memchr(d + i, '\n', n - i);
	size_t e = lf ? (size_t)(lf - d) + 1 : n, seg = e - i;
	struct msg_frame *f = top(p);
	int rc = 0;

	if (p->nlb < LB_MAX) {
		size_t k = seg < LB_MAX - p->nlb ? seg : LB_MAX - p->nlb;
		memcpy(p->lb + p->nlb, d + i, k);
		p->nlb += (uint32_t)k;
	}
	if (!p->hdr_trunc) {
		if (sl_buf_append(&p->hdr, d + i, seg) < 0) {
			/* keep exactly the first max_header_bytes, however the input
			 * was split */
			size_t room = p->hdr.max - p->hdr.len;
			if (room)
				sl_buf_append(&p->hdr, d + i, room);
			p->hdr_trunc = true;
			flag(p, f, MSG_ANOM_HEADER_LIMIT);
		}
	}
	if (memchr(d + i, 0, seg))
		flag(p, f, MSG_ANOM_NUL);
	p->hline_len += seg;
	*ip = e;
	if (!lf)
		return 0;
	p->lfs++;
	uint64_t llen = p->hline_len;
	bool stored = !p->hdr_trunc;
	p->hline_len = 0;
	if (llen == 1 || (llen == 2 && p->lb[0] == '\r')) {
		p->nlb = 0;
		return hdr_complete(p, p->base + e, p->lfs);
	}
	if (p->nactive && llen <= LB_MAX && p->lb[0] == '-') {
		size_t m = (size_t)llen - 1;
		uint32_t fidx;
		bool close;
		if (m && p->lb[m - 1] == '\r')
			m--;
		if (find_delim(p, p->lb, m, &fidx, &close)) {
			/* a delimiter inside a header block: the part ends here, empty */
			uint64_t line_off = p->base + e - llen;
			if (stored)
				p->hdr.len -= (size_t)llen;
			p->nlb = 0;
			if ((rc = hdr_complete(p, line_off, p->lfs - 1)) < 0)
				return rc;
			return on_delim(p, fidx, close, line_off, p->lfs - 1, p->base + e);
		}
	}
	p->nlb = 0;
	return 0;
}

/* The buffered line in lb is complete (COMPLETE: it ended with the LF at
 * offset LF_OFF, not counted yet), full, or cut by the end of input (EOF). */
static int lb_eval(msg_parser_t *p, bool complete, bool eof, uint64_t lf_off)
{
	size_t m = p->nlb;
	bool cr = false;
	uint32_t fidx;
	bool close;
	int rc;

	if (m && p->lb[m - 1] == '\r') {
		m--;
		cr = true;
	}
	if (find_delim(p, p->lb, m, &fidx, &close) && (complete || eof || close)) {
		uint64_t end = p->nl_len ? p->nl_off : p->lb_off;
		uint64_t end_lfs = p->nl_len ? p->nl_lfs : p->lb_lfs;
		uint64_t after = complete ? lf_off + 1 : p->lb_off + p->nlb;
		if (complete)
			p->lfs++;
		p->nlb = 0;
		if ((rc = on_delim(p, fidx, close, end, end_lfs, after)) < 0)
			return rc;
		if (!complete && !eof)
			p->st = P_MID; /* the rest of an overlong close-delimiter line: epilogue */
		return 0;
	}
	if ((rc = flush_nl(p)) < 0)
		return rc;
	if ((rc = emit(p, p->lb, m)) < 0)
		return rc;
	p->nlb = 0;
	if (!complete) {
		/* a CR at the cut may start a CRLF */
		if (cr) {
			p->pending_cr = true;
			p->cr_off = p->lb_off + m;
		}
		p->st = P_MID;
		return 0;
	}
	/* this line's end is now the pending one */
	p->nl_len = cr ? 2 : 1;
	p->nl_off = lf_off - (cr ? 1 : 0);
	p->nl_lfs = p->lfs;
	p->lfs++;
	p->st = P_BOL;
	return 0;
}

static int st_lb(msg_parser_t *p, const uint8_t *d, size_t n, size_t *ip)
{
	size_t i = *ip;

	while (i < n) {
		uint8_t c = d[i];
		if (c == '\n') {
			*ip = i + 1;
			return lb_eval(p, true, false, p->base + i);
		}
		p->lb[p->nlb++] = c;
		i++;
		if ((p->nlb == 2 && c != '-') || p->nlb == LB_MAX) {
			*ip = i;
			return lb_eval(p, false, false, 0);
		}
	}
	*ip = i;
	return 0;
}

static size_t count_lf(const uint8_t *d, size_t n)
{
	size_t c = 0;
	const uint8_t *e = d + n;

	while (d < e && (d = memchr(d, '\n', (size_t)(e - d))) != NULL) {
		c++;
		d++;
	}
	return c;
}

static int st_mid(msg_parser_t *p, const uint8_t *d, size_t n, size_t *ip)
{
	size_t i = *ip;
	int rc;

	if (p->pending_cr) {
		p->pending_cr = false;
		if (d[i] == '\n' && p->nactive) {
			p->nl_len = 2;
			p->nl_off = p->cr_off;
			p->nl_lfs = p->lfs;
			p->lfs++;
			*ip = i + 1;
			p->st = P_BOL;
			return 0;
		}
		if ((rc = emit(p, (const uint8_t *)"\r", 1)) < 0)
			return rc;
	}
	if (p->nactive == 0) {
		/* no delimiter can follow: the rest of the chunk is body */
		p->lfs += count_lf(d + i, n - i);
		*ip = n;
		return emit(p, d + i, n - i);
	}
	const uint8_t *lf = memchr(d + i, '\n', n - i);
	if (!lf) {
		size_t e = n;
		if (d[n - 1] == '\r') {
			e = n - 1;
			p->pending_cr = true;
			p->cr_off = p->base + e;
		}
		*ip = n;
		return emit(p, d + i, e - i);
	}
	size_t e = (size_t)(lf - d), s = e;
	uint8_t len = 1;
	if (e > i && d[e - 1] == '\r') {
		s = e - 1;
		len = 2;
	}
	if ((rc = emit(p, d + i, s - i)) < 0)
		return rc;
	p->nl_len = len;
	p->nl_off = p->base + s;
	p->nl_lfs = p->lfs;
	p->lfs++;
	*ip = e + 1;
	p->st = P_BOL;
	return 0;
}

int msg_parser_feed(msg_parser_t *p, const void *data, size_t len)
{
	const uint8_t *d = data;
	size_t i = 0;
	int rc = 0;

	if (p->finished || p->stopped)
		return SL_ESTATE;
	while (i < len && rc >= 0) {
		switch (p->st) {
		case P_HDR:
			rc = st_hdr(p, d, len, &i);
			break;
		case P_BOL:
			if (p->nactive == 0) {
				rc = flush_nl(p);
				p->st = P_MID;
			} else if (d[i] == '-') {
				p->st = P_LB;
				p->nlb = 0;
				p->lb_off = p->base + i;
				p->lb_lfs = p->lfs;
			} else {
				rc = flush_nl(p);
				p->st = P_MID;
			}
			break;
		case P_LB:
			rc = st_lb(p, d, len, &i);
			break;
		case P_MID:
			rc = st_mid(p, d, len, &i);
			break;
		}
	}
	p->base += i;
	if (rc < 0) {
		p->base += len - i;
		p->stopped = true;
	}
	return rc;
}

int msg_parser_finish(msg_parser_t *p, const char **error_r)
{
	int rc = 0;

	if (error_r)
		*error_r = NULL;
	if (p->finished || p->stopped)
		return SL_ESTATE;
	p->finished = true;
	if (p->st == P_HDR && p->hline_len)
		flag(p, top(p), MSG_ANOM_TRUNCATED); /* the input ended inside a header line */
	if (p->st == P_LB)
		rc = lb_eval(p, false, true, 0);
	if (rc >= 0 && p->pending_cr) {
		p->pending_cr = false;
		rc = emit(p, (const uint8_t *)"\r", 1);
	}
	if (rc >= 0)
		rc = flush_nl(p);
	while (rc >= 0 && p->nfr > 0)
		rc = frame_close(p, p->base, p->lfs);
	if (rc < 0) {
		p->stopped = true;
		return rc;
	}
	if (p->limit_err) {
		if (error_r)
			*error_r = p->limit_err;
		return SL_ELIMIT;
	}
	return 0;
}
