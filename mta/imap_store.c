/* imap_store - IMAP engine requests answered from the LMDB store.
 *
 * Reads run inside one st_read each and complete before imap_store_serve
 * returns. Writes become an imap_store_op_t that lives until the store's
 * callback: it carries what the store borrows besides the request's own
 * arrays (keyword pointers, result arrays) and, when the connection went
 * away meanwhile, the engine session itself (whose arena and input buffer
 * hold the borrowed UID ranges and APPEND body). */
#include "imap_store.h"

#include <stdlib.h>
#include <string.h>

#include "imap_recent.h"
#include "imap/imap_structure.h"
#include "imap/imap_textmatch.h"
#include "message/msg.h"
#include "message/msg_struct.h"
#include "sl_err.h"
#include "sl_log.h"
#include "sl_time.h"

#define IMAP_STORE_LOG "imap"
#define IMAP_STORE_POLL_US (50 * SL_US_PER_MS)
/* The largest result array a write takes (UIDs of one EXPUNGE/COPY). */
#define IMAP_STORE_UIDS_MAX (1u << 20)
/* SEARCH on message text: message bytes one st_read may scan (plus
 * IMAP_STORE_TM_MSG_COST per message) before the lane gets to run other
 * sessions; the search goes on from the tick (a few ms per slice). */
#define IMAP_STORE_TM_BUDGET (2u << 20)
#define IMAP_STORE_TM_MSG_COST 512u

const char *const imap_store_stats_names[] = {
#define IMAP_STORE_STATS_NAME(n) #n,
	IMAP_STORE_STATS_FIELDS(IMAP_STORE_STATS_NAME)
#undef IMAP_STORE_STATS_NAME
	NULL};

typedef struct imap_store_op imap_store_op_t;

struct imap_store_op {
	imap_store_t *st;          /* NULL once the lane's store side is gone */
	imap_store_sess_t *ss;     /* NULL once the session is unbound */
	imap_session_t *orphan;    /* the engine session, taken over */
	enum imap_req_kind kind;
	bool move;
	uint64_t mailbox_id;       /* the selected mailbox (source) */
	uint64_t dst_id;           /* COPY/MOVE destination */
	const char **kw;           /* keyword pointers (STORE, APPEND) */
	uint32_t *uids;            /* EXPUNGE/COPY/MOVE results */
	unsigned uids_cap;
	st_deliver_target_t target;
	st_target_result_t result;
	st_blob_id_t hash;         /* APPEND: the body's blob id */
	bool struct_pending;       /* APPEND: its structure's cache write is out */
	bool main_done;            /* the request's own callback ran */
	int main_err;              /* ... with this result (APPEND) */
	imap_store_op_t *prev, *next;
};

struct imap_store_sess {
	imap_store_t *st;
	imap_session_t *s;
	void *owner;
	uint64_t id;               /* serial, never 0 */
	uint64_t user_id;
	uint64_t sel_id;           /* mailbox of the last successful SELECT */
	uint64_t sel_gen;          /* its st_mailbox_gen as last synced */
	bool sel_readonly;         /* EXAMINE */
	imap_store_op_t *op;       /* write in the store's hands */
	bool retry_queued;
	imap_store_sess_t *prev, *next;
	imap_store_sess_t *retry_next;
	/* a SEARCH on text that gave the lane back: its FETCH goes on from
	 * the tick after tm_after */
	bool tm_queued;
	uint32_t tm_after;
	imap_store_sess_t *tm_next;
};

struct imap_store {
	imap_store_params_t p;
	st_store_t *store;
	imap_store_stats_t stats;
	uint64_t now;
	uint64_t poll_last;
	imap_store_sess_t *sessions;
	imap_store_sess_t *retry_head, *retry_tail;
	imap_store_op_t *inflight;
	unsigned n_idle;           /* IDLE sessions seen at the last tick */
	uint64_t sess_seq;
	imap_recent_t *recent;    /* p.recent, or our own */
	bool own_recent;
	/* ENVELOPE/BODYSTRUCTURE and the part table (imap_structure.h),
	 * built once per body and cached with the blob */
	msg_parser_t *parser;
	msg_struct_t *mstruct;
	sl_buf_t blob;            /* the last structure built or read */
	/* SEARCH on text: the matcher (made at the first such SEARCH) and the
	 * sessions whose search continues at the next tick */
	imap_tm_t *tm;
	imap_store_sess_t *tm_head, *tm_tail;
};

/* ---- helpers ---- */

static const char *slice_cstr(sl_slice_t s)
{
	return (const char *)s.ptr; /* the engine NUL-terminates every slice */
}

static void meta_from_info(struct imap_msg_meta *m, const st_msg_info_t *i)
{
	memset(m, 0, sizeof(*m));
	m->uid = i->uid;
	m->flags = i->flags & IMAP_FLAG__ALL;
	m->modseq = i->modseq;
	m->internaldate = i->internaldate;
	m->tz_min = i->tz_min;
	m->size = i->size;
}

/* The keyword table of a mailbox, copied out of the snapshot. */
struct kwtab {
	char name[ST_KEYWORDS_MAX][ST_KEYWORD_MAX + 1];
	bool used[ST_KEYWORDS_MAX];
	sl_slice_t sl[ST_KEYWORDS_MAX];
	unsigned n;    /* dense entries in sl (for SELECT's FLAGS) */
};

static int kwtab_cb(void *ctx, unsigned bit, const char *kw)
{
	struct kwtab *t = ctx;
	size_t len = strlen(kw);

	if (bit >= ST_KEYWORDS_MAX || len > ST_KEYWORD_MAX)
		return 0;
	memcpy(t->name[bit], kw, len + 1);
	t->used[bit] = true;
	t->sl[t->n++] = sl_slice_make(t->name[bit], len);
	return 0;
}

static int kwtab_load(st_reader_t *rd, uint64_t mailbox_id, struct kwtab *t)
{
	memset(t->used, 0, sizeof(t->used));
	t->n = 0;
	return st_mailbox_keywords(rd, mailbox_id, kwtab_cb, t);
}

/* The keywords of one message as slices into T. */
static size_t kw_of(const struct kwtab *t, uint64_t mask, sl_slice_t *out)
{
	size_t n = 0;

	for (unsigned b = 0; b < ST_KEYWORDS_MAX && mask != 0; b++, mask >>= 1)
		if ((mask & 1) && t->used[b])
			out[n++] = sl_slice_make(t->name[b], strlen(t->name[b]));
	return n;
}

static void mailbox_info_to_imap(const st_mailbox_info_t *i, struct imap_mailbox_info *m)
{
	memset(m, 0, sizeof(*m));
	m->name = sl_slice_make(i->name, strlen(i->name));
	m->attrs = ((i->attrs & ST_MBOX_NOSELECT) ? IMAP_MBA_NOSELECT : 0) |
		   (i->has_children ? IMAP_MBA_CHILDREN : 0) |
		   (i->subscribed ? IMAP_MBA_SUBSCRIBED : 0);
	m->roles = i->roles & ST_ROLE__ALL;
	m->messages = i->count;
	m->unseen = i->unseen;
	m->uidnext = i->uidnext;
	m->uidvalidity = i->uidvalidity;
	m->highestmodseq = i->highestmodseq;
	m->size = i->size;
}

