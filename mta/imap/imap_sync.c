/* imap_sync - changes made to the selected mailbox elsewhere, told to the
 * client at the points RFC 9051 §7.5.1 allows (NOOP, CHECK, IDLE).
 *
 * The glue only says "it changed"; the engine asks for the changes since
 * the MODSEQ it last knew (IMAP_REQ_SYNC, which st_changes_since answers
 * directly). Changed messages in the view become FETCH (FLAGS) at once,
 * with the sequence numbers the client still has; removed ones are
 * collected and announced as EXPUNGE afterwards, in ascending order so
 * each number is right after the ones before it; new ones are appended to
 * the view and announced with one EXISTS. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap_private.h"
#include "sl_err.h"

/* imap_view_compact - drop the indexes in view.gone from the view. */
void imap_view_compact(imap_session_t *s)
{
	struct imap_view *v = &s->view;
	uint32_t w = 0, g = 0;

	if (v->n_gone == 0)
		return;
	for (uint32_t i = 0; i < v->n; i++) {
		if (g < v->n_gone && v->gone[g] == i) {
			g++;
			continue;
		}
		v->uids[w] = v->uids[i];
		v->recent[w] = v->recent[i];
		w++;
	}
	v->n = w;
	v->n_gone = 0;
	v->gone_out = 0;
}

bool imap_sync_issue(imap_session_t *s)
{
	free(s->sync_present);
	s->sync_present = NULL;
	s->sync_mode = IMAP_SM_NORMAL;
	s->sync_due = false;
	s->sync_again = false;
	s->view.n_gone = 0;
	s->view.gone_out = 0;
	s->n_sync_new = 0;
	s->sync_recent_min = 0;
	s->req.u.sync.since = s->view.highestmodseq;
	s->req.u.sync.want = IMAP_WANT_KEYWORDS | IMAP_WANT_MODSEQ;
	s->req.u.sync.expunged_only = false;
	imap_request_issue(s, IMAP_REQ_SYNC);
	return true;
}

int imap_session_mailbox_changed(imap_session_t *s, uint64_t now_us)
{
	s->now = now_us;
	if (s->phase == IMAP_P_CLOSED)
		return SL_ECLOSED;
	if (s->state != IMAP_STATE_SELECTED)
		return 0;
	s->sync_due = true;
	/* an IDLE client is told at once: the step issues the SYNC */
	return imap_resume(s);
}

int imap_session_sync_msg(imap_session_t *s, const struct imap_msg_meta *m)
{
	struct imap_view *v = &s->view;
	uint32_t msn;

	if (s->req.kind != IMAP_REQ_SYNC)
		return SL_ESTATE;
	if (s->sync_mode == IMAP_SM_QR_FETCH)
		return 0; /* only the expunged UIDs are wanted */
	if (s->sync_mode == IMAP_SM_QR_VANISHED)
		return 0; /* the second pass reports the messages */
	msn = imap_view_msn(s, m->uid);
	if (msn > 0 && s->sync_mode == IMAP_SM_QR_SELECT) {
		/* RFC 7162 §3.2.5.1: changed messages as FETCH (UID FLAGS
		 * MODSEQ). They come in MODSEQ order: once one does not fit,
		 * the next round starts after the last one written. */
		if (s->qr_skipping)
			return 0;
		if (imap_room(s) < IMAP_REPLY_RESERVE) {
			s->qr_skipping = true;
			return 0;
		}
		imap_printf(s, "* %" PRIu32 " FETCH (UID %" PRIu32 " ", msn, m->uid);
		imap_write_flags(s, m->flags, m->keywords, m->n_keywords, v->recent[msn - 1] != 0);
		imap_printf(s, " MODSEQ (%" PRIu64 "))\r\n", m->modseq);
		s->qr_since = m->modseq;
		return 0;
	}
	if (msn > 0) {
		if (imap_room(s) < IMAP_REPLY_RESERVE) {
			s->sync_again = true; /* told next time; FETCH twice is harmless */
			return 0;
		}
		imap_printf(s, "* %" PRIu32 " FETCH (", msn);
		if (s->enabled & IMAP_EN_QRESYNC)
			imap_printf(s, "UID %" PRIu32 " ", m->uid);
		imap_write_flags(s, m->flags, m->keywords, m->n_keywords, v->recent[msn - 1] != 0);
		if (s->enabled & IMAP_EN_CONDSTORE)
			imap_printf(s, " MODSEQ (%" PRIu64 ")", m->modseq);
		imap_out(s, ")\r\n", 3);
		return 0;
	}
	if (v->n > 0 && m->uid <= v->uids[v->n - 1])
		return 0; /* not in the view and not new: already gone for us */
	if (v->n + s->n_sync_new >= s->cfg->view_max)
		return 0;
	if (s->n_sync_new == s->sync_new_cap) {
		uint32_t cap = s->sync_new_cap ? s->sync_new_cap * 2 : 64;
		uint32_t *p = realloc(s->sync_new, (size_t)cap * sizeof(*p));

		if (p == NULL)
			return SL_ENOMEM;
		s->sync_new = p;
		s->sync_new_cap = cap;
	}
	s->sync_new[s->n_sync_new++] = m->uid;
	if (m->recent && (s->sync_recent_min == 0 || m->uid < s->sync_recent_min))
		s->sync_recent_min = m->uid;
	return 0;
}

