/* imap_mailbox - LIST / LSUB (RFC 9051 §6.3.9, RFC 5258 selection and
 * return options, RFC 5819 LIST-STATUS, RFC 6154 SPECIAL-USE, RFC 3348
 * CHILDREN) and the STATUS response.
 *
 * The glue only walks the user's mailboxes (and subscriptions) in name
 * order; the engine matches the patterns, so the glue stays a loop over
 * st_mailbox_list. A long listing is produced as the output drains: when
 * the output fills, the engine tells the glue to stop and later asks again
 * with SKIP set past what it already saw. */
#include <inttypes.h>
#include <string.h>

#include "imap_private.h"
#include "sl_err.h"

/* imap_list_match - RFC 9051 §6.3.9 wildcards: '*' matches anything,
 * '%' anything but the delimiter. A bit-parallel walk over the name
 * positions: O(pattern x name), no backtracking, so a hostile pattern
 * like "*%*%*%...x" costs no more than a plain one. */
bool imap_list_match(const uint8_t *pat, size_t plen, const uint8_t *name, size_t nlen)
{
	bool cur[IMAP_NAME_MAX + 2], nxt[IMAP_NAME_MAX + 2];

	if (nlen > IMAP_NAME_MAX)
		return false;
	memset(cur, 0, nlen + 1);
	cur[0] = true;
	for (size_t i = 0; i < plen; i++) {
		uint8_t c = pat[i];
		bool any = false;

		memset(nxt, 0, nlen + 1);
		if (c == '*') {
			for (size_t j = 0; j <= nlen; j++) {
				any = any || cur[j];
				nxt[j] = any;
			}
		} else if (c == '%') {
			for (size_t j = 0; j <= nlen; j++) {
				if (cur[j])
					any = true;
				nxt[j] = any;
				if (j < nlen && name[j] == '/')
					any = false;
			}
		} else {
			for (size_t j = 0; j < nlen; j++) {
				if (cur[j] && name[j] == c) {
					nxt[j + 1] = true;
					any = true;
				}
			}
		}
		if (!any && c != '*' && c != '%')
			return false;
		memcpy(cur, nxt, nlen + 1);
	}
	return cur[nlen];
}

void imap_status_write(imap_session_t *s, sl_slice_t name, unsigned items,
		       const struct imap_mailbox_info *mb)
{
	const char *sep = "";

	imap_printf(s, "* STATUS ");
	imap_write_mailbox(s, name);
	imap_out(s, " (", 2);
	if (items & IMAP_ST_MESSAGES) {
		imap_printf(s, "%sMESSAGES %" PRIu32, sep, mb->messages);
		sep = " ";
	}
	if (items & IMAP_ST_UIDNEXT) {
		imap_printf(s, "%sUIDNEXT %" PRIu32, sep, mb->uidnext);
		sep = " ";
	}
	if (items & IMAP_ST_UIDVALIDITY) {
		imap_printf(s, "%sUIDVALIDITY %" PRIu32, sep, mb->uidvalidity);
		sep = " ";
	}
	if (items & IMAP_ST_UNSEEN) {
		imap_printf(s, "%sUNSEEN %" PRIu32, sep, mb->unseen);
		sep = " ";
	}
	if (items & IMAP_ST_RECENT) {
		imap_printf(s, "%sRECENT %" PRIu32, sep, mb->recent);
		sep = " ";
	}
	if (items & IMAP_ST_SIZE) {
		imap_printf(s, "%sSIZE %" PRIu64, sep, mb->size);
		sep = " ";
	}
	if (items & IMAP_ST_HIGHESTMODSEQ)
		imap_printf(s, "%sHIGHESTMODSEQ %" PRIu64, sep, mb->highestmodseq);
	imap_out(s, ")\r\n", 3);
}

static void imap_list_write(imap_session_t *s, const struct imap_mailbox_info *mb)
{
	const struct imap_list *l = &s->list;
	static const struct {
		uint32_t role;
		const char *attr;
	} roles[] = {{IMAP_ROLE_SENT, "\\Sent"},   {IMAP_ROLE_DRAFTS, "\\Drafts"},
		     {IMAP_ROLE_JUNK, "\\Junk"},   {IMAP_ROLE_TRASH, "\\Trash"},
		     {IMAP_ROLE_ARCHIVE, "\\Archive"}};
	bool nonexistent = (mb->attrs & IMAP_MBA_NONEXISTENT) != 0;
	const char *sep = "";

	imap_printf(s, "* %s (", l->lsub ? "LSUB" : "LIST");
	if (nonexistent) {
		/* RFC 5258 §3: \NonExistent implies \Noselect */
		imap_printf(s, "%s", l->lsub ? "\\Noselect" : "\\NonExistent");
		sep = " ";
	} else if (mb->attrs & IMAP_MBA_NOSELECT) {
		imap_printf(s, "\\Noselect");
		sep = " ";
	}
	if (!l->lsub && !nonexistent) {
		imap_printf(s, "%s%s", sep,
			    (mb->attrs & IMAP_MBA_CHILDREN) ? "\\HasChildren" : "\\HasNoChildren");
		sep = " ";
	}
	if (!l->lsub && l->ret_subscribed && (mb->attrs & IMAP_MBA_SUBSCRIBED)) {
		imap_printf(s, "%s\\Subscribed", sep);
		sep = " ";
	}
	if (!l->lsub) {
		for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++) {
			if (mb->roles & roles[i].role) {
				imap_printf(s, "%s%s", sep, roles[i].attr);
				sep = " ";
			}
		}
	}
	imap_out(s, ") \"/\" ", 6);
	imap_write_mailbox(s, mb->name);
	imap_out(s, "\r\n", 2);
	/* RFC 5819: the STATUS of each selectable mailbox listed */
	if (l->ret_status && !nonexistent && !(mb->attrs & IMAP_MBA_NOSELECT))
		imap_status_write(s, mb->name, l->ret_status, mb);
}

int imap_list_entry(imap_session_t *s, const struct imap_mailbox_info *mb)
{
	struct imap_list *l = &s->list;
	bool subscribed = (mb->attrs & IMAP_MBA_SUBSCRIBED) != 0;
	bool nonexistent = (mb->attrs & IMAP_MBA_NONEXISTENT) != 0;
	bool match = false;

	l->delivered++;
	if (l->lsub || l->sel_subscribed) {
		if (!subscribed && !nonexistent)
			goto next;
	} else if (nonexistent) {
		goto next; /* a subscription alone is no mailbox */
	}
	if (l->sel_special && mb->roles == 0)
		goto next;
	for (uint32_t i = 0; i < l->n_patterns && !match; i++)
		match = imap_list_match(l->patterns[i].ptr, l->patterns[i].len, mb->name.ptr,
					mb->name.len);
	if (match)
		imap_list_write(s, mb);
next:
	if (imap_room(s) < IMAP_REPLY_RESERVE) {
		l->stopped = true;
		return 1;
	}
	return 0;
}

bool imap_list_pump(imap_session_t *s)
{
	struct imap_list *l = &s->list;

	if (s->req.kind != IMAP_REQ_NONE)
		return false;
	if (l->iter_done) {
		imap_tagged(s, "OK", "%s completed", l->lsub ? "LSUB" : "LIST");
		return true;
	}
	if (imap_room(s) < IMAP_REPLY_RESERVE)
		return false;
	l->stopped = false;
	s->req.u.list.subscriptions = l->lsub || l->sel_subscribed;
	s->req.u.list.want_status = l->ret_status != 0;
	s->req.u.list.skip = l->delivered;
	imap_request_issue(s, IMAP_REQ_LIST);
	return true;
}
