/* st_ops_mailbox - writer-side mailbox operations: create (with superior
 * levels), rename of a hierarchy, delete, subscriptions, roles; and the
 * mailbox record codec shared with the message operations. */
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "st_private.h"

static int fail(st_req_t *r, int rc, const char *text)
{
	r->res.error = text;
	return rc;
}

static size_t mbname_key(uint8_t *k, uint64_t user_id, const char *name)
{
	size_t n = strlen(name);

	st_be64_put(k, user_id);
	memcpy(k + 8, name, n);
	return 8 + n;
}

int st_mbox_lookup(st_store_t *s, MDB_txn *txn, uint64_t user_id, const char *name,
		   uint64_t *id_r)
{
	uint8_t kb[8 + ST_STR_CAP];
	MDB_val k = st_val(kb, mbname_key(kb, user_id, name)), v;
	int rc = mdb_get(txn, s->dbi[ST_DB_MBNAME], &k, &v);

	if (rc != 0)
		return st_lmdb_err(rc);
	if (v.mv_size != 8)
		return SL_ECORRUPT;
	*id_r = st_be64_get(v.mv_data);
	return 0;
}

int st_mbox_decode(uint64_t id, MDB_val v, st_mbox_t *m)
{
	const uint8_t *p = v.mv_data, *end = p + v.mv_size;

	if (v.mv_size < sizeof(m->r))
		return SL_ECORRUPT;
	memcpy(&m->r, p, sizeof(m->r));
	p += sizeof(m->r);
	m->id = id;
	if (m->r.name_len > ST_MAILBOX_NAME_MAX || m->r.n_keywords > ST_KEYWORDS_MAX ||
	    (size_t)(end - p) < (size_t)m->r.name_len + 1)
		return SL_ECORRUPT;
	memcpy(m->name, p, m->r.name_len);
	m->name[m->r.name_len] = '\0';
	p += m->r.name_len + 1;
	for (unsigned i = 0; i < m->r.n_keywords; i++) {
		if (p >= end || *p > ST_KEYWORD_MAX || (size_t)(end - p) < (size_t)*p + 2)
			return SL_ECORRUPT;
		memcpy(m->kw[i], p + 1, *p);
		m->kw[i][*p] = '\0';
		p += *p + 2;
	}
	/* The expunge-history extension, absent from older records. */
	memset(&m->x, 0, sizeof(m->x));
	if (p == end) {
		m->x.flags = ST_MBOX_EXT_UNCOUNTED;
		return 0;
	}
	if ((size_t)(end - p) < sizeof(m->x))
		return SL_ECORRUPT;
	memcpy(&m->x, p, sizeof(m->x));
	if (m->x.flags & ~ST_MBOX_EXT_UNCOUNTED)
		return SL_ECORRUPT;
	return 0;
}

int st_mbox_load(st_store_t *s, MDB_txn *txn, uint64_t id, st_mbox_t *m)
{
	uint8_t kb[8];
	MDB_val k = st_val(kb, 8), v;
	int rc;

	st_be64_put(kb, id);
	rc = mdb_get(txn, s->dbi[ST_DB_MBOX], &k, &v);
	if (rc != 0)
		return st_lmdb_err(rc);
	return st_mbox_decode(id, v, m);
}

int st_mbox_store(st_store_t *s, MDB_txn *txn, const st_mbox_t *m)
{
	uint8_t kb[8], buf[sizeof(st_mbox_rec_t) + ST_STR_CAP +
			   ST_KEYWORDS_MAX * (ST_KEYWORD_MAX + 2) + sizeof(st_mbox_ext_t)];
	size_t n = sizeof(m->r), nl = strlen(m->name);
	st_mbox_rec_t r = m->r;
	MDB_val k = st_val(kb, 8), v;

	r.name_len = (uint16_t)nl;
	memcpy(buf, &r, sizeof(r));
	memcpy(buf + n, m->name, nl + 1);
	n += nl + 1;
	for (unsigned i = 0; i < r.n_keywords; i++) {
		size_t kl = strlen(m->kw[i]);
		buf[n] = (uint8_t)kl;
		memcpy(buf + n + 1, m->kw[i], kl + 1);
		n += kl + 2;
	}
	memcpy(buf + n, &m->x, sizeof(m->x));
	n += sizeof(m->x);
	st_be64_put(kb, m->id);
	v = st_val(buf, n);
	/* Every change to a mailbox or its messages rewrites this record
	 * (counters, UIDNEXT, HIGHESTMODSEQ, name), so this is the one place
	 * that marks it changed for st_mailbox_gen. */
	st_touch_mailbox(s, m->id);
	return st_lmdb_err(mdb_put(txn, s->dbi[ST_DB_MBOX], &k, &v, 0));
}

