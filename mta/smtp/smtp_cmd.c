/* smtp_cmd - the command table and its handlers (RFC 5321 §4.1, ESMTP).
 *
 * Each command is {verb, flags, check, proceed}: flags and check refuse a
 * command that is not valid in the current state (and say why); proceed
 * does the work. Handlers either reply or issue a request, never both. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "sl_err.h"
#include "sl_log.h"
#include "smtp_private.h"

#define SMTP_CF_NOARG 0x01u    /* arguments are a syntax error */
#define SMTP_CF_ARG 0x02u      /* an argument is required */
#define SMTP_CF_LINE_MAIL 0x04u /* line limit with the MAIL allowance */
#define SMTP_CF_LINE_RCPT 0x08u /* line limit with the RCPT allowance */
#define SMTP_CF_LINE_AUTH 0x10u /* line limit of RFC 4954 */

struct smtp_cmd {
	const char *verb;
	unsigned flags;
	const char *syntax;                                /* "Syntax: ..." text */
	bool (*check)(smtp_session_t *s, sl_slice_t args); /* false: replied */
	void (*proceed)(smtp_session_t *s, sl_slice_t args);
};

void smtp_greeting(smtp_session_t *s)
{
	smtp_reply(s, "220 %s ESMTP Sluice", s->cfg->hostname);
}

static bool smtp_auth_offered(const smtp_session_t *s)
{
	return s->tls || (s->cfg->allow_plaintext_auth && !s->cfg->require_tls);
}

static bool smtp_starttls_offered(const smtp_session_t *s)
{
	return s->cfg->starttls_available && !s->tls;
}

/* ---- checks ---- */

static bool smtp_check_helo(smtp_session_t *s, sl_slice_t args)
{
	(void)args;
	if (s->helo_kind == SMTP_HELO_NONE) {
		smtp_reply_error(s, "503 5.5.1 Error: send HELO/EHLO first");
		return false;
	}
	return true;
}

/* smtp_tls_required - RFC 3207 §4: a server that requires TLS answers
 * 530 5.7.0 to anything but NOOP, EHLO, STARTTLS and QUIT; we hold that
 * line at MAIL and AUTH, the commands that carry something. */
static bool smtp_tls_required(smtp_session_t *s)
{
	if (!s->cfg->require_tls || s->tls)
		return false;
	smtp_reply_error(s, "530 5.7.0 Must issue a STARTTLS command first");
	return true;
}

static bool smtp_check_mail(smtp_session_t *s, sl_slice_t args)
{
	if (!smtp_check_helo(s, args))
		return false;
	if (smtp_tls_required(s))
		return false;
	if (s->txn != SMTP_TXN_NONE) {
		smtp_reply_error(s, "503 5.5.1 Error: nested MAIL command");
		return false;
	}
	if (s->cfg->role != SMTP_ROLE_MX && !s->authenticated) {
		smtp_reply_error(s, "530 5.7.0 Authentication required");
		return false;
	}
	return true;
}

static bool smtp_check_rcpt(smtp_session_t *s, sl_slice_t args)
{
	(void)args;
	if (s->txn == SMTP_TXN_NONE) {
		smtp_reply_error(s, "503 5.5.1 Error: need MAIL command");
		return false;
	}
	if (s->nrcpt >= s->cfg->rcpt_max) {
		/* §4.5.3.1.10: 452, so the client sends the rest later. */
		smtp_reply(s, "452 4.5.3 Error: too many recipients");
		return false;
	}
	return true;
}

static bool smtp_check_data(smtp_session_t *s, sl_slice_t args)
{
	(void)args;
	if (s->txn == SMTP_TXN_NONE) {
		smtp_reply_error(s, "503 5.5.1 Error: need MAIL command");
		return false;
	}
	if (s->bdat_used) {
		/* RFC 3030 §2: no DATA in a transaction that used BDAT */
		smtp_reply_error(s, "503 5.5.1 Error: DATA not allowed after BDAT");
		return false;
	}
	if (s->nrcpt == 0) {
		/* §3.3: "no valid recipients" */
		smtp_reply_error(s, "554 5.5.1 Error: no valid recipients");
		return false;
	}
	return true;
}

