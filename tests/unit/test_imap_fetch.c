/* test_imap_fetch - FETCH, STORE, SEARCH, EXPUNGE, COPY and MOVE of the
 * IMAP engine, as transcripts against the fake store of
 * test_imap_harness.h, plus the resumption of long responses (the glue
 * told to stop and asked again) and body streaming under backpressure.
 *
 * INBOX of the fixture:
 *   msn uid flags              kw          internal date (zone)      size
 *   1   1   \Seen                          2026-01-01 00:00 +0000     68
 *   2   2                      $Forwarded  2026-01-15 13:00 +0100     69
 *   3   4   \Flagged \Deleted              2026-01-31 19:00 -0500     17
 *   4   7   \Deleted, \Recent              2026-03-01 00:00 +0000     16 (no body) */
#include "test_imap_harness.h"

#include "imap/imap_private.h"

static void cf_appendlimit(struct imap_config *c, struct imap_peer *p)
{
	(void)p;
	c->appendlimit = 1024;
	c->literal_max = 256;
}

#define RECENT4 "FLAGS (\\Deleted \\Recent)"
#define A64 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define A1K A64 A64 A64 A64 A64 A64 A64 A64 A64 A64 A64 A64 A64 A64 A64 A64
#define LOGIN_LIMITED "C:a1 LOGIN alice secret", "S*a1 OK [CAPABILITY"

