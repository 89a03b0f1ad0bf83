/* st_private - internals shared by the files of store/. Nothing outside
 * store/ includes this (tests may, to reach test hooks). */
#ifndef ST_PRIVATE_H
#define ST_PRIVATE_H

#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "sl_err.h"
#include "st.h"

#define ST_LOG "store"
#define ST_SCHEMA_VERSION 1u

/* Each named LMDB database (key layout in docs/store.md). */
enum st_db {
	ST_DB_META,     /* ascii name -> value (schema version, id counters) */
	ST_DB_DOMAIN,   /* domain -> st_domain_rec */
	ST_DB_USER,     /* address -> st_user_rec + hash */
	ST_DB_USERID,   /* be64 user id -> address */
	ST_DB_ALIAS,    /* alias address -> target address (DUPSORT) */
	ST_DB_MBNAME,   /* be64 user id, name -> be64 mailbox id */
	ST_DB_MBOX,     /* be64 mailbox id -> st_mbox_rec + name + keywords */
	ST_DB_SUBS,     /* be64 user id, name -> "" */
	ST_DB_MSG,      /* be64 mailbox id, be32 uid -> st_msg_rec */
	ST_DB_MODSEQ,   /* be64 mailbox id, be64 modseq, be32 uid -> "" */
	ST_DB_VANISHED, /* be64 mailbox id, be64 modseq, be32 uid -> "" */
	ST_DB_BLOB,     /* sha256 -> st_blob_rec */
	ST_DB_CHUNK,    /* be64 blob number, be32 index -> bytes */
	ST_DB_BSTRUCT,  /* sha256 -> cached parsed structure */
	ST_DB_QUEUE,    /* be64 queue id -> st_queue_rec + strings */
	ST_DB_QDUE,     /* be64 next attempt (biased), be64 queue id -> "" */
	ST_DB_QUAR,     /* be64 quarantine id -> st_quar_rec + strings */
	ST_DB_FILTER,   /* opaque key -> opaque value */
	ST_DB_CONFIG,   /* opaque key -> opaque value */
	ST_DB__COUNT
};

/* Internal results that never reach a caller: they steer the writer. */
#define ST_RETRY_MAPFULL (-1001) /* MDB_MAP_FULL: grow and re-run the batch */
#define ST_RETRY_TXNFULL (-1002) /* MDB_TXN_FULL: re-run one per txn */
#define ST_RETRY_NESTED (-1003)  /* a request failed: re-run with nesting */

/* 16 pages of 4 KiB minus LMDB's 16-byte page header: a chunk fills its
 * overflow run exactly. */
#define ST_CHUNK_SIZE (16u * 4096u - 16u)

#define ST_STR_CAP 256

/* Change notification (st_writer.c): generation counters. Mailbox ids map
 * to the first half of the array, user ids to the second, each by the low
 * bits of the id: ids are allocated sequentially, so the first
 * ST_GEN_HALF mailboxes (and users) never share a counter, and later ones
 * share only with ids that differ by a multiple of ST_GEN_HALF. */
#define ST_GEN_HALF 4096u
#define ST_GEN_SLOTS (2u * ST_GEN_HALF)
/* Counters one transaction may record individually; beyond, every counter
 * is bumped (a spurious wake-up for all, never a missed one). */
#define ST_TOUCH_MAX 1024u
#define ST_RESOLVE_MAX 256 /* addresses visited by one alias expansion */

/* --- Records (native endian; LMDB files are not portable anyway) ------- */

typedef struct st_domain_rec {
	int64_t created;
	uint32_t flags;
	uint32_t pad;
} st_domain_rec_t;

typedef struct st_user_rec {
	uint64_t id;
	int64_t created;
	uint32_t flags;
	uint16_t hash_len;
	uint16_t pad;
	/* hash bytes follow */
} st_user_rec_t;

