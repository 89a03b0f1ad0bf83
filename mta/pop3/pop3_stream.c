/* pop3_stream - multi-line replies produced as the output drains: LIST and
 * UIDL listings, and RETR/TOP bodies fetched from the glue in FETCH
 * requests and byte-stuffed on the way out (RFC 1939 §3).
 *
 * A message body is never held whole: the engine asks for the next range
 * only when the output has room for twice its size (byte-stuffing can grow
 * a range by half at most), so a session needs output_max, not the size
 * of the largest message. */
#include <inttypes.h>
#include <string.h>

#include "pop3_private.h"
#include "sl_err.h"
#include "sl_log.h"

/* Room kept for the +OK line and the terminator around a FETCH range. */
#define POP3_STREAM_SLACK 128u

bool pop3_streaming(const pop3_session_t *s)
{
	return s->st.kind != POP3_ST_NONE;
}

void pop3_stream_start_list(pop3_session_t *s, enum pop3_stream_kind kind)
{
	memset(&s->st, 0, sizeof(s->st));
	s->st.kind = kind;
}

void pop3_stream_start_msg(pop3_session_t *s, uint32_t idx, bool top, uint64_t top_lines)
{
	struct pop3_stream *t = &s->st;

	memset(t, 0, sizeof(*t));
	t->kind = POP3_ST_MSG;
	t->msg = idx;
	t->size = s->msgs[idx].size;
	t->bol = true;
	t->crlf = true;
	t->top = top;
	t->in_header = true;
	t->top_lines = top_lines;
	/* TOP msg 0 with an empty message is done at once, like RETR of 0 bytes. */
}

static void pop3_stream_ok_line(pop3_session_t *s)
{
	struct pop3_stream *t = &s->st;

	if (t->started)
		return;
	t->started = true;
	if (t->top)
		pop3_reply(s, "+OK Top of message follows");
	else
		pop3_reply(s, "+OK %" PRIu64 " octets", t->size);
}

static bool pop3_list_pump(pop3_session_t *s)
{
	struct pop3_stream *t = &s->st;
	bool any = false;

	while (t->next < s->nmsgs && pop3_out_room(s) >= POP3_LIST_LINE_MAX) {
		const struct pop3_msg *m = &s->msgs[t->next++];

		any = true;
		if (m->deleted)
			continue;
		if (t->kind == POP3_ST_LIST)
			pop3_reply(s, "%" PRIu32 " %" PRIu64, t->next, m->size);
		else
			pop3_reply(s, "%" PRIu32 " %.*s", t->next, (int)m->uid_len,
				   (const char *)s->uids.data + m->uid_off);
	}
	if (t->next >= s->nmsgs && pop3_out_room(s) >= 3) {
		pop3_out(s, ".\r\n", 3);
		t->kind = POP3_ST_NONE;
		any = true;
	}
	return any;
}

bool pop3_stream_pump(pop3_session_t *s)
{
	struct pop3_stream *t = &s->st;
	uint64_t want;

	if (t->kind == POP3_ST_NONE || s->state == POP3_S_CLOSED)
		return false;
	if (t->kind != POP3_ST_MSG)
		return pop3_list_pump(s);
	if (s->req.kind != POP3_REQ_NONE)
		return false;
	if (!t->done && t->off >= t->size)
		t->done = true;
	if (t->done) {
		if (pop3_out_room(s) < POP3_STREAM_SLACK)
			return false;
		pop3_stream_ok_line(s);
		/* The terminator needs a line of its own (RFC 1939 §3), after a
		 * real CRLF: a body that ends without one, or in a bare LF,
		 * gets one, or a strict client would never see the end. */
		if (!t->crlf)
			pop3_out(s, "\r\n", 2);
		pop3_out(s, ".\r\n", 3);
		t->kind = POP3_ST_NONE;
		return true;
	}
	want = t->size - t->off;
	if (want > s->cfg->fetch_max)
		want = s->cfg->fetch_max;
	if (pop3_out_room(s) < 2 * want + POP3_STREAM_SLACK)
		return false;
	t->got = 0;
	s->req.u.fetch.id = s->msgs[t->msg].id;
	s->req.u.fetch.msg = t->msg + 1;
	s->req.u.fetch.offset = t->off;
	s->req.u.fetch.len = (uint32_t)want;
	pop3_request_issue(s, POP3_REQ_FETCH);
	return true;
}

/* pop3_stream_eol - a line ended; TOP counts the header/body split (the
 * first empty line) and then the body lines it was asked for. */
