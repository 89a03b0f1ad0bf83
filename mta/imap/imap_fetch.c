/* imap_fetch - FETCH (RFC 9051 §6.4.5, RFC 7162 MODSEQ/CHANGEDSINCE) and
 * the FETCH responses that follow a STORE.
 *
 * The glue walks the messages of the UID ranges (IMAP_REQ_FETCH) and hands
 * each one's metadata to imap_session_fetch_msg; the engine writes the
 * response. Body sections are literals, produced from IMAP_REQ_BODY byte
 * ranges as the output drains, so a 50 MB BODY[] needs output_max, not
 * 50 MB. HEADER, TEXT and HEADER.FIELDS need the header/body split: the
 * engine reads the first header_max bytes and finds the blank line itself
 * (RFC 5322 §2.1). ENVELOPE, BODY and BODYSTRUCTURE are rendered at
 * delivery and cached in the store; the glue passes them through.
 * BINARY (RFC 3516) decodes a part twice through BODY requests: once to
 * measure it, once to send it (imap_bin_begin); UID FETCH (CHANGEDSINCE n
 * VANISHED) starts with a SYNC for the expunged UIDs (RFC 7162 §3.2.6). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "imap_private.h"
#include "sl_err.h"
#include "sl_log.h"

/* ---- parsing ---- */

/* fetch-att name: letters, digits and '.', up to '[' or a delimiter */
static bool imap_p_att_name(struct imap_parser *ps, sl_slice_t *r)
{
	size_t st = ps->pos;

	while (ps->pos < ps->n) {
		uint8_t c = ps->p[ps->pos];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '.'))
			break;
		ps->pos++;
	}
	if (ps->pos == st)
		return imap_p_fail(ps, "Expected a FETCH attribute");
	*r = sl_slice_make(ps->p + st, ps->pos - st);
	return true;
}

static bool imap_p_partial(struct imap_parser *ps, struct imap_section *sec)
{
	if (!imap_p_at(ps, '<'))
		return true;
	ps->pos++;
	if (!imap_p_number(ps, &sec->p_off) || !imap_p_at(ps, '.'))
		return imap_p_fail(ps, "Invalid partial");
	ps->pos++;
	if (!imap_p_nz_number(ps, &sec->p_len) || !imap_p_at(ps, '>'))
		return imap_p_fail(ps, "Invalid partial");
	ps->pos++;
	sec->partial = true;
	return true;
}

static bool imap_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

/* SP "(" header-fld-name *(SP header-fld-name) ")" of HEADER.FIELDS(.NOT) */
static bool imap_p_fields(imap_session_t *s, struct imap_parser *ps, struct imap_section *sec)
{
	sl_slice_t *fields;
	uint32_t n = 0;

	fields = imap_arena_alloc(s, IMAP_FIELDS_MAX * sizeof(*fields));
	if (fields == NULL)
		return imap_p_fail(ps, "[LIMIT] Command too complex");
	if (!imap_p_sp(ps) || !imap_p_open(ps))
		return false;
	do {
		if (n > 0 && !imap_p_sp(ps))
			return false;
		if (n >= IMAP_FIELDS_MAX)
			return imap_p_fail(ps, "[LIMIT] Too many header fields");
		if (!imap_p_astring(ps, &fields[n]))
			return false;
		if (fields[n].len == 0 || fields[n].len > 998)
			return imap_p_fail(ps, "Invalid header field name");
		for (size_t k = 0; k < fields[n].len; k++)
			if (fields[n].ptr[k] <= 32 || fields[n].ptr[k] >= 127 || fields[n].ptr[k] == ':')
				return imap_p_fail(ps, "Invalid header field name");
		n++;
	} while (!imap_p_at(ps, ')'));
	if (!imap_p_close(ps))
		return false;
	sec->fields = fields;
	sec->n_fields = n;
	return true;
}

/* section-part = nz-number *("." nz-number), then optionally "." and
 * HEADER, HEADER.FIELDS(.NOT) (...), TEXT or MIME (RFC 9051 §6.4.5), then
 * "]" (BINARY: the part number only, RFC 3516 §4.1). The byte range comes
 * from the glue (IMAP_REQ_SECTION) when the section is sent. */
static bool imap_p_part_section(imap_session_t *s, struct imap_parser *ps,
				struct imap_section *sec, bool binary)
{
	size_t st = ps->pos;
	unsigned depth = 0;
	uint8_t *path;
	sl_slice_t a;

	for (;;) {
		size_t d0 = ps->pos;

		if (ps->pos >= ps->n || ps->p[ps->pos] < '1' || ps->p[ps->pos] > '9')
			return imap_p_fail(ps, "Invalid section part");
		while (ps->pos < ps->n && imap_digit(ps->p[ps->pos]))
			if (++ps->pos - d0 > 9)
				return imap_p_fail(ps, "Invalid section part");
		if (++depth > IMAP_PART_DEPTH_MAX)
			return imap_p_fail(ps, "[LIMIT] Section part nested too deep");
		if (ps->pos + 1 < ps->n && ps->p[ps->pos] == '.' && imap_digit(ps->p[ps->pos + 1])) {
			ps->pos++;
			continue;
		}
		break;
	}
	path = imap_arena_alloc(s, ps->pos - st + 1);
	if (path == NULL)
		return imap_p_fail(ps, "[LIMIT] Command too complex");
	memcpy(path, ps->p + st, ps->pos - st);
	path[ps->pos - st] = 0;
	sec->part = sl_slice_make(path, ps->pos - st);
	sec->kind = IMAP_SEC_FULL;
	sec->pkind = IMAP_PART_BODY;
	if (imap_p_at(ps, '.') && !binary) {
		ps->pos++;
		if (!imap_p_att_name(ps, &a))
			return false;
		if (sl_slice_eq_nocase(a, "HEADER")) {
			sec->pkind = IMAP_PART_HEADER;
		} else if (sl_slice_eq_nocase(a, "TEXT")) {
			sec->pkind = IMAP_PART_TEXT;
		} else if (sl_slice_eq_nocase(a, "MIME")) {
			sec->pkind = IMAP_PART_MIME;
		} else if (sl_slice_eq_nocase(a, "HEADER.FIELDS") ||
			   sl_slice_eq_nocase(a, "HEADER.FIELDS.NOT")) {
			/* the header of the message in a message/rfc822 part,
			 * filtered like the top-level one */
			sec->pkind = IMAP_PART_HEADER;
			sec->kind = a.len == 13 ? IMAP_SEC_FIELDS : IMAP_SEC_FIELDS_NOT;
			if (!imap_p_fields(s, ps, sec))
				return false;
		} else {
			return imap_p_fail(ps, "Invalid section");
		}
	}
	if (!imap_p_at(ps, ']'))
		return imap_p_fail(ps, "Expected ']'");
	ps->pos++;
	return true;
}