int imap_session_sync_vanished(imap_session_t *s, uint32_t uid)
{
	struct imap_view *v = &s->view;
	uint32_t msn;

	if (s->req.kind != IMAP_REQ_SYNC)
		return SL_ESTATE;
	msn = imap_view_msn(s, uid);
	if (s->sync_mode == IMAP_SM_QR_FETCH) {
		/* a UID still in the view is announced at the next sync */
		if (msn == 0 && imap_ranges_have(s->fetch.raw_set, s->fetch.n_raw_set, uid))
			imap_van_add(s, uid);
		return 0;
	}
	if (s->sync_mode == IMAP_SM_QR_VANISHED) {
		/* UIDs the client may still have; those in the view are
		 * announced (VANISHED) by the second pass */
		if (msn == 0 &&
		    (s->qr_known == NULL || imap_ranges_have(s->qr_known, s->n_qr_known, uid)))
			imap_van_add(s, uid);
		return 0;
	}
	if (msn == 0)
		return 0;
	if (v->gone == NULL) {
		v->gone = malloc((size_t)v->cap * sizeof(*v->gone));
		if (v->gone == NULL)
			return SL_ENOMEM;
	}
	if (v->n_gone < v->n)
		v->gone[v->n_gone++] = msn - 1;
	return 0;
}

/* The store keeps a bounded expunge history (the newest expunges of each
 * mailbox; older ones are folded into a MODSEQ floor). A SYNC from below
 * the floor cannot list every expunge, so the answer comes from what is
 * still in the mailbox instead: QRESYNC's VANISHED (EARLIER) as the
 * complement of the view (RFC 7162 §3.2.5.2 allows the superset), and a
 * NOOP/IDLE sync from the glue's list of present UIDs. */
int imap_session_sync_history(imap_session_t *s, uint64_t floor)
{
	if (s->req.kind != IMAP_REQ_SYNC)
		return SL_ESTATE;
	if (floor <= s->req.u.sync.since)
		return 0;
	switch (s->sync_mode) {
	case IMAP_SM_QR_VANISHED:
	case IMAP_SM_QR_FETCH:
		/* what too many ranges answer too (imap_van_next): the
		 * client's UIDs that are not in the view */
		s->van_overflow = true;
		return 0;
	case IMAP_SM_QR_SELECT:
		return 0; /* FETCHes only: live messages keep their MODSEQ rows */
	case IMAP_SM_NORMAL:
		break;
	}
	if (s->sync_present == NULL) {
		s->sync_present = calloc(s->view.n > 0 ? s->view.n : 1, 1);
		if (s->sync_present == NULL)
			return SL_ENOMEM;
	}
	return 1;
}

int imap_session_sync_present(imap_session_t *s, uint32_t uid)
{
	uint32_t msn;

	if (s->req.kind != IMAP_REQ_SYNC || s->sync_present == NULL)
		return SL_ESTATE;
	msn = imap_view_msn(s, uid);
	if (msn > 0)
		s->sync_present[msn - 1] = 1;
	return 0;
}

/* imap_sync_absent - the history was pruned: the view indexes the glue
 * did not report present are the removed ones (exact, ascending). */
