/* test_av_ishield - InstallShield setup overlays (flt_av_ishield.c):
 * "InstallShield" streams with both obfuscation modes (key over the whole
 * file, key restarting every 1024 bytes) and zlib; the plain
 * name/path/version/size layout; an InstallShield cabinet (data1.hdr +
 * data1.cab) with compressed, obfuscated, external and invalid files, all
 * built here behind a minimal PE. Members byte for byte, EICAR through
 * flt_av_scan, every truncation, random corruption, hostile counts and
 * lengths, the cap, and the three clamav-testfiles samples
 * (clam_IScab_int.exe, clam_ISmsi_int.exe, clam_ISmsi_ext.exe). */
#include "test_av_dec.h"
#include "test_av_drive.h"

#define OVL 0x200u

/* MZ, PE header, one section ending at OVL: the overlay starts there. */
static size_t pe_stub(uint8_t *o)
{
	memset(o, 0, OVL);
	o[0] = 'M', o[1] = 'Z';
	o[0x3c] = 0x40;
	memcpy(o + 0x40, "PE\0\0", 4);
	o[0x46] = 1;                 /* one section */
	cfb_put32(o + 0x58 + 16, 0x100); /* raw size */
	cfb_put32(o + 0x58 + 20, 0x100); /* raw pointer */
	return OVL;
}

static uint8_t *zlib_of(const void *p, size_t len, size_t *len_r)
{
	size_t n;
	uint8_t *raw = deflate_raw(p, len, &n), *z = malloc(n + 6);
	uint32_t a = 1, b = 0;

	assert_non_null(z);
	z[0] = 0x78, z[1] = 0x9c;
	memcpy(z + 2, raw, n);
	for (size_t i = 0; i < len; i++) {
		a = (a + ((const uint8_t *)p)[i]) % 65521;
		b = (b + a) % 65521;
	}
	z[n + 2] = (uint8_t)(b >> 8), z[n + 3] = (uint8_t)b, z[n + 4] = (uint8_t)(a >> 8), z[n + 5] = (uint8_t)a;
	free(raw);
	*len_r = n + 6;
	return z;
}

/* the inverse of the decoder's ~(k ^ rol4(x)) */
static void is_obfuscate(uint8_t *p, size_t n, const char *name, bool blocks)
{
	static const uint8_t mix[4] = {0x13, 0x35, 0x86, 0x07};
	size_t kl = strlen(name);

	for (size_t i = 0; i < n; i++) {
		uint8_t k = (uint8_t)name[((blocks ? i % 1024 : i)) % kl] ^ mix[((blocks ? i % 1024 : i) % kl) % 4];
		uint8_t x = (uint8_t)(~p[i] ^ k);

		p[i] = (uint8_t)(x << 4 | x >> 4);
	}
}

typedef struct is_in {
	const char *name;
	uint32_t flags;
	bool zlib;
	const uint8_t *data;
	size_t len;
} is_in_t;

static uint8_t *text_of(size_t n)
{
	uint8_t *t = malloc(n);

	assert_non_null(t);
	for (size_t i = 0; i < n; i++)
		t[i] = (uint8_t)"InstallShield test text, line after line.\n"[i % 42] + (uint8_t)(i / 997 % 3);
	return t;
}

/* A PE whose overlay is an "InstallShield" stream of F. */
static uint8_t *is_stream_build(const is_in_t *f, size_t n, size_t *len_r)
{
	size_t cap = OVL + 46 + 64, at;
	uint8_t *o;

	for (size_t i = 0; i < n; i++)
		cap += 312 + f[i].len * 2 + 64;
	o = calloc(1, cap);
	assert_non_null(o);
	at = pe_stub(o);
	memcpy(o + at, "NB10\0\0\0\0debug.pdb", 17); /* a debug string first, as in real setups */
	at += 32;
	memcpy(o + at, "InstallShield", 14);
	o[at + 14] = (uint8_t)n;
	at += 46;
	for (size_t i = 0; i < n; i++) {
		uint8_t *data;
		size_t len;

		if (f[i].zlib) {
			data = zlib_of(f[i].data, f[i].len, &len);
		} else {
			data = malloc(f[i].len + 1);
			memcpy(data, f[i].data, f[i].len);
			len = f[i].len;
		}
		if (f[i].flags & 6)
			is_obfuscate(data, len, f[i].name, (f[i].flags & 4) != 0);
		memcpy(o + at, f[i].name, strlen(f[i].name));
		cfb_put32(o + at + 260, f[i].flags);
		cfb_put32(o + at + 268, (uint32_t)len);
		o[at + 280] = f[i].zlib;
		at += 312;
		memcpy(o + at, data, len);
		at += len;
		free(data);
	}
	*len_r = at;
	return o;
}

