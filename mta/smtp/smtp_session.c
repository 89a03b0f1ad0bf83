/* smtp_session - session lifecycle, input framing, output, requests, time.
 *
 * Input is processed straight from the caller's bytes when nothing is
 * buffered; only an incomplete line, or bytes that arrive while a request
 * is outstanding, are copied into the session's bounded input buffer. */
#include "smtp_private.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sl_err.h"
#include "sl_log.h"
#include "sl_stats.h"
#include "sl_time.h"

void smtp_config_defaults(struct smtp_config *c)
{
	memset(c, 0, sizeof(*c));
	c->role = SMTP_ROLE_MX;
	c->eol_mode = SMTP_EOL_STRICT;
	c->cmd_line_max = 512;
	c->text_line_max = 1000;
	c->auth_line_max = 12288;
	c->message_max = 25u * 1024 * 1024;
	c->rcpt_max = 100;
	c->errors_max = 20;
	c->auth_failures_max = 3;
	c->pipeline_max = 16384;
	c->output_max = 16384;
	c->greeting_delay_us = 0;
	c->timeout_cmd_us = 300 * SL_US_PER_S;
	c->timeout_data_us = 180 * SL_US_PER_S;
}

#define SMTP_STAT(name) SL_STAT(struct smtp_stats, name)
static const sl_stat_field_t smtp_stat_fields[] = {
	SMTP_STAT(sessions),          SMTP_STAT(commands),        SMTP_STAT(errors),
	SMTP_STAT(disconnect_errors), SMTP_STAT(pregreet),        SMTP_STAT(timeouts),
	SMTP_STAT(line_too_long),     SMTP_STAT(bare_eol),        SMTP_STAT(mail),
	SMTP_STAT(rcpt_accepted),     SMTP_STAT(rcpt_unknown),    SMTP_STAT(rcpt_relay_denied),
	SMTP_STAT(rcpt_tempfail),     SMTP_STAT(msg_accepted),    SMTP_STAT(msg_rejected),
	SMTP_STAT(msg_tempfail),      SMTP_STAT(msg_oversize),    SMTP_STAT(msg_aborted),
	SMTP_STAT(bytes_received),    SMTP_STAT(auth_success),    SMTP_STAT(auth_failure),
	SMTP_STAT(auth_lockout),      SMTP_STAT(starttls),        SMTP_STAT(plaintext_discarded),
};
_Static_assert(SL_STAT_COUNT(smtp_stat_fields) ==
		       sizeof(struct smtp_stats) / sizeof(uint64_t),
	       "every smtp_stats counter has a name");

void smtp_stats_add(struct smtp_stats *dst, const struct smtp_stats *src)
{
	sl_stats_add(smtp_stat_fields, SL_STAT_COUNT(smtp_stat_fields), dst, src);
}

int smtp_stats_format(const struct smtp_stats *st, sl_buf_t *out)
{
	return sl_stats_format("smtp", smtp_stat_fields, SL_STAT_COUNT(smtp_stat_fields), st, out);
}

int smtp_reply_code_valid(unsigned code)
{
	return code >= 200 && code <= 599;
}

static bool smtp_config_ok(const struct smtp_config *c)
{
	if (c == NULL || c->hostname == NULL || c->hostname[0] == '\0' ||
	    strlen(c->hostname) > SMTP_DOMAIN_MAX)
		return false;
	/* The RFC minimums (§4.5.3.1): smaller would refuse legal clients. */
	if (c->cmd_line_max < 512 || (c->text_line_max != 0 && c->text_line_max < 1000) ||
	    c->auth_line_max < 512 || c->rcpt_max < 1 || c->errors_max < 1 ||
	    c->auth_failures_max < 1 || c->message_max == 0 ||
	    c->output_max < 2 * SMTP_REPLY_RESERVE)
		return false;
	if (c->cmd_line_max > 65536 || c->auth_line_max > 65536 || c->pipeline_max > (1u << 24))
		return false;
	return true;
}

static void smtp_copy_str(char *dst, size_t size, const char *src)
{
	size_t n = src ? strlen(src) : 0;

	if (n >= size)
		n = size - 1;
	if (n)
		memcpy(dst, src, n);
	dst[n] = '\0';
}

