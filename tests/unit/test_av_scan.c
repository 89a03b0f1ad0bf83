/* test_av_scan - the scanner: EICAR, archives built with libarchive at test
 * time (zip, zip in zip, gzip, tar, tar.gz, encrypted zip), bombs refused
 * within the limits, attachment policy, Debian's clamav-testfiles found
 * through recursion with our own signatures, and one database shared by
 * several threads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <time.h>
#include <cmocka.h>

#include <archive.h>
#include <archive_entry.h>

#include "av/flt_av.h"
#include "sl_err.h"

#define TESTFILES "/usr/share/clamav-testfiles"
#define SIGDIR "tests/data/av/sigs"

static const char eicar[] = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

typedef struct member {
	const char *name;
	const void *data;
	size_t len;
} member_t;

/* An archive in memory: FORMAT "zip", "tar" or "raw"; FILTER "none" or
 * "gzip"; a zip is encrypted with PASSPHRASE when it is not NULL. */
static uint8_t *make_archive(const char *format, const char *filter, const member_t *m, size_t n,
			     const char *passphrase, size_t *len_r)
{
	size_t cap = 64 * 1024, used = 0;
	struct archive *a = archive_write_new();
	uint8_t *buf;

	for (size_t i = 0; i < n; i++)
		cap += m[i].len + m[i].len / 8 + 1024;
	buf = malloc(cap);
	assert_non_null(a);
	assert_non_null(buf);
	if (strcmp(format, "zip") == 0)
		assert_int_equal(archive_write_set_format_zip(a), ARCHIVE_OK);
	else if (strcmp(format, "tar") == 0)
		assert_int_equal(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
	else
		assert_int_equal(archive_write_set_format_raw(a), ARCHIVE_OK);
	if (strcmp(filter, "gzip") == 0)
		assert_int_equal(archive_write_add_filter_gzip(a), ARCHIVE_OK);
	if (passphrase != NULL) {
		assert_int_equal(archive_write_set_options(a, "zip:encryption=zipcrypt"), ARCHIVE_OK);
		assert_int_equal(archive_write_set_passphrase(a, passphrase), ARCHIVE_OK);
	}
	assert_int_equal(archive_write_open_memory(a, buf, cap, &used), ARCHIVE_OK);
	for (size_t i = 0; i < n; i++) {
		struct archive_entry *e = archive_entry_new();

		archive_entry_set_pathname(e, m[i].name);
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_perm(e, 0644);
		archive_entry_set_size(e, (la_int64_t)m[i].len);
		assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
		if (m[i].len > 0)
			assert_int_equal(archive_write_data(a, m[i].data, m[i].len), (la_ssize_t)m[i].len);
		archive_entry_free(e);
	}
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
	*len_r = used;
	return buf;
}

static uint8_t *zip1(const char *name, const void *data, size_t len, size_t *len_r)
{
	member_t m = {name, data, len};

	return make_archive("zip", "none", &m, 1, NULL, len_r);
}

static uint8_t *read_file(const char *path, size_t *len_r)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long n;

	if (f == NULL)
		fail_msg("cannot open %s (package clamav-testfiles?)", path);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len_r = (size_t)n;
	return buf;
}

typedef struct fx {
	flt_av_db_t *db;
	flt_av_scanner_t *sc;
	flt_av_limits_t lim;
	flt_av_policy_t pol;
	flt_av_result_t r;
} fx_t;

static flt_av_db_t *load_db(const char *path)
{
	flt_av_db_t *db;
	const char *err = NULL;
	int rc;

	assert_int_equal(flt_av_db_new(&db), 0);
	if (path != NULL) {
		rc = strstr(path, ".") != NULL && strrchr(path, '/') < strrchr(path, '.')
			     ? flt_av_db_load_file(db, path, &err)
			     : flt_av_db_load_dir(db, path, &err);
		if (rc != 0)
			fail_msg("load %s: %s", path, err);
	}
	if (flt_av_db_compile(db, &err) != 0)
		fail_msg("compile: %s", err);
	return db;
}

static void fx_scanner(fx_t *f)
{
	const char *err = NULL;

	flt_av_scanner_free(&f->sc);
	if (flt_av_scanner_new(f->db, &f->lim, &f->pol, &f->sc, &err) != 0)
		fail_msg("scanner: %s", err);
}