/* An IMAP flag-keyword is an atom (RFC 3501 §9: atom-char excludes
 * "(){ %*\"\\]" and controls) that does not start with '\'. */
static bool keyword_ok(const char *kw)
{
	size_t n = strnlen(kw, ST_KEYWORD_MAX + 1);

	if (n == 0 || n > ST_KEYWORD_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)kw[i];
		if (c <= 0x20 || c >= 0x7f || strchr("(){%*\"\\]", c) != NULL)
			return false;
	}
	return true;
}

int st_mbox_kw_bits(st_mbox_t *m, const char *const *kws, unsigned n, uint64_t *bits_r)
{
	uint64_t bits = 0;

	for (unsigned i = 0; i < n; i++) {
		unsigned j;

		if (kws[i] == NULL || !keyword_ok(kws[i]))
			return SL_EINVAL;
		/* Keywords compare case-insensitively (RFC 9051 §2.3.2). */
		for (j = 0; j < m->r.n_keywords; j++)
			if (strcasecmp(m->kw[j], kws[i]) == 0)
				break;
		if (j == m->r.n_keywords) {
			if (j >= ST_KEYWORDS_MAX)
				return SL_ELIMIT;
			snprintf(m->kw[j], sizeof(m->kw[j]), "%s", kws[i]);
			m->r.n_keywords++;
		}
		bits |= 1ull << j;
	}
	*bits_r = bits;
	return 0;
}

int st_mbox_create_rec(st_store_t *s, MDB_txn *txn, uint64_t user_id, const char *name,
		       uint32_t roles, uint32_t attrs, uint64_t *id_r, uint32_t *uidvalidity_r)
{
	st_mbox_t m;
	uint8_t kb[8 + ST_STR_CAP], idb[8];
	uint64_t id, uv;
	MDB_val k, v;
	int rc;

	rc = st_meta_next_id(s, txn, "mailbox_id", &id);
	if (rc == 0)
		rc = st_meta_next_id(s, txn, "uidvalidity", &uv);
	if (rc < 0)
		return rc;
	k = st_val(kb, mbname_key(kb, user_id, name));
	st_be64_put(idb, id);
	v = st_val(idb, 8);
	rc = st_lmdb_err(mdb_put(txn, s->dbi[ST_DB_MBNAME], &k, &v, MDB_NOOVERWRITE));
	if (rc < 0)
		return rc;
	memset(&m.r, 0, sizeof(m.r));
	memset(&m.x, 0, sizeof(m.x)); /* no history yet: counted, floor 0 */
	m.id = id;
	m.r.user_id = user_id;
	m.r.uidvalidity = (uint32_t)uv;
	m.r.uidnext = 1;
	m.r.highestmodseq = 1;
	m.r.roles = roles;
	m.r.attrs = attrs;
	snprintf(m.name, sizeof(m.name), "%s", name);
	st_touch_user(s, user_id);
	rc = st_mbox_store(s, txn, &m);
	if (rc < 0)
		return rc;
	if (id_r != NULL)
		*id_r = id;
	if (uidvalidity_r != NULL)
		*uidvalidity_r = (uint32_t)uv;
	return 0;
}

int st_user_exists(st_store_t *s, MDB_txn *txn, uint64_t user_id)
{
	uint8_t kb[8];
	MDB_val k = st_val(kb, 8), v;

	st_be64_put(kb, user_id);
	return st_lmdb_err(mdb_get(txn, s->dbi[ST_DB_USERID], &k, &v));
}