int smtp_session_create(const struct smtp_config *cfg, const struct smtp_hooks *hooks,
			const struct smtp_peer *peer, uint64_t now_us, smtp_session_t **s_r)
{
	static const struct smtp_hooks no_hooks;
	smtp_session_t *s;
	size_t cmd_max;

	*s_r = NULL;
	if (!smtp_config_ok(cfg) || peer == NULL || peer->client_ip == NULL)
		return SL_EINVAL;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return SL_ENOMEM;
	s->cfg = cfg;
	s->hooks = hooks ? hooks : &no_hooks;
	s->stats = cfg->stats ? cfg->stats : &s->stats_dummy;
	smtp_copy_str(s->client_ip, sizeof(s->client_ip), peer->client_ip);
	smtp_copy_str(s->client_rdns, sizeof(s->client_rdns),
		      peer->client_rdns ? peer->client_rdns : "unknown");
	s->conn_id = peer->conn_id;
	s->tls = peer->tls_active;
	s->now = now_us;
	s->deadline = now_us;

	cmd_max = cfg->cmd_line_max + SMTP_RCPT_EXTRA;
	s->line_hard_max = cmd_max > cfg->auth_line_max ? cmd_max : cfg->auth_line_max;
	sl_buf_init(&s->in, s->line_hard_max + 1 + cfg->pipeline_max);
	sl_buf_init(&s->out, cfg->output_max);
	/* Everything a transaction can hold, with room for the bookkeeping. */
	sl_buf_init(&s->txn_str,
		    (size_t)(cfg->rcpt_max + 2) * (SMTP_PATH_MAX + SMTP_ORCPT_MAX + 2) + 1024);
	s->stats->sessions++;

	if (peer->refuse != NULL) {
		/* RFC 5321 §3.1: a server that will not serve says so in
		 * place of the greeting, and closes. */
		s->phase = SMTP_P_CMD;
		smtp_session_shutdown(s, now_us, peer->refuse);
	} else if (cfg->greeting_delay_us > 0) {
		s->phase = SMTP_P_GREET_WAIT;
		s->deadline = now_us + cfg->greeting_delay_us;
	} else {
		s->phase = SMTP_P_CMD;
		smtp_greeting(s);
		smtp_deadline_refresh(s);
	}
	*s_r = s;
	return 0;
}

void smtp_session_destroy(smtp_session_t **sp)
{
	smtp_session_t *s;

	if (sp == NULL || *sp == NULL)
		return;
	s = *sp;
	if (s->msg_open || s->req.kind == SMTP_REQ_DELIVER) {
		/* Logged as aborted; with a DELIVER outstanding the glue may
		 * still commit it, but the client never saw a 250. */
		s->stats->msg_aborted++;
		smtp_txn_finish(s, 0, "", 0);
	}
	smtp_auth_wipe(s);
	sl_buf_free(&s->in);
	sl_buf_free(&s->out);
	sl_buf_free(&s->txn_str);
	free(s->rcpts);
	free(s);
	*sp = NULL;
}

/* ---- output ---- */

static void smtp_vreply(smtp_session_t *s, const char *fmt, va_list ap)
{
	char line[1024];
	int n = vsnprintf(line, sizeof(line) - 2, fmt, ap);

	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 3)
		n = (int)(sizeof(line) - 3);
	line[n++] = '\r';
	line[n++] = '\n';
	/* Input pauses while less than SMTP_REPLY_RESERVE is free, so this only
	 * fails if the glue never drains; the reply is then lost, not truncated. */
	if (sl_buf_append(&s->out, line, (size_t)n) < 0)
		sl_log(SL_LOG_WARN, "smtp", "%s: output full, reply dropped", s->client_ip);
}

void smtp_reply(smtp_session_t *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	smtp_vreply(s, fmt, ap);
	va_end(ap);
}

/* smtp_reply_error - a reply caused by a client error; too many of them end
 * the session (a client that keeps failing is a probe, not a mailer). */
void smtp_reply_error(smtp_session_t *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	smtp_vreply(s, fmt, ap);
	va_end(ap);
	s->errors++;
	s->stats->errors++;
	if (s->errors >= s->cfg->errors_max && s->phase != SMTP_P_CLOSED) {
		s->stats->disconnect_errors++;
		smtp_reply(s, "421 4.7.0 %s Error: too many errors", s->cfg->hostname);
		smtp_close(s);
	}
}

sl_slice_t smtp_session_output(const smtp_session_t *s)
{
	return sl_buf_slice(&s->out);
}

