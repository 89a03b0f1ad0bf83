/* st_ops_user - writer-side operations on domains, users and aliases, and
 * the dispatcher for every request kind. */
#include <stdlib.h>
#include <time.h>

#include "st_private.h"

static int fail(st_req_t *r, int rc, const char *text)
{
	r->res.error = text;
	return rc;
}

int st_user_read(st_store_t *s, MDB_txn *txn, const char *addr, st_user_rec_t *rec_r)
{
	MDB_val k = st_val(addr, strlen(addr)), v;
	int rc = mdb_get(txn, s->dbi[ST_DB_USER], &k, &v);

	if (rc != 0)
		return st_lmdb_err(rc);
	if (v.mv_size < sizeof(*rec_r))
		return SL_ECORRUPT;
	memcpy(rec_r, v.mv_data, sizeof(*rec_r));
	return 0;
}

static int domain_exists(st_store_t *s, MDB_txn *txn, const char *domain)
{
	MDB_val k = st_val(domain, strlen(domain)), v;

	return st_lmdb_err(mdb_get(txn, s->dbi[ST_DB_DOMAIN], &k, &v));
}

/* Is any key of DB an address in DOMAIN? Admin operations only: a scan. */
static int domain_in_use(st_store_t *s, MDB_txn *txn, enum st_db db, const char *domain)
{
	MDB_cursor *cur;
	MDB_val k, v;
	size_t dl = strlen(domain);
	int rc, found = 0;

	rc = mdb_cursor_open(txn, s->dbi[db], &cur);
	if (rc != 0)
		return st_lmdb_err(rc);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT_NODUP)) {
		const char *p = k.mv_data;
		if (k.mv_size > dl && p[k.mv_size - dl - 1] == '@' &&
		    memcmp(p + k.mv_size - dl, domain, dl) == 0) {
			found = 1;
			break;
		}
	}
	mdb_cursor_close(cur);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return st_lmdb_err(rc);
	return found;
}

static int op_domain_add(st_store_t *s, MDB_txn *txn, st_req_t *r)
{
	st_domain_rec_t rec = {.created = time(NULL)};
	MDB_val k = st_val(r->s1, strlen(r->s1)), v = st_val(&rec, sizeof(rec));
	int rc = st_lmdb_err(mdb_put(txn, s->dbi[ST_DB_DOMAIN], &k, &v, MDB_NOOVERWRITE));

	if (rc == SL_EEXIST)
		return fail(r, rc, "domain exists");
	return rc;
}

static int op_domain_del(st_store_t *s, MDB_txn *txn, st_req_t *r)
{
	MDB_val k = st_val(r->s1, strlen(r->s1));
	int rc;

	rc = domain_exists(s, txn, r->s1);
	if (rc < 0)
		return rc == SL_ENOENT ? fail(r, rc, "unknown domain") : rc;
	rc = domain_in_use(s, txn, ST_DB_USER, r->s1);
	if (rc == 0)
		rc = domain_in_use(s, txn, ST_DB_ALIAS, r->s1);
	if (rc < 0)
		return rc;
	if (rc > 0)
		return fail(r, SL_EBUSY, "domain has users or aliases");
	return st_lmdb_err(mdb_del(txn, s->dbi[ST_DB_DOMAIN], &k, NULL));
}

static int put_user(st_store_t *s, MDB_txn *txn, const char *addr, const st_user_rec_t *rec,
		    const char *hash, unsigned flags)
{
	uint8_t buf[sizeof(st_user_rec_t) + ST_PWHASH_MAX];
	size_t hl = strlen(hash);
	st_user_rec_t tmp = *rec;
	MDB_val k = st_val(addr, strlen(addr)), v;

	tmp.hash_len = (uint16_t)hl;
	memcpy(buf, &tmp, sizeof(tmp));
	memcpy(buf + sizeof(tmp), hash, hl);
	v = st_val(buf, sizeof(tmp) + hl);
	return st_lmdb_err(mdb_put(txn, s->dbi[ST_DB_USER], &k, &v, flags));
}

static const struct {
	const char *name;
	uint32_t role;
} special_mailboxes[] = {
	{"Sent", ST_ROLE_SENT},   {"Drafts", ST_ROLE_DRAFTS},   {"Junk", ST_ROLE_JUNK},
	{"Trash", ST_ROLE_TRASH}, {"Archive", ST_ROLE_ARCHIVE},
};

