/* smtp_data - message framing: DATA (dot-terminated, dot-stuffed) and BDAT
 * (counted chunks), the Received: trace header, and the end-of-data
 * decision.
 *
 * SMTP smuggling defence (RFC 5321 §2.3.8, §4.1.1.4): the only end of DATA
 * is CR LF "." CR LF, where the CR LF before the dot is a real one. A bare
 * CR or LF anywhere is, in strict mode, a protocol error that fails the
 * transaction at the real end of data; in normalize mode it becomes CR LF
 * but still never ends the data. So no byte sequence can be read as "end of
 * message, then commands" by us and differently by another MTA. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "sl_err.h"
#include "smtp_private.h"

/* smtp_sink - hand bytes to the message and filter hooks. */
static void smtp_sink(smtp_session_t *s, const uint8_t *p, size_t n)
{
	const struct smtp_hooks *h = s->hooks;
	sl_slice_t chunk = sl_slice_make(p, n);
	int rc;

	if (h->msg_data && !s->msg_sink_failed) {
		rc = h->msg_data(h->ctx, s, chunk);
		if (rc < 0) {
			s->msg_sink_failed = true;
			if (s->tfail == SMTP_TF_NONE)
				s->tfail = (rc == SL_EFULL || rc == SL_ENOMEM) ? SMTP_TF_STORE_FULL
									       : SMTP_TF_STORE_TMP;
			return;
		}
	}
	if (h->filter_data)
		(void)h->filter_data(h->ctx, s, chunk);
}

/* smtp_emit - content bytes: counted against message_max, then sunk. */
static void smtp_emit(smtp_session_t *s, const uint8_t *p, size_t n)
{
	if (n == 0 || s->tfail != SMTP_TF_NONE)
		return;
	if (n > s->cfg->message_max - s->msg_size) {
		/* RFC 1870 §6: refuse at end of data; stop storing now */
		s->tfail = SMTP_TF_OVERSIZE;
		return;
	}
	s->msg_size += n;
	s->stats->bytes_received += n;
	smtp_sink(s, p, n);
}

static void smtp_fail(smtp_session_t *s, enum smtp_tfail why)
{
	if (s->tfail == SMTP_TF_NONE)
		s->tfail = why;
}