void smtp_close(smtp_session_t *s)
{
	if (s->phase == SMTP_P_CLOSED)
		return;
	if (s->msg_open) {
		s->stats->msg_aborted++;
		smtp_txn_finish(s, 0, "", 0);
	}
	s->phase = SMTP_P_CLOSED;
	s->req.kind = SMTP_REQ_NONE;
	smtp_auth_wipe(s);
	s->in.len = 0;
	s->in_off = 0;
}

bool smtp_session_closing(const smtp_session_t *s)
{
	return s->phase == SMTP_P_CLOSED;
}

/* ---- time ---- */

void smtp_deadline_refresh(smtp_session_t *s)
{
	uint64_t t;

	switch (s->phase) {
	case SMTP_P_GREET_WAIT:
		return; /* fixed at creation */
	case SMTP_P_DATA:
	case SMTP_P_BDAT:
		t = s->cfg->timeout_data_us;
		break;
	default:
		t = s->cfg->timeout_cmd_us;
		break;
	}
	s->deadline = t == 0 ? SL_TIME_NEVER : s->now + t;
}

uint64_t smtp_session_deadline(const smtp_session_t *s)
{
	if (s->phase == SMTP_P_CLOSED || s->req.kind != SMTP_REQ_NONE)
		return SL_TIME_NEVER;
	return s->deadline;
}

/* ---- transaction ---- */

/* smtp_txn_slice - a string of the transaction (never a NULL pointer). */
static sl_slice_t smtp_txn_slice(const smtp_session_t *s, uint32_t off, uint32_t len)
{
	if (s->txn_str.data == NULL || len == 0)
		return sl_slice_make("", 0);
	return sl_slice_make(s->txn_str.data + off, len);
}

int smtp_txn_str_add(smtp_session_t *s, const void *p, size_t n, uint32_t *off_r)
{
	int rc;

	*off_r = (uint32_t)s->txn_str.len;
	rc = sl_buf_append(&s->txn_str, p, n);
	return rc;
}

void smtp_txn_reset(smtp_session_t *s)
{
	if (s->msg_open)
		smtp_msg_abort(s);
	s->txn = SMTP_TXN_NONE;
	s->queue_id[0] = '\0';
	s->queue_id_len = 0;
	sl_buf_reset(&s->txn_str);
	s->from_off = s->from_len = 0;
	s->envid_off = s->envid_len = 0;
	s->ret = SMTP_RET_UNSPEC;
	s->body = SMTP_BODY_UNSPEC;
	s->smtputf8 = false;
	s->size_declared = 0;
	s->nrcpt = 0;
	s->bdat_used = false;
	s->msg_sink_failed = false;
	s->msg_size = 0;
	s->t_mail = s->t_data = 0;
	s->tfail = SMTP_TF_NONE;
	s->bdat_left = 0;
	s->bdat_last = false;
	memset(&s->verdict, 0, sizeof(s->verdict));
}

/* smtp_txn_abandon - RSET semantics: a message that was streaming (BDAT
 * chunks so far) still gets its txlog record, with reply code 0. */
void smtp_txn_abandon(smtp_session_t *s)
{
	if (s->msg_open)
		smtp_txn_finish(s, 0, "", 0);
	else
		smtp_txn_reset(s);
}

/* smtp_session_forget - RFC 3207 §4.2: after TLS starts, nothing learnt in
 * plaintext (HELO, AUTH, the transaction) survives. */
void smtp_session_forget(smtp_session_t *s)
{
	smtp_txn_reset(s);
	s->helo_kind = SMTP_HELO_NONE;
	s->helo[0] = '\0';
	s->helo_len = 0;
	s->authenticated = false;
	s->auth_user[0] = '\0';
	s->auth_user_len = 0;
}

