/* st_read - read handles, the resize gate, and every read operation.
 *
 * A read opens an MDB_NOTLS snapshot (a renewed, reset transaction: no
 * allocation) and closes it before returning; data reaches the caller as
 * copies, or as pointers that are valid only inside a callback. So no
 * caller can keep a snapshot across event-loop turns, and old pages are
 * never pinned for long. */
#include <argon2.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>

#include "st_private.h"

/* --- the resize gate --------------------------------------------------- */

/* Readers announce themselves per handle (no shared counter to bounce
 * between lcores). Dekker-style: a reader sets ACTIVE then checks
 * RESIZING; the writer sets RESIZING then waits for every ACTIVE to clear.
 * Both use seq_cst, so one of them always sees the other. */
static void gate_enter(st_reader_t *rd)
{
	st_store_t *s = rd->s;

	for (;;) {
		while (atomic_load(&s->resizing))
			sched_yield();
		atomic_store(&rd->active, 1);
		if (!atomic_load(&s->resizing))
			return;
		atomic_store(&rd->active, 0);
	}
}

static void gate_exit(st_reader_t *rd)
{
	atomic_store(&rd->active, 0);
}

void st_gate_close(st_store_t *s)
{
	atomic_store(&s->resizing, 1);
	pthread_mutex_lock(&s->readers_lock);
	for (st_reader_t *rd = s->readers; rd != NULL; rd = rd->next)
		while (atomic_load(&rd->active))
			sched_yield();
}

void st_gate_open(st_store_t *s)
{
	pthread_mutex_unlock(&s->readers_lock);
	atomic_store(&s->resizing, 0);
}

/* --- handles ----------------------------------------------------------- */

int st_reader_create(st_store_t *s, st_reader_t **rd_r)
{
	st_reader_t *rd = calloc(1, sizeof(*rd));

	*rd_r = NULL;
	if (rd == NULL)
		return SL_ENOMEM;
	rd->s = s;
	rd->qrcpts = calloc(ST_RCPT_MAX, sizeof(*rd->qrcpts));
	rd->strs = calloc(ST_RCPT_MAX, sizeof(*rd->strs));
	if (rd->qrcpts == NULL || rd->strs == NULL) {
		free(rd->qrcpts);
		free(rd->strs);
		free(rd);
		return SL_ENOMEM;
	}
	pthread_mutex_lock(&s->readers_lock);
	rd->next = s->readers;
	s->readers = rd;
	pthread_mutex_unlock(&s->readers_lock);
	*rd_r = rd;
	return 0;
}

void st_reader_destroy(st_reader_t **rdp)
{
	st_reader_t *rd = rdp != NULL ? *rdp : NULL;
	st_store_t *s;

	if (rd == NULL)
		return;
	*rdp = NULL;
	s = rd->s;
	pthread_mutex_lock(&s->readers_lock);
	for (st_reader_t **pp = &s->readers; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == rd) {
			*pp = rd->next;
			break;
		}
	}
	pthread_mutex_unlock(&s->readers_lock);
	if (rd->txn != NULL)
		mdb_txn_abort(rd->txn);
	free(rd->qrcpts);
	free(rd->strs);
	free(rd->visit);
	free(rd);
}

int st_reader_begin(st_reader_t *rd, MDB_txn **txn_r)
{
	int rc;

	if (rd->depth > 0) {
		if (txn_r != NULL) {
			if (rd->gate_only)
				return SL_ESTATE;
			*txn_r = rd->txn;
		}
		rd->depth++;
		return 0;
	}
	gate_enter(rd);
	if (txn_r == NULL) {
		rd->gate_only = true;
		rd->depth = 1;
		return 0;
	}
	if (rd->txn != NULL) {
		rc = mdb_txn_renew(rd->txn);
		if (rc != 0) {
			mdb_txn_abort(rd->txn);
			rd->txn = NULL;
		}
	}
	if (rd->txn == NULL)
		rc = mdb_txn_begin(rd->s->env, NULL, MDB_RDONLY, &rd->txn);
	if (rc != 0) {
		rd->txn = NULL;
		gate_exit(rd);
		return st_lmdb_err(rc) == ST_RETRY_MAPFULL ? SL_EFULL : st_lmdb_err(rc);
	}
	rd->depth = 1;
	*txn_r = rd->txn;
	return 0;
}

void st_reader_end(st_reader_t *rd)
{
	if (rd->depth == 0 || --rd->depth > 0)
		return;
	if (rd->gate_only)
		rd->gate_only = false;
	else
		mdb_txn_reset(rd->txn);
	gate_exit(rd);
}

int st_read(st_reader_t *rd, int (*fn)(st_reader_t *rd, void *ctx), void *ctx)
{
	MDB_txn *txn;
	int rc = st_reader_begin(rd, &txn);

	if (rc < 0)
		return rc;
	rc = fn(rd, ctx);
	st_reader_end(rd);
	return rc;
}

/* Every public read: open (or join) the snapshot, run BODY, close. */
#define READ_BEGIN(rd, txn)                                \
	MDB_txn *txn;                                      \
	int rc_begin_ = st_reader_begin((rd), &txn);       \
	if (rc_begin_ < 0)                                 \
		return rc_begin_

#define DBI(rd, db) ((rd)->s->dbi[db])

/* The result of a cursor loop: the callback's value RC if it stopped the
 * walk, else the cursor's CRC mapped (running off the end is success). */
static int cursor_done(int rc, int crc)
{
	if (rc != 0)
		return rc;
	return crc == 0 || crc == MDB_NOTFOUND ? 0 : st_lmdb_err(crc);
}

