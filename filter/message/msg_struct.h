/* msg_struct - the structure of a message as IMAP needs it (issue 6):
 * every part's offsets, line count and BODYSTRUCTURE fields, and the
 * ENVELOPE fields of every message header (the top level and each
 * message/rfc822), built from the parser's events; plus an RFC 5322
 * address-list parser.
 *
 * Use: msg_struct_callbacks() gives callbacks for msg_parser_new() that
 * record into the structure and pass every event on to another set of
 * callbacks (the content filter's), so one pass serves both. Memory is
 * bounded by MAX_BYTES; past it the structure is marked truncated
 * (msg_struct_truncated) and the parse goes on. */
#ifndef MSG_STRUCT_H
#define MSG_STRUCT_H

#include <stdbool.h>
#include <stdint.h>

#include "message/msg.h"
#include "sl_buf.h"

/* A string of the structure: resolve with msg_struct_str(). set is false
 * when the field is absent (IMAP NIL). */
typedef struct msg_sref {
	uint32_t off, len;
	bool set;
} msg_sref_t;

enum msg_env_field {
	MSG_ENV_DATE = 0,
	MSG_ENV_SUBJECT,
	MSG_ENV_FROM,
	MSG_ENV_SENDER,
	MSG_ENV_REPLY_TO,
	MSG_ENV_TO,
	MSG_ENV_CC,
	MSG_ENV_BCC,
	MSG_ENV_IN_REPLY_TO,
	MSG_ENV_MESSAGE_ID,
	MSG_ENV_N
};

/* One part, in stream order (index = position; the root is 0). Children
 * of a part follow it; first_child/next_sibling link the tree
 * (UINT32_MAX = none). Strings are raw (unfolded) unless said otherwise. */
typedef struct msg_snode {
	uint32_t parent, first_child, next_sibling;
	uint32_t depth;
	msg_sref_t path;        /* IMAP section path ("" = root) */
	bool is_message, is_multipart, is_rfc822;
	msg_sref_t type, subtype; /* lowercased */
	uint32_t param0, nparams; /* Content-Type parameters: msg_struct_param(param0 + i) */
	uint32_t dparam0, ndparams; /* Content-Disposition parameters */
	msg_sref_t id, description, cte, md5, disp_type, language, location;
	enum msg_cte cte_kind;
	uint64_t header_off, body_off, body_end, body_lines;
	msg_sref_t env[MSG_ENV_N]; /* for is_message parts: raw header values */
} msg_snode_t;

typedef struct msg_struct msg_struct_t;

/* msg_struct_new - an empty structure holding at most MAX_BYTES of nodes and
 * strings (0: 1 MiB). NULL when memory is exhausted. */
msg_struct_t *msg_struct_new(size_t max_bytes);
/* msg_struct_reset - empty it for the next message, keeping allocations. */
void msg_struct_reset(msg_struct_t *s);
void msg_struct_free(msg_struct_t **s);

/* msg_struct_callbacks - callbacks that record into S and then call CHAIN's
 * (may be NULL; copied) with CHAIN's ctx. Pass *CB_R to msg_parser_new. */
void msg_struct_callbacks(msg_struct_t *s, const msg_callbacks_t *chain, msg_callbacks_t *cb_r);

/* msg_struct_nparts - parts recorded; msg_struct_part - part I (NULL when
 * out of range). Pointers stay valid until the next reset/feed. */
uint32_t msg_struct_nparts(const msg_struct_t *s);
const msg_snode_t *msg_struct_part(const msg_struct_t *s, uint32_t i);
/* msg_struct_str - the bytes of R ({NULL,0} when absent). */
sl_slice_t msg_struct_str(const msg_struct_t *s, msg_sref_t r);
/* msg_struct_param - parameter I of the table: name (lowercased) and value (UTF-8). */
void msg_struct_param(const msg_struct_t *s, uint32_t i, sl_slice_t *name_r, sl_slice_t *value_r);
/* msg_struct_truncated - true when MAX_BYTES was reached: the structure is incomplete. */
bool msg_struct_truncated(const msg_struct_t *s);
/* msg_struct_find - the part with IMAP section PATH (e.g. "1.2"; "" = root),
 * taking the outer part where a message/rfc822 and its message share the
 * path. Returns its index, or -1. */
int msg_struct_find(const msg_struct_t *s, const char *path);

/* --- RFC 5322 addresses ------------------------------------------------ */

enum msg_addr_kind {
	MSG_ADDR_MAILBOX = 0,
	MSG_ADDR_GROUP_START, /* mailbox holds the group name */
	MSG_ADDR_GROUP_END,
};

/* One IMAP address: name, route (adl), mailbox, host. Absent parts are
 * {NULL,0}. A mailbox without a domain gets host ".MISSING-HOST-NAME."
 * (as UW-IMAP), because NIL host means a group marker in IMAP. */
typedef struct msg_addr {
	enum msg_addr_kind kind;
	sl_slice_t name;    /* display name: quotes and escapes removed, words joined by one space */
	sl_slice_t adl;     /* obsolete source route "@a,@b" */
	sl_slice_t mailbox; /* local part, unquoted */
	sl_slice_t host;    /* domain */
} msg_addr_t;

/* msg_addr_parse - parse the address-list IN (raw header value, RFC 5322
 * §3.4 with obsolete syntax: comments, routes, missing parts, empty list
 * elements) into up to MAX entries of OUT; strings are appended to STRS
 * and OUT's slices point there (STRS must not be touched while OUT is in
 * use). *N_R = entries. 0; SL_ELIMIT when MAX entries or STRS's maximum
 * were reached (what fits is returned); SL_ENOMEM. Never fails on syntax:
 * junk is skipped. A comment is taken as the name when there is no
 * display name ("a@b (Name)"). */
int msg_addr_parse(sl_slice_t in, msg_addr_t *out, uint32_t max, uint32_t *n_r, sl_buf_t *strs);

#endif