static void smtp_txlog_default(smtp_session_t *s, const struct smtp_txlog *r)
{
	char to[512];
	size_t used = 0;

	to[0] = '\0';
	for (size_t i = 0; i < r->rcpt_count; i++) {
		struct smtp_rcpt rc;
		int n;

		if (smtp_session_rcpt(s, i, &rc) < 0)
			break;
		n = snprintf(to + used, sizeof(to) - used, "%s<%.*s>", i ? "," : "",
			     (int)rc.addr.len, (const char *)rc.addr.ptr);
		if (n < 0 || (size_t)n >= sizeof(to) - used) {
			snprintf(to + used, sizeof(to) - used, ",...");
			break;
		}
		used += (size_t)n;
	}
	sl_log(SL_LOG_INFO, "smtp",
	       "%.*s: client=[%.*s] helo=<%.*s> from=<%.*s> to=%s nrcpt=%zu size=%" PRIu64
	       " verdict=%d reply=\"%.*s\" time=%" PRIu64 "ms",
	       (int)r->queue_id.len, (const char *)r->queue_id.ptr, (int)r->client_ip.len,
	       (const char *)r->client_ip.ptr, (int)r->helo.len, (const char *)r->helo.ptr,
	       (int)r->mail_from.len, (const char *)r->mail_from.ptr, to, r->rcpt_count, r->size,
	       (int)r->verdict, (int)r->reply.len, (const char *)r->reply.ptr,
	       (uint64_t)((r->t_end_us - r->t_mail_us) / SL_US_PER_MS));
}

/* smtp_txn_finish - the transaction that streamed a message is over: log
 * it, release the staged data unless it was handed over, and reset. */
void smtp_txn_finish(smtp_session_t *s, uint16_t code, const char *reply, size_t reply_len)
{
	struct smtp_txlog r;

	if (s->msg_open)
		smtp_msg_abort(s);
	memset(&r, 0, sizeof(r));
	r.queue_id = sl_slice_make(s->queue_id, s->queue_id_len);
	r.client_ip = sl_slice_make(s->client_ip, strlen(s->client_ip));
	r.helo = sl_slice_make(s->helo, s->helo_len);
	r.mail_from = smtp_txn_slice(s, s->from_off, s->from_len);
	r.auth_user = sl_slice_make(s->auth_user, s->auth_user_len);
	r.rcpt_count = s->nrcpt;
	r.size = s->msg_size;
	r.verdict = s->verdict.action;
	r.reply_code = code;
	r.reply = sl_slice_make(reply, reply_len);
	r.t_mail_us = s->t_mail;
	r.t_data_us = s->t_data;
	r.t_end_us = s->now;
	if (s->hooks->txlog)
		s->hooks->txlog(s->hooks->ctx, s, &r);
	else
		smtp_txlog_default(s, &r);
	smtp_txn_reset(s);
}

/* ---- requests ---- */

void smtp_request_issue(smtp_session_t *s, enum smtp_req_kind kind)
{
	s->req.kind = kind;
}

const struct smtp_request *smtp_session_request(const smtp_session_t *s)
{
	return s->req.kind == SMTP_REQ_NONE ? NULL : &s->req;
}

/* ---- input framing ---- */

static bool smtp_runnable(const smtp_session_t *s)
{
	return s->phase != SMTP_P_CLOSED && s->phase != SMTP_P_GREET_WAIT &&
	       s->req.kind == SMTP_REQ_NONE && s->out.max - s->out.len >= SMTP_REPLY_RESERVE;
}

/* smtp_line_step - take one command or SASL line from P. Returns the bytes
 * consumed, 0 if the line is incomplete (and short enough to wait for). */
static size_t smtp_line_step(smtp_session_t *s, const uint8_t *p, size_t n)
{
	size_t limit = s->phase == SMTP_P_SASL ? s->cfg->auth_line_max : s->line_hard_max;
	const uint8_t *lf;
	size_t len;

	if (s->skipping) {
		lf = memchr(p, '\n', n);
		if (lf == NULL)
			return n;
		s->skipping = false;
		s->stats->line_too_long++;
		smtp_reply_error(s, "500 5.5.2 Error: line too long");
		if (s->phase == SMTP_P_SASL) {
			smtp_auth_wipe(s);
			s->phase = SMTP_P_CMD;
		}
		return (size_t)(lf - p) + 1;
	}
	if (s->scan_off > n)
		s->scan_off = 0;
	lf = memchr(p + s->scan_off, '\n', n - s->scan_off);
	if (lf == NULL) {
		if (n + 1 > limit) {
			/* Longer than any legal line: drop it as it comes, answer at
			 * its end, never buffer it (§4.5.3.1.10). */
			s->skipping = true;
			s->scan_off = 0;
			return n;
		}
		s->scan_off = n;
		return 0;
	}
	s->scan_off = 0;
	len = (size_t)(lf - p);
	if (len + 1 > limit) {
		s->stats->line_too_long++;
		smtp_reply_error(s, "500 5.5.2 Error: line too long");
		if (s->phase == SMTP_P_SASL) {
			smtp_auth_wipe(s);
			s->phase = SMTP_P_CMD;
		}
		return len + 1;
	}
	if (len > 0 && p[len - 1] == '\r') {
		len--;
	} else {
		/* A bare LF ends nothing in strict mode: the line is refused as a
		 * whole, so "MAIL...\nRCPT..." cannot be read two ways. */
		s->stats->bare_eol++;
		if (s->cfg->eol_mode == SMTP_EOL_STRICT) {
			smtp_reply_error(s,
					 "500 5.5.2 Error: bare <LF> received; lines must end with <CR><LF>");
			if (s->phase == SMTP_P_SASL) {
				smtp_auth_wipe(s);
				s->phase = SMTP_P_CMD;
			}
			return len + 1;
		}
	}
	s->stats->commands++;
	if (s->phase == SMTP_P_SASL)
		smtp_auth_response(s, p, len);
	else
		smtp_cmd_line(s, p, len);
	return (size_t)(lf - p) + 1;
}