static int cursor(st_reader_t *rd, MDB_txn *txn, enum st_db db, MDB_cursor **cur_r)
{
	return st_lmdb_err(mdb_cursor_open(txn, DBI(rd, db), cur_r));
}

/* Copy a key (not NUL-terminated in the map) into a C string. */
static void key_str(const MDB_val *k, size_t skip, char *out, size_t cap)
{
	size_t n = k->mv_size - skip;

	if (n >= cap)
		n = cap - 1;
	memcpy(out, (const uint8_t *)k->mv_data + skip, n);
	out[n] = '\0';
}

/* --- domains ----------------------------------------------------------- */

int st_domain_exists(st_reader_t *rd, const char *domain)
{
	char d[ST_STR_CAP];
	const char *e;
	MDB_val k, v;
	int rc;

	if (st_domain_canon(domain, d, &e) < 0)
		return SL_EINVAL;
	READ_BEGIN(rd, txn);
	k = st_val(d, strlen(d));
	rc = st_lmdb_err(mdb_get(txn, DBI(rd, ST_DB_DOMAIN), &k, &v));
	st_reader_end(rd);
	return rc;
}

int st_domain_list(st_reader_t *rd, int (*cb)(void *ctx, const char *domain), void *ctx)
{
	char d[ST_STR_CAP];
	MDB_cursor *cur;
	MDB_val k, v;
	int rc = 0, crc = 0;

	READ_BEGIN(rd, txn);
	rc = cursor(rd, txn, ST_DB_DOMAIN, &cur);
	if (rc == 0) {
		for (crc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); crc == 0;
		     crc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
			key_str(&k, 0, d, sizeof(d));
			rc = cb(ctx, d);
			if (rc != 0)
				break;
		}
		rc = cursor_done(rc, crc);
		mdb_cursor_close(cur);
	}
	st_reader_end(rd);
	return rc;
}

/* --- users ------------------------------------------------------------- */

static int user_fill(const MDB_val *k, const MDB_val *v, st_user_info_t *info)
{
	st_user_rec_t rec;

	if (v->mv_size < sizeof(rec) || k->mv_size > ST_ADDR_MAX)
		return SL_ECORRUPT;
	memcpy(&rec, v->mv_data, sizeof(rec));
	info->id = rec.id;
	info->created = rec.created;
	key_str(k, 0, info->address, sizeof(info->address));
	return 0;
}

int st_user_lookup(st_reader_t *rd, const char *address, st_user_info_t *info_r)
{
	char a[ST_STR_CAP];
	const char *e;
	MDB_val k, v;
	int rc;

	if (st_address_canon(address, a, &e) < 0)
		return SL_EINVAL;
	READ_BEGIN(rd, txn);
	k = st_val(a, strlen(a));
	rc = st_lmdb_err(mdb_get(txn, DBI(rd, ST_DB_USER), &k, &v));
	if (rc == 0)
		rc = user_fill(&k, &v, info_r);
	st_reader_end(rd);
	return rc;
}

int st_user_get(st_reader_t *rd, uint64_t id, st_user_info_t *info_r)
{
	uint8_t kb[8];
	MDB_val k = st_val(kb, 8), v;
	int rc;

	st_be64_put(kb, id);
	READ_BEGIN(rd, txn);
	rc = st_lmdb_err(mdb_get(txn, DBI(rd, ST_DB_USERID), &k, &v));
	if (rc == 0) {
		k = v;
		rc = st_lmdb_err(mdb_get(txn, DBI(rd, ST_DB_USER), &k, &v));
		if (rc == SL_ENOENT)
			rc = SL_ECORRUPT;
	}
	if (rc == 0)
		rc = user_fill(&k, &v, info_r);
	st_reader_end(rd);
	return rc;
}

int st_user_list(st_reader_t *rd, const char *domain,
		 int (*cb)(void *ctx, const st_user_info_t *info), void *ctx)
{
	char d[ST_STR_CAP];
	st_user_info_t info;
	MDB_cursor *cur;
	MDB_val k, v;
	size_t dl = 0;
	const char *e;
	int rc = 0, crc = 0;

	if (domain != NULL) {
		if (st_domain_canon(domain, d, &e) < 0)
			return SL_EINVAL;
		dl = strlen(d);
	}
	READ_BEGIN(rd, txn);
	rc = cursor(rd, txn, ST_DB_USER, &cur);
	if (rc == 0) {
		for (crc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); crc == 0;
		     crc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
			const char *p = k.mv_data;
			if (domain != NULL &&
			    (k.mv_size <= dl || p[k.mv_size - dl - 1] != '@' ||
			     memcmp(p + k.mv_size - dl, d, dl) != 0))
				continue;
			rc = user_fill(&k, &v, &info);
			if (rc == 0)
				rc = cb(ctx, &info);
			if (rc != 0)
				break;
		}
		rc = cursor_done(rc, crc);
		mdb_cursor_close(cur);
	}
	st_reader_end(rd);
	return rc;
}

/* The hash checked for unknown users, so that "no such user" and "wrong
 * password" cost the same time (no account enumeration by timing). */
static const char *dummy_hash(st_store_t *s)
{
	if (!atomic_load(&s->dummy_ready)) {
		pthread_mutex_lock(&s->dummy_lock);
		if (!atomic_load(&s->dummy_ready) &&
		    st_password_hash(s, SL_SLICE_LIT("sluice-dummy-password"), s->dummy_hash,
				     sizeof(s->dummy_hash)) == 0)
			atomic_store(&s->dummy_ready, 1);
		pthread_mutex_unlock(&s->dummy_lock);
	}
	return atomic_load(&s->dummy_ready) ? s->dummy_hash : NULL;
}