static void test_stream(void **state)
{
	uint8_t *t = text_of(3000);
	const is_in_t f[] = {
		{"readme.txt", 0, false, (const uint8_t *)"plain", 5},
		{"big.txt", 6, true, t, 3000},
		{"eicar.com", 2, false, (const uint8_t *)eicar, EICAR_LEN},
		{"small.bin", 4, false, t, 2500},
	};
	size_t len;
	uint8_t *o = is_stream_build(f, 4, &len);
	rec_t r;

	(void)state;
	rec_init(&r, 1 << 20);
	assert_int_equal(av_dec_ishield(sl_slice_make(o, len), "setup.exe", &r.e), 0);
	assert_int_equal(r.e.broken, 0);
	assert_int_equal(r.n, 4);
	rec_expect(&r, 0, "readme.txt", "plain", 5);
	rec_expect(&r, 1, "big.txt", t, 3000);
	rec_expect(&r, 2, "eicar.com", eicar, EICAR_LEN);
	rec_expect(&r, 3, "small.bin", t, 2500);
	rec_free(&r);
	drv_eicar_at(o, len, "setup.exe", "setup.exe/eicar.com");
	/* the cap: the inflated 3000 bytes pass a 2000-byte cap */
	drv_cap(av_dec_ishield, o, len, "setup.exe", 2000, 1);
	free(o);
	free(t);
}

static void test_stream_hostile(void **state)
{
	uint8_t *t = text_of(3000);
	const is_in_t f[] = {
		{"a.txt", 6, true, t, 3000},
		{"eicar.com", 2, false, (const uint8_t *)eicar, EICAR_LEN},
	};
	size_t len;
	uint8_t *o = is_stream_build(f, 2, &len);
	size_t hdr = OVL + 32;
	uint64_t seed = 77;
	rec_t r;

	(void)state;
	for (size_t cut = 0; cut < len; cut++) {
		rec_init(&r, 1 << 20);
		assert_true(av_dec_ishield(sl_slice_make(o, cut), "t.exe", &r.e) >= 0);
		if (cut >= hdr + 14 && cut < len)
			assert_true(r.e.broken > 0);
		rec_free(&r);
	}
	{
		uint8_t *m = malloc(len);

		/* 65535 files announced, a length of 4 GiB, a name without NUL */
		memcpy(m, o, len);
		m[hdr + 14] = 0xff, m[hdr + 15] = 0xff;
		rec_init(&r, 1 << 20);
		assert_int_equal(av_dec_ishield(sl_slice_make(m, len), "t.exe", &r.e), 0);
		assert_int_equal(r.n, 2);
		assert_true(r.e.broken > 0);
		rec_free(&r);
		memcpy(m, o, len);
		cfb_put32(m + hdr + 46 + 268, 0xffffffffu);
		rec_init(&r, 1 << 20);
		assert_int_equal(av_dec_ishield(sl_slice_make(m, len), "t.exe", &r.e), 0);
		assert_int_equal(r.n, 0);
		assert_true(r.e.broken > 0);
		rec_free(&r);
		memcpy(m, o, len);
		memset(m + hdr + 46, 'x', 260);
		rec_init(&r, 1 << 20);
		assert_int_equal(av_dec_ishield(sl_slice_make(m, len), "t.exe", &r.e), 0);
		assert_int_equal(r.n, 0);
		assert_true(r.e.broken > 0);
		rec_free(&r);
		/* a PE header pointing past the end; 0xffff sections */
		memcpy(m, o, len);
		cfb_put32(m + 0x3c, 0xfffffff0u);
		rec_init(&r, 1 << 20);
		assert_int_equal(av_dec_ishield(sl_slice_make(m, len), "t.exe", &r.e), 0);
		assert_int_equal(r.n, 0);
		rec_free(&r);
		memcpy(m, o, len);
		m[0x46] = 0xff, m[0x47] = 0xff;
		rec_init(&r, 1 << 20);
		assert_true(av_dec_ishield(sl_slice_make(m, len), "t.exe", &r.e) >= 0);
		rec_free(&r);
		for (int k = 0; k < 3000; k++) {
			memcpy(m, o, len);
			for (int j = 0; j < 1 + k % 6; j++) {
				seed = seed * 6364136223846793005ull + 1442695040888963407ull;
				m[OVL + (seed >> 33) % (k % 2 ? 400 : len - OVL)] ^= (uint8_t)(1u << ((seed >> 20) & 7));
			}
			rec_init(&r, 1 << 20);
			assert_true(av_dec_ishield(sl_slice_make(m, len), "t.exe", &r.e) >= 0);
			rec_free(&r);
		}
		free(m);
	}
	free(o);
	free(t);
}

/* ---- the plain layout and an InstallShield cabinet ---- */

