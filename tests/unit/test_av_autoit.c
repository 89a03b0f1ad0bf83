/* test_av_autoit - compiled AutoIt v3 scripts (flt_av_autoit.c).
 *
 * EA05 and EA06 containers are built here behind a minimal PE: the key
 * streams are written again for the test (MT19937 in its textbook form,
 * the RanRot generator), entries are encrypted with them, and data is
 * packed with a small LZSS encoder (literals, matches of every length
 * class: 3..5, 6..12, 13..43, 44..298 and the 255-runs beyond). Then:
 * members byte for byte, EICAR through flt_av_scan, a NO CMDEXECUTE
 * marker entry, the cap, every truncation, random corruption, hostile
 * lengths, and clam.ea05.exe / clam.ea06.exe from clamav-testfiles. */
#include "test_av_dec.h"
#include "test_av_drive.h"

/* ---- key streams, written independently of the decoder ---- */

static uint32_t mt[624];
static int mti;

static void mt_init(uint32_t s)
{
	mt[0] = s;
	for (mti = 1; mti < 624; mti++)
		mt[mti] = 1812433253u * (mt[mti - 1] ^ (mt[mti - 1] >> 30)) + (uint32_t)mti;
}

static uint32_t mt_next(void)
{
	static const uint32_t mag[2] = {0, 0x9908b0dfu};
	uint32_t y;

	if (mti >= 624) {
		int k;

		for (k = 0; k < 624 - 397; k++) {
			y = (mt[k] & 0x80000000u) | (mt[k + 1] & 0x7fffffffu);
			mt[k] = mt[k + 397] ^ (y >> 1) ^ mag[y & 1];
		}
		for (; k < 623; k++) {
			y = (mt[k] & 0x80000000u) | (mt[k + 1] & 0x7fffffffu);
			mt[k] = mt[k + (397 - 624)] ^ (y >> 1) ^ mag[y & 1];
		}
		y = (mt[623] & 0x80000000u) | (mt[0] & 0x7fffffffu);
		mt[623] = mt[396] ^ (y >> 1) ^ mag[y & 1];
		mti = 0;
	}
	y = mt[mti++];
	y ^= (y >> 11);
	y ^= (y << 7) & 0x9d2c5680u;
	y ^= (y << 15) & 0xefc60000u;
	y ^= (y >> 18);
	return y;
}

static uint32_t rr[17];
static int rr0, rr1;

static uint32_t rr_next(void)
{
	uint32_t a = rr[rr0], b = rr[rr1];
	uint32_t v = ((a << 9) | (a >> 23)) + ((b << 13) | (b >> 19));

	rr[rr0] = v;
	rr0 = (rr0 + 16) % 17;
	rr1 = (rr1 + 16) % 17;
	return v;
}

static void rr_init(uint32_t s)
{
	for (int i = 0; i < 17; i++) {
		s = 1u - s * 0x53a9b4fbu;
		rr[i] = s;
	}
	rr0 = 0;
	rr1 = 10;
	for (int i = 0; i < 9; i++)
		rr_next();
}

static void au_crypt(uint8_t *p, size_t n, bool ea06, uint32_t seed)
{
	if (ea06)
		rr_init(seed);
	else
		mt_init(seed);
	for (size_t i = 0; i < n; i++) {
		if (ea06) {
			rr_next();
			p[i] ^= (uint8_t)(rr_next() >> 24);
		} else {
			p[i] ^= (uint8_t)(mt_next() >> 1);
		}
	}
}

/* ---- LZSS ---- */

typedef struct bits {
	uint8_t *p;
	size_t n; /* bits written */
} bits_t;

static void put(bits_t *b, uint32_t v, uint32_t k)
{
	for (int i = (int)k - 1; i >= 0; i--, b->n++)
		if ((v >> i) & 1)
			b->p[b->n >> 3] |= (uint8_t)(0x80 >> (b->n & 7));
}

static void put_len(bits_t *b, uint32_t len)
{
	uint32_t l = len - 3;

	if (l < 3) {
		put(b, l, 2);
		return;
	}
	put(b, 3, 2);
	if (l - 3 < 7) {
		put(b, l - 3, 3);
		return;
	}
	put(b, 7, 3);
	if (l - 10 < 31) {
		put(b, l - 10, 5);
		return;
	}
	put(b, 31, 5);
	if (l - 41 < 255) {
		put(b, l - 41, 8);
		return;
	}
	put(b, 255, 8);
	l -= 296;
	while (l >= 255) {
		put(b, 255, 8);
		l -= 255;
	}
	put(b, l, 8);
}