static bool smtp_check_auth(smtp_session_t *s, sl_slice_t args)
{
	(void)args;
	if (s->helo_kind != SMTP_HELO_EHLO) {
		smtp_reply_error(s, "503 5.5.1 Error: send EHLO first");
		return false;
	}
	if (smtp_tls_required(s))
		return false;
	if (!smtp_auth_offered(s)) {
		if (s->cfg->starttls_available)
			smtp_reply_error(s, "538 5.7.11 Encryption required for requested "
					    "authentication mechanism");
		else
			smtp_reply_error(s, "503 5.5.1 Error: authentication not enabled");
		return false;
	}
	if (s->authenticated) {
		smtp_reply_error(s, "503 5.5.1 Error: already authenticated");
		return false;
	}
	if (s->txn != SMTP_TXN_NONE) {
		smtp_reply_error(s, "503 5.5.1 Error: MAIL transaction in progress");
		return false;
	}
	return true;
}

static bool smtp_check_starttls(smtp_session_t *s, sl_slice_t args)
{
	(void)args;
	if (s->tls) {
		smtp_reply_error(s, "554 5.5.1 Error: TLS already active");
		return false;
	}
	if (!s->cfg->starttls_available) {
		smtp_reply_error(s, "502 5.5.1 Error: command not implemented");
		return false;
	}
	if (s->txn != SMTP_TXN_NONE) {
		smtp_reply_error(s, "503 5.5.1 Error: MAIL transaction in progress");
		return false;
	}
	return true;
}

/* ---- helpers ---- */

static sl_slice_t smtp_trim(sl_slice_t a)
{
	while (a.len && (a.ptr[0] == ' ' || a.ptr[0] == '\t')) {
		a.ptr++;
		a.len--;
	}
	while (a.len && (a.ptr[a.len - 1] == ' ' || a.ptr[a.len - 1] == '\t'))
		a.len--;
	return a;
}

/* smtp_next_word - split off the next space-separated word of *A. */
static sl_slice_t smtp_next_word(sl_slice_t *a)
{
	sl_slice_t w;
	size_t i = 0;

	*a = smtp_trim(*a);
	while (i < a->len && a->ptr[i] != ' ' && a->ptr[i] != '\t')
		i++;
	w = sl_slice_make(a->ptr, i);
	a->ptr += i;
	a->len -= i;
	*a = smtp_trim(*a);
	return w;
}

/* smtp_parse_u64 - 1..20 decimal digits, no sign, no overflow. */
static bool smtp_parse_u64(sl_slice_t w, uint64_t *v_r)
{
	uint64_t v = 0;

	if (w.len == 0 || w.len > 20)
		return false;
	for (size_t i = 0; i < w.len; i++) {
		uint8_t c = w.ptr[i];

		if (c < '0' || c > '9')
			return false;
		if (v > (UINT64_MAX - (c - '0')) / 10)
			return false;
		v = v * 10 + (c - '0');
	}
	*v_r = v;
	return true;
}

/* smtp_param_split - "KEY=VALUE" or "KEY" (RFC 5321 §4.1.2 esmtp-param). */
static bool smtp_param_split(sl_slice_t w, sl_slice_t *key_r, sl_slice_t *val_r, bool *has_val_r)
{
	size_t i = 0;

	while (i < w.len && w.ptr[i] != '=')
		i++;
	*key_r = sl_slice_make(w.ptr, i);
	*has_val_r = i < w.len;
	*val_r = *has_val_r ? sl_slice_make(w.ptr + i + 1, w.len - i - 1) : sl_slice_make("", 0);
	if (i == 0)
		return false;
	for (size_t k = 0; k < i; k++) {
		uint8_t c = w.ptr[k];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      (c == '-' && k > 0)))
			return false;
	}
	/* esmtp-value: %d33-60 / %d62-126, or UTF-8 (RFC 6531) */
	for (size_t k = 0; k < val_r->len; k++) {
		uint8_t c = val_r->ptr[k];

		if (c < 33 || c == '=' || c == 127)
			return false;
	}
	return !*has_val_r || val_r->len > 0;
}

