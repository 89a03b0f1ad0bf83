/* pop3_session - the sans-IO POP3 server engine (RFC 1939, RFC 2449 CAPA
 * and response codes, RFC 3206 [SYS/TEMP] [AUTH], RFC 5034 AUTH, RFC 2595 STLS).
 *
 * One pop3_session_t per client connection. The engine never touches a
 * socket, a clock or the store. The glue (mta/) drives it exactly like the
 * SMTP engine (docs/smtp.md, docs/pop3.md):
 *
 *   bytes in      pop3_session_input()        client bytes, any split
 *   bytes out     pop3_session_output()       replies to send, then
 *                 pop3_session_output_consume()
 *   requests      pop3_session_request()      one outstanding at a time:
 *                 AUTH (verify credentials), MAILDROP (take the maildrop
 *                 lock and list the messages), FETCH (a byte range of one
 *                 message body), UPDATE (commit the deletions), STLS;
 *                 answered with the matching pop3_session_*_done()
 *   time          pop3_session_deadline() / pop3_session_timeout()
 *   accounting    struct pop3_stats (per-lcore counters)
 *
 * After every entry point the glue sends what pop3_session_output() holds,
 * looks at pop3_session_request(), and if pop3_session_closing() closes the
 * connection once the output is flushed. Completions may be called at once
 * (a synchronous store read) or many loop turns later.
 *
 * Every entry point takes now_us (monotonic microseconds, sl_time.h).
 * Threading: a session belongs to one lcore; nothing here locks. */
#ifndef POP3_SESSION_H
#define POP3_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sl_buf.h"

typedef struct pop3_session pop3_session_t;

/* RFC 1939 §7: a unique-id is 1 to 70 characters in 0x21..0x7E. */
#define POP3_UID_MAX 70

/* Per-lcore counters for `sluicectl show stats`. The engine only adds. */
struct pop3_stats {
	uint64_t sessions;          /* sessions created */
	uint64_t commands;          /* command and SASL lines parsed */
	uint64_t errors;            /* -ERR caused by client protocol errors */
	uint64_t disconnect_errors; /* sessions closed for too many errors */
	uint64_t timeouts;          /* sessions closed by the idle timer */
	uint64_t line_too_long;     /* lines over the limit */
	uint64_t auth_success;      /* credentials accepted */
	uint64_t auth_failure;      /* -ERR [AUTH] */
	uint64_t auth_tempfail;     /* -ERR [SYS/TEMP] from the verifier */
	uint64_t auth_lockout;      /* sessions closed for too many failures */
	uint64_t in_use;            /* -ERR [IN-USE]: the maildrop lock was held */
	uint64_t maildrop_tempfail; /* the maildrop could not be opened */
	uint64_t logins;            /* TRANSACTION state entered */
	uint64_t retr;              /* RETR started */
	uint64_t top;               /* TOP started */
	uint64_t dele;              /* messages marked deleted */
	uint64_t bytes_sent;        /* message bytes sent by RETR/TOP, before stuffing */
	uint64_t fetch_errors;      /* FETCH completions that failed */
	uint64_t updates;           /* UPDATE commits that succeeded */
	uint64_t update_failed;     /* UPDATE commits that failed */
	uint64_t msgs_expunged;     /* messages removed by successful UPDATEs */
	uint64_t stls;              /* successful STLS upgrades */
	uint64_t plaintext_discarded; /* bytes thrown away at STLS */
};

/* pop3_stats_add - DST += SRC, field by field (summing per-lcore counters). */
void pop3_stats_add(struct pop3_stats *dst, const struct pop3_stats *src);
/* pop3_stats_format - append "pop3.<name> <value>\n" per counter to OUT.
 * 0, or SL_ELIMIT/SL_ENOMEM from sl_buf. */
int pop3_stats_format(const struct pop3_stats *st, sl_buf_t *out);

struct pop3_config {
	const char *hostname;      /* greeting and sign-off; required */
	bool stls_available;       /* the glue can upgrade (certificate loaded) */
	bool allow_plaintext_auth; /* USER/PASS and AUTH before TLS is active */
	/* Limits. Line lengths include the CRLF. */
	uint32_t cmd_line_max;      /* command line: 512 (RFC 2449 §4 asks 255) */
	uint32_t auth_line_max;     /* AUTH and SASL response lines: 12288 */
	uint32_t errors_max;        /* protocol errors before -ERR and close: 10 */
	uint32_t auth_failures_max; /* failed logins before close: 3 */
	uint32_t msgs_max;          /* maildrop entries accepted: 100000 */
	uint32_t pipeline_max;      /* input bytes buffered beyond one line: 16 KiB */
	uint32_t output_max;        /* reply bytes buffered: 128 KiB */
	uint32_t fetch_max;         /* largest FETCH request: 32 KiB; output_max
				     * must hold twice that plus 4 KiB */
	uint64_t auth_fail_delay_us; /* a failed login's -ERR is held this long,
				      * times the failures so far: 1 s */
	uint64_t timeout_auth_us;   /* idle in AUTHORIZATION: 60 s */
	uint64_t timeout_us;        /* idle in TRANSACTION: 10 min (RFC 1939 §3) */
	struct pop3_stats *stats;   /* per-lcore counters; NULL = not counted */
};

