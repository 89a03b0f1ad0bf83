/* st_submit - the typed write requests: copy and check arguments on the
 * submitting thread, then queue for the writer. Arguments that can never
 * succeed still go through the writer as "pre-failed" requests, so every
 * error reaches the caller the same way: through its callback. */
#include <time.h>

#include "st_private.h"

static void prefail(st_req_t *r, int err, const char *text)
{
	if (r->pre_err == 0) {
		r->pre_err = err;
		r->pre_error = text;
	}
}

static st_req_t *begin(st_client_t *c, enum st_op op, st_done_fn *cb, void *ctx)
{
	if (c == NULL)
		return NULL;
	return st_req_alloc(c, op, cb, ctx);
}

#define BEGIN(op)                                           \
	st_req_t *r;                                        \
	if (c == NULL)                                      \
		return SL_EINVAL;                           \
	r = begin(c, (op), cb, ctx);                        \
	if (r == NULL)                                      \
		return SL_EAGAIN

static void canon_domain(st_req_t *r, const char *in)
{
	const char *e;

	if (st_domain_canon(in, r->s1, &e) < 0)
		prefail(r, SL_EINVAL, e);
}

static void canon_addr(st_req_t *r, char *out, const char *in)
{
	const char *e;

	if (st_address_canon(in, out, &e) < 0)
		prefail(r, SL_EINVAL, e);
}

static void canon_mailbox(st_req_t *r, char *out, const char *in)
{
	const char *e;

	if (st_mailbox_canon(in, out, &e) < 0)
		prefail(r, SL_EINVAL, e);
}

static void copy_pwhash(st_req_t *r, const char *h)
{
	size_t n = h != NULL ? strnlen(h, ST_PWHASH_MAX) : 0;

	if (n == 0 || n >= ST_PWHASH_MAX || strncmp(h, "$argon2id$", 10) != 0) {
		prefail(r, SL_EINVAL, "password hash is not an argon2id string");
		return;
	}
	memcpy(r->pwhash, h, n + 1);
}

int st_domain_add(st_client_t *c, const char *domain, st_done_fn *cb, void *ctx)
{
	BEGIN(ST_OP_DOMAIN_ADD);
	canon_domain(r, domain);
	return st_submit(c, r);
}

int st_domain_del(st_client_t *c, const char *domain, st_done_fn *cb, void *ctx)
{
	BEGIN(ST_OP_DOMAIN_DEL);
	canon_domain(r, domain);
	return st_submit(c, r);
}

int st_user_add(st_client_t *c, const char *address, const char *pwhash, st_done_fn *cb,
		void *ctx)
{
	BEGIN(ST_OP_USER_ADD);
	canon_addr(r, r->s1, address);
	copy_pwhash(r, pwhash);
	return st_submit(c, r);
}

int st_user_del(st_client_t *c, const char *address, st_done_fn *cb, void *ctx)
{
	BEGIN(ST_OP_USER_DEL);
	canon_addr(r, r->s1, address);
	return st_submit(c, r);
}

int st_user_passwd(st_client_t *c, const char *address, const char *pwhash, st_done_fn *cb,
		   void *ctx)
{
	BEGIN(ST_OP_USER_PASSWD);
	canon_addr(r, r->s1, address);
	copy_pwhash(r, pwhash);
	return st_submit(c, r);
}

int st_alias_add(st_client_t *c, const char *alias, const char *target, st_done_fn *cb,
		 void *ctx)
{
	BEGIN(ST_OP_ALIAS_ADD);
	canon_addr(r, r->s1, alias);
	canon_addr(r, r->s2, target);
	if (r->pre_err == 0 && strcmp(r->s1, r->s2) == 0)
		prefail(r, SL_EINVAL, "alias points to itself");
	return st_submit(c, r);
}

int st_alias_del(st_client_t *c, const char *alias, const char *target, st_done_fn *cb,
		 void *ctx)
{
	BEGIN(ST_OP_ALIAS_DEL);
	canon_addr(r, r->s1, alias);
	if (target != NULL)
		canon_addr(r, r->s2, target);
	return st_submit(c, r);
}

static void check_roles(st_req_t *r, uint32_t roles)
{
	if (roles & ~(uint32_t)ST_ROLE__ALL)
		prefail(r, SL_EINVAL, "unknown mailbox role");
	r->u32 = roles;
}

