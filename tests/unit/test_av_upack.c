/* test_av_upack - Upack 0.39: crafted three-section files (e_lfanew and
 * SizeOfOptionalHeader as Upack writes them, the stub's landmarks at their
 * places, both decoder builds, a section whose raw pointer the loader
 * rounds down) whose stream comes from a small encoder of Upack's LZMA
 * (its probability layout, the big-endian window range decoder): literals
 * in every context, matched literals, matches from every kind of distance
 * slot (short, spec bits, direct bits and align), the four repeated
 * distances, short reps, the CALL/JMP transform; unpacked byte for byte.
 * Broken ones: a match before the image, a stream that runs off the image,
 * a table out of the image, a shift out of range, a missing landmark (not
 * Upack), the member cap. clamav-testfiles' clam-upack.exe unpacked and
 * detected through flt_av_scan; every truncation and random corruption of
 * the crafted file and of the sample without a crash. */
#include "test_av_dec.h"
#include "test_av_pecraft.h"

/* ---- the encoder: probabilities at the decoder's work-area offsets ---- */

#define W_ALIGN 0x18u
#define W_ISMATCH 0x58u
#define W_ISREP 0x88u
#define W_ISREP0 0xb8u
#define W_ISREP0L 0xe8u
#define W_ISREP1 0x118u
#define W_ISREP2 0x148u
#define W_DIST 0x178u
#define W_SLOT 0x378u
#define W_REPLEN 0x778u
#define W_LEN 0xbc0u
#define W_LIT 0x1008u
#define W_BYTES 0x8000u

typedef struct ue {
	uint32_t prob[W_BYTES / 4];
	uint64_t low;
	uint32_t range, cache_size;
	uint8_t cache;
	uint8_t o[0x4000];
	size_t n;
	/* the model */
	uint8_t out[0x3000];
	size_t pos;
	uint32_t state, rep[4], shift;
	bool after_match;
} ue_t;

static void ue_init(ue_t *u, uint32_t shift, uint32_t count)
{
	memset(u, 0, sizeof(*u));
	for (uint32_t i = 0; i < count && 6 + i < W_BYTES / 4; i++)
		u->prob[6 + i] = 0x400;
	u->range = 0xffffffffu;
	u->cache_size = 1;
	u->rep[0] = u->rep[1] = u->rep[2] = u->rep[3] = 1;
	u->shift = shift;
}

static void ue_shift_low(ue_t *u)
{
	if ((uint32_t)u->low < 0xff000000u || (u->low >> 32) != 0) {
		uint8_t carry = (uint8_t)(u->low >> 32), t = u->cache;

		do {
			assert_true(u->n < sizeof(u->o));
			u->o[u->n++] = (uint8_t)(t + carry);
			t = 0xff;
		} while (--u->cache_size != 0);
		u->cache = (uint8_t)(u->low >> 24);
	}
	u->cache_size++;
	u->low = (u->low & 0x00ffffffu) << 8;
}

static void ue_bit(ue_t *u, uint32_t off, uint32_t bit)
{
	uint32_t *p = &u->prob[off / 4], bound = (u->range >> 11) * *p;

	assert_true(off % 4 == 0 && off < W_BYTES);
	if (!bit) {
		u->range = bound;
		*p += (0x800 - *p) >> 5;
	} else {
		u->low += bound;
		u->range -= bound;
		*p -= *p >> 5;
	}
	while (u->range < (1u << 24)) {
		u->range <<= 8;
		ue_shift_low(u);
	}
}

static void ue_direct(ue_t *u, uint32_t v, uint32_t nb)
{
	while (nb--) {
		u->range >>= 1;
		if ((v >> nb) & 1)
			u->low += u->range;
		while (u->range < (1u << 24)) {
			u->range <<= 8;
			ue_shift_low(u);
		}
	}
}

static void ue_flush(ue_t *u)
{
	for (int i = 0; i < 5; i++)
		ue_shift_low(u);
}