/* "EA0x", size, bits: greedy matches against the last 4096 bytes. */
static uint8_t *lzss(const uint8_t *p, size_t n, bool ea06, size_t *len_r)
{
	uint8_t *o = calloc(1, 8 + n * 2 + 16);
	bits_t b = {o + 8, 0};

	assert_non_null(o);
	memcpy(o, ea06 ? "EA06" : "EA05", 4);
	o[4] = (uint8_t)(n >> 24), o[5] = (uint8_t)(n >> 16), o[6] = (uint8_t)(n >> 8), o[7] = (uint8_t)n;
	for (size_t i = 0; i < n;) {
		size_t best = 0, dist = 0;

		for (size_t d = 1; d <= i && d <= 4096; d++) {
			size_t l = 0;

			while (i + l < n && l < 2000 && p[i + l] == p[i + l - d])
				l++;
			if (l > best)
				best = l, dist = d;
		}
		if (best >= 3) {
			put(&b, ea06 ? 0 : 1, 1);
			put(&b, (uint32_t)dist, 15);
			put_len(&b, (uint32_t)best);
			i += best;
		} else {
			put(&b, ea06 ? 1 : 0, 1);
			put(&b, p[i], 8);
			i++;
		}
	}
	*len_r = 8 + (b.n + 7) / 8;
	return o;
}

/* ---- containers ---- */

typedef struct au_in {
	const char *name;
	const uint8_t *data;
	size_t len;
	bool comp;
	bool packed; /* DATA is already an LZSS stream */
} au_in_t;

typedef struct kset {
	uint32_t file, name_len, name, path_len, path, size, crc, data;
} kset_t;

static const kset_t k05 = {0x16fa, 0x29bc, 0xa25e, 0x29ac, 0xf25e, 0x45aa, 0xc3d2, 0x22af};
static const kset_t k06 = {0x18ee, 0xadbc, 0xb33f, 0xf820, 0xf479, 0x87bc, 0xa685, 0x2477};

static void put32(uint8_t *p, uint32_t v)
{
	cfb_put32(p, v);
}

/* a string as stored: bytes (EA05) or UTF-16LE (EA06), encrypted */
static size_t put_str(uint8_t *o, const char *s, bool ea06, uint32_t klen, uint32_t kstr)
{
	uint32_t n = (uint32_t)strlen(s);
	size_t bytes = ea06 ? 2u * n : n;

	put32(o, n ^ klen);
	for (uint32_t i = 0; i < n; i++) {
		if (ea06)
			o[4 + 2 * i] = (uint8_t)s[i], o[5 + 2 * i] = 0;
		else
			o[4 + i] = (uint8_t)s[i];
	}
	au_crypt(o + 4, bytes, ea06, kstr + n);
	return 4 + bytes;
}

static uint8_t *au3_build(const au_in_t *f, size_t n, bool ea06, bool nocmd, size_t *len_r)
{
	const kset_t *k = ea06 ? &k06 : &k05;
	size_t cap = 0x400 + 256, at;
	uint8_t *o;
	uint32_t sum = 0;

	for (size_t i = 0; i < n; i++)
		cap += f[i].len * 2 + 256 + 2 * strlen(f[i].name) * 2;
	o = calloc(1, cap);
	assert_non_null(o);
	o[0] = 'M', o[1] = 'Z', o[0x3c] = 0x40;
	memcpy(o + 0x40, "PE\0\0", 4);
	at = 0x200;
	memcpy(o + at, "\xa3\x48\x4b\xbe\x98\x6c\x4a\xa9\x99\x4c\x53\x0a\x86\xd6\x48\x7d" "AU3!", 20);
	memcpy(o + at + 20, ea06 ? "EA06" : "EA05", 4);
	at += 24;
	for (int i = 0; i < 16; i++) {
		o[at + i] = (uint8_t)(0x31 * i + 7);
		sum += o[at + i];
	}
	at += 16;
	if (nocmd) {
		memcpy(o + at, "FILE", 4);
		au_crypt(o + at, 4, ea06, k->file);
		at += 4;
		at += put_str(o + at, ">>>AUTOIT NO CMDEXECUTE<<<", ea06, k->name_len, k->name);
		at += put_str(o + at, "", ea06, k->path_len, k->path);
		o[at++] = 0;
		put32(o + at, 5 ^ k->size);
		at += 4 + 5 + 0x18;
	}
	for (size_t i = 0; i < n; i++) {
		uint8_t *data;
		size_t dl;

		memcpy(o + at, "FILE", 4);
		au_crypt(o + at, 4, ea06, k->file);
		at += 4;
		at += put_str(o + at, f[i].name, ea06, k->name_len, k->name);
		at += put_str(o + at, "C:\\src\\x", ea06, k->path_len, k->path);
		o[at++] = f[i].comp;
		if (f[i].comp && !f[i].packed) {
			data = lzss(f[i].data, f[i].len, ea06, &dl);
		} else {
			data = malloc(f[i].len + 1);
			memcpy(data, f[i].data, f[i].len);
			dl = f[i].len;
		}
		put32(o + at, (uint32_t)dl ^ k->size);
		put32(o + at + 4, (uint32_t)f[i].len ^ k->size);
		put32(o + at + 8, 0x12345678u ^ k->crc);
		at += 12 + 16;
		au_crypt(data, dl, ea06, ea06 ? k->data : sum + k->data);
		memcpy(o + at, data, dl);
		at += dl;
		free(data);
	}
	*len_r = at;
	return o;
}