static const struct tcase cases[] = {
	/* ---- FETCH: metadata ---- */
	CASE(fetch_metadata, NULL, GREET, LOGIN, SELECT,
	     "C:a FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE)",
	     "S:* 1 FETCH (UID 1 FLAGS (\\Seen) RFC822.SIZE 68 INTERNALDATE \" 1-Jan-2026 00:00:00 +0000\")",
	     "S:* 2 FETCH (UID 2 FLAGS ($Forwarded) RFC822.SIZE 69 INTERNALDATE \"15-Jan-2026 13:00:00 +0100\")",
	     "S:* 3 FETCH (UID 4 FLAGS (\\Flagged \\Deleted) RFC822.SIZE 17 INTERNALDATE \"31-Jan-2026 19:00:00 -0500\")",
	     "S:* 4 FETCH (UID 7 " RECENT4 " RFC822.SIZE 16 INTERNALDATE \" 1-Mar-2026 00:00:00 +0000\")",
	     "S:a OK FETCH completed", "C:b FETCH 2 FAST",
	     "S:* 2 FETCH (FLAGS ($Forwarded) RFC822.SIZE 69 INTERNALDATE \"15-Jan-2026 13:00:00 +0100\")",
	     "S:b OK FETCH completed", "C:c fetch 3 flags", "S:* 3 FETCH (FLAGS (\\Flagged \\Deleted))",
	     "S:c OK FETCH completed", "C:d FETCH * UID", "S:* 4 FETCH (UID 7)",
	     "S:d OK FETCH completed", "C:e FETCH 4:2 UID", "S:* 2 FETCH (UID 2)",
	     "S:* 3 FETCH (UID 4)", "S:* 4 FETCH (UID 7)", "S:e OK FETCH completed"),
	CASE(fetch_uid_forms, NULL, GREET, LOGIN, SELECT, "C:a UID FETCH 4:6 FLAGS",
	     "S:* 3 FETCH (UID 4 FLAGS (\\Flagged \\Deleted))", "S:a OK FETCH completed",
	     "C:b UID FETCH 100:* FLAGS", "S:* 4 FETCH (UID 7 " RECENT4 ")", "S:b OK FETCH completed",
	     "C:c UID FETCH 3,5:6 FLAGS", "S:c OK FETCH completed", "C:d UID FETCH 1:* RFC822.SIZE",
	     "S:* 1 FETCH (UID 1 RFC822.SIZE 68)", "S:* 2 FETCH (UID 2 RFC822.SIZE 69)",
	     "S:* 3 FETCH (UID 4 RFC822.SIZE 17)", "S:* 4 FETCH (UID 7 RFC822.SIZE 16)",
	     "S:d OK FETCH completed"),
	CASE(fetch_errors, NULL, GREET, LOGIN, SELECT, "C:a FETCH 5 FLAGS",
	     "S:a BAD Invalid message sequence number", "C:b FETCH 0 FLAGS",
	     "S:b BAD Invalid sequence set: 0", "C:c FETCH 1 (FLAGS FOO)",
	     "S:c BAD Unknown FETCH attribute", "C:d FETCH 1 BINARY[1.TEXT]",
	     "S:d BAD Expected ']'", "C:e FETCH 1 BINARY.SIZE[1]<0.1>",
	     "S:e BAD Unexpected extra arguments", "C:f FETCH 1 BODY[HEADER.FIELDS ()]",
	     "S:f BAD Expected a string", "C:g FETCH 1 ()", "S:g BAD Empty FETCH attribute list",
	     "C:h FETCH 1 BODY[FOO]", "S:h BAD Invalid section", "C:i FETCH 1 BODY[]<1>",
	     "S:i BAD Invalid partial", "C:j FETCH 1 BODY[]<1.0>", "S:j BAD Zero is not allowed here",
	     "C:k FETCH 1 BODY.PEEK", "S:k BAD Expected a section", "C:l FETCH 1 FLAGS (FOO 1)",
	     "S:l BAD Unknown FETCH modifier", "C:m FETCH 1:x FLAGS", "S:m BAD Invalid sequence set",
	     "C:n FETCH 1 FLAGS)", "S:n BAD Unexpected extra arguments", "C:o FETCH 1 BODY[",
	     "S:o BAD Expected a FETCH attribute", "C:p FETCH 4294967296 FLAGS",
	     "S:p BAD Number too large"),
	/* MIME part sections: the glue resolves each to a byte range */
	CASE(fetch_mime_parts, NULL, GREET, LOGIN, SELECT, "C:a FETCH 2 BODY.PEEK[1]",
	     "S:* 2 FETCH (BODY[1] {25}", "S:Body two line 1", "S:line 2", "S:)",
	     "S:a OK FETCH completed", "C:b FETCH 2 BODY.PEEK[1.MIME]<0.7>",
	     "S:* 2 FETCH (BODY[1.MIME]<0> {7}", "S:Subject)", "S:b OK FETCH completed",
	     "C:c FETCH 2 (BODY.PEEK[2] BODY.PEEK[1.TEXT] BODY.PEEK[1]<5.3>)",
	     "S:* 2 FETCH (BODY[2] {0}", "S: BODY[1.TEXT] {0}", "S: BODY[1]<5> {3}", "S:two)",
	     "S:c OK FETCH completed", "C:d FETCH 2 BODY.PEEK[7]", "S:* 2 FETCH (BODY[7] {0}",
	     "S:)", "S:d NO [UNAVAILABLE] Some message structures are not available",
	     "C:e FETCH 2 BODY[0]", "S:e BAD Invalid section part", "C:f FETCH 2 BODY[1.FOO]",
	     "S:f BAD Invalid section",
	     "C:g FETCH 2 BODY[1.2.3.4.5.6.7.8.9.10.11.12.13.14.15.16.17.18.19.20.21.22.23.24.25.26.27.28.29.30.31.32.33]",
	     "S:g BAD [LIMIT] Section part nested too deep", "C:h FETCH 2 BODY[1234567890]",
	     "S:h BAD Invalid section part", "C:i FETCH 1:2 BODY[1]",
	     "S** 1 FETCH (FLAGS (\\Seen) BODY[1] {12}", "S:Hello one.", "S:)",
	     "S** 2 FETCH (FLAGS (\\Seen $Forwarded) BODY[1] {25}", "S:Body two line 1",
	     "S:line 2", "S:)", "S:i OK FETCH completed"),
	CASE(fetch_structure_from_cache, NULL, GREET, LOGIN, SELECT, "O:structure",
	     "C:a FETCH 1 (ENVELOPE BODY BODYSTRUCTURE)",
	     "S:* 1 FETCH (ENVELOPE (\"env\") BODY (\"b\") BODYSTRUCTURE (\"bs\"))",
	     "S:a OK FETCH completed", "C:b FETCH 1 ALL",
	     "S:* 1 FETCH (FLAGS (\\Seen) RFC822.SIZE 68 INTERNALDATE \" 1-Jan-2026 00:00:00 +0000\" ENVELOPE (\"env\"))",
	     "S:b OK FETCH completed", "C:c FETCH 2 FULL", "S** 2 FETCH (FLAGS ($Forwarded)",
	     "S:c OK FETCH completed"),
	CASE(fetch_structure_missing, NULL, GREET, LOGIN, SELECT, "C:a FETCH 1 ENVELOPE",
	     "S:* 1 FETCH (ENVELOPE (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL))",
	     "S:a NO [UNAVAILABLE] Some message structures are not available"),
	CASE(fetch_modseq_changedsince, NULL, GREET, LOGIN, SELECT, "C:a FETCH 1 MODSEQ",
	     "S:* 1 FETCH (MODSEQ (2))", "S:a OK FETCH completed",
	     "C:b FETCH 1:* (FLAGS) (CHANGEDSINCE 3)",
	     "S:* 3 FETCH (FLAGS (\\Flagged \\Deleted) MODSEQ (4))",
	     "S:* 4 FETCH (" RECENT4 " MODSEQ (5))", "S:b OK FETCH completed",
	     "C:c UID FETCH 1:* UID (CHANGEDSINCE 5)", "S:c OK FETCH completed",
	     "C:d FETCH 1 FLAGS (CHANGEDSINCE 0)", "S:d BAD CHANGEDSINCE must be positive"),
	/* ---- FETCH: body sections ---- */
	CASE(fetch_body_full_sets_seen, NULL, GREET, LOGIN, SELECT, "C:a FETCH 1 BODY[]",
	     "S:* 1 FETCH (FLAGS (\\Seen) BODY[] {68}", "S:From: a@example.com", "S:Subject: one",
	     "S:To: b@example.com", "S:", "S:Hello one.", "S:)", "S:a OK FETCH completed",
	     "C:b FETCH 2 (UID BODY[TEXT])", "S:* 2 FETCH (UID 2 FLAGS (\\Seen $Forwarded) BODY[TEXT] {25}",
	     "S:Body two line 1", "S:line 2", "S:)", "S:b OK FETCH completed", "C:c FETCH 2 FLAGS",
	     "S:* 2 FETCH (FLAGS (\\Seen $Forwarded))", "S:c OK FETCH completed"),
	CASE(fetch_body_peek_headers, NULL, GREET, LOGIN, SELECT, "C:a FETCH 2 BODY.PEEK[HEADER]",
	     "S:* 2 FETCH (BODY[HEADER] {44}", "S:Subject: two", "S:X-Long: folded", "S: continued",
	     "S:", "S:)", "S:a OK FETCH completed", "C:b FETCH 2 BODY.PEEK[HEADER.FIELDS (x-long)]",
	     "S:* 2 FETCH (BODY[HEADER.FIELDS (x-long)] {30}", "S:X-Long: folded", "S: continued",
	     "S:", "S:)", "S:b OK FETCH completed",
	     "C:c FETCH 1 BODY.PEEK[HEADER.FIELDS.NOT (From \"To\")]",
	     "S:* 1 FETCH (BODY[HEADER.FIELDS.NOT (From To)] {16}", "S:Subject: one", "S:", "S:)",
	     "S:c OK FETCH completed", "C:d FETCH 2 FLAGS", "S:* 2 FETCH (FLAGS ($Forwarded))",
	     "S:d OK FETCH completed"),
	CASE(fetch_header_edge_cases, NULL, GREET, LOGIN, SELECT, "C:a FETCH 4 (BODY.PEEK[TEXT] BODY.PEEK[HEADER])",
	     "S:* 4 FETCH (BODY[TEXT] {0}", "S: BODY[HEADER] {16}", "S:Subject: seven", "S:)",
	     "S:a OK FETCH completed", "C:b FETCH 3 (BODY.PEEK[TEXT] RFC822.HEADER)",
	     "S:* 3 FETCH (BODY[TEXT] {0}", "S: RFC822.HEADER {17}", "S:Subject: four", "S:", "S:)",
	     "S:b OK FETCH completed", "C:c FETCH 3 BODY.PEEK[HEADER.FIELDS (Nope)]",
	     "S:* 3 FETCH (BODY[HEADER.FIELDS (Nope)] {2}", "S:", "S:)", "S:c OK FETCH completed"),
	CASE(fetch_partials, NULL, GREET, LOGIN, SELECT, "C:a FETCH 1 BODY.PEEK[]<0.10>",
	     "S:* 1 FETCH (BODY[]<0> {10}", "S:From: a@ex)", "S:a OK FETCH completed",
	     "C:b FETCH 1 BODY.PEEK[]<60.100>", "S:* 1 FETCH (BODY[]<60> {8}", "S:o one.", "S:)",
	     "S:b OK FETCH completed", "C:c FETCH 1 BODY.PEEK[]<100.10>",
	     "S:* 1 FETCH (BODY[]<100> {0}", "S:)", "S:c OK FETCH completed",
	     "C:d FETCH 2 BODY.PEEK[TEXT]<5.3>", "S:* 2 FETCH (BODY[TEXT]<5> {3}", "S:two)",
	     "S:d OK FETCH completed", "C:e FETCH 2 BODY.PEEK[HEADER]<14.6>",
	     "S:* 2 FETCH (BODY[HEADER]<14> {6}", "S:X-Long)", "S:e OK FETCH completed"),
	CASE(fetch_rfc822_forms, NULL, GREET, LOGIN, SELECT, "C:a FETCH 2 RFC822.TEXT",
	     "S:* 2 FETCH (FLAGS (\\Seen $Forwarded) RFC822.TEXT {25}", "S:Body two line 1",
	     "S:line 2", "S:)", "S:a OK FETCH completed", "C:b FETCH 4 RFC822",
	     "S:* 4 FETCH (FLAGS (\\Seen \\Deleted \\Recent) RFC822 {16}", "S:Subject: seven", "S:)",
	     "S:b OK FETCH completed"),
	CASE(fetch_several_sections, NULL, GREET, LOGIN, SELECT,
	     "C:a FETCH 1:2 (UID BODY.PEEK[HEADER.FIELDS (Subject)] BODY.PEEK[TEXT])",
	     "S:* 1 FETCH (UID 1 BODY[HEADER.FIELDS (Subject)] {16}", "S:Subject: one", "S:",
	     "S: BODY[TEXT] {12}", "S:Hello one.", "S:)",
	     "S:* 2 FETCH (UID 2 BODY[HEADER.FIELDS (Subject)] {16}", "S:Subject: two", "S:",
	     "S: BODY[TEXT] {25}", "S:Body two line 1", "S:line 2", "S:)", "S:a OK FETCH completed"),
	CASE(fetch_examine_no_seen, NULL, GREET, LOGIN, "C:e EXAMINE INBOX", "W:e OK [READ-ONLY]",
	     "C:a FETCH 2 BODY[TEXT]", "S:* 2 FETCH (BODY[TEXT] {25}", "S:Body two line 1",
	     "S:line 2", "S:)", "S:a OK FETCH completed", "C:b FETCH 2 FLAGS",
	     "S:* 2 FETCH (FLAGS ($Forwarded))", "S:b OK FETCH completed"),
	CASE(fetch_body_short_and_failing, NULL, GREET, LOGIN, SELECT, "O:short",
	     "C:a FETCH 1 BODY.PEEK[]", "S:* 1 FETCH (BODY[] {68}", "S:From: a@example.com",
	     "S:Subject: one", "S:To: b@example.com", "S:", "S:Hello o     )",
	     "S:a NO [UNAVAILABLE] Some message bodies could not be read", "O:ok", "O:bodyfail",
	     "C:b FETCH 2 BODY.PEEK[HEADER]", "S:* 2 FETCH (BODY[HEADER] {0}", "S:)",
	     "S:b NO [UNAVAILABLE] Some message bodies could not be read"),
	CASE(fetch_iteration_failure, NULL, GREET, LOGIN, SELECT, "M:manual", "C:a FETCH 1 FLAGS",
	     "P:FETCH", "Q:FETCH FAIL", "S:a NO [UNAVAILABLE] FETCH: temporary failure, try again later"),
	CASE(fetch_seen_store_failure, NULL, GREET, LOGIN, SELECT, "M:manual", "C:a FETCH 2 BODY[]",
	     "P:STORE", "Q:STORE FAIL", "S:a NO [OVERQUOTA] STORE: storage is full", "M:auto",
	     "C:b NOOP", "S:b OK NOOP completed"),
	/* ---- STORE ---- */
	CASE(store_forms, NULL, GREET, LOGIN, SELECT, "C:a STORE 2 +FLAGS (\\Answered)",
	     "S:* 2 FETCH (FLAGS (\\Answered $Forwarded))", "S:a OK STORE completed",
	     "C:b STORE 2 -FLAGS ($Forwarded \\Answered)", "S:* 2 FETCH (FLAGS ())",
	     "S:b OK STORE completed", "C:c STORE 1 FLAGS (\\Draft Work)",
	     "S:* 1 FETCH (FLAGS (\\Draft Work))", "S:c OK STORE completed",
	     "C:d STORE 1:2 +FLAGS.SILENT (\\Flagged)", "S:d OK STORE completed",
	     "C:e UID STORE 2 +FLAGS \\Seen", "S:* 2 FETCH (UID 2 FLAGS (\\Seen \\Flagged))",
	     "S:e OK STORE completed", "C:f STORE 1 FLAGS ()", "S:* 1 FETCH (FLAGS ())",
	     "S:f OK STORE completed", "C:g UID STORE 50:60 +FLAGS (\\Seen)",
	     "S:g OK STORE completed", "C:h STORE 1 +flags.silent (x y)", "S:h OK STORE completed",
	     "C:i FETCH 1 FLAGS", "S:* 1 FETCH (FLAGS (x y))", "S:i OK FETCH completed"),
	CASE(store_errors, NULL, GREET, LOGIN, SELECT, "C:a STORE 1 +FLAGS \\Recent",
	     "S:a BAD \\Recent cannot be stored", "C:b STORE 1 +FLAGS (\\Foo)",
	     "S:b BAD Unknown system flag", "C:c STORE 1 XFLAGS (\\Seen)",
	     "S:c BAD Expected FLAGS or FLAGS.SILENT", "C:d STORE 9 +FLAGS (\\Seen)",
	     "S:d BAD Invalid message sequence number", "C:e STORE 1 +FLAGS",
	     "S:e BAD Expected a space", "C:f STORE 1 (FOO 1) +FLAGS (\\Seen)",
	     "S:f BAD Unknown STORE modifier", "M:manual", "C:g STORE 1 +FLAGS (\\Seen)",
	     "Q:STORE FAIL", "S:g NO [OVERQUOTA] STORE: storage is full"),
	CASE(store_condstore, NULL, GREET, LOGIN, "C:s SELECT INBOX (CONDSTORE)", "W:s OK",
	     "C:a STORE 1 +FLAGS (\\Answered)", "S:* 1 FETCH (FLAGS (\\Seen \\Answered) MODSEQ (6))",
	     "S:a OK STORE completed", "C:b STORE 2 (UNCHANGEDSINCE 3) +FLAGS (\\Answered)",
	     "S:* 2 FETCH (FLAGS (\\Answered $Forwarded) MODSEQ (7))", "S:b OK STORE completed"),
	/* ---- EXPUNGE / CLOSE ---- */
	CASE(expunge_announces_in_order, NULL, GREET, LOGIN, SELECT, "C:a EXPUNGE",
	     "S:* 3 EXPUNGE", "S:* 3 EXPUNGE", "S:a OK EXPUNGE completed", "C:b FETCH 1:* UID",
	     "S:* 1 FETCH (UID 1)", "S:* 2 FETCH (UID 2)", "S:b OK FETCH completed", "C:c FETCH 3 UID",
	     "S:c BAD Invalid message sequence number", "C:d EXPUNGE", "S:d OK EXPUNGE completed"),
	CASE(expunge_renumbers, NULL, GREET, LOGIN, SELECT, "C:a STORE 1:2 +FLAGS.SILENT (\\Deleted)",
	     "S:a OK STORE completed", "C:b EXPUNGE", "S:* 1 EXPUNGE", "S:* 1 EXPUNGE",
	     "S:* 1 EXPUNGE", "S:* 1 EXPUNGE", "S:b OK EXPUNGE completed", "C:c FETCH 1 UID",
	     "S:c BAD Invalid message sequence number", "C:d SEARCH ALL", "S:* SEARCH",
	     "S:d OK SEARCH completed"),
	CASE(uid_expunge, NULL, GREET, LOGIN, SELECT, "C:a UID EXPUNGE 7", "S:* 4 EXPUNGE",
	     "S:a OK EXPUNGE completed", "C:b UID EXPUNGE 1:3", "S:b OK EXPUNGE completed",
	     "C:c UID FETCH 1:* UID", "S:* 1 FETCH (UID 1)", "S:* 2 FETCH (UID 2)",
	     "S:* 3 FETCH (UID 4)", "S:c OK FETCH completed", "C:d UID EXPUNGE",
	     "S:d BAD Expected a space"),
	CASE(close_expunges_silently, NULL, GREET, LOGIN, SELECT, "C:a CLOSE",
	     "S:a OK CLOSE completed", "C:b SELECT INBOX", "S** FLAGS", "S** OK [PERMANENTFLAGS",
	     "S:* 2 EXISTS", "W:b OK [READ-WRITE]"),
	CASE(unselect_keeps_deleted, NULL, GREET, LOGIN, SELECT, "C:a UNSELECT",
	     "S:a OK UNSELECT completed", "C:b SELECT INBOX", "S** FLAGS", "S** OK [PERMANENTFLAGS",
	     "S:* 4 EXISTS", "W:b OK [READ-WRITE]"),
	CASE(expunge_failure, NULL, GREET, LOGIN, SELECT, "M:manual", "C:a EXPUNGE", "P:EXPUNGE",
	     "Q:EXPUNGE FAIL", "S:a NO [UNAVAILABLE] EXPUNGE: temporary failure, try again later"),
	/* ---- SEARCH ---- */
	CASE(search_flags, NULL, GREET, LOGIN, SELECT, "C:a SEARCH ALL", "S:* SEARCH 1 2 3 4",
	     "S:a OK SEARCH completed", "C:b SEARCH SEEN", "S:* SEARCH 1", "S*b OK",
	     "C:c SEARCH UNSEEN", "S:* SEARCH 2 3 4", "S*c OK", "C:d SEARCH DELETED",
	     "S:* SEARCH 3 4", "S*d OK", "C:e SEARCH NOT DELETED", "S:* SEARCH 1 2", "S*e OK",
	     "C:f SEARCH OR SEEN FLAGGED", "S:* SEARCH 1 3", "S*f OK", "C:g SEARCH ANSWERED",
	     "S:* SEARCH", "S*g OK", "C:h SEARCH KEYWORD $forwarded", "S:* SEARCH 2", "S*h OK",
	     "C:i SEARCH UNKEYWORD $Forwarded", "S:* SEARCH 1 3 4", "S*i OK",
	     "C:j SEARCH UNDELETED UNSEEN", "S:* SEARCH 2", "S*j OK", "C:k SEARCH DRAFT",
	     "S:* SEARCH", "S*k OK", "C:l SEARCH UNDRAFT UNFLAGGED UNANSWERED",
	     "S:* SEARCH 1 2 4", "S*l OK"),
	CASE(search_sizes_sets_dates, NULL, GREET, LOGIN, SELECT, "C:a SEARCH LARGER 20",
	     "S:* SEARCH 1 2", "S*a OK", "C:b SEARCH SMALLER 17", "S:* SEARCH 4", "S*b OK",
	     "C:c SEARCH LARGER 16 SMALLER 18", "S:* SEARCH 3", "S*c OK", "C:d SEARCH UID 2:4",
	     "S:* SEARCH 2 3", "S*d OK", "C:e SEARCH UID 5:*", "S:* SEARCH 4", "S*e OK",
	     "C:f SEARCH 2:*", "S:* SEARCH 2 3 4", "S*f OK", "C:g SEARCH *", "S:* SEARCH 4",
	     "S*g OK", "C:h SEARCH 1,3", "S:* SEARCH 1 3", "S*h OK", "C:i SEARCH 10",
	     "S:* SEARCH", "S*i OK", "C:j SEARCH SINCE 1-Feb-2026", "S:* SEARCH 4", "S*j OK",
	     "C:k SEARCH BEFORE 15-Jan-2026", "S:* SEARCH 1", "S*k OK",
	     "C:l SEARCH ON 31-jan-2026", "S:* SEARCH 3", "S*l OK", "C:m SEARCH ON \"15-Jan-2026\"",
	     "S:* SEARCH 2", "S*m OK", "C:n SEARCH RECENT", "S:* SEARCH 4", "S*n OK",
	     "C:o SEARCH NEW", "S:* SEARCH 4", "S*o OK", "C:p SEARCH OLD", "S:* SEARCH 1 2 3",
	     "S*p OK", "C:q SEARCH (SEEN) (LARGER 1)", "S:* SEARCH 1", "S*q OK",
	     "C:r SEARCH NOT (OR SEEN (FLAGGED DELETED))", "S:* SEARCH 2 4", "S*r OK"),
	CASE(search_charset_and_errors, NULL, GREET, LOGIN, SELECT, "C:a SEARCH CHARSET UTF-8 SEEN",
	     "S:* SEARCH 1", "S:a OK SEARCH completed", "C:b SEARCH CHARSET KOI8-R ALL",
	     "S:b NO [BADCHARSET (UTF-8 US-ASCII)] Unsupported charset", "C:c SEARCH YOUNGER 60",
	     "S:c NO [CANNOT] Search key not supported",
	     "C:d SEARCH FOO", "S:d BAD Unknown search key", "C:e SEARCH", "S:e BAD Expected a space",
	     "C:f SEARCH SINCE 32-Jan-2026", "S:f BAD Invalid date", "C:g SEARCH SINCE 1-Foo-2026",
	     "S:g BAD Invalid date", "C:h SEARCH OR SEEN", "S:h BAD Expected a space",
	     "C:i SEARCH LARGER x", "S:i BAD Expected a number", "C:j SEARCH (SEEN",
	     "S:j BAD Expected a space", "C:k SEARCH NOT", "S:k BAD Expected a space"),
	CASE(search_uid_and_esearch, NULL, GREET, LOGIN, SELECT, "C:a UID SEARCH UNSEEN",
	     "S:* SEARCH 2 4 7", "S:a OK SEARCH completed",
	     "C:b SEARCH RETURN (MIN MAX COUNT ALL) UNSEEN",
	     "S:* ESEARCH (TAG \"b\") MIN 2 MAX 4 COUNT 3 ALL 2:4", "S:b OK SEARCH completed",
	     "C:c SEARCH RETURN () ALL", "S:* ESEARCH (TAG \"c\") ALL 1:4", "S*c OK",
	     "C:d UID SEARCH RETURN (COUNT) DELETED", "S:* ESEARCH (TAG \"d\") UID COUNT 2",
	     "S*d OK", "C:e SEARCH RETURN (MIN) ANSWERED", "S:* ESEARCH (TAG \"e\")", "S*e OK",
	     "C:f UID SEARCH RETURN (ALL) OR SEEN DELETED", "S:* ESEARCH (TAG \"f\") UID ALL 1,4,7",
	     "S*f OK", "C:g SEARCH RETURN (FOO) ALL", "S:g BAD Unknown RETURN option"),
	CASE(search_modseq, NULL, GREET, LOGIN, SELECT, "C:a SEARCH MODSEQ 4",
	     "S:* SEARCH 3 4 (MODSEQ 5)", "S:a OK SEARCH completed",
	     "C:b SEARCH MODSEQ \"/flags/\\\\seen\" all 3", "S:* SEARCH 2 3 4 (MODSEQ 5)",
	     "S*b OK", "C:c SEARCH MODSEQ 99", "S:* SEARCH", "S*c OK"),
	CASE(search_rev2_esearch, NULL, GREET, LOGIN, "C:e ENABLE IMAP4rev2", "S** ENABLED",
	     "S*e OK", "C:s SELECT INBOX", "W:s OK", "C:a SEARCH DELETED",
	     "S:* ESEARCH (TAG \"a\") ALL 3:4", "S:a OK SEARCH completed", "C:b FETCH 4 FLAGS",
	     "S:* 4 FETCH (FLAGS (\\Deleted))", "S:b OK FETCH completed"),
	CASE(search_empty_mailbox, NULL, GREET, LOGIN, "C:s SELECT Sent", "W:s OK",
	     "C:a SEARCH ALL", "S:* SEARCH", "S:a OK SEARCH completed", "C:b FETCH 1:* FLAGS",
	     "S:b BAD Invalid message sequence number", "C:c UID FETCH 1:* FLAGS",
	     "S:c OK FETCH completed", "C:d EXPUNGE", "S:d OK EXPUNGE completed"),
	/* ---- COPY / MOVE ---- */
	CASE(copy_with_copyuid, NULL, GREET, LOGIN, SELECT, "C:a COPY 1:2 Sent",
	     "S:a OK [COPYUID 1001 1:2 1:2] COPY completed", "C:b UID COPY 4,7 Sent",
	     "S:b OK [COPYUID 1001 4,7 3:4] COPY completed", "C:c COPY 1 Nope",
	     "S:c NO [TRYCREATE] COPY: destination mailbox does not exist", "C:d UID COPY 100 Sent",
	     "S:d OK COPY completed", "C:e STATUS Sent (MESSAGES UIDNEXT)",
	     "S:* STATUS \"Sent\" (MESSAGES 4 UIDNEXT 5)", "S:e OK STATUS completed",
	     "C:f COPY 9 Sent", "S:f BAD Invalid message sequence number"),
	CASE(move_expunges, NULL, GREET, LOGIN, SELECT, "C:a MOVE 2 Sent",
	     "S:* OK [COPYUID 1001 2 1] Moved", "S:* 2 EXPUNGE", "S:a OK MOVE completed",
	     "C:b UID MOVE 4:7 Sent", "S:* OK [COPYUID 1001 4,7 2:3] Moved", "S:* 2 EXPUNGE",
	     "S:* 2 EXPUNGE", "S:b OK MOVE completed", "C:c FETCH 1:* UID", "S:* 1 FETCH (UID 1)",
	     "S:c OK FETCH completed", "C:d MOVE 1 Nope",
	     "S:d NO [TRYCREATE] MOVE: destination mailbox does not exist"),
	/* ---- APPEND ---- */
	CASE(append_basic, NULL, GREET, LOGIN, "C:a APPEND Sent (\\Seen) {10}",
	     "S:+ Ready for literal data", "R:Hi there\r\n\r\n",
	     "S:a OK [APPENDUID 1001 1] APPEND completed", "C:b STATUS Sent (MESSAGES UIDNEXT)",
	     "S:* STATUS \"Sent\" (MESSAGES 1 UIDNEXT 2)", "S:b OK STATUS completed",
	     "C:c SELECT Sent", "W:c OK", "C:d FETCH 1 (FLAGS BODY.PEEK[])",
	     "S:* 1 FETCH (FLAGS (\\Seen) BODY[] {10}", "S:Hi there", "S:)", "S:d OK FETCH completed"),
	CASE(append_date_keywords_literal_plus, NULL, GREET, LOGIN,
	     "R:a APPEND Sent (\\Draft kw) \" 5-Mar-2026 10:20:30 +0200\" {3+}\r\nabc\r\nb NOOP\r\n",
	     "S:a OK [APPENDUID 1001 1] APPEND completed", "S:b OK NOOP completed",
	     "C:c SELECT Sent", "W:c OK", "C:d FETCH 1 (FLAGS INTERNALDATE RFC822.SIZE)",
	     "S:* 1 FETCH (FLAGS (\\Draft kw) RFC822.SIZE 3 INTERNALDATE \" 5-Mar-2026 10:20:30 +0200\")",
	     "S:d OK FETCH completed", "C:e APPEND INBOX \"31-Dec-1999 23:59:59 -0130\" {1+}",
	     "R:x\r\n", "S:e OK [APPENDUID 1000 8] APPEND completed",
	     "C:f STATUS INBOX (MESSAGES)", "S:* STATUS \"INBOX\" (MESSAGES 5)", "S*f OK"),
	CASE(append_errors, NULL, GREET, LOGIN, "C:a APPEND Nope {1+}", "R:x\r\n",
	     "S:a NO [TRYCREATE] APPEND: mailbox does not exist", "C:b APPEND Sent \"1-Jan-2026\" {1+}",
	     "R:x\r\n", "S:b BAD Invalid date-time", "C:c APPEND Sent (\\Recent) {1+}", "R:x\r\n",
	     "S:c BAD \\Recent cannot be stored", "C:d APPEND Sent ~{1+}", "R:x\r\n",
	     "S:d OK [APPENDUID 1001 1] APPEND completed", "C:e APPEND Sent x",
	     "S:e BAD Expected a literal", "C:f APPEND Sent {1+}", "R:^@\r\n",
	     "S:f BAD NUL in literal", "M:manual", "C:g APPEND Sent {1+}", "R:x\r\n", "P:APPEND",
	     "Q:APPEND FAIL", "S:g NO [OVERQUOTA] APPEND: storage is full", "C:h APPEND Sent {1+}",
	     "R:x\r\n", "Q:APPEND BIG", "S:h NO [TOOBIG] APPEND: message too large"),
	CASE(append_before_login, NULL, GREET, "C:a APPEND INBOX {5}", "S:+ Ready for literal data",
	     "R:hello\r\n", "S:a BAD Log in first", "C:b APPEND INBOX {2000}",
	     "S:b BAD [LIMIT] Literal too large"),
	CASE(append_limit, cf_appendlimit, "S** OK", LOGIN_LIMITED, "C:a APPEND Sent {1025}",
	     "S:a NO [TOOBIG] Message too large (APPENDLIMIT 1024)", "C:b NOOP",
	     "S:b OK NOOP completed", "C:c APPEND Sent {1024}", "S:+ Ready for literal data",
	     "R:" A1K "\r\n", "S:c OK [APPENDUID 1001 1] APPEND completed",
	     "C:d CREATE {257}", "S:d BAD [LIMIT] Literal too large",
	     "C:e APPEND Sent {1025+}", "S:e BAD [LIMIT] Literal too large",
	     "S:* BYE Literal too large", "X"),
	/* ---- changes made elsewhere ---- */
	CASE(noop_reports_changes, NULL, GREET, LOGIN, SELECT, "C:a NOOP", "S:a OK NOOP completed",
	     "G:seen 2", "G:expunge 4", "G:deliver", "N", "C:b NOOP",
	     "S:* 2 FETCH (FLAGS (\\Seen $Forwarded))", "S:* 3 EXPUNGE", "S:* 4 EXISTS",
	     "S:b OK NOOP completed", "C:c FETCH 4 UID", "S:* 4 FETCH (UID 8)",
	     "S:c OK FETCH completed", "C:d CHECK", "S:d OK CHECK completed", "G:expunge 1",
	     "G:expunge 7", "C:e CHECK", "S:* 1 EXPUNGE", "S:* 2 EXPUNGE", "S:e OK CHECK completed",
	     "C:f SEARCH ALL", "S:* SEARCH 1 2", "S*f OK"),
	CASE(idle_reports_at_once, NULL, GREET, LOGIN, SELECT, "C:a IDLE", "S:+ idling", "N",
	     "G:deliver", "S:* 5 EXISTS", "G:seen 7", "S:* 4 FETCH (FLAGS (\\Seen \\Deleted \\Recent))",
	     "G:expunge 2", "S:* 2 EXPUNGE", "C:DONE", "S:a OK IDLE terminated", "C:b NOOP",
	     "S:b OK NOOP completed"),
	CASE(changes_need_selection, NULL, GREET, LOGIN, "G:deliver", "C:a NOOP",
	     "S:a OK NOOP completed", SELECT, "C:b NOOP", "S:b OK NOOP completed"),
	CASE(changes_condstore_modseq, NULL, GREET, LOGIN, "C:s SELECT INBOX (CONDSTORE)", "W:s OK",
	     "G:seen 2", "C:a NOOP", "S:* 2 FETCH (FLAGS (\\Seen $Forwarded) MODSEQ (6))",
	     "S:a OK NOOP completed", "C:b NOOP", "S:b OK NOOP completed"),
	CASE(sync_failure_asks_again, NULL, GREET, LOGIN, SELECT, "G:deliver", "M:manual",
	     "C:a NOOP", "P:SYNC", "Q:SYNC FAIL", "S:a OK NOOP completed", "M:auto", "C:b NOOP",
	     "S:* 5 EXISTS", "S:b OK NOOP completed"),
	CASE(move_read_only, NULL, GREET, LOGIN, "C:e EXAMINE INBOX", "W:e OK", "C:a MOVE 1 Sent",
	     "S:a NO [READ-ONLY] Mailbox is read-only", "C:b COPY 1 Sent",
	     "S:b OK [COPYUID 1001 1 1] COPY completed"),
};

