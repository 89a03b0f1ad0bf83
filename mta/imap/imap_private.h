/* imap_private - internals of the IMAP engine; only mta/imap/ includes it. */
#ifndef IMAP_PRIVATE_H
#define IMAP_PRIVATE_H

#include <stdarg.h>

#include "imap_session.h"
#include "sl_buf.h"

/* Output room (below output_max) needed before a command is read: the
 * longest response line the engine writes for one step (a LIST line with
 * its STATUS, a FETCH line with 64 keywords). */
#define IMAP_REPLY_RESERVE 8192u
/* A single response (a cached BODYSTRUCTURE) may overshoot output_max by
 * this much; output_max is the level at which production pauses. */
#define IMAP_OUT_SLACK ((1u << 20) + 65536u)
#define IMAP_TAG_MAX 64u
#define IMAP_CRED_MAX 1024u
#define IMAP_USER_MAX 255u
#define IMAP_NAME_MAX 1024u     /* a mailbox name on the wire (mUTF-7 of 255 bytes) */
#define IMAP_PATTERNS_MAX 16u   /* LIST patterns in one command */
#define IMAP_PATTERN_MAX 512u   /* bytes of one canonical LIST pattern */
#define IMAP_SECTIONS_MAX 16u   /* body sections in one FETCH */
#define IMAP_FIELDS_MAX 64u     /* header fields in one HEADER.FIELDS */
#define IMAP_PART_DEPTH_MAX 32u /* levels of a section part path "1.2.3" */
#define IMAP_SEARCH_NODES_MAX 256u
#define IMAP_KEYWORDS_MAX 64u   /* in one STORE: the store's table size */
#define IMAP_ID_PAIRS_MAX 30u   /* RFC 2971 §3.3 */

enum imap_phase {
	IMAP_P_CMD = 0, /* reading commands */
	IMAP_P_SASL,    /* reading an AUTHENTICATE response line */
	IMAP_P_IDLE,    /* IDLE: waiting for DONE */
	IMAP_P_CLOSED   /* closing: input dropped */
};

/* Why the command being received is refused; its bytes are dropped as
 * they arrive and the refusal is sent at its end. */
enum imap_reject {
	IMAP_RJ_NONE = 0,
	IMAP_RJ_LINE,    /* a line over line_max */
	IMAP_RJ_LITERAL, /* a synchronizing literal over its limit */
	IMAP_RJ_NESTING, /* parentheses deeper than the limit */
	IMAP_RJ_TOOLONG, /* over cmd_max in total */
	IMAP_RJ_NUL,     /* NUL inside a literal */
	IMAP_RJ_TOOBIG   /* an APPEND message over APPENDLIMIT: NO [TOOBIG] */
};

/* Literal announcement tracking at the end of a line: "{" digits ["+"] "}". */
enum imap_la { IMAP_LA_NONE = 0, IMAP_LA_OPEN, IMAP_LA_DIGITS, IMAP_LA_PLUS, IMAP_LA_CLOSE, IMAP_LA_CR };

/* Framing of the command being received: a resumable scanner over its
 * bytes (lines and literals), so a command is complete, or refused, before
 * the parser sees it. */
struct imap_frame {
	size_t off;         /* bytes of the command scanned, from in_off */
	size_t line_len;    /* bytes of the current line */
	uint64_t lit_left;  /* bytes of a literal still to come */
	enum imap_la la;
	uint64_t la_num;
	bool la_plus;
	bool la_overflow;
	bool tilde;         /* the last byte was '~' (outside quotes) */
	bool la_bin;        /* the announcement is a literal8 "~{n}" */
	bool lit_bin;       /* the literal being read is APPEND's literal8:
			     * NUL is data (RFC 3516 §4.2) */
	bool in_quote;
	bool escape;
	uint32_t depth;
	uint64_t lit_total; /* literal bytes of the command so far */
	bool append;        /* the command is APPEND: its literal may be large */
	enum imap_reject reject;
	bool reject_tagged; /* the tag of the refused command is known */
	char rtag[IMAP_TAG_MAX + 1];
	size_t rtag_len;
};

/* ---- parser ---- */

