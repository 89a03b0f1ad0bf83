/* test_av_sigs - the ClamAV signature loader: every syntax we compile, the
 * lines we skip with a warning, and malformed lines with their file:line
 * errors. Each case loads a small database, compiles it and scans crafted
 * buffers, so a signature is proven by what it matches and what it does
 * not. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "av/flt_av.h"
#include "sl_err.h"

typedef struct tdb {
	flt_av_db_t *db;
	flt_av_scanner_t *sc;
} tdb_t;

/* Load TEXT as FMT, compile, make a scanner without policy. */
static void tdb_open(tdb_t *t, enum flt_av_format fmt, const char *text)
{
	flt_av_policy_t pol;
	const char *err = NULL;
	int rc;

	flt_av_policy_default(&pol);
	pol.enabled = 0;
	assert_int_equal(flt_av_db_new(&t->db), 0);
	rc = flt_av_db_load_text(t->db, fmt, "t.db", text, strlen(text), &err);
	if (rc != 0)
		fail_msg("load: %s", err);
	rc = flt_av_db_compile(t->db, &err);
	if (rc != 0)
		fail_msg("compile: %s", err);
	assert_int_equal(flt_av_scanner_new(t->db, NULL, &pol, &t->sc, &err), 0);
}

static void tdb_close(tdb_t *t)
{
	flt_av_scanner_free(&t->sc);
	flt_av_db_free(&t->db);
	assert_null(t->db);
}

/* The signature name DATA is detected as, or "" when clean. */
static const char *scan(tdb_t *t, const void *data, size_t len)
{
	static flt_av_result_t r;

	assert_int_equal(flt_av_scan(t->sc, "x.bin", NULL, sl_slice_make(data, len), &r), 0);
	if (r.verdict == FLT_AV_CLEAN)
		return "";
	assert_int_equal(r.verdict, FLT_AV_INFECTED);
	return r.name;
}

#define SCAN_S(t, s) scan((t), (s), sizeof(s) - 1)

/* Load must fail with CODE and an error that starts with WANT_PREFIX and
 * contains WANT_TEXT. */
static void expect_load_error(enum flt_av_format fmt, const char *text, int code, const char *want_prefix,
			      const char *want_text)
{
	flt_av_db_t *db;
	const char *err = NULL;

	assert_int_equal(flt_av_db_new(&db), 0);
	assert_int_equal(flt_av_db_load_text(db, fmt, "bad.db", text, strlen(text), &err), code);
	assert_non_null(err);
	if (strncmp(err, want_prefix, strlen(want_prefix)) != 0 || strstr(err, want_text) == NULL)
		fail_msg("error \"%s\" lacks \"%s\" ... \"%s\"", err, want_prefix, want_text);
	flt_av_db_free(&db);
}

/* ---- hash signatures ---- */

static void test_hdb_md5_size_and_any_size(void **state)
{
	tdb_t t;
	/* md5("hello world") = 5eb63bbbe01eeed093cb22bb8f5acdc3, md5("abc") = 900150983cd24fb0d6963f7d28e17f72 */
	tdb_open(&t, FLT_AV_FMT_HDB,
		 "# comment\n"
		 "5eb63bbbe01eeed093cb22bb8f5acdc3:11:Test.Hello\r\n"
		 "\n"
		 "900150983CD24FB0D6963F7D28E17F72:*:Test.Abc:73\n");
	(void)state;
	assert_string_equal(SCAN_S(&t, "hello world"), "Test.Hello");
	assert_string_equal(SCAN_S(&t, "hello worle"), "");
	assert_string_equal(SCAN_S(&t, "abc"), "Test.Abc");
	assert_string_equal(SCAN_S(&t, "abcd"), "");
	tdb_close(&t);
}

static void test_hdb_wrong_size_does_not_match(void **state)
{
	tdb_t t;
	/* right digest, wrong size: the size set says "do not even hash" */
	tdb_open(&t, FLT_AV_FMT_HDB, "5eb63bbbe01eeed093cb22bb8f5acdc3:12:Test.Hello\n");
	(void)state;
	assert_string_equal(SCAN_S(&t, "hello world"), "");
	tdb_close(&t);
}

