/* bayes_private - internals shared by the files of filter/bayes/. */
#ifndef BAYES_PRIVATE_H
#define BAYES_PRIVATE_H

#include <stddef.h>
#include <stdint.h>

/* bayes_siphash24 - SipHash-2-4 (Aumasson and Bernstein, 2012) of N bytes of
 * P under the 128-bit key K. */
uint64_t bayes_siphash24(const uint64_t k[2], const void *p, size_t n);

/* The default tokenizer key: fixed so that every Sluice build hashes a token
 * the same way and a learned database stays valid across upgrades. */
#define BAYES_KEY0 0x736c756963656261ull /* "sluiceba" */
#define BAYES_KEY1 0x7965732d746f6b31ull /* "yes-tok1" */

#endif
