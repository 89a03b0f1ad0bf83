/* smtp_auth - AUTH PLAIN and LOGIN (RFC 4954, RFC 4616), with base64.
 *
 * The engine only decodes and frames the SASL exchange; the glue verifies
 * the credentials (argon2id in the store) through an AUTH request. Decoded
 * secrets live in one fixed buffer of the session and are wiped as soon as
 * the request completes or the exchange is abandoned. Base64 is
 * platform/sl_base64.c, shared with IMAP and POP3. */
#include <string.h>

#include "sl_base64.h"
#include "sl_err.h"
#include "smtp_private.h"

void smtp_auth_wipe(smtp_session_t *s)
{
	explicit_bzero(s->sasl, sizeof(s->sasl));
	s->sasl_len = 0;
	s->sasl_user_len = 0;
	s->sasl_step = SMTP_SASL_NONE;
	if (s->req.kind == SMTP_REQ_AUTH || s->req.kind == SMTP_REQ_NONE)
		memset(&s->req.u.auth, 0, sizeof(s->req.u.auth));
}

/* smtp_auth_abandon - end the exchange with an error reply. */
static void smtp_auth_abandon(smtp_session_t *s, const char *reply)
{
	smtp_auth_wipe(s);
	s->phase = SMTP_P_CMD;
	smtp_reply_error(s, "%s", reply);
}

static void smtp_auth_issue(smtp_session_t *s, const char *mech, size_t zid_off, size_t zid_len,
			    size_t cid_off, size_t cid_len, size_t pw_off, size_t pw_len)
{
	s->phase = SMTP_P_CMD;
	s->sasl_step = SMTP_SASL_NONE;
	s->req.u.auth.mechanism = sl_slice_make(mech, strlen(mech));
	s->req.u.auth.authzid = sl_slice_make(s->sasl + zid_off, zid_len);
	s->req.u.auth.authcid = sl_slice_make(s->sasl + cid_off, cid_len);
	s->req.u.auth.password = sl_slice_make(s->sasl + pw_off, pw_len);
	smtp_request_issue(s, SMTP_REQ_AUTH);
}

/* RFC 4616 §2: [authzid] NUL authcid NUL passwd */
static void smtp_auth_plain(smtp_session_t *s)
{
	const uint8_t *p = s->sasl;
	size_t n = s->sasl_len;
	const uint8_t *z1, *z2;

	z1 = memchr(p, 0, n);
	z2 = z1 ? memchr(z1 + 1, 0, n - (size_t)(z1 + 1 - p)) : NULL;
	if (z1 == NULL || z2 == NULL || memchr(z2 + 1, 0, n - (size_t)(z2 + 1 - p)) != NULL ||
	    z2 == z1 + 1 || z2 + 1 == p + n) {
		smtp_auth_abandon(s, "501 5.5.2 Error: malformed PLAIN response");
		return;
	}
	smtp_auth_issue(s, "PLAIN", 0, (size_t)(z1 - p), (size_t)(z1 + 1 - p),
			(size_t)(z2 - z1 - 1), (size_t)(z2 + 1 - p), (size_t)(p + n - z2 - 1));
}

/* smtp_auth_take - decode a client response into sasl[] at OFF.
 * Returns the decoded length, or -1 after replying. */
static long smtp_auth_take(smtp_session_t *s, const uint8_t *p, size_t n, size_t off)
{
	long k = sl_base64_decode(p, n, s->sasl + off, sizeof(s->sasl) - off);

	if (k < 0)
		smtp_auth_abandon(s, "501 5.5.2 Error: cannot decode response");
	return k;
}

static void smtp_auth_login_step(smtp_session_t *s, long k)
{
	if (s->sasl_step == SMTP_SASL_LOGIN_USER) {
		if (k == 0 || memchr(s->sasl, 0, (size_t)k) != NULL) {
			smtp_auth_abandon(s, "501 5.5.2 Error: malformed user name");
			return;
		}
		s->sasl_user_len = (size_t)k;
		s->sasl_len = (size_t)k;
		s->sasl_step = SMTP_SASL_LOGIN_PASS;
		s->phase = SMTP_P_SASL;
		smtp_reply(s, "334 UGFzc3dvcmQ6"); /* "Password:" */
		return;
	}
	s->sasl_len = s->sasl_user_len + (size_t)k;
	smtp_auth_issue(s, "LOGIN", 0, 0, 0, s->sasl_user_len, s->sasl_user_len, (size_t)k);
}

void smtp_auth_start(smtp_session_t *s, sl_slice_t args)
{
	sl_slice_t mech, init;
	size_t i = 0;
	long k;

	while (i < args.len && args.ptr[i] != ' ')
		i++;
	mech = sl_slice_make(args.ptr, i);
	while (i < args.len && args.ptr[i] == ' ')
		i++;
	init = sl_slice_make(args.ptr + i, args.len - i);
	smtp_auth_wipe(s);
	if (sl_slice_eq_nocase(mech, "PLAIN")) {
		s->sasl_step = SMTP_SASL_PLAIN;
	} else if (sl_slice_eq_nocase(mech, "LOGIN")) {
		s->sasl_step = SMTP_SASL_LOGIN_USER;
	} else {
		smtp_reply_error(s, "504 5.5.4 Error: unrecognized authentication type");
		return;
	}
	if (init.len == 0) {
		s->phase = SMTP_P_SASL;
		if (s->sasl_step == SMTP_SASL_PLAIN)
			smtp_reply(s, "334 ");
		else
			smtp_reply(s, "334 VXNlcm5hbWU6"); /* "Username:" */
		return;
	}
	/* RFC 4954 §4: "=" is an empty initial response */
	if (init.len == 1 && init.ptr[0] == '=')
		k = 0;
	else if ((k = smtp_auth_take(s, init.ptr, init.len, 0)) < 0)
		return;
	if (s->sasl_step == SMTP_SASL_PLAIN) {
		s->sasl_len = (size_t)k;
		smtp_auth_plain(s);
	} else {
		smtp_auth_login_step(s, k);
	}
}

void smtp_auth_response(smtp_session_t *s, const uint8_t *line, size_t len)
{
	long k;

	if (len == 1 && line[0] == '*') {
		/* RFC 4954 §4: the client cancels; 501 is mandatory */
		smtp_auth_abandon(s, "501 5.7.0 Authentication aborted");
		return;
	}
	switch (s->sasl_step) {
	case SMTP_SASL_PLAIN:
		if ((k = smtp_auth_take(s, line, len, 0)) < 0)
			return;
		s->sasl_len = (size_t)k;
		smtp_auth_plain(s);
		return;
	case SMTP_SASL_LOGIN_USER:
		if ((k = smtp_auth_take(s, line, len, 0)) < 0)
			return;
		smtp_auth_login_step(s, k);
		return;
	case SMTP_SASL_LOGIN_PASS:
		if ((k = smtp_auth_take(s, line, len, s->sasl_user_len)) < 0)
			return;
		smtp_auth_login_step(s, k);
		return;
	default:
		smtp_auth_abandon(s, "503 5.5.1 Error: no authentication in progress");
		return;
	}
}
