/* ns_tls_rsa_ifma - the arithmetic of the RSA-2048 private operation with
 * AVX-512 IFMA (vpmadd52luq/vpmadd52huq): Montgomery multiplication on
 * 52-bit digits, the two 1024-bit CRT exponentiations run in lockstep, the
 * CRT recombination, and the 2048-bit multiplications of blinding and of
 * the public-exponent check (docs/tls.md, "The RSA-2048 signature").
 *
 * Every function here that uses the instructions carries IFMA_FN, so this
 * file is compiled with the build's flags like every other and the binary
 * still runs on CPUs without AVX-512: ns_tls_rsa.c calls into it only when
 * __builtin_cpu_supports("avx512ifma") said yes.
 *
 * Numbers are little-endian arrays of 52-bit digits in uint64_t, 20 digits
 * (1040 bits) for the CRT halves and 40 (2080 bits) modulo n. The
 * Montgomery radix is R = 2^1040 or 2^2080. amm() is "almost" Montgomery
 * multiplication: for a, b < R it returns a value < a*b/R + m congruent to
 * a*b/R mod m, which is < 2m whenever a*b < m*R; the comments at the call
 * sites give the bound each input meets. Nothing here branches on, or
 * indexes memory with, a secret: the exponent's windows select a table
 * entry with masks over all 32 entries, and the final reductions subtract
 * under a mask. Only the public exponent e of the check is branched on. */
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "ns_tls_rsa_private.h"

#define IFMA_FN __attribute__((target("avx512f,avx512ifma,avx512vl")))
#define M52 0xfffffffffffffULL

#define REP5(F) F(0) F(1) F(2) F(3) F(4)
#define REP10(F) REP5(F) F(5) F(6) F(7) F(8) F(9)

#define LD(p, k) _mm256_loadu_si256((const __m256i *)((p) + 4 * (k)))
#define ST(p, k, v) _mm256_storeu_si256((__m256i *)((p) + 4 * (k)), (v))

/* Carry-propagate ND digits to 52 bits each; the top digit keeps what is
 * above (the callers' bounds keep it within the digit). */
static inline void norm(uint64_t *r, int nd)
{
	uint64_t c = 0;

	for (int j = 0; j < nd - 1; j++) {
		uint64_t v = r[j] + c;

		r[j] = v & M52;
		c = v >> 52;
	}
	r[nd - 1] += c;
}

/* One digit b[i] of amm for operand set S (vectors S##r0.., operands
 * S##a, S##m, S##b, S##k0).
 *
 * The low digit, the one whose value picks y, is kept in scalar code (S##z
 * holds its whole value) so that the chain from one y to the next is a
 * few multiplications: the next low digit is lane 1 of the vector at the
 * start of this step (read one step ahead of its use) plus this step's
 * products landing there. The vectors' lane 0 is never read; the shift
 * drops it and z replaces it at the end. The vector chain from step to
 * step is two multiply-adds, the shift and an add; the high halves are
 * summed off that chain (S##h). */
