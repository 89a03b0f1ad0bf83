/* test_av_chm - the LZX decoder (flt_av_lzx.c) and CHM files
 * (flt_av_chm.c).
 *
 * LZX streams are made here by a small encoder: stored blocks, and
 * verbatim blocks whose main tree gives 16 symbols 8 bits and the rest 9
 * (a complete code), sent through a pretree of 12 four-bit and 8 five-bit
 * codes, with literals, explicit-offset matches and repeated-offset (R0)
 * matches, aligned-offset blocks (distances through the aligned tree),
 * an E8 translation header, and 32 KiB frames (word-aligned
 * after each). CHM files are built around them: ITSF, ITSP, one PMGL
 * chunk, section 0 with ControlData and Content. Then: members byte for
 * byte, EICAR through flt_av_scan, every truncation, random corruption,
 * hostile lengths, the cap, and clam.chm from clamav-testfiles. */
#include "test_av_dec.h"
#include "test_av_drive.h"

/* ---- an LZX bit writer and encoder ---- */

typedef struct bw {
	uint8_t *p;
	size_t len, cap;
	uint32_t acc, n; /* n bits pending in acc (< 16) */
	uint8_t pmain[256 + 50 * 8], plen[249]; /* the decoder's previous lengths */
} bw_t;

static void bw_put(bw_t *w, uint32_t v, uint32_t bits)
{
	for (int i = (int)bits - 1; i >= 0; i--) {
		w->acc = w->acc << 1 | ((v >> i) & 1);
		if (++w->n == 16) {
			assert_true(w->len + 2 <= w->cap);
			w->p[w->len++] = (uint8_t)w->acc;
			w->p[w->len++] = (uint8_t)(w->acc >> 8);
			w->acc = 0;
			w->n = 0;
		}
	}
}

/* pad to a word with zero bits */
static void bw_align(bw_t *w)
{
	if (w->n != 0)
		bw_put(w, 0, 16 - w->n);
}

static void bw_byte(bw_t *w, uint8_t b)
{
	assert_int_equal(w->n, 0);
	assert_true(w->len < w->cap);
	w->p[w->len++] = b;
}

#define MAIN_N(wb) (256u + (wb) * 2 * 8) /* window bits 15..19 */

/* main tree lengths: 16 symbols of 8 bits, the rest 9 (complete for 496
 * symbols, window 15) or, for other sizes, 9 bits with the first ones
 * shortened as Kraft allows; pretree: 12 symbols 4 bits, 8 symbols 5 */
static uint8_t pre_len_of(uint32_t s)
{
	return s < 12 ? 4 : 5;
}

static uint32_t pre_code_of(uint32_t s)
{
	return s < 12 ? s : (12u << 1) + (s - 12);
}

static uint8_t main_len_of(uint32_t s)
{
	return s < 16 ? 8 : 9;
}

static uint32_t main_code_of(uint32_t s)
{
	return s < 16 ? s : (16u << 1) + (s - 16);
}

/* code lengths [first, last) as deltas from the previous ones, via the
 * pretree */
static void enc_lens(bw_t *w, uint8_t *prev, uint32_t first, uint32_t last, uint8_t (*len_of)(uint32_t))
{
	for (uint32_t i = 0; i < 20; i++)
		bw_put(w, pre_len_of(i), 4);
	for (uint32_t x = first; x < last; x++) {
		uint8_t l = len_of != NULL ? len_of(x) : 0;
		uint32_t z = (prev[x] + 17u - l) % 17;

		bw_put(w, pre_code_of(z), pre_len_of(z));
		prev[x] = l;
	}
}

static void enc_verbatim_header(bw_t *w, uint32_t blen, uint32_t wbits)
{
	bw_put(w, 1, 3);
	bw_put(w, blen >> 8, 16);
	bw_put(w, blen & 0xff, 8);
	enc_lens(w, w->pmain, 0, 256, main_len_of);
	enc_lens(w, w->pmain, 256, MAIN_N(wbits), main_len_of);
	enc_lens(w, w->plen, 0, 249, NULL); /* no length tree: matches of 2..8 only */
}