struct imap_parser {
	const uint8_t *p;
	size_t n;
	size_t pos;
	imap_session_t *s;
	const char *err; /* static text for the BAD response */
	uint32_t depth;
	uint32_t depth_max;
};

/* ---- FETCH ---- */

enum imap_fi {
	IMAP_FI_UID = 1u << 0,
	IMAP_FI_FLAGS = 1u << 1,
	IMAP_FI_SIZE = 1u << 2,
	IMAP_FI_DATE = 1u << 3,
	IMAP_FI_MODSEQ = 1u << 4,
	IMAP_FI_ENVELOPE = 1u << 5,
	IMAP_FI_BODY = 1u << 6,          /* BODY (structure, non-extensible) */
	IMAP_FI_BODYSTRUCTURE = 1u << 7,
};

enum imap_sec_kind {
	IMAP_SEC_FULL = 0,   /* BODY[] / RFC822 */
	IMAP_SEC_HEADER,     /* BODY[HEADER] / RFC822.HEADER */
	IMAP_SEC_TEXT,       /* BODY[TEXT] / RFC822.TEXT */
	IMAP_SEC_FIELDS,     /* BODY[HEADER.FIELDS (..)] */
	IMAP_SEC_FIELDS_NOT  /* BODY[HEADER.FIELDS.NOT (..)] */
};

enum imap_sec_name {
	IMAP_SN_BODY = 0,     /* BODY[...] (and BODY.PEEK[...]) */
	IMAP_SN_RFC822,       /* RFC822 */
	IMAP_SN_RFC822_HEADER,
	IMAP_SN_RFC822_TEXT,
	IMAP_SN_BINARY,       /* BINARY[part] / BINARY.PEEK[part] (RFC 3516) */
	IMAP_SN_BINARY_SIZE   /* BINARY.SIZE[part] */
};

/* A part's Content-Transfer-Encoding as BINARY sees it. */
enum imap_cte {
	IMAP_CTE_IDENTITY = 0, /* 7bit, 8bit, binary, absent: sent as is */
	IMAP_CTE_BASE64,
	IMAP_CTE_QP,
	IMAP_CTE_UU,           /* x-uuencode (filter/message decodes it) */
	IMAP_CTE_UNKNOWN       /* NO [UNKNOWN-CTE] (RFC 3516 §4.3) */
};

struct imap_section {
	sl_slice_t part;          /* MIME part path "1.2" (NUL after), or empty */
	enum imap_part_kind pkind; /* what of the part (with a path) */
	enum imap_sec_kind kind;
	enum imap_sec_name name;
	bool peek;
	bool partial;
	bool binary;              /* BINARY / BINARY.PEEK / BINARY.SIZE */
	uint32_t p_off, p_len;
	const sl_slice_t *fields; /* in the arena */
	uint32_t n_fields;
};