static int count_cb(void *ctx, const st_msg_info_t *m)
{
	(void)m;
	(*(uint32_t *)ctx)++;
	return 0;
}

/* \Recent count for STATUS/LIST-STATUS: messages above the claimed UID. */
static uint32_t recent_count(imap_store_t *st, const st_mailbox_info_t *i)
{
	uint32_t claimed = imap_recent_claimed(st->recent, i->id), n = 0;

	if (i->count == 0 || claimed + 1 >= i->uidnext)
		return 0;
	if (st_msg_list(st->p.reader, i->id, claimed + 1, UINT32_MAX, count_cb, &n) < 0)
		return 0;
	return n;
}

/* ---- message structure (ENVELOPE, BODYSTRUCTURE, part table) ---- */

static void op_struct_done(imap_store_op_t *op);

/* A structure on its way into the store's cache. */
struct struct_write {
	imap_store_op_t *op;       /* the APPEND that waits for it, or NULL */
	uint8_t data[];
};

static void struct_set_done(void *ctx, const st_result_t *res)
{
	struct struct_write *w = ctx;

	(void)res; /* a lost cache write only costs a parse later */
	if (w->op != NULL)
		op_struct_done(w->op);
	free(w);
}

/* struct_cache - hand the structure in st->blob to the store for BLOB (a
 * copy: the store borrows it until its callback). Best effort. With OP,
 * the APPEND is answered only once the cache write is in too, so a FETCH
 * right after it finds the structure. True if submitted. */
static bool struct_cache(imap_store_t *st, const st_blob_id_t *blob, imap_store_op_t *op)
{
	struct struct_write *w = malloc(sizeof(*w) + (st->blob.len ? st->blob.len : 1));

	if (w == NULL)
		return false;
	w->op = op;
	memcpy(w->data, st->blob.data, st->blob.len);
	if (st_blob_struct_set(st->p.client, blob, sl_slice_make(w->data, st->blob.len),
			       struct_set_done, w) < 0) {
		free(w);
		return false;
	}
	st->stats.structs_cached++;
	return true;
}

static int struct_feed(void *ctx, sl_slice_t part)
{
	return msg_parser_feed(ctx, part.ptr, part.len);
}

/* struct_build - parse a body (BODY, or else blob BLOB through RD) into
 * st->blob. 0, or an error (the message then has no structure). */
static int struct_build(imap_store_t *st, st_reader_t *rd, sl_slice_t body,
			const st_blob_id_t *blob)
{
	int rc;

	msg_struct_reset(st->mstruct);
	msg_parser_reset(st->parser);
	sl_buf_reset(&st->blob);
	if (body.ptr != NULL)
		rc = msg_parser_feed(st->parser, body.ptr, body.len);
	else
		rc = st_body_read(rd, blob, 0, UINT64_MAX, struct_feed, st->parser);
	if (rc < 0)
		return rc;
	rc = msg_parser_finish(st->parser, NULL);
	if (rc < 0 && rc != SL_ELIMIT)
		return rc; /* a part limit still leaves a usable structure */
	st->stats.structs_built++;
	return imap_structure_blob(st->mstruct, &st->blob);
}

/* struct_load - the structure of BLOB into st->blob: the cached one, or
 * built now from the body (and cached for next time). A cached one that
 * does not read back (written by another version of imap_structure, or
 * damaged) is rebuilt and replaced the same way. */
static int struct_load(imap_store_t *st, st_reader_t *rd, const st_blob_id_t *blob)
{
	imap_structure_view_t v;
	int rc;

	sl_buf_reset(&st->blob);
	rc = st_blob_struct_get(rd, blob, &st->blob);
	if (rc == 0 && imap_structure_view(sl_buf_slice(&st->blob), &v) == 0)
		return 0;
	if (rc != 0 && rc != SL_ENOENT)
		return rc;
	rc = struct_build(st, rd, sl_slice_make(NULL, 0), blob);
	if (rc == 0)
		struct_cache(st, blob, NULL);
	return rc;
}

/* ---- reads ---- */

struct list_ctx {
	imap_store_sess_t *ss;
	const struct imap_request *rq;
	uint32_t seen;
	bool stopped;
};

static int list_mb_cb(void *ctx, const st_mailbox_info_t *info)
{
	struct list_ctx *lc = ctx;
	struct imap_mailbox_info m;

	if (lc->seen++ < lc->rq->u.list.skip)
		return 0;
	mailbox_info_to_imap(info, &m);
	if (lc->rq->u.list.want_status)
		m.recent = recent_count(lc->ss->st, info);
	if (imap_session_list_entry(lc->ss->s, &m) == 1) {
		lc->stopped = true;
		return 1;
	}
	return 0;
}

static int list_sub_cb(void *ctx, const char *name)
{
	struct list_ctx *lc = ctx;
	struct imap_mailbox_info m;
	st_mailbox_info_t mi;

	if (st_mailbox_get(lc->ss->st->p.reader, lc->ss->user_id, name, &mi) == 0)
		return 0; /* a mailbox: already reported */
	if (lc->seen++ < lc->rq->u.list.skip)
		return 0;
	memset(&m, 0, sizeof(m));
	m.name = sl_slice_make(name, strlen(name));
	m.attrs = IMAP_MBA_NONEXISTENT | IMAP_MBA_SUBSCRIBED;
	if (imap_session_list_entry(lc->ss->s, &m) == 1) {
		lc->stopped = true;
		return 1;
	}
	return 0;
}

static int list_fn(st_reader_t *rd, void *ctx)
{
	struct list_ctx *lc = ctx;
	int rc = st_mailbox_list(rd, lc->ss->user_id, list_mb_cb, lc);

	if (rc < 0)
		return rc;
	if (!lc->stopped && lc->rq->u.list.subscriptions) {
		rc = st_subscription_list(rd, lc->ss->user_id, list_sub_cb, lc);
		if (rc < 0)
			return rc;
	}
	return 0;
}

struct status_ctx {
	imap_store_sess_t *ss;
	const char *name;
	st_mailbox_info_t info;
	uint32_t recent;
};

static int status_fn(st_reader_t *rd, void *ctx)
{
	struct status_ctx *sc = ctx;
	int rc = st_mailbox_get(rd, sc->ss->user_id, sc->name, &sc->info);

	if (rc == 0)
		sc->recent = recent_count(sc->ss->st, &sc->info);
	return rc;
}

struct select_ctx {
	imap_store_sess_t *ss;
	const struct imap_request *rq;
	st_mailbox_info_t info;
	struct kwtab kw;
	uint32_t claimed;
	uint32_t recent;
	int msg_err;
};

