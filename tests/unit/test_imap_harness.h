/* test_imap_harness - transcript harness and fake store for the IMAP
 * engine tests (test_imap.c, test_imap_fetch.c).
 *
 * The fake store plays the glue: it answers every request from an
 * in-memory model of one user's mailboxes, following the contract in
 * imap_session.h (name order for LIST, UID order for FETCH, resume with
 * skip/after, body ranges in pieces). Each script runs three times: each
 * payload in one call, one byte per call, and random splits (also of the
 * body pieces and of the output drain); the transcripts must agree.
 *
 * Script steps:
 *   C:text   client sends text + CRLF       R:raw  raw bytes ("^@" = NUL)
 *   S:line   next response line is exactly  S*pfx  starts with pfx
 *   W:pfx    skip lines until one starts with pfx (consumed)
 *   D        discard all output so far      N      no output pending
 *   X        the session is closing         T:secs advance the clock + timeout
 *   M:manual / M:auto                       O:opt  harness option
 *   Q:KIND RESULT  complete the pending request by hand
 *   P:KIND   this request is pending
 *   G:what   the mailbox changes elsewhere ("deliver", "seen UID",
 *            "expunge UID"), then imap_session_mailbox_changed */
#ifndef TEST_IMAP_HARNESS_H
#define TEST_IMAP_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap/imap_session.h"
#include "sl_buf.h"
#include "sl_err.h"
#include "sl_time.h"

#define HOST "imap.example.net"

/* ---- the fake store ---- */

#define FS_MSGS 64
#define FS_MBOXES 32
#define FS_KW 4

struct fs_msg {
	uint32_t uid;
	uint32_t flags;
	char kw[FS_KW][32];
	int nkw;
	uint64_t modseq;
	int64_t date;
	int32_t tz;
	const char *body;
	size_t len;
	bool recent;
};

struct fs_mbox {
	char name[256];
	bool noselect;
	uint32_t roles;
	uint32_t uidvalidity, uidnext;
	uint64_t hms;
	struct fs_msg m[FS_MSGS];
	int n;
	char kwtab[8][32];
	int nkwtab;
	struct {
		uint32_t uid;
		uint64_t modseq;
	} van[FS_MSGS];
	int nvan;
};

struct fs {
	struct fs_mbox mb[FS_MBOXES];
	int nmb;
	char subs[FS_MBOXES][256];
	int nsubs;
	uint32_t next_uidvalidity;
};

static const char fs_body1[] =
	"From: a@example.com\r\nSubject: one\r\nTo: b@example.com\r\n\r\nHello one.\r\n";
static const char fs_body2[] =
	"Subject: two\r\nX-Long: folded\r\n continued\r\n\r\nBody two line 1\r\nline 2\r\n";
static const char fs_body4[] = "Subject: four\r\n\r\n";
static const char fs_body7[] = "Subject: seven\r\n";

static char fs_big[200000];
static size_t fs_big_len;

static void fs_big_init(void)
{
	size_t n = 0;

	if (fs_big_len)
		return;
	n += (size_t)snprintf(fs_big, sizeof(fs_big), "Subject: big\r\n\r\n");
	for (unsigned i = 0; n + 64 < sizeof(fs_big); i++)
		n += (size_t)snprintf(fs_big + n, sizeof(fs_big) - n, "line %u of the big body\r\n", i);
	fs_big_len = n;
}

static int fs_find(const struct fs *st, const char *name)
{
	for (int i = 0; i < st->nmb; i++)
		if (!strcmp(st->mb[i].name, name))
			return i;
	return -1;
}

static struct fs_mbox *fs_add(struct fs *st, const char *name, uint32_t roles)
{
	struct fs_mbox *b = &st->mb[st->nmb++];

	memset(b, 0, sizeof(*b));
	snprintf(b->name, sizeof(b->name), "%s", name);
	b->roles = roles;
	b->uidvalidity = st->next_uidvalidity++;
	b->uidnext = 1;
	b->hms = 1;
	return b;
}

static void fs_msg_add(struct fs_mbox *b, uint32_t uid, uint32_t flags, const char *kw,
		       int64_t date, int32_t tz, const char *body, size_t len, bool recent)
{
	struct fs_msg *m = &b->m[b->n++];

	memset(m, 0, sizeof(*m));
	m->uid = uid;
	m->flags = flags;
	if (kw) {
		snprintf(m->kw[0], sizeof(m->kw[0]), "%s", kw);
		m->nkw = 1;
	}
	m->modseq = ++b->hms;
	m->date = date;
	m->tz = tz;
	m->body = body;
	m->len = len;
	m->recent = recent;
	b->uidnext = uid + 1;
}

