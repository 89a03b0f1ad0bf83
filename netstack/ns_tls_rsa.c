/* ns_tls_rsa - RSA-2048 keys for the IFMA engine, the signature paddings
 * (PSS for TLS 1.3, PKCS#1 v1.5 for TLS 1.2), and wolfSSL's public-key
 * callbacks that route a server's signatures here (docs/tls.md, "The
 * RSA-2048 signature"). wolfCrypt's code is the fallback everywhere: on a
 * CPU without IFMA, for a key the engine cannot take, and for an IFMA
 * answer that fails the public-exponent check. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "ns_tls_private.h"
#include "ns_tls_rsa.h"
#include "ns_tls_rsa_private.h"
#include "sl_err.h"

#include <wolfssl/wolfcrypt/hash.h>
#include <wolfssl/wolfcrypt/rsa.h>
#include <wolfssl/wolfcrypt/wolfmath.h>

struct ns_tls_rsa_key {
	uint8_t *der;
	size_t der_len;
	RsaKey wc;              /* wolfCrypt's form: fallback and tests */
	WC_RNG *rng;
	bool ifma;
	ns_rsa_ifma_key_t k;
	ns_rsa_blind_t bl;
	ns_rsa_work_t w;
	ns_tls_rsa_stats_t stats;
};

static atomic_bool force_fallback;

void ns_tls_rsa_force_fallback(bool on)
{
	atomic_store(&force_fallback, on);
}

bool ns_tls_rsa_ifma_cpu(void)
{
	static int cpu = -1; /* racing first calls compute the same answer */

	if (cpu < 0) {
		__builtin_cpu_init();
		cpu = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512ifma") &&
		      __builtin_cpu_supports("avx512vl");
	}
	return cpu == 1 && !atomic_load(&force_fallback);
}

/* ---- the key in the engine's form ---- */

static int mp_to_digits(const mp_int *a, uint64_t *d, int nd)
{
	uint8_t be[NS_TLS_RSA_BYTES + 8];
	uint64_t wd[33];
	int nbytes = (nd * 52 + 7) / 8;

	if (nbytes > (int)sizeof(be) || mp_to_unsigned_bin_len((mp_int *)a, be, nbytes) != MP_OKAY)
		return SL_EIO;
	ns_rsa_be_to_words(be, (size_t)nbytes, wd, 33);
	ns_rsa_words_to_digits(wd, 33, d, nd);
	memset(be, 0, sizeof(be));
	memset(wd, 0, sizeof(wd));
	return 0;
}

static int mp_to_words(const mp_int *a, uint64_t *wd, int nw)
{
	uint8_t be[NS_TLS_RSA_BYTES];

	if (nw * 8 > (int)sizeof(be) || mp_to_unsigned_bin_len((mp_int *)a, be, nw * 8) != MP_OKAY)
		return SL_EIO;
	ns_rsa_be_to_words(be, (size_t)nw * 8, wd, nw);
	memset(be, 0, sizeof(be));
	return 0;
}

/* -m^-1 mod 2^52 for odd m0 (Newton: each step doubles the good bits). */
static uint64_t mont_k0(uint64_t m0)
{
	uint64_t inv = m0;

	for (int i = 0; i < 6; i++)
		inv *= 2 - m0 * inv;
	return (0 - inv) & 0xfffffffffffffULL;
}

/* R^2 mod m with R = 2^BITS, through R mod m (mp keeps under 2 x BITS). */
static int mont_rr(const mp_int *m, int bits, mp_int *rr)
{
	mp_int r;
	int rc = SL_EIO;

	if (mp_init(&r) != MP_OKAY)
		return SL_EIO;
	if (mp_2expt(&r, bits) == MP_OKAY && mp_mod(&r, (mp_int *)m, &r) == MP_OKAY &&
	    mp_mulmod(&r, &r, (mp_int *)m, rr) == MP_OKAY)
		rc = 0;
	mp_forcezero(&r);
	return rc;
}