static uint8_t *text_of(size_t n)
{
	uint8_t *t = malloc(n);

	assert_non_null(t);
	for (size_t i = 0; i < n; i++)
		t[i] = (uint8_t)"MsgBox(0, \"AutoIt\", \"test\")\r\n"[i % 30];
	/* runs of every match length class */
	for (size_t i = 3000; i < n && i < 3000 + 1500; i++)
		t[i] = 'z';
	return t;
}

static void check(bool ea06)
{
	uint8_t *t = text_of(6000);
	const au_in_t f[] = {
		{">>>AUTOIT SCRIPT<<<", t, 6000, true, false},
		{"C:\\tools\\eicar.com", (const uint8_t *)eicar, EICAR_LEN, false, false},
		{"C:\\data\\raw.bin", t, 500, false, false},
	};
	size_t len;
	uint8_t *o = au3_build(f, 3, ea06, true, &len);
	rec_t r;

	rec_init(&r, 1 << 20);
	assert_int_equal(av_dec_autoit(sl_slice_make(o, len), "x.exe", &r.e), 0);
	assert_int_equal(r.e.broken, 0);
	assert_int_equal(r.n, 3);
	rec_expect(&r, 0, "script.au3", t, 6000);
	rec_expect(&r, 1, "eicar.com", eicar, EICAR_LEN);
	rec_expect(&r, 2, "raw.bin", t, 500);
	rec_free(&r);
	drv_eicar_at(o, len, "x.exe", "x.exe/eicar.com");
	/* a cap below the script's size */
	drv_cap(av_dec_autoit, o, len, "x.exe", 5000, 0);
	/* every truncation: no crash; cut inside the entries is broken */
	for (size_t cut = 0; cut < len; cut++) {
		rec_init(&r, 1 << 20);
		assert_true(av_dec_autoit(sl_slice_make(o, cut), "x.exe", &r.e) >= 0);
		if (cut > 0x200 + 40 + 4 && cut < len)
			assert_true(r.e.broken > 0 || r.n < 3);
		rec_free(&r);
	}
	/* random corruption of the entries */
	{
		uint64_t seed = ea06 ? 99 : 98;
		uint8_t *m = malloc(len);

		for (int k = 0; k < 1500; k++) {
			memcpy(m, o, len);
			for (int j = 0; j < 1 + k % 5; j++) {
				seed = seed * 6364136223846793005ull + 1442695040888963407ull;
				m[0x200 + (seed >> 33) % (len - 0x200)] ^= (uint8_t)(1u << ((seed >> 20) & 7));
			}
			rec_init(&r, 1 << 20);
			assert_true(av_dec_autoit(sl_slice_make(m, len), "x.exe", &r.e) >= 0);
			rec_free(&r);
		}
		free(m);
	}
	free(o);
	free(t);
}

static void test_ea05(void **state)
{
	(void)state;
	check(false);
}

static void test_ea06(void **state)
{
	(void)state;
	check(true);
}

