/* msg_private - internals shared by the files of filter/message/. */
#ifndef MSG_PRIVATE_H
#define MSG_PRIVATE_H

#include <iconv.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "message/msg.h"
#include "sl_buf.h"

#define MSG_BOUNDARY_RFC_MAX 70 /* RFC 2046 §5.1.1 */
#define MSG_BOUNDARY_MAX 200    /* longer than this: not a usable boundary */
#define MSG_CHARSET_NAME_MAX 40

static inline uint8_t msg_lower(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

static inline bool msg_is_wsp(uint8_t c)
{
	return c == ' ' || c == '\t';
}

/* --- transfer decoders (msg_decode.c) ---------------------------------- */

/* Streaming base64: tolerant like mail clients. Bytes outside the alphabet
 * are skipped (flagged unless whitespace); '=' ends a quantum. */
typedef struct msg_b64 {
	uint32_t acc;
	uint8_t nbits;
	bool pad; /* saw '=' */
} msg_b64_t;

/* Streaming quoted-printable: soft breaks, invalid escapes kept. */
typedef struct msg_qp {
	uint8_t state; /* 0 text, 1 after '=', 2 after '=X', 3 '=' + CR, 4 '=' + WSP */
	uint8_t hold[8];
	uint8_t nhold;
} msg_qp_t;

/* Streaming uudecode of "begin ... end" blocks, line by line. */
typedef struct msg_uu {
	uint8_t line[128];
	uint16_t len;
	uint8_t state; /* 0 before begin, 1 in data, 2 after end */
	bool overlong;
} msg_uu_t;

/* Each decoder writes at most LEN (b64: LEN*3/4+3) bytes to OUT; returns the
 * count. *ANOM gets MSG_ANOM_* bits. */
size_t msg_b64_decode(msg_b64_t *s, const uint8_t *in, size_t len, uint8_t *out, uint32_t *anom);
size_t msg_qp_decode(msg_qp_t *s, const uint8_t *in, size_t len, uint8_t *out, uint32_t *anom);
/* msg_qp_flush - bytes held at the end of the body (an '=' not followed by
 * two hex digits) are written to OUT (room for 8). Returns the count. */
size_t msg_qp_flush(msg_qp_t *s, uint8_t *out, uint32_t *anom);
size_t msg_uu_decode(msg_uu_t *s, const uint8_t *in, size_t len, uint8_t *out, uint32_t *anom);
size_t msg_uu_flush(msg_uu_t *s, uint8_t *out, uint32_t *anom);

/* --- charsets (msg_charset.c) ------------------------------------------ */

enum msg_cs_kind {
	MSG_CS_UTF8 = 0,  /* utf-8, us-ascii, absent: bytes passed through */
	MSG_CS_ICONV,     /* converted with iconv */
	MSG_CS_UNKNOWN,   /* iconv does not know it: passed through, flagged */
};

/* msg_charset_canon - the iconv name for a MIME charset label (aliases as
 * clients read them) into OUT (MSG_CHARSET_NAME_MAX+1), and the kind. */
enum msg_cs_kind msg_charset_canon(sl_slice_t label, char *out);

/* A small cache of iconv handles to UTF-8, keyed by canonical name. */
#define MSG_ICONV_CACHE 4
typedef struct msg_iconv_cache {
	struct {
		char name[MSG_CHARSET_NAME_MAX + 1];
		iconv_t cd;
		uint32_t used;
	} e[MSG_ICONV_CACHE];
	uint32_t tick;
} msg_iconv_cache_t;

/* msg_iconv_get - a handle (reset to its initial state) for NAME, or
 * (iconv_t)-1 when iconv does not know it. */
iconv_t msg_iconv_get(msg_iconv_cache_t *c, const char *name);
void msg_iconv_cache_free(msg_iconv_cache_t *c);

/* msg_iconv_run - convert IN with CD into OUT (appended), all of it: invalid
 * bytes become U+FFFD (flag CHARSET_INVALID). With FINAL false, an
 * incomplete sequence at the end is left unconsumed: *USED_R says how much
 * of IN was used. 0, SL_ELIMIT, SL_ENOMEM. */
int msg_iconv_run(iconv_t cd, const uint8_t *in, size_t len, bool final, sl_buf_t *out,
		  size_t *used_r, uint32_t *anom);

/* msg_utf8_valid - whether IN is valid UTF-8 (no overlongs, no surrogates). */
bool msg_utf8_valid(const uint8_t *in, size_t len);
/* msg_utf8_put - append code point CP as UTF-8 to OUT (room for 4); count. */
size_t msg_utf8_put(uint32_t cp, uint8_t *out);

/* --- headers (msg_header.c) -------------------------------------------- */

/* A parsed Content-Type / Content-Disposition: token and parameters. */
typedef struct msg_ctype {
	sl_slice_t type;    /* raw token before '/' (or the disposition token) */
	sl_slice_t subtype; /* raw token after '/' */
	uint32_t nparams;
} msg_ctype_t;

/* msg_ctype_parse - parse a Content-Type (WITH_SUBTYPE) or a
 * Content-Disposition value IN: tokens are returned as slices into IN; the
 * parameters are merged (RFC 2231 continuations, charsets, percent
 * escapes), decoded to UTF-8 (RFC 2047 words in quoted values too, as
 * clients accept them) and appended as NUL-terminated strings to STRS, with
 * {offset,len} pairs in PARAMS_OFF (up to MAXP entries, names lowercased).
 * Returns 0, or -1 when the type is unparsable. */
typedef struct msg_param_off {
	uint32_t name_off, name_len, val_off, val_len;
} msg_param_off_t;
int msg_ctype_parse(sl_slice_t in, bool with_subtype, msg_ctype_t *ct, sl_buf_t *strs,
		    msg_param_off_t *params_off, uint32_t maxp, uint32_t *anom);

/* --- HTML and URLs (msg_html.c) ---------------------------------------- */

typedef int (*msg_text_fn)(void *ctx, const uint8_t *p, size_t n);
typedef int (*msg_url_fn)(void *ctx, const uint8_t *p, size_t n);

/* Streaming URL finder over text. */
typedef struct msg_urlscan {
	uint8_t tok[2048 + 8];
	uint32_t len;
	uint32_t max;     /* max_url_bytes (<= 2048) */
	bool overflow;    /* token longer than max: rest skipped */
} msg_urlscan_t;

void msg_urlscan_init(msg_urlscan_t *u, uint32_t max);
int msg_urlscan_feed(msg_urlscan_t *u, const uint8_t *p, size_t n, msg_url_fn fn, void *ctx);
int msg_urlscan_flush(msg_urlscan_t *u, msg_url_fn fn, void *ctx);
/* msg_url_in_token - if TOK (a whitespace-free token) holds a URL, its
 * start and length in *OFF_R and *LEN_R, and 1; else 0. */
int msg_url_in_token(const uint8_t *tok, size_t len, size_t *off_r, size_t *len_r);

/* Streaming HTML to text. */
typedef struct msg_html {
	uint8_t state;
	uint8_t raw_kind;   /* 1 script, 2 style: content dropped */
	uint8_t match;      /* progress matching "</script" / "</style" */
	uint8_t quote;
	bool closing;       /* "</tag" */
	bool url_attr;      /* current attribute is href/src/action/background */
	bool last_space;    /* last text byte out was whitespace */
	uint8_t tag[16];    /* tag name (lowercased, truncated) */
	uint8_t ntag;
	uint8_t aname[16];  /* attribute name (lowercased, truncated) */
	uint8_t naname;
	uint8_t ent[40];    /* entity being read */
	uint8_t nent;
	uint8_t dashes;     /* comment end matching */
	uint8_t attr[2048 + 8]; /* URL attribute value */
	uint32_t nattr;
	uint32_t max_attr;
	uint8_t out[4096];
	uint32_t nout;
} msg_html_t;

void msg_html_init(msg_html_t *h, uint32_t max_url);
/* Text goes to TEXT_FN (in pieces), attribute URLs to URL_FN. */
int msg_html_feed(msg_html_t *h, const uint8_t *p, size_t n, msg_text_fn text_fn,
		  msg_url_fn url_fn, void *ctx);
int msg_html_flush(msg_html_t *h, msg_text_fn text_fn, msg_url_fn url_fn, void *ctx);
/* msg_entity_decode - decode the entity NAME (without '&' and ';', e.g.
 * "amp", "#65", "#x41") to UTF-8 in OUT (room for 8). Count, 0 if unknown. */
size_t msg_entity_decode(const uint8_t *name, size_t n, uint8_t *out);

#endif