static int imap_sync_absent(imap_session_t *s)
{
	struct imap_view *v = &s->view;

	if (v->gone == NULL && v->n > 0) {
		v->gone = malloc((size_t)v->cap * sizeof(*v->gone));
		if (v->gone == NULL)
			return SL_ENOMEM;
	}
	v->n_gone = 0;
	for (uint32_t i = 0; i < v->n; i++)
		if (!s->sync_present[i])
			v->gone[v->n_gone++] = i;
	return 0;
}

static int imap_u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* imap_u32_sort_uniq - sort A ascending and drop repeats; new length. */
static uint32_t imap_u32_sort_uniq(uint32_t *a, uint32_t n)
{
	uint32_t w = 0;

	if (n == 0)
		return 0;
	qsort(a, n, sizeof(*a), imap_u32_cmp);
	for (uint32_t i = 0; i < n; i++)
		if (w == 0 || a[w - 1] != a[i])
			a[w++] = a[i];
	return w;
}

int imap_session_sync_done(imap_session_t *s, uint64_t now_us, int err, uint64_t highestmodseq)
{
	struct imap_view *v = &s->view;

	s->now = now_us;
	s->last_active = now_us;
	if (s->req.kind != IMAP_REQ_SYNC)
		return s->phase == IMAP_P_CLOSED ? SL_ECLOSED : SL_ESTATE;
	s->req.kind = IMAP_REQ_NONE;
	if (s->sync_present != NULL) {
		if (err >= 0)
			err = imap_sync_absent(s);
		free(s->sync_present);
		s->sync_present = NULL;
	}
	if (s->sync_mode == IMAP_SM_QR_FETCH) {
		/* changes this pass skipped are told at the next NOOP/IDLE
		 * (the glue now counts the mailbox as synced) */
		s->sync_mode = IMAP_SM_NORMAL;
		s->sync_due = true;
		if (err < 0) {
			imap_van_reset(s);
			s->fetch.unavailable = true;
			s->fetch.van_stage = 3;
		} else {
			imap_van_base(s, s->fetch.raw_set, s->fetch.n_raw_set);
			s->fetch.van_stage = 2;
		}
		return imap_resume(s);
	}
	if (s->sync_mode == IMAP_SM_QR_SELECT || s->sync_mode == IMAP_SM_QR_VANISHED) {
		if (err < 0) {
			/* the client cannot be told what changed: no mailbox is
			 * selected, it may try again (RFC 9051 §6.3.2) */
			s->sync_mode = IMAP_SM_NORMAL;
			s->qr_select = false;
			imap_van_reset(s);
			imap_view_reset(s);
			s->state = IMAP_STATE_AUTH;
			imap_no_err(s, err, "SELECT");
			return imap_resume(s);
		}
		if (s->sync_mode == IMAP_SM_QR_VANISHED) {
			/* VANISHED (EARLIER) first, then the second pass
			 * (imap_sync_pump) */
			s->sync_mode = IMAP_SM_NORMAL;
			imap_van_base(s, s->qr_known, s->n_qr_known);
			s->qr_earlier = true;
			s->qr_since = s->qr_modseq;
			s->qr_pending = true;
			return imap_resume(s);
		}
		if (s->qr_skipping) {
			/* the output filled: go on from the last FETCH written
			 * once it drains (imap_sync_pump) */
			s->qr_skipping = false;
			s->qr_pending = true;
			return imap_resume(s);
		}
		s->sync_mode = IMAP_SM_NORMAL;
	}
	if (err < 0) {
		v->n_gone = 0;
		s->n_sync_new = 0;
		s->sync_due = true; /* ask again at the next chance */
	} else {
		/* st_changes_since reports in MODSEQ order, not UID order */
		v->n_gone = imap_u32_sort_uniq(v->gone, v->n_gone);
		s->n_sync_new = imap_u32_sort_uniq(s->sync_new, s->n_sync_new);
		if (s->sync_again)
			s->sync_due = true;
		else if (highestmodseq > v->highestmodseq)
			v->highestmodseq = highestmodseq;
	}
	s->announcing = true;
	return imap_resume(s);
}

/* imap_sync_announce - EXPUNGEs, then EXISTS, then the NOOP/CHECK
 * answer. True on progress. */
