/* imap_cmd - the command table and the handlers that need no message
 * iteration (RFC 9051 §6; RFC 2971 ID, RFC 5161 ENABLE, RFC 2342
 * NAMESPACE, RFC 2177 IDLE, RFC 3691 UNSELECT, RFC 4959 SASL-IR,
 * RFC 6154 CREATE USE).
 *
 * Each command is {verb, flags, check, proceed}: flags say in which states
 * it is valid and whether it has a UID form; check parses the arguments
 * (false: the BAD was sent); proceed answers, or issues a request and
 * leaves a job that ends with the tagged response. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sl_base64.h"
#include "imap_private.h"
#include "sl_err.h"

#define IMAP_CF_NOTAUTH 0x01u  /* valid before login */
#define IMAP_CF_AUTH 0x02u     /* valid when authenticated */
#define IMAP_CF_SELECTED 0x04u /* valid with a mailbox selected */
#define IMAP_CF_UID 0x08u      /* has a UID form */
#define IMAP_CF_ANY (IMAP_CF_NOTAUTH | IMAP_CF_AUTH | IMAP_CF_SELECTED)
#define IMAP_CF_LOGGED (IMAP_CF_AUTH | IMAP_CF_SELECTED)

struct imap_cmd {
	const char *verb;
	unsigned flags;
	bool (*check)(imap_session_t *s, struct imap_parser *ps); /* false: BAD */
	void (*proceed)(imap_session_t *s);
};

void imap_greeting(imap_session_t *s)
{
	imap_out(s, "* OK [", 6);
	imap_capability_write(s);
	imap_reply(s, "] %s Sluice IMAP ready", s->cfg->hostname);
}

static bool imap_auth_offered(const imap_session_t *s)
{
	return s->tls || s->cfg->allow_plaintext_auth;
}

/* imap_capability_write - "CAPABILITY ..." as it stands now: only what is
 * implemented, and what applies in the current state. */
void imap_capability_write(imap_session_t *s)
{
	imap_printf(s, "CAPABILITY IMAP4rev1 IMAP4rev2");
	if (s->state == IMAP_STATE_NOT_AUTH) {
		if (s->cfg->starttls_available && !s->tls)
			imap_printf(s, " STARTTLS");
		if (imap_auth_offered(s))
			imap_printf(s, " AUTH=PLAIN");
		else
			imap_printf(s, " LOGINDISABLED");
	}
	imap_printf(s, " SASL-IR LITERAL+ ID ENABLE IDLE NAMESPACE UNSELECT UIDPLUS MOVE"
		       " CHILDREN SPECIAL-USE CREATE-SPECIAL-USE LIST-STATUS ESEARCH"
		       " CONDSTORE QRESYNC BINARY APPENDLIMIT=%" PRIu64,
		    s->cfg->appendlimit);
}

/* ---- sets ---- */