/* smtp_process - run the state machine over P while it can make progress.
 * Returns the bytes consumed; the rest must be kept for later. */
static size_t smtp_process(smtp_session_t *s, const uint8_t *p, size_t n)
{
	size_t off = 0, k;

	while (off < n && smtp_runnable(s)) {
		switch (s->phase) {
		case SMTP_P_CMD:
		case SMTP_P_SASL:
			k = smtp_line_step(s, p + off, n - off);
			break;
		case SMTP_P_DATA:
			k = smtp_data_feed(s, p + off, n - off);
			break;
		case SMTP_P_BDAT:
			k = smtp_bdat_feed(s, p + off, n - off);
			break;
		default:
			k = 0;
			break;
		}
		if (k == 0)
			break;
		off += k;
	}
	return off;
}

static size_t smtp_in_pending(const smtp_session_t *s)
{
	return s->in.len - s->in_off;
}

/* smtp_starttls_discard - CVE-2011-0411: whatever followed STARTTLS in
 * plaintext is thrown away, never read as a command after the upgrade. */
static void smtp_starttls_discard(smtp_session_t *s)
{
	if (s->req.kind != SMTP_REQ_STARTTLS)
		return;
	s->stats->plaintext_discarded += smtp_in_pending(s);
	s->in.len = 0;
	s->in_off = 0;
	s->scan_off = 0;
	s->skipping = false;
}

/* smtp_pump - process what the input buffer holds. */
static bool smtp_pump(smtp_session_t *s)
{
	size_t n;

	if (smtp_in_pending(s) == 0 || !smtp_runnable(s))
		return false;
	n = smtp_process(s, s->in.data + s->in_off, smtp_in_pending(s));
	if (s->phase == SMTP_P_CLOSED)
		return n > 0;
	s->in_off += n;
	smtp_starttls_discard(s);
	if (s->in_off == s->in.len) {
		s->in.len = 0;
		s->in_off = 0;
	}
	return n > 0;
}

static void smtp_in_compact(smtp_session_t *s)
{
	if (s->in_off > 0) {
		sl_buf_consume(&s->in, s->in_off);
		s->in_off = 0;
	}
}

int smtp_session_input(smtp_session_t *s, uint64_t now_us, const void *data, size_t len,
		       size_t *consumed_r)
{
	const uint8_t *p = data;
	size_t used = 0;

	*consumed_r = 0;
	s->now = now_us;
	if (s->phase == SMTP_P_CLOSED) {
		*consumed_r = len;
		return SL_ECLOSED;
	}
	if (len == 0)
		return 0;
	if (s->phase == SMTP_P_GREET_WAIT) {
		/* RFC 5321 §4.3.1: the client waits for the greeting. One that
		 * talks first is a bot that does not read replies. */
		s->stats->pregreet++;
		smtp_reply(s, "554 5.5.1 %s Error: protocol error, talked before greeting",
			   s->cfg->hostname);
		smtp_close(s);
		*consumed_r = len;
		return SL_ECLOSED;
	}
	if (s->req.kind == SMTP_REQ_STARTTLS) {
		s->stats->plaintext_discarded += len;
		*consumed_r = len;
		return 0;
	}
	for (;;) {
		size_t n, room, take;
		bool pumped;

		if (s->phase == SMTP_P_CLOSED || s->req.kind == SMTP_REQ_STARTTLS) {
			if (s->req.kind == SMTP_REQ_STARTTLS)
				s->stats->plaintext_discarded += len;
			used += len;
			len = 0;
			break;
		}
		if (len == 0) {
			if (!smtp_pump(s))
				break;
			continue;
		}
		if (smtp_in_pending(s) == 0 && smtp_runnable(s)) {
			/* Fast path: straight from the caller's bytes. */
			n = smtp_process(s, p, len);
			p += n;
			len -= n;
			used += n;
			if (len == 0 || s->phase == SMTP_P_CLOSED || s->req.kind == SMTP_REQ_STARTTLS)
				continue;
		}
		/* An incomplete line, or we are waiting: keep what fits. */
		smtp_in_compact(s);
		room = s->in.max - s->in.len;
		take = len < room ? len : room;
		if (take > 0 && sl_buf_append(&s->in, p, take) == 0) {
			p += take;
			len -= take;
			used += take;
		} else {
			take = 0;
		}
		pumped = smtp_pump(s);
		if (take == 0 && !pumped)
			break;
	}
	*consumed_r = used;
	if (used > 0)
		smtp_deadline_refresh(s);
	return s->phase == SMTP_P_CLOSED ? SL_ECLOSED : 0;
}

