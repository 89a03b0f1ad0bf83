/* smtp_session - the sans-IO SMTP server engine (RFC 5321 + ESMTP).
 *
 * One smtp_session_t per client connection. The engine never touches a
 * socket, a clock or the store. The glue (mta/) drives it:
 *
 *   bytes in      smtp_session_input()        client bytes, any split
 *   bytes out     smtp_session_output()       replies to send, then
 *                 smtp_session_output_consume()
 *   requests      smtp_session_request()      one outstanding at a time:
 *                 RCPT check, AUTH verify, DELIVER (durable commit),
 *                 STARTTLS; answered with the matching smtp_session_*_done()
 *   time          smtp_session_deadline() / smtp_session_timeout()
 *   streaming     hooks.msg_* get the message bytes (Received: header
 *                 first, dot-unstuffed) as they arrive; hooks.filter_* see
 *                 the same bytes and give a verdict at end of data
 *   accounting    hooks.txlog (one record per transaction), struct
 *                 smtp_stats (per-lcore counters)
 *
 * After every entry point the glue does the same three things: send what
 * smtp_session_output() holds, look at smtp_session_request(), and if the
 * session is closing (smtp_session_closing()) close the connection once the
 * output is flushed. Entry points never call back into the glue except
 * through the hooks listed in struct smtp_hooks, and hooks must not call
 * engine entry points (they may read the accessors).
 *
 * Every entry point takes now_us (monotonic microseconds, sl_time.h): the
 * engine reads no clock, so tests run in virtual time.
 *
 * Threading: a session belongs to one lcore; nothing here locks. */
#ifndef SMTP_SESSION_H
#define SMTP_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sl_buf.h"

typedef struct smtp_session smtp_session_t;

/* Which listener the session came in on. */
enum smtp_role {
	SMTP_ROLE_MX = 0,         /* port 25: inbound for local domains */
	SMTP_ROLE_SUBMISSION = 1, /* port 587: AUTH required before MAIL */
	SMTP_ROLE_SUBMISSIONS = 2 /* port 465: implicit TLS, AUTH required */
};

/* What to do with a bare CR or bare LF (SMTP smuggling, see docs/smtp.md). */
enum smtp_eol_mode {
	SMTP_EOL_STRICT = 0,   /* reject: 500 for a command, 554 for a message */
	SMTP_EOL_NORMALIZE = 1 /* accept and rewrite to CRLF; never ends DATA */
};

/* Per-lcore counters for `sluicectl show stats`. The engine only adds. */
struct smtp_stats {
	uint64_t sessions;          /* sessions created */
	uint64_t commands;          /* command lines parsed */
	uint64_t errors;            /* 4xx/5xx caused by client protocol errors */
	uint64_t disconnect_errors; /* sessions closed for too many errors */
	uint64_t pregreet;          /* clients that talked before the greeting */
	uint64_t timeouts;          /* sessions closed by a timeout */
	uint64_t line_too_long;     /* command or text lines over the limit */
	uint64_t bare_eol;          /* bare CR/LF seen (rejected or normalized) */
	uint64_t mail;              /* MAIL accepted */
	uint64_t rcpt_accepted;     /* RCPT accepted (local or authenticated relay) */
	uint64_t rcpt_unknown;      /* 550 5.1.1 */
	uint64_t rcpt_relay_denied; /* 554 5.7.1 */
	uint64_t rcpt_tempfail;     /* 451 / 452 */
	uint64_t msg_accepted;      /* 250 after a durable commit */
	uint64_t msg_rejected;      /* 5xx at end of data */
	uint64_t msg_tempfail;      /* 4xx at end of data */
	uint64_t msg_oversize;      /* SIZE= or streamed size over the limit */
	uint64_t msg_aborted;       /* connection lost or timed out in a transaction */
	uint64_t bytes_received;    /* message bytes (after unstuffing) */
	uint64_t auth_success;
	uint64_t auth_failure;
	uint64_t auth_lockout; /* sessions closed for too many AUTH failures */
	uint64_t starttls;     /* successful STARTTLS upgrades */
	uint64_t plaintext_discarded; /* bytes thrown away at STARTTLS */
};