static void fs_init(struct fs *st)
{
	struct fs_mbox *b;

	memset(st, 0, sizeof(*st));
	st->next_uidvalidity = 1000;
	b = fs_add(st, "INBOX", IMAP_ROLE_INBOX);
	/* 2026-01-01 00:00:00 UTC, 2026-01-15 12:00 +01:00, 2026-02-01, 2026-03-01 */
	fs_msg_add(b, 1, IMAP_FLAG_SEEN, NULL, 1767225600, 0, fs_body1, sizeof(fs_body1) - 1, false);
	fs_msg_add(b, 2, 0, "$Forwarded", 1768478400, 60, fs_body2, sizeof(fs_body2) - 1, false);
	fs_msg_add(b, 4, IMAP_FLAG_FLAGGED | IMAP_FLAG_DELETED, NULL, 1769904000, -300, fs_body4,
		   sizeof(fs_body4) - 1, false);
	fs_msg_add(b, 7, IMAP_FLAG_DELETED, NULL, 1772323200, 0, fs_body7, sizeof(fs_body7) - 1,
		   true);
	snprintf(b->kwtab[0], sizeof(b->kwtab[0]), "$Forwarded");
	snprintf(b->kwtab[1], sizeof(b->kwtab[1]), "Work");
	b->nkwtab = 2;
	b->uidnext = 8;
	fs_add(st, "Sent", IMAP_ROLE_SENT);
	b = fs_add(st, "Archive", 0);
	b->noselect = true;
	fs_add(st, "Archive/2025", IMAP_ROLE_ARCHIVE);
	fs_add(st, "T\xc3\xabst", 0);
	fs_big_init();
	b = fs_add(st, "Big", 0);
	fs_msg_add(b, 1, 0, NULL, 1767225600, 0, fs_big, fs_big_len, false);
	snprintf(st->subs[st->nsubs++], 256, "INBOX");
	snprintf(st->subs[st->nsubs++], 256, "Sent");
	snprintf(st->subs[st->nsubs++], 256, "Gone");
}

static bool fs_subscribed(const struct fs *st, const char *name)
{
	for (int i = 0; i < st->nsubs; i++)
		if (!strcmp(st->subs[i], name))
			return true;
	return false;
}

static bool fs_has_children(const struct fs *st, const char *name)
{
	size_t n = strlen(name);

	for (int i = 0; i < st->nmb; i++)
		if (!strncmp(st->mb[i].name, name, n) && st->mb[i].name[n] == '/')
			return true;
	return false;
}

static void fs_info(const struct fs *st, const struct fs_mbox *b, struct imap_mailbox_info *i)
{
	memset(i, 0, sizeof(*i));
	i->name = sl_slice_make(b->name, strlen(b->name));
	i->attrs = (b->noselect ? IMAP_MBA_NOSELECT : 0) |
		   (fs_has_children(st, b->name) ? IMAP_MBA_CHILDREN : 0) |
		   (fs_subscribed(st, b->name) ? IMAP_MBA_SUBSCRIBED : 0);
	i->roles = b->roles;
	i->messages = (uint32_t)b->n;
	for (int k = 0; k < b->n; k++) {
		if (!(b->m[k].flags & IMAP_FLAG_SEEN))
			i->unseen++;
		if (b->m[k].recent)
			i->recent++;
		i->size += b->m[k].len;
	}
	i->uidnext = b->uidnext;
	i->uidvalidity = b->uidvalidity;
	i->highestmodseq = b->hms;
}

static bool fs_name_ok(const char *n)
{
	size_t l = strlen(n);

	if (l == 0 || n[0] == '/' || n[l - 1] == '/' || strstr(n, "//") || strpbrk(n, "*%"))
		return false;
	return true;
}

static int fs_mailbox_op(struct fs *st, const struct imap_request *r)
{
	const char *name = (const char *)r->u.mailbox.name.ptr;
	int i = fs_find(st, name);

	assert_int_equal(r->u.mailbox.name.ptr[r->u.mailbox.name.len], 0);
	switch (r->u.mailbox.op) {
	case IMAP_MB_CREATE:
		if (!fs_name_ok(name))
			return SL_EINVAL;
		if (i >= 0) {
			if (!st->mb[i].noselect)
				return SL_EEXIST;
			st->mb[i].noselect = false;
			return 0;
		}
		if (st->nmb >= FS_MBOXES)
			return SL_ELIMIT;
		fs_add(st, name, r->u.mailbox.roles);
		return 0;
	case IMAP_MB_DELETE:
		if (i < 0)
			return SL_ENOENT;
		if (fs_has_children(st, name)) {
			if (st->mb[i].noselect)
				return SL_EBUSY;
			st->mb[i].noselect = true;
			st->mb[i].n = 0;
			return 0;
		}
		st->mb[i] = st->mb[--st->nmb];
		return 0;
	case IMAP_MB_RENAME: {
		const char *to = (const char *)r->u.mailbox.new_name.ptr;
		size_t fl = strlen(name);
		char buf[512];

		if (i < 0)
			return SL_ENOENT;
		if (fs_find(st, to) >= 0)
			return SL_EEXIST;
		if (!fs_name_ok(to))
			return SL_EINVAL;
		for (int k = 0; k < st->nmb; k++) {
			if (!strcmp(st->mb[k].name, name) ||
			    (!strncmp(st->mb[k].name, name, fl) && st->mb[k].name[fl] == '/')) {
				snprintf(buf, sizeof(buf), "%s%s", to, st->mb[k].name + fl);
				if (strlen(buf) >= sizeof(st->mb[k].name))
					return SL_EINVAL;
				memcpy(st->mb[k].name, buf, strlen(buf) + 1);
			}
		}
		return 0;
	}
	case IMAP_MB_SUBSCRIBE:
		if (!fs_subscribed(st, name))
			snprintf(st->subs[st->nsubs++], 256, "%s", name);
		return 0;
	case IMAP_MB_UNSUBSCRIBE:
		for (int k = 0; k < st->nsubs; k++) {
			if (!strcmp(st->subs[k], name)) {
				memmove(st->subs[k], st->subs[st->nsubs - 1], 256);
				st->nsubs--;
				return 0;
			}
		}
		return SL_ENOENT;
	}
	return SL_EINVAL;
}

