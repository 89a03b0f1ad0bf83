/* ns_tls_rsa - Sluice's RSA-2048 signer for TLS server keys: the private
 * operation with AVX-512 IFMA (ns_tls_rsa_ifma.c) where the CPU has it,
 * wolfCrypt's own code where it does not, plugged into wolfSSL through its
 * public-key callbacks (docs/tls.md, "The RSA-2048 signature").
 *
 * A key object belongs to one lane (its blinding pair and scratch change on
 * every use): no locking, no sharing between threads. */
#ifndef NS_TLS_RSA_H
#define NS_TLS_RSA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NS_TLS_RSA_BYTES 256 /* the only size the engine takes: RSA-2048 */

typedef struct ns_tls_rsa_key ns_tls_rsa_key_t;
struct WC_RNG;

typedef struct ns_tls_rsa_stats {
	uint64_t ifma_ops;     /* private operations done by the IFMA engine */
	uint64_t wolf_ops;     /* done by wolfCrypt (no IFMA, or a fallback) */
	uint64_t check_failed; /* IFMA results refused by the s^e == m check */
} ns_tls_rsa_stats_t;

/* ns_tls_rsa_ifma_cpu - true when this CPU runs the IFMA engine
 * (avx512f, avx512ifma, avx512vl; checked once) and the test hook does not
 * forbid it. */
bool ns_tls_rsa_ifma_cpu(void);
/* ns_tls_rsa_force_fallback - test hook: while ON, keys created afterwards
 * use wolfCrypt only, as on a CPU without IFMA. */
void ns_tls_rsa_force_fallback(bool on);

/* ns_tls_rsa_key_create - parse an RSA private key (PKCS#1 or PKCS#8 DER)
 * of exactly 2048 bits, with primes of at most 1024 bits and a public
 * exponent below 2^64; set up the engine if the CPU has IFMA (its blinding
 * pair drawn from RNG, and one self-checked operation; a key failing it
 * stays on wolfCrypt). RNG must outlive the key (the lane's). 0 and
 * *KEY_R; SL_EINVAL (not an RSA private key), SL_ENOTSUP (another size or
 * shape), SL_ENOMEM, SL_EIO (random numbers or maths failed). */
int ns_tls_rsa_key_create(const uint8_t *der, size_t len, struct WC_RNG *rng,
			  ns_tls_rsa_key_t **key_r);
/* ns_tls_rsa_key_free - zeroise and free; *KEY = NULL. NULL is fine. */
void ns_tls_rsa_key_free(ns_tls_rsa_key_t **key);
/* ns_tls_rsa_key_matches - was KEY made from exactly these DER bytes? */
bool ns_tls_rsa_key_matches(const ns_tls_rsa_key_t *key, const uint8_t *der, size_t len);
/* ns_tls_rsa_key_ifma - does KEY use the IFMA engine? */
bool ns_tls_rsa_key_ifma(const ns_tls_rsa_key_t *key);
void ns_tls_rsa_key_stats(const ns_tls_rsa_key_t *key, ns_tls_rsa_stats_t *r);

/* ns_tls_rsa_private - OUT = IN^d mod n, IN and OUT 256 big-endian bytes.
 * IFMA when the key has it (an answer failing the public check is thrown
 * away and wolfCrypt's is returned), else wolfCrypt. 0; SL_EINVAL when
 * IN >= n; SL_EIO when wolfCrypt fails. */
int ns_tls_rsa_private(ns_tls_rsa_key_t *key, const uint8_t in[NS_TLS_RSA_BYTES],
		       uint8_t out[NS_TLS_RSA_BYTES]);

/* ns_tls_rsa_sign_pss - RSASSA-PSS (RFC 8017 8.1.1) of the digest HASH
 * (HASH_LEN bytes of hash HASH_TYPE, an enum wc_HashType: SHA-256, -384 or
 * -512), MGF1 with the same hash, a random salt as long as the hash. OUT
 * gets 256 bytes (*OUT_LEN in: its room). 0; SL_EINVAL (bad hash or
 * length, room < 256), SL_EIO. */
int ns_tls_rsa_sign_pss(ns_tls_rsa_key_t *key, int hash_type, const uint8_t *hash,
			size_t hash_len, uint8_t *out, size_t *out_len);
/* ns_tls_rsa_sign_pkcs1 - RSASSA-PKCS1-v1_5 of IN, which is the DER
 * DigestInfo already (what TLS 1.2 hands over): EMSA padding type 1.
 * Deterministic. Same returns; IN longer than 245 bytes is SL_EINVAL. */
int ns_tls_rsa_sign_pkcs1(ns_tls_rsa_key_t *key, const uint8_t *in, size_t in_len, uint8_t *out,
			  size_t *out_len);

/* ns_tls_rsa_key_blinding - test view of the blinding pair as plain
 * numbers mod n: F = r^e, I = r^-1 (256 big-endian bytes each). 0, or
 * SL_ENOTSUP when the key is not on the IFMA engine. */
int ns_tls_rsa_key_blinding(ns_tls_rsa_key_t *key, uint8_t f_r[NS_TLS_RSA_BYTES],
			    uint8_t i_r[NS_TLS_RSA_BYTES]);

#endif