static int select_msg_cb(void *ctx, const st_msg_info_t *m)
{
	struct select_ctx *sc = ctx;
	bool recent = m->uid > sc->claimed;
	int rc = imap_session_select_msg(sc->ss->s, m->uid, m->flags & IMAP_FLAG__ALL, recent);

	if (rc < 0) {
		sc->msg_err = rc;
		return 1;
	}
	sc->recent += recent;
	return 0;
}

static int select_fn(st_reader_t *rd, void *ctx)
{
	struct select_ctx *sc = ctx;
	int rc = st_mailbox_get(rd, sc->ss->user_id, slice_cstr(sc->rq->u.select.name), &sc->info);

	if (rc < 0)
		return rc;
	if (sc->info.attrs & ST_MBOX_NOSELECT)
		return SL_ESTATE;
	/* RFC 3501 §2.3.2: the first session to see a new message gets
	 * \Recent for it; EXAMINE changes no state, \Recent included
	 * (§6.3.2). The claim is taken here, before listing, so that a
	 * session on another lane selecting at the same time cannot also
	 * take it. */
	if (sc->rq->u.select.readonly || sc->info.uidnext <= 1)
		sc->claimed = imap_recent_claimed(sc->ss->st->recent, sc->info.id);
	else
		sc->claimed = imap_recent_claim(sc->ss->st->recent, sc->info.id,
						sc->info.uidnext - 1);
	rc = st_msg_list(rd, sc->info.id, 1, UINT32_MAX, select_msg_cb, sc);
	if (sc->msg_err < 0)
		return sc->msg_err;
	if (rc < 0)
		return rc;
	return kwtab_load(rd, sc->info.id, &sc->kw);
}

static void serve_select(imap_store_sess_t *ss, const struct imap_request *rq, uint64_t now)
{
	imap_store_t *st = ss->st;
	struct select_ctx *sc = calloc(1, sizeof(*sc));
	struct imap_mailbox_info m;
	int rc;

	ss->sel_id = 0;
	if (sc == NULL) {
		imap_session_select_done(ss->s, now, SL_ENOMEM, NULL, NULL, 0);
		return;
	}
	sc->ss = ss;
	sc->rq = rq;
	rc = st_read(st->p.reader, select_fn, sc);
	if (rc < 0) {
		st->stats.read_errors += rc != SL_ENOENT;
		imap_session_select_done(ss->s, now, rc, NULL, NULL, 0);
		free(sc);
		return;
	}
	mailbox_info_to_imap(&sc->info, &m);
	m.recent = sc->recent;
	ss->sel_id = sc->info.id;
	ss->sel_readonly = rq->u.select.readonly;
	/* The generation cannot be loaded before the snapshot (the id comes
	 * from it): "unknown" makes the first IDLE poll run one SYNC (cheap
	 * when nothing changed), which loads it properly. */
	ss->sel_gen = UINT64_MAX;
	imap_session_select_done(ss->s, now, 0, &m, sc->kw.sl, sc->kw.n);
	free(sc);
}

struct fetch_ctx {
	imap_store_sess_t *ss;
	st_reader_t *rd;
	const struct imap_request *rq;
	unsigned want;
	struct kwtab kw;
	sl_buf_t structure;
	bool stopped;
	uint32_t after;            /* report UIDs above this */
	uint32_t last_uid;         /* the last one reported */
	uint64_t scanned;          /* text search: cost so far (bytes) */
	bool yielded;              /* text search: stopped on the budget */
};

/* ---- SEARCH on text (IMAP_WANT_TEXTMATCH) ---- */

static int tm_feed_cb(void *ctx, sl_slice_t part)
{
	struct fetch_ctx *fc = ctx;

	fc->scanned += part.len;
	return imap_tm_feed(fc->ss->st->tm, part.ptr, part.len);
}

/* tm_eval - the predicates on message MI into M->text_match: one pass over
 * the body, straight from the map, stopped once all are decided. A body
 * the store cannot read (damage) is matched as far as it was read and
 * logged, so one bad message does not fail every search of the mailbox. */
static int tm_eval(struct fetch_ctx *fc, const st_msg_info_t *mi, struct imap_msg_meta *m)
{
	imap_tm_t *tm = fc->ss->st->tm;
	int rc;

	imap_tm_begin(tm, mi->internaldate, mi->tz_min);
	fc->scanned += IMAP_STORE_TM_MSG_COST;
	rc = st_body_read(fc->rd, &mi->blob, 0, UINT64_MAX, tm_feed_cb, fc);
	m->text_match = imap_tm_end(tm);
	if (rc == SL_ENOMEM)
		return rc;
	if (rc < 0)
		sl_log(SL_LOG_WARN, IMAP_STORE_LOG, "SEARCH: body of UID %u unreadable: %s", mi->uid,
		       sl_strerror(rc));
	return 0;
}

static int fetch_msg_cb(void *ctx, const st_msg_info_t *mi)
{
	struct fetch_ctx *fc = ctx;
	struct imap_msg_meta m;
	sl_slice_t kws[ST_KEYWORDS_MAX];

	meta_from_info(&m, mi);
	if (fc->want & IMAP_WANT_TEXTMATCH) {
		int rc;

		if (fc->scanned >= IMAP_STORE_TM_BUDGET) {
			fc->yielded = true; /* the rest at the next tick */
			return 1;
		}
		rc = tm_eval(fc, mi, &m);
		if (rc < 0)
			return rc;
	}
	if (fc->want & IMAP_WANT_KEYWORDS) {
		m.n_keywords = kw_of(&fc->kw, mi->keywords, kws);
		m.keywords = kws;
	}
	if (fc->want & (IMAP_WANT_ENVELOPE | IMAP_WANT_STRUCTURE)) {
		imap_structure_view_t v;

		/* none (unparsable, or over the limits): the engine sends an
		 * empty structure and ends with NO [UNAVAILABLE] */
		if (struct_load(fc->ss->st, fc->rd, &mi->blob) == 0 &&
		    imap_structure_view(sl_buf_slice(&fc->ss->st->blob), &v) == 0) {
			m.envelope = v.envelope;
			m.body = v.body;
			m.bodystructure = v.bodystructure;
		}
	}
	fc->last_uid = mi->uid;
	if (imap_session_fetch_msg(fc->ss->s, &m) == 1) {
		fc->stopped = true;
		return 1;
	}
	return 0;
}

static int fetch_fn(st_reader_t *rd, void *ctx)
{
	struct fetch_ctx *fc = ctx;
	const struct imap_request *rq = fc->rq;
	int rc;

	fc->rd = rd;
	if (fc->want & IMAP_WANT_KEYWORDS) {
		rc = kwtab_load(rd, fc->ss->sel_id, &fc->kw);
		if (rc < 0)
			return rc;
	}
	for (size_t i = 0; i < rq->u.fetch.n_uids && !fc->stopped; i++) {
		uint32_t lo = rq->u.fetch.uids[i].lo, hi = rq->u.fetch.uids[i].hi;

		if (hi <= fc->after)
			continue;
		if (lo <= fc->after)
			lo = fc->after + 1;
		rc = st_msg_list(rd, fc->ss->sel_id, lo, hi, fetch_msg_cb, fc);
		if (rc < 0)
			return rc;
		if (fc->yielded)
			break;
	}
	return 0;
}

