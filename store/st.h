/* st - the Sluice mail store on LMDB: the public API.
 *
 * Everything durable lives here: domains, users and aliases, mailboxes and
 * messages, content-addressed body blobs, the outbound queue, quarantine,
 * and key spaces for filter state and config. docs/store.md describes the
 * key spaces, the writer, and the durability argument.
 *
 * Threads and handles
 * -------------------
 * st_store_t     one per process; owns the LMDB environment and the writer
 *                thread. Thread-safe.
 * st_client_t    a submitter: one per thread that writes (each worker lcore,
 *                the control thread). Never shared between threads. Writes
 *                are requests; each request completes exactly once, on the
 *                submitting thread, from st_client_poll(), and only after the
 *                transaction that applied it has committed (and fsynced).
 * st_reader_t    a read handle: one per thread that reads. Never shared.
 *                Every read function opens a short MDB_NOTLS read transaction
 *                and closes it before it returns, so a snapshot can never be
 *                held across event-loop turns. Several reads can share one
 *                snapshot inside st_read().
 *
 * Write requests (the st_*() functions that take an st_client_t and an
 * st_done_fn) copy their scalars and the strings that have a documented
 * maximum (names, addresses) at submission. Arrays and bodies (st_deliver_t's
 * body and targets, uid ranges, result arrays) are BORROWED: they must stay
 * valid and unmodified until the request's callback has run. Out-arrays
 * (results) are written by the writer thread and may be read from the
 * callback on.
 *
 * A submit function returns 0 when the request is queued (the callback will
 * run later), SL_EINVAL for arguments that can never succeed (the callback
 * will not run), SL_EAGAIN when the client already has its maximum number of
 * requests in flight (poll completions, then retry), or SL_ESTATE when the
 * store is closing.
 *
 * Callbacks and read-listing callbacks must not block. A listing callback
 * returns 0 to continue or any other value to stop; the listing function
 * then returns that value. Inside a read (a listing callback, or st_read's
 * function) never wait for a write completion and never create or destroy
 * a reader: the writer may be waiting for that snapshot to end before it
 * can grow the map.
 */
#ifndef ST_H
#define ST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sl_buf.h"

typedef struct st_store st_store_t;
typedef struct st_client st_client_t;
typedef struct st_reader st_reader_t;

/* --- Limits ------------------------------------------------------------ */

#define ST_ADDR_MAX 254          /* user@domain, RFC 5321 §4.5.3.1.3 */
#define ST_LOCAL_MAX 64          /* local part, RFC 5321 §4.5.3.1.1 */
#define ST_DOMAIN_MAX 253        /* RFC 1035, without the trailing dot */
#define ST_MAILBOX_NAME_MAX 255  /* bytes of UTF-8, hierarchy included */
#define ST_MAILBOX_DEPTH_MAX 16  /* levels of hierarchy */
#define ST_MAILBOX_DELIM '/'     /* hierarchy delimiter */
#define ST_KEYWORD_MAX 64        /* bytes in one IMAP keyword */
#define ST_KEYWORDS_MAX 64       /* distinct keywords per mailbox */
#define ST_RCPT_MAX 1000         /* recipients per queue or quarantine entry,
				    targets per delivery */
#define ST_DIAG_MAX 512          /* per-recipient diagnostic text */
#define ST_VERDICT_MAX 512       /* quarantine verdict text */
#define ST_KV_KEY_MAX 511        /* LMDB's default maximum key size */
#define ST_KV_VALUE_MAX (1u << 20)
#define ST_STRUCT_MAX (1u << 20) /* cached parsed structure of one body */
#define ST_ALIAS_DEPTH_MAX 8     /* alias expansion depth */
#define ST_PASSWORD_MAX 1024

#define ST_BLOB_ID_LEN 32        /* SHA-256 */

/* --- SHA-256 (FIPS 180-4) ---------------------------------------------- */

typedef struct st_sha256 {
	uint32_t h[8];
	uint64_t total;     /* bytes hashed so far */
	uint8_t block[64];
	size_t fill;        /* bytes waiting in block */
} st_sha256_t;

/* st_sha256_init - start a hash. Streaming lets SMTP hash DATA as it
 * arrives, so the writer never hashes. */
void st_sha256_init(st_sha256_t *ctx);
/* st_sha256_update - hash N more bytes of P. */
void st_sha256_update(st_sha256_t *ctx, const void *p, size_t n);
/* st_sha256_final - write the 32-byte digest to OUT; CTX is spent. */
void st_sha256_final(st_sha256_t *ctx, uint8_t out[ST_BLOB_ID_LEN]);
/* st_sha256 - one-shot digest of N bytes of P. */
void st_sha256(const void *p, size_t n, uint8_t out[ST_BLOB_ID_LEN]);

typedef struct st_blob_id {
	uint8_t b[ST_BLOB_ID_LEN];
} st_blob_id_t;

/* --- Store lifetime ---------------------------------------------------- */

