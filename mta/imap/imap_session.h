/* imap_session - the sans-IO IMAP server engine (RFC 3501 IMAP4rev1,
 * RFC 9051 IMAP4rev2, and the extensions listed in docs/imap.md).
 *
 * One imap_session_t per client connection. The engine never touches a
 * socket, a clock or the store; the glue (mta/) drives it like the SMTP and
 * POP3 engines:
 *
 *   bytes in      imap_session_input()        client bytes, any split
 *   bytes out     imap_session_output()       responses, then
 *                 imap_session_output_consume()
 *   requests      imap_session_request()      one outstanding at a time
 *                 (verify credentials, list mailboxes, select one, iterate
 *                 messages, read body bytes, change flags, expunge, ...);
 *                 answered by the matching imap_session_*() calls, ending
 *                 with an imap_session_*_done()
 *   time          imap_session_deadline() / imap_session_timeout()
 *   accounting    struct imap_stats (per-lcore counters)
 *
 * After every entry point the glue sends what imap_session_output() holds,
 * looks at imap_session_request(), and closes the connection once the
 * output is flushed if imap_session_closing(). Completions may come at once
 * (a synchronous store read inside st_read) or many loop turns later.
 *
 * Mailbox names in requests and completions are UTF-8 with '/' as the
 * hierarchy delimiter and "INBOX" spelled in capitals, as in store/st.h;
 * the engine does the modified UTF-7 of RFC 3501 §5.1.3 on the wire.
 * Every slice in a request is followed by a NUL (ptr[len] == 0) so it can be
 * handed to the st_* functions that take C strings.
 *
 * Threading: a session belongs to one lcore; nothing here locks. */
#ifndef IMAP_SESSION_H
#define IMAP_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sl_buf.h"

typedef struct imap_session imap_session_t;

/* Per-lcore counters. The engine only adds. */
struct imap_stats {
	uint64_t sessions;          /* sessions created */
	uint64_t commands;          /* complete commands parsed */
	uint64_t bad;               /* tagged or untagged BAD */
	uint64_t no;                /* tagged NO */
	uint64_t disconnect_errors; /* sessions closed for too many BADs */
	uint64_t timeouts;          /* sessions closed by the idle timer */
	uint64_t line_too_long;     /* commands refused: a line over line_max */
	uint64_t literal_too_big;   /* commands refused: a literal over its limit */
	uint64_t nesting_too_deep;  /* commands refused: parentheses too deep */
	uint64_t command_too_long;  /* commands refused: over cmd_max in total */
	uint64_t seqset_too_big;    /* commands refused: too many ranges */
	uint64_t literals;          /* literals received */
	uint64_t auth_success;
	uint64_t auth_failure;
	uint64_t auth_tempfail;
	uint64_t auth_lockout;      /* sessions closed for too many failures */
	uint64_t selects;           /* SELECT/EXAMINE that opened a mailbox */
	uint64_t fetch_msgs;        /* untagged FETCH responses for FETCH */
	uint64_t body_bytes;        /* message bytes sent in literals */
	uint64_t stores;            /* STORE commands completed */
	uint64_t expunged;          /* EXPUNGE responses sent */
	uint64_t searches;          /* SEARCH commands completed */
	uint64_t starttls;
	uint64_t plaintext_discarded;
};

/* imap_stats_add - DST += SRC field by field. */
void imap_stats_add(struct imap_stats *dst, const struct imap_stats *src);
/* imap_stats_format - append "imap.<name> <value>\n" per counter to OUT.
 * 0, or SL_ELIMIT/SL_ENOMEM. */
int imap_stats_format(const struct imap_stats *st, sl_buf_t *out);