static void tm_queue(imap_store_t *st, imap_store_sess_t *ss)
{
	ss->tm_queued = true;
	ss->tm_next = NULL;
	if (st->tm_tail != NULL)
		st->tm_tail->tm_next = ss;
	else
		st->tm_head = ss;
	st->tm_tail = ss;
}

static void tm_unqueue(imap_store_t *st, imap_store_sess_t *ss)
{
	imap_store_sess_t **pp = &st->tm_head, *last = NULL;

	while (*pp != NULL && *pp != ss) {
		last = *pp;
		pp = &(*pp)->tm_next;
	}
	if (*pp == ss) {
		*pp = ss->tm_next;
		if (st->tm_tail == ss)
			st->tm_tail = last;
	}
	ss->tm_next = NULL;
	ss->tm_queued = false;
}

/* serve_fetch - IMAP_REQ_FETCH in one st_read. A SEARCH on text that
 * spends its budget stops after a message and is queued: the tick calls
 * this again with RESUME (the request is still the engine's outstanding
 * one), so one search never holds the lane for more than a slice. True if
 * the request completed. */
static bool serve_fetch(imap_store_sess_t *ss, const struct imap_request *rq, uint64_t now_us,
			bool resume)
{
	imap_store_t *st = ss->st;
	struct fetch_ctx *fc;
	int rc = 0;

	st->stats.reads++;
	if ((rq->u.fetch.want & IMAP_WANT_TEXTMATCH) && st->tm == NULL)
		rc = imap_tm_create(&st->tm);
	if (rc == 0 && (rq->u.fetch.want & IMAP_WANT_TEXTMATCH))
		rc = imap_tm_prepare(st->tm, rq->u.fetch.text, rq->u.fetch.n_text);
	fc = rc == 0 ? calloc(1, sizeof(*fc)) : NULL;
	if (fc == NULL) {
		imap_session_fetch_done(ss->s, now_us, rc < 0 ? rc : SL_ENOMEM);
		return true;
	}
	fc->ss = ss;
	fc->rq = rq;
	fc->want = rq->u.fetch.want;
	fc->after = resume && ss->tm_after > rq->u.fetch.after ? ss->tm_after : rq->u.fetch.after;
	rc = st_read(st->p.reader, fetch_fn, fc);
	st->stats.read_errors += rc < 0;
	if (rc >= 0 && fc->yielded) {
		ss->tm_after = fc->last_uid > fc->after ? fc->last_uid : fc->after;
		free(fc);
		tm_queue(st, ss);
		return false;
	}
	free(fc);
	imap_session_fetch_done(ss->s, now_us, rc < 0 ? rc : 0);
	return true;
}

struct body_ctx {
	imap_store_sess_t *ss;
	const struct imap_request *rq;
};

static int body_part_cb(void *ctx, sl_slice_t part)
{
	struct body_ctx *bc = ctx;

	imap_session_body_data(bc->ss->s, part);
	return 0;
}

static int body_fn(st_reader_t *rd, void *ctx)
{
	struct body_ctx *bc = ctx;
	st_msg_info_t mi;
	int rc = st_msg_get(rd, bc->ss->sel_id, bc->rq->u.body.uid, &mi);

	if (rc == SL_ENOENT)
		return 0; /* expunged meanwhile: an empty body, padded by the engine */
	if (rc < 0)
		return rc;
	return st_body_read(rd, &mi.blob, bc->rq->u.body.offset, bc->rq->u.body.len,
			    body_part_cb, bc);
}

struct section_ctx {
	imap_store_sess_t *ss;
	const struct imap_request *rq;
	uint64_t off, len;
};

static int section_fn(st_reader_t *rd, void *ctx)
{
	static const enum imap_sect kinds[] = {
		[IMAP_PART_BODY] = IMAP_SECT_PART, [IMAP_PART_HEADER] = IMAP_SECT_HEADER,
		[IMAP_PART_TEXT] = IMAP_SECT_TEXT, [IMAP_PART_MIME] = IMAP_SECT_MIME};
	struct section_ctx *xc = ctx;
	st_msg_info_t mi;
	int rc = st_msg_get(rd, xc->ss->sel_id, xc->rq->u.section.uid, &mi);

	if (rc < 0)
		return rc;
	rc = struct_load(xc->ss->st, rd, &mi.blob);
	if (rc < 0)
		return rc == SL_EINVAL || rc == SL_ELIMIT ? SL_EIO : rc;
	return imap_structure_section(sl_buf_slice(&xc->ss->st->blob), xc->rq->u.section.path,
				      kinds[xc->rq->u.section.kind], &xc->off, &xc->len);
}

struct sync_ctx {
	imap_store_sess_t *ss;
	struct kwtab kw;
	uint64_t hms;
};

static int sync_changed_cb(void *ctx, const st_msg_info_t *mi)
{
	struct sync_ctx *yc = ctx;
	struct imap_msg_meta m;
	sl_slice_t kws[ST_KEYWORDS_MAX];

	meta_from_info(&m, mi);
	m.n_keywords = kw_of(&yc->kw, mi->keywords, kws);
	m.keywords = kws;
	/* a message nobody has seen yet: this session takes \Recent for it,
	 * unless it only EXAMINEs */
	if (!yc->ss->sel_readonly &&
	    imap_recent_claim(yc->ss->st->recent, yc->ss->sel_id, mi->uid) < mi->uid)
		m.recent = true;
	imap_session_sync_msg(yc->ss->s, &m);
	return 0;
}

static int sync_vanished_cb(void *ctx, uint32_t uid, uint64_t modseq)
{
	struct sync_ctx *yc = ctx;

	(void)modseq;
	imap_session_sync_vanished(yc->ss->s, uid);
	return 0;
}

static int sync_present_cb(void *ctx, uint32_t uid)
{
	struct sync_ctx *yc = ctx;

	return imap_session_sync_present(yc->ss->s, uid);
}