static int fx_setup(void **state)
{
	fx_t *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->db = load_db(NULL);
	flt_av_limits_default(&f->lim);
	flt_av_policy_default(&f->pol);
	fx_scanner(f);
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	fx_t *f = *state;

	flt_av_scanner_free(&f->sc);
	flt_av_db_free(&f->db);
	free(f);
	return 0;
}

static flt_av_result_t *fx_scan(fx_t *f, const char *name, const void *data, size_t len)
{
	assert_int_equal(flt_av_scan(f->sc, name, NULL, sl_slice_make(data, len), &f->r), 0);
	return &f->r;
}

static void expect(const flt_av_result_t *r, enum flt_av_verdict v, const char *name, const char *where)
{
	if (r->verdict != v || (name != NULL && strcmp(r->name, name) != 0) ||
	    (where != NULL && strcmp(r->where, where) != 0))
		fail_msg("got %s \"%s\" at \"%s\" (%s), want %s \"%s\" at \"%s\"", flt_av_verdict_str(r->verdict),
			 r->name, r->where, r->reason, flt_av_verdict_str(v), name ? name : "*", where ? where : "*");
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- EICAR ---- */

static void test_eicar_plain_and_whitespace(void **state)
{
	fx_t *f = *state;
	char buf[200];

	expect(fx_scan(f, "eicar.txt", eicar, 68), FLT_AV_INFECTED, FLT_AV_EICAR_NAME, "eicar.txt");
	memcpy(buf, eicar, 68);
	memcpy(buf + 68, " \t\r\n\x1a", 5);
	expect(fx_scan(f, "e.txt", buf, 73), FLT_AV_INFECTED, FLT_AV_EICAR_NAME, NULL);
	memset(buf + 68, ' ', 60);
	expect(fx_scan(f, "e.txt", buf, 128), FLT_AV_INFECTED, FLT_AV_EICAR_NAME, NULL);
	/* past 128 bytes, or anything but white space after it: not the test file */
	memset(buf + 68, ' ', 61);
	expect(fx_scan(f, "e.txt", buf, 129), FLT_AV_CLEAN, NULL, NULL);
	memcpy(buf + 68, "\r\nx", 3);
	expect(fx_scan(f, "e.txt", buf, 71), FLT_AV_CLEAN, NULL, NULL);
	expect(fx_scan(f, "e.txt", eicar, 67), FLT_AV_CLEAN, NULL, NULL);
	expect(fx_scan(f, NULL, eicar, 68), FLT_AV_INFECTED, FLT_AV_EICAR_NAME, "-");
}

static void test_eicar_in_zip_zip_in_zip_gzip_tar(void **state)
{
	fx_t *f = *state;
	size_t l1, l2, l3, l4, l5, l6;
	member_t two[] = {{"readme.txt", "hello", 5}, {"dir/eicar.com", eicar, 68}};
	uint8_t *z1 = zip1("eicar.com", eicar, 68, &l1);
	uint8_t *z2 = zip1("inner.zip", z1, l1, &l2);
	uint8_t *gz = make_archive("raw", "gzip", &two[1], 1, NULL, &l3);
	uint8_t *tgz = make_archive("tar", "gzip", two, 2, NULL, &l4);
	uint8_t *tar = make_archive("tar", "none", two, 2, NULL, &l5);
	uint8_t *z3 = zip1("t.tar.gz", tgz, l4, &l6);

	expect(fx_scan(f, "a.zip", z1, l1), FLT_AV_INFECTED, FLT_AV_EICAR_NAME, "a.zip/eicar.com");
	assert_int_equal(f->r.files, 2);
	expect(fx_scan(f, "b.zip", z2, l2), FLT_AV_INFECTED, FLT_AV_EICAR_NAME, "b.zip/inner.zip/eicar.com");
	assert_int_equal(f->r.files, 3);
	expect(fx_scan(f, "eicar.com.gz", gz, l3), FLT_AV_INFECTED, FLT_AV_EICAR_NAME, "eicar.com.gz/eicar.com");
	expect(fx_scan(f, "t.tar.gz", tgz, l4), FLT_AV_INFECTED, FLT_AV_EICAR_NAME, "t.tar.gz/dir/eicar.com");
	assert_int_equal(f->r.files, 3); /* a .tar.gz is one archive: it, readme.txt, eicar.com */
	expect(fx_scan(f, "t.tar", tar, l5), FLT_AV_INFECTED, FLT_AV_EICAR_NAME, "t.tar/dir/eicar.com");
	expect(fx_scan(f, "c.zip", z3, l6), FLT_AV_INFECTED, FLT_AV_EICAR_NAME, "c.zip/t.tar.gz/dir/eicar.com");
	free(z1);
	free(z2);
	free(gz);
	free(tgz);
	free(tar);
	free(z3);
}

static void test_clean_archives_stay_clean(void **state)
{
	fx_t *f = *state;
	member_t m[] = {{"a.txt", "alpha", 5}, {"b/c.txt", "gamma", 5}, {"empty.txt", "", 0}};
	size_t l1, l2;
	uint8_t *z = make_archive("zip", "none", m, 3, NULL, &l1);
	uint8_t *t = make_archive("tar", "gzip", m, 3, NULL, &l2);

	expect(fx_scan(f, "ok.zip", z, l1), FLT_AV_CLEAN, "", "");
	assert_int_equal(f->r.files, 4);
	assert_int_equal(f->r.broken, 0);
	expect(fx_scan(f, "ok.tgz", t, l2), FLT_AV_CLEAN, NULL, NULL);
	assert_int_equal(f->r.files, 4);
	free(z);
	free(t);
}

/* ---- limits ---- */

/* A zip with one member of SIZE zero bytes, deflated. */
static uint8_t *zero_bomb(const char *format, const char *filter, uint64_t size, size_t *len_r)
{
	size_t cap = 16u << 20, used = 0;
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();
	uint8_t *buf = malloc(cap), *zeros = calloc(1, 1u << 20);

	assert_non_null(buf);
	assert_non_null(zeros);
	if (strcmp(format, "zip") == 0)
		assert_int_equal(archive_write_set_format_zip(a), ARCHIVE_OK);
	else
		assert_int_equal(archive_write_set_format_raw(a), ARCHIVE_OK);
	if (strcmp(filter, "gzip") == 0)
		assert_int_equal(archive_write_add_filter_gzip(a), ARCHIVE_OK);
	assert_int_equal(archive_write_open_memory(a, buf, cap, &used), ARCHIVE_OK);
	archive_entry_set_pathname(e, "zeros.bin");
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, (la_int64_t)size);
	assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
	for (uint64_t done = 0; done < size; done += 1u << 20)
		assert_int_equal(archive_write_data(a, zeros, 1u << 20), 1 << 20);
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
	archive_entry_free(e);
	free(zeros);
	*len_r = used;
	return buf;
}