static int fs_cmp_idx(const void *a, const void *b, void *ctx)
{
	const struct fs *st = ctx;

	return strcmp(st->mb[*(const int *)a].name, st->mb[*(const int *)b].name);
}

/* ---- the harness ---- */

struct h {
	struct imap_config cfg;
	struct imap_stats stats;
	struct imap_peer peer;
	imap_session_t *s;
	struct fs st;
	int sel;              /* the glue's selected mailbox, -1 none */
	uint64_t now;
	bool manual;
	int mode;
	unsigned seed;
	const char *name;
	int step;
	sl_buf_t backlog;
	sl_buf_t out;
	bool sending;
	bool structure;       /* O:structure: cached ENVELOPE/BODYSTRUCTURE exist */
	bool body_fail;       /* O:bodyfail: BODY requests fail */
	int short_by;         /* O:short: bodies shorter than their size */
	int list_requests;    /* LIST requests seen */
	int fetch_requests;
	char *appended[16];   /* bodies copied by APPEND */
	int n_appended;
};

static bool slice_is(sl_slice_t s, const char *lit)
{
	return s.len == strlen(lit) && memcmp(s.ptr, lit, s.len) == 0;
}

static void h_list(struct h *h, const struct imap_request *r)
{
	int idx[FS_MBOXES];
	uint32_t seen = 0;

	h->list_requests++;
	for (int i = 0; i < h->st.nmb; i++)
		idx[i] = i;
	qsort_r(idx, (size_t)h->st.nmb, sizeof(idx[0]), fs_cmp_idx, &h->st);
	for (int k = 0; k < h->st.nmb; k++) {
		struct imap_mailbox_info i;

		if (seen++ < r->u.list.skip)
			continue;
		fs_info(&h->st, &h->st.mb[idx[k]], &i);
		if (imap_session_list_entry(h->s, &i) == 1)
			goto done;
	}
	if (r->u.list.subscriptions) {
		for (int k = 0; k < h->st.nsubs; k++) {
			struct imap_mailbox_info i;

			if (fs_find(&h->st, h->st.subs[k]) >= 0)
				continue;
			if (seen++ < r->u.list.skip)
				continue;
			memset(&i, 0, sizeof(i));
			i.name = sl_slice_make(h->st.subs[k], strlen(h->st.subs[k]));
			i.attrs = IMAP_MBA_NONEXISTENT | IMAP_MBA_SUBSCRIBED;
			if (imap_session_list_entry(h->s, &i) == 1)
				goto done;
		}
	}
done:
	imap_session_list_done(h->s, h->now, 0);
}

static void h_select(struct h *h, const struct imap_request *r)
{
	int i = fs_find(&h->st, (const char *)r->u.select.name.ptr);
	struct imap_mailbox_info info;
	sl_slice_t kw[8];
	struct fs_mbox *b;

	h->sel = -1;
	if (i < 0) {
		imap_session_select_done(h->s, h->now, SL_ENOENT, NULL, NULL, 0);
		return;
	}
	b = &h->st.mb[i];
	for (int k = 0; k < b->n; k++)
		assert_int_equal(imap_session_select_msg(h->s, b->m[k].uid, b->m[k].flags,
							 b->m[k].recent),
				 0);
	fs_info(&h->st, b, &info);
	for (int k = 0; k < b->nkwtab; k++)
		kw[k] = sl_slice_make(b->kwtab[k], strlen(b->kwtab[k]));
	if (!b->noselect)
		h->sel = i;
	imap_session_select_done(h->s, h->now, 0, &info, kw, (size_t)b->nkwtab);
}

static bool fs_in(const struct imap_range *r, size_t n, uint32_t uid)
{
	for (size_t i = 0; i < n; i++)
		if (uid >= r[i].lo && uid <= r[i].hi)
			return true;
	return false;
}

static void h_fetch(struct h *h, const struct imap_request *r)
{
	struct fs_mbox *b = &h->st.mb[h->sel];

	h->fetch_requests++;
	assert_true(h->sel >= 0);
	for (size_t i = 0; i + 1 < r->u.fetch.n_uids; i++)
		assert_true(r->u.fetch.uids[i].hi < r->u.fetch.uids[i + 1].lo);
	for (int k = 0; k < b->n; k++) {
		struct fs_msg *m = &b->m[k];
		struct imap_msg_meta meta;
		sl_slice_t kw[FS_KW];

		if (m->uid <= r->u.fetch.after || !fs_in(r->u.fetch.uids, r->u.fetch.n_uids, m->uid))
			continue;
		memset(&meta, 0, sizeof(meta));
		meta.uid = m->uid;
		meta.flags = m->flags;
		for (int j = 0; j < m->nkw; j++)
			kw[j] = sl_slice_make(m->kw[j], strlen(m->kw[j]));
		meta.keywords = kw;
		meta.n_keywords = (size_t)m->nkw;
		meta.modseq = m->modseq;
		meta.internaldate = m->date;
		meta.tz_min = m->tz;
		meta.size = m->len;
		if (h->structure) {
			meta.envelope = SL_SLICE_LIT("(\"env\")");
			meta.body = SL_SLICE_LIT("(\"b\")");
			meta.bodystructure = SL_SLICE_LIT("(\"bs\")");
		}
		if (imap_session_fetch_msg(h->s, &meta) == 1)
			break;
	}
	imap_session_fetch_done(h->s, h->now, 0);
}