/* smtp_resume - after a completion or a drain, go on with buffered input. */
static int smtp_resume(smtp_session_t *s)
{
	while (smtp_pump(s))
		;
	if (s->phase != SMTP_P_CLOSED && s->req.kind == SMTP_REQ_NONE)
		smtp_deadline_refresh(s);
	return s->phase == SMTP_P_CLOSED ? SL_ECLOSED : 0;
}

int smtp_session_output_consume(smtp_session_t *s, uint64_t now_us, size_t n)
{
	s->now = now_us;
	sl_buf_consume(&s->out, n);
	if (s->phase == SMTP_P_CLOSED)
		return SL_ECLOSED;
	while (smtp_pump(s))
		;
	return s->phase == SMTP_P_CLOSED ? SL_ECLOSED : 0;
}

int smtp_session_timeout(smtp_session_t *s, uint64_t now_us)
{
	s->now = now_us;
	if (s->phase == SMTP_P_CLOSED)
		return SL_ECLOSED;
	if (now_us < smtp_session_deadline(s))
		return 0;
	if (s->phase == SMTP_P_GREET_WAIT) {
		s->phase = SMTP_P_CMD;
		smtp_greeting(s);
		smtp_deadline_refresh(s);
		return 0;
	}
	s->stats->timeouts++;
	smtp_reply(s, "421 4.4.2 %s Error: timeout exceeded", s->cfg->hostname);
	smtp_close(s);
	return SL_ECLOSED;
}

void smtp_session_shutdown(smtp_session_t *s, uint64_t now_us, const char *text)
{
	s->now = now_us;
	if (s->phase == SMTP_P_CLOSED)
		return;
	smtp_reply(s, "421 4.3.2 %s %s", s->cfg->hostname, text ? text : "Service shutting down");
	smtp_close(s);
}

/* ---- completions ---- */