typedef struct st_mbox_rec {
	uint64_t user_id;
	uint64_t highestmodseq;
	uint64_t size;
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint32_t count;
	uint32_t unseen;
	uint32_t roles;
	uint32_t attrs;
	uint16_t name_len;
	uint8_t n_keywords;
	uint8_t pad[5];
	/* name bytes, then n_keywords x (u8 len, bytes) */
} st_mbox_rec_t;

typedef struct st_msg_rec {
	uint64_t modseq;
	int64_t internaldate;
	uint64_t size;
	uint64_t keywords;
	uint32_t flags;
	int32_t tz_min;
	uint8_t blob[ST_BLOB_ID_LEN];
} st_msg_rec_t;

typedef struct st_blob_rec {
	uint64_t refcount;
	uint64_t no;               /* sequential: chunk keys append, they do
				      not land on random pages like hashes */
	uint64_t size;
	uint32_t chunk_size;
	uint32_t n_chunks;
} st_blob_rec_t;

typedef struct st_queue_rec {
	int64_t created;
	int64_t next_attempt;
	uint64_t size;
	uint32_t attempts;
	uint32_t n_rcpts;
	uint8_t blob[ST_BLOB_ID_LEN];
	uint16_t sender_len;
	uint16_t pad[3];
	/* sender, then n_rcpts x (st_queue_rcpt_rec, address, diag) */
} st_queue_rec_t;

typedef struct st_queue_rcpt_rec {
	uint32_t attempts;
	uint16_t code;
	uint8_t status;
	uint8_t pad;
	uint16_t addr_len;
	uint16_t diag_len;
} st_queue_rcpt_rec_t;

typedef struct st_quar_rec {
	int64_t created;
	uint64_t size;
	int32_t score_milli;
	uint32_t n_rcpts;
	uint8_t blob[ST_BLOB_ID_LEN];
	uint16_t verdict_len;
	uint16_t sender_len;
	uint32_t pad;
	/* verdict, sender, then n_rcpts x (u16 len, bytes) */
} st_quar_rec_t;

/* --- Requests ---------------------------------------------------------- */

typedef struct st_req {
	enum st_op op;
	st_client_t *client;
	st_done_fn *cb;
	void *ctx;
	struct st_req *next_free;  /* client free list */
	uint64_t bytes;            /* body bytes, for the batch byte limit */
	st_result_t res;
	int pre_err;               /* fail without applying (set at submit) */
	const char *pre_error;

	char s1[ST_STR_CAP];       /* address, domain, mailbox name */
	char s2[ST_STR_CAP];       /* second name, alias target */
	char pwhash[ST_PWHASH_MAX];
	uint64_t id1, id2;
	uint32_t u32;
	bool flag;
	int64_t when;
	const st_uid_range_t *uids;
	unsigned n_uids;
	uint32_t *out_uids;
	unsigned out_cap;
	st_deliver_t deliver;
	st_blob_id_t hash;
	st_flags_req_t flags;
	const st_queue_rcpt_update_t *qupd;
	unsigned n_qupd;
	sl_slice_t data;
	const st_kv_op_t *kv;
	unsigned n_kv;
	enum st_kv_ns ns;
} st_req_t;

struct st_client {
	st_store_t *s;
	int efd;
	unsigned cap;              /* max in flight */
	unsigned inflight;         /* owner thread only */
	st_req_t *slots;
	st_req_t *free_list;       /* owner thread only */
	st_req_t **cring;          /* completions, writer -> owner (SPSC) */
	unsigned cmask;
	_Atomic unsigned chead;    /* written by the writer */
	unsigned ctail;            /* owner thread only */
	uint64_t mark;             /* writer only: last batch that signalled */
};

/* --- Readers and the resize gate --------------------------------------- */