int st_user_authenticate(st_reader_t *rd, const char *address, sl_slice_t password,
			 uint64_t *id_r)
{
	char a[ST_STR_CAP], hash[ST_PWHASH_MAX];
	st_user_rec_t rec;
	const char *e, *check;
	MDB_val k, v;
	int rc;

	if (password.len > ST_PASSWORD_MAX || (password.len > 0 && password.ptr == NULL))
		return SL_EINVAL;
	if (st_address_canon(address, a, &e) < 0)
		return SL_EINVAL;
	{
		READ_BEGIN(rd, txn);
		k = st_val(a, strlen(a));
		rc = st_lmdb_err(mdb_get(txn, DBI(rd, ST_DB_USER), &k, &v));
		if (rc == 0) {
			memcpy(&rec, v.mv_data, sizeof(rec));
			if (v.mv_size != sizeof(rec) + rec.hash_len || rec.hash_len >= sizeof(hash))
				rc = SL_ECORRUPT;
			else {
				memcpy(hash, (const uint8_t *)v.mv_data + sizeof(rec), rec.hash_len);
				hash[rec.hash_len] = '\0';
			}
		}
		st_reader_end(rd);
	}
	/* argon2 runs outside the snapshot: it takes tens of ms. */
	if (rc == SL_ENOENT) {
		check = dummy_hash(rd->s);
		if (check != NULL)
			(void)argon2id_verify(check, password.ptr, password.len);
		return SL_EAUTH;
	}
	if (rc < 0)
		return rc;
	if (argon2id_verify(hash, password.ptr, password.len) != ARGON2_OK)
		return SL_EAUTH;
	*id_r = rec.id;
	return 0;
}

int st_alias_list(st_reader_t *rd, int (*cb)(void *ctx, const char *alias, const char *target),
		  void *ctx)
{
	char a[ST_STR_CAP], t[ST_STR_CAP];
	MDB_cursor *cur;
	MDB_val k, v;
	int rc = 0, crc = 0;

	READ_BEGIN(rd, txn);
	rc = cursor(rd, txn, ST_DB_ALIAS, &cur);
	if (rc == 0) {
		for (crc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); crc == 0;
		     crc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
			key_str(&k, 0, a, sizeof(a));
			key_str(&v, 0, t, sizeof(t));
			rc = cb(ctx, a, t);
			if (rc != 0)
				break;
		}
		rc = cursor_done(rc, crc);
		mdb_cursor_close(cur);
	}
	st_reader_end(rd);
	return rc;
}

struct resolve {
	st_reader_t *rd;
	MDB_txn *txn;
	unsigned n_visit;
	unsigned reported;
	int (*cb)(void *ctx, const st_rcpt_t *r);
	void *ctx;
};

static int resolve(struct resolve *x, const char *addr, unsigned depth)
{
	st_reader_t *rd = x->rd;
	MDB_val k, v;
	MDB_cursor *cur;
	st_rcpt_t out;
	int rc, crc = 0;

	for (unsigned i = 0; i < x->n_visit; i++)
		if (strcmp(rd->visit[i], addr) == 0)
			return 0; /* a loop, or a second path to the same address */
	if (x->n_visit == ST_RESOLVE_MAX)
		return SL_ELIMIT;
	snprintf(rd->visit[x->n_visit++], ST_STR_CAP, "%s", addr);

	k = st_val(st_address_domain(addr), strlen(st_address_domain(addr)));
	rc = mdb_get(x->txn, DBI(rd, ST_DB_DOMAIN), &k, &v);
	if (rc == MDB_NOTFOUND) {
		out.user_id = 0;
		out.address = addr;
		x->reported++;
		return x->cb(x->ctx, &out);
	}
	if (rc != 0)
		return st_lmdb_err(rc);
	k = st_val(addr, strlen(addr));
	rc = mdb_get(x->txn, DBI(rd, ST_DB_USER), &k, &v);
	if (rc == 0) {
		st_user_rec_t rec;
		if (v.mv_size < sizeof(rec))
			return SL_ECORRUPT;
		memcpy(&rec, v.mv_data, sizeof(rec));
		out.user_id = rec.id;
		out.address = addr;
		x->reported++;
		return x->cb(x->ctx, &out);
	}
	if (rc != MDB_NOTFOUND)
		return st_lmdb_err(rc);
	if (depth >= ST_ALIAS_DEPTH_MAX)
		return 0;
	rc = cursor(rd, x->txn, ST_DB_ALIAS, &cur);
	if (rc < 0)
		return rc;
	k = st_val(addr, strlen(addr));
	for (crc = mdb_cursor_get(cur, &k, &v, MDB_SET_KEY); crc == 0;
	     crc = mdb_cursor_get(cur, &k, &v, MDB_NEXT_DUP)) {
		char t[ST_STR_CAP];

		key_str(&v, 0, t, sizeof(t));
		rc = resolve(x, t, depth + 1);
		if (rc != 0)
			break;
	}
	mdb_cursor_close(cur);
	return cursor_done(rc, crc);
}

