/* smtp_private - internals of the SMTP engine; only mta/smtp/ includes it. */
#ifndef SMTP_PRIVATE_H
#define SMTP_PRIVATE_H

#include <stdarg.h>

#include "sl_buf.h"
#include "smtp_session.h"

/* Room that must be free in the output before a command is parsed: the
 * longest reply the engine writes (EHLO, HELP) plus a trailing 421. */
#define SMTP_REPLY_RESERVE 1024u
/* RFC 5321 §4.5.3.1.1-3 */
#define SMTP_LOCAL_MAX 64u
#define SMTP_DOMAIN_MAX 255u
#define SMTP_PATH_MAX 256u
/* RFC 1870 §3 and RFC 3461 §5: command line allowances for parameters. */
#define SMTP_MAIL_EXTRA (26u + 100u)
#define SMTP_RCPT_EXTRA 500u
/* RFC 3461 §4.4: ENVID at most 100 characters; ORCPT 500. */
#define SMTP_ENVID_MAX 100u
#define SMTP_ORCPT_MAX 500u
#define SMTP_HELO_MAX 255u
#define SMTP_SASL_MAX 1024u /* decoded SASL credentials */

enum smtp_phase {
	SMTP_P_GREET_WAIT = 0, /* greeting delayed */
	SMTP_P_CMD,            /* reading command lines */
	SMTP_P_SASL,           /* reading SASL responses (AUTH in progress) */
	SMTP_P_DATA,           /* DATA: dot-framed message text */
	SMTP_P_BDAT,           /* BDAT: counted chunk bytes */
	SMTP_P_CLOSED          /* closing: input dropped */
};

enum smtp_helo { SMTP_HELO_NONE = 0, SMTP_HELO_HELO, SMTP_HELO_EHLO };
enum smtp_txn { SMTP_TXN_NONE = 0, SMTP_TXN_MAIL, SMTP_TXN_RCPT };

/* DATA framing (RFC 5321 §4.1.1.4, §4.5.2): where we are in the line. */
enum smtp_dstate {
	SMTP_D_BOL = 0, /* at the start of a line */
	SMTP_D_DOT,     /* "." at the start of a line */
	SMTP_D_DOTCR,   /* ".\r" at the start of a line */
	SMTP_D_MID,     /* inside a line */
	SMTP_D_CR       /* "\r" inside a line */
};

/* Why a streaming transaction already failed (reply at end of data). */
enum smtp_tfail {
	SMTP_TF_NONE = 0,
	SMTP_TF_BARE_EOL,  /* bare CR/LF in strict mode */
	SMTP_TF_OVERSIZE,  /* message_max passed */
	SMTP_TF_LINE,      /* text line over text_line_max */
	SMTP_TF_STORE_TMP, /* msg_data hook failed: 451 */
	SMTP_TF_STORE_FULL,/* msg_data hook failed: 452 */
	SMTP_TF_BDAT_CMD   /* BDAT refused before its bytes (reply kept) */
};

enum smtp_sasl_step {
	SMTP_SASL_NONE = 0,
	SMTP_SASL_PLAIN,      /* waiting for the PLAIN response */
	SMTP_SASL_LOGIN_USER, /* waiting for the LOGIN user name */
	SMTP_SASL_LOGIN_PASS  /* waiting for the LOGIN password */
};

struct smtp_rcpt_rec {
	uint32_t addr_off, addr_len;
	uint32_t orcpt_off, orcpt_len;
	uint8_t notify;
	uint8_t klass;
};

/* The recipient being checked while a RCPT request is outstanding. */
struct smtp_rcpt_pending {
	char addr[SMTP_PATH_MAX + 1];
	size_t addr_len;
	size_t local_off, local_len; /* into local_buf */
	char local_buf[SMTP_LOCAL_MAX + 1];
	size_t domain_off, domain_len; /* into addr */
	char orcpt[SMTP_ORCPT_MAX + 1];
	size_t orcpt_len;
	unsigned notify;
};

struct smtp_session {
	const struct smtp_config *cfg;
	const struct smtp_hooks *hooks;
	struct smtp_stats *stats;
	struct smtp_stats stats_dummy;

	/* peer */
	char client_ip[64];
	char client_rdns[256];
	uint64_t conn_id;
	bool tls;
	char tls_desc[112]; /* "TLSv1.3 with cipher X", or "" */

	enum smtp_phase phase;
	enum smtp_helo helo_kind;
	char helo[SMTP_HELO_MAX + 1];
	size_t helo_len;
	bool authenticated;
	char auth_user[256];
	size_t auth_user_len;
	uint32_t errors;
	uint32_t auth_failures;
	uint64_t now;
	uint64_t deadline;

