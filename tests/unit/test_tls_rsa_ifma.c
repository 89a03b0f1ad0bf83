/* test_tls_rsa_ifma - the RSA-2048 signer (netstack/ns_tls_rsa*.c) against
 * wolfCrypt: the raw private operation on random keys and messages and on
 * the edges, PSS signatures that wolfCrypt verifies, PKCS#1 v1.5
 * signatures byte-equal to wolfCrypt's, the forced fallback, the blinding
 * pair's invariant and its update, keys the engine refuses, and a key
 * whose CRT values are wrong (the public-exponent check keeps it off the
 * engine). On a CPU without IFMA the same cases run on the fallback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ns_tls_private.h"
#include "ns_tls_rsa.h"
#include "sl_err.h"

#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/hash.h>
#include <wolfssl/wolfcrypt/rsa.h>
#include <wolfssl/wolfcrypt/wolfmath.h>

#define N_KEYS 3
#define N_MSGS 24

static WC_RNG rng;
static RsaKey keys[N_KEYS];
static uint8_t ders[N_KEYS][2048];
static int der_lens[N_KEYS];

static int setup(void **state)
{
	(void)state;
	if (wc_InitRng(&rng) != 0)
		return -1;
	for (int i = 0; i < N_KEYS; i++) {
		if (wc_InitRsaKey(&keys[i], NULL) != 0 ||
		    wc_MakeRsaKey(&keys[i], 2048, WC_RSA_EXPONENT, &rng) != 0 ||
		    wc_RsaSetRNG(&keys[i], &rng) != 0)
			return -1;
		der_lens[i] = wc_RsaKeyToDer(&keys[i], ders[i], sizeof(ders[i]));
		if (der_lens[i] <= 0)
			return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (int i = 0; i < N_KEYS; i++)
		wc_FreeRsaKey(&keys[i]);
	wc_FreeRng(&rng);
	return 0;
}

static ns_tls_rsa_key_t *engine_key(int i)
{
	ns_tls_rsa_key_t *k = NULL;

	assert_int_equal(ns_tls_rsa_key_create(ders[i], (size_t)der_lens[i], &rng, &k), 0);
	assert_non_null(k);
	assert_true(ns_tls_rsa_key_matches(k, ders[i], (size_t)der_lens[i]));
	assert_int_equal(ns_tls_rsa_key_ifma(k), ns_tls_rsa_ifma_cpu());
	return k;
}

static void wolf_raw(int i, const uint8_t *in, uint8_t *out)
{
	word32 len = 256;

	assert_int_equal(wc_RsaFunction(in, 256, out, &len, RSA_PRIVATE_ENCRYPT, &keys[i], &rng), 0);
	assert_int_equal(len, 256);
}

static void random_below_n(int i, uint8_t *m)
{
	uint8_t n[256];

	assert_int_equal(mp_to_unsigned_bin_len(&keys[i].n, n, 256), MP_OKAY);
	assert_int_equal(wc_RNG_GenerateBlock(&rng, m, 256), 0);
	if (memcmp(m, n, 256) >= 0)
		m[0] = (uint8_t)(n[0] - 1);
}

static void test_private_matches_wolfcrypt(void **state)
{
	(void)state;
	printf("  IFMA engine: %s\n", ns_tls_rsa_ifma_cpu() ? "yes" : "no (fallback)");
	for (int i = 0; i < N_KEYS; i++) {
		ns_tls_rsa_key_t *k = engine_key(i);
		ns_tls_rsa_stats_t st0, st1;

		ns_tls_rsa_key_stats(k, &st0);
		for (int j = 0; j < N_MSGS; j++) {
			uint8_t m[256], ours[256], theirs[256];

			random_below_n(i, m);
			if (j == 1)
				m[0] &= 0x01; /* short values too */
			assert_int_equal(ns_tls_rsa_private(k, m, ours), 0);
			wolf_raw(i, m, theirs);
			assert_memory_equal(ours, theirs, 256);
		}
		ns_tls_rsa_key_stats(k, &st1);
		if (ns_tls_rsa_ifma_cpu()) {
			assert_int_equal(st1.ifma_ops - st0.ifma_ops, N_MSGS);
			assert_int_equal(st1.wolf_ops, st0.wolf_ops);
		} else {
			assert_int_equal(st1.wolf_ops - st0.wolf_ops, N_MSGS);
		}
		assert_int_equal(st1.check_failed, 0);
		ns_tls_rsa_key_free(&k);
		assert_null(k);
	}
}

