/* st_ops_msg - writer-side message operations (deliver, flags, copy, move,
 * expunge) and body blobs (content-addressed, chunked, reference-counted). */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "st_private.h"

static int fail(st_req_t *r, int rc, const char *text)
{
	r->res.error = text;
	return rc;
}

/* --- blobs ------------------------------------------------------------- */

static int blob_get(st_store_t *s, MDB_txn *txn, const uint8_t *hash, st_blob_rec_t *b)
{
	MDB_val k = st_val(hash, ST_BLOB_ID_LEN), v;
	int rc = mdb_get(txn, s->dbi[ST_DB_BLOB], &k, &v);

	if (rc != 0)
		return st_lmdb_err(rc);
	if (v.mv_size != sizeof(*b))
		return SL_ECORRUPT;
	memcpy(b, v.mv_data, sizeof(*b));
	return 0;
}

static int blob_set(st_store_t *s, MDB_txn *txn, const uint8_t *hash, const st_blob_rec_t *b)
{
	MDB_val k = st_val(hash, ST_BLOB_ID_LEN), v = st_val(b, sizeof(*b));

	return st_lmdb_err(mdb_put(txn, s->dbi[ST_DB_BLOB], &k, &v, 0));
}

/* Store BODY under HASH with REFS references, or add REFS to the blob
 * that is already there: a body delivered to many mailboxes, or delivered
 * again, is stored once. Chunks keep each value to one short overflow run,
 * so a multi-MB body never needs a long contiguous run of free pages. */
int st_blob_put(st_store_t *s, MDB_txn *txn, const uint8_t *hash, sl_slice_t body,
		uint64_t refs)
{
	st_blob_rec_t b;
	st_chunk_layout_t lay;
	uint8_t kb[12];
	int rc = blob_get(s, txn, hash, &b);

	if (rc == 0) {
		if (b.size != body.len)
			return SL_ECORRUPT;
		b.refcount += refs;
		return blob_set(s, txn, hash, &b);
	}
	if (rc != SL_ENOENT)
		return rc;
	rc = st_meta_next_id(s, txn, "blob_no", &b.no);
	if (rc < 0)
		return rc;
	b.refcount = refs;
	b.size = body.len;
	b.chunk_size = ST_CHUNK_SIZE;
	b.n_chunks = st_chunk_count_for(body.len);
	rc = st_chunk_layout(b.size, b.chunk_size, b.n_chunks, &lay);
	if (rc < 0)
		return rc;
	for (uint32_t i = 0; i < b.n_chunks; i++) {
		uint64_t off, n;
		MDB_val k, v;

		if (!st_chunk_span(&lay, b.chunk_size, i, &off, &n))
			return SL_ECORRUPT;
		st_chunk_key(kb, b.no, i);
		k = st_val(kb, sizeof(kb));
		/* Blob numbers only grow, so every chunk key goes after the
		 * last one: MDB_APPEND skips the search and splits a full
		 * leaf at its end instead of its middle, so leaves of small
		 * tails are packed full. Should the counter ever lag, a
		 * plain put is just slower. */
		v = (MDB_val){(size_t)n, NULL};
		rc = mdb_put(txn, s->dbi[ST_DB_CHUNK], &k, &v, MDB_RESERVE | MDB_APPEND);
		if (rc == MDB_KEYEXIST) {
			v = (MDB_val){(size_t)n, NULL};
			rc = mdb_put(txn, s->dbi[ST_DB_CHUNK], &k, &v, MDB_RESERVE);
		}
		if (rc != 0)
			return st_lmdb_err(rc);
		memcpy(v.mv_data, body.ptr + off, (size_t)n);
	}
	return blob_set(s, txn, hash, &b);
}

int st_blob_ref(st_store_t *s, MDB_txn *txn, const uint8_t *hash, uint64_t add)
{
	st_blob_rec_t b;
	int rc = blob_get(s, txn, hash, &b);

	if (rc < 0)
		return rc;
	b.refcount += add;
	return blob_set(s, txn, hash, &b);
}

/* Drop one reference; the last one frees the chunks and the cached
 * structure. */
