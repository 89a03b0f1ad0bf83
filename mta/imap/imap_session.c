/* imap_session - lifecycle, command framing, output, completions, time.
 *
 * Framing (RFC 9051 §2.2, RFC 7888): a command is one or more lines; a line
 * that ends in "{n}" or "{n+}" is followed by n literal bytes and then the
 * rest of the command. The scanner below walks the bytes as they arrive,
 * keeps its position in the session, and knows where every literal starts
 * and ends before anything is parsed, so
 *   - a synchronizing literal is answered with "+" (or refused) at once;
 *   - every limit (line, literal, nesting, whole command) is checked before
 *     the bytes are kept; a command that passes one is dropped as it
 *     arrives and refused at its end, never buffered;
 *   - literal bytes are never read as commands, even when the command they
 *     belong to is refused (the CRLF-injection hazard of oversized
 *     non-synchronizing literals: we close instead of guessing). */
#include "imap_private.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sl_err.h"
#include "sl_log.h"
#include "sl_stats.h"
#include "sl_time.h"

void imap_config_defaults(struct imap_config *c)
{
	memset(c, 0, sizeof(*c));
	c->line_max = 8192;
	c->cmd_max = 65536;
	c->literal_max = 65536;
	c->preauth_literal_max = 1024;
	c->nesting_max = 16;
	c->preauth_nesting_max = 2;
	c->seqset_max = 4096;
	c->appendlimit = 64u * 1024 * 1024;
	c->view_max = 1000000;
	c->errors_max = 20;
	c->auth_failures_max = 3;
	c->pipeline_max = 16384;
	c->output_max = 256 * 1024;
	c->body_chunk_max = 65536;
	c->header_max = 65536;
	c->auth_fail_delay_us = 1 * SL_US_PER_S;
	c->timeout_preauth_us = 60 * SL_US_PER_S;
	c->timeout_us = 1800 * SL_US_PER_S;
}

#define IMAP_STAT(name) SL_STAT(struct imap_stats, name)
static const sl_stat_field_t imap_stat_fields[] = {
	IMAP_STAT(sessions),       IMAP_STAT(commands),        IMAP_STAT(bad),
	IMAP_STAT(no),             IMAP_STAT(disconnect_errors), IMAP_STAT(timeouts),
	IMAP_STAT(line_too_long),  IMAP_STAT(literal_too_big), IMAP_STAT(nesting_too_deep),
	IMAP_STAT(command_too_long), IMAP_STAT(seqset_too_big), IMAP_STAT(literals),
	IMAP_STAT(auth_success),   IMAP_STAT(auth_failure),    IMAP_STAT(auth_tempfail),
	IMAP_STAT(auth_lockout),   IMAP_STAT(selects),         IMAP_STAT(fetch_msgs),
	IMAP_STAT(body_bytes),     IMAP_STAT(stores),          IMAP_STAT(expunged),
	IMAP_STAT(searches),       IMAP_STAT(starttls),        IMAP_STAT(plaintext_discarded),
};
_Static_assert(SL_STAT_COUNT(imap_stat_fields) ==
		       sizeof(struct imap_stats) / sizeof(uint64_t),
	       "every imap_stats counter has a name");

void imap_stats_add(struct imap_stats *dst, const struct imap_stats *src)
{
	sl_stats_add(imap_stat_fields, SL_STAT_COUNT(imap_stat_fields), dst, src);
}

int imap_stats_format(const struct imap_stats *st, sl_buf_t *out)
{
	return sl_stats_format("imap", imap_stat_fields, SL_STAT_COUNT(imap_stat_fields), st, out);
}

static bool imap_config_ok(const struct imap_config *c)
{
	if (c == NULL || c->hostname == NULL || c->hostname[0] == '\0' ||
	    strlen(c->hostname) > 255)
		return false;
	/* RFC 7162 §4: clients may send lines of 8192 octets; smaller limits
	 * would refuse legal clients. 1000 is the floor we accept. */
	if (c->line_max < 1000 || c->line_max > (1u << 20) || c->cmd_max < c->line_max ||
	    c->cmd_max > (1u << 24) || c->literal_max < 256 || c->preauth_literal_max < 256 ||
	    c->literal_max > c->cmd_max || c->nesting_max < 2 || c->nesting_max > 64 ||
	    c->preauth_nesting_max < 1 || c->seqset_max < 16 || c->seqset_max > (1u << 20) ||
	    c->view_max < 1 || c->view_max > (1u << 26) || c->errors_max < 1 ||
	    c->auth_failures_max < 1 || c->pipeline_max > (1u << 24) ||
	    c->body_chunk_max < 1024 || c->body_chunk_max > (1u << 24) ||
	    c->header_max < 1024 || c->header_max > (1u << 24) || c->appendlimit < 1024 ||
	    c->appendlimit > (1u << 30))
		return false;
	if (c->output_max < 4 * IMAP_REPLY_RESERVE ||
	    c->output_max < (uint64_t)c->body_chunk_max + IMAP_REPLY_RESERVE ||
	    c->output_max > (1u << 28))
		return false;
	return true;
}

int imap_session_create(const struct imap_config *cfg, const struct imap_peer *peer,
			uint64_t now_us, imap_session_t **s_r)
{
	imap_session_t *s;
	size_t n;

	*s_r = NULL;
	if (!imap_config_ok(cfg) || peer == NULL || peer->client_ip == NULL)
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
	s->state = IMAP_STATE_NOT_AUTH;
	s->phase = IMAP_P_CMD;
	/* the hard maximum; what is accepted at a time is imap_in_room() */
	sl_buf_init(&s->in, (size_t)cfg->cmd_max + cfg->appendlimit + cfg->line_max +
				    cfg->pipeline_max);
	sl_buf_init(&s->out, (size_t)cfg->output_max + IMAP_OUT_SLACK);
	sl_buf_init(&s->hdr, cfg->header_max);
	sl_buf_init(&s->sec_buf, cfg->header_max + 2);
	s->stats->sessions++;
	imap_greeting(s);
	*s_r = s;
	return 0;
}

void imap_view_reset(imap_session_t *s)
{
	struct imap_view *v = &s->view;

	free(v->uids);
	free(v->recent);
	free(v->gone);
	memset(v, 0, sizeof(*v));
	s->sync_due = false;
	s->announcing = false;
	s->n_sync_new = 0;
}