static bool smtp_prefix_nocase(sl_slice_t a, const char *lit)
{
	size_t n = strlen(lit);

	return a.len >= n && strncasecmp((const char *)a.ptr, lit, n) == 0;
}

static void smtp_new_queue_id(smtp_session_t *s)
{
	s->txn_seq++;
	s->queue_id[0] = '\0';
	if (s->hooks->queue_id)
		s->hooks->queue_id(s->hooks->ctx, s, s->queue_id, sizeof(s->queue_id));
	s->queue_id[sizeof(s->queue_id) - 1] = '\0';
	for (char *c = s->queue_id; *c; c++)
		if (!((*c >= '0' && *c <= '9') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= 'a' && *c <= 'z')))
			*c = 'X';
	if (s->queue_id[0] == '\0')
		snprintf(s->queue_id, sizeof(s->queue_id), "%" PRIX64 "T%" PRIX32, s->conn_id,
			 s->txn_seq);
	s->queue_id_len = strlen(s->queue_id);
}

/* ---- handlers ---- */

/* The HELO/EHLO argument lands in Received:, so it must be one clean
 * token; we never refuse a name for not matching the IP (§4.1.4). */
static bool smtp_helo_arg(smtp_session_t *s, sl_slice_t args)
{
	sl_slice_t a = smtp_trim(args);
	bool utf8 = false;

	if (a.len == 0 || a.len > SMTP_HELO_MAX)
		return false;
	for (size_t i = 0; i < a.len; i++) {
		uint8_t c = a.ptr[i];

		if (c >= 0x80)
			utf8 = true;
		else if (c <= 32 || c == 127)
			return false;
	}
	if (utf8 && !smtp_utf8_valid(a.ptr, a.len))
		return false;
	memcpy(s->helo, a.ptr, a.len);
	s->helo[a.len] = '\0';
	s->helo_len = a.len;
	return true;
}

static void smtp_do_helo(smtp_session_t *s, sl_slice_t args)
{
	if (!smtp_helo_arg(s, args)) {
		smtp_reply_error(s, "501 5.5.4 Syntax: HELO hostname");
		return;
	}
	smtp_txn_abandon(s); /* §4.1.4: HELO/EHLO is an implicit RSET */
	s->helo_kind = SMTP_HELO_HELO;
	smtp_reply(s, "250 %s", s->cfg->hostname);
}

static void smtp_do_ehlo(smtp_session_t *s, sl_slice_t args)
{
	const char *ext[12];
	char size[40];
	size_t n = 0;

	if (!smtp_helo_arg(s, args)) {
		smtp_reply_error(s, "501 5.5.4 Syntax: EHLO hostname");
		return;
	}
	smtp_txn_abandon(s);
	s->helo_kind = SMTP_HELO_EHLO;
	snprintf(size, sizeof(size), "SIZE %" PRIu64, s->cfg->message_max);
	ext[n++] = "PIPELINING";
	ext[n++] = size;
	if (s->cfg->vrfy_enabled)
		ext[n++] = "VRFY";
	if (s->cfg->expn_enabled)
		ext[n++] = "EXPN";
	ext[n++] = "8BITMIME";
	ext[n++] = "ENHANCEDSTATUSCODES";
	ext[n++] = "SMTPUTF8";
	ext[n++] = "CHUNKING";
	ext[n++] = "DSN";
	if (smtp_starttls_offered(s))
		ext[n++] = "STARTTLS";
	if (smtp_auth_offered(s))
		ext[n++] = "AUTH PLAIN LOGIN";
	smtp_reply(s, "250-%s", s->cfg->hostname);
	for (size_t i = 0; i < n; i++)
		smtp_reply(s, "250%c%s", i + 1 == n ? ' ' : '-', ext[i]);
}

