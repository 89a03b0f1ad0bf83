/* test_msg_imap - IMAP ENVELOPE/BODY/BODYSTRUCTURE rendering and the
 * structure blob's section lookup (mta/imap/imap_structure), on messages
 * built to match the RFC 3501 §7.4.2 examples byte for byte. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "imap/imap_structure.h"
#include "message/msg.h"
#include "message/msg_struct.h"
#include "sl_err.h"

/* Parse MSG into a structure (fed in 7-byte pieces). */
static msg_struct_t *build(const char *msg, size_t len)
{
	msg_struct_t *s = msg_struct_new(0);
	msg_callbacks_t cb;
	msg_struct_callbacks(s, NULL, &cb);
	msg_parser_t *p = msg_parser_new(NULL, &cb);
	for (size_t i = 0; i < len; i += 7)
		assert_int_equal(msg_parser_feed(p, msg + i, len - i < 7 ? len - i : 7), 0);
	assert_int_equal(msg_parser_finish(p, NULL), 0);
	msg_parser_free(&p);
	return s;
}

static char *render(const msg_struct_t *s, int what, uint32_t part)
{
	sl_buf_t o;
	sl_buf_init(&o, 1 << 20);
	int rc = what == 0 ? imap_structure_envelope(s, part, &o) : imap_structure_body(s, part, what == 2, &o);
	assert_int_equal(rc, 0);
	sl_buf_append(&o, "", 1);
	return (char *)o.data;
}

static void lines(sl_buf_t *b, int n, int len, char fill)
{
	for (int i = 0; i < n; i++) {
		for (int k = 0; k < len; k++)
			sl_buf_append(b, &fill, 1);
		sl_buf_append(b, "\r\n", 2);
	}
}

/* RFC 3501 §7.4.2: the ENVELOPE example and the single-part BODYSTRUCTURE
 * ("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 3028 92). */
static void test_rfc3501_envelope_and_text(void **state)
{
	(void)state;
	sl_buf_t m;
	sl_buf_init(&m, 1 << 20);
	sl_buf_printf(&m, "Date: Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\r\n"
			  "From: Terry Gray <gray@cac.washington.edu>\r\n"
			  "Subject: IMAP4rev1 WG mtg summary and minutes\r\n"
			  "To: imap@cac.washington.edu\r\n"
			  "cc: minutes@CNRI.Reston.VA.US,\r\n John Klensin <KLENSIN@MIT.EDU>\r\n"
			  "Message-Id: <B27397-0100000@cac.washington.edu>\r\n"
			  "MIME-Version: 1.0\r\n"
			  "Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n\r\n");
	lines(&m, 84, 31, 'x'); /* 92 lines, 3028 bytes */
	lines(&m, 8, 30, 'y');
	msg_struct_t *s = build((char *)m.data, m.len);
	char *env = render(s, 0, 0);
	assert_string_equal(env,
		"(\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\" \"IMAP4rev1 WG mtg summary and minutes\" "
		"((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) "
		"((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) "
		"((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) "
		"((NIL NIL \"imap\" \"cac.washington.edu\")) "
		"((NIL NIL \"minutes\" \"CNRI.Reston.VA.US\")(\"John Klensin\" NIL \"KLENSIN\" \"MIT.EDU\")) "
		"NIL NIL \"<B27397-0100000@cac.washington.edu>\")");
	char *body = render(s, 1, 0);
	assert_string_equal(body, "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 3028 92)");
	char *bs = render(s, 2, 0);
	assert_string_equal(bs, "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 3028 92 NIL NIL NIL NIL)");
	free(env);
	free(body);
	free(bs);
	msg_struct_free(&s);
	sl_buf_free(&m);
}

/* RFC 3501 §7.4.2 multipart example:
 * (("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 1152 23)("TEXT" "PLAIN" ("CHARSET"
 * "US-ASCII" "NAME" "cc.diff") "<960723163407.20117h@cac.washington.edu>" "Compiler diff"
 * "BASE64" 4554 73) "MIXED") */