void imap_session_destroy(imap_session_t **sp)
{
	imap_session_t *s;

	if (sp == NULL || *sp == NULL)
		return;
	s = *sp;
	imap_cred_wipe(s);
	imap_view_reset(s);
	imap_van_reset(s);
	imap_dec_free(&s->dec);
	free(s->sync_new);
	free(s->sync_present);
	if (s->search)
		free(s->search->hits);
	free(s->search);
	free(s->arena);
	free(s->ranges);
	sl_buf_free(&s->in);
	sl_buf_free(&s->out);
	sl_buf_free(&s->hdr);
	sl_buf_free(&s->sec_buf);
	free(s);
	*sp = NULL;
}

/* ---- output ---- */

size_t imap_room(const imap_session_t *s)
{
	return s->out.len >= s->cfg->output_max ? 0 : s->cfg->output_max - s->out.len;
}

void imap_out(imap_session_t *s, const void *p, size_t n)
{
	if (s->phase == IMAP_P_CLOSED && s->out.len > s->cfg->output_max)
		return;
	if (sl_buf_append(&s->out, p, n) < 0)
		sl_log(SL_LOG_WARN, "imap", "%s: output full, %zu bytes dropped", s->client_ip, n);
}

static void imap_vprintf(imap_session_t *s, const char *fmt, va_list ap, bool crlf)
{
	char line[2048];
	int n = vsnprintf(line, sizeof(line) - 2, fmt, ap);

	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 3)
		n = (int)(sizeof(line) - 3);
	if (crlf) {
		line[n++] = '\r';
		line[n++] = '\n';
	}
	imap_out(s, line, (size_t)n);
}

void imap_printf(imap_session_t *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	imap_vprintf(s, fmt, ap, false);
	va_end(ap);
}

void imap_reply(imap_session_t *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	imap_vprintf(s, fmt, ap, true);
	va_end(ap);
}

void imap_tagged(imap_session_t *s, const char *status, const char *fmt, ...)
{
	va_list ap;

	imap_out(s, s->tag, s->tag_len);
	imap_printf(s, " %s ", status);
	va_start(ap, fmt);
	imap_vprintf(s, fmt, ap, true);
	va_end(ap);
	if (status[0] == 'N')
		s->stats->no++;
	s->job = IMAP_JOB_NONE;
	s->cmd = NULL;
}

static void imap_count_bad(imap_session_t *s)
{
	s->errors++;
	s->stats->bad++;
	if (s->errors >= s->cfg->errors_max && s->phase != IMAP_P_CLOSED) {
		s->stats->disconnect_errors++;
		imap_reply(s, "* BYE Too many invalid commands");
		imap_close(s);
	}
}

void imap_bad(imap_session_t *s, const char *fmt, ...)
{
	va_list ap;

	if (s->tag_len > 0) {
		imap_out(s, s->tag, s->tag_len);
		imap_out(s, " BAD ", 5);
	} else {
		imap_out(s, "* BAD ", 6);
	}
	va_start(ap, fmt);
	imap_vprintf(s, fmt, ap, true);
	va_end(ap);
	s->job = IMAP_JOB_NONE;
	s->cmd = NULL;
	imap_count_bad(s);
}

/* imap_no_err - tagged NO for a store error, with the RFC 5530 code. */
void imap_no_err(imap_session_t *s, int err, const char *what)
{
	const char *code, *text;

	switch (err) {
	case SL_ENOENT:
		code = "NONEXISTENT";
		text = "mailbox does not exist";
		break;
	case SL_EEXIST:
		code = "ALREADYEXISTS";
		text = "mailbox already exists";
		break;
	case SL_EBUSY:
		code = "INUSE";
		text = "mailbox is in use or has inferiors";
		break;
	case SL_EINVAL:
	case SL_ESTATE:
		code = "CANNOT";
		text = "not possible with this mailbox or name";
		break;
	case SL_ELIMIT:
		code = "LIMIT";
		text = "a limit was reached";
		break;
	case SL_EFULL:
		code = "OVERQUOTA";
		text = "storage is full";
		break;
	default:
		code = "UNAVAILABLE";
		text = "temporary failure, try again later";
		break;
	}
	imap_tagged(s, "NO", "[%s] %s: %s", code, what, text);
}

sl_slice_t imap_session_output(const imap_session_t *s)
{
	return sl_buf_slice(&s->out);
}

void imap_cred_wipe(imap_session_t *s)
{
	explicit_bzero(s->cred, sizeof(s->cred));
	s->cred_len = 0;
	if (s->req.kind == IMAP_REQ_AUTH || s->req.kind == IMAP_REQ_NONE)
		memset(&s->req.u.auth, 0, sizeof(s->req.u.auth));
}

void imap_close(imap_session_t *s)
{
	s->phase = IMAP_P_CLOSED;
	s->state = IMAP_STATE_LOGOUT;
	s->req.kind = IMAP_REQ_NONE;
	s->job = IMAP_JOB_NONE;
	s->delaying = false;
	s->hold_input = false;
	imap_cred_wipe(s);
	s->in.len = 0;
	s->in_off = 0;
	memset(&s->fr, 0, sizeof(s->fr));
}

bool imap_session_closing(const imap_session_t *s)
{
	return s->phase == IMAP_P_CLOSED;
}

bool imap_session_idling(const imap_session_t *s)
{
	return s->phase == IMAP_P_IDLE && s->state == IMAP_STATE_SELECTED;
}

void imap_request_issue(imap_session_t *s, enum imap_req_kind kind)
{
	s->req.kind = kind;
}

const struct imap_request *imap_session_request(const imap_session_t *s)
{
	return s->req.kind == IMAP_REQ_NONE ? NULL : &s->req;
}

/* imap_arena_alloc - N bytes for the current command, 8-aligned, zeroed;
 * valid until the next command. The arena was sized for the command when
 * it started, so this never moves earlier allocations; NULL if full. */
void *imap_arena_alloc(imap_session_t *s, size_t n)
{
	size_t off = (s->arena_used + 7) & ~(size_t)7;
	void *p;

	if (off > s->arena_cap || n > s->arena_cap - off)
		return NULL;
	p = s->arena + off;
	memset(p, 0, n);
	s->arena_used = off + n;
	return p;
}

/* imap_arena_prepare - size the arena for a command of LEN bytes: its
 * strings unescaped (at most LEN), its sets (at most LEN/2+1 ranges each
 * side of 8 bytes), slices and nodes. */
