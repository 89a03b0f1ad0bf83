/* st_ops_queue - writer-side operations on the outbound queue, quarantine
 * and the opaque key spaces (filter state, config); and the queue and
 * quarantine record codecs. Strings in records are stored with their NUL so
 * readers can hand out pointers into the map. */
#include <stdlib.h>
#include <time.h>

#include "st_private.h"

static int fail(st_req_t *r, int rc, const char *text)
{
	r->res.error = text;
	return rc;
}

void st_qdue_key(uint8_t k[16], int64_t when, uint64_t id)
{
	st_be64_put(k, (uint64_t)when ^ (1ull << 63));
	st_be64_put(k + 8, id);
}

static bool text_ok(const char *t, size_t max)
{
	size_t n = strnlen(t, max + 1);

	if (n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)t[i] < 0x20 || t[i] == 0x7f)
			return false;
	return true;
}

static bool addr_ok(const char *a)
{
	return a != NULL && a[0] != '\0' && text_ok(a, ST_ADDR_MAX);
}

/* --- queue codec ------------------------------------------------------- */

int st_queue_decode(MDB_val v, st_queue_rec_t *h, const char **sender_r, st_queue_rcpt_t *rcpts)
{
	const char *p = v.mv_data, *end = p + v.mv_size;

	if (v.mv_size < sizeof(*h))
		return SL_ECORRUPT;
	memcpy(h, p, sizeof(*h));
	p += sizeof(*h);
	if (h->n_rcpts > ST_RCPT_MAX || end - p < h->sender_len + 1 || p[h->sender_len] != '\0')
		return SL_ECORRUPT;
	*sender_r = p;
	p += h->sender_len + 1;
	for (uint32_t i = 0; i < h->n_rcpts; i++) {
		st_queue_rcpt_rec_t rr;

		if ((size_t)(end - p) < sizeof(rr))
			return SL_ECORRUPT;
		memcpy(&rr, p, sizeof(rr));
		p += sizeof(rr);
		if (end - p < (ptrdiff_t)rr.addr_len + 1 + rr.diag_len + 1 ||
		    p[rr.addr_len] != '\0' || p[rr.addr_len + 1 + rr.diag_len] != '\0')
			return SL_ECORRUPT;
		rcpts[i].address = p;
		rcpts[i].diag = p + rr.addr_len + 1;
		rcpts[i].status = (enum st_rcpt_status)rr.status;
		rcpts[i].code = rr.code;
		rcpts[i].attempts = rr.attempts;
		p += rr.addr_len + 1 + rr.diag_len + 1;
	}
	return p == end ? 0 : SL_ECORRUPT;
}

/* Encode header H (n_rcpts set), SENDER and RCPTS into a malloc'd buffer. */
static int queue_encode(st_queue_rec_t *h, const char *sender, const st_queue_rcpt_t *rcpts,
			uint8_t **buf_r, size_t *len_r)
{
	size_t n = sizeof(*h) + strlen(sender) + 1, off;
	uint8_t *buf;

	for (uint32_t i = 0; i < h->n_rcpts; i++)
		n += sizeof(st_queue_rcpt_rec_t) + strlen(rcpts[i].address) + 1 +
		     strlen(rcpts[i].diag) + 1;
	buf = malloc(n);
	if (buf == NULL)
		return SL_ENOMEM;
	h->sender_len = (uint16_t)strlen(sender);
	memcpy(buf, h, sizeof(*h));
	off = sizeof(*h);
	memcpy(buf + off, sender, h->sender_len + 1u);
	off += h->sender_len + 1u;
	for (uint32_t i = 0; i < h->n_rcpts; i++) {
		st_queue_rcpt_rec_t rr = {
			.attempts = rcpts[i].attempts,
			.code = rcpts[i].code,
			.status = (uint8_t)rcpts[i].status,
			.addr_len = (uint16_t)strlen(rcpts[i].address),
			.diag_len = (uint16_t)strlen(rcpts[i].diag),
		};
		memcpy(buf + off, &rr, sizeof(rr));
		off += sizeof(rr);
		memcpy(buf + off, rcpts[i].address, rr.addr_len + 1u);
		off += rr.addr_len + 1u;
		memcpy(buf + off, rcpts[i].diag, rr.diag_len + 1u);
		off += rr.diag_len + 1u;
	}
	*buf_r = buf;
	*len_r = n;
	return 0;
}

