/* fuzz_sigs - libFuzzer harness for the ClamAV signature loader.
 *
 * The first byte picks the format (.hdb .hsb .ndb .ldb), the rest is the
 * file's text. Loading must never crash, read out of bounds or leak; every
 * error must name the file and a line; every kept warning too. When the
 * text loads and is small, the database is compiled (Hyperscan may refuse
 * a pattern, which must then be an error naming file:line) and a scanner
 * runs over a fixed sample and over the input itself. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "av/flt_av.h"
#include "sl_err.h"
#include "sl_log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const fz_names[] = {"fuzz.hdb", "fuzz.hsb", "fuzz.ndb", "fuzz.ldb"};

/* "fuzz.xdb:<digits>: ..." */
static int names_a_line(const char *msg, const char *file)
{
	size_t n = strlen(file), i;

	if (strncmp(msg, file, n) != 0 || msg[n] != ':')
		return 0;
	for (i = n + 1; msg[i] >= '0' && msg[i] <= '9'; i++)
		;
	return i > n + 1 && msg[i] == ':';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char sample[] = "MZ\x90\x00hello world AAAA BBBB X5O!P%@AP \x00\xff EOF";
	enum flt_av_format fmt;
	flt_av_db_stats_t st;
	flt_av_scanner_t *sc = NULL;
	flt_av_result_t res;
	flt_av_db_t *db;
	const char *err = NULL, *file;
	int rc;

	if (size < 1 || size > 16384)
		return 0;
	sl_log_set_level(SL_LOG_ERR); /* skipped lines warn: keep the run quiet */
	fmt = (enum flt_av_format)(data[0] % 4);
	file = fz_names[fmt];
	if (flt_av_db_new(&db) != 0)
		return 0;
	rc = flt_av_db_load_text(db, fmt, file, (const char *)data + 1, size - 1, &err);
	if (rc < 0 && (err == NULL || (rc == SL_EINVAL && !names_a_line(err, file))))
		abort(); /* a malformed line is reported as file:line: reason */
	for (unsigned i = 0; flt_av_db_warning(db, i) != NULL; i++)
		if (!names_a_line(flt_av_db_warning(db, i), file))
			abort();
	flt_av_db_stats(db, &st);
	if (rc == 0 && st.ndb + st.ldb_subsigs <= 32) {
		rc = flt_av_db_compile(db, &err);
		if (rc < 0 && (err == NULL || strstr(err, "hyperscan") == NULL))
			abort();
		if (rc == 0 && flt_av_scanner_new(db, NULL, NULL, &sc, &err) == 0) {
			flt_av_scan(sc, "sample.bin", NULL, sl_slice_make(sample, sizeof(sample) - 1), &res);
			flt_av_scan(sc, "input.bin", NULL, sl_slice_make(data, size), &res);
			if (res.verdict == FLT_AV_INFECTED && res.name[0] == '\0')
				abort();
			flt_av_scanner_free(&sc);
		}
	}
	flt_av_db_free(&db);
	return 0;
}