/* section = "[" [section-spec] "]"; part numbers (MIME parts) are resolved
 * to byte ranges by the glue when the section is sent. */
static bool imap_p_section(imap_session_t *s, struct imap_parser *ps, struct imap_section *sec)
{
	sl_slice_t a;

	if (!imap_p_at(ps, '['))
		return imap_p_fail(ps, "Expected '['");
	ps->pos++;
	if (imap_p_at(ps, ']')) {
		ps->pos++;
		sec->kind = IMAP_SEC_FULL;
		return true;
	}
	if (ps->pos < ps->n && ps->p[ps->pos] >= '0' && ps->p[ps->pos] <= '9')
		return imap_p_part_section(s, ps, sec, false);
	if (!imap_p_att_name(ps, &a))
		return false;
	if (sl_slice_eq_nocase(a, "HEADER")) {
		sec->kind = IMAP_SEC_HEADER;
	} else if (sl_slice_eq_nocase(a, "TEXT")) {
		sec->kind = IMAP_SEC_TEXT;
	} else if (sl_slice_eq_nocase(a, "HEADER.FIELDS") ||
		   sl_slice_eq_nocase(a, "HEADER.FIELDS.NOT")) {
		sec->kind = a.len == 13 ? IMAP_SEC_FIELDS : IMAP_SEC_FIELDS_NOT;
		if (!imap_p_fields(s, ps, sec))
			return false;
	} else {
		return imap_p_fail(ps, "Invalid section");
	}
	if (!imap_p_at(ps, ']'))
		return imap_p_fail(ps, "Expected ']'");
	ps->pos++;
	return true;
}

static bool imap_fetch_add_sec(struct imap_parser *ps, struct imap_fetch *f,
			       const struct imap_section *sec)
{
	if (f->n_sec >= IMAP_SECTIONS_MAX)
		return imap_p_fail(ps, "[LIMIT] Too many body sections");
	f->sec[f->n_sec++] = *sec;
	return true;
}

/* section-binary = "[" [section-part] "]" (RFC 3516 §4.1) */
static bool imap_p_section_binary(imap_session_t *s, struct imap_parser *ps,
				  struct imap_section *sec)
{
	if (!imap_p_at(ps, '['))
		return imap_p_fail(ps, "Expected '['");
	ps->pos++;
	if (imap_p_at(ps, ']')) {
		ps->pos++;
		return true;
	}
	return imap_p_part_section(s, ps, sec, true);
}

static bool imap_fetch_att(imap_session_t *s, struct imap_parser *ps)
{
	struct imap_fetch *f = &s->fetch;
	struct imap_section sec;
	sl_slice_t a;

	memset(&sec, 0, sizeof(sec));
	if (!imap_p_att_name(ps, &a))
		return false;
	if (sl_slice_eq_nocase(a, "UID")) {
		f->items |= IMAP_FI_UID;
	} else if (sl_slice_eq_nocase(a, "FLAGS")) {
		f->items |= IMAP_FI_FLAGS;
	} else if (sl_slice_eq_nocase(a, "RFC822.SIZE")) {
		f->items |= IMAP_FI_SIZE;
	} else if (sl_slice_eq_nocase(a, "INTERNALDATE")) {
		f->items |= IMAP_FI_DATE;
	} else if (sl_slice_eq_nocase(a, "MODSEQ")) {
		f->items |= IMAP_FI_MODSEQ;
	} else if (sl_slice_eq_nocase(a, "ENVELOPE")) {
		f->items |= IMAP_FI_ENVELOPE;
	} else if (sl_slice_eq_nocase(a, "BODYSTRUCTURE")) {
		f->items |= IMAP_FI_BODYSTRUCTURE;
	} else if (sl_slice_eq_nocase(a, "ALL")) {
		f->items |= IMAP_FI_FLAGS | IMAP_FI_DATE | IMAP_FI_SIZE | IMAP_FI_ENVELOPE;
	} else if (sl_slice_eq_nocase(a, "FAST")) {
		f->items |= IMAP_FI_FLAGS | IMAP_FI_DATE | IMAP_FI_SIZE;
	} else if (sl_slice_eq_nocase(a, "FULL")) {
		f->items |= IMAP_FI_FLAGS | IMAP_FI_DATE | IMAP_FI_SIZE | IMAP_FI_ENVELOPE |
			    IMAP_FI_BODY;
	} else if (sl_slice_eq_nocase(a, "RFC822")) {
		sec.kind = IMAP_SEC_FULL;
		sec.name = IMAP_SN_RFC822;
		return imap_fetch_add_sec(ps, f, &sec);
	} else if (sl_slice_eq_nocase(a, "RFC822.HEADER")) {
		sec.kind = IMAP_SEC_HEADER;
		sec.name = IMAP_SN_RFC822_HEADER;
		sec.peek = true; /* RFC 9051 §6.4.5: no \Seen */
		return imap_fetch_add_sec(ps, f, &sec);
	} else if (sl_slice_eq_nocase(a, "RFC822.TEXT")) {
		sec.kind = IMAP_SEC_TEXT;
		sec.name = IMAP_SN_RFC822_TEXT;
		return imap_fetch_add_sec(ps, f, &sec);
	} else if (sl_slice_eq_nocase(a, "BODY") || sl_slice_eq_nocase(a, "BODY.PEEK")) {
		if (!imap_p_at(ps, '[')) {
			if (a.len != 4)
				return imap_p_fail(ps, "Expected a section");
			f->items |= IMAP_FI_BODY;
			return true;
		}
		sec.name = IMAP_SN_BODY;
		sec.peek = a.len == 9;
		if (!imap_p_section(s, ps, &sec))
			return false;
		if (!imap_p_partial(ps, &sec))
			return false;
		return imap_fetch_add_sec(ps, f, &sec);
	} else if (sl_slice_eq_nocase(a, "BINARY") || sl_slice_eq_nocase(a, "BINARY.PEEK") ||
		   sl_slice_eq_nocase(a, "BINARY.SIZE")) {
		/* RFC 3516 §4.1: the decoded content of a part */
		sec.binary = true;
		sec.name = a.len == 11 && (a.ptr[7] == 'S' || a.ptr[7] == 's') ? IMAP_SN_BINARY_SIZE
										: IMAP_SN_BINARY;
		sec.peek = a.len != 6;
		if (!imap_p_section_binary(s, ps, &sec))
			return false;
		if (sec.name == IMAP_SN_BINARY && !imap_p_partial(ps, &sec))
			return false;
		return imap_fetch_add_sec(ps, f, &sec);
	} else {
		return imap_p_fail(ps, "Unknown FETCH attribute");
	}
	return true;
}