int st_blob_unref(st_store_t *s, MDB_txn *txn, const uint8_t *hash)
{
	st_blob_rec_t b;
	uint8_t kb[12];
	MDB_val k;
	int rc = blob_get(s, txn, hash, &b);

	if (rc < 0)
		return rc == SL_ENOENT ? SL_ECORRUPT : rc;
	if (b.refcount == 0)
		return SL_ECORRUPT;
	if (b.refcount > 1) {
		b.refcount--;
		return blob_set(s, txn, hash, &b);
	}
	for (uint32_t i = 0; i < b.n_chunks; i++) {
		st_chunk_key(kb, b.no, i);
		k = st_val(kb, sizeof(kb));
		rc = mdb_del(txn, s->dbi[ST_DB_CHUNK], &k, NULL);
		if (rc != 0)
			return rc == MDB_NOTFOUND ? SL_ECORRUPT : st_lmdb_err(rc);
	}
	k = st_val(hash, ST_BLOB_ID_LEN);
	rc = mdb_del(txn, s->dbi[ST_DB_BSTRUCT], &k, NULL);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return st_lmdb_err(rc);
	return st_lmdb_err(mdb_del(txn, s->dbi[ST_DB_BLOB], &k, NULL));
}

/* --- message rows ------------------------------------------------------ */

static void msg_key(uint8_t k[12], uint64_t mbox, uint32_t uid)
{
	st_be64_put(k, mbox);
	st_be32_put(k + 8, uid);
}

static void seq_key(uint8_t k[20], uint64_t mbox, uint64_t modseq, uint32_t uid)
{
	st_be64_put(k, mbox);
	st_be64_put(k + 8, modseq);
	st_be32_put(k + 16, uid);
}

static int seq_put(st_store_t *s, MDB_txn *txn, enum st_db db, uint64_t mbox, uint64_t modseq,
		   uint32_t uid)
{
	uint8_t kb[20];
	MDB_val k = st_val(kb, 20), v = st_val("", 0);

	seq_key(kb, mbox, modseq, uid);
	return st_lmdb_err(mdb_put(txn, s->dbi[db], &k, &v, 0));
}

static int seq_del(st_store_t *s, MDB_txn *txn, uint64_t mbox, uint64_t modseq, uint32_t uid)
{
	uint8_t kb[20];
	MDB_val k = st_val(kb, 20);
	int rc;

	seq_key(kb, mbox, modseq, uid);
	rc = mdb_del(txn, s->dbi[ST_DB_MODSEQ], &k, NULL);
	return rc == MDB_NOTFOUND ? SL_ECORRUPT : st_lmdb_err(rc);
}

/* Add a new message row to M (counters, UIDNEXT, HIGHESTMODSEQ updated in
 * memory; the caller stores M). */
static int msg_add(st_store_t *s, MDB_txn *txn, st_mbox_t *m, st_msg_rec_t *rec,
		   uint32_t *uid_r)
{
	uint8_t kb[12];
	MDB_val k = st_val(kb, 12), v = st_val(rec, sizeof(*rec));
	uint32_t uid = m->r.uidnext;
	int rc;

	/* UIDs are 32-bit and never reused (RFC 3501 §2.3.1.1). */
	if (uid == 0 || uid == UINT32_MAX)
		return SL_ELIMIT;
	rec->modseq = ++m->r.highestmodseq;
	msg_key(kb, m->id, uid);
	rc = st_lmdb_err(mdb_put(txn, s->dbi[ST_DB_MSG], &k, &v, MDB_NOOVERWRITE));
	if (rc == SL_EEXIST)
		return SL_ECORRUPT;
	if (rc == 0)
		rc = seq_put(s, txn, ST_DB_MODSEQ, m->id, rec->modseq, uid);
	if (rc < 0)
		return rc;
	m->r.uidnext = uid + 1;
	m->r.count++;
	m->r.size += rec->size;
	if (!(rec->flags & ST_FLAG_SEEN))
		m->r.unseen++;
	*uid_r = uid;
	return 0;
}