typedef struct st_store_opts {
	const char *path;            /* directory; created if missing */
	uint64_t map_size;           /* initial map size (default 64 MiB) */
	uint64_t map_size_max;       /* growth stops here (default 64 GiB) */
	unsigned map_grow_pct;       /* grow when used > this % of the map
					before a batch (default 80); 100:
					only when MDB_MAP_FULL is hit */
	unsigned max_readers;        /* LMDB reader slots (default 126) */
	unsigned queue_size;         /* request ring slots, power of 2; the sum
					of all clients' max_inflight is bounded
					by it (default 4096) */
	unsigned batch_max;          /* requests per transaction (default 256) */
	uint64_t batch_bytes_max;    /* body bytes per transaction (default
					64 MiB); a larger single request still
					gets a transaction of its own */
	uint64_t body_max;           /* largest body accepted (default 64 MiB) */
	/* glibc returns freed memory at the top of an arena to the kernel
	   once it exceeds M_TRIM_THRESHOLD (128 KiB by default). The writer
	   mallocs each transaction's dirty pages (1 MB of body = 256 pages)
	   and frees them at commit, so with the default every transaction
	   page-faults all of them in again (measured: 3 ms of writer time
	   per 1 MB body on a VM). st_store_open raises the threshold of the
	   whole process to this many bytes (default 128 MiB); 0 leaves
	   malloc alone. */
	uint64_t malloc_trim_threshold;
	/* expunge history (QRESYNC, RFC 7162): rows kept per mailbox
	   (default 10,000; 1..2^26). An expunge beyond it deletes the oldest
	   rows in its own transaction and raises the mailbox's
	   vanished_floor (st_mailbox_info_t). */
	uint32_t vanished_max;
	bool create_special_mailboxes; /* user add also creates Sent, Drafts,
					  Junk, Trash, Archive (default true) */
	/* argon2id cost for new password hashes (defaults 2, 19456 KiB, 1:
	   the OWASP minimum). Verification reads the cost from each hash. */
	uint32_t argon2_t_cost;
	uint32_t argon2_m_cost_kib;
	uint32_t argon2_parallelism;
} st_store_opts_t;

/* st_store_opts_default - fill O with the defaults above; path = NULL. */
void st_store_opts_default(st_store_opts_t *o);

/* st_store_open - open (or create) the store at O->path and start the writer
 * thread. Runs mdb_reader_check to clear reader slots left by dead
 * processes, then brings the schema to the current version (migrations run
 * in one write transaction; a store newer than this code is refused).
 * Returns 0 and sets *S_R, or SL_EINVAL/SL_EIO/SL_ENOMEM/SL_ECORRUPT/
 * SL_ENOTSUP with *ERROR_R (static text) set. */
int st_store_open(const st_store_opts_t *o, st_store_t **s_r, const char **error_r);

/* st_store_close - stop accepting requests, let the writer finish every
 * request already queued (their completions are still posted), join it, and
 * close the environment. All clients and readers must have been destroyed
 * first. *S is set to NULL. NULL or *S == NULL is a no-op. */
void st_store_close(st_store_t **s);

/* st_store_backup - write a consistent, compacted hot copy of the live store
 * (mdb_env_copyfd2 with MDB_CP_COMPACT) to DIR/data.mdb, creating DIR if
 * needed. The copy is written to a temporary file, fsynced, then renamed, so
 * DIR/data.mdb is either the old file or a complete backup; the result opens
 * with st_store_open. Writers keep committing meanwhile; a map growth that
 * falls due waits for the copy to end. Blocking: call from the control
 * thread. 0, or SL_EIO/SL_EINVAL with *ERROR_R set. */
int st_store_backup(st_store_t *s, const char *dir, const char **error_r);

typedef struct st_store_stats {
	uint64_t requests;      /* requests completed */
	uint64_t batches;       /* transactions committed by the writer */
	uint64_t batch_max;     /* most requests in one committed batch */
	uint64_t map_grows;     /* times the map was grown */
	uint64_t map_size;      /* current map size in bytes */
	uint64_t map_used;      /* bytes up to the last used page */
	uint64_t retries;       /* batches re-run after MDB_MAP_FULL */
	uint64_t singles;       /* requests re-run one per transaction */
	uint32_t schema_version;
	/* where the writer's time goes (nanoseconds, cumulative): applying
	   batches into their transactions, mdb_txn_commit (page writes and
	   both fdatasyncs), posting completions */
	uint64_t apply_ns, commit_ns, post_ns;
} st_store_stats_t;

/* st_store_stats - counters since open; safe from any thread (each counter
 * is read atomically, the set is not a snapshot). */
void st_store_stats(st_store_t *s, st_store_stats_t *st_r);

/* --- Clients (write submission and completion) ------------------------- */

enum st_op {
	ST_OP_NONE = 0,
	ST_OP_DOMAIN_ADD, ST_OP_DOMAIN_DEL,
	ST_OP_USER_ADD, ST_OP_USER_DEL, ST_OP_USER_PASSWD,
	ST_OP_ALIAS_ADD, ST_OP_ALIAS_DEL,
	ST_OP_MAILBOX_CREATE, ST_OP_MAILBOX_RENAME, ST_OP_MAILBOX_DELETE,
	ST_OP_MAILBOX_SUBSCRIBE, ST_OP_MAILBOX_SET_ROLE,
	ST_OP_DELIVER, ST_OP_FLAGS, ST_OP_COPY, ST_OP_MOVE, ST_OP_EXPUNGE,
	ST_OP_STRUCT_SET,
	ST_OP_QUEUE_UPDATE, ST_OP_QUEUE_DEL, ST_OP_QUARANTINE_DEL,
	ST_OP_KV_WRITE,
	ST_OP__COUNT
};

/* The outcome of one request, valid only during its callback. */
typedef struct st_result {
	enum st_op op;
	int err;            /* 0 or a negative sl_err */
	const char *error;  /* static detail text when err != 0, else NULL */
	union {
		struct { uint64_t id; } user;               /* USER_ADD */
		struct {
			uint64_t mailbox_id;
			uint32_t uidvalidity;
		} mailbox;                                  /* MAILBOX_CREATE */
		struct {
			unsigned n_ok;      /* local targets delivered */
			uint64_t queue_id;  /* 0 if no relay part */
			uint64_t quarantine_id; /* 0 if no quarantine part */
		} deliver;
		struct {
			uint32_t changed;   /* messages whose flags changed */
			uint32_t skipped;   /* failed UNCHANGEDSINCE */
			uint64_t highestmodseq;
		} flags;
		struct {
			uint32_t count;     /* messages copied/moved */
			uint32_t uidvalidity; /* of the destination */
			uint32_t first_uid; /* destination UIDs are first_uid ..
					       first_uid+count-1, in source order */
			uint64_t highestmodseq; /* of the destination */
		} copy;                                     /* COPY, MOVE */
		struct {
			uint32_t count;
			uint64_t highestmodseq;
		} expunge;
	} u;
} st_result_t;