static void enc_sym(bw_t *w, uint32_t s)
{
	bw_put(w, main_code_of(s), main_len_of(s));
}

/* An aligned-offset block's header: the aligned tree (8 symbols of 3
 * bits: symbol k has code k), then a verbatim block's trees. */
static void enc_aligned_header(bw_t *w, uint32_t blen, uint32_t wbits)
{
	bw_put(w, 2, 3);
	bw_put(w, blen >> 8, 16);
	bw_put(w, blen & 0xff, 8);
	for (int i = 0; i < 8; i++)
		bw_put(w, 3, 3);
	enc_lens(w, w->pmain, 0, 256, main_len_of);
	enc_lens(w, w->pmain, 256, MAIN_N(wbits), main_len_of);
	enc_lens(w, w->plen, 0, 249, NULL);
}

static const uint32_t pos_base[] = {0, 1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768,
				    1024, 1536, 2048, 3072, 4096, 6144, 8192, 12288, 16384, 24576, 32768, 49152};
static const uint8_t pos_extra[] = {0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6,
				    7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14};

/* a match of LEN (2..8) at distance DIST (>= 1; 0: repeat R0) */
static void enc_match(bw_t *w, uint32_t len, uint32_t dist)
{
	uint32_t slot = 0, fo;

	assert_true(len >= 2 && len <= 8);
	if (dist != 0) {
		fo = dist + 2;
		slot = 3;
		while (slot + 1 < 32 && pos_base[slot + 1] <= fo)
			slot++;
	}
	enc_sym(w, 256 + (slot << 3 | (len - 2)));
	if (dist != 0 && slot > 3)
		bw_put(w, fo - pos_base[slot], pos_extra[slot]);
}

/* A match in an aligned-offset block: for slots with 3 or more extra
 * bits, the top ones verbatim and the low 3 through the aligned tree. */
static void enc_match_aligned(bw_t *w, uint32_t len, uint32_t dist)
{
	uint32_t slot = 3, fo = dist + 2, extra;

	while (slot + 1 < 32 && pos_base[slot + 1] <= fo)
		slot++;
	enc_sym(w, 256 + (slot << 3 | (len - 2)));
	extra = fo - pos_base[slot];
	if (slot > 3 && pos_extra[slot] >= 3) {
		bw_put(w, extra >> 3, pos_extra[slot] - 3u);
		bw_put(w, extra & 7, 3);
	} else if (slot > 3) {
		bw_put(w, extra, pos_extra[slot]);
	}
}

/* The stream header (at the start and after each reset): E8 translation
 * size (0: none). */
static void enc_header(bw_t *w, uint32_t e8)
{
	memset(w->pmain, 0, sizeof(w->pmain));
	memset(w->plen, 0, sizeof(w->plen));
	if (e8 == 0) {
		bw_put(w, 0, 1);
	} else {
		bw_put(w, 1, 1);
		bw_put(w, e8 >> 16, 16);
		bw_put(w, e8 & 0xffff, 16);
	}
}

/* One verbatim block holding P (all literals, then the frame's end is
 * aligned); P may be longer than a frame. */
static void enc_literals(bw_t *w, const uint8_t *p, size_t n, uint32_t wbits, size_t done_before)
{
	enc_verbatim_header(w, (uint32_t)n, wbits);
	for (size_t i = 0; i < n; i++) {
		enc_sym(w, p[i]);
		if ((done_before + i + 1) % 32768 == 0)
			bw_align(w);
	}
}

static void enc_stored(bw_t *w, const uint8_t *p, size_t n)
{
	bw_put(w, 3, 3);
	bw_put(w, (uint32_t)n >> 8, 16);
	bw_put(w, (uint32_t)n & 0xff, 8);
	/* 1 to 16 bits of padding */
	bw_put(w, 0, w->n == 0 ? 16 : 16 - w->n);
	for (int i = 0; i < 12; i++)
		bw_byte(w, i % 4 == 0 ? 1 : 0); /* R0 = R1 = R2 = 1 */
	for (size_t i = 0; i < n; i++)
		bw_byte(w, p[i]);
	if (n & 1)
		bw_byte(w, 0);
}