/* Remove a message row and record the expunge for QRESYNC. */
static int msg_expunge(st_store_t *s, MDB_txn *txn, st_mbox_t *m, uint32_t uid,
		       const st_msg_rec_t *rec)
{
	uint8_t kb[12];
	MDB_val k = st_val(kb, 12);
	int rc;

	msg_key(kb, m->id, uid);
	rc = mdb_del(txn, s->dbi[ST_DB_MSG], &k, NULL);
	if (rc != 0)
		return rc == MDB_NOTFOUND ? SL_ECORRUPT : st_lmdb_err(rc);
	rc = seq_del(s, txn, m->id, rec->modseq, uid);
	if (rc == 0)
		rc = seq_put(s, txn, ST_DB_VANISHED, m->id, ++m->r.highestmodseq, uid);
	if (rc == 0)
		rc = st_blob_unref(s, txn, rec->blob);
	if (rc < 0)
		return rc;
	if (m->x.vanished_count == UINT32_MAX) /* (beyond any vanished_max) */
		return SL_ECORRUPT;
	m->x.vanished_count++;
	if (m->r.count == 0 || m->r.size < rec->size)
		return SL_ECORRUPT;
	m->r.count--;
	m->r.size -= rec->size;
	if (!(rec->flags & ST_FLAG_SEEN)) {
		if (m->r.unseen == 0)
			return SL_ECORRUPT;
		m->r.unseen--;
	}
	return 0;
}

/* Count the expunge history of a mailbox whose record predates the
 * count: once per such mailbox, linear in its history. */
static int vanished_count(MDB_cursor *cur, uint64_t mbox, uint32_t *n_r)
{
	uint8_t pre[8];
	MDB_val k = st_val(pre, 8), v;
	uint64_t n = 0;
	int rc;

	st_be64_put(pre, mbox);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size < 8 || memcmp(k.mv_data, pre, 8) != 0)
			break;
		if (++n > UINT32_MAX)
			return SL_ECORRUPT;
	}
	if (rc != 0 && rc != MDB_NOTFOUND)
		return st_lmdb_err(rc);
	*n_r = (uint32_t)n;
	return 0;
}

/* The history is keyed (mailbox, MODSEQ, UID), so a mailbox's oldest
 * expunges are its first rows: each pruned row costs one cursor step and
 * one delete, never a scan. */
int st_vanished_prune(st_store_t *s, MDB_txn *txn, st_mbox_t *m, uint32_t added)
{
	uint64_t budget = (uint64_t)added + ST_VANISHED_PRUNE_EXTRA;
	uint32_t max = s->opts.vanished_max;
	uint8_t pre[8];
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	rc = mdb_cursor_open(txn, s->dbi[ST_DB_VANISHED], &cur);
	if (rc != 0)
		return st_lmdb_err(rc);
	if (m->x.flags & ST_MBOX_EXT_UNCOUNTED) {
		rc = vanished_count(cur, m->id, &m->x.vanished_count);
		if (rc < 0)
			goto out;
		m->x.flags &= ~ST_MBOX_EXT_UNCOUNTED;
	}
	st_be64_put(pre, m->id);
	while (m->x.vanished_count > max && budget > 0) {
		uint64_t modseq;

		k = st_val(pre, 8);
		rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
		if (rc == 0 && (k.mv_size != 20 || memcmp(k.mv_data, pre, 8) != 0))
			rc = MDB_NOTFOUND;
		if (rc == MDB_NOTFOUND) { /* fewer rows than the count says */
			rc = SL_ECORRUPT;
			goto out;
		}
		if (rc != 0)
			break;
		modseq = st_be64_get((const uint8_t *)k.mv_data + 8);
		rc = mdb_cursor_del(cur, 0);
		if (rc != 0)
			break;
		if (modseq > m->x.vanished_floor)
			m->x.vanished_floor = modseq;
		m->x.vanished_count--;
		budget--;
	}
	rc = st_lmdb_err(rc);
out:
	mdb_cursor_close(cur);
	return rc;
}

/* --- uid ranges -------------------------------------------------------- */