struct imap_config {
	const char *hostname;      /* greeting, BYE; required */
	bool starttls_available;   /* the glue can upgrade */
	bool allow_plaintext_auth; /* LOGIN/AUTHENTICATE before TLS; else LOGINDISABLED */
	/* NOOP and CHECK in the selected state always ask the glue for the
	 * changes since the last known MODSEQ (IMAP_REQ_SYNC), not only after
	 * imap_session_mailbox_changed: changes made by another lane or by an
	 * SMTP delivery are then seen at the next NOOP without the glue having
	 * to watch every selected mailbox. The cost is one st_changes_since per
	 * NOOP. Default false. */
	bool sync_on_poll;
	/* Limits. Every one is hard: a command that passes one is refused
	 * without being buffered. */
	uint32_t line_max;            /* one line of a command (literals apart),
				       * CRLF included: 8192 (RFC 7162 §4) */
	uint32_t cmd_max;             /* a whole command with its literals: 64 KiB */
	uint32_t literal_max;         /* one literal after login: 64 KiB */
	uint32_t preauth_literal_max; /* one literal before login: 1024 */
	uint32_t nesting_max;         /* parenthesis depth after login: 16 */
	uint32_t preauth_nesting_max; /* before login: 2 (only ID needs 1) */
	uint32_t seqset_max;          /* ranges in one sequence set: 4096 */
	uint64_t appendlimit;         /* the message literal of APPEND, advertised
				       * as APPENDLIMIT (RFC 7889): 64 MiB; keep it
				       * at or below the store's body_max */
	uint32_t view_max;            /* messages in a selected mailbox: 1M */
	uint32_t errors_max;          /* BAD responses before BYE: 20 */
	uint32_t auth_failures_max;   /* failed logins before BYE: 3 */
	uint32_t pipeline_max;        /* input buffered beyond one command: 16 KiB */
	uint32_t output_max;          /* response bytes buffered: 256 KiB */
	uint32_t body_chunk_max;      /* largest BODY request: 64 KiB */
	uint32_t header_max;          /* header bytes read to find the header/body
				       * split for BODY[HEADER...]: 64 KiB */
	uint64_t auth_fail_delay_us;  /* a failed login's NO is held this long,
				       * times the failures so far: 1 s */
	uint64_t timeout_preauth_us;  /* idle before login: 60 s */
	uint64_t timeout_us;          /* idle after login: 30 min (RFC 9051 §5.4) */
	struct imap_stats *stats;     /* per-lcore counters; NULL = not counted */
};

/* imap_config_defaults - the defaults above; hostname NULL. */
void imap_config_defaults(struct imap_config *c);

struct imap_peer {
	const char *client_ip; /* textual address (copied) */
	bool tls_active;       /* implicit TLS (port 993) */
	uint64_t conn_id;
};

/* Session states (RFC 9051 §3). */
enum imap_state {
	IMAP_STATE_NOT_AUTH = 0,
	IMAP_STATE_AUTH = 1,
	IMAP_STATE_SELECTED = 2,
	IMAP_STATE_LOGOUT = 3
};

/* System flags: the same bits as enum st_flag in store/st.h. */
#define IMAP_FLAG_SEEN 0x01u
#define IMAP_FLAG_ANSWERED 0x02u
#define IMAP_FLAG_FLAGGED 0x04u
#define IMAP_FLAG_DELETED 0x08u
#define IMAP_FLAG_DRAFT 0x10u
#define IMAP_FLAG__ALL 0x1fu

/* SPECIAL-USE roles: the same bits as enum st_role. */
#define IMAP_ROLE_INBOX 0x01u
#define IMAP_ROLE_SENT 0x02u
#define IMAP_ROLE_DRAFTS 0x04u
#define IMAP_ROLE_JUNK 0x08u
#define IMAP_ROLE_TRASH 0x10u
#define IMAP_ROLE_ARCHIVE 0x20u

/* Mailbox attributes reported by the glue. */
#define IMAP_MBA_NOSELECT 0x01u    /* exists only as a parent (\Noselect) */
#define IMAP_MBA_CHILDREN 0x02u    /* has inferiors */
#define IMAP_MBA_SUBSCRIBED 0x04u  /* in the subscription list */
#define IMAP_MBA_NONEXISTENT 0x08u /* a subscribed name with no mailbox */