bool imap_fetch_parse(imap_session_t *s, struct imap_parser *ps)
{
	struct imap_fetch *f = &s->fetch;
	struct imap_range *set;
	uint32_t n;

	memset(f, 0, sizeof(*f));
	if (!imap_p_sp(ps) || !imap_p_seqset(ps, &set, &n) || !imap_p_sp(ps))
		return false;
	if (imap_p_at(ps, '(')) {
		bool first = true;

		if (!imap_p_open(ps))
			return false;
		while (!imap_p_at(ps, ')')) {
			if (!first && !imap_p_sp(ps))
				return false;
			first = false;
			if (!imap_fetch_att(s, ps))
				return false;
		}
		if (first)
			return imap_p_fail(ps, "Empty FETCH attribute list");
		if (!imap_p_close(ps))
			return false;
	} else if (!imap_fetch_att(s, ps)) {
		return false;
	}
	if (imap_p_at(ps, ' ')) {
		/* fetch-modifiers: (CHANGEDSINCE n [VANISHED]) (RFC 7162
		 * §3.1.4, §3.2.6) */
		bool first = true;

		ps->pos++;
		if (!imap_p_open(ps))
			return false;
		while (first || !imap_p_at(ps, ')')) {
			sl_slice_t a;
			uint64_t v;

			if (!first && !imap_p_sp(ps))
				return false;
			first = false;
			if (!imap_p_atom(ps, &a))
				return false;
			if (sl_slice_eq_nocase(a, "VANISHED")) {
				f->vanished = true;
				continue;
			}
			if (!sl_slice_eq_nocase(a, "CHANGEDSINCE"))
				return imap_p_fail(ps, "Unknown FETCH modifier");
			if (!imap_p_sp(ps) || !imap_p_number64(ps, &v))
				return false;
			if (v == 0)
				return imap_p_fail(ps, "CHANGEDSINCE must be positive");
			f->changedsince = v;
			f->items |= IMAP_FI_MODSEQ;
		}
		if (!imap_p_close(ps))
			return false;
	}
	if (!imap_p_eol(ps))
		return false;
	if (f->vanished) {
		struct imap_range *raw;

		if (!s->uid)
			return imap_p_fail(ps, "VANISHED needs UID FETCH");
		if (!(s->enabled & IMAP_EN_QRESYNC))
			return imap_p_fail(ps, "VANISHED needs ENABLE QRESYNC");
		if (f->changedsince == 0)
			return imap_p_fail(ps, "VANISHED needs CHANGEDSINCE");
		/* the set as given: expunged UIDs are not in the view */
		raw = imap_arena_alloc(s, (size_t)n * sizeof(*raw));
		if (raw == NULL)
			return imap_p_fail(ps, "[LIMIT] Command too complex");
		for (uint32_t i = 0; i < n; i++) {
			raw[i].lo = set[i].lo < set[i].hi ? set[i].lo : set[i].hi;
			raw[i].hi = set[i].lo < set[i].hi ? set[i].hi : set[i].lo;
		}
		f->raw_set = raw;
		f->n_raw_set = imap_ranges_normalize(raw, n);
	}
	if (s->uid)
		f->items |= IMAP_FI_UID;
	if (f->items & IMAP_FI_MODSEQ)
		s->enabled |= IMAP_EN_CONDSTORE; /* RFC 7162 §3.1: enabling */
	for (uint32_t i = 0; i < f->n_sec; i++)
		if (!f->sec[i].peek)
			f->set_seen = true;
	if (s->view.readonly)
		f->set_seen = false;
	if (f->set_seen)
		f->items |= IMAP_FI_FLAGS; /* §6.4.5: the new \Seen is shown */
	if (!imap_resolve_set(s, set, n, s->uid)) {
		ps->err = NULL;
		return false;
	}
	return true;
}

/* ---- responses ---- */

void imap_write_flags(imap_session_t *s, uint32_t flags, const sl_slice_t *kw, size_t n_kw,
		      bool recent)
{
	static const struct {
		uint32_t bit;
		const char *name;
	} sys[] = {{IMAP_FLAG_SEEN, "\\Seen"},       {IMAP_FLAG_ANSWERED, "\\Answered"},
		   {IMAP_FLAG_FLAGGED, "\\Flagged"}, {IMAP_FLAG_DELETED, "\\Deleted"},
		   {IMAP_FLAG_DRAFT, "\\Draft"}};
	const char *sep = "";

	imap_out(s, "FLAGS (", 7);
	for (size_t i = 0; i < sizeof(sys) / sizeof(sys[0]); i++) {
		if (flags & sys[i].bit) {
			imap_printf(s, "%s%s", sep, sys[i].name);
			sep = " ";
		}
	}
	for (size_t i = 0; i < n_kw; i++) {
		bool atom = kw[i].len > 0;

		for (size_t k = 0; k < kw[i].len && atom; k++)
			atom = imap_atom_char(kw[i].ptr[k]);
		if (!atom)
			continue; /* not a keyword the protocol can carry */
		imap_printf(s, "%s", sep);
		imap_out(s, kw[i].ptr, kw[i].len);
		sep = " ";
	}
	if (recent && !(s->enabled & IMAP_EN_IMAP4REV2))
		imap_printf(s, "%s\\Recent", sep);
	imap_out(s, ")", 1);
}