static void test_hsb_sha256_and_sha1(void **state)
{
	tdb_t t;
	flt_av_db_stats_t st;
	/* sha256("hello world"), sha1("abc") */
	tdb_open(&t, FLT_AV_FMT_HSB,
		 "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9:11:Test.Sha256\n"
		 "a9993e364706816aba3e25717850c26c9cd0d89d:3:Test.Sha1\n");
	(void)state;
	assert_string_equal(SCAN_S(&t, "hello world"), "Test.Sha256");
	assert_string_equal(SCAN_S(&t, "abc"), "Test.Sha1");
	assert_string_equal(SCAN_S(&t, "abd"), "");
	flt_av_db_stats(t.db, &st);
	assert_int_equal(st.sha256, 1);
	assert_int_equal(st.sha1, 1);
	assert_int_equal(st.md5, 0);
	tdb_close(&t);
}

static void test_hash_malformed_lines(void **state)
{
	(void)state;
	expect_load_error(FLT_AV_FMT_HDB, "5eb63bbbe01eeed093cb22bb8f5acdc3:11\n", SL_EINVAL, "bad.db:1:",
			  "hash:size:name");
	expect_load_error(FLT_AV_FMT_HDB, "# ok\n5eb63bbbe01eeed093cb22bb8f5acdc:11:X\n", SL_EINVAL, "bad.db:2:",
			  "hex digits");
	expect_load_error(FLT_AV_FMT_HDB, "5eb63bbbe01eeed093cb22bb8f5acdcZ:11:X\n", SL_EINVAL, "bad.db:1:",
			  "non-hex");
	expect_load_error(FLT_AV_FMT_HDB, "5eb63bbbe01eeed093cb22bb8f5acdc3:1x:X\n", SL_EINVAL, "bad.db:1:",
			  "size");
	expect_load_error(FLT_AV_FMT_HDB, "5eb63bbbe01eeed093cb22bb8f5acdc3:11:\n", SL_EINVAL, "bad.db:1:",
			  "empty signature name");
	expect_load_error(FLT_AV_FMT_HDB, "5eb63bbbe01eeed093cb22bb8f5acdc3:11:a b\n", SL_EINVAL, "bad.db:1:",
			  "space");
	expect_load_error(FLT_AV_FMT_HDB,
			  "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9:11:X\n", SL_EINVAL,
			  "bad.db:1:", "MD5");
	expect_load_error(FLT_AV_FMT_HSB, "5eb63bbbe01eeed093cb22bb8f5acdc3:11:X\n", SL_EINVAL, "bad.db:1:",
			  "SHA");
	expect_load_error(FLT_AV_FMT_HDB, "5eb63bbbe01eeed093cb22bb8f5acdc3:11:X:abc\n", SL_EINVAL, "bad.db:1:",
			  "functionality level");
	expect_load_error(FLT_AV_FMT_HDB, "5eb63bbbe01eeed093cb22bb8f5acdc3:*:X\n", SL_EINVAL, "bad.db:1:",
			  "size '*' needs a minimum functionality level of 73");
	expect_load_error(FLT_AV_FMT_HDB, "5eb63bbbe01eeed093cb22bb8f5acdc3:*:X:72\n", SL_EINVAL, "bad.db:1:",
			  "73");
}

static void test_hash_nul_and_long_line(void **state)
{
	flt_av_db_t *db;
	const char *err;
	char *big = malloc(70000);

	(void)state;
	assert_non_null(big);
	assert_int_equal(flt_av_db_new(&db), 0);
	assert_int_equal(flt_av_db_load_text(db, FLT_AV_FMT_HDB, "n.hdb", "abc\0def\n", 8, &err), SL_EINVAL);
	assert_string_equal(err, "n.hdb:1: NUL byte in line");
	memset(big, 'a', 70000);
	assert_int_equal(flt_av_db_load_text(db, FLT_AV_FMT_NDB, "l.ndb", big, 70000, &err), SL_EINVAL);
	assert_non_null(strstr(err, "l.ndb:1: line longer than"));
	flt_av_db_free(&db);
	free(big);
}