static void test_zip_bomb_1gb_refused_quickly(void **state)
{
	fx_t *f = *state;
	size_t len, glen;
	uint8_t *bomb = zero_bomb("zip", "none", 1ull << 30, &len);
	uint8_t *gbomb = zero_bomb("raw", "gzip", 1ull << 30, &glen);
	double t0, dt;

	print_message("1 GiB of zeros: zip %zu bytes, gzip %zu bytes\n", len, glen);
	t0 = now_s();
	expect(fx_scan(f, "bomb.zip", bomb, len), FLT_AV_LIMITS, FLT_AV_LIMITS_NAME, "bomb.zip/zeros.bin");
	dt = now_s() - t0;
	print_message("zip bomb refused in %.3f s: %s\n", dt, f->r.reason);
	assert_true(dt < 10.0); /* ~0.2 s release, ~0.7 s ASan; unbounded, 1 GiB would take seconds more */
	t0 = now_s();
	expect(fx_scan(f, "bomb.bin.gz", gbomb, glen), FLT_AV_LIMITS, FLT_AV_LIMITS_NAME, "bomb.bin.gz/bomb.bin");
	dt = now_s() - t0;
	print_message("gzip bomb refused in %.3f s: %s\n", dt, f->r.reason);
	assert_true(dt < 10.0); /* ~0.2 s release, ~0.7 s ASan; unbounded, 1 GiB would take seconds more */

	/* each limit alone is enough: the per-member cap (the default that hit first) */
	assert_non_null(strstr(f->r.reason, "max_file"));
	/* the expansion ratio, with the size caps out of the way */
	f->lim.max_file = 2ull << 30;
	f->lim.max_total = 2ull << 30;
	f->lim.max_ratio = 20;
	fx_scanner(f);
	t0 = now_s();
	expect(fx_scan(f, "bomb.zip", bomb, len), FLT_AV_LIMITS, FLT_AV_LIMITS_NAME, NULL);
	dt = now_s() - t0;
	print_message("ratio limit hit in %.3f s: %s\n", dt, f->r.reason);
	assert_non_null(strstr(f->r.reason, "expansion ratio above 20:1"));
	assert_true(dt < 10.0);
	free(bomb);
	free(gbomb);
}