bool imap_arena_prepare(imap_session_t *s, size_t len)
{
	size_t need = 8 * len + 16384 + sizeof(sl_slice_t) * (IMAP_FIELDS_MAX * IMAP_SECTIONS_MAX);

	s->arena_used = 0;
	if (need <= s->arena_cap)
		return true;
	free(s->arena);
	s->arena = malloc(need);
	s->arena_cap = s->arena ? need : 0;
	return s->arena != NULL;
}

bool imap_utf8_mode(const imap_session_t *s)
{
	return (s->enabled & (IMAP_EN_IMAP4REV2 | IMAP_EN_UTF8)) != 0;
}

/* ---- framing ---- */

static size_t imap_pending(const imap_session_t *s)
{
	return s->in.len - s->in_off;
}

static bool imap_tag_char(uint8_t c)
{
	return imap_atom_char(c) || c == ']';
}

/* imap_frame_reject - the command being received is refused for WHY; keep
 * its tag (if it is complete) for the response and drop its bytes. */
static void imap_frame_reject(imap_session_t *s, enum imap_reject why)
{
	struct imap_frame *f = &s->fr;
	const uint8_t *base = s->in.data + s->in_off;
	size_t i = 0;

	if (f->reject != IMAP_RJ_NONE)
		return;
	f->reject = why;
	if (s->phase == IMAP_P_CMD) {
		while (i < f->off && i <= IMAP_TAG_MAX && base[i] != ' ' && imap_tag_char(base[i]) &&
		       base[i] != '+')
			i++;
		if (i > 0 && i <= IMAP_TAG_MAX && i < f->off && base[i] == ' ') {
			memcpy(f->rtag, base, i);
			f->rtag_len = i;
			f->reject_tagged = true;
		}
	}
	switch (why) {
	case IMAP_RJ_LINE:
		s->stats->line_too_long++;
		break;
	case IMAP_RJ_LITERAL:
	case IMAP_RJ_TOOBIG:
		s->stats->literal_too_big++;
		break;
	case IMAP_RJ_NESTING:
		s->stats->nesting_too_deep++;
		break;
	case IMAP_RJ_TOOLONG:
		s->stats->command_too_long++;
		break;
	default:
		break;
	}
}

static void imap_frame_drop(imap_session_t *s)
{
	s->in_off += s->fr.off;
	s->fr.off = 0;
}

/* imap_frame_refused - answer a refused command at its end. */
static void imap_frame_refused(imap_session_t *s)
{
	struct imap_frame *f = &s->fr;
	static const char *const why[] = {
		[IMAP_RJ_NONE] = "",
		[IMAP_RJ_LINE] = "[LIMIT] Line too long",
		[IMAP_RJ_LITERAL] = "[LIMIT] Literal too large",
		[IMAP_RJ_NESTING] = "[LIMIT] Too many nested parentheses",
		[IMAP_RJ_TOOLONG] = "[LIMIT] Command too long",
		[IMAP_RJ_NUL] = "NUL in literal",
		[IMAP_RJ_TOOBIG] = "[TOOBIG] Message too large",
	};

	s->stats->commands++;
	if (s->phase == IMAP_P_SASL) {
		/* the SASL exchange is over; the command's tag is s->tag */
		imap_cred_wipe(s);
		s->phase = IMAP_P_CMD;
		imap_bad(s, "%s", why[f->reject]);
		return;
	}
	if (s->phase == IMAP_P_IDLE) {
		s->phase = IMAP_P_CMD;
		imap_bad(s, "%s", why[f->reject]);
		return;
	}
	memcpy(s->tag, f->rtag, f->rtag_len);
	s->tag_len = f->reject_tagged ? f->rtag_len : 0;
	s->tag[s->tag_len] = '\0';
	if (f->reject == IMAP_RJ_TOOBIG && s->tag_len > 0) {
		/* RFC 7889 §4: a well-formed APPEND that is just too big */
		imap_tagged(s, "NO", "[TOOBIG] Message too large (APPENDLIMIT %" PRIu64 ")",
			    s->cfg->appendlimit);
		return;
	}
	imap_bad(s, "%s", why[f->reject]);
}

static void imap_frame_reset(imap_session_t *s)
{
	memset(&s->fr, 0, sizeof(s->fr));
}

/* imap_frame_is_append - the command being received is "tag APPEND ...":
 * only its message literal may be as large as APPENDLIMIT. */
static bool imap_frame_is_append(imap_session_t *s)
{
	struct imap_frame *f = &s->fr;
	const uint8_t *p = s->in.data + s->in_off;
	size_t i = 0;

	if (f->append || f->reject != IMAP_RJ_NONE)
		return f->append;
	while (i < f->off && p[i] != ' ' && imap_tag_char(p[i]) && p[i] != '+')
		i++;
	if (i == 0 || i > IMAP_TAG_MAX || f->off - i < 8 || p[i] != ' ')
		return false;
	f->append = !strncasecmp((const char *)p + i + 1, "APPEND ", 7);
	return f->append;
}

/* imap_frame_eol - a line ended at f->off. Returns true if the command
 * ended (handled and consumed), false if a literal follows. */
