/* imap_binary - what BINARY (RFC 3516) needs beyond the section machinery
 * of imap_fetch.c: the Content-Transfer-Encoding of a part, read from its
 * MIME header, and a streaming transfer decoder.
 *
 * The decoder is filter/message's (base64, quoted-printable, uuencode): a
 * parser is fed a two-line header naming the part's encoding and then the
 * part's encoded bytes as they come from BODY requests; its body events are
 * the decoded bytes. The declared type is application/octet-stream so no
 * charset conversion happens: BINARY is transfer decoding only. Memory is
 * the parser's (bounded by its limits), made once per session and reused. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap_private.h"
#include "message/msg.h"
#include "sl_err.h"

struct imap_dec {
	msg_parser_t *p;
	imap_dec_sink_fn *sink;
	void *ctx;
};

static int imap_dec_body(void *ctx, const msg_part_t *part, sl_slice_t data)
{
	struct imap_dec *d = ctx;

	(void)part;
	d->sink(d->ctx, data);
	return 0;
}

int imap_dec_start(struct imap_dec **dp, enum imap_cte cte, imap_dec_sink_fn *sink, void *ctx)
{
	static const char *const hdr[] = {
		[IMAP_CTE_BASE64] = "Content-Type: application/octet-stream\r\n"
				    "Content-Transfer-Encoding: base64\r\n\r\n",
		[IMAP_CTE_QP] = "Content-Type: application/octet-stream\r\n"
				"Content-Transfer-Encoding: quoted-printable\r\n\r\n",
		[IMAP_CTE_UU] = "Content-Type: application/octet-stream\r\n"
				"Content-Transfer-Encoding: x-uuencode\r\n\r\n",
	};
	struct imap_dec *d = *dp;

	if (cte != IMAP_CTE_BASE64 && cte != IMAP_CTE_QP && cte != IMAP_CTE_UU)
		return SL_EINVAL;
	if (d == NULL) {
		msg_limits_t lim;
		msg_callbacks_t cb;

		d = calloc(1, sizeof(*d));
		if (d == NULL)
			return SL_ENOMEM;
		/* one leaf part: the smallest frame table the parser takes */
		memset(&lim, 0, sizeof(lim));
		lim.max_depth = 1;
		lim.max_parts = 2;
		lim.max_urls = 1;
		memset(&cb, 0, sizeof(cb));
		cb.ctx = d;
		cb.body = imap_dec_body;
		d->p = msg_parser_new(&lim, &cb);
		if (d->p == NULL) {
			free(d);
			return SL_ENOMEM;
		}
		*dp = d;
	} else {
		msg_parser_reset(d->p);
	}
	d->sink = sink;
	d->ctx = ctx;
	return msg_parser_feed(d->p, hdr[cte], strlen(hdr[cte]));
}

int imap_dec_feed(struct imap_dec *d, sl_slice_t enc)
{
	return msg_parser_feed(d->p, enc.ptr, enc.len);
}

int imap_dec_finish(struct imap_dec *d)
{
	const char *why;
	int rc = msg_parser_finish(d->p, &why);

	/* a depth or part limit cannot be hit by one leaf; anything else is
	 * the parser's own state error */
	return rc == SL_ELIMIT ? 0 : rc;
}

void imap_dec_free(struct imap_dec **dp)
{
	if (*dp == NULL)
		return;
	msg_parser_free(&(*dp)->p);
	free(*dp);
	*dp = NULL;
}

/* imap_cte_token - the encoding named by a Content-Transfer-Encoding
 * value (RFC 2045 §6.1: a case-insensitive token, comments allowed). */
static enum imap_cte imap_cte_token(const uint8_t *v, size_t n)
{
	static const struct {
		const char *name;
		enum imap_cte cte;
	} names[] = {{"7bit", IMAP_CTE_IDENTITY},
		     {"8bit", IMAP_CTE_IDENTITY},
		     {"binary", IMAP_CTE_IDENTITY},
		     {"base64", IMAP_CTE_BASE64},
		     {"quoted-printable", IMAP_CTE_QP},
		     {"x-uuencode", IMAP_CTE_UU},
		     {"x-uue", IMAP_CTE_UU},
		     {"uuencode", IMAP_CTE_UU}};
	char tok[32];
	size_t t = 0, i = 0;
	int depth = 0;
	bool ended = false; /* whitespace or a comment followed the token */

	/* drop comments and whitespace; what is left must be one token */
	for (i = 0; i < n; i++) {
		uint8_t c = v[i];

		if (c == '(') {
			depth++;
			ended = t > 0;
		} else if (c == ')' && depth > 0) {
			depth--;
		} else if (depth > 0) {
			if (c == '\\')
				i++;
		} else if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			ended = t > 0;
		} else {
			if (ended || t + 1 >= sizeof(tok))
				return IMAP_CTE_UNKNOWN;
			tok[t++] = (char)c;
		}
	}
	if (t == 0)
		return IMAP_CTE_IDENTITY; /* empty: as if absent (7bit) */
	tok[t] = 0;
	for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++)
		if (!strcasecmp(tok, names[k].name))
			return names[k].cte;
	return IMAP_CTE_UNKNOWN;
}

enum imap_cte imap_cte_of_header(const uint8_t *p, size_t n)
{
	static const char name[] = "content-transfer-encoding";
	const size_t nl = sizeof(name) - 1;
	size_t i = 0;

	while (i < n) {
		const uint8_t *lf = memchr(p + i, '\n', n - i);
		size_t end = lf ? (size_t)(lf - p) + 1 : n;

		if (end - i >= nl && !strncasecmp((const char *)p + i, name, nl)) {
			size_t j = i + nl;

			while (j < end && (p[j] == ' ' || p[j] == '\t'))
				j++;
			if (j < end && p[j] == ':') {
				/* the value with its continuation lines */
				size_t vs = j + 1, ve = end;

				while (ve < n && (p[ve] == ' ' || p[ve] == '\t')) {
					const uint8_t *l2 = memchr(p + ve, '\n', n - ve);

					ve = l2 ? (size_t)(l2 - p) + 1 : n;
				}
				return imap_cte_token(p + vs, ve - vs);
			}
		}
		if (end - i <= 2 && (p[i] == '\n' || (p[i] == '\r' && end - i == 2)))
			break; /* the blank line: end of the header */
		i = end;
	}
	return IMAP_CTE_IDENTITY; /* absent: 7bit (RFC 2045 §6.1) */
}