static int half_setup(ns_rsa_half_t *h, const mp_int *m)
{
	mp_int t;
	int rc;

	if (mp_init(&t) != MP_OKAY)
		return SL_EIO;
	rc = mont_rr(m, NS_RSA_D1 * 52, &t);
	if (rc == 0)
		rc = mp_to_digits(&t, h->rr, NS_RSA_D1);
	if (rc == 0)
		rc = mp_to_digits(m, h->m, NS_RSA_D1);
	if (rc == 0 && mp_add((mp_int *)m, (mp_int *)m, &t) != MP_OKAY)
		rc = SL_EIO;
	if (rc == 0)
		rc = mp_to_digits(&t, h->m2, NS_RSA_D1);
	h->k0 = mont_k0(h->m[0] | ((h->m[1] & 0xfff) << 52));
	mp_forcezero(&t);
	return rc;
}

/* A fresh blinding pair: r random in [1, n), f = r^e R, i = r^-1 R. */
static int blind_init(ns_tls_rsa_key_t *key)
{
	uint8_t rnd[NS_TLS_RSA_BYTES];
	mp_int r, t, rmod;
	int rc = SL_EIO;

	if (mp_init(&r) != MP_OKAY || mp_init(&t) != MP_OKAY || mp_init(&rmod) != MP_OKAY)
		return SL_EIO;
	if (wc_RNG_GenerateBlock(key->rng, rnd, sizeof(rnd)) != 0 ||
	    mp_read_unsigned_bin(&r, rnd, sizeof(rnd)) != MP_OKAY ||
	    mp_mod(&r, &key->wc.n, &r) != MP_OKAY || mp_iszero(&r))
		goto out;
	/* R mod n */
	if (mp_2expt(&rmod, NS_RSA_D2 * 52) != MP_OKAY || mp_mod(&rmod, &key->wc.n, &rmod) != MP_OKAY)
		goto out;
	if (mp_exptmod(&r, &key->wc.e, &key->wc.n, &t) != MP_OKAY ||
	    mp_mulmod(&t, &rmod, &key->wc.n, &t) != MP_OKAY || mp_to_digits(&t, key->bl.f, NS_RSA_D2))
		goto out;
	if (mp_invmod(&r, &key->wc.n, &t) != MP_OKAY ||
	    mp_mulmod(&t, &rmod, &key->wc.n, &t) != MP_OKAY || mp_to_digits(&t, key->bl.i, NS_RSA_D2))
		goto out;
	rc = 0;
out:
	memset(rnd, 0, sizeof(rnd));
	mp_forcezero(&r);
	mp_forcezero(&t);
	mp_forcezero(&rmod);
	return rc;
}

static int ifma_setup(ns_tls_rsa_key_t *key)
{
	ns_rsa_ifma_key_t *k = &key->k;
	uint8_t e_be[8];
	mp_int t;
	int rc;

	if (mp_count_bits(&key->wc.p) > 1024 || mp_count_bits(&key->wc.q) > 1024 ||
	    mp_count_bits(&key->wc.dP) > 1024 || mp_count_bits(&key->wc.dQ) > 1024 ||
	    mp_count_bits(&key->wc.e) > 64 || mp_count_bits(&key->wc.e) < 2 ||
	    !mp_isodd(&key->wc.p) || !mp_isodd(&key->wc.q) || !mp_isodd(&key->wc.e) ||
	    mp_iszero(&key->wc.u))
		return SL_ENOTSUP;
	if (mp_to_unsigned_bin_len(&key->wc.e, e_be, 8) != MP_OKAY)
		return SL_EIO;
	k->e = 0;
	for (int i = 0; i < 8; i++)
		k->e = k->e << 8 | e_be[i];
	memset(k->one20, 0, sizeof(k->one20));
	memset(k->one40, 0, sizeof(k->one40));
	k->one20[0] = 1;
	k->one40[0] = 1;
	if ((rc = half_setup(&k->p, &key->wc.p)) < 0 || (rc = half_setup(&k->q, &key->wc.q)) < 0 ||
	    (rc = mp_to_words(&key->wc.dP, k->dp, 16)) < 0 ||
	    (rc = mp_to_words(&key->wc.dQ, k->dq, 16)) < 0 ||
	    (rc = mp_to_words(&key->wc.q, k->q_words, 16)) < 0 ||
	    (rc = mp_to_digits(&key->wc.u, k->qinv, NS_RSA_D1)) < 0 ||
	    (rc = mp_to_digits(&key->wc.n, k->n, NS_RSA_D2)) < 0)
		return rc;
	k->n_k0 = mont_k0(k->n[0] | ((k->n[1] & 0xfff) << 52));
	if (mp_init(&t) != MP_OKAY)
		return SL_EIO;
	rc = mont_rr(&key->wc.n, NS_RSA_D2 * 52, &t);
	if (rc == 0)
		rc = mp_to_digits(&t, k->n_rr, NS_RSA_D2);
	mp_forcezero(&t);
	if (rc == 0)
		rc = blind_init(key);
	return rc;
}