static bool imap_frame_eol(imap_session_t *s)
{
	struct imap_frame *f = &s->fr;
	bool literal = s->phase == IMAP_P_CMD && !f->in_quote &&
		       (f->la == IMAP_LA_CLOSE || f->la == IMAP_LA_CR);

	if (literal) {
		uint64_t n = f->la_num;
		bool append = s->state != IMAP_STATE_NOT_AUTH && imap_frame_is_append(s);
		uint64_t limit = s->state == IMAP_STATE_NOT_AUTH ? s->cfg->preauth_literal_max
				 : append			  ? s->cfg->appendlimit
								  : s->cfg->literal_max;
		/* a command is at most cmd_max in all; APPEND's literals are
		 * counted apart, against APPENDLIMIT */
		bool too_big = f->la_overflow || n > limit ||
			       (append ? f->lit_total + n > s->cfg->appendlimit + s->cfg->cmd_max
				       : (uint64_t)f->off + n > s->cfg->cmd_max);

		f->la = IMAP_LA_NONE;
		f->line_len = 0;
		if (too_big && append && !f->la_plus)
			imap_frame_reject(s, IMAP_RJ_TOOBIG);
		if (too_big && f->la_plus) {
			/* RFC 7888 §4: the client is sending the bytes anyway. We
			 * will not read them as commands, and will not read
			 * gigabytes to skip them: refuse and close. */
			imap_frame_reject(s, IMAP_RJ_LITERAL);
			imap_frame_refused(s);
			if (s->phase != IMAP_P_CLOSED) {
				imap_reply(s, "* BYE Literal too large");
				imap_close(s);
			}
			return true;
		}
		if (too_big)
			imap_frame_reject(s, IMAP_RJ_LITERAL);
		f->lit_bin = f->la_bin && append;
		if (f->reject != IMAP_RJ_NONE && !f->la_plus) {
			/* No "+": the client does not send the literal, and the
			 * command ends here (RFC 9051 §7.5). */
			imap_frame_drop(s);
			imap_frame_refused(s);
			imap_frame_reset(s);
			return true;
		}
		if (f->reject == IMAP_RJ_NONE) {
			s->stats->literals++;
			if (!f->la_plus)
				imap_reply(s, "+ Ready for literal data");
		}
		f->lit_left = n;
		f->lit_total += n;
		return false;
	}
	/* the command (or SASL/IDLE line) is complete */
	if (f->reject != IMAP_RJ_NONE) {
		imap_frame_drop(s);
		imap_frame_refused(s);
	} else {
		const uint8_t *p = s->in.data + s->in_off;
		size_t n = f->off;

		s->in_off += n;
		f->off = 0;
		s->stats->commands++;
		if (s->phase == IMAP_P_SASL || s->phase == IMAP_P_IDLE) {
			n--; /* LF */
			if (n > 0 && p[n - 1] == '\r')
				n--;
			if (s->phase == IMAP_P_SASL)
				imap_sasl_line(s, p, n);
			else
				imap_idle_line(s, p, n);
		} else {
			imap_cmd_run(s, p, n);
		}
	}
	if (s->phase != IMAP_P_CLOSED)
		imap_frame_reset(s);
	return true;
}

/* imap_frame_byte - track quotes, parentheses and a literal announcement
 * for one byte of a command line (outside literals). */
static void imap_frame_byte(imap_session_t *s, uint8_t c)
{
	struct imap_frame *f = &s->fr;
	uint32_t depth_max;
	bool after_tilde = f->tilde;

	f->tilde = c == '~' && !f->in_quote;
	if (f->in_quote) {
		if (f->escape)
			f->escape = false;
		else if (c == '\\')
			f->escape = true;
		else if (c == '"')
			f->in_quote = false;
		f->la = IMAP_LA_NONE;
		return;
	}
	switch (c) {
	case '"':
		f->in_quote = true;
		f->la = IMAP_LA_NONE;
		break;
	case '(':
		depth_max = s->state == IMAP_STATE_NOT_AUTH ? s->cfg->preauth_nesting_max
							     : s->cfg->nesting_max;
		if (++f->depth > depth_max)
			imap_frame_reject(s, IMAP_RJ_NESTING);
		f->la = IMAP_LA_NONE;
		break;
	case ')':
		if (f->depth > 0)
			f->depth--;
		f->la = IMAP_LA_NONE;
		break;
	case '{':
		f->la = IMAP_LA_OPEN;
		f->la_bin = after_tilde;
		f->la_num = 0;
		f->la_plus = false;
		f->la_overflow = false;
		break;
	case '+':
		/* LITERAL+ (RFC 7888): "{n+}" needs no continuation */
		f->la_plus = f->la == IMAP_LA_DIGITS;
		f->la = f->la_plus ? IMAP_LA_PLUS : IMAP_LA_NONE;
		break;
	case '}':
		f->la = (f->la == IMAP_LA_DIGITS || f->la == IMAP_LA_PLUS) ? IMAP_LA_CLOSE
									   : IMAP_LA_NONE;
		break;
	case '\r':
		f->la = f->la == IMAP_LA_CLOSE ? IMAP_LA_CR : IMAP_LA_NONE;
		break;
	default:
		if (c >= '0' && c <= '9' && (f->la == IMAP_LA_OPEN || f->la == IMAP_LA_DIGITS)) {
			f->la = IMAP_LA_DIGITS;
			/* number64 at most; {4294967295} parses, and is too big */
			if (f->la_num > (UINT64_MAX - 9) / 10)
				f->la_overflow = true;
			else
				f->la_num = f->la_num * 10 + (uint64_t)(c - '0');
		} else {
			f->la = IMAP_LA_NONE;
		}
		break;
	}
}

/* imap_frame_step - scan pending input; returns true when a command (or a
 * SASL/IDLE line) was completed and handled. */
static bool imap_frame_step(imap_session_t *s)
{
	struct imap_frame *f = &s->fr;

	while (s->in_off + f->off < s->in.len) {
		const uint8_t *base = s->in.data + s->in_off;
		size_t avail = s->in.len - s->in_off;
		uint8_t c;

		if (f->lit_left > 0) {
			size_t k = avail - f->off;

			if (k > f->lit_left)
				k = (size_t)f->lit_left;
			if (!f->lit_bin && memchr(base + f->off, 0, k) != NULL)
				imap_frame_reject(s, IMAP_RJ_NUL);
			f->off += k;
			f->lit_left -= k;
			if (f->reject != IMAP_RJ_NONE)
				imap_frame_drop(s);
			continue;
		}
		c = base[f->off++];
		if (++f->line_len > s->cfg->line_max)
			imap_frame_reject(s, IMAP_RJ_LINE);
		if (c == '\n') {
			if (imap_frame_eol(s))
				return true;
			continue;
		}
		if (s->phase == IMAP_P_CMD)
			imap_frame_byte(s, c);
		if (f->off - (f->append ? f->lit_total : 0) > s->cfg->cmd_max)
			imap_frame_reject(s, IMAP_RJ_TOOLONG);
		if (f->reject != IMAP_RJ_NONE)
			imap_frame_drop(s);
	}
	return false;
}

/* ---- input ---- */

static bool imap_runnable(const imap_session_t *s)
{
	return s->phase != IMAP_P_CLOSED && s->req.kind == IMAP_REQ_NONE &&
	       s->job == IMAP_JOB_NONE && !s->delaying && imap_room(s) >= IMAP_REPLY_RESERVE;
}

static void imap_discard_plaintext(imap_session_t *s)
{
	s->stats->plaintext_discarded += imap_pending(s);
	s->in.len = 0;
	s->in_off = 0;
	imap_frame_reset(s);
}

/* imap_step - one unit of progress: the running command, or the next
 * command from the buffer. */
