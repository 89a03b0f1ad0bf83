/* perf/tls/bench_tls_crypto.c - what a TLS 1.3 server handshake and a
 * record cost in wolfCrypt, the library Sluice uses (wolfSSL 5.5.4 from
 * Debian's source, built with the x86-64 assembly by mk/wolfssl.mk), one
 * operation at a time, on one CPU.
 *
 *   build/perf/tls/bench_tls_crypto [SECONDS_PER_OP]
 *
 * Prints one JSON object: microseconds per operation for what the server
 * side of our benchmark's handshakes computes - an X25519 key pair plus the
 * shared secret (ECDHE), an ECDSA P-256 signature (CertificateVerify), an
 * RSA-2048 PSS signature, wolfCrypt's and Sluice's own signer
 * (netstack/ns_tls_rsa*.c: AVX-512 IFMA where the CPU has it, else the
 * same wolfCrypt code) - and MB/s of ChaCha20-Poly1305 and AES-256-GCM
 * sealing 16 KB records. perf/tls/run.sh puts it beside the same figures
 * for OpenSSL (`tlsload crypto`), so the report can say how much of each
 * server's CPU per handshake is public-key cryptography. Exit 1 with a
 * reason on stderr when an operation fails.
 */
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/aes.h>
#include <wolfssl/wolfcrypt/chacha20_poly1305.h>
#include <wolfssl/wolfcrypt/curve25519.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/random.h>
#include <wolfssl/wolfcrypt/rsa.h>
#include <wolfssl/version.h>

#include "ns_tls_rsa.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Which build the figures belong to, for the report: the assembly options
 * mk/wolfssl.mk turns on, as this program's headers say the library has. */
#if defined(USE_INTEL_SPEEDUP) && defined(WOLFSSL_SP_X86_64_ASM) && defined(WOLFSSL_AESNI)
#define BENCH_BUILD ", Sluice's build: intelasm, sp-asm"
#elif defined(SLUICE_WOLFSSL)
#define BENCH_BUILD ", Sluice's build without the x86-64 assembly"
#else
#define BENCH_BUILD ", not Sluice's build"
#endif

static double secs_per_op = 0.5;
static WC_RNG rng;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts); /* CPU time: a busy box does not count */
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void fail(const char *what, int rc)
{
	fprintf(stderr, "bench_tls_crypto: %s failed (%d)\n", what, rc);
	exit(1);
}

/* Runs op until SECS_PER_OP of CPU time have passed; microseconds per call. */
static double time_op(int (*op)(void *), void *arg, const char *what)
{
	double t0 = now_s(), t;
	long n = 0;
	int rc;

	do {
		rc = op(arg);
		if (rc != 0)
			fail(what, rc);
		n++;
		t = now_s();
	} while (t - t0 < secs_per_op);
	return (t - t0) * 1e6 / (double)n;
}

static int op_x25519(void *arg)
{
	curve25519_key *peer = arg, k;
	byte out[32];
	word32 len = sizeof(out);
	int rc;

	wc_curve25519_init(&k);
	rc = wc_curve25519_make_key(&rng, 32, &k);
	if (rc == 0)
		rc = wc_curve25519_shared_secret(&k, peer, out, &len);
	wc_curve25519_free(&k);
	return rc;
}

static int op_ecdsa(void *arg)
{
	ecc_key *k = arg;
	byte hash[32] = {1, 2, 3}, sig[128];
	word32 len = sizeof(sig);

	return wc_ecc_sign_hash(hash, sizeof(hash), sig, &len, &rng, k);
}

static int op_rsa_pss(void *arg)
{
	RsaKey *k = arg;
	byte hash[32] = {1, 2, 3}, sig[256];
	int rc = wc_RsaPSS_Sign(hash, sizeof(hash), sig, sizeof(sig), WC_HASH_TYPE_SHA256, WC_MGF1SHA256, k,
				&rng);

	return rc == 256 ? 0 : (rc < 0 ? rc : -1);
}

static int op_sluice_pss(void *arg)
{
	ns_tls_rsa_key_t *k = arg;
	byte hash[32] = {1, 2, 3}, sig[256];
	size_t len = sizeof(sig);

	return ns_tls_rsa_sign_pss(k, WC_HASH_TYPE_SHA256, hash, sizeof(hash), sig, &len);
}