/* One mailbox as the glue knows it (st_mailbox_info_t maps 1:1). */
struct imap_mailbox_info {
	sl_slice_t name;        /* UTF-8, '/'-separated, "INBOX" */
	uint32_t attrs;         /* IMAP_MBA_* */
	uint32_t roles;         /* IMAP_ROLE_* */
	uint32_t messages;
	uint32_t unseen;
	uint32_t recent;
	uint32_t uidnext;
	uint32_t uidvalidity;
	uint64_t highestmodseq;
	uint64_t size;          /* sum of message sizes */
};

/* A UID range, inclusive, lo <= hi: the layout of st_uid_range_t. */
struct imap_range {
	uint32_t lo, hi;
};

/* What an IMAP_REQ_FETCH needs from each message, beyond uid and flags. */
#define IMAP_WANT_KEYWORDS 0x01u     /* keywords */
#define IMAP_WANT_MODSEQ 0x02u       /* modseq */
#define IMAP_WANT_DATE 0x04u         /* internaldate, tz_min */
#define IMAP_WANT_SIZE 0x08u         /* size */
#define IMAP_WANT_ENVELOPE 0x10u     /* envelope (cached structure) */
#define IMAP_WANT_STRUCTURE 0x20u    /* body, bodystructure (cached structure) */

/* ---- SEARCH on message text and header fields (imap_search.c) ----------
 * With IMAP_WANT_TEXTMATCH, an IMAP_REQ_FETCH carries the content
 * predicates of a SEARCH (fetch.text, fetch.n_text); the glue evaluates
 * them on each message it reports (mta/imap/imap_textmatch.h does the
 * work) and sets bit i of imap_msg_meta.text_match when predicate i holds.
 * Needles are UTF-8 and NUL-terminated; matching is a case-insensitive
 * substring match on decoded text (docs/imap.md, "SEARCH"). */
#define IMAP_WANT_TEXTMATCH 0x8000u  /* text_match (fetch.text predicates) */
#define IMAP_TEXT_PREDS_MAX 64u      /* predicates in one SEARCH (the bits of text_match) */
#define IMAP_TEXT_FIELD_MAX 255u     /* bytes of a HEADER field name */
enum imap_text_kind {
	IMAP_TEXT_HEADER = 0, /* a top-level header field named FIELD contains NEEDLE
			       * (decoded RFC 2047, unfolded); NEEDLE "": the field exists.
			       * FROM/TO/CC/BCC/SUBJECT are this with their field name */
	IMAP_TEXT_BODY,       /* the decoded text of the body contains NEEDLE */
	IMAP_TEXT_TEXT,       /* a header field ("Name: value") or the body text does */
	IMAP_TEXT_SENTBEFORE, /* the Date: field's date (its own zone, time ignored) < DAYS; */
	IMAP_TEXT_SENTON,     /*   == DAYS; */
	IMAP_TEXT_SENTSINCE   /*   >= DAYS. No valid Date: the internal date's, in its zone */
};
struct imap_text_pred {
	enum imap_text_kind kind;
	sl_slice_t field;  /* IMAP_TEXT_HEADER: field name (ASCII, no colon) */
	sl_slice_t needle; /* HEADER/BODY/TEXT: UTF-8 */
	int64_t days;      /* SENT*: days since 1970-01-01 */
};

/* One message for IMAP_REQ_FETCH (st_msg_info_t plus what the glue looks
 * up): all pointers are used during the call only. */