typedef struct cab_in {
	const char *name;
	uint16_t flags; /* 1 split, 2 obfuscated, 4 compressed, 8 invalid */
	const uint8_t *data;
	size_t len;
	uint16_t volume;
} cab_in_t;

/* data1.hdr and data1.cab for F (all in volume 1, data from 0x200 of
 * the .cab). Compressed files are chunks of at most 1000 input bytes. */
static void iscab_build(const cab_in_t *f, size_t n, uint8_t **hdr_r, size_t *hdr_len_r, uint8_t **cab_r,
			size_t *cab_len_r)
{
	size_t cab_cap = 0x200 + 64, cab_len = 0x200, names = 0;
	uint8_t *cab, *hdr = calloc(1, 4096);
	const uint32_t cdo = 0x20, fto = 0x40, fto2 = 0x100; /* descriptor, table, descriptor array */

	for (size_t i = 0; i < n; i++)
		cab_cap += f[i].len * 2 + 1024;
	cab = calloc(1, cab_cap);
	assert_non_null(cab);
	assert_non_null(hdr);
	memcpy(cab, "ISc(", 4);
	cfb_put32(cab + 4, 0x01009500u);
	memcpy(hdr, "ISc(", 4);
	cfb_put32(hdr + 4, 0x01009500u);
	cfb_put32(hdr + 12, cdo);
	cfb_put32(hdr + 16, 0x800);
	cfb_put32(hdr + cdo + 0x0c, fto);
	cfb_put32(hdr + cdo + 0x14, 0x700);
	cfb_put32(hdr + cdo + 0x28, (uint32_t)n);
	cfb_put32(hdr + cdo + 0x2c, fto2);
	for (size_t i = 0; i < n; i++) {
		uint8_t *fd = hdr + cdo + fto + fto2 + 0x57 * i;
		size_t start = cab_len;

		assert_true(cdo + fto + fto2 + 0x57 * (i + 1) < 4096);
		fd[0] = (uint8_t)f[i].flags;
		fd[1] = (uint8_t)(f[i].flags >> 8);
		cfb_put32(fd + 2, (uint32_t)f[i].len);
		/* the name, in the table before the descriptors */
		memcpy(hdr + cdo + fto + 8 + names, f[i].name, strlen(f[i].name) + 1);
		cfb_put32(fd + 0x3a, (uint32_t)(8 + names));
		names += strlen(f[i].name) + 1;
		assert_true(8 + names < fto2);
		fd[0x55] = (uint8_t)f[i].volume;
		if (f[i].data == NULL)
			continue; /* outside the cabinet: offset 0 */
		if (f[i].flags & 4) {
			for (size_t k = 0; k < f[i].len; k += 1000) {
				size_t cl, in = f[i].len - k < 1000 ? f[i].len - k : 1000;
				uint8_t *c = deflate_raw(f[i].data + k, in, &cl);

				cab[cab_len] = (uint8_t)cl;
				cab[cab_len + 1] = (uint8_t)(cl >> 8);
				memcpy(cab + cab_len + 2, c, cl);
				cab_len += 2 + cl;
				free(c);
			}
		} else {
			memcpy(cab + cab_len, f[i].data, f[i].len);
			cab_len += f[i].len;
		}
		if (f[i].flags & 2)
			for (size_t k = start; k < cab_len; k++) {
				uint8_t b = (uint8_t)(cab[k] + (k - start) % 0x47);

				b = (uint8_t)(b << 2 | b >> 6);
				cab[k] = b ^ 0xd5;
			}
		cfb_put32(fd + 10, (uint32_t)(cab_len - start));
		cfb_put32(fd + 18, (uint32_t)start);
	}
	*hdr_r = hdr;
	*hdr_len_r = 4096;
	*cab_r = cab;
	*cab_len_r = cab_len;
}

/* A PE whose overlay lists P (names and bytes) in the plain layout. */
static uint8_t *plain_build(const char *const *names, uint8_t *const *data, const size_t *lens, size_t n,
			    size_t *len_r)
{
	size_t cap = OVL, at;
	uint8_t *o;

	for (size_t i = 0; i < n; i++)
		cap += lens[i] + 2 * strlen(names[i]) + 64;
	o = calloc(1, cap);
	assert_non_null(o);
	at = pe_stub(o);
	for (size_t i = 0; i < n; i++) {
		at += (size_t)sprintf((char *)o + at, "%s%cDisk1\\%s%c1.0.0.0%c%zu%c", names[i], 0, names[i], 0, 0,
				      lens[i], 0);
		memcpy(o + at, data[i], lens[i]);
		at += lens[i];
	}
	*len_r = at;
	return o;
}