/* ---- long responses: the glue is told to stop, then asked again ---- */

/* LIST: entries go out until the output is full; the glue stops, the
 * engine asks again with SKIP past what was reported. */
static void test_list_resumes(void **state)
{
	struct h h;
	const struct imap_request *r;
	unsigned reported = 0, requests = 0, lines = 0;
	char name[64];

	(void)state;
	h_init(&h, NULL, 0, "list-resume");
	h.cfg.output_max = 4 * IMAP_REPLY_RESERVE;
	h_send(&h, "a LOGIN alice secret\r\n", 22);
	sl_buf_reset(&h.out);
	h.manual = true;
	h_send(&h, "b LIST \"\" m*\r\n", 14);
	while ((r = imap_session_request(h.s)) != NULL) {
		int rc = 0;

		assert_int_equal(r->kind, IMAP_REQ_LIST);
		assert_int_equal(r->u.list.skip, reported);
		requests++;
		while (reported < 3000 && rc == 0) {
			struct imap_mailbox_info mi;

			memset(&mi, 0, sizeof(mi));
			snprintf(name, sizeof(name), "m%05u/with-a-longer-name", reported);
			mi.name = sl_slice_make(name, strlen(name));
			rc = imap_session_list_entry(h.s, &mi);
			assert_true(rc == 0 || rc == 1);
			reported++;
		}
		assert_true(imap_session_output(h.s).len <= h.cfg.output_max + IMAP_REPLY_RESERVE);
		imap_session_list_done(h.s, h.now, 0);
		h_drain(&h);
	}
	assert_true(requests > 2);
	for (char line[4096]; h_line(&h, line, sizeof(line));) {
		if (!strncmp(line, "* LIST", 6)) {
			snprintf(name, sizeof(name), "* LIST (\\HasNoChildren) \"/\" \"m%05u/", lines);
			assert_int_equal(strncmp(line, name, strlen(name)), 0);
			lines++;
		} else {
			assert_string_equal(line, "b OK LIST completed");
		}
	}
	assert_int_equal(lines, 3000);
	h_fini(&h);
}