static void smtp_do_mail(smtp_session_t *s, sl_slice_t args)
{
	struct smtp_path path;
	const char *why;
	size_t end;
	sl_slice_t ptext, rest, w;
	bool seen_size = false, seen_body = false, seen_ret = false, seen_envid = false,
	     seen_utf8 = false, seen_auth = false;
	uint64_t size = 0;
	enum smtp_body body = SMTP_BODY_UNSPEC;
	enum smtp_dsn_ret ret = SMTP_RET_UNSPEC;
	sl_slice_t envid = sl_slice_make("", 0);
	int rc;

	if (!smtp_prefix_nocase(args, "FROM:")) {
		smtp_reply_error(s, "501 5.5.4 Syntax: MAIL FROM:<address>");
		return;
	}
	ptext = smtp_trim(sl_slice_make(args.ptr + 5, args.len - 5));
	rest = ptext;
	rc = smtp_path_parse(rest.ptr, rest.len, true, &path, &end, &why);
	if (rc < 0 || (!path.null_path && path.domain_len == 0)) {
		if (rc == 0)
			why = "address must have a domain";
		smtp_reply_error(s, "501 5.1.7 Bad sender address syntax: %s", why);
		return;
	}
	if (end < rest.len && rest.ptr[end] != ' ') {
		smtp_reply_error(s, "501 5.1.7 Bad sender address syntax");
		return;
	}
	rest = sl_slice_make(rest.ptr + end, rest.len - end);
	while ((w = smtp_next_word(&rest)).len > 0) {
		sl_slice_t key, val;
		bool has_val;

		if (s->helo_kind != SMTP_HELO_EHLO) {
			/* RFC 5321 §4.1.1.11: parameters only after EHLO */
			smtp_reply_error(s, "555 5.5.4 Error: MAIL parameters require EHLO");
			return;
		}
		if (!smtp_param_split(w, &key, &val, &has_val)) {
			smtp_reply_error(s, "501 5.5.4 Error: bad MAIL parameter syntax");
			return;
		}
		if (sl_slice_eq_nocase(key, "SIZE") && has_val && !seen_size) {
			if (!smtp_parse_u64(val, &size)) {
				smtp_reply_error(s, "501 5.5.4 Error: bad SIZE value");
				return;
			}
			seen_size = true;
		} else if (sl_slice_eq_nocase(key, "BODY") && has_val && !seen_body) {
			if (sl_slice_eq_nocase(val, "7BIT")) {
				body = SMTP_BODY_7BIT;
			} else if (sl_slice_eq_nocase(val, "8BITMIME")) {
				body = SMTP_BODY_8BITMIME;
			} else {
				smtp_reply_error(s, "555 5.5.4 Error: unsupported BODY type");
				return;
			}
			seen_body = true;
		} else if (sl_slice_eq_nocase(key, "SMTPUTF8") && !has_val && !seen_utf8) {
			seen_utf8 = true;
		} else if (sl_slice_eq_nocase(key, "RET") && has_val && !seen_ret) {
			if (sl_slice_eq_nocase(val, "FULL")) {
				ret = SMTP_RET_FULL;
			} else if (sl_slice_eq_nocase(val, "HDRS")) {
				ret = SMTP_RET_HDRS;
			} else {
				smtp_reply_error(s, "501 5.5.4 Error: bad RET value");
				return;
			}
			seen_ret = true;
		} else if (sl_slice_eq_nocase(key, "ENVID") && has_val && !seen_envid) {
			if (val.len > SMTP_ENVID_MAX || !smtp_xtext_valid(val.ptr, val.len)) {
				smtp_reply_error(s, "501 5.5.4 Error: bad ENVID value");
				return;
			}
			envid = val;
			seen_envid = true;
		} else if (sl_slice_eq_nocase(key, "AUTH") && has_val && !seen_auth) {
			/* RFC 4954 §5: accepted, not trusted; we never relay it on */
			if (!smtp_xtext_valid(val.ptr, val.len)) {
				smtp_reply_error(s, "501 5.5.4 Error: bad AUTH value");
				return;
			}
			seen_auth = true;
		} else {
			smtp_reply_error(s, "555 5.5.4 Error: unsupported MAIL parameter %.*s",
					 (int)(key.len > 40 ? 40 : key.len), (const char *)key.ptr);
			return;
		}
	}
	if (path.utf8 && !seen_utf8) {
		smtp_reply_error(s, "553 5.6.7 Error: non-ASCII address requires SMTPUTF8");
		return;
	}
	if (seen_size && size > s->cfg->message_max) {
		s->stats->msg_oversize++;
		smtp_reply(s, "552 5.3.4 Error: message size exceeds fixed maximum message size");
		return;
	}
	smtp_txn_reset(s);
	if (smtp_txn_str_add(s, ptext.ptr + path.addr_off, path.addr_len, &s->from_off) < 0)
		goto fail;
	s->from_len = (uint32_t)path.addr_len;
	if (smtp_txn_str_add(s, envid.ptr, envid.len, &s->envid_off) < 0)
		goto fail;
	s->envid_len = (uint32_t)envid.len;
	s->size_declared = size;
	s->body = body;
	s->ret = ret;
	s->smtputf8 = seen_utf8;
	s->txn = SMTP_TXN_MAIL;
	s->t_mail = s->now;
	smtp_new_queue_id(s);
	s->stats->mail++;
	smtp_reply(s, "250 2.1.0 Ok");
	return;
fail:
	smtp_txn_reset(s);
	smtp_reply(s, "452 4.3.1 Insufficient system resources");
}

