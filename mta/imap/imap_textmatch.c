/* imap_textmatch - SEARCH content predicates on one message (see the
 * header for what is matched and how). */
#include "imap/imap_textmatch.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "message/msg.h"
#include "sl_err.h"

/* A callback's return that stops the parser: every predicate is decided.
 * Outside the sl_err range, so it cannot be mistaken for an error. */
#define TM_STOP (-1000)
/* ... and one that stops it because the rest of the message is the text
 * itself (raw mode, see tm_on_text). */
#define TM_RAW (-1001)
/* Folded text is searched in windows of this many bytes (plus the tail
 * that a match may straddle). */
#define TM_WINDOW 65536u
#define TM_NEEDLE_MAX (1u << 20)
/* Header scratch: "Name: value" of one field, folded. The parser cuts a
 * field at 64 KiB raw; decoding can grow it, what passes this is cut. */
#define TM_HBUF_MAX (512u * 1024u)

struct imap_tm {
	msg_parser_t *parser;
	const struct imap_text_pred *preds;
	size_t n;
	uint8_t *nbuf; /* the folded needles, back to back */
	size_t nbuf_cap;
	sl_slice_t nd[IMAP_TEXT_PREDS_MAX];
	uint64_t all;       /* a bit per predicate */
	uint64_t hdr_mask;  /* IMAP_TEXT_HEADER */
	uint64_t sent_mask; /* IMAP_TEXT_SENT* */
	uint64_t body_mask; /* BODY and TEXT: searched in body text */
	uint64_t text_mask; /* TEXT: also searched in top-level fields */
	size_t nmax;        /* longest needle of body_mask */
	/* the message */
	uint64_t matched, decided;
	bool hdr_done;
	bool date_seen;
	bool stopped;
	int64_t internaldate;
	int32_t tz_min;
	/* the body text stream: win[0..tail) is the folded end of what came
	 * before in this part, pend[0..npend) an unfinished UTF-8 sequence */
	uint8_t *win;
	size_t win_cap;
	size_t tail;
	uint8_t pend[4];
	size_t npend;
	sl_buf_t hbuf;
	/* the piece being fed, and raw mode: the parser is stopped and the
	 * remaining raw bytes are searched as they come */
	const uint8_t *feed_p;
	size_t feed_n;
	bool raw;
};

/* ---- folding ---- */

static uint8_t tm_ascii[256];

static void tm_ascii_init(void)
{
	if (tm_ascii['A'] == 'a')
		return;
	for (unsigned i = 0; i < 256; i++)
		tm_ascii[i] = (uint8_t)(i >= 'A' && i <= 'Z' ? i + 32 : i);
}

/* tm_fold_cp - the fold of a code point below U+0800 (a 2-byte sequence);
 * every result is below U+0800 too, so lengths never change. */
static uint32_t tm_fold_cp(uint32_t c)
{
	if (c >= 0xC0 && c <= 0xDE && c != 0xD7)
		return c + 32;
	if (c >= 0x100 && c <= 0x17F) {
		if (c == 0x130 || c == 0x131 || c == 0x138 || c == 0x149 || c == 0x17F)
			return c;
		if (c == 0x178)
			return 0xFF;
		if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E))
			return (c & 1) ? c + 1 : c;
		return (c & 1) ? c : c + 1;
	}
	if (c >= 0x391 && c <= 0x3A9 && c != 0x3A2)
		return c + 32;
	if (c == 0x3C2)
		return 0x3C3;
	if (c >= 0x410 && c <= 0x42F)
		return c + 32;
	if (c >= 0x400 && c <= 0x40F)
		return c + 80;
	return c;
}

static bool tm_cont(uint8_t b)
{
	return (b & 0xC0) == 0x80;
}

