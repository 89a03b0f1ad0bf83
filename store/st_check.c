/* st_check - the consistency check: every cross-reference between key
 * spaces, verified in one snapshot. Used by the crash test after each kill
 * and meant for `sluicectl store check`. Linear in the store size. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "st_private.h"

struct chk {
	st_reader_t *rd;
	MDB_txn *txn;
	st_check_report_t *rep;
	uint8_t (*refs)[ST_BLOB_ID_LEN]; /* every blob reference seen */
	size_t n_refs, cap_refs;
};

__attribute__((format(printf, 2, 3))) static void problem(struct chk *c, const char *fmt, ...)
{
	va_list ap;

	if (c->rep->problems++ == 0) {
		va_start(ap, fmt);
		vsnprintf(c->rep->first_problem, sizeof(c->rep->first_problem), fmt, ap);
		va_end(ap);
	}
}

static int add_ref(struct chk *c, const uint8_t *hash)
{
	if (c->n_refs == c->cap_refs) {
		size_t cap = c->cap_refs ? c->cap_refs * 2 : 1024;
		void *p = realloc(c->refs, cap * ST_BLOB_ID_LEN);
		if (p == NULL)
			return SL_ENOMEM;
		c->refs = p;
		c->cap_refs = cap;
	}
	memcpy(c->refs[c->n_refs++], hash, ST_BLOB_ID_LEN);
	return 0;
}

static int ref_cmp(const void *a, const void *b)
{
	return memcmp(a, b, ST_BLOB_ID_LEN);
}

#define DBI(c, db) ((c)->rd->s->dbi[db])

static bool exists(struct chk *c, enum st_db db, const void *key, size_t n, MDB_val *v_r)
{
	MDB_val k = st_val(key, n), v;

	if (mdb_get(c->txn, DBI(c, db), &k, &v) != 0)
		return false;
	if (v_r != NULL)
		*v_r = v;
	return true;
}

/* Iterate all of DB, calling FN on each entry. */
static int walk(struct chk *c, enum st_db db, int (*fn)(struct chk *c, MDB_val *k, MDB_val *v))
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc, crc;

	rc = mdb_cursor_open(c->txn, DBI(c, db), &cur);
	if (rc != 0)
		return st_lmdb_err(rc);
	rc = 0;
	for (crc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); crc == 0 && rc == 0;
	     crc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
		rc = fn(c, &k, &v);
	mdb_cursor_close(cur);
	if (rc == 0 && crc != 0 && crc != MDB_NOTFOUND)
		rc = st_lmdb_err(crc);
	return rc;
}

static int chk_user(struct chk *c, MDB_val *k, MDB_val *v)
{
	st_user_rec_t rec;
	uint8_t idk[8];
	MDB_val iv;
	const char *at = memrchr(k->mv_data, '@', k->mv_size);

	c->rep->users++;
	if (v->mv_size < sizeof(rec)) {
		problem(c, "user record too short");
		return 0;
	}
	memcpy(&rec, v->mv_data, sizeof(rec));
	if (v->mv_size != sizeof(rec) + rec.hash_len)
		problem(c, "user %llu: bad hash length", (unsigned long long)rec.id);
	st_be64_put(idk, rec.id);
	if (!exists(c, ST_DB_USERID, idk, 8, &iv) || iv.mv_size != k->mv_size ||
	    memcmp(iv.mv_data, k->mv_data, k->mv_size) != 0)
		problem(c, "user %llu: id index mismatch", (unsigned long long)rec.id);
	if (at == NULL ||
	    !exists(c, ST_DB_DOMAIN, at + 1, k->mv_size - (size_t)(at + 1 - (char *)k->mv_data),
		    NULL))
		problem(c, "user %llu: domain missing", (unsigned long long)rec.id);
	return 0;
}

static int chk_userid(struct chk *c, MDB_val *k, MDB_val *v)
{
	(void)k;
	if (!exists(c, ST_DB_USER, v->mv_data, v->mv_size, NULL))
		problem(c, "user id index points to a missing user");
	return 0;
}