/* pop3_config_defaults - fill C with the defaults above; hostname NULL,
 * nothing optional enabled. */
void pop3_config_defaults(struct pop3_config *c);

/* The connection, as the glue knows it at accept time. Strings are copied. */
struct pop3_peer {
	const char *client_ip; /* textual address */
	bool tls_active;       /* implicit TLS (port 995) already established */
	uint64_t conn_id;      /* unique per process lifetime */
};

enum pop3_req_kind {
	POP3_REQ_NONE = 0,
	POP3_REQ_AUTH,     /* verify credentials: pop3_session_auth_done */
	POP3_REQ_MAILDROP, /* lock + list: pop3_session_msg_add.., pop3_session_maildrop_done */
	POP3_REQ_FETCH,    /* body bytes: pop3_session_fetch_data.., pop3_session_fetch_done */
	POP3_REQ_UPDATE,   /* commit deletions: pop3_session_update_done */
	POP3_REQ_STLS,     /* flush output, then handshake: pop3_session_tls_done */
};

/* The outstanding request. Slices and arrays are valid until its
 * completion (or destroy). */
struct pop3_request {
	enum pop3_req_kind kind;
	union {
		struct {
			sl_slice_t mechanism; /* "USER" (USER/PASS) or "PLAIN" */
			sl_slice_t authzid;   /* may be empty */
			sl_slice_t authcid;   /* the user name */
			sl_slice_t password;  /* wiped by the engine after *_done */
		} auth;
		struct {
			sl_slice_t user; /* the canonical user from auth_done */
		} maildrop;
		struct {
			uint64_t id;     /* the glue's id from pop3_session_msg_add */
			uint32_t msg;    /* message number (1-based), for logs */
			uint64_t offset; /* first body byte wanted */
			uint32_t len;    /* bytes wanted (1..fetch_max) */
		} fetch;
		struct {
			const uint64_t *ids; /* glue ids of the deleted messages */
			size_t n_ids;        /* >= 1 */
		} update;
	} u;
};

enum pop3_auth_status {
	POP3_AUTH_OK = 0,      /* verified; the engine then asks for the maildrop */
	POP3_AUTH_FAIL = 1,    /* -ERR [AUTH], counts towards the lockout */
	POP3_AUTH_TEMPFAIL = 2 /* -ERR [SYS/TEMP] */
};

enum pop3_maildrop_status {
	POP3_MAILDROP_OK = 0,      /* locked and listed: +OK, TRANSACTION state */
	POP3_MAILDROP_IN_USE = 1,  /* the lock is held elsewhere: -ERR [IN-USE] */
	POP3_MAILDROP_TEMPFAIL = 2 /* -ERR [SYS/TEMP] */
};

/* pop3_session_create - new session for one connection. CFG must outlive
 * the session (one per listener); PEER is copied. The greeting is in the
 * output. 0 and *S_R; SL_EINVAL for a config without hostname or with
 * limits out of range; SL_ENOMEM. */
int pop3_session_create(const struct pop3_config *cfg, const struct pop3_peer *peer,
			uint64_t now_us, pop3_session_t **s_r);

/* pop3_session_destroy - free the session, set *S to NULL. Deletions not
 * committed are forgotten (RFC 1939 §6: no UPDATE without QUIT). An
 * outstanding request is forgotten too: the glue drops its completion and
 * releases the maildrop lock if it holds one. NULL / *S NULL: no-op. */
void pop3_session_destroy(pop3_session_t **s);

/* pop3_session_input - feed LEN client bytes; *CONSUMED_R says how many
 * were taken. The rest (a request is outstanding, a multi-line reply is
 * still streaming, or the output is full, and the pipeline buffer is full)
 * must be offered again, in order, after the next completion or
 * output_consume. 0, or SL_ECLOSED when closing (all bytes are then
 * consumed and dropped). While STLS is outstanding, input is discarded. */
int pop3_session_input(pop3_session_t *s, uint64_t now_us, const void *data, size_t len,
		       size_t *consumed_r);