static void ue_tree(ue_t *u, uint32_t base, uint32_t limit, uint32_t v)
{
	uint32_t nb = 0, m = 1;

	while ((1u << nb) < limit)
		nb++;
	while (nb--) {
		uint32_t b = (v >> nb) & 1;

		ue_bit(u, base + 4 * m, b);
		m = m * 2 + b;
	}
}

static void ue_len(ue_t *u, uint32_t base, uint32_t len1)
{
	if (len1 <= 8) {
		ue_bit(u, base, 0);
		ue_tree(u, base + 8, 8, len1 - 1);
	} else if (len1 <= 16) {
		ue_bit(u, base, 1), ue_bit(u, base + 4, 0);
		ue_tree(u, base + 40, 8, len1 - 9);
	} else {
		ue_bit(u, base, 1), ue_bit(u, base + 4, 1);
		ue_tree(u, base + 0x48, 0x100, len1 - 0x11);
	}
}

static uint32_t rev(uint32_t v, uint32_t nb)
{
	uint32_t r = 0;

	for (uint32_t i = 0; i < nb; i++, v >>= 1)
		r = r * 2 + (v & 1);
	return r;
}

static void ue_dist(ue_t *u, uint32_t len1, uint32_t d1)
{
	uint32_t v = d1 - 1, ls = len1 - 1 >= 3 ? 3 : len1 - 1, slot, nb, base, rem;
	int top = 31;

	if (v < 4) {
		ue_tree(u, W_SLOT + 0x100 * ls, 0x40, v);
		return;
	}
	while (!(v >> top))
		top--;
	slot = 2 * (uint32_t)top + ((v >> (top - 1)) & 1);
	nb = (slot >> 1) - 1;
	base = (2 | (slot & 1)) << nb;
	rem = v - base;
	ue_tree(u, W_SLOT + 0x100 * ls, 0x40, slot);
	if (nb > 5) {
		ue_direct(u, rem >> 4, nb - 4);
		ue_tree(u, W_ALIGN, 16, rev(rem & 15, 4));
	} else {
		ue_tree(u, W_DIST + 4 * base, 1u << nb, rev(rem, nb));
	}
}

static void ue_lit(ue_t *u, uint8_t c)
{
	uint32_t ctx = u->pos > 0 ? u->out[u->pos - 1] >> u->shift : 0, lit = W_LIT + 0xc00 * ctx;

	ue_bit(u, W_ISMATCH + 4 * u->state, 0);
	u->state = u->state < 4 ? 0 : u->state < 10 ? u->state - 3 : u->state - 6;
	if (u->after_match) {
		uint32_t mb, sym = 1, mask;

		assert_true(u->rep[0] <= u->pos);
		mb = u->out[u->pos - u->rep[0]];
		for (mask = 0x80; mask != 0; mask >>= 1) {
			uint32_t m1 = (mb & mask) ? 1 : 0, b = (c & mask) ? 1 : 0;

			ue_bit(u, lit + 4 * (((1 + m1) << 8) + sym), b);
			sym = (sym * 2 + b) & 0xff;
			if (mask > 1 && b != m1) {
				for (mask >>= 1; mask != 0; mask >>= 1) {
					b = (c & mask) ? 1 : 0;
					ue_bit(u, lit + 4 * sym, b);
					sym = sym * 2 + b;
				}
				break;
			}
		}
	} else {
		ue_tree(u, lit, 0x100, c);
	}
	u->out[u->pos++] = c;
	u->after_match = false;
}

static void ue_copy(ue_t *u, uint32_t len)
{
	assert_true(u->rep[0] <= u->pos && u->pos + len <= sizeof(u->out));
	for (uint32_t k = 0; k < len; k++, u->pos++)
		u->out[u->pos] = u->out[u->pos - u->rep[0]];
	u->after_match = true;
}