static void test_nested_zip_depth_limit(void **state)
{
	fx_t *f = *state;
	size_t len = 68;
	uint8_t *cur = malloc(68);

	assert_non_null(cur);
	memcpy(cur, eicar, 68);
	for (int level = 0; level < 20; level++) {
		char name[32];
		size_t nlen;
		uint8_t *next;

		snprintf(name, sizeof(name), level == 0 ? "eicar.com" : "l%d.zip", level);
		next = zip1(name, cur, len, &nlen);
		free(cur);
		cur = next;
		len = nlen;
	}
	expect(fx_scan(f, "deep.zip", cur, len), FLT_AV_LIMITS, FLT_AV_LIMITS_NAME, NULL);
	assert_non_null(strstr(f->r.reason, "nesting deeper than 16"));
	assert_int_equal(f->r.files, 17);
	/* with room for all twenty levels, the payload is found */
	f->lim.max_depth = 20;
	fx_scanner(f);
	expect(fx_scan(f, "deep.zip", cur, len), FLT_AV_INFECTED, FLT_AV_EICAR_NAME, NULL);
	assert_non_null(strstr(f->r.where, "/l1.zip/eicar.com"));
	free(cur);
}

static void test_file_count_total_and_member_limits(void **state)
{
	fx_t *f = *state;
	enum { N = 1200 };
	member_t *m = calloc(N, sizeof(*m));
	char (*names)[24] = calloc(N, 24);
	uint8_t *noise = malloc(2u << 20), *z, *big;
	uint32_t x = 12345;
	size_t len, blen;

	assert_non_null(m);
	assert_non_null(names);
	assert_non_null(noise);
	for (int i = 0; i < N; i++) {
		snprintf(names[i], 24, "f%d.txt", i);
		m[i] = (member_t){names[i], "x", 1};
	}
	z = make_archive("zip", "none", m, N, NULL, &len);
	expect(fx_scan(f, "many.zip", z, len), FLT_AV_LIMITS, FLT_AV_LIMITS_NAME, NULL);
	assert_non_null(strstr(f->r.reason, "max_files 1000"));
	assert_int_equal(f->r.files, 1000);

	for (size_t i = 0; i < (2u << 20); i++) {
		x = x * 1103515245u + 12345u;
		noise[i] = (uint8_t)(x >> 24);
	}
	big = zip1("noise.bin", noise, 2u << 20, &blen);
	f->lim.max_file = 1u << 20;
	fx_scanner(f);
	expect(fx_scan(f, "big.zip", big, blen), FLT_AV_LIMITS, FLT_AV_LIMITS_NAME, "big.zip/noise.bin");
	assert_non_null(strstr(f->r.reason, "max_file"));
	f->lim.max_file = 25u << 20;
	f->lim.max_total = 3u << 20;
	fx_scanner(f);
	expect(fx_scan(f, "big.zip", big, blen), FLT_AV_LIMITS, FLT_AV_LIMITS_NAME, NULL);
	assert_non_null(strstr(f->r.reason, "max_total"));
	f->lim.max_total = 1u << 20;
	fx_scanner(f);
	expect(fx_scan(f, "noise.bin", noise, 2u << 20), FLT_AV_LIMITS, FLT_AV_LIMITS_NAME, "noise.bin");
	free(m);
	free(names);
	free(noise);
	free(z);
	free(big);
}