static void bw_open(bw_t *w, size_t cap)
{
	memset(w, 0, sizeof(*w));
	w->cap = cap;
	w->p = calloc(1, cap);
	assert_non_null(w->p);
}

static int lzx_run(const bw_t *w, uint32_t wbits, uint32_t reset, uint64_t usize, uint64_t cap, sl_buf_t *out)
{
	rec_t r;
	int rc;

	rec_init(&r, cap);
	av_emit_buf_init(&r.e, out);
	rc = av_lzx(sl_slice_make(w->p, w->len), wbits, reset, usize, &r.e, out);
	return rc;
}

/* ---- LZX ---- */

static void test_lzx_literals_matches(void **state)
{
	bw_t w;
	sl_buf_t out;

	(void)state;
	bw_open(&w, 4096);
	enc_header(&w, 0);
	enc_verbatim_header(&w, 13, 15);
	enc_sym(&w, 'a');
	enc_sym(&w, 'b');
	enc_sym(&w, 'c');
	enc_match(&w, 8, 3);  /* abcabcab */
	enc_match(&w, 2, 0);  /* R0 (3): ca */
	bw_align(&w);
	{
		/* the expected text is what the ops above make */
		const char want[] = "abcabcabcabca";

		assert_int_equal(lzx_run(&w, 15, 0, strlen(want), 1 << 20, &out), 0);
		assert_int_equal(out.len, strlen(want));
		assert_memory_equal(out.data, want, strlen(want));
		sl_buf_free(&out);
	}
	free(w.p);
}

/* Make SIZE bytes of mixed text, every frame a verbatim block (literals
 * and matches) or a stored block, with resets every RESET frames. */
static uint8_t *lzx_make(size_t size, uint32_t reset, bool stored_odd, bw_t *w)
{
	uint8_t *want = malloc(size);
	size_t done = 0;
	uint32_t frame = 0;

	assert_non_null(want);
	for (size_t i = 0; i < size; i++)
		want[i] = (uint8_t)("Sluice LZX test. "[i % 17] ^ (i / 5000));
	bw_open(w, size * 2 + 4096);
	while (done < size) {
		size_t n = size - done < 32768 ? size - done : 32768;

		if (reset == 0 ? frame == 0 : frame % reset == 0)
			enc_header(w, 0);
		if (stored_odd && frame % 2 == 1) {
			/* a stored block of the frame, split in an odd part and the rest */
			size_t a = n > 1001 ? 1001 : n;

			enc_stored(w, want + done, a);
			if (n > a)
				enc_stored(w, want + done + a, n - a);
		} else {
			size_t i = 0;

			enc_verbatim_header(w, (uint32_t)n, 15);
			while (i < n) {
				/* a 6-byte match at distance 17 when the text repeats and
				 * the data so far (since the reset) allows */
				size_t since_reset = reset ? done % (32768u * reset) : done;

				if (i + 6 <= n && since_reset + i >= 17 && memcmp(want + done + i, want + done + i - 17, 6) == 0) {
					enc_match(w, 6, 17);
					i += 6;
				} else {
					enc_sym(w, want[done + i]);
					i++;
				}
			}
		}
		bw_align(w);
		done += n;
		frame++;
	}
	return want;
}