struct imap_fetch {
	unsigned items;         /* IMAP_FI_* */
	struct imap_section sec[IMAP_SECTIONS_MAX];
	uint32_t n_sec;
	uint64_t changedsince;  /* CONDSTORE modifier; 0 = none */
	bool set_seen;          /* a non-PEEK body item on a read-write mailbox */
	bool seen_stored;       /* the implicit \Seen STORE was issued */
	bool flags_only_silent; /* internal FETCH after STORE: FLAGS (MODSEQ) */
	uint32_t after;         /* iteration cursor: last UID reported */
	bool stopped;           /* we asked the glue to stop (output full) */
	bool iter_done;         /* the glue reported every message */
	bool unavailable;       /* a cached structure was missing */
	bool short_body;        /* a body ended before its size */
	/* the message whose sections are being streamed */
	bool msg_open;
	uint32_t msg_uid;
	uint64_t msg_size;
	uint32_t cur;           /* next section index */
	bool msg_first;         /* nothing written yet inside the parentheses */
	bool in_literal;        /* literal bytes are going out */
	uint64_t lit_src;       /* next source offset (body, or into sec_buf) */
	uint64_t lit_end;       /* end of the source range */
	uint64_t lit_pad;       /* spaces owed after a short body */
	bool lit_from_buf;      /* source is sec_buf, not BODY requests */
	bool hdr_loaded;        /* hdr holds the header of msg_uid */
	uint64_t hdr_want;      /* header bytes being read */
	uint64_t hdr_len;       /* header length incl. the blank line */
	uint32_t body_got;      /* bytes of the outstanding BODY request */
	bool part_resolved;     /* part_off/part_len hold section cur's range */
	bool part_found;        /* ... and the part exists */
	uint64_t part_off, part_len;
	uint64_t hdr_base;      /* message offset hdr was read from */
	bool hdr_started;       /* hdr_base/hdr_want are set */
	bool dec_flushed;       /* the sending pass flushed its decoder */
	/* BINARY (RFC 3516) of section cur: resolve the MIME header, read its
	 * CTE, resolve the body, measure the decoded size (one decoding pass
	 * in BODY requests), then stream a second decoding pass */
	uint8_t bin_stage;
	enum imap_cte bin_cte;
	uint64_t bin_off, bin_len; /* the encoded range */
	uint64_t bin_size;      /* decoded bytes */
	bool bin_nul;           /* the decoded bytes hold a NUL: literal8 */
	bool measuring;         /* BODY data goes to the measuring pass */
	bool lit_decode;        /* the literal is decoded from enc_pos on */
	uint64_t enc_pos;       /* next encoded byte to ask for */
	uint64_t dec_pos;       /* decoded bytes produced in this pass */
	uint64_t dec_from;      /* first decoded byte of the literal (partial) */
	bool unknown_cte;       /* the FETCH ends NO [UNKNOWN-CTE] */
	/* the last measured part, so BINARY.SIZE[n] BINARY[n] reads it once */
	bool bin_cached;
	uint32_t bin_c_uid;
	sl_slice_t bin_c_path;  /* arena slice of this command */
	enum imap_cte bin_c_cte;
	uint64_t bin_c_off, bin_c_len, bin_c_size;
	bool bin_c_nul;
	/* UID FETCH (CHANGEDSINCE n VANISHED), RFC 7162 §3.2.6 */
	bool vanished;
	uint8_t van_stage;      /* 0 SYNC to issue, 1 issued, 2 writing, 3 done */
	const struct imap_range *raw_set; /* the UID set as given ('*' max) */
	uint32_t n_raw_set;
};

/* ---- SEARCH ---- */

enum imap_sk {
	IMAP_SK_ALL = 0,
	IMAP_SK_AND,      /* children a .. (linked through next) */
	IMAP_SK_OR,       /* two children */
	IMAP_SK_NOT,      /* one child */
	IMAP_SK_FLAG,     /* flags & num == num (set) */
	IMAP_SK_UNFLAG,   /* flags & num == 0 */
	IMAP_SK_KEYWORD,
	IMAP_SK_UNKEYWORD,
	IMAP_SK_RECENT,
	IMAP_SK_NEW,      /* recent and unseen */
	IMAP_SK_OLD,      /* not recent */
	IMAP_SK_LARGER,
	IMAP_SK_SMALLER,
	IMAP_SK_UID,      /* ranges (UIDs) */
	IMAP_SK_SEQ,      /* ranges (sequence numbers, '*' resolved) */
	IMAP_SK_BEFORE,   /* internal date, days since the epoch */
	IMAP_SK_ON,
	IMAP_SK_SINCE,
	IMAP_SK_MODSEQ,   /* modseq >= num */
	IMAP_SK_NONE,     /* matches nothing (an empty sequence set) */
	IMAP_SK_TEXT      /* content key: bit num of the glue's text_match */
};

struct imap_snode {
	enum imap_sk kind;
	int32_t child;      /* first child (AND/OR/NOT), or -1 */
	int32_t next;       /* next sibling, or -1 */
	uint64_t num;
	sl_slice_t kw;
	const struct imap_range *ranges;
	uint32_t n_ranges;
};

#define IMAP_SR_MIN 0x01u
#define IMAP_SR_MAX 0x02u
#define IMAP_SR_ALL 0x04u
#define IMAP_SR_COUNT 0x08u