typedef void st_done_fn(void *ctx, const st_result_t *res);

/* st_client_create - a submitter for the calling thread with room for
 * MAX_INFLIGHT outstanding requests (1..4096). Its completion queue never
 * overflows: submission is refused (SL_EAGAIN) while MAX_INFLIGHT requests
 * are outstanding. Returns 0, SL_ELIMIT (the store's queue_size is already
 * reserved by other clients), SL_ENOMEM, SL_EIO (eventfd), SL_EINVAL. */
int st_client_create(st_store_t *s, unsigned max_inflight, st_client_t **c_r);

/* st_client_destroy - wait for the client's outstanding requests, run their
 * callbacks, release the client. *C is set to NULL; NULL is a no-op. */
void st_client_destroy(st_client_t **c);

/* st_client_fd - an eventfd that becomes readable when completions are
 * waiting. Put it in the worker's epoll set (level-triggered); it stays
 * readable until st_client_poll() runs. Owned by the client. */
int st_client_fd(const st_client_t *c);

/* st_client_poll - run the callbacks of every completion that is waiting, on
 * the calling thread, without blocking. Returns how many ran. */
unsigned st_client_poll(st_client_t *c);

/* st_client_pending - true if completions are waiting (no system call):
 * for a busy-polling loop that calls st_client_poll only when needed. */
bool st_client_pending(const st_client_t *c);

/* st_client_wait - block up to TIMEOUT_MS (-1: forever) until a completion
 * is waiting, then run as st_client_poll. Returns how many callbacks ran
 * (0 on timeout). For the control thread and tests, never for a worker. */
unsigned st_client_wait(st_client_t *c, int timeout_ms);

/* st_client_inflight - requests submitted whose callbacks have not run. */
unsigned st_client_inflight(const st_client_t *c);

/* --- Readers ----------------------------------------------------------- */

/* st_reader_create - a read handle for the calling thread. Returns 0,
 * SL_ENOMEM. It keeps a reset read transaction (and its reader slot) so a
 * read costs no allocation. */
int st_reader_create(st_store_t *s, st_reader_t **rd_r);
/* st_reader_destroy - release; *RD set to NULL; NULL is a no-op. Must not be
 * called from inside st_read(). */
void st_reader_destroy(st_reader_t **rd);

/* st_read - run FN(RD, CTX) with one snapshot: every read function called
 * on RD inside FN sees the same committed state. The snapshot ends when FN
 * returns; FN's return value is returned (or SL_EIO/SL_EAGAIN/SL_ELIMIT if
 * the snapshot could not be opened). Nesting st_read on one reader is
 * allowed and shares the outer snapshot. */
int st_read(st_reader_t *rd, int (*fn)(st_reader_t *rd, void *ctx), void *ctx);

/* --- Domains ----------------------------------------------------------- */

/* st_domain_add - add a local domain (lowercased; LDH labels). Completes
 * with 0, SL_EEXIST, or SL_EINVAL. Submit errors: see top. */
int st_domain_add(st_client_t *c, const char *domain, st_done_fn *cb, void *ctx);
/* st_domain_del - remove a domain; SL_EBUSY while it has users or aliases,
 * SL_ENOENT if unknown. */
int st_domain_del(st_client_t *c, const char *domain, st_done_fn *cb, void *ctx);
/* st_domain_exists - 0 if DOMAIN is local, SL_ENOENT if not, SL_EINVAL if
 * malformed. */
int st_domain_exists(st_reader_t *rd, const char *domain);
/* st_domain_list - CB(CTX, name) for each domain in order; NAME is valid
 * during the call only. */
int st_domain_list(st_reader_t *rd, int (*cb)(void *ctx, const char *domain), void *ctx);

/* --- Users and aliases ------------------------------------------------- */

typedef struct st_user_info {
	uint64_t id;
	char address[ST_ADDR_MAX + 1];  /* canonical (lowercased) */
	int64_t created;                /* unix seconds */
} st_user_info_t;

/* st_password_hash - hash PASSWORD with argon2id and the store's cost into
 * OUT (NUL-terminated "$argon2id$..." string) of CAP bytes. Slow on purpose
 * (tens of ms with defaults): call from the control thread. 0, SL_EINVAL
 * (empty or over ST_PASSWORD_MAX), SL_ELIMIT (CAP too small), SL_EIO (no
 * randomness), SL_ENOMEM. */
int st_password_hash(st_store_t *s, sl_slice_t password, char *out, size_t cap);
#define ST_PWHASH_MAX 160

/* st_user_add - add USER@DOMAIN with an argon2id hash from
 * st_password_hash, and create its INBOX (and special mailboxes when
 * configured). Completes with res->u.user.id; SL_ENOENT "unknown domain",
 * SL_EEXIST "user exists"/"address is an alias", SL_EINVAL. */
int st_user_add(st_client_t *c, const char *address, const char *pwhash,
		st_done_fn *cb, void *ctx);
/* st_user_del - delete a user with all mailboxes and messages (blob
 * references dropped) and its subscriptions. SL_ENOENT if unknown. */
int st_user_del(st_client_t *c, const char *address, st_done_fn *cb, void *ctx);
/* st_user_passwd - replace the password hash. SL_ENOENT if unknown. */
int st_user_passwd(st_client_t *c, const char *address, const char *pwhash,
		   st_done_fn *cb, void *ctx);

/* st_user_lookup - copy out the user with ADDRESS (case-insensitive).
 * 0, SL_ENOENT, SL_EINVAL. Aliases are not followed (st_rcpt_resolve). */
int st_user_lookup(st_reader_t *rd, const char *address, st_user_info_t *info_r);
/* st_user_get - copy out the user with ID. 0 or SL_ENOENT. */
int st_user_get(st_reader_t *rd, uint64_t id, st_user_info_t *info_r);
/* st_user_list - CB for each user, in address order; DOMAIN NULL for all
 * domains. INFO is valid during the call only. */