bool imap_sync_announce(imap_session_t *s)
{
	struct imap_view *v = &s->view;
	size_t out0 = s->out.len;

	if (!s->announcing)
		return false;
	if (s->qr_earlier) {
		/* RFC 7162 §3.2.5.1: VANISHED (EARLIER) before the rest */
		if (!imap_van_write(s))
			return s->out.len != out0;
		s->qr_earlier = false;
	}
	if (!imap_gone_write(s) || imap_room(s) < 64)
		return s->out.len != out0;
	imap_view_compact(s);
	if (s->n_sync_new > 0) {
		while (v->n + s->n_sync_new > v->cap && v->cap < s->cfg->view_max) {
			uint32_t cap = v->cap ? v->cap * 2 : 256;
			uint32_t *u;
			uint8_t *r;

			if (cap > s->cfg->view_max)
				cap = s->cfg->view_max;
			u = realloc(v->uids, (size_t)cap * sizeof(*u));
			if (u == NULL)
				break;
			v->uids = u;
			r = realloc(v->recent, cap);
			if (r == NULL)
				break;
			v->recent = r;
			free(v->gone);
			v->gone = NULL;
			v->cap = cap;
		}
		bool new_recent = false;

		for (uint32_t i = 0; i < s->n_sync_new && v->n < v->cap; i++) {
			uint32_t uid = s->sync_new[i];

			v->uids[v->n] = uid;
			v->recent[v->n] = s->sync_recent_min != 0 && uid >= s->sync_recent_min;
			new_recent |= v->recent[v->n] != 0;
			v->n++;
		}
		s->n_sync_new = 0;
		imap_reply(s, "* %" PRIu32 " EXISTS", v->n);
		/* RFC 3501 §7.3.2: RECENT follows a change in the count; IMAP4rev2
		 * has no \Recent */
		if (new_recent && !(s->enabled & IMAP_EN_IMAP4REV2)) {
			v->n_recent = 0;
			for (uint32_t i = 0; i < v->n; i++)
				v->n_recent += v->recent[i] != 0;
			imap_reply(s, "* %" PRIu32 " RECENT", v->n_recent);
		}
	}
	s->announcing = false;
	if (s->qr_select) {
		s->qr_select = false;
		imap_tagged(s, "OK", "[%s] %s completed", v->readonly ? "READ-ONLY" : "READ-WRITE",
			    v->readonly ? "EXAMINE" : "SELECT");
	} else if (s->job == IMAP_JOB_SYNC) {
		imap_tagged(s, "OK", "%s completed", s->verb ? s->verb : "NOOP");
	}
	return true;
}

/* ---- QRESYNC (RFC 7162 §3.2) ---- */

void imap_sync_issue_qr(imap_session_t *s, enum imap_sync_mode mode, uint64_t since)
{
	if (mode == IMAP_SM_QR_VANISHED) {
		s->view.n_gone = 0;
		s->view.gone_out = 0;
		s->n_sync_new = 0;
		s->sync_recent_min = 0;
	}
	s->qr_pending = false;
	s->sync_mode = mode;
	s->qr_since = since;
	s->qr_skipping = false;
	s->req.u.sync.since = since;
	s->req.u.sync.want = IMAP_WANT_KEYWORDS | IMAP_WANT_MODSEQ;
	s->req.u.sync.expunged_only = mode != IMAP_SM_QR_SELECT;
	imap_request_issue(s, IMAP_REQ_SYNC);
}

/* imap_sync_pump - a QRESYNC SELECT between its passes: VANISHED
 * (EARLIER) is written, then the FETCH pass is issued (again, from the
 * last FETCH written, once half the output has drained if it filled). */
bool imap_sync_pump(imap_session_t *s)
{
	if (s->qr_earlier && s->req.kind == IMAP_REQ_NONE) {
		size_t out0 = s->out.len;

		if (!imap_van_write(s))
			return s->out.len != out0;
		s->qr_earlier = false;
		return true;
	}
	if (!s->qr_pending || s->req.kind != IMAP_REQ_NONE ||
	    imap_room(s) < s->cfg->output_max / 2 || imap_room(s) < IMAP_REPLY_RESERVE)
		return false;
	imap_sync_issue_qr(s, IMAP_SM_QR_SELECT, s->qr_since);
	return true;
}

