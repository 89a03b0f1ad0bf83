/* pop3_session - session lifecycle, input framing, output, requests,
 * completions and time.
 *
 * Input is processed straight from the caller's bytes when nothing is
 * buffered; only an incomplete line, or bytes that arrive while the engine
 * waits (a request, a multi-line reply still streaming, a full output, a
 * failed-login delay), are copied into the bounded input buffer. */
#include "pop3_private.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sl_err.h"
#include "sl_log.h"
#include "sl_stats.h"
#include "sl_time.h"

void pop3_config_defaults(struct pop3_config *c)
{
	memset(c, 0, sizeof(*c));
	c->cmd_line_max = 512;
	c->auth_line_max = 12288;
	c->errors_max = 10;
	c->auth_failures_max = 3;
	c->msgs_max = 100000;
	c->pipeline_max = 16384;
	c->output_max = 128 * 1024;
	c->fetch_max = 32 * 1024;
	c->auth_fail_delay_us = 1 * SL_US_PER_S;
	c->timeout_auth_us = 60 * SL_US_PER_S;
	c->timeout_us = 600 * SL_US_PER_S;
}

#define POP3_STAT(name) SL_STAT(struct pop3_stats, name)
static const sl_stat_field_t pop3_stat_fields[] = {
	POP3_STAT(sessions),      POP3_STAT(commands),          POP3_STAT(errors),
	POP3_STAT(disconnect_errors), POP3_STAT(timeouts),      POP3_STAT(line_too_long),
	POP3_STAT(auth_success),  POP3_STAT(auth_failure),      POP3_STAT(auth_tempfail),
	POP3_STAT(auth_lockout),  POP3_STAT(in_use),            POP3_STAT(maildrop_tempfail),
	POP3_STAT(logins),        POP3_STAT(retr),              POP3_STAT(top),
	POP3_STAT(dele),          POP3_STAT(bytes_sent),        POP3_STAT(fetch_errors),
	POP3_STAT(updates),       POP3_STAT(update_failed),     POP3_STAT(msgs_expunged),
	POP3_STAT(stls),          POP3_STAT(plaintext_discarded),
};
_Static_assert(SL_STAT_COUNT(pop3_stat_fields) ==
		       sizeof(struct pop3_stats) / sizeof(uint64_t),
	       "every pop3_stats counter has a name");

void pop3_stats_add(struct pop3_stats *dst, const struct pop3_stats *src)
{
	sl_stats_add(pop3_stat_fields, SL_STAT_COUNT(pop3_stat_fields), dst, src);
}

int pop3_stats_format(const struct pop3_stats *st, sl_buf_t *out)
{
	return sl_stats_format("pop3", pop3_stat_fields, SL_STAT_COUNT(pop3_stat_fields), st, out);
}

static bool pop3_config_ok(const struct pop3_config *c)
{
	if (c == NULL || c->hostname == NULL || c->hostname[0] == '\0' ||
	    strlen(c->hostname) > 255)
		return false;
	/* RFC 2449 §4: command lines up to 255 octets must be accepted. */
	if (c->cmd_line_max < 255 || c->cmd_line_max > 65536 || c->auth_line_max < 255 ||
	    c->auth_line_max > 65536 || c->errors_max < 1 || c->auth_failures_max < 1 ||
	    c->msgs_max < 1 || c->msgs_max > (1u << 24) || c->pipeline_max > (1u << 24) ||
	    c->fetch_max < 512 || c->fetch_max > (1u << 24))
		return false;
	if ((uint64_t)c->output_max < 2 * (uint64_t)c->fetch_max + 4096)
		return false;
	return true;
}