static bool imap_step(imap_session_t *s)
{
	if (s->phase == IMAP_P_CLOSED || s->req.kind != IMAP_REQ_NONE)
		return false;
	if (s->announcing)
		return imap_sync_announce(s);
	if (s->job != IMAP_JOB_NONE)
		return imap_job_pump(s);
	/* an IDLE client hears about changes as they happen (RFC 2177) */
	if (s->phase == IMAP_P_IDLE && s->sync_due && s->state == IMAP_STATE_SELECTED &&
	    imap_room(s) >= IMAP_REPLY_RESERVE)
		return imap_sync_issue(s);
	if (!imap_runnable(s) || imap_pending(s) == 0)
		return false;
	if (s->in_off + s->fr.off >= s->in.len)
		return false;
	if (!imap_frame_step(s)) {
		/* everything pending was scanned; a refused command's bytes
		 * were dropped, which is progress too */
		return false;
	}
	if (s->req.kind == IMAP_REQ_STARTTLS)
		imap_discard_plaintext(s);
	return true;
}

int imap_resume(imap_session_t *s)
{
	while (imap_step(s))
		;
	return s->phase == IMAP_P_CLOSED ? SL_ECLOSED : 0;
}

static void imap_in_compact(imap_session_t *s)
{
	if (s->hold_input || s->in_off == 0)
		return;
	sl_buf_consume(&s->in, s->in_off);
	s->in_off = 0;
	/* an APPEND made the buffer big: give the memory back */
	if (s->in.len == 0 && s->in.cap > (size_t)s->cfg->cmd_max + s->cfg->line_max +
						  s->cfg->pipeline_max)
		sl_buf_free(&s->in);
}

/* imap_in_room - how many more bytes the input buffer takes now: the
 * command being received (its literals included), plus one line and
 * pipeline_max of what follows. Nothing while an APPEND body in the
 * buffer is lent to the glue. */
static size_t imap_in_room(const imap_session_t *s)
{
	uint64_t cap, pending = s->in.len - s->in_off;

	if (s->hold_input)
		return 0;
	cap = (uint64_t)s->fr.off + s->fr.lit_left + s->cfg->line_max + s->cfg->pipeline_max;
	if (pending >= cap)
		return 0;
	cap -= pending;
	if (cap > s->in.max - s->in.len)
		cap = s->in.max - s->in.len;
	return (size_t)cap;
}

int imap_session_input(imap_session_t *s, uint64_t now_us, const void *data, size_t len,
		       size_t *consumed_r)
{
	const uint8_t *p = data;
	size_t used = 0;

	*consumed_r = 0;
	s->now = now_us;
	if (s->phase == IMAP_P_CLOSED) {
		*consumed_r = len;
		return SL_ECLOSED;
	}
	while (len > 0) {
		size_t room, take;
		size_t before = s->in_off;
		bool progress;

		if (s->phase == IMAP_P_CLOSED || s->req.kind == IMAP_REQ_STARTTLS) {
			if (s->req.kind == IMAP_REQ_STARTTLS)
				s->stats->plaintext_discarded += len;
			used += len;
			break;
		}
		imap_in_compact(s);
		room = imap_in_room(s);
		take = len < room ? len : room;
		if (take > 0) {
			if (sl_buf_append(&s->in, p, take) < 0)
				break;
			p += take;
			len -= take;
			used += take;
		}
		progress = false;
		while (imap_step(s))
			progress = true;
		if (take == 0 && !progress && s->in_off == before)
			break;
	}
	if (s->phase != IMAP_P_CLOSED && s->req.kind != IMAP_REQ_STARTTLS)
		imap_resume(s);
	*consumed_r = used;
	if (used > 0)
		s->last_active = now_us;
	return s->phase == IMAP_P_CLOSED ? SL_ECLOSED : 0;
}

int imap_session_output_consume(imap_session_t *s, uint64_t now_us, size_t n)
{
	s->now = now_us;
	if (n > 0)
		s->last_active = now_us;
	sl_buf_consume(&s->out, n);
	if (s->phase == IMAP_P_CLOSED)
		return SL_ECLOSED;
	return imap_resume(s);
}

/* ---- time ---- */

uint64_t imap_session_deadline(const imap_session_t *s)
{
	uint64_t t;

	if (s->phase == IMAP_P_CLOSED || s->req.kind != IMAP_REQ_NONE)
		return SL_TIME_NEVER;
	if (s->delaying)
		return s->delay_until;
	/* pre-auth connections are cheap to open: a short leash */
	t = s->state == IMAP_STATE_NOT_AUTH ? s->cfg->timeout_preauth_us : s->cfg->timeout_us;
	return s->last_active + t;
}

int imap_session_timeout(imap_session_t *s, uint64_t now_us)
{
	s->now = now_us;
	if (s->phase == IMAP_P_CLOSED)
		return SL_ECLOSED;
	if (now_us < imap_session_deadline(s))
		return 0;
	if (s->delaying) {
		s->delaying = false;
		s->last_active = now_us;
		imap_tagged(s, "NO", "[AUTHENTICATIONFAILED] Authentication failed");
		return imap_resume(s);
	}
	s->stats->timeouts++;
	imap_reply(s, "* BYE Disconnected for inactivity");
	imap_close(s);
	return SL_ECLOSED;
}

void imap_session_shutdown(imap_session_t *s, uint64_t now_us, const char *text)
{
	s->now = now_us;
	if (s->phase == IMAP_P_CLOSED)
		return;
	/* A literal being written must not be interrupted by a status line;
	 * the connection just ends. */
	if (!s->fetch.in_literal || s->job != IMAP_JOB_FETCH)
		imap_reply(s, "* BYE %s", text ? text : "Server shutting down");
	imap_close(s);
}

/* ---- completions ---- */

static int imap_not_pending(const imap_session_t *s)
{
	return s->phase == IMAP_P_CLOSED ? SL_ECLOSED : SL_ESTATE;
}

static int imap_complete(imap_session_t *s, uint64_t now_us, enum imap_req_kind kind)
{
	s->now = now_us;
	s->last_active = now_us;
	if (s->req.kind != kind)
		return imap_not_pending(s);
	s->req.kind = IMAP_REQ_NONE;
	return 0;
}