static int sync_fn(st_reader_t *rd, void *ctx)
{
	struct sync_ctx *yc = ctx;
	const struct imap_request *rq = imap_session_request(yc->ss->s);
	st_mailbox_info_t mi;
	int rc;

	rc = st_mailbox_get_by_id(rd, yc->ss->sel_id, &mi);
	if (rc < 0)
		return rc;
	yc->hms = mi.highestmodseq;
	if (rq->u.sync.since >= mi.highestmodseq)
		return 0; /* nothing changed: no index walk (the floor is
			     never above HIGHESTMODSEQ) */
	/* The expunge history is bounded (docs/store.md): below its floor
	 * it no longer names every expunge since `since`, so the engine
	 * answers from what is still in the mailbox (RFC 7162 §3.2.5.2).
	 * For a NOOP/IDLE sync it needs the present UIDs, walked here in the
	 * same snapshot as the changes below. */
	if (rq->u.sync.since < mi.vanished_floor) {
		rc = imap_session_sync_history(yc->ss->s, mi.vanished_floor);
		if (rc < 0)
			return rc;
		if (rc == 1) {
			rc = st_msg_uids(rd, yc->ss->sel_id, 1, UINT32_MAX, sync_present_cb, yc);
			if (rc < 0)
				return rc;
		}
	}
	if (rq->u.sync.expunged_only) /* QRESYNC's VANISHED (EARLIER) pass */
		return st_changes_since(rd, yc->ss->sel_id, rq->u.sync.since, NULL,
					sync_vanished_cb, yc);
	rc = kwtab_load(rd, yc->ss->sel_id, &yc->kw);
	if (rc < 0)
		return rc;
	return st_changes_since(rd, yc->ss->sel_id, rq->u.sync.since, sync_changed_cb,
				sync_vanished_cb, yc);
}

/* ---- writes ---- */

static void op_link(imap_store_t *st, imap_store_op_t *op)
{
	op->prev = NULL;
	op->next = st->inflight;
	if (st->inflight)
		st->inflight->prev = op;
	st->inflight = op;
	st->stats.writes_inflight++;
}

static void op_unlink(imap_store_t *st, imap_store_op_t *op)
{
	if (op->prev)
		op->prev->next = op->next;
	else
		st->inflight = op->next;
	if (op->next)
		op->next->prev = op->prev;
	op->prev = op->next = NULL;
	st->stats.writes_inflight--;
}

static void op_free(imap_store_op_t *op)
{
	if (op == NULL)
		return;
	imap_session_destroy(&op->orphan);
	free(op->kw);
	free(op->uids);
	free(op);
}

/* Every session of the lane with MAILBOX_ID selected, but the one with id
 * EXCEPT, hears that it changed. */
static void notify_mailbox(imap_store_t *st, uint64_t mailbox_id, uint64_t except)
{
	imap_store_sess_t *ss, *next;

	if (mailbox_id == 0)
		return;
	for (ss = st->sessions; ss != NULL; ss = next) {
		next = ss->next;
		if (ss->sel_id != mailbox_id || ss->id == except)
			continue;
		if (imap_session_state(ss->s) != IMAP_STATE_SELECTED)
			continue;
		st->stats.notifications++;
		imap_session_mailbox_changed(ss->s, st->now);
		/* the wake may free SS (a closing session): NEXT is taken */
		st->p.wake(ss->owner);
	}
}

static int uids_cap_for(imap_store_t *st, uint64_t mailbox_id, const struct imap_range *r,
			size_t n, unsigned *cap_r)
{
	st_mailbox_info_t mi;
	uint64_t sum = 0;
	int rc;

	for (size_t i = 0; i < n; i++)
		sum += (uint64_t)r[i].hi - r[i].lo + 1;
	/* Only messages of the view are in the ranges and no new message can
	 * join them (UIDs only grow): the mailbox's count now bounds it. */
	rc = st_mailbox_get_by_id(st->p.reader, mailbox_id, &mi);
	if (rc < 0)
		return rc;
	if (sum > mi.count)
		sum = mi.count;
	if (sum > IMAP_STORE_UIDS_MAX)
		return SL_ELIMIT;
	*cap_r = (unsigned)sum;
	return 0;
}

static const char **kw_ptrs(const sl_slice_t *kw, size_t n)
{
	const char **p = calloc(n ? n : 1, sizeof(*p));

	if (p == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++)
		p[i] = slice_cstr(kw[i]);
	return p;
}

static void op_done(void *ctx, const st_result_t *res);

/* Submit the write for RQ. 0 submitted; SL_EAGAIN client full (OP kept for
 * the retry); other errors: the request fails with it (OP freed). */
static int op_submit(imap_store_sess_t *ss, imap_store_op_t *op, const struct imap_request *rq)
{
	imap_store_t *st = ss->st;
	int rc = SL_EINVAL;

	switch (rq->kind) {
	case IMAP_REQ_MAILBOX: {
		const char *name = slice_cstr(rq->u.mailbox.name);

		switch (rq->u.mailbox.op) {
		case IMAP_MB_CREATE:
			rc = st_mailbox_create(st->p.client, ss->user_id, name,
					       rq->u.mailbox.roles & ST_ROLE__ALL, op_done, op);
			break;
		case IMAP_MB_DELETE:
			rc = st_mailbox_delete(st->p.client, ss->user_id, name, op_done, op);
			break;
		case IMAP_MB_RENAME:
			rc = st_mailbox_rename(st->p.client, ss->user_id, name,
					       slice_cstr(rq->u.mailbox.new_name), op_done, op);
			break;
		case IMAP_MB_SUBSCRIBE:
		case IMAP_MB_UNSUBSCRIBE:
			rc = st_mailbox_subscribe(st->p.client, ss->user_id, name,
						  rq->u.mailbox.op == IMAP_MB_SUBSCRIBE, op_done, op);
			break;
		}
		break;
	}
	case IMAP_REQ_STORE: {
		st_flags_req_t fr;

		memset(&fr, 0, sizeof(fr));
		fr.mailbox_id = op->mailbox_id;
		fr.uids = (const st_uid_range_t *)rq->u.store.uids;
		fr.n_uids = (unsigned)rq->u.store.n_uids;
		fr.mode = rq->u.store.mode == IMAP_STORE_ADD	      ? ST_FLAGS_ADD
			  : rq->u.store.mode == IMAP_STORE_REMOVE ? ST_FLAGS_REMOVE
								  : ST_FLAGS_REPLACE;
		fr.flags = rq->u.store.flags & ST_FLAG__ALL;
		fr.keywords = op->kw;
		fr.n_keywords = (unsigned)rq->u.store.n_keywords;
		fr.unchangedsince = rq->u.store.unchangedsince;
		rc = st_msg_flags(st->p.client, &fr, op_done, op);
		break;
	}
	case IMAP_REQ_EXPUNGE:
		rc = st_msg_expunge(st->p.client, op->mailbox_id,
				    (const st_uid_range_t *)rq->u.expunge.uids,
				    (unsigned)rq->u.expunge.n_uids, true, op->uids, op->uids_cap,
				    op_done, op);
		break;
	case IMAP_REQ_COPY:
		rc = (op->move ? st_msg_move : st_msg_copy)(
			st->p.client, op->mailbox_id, (const st_uid_range_t *)rq->u.copy.uids,
			(unsigned)rq->u.copy.n_uids, op->dst_id, op->uids, op->uids_cap, op_done, op);
		break;
	case IMAP_REQ_APPEND: {
		st_deliver_t d;

		memset(&d, 0, sizeof(d));
		d.body = rq->u.append.body;
		if (d.body.ptr == NULL)
			d.body.ptr = (const uint8_t *)""; /* an empty message, not "by hash" */
		st_sha256(d.body.ptr, d.body.len, op->hash.b);
		d.hash = op->hash.b;
		d.internaldate = rq->u.append.internaldate;
		d.tz_min = rq->u.append.tz_min;
		d.flags = rq->u.append.flags & ST_FLAG__ALL;
		d.keywords = op->kw;
		d.n_keywords = (unsigned)rq->u.append.n_keywords;
		op->target.user_id = ss->user_id;
		op->target.mailbox = slice_cstr(rq->u.append.mailbox);
		d.targets = &op->target;
		d.n_targets = 1;
		d.results = &op->result;
		rc = st_msg_deliver(st->p.client, &d, op_done, op);
		/* ENVELOPE/BODYSTRUCTURE are computed once, at delivery: the
		 * cache write is queued behind the delivery on this client, so
		 * the blob exists when it is applied */
		if (rc == 0 && struct_build(st, NULL, d.body, NULL) == 0)
			op->struct_pending = struct_cache(st, &op->hash, op);
		break;
	}
	default:
		break;
	}
	return rc;
}