int st_rcpt_resolve(st_reader_t *rd, const char *address,
		    int (*cb)(void *ctx, const st_rcpt_t *r), void *ctx)
{
	struct resolve x = {.rd = rd, .cb = cb, .ctx = ctx};
	char a[ST_STR_CAP];
	const char *e;
	int rc;

	if (st_address_canon(address, a, &e) < 0)
		return SL_EINVAL;
	if (rd->visit == NULL) {
		rd->visit = malloc(ST_RESOLVE_MAX * sizeof(*rd->visit));
		if (rd->visit == NULL)
			return SL_ENOMEM;
	}
	{
		READ_BEGIN(rd, txn);
		x.txn = txn;
		rc = resolve(&x, a, 0);
		st_reader_end(rd);
	}
	if (rc != 0)
		return rc;
	return x.reported > 0 ? 0 : SL_ENOENT;
}

/* --- mailboxes --------------------------------------------------------- */

static int mbox_fill(st_reader_t *rd, MDB_txn *txn, const st_mbox_t *m, st_mailbox_info_t *info)
{
	uint8_t kb[8 + ST_STR_CAP + 1];
	size_t nl = strlen(m->name);
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	info->id = m->id;
	info->user_id = m->r.user_id;
	memcpy(info->name, m->name, nl + 1);
	info->uidvalidity = m->r.uidvalidity;
	info->uidnext = m->r.uidnext;
	info->highestmodseq = m->r.highestmodseq;
	info->count = m->r.count;
	info->unseen = m->r.unseen;
	info->size = m->r.size;
	info->roles = m->r.roles;
	info->attrs = m->r.attrs;
	info->n_keywords = m->r.n_keywords;
	info->vanished_floor = m->x.vanished_floor;
	st_be64_put(kb, m->r.user_id);
	memcpy(kb + 8, m->name, nl);
	k = st_val(kb, 8 + nl);
	rc = mdb_get(txn, DBI(rd, ST_DB_SUBS), &k, &v);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return st_lmdb_err(rc);
	info->subscribed = rc == 0;
	kb[8 + nl] = ST_MAILBOX_DELIM;
	rc = cursor(rd, txn, ST_DB_MBNAME, &cur);
	if (rc < 0)
		return rc;
	k = st_val(kb, 9 + nl);
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	info->has_children = rc == 0 && k.mv_size > 9 + nl && memcmp(k.mv_data, kb, 9 + nl) == 0;
	mdb_cursor_close(cur);
	return rc == 0 || rc == MDB_NOTFOUND ? 0 : st_lmdb_err(rc);
}

int st_mailbox_get(st_reader_t *rd, uint64_t user_id, const char *name,
		   st_mailbox_info_t *info_r)
{
	char n[ST_STR_CAP];
	const char *e;
	uint64_t id;
	st_mbox_t m;
	int rc;

	if (st_mailbox_canon(name, n, &e) < 0)
		return SL_EINVAL;
	READ_BEGIN(rd, txn);
	rc = st_mbox_lookup(rd->s, txn, user_id, n, &id);
	if (rc == 0)
		rc = st_mbox_load(rd->s, txn, id, &m);
	if (rc == 0)
		rc = mbox_fill(rd, txn, &m, info_r);
	st_reader_end(rd);
	return rc;
}

int st_mailbox_get_by_id(st_reader_t *rd, uint64_t id, st_mailbox_info_t *info_r)
{
	st_mbox_t m;
	int rc;

	READ_BEGIN(rd, txn);
	rc = st_mbox_load(rd->s, txn, id, &m);
	if (rc == 0)
		rc = mbox_fill(rd, txn, &m, info_r);
	st_reader_end(rd);
	return rc;
}

/* Walk USER_ID's mailboxes in name order. */
static int mbox_walk(st_reader_t *rd, MDB_txn *txn, uint64_t user_id,
		     int (*fn)(void *ctx, st_reader_t *rd, MDB_txn *txn, st_mbox_t *m), void *ctx)
{
	uint8_t pre[8];
	MDB_cursor *cur;
	MDB_val k, v;
	st_mbox_t m;
	int rc = 0, crc = 0;

	st_be64_put(pre, user_id);
	rc = cursor(rd, txn, ST_DB_MBNAME, &cur);
	if (rc < 0)
		return rc;
	k = st_val(pre, 8);
	for (crc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); crc == 0;
	     crc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size <= 8 || memcmp(k.mv_data, pre, 8) != 0)
			break;
		if (v.mv_size != 8) {
			rc = SL_ECORRUPT;
			break;
		}
		rc = st_mbox_load(rd->s, txn, st_be64_get(v.mv_data), &m);
		if (rc == SL_ENOENT)
			rc = SL_ECORRUPT;
		if (rc == 0)
			rc = fn(ctx, rd, txn, &m);
		if (rc != 0)
			break;
	}
	mdb_cursor_close(cur);
	return cursor_done(rc, crc);
}

struct role_find {
	uint32_t role;
	st_mailbox_info_t *info;
};

static int role_fn(void *ctx, st_reader_t *rd, MDB_txn *txn, st_mbox_t *m)
{
	struct role_find *f = ctx;
	int rc;

	if (!(m->r.roles & f->role))
		return 0;
	rc = mbox_fill(rd, txn, m, f->info);
	return rc < 0 ? rc : 1;
}

int st_mailbox_find_role(st_reader_t *rd, uint64_t user_id, uint32_t role,
			 st_mailbox_info_t *info_r)
{
	struct role_find f = {role, info_r};
	int rc;

	READ_BEGIN(rd, txn);
	rc = mbox_walk(rd, txn, user_id, role_fn, &f);
	st_reader_end(rd);
	if (rc < 0)
		return rc;
	return rc == 1 ? 0 : SL_ENOENT;
}

struct list_ctx {
	int (*cb)(void *ctx, const st_mailbox_info_t *info);
	void *ctx;
};