int imap_session_auth_done(imap_session_t *s, uint64_t now_us, enum imap_auth_status st,
			   const char *user_display)
{
	const struct imap_request *rq = &s->req;
	size_t n;
	int rc = imap_complete(s, now_us, IMAP_REQ_AUTH);

	if (rc < 0)
		return rc;
	switch (st) {
	case IMAP_AUTH_OK:
		if (user_display != NULL) {
			n = strlen(user_display);
			if (n > IMAP_USER_MAX)
				n = IMAP_USER_MAX;
			memcpy(s->user, user_display, n);
		} else {
			n = rq->u.auth.authcid.len;
			if (n > IMAP_USER_MAX)
				n = IMAP_USER_MAX;
			memcpy(s->user, rq->u.auth.authcid.ptr, n);
		}
		s->user[n] = '\0';
		s->user_len = n;
		imap_cred_wipe(s);
		s->stats->auth_success++;
		s->state = IMAP_STATE_AUTH;
		/* RFC 9051 §6.2.3: the capabilities may change; say them */
		imap_out(s, s->tag, s->tag_len);
		imap_out(s, " OK [", 5);
		imap_capability_write(s);
		imap_reply(s, "] Logged in");
		s->job = IMAP_JOB_NONE;
		s->cmd = NULL;
		break;
	case IMAP_AUTH_TEMPFAIL:
		imap_cred_wipe(s);
		s->stats->auth_tempfail++;
		imap_tagged(s, "NO", "[UNAVAILABLE] Temporary authentication failure");
		break;
	case IMAP_AUTH_FAIL:
	default:
		imap_cred_wipe(s);
		s->stats->auth_failure++;
		s->auth_failures++;
		if (s->auth_failures >= s->cfg->auth_failures_max) {
			s->stats->auth_lockout++;
			imap_tagged(s, "NO", "[AUTHENTICATIONFAILED] Authentication failed");
			imap_reply(s, "* BYE Too many authentication failures");
			imap_close(s);
			return SL_ECLOSED;
		}
		if (s->cfg->auth_fail_delay_us > 0) {
			s->delaying = true;
			s->delay_until = now_us + s->cfg->auth_fail_delay_us * s->auth_failures;
			return 0;
		}
		imap_tagged(s, "NO", "[AUTHENTICATIONFAILED] Authentication failed");
		break;
	}
	return imap_resume(s);
}

int imap_session_tls_done(imap_session_t *s, uint64_t now_us, bool ok)
{
	int rc = imap_complete(s, now_us, IMAP_REQ_STARTTLS);

	if (rc < 0)
		return rc;
	imap_discard_plaintext(s);
	s->job = IMAP_JOB_NONE;
	if (!ok) {
		imap_close(s);
		return SL_ECLOSED;
	}
	s->tls = true;
	s->stats->starttls++;
	s->enabled = 0;
	return 0;
}

int imap_session_mailbox_done(imap_session_t *s, uint64_t now_us, int err)
{
	static const char *const what[] = {"CREATE", "DELETE", "RENAME", "SUBSCRIBE",
					   "UNSUBSCRIBE"};
	enum imap_mailbox_op op = s->req.u.mailbox.op;
	int rc = imap_complete(s, now_us, IMAP_REQ_MAILBOX);

	if (rc < 0)
		return rc;
	if (err == 0)
		imap_tagged(s, "OK", "%s completed", what[op]);
	else
		imap_no_err(s, err, what[op]);
	return imap_resume(s);
}

int imap_session_list_entry(imap_session_t *s, const struct imap_mailbox_info *mb)
{
	if (s->req.kind != IMAP_REQ_LIST)
		return SL_ESTATE;
	return imap_list_entry(s, mb);
}

int imap_session_list_done(imap_session_t *s, uint64_t now_us, int err)
{
	int rc = imap_complete(s, now_us, IMAP_REQ_LIST);

	if (rc < 0)
		return rc;
	if (err < 0) {
		imap_no_err(s, err, s->list.lsub ? "LSUB" : "LIST");
		return imap_resume(s);
	}
	/* Unless we asked the glue to stop, it reported everything. */
	if (!s->list.stopped)
		s->list.iter_done = true;
	return imap_resume(s);
}

int imap_session_status_done(imap_session_t *s, uint64_t now_us, int err,
			     const struct imap_mailbox_info *mb)
{
	int rc = imap_complete(s, now_us, IMAP_REQ_STATUS);

	if (rc < 0)
		return rc;
	if (err < 0 || mb == NULL) {
		imap_no_err(s, err < 0 ? err : SL_ENOENT, "STATUS");
	} else if (mb->attrs & IMAP_MBA_NOSELECT) {
		imap_tagged(s, "NO", "[NONEXISTENT] Mailbox is not selectable");
	} else {
		imap_status_write(s, s->name, s->status_items, mb);
		imap_tagged(s, "OK", "STATUS completed");
	}
	return imap_resume(s);
}

static bool imap_view_grow(imap_session_t *s)
{
	struct imap_view *v = &s->view;
	uint32_t cap = v->cap ? v->cap * 2 : 256;
	uint32_t *u;
	uint8_t *r;

	if (cap > s->cfg->view_max)
		cap = s->cfg->view_max;
	u = realloc(v->uids, (size_t)cap * sizeof(*u));
	if (u == NULL)
		return false;
	v->uids = u;
	r = realloc(v->recent, cap);
	if (r == NULL)
		return false;
	v->recent = r;
	v->cap = cap;
	return true;
}

int imap_session_select_msg(imap_session_t *s, uint32_t uid, uint32_t flags, bool recent)
{
	struct imap_view *v = &s->view;

	if (s->req.kind != IMAP_REQ_SELECT)
		return SL_ESTATE;
	if (uid == 0 || (v->n > 0 && uid <= v->uids[v->n - 1]))
		return SL_EINVAL;
	if (v->n >= s->cfg->view_max)
		return SL_ELIMIT;
	if (v->n == v->cap && !imap_view_grow(s))
		return SL_ENOMEM;
	v->uids[v->n] = uid;
	v->recent[v->n] = recent;
	v->n++;
	if (recent)
		v->n_recent++;
	if (!(flags & IMAP_FLAG_SEEN) && v->first_unseen == 0)
		v->first_unseen = v->n;
	return 0;
}

static void imap_write_flag_list(imap_session_t *s, const sl_slice_t *kw, size_t n_kw, bool perm)
{
	imap_printf(s, "(\\Answered \\Flagged \\Deleted \\Seen \\Draft");
	for (size_t i = 0; i < n_kw; i++) {
		imap_out(s, " ", 1);
		imap_out(s, kw[i].ptr, kw[i].len);
	}
	if (perm)
		imap_out(s, " \\*", 3);
	imap_out(s, ")", 1);
}