static void test_lzx_frames(void **state)
{
	static const struct {
		size_t size;
		uint32_t reset;
		bool stored;
	} v[] = {{100, 0, false}, {32768, 0, false}, {100000, 0, false}, {100000, 1, false},
		 {200000, 2, true}, {70001, 0, true}};

	(void)state;
	for (size_t k = 0; k < sizeof(v) / sizeof(v[0]); k++) {
		bw_t w;
		uint8_t *want = lzx_make(v[k].size, v[k].reset, v[k].stored, &w);
		sl_buf_t out;

		assert_int_equal(lzx_run(&w, 15, v[k].reset, v[k].size, 1 << 22, &out), 0);
		assert_int_equal(out.len, v[k].size);
		assert_memory_equal(out.data, want, v[k].size);
		sl_buf_free(&out);
		/* asking for less stops on time; the cap is the LIMITS verdict */
		assert_int_equal(lzx_run(&w, 15, v[k].reset, v[k].size / 2, 1 << 22, &out), 0);
		assert_int_equal(out.len, v[k].size / 2);
		sl_buf_free(&out);
		if (v[k].size > 1000) {
			assert_int_equal(lzx_run(&w, 15, v[k].reset, v[k].size, 1000, &out), 1);
			assert_true(out.len <= 1000);
			sl_buf_free(&out);
		}
		free(w.p);
		free(want);
	}
}

static void test_lzx_aligned(void **state)
{
	/* literals, then matches at distances whose slots have 1, 3, 5 and
	 * 10 extra bits, and a repeat of R0 */
	uint8_t want[3000];
	bw_t w;
	sl_buf_t out;
	size_t n = 0;
	static const uint32_t dist[] = {3, 17, 100, 1000, 2500};

	(void)state;
	for (int i = 0; i < 2600; i++)
		want[n++] = (uint8_t)(i * 37 + (i >> 7));
	bw_open(&w, 16384);
	enc_header(&w, 0);
	enc_aligned_header(&w, (uint32_t)(2600 + 5 * 8 + 8), 15);
	for (size_t i = 0; i < 2600; i++)
		enc_sym(&w, want[i]);
	for (size_t k = 0; k < 5; k++) {
		enc_match_aligned(&w, 8, dist[k]);
		for (int j = 0; j < 8; j++, n++)
			want[n] = want[n - dist[k]];
	}
	enc_match(&w, 8, 0); /* R0: the last distance */
	for (int j = 0; j < 8; j++, n++)
		want[n] = want[n - 2500];
	bw_align(&w);
	assert_int_equal(lzx_run(&w, 15, 0, n, 1 << 20, &out), 0);
	assert_int_equal(out.len, n);
	assert_memory_equal(out.data, want, n);
	sl_buf_free(&out);
	free(w.p);
}

static void test_lzx_e8(void **state)
{
	/* E8 followed by an absolute target: the decoder turns it back into
	 * the relative one (target - position of the E8 byte) */
	uint8_t plain[64] = {0}, want[64];
	bw_t w;
	sl_buf_t out;
	uint32_t abs_target = 0x1000;

	(void)state;
	for (int i = 0; i < 64; i++)
		plain[i] = (uint8_t)(0x90);
	plain[20] = 0xe8;
	plain[21] = (uint8_t)abs_target;
	plain[22] = (uint8_t)(abs_target >> 8);
	plain[23] = 0;
	plain[24] = 0;
	memcpy(want, plain, 64);
	{
		uint32_t rel = abs_target - 20;

		want[21] = (uint8_t)rel;
		want[22] = (uint8_t)(rel >> 8);
		want[23] = (uint8_t)(rel >> 16);
		want[24] = (uint8_t)(rel >> 24);
	}
	bw_open(&w, 4096);
	enc_header(&w, 12000000);
	enc_literals(&w, plain, 64, 15, 0);
	bw_align(&w);
	assert_int_equal(lzx_run(&w, 15, 0, 64, 1 << 20, &out), 0);
	assert_int_equal(out.len, 64);
	assert_memory_equal(out.data, want, 64);
	sl_buf_free(&out);
	free(w.p);
}

