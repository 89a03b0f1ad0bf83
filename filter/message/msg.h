/* msg - the streaming MIME parser and decoders (issue 5, issue 6).
 *
 * One parser per message. The caller feeds the raw message (RFC 5322 +
 * MIME, CRLF or bare LF line ends) in chunks of any size, in order, then
 * calls msg_parser_finish(). The parser never needs the message contiguous,
 * keeps bounded memory (msg_limits_t), never recurses on input depth, and
 * reports what it finds through callbacks (msg_callbacks_t), in this order
 * for every part:
 *
 *     part_begin, header*, (body | text | rawbody | url)*, part_end
 *
 * Parts nest: a multipart's children (and a message/rfc822's message) are
 * reported between its part_begin and its part_end.
 *
 * The part tree. The root (depth 0, path "") is the message itself. A child
 * of a multipart at path P is "P.i" (i from 1; "i" when P is ""). The message
 * inside a message/rfc822 part is a part of its own (is_message, depth + 1)
 * that carries the same path as the message/rfc822 part, because IMAP
 * numbers the two the same (RFC 3501 §6.4.5). These are IMAP section paths.
 *
 * Malformed input never fails the parse; it degrades the way mail clients
 * do and sets an anomaly flag (MSG_ANOM_*), per part and for the message.
 * Hard limits (depth, part count) stop the descent: the remaining structure
 * is kept as opaque body of the innermost allowed part, the flag is set, and
 * msg_parser_finish() returns SL_ELIMIT so the caller can give a verdict.
 *
 * Threading: a parser is owned by one thread (one lcore). */
#ifndef MSG_H
#define MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sl_buf.h"

/* Hard limits. Zero fields are replaced by the defaults (msg_limits_default). */
typedef struct msg_limits {
	uint32_t max_depth;        /* nesting of multipart/message parts (default 32) */
	uint32_t max_parts;        /* parts per message, root included (default 1000) */
	uint32_t max_headers;      /* header fields per part (default 512) */
	uint32_t max_header_bytes; /* raw header block of one part (default 256 KiB) */
	uint32_t max_field_bytes;  /* one unfolded header field (default 64 KiB) */
	uint32_t max_params;       /* parameters per Content-Type/-Disposition (default 64) */
	uint32_t max_urls;         /* URL events per message (default 1000) */
	uint32_t max_url_bytes;    /* longest URL reported (default 2048) */
} msg_limits_t;

/* Anomalies: bits the rule engine can score. Per part and OR-ed per message. */
enum msg_anomaly {
	MSG_ANOM_BAD_BASE64 = 1u << 0,      /* non-alphabet bytes or bad padding in base64 */
	MSG_ANOM_BAD_QP = 1u << 1,          /* invalid =XX escape in quoted-printable */
	MSG_ANOM_BAD_UUENCODE = 1u << 2,    /* malformed uuencoded line */
	MSG_ANOM_MISSING_BOUNDARY = 1u << 3,/* multipart without boundary parameter */
	MSG_ANOM_BAD_BOUNDARY = 1u << 4,    /* boundary empty, > 70 chars, or reused by a nested part */
	MSG_ANOM_NO_CLOSE_BOUNDARY = 1u << 5,/* multipart ended without its close delimiter */
	MSG_ANOM_NO_PARTS = 1u << 6,        /* multipart with no delimiter at all */
	MSG_ANOM_BAD_ENCODED_WORD = 1u << 7,/* RFC 2047 word malformed or undecodable */
	MSG_ANOM_CHARSET_UNKNOWN = 1u << 8, /* charset iconv does not know: passed through */
	MSG_ANOM_CHARSET_INVALID = 1u << 9, /* bytes invalid in the declared charset */
	MSG_ANOM_8BIT_HEADER = 1u << 10,    /* raw 8-bit bytes in a header */
	MSG_ANOM_BAD_HEADER = 1u << 11,     /* a header line without a colon, or NUL */
	MSG_ANOM_HEADER_LIMIT = 1u << 12,   /* header count/size limit: fields dropped */
	MSG_ANOM_DEPTH_LIMIT = 1u << 13,    /* nesting limit: inner structure not parsed */
	MSG_ANOM_PART_LIMIT = 1u << 14,     /* part count limit: further parts not parsed */
	MSG_ANOM_URL_LIMIT = 1u << 15,      /* URL limit: further URLs not reported */
	MSG_ANOM_BAD_CTE = 1u << 16,        /* unknown Content-Transfer-Encoding (taken as 8bit) */
	MSG_ANOM_BAD_CONTENT_TYPE = 1u << 17,/* Content-Type unparsable (taken as text/plain) */
	MSG_ANOM_DUP_HEADER = 1u << 18,     /* a second Content-Type/-Transfer-Encoding/-Disposition */
	MSG_ANOM_ENCODED_RFC822 = 1u << 19, /* message/rfc822 with base64/QP: not descended */
	MSG_ANOM_NUL = 1u << 20,            /* NUL byte in the message */
	MSG_ANOM_TRUNCATED = 1u << 21,      /* input ended inside a header block or encoded unit */
	MSG_ANOM_BAD_PARAM = 1u << 22,      /* RFC 2231 continuation gap / bad percent escape */
};