/* ---- body signatures ---- */

struct ndb_case {
	const char *sig;   /* the hex part of name:0:*:hex */
	const char *match; /* a buffer it must match */
	const char *miss;  /* one it must not */
};

static void test_ndb_syntax_table(void **state)
{
	static const struct ndb_case cases[] = {
		{"68656c6c6f", "say hello", "say hellx"},                 /* plain hex */
		{"68656C6C6F", "HELLO hello", "HELLO"},                    /* upper-case digits */
		{"6865??6c6f", "heXlo", "heXXlo"},                         /* ?? one byte */
		{"68656c6c6f*776f726c64", "hello big world", "world hello"}, /* * any run */
		{"6162{2}6364", "ab12cd", "ab1cd"},                        /* {n} exactly n */
		{"6162{2-4}6364", "ab1234cd", "ab12345cd"},                /* {n-m} */
		{"6162{-2}6364", "abcd", "ab123cd"},                       /* {-n} up to n */
		{"6162{3-}6364", "ab123456cd", "ab12cd"},                  /* {n-} at least n */
		{"6162[1-2]6364", "ab1cd", "ab123cd"},                     /* [x-y] anchored jump */
		{"6162(63|64|6565)6667", "abeefg", "abxfg"},               /* alternatives */
		{"6162!(63|64)6566", "abxef", "abcef"},                    /* negated alternatives */
		{"61626?", "abo", "abp"},                                  /* high nibble 6x */
		{"6162?3", "abS", "abT"},                                  /* low nibble x3 */
		{"2a2e2b3f5b5d", "x*.+?[]y", "*.+?[y"},                    /* regex metacharacters are bytes */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char line[256];
		tdb_t t;

		snprintf(line, sizeof(line), "Test.Case%zu:0:*:%s\n", i, cases[i].sig);
		tdb_open(&t, FLT_AV_FMT_NDB, line);
		snprintf(line, sizeof(line), "Test.Case%zu", i);
		if (strcmp(scan(&t, cases[i].match, strlen(cases[i].match)), line) != 0)
			fail_msg("case %zu (%s) did not match \"%s\"", i, cases[i].sig, cases[i].match);
		if (strcmp(scan(&t, cases[i].miss, strlen(cases[i].miss)), "") != 0)
			fail_msg("case %zu (%s) matched \"%s\"", i, cases[i].sig, cases[i].miss);
		tdb_close(&t);
	}
}

static void test_ndb_offsets(void **state)
{
	tdb_t t;

	(void)state;
	tdb_open(&t, FLT_AV_FMT_NDB,
		 "Test.Abs:0:4:41424344\n"         /* ABCD exactly at 4 */
		 "Test.Float:0:10,3:45464748\n"    /* EFGH starting in 10..13 */
		 "Test.Eof:0:EOF-4:494a4b4c\n"     /* IJKL as the last 4 bytes */
		 "Test.VarAbs:0:2:4d4e*4f50\n");   /* MN...OP starting at 2: start-of-match */
	assert_string_equal(SCAN_S(&t, "....ABCD...."), "Test.Abs");
	assert_string_equal(SCAN_S(&t, "...ABCD....."), "");
	assert_string_equal(SCAN_S(&t, "..........EFGH"), "Test.Float");
	assert_string_equal(SCAN_S(&t, ".............EFGH"), "Test.Float");
	assert_string_equal(SCAN_S(&t, "..............EFGH"), "");
	assert_string_equal(SCAN_S(&t, "xxxxIJKL"), "Test.Eof");
	assert_string_equal(SCAN_S(&t, "xxxxIJKLx"), "");
	assert_string_equal(SCAN_S(&t, "IJK"), "");
	assert_string_equal(SCAN_S(&t, "..MNxxxxOP"), "Test.VarAbs");
	assert_string_equal(SCAN_S(&t, "...MNxxxxOP"), "");
	tdb_close(&t);
}