static void test_edges(void **state)
{
	ns_tls_rsa_key_t *k = engine_key(0);
	uint8_t n[256], m[256], out[256];

	(void)state;
	assert_int_equal(mp_to_unsigned_bin_len(&keys[0].n, n, 256), MP_OKAY);
	/* 0 -> 0, 1 -> 1, n-1 -> n-1 (d is odd) */
	memset(m, 0, 256);
	assert_int_equal(ns_tls_rsa_private(k, m, out), 0);
	assert_memory_equal(out, m, 256);
	m[255] = 1;
	assert_int_equal(ns_tls_rsa_private(k, m, out), 0);
	assert_memory_equal(out, m, 256);
	memcpy(m, n, 256);
	m[255] -= 1; /* n is odd: no borrow */
	assert_int_equal(ns_tls_rsa_private(k, m, out), 0);
	assert_memory_equal(out, m, 256);
	/* n, n+1, all ones: refused, OUT untouched */
	memset(out, 0xa5, 256);
	assert_int_equal(ns_tls_rsa_private(k, n, out), SL_EINVAL);
	memcpy(m, n, 256);
	m[255] += 1;
	assert_int_equal(ns_tls_rsa_private(k, m, out), SL_EINVAL);
	memset(m, 0xff, 256);
	assert_int_equal(ns_tls_rsa_private(k, m, out), SL_EINVAL);
	for (int i = 0; i < 256; i++)
		assert_int_equal(out[i], 0xa5);
	ns_tls_rsa_key_free(&k);
}

static void test_pss_verified_by_wolfcrypt(void **state)
{
	static const enum wc_HashType hts[] = {WC_HASH_TYPE_SHA256, WC_HASH_TYPE_SHA384,
					      WC_HASH_TYPE_SHA512};
	static const int mgfs[] = {WC_MGF1SHA256, WC_MGF1SHA384, WC_MGF1SHA512};

	(void)state;
	for (int i = 0; i < N_KEYS; i++) {
		ns_tls_rsa_key_t *k = engine_key(i);

		for (int h = 0; h < 3; h++) {
			uint8_t hash[64], sig[256], sig2[256], plain[256];
			size_t hl = (size_t)wc_HashGetDigestSize(hts[h]), len = sizeof(sig);

			assert_int_equal(wc_RNG_GenerateBlock(&rng, hash, (word32)hl), 0);
			assert_int_equal(ns_tls_rsa_sign_pss(k, hts[h], hash, hl, sig, &len), 0);
			assert_int_equal(len, 256);
			assert_int_equal(wc_RsaPSS_VerifyCheck(sig, 256, plain, sizeof(plain), hash,
							       (word32)hl, hts[h], mgfs[h],
							       &keys[i]),
					 (int)(2 * hl)); /* PSS data: hash and salt */
			/* a random salt: the same digest signs differently */
			len = sizeof(sig2);
			assert_int_equal(ns_tls_rsa_sign_pss(k, hts[h], hash, hl, sig2, &len), 0);
			assert_memory_not_equal(sig, sig2, 256);
			/* another digest does not verify */
			hash[0] ^= 1;
			assert_true(wc_RsaPSS_VerifyCheck(sig, 256, plain, sizeof(plain), hash,
							  (word32)hl, hts[h], mgfs[h],
							  &keys[i]) < 0);
			/* wrong lengths and room are refused */
			len = sizeof(sig);
			assert_int_equal(ns_tls_rsa_sign_pss(k, hts[h], hash, hl - 1, sig, &len),
					 SL_EINVAL);
			len = 255;
			assert_int_equal(ns_tls_rsa_sign_pss(k, hts[h], hash, hl, sig, &len),
					 SL_EINVAL);
		}
		{
			uint8_t hash[20] = {0}, sig[256];
			size_t len = sizeof(sig);

			assert_int_equal(ns_tls_rsa_sign_pss(k, WC_HASH_TYPE_SHA, hash, 20, sig, &len),
					 SL_EINVAL);
		}
		ns_tls_rsa_key_free(&k);
	}
}

