/* pop3_cmd - the command table and its handlers (RFC 1939 §4-7, RFC 2449,
 * RFC 5034, RFC 2595 §4).
 *
 * Each command is {verb, flags, syntax, check, proceed}: the flags say in
 * which states it is valid and what arguments it takes; check refuses it
 * in the current situation (and replies); proceed does the work. Handlers
 * either reply, start a multi-line reply, or issue a request. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sl_base64.h"
#include "pop3_private.h"
#include "sl_err.h"

#define POP3_CF_AUTH 0x01u      /* valid in AUTHORIZATION */
#define POP3_CF_TRANS 0x02u     /* valid in TRANSACTION */
#define POP3_CF_NOARG 0x04u     /* arguments are a syntax error */
#define POP3_CF_ARG 0x08u       /* an argument is required */
#define POP3_CF_LINE_AUTH 0x10u /* may use auth_line_max (initial response) */

struct pop3_cmd {
	const char *verb;
	unsigned flags;
	const char *syntax;
	bool (*check)(pop3_session_t *s);                  /* false: replied */
	void (*proceed)(pop3_session_t *s, sl_slice_t args);
};

void pop3_greeting(pop3_session_t *s)
{
	pop3_reply(s, "+OK %s Sluice POP3 ready", s->cfg->hostname);
}

static bool pop3_auth_offered(const pop3_session_t *s)
{
	return s->tls || s->cfg->allow_plaintext_auth;
}

/* ---- argument helpers ---- */

static sl_slice_t pop3_trim(sl_slice_t a)
{
	while (a.len && a.ptr[0] == ' ') {
		a.ptr++;
		a.len--;
	}
	while (a.len && a.ptr[a.len - 1] == ' ')
		a.len--;
	return a;
}

static sl_slice_t pop3_next_word(sl_slice_t *a)
{
	sl_slice_t w;
	size_t i = 0;

	*a = pop3_trim(*a);
	while (i < a->len && a->ptr[i] != ' ')
		i++;
	w = sl_slice_make(a->ptr, i);
	a->ptr += i;
	a->len -= i;
	*a = pop3_trim(*a);
	return w;
}