static int range_cmp(const void *a, const void *b)
{
	const st_uid_range_t *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Sorted, merged copy of the caller's ranges, so overlapping ranges never
 * touch a message twice. *OUT_R is malloc'd. */
static int ranges_norm(const st_uid_range_t *in, unsigned n, st_uid_range_t **out_r,
		       unsigned *n_r)
{
	st_uid_range_t *o;
	unsigned k = 0;

	*out_r = NULL;
	*n_r = 0;
	if (n == 0)
		return 0;
	o = malloc(n * sizeof(*o));
	if (o == NULL)
		return SL_ENOMEM;
	memcpy(o, in, n * sizeof(*o));
	qsort(o, n, sizeof(*o), range_cmp);
	for (unsigned i = 0; i < n; i++) {
		if (o[i].lo > o[i].hi) {
			free(o);
			return SL_EINVAL;
		}
		if (k > 0 && (o[i].lo <= o[k - 1].hi || o[i].lo - 1 == o[k - 1].hi)) {
			if (o[i].hi > o[k - 1].hi)
				o[k - 1].hi = o[i].hi;
		} else {
			o[k++] = o[i];
		}
	}
	*out_r = o;
	*n_r = k;
	return 0;
}

struct picked {
	uint32_t uid;
	st_msg_rec_t rec;
};

/* Collect the messages of MBOX in the ranges (only \Deleted ones when
 * DELETED_ONLY). *OUT_R is malloc'd (NULL if none). */
static int collect(st_store_t *s, MDB_txn *txn, uint64_t mbox, const st_uid_range_t *uids,
		   unsigned n_uids, bool deleted_only, struct picked **out_r, size_t *n_r)
{
	st_uid_range_t *rg = NULL;
	unsigned nr = 0;
	struct picked *out = NULL, *tmp;
	size_t n = 0, cap = 0;
	MDB_cursor *cur = NULL;
	uint8_t kb[12];
	MDB_val k, v;
	int rc;

	*out_r = NULL;
	*n_r = 0;
	rc = ranges_norm(uids, n_uids, &rg, &nr);
	if (rc < 0)
		return rc;
	rc = mdb_cursor_open(txn, s->dbi[ST_DB_MSG], &cur);
	if (rc != 0) {
		free(rg);
		return st_lmdb_err(rc);
	}
	for (unsigned i = 0; i < nr; i++) {
		msg_key(kb, mbox, rg[i].lo);
		k = st_val(kb, 12);
		for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
		     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
			uint32_t uid;

			if (k.mv_size != 12 || st_be64_get(k.mv_data) != mbox)
				break;
			uid = st_be32_get((const uint8_t *)k.mv_data + 8);
			if (uid > rg[i].hi)
				break;
			if (v.mv_size != sizeof(st_msg_rec_t)) {
				rc = SL_ECORRUPT;
				goto out;
			}
			if (n == cap) {
				cap = cap ? cap * 2 : 64;
				tmp = realloc(out, cap * sizeof(*out));
				if (tmp == NULL) {
					rc = SL_ENOMEM;
					goto out;
				}
				out = tmp;
			}
			out[n].uid = uid;
			memcpy(&out[n].rec, v.mv_data, sizeof(st_msg_rec_t));
			if (!deleted_only || (out[n].rec.flags & ST_FLAG_DELETED))
				n++;
		}
		if (rc != 0 && rc != MDB_NOTFOUND) {
			rc = st_lmdb_err(rc);
			goto out;
		}
	}
	rc = 0;
out:
	mdb_cursor_close(cur);
	free(rg);
	if (rc < 0) {
		free(out);
		return rc;
	}
	*out_r = out;
	*n_r = n;
	return 0;
}

/* --- deliver ----------------------------------------------------------- */

/* Deliver to one target. Per-target refusals (SL_ENOENT, SL_ESTATE,
 * SL_ELIMIT, SL_EINVAL) are decided before anything is written. */
static int deliver_one(st_store_t *s, MDB_txn *txn, st_req_t *r, const st_deliver_target_t *t,
		       st_target_result_t *tr)
{
	const st_deliver_t *d = &r->deliver;
	char name[ST_STR_CAP];
	const char *dummy;
	st_mbox_t m;
	st_msg_rec_t rec;
	uint64_t id, kw = 0;
	uint32_t uid;
	int rc;

	rc = st_user_exists(s, txn, t->user_id);
	if (rc < 0)
		return rc;
	rc = st_mailbox_canon(t->mailbox != NULL ? t->mailbox : "INBOX", name, &dummy);
	if (rc < 0)
		return rc;
	rc = st_mbox_lookup(s, txn, t->user_id, name, &id);
	if (rc == 0)
		rc = st_mbox_load(s, txn, id, &m);
	if (rc < 0)
		return rc;
	if (m.r.attrs & ST_MBOX_NOSELECT)
		return SL_ESTATE;
	if (d->n_keywords > 0) {
		rc = st_mbox_kw_bits(&m, d->keywords, d->n_keywords, &kw);
		if (rc < 0)
			return rc;
	}
	memset(&rec, 0, sizeof(rec));
	rec.internaldate = d->internaldate;
	rec.tz_min = d->tz_min;
	rec.size = r->bytes;
	rec.flags = d->flags & ST_FLAG__ALL;
	rec.keywords = kw;
	memcpy(rec.blob, r->hash.b, ST_BLOB_ID_LEN);
	if (m.r.uidnext == UINT32_MAX)
		return SL_ELIMIT;
	rc = msg_add(s, txn, &m, &rec, &uid);
	if (rc == 0)
		rc = st_mbox_store(s, txn, &m);
	if (rc < 0)
		return rc == SL_ELIMIT ? SL_ECORRUPT : rc;
	tr->mailbox_id = m.id;
	tr->uidvalidity = m.r.uidvalidity;
	tr->uid = uid;
	return 0;
}

