/* test_av_dec - shared pieces of the container decoder tests
 * (tests/unit/test_av_<format>.c): a recording emitter for calling a
 * decoder directly, a scanner over tests/data/av/sigs for end-to-end
 * checks through flt_av_scan, sample files from clamav-testfiles, and a
 * raw deflate stream made with libarchive's gzip writer. Everything is
 * static: each test includes this header once. */
#ifndef TEST_AV_DEC_H
#define TEST_AV_DEC_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include <archive.h>
#include <archive_entry.h>

#include "av/flt_av.h"
#include "av/flt_av_dec.h"
#include "sl_err.h"

#define TESTFILES "/usr/share/clamav-testfiles"
#define SIGDIR "tests/data/av/sigs"

static const char eicar[] = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";
#define EICAR_LEN (sizeof(eicar) - 1)

/* ---- a recording emitter ---- */

#define REC_MAX 64

typedef struct rec {
	av_emit_t e;
	uint32_t n;
	char name[REC_MAX][128];
	char type[REC_MAX][128];
	uint8_t *data[REC_MAX];
	size_t len[REC_MAX];
	char limit[256];
	int stop_at; /* return 1 from member() at this index (-1: never) */
} rec_t;

static inline int rec_member(av_emit_t *e, const char *name, const char *declared, sl_slice_t d)
{
	rec_t *r = (rec_t *)e;

	assert_true(d.len <= e->cap);
	if (r->n < REC_MAX) {
		snprintf(r->name[r->n], sizeof(r->name[0]), "%s", name != NULL ? name : "(null)");
		snprintf(r->type[r->n], sizeof(r->type[0]), "%s", declared != NULL ? declared : "");
		r->data[r->n] = malloc(d.len + 1);
		assert_non_null(r->data[r->n]);
		if (d.len)
			memcpy(r->data[r->n], d.ptr, d.len);
		r->len[r->n] = d.len;
	}
	r->n++;
	return (int)r->n - 1 == r->stop_at;
}

static inline int rec_limit(av_emit_t *e, const char *reason)
{
	rec_t *r = (rec_t *)e;

	snprintf(r->limit, sizeof(r->limit), "%s", reason);
	return 1;
}

static inline void rec_init(rec_t *r, uint64_t cap)
{
	memset(r, 0, sizeof(*r));
	r->e.member = rec_member;
	r->e.limit = rec_limit;
	r->e.cap = cap;
	snprintf(r->e.cap_why, sizeof(r->e.cap_why), "member larger than max_file %llu bytes",
		 (unsigned long long)cap);
	r->stop_at = -1;
}

static inline void rec_free(rec_t *r)
{
	for (uint32_t i = 0; i < r->n && i < REC_MAX; i++)
		free(r->data[i]);
	r->n = 0;
}

/* Member I is exactly LEN bytes of P. */
static inline void rec_expect(const rec_t *r, uint32_t i, const char *name, const void *p, size_t len)
{
	assert_true(i < r->n);
	if (name != NULL)
		assert_string_equal(r->name[i], name);
	assert_int_equal(r->len[i], len);
	assert_memory_equal(r->data[i], p, len);
}

/* ---- a scanner over our test signatures ---- */

typedef struct scan_fx {
	flt_av_db_t *db;
	flt_av_scanner_t *sc;
	flt_av_limits_t lim;
	flt_av_result_t r;
} scan_fx_t;

/* POLICY_ON 0: no attachment policy (a PE is itself blocked by it). */
static inline void scan_fx_open_pol(scan_fx_t *f, const flt_av_limits_t *lim, int policy_on)
{
	const char *err = NULL;
	flt_av_policy_t pol;

	memset(f, 0, sizeof(*f));
	assert_int_equal(flt_av_db_new(&f->db), 0);
	assert_int_equal(flt_av_db_load_dir(f->db, SIGDIR, &err), 0);
	assert_int_equal(flt_av_db_compile(f->db, &err), 0);
	if (lim != NULL)
		f->lim = *lim;
	else
		flt_av_limits_default(&f->lim);
	flt_av_policy_default(&pol);
	pol.enabled = policy_on;
	assert_int_equal(flt_av_scanner_new(f->db, &f->lim, &pol, &f->sc, &err), 0);
}

static inline void scan_fx_open(scan_fx_t *f, const flt_av_limits_t *lim)
{
	scan_fx_open_pol(f, lim, 1);
}

static inline void scan_fx_close(scan_fx_t *f)
{
	flt_av_scanner_free(&f->sc);
	flt_av_db_free(&f->db);
}

static inline const flt_av_result_t *scan_fx_run(scan_fx_t *f, const char *name, const void *p, size_t len)
{
	assert_int_equal(flt_av_scan(f->sc, name, NULL, sl_slice_make(p, len), &f->r), 0);
	return &f->r;
}

static inline void expect_verdict(const flt_av_result_t *r, enum flt_av_verdict v, const char *name, const char *where)
{
	if (r->verdict != v || (name != NULL && strcmp(r->name, name) != 0) ||
	    (where != NULL && strcmp(r->where, where) != 0))
		fail_msg("got %s %s at %s (%s); want %s %s at %s", flt_av_verdict_str(r->verdict), r->name, r->where,
			 r->reason, flt_av_verdict_str(v), name ? name : "*", where ? where : "*");
}

/* ---- files ---- */