struct imap_msg_meta {
	uint32_t uid;
	uint32_t flags;               /* IMAP_FLAG_* */
	const sl_slice_t *keywords;   /* the message's keywords */
	size_t n_keywords;
	uint64_t modseq;
	int64_t internaldate;         /* unix seconds */
	int32_t tz_min;               /* zone, minutes east of UTC */
	uint64_t size;                /* body bytes (RFC822.SIZE) */
	sl_slice_t envelope;          /* rendered ENVELOPE "(...)", or empty */
	sl_slice_t body;              /* rendered BODY "(...)", or empty */
	sl_slice_t bodystructure;     /* rendered BODYSTRUCTURE "(...)", or empty */
	bool recent;                  /* SYNC only: a message new to the session
				       * that it reports \Recent for (the glue
				       * decides, as at SELECT) */
	uint64_t text_match;          /* IMAP_WANT_TEXTMATCH: bit i = fetch.text[i] holds */
};

enum imap_req_kind {
	IMAP_REQ_NONE = 0,
	IMAP_REQ_AUTH,     /* verify credentials: imap_session_auth_done */
	IMAP_REQ_STARTTLS, /* flush output, handshake: imap_session_tls_done */
	IMAP_REQ_MAILBOX,  /* create/delete/rename/(un)subscribe: imap_session_mailbox_done */
	IMAP_REQ_LIST,     /* imap_session_list_entry.., imap_session_list_done */
	IMAP_REQ_STATUS,   /* imap_session_status_done */
	IMAP_REQ_SELECT,   /* imap_session_select_msg.., imap_session_select_done */
	IMAP_REQ_FETCH,    /* imap_session_fetch_msg.., imap_session_fetch_done */
	IMAP_REQ_BODY,     /* imap_session_body_data.., imap_session_body_done */
	IMAP_REQ_STORE,    /* imap_session_store_done */
	IMAP_REQ_EXPUNGE,  /* imap_session_expunged.., imap_session_expunge_done */
	IMAP_REQ_COPY,     /* (imap_session_expunged..) imap_session_copy_done */
	IMAP_REQ_APPEND,   /* deliver one message: imap_session_append_done */
	IMAP_REQ_SECTION,  /* where a MIME part section lies in a message:
			    * imap_session_section_done */
	IMAP_REQ_SYNC,     /* changes of the selected mailbox since a MODSEQ:
			    * imap_session_sync_msg.., imap_session_sync_vanished..,
			    * imap_session_sync_done */
};

enum imap_mailbox_op {
	IMAP_MB_CREATE = 0,  /* st_mailbox_create(name, roles) */
	IMAP_MB_DELETE,      /* st_mailbox_delete(name) */
	IMAP_MB_RENAME,      /* st_mailbox_rename(name, new_name) */
	IMAP_MB_SUBSCRIBE,   /* st_mailbox_subscribe(name, true) */
	IMAP_MB_UNSUBSCRIBE  /* st_mailbox_subscribe(name, false) */
};

/* What of a MIME part an IMAP_REQ_SECTION asks for (RFC 9051 §6.4.5). */
enum imap_part_kind {
	IMAP_PART_BODY = 0, /* BODY[1.2]: the part's content (message/rfc822:
			     * the whole embedded message) */
	IMAP_PART_HEADER,   /* BODY[1.2.HEADER]: header of the embedded message */
	IMAP_PART_TEXT,     /* BODY[1.2.TEXT]: text of the embedded message */
	IMAP_PART_MIME      /* BODY[1.2.MIME]: the part's MIME header */
};

enum imap_store_mode {
	IMAP_STORE_ADD = 0,  /* +FLAGS (ST_FLAGS_ADD) */
	IMAP_STORE_REMOVE,   /* -FLAGS */
	IMAP_STORE_REPLACE   /* FLAGS */
};

/* The outstanding request. Everything it points to stays valid until its
 * *_done completion (or destroy). */