#define AMM_SCALAR(S, i)                                                               \
	uint64_t S##b_i = S##b[i];                                                     \
	uint64_t S##e1 = (uint64_t)_mm256_extract_epi64(S##r0, 1);                     \
	unsigned __int128 S##pa = (unsigned __int128)S##a[0] * S##b_i;                 \
	uint64_t S##v = S##z + ((uint64_t)S##pa & M52);                                \
	uint64_t S##y = (S##v * S##k0) & M52;                                          \
	unsigned __int128 S##pm = (unsigned __int128)S##m[0] * S##y;                   \
	S##z = S##e1 + ((S##a[1] * S##b_i) & M52) + ((S##m[1] * S##y) & M52) +         \
	       (uint64_t)(S##pa >> 52) + (uint64_t)(S##pm >> 52) +                     \
	       ((S##v + ((uint64_t)S##pm & M52)) >> 52);                               \
	__m256i S##bi = _mm256_set1_epi64x((long long)S##b_i);                         \
	__m256i S##yv = _mm256_set1_epi64x((long long)S##y);
#define AMM_LO(S, k)                                                                   \
	__m256i S##l##k = _mm256_madd52lo_epu64(S##r##k, LD(S##a, k), S##bi);          \
	S##l##k = _mm256_madd52lo_epu64(S##l##k, LD(S##m, k), S##yv);                  \
	__m256i S##h##k = _mm256_madd52hi_epu64(zero, LD(S##a, k), S##bi);             \
	S##h##k = _mm256_madd52hi_epu64(S##h##k, LD(S##m, k), S##yv);
#define SH(S, k, k1) S##r##k = _mm256_add_epi64(_mm256_alignr_epi64(S##l##k1, S##l##k, 1), S##h##k);
#define SHIFT5(S)                                                                      \
	SH(S, 0, 1) SH(S, 1, 2) SH(S, 2, 3) SH(S, 3, 4)                                \
	S##r4 = _mm256_add_epi64(_mm256_alignr_epi64(zero, S##l4, 1), S##h4);
#define SHIFT10(S)                                                                     \
	SH(S, 0, 1) SH(S, 1, 2) SH(S, 2, 3) SH(S, 3, 4) SH(S, 4, 5) SH(S, 5, 6)        \
	SH(S, 6, 7) SH(S, 7, 8) SH(S, 8, 9)                                            \
	S##r9 = _mm256_add_epi64(_mm256_alignr_epi64(zero, S##l9, 1), S##h9);

#define DECL_R(k) __m256i Xr##k = _mm256_setzero_si256(), Yr##k = _mm256_setzero_si256();
#define LO_X(k) AMM_LO(X, k)
#define LO_Y(k) AMM_LO(Y, k)
#define STORE_X(k) ST(Xout, k, Xr##k);
#define STORE_Y(k) ST(Yout, k, Yr##k);

/* Two independent 1024-bit products, interleaved for the instruction-level
 * parallelism one dependency chain cannot give: Xout = Xa*Xb/R mod Xm and
 * Yout = Ya*Yb/R mod Ym. Outputs may alias inputs. */
static IFMA_FN void amm20_x2(uint64_t *Xout, const uint64_t *Xa, const uint64_t *Xb,
			     const uint64_t *Xm, uint64_t Xk0, uint64_t *Yout, const uint64_t *Ya,
			     const uint64_t *Yb, const uint64_t *Ym, uint64_t Yk0)
{
	const __m256i zero = _mm256_setzero_si256();
	uint64_t Xz = 0, Yz = 0;
	REP5(DECL_R)

	for (int i = 0; i < 20; i++) {
		AMM_SCALAR(X, i)
		AMM_SCALAR(Y, i)
		REP5(LO_X)
		REP5(LO_Y)
		SHIFT5(X)
		SHIFT5(Y)
	}
	REP5(STORE_X)
	REP5(STORE_Y)
	Xout[0] = Xz;
	Yout[0] = Yz;
	norm(Xout, 20);
	norm(Yout, 20);
}

#define DECL_X(k) __m256i Xr##k = _mm256_setzero_si256();

/* out = a*b/R mod m for 2080-bit R (40 digits). Outputs may alias. */
static IFMA_FN void amm40(uint64_t *Xout, const uint64_t *Xa, const uint64_t *Xb,
			  const uint64_t *Xm, uint64_t Xk0)
{
	const __m256i zero = _mm256_setzero_si256();
	uint64_t Xz = 0;
	REP10(DECL_X)

	for (int i = 0; i < 40; i++) {
		AMM_SCALAR(X, i)
		REP10(LO_X)
		SHIFT10(X)
	}
	REP10(STORE_X)
	Xout[0] = Xz;
	norm(Xout, 40);
}

/* r = a - m if a >= m, else a; constant time. ND normalised digits. */
static void cond_sub(uint64_t *r, const uint64_t *a, const uint64_t *m, int nd)
{
	uint64_t t[NS_RSA_D2];
	int64_t c = 0;
	uint64_t keep;

	for (int j = 0; j < nd; j++) {
		int64_t v = (int64_t)a[j] - (int64_t)m[j] + c;

		t[j] = (uint64_t)v & M52;
		c = v >> 52; /* arithmetic: 0 or -1 */
	}
	keep = (uint64_t)0 - (uint64_t)(c & 1); /* borrow: a < m, keep a */
	for (int j = 0; j < nd; j++)
		r[j] = (a[j] & keep) | (t[j] & ~keep);
	memset(t, 0, sizeof(t));
}

/* Both tables' entry W (0..31), read whole: every entry is loaded and
 * the wanted one kept under a mask. */
static IFMA_FN void table_get_x2(uint64_t *xo, const uint64_t (*xt)[NS_RSA_D1], unsigned xw,
				 uint64_t *yo, const uint64_t (*yt)[NS_RSA_D1], unsigned yw)
{
	__m256i x0 = _mm256_setzero_si256(), x1 = x0, x2 = x0, x3 = x0, x4 = x0;
	__m256i y0 = x0, y1 = x0, y2 = x0, y3 = x0, y4 = x0;
	const __m256i xwv = _mm256_set1_epi64x(xw), ywv = _mm256_set1_epi64x(yw);

	for (unsigned j = 0; j < 32; j++) {
		const __m256i jv = _mm256_set1_epi64x(j);
		const __mmask8 xm = _mm256_cmpeq_epi64_mask(jv, xwv);
		const __mmask8 ym = _mm256_cmpeq_epi64_mask(jv, ywv);

		x0 = _mm256_mask_mov_epi64(x0, xm, LD(xt[j], 0));
		x1 = _mm256_mask_mov_epi64(x1, xm, LD(xt[j], 1));
		x2 = _mm256_mask_mov_epi64(x2, xm, LD(xt[j], 2));
		x3 = _mm256_mask_mov_epi64(x3, xm, LD(xt[j], 3));
		x4 = _mm256_mask_mov_epi64(x4, xm, LD(xt[j], 4));
		y0 = _mm256_mask_mov_epi64(y0, ym, LD(yt[j], 0));
		y1 = _mm256_mask_mov_epi64(y1, ym, LD(yt[j], 1));
		y2 = _mm256_mask_mov_epi64(y2, ym, LD(yt[j], 2));
		y3 = _mm256_mask_mov_epi64(y3, ym, LD(yt[j], 3));
		y4 = _mm256_mask_mov_epi64(y4, ym, LD(yt[j], 4));
	}
	ST(xo, 0, x0); ST(xo, 1, x1); ST(xo, 2, x2); ST(xo, 3, x3); ST(xo, 4, x4);
	ST(yo, 0, y0); ST(yo, 1, y1); ST(yo, 2, y2); ST(yo, 3, y3); ST(yo, 4, y4);
}

/* Bits [pos, pos+len) of a 1024-bit exponent in 16 little-endian words. */
static inline unsigned exp_bits(const uint64_t *e, unsigned pos, unsigned len)
{
	unsigned w = pos / 64, b = pos % 64;
	uint64_t v = e[w] >> b;

	if (b + len > 64 && w + 1 < 16)
		v |= e[w + 1] << (64 - b);
	return (unsigned)(v & ((1u << len) - 1));
}

/* Xacc = base^e (Montgomery form in, Montgomery form out) for both halves,
 * fixed 5-bit windows over all 1024 exponent bits. BASE < 4m. */
static IFMA_FN void modexp_x2(ns_rsa_work_t *w, const ns_rsa_ifma_key_t *k)
{
	const ns_rsa_half_t *P = &k->p, *Q = &k->q;
	unsigned pos = 1020;

	/* t[0] = R mod m (< 2m: RR < m), t[1] = base, t[j] = t[j-1]*base */
	amm20_x2(w->tp[0], P->rr, k->one20, P->m, P->k0, w->tq[0], Q->rr, k->one20, Q->m, Q->k0);
	memcpy(w->tp[1], w->xp, sizeof(w->xp));
	memcpy(w->tq[1], w->xq, sizeof(w->xq));
	for (int j = 2; j < 32; j++)
		amm20_x2(w->tp[j], w->tp[j - 1], w->tp[1], P->m, P->k0, w->tq[j], w->tq[j - 1],
			 w->tq[1], Q->m, Q->k0);
	table_get_x2(w->ap, (const uint64_t(*)[NS_RSA_D1])w->tp, exp_bits(k->dp, pos, 4), w->aq,
		     (const uint64_t(*)[NS_RSA_D1])w->tq, exp_bits(k->dq, pos, 4));
	while (pos > 0) {
		pos -= 5;
		for (int s = 0; s < 5; s++)
			amm20_x2(w->ap, w->ap, w->ap, P->m, P->k0, w->aq, w->aq, w->aq, Q->m, Q->k0);
		table_get_x2(w->sp, (const uint64_t(*)[NS_RSA_D1])w->tp, exp_bits(k->dp, pos, 5),
			     w->sq, (const uint64_t(*)[NS_RSA_D1])w->tq, exp_bits(k->dq, pos, 5));
		amm20_x2(w->ap, w->ap, w->sp, P->m, P->k0, w->aq, w->aq, w->sq, Q->m, Q->k0);
	}
}

/* 52-bit digits <-> 64-bit words. */
void ns_rsa_digits_to_words(const uint64_t *d, int nd, uint64_t *wd, int nw)
{
	memset(wd, 0, (size_t)nw * 8);
	for (int j = 0; j < nd; j++) {
		unsigned bit = (unsigned)j * 52, wi = bit / 64, b = bit % 64;

		if (wi < (unsigned)nw)
			wd[wi] |= d[j] << b;
		if (b > 12 && wi + 1 < (unsigned)nw)
			wd[wi + 1] |= d[j] >> (64 - b);
	}
}

void ns_rsa_words_to_digits(const uint64_t *wd, int nw, uint64_t *d, int nd)
{
	for (int j = 0; j < nd; j++) {
		unsigned bit = (unsigned)j * 52, wi = bit / 64, b = bit % 64;
		uint64_t v = 0;

		if (wi < (unsigned)nw)
			v = wd[wi] >> b;
		if (b > 12 && wi + 1 < (unsigned)nw)
			v |= wd[wi + 1] << (64 - b);
		d[j] = v & M52;
	}
}

void ns_rsa_be_to_words(const uint8_t *be, size_t len, uint64_t *wd, int nw)
{
	memset(wd, 0, (size_t)nw * 8);
	for (size_t i = 0; i < len && i / 8 < (size_t)nw; i++)
		wd[i / 8] |= (uint64_t)be[len - 1 - i] << (8 * (i % 8));
}

void ns_rsa_words_to_be(const uint64_t *wd, int nw, uint8_t *be, size_t len)
{
	for (size_t i = 0; i < len; i++)
		be[len - 1 - i] = i / 8 < (size_t)nw ? (uint8_t)(wd[i / 8] >> (8 * (i % 8))) : 0;
}

/* 16 x 16 words -> 32 words, plus ADD (16 words); constant time. */
static void mul_add_1024(uint64_t *r, const uint64_t *a, const uint64_t *b, const uint64_t *add)
{
	memset(r, 0, 32 * 8);
	memcpy(r, add, 16 * 8);
	for (int i = 0; i < 16; i++) {
		unsigned __int128 c = 0;

		for (int j = 0; j < 16; j++) {
			c += (unsigned __int128)a[i] * b[j] + r[i + j];
			r[i + j] = (uint64_t)c;
			c >>= 64;
		}
		r[i + 16] = (uint64_t)c; /* untouched so far: rows end at i + 15 */
	}
}

/* acc = base^e mod n (Montgomery in and out), e public. */
static IFMA_FN void pow_public(uint64_t *acc, const uint64_t *base, const ns_rsa_ifma_key_t *k)
{
	int top = 63 - __builtin_clzll(k->e);

	memcpy(acc, base, NS_RSA_D2 * 8);
	for (int b = top - 1; b >= 0; b--) {
		amm40(acc, acc, acc, k->n, k->n_k0);
		if ((k->e >> b) & 1)
			amm40(acc, acc, base, k->n, k->n_k0);
	}
}

static uint64_t ct_neq(const uint64_t *a, const uint64_t *b, int nd)
{
	uint64_t d = 0;

	for (int j = 0; j < nd; j++)
		d |= a[j] ^ b[j];
	return d;
}

int ns_rsa_ifma_private(const ns_rsa_ifma_key_t *k, ns_rsa_blind_t *bl, const uint8_t in[256],
			uint8_t out[256], ns_rsa_work_t *w)
{
	uint64_t *c = w->c, *s = w->s, *t = w->t;
	uint64_t mq_words[16], h_words[16], sw[32];
	int rc = 0;

	ns_rsa_be_to_words(in, 256, sw, 32);
	ns_rsa_words_to_digits(sw, 32, c, NS_RSA_D2);
	/* c < n is the caller's check. Blind: c' = c * r^e (bl->f = r^e R mod
	 * n, < 2n): c' < 2n. */
	amm40(w->cb, c, bl->f, k->n, k->n_k0);
	/* c' mod p in Montgomery form: c' = hi * R + lo, so c' R = lo R +
	 * hi R^2: lo R = amm(lo, RR) and hi R^2 = amm(amm(hi, RR), RR), each
	 * < 2p (lo, hi < R; RR < p), their sum < 4p. */
	amm20_x2(w->xp, w->cb, k->p.rr, k->p.m, k->p.k0, w->xq, w->cb, k->q.rr, k->q.m, k->q.k0);
	amm20_x2(w->sp, w->cb + 20, k->p.rr, k->p.m, k->p.k0, w->sq, w->cb + 20, k->q.rr, k->q.m,
		 k->q.k0);
	amm20_x2(w->sp, w->sp, k->p.rr, k->p.m, k->p.k0, w->sq, w->sq, k->q.rr, k->q.m, k->q.k0);
	for (int j = 0; j < NS_RSA_D1; j++) {
		w->xp[j] += w->sp[j];
		w->xq[j] += w->sq[j];
	}
	norm(w->xp, NS_RSA_D1);
	norm(w->xq, NS_RSA_D1);

	modexp_x2(w, k);

	/* mq = out of Montgomery form (<= q), reduced below q. */
	amm20_x2(w->sp, w->ap, k->one20, k->p.m, k->p.k0, w->sq, w->aq, k->one20, k->q.m, k->q.k0);
	cond_sub(w->sq, w->sq, k->q.m, NS_RSA_D1);
	/* h = (mp - mq) qInv mod p: ap = mp R (< 2p); B = mq R mod p
	 * (< 2p); ap + 2p - B is in (0, 4p); times qInv / R is <= p. */
	amm20_x2(w->sp, w->sq, k->p.rr, k->p.m, k->p.k0, t, w->sq, k->q.rr, k->q.m, k->q.k0);
	{
		int64_t cy = 0;

		/* Digit by digit with a signed carry; the top digit keeps all
		 * that is above it (the total is positive and < 4p). */
		for (int j = 0; j < NS_RSA_D1; j++) {
			int64_t v = (int64_t)w->ap[j] + (int64_t)k->p.m2[j] - (int64_t)w->sp[j] + cy;

			w->sp[j] = j < NS_RSA_D1 - 1 ? (uint64_t)v & M52 : (uint64_t)v;
			cy = v >> 52;
		}
	}
	amm20_x2(w->sp, w->sp, k->qinv, k->p.m, k->p.k0, t, t, k->one20, k->q.m, k->q.k0);
	cond_sub(w->sp, w->sp, k->p.m, NS_RSA_D1);
	/* s' = mq + h q < n */
	ns_rsa_digits_to_words(w->sq, NS_RSA_D1, mq_words, 16);
	ns_rsa_digits_to_words(w->sp, NS_RSA_D1, h_words, 16);
	mul_add_1024(sw, h_words, k->q_words, mq_words);
	ns_rsa_words_to_digits(sw, 32, s, NS_RSA_D2);
	/* Unblind: s = s' r^-1 (bl->i = r^-1 R mod n), reduced below n. */
	amm40(s, s, bl->i, k->n, k->n_k0);
	cond_sub(s, s, k->n, NS_RSA_D2);
	/* Check s^e == c before anything leaves (a fault in the CRT halves
	 * would otherwise give away a factor of n). */
	amm40(t, s, k->n_rr, k->n, k->n_k0);
	pow_public(w->cb, t, k);
	amm40(t, w->cb, k->one40, k->n, k->n_k0);
	cond_sub(t, t, k->n, NS_RSA_D2);
	if (ct_neq(t, c, NS_RSA_D2) != 0)
		rc = -1;
	/* Next blinding pair: (r^2)^e and r^-2. */
	amm40(bl->f, bl->f, bl->f, k->n, k->n_k0);
	amm40(bl->i, bl->i, bl->i, k->n, k->n_k0);
	if (rc == 0) {
		ns_rsa_digits_to_words(s, NS_RSA_D2, sw, 32);
		ns_rsa_words_to_be(sw, 32, out, 256);
	}
	memset(mq_words, 0, sizeof(mq_words));
	memset(h_words, 0, sizeof(h_words));
	memset(sw, 0, sizeof(sw));
	return rc;
}

int ns_rsa_ifma_mont_mul40(const ns_rsa_ifma_key_t *k, uint64_t *r, const uint64_t *a,
			   const uint64_t *b)
{
	amm40(r, a, b, k->n, k->n_k0);
	return 0;
}

void ns_rsa_ifma_bench_modexp(const ns_rsa_ifma_key_t *k, ns_rsa_work_t *w)
{
	modexp_x2(w, k);
}