static inline uint8_t *read_all(const char *path, size_t *len_r)
{
	FILE *fp = fopen(path, "rb");
	uint8_t *buf;
	long n;

	if (fp == NULL)
		return NULL;
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	*len_r = (size_t)n;
	return buf;
}

/* A clamav-testfiles sample, or NULL after printing why the test skips. */
static inline uint8_t *sample(const char *name, size_t *len_r)
{
	char path[256];
	uint8_t *p;

	snprintf(path, sizeof(path), "%s/%s", TESTFILES, name);
	p = read_all(path, len_r);
	if (p == NULL)
		print_message("SKIP: %s absent (Debian's clamav-testfiles; make deps installs it)\n", path);
	return p;
}

/* ---- deflate streams from libarchive's gzip writer ---- */

/* Raw deflate of P (RFC 1951): libarchive writes gzip (RFC 1952), whose
 * 10-byte header (no name: the raw format writes none) and 8-byte trailer
 * are cut off. The caller frees. */
static inline uint8_t *deflate_raw(const void *p, size_t len, size_t *len_r)
{
	size_t cap = len + len / 8 + 1024, used = 0;
	uint8_t *buf = malloc(cap);
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();

	assert_non_null(buf);
	assert_int_equal(archive_write_set_format_raw(a), ARCHIVE_OK);
	assert_int_equal(archive_write_add_filter_gzip(a), ARCHIVE_OK);
	assert_int_equal(archive_write_set_bytes_in_last_block(a, 1), ARCHIVE_OK);
	assert_int_equal(archive_write_open_memory(a, buf, cap, &used), ARCHIVE_OK);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_size(e, (la_int64_t)len);
	assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
	assert_int_equal(archive_write_data(a, p, len), (la_ssize_t)len);
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_entry_free(e);
	archive_write_free(a);
	assert_true(used > 18);
	assert_int_equal(buf[0], 0x1f);
	assert_int_equal(buf[3] & 0x08, 0); /* no FNAME */
	memmove(buf, buf + 10, used - 18);
	*len_r = used - 18;
	return buf;
}

/* ---- OLE2 compound files, sector by sector ---- */

#define SECT 512u
#define ENDC 0xfffffffeu
#define FREE_ 0xffffffffu

typedef struct stream {
	const char *name;
	const void *data;
	size_t len;
} stream_t;

static inline void cfb_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* Header, FAT (sector 0), directory (sector 1), then each stream's sectors
 * in a chain. Every stream goes through the FAT (mini stream cutoff 0). */
static inline uint8_t *cfb_build(const stream_t *s, size_t n, size_t *len_r, uint32_t **fat_r)
{
	size_t nsect = 2;
	uint8_t *f;
	uint32_t next = 2;

	assert_true(n <= 3);
	for (size_t i = 0; i < n; i++)
		nsect += (s[i].len + SECT - 1) / SECT;
	assert_true(nsect <= 128);
	f = calloc(1, SECT * (nsect + 1));
	assert_non_null(f);
	memcpy(f, "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", 8);
	f[0x18] = 0x3e;
	f[0x1a] = 3;
	f[0x1c] = 0xfe;
	f[0x1d] = 0xff;
	f[0x1e] = 9;
	f[0x20] = 6;
	cfb_put32(f + 0x2c, 1);    /* FAT sectors */
	cfb_put32(f + 0x30, 1);    /* first directory sector */
	cfb_put32(f + 0x38, 0);    /* mini stream cutoff: none */
	cfb_put32(f + 0x3c, ENDC); /* no mini FAT */
	cfb_put32(f + 0x44, ENDC); /* no DIFAT sectors */
	for (int i = 0; i < 109; i++)
		cfb_put32(f + 0x4c + 4 * i, i == 0 ? 0 : FREE_);
	{
		uint8_t *fat = f + SECT, *dir = f + 2 * SECT;

		for (int i = 0; i < 128; i++)
			cfb_put32(fat + 4 * i, FREE_);
		cfb_put32(fat, 0xfffffffdu);
		cfb_put32(fat + 4, ENDC);
		/* root entry */
		for (int k = 0; k < 10; k++)
			dir[2 * k] = (uint8_t)"Root Entry"[k];
		dir[64] = 22;
		dir[66] = 5;
		cfb_put32(dir + 116, ENDC);
		for (size_t i = 0; i < n; i++) {
			uint8_t *ent = dir + 128 * (i + 1);
			size_t ns = (s[i].len + SECT - 1) / SECT, nl = strlen(s[i].name);

			for (size_t k = 0; k < nl && k < 31; k++)
				ent[2 * k] = (uint8_t)s[i].name[k];
			ent[64] = (uint8_t)(2 * (nl + 1));
			ent[66] = 2;
			cfb_put32(ent + 116, ns ? next : ENDC);
			cfb_put32(ent + 120, (uint32_t)s[i].len);
			for (size_t k = 0; k < ns; k++) {
				cfb_put32(fat + 4 * (next + k), k + 1 < ns ? next + (uint32_t)k + 1 : ENDC);
				memcpy(f + SECT * (next + k + 1), (const uint8_t *)s[i].data + SECT * k,
				       s[i].len - SECT * k < SECT ? s[i].len - SECT * k : SECT);
			}
			next += (uint32_t)ns;
		}
		if (fat_r != NULL)
			*fat_r = (uint32_t *)fat;
	}
	*len_r = SECT * (nsect + 1);
	return f;
}

static inline double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

#endif