static int queue_put(st_store_t *s, MDB_txn *txn, uint64_t id, st_queue_rec_t *h,
		     const char *sender, const st_queue_rcpt_t *rcpts)
{
	uint8_t kb[8], *buf = NULL;
	size_t len;
	MDB_val k = st_val(kb, 8), v;
	int rc = queue_encode(h, sender, rcpts, &buf, &len);

	if (rc < 0)
		return rc;
	st_be64_put(kb, id);
	v = st_val(buf, len);
	rc = st_lmdb_err(mdb_put(txn, s->dbi[ST_DB_QUEUE], &k, &v, 0));
	free(buf);
	return rc;
}

static int qdue_put(st_store_t *s, MDB_txn *txn, int64_t when, uint64_t id, bool del)
{
	uint8_t kb[16];
	MDB_val k = st_val(kb, 16), v = st_val("", 0);
	int rc;

	st_qdue_key(kb, when, id);
	if (!del)
		return st_lmdb_err(mdb_put(txn, s->dbi[ST_DB_QDUE], &k, &v, 0));
	rc = mdb_del(txn, s->dbi[ST_DB_QDUE], &k, NULL);
	return rc == MDB_NOTFOUND ? SL_ECORRUPT : st_lmdb_err(rc);
}

int st_queue_add_rec(st_store_t *s, MDB_txn *txn, st_req_t *r, uint64_t *id_r)
{
	const st_deliver_t *d = &r->deliver;
	const char *sender = d->relay_sender != NULL ? d->relay_sender : "";
	st_queue_rcpt_t *rc_arr;
	st_queue_rec_t h;
	uint64_t id;
	int rc;

	if (!text_ok(sender, ST_ADDR_MAX))
		return fail(r, SL_EINVAL, "bad relay sender");
	for (unsigned i = 0; i < d->n_relay_rcpts; i++)
		if (!addr_ok(d->relay_rcpts[i]))
			return fail(r, SL_EINVAL, "bad relay recipient");
	rc_arr = calloc(d->n_relay_rcpts, sizeof(*rc_arr));
	if (rc_arr == NULL)
		return SL_ENOMEM;
	for (unsigned i = 0; i < d->n_relay_rcpts; i++) {
		rc_arr[i].address = d->relay_rcpts[i];
		rc_arr[i].diag = "";
		rc_arr[i].status = ST_RCPT_PENDING;
	}
	memset(&h, 0, sizeof(h));
	h.created = time(NULL);
	h.next_attempt = d->relay_next_attempt != 0 ? d->relay_next_attempt : h.created;
	h.size = r->bytes;
	h.n_rcpts = d->n_relay_rcpts;
	memcpy(h.blob, r->hash.b, ST_BLOB_ID_LEN);
	rc = st_meta_next_id(s, txn, "queue_id", &id);
	if (rc == 0)
		rc = queue_put(s, txn, id, &h, sender, rc_arr);
	if (rc == 0)
		rc = qdue_put(s, txn, h.next_attempt, id, false);
	free(rc_arr);
	if (rc == 0)
		*id_r = id;
	return rc;
}

static int queue_load(st_store_t *s, MDB_txn *txn, uint64_t id, uint8_t **copy_r, MDB_val *v_r)
{
	uint8_t kb[8];
	MDB_val k = st_val(kb, 8), v;
	int rc;

	st_be64_put(kb, id);
	rc = mdb_get(txn, s->dbi[ST_DB_QUEUE], &k, &v);
	if (rc != 0)
		return st_lmdb_err(rc);
	/* The record is rewritten below: work on a private copy. */
	*copy_r = malloc(v.mv_size);
	if (*copy_r == NULL)
		return SL_ENOMEM;
	memcpy(*copy_r, v.mv_data, v.mv_size);
	*v_r = st_val(*copy_r, v.mv_size);
	return 0;
}

static int op_queue_update(st_store_t *s, MDB_txn *txn, st_req_t *r)
{
	uint8_t *copy = NULL;
	st_queue_rcpt_t *rcpts = NULL;
	const char *sender;
	st_queue_rec_t h;
	MDB_val v;
	int rc;

	rc = queue_load(s, txn, r->id1, &copy, &v);
	if (rc < 0)
		return rc == SL_ENOENT ? fail(r, rc, "no such queue entry") : rc;
	rcpts = calloc(ST_RCPT_MAX, sizeof(*rcpts));
	if (rcpts == NULL) {
		rc = SL_ENOMEM;
		goto out;
	}
	rc = st_queue_decode(v, &h, &sender, rcpts);
	if (rc < 0)
		goto out;
	for (unsigned i = 0; i < r->n_qupd; i++) {
		const st_queue_rcpt_update_t *u = &r->qupd[i];

		if (u->index >= h.n_rcpts || (unsigned)u->status > ST_RCPT_FAILED ||
		    (u->diag != NULL && !text_ok(u->diag, ST_DIAG_MAX))) {
			rc = fail(r, SL_EINVAL, "bad recipient update");
			goto out;
		}
		rcpts[u->index].status = u->status;
		rcpts[u->index].code = u->code;
		rcpts[u->index].attempts++;
		if (u->diag != NULL)
			rcpts[u->index].diag = u->diag;
	}
	rc = qdue_put(s, txn, h.next_attempt, r->id1, true);
	if (rc < 0)
		goto out;
	h.attempts++;
	h.next_attempt = r->when;
	rc = qdue_put(s, txn, h.next_attempt, r->id1, false);
	if (rc == 0)
		rc = queue_put(s, txn, r->id1, &h, sender, rcpts);
out:
	free(rcpts);
	free(copy);
	return rc;
}