struct imap_search {
	struct imap_snode nodes[IMAP_SEARCH_NODES_MAX];
	uint32_t n_nodes;
	int32_t root;
	bool esearch;        /* answer with ESEARCH (RETURN given, or rev2) */
	unsigned ret;        /* IMAP_SR_* */
	unsigned want;       /* IMAP_WANT_* the keys need */
	uint32_t *hits;      /* matching numbers (msn or uid), ascending */
	uint32_t n_hits;
	uint32_t hits_cap;
	uint64_t max_modseq; /* for "(MODSEQ n)" */
	bool has_modseq;
	uint32_t after;
	bool stopped;
	bool iter_done;
	uint32_t out_next;   /* results written so far */
	bool out_started;
	/* content keys (BODY, TEXT, HEADER, FROM, ..., SENT*): evaluated by
	 * the glue, IMAP_WANT_TEXTMATCH; strings in the command's arena */
	struct imap_text_pred preds[IMAP_TEXT_PREDS_MAX];
	uint32_t n_preds;
	bool ascii_only;     /* CHARSET US-ASCII: no 8-bit search strings */
};

/* ---- LIST ---- */

struct imap_list {
	bool lsub;
	bool sel_subscribed;   /* LIST (SUBSCRIBED) */
	bool sel_special;      /* LIST (SPECIAL-USE) */
	bool ret_subscribed;
	bool ret_children;
	bool ret_special;
	unsigned ret_status;   /* IMAP_ST_* for LIST-STATUS */
	sl_slice_t patterns[IMAP_PATTERNS_MAX]; /* canonical: reference + pattern */
	uint32_t n_patterns;
	uint32_t delivered;    /* entries the glue reported (for resuming) */
	bool stopped;          /* we asked the glue to stop (output full) */
	bool iter_done;
};

/* STATUS items */
#define IMAP_ST_MESSAGES 0x01u
#define IMAP_ST_UIDNEXT 0x02u
#define IMAP_ST_UIDVALIDITY 0x04u
#define IMAP_ST_UNSEEN 0x08u
#define IMAP_ST_RECENT 0x10u
#define IMAP_ST_SIZE 0x20u
#define IMAP_ST_HIGHESTMODSEQ 0x40u

/* ---- the selected mailbox ---- */

struct imap_view {
	uint32_t *uids;      /* ascending: index + 1 is the sequence number */
	uint8_t *recent;     /* 1 if this session reports \Recent for it */
	uint32_t n;
	uint32_t cap;
	uint32_t first_unseen; /* sequence number, 0 if none (SELECT only) */
	uint32_t n_recent;
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint64_t highestmodseq;
	bool readonly;
	/* EXPUNGE in progress: indexes removed, ascending, not yet announced */
	uint32_t *gone;
	uint32_t n_gone;
	uint32_t gone_out;   /* EXPUNGE responses written */
};

/* What runs between the command line and its tagged response. */
enum imap_job {
	IMAP_JOB_NONE = 0,
	IMAP_JOB_SIMPLE,  /* waits for one completion that finishes it */
	IMAP_JOB_LIST,
	IMAP_JOB_FETCH,
	IMAP_JOB_SEARCH,
	IMAP_JOB_STORE,
	IMAP_JOB_EXPUNGE,
	IMAP_JOB_COPY,
	IMAP_JOB_SYNC     /* NOOP/CHECK that waits for a SYNC */
};

struct imap_cmd;
struct imap_dec;

/* What an IMAP_REQ_SYNC is for. */
enum imap_sync_mode {
	IMAP_SM_NORMAL = 0, /* changes made elsewhere (NOOP, CHECK, IDLE) */
	IMAP_SM_QR_VANISHED,/* SELECT (QRESYNC ...), first pass: the UIDs expunged
			     * since the client's MODSEQ (VANISHED (EARLIER)) */
	IMAP_SM_QR_SELECT,  /* second pass: FETCH of what changed since then */
	IMAP_SM_QR_FETCH    /* UID FETCH (CHANGEDSINCE n VANISHED): expunged UIDs only */
};

/* Ranges of VANISHED (EARLIER) UIDs kept exactly; past this the response
 * is computed as the UIDs not in the view (RFC 7162 §3.2.5.1 lets a server
 * report UIDs the client never knew, which it ignores). */
#define IMAP_VAN_RANGES_MAX 16384u
/* One VANISHED line's UID list, before it continues on another line. */
#define IMAP_VAN_LINE_MAX 4000u

struct imap_session {
	const struct imap_config *cfg;
	struct imap_stats *stats;
	struct imap_stats stats_dummy;