static int op_deliver(st_store_t *s, MDB_txn *txn, st_req_t *r)
{
	const st_deliver_t *d = &r->deliver;
	uint64_t refs = 0;
	int rc;

	if (d->body.ptr == NULL) {
		/* Delivery of a stored blob (quarantine release, bounce). */
		st_blob_rec_t b;
		rc = blob_get(s, txn, r->hash.b, &b);
		if (rc < 0)
			return rc == SL_ENOENT ? fail(r, rc, "no such blob") : rc;
		r->bytes = b.size;
	}
	for (unsigned i = 0; i < d->n_targets; i++) {
		st_target_result_t scratch, *tr = d->results != NULL ? &d->results[i] : &scratch;

		memset(tr, 0, sizeof(*tr));
		rc = deliver_one(s, txn, r, &d->targets[i], tr);
		if (rc == SL_ENOENT || rc == SL_ESTATE || rc == SL_ELIMIT || rc == SL_EINVAL) {
			tr->err = rc;
			continue;
		}
		if (rc < 0)
			return rc;
		refs++;
		r->res.u.deliver.n_ok++;
	}
	if (d->n_relay_rcpts > 0) {
		rc = st_queue_add_rec(s, txn, r, &r->res.u.deliver.queue_id);
		if (rc < 0)
			return rc;
		refs++;
	}
	if (d->quarantine != NULL) {
		rc = st_quar_add_rec(s, txn, r, &r->res.u.deliver.quarantine_id);
		if (rc < 0)
			return rc;
		refs++;
	}
	if (refs == 0)
		return fail(r, SL_ENOENT, "no recipient could take the message");
	if (d->body.ptr == NULL) {
		rc = st_blob_ref(s, txn, r->hash.b, refs);
		return rc == SL_ENOENT ? fail(r, rc, "no such blob") : rc;
	}
	return st_blob_put(s, txn, r->hash.b, d->body, refs);
}

/* --- flags ------------------------------------------------------------- */