static void test_lzx_hostile(void **state)
{
	bw_t w;
	uint8_t *want = lzx_make(70001, 0, true, &w);
	sl_buf_t out;
	uint64_t seed = 0x9e3779b97f4a7c15ull;

	(void)state;
	/* every truncation (stepping 7): no crash, no more than asked */
	for (size_t cut = 0; cut < w.len; cut += (cut < 400 ? 1 : 7)) {
		rec_t r;
		int rc;

		rec_init(&r, 1 << 20);
		av_emit_buf_init(&r.e, &out);
		rc = av_lzx(sl_slice_make(w.p, cut), 15, 0, 70001, &r.e, &out);
		assert_true(rc == 0 || rc == SL_EINVAL);
		assert_true(out.len <= 70001);
		if (rc == 0 && out.len == 70001 && cut + 4 < w.len)
			fail_msg("a stream cut at %zu of %zu decoded whole", cut, w.len);
		if (out.len > 0)
			assert_memory_equal(out.data, want, out.len);
		sl_buf_free(&out);
	}
	/* random corruption */
	for (int k = 0; k < 3000; k++) {
		uint8_t *c = malloc(w.len);
		rec_t r;
		int rc;

		memcpy(c, w.p, w.len);
		for (int j = 0; j < 1 + k % 8; j++) {
			seed = seed * 6364136223846793005ull + 1442695040888963407ull;
			c[(seed >> 33) % w.len] ^= (uint8_t)(1u << ((seed >> 20) & 7));
		}
		rec_init(&r, 1 << 20);
		av_emit_buf_init(&r.e, &out);
		rc = av_lzx(sl_slice_make(c, w.len), 15 + (uint32_t)(k % 7), (uint32_t)(k % 3), 70001, &r.e, &out);
		assert_true(rc == 0 || rc == SL_EINVAL || rc == 1);
		assert_true(out.len <= 70001);
		sl_buf_free(&out);
		free(c);
	}
	/* a window size out of range; a match before the start */
	{
		rec_t r;
		bw_t m;

		rec_init(&r, 1 << 20);
		av_emit_buf_init(&r.e, &out);
		assert_int_equal(av_lzx(sl_slice_make(w.p, w.len), 14, 0, 10, &r.e, &out), SL_EINVAL);
		assert_int_equal(av_lzx(sl_slice_make(w.p, w.len), 22, 0, 10, &r.e, &out), SL_EINVAL);
		bw_open(&m, 1024);
		enc_header(&m, 0);
		enc_verbatim_header(&m, 10, 15);
		enc_sym(&m, 'x');
		enc_match(&m, 5, 4); /* distance 4 with 1 byte written */
		bw_align(&m);
		assert_int_equal(av_lzx(sl_slice_make(m.p, m.len), 15, 0, 10, &r.e, &out), SL_EINVAL);
		assert_int_equal(out.len, 1); /* the literal before it */
		free(m.p);
		/* a block length of 2^24-1 with 100 bytes of input: truncated */
		bw_open(&m, 4096);
		enc_header(&m, 0);
		enc_verbatim_header(&m, 0xffffff, 15);
		for (int i = 0; i < 100; i++)
			enc_sym(&m, 'y');
		bw_align(&m);
		sl_buf_reset(&out);
		assert_int_equal(av_lzx(sl_slice_make(m.p, m.len), 15, 0, 1u << 30, &r.e, &out), SL_EINVAL);
		/* the padding may read as one more literal (code 0 is 8 bits) */
		assert_true(out.len >= 100 && out.len <= 101);
		assert_memory_equal(out.data, "yyyyyyyyyy", 10);
		free(m.p);
		/* an invalid block type */
		bw_open(&m, 64);
		enc_header(&m, 0);
		bw_put(&m, 5, 3);
		bw_put(&m, 0, 24);
		bw_align(&m);
		sl_buf_reset(&out);
		assert_int_equal(av_lzx(sl_slice_make(m.p, m.len), 15, 0, 100, &r.e, &out), SL_EINVAL);
		free(m.p);
		sl_buf_free(&out);
	}
	free(w.p);
	free(want);
}

/* ---- CHM ---- */