static void test_broken_and_garbage_archives(void **state)
{
	fx_t *f = *state;
	size_t len;
	uint8_t *z = zip1("eicar.com", eicar, 68, &len);
	uint8_t *buf = malloc(len + 4096);
	uint32_t x = 99;

	assert_non_null(buf);
	/* every truncation of a zip: never a crash, never a false verdict */
	for (size_t cut = 0; cut < len; cut++) {
		memcpy(buf, z, cut);
		fx_scan(f, "cut.zip", buf, cut);
		/* a cut member's name still meets the policy: eicar.com has a blocked extension */
		assert_true(f->r.verdict == FLT_AV_CLEAN || f->r.verdict == FLT_AV_INFECTED ||
			    (f->r.verdict == FLT_AV_POLICY && strcmp(f->r.where, "cut.zip/eicar.com") == 0));
	}
	/* random corruption under archive magics */
	for (int round = 0; round < 3000; round++) {
		static const char *const magic[] = {"PK\x03\x04", "\x1f\x8b\x08\x00", "BZh9", "7z\xbc\xaf\x27\x1c",
						    "Rar!\x1a\x07\x00", "MSCF\0\0\0\0", "070701", "\xfd" "7zXZ\0"};
		size_t n = 16 + (size_t)(round % 600);
		const char *mg = magic[round % 8];

		memcpy(buf, z, len);
		for (size_t i = 0; i < n; i++) {
			x = x * 1103515245u + 12345u;
			if (i >= len || (x >> 28) == 0)
				buf[i] = (uint8_t)(x >> 16);
		}
		memcpy(buf, mg, strlen(mg) > 4 ? strlen(mg) : 4);
		assert_int_equal(flt_av_scan(f->sc, "g.bin", NULL, sl_slice_make(buf, n), &f->r), 0);
	}
	free(z);
	free(buf);
}

/* ---- encrypted members ---- */

static void test_encrypted_zip_member(void **state)
{
	fx_t *f = *state;
	member_t doc = {"secret.txt", eicar, 68}, exe = {"tool.exe", "MZ", 2};
	size_t l1, l2;
	uint8_t *z1 = make_archive("zip", "none", &doc, 1, "pw", &l1);
	uint8_t *z2 = make_archive("zip", "none", &exe, 1, "pw", &l2);

	expect(fx_scan(f, "enc.zip", z1, l1), FLT_AV_POLICY, "Policy.Encrypted", "enc.zip/secret.txt");
	/* the name is visible even when the content is not */
	expect(fx_scan(f, "enc2.zip", z2, l2), FLT_AV_POLICY, "Policy.Extension", "enc2.zip/tool.exe");
	f->pol.block_encrypted = 0;
	fx_scanner(f);
	expect(fx_scan(f, "enc.zip", z1, l1), FLT_AV_CLEAN, NULL, NULL);
	assert_int_equal(f->r.encrypted, 1);
	free(z1);
	free(z2);
}

/* ---- policy ---- */

static void test_policy_extensions(void **state)
{
	fx_t *f = *state;
	static const struct {
		const char *name, *want, *reason;
	} cases[] = {
		{"invoice.pdf.exe", "Policy.DoubleExtension", "double extension .pdf.exe"},
		{"Invoice.PDF.Scr", "Policy.DoubleExtension", "double extension .PDF.Scr"},
		{"invoice.pdf      .exe", "Policy.DoubleExtension", "double extension .pdf.exe"},
		{"setup.exe", "Policy.Extension", "extension .exe is blocked"},
		{"run.js", "Policy.Extension", "extension .js is blocked"},
		{"x.VBS", "Policy.Extension", NULL},
		{"a.b.c.hta", "Policy.Extension", NULL},
		{"evil.exe. . ", "Policy.Extension", "extension .exe is blocked"},
		{"C:\\Users\\x\\Desktop\\doc.pdf.bat", "Policy.DoubleExtension", NULL},
		{"script.ps1", "Policy.Extension", NULL},
		{"photo.jpg", "", NULL},
		{"report.pdf", "", NULL},
		{"exe", "", NULL},
		{".exe", "", NULL},
		{"notes.executable", "", NULL},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fx_scan(f, cases[i].name, "harmless text", 13);
		if (strcmp(f->r.name, cases[i].want) != 0 ||
		    (cases[i].reason != NULL && strcmp(f->r.reason, cases[i].reason) != 0))
			fail_msg("%s: got \"%s\" (%s)", cases[i].name, f->r.name, f->r.reason);
		assert_int_equal(f->r.verdict, cases[i].want[0] ? FLT_AV_POLICY : FLT_AV_CLEAN);
	}
}