struct st_reader {
	st_store_t *s;
	MDB_txn *txn;              /* reset when idle */
	unsigned depth;            /* > 0 while a snapshot is open */
	bool gate_only;            /* begun without a transaction (backup) */
	_Atomic int active;        /* holds the gate (no map resize) */
	struct st_reader *next;    /* store's registry */
	/* scratch for callbacks that expose arrays */
	st_queue_rcpt_t *qrcpts;   /* ST_RCPT_MAX entries */
	const char **strs;         /* ST_RCPT_MAX entries */
	char (*visit)[ST_STR_CAP]; /* alias expansion: ST_RESOLVE_MAX entries */
};

struct st_cell {
	_Atomic size_t seq;
	st_req_t *req;
};

struct st_store {
	MDB_env *env;
	MDB_dbi dbi[ST_DB__COUNT];
	st_store_opts_t opts;
	char path[4096];
	uint32_t schema_version;
	size_t page_size;

	/* request ring: bounded MPSC (Vyukov's sequence-numbered cells) */
	struct st_cell *ring;
	size_t ring_mask;
	_Atomic size_t enq_pos;
	size_t deq_pos;            /* writer only */
	_Atomic unsigned reserved; /* slots promised to clients */
	int wake_fd;
	_Atomic int writer_sleeping;
	_Atomic int closing;
	pthread_t writer;
	bool writer_started;
	uint64_t batch_no;         /* writer only */
	_Atomic int test_hold;     /* tests: writer leaves requests queued */
	st_req_t **batch;          /* writer only: batch_max entries */
	st_client_t **batch_clients; /* writer only: the batch's clients, read
					before any completion is published */
	/* held by the writer while it posts completions; a client being
	   destroyed takes it once so the writer is done touching it */
	pthread_mutex_t complete_lock;

	/* readers and resize gate */
	pthread_mutex_t readers_lock;
	st_reader_t *readers;
	_Atomic int resizing;

	/* argon2 dummy hash for unknown users */
	pthread_mutex_t dummy_lock;
	_Atomic int dummy_ready;
	char dummy_hash[ST_PWHASH_MAX];

	/* change notification: bumped by the writer after a commit, before
	   completions are posted; read lock-free by anyone */
	_Atomic uint64_t gens[ST_GEN_SLOTS];
	uint32_t touched[ST_TOUCH_MAX]; /* writer only: slots the open
					   transaction changed */
	unsigned n_touched;
	bool touched_all;

	/* stats */
	_Atomic uint64_t st_requests, st_batches, st_batch_max, st_grows, st_retries,
		st_singles;
	_Atomic uint64_t map_size;
	_Atomic uint64_t map_used;
	_Atomic uint64_t st_apply_ns, st_commit_ns, st_post_ns;
};

/* --- Encoding helpers -------------------------------------------------- */

