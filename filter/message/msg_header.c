/* msg_header - header value decoding: RFC 2047 encoded words, and
 * Content-Type / Content-Disposition parameters (RFC 2045 §5.1, RFC 2231). */
#include <strings.h>

#include "message/msg_private.h"
#include "sl_err.h"

static int hexv(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = msg_lower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Raw 8-bit text in a header: kept if UTF-8 (RFC 6532), else read as
 * windows-1252 like clients do. */
static int put_raw(sl_buf_t *out, const uint8_t *p, size_t n, uint32_t *anom)
{
	bool high = false;

	for (size_t i = 0; i < n; i++) {
		if (p[i] & 0x80) {
			high = true;
			break;
		}
	}
	if (!high || msg_utf8_valid(p, n)) {
		if (high)
			*anom |= MSG_ANOM_8BIT_HEADER;
		return sl_buf_append(out, p, n);
	}
	*anom |= MSG_ANOM_8BIT_HEADER;
	int rc = msg_charset_to_utf8(SL_SLICE_LIT("windows-1252"), sl_slice_make(p, n), out, NULL);
	return rc < 0 ? rc : 0;
}

typedef struct ew {
	sl_slice_t charset; /* without an RFC 2231 "*lang" */
	uint8_t enc;        /* 'b' or 'q' */
	sl_slice_t text;
	size_t end; /* offset after "?=" */
} ew_t;

/* "=?" charset "?" B|Q "?" text "?=" starting at IN[I] (RFC 2047 §2). Text
 * may hold spaces: broken mailers emit them and clients still decode. */
static bool ew_parse(const uint8_t *in, size_t n, size_t i, ew_t *w)
{
	size_t j = i + 2, cs = j;

	while (j < n && in[j] != '?' && !msg_is_wsp(in[j]) && j - cs <= MSG_CHARSET_NAME_MAX + 20)
		j++;
	if (j >= n || in[j] != '?' || j == cs)
		return false;
	w->charset = sl_slice_make(in + cs, j - cs);
	for (size_t k = 0; k < w->charset.len; k++) {
		if (w->charset.ptr[k] == '*') {
			w->charset.len = k;
			break;
		}
	}
	j++;
	if (j + 1 >= n || in[j + 1] != '?')
		return false;
	w->enc = msg_lower(in[j]);
	if (w->enc != 'b' && w->enc != 'q')
		return false;
	j += 2;
	size_t t = j;
	while (j < n && in[j] != '?')
		j++;
	if (j + 1 >= n || in[j + 1] != '=')
		return false;
	w->text = sl_slice_make(in + t, j - t);
	w->end = j + 2;
	return true;
}

static int ew_decode(const ew_t *w, sl_buf_t *raw, uint32_t *anom)
{
	int rc = sl_buf_reserve(raw, w->text.len + 4);
	uint8_t *o;
	size_t k = 0;
	uint32_t a = 0;

	if (rc < 0)
		return rc;
	o = raw->data + raw->len;
	if (w->enc == 'b') {
		msg_b64_t b = {0};
		k = msg_b64_decode(&b, w->text.ptr, w->text.len, o, &a);
		if (a || b.nbits >= 6)
			*anom |= MSG_ANOM_BAD_ENCODED_WORD;
	} else {
		const uint8_t *t = w->text.ptr;
		for (size_t i = 0; i < w->text.len; i++) {
			if (t[i] == '_') {
				o[k++] = ' ';
			} else if (t[i] == '=' && i + 2 < w->text.len && hexv(t[i + 1]) >= 0 &&
				   hexv(t[i + 2]) >= 0) {
				o[k++] = (uint8_t)(hexv(t[i + 1]) << 4 | hexv(t[i + 2]));
				i += 2;
			} else {
				if (t[i] == '=')
					*anom |= MSG_ANOM_BAD_ENCODED_WORD;
				o[k++] = t[i];
			}
		}
	}
	raw->len += k;
	return 0;
}

/* Convert the bytes of a run of adjacent encoded words in one charset: a
 * character split over two words (common with UTF-8 and base64) joins up. */
static int ew_flush(sl_buf_t *raw, sl_slice_t cs, sl_buf_t *out, uint32_t *anom)
{
	int rc = 0;

	if (raw->len > 0) {
		rc = msg_charset_to_utf8(cs, sl_buf_slice(raw), out, anom);
		if (rc > 0)
			rc = 0;
	}
	sl_buf_reset(raw);
	return rc;
}

int msg_hdr_decode(sl_slice_t in_s, sl_buf_t *out, uint32_t *anom_r)
{
	const uint8_t *in = in_s.ptr;
	size_t n = in_s.len, i = 0;
	sl_buf_t raw;
	sl_slice_t cur_cs = {NULL, 0};
	bool in_run = false; /* the last thing was an encoded word */
	size_t ws_off = 0, ws_len = 0;
	uint32_t anom = 0;
	int rc = 0;

	sl_buf_init(&raw, n + 8);
	while (i < n) {
		ew_t w;
		if (in[i] == '=' && i + 1 < n && in[i + 1] == '?' && ew_parse(in, n, i, &w)) {
			bool same = in_run && w.charset.len == cur_cs.len &&
				    (cur_cs.len == 0 || strncasecmp((const char *)w.charset.ptr,
								    (const char *)cur_cs.ptr, cur_cs.len) == 0);
			if (!same) {
				if ((rc = ew_flush(&raw, cur_cs, out, &anom)) < 0)
					goto done;
			}
			/* §6.2: whitespace between adjacent encoded words is dropped */
			if (!in_run && ws_len && (rc = sl_buf_append(out, in + ws_off, ws_len)) < 0)
				goto done;
			ws_len = 0;
			cur_cs = w.charset;
			if ((rc = ew_decode(&w, &raw, &anom)) < 0)
				goto done;
			in_run = true;
			i = w.end;
			continue;
		}
		if (msg_is_wsp(in[i])) {
			size_t j = i;
			while (j < n && msg_is_wsp(in[j]))
				j++;
			if (in_run) {
				ws_off = i;
				ws_len = j - i;
			} else if ((rc = sl_buf_append(out, in + i, j - i)) < 0) {
				goto done;
			}
			i = j;
			continue;
		}
		/* plain text up to the next whitespace or "=?" */
		size_t j = i + 1;
		while (j < n && !msg_is_wsp(in[j]) && !(in[j] == '=' && j + 1 < n && in[j + 1] == '?'))
			j++;
		if (in_run) {
			if ((rc = ew_flush(&raw, cur_cs, out, &anom)) < 0)
				goto done;
			in_run = false;
			if (ws_len && (rc = sl_buf_append(out, in + ws_off, ws_len)) < 0)
				goto done;
			ws_len = 0;
		}
		if ((rc = put_raw(out, in + i, j - i, &anom)) < 0)
			goto done;
		i = j;
	}
	if ((rc = ew_flush(&raw, cur_cs, out, &anom)) < 0)
		goto done;
	if (ws_len)
		rc = sl_buf_append(out, in + ws_off, ws_len);
done:
	sl_buf_free(&raw);
	if (anom_r)
		*anom_r |= anom;
	if (out->data)
		out->data[out->len] = 0;
	return rc < 0 ? rc : 0;
}

/* --- Content-Type parameters ------------------------------------------- */

/* Skip whitespace and (nested) comments; no recursion. */
static size_t skip_cfws(const uint8_t *s, size_t n, size_t i)
{
	while (i < n) {
		if (msg_is_wsp(s[i]) || s[i] == '\r' || s[i] == '\n') {
			i++;
		} else if (s[i] == '(') {
			unsigned depth = 0;
			while (i < n) {
				if (s[i] == '\\' && i + 1 < n) {
					i += 2;
					continue;
				}
				if (s[i] == '(')
					depth++;
				else if (s[i] == ')' && --depth == 0) {
					i++;
					break;
				}
				i++;
			}
		} else {
			break;
		}
	}
	return i;
}

static bool is_tspecial_or_ctl(uint8_t c)
{
	return c <= ' ' || c == 0x7f || strchr("()<>@,;:\\\"/[]?=", c) != NULL;
}

typedef struct rawp {
	sl_slice_t name;  /* base name (before '*') */
	int section;      /* -1 when not a continuation */
	bool ext;         /* ends with '*': charset'lang'%XX */
	bool quoted;
	sl_slice_t value; /* inside the quotes, escapes not yet removed */
} rawp_t;

#define RAWP_MAX 256

/* Append VALUE (unescaping a quoted string) to B. */
static int put_val(sl_buf_t *b, const rawp_t *r)
{
	if (!r->quoted)
		return sl_buf_append(b, r->value.ptr, r->value.len);
	for (size_t i = 0; i < r->value.len; i++) {
		uint8_t c = r->value.ptr[i];
		if (c == '\\' && i + 1 < r->value.len)
			c = r->value.ptr[++i];
		int rc = sl_buf_append(b, &c, 1);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Percent-decode (RFC 2231 §4) B from offset FROM, in place. */
static void pct_decode(sl_buf_t *b, size_t from, uint32_t *anom)
{
	size_t o = from;

	for (size_t i = from; i < b->len; i++) {
		if (b->data[i] == '%' && i + 2 < b->len && hexv(b->data[i + 1]) >= 0 &&
		    hexv(b->data[i + 2]) >= 0) {
			b->data[o++] = (uint8_t)(hexv(b->data[i + 1]) << 4 | hexv(b->data[i + 2]));
			i += 2;
		} else {
			if (b->data[i] == '%')
				*anom |= MSG_ANOM_BAD_PARAM;
			b->data[o++] = b->data[i];
		}
	}
	b->len = o;
}

static bool name_eq(sl_slice_t a, sl_slice_t b)
{
	return a.len == b.len && strncasecmp((const char *)a.ptr, (const char *)b.ptr, a.len) == 0;
}

/* Merge the pieces of one parameter NAME and append name, value to STRS. */
static int merge_param(const rawp_t *rp, uint32_t nrp, uint32_t first, sl_buf_t *strs,
		       msg_param_off_t *po, sl_buf_t *tmp, uint32_t *anom)
{
	sl_slice_t name = rp[first].name;
	const rawp_t *plain = NULL, *ext = NULL;
	int rc;

	sl_buf_reset(tmp);
	for (uint32_t k = first; k < nrp; k++) {
		if (!name_eq(rp[k].name, name) || rp[k].section >= 0)
			continue;
		if (rp[k].ext)
			ext = ext ? ext : &rp[k];
		else
			plain = plain ? plain : &rp[k];
	}
	/* name (lowercased, NUL-terminated) */
	po->name_off = (uint32_t)strs->len;
	po->name_len = (uint32_t)name.len;
	if ((rc = sl_buf_reserve(strs, name.len + 1)) < 0)
		return rc;
	for (size_t k = 0; k < name.len; k++)
		strs->data[strs->len++] = msg_lower(name.ptr[k]);
	strs->data[strs->len++] = 0;
	po->val_off = (uint32_t)strs->len;

	bool has_sections = false;
	for (uint32_t k = first; k < nrp; k++)
		if (name_eq(rp[k].name, name) && rp[k].section >= 0)
			has_sections = true;

	if (ext || (!plain && has_sections)) {
		/* RFC 2231: name*=charset'lang'value, or continuations name*0*,
		 * name*1, ... where only an extended section 0 carries the charset */
		sl_slice_t charset = {NULL, 0};
		if (ext) {
			rawp_t r = *ext;
			const uint8_t *q1 = memchr(r.value.ptr, '\'', r.value.len);
			const uint8_t *q2 = q1 ? memchr(q1 + 1, '\'', (size_t)(r.value.ptr + r.value.len - q1 - 1)) : NULL;
			if (q2) {
				charset = sl_slice_make(r.value.ptr, (size_t)(q1 - r.value.ptr));
				r.value = sl_slice_make(q2 + 1, (size_t)(r.value.ptr + r.value.len - q2 - 1));
			} else {
				*anom |= MSG_ANOM_BAD_PARAM;
			}
			if ((rc = put_val(tmp, &r)) < 0)
				return rc;
			pct_decode(tmp, 0, anom);
		} else {
			for (int sec = 0; sec <= RAWP_MAX; sec++) {
				const rawp_t *found = NULL;
				for (uint32_t k = first; k < nrp && !found; k++)
					if (name_eq(rp[k].name, name) && rp[k].section == sec)
						found = &rp[k];
				if (!found) {
					/* a gap: what follows it is ignored, as clients do */
					for (uint32_t k = first; k < nrp; k++)
						if (name_eq(rp[k].name, name) && rp[k].section > sec)
							*anom |= MSG_ANOM_BAD_PARAM;
					break;
				}
				rawp_t r = *found;
				if (r.ext && sec == 0) {
					const uint8_t *q1 = memchr(r.value.ptr, '\'', r.value.len);
					const uint8_t *q2 = q1 ? memchr(q1 + 1, '\'', (size_t)(r.value.ptr + r.value.len - q1 - 1)) : NULL;
					if (q2) {
						charset = sl_slice_make(r.value.ptr, (size_t)(q1 - r.value.ptr));
						r.value = sl_slice_make(q2 + 1, (size_t)(r.value.ptr + r.value.len - q2 - 1));
					}
				}
				size_t from = tmp->len;
				if ((rc = put_val(tmp, &r)) < 0)
					return rc;
				if (r.ext)
					pct_decode(tmp, from, anom);
			}
		}
		sl_slice_t v = sl_buf_slice(tmp);
		rc = charset.len ? msg_charset_to_utf8(charset, v, strs, anom) : put_raw(strs, v.ptr, v.len, anom);
		if (rc < 0)
			return rc;
	} else if (plain) {
		if ((rc = put_val(tmp, plain)) < 0)
			return rc;
		/* RFC 2047 words inside a quoted value: wrong, but clients decode
		 * them; never in a boundary, which must stay byte for byte */
		if (name_eq(name, SL_SLICE_LIT("boundary")))
			rc = sl_buf_append(strs, tmp->data, tmp->len);
		else
			rc = msg_hdr_decode(sl_buf_slice(tmp), strs, anom);
		if (rc < 0)
			return rc;
	}
	po->val_len = (uint32_t)(strs->len - po->val_off);
	if ((rc = sl_buf_append(strs, "", 1)) < 0)
		return rc;
	return 0;
}

int msg_ctype_parse(sl_slice_t in, bool with_subtype, msg_ctype_t *ct, sl_buf_t *strs,
		    msg_param_off_t *po, uint32_t maxp, uint32_t *anom)
{
	const uint8_t *s = in.ptr;
	size_t n = in.len, i, t;
	rawp_t rp[RAWP_MAX];
	uint32_t nrp = 0;
	int rc = 0;

	memset(ct, 0, sizeof(*ct));
	i = skip_cfws(s, n, 0);
	t = i;
	while (i < n && !is_tspecial_or_ctl(s[i]))
		i++;
	ct->type = sl_slice_make(s + t, i - t);
	if (ct->type.len == 0)
		return -1;
	if (with_subtype) {
		i = skip_cfws(s, n, i);
		if (i >= n || s[i] != '/')
			return -1;
		i = skip_cfws(s, n, i + 1);
		t = i;
		while (i < n && !is_tspecial_or_ctl(s[i]))
			i++;
		ct->subtype = sl_slice_make(s + t, i - t);
		if (ct->subtype.len == 0)
			return -1;
	}
	/* parameters: ; name[*N][*] = value */
	while (i < n) {
		i = skip_cfws(s, n, i);
		if (i >= n)
			break;
		if (s[i] != ';') {
			/* junk between parameters: skip to the next ';' */
			while (i < n && s[i] != ';')
				i++;
			continue;
		}
		i = skip_cfws(s, n, i + 1);
		t = i;
		while (i < n && !is_tspecial_or_ctl(s[i]))
			i++;
		sl_slice_t full = sl_slice_make(s + t, i - t);
		i = skip_cfws(s, n, i);
		if (full.len == 0 || i >= n || s[i] != '=')
			continue;
		i = skip_cfws(s, n, i + 1);
		rawp_t r = {0};
		r.section = -1;
		if (i < n && s[i] == '"') {
			t = ++i;
			while (i < n && s[i] != '"') {
				if (s[i] == '\\' && i + 1 < n)
					i++;
				i++;
			}
			r.value = sl_slice_make(s + t, (i < n ? i : n) - t);
			r.quoted = true;
			if (i < n)
				i++;
		} else {
			/* token; clients also take unquoted values with spaces */
			t = i;
			while (i < n && s[i] != ';')
				i++;
			size_t e = i;
			while (e > t && msg_is_wsp(s[e - 1]))
				e--;
			r.value = sl_slice_make(s + t, e - t);
		}
		/* name*N* / name*N / name* / name */
		sl_slice_t nm = full;
		if (nm.len && nm.ptr[nm.len - 1] == '*') {
			r.ext = true;
			nm.len--;
		}
		const uint8_t *star = memchr(nm.ptr, '*', nm.len);
		if (star) {
			size_t k = (size_t)(star - nm.ptr) + 1;
			long sec = 0;
			bool ok = k < nm.len;
			for (; k < nm.len; k++) {
				if (nm.ptr[k] < '0' || nm.ptr[k] > '9' || sec > 100000) {
					ok = false;
					break;
				}
				sec = sec * 10 + (nm.ptr[k] - '0');
			}
			if (!ok) {
				*anom |= MSG_ANOM_BAD_PARAM;
				continue;
			}
			r.section = (int)sec;
			nm.len = (size_t)(star - nm.ptr);
		}
		r.name = nm;
		if (nrp >= RAWP_MAX) {
			*anom |= MSG_ANOM_HEADER_LIMIT;
			break;
		}
		rp[nrp++] = r;
	}
	/* merge, in order of first appearance */
	sl_buf_t tmp;
	sl_buf_init(&tmp, in.len + 16);
	for (uint32_t k = 0; k < nrp; k++) {
		bool seen = false;
		for (uint32_t j = 0; j < k && !seen; j++)
			seen = name_eq(rp[j].name, rp[k].name);
		if (seen)
			continue;
		if (ct->nparams >= maxp) {
			*anom |= MSG_ANOM_HEADER_LIMIT;
			break;
		}
		rc = merge_param(rp, nrp, k, strs, &po[ct->nparams], &tmp, anom);
		if (rc < 0) {
			/* the string store is full: keep what fits */
			*anom |= MSG_ANOM_HEADER_LIMIT;
			rc = 0;
			break;
		}
		ct->nparams++;
	}
	sl_buf_free(&tmp);
	return rc;
}