int st_mailbox_create(st_client_t *c, uint64_t user_id, const char *name, uint32_t roles,
		      st_done_fn *cb, void *ctx)
{
	BEGIN(ST_OP_MAILBOX_CREATE);
	r->id1 = user_id;
	canon_mailbox(r, r->s1, name);
	check_roles(r, roles);
	return st_submit(c, r);
}

int st_mailbox_rename(st_client_t *c, uint64_t user_id, const char *from, const char *to,
		      st_done_fn *cb, void *ctx)
{
	BEGIN(ST_OP_MAILBOX_RENAME);
	r->id1 = user_id;
	canon_mailbox(r, r->s1, from);
	canon_mailbox(r, r->s2, to);
	return st_submit(c, r);
}

int st_mailbox_delete(st_client_t *c, uint64_t user_id, const char *name, st_done_fn *cb,
		      void *ctx)
{
	BEGIN(ST_OP_MAILBOX_DELETE);
	r->id1 = user_id;
	canon_mailbox(r, r->s1, name);
	return st_submit(c, r);
}

int st_mailbox_subscribe(st_client_t *c, uint64_t user_id, const char *name, bool on,
			 st_done_fn *cb, void *ctx)
{
	BEGIN(ST_OP_MAILBOX_SUBSCRIBE);
	r->id1 = user_id;
	r->flag = on;
	canon_mailbox(r, r->s1, name);
	return st_submit(c, r);
}

int st_mailbox_set_roles(st_client_t *c, uint64_t user_id, const char *name, uint32_t roles,
			 st_done_fn *cb, void *ctx)
{
	BEGIN(ST_OP_MAILBOX_SET_ROLE);
	r->id1 = user_id;
	canon_mailbox(r, r->s1, name);
	check_roles(r, roles);
	return st_submit(c, r);
}

int st_msg_deliver(st_client_t *c, const st_deliver_t *d, st_done_fn *cb, void *ctx)
{
	if (d == NULL)
		return SL_EINVAL;
	BEGIN(ST_OP_DELIVER);
	r->deliver = *d;
	r->bytes = d->body.len;
	if (d->n_targets > ST_RCPT_MAX || d->n_relay_rcpts > ST_RCPT_MAX ||
	    d->n_keywords > ST_KEYWORDS_MAX ||
	    (d->n_targets > 0 && d->targets == NULL) ||
	    (d->n_relay_rcpts > 0 && d->relay_rcpts == NULL) ||
	    (d->n_keywords > 0 && d->keywords == NULL) ||
	    (d->quarantine != NULL && d->quarantine->n_rcpts > 0 && d->quarantine->rcpts == NULL))
		prefail(r, SL_EINVAL, "bad delivery arguments");
	else if (d->body.len > c->s->opts.body_max)
		prefail(r, SL_ELIMIT, "message too large");
	else if (d->body.ptr == NULL && (d->hash == NULL || d->body.len != 0))
		prefail(r, SL_EINVAL, "no body and no blob id");
	else if (d->hash != NULL)
		memcpy(r->hash.b, d->hash, ST_BLOB_ID_LEN);
	else
		st_sha256(d->body.ptr, d->body.len, r->hash.b);
	if (r->pre_err != 0)
		r->bytes = 0;
	if (r->deliver.internaldate == 0)
		r->deliver.internaldate = time(NULL);
	return st_submit(c, r);
}

int st_msg_flags(st_client_t *c, const st_flags_req_t *f, st_done_fn *cb, void *ctx)
{
	if (f == NULL)
		return SL_EINVAL;
	BEGIN(ST_OP_FLAGS);
	r->flags = *f;
	if ((f->n_uids > 0 && f->uids == NULL) || (f->n_keywords > 0 && f->keywords == NULL) ||
	    f->n_keywords > ST_KEYWORDS_MAX || (unsigned)f->mode > ST_FLAGS_REPLACE ||
	    (f->flags & ~(uint32_t)ST_FLAG__ALL))
		prefail(r, SL_EINVAL, "bad flag arguments");
	return st_submit(c, r);
}