static int list_fn(void *ctx, st_reader_t *rd, MDB_txn *txn, st_mbox_t *m)
{
	struct list_ctx *l = ctx;
	st_mailbox_info_t info;
	int rc = mbox_fill(rd, txn, m, &info);

	return rc < 0 ? rc : l->cb(l->ctx, &info);
}

int st_mailbox_list(st_reader_t *rd, uint64_t user_id,
		    int (*cb)(void *ctx, const st_mailbox_info_t *info), void *ctx)
{
	struct list_ctx l = {cb, ctx};
	int rc;

	READ_BEGIN(rd, txn);
	rc = mbox_walk(rd, txn, user_id, list_fn, &l);
	st_reader_end(rd);
	return rc;
}

int st_subscription_list(st_reader_t *rd, uint64_t user_id,
			 int (*cb)(void *ctx, const char *name), void *ctx)
{
	char name[ST_STR_CAP];
	uint8_t pre[8];
	MDB_cursor *cur;
	MDB_val k, v;
	int rc = 0, crc = 0;

	st_be64_put(pre, user_id);
	READ_BEGIN(rd, txn);
	rc = cursor(rd, txn, ST_DB_SUBS, &cur);
	if (rc == 0) {
		k = st_val(pre, 8);
		for (crc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); crc == 0;
		     crc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
			if (k.mv_size <= 8 || memcmp(k.mv_data, pre, 8) != 0)
				break;
			key_str(&k, 8, name, sizeof(name));
			rc = cb(ctx, name);
			if (rc != 0)
				break;
		}
		rc = cursor_done(rc, crc);
		mdb_cursor_close(cur);
	}
	st_reader_end(rd);
	return rc;
}

int st_mailbox_keywords(st_reader_t *rd, uint64_t mailbox_id,
			int (*cb)(void *ctx, unsigned bit, const char *kw), void *ctx)
{
	st_mbox_t m;
	int rc;

	READ_BEGIN(rd, txn);
	rc = st_mbox_load(rd->s, txn, mailbox_id, &m);
	for (unsigned i = 0; rc == 0 && i < m.r.n_keywords; i++)
		rc = cb(ctx, i, m.kw[i]);
	st_reader_end(rd);
	return rc;
}

/* --- messages ---------------------------------------------------------- */

static int msg_fill(uint64_t mbox, uint32_t uid, const MDB_val *v, st_msg_info_t *m)
{
	st_msg_rec_t rec;

	if (v->mv_size != sizeof(rec))
		return SL_ECORRUPT;
	memcpy(&rec, v->mv_data, sizeof(rec));
	m->mailbox_id = mbox;
	m->uid = uid;
	m->flags = rec.flags;
	m->keywords = rec.keywords;
	m->modseq = rec.modseq;
	m->internaldate = rec.internaldate;
	m->tz_min = rec.tz_min;
	m->size = rec.size;
	memcpy(m->blob.b, rec.blob, ST_BLOB_ID_LEN);
	return 0;
}

int st_msg_get(st_reader_t *rd, uint64_t mailbox_id, uint32_t uid, st_msg_info_t *info_r)
{
	uint8_t kb[12];
	MDB_val k = st_val(kb, 12), v;
	int rc;

	st_be64_put(kb, mailbox_id);
	st_be32_put(kb + 8, uid);
	READ_BEGIN(rd, txn);
	rc = st_lmdb_err(mdb_get(txn, DBI(rd, ST_DB_MSG), &k, &v));
	if (rc == 0)
		rc = msg_fill(mailbox_id, uid, &v, info_r);
	st_reader_end(rd);
	return rc;
}

/* Walk the messages of MBOX with LO <= uid <= HI in uid order in one
 * read transaction, calling FN with each uid and its ST_DB_MSG record; a
 * nonzero FN return stops the walk and is returned. */
static int msg_walk(st_reader_t *rd, uint64_t mbox, uint32_t lo, uint32_t hi,
		    int (*fn)(uint64_t mbox, uint32_t uid, MDB_val *v, void *ctx), void *ctx)
{
	uint8_t kb[12];
	MDB_cursor *cur;
	MDB_val k, v;
	int rc = 0, crc = 0;

	st_be64_put(kb, mbox);
	st_be32_put(kb + 8, lo);
	READ_BEGIN(rd, txn);
	rc = cursor(rd, txn, ST_DB_MSG, &cur);
	if (rc == 0) {
		k = st_val(kb, 12);
		for (crc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); crc == 0;
		     crc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
			uint32_t uid;
			if (k.mv_size != 12 || st_be64_get(k.mv_data) != mbox)
				break;
			uid = st_be32_get((const uint8_t *)k.mv_data + 8);
			if (uid > hi)
				break;
			rc = fn(mbox, uid, &v, ctx);
			if (rc != 0)
				break;
		}
		rc = cursor_done(rc, crc);
		mdb_cursor_close(cur);
	}
	st_reader_end(rd);
	return rc;
}

struct msg_uids_walk {
	int (*cb)(void *ctx, uint32_t uid);
	void *ctx;
};

static int msg_uids_fn(uint64_t mbox, uint32_t uid, MDB_val *v, void *ctx)
{
	struct msg_uids_walk *w = ctx;

	(void)mbox, (void)v;
	return w->cb(w->ctx, uid);
}

int st_msg_uids(st_reader_t *rd, uint64_t mailbox_id, uint32_t lo, uint32_t hi,
		int (*cb)(void *ctx, uint32_t uid), void *ctx)
{
	struct msg_uids_walk w = {cb, ctx};

	return msg_walk(rd, mailbox_id, lo, hi, msg_uids_fn, &w);
}