static void test_policy_true_type_and_declared_type(void **state)
{
	fx_t *f = *state;
	size_t len, zl, el;
	uint8_t *pe = read_file(TESTFILES "/clam.exe", &len);
	uint8_t *z = zip1("report.pdf", pe, len, &zl);
	uint8_t elf[128];

	/* a PE that calls itself a PDF, inside a zip */
	expect(fx_scan(f, "docs.zip", z, zl), FLT_AV_POLICY, "Policy.TrueType", "docs.zip/report.pdf");
	assert_non_null(strstr(f->r.reason, "executable")); /* x-dosexec or vnd.microsoft.portable-executable */
	free(z);
	/* a minimal ELF header */
	memset(elf, 0, sizeof(elf));
	memcpy(elf, "\x7f" "ELF\x02\x01\x01", 7);
	elf[16] = 2;    /* ET_EXEC */
	elf[18] = 0x3e; /* x86-64 */
	elf[20] = 1;
	z = zip1("notes.txt", elf, sizeof(elf), &el);
	expect(fx_scan(f, "x.zip", z, el), FLT_AV_POLICY, "Policy.TrueType", "x.zip/notes.txt");
	free(z);
	/* the sender's declared type */
	assert_int_equal(flt_av_scan(f->sc, "a.bin", "Application/X-MSDownload; name=a.bin",
				     sl_slice_make("data", 4), &f->r), 0);
	expect(&f->r, FLT_AV_POLICY, "Policy.DeclaredType", NULL);
	assert_int_equal(flt_av_scan(f->sc, "a.txt", "text/plain", sl_slice_make("data", 4), &f->r), 0);
	expect(&f->r, FLT_AV_CLEAN, NULL, NULL);
	free(pe);
}

/* Inline body text (no name, declared text type, top level, no NUL) skips
 * libmagic; anything else that holds the same bytes does not. The bytes: a
 * Mach-O magic followed by text, which libmagic calls
 * application/x-mach-binary although no NUL-free Mach-O can run. */
static void test_true_type_skips_body_text_only(void **state)
{
	fx_t *f = *state;
	static const char macho[] = "\xfe\xed\xfa\xce" "abcdefghijklmnopqrstuvwxyz0123456789\n";
	size_t len, zl;
	uint8_t *pe = read_file(TESTFILES "/clam.exe", &len), *z;
	sl_slice_t b = sl_slice_make(macho, sizeof(macho) - 1);

	/* the body of a message: shown as text, never run */
	assert_int_equal(flt_av_scan(f->sc, NULL, "text/plain", b, &f->r), 0);
	expect(&f->r, FLT_AV_CLEAN, NULL, NULL);
	assert_int_equal(flt_av_scan(f->sc, "", " Text/HTML", b, &f->r), 0);
	expect(&f->r, FLT_AV_CLEAN, NULL, NULL);
	/* a named attachment, an undeclared object, a non-text declared type */
	assert_int_equal(flt_av_scan(f->sc, "notes.txt", "text/plain", b, &f->r), 0);
	expect(&f->r, FLT_AV_POLICY, "Policy.TrueType", "notes.txt");
	assert_non_null(strstr(f->r.reason, "application/x-mach-binary"));
	assert_int_equal(flt_av_scan(f->sc, NULL, NULL, b, &f->r), 0);
	expect(&f->r, FLT_AV_POLICY, "Policy.TrueType", "-");
	assert_int_equal(flt_av_scan(f->sc, NULL, "image/gif", b, &f->r), 0);
	expect(&f->r, FLT_AV_POLICY, "Policy.TrueType", "-");
	/* an executable declared as inline text: its NULs send it to libmagic */
	assert_int_equal(flt_av_scan(f->sc, NULL, "text/plain", sl_slice_make(pe, len), &f->r), 0);
	expect(&f->r, FLT_AV_POLICY, "Policy.TrueType", "-");
	/* an archive member is always checked */
	z = zip1("README", macho, sizeof(macho) - 1, &zl);
	assert_int_equal(flt_av_scan(f->sc, NULL, "application/zip", sl_slice_make(z, zl), &f->r), 0);
	expect(&f->r, FLT_AV_POLICY, "Policy.TrueType", "-/README");
	free(z);
	free(pe);
}

static void test_policy_configurable_lists(void **state)
{
	fx_t *f = *state;
	static const char *const exts[] = {"pdf", NULL};
	static const char *const none[] = {NULL};
	size_t len;
	uint8_t *pe = read_file(TESTFILES "/clam.exe", &len);

	f->pol.block_ext = exts;
	f->pol.block_types = none;
	fx_scanner(f);
	expect(fx_scan(f, "a.pdf", "x", 1), FLT_AV_POLICY, "Policy.Extension", NULL);
	expect(fx_scan(f, "a.exe", "x", 1), FLT_AV_CLEAN, NULL, NULL);
	expect(fx_scan(f, "a.bin", pe, len), FLT_AV_CLEAN, NULL, NULL);

	flt_av_policy_default(&f->pol);
	f->pol.decoy_ext = none;
	fx_scanner(f);
	expect(fx_scan(f, "invoice.pdf.exe", "x", 1), FLT_AV_POLICY, "Policy.Extension", NULL);

	f->pol.enabled = 0;
	fx_scanner(f);
	expect(fx_scan(f, "invoice.pdf.exe", pe, len), FLT_AV_CLEAN, NULL, NULL);
	free(pe);
}