static void imap_write_date(imap_session_t *s, int64_t t, int32_t tz_min)
{
	static const char *const mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	time_t local = (time_t)(t + (int64_t)tz_min * 60);
	struct tm tm;
	int32_t z = tz_min < 0 ? -tz_min : tz_min;

	if (tz_min < -24 * 60 || tz_min > 24 * 60)
		z = tz_min = 0;
	if (gmtime_r(&local, &tm) == NULL || tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 0)
		memset(&tm, 0, sizeof(tm)), tm.tm_mday = 1, tm.tm_year = 70;
	imap_printf(s, "INTERNALDATE \"%2d-%s-%04d %02d:%02d:%02d %c%02d%02d\"", tm.tm_mday,
		    mon[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec,
		    tz_min < 0 ? '-' : '+', (int)(z / 60), (int)(z % 60));
}

static unsigned imap_fetch_want(const struct imap_fetch *f)
{
	unsigned w = 0;

	if (f->items & IMAP_FI_FLAGS)
		w |= IMAP_WANT_KEYWORDS;
	if ((f->items & IMAP_FI_MODSEQ) || f->changedsince)
		w |= IMAP_WANT_MODSEQ;
	if (f->items & IMAP_FI_DATE)
		w |= IMAP_WANT_DATE;
	if ((f->items & IMAP_FI_SIZE) || f->n_sec > 0)
		w |= IMAP_WANT_SIZE;
	if (f->items & IMAP_FI_ENVELOPE)
		w |= IMAP_WANT_ENVELOPE;
	if (f->items & (IMAP_FI_BODY | IMAP_FI_BODYSTRUCTURE))
		w |= IMAP_WANT_STRUCTURE;
	return w;
}

void imap_fetch_start(imap_session_t *s)
{
	struct imap_fetch *f = &s->fetch;

	if (s->n_ranges == 0) {
		if (!f->vanished) {
			imap_tagged(s, "OK", "FETCH completed");
			return;
		}
		/* no message to fetch, but expunged UIDs to report */
		f->iter_done = true;
		f->set_seen = false;
	}
	s->job = IMAP_JOB_FETCH;
	if (f->set_seen) {
		/* §6.4.5: BODY[] sets \Seen; done first, so the FLAGS in the
		 * responses are the new ones */
		memset(&s->req.u.store, 0, sizeof(s->req.u.store));
		s->req.u.store.uids = s->ranges;
		s->req.u.store.n_uids = s->n_ranges;
		s->req.u.store.mode = IMAP_STORE_ADD;
		s->req.u.store.flags = IMAP_FLAG_SEEN;
		imap_request_issue(s, IMAP_REQ_STORE);
	}
}

static void imap_fetch_sp(imap_session_t *s, bool *first)
{
	if (!*first)
		imap_out(s, " ", 1);
	*first = false;
}

int imap_fetch_msg(imap_session_t *s, const struct imap_msg_meta *m)
{
	struct imap_fetch *f = &s->fetch;
	uint32_t msn = imap_view_msn(s, m->uid);
	size_t need = IMAP_REPLY_RESERVE;
	bool first = true;

	if (msn == 0 || m->uid <= f->after)
		return 0; /* not in this session's view (yet), or seen */
	if (f->changedsince && m->modseq <= f->changedsince) {
		f->after = m->uid;
		return 0;
	}
	if (f->items & IMAP_FI_ENVELOPE)
		need += m->envelope.len;
	if (f->items & IMAP_FI_BODY)
		need += m->body.len;
	if (f->items & IMAP_FI_BODYSTRUCTURE)
		need += m->bodystructure.len;
	if (need > imap_room(s) && s->out.len > 0) {
		f->stopped = true;
		return 1; /* resume from this message once the output drains */
	}
	imap_printf(s, "* %" PRIu32 " FETCH (", msn);
	if (f->items & IMAP_FI_UID) {
		imap_fetch_sp(s, &first);
		imap_printf(s, "UID %" PRIu32, m->uid);
	}
	if (f->items & IMAP_FI_FLAGS) {
		imap_fetch_sp(s, &first);
		imap_write_flags(s, m->flags, m->keywords, m->n_keywords,
				 s->view.recent[msn - 1] != 0);
	}
	if (f->items & IMAP_FI_SIZE) {
		imap_fetch_sp(s, &first);
		imap_printf(s, "RFC822.SIZE %" PRIu64, m->size);
	}
	if (f->items & IMAP_FI_DATE) {
		imap_fetch_sp(s, &first);
		imap_write_date(s, m->internaldate, m->tz_min);
	}
	if (f->items & IMAP_FI_MODSEQ) {
		imap_fetch_sp(s, &first);
		imap_printf(s, "MODSEQ (%" PRIu64 ")", m->modseq);
	}
	if (f->items & IMAP_FI_ENVELOPE) {
		imap_fetch_sp(s, &first);
		if (m->envelope.len > 0) {
			imap_out(s, "ENVELOPE ", 9);
			imap_out(s, m->envelope.ptr, m->envelope.len);
		} else {
			/* a valid ENVELOPE of nothing; the command ends in NO */
			imap_out(s, "ENVELOPE (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)", 50);
			f->unavailable = true;
		}
	}
	if (f->items & IMAP_FI_BODY) {
		imap_fetch_sp(s, &first);
		if (m->body.len > 0) {
			imap_out(s, "BODY ", 5);
			imap_out(s, m->body.ptr, m->body.len);
		} else {
			imap_out(s, "BODY (\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 0 0)", 44);
			f->unavailable = true;
		}
	}
	if (f->items & IMAP_FI_BODYSTRUCTURE) {
		imap_fetch_sp(s, &first);
		if (m->bodystructure.len > 0) {
			imap_out(s, "BODYSTRUCTURE ", 14);
			imap_out(s, m->bodystructure.ptr, m->bodystructure.len);
		} else {
			imap_out(s, "BODYSTRUCTURE (\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 0 0)",
				 53);
			f->unavailable = true;
		}
	}
	f->after = m->uid;
	s->stats->fetch_msgs++;
	if (f->n_sec > 0) {
		/* the sections are literals fed by BODY requests: the glue
		 * stops here and we go on from the pump */
		f->msg_open = true;
		f->msg_uid = m->uid;
		f->msg_size = m->size;
		f->cur = 0;
		f->part_resolved = false;
		f->hdr_loaded = false;
		f->hdr_started = false;
		f->hdr_want = 0;
		f->in_literal = false;
		f->bin_stage = 0;
		f->msg_first = first;
		sl_buf_reset(&s->hdr);
		f->stopped = true;
		return 1;
	}
	imap_out(s, ")\r\n", 3);
	if (imap_room(s) < IMAP_REPLY_RESERVE) {
		f->stopped = true;
		return 1;
	}
	return 0;
}

/* imap_header_end - length of the header including the blank line that
 * ends it, or LEN if no blank line is there. */
static size_t imap_header_end(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (p[i] != '\n')
			continue;
		if (i + 1 < len && p[i + 1] == '\n')
			return i + 2;
		if (i + 2 < len && p[i + 1] == '\r' && p[i + 2] == '\n')
			return i + 3;
	}
	/* a message that starts with its blank line has an empty header */
	if (len >= 2 && p[0] == '\r' && p[1] == '\n')
		return 2;
	if (len >= 1 && p[0] == '\n')
		return 1;
	return len;
}

static bool imap_field_listed(const struct imap_section *sec, const uint8_t *name, size_t n)
{
	for (uint32_t i = 0; i < sec->n_fields; i++)
		if (sec->fields[i].len == n &&
		    !strncasecmp((const char *)sec->fields[i].ptr, (const char *)name, n))
			return true;
	return false;
}

/* imap_fields_filter - HEADER.FIELDS(.NOT): the matching fields with their
 * continuation lines, then the blank line (RFC 9051 §6.4.5). */