static void smtp_do_rcpt(smtp_session_t *s, sl_slice_t args)
{
	struct smtp_rcpt_pending *rp = &s->rp;
	struct smtp_path path;
	const char *why;
	size_t end;
	sl_slice_t rest, w;
	bool seen_notify = false, seen_orcpt = false;
	long ll;
	int rc;

	if (!smtp_prefix_nocase(args, "TO:")) {
		smtp_reply_error(s, "501 5.5.4 Syntax: RCPT TO:<address>");
		return;
	}
	rest = smtp_trim(sl_slice_make(args.ptr + 3, args.len - 3));
	rc = smtp_path_parse(rest.ptr, rest.len, false, &path, &end, &why);
	if (rc < 0 || (end < rest.len && rest.ptr[end] != ' ')) {
		smtp_reply_error(s, "501 5.1.3 Bad recipient address syntax%s%s", rc < 0 ? ": " : "",
				 rc < 0 ? why : "");
		return;
	}
	memset(rp, 0, sizeof(*rp));
	memcpy(rp->addr, rest.ptr + path.addr_off, path.addr_len);
	rp->addr_len = path.addr_len;
	rp->addr[rp->addr_len] = '\0';
	rp->domain_off = path.domain_len ? path.domain_off - path.addr_off : path.addr_len;
	rp->domain_len = path.domain_len;
	ll = smtp_local_unquote(rest.ptr + path.local_off, path.local_len, rp->local_buf,
				sizeof(rp->local_buf));
	if (ll < 0) {
		smtp_reply_error(s, "501 5.1.3 Bad recipient address syntax");
		return;
	}
	rp->local_len = (size_t)ll;
	rest = sl_slice_make(rest.ptr + end, rest.len - end);
	while ((w = smtp_next_word(&rest)).len > 0) {
		sl_slice_t key, val;
		bool has_val;

		if (s->helo_kind != SMTP_HELO_EHLO) {
			smtp_reply_error(s, "555 5.5.4 Error: RCPT parameters require EHLO");
			return;
		}
		if (!smtp_param_split(w, &key, &val, &has_val)) {
			smtp_reply_error(s, "501 5.5.4 Error: bad RCPT parameter syntax");
			return;
		}
		if (sl_slice_eq_nocase(key, "NOTIFY") && has_val && !seen_notify) {
			/* RFC 3461 §4.1: NEVER alone, or a list of the others */
			sl_slice_t v = val;

			while (v.len > 0) {
				size_t i = 0;
				sl_slice_t item;

				while (i < v.len && v.ptr[i] != ',')
					i++;
				item = sl_slice_make(v.ptr, i);
				if (sl_slice_eq_nocase(item, "NEVER"))
					rp->notify |= SMTP_NOTIFY_NEVER;
				else if (sl_slice_eq_nocase(item, "SUCCESS"))
					rp->notify |= SMTP_NOTIFY_SUCCESS;
				else if (sl_slice_eq_nocase(item, "FAILURE"))
					rp->notify |= SMTP_NOTIFY_FAILURE;
				else if (sl_slice_eq_nocase(item, "DELAY"))
					rp->notify |= SMTP_NOTIFY_DELAY;
				else
					rp->notify = 0xff;
				if (i < v.len && i + 1 == v.len)
					rp->notify = 0xff; /* trailing comma */
				v = i < v.len ? sl_slice_make(v.ptr + i + 1, v.len - i - 1)
					      : sl_slice_make("", 0);
			}
			if (rp->notify == 0xff ||
			    ((rp->notify & SMTP_NOTIFY_NEVER) && rp->notify != SMTP_NOTIFY_NEVER)) {
				smtp_reply_error(s, "501 5.5.4 Error: bad NOTIFY value");
				return;
			}
			seen_notify = true;
		} else if (sl_slice_eq_nocase(key, "ORCPT") && has_val && !seen_orcpt) {
			/* RFC 3461 §4.2: addr-type ";" xtext */
			size_t semi = 0;

			while (semi < val.len && val.ptr[semi] != ';')
				semi++;
			if (val.len > SMTP_ORCPT_MAX || semi == 0 || semi >= val.len - 1 ||
			    !smtp_xtext_valid(val.ptr + semi + 1, val.len - semi - 1)) {
				smtp_reply_error(s, "501 5.5.4 Error: bad ORCPT value");
				return;
			}
			memcpy(rp->orcpt, val.ptr, val.len);
			rp->orcpt_len = val.len;
			seen_orcpt = true;
		} else {
			smtp_reply_error(s, "555 5.5.4 Error: unsupported RCPT parameter %.*s",
					 (int)(key.len > 40 ? 40 : key.len), (const char *)key.ptr);
			return;
		}
	}
	if (path.utf8 && !s->smtputf8) {
		smtp_reply_error(s, "553 5.6.7 Error: non-ASCII address requires SMTPUTF8");
		return;
	}
	s->req.u.rcpt.addr = sl_slice_make(rp->addr, rp->addr_len);
	s->req.u.rcpt.local = sl_slice_make(rp->local_buf, rp->local_len);
	s->req.u.rcpt.domain = sl_slice_make(rp->addr + rp->domain_off, rp->domain_len);
	s->req.u.rcpt.authenticated = s->authenticated;
	smtp_request_issue(s, SMTP_REQ_RCPT);
}

