/* st_sha256 - SHA-256 (FIPS 180-4) for content addressing of bodies.
 *
 * OpenSSL is not part of the image and the store must not depend on the TLS
 * library, so the hash is ours: a plain, portable implementation, and on
 * x86-64 CPUs with the SHA extensions (Intel since Goldmont/Ice Lake, every
 * AMD Zen) a block function on the SHA-NI instructions, chosen once at
 * start-up. Hashing every body is on the submitting thread's path, and the
 * portable code runs at ~150 MB/s here (7 ms per 1 MB body; wolfCrypt's
 * Debian build is no faster), the SHA-NI one at ~1.5-2 GB/s. Both are
 * checked against the FIPS/NIST vectors and against each other in
 * tests/unit/test_store_sha256.c. */
#include "st_private.h"

#include <string.h>
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#include <immintrin.h>
#define ST_SHA_NI 1
#endif

static const uint32_t K[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
	0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
	0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
	0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
	0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
	0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
	0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
	0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
	0xc67178f2,
};

static inline uint32_t ror(uint32_t x, unsigned n)
{
	return (x >> n) | (x << (32 - n));
}

static void compress1(uint32_t h[8], const uint8_t *p)
{
	uint32_t w[64], a, b, c, d, e, f, g, hh;

	for (int i = 0; i < 16; i++)
		w[i] = ((uint32_t)p[4 * i] << 24) | ((uint32_t)p[4 * i + 1] << 16) |
		       ((uint32_t)p[4 * i + 2] << 8) | p[4 * i + 3];
	for (int i = 16; i < 64; i++) {
		uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
		uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10);
		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}
	a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
	for (int i = 0; i < 64; i++) {
		uint32_t s1 = ror(e, 6) ^ ror(e, 11) ^ ror(e, 25);
		uint32_t ch = (e & f) ^ (~e & g);
		uint32_t t1 = hh + s1 + ch + K[i] + w[i];
		uint32_t s0 = ror(a, 2) ^ ror(a, 13) ^ ror(a, 22);
		uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
		uint32_t t2 = s0 + maj;
		hh = g;
		g = f;
		f = e;
		e = d + t1;
		d = c;
		c = b;
		b = a;
		a = t1 + t2;
	}
	h[0] += a, h[1] += b, h[2] += c, h[3] += d;
	h[4] += e, h[5] += f, h[6] += g, h[7] += hh;
}

static void blocks_portable(uint32_t h[8], const uint8_t *p, size_t n)
{
	for (; n > 0; n--, p += 64)
		compress1(h, p);
}

#ifdef ST_SHA_NI
/* N 64-byte blocks with the SHA-NI instructions. The state is kept as the
 * two vectors the instructions want, ABEF and CDGH; each sha256rnds2 does
 * two rounds, and sha256msg1/msg2 compute the message schedule four words
 * at a time: W[t..t+3] = msg2(msg1(W[t-16..], W[t-12..]) + W[t-7..t-4],
 * W[t-4..t-1]). */
__attribute__((target("sha,sse4.1"))) static void blocks_shani(uint32_t h[8],
								const uint8_t *p, size_t n)
{
	const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
	__m128i st0, st1, tmp, w[4];

	tmp = _mm_loadu_si128((const __m128i *)&h[0]);  /* DCBA (lanes 3..0) */
	st1 = _mm_loadu_si128((const __m128i *)&h[4]);  /* HGFE */
	tmp = _mm_shuffle_epi32(tmp, 0xB1);              /* CDAB */
	st1 = _mm_shuffle_epi32(st1, 0x1B);              /* EFGH */
	st0 = _mm_alignr_epi8(tmp, st1, 8);              /* ABEF */
	st1 = _mm_blend_epi16(st1, tmp, 0xF0);           /* CDGH */
	for (; n > 0; n--, p += 64) {
		__m128i save0 = st0, save1 = st1, msg;

#pragma GCC unroll 16
		for (int i = 0; i < 16; i++) {
			__m128i *x = &w[i & 3];

			if (i < 4) {
				*x = _mm_shuffle_epi8(
					_mm_loadu_si128((const __m128i *)(p + 16 * i)), bswap);
			} else {
				/* w[i&3] holds W[4(i-4)..], the others the three
				 * groups after it. */
				__m128i t = _mm_sha256msg1_epu32(*x, w[(i + 1) & 3]);

				t = _mm_add_epi32(t, _mm_alignr_epi8(w[(i + 3) & 3],
								     w[(i + 2) & 3], 4));
				*x = _mm_sha256msg2_epu32(t, w[(i + 3) & 3]);
			}
			msg = _mm_add_epi32(*x, _mm_loadu_si128((const __m128i *)&K[4 * i]));
			st1 = _mm_sha256rnds2_epu32(st1, st0, msg);
			msg = _mm_shuffle_epi32(msg, 0x0E);
			st0 = _mm_sha256rnds2_epu32(st0, st1, msg);
		}
		st0 = _mm_add_epi32(st0, save0);
		st1 = _mm_add_epi32(st1, save1);
	}
	tmp = _mm_shuffle_epi32(st0, 0x1B);    /* FEBA */
	st1 = _mm_shuffle_epi32(st1, 0xB1);    /* DCHG */
	st0 = _mm_blend_epi16(tmp, st1, 0xF0); /* DCBA */
	st1 = _mm_alignr_epi8(st1, tmp, 8);    /* HGFE */
	_mm_storeu_si128((__m128i *)&h[0], st0);
	_mm_storeu_si128((__m128i *)&h[4], st1);
}