static void imap_fields_filter(imap_session_t *s, const struct imap_section *sec)
{
	const uint8_t *p = s->hdr.data;
	size_t n = s->fetch.hdr_len, i = 0;
	bool keep = false;

	sl_buf_reset(&s->sec_buf);
	/* the blank line is not a field */
	if (n >= 2 && p[n - 1] == '\n' && p[n - 2] == '\r' && (n == 2 || p[n - 3] == '\n'))
		n -= 2;
	else if (n >= 1 && p[n - 1] == '\n' && (n == 1 || p[n - 2] == '\n'))
		n -= 1;
	while (i < n) {
		const uint8_t *lf = memchr(p + i, '\n', n - i);
		size_t end = lf ? (size_t)(lf - p) + 1 : n;

		if (p[i] != ' ' && p[i] != '\t') {
			const uint8_t *colon = memchr(p + i, ':', end - i);
			size_t fl;

			if (colon == NULL) {
				keep = false;
			} else {
				fl = (size_t)(colon - (p + i));
				while (fl > 0 && (p[i + fl - 1] == ' ' || p[i + fl - 1] == '\t'))
					fl--;
				keep = imap_field_listed(sec, p + i, fl) ==
				       (sec->kind == IMAP_SEC_FIELDS);
			}
		}
		if (keep && sl_buf_append(&s->sec_buf, p + i, end - i) < 0)
			break;
		i = end;
	}
	(void)sl_buf_append(&s->sec_buf, "\r\n", 2);
}

static void imap_sec_name_write(imap_session_t *s, const struct imap_section *sec, uint64_t origin)
{
	static const char *const kinds[] = {"", "HEADER", "TEXT", "HEADER.FIELDS",
					    "HEADER.FIELDS.NOT"};

	switch (sec->name) {
	case IMAP_SN_RFC822:
		imap_out(s, "RFC822", 6);
		return;
	case IMAP_SN_RFC822_HEADER:
		imap_out(s, "RFC822.HEADER", 13);
		return;
	case IMAP_SN_RFC822_TEXT:
		imap_out(s, "RFC822.TEXT", 11);
		return;
	case IMAP_SN_BINARY:
	case IMAP_SN_BINARY_SIZE:
		imap_printf(s, "BINARY%s[", sec->name == IMAP_SN_BINARY_SIZE ? ".SIZE" : "");
		imap_out(s, sec->part.ptr, sec->part.len);
		imap_out(s, "]", 1);
		if (sec->partial)
			imap_printf(s, "<%" PRIu64 ">", origin);
		return;
	default:
		break;
	}
	if (sec->part.len > 0 && sec->kind == IMAP_SEC_FULL) {
		static const char *const pkinds[] = {"", ".HEADER", ".TEXT", ".MIME"};

		imap_out(s, "BODY[", 5);
		imap_out(s, sec->part.ptr, sec->part.len);
		imap_printf(s, "%s]", pkinds[sec->pkind]);
		if (sec->partial)
			imap_printf(s, "<%" PRIu64 ">", origin);
		return;
	}
	imap_out(s, "BODY[", 5);
	if (sec->part.len > 0) {
		imap_out(s, sec->part.ptr, sec->part.len);
		imap_out(s, ".", 1);
	}
	imap_printf(s, "%s", kinds[sec->kind]);
	if (sec->kind == IMAP_SEC_FIELDS || sec->kind == IMAP_SEC_FIELDS_NOT) {
		imap_out(s, " (", 2);
		for (uint32_t i = 0; i < sec->n_fields; i++) {
			bool atom = true;

			if (i)
				imap_out(s, " ", 1);
			for (size_t k = 0; k < sec->fields[i].len && atom; k++)
				atom = imap_atom_char(sec->fields[i].ptr[k]);
			if (atom)
				imap_out(s, sec->fields[i].ptr, sec->fields[i].len);
			else
				imap_write_string(s, sec->fields[i]);
		}
		imap_out(s, ")", 1);
	}
	imap_out(s, "]", 1);
	if (sec->partial)
		imap_printf(s, "<%" PRIu64 ">", origin);
}

/* imap_header_done - the header bytes are all read (or all we will get):
 * find the split. */
static void imap_header_done(imap_session_t *s)
{
	s->fetch.hdr_loaded = true;
	s->fetch.hdr_len = s->hdr.len ? imap_header_end(s->hdr.data, s->hdr.len) : 0;
}

/* imap_fetch_body_request - ask the glue for LEN bytes (at most
 * body_chunk_max) of the message being fetched, from OFFSET. */
static void imap_fetch_body_request(imap_session_t *s, uint64_t offset, uint64_t len)
{
	if (len > s->cfg->body_chunk_max)
		len = s->cfg->body_chunk_max;
	s->fetch.body_got = 0;
	s->req.u.body.uid = s->fetch.msg_uid;
	s->req.u.body.offset = offset;
	s->req.u.body.len = (uint32_t)len;
	imap_request_issue(s, IMAP_REQ_BODY);
}

/* imap_hdr_load - s->hdr holds up to WANT header bytes read from message
 * offset BASE (the top-level header, or a part's) and hdr_len is known.
 * False while a BODY request reads them. */
static bool imap_hdr_load(imap_session_t *s, uint64_t base, uint64_t want)
{
	struct imap_fetch *f = &s->fetch;
	uint64_t k;

	if (!f->hdr_started || f->hdr_base != base) {
		sl_buf_reset(&s->hdr);
		f->hdr_started = true;
		f->hdr_loaded = false;
		f->hdr_base = base;
		f->hdr_want = want < s->cfg->header_max ? want : s->cfg->header_max;
	}
	if (f->hdr_loaded)
		return true;
	if (s->hdr.len >= f->hdr_want) {
		imap_header_done(s);
		return true;
	}
	k = f->hdr_want - s->hdr.len;
	imap_fetch_body_request(s, base + s->hdr.len, k);
	return false;
}

/* imap_issue_section - where PATH's KIND lies (IMAP_REQ_SECTION). */
static void imap_issue_section(imap_session_t *s, sl_slice_t path, enum imap_part_kind kind)
{
	s->req.u.section.uid = s->fetch.msg_uid;
	s->req.u.section.path = path;
	s->req.u.section.kind = kind;
	imap_request_issue(s, IMAP_REQ_SECTION);
}

/* imap_partial - apply <origin.octets> to a section of LEN bytes: the
 * offset into it and the length to send (§6.4.5: past the end is an
 * empty string). */
static void imap_partial(const struct imap_section *sec, uint64_t len, uint64_t *skip_r,
			 uint64_t *len_r)
{
	uint64_t origin = 0;

	if (sec->partial) {
		origin = sec->p_off < len ? sec->p_off : len;
		len -= origin;
		if (len > sec->p_len)
			len = sec->p_len;
	}
	*skip_r = origin;
	*len_r = len;
}