static const char *const smtp_wday[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char *const smtp_mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
				       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* smtp_received - the trace header of RFC 5321 §4.4, with the protocol
 * names of RFC 3848 and RFC 6531 §4.3. */
static int smtp_received(smtp_session_t *s, char *buf, size_t size)
{
	char date[64], proto[16], rcpt[SMTP_PATH_MAX + 16];
	time_t t;
	struct tm tm;
	int n;

	t = s->hooks->wall_clock ? (time_t)s->hooks->wall_clock(s->hooks->ctx) : time(NULL);
	gmtime_r(&t, &tm);
	snprintf(date, sizeof(date), "%s, %d %s %04d %02d:%02d:%02d +0000",
		 smtp_wday[tm.tm_wday % 7], tm.tm_mday, smtp_mon[tm.tm_mon % 12],
		 tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
	snprintf(proto, sizeof(proto), "%s%s%s",
		 s->smtputf8 ? "UTF8SMTP" : s->helo_kind == SMTP_HELO_EHLO ? "ESMTP" : "SMTP",
		 s->tls ? "S" : "", s->authenticated ? "A" : "");
	rcpt[0] = '\0';
	if (s->nrcpt == 1) {
		struct smtp_rcpt r;

		if (smtp_session_rcpt(s, 0, &r) == 0)
			snprintf(rcpt, sizeof(rcpt), "\r\n\tfor <%.*s>", (int)r.addr.len,
				 (const char *)r.addr.ptr);
	}
	/* RFC 5321 §4.4 allows comments (CFWS) between the clauses; the TLS
	 * one is where Postfix and others put it, so parsers know it. */
	n = snprintf(buf, size,
		     "Received: from %s (%s [%s%s])\r\n"
		     "%s%s%s"
		     "\tby %s (Sluice) with %s id %s%s;\r\n"
		     "\t%s\r\n",
		     s->helo, s->client_rdns, strchr(s->client_ip, ':') ? "IPv6:" : "",
		     s->client_ip, s->tls && s->tls_desc[0] ? "\t(using " : "",
		     s->tls ? s->tls_desc : "", s->tls && s->tls_desc[0] ? ")\r\n" : "",
		     s->cfg->hostname, proto, s->queue_id, rcpt, date);
	if (n < 0 || (size_t)n >= size)
		return SL_ELIMIT;
	return n;
}

/* smtp_msg_start - open the message: hook, framing state, Received:. */
int smtp_msg_start(smtp_session_t *s)
{
	char hdr[1536];
	int rc, n;

	s->t_data = s->now;
	if (s->hooks->msg_begin) {
		rc = s->hooks->msg_begin(s->hooks->ctx, s);
		if (rc < 0)
			return rc;
	}
	s->msg_open = true;
	s->msg_sink_failed = false;
	s->dstate = SMTP_D_BOL;
	s->bol_real = true; /* the CRLF of the DATA line precedes the text */
	s->line_len = 0;
	s->tfail = SMTP_TF_NONE;
	s->msg_size = 0;
	memset(&s->verdict, 0, sizeof(s->verdict));
	n = smtp_received(s, hdr, sizeof(hdr));
	if (n > 0)
		smtp_sink(s, (const uint8_t *)hdr, (size_t)n);
	return 0;
}

void smtp_msg_abort(smtp_session_t *s)
{
	if (!s->msg_open)
		return;
	s->msg_open = false;
	if (s->hooks->msg_abort)
		s->hooks->msg_abort(s->hooks->ctx, s);
}

/* smtp_msg_fail_reply - the end-of-data reply for a failed stream. */
static void smtp_msg_fail_reply(smtp_session_t *s)
{
	char line[256];
	uint16_t code;

	switch (s->tfail) {
	case SMTP_TF_BARE_EOL:
		code = 554;
		snprintf(line, sizeof(line),
			 "554 5.6.0 Error: bare <CR> or <LF> in message; lines must end with <CR><LF>");
		break;
	case SMTP_TF_OVERSIZE:
		code = 552;
		s->stats->msg_oversize++;
		snprintf(line, sizeof(line),
			 "552 5.3.4 Error: message size exceeds fixed maximum message size");
		break;
	case SMTP_TF_LINE:
		code = 500;
		snprintf(line, sizeof(line), "500 5.5.2 Error: message line longer than %" PRIu32
			 " octets", s->cfg->text_line_max);
		break;
	case SMTP_TF_STORE_FULL:
		code = 452;
		snprintf(line, sizeof(line), "452 4.3.1 Insufficient system storage");
		break;
	case SMTP_TF_STORE_TMP:
	default:
		code = 451;
		snprintf(line, sizeof(line), "451 4.3.0 Error: local error in processing");
		break;
	}
	if (code >= 500) {
		s->stats->msg_rejected++;
		smtp_reply_error(s, "%s", line);
	} else {
		s->stats->msg_tempfail++;
		smtp_reply(s, "%s", line);
	}
	smtp_txn_finish(s, code, line, strlen(line));
}

/* smtp_msg_end - the whole message is in: verdict, then DELIVER. */
void smtp_msg_end(smtp_session_t *s)
{
	struct smtp_verdict v;
	char line[256];
	unsigned code;
	size_t k = 0;

	if (s->tfail != SMTP_TF_NONE) {
		smtp_msg_fail_reply(s);
		return;
	}
	memset(&v, 0, sizeof(v));
	if (s->hooks->filter_end)
		s->hooks->filter_end(s->hooks->ctx, s, &v);
	s->verdict = v;
	if (v.action != SMTP_VERDICT_REJECT) {
		/* The glue owns the staged message from here: no msg_abort. */
		s->msg_open = false;
		s->req.u.deliver.verdict = v;
		smtp_request_issue(s, SMTP_REQ_DELIVER);
		return;
	}
	code = v.code;
	if (!smtp_reply_code_valid(code) || code < 400)
		code = 550;
	v.text[sizeof(v.text) - 1] = '\0';
	for (char *c = v.text; *c; c++)
		if ((unsigned char)*c < 32 || *c == 127)
			*c = ' ';
	if (v.text[0] == '\0')
		k = (size_t)snprintf(line, sizeof(line), "%u %s", code,
				     code >= 500 ? "5.7.1 Message rejected" : "4.7.1 Try again later");
	else
		k = (size_t)snprintf(line, sizeof(line), "%u %s", code, v.text);
	if (k >= sizeof(line))
		k = sizeof(line) - 1;
	if (code >= 500)
		s->stats->msg_rejected++;
	else
		s->stats->msg_tempfail++;
	smtp_reply(s, "%s", line);
	smtp_txn_finish(s, (uint16_t)code, line, k);
}

/* smtp_line_byte - count one byte of a text line against §4.5.3.1.6. */
static inline void smtp_line_byte(smtp_session_t *s)
{
	s->line_len++;
	if (s->cfg->text_line_max && s->line_len > s->cfg->text_line_max)
		smtp_fail(s, SMTP_TF_LINE);
}

/* smtp_text_run - skip ordinary text from P[I] to the next CR or LF (or
 * N), counting it against the line limit. Returns the new index. */
static inline size_t smtp_text_run(smtp_session_t *s, const uint8_t *p, size_t i, size_t n)
{
	size_t j = i;

	while (j < n && p[j] != '\r' && p[j] != '\n')
		j++;
	s->line_len += j - i;
	if (s->cfg->text_line_max && s->line_len > s->cfg->text_line_max)
		smtp_fail(s, SMTP_TF_LINE);
	return j;
}

/* smtp_bare_eol - a bare CR or LF was seen: fail (strict) or note it. */
static void smtp_bare_eol(smtp_session_t *s)
{
	s->stats->bare_eol++;
	if (s->cfg->eol_mode == SMTP_EOL_STRICT)
		smtp_fail(s, SMTP_TF_BARE_EOL);
}

#define SMTP_CRLF ((const uint8_t *)"\r\n")
#define SMTP_DOT_CRLF ((const uint8_t *)".\r\n")

/* smtp_data_feed - consume DATA text. Bytes are passed on in runs straight
 * from P; a dot at the start of a line is held back until we know whether
 * it is stuffing, a terminator, or (after a bare line end) a literal dot.
 * Returns the bytes consumed; stops just after the terminator. */
size_t smtp_data_feed(smtp_session_t *s, const uint8_t *p, size_t n)
{
	size_t i = 0, run = 0;
	bool norm = s->cfg->eol_mode == SMTP_EOL_NORMALIZE;

	while (i < n) {
		uint8_t c = p[i];

		switch (s->dstate) {
		case SMTP_D_BOL:
			if (c == '.') {
				smtp_emit(s, p + run, i - run);
				smtp_line_byte(s);
				s->dstate = SMTP_D_DOT;
				run = ++i;
				continue;
			}
			s->dstate = SMTP_D_MID;
			/* fall through */
		case SMTP_D_MID:
			if (c == '\r') {
				smtp_line_byte(s);
				s->dstate = SMTP_D_CR;
				i++;
				continue;
			}
			if (c == '\n') {
				smtp_bare_eol(s);
				smtp_emit(s, p + run, i - run);
				if (norm)
					smtp_emit(s, SMTP_CRLF, 2);
				run = ++i;
				s->line_len = 0;
				s->bol_real = false;
				s->dstate = SMTP_D_BOL;
				continue;
			}
			/* the common case: skip to the next CR or LF */
			i = smtp_text_run(s, p, i, n);
			continue;
		case SMTP_D_CR:
			if (c == '\n') {
				smtp_line_byte(s);
				i++;
				s->line_len = 0;
				s->bol_real = true;
				s->dstate = SMTP_D_BOL;
				continue;
			}
			/* bare CR: the CR is already in the run */
			smtp_bare_eol(s);
			smtp_emit(s, p + run, i - run);
			if (norm)
				smtp_emit(s, SMTP_CRLF + 1, 1);
			run = i;
			s->line_len = 0;
			s->bol_real = false;
			s->dstate = SMTP_D_BOL;
			continue; /* c is looked at again, at the start of a line */
		case SMTP_D_DOT:
			if (c == '\r') {
				smtp_line_byte(s);
				s->dstate = SMTP_D_DOTCR;
				run = ++i;
				continue;
			}
			if (c == '\n') {
				/* ".\n": a terminator only to a lax reader */
				smtp_bare_eol(s);
				if (norm)
					smtp_emit(s, SMTP_DOT_CRLF, 3);
				run = ++i;
				s->line_len = 0;
				s->bol_real = false;
				s->dstate = SMTP_D_BOL;
				continue;
			}
			/* a stuffed dot: drop it (§4.5.2), c starts the text */
			s->dstate = SMTP_D_MID;
			run = i;
			continue;
		case SMTP_D_DOTCR:
			if (c == '\n' && s->bol_real) {
				/* CR LF . CR LF: the end of the message */
				i++;
				s->phase = SMTP_P_CMD;
				s->dstate = SMTP_D_BOL;
				smtp_msg_end(s);
				return i;
			}
			if (c == '\n') {
				/* ".\r\n" after a bare line end: a literal dot line */
				if (norm)
					smtp_emit(s, SMTP_DOT_CRLF, 3);
				run = ++i;
				s->line_len = 0;
				s->bol_real = true;
				s->dstate = SMTP_D_BOL;
				continue;
			}
			/* ".\r" then something else: bare CR after a dot */
			smtp_bare_eol(s);
			if (norm)
				smtp_emit(s, SMTP_DOT_CRLF, 3);
			run = i;
			s->line_len = 0;
			s->bol_real = false;
			s->dstate = SMTP_D_BOL;
			continue;
		}
	}
	if (s->dstate != SMTP_D_DOT && s->dstate != SMTP_D_DOTCR)
		smtp_emit(s, p + run, n - run);
	return n;
}

/* smtp_bdat_feed - consume BDAT chunk bytes. No dots and no terminator:
 * the length frames the chunk, so a CRLF.CRLF inside is just text. Line
 * ends are still checked, so nothing we accept can smuggle a message when
 * it is later relayed with DATA. */
size_t smtp_bdat_feed(smtp_session_t *s, const uint8_t *p, size_t n)
{
	size_t take = n < s->bdat_left ? n : (size_t)s->bdat_left;
	size_t i = 0, run = 0;
	bool norm = s->cfg->eol_mode == SMTP_EOL_NORMALIZE;

	if (s->tfail != SMTP_TF_NONE) {
		/* refused or failed: read and drop */
		i = take;
		goto out;
	}
	while (i < take) {
		uint8_t c = p[i];

		if (s->dstate == SMTP_D_CR) {
			if (c == '\n') {
				smtp_line_byte(s);
				i++;
				s->line_len = 0;
				s->dstate = SMTP_D_BOL;
				continue;
			}
			smtp_bare_eol(s);
			smtp_emit(s, p + run, i - run);
			if (norm)
				smtp_emit(s, SMTP_CRLF + 1, 1);
			run = i;
			s->line_len = 0;
			s->dstate = SMTP_D_BOL;
			continue;
		}
		if (c == '\r') {
			smtp_line_byte(s);
			s->dstate = SMTP_D_CR;
			i++;
			continue;
		}
		if (c == '\n') {
			smtp_bare_eol(s);
			smtp_emit(s, p + run, i - run);
			if (norm)
				smtp_emit(s, SMTP_CRLF, 2);
			run = ++i;
			s->line_len = 0;
			s->dstate = SMTP_D_BOL;
			continue;
		}
		s->dstate = SMTP_D_MID;
		i = smtp_text_run(s, p, i, take);
	}
	smtp_emit(s, p + run, take - run);
out:
	s->bdat_left -= take;
	if (s->bdat_left == 0)
		smtp_bdat_chunk_done(s);
	return take;
}

/* smtp_bdat_chunk_done - a chunk has been read completely: reply to it. */
void smtp_bdat_chunk_done(smtp_session_t *s)
{
	s->phase = SMTP_P_CMD;
	if (s->tfail == SMTP_TF_BDAT_CMD) {
		s->tfail = SMTP_TF_NONE;
		smtp_reply_error(s, "%s", s->bdat_reply);
		return;
	}
	if (s->tfail == SMTP_TF_NONE && s->bdat_last && s->dstate == SMTP_D_CR) {
		/* the message ends in a bare CR */
		smtp_bare_eol(s);
		if (s->cfg->eol_mode == SMTP_EOL_NORMALIZE)
			smtp_emit(s, SMTP_CRLF + 1, 1);
		s->dstate = SMTP_D_BOL;
	}
	if (s->tfail != SMTP_TF_NONE) {
		/* RFC 3030 §2: a failed chunk fails the transaction */
		smtp_msg_fail_reply(s);
		return;
	}
	if (!s->bdat_last) {
		smtp_reply(s, "250 2.0.0 Ok: %" PRIu64 " octets received", s->msg_size);
		return;
	}
	smtp_msg_end(s);
}