int st_user_list(st_reader_t *rd, const char *domain,
		 int (*cb)(void *ctx, const st_user_info_t *info), void *ctx);
/* st_user_authenticate - check PASSWORD for ADDRESS. 0 and *ID_R on success;
 * SL_EAUTH for a wrong password AND for an unknown user (a dummy hash is
 * verified so both take the same time); SL_EINVAL. Slow (argon2id): it runs
 * outside any read transaction, but still takes the caller's time. */
int st_user_authenticate(st_reader_t *rd, const char *address, sl_slice_t password,
			 uint64_t *id_r);

/* st_alias_add - make ALIAS (in a local domain, not a user) also deliver to
 * TARGET (any address). An alias may have several targets. SL_ENOENT unknown
 * domain, SL_EEXIST (pair exists, or ALIAS is a user), SL_ELIMIT (more than
 * ST_RCPT_MAX targets), SL_EINVAL. */
int st_alias_add(st_client_t *c, const char *alias, const char *target,
		 st_done_fn *cb, void *ctx);
/* st_alias_del - remove one TARGET of ALIAS, or every target when TARGET is
 * NULL. SL_ENOENT if nothing matched. */
int st_alias_del(st_client_t *c, const char *alias, const char *target,
		 st_done_fn *cb, void *ctx);
/* st_alias_list - CB(CTX, alias, target) for each pair, in order. */
int st_alias_list(st_reader_t *rd,
		  int (*cb)(void *ctx, const char *alias, const char *target), void *ctx);

/* A recipient after alias expansion. */
typedef struct st_rcpt {
	uint64_t user_id;     /* local user, or 0 for a remote address */
	const char *address;  /* canonical local user, or the remote address */
} st_rcpt_t;

/* st_rcpt_resolve - expand ADDRESS through aliases (up to
 * ST_ALIAS_DEPTH_MAX levels, loops cut) and call CB for each distinct final
 * recipient: a local user (user_id != 0) or an address outside the local
 * domains (user_id == 0). Returns 0 if at least one recipient was reported,
 * SL_ENOENT if ADDRESS is in a local domain but is no user or alias (or if
 * the expansion only reached such addresses), SL_EINVAL if malformed. An
 * address in a non-local domain is reported as remote. */
int st_rcpt_resolve(st_reader_t *rd, const char *address,
		    int (*cb)(void *ctx, const st_rcpt_t *r), void *ctx);

/* --- Mailboxes --------------------------------------------------------- */

/* SPECIAL-USE roles (RFC 6154) plus Inbox; a bitmask. */
enum st_role {
	ST_ROLE_INBOX = 1u << 0,
	ST_ROLE_SENT = 1u << 1,
	ST_ROLE_DRAFTS = 1u << 2,
	ST_ROLE_JUNK = 1u << 3,
	ST_ROLE_TRASH = 1u << 4,
	ST_ROLE_ARCHIVE = 1u << 5,
	ST_ROLE__ALL = (1u << 6) - 1
};

/* Mailbox attributes. */
#define ST_MBOX_NOSELECT 0x1u  /* a name kept only because it has children */

typedef struct st_mailbox_info {
	uint64_t id;             /* never reused */
	uint64_t user_id;
	char name[ST_MAILBOX_NAME_MAX + 1];
	uint32_t uidvalidity;    /* unique per store, never reused */
	uint32_t uidnext;
	uint64_t highestmodseq;
	uint32_t count;          /* messages */
	uint32_t unseen;         /* messages without \Seen */
	uint64_t size;           /* sum of message sizes */
	uint32_t roles;          /* enum st_role bits */
	uint32_t attrs;          /* ST_MBOX_* */
	uint32_t n_keywords;     /* entries in the keyword table */
	/* the expunge history no longer names the UIDs expunged at a MODSEQ
	   <= vanished_floor (0: it names every expunge); see
	   st_changes_since */
	uint64_t vanished_floor;
	bool subscribed;
	bool has_children;
} st_mailbox_info_t;

/* st_mailbox_name_valid - 0 if NAME is an acceptable mailbox name, else
 * SL_EINVAL with *ERROR_R set: non-empty, at most ST_MAILBOX_NAME_MAX bytes of
 * valid UTF-8, no control characters, no '*' or '%', no empty, "." or ".."
 * hierarchy levels, no leading or trailing delimiter, at most
 * ST_MAILBOX_DEPTH_MAX levels. "INBOX" is matched case-insensitively as the
 * first level and stored as "INBOX". */
int st_mailbox_name_valid(const char *name, const char **error_r);

/* st_mailbox_create - create NAME for USER_ID with ROLES, creating missing
 * superior levels (RFC 3501 §6.3.3). res->u.mailbox. SL_EEXIST (a \Noselect
 * name becomes selectable instead), SL_ENOENT (user), SL_EINVAL. */
int st_mailbox_create(st_client_t *c, uint64_t user_id, const char *name, uint32_t roles,
		      st_done_fn *cb, void *ctx);
/* st_mailbox_rename - rename FROM and every inferior name to TO (RFC 3501
 * §6.3.5), creating missing superiors of TO. Mailbox ids, UIDVALIDITY and
 * messages travel with the name. Renaming INBOX moves its messages to a new
 * mailbox TO and leaves INBOX empty (inferiors of INBOX stay). SL_ENOENT,
 * SL_EEXIST (TO or an inferior target exists), SL_EINVAL (TO inside FROM,
 * or a resulting name over the limits). */
int st_mailbox_rename(st_client_t *c, uint64_t user_id, const char *from, const char *to,
		      st_done_fn *cb, void *ctx);
