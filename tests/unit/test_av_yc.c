/* test_av_yc - yoda's Crypter: a crafted yC 1.3 file whose two decryptor
 * layers are made here from a list of operations (encrypted with the
 * inverse operations, in reverse order), decrypted byte for byte: the
 * code section comes back, the resource section is left alone, the yC
 * section leaves the header, the entry point is the original one; an
 * unknown instruction and a jump loop in the decryptor are broken input;
 * the member cap; clamav-testfiles' clam-yc.exe (yC over UPX) decrypted,
 * then unpacked by the UPX decoder and detected through flt_av_scan;
 * every truncation and random corruption of both without a crash. */
#include "test_av_dec.h"
#include "test_av_pecraft.h"

enum op { XOR_I, ADD_I, SUB_I, XOR_CL, ADD_CL, SUB_CL, DEC, ROL_I, ROR_I, ROL_CL, ROR_CL, NOP };

typedef struct yop {
	enum op op;
	uint8_t imm;
} yop_t;

static uint8_t r8(uint8_t v, unsigned n, int left)
{
	n &= 7;
	if (n == 0)
		return v;
	return left ? (uint8_t)(v << n | v >> (8 - n)) : (uint8_t)(v >> n | v << (8 - n));
}

static uint8_t apply(const yop_t *o, uint8_t al, uint8_t cl, int inverse)
{
	switch (o->op) {
	case XOR_I:
		return al ^ o->imm;
	case ADD_I:
		return (uint8_t)(inverse ? al - o->imm : al + o->imm);
	case SUB_I:
		return (uint8_t)(inverse ? al + o->imm : al - o->imm);
	case XOR_CL:
		return al ^ cl;
	case ADD_CL:
		return (uint8_t)(inverse ? al - cl : al + cl);
	case SUB_CL:
		return (uint8_t)(inverse ? al + cl : al - cl);
	case DEC:
		return (uint8_t)(inverse ? al + 1 : al - 1);
	case ROL_I:
		return r8(al, o->imm, !inverse);
	case ROR_I:
		return r8(al, o->imm, inverse);
	case ROL_CL:
		return r8(al, cl, !inverse);
	case ROR_CL:
		return r8(al, cl, inverse);
	case NOP:
		break;
	}
	return al;
}

/* The x86 bytes of OPS, padded with NOPs to 0x30 bytes, with a forward
 * short jump over three junk bytes at the start. */
static void emit_code(const yop_t *ops, size_t n, uint8_t *code)
{
	size_t j = 0;

	memset(code, 0x90, 0x30);
	code[j++] = 0xeb, code[j++] = 3, code[j++] = 0x0f, code[j++] = 0x0b, code[j++] = 0xcc;
	for (size_t i = 0; i < n; i++) {
		static const uint8_t b1[] = {0x34, 0x04, 0x2c, 0x32, 0x02, 0x2a, 0xfe, 0xc0, 0xc0, 0xd2, 0xd2, 0x90};

		code[j++] = b1[ops[i].op];
		switch (ops[i].op) {
		case XOR_I:
		case ADD_I:
		case SUB_I:
			code[j++] = ops[i].imm;
			break;
		case XOR_CL:
		case ADD_CL:
		case SUB_CL:
			code[j++] = 0xc1;
			break;
		case DEC:
			code[j++] = 0xc8;
			break;
		case ROL_I:
		case ROR_I:
			code[j++] = ops[i].op == ROL_I ? 0xc0 : 0xc8;
			code[j++] = ops[i].imm;
			break;
		case ROL_CL:
		case ROR_CL:
			code[j++] = ops[i].op == ROL_CL ? 0xc0 : 0xc8;
			break;
		case NOP:
			break;
		}
	}
	assert_true(j <= 0x30);
}

/* Encrypt LEN bytes at P so that running OPS (CL from LEN down) gives
 * them back. */
static void encrypt(const yop_t *ops, size_t n, uint8_t *p, uint32_t len)
{
	uint8_t cl = (uint8_t)len;

	for (uint32_t i = 0; i < len; i++, cl--)
		for (size_t k = n; k-- > 0;)
			p[i] = apply(&ops[k], p[i], cl, 1);
}

static const yop_t L1[] = {{XOR_I, 0x5a}, {ADD_CL, 0}, {ROL_I, 3}, {DEC, 0}, {SUB_I, 0x11}, {ROR_CL, 0}};
static const yop_t L2[] = {{SUB_CL, 0}, {ROR_I, 5}, {XOR_CL, 0}, {ADD_I, 0x77}, {ROL_CL, 0}, {NOP, 0}};

#define YC_RVA 0x3000u
#define YC_ECX 0x1000u
#define YC_OEP 0x1010u

static uint8_t text_plain[0x200], rsrc_plain[0x200];

/* A yC 1.3 file: .text (encrypted), .rsrc (clear), yC (entry code, both
 * decryptors, layer 1 encrypted). */
