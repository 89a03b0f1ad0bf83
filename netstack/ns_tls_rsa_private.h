/* ns_tls_rsa_private - what ns_tls_rsa.c (keys, padding, callbacks) and
 * ns_tls_rsa_ifma.c (the AVX-512 IFMA arithmetic) share, and the tests'
 * view of the engine's state. Layout of numbers: ns_tls_rsa_ifma.c. */
#ifndef NS_TLS_RSA_PRIVATE_H
#define NS_TLS_RSA_PRIVATE_H

#include <stddef.h>
#include <stdint.h>

#define NS_RSA_D1 20 /* 52-bit digits of a CRT half (R = 2^1040) */
#define NS_RSA_D2 40 /* 52-bit digits modulo n (R = 2^2080) */

typedef struct ns_rsa_half {
	uint64_t m[NS_RSA_D1];  /* p or q */
	uint64_t m2[NS_RSA_D1]; /* 2m */
	uint64_t rr[NS_RSA_D1]; /* R^2 mod m */
	uint64_t k0;            /* -m^-1 mod 2^52 */
} ns_rsa_half_t;

/* A key in the engine's form. All of it is secret but n, e, n_rr. */
typedef struct ns_rsa_ifma_key {
	ns_rsa_half_t p, q;
	uint64_t dp[16], dq[16];  /* 1024-bit exponents, 64-bit words */
	uint64_t qinv[NS_RSA_D1]; /* q^-1 mod p */
	uint64_t q_words[16];
	uint64_t n[NS_RSA_D2];
	uint64_t n_rr[NS_RSA_D2];
	uint64_t n_k0;
	uint64_t e;
	uint64_t one20[NS_RSA_D1], one40[NS_RSA_D2];
} ns_rsa_ifma_key_t;

/* The blinding pair in Montgomery form modulo n: f = r^e R, i = r^-1 R.
 * Each private operation squares both (r becomes r^2). */
typedef struct ns_rsa_blind {
	uint64_t f[NS_RSA_D2];
	uint64_t i[NS_RSA_D2];
} ns_rsa_blind_t;

/* Scratch of one private operation (10.9 KB), kept with the key. */
typedef struct ns_rsa_work {
	uint64_t tp[32][NS_RSA_D1], tq[32][NS_RSA_D1];
	uint64_t xp[NS_RSA_D1], xq[NS_RSA_D1];
	uint64_t ap[NS_RSA_D1], aq[NS_RSA_D1];
	uint64_t sp[NS_RSA_D1], sq[NS_RSA_D1];
	uint64_t c[NS_RSA_D2], cb[NS_RSA_D2], s[NS_RSA_D2], t[NS_RSA_D2];
} ns_rsa_work_t;

/* ns_rsa_ifma_private - OUT = IN^d mod n (256 big-endian bytes each), with
 * the blinding pair BL (advanced), checked by OUT^e == IN before OUT is
 * written. IN < n is the caller's check. 0, or -1 when the check failed
 * (OUT untouched). Only on a CPU with avx512f, avx512ifma and avx512vl. */
int ns_rsa_ifma_private(const ns_rsa_ifma_key_t *k, ns_rsa_blind_t *bl, const uint8_t in[256],
			uint8_t out[256], ns_rsa_work_t *w);
/* ns_rsa_ifma_mont_mul40 - R = A * B / 2^2080 mod n (almost: < 2n for
 * inputs < 2n). 0. Same CPU requirement. */
int ns_rsa_ifma_mont_mul40(const ns_rsa_ifma_key_t *k, uint64_t *r, const uint64_t *a,
			   const uint64_t *b);
/* ns_rsa_ifma_bench_modexp - the two CRT exponentiations alone, of
 * W->xp / W->xq (bench and tests). */
void ns_rsa_ifma_bench_modexp(const ns_rsa_ifma_key_t *k, ns_rsa_work_t *w);

/* Conversions: big-endian bytes <-> 64-bit words <-> 52-bit digits. */
void ns_rsa_be_to_words(const uint8_t *be, size_t len, uint64_t *wd, int nw);
void ns_rsa_words_to_be(const uint64_t *wd, int nw, uint8_t *be, size_t len);
void ns_rsa_words_to_digits(const uint64_t *wd, int nw, uint64_t *d, int nd);
void ns_rsa_digits_to_words(const uint64_t *d, int nd, uint64_t *wd, int nw);

#endif