/* a match of LEN (2..0x111) bytes DIST back (1..) */
static void ue_match(ue_t *u, uint32_t dist, uint32_t len)
{
	ue_bit(u, W_ISMATCH + 4 * u->state, 1);
	ue_bit(u, W_ISREP + 4 * u->state, 0);
	u->state = u->state < 7 ? 7 : 10;
	u->rep[3] = u->rep[2], u->rep[2] = u->rep[1], u->rep[1] = u->rep[0];
	ue_len(u, W_LEN, len - 1);
	ue_dist(u, len - 1, dist);
	u->rep[0] = dist;
	ue_copy(u, len);
}

/* a match at repeated distance I (0..3) of LEN; LEN 1 with I 0: a short rep */
static void ue_rep(ue_t *u, uint32_t i, uint32_t len)
{
	uint32_t st = u->state < 7 ? 8 : 11, s = u->state, d = u->rep[i];

	ue_bit(u, W_ISMATCH + 4 * s, 1);
	ue_bit(u, W_ISREP + 4 * s, 1);
	ue_bit(u, W_ISREP0 + 4 * s, i != 0);
	if (i == 0) {
		ue_bit(u, W_ISREP0L + 4 * s, len != 1);
		if (len == 1) {
			u->state = st | 1;
			ue_copy(u, 1);
			return;
		}
	} else {
		ue_bit(u, W_ISREP1 + 4 * s, i != 1);
		if (i != 1)
			ue_bit(u, W_ISREP2 + 4 * s, i != 2);
		for (uint32_t k = i; k > 0; k--)
			u->rep[k] = u->rep[k - 1];
		u->rep[0] = d;
	}
	u->state = st;
	ue_len(u, W_REPLEN, len - 1);
	ue_copy(u, len);
}

/* ---- the file: section 0 (rva 0x1000, 0x3000) the output; section 1
 * (rva 0x4000, 0x1000, raw pointer 0x410 rounded down to 0x400): entry
 * code, stub, data, table, stream; section 2 (rva 0x8000, 0x8000) the
 * work area ---- */

#define S1 0x4000u
#define UP_OUT 0x1000u
#define UP_W 0x8000u
#define UP_CODE (S1 + 0x40)
#define UP_PROC (S1 + 0x100)
#define UP_MARK (S1 + 0x200)
#define UP_DATA (S1 + 0x280)
#define UP_TAB (S1 + 0x300)
#define UP_STREAM (S1 + 0x400)
#define UP_OEP 0x1234u
#define VA(x) (0x400000u + (x))