static size_t put_encint(uint8_t *p, uint64_t v)
{
	uint8_t tmp[10];
	size_t n = 0;

	do {
		tmp[n++] = (uint8_t)(v & 0x7f);
		v >>= 7;
	} while (v != 0);
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(tmp[n - 1 - i] | (i + 1 < n ? 0x80 : 0));
	return n;
}

static void put64(uint8_t *p, uint64_t v)
{
	cfb_put32(p, (uint32_t)v);
	cfb_put32(p + 4, (uint32_t)(v >> 32));
}

typedef struct chm_file {
	const char *name;
	uint32_t sect;
	uint64_t off, len;
} chm_file_t;

#define CHUNK 4096u

/* ITSF v3 + ITSP + one PMGL chunk listing F, then section 0 (SEC0). */
static uint8_t *chm_build(const chm_file_t *f, size_t n, const uint8_t *sec0, size_t sec0_len, size_t *len_r)
{
	size_t dir_off = 0x60, dir_len = 0x54 + CHUNK, content = dir_off + dir_len;
	uint8_t *c = calloc(1, content + sec0_len);
	uint8_t *s, *ch, *p;

	assert_non_null(c);
	memcpy(c, "ITSF", 4);
	cfb_put32(c + 4, 3);
	cfb_put32(c + 8, 0x60);
	cfb_put32(c + 12, 1);
	put64(c + 0x48, dir_off);
	put64(c + 0x50, dir_len);
	put64(c + 0x58, content);
	s = c + dir_off;
	memcpy(s, "ITSP", 4);
	cfb_put32(s + 4, 1);
	cfb_put32(s + 8, 0x54);
	cfb_put32(s + 0x10, CHUNK);
	cfb_put32(s + 0x2c, 1);
	ch = s + 0x54;
	memcpy(ch, "PMGL", 4);
	p = ch + 0x14;
	for (size_t i = 0; i < n; i++) {
		size_t nl = strlen(f[i].name);

		p += put_encint(p, nl);
		memcpy(p, f[i].name, nl);
		p += nl;
		p += put_encint(p, f[i].sect);
		p += put_encint(p, f[i].off);
		p += put_encint(p, f[i].len);
		assert_true(p < ch + CHUNK);
	}
	cfb_put32(ch + 4, (uint32_t)(ch + CHUNK - p)); /* free space */
	memcpy(c + content, sec0, sec0_len);
	*len_r = content + sec0_len;
	return c;
}

/* A CHM whose section 1 is SECT1 (SIZE bytes, LZX made by lzx_make) holding
 * "/a.txt" (the first 100 bytes), "/eicar.com" and "/big.bin" (the rest),
 * plus "/plain.txt" stored in section 0. */
static uint8_t *chm_sample(size_t *len_r, uint8_t **sect1_r, size_t *sect1_len_r, uint32_t reset_frames)
{
	bw_t w;
	size_t size = 100 + EICAR_LEN + 60000, len;
	uint8_t *want = lzx_make(size, reset_frames, true, &w), *sec0, *c;
	uint8_t ctl[28] = {0};
	const char plain[] = "plain stored text";
	size_t s0len;

	/* lzx_make made its own text: put EICAR where the second file is */
	free(w.p);
	free(want);
	want = malloc(size);
	assert_non_null(want);
	for (size_t i = 0; i < size; i++)
		want[i] = (uint8_t)"0123456789abcdef"[(i * 7) % 16];
	memcpy(want + 100, eicar, EICAR_LEN);
	bw_open(&w, size * 2 + 4096);
	for (size_t done = 0, frame = 0; done < size; frame++) {
		size_t n = size - done < 32768 ? size - done : 32768;

		if (frame % reset_frames == 0)
			enc_header(&w, 0);
		enc_literals(&w, want + done, n, 15, done);
		bw_align(&w);
		done += n;
	}
	s0len = sizeof(ctl) + w.len + sizeof(plain) - 1;
	cfb_put32(ctl, 6);
	memcpy(ctl + 4, "LZXC", 4);
	cfb_put32(ctl + 8, 2);
	cfb_put32(ctl + 12, reset_frames); /* in frames */
	cfb_put32(ctl + 16, 1);            /* window 32 KiB */
	cfb_put32(ctl + 20, reset_frames);
	sec0 = malloc(s0len);
	assert_non_null(sec0);
	memcpy(sec0, ctl, sizeof(ctl));
	memcpy(sec0 + sizeof(ctl), w.p, w.len);
	memcpy(sec0 + sizeof(ctl) + w.len, plain, sizeof(plain) - 1);
	{
		const chm_file_t f[] = {
			{"/", 0, 0, 0},
			{"/a.txt", 1, 0, 100},
			{"/eicar.com", 1, 100, EICAR_LEN},
			{"/big.bin", 1, 100 + EICAR_LEN, 60000},
			{"/plain.txt", 0, sizeof(ctl) + w.len, sizeof(plain) - 1},
			{"::DataSpace/Storage/MSCompressed/ControlData", 0, 0, sizeof(ctl)},
			{"::DataSpace/Storage/MSCompressed/Content", 0, sizeof(ctl), w.len},
		};

		c = chm_build(f, sizeof(f) / sizeof(f[0]), sec0, s0len, &len);
	}
	free(sec0);
	free(w.p);
	*len_r = len;
	*sect1_r = want;
	*sect1_len_r = size;
	return c;
}