struct msg_list_walk {
	int (*cb)(void *ctx, const st_msg_info_t *m);
	void *ctx;
};

static int msg_list_fn(uint64_t mbox, uint32_t uid, MDB_val *v, void *ctx)
{
	struct msg_list_walk *w = ctx;
	st_msg_info_t info;
	int rc = msg_fill(mbox, uid, v, &info);

	return rc != 0 ? rc : w->cb(w->ctx, &info);
}

int st_msg_list(st_reader_t *rd, uint64_t mailbox_id, uint32_t lo, uint32_t hi,
		int (*cb)(void *ctx, const st_msg_info_t *m), void *ctx)
{
	struct msg_list_walk w = {cb, ctx};

	return msg_walk(rd, mailbox_id, lo, hi, msg_list_fn, &w);
}

/* Walk the 20-byte (mailbox, modseq, uid) keys of DB above SINCE. */
static int seq_walk(st_reader_t *rd, MDB_txn *txn, enum st_db db, uint64_t mbox, uint64_t since,
		    int (*fn)(st_reader_t *rd, MDB_txn *txn, uint64_t mbox, uint64_t modseq,
			      uint32_t uid, void *ctx),
		    void *ctx)
{
	uint8_t kb[20];
	MDB_cursor *cur;
	MDB_val k, v;
	int rc = 0, crc = 0;

	if (since == UINT64_MAX)
		return 0;
	st_be64_put(kb, mbox);
	st_be64_put(kb + 8, since + 1);
	st_be32_put(kb + 16, 0);
	rc = cursor(rd, txn, db, &cur);
	if (rc < 0)
		return rc;
	k = st_val(kb, 20);
	for (crc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); crc == 0;
	     crc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		const uint8_t *p = k.mv_data;
		if (k.mv_size != 20 || st_be64_get(p) != mbox)
			break;
		rc = fn(rd, txn, mbox, st_be64_get(p + 8), st_be32_get(p + 16), ctx);
		if (rc != 0)
			break;
	}
	mdb_cursor_close(cur);
	return cursor_done(rc, crc);
}

struct changes {
	int (*changed)(void *ctx, const st_msg_info_t *m);
	int (*vanished)(void *ctx, uint32_t uid, uint64_t modseq);
	void *ctx;
};

static int changed_fn(st_reader_t *rd, MDB_txn *txn, uint64_t mbox, uint64_t modseq,
		      uint32_t uid, void *ctx)
{
	struct changes *c = ctx;
	st_msg_info_t info;
	uint8_t kb[12];
	MDB_val k = st_val(kb, 12), v;
	int rc;

	st_be64_put(kb, mbox);
	st_be32_put(kb + 8, uid);
	rc = mdb_get(txn, DBI(rd, ST_DB_MSG), &k, &v);
	if (rc != 0)
		return rc == MDB_NOTFOUND ? SL_ECORRUPT : st_lmdb_err(rc);
	rc = msg_fill(mbox, uid, &v, &info);
	if (rc == 0 && info.modseq != modseq)
		rc = SL_ECORRUPT;
	return rc < 0 ? rc : c->changed(c->ctx, &info);
}

static int vanished_fn(st_reader_t *rd, MDB_txn *txn, uint64_t mbox, uint64_t modseq,
		       uint32_t uid, void *ctx)
{
	struct changes *c = ctx;

	(void)rd, (void)txn, (void)mbox;
	return c->vanished(c->ctx, uid, modseq);
}

int st_changes_since(st_reader_t *rd, uint64_t mailbox_id, uint64_t since,
		     int (*changed)(void *ctx, const st_msg_info_t *m),
		     int (*vanished)(void *ctx, uint32_t uid, uint64_t modseq), void *ctx)
{
	struct changes c = {changed, vanished, ctx};
	int rc = 0;

	READ_BEGIN(rd, txn);
	if (changed != NULL)
		rc = seq_walk(rd, txn, ST_DB_MODSEQ, mailbox_id, since, changed_fn, &c);
	if (rc == 0 && vanished != NULL)
		rc = seq_walk(rd, txn, ST_DB_VANISHED, mailbox_id, since, vanished_fn, &c);
	st_reader_end(rd);
	return rc;
}

int st_vanished_floor(st_reader_t *rd, uint64_t mailbox_id, uint64_t *floor_r)
{
	st_mbox_t m;
	int rc;

	READ_BEGIN(rd, txn);
	rc = st_mbox_load(rd->s, txn, mailbox_id, &m);
	if (rc == 0)
		*floor_r = m.x.vanished_floor;
	st_reader_end(rd);
	return rc;
}

/* --- bodies ------------------------------------------------------------ */

static int blob_rec(st_reader_t *rd, MDB_txn *txn, const st_blob_id_t *id, st_blob_rec_t *b)
{
	MDB_val k = st_val(id->b, ST_BLOB_ID_LEN), v;
	int rc = mdb_get(txn, DBI(rd, ST_DB_BLOB), &k, &v);

	if (rc != 0)
		return st_lmdb_err(rc);
	if (v.mv_size != sizeof(*b))
		return SL_ECORRUPT;
	memcpy(b, v.mv_data, sizeof(*b));
	return 0;
}