static void smtp_do_data(smtp_session_t *s, sl_slice_t args)
{
	(void)args;
	if (smtp_msg_start(s) < 0) {
		s->stats->msg_tempfail++;
		smtp_reply(s, "452 4.3.1 Insufficient system storage");
		return;
	}
	s->phase = SMTP_P_DATA;
	smtp_reply(s, "354 End data with <CR><LF>.<CR><LF>");
}

/* BDAT always reads its chunk, even when it refuses it (RFC 3030 §2):
 * otherwise the chunk's bytes would be read as commands. */
static void smtp_do_bdat(smtp_session_t *s, sl_slice_t args)
{
	sl_slice_t a = args, w1, w2;
	uint64_t size;
	const char *refuse = NULL;

	w1 = smtp_next_word(&a);
	w2 = smtp_next_word(&a);
	if (!smtp_parse_u64(w1, &size) || a.len > 0 ||
	    (w2.len > 0 && !sl_slice_eq_nocase(w2, "LAST"))) {
		/* We cannot know where the chunk ends: the framing is lost. */
		smtp_reply_error(s, "501 5.5.4 Syntax: BDAT size [LAST]");
		if (s->phase != SMTP_P_CLOSED) {
			smtp_reply(s, "421 4.5.0 %s Error: lost BDAT framing, closing",
				   s->cfg->hostname);
			smtp_close(s);
		}
		return;
	}
	s->bdat_left = size;
	s->bdat_last = w2.len > 0;
	if (s->helo_kind != SMTP_HELO_EHLO)
		refuse = "503 5.5.1 Error: send EHLO first";
	else if (s->txn == SMTP_TXN_NONE)
		refuse = "503 5.5.1 Error: need MAIL command";
	else if (s->nrcpt == 0)
		refuse = "554 5.5.1 Error: no valid recipients";
	if (refuse != NULL) {
		snprintf(s->bdat_reply, sizeof(s->bdat_reply), "%s", refuse);
		s->tfail = SMTP_TF_BDAT_CMD;
	} else if (!s->bdat_used) {
		s->bdat_used = true;
		if (smtp_msg_start(s) < 0)
			s->tfail = SMTP_TF_STORE_FULL;
	}
	if (s->tfail == SMTP_TF_NONE && size > s->cfg->message_max - s->msg_size)
		s->tfail = SMTP_TF_OVERSIZE;
	s->phase = SMTP_P_BDAT;
	if (size == 0)
		smtp_bdat_chunk_done(s);
}