static int chk_mbname(struct chk *c, MDB_val *k, MDB_val *v)
{
	st_mbox_t m;
	MDB_val mv;

	if (k->mv_size <= 8 || v->mv_size != 8) {
		problem(c, "bad mailbox name key");
		return 0;
	}
	if (!exists(c, ST_DB_USERID, k->mv_data, 8, NULL))
		problem(c, "mailbox name of a missing user");
	if (!exists(c, ST_DB_MBOX, v->mv_data, 8, &mv) ||
	    st_mbox_decode(st_be64_get(v->mv_data), mv, &m) < 0) {
		problem(c, "mailbox name points to a missing or bad record");
		return 0;
	}
	if (m.r.user_id != st_be64_get(k->mv_data) || strlen(m.name) != k->mv_size - 8 ||
	    memcmp(m.name, (const uint8_t *)k->mv_data + 8, k->mv_size - 8) != 0)
		problem(c, "mailbox %llu: name index mismatch", (unsigned long long)m.id);
	return 0;
}

static int chk_mbox(struct chk *c, MDB_val *k, MDB_val *v)
{
	uint64_t id = st_be64_get(k->mv_data), size = 0, idx_n = 0;
	uint32_t count = 0, unseen = 0;
	uint8_t kb[8 + ST_STR_CAP], pre[8];
	MDB_cursor *cur;
	MDB_val mk, mv, nv;
	st_mbox_t m;
	int rc;

	c->rep->mailboxes++;
	if (k->mv_size != 8 || st_mbox_decode(id, *v, &m) < 0) {
		problem(c, "bad mailbox record");
		return 0;
	}
	st_be64_put(kb, m.r.user_id);
	memcpy(kb + 8, m.name, strlen(m.name));
	if (!exists(c, ST_DB_MBNAME, kb, 8 + strlen(m.name), &nv) || nv.mv_size != 8 ||
	    st_be64_get(nv.mv_data) != id)
		problem(c, "mailbox %llu: not in the name index", (unsigned long long)id);
	if (m.r.uidvalidity == 0 || m.r.uidnext == 0)
		problem(c, "mailbox %llu: zero UIDVALIDITY or UIDNEXT", (unsigned long long)id);

	st_be64_put(pre, id);
	rc = mdb_cursor_open(c->txn, DBI(c, ST_DB_MSG), &cur);
	if (rc != 0)
		return st_lmdb_err(rc);
	mk = st_val(pre, 8);
	for (rc = mdb_cursor_get(cur, &mk, &mv, MDB_SET_RANGE); rc == 0;
	     rc = mdb_cursor_get(cur, &mk, &mv, MDB_NEXT)) {
		st_msg_rec_t rec;
		uint8_t sk[20];
		uint32_t uid;

		if (mk.mv_size != 12 || memcmp(mk.mv_data, pre, 8) != 0)
			break;
		uid = st_be32_get((const uint8_t *)mk.mv_data + 8);
		c->rep->messages++;
		if (mv.mv_size != sizeof(rec)) {
			problem(c, "mailbox %llu uid %u: bad record", (unsigned long long)id, uid);
			continue;
		}
		memcpy(&rec, mv.mv_data, sizeof(rec));
		count++;
		size += rec.size;
		unseen += !(rec.flags & ST_FLAG_SEEN);
		if (uid == 0 || uid >= m.r.uidnext)
			problem(c, "mailbox %llu: uid %u not below UIDNEXT %u",
				(unsigned long long)id, uid, m.r.uidnext);
		if (rec.modseq == 0 || rec.modseq > m.r.highestmodseq)
			problem(c, "mailbox %llu uid %u: MODSEQ above HIGHESTMODSEQ",
				(unsigned long long)id, uid);
		if (m.r.n_keywords < 64 && (rec.keywords >> m.r.n_keywords) != 0)
			problem(c, "mailbox %llu uid %u: keyword outside the table",
				(unsigned long long)id, uid);
		memcpy(sk, pre, 8);
		st_be64_put(sk + 8, rec.modseq);
		st_be32_put(sk + 16, uid);
		if (!exists(c, ST_DB_MODSEQ, sk, 20, NULL))
			problem(c, "mailbox %llu uid %u: missing from the MODSEQ index",
				(unsigned long long)id, uid);
		rc = add_ref(c, rec.blob);
		if (rc < 0)
			break;
	}
	mdb_cursor_close(cur);
	if (rc < 0 && rc != MDB_NOTFOUND)
		return rc == SL_ENOMEM ? rc : st_lmdb_err(rc);
	if (count != m.r.count || unseen != m.r.unseen || size != m.r.size)
		problem(c, "mailbox %llu: counters %u/%u/%llu, rows %u/%u/%llu",
			(unsigned long long)id, m.r.count, m.r.unseen,
			(unsigned long long)m.r.size, count, unseen, (unsigned long long)size);

	/* The MODSEQ index has one entry per message, and nothing above
	 * HIGHESTMODSEQ; so does the expunge history. */
	for (int db = ST_DB_MODSEQ; db <= ST_DB_VANISHED; db++) {
		idx_n = 0;
		rc = mdb_cursor_open(c->txn, DBI(c, db), &cur);
		if (rc != 0)
			return st_lmdb_err(rc);
		mk = st_val(pre, 8);
		for (rc = mdb_cursor_get(cur, &mk, &mv, MDB_SET_RANGE); rc == 0;
		     rc = mdb_cursor_get(cur, &mk, &mv, MDB_NEXT)) {
			if (mk.mv_size != 20 || memcmp(mk.mv_data, pre, 8) != 0)
				break;
			idx_n++;
			if (st_be64_get((const uint8_t *)mk.mv_data + 8) > m.r.highestmodseq)
				problem(c, "mailbox %llu: %s entry above HIGHESTMODSEQ",
					(unsigned long long)id, db == ST_DB_MODSEQ ? "MODSEQ"
										   : "expunge");
			if (db == ST_DB_VANISHED &&
			    st_be64_get((const uint8_t *)mk.mv_data + 8) <= m.x.vanished_floor)
				problem(c, "mailbox %llu: expunge entry at or below the "
					   "vanished floor %llu",
					(unsigned long long)id,
					(unsigned long long)m.x.vanished_floor);
		}
		mdb_cursor_close(cur);
		if (rc != 0 && rc != MDB_NOTFOUND)
			return st_lmdb_err(rc);
		if (db == ST_DB_MODSEQ && idx_n != count)
			problem(c, "mailbox %llu: %llu MODSEQ entries for %u messages",
				(unsigned long long)id, (unsigned long long)idx_n, count);
		/* A record from before the history was bounded has no count
		 * yet (the next expunge counts it). */
		if (db == ST_DB_VANISHED && !(m.x.flags & ST_MBOX_EXT_UNCOUNTED) &&
		    idx_n != m.x.vanished_count)
			problem(c, "mailbox %llu: %llu expunge entries, the record says %u",
				(unsigned long long)id, (unsigned long long)idx_n,
				m.x.vanished_count);
	}
	if (m.x.vanished_floor > m.r.highestmodseq)
		problem(c, "mailbox %llu: vanished floor %llu above HIGHESTMODSEQ %llu",
			(unsigned long long)id, (unsigned long long)m.x.vanished_floor,
			(unsigned long long)m.r.highestmodseq);
	return 0;
}