static void test_pkcs1_equals_wolfcrypt(void **state)
{
	(void)state;
	for (int i = 0; i < N_KEYS; i++) {
		ns_tls_rsa_key_t *k = engine_key(i);

		for (int j = 0; j < 4; j++) {
			uint8_t hash[32], di[64], ours[256], theirs[256], big[246] = {0};
			size_t len = sizeof(ours);
			word32 dl;

			assert_int_equal(wc_RNG_GenerateBlock(&rng, hash, sizeof(hash)), 0);
			dl = wc_EncodeSignature(di, hash, sizeof(hash), SHA256h);
			assert_true(dl > 32);
			assert_int_equal(ns_tls_rsa_sign_pkcs1(k, di, dl, ours, &len), 0);
			assert_int_equal(len, 256);
			assert_int_equal(wc_RsaSSL_Sign(di, dl, theirs, sizeof(theirs), &keys[i], &rng),
					 256);
			assert_memory_equal(ours, theirs, 256);
			len = sizeof(ours);
			assert_int_equal(ns_tls_rsa_sign_pkcs1(k, big, sizeof(big), ours, &len),
					 SL_EINVAL);
		}
		ns_tls_rsa_key_free(&k);
	}
}

static void test_forced_fallback(void **state)
{
	ns_tls_rsa_key_t *k = NULL;
	ns_tls_rsa_stats_t st;
	uint8_t m[256], ours[256], theirs[256], f[256], inv[256];

	(void)state;
	ns_tls_rsa_force_fallback(true);
	assert_false(ns_tls_rsa_ifma_cpu());
	assert_int_equal(ns_tls_rsa_key_create(ders[1], (size_t)der_lens[1], &rng, &k), 0);
	ns_tls_rsa_force_fallback(false);
	assert_false(ns_tls_rsa_key_ifma(k));
	assert_int_equal(ns_tls_rsa_key_blinding(k, f, inv), SL_ENOTSUP);
	for (int j = 0; j < 4; j++) {
		random_below_n(1, m);
		assert_int_equal(ns_tls_rsa_private(k, m, ours), 0);
		wolf_raw(1, m, theirs);
		assert_memory_equal(ours, theirs, 256);
	}
	ns_tls_rsa_key_stats(k, &st);
	assert_int_equal(st.ifma_ops, 0);
	assert_int_equal(st.wolf_ops, 4);
	ns_tls_rsa_key_free(&k);
}

/* f * i^e == 1 mod n, and one operation squares both. */
static void test_blinding_updates(void **state)
{
	ns_tls_rsa_key_t *k = engine_key(2);
	uint8_t f[256], inv[256], f2[256], inv2[256], m[256], out[256], want[256];
	mp_int a, b, t;

	(void)state;
	if (!ns_tls_rsa_ifma_cpu()) {
		ns_tls_rsa_key_free(&k);
		skip();
	}
	assert_int_equal(mp_init_multi(&a, &b, &t, NULL, NULL, NULL), MP_OKAY);
	for (int round = 0; round < 3; round++) {
		assert_int_equal(ns_tls_rsa_key_blinding(k, f, inv), 0);
		assert_int_equal(mp_read_unsigned_bin(&a, f, 256), MP_OKAY);
		assert_int_equal(mp_read_unsigned_bin(&b, inv, 256), MP_OKAY);
		assert_int_equal(mp_exptmod(&b, &keys[2].e, &keys[2].n, &t), MP_OKAY);
		assert_int_equal(mp_mulmod(&t, &a, &keys[2].n, &t), MP_OKAY);
		assert_int_equal(mp_cmp_d(&t, 1), MP_EQ);
		assert_int_not_equal(mp_cmp_d(&a, 1), MP_EQ); /* r is not 1 */

		random_below_n(2, m);
		assert_int_equal(ns_tls_rsa_private(k, m, out), 0);
		wolf_raw(2, m, want);
		assert_memory_equal(out, want, 256);

		assert_int_equal(ns_tls_rsa_key_blinding(k, f2, inv2), 0);
		assert_memory_not_equal(f, f2, 256);
		assert_int_equal(mp_sqrmod(&a, &keys[2].n, &t), MP_OKAY);
		assert_int_equal(mp_to_unsigned_bin_len(&t, want, 256), MP_OKAY);
		assert_memory_equal(f2, want, 256);
		assert_int_equal(mp_sqrmod(&b, &keys[2].n, &t), MP_OKAY);
		assert_int_equal(mp_to_unsigned_bin_len(&t, want, 256), MP_OKAY);
		assert_memory_equal(inv2, want, 256);
	}
	mp_clear(&a);
	mp_clear(&b);
	mp_clear(&t);
	ns_tls_rsa_key_free(&k);
}