/* smtp_stats_add - DST += SRC, field by field (summing per-lcore counters). */
void smtp_stats_add(struct smtp_stats *dst, const struct smtp_stats *src);
/* smtp_stats_format - append "smtp.<name> <value>\n" per counter to OUT,
 * for `sluicectl show stats`. 0, or SL_ELIMIT/SL_ENOMEM from sl_buf. */
int smtp_stats_format(const struct smtp_stats *st, sl_buf_t *out);

struct smtp_config {
	const char *hostname; /* our FQDN: greeting, EHLO, Received; required */
	enum smtp_role role;
	bool starttls_available;   /* the glue can upgrade (certificate loaded) */
	bool allow_plaintext_auth; /* offer AUTH before TLS is active */
	bool require_tls;          /* MAIL and AUTH answer 530 5.7.0 until TLS
				      is active (RFC 3207 §4) */
	bool vrfy_enabled;         /* VRFY answers 252, else 502 */
	bool expn_enabled;         /* EXPN answers 252, else 502 */
	enum smtp_eol_mode eol_mode;
	/* Limits, RFC 5321 §4.5.3.1. Lengths include the CRLF. */
	uint32_t cmd_line_max;  /* command line, §4.5.3.1.4: 512. MAIL gets
				 * +126 (SIZE, RFC 1870; RET/ENVID, RFC 3461)
				 * and RCPT +500 (NOTIFY/ORCPT, RFC 3461) */
	uint32_t text_line_max; /* message text line, §4.5.3.1.6: 1000; 0 = none */
	uint32_t auth_line_max; /* AUTH and SASL response lines, RFC 4954 §4: 12288 */
	uint64_t message_max;   /* message bytes, advertised as SIZE */
	uint32_t rcpt_max;      /* recipients per transaction (>= 100, §4.5.3.1.8) */
	uint32_t errors_max;    /* protocol errors before 421 and close */
	uint32_t auth_failures_max; /* failed AUTH before 421 and close */
	uint32_t pipeline_max;  /* input bytes buffered beyond one line */
	uint32_t output_max;    /* reply bytes buffered before input pauses */
	uint64_t greeting_delay_us; /* hold the 220 this long; talk before it = 554 */
	uint64_t timeout_cmd_us;    /* waiting for a command, §4.5.3.2.7: 5 min */
	uint64_t timeout_data_us;   /* waiting for message data, §4.5.3.2.5: 3 min */
	struct smtp_stats *stats;   /* per-lcore counters; NULL = not counted */
};

/* smtp_config_defaults - fill C with the RFC defaults above, MX role, strict
 * EOL, 25 MiB messages, 100 recipients, 20 errors, 3 AUTH failures, no
 * greeting delay, nothing optional enabled. hostname is left NULL. */
void smtp_config_defaults(struct smtp_config *c);

/* The connection, as the glue knows it at accept time. Strings are copied. */
struct smtp_peer {
	const char *client_ip;   /* textual address, "192.0.2.1" or "2001:db8::1" */
	const char *client_rdns; /* verified reverse DNS name, or NULL */
	bool tls_active;         /* implicit TLS (port 465) already established */
	uint64_t conn_id;        /* unique per process lifetime; seeds queue ids */
	const char *refuse;      /* non-NULL: greet with "421 4.3.2 <host> <refuse>"
				  * and close (a connection limit was hit) */
};

/* Filter verdict at end of data (the filter issue plugs Hyperscan in). */
enum smtp_verdict_action {
	SMTP_VERDICT_ACCEPT = 0,
	SMTP_VERDICT_TAG = 1,        /* deliver, marked (the glue adds headers) */
	SMTP_VERDICT_QUARANTINE = 2, /* deliver to quarantine */
	SMTP_VERDICT_REJECT = 3,     /* refuse with code and text */
};

struct smtp_verdict {
	enum smtp_verdict_action action;
	uint16_t code;  /* REJECT: 4xx or 5xx; 0 gives 550 */
	char text[200]; /* REJECT: "5.7.1 Message rejected as spam"; may be empty */
};

/* Queue-id buffer size (NUL included). */
#define SMTP_QUEUE_ID_MAX 32

/* One record per transaction that reached DATA/BDAT. Slices are valid only
 * during the txlog call; recipients via smtp_session_rcpt(). */