struct imap_request {
	enum imap_req_kind kind;
	union {
		struct {
			sl_slice_t mechanism; /* "LOGIN" or "PLAIN" */
			sl_slice_t authzid;   /* may be empty */
			sl_slice_t authcid;
			sl_slice_t password;  /* wiped after *_done */
		} auth;
		struct {
			enum imap_mailbox_op op;
			sl_slice_t name;
			sl_slice_t new_name; /* RENAME only */
			uint32_t roles;      /* CREATE (USE (...)): IMAP_ROLE_* */
		} mailbox;
		struct {
			/* Report every mailbox in name order, then (if
			 * subscriptions) every subscribed name that is no
			 * mailbox with IMAP_MBA_NONEXISTENT, leaving out the
			 * first SKIP reports (a resumed listing). */
			bool subscriptions;
			bool want_status;   /* fill the counters of each entry */
			uint32_t skip;
		} list;
		struct {
			sl_slice_t name;
		} status;
		struct {
			sl_slice_t name;
			bool readonly; /* EXAMINE */
		} select;
		struct {
			/* Report the messages of the selected mailbox whose
			 * UID is in UIDS and greater than AFTER, ascending,
			 * until imap_session_fetch_msg returns 1. */
			const struct imap_range *uids;
			size_t n_uids;
			uint32_t after;
			unsigned want; /* IMAP_WANT_* */
			/* IMAP_WANT_TEXTMATCH only (SEARCH): predicates */
			const struct imap_text_pred *text;
			size_t n_text;
		} fetch;
		struct {
			uint32_t uid;
			uint64_t offset;
			uint32_t len; /* 1..body_chunk_max */
		} body;
		struct {
			const struct imap_range *uids;
			size_t n_uids;
			enum imap_store_mode mode;
			uint32_t flags;             /* IMAP_FLAG_* */
			const sl_slice_t *keywords; /* NUL-terminated slices */
			size_t n_keywords;
			uint64_t unchangedsince;    /* 0 = none (RFC 7162) */
		} store;
		struct {
			/* Remove the messages with \Deleted in UIDS; report each
			 * with imap_session_expunged, ascending. */
			const struct imap_range *uids;
			size_t n_uids;
		} expunge;
		struct {
			const struct imap_range *uids;
			size_t n_uids;
			sl_slice_t dest;
			bool move; /* MOVE: report the removed sources with
				    * imap_session_expunged */
		} copy;
		struct {
			/* st_msg_deliver with one target: MAILBOX of the user,
			 * BODY as is (borrowed from the session's input buffer,
			 * which stays untouched until append_done). */
			sl_slice_t mailbox;
			sl_slice_t body;
			uint32_t flags;             /* IMAP_FLAG_* */
			const sl_slice_t *keywords; /* NUL-terminated */
			size_t n_keywords;
			int64_t internaldate;       /* unix seconds; 0: now */
			int32_t tz_min;
		} append;
		struct {
			/* Resolve PATH ("1.2.3", digits and dots, never
			 * empty) of message UID to a byte range of the raw
			 * message, from the cached structure (the part table
			 * of mta/imap/imap_structure.h). */
			uint32_t uid;
			sl_slice_t path;
			enum imap_part_kind kind;
		} section;
		struct {
			/* st_changes_since(selected mailbox, since): every
			 * message with MODSEQ > SINCE (new ones included),
			 * then every UID expunged at a MODSEQ > SINCE. */
			uint64_t since;
			unsigned want; /* IMAP_WANT_* for the messages */
			/* QRESYNC passes that want only the expunged UIDs:
			 * the glue may skip the changed messages */
			bool expunged_only;
		} sync;
	} u;
};

enum imap_auth_status {
	IMAP_AUTH_OK = 0,      /* OK, authenticated state */
	IMAP_AUTH_FAIL = 1,    /* NO [AUTHENTICATIONFAILED] */
	IMAP_AUTH_TEMPFAIL = 2 /* NO [UNAVAILABLE] */
};

/* imap_session_create - new session. CFG must outlive it; PEER is copied.
 * The greeting is in the output. 0 and *S_R; SL_EINVAL (no hostname,
 * limits out of range); SL_ENOMEM. */
int imap_session_create(const struct imap_config *cfg, const struct imap_peer *peer,
			uint64_t now_us, imap_session_t **s_r);
