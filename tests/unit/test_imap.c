/* test_imap - the IMAP engine as transcripts: framing and literals, hostile
 * input, the session states, authentication, the mailbox commands and
 * LIST/STATUS/SELECT, modified UTF-7. FETCH, STORE, SEARCH, EXPUNGE and
 * COPY/MOVE are in test_imap_fetch.c. See test_imap_harness.h for the
 * script language ("S**" reads: a line starting with "*"). */
#include "test_imap_harness.h"

#include "imap/imap_private.h"

/* ---- configurations ---- */

static void cf_tls_required(struct imap_config *c, struct imap_peer *p)
{
	(void)p;
	c->allow_plaintext_auth = false;
	c->starttls_available = true;
}

static void cf_stls(struct imap_config *c, struct imap_peer *p)
{
	(void)p;
	c->starttls_available = true;
}

static void cf_delay(struct imap_config *c, struct imap_peer *p)
{
	(void)p;
	c->auth_fail_delay_us = 2 * SL_US_PER_S;
}

static void cf_errors3(struct imap_config *c, struct imap_peer *p)
{
	(void)p;
	c->errors_max = 3;
}

static void cf_small(struct imap_config *c, struct imap_peer *p)
{
	(void)p;
	c->line_max = 1000;
	c->cmd_max = 2000;
	c->literal_max = 1500;
	c->seqset_max = 16;
	c->nesting_max = 4;
}

#define PREAUTH_CAPS "S:* CAPABILITY IMAP4rev1 IMAP4rev2 AUTH=PLAIN" CAPS_TAIL
#define TLS_CAPS "IMAP4rev1 IMAP4rev2 STARTTLS LOGINDISABLED" CAPS_TAIL
#define INBOX_SELECT                                                                        \
	"S:* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Forwarded Work)",            \
		"S:* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Forwarded " \
		"Work \\*)] Flags permitted",                                                       \
		"S:* 4 EXISTS", "S:* 1 RECENT", "S:* OK [UNSEEN 2] First unseen",                   \
		"S:* OK [UIDVALIDITY 1000] UIDs valid", "S:* OK [UIDNEXT 8] Predicted next UID"
#define A64 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define A1K A64 A64 A64 A64 A64 A64 A64 A64 A64 A64 A64 A64 A64 A64 A64 A64
#define PAR8 "((((((((" /* eight levels */
#define CLO8 "))))))))"