/* FETCH over a large view: the glue is stopped when the output is full
 * and resumed AFTER the last UID it reported; nothing lost, nothing twice. */
static void test_fetch_resumes(void **state)
{
	struct h h;
	const struct imap_request *r;
	struct imap_mailbox_info mi;
	uint32_t n = 5000, next = 1, lines = 0;
	unsigned requests = 0;

	(void)state;
	h_init(&h, NULL, 0, "fetch-resume");
	h.cfg.output_max = 4 * IMAP_REPLY_RESERVE;
	h_send(&h, "a LOGIN alice secret\r\n", 22);
	h.manual = true;
	h_send(&h, "s SELECT Many\r\n", 15);
	for (uint32_t u = 1; u <= n; u++)
		assert_int_equal(imap_session_select_msg(h.s, u * 3, 0, false), 0);
	memset(&mi, 0, sizeof(mi));
	mi.name = SL_SLICE_LIT("Many");
	mi.uidvalidity = 77;
	mi.uidnext = n * 3 + 1;
	assert_int_equal(imap_session_select_done(h.s, h.now, 0, &mi, NULL, 0), 0);
	h_drain(&h);
	sl_buf_reset(&h.out);
	h_send(&h, "f UID FETCH 1:* (FLAGS RFC822.SIZE)\r\n", 37);
	while ((r = imap_session_request(h.s)) != NULL) {
		int rc = 0;

		assert_int_equal(r->kind, IMAP_REQ_FETCH);
		assert_int_equal(r->u.fetch.n_uids, 1);
		assert_int_equal(r->u.fetch.uids[0].lo, 1);
		assert_int_equal(r->u.fetch.uids[0].hi, n * 3);
		assert_true(r->u.fetch.want & IMAP_WANT_SIZE);
		assert_true(r->u.fetch.want & IMAP_WANT_KEYWORDS);
		requests++;
		/* the glue resumes after the last UID reported */
		next = r->u.fetch.after / 3 + 1;
		while (next <= n && rc == 0) {
			struct imap_msg_meta m;

			memset(&m, 0, sizeof(m));
			m.uid = next * 3;
			m.size = next;
			m.flags = IMAP_FLAG_SEEN;
			rc = imap_session_fetch_msg(h.s, &m);
			next++;
		}
		imap_session_fetch_done(h.s, h.now, 0);
		h_drain(&h);
	}
	assert_true(requests > 5);
	for (char line[512], want[512]; h_line(&h, line, sizeof(line));) {
		if (!strncmp(line, "* ", 2)) {
			lines++;
			snprintf(want, sizeof(want), "* %u FETCH (UID %u FLAGS (\\Seen) RFC822.SIZE %u)",
				 lines, lines * 3, lines);
			assert_string_equal(line, want);
		} else {
			assert_string_equal(line, "f OK FETCH completed");
		}
	}
	assert_int_equal(lines, n);
	h_fini(&h);
}