/* imap_session_destroy - free, set *S to NULL. An outstanding request is
 * forgotten (the glue drops its completion). NULL / *S NULL: no-op. */
void imap_session_destroy(imap_session_t **s);

/* imap_session_input - feed LEN client bytes; *CONSUMED_R says how many
 * were taken. Unconsumed bytes (the engine waits on a request or on the
 * output, and its buffer is full) must be offered again, in order, after
 * the next completion or output_consume. 0, or SL_ECLOSED when closing
 * (all bytes are then consumed). Input during STARTTLS is discarded. */
int imap_session_input(imap_session_t *s, uint64_t now_us, const void *data, size_t len,
		       size_t *consumed_r);
/* imap_session_output - bytes to send; valid until the next engine call. */
sl_slice_t imap_session_output(const imap_session_t *s);
/* imap_session_output_consume - N bytes were sent (clamped); may go on
 * with a response being produced and with buffered input. 0/SL_ECLOSED. */
int imap_session_output_consume(imap_session_t *s, uint64_t now_us, size_t n);
/* imap_session_request - the outstanding request, or NULL. */
const struct imap_request *imap_session_request(const imap_session_t *s);

/* --- Completions ------------------------------------------------------
 * Each *_done returns 0, SL_ESTATE if that request is not outstanding, or
 * SL_ECLOSED if the session closed. ERR is 0 or an sl_err from the store:
 * SL_ENOENT gives NO [NONEXISTENT], SL_EEXIST NO [ALREADYEXISTS], SL_EBUSY
 * NO [INUSE], SL_EINVAL NO [CANNOT], SL_ELIMIT/SL_EFULL NO [LIMIT]/
 * [OVERQUOTA], SL_ESTATE NO [CANNOT], anything else NO [UNAVAILABLE]. */

/* USER_DISPLAY: the canonical user (NULL = authcid). */
int imap_session_auth_done(imap_session_t *s, uint64_t now_us, enum imap_auth_status st,
			   const char *user_display);
/* OK false closes the session; true forgets all state from before
 * (RFC 9051 §6.2.1) and discards plaintext that followed STARTTLS. */
int imap_session_tls_done(imap_session_t *s, uint64_t now_us, bool ok);
int imap_session_mailbox_done(imap_session_t *s, uint64_t now_us, int err);

/* imap_session_list_entry - while LIST is outstanding: one mailbox. The
 * engine matches it against the patterns itself. Returns 0 to go on, 1
 * when the glue must stop (output full: the engine will issue a new LIST
 * request with a larger skip), SL_ESTATE without a LIST request. */
int imap_session_list_entry(imap_session_t *s, const struct imap_mailbox_info *mb);
int imap_session_list_done(imap_session_t *s, uint64_t now_us, int err);

int imap_session_status_done(imap_session_t *s, uint64_t now_us, int err,
			     const struct imap_mailbox_info *mb);

/* imap_session_select_msg - while SELECT is outstanding: the next message
 * of the mailbox, ascending by UID. RECENT: this session is the one that
 * reports \Recent for it (RFC 3501 §2.3.2; the glue decides). 0,
 * SL_ESTATE, SL_EINVAL (UID not ascending), SL_ELIMIT (view_max). */
int imap_session_select_msg(imap_session_t *s, uint32_t uid, uint32_t flags, bool recent);
/* imap_session_select_done - ERR 0: the mailbox MB is open with the
 * KEYWORDS of its keyword table (for FLAGS / PERMANENTFLAGS). ERR < 0: no
 * mailbox is selected any more (RFC 9051 §6.3.2). */
int imap_session_select_done(imap_session_t *s, uint64_t now_us, int err,
			     const struct imap_mailbox_info *mb, const sl_slice_t *keywords,
			     size_t n_keywords);