static void smtp_do_rset(smtp_session_t *s, sl_slice_t args)
{
	(void)args;
	smtp_txn_abandon(s);
	smtp_reply(s, "250 2.0.0 Ok");
}

static void smtp_do_noop(smtp_session_t *s, sl_slice_t args)
{
	(void)args;
	smtp_reply(s, "250 2.0.0 Ok");
}

static void smtp_do_quit(smtp_session_t *s, sl_slice_t args)
{
	(void)args;
	smtp_reply(s, "221 2.0.0 Bye");
	smtp_close(s);
}

static void smtp_do_help(smtp_session_t *s, sl_slice_t args)
{
	(void)args;
	smtp_reply(s, "214-2.0.0 Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT");
	smtp_reply(s, "214-2.0.0 HELP VRFY EXPN AUTH STARTTLS");
	smtp_reply(s, "214 2.0.0 See RFC 5321");
}

static void smtp_do_vrfy(smtp_session_t *s, sl_slice_t args)
{
	(void)args;
	if (!s->cfg->vrfy_enabled) {
		smtp_reply_error(s, "502 5.5.1 Error: VRFY command is disabled");
		return;
	}
	/* §3.5.3: 252 reveals nothing and promises nothing */
	smtp_reply(s, "252 2.5.0 Cannot VRFY user, but will accept message and attempt delivery");
}

static void smtp_do_expn(smtp_session_t *s, sl_slice_t args)
{
	(void)args;
	if (!s->cfg->expn_enabled) {
		smtp_reply_error(s, "502 5.5.1 Error: EXPN command is disabled");
		return;
	}
	smtp_reply(s, "252 2.5.0 Cannot EXPN list, but will accept message and attempt delivery");
}

static void smtp_do_auth(smtp_session_t *s, sl_slice_t args)
{
	smtp_auth_start(s, args);
}

static void smtp_do_starttls(smtp_session_t *s, sl_slice_t args)
{
	(void)args;
	smtp_reply(s, "220 2.0.0 Ready to start TLS");
	smtp_request_issue(s, SMTP_REQ_STARTTLS);
}