	char client_ip[64];
	uint64_t conn_id;
	bool tls;

	enum imap_state state;
	enum imap_phase phase;
	unsigned enabled;    /* IMAP_EN_* */
	uint32_t errors;
	uint32_t auth_failures;
	uint64_t now;
	uint64_t last_active;
	bool delaying;       /* a failed login's NO is held */
	uint64_t delay_until;

	char user[IMAP_USER_MAX + 1];
	size_t user_len;

	/* input: pending bytes are in.data[in_off..in.len) */
	sl_buf_t in;
	size_t in_off;
	struct imap_frame fr;

	/* output: production pauses at cfg->output_max */
	sl_buf_t out;

	/* the command being executed */
	const struct imap_cmd *cmd;
	const char *verb;    /* the command's name, for responses */
	char tag[IMAP_TAG_MAX + 1];
	size_t tag_len;
	bool uid;            /* UID variant */
	enum imap_job job;
	int job_err;         /* a store error to report once the job ends */
	bool close_expunge;  /* CLOSE: expunge silently, then unselect */
	uint8_t *arena;      /* per-command bump allocator */
	size_t arena_cap;
	size_t arena_used;

	struct imap_request req;
	uint8_t cred[IMAP_CRED_MAX];
	size_t cred_len;

	/* per-command arguments */
	struct imap_range *ranges; /* the command's set, as UID ranges */
	size_t n_ranges;
	sl_slice_t name;           /* mailbox argument (UTF-8, NUL-terminated) */
	sl_slice_t name2;
	unsigned status_items;     /* STATUS */
	bool select_condstore;     /* SELECT (CONDSTORE) */
	const sl_slice_t *keywords; /* STORE */
	size_t n_keywords;
	bool store_silent;
	bool unchanged_fail;

	struct imap_view view;
	bool selected_pending;     /* a SELECT is in flight: the old view is gone */
	struct imap_list list;
	struct imap_fetch fetch;
	struct imap_search *search; /* allocated on first SEARCH */
	sl_buf_t hdr;              /* header bytes of the message in FETCH */
	sl_buf_t sec_buf;          /* a HEADER.FIELDS result */

	bool hold_input;           /* APPEND outstanding: its body is in `in` */

	/* changes made elsewhere */
	bool sync_due;             /* the glue said the mailbox changed */
	bool sync_again;           /* output was full: some FETCH were skipped */
	bool announcing;           /* EXPUNGE/EXISTS of a SYNC to write */
	uint32_t *sync_new;        /* new UIDs seen by the SYNC */
	uint32_t n_sync_new;
	uint32_t sync_new_cap;
	uint32_t sync_recent_min;  /* new UIDs from here on are \Recent (the
				    * glue claims the highest UIDs); 0 = none */
	uint8_t *sync_present;     /* history pruned past `since` (NORMAL
				    * sync): 1 per view index the glue reported
				    * present (imap_session_sync_present);
				    * NULL otherwise */

	/* QRESYNC (RFC 7162 §3.2): what the outstanding SYNC is for, the
	 * SELECT parameters, and the VANISHED (EARLIER) UIDs being collected
	 * (sorted, merged ranges) and written */
	enum imap_sync_mode sync_mode;
	bool qr_select;            /* SELECT/EXAMINE (QRESYNC (...)) */
	uint32_t qr_uidvalidity;
	uint64_t qr_modseq;
	struct imap_range *qr_known; /* known-uids, sorted and merged; NULL: all */
	uint32_t n_qr_known;
	uint64_t qr_since;         /* a QRESYNC SYNC resumes from here */
	bool qr_skipping;          /* output full: the rest comes next round */
	bool qr_earlier;           /* VANISHED (EARLIER) lines to write */
	struct imap_range *van;    /* collected UIDs (malloc, IMAP_VAN_RANGES_MAX) */
	uint32_t n_van;
	uint32_t van_cap;
	bool van_overflow;         /* too many ranges: the complement of the view */
	uint32_t van_i;            /* writer cursor: range index */
	uint64_t van_at;           /* writer cursor: next UID (complement mode) */
	const struct imap_range *van_base; /* complement base ranges */
	uint32_t n_van_base;
	struct imap_range van_all; /* [1, uidnext-1] when no base is given */
	uint32_t van_top;          /* the highest UID the complement covers */
	bool qr_pending;           /* a QRESYNC SYNC round waits for output room */
	struct imap_dec *dec;      /* BINARY's transfer decoder (lazily made) */