static void test_refused_keys(void **state)
{
	ns_tls_rsa_key_t *k = NULL;
	uint8_t junk[300], der[4096];
	RsaKey other;
	ecc_key ecc;
	int len;

	(void)state;
	memset(junk, 0x30, sizeof(junk));
	assert_int_equal(ns_tls_rsa_key_create(junk, sizeof(junk), &rng, &k), SL_EINVAL);
	assert_int_equal(ns_tls_rsa_key_create(ders[0], 0, &rng, &k), SL_EINVAL);
	assert_int_equal(ns_tls_rsa_key_create(ders[0], (size_t)der_lens[0] - 10, &rng, &k),
			 SL_EINVAL);
	assert_int_equal(ns_tls_rsa_key_create(ders[0], (size_t)der_lens[0], NULL, &k), SL_EINVAL);
	assert_null(k);
	/* RSA 1024 and 3072: not this engine's */
	for (int bits = 1024; bits <= 3072; bits += 2048) {
		assert_int_equal(wc_InitRsaKey(&other, NULL), 0);
		assert_int_equal(wc_MakeRsaKey(&other, bits, WC_RSA_EXPONENT, &rng), 0);
		len = wc_RsaKeyToDer(&other, der, sizeof(der));
		assert_true(len > 0);
		assert_int_equal(ns_tls_rsa_key_create(der, (size_t)len, &rng, &k), SL_ENOTSUP);
		assert_null(k);
		wc_FreeRsaKey(&other);
	}
	/* an ECDSA key */
	assert_int_equal(wc_ecc_init(&ecc), 0);
	assert_int_equal(wc_ecc_make_key(&rng, 32, &ecc), 0);
	len = wc_EccKeyToDer(&ecc, der, sizeof(der));
	assert_true(len > 0);
	assert_int_equal(ns_tls_rsa_key_create(der, (size_t)len, &rng, &k), SL_EINVAL);
	wc_ecc_free(&ecc);
}

/* A key whose dP is wrong signs wrongly on the engine: the check catches
 * it on the self-checked first operation and the key stays on wolfCrypt. */
static void test_bad_crt_key_stays_off_engine(void **state)
{
	ns_tls_rsa_key_t *k = NULL;
	uint8_t der[2048];
	RsaKey bad;
	word32 idx = 0;
	int len;

	(void)state;
	assert_int_equal(wc_InitRsaKey(&bad, NULL), 0);
	assert_int_equal(wc_RsaPrivateKeyDecode(ders[0], &idx, &bad, (word32)der_lens[0]), 0);
	assert_int_equal(mp_add_d(&bad.dP, 2, &bad.dP), MP_OKAY);
	len = wc_RsaKeyToDer(&bad, der, sizeof(der));
	assert_true(len > 0);
	assert_int_equal(ns_tls_rsa_key_create(der, (size_t)len, &rng, &k), 0);
	assert_false(ns_tls_rsa_key_ifma(k));
	ns_tls_rsa_key_free(&k);
	wc_FreeRsaKey(&bad);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_private_matches_wolfcrypt),
		cmocka_unit_test(test_edges),
		cmocka_unit_test(test_pss_verified_by_wolfcrypt),
		cmocka_unit_test(test_pkcs1_equals_wolfcrypt),
		cmocka_unit_test(test_forced_fallback),
		cmocka_unit_test(test_blinding_updates),
		cmocka_unit_test(test_refused_keys),
		cmocka_unit_test(test_bad_crt_key_stays_off_engine),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
