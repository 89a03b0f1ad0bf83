/* msg_struct - records the part tree and envelopes from parser events. */
#include <stdlib.h>
#include <strings.h>

#include "message/msg_private.h"
#include "message/msg_struct.h"
#include "sl_err.h"

#define NONE UINT32_MAX

typedef struct sparam {
	msg_sref_t name, value;
} sparam_t;

struct msg_struct {
	size_t max;
	sl_buf_t nodes;  /* msg_snode_t[] */
	sl_buf_t params; /* sparam_t[] */
	sl_buf_t strs;
	bool truncated;
	msg_callbacks_t chain;
};

msg_struct_t *msg_struct_new(size_t max_bytes)
{
	msg_struct_t *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->max = max_bytes ? max_bytes : (1u << 20);
	sl_buf_init(&s->nodes, s->max);
	sl_buf_init(&s->params, s->max);
	sl_buf_init(&s->strs, s->max);
	return s;
}

void msg_struct_reset(msg_struct_t *s)
{
	sl_buf_reset(&s->nodes);
	sl_buf_reset(&s->params);
	sl_buf_reset(&s->strs);
	s->truncated = false;
}

void msg_struct_free(msg_struct_t **sp)
{
	msg_struct_t *s = *sp;

	if (!s)
		return;
	sl_buf_free(&s->nodes);
	sl_buf_free(&s->params);
	sl_buf_free(&s->strs);
	free(s);
	*sp = NULL;
}

static size_t used(const msg_struct_t *s)
{
	return s->nodes.len + s->params.len + s->strs.len;
}

static bool room(msg_struct_t *s, size_t n)
{
	if (s->truncated || used(s) + n > s->max) {
		s->truncated = true;
		return false;
	}
	return true;
}

static msg_sref_t put(msg_struct_t *s, sl_slice_t v, bool set)
{
	msg_sref_t r = {0, 0, false};

	if (!set || !room(s, v.len + 1))
		return r;
	r.off = (uint32_t)s->strs.len;
	r.len = (uint32_t)v.len;
	if (sl_buf_append(&s->strs, v.ptr, v.len) < 0 || sl_buf_append(&s->strs, "", 1) < 0) {
		s->truncated = true;
		return (msg_sref_t){0, 0, false};
	}
	r.set = true;
	return r;
}

static msg_sref_t put_opt(msg_struct_t *s, sl_slice_t v)
{
	return put(s, v, v.ptr != NULL);
}

static msg_snode_t *node(const msg_struct_t *s, uint32_t i)
{
	if ((size_t)(i + 1) * sizeof(msg_snode_t) > s->nodes.len)
		return NULL;
	return (msg_snode_t *)(void *)s->nodes.data + i;
}

static uint32_t put_params(msg_struct_t *s, const msg_param_t *p, uint32_t n, uint32_t *count_r)
{
	uint32_t first = (uint32_t)(s->params.len / sizeof(sparam_t));

	*count_r = 0;
	for (uint32_t i = 0; i < n; i++) {
		sparam_t sp;
		if (!room(s, sizeof(sp)))
			break;
		sp.name = put(s, p[i].name, true);
		sp.value = put(s, p[i].value, true);
		if (s->truncated || sl_buf_append(&s->params, &sp, sizeof(sp)) < 0) {
			s->truncated = true;
			break;
		}
		(*count_r)++;
	}
	return first;
}

static int st_begin(void *ctx, const msg_part_t *pt)
{
	msg_struct_t *s = ctx;

	if (!s->truncated && pt->index == s->nodes.len / sizeof(msg_snode_t) && room(s, sizeof(msg_snode_t))) {
		msg_snode_t n;
		memset(&n, 0, sizeof(n));
		n.parent = pt->parent;
		n.first_child = NONE;
		n.next_sibling = NONE;
		n.depth = pt->depth;
		n.is_message = pt->is_message;
		n.is_multipart = pt->is_multipart;
		n.is_rfc822 = pt->is_rfc822;
		n.path = put(s, sl_slice_make(pt->path, strlen(pt->path)), true);
		n.type = put(s, pt->type, true);
		n.subtype = put(s, pt->subtype, true);
		n.param0 = put_params(s, pt->params, pt->nparams, &n.nparams);
		n.dparam0 = put_params(s, pt->disp_params, pt->ndisp_params, &n.ndparams);
		n.id = put_opt(s, pt->content_id);
		n.description = put_opt(s, pt->description);
		n.cte = put_opt(s, pt->cte_raw);
		n.cte_kind = pt->cte;
		n.md5 = put_opt(s, pt->md5);
		n.disp_type = put_opt(s, pt->disp_type);
		n.language = put_opt(s, pt->language);
		n.location = put_opt(s, pt->location);
		n.header_off = pt->header_off;
		n.body_off = pt->body_off;
		if (!s->truncated && sl_buf_append(&s->nodes, &n, sizeof(n)) == 0) {
			/* link under the parent */
			msg_snode_t *par = pt->parent == NONE ? NULL : node(s, pt->parent);
			if (par) {
				if (par->first_child == NONE) {
					par->first_child = pt->index;
				} else {
					msg_snode_t *c = node(s, par->first_child);
					while (c && c->next_sibling != NONE)
						c = node(s, c->next_sibling);
					if (c)
						c->next_sibling = pt->index;
				}
			}
		} else {
			s->truncated = true;
		}
	}
	return s->chain.part_begin ? s->chain.part_begin(s->chain.ctx, pt) : 0;
}