/* 1 if some mailbox of USER_ID lies below NAME, 0 if none. */
static int has_children(st_store_t *s, MDB_txn *txn, uint64_t user_id, const char *name)
{
	uint8_t kb[8 + ST_STR_CAP + 1];
	size_t n = mbname_key(kb, user_id, name);
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	kb[n++] = ST_MAILBOX_DELIM;
	k = st_val(kb, n);
	rc = mdb_cursor_open(txn, s->dbi[ST_DB_MBNAME], &cur);
	if (rc != 0)
		return st_lmdb_err(rc);
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	mdb_cursor_close(cur);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc != 0)
		return st_lmdb_err(rc);
	return k.mv_size > n && memcmp(k.mv_data, kb, n) == 0;
}

/* Remove every message of a mailbox (dropping blob references) and its
 * MODSEQ and expunge history. The record itself is left to the caller. */
int st_mbox_purge(st_store_t *s, MDB_txn *txn, uint64_t mbox_id)
{
	uint8_t pre[8];
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	st_be64_put(pre, mbox_id);
	rc = mdb_cursor_open(txn, s->dbi[ST_DB_MSG], &cur);
	if (rc != 0)
		return st_lmdb_err(rc);
	for (;;) {
		st_msg_rec_t rec;

		k = st_val(pre, 8);
		rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
		if (rc != 0 || k.mv_size != 12 || memcmp(k.mv_data, pre, 8) != 0)
			break;
		if (v.mv_size != sizeof(rec)) {
			rc = MDB_CORRUPTED;
			break;
		}
		memcpy(&rec, v.mv_data, sizeof(rec));
		rc = mdb_cursor_del(cur, 0);
		if (rc != 0)
			break;
		rc = st_blob_unref(s, txn, rec.blob);
		if (rc < 0) {
			mdb_cursor_close(cur);
			return rc;
		}
	}
	mdb_cursor_close(cur);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return st_lmdb_err(rc);
	for (int db = ST_DB_MODSEQ; db <= ST_DB_VANISHED; db++) {
		rc = mdb_cursor_open(txn, s->dbi[db], &cur);
		if (rc != 0)
			return st_lmdb_err(rc);
		for (;;) {
			k = st_val(pre, 8);
			rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
			if (rc != 0 || k.mv_size < 8 || memcmp(k.mv_data, pre, 8) != 0)
				break;
			rc = mdb_cursor_del(cur, 0);
			if (rc != 0)
				break;
		}
		mdb_cursor_close(cur);
		if (rc != 0 && rc != MDB_NOTFOUND)
			return st_lmdb_err(rc);
	}
	return 0;
}

static int mbox_remove(st_store_t *s, MDB_txn *txn, uint64_t user_id, const char *name,
		       uint64_t id)
{
	uint8_t kb[8 + ST_STR_CAP], idb[8];
	MDB_val k;
	int rc;

	rc = st_mbox_purge(s, txn, id);
	if (rc < 0)
		return rc;
	/* A session with it selected must notice that it is gone. */
	st_touch_mailbox(s, id);
	st_touch_user(s, user_id);
	st_be64_put(idb, id);
	k = st_val(idb, 8);
	rc = st_lmdb_err(mdb_del(txn, s->dbi[ST_DB_MBOX], &k, NULL));
	if (rc < 0)
		return rc;
	k = st_val(kb, mbname_key(kb, user_id, name));
	return st_lmdb_err(mdb_del(txn, s->dbi[ST_DB_MBNAME], &k, NULL));
}

int st_mbox_delete_all(st_store_t *s, MDB_txn *txn, uint64_t user_id)
{
	uint8_t pre[8];
	char name[ST_STR_CAP];
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	st_be64_put(pre, user_id);
	for (;;) {
		uint64_t id;

		rc = mdb_cursor_open(txn, s->dbi[ST_DB_MBNAME], &cur);
		if (rc != 0)
			return st_lmdb_err(rc);
		k = st_val(pre, 8);
		rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
		mdb_cursor_close(cur);
		if (rc == MDB_NOTFOUND || (rc == 0 && (k.mv_size <= 8 ||
						       memcmp(k.mv_data, pre, 8) != 0)))
			return 0;
		if (rc != 0)
			return st_lmdb_err(rc);
		if (v.mv_size != 8 || k.mv_size - 8 >= sizeof(name))
			return SL_ECORRUPT;
		memcpy(name, (const uint8_t *)k.mv_data + 8, k.mv_size - 8);
		name[k.mv_size - 8] = '\0';
		id = st_be64_get(v.mv_data);
		rc = mbox_remove(s, txn, user_id, name, id);
		if (rc < 0)
			return rc;
	}
}