static int wolf_private(ns_tls_rsa_key_t *key, const uint8_t *in, uint8_t *out)
{
	word32 out_len = NS_TLS_RSA_BYTES;

	key->stats.wolf_ops++;
	if (wc_RsaFunction(in, NS_TLS_RSA_BYTES, out, &out_len, RSA_PRIVATE_ENCRYPT, &key->wc,
			   key->rng) != 0 ||
	    out_len != NS_TLS_RSA_BYTES)
		return SL_EIO;
	return 0;
}

/* IN < n, compared as big-endian numbers of equal length (n is public). */
static bool below_n(const ns_tls_rsa_key_t *key, const uint8_t *in)
{
	uint8_t n_be[NS_TLS_RSA_BYTES];

	if (mp_to_unsigned_bin_len((mp_int *)&key->wc.n, n_be, sizeof(n_be)) != MP_OKAY)
		return false;
	return memcmp(in, n_be, sizeof(n_be)) < 0;
}

int ns_tls_rsa_private(ns_tls_rsa_key_t *key, const uint8_t in[NS_TLS_RSA_BYTES],
		       uint8_t out[NS_TLS_RSA_BYTES])
{
	if (!below_n(key, in))
		return SL_EINVAL;
	if (key->ifma) {
		if (ns_rsa_ifma_private(&key->k, &key->bl, in, out, &key->w) == 0) {
			key->stats.ifma_ops++;
			return 0;
		}
		key->stats.check_failed++;
	}
	return wolf_private(key, in, out);
}

int ns_tls_rsa_key_create(const uint8_t *der, size_t len, struct WC_RNG *rng,
			  ns_tls_rsa_key_t **key_r)
{
	ns_tls_rsa_key_t *key;
	word32 idx = 0;
	int rc;

	*key_r = NULL;
	if (der == NULL || len == 0 || len > 65536 || rng == NULL)
		return SL_EINVAL;
	/* aligned for the engine's tables; calloc's 16 would do too */
	key = aligned_alloc(64, (sizeof(*key) + 63) & ~(size_t)63);
	if (key == NULL)
		return SL_ENOMEM;
	memset(key, 0, sizeof(*key));
	key->rng = rng;
	key->der = malloc(len);
	if (key->der == NULL || wc_InitRsaKey(&key->wc, NULL) != 0) {
		free(key->der);
		free(key);
		return SL_ENOMEM;
	}
	memcpy(key->der, der, len);
	key->der_len = len;
	rc = SL_EINVAL;
	if (wc_RsaPrivateKeyDecode(der, &idx, &key->wc, (word32)len) != 0 ||
	    key->wc.type != RSA_PRIVATE)
		goto fail;
	rc = SL_ENOTSUP;
	if (mp_count_bits(&key->wc.n) != 2048)
		goto fail;
	if (wc_RsaSetRNG(&key->wc, rng) != 0) {
		rc = SL_EIO;
		goto fail;
	}
	if (ns_tls_rsa_ifma_cpu()) {
		uint8_t m[NS_TLS_RSA_BYTES], s[NS_TLS_RSA_BYTES];

		rc = ifma_setup(key);
		if (rc == SL_EIO)
			goto fail;
		/* One checked operation on a random m < n: a key whose CRT
		 * values disagree with n never reaches the engine. */
		if (rc == 0 && wc_RNG_GenerateBlock(rng, m, sizeof(m)) == 0) {
			m[0] = 0x01;
			key->ifma = ns_rsa_ifma_private(&key->k, &key->bl, m, s, &key->w) == 0;
		}
		memset(s, 0, sizeof(s));
	}
	*key_r = key;
	return 0;

fail:
	ns_tls_rsa_key_free(&key);
	return rc;
}