static const char *const env_names[MSG_ENV_N] = {
	"date", "subject", "from", "sender", "reply-to", "to", "cc", "bcc", "in-reply-to", "message-id",
};

static int st_header(void *ctx, const msg_part_t *pt, const msg_header_t *h)
{
	msg_struct_t *s = ctx;
	msg_snode_t *n = pt->is_message ? node(s, pt->index) : NULL;

	if (n && !s->truncated) {
		for (int k = 0; k < MSG_ENV_N; k++) {
			if (!n->env[k].set && sl_slice_eq_nocase(h->name, env_names[k])) {
				msg_sref_t r = put(s, h->raw_value, true);
				n = node(s, pt->index); /* the nodes did not move, but be plain about it */
				n->env[k] = r;
				break;
			}
		}
	}
	return s->chain.header ? s->chain.header(s->chain.ctx, pt, h) : 0;
}

static int st_end(void *ctx, const msg_part_t *pt)
{
	msg_struct_t *s = ctx;
	msg_snode_t *n = node(s, pt->index);

	if (n) {
		n->body_end = pt->body_end;
		n->body_lines = pt->body_lines;
		n->body_off = pt->body_off;
	}
	return s->chain.part_end ? s->chain.part_end(s->chain.ctx, pt) : 0;
}

static int st_body(void *ctx, const msg_part_t *pt, sl_slice_t d)
{
	msg_struct_t *s = ctx;
	return s->chain.body(s->chain.ctx, pt, d);
}

static int st_text(void *ctx, const msg_part_t *pt, sl_slice_t d)
{
	msg_struct_t *s = ctx;
	return s->chain.text(s->chain.ctx, pt, d);
}

static int st_raw(void *ctx, const msg_part_t *pt, sl_slice_t d)
{
	msg_struct_t *s = ctx;
	return s->chain.rawbody(s->chain.ctx, pt, d);
}

static int st_url(void *ctx, const msg_part_t *pt, sl_slice_t d)
{
	msg_struct_t *s = ctx;
	return s->chain.url(s->chain.ctx, pt, d);
}

void msg_struct_callbacks(msg_struct_t *s, const msg_callbacks_t *chain, msg_callbacks_t *cb_r)
{
	if (chain)
		s->chain = *chain;
	else
		memset(&s->chain, 0, sizeof(s->chain));
	/* events the structure does not need go to the chain only, and only
	 * when it wants them (no call per body piece otherwise) */
	cb_r->ctx = s;
	cb_r->part_begin = st_begin;
	cb_r->header = st_header;
	cb_r->part_end = st_end;
	cb_r->body = s->chain.body ? st_body : NULL;
	cb_r->text = s->chain.text ? st_text : NULL;
	cb_r->rawbody = s->chain.rawbody ? st_raw : NULL;
	cb_r->url = s->chain.url ? st_url : NULL;
}

uint32_t msg_struct_nparts(const msg_struct_t *s)
{
	return (uint32_t)(s->nodes.len / sizeof(msg_snode_t));
}

const msg_snode_t *msg_struct_part(const msg_struct_t *s, uint32_t i)
{
	return node(s, i);
}

sl_slice_t msg_struct_str(const msg_struct_t *s, msg_sref_t r)
{
	if (!r.set || (size_t)r.off + r.len > s->strs.len)
		return (sl_slice_t){NULL, 0};
	return sl_slice_make(s->strs.data + r.off, r.len);
}

void msg_struct_param(const msg_struct_t *s, uint32_t i, sl_slice_t *name_r, sl_slice_t *value_r)
{
	*name_r = (sl_slice_t){NULL, 0};
	*value_r = (sl_slice_t){NULL, 0};
	if ((size_t)(i + 1) * sizeof(sparam_t) > s->params.len)
		return;
	const sparam_t *p = (const sparam_t *)(const void *)s->params.data + i;
	*name_r = msg_struct_str(s, p->name);
	*value_r = msg_struct_str(s, p->value);
}

bool msg_struct_truncated(const msg_struct_t *s)
{
	return s->truncated;
}

int msg_struct_find(const msg_struct_t *s, const char *path)
{
	size_t pl = strlen(path);

	for (uint32_t i = 0; i < msg_struct_nparts(s); i++) {
		sl_slice_t p = msg_struct_str(s, node(s, i)->path);
		if (p.len == pl && memcmp(p.ptr, path, pl) == 0)
			return (int)i;
	}
	return -1;
}