static int op_user_add(st_store_t *s, MDB_txn *txn, st_req_t *r)
{
	st_user_rec_t rec = {.created = time(NULL)};
	uint8_t idk[8];
	MDB_val k, v;
	int rc;

	rc = domain_exists(s, txn, st_address_domain(r->s1));
	if (rc < 0)
		return rc == SL_ENOENT ? fail(r, rc, "unknown domain") : rc;
	k = st_val(r->s1, strlen(r->s1));
	rc = st_lmdb_err(mdb_get(txn, s->dbi[ST_DB_ALIAS], &k, &v));
	if (rc == 0)
		return fail(r, SL_EEXIST, "address is an alias");
	if (rc != SL_ENOENT)
		return rc;
	rc = st_meta_next_id(s, txn, "user_id", &rec.id);
	if (rc < 0)
		return rc;
	rc = put_user(s, txn, r->s1, &rec, r->pwhash, MDB_NOOVERWRITE);
	if (rc < 0)
		return rc == SL_EEXIST ? fail(r, rc, "user exists") : rc;
	st_be64_put(idk, rec.id);
	k = st_val(idk, 8);
	v = st_val(r->s1, strlen(r->s1));
	rc = st_lmdb_err(mdb_put(txn, s->dbi[ST_DB_USERID], &k, &v, MDB_NOOVERWRITE));
	if (rc < 0)
		return rc == SL_EEXIST ? SL_ECORRUPT : rc;
	rc = st_mbox_create_rec(s, txn, rec.id, "INBOX", ST_ROLE_INBOX, 0, NULL, NULL);
	for (size_t i = 0; rc == 0 && s->opts.create_special_mailboxes &&
			   i < sizeof(special_mailboxes) / sizeof(special_mailboxes[0]);
	     i++)
		rc = st_mbox_create_rec(s, txn, rec.id, special_mailboxes[i].name,
					special_mailboxes[i].role, 0, NULL, NULL);
	if (rc < 0)
		return rc;
	r->res.u.user.id = rec.id;
	return 0;
}