static inline void st_be64_put(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

static inline uint64_t st_be64_get(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

static inline void st_be32_put(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline uint32_t st_be32_get(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static inline MDB_val st_val(const void *p, size_t n)
{
	return (MDB_val){n, (void *)p};
}

/* --- Shared internal functions ----------------------------------------- */

/* st_lmdb_err - map an LMDB or errno code to sl_err (MAP_FULL and TXN_FULL
 * to the ST_RETRY_* codes). */
int st_lmdb_err(int rc);

/* Names and addresses (st_names.c). Each writes the canonical form to OUT
 * (ST_STR_CAP bytes) and returns 0 or SL_EINVAL with *ERROR_R set. */
int st_domain_canon(const char *in, char *out, const char **error_r);
int st_address_canon(const char *in, char *out, const char **error_r);
int st_mailbox_canon(const char *in, char *out, const char **error_r);
/* st_address_domain - pointer to the domain part of a canonical address. */
const char *st_address_domain(const char *addr);

/* Reads (st_read.c). */
int st_reader_begin(st_reader_t *rd, MDB_txn **txn_r);
void st_reader_end(st_reader_t *rd);
void st_gate_close(st_store_t *s);
void st_gate_open(st_store_t *s);

/* Write ops (st_ops_*.c): apply REQ inside TXN. 0, an sl_err (the request
 * fails, its nested txn is aborted), or ST_RETRY_*. */
int st_apply(st_store_t *s, MDB_txn *txn, st_req_t *req);
int st_apply_user(st_store_t *s, MDB_txn *txn, st_req_t *req);
int st_apply_mailbox(st_store_t *s, MDB_txn *txn, st_req_t *req);
int st_apply_msg(st_store_t *s, MDB_txn *txn, st_req_t *req);
int st_apply_queue(st_store_t *s, MDB_txn *txn, st_req_t *req);

/* Helpers shared by the op files. */
int st_meta_next_id(st_store_t *s, MDB_txn *txn, const char *name, uint64_t *id_r);
int st_meta_get_u64(st_store_t *s, MDB_txn *txn, const char *name, uint64_t *v_r);
int st_meta_put_u64(st_store_t *s, MDB_txn *txn, const char *name, uint64_t v);
int st_blob_ref(st_store_t *s, MDB_txn *txn, const uint8_t *hash, uint64_t add);
int st_blob_unref(st_store_t *s, MDB_txn *txn, const uint8_t *hash);
int st_blob_put(st_store_t *s, MDB_txn *txn, const uint8_t *hash, sl_slice_t body,
		uint64_t refs);
int st_mbox_create_rec(st_store_t *s, MDB_txn *txn, uint64_t user_id, const char *name,
		       uint32_t roles, uint32_t attrs, uint64_t *id_r, uint32_t *uidvalidity_r);
int st_mbox_purge(st_store_t *s, MDB_txn *txn, uint64_t mbox_id);
int st_mbox_delete_all(st_store_t *s, MDB_txn *txn, uint64_t user_id);
int st_user_read(st_store_t *s, MDB_txn *txn, const char *addr, st_user_rec_t *rec_r);
int st_user_exists(st_store_t *s, MDB_txn *txn, uint64_t user_id);
int st_queue_add_rec(st_store_t *s, MDB_txn *txn, st_req_t *r, uint64_t *id_r);
int st_quar_add_rec(st_store_t *s, MDB_txn *txn, st_req_t *r, uint64_t *id_r);
/* st_queue_decode - parse a queue record in V: header to *H, sender and up
 * to ST_RCPT_MAX recipients (pointers into V, NUL-terminated). */
int st_queue_decode(MDB_val v, st_queue_rec_t *h, const char **sender_r,
		    st_queue_rcpt_t *rcpts);
/* st_quar_decode - parse a quarantine record; RCPTS has ST_RCPT_MAX
 * entries. */
int st_quar_decode(MDB_val v, st_quar_rec_t *h, const char **verdict_r, const char **sender_r,
		   const char **rcpts);
/* --- Chunk layout ------------------------------------------------------
 *
 * A body of SIZE bytes is stored as FULL = SIZE / chunk_size chunks of
 * chunk_size bytes, then the remainder R (if any). R fills whole overflow
 * runs only when R + 16 is a multiple of the page size; otherwise its last
 * overflow page is mostly empty (a 4096-byte body took two pages). So
 * when R splits into A = the largest n*4096-16 <= R (n >= 1, fills n pages
 * exactly) and a tail T = R - A of 1..ST_TAIL_INLINE_MAX bytes (small
 * enough to sit inside a leaf page, packed with the tails of other blobs
 * since chunk keys append), the remainder is stored as two chunks, A and
 * T. A record says which layout it has by its chunk count (FULL + 1 for
 * one remainder chunk, FULL + 2 for a split one), so blobs written before
 * the split existed read the same; the count of a new blob comes from
 * st_chunk_count_for(). */
#define ST_TAIL_INLINE_MAX 2000u /* LMDB keeps a value this small (plus a
				    12-byte key) in the leaf at 4 KiB pages */

typedef struct st_chunk_layout {
	uint64_t full;     /* chunks of chunk_size bytes */
	uint64_t rem;      /* bytes after them */
	uint64_t split;    /* 0, or length of the first of two remainder chunks */
} st_chunk_layout_t;

/* The overflow part A of a remainder R, or 0 if R is not split. */
static inline uint64_t st_chunk_split_of(uint64_t r)
{
	uint64_t a;

	if (r + 16 < 4096)
		return 0;
	a = (r + 16) / 4096 * 4096 - 16;
	return r - a > 0 && r - a <= ST_TAIL_INLINE_MAX ? a : 0;
}

/* st_chunk_count_for - chunks of a new blob of SIZE bytes (chunk_size
 * ST_CHUNK_SIZE). */
static inline uint32_t st_chunk_count_for(uint64_t size)
{
	uint64_t r = size % ST_CHUNK_SIZE;

	return (uint32_t)(size / ST_CHUNK_SIZE + (r > 0) + (st_chunk_split_of(r) > 0));
}

/* st_chunk_layout - decode the layout of a blob record. 0, or SL_ECORRUPT
 * when its chunk count fits neither layout. */
static inline int st_chunk_layout(uint64_t size, uint32_t chunk_size, uint32_t n_chunks,
				  st_chunk_layout_t *l)
{
	uint64_t base;

	l->full = l->rem = l->split = 0;
	if (size == 0)
		return n_chunks == 0 ? 0 : SL_ECORRUPT;
	if (chunk_size == 0)
		return SL_ECORRUPT;
	l->full = size / chunk_size;
	l->rem = size % chunk_size;
	base = l->full + (l->rem > 0);
	if (n_chunks == base)
		return 0;
	if (l->rem > 0 && n_chunks == base + 1 && (l->split = st_chunk_split_of(l->rem)) > 0)
		return 0;
	return SL_ECORRUPT;
}

/* st_chunk_span - where chunk IDX lies in the body. false if out of range. */
static inline bool st_chunk_span(const st_chunk_layout_t *l, uint64_t chunk_size, uint64_t idx,
				 uint64_t *off_r, uint64_t *len_r)
{
	uint64_t base = l->full * chunk_size;

	if (idx < l->full) {
		*off_r = idx * chunk_size;
		*len_r = chunk_size;
	} else if (idx == l->full && l->rem > 0) {
		*off_r = base;
		*len_r = l->split > 0 ? l->split : l->rem;
	} else if (idx == l->full + 1 && l->split > 0) {
		*off_r = base + l->split;
		*len_r = l->rem - l->split;
	} else {
		return false;
	}
	return true;
}

/* st_chunk_index - the chunk holding byte OFF (< size). */
static inline uint64_t st_chunk_index(const st_chunk_layout_t *l, uint64_t chunk_size,
				      uint64_t off)
{
	uint64_t base = l->full * chunk_size;

	if (off < base)
		return off / chunk_size;
	return l->full + (l->split > 0 && off - base >= l->split);
}

/* st_chunk_key - key of chunk I of blob number NO. */
static inline void st_chunk_key(uint8_t k[12], uint64_t no, uint32_t i)
{
	st_be64_put(k, no);
	st_be32_put(k + 8, i);
}
/* st_qdue_key - due-index key: next attempt (sign bit flipped, so negative
 * times order first) then the queue id, both big-endian. */
void st_qdue_key(uint8_t k[16], int64_t when, uint64_t id);

/* The expunge-history extension of a mailbox record: written after the
 * keyword table. A record written before the history was bounded has no
 * extension; it decodes as floor 0 with ST_MBOX_EXT_UNCOUNTED (the writer
 * counts its history once, at its next expunge). Firmware that predates
 * the extension ignores bytes after the keywords when it reads a record,
 * but drops them when it rewrites one (see docs/store.md). */
typedef struct st_mbox_ext {
	uint64_t vanished_floor;  /* the highest MODSEQ of an expunge whose
				     row was pruned: every expunge at a
				     MODSEQ <= this is forgotten (0: none) */
	uint32_t vanished_count;  /* ST_DB_VANISHED rows of the mailbox */
	uint32_t flags;           /* ST_MBOX_EXT_* */
} st_mbox_ext_t;
#define ST_MBOX_EXT_UNCOUNTED 0x1u /* vanished_count is not known */

/* Rows one prune may delete beyond the ones the same request added, so
 * that lowering vanished_max costs a few bounded steps, not one long
 * transaction. */
#define ST_VANISHED_PRUNE_EXTRA 1024u
#define ST_VANISHED_MAX_LIMIT (1u << 26) /* largest vanished_max accepted */

/* Mailbox record helpers (st_ops_mailbox.c). A decoded mailbox record. */
typedef struct st_mbox {
	uint64_t id;
	st_mbox_rec_t r;
	st_mbox_ext_t x;
	char name[ST_MAILBOX_NAME_MAX + 1];
	char kw[ST_KEYWORDS_MAX][ST_KEYWORD_MAX + 1];
} st_mbox_t;
int st_mbox_load(st_store_t *s, MDB_txn *txn, uint64_t id, st_mbox_t *m);
int st_mbox_store(st_store_t *s, MDB_txn *txn, const st_mbox_t *m);
int st_mbox_decode(uint64_t id, MDB_val v, st_mbox_t *m);
int st_mbox_lookup(st_store_t *s, MDB_txn *txn, uint64_t user_id, const char *name,
		   uint64_t *id_r);
/* st_mbox_kw_bits - map keyword names to bits, adding new ones to M's
 * table. 0 or SL_ELIMIT (table full) / SL_EINVAL (bad keyword). */
int st_mbox_kw_bits(st_mbox_t *m, const char *const *kws, unsigned n, uint64_t *bits_r);
/* st_vanished_prune - bound M's expunge history (st_ops_msg.c): count it
 * first if the record had no count; then, while it holds more than the
 * store's vanished_max rows, delete the oldest (at most ADDED +
 * ST_VANISHED_PRUNE_EXTRA of them) and raise M->x.vanished_floor to the
 * highest MODSEQ deleted. M is changed in memory; the caller stores it. */
int st_vanished_prune(st_store_t *s, MDB_txn *txn, st_mbox_t *m, uint32_t added);

/* Testing hook (st_env.c): replace the migration table. A migration takes
 * the store from version i to i+1 inside the open write transaction. */
typedef int st_migration_fn(st_store_t *s, MDB_txn *txn);
void st_schema_set_migrations_for_test(st_migration_fn *const *steps, unsigned n_steps);

/* st_sha256_accel_for_test - switch SHA-256 between the SHA-NI block
 * function (ON) and the portable one; false (and nothing changes) when the
 * CPU has no SHA extensions. Single-threaded tests only. */
bool st_sha256_accel_for_test(bool on);

/* Writer (st_writer.c). */
/* st_touch_mailbox / st_touch_user - record, inside a write transaction on
 * the writer thread, that the transaction changes mailbox ID (its messages,
 * flags, counters, name or existence) or the mailbox set of user ID. The
 * counters are bumped only once the transaction has committed; a rolled
 * back request's touches are dropped. */
void st_touch_mailbox(st_store_t *s, uint64_t id);
void st_touch_user(st_store_t *s, uint64_t id);
/* st_writer_hold_for_test - while ON, the writer leaves requests in the
 * ring, so a test can queue an exact batch; releasing lets it take them
 * all in one transaction (up to batch_max). */
void st_writer_hold_for_test(st_store_t *s, bool on);
int st_writer_start(st_store_t *s);
void st_writer_stop(st_store_t *s);
int st_map_grow(st_store_t *s, uint64_t min_size);
int st_submit(st_client_t *c, st_req_t *req);
st_req_t *st_req_alloc(st_client_t *c, enum st_op op, st_done_fn *cb, void *ctx);
void st_req_release(st_client_t *c, st_req_t *req);

#endif