int st_blob_get(st_reader_t *rd, const st_blob_id_t *id, st_blob_info_t *info_r)
{
	st_blob_rec_t b;
	int rc;

	READ_BEGIN(rd, txn);
	rc = blob_rec(rd, txn, id, &b);
	if (rc == 0) {
		info_r->size = b.size;
		info_r->refcount = b.refcount;
		info_r->chunk_size = b.chunk_size;
		info_r->n_chunks = b.n_chunks;
	}
	st_reader_end(rd);
	return rc;
}

int st_body_read(st_reader_t *rd, const st_blob_id_t *id, uint64_t off, uint64_t len,
		 int (*cb)(void *ctx, sl_slice_t part), void *ctx)
{
	st_blob_rec_t b;
	st_chunk_layout_t lay;
	uint8_t kb[12];
	MDB_val k, v;
	int rc;

	READ_BEGIN(rd, txn);
	rc = blob_rec(rd, txn, id, &b);
	if (rc < 0)
		goto out;
	rc = st_chunk_layout(b.size, b.chunk_size, b.n_chunks, &lay);
	if (rc < 0)
		goto out;
	if (off >= b.size)
		goto out;
	if (len > b.size - off)
		len = b.size - off;
	while (len > 0) {
		uint64_t idx = st_chunk_index(&lay, b.chunk_size, off), coff, clen, in, want;

		if (!st_chunk_span(&lay, b.chunk_size, idx, &coff, &clen) || off < coff ||
		    off - coff >= clen) {
			rc = SL_ECORRUPT;
			goto out;
		}
		in = off - coff;
		st_chunk_key(kb, b.no, (uint32_t)idx);
		k = st_val(kb, sizeof(kb));
		rc = mdb_get(txn, DBI(rd, ST_DB_CHUNK), &k, &v);
		if (rc != 0 || v.mv_size != clen) {
			rc = rc == 0 || rc == MDB_NOTFOUND ? SL_ECORRUPT : st_lmdb_err(rc);
			goto out;
		}
		want = clen - in < len ? clen - in : len;
		rc = cb(ctx, sl_slice_make((const uint8_t *)v.mv_data + in, (size_t)want));
		if (rc != 0)
			goto out;
		off += want;
		len -= want;
	}
out:
	st_reader_end(rd);
	return rc;
}

struct copy_ctx {
	uint8_t *dst;
	size_t n;
};

static int copy_cb(void *ctx, sl_slice_t part)
{
	struct copy_ctx *c = ctx;

	memcpy(c->dst + c->n, part.ptr, part.len);
	c->n += part.len;
	return 0;
}

int st_body_copy(st_reader_t *rd, const st_blob_id_t *id, uint64_t off, void *buf, size_t cap,
		 size_t *n_r)
{
	struct copy_ctx c = {buf, 0};
	int rc = st_body_read(rd, id, off, cap, copy_cb, &c);

	*n_r = c.n;
	return rc;
}

int st_blob_struct_get(st_reader_t *rd, const st_blob_id_t *id, sl_buf_t *out)
{
	MDB_val k = st_val(id->b, ST_BLOB_ID_LEN), v;
	int rc;

	READ_BEGIN(rd, txn);
	rc = st_lmdb_err(mdb_get(txn, DBI(rd, ST_DB_BSTRUCT), &k, &v));
	if (rc == 0)
		rc = sl_buf_append(out, v.mv_data, v.mv_size);
	st_reader_end(rd);
	return rc;
}

/* --- queue and quarantine ---------------------------------------------- */

static int queue_emit(st_reader_t *rd, uint64_t id, const MDB_val *v,
		      int (*cb)(void *ctx, const st_queue_entry_t *e), void *ctx)
{
	st_queue_rec_t h;
	st_queue_entry_t e;
	int rc = st_queue_decode(*v, &h, &e.sender, rd->qrcpts);

	if (rc < 0)
		return rc;
	e.id = id;
	e.created = h.created;
	e.next_attempt = h.next_attempt;
	e.attempts = h.attempts;
	memcpy(e.blob.b, h.blob, ST_BLOB_ID_LEN);
	e.size = h.size;
	e.n_rcpts = h.n_rcpts;
	e.rcpts = rd->qrcpts;
	return cb(ctx, &e);
}

int st_queue_get(st_reader_t *rd, uint64_t id,
		 int (*cb)(void *ctx, const st_queue_entry_t *e), void *ctx)
{
	uint8_t kb[8];
	MDB_val k = st_val(kb, 8), v;
	int rc;

	st_be64_put(kb, id);
	READ_BEGIN(rd, txn);
	rc = st_lmdb_err(mdb_get(txn, DBI(rd, ST_DB_QUEUE), &k, &v));
	if (rc == 0)
		rc = queue_emit(rd, id, &v, cb, ctx);
	st_reader_end(rd);
	return rc;
}

int st_queue_due(st_reader_t *rd, int64_t now, unsigned limit,
		 int (*cb)(void *ctx, const st_queue_entry_t *e), void *ctx)
{
	uint8_t end[16];
	unsigned n = 0;
	MDB_cursor *cur;
	MDB_val k, v, qk, qv;
	int rc = 0, crc = 0;

	st_qdue_key(end, now, UINT64_MAX);
	READ_BEGIN(rd, txn);
	rc = cursor(rd, txn, ST_DB_QDUE, &cur);
	if (rc == 0) {
		for (crc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); crc == 0;
		     crc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
			if (k.mv_size != 16) {
				rc = SL_ECORRUPT;
				break;
			}
			if (memcmp(k.mv_data, end, 16) > 0 || (limit != 0 && n >= limit))
				break;
			qk = st_val((const uint8_t *)k.mv_data + 8, 8);
			rc = mdb_get(txn, DBI(rd, ST_DB_QUEUE), &qk, &qv);
			if (rc != 0) {
				rc = rc == MDB_NOTFOUND ? SL_ECORRUPT : st_lmdb_err(rc);
				break;
			}
			n++;
			rc = queue_emit(rd, st_be64_get(qk.mv_data), &qv, cb, ctx);
			if (rc != 0)
				break;
		}
		rc = cursor_done(rc, crc);
		mdb_cursor_close(cur);
	}
	st_reader_end(rd);
	return rc;
}

