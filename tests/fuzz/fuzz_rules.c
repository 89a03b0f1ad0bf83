/* fuzz_rules - libFuzzer harness for the rule language and its compiler.
 *
 * The input is a rule file. It must compile or fail with a "file:line:
 * reason" message, never crash, leak or read out of bounds. A set that
 * compiles is then used to scan a message built from the same bytes (as a
 * header, body, rawbody, URI and full text, in uneven chunks), so the
 * scanner meets whatever patterns the parser let through. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rules/rules.h"
#include "sl_err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	flt_rules_src_t src = {"fuzz.cf", (const char *)data, size};
	flt_rules_t *rules;
	flt_rscan_t *scan;
	const flt_rules_result_t *res;
	const char *err = NULL;
	int rc;

	if (size > 4096) /* Hyperscan compile time grows fast with pattern size */
		return 0;
	if (flt_rules_new(&rules) != 0)
		abort();
	rc = flt_rules_load_sources(rules, &src, 1, 0, &err);
	if (rc != 0) {
		if (err == NULL || err[0] == '\0')
			abort(); /* every failure explains itself */
	}
	if (flt_rscan_new(rules, NULL, &scan) != 0)
		abort();
	if (flt_rscan_begin(scan) != 0)
		abort();
	size_t half = size / 2;
	flt_rscan_header(scan, sl_slice_make("Subject", 7), sl_slice_make(data, half),
			 sl_slice_make(data + half, size - half));
	flt_rscan_uri(scan, sl_slice_make(data, size));
	for (size_t off = 0, step = 1; off < size; off += step, step = step * 2 + 1) {
		size_t n = size - off < step ? size - off : step;

		flt_rscan_body(scan, sl_slice_make(data + off, n));
		flt_rscan_rawbody(scan, sl_slice_make(data + off, n));
		flt_rscan_full(scan, sl_slice_make(data + off, n));
	}
	if (flt_rscan_end(scan, &res) != 0)
		abort();
	if (res->score < -1e9 || res->score > 1e9 || res->score_bayes < -1e9 ||
	    res->score_bayes > 1e9)
		abort();
	flt_rscan_free(&scan);
	flt_rules_free(&rules);
	return 0;
}