/* The engine's completion for a write that could not be done. */
static void fail_request(imap_session_t *s, enum imap_req_kind kind, uint64_t now, int err)
{
	switch (kind) {
	case IMAP_REQ_MAILBOX: imap_session_mailbox_done(s, now, err); break;
	case IMAP_REQ_STORE: imap_session_store_done(s, now, err); break;
	case IMAP_REQ_EXPUNGE: imap_session_expunge_done(s, now, err); break;
	case IMAP_REQ_COPY: imap_session_copy_done(s, now, err, 0, NULL, 0, 0); break;
	case IMAP_REQ_APPEND: imap_session_append_done(s, now, err, 0, 0); break;
	default: break;
	}
}

static int dest_lookup(imap_store_sess_t *ss, sl_slice_t name, uint64_t *id_r)
{
	st_mailbox_info_t mi;
	int rc = st_mailbox_get(ss->st->p.reader, ss->user_id, slice_cstr(name), &mi);

	if (rc < 0)
		return rc;
	if (mi.attrs & ST_MBOX_NOSELECT)
		return SL_ENOENT; /* [TRYCREATE]: CREATE makes it selectable */
	*id_r = mi.id;
	return 0;
}

static int serve_write(imap_store_sess_t *ss, const struct imap_request *rq, uint64_t now)
{
	imap_store_t *st = ss->st;
	imap_store_op_t *op = calloc(1, sizeof(*op));
	int rc;

	if (op == NULL) {
		fail_request(ss->s, rq->kind, now, SL_ENOMEM);
		return 0;
	}
	op->st = st;
	op->ss = ss;
	op->kind = rq->kind;
	op->mailbox_id = ss->sel_id;
	switch (rq->kind) {
	case IMAP_REQ_STORE:
		op->kw = kw_ptrs(rq->u.store.keywords, rq->u.store.n_keywords);
		rc = op->kw != NULL ? 0 : SL_ENOMEM;
		break;
	case IMAP_REQ_APPEND:
		op->kw = kw_ptrs(rq->u.append.keywords, rq->u.append.n_keywords);
		rc = op->kw != NULL ? 0 : SL_ENOMEM;
		break;
	case IMAP_REQ_EXPUNGE:
		rc = uids_cap_for(st, ss->sel_id, rq->u.expunge.uids, rq->u.expunge.n_uids,
				  &op->uids_cap);
		break;
	case IMAP_REQ_COPY:
		op->move = rq->u.copy.move;
		rc = dest_lookup(ss, rq->u.copy.dest, &op->dst_id);
		if (rc == 0)
			rc = uids_cap_for(st, ss->sel_id, rq->u.copy.uids, rq->u.copy.n_uids,
					  &op->uids_cap);
		break;
	default:
		rc = 0;
		break;
	}
	if (rc == 0 && op->uids_cap > 0) {
		op->uids = calloc(op->uids_cap, sizeof(*op->uids));
		if (op->uids == NULL)
			rc = SL_ENOMEM;
	}
	if (rc == 0)
		rc = op_submit(ss, op, rq);
	if (rc == SL_EAGAIN) {
		/* the lane's client is full: tick tries again */
		free(op->kw);
		free(op->uids);
		free(op);
		st->stats.submit_retries++;
		ss->retry_queued = true;
		ss->retry_next = NULL;
		if (st->retry_tail)
			st->retry_tail->retry_next = ss;
		else
			st->retry_head = ss;
		st->retry_tail = ss;
		return SL_EAGAIN;
	}
	if (rc < 0) {
		op->ss = NULL;
		op_free(op);
		st->stats.writes_failed++;
		fail_request(ss->s, rq->kind, now, rc);
		return 0;
	}
	st->stats.writes_submitted++;
	ss->op = op;
	op_link(st, op);
	return 0;
}

/* The store committed (or refused) a write: only now does the client hear. */
static void op_finish(imap_store_op_t *op, const st_result_t *res);

static void op_done(void *ctx, const st_result_t *res)
{
	imap_store_op_t *op = ctx;

	if (op->struct_pending) {
		/* an APPEND whose structure is still on its way in: answer
		 * when both are (only the error and op->result are needed) */
		op->main_done = true;
		op->main_err = res->err;
		return;
	}
	op_finish(op, res);
}

static void op_struct_done(imap_store_op_t *op)
{
	st_result_t res;

	op->struct_pending = false;
	if (!op->main_done)
		return;
	memset(&res, 0, sizeof(res));
	res.op = ST_OP_DELIVER;
	res.err = op->main_err;
	op_finish(op, &res);
}