bool imap_ranges_have(const struct imap_range *r, uint32_t n, uint32_t uid)
{
	uint32_t lo = 0, hi = n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (r[mid].hi < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && r[lo].lo <= uid;
}

static int imap_range_lo_cmp(const void *a, const void *b)
{
	const struct imap_range *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

uint32_t imap_ranges_normalize(struct imap_range *r, uint32_t n)
{
	uint32_t w = 0;

	if (n == 0)
		return 0;
	qsort(r, n, sizeof(*r), imap_range_lo_cmp);
	for (uint32_t i = 0; i < n; i++) {
		if (w > 0 && (uint64_t)r[i].lo <= (uint64_t)r[w - 1].hi + 1) {
			if (r[i].hi > r[w - 1].hi)
				r[w - 1].hi = r[i].hi;
		} else {
			r[w++] = r[i];
		}
	}
	return w;
}

void imap_van_reset(imap_session_t *s)
{
	free(s->van);
	s->van = NULL;
	s->n_van = 0;
	s->van_cap = 0;
	s->van_overflow = false;
	s->van_i = 0;
	s->van_at = 0;
	s->van_base = NULL;
	s->n_van_base = 0;
	s->qr_earlier = false;
}

/* imap_van_add - insert UID into the sorted, merged ranges. UIDs mostly
 * come in ascending runs (MODSEQ order), so this is an append. */
void imap_van_add(imap_session_t *s, uint32_t uid)
{
	uint32_t n = s->n_van, lo = 0, hi = n, i;

	if (s->van_overflow || uid == 0)
		return;
	if (n > 0 && uid > s->van[n - 1].hi) {
		if (uid == s->van[n - 1].hi + 1) {
			s->van[n - 1].hi = uid;
			return;
		}
		i = n;
	} else {
		/* the first range with hi + 1 >= uid */
		while (lo < hi) {
			uint32_t mid = lo + (hi - lo) / 2;

			if ((uint64_t)s->van[mid].hi + 1 < uid)
				lo = mid + 1;
			else
				hi = mid;
		}
		i = lo;
		if (i < n) {
			struct imap_range *r = &s->van[i];

			if (uid >= r->lo && uid <= r->hi)
				return;
			if (uid == r->hi + 1) {
				r->hi = uid;
				if (i + 1 < n && s->van[i + 1].lo == uid + 1) {
					r->hi = s->van[i + 1].hi;
					memmove(&s->van[i + 1], &s->van[i + 2],
						(size_t)(n - i - 2) * sizeof(*s->van));
					s->n_van--;
				}
				return;
			}
			if (uid + 1 == r->lo) {
				r->lo = uid;
				return;
			}
		}
	}
	if (n == s->van_cap) {
		uint32_t cap = s->van_cap ? s->van_cap * 2 : 64;
		struct imap_range *p;

		if (cap > IMAP_VAN_RANGES_MAX)
			cap = IMAP_VAN_RANGES_MAX;
		p = n < cap ? realloc(s->van, (size_t)cap * sizeof(*p)) : NULL;
		if (p == NULL) {
			s->van_overflow = true;
			return;
		}
		s->van = p;
		s->van_cap = cap;
	}
	memmove(&s->van[i + 1], &s->van[i], (size_t)(n - i) * sizeof(*s->van));
	s->van[i].lo = s->van[i].hi = uid;
	s->n_van++;
}

/* imap_van_base - before writing: with too many ranges, the response is
 * the UIDs of BASE (or 1..UIDNEXT-1) that are not in the view. */
void imap_van_base(imap_session_t *s, const struct imap_range *base, uint32_t n)
{
	const struct imap_view *v = &s->view;
	uint32_t top = v->uidnext > 0 ? v->uidnext - 1 : 0;

	if (v->n > 0 && v->uids[v->n - 1] > top)
		top = v->uids[v->n - 1];
	s->van_i = 0;
	s->van_at = 0;
	if (base == NULL || n == 0) {
		s->van_all.lo = 1;
		s->van_all.hi = top;
		base = &s->van_all;
		n = top > 0 ? 1 : 0;
	}
	s->van_base = base;
	s->n_van_base = n;
	s->van_top = top;
}

/* imap_van_next - the next range to write; false when there is none. */
static bool imap_van_next(imap_session_t *s, uint32_t *lo_r, uint32_t *hi_r)
{
	const struct imap_view *v = &s->view;

	if (!s->van_overflow) {
		if (s->van_i >= s->n_van)
			return false;
		*lo_r = s->van[s->van_i].lo;
		*hi_r = s->van[s->van_i].hi;
		s->van_i++;
		return true;
	}
	while (s->van_i < s->n_van_base) {
		const struct imap_range *b = &s->van_base[s->van_i];
		uint64_t hi = b->hi < s->van_top ? b->hi : s->van_top;
		uint32_t l = 0, h = v->n;

		if (s->van_at < b->lo)
			s->van_at = b->lo;
		if (s->van_at > hi) {
			s->van_i++;
			s->van_at = 0;
			continue;
		}
		/* the first view UID >= van_at */
		while (l < h) {
			uint32_t mid = l + (h - l) / 2;

			if (v->uids[mid] < s->van_at)
				l = mid + 1;
			else
				h = mid;
		}
		while (l < v->n && v->uids[l] == s->van_at && s->van_at <= hi) {
			s->van_at++;
			l++;
		}
		if (s->van_at > hi)
			continue;
		*lo_r = (uint32_t)s->van_at;
		if (l < v->n && v->uids[l] - 1 < hi)
			hi = v->uids[l] - 1;
		*hi_r = (uint32_t)hi;
		s->van_at = hi + 1;
		return true;
	}
	return false;
}

static void imap_uid_range_write(imap_session_t *s, uint32_t lo, uint32_t hi, size_t *len)
{
	char b[32];
	int n = lo == hi ? snprintf(b, sizeof(b), "%" PRIu32, lo)
			 : snprintf(b, sizeof(b), "%" PRIu32 ":%" PRIu32, lo, hi);

	if (*len > 0)
		imap_out(s, ",", 1);
	imap_out(s, b, (size_t)n);
	*len += (size_t)n + 1;
}

bool imap_van_write(imap_session_t *s)
{
	size_t len = 0;
	bool open = false;
	uint32_t lo, hi;

	while (imap_room(s) >= IMAP_REPLY_RESERVE || open) {
		if (!imap_van_next(s, &lo, &hi)) {
			if (open)
				imap_out(s, "\r\n", 2);
			imap_van_reset(s);
			return true;
		}
		if (!open) {
			imap_out(s, "* VANISHED (EARLIER) ", 21);
			open = true;
			len = 0;
		}
		imap_uid_range_write(s, lo, hi, &len);
		if (len > IMAP_VAN_LINE_MAX) {
			imap_out(s, "\r\n", 2);
			open = false;
		}
	}
	return false;
}

bool imap_gone_write(imap_session_t *s)
{
	struct imap_view *v = &s->view;

	if (!(s->enabled & IMAP_EN_QRESYNC)) {
		while (v->gone_out < v->n_gone && imap_room(s) >= 32) {
			/* indexes are ascending: the earlier ones are gone */
			imap_reply(s, "* %" PRIu32 " EXPUNGE", v->gone[v->gone_out] - v->gone_out + 1);
			v->gone_out++;
			s->stats->expunged++;
		}
		return v->gone_out >= v->n_gone;
	}
	/* RFC 7162 §3.2.10: once QRESYNC is on, UIDs instead of numbers */
	while (v->gone_out < v->n_gone && imap_room(s) >= IMAP_REPLY_RESERVE) {
		size_t len = 0;

		imap_out(s, "* VANISHED ", 11);
		while (v->gone_out < v->n_gone && len <= IMAP_VAN_LINE_MAX) {
			uint32_t lo = v->uids[v->gone[v->gone_out]], hi = lo;

			v->gone_out++;
			s->stats->expunged++;
			while (v->gone_out < v->n_gone && v->uids[v->gone[v->gone_out]] == hi + 1) {
				hi++;
				v->gone_out++;
				s->stats->expunged++;
			}
			imap_uid_range_write(s, lo, hi, &len);
		}
		imap_out(s, "\r\n", 2);
	}
	return v->gone_out >= v->n_gone;
}
