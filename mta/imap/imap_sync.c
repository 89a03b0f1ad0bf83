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
	s->sync_due = false;
	s->sync_again = false;
	s->view.n_gone = 0;
	s->view.gone_out = 0;
	s->n_sync_new = 0;
	s->sync_recent_min = 0;
	s->req.u.sync.since = s->view.highestmodseq;
	s->req.u.sync.want = IMAP_WANT_KEYWORDS | IMAP_WANT_MODSEQ;
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
	msn = imap_view_msn(s, m->uid);
	if (msn > 0) {
		if (imap_room(s) < IMAP_REPLY_RESERVE) {
			s->sync_again = true; /* told next time; FETCH twice is harmless */
			return 0;
		}
		imap_printf(s, "* %" PRIu32 " FETCH (", msn);
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
	bool any = false;

	if (!s->announcing)
		return false;
	while (v->gone_out < v->n_gone && imap_room(s) >= 32) {
		imap_reply(s, "* %" PRIu32 " EXPUNGE", v->gone[v->gone_out] - v->gone_out + 1);
		v->gone_out++;
		s->stats->expunged++;
		any = true;
	}
	if (v->gone_out < v->n_gone || imap_room(s) < 64)
		return any;
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
	if (s->job == IMAP_JOB_SYNC)
		imap_tagged(s, "OK", "%s completed", s->verb ? s->verb : "NOOP");
	return true;
}