/* Rows whose mailbox is gone (a missed purge). */
static int chk_orphan_rows(struct chk *c, MDB_val *k, MDB_val *v)
{
	(void)v;
	if (k->mv_size < 8 || !exists(c, ST_DB_MBOX, k->mv_data, 8, NULL))
		problem(c, "message or index row of a missing mailbox");
	return 0;
}

static int chk_queue(struct chk *c, MDB_val *k, MDB_val *v)
{
	st_queue_rec_t h;
	const char *sender;
	uint8_t dk[16];
	int rc;

	c->rep->queue++;
	rc = st_queue_decode(*v, &h, &sender, c->rd->qrcpts);
	if (rc < 0 || k->mv_size != 8) {
		problem(c, "bad queue record");
		return 0;
	}
	st_qdue_key(dk, h.next_attempt, st_be64_get(k->mv_data));
	if (!exists(c, ST_DB_QDUE, dk, 16, NULL))
		problem(c, "queue entry %llu: missing from the due index",
			(unsigned long long)st_be64_get(k->mv_data));
	return add_ref(c, h.blob);
}

static int chk_qdue(struct chk *c, MDB_val *k, MDB_val *v)
{
	MDB_val qv;
	st_queue_rec_t h;

	(void)v;
	if (k->mv_size != 16 ||
	    !exists(c, ST_DB_QUEUE, (const uint8_t *)k->mv_data + 8, 8, &qv) ||
	    qv.mv_size < sizeof(h)) {
		problem(c, "due index entry without a queue entry");
		return 0;
	}
	memcpy(&h, qv.mv_data, sizeof(h));
	if (((uint64_t)h.next_attempt ^ (1ull << 63)) != st_be64_get(k->mv_data))
		problem(c, "due index time differs from the queue entry");
	return 0;
}