/* imap_session_fetch_msg - while FETCH is outstanding: the next message.
 * Returns 0 to go on, 1 to stop (the engine resumes later with a new
 * request whose AFTER is this UID), SL_ESTATE without a FETCH request. */
int imap_session_fetch_msg(imap_session_t *s, const struct imap_msg_meta *m);
int imap_session_fetch_done(imap_session_t *s, uint64_t now_us, int err);

/* imap_session_body_data - while BODY is outstanding: the next bytes of
 * the range, in order, any number of calls (zero copy from st_body_read).
 * More than asked: SL_ELIMIT (excess ignored). */
int imap_session_body_data(imap_session_t *s, sl_slice_t part);
/* imap_session_body_done - fewer bytes than asked: the body ended (the
 * rest of the literal is padded with spaces, the client is told with a
 * NO at the end). ERR < 0 mid-literal closes the session. */
int imap_session_body_done(imap_session_t *s, uint64_t now_us, int err);

int imap_session_store_done(imap_session_t *s, uint64_t now_us, int err);

/* imap_session_expunged - while EXPUNGE or MOVE is outstanding: UID was
 * removed. Ascending. 0, SL_ESTATE. */
int imap_session_expunged(imap_session_t *s, uint32_t uid);
int imap_session_expunge_done(imap_session_t *s, uint64_t now_us, int err);
/* imap_session_copy_done - ERR 0: COUNT messages were copied; SRC_UIDS
 * (COUNT entries, ascending) became FIRST_UID.. in the destination, whose
 * UIDVALIDITY is given (RFC 4315 COPYUID). */
int imap_session_copy_done(imap_session_t *s, uint64_t now_us, int err, uint32_t uidvalidity,
			   const uint32_t *src_uids, size_t count, uint32_t first_uid);

/* imap_session_append_done - ERR 0: delivered as UID in a mailbox with
 * UIDVALIDITY (RFC 4315 APPENDUID; 0 leaves the code out). SL_ENOENT gives
 * NO [TRYCREATE], SL_ELIMIT NO [TOOBIG]. */
int imap_session_append_done(imap_session_t *s, uint64_t now_us, int err, uint32_t uidvalidity,
			     uint32_t uid);

/* imap_session_section_done - ERR 0: the section is bytes [OFFSET,
 * OFFSET+LEN) of the message (then read with BODY requests). SL_ENOENT or
 * SL_EINVAL: no such part (the client gets an empty string, RFC 9051
 * §6.4.5 leaves it to the server); other errors: an empty string and the
 * FETCH ends NO [UNAVAILABLE]. */
int imap_session_section_done(imap_session_t *s, uint64_t now_us, int err, uint64_t offset,
			      uint64_t len);

/* --- Changes made elsewhere (RFC 9051 §7.5.1, RFC 2177 IDLE) ----------
 * The glue calls imap_session_mailbox_changed when the selected mailbox
 * changed behind this session (a delivery, another session's STORE,
 * EXPUNGE or APPEND). At the next point where the client may be told, the
 * engine issues IMAP_REQ_SYNC: at once while the client IDLEs, else at its
 * next NOOP or CHECK. The glue answers from st_changes_since. The client
 * then sees FETCH (FLAGS) for changed messages, EXPUNGE for removed ones
 * and EXISTS for new ones, in that order. */

/* imap_session_mailbox_changed - see above. A no-op when nothing is
 * selected. May leave a SYNC request. 0 or SL_ECLOSED. */