static const struct tcase cases[] = {
	/* ---- greeting, CAPABILITY, NOOP, LOGOUT ---- */
	CASE(greeting_capability_logout, NULL, GREET, "C:a CAPABILITY", PREAUTH_CAPS,
	     "S:a OK CAPABILITY completed", "C:b NOOP", "S:b OK NOOP completed", "C:c LOGOUT",
	     "S:* BYE " HOST " logging out", "S:c OK LOGOUT completed", "X"),
	CASE(capability_after_login, NULL, GREET, LOGIN, "C:a CAPABILITY",
	     "S:* CAPABILITY IMAP4rev1 IMAP4rev2" CAPS_TAIL, "S:a OK CAPABILITY completed",
	     "C:b capability", "S** CAPABILITY", "S:b OK CAPABILITY completed"),
	CASE(pipelined_after_logout_ignored, NULL, GREET, "R:a LOGOUT\r\nb NOOP\r\n", "S** BYE",
	     "S:a OK LOGOUT completed", "X"),
	CASE(noargs_commands_refuse_arguments, NULL, GREET, "C:a NOOP x",
	     "S:a BAD Unexpected extra arguments", "C:b CAPABILITY x",
	     "S:b BAD Unexpected extra arguments", "C:c LOGOUT now",
	     "S:c BAD Unexpected extra arguments", "C:d NOOP", "S:d OK NOOP completed"),
	/* ---- tags and command names ---- */
	CASE(tags_and_verbs, NULL, GREET, "C:", "S:* BAD Empty command line", "C:+a NOOP",
	     "S:* BAD Invalid tag", "C:a", "S:a BAD Missing command", "C:a ",
	     "S:a BAD Missing command", "C:a XYZZY", "S:a BAD Unknown command", "C:a UID NOOP",
	     "S:a BAD Unknown UID command", "C:a UID", "S:a BAD Missing UID command",
	     "C:(a NOOP", "S:* BAD Invalid tag", "C:a.b]c NOOP", "S:a.b]c OK NOOP completed",
	     "C:A1 noop", "S:A1 OK NOOP completed", "C:" A64 "x NOOP", "S:* BAD Invalid tag"),
	CASE(too_many_errors, cf_errors3, GREET, "C:a FOO", "S:a BAD Unknown command", "C:b BAR",
	     "S:b BAD Unknown command", "C:c BAZ", "S:c BAD Unknown command",
	     "S:* BYE Too many invalid commands", "X"),
	CASE(errors_pipelined_stop_at_close, cf_errors3, GREET,
	     "R:a X\r\nb X\r\nc X\r\nd LOGIN alice secret\r\n", "S:a BAD Unknown command",
	     "S:b BAD Unknown command", "S:c BAD Unknown command",
	     "S:* BYE Too many invalid commands", "X"),
	/* ---- LOGIN ---- */
	CASE(login_then_login_again, NULL, GREET, LOGIN, "C:b LOGIN alice secret",
	     "S:b BAD Command not valid in this state"),
	CASE(login_quoted_escapes, NULL, GREET, "C:a LOGIN \"we ird\" \"p\\\"w\\\\d\"",
	     "S*a OK [CAPABILITY IMAP4rev1", "C:b NOOP", "S:b OK NOOP completed"),
	CASE(login_sync_literals, NULL, GREET, "C:a LOGIN {5}", "S:+ Ready for literal data",
	     "R:alice {6}\r\n", "S:+ Ready for literal data", "C:secret", "S*a OK [CAPABILITY"),
	CASE(login_literal_plus, NULL, GREET, "C:a LOGIN {5+}", "N", "R:alice {6+}\r\nsecret\r\n",
	     "S*a OK [CAPABILITY"),
	CASE(login_literal_zero_and_lf_lines, NULL, GREET, "R:a LOGIN alice {0+}\n\n",
	     "S:a NO [AUTHENTICATIONFAILED] Authentication failed", "R:b LOGIN alice secret\n",
	     "S*b OK [CAPABILITY"),
	CASE(login_failures_and_lockout, NULL, GREET, "C:a LOGIN alice wrong",
	     "S:a NO [AUTHENTICATIONFAILED] Authentication failed", "C:b LOGIN temp x",
	     "S:b NO [UNAVAILABLE] Temporary authentication failure", "C:c LOGIN bob x",
	     "S:c NO [AUTHENTICATIONFAILED] Authentication failed", "C:d LOGIN bob y",
	     "S:d NO [AUTHENTICATIONFAILED] Authentication failed",
	     "S:* BYE Too many authentication failures", "X"),
	CASE(login_syntax, NULL, GREET, "C:a LOGIN", "S:a BAD Expected a space",
	     "C:a LOGIN alice", "S:a BAD Expected a space", "C:a LOGIN alice secret extra",
	     "S:a BAD Unexpected extra arguments", "C:a LOGIN (alice) x",
	     "S:a BAD Expected a string", "C:a LOGIN \"\" x",
	     "S:a NO [AUTHENTICATIONFAILED] Authentication failed", "C:b LOGIN alice secret",
	     "S*b OK"),
	CASE(failed_login_delay, cf_delay, GREET, "C:a LOGIN alice bad", "N", "C:b NOOP", "N",
	     "T:1", "N", "T:1", "S:a NO [AUTHENTICATIONFAILED] Authentication failed",
	     "S:b OK NOOP completed", "C:c LOGIN alice bad", "T:3", "N", "T:1",
	     "S:c NO [AUTHENTICATIONFAILED] Authentication failed", "C:d LOGIN alice secret",
	     "S*d OK [CAPABILITY"),
	CASE(logindisabled_without_tls, cf_tls_required,
	     "S:* OK [CAPABILITY " TLS_CAPS "] " HOST " Sluice IMAP ready", "C:a LOGIN alice secret",
	     "S:a NO [PRIVACYREQUIRED] Plaintext authentication disallowed on non-secure "
	     "connections",
	     "C:b AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==",
	     "S:b NO [PRIVACYREQUIRED] Plaintext authentication disallowed on non-secure "
	     "connections"),
	/* ---- STARTTLS ---- */
	CASE(starttls_upgrade, cf_tls_required, "S** OK", "M:manual", "C:a STARTTLS",
	     "S:a OK Begin TLS negotiation now", "P:TLS", "R:b LOGIN alice secret\r\n", "N",
	     "Q:TLS OK", "N", "C:c CAPABILITY", PREAUTH_CAPS, "S:c OK CAPABILITY completed",
	     "C:d STARTTLS", "S:d BAD TLS is already active", "M:auto", LOGIN),
	CASE(starttls_pipelined_plaintext_discarded, cf_tls_required, "S** OK",
	     "R:a STARTTLS\r\nb LOGIN alice secret\r\n", "S:a OK Begin TLS negotiation now", "N",
	     "C:c NOOP", "S:c OK NOOP completed"),
	CASE(starttls_failure_closes, cf_stls, "S** OK", "M:manual", "C:a STARTTLS", "S*a OK",
	     "Q:TLS FAIL", "X"),
	CASE(starttls_unavailable_and_states, NULL, GREET, "C:a STARTTLS",
	     "S:a BAD STARTTLS is not available", LOGIN, "C:b STARTTLS",
	     "S:b BAD Command not valid in this state"),
	CASE(starttls_args, cf_stls, "S** OK", "C:a STARTTLS now",
	     "S:a BAD Unexpected extra arguments"),
	/* ---- AUTHENTICATE PLAIN ---- */
	CASE(authenticate_sasl_ir, NULL, GREET, "C:a AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==",
	     "S*a OK [CAPABILITY", "C:b AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==",
	     "S:b BAD Command not valid in this state"),
	CASE(authenticate_continuation, NULL, GREET, "C:a authenticate plain", "S:+ ",
	     "C:YWxpY2UAYWxpY2UAc2VjcmV0", "S*a OK [CAPABILITY"),
	CASE(authenticate_errors, NULL, GREET, "C:a AUTHENTICATE PLAIN", "S:+ ", "C:*",
	     "S:a BAD Authentication cancelled", "C:b AUTHENTICATE PLAIN", "S:+ ", "C:not base64",
	     "S:b BAD Invalid base64 in SASL response", "C:c AUTHENTICATE PLAIN =",
	     "S:c BAD Malformed PLAIN response", "C:d AUTHENTICATE PLAIN AGFsaWNlAA==",
	     "S:d BAD Malformed PLAIN response", "C:e AUTHENTICATE CRAM-MD5",
	     "S:e NO [CANNOT] Unsupported authentication mechanism", "C:f AUTHENTICATE",
	     "S:f BAD Expected a space", "C:g AUTHENTICATE PLAIN Ym9iAGFsaWNlAHNlY3JldA==",
	     "S:g NO [AUTHENTICATIONFAILED] Authentication failed"),
	CASE(authenticate_line_too_long, NULL, GREET, "C:a AUTHENTICATE PLAIN", "S:+ ",
	     "C:" A1K A1K A1K A1K A1K A1K A1K A1K A1K, "S:a BAD [LIMIT] Line too long",
	     "C:b NOOP", "S:b OK NOOP completed"),
	/* ---- state rules ---- */
	CASE(commands_before_login, NULL, GREET, "C:a SELECT INBOX", "S:a BAD Log in first",
	     "C:b LIST \"\" *", "S:b BAD Log in first", "C:c FETCH 1 FLAGS", "S:c BAD Log in first",
	     "C:d ENABLE CONDSTORE", "S:d BAD Log in first", "C:e IDLE", "S:e BAD Log in first",
	     "C:f UID FETCH 1 FLAGS", "S:f BAD Log in first"),
	CASE(commands_without_selection, NULL, GREET, LOGIN, "C:a FETCH 1 FLAGS",
	     "S:a BAD No mailbox selected", "C:b EXPUNGE", "S:b BAD No mailbox selected",
	     "C:c CLOSE", "S:c BAD No mailbox selected", "C:d UID SEARCH ALL",
	     "S:d BAD No mailbox selected", "C:e CHECK", "S:e BAD No mailbox selected"),
	CASE(enable_only_when_authenticated, NULL, GREET, LOGIN, SELECT, "C:a ENABLE CONDSTORE",
	     "S:a BAD Command not valid in this state"),
	/* ---- ID, ENABLE, NAMESPACE ---- */
	CASE(id_forms, NULL, GREET, "C:a ID NIL", "S:* ID (\"name\" \"Sluice\" \"vendor\" \"Sluice\")",
	     "S:a OK ID completed", "C:b ID (\"name\" \"mutt\" \"version\" NIL)", "S** ID",
	     "S:b OK ID completed", "C:c ID ()", "S** ID", "S:c OK ID completed", "C:d ID foo",
	     "S:d BAD Expected NIL or a list", "C:e ID (\"k\")", "S:e BAD Expected a space",
	     "C:f ID (\"0123456789012345678901234567890\" NIL)",
	     "S:f BAD [LIMIT] ID parameters too long"),
	CASE(enable_extensions, NULL, GREET, LOGIN, "C:a ENABLE CONDSTORE X-UNKNOWN",
	     "S:* ENABLED CONDSTORE", "S:a OK ENABLE completed", "C:b ENABLE CONDSTORE QRESYNC",
	     "S:* ENABLED QRESYNC", "S:b OK ENABLE completed", "C:c ENABLE IMAP4rev2 UTF8=ACCEPT",
	     "S:* ENABLED IMAP4rev2 UTF8=ACCEPT", "S:c OK ENABLE completed", "C:d ENABLE",
	     "S:d BAD Expected a space"),
	CASE(namespace, NULL, GREET, LOGIN, "C:a NAMESPACE", "S:* NAMESPACE ((\"\" \"/\")) NIL NIL",
	     "S:a OK NAMESPACE completed"),
	/* ---- SELECT / EXAMINE / CLOSE / UNSELECT ---- */
	CASE(select_inbox, NULL, GREET, LOGIN, "C:s1 SELECT inbox", INBOX_SELECT,
	     "S:s1 OK [READ-WRITE] SELECT completed", "C:a CHECK", "S:a OK CHECK completed",
	     "C:b UNSELECT", "S:b OK UNSELECT completed", "C:c CHECK",
	     "S:c BAD No mailbox selected"),
	CASE(examine_is_read_only, NULL, GREET, LOGIN, "C:e EXAMINE INBOX",
	     "S:* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Forwarded Work)",
	     "S:* OK [PERMANENTFLAGS ()] Flags permitted", "S:* 4 EXISTS", "S:* 1 RECENT",
	     "S:* OK [UNSEEN 2] First unseen", "S:* OK [UIDVALIDITY 1000] UIDs valid",
	     "S:* OK [UIDNEXT 8] Predicted next UID", "S:e OK [READ-ONLY] EXAMINE completed",
	     "C:a STORE 1 +FLAGS (\\Seen)", "S:a NO [READ-ONLY] Mailbox is read-only",
	     "C:b EXPUNGE", "S:b NO [READ-ONLY] Mailbox is read-only", "C:c CLOSE",
	     "S:c OK CLOSE completed"),
	CASE(select_errors, NULL, GREET, LOGIN, SELECT, "C:a SELECT Nope",
	     "S:* OK [CLOSED] Previous mailbox closed",
	     "S:a NO [NONEXISTENT] SELECT: mailbox does not exist", "C:b CHECK",
	     "S:b BAD No mailbox selected", "C:c SELECT Archive",
	     "S:c NO [CANNOT] Mailbox is not selectable", "C:d SELECT", "S:d BAD Expected a space",
	     "C:e SELECT INBOX (QRESYNC (1 2))",
	     "S:e BAD QRESYNC is not enabled (ENABLE QRESYNC first)", "C:f SELECT INBOX (FOO)",
	     "S:f BAD Unsupported SELECT parameter"),
	CASE(select_condstore, NULL, GREET, LOGIN, "C:s SELECT INBOX (CONDSTORE)",
	     "W:* OK [UIDNEXT 8]", "S:* OK [HIGHESTMODSEQ 5] Highest",
	     "S:s OK [READ-WRITE] SELECT completed"),
	CASE(select_rev2, NULL, GREET, LOGIN, "C:e ENABLE IMAP4rev2", "S** ENABLED", "S*e OK",
	     "C:s SELECT INBOX", "S** FLAGS", "S** OK [PERMANENTFLAGS", "S:* 4 EXISTS",
	     "S:* OK [UIDVALIDITY 1000] UIDs valid", "S:* OK [UIDNEXT 8] Predicted next UID",
	     "S:* LIST () \"/\" \"INBOX\"", "S:s OK [READ-WRITE] SELECT completed"),
	CASE(select_store_failure, NULL, GREET, LOGIN, "M:manual", "C:s SELECT INBOX",
	     "Q:SELECT FAIL", "S:s NO [UNAVAILABLE] SELECT: temporary failure, try again later"),
	CASE(select_mutf7_name, NULL, GREET, LOGIN, "C:s SELECT T&AOs-st", "W:s OK [READ-WRITE]",
	     "C:t SELECT \"T\xc3\xabst\"", "S:t BAD Mailbox name is not valid modified UTF-7",
	     "C:v SELECT T\xc3\xabst", "S:v BAD Unexpected extra arguments", "C:u SELECT &AOs",
	     "S:u BAD Mailbox name is not valid modified UTF-7"),
	/* ---- CREATE / DELETE / RENAME / (UN)SUBSCRIBE ---- */
	CASE(create_delete_rename, NULL, GREET, LOGIN, "C:a CREATE Work", "S:a OK CREATE completed",
	     "C:b CREATE Work", "S:b NO [ALREADYEXISTS] CREATE: mailbox already exists",
	     "C:c CREATE Work/Sub/", "S:c OK CREATE completed", "C:d RENAME Work Play",
	     "S:d OK RENAME completed", "C:e LIST \"\" Play*", "S:* LIST (\\HasChildren) \"/\" \"Play\"",
	     "S:* LIST (\\HasNoChildren) \"/\" \"Play/Sub\"", "S:e OK LIST completed",
	     "C:f DELETE Play", "S:f OK DELETE completed", "C:g DELETE Play",
	     "S:g NO [INUSE] DELETE: mailbox is in use or has inferiors", "C:h DELETE Play/Sub", "S:h OK DELETE completed",
	     "C:i DELETE Nope", "S:i NO [NONEXISTENT] DELETE: mailbox does not exist", "C:j RENAME Nope X",
	     "S:j NO [NONEXISTENT] RENAME: mailbox does not exist", "C:k RENAME Sent Big",
	     "S:k NO [ALREADYEXISTS] RENAME: mailbox already exists"),
	CASE(create_inbox_and_invalid, NULL, GREET, LOGIN, "C:a CREATE inbox",
	     "S:a NO [ALREADYEXISTS] INBOX always exists", "C:b DELETE INBOX",
	     "S:b NO [CANNOT] INBOX cannot be deleted", "C:c RENAME Sent INBOX",
	     "S:c NO [ALREADYEXISTS] INBOX always exists", "C:d CREATE a*b",
	     "S:d BAD Unexpected extra arguments", "C:e CREATE \"a*b\"",
	     "S:e NO [CANNOT] CREATE: not possible with this mailbox or name", "C:f CREATE", "S:f BAD Expected a space",
	     "C:g RENAME Sent", "S:g BAD Expected a space"),
	CASE(create_special_use, NULL, GREET, LOGIN, "C:a CREATE Outbox (USE (\\Sent \\Drafts))",
	     "S:a OK CREATE completed", "C:b LIST \"\" Outbox",
	     "S:* LIST (\\HasNoChildren \\Sent \\Drafts) \"/\" \"Outbox\"", "S:b OK LIST completed",
	     "C:c CREATE X (USE (\\Important))",
	     "S:c BAD [USEATTR] Unsupported special-use attribute", "C:d CREATE X (FOO)",
	     "S:d BAD Unknown CREATE parameter"),
	CASE(subscribe_unsubscribe, NULL, GREET, LOGIN, "C:a SUBSCRIBE Big",
	     "S:a OK SUBSCRIBE completed", "C:b UNSUBSCRIBE Gone", "S:b OK UNSUBSCRIBE completed",
	     "C:c UNSUBSCRIBE Gone", "S:c NO [NONEXISTENT] UNSUBSCRIBE: mailbox does not exist",
	     "C:d LSUB \"\" *", "S:* LSUB () \"/\" \"Big\"", "S:* LSUB () \"/\" \"INBOX\"",
	     "S:* LSUB () \"/\" \"Sent\"", "S:d OK LSUB completed"),
	CASE(mailbox_op_store_failure, NULL, GREET, LOGIN, "M:manual", "C:a CREATE X", "P:MAILBOX",
	     "Q:MAILBOX FAIL", "S:a NO [UNAVAILABLE] CREATE: temporary failure, try again later"),
	/* ---- LIST / LSUB ---- */
	CASE(list_all, NULL, GREET, LOGIN, "C:a LIST \"\" *",
	     "S:* LIST (\\Noselect \\HasChildren) \"/\" \"Archive\"",
	     "S:* LIST (\\HasNoChildren \\Archive) \"/\" \"Archive/2025\"",
	     "S:* LIST (\\HasNoChildren) \"/\" \"Big\"", "S:* LIST (\\HasNoChildren) \"/\" \"INBOX\"",
	     "S:* LIST (\\HasNoChildren \\Sent) \"/\" \"Sent\"",
	     "S:* LIST (\\HasNoChildren) \"/\" \"T&AOs-st\"", "S:a OK LIST completed"),
	CASE(list_patterns, NULL, GREET, LOGIN, "C:a LIST \"\" %", "S** LIST (\\Noselect",
	     "S:* LIST (\\HasNoChildren) \"/\" \"Big\"", "S:* LIST (\\HasNoChildren) \"/\" \"INBOX\"",
	     "S** LIST (\\HasNoChildren \\Sent)", "S** LIST (\\HasNoChildren) \"/\" \"T&",
	     "S:a OK LIST completed", "C:b LIST Archive/ %",
	     "S:* LIST (\\HasNoChildren \\Archive) \"/\" \"Archive/2025\"", "S:b OK LIST completed",
	     "C:c LIST \"\" inBox", "S:* LIST (\\HasNoChildren) \"/\" \"INBOX\"",
	     "S:c OK LIST completed", "C:d LIST \"\" \"\"", "S:* LIST (\\Noselect) \"/\" \"\"",
	     "S:d OK LIST completed", "C:e LIST \"\" *2025", "S** LIST (\\HasNoChildren \\Archive)",
	     "S:e OK LIST completed", "C:f LIST \"\" (Big Sent)", "S** LIST (\\HasNoChildren) \"/\" \"Big\"",
	     "S** LIST (\\HasNoChildren \\Sent)", "S:f OK LIST completed", "C:g LIST \"\" T&AOs-*",
	     "S:* LIST (\\HasNoChildren) \"/\" \"T&AOs-st\"", "S:g OK LIST completed",
	     "C:h LIST \"\" nothing*", "S:h OK LIST completed"),
	CASE(list_extended_options, NULL, GREET, LOGIN, "C:a LIST (SUBSCRIBED) \"\" *",
	     "S:* LIST (\\HasNoChildren \\Subscribed) \"/\" \"INBOX\"",
	     "S:* LIST (\\HasNoChildren \\Subscribed \\Sent) \"/\" \"Sent\"",
	     "S:* LIST (\\NonExistent \\Subscribed) \"/\" \"Gone\"", "S:a OK LIST completed",
	     "C:b LIST (SPECIAL-USE) \"\" *", "S** LIST (\\HasNoChildren \\Archive)",
	     "S** LIST (\\HasNoChildren) \"/\" \"INBOX\"", "S** LIST (\\HasNoChildren \\Sent)",
	     "S:b OK LIST completed", "C:c LIST \"\" % RETURN (SUBSCRIBED CHILDREN)",
	     "S** LIST (\\Noselect \\HasChildren)", "S** LIST (\\HasNoChildren) \"/\" \"Big\"",
	     "S:* LIST (\\HasNoChildren \\Subscribed) \"/\" \"INBOX\"",
	     "S:* LIST (\\HasNoChildren \\Subscribed \\Sent) \"/\" \"Sent\"",
	     "S** LIST (\\HasNoChildren) \"/\" \"T&", "S:c OK LIST completed",
	     "C:d LIST (FOO) \"\" *", "S:d BAD Unknown LIST selection option",
	     "C:e LIST \"\" * RETURN (FOO)", "S:e BAD Unknown LIST return option",
	     "C:f LIST \"\" * FOO", "S:f BAD Expected RETURN"),
	CASE(list_status, NULL, GREET, LOGIN,
	     "C:a LIST \"\" * RETURN (STATUS (MESSAGES UNSEEN UIDNEXT))",
	     "S** LIST (\\Noselect \\HasChildren) \"/\" \"Archive\"",
	     "S** LIST (\\HasNoChildren \\Archive) \"/\" \"Archive/2025\"",
	     "S:* STATUS \"Archive/2025\" (MESSAGES 0 UIDNEXT 1 UNSEEN 0)",
	     "S** LIST (\\HasNoChildren) \"/\" \"Big\"",
	     "S:* STATUS \"Big\" (MESSAGES 1 UIDNEXT 2 UNSEEN 1)",
	     "S** LIST (\\HasNoChildren) \"/\" \"INBOX\"",
	     "S:* STATUS \"INBOX\" (MESSAGES 4 UIDNEXT 8 UNSEEN 3)", "S** LIST", "S** STATUS \"Sent\"",
	     "S** LIST", "S:* STATUS \"T&AOs-st\" (MESSAGES 0 UIDNEXT 1 UNSEEN 0)",
	     "S:a OK LIST completed"),
	CASE(list_utf8_mode, NULL, GREET, LOGIN, "C:e ENABLE UTF8=ACCEPT", "S** ENABLED",
	     "S*e OK", "C:a LIST \"\" T*", "S:* LIST (\\HasNoChildren) \"/\" \"T\xc3\xabst\"",
	     "S:a OK LIST completed", "C:s SELECT \"T\xc3\xabst\"", "W:s OK [READ-WRITE]"),
	CASE(lsub, NULL, GREET, LOGIN, "C:a LSUB \"\" *", "S:* LSUB () \"/\" \"INBOX\"",
	     "S:* LSUB () \"/\" \"Sent\"", "S:* LSUB (\\Noselect) \"/\" \"Gone\"",
	     "S:a OK LSUB completed", "C:b LSUB \"\" \"\"", "S:b OK LSUB completed", "C:c LSUB x",
	     "S:c BAD Expected a space"),
	CASE(list_store_failure, NULL, GREET, LOGIN, "M:manual", "C:a LIST \"\" *", "Q:LIST FAIL",
	     "S:a NO [UNAVAILABLE] LIST: temporary failure, try again later"),
	/* ---- STATUS ---- */
	CASE(status, NULL, GREET, LOGIN,
	     "C:a STATUS INBOX (MESSAGES UIDNEXT UIDVALIDITY UNSEEN RECENT SIZE HIGHESTMODSEQ)",
	     "S:* STATUS \"INBOX\" (MESSAGES 4 UIDNEXT 8 UIDVALIDITY 1000 UNSEEN 3 RECENT 1 SIZE 170 "
	     "HIGHESTMODSEQ 5)",
	     "S:a OK STATUS completed", "C:b STATUS Nope (MESSAGES)",
	     "S:b NO [NONEXISTENT] STATUS: mailbox does not exist", "C:c STATUS Archive (MESSAGES)",
	     "S:c NO [NONEXISTENT] Mailbox is not selectable", "C:d STATUS INBOX (FOO)",
	     "S:d BAD Unknown STATUS attribute", "C:e STATUS INBOX ()",
	     "S:e BAD Empty STATUS attribute list", "C:f STATUS INBOX MESSAGES",
	     "S:f BAD Expected '('", "C:g STATUS T&AOs-st (MESSAGES)",
	     "S:* STATUS \"T&AOs-st\" (MESSAGES 0)", "S:g OK STATUS completed"),
	/* ---- IDLE ---- */
	CASE(idle, NULL, GREET, LOGIN, "C:a IDLE", "S:+ idling", "C:done",
	     "S:a OK IDLE terminated", "C:b IDLE", "S:+ idling", "C:NOOP", "S:b BAD Expected DONE",
	     "C:c IDLE x", "S:c BAD Unexpected extra arguments"),
	/* ---- literals, limits and hostile input ---- */
	CASE(literal_4294967295_sync, NULL, GREET, "C:a LOGIN {4294967295}",
	     "S:a BAD [LIMIT] Literal too large", "C:b NOOP", "S:b OK NOOP completed"),
	CASE(literal_4294967295_nonsync_closes, NULL, GREET, "R:a LOGIN {4294967295+}\r\nxxxx",
	     "S:a BAD [LIMIT] Literal too large", "S:* BYE Literal too large", "X"),
	CASE(literal_overflowing_number, NULL, GREET,
	     "C:a LOGIN {99999999999999999999999999999}", "S:a BAD [LIMIT] Literal too large",
	     "C:b NOOP", "S:b OK NOOP completed"),
	CASE(literal_preauth_limit, NULL, GREET, "C:a LOGIN alice {1025}",
	     "S:a BAD [LIMIT] Literal too large", "C:b LOGIN alice {1024}",
	     "S:+ Ready for literal data", "R:" A1K "\r\n",
	     "S:b NO [AUTHENTICATIONFAILED] Authentication failed"),
	CASE(literal_postauth_limit, cf_small, GREET, LOGIN, "C:a SELECT {1501}",
	     "S:a BAD [LIMIT] Literal too large", "C:b CREATE {1500}",
	     "S:+ Ready for literal data", "R:" A1K "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	     "aaaaaaaa\r\n",
	     "S:b BAD Mailbox name too long"),
	CASE(command_too_long_in_total, cf_small, GREET, LOGIN, "C:a ID (\"k\" {900}",
	     "S:+ Ready for literal data",
	     "R:" A64 A64 A64 A64 A64 A64 A64 A64 A64 A64 A64 A64 A64 A64 "aaaa \"k2\" {1100}\r\n",
	     "S:a BAD [LIMIT] Literal too large", "C:b NOOP", "S:b OK NOOP completed"),
	CASE(literal_minus_is_not_syntax, NULL, GREET, "C:a LOGIN alice {6-}",
	     "S:a BAD Invalid literal"),
	CASE(literal_then_junk, NULL, GREET, "C:a LOGIN {5}", "S:+ Ready for literal data",
	     "R:alice{6}\r\n", "S:+ Ready for literal data", "C:secret",
	     "S:a BAD Expected a space"),
	CASE(literal_brace_inside_quotes, NULL, GREET, "C:a LOGIN \"x{5}\" y",
	     "S:a NO [AUTHENTICATIONFAILED] Authentication failed", "C:b LOGIN \"unterminated{5}",
	     "S:b BAD Unterminated quoted string"),
	CASE(literal_bytes_never_commands, NULL, GREET, "C:a LOGIN {13+}",
	     "R:b LOGOUT\r\nxx x\r\n", "S:a BAD Expected a space", "C:c NOOP",
	     "S:c OK NOOP completed"),
	CASE(nul_in_quoted_string, NULL, GREET, "C:a LOGIN \"al^@ice\" secret",
	     "S:a BAD NUL in quoted string", "C:b NOOP", "S:b OK NOOP completed"),
	CASE(nul_in_literal, NULL, GREET, "C:a LOGIN {5+}", "R:al^@ce secret\r\n",
	     "S:a BAD NUL in literal", "C:b NOOP", "S:b OK NOOP completed"),
	CASE(cr_and_bad_escapes, NULL, GREET, "R:a LOGIN \"a\rb\" c\r\n",
	     "S:a BAD Unterminated quoted string", "C:b LOGIN \"a\\b\" c",
	     "S:b BAD Invalid escape in quoted string"),
	CASE(nesting_preauth, NULL, GREET, "C:a ID ((\"a\" \"b\"))",
	     "S:a BAD Expected a string", "C:b ID (((x)))",
	     "S:b BAD [LIMIT] Too many nested parentheses", "C:c NOOP", "S:c OK NOOP completed"),
	CASE(nesting_postauth, cf_small, GREET, LOGIN, SELECT, "C:a SEARCH (((((ALL)))))",
	     "S:a BAD [LIMIT] Too many nested parentheses", "C:b SEARCH ((((ALL))))",
	     "S:* SEARCH 1 2 3 4", "S:b OK SEARCH completed"),
	CASE(nesting_deep_dropped_as_it_arrives, NULL, GREET, LOGIN,
	     "C:a SEARCH " PAR8 PAR8 PAR8 PAR8 PAR8 PAR8 PAR8 PAR8 "ALL" CLO8,
	     "S:a BAD [LIMIT] Too many nested parentheses", "C:b NOOP", "S:b OK NOOP completed"),
	CASE(line_too_long, NULL, GREET, "C:a NOOP " A1K A1K A1K A1K A1K A1K A1K A1K A1K,
	     "S:a BAD [LIMIT] Line too long", "C:b NOOP", "S:b OK NOOP completed"),
	CASE(line_too_long_then_literal, NULL, GREET,
	     "C:a NOOP " A1K A1K A1K A1K A1K A1K A1K A1K A1K " {5}",
	     "S:a BAD [LIMIT] Line too long", "C:b NOOP", "S:b OK NOOP completed"),
	CASE(line_too_long_then_nonsync_literal_skipped, NULL, GREET,
	     "C:a NOOP " A1K A1K A1K A1K A1K A1K A1K A1K A1K " {11+}", "R:b LOGOUT\r\n\r\n",
	     "S:a BAD [LIMIT] Line too long", "C:c NOOP", "S:c OK NOOP completed"),
	CASE(huge_sequence_set, cf_small, GREET, LOGIN, SELECT,
	     "C:a FETCH 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17 FLAGS",
	     "S:a BAD [LIMIT] Too many ranges in the sequence set",
	     "C:b FETCH 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16 UID", "S:b BAD Invalid message sequence number",
	     "C:c FETCH 1,1,2,2,3,3,4,4,1,1,2,2,3,3,4,4 UID", "S:* 1 FETCH (UID 1)",
	     "S:* 2 FETCH (UID 2)", "S:* 3 FETCH (UID 4)", "S:* 4 FETCH (UID 7)",
	     "S:c OK FETCH completed"),
	CASE(timeouts_preauth, NULL, GREET, "T:59", "N", "C:a NOOP", "S:a OK NOOP completed",
	     "T:59", "N", "T:1", "S:* BYE Disconnected for inactivity", "X"),
	CASE(timeouts_postauth, NULL, GREET, LOGIN, "T:1799", "N", "T:1",
	     "S:* BYE Disconnected for inactivity", "X"),
};