struct smtp_txlog {
	sl_slice_t queue_id;
	sl_slice_t client_ip;
	sl_slice_t helo;
	sl_slice_t mail_from;
	sl_slice_t auth_user;
	size_t rcpt_count;
	uint64_t size;            /* message bytes received (excl. Received:) */
	enum smtp_verdict_action verdict;
	uint16_t reply_code;      /* final reply; 0 if the client went away */
	sl_slice_t reply;         /* final reply line without CRLF, or empty */
	uint64_t t_mail_us;       /* MAIL accepted */
	uint64_t t_data_us;       /* DATA / first BDAT */
	uint64_t t_end_us;        /* final reply */
};

struct smtp_hooks {
	void *ctx; /* passed to every hook */
	/* msg_begin - a message is about to stream (before 354 or the first BDAT
	 * chunk). Return 0, or an sl_err: SL_EFULL/SL_ENOMEM give 452 4.3.1. */
	int (*msg_begin)(void *ctx, smtp_session_t *s);
	/* msg_data - the next bytes of the message: Received: first, then the
	 * content, dot-unstuffed, CRLF line ends. CHUNK points into engine or
	 * caller memory and is valid only during the call. Return 0, or an
	 * sl_err: the transaction then fails at end of data (SL_EFULL/SL_ENOMEM:
	 * 452 4.3.1, others 451 4.3.0); no further chunks are passed. */
	int (*msg_data)(void *ctx, smtp_session_t *s, sl_slice_t chunk);
	/* msg_abort - the message will not be delivered (rejected, aborted, or
	 * the session is destroyed): drop what was staged. Not called after a
	 * DELIVER request was issued; the glue owns the outcome then. */
	void (*msg_abort)(void *ctx, smtp_session_t *s);
	/* filter_data / filter_end - the filter sees the same bytes as msg_data
	 * and gives a verdict at end of data. NULL = pass-through (ACCEPT). */
	int (*filter_data)(void *ctx, smtp_session_t *s, sl_slice_t chunk);
	void (*filter_end)(void *ctx, smtp_session_t *s, struct smtp_verdict *v_r);
	/* txlog - one record per transaction. NULL = one INFO line via sl_log. */
	void (*txlog)(void *ctx, smtp_session_t *s, const struct smtp_txlog *rec);
	/* queue_id - write a NUL-terminated id of at most SIZE-1 chars of
	 * [0-9A-Za-z] into BUF. NULL = derived from conn_id and a counter. */
	void (*queue_id)(void *ctx, smtp_session_t *s, char *buf, size_t size);
	/* wall_clock - seconds since the epoch for the Received: date.
	 * NULL = time(NULL). */
	int64_t (*wall_clock)(void *ctx);
};

/* Requests: work the engine needs from the glue. At most one is
 * outstanding; while it is, further input is buffered (bounded by
 * pipeline_max) and no reply is produced, so pipelined replies stay in
 * order (RFC 2920). Slices are valid until the matching *_done call. */
enum smtp_req_kind {
	SMTP_REQ_NONE = 0,
	SMTP_REQ_RCPT,     /* classify a recipient: smtp_session_rcpt_done */
	SMTP_REQ_AUTH,     /* verify credentials: smtp_session_auth_done */
	SMTP_REQ_DELIVER,  /* commit the streamed message: smtp_session_deliver_done */
	SMTP_REQ_STARTTLS, /* flush output, then handshake: smtp_session_tls_done */
};

struct smtp_request {
	enum smtp_req_kind kind;
	union {
		struct {
			sl_slice_t addr;   /* mailbox, no <>, source route removed */
			sl_slice_t local;  /* local part, quotes and escapes removed */
			sl_slice_t domain; /* domain or [address literal]; empty
					    * only for the bare "postmaster" */
			bool authenticated;
		} rcpt;
		struct {
			sl_slice_t mechanism; /* "PLAIN" or "LOGIN" */
			sl_slice_t authzid;   /* may be empty */
			sl_slice_t authcid;   /* the user name */
			sl_slice_t password;  /* wiped by the engine after *_done */
		} auth;
		struct {
			struct smtp_verdict verdict; /* never REJECT */
		} deliver;
	} u;
};