int imap_session_select_done(imap_session_t *s, uint64_t now_us, int err,
			     const struct imap_mailbox_info *mb, const sl_slice_t *keywords,
			     size_t n_keywords)
{
	struct imap_view *v = &s->view;
	bool rev2 = (s->enabled & IMAP_EN_IMAP4REV2) != 0;
	int rc = imap_complete(s, now_us, IMAP_REQ_SELECT);

	if (rc < 0)
		return rc;
	if (err == 0 && mb != NULL && (mb->attrs & IMAP_MBA_NOSELECT))
		err = SL_ESTATE;
	if (err < 0 || mb == NULL) {
		/* RFC 9051 §6.3.2: a failed SELECT leaves no mailbox selected */
		s->qr_select = false;
		imap_view_reset(s);
		s->state = IMAP_STATE_AUTH;
		if (err == SL_ESTATE)
			imap_tagged(s, "NO", "[CANNOT] Mailbox is not selectable");
		else
			imap_no_err(s, err < 0 ? err : SL_ENOENT, "SELECT");
		return imap_resume(s);
	}
	/* keywords are atoms: drop anything else the glue hands us */
	for (size_t i = 0; i < n_keywords; i++)
		for (size_t k = 0; k < keywords[i].len; k++)
			if (!imap_atom_char(keywords[i].ptr[k]))
				n_keywords = i;
	v->readonly = s->req.u.select.readonly;
	v->uidvalidity = mb->uidvalidity;
	v->uidnext = mb->uidnext;
	v->highestmodseq = mb->highestmodseq;
	s->state = IMAP_STATE_SELECTED;
	s->stats->selects++;
	if (s->select_condstore)
		s->enabled |= IMAP_EN_CONDSTORE;
	imap_printf(s, "* FLAGS ");
	imap_write_flag_list(s, keywords, n_keywords, false);
	imap_out(s, "\r\n", 2);
	imap_printf(s, "* OK [PERMANENTFLAGS ");
	if (v->readonly)
		imap_printf(s, "()");
	else
		imap_write_flag_list(s, keywords, n_keywords, true);
	imap_reply(s, "] Flags permitted");
	imap_reply(s, "* %" PRIu32 " EXISTS", v->n);
	if (!rev2) {
		imap_reply(s, "* %" PRIu32 " RECENT", v->n_recent);
		if (v->first_unseen)
			imap_reply(s, "* OK [UNSEEN %" PRIu32 "] First unseen", v->first_unseen);
	}
	imap_reply(s, "* OK [UIDVALIDITY %" PRIu32 "] UIDs valid", v->uidvalidity);
	imap_reply(s, "* OK [UIDNEXT %" PRIu32 "] Predicted next UID", v->uidnext);
	if (s->enabled & IMAP_EN_CONDSTORE)
		imap_reply(s, "* OK [HIGHESTMODSEQ %" PRIu64 "] Highest", v->highestmodseq);
	if (rev2) {
		/* RFC 9051 §6.3.2: the mailbox name as the server knows it */
		imap_printf(s, "* LIST () \"/\" ");
		imap_write_mailbox(s, s->name);
		imap_out(s, "\r\n", 2);
	}
	if (s->qr_select && mb->uidvalidity == s->qr_uidvalidity) {
		/* RFC 7162 §3.2.5.1: what was expunged since the client's
		 * MODSEQ, then what changed, then the tagged OK
		 * (imap_sync_pump, imap_sync_announce) */
		imap_van_reset(s);
		s->job = IMAP_JOB_SYNC;
		imap_sync_issue_qr(s, IMAP_SM_QR_VANISHED, s->qr_modseq);
		return imap_resume(s);
	}
	/* another UIDVALIDITY: the client's cache is void, a plain SELECT */
	s->qr_select = false;
	imap_tagged(s, "OK", "[%s] %s completed", v->readonly ? "READ-ONLY" : "READ-WRITE",
		    v->readonly ? "EXAMINE" : "SELECT");
	return imap_resume(s);
}

int imap_session_fetch_msg(imap_session_t *s, const struct imap_msg_meta *m)
{
	if (s->req.kind != IMAP_REQ_FETCH)
		return SL_ESTATE;
	if (s->job == IMAP_JOB_SEARCH)
		return imap_search_msg(s, m);
	return imap_fetch_msg(s, m);
}

int imap_session_fetch_done(imap_session_t *s, uint64_t now_us, int err)
{
	int rc = imap_complete(s, now_us, IMAP_REQ_FETCH);
	bool *done, stopped;

	if (rc < 0)
		return rc;
	if (s->job == IMAP_JOB_SEARCH) {
		done = &s->search->iter_done;
		stopped = s->search->stopped;
	} else {
		done = &s->fetch.iter_done;
		stopped = s->fetch.stopped;
	}
	if (err < 0) {
		if (s->job == IMAP_JOB_FETCH && s->fetch.msg_open) {
			/* a response is half written; nothing sane to add */
			imap_close(s);
			return SL_ECLOSED;
		}
		imap_no_err(s, err, s->job == IMAP_JOB_SEARCH ? "SEARCH" : "FETCH");
		return imap_resume(s);
	}
	/* Unless we asked the glue to stop, it reported everything. */
	if (!stopped)
		*done = true;
	return imap_resume(s);
}

int imap_session_body_data(imap_session_t *s, sl_slice_t part)
{
	uint32_t room;
	int rc = 0;

	if (s->req.kind != IMAP_REQ_BODY)
		return SL_ESTATE;
	room = s->req.u.body.len - s->fetch.body_got;
	if (part.len > room) {
		part.len = room;
		rc = SL_ELIMIT;
	}
	if (part.len > 0) {
		s->fetch.body_got += (uint32_t)part.len;
		imap_fetch_body_data(s, part);
	}
	return rc;
}

int imap_session_body_done(imap_session_t *s, uint64_t now_us, int err)
{
	int rc = imap_complete(s, now_us, IMAP_REQ_BODY);

	if (rc < 0)
		return rc;
	imap_fetch_body_end(s, err);
	return imap_resume(s);
}