static uint8_t *up_file(const uint8_t *stream, size_t slen, uint32_t out_len, uint32_t shift, uint32_t fixes, bool later,
			size_t *len_r)
{
	size_t len = 0x400 + 0x1000;
	uint8_t *f = calloc(1, len), *s = f + 0x400;
	uint32_t tab = 0x400 + 0x300, pe = 0x10, sect = pe + 24 + 0x148;
	static const uint32_t sec[3][4] = {
		{0x3000, UP_OUT, 0, 0}, {0x1000, S1, 0xff0, 0x410}, {0x8000, UP_W, 0, 0}};

	assert_non_null(f);
	f[0] = 'M', f[1] = 'Z';
	pc_put32(f + 0x3c, pe);
	memcpy(f + pe, "PE\0\0", 4);
	f[pe + 4] = 0x4c, f[pe + 5] = 0x01, f[pe + 6] = 3;
	f[pe + 20] = 0x48, f[pe + 21] = 0x01;
	f[pe + 24] = 0x0b, f[pe + 25] = 0x01;
	pc_put32(f + pe + 24 + 16, S1);
	pc_put32(f + pe + 24 + 28, 0x400000);
	pc_put32(f + pe + 24 + 32, 0x1000);
	pc_put32(f + pe + 24 + 36, 0x200);
	pc_put32(f + pe + 24 + 56, 0x10000);
	pc_put32(f + pe + 24 + 60, 0x400);
	for (int i = 0; i < 3; i++) {
		uint8_t *h = f + sect + 40 * i;

		h[0] = 'U', h[1] = 'P', h[2] = (uint8_t)('0' + i);
		for (int k = 0; k < 4; k++)
			pc_put32(h + 8 + 4 * k, sec[i][k]);
		pc_put32(h + 36, 0xe0000060);
	}
	/* entry: MOV ESI, data; LODSD; PUSH EAX; ...; JMP short stub */
	s[0] = 0xbe, pc_put32(s + 1, VA(UP_DATA)), s[5] = 0xad, s[6] = 0x50;
	s[0xa] = 0xeb, s[0xb] = (uint8_t)(UP_CODE - (S1 + 0xc));
	/* stub: MOV ESI, table at +7; JMP short at +0x1a; MOV CH at +0x26; JMP */
	s[0x40 + 7] = 0xbe, pc_put32(s + 0x40 + 8, VA(UP_TAB));
	s[0x40 + 0x1a] = 0xeb, s[0x40 + 0x1b] = 0;
	s[0x40 + 0x26] = 0xb5, s[0x40 + 0x27] = 0x1c;
	s[0x40 + 0x2f] = 0xe9, pc_put32(s + 0x40 + 0x30, UP_PROC - (UP_CODE + 0x34));
	/* decoder: SHR EBP, k; JECXZ; JMP to CMP AL, marker */
	{
		uint32_t shr = later ? 26 : 24, jx = later ? 45 : 42, aj = later ? 7 : 8, j;

		s[0x100 + shr] = 0xc1, s[0x100 + shr + 1] = 0xed, s[0x100 + shr + 2] = (uint8_t)shift;
		s[0x100 + jx] = 0xe3, s[0x100 + jx + 1] = 0x10;
		j = UP_PROC + jx + 2 + 0x10;
		s[j - S1 + aj] = 0xe9;
		pc_put32(s + (j - S1) + aj + 1, UP_MARK - 27 - (j + aj + 5));
		s[0x200] = 0x77;
	}
	/* data: original entry point, u32, work area */
	pc_put32(s + 0x280, VA(UP_OEP)), pc_put32(s + 0x288, VA(UP_W));
	/* table: 0x27 dwords (the last: the stream), fixes, output range */
	pc_put32(f + tab + 4 * 0x26, VA(UP_STREAM + 1));
	pc_put32(f + tab + 0x9c + 4, fixes);
	pc_put32(f + tab + 0x9c + 0xc, VA(UP_OUT));
	pc_put32(f + tab + 0x9c + 0x34, VA(UP_OUT + out_len));
	assert_true(slen <= 0xc00);
	memcpy(s + 0x400, stream, slen);
	*len_r = len;
	return f;
}

/* Encode a text with every kind of step; WANT gets the unpacked bytes
 * (with the CALL transform undone), the stream goes to U->o. */