static int op_create(st_store_t *s, MDB_txn *txn, st_req_t *r)
{
	st_mbox_t m;
	char sup[ST_STR_CAP];
	uint64_t id;
	int rc;

	rc = st_user_exists(s, txn, r->id1);
	if (rc < 0)
		return rc == SL_ENOENT ? fail(r, rc, "unknown user") : rc;
	/* RFC 3501 §6.3.3: create the superior levels that are missing. */
	for (const char *p = strchr(r->s1, ST_MAILBOX_DELIM); p != NULL;
	     p = strchr(p + 1, ST_MAILBOX_DELIM)) {
		memcpy(sup, r->s1, (size_t)(p - r->s1));
		sup[p - r->s1] = '\0';
		rc = st_mbox_lookup(s, txn, r->id1, sup, &id);
		if (rc == SL_ENOENT)
			rc = st_mbox_create_rec(s, txn, r->id1, sup, 0, 0, NULL, NULL);
		if (rc < 0)
			return rc;
	}
	rc = st_mbox_lookup(s, txn, r->id1, r->s1, &id);
	if (rc == SL_ENOENT) {
		rc = st_mbox_create_rec(s, txn, r->id1, r->s1, r->u32, 0,
					&r->res.u.mailbox.mailbox_id,
					&r->res.u.mailbox.uidvalidity);
		return rc;
	}
	if (rc < 0)
		return rc;
	rc = st_mbox_load(s, txn, id, &m);
	if (rc < 0)
		return rc;
	if (!(m.r.attrs & ST_MBOX_NOSELECT))
		return fail(r, SL_EEXIST, "mailbox exists");
	/* A \Noselect name becomes a real mailbox again. Its UIDNEXT was kept,
	 * so UIDs stay unique; a new UIDVALIDITY tells clients to forget any
	 * cache from before the delete. */
	m.r.attrs &= ~ST_MBOX_NOSELECT;
	m.r.roles = r->u32;
	{
		uint64_t uv;
		rc = st_meta_next_id(s, txn, "uidvalidity", &uv);
		if (rc < 0)
			return rc;
		m.r.uidvalidity = (uint32_t)uv;
	}
	r->res.u.mailbox.mailbox_id = m.id;
	r->res.u.mailbox.uidvalidity = m.r.uidvalidity;
	return st_mbox_store(s, txn, &m);
}

struct ren {
	uint64_t id;
	char from[ST_STR_CAP];
	char to[ST_STR_CAP];
};