static void test_chm_members(void **state)
{
	size_t len, slen;
	uint8_t *want;
	uint8_t *c = chm_sample(&len, &want, &slen, 1);
	const char *what = NULL;
	rec_t r;

	(void)state;
	assert_true(av_container_find(sl_slice_make(c, len), &what) == av_dec_chm);
	assert_string_equal(what, "chm");
	rec_init(&r, 1 << 20);
	assert_int_equal(av_dec_chm(sl_slice_make(c, len), "help.chm", &r.e), 0);
	assert_int_equal(r.e.broken, 0);
	assert_int_equal(r.n, 4);
	rec_expect(&r, 0, "a.txt", want, 100);
	rec_expect(&r, 1, "eicar.com", eicar, EICAR_LEN);
	rec_expect(&r, 2, "big.bin", want + 100 + EICAR_LEN, 60000);
	rec_expect(&r, 3, "plain.txt", "plain stored text", 17);
	rec_free(&r);
	drv_eicar_at(c, len, "help.chm", "help.chm/eicar.com"); /* the policy blocks .chm itself */
	/* a cap below section 1: the files that fit, then the LIMITS verdict */
	drv_cap(av_dec_chm, c, len, "help.chm", 30000, 2);
	free(c);
	free(want);
}

static void test_chm_hostile(void **state)
{
	size_t len, slen;
	uint8_t *want;
	uint8_t *c = chm_sample(&len, &want, &slen, 2);
	uint64_t seed = 12345;
	rec_t r;

	(void)state;
	/* every truncation: what is whole is still found, nothing crashes */
	for (size_t cut = 0; cut < len; cut += (cut < 2000 ? 1 : 97)) {
		rec_init(&r, 1 << 20);
		assert_true(av_dec_chm(sl_slice_make(c, cut), "t.chm", &r.e) >= 0);
		if (cut < len - 20)
			assert_true(r.e.broken > 0 || r.n < 4);
		rec_free(&r);
	}
	/* random corruption */
	for (int k = 0; k < 2000; k++) {
		uint8_t *m = malloc(len);

		memcpy(m, c, len);
		for (int j = 0; j < 1 + k % 6; j++) {
			seed = seed * 6364136223846793005ull + 1442695040888963407ull;
			/* mostly the headers and the directory */
			m[(seed >> 33) % (k % 2 ? 0x60 + 0x54 + 400 : len)] ^= (uint8_t)(1u << ((seed >> 20) & 7));
		}
		rec_init(&r, 1 << 20);
		assert_true(av_dec_chm(sl_slice_make(m, len), "t.chm", &r.e) >= 0);
		rec_free(&r);
		free(m);
	}
	/* hostile fields */
	{
		static const struct {
			size_t at;
			uint32_t v;
		} bad[] = {
			{0x48, 0xfffffff0u},     /* directory offset past the end */
			{0x50, 0xfffffff0u},     /* directory length past the end */
			{0x58, 0xfffffff0u},     /* content offset past the end */
			{0x60 + 0x10, 0},        /* chunk size 0 */
			{0x60 + 0x10, 0xffffffffu}, /* chunk size 4 GiB */
			{0x60 + 0x2c, 0xffffffffu}, /* 4 Gi chunks */
			{0x60 + 0x54 + 4, 0xffffffffu}, /* free space larger than the chunk */
		};

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			uint8_t *m = malloc(len);

			memcpy(m, c, len);
			cfb_put32(m + bad[i].at, bad[i].v);
			rec_init(&r, 1 << 20);
			assert_int_equal(av_dec_chm(sl_slice_make(m, len), "t.chm", &r.e), 0);
			assert_true(r.e.broken > 0);
			rec_free(&r);
			free(m);
		}
	}
	/* a file claiming 2^62 bytes at 2^62 in section 1, and an ENCINT of
	 * ten continuation bytes */
	{
		uint8_t sec0[28] = {0};
		const chm_file_t f[] = {
			{"/huge", 1, 1ull << 62, 1ull << 62},
			{"::DataSpace/Storage/MSCompressed/ControlData", 0, 0, 28},
			{"::DataSpace/Storage/MSCompressed/Content", 0, 0, 28},
		};
		size_t n;
		uint8_t *m;

		cfb_put32(sec0, 6);
		memcpy(sec0 + 4, "LZXC", 4);
		cfb_put32(sec0 + 8, 2);
		cfb_put32(sec0 + 12, 1);
		cfb_put32(sec0 + 16, 1);
		m = chm_build(f, 3, sec0, sizeof(sec0), &n);
		rec_init(&r, 1 << 20);
		/* the stream is not LZX: broken, and no member claims 2^62 bytes */
		assert_int_equal(av_dec_chm(sl_slice_make(m, n), "t.chm", &r.e), 0);
		assert_true(r.e.broken > 0);
		assert_int_equal(r.n, 0);
		rec_free(&r);
		memset(m + 0x60 + 0x54 + 0x14, 0xff, 10);
		rec_init(&r, 1 << 20);
		assert_true(av_dec_chm(sl_slice_make(m, n), "t.chm", &r.e) >= 0);
		assert_true(r.e.broken > 0);
		rec_free(&r);
		free(m);
	}
	free(c);
	free(want);
}