/* The measuring pass of BINARY: count the decoded bytes, look for NUL. */
static void imap_bin_measure_sink(void *ctx, sl_slice_t d)
{
	struct imap_fetch *f = &((imap_session_t *)ctx)->fetch;

	f->dec_pos += d.len;
	if (!f->bin_nul && d.len > 0 && memchr(d.ptr, 0, d.len) != NULL)
		f->bin_nul = true;
}

/* The sending pass: the decoded bytes that fall in the literal's window. */
static void imap_bin_stream_sink(void *ctx, sl_slice_t d)
{
	imap_session_t *s = ctx;
	struct imap_fetch *f = &s->fetch;
	uint64_t a = f->dec_pos, b = a + d.len;
	uint64_t lo = f->dec_from + f->lit_src, hi = f->dec_from + f->lit_end;

	if (lo < a)
		lo = a;
	if (hi > b)
		hi = b;
	if (lo < hi) {
		imap_out(s, d.ptr + (lo - a), (size_t)(hi - lo));
		f->lit_src += hi - lo;
		s->stats->body_bytes += hi - lo;
	}
	f->dec_pos = b;
}

/* imap_bin_feed - encoded bytes of the part, to the pass that runs. */
static void imap_bin_feed(imap_session_t *s, sl_slice_t part)
{
	struct imap_fetch *f = &s->fetch;

	f->enc_pos += part.len;
	if (f->bin_cte == IMAP_CTE_IDENTITY) {
		imap_bin_measure_sink(s, part);
		return;
	}
	if (imap_dec_feed(s->dec, part) < 0) {
		/* the decoder stopped: treat the rest as unreadable */
		f->short_body = true;
		f->enc_pos = f->bin_off + f->bin_len;
	}
}

/* imap_sec_done_inline - a section item written without a literal: the
 * step moves on to the next one. */
static void imap_sec_done_inline(struct imap_fetch *f)
{
	f->in_literal = true;
	f->lit_decode = false;
	f->lit_from_buf = true;
	f->lit_src = f->lit_end = 0;
	f->lit_pad = 0;
}

/* imap_bin_begin - BINARY[p], BINARY.PEEK[p], BINARY.SIZE[p] (RFC 3516):
 * find the part's MIME header and its encoding, find its body, decode it
 * once to learn the size (and whether a NUL needs literal8), then write
 * the item and set up a second decoding pass as the literal. */
static bool imap_bin_begin(imap_session_t *s)
{
	struct imap_fetch *f = &s->fetch;
	const struct imap_section *sec = &f->sec[f->cur];
	uint64_t skip, len;

	for (;;) {
		switch (f->bin_stage) {
		case 0: /* the MIME header */
			if (f->bin_cached && f->bin_c_uid == f->msg_uid &&
			    f->bin_c_path.len == sec->part.len &&
			    !memcmp(f->bin_c_path.ptr, sec->part.ptr, sec->part.len)) {
				f->bin_cte = f->bin_c_cte;
				f->bin_off = f->bin_c_off;
				f->bin_len = f->bin_c_len;
				f->bin_size = f->bin_c_size;
				f->bin_nul = f->bin_c_nul;
				f->bin_stage = 5;
				continue;
			}
			if (sec->part.len == 0) {
				/* BINARY[]: the whole message, as it is */
				f->bin_cte = IMAP_CTE_IDENTITY;
				f->bin_off = 0;
				f->bin_len = f->msg_size;
				f->bin_stage = 3;
				continue;
			}
			if (!f->part_resolved) {
				imap_issue_section(s, sec->part, IMAP_PART_MIME);
				return false;
			}
			f->part_resolved = false;
			if (!f->part_found) {
				/* no such part: an empty string, as for BODY */
				f->bin_cte = IMAP_CTE_IDENTITY;
				f->bin_off = f->bin_len = 0;
				f->bin_stage = 3;
				continue;
			}
			f->bin_off = f->part_off;
			f->bin_len = f->part_len;
			f->bin_stage = 1;
			continue;
		case 1: /* its Content-Transfer-Encoding */
			if (!imap_hdr_load(s, f->bin_off, f->bin_len))
				return false;
			f->bin_cte = imap_cte_of_header(s->hdr.data, (size_t)f->hdr_len);
			if (f->bin_cte == IMAP_CTE_UNKNOWN) {
				/* §4.3: the request fails with NO [UNKNOWN-CTE]; the
				 * item is NIL so the response stays well formed */
				if (imap_room(s) < IMAP_REPLY_RESERVE)
					return false;
				f->unknown_cte = true;
				imap_fetch_sp(s, &f->msg_first);
				imap_sec_name_write(s, sec, 0);
				imap_out(s, sec->name == IMAP_SN_BINARY_SIZE ? " 0" : " NIL",
					 sec->name == IMAP_SN_BINARY_SIZE ? 2 : 4);
				imap_sec_done_inline(f);
				return true;
			}
			f->bin_stage = 2;
			continue;
		case 2: /* the body */
			if (!f->part_resolved) {
				imap_issue_section(s, sec->part, IMAP_PART_BODY);
				return false;
			}
			f->part_resolved = false;
			f->bin_off = f->part_found ? f->part_off : 0;
			f->bin_len = f->part_found ? f->part_len : 0;
			f->bin_stage = 3;
			continue;
		case 3: /* start measuring */
			if (f->bin_off > f->msg_size)
				f->bin_off = f->msg_size;
			if (f->bin_len > f->msg_size - f->bin_off)
				f->bin_len = f->msg_size - f->bin_off;
			if (sec->name == IMAP_SN_BINARY_SIZE && f->bin_cte == IMAP_CTE_IDENTITY) {
				f->bin_size = f->bin_len; /* nothing to decode */
				f->bin_stage = 5;
				continue;
			}
			f->enc_pos = f->bin_off;
			f->dec_pos = 0;
			f->bin_nul = false;
			if (f->bin_cte != IMAP_CTE_IDENTITY &&
			    imap_dec_start(&s->dec, f->bin_cte, imap_bin_measure_sink, s) < 0) {
				f->unavailable = true;
				f->bin_len = 0;
			}
			f->measuring = true;
			f->bin_stage = 4;
			continue;
		case 4: /* measuring: one decoding pass in BODY requests */
			if (f->enc_pos < f->bin_off + f->bin_len) {
				uint64_t k = f->bin_off + f->bin_len - f->enc_pos;

				imap_fetch_body_request(s, f->enc_pos, k);
				return false;
			}
			if (f->bin_cte != IMAP_CTE_IDENTITY && s->dec != NULL)
				(void)imap_dec_finish(s->dec);
			f->measuring = false;
			f->bin_size = f->dec_pos;
			if (!f->short_body) {
				f->bin_cached = true;
				f->bin_c_uid = f->msg_uid;
				f->bin_c_path = sec->part;
				f->bin_c_cte = f->bin_cte;
				f->bin_c_off = f->bin_off;
				f->bin_c_len = f->bin_len;
				f->bin_c_size = f->bin_size;
				f->bin_c_nul = f->bin_nul;
			}
			f->bin_stage = 5;
			continue;
		default: /* 5: measured: the item */
			if (imap_room(s) < IMAP_REPLY_RESERVE)
				return false;
			imap_fetch_sp(s, &f->msg_first);
			if (sec->name == IMAP_SN_BINARY_SIZE) {
				imap_sec_name_write(s, sec, 0);
				imap_printf(s, " %" PRIu64, f->bin_size);
				imap_sec_done_inline(f);
				return true;
			}
			imap_partial(sec, f->bin_size, &skip, &len);
			imap_sec_name_write(s, sec, sec->p_off);
			/* §4.3: literal8 when the data holds a NUL */
			imap_printf(s, " %s{%" PRIu64 "}\r\n", f->bin_nul ? "~" : "", len);
			f->in_literal = true;
			f->lit_from_buf = false;
			f->lit_pad = 0;
			if (f->bin_cte == IMAP_CTE_IDENTITY) {
				f->lit_decode = false;
				f->lit_src = f->bin_off + skip;
				f->lit_end = f->lit_src + len;
				return true;
			}
			f->lit_decode = true;
			f->dec_flushed = false;
			f->lit_src = 0;
			f->lit_end = len;
			f->dec_from = skip;
			f->dec_pos = 0;
			f->enc_pos = f->bin_off;
			if (len > 0 && imap_dec_start(&s->dec, f->bin_cte, imap_bin_stream_sink, s) < 0)
				f->enc_pos = f->bin_off + f->bin_len; /* padded, NO at the end */
			return true;
		}
	}
}