static int chk_quar(struct chk *c, MDB_val *k, MDB_val *v)
{
	st_quar_rec_t h;
	const char *verdict, *sender;

	(void)k;
	c->rep->quarantine++;
	if (st_quar_decode(*v, &h, &verdict, &sender, c->rd->strs) < 0) {
		problem(c, "bad quarantine record");
		return 0;
	}
	return add_ref(c, h.blob);
}

struct bl {
	uint64_t no, size;
	uint32_t n_chunks, chunk_size;
};

static int bl_cmp(const void *a, const void *b)
{
	const struct bl *x = a, *y = b;

	return x->no < y->no ? -1 : x->no > y->no;
}

/* Chunks are keyed by blob number: check each against its blob. */
static int chk_chunks(struct chk *c, struct bl *bls, size_t n)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	if (n > 0)
		qsort(bls, n, sizeof(*bls), bl_cmp);
	rc = mdb_cursor_open(c->txn, DBI(c, ST_DB_CHUNK), &cur);
	if (rc != 0)
		return st_lmdb_err(rc);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		struct bl key, *b;
		st_chunk_layout_t lay;
		uint64_t coff, clen;
		uint32_t idx;

		c->rep->chunks++;
		if (k.mv_size != 12) {
			problem(c, "bad chunk key");
			continue;
		}
		key.no = st_be64_get(k.mv_data);
		idx = st_be32_get((const uint8_t *)k.mv_data + 8);
		b = n > 0 ? bsearch(&key, bls, n, sizeof(*bls), bl_cmp) : NULL;
		if (b == NULL)
			problem(c, "chunk of a missing blob");
		else if (st_chunk_layout(b->size, b->chunk_size, b->n_chunks, &lay) < 0)
			problem(c, "chunk of a blob with a bad chunk count");
		else if (!st_chunk_span(&lay, b->chunk_size, idx, &coff, &clen))
			problem(c, "chunk index beyond the blob");
		else if (v.mv_size != clen)
			problem(c, "chunk of the wrong size");
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : st_lmdb_err(rc);
}

static int chk_bstruct(struct chk *c, MDB_val *k, MDB_val *v)
{
	(void)v;
	if (!exists(c, ST_DB_BLOB, k->mv_data, k->mv_size, NULL))
		problem(c, "cached structure of a missing blob");
	return 0;
}