static void op_finish(imap_store_op_t *op, const st_result_t *res)
{
	imap_store_t *st = op->st;
	imap_store_sess_t *ss = op->ss;
	int err = res->err;
	uint64_t now;
	uint64_t changed = 0, changed_all = 0, self_id;

	if (st == NULL) {
		op_free(op);
		return;
	}
	now = st->now;
	op_unlink(st, op);
	if (err == 0)
		st->stats.writes_committed++;
	else
		st->stats.writes_failed++;
	if (err != 0 && err != SL_ENOENT && err != SL_EEXIST && err != SL_EBUSY)
		sl_log(SL_LOG_INFO, IMAP_STORE_LOG, "store write %d failed: %s", (int)op->kind,
		       res->error ? res->error : sl_strerror(err));
	switch (op->kind) {
	case IMAP_REQ_STORE:
		if (err == 0 && res->u.flags.changed > 0)
			changed = op->mailbox_id;
		break;
	case IMAP_REQ_EXPUNGE:
		if (err == 0 && res->u.expunge.count > 0)
			changed = op->mailbox_id;
		break;
	case IMAP_REQ_COPY:
		if (err == 0 && res->u.copy.count > 0) {
			changed_all = op->dst_id;
			if (op->move)
				changed = op->mailbox_id;
		}
		break;
	case IMAP_REQ_APPEND:
		if (err == 0 && op->result.err != 0)
			err = op->result.err;
		if (err == 0)
			changed_all = op->result.mailbox_id;
		break;
	default:
		break;
	}
	if (ss != NULL) {
		imap_session_t *s = ss->s;

		ss->op = NULL;
		switch (op->kind) {
		case IMAP_REQ_MAILBOX:
			imap_session_mailbox_done(s, now, err);
			break;
		case IMAP_REQ_STORE:
			imap_session_store_done(s, now, err);
			break;
		case IMAP_REQ_EXPUNGE:
			if (err == 0)
				for (uint32_t i = 0; i < res->u.expunge.count && i < op->uids_cap; i++)
					imap_session_expunged(s, op->uids[i]);
			imap_session_expunge_done(s, now, err);
			break;
		case IMAP_REQ_COPY:
			if (err == 0 && op->move)
				for (uint32_t i = 0; i < res->u.copy.count && i < op->uids_cap; i++)
					imap_session_expunged(s, op->uids[i]);
			if (err == 0)
				imap_session_copy_done(s, now, 0, res->u.copy.uidvalidity, op->uids,
						       res->u.copy.count < op->uids_cap
							       ? res->u.copy.count
							       : op->uids_cap,
						       res->u.copy.first_uid);
			else
				imap_session_copy_done(s, now, err, 0, NULL, 0, 0);
			break;
		case IMAP_REQ_APPEND:
			if (err == 0)
				imap_session_append_done(s, now, 0, op->result.uidvalidity,
							 op->result.uid);
			else
				imap_session_append_done(s, now, err, 0, 0);
			break;
		default:
			break;
		}
	}
	op->ss = NULL;
	self_id = ss != NULL ? ss->id : 0;
	/* The wake may end the session (SS freed): nothing of SS after it. */
	if (ss != NULL)
		st->p.wake(ss->owner);
	/* Tell the other sessions (and this one too for a change it does not
	 * know of: APPEND or COPY into its own selected mailbox). */
	notify_mailbox(st, changed, self_id);
	notify_mailbox(st, changed_all, 0);
	op_free(op);
}

/* ---- serving ---- */

int imap_store_serve(imap_store_sess_t *ss, const struct imap_request *rq, uint64_t now_us)
{
	imap_store_t *st = ss->st;
	int rc;

	st->now = now_us;
	switch (rq->kind) {
	case IMAP_REQ_LIST: {
		struct list_ctx lc = {ss, rq, 0, false};

		st->stats.reads++;
		rc = st_read(st->p.reader, list_fn, &lc);
		st->stats.read_errors += rc < 0;
		imap_session_list_done(ss->s, now_us, rc < 0 ? rc : 0);
		return 0;
	}
	case IMAP_REQ_STATUS: {
		struct status_ctx sc;
		struct imap_mailbox_info m;

		memset(&sc, 0, sizeof(sc));
		sc.ss = ss;
		sc.name = slice_cstr(rq->u.status.name);
		st->stats.reads++;
		rc = st_read(st->p.reader, status_fn, &sc);
		if (rc < 0) {
			st->stats.read_errors += rc != SL_ENOENT;
			imap_session_status_done(ss->s, now_us, rc, NULL);
			return 0;
		}
		if (sc.info.attrs & ST_MBOX_NOSELECT) {
			imap_session_status_done(ss->s, now_us, SL_ESTATE, NULL);
			return 0;
		}
		mailbox_info_to_imap(&sc.info, &m);
		m.recent = sc.recent;
		imap_session_status_done(ss->s, now_us, 0, &m);
		return 0;
	}
	case IMAP_REQ_SELECT:
		st->stats.reads++;
		serve_select(ss, rq, now_us);
		return 0;
	case IMAP_REQ_FETCH:
		serve_fetch(ss, rq, now_us, false);
		return 0;
	case IMAP_REQ_BODY: {
		struct body_ctx bc = {ss, rq};

		st->stats.reads++;
		rc = st_read(st->p.reader, body_fn, &bc);
		st->stats.read_errors += rc < 0;
		imap_session_body_done(ss->s, now_us, rc < 0 ? rc : 0);
		return 0;
	}
	case IMAP_REQ_SECTION: {
		struct section_ctx xc = {ss, rq, 0, 0};

		st->stats.reads++;
		if ((unsigned)rq->u.section.kind > IMAP_PART_MIME) {
			imap_session_section_done(ss->s, now_us, SL_EINVAL, 0, 0);
			return 0;
		}
		rc = st_read(st->p.reader, section_fn, &xc);
		st->stats.read_errors += rc < 0 && rc != SL_ENOENT && rc != SL_EINVAL;
		imap_session_section_done(ss->s, now_us, rc, xc.off, xc.len);
		return 0;
	}
	case IMAP_REQ_SYNC: {
		struct sync_ctx *yc = calloc(1, sizeof(*yc));
		uint64_t gen;

		st->stats.reads++;
		if (yc == NULL) {
			imap_session_sync_done(ss->s, now_us, SL_ENOMEM, 0);
			return 0;
		}
		yc->ss = ss;
		/* loaded before the read: a commit during it shows up as a
		 * changed generation at the next poll, never as a lost change */
		gen = st_mailbox_gen(st->store, ss->sel_id);
		rc = st_read(st->p.reader, sync_fn, yc);
		st->stats.read_errors += rc < 0;
		if (rc == 0)
			ss->sel_gen = gen;
		imap_session_sync_done(ss->s, now_us, rc < 0 ? rc : 0, yc->hms);
		free(yc);
		return 0;
	}
	case IMAP_REQ_MAILBOX:
	case IMAP_REQ_STORE:
	case IMAP_REQ_EXPUNGE:
	case IMAP_REQ_COPY:
	case IMAP_REQ_APPEND:
		if (ss->user_id == 0) {
			fail_request(ss->s, rq->kind, now_us, SL_ESTATE);
			return 0;
		}
		return serve_write(ss, rq, now_us);
	case IMAP_REQ_NONE:
	case IMAP_REQ_AUTH:
	case IMAP_REQ_STARTTLS:
		return SL_EINVAL;
	default:
		/* a request kind this glue does not know (an engine newer than
		 * its glue): end the session rather than leave it hanging */
		sl_log(SL_LOG_ERR, IMAP_STORE_LOG, "request %d not served", (int)rq->kind);
		imap_session_shutdown(ss->s, now_us, "Internal error");
		return 0;
	}
}

/* ---- lifecycle ---- */

int imap_store_create(const imap_store_params_t *p, imap_store_t **st_r)
{
	imap_store_t *st;

	*st_r = NULL;
	if (p->reader == NULL || p->client == NULL || p->wake == NULL)
		return SL_EINVAL;
	st = calloc(1, sizeof(*st));
	if (st == NULL)
		return SL_ENOMEM;
	st->p = *p;
	st->store = st_reader_store(p->reader);
	if (st->p.poll_us == 0)
		st->p.poll_us = IMAP_STORE_POLL_US;
	st->recent = p->recent;
	if (st->recent == NULL) {
		st->recent = imap_recent_create();
		st->own_recent = true;
	}
	st->mstruct = msg_struct_new(0);
	if (st->mstruct != NULL) {
		msg_callbacks_t cb;

		msg_struct_callbacks(st->mstruct, NULL, &cb);
		st->parser = msg_parser_new(NULL, &cb);
	}
	sl_buf_init(&st->blob, ST_STRUCT_MAX);
	if (st->recent == NULL || st->mstruct == NULL || st->parser == NULL) {
		imap_store_destroy(&st);
		return SL_ENOMEM;
	}
	*st_r = st;
	return 0;
}