int imap_session_mailbox_changed(imap_session_t *s, uint64_t now_us);
/* imap_session_sync_msg - a message changed or was added. 0 or SL_ESTATE. */
int imap_session_sync_msg(imap_session_t *s, const struct imap_msg_meta *m);
/* imap_session_sync_vanished - UID was expunged. 0 or SL_ESTATE. */
int imap_session_sync_vanished(imap_session_t *s, uint32_t uid);
/* imap_session_sync_history - the store's expunge history is bounded: it
 * no longer names the UIDs expunged at a MODSEQ <= FLOOR (pruned). Call
 * it during a SYNC, before sync_done, whenever FLOOR > the request's
 * `since` (calling it otherwise changes nothing). The engine then stops
 * relying on sync_vanished alone (RFC 7162 §3.2.5.2 and §3.2.6):
 *   - QRESYNC's VANISHED (EARLIER) (SELECT/EXAMINE, UID FETCH ...
 *     VANISHED) becomes every UID of known-uids (or of the UID FETCH set,
 *     or 1..UIDNEXT-1) that is not in the mailbox: a superset the client
 *     ignores where it never knew the UID;
 *   - a NOOP/CHECK/IDLE sync must learn which UIDs of its view are gone:
 *     the call returns 1, and the glue then reports every UID still in the
 *     mailbox with imap_session_sync_present (in any order) before
 *     sync_done; each view UID not reported is announced as expunged.
 * Returns 1 (report the present UIDs), 0 (nothing more to do), SL_ESTATE
 * (no SYNC outstanding), SL_ENOMEM (the sync fails: pass the error to
 * sync_done). */
int imap_session_sync_history(imap_session_t *s, uint64_t floor);
/* imap_session_sync_present - after sync_history returned 1: UID is in the
 * mailbox. 0 or SL_ESTATE. */
int imap_session_sync_present(imap_session_t *s, uint32_t uid);
/* imap_session_sync_done - HIGHESTMODSEQ: the mailbox's, as of the
 * changes reported (the next SYNC starts there). ERR < 0: nothing is
 * announced; the next NOOP asks again. */
int imap_session_sync_done(imap_session_t *s, uint64_t now_us, int err, uint64_t highestmodseq);

/* --- Time and shutdown --------------------------------------------- */

/* imap_session_deadline - when imap_session_timeout must be called;
 * SL_TIME_NEVER while a request is outstanding. */
uint64_t imap_session_deadline(const imap_session_t *s);
/* imap_session_timeout - act on the deadline: a held login NO, or
 * "* BYE" and close an idle session. 0 or SL_ECLOSED. Early is harmless. */
int imap_session_timeout(imap_session_t *s, uint64_t now_us);
/* imap_session_shutdown - "* BYE TEXT" and close (daemon stop). */
void imap_session_shutdown(imap_session_t *s, uint64_t now_us, const char *text);
bool imap_session_closing(const imap_session_t *s);
/* imap_session_idling - the client is in IDLE with a mailbox selected: the
 * glue should watch that mailbox and call imap_session_mailbox_changed
 * promptly (RFC 2177). */
bool imap_session_idling(const imap_session_t *s);

/* Accessors. */
enum imap_state imap_session_state(const imap_session_t *s);
sl_slice_t imap_session_user(const imap_session_t *s);
bool imap_session_tls_active(const imap_session_t *s);
/* imap_session_enabled - the ENABLEd extension bits (IMAP_EN_*). */
#define IMAP_EN_CONDSTORE 0x01u
#define IMAP_EN_QRESYNC 0x02u
#define IMAP_EN_IMAP4REV2 0x04u
#define IMAP_EN_UTF8 0x08u
unsigned imap_session_enabled(const imap_session_t *s);

/* Modified UTF-7 (RFC 3501 §5.1.3). */
/* imap_mutf7_decode - wire name IN to UTF-8 in OUT (CAP bytes, NUL added).
 * Length, or -1 if IN is not canonical modified UTF-7 (8-bit bytes, a bad
 * base64 run, directly encodable characters inside a shift, broken
 * surrogates, U+0000) or OUT is too small. */
long imap_mutf7_decode(const uint8_t *in, size_t len, char *out, size_t cap);
/* imap_mutf7_encode - UTF-8 IN to modified UTF-7 in OUT (NUL added).
 * Length, or -1 for invalid UTF-8 or too small an OUT. */
long imap_mutf7_encode(const uint8_t *in, size_t len, char *out, size_t cap);

#endif