/* A 200 KB BODY[] through a 32 KB output, in the three modes: the literal
 * is byte-identical, and the client that does not read stops the engine. */
static void test_big_body_streams(void **state)
{
	(void)state;
	for (int mode = 0; mode < 3; mode++) {
		struct h h;
		uint8_t *lit;
		char want[64];
		size_t hdr;

		h_init(&h, NULL, mode, "big-body");
		h.cfg.output_max = 4 * IMAP_REPLY_RESERVE;
		h.cfg.body_chunk_max = 8192;
		h_send(&h, "a LOGIN alice secret\r\nb SELECT Big\r\n", 36);
		sl_buf_reset(&h.out);
		h_send(&h, "c FETCH 1 BODY.PEEK[]\r\n", 23);
		snprintf(want, sizeof(want), "* 1 FETCH (BODY[] {%zu}\r\n", fs_big_len);
		hdr = strlen(want);
		assert_true(h.out.len > hdr + fs_big_len);
		assert_memory_equal(h.out.data, want, hdr);
		lit = h.out.data + hdr;
		assert_memory_equal(lit, fs_big, fs_big_len);
		assert_memory_equal(lit + fs_big_len, ")\r\nc OK FETCH completed\r\n", 25);
		assert_int_equal(h.out.len, hdr + fs_big_len + 25);
		assert_int_equal(h.stats.body_bytes, fs_big_len);
		h_fini(&h);
	}
}