/* Content-Transfer-Encoding. */
enum msg_cte {
	MSG_CTE_7BIT = 0, /* also the default when absent */
	MSG_CTE_8BIT,
	MSG_CTE_BINARY,
	MSG_CTE_QP,
	MSG_CTE_BASE64,
	MSG_CTE_UUENCODE, /* x-uuencode, x-uue, uuencode */
	MSG_CTE_UNKNOWN,  /* anything else: passed through as 8bit */
};

enum msg_disp {
	MSG_DISP_NONE = 0, /* no Content-Disposition */
	MSG_DISP_INLINE,
	MSG_DISP_ATTACHMENT,
	MSG_DISP_OTHER, /* another token: see disp_type */
};

/* One parameter (name=value), after RFC 2231 merging and decoding.
 * NAME is lowercased ASCII; VALUE is UTF-8. */
typedef struct msg_param {
	sl_slice_t name;
	sl_slice_t value;
} msg_param_t;

/* What is known about a part at part_begin. Every slice points into the
 * parser and stays valid until this part's part_end returns. Strings are
 * decoded to UTF-8 unless said otherwise; absent fields are {NULL, 0}. */
typedef struct msg_part {
	uint32_t index;       /* 0-based, in stream order (root = 0) */
	uint32_t parent;      /* index of the parent; UINT32_MAX for the root */
	uint32_t depth;       /* root = 0 */
	const char *path;     /* IMAP section path, NUL-terminated ("" = root) */
	bool is_message;      /* its header is a message header (root, or in message/rfc822) */
	bool is_multipart;    /* type "multipart" with a usable boundary */
	bool is_rfc822;       /* message/rfc822 (or message/global) that is descended into */
	bool is_attachment;   /* disposition attachment, or a filename, or a non-text leaf */
	bool is_text;         /* body events carry UTF-8 (type text, not an attachment) */
	sl_slice_t type;      /* lowercased; "text" when absent/invalid (RFC 2045 §5.2) */
	sl_slice_t subtype;   /* lowercased; "plain" by default ("rfc822" in multipart/digest) */
	const msg_param_t *params; /* Content-Type parameters */
	uint32_t nparams;
	sl_slice_t charset;   /* lowercased charset parameter, {NULL,0} if absent */
	sl_slice_t boundary;  /* multipart boundary (raw bytes) */
	enum msg_cte cte;
	sl_slice_t cte_raw;   /* the Content-Transfer-Encoding value, raw */
	enum msg_disp disp;
	sl_slice_t disp_type; /* lowercased disposition token */
	const msg_param_t *disp_params;
	uint32_t ndisp_params;
	sl_slice_t filename;  /* disposition filename, else Content-Type name */
	sl_slice_t content_id;   /* raw, unfolded (BODYSTRUCTURE body-fld-id) */
	sl_slice_t description;  /* raw, unfolded (body-fld-desc) */
	sl_slice_t md5;          /* raw Content-MD5 */
	sl_slice_t language;     /* raw Content-Language */
	sl_slice_t location;     /* raw Content-Location */
	/* Offsets in the raw message (bytes from the first byte fed). */
	uint64_t header_off;  /* first byte of the part's header block */
	uint64_t body_off;    /* first byte after the blank line ending the header */
	/* Known only at part_end (zero before): */
	uint64_t body_end;    /* end of the body (the CRLF before a delimiter is not body) */
	uint64_t body_lines;  /* LF count in [body_off, body_end) */
	uint32_t anomalies;   /* MSG_ANOM_* seen in this part (not its children) */
} msg_part_t;

/* One header field. NAME is raw (no colon); RAW_VALUE is the value with
 * folding removed (CRLF dropped, the whitespace kept) and leading whitespace
 * trimmed; VALUE is RAW_VALUE with RFC 2047 words decoded and every charset
 * turned into UTF-8. OFFSET is the field's first byte in the message. */
typedef struct msg_header {
	sl_slice_t name;
	sl_slice_t raw_value;
	sl_slice_t value;
	uint64_t offset;
} msg_header_t;