void imap_store_destroy(imap_store_t **stp)
{
	imap_store_t *st = *stp;

	if (st == NULL)
		return;
	if (st->sessions != NULL)
		sl_log(SL_LOG_WARN, IMAP_STORE_LOG, "store side destroyed with sessions bound");
	for (imap_store_op_t *op = st->inflight; op != NULL; op = op->next) {
		op->st = NULL;
		if (op->ss != NULL) {
			op->ss->op = NULL;
			op->ss = NULL;
		}
	}
	if (st->own_recent)
		imap_recent_destroy(&st->recent);
	imap_tm_free(&st->tm);
	msg_parser_free(&st->parser);
	msg_struct_free(&st->mstruct);
	sl_buf_free(&st->blob);
	free(st);
	*stp = NULL;
}

int imap_store_sess_create(imap_store_t *st, imap_session_t *s, void *owner,
			   imap_store_sess_t **ss_r)
{
	imap_store_sess_t *ss = calloc(1, sizeof(*ss));

	*ss_r = NULL;
	if (ss == NULL)
		return SL_ENOMEM;
	ss->st = st;
	ss->s = s;
	ss->owner = owner;
	ss->id = ++st->sess_seq;
	ss->next = st->sessions;
	if (st->sessions)
		st->sessions->prev = ss;
	st->sessions = ss;
	*ss_r = ss;
	return 0;
}

static void retry_remove(imap_store_t *st, imap_store_sess_t *ss)
{
	imap_store_sess_t **pp = &st->retry_head, *last = NULL;

	while (*pp != NULL && *pp != ss) {
		last = *pp;
		pp = &(*pp)->retry_next;
	}
	if (*pp == ss) {
		*pp = ss->retry_next;
		if (st->retry_tail == ss)
			st->retry_tail = last;
	}
	ss->retry_next = NULL;
	ss->retry_queued = false;
}

void imap_store_sess_destroy(imap_store_sess_t **ssp, imap_session_t **s)
{
	imap_store_sess_t *ss = *ssp;
	imap_store_t *st;

	if (ss == NULL) {
		if (s != NULL)
			imap_session_destroy(s);
		return;
	}
	st = ss->st;
	if (ss->retry_queued)
		retry_remove(st, ss);
	if (ss->tm_queued)
		tm_unqueue(st, ss);
	if (ss->op != NULL) {
		/* The store still reads the request's arrays, which live in
		 * the engine session: keep it until the write completes. */
		ss->op->ss = NULL;
		ss->op->orphan = s != NULL ? *s : NULL;
		if (s != NULL)
			*s = NULL;
		st->stats.orphaned_sessions++;
		ss->op = NULL;
	} else if (s != NULL) {
		imap_session_destroy(s);
	}
	if (ss->prev)
		ss->prev->next = ss->next;
	else
		st->sessions = ss->next;
	if (ss->next)
		ss->next->prev = ss->prev;
	free(ss);
	*ssp = NULL;
}

void imap_store_sess_login(imap_store_sess_t *ss, uint64_t user_id)
{
	ss->user_id = user_id;
}

bool imap_store_sess_busy(const imap_store_sess_t *ss)
{
	return ss->op != NULL || ss->retry_queued || ss->tm_queued;
}

uint64_t imap_store_sess_user(const imap_store_sess_t *ss)
{
	return ss->user_id;
}

/* Sessions in IDLE learn of changes made elsewhere (other lanes, SMTP
 * delivery, the control thread) from their mailbox's change generation
 * (st_mailbox_gen: one atomic load). */
static void poll_idlers(imap_store_t *st)
{
	imap_store_sess_t *ss, *next;
	unsigned idle = 0;

	for (ss = st->sessions; ss != NULL; ss = next) {
		uint64_t gen;

		next = ss->next;
		if (ss->sel_id == 0 || ss->op != NULL || !imap_session_idling(ss->s) ||
		    imap_session_request(ss->s) != NULL)
			continue;
		idle++;
		st->stats.gen_polls++;
		gen = st_mailbox_gen(st->store, ss->sel_id);
		if (gen == ss->sel_gen)
			continue;
		st->stats.notifications++;
		imap_session_mailbox_changed(ss->s, st->now);
		st->p.wake(ss->owner);
	}
	st->n_idle = idle;
}

void imap_store_tick(imap_store_t *st, uint64_t now_us)
{
	/* Store completions are run by the lane, which polls its client once
	 * per loop turn for all of its servers (sd_dataplane.c). */
	st->now = now_us;
	while (st->retry_head != NULL) {
		imap_store_sess_t *ss = st->retry_head;
		const struct imap_request *rq = imap_session_request(ss->s);

		st->retry_head = ss->retry_next;
		if (st->retry_head == NULL)
			st->retry_tail = NULL;
		ss->retry_next = NULL;
		ss->retry_queued = false;
		if (rq == NULL)
			continue;
		if (serve_write(ss, rq, now_us) == SL_EAGAIN)
			break; /* requeued at the tail; the client is still full */
		st->p.wake(ss->owner);
	}
	if (st->tm_head != NULL) {
		/* one more slice of each text search that gave the lane back
		 * (those that yield again wait for the next tick) */
		imap_store_sess_t *ss = st->tm_head;

		st->tm_head = st->tm_tail = NULL;
		while (ss != NULL) {
			imap_store_sess_t *next = ss->tm_next;
			const struct imap_request *rq = imap_session_request(ss->s);

			ss->tm_next = NULL;
			ss->tm_queued = false;
			if (rq != NULL && rq->kind == IMAP_REQ_FETCH &&
			    serve_fetch(ss, rq, now_us, true))
				st->p.wake(ss->owner); /* may end the session */
			ss = next;
		}
	}
	if (now_us - st->poll_last >= st->p.poll_us) {
		st->poll_last = now_us;
		poll_idlers(st);
	}
}

uint64_t imap_store_next_deadline(const imap_store_t *st)
{
	if (st->tm_head != NULL)
		return st->now; /* a text search goes on at once */
	if (st->retry_head != NULL || st->inflight != NULL)
		return st->now + SL_US_PER_MS;
	if (st->n_idle > 0 || st->sessions != NULL)
		return st->poll_last + st->p.poll_us;
	return SL_TIME_NEVER;
}

unsigned imap_store_busy(const imap_store_t *st)
{
	return (unsigned)st->stats.writes_inflight + (st->retry_head != NULL ? 1 : 0);
}

void imap_store_get_stats(const imap_store_t *st, imap_store_stats_t *r)
{
	*r = st->stats;
}