/* pop3_session_output - bytes to send; valid until the next engine call. */
sl_slice_t pop3_session_output(const pop3_session_t *s);
/* pop3_session_output_consume - N bytes were sent (clamped). May go on
 * streaming a reply, issue a FETCH and resume input. 0 or SL_ECLOSED. */
int pop3_session_output_consume(pop3_session_t *s, uint64_t now_us, size_t n);

/* pop3_session_request - the outstanding request, or NULL. */
const struct pop3_request *pop3_session_request(const pop3_session_t *s);

/* Completions. Each may leave a new request. They return 0, SL_ESTATE if
 * that request is not outstanding, or SL_ECLOSED if the session closed. */

/* USER_DISPLAY: the canonical user (NULL = authcid); it is what MAILDROP
 * asks for. */
int pop3_session_auth_done(pop3_session_t *s, uint64_t now_us, enum pop3_auth_status st,
			   const char *user_display);

/* pop3_session_msg_add - while MAILDROP is outstanding, append one message
 * to the listing, in maildrop order (it becomes message number count+1).
 * ID is the glue's handle (FETCH and UPDATE carry it back). SIZE is the
 * exact octet count RETR will send before byte-stuffing (RFC 1939 §5 LIST).
 * UID is the stable unique-id (RFC 1939 §7: 1..70 chars 0x21..0x7E).
 * 0, SL_ESTATE (no MAILDROP outstanding), SL_EINVAL (bad UID), SL_ELIMIT
 * (msgs_max reached: the rest is simply not listed), SL_ENOMEM. */
int pop3_session_msg_add(pop3_session_t *s, uint64_t id, uint64_t size, sl_slice_t uid);

/* pop3_session_maildrop_done - the listing is complete (OK: the glue now
 * holds the lock until destroy), or the maildrop could not be opened (no
 * lock held; the listing is dropped; the client is back in AUTHORIZATION). */
int pop3_session_maildrop_done(pop3_session_t *s, uint64_t now_us,
			       enum pop3_maildrop_status st);

/* pop3_session_fetch_data - the next bytes of the FETCH range, in order;
 * may be called several times (e.g. once per store chunk, zero copy: PART
 * is used during the call only). More bytes than requested: SL_ELIMIT and
 * the excess is ignored. SL_ESTATE if no FETCH is outstanding. */
int pop3_session_fetch_data(pop3_session_t *s, sl_slice_t part);

/* pop3_session_fetch_done - the FETCH is over. ERR 0: fewer bytes than
 * requested means the body ended. ERR < 0 (an sl_err): before any byte of
 * the message was sent the client gets -ERR [SYS/TEMP]; mid-message the
 * framing cannot be repaired and the session closes. */
int pop3_session_fetch_done(pop3_session_t *s, uint64_t now_us, int err);

/* pop3_session_update_done - OK true: the deletions are committed; +OK and
 * close. false: -ERR [SYS/TEMP] and close (RFC 1939 §6). */
int pop3_session_update_done(pop3_session_t *s, uint64_t now_us, bool ok);

/* pop3_session_tls_done - OK false: the handshake failed; the session
 * closes. OK true: back to AUTHORIZATION with USER forgotten (RFC 2595 §4);
 * everything sent in plaintext after STLS was discarded. */
int pop3_session_tls_done(pop3_session_t *s, uint64_t now_us, bool ok);

/* pop3_session_deadline - absolute time (us) at which pop3_session_timeout
 * must be called: the idle timer, or the end of a failed-login delay;
 * SL_TIME_NEVER while a request is outstanding. */
uint64_t pop3_session_deadline(const pop3_session_t *s);
/* pop3_session_timeout - act on the deadline if NOW_US reached it: send a
 * delayed -ERR and resume, or close an idle session (-ERR, no UPDATE).
 * 0 or SL_ECLOSED. Calling it early is harmless. */
int pop3_session_timeout(pop3_session_t *s, uint64_t now_us);
/* pop3_session_shutdown - -ERR [SYS/TEMP] TEXT (NULL: "Server shutting
 * down") and close, without UPDATE. */
void pop3_session_shutdown(pop3_session_t *s, uint64_t now_us, const char *text);
/* pop3_session_closing - true once the connection should be closed after
 * the output is flushed. */
bool pop3_session_closing(const pop3_session_t *s);

/* Accessors. user: the authenticated canonical user (empty before). */
sl_slice_t pop3_session_user(const pop3_session_t *s);
bool pop3_session_tls_active(const pop3_session_t *s);
/* pop3_session_in_transaction - the maildrop is open (lock held by glue). */
bool pop3_session_in_transaction(const pop3_session_t *s);

#endif