void ns_tls_rsa_key_free(ns_tls_rsa_key_t **keyp)
{
	ns_tls_rsa_key_t *key = *keyp;

	if (key == NULL)
		return;
	*keyp = NULL;
	wc_FreeRsaKey(&key->wc);
	if (key->der != NULL) {
		memset(key->der, 0, key->der_len);
		free(key->der);
	}
	/* volatile-free zeroing: the compiler may not drop it before free */
	memset(key, 0, sizeof(*key));
	__asm__ __volatile__("" : : "r"(key) : "memory");
	free(key);
}

bool ns_tls_rsa_key_matches(const ns_tls_rsa_key_t *key, const uint8_t *der, size_t len)
{
	return key->der_len == len && memcmp(key->der, der, len) == 0;
}

bool ns_tls_rsa_key_ifma(const ns_tls_rsa_key_t *key)
{
	return key->ifma;
}

void ns_tls_rsa_key_stats(const ns_tls_rsa_key_t *key, ns_tls_rsa_stats_t *r)
{
	*r = key->stats;
}

int ns_tls_rsa_key_blinding(ns_tls_rsa_key_t *key, uint8_t f_r[NS_TLS_RSA_BYTES],
			    uint8_t i_r[NS_TLS_RSA_BYTES])
{
	uint64_t d[NS_RSA_D2], wd[32];
	mp_int t, n;
	int rc = SL_EIO;

	if (!key->ifma)
		return SL_ENOTSUP;
	/* out of Montgomery form, then fully reduced by mp */
	if (mp_init(&t) != MP_OKAY || mp_init(&n) != MP_OKAY)
		return SL_EIO;
	for (int which = 0; which < 2; which++) {
		uint8_t *o = which == 0 ? f_r : i_r;

		ns_rsa_ifma_mont_mul40(&key->k, d, which == 0 ? key->bl.f : key->bl.i,
				       key->k.one40);
		ns_rsa_digits_to_words(d, NS_RSA_D2, wd, 32);
		ns_rsa_words_to_be(wd, 32, o, NS_TLS_RSA_BYTES);
		if (mp_read_unsigned_bin(&t, o, NS_TLS_RSA_BYTES) != MP_OKAY ||
		    mp_mod(&t, &key->wc.n, &t) != MP_OKAY ||
		    mp_to_unsigned_bin_len(&t, o, NS_TLS_RSA_BYTES) != MP_OKAY)
			goto out;
	}
	rc = 0;
out:
	mp_forcezero(&t);
	mp_clear(&n);
	return rc;
}

/* ---- paddings ---- */

static enum wc_HashType mgf_hash(int mgf)
{
	switch (mgf) {
	case WC_MGF1SHA256:
		return WC_HASH_TYPE_SHA256;
	case WC_MGF1SHA384:
		return WC_HASH_TYPE_SHA384;
	case WC_MGF1SHA512:
		return WC_HASH_TYPE_SHA512;
	default:
		return WC_HASH_TYPE_NONE;
	}
}

/* MASK ^= MGF1(SEED) over LEN bytes (RFC 8017 B.2.1). */
static int mgf1_xor(enum wc_HashType ht, const uint8_t *seed, size_t seed_len, uint8_t *mask,
		    size_t len)
{
	uint8_t buf[WC_MAX_DIGEST_SIZE + 4], h[WC_MAX_DIGEST_SIZE];
	size_t done = 0;
	uint32_t ctr = 0;

	memcpy(buf, seed, seed_len);
	while (done < len) {
		size_t n = len - done < seed_len ? len - done : seed_len;

		buf[seed_len] = (uint8_t)(ctr >> 24);
		buf[seed_len + 1] = (uint8_t)(ctr >> 16);
		buf[seed_len + 2] = (uint8_t)(ctr >> 8);
		buf[seed_len + 3] = (uint8_t)ctr;
		if (wc_Hash(ht, buf, (word32)seed_len + 4, h, (word32)seed_len) != 0)
			return SL_EIO;
		for (size_t i = 0; i < n; i++)
			mask[done + i] ^= h[i];
		done += n;
		ctr++;
	}
	return 0;
}