static int op_queue_del(st_store_t *s, MDB_txn *txn, st_req_t *r)
{
	uint8_t kb[8];
	st_queue_rec_t h;
	MDB_val k = st_val(kb, 8), v;
	int rc;

	st_be64_put(kb, r->id1);
	rc = mdb_get(txn, s->dbi[ST_DB_QUEUE], &k, &v);
	if (rc != 0)
		return rc == MDB_NOTFOUND ? fail(r, SL_ENOENT, "no such queue entry")
					  : st_lmdb_err(rc);
	if (v.mv_size < sizeof(h))
		return SL_ECORRUPT;
	memcpy(&h, v.mv_data, sizeof(h));
	rc = qdue_put(s, txn, h.next_attempt, r->id1, true);
	if (rc == 0)
		rc = st_lmdb_err(mdb_del(txn, s->dbi[ST_DB_QUEUE], &k, NULL));
	if (rc == 0)
		rc = st_blob_unref(s, txn, h.blob);
	return rc;
}

/* --- quarantine -------------------------------------------------------- */

int st_quar_decode(MDB_val v, st_quar_rec_t *h, const char **verdict_r, const char **sender_r,
		   const char **rcpts)
{
	const char *p = v.mv_data, *end = p + v.mv_size;

	if (v.mv_size < sizeof(*h))
		return SL_ECORRUPT;
	memcpy(h, p, sizeof(*h));
	p += sizeof(*h);
	if (h->n_rcpts > ST_RCPT_MAX ||
	    end - p < (ptrdiff_t)h->verdict_len + 1 + h->sender_len + 1 ||
	    p[h->verdict_len] != '\0' || p[h->verdict_len + 1 + h->sender_len] != '\0')
		return SL_ECORRUPT;
	*verdict_r = p;
	p += h->verdict_len + 1;
	*sender_r = p;
	p += h->sender_len + 1;
	for (uint32_t i = 0; i < h->n_rcpts; i++) {
		uint16_t len;

		if (end - p < 2)
			return SL_ECORRUPT;
		memcpy(&len, p, 2);
		p += 2;
		if (end - p < (ptrdiff_t)len + 1 || p[len] != '\0')
			return SL_ECORRUPT;
		rcpts[i] = p;
		p += len + 1;
	}
	return p == end ? 0 : SL_ECORRUPT;
}

int st_quar_add_rec(st_store_t *s, MDB_txn *txn, st_req_t *r, uint64_t *id_r)
{
	const st_quarantine_info_t *q = r->deliver.quarantine;
	const char *verdict = q->verdict != NULL ? q->verdict : "";
	const char *sender = q->sender != NULL ? q->sender : "";
	st_quar_rec_t h;
	uint8_t kb[8], *buf;
	size_t n, off;
	uint64_t id;
	MDB_val k = st_val(kb, 8), v;
	int rc;

	if (!text_ok(verdict, ST_VERDICT_MAX) || !text_ok(sender, ST_ADDR_MAX) ||
	    q->n_rcpts > ST_RCPT_MAX)
		return fail(r, SL_EINVAL, "bad quarantine entry");
	n = sizeof(h) + strlen(verdict) + 1 + strlen(sender) + 1;
	for (unsigned i = 0; i < q->n_rcpts; i++) {
		if (!addr_ok(q->rcpts[i]))
			return fail(r, SL_EINVAL, "bad quarantine recipient");
		n += 2 + strlen(q->rcpts[i]) + 1;
	}
	memset(&h, 0, sizeof(h));
	h.created = time(NULL);
	h.size = r->bytes;
	h.score_milli = q->score_milli;
	h.n_rcpts = q->n_rcpts;
	memcpy(h.blob, r->hash.b, ST_BLOB_ID_LEN);
	h.verdict_len = (uint16_t)strlen(verdict);
	h.sender_len = (uint16_t)strlen(sender);
	buf = malloc(n);
	if (buf == NULL)
		return SL_ENOMEM;
	memcpy(buf, &h, sizeof(h));
	off = sizeof(h);
	memcpy(buf + off, verdict, h.verdict_len + 1u);
	off += h.verdict_len + 1u;
	memcpy(buf + off, sender, h.sender_len + 1u);
	off += h.sender_len + 1u;
	for (unsigned i = 0; i < q->n_rcpts; i++) {
		uint16_t len = (uint16_t)strlen(q->rcpts[i]);
		memcpy(buf + off, &len, 2);
		memcpy(buf + off + 2, q->rcpts[i], len + 1u);
		off += 2 + len + 1u;
	}
	rc = st_meta_next_id(s, txn, "quarantine_id", &id);
	if (rc == 0) {
		st_be64_put(kb, id);
		v = st_val(buf, n);
		rc = st_lmdb_err(mdb_put(txn, s->dbi[ST_DB_QUAR], &k, &v, MDB_NOOVERWRITE));
	}
	free(buf);
	if (rc == 0)
		*id_r = id;
	return rc;
}