int st_queue_list(st_reader_t *rd, int (*cb)(void *ctx, const st_queue_entry_t *e), void *ctx)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc = 0, crc = 0;

	READ_BEGIN(rd, txn);
	rc = cursor(rd, txn, ST_DB_QUEUE, &cur);
	if (rc == 0) {
		for (crc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); crc == 0;
		     crc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
			if (k.mv_size != 8) {
				rc = SL_ECORRUPT;
				break;
			}
			rc = queue_emit(rd, st_be64_get(k.mv_data), &v, cb, ctx);
			if (rc != 0)
				break;
		}
		rc = cursor_done(rc, crc);
		mdb_cursor_close(cur);
	}
	st_reader_end(rd);
	return rc;
}

int st_quarantine_list(st_reader_t *rd,
		       int (*cb)(void *ctx, const st_quarantine_entry_t *e), void *ctx)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc = 0, crc = 0;

	READ_BEGIN(rd, txn);
	rc = cursor(rd, txn, ST_DB_QUAR, &cur);
	if (rc == 0) {
		for (crc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); crc == 0;
		     crc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
			st_quar_rec_t h;
			st_quarantine_entry_t e;

			if (k.mv_size != 8) {
				rc = SL_ECORRUPT;
				break;
			}
			rc = st_quar_decode(v, &h, &e.verdict, &e.sender, rd->strs);
			if (rc < 0)
				break;
			e.id = st_be64_get(k.mv_data);
			e.created = h.created;
			e.score_milli = h.score_milli;
			e.n_rcpts = h.n_rcpts;
			e.rcpts = rd->strs;
			memcpy(e.blob.b, h.blob, ST_BLOB_ID_LEN);
			e.size = h.size;
			rc = cb(ctx, &e);
			if (rc != 0)
				break;
		}
		rc = cursor_done(rc, crc);
		mdb_cursor_close(cur);
	}
	st_reader_end(rd);
	return rc;
}

/* --- key spaces -------------------------------------------------------- */

static MDB_dbi kv_dbi(st_reader_t *rd, enum st_kv_ns ns)
{
	return DBI(rd, ns == ST_NS_CONFIG ? ST_DB_CONFIG : ST_DB_FILTER);
}

int st_kv_get(st_reader_t *rd, enum st_kv_ns ns, sl_slice_t key, sl_buf_t *out)
{
	MDB_val k = st_val(key.ptr, key.len), v;
	int rc;

	if ((unsigned)ns >= ST_NS__COUNT || key.len == 0 || key.len > ST_KV_KEY_MAX)
		return SL_EINVAL;
	READ_BEGIN(rd, txn);
	rc = st_lmdb_err(mdb_get(txn, kv_dbi(rd, ns), &k, &v));
	if (rc == 0)
		rc = sl_buf_append(out, v.mv_data, v.mv_size);
	st_reader_end(rd);
	return rc;
}

int st_kv_counter(st_reader_t *rd, enum st_kv_ns ns, sl_slice_t key, int64_t *value_r)
{
	MDB_val k = st_val(key.ptr, key.len), v;
	int rc;

	if ((unsigned)ns >= ST_NS__COUNT || key.len == 0 || key.len > ST_KV_KEY_MAX)
		return SL_EINVAL;
	*value_r = 0;
	READ_BEGIN(rd, txn);
	rc = st_lmdb_err(mdb_get(txn, kv_dbi(rd, ns), &k, &v));
	if (rc == 0) {
		if (v.mv_size == sizeof(*value_r))
			memcpy(value_r, v.mv_data, sizeof(*value_r));
		else
			rc = SL_ECORRUPT;
	} else if (rc == SL_ENOENT) {
		rc = 0;
	}
	st_reader_end(rd);
	return rc;
}

int st_kv_scan(st_reader_t *rd, enum st_kv_ns ns, sl_slice_t prefix,
	       int (*cb)(void *ctx, sl_slice_t key, sl_slice_t value), void *ctx)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc = 0, crc = 0;

	if ((unsigned)ns >= ST_NS__COUNT || prefix.len > ST_KV_KEY_MAX)
		return SL_EINVAL;
	READ_BEGIN(rd, txn);
	rc = st_lmdb_err(mdb_cursor_open(txn, kv_dbi(rd, ns), &cur));
	if (rc == 0) {
		k = st_val(prefix.ptr, prefix.len);
		crc = mdb_cursor_get(cur, &k, &v, prefix.len > 0 ? MDB_SET_RANGE : MDB_FIRST);
		for (; crc == 0; crc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
			if (k.mv_size < prefix.len ||
			    (prefix.len > 0 && memcmp(k.mv_data, prefix.ptr, prefix.len) != 0))
				break;
			rc = cb(ctx, sl_slice_make(k.mv_data, k.mv_size),
				sl_slice_make(v.mv_data, v.mv_size));
			if (rc != 0)
				break;
		}
		rc = cursor_done(rc, crc);
		mdb_cursor_close(cur);
	}
	st_reader_end(rd);
	return rc;
}