static void test_output_backpressure(void **state)
{
	struct h h;
	sl_buf_t in;
	size_t used, total = 0;
	int fetches = 20;

	(void)state;
	h_init(&h, NULL, 0, "backpressure");
	h.cfg.output_max = 4 * IMAP_REPLY_RESERVE;
	h_send(&h, "a LOGIN alice secret\r\nb SELECT Big\r\n", 36);
	sl_buf_reset(&h.out);
	sl_buf_init(&in, 1u << 20);
	for (int i = 0; i < fetches; i++)
		assert_int_equal(sl_buf_printf(&in, "f%d FETCH 1 BODY.PEEK[]\r\n", i), 0);
	while (in.len < 120000)
		assert_int_equal(sl_buf_append(&in, "n NOOP\r\n", 8), 0);
	/* the client writes but never reads; the glue answers requests */
	for (int round = 0; round < 10000; round++) {
		const struct imap_request *r;

		assert_int_equal(imap_session_input(h.s, h.now, in.data + total, in.len - total, &used),
				 0);
		total += used;
		r = imap_session_request(h.s);
		if (r == NULL && used == 0)
			break;
		if (r != NULL)
			h_autocomplete(&h);
	}
	assert_true(imap_session_output(h.s).len <= h.cfg.output_max + IMAP_REPLY_RESERVE);
	assert_true(total < in.len);
	assert_true(total <= h.cfg.cmd_max + h.cfg.line_max + h.cfg.pipeline_max + 64);
	/* now it reads */
	for (int round = 0; round < 100000 && total < in.len; round++) {
		assert_int_equal(imap_session_input(h.s, h.now, in.data + total, in.len - total, &used),
				 0);
		total += used;
		h_pump(&h);
	}
	h_pump(&h);
	assert_int_equal(total, in.len);
	for (int i = 0; i < fetches; i++) {
		char want[64];

		snprintf(want, sizeof(want), "* 1 FETCH (BODY[] {%zu}\r\n", fs_big_len);
		assert_memory_equal(h.out.data, want, strlen(want));
		sl_buf_consume(&h.out, strlen(want));
		assert_memory_equal(h.out.data, fs_big, fs_big_len);
		sl_buf_consume(&h.out, fs_big_len);
		snprintf(want, sizeof(want), ")\r\nf%d OK FETCH completed\r\n", i);
		assert_memory_equal(h.out.data, want, strlen(want));
		sl_buf_consume(&h.out, strlen(want));
	}
	while (h.out.len > 0)
		h_expect(&h, "n OK NOOP completed", false);
	sl_buf_free(&in);
	h_fini(&h);
}