	/* COPY/MOVE result for the tagged response */
	char copyuid[256];
};

/* imap_session.c */
void imap_out(imap_session_t *s, const void *p, size_t n);
void imap_printf(imap_session_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* imap_reply - one response line (CRLF added). */
void imap_reply(imap_session_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* imap_tagged - the tagged response of the current command; ends it. */
void imap_tagged(imap_session_t *s, const char *status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* imap_bad - tagged BAD (counts towards errors_max). */
void imap_bad(imap_session_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void imap_no_err(imap_session_t *s, int err, const char *what);
size_t imap_room(const imap_session_t *s);
void imap_close(imap_session_t *s);
int imap_resume(imap_session_t *s);
void imap_request_issue(imap_session_t *s, enum imap_req_kind kind);
void imap_cred_wipe(imap_session_t *s);
void *imap_arena_alloc(imap_session_t *s, size_t n);
bool imap_arena_prepare(imap_session_t *s, size_t len);
void imap_view_reset(imap_session_t *s);
bool imap_utf8_mode(const imap_session_t *s);

/* imap_parse.c */
void imap_p_init(struct imap_parser *ps, imap_session_t *s, const uint8_t *p, size_t n);
bool imap_p_fail(struct imap_parser *ps, const char *err);
bool imap_p_at(const struct imap_parser *ps, uint8_t c);
bool imap_p_sp(struct imap_parser *ps);
bool imap_p_eol(struct imap_parser *ps);
bool imap_p_end(const struct imap_parser *ps);
bool imap_p_atom(struct imap_parser *ps, sl_slice_t *r);
bool imap_p_tag(struct imap_parser *ps, sl_slice_t *r);
bool imap_p_astring(struct imap_parser *ps, sl_slice_t *r);
bool imap_p_string(struct imap_parser *ps, sl_slice_t *r);
bool imap_p_nstring(struct imap_parser *ps, sl_slice_t *r, bool *nil_r);
bool imap_p_number(struct imap_parser *ps, uint32_t *v);
bool imap_p_nz_number(struct imap_parser *ps, uint32_t *v);
bool imap_p_number64(struct imap_parser *ps, uint64_t *v);
bool imap_p_open(struct imap_parser *ps);
bool imap_p_close(struct imap_parser *ps);
bool imap_p_mailbox(struct imap_parser *ps, sl_slice_t *r);
bool imap_p_list_mailbox(struct imap_parser *ps, sl_slice_t *r);
/* imap_p_seqset - a sequence set into arena ranges; '*' is UINT32_MAX.
 * Numbers are not resolved. */
bool imap_p_seqset(struct imap_parser *ps, struct imap_range **r, uint32_t *n_r);
bool imap_p_date(struct imap_parser *ps, int64_t *days_r);
bool imap_p_date_time(struct imap_parser *ps, int64_t *t_r, int32_t *tz_r);
bool imap_p_literal_raw(struct imap_parser *ps, sl_slice_t *r, bool literal8);
bool imap_p_flag(struct imap_parser *ps, uint32_t *sysflag_r, sl_slice_t *kw_r, bool *recent_r);
bool imap_atom_char(uint8_t c);
/* imap_write_string - S as an IMAP string (quoted, or a literal if it
 * cannot be quoted) into the output. */
void imap_write_string(imap_session_t *s, sl_slice_t str);
/* imap_write_mailbox - a mailbox name (UTF-8) on the wire: mUTF-7 unless
 * UTF-8 is enabled. */
void imap_write_mailbox(imap_session_t *s, sl_slice_t name);

/* imap_utf7.c */
size_t imap_utf8_next(const uint8_t *p, size_t n, uint32_t *cp_r);
bool imap_utf8_valid(const uint8_t *p, size_t n);

/* imap_sync.c */
bool imap_sync_issue(imap_session_t *s);
/* imap_sync_issue_qr - a SYNC since SINCE for QRESYNC (MODE). */
void imap_sync_issue_qr(imap_session_t *s, enum imap_sync_mode mode, uint64_t since);
/* imap_van_add - collect an expunged UID for VANISHED (EARLIER). */
void imap_van_add(imap_session_t *s, uint32_t uid);
/* imap_van_write - write collected VANISHED (EARLIER) lines while there
 * is room; true when all are written (then the collection is emptied). */
bool imap_van_write(imap_session_t *s);
void imap_van_reset(imap_session_t *s);
void imap_van_base(imap_session_t *s, const struct imap_range *base, uint32_t n);
bool imap_sync_pump(imap_session_t *s);
/* imap_gone_write - the removals in view.gone as "* VANISHED uids" (under
 * QRESYNC) or "* n EXPUNGE" lines while there is room; true when all are
 * written. */
bool imap_gone_write(imap_session_t *s);
bool imap_ranges_have(const struct imap_range *r, uint32_t n, uint32_t uid);
/* imap_ranges_normalize - sort and merge R in place; the new count. */
uint32_t imap_ranges_normalize(struct imap_range *r, uint32_t n);
bool imap_sync_announce(imap_session_t *s);
void imap_view_compact(imap_session_t *s);

/* imap_cmd.c */
void imap_greeting(imap_session_t *s);
void imap_cmd_run(imap_session_t *s, const uint8_t *p, size_t n);
void imap_sasl_line(imap_session_t *s, const uint8_t *p, size_t n);
void imap_idle_line(imap_session_t *s, const uint8_t *p, size_t n);
void imap_capability_write(imap_session_t *s);
/* imap_job_pump - go on with the running command (stream, next request,
 * tagged response). True if anything happened. */
bool imap_job_pump(imap_session_t *s);
/* imap_resolve_set - turn parsed sequence/UID ranges into UID ranges of the
 * view (s->ranges). False (replied) on a bad sequence number. */
bool imap_resolve_set(imap_session_t *s, const struct imap_range *set, uint32_t n, bool uid);
uint32_t imap_view_msn(const imap_session_t *s, uint32_t uid);

/* imap_mailbox.c */
bool imap_list_pump(imap_session_t *s);
int imap_list_entry(imap_session_t *s, const struct imap_mailbox_info *mb);
void imap_status_write(imap_session_t *s, sl_slice_t name, unsigned items,
		       const struct imap_mailbox_info *mb);
bool imap_list_match(const uint8_t *pat, size_t plen, const uint8_t *name, size_t nlen);

/* imap_fetch.c */
bool imap_fetch_parse(imap_session_t *s, struct imap_parser *ps);
bool imap_fetch_pump(imap_session_t *s);
int imap_fetch_msg(imap_session_t *s, const struct imap_msg_meta *m);
void imap_fetch_body_data(imap_session_t *s, sl_slice_t part);
void imap_fetch_body_end(imap_session_t *s, int err);
void imap_fetch_start(imap_session_t *s);
void imap_write_flags(imap_session_t *s, uint32_t flags, const sl_slice_t *kw, size_t n_kw,
		      bool recent);

/* imap_binary.c */
typedef void imap_dec_sink_fn(void *ctx, sl_slice_t decoded);
/* imap_dec_start - (re)start the decoder *DP (made on first use) for CTE
 * (BASE64, QP or UU); decoded bytes go to SINK. 0, SL_EINVAL, SL_ENOMEM. */
int imap_dec_start(struct imap_dec **dp, enum imap_cte cte, imap_dec_sink_fn *sink, void *ctx);
int imap_dec_feed(struct imap_dec *d, sl_slice_t enc);
/* imap_dec_finish - end of the encoded bytes: what the decoder held goes
 * to the sink. */
int imap_dec_finish(struct imap_dec *d);
void imap_dec_free(struct imap_dec **dp);
/* imap_cte_of_header - the Content-Transfer-Encoding of a MIME header
 * block (absent: identity). */
enum imap_cte imap_cte_of_header(const uint8_t *p, size_t n);

/* imap_search.c */
bool imap_search_parse(imap_session_t *s, struct imap_parser *ps);
bool imap_search_pump(imap_session_t *s);
int imap_search_msg(imap_session_t *s, const struct imap_msg_meta *m);

#endif