int smtp_session_rcpt_done(smtp_session_t *s, uint64_t now_us, enum smtp_rcpt_status st)
{
	struct smtp_rcpt_pending *rp = &s->rp;
	struct smtp_rcpt_rec *r;
	enum smtp_rcpt_class klass = SMTP_RCPT_CLASS_LOCAL;

	s->now = now_us;
	if (s->req.kind != SMTP_REQ_RCPT)
		return s->phase == SMTP_P_CLOSED ? SL_ECLOSED : SL_ESTATE;
	s->req.kind = SMTP_REQ_NONE;
	switch (st) {
	case SMTP_RCPT_LOCAL:
		break;
	case SMTP_RCPT_NONLOCAL:
		if (!s->authenticated) {
			s->stats->rcpt_relay_denied++;
			smtp_reply_error(s, "554 5.7.1 <%.*s>: Relay access denied", (int)rp->addr_len,
					 rp->addr);
			return smtp_resume(s);
		}
		klass = SMTP_RCPT_CLASS_RELAY;
		break;
	case SMTP_RCPT_UNKNOWN:
		s->stats->rcpt_unknown++;
		smtp_reply_error(s,
				 "550 5.1.1 <%.*s>: Recipient address rejected: User unknown in local recipient table",
				 (int)rp->addr_len, rp->addr);
		return smtp_resume(s);
	case SMTP_RCPT_OVERQUOTA:
		s->stats->rcpt_tempfail++;
		smtp_reply(s, "452 4.2.2 <%.*s>: Mailbox full", (int)rp->addr_len, rp->addr);
		return smtp_resume(s);
	case SMTP_RCPT_TEMPFAIL:
	default:
		s->stats->rcpt_tempfail++;
		smtp_reply(s, "451 4.3.0 <%.*s>: Temporary lookup failure, try again later",
			   (int)rp->addr_len, rp->addr);
		return smtp_resume(s);
	}
	if (s->rcpts == NULL) {
		s->rcpts = calloc(s->cfg->rcpt_max, sizeof(*s->rcpts));
		if (s->rcpts == NULL)
			goto fail;
	}
	r = &s->rcpts[s->nrcpt];
	memset(r, 0, sizeof(*r));
	if (smtp_txn_str_add(s, rp->addr, rp->addr_len, &r->addr_off) < 0)
		goto fail;
	r->addr_len = (uint32_t)rp->addr_len;
	if (smtp_txn_str_add(s, rp->orcpt, rp->orcpt_len, &r->orcpt_off) < 0)
		goto fail;
	r->orcpt_len = (uint32_t)rp->orcpt_len;
	r->notify = (uint8_t)rp->notify;
	r->klass = (uint8_t)klass;
	s->nrcpt++;
	s->txn = SMTP_TXN_RCPT;
	s->stats->rcpt_accepted++;
	smtp_reply(s, "250 2.1.5 Ok");
	return smtp_resume(s);
fail:
	s->stats->rcpt_tempfail++;
	smtp_reply(s, "452 4.3.1 Insufficient system resources");
	return smtp_resume(s);
}

int smtp_session_auth_done(smtp_session_t *s, uint64_t now_us, enum smtp_auth_status st,
			   const char *user_display)
{
	const struct smtp_request *rq = &s->req;

	s->now = now_us;
	if (s->req.kind != SMTP_REQ_AUTH)
		return s->phase == SMTP_P_CLOSED ? SL_ECLOSED : SL_ESTATE;
	s->req.kind = SMTP_REQ_NONE;
	switch (st) {
	case SMTP_AUTH_OK:
		s->authenticated = true;
		if (user_display != NULL) {
			smtp_copy_str(s->auth_user, sizeof(s->auth_user), user_display);
			s->auth_user_len = strlen(s->auth_user);
		} else {
			size_t n = rq->u.auth.authcid.len;

			if (n >= sizeof(s->auth_user))
				n = sizeof(s->auth_user) - 1;
			memcpy(s->auth_user, rq->u.auth.authcid.ptr, n);
			s->auth_user[n] = '\0';
			s->auth_user_len = n;
		}
		s->stats->auth_success++;
		smtp_reply(s, "235 2.7.0 Authentication successful");
		break;
	case SMTP_AUTH_TEMPFAIL:
		smtp_reply(s, "454 4.7.0 Temporary authentication failure");
		break;
	case SMTP_AUTH_FAIL:
	default:
		s->stats->auth_failure++;
		s->auth_failures++;
		if (s->auth_failures >= s->cfg->auth_failures_max) {
			/* RFC 4954 §4: a server may close after repeated failures;
			 * per-IP lockout across sessions is the glue's business. */
			s->stats->auth_lockout++;
			smtp_reply(s, "535 5.7.8 Error: authentication failed");
			smtp_reply(s, "421 4.7.0 %s Error: too many authentication failures",
				   s->cfg->hostname);
			smtp_auth_wipe(s);
			smtp_close(s);
			return SL_ECLOSED;
		}
		smtp_reply_error(s, "535 5.7.8 Error: authentication failed");
		break;
	}
	smtp_auth_wipe(s);
	return smtp_resume(s);
}