/* A fake part table: part 1 of any message is its text; 1.MIME its
 * header; 1.TEXT / 1.HEADER are refused as on a non-message part; part 7
 * fails in the store; anything else does not exist. */
static void h_section(struct h *h, const struct imap_request *r)
{
	struct fs_mbox *b = &h->st.mb[h->sel];
	const struct fs_msg *m = NULL;
	const char *path = (const char *)r->u.section.path.ptr;
	size_t hl = 0;

	assert_int_equal(path[r->u.section.path.len], 0);
	for (int k = 0; k < b->n; k++)
		if (b->m[k].uid == r->u.section.uid)
			m = &b->m[k];
	assert_non_null(m);
	for (size_t i = 0; i + 3 < m->len; i++)
		if (!memcmp(m->body + i, "\r\n\r\n", 4)) {
			hl = i + 4;
			break;
		}
	if (!strcmp(path, "7")) {
		imap_session_section_done(h->s, h->now, SL_EIO, 0, 0);
	} else if (strcmp(path, "1") != 0 || hl == 0) {
		imap_session_section_done(h->s, h->now, SL_ENOENT, 0, 0);
	} else if (r->u.section.kind == IMAP_PART_BODY) {
		imap_session_section_done(h->s, h->now, 0, hl, m->len - hl);
	} else if (r->u.section.kind == IMAP_PART_MIME) {
		imap_session_section_done(h->s, h->now, 0, 0, hl);
	} else {
		imap_session_section_done(h->s, h->now, SL_EINVAL, 0, 0);
	}
}

static void h_body(struct h *h, const struct imap_request *r)
{
	struct fs_mbox *b = &h->st.mb[h->sel];
	const struct fs_msg *m = NULL;
	size_t off, end, len;

	for (int k = 0; k < b->n; k++)
		if (b->m[k].uid == r->u.body.uid)
			m = &b->m[k];
	assert_non_null(m);
	assert_true(r->u.body.len >= 1 && r->u.body.len <= h->cfg.body_chunk_max);
	if (h->body_fail) {
		imap_session_body_done(h->s, h->now, SL_EIO);
		return;
	}
	len = m->len;
	if (h->short_by && len >= (size_t)h->short_by)
		len -= (size_t)h->short_by;
	off = (size_t)r->u.body.offset;
	end = off + r->u.body.len;
	if (off > len)
		off = len;
	if (end > len)
		end = len;
	while (off < end) {
		size_t k = end - off;

		if (h->mode == 1)
			k = 1 + (off % 5);
		else if (h->mode == 2)
			k = 1 + (size_t)(rand_r(&h->seed) % 3000);
		if (k > end - off)
			k = end - off;
		assert_int_equal(imap_session_body_data(h->s, sl_slice_make(m->body + off, k)), 0);
		off += k;
	}
	imap_session_body_done(h->s, h->now, 0);
}

static int fs_kw_find(const struct fs_msg *m, sl_slice_t kw)
{
	for (int j = 0; j < m->nkw; j++)
		if (strlen(m->kw[j]) == kw.len && !strncasecmp(m->kw[j], (const char *)kw.ptr, kw.len))
			return j;
	return -1;
}

static void h_store(struct h *h, const struct imap_request *r)
{
	struct fs_mbox *b = &h->st.mb[h->sel];

	for (int k = 0; k < b->n; k++) {
		struct fs_msg *m = &b->m[k];
		uint32_t old = m->flags;
		int oldn = m->nkw;
		bool kwchange = false;

		if (!fs_in(r->u.store.uids, r->u.store.n_uids, m->uid))
			continue;
		if (r->u.store.unchangedsince && m->modseq > r->u.store.unchangedsince)
			continue;
		if (r->u.store.mode == IMAP_STORE_ADD)
			m->flags |= r->u.store.flags;
		else if (r->u.store.mode == IMAP_STORE_REMOVE)
			m->flags &= ~r->u.store.flags;
		else
			m->flags = r->u.store.flags;
		if (r->u.store.mode == IMAP_STORE_REPLACE && m->nkw) {
			m->nkw = 0;
			kwchange = true;
		}
		for (size_t j = 0; j < r->u.store.n_keywords; j++) {
			sl_slice_t kw = r->u.store.keywords[j];
			int at = fs_kw_find(m, kw);

			assert_int_equal(kw.ptr[kw.len], 0);
			if (r->u.store.mode != IMAP_STORE_REMOVE && at < 0 && m->nkw < FS_KW) {
				snprintf(m->kw[m->nkw++], 32, "%.*s", (int)kw.len, (const char *)kw.ptr);
				kwchange = true;
			} else if (r->u.store.mode == IMAP_STORE_REMOVE && at >= 0) {
				memmove(m->kw[at], m->kw[m->nkw - 1], 32);
				m->nkw--;
				kwchange = true;
			}
		}
		if (m->flags != old || kwchange || m->nkw != oldn)
			m->modseq = ++b->hms;
	}
	imap_session_store_done(h->s, h->now, 0);
}

static void h_expunge(struct h *h, const struct imap_request *r)
{
	struct fs_mbox *b = &h->st.mb[h->sel];
	int w = 0;

	for (int k = 0; k < b->n; k++) {
		if ((b->m[k].flags & IMAP_FLAG_DELETED) &&
		    fs_in(r->u.expunge.uids, r->u.expunge.n_uids, b->m[k].uid)) {
			assert_int_equal(imap_session_expunged(h->s, b->m[k].uid), 0);
			b->van[b->nvan].uid = b->m[k].uid;
			b->van[b->nvan++].modseq = ++b->hms;
			continue;
		}
		b->m[w++] = b->m[k];
	}
	b->n = w;
	imap_session_expunge_done(h->s, h->now, 0);
}