	/* input: pending bytes live in in.data[in_off..in.len) */
	sl_buf_t in;
	size_t in_off;
	size_t scan_off;   /* bytes of the pending line already scanned for LF */
	bool skipping;     /* discarding the rest of an over-long line */
	size_t line_hard_max;

	sl_buf_t out;

	/* request */
	struct smtp_request req;
	struct smtp_rcpt_pending rp;

	/* SASL */
	enum smtp_sasl_step sasl_step;
	uint8_t sasl[SMTP_SASL_MAX];
	size_t sasl_len;       /* decoded bytes held (PLAIN blob or LOGIN user) */
	size_t sasl_user_len;  /* LOGIN: user name length inside sasl[] */
	bool sasl_plain;       /* the pending AUTH request is PLAIN */

	/* transaction */
	enum smtp_txn txn;
	char queue_id[SMTP_QUEUE_ID_MAX];
	size_t queue_id_len;
	uint32_t txn_seq;
	sl_buf_t txn_str; /* strings of the transaction, referenced by offset */
	uint32_t from_off, from_len;
	uint32_t envid_off, envid_len;
	enum smtp_dsn_ret ret;
	enum smtp_body body;
	bool smtputf8;
	uint64_t size_declared;
	struct smtp_rcpt_rec *rcpts; /* rcpt_max entries, allocated on first use */
	size_t nrcpt;
	bool bdat_used;     /* this transaction used BDAT: no DATA */
	bool msg_open;      /* msg_begin called, no deliver/abort yet */
	bool msg_sink_failed; /* msg_data hook failed: no more chunks */
	uint64_t msg_size;  /* content bytes (after unstuffing) */
	uint64_t t_mail, t_data;

	/* streaming */
	enum smtp_dstate dstate;
	bool bol_real;      /* the current line began after a real CRLF */
	uint64_t line_len;  /* bytes in the current text line */
	enum smtp_tfail tfail;
	uint64_t bdat_left; /* BDAT bytes still to read */
	bool bdat_last;
	char bdat_reply[128]; /* reply for a BDAT refused before its bytes */

	/* final verdict for the txlog */
	struct smtp_verdict verdict;
};

/* smtp_session.c */
void smtp_reply(smtp_session_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void smtp_reply_error(smtp_session_t *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void smtp_close(smtp_session_t *s);
void smtp_request_issue(smtp_session_t *s, enum smtp_req_kind kind);
void smtp_txn_reset(smtp_session_t *s);
void smtp_txn_abandon(smtp_session_t *s);
void smtp_session_forget(smtp_session_t *s);
int smtp_txn_str_add(smtp_session_t *s, const void *p, size_t n, uint32_t *off_r);
void smtp_txn_finish(smtp_session_t *s, uint16_t code, const char *reply, size_t reply_len);
void smtp_deadline_refresh(smtp_session_t *s);

/* smtp_cmd.c */
void smtp_cmd_line(smtp_session_t *s, const uint8_t *line, size_t len);
void smtp_greeting(smtp_session_t *s);

/* smtp_data.c */
size_t smtp_data_feed(smtp_session_t *s, const uint8_t *p, size_t n);
size_t smtp_bdat_feed(smtp_session_t *s, const uint8_t *p, size_t n);
int smtp_msg_start(smtp_session_t *s);
void smtp_msg_end(smtp_session_t *s);
void smtp_msg_abort(smtp_session_t *s);
void smtp_bdat_chunk_done(smtp_session_t *s);

/* smtp_auth.c */
void smtp_auth_start(smtp_session_t *s, sl_slice_t args);
void smtp_auth_response(smtp_session_t *s, const uint8_t *line, size_t len);
void smtp_auth_wipe(smtp_session_t *s);

/* smtp_addr.c */
struct smtp_path {
	size_t addr_off, addr_len;     /* mailbox inside the parsed text */
	size_t local_off, local_len;   /* local part as written */
	size_t domain_off, domain_len; /* domain or address literal */
	bool null_path;                /* "<>" */
	bool utf8;                     /* contains non-ASCII */
	bool quoted;                   /* local part was a quoted string */
};
/* smtp_path_parse - parse "<...>" at P (RFC 5321 §4.1.2). *END_R is the
 * index after ">". Returns 0, SL_EINVAL (syntax: *WHY_R says why) or
 * SL_ELIMIT (a length limit of §4.5.3.1). */
int smtp_path_parse(const uint8_t *p, size_t n, bool allow_null, struct smtp_path *path_r,
		    size_t *end_r, const char **why_r);
/* smtp_local_unquote - local part without quoting. Returns length or -1. */
long smtp_local_unquote(const uint8_t *p, size_t n, char *out, size_t out_max);
bool smtp_xtext_valid(const uint8_t *p, size_t n);
bool smtp_utf8_valid(const uint8_t *p, size_t n);

#endif