#define REC 16384
static byte rec_in[REC], rec_out[REC];

static int op_chacha(void *arg)
{
	static const byte key[32] = {7}, iv[12] = {9};
	byte tag[16];

	(void)arg;
	return wc_ChaCha20Poly1305_Encrypt(key, iv, NULL, 0, rec_in, REC, rec_out, tag);
}

static int op_aesgcm(void *arg)
{
	Aes *aes = arg;
	static const byte iv[12] = {9};
	byte tag[16];

	return wc_AesGcmEncrypt(aes, rec_out, rec_in, REC, iv, sizeof(iv), tag, sizeof(tag), NULL, 0);
}

int main(int argc, char **argv)
{
	curve25519_key peer;
	ecc_key ecc;
	RsaKey rsa;
	Aes aes;
	static const byte aes_key[32] = {5};
	ns_tls_rsa_key_t *sk = NULL;
	byte der[2048];
	double x, e, r, s_pss, c, g;
	int rc;

	if (argc > 1) {
		secs_per_op = atof(argv[1]);
		if (secs_per_op <= 0 || secs_per_op > 60) {
			fprintf(stderr, "usage: bench_tls_crypto [SECONDS_PER_OP (0-60]]\n");
			return 2;
		}
	}
	if ((rc = wc_InitRng(&rng)) != 0)
		fail("wc_InitRng", rc);
	wc_curve25519_init(&peer);
	if ((rc = wc_curve25519_make_key(&rng, 32, &peer)) != 0)
		fail("X25519 key", rc);
	wc_ecc_init(&ecc);
	if ((rc = wc_ecc_make_key_ex(&rng, 32, &ecc, ECC_SECP256R1)) != 0)
		fail("P-256 key", rc);
	wc_InitRsaKey(&rsa, NULL);
	if ((rc = wc_MakeRsaKey(&rsa, 2048, WC_RSA_EXPONENT, &rng)) != 0)
		fail("RSA-2048 key", rc);
#ifdef WC_RSA_BLINDING
	wc_RsaSetRNG(&rsa, &rng);
#endif
	rc = wc_RsaKeyToDer(&rsa, der, sizeof(der));
	if (rc <= 0)
		fail("RSA key to DER", rc);
	if ((rc = ns_tls_rsa_key_create(der, (size_t)rc, &rng, &sk)) != 0)
		fail("Sluice RSA key", rc);
	wc_AesInit(&aes, NULL, INVALID_DEVID);
	if ((rc = wc_AesGcmSetKey(&aes, aes_key, sizeof(aes_key))) != 0)
		fail("AES key", rc);
	memset(rec_in, 'a', sizeof(rec_in));

	x = time_op(op_x25519, &peer, "X25519");
	e = time_op(op_ecdsa, &ecc, "ECDSA P-256 sign");
	r = time_op(op_rsa_pss, &rsa, "RSA-2048 PSS sign");
	s_pss = time_op(op_sluice_pss, sk, "Sluice RSA-2048 PSS sign");
	c = time_op(op_chacha, NULL, "ChaCha20-Poly1305");
	g = time_op(op_aesgcm, &aes, "AES-256-GCM");
	printf("{\"lib\": \"wolfCrypt %s%s\", \"x25519_keygen_derive_us\": %.1f, \"ecdsa_p256_sign_us\": %.1f, "
	       "\"rsa2048_pss_sign_us\": %.1f, "
	       "\"sluice_rsa2048_pss_sign_us\": %.1f, \"sluice_rsa_engine\": \"%s\", \"chacha20_poly1305_mb_s\": %.1f, \"aes256_gcm_mb_s\": %.1f}\n",
	       LIBWOLFSSL_VERSION_STRING, BENCH_BUILD, x, e, r, s_pss,
	       ns_tls_rsa_key_ifma(sk) ? "AVX-512 IFMA" : "wolfCrypt (no IFMA)", REC / c, REC / g);
	ns_tls_rsa_key_free(&sk);
	wc_curve25519_free(&peer);
	wc_ecc_free(&ecc);
	wc_FreeRsaKey(&rsa);
	wc_AesFree(&aes);
	wc_FreeRng(&rng);
	return 0;
}