int imap_session_store_done(imap_session_t *s, uint64_t now_us, int err)
{
	int rc = imap_complete(s, now_us, IMAP_REQ_STORE);

	if (rc < 0)
		return rc;
	if (err < 0) {
		imap_no_err(s, err, "STORE");
		return imap_resume(s);
	}
	if (s->job == IMAP_JOB_FETCH) {
		/* the implicit \Seen of a FETCH is in: go on fetching */
		s->fetch.seen_stored = true;
		return imap_resume(s);
	}
	s->stats->stores++;
	if (s->store_silent) {
		imap_tagged(s, "OK", "STORE completed");
		return imap_resume(s);
	}
	/* the new flags go out as FETCH responses (RFC 9051 §6.4.6) */
	memset(&s->fetch, 0, sizeof(s->fetch));
	/* RFC 7162 (errata 1807): under QRESYNC the STORE's FETCH
	 * responses carry the UID too */
	s->fetch.items = IMAP_FI_FLAGS |
			 (s->uid || (s->enabled & IMAP_EN_QRESYNC) ? IMAP_FI_UID : 0) |
			 ((s->enabled & IMAP_EN_CONDSTORE) ? IMAP_FI_MODSEQ : 0);
	s->fetch.flags_only_silent = true;
	s->job = IMAP_JOB_FETCH;
	return imap_resume(s);
}

/* imap_view_index - index of UID in the view, or -1. */
static long imap_view_index(const imap_session_t *s, uint32_t uid)
{
	size_t lo = 0, hi = s->view.n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->view.uids[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < s->view.n && s->view.uids[lo] == uid ? (long)lo : -1;
}

uint32_t imap_view_msn(const imap_session_t *s, uint32_t uid)
{
	long i = imap_view_index(s, uid);

	return i < 0 ? 0 : (uint32_t)i + 1;
}

int imap_session_expunged(imap_session_t *s, uint32_t uid)
{
	struct imap_view *v = &s->view;
	long i;

	if (s->req.kind != IMAP_REQ_EXPUNGE &&
	    !(s->req.kind == IMAP_REQ_COPY && s->req.u.copy.move))
		return SL_ESTATE;
	i = imap_view_index(s, uid);
	if (i < 0)
		return 0; /* not in our view: nothing to announce */
	if (v->n_gone > 0 && v->gone[v->n_gone - 1] >= (uint32_t)i)
		return SL_EINVAL; /* not ascending */
	if (v->gone == NULL) {
		v->gone = malloc((size_t)v->cap * sizeof(*v->gone));
		if (v->gone == NULL)
			return SL_ENOMEM;
	}
	v->gone[v->n_gone++] = (uint32_t)i;
	return 0;
}

int imap_session_expunge_done(imap_session_t *s, uint64_t now_us, int err)
{
	int rc = imap_complete(s, now_us, IMAP_REQ_EXPUNGE);

	if (rc < 0)
		return rc;
	if (err < 0 && s->view.n_gone == 0) {
		imap_no_err(s, err, "EXPUNGE");
		return imap_resume(s);
	}
	/* the job pump announces s->view.gone, then answers */
	return imap_resume(s);
}

int imap_session_copy_done(imap_session_t *s, uint64_t now_us, int err, uint32_t uidvalidity,
			   const uint32_t *src_uids, size_t count, uint32_t first_uid)
{
	int rc = imap_complete(s, now_us, IMAP_REQ_COPY);
	size_t n = 0;

	if (rc < 0)
		return rc;
	s->copyuid[0] = '\0';
	if (err == SL_ENOENT) {
		/* RFC 9051 §6.4.7: the client may create it and retry */
		s->view.n_gone = 0;
		imap_tagged(s, "NO", "[TRYCREATE] %s: destination mailbox does not exist",
			    s->req.u.copy.move ? "MOVE" : "COPY");
		return imap_resume(s);
	}
	if (err < 0) {
		s->view.n_gone = 0;
		imap_no_err(s, err, s->req.u.copy.move ? "MOVE" : "COPY");
		return imap_resume(s);
	}
	if (count > 0 && src_uids != NULL && uidvalidity != 0) {
		/* RFC 4315 §3: COPYUID uidvalidity src-set dst-set, the sets
		 * compressed into ranges; too long a code is left out. */
		n = (size_t)snprintf(s->copyuid, sizeof(s->copyuid), "[COPYUID %" PRIu32 " ",
				     uidvalidity);
		for (size_t i = 0; i < count && n < sizeof(s->copyuid) - 40; i++) {
			size_t j = i;

			while (j + 1 < count && src_uids[j + 1] == src_uids[j] + 1)
				j++;
			if (j > i)
				n += (size_t)snprintf(s->copyuid + n, sizeof(s->copyuid) - n,
						      "%s%" PRIu32 ":%" PRIu32, i ? "," : "",
						      src_uids[i], src_uids[j]);
			else
				n += (size_t)snprintf(s->copyuid + n, sizeof(s->copyuid) - n,
						      "%s%" PRIu32, i ? "," : "", src_uids[i]);
			i = j;
			if (i + 1 < count && n >= sizeof(s->copyuid) - 40)
				n = sizeof(s->copyuid); /* does not fit: drop it */
		}
		if (n < sizeof(s->copyuid) - 30) {
			if (count == 1)
				snprintf(s->copyuid + n, sizeof(s->copyuid) - n, " %" PRIu32 "] ",
					 first_uid);
			else
				snprintf(s->copyuid + n, sizeof(s->copyuid) - n,
					 " %" PRIu32 ":%" PRIu32 "] ", first_uid,
					 first_uid + (uint32_t)count - 1);
		} else {
			s->copyuid[0] = '\0';
		}
	}
	return imap_resume(s);
}

int imap_session_append_done(imap_session_t *s, uint64_t now_us, int err, uint32_t uidvalidity,
			     uint32_t uid)
{
	int rc = imap_complete(s, now_us, IMAP_REQ_APPEND);

	if (rc < 0)
		return rc;
	s->hold_input = false; /* the body in the buffer is ours again */
	if (err == SL_ENOENT)
		imap_tagged(s, "NO", "[TRYCREATE] APPEND: mailbox does not exist");
	else if (err == SL_ELIMIT)
		imap_tagged(s, "NO", "[TOOBIG] APPEND: message too large");
	else if (err < 0)
		imap_no_err(s, err, "APPEND");
	else if (uidvalidity != 0 && uid != 0)
		imap_tagged(s, "OK", "[APPENDUID %" PRIu32 " %" PRIu32 "] APPEND completed",
			    uidvalidity, uid);
	else
		imap_tagged(s, "OK", "APPEND completed");
	return imap_resume(s);
}

/* ---- accessors ---- */

enum imap_state imap_session_state(const imap_session_t *s)
{
	return s->state;
}

sl_slice_t imap_session_user(const imap_session_t *s)
{
	return sl_slice_make(s->user, s->user_len);
}

bool imap_session_tls_active(const imap_session_t *s)
{
	return s->tls;
}

unsigned imap_session_enabled(const imap_session_t *s)
{
	return s->enabled;
}