static void pop3_stream_eol(struct pop3_stream *t)
{
	bool blank = t->line_bytes == 0 || (t->line_bytes == 1 && t->prev_cr);

	if (t->top) {
		if (t->in_header) {
			if (blank) {
				t->in_header = false;
				if (t->top_lines == 0)
					t->done = true;
			}
		} else if (++t->body_lines >= t->top_lines) {
			t->done = true;
		}
	}
	t->bol = true;
	t->crlf = t->prev_cr;
	t->line_bytes = 0;
	t->prev_cr = false;
}

/* pop3_lf_dot - the first LF in [p, end) that a '.' follows, NULL if
 * none. Driven by memchr for the dot, which is rare in mail text (a few
 * per header, next to none in a body), so the scan runs at memchr's speed
 * instead of looking at every byte as a two-byte memmem does. */
static const uint8_t *pop3_lf_dot(const uint8_t *p, const uint8_t *end)
{
	const uint8_t *q = p + 1;

	while (q < end) {
		const uint8_t *d = memchr(q, '.', (size_t)(end - q));

		if (d == NULL)
			return NULL;
		if (d[-1] == '\n')
			return d - 1;
		q = d + 1;
	}
	return NULL;
}

/* pop3_stream_copy - RETR's body bytes: no line counting, only the
 * stuffing, so the bytes go out in spans that end before each line that
 * starts with '.' (an LF followed by '.', pop3_lf_dot), not one line at
 * a time. The same state as the line walk below is kept: bol,
 * crlf and prev_cr at the end of the chunk. */
static void pop3_stream_copy(pop3_session_t *s, const uint8_t *p, size_t n)
{
	struct pop3_stream *t = &s->st;
	const uint8_t *end = p + n;

	s->stats->bytes_sent += n;
	while (p < end) {
		const uint8_t *dot;
		size_t k;

		if (t->bol && p[0] == '.')
			pop3_out(s, ".", 1);
		dot = pop3_lf_dot(p, end);
		k = dot != NULL ? (size_t)(dot - p) + 1 : (size_t)(end - p);
		pop3_out(s, p, k);
		t->bol = p[k - 1] == '\n';
		p += k;
	}
	if (end[-1] == '\n') {
		t->crlf = n >= 2 ? end[-2] == '\r' : t->prev_cr;
		t->prev_cr = false;
	} else {
		t->crlf = false;
		t->prev_cr = end[-1] == '\r';
	}
}

/* pop3_stream_bytes - body bytes from the glue, in order. A line that
 * starts with '.' gets another one (RFC 1939 §3). A line starts after
 * every LF, bare or not: a client that splits on LF alone must not see a
 * terminator inside a message either. */
void pop3_stream_bytes(pop3_session_t *s, const uint8_t *p, size_t n)
{
	struct pop3_stream *t = &s->st;

	if (t->kind != POP3_ST_MSG || s->state == POP3_S_CLOSED)
		return;
	pop3_stream_ok_line(s);
	if (!t->top) {
		if (n > 0)
			pop3_stream_copy(s, p, n);
		return;
	}
	while (n > 0 && !t->done) {
		const uint8_t *lf;
		size_t k;

		if (t->bol && p[0] == '.')
			pop3_out(s, ".", 1);
		lf = memchr(p, '\n', n);
		k = lf ? (size_t)(lf - p) + 1 : n;
		pop3_out(s, p, k);
		s->stats->bytes_sent += k;
		if (lf != NULL) {
			if (k >= 2) {
				t->line_bytes += k - 1;
				t->prev_cr = p[k - 2] == '\r';
			}
			pop3_stream_eol(t);
		} else {
			t->bol = false;
			t->crlf = false;
			t->line_bytes += k;
			t->prev_cr = p[k - 1] == '\r';
		}
		p += k;
		n -= k;
	}
}

void pop3_stream_fetch_end(pop3_session_t *s, int err)
{
	struct pop3_stream *t = &s->st;
	uint32_t asked = s->req.u.fetch.len;

	if (t->kind != POP3_ST_MSG)
		return;
	if (err < 0) {
		s->stats->fetch_errors++;
		sl_log(SL_LOG_WARN, "pop3", "%s: fetch of message %" PRIu32 " failed: %s",
		       s->client_ip, t->msg + 1, sl_strerror(err));
		if (!t->started) {
			t->kind = POP3_ST_NONE;
			pop3_reply(s, "-ERR [SYS/TEMP] Unable to read message %" PRIu32, t->msg + 1);
			return;
		}
		/* Part of the message is out: no way to say -ERR now. The
		 * client sees the connection drop without the terminator. */
		pop3_close(s);
		return;
	}
	t->off += t->got;
	if (t->got < asked)
		t->done = true; /* the body is shorter than listed: end here */
}
