/* fuzz_imap_textmatch - SEARCH's content matcher (mta/imap/imap_textmatch)
 * on arbitrary messages and needles (libFuzzer).
 *
 * Input: byte 0 gives the predicate kinds (2 bits each: HEADER Subject,
 * BODY, TEXT, SENTSINCE), byte 1 their number (1 + low 2 bits) and the
 * split seed (the rest); then the needles, each ended by a NUL; then the
 * message. The message is matched whole, in random pieces and (if short)
 * one byte at a time: the bits must agree and stay within the predicates;
 * the fold of the input must keep its length and be idempotent. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap_textmatch.h"
#include "sl_err.h"

static imap_tm_t *tm;

static uint64_t fz_match(const uint8_t *msg, size_t n, unsigned mode, uint32_t seed)
{
	size_t i = 0;

	imap_tm_begin(tm, 1767225600, 60);
	while (i < n) {
		size_t k = n - i;
		int rc;

		if (mode == 1) {
			k = 1;
		} else if (mode == 2) {
			seed = seed * 1103515245u + 12345u;
			k = 1 + (seed >> 16) % 300;
		}
		if (k > n - i)
			k = n - i;
		rc = imap_tm_feed(tm, msg + i, k);
		if (rc < 0 && rc != SL_ENOMEM)
			abort();
		i += k;
		if (rc != 0)
			break;
	}
	return imap_tm_end(tm);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum imap_text_kind kinds[] = {IMAP_TEXT_HEADER, IMAP_TEXT_BODY, IMAP_TEXT_TEXT,
						    IMAP_TEXT_SENTSINCE};
	struct imap_text_pred preds[4];
	size_t np, pos = 2;
	uint64_t whole, all;
	uint8_t *fold;

	if (size < 2)
		return 0;
	if (tm == NULL && imap_tm_create(&tm) < 0)
		abort();
	np = 1 + (data[1] & 3);
	for (size_t i = 0; i < np; i++) {
		const uint8_t *z = pos < size ? memchr(data + pos, 0, size - pos) : NULL;
		size_t len = z != NULL ? (size_t)(z - (data + pos)) : 0;

		memset(&preds[i], 0, sizeof(preds[i]));
		preds[i].kind = kinds[(data[0] >> (2 * i)) & 3];
		preds[i].field = SL_SLICE_LIT("Subject");
		preds[i].needle = sl_slice_make(data + (pos < size ? pos : size), len);
		preds[i].days = 20454 + (int64_t)len;
		pos += z != NULL ? len + 1 : 0;
	}
	if (pos > size)
		pos = size;
	if (imap_tm_prepare(tm, preds, np) != 0)
		abort();
	all = (1ull << np) - 1;
	whole = fz_match(data + pos, size - pos, 0, 0);
	if ((whole & ~all) != 0)
		abort();
	if (fz_match(data + pos, size - pos, 2, data[1] >> 2) != whole)
		abort();
	if (size - pos <= 2048 && fz_match(data + pos, size - pos, 1, 0) != whole)
		abort();
	/* the fold keeps lengths and is idempotent */
	fold = malloc(2 * (size ? size : 1));
	if (fold == NULL)
		return 0;
	if (imap_tm_fold(data, size, fold, 0) != size ||
	    imap_tm_fold(fold, size, fold + size, 0) != size || memcmp(fold, fold + size, size) != 0)
		abort();
	free(fold);
	return 0;
}
