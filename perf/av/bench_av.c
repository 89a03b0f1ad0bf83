/* bench_av - scan files with filter/av the way clamscan does, for
 * perf/av/run.sh: one line per file on stdout, timings on stderr.
 *
 *   bench_av --db DIR [--no-policy] [--list FILE] [PATH...]
 *
 * Each path (arguments, or one per line in --list) is read and scanned by
 * one scanner on this thread. stdout: "path<TAB>verdict<TAB>name". stderr,
 * last line: a JSON object with the load and scan times, files and bytes.
 * Exit 0 when every file was scanned, 1 otherwise. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "av/flt_av.h"
#include "sl_err.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Read PATH into *buf (grown as needed). 0 or -1. */
static int slurp(const char *path, unsigned char **buf, size_t *cap, size_t *len_r)
{
	FILE *f = fopen(path, "rb");
	size_t len = 0, n;

	if (f == NULL)
		return -1;
	for (;;) {
		if (len == *cap) {
			size_t ncap = *cap ? *cap * 2 : 1 << 20;
			unsigned char *p = realloc(*buf, ncap);

			if (p == NULL) {
				fclose(f);
				return -1;
			}
			*buf = p;
			*cap = ncap;
		}
		n = fread(*buf + len, 1, *cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	fclose(f);
	*len_r = len;
	return 0;
}

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');

	return s != NULL ? s + 1 : p;
}

static int scan_one(flt_av_scanner_t *sc, const char *path, unsigned char **buf, size_t *cap,
		    unsigned long long *bytes)
{
	flt_av_result_t r;
	size_t len;
	int rc;

	if (slurp(path, buf, cap, &len) < 0) {
		fprintf(stderr, "bench_av: %s: %s\n", path, strerror(errno));
		return -1;
	}
	rc = flt_av_scan(sc, base_name(path), NULL, sl_slice_make(*buf, len), &r);
	if (rc < 0) {
		fprintf(stderr, "bench_av: %s: %s\n", path, sl_strerror(rc));
		return -1;
	}
	*bytes += len;
	printf("%s\t%s\t%s\n", path, flt_av_verdict_str(r.verdict), r.name);
	return 0;
}

int main(int argc, char **argv)
{
	const char *db_dir = NULL, *list = NULL, *err = NULL;
	flt_av_policy_t pol;
	flt_av_db_stats_t st;
	flt_av_scanner_t *sc = NULL;
	flt_av_db_t *db = NULL;
	unsigned char *buf = NULL;
	size_t cap = 0;
	unsigned long long bytes = 0, files = 0;
	int failed = 0, i;
	double t0, t1, c0, c1;

	flt_av_policy_default(&pol);
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--db") == 0 && i + 1 < argc)
			db_dir = argv[++i];
		else if (strcmp(argv[i], "--list") == 0 && i + 1 < argc)
			list = argv[++i];
		else if (strcmp(argv[i], "--no-policy") == 0)
			pol.enabled = 0;
		else if (argv[i][0] == '-') {
			fprintf(stderr, "usage: bench_av --db DIR [--no-policy] [--list FILE] [PATH...]\n");
			return 2;
		} else
			break;
	}
	if (db_dir == NULL) {
		fprintf(stderr, "bench_av: --db DIR is required\n");
		return 2;
	}
	t0 = now_s();
	c0 = cpu_s();
	if (flt_av_db_new(&db) < 0 || flt_av_db_load_dir(db, db_dir, &err) < 0 ||
	    flt_av_db_compile(db, &err) < 0 || flt_av_scanner_new(db, NULL, &pol, &sc, &err) < 0) {
		fprintf(stderr, "bench_av: %s\n", err != NULL ? err : "out of memory");
		flt_av_db_free(&db);
		return 1;
	}
	t1 = now_s();
	c1 = cpu_s();
	flt_av_db_stats(db, &st);
	fprintf(stderr, "bench_av: %u md5, %u sha1, %u sha256, %u ndb, %u ldb, %u skipped, loaded in %.3f s\n", st.md5,
		st.sha1, st.sha256, st.ndb, st.ldb, st.skipped, t1 - t0);
	{
		double s0 = now_s(), sc0 = cpu_s();

		for (; i < argc; i++, files++)
			failed |= scan_one(sc, argv[i], &buf, &cap, &bytes) < 0;
		if (list != NULL) {
			FILE *lf = fopen(list, "r");
			char line[4096];

			if (lf == NULL) {
				fprintf(stderr, "bench_av: %s: %s\n", list, strerror(errno));
				failed = 1;
			} else {
				while (fgets(line, sizeof(line), lf) != NULL) {
					line[strcspn(line, "\n")] = '\0';
					if (line[0] == '\0')
						continue;
					failed |= scan_one(sc, line, &buf, &cap, &bytes) < 0;
					files++;
				}
				fclose(lf);
			}
		}
		fflush(stdout);
		fprintf(stderr,
			"{\"load_s\": %.6f, \"load_cpu_s\": %.6f, \"scan_s\": %.6f, \"scan_cpu_s\": %.6f, "
			"\"files\": %llu, \"bytes\": %llu}\n",
			t1 - t0, c1 - c0, now_s() - s0, cpu_s() - sc0, files, bytes);
	}
	flt_av_scanner_free(&sc);
	flt_av_db_free(&db);
	free(buf);
	return failed;
}