/* CPUID leaf 7 EBX bit 29: SHA; leaf 1 ECX bits 9 and 19: SSSE3, SSE4.1.
 * (Read directly: not every compiler's __builtin_cpu_supports knows "sha".) */
static bool shani_supported(void)
{
	unsigned a, b, c, d;

	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 9)) || !(c & (1u << 19)))
		return false;
	if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
		return false;
	return (b & (1u << 29)) != 0;
}
#else
static bool shani_supported(void)
{
	return false;
}
#endif

typedef void blocks_fn(uint32_t h[8], const uint8_t *p, size_t n);

/* Chosen before main() runs, so no thread ever sees it change (except a
 * test that switches it on purpose, single-threaded). */
static blocks_fn *blocks = blocks_portable;

__attribute__((constructor)) static void sha256_pick(void)
{
#ifdef ST_SHA_NI
	if (shani_supported())
		blocks = blocks_shani;
#endif
}

bool st_sha256_accel_for_test(bool on)
{
	if (!shani_supported())
		return false;
#ifdef ST_SHA_NI
	blocks = on ? blocks_shani : blocks_portable;
#endif
	return true;
}

static inline void compress(uint32_t h[8], const uint8_t *p)
{
	blocks(h, p, 1);
}

void st_sha256_init(st_sha256_t *ctx)
{
	static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
				       0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

	memcpy(ctx->h, iv, sizeof(iv));
	ctx->total = 0;
	ctx->fill = 0;
}

void st_sha256_update(st_sha256_t *ctx, const void *data, size_t n)
{
	const uint8_t *p = data;

	ctx->total += n;
	if (ctx->fill > 0) {
		size_t take = 64 - ctx->fill;
		if (take > n)
			take = n;
		memcpy(ctx->block + ctx->fill, p, take);
		ctx->fill += take;
		p += take;
		n -= take;
		if (ctx->fill < 64)
			return;
		compress(ctx->h, ctx->block);
		ctx->fill = 0;
	}
	if (n >= 64) {
		blocks(ctx->h, p, n / 64);
		p += n / 64 * 64;
		n %= 64;
	}
	if (n > 0) {
		memcpy(ctx->block, p, n);
		ctx->fill = n;
	}
}

void st_sha256_final(st_sha256_t *ctx, uint8_t out[ST_BLOB_ID_LEN])
{
	uint64_t bits = ctx->total * 8;
	size_t fill = ctx->fill;

	ctx->block[fill++] = 0x80;
	if (fill > 56) {
		memset(ctx->block + fill, 0, 64 - fill);
		compress(ctx->h, ctx->block);
		fill = 0;
	}
	memset(ctx->block + fill, 0, 56 - fill);
	for (int i = 0; i < 8; i++)
		ctx->block[56 + i] = (uint8_t)(bits >> (56 - 8 * i));
	compress(ctx->h, ctx->block);
	for (int i = 0; i < 8; i++) {
		out[4 * i] = (uint8_t)(ctx->h[i] >> 24);
		out[4 * i + 1] = (uint8_t)(ctx->h[i] >> 16);
		out[4 * i + 2] = (uint8_t)(ctx->h[i] >> 8);
		out[4 * i + 3] = (uint8_t)ctx->h[i];
	}
	memset(ctx, 0, sizeof(*ctx));
}

void st_sha256(const void *p, size_t n, uint8_t out[ST_BLOB_ID_LEN])
{
	st_sha256_t ctx;

	st_sha256_init(&ctx);
	st_sha256_update(&ctx, p, n);
	st_sha256_final(&ctx, out);
}