static void h_copy(struct h *h, const struct imap_request *r)
{
	struct fs_mbox *src = &h->st.mb[h->sel];
	int di = fs_find(&h->st, (const char *)r->u.copy.dest.ptr);
	struct fs_mbox *dst;
	uint32_t src_uids[FS_MSGS], first;
	size_t n = 0;
	int w = 0;

	if (di < 0) {
		imap_session_copy_done(h->s, h->now, SL_ENOENT, 0, NULL, 0, 0);
		return;
	}
	dst = &h->st.mb[di];
	first = dst->uidnext;
	for (int k = 0; k < src->n; k++) {
		struct fs_msg *m = &src->m[k];

		if (!fs_in(r->u.copy.uids, r->u.copy.n_uids, m->uid)) {
			src->m[w++] = *m;
			continue;
		}
		src_uids[n++] = m->uid;
		dst->m[dst->n] = *m;
		dst->m[dst->n].uid = dst->uidnext++;
		dst->m[dst->n].recent = false;
		dst->m[dst->n].modseq = ++dst->hms;
		dst->n++;
		if (r->u.copy.move) {
			assert_int_equal(imap_session_expunged(h->s, m->uid), 0);
			src->van[src->nvan].uid = m->uid;
			src->van[src->nvan++].modseq = ++src->hms;
		} else {
			src->m[w++] = *m;
		}
	}
	src->n = w;
	imap_session_copy_done(h->s, h->now, 0, dst->uidvalidity, src_uids, n, first);
}

static void h_append(struct h *h, const struct imap_request *r)
{
	int i = fs_find(&h->st, (const char *)r->u.append.mailbox.ptr);
	struct fs_mbox *b;
	struct fs_msg *m;
	char *copy;

	if (i < 0) {
		imap_session_append_done(h->s, h->now, SL_ENOENT, 0, 0);
		return;
	}
	b = &h->st.mb[i];
	assert_true(h->n_appended < 16 && b->n < FS_MSGS);
	copy = malloc(r->u.append.body.len + 1);
	assert_non_null(copy);
	memcpy(copy, r->u.append.body.ptr, r->u.append.body.len);
	h->appended[h->n_appended++] = copy;
	m = &b->m[b->n++];
	memset(m, 0, sizeof(*m));
	m->uid = b->uidnext++;
	m->flags = r->u.append.flags;
	for (size_t k = 0; k < r->u.append.n_keywords && k < FS_KW; k++) {
		assert_int_equal(r->u.append.keywords[k].ptr[r->u.append.keywords[k].len], 0);
		snprintf(m->kw[m->nkw++], 32, "%s", (const char *)r->u.append.keywords[k].ptr);
	}
	m->modseq = ++b->hms;
	m->date = r->u.append.internaldate ? r->u.append.internaldate : 1767225600;
	m->tz = r->u.append.tz_min;
	m->body = copy;
	m->len = r->u.append.body.len;
	imap_session_append_done(h->s, h->now, 0, b->uidvalidity, m->uid);
}

/* h_sync - st_changes_since: changed messages in MODSEQ order, then the
 * UIDs expunged since. */
static void h_sync(struct h *h, const struct imap_request *r)
{
	struct fs_mbox *b = &h->st.mb[h->sel];
	uint64_t since = r->u.sync.since;

	for (uint64_t ms = since + 1; ms <= b->hms; ms++) {
		for (int k = 0; k < b->n; k++) {
			struct fs_msg *m = &b->m[k];
			struct imap_msg_meta meta;
			sl_slice_t kw[FS_KW];

			if (m->modseq != ms)
				continue;
			memset(&meta, 0, sizeof(meta));
			meta.uid = m->uid;
			meta.flags = m->flags;
			for (int j = 0; j < m->nkw; j++)
				kw[j] = sl_slice_make(m->kw[j], strlen(m->kw[j]));
			meta.keywords = kw;
			meta.n_keywords = (size_t)m->nkw;
			meta.modseq = m->modseq;
			assert_int_equal(imap_session_sync_msg(h->s, &meta), 0);
		}
	}
	for (int k = 0; k < b->nvan; k++)
		if (b->van[k].modseq > since)
			assert_int_equal(imap_session_sync_vanished(h->s, b->van[k].uid), 0);
	imap_session_sync_done(h->s, h->now, 0, b->hms);
}

static void h_pump(struct h *h);

/* h_mutate - another session or a delivery changes the selected mailbox
 * (G: steps); then the glue tells the engine. */