static int op_quar_del(st_store_t *s, MDB_txn *txn, st_req_t *r)
{
	uint8_t kb[8];
	st_quar_rec_t h;
	MDB_val k = st_val(kb, 8), v;
	int rc;

	st_be64_put(kb, r->id1);
	rc = mdb_get(txn, s->dbi[ST_DB_QUAR], &k, &v);
	if (rc != 0)
		return rc == MDB_NOTFOUND ? fail(r, SL_ENOENT, "no such quarantine entry")
					  : st_lmdb_err(rc);
	if (v.mv_size < sizeof(h))
		return SL_ECORRUPT;
	memcpy(&h, v.mv_data, sizeof(h));
	rc = st_lmdb_err(mdb_del(txn, s->dbi[ST_DB_QUAR], &k, NULL));
	if (rc == 0)
		rc = st_blob_unref(s, txn, h.blob);
	return rc;
}

/* --- key spaces -------------------------------------------------------- */

static int op_kv_write(st_store_t *s, MDB_txn *txn, st_req_t *r)
{
	MDB_dbi dbi = s->dbi[r->ns == ST_NS_CONFIG ? ST_DB_CONFIG : ST_DB_FILTER];

	for (unsigned i = 0; i < r->n_kv; i++) {
		const st_kv_op_t *o = &r->kv[i];
		MDB_val k = st_val(o->key.ptr, o->key.len), v;
		int64_t cnt = 0;
		int rc;

		if (o->key.len == 0 || o->key.len > ST_KV_KEY_MAX)
			return fail(r, SL_EINVAL, "bad key size");
		switch (o->kind) {
		case ST_KV_PUT:
			if (o->value.len > ST_KV_VALUE_MAX)
				return fail(r, SL_EINVAL, "value too large");
			v = st_val(o->value.ptr, o->value.len);
			rc = mdb_put(txn, dbi, &k, &v, 0);
			break;
		case ST_KV_DEL:
			rc = mdb_del(txn, dbi, &k, NULL);
			if (rc == MDB_NOTFOUND)
				rc = 0;
			break;
		case ST_KV_ADD:
			rc = mdb_get(txn, dbi, &k, &v);
			if (rc == 0) {
				if (v.mv_size != sizeof(cnt))
					return fail(r, SL_ECORRUPT, "value is not a counter");
				memcpy(&cnt, v.mv_data, sizeof(cnt));
			} else if (rc != MDB_NOTFOUND) {
				return st_lmdb_err(rc);
			}
			cnt += o->delta;
			if (cnt == 0) {
				rc = mdb_del(txn, dbi, &k, NULL);
				if (rc == MDB_NOTFOUND)
					rc = 0;
			} else {
				v = st_val(&cnt, sizeof(cnt));
				rc = mdb_put(txn, dbi, &k, &v, 0);
			}
			break;
		default:
			return fail(r, SL_EINVAL, "bad key-space operation");
		}
		if (rc != 0)
			return st_lmdb_err(rc);
	}
	return 0;
}

int st_apply_queue(st_store_t *s, MDB_txn *txn, st_req_t *r)
{
	switch (r->op) {
	case ST_OP_QUEUE_UPDATE:
		return op_queue_update(s, txn, r);
	case ST_OP_QUEUE_DEL:
		return op_queue_del(s, txn, r);
	case ST_OP_QUARANTINE_DEL:
		return op_quar_del(s, txn, r);
	case ST_OP_KV_WRITE:
		return op_kv_write(s, txn, r);
	default:
		return SL_EINVAL;
	}
}