static int op_flags(st_store_t *s, MDB_txn *txn, st_req_t *r)
{
	const st_flags_req_t *f = &r->flags;
	st_uid_range_t *rg = NULL;
	unsigned nr = 0;
	MDB_cursor *cur = NULL;
	uint64_t kw = 0;
	bool dirty = false;
	uint8_t kb[12];
	st_mbox_t m;
	MDB_val k, v;
	int rc;

	rc = st_mbox_load(s, txn, f->mailbox_id, &m);
	if (rc < 0)
		return rc == SL_ENOENT ? fail(r, rc, "no such mailbox") : rc;
	if (f->n_keywords > 0) {
		uint8_t before = m.r.n_keywords;
		if (f->mode == ST_FLAGS_REMOVE) {
			/* Removing an unknown keyword must not grow the table. */
			for (unsigned i = 0; i < f->n_keywords; i++) {
				uint64_t bit;
				st_mbox_t probe = m;
				rc = st_mbox_kw_bits(&probe, &f->keywords[i], 1, &bit);
				if (rc == SL_EINVAL)
					return fail(r, rc, "bad keyword");
				if (rc == 0 && probe.r.n_keywords == m.r.n_keywords)
					kw |= bit;
			}
		} else {
			rc = st_mbox_kw_bits(&m, f->keywords, f->n_keywords, &kw);
			if (rc < 0)
				return fail(r, rc, rc == SL_ELIMIT ? "keyword table full"
								   : "bad keyword");
			dirty = m.r.n_keywords != before;
		}
	}
	rc = ranges_norm(f->uids, f->n_uids, &rg, &nr);
	if (rc < 0)
		return fail(r, rc, "bad uid range");
	rc = mdb_cursor_open(txn, s->dbi[ST_DB_MSG], &cur);
	if (rc != 0) {
		rc = st_lmdb_err(rc);
		goto out;
	}
	for (unsigned i = 0; i < nr; i++) {
		msg_key(kb, m.id, rg[i].lo);
		k = st_val(kb, 12);
		for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
		     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
			st_msg_rec_t rec;
			uint32_t uid, nf;
			uint64_t nk;

			if (k.mv_size != 12 || st_be64_get(k.mv_data) != m.id)
				break;
			uid = st_be32_get((const uint8_t *)k.mv_data + 8);
			if (uid > rg[i].hi)
				break;
			if (v.mv_size != sizeof(rec)) {
				rc = SL_ECORRUPT;
				goto out;
			}
			memcpy(&rec, v.mv_data, sizeof(rec));
			if (f->unchangedsince != 0 && rec.modseq > f->unchangedsince) {
				r->res.u.flags.skipped++;
				continue;
			}
			switch (f->mode) {
			case ST_FLAGS_ADD:
				nf = rec.flags | f->flags, nk = rec.keywords | kw;
				break;
			case ST_FLAGS_REMOVE:
				nf = rec.flags & ~f->flags, nk = rec.keywords & ~kw;
				break;
			default:
				nf = f->flags, nk = kw;
				break;
			}
			nf &= ST_FLAG__ALL;
			if (nf == rec.flags && nk == rec.keywords)
				continue;
			if ((rec.flags & ST_FLAG_SEEN) && !(nf & ST_FLAG_SEEN))
				m.r.unseen++;
			else if (!(rec.flags & ST_FLAG_SEEN) && (nf & ST_FLAG_SEEN))
				m.r.unseen--;
			rc = seq_del(s, txn, m.id, rec.modseq, uid);
			if (rc < 0)
				goto out;
			rec.flags = nf;
			rec.keywords = nk;
			rec.modseq = ++m.r.highestmodseq;
			rc = seq_put(s, txn, ST_DB_MODSEQ, m.id, rec.modseq, uid);
			if (rc < 0)
				goto out;
			v = st_val(&rec, sizeof(rec));
			rc = mdb_cursor_put(cur, &k, &v, MDB_CURRENT);
			if (rc != 0) {
				rc = st_lmdb_err(rc);
				goto out;
			}
			r->res.u.flags.changed++;
			dirty = true;
		}
		if (rc != 0 && rc != MDB_NOTFOUND) {
			rc = st_lmdb_err(rc);
			goto out;
		}
	}
	rc = dirty ? st_mbox_store(s, txn, &m) : 0;
	r->res.u.flags.highestmodseq = m.r.highestmodseq;
out:
	if (cur != NULL)
		mdb_cursor_close(cur);
	free(rg);
	return rc;
}

/* --- copy, move, expunge ----------------------------------------------- */