static size_t up_encode(ue_t *u, uint32_t shift, uint8_t *want)
{
	static const char txt[] = "Upack packed this: the quick brown fox jumps over the lazy dog. ";
	uint32_t i, fixes;

	ue_init(u, shift, 0x1c00);
	for (i = 0; txt[i]; i++)
		ue_lit(u, (uint8_t)txt[i]);
	ue_match(u, 64, 20);       /* slot from the spec bits */
	ue_lit(u, 'X');            /* a matched literal that differs */
	ue_match(u, 2, 2);         /* short slot */
	ue_lit(u, 'e');            /* matched literal */
	ue_rep(u, 0, 1);           /* short rep */
	ue_rep(u, 0, 9);           /* rep0, mid length */
	ue_match(u, 30, 3);
	ue_rep(u, 1, 4);           /* rep1 */
	ue_rep(u, 2, 5);           /* rep2 */
	ue_rep(u, 3, 17);          /* rep3, high length */
	for (i = 0; i < 200; i++)
		ue_lit(u, (uint8_t)(i * 7 + 3));
	ue_match(u, 290, 0x111);   /* direct bits and align */
	ue_match(u, 4, 2);         /* slot 3 */
	ue_match(u, 5, 6);         /* slot 4 */
	/* CALL with a transformed target: E8 marker hi mid lo */
	ue_lit(u, 0xe8), ue_lit(u, 0x77), ue_lit(u, 0x00), ue_lit(u, 0x01), ue_lit(u, 0x23);
	ue_lit(u, 0xe9), ue_lit(u, 0x10), ue_lit(u, 0x90); /* E9 without the marker */
	ue_lit(u, 0xe9), ue_lit(u, 0x77), ue_lit(u, 0x00), ue_lit(u, 0x00), ue_lit(u, 0x40);
	ue_match(u, 600, 40);
	ue_flush(u);
	memcpy(want, u->out, u->pos);
	for (i = 0, fixes = 0; i + 5 <= u->pos && fixes < 2; i++)
		if ((want[i] == 0xe8 || want[i] == 0xe9) && want[i + 1] == 0x77) {
			uint32_t t = (uint32_t)want[i + 2] << 16 | (uint32_t)want[i + 3] << 8 | want[i + 4];

			pc_put32(want + i + 1, t - (i + 1) - 4);
			i += 4;
			fixes++;
		}
	return u->pos;
}

static ue_t enc;

static void run_good(uint32_t shift, bool later, const char *seed)
{
	uint8_t want[0x3000];
	size_t wn = up_encode(&enc, shift, want), flen;
	uint8_t *f = up_file(enc.o + 0, enc.n, (uint32_t)wn, shift, 2, later, &flen);
	const uint8_t *m;
	rec_t r;

	pc_seed(seed, f, flen);
	rec_init(&r, 1u << 20);
	assert_int_equal(av_dec_pepack(sl_slice_make(f, flen), "u.exe", &r.e), 0);
	assert_int_equal(r.e.broken, 0);
	assert_int_equal(r.n, 1);
	assert_string_equal(r.name[0], "upack-unpacked");
	assert_true(r.len[0] >= UP_OUT + wn);
	m = r.data[0];
	assert_memory_equal(m + UP_OUT, want, wn);
	/* the original entry point and raw = rva in the member */
	assert_int_equal(av_le32(m + 0x10 + 24 + 16), UP_OEP);
	assert_int_equal(av_le32(m + 0x10 + 24 + 0x148 + 40 + 20), S1);
	rec_free(&r);
	if (shift == 5)
		pc_hostile(f, flen, 7, 0x10, 1500);
	free(f);
}

static void test_roundtrip(void **state)
{
	(void)state;
	run_good(5, false, "upack_lc3");
	run_good(8, true, "upack_later_lc0");
	run_good(6, false, "upack_lc2");
}