/* A buffer: "AB", GAP filler bytes, "CD". */
static char *gap_buf(size_t gap, size_t *len_r)
{
	char *b = malloc(gap + 4);

	assert_non_null(b);
	memcpy(b, "AB", 2);
	memset(b + 2, 'x', gap);
	memcpy(b + 2 + gap, "CD", 2);
	*len_r = gap + 4;
	return b;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Jumps above 32 bytes: Hyperscan preselects with ".*", PCRE2 confirms the
 * exact bounds. Before that, two {1-32767} jumps took Hyperscan 17 s to
 * compile, and with an offset it refused them ("Pattern is too large"). */
static void test_ndb_large_jumps_exact_and_fast(void **state)
{
	static const struct {
		size_t gap;
		const char *want;
	} cases[] = {{99, ""}, {100, "Test.Big"}, {3000, "Test.Big"}, {5000, "Test.Big"}, {5001, ""}};
	double t0 = now_s();
	tdb_t t;

	(void)state;
	tdb_open(&t, FLT_AV_FMT_NDB,
		 "Test.Big:0:*:4142{100-5000}4344\n"
		 "Test.Huge:0:*:4142{1-32767}4344{1-32767}4546\n"
		 "Test.HugeOff:0:10:4748{1-32767}4344{1-32767}4546\n"
		 "Test.Tail:0:EOF-46,2:4a4b{40-}4c4d\n");
	print_message("compile: %.3f s\n", now_s() - t0);
	assert_true(now_s() - t0 < 10.0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len;
		char *b = gap_buf(cases[i].gap, &len);

		if (strcmp(scan(&t, b, len), cases[i].want) != 0)
			fail_msg("gap %zu: want \"%s\"", cases[i].gap, cases[i].want);
		free(b);
	}
	assert_string_equal(SCAN_S(&t, "AB..CD..EF"), "Test.Huge");
	assert_string_equal(SCAN_S(&t, "AB..CD"), "");
	assert_string_equal(SCAN_S(&t, "0123456789GH.CD.EF"), "Test.HugeOff");
	assert_string_equal(SCAN_S(&t, "012345678GH.CD.EF"), "");
	assert_string_equal(SCAN_S(&t, "0123456789aGH.CD.EF"), "");
	/* JK starting 46 to 44 bytes before the end, then at least 40 bytes, LM */
	assert_string_equal(SCAN_S(&t, "JK..........................................LM"), "Test.Tail");
	assert_string_equal(SCAN_S(&t, "..JK........................................LM"), "Test.Tail");
	assert_string_equal(SCAN_S(&t, "...JK.......................................LM"), "");
	assert_string_equal(SCAN_S(&t, "JK..LM"), "");
	tdb_close(&t);
}

static void test_ndb_target_types(void **state)
{
	tdb_t t;
	uint8_t pe[0x100], elf[64];

	(void)state;
	tdb_open(&t, FLT_AV_FMT_NDB,
		 "Test.PeOnly:1:*:deadbeef\n"
		 "Test.ElfOnly:6:*:cafebabe\n");
	memset(pe, 0, sizeof(pe));
	pe[0] = 'M';
	pe[1] = 'Z';
	pe[0x3c] = 0x80;
	memcpy(pe + 0x80, "PE\0\0", 4);
	memcpy(pe + 0xc0, "\xde\xad\xbe\xef\xca\xfe\xba\xbe", 8);
	assert_string_equal(scan(&t, pe, sizeof(pe)), "Test.PeOnly");
	memset(elf, 0, sizeof(elf));
	memcpy(elf, "\x7f" "ELF", 4);
	memcpy(elf + 32, "\xde\xad\xbe\xef\xca\xfe\xba\xbe", 8);
	assert_string_equal(scan(&t, elf, sizeof(elf)), "Test.ElfOnly");
	assert_string_equal(scan(&t, "xx\xde\xad\xbe\xef\xca\xfe\xba\xbe", 10), "");
	tdb_close(&t);
}

static void test_ndb_unsupported_lines_are_counted(void **state)
{
	flt_av_db_t *db;
	flt_av_db_stats_t st;
	const char *err;
	static const char text[] =
		"Ok.One:0:*:41424344\n"
		"Skip.Ep:1:EP+10:41424344\n"        /* entry-point offset */
		"Skip.Target:3:*:41424344\n"        /* HTML target: normalised in ClamAV */
		"Skip.Boundary:0:*:4142(B)4344\n"   /* word boundary */
		"Skip.Big:0:*:4142{1-40000}4344\n"  /* jump past our bound */
		"Skip.Sect:1:S2+78:41424344\n"
		"Ok.Two:0:*:45464748:51:255\n";

	(void)state;
	assert_int_equal(flt_av_db_new(&db), 0);
	assert_int_equal(flt_av_db_load_text(db, FLT_AV_FMT_NDB, "u.ndb", text, sizeof(text) - 1, &err), 0);
	flt_av_db_stats(db, &st);
	assert_int_equal(st.ndb, 2);
	assert_int_equal(st.skipped, 5);
	assert_non_null(strstr(flt_av_db_warning(db, 0), "u.ndb:2: skipped:"));
	assert_non_null(strstr(flt_av_db_warning(db, 1), "u.ndb:3: skipped: target type"));
	assert_non_null(strstr(flt_av_db_warning(db, 2), "u.ndb:4: skipped: boundary"));
	assert_non_null(strstr(flt_av_db_warning(db, 3), "u.ndb:5: skipped: jump"));
	assert_non_null(strstr(flt_av_db_warning(db, 4), "u.ndb:6: skipped:"));
	assert_null(flt_av_db_warning(db, 5));
	assert_int_equal(flt_av_db_compile(db, &err), 0);
	flt_av_db_stats(db, &st);
	assert_int_equal(st.patterns, 2);
	flt_av_db_free(&db);
}

static void test_ndb_malformed_lines(void **state)
{
	static const struct {
		const char *line, *want;
	} bad[] = {
		{"X:0:*\n", "expected name:target:offset:hexsig"},
		{"X:0:*:4142434\n", "odd number of hex digits"},
		{"X:0:*:4142zz\n", "unexpected character"},
		{"X:0:*:41??43\n", "two consecutive fixed bytes"},
		{"X:0:*:4142{3\n", "unterminated {jump}"},
		{"X:0:*:4142{5-3}4344\n", "max below min"},
		{"X:0:*:4142{x}4344\n", "missing number"},
		{"X:0:*:4142(43|\n", "unterminated alternative"},
		{"X:0:*:4142(43||44)\n", "empty alternative"},
		{"X:0:*:4142(43)\n", "at least two choices"},
		{"X:0:*:4142(4|44)\n", "bad byte"},
		{"X:x:*:41424344\n", "target type is not a number"},
		{"X:0:12x:41424344\n", "bad offset"},
		{"X:0:EOF-:41424344\n", "bad offset"},
		{"X:0:4,:41424344\n", "bad offset shift"},
		{"X:0:*:\n", "empty signature"},
		{":0:*:41424344\n", "empty signature name"},
		{"X:0:*:41424344:abc\n", "functionality level"},
		{"X:0:*:4142[3]4344\n", "[x-y] needs a range"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[128];

		snprintf(text, sizeof(text), "Ok:0:*:41424344\n%s", bad[i].line);
		expect_load_error(FLT_AV_FMT_NDB, text, SL_EINVAL, "bad.db:2: ", bad[i].want);
	}
}

static void test_load_file_and_dir(void **state)
{
	flt_av_db_t *db;
	flt_av_db_stats_t st;
	const char *err;

	(void)state;
	assert_int_equal(flt_av_db_new(&db), 0);
	assert_int_equal(flt_av_db_load_dir(db, "tests/data/av/sigs", &err), 0);
	flt_av_db_stats(db, &st);
	assert_true(st.files >= 4);
	assert_true(st.md5 >= 1 && st.sha256 >= 1 && st.ndb >= 1 && st.ldb >= 1);
	assert_int_equal(flt_av_db_compile(db, &err), 0);
	assert_int_equal(flt_av_db_compile(db, &err), SL_ESTATE);
	assert_int_equal(flt_av_db_load_file(db, "tests/data/av/sigs/sluice-test.ndb", &err), SL_ESTATE);
	flt_av_db_free(&db);

	assert_int_equal(flt_av_db_new(&db), 0);
	assert_int_equal(flt_av_db_load_file(db, "tests/data/av/no-such.ndb", &err), SL_EIO);
	assert_non_null(strstr(err, "no-such.ndb"));
	assert_int_equal(flt_av_db_load_file(db, "tests/data/av/sigs/README", &err), SL_ENOTSUP);
	assert_int_equal(flt_av_db_load_dir(db, "tests/data/av/no-such-dir", &err), SL_EIO);
	assert_int_equal(flt_av_db_load_file(db, "tests/data/av/bad/broken.ndb", &err), SL_EINVAL);
	assert_non_null(strstr(err, "tests/data/av/bad/broken.ndb:3: "));
	flt_av_db_free(&db);
}

/* ---- logical signatures ---- */

static void test_ldb_expressions(void **state)
{
	tdb_t t;

	(void)state;
	/* subsigs: 0 "AAAA" 1 "BBBB" 2 "CCCC" */
	tdb_open(&t, FLT_AV_FMT_LDB,
		 "Test.And;Target:0;0&1;41414141;42424242\n"
		 "Test.Or;Engine:51-255,Target:0;0|1;43434343;44444444\n"
		 "Test.Count3;Target:0;0=3;45454545\n"
		 "Test.More2;Target:0;0>2;46464646\n"
		 "Test.Less2AndOther;Target:0;(0<2)&1;47474747;48484848\n"
		 "Test.Group;Target:0;((0|1|2)>2,2)&3;49494949;4a4a4a4a;4b4b4b4b;4c4c4c4c\n"
		 "Test.Not;Target:0;0&(1=0);4d4d4d4d;4e4e4e4e\n"
		 "Test.Size;Target:0,FileSize:10-12;0;4f4f4f4f\n");
	assert_string_equal(SCAN_S(&t, "AAAA..BBBB"), "Test.And");
	assert_string_equal(SCAN_S(&t, "AAAA..BBBx"), "");
	assert_string_equal(SCAN_S(&t, "xxDDDDxx"), "Test.Or");
	assert_string_equal(SCAN_S(&t, "EEEE.EEEE.EEEE"), "Test.Count3");
	assert_string_equal(SCAN_S(&t, "EEEE.EEEE"), "");
	assert_string_equal(SCAN_S(&t, "EEEE.EEEE.EEEE.EEEE"), "");
	assert_string_equal(SCAN_S(&t, "FFFF.FFFF.FFFF"), "Test.More2");
	assert_string_equal(SCAN_S(&t, "FFFF.FFFF"), "");
	assert_string_equal(SCAN_S(&t, "GGGG HHHH"), "Test.Less2AndOther");
	assert_string_equal(SCAN_S(&t, "GGGG GGGG HHHH"), "");
	/* three matches from two distinct subsigs, plus subsig 3 */
	assert_string_equal(SCAN_S(&t, "IIII IIII JJJJ LLLL"), "Test.Group");
	/* three matches but one distinct */
	assert_string_equal(SCAN_S(&t, "IIII IIII IIII LLLL"), "");
	assert_string_equal(SCAN_S(&t, "MMMM"), "Test.Not");
	assert_string_equal(SCAN_S(&t, "MMMM NNNN"), "");
	assert_string_equal(SCAN_S(&t, "..OOOO...."), "Test.Size");
	assert_string_equal(SCAN_S(&t, "..OOOO....."), "Test.Size");
	assert_string_equal(SCAN_S(&t, "..OOOO......."), "");
	/* counts are per scan: nothing leaks into the next one */
	assert_string_equal(SCAN_S(&t, "EEEE.EEEE"), "");
	assert_string_equal(SCAN_S(&t, "EEEE"), "");
	tdb_close(&t);
}

static void test_ldb_modifiers_and_offsets(void **state)
{
	tdb_t t;

	(void)state;
	tdb_open(&t, FLT_AV_FMT_LDB,
		 "Test.NoCase;Engine:81-255,Target:0;0;68656c6c6f::i\n"
		 "Test.Wide;Engine:81-255,Target:0;0;776964::w\n"
		 "Test.WideAscii;Engine:81-255,Target:0;0;7a7a7a::wa\n"
		 "Test.Offset;Target:0;0&1;0:4d5a;EOF-2:7a71\n"
		 "Test.BigCount;Target:0;0=2;5051{40-100}5253\n");
	assert_string_equal(SCAN_S(&t, "say HeLLo"), "Test.NoCase");
	assert_string_equal(scan(&t, "xw\0i\0d\0", 7), "Test.Wide");
	assert_string_equal(SCAN_S(&t, "xwid"), "");
	assert_string_equal(SCAN_S(&t, "zzz"), "Test.WideAscii");
	assert_string_equal(scan(&t, "z\0z\0z\0", 6), "Test.WideAscii");
	assert_string_equal(SCAN_S(&t, "MZ......zq"), "Test.Offset");
	/* a preselected (large-jump) subsignature counts its exact matches */
	assert_string_equal(SCAN_S(&t, "PQ...........................................RS PQ....RS"), "");
	assert_string_equal(SCAN_S(&t, "PQ...........................................RS "
				       "PQ.........................................RS"),
			    "Test.BigCount");
	assert_string_equal(SCAN_S(&t, ".MZ.....zq"), "");
	assert_string_equal(SCAN_S(&t, "MZ......zq."), "");
	tdb_close(&t);
}

static void test_ldb_unsupported_and_malformed(void **state)
{
	flt_av_db_t *db;
	flt_av_db_stats_t st;
	const char *err;
	static const char text[] =
		"Skip.Pcre;Engine:81-255,Target:0;0&1;41414141;0/abc/\n"
		"Skip.Macro;Engine:51-255,Target:0;0&1;616161;${6-7}12$\n"
		"Skip.Full;Engine:81-255,Target:0;0;41414141::f\n"
		"Skip.Ep;Target:1,EntryPoint:0-10;0;41414141\n"
		"Skip.Target;Target:3;0;41414141\n"
		"Skip.ByteCmp;Engine:81-255,Target:0;0&1;41414141;0(>>5#hb2#=0)\n"
		"Ok;Target:0;0;41414141\n";
	static const struct {
		const char *line, *want;
	} bad[] = {
		{"X;Target:0;0\n", "expected name;target block"},
		{"X;Target:0;0&2;41414141;42424242\n", "subsignature 2 of 2"},
		{"X;Target:0;(0&1;41414141;42424242\n", "')' expected"},
		{"X;Target:0;0&;41414141;42424242\n", "number expected"},
		{"X;Target:0;0&1x;41414141;42424242\n", "unexpected 'x'"},
		{"X;Engine:51-255;0;41414141\n", "no Target"},
		{"X;Target:0,FileSize:9-3;0;41414141\n", "FileSize wants a range"},
		{"X;Target;0;41414141\n", "Key:Value"},
		{"X;Target:0;0;41??41\n", "subsignature 0: needs at least two"},
		{"X;Target:0;0;41414141::q\n", "unknown modifier 'q'"},
		{"X;Target:0;0;zz:41414141\n", "subsignature 0: bad offset"},
		{"X;Target:0;0>;41414141\n", "number expected"},
	};

	(void)state;
	assert_int_equal(flt_av_db_new(&db), 0);
	assert_int_equal(flt_av_db_load_text(db, FLT_AV_FMT_LDB, "u.ldb", text, sizeof(text) - 1, &err), 0);
	flt_av_db_stats(db, &st);
	assert_int_equal(st.ldb, 1);
	assert_int_equal(st.skipped, 6);
	assert_non_null(strstr(flt_av_db_warning(db, 0), "u.ldb:1: skipped: PCRE"));
	assert_non_null(strstr(flt_av_db_warning(db, 1), "u.ldb:2: skipped: macro"));
	assert_non_null(strstr(flt_av_db_warning(db, 2), "u.ldb:3: skipped: the fullword"));
	assert_non_null(strstr(flt_av_db_warning(db, 5), "u.ldb:6: skipped: byte-compare"));
	assert_int_equal(flt_av_db_compile(db, &err), 0);
	flt_av_db_stats(db, &st);
	assert_int_equal(st.patterns, 1); /* skipped lines left no pattern behind */
	flt_av_db_free(&db);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_load_error(FLT_AV_FMT_LDB, bad[i].line, SL_EINVAL, "bad.db:1: ", bad[i].want);
}

static void test_ldb_deep_expression_is_refused(void **state)
{
	char line[512];
	size_t n = 0;

	(void)state;
	n += (size_t)snprintf(line + n, sizeof(line) - n, "X;Target:0;");
	for (int i = 0; i < 40; i++)
		line[n++] = '(';
	line[n++] = '0';
	for (int i = 0; i < 40; i++)
		line[n++] = ')';
	snprintf(line + n, sizeof(line) - n, ";41414141\n");
	expect_load_error(FLT_AV_FMT_LDB, line, SL_EINVAL, "bad.db:1: ", "nested too deeply");
}

static void test_empty_db_still_detects_eicar(void **state)
{
	tdb_t t;

	(void)state;
	tdb_open(&t, FLT_AV_FMT_NDB, "# nothing\n");
	assert_string_equal(SCAN_S(&t, "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"),
			    FLT_AV_EICAR_NAME);
	assert_string_equal(SCAN_S(&t, "clean"), "");
	assert_string_equal(scan(&t, "", 0), "");
	tdb_close(&t);
}

static void test_scanner_needs_compiled_db(void **state)
{
	flt_av_db_t *db;
	flt_av_scanner_t *sc;
	const char *err;

	(void)state;
	assert_int_equal(flt_av_db_new(&db), 0);
	assert_int_equal(flt_av_scanner_new(db, NULL, NULL, &sc, &err), SL_ESTATE);
	assert_null(sc);
	flt_av_db_free(&db);
	flt_av_db_free(&db); /* NULL is fine */
	flt_av_scanner_free(&sc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hdb_md5_size_and_any_size),
		cmocka_unit_test(test_hdb_wrong_size_does_not_match),
		cmocka_unit_test(test_hsb_sha256_and_sha1),
		cmocka_unit_test(test_hash_malformed_lines),
		cmocka_unit_test(test_hash_nul_and_long_line),
		cmocka_unit_test(test_ndb_syntax_table),
		cmocka_unit_test(test_ndb_offsets),
		cmocka_unit_test(test_ndb_large_jumps_exact_and_fast),
		cmocka_unit_test(test_ndb_target_types),
		cmocka_unit_test(test_ndb_unsupported_lines_are_counted),
		cmocka_unit_test(test_ndb_malformed_lines),
		cmocka_unit_test(test_load_file_and_dir),
		cmocka_unit_test(test_ldb_expressions),
		cmocka_unit_test(test_ldb_modifiers_and_offsets),
		cmocka_unit_test(test_ldb_unsupported_and_malformed),
		cmocka_unit_test(test_ldb_deep_expression_is_refused),
		cmocka_unit_test(test_empty_db_still_detects_eicar),
		cmocka_unit_test(test_scanner_needs_compiled_db),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