size_t imap_tm_fold(const uint8_t *in, size_t n, uint8_t *out, int partial)
{
	size_t i = 0;

	tm_ascii_init();
	while (i < n) {
		uint8_t b = in[i];
		size_t need;

		if (b < 0x80) {
			/* the common case: a run of ASCII, 8 bytes at a time
			 * (A-Z get 0x20 where a byte is in 'A'..'Z') */
			size_t j = i;

			while (j + 8 <= n) {
				uint64_t x, h, ge, gt;

				memcpy(&x, in + j, 8);
				if (x & 0x8080808080808080ull)
					break;
				h = 0x0101010101010101ull;
				ge = (x + h * (0x80 - 'A')) & (h * 0x80);
				gt = (x + h * (0x80 - 'Z' - 1)) & (h * 0x80);
				x |= (ge & ~gt) >> 2;
				memcpy(out + j, &x, 8);
				j += 8;
			}
			while (j < n && in[j] < 0x80) {
				out[j] = tm_ascii[in[j]];
				j++;
			}
			i = j;
			continue;
		}
		need = b >= 0xC2 && b <= 0xDF ? 2 : b >= 0xE0 && b <= 0xEF ? 3 : b >= 0xF0 && b <= 0xF4 ? 4 : 1;
		if (need > 1 && i + need > n) {
			/* the sequence may go on in the next piece */
			bool prefix = true;

			for (size_t k = i + 1; k < n; k++)
				prefix = prefix && tm_cont(in[k]);
			if (partial && prefix)
				return i;
			need = 1;
		}
		if (need == 2 && tm_cont(in[i + 1])) {
			uint32_t c = ((uint32_t)(b & 0x1F) << 6) | (in[i + 1] & 0x3F);

			c = tm_fold_cp(c);
			out[i] = (uint8_t)(0xC0 | (c >> 6));
			out[i + 1] = (uint8_t)(0x80 | (c & 0x3F));
			i += 2;
			continue;
		}
		/* longer sequences and stray bytes are copied (one byte at a
		 * time for the latter: they fold to themselves) */
		out[i] = b;
		i++;
	}
	return i;
}

/* ---- dates (RFC 5322 §3.3, with §4.3's obsolete forms) ---- */