static void h_mutate(struct h *h, const char *what)
{
	struct fs_mbox *b = &h->st.mb[h->sel >= 0 ? h->sel : 0];

	if (!strcmp(what, "deliver")) {
		fs_msg_add(b, b->uidnext, 0, NULL, 1767225600, 0, fs_body4, sizeof(fs_body4) - 1,
			   false);
	} else if (!strncmp(what, "seen ", 5)) {
		uint32_t uid = (uint32_t)atoi(what + 5);

		for (int k = 0; k < b->n; k++)
			if (b->m[k].uid == uid) {
				b->m[k].flags |= IMAP_FLAG_SEEN;
				b->m[k].modseq = ++b->hms;
			}
	} else if (!strncmp(what, "expunge ", 8)) {
		uint32_t uid = (uint32_t)atoi(what + 8);
		int w = 0;

		for (int k = 0; k < b->n; k++) {
			if (b->m[k].uid == uid) {
				b->van[b->nvan].uid = uid;
				b->van[b->nvan++].modseq = ++b->hms;
				continue;
			}
			b->m[w++] = b->m[k];
		}
		b->n = w;
	} else {
		fail_msg("bad mutation %s", what);
	}
	imap_session_mailbox_changed(h->s, h->now);
	h_pump(h);
}

/* A test file may resolve sections itself (real part tables). */
static void (*h_section_hook)(struct h *h, const struct imap_request *r);

/* h_autocomplete - answer the pending request like the glue would. */
static bool h_autocomplete(struct h *h)
{
	const struct imap_request *r = imap_session_request(h->s);

	if (r == NULL)
		return false;
	switch (r->kind) {
	case IMAP_REQ_AUTH:
		if (slice_is(r->u.auth.authcid, "temp"))
			imap_session_auth_done(h->s, h->now, IMAP_AUTH_TEMPFAIL, NULL);
		else if (slice_is(r->u.auth.authcid, "alice") && slice_is(r->u.auth.password, "secret") &&
			 (r->u.auth.authzid.len == 0 || slice_is(r->u.auth.authzid, "alice")))
			imap_session_auth_done(h->s, h->now, IMAP_AUTH_OK, "alice@example.com");
		else if (slice_is(r->u.auth.authcid, "we ird") && slice_is(r->u.auth.password, "p\"w\\d"))
			imap_session_auth_done(h->s, h->now, IMAP_AUTH_OK, NULL);
		else
			imap_session_auth_done(h->s, h->now, IMAP_AUTH_FAIL, NULL);
		break;
	case IMAP_REQ_STARTTLS:
		if (h->sending)
			return false;
		imap_session_tls_done(h->s, h->now, true);
		break;
	case IMAP_REQ_MAILBOX:
		imap_session_mailbox_done(h->s, h->now, fs_mailbox_op(&h->st, r));
		break;
	case IMAP_REQ_LIST:
		h_list(h, r);
		break;
	case IMAP_REQ_STATUS: {
		int i = fs_find(&h->st, (const char *)r->u.status.name.ptr);
		struct imap_mailbox_info info;

		if (i < 0) {
			imap_session_status_done(h->s, h->now, SL_ENOENT, NULL);
		} else {
			fs_info(&h->st, &h->st.mb[i], &info);
			imap_session_status_done(h->s, h->now, 0, &info);
		}
		break;
	}
	case IMAP_REQ_SELECT:
		h_select(h, r);
		break;
	case IMAP_REQ_FETCH:
		h_fetch(h, r);
		break;
	case IMAP_REQ_BODY:
		h_body(h, r);
		break;
	case IMAP_REQ_STORE:
		h_store(h, r);
		break;
	case IMAP_REQ_EXPUNGE:
		h_expunge(h, r);
		break;
	case IMAP_REQ_COPY:
		h_copy(h, r);
		break;
	case IMAP_REQ_APPEND:
		h_append(h, r);
		break;
	case IMAP_REQ_SYNC:
		h_sync(h, r);
		break;
	case IMAP_REQ_SECTION:
		if (h_section_hook != NULL)
			h_section_hook(h, r);
		else
			h_section(h, r);
		break;
	default:
		fail_msg("unknown request %d", r->kind);
	}
	return true;
}

typedef void setup_fn(struct imap_config *c, struct imap_peer *p);

static void h_init(struct h *h, setup_fn *setup, int mode, const char *name)
{
	memset(h, 0, sizeof(*h));
	imap_config_defaults(&h->cfg);
	h->cfg.hostname = HOST;
	h->cfg.stats = &h->stats;
	h->cfg.allow_plaintext_auth = true;
	h->cfg.auth_fail_delay_us = 0;
	h->peer.client_ip = "192.0.2.20";
	h->peer.conn_id = 7;
	if (setup)
		setup(&h->cfg, &h->peer);
	h->mode = mode;
	h->seed = 4242u + (unsigned)mode;
	h->name = name;
	h->sel = -1;
	h->now = 1000 * SL_US_PER_S;
	fs_init(&h->st);
	sl_buf_init(&h->backlog, 1u << 24);
	sl_buf_init(&h->out, 1u << 26);
	assert_int_equal(imap_session_create(&h->cfg, &h->peer, h->now, &h->s), 0);
}

static void h_fini(struct h *h)
{
	imap_session_destroy(&h->s);
	assert_null(h->s);
	imap_session_destroy(&h->s);
	for (int i = 0; i < h->n_appended; i++)
		free(h->appended[i]);
	sl_buf_free(&h->backlog);
	sl_buf_free(&h->out);
}

static bool h_drain(struct h *h)
{
	bool any = false;

	for (;;) {
		sl_slice_t o = imap_session_output(h->s);
		size_t n = o.len;

		if (n == 0)
			return any;
		if (h->mode == 2 && n > 1)
			n = 1 + (size_t)(rand_r(&h->seed) % n);
		assert_int_equal(sl_buf_append(&h->out, o.ptr, n), 0);
		imap_session_output_consume(h->s, h->now, n);
		any = true;
	}
}