enum smtp_rcpt_status {
	SMTP_RCPT_LOCAL = 0,    /* local user or alias: 250 */
	SMTP_RCPT_UNKNOWN = 1,  /* local domain, no such user: 550 5.1.1 */
	SMTP_RCPT_NONLOCAL = 2, /* not ours: relay if authenticated, else 554 5.7.1 */
	SMTP_RCPT_TEMPFAIL = 3, /* lookup failed: 451 4.3.0 */
	SMTP_RCPT_OVERQUOTA = 4 /* mailbox full: 452 4.2.2 */
};

enum smtp_auth_status {
	SMTP_AUTH_OK = 0,       /* 235 2.7.0 */
	SMTP_AUTH_FAIL = 1,     /* 535 5.7.8, counts towards the lockout */
	SMTP_AUTH_TEMPFAIL = 2  /* 454 4.7.0 */
};

enum smtp_deliver_status {
	SMTP_DELIVER_OK = 0,       /* durably committed: 250 2.0.0 */
	SMTP_DELIVER_TEMPFAIL = 1, /* 451 4.3.0 */
	SMTP_DELIVER_NOSPACE = 2,  /* 452 4.3.1 */
	SMTP_DELIVER_PERMFAIL = 3  /* 554 5.3.0 */
};

/* Recipient classification recorded with each accepted recipient. */
enum smtp_rcpt_class {
	SMTP_RCPT_CLASS_LOCAL = 0, /* deliver into a local mailbox */
	SMTP_RCPT_CLASS_RELAY = 1  /* authenticated, non-local: outbound queue */
};

/* DSN parameters, RFC 3461. */
enum smtp_dsn_ret { SMTP_RET_UNSPEC = 0, SMTP_RET_FULL, SMTP_RET_HDRS };
#define SMTP_NOTIFY_NEVER 0x01u
#define SMTP_NOTIFY_SUCCESS 0x02u
#define SMTP_NOTIFY_FAILURE 0x04u
#define SMTP_NOTIFY_DELAY 0x08u

enum smtp_body { SMTP_BODY_UNSPEC = 0, SMTP_BODY_7BIT, SMTP_BODY_8BITMIME };

/* A view of the current transaction; slices are valid until the next call
 * that can change the transaction (input, *_done, timeout, destroy). */
struct smtp_envelope {
	sl_slice_t queue_id;  /* assigned at MAIL */
	sl_slice_t helo;      /* HELO/EHLO argument */
	sl_slice_t mail_from; /* reverse path without <>; empty = null sender */
	sl_slice_t envid;     /* DSN ENVID as received (xtext); empty if none */
	sl_slice_t auth_user; /* authenticated identity; empty if none */
	sl_slice_t client_ip;
	enum smtp_dsn_ret ret;
	enum smtp_body body;
	bool smtputf8;
	bool tls;
	uint64_t size_declared; /* MAIL SIZE=; 0 if not given */
	uint64_t size;          /* message bytes so far (excl. Received:) */
	size_t rcpt_count;      /* accepted recipients */
};

struct smtp_rcpt {
	sl_slice_t addr;  /* mailbox as given, no <> and no source route */
	sl_slice_t orcpt; /* DSN ORCPT "addr-type;xtext" as received, or empty */
	unsigned notify;  /* SMTP_NOTIFY_* bits; 0 = not given */
	enum smtp_rcpt_class klass;
};

/* smtp_session_create - new session for one connection. CFG and HOOKS are
 * borrowed and must outlive the session (one per listener); PEER is copied.
 * The greeting (or, with greeting_delay_us, nothing yet) is in the output.
 * Returns 0 and *S_R, SL_EINVAL for a config without hostname or with
 * limits below the RFC minimums, SL_ENOMEM. */
int smtp_session_create(const struct smtp_config *cfg, const struct smtp_hooks *hooks,
			const struct smtp_peer *peer, uint64_t now_us, smtp_session_t **s_r);

/* smtp_session_destroy - free the session and set *S to NULL. A
 * transaction still streaming is aborted (msg_abort, txlog with reply
 * code 0). An outstanding request is simply forgotten: the glue must drop
 * its completion. NULL or *S == NULL is a no-op. */
void smtp_session_destroy(smtp_session_t **s);