/* imap_sec_begin - write " NAME {len}" for section f->cur and set up its
 * source. False if the header must be read first (a BODY request was
 * issued) or the output is too full. */
static bool imap_sec_begin(imap_session_t *s)
{
	struct imap_fetch *f = &s->fetch;
	const struct imap_section *sec = &f->sec[f->cur];
	uint64_t start, len, origin = 0;

	if (sec->binary)
		return imap_bin_begin(s);
	if (sec->part.len > 0) {
		/* a MIME part: the glue says where it lies */
		if (!f->part_resolved) {
			imap_issue_section(s, sec->part, sec->pkind);
			return false;
		}
		if (sec->kind == IMAP_SEC_FIELDS || sec->kind == IMAP_SEC_FIELDS_NOT) {
			/* HEADER.FIELDS of an embedded message: its header is
			 * read and filtered like the top-level one */
			if (!f->part_found) {
				sl_buf_reset(&s->sec_buf);
			} else {
				uint64_t ps = f->part_off < f->msg_size ? f->part_off : f->msg_size;
				uint64_t pl = f->part_len < f->msg_size - ps ? f->part_len
									     : f->msg_size - ps;

				if (!imap_hdr_load(s, ps, pl))
					return false;
				if (imap_room(s) < IMAP_REPLY_RESERVE)
					return false;
				imap_fields_filter(s, sec);
			}
			if (imap_room(s) < IMAP_REPLY_RESERVE)
				return false;
			start = 0;
			len = s->sec_buf.len;
			f->lit_from_buf = true;
			goto range;
		}
		if (imap_room(s) < IMAP_REPLY_RESERVE)
			return false;
		f->lit_from_buf = false;
		start = f->part_off < f->msg_size ? f->part_off : f->msg_size;
		len = f->part_len < f->msg_size - start ? f->part_len : f->msg_size - start;
		goto range;
	}
	if (sec->kind != IMAP_SEC_FULL && !imap_hdr_load(s, 0, f->msg_size))
		return false;
	if (imap_room(s) < IMAP_REPLY_RESERVE)
		return false;
	f->lit_from_buf = false;
	switch (sec->kind) {
	case IMAP_SEC_FULL:
		start = 0;
		len = f->msg_size;
		break;
	case IMAP_SEC_HEADER:
		start = 0;
		len = f->hdr_len;
		f->lit_from_buf = true;
		break;
	case IMAP_SEC_TEXT:
		start = f->hdr_len;
		len = f->msg_size > f->hdr_len ? f->msg_size - f->hdr_len : 0;
		break;
	default:
		imap_fields_filter(s, sec);
		start = 0;
		len = s->sec_buf.len;
		f->lit_from_buf = true;
		break;
	}
range:
	if (sec->partial) {
		/* §6.4.5: <origin.octets>; past the end is an empty string */
		origin = sec->p_off;
		if (origin > len)
			origin = len;
		start += origin;
		len -= origin;
		if (len > sec->p_len)
			len = sec->p_len;
		origin = sec->p_off;
	}
	imap_fetch_sp(s, &f->msg_first);
	imap_sec_name_write(s, sec, origin);
	imap_printf(s, " {%" PRIu64 "}\r\n", len);
	f->in_literal = true;
	f->lit_decode = false;
	f->lit_src = start;
	f->lit_end = start + len;
	f->lit_pad = 0;
	return true;
}

/* imap_sec_step - send more of the current literal. True on progress. */
static bool imap_sec_step(imap_session_t *s)
{
	struct imap_fetch *f = &s->fetch;
	const struct imap_section *sec = &f->sec[f->cur];
	uint64_t left = f->lit_end - f->lit_src;
	size_t room = imap_room(s);
	uint64_t k;

	if (left == 0 && f->lit_pad == 0) {
		f->in_literal = false;
		f->lit_decode = false;
		f->part_resolved = false;
		f->bin_stage = 0;
		f->cur++;
		return true;
	}
	if (room == 0)
		return false;
	if (f->lit_pad > 0) {
		/* the body ended early: keep the framing we announced */
		static const char spaces[64] = "                                                               ";

		k = f->lit_pad < sizeof(spaces) ? f->lit_pad : sizeof(spaces);
		if (k > room)
			k = room;
		imap_out(s, spaces, (size_t)k);
		f->lit_pad -= k;
		return true;
	}
	if (f->lit_from_buf) {
		const sl_buf_t *b = sec->kind == IMAP_SEC_HEADER ? &s->hdr : &s->sec_buf;

		k = left < room ? left : room;
		imap_out(s, b->data + f->lit_src, (size_t)k);
		f->lit_src += k;
		s->stats->body_bytes += k;
		return true;
	}
	if (f->lit_decode) {
		/* BINARY: encoded bytes in, at most as many decoded out */
		uint64_t enc_left = f->bin_off + f->bin_len - f->enc_pos;

		if (enc_left == 0) {
			if (!f->dec_flushed) {
				f->dec_flushed = true;
				(void)imap_dec_finish(s->dec);
				return true;
			}
			/* fewer bytes than measured: keep the framing */
			f->short_body = true;
			f->lit_pad = f->lit_end - f->lit_src;
			f->lit_end = f->lit_src;
			return true;
		}
		if (room < 4096 + 64)
			return false;
		k = enc_left < room - 64 ? enc_left : room - 64;
		imap_fetch_body_request(s, f->enc_pos, k);
		return true;
	}
	/* from the store: wait for a decent amount of room, then ask */
	k = left;
	if (k > s->cfg->body_chunk_max)
		k = s->cfg->body_chunk_max;
	if (k > room) {
		if (room < 4096)
			return false;
		k = room;
	}
	imap_fetch_body_request(s, f->lit_src, k);
	return true;
}

