/* test_bayes_util - synthetic mail for the Bayes suites: a seeded generator
 * of spam-like and ham-like messages fed to a tokenizer in random chunks.
 *
 * Each class draws 25 % of its body words from its own vocabulary of 200
 * words, whose halves overlap the other class's (so half of the "class"
 * words are ambiguous), and the rest from 600 shared words; subjects and
 * sender domains follow the same pattern. A classifier has to combine many
 * weak clues to separate them. Header-only, like test_store_util.h. */
#ifndef TEST_BAYES_UTIL_H
#define TEST_BAYES_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "bayes/bayes.h"

static inline uint64_t tb_rand(uint64_t *st)
{
	uint64_t x = *st;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*st = x;
	return x;
}

/* A class word: spam uses w000..w199, ham w100..w299. */
static inline int tb_word(char *out, size_t cap, int cls, uint64_t *st)
{
	unsigned r = (unsigned)(tb_rand(st) % 100);

	if (r < 25)
		return snprintf(out, cap, "w%03u", (unsigned)(tb_rand(st) % 200) +
						     (cls == BAYES_SPAM ? 0 : 100));
	return snprintf(out, cap, "common%03u", (unsigned)(tb_rand(st) % 600));
}

/* Tokenize one synthetic message of class CLS from SEED into T (reset
 * first) and finish it into *M. */
static inline void tb_message(bayes_tok_t *t, int cls, uint64_t seed, bayes_msg_t *m)
{
	uint64_t st = seed * 0x9e3779b97f4a7c15ull + (uint64_t)cls * 77 + 1;
	char body[4096], subj[256], from[128], w[32];
	size_t bl = 0, sl = 0, off = 0;

	bayes_tok_reset(t);
	for (int i = 0; i < 4; i++) {
		tb_word(w, sizeof(w), cls, &st);
		sl += (size_t)snprintf(subj + sl, sizeof(subj) - sl, "%s ", w);
	}
	snprintf(from, sizeof(from), "Someone <user%u@dom%u.example>",
		 (unsigned)(tb_rand(&st) % 1000),
		 (unsigned)(tb_rand(&st) % 20) + (cls == BAYES_SPAM ? 0 : 10));
	bayes_tok_header(t, SL_SLICE_LIT("Subject"), sl_slice_make(subj, sl));
	bayes_tok_header(t, SL_SLICE_LIT("From"), sl_slice_make(from, strlen(from)));
	for (int i = 0; i < 80; i++) {
		tb_word(w, sizeof(w), cls, &st);
		bl += (size_t)snprintf(body + bl, sizeof(body) - bl, "%s%s", w,
				       i % 12 == 11 ? ".\n" : " ");
	}
	while (off < bl) {
		size_t k = 1 + (size_t)(tb_rand(&st) % 97);

		if (k > bl - off)
			k = bl - off;
		bayes_tok_body(t, sl_slice_make(body + off, k));
		off += k;
	}
	bayes_tok_body_end(t);
	bayes_tok_finish(t, m);
}

#endif