int pop3_session_create(const struct pop3_config *cfg, const struct pop3_peer *peer,
			uint64_t now_us, pop3_session_t **s_r)
{
	pop3_session_t *s;
	size_t n;

	*s_r = NULL;
	if (!pop3_config_ok(cfg) || peer == NULL || peer->client_ip == NULL)
		return SL_EINVAL;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return SL_ENOMEM;
	s->cfg = cfg;
	s->stats = cfg->stats ? cfg->stats : &s->stats_dummy;
	n = strlen(peer->client_ip);
	if (n >= sizeof(s->client_ip))
		n = sizeof(s->client_ip) - 1;
	memcpy(s->client_ip, peer->client_ip, n);
	s->conn_id = peer->conn_id;
	s->tls = peer->tls_active;
	s->now = now_us;
	s->last_active = now_us;
	s->state = POP3_S_AUTH;
	s->line_hard_max =
		cfg->cmd_line_max > cfg->auth_line_max ? cfg->cmd_line_max : cfg->auth_line_max;
	sl_buf_init(&s->in, s->line_hard_max + 1 + cfg->pipeline_max);
	sl_buf_init(&s->out, cfg->output_max);
	sl_buf_init(&s->uids, (size_t)cfg->msgs_max * POP3_UID_MAX);
	s->stats->sessions++;
	pop3_greeting(s);
	s->greeting_len = s->out.len;
	*s_r = s;
	return 0;
}

void pop3_maildrop_drop(pop3_session_t *s)
{
	free(s->msgs);
	s->msgs = NULL;
	s->nmsgs = 0;
	s->msgs_cap = 0;
	sl_buf_free(&s->uids);
	s->total_size = 0;
	s->ndeleted = 0;
	s->deleted_size = 0;
	free(s->update_ids);
	s->update_ids = NULL;
}

void pop3_session_destroy(pop3_session_t **sp)
{
	pop3_session_t *s;

	if (sp == NULL || *sp == NULL)
		return;
	s = *sp;
	pop3_cred_wipe(s);
	pop3_maildrop_drop(s);
	sl_buf_free(&s->in);
	sl_buf_free(&s->out);
	free(s);
	*sp = NULL;
}

/* ---- output ---- */

size_t pop3_out_room(const pop3_session_t *s)
{
	return s->out.max - s->out.len;
}

void pop3_out(pop3_session_t *s, const void *p, size_t n)
{
	/* Callers check the room first; a failure here is our bug, and the
	 * bytes are lost rather than truncated. */
	if (sl_buf_append(&s->out, p, n) < 0)
		sl_log(SL_LOG_WARN, "pop3", "%s: output full, %zu bytes dropped", s->client_ip, n);
}

static void pop3_vreply(pop3_session_t *s, const char *fmt, va_list ap)
{
	char line[600];
	int n = vsnprintf(line, sizeof(line) - 2, fmt, ap);

	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 3)
		n = (int)(sizeof(line) - 3);
	line[n++] = '\r';
	line[n++] = '\n';
	pop3_out(s, line, (size_t)n);
}

void pop3_reply(pop3_session_t *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pop3_vreply(s, fmt, ap);
	va_end(ap);
}

/* pop3_reply_error - a reply caused by a client error; too many of them
 * end the session (a client that keeps failing is a probe). */
void pop3_reply_error(pop3_session_t *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pop3_vreply(s, fmt, ap);
	va_end(ap);
	s->errors++;
	s->stats->errors++;
	if (s->errors >= s->cfg->errors_max && s->state != POP3_S_CLOSED) {
		s->stats->disconnect_errors++;
		pop3_reply(s, "-ERR Too many errors, closing connection");
		pop3_close(s);
	}
}

sl_slice_t pop3_session_output(const pop3_session_t *s)
{
	return sl_buf_slice(&s->out);
}

void pop3_close(pop3_session_t *s)
{
	s->state = POP3_S_CLOSED;
	s->req.kind = POP3_REQ_NONE;
	s->st.kind = POP3_ST_NONE;
	s->delaying = false;
	s->in_sasl = false;
	pop3_cred_wipe(s);
	s->in.len = 0;
	s->in_off = 0;
}

bool pop3_session_closing(const pop3_session_t *s)
{
	return s->state == POP3_S_CLOSED;
}

void pop3_request_issue(pop3_session_t *s, enum pop3_req_kind kind)
{
	s->req.kind = kind;
}

const struct pop3_request *pop3_session_request(const pop3_session_t *s)
{
	return s->req.kind == POP3_REQ_NONE ? NULL : &s->req;
}

void pop3_cred_wipe(pop3_session_t *s)
{
	explicit_bzero(s->cred, sizeof(s->cred));
	s->cred_len = 0;
	if (s->req.kind == POP3_REQ_AUTH || s->req.kind == POP3_REQ_NONE)
		memset(&s->req.u.auth, 0, sizeof(s->req.u.auth));
}