/* A cached BODYSTRUCTURE bigger than output_max still goes out whole. */
static void test_huge_structure_overshoots(void **state)
{
	struct h h;
	struct imap_msg_meta m;
	static char bs[100000];
	const struct imap_request *r;

	(void)state;
	memset(bs, 'x', sizeof(bs));
	bs[0] = '(';
	bs[sizeof(bs) - 1] = ')';
	h_init(&h, NULL, 0, "huge-structure");
	h.cfg.output_max = 4 * IMAP_REPLY_RESERVE;
	h_send(&h, "a LOGIN alice secret\r\nb SELECT INBOX\r\n", 38);
	sl_buf_reset(&h.out);
	h.manual = true;
	h_send(&h, "c FETCH 1:2 BODYSTRUCTURE\r\n", 27);
	r = imap_session_request(h.s);
	assert_non_null(r);
	assert_true(r->u.fetch.want & IMAP_WANT_STRUCTURE);
	memset(&m, 0, sizeof(m));
	m.uid = 1;
	m.bodystructure = sl_slice_make(bs, sizeof(bs));
	/* the output is empty: it must be taken even though it is too big */
	assert_int_equal(imap_session_fetch_msg(h.s, &m), 1);
	assert_true(imap_session_output(h.s).len > sizeof(bs));
	m.uid = 2;
	/* now it is full: the next one waits */
	assert_int_equal(imap_session_fetch_msg(h.s, &m), 1);
	imap_session_fetch_done(h.s, h.now, 0);
	h_drain(&h);
	r = imap_session_request(h.s);
	assert_non_null(r);
	assert_int_equal(r->u.fetch.after, 1);
	assert_int_equal(imap_session_fetch_msg(h.s, &m), 1);
	imap_session_fetch_done(h.s, h.now, 0);
	h_drain(&h);
	r = imap_session_request(h.s);
	assert_non_null(r);
	assert_int_equal(r->u.fetch.after, 2);
	imap_session_fetch_done(h.s, h.now, 0);
	h_drain(&h);
	assert_null(imap_session_request(h.s));
	assert_non_null(memmem(h.out.data, h.out.len, "c OK FETCH completed\r\n", 22));
	h_fini(&h);
}