/* ---- Debian's clamav-testfiles with our own signatures ---- */

static void test_clamav_testfiles(void **state)
{
	static const struct {
		const char *db, *name;
	} dbs[] = {
		{SIGDIR "/sluice-test.hdb", "Sluice.Test.ClamExe.MD5"},
		{SIGDIR "/sluice-test.hsb", "Sluice.Test.ClamExe.SHA256"},
		{SIGDIR "/sluice-test.ndb", "Sluice.Test.ClamExe.Body"},
		{SIGDIR "/sluice-test.ldb", "Sluice.Test.ClamExe.Logical"},
	};
	/* the containers of clam.exe that libarchive opens (not clam.impl.zip:
	 * libarchive has no "implode" decompressor) */
	static const char *const files[] = {"clam.exe", "clam.zip", "clam.tar.gz", "clam.7z", "clam.exe.bz2",
					    "clam.bz2.zip", "clam.cab", "clam.newc.cpio",
					    "clam.odc.cpio", "clam.bin-le.cpio", "clam.bin-be.cpio",
					    "clam_cache_emax.tgz" /* nine nested .tgz */};
	flt_av_policy_t pol;

	(void)state;
	flt_av_policy_default(&pol);
	pol.enabled = 0; /* clam.exe is a PE: the policy would stop it first */
	for (size_t d = 0; d < sizeof(dbs) / sizeof(dbs[0]); d++) {
		flt_av_db_t *db = load_db(dbs[d].db);
		flt_av_scanner_t *sc;
		flt_av_result_t r;
		const char *err;

		assert_int_equal(flt_av_scanner_new(db, NULL, &pol, &sc, &err), 0);
		for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
			char path[256];
			size_t len;
			uint8_t *data;

			snprintf(path, sizeof(path), TESTFILES "/%s", files[i]);
			data = read_file(path, &len);
			assert_int_equal(flt_av_scan(sc, files[i], NULL, sl_slice_make(data, len), &r), 0);
			if (r.verdict != FLT_AV_INFECTED || strcmp(r.name, dbs[d].name) != 0)
				fail_msg("%s with %s: %s \"%s\"", files[i], dbs[d].db, flt_av_verdict_str(r.verdict),
					 r.name);
			if (i > 0 && strchr(r.where, '/') == NULL)
				fail_msg("%s: found at \"%s\", not inside", files[i], r.where);
			free(data);
		}
		/* a clean file from the same package stays clean */
		{
			size_t len;
			uint8_t *data = read_file(TESTFILES "/clam.exe", &len);

			data[0x1f9] ^= 0xff; /* break the hashes and the [CLAMAV] section name */
			data[0xe6] ^= 0xff;  /* and "CLAMessageBoxA" */
			data[0x100] ^= 0xff; /* and the PE signature */
			assert_int_equal(flt_av_scan(sc, "x", NULL, sl_slice_make(data, len), &r), 0);
			if (r.verdict != FLT_AV_CLEAN)
				fail_msg("altered clam.exe with %s: %s", dbs[d].db, r.name);
			free(data);
		}
		flt_av_scanner_free(&sc);
		flt_av_db_free(&db);
	}
}

static void test_sha1_any_size(void **state)
{
	flt_av_db_t *db = load_db(SIGDIR "/sluice-test.hsb");
	flt_av_scanner_t *sc;
	flt_av_result_t r;
	const char *err;
	size_t len, zl;
	uint8_t *data = read_file(TESTFILES "/clam.pdf", &len);
	uint8_t *z = zip1("x/clam.pdf", data, len, &zl);

	(void)state;
	assert_int_equal(flt_av_scanner_new(db, NULL, NULL, &sc, &err), 0);
	assert_int_equal(flt_av_scan(sc, "clam.pdf", NULL, sl_slice_make(data, len), &r), 0);
	expect(&r, FLT_AV_INFECTED, "Sluice.Test.ClamPdf.SHA1", "clam.pdf");
	assert_int_equal(flt_av_scan(sc, "p.zip", NULL, sl_slice_make(z, zl), &r), 0);
	expect(&r, FLT_AV_INFECTED, "Sluice.Test.ClamPdf.SHA1", "p.zip/x/clam.pdf");
	assert_int_equal(flt_av_scan(sc, "clam.pdf", NULL, sl_slice_make(data, len - 1), &r), 0);
	expect(&r, FLT_AV_CLEAN, NULL, NULL);
	flt_av_scanner_free(&sc);
	flt_av_db_free(&db);
	free(data);
	free(z);
}