/* ---- modified UTF-7 ---- */

static void test_mutf7(void **state)
{
	static const struct {
		const char *utf8, *wire;
	} ok[] = {
		{"INBOX", "INBOX"},
		{"", ""},
		{"a&b", "a&-b"},
		{"&", "&-"},
		{"&&", "&-&-"},
		{"T\xc3\xabst", "T&AOs-st"},
		{"~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
		 "~peter/mail/&U,BTFw-/&ZeVnLIqe-"}, /* RFC 3501 §5.1.3 */
		{"\xc3\xa9\xc3\xa9\xc3\xa9", "&AOkA6QDp-"},
		{"\xf0\x9f\x98\x80", "&2D3eAA-"},     /* U+1F600: a surrogate pair */
		{"x\xc3\xa9y\xc3\xa9", "x&AOk-y&AOk-"},
		{"\x01", "&AAE-"},
	};
	static const char *const bad_wire[] = {
		"&",          /* unterminated */
		"&AOk",       /* unterminated run */
		"&-AOk-",     /* fine "&", then "AOk-" is plain text: actually valid */
		"&AGE-",      /* 'a' shifted: must stand for itself */
		"&AOk-&AOk-", /* two adjacent shifts */
		"&AOl-",      /* non-zero padding bits */
		"&AOkA-",     /* a spare base64 character */
		"&2D0-",      /* a lone high surrogate */
		"&3gA-",      /* a lone low surrogate */
		"&2D3YPQ-",   /* high surrogate followed by another high */
		"&AAA-",      /* U+0000 */
		"a\xc3\xa9",  /* 8-bit on the wire */
		"&A/k-",      /* '/' is not modified base64 */
		"&*-",        /* not base64 */
		"\t",         /* control */
	};
	static const char *const bad_utf8[] = {
		"\xc3",             /* truncated */
		"\xc0\xaf",         /* overlong */
		"\xed\xa0\x80",     /* surrogate */
		"\xf4\x90\x80\x80", /* > U+10FFFF */
		"\xff",
		"a\x00b",
	};
	char out[256];

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		long k = imap_mutf7_encode((const uint8_t *)ok[i].utf8, strlen(ok[i].utf8), out,
					   sizeof(out));

		if (k < 0 || strcmp(out, ok[i].wire) != 0)
			fail_msg("encode \"%s\": \"%s\", expected \"%s\"", ok[i].utf8, k < 0 ? "-" : out,
				 ok[i].wire);
		k = imap_mutf7_decode((const uint8_t *)ok[i].wire, strlen(ok[i].wire), out,
				      sizeof(out));
		if (k < 0 || strcmp(out, ok[i].utf8) != 0)
			fail_msg("decode \"%s\" failed", ok[i].wire);
	}
	for (size_t i = 0; i < sizeof(bad_wire) / sizeof(bad_wire[0]); i++) {
		long k = imap_mutf7_decode((const uint8_t *)bad_wire[i], strlen(bad_wire[i]), out,
					   sizeof(out));

		if (i == 2) {
			assert_true(k >= 0 && !strcmp(out, "&AOk-"));
			continue;
		}
		if (k >= 0)
			fail_msg("decode of \"%s\" should fail, gave \"%s\"", bad_wire[i], out);
	}
	for (size_t i = 0; i < sizeof(bad_utf8) / sizeof(bad_utf8[0]); i++) {
		size_t n = i == 5 ? 3 : strlen(bad_utf8[i]);

		assert_true(imap_mutf7_encode((const uint8_t *)bad_utf8[i], n, out, sizeof(out)) < 0);
	}
	/* output too small */
	assert_true(imap_mutf7_encode((const uint8_t *)"\xc3\xa9\xc3\xa9", 4, out, 5) < 0);
	assert_true(imap_mutf7_encode((const uint8_t *)"abc", 3, out, 3) < 0);
	assert_true(imap_mutf7_decode((const uint8_t *)"abc", 3, out, 3) < 0);
	assert_true(imap_mutf7_decode((const uint8_t *)"abc", 3, out, 0) < 0);
	/* every BMP character round-trips */
	for (uint32_t cp = 1; cp < 0x10000; cp++) {
		char u[8], w[32], back[8];
		size_t n = 0;
		long k;

		if (cp >= 0xd800 && cp <= 0xdfff)
			continue;
		if (cp < 0x80) {
			u[n++] = (char)cp;
		} else if (cp < 0x800) {
			u[n++] = (char)(0xc0 | (cp >> 6));
			u[n++] = (char)(0x80 | (cp & 0x3f));
		} else {
			u[n++] = (char)(0xe0 | (cp >> 12));
			u[n++] = (char)(0x80 | ((cp >> 6) & 0x3f));
			u[n++] = (char)(0x80 | (cp & 0x3f));
		}
		k = imap_mutf7_encode((const uint8_t *)u, n, w, sizeof(w));
		assert_true(k > 0);
		k = imap_mutf7_decode((const uint8_t *)w, (size_t)k, back, sizeof(back));
		assert_int_equal(k, (long)n);
		assert_memory_equal(back, u, n);
	}
}