static void test_rfc3501_multipart(void **state)
{
	(void)state;
	sl_buf_t m;
	sl_buf_init(&m, 1 << 20);
	sl_buf_printf(&m, "Subject: x\r\nContent-Type: multipart/mixed; boundary=\"=_b\"\r\n\r\n--=_b\r\n\r\n");
	lines(&m, 22, 48, 'a'); /* 23 lines, 1152 bytes */
	lines(&m, 1, 50, 'b');
	sl_buf_printf(&m, "\r\n--=_b\r\nContent-Type: text/plain; charset=US-ASCII; name=cc.diff\r\n"
			  "Content-ID: <960723163407.20117h@cac.washington.edu>\r\n"
			  "Content-Description: Compiler diff\r\n"
			  "Content-Transfer-Encoding: base64\r\n\r\n");
	lines(&m, 72, 60, 'Q'); /* 73 lines, 4554 bytes */
	lines(&m, 1, 88, 'Q');
	sl_buf_printf(&m, "\r\n--=_b--\r\n");
	msg_struct_t *s = build((char *)m.data, m.len);
	char *body = render(s, 1, 0);
	assert_string_equal(body,
		"((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 1152 23)"
		"(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\" \"NAME\" \"cc.diff\") "
		"\"<960723163407.20117h@cac.washington.edu>\" \"Compiler diff\" \"BASE64\" 4554 73) \"MIXED\")");
	char *bs = render(s, 2, 0);
	assert_string_equal(bs,
		"((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 1152 23 NIL NIL NIL NIL)"
		"(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\" \"NAME\" \"cc.diff\") "
		"\"<960723163407.20117h@cac.washington.edu>\" \"Compiler diff\" \"BASE64\" 4554 73 NIL NIL NIL NIL)"
		" \"MIXED\" (\"BOUNDARY\" \"=_b\") NIL NIL NIL)");
	free(body);
	free(bs);
	msg_struct_free(&s);
	sl_buf_free(&m);
}

static const char m_fwd[] =
	"From: \"Ann\" <ann@x.example>\r\n"                 /* 0 */
	"Subject: fwd \xc3\xa9\r\n"
	"Content-Type: multipart/mixed; boundary=o\r\n"
	"\r\n"
	"--o\r\n"
	"Content-Type: text/html; charset=utf-8\r\n"
	"Content-Disposition: inline\r\n"
	"Content-Language: en, fr\r\n"
	"\r\n"
	"<b>hi</b>\r\n"
	"--o\r\n"
	"Content-Type: message/rfc822\r\n"
	"Content-Disposition: attachment; filename=\"orig.eml\"\r\n"
	"\r\n"
	"From: bob@y.example\r\n"
	"Reply-To: undisclosed:;\r\n"
	"Subject: orig\r\n"
	"\r\n"
	"line1\r\n"
	"line2\r\n"
	"--o--\r\n";