/* st_mailbox_delete - delete NAME and its messages (blob references
 * dropped). With inferiors it becomes \Noselect instead (RFC 3501 §6.3.4);
 * deleting a \Noselect name that has inferiors, or INBOX, is SL_EBUSY.
 * SL_ENOENT if unknown. */
int st_mailbox_delete(st_client_t *c, uint64_t user_id, const char *name,
		      st_done_fn *cb, void *ctx);
/* st_mailbox_subscribe - add (ON) or remove NAME from the subscriptions;
 * the name need not exist (RFC 3501 §6.3.6). Unsubscribing an absent name is
 * SL_ENOENT. */
int st_mailbox_subscribe(st_client_t *c, uint64_t user_id, const char *name, bool on,
			 st_done_fn *cb, void *ctx);
/* st_mailbox_set_roles - replace the SPECIAL-USE roles of NAME. */
int st_mailbox_set_roles(st_client_t *c, uint64_t user_id, const char *name, uint32_t roles,
			 st_done_fn *cb, void *ctx);

/* st_mailbox_get - copy out USER_ID's mailbox NAME. 0, SL_ENOENT, SL_EINVAL. */
int st_mailbox_get(st_reader_t *rd, uint64_t user_id, const char *name,
		   st_mailbox_info_t *info_r);
/* st_mailbox_get_by_id - copy out mailbox ID. 0 or SL_ENOENT. */
int st_mailbox_get_by_id(st_reader_t *rd, uint64_t id, st_mailbox_info_t *info_r);
/* st_mailbox_find_role - the first mailbox (in name order) of USER_ID that
 * has ROLE. 0 or SL_ENOENT. */
int st_mailbox_find_role(st_reader_t *rd, uint64_t user_id, uint32_t role,
			 st_mailbox_info_t *info_r);
/* st_mailbox_list - CB for each mailbox of USER_ID in name order, with its
 * counts; INFO is valid during the call only. */
int st_mailbox_list(st_reader_t *rd, uint64_t user_id,
		    int (*cb)(void *ctx, const st_mailbox_info_t *info), void *ctx);
/* st_subscription_list - CB for each subscribed name of USER_ID. */
int st_subscription_list(st_reader_t *rd, uint64_t user_id,
			 int (*cb)(void *ctx, const char *name), void *ctx);
/* st_mailbox_keywords - CB(CTX, bit, keyword) for each entry of the
 * mailbox's keyword table; message keyword masks index this table. */
int st_mailbox_keywords(st_reader_t *rd, uint64_t mailbox_id,
			int (*cb)(void *ctx, unsigned bit, const char *kw), void *ctx);

/* --- Change notification (IMAP IDLE/NOOP across sessions and lcores) --- */

/* st_mailbox_gen - the change generation of mailbox MAILBOX_ID: a counter
 * the writer raises after each commit that changed the mailbox (a message
 * delivered, appended, copied or moved in; flags or keywords changed;
 * messages expunged or moved out; the mailbox created, renamed, deleted or
 * its roles changed). Any thread, lock-free: one atomic load, no system
 * call, no snapshot.
 *
 * The raise happens after the commit is durable and BEFORE any completion
 * of that batch is posted, so (a) a submitter whose callback runs already
 * sees the new value, and (b) a thread that loads a changed value and then
 * reads (a new snapshot) sees the committed change.
 *
 * Use: a session loads the generation FIRST, then reads the mailbox state
 * it reports (st_read / st_mailbox_get_by_id / st_changes_since) and keeps
 * the value; on each tick (IDLE timer, NOOP, before a command's untagged
 * updates) it compares st_mailbox_gen with the kept value and re-syncs only
 * if it differs. Loading first means a commit between the load and the
 * read costs at most one spurious re-sync, never a missed change.
 *
 * Only equality is meaningful: values are not MODSEQs, start at 0 at every
 * st_store_open, and several mailboxes may share one counter (ids are
 * mapped onto a fixed table of counters allocated with the store), so a
 * change elsewhere can cause a spurious re-sync, never a missed one. A
 * request that failed and was rolled back raises nothing; a flag change
 * that changed no message raises nothing. */
uint64_t st_mailbox_gen(st_store_t *s, uint64_t mailbox_id);

/* st_user_gen - the same for the mailbox set of USER_ID: raised after each
 * commit that created, renamed or deleted one of its mailboxes, changed
 * roles or subscriptions, or deleted the user (for LIST/LSUB refresh and
 * NOTIFY-style mailbox-list watching). Message changes do not raise it. */
uint64_t st_user_gen(st_store_t *s, uint64_t user_id);

/* st_client_store / st_reader_store - the store a client or reader belongs
 * to, for sessions that hold only those handles. */
st_store_t *st_client_store(const st_client_t *c);
st_store_t *st_reader_store(const st_reader_t *rd);

/* --- Messages ---------------------------------------------------------- */

/* System flags (RFC 3501 §2.3.2); \Recent is per session, not stored. */
enum st_flag {
	ST_FLAG_SEEN = 1u << 0,
	ST_FLAG_ANSWERED = 1u << 1,
	ST_FLAG_FLAGGED = 1u << 2,
	ST_FLAG_DELETED = 1u << 3,
	ST_FLAG_DRAFT = 1u << 4,
	ST_FLAG__ALL = (1u << 5) - 1
};

typedef struct st_msg_info {
	uint64_t mailbox_id;
	uint32_t uid;
	uint32_t flags;          /* enum st_flag bits */
	uint64_t keywords;       /* bits into the mailbox keyword table */
	uint64_t modseq;
	int64_t internaldate;    /* unix seconds */
	int32_t tz_min;          /* zone of internaldate, minutes east of UTC */
	uint64_t size;           /* body bytes */
	st_blob_id_t blob;
} st_msg_info_t;

typedef struct st_uid_range {
	uint32_t lo, hi;         /* inclusive; lo <= hi */
} st_uid_range_t;

/* One local delivery target. */
typedef struct st_deliver_target {
	uint64_t user_id;
	const char *mailbox;     /* NULL: INBOX; borrowed */
} st_deliver_target_t;