static void h_pump(struct h *h)
{
	for (;;) {
		bool progress = false;

		if (h->backlog.len > 0) {
			size_t used = 0;
			int rc = imap_session_input(h->s, h->now, h->backlog.data, h->backlog.len, &used);

			assert_true(rc == 0 || rc == SL_ECLOSED);
			assert_true(used <= h->backlog.len);
			sl_buf_consume(&h->backlog, used);
			progress = used > 0;
		}
		if (h_drain(h))
			progress = true;
		if (!h->manual && h_autocomplete(h))
			progress = true;
		if (!progress)
			return;
	}
}

static void h_send(struct h *h, const char *p, size_t n)
{
	size_t i = 0;

	h->sending = true;
	while (i < n) {
		size_t k = n - i;

		if (h->mode == 1)
			k = 1;
		else if (h->mode == 2)
			k = 1 + (size_t)(rand_r(&h->seed) % 7);
		if (k > n - i)
			k = n - i;
		assert_int_equal(sl_buf_append(&h->backlog, p + i, k), 0);
		h_pump(h);
		i += k;
	}
	h->sending = false;
	h_pump(h);
}

static void h_fail(const struct h *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void h_fail(const struct h *h, const char *fmt, ...)
{
	char m[8192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(m, sizeof(m), fmt, ap);
	va_end(ap);
	fail_msg("%s [mode %d] step %d: %s", h->name, h->mode, h->step, m);
}
#define H_FAIL(h, ...) h_fail((h), __VA_ARGS__)

static bool h_line(struct h *h, char *buf, size_t size)
{
	uint8_t *e;
	size_t n;

	if (h->out.len == 0)
		return false;
	e = memmem(h->out.data, h->out.len, "\r\n", 2);
	if (e == NULL)
		H_FAIL(h, "response without CRLF: \"%.*s\"", (int)h->out.len, h->out.data);
	n = (size_t)(e - h->out.data);
	if (n >= size)
		n = size - 1;
	memcpy(buf, h->out.data, n);
	buf[n] = '\0';
	sl_buf_consume(&h->out, (size_t)(e - h->out.data) + 2);
	return true;
}

static void h_expect(struct h *h, const char *want, bool prefix)
{
	char got[4096];

	if (!h_line(h, got, sizeof(got)))
		H_FAIL(h, "expected \"%s\", got nothing", want);
	if (prefix ? strncmp(got, want, strlen(want)) != 0 : strcmp(got, want) != 0)
		H_FAIL(h, "expected \"%s\"%s, got \"%s\"", want, prefix ? "..." : "", got);
}

static void h_skip_to(struct h *h, const char *want)
{
	char got[4096];

	for (;;) {
		if (!h_line(h, got, sizeof(got)))
			H_FAIL(h, "no line starting with \"%s\"", want);
		if (!strncmp(got, want, strlen(want)))
			return;
	}
}

static enum imap_req_kind h_kind(const char *w)
{
	static const struct {
		const char *n;
		enum imap_req_kind k;
	} t[] = {{"AUTH", IMAP_REQ_AUTH},     {"TLS", IMAP_REQ_STARTTLS}, {"MAILBOX", IMAP_REQ_MAILBOX},
		 {"LIST", IMAP_REQ_LIST},     {"STATUS", IMAP_REQ_STATUS}, {"SELECT", IMAP_REQ_SELECT},
		 {"FETCH", IMAP_REQ_FETCH},   {"BODY", IMAP_REQ_BODY},    {"STORE", IMAP_REQ_STORE},
		 {"EXPUNGE", IMAP_REQ_EXPUNGE}, {"COPY", IMAP_REQ_COPY}, {"APPEND", IMAP_REQ_APPEND},
		 {"SYNC", IMAP_REQ_SYNC}};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (!strncmp(w, t[i].n, strlen(t[i].n)))
			return t[i].k;
	return IMAP_REQ_NONE;
}

static void h_complete(struct h *h, const char *arg)
{
	const struct imap_request *r = imap_session_request(h->s);
	const char *res = strchr(arg, ' ');
	enum imap_req_kind k = h_kind(arg);

	if (r == NULL || r->kind != k)
		H_FAIL(h, "expected request %s, pending %d", arg, r ? (int)r->kind : 0);
	res = res ? res + 1 : "";
	if (!strcmp(res, "OK")) {
		h_autocomplete(h);
	} else if (k == IMAP_REQ_STARTTLS) {
		imap_session_tls_done(h->s, h->now, false);
	} else if (k == IMAP_REQ_AUTH) {
		imap_session_auth_done(h->s, h->now,
				       !strcmp(res, "FAIL") ? IMAP_AUTH_FAIL : IMAP_AUTH_TEMPFAIL, NULL);
	} else if (k == IMAP_REQ_MAILBOX) {
		imap_session_mailbox_done(h->s, h->now, SL_EIO);
	} else if (k == IMAP_REQ_FETCH) {
		imap_session_fetch_done(h->s, h->now, SL_EIO);
	} else if (k == IMAP_REQ_SELECT) {
		imap_session_select_done(h->s, h->now, SL_EIO, NULL, NULL, 0);
	} else if (k == IMAP_REQ_STORE) {
		imap_session_store_done(h->s, h->now, SL_EFULL);
	} else if (k == IMAP_REQ_EXPUNGE) {
		imap_session_expunge_done(h->s, h->now, SL_EIO);
	} else if (k == IMAP_REQ_LIST) {
		imap_session_list_done(h->s, h->now, SL_EIO);
	} else if (k == IMAP_REQ_STATUS) {
		imap_session_status_done(h->s, h->now, SL_EIO, NULL);
	} else if (k == IMAP_REQ_COPY) {
		imap_session_copy_done(h->s, h->now, SL_ENOENT, 0, NULL, 0, 0);
	} else if (k == IMAP_REQ_BODY) {
		imap_session_body_done(h->s, h->now, SL_EIO);
	} else if (k == IMAP_REQ_SYNC) {
		imap_session_sync_done(h->s, h->now, SL_EIO, 0);
	} else if (k == IMAP_REQ_APPEND) {
		imap_session_append_done(h->s, h->now, !strcmp(res, "BIG") ? SL_ELIMIT : SL_EFULL, 0, 0);
	}
	h_pump(h);
}

static void h_option(struct h *h, const char *a)
{
	if (!strcmp(a, "structure"))
		h->structure = true;
	else if (!strcmp(a, "bodyfail"))
		h->body_fail = true;
	else if (!strcmp(a, "short"))
		h->short_by = 5;
	else if (!strcmp(a, "ok"))
		h->body_fail = false, h->short_by = 0;
	else
		H_FAIL(h, "bad option %s", a);
}

static void h_run(struct h *h, const char *const *script)
{
	h_pump(h);
	for (h->step = 0; script[h->step]; h->step++) {
		const char *st = script[h->step];
		const char *a = st + 2;

		switch (st[0]) {
		case 'C':
		case 'R': {
			size_t n = 0, l = strlen(a);
			char *buf = malloc(l + 3);

			assert_non_null(buf);
			for (const char *q = a; *q; q++) {
				if (q[0] == '^' && q[1] == '@') {
					buf[n++] = '\0';
					q++;
				} else {
					buf[n++] = *q;
				}
			}
			if (st[0] == 'C') {
				buf[n++] = '\r';
				buf[n++] = '\n';
			}
			h_send(h, buf, n);
			free(buf);
			break;
		}
		case 'S':
			h_expect(h, a, st[1] == '*');
			break;
		case 'W':
			h_skip_to(h, a);
			break;
		case 'D':
			sl_buf_reset(&h->out);
			break;
		case 'N':
			if (h->out.len != 0)
				H_FAIL(h, "unexpected output \"%.*s\"", (int)h->out.len, h->out.data);
			break;
		case 'X':
			if (!imap_session_closing(h->s))
				H_FAIL(h, "session should be closing");
			break;
		case 'T':
			h->now += (uint64_t)atoi(a) * SL_US_PER_S;
			imap_session_timeout(h->s, h->now);
			h_pump(h);
			break;
		case 'M':
			h->manual = !strcmp(a, "manual");
			h_pump(h);
			break;
		case 'O':
			h_option(h, a);
			break;
		case 'G':
			h_mutate(h, a);
			break;
		case 'Q':
			h_complete(h, a);
			break;
		case 'P': {
			const struct imap_request *r = imap_session_request(h->s);

			if (r == NULL || r->kind != h_kind(a))
				H_FAIL(h, "expected pending %s, have %d", a, r ? (int)r->kind : 0);
			break;
		}
		default:
			H_FAIL(h, "bad step \"%s\"", st);
		}
	}
	if (h->out.len != 0)
		H_FAIL(h, "unexpected trailing output \"%.*s\"", (int)h->out.len, h->out.data);
}

struct tcase {
	const char *name;
	setup_fn *setup;
	const char *const *script;
};

static void run_case(void **state)
{
	const struct tcase *tc = *state;

	for (int mode = 0; mode < 3; mode++) {
		struct h h;

		h_init(&h, tc->setup, mode, tc->name);
		h_run(&h, tc->script);
		h_fini(&h);
	}
}

static int run_cases(const char *group, const struct tcase *cases, size_t nc,
		     const struct CMUnitTest *fixed, size_t nf)
{
	struct CMUnitTest *tests = calloc(nc + nf, sizeof(*tests));
	int rc;

	assert_non_null(tests);
	for (size_t i = 0; i < nc; i++) {
		tests[i].name = cases[i].name;
		tests[i].test_func = run_case;
		tests[i].initial_state = (void *)&cases[i];
	}
	if (nf)
		memcpy(tests + nc, fixed, nf * sizeof(*fixed));
	rc = _cmocka_run_group_tests(group, tests, nc + nf, NULL, NULL);
	free(tests);
	return rc;
}

#define CASE(n, setup, ...) {#n, setup, (const char *const[]){__VA_ARGS__, NULL}}
#define CAPS_TAIL                                                                          \
	" SASL-IR LITERAL+ ID ENABLE IDLE NAMESPACE UNSELECT UIDPLUS MOVE CHILDREN SPECIAL-USE" \
	" CREATE-SPECIAL-USE LIST-STATUS ESEARCH CONDSTORE QRESYNC BINARY APPENDLIMIT=67108864"
#define GREET "S:* OK [CAPABILITY IMAP4rev1 IMAP4rev2 AUTH=PLAIN" CAPS_TAIL "] " HOST " Sluice IMAP ready"
#define LOGIN "C:a1 LOGIN alice secret", "S:a1 OK [CAPABILITY IMAP4rev1 IMAP4rev2" CAPS_TAIL "] Logged in"
#define SELECT "C:s1 SELECT INBOX", "W:s1 OK [READ-WRITE] SELECT completed"

#endif
