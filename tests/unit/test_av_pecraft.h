/* test_av_pecraft - a small PE32 writer for the packer tests
 * (tests/unit/test_av_<packer>.c): headers at 0 (e_lfanew 0x80, the
 * section table after a 0xe0-byte optional header), each section's raw
 * data at a 0x200-aligned file offset, and a recorder-driven helper that
 * runs av_dec_pepack on it. Include after test_av_dec.h. */
#ifndef TEST_AV_PECRAFT_H
#define TEST_AV_PECRAFT_H

#include "av/flt_av_pepack.h"

#define PC_PE 0x80u
#define PC_TAB (PC_PE + 24 + 0xe0)
#define PC_HDR 0x400u

typedef struct pc_sec {
	const char *name;
	uint32_t rva, vsz;
	const void *data; /* raw data (NULL: none) */
	uint32_t len;
} pc_sec_t;

static inline void pc_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24);
}

/* A PE of the N sections S with entry point EP; the caller frees. */
static inline uint8_t *pc_build(const pc_sec_t *s, uint32_t n, uint32_t ep, size_t *len_r)
{
	size_t len = PC_HDR;
	uint32_t soi = 0x1000;
	uint8_t *f;

	for (uint32_t i = 0; i < n; i++)
		len += (s[i].len + 0x1ffu) & ~0x1ffu;
	f = calloc(1, len);
	assert_non_null(f);
	f[0] = 'M', f[1] = 'Z';
	pc_put32(f + 0x3c, PC_PE);
	memcpy(f + PC_PE, "PE\0\0", 4);
	f[PC_PE + 4] = 0x4c, f[PC_PE + 5] = 0x01;
	f[PC_PE + 6] = (uint8_t)n;
	f[PC_PE + 20] = 0xe0;
	f[PC_PE + 24] = 0x0b, f[PC_PE + 25] = 0x01;
	pc_put32(f + PC_PE + 24 + 16, ep);
	pc_put32(f + PC_PE + 24 + 28, 0x400000);
	pc_put32(f + PC_PE + 24 + 32, 0x1000);
	pc_put32(f + PC_PE + 24 + 36, 0x200);
	pc_put32(f + PC_PE + 24 + 60, PC_HDR);
	for (uint32_t i = 0, raw = PC_HDR; i < n; i++) {
		uint8_t *h = f + PC_TAB + 40 * i;
		uint32_t rsz = (s[i].len + 0x1ffu) & ~0x1ffu;

		memcpy(h, s[i].name, strlen(s[i].name) < 8 ? strlen(s[i].name) : 8);
		pc_put32(h + 8, s[i].vsz);
		pc_put32(h + 12, s[i].rva);
		pc_put32(h + 16, rsz);
		pc_put32(h + 20, rsz ? raw : 0);
		pc_put32(h + 36, 0xe0000020);
		if (s[i].len)
			memcpy(f + raw, s[i].data, s[i].len);
		raw += rsz;
		if (s[i].rva + ((s[i].vsz + 0xfffu) & ~0xfffu) > soi)
			soi = s[i].rva + ((s[i].vsz + 0xfffu) & ~0xfffu);
	}
	pc_put32(f + PC_PE + 24 + 56, soi);
	*len_r = len;
	return f;
}

/* With AV_SEED_DIR set, write the crafted file F as a seed NAME of
 * tests/fuzz/fuzz_av_containers.c: its first byte (14) picks
 * av_dec_pepack. */
static inline void pc_seed(const char *name, const uint8_t *f, size_t len)
{
	const char *dir = getenv("AV_SEED_DIR");
	char path[512];
	FILE *fp;

	if (dir == NULL)
		return;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fp = fopen(path, "wb");
	assert_non_null(fp);
	fputc(14, fp);
	assert_int_equal(fwrite(f, 1, len, fp), len);
	fclose(fp);
}

/* av_dec_pepack on the LEN bytes at F into R (cap 1 MiB): it must not
 * fail. The caller checks R, then calls rec_free. */
static inline void pc_run(rec_t *r, const uint8_t *f, size_t len, const char *name)
{
	rec_init(r, 1u << 20);
	assert_int_equal(av_dec_pepack(sl_slice_make(f, len), name, &r->e), 0);
}

/* pc_run on F that must end BROKEN times broken with N members; R is
 * freed. */
static inline void pc_expect(const uint8_t *f, size_t len, const char *name, int broken, uint32_t n)
{
	rec_t r;

	pc_run(&r, f, len, name);
	assert_int_equal(r.e.broken, broken);
	assert_int_equal(r.n, n);
	rec_free(&r);
}

/* The real sample P unpacks into exactly one member, not broken. The
 * caller checks R's member, then calls rec_free. */
static inline void pc_sample_one(rec_t *r, const uint8_t *p, size_t len, const char *name)
{
	pc_run(r, p, len, name);
	assert_int_equal(r->e.broken, 0);
	assert_int_equal(r->n, 1);
}

/* The full scan (no attachment policy: a PE is itself blocked by it) of
 * the sample P finds the ClamAV test body at WHERE (NULL: anywhere). */
static inline void pc_sample_verdict(const uint8_t *p, size_t len, const char *name, const char *where)
{
	scan_fx_t f;

	scan_fx_open_pol(&f, NULL, 0);
	expect_verdict(scan_fx_run(&f, name, p, len), FLT_AV_INFECTED, "Sluice.Test.ClamExe.Body", where);
	scan_fx_close(&f);
}

/* Every prefix (step STEP) and NMUT random corruptions past SKIP of the
 * file P: no crash, no error but SL_ENOMEM, no member over the cap. */
static inline void pc_hostile(const uint8_t *p, size_t len, size_t step, size_t skip, int nmut)
{
	uint32_t x = 12345;
	rec_t r;

	for (size_t cut = 0; cut < len; cut += step) {
		rec_init(&r, 1u << 20);
		assert_true(av_dec_pepack(sl_slice_make(p, cut), "t.exe", &r.e) >= 0);
		rec_free(&r);
	}
	for (int k = 0; k < nmut; k++) {
		uint8_t *c = malloc(len);

		assert_non_null(c);
		memcpy(c, p, len);
		for (int j = 0; j < 4; j++) {
			x = x * 1103515245u + 12345u;
			c[skip + (x >> 8) % (len - skip)] ^= (uint8_t)(x >> 24 | 1);
		}
		rec_init(&r, 1u << 20);
		assert_true(av_dec_pepack(sl_slice_make(c, len), "c.exe", &r.e) >= 0);
		rec_free(&r);
		free(c);
	}
}

#endif