static void test_whole_sig_dir(void **state)
{
	flt_av_db_t *db = load_db(SIGDIR);
	flt_av_scanner_t *sc;
	flt_av_result_t r;
	const char *err;
	size_t len;
	uint8_t *data = read_file(TESTFILES "/clam.zip", &len);

	(void)state;
	assert_int_equal(flt_av_scanner_new(db, NULL, NULL, &sc, &err), 0);
	assert_int_equal(flt_av_scan(sc, "clam.zip", NULL, sl_slice_make(data, len), &r), 0);
	/* body signatures come before hashes (clamscan's order), and all
	 * signatures before the policy */
	expect(&r, FLT_AV_INFECTED, "Sluice.Test.ClamExe.Body", "clam.zip/clam.exe");
	flt_av_scanner_free(&sc);
	flt_av_db_free(&db);
	free(data);
}

/* ---- threads ---- */

typedef struct thr {
	const flt_av_db_t *db;
	const uint8_t *zip, *exe;
	size_t zip_len, exe_len;
	int errors;
} thr_t;

static void *thread_main(void *arg)
{
	thr_t *t = arg;
	flt_av_scanner_t *sc;
	flt_av_result_t r;
	const char *err;

	if (flt_av_scanner_new(t->db, NULL, NULL, &sc, &err) != 0) {
		t->errors++;
		return NULL;
	}
	for (int i = 0; i < 300; i++) {
		switch (i % 3) {
		case 0:
			if (flt_av_scan(sc, "e.zip", NULL, sl_slice_make(t->zip, t->zip_len), &r) != 0 ||
			    strcmp(r.name, FLT_AV_EICAR_NAME) != 0)
				t->errors++;
			break;
		case 1:
			if (flt_av_scan(sc, "c.bin", NULL, sl_slice_make(t->exe, t->exe_len), &r) != 0 ||
			    strcmp(r.name, "Sluice.Test.ClamExe.Body") != 0)
				t->errors++;
			break;
		default:
			if (flt_av_scan(sc, "ok.txt", NULL, sl_slice_make("hello", 5), &r) != 0 ||
			    r.verdict != FLT_AV_CLEAN)
				t->errors++;
		}
	}
	flt_av_scanner_free(&sc);
	return NULL;
}

static void test_shared_db_many_threads(void **state)
{
	enum { NT = 4 };
	flt_av_db_t *db = load_db(SIGDIR);
	pthread_t th[NT];
	thr_t t[NT];
	size_t zl, el;
	uint8_t *zip = zip1("eicar.com", eicar, 68, &zl);
	uint8_t *exe = read_file(TESTFILES "/clam.exe", &el);

	(void)state;
	for (int i = 0; i < NT; i++) {
		t[i] = (thr_t){db, zip, exe, zl, el, 0};
		assert_int_equal(pthread_create(&th[i], NULL, thread_main, &t[i]), 0);
	}
	for (int i = 0; i < NT; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(t[i].errors, 0);
	}
	flt_av_db_free(&db);
	free(zip);
	free(exe);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_eicar_plain_and_whitespace, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_eicar_in_zip_zip_in_zip_gzip_tar, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_clean_archives_stay_clean, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_zip_bomb_1gb_refused_quickly, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_nested_zip_depth_limit, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_file_count_total_and_member_limits, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_broken_and_garbage_archives, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_encrypted_zip_member, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_policy_extensions, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_policy_true_type_and_declared_type, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_true_type_skips_body_text_only, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_policy_configurable_lists, fx_setup, fx_teardown),
		cmocka_unit_test(test_clamav_testfiles),
		cmocka_unit_test(test_sha1_any_size),
		cmocka_unit_test(test_whole_sig_dir),
		cmocka_unit_test(test_shared_db_many_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