static int op_rename(st_store_t *s, MDB_txn *txn, st_req_t *r)
{
	st_mbox_t m;
	const char *from = r->s1, *to = r->s2, *dummy;
	size_t fl = strlen(from), tl = strlen(to), n = 0, cap = 16;
	uint8_t kb[8 + ST_STR_CAP + 1], idb[8];
	struct ren *list = NULL, *tmp;
	char sup[ST_STR_CAP];
	MDB_cursor *cur = NULL;
	uint64_t id, other;
	MDB_val k, v;
	int rc;

	if (strcmp(from, to) == 0)
		return fail(r, SL_EEXIST, "mailbox exists");
	if (tl > fl && memcmp(to, from, fl) == 0 && to[fl] == ST_MAILBOX_DELIM &&
	    strcmp(from, "INBOX") != 0)
		return fail(r, SL_EINVAL, "cannot rename a mailbox into its own hierarchy");
	rc = st_mbox_lookup(s, txn, r->id1, from, &id);
	if (rc < 0)
		return rc == SL_ENOENT ? fail(r, rc, "no such mailbox") : rc;
	rc = st_mbox_lookup(s, txn, r->id1, to, &other);
	if (rc == 0)
		return fail(r, SL_EEXIST, "target mailbox exists");
	if (rc != SL_ENOENT)
		return rc;

	list = malloc(cap * sizeof(*list));
	if (list == NULL)
		return SL_ENOMEM;
	list[n].id = id;
	snprintf(list[n].from, ST_STR_CAP, "%s", from);
	snprintf(list[n].to, ST_STR_CAP, "%s", to);
	n++;
	/* RFC 3501 §6.3.5: inferiors are renamed too, except INBOX's. */
	if (strcmp(from, "INBOX") != 0) {
		size_t kn = mbname_key(kb, r->id1, from);

		kb[kn++] = ST_MAILBOX_DELIM;
		rc = mdb_cursor_open(txn, s->dbi[ST_DB_MBNAME], &cur);
		if (rc != 0)
			goto fail_lmdb;
		k = st_val(kb, kn);
		for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
		     rc == 0 && k.mv_size > kn && memcmp(k.mv_data, kb, kn) == 0;
		     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
			size_t suffix = k.mv_size - kn;
			if (n == cap) {
				cap *= 2;
				tmp = realloc(list, cap * sizeof(*list));
				if (tmp == NULL) {
					rc = SL_ENOMEM;
					goto fail_sl;
				}
				list = tmp;
			}
			if (v.mv_size != 8 || k.mv_size - 8 >= ST_STR_CAP) {
				rc = SL_ECORRUPT;
				goto fail_sl;
			}
			list[n].id = st_be64_get(v.mv_data);
			memcpy(list[n].from, (const uint8_t *)k.mv_data + 8, k.mv_size - 8);
			list[n].from[k.mv_size - 8] = '\0';
			if (tl + 1 + suffix > ST_MAILBOX_NAME_MAX) {
				r->res.error = "renamed inferior name too long";
				rc = SL_EINVAL;
				goto fail_sl;
			}
			snprintf(list[n].to, ST_STR_CAP, "%s%s", to, list[n].from + fl);
			if (st_mailbox_canon(list[n].to, sup, &dummy) < 0) {
				r->res.error = "renamed inferior name invalid (too deep)";
				rc = SL_EINVAL;
				goto fail_sl;
			}
			n++;
		}
		mdb_cursor_close(cur);
		cur = NULL;
		if (rc != 0 && rc != MDB_NOTFOUND)
			goto fail_lmdb;
		for (size_t i = 1; i < n; i++) {
			rc = st_mbox_lookup(s, txn, r->id1, list[i].to, &other);
			if (rc == 0) {
				r->res.error = "an inferior target name exists";
				rc = SL_EEXIST;
				goto fail_sl;
			}
			if (rc != SL_ENOENT)
				goto fail_sl;
		}
	}
	/* Two phases: drop every old name, then add every new one. */
	for (size_t i = 0; i < n; i++) {
		k = st_val(kb, mbname_key(kb, r->id1, list[i].from));
		rc = mdb_del(txn, s->dbi[ST_DB_MBNAME], &k, NULL);
		if (rc != 0)
			goto fail_lmdb;
	}
	for (size_t i = 0; i < n; i++) {
		k = st_val(kb, mbname_key(kb, r->id1, list[i].to));
		st_be64_put(idb, list[i].id);
		v = st_val(idb, 8);
		rc = mdb_put(txn, s->dbi[ST_DB_MBNAME], &k, &v, MDB_NOOVERWRITE);
		if (rc != 0)
			goto fail_lmdb;
		rc = st_mbox_load(s, txn, list[i].id, &m);
		if (rc < 0)
			goto fail_sl;
		snprintf(m.name, sizeof(m.name), "%s", list[i].to);
		/* Renaming INBOX moves its messages; the role stays with INBOX. */
		if (i == 0 && strcmp(from, "INBOX") == 0)
			m.r.roles &= ~(uint32_t)ST_ROLE_INBOX;
		rc = st_mbox_store(s, txn, &m);
		if (rc < 0)
			goto fail_sl;
	}
	if (strcmp(from, "INBOX") == 0) {
		rc = st_mbox_create_rec(s, txn, r->id1, "INBOX", ST_ROLE_INBOX, 0, NULL, NULL);
		if (rc < 0)
			goto fail_sl;
	}
	for (const char *p = strchr(to, ST_MAILBOX_DELIM); p != NULL;
	     p = strchr(p + 1, ST_MAILBOX_DELIM)) {
		memcpy(sup, to, (size_t)(p - to));
		sup[p - to] = '\0';
		rc = st_mbox_lookup(s, txn, r->id1, sup, &other);
		if (rc == SL_ENOENT)
			rc = st_mbox_create_rec(s, txn, r->id1, sup, 0, 0, NULL, NULL);
		if (rc < 0)
			goto fail_sl;
	}
	free(list);
	return 0;
