/* bayes_store - the Bayes token store on the LMDB store's filter key space.
 *
 * Keys (namespace ST_NS_FILTER), all under the prefix "bayes/":
 *   "bayes/t/" be64 token id   int64 counter: spam << 32 | ham
 *   "bayes/n"                  int64 counter: learned spams << 32 | hams
 *   "bayes/s/" 16-byte sig     one byte: 1 spam, 2 ham (bayes_class)
 * Both halves of a packed counter stay in 0..BAYES_COUNT_MAX, so adding
 * (dspam << 32) + dham with ST_KV_ADD changes each half on its own, and a
 * token whose counts both reach 0 is removed by the store.
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

#endif