static int del_prefix(MDB_txn *txn, MDB_dbi dbi, const uint8_t *prefix, size_t plen)
{
	MDB_cursor *cur;
	MDB_val k = st_val(prefix, plen), v;
	int rc;

	rc = mdb_cursor_open(txn, dbi, &cur);
	if (rc != 0)
		return st_lmdb_err(rc);
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	while (rc == 0 && k.mv_size >= plen && memcmp(k.mv_data, prefix, plen) == 0) {
		rc = mdb_cursor_del(cur, 0);
		k = st_val(prefix, plen);
		if (rc == 0)
			rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : st_lmdb_err(rc);
}

static int op_user_del(st_store_t *s, MDB_txn *txn, st_req_t *r)
{
	st_user_rec_t rec;
	uint8_t idk[8];
	MDB_val k;
	int rc;

	rc = st_user_read(s, txn, r->s1, &rec);
	if (rc < 0)
		return rc == SL_ENOENT ? fail(r, rc, "unknown user") : rc;
	rc = st_mbox_delete_all(s, txn, rec.id);
	if (rc < 0)
		return rc;
	st_be64_put(idk, rec.id);
	rc = del_prefix(txn, s->dbi[ST_DB_SUBS], idk, 8);
	if (rc < 0)
		return rc;
	k = st_val(idk, 8);
	rc = st_lmdb_err(mdb_del(txn, s->dbi[ST_DB_USERID], &k, NULL));
	if (rc < 0)
		return rc == SL_ENOENT ? SL_ECORRUPT : rc;
	k = st_val(r->s1, strlen(r->s1));
	return st_lmdb_err(mdb_del(txn, s->dbi[ST_DB_USER], &k, NULL));
}

static int op_user_passwd(st_store_t *s, MDB_txn *txn, st_req_t *r)
{
	st_user_rec_t rec;
	int rc = st_user_read(s, txn, r->s1, &rec);

	if (rc < 0)
		return rc == SL_ENOENT ? fail(r, rc, "unknown user") : rc;
	return put_user(s, txn, r->s1, &rec, r->pwhash, 0);
}

static int op_alias_add(st_store_t *s, MDB_txn *txn, st_req_t *r)
{
	MDB_val k = st_val(r->s1, strlen(r->s1)), v;
	MDB_cursor *cur;
	size_t n = 0;
	st_user_rec_t urec;
	int rc;

	rc = domain_exists(s, txn, st_address_domain(r->s1));
	if (rc < 0)
		return rc == SL_ENOENT ? fail(r, rc, "unknown domain") : rc;
	rc = st_user_read(s, txn, r->s1, &urec);
	if (rc == 0)
		return fail(r, SL_EEXIST, "address is a user");
	if (rc != SL_ENOENT)
		return rc;
	rc = mdb_cursor_open(txn, s->dbi[ST_DB_ALIAS], &cur);
	if (rc != 0)
		return st_lmdb_err(rc);
	if (mdb_cursor_get(cur, &k, &v, MDB_SET_KEY) == 0)
		mdb_cursor_count(cur, &n);
	mdb_cursor_close(cur);
	if (n >= ST_RCPT_MAX)
		return fail(r, SL_ELIMIT, "too many targets for one alias");
	k = st_val(r->s1, strlen(r->s1));
	v = st_val(r->s2, strlen(r->s2));
	rc = st_lmdb_err(mdb_put(txn, s->dbi[ST_DB_ALIAS], &k, &v, MDB_NODUPDATA));
	if (rc == SL_EEXIST)
		return fail(r, rc, "alias exists");
	return rc;
}

static int op_alias_del(st_store_t *s, MDB_txn *txn, st_req_t *r)
{
	MDB_val k = st_val(r->s1, strlen(r->s1)), v = st_val(r->s2, strlen(r->s2));
	int rc = mdb_del(txn, s->dbi[ST_DB_ALIAS], &k, r->s2[0] != '\0' ? &v : NULL);

	if (rc == MDB_NOTFOUND)
		return fail(r, SL_ENOENT, "no such alias");
	return st_lmdb_err(rc);
}

int st_apply_user(st_store_t *s, MDB_txn *txn, st_req_t *r)
{
	switch (r->op) {
	case ST_OP_DOMAIN_ADD:
		return op_domain_add(s, txn, r);
	case ST_OP_DOMAIN_DEL:
		return op_domain_del(s, txn, r);
	case ST_OP_USER_ADD:
		return op_user_add(s, txn, r);
	case ST_OP_USER_DEL:
		return op_user_del(s, txn, r);
	case ST_OP_USER_PASSWD:
		return op_user_passwd(s, txn, r);
	case ST_OP_ALIAS_ADD:
		return op_alias_add(s, txn, r);
	case ST_OP_ALIAS_DEL:
		return op_alias_del(s, txn, r);
	default:
		return SL_EINVAL;
	}
}

int st_apply(st_store_t *s, MDB_txn *txn, st_req_t *r)
{
	switch (r->op) {
	case ST_OP_DOMAIN_ADD:
	case ST_OP_DOMAIN_DEL:
	case ST_OP_USER_ADD:
	case ST_OP_USER_DEL:
	case ST_OP_USER_PASSWD:
	case ST_OP_ALIAS_ADD:
	case ST_OP_ALIAS_DEL:
		return st_apply_user(s, txn, r);
	case ST_OP_MAILBOX_CREATE:
	case ST_OP_MAILBOX_RENAME:
	case ST_OP_MAILBOX_DELETE:
	case ST_OP_MAILBOX_SUBSCRIBE:
	case ST_OP_MAILBOX_SET_ROLE:
		return st_apply_mailbox(s, txn, r);
	case ST_OP_DELIVER:
	case ST_OP_FLAGS:
	case ST_OP_COPY:
	case ST_OP_MOVE:
	case ST_OP_EXPUNGE:
	case ST_OP_STRUCT_SET:
		return st_apply_msg(s, txn, r);
	case ST_OP_QUEUE_UPDATE:
	case ST_OP_QUEUE_DEL:
	case ST_OP_QUARANTINE_DEL:
	case ST_OP_KV_WRITE:
		return st_apply_queue(s, txn, r);
	default:
		r->res.error = "unknown request";
		return SL_EINVAL;
	}
}