/* pop3_parse_u64 - 1..20 digits, no sign, no overflow. */
static bool pop3_parse_u64(sl_slice_t w, uint64_t *v_r)
{
	uint64_t v = 0;

	if (w.len == 0 || w.len > 20)
		return false;
	for (size_t i = 0; i < w.len; i++) {
		uint8_t c = w.ptr[i];

		if (c < '0' || c > '9' || v > (UINT64_MAX - (uint64_t)(c - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(c - '0');
	}
	*v_r = v;
	return true;
}

/* pop3_msg_arg - a message number that names a live message (RFC 1939 §5:
 * "may NOT refer to a message marked as deleted"). Replies on failure. */
static bool pop3_msg_arg(pop3_session_t *s, sl_slice_t w, uint32_t *idx_r)
{
	uint64_t v;

	if (!pop3_parse_u64(w, &v)) {
		pop3_reply_error(s, "-ERR Invalid message number");
		return false;
	}
	if (v == 0 || v > s->nmsgs) {
		pop3_reply_error(s, "-ERR No such message, only %" PRIu32 " messages in maildrop",
				 s->nmsgs);
		return false;
	}
	if (s->msgs[v - 1].deleted) {
		pop3_reply_error(s, "-ERR Message %" PRIu64 " already deleted", v);
		return false;
	}
	*idx_r = (uint32_t)(v - 1);
	return true;
}

static uint32_t pop3_live_count(const pop3_session_t *s)
{
	return s->nmsgs - s->ndeleted;
}

static uint64_t pop3_live_size(const pop3_session_t *s)
{
	return s->total_size - s->deleted_size;
}

/* ---- checks ---- */

static bool pop3_check_login(pop3_session_t *s)
{
	if (!pop3_auth_offered(s)) {
		/* RFC 2595 §2.1 / 3206: never take a password in the clear
		 * unless the administrator allowed it. */
		pop3_reply_error(s, "-ERR [AUTH] Plaintext authentication disallowed on "
				    "non-secure connections");
		return false;
	}
	return true;
}

static bool pop3_check_stls(pop3_session_t *s)
{
	if (s->tls) {
		pop3_reply_error(s, "-ERR TLS already active");
		return false;
	}
	if (!s->cfg->stls_available) {
		pop3_reply_error(s, "-ERR STLS not available");
		return false;
	}
	return true;
}

/* ---- AUTHORIZATION ---- */

static void pop3_issue_auth(pop3_session_t *s, const char *mech, size_t zid_off, size_t zid_len,
			    size_t cid_off, size_t cid_len, size_t pw_off, size_t pw_len)
{
	s->req.u.auth.mechanism = sl_slice_make(mech, strlen(mech));
	s->req.u.auth.authzid = sl_slice_make(s->cred + zid_off, zid_len);
	s->req.u.auth.authcid = sl_slice_make(s->cred + cid_off, cid_len);
	s->req.u.auth.password = sl_slice_make(s->cred + pw_off, pw_len);
	pop3_request_issue(s, POP3_REQ_AUTH);
}

static void pop3_do_user(pop3_session_t *s, sl_slice_t args)
{
	if (args.len > POP3_USER_MAX) {
		pop3_reply_error(s, "-ERR User name too long");
		return;
	}
	memcpy(s->user, args.ptr, args.len);
	s->user_len = args.len;
	s->user_set = true;
	/* RFC 1939 §7: "+OK" whether or not the user exists. */
	pop3_reply(s, "+OK");
}

/* RFC 1939 §7 PASS: the argument is the rest of the line (a password may
 * contain spaces), so the raw argument is used, not trimmed. */
static void pop3_do_pass(pop3_session_t *s, sl_slice_t args)
{
	if (!s->user_set) {
		pop3_reply_error(s, "-ERR No user name given, send USER first");
		return;
	}
	if (args.len == 0) {
		s->user_set = false;
		pop3_reply_error(s, "-ERR Syntax: PASS password");
		return;
	}
	if (s->user_len + args.len > sizeof(s->cred)) {
		s->user_set = false;
		pop3_reply_error(s, "-ERR Password too long");
		return;
	}
	memcpy(s->cred, s->user, s->user_len);
	memcpy(s->cred + s->user_len, args.ptr, args.len);
	s->cred_len = s->user_len + args.len;
	pop3_issue_auth(s, "USER", 0, 0, 0, s->user_len, s->user_len, args.len);
}

/* pop3_sasl_abandon - end the exchange with an error reply. */
static void pop3_sasl_abandon(pop3_session_t *s, const char *reply)
{
	pop3_cred_wipe(s);
	s->in_sasl = false;
	pop3_reply_error(s, "%s", reply);
}

/* RFC 4616 §2: [authzid] NUL authcid NUL passwd, in cred[0..cred_len). */
static void pop3_sasl_plain(pop3_session_t *s)
{
	const uint8_t *p = s->cred;
	size_t n = s->cred_len;
	const uint8_t *z1, *z2;

	z1 = memchr(p, 0, n);
	z2 = z1 ? memchr(z1 + 1, 0, n - (size_t)(z1 + 1 - p)) : NULL;
	if (z1 == NULL || z2 == NULL || memchr(z2 + 1, 0, n - (size_t)(z2 + 1 - p)) != NULL ||
	    z2 == z1 + 1 || z2 + 1 == p + n) {
		pop3_sasl_abandon(s, "-ERR [AUTH] Malformed PLAIN response");
		return;
	}
	s->in_sasl = false;
	pop3_issue_auth(s, "PLAIN", 0, (size_t)(z1 - p), (size_t)(z1 + 1 - p),
			(size_t)(z2 - z1 - 1), (size_t)(z2 + 1 - p), (size_t)(p + n - z2 - 1));
}

static bool pop3_sasl_take(pop3_session_t *s, const uint8_t *p, size_t n)
{
	long k = sl_base64_decode(p, n, s->cred, sizeof(s->cred));

	if (k < 0) {
		pop3_sasl_abandon(s, "-ERR Invalid base64 in SASL response");
		return false;
	}
	s->cred_len = (size_t)k;
	return true;
}

/* RFC 5034: AUTH mechanism [initial-response]. AUTH alone lists the
 * mechanisms (the RFC 1734 form Outlook and others still send). */
static void pop3_do_auth(pop3_session_t *s, sl_slice_t args)
{
	sl_slice_t mech = pop3_next_word(&args);

	s->user_set = false;
	if (mech.len == 0) {
		pop3_reply(s, "+OK");
		pop3_reply(s, "PLAIN");
		pop3_reply(s, ".");
		return;
	}
	if (!sl_slice_eq_nocase(mech, "PLAIN")) {
		pop3_reply_error(s, "-ERR Unsupported authentication mechanism");
		return;
	}
	pop3_cred_wipe(s);
	if (args.len == 0) {
		s->in_sasl = true;
		pop3_reply(s, "+ ");
		return;
	}
	if (memchr(args.ptr, ' ', args.len) != NULL) {
		pop3_reply_error(s, "-ERR Syntax: AUTH mechanism [initial-response]");
		return;
	}
	/* RFC 5034 §4: "=" is an empty initial response. */
	if (args.len == 1 && args.ptr[0] == '=') {
		s->cred_len = 0;
	} else if (!pop3_sasl_take(s, args.ptr, args.len)) {
		return;
	}
	pop3_sasl_plain(s);
}

void pop3_sasl_line(pop3_session_t *s, const uint8_t *line, size_t len)
{
	if (len == 1 && line[0] == '*') {
		/* RFC 5034 §4: the client cancels; the server answers -ERR. */
		pop3_sasl_abandon(s, "-ERR Authentication cancelled");
		return;
	}
	for (size_t i = 0; i < len; i++) {
		if (line[i] == '\r' || line[i] == 0) {
			pop3_sasl_abandon(s, "-ERR Invalid base64 in SASL response");
			return;
		}
	}
	if (!pop3_sasl_take(s, line, len))
		return;
	pop3_sasl_plain(s);
}

static void pop3_do_stls(pop3_session_t *s, sl_slice_t args)
{
	(void)args;
	s->user_set = false;
	pop3_reply(s, "+OK Begin TLS negotiation");
	pop3_request_issue(s, POP3_REQ_STLS);
}

/* ---- both states ---- */

/* RFC 2449 §5: the capabilities, as they stand in the current state. */
static void pop3_do_capa(pop3_session_t *s, sl_slice_t args)
{
	(void)args;
	pop3_reply(s, "+OK Capability list follows");
	pop3_reply(s, "TOP");
	pop3_reply(s, "UIDL");
	pop3_reply(s, "RESP-CODES");
	pop3_reply(s, "AUTH-RESP-CODE");
	pop3_reply(s, "PIPELINING");
	if (s->state == POP3_S_AUTH) {
		if (pop3_auth_offered(s)) {
			pop3_reply(s, "USER");
			pop3_reply(s, "SASL PLAIN");
		}
		if (s->cfg->stls_available && !s->tls)
			pop3_reply(s, "STLS");
	}
	pop3_reply(s, "IMPLEMENTATION Sluice");
	pop3_reply(s, ".");
}

static void pop3_do_quit(pop3_session_t *s, sl_slice_t args)
{
	uint32_t k = 0;

	(void)args;
	if (s->state == POP3_S_AUTH || s->ndeleted == 0) {
		pop3_reply(s, "+OK %s Sluice POP3 signing off", s->cfg->hostname);
		pop3_close(s);
		return;
	}
	/* RFC 1939 §6: UPDATE removes every message marked deleted, as one
	 * commit: the glue answers the request after it is durable. */
	s->update_ids = calloc(s->ndeleted, sizeof(*s->update_ids));
	if (s->update_ids == NULL) {
		pop3_reply(s, "-ERR [SYS/TEMP] Some deleted messages not removed");
		pop3_close(s);
		return;
	}
	for (uint32_t i = 0; i < s->nmsgs; i++)
		if (s->msgs[i].deleted)
			s->update_ids[k++] = s->msgs[i].id;
	s->state = POP3_S_UPDATE;
	s->req.u.update.ids = s->update_ids;
	s->req.u.update.n_ids = k;
	pop3_request_issue(s, POP3_REQ_UPDATE);
}

/* ---- TRANSACTION ---- */

static void pop3_do_stat(pop3_session_t *s, sl_slice_t args)
{
	(void)args;
	pop3_reply(s, "+OK %" PRIu32 " %" PRIu64, pop3_live_count(s), pop3_live_size(s));
}

static void pop3_do_list(pop3_session_t *s, sl_slice_t args)
{
	sl_slice_t w = pop3_next_word(&args);
	uint32_t i;

	if (w.len == 0) {
		pop3_reply(s, "+OK %" PRIu32 " messages (%" PRIu64 " octets)", pop3_live_count(s),
			   pop3_live_size(s));
		pop3_stream_start_list(s, POP3_ST_LIST);
		return;
	}
	if (args.len > 0) {
		pop3_reply_error(s, "-ERR Syntax: LIST [msg]");
		return;
	}
	if (pop3_msg_arg(s, w, &i))
		pop3_reply(s, "+OK %" PRIu32 " %" PRIu64, i + 1, s->msgs[i].size);
}

static void pop3_do_uidl(pop3_session_t *s, sl_slice_t args)
{
	sl_slice_t w = pop3_next_word(&args);
	uint32_t i;

	if (w.len == 0) {
		pop3_reply(s, "+OK Unique-ID listing follows");
		pop3_stream_start_list(s, POP3_ST_UIDL);
		return;
	}
	if (args.len > 0) {
		pop3_reply_error(s, "-ERR Syntax: UIDL [msg]");
		return;
	}
	if (pop3_msg_arg(s, w, &i))
		pop3_reply(s, "+OK %" PRIu32 " %.*s", i + 1, (int)s->msgs[i].uid_len,
			   (const char *)s->uids.data + s->msgs[i].uid_off);
}

static void pop3_do_retr(pop3_session_t *s, sl_slice_t args)
{
	sl_slice_t w = pop3_next_word(&args);
	uint32_t i;

	if (args.len > 0) {
		pop3_reply_error(s, "-ERR Syntax: RETR msg");
		return;
	}
	if (!pop3_msg_arg(s, w, &i))
		return;
	s->stats->retr++;
	pop3_stream_start_msg(s, i, false, 0);
}

static void pop3_do_top(pop3_session_t *s, sl_slice_t args)
{
	sl_slice_t w = pop3_next_word(&args);
	sl_slice_t nw = pop3_next_word(&args);
	uint64_t n;
	uint32_t i;

	if (nw.len == 0 || args.len > 0) {
		pop3_reply_error(s, "-ERR Syntax: TOP msg n");
		return;
	}
	if (!pop3_msg_arg(s, w, &i))
		return;
	if (!pop3_parse_u64(nw, &n)) {
		pop3_reply_error(s, "-ERR Invalid line count");
		return;
	}
	s->stats->top++;
	pop3_stream_start_msg(s, i, true, n);
}

static void pop3_do_dele(pop3_session_t *s, sl_slice_t args)
{
	sl_slice_t w = pop3_next_word(&args);
	uint32_t i;

	if (args.len > 0) {
		pop3_reply_error(s, "-ERR Syntax: DELE msg");
		return;
	}
	if (!pop3_msg_arg(s, w, &i))
		return;
	s->msgs[i].deleted = true;
	s->ndeleted++;
	s->deleted_size += s->msgs[i].size;
	s->stats->dele++;
	pop3_reply(s, "+OK Message %" PRIu32 " deleted", i + 1);
}

static void pop3_do_noop(pop3_session_t *s, sl_slice_t args)
{
	(void)args;
	pop3_reply(s, "+OK");
}

static void pop3_do_rset(pop3_session_t *s, sl_slice_t args)
{
	(void)args;
	for (uint32_t i = 0; i < s->nmsgs; i++)
		s->msgs[i].deleted = false;
	s->ndeleted = 0;
	s->deleted_size = 0;
	pop3_reply(s, "+OK Maildrop has %" PRIu32 " messages (%" PRIu64 " octets)", s->nmsgs,
		   s->total_size);
}

static const struct pop3_cmd pop3_cmds[] = {
	{"USER", POP3_CF_AUTH | POP3_CF_ARG, "USER name", pop3_check_login, pop3_do_user},
	{"PASS", POP3_CF_AUTH | POP3_CF_ARG, "PASS password", pop3_check_login, pop3_do_pass},
	{"AUTH", POP3_CF_AUTH | POP3_CF_LINE_AUTH, "AUTH [mechanism [initial-response]]",
	 pop3_check_login, pop3_do_auth},
	{"STLS", POP3_CF_AUTH | POP3_CF_NOARG, "STLS", pop3_check_stls, pop3_do_stls},
	{"CAPA", POP3_CF_AUTH | POP3_CF_TRANS | POP3_CF_NOARG, "CAPA", NULL, pop3_do_capa},
	{"QUIT", POP3_CF_AUTH | POP3_CF_TRANS | POP3_CF_NOARG, "QUIT", NULL, pop3_do_quit},
	{"STAT", POP3_CF_TRANS | POP3_CF_NOARG, "STAT", NULL, pop3_do_stat},
	{"LIST", POP3_CF_TRANS, "LIST [msg]", NULL, pop3_do_list},
	{"RETR", POP3_CF_TRANS | POP3_CF_ARG, "RETR msg", NULL, pop3_do_retr},
	{"DELE", POP3_CF_TRANS | POP3_CF_ARG, "DELE msg", NULL, pop3_do_dele},
	{"NOOP", POP3_CF_TRANS | POP3_CF_NOARG, "NOOP", NULL, pop3_do_noop},
	{"RSET", POP3_CF_TRANS | POP3_CF_NOARG, "RSET", NULL, pop3_do_rset},
	{"TOP", POP3_CF_TRANS | POP3_CF_ARG, "TOP msg n", NULL, pop3_do_top},
	{"UIDL", POP3_CF_TRANS, "UIDL [msg]", NULL, pop3_do_uidl},
};

static const struct pop3_cmd *pop3_cmd_find(sl_slice_t verb)
{
	for (size_t i = 0; i < sizeof(pop3_cmds) / sizeof(pop3_cmds[0]); i++)
		if (sl_slice_eq_nocase(verb, pop3_cmds[i].verb))
			return &pop3_cmds[i];
	return NULL;
}

/* pop3_cmd_line - one command line without its line end, already under
 * the session's hard limit. RFC 1939 §3: a keyword, then arguments
 * separated by single spaces. */
void pop3_cmd_line(pop3_session_t *s, const uint8_t *line, size_t len)
{
	const struct pop3_cmd *cmd;
	sl_slice_t verb, args;
	size_t i = 0;

	for (size_t k = 0; k < len; k++) {
		uint8_t c = line[k];

		if (c < 32 || c == 127) {
			pop3_reply_error(s, "-ERR Invalid character in command");
			return;
		}
	}
	while (i < len && line[i] != ' ')
		i++;
	verb = sl_slice_make(line, i);
	if (i < len)
		i++; /* the one separating space */
	args = sl_slice_make(line + i, len - i);
	cmd = pop3_cmd_find(verb);
	if (cmd == NULL) {
		pop3_reply_error(s, "-ERR Unknown command");
		return;
	}
	if (!(cmd->flags & POP3_CF_LINE_AUTH) && len + 2 > s->cfg->cmd_line_max) {
		s->stats->line_too_long++;
		pop3_reply_error(s, "-ERR Line too long");
		return;
	}
	if (!(cmd->flags & (s->state == POP3_S_AUTH ? POP3_CF_AUTH : POP3_CF_TRANS))) {
		pop3_reply_error(s, "-ERR Command not valid in this state");
		return;
	}
	/* PASS keeps its raw argument; everything else is trimmed. */
	if (cmd->proceed != pop3_do_pass)
		args = pop3_trim(args);
	if (((cmd->flags & POP3_CF_NOARG) && args.len > 0) ||
	    ((cmd->flags & POP3_CF_ARG) && args.len == 0)) {
		pop3_reply_error(s, "-ERR Syntax: %s", cmd->syntax);
		return;
	}
	if (cmd->check != NULL && !cmd->check(s))
		return;
	cmd->proceed(s, args);
}