static int submit_copy(st_client_t *c, enum st_op op, uint64_t src_id,
		       const st_uid_range_t *uids, unsigned n_uids, uint64_t dst_id,
		       uint32_t *src_uids_r, unsigned cap, st_done_fn *cb, void *ctx)
{
	BEGIN(op);
	r->id1 = src_id;
	r->id2 = dst_id;
	r->uids = uids;
	r->n_uids = n_uids;
	r->out_uids = src_uids_r;
	r->out_cap = cap;
	if (n_uids > 0 && uids == NULL)
		prefail(r, SL_EINVAL, "no uid ranges");
	return st_submit(c, r);
}

int st_msg_copy(st_client_t *c, uint64_t src_id, const st_uid_range_t *uids, unsigned n_uids,
		uint64_t dst_id, uint32_t *src_uids_r, unsigned src_uids_cap, st_done_fn *cb,
		void *ctx)
{
	return submit_copy(c, ST_OP_COPY, src_id, uids, n_uids, dst_id, src_uids_r, src_uids_cap,
			   cb, ctx);
}

int st_msg_move(st_client_t *c, uint64_t src_id, const st_uid_range_t *uids, unsigned n_uids,
		uint64_t dst_id, uint32_t *src_uids_r, unsigned src_uids_cap, st_done_fn *cb,
		void *ctx)
{
	return submit_copy(c, ST_OP_MOVE, src_id, uids, n_uids, dst_id, src_uids_r, src_uids_cap,
			   cb, ctx);
}

int st_msg_expunge(st_client_t *c, uint64_t mailbox_id, const st_uid_range_t *uids,
		   unsigned n_uids, bool deleted_only, uint32_t *uids_r, unsigned uids_cap,
		   st_done_fn *cb, void *ctx)
{
	BEGIN(ST_OP_EXPUNGE);
	r->id1 = mailbox_id;
	r->uids = uids;
	r->n_uids = n_uids;
	r->flag = deleted_only;
	r->out_uids = uids_r;
	r->out_cap = uids_cap;
	if (n_uids > 0 && uids == NULL)
		prefail(r, SL_EINVAL, "no uid ranges");
	return st_submit(c, r);
}

int st_blob_struct_set(st_client_t *c, const st_blob_id_t *id, sl_slice_t data, st_done_fn *cb,
		       void *ctx)
{
	if (id == NULL)
		return SL_EINVAL;
	BEGIN(ST_OP_STRUCT_SET);
	r->hash = *id;
	r->data = data;
	if (data.len > ST_STRUCT_MAX || (data.len > 0 && data.ptr == NULL))
		prefail(r, SL_EINVAL, "bad structure size");
	return st_submit(c, r);
}

int st_queue_update(st_client_t *c, uint64_t id, int64_t next_attempt,
		    const st_queue_rcpt_update_t *updates, unsigned n_updates, st_done_fn *cb,
		    void *ctx)
{
	BEGIN(ST_OP_QUEUE_UPDATE);
	r->id1 = id;
	r->when = next_attempt;
	r->qupd = updates;
	r->n_qupd = n_updates;
	if (n_updates > ST_RCPT_MAX || (n_updates > 0 && updates == NULL))
		prefail(r, SL_EINVAL, "bad recipient updates");
	return st_submit(c, r);
}

int st_queue_del(st_client_t *c, uint64_t id, st_done_fn *cb, void *ctx)
{
	BEGIN(ST_OP_QUEUE_DEL);
	r->id1 = id;
	return st_submit(c, r);
}

int st_quarantine_del(st_client_t *c, uint64_t id, st_done_fn *cb, void *ctx)
{
	BEGIN(ST_OP_QUARANTINE_DEL);
	r->id1 = id;
	return st_submit(c, r);
}

int st_kv_write(st_client_t *c, enum st_kv_ns ns, const st_kv_op_t *ops, unsigned n_ops,
		st_done_fn *cb, void *ctx)
{
	BEGIN(ST_OP_KV_WRITE);
	r->ns = ns;
	r->kv = ops;
	r->n_kv = n_ops;
	if ((unsigned)ns >= ST_NS__COUNT || (n_ops > 0 && ops == NULL))
		prefail(r, SL_EINVAL, "bad key-space request");
	return st_submit(c, r);
}