static int check_all(st_reader_t *rd, void *ctx)
{
	struct chk *c = ctx;
	MDB_cursor *cur;
	MDB_val k, v;
	uint64_t chunks_expected = 0;
	struct bl *bls = NULL, *tmp;
	size_t i = 0, n_bl = 0, cap_bl = 0;
	int rc;

	c->txn = rd->txn;
	if ((rc = walk(c, ST_DB_USER, chk_user)) < 0 || (rc = walk(c, ST_DB_USERID, chk_userid)) < 0 ||
	    (rc = walk(c, ST_DB_MBNAME, chk_mbname)) < 0 || (rc = walk(c, ST_DB_MBOX, chk_mbox)) < 0 ||
	    (rc = walk(c, ST_DB_MSG, chk_orphan_rows)) < 0 ||
	    (rc = walk(c, ST_DB_MODSEQ, chk_orphan_rows)) < 0 ||
	    (rc = walk(c, ST_DB_VANISHED, chk_orphan_rows)) < 0 ||
	    (rc = walk(c, ST_DB_QUEUE, chk_queue)) < 0 || (rc = walk(c, ST_DB_QDUE, chk_qdue)) < 0 ||
	    (rc = walk(c, ST_DB_QUAR, chk_quar)) < 0 ||
	    (rc = walk(c, ST_DB_BSTRUCT, chk_bstruct)) < 0)
		return rc;

	/* Reference counts: merge the sorted references with the blobs. */
	if (c->n_refs > 0)
		qsort(c->refs, c->n_refs, ST_BLOB_ID_LEN, ref_cmp);
	rc = mdb_cursor_open(c->txn, DBI(c, ST_DB_BLOB), &cur);
	if (rc != 0)
		return st_lmdb_err(rc);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		st_blob_rec_t b;
		uint64_t n = 0;

		c->rep->blobs++;
		if (k.mv_size != ST_BLOB_ID_LEN || v.mv_size != sizeof(b)) {
			problem(c, "bad blob record");
			continue;
		}
		memcpy(&b, v.mv_data, sizeof(b));
		chunks_expected += b.n_chunks;
		if (n_bl == cap_bl) {
			cap_bl = cap_bl ? cap_bl * 2 : 256;
			tmp = realloc(bls, cap_bl * sizeof(*bls));
			if (tmp == NULL) {
				rc = SL_ENOMEM;
				break;
			}
			bls = tmp;
		}
		bls[n_bl++] = (struct bl){b.no, b.size, b.n_chunks, b.chunk_size};
		while (i < c->n_refs && memcmp(c->refs[i], k.mv_data, ST_BLOB_ID_LEN) < 0) {
			problem(c, "reference to a missing blob");
			i++;
		}
		while (i < c->n_refs && memcmp(c->refs[i], k.mv_data, ST_BLOB_ID_LEN) == 0)
			n++, i++;
		if (n != b.refcount)
			problem(c, "blob refcount %llu, references %llu",
				(unsigned long long)b.refcount, (unsigned long long)n);
		{
			st_chunk_layout_t lay;

			if (st_chunk_layout(b.size, b.chunk_size, b.n_chunks, &lay) < 0)
				problem(c, "blob chunk count does not match its size");
		}
	}
	mdb_cursor_close(cur);
	if (rc != MDB_NOTFOUND) {
		free(bls);
		return rc == SL_ENOMEM ? rc : st_lmdb_err(rc);
	}
	if (i < c->n_refs)
		problem(c, "reference to a missing blob");
	rc = chk_chunks(c, bls, n_bl);
	free(bls);
	if (rc < 0)
		return rc;
	if (chunks_expected != c->rep->chunks)
		problem(c, "%llu chunks stored, %llu expected", (unsigned long long)c->rep->chunks,
			(unsigned long long)chunks_expected);
	return 0;
}

int st_store_check(st_reader_t *rd, st_check_report_t *report_r)
{
	struct chk c = {.rd = rd, .rep = report_r};
	int rc;

	memset(report_r, 0, sizeof(*report_r));
	rc = st_read(rd, check_all, &c);
	free(c.refs);
	if (rc < 0)
		return rc;
	return report_r->problems > 0 ? SL_ECORRUPT : 0;
}
