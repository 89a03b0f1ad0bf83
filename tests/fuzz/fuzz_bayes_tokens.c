/* fuzz_bayes_tokens - libFuzzer harness for the Bayes tokenizer and the
 * learn/score/unlearn path.
 *
 * The input is a list of events, each [op][len][len bytes]: op % 5 selects
 * header ("name:value"), body chunk, end of text part, URL or HTML markup.
 * Every message is also fed a second time with all body bytes in one chunk
 * and the HTML in one chunk: the token set must not depend on chunking.
 * Then the message is learned, scored and unlearned on a small in-memory
 * store, which must end empty. Invariants break with abort(). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bayes/bayes.h"
#include "sl_err.h"

static bayes_tok_t *tok_a, *tok_b;
static bayes_mem_t *mem;
static bayes_t *cls;

static void check(bool ok)
{
	if (!ok)
		abort();
}

static void init(void)
{
	bayes_tok_opts_t o;
	bayes_opts_t bo;

	bayes_tok_opts_default(&o);
	o.max_tokens = 512; /* small, so the limit paths run */
	o.max_body = 4096;
	check(bayes_tok_create(&o, &tok_a) == 0);
	check(bayes_tok_create(&o, &tok_b) == 0);
	check(bayes_mem_create(1u << 16, &mem) == 0);
	bayes_opts_default(&bo);
	bo.min_spam = bo.min_ham = 1;
	check(bayes_create(&bo, bayes_mem_store(mem), &cls) == 0);
}

static void done(void *ctx, int err)
{
	*(int *)ctx = err;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t body[1u << 16], html[1u << 16];
	size_t bl = 0, hl = 0, i = 0;
	bayes_msg_t a, b;
	bayes_result_t r;
	size_t nt, ns;
	int err = 1;

	if (tok_a == NULL)
		init();
	bayes_tok_reset(tok_a);
	bayes_tok_reset(tok_b);
	while (i + 2 <= size) {
		unsigned op = data[i] % 5;
		size_t len = data[i + 1];
		sl_slice_t p;

		i += 2;
		if (len > size - i)
			len = size - i;
		p = sl_slice_make(data + i, len);
		i += len;
		switch (op) {
		case 0: {
			const uint8_t *colon = memchr(p.ptr, ':', p.len);
			size_t nl = colon ? (size_t)(colon - p.ptr) : p.len;
			sl_slice_t name = sl_slice_make(p.ptr, nl);
			sl_slice_t value = sl_slice_make(p.ptr + nl + (colon != NULL),
							 p.len - nl - (colon != NULL));

			check(bayes_tok_header(tok_a, name, value) == 0);
			check(bayes_tok_header(tok_b, name, value) == 0);
			break;
		}
		case 1:
			check(bayes_tok_body(tok_a, p) == 0);
			memcpy(body + bl, p.ptr, p.len);
			bl += p.len;
			break;
		case 2:
			bayes_tok_body_end(tok_a);
			/* A part boundary ends a word in both runs. */
			check(bayes_tok_body(tok_b, sl_slice_make(body, bl)) == 0);
			bayes_tok_body_end(tok_b);
			bl = 0;
			break;
		case 3:
			check(bayes_tok_uri(tok_a, p) == 0);
			check(bayes_tok_uri(tok_b, p) == 0);
			break;
		case 4:
			check(bayes_tok_html(tok_a, p) == 0);
			memcpy(html + hl, p.ptr, p.len);
			hl += p.len;
			break;
		}
	}
	check(bayes_tok_body(tok_b, sl_slice_make(body, bl)) == 0);
	check(bayes_tok_html(tok_b, sl_slice_make(html, hl)) == 0);
	bayes_tok_finish(tok_a, &a);
	bayes_tok_finish(tok_b, &b);
	check(a.n <= 512);
	for (size_t k = 0; k < a.n; k++)
		check(a.ids[k] != 0 && (k == 0 || a.ids[k - 1] < a.ids[k]));
	/* Chunking changes nothing, unless the token limit cut differently. */
	if (a.n < 512 && b.n < 512) {
		check(a.n == b.n);
		check(memcmp(a.ids, b.ids, a.n * sizeof(*a.ids)) == 0);
		check(memcmp(a.sig, b.sig, BAYES_SIG_LEN) == 0);
	}
	/* Learn, score, unlearn: the store ends as it began. */
	check(bayes_learn(cls, &a, BAYES_SPAM, done, &err) == 0 && err == 0);
	check(bayes_learn(cls, &a, BAYES_SPAM, done, &err) == 1);
	check(bayes_classify(cls, &a, &r) == 0);
	check(r.prob >= 0 && r.prob <= 1);
	check(bayes_unlearn(cls, &a, done, &err) == 0 && err == 0);
	bayes_mem_size(mem, &nt, &ns);
	check(nt == 0 && ns == 0);
	return 0;
}
