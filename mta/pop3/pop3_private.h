/* pop3_private - internals of the POP3 engine; only mta/pop3/ includes it. */
#ifndef POP3_PRIVATE_H
#define POP3_PRIVATE_H

#include "pop3_session.h"
#include "sl_buf.h"

/* Output room that must be free before a command is parsed: the longest
 * single-line reply plus a trailing -ERR. */
#define POP3_REPLY_RESERVE 1024u
/* A listing line: "4294967295 " + 20 digits or a 70-char uid + CRLF. */
#define POP3_LIST_LINE_MAX 96u
#define POP3_USER_MAX 255u
#define POP3_CRED_MAX 1024u /* decoded credentials: user + password */

enum pop3_state {
	POP3_S_AUTH = 0, /* AUTHORIZATION (RFC 1939 §4) */
	POP3_S_TRANS,    /* TRANSACTION (§5) */
	POP3_S_UPDATE,   /* UPDATE (§6): the commit is outstanding */
	POP3_S_CLOSED    /* closing: input dropped */
};

/* A multi-line reply in progress: it is produced as the output drains, so
 * a 100k-message LIST or a 50 MB RETR never needs more than output_max. */
enum pop3_stream_kind {
	POP3_ST_NONE = 0,
	POP3_ST_LIST,  /* LIST without argument */
	POP3_ST_UIDL,  /* UIDL without argument */
	POP3_ST_MSG    /* RETR / TOP: body fetched in FETCH requests */
};

struct pop3_stream {
	enum pop3_stream_kind kind;
	uint32_t next;       /* listing: next message index */
	uint32_t msg;        /* RETR/TOP: message index */
	uint64_t off;        /* body bytes fetched and handled */
	uint64_t size;       /* listed size: never fetch beyond */
	uint32_t got;        /* bytes of the outstanding FETCH received */
	bool started;        /* the +OK line is out (first chunk arrived) */
	bool done;           /* nothing more to send but the terminator */
	bool bol;            /* at the start of a line */
	bool crlf;           /* the output so far ends in CRLF (or is empty) */
	bool prev_cr;        /* the last byte was CR */
	uint64_t line_bytes; /* bytes since the start of the line */
	/* TOP (RFC 1939 §7): headers, the blank line, then top_lines lines */
	bool top;
	bool in_header;
	uint64_t top_lines;
	uint64_t body_lines;
};

struct pop3_msg {
	uint64_t id;
	uint64_t size;
	uint32_t uid_off; /* into uids */
	uint8_t uid_len;
	bool deleted;
};

struct pop3_session {
	const struct pop3_config *cfg;
	struct pop3_stats *stats;
	struct pop3_stats stats_dummy;

	char client_ip[64];
	uint64_t conn_id;
	bool tls;

	enum pop3_state state;
	uint32_t errors;
	uint32_t auth_failures;
	uint64_t now;
	uint64_t last_active; /* idle timer base: input or output progress */

	/* USER name waiting for PASS */
	char user[POP3_USER_MAX + 1];
	size_t user_len;
	bool user_set;
	/* the authenticated user */
	char auth_user[POP3_USER_MAX + 1];
	size_t auth_user_len;

	/* failed-login delay: the -ERR is held until delay_until */
	bool delaying;
	uint64_t delay_until;

	/* input: pending bytes live in in.data[in_off..in.len) */
	sl_buf_t in;
	size_t in_off;
	size_t scan_off;
	bool skipping; /* discarding the rest of an over-long line */
	size_t line_hard_max;
	bool in_sasl;  /* the next line is a SASL response */

	sl_buf_t out;
	size_t greeting_len; /* the greeting, while none of it has been sent */

	struct pop3_request req;
	uint8_t cred[POP3_CRED_MAX]; /* decoded credentials while AUTH runs */
	size_t cred_len;

	/* maildrop */
	struct pop3_msg *msgs;
	uint32_t nmsgs;
	uint32_t msgs_cap;
	sl_buf_t uids;
	uint64_t total_size;
	uint32_t ndeleted;
	uint64_t deleted_size;
	uint64_t *update_ids;

	struct pop3_stream st;
};

/* pop3_session.c */
void pop3_reply(pop3_session_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void pop3_reply_error(pop3_session_t *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* pop3_out - raw bytes into the output (room was checked by the caller). */
void pop3_out(pop3_session_t *s, const void *p, size_t n);
size_t pop3_out_room(const pop3_session_t *s);
void pop3_close(pop3_session_t *s);
void pop3_request_issue(pop3_session_t *s, enum pop3_req_kind kind);
void pop3_cred_wipe(pop3_session_t *s);
void pop3_maildrop_drop(pop3_session_t *s);

/* pop3_cmd.c */
void pop3_greeting(pop3_session_t *s);
void pop3_cmd_line(pop3_session_t *s, const uint8_t *line, size_t len);
void pop3_sasl_line(pop3_session_t *s, const uint8_t *line, size_t len);

/* pop3_stream.c */
void pop3_stream_start_list(pop3_session_t *s, enum pop3_stream_kind kind);
void pop3_stream_start_msg(pop3_session_t *s, uint32_t idx, bool top, uint64_t top_lines);
/* pop3_stream_pump - produce what fits; issue a FETCH when one is due.
 * True if anything happened. */
bool pop3_stream_pump(pop3_session_t *s);
void pop3_stream_bytes(pop3_session_t *s, const uint8_t *p, size_t n);
/* pop3_stream_fetch_end - the FETCH completed (ERR 0 or sl_err). */
void pop3_stream_fetch_end(pop3_session_t *s, int err);
bool pop3_streaming(const pop3_session_t *s);

#endif