static const struct smtp_cmd smtp_cmds[] = {
	{"EHLO", SMTP_CF_ARG, "EHLO hostname", NULL, smtp_do_ehlo},
	{"HELO", SMTP_CF_ARG, "HELO hostname", NULL, smtp_do_helo},
	{"MAIL", SMTP_CF_ARG | SMTP_CF_LINE_MAIL, "MAIL FROM:<address>", smtp_check_mail,
	 smtp_do_mail},
	{"RCPT", SMTP_CF_ARG | SMTP_CF_LINE_RCPT, "RCPT TO:<address>", smtp_check_rcpt,
	 smtp_do_rcpt},
	{"DATA", SMTP_CF_NOARG, "DATA", smtp_check_data, smtp_do_data},
	{"BDAT", SMTP_CF_ARG, "BDAT size [LAST]", NULL, smtp_do_bdat},
	{"RSET", SMTP_CF_NOARG, "RSET", NULL, smtp_do_rset},
	{"NOOP", 0, "NOOP", NULL, smtp_do_noop},
	{"QUIT", SMTP_CF_NOARG, "QUIT", NULL, smtp_do_quit},
	{"HELP", 0, "HELP", NULL, smtp_do_help},
	{"VRFY", SMTP_CF_ARG, "VRFY address", NULL, smtp_do_vrfy},
	{"EXPN", SMTP_CF_ARG, "EXPN list", NULL, smtp_do_expn},
	{"AUTH", SMTP_CF_ARG | SMTP_CF_LINE_AUTH, "AUTH mechanism [initial-response]",
	 smtp_check_auth, smtp_do_auth},
	{"STARTTLS", SMTP_CF_NOARG, "STARTTLS", smtp_check_starttls, smtp_do_starttls},
};

static const struct smtp_cmd *smtp_cmd_find(sl_slice_t verb)
{
	for (size_t i = 0; i < sizeof(smtp_cmds) / sizeof(smtp_cmds[0]); i++)
		if (sl_slice_eq_nocase(verb, smtp_cmds[i].verb))
			return &smtp_cmds[i];
	return NULL;
}

/* smtp_cmd_line - one command line, CRLF removed, already under the hard
 * length limit of the session. */
void smtp_cmd_line(smtp_session_t *s, const uint8_t *line, size_t len)
{
	const struct smtp_cmd *cmd;
	sl_slice_t verb, args;
	size_t i = 0, limit;

	for (size_t k = 0; k < len; k++) {
		uint8_t c = line[k];

		if (c == '\r') {
			/* A CR inside a command is never a line end, in either
			 * mode: reading it as one is how commands get smuggled. */
			s->stats->bare_eol++;
			smtp_reply_error(s, "500 5.5.2 Error: bare <CR> received; lines must end with <CR><LF>");
			return;
		}
		if ((c < 32 && c != '\t') || c == 127) {
			smtp_reply_error(s, "500 5.5.2 Error: invalid character in command");
			return;
		}
	}
	while (i < len && line[i] != ' ')
		i++;
	verb = sl_slice_make(line, i);
	args = smtp_trim(sl_slice_make(line + i, len - i));
	cmd = smtp_cmd_find(verb);
	if (cmd == NULL) {
		smtp_reply_error(s, "500 5.5.2 Error: command not recognized");
		return;
	}
	limit = s->cfg->cmd_line_max;
	if (cmd->flags & SMTP_CF_LINE_MAIL)
		limit += SMTP_MAIL_EXTRA;
	else if (cmd->flags & SMTP_CF_LINE_RCPT)
		limit += SMTP_RCPT_EXTRA;
	else if (cmd->flags & SMTP_CF_LINE_AUTH)
		limit = s->cfg->auth_line_max;
	if (len + 2 > limit) {
		s->stats->line_too_long++;
		smtp_reply_error(s, "500 5.5.2 Error: line too long");
		return;
	}
	if (((cmd->flags & SMTP_CF_NOARG) && args.len > 0) ||
	    ((cmd->flags & SMTP_CF_ARG) && args.len == 0)) {
		smtp_reply_error(s, "501 5.5.4 Syntax: %s", cmd->syntax);
		return;
	}
	if (cmd->check != NULL && !cmd->check(s, args))
		return;
	cmd->proceed(s, args);
}