static void test_rfc822_and_extensions(void **state)
{
	(void)state;
	msg_struct_t *s = build(m_fwd, sizeof(m_fwd) - 1);
	char *env = render(s, 0, 0);
	/* 8-bit subject: a literal */
	assert_string_equal(env, "(NIL {6}\r\nfwd \xc3\xa9 ((\"Ann\" NIL \"ann\" \"x.example\")) "
				 "((\"Ann\" NIL \"ann\" \"x.example\")) ((\"Ann\" NIL \"ann\" \"x.example\")) "
				 "NIL NIL NIL NIL NIL)");
	char *bs = render(s, 2, 0);
	assert_string_equal(bs,
		"((\"TEXT\" \"HTML\" (\"CHARSET\" \"utf-8\") NIL NIL \"7BIT\" 9 0 NIL (\"INLINE\" NIL) (\"en\" \"fr\") NIL)"
		"(\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 75 "
		"(NIL \"orig\" ((NIL NIL \"bob\" \"y.example\")) ((NIL NIL \"bob\" \"y.example\")) "
		"((NIL NIL \"undisclosed\" NIL)(NIL NIL NIL NIL)) NIL NIL NIL NIL NIL) "
		"(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 12 1 NIL NIL NIL NIL) 5 "
		"NIL (\"ATTACHMENT\" (\"FILENAME\" \"orig.eml\")) NIL NIL)"
		" \"MIXED\" (\"BOUNDARY\" \"o\") NIL NIL NIL)");
	free(env);
	free(bs);

	/* the blob: strings and sections */
	sl_buf_t blob;
	sl_buf_init(&blob, 1 << 20);
	assert_int_equal(imap_structure_blob(s, &blob), 0);
	imap_structure_view_t v;
	assert_int_equal(imap_structure_view(sl_buf_slice(&blob), &v), 0);
	assert_int_equal(v.nparts, 4);
	char *b2 = render(s, 2, 0);
	assert_int_equal(v.bodystructure.len, strlen(b2));
	assert_memory_equal(v.bodystructure.ptr, b2, v.bodystructure.len);
	free(b2);

	static const struct {
		const char *path;
		enum imap_sect kind;
		int rc;
		const char *bytes;
	} sec[] = {
		{"1", IMAP_SECT_PART, 0, "<b>hi</b>"},
		{"1", IMAP_SECT_MIME, 0, "Content-Type: text/html; charset=utf-8\r\nContent-Disposition: inline\r\n"
					 "Content-Language: en, fr\r\n\r\n"},
		{"2", IMAP_SECT_PART, 0, "From: bob@y.example\r\nReply-To: undisclosed:;\r\nSubject: orig\r\n\r\nline1\r\nline2"},
		{"2", IMAP_SECT_HEADER, 0, "From: bob@y.example\r\nReply-To: undisclosed:;\r\nSubject: orig\r\n\r\n"},
		{"2", IMAP_SECT_TEXT, 0, "line1\r\nline2"},
		{"2", IMAP_SECT_MIME, 0, "Content-Type: message/rfc822\r\n"
					 "Content-Disposition: attachment; filename=\"orig.eml\"\r\n\r\n"},
		{"2.1", IMAP_SECT_PART, 0, "line1\r\nline2"},
		{"", IMAP_SECT_HEADER, 0, "From: \"Ann\" <ann@x.example>\r\nSubject: fwd \xc3\xa9\r\n"
					  "Content-Type: multipart/mixed; boundary=o\r\n\r\n"},
		{"1", IMAP_SECT_HEADER, SL_EINVAL, NULL},
		{"1", IMAP_SECT_TEXT, SL_EINVAL, NULL},
		{"3", IMAP_SECT_PART, SL_ENOENT, NULL},
		{"1.1", IMAP_SECT_PART, SL_ENOENT, NULL},
		{"2.2", IMAP_SECT_PART, SL_ENOENT, NULL},
		{"2.1.1", IMAP_SECT_PART, SL_ENOENT, NULL},
		{"0", IMAP_SECT_PART, SL_EINVAL, NULL},
		{"1.", IMAP_SECT_PART, SL_EINVAL, NULL},
		{"a", IMAP_SECT_PART, SL_EINVAL, NULL},
		{"", IMAP_SECT_PART, SL_EINVAL, NULL},
		{"", IMAP_SECT_MIME, SL_EINVAL, NULL},
	};
	for (size_t i = 0; i < sizeof(sec) / sizeof(sec[0]); i++) {
		uint64_t off = 0, len = 0;
		int rc = imap_structure_section(sl_buf_slice(&blob), sl_slice_make(sec[i].path, strlen(sec[i].path)),
						sec[i].kind, &off, &len);
		if (rc != sec[i].rc)
			fail_msg("section %zu \"%s\" kind %d: rc %d", i, sec[i].path, sec[i].kind, rc);
		if (sec[i].bytes &&
		    (len != strlen(sec[i].bytes) || off + len > sizeof(m_fwd) - 1 ||
		     memcmp(m_fwd + off, sec[i].bytes, len) != 0))
			fail_msg("section %zu \"%s\": got [%llu,+%llu) \"%.*s\"", i, sec[i].path,
				 (unsigned long long)off, (unsigned long long)len, (int)len, m_fwd + off);
	}
	/* corrupt blobs are refused, never read past */
	assert_int_equal(imap_structure_view(sl_slice_make(blob.data, 10), &v), SL_ECORRUPT);
	for (size_t cut = 0; cut < blob.len; cut += 13) {
		uint64_t off, len;
		int rc = imap_structure_section(sl_slice_make(blob.data, cut), SL_SLICE_LIT("2.1"), IMAP_SECT_PART,
						&off, &len);
		assert_int_equal(rc, SL_ECORRUPT);
	}
	blob.data[0] = 'X';
	assert_int_equal(imap_structure_view(sl_buf_slice(&blob), &v), SL_ECORRUPT);
	sl_buf_free(&blob);
	msg_struct_free(&s);
}