fail_lmdb:
	rc = st_lmdb_err(rc);
fail_sl:
	if (cur != NULL)
		mdb_cursor_close(cur);
	free(list);
	return rc;
}

static int op_delete(st_store_t *s, MDB_txn *txn, st_req_t *r)
{
	st_mbox_t m;
	uint64_t id;
	int rc;

	if (strcmp(r->s1, "INBOX") == 0)
		return fail(r, SL_EBUSY, "INBOX cannot be deleted");
	rc = st_mbox_lookup(s, txn, r->id1, r->s1, &id);
	if (rc < 0)
		return rc == SL_ENOENT ? fail(r, rc, "no such mailbox") : rc;
	rc = has_children(s, txn, r->id1, r->s1);
	if (rc < 0)
		return rc;
	if (rc == 0)
		return mbox_remove(s, txn, r->id1, r->s1, id);
	/* RFC 3501 §6.3.4: with inferiors, the messages go and the name stays
	 * as \Noselect; a \Noselect name with inferiors cannot be deleted. */
	rc = st_mbox_load(s, txn, id, &m);
	if (rc < 0)
		return rc;
	if (m.r.attrs & ST_MBOX_NOSELECT)
		return fail(r, SL_EBUSY, "mailbox has inferior hierarchical names");
	rc = st_mbox_purge(s, txn, id);
	if (rc < 0)
		return rc;
	/* The purge took the expunge history with it: everything up to now
	 * is forgotten (re-creation brings a new UIDVALIDITY anyway). */
	m.x.vanished_floor = m.r.highestmodseq;
	m.x.vanished_count = 0;
	m.x.flags = 0;
	m.r.attrs |= ST_MBOX_NOSELECT;
	m.r.count = m.r.unseen = 0;
	m.r.size = 0;
	m.r.highestmodseq++;
	m.r.roles = 0;
	m.r.n_keywords = 0;
	return st_mbox_store(s, txn, &m);
}

static int op_subscribe(st_store_t *s, MDB_txn *txn, st_req_t *r)
{
	uint8_t kb[8 + ST_STR_CAP];
	MDB_val k = st_val(kb, mbname_key(kb, r->id1, r->s1)), v = st_val("", 0);
	int rc;

	rc = st_user_exists(s, txn, r->id1);
	if (rc < 0)
		return rc == SL_ENOENT ? fail(r, rc, "unknown user") : rc;
	if (r->flag)
		return st_lmdb_err(mdb_put(txn, s->dbi[ST_DB_SUBS], &k, &v, 0));
	rc = st_lmdb_err(mdb_del(txn, s->dbi[ST_DB_SUBS], &k, NULL));
	return rc == SL_ENOENT ? fail(r, rc, "not subscribed") : rc;
}

static int op_set_roles(st_store_t *s, MDB_txn *txn, st_req_t *r)
{
	st_mbox_t m;
	uint64_t id;
	int rc;

	rc = st_mbox_lookup(s, txn, r->id1, r->s1, &id);
	if (rc < 0)
		return rc == SL_ENOENT ? fail(r, rc, "no such mailbox") : rc;
	rc = st_mbox_load(s, txn, id, &m);
	if (rc < 0)
		return rc;
	m.r.roles = r->u32;
	return st_mbox_store(s, txn, &m);
}

int st_apply_mailbox(st_store_t *s, MDB_txn *txn, st_req_t *r)
{
	int rc;

	switch (r->op) {
	case ST_OP_MAILBOX_CREATE:
		rc = op_create(s, txn, r);
		break;
	case ST_OP_MAILBOX_RENAME:
		rc = op_rename(s, txn, r);
		break;
	case ST_OP_MAILBOX_DELETE:
		rc = op_delete(s, txn, r);
		break;
	case ST_OP_MAILBOX_SUBSCRIBE:
		rc = op_subscribe(s, txn, r);
		break;
	case ST_OP_MAILBOX_SET_ROLE:
		rc = op_set_roles(s, txn, r);
		break;
	default:
		return SL_EINVAL;
	}
	/* Each of these changes the user's mailbox set (LIST/LSUB). */
	if (rc == 0)
		st_touch_user(s, r->id1);
	return rc;
}