static int op_copy(st_store_t *s, MDB_txn *txn, st_req_t *r, bool move)
{
	st_mbox_t md, msrc, *ms = &md;
	struct picked *p = NULL;
	size_t n = 0;
	int rc;

	rc = st_mbox_load(s, txn, r->id2, &md);
	if (rc < 0)
		return rc == SL_ENOENT ? fail(r, rc, "no such destination mailbox") : rc;
	if (md.r.attrs & ST_MBOX_NOSELECT)
		return fail(r, SL_ESTATE, "destination mailbox is \\Noselect");
	if (r->id1 != r->id2) {
		ms = &msrc;
		rc = st_mbox_load(s, txn, r->id1, ms);
		if (rc < 0)
			return rc == SL_ENOENT ? fail(r, rc, "no such source mailbox") : rc;
	}
	rc = collect(s, txn, ms->id, r->uids, r->n_uids, false, &p, &n);
	if (rc < 0)
		return rc == SL_EINVAL ? fail(r, rc, "bad uid range") : rc;
	r->res.u.copy.uidvalidity = md.r.uidvalidity;
	r->res.u.copy.first_uid = md.r.uidnext;
	for (size_t i = 0; i < n; i++) {
		const char *names[ST_KEYWORDS_MAX];
		unsigned nn = 0;
		st_msg_rec_t rec = p[i].rec;
		uint32_t uid;

		for (unsigned b = 0; b < ms->r.n_keywords; b++)
			if (rec.keywords & (1ull << b))
				names[nn++] = ms->kw[b];
		if (ms != &md) {
			rc = st_mbox_kw_bits(&md, names, nn, &rec.keywords);
			if (rc < 0) {
				fail(r, rc, "destination keyword table full");
				goto out;
			}
		}
		rc = msg_add(s, txn, &md, &rec, &uid);
		if (rc == 0)
			rc = st_blob_ref(s, txn, rec.blob, 1);
		if (rc < 0) {
			if (rc == SL_ELIMIT)
				fail(r, rc, "destination UID space exhausted");
			goto out;
		}
		if (r->out_uids != NULL && i < r->out_cap)
			r->out_uids[i] = p[i].uid;
	}
	if (move) {
		for (size_t i = 0; i < n; i++) {
			rc = msg_expunge(s, txn, ms, p[i].uid, &p[i].rec);
			if (rc < 0)
				goto out;
		}
		if (n > 0) {
			rc = st_vanished_prune(s, txn, ms, (uint32_t)n);
			if (rc < 0)
				goto out;
		}
		if (ms != &md) {
			rc = st_mbox_store(s, txn, ms);
			if (rc < 0)
				goto out;
		}
	}
	rc = st_mbox_store(s, txn, &md);
	r->res.u.copy.count = (uint32_t)n;
	r->res.u.copy.highestmodseq = md.r.highestmodseq;
out:
	free(p);
	return rc;
}

static int op_expunge(st_store_t *s, MDB_txn *txn, st_req_t *r)
{
	struct picked *p = NULL;
	size_t n = 0;
	st_mbox_t m;
	int rc;

	rc = st_mbox_load(s, txn, r->id1, &m);
	if (rc < 0)
		return rc == SL_ENOENT ? fail(r, rc, "no such mailbox") : rc;
	rc = collect(s, txn, m.id, r->uids, r->n_uids, r->flag, &p, &n);
	if (rc < 0)
		return rc == SL_EINVAL ? fail(r, rc, "bad uid range") : rc;
	for (size_t i = 0; i < n; i++) {
		rc = msg_expunge(s, txn, &m, p[i].uid, &p[i].rec);
		if (rc < 0)
			goto out;
		if (r->out_uids != NULL && i < r->out_cap)
			r->out_uids[i] = p[i].uid;
	}
	if (n > 0) {
		rc = st_vanished_prune(s, txn, &m, (uint32_t)n);
		if (rc == 0)
			rc = st_mbox_store(s, txn, &m);
	}
	r->res.u.expunge.count = (uint32_t)n;
	r->res.u.expunge.highestmodseq = m.r.highestmodseq;
out:
	free(p);
	return rc;
}

static int op_struct_set(st_store_t *s, MDB_txn *txn, st_req_t *r)
{
	st_blob_rec_t b;
	MDB_val k = st_val(r->hash.b, ST_BLOB_ID_LEN), v = st_val(r->data.ptr, r->data.len);
	int rc = blob_get(s, txn, r->hash.b, &b);

	if (rc < 0)
		return rc == SL_ENOENT ? fail(r, rc, "no such blob") : rc;
	return st_lmdb_err(mdb_put(txn, s->dbi[ST_DB_BSTRUCT], &k, &v, 0));
}

int st_apply_msg(st_store_t *s, MDB_txn *txn, st_req_t *r)
{
	switch (r->op) {
	case ST_OP_DELIVER:
		return op_deliver(s, txn, r);
	case ST_OP_FLAGS:
		return op_flags(s, txn, r);
	case ST_OP_COPY:
		return op_copy(s, txn, r, false);
	case ST_OP_MOVE:
		return op_copy(s, txn, r, true);
	case ST_OP_EXPUNGE:
		return op_expunge(s, txn, r);
	case ST_OP_STRUCT_SET:
		return op_struct_set(s, txn, r);
	default:
		return SL_EINVAL;
	}
}