typedef struct st_target_result {
	int err;                 /* 0, SL_ENOENT (user or mailbox), SL_ESTATE
				    (\Noselect), SL_ELIMIT (keyword table full) */
	uint64_t mailbox_id;
	uint32_t uidvalidity;
	uint32_t uid;
} st_target_result_t;

typedef struct st_quarantine_info {
	const char *verdict;     /* borrowed; <= ST_VERDICT_MAX bytes */
	int32_t score_milli;
	const char *sender;      /* envelope MAIL FROM; "" for <> */
	const char *const *rcpts;/* envelope RCPT TOs */
	unsigned n_rcpts;
} st_quarantine_info_t;

/* A delivery: one body stored once and referenced by every local target,
 * the outbound queue entry and the quarantine entry it creates. The request
 * is atomic as a whole; targets that cannot take the message (unknown user
 * or mailbox) are reported per target in RESULTS and do not fail the rest.
 * It fails (no part applied) only if nothing could be delivered or queued. */
typedef struct st_deliver {
	sl_slice_t body;         /* borrowed; may be empty with ptr == NULL to
				    reference the existing blob HASH */
	const uint8_t *hash;     /* optional SHA-256 of body (hash as it
				    streams); NULL: computed at submit */
	int64_t internaldate;    /* unix seconds; 0: now */
	int32_t tz_min;
	uint32_t flags;          /* st_flag bits for the new messages */
	const char *const *keywords; /* IMAP APPEND keywords; borrowed */
	unsigned n_keywords;
	const st_deliver_target_t *targets;
	unsigned n_targets;
	st_target_result_t *results;  /* n_targets entries, written by the store */
	/* relay: an outbound queue entry, if relay_rcpts */
	const char *relay_sender;     /* "" for the null sender */
	const char *const *relay_rcpts;
	unsigned n_relay_rcpts;
	int64_t relay_next_attempt;   /* unix seconds; 0: now */
	const st_quarantine_info_t *quarantine; /* optional */
} st_deliver_t;

/* st_msg_deliver - submit D (the struct is copied; what it points to is
 * borrowed). Completes with res->u.deliver, results[] filled; err SL_ENOENT
 * if no target took the message and there was nothing to queue, SL_ELIMIT
 * for a body over body_max, SL_EFULL if the map cannot grow. */
int st_msg_deliver(st_client_t *c, const st_deliver_t *d, st_done_fn *cb, void *ctx);

enum st_flags_mode { ST_FLAGS_ADD, ST_FLAGS_REMOVE, ST_FLAGS_REPLACE };

typedef struct st_flags_req {
	uint64_t mailbox_id;
	const st_uid_range_t *uids;  /* borrowed */
	unsigned n_uids;
	enum st_flags_mode mode;
	uint32_t flags;              /* st_flag bits */
	const char *const *keywords; /* borrowed; added to the table as needed */
	unsigned n_keywords;
	uint64_t unchangedsince;     /* RFC 7162 UNCHANGEDSINCE; 0 = none */
} st_flags_req_t;

/* st_msg_flags - change flags of the messages in the UID ranges. Each
 * message whose flags or keywords actually change gets a new MODSEQ (in UID
 * order) and the mailbox's HIGHESTMODSEQ rises. Messages whose MODSEQ is
 * above UNCHANGEDSINCE are left alone and counted in res->u.flags.skipped.
 * SL_ENOENT (mailbox), SL_ELIMIT (keyword table full). */
int st_msg_flags(st_client_t *c, const st_flags_req_t *r, st_done_fn *cb, void *ctx);

/* st_msg_copy - copy the messages in UID ranges of SRC_ID to DST_ID, with
 * their flags and keywords (no blob is copied, only referenced). Optional
 * SRC_UIDS_R (borrowed, SRC_UIDS_CAP entries) receives the source UIDs in
 * order, for COPYUID. res->u.copy. SL_ENOENT (a mailbox), SL_ESTATE
 * (destination \Noselect). Copying nothing is success with count 0. */
int st_msg_copy(st_client_t *c, uint64_t src_id, const st_uid_range_t *uids, unsigned n_uids,
		uint64_t dst_id, uint32_t *src_uids_r, unsigned src_uids_cap,
		st_done_fn *cb, void *ctx);
/* st_msg_move - as st_msg_copy, then expunge the sources, atomically
 * (RFC 6851). */
int st_msg_move(st_client_t *c, uint64_t src_id, const st_uid_range_t *uids, unsigned n_uids,
		uint64_t dst_id, uint32_t *src_uids_r, unsigned src_uids_cap,
		st_done_fn *cb, void *ctx);
/* st_msg_expunge - remove the messages in the UID ranges (only those with
 * \Deleted when DELETED_ONLY). Each removal is recorded with a new MODSEQ for
 * st_changes_since; blob references are dropped and a blob whose last
 * reference goes is freed. Optional UIDS_R receives expunged UIDs
 * (ascending) up to UIDS_CAP. res->u.expunge. */
int st_msg_expunge(st_client_t *c, uint64_t mailbox_id, const st_uid_range_t *uids,
		   unsigned n_uids, bool deleted_only, uint32_t *uids_r, unsigned uids_cap,
		   st_done_fn *cb, void *ctx);

/* st_msg_get - copy out one message's metadata. 0 or SL_ENOENT. */
int st_msg_get(st_reader_t *rd, uint64_t mailbox_id, uint32_t uid, st_msg_info_t *info_r);
/* st_msg_list - CB for each message with LO <= uid <= HI, ascending. */
int st_msg_list(st_reader_t *rd, uint64_t mailbox_id, uint32_t lo, uint32_t hi,
		int (*cb)(void *ctx, const st_msg_info_t *m), void *ctx);
