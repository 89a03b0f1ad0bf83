/* bayes_store - the Bayes token store on the LMDB store's filter key space.
 *
 * Keys (namespace ST_NS_FILTER), all under the prefix "bayes/":
 *   "bayes/t/" be64 token id   int64 counter: spam * 2^32 + ham
 *   "bayes/n"                  int64 counter: spams * 2^32 + hams learned
 *   "bayes/s/" 16-byte sig     one byte: 1 spam, 2 ham (bayes_class)
 * A packed counter is spam * 2^32 + ham with each half a signed 32-bit
 * count, so adding dspam * 2^32 + dham with ST_KV_ADD changes each half on
 * its own, and a token whose counts both reach 0 is removed by the store.
 * A half below 0 reads as 0: that happens only when an expired token's
 * message is unlearned.
 *
 * Threads: a bayes_st_t belongs to the thread that owns its st_client_t and
 * st_reader_t. Reads run in one st_read snapshot on the caller's thread.
 * apply submits one st_kv_write (all token deltas, the totals and the
 * signature, atomically) and its callback runs from st_client_poll() on that
 * thread once the transaction has committed. Signatures with an update in
 * flight answer sig_get from memory, so learning one message twice in a row
 * is caught even before the first learn commits. */
#ifndef BAYES_STORE_H
#define BAYES_STORE_H

#include <stddef.h>

#include "bayes/bayes.h"
#include "st.h"

typedef struct bayes_st bayes_st_t;

/* bayes_st_create - a Bayes store over client C and reader RD (borrowed:
 * both must outlive it). 0 and *B_R, or SL_ENOMEM / SL_EINVAL (NULL). */
int bayes_st_create(st_client_t *c, st_reader_t *rd, bayes_st_t **b_r);

/* bayes_st_destroy - free. Every apply must have completed first
 * (bayes_st_inflight() == 0: poll the client until then); with updates in
 * flight it returns SL_EBUSY and frees nothing. 0 and *B = NULL otherwise;
 * NULL or *B == NULL is a no-op. */
int bayes_st_destroy(bayes_st_t **b);

/* bayes_st_store - the ops view; valid as long as B. */
bayes_store_t bayes_st_store(bayes_st_t *b);

/* bayes_st_inflight - applies submitted whose callbacks have not run. */
unsigned bayes_st_inflight(const bayes_st_t *b);

typedef struct bayes_st_expiry {
	uint64_t before;     /* tokens before */
	uint64_t after;      /* tokens after */
	uint32_t threshold;  /* tokens seen in at most this many learned
				messages were dropped (0: none needed) */
} bayes_st_expiry_t;

/* bayes_st_expire - bound the token count. When more than MAX_TOKENS
 * tokens are stored, drop the rarest (seen in 1 learned message, then 2,
 * ... up to 15; more frequent tokens are never dropped) until at most 90 %
 * of MAX_TOKENS remain, in transactions of 4096 deletions. Most tokens of a
 * database are seen once and carry little evidence. Signatures and totals
 * stay: learning stays exactly-once, and unlearning a message whose tokens
 * were dropped leaves those counts at 0 (see the packing above). Blocking:
 * call it on the adapter's thread with no apply in flight, from the control
 * thread (sluicectl, a timer). 0 with *R_R filled, SL_EBUSY (applies in
 * flight), SL_EINVAL (MAX_TOKENS 0), SL_ENOMEM, or a store error (the
 * deletions done so far stay). */
int bayes_st_expire(bayes_st_t *b, uint64_t max_tokens, bayes_st_expiry_t *r_r);

#endif