static void test_sample(void **state)
{
	size_t len;
	uint8_t *p = sample("clam.chm", &len);
	scan_fx_t f;
	rec_t r;

	(void)state;
	if (p == NULL)
		return;
	rec_init(&r, 1 << 20);
	assert_int_equal(av_dec_chm(sl_slice_make(p, len), "clam.chm", &r.e), 0);
	assert_int_equal(r.e.broken, 0);
	for (uint32_t i = 0; i < r.n && i < REC_MAX; i++)
		if (strcmp(r.name[i], "clam.exe.txt") == 0) {
			assert_int_equal(r.len[i], 544);
			assert_memory_equal(r.data[i], "MZ", 2);
		}
	rec_free(&r);
	scan_fx_open_pol(&f, NULL, 0);
	expect_verdict(scan_fx_run(&f, "clam.chm", p, len), FLT_AV_INFECTED, "Sluice.Test.ClamExe.Body",
		       "clam.chm/clam.exe.txt");
	scan_fx_close(&f);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lzx_literals_matches),
		cmocka_unit_test(test_lzx_frames),
		cmocka_unit_test(test_lzx_aligned),
		cmocka_unit_test(test_lzx_e8),
		cmocka_unit_test(test_lzx_hostile),
		cmocka_unit_test(test_chm_members),
		cmocka_unit_test(test_chm_hostile),
		cmocka_unit_test(test_sample),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