static int imap_range_cmp(const void *a, const void *b)
{
	const struct imap_range *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* imap_resolve_set - parsed ranges (sequence numbers or UIDs, '*' as
 * UINT32_MAX) to sorted, merged UID ranges of the view in s->ranges.
 * Sequence numbers must exist (RFC 9051 §9 seq-number: BAD otherwise);
 * UIDs need not, and are clamped to the view so that messages not yet
 * announced are never reported. */
bool imap_resolve_set(imap_session_t *s, const struct imap_range *set, uint32_t n, bool uid)
{
	const struct imap_view *v = &s->view;
	uint32_t max_uid = v->n ? v->uids[v->n - 1] : 0;
	size_t k = 0;

	if (s->ranges == NULL) {
		s->ranges = malloc((size_t)s->cfg->seqset_max * sizeof(*s->ranges));
		if (s->ranges == NULL) {
			imap_tagged(s, "NO", "[SERVERBUG] Out of memory");
			return false;
		}
	}
	for (uint32_t i = 0; i < n; i++) {
		uint32_t lo = set[i].lo, hi = set[i].hi;

		if (uid) {
			if (lo == UINT32_MAX)
				lo = max_uid;
			if (hi == UINT32_MAX)
				hi = max_uid;
			if (lo > hi) {
				uint32_t t = lo;

				lo = hi;
				hi = t;
			}
			if (hi > max_uid)
				hi = max_uid;
			if (lo == 0)
				lo = 1;
			if (lo > hi)
				continue;
		} else {
			if (lo == UINT32_MAX)
				lo = v->n;
			if (hi == UINT32_MAX)
				hi = v->n;
			if (lo > hi) {
				uint32_t t = lo;

				lo = hi;
				hi = t;
			}
			if (lo == 0 || hi > v->n) {
				imap_bad(s, "Invalid message sequence number");
				return false;
			}
			lo = v->uids[lo - 1];
			hi = v->uids[hi - 1];
		}
		s->ranges[k].lo = lo;
		s->ranges[k].hi = hi;
		k++;
	}
	qsort(s->ranges, k, sizeof(*s->ranges), imap_range_cmp);
	s->n_ranges = 0;
	for (size_t i = 0; i < k; i++) {
		struct imap_range *last = s->n_ranges ? &s->ranges[s->n_ranges - 1] : NULL;

		if (last != NULL && (uint64_t)s->ranges[i].lo <= (uint64_t)last->hi + 1) {
			if (s->ranges[i].hi > last->hi)
				last->hi = s->ranges[i].hi;
		} else {
			s->ranges[s->n_ranges++] = s->ranges[i];
		}
	}
	return true;
}

/* ---- any state ---- */

static bool imap_check_noargs(imap_session_t *s, struct imap_parser *ps)
{
	(void)s;
	return imap_p_eol(ps);
}

static void imap_do_capability(imap_session_t *s)
{
	imap_out(s, "* ", 2);
	imap_capability_write(s);
	imap_out(s, "\r\n", 2);
	imap_tagged(s, "OK", "CAPABILITY completed");
}

/* imap_poll - NOOP and CHECK are where a client polls for changes made
 * elsewhere (RFC 9051 §6.1.2): a SYNC first if the glue said so. */
static void imap_poll(imap_session_t *s)
{
	if (s->state == IMAP_STATE_SELECTED && (s->sync_due || s->cfg->sync_on_poll)) {
		s->job = IMAP_JOB_SYNC;
		imap_sync_issue(s);
		return;
	}
	imap_tagged(s, "OK", "%s completed", s->verb);
}

static void imap_do_noop(imap_session_t *s)
{
	imap_poll(s);
}

static void imap_do_logout(imap_session_t *s)
{
	imap_reply(s, "* BYE %s logging out", s->cfg->hostname);
	imap_tagged(s, "OK", "LOGOUT completed");
	imap_close(s);
}

/* RFC 2971: ID ( "key" nstring ... ) / NIL; at most 30 pairs, keys of 30
 * octets, values of 1024. What the client says is not kept. */
static bool imap_check_id(imap_session_t *s, struct imap_parser *ps)
{
	sl_slice_t k, v;
	bool nil;
	unsigned pairs = 0;

	(void)s;
	if (!imap_p_sp(ps))
		return false;
	if (!imap_p_at(ps, '(')) {
		sl_slice_t a;

		if (!imap_p_atom(ps, &a) || !sl_slice_eq_nocase(a, "NIL")) {
			ps->err = NULL;
			return imap_p_fail(ps, "Expected NIL or a list");
		}
		return imap_p_eol(ps);
	}
	if (!imap_p_open(ps))
		return false;
	while (!imap_p_at(ps, ')')) {
		if (pairs > 0 && !imap_p_sp(ps))
			return false;
		if (!imap_p_string(ps, &k) || !imap_p_sp(ps) || !imap_p_nstring(ps, &v, &nil))
			return false;
		if (++pairs > IMAP_ID_PAIRS_MAX || k.len > 30 || v.len > 1024)
			return imap_p_fail(ps, "[LIMIT] ID parameters too long");
	}
	return imap_p_close(ps) && imap_p_eol(ps);
}

static void imap_do_id(imap_session_t *s)
{
	imap_reply(s, "* ID (\"name\" \"Sluice\" \"vendor\" \"Sluice\")");
	imap_tagged(s, "OK", "ID completed");
}

/* ---- not authenticated ---- */

static bool imap_check_starttls(imap_session_t *s, struct imap_parser *ps)
{
	if (!imap_p_eol(ps))
		return false;
	if (s->tls)
		return imap_p_fail(ps, "TLS is already active");
	if (!s->cfg->starttls_available)
		return imap_p_fail(ps, "STARTTLS is not available");
	return true;
}

static void imap_do_starttls(imap_session_t *s)
{
	imap_tagged(s, "OK", "Begin TLS negotiation now");
	s->job = IMAP_JOB_SIMPLE;
	imap_request_issue(s, IMAP_REQ_STARTTLS);
}

static void imap_issue_auth(imap_session_t *s, const char *mech, size_t zid_off, size_t zid_len,
			    size_t cid_off, size_t cid_len, size_t pw_off, size_t pw_len)
{
	s->req.u.auth.mechanism = sl_slice_make(mech, strlen(mech));
	s->req.u.auth.authzid = sl_slice_make(s->cred + zid_off, zid_len);
	s->req.u.auth.authcid = sl_slice_make(s->cred + cid_off, cid_len);
	s->req.u.auth.password = sl_slice_make(s->cred + pw_off, pw_len);
	s->job = IMAP_JOB_SIMPLE;
	imap_request_issue(s, IMAP_REQ_AUTH);
}

static bool imap_check_login(imap_session_t *s, struct imap_parser *ps)
{
	if (!imap_p_sp(ps) || !imap_p_astring(ps, &s->name) || !imap_p_sp(ps) ||
	    !imap_p_astring(ps, &s->name2) || !imap_p_eol(ps))
		return false;
	return true;
}

static void imap_do_login(imap_session_t *s)
{
	if (!imap_auth_offered(s)) {
		imap_tagged(s, "NO", "[PRIVACYREQUIRED] Plaintext authentication disallowed on "
				     "non-secure connections");
		return;
	}
	if (s->name.len == 0 || s->name2.len == 0 || s->name.len + s->name2.len + 2 > sizeof(s->cred) ||
	    memchr(s->name.ptr, 0, s->name.len) != NULL) {
		imap_tagged(s, "NO", "[AUTHENTICATIONFAILED] Authentication failed");
		return;
	}
	/* user NUL password NUL: every slice of a request ends in a NUL */
	memcpy(s->cred, s->name.ptr, s->name.len);
	s->cred[s->name.len] = 0;
	memcpy(s->cred + s->name.len + 1, s->name2.ptr, s->name2.len);
	s->cred[s->name.len + 1 + s->name2.len] = 0;
	s->cred_len = s->name.len + s->name2.len + 2;
	/* the arena copy of the password goes too */
	explicit_bzero((void *)s->name2.ptr, s->name2.len);
	imap_issue_auth(s, "LOGIN", s->name.len, 0, 0, s->name.len, s->name.len + 1, s->name2.len);
}

/* RFC 4616 §2: [authzid] NUL authcid NUL passwd, in cred. */
static void imap_sasl_plain(imap_session_t *s)
{
	const uint8_t *p = s->cred;
	size_t n = s->cred_len;
	const uint8_t *z1, *z2;

	z1 = memchr(p, 0, n);
	z2 = z1 ? memchr(z1 + 1, 0, n - (size_t)(z1 + 1 - p)) : NULL;
	if (z1 == NULL || z2 == NULL || memchr(z2 + 1, 0, n - (size_t)(z2 + 1 - p)) != NULL ||
	    z2 == z1 + 1 || z2 + 1 == p + n) {
		imap_cred_wipe(s);
		imap_bad(s, "Malformed PLAIN response");
		return;
	}
	s->cred[n] = 0; /* the password ends in a NUL like every request slice */
	imap_issue_auth(s, "PLAIN", 0, (size_t)(z1 - p), (size_t)(z1 + 1 - p),
			(size_t)(z2 - z1 - 1), (size_t)(z2 + 1 - p), (size_t)(p + n - z2 - 1));
}

static bool imap_sasl_take(imap_session_t *s, const uint8_t *p, size_t n)
{
	/* one byte kept for the NUL after the password */
	long k = sl_base64_decode(p, n, s->cred, sizeof(s->cred) - 1);

	if (k < 0) {
		imap_cred_wipe(s);
		imap_bad(s, "Invalid base64 in SASL response");
		return false;
	}
	s->cred_len = (size_t)k;
	return true;
}

static bool imap_check_authenticate(imap_session_t *s, struct imap_parser *ps)
{
	s->name2 = sl_slice_make("", 0);
	if (!imap_p_sp(ps) || !imap_p_atom(ps, &s->name))
		return false;
	if (imap_p_at(ps, ' ')) {
		/* SASL-IR (RFC 4959): base64 or "=" */
		size_t st = ++ps->pos;

		while (ps->pos < ps->n && ps->p[ps->pos] != '\r' && ps->p[ps->pos] != '\n')
			ps->pos++;
		s->name2 = sl_slice_make(ps->p + st, ps->pos - st);
		if (s->name2.len == 0)
			return imap_p_fail(ps, "Empty initial response");
	}
	return imap_p_eol(ps);
}

static void imap_do_authenticate(imap_session_t *s)
{
	sl_slice_t ir = s->name2;

	if (!imap_auth_offered(s)) {
		imap_tagged(s, "NO", "[PRIVACYREQUIRED] Plaintext authentication disallowed on "
				     "non-secure connections");
		return;
	}
	if (!sl_slice_eq_nocase(s->name, "PLAIN")) {
		imap_tagged(s, "NO", "[CANNOT] Unsupported authentication mechanism");
		return;
	}
	imap_cred_wipe(s);
	if (ir.len == 0) {
		/* RFC 9051 §6.2.2: an empty challenge */
		s->phase = IMAP_P_SASL;
		imap_reply(s, "+ ");
		return;
	}
	if (ir.len == 1 && ir.ptr[0] == '=')
		s->cred_len = 0;
	else if (!imap_sasl_take(s, ir.ptr, ir.len))
		return;
	imap_sasl_plain(s);
}

void imap_sasl_line(imap_session_t *s, const uint8_t *p, size_t n)
{
	s->phase = IMAP_P_CMD;
	if (n == 1 && p[0] == '*') {
		/* RFC 9051 §6.2.2: the client cancels; tagged BAD */
		imap_cred_wipe(s);
		imap_bad(s, "Authentication cancelled");
		return;
	}
	if (!imap_sasl_take(s, p, n))
		return;
	imap_sasl_plain(s);
}

/* ---- authenticated ---- */

/* RFC 5161: ENABLE capability...; only what we implement is enabled, and
 * "* ENABLED" lists what this command newly turned on. */
static bool imap_check_enable(imap_session_t *s, struct imap_parser *ps)
{
	(void)s;
	s->status_items = 0;
	do {
		sl_slice_t a;

		if (!imap_p_sp(ps) || !imap_p_atom(ps, &a))
			return false;
		if (sl_slice_eq_nocase(a, "CONDSTORE"))
			s->status_items |= IMAP_EN_CONDSTORE;
		else if (sl_slice_eq_nocase(a, "QRESYNC"))
			s->status_items |= IMAP_EN_QRESYNC | IMAP_EN_CONDSTORE;
		else if (sl_slice_eq_nocase(a, "IMAP4rev2"))
			s->status_items |= IMAP_EN_IMAP4REV2;
		else if (sl_slice_eq_nocase(a, "UTF8=ACCEPT"))
			s->status_items |= IMAP_EN_UTF8;
	} while (!imap_p_end(ps));
	return imap_p_eol(ps);
}

static void imap_do_enable(imap_session_t *s)
{
	static const struct {
		unsigned bit;
		const char *name;
	} ext[] = {{IMAP_EN_CONDSTORE, "CONDSTORE"},
		   {IMAP_EN_QRESYNC, "QRESYNC"},
		   {IMAP_EN_IMAP4REV2, "IMAP4rev2"},
		   {IMAP_EN_UTF8, "UTF8=ACCEPT"}};
	unsigned fresh = s->status_items & ~s->enabled;

	imap_printf(s, "* ENABLED");
	for (size_t i = 0; i < sizeof(ext) / sizeof(ext[0]); i++)
		if (fresh & ext[i].bit)
			imap_printf(s, " %s", ext[i].name);
	imap_out(s, "\r\n", 2);
	s->enabled |= s->status_items;
	imap_tagged(s, "OK", "ENABLE completed");
}

static void imap_do_namespace(imap_session_t *s)
{
	/* RFC 2342: one personal namespace, no shared or other users' */
	imap_reply(s, "* NAMESPACE ((\"\" \"/\")) NIL NIL");
	imap_tagged(s, "OK", "NAMESPACE completed");
}

static bool imap_check_mailbox1(imap_session_t *s, struct imap_parser *ps)
{
	return imap_p_sp(ps) && imap_p_mailbox(ps, &s->name) && imap_p_eol(ps);
}

static bool imap_is_inbox(sl_slice_t n)
{
	return n.len == 5 && !memcmp(n.ptr, "INBOX", 5);
}

static void imap_issue_mailbox(imap_session_t *s, enum imap_mailbox_op op, uint32_t roles)
{
	s->req.u.mailbox.op = op;
	s->req.u.mailbox.name = s->name;
	s->req.u.mailbox.new_name = op == IMAP_MB_RENAME ? s->name2 : sl_slice_make("", 0);
	s->req.u.mailbox.roles = roles;
	s->job = IMAP_JOB_SIMPLE;
	imap_request_issue(s, IMAP_REQ_MAILBOX);
}

/* imap_trim_delim - RFC 9051 §6.3.4: a trailing delimiter on CREATE only
 * declares the intent to create inferiors; the name is without it. */
static void imap_trim_delim(sl_slice_t *n)
{
	while (n->len > 1 && n->ptr[n->len - 1] == '/')
		n->len--;
	((uint8_t *)n->ptr)[n->len] = '\0';
}

/* CREATE mailbox [SP "(" "USE" SP "(" use-attr* ")" ")"] (RFC 6154 §3) */
static bool imap_check_create(imap_session_t *s, struct imap_parser *ps)
{
	static const struct {
		const char *attr;
		uint32_t role;
	} uses[] = {{"\\Sent", IMAP_ROLE_SENT},   {"\\Drafts", IMAP_ROLE_DRAFTS},
		    {"\\Junk", IMAP_ROLE_JUNK},   {"\\Trash", IMAP_ROLE_TRASH},
		    {"\\Archive", IMAP_ROLE_ARCHIVE}};
	sl_slice_t a;

	s->status_items = 0; /* roles */
	if (!imap_p_sp(ps) || !imap_p_mailbox(ps, &s->name))
		return false;
	if (imap_p_at(ps, ' ')) {
		ps->pos++;
		if (!imap_p_open(ps) || !imap_p_atom(ps, &a))
			return false;
		if (!sl_slice_eq_nocase(a, "USE"))
			return imap_p_fail(ps, "Unknown CREATE parameter");
		if (!imap_p_sp(ps) || !imap_p_open(ps))
			return false;
		while (!imap_p_at(ps, ')')) {
			bool found = false;
			size_t st;

			if (s->status_items != 0 && !imap_p_sp(ps))
				return false;
			if (!imap_p_at(ps, '\\'))
				return imap_p_fail(ps, "Expected a special-use attribute");
			st = ps->pos++;
			if (!imap_p_atom(ps, &a))
				return false;
			a = sl_slice_make(ps->p + st, ps->pos - st);
			for (size_t i = 0; i < sizeof(uses) / sizeof(uses[0]); i++) {
				if (sl_slice_eq_nocase(a, uses[i].attr)) {
					s->status_items |= uses[i].role;
					found = true;
				}
			}
			if (!found)
				return imap_p_fail(ps, "[USEATTR] Unsupported special-use attribute");
		}
		if (!imap_p_close(ps) || !imap_p_close(ps))
			return false;
	}
	return imap_p_eol(ps);
}

static void imap_do_create(imap_session_t *s)
{
	imap_trim_delim(&s->name);
	if (imap_is_inbox(s->name)) {
		imap_tagged(s, "NO", "[ALREADYEXISTS] INBOX always exists");
		return;
	}
	imap_issue_mailbox(s, IMAP_MB_CREATE, s->status_items);
}

static void imap_do_delete(imap_session_t *s)
{
	if (imap_is_inbox(s->name)) {
		imap_tagged(s, "NO", "[CANNOT] INBOX cannot be deleted");
		return;
	}
	imap_issue_mailbox(s, IMAP_MB_DELETE, 0);
}

static bool imap_check_rename(imap_session_t *s, struct imap_parser *ps)
{
	return imap_p_sp(ps) && imap_p_mailbox(ps, &s->name) && imap_p_sp(ps) &&
	       imap_p_mailbox(ps, &s->name2) && imap_p_eol(ps);
}

static void imap_do_rename(imap_session_t *s)
{
	imap_trim_delim(&s->name2);
	if (imap_is_inbox(s->name2)) {
		imap_tagged(s, "NO", "[ALREADYEXISTS] INBOX always exists");
		return;
	}
	imap_issue_mailbox(s, IMAP_MB_RENAME, 0);
}

static void imap_do_subscribe(imap_session_t *s)
{
	imap_issue_mailbox(s, IMAP_MB_SUBSCRIBE, 0);
}

static void imap_do_unsubscribe(imap_session_t *s)
{
	imap_issue_mailbox(s, IMAP_MB_UNSUBSCRIBE, 0);
}

/* status-att list: MESSAGES UIDNEXT UIDVALIDITY UNSEEN RECENT SIZE
 * HIGHESTMODSEQ (RFC 9051 §6.3.11, RFC 8438 SIZE, RFC 7162). */
static bool imap_p_status_atts(struct imap_parser *ps, unsigned *items_r)
{
	static const struct {
		const char *name;
		unsigned bit;
	} atts[] = {{"MESSAGES", IMAP_ST_MESSAGES}, {"UIDNEXT", IMAP_ST_UIDNEXT},
		    {"UIDVALIDITY", IMAP_ST_UIDVALIDITY}, {"UNSEEN", IMAP_ST_UNSEEN},
		    {"RECENT", IMAP_ST_RECENT},     {"SIZE", IMAP_ST_SIZE},
		    {"HIGHESTMODSEQ", IMAP_ST_HIGHESTMODSEQ}};
	bool first = true;

	*items_r = 0;
	if (!imap_p_open(ps))
		return false;
	while (!imap_p_at(ps, ')')) {
		sl_slice_t a;
		bool found = false;

		if (!first && !imap_p_sp(ps))
			return false;
		first = false;
		if (!imap_p_atom(ps, &a))
			return false;
		for (size_t i = 0; i < sizeof(atts) / sizeof(atts[0]); i++) {
			if (sl_slice_eq_nocase(a, atts[i].name)) {
				*items_r |= atts[i].bit;
				found = true;
			}
		}
		if (!found)
			return imap_p_fail(ps, "Unknown STATUS attribute");
	}
	if (first)
		return imap_p_fail(ps, "Empty STATUS attribute list");
	return imap_p_close(ps);
}

static bool imap_check_status(imap_session_t *s, struct imap_parser *ps)
{
	return imap_p_sp(ps) && imap_p_mailbox(ps, &s->name) && imap_p_sp(ps) &&
	       imap_p_status_atts(ps, &s->status_items) && imap_p_eol(ps);
}

static void imap_do_status(imap_session_t *s)
{
	s->req.u.status.name = s->name;
	s->job = IMAP_JOB_SIMPLE;
	imap_request_issue(s, IMAP_REQ_STATUS);
}

/* imap_set_count - how many numbers a parsed set names; 0 if it uses '*'. */
static uint64_t imap_set_count(const struct imap_range *r, uint32_t n)
{
	uint64_t c = 0;

	for (uint32_t i = 0; i < n; i++) {
		if (r[i].hi == UINT32_MAX || r[i].lo == UINT32_MAX)
			return 0;
		c += (uint64_t)(r[i].hi >= r[i].lo ? r[i].hi - r[i].lo : r[i].lo - r[i].hi) + 1;
	}
	return c;
}

/* QRESYNC SP "(" uidvalidity SP mod-sequence-value [SP known-uids]
 *   [SP "(" known-sequence-set SP known-uid-set ")"] ")"  (RFC 7162 §3.2.5) */
static bool imap_p_qresync(imap_session_t *s, struct imap_parser *ps)
{
	struct imap_range *set;
	uint32_t n;
	uint64_t ms;

	if (!(s->enabled & IMAP_EN_QRESYNC))
		return imap_p_fail(ps, "QRESYNC is not enabled (ENABLE QRESYNC first)");
	if (!imap_p_sp(ps) || !imap_p_open(ps) || !imap_p_nz_number(ps, &s->qr_uidvalidity) ||
	    !imap_p_sp(ps) || !imap_p_number64(ps, &ms))
		return false;
	if (ms == 0 || ms > INT64_MAX)
		return imap_p_fail(ps, "Invalid mod-sequence value");
	s->qr_modseq = ms;
	if (imap_p_at(ps, ' ') && ps->pos + 1 < ps->n && ps->p[ps->pos + 1] != '(') {
		ps->pos++;
		if (!imap_p_seqset(ps, &set, &n))
			return false;
		if (imap_set_count(set, n) == 0)
			return imap_p_fail(ps, "known-uids must not use '*'");
		for (uint32_t i = 0; i < n; i++)
			if (set[i].lo > set[i].hi) {
				uint32_t t = set[i].lo;

				set[i].lo = set[i].hi;
				set[i].hi = t;
			}
		s->qr_known = set;
		s->n_qr_known = imap_ranges_normalize(set, n);
	}
	if (imap_p_at(ps, ' ')) {
		/* seq-match-data: checked, not needed (the store keeps the
		 * whole expunge history, so the answer is exact without it) */
		struct imap_range *seqs, *uids;
		uint32_t ns, nu;
		uint64_t cs, cu;

		ps->pos++;
		if (!imap_p_open(ps) || !imap_p_seqset(ps, &seqs, &ns) || !imap_p_sp(ps) ||
		    !imap_p_seqset(ps, &uids, &nu) || !imap_p_close(ps))
			return false;
		cs = imap_set_count(seqs, ns);
		cu = imap_set_count(uids, nu);
		if (cs == 0 || cu == 0 || cs != cu)
			return imap_p_fail(ps, "Sequence match data sets differ in size");
	}
	return imap_p_close(ps);
}

/* SELECT/EXAMINE mailbox [SP "(" select-param *(SP select-param) ")"]:
 * CONDSTORE (RFC 7162 §3.1.8), QRESYNC (...) (§3.2.5) */
static bool imap_check_select(imap_session_t *s, struct imap_parser *ps)
{
	bool qr = false;

	s->select_condstore = false;
	s->qr_select = false; /* set only once the whole command parsed */
	s->qr_known = NULL;
	s->n_qr_known = 0;
	if (!imap_p_sp(ps) || !imap_p_mailbox(ps, &s->name))
		return false;
	if (imap_p_at(ps, ' ')) {
		bool first = true;

		ps->pos++;
		if (!imap_p_open(ps))
			return false;
		while (first || !imap_p_at(ps, ')')) {
			sl_slice_t a;

			if (!first && !imap_p_sp(ps))
				return false;
			first = false;
			if (!imap_p_atom(ps, &a))
				return false;
			if (sl_slice_eq_nocase(a, "CONDSTORE")) {
				s->select_condstore = true;
			} else if (sl_slice_eq_nocase(a, "QRESYNC")) {
				if (qr)
					return imap_p_fail(ps, "QRESYNC given twice");
				if (!imap_p_qresync(s, ps))
					return false;
				qr = true;
			} else {
				return imap_p_fail(ps, "Unsupported SELECT parameter");
			}
		}
		if (!imap_p_close(ps))
			return false;
	}
	if (!imap_p_eol(ps))
		return false;
	s->qr_select = qr;
	return true;
}

static void imap_select(imap_session_t *s, bool readonly)
{
	if (s->state == IMAP_STATE_SELECTED) {
		/* RFC 9051 §6.3.2: the old mailbox is closed first, without
		 * an expunge, and the client is told so. */
		imap_view_reset(s);
		s->state = IMAP_STATE_AUTH;
		imap_reply(s, "* OK [CLOSED] Previous mailbox closed");
	}
	s->req.u.select.name = s->name;
	s->req.u.select.readonly = readonly;
	s->job = IMAP_JOB_SIMPLE;
	imap_request_issue(s, IMAP_REQ_SELECT);
}

static void imap_do_select(imap_session_t *s)
{
	imap_select(s, false);
}

static void imap_do_examine(imap_session_t *s)
{
	imap_select(s, true);
}

/* LIST [SP "(" sel-opts ")"] SP ref SP (pattern / "(" patterns ")")
 *      [SP RETURN SP "(" ret-opts ")"]      (RFC 9051 §6.3.9, RFC 5258) */
static bool imap_p_list_patterns(imap_session_t *s, struct imap_parser *ps, sl_slice_t ref)
{
	struct imap_list *l = &s->list;
	bool paren = imap_p_at(ps, '(');

	if (paren && !imap_p_open(ps))
		return false;
	do {
		sl_slice_t pat;
		uint8_t *c;
		size_t n;

		if (l->n_patterns > 0 && !imap_p_sp(ps))
			return false;
		if (!imap_p_list_mailbox(ps, &pat))
			return false;
		if (l->n_patterns >= IMAP_PATTERNS_MAX)
			return imap_p_fail(ps, "[LIMIT] Too many patterns");
		/* the canonical pattern: reference + pattern (one delimiter) */
		n = ref.len + pat.len;
		if (n > IMAP_PATTERN_MAX)
			return imap_p_fail(ps, "[LIMIT] Pattern too long");
		c = imap_arena_alloc(s, n + 1);
		if (c == NULL)
			return imap_p_fail(ps, "[LIMIT] Command too complex");
		memcpy(c, ref.ptr, ref.len);
		if (ref.len > 0 && ref.ptr[ref.len - 1] == '/' && pat.len > 0 && pat.ptr[0] == '/') {
			memcpy(c + ref.len, pat.ptr + 1, pat.len - 1);
			n--;
		} else {
			memcpy(c + ref.len, pat.ptr, pat.len);
		}
		c[n] = '\0';
		if (n >= 5 && !strncasecmp((const char *)c, "INBOX", 5) && (n == 5 || c[5] == '/'))
			memcpy(c, "INBOX", 5);
		l->patterns[l->n_patterns++] = sl_slice_make(c, pat.len == 0 ? 0 : n);
	} while (paren && !imap_p_at(ps, ')'));
	return !paren || imap_p_close(ps);
}

static bool imap_check_list(imap_session_t *s, struct imap_parser *ps)
{
	struct imap_list *l = &s->list;
	sl_slice_t ref, a;

	memset(l, 0, sizeof(*l));
	if (!imap_p_sp(ps))
		return false;
	if (imap_p_at(ps, '(')) {
		bool first = true;

		if (!imap_p_open(ps))
			return false;
		while (!imap_p_at(ps, ')')) {
			if (!first && !imap_p_sp(ps))
				return false;
			first = false;
			if (!imap_p_atom(ps, &a))
				return false;
			if (sl_slice_eq_nocase(a, "SUBSCRIBED"))
				l->sel_subscribed = l->ret_subscribed = true;
			else if (sl_slice_eq_nocase(a, "SPECIAL-USE"))
				l->sel_special = true;
			else if (!sl_slice_eq_nocase(a, "REMOTE") &&
				 !sl_slice_eq_nocase(a, "RECURSIVEMATCH"))
				return imap_p_fail(ps, "Unknown LIST selection option");
		}
		if (!imap_p_close(ps) || !imap_p_sp(ps))
			return false;
	}
	if (!imap_p_mailbox(ps, &ref) || !imap_p_sp(ps) || !imap_p_list_patterns(s, ps, ref))
		return false;
	if (imap_p_at(ps, ' ')) {
		bool first = true;

		ps->pos++;
		if (!imap_p_atom(ps, &a) || !sl_slice_eq_nocase(a, "RETURN"))
			return imap_p_fail(ps, "Expected RETURN");
		if (!imap_p_sp(ps) || !imap_p_open(ps))
			return false;
		while (!imap_p_at(ps, ')')) {
			if (!first && !imap_p_sp(ps))
				return false;
			first = false;
			if (!imap_p_atom(ps, &a))
				return false;
			if (sl_slice_eq_nocase(a, "SUBSCRIBED")) {
				l->ret_subscribed = true;
			} else if (sl_slice_eq_nocase(a, "CHILDREN")) {
				l->ret_children = true;
			} else if (sl_slice_eq_nocase(a, "SPECIAL-USE")) {
				l->ret_special = true;
			} else if (sl_slice_eq_nocase(a, "STATUS")) {
				if (!imap_p_sp(ps) || !imap_p_status_atts(ps, &l->ret_status))
					return false;
			} else {
				return imap_p_fail(ps, "Unknown LIST return option");
			}
		}
		if (!imap_p_close(ps))
			return false;
	}
	return imap_p_eol(ps);
}

static void imap_start_list(imap_session_t *s)
{
	struct imap_list *l = &s->list;

	if (l->n_patterns == 1 && l->patterns[0].len == 0 && !l->lsub) {
		/* RFC 9051 §6.3.9: "" asks for the delimiter and root */
		imap_reply(s, "* %s (\\Noselect) \"/\" \"\"", "LIST");
		imap_tagged(s, "OK", "LIST completed");
		return;
	}
	s->job = IMAP_JOB_LIST;
}

static void imap_do_list(imap_session_t *s)
{
	imap_start_list(s);
}

static bool imap_check_lsub(imap_session_t *s, struct imap_parser *ps)
{
	sl_slice_t ref;

	memset(&s->list, 0, sizeof(s->list));
	s->list.lsub = true;
	return imap_p_sp(ps) && imap_p_mailbox(ps, &ref) && imap_p_sp(ps) &&
	       imap_p_list_patterns(s, ps, ref) && imap_p_eol(ps);
}

static void imap_do_lsub(imap_session_t *s)
{
	if (s->list.n_patterns == 1 && s->list.patterns[0].len == 0) {
		imap_tagged(s, "OK", "LSUB completed");
		return;
	}
	imap_start_list(s);
}

/* RFC 2177: "+ idling", then nothing but DONE. */
static void imap_do_idle(imap_session_t *s)
{
	s->phase = IMAP_P_IDLE;
	imap_reply(s, "+ idling");
}

void imap_idle_line(imap_session_t *s, const uint8_t *p, size_t n)
{
	s->phase = IMAP_P_CMD;
	if (sl_slice_eq_nocase(sl_slice_make(p, n), "DONE"))
		imap_tagged(s, "OK", "IDLE terminated");
	else
		imap_bad(s, "Expected DONE");
}

/* ---- selected ---- */

static void imap_unselect(imap_session_t *s)
{
	imap_view_reset(s);
	s->state = IMAP_STATE_AUTH;
}

static void imap_do_check(imap_session_t *s)
{
	imap_poll(s);
}

static void imap_do_unselect(imap_session_t *s)
{
	imap_unselect(s);
	imap_tagged(s, "OK", "UNSELECT completed");
}

static void imap_start_expunge(imap_session_t *s, bool all)
{
	if (all) {
		s->ranges[0].lo = 1;
		s->ranges[0].hi = s->view.n ? s->view.uids[s->view.n - 1] : 0;
		s->n_ranges = s->view.n ? 1 : 0;
	}
	s->view.n_gone = 0;
	s->view.gone_out = 0;
	s->job = IMAP_JOB_EXPUNGE;
	s->job_err = 0;
	if (s->n_ranges == 0)
		return; /* nothing can go: the pump answers */
	s->req.u.expunge.uids = s->ranges;
	s->req.u.expunge.n_uids = s->n_ranges;
	imap_request_issue(s, IMAP_REQ_EXPUNGE);
}

static bool imap_ensure_ranges(imap_session_t *s)
{
	if (s->ranges == NULL)
		s->ranges = malloc((size_t)s->cfg->seqset_max * sizeof(*s->ranges));
	return s->ranges != NULL;
}

static void imap_do_close(imap_session_t *s)
{
	/* RFC 9051 §6.4.1: expunge silently unless read-only, then leave */
	if (s->view.readonly || s->view.n == 0 || !imap_ensure_ranges(s)) {
		imap_unselect(s);
		imap_tagged(s, "OK", "CLOSE completed");
		return;
	}
	s->close_expunge = true;
	imap_start_expunge(s, true);
}

static void imap_do_expunge(imap_session_t *s)
{
	if (s->view.readonly) {
		imap_tagged(s, "NO", "[READ-ONLY] Mailbox is read-only");
		return;
	}
	s->close_expunge = false;
	if (!s->uid) {
		if (!imap_ensure_ranges(s)) {
			imap_tagged(s, "NO", "[SERVERBUG] Out of memory");
			return;
		}
		imap_start_expunge(s, true);
		return;
	}
	imap_start_expunge(s, false);
}

static bool imap_check_uid_set(imap_session_t *s, struct imap_parser *ps)
{
	struct imap_range *set;
	uint32_t n;

	if (!s->uid)
		return imap_p_eol(ps);
	/* UID EXPUNGE sequence-set (RFC 4315 §2.1) */
	if (!imap_p_sp(ps) || !imap_p_seqset(ps, &set, &n) || !imap_p_eol(ps))
		return false;
	return imap_resolve_set(s, set, n, true) || (ps->err = NULL, false);
}

/* imap_expunge_pump - announce what went, in order (RFC 9051 §7.5.1:
 * each EXPUNGE renumbers the ones after it), then answer. */
static bool imap_expunge_pump(imap_session_t *s)
{
	if (s->req.kind != IMAP_REQ_NONE)
		return false;
	if (!s->close_expunge) {
		size_t out0 = s->out.len;

		/* EXPUNGE, or VANISHED under QRESYNC (RFC 7162 §3.2.10) */
		if (!imap_gone_write(s))
			return s->out.len != out0;
	}
	imap_view_compact(s);
	if (s->close_expunge) {
		s->close_expunge = false;
		imap_unselect(s);
		imap_tagged(s, "OK", "CLOSE completed");
		return true;
	}
	if (s->job == IMAP_JOB_COPY) {
		imap_tagged(s, "OK", "MOVE completed");
		return true;
	}
	imap_tagged(s, "OK", "EXPUNGE completed");
	return true;
}

/* COPY/MOVE sequence-set SP mailbox */
static bool imap_check_copy(imap_session_t *s, struct imap_parser *ps)
{
	struct imap_range *set;
	uint32_t n;

	if (!imap_p_sp(ps) || !imap_p_seqset(ps, &set, &n) || !imap_p_sp(ps) ||
	    !imap_p_mailbox(ps, &s->name) || !imap_p_eol(ps))
		return false;
	if (!imap_resolve_set(s, set, n, s->uid)) {
		ps->err = NULL;
		return false;
	}
	return true;
}

static void imap_copy_start(imap_session_t *s, bool move)
{
	if (move && s->view.readonly) {
		imap_tagged(s, "NO", "[READ-ONLY] Mailbox is read-only");
		return;
	}
	if (s->n_ranges == 0) {
		/* RFC 9051 §6.4.7: nothing to copy is success (UID form) */
		imap_tagged(s, "OK", "%s completed", move ? "MOVE" : "COPY");
		return;
	}
	s->view.n_gone = 0;
	s->view.gone_out = 0;
	s->req.u.copy.uids = s->ranges;
	s->req.u.copy.n_uids = s->n_ranges;
	s->req.u.copy.dest = s->name;
	s->req.u.copy.move = move;
	s->job = IMAP_JOB_COPY;
	imap_request_issue(s, IMAP_REQ_COPY);
}

static void imap_do_copy(imap_session_t *s)
{
	imap_copy_start(s, false);
}

static void imap_do_move(imap_session_t *s)
{
	imap_copy_start(s, true);
}

/* imap_copy_pump - after imap_session_copy_done: COPY answers with
 * COPYUID; MOVE says it first in an untagged OK, then the expunges
 * (RFC 6851 §4.3). */
static bool imap_copy_pump(imap_session_t *s)
{
	if (s->req.kind != IMAP_REQ_NONE)
		return false;
	if (!s->req.u.copy.move) {
		imap_tagged(s, "OK", "%sCOPY completed", s->copyuid);
		return true;
	}
	if (s->copyuid[0] != '\0') {
		imap_reply(s, "* OK %sMoved", s->copyuid);
		s->copyuid[0] = '\0';
	}
	return imap_expunge_pump(s);
}

/* imap_job_pump - go on with the running command once nothing is
 * outstanding: produce more of a long response, issue its next request,
 * or answer it. */
bool imap_job_pump(imap_session_t *s)
{
	switch (s->job) {
	case IMAP_JOB_LIST:
		return imap_list_pump(s);
	case IMAP_JOB_FETCH:
		return imap_fetch_pump(s);
	case IMAP_JOB_SEARCH:
		return imap_search_pump(s);
	case IMAP_JOB_EXPUNGE:
		return imap_expunge_pump(s);
	case IMAP_JOB_COPY:
		return imap_copy_pump(s);
	case IMAP_JOB_SYNC:
		return imap_sync_pump(s);
	default:
		return false;
	}
}

/* ---- FETCH / STORE / SEARCH entry points (the work is elsewhere) ---- */

static bool imap_check_fetch(imap_session_t *s, struct imap_parser *ps)
{
	return imap_fetch_parse(s, ps);
}

static void imap_do_fetch(imap_session_t *s)
{
	imap_fetch_start(s);
}

/* STORE set SP [(UNCHANGEDSINCE n)] SP ["+"/"-"] FLAGS[.SILENT] SP flags */
static bool imap_check_store(imap_session_t *s, struct imap_parser *ps)
{
	struct imap_range *set;
	uint32_t n, sys = 0;
	sl_slice_t a, *kws;
	size_t nkw = 0;
	bool paren, first = true;

	s->req.u.store.unchangedsince = 0;
	if (!imap_p_sp(ps) || !imap_p_seqset(ps, &set, &n) || !imap_p_sp(ps))
		return false;
	if (imap_p_at(ps, '(')) {
		uint64_t v;

		if (!imap_p_open(ps) || !imap_p_atom(ps, &a) ||
		    !sl_slice_eq_nocase(a, "UNCHANGEDSINCE"))
			return imap_p_fail(ps, "Unknown STORE modifier");
		if (!imap_p_sp(ps) || !imap_p_number64(ps, &v) || !imap_p_close(ps) ||
		    !imap_p_sp(ps))
			return false;
		s->req.u.store.unchangedsince = v;
		s->enabled |= IMAP_EN_CONDSTORE;
	}
	if (!imap_p_atom(ps, &a))
		return false;
	s->req.u.store.mode = IMAP_STORE_REPLACE;
	if (a.len > 0 && (a.ptr[0] == '+' || a.ptr[0] == '-')) {
		s->req.u.store.mode = a.ptr[0] == '+' ? IMAP_STORE_ADD : IMAP_STORE_REMOVE;
		a.ptr++;
		a.len--;
	}
	if (sl_slice_eq_nocase(a, "FLAGS"))
		s->store_silent = false;
	else if (sl_slice_eq_nocase(a, "FLAGS.SILENT"))
		s->store_silent = true;
	else
		return imap_p_fail(ps, "Expected FLAGS or FLAGS.SILENT");
	if (!imap_p_sp(ps))
		return false;
	kws = imap_arena_alloc(s, IMAP_KEYWORDS_MAX * sizeof(*kws));
	if (kws == NULL)
		return imap_p_fail(ps, "[LIMIT] Command too complex");
	paren = imap_p_at(ps, '(');
	if (paren && !imap_p_open(ps))
		return false;
	while (paren ? !imap_p_at(ps, ')') : (first || imap_p_at(ps, ' '))) {
		uint32_t bit;
		sl_slice_t kw;
		bool recent;

		if (!first && !imap_p_sp(ps))
			return false;
		first = false;
		if (!imap_p_flag(ps, &bit, &kw, &recent))
			return false;
		if (recent)
			return imap_p_fail(ps, "\\Recent cannot be stored");
		sys |= bit;
		if (kw.len > 0) {
			if (nkw >= IMAP_KEYWORDS_MAX)
				return imap_p_fail(ps, "[LIMIT] Too many keywords");
			kws[nkw++] = kw;
		}
	}
	if (paren && !imap_p_close(ps))
		return false;
	if (!imap_p_eol(ps))
		return false;
	if (!imap_resolve_set(s, set, n, s->uid)) {
		ps->err = NULL;
		return false;
	}
	s->req.u.store.flags = sys;
	s->keywords = kws;
	s->n_keywords = nkw;
	return true;
}

static void imap_do_store(imap_session_t *s)
{
	if (s->view.readonly) {
		imap_tagged(s, "NO", "[READ-ONLY] Mailbox is read-only");
		return;
	}
	if (s->n_ranges == 0) {
		s->stats->stores++;
		imap_tagged(s, "OK", "STORE completed");
		return;
	}
	s->req.u.store.uids = s->ranges;
	s->req.u.store.n_uids = s->n_ranges;
	s->req.u.store.keywords = s->keywords;
	s->req.u.store.n_keywords = s->n_keywords;
	s->job = IMAP_JOB_STORE;
	imap_request_issue(s, IMAP_REQ_STORE);
}

/* APPEND mailbox [SP flag-list] [SP date-time] SP literal (RFC 9051
 * §6.3.12); the message stays where it is in the input buffer. */
static bool imap_check_append(imap_session_t *s, struct imap_parser *ps)
{
	sl_slice_t *kws, msg;
	size_t nkw = 0;
	uint32_t sys = 0;
	int64_t t = 0;
	int32_t tz = 0;

	if (!imap_p_sp(ps) || !imap_p_mailbox(ps, &s->name) || !imap_p_sp(ps))
		return false;
	kws = imap_arena_alloc(s, IMAP_KEYWORDS_MAX * sizeof(*kws));
	if (kws == NULL)
		return imap_p_fail(ps, "[LIMIT] Command too complex");
	if (imap_p_at(ps, '(')) {
		bool first = true;

		if (!imap_p_open(ps))
			return false;
		while (!imap_p_at(ps, ')')) {
			uint32_t bit;
			sl_slice_t kw;
			bool recent;

			if (!first && !imap_p_sp(ps))
				return false;
			first = false;
			if (!imap_p_flag(ps, &bit, &kw, &recent))
				return false;
			if (recent)
				return imap_p_fail(ps, "\\Recent cannot be stored");
			sys |= bit;
			if (kw.len > 0) {
				if (nkw >= IMAP_KEYWORDS_MAX)
					return imap_p_fail(ps, "[LIMIT] Too many keywords");
				kws[nkw++] = kw;
			}
		}
		if (!imap_p_close(ps) || !imap_p_sp(ps))
			return false;
	}
	if (imap_p_at(ps, '"')) {
		if (!imap_p_date_time(ps, &t, &tz) || !imap_p_sp(ps))
			return false;
	}
	if (imap_p_at(ps, '~')) {
		/* literal8 (RFC 3516 §4.2): stored as it is, NUL included */
		ps->pos++;
		if (!imap_p_literal_raw(ps, &msg, true) || !imap_p_eol(ps))
			return false;
	} else if (!imap_p_literal_raw(ps, &msg, false) || !imap_p_eol(ps)) {
		return false;
	}
	s->req.u.append.mailbox = s->name;
	s->req.u.append.body = msg;
	s->req.u.append.flags = sys;
	s->req.u.append.keywords = kws;
	s->req.u.append.n_keywords = nkw;
	s->req.u.append.internaldate = t;
	s->req.u.append.tz_min = tz;
	return true;
}

static void imap_do_append(imap_session_t *s)
{
	/* The body is in the input buffer: it must not move or be reused
	 * until the glue has delivered it. */
	s->hold_input = true;
	s->job = IMAP_JOB_SIMPLE;
	imap_request_issue(s, IMAP_REQ_APPEND);
}

static bool imap_check_search(imap_session_t *s, struct imap_parser *ps)
{
	return imap_search_parse(s, ps);
}

static void imap_do_search(imap_session_t *s)
{
	s->job = IMAP_JOB_SEARCH;
}

static const struct imap_cmd imap_cmds[] = {
	{"CAPABILITY", IMAP_CF_ANY, imap_check_noargs, imap_do_capability},
	{"NOOP", IMAP_CF_ANY, imap_check_noargs, imap_do_noop},
	{"LOGOUT", IMAP_CF_ANY, imap_check_noargs, imap_do_logout},
	{"ID", IMAP_CF_ANY, imap_check_id, imap_do_id},
	{"STARTTLS", IMAP_CF_NOTAUTH, imap_check_starttls, imap_do_starttls},
	{"LOGIN", IMAP_CF_NOTAUTH, imap_check_login, imap_do_login},
	{"AUTHENTICATE", IMAP_CF_NOTAUTH, imap_check_authenticate, imap_do_authenticate},
	{"ENABLE", IMAP_CF_AUTH, imap_check_enable, imap_do_enable},
	{"NAMESPACE", IMAP_CF_LOGGED, imap_check_noargs, imap_do_namespace},
	{"SELECT", IMAP_CF_LOGGED, imap_check_select, imap_do_select},
	{"EXAMINE", IMAP_CF_LOGGED, imap_check_select, imap_do_examine},
	{"CREATE", IMAP_CF_LOGGED, imap_check_create, imap_do_create},
	{"DELETE", IMAP_CF_LOGGED, imap_check_mailbox1, imap_do_delete},
	{"RENAME", IMAP_CF_LOGGED, imap_check_rename, imap_do_rename},
	{"SUBSCRIBE", IMAP_CF_LOGGED, imap_check_mailbox1, imap_do_subscribe},
	{"UNSUBSCRIBE", IMAP_CF_LOGGED, imap_check_mailbox1, imap_do_unsubscribe},
	{"LIST", IMAP_CF_LOGGED, imap_check_list, imap_do_list},
	{"LSUB", IMAP_CF_LOGGED, imap_check_lsub, imap_do_lsub},
	{"STATUS", IMAP_CF_LOGGED, imap_check_status, imap_do_status},
	{"APPEND", IMAP_CF_LOGGED, imap_check_append, imap_do_append},
	{"IDLE", IMAP_CF_LOGGED, imap_check_noargs, imap_do_idle},
	{"CHECK", IMAP_CF_SELECTED, imap_check_noargs, imap_do_check},
	{"CLOSE", IMAP_CF_SELECTED, imap_check_noargs, imap_do_close},
	{"UNSELECT", IMAP_CF_SELECTED, imap_check_noargs, imap_do_unselect},
	{"EXPUNGE", IMAP_CF_SELECTED | IMAP_CF_UID, imap_check_uid_set, imap_do_expunge},
	{"FETCH", IMAP_CF_SELECTED | IMAP_CF_UID, imap_check_fetch, imap_do_fetch},
	{"STORE", IMAP_CF_SELECTED | IMAP_CF_UID, imap_check_store, imap_do_store},
	{"SEARCH", IMAP_CF_SELECTED | IMAP_CF_UID, imap_check_search, imap_do_search},
	{"COPY", IMAP_CF_SELECTED | IMAP_CF_UID, imap_check_copy, imap_do_copy},
	{"MOVE", IMAP_CF_SELECTED | IMAP_CF_UID, imap_check_copy, imap_do_move},
};

static const struct imap_cmd *imap_cmd_find(sl_slice_t verb)
{
	for (size_t i = 0; i < sizeof(imap_cmds) / sizeof(imap_cmds[0]); i++)
		if (sl_slice_eq_nocase(verb, imap_cmds[i].verb))
			return &imap_cmds[i];
	return NULL;
}

static unsigned imap_state_flag(const imap_session_t *s)
{
	switch (s->state) {
	case IMAP_STATE_NOT_AUTH:
		return IMAP_CF_NOTAUTH;
	case IMAP_STATE_AUTH:
		return IMAP_CF_AUTH;
	case IMAP_STATE_SELECTED:
		return IMAP_CF_SELECTED;
	default:
		return 0;
	}
}

/* imap_cmd_run - one complete command (P, N bytes, up to and including
 * the final LF), every literal in place. */
void imap_cmd_run(imap_session_t *s, const uint8_t *p, size_t n)
{
	struct imap_parser ps;
	const struct imap_cmd *cmd;
	sl_slice_t tag, verb;

	s->tag_len = 0;
	s->tag[0] = '\0';
	s->uid = false;
	s->job_err = 0;
	/* everything but APPEND's message (never copied) is within cmd_max */
	if (!imap_arena_prepare(s, n < s->cfg->cmd_max ? n : s->cfg->cmd_max)) {
		imap_reply(s, "* BYE Out of memory");
		imap_close(s);
		return;
	}
	imap_p_init(&ps, s, p, n);
	if (imap_p_end(&ps)) {
		imap_bad(s, "Empty command line");
		return;
	}
	if (!imap_p_tag(&ps, &tag)) {
		imap_bad(s, "Invalid tag");
		return;
	}
	memcpy(s->tag, tag.ptr, tag.len);
	s->tag_len = tag.len;
	s->tag[tag.len] = '\0';
	if (!imap_p_sp(&ps) || !imap_p_atom(&ps, &verb)) {
		imap_bad(s, "Missing command");
		return;
	}
	if (sl_slice_eq_nocase(verb, "UID")) {
		if (!imap_p_sp(&ps) || !imap_p_atom(&ps, &verb)) {
			imap_bad(s, "Missing UID command");
			return;
		}
		cmd = imap_cmd_find(verb);
		if (cmd == NULL || !(cmd->flags & IMAP_CF_UID)) {
			imap_bad(s, "Unknown UID command");
			return;
		}
		s->uid = true;
	} else {
		cmd = imap_cmd_find(verb);
		if (cmd == NULL) {
			imap_bad(s, "Unknown command");
			return;
		}
	}
	if (!(cmd->flags & imap_state_flag(s))) {
		if (s->state == IMAP_STATE_NOT_AUTH)
			imap_bad(s, "Log in first");
		else if (cmd->flags & IMAP_CF_SELECTED && !(cmd->flags & IMAP_CF_AUTH))
			imap_bad(s, "No mailbox selected");
		else
			imap_bad(s, "Command not valid in this state");
		return;
	}
	s->cmd = cmd;
	s->verb = cmd->verb;
	if (!cmd->check(s, &ps)) {
		/* a check that already answered clears ps.err */
		if (s->cmd != NULL)
			imap_bad(s, "%s", ps.err ? ps.err : "Syntax error");
		return;
	}
	cmd->proceed(s);
}