/* A 200 KB APPEND as LITERAL+, in the three split modes: the store gets
 * it byte for byte, and the input buffer shrinks back afterwards. */
static void test_big_append(void **state)
{
	(void)state;
	for (int mode = 0; mode < 3; mode++) {
		struct h h;
		sl_buf_t cmd;
		int i;

		h_init(&h, NULL, mode, "big-append");
		h_send(&h, "a LOGIN alice secret\r\n", 22);
		sl_buf_reset(&h.out);
		sl_buf_init(&cmd, 1u << 20);
		assert_int_equal(sl_buf_printf(&cmd, "b APPEND Sent {%zu+}\r\n", fs_big_len), 0);
		assert_int_equal(sl_buf_append(&cmd, fs_big, fs_big_len), 0);
		assert_int_equal(sl_buf_append(&cmd, "\r\nc NOOP\r\n", 10), 0);
		h_send(&h, (const char *)cmd.data, cmd.len);
		h_expect(&h, "b OK [APPENDUID 1001 1] APPEND completed", false);
		h_expect(&h, "c OK NOOP completed", false);
		i = fs_find(&h.st, "Sent");
		assert_int_equal(h.st.mb[i].n, 1);
		assert_int_equal(h.st.mb[i].m[0].len, fs_big_len);
		assert_memory_equal(h.st.mb[i].m[0].body, fs_big, fs_big_len);
		sl_buf_free(&cmd);
		h_fini(&h);
	}
}

int main(void)
{
	static const struct CMUnitTest fixed[] = {
		cmocka_unit_test(test_list_resumes),
		cmocka_unit_test(test_fetch_resumes),
		cmocka_unit_test(test_big_body_streams),
		cmocka_unit_test(test_output_backpressure),
		cmocka_unit_test(test_huge_structure_overshoots),
		cmocka_unit_test(test_big_append),
	};

	return run_cases("imap_fetch", cases, sizeof(cases) / sizeof(cases[0]), fixed,
			 sizeof(fixed) / sizeof(fixed[0]));
}