/* smtp_session_input - feed LEN client bytes. Consumes what it can and
 * sets *CONSUMED_R; bytes not consumed (a request is outstanding and the
 * pipeline buffer is full, or the output is full) must be offered again,
 * in order, after the next *_done or output_consume. Returns 0, or
 * SL_ECLOSED when the session is closing (all bytes are then consumed and
 * dropped). While a STARTTLS request is outstanding all input is dropped:
 * plaintext sent after STARTTLS is never interpreted (CVE-2011-0411). */
int smtp_session_input(smtp_session_t *s, uint64_t now_us, const void *data, size_t len,
		       size_t *consumed_r);

/* smtp_session_output - reply bytes waiting to be sent. The slice is valid
 * until the next engine call. */
sl_slice_t smtp_session_output(const smtp_session_t *s);

/* smtp_session_output_consume - N bytes of the output were sent (N is
 * clamped). May resume buffered input. Returns 0 or SL_ECLOSED. */
int smtp_session_output_consume(smtp_session_t *s, uint64_t now_us, size_t n);

/* smtp_session_request - the outstanding request, or NULL. Valid until the
 * matching *_done call or destroy. */
const struct smtp_request *smtp_session_request(const smtp_session_t *s);

/* Completions. Each resumes buffered input and may leave a new request.
 * Return 0, SL_ESTATE if that kind of request is not outstanding, or
 * SL_ECLOSED if the session is closing. */
int smtp_session_rcpt_done(smtp_session_t *s, uint64_t now_us, enum smtp_rcpt_status st);
/* USER_DISPLAY: the canonical identity on success (NULL = authcid). */
int smtp_session_auth_done(smtp_session_t *s, uint64_t now_us, enum smtp_auth_status st,
			   const char *user_display);
/* DETAIL: optional text appended to the reply (e.g. a store error). */
int smtp_session_deliver_done(smtp_session_t *s, uint64_t now_us, enum smtp_deliver_status st,
			      const char *detail);
/* OK false: the handshake failed; the session closes (nothing can be sent
 * in plaintext any more). OK true: all state from before is forgotten
 * (RFC 3207 §4.2); the client must EHLO again. */
int smtp_session_tls_done(smtp_session_t *s, uint64_t now_us, bool ok);

/* smtp_session_deadline - the absolute time (us) at which
 * smtp_session_timeout must be called, or SL_TIME_NEVER (while a request
 * is outstanding the engine waits on the glue, not on the client). */
uint64_t smtp_session_deadline(const smtp_session_t *s);

/* smtp_session_timeout - act on the deadline if NOW_US has reached it:
 * send a delayed greeting, or 421 4.4.2 and close. Returns 0 or
 * SL_ECLOSED. Calling it early is harmless. */
int smtp_session_timeout(smtp_session_t *s, uint64_t now_us);

/* smtp_session_shutdown - 421 4.3.2 with TEXT (NULL: "Service shutting
 * down"), then close: daemon stop, per-IP connection limit. */
void smtp_session_shutdown(smtp_session_t *s, uint64_t now_us, const char *text);

/* smtp_session_closing - true once the engine wants the connection closed
 * after the output is flushed. */
bool smtp_session_closing(const smtp_session_t *s);

/* Accessors; see struct smtp_envelope for slice lifetimes. rcpt returns 0,
 * or SL_ENOENT for I >= rcpt_count. */
void smtp_session_envelope(const smtp_session_t *s, struct smtp_envelope *env_r);
int smtp_session_rcpt(const smtp_session_t *s, size_t i, struct smtp_rcpt *rcpt_r);
bool smtp_session_tls_active(const smtp_session_t *s);
/* smtp_session_set_tls_info - what the handshake negotiated, for the
 * Received: header ("(using TLSv1.3 with cipher ...)"): call it once TLS is
 * active (after smtp_session_tls_done(ok), or at once for implicit TLS).
 * Strings are copied (truncated at 47 bytes each). 0, or SL_ESTATE when TLS
 * is not active. */
int smtp_session_set_tls_info(smtp_session_t *s, const char *version, const char *cipher);
bool smtp_session_authenticated(const smtp_session_t *s);

/* smtp_reply_code_valid - 1 if CODE is a 3-digit SMTP reply code in
 * 200..599, else 0 (used to vet filter verdicts). */
int smtp_reply_code_valid(unsigned code);

#endif