void imap_fetch_body_data(imap_session_t *s, sl_slice_t part)
{
	struct imap_fetch *f = &s->fetch;

	if (s->job != IMAP_JOB_FETCH || !f->msg_open)
		return;
	if (f->measuring) {
		imap_bin_feed(s, part);
		return;
	}
	if (!f->in_literal) {
		/* reading the header for the split */
		(void)sl_buf_append(&s->hdr, part.ptr, part.len);
		return;
	}
	if (f->lit_decode) {
		imap_bin_feed(s, part);
		return;
	}
	imap_out(s, part.ptr, part.len);
	f->lit_src += part.len;
	s->stats->body_bytes += part.len;
}

void imap_fetch_body_end(imap_session_t *s, int err)
{
	struct imap_fetch *f = &s->fetch;
	uint32_t asked = s->req.u.body.len;

	if (s->job != IMAP_JOB_FETCH || !f->msg_open)
		return;
	if (f->measuring && (err < 0 || f->body_got < asked)) {
		/* the part ends early: measure what there is */
		f->short_body = true;
		f->enc_pos = f->bin_off + f->bin_len;
		return;
	}
	if (err < 0) {
		sl_log(SL_LOG_WARN, "imap", "%s: body of UID %" PRIu32 " unreadable: %s",
		       s->client_ip, f->msg_uid, sl_strerror(err));
		if (f->in_literal && f->body_got > 0) {
			imap_close(s); /* a literal is half out: cannot recover */
			return;
		}
		f->short_body = true;
		if (f->in_literal) {
			f->lit_pad = f->lit_end - f->lit_src;
			f->lit_end = f->lit_src;
		} else {
			imap_header_done(s); /* what we have is the header */
		}
		return;
	}
	if (f->body_got < asked) {
		/* the body is shorter than its recorded size */
		f->short_body = true;
		if (f->in_literal) {
			f->lit_pad = f->lit_end - f->lit_src;
			f->lit_end = f->lit_src;
		} else {
			imap_header_done(s);
		}
	}
}

static void imap_fetch_finish(imap_session_t *s)
{
	struct imap_fetch *f = &s->fetch;
	const char *what = f->flags_only_silent ? "STORE" : "FETCH";

	if (f->flags_only_silent)
		s->stats->stores++;
	if (f->unknown_cte)
		imap_tagged(s, "NO", "[UNKNOWN-CTE] A part has an unknown Content-Transfer-Encoding");
	else if (f->unavailable)
		imap_tagged(s, "NO", "[UNAVAILABLE] Some message structures are not available");
	else if (f->short_body)
		imap_tagged(s, "NO", "[UNAVAILABLE] Some message bodies could not be read");
	else
		imap_tagged(s, "OK", "%s completed", what);
}

bool imap_fetch_pump(imap_session_t *s)
{
	struct imap_fetch *f = &s->fetch;

	if (s->req.kind != IMAP_REQ_NONE)
		return false;
	if (f->set_seen && !f->seen_stored)
		return false; /* the STORE failed and was answered */
	if (f->vanished && f->van_stage != 3) {
		/* RFC 7162 §3.2.6: VANISHED (EARLIER) before the FETCHes */
		size_t out0 = s->out.len;

		if (f->van_stage == 0) {
			imap_van_reset(s);
			f->van_stage = 1;
			imap_sync_issue_qr(s, IMAP_SM_QR_FETCH, f->changedsince);
			return true;
		}
		if (f->van_stage == 1)
			return false;
		if (!imap_van_write(s))
			return s->out.len != out0;
		f->van_stage = 3;
		return true;
	}
	if (f->msg_open) {
		bool progress = false;

		while (f->cur < f->n_sec && s->req.kind == IMAP_REQ_NONE &&
		       s->phase != IMAP_P_CLOSED) {
			if (!f->in_literal) {
				if (!imap_sec_begin(s))
					return progress || s->req.kind != IMAP_REQ_NONE;
				progress = true;
				continue;
			}
			if (!imap_sec_step(s))
				return progress;
			progress = true;
		}
		if (s->req.kind != IMAP_REQ_NONE || s->phase == IMAP_P_CLOSED)
			return true;
		if (imap_room(s) < 3)
			return progress;
		imap_out(s, ")\r\n", 3);
		f->msg_open = false;
		return true;
	}
	if (f->iter_done) {
		imap_fetch_finish(s);
		return true;
	}
	if (imap_room(s) < IMAP_REPLY_RESERVE)
		return false;
	f->stopped = false;
	s->req.u.fetch.uids = s->ranges;
	s->req.u.fetch.n_uids = s->n_ranges;
	s->req.u.fetch.after = f->after;
	s->req.u.fetch.want = imap_fetch_want(f);
	imap_request_issue(s, IMAP_REQ_FETCH);
	return true;
}

int imap_session_section_done(imap_session_t *s, uint64_t now_us, int err, uint64_t offset,
			      uint64_t len)
{
	struct imap_fetch *f = &s->fetch;

	s->now = now_us;
	s->last_active = now_us;
	if (s->req.kind != IMAP_REQ_SECTION)
		return s->phase == IMAP_P_CLOSED ? SL_ECLOSED : SL_ESTATE;
	s->req.kind = IMAP_REQ_NONE;
	f->part_resolved = true;
	f->part_found = err == 0;
	f->part_off = 0;
	f->part_len = 0;
	if (err == 0) {
		f->part_off = offset;
		f->part_len = len;
	} else if (err != SL_ENOENT && err != SL_EINVAL) {
		f->unavailable = true; /* told with NO [UNAVAILABLE] at the end */
	}
	return imap_resume(s);
}