static void test_plain_cab(void **state)
{
	uint8_t *t = text_of(2600);
	const cab_in_t f[] = {
		{"readme.txt", 4, t, 2600, 1},
		{"external.dll", 0, NULL, 5000, 1},
		{"eicar.com", 6, (const uint8_t *)eicar, EICAR_LEN, 1},
		{"invalid", 8, t, 10, 1},
		{"stored.txt", 0, t, 300, 1},
	};
	uint8_t *hdr, *cab, *o;
	size_t hl, cl, len;
	rec_t r;

	(void)state;
	iscab_build(f, 5, &hdr, &hl, &cab, &cl);
	{
		const char *names[] = {"setup.ini", "data1.cab", "data1.hdr"};
		uint8_t *data[] = {(uint8_t *)"[Startup]\r\n", cab, hdr};
		const size_t lens[] = {11, cl, hl};

		o = plain_build(names, data, lens, 3, &len);
	}
	rec_init(&r, 1 << 20);
	assert_int_equal(av_dec_ishield(sl_slice_make(o, len), "setup.exe", &r.e), 0);
	assert_int_equal(r.e.broken, 0);
	assert_int_equal(r.n, 6);
	rec_expect(&r, 0, "setup.ini", "[Startup]\r\n", 11);
	rec_expect(&r, 1, "data1.cab", cab, cl);
	rec_expect(&r, 2, "data1.hdr", hdr, hl);
	rec_expect(&r, 3, "readme.txt", t, 2600);
	rec_expect(&r, 4, "eicar.com", eicar, EICAR_LEN);
	rec_expect(&r, 5, "stored.txt", t, 300);
	rec_free(&r);
	drv_eicar_at(o, len, "setup.exe", "setup.exe/eicar.com");
	/* every truncation; hostile descriptor fields */
	for (size_t cut = OVL; cut < len; cut += 3) {
		rec_init(&r, 1 << 20);
		assert_true(av_dec_ishield(sl_slice_make(o, cut), "t.exe", &r.e) >= 0);
		rec_free(&r);
	}
	{
		static const struct {
			size_t at; /* in data1.hdr */
			uint32_t v;
		} bad[] = {
			{12, 0xfffffff0u},              /* descriptor offset */
			{16, 0xfffffff0u},              /* descriptor size */
			{0x20 + 0x0c, 0xfffffff0u},     /* file table offset */
			{0x20 + 0x28, 0xffffffffu},     /* 4 Gi files */
			{0x20 + 0x2c, 0xfffffff0u},     /* descriptor array offset */
			{0x160 + 10, 0xffffffffu},      /* a compressed size of 4 GiB */
			{0x160 + 18, 0xffffff00u},      /* a data offset past the volume */
			{0x160 + 0x3a, 0xfffffff0u},    /* a name past the table */
			{0x160 + 0x55, 9},              /* a volume that is not there */
			{4, 0x01005500u},               /* version 5: not read */
		};
		size_t hoff = (size_t)((const uint8_t *)memmem(o, len, "data1.hdr\0Disk1", 15) - o);

		hoff += strlen("data1.hdr") + 1 + strlen("Disk1\\data1.hdr") + 1 + 8 + 5;
		assert_memory_equal(o + hoff, "ISc(", 4);
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			uint8_t *m = malloc(len);

			memcpy(m, o, len);
			cfb_put32(m + hoff + bad[i].at, bad[i].v);
			rec_init(&r, 1 << 20);
			assert_true(av_dec_ishield(sl_slice_make(m, len), "t.exe", &r.e) >= 0);
			assert_true(r.e.broken > 0);
			rec_free(&r);
			free(m);
		}
	}
	free(o);
	free(hdr);
	free(cab);
	free(t);
}

static void test_samples(void **state)
{
	static const struct {
		const char *file, *where;
	} v[] = {
		{"clam_IScab_int.exe", "clam_IScab_int.exe/clam.exe"},
		{"clam_ISmsi_ext.exe", "clam_ISmsi_ext.exe/clam.exe409.bmp"},
		{"clam_ISmsi_int.exe", "clam_ISmsi_int.exe/clam.msi/\?\?\?\?\?/clam.exe"}, /* MSI: a CAB stream */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		size_t len;
		uint8_t *p = sample(v[i].file, &len);
		scan_fx_t f;

		if (p == NULL)
			continue;
		scan_fx_open_pol(&f, NULL, 0);
		expect_verdict(scan_fx_run(&f, v[i].file, p, len), FLT_AV_INFECTED, "Sluice.Test.ClamExe.Body", v[i].where);
		print_message("%s: %s\n", v[i].file, f.r.where);
		scan_fx_close(&f);
		free(p);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stream),
		cmocka_unit_test(test_stream_hostile),
		cmocka_unit_test(test_plain_cab),
		cmocka_unit_test(test_samples),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