static void test_list_match(void **state)
{
	static const struct {
		const char *pat, *name;
		bool match;
	} t[] = {
		{"*", "INBOX", true},        {"*", "a/b/c", true},       {"%", "a/b", false},
		{"%", "a", true},            {"a/%", "a/b", true},       {"a/%", "a/b/c", false},
		{"a/*", "a/b/c", true},      {"a*c", "abc", true},       {"a*c", "a/b/c", true},
		{"a%c", "a/c", false},       {"a%c", "abbc", true},      {"", "", true},
		{"", "a", false},            {"INBOX", "INBOX", true},   {"INBOX", "INBOX2", false},
		{"%/%", "a/b", true},        {"%/%", "a", false},        {"*%*", "x", true},
		{"a**b", "ab", true},        {"%%%%%%%%%%%%%%%%%%%%x", "yyyyyyyyyyyyyyyyyyyyyyyyyyx", true},
		{"*a*a*a*a*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaac", false},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (imap_list_match((const uint8_t *)t[i].pat, strlen(t[i].pat),
				    (const uint8_t *)t[i].name, strlen(t[i].name)) != t[i].match)
			fail_msg("match(\"%s\", \"%s\") != %d", t[i].pat, t[i].name, t[i].match);
}

/* ---- input split at every byte ---- */

static void split_run(const char *in, size_t n, size_t cut, sl_buf_t *out_r)
{
	struct h h;

	h_init(&h, NULL, 0, "split");
	h_pump(&h);
	h_send(&h, in, cut);
	h_send(&h, in + cut, n - cut);
	sl_buf_init(out_r, 1u << 24);
	assert_int_equal(sl_buf_append(out_r, h.out.data ? (const void *)h.out.data : "", h.out.len),
			 0);
	assert_int_equal(sl_buf_append(out_r, "", 1), 0);
	h_fini(&h);
}

static void split_check(const char *in, const char *must)
{
	size_t n = strlen(in);
	sl_buf_t ref;

	split_run(in, n, n, &ref);
	if (!strstr((const char *)ref.data, must))
		fail_msg("reference transcript lacks \"%s\":\n%s", must, (const char *)ref.data);
	for (size_t cut = 0; cut < n; cut++) {
		sl_buf_t o;

		split_run(in, n, cut, &o);
		if (o.len != ref.len || memcmp(o.data, ref.data, o.len) != 0)
			fail_msg("cut at %zu: transcripts differ:\n%s\n---\n%s", cut, (char *)o.data,
				 (char *)ref.data);
		sl_buf_free(&o);
	}
	sl_buf_free(&ref);
}

static void test_split_every_boundary(void **state)
{
	(void)state;
	split_check("a CAPABILITY\r\nb LOGIN {5+}\r\nalice \"secret\"\r\nc ID (\"x\" NIL)\r\n"
		    "d LIST \"\" %\r\ne SELECT INBOX\r\nf FETCH 1:* (UID FLAGS RFC822.SIZE)\r\n"
		    "g UID FETCH 2 BODY.PEEK[HEADER.FIELDS (Subject)]\r\nh FETCH 1 BODY[]<5.10>\r\n"
		    "i STORE 2 +FLAGS (\\Answered)\r\nj SEARCH UNSEEN NOT DELETED\r\n"
		    "k STATUS Sent (MESSAGES)\r\nl EXPUNGE\r\nm LOGOUT\r\n",
		    "m OK LOGOUT completed");
	split_check("a AUTHENTICATE PLAIN\r\nAGFsaWNlAHNlY3JldA==\r\nb CREATE {4}\r\nWork\r\n"
		    "c IDLE\r\nDONE\r\nd X {3+}\r\nabc\r\ne LOGOUT\r\n",
		    "e OK LOGOUT completed");
}

/* ---- API edges ---- */

static void test_config_validation(void **state)
{
	struct imap_config c;
	struct imap_peer p = {.client_ip = "192.0.2.1"};
	imap_session_t *s = (imap_session_t *)&c;

	(void)state;
	imap_config_defaults(&c);
	assert_int_equal(imap_session_create(&c, &p, 0, &s), SL_EINVAL);
	assert_null(s);
	c.hostname = HOST;
#define BAD(field, v)                                                           \
	do {                                                                    \
		struct imap_config b = c;                                       \
		b.field = v;                                                    \
		assert_int_equal(imap_session_create(&b, &p, 0, &s), SL_EINVAL); \
	} while (0)
	BAD(line_max, 999);
	BAD(cmd_max, 999);
	BAD(literal_max, c.cmd_max + 1);
	BAD(preauth_literal_max, 100);
	BAD(nesting_max, 1);
	BAD(nesting_max, 65);
	BAD(preauth_nesting_max, 0);
	BAD(seqset_max, 15);
	BAD(view_max, 0);
	BAD(errors_max, 0);
	BAD(auth_failures_max, 0);
	BAD(body_chunk_max, 100);
	BAD(header_max, 100);
	BAD(output_max, 1000);
#undef BAD
	assert_int_equal(imap_session_create(&c, NULL, 0, &s), SL_EINVAL);
	assert_int_equal(imap_session_create(&c, &p, 0, &s), 0);
	assert_int_equal(imap_session_state(s), IMAP_STATE_NOT_AUTH);
	assert_false(imap_session_tls_active(s));
	assert_int_equal(imap_session_user(s).len, 0);
	assert_int_equal(imap_session_enabled(s), 0);
	imap_session_destroy(&s);
	assert_null(s);
}

static void test_completions_out_of_place(void **state)
{
	struct h h;
	struct imap_mailbox_info mi;
	struct imap_msg_meta mm;
	const struct imap_request *r;
	size_t used;

	(void)state;
	memset(&mi, 0, sizeof(mi));
	memset(&mm, 0, sizeof(mm));
	h_init(&h, NULL, 0, "completions");
	h.manual = true;
	h_pump(&h);
	assert_int_equal(imap_session_auth_done(h.s, h.now, IMAP_AUTH_OK, NULL), SL_ESTATE);
	assert_int_equal(imap_session_tls_done(h.s, h.now, true), SL_ESTATE);
	assert_int_equal(imap_session_mailbox_done(h.s, h.now, 0), SL_ESTATE);
	assert_int_equal(imap_session_list_entry(h.s, &mi), SL_ESTATE);
	assert_int_equal(imap_session_list_done(h.s, h.now, 0), SL_ESTATE);
	assert_int_equal(imap_session_status_done(h.s, h.now, 0, &mi), SL_ESTATE);
	assert_int_equal(imap_session_select_msg(h.s, 1, 0, false), SL_ESTATE);
	assert_int_equal(imap_session_select_done(h.s, h.now, 0, &mi, NULL, 0), SL_ESTATE);
	assert_int_equal(imap_session_fetch_msg(h.s, &mm), SL_ESTATE);
	assert_int_equal(imap_session_fetch_done(h.s, h.now, 0), SL_ESTATE);
	assert_int_equal(imap_session_body_data(h.s, sl_slice_make("x", 1)), SL_ESTATE);
	assert_int_equal(imap_session_body_done(h.s, h.now, 0), SL_ESTATE);
	assert_int_equal(imap_session_store_done(h.s, h.now, 0), SL_ESTATE);
	assert_int_equal(imap_session_expunged(h.s, 1), SL_ESTATE);
	assert_int_equal(imap_session_expunge_done(h.s, h.now, 0), SL_ESTATE);
	assert_int_equal(imap_session_copy_done(h.s, h.now, 0, 0, NULL, 0, 0), SL_ESTATE);
	h_send(&h, "a LOGIN alice secret\r\n", 22);
	r = imap_session_request(h.s);
	assert_non_null(r);
	assert_int_equal(r->kind, IMAP_REQ_AUTH);
	assert_true(slice_is(r->u.auth.mechanism, "LOGIN"));
	assert_true(slice_is(r->u.auth.authcid, "alice"));
	assert_true(slice_is(r->u.auth.password, "secret"));
	assert_true(imap_session_deadline(h.s) == SL_TIME_NEVER);
	assert_int_equal(imap_session_auth_done(h.s, h.now, IMAP_AUTH_OK, NULL), 0);
	assert_true(slice_is(imap_session_user(h.s), "alice"));
	assert_int_equal(imap_session_state(h.s), IMAP_STATE_AUTH);
	assert_true(imap_session_deadline(h.s) == h.now + h.cfg.timeout_us);
	h_send(&h, "s SELECT INBOX\r\n", 16);
	r = imap_session_request(h.s);
	assert_non_null(r);
	assert_int_equal(r->kind, IMAP_REQ_SELECT);
	assert_int_equal(r->u.select.name.ptr[r->u.select.name.len], 0);
	assert_int_equal(imap_session_select_msg(h.s, 0, 0, false), SL_EINVAL);
	assert_int_equal(imap_session_select_msg(h.s, 5, 0, false), 0);
	assert_int_equal(imap_session_select_msg(h.s, 5, 0, false), SL_EINVAL);
	assert_int_equal(imap_session_select_msg(h.s, 3, 0, false), SL_EINVAL);
	mi.name = SL_SLICE_LIT("INBOX");
	mi.uidvalidity = 9;
	mi.uidnext = 6;
	{
		sl_slice_t kw[2] = {SL_SLICE_LIT("ok"), SL_SLICE_LIT("bad word")};

		assert_int_equal(imap_session_select_done(h.s, h.now, 0, &mi, kw, 2), 0);
	}
	h_drain(&h);
	/* a keyword that is not an atom is never sent */
	assert_non_null(memmem(h.out.data, h.out.len, "\\Draft ok)", 10));
	assert_null(memmem(h.out.data, h.out.len, "bad word", 8));
	assert_int_equal(imap_session_state(h.s), IMAP_STATE_SELECTED);
	imap_session_shutdown(h.s, h.now, NULL);
	assert_true(imap_session_closing(h.s));
	assert_int_equal(imap_session_input(h.s, h.now, "a NOOP\r\n", 8, &used), SL_ECLOSED);
	assert_int_equal(used, 8);
	assert_int_equal(imap_session_timeout(h.s, h.now), SL_ECLOSED);
	assert_int_equal(imap_session_auth_done(h.s, h.now, IMAP_AUTH_OK, NULL), SL_ECLOSED);
	assert_true(imap_session_deadline(h.s) == SL_TIME_NEVER);
	imap_session_shutdown(h.s, h.now, NULL);
	h_drain(&h);
	assert_non_null(memmem(h.out.data, h.out.len, "* BYE Server shutting down\r\n", 28));
	h_fini(&h);
}

/* Destroy with every kind of request outstanding (ASan finds leaks). */
static void test_destroy_mid_request(void **state)
{
	static const char *const pre[] = {
		"a LOGIN alice secret\r\n",
		"a STARTTLS\r\n",
		"a LOGIN alice secret\r\nb CREATE x\r\n",
		"a LOGIN alice secret\r\nb LIST \"\" *\r\n",
		"a LOGIN alice secret\r\nb STATUS INBOX (MESSAGES)\r\n",
		"a LOGIN alice secret\r\nb SELECT INBOX\r\n",
		"a LOGIN alice secret\r\nb SELECT INBOX\r\nc FETCH 1 BODY[]\r\n",
		"a LOGIN alice secret\r\nb SELECT INBOX\r\nc SEARCH ALL\r\n",
		"a LOGIN alice secret\r\nb SELECT INBOX\r\nc STORE 1 FLAGS ()\r\n",
		"a LOGIN alice secret\r\nb SELECT INBOX\r\nc EXPUNGE\r\n",
		"a LOGIN alice secret\r\nb SELECT INBOX\r\nc MOVE 1 Sent\r\n",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(pre) / sizeof(pre[0]); i++) {
		struct h h;
		const char *p = pre[i];

		h_init(&h, cf_stls, 0, "destroy");
		h.manual = true;
		h_pump(&h);
		/* run every command but the last to completion */
		for (;;) {
			const char *nl = strstr(p, "\r\n");

			h_send(&h, p, (size_t)(nl - p) + 2);
			p = nl + 2;
			if (*p == '\0')
				break;
			while (imap_session_request(h.s))
				h_autocomplete(&h);
			h_pump(&h);
		}
		assert_non_null(imap_session_request(h.s));
		h_fini(&h);
	}
}

static void test_stats(void **state)
{
	static const char *const script[] = {GREET, "C:a LOGIN alice nope", "S*a NO", LOGIN,
					     SELECT, "C:b FETCH 1:2 BODY.PEEK[]", "W:b OK",
					     "C:c STORE 1 +FLAGS.SILENT (\\Deleted)", "S:c OK STORE completed",
					     "C:d EXPUNGE", "S:* 1 EXPUNGE", "S:* 2 EXPUNGE",
					     "S:* 2 EXPUNGE", "S:d OK EXPUNGE completed",
					     "C:e SEARCH ALL", "W:e OK", "C:f BOGUS", "S:f BAD Unknown command",
					     "C:g LOGIN {5}", "S:+ Ready for literal data", "C:alice x",
					     "S:g BAD Command not valid in this state",
					     NULL};
	struct h h;
	struct imap_stats sum;
	sl_buf_t b;

	(void)state;
	h_init(&h, NULL, 0, "stats");
	h_run(&h, script);
	assert_int_equal(h.stats.sessions, 1);
	assert_int_equal(h.stats.auth_failure, 1);
	assert_int_equal(h.stats.auth_success, 1);
	assert_int_equal(h.stats.selects, 1);
	assert_int_equal(h.stats.fetch_msgs, 2);
	assert_int_equal(h.stats.body_bytes, sizeof(fs_body1) - 1 + sizeof(fs_body2) - 1);
	assert_int_equal(h.stats.stores, 1);
	assert_int_equal(h.stats.expunged, 3);
	assert_int_equal(h.stats.searches, 1);
	assert_int_equal(h.stats.bad, 2);
	assert_int_equal(h.stats.no, 1);
	assert_int_equal(h.stats.literals, 1);
	assert_int_equal(h.stats.commands, 9);
	memset(&sum, 0, sizeof(sum));
	imap_stats_add(&sum, &h.stats);
	imap_stats_add(&sum, &h.stats);
	assert_int_equal(sum.expunged, 6);
	sl_buf_init(&b, 1 << 16);
	assert_int_equal(imap_stats_format(&sum, &b), 0);
	assert_non_null(memmem(b.data, b.len, "imap.expunged 6\n", 16));
	sl_buf_free(&b);
	sl_buf_init(&b, 10);
	assert_int_equal(imap_stats_format(&sum, &b), SL_ELIMIT);
	sl_buf_free(&b);
	h_fini(&h);
}

int main(void)
{
	static const struct CMUnitTest fixed[] = {
		cmocka_unit_test(test_mutf7),
		cmocka_unit_test(test_list_match),
		cmocka_unit_test(test_split_every_boundary),
		cmocka_unit_test(test_config_validation),
		cmocka_unit_test(test_completions_out_of_place),
		cmocka_unit_test(test_destroy_mid_request),
		cmocka_unit_test(test_stats),
	};

	return run_cases("imap", cases, sizeof(cases) / sizeof(cases[0]), fixed,
			 sizeof(fixed) / sizeof(fixed[0]));
}