/* st_changes_since - for CONDSTORE/QRESYNC (RFC 7162): CHANGED for each
 * message with MODSEQ > SINCE in MODSEQ order, then VANISHED (may be NULL)
 * for each UID expunged at a MODSEQ > SINCE that the bounded expunge
 * history still names. The history keeps the newest vanished_max expunges
 * of a mailbox (st_store_opts_t): when SINCE < the mailbox's floor
 * (st_vanished_floor, or st_mailbox_info_t.vanished_floor, read in the
 * same snapshot inside st_read), the UIDs expunged at MODSEQs in
 * (SINCE, floor] are NOT reported, and the caller must learn which UIDs
 * are gone another way (st_msg_uids: whatever is not in the mailbox).
 * 0 (an unknown mailbox has no changes), SL_ECORRUPT, or a callback's
 * non-zero value. */
int st_changes_since(st_reader_t *rd, uint64_t mailbox_id, uint64_t since,
		     int (*changed)(void *ctx, const st_msg_info_t *m),
		     int (*vanished)(void *ctx, uint32_t uid, uint64_t modseq), void *ctx);
/* st_vanished_floor - *FLOOR_R = the mailbox's vanished floor: the highest
 * MODSEQ of an expunge the bounded history has forgotten (0 when it has
 * forgotten none). st_changes_since from a SINCE >= the floor reports every
 * expunge after SINCE; below it, it does not. One record read. 0 or
 * SL_ENOENT, SL_ECORRUPT. */
int st_vanished_floor(st_reader_t *rd, uint64_t mailbox_id, uint64_t *floor_r);
/* st_msg_uids - CB(CTX, uid) for each message of the mailbox with
 * LO <= uid <= HI, ascending. Walks the message keys only (no record is
 * decoded): the cheap way to learn which UIDs are present. 0 (also for an
 * unknown mailbox: no UIDs) or a callback's non-zero value. */
int st_msg_uids(st_reader_t *rd, uint64_t mailbox_id, uint32_t lo, uint32_t hi,
		int (*cb)(void *ctx, uint32_t uid), void *ctx);

/* --- Bodies ------------------------------------------------------------ */

typedef struct st_blob_info {
	uint64_t size;
	uint64_t refcount;
	uint32_t chunk_size;
	uint32_t n_chunks;
} st_blob_info_t;

/* st_blob_get - size and reference count of a blob. 0 or SL_ENOENT. */
int st_blob_get(st_reader_t *rd, const st_blob_id_t *id, st_blob_info_t *info_r);
/* st_body_read - call CB with consecutive slices covering bytes
 * [OFF, OFF+LEN) of the body (clamped to its size), straight from the map:
 * zero copy, valid during the call only. SL_ENOENT, SL_ECORRUPT (a chunk is
 * missing or short). */
int st_body_read(st_reader_t *rd, const st_blob_id_t *id, uint64_t off, uint64_t len,
		 int (*cb)(void *ctx, sl_slice_t part), void *ctx);
/* st_body_copy - copy up to CAP bytes from OFF into BUF; *N_R = bytes
 * copied (short only at the end of the body). */
int st_body_copy(st_reader_t *rd, const st_blob_id_t *id, uint64_t off, void *buf, size_t cap,
		 size_t *n_r);

/* st_blob_struct_set - store the cached parsed structure of a body (for IMAP
 * ENVELOPE/BODYSTRUCTURE), kept with the blob so every copy shares it and
 * it is freed with the blob. DATA (borrowed) <= ST_STRUCT_MAX. SL_ENOENT. */
int st_blob_struct_set(st_client_t *c, const st_blob_id_t *id, sl_slice_t data,
		       st_done_fn *cb, void *ctx);
/* st_blob_struct_get - append the cached structure to OUT. 0, SL_ENOENT (none
 * cached yet), SL_ELIMIT (OUT's maximum), SL_ENOMEM. */
int st_blob_struct_get(st_reader_t *rd, const st_blob_id_t *id, sl_buf_t *out);

/* --- Outbound queue ---------------------------------------------------- */

enum st_rcpt_status {
	ST_RCPT_PENDING = 0,   /* not tried yet */
	ST_RCPT_DEFERRED = 1,  /* temporary failure, will retry */
	ST_RCPT_DELIVERED = 2, /* accepted by the next hop */
	ST_RCPT_FAILED = 3,    /* permanent failure, bounce due */
};

typedef struct st_queue_rcpt {
	const char *address;
	enum st_rcpt_status status;
	uint16_t code;          /* last SMTP reply code, 0 if none */
	uint32_t attempts;
	const char *diag;       /* last diagnostic, "" if none */
} st_queue_rcpt_t;

/* A queue entry as seen inside a callback; pointers valid during it only. */
typedef struct st_queue_entry {
	uint64_t id;
	int64_t created;
	int64_t next_attempt;
	uint32_t attempts;
	const char *sender;
	st_blob_id_t blob;
	uint64_t size;
	unsigned n_rcpts;
	const st_queue_rcpt_t *rcpts;
} st_queue_entry_t;

typedef struct st_queue_rcpt_update {
	unsigned index;         /* into the entry's recipients */
	enum st_rcpt_status status;
	uint16_t code;
	const char *diag;       /* borrowed; NULL keeps the old text */
} st_queue_rcpt_update_t;

/* st_queue_update - record an attempt on entry ID: apply UPDATES (borrowed)
 * to recipients, count the attempt, and move the entry to NEXT_ATTEMPT in
 * the due index. SL_ENOENT, SL_EINVAL (index out of range). */
int st_queue_update(st_client_t *c, uint64_t id, int64_t next_attempt,
		    const st_queue_rcpt_update_t *updates, unsigned n_updates,
		    st_done_fn *cb, void *ctx);
/* st_queue_del - remove entry ID and drop its blob reference. SL_ENOENT. */
int st_queue_del(st_client_t *c, uint64_t id, st_done_fn *cb, void *ctx);