/* ---- input framing ---- */

static bool pop3_runnable(const pop3_session_t *s)
{
	return s->state != POP3_S_CLOSED && s->req.kind == POP3_REQ_NONE && !s->delaying &&
	       !pop3_streaming(s) && pop3_out_room(s) >= POP3_REPLY_RESERVE;
}

static void pop3_line_too_long(pop3_session_t *s)
{
	s->stats->line_too_long++;
	if (s->in_sasl) {
		s->in_sasl = false;
		pop3_cred_wipe(s);
	}
	pop3_reply_error(s, "-ERR Line too long");
}

/* pop3_line_step - take one command or SASL line from P. Returns the bytes
 * consumed, 0 if the line is incomplete and short enough to wait for. A
 * line may end in CRLF or a bare LF (POP3 has no smuggling hazard that a
 * bare LF would open); a CR anywhere else is refused by the parser. */
static size_t pop3_line_step(pop3_session_t *s, const uint8_t *p, size_t n)
{
	size_t limit = s->in_sasl ? s->cfg->auth_line_max : s->line_hard_max;
	const uint8_t *lf;
	size_t len;

	if (s->skipping) {
		lf = memchr(p, '\n', n);
		if (lf == NULL)
			return n;
		s->skipping = false;
		pop3_line_too_long(s);
		return (size_t)(lf - p) + 1;
	}
	if (s->scan_off > n)
		s->scan_off = 0;
	lf = memchr(p + s->scan_off, '\n', n - s->scan_off);
	if (lf == NULL) {
		if (n + 1 > limit) {
			/* Longer than any legal line: drop it as it comes and
			 * answer at its end; never buffer it. */
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
		pop3_line_too_long(s);
		return len + 1;
	}
	if (len > 0 && p[len - 1] == '\r')
		len--;
	s->stats->commands++;
	if (s->in_sasl)
		pop3_sasl_line(s, p, len);
	else
		pop3_cmd_line(s, p, len);
	return (size_t)(lf - p) + 1;
}

/* pop3_process - run commands from P while the engine can; between
 * commands, a multi-line reply that a command started gets produced. */
static size_t pop3_process(pop3_session_t *s, const uint8_t *p, size_t n)
{
	size_t off = 0, k;

	while (off < n) {
		if (pop3_streaming(s))
			pop3_stream_pump(s);
		if (!pop3_runnable(s))
			break;
		k = pop3_line_step(s, p + off, n - off);
		if (k == 0)
			break;
		off += k;
	}
	if (pop3_streaming(s))
		pop3_stream_pump(s);
	return off;
}

static size_t pop3_in_pending(const pop3_session_t *s)
{
	return s->in.len - s->in_off;
}

/* pop3_discard_plaintext - RFC 2595 §4 and CVE-2011-0411: whatever the
 * client sent after STLS in plaintext is never read as a command. */
static void pop3_discard_plaintext(pop3_session_t *s)
{
	s->stats->plaintext_discarded += pop3_in_pending(s);
	s->in.len = 0;
	s->in_off = 0;
	s->scan_off = 0;
	s->skipping = false;
}

/* pop3_pump - process what the input buffer holds. */
static bool pop3_pump(pop3_session_t *s)
{
	size_t n;

	if (pop3_in_pending(s) == 0 || !pop3_runnable(s))
		return false;
	n = pop3_process(s, s->in.data + s->in_off, pop3_in_pending(s));
	if (s->state == POP3_S_CLOSED)
		return n > 0;
	s->in_off += n;
	if (s->req.kind == POP3_REQ_STLS)
		pop3_discard_plaintext(s);
	if (s->in_off == s->in.len) {
		s->in.len = 0;
		s->in_off = 0;
	}
	return n > 0;
}

static void pop3_in_compact(pop3_session_t *s)
{
	if (s->in_off > 0) {
		sl_buf_consume(&s->in, s->in_off);
		s->in_off = 0;
	}
}

/* pop3_resume - after a completion, a drain or a timer: go on with the
 * reply being streamed and with buffered input, while either progresses. */
static int pop3_resume(pop3_session_t *s)
{
	for (;;) {
		bool progress = false;

		if (s->state == POP3_S_CLOSED)
			break;
		if (pop3_streaming(s) && pop3_stream_pump(s))
			progress = true;
		if (pop3_pump(s))
			progress = true;
		if (!progress)
			break;
	}
	return s->state == POP3_S_CLOSED ? SL_ECLOSED : 0;
}

int pop3_session_input(pop3_session_t *s, uint64_t now_us, const void *data, size_t len,
		       size_t *consumed_r)
{
	const uint8_t *p = data;
	size_t used = 0;

	*consumed_r = 0;
	s->now = now_us;
	if (s->state == POP3_S_CLOSED) {
		*consumed_r = len;
		return SL_ECLOSED;
	}
	if (len == 0)
		return 0;
	for (;;) {
		size_t n, room, take;
		bool pumped;

		if (s->state == POP3_S_CLOSED || s->req.kind == POP3_REQ_STLS) {
			if (s->req.kind == POP3_REQ_STLS)
				s->stats->plaintext_discarded += len;
			used += len;
			len = 0;
			break;
		}
		if (len == 0) {
			if (!pop3_pump(s))
				break;
			continue;
		}
		if (pop3_in_pending(s) == 0 && pop3_runnable(s)) {
			/* Fast path: straight from the caller's bytes. */
			n = pop3_process(s, p, len);
			p += n;
			len -= n;
			used += n;
			if (len == 0 || s->state == POP3_S_CLOSED || s->req.kind == POP3_REQ_STLS)
				continue;
		}
		/* An incomplete line, or we are waiting: keep what fits. */
		pop3_in_compact(s);
		room = s->in.max - s->in.len;
		take = len < room ? len : room;
		if (take > 0 && sl_buf_append(&s->in, p, take) == 0) {
			p += take;
			len -= take;
			used += take;
		} else {
			take = 0;
		}
		pumped = pop3_pump(s);
		if (take == 0 && !pumped)
			break;
	}
	*consumed_r = used;
	if (used > 0)
		s->last_active = now_us;
	return s->state == POP3_S_CLOSED ? SL_ECLOSED : 0;
}

int pop3_session_output_consume(pop3_session_t *s, uint64_t now_us, size_t n)
{
	s->now = now_us;
	if (n > 0) {
		s->last_active = now_us;
		s->greeting_len = 0;
	}
	sl_buf_consume(&s->out, n);
	if (s->state == POP3_S_CLOSED)
		return SL_ECLOSED;
	return pop3_resume(s);
}

/* ---- time ---- */

uint64_t pop3_session_deadline(const pop3_session_t *s)
{
	uint64_t t;

	if (s->state == POP3_S_CLOSED || s->req.kind != POP3_REQ_NONE)
		return SL_TIME_NEVER;
	if (s->delaying)
		return s->delay_until;
	/* A short leash before login: pre-auth connections are cheap to open. */
	t = s->state == POP3_S_AUTH ? s->cfg->timeout_auth_us : s->cfg->timeout_us;
	return s->last_active + t;
}

int pop3_session_timeout(pop3_session_t *s, uint64_t now_us)
{
	s->now = now_us;
	if (s->state == POP3_S_CLOSED)
		return SL_ECLOSED;
	if (now_us < pop3_session_deadline(s))
		return 0;
	if (s->delaying) {
		s->delaying = false;
		s->last_active = now_us;
		pop3_reply(s, "-ERR [AUTH] Authentication failed");
		return pop3_resume(s);
	}
	/* RFC 1939 §3: an autologout timer ends the session without UPDATE. */
	s->stats->timeouts++;
	if (!pop3_streaming(s))
		pop3_reply(s, "-ERR Disconnected for inactivity");
	pop3_close(s);
	return SL_ECLOSED;
}

void pop3_session_shutdown(pop3_session_t *s, uint64_t now_us, const char *text)
{
	s->now = now_us;
	if (s->state == POP3_S_CLOSED)
		return;
	/* A session shut down before its "+OK ... ready" went out (refused at
	 * accept for the per-IP cap, or drained during a 995 handshake) must
	 * not greet and refuse in one breath: the -ERR replaces the greeting. */
	if (s->greeting_len > 0 && s->out.len == s->greeting_len)
		sl_buf_reset(&s->out);
	s->greeting_len = 0;
	/* Inside a multi-line reply a status line would read as content. */
	if (!pop3_streaming(s))
		pop3_reply(s, "-ERR [SYS/TEMP] %s", text ? text : "Server shutting down");
	pop3_close(s);
}

/* ---- completions ---- */

static int pop3_not_pending(const pop3_session_t *s)
{
	return s->state == POP3_S_CLOSED ? SL_ECLOSED : SL_ESTATE;
}

int pop3_session_auth_done(pop3_session_t *s, uint64_t now_us, enum pop3_auth_status st,
			   const char *user_display)
{
	const struct pop3_request *rq = &s->req;
	size_t n;

	s->now = now_us;
	s->last_active = now_us;
	if (s->req.kind != POP3_REQ_AUTH)
		return pop3_not_pending(s);
	s->req.kind = POP3_REQ_NONE;
	s->user_set = false;
	switch (st) {
	case POP3_AUTH_OK:
		if (user_display != NULL) {
			n = strlen(user_display);
			if (n > POP3_USER_MAX)
				n = POP3_USER_MAX;
			memcpy(s->auth_user, user_display, n);
		} else {
			n = rq->u.auth.authcid.len;
			if (n > POP3_USER_MAX)
				n = POP3_USER_MAX;
			memcpy(s->auth_user, rq->u.auth.authcid.ptr, n);
		}
		s->auth_user[n] = '\0';
		s->auth_user_len = n;
		s->stats->auth_success++;
		pop3_cred_wipe(s);
		/* Now the maildrop: lock and list (RFC 1939 §4 "acquire an
		 * exclusive-access lock on the maildrop"). */
		s->req.u.maildrop.user = sl_slice_make(s->auth_user, s->auth_user_len);
		pop3_request_issue(s, POP3_REQ_MAILDROP);
		return 0;
	case POP3_AUTH_TEMPFAIL:
		pop3_cred_wipe(s);
		s->stats->auth_tempfail++;
		pop3_reply(s, "-ERR [SYS/TEMP] Temporary authentication failure");
		break;
	case POP3_AUTH_FAIL:
	default:
		pop3_cred_wipe(s);
		s->stats->auth_failure++;
		s->auth_failures++;
		if (s->auth_failures >= s->cfg->auth_failures_max) {
			s->stats->auth_lockout++;
			pop3_reply(s, "-ERR [AUTH] Authentication failed, closing connection");
			pop3_close(s);
			return SL_ECLOSED;
		}
		if (s->cfg->auth_fail_delay_us > 0) {
			/* The -ERR is held: a password guesser gets one try per
			 * delay, growing with each failure; input waits. */
			s->delaying = true;
			s->delay_until = now_us + s->cfg->auth_fail_delay_us * s->auth_failures;
			return 0;
		}
		pop3_reply(s, "-ERR [AUTH] Authentication failed");
		break;
	}
	return pop3_resume(s);
}

static bool pop3_uid_valid(sl_slice_t uid)
{
	if (uid.len < 1 || uid.len > POP3_UID_MAX)
		return false;
	for (size_t i = 0; i < uid.len; i++)
		if (uid.ptr[i] < 0x21 || uid.ptr[i] > 0x7e)
			return false;
	return true;
}

int pop3_session_msg_add(pop3_session_t *s, uint64_t id, uint64_t size, sl_slice_t uid)
{
	struct pop3_msg *m;
	size_t off;

	if (s->req.kind != POP3_REQ_MAILDROP)
		return SL_ESTATE;
	if (!pop3_uid_valid(uid))
		return SL_EINVAL;
	if (s->nmsgs >= s->cfg->msgs_max)
		return SL_ELIMIT;
	if (s->nmsgs == s->msgs_cap) {
		uint32_t cap = s->msgs_cap ? s->msgs_cap * 2 : 64;

		if (cap > s->cfg->msgs_max)
			cap = s->cfg->msgs_max;
		m = realloc(s->msgs, (size_t)cap * sizeof(*m));
		if (m == NULL)
			return SL_ENOMEM;
		s->msgs = m;
		s->msgs_cap = cap;
	}
	off = s->uids.len;
	if (sl_buf_append(&s->uids, uid.ptr, uid.len) < 0)
		return SL_ENOMEM;
	m = &s->msgs[s->nmsgs++];
	m->id = id;
	m->size = size;
	m->uid_off = (uint32_t)off;
	m->uid_len = (uint8_t)uid.len;
	m->deleted = false;
	s->total_size += size;
	return 0;
}

int pop3_session_maildrop_done(pop3_session_t *s, uint64_t now_us,
			       enum pop3_maildrop_status st)
{
	s->now = now_us;
	s->last_active = now_us;
	if (s->req.kind != POP3_REQ_MAILDROP)
		return pop3_not_pending(s);
	s->req.kind = POP3_REQ_NONE;
	switch (st) {
	case POP3_MAILDROP_OK:
		s->state = POP3_S_TRANS;
		s->stats->logins++;
		pop3_reply(s, "+OK Logged in, maildrop has %" PRIu32 " messages (%" PRIu64 " octets)",
			   s->nmsgs, s->total_size);
		break;
	case POP3_MAILDROP_IN_USE:
		/* RFC 2449 §8.1.1: another session holds the maildrop. */
		pop3_maildrop_drop(s);
		s->auth_user_len = 0;
		s->stats->in_use++;
		pop3_reply(s, "-ERR [IN-USE] Mailbox is locked by another POP3 session");
		break;
	case POP3_MAILDROP_TEMPFAIL:
	default:
		pop3_maildrop_drop(s);
		s->auth_user_len = 0;
		s->stats->maildrop_tempfail++;
		pop3_reply(s, "-ERR [SYS/TEMP] Unable to open the maildrop, try again later");
		break;
	}
	return pop3_resume(s);
}

int pop3_session_fetch_data(pop3_session_t *s, sl_slice_t part)
{
	size_t room;
	int rc = 0;

	if (s->req.kind != POP3_REQ_FETCH)
		return SL_ESTATE;
	room = s->req.u.fetch.len - s->st.got;
	if (part.len > room) {
		part.len = room;
		rc = SL_ELIMIT;
	}
	if (part.len > 0) {
		s->st.got += (uint32_t)part.len;
		pop3_stream_bytes(s, part.ptr, part.len);
	}
	return rc;
}

int pop3_session_fetch_done(pop3_session_t *s, uint64_t now_us, int err)
{
	s->now = now_us;
	s->last_active = now_us;
	if (s->req.kind != POP3_REQ_FETCH)
		return pop3_not_pending(s);
	s->req.kind = POP3_REQ_NONE;
	pop3_stream_fetch_end(s, err);
	return pop3_resume(s);
}

int pop3_session_update_done(pop3_session_t *s, uint64_t now_us, bool ok)
{
	s->now = now_us;
	if (s->req.kind != POP3_REQ_UPDATE)
		return pop3_not_pending(s);
	s->req.kind = POP3_REQ_NONE;
	if (ok) {
		s->stats->updates++;
		s->stats->msgs_expunged += s->ndeleted;
		pop3_reply(s, "+OK %s Sluice POP3 signing off (%" PRIu32 " messages deleted)",
			   s->cfg->hostname, s->ndeleted);
	} else {
		/* RFC 1939 §6: "-ERR some deleted messages not removed" */
		s->stats->update_failed++;
		pop3_reply(s, "-ERR [SYS/TEMP] Some deleted messages not removed");
	}
	pop3_close(s);
	return SL_ECLOSED;
}

int pop3_session_tls_done(pop3_session_t *s, uint64_t now_us, bool ok)
{
	s->now = now_us;
	s->last_active = now_us;
	if (s->req.kind != POP3_REQ_STLS)
		return pop3_not_pending(s);
	s->req.kind = POP3_REQ_NONE;
	pop3_discard_plaintext(s);
	if (!ok) {
		pop3_close(s);
		return SL_ECLOSED;
	}
	/* RFC 2595 §4: the client must discard what it knew; so do we. */
	s->tls = true;
	s->stats->stls++;
	s->user_set = false;
	s->user_len = 0;
	s->in_sasl = false;
	return 0;
}

/* ---- accessors ---- */

sl_slice_t pop3_session_user(const pop3_session_t *s)
{
	return sl_slice_make(s->auth_user, s->auth_user_len);
}

bool pop3_session_tls_active(const pop3_session_t *s)
{
	return s->tls;
}

bool pop3_session_in_transaction(const pop3_session_t *s)
{
	return s->state == POP3_S_TRANS;
}