static int64_t tm_days_from_civil(int64_t y, int64_t m, int64_t d)
{
	/* H. Hinnant's algorithm */
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* tm_skip_cfws - whitespace and (nested) comments */
static size_t tm_skip_cfws(const uint8_t *p, size_t n, size_t i)
{
	for (;;) {
		while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
			i++;
		if (i < n && p[i] == '(') {
			unsigned depth = 0;

			for (; i < n; i++) {
				if (p[i] == '\\' && i + 1 < n) {
					i++;
				} else if (p[i] == '(') {
					depth++;
				} else if (p[i] == ')' && --depth == 0) {
					i++;
					break;
				}
			}
			continue;
		}
		return i;
	}
}

static size_t tm_digits(const uint8_t *p, size_t n, size_t i, unsigned max, int64_t *v, unsigned *nd)
{
	*v = 0;
	*nd = 0;
	while (i < n && p[i] >= '0' && p[i] <= '9' && *nd < max) {
		*v = *v * 10 + (p[i] - '0');
		i++;
		(*nd)++;
	}
	return i;
}

int imap_tm_date_days(sl_slice_t value, int64_t *days_r)
{
	static const char months[] = "janfebmaraprmayjunjulaugsepoctnovdec";
	static const uint8_t mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	const uint8_t *p = value.ptr;
	size_t n = value.len, i = tm_skip_cfws(p, n, 0);
	int64_t day, year, mon = -1;
	unsigned nd;

	/* [ day-of-week "," ] */
	if (i < n && ((p[i] | 0x20) >= 'a' && (p[i] | 0x20) <= 'z')) {
		while (i < n && ((p[i] | 0x20) >= 'a' && (p[i] | 0x20) <= 'z'))
			i++;
		i = tm_skip_cfws(p, n, i);
		if (i >= n || p[i] != ',')
			return SL_EINVAL;
		i = tm_skip_cfws(p, n, i + 1);
	}
	i = tm_digits(p, n, i, 2, &day, &nd);
	if (nd == 0 || day < 1 || day > 31)
		return SL_EINVAL;
	i = tm_skip_cfws(p, n, i);
	if (n - i < 3)
		return SL_EINVAL;
	for (int k = 0; k < 12; k++)
		if (!strncasecmp((const char *)p + i, months + 3 * k, 3))
			mon = k;
	if (mon < 0)
		return SL_EINVAL;
	i += 3;
	if (i < n && ((p[i] | 0x20) >= 'a' && (p[i] | 0x20) <= 'z'))
		return SL_EINVAL; /* "Marsh" is no month */
	i = tm_skip_cfws(p, n, i);
	i = tm_digits(p, n, i, 4, &year, &nd);
	if (nd < 2 || (i < n && p[i] >= '0' && p[i] <= '9'))
		return SL_EINVAL;
	if (nd == 2)
		year += year < 50 ? 2000 : 1900; /* RFC 5322 §4.3 */
	else if (nd == 3)
		year += 1900;
	if (day > mdays[mon] ||
	    (mon == 1 && day == 29 && !((year % 4 == 0 && year % 100 != 0) || year % 400 == 0)))
		return SL_EINVAL;
	/* the time must follow (a lone date is not a date-time) */
	i = tm_skip_cfws(p, n, i);
	if (i >= n || p[i] < '0' || p[i] > '9')
		return SL_EINVAL;
	*days_r = tm_days_from_civil(year, mon + 1, day);
	return 0;
}

/* ---- matching ---- */

static bool tm_all_decided(const imap_tm_t *tm)
{
	return (tm->decided & tm->all) == tm->all;
}

static void tm_match(imap_tm_t *tm, uint64_t bits)
{
	tm->matched |= bits;
	tm->decided |= bits;
}

/* tm_search - mark the predicates of MASK whose needle is in HAY. */
static void tm_search(imap_tm_t *tm, uint64_t mask, const uint8_t *hay, size_t len)
{
	for (; mask != 0; mask &= mask - 1) {
		unsigned i = (unsigned)__builtin_ctzll(mask);

		if (tm->nd[i].len <= len && memmem(hay, len, tm->nd[i].ptr, tm->nd[i].len) != NULL)
			tm_match(tm, 1ull << i);
	}
}

static int64_t tm_local_days(int64_t t, int32_t tz_min)
{
	int64_t l = t + (int64_t)tz_min * 60;

	return l >= 0 ? l / 86400 : -((-l + 86399) / 86400);
}

static void tm_sent_decide(imap_tm_t *tm, int64_t days)
{
	for (uint64_t mask = tm->sent_mask & ~tm->decided; mask != 0; mask &= mask - 1) {
		unsigned i = (unsigned)__builtin_ctzll(mask);
		int64_t want = tm->preds[i].days;
		bool hit = tm->preds[i].kind == IMAP_TEXT_SENTBEFORE ? days < want
			   : tm->preds[i].kind == IMAP_TEXT_SENTON  ? days == want
								    : days >= want;

		tm->decided |= 1ull << i;
		if (hit)
			tm->matched |= 1ull << i;
	}
}

/* tm_header_end - the top-level header is over: what it did not match, it
 * never will. */
static void tm_header_end(imap_tm_t *tm)
{
	if (tm->hdr_done)
		return;
	tm->hdr_done = true;
	if (tm->sent_mask & ~tm->decided)
		tm_sent_decide(tm, tm_local_days(tm->internaldate, tm->tz_min));
	tm->decided |= tm->hdr_mask;
}

static int tm_status(const imap_tm_t *tm)
{
	return tm_all_decided(tm) ? TM_STOP : 0;
}

/* tm_field - "Name: value" folded into hbuf; *VOFF_R where the value
 * starts. False if it cannot be built (then nothing is matched). */
static bool tm_field(imap_tm_t *tm, const msg_header_t *h, size_t *voff_r)
{
	size_t need = h->name.len + 2 + h->value.len, vlen = h->value.len;
	uint8_t *d;

	sl_buf_reset(&tm->hbuf);
	if (need > TM_HBUF_MAX) {
		if (h->name.len + 2 >= TM_HBUF_MAX)
			return false;
		vlen = TM_HBUF_MAX - h->name.len - 2;
		need = TM_HBUF_MAX;
	}
	if (sl_buf_reserve(&tm->hbuf, need) < 0)
		return false;
	d = tm->hbuf.data;
	imap_tm_fold(h->name.ptr, h->name.len, d, 0);
	d[h->name.len] = ':';
	d[h->name.len + 1] = ' ';
	imap_tm_fold(h->value.ptr, vlen, d + h->name.len + 2, 0);
	tm->hbuf.len = need;
	*voff_r = h->name.len + 2;
	return true;
}

static int tm_on_header(void *ctx, const msg_part_t *part, const msg_header_t *h)
{
	imap_tm_t *tm = ctx;
	uint64_t hdr = 0, text = 0, body = 0;
	size_t voff;

	if (part->index == 0) {
		if (tm->hdr_done)
			return 0;
		for (uint64_t mask = tm->hdr_mask & ~tm->decided; mask != 0; mask &= mask - 1) {
			unsigned i = (unsigned)__builtin_ctzll(mask);
			sl_slice_t f = tm->preds[i].field;

			if (f.len != h->name.len || strncasecmp((const char *)f.ptr,
								(const char *)h->name.ptr, f.len) != 0)
				continue;
			if (tm->nd[i].len == 0)
				tm_match(tm, 1ull << i); /* the field exists */
			else
				hdr |= 1ull << i;
		}
		if ((tm->sent_mask & ~tm->decided) && !tm->date_seen && h->name.len == 4 &&
		    !strncasecmp((const char *)h->name.ptr, "date", 4)) {
			int64_t days;

			tm->date_seen = true; /* the first Date: only */
			if (imap_tm_date_days(h->raw_value, &days) == 0)
				tm_sent_decide(tm, days);
		}
		text = tm->text_mask & ~tm->decided;
	} else if (part->is_message) {
		/* the header of an embedded message is body text */
		body = tm->body_mask & ~tm->decided;
	}
	if ((hdr | text | body) != 0 && tm_field(tm, h, &voff)) {
		tm_search(tm, hdr, tm->hbuf.data + voff, tm->hbuf.len - voff);
		tm_search(tm, text | body, tm->hbuf.data, tm->hbuf.len);
	}
	return tm_status(tm);
}

static int tm_on_part_begin(void *ctx, const msg_part_t *part)
{
	imap_tm_t *tm = ctx;

	if (part->index > 0)
		tm_header_end(tm);
	tm->tail = 0;
	tm->npend = 0;
	return tm_status(tm);
}

static int tm_on_part_end(void *ctx, const msg_part_t *part)
{
	imap_tm_t *tm = ctx;

	if (part->index == 0)
		tm_header_end(tm);
	tm->tail = 0;
	tm->npend = 0;
	return tm_status(tm);
}

static int tm_text(imap_tm_t *tm, const uint8_t *p, size_t n);

/* tm_raw_ok - is the rest of the message, from the text of PART on, its
 * text byte for byte? A single text/plain part without transfer encoding,
 * in UTF-8/US-ASCII or no charset: the parser passes such a body through
 * as it is (docs/message.md), so there is no need to run it. */
static bool tm_raw_ok(const msg_part_t *part)
{
	if (part->index != 0 || part->is_multipart || part->is_rfc822 ||
	    (part->cte != MSG_CTE_7BIT && part->cte != MSG_CTE_8BIT && part->cte != MSG_CTE_BINARY))
		return false;
	if (part->type.len != 4 || memcmp(part->type.ptr, "text", 4) != 0 ||
	    part->subtype.len != 5 || memcmp(part->subtype.ptr, "plain", 5) != 0)
		return false;
	return part->charset.len == 0 ||
	       (part->charset.len == 5 && memcmp(part->charset.ptr, "utf-8", 5) == 0) ||
	       (part->charset.len == 8 && memcmp(part->charset.ptr, "us-ascii", 8) == 0);
}

/* tm_on_text - a piece of a text part's text. When the rest of the
 * message is that text (tm_raw_ok) and the piece lies in what is being
 * fed, the parser is stopped and the raw bytes are searched directly from
 * here on: the common plain-text message costs one fold and one search. */
static int tm_on_text(void *ctx, const msg_part_t *part, sl_slice_t data)
{
	imap_tm_t *tm = ctx;
	int rc;

	tm_header_end(tm);
	if ((tm->body_mask & ~tm->decided) != 0 && tm_raw_ok(part) && tm->feed_p != NULL &&
	    data.ptr >= tm->feed_p && data.ptr + data.len <= tm->feed_p + tm->feed_n) {
		tm->raw = true;
		rc = tm_text(tm, data.ptr, (size_t)(tm->feed_p + tm->feed_n - data.ptr));
		return rc == 0 ? TM_RAW : rc;
	}
	return tm_text(tm, data.ptr, data.len);
}

/* tm_text - fold text behind the tail of the part's text so far and
 * search the window. */
static int tm_text(imap_tm_t *tm, const uint8_t *p, size_t n)
{
	uint64_t mask = tm->body_mask & ~tm->decided;

	while (mask != 0 && n > 0) {
		size_t take = n < TM_WINDOW ? n : TM_WINDOW, len, used, keep;
		uint8_t *w = tm->win + tm->tail;

		if (tm->npend > 0) {
			/* finish the sequence left over from the last piece */
			uint8_t seq[8];
			size_t k = tm->npend, got;

			memcpy(seq, tm->pend, k);
			while (k < 4 && k - tm->npend < n && tm_cont(p[k - tm->npend]))
				seq[k] = p[k - tm->npend], k++;
			got = imap_tm_fold(seq, k, w, k - tm->npend < n ? 0 : 1);
			if (got == 0) {
				/* still unfinished: n is all continuation bytes */
				memcpy(tm->pend, seq, k);
				tm->npend = k;
				return 0;
			}
			p += got - tm->npend;
			n -= got - tm->npend;
			take = n < TM_WINDOW ? n : TM_WINDOW;
			w += got;
			tm->npend = 0;
		}
		used = imap_tm_fold(p, take, w, 1);
		len = (size_t)(w - tm->win) + used;
		if (used < take && take == n) {
			/* keep the unfinished sequence at the very end */
			tm->npend = take - used;
			memcpy(tm->pend, p + used, tm->npend);
			used = take;
		}
		/* (a sequence cut by the window is folded with the next one) */
		tm_search(tm, mask, tm->win, len);
		p += used;
		n -= used;
		mask = tm->body_mask & ~tm->decided;
		keep = tm->nmax > 1 ? tm->nmax - 1 : 0;
		if (keep > len)
			keep = len;
		memmove(tm->win, tm->win + len - keep, keep);
		tm->tail = keep;
	}
	return tm_status(tm);
}

int imap_tm_create(imap_tm_t **tm_r)
{
	imap_tm_t *tm = calloc(1, sizeof(*tm));
	msg_callbacks_t cb;

	*tm_r = NULL;
	if (tm == NULL)
		return SL_ENOMEM;
	memset(&cb, 0, sizeof(cb));
	cb.ctx = tm;
	cb.part_begin = tm_on_part_begin;
	cb.header = tm_on_header;
	cb.text = tm_on_text;
	cb.part_end = tm_on_part_end;
	tm->parser = msg_parser_new(NULL, &cb);
	sl_buf_init(&tm->hbuf, TM_HBUF_MAX);
	if (tm->parser == NULL) {
		imap_tm_free(&tm);
		return SL_ENOMEM;
	}
	tm_ascii_init();
	*tm_r = tm;
	return 0;
}

void imap_tm_free(imap_tm_t **tmp)
{
	imap_tm_t *tm = *tmp;

	if (tm == NULL)
		return;
	msg_parser_free(&tm->parser);
	free(tm->nbuf);
	free(tm->win);
	sl_buf_free(&tm->hbuf);
	free(tm);
	*tmp = NULL;
}

int imap_tm_prepare(imap_tm_t *tm, const struct imap_text_pred *preds, size_t n)
{
	size_t total = 0, off = 0, nmax = 0;

	tm->preds = NULL;
	tm->n = 0;
	tm->all = tm->hdr_mask = tm->sent_mask = tm->body_mask = tm->text_mask = 0;
	if (n > IMAP_TEXT_PREDS_MAX)
		return SL_ELIMIT;
	for (size_t i = 0; i < n; i++) {
		if (preds[i].needle.len > TM_NEEDLE_MAX)
			return SL_ELIMIT;
		if ((unsigned)preds[i].kind > IMAP_TEXT_SENTSINCE)
			return SL_EINVAL;
		total += preds[i].needle.len;
	}
	if (total > tm->nbuf_cap) {
		uint8_t *b = realloc(tm->nbuf, total);

		if (b == NULL)
			return SL_ENOMEM;
		tm->nbuf = b;
		tm->nbuf_cap = total;
	}
	for (size_t i = 0; i < n; i++) {
		uint64_t bit = 1ull << i;
		size_t len = preds[i].needle.len;

		if (len > 0)
			imap_tm_fold(preds[i].needle.ptr, len, tm->nbuf + off, 0);
		tm->nd[i] = sl_slice_make(len > 0 ? tm->nbuf + off : (const uint8_t *)"", len);
		off += len;
		switch (preds[i].kind) {
		case IMAP_TEXT_HEADER:
			tm->hdr_mask |= bit;
			break;
		case IMAP_TEXT_TEXT:
			tm->text_mask |= bit;
			/* fall through */
		case IMAP_TEXT_BODY:
			tm->body_mask |= bit;
			if (len > nmax)
				nmax = len;
			break;
		default:
			tm->sent_mask |= bit;
			break;
		}
	}
	if (TM_WINDOW + nmax + 8 > tm->win_cap) {
		uint8_t *w = realloc(tm->win, TM_WINDOW + nmax + 8);

		if (w == NULL)
			return SL_ENOMEM;
		tm->win = w;
		tm->win_cap = TM_WINDOW + nmax + 8;
	}
	tm->preds = preds;
	tm->n = n;
	tm->nmax = nmax;
	tm->all = n == 64 ? UINT64_MAX : (1ull << n) - 1;
	return 0;
}

void imap_tm_begin(imap_tm_t *tm, int64_t internaldate, int32_t tz_min)
{
	msg_parser_reset(tm->parser);
	tm->matched = tm->decided = 0;
	tm->hdr_done = tm->date_seen = tm->stopped = tm->raw = false;
	tm->internaldate = internaldate;
	tm->tz_min = tz_min;
	tm->tail = 0;
	tm->npend = 0;
	/* "" is in every text */
	for (uint64_t mask = tm->body_mask; mask != 0; mask &= mask - 1) {
		unsigned i = (unsigned)__builtin_ctzll(mask);

		if (tm->nd[i].len == 0)
			tm_match(tm, 1ull << i);
	}
	tm->stopped = tm_all_decided(tm);
}

int imap_tm_feed(imap_tm_t *tm, const void *data, size_t len)
{
	int rc;

	if (tm->stopped)
		return 1;
	if (tm->raw) {
		rc = tm_text(tm, data, len);
	} else {
		tm->feed_p = data;
		tm->feed_n = len;
		rc = msg_parser_feed(tm->parser, data, len);
		tm->feed_p = NULL;
		if (rc == TM_RAW)
			rc = tm_status(tm);
	}
	if (rc == TM_STOP) {
		tm->stopped = true;
		return 1;
	}
	return rc < 0 ? rc : 0;
}

uint64_t imap_tm_end(imap_tm_t *tm)
{
	if (!tm->stopped && !tm->raw) {
		/* closes the open parts: their part_end may still decide */
		(void)msg_parser_finish(tm->parser, NULL);
	}
	tm->stopped = true;
	tm_header_end(tm);
	return tm->matched & tm->all;
}