static void test_hostile(void **state)
{
	uint8_t *t = text_of(100);
	rec_t r;

	(void)state;
	for (int ea06 = 0; ea06 < 2; ea06++) {
		const kset_t *k = ea06 ? &k06 : &k05;
		const au_in_t f[] = {{"a.txt", t, 100, true, false}};
		size_t len, first = 0x200 + 40 + 4;
		uint8_t *o = au3_build(f, 1, ea06, false, &len), *m = malloc(len + 64);

		/* a name length of 2^31, a packed size of 4 GiB */
		memcpy(m, o, len);
		put32(m + first, 0x80000000u ^ k->name_len);
		rec_init(&r, 1 << 20);
		assert_int_equal(av_dec_autoit(sl_slice_make(m, len), "x.exe", &r.e), 0);
		assert_true(r.e.broken > 0);
		assert_int_equal(r.n, 0);
		rec_free(&r);
		{
			size_t nb = ea06 ? 10 : 5, pb = ea06 ? 16 : 8, sz = first + 4 + nb + 4 + pb + 1;

			memcpy(m, o, len);
			put32(m + sz, 0xffffffffu ^ k->size);
			rec_init(&r, 1 << 20);
			assert_int_equal(av_dec_autoit(sl_slice_make(m, len), "x.exe", &r.e), 0);
			assert_true(r.e.broken > 0);
			rec_free(&r);
		}
		free(m);
		free(o);
	}
	/* LZSS: a distance before the start, a size of 4 GiB, a length made
	 * of 255s to the input's end */
	for (int ea06 = 0; ea06 < 2; ea06++) {
		for (int kind = 0; kind < 3; kind++) {
			uint8_t bad[600] = {0};
			bits_t b = {bad + 8, 0};
			size_t len, blen;
			uint8_t *o;

			memcpy(bad, ea06 ? "EA06" : "EA05", 4);
			bad[6] = 0x10; /* 4096 bytes */
			put(&b, ea06 ? 1 : 0, 1);
			put(&b, 'x', 8);
			if (kind == 0) {
				put(&b, ea06 ? 0 : 1, 1);
				put(&b, 5, 15); /* distance 5 with 1 byte out */
				put(&b, 0, 2);
			} else if (kind == 1) {
				memset(bad + 4, 0xff, 4);
			} else {
				put(&b, ea06 ? 0 : 1, 1);
				put(&b, 1, 15);
				put(&b, 3, 2), put(&b, 7, 3), put(&b, 31, 5);
				while (b.n + 8 <= (sizeof(bad) - 8) * 8)
					put(&b, 255, 8);
			}
			blen = kind == 2 ? sizeof(bad) : 8 + (b.n + 7) / 8;
			{
				const au_in_t g[] = {{"b.bin", bad, blen, true, true}};

				o = au3_build(g, 1, ea06, false, &len);
			}
			rec_init(&r, 1 << 20);
			if (kind == 1) {
				assert_int_equal(av_dec_autoit(sl_slice_make(o, len), "x.exe", &r.e), 1);
				assert_int_equal(r.n, 0);
			} else if (kind == 2) {
				/* the length stops counting at the output size: one match
				 * fills the rest, without reading the whole run */
				assert_int_equal(av_dec_autoit(sl_slice_make(o, len), "x.exe", &r.e), 0);
				assert_int_equal(r.e.broken, 0);
				assert_int_equal(r.n, 1);
				assert_int_equal(r.len[0], 4096);
				assert_true(r.data[0][0] == 'x' && r.data[0][4095] == 'x');
			} else {
				assert_int_equal(av_dec_autoit(sl_slice_make(o, len), "x.exe", &r.e), 0);
				assert_true(r.e.broken > 0);
				assert_int_equal(r.n, 1);
				assert_true(r.len[0] == 1 && r.data[0][0] == 'x');
			}
			rec_free(&r);
			free(o);
		}
	}
	free(t);
}

static void test_samples(void **state)
{
	static const char *const v[] = {"clam.ea05.exe", "clam.ea06.exe"};

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		size_t len;
		uint8_t *p = sample(v[i], &len);
		char where[128];
		scan_fx_t f;
		rec_t r;
		bool found = false;

		if (p == NULL)
			continue;
		rec_init(&r, 1 << 20);
		assert_int_equal(av_dec_autoit(sl_slice_make(p, len), v[i], &r.e), 0);
		assert_int_equal(r.e.broken, 0);
		for (uint32_t j = 0; j < r.n && j < REC_MAX; j++)
			if (strcmp(r.name[j], "clam.exe") == 0 && r.len[j] == 544 && memcmp(r.data[j], "MZ", 2) == 0)
				found = true;
		assert_true(found);
		rec_free(&r);
		scan_fx_open_pol(&f, NULL, 0);
		snprintf(where, sizeof(where), "%s/clam.exe", v[i]);
		expect_verdict(scan_fx_run(&f, v[i], p, len), FLT_AV_INFECTED, "Sluice.Test.ClamExe.Body", where);
		scan_fx_close(&f);
		free(p);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ea05),
		cmocka_unit_test(test_ea06),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_samples),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