int ns_tls_rsa_sign_pss(ns_tls_rsa_key_t *key, int hash_type, const uint8_t *hash,
			size_t hash_len, uint8_t *out, size_t *out_len)
{
	enum wc_HashType ht = (enum wc_HashType)hash_type;
	uint8_t em[NS_TLS_RSA_BYTES], mp[8 + 2 * WC_MAX_DIGEST_SIZE];
	size_t hl, db_len = NS_TLS_RSA_BYTES - 1; /* emLen - hLen - 1 below */
	int rc;

	if (ht != WC_HASH_TYPE_SHA256 && ht != WC_HASH_TYPE_SHA384 && ht != WC_HASH_TYPE_SHA512)
		return SL_EINVAL;
	hl = (size_t)wc_HashGetDigestSize(ht);
	if (hash == NULL || hash_len != hl || *out_len < NS_TLS_RSA_BYTES)
		return SL_EINVAL;
	/* EMSA-PSS-ENCODE (RFC 8017 9.1.1), emBits = 2047, emLen = 256, sLen
	 * = hLen: M' = 0x00 x 8 || mHash || salt; H = Hash(M'); DB = PS ||
	 * 0x01 || salt; EM = (DB ^ MGF1(H)) || H || 0xbc, top bit cleared. */
	memset(mp, 0, 8);
	memcpy(mp + 8, hash, hl);
	if (wc_RNG_GenerateBlock(key->rng, mp + 8 + hl, (word32)hl) != 0)
		return SL_EIO;
	db_len = NS_TLS_RSA_BYTES - hl - 1;
	memset(em, 0, db_len);
	em[db_len - hl - 1] = 0x01;
	memcpy(em + db_len - hl, mp + 8 + hl, hl);
	if (wc_Hash(ht, mp, (word32)(8 + 2 * hl), em + db_len, (word32)hl) != 0 ||
	    mgf1_xor(ht, em + db_len, hl, em, db_len) != 0) {
		rc = SL_EIO;
		goto out;
	}
	em[0] &= 0x7f;
	em[NS_TLS_RSA_BYTES - 1] = 0xbc;
	rc = ns_tls_rsa_private(key, em, out);
	if (rc == 0)
		*out_len = NS_TLS_RSA_BYTES;
out:
	memset(em, 0, sizeof(em));
	memset(mp, 0, sizeof(mp));
	return rc;
}

int ns_tls_rsa_sign_pkcs1(ns_tls_rsa_key_t *key, const uint8_t *in, size_t in_len, uint8_t *out,
			  size_t *out_len)
{
	uint8_t em[NS_TLS_RSA_BYTES];
	int rc;

	if (in == NULL || in_len > NS_TLS_RSA_BYTES - 11 || *out_len < NS_TLS_RSA_BYTES)
		return SL_EINVAL;
	/* EMSA-PKCS1-v1_5 (RFC 8017 9.2): 0x00 0x01 0xff.. 0x00 || T */
	em[0] = 0x00;
	em[1] = 0x01;
	memset(em + 2, 0xff, NS_TLS_RSA_BYTES - 3 - in_len);
	em[NS_TLS_RSA_BYTES - in_len - 1] = 0x00;
	memcpy(em + NS_TLS_RSA_BYTES - in_len, in, in_len);
	rc = ns_tls_rsa_private(key, em, out);
	if (rc == 0)
		*out_len = NS_TLS_RSA_BYTES;
	memset(em, 0, sizeof(em));
	return rc;
}

/* ---- wolfSSL's callbacks (HAVE_PK_CALLBACKS) ---- */

/* The lane's engine key for the DER wolfSSL signs with, made on first use
 * and kept until the lane context goes (a `tls install` makes a new one). */
static ns_tls_rsa_key_t *lane_key(ns_tls_ctx_t *ctx, const uint8_t *der, unsigned len)
{
	ns_tls_rsa_key_t *key = NULL;
	int rc;

	for (unsigned i = 0; i < ctx->n_rsa_keys; i++)
		if (ns_tls_rsa_key_matches(ctx->rsa_keys[i], der, len))
			return ctx->rsa_keys[i];
	if (ctx->n_rsa_keys == NS_TLS_CERTS_MAX)
		return NULL;
	rc = ns_tls_rsa_key_create(der, len, &ctx->rng, &key);
	if (rc < 0) {
		ns_tls_fail_log(ctx, "RSA engine: cannot take the server key (%s)", sl_strerror(rc));
		return NULL;
	}
	ctx->rsa_keys[ctx->n_rsa_keys++] = key;
	return key;
}