/* st_queue_get - CB with entry ID. 0 (or CB's value) or SL_ENOENT. */
int st_queue_get(st_reader_t *rd, uint64_t id,
		 int (*cb)(void *ctx, const st_queue_entry_t *e), void *ctx);
/* st_queue_due - CB for each entry with next_attempt <= NOW, earliest
 * first, at most LIMIT entries (0: no limit). */
int st_queue_due(st_reader_t *rd, int64_t now, unsigned limit,
		 int (*cb)(void *ctx, const st_queue_entry_t *e), void *ctx);
/* st_queue_list - CB for every entry, in id order. */
int st_queue_list(st_reader_t *rd, int (*cb)(void *ctx, const st_queue_entry_t *e), void *ctx);

/* --- Quarantine -------------------------------------------------------- */

typedef struct st_quarantine_entry {
	uint64_t id;
	int64_t created;
	int32_t score_milli;
	const char *verdict;
	const char *sender;
	unsigned n_rcpts;
	const char *const *rcpts;
	st_blob_id_t blob;
	uint64_t size;
} st_quarantine_entry_t;

/* st_quarantine_del - remove entry ID (release = deliver with the blob id
 * and an empty body, then delete). SL_ENOENT. */
int st_quarantine_del(st_client_t *c, uint64_t id, st_done_fn *cb, void *ctx);
/* st_quarantine_list - CB for each entry in id order; pointers valid during
 * the call only. */
int st_quarantine_list(st_reader_t *rd,
		       int (*cb)(void *ctx, const st_quarantine_entry_t *e), void *ctx);

/* --- Key spaces for filter state and config ---------------------------- */

enum st_kv_ns { ST_NS_FILTER = 0, ST_NS_CONFIG = 1, ST_NS__COUNT };

enum st_kv_kind {
	ST_KV_PUT,      /* set KEY to VALUE */
	ST_KV_DEL,      /* remove KEY (absent is fine) */
	ST_KV_ADD,      /* KEY holds an int64 counter: add DELTA (absent = 0);
			   a counter reaching 0 is removed (Bayes tokens) */
};

typedef struct st_kv_op {
	enum st_kv_kind kind;
	sl_slice_t key;         /* 1..ST_KV_KEY_MAX bytes; borrowed */
	sl_slice_t value;       /* PUT: <= ST_KV_VALUE_MAX; borrowed */
	int64_t delta;          /* ADD */
} st_kv_op_t;

/* st_kv_write - apply OPS (borrowed) in order, atomically, in namespace NS.
 * SL_EINVAL (sizes), SL_ECORRUPT (ADD on a value that is no counter). */
int st_kv_write(st_client_t *c, enum st_kv_ns ns, const st_kv_op_t *ops, unsigned n_ops,
		st_done_fn *cb, void *ctx);
/* st_kv_get - append KEY's value to OUT. 0, SL_ENOENT, SL_ELIMIT. */
int st_kv_get(st_reader_t *rd, enum st_kv_ns ns, sl_slice_t key, sl_buf_t *out);
/* st_kv_counter - the int64 counter at KEY (0 when absent). */
int st_kv_counter(st_reader_t *rd, enum st_kv_ns ns, sl_slice_t key, int64_t *value_r);
/* st_kv_scan - CB(CTX, key, value) for each key starting with PREFIX, in
 * order; slices valid during the call only. */
int st_kv_scan(st_reader_t *rd, enum st_kv_ns ns, sl_slice_t prefix,
	       int (*cb)(void *ctx, sl_slice_t key, sl_slice_t value), void *ctx);

/* --- Consistency check ------------------------------------------------- */

typedef struct st_check_report {
	uint64_t users, mailboxes, messages, blobs, chunks, queue, quarantine;
	uint64_t problems;       /* inconsistencies found */
	char first_problem[160]; /* text of the first one */
} st_check_report_t;

/* st_store_check - verify every cross-reference in one snapshot: name and
 * id indexes, per-mailbox counts, sizes, UIDNEXT and HIGHESTMODSEQ bounds,
 * the MODSEQ index, blob reference counts against all references, chunk
 * completeness, the queue due index. 0 if consistent, SL_ECORRUPT if
 * problems were found (see REPORT_R), other errors from LMDB. Linear in the
 * store size: for tests and `sluicectl`, not the data path. */
int st_store_check(st_reader_t *rd, st_check_report_t *report_r);

/* --- Admin helpers (control thread; block until durable) -------------- */

/* Each runs the matching request on client C and waits for its completion
 * (other completions of C run meanwhile). Returns the request's result;
 * *ERROR_R gets its detail text (static) or a generic one. */
int st_admin_domain_add(st_client_t *c, const char *domain, const char **error_r);
int st_admin_domain_del(st_client_t *c, const char *domain, const char **error_r);
/* st_admin_user_add - hash PASSWORD (argon2id, store cost) and add the user.
 * *ID_R (may be NULL) gets the new id. */
int st_admin_user_add(st_client_t *c, const char *address, sl_slice_t password,
		      uint64_t *id_r, const char **error_r);
int st_admin_user_del(st_client_t *c, const char *address, const char **error_r);
int st_admin_user_passwd(st_client_t *c, const char *address, sl_slice_t password,
			 const char **error_r);
int st_admin_alias_add(st_client_t *c, const char *alias, const char *target,
		       const char **error_r);
int st_admin_alias_del(st_client_t *c, const char *alias, const char *target,
		       const char **error_r);
/* st_admin_wait - submit-and-wait for any request: call SUBMIT-like code
 * yourself with st_admin_done as callback and an st_admin_wait_t as ctx,
 * then st_admin_wait_for(). */
typedef struct st_admin_wait {
	bool done;
	st_result_t res;
} st_admin_wait_t;
void st_admin_done(void *ctx, const st_result_t *res);
/* st_admin_wait_for - run C's completions until W->done. Returns W->res.err. */
int st_admin_wait_for(st_client_t *c, st_admin_wait_t *w);

#endif