/* Callbacks; any may be NULL. Each returns 0 to go on, or a negative value
 * to stop: the feed call that is running returns that value and the parser
 * refuses further input (SL_ESTATE). Slices are valid during the call only.
 *
 * body: the decoded body of a leaf part, in pieces: UTF-8 for is_text parts
 *       (transfer decoding + charset conversion), binary bytes otherwise.
 * text: human-readable UTF-8 text of is_text parts: for text/html the text
 *       with tags stripped, script/style dropped and entities decoded; for
 *       any other text subtype the same bytes as body.
 * rawbody: the undecoded body bytes of a leaf part, as in the message.
 * url: a URL found in text (scheme://..., mailto:, bare www.host) or in an
 *      HTML href/src/action attribute, at most max_urls per message. With
 *      no url callback, text is not scanned for URLs at all (and
 *      MSG_ANOM_URL_LIMIT is only raised by HTML attributes). */
typedef struct msg_callbacks {
	void *ctx;
	int (*part_begin)(void *ctx, const msg_part_t *part);
	int (*header)(void *ctx, const msg_part_t *part, const msg_header_t *h);
	int (*body)(void *ctx, const msg_part_t *part, sl_slice_t data);
	int (*text)(void *ctx, const msg_part_t *part, sl_slice_t utf8);
	int (*rawbody)(void *ctx, const msg_part_t *part, sl_slice_t data);
	int (*url)(void *ctx, const msg_part_t *part, sl_slice_t url);
	int (*part_end)(void *ctx, const msg_part_t *part);
} msg_callbacks_t;

typedef struct msg_parser msg_parser_t;

/* msg_limits_default - fill L with the default limits. */
void msg_limits_default(msg_limits_t *l);

/* msg_parser_new - a parser with LIMITS (NULL: defaults; zero fields take
 * the default) and CB (copied; NULL: no callbacks). Returns NULL only when
 * memory is exhausted. Free with msg_parser_free. */
msg_parser_t *msg_parser_new(const msg_limits_t *limits, const msg_callbacks_t *cb);

/* msg_parser_reset - start a new message with the same limits and
 * callbacks, keeping allocations (no malloc per message after warm-up). */
void msg_parser_reset(msg_parser_t *p);

/* msg_parser_feed - the next LEN bytes of the raw message (borrowed; may be
 * split anywhere). 0, a callback's negative return (then the parser is
 * stopped), SL_ESTATE after finish or a stop, SL_ENOMEM. Malformed input
 * and limits never fail a feed. */
int msg_parser_feed(msg_parser_t *p, const void *data, size_t len);

/* msg_parser_finish - end of message: closes every open part (part_end for
 * each). 0; SL_ELIMIT when a depth or part limit was hit (*ERROR_R says
 * which; static string); a callback's negative return; SL_ESTATE when
 * already finished/stopped. */
int msg_parser_finish(msg_parser_t *p, const char **error_r);

/* msg_parser_anomalies - OR of every part's anomalies so far. */
uint32_t msg_parser_anomalies(const msg_parser_t *p);
/* msg_parser_nparts - parts begun so far. */
uint32_t msg_parser_nparts(const msg_parser_t *p);
/* msg_parser_size - bytes fed so far. */
uint64_t msg_parser_size(const msg_parser_t *p);

/* msg_parser_free - release P and set *P to NULL (NULL-safe). */
void msg_parser_free(msg_parser_t **p);

/* msg_anomaly_name - short name of one MSG_ANOM_* bit ("bad_base64"), or
 * "unknown". Static string. */
const char *msg_anomaly_name(uint32_t bit);

/* --- Decoding helpers (also used by the parser) ------------------------ */

/* msg_hdr_decode - decode RFC 2047 encoded words in a header value IN and
 * convert to UTF-8 into OUT (appended). Whitespace between two adjacent
 * encoded words is dropped (§6.2); words in any charset are turned into
 * UTF-8; malformed words are kept as is. Raw 8-bit bytes are kept when they
 * are valid UTF-8, else read as windows-1252. *ANOM_R (may be NULL) gets
 * MSG_ANOM_* bits OR-ed in. 0, SL_ELIMIT (OUT's maximum), SL_ENOMEM. */
int msg_hdr_decode(sl_slice_t in, sl_buf_t *out, uint32_t *anom_r);

/* msg_charset_to_utf8 - convert IN from CHARSET (any case; aliases as mail
 * clients read them: iso-8859-1 -> windows-1252, gb2312 -> gb18030, ...)
 * into OUT. Invalid bytes become U+FFFD. Returns 0, 1 when CHARSET is unknown
 * (IN then copied as is), SL_ELIMIT, SL_ENOMEM. *ANOM_R as above. */
int msg_charset_to_utf8(sl_slice_t charset, sl_slice_t in, sl_buf_t *out, uint32_t *anom_r);

#endif