static uint8_t *yc_file(size_t *len_r)
{
	static uint8_t text[0x200], yc[0x1200];
	uint8_t *ep = yc + 0x60;
	pc_sec_t s[3] = {{".text", 0x1000, 0x1000, text, sizeof(text)},
			 {".rsrc", 0x2000, 0x1000, rsrc_plain, sizeof(rsrc_plain)},
			 {"yC", YC_RVA, 0x2000, yc, sizeof(yc)}};

	for (size_t i = 0; i < sizeof(text_plain); i++)
		text_plain[i] = (uint8_t)("CLAMessageBoxA-yoda-"[i % 20]), rsrc_plain[i] = (uint8_t)(i * 7);
	memcpy(text, text_plain, sizeof(text));
	encrypt(L2, sizeof(L2) / sizeof(L2[0]), text, sizeof(text)); /* CL from the raw size, 0x200 */
	memset(yc, 0, sizeof(yc));
	memcpy(ep, "\x55\x8b\xec\x53\x56\x57\x60\xe8\x00\x00\x00\x00\x5d\x81\xed", 15);
	pc_put32(ep + 0xf, 0x401000);
	ep[0x13] = 0xb9;
	pc_put32(ep + 0x14, 0x402000 + YC_ECX);
	ep[0x18] = 0x81, ep[0x19] = 0xe9;
	pc_put32(ep + 0x1a, 0x402000);
	memcpy(ep + 0x1e, "\x8b\xd5\x81\xc2", 4);
	pc_put32(ep + 0x22, 0x401000 + 0xc6 - 0x6c);
	memcpy(ep + 0x26, "\x8d\x3a\x8b\xf7\x33\xc0\xeb\x04\x90\xeb\x01\xc2\xac", 13);
	emit_code(L1, sizeof(L1) / sizeof(L1[0]), yc + 0x93);
	memcpy(yc + 0xc3, "\xaa\xe2\xcc", 3);
	emit_code(L2, sizeof(L2) / sizeof(L2[0]), yc + 0x457);
	pc_put32(yc + 0xa0f, YC_OEP);
	encrypt(L1, sizeof(L1) / sizeof(L1[0]), yc + 0xc6, YC_ECX);
	return pc_build(s, 3, YC_RVA + 0x60, len_r);
}

static void test_decrypt(void **state)
{
	size_t len;
	uint8_t *f = yc_file(&len);
	rec_t r;

	(void)state;
	rec_init(&r, 1u << 20);
	pc_seed("pe_yc", f, len);

	assert_int_equal(av_dec_pepack(sl_slice_make(f, len), "y.exe", &r.e), 0);
	assert_int_equal(r.e.broken, 0);
	assert_int_equal(r.n, 1);
	assert_string_equal(r.name[0], "yc-decrypted");
	assert_int_equal(r.len[0], PC_HDR + 0x400); /* without the yC section's data */
	assert_memory_equal(r.data[0] + PC_HDR, text_plain, sizeof(text_plain));
	assert_memory_equal(r.data[0] + PC_HDR + 0x200, rsrc_plain, sizeof(rsrc_plain));
	assert_int_equal(r.data[0][PC_PE + 6], 2);
	assert_int_equal(av_le32(r.data[0] + PC_PE + 24 + 16), YC_OEP);
	rec_free(&r);
	/* the cap */
	rec_init(&r, 0x1000);
	assert_int_equal(av_dec_pepack(sl_slice_make(f, len), "y.exe", &r.e), 1);
	assert_non_null(strstr(r.limit, "max_file"));
	rec_free(&r);
	pc_hostile(f, len, 7, 0x80, 1500);
	free(f);
}

static void test_broken_decryptor(void **state)
{
	size_t len;
	uint8_t *f = yc_file(&len);
	size_t l1 = PC_HDR + 0x400 + 0x93; /* file offset of the layer-1 decryptor */
	rec_t r;

	(void)state;
	/* an instruction the generated code never uses (INC EAX) */
	f[l1 + 0x20] = 0x40;
	pc_expect(f, len, "y.exe", 1, 0);
	/* a jump to itself */
	f[l1 + 0x20] = 0xeb, f[l1 + 0x21] = 0xfe;
	pc_run(&r, f, len, "y.exe");
	assert_int_equal(r.e.broken, 1);
	rec_free(&r);
	/* a layer-1 length out of its range: not taken for yC */
	f[l1 + 0x20] = 0x90, f[l1 + 0x21] = 0x90;
	pc_put32(f + PC_HDR + 0x400 + 0x60 + 0x14, 0x402000 + 0x100);
	pc_expect(f, len, "y.exe", 0, 0);
	free(f);
}

static void test_sample(void **state)
{
	size_t len;
	uint8_t *p = sample("clam-yc.exe", &len);
	scan_fx_t f;
	rec_t r;

	(void)state;
	if (p == NULL)
		return;
	pc_sample_one(&r, p, len, "clam-yc.exe");
	/* under yC, a UPX file: UPX unpacks the decrypted file, not the
	 * encrypted one */
	assert_non_null(memmem(r.data[0], r.len[0], "UPX!", 4));
	{
		rec_t u;

		rec_init(&u, 1u << 20);
		assert_int_equal(av_dec_upx(sl_slice_make(p, len), "enc.exe", &u.e), 0);
		assert_true(u.n == 0 || memmem(u.data[0], u.len[0], "This is a ClamAV", 16) == NULL);
		rec_free(&u);
		rec_init(&u, 1u << 20);
		assert_int_equal(av_dec_upx(sl_slice_make(r.data[0], r.len[0]), "dec.exe", &u.e), 0);
		assert_int_equal(u.n, 1);
		assert_non_null(memmem(u.data[0], u.len[0], "This is a ClamAV", 16));
		rec_free(&u);
	}
	rec_free(&r);
	scan_fx_open_pol(&f, NULL, 0);
	expect_verdict(scan_fx_run(&f, "clam-yc.exe", p, len), FLT_AV_INFECTED, "Sluice.Test.ClamExe.Body", NULL);
	assert_non_null(strstr(f.r.where, "clam-yc.exe/yc-decrypted/upx-unpacked"));
	scan_fx_close(&f);
	pc_hostile(p, len, 5, 0x80, 1500);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decrypt),
		cmocka_unit_test(test_broken_decryptor),
		cmocka_unit_test(test_sample),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