static void test_broken(void **state)
{
	uint8_t want[0x3000];
	size_t wn = up_encode(&enc, 5, want), flen;
	uint8_t *f;
	rec_t r;

	(void)state;
	/* a stream that runs off the image: output end far past what it holds */
	f = up_file(enc.o, 40, 0x2f00, 5, 0, false, &flen);
	rec_init(&r, 1u << 20);
	assert_int_equal(av_dec_pepack(sl_slice_make(f, flen), "u.exe", &r.e), 0);
	assert_true(r.e.broken >= 1);
	assert_int_equal(r.n, 1); /* what was decoded is scanned */
	rec_free(&r);
	free(f);
	/* a match before the image start: the first step is a match 5 back */
	ue_init(&enc, 5, 0x1c00);
	enc.pos = 0;
	ue_bit(&enc, W_ISMATCH, 1), ue_bit(&enc, W_ISREP, 0);
	ue_len(&enc, W_LEN, 1);
	ue_dist(&enc, 1, 0x7000);
	ue_flush(&enc);
	f = up_file(enc.o, enc.n, 0x100, 5, 0, false, &flen);
	rec_init(&r, 1u << 20);
	assert_int_equal(av_dec_pepack(sl_slice_make(f, flen), "u.exe", &r.e), 0);
	assert_int_equal(r.e.broken, 1);
	rec_free(&r);
	free(f);
	/* the output range past the image, the work area out of it */
	(void)up_encode(&enc, 5, want);
	f = up_file(enc.o, enc.n, (uint32_t)wn, 5, 0, false, &flen);
	pc_put32(f + 0x400 + 0x300 + 0x9c + 0x34, VA(0x7fff0000));
	rec_init(&r, 1u << 20);
	assert_int_equal(av_dec_pepack(sl_slice_make(f, flen), "u.exe", &r.e), 0);
	assert_int_equal(r.e.broken, 1);
	assert_int_equal(r.n, 0);
	rec_free(&r);
	pc_put32(f + 0x400 + 0x300 + 0x9c + 0x34, VA(UP_OUT + (uint32_t)wn));
	pc_put32(f + 0x400 + 0x288, VA(0xfff0));
	rec_init(&r, 1u << 20);
	assert_int_equal(av_dec_pepack(sl_slice_make(f, flen), "u.exe", &r.e), 0);
	assert_int_equal(r.e.broken, 1);
	assert_int_equal(r.n, 0);
	rec_free(&r);
	pc_put32(f + 0x400 + 0x288, VA(UP_W));
	/* fixes that never come: the scan ends at the image end */
	pc_put32(f + 0x400 + 0x300 + 0x9c + 4, 1000);
	rec_init(&r, 1u << 20);
	assert_int_equal(av_dec_pepack(sl_slice_make(f, flen), "u.exe", &r.e), 0);
	assert_int_equal(r.e.broken, 1);
	assert_int_equal(r.n, 1);
	rec_free(&r);
	pc_put32(f + 0x400 + 0x300 + 0x9c + 4, 2);
	/* the member cap */
	rec_init(&r, 0x8000);
	assert_int_equal(av_dec_pepack(sl_slice_make(f, flen), "u.exe", &r.e), 1);
	assert_int_equal(r.n, 0);
	assert_non_null(strstr(r.limit, "max_file"));
	rec_free(&r);
	/* not Upack: a shift out of range, a landmark missing, another
	 * optional header size */
	f[0x400 + 0x100 + 26] = 9;
	rec_init(&r, 1u << 20);
	assert_int_equal(av_dec_pepack(sl_slice_make(f, flen), "u.exe", &r.e), 0);
	assert_true(r.n == 0 && r.e.broken == 0);
	rec_free(&r);
	f[0x400 + 0x100 + 26] = 5;
	f[0x400 + 0x40 + 0x26] = 0x90;
	rec_init(&r, 1u << 20);
	assert_int_equal(av_dec_pepack(sl_slice_make(f, flen), "u.exe", &r.e), 0);
	assert_true(r.n == 0 && r.e.broken == 0);
	rec_free(&r);
	f[0x400 + 0x40 + 0x26] = 0xb5;
	f[0x10 + 20] = 0xe0, f[0x10 + 21] = 0;
	rec_init(&r, 1u << 20);
	assert_int_equal(av_dec_pepack(sl_slice_make(f, flen), "u.exe", &r.e), 0);
	assert_true(r.n == 0 && r.e.broken == 0);
	rec_free(&r);
	free(f);
}

static void test_sample(void **state)
{
	size_t len;
	uint8_t *p = sample("clam-upack.exe", &len);
	rec_t r;

	(void)state;
	if (p == NULL)
		return;
	pc_sample_one(&r, p, len, "clam-upack.exe");
	assert_null(memmem(p, len, "This is a ClamAV test file", 26));
	assert_non_null(memmem(r.data[0], r.len[0], "This is a ClamAV test file", 26));
	rec_free(&r);
	pc_sample_verdict(p, len, "clam-upack.exe", "clam-upack.exe/upack-unpacked/embedded.zip/clam.exe");
	pc_hostile(p, len, 1, 0x10, 3000);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_broken),
		cmocka_unit_test(test_sample),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