int smtp_session_deliver_done(smtp_session_t *s, uint64_t now_us, enum smtp_deliver_status st,
			      const char *detail)
{
	char line[512];
	uint16_t code;
	int n;

	s->now = now_us;
	if (s->req.kind != SMTP_REQ_DELIVER)
		return s->phase == SMTP_P_CLOSED ? SL_ECLOSED : SL_ESTATE;
	s->req.kind = SMTP_REQ_NONE;
	switch (st) {
	case SMTP_DELIVER_OK:
		/* §6.1 / DESIGN.md: only now is the message durable. */
		code = 250;
		s->stats->msg_accepted++;
		n = snprintf(line, sizeof(line), "250 2.0.0 Ok: queued as %s", s->queue_id);
		break;
	case SMTP_DELIVER_NOSPACE:
		code = 452;
		s->stats->msg_tempfail++;
		n = snprintf(line, sizeof(line), "452 4.3.1 Insufficient system storage%s%s",
			     detail ? ": " : "", detail ? detail : "");
		break;
	case SMTP_DELIVER_PERMFAIL:
		code = 554;
		s->stats->msg_rejected++;
		n = snprintf(line, sizeof(line), "554 5.3.0 Transaction failed%s%s",
			     detail ? ": " : "", detail ? detail : "");
		break;
	case SMTP_DELIVER_TEMPFAIL:
	default:
		code = 451;
		s->stats->msg_tempfail++;
		n = snprintf(line, sizeof(line), "451 4.3.0 Temporary failure, try again later%s%s",
			     detail ? ": " : "", detail ? detail : "");
		break;
	}
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(line))
		n = sizeof(line) - 1;
	/* The detail comes from the glue; keep the reply one clean line. */
	for (int i = 0; i < n; i++)
		if (line[i] == '\r' || line[i] == '\n')
			line[i] = ' ';
	smtp_reply(s, "%s", line);
	smtp_txn_finish(s, code, line, (size_t)n);
	return smtp_resume(s);
}

int smtp_session_tls_done(smtp_session_t *s, uint64_t now_us, bool ok)
{
	s->now = now_us;
	if (s->req.kind != SMTP_REQ_STARTTLS)
		return s->phase == SMTP_P_CLOSED ? SL_ECLOSED : SL_ESTATE;
	s->req.kind = SMTP_REQ_NONE;
	/* Anything that slipped into the buffer is plaintext: drop it. */
	s->stats->plaintext_discarded += smtp_in_pending(s);
	s->in.len = 0;
	s->in_off = 0;
	s->scan_off = 0;
	s->skipping = false;
	if (!ok) {
		smtp_close(s);
		return SL_ECLOSED;
	}
	s->tls = true;
	s->stats->starttls++;
	smtp_session_forget(s);
	smtp_deadline_refresh(s);
	return 0;
}

/* ---- accessors ---- */

void smtp_session_envelope(const smtp_session_t *s, struct smtp_envelope *e)
{
	memset(e, 0, sizeof(*e));
	e->queue_id = sl_slice_make(s->queue_id, s->queue_id_len);
	e->helo = sl_slice_make(s->helo, s->helo_len);
	e->mail_from = smtp_txn_slice(s, s->from_off, s->from_len);
	e->envid = smtp_txn_slice(s, s->envid_off, s->envid_len);
	e->auth_user = sl_slice_make(s->auth_user, s->auth_user_len);
	e->client_ip = sl_slice_make(s->client_ip, strlen(s->client_ip));
	e->ret = s->ret;
	e->body = s->body;
	e->smtputf8 = s->smtputf8;
	e->tls = s->tls;
	e->size_declared = s->size_declared;
	e->size = s->msg_size;
	e->rcpt_count = s->nrcpt;
}

int smtp_session_rcpt(const smtp_session_t *s, size_t i, struct smtp_rcpt *r)
{
	const struct smtp_rcpt_rec *rec;

	if (i >= s->nrcpt)
		return SL_ENOENT;
	rec = &s->rcpts[i];
	r->addr = smtp_txn_slice(s, rec->addr_off, rec->addr_len);
	r->orcpt = smtp_txn_slice(s, rec->orcpt_off, rec->orcpt_len);
	r->notify = rec->notify;
	r->klass = (enum smtp_rcpt_class)rec->klass;
	return 0;
}

bool smtp_session_tls_active(const smtp_session_t *s)
{
	return s->tls;
}

int smtp_session_set_tls_info(smtp_session_t *s, const char *version, const char *cipher)
{
	if (!s->tls)
		return SL_ESTATE;
	snprintf(s->tls_desc, sizeof(s->tls_desc), "%.47s with cipher %.47s",
		 version ? version : "TLS", cipher ? cipher : "unknown");
	/* Peer strings go into a header: keep them to one printable token. */
	for (char *c = s->tls_desc; *c; c++)
		if ((unsigned char)*c < 0x21 || (unsigned char)*c > 0x7e || *c == '(' || *c == ')')
			if (*c != ' ')
				*c = '_';
	return 0;
}

bool smtp_session_authenticated(const smtp_session_t *s)
{
	return s->authenticated;
}