/* A non-multipart message: part 1 is its body; nested rfc822 without multipart. */
static void test_sections_single(void **state)
{
	(void)state;
	static const char m[] = "Subject: a\r\n\r\nhello\r\n";
	msg_struct_t *s = build(m, sizeof(m) - 1);
	sl_buf_t blob;
	uint64_t off, len;
	sl_buf_init(&blob, 1 << 16);
	assert_int_equal(imap_structure_blob(s, &blob), 0);
	assert_int_equal(imap_structure_section(sl_buf_slice(&blob), SL_SLICE_LIT("1"), IMAP_SECT_PART, &off, &len), 0);
	assert_int_equal(off, 14);
	assert_int_equal(len, 7);
	assert_int_equal(imap_structure_section(sl_buf_slice(&blob), SL_SLICE_LIT("1"), IMAP_SECT_MIME, &off, &len), 0);
	assert_int_equal(off, 0);
	assert_int_equal(len, 14);
	assert_int_equal(imap_structure_section(sl_buf_slice(&blob), SL_SLICE_LIT("2"), IMAP_SECT_PART, &off, &len),
			 SL_ENOENT);
	assert_int_equal(imap_structure_section(sl_buf_slice(&blob), SL_SLICE_LIT(""), IMAP_SECT_TEXT, &off, &len), 0);
	assert_int_equal(off, 14);
	sl_buf_free(&blob);
	msg_struct_free(&s);

	/* a truncated structure gives no blob */
	s = msg_struct_new(100);
	msg_callbacks_t cb;
	msg_struct_callbacks(s, NULL, &cb);
	msg_parser_t *p = msg_parser_new(NULL, &cb);
	msg_parser_feed(p, m_fwd, sizeof(m_fwd) - 1);
	msg_parser_finish(p, NULL);
	sl_buf_init(&blob, 1 << 16);
	assert_int_equal(imap_structure_blob(s, &blob), SL_EINVAL);
	assert_int_equal(blob.len, 0);
	sl_buf_free(&blob);
	msg_parser_free(&p);
	msg_struct_free(&s);
}

/* A multipart with no delimiter at all still renders a valid 1*body. */
static void test_empty_multipart(void **state)
{
	(void)state;
	static const char m[] = "Content-Type: multipart/alternative; boundary=zz\r\n\r\nno parts\r\n";
	msg_struct_t *s = build(m, sizeof(m) - 1);
	char *body = render(s, 1, 0);
	assert_string_equal(body, "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 0 0) \"ALTERNATIVE\")");
	free(body);
	msg_struct_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc3501_envelope_and_text),
		cmocka_unit_test(test_rfc3501_multipart),
		cmocka_unit_test(test_rfc822_and_extensions),
		cmocka_unit_test(test_sections_single),
		cmocka_unit_test(test_empty_multipart),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