static void count(ns_tls_ctx_t *ctx, const ns_tls_rsa_key_t *key, const ns_tls_rsa_stats_t *before)
{
	if (key->stats.ifma_ops > before->ifma_ops)
		ctx->stats.rsa_ifma_signs++;
	if (key->stats.check_failed > before->check_failed) {
		ctx->stats.rsa_ifma_fallbacks++;
		ns_tls_fail_log(ctx, "RSA engine: a signature failed its check; wolfCrypt's was sent");
	}
}

static int pss_sign_cb(WOLFSSL *ssl, const unsigned char *in, unsigned int in_len,
		       unsigned char *out, unsigned int *out_len, int hash, int mgf,
		       const unsigned char *key_der, unsigned int key_len, void *arg)
{
	ns_tls_ctx_t *ctx = arg;
	ns_tls_rsa_key_t *key;
	enum wc_HashType ht = wc_OidGetHash(hash);
	ns_tls_rsa_stats_t before;
	size_t olen = *out_len;
	int rc;

	(void)ssl;
	if (ctx == NULL || key_der == NULL || (key = lane_key(ctx, key_der, key_len)) == NULL)
		return BAD_FUNC_ARG;
	if (!ns_tls_rsa_key_ifma(key) || mgf_hash(mgf) != ht) {
		/* wolfSSL's own path, as without the callback */
		rc = wc_RsaPSS_Sign(in, in_len, out, *out_len, ht, mgf, &key->wc, &ctx->rng);
		if (rc > 0) {
			*out_len = (unsigned)rc;
			return 0;
		}
		return rc;
	}
	before = key->stats;
	rc = ns_tls_rsa_sign_pss(key, ht, in, in_len, out, &olen);
	count(ctx, key, &before);
	if (rc < 0)
		return rc == SL_EINVAL ? BAD_FUNC_ARG : WC_HW_E;
	*out_len = (unsigned)olen;
	return 0;
}

static int pkcs1_sign_cb(WOLFSSL *ssl, const unsigned char *in, unsigned int in_len,
			 unsigned char *out, word32 *out_len, const unsigned char *key_der,
			 unsigned int key_len, void *arg)
{
	ns_tls_ctx_t *ctx = arg;
	ns_tls_rsa_key_t *key;
	ns_tls_rsa_stats_t before;
	size_t olen = *out_len;
	int rc;

	(void)ssl;
	if (ctx == NULL || key_der == NULL || (key = lane_key(ctx, key_der, key_len)) == NULL)
		return BAD_FUNC_ARG;
	if (!ns_tls_rsa_key_ifma(key)) {
		rc = wc_RsaSSL_Sign(in, in_len, out, *out_len, &key->wc, &ctx->rng);
		if (rc > 0) {
			*out_len = (word32)rc;
			return 0;
		}
		return rc;
	}
	before = key->stats;
	rc = ns_tls_rsa_sign_pkcs1(key, in, in_len, out, &olen);
	count(ctx, key, &before);
	if (rc < 0)
		return rc == SL_EINVAL ? BAD_FUNC_ARG : WC_HW_E;
	*out_len = (word32)olen;
	return 0;
}

void ns_tls_rsa_ctx_setup(WOLFSSL_CTX *w, const ns_tls_cert_t *cert)
{
	/* Only RSA-2048 keys on IFMA CPUs: with a callback set wolfSSL never
	 * falls back to its own signer, and other sizes gain nothing. wolfSSL
	 * still checks every signature with its own public-key code
	 * (VerifyRsaSign), as no sign-check callback is set. */
	if (strcmp(cert->info.key_type, "RSA 2048") != 0 || !ns_tls_rsa_ifma_cpu())
		return;
	wolfSSL_CTX_SetRsaPssSignCb(w, pss_sign_cb);
	wolfSSL_CTX_SetRsaSignCb(w, pkcs1_sign_cb);
}

void ns_tls_rsa_ssl_setup(WOLFSSL *ssl, ns_tls_ctx_t *ctx)
{
	wolfSSL_SetRsaPssSignCtx(ssl, ctx);
	wolfSSL_SetRsaSignCtx(ssl, ctx);
}

void ns_tls_rsa_ctx_free(ns_tls_ctx_t *ctx)
{
	for (unsigned i = 0; i < ctx->n_rsa_keys; i++)
		ns_tls_rsa_key_free(&ctx->rsa_keys[i]);
	ctx->n_rsa_keys = 0;
}
