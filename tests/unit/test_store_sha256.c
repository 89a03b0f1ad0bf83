/* test_store_sha256 - the store's SHA-256 against the FIPS 180-4 / NIST
 * vectors, padding boundaries (checked against Python's hashlib), and
 * streaming in every split; each with the implementation picked for this
 * CPU (SHA-NI where present) and again with the portable one, and the two
 * against each other on pseudo-random data. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "st.h"
#include "st_private.h"

static void hex(const uint8_t d[32], char out[65])
{
	for (int i = 0; i < 32; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

static const struct {
	const char *msg;
	const char *digest;
} nist[] = {
	{"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
	{"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
	{"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
	 "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
	{"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopq"
	 "rlmnopqrsmnopqrstnopqrstu",
	 "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"},
};

static void test_nist_vectors(void **state)
{
	uint8_t d[32];
	char h[65];

	(void)state;
	for (size_t i = 0; i < sizeof(nist) / sizeof(nist[0]); i++) {
		st_sha256(nist[i].msg, strlen(nist[i].msg), d);
		hex(d, h);
		assert_string_equal(h, nist[i].digest);
	}
}

static void test_million_a_streamed(void **state)
{
	st_sha256_t ctx;
	uint8_t d[32], chunk[1000];
	char h[65];

	(void)state;
	memset(chunk, 'a', sizeof(chunk));
	st_sha256_init(&ctx);
	for (int i = 0; i < 1000; i++)
		st_sha256_update(&ctx, chunk, sizeof(chunk));
	st_sha256_final(&ctx, d);
	hex(d, h);
	assert_string_equal(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

/* Lengths around the 55/56/64-byte padding edges. */
static const struct {
	size_t len;
	const char *digest;
} edges[] = {
	{55, "e7313d333c272e639f790978283f9eb392e843d0f29b7016828bb1daa4aac70b"},
	{56, "4324d65f3c103567f5589c710bc08f8523f929a9272e3af36fc968e52abc6c27"},
	{63, "81c80242132f230c3bd41b3e63bbcff16107339549214a99614ff26664625055"},
	{64, "39e3d7b6b5d075d37d053ad89b24b41bef4f3c29760c84447cab3f3be1882241"},
	{65, "aacca6ff74fdbb296d165a45cecfa04e5127bc008770fbbdd48006f2d2fae95e"},
	{119, "9ce7368e4daf32341631b492e80359dc9f594b48453cd0dd5bf0b19279cc177e"},
	{120, "7836b787757e95e58b3ca5aec90b1b004e8deba1e50e9675af9cabf1a13a04b5"},
	{127, "a8d23e75d936f303d248888d9b165ee543f4cbafcad3c9dd2a79bd84faa11d07"},
	{128, "d2742f1f4ac6bb7ca2b239ee18402ba8b3f9f8e652d2a72973c2b9ba11c08cf6"},
	{1000, "1e9bc38cbf860b9ec31918b065f9b52476c549a782e0e7990bed8ce3868d2371"},
};

static void test_padding_edges_and_splits(void **state)
{
	uint8_t msg[1000], d[32];
	char h[65];

	(void)state;
	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)((i * 7 + 3) & 0xff);
	for (size_t e = 0; e < sizeof(edges) / sizeof(edges[0]); e++) {
		size_t n = edges[e].len;

		st_sha256(msg, n, d);
		hex(d, h);
		assert_string_equal(h, edges[e].digest);
		/* Every two-way split, and byte-at-a-time, give the same. */
		for (size_t cut = 0; cut <= n; cut += (n > 200 ? 37 : 1)) {
			st_sha256_t ctx;
			st_sha256_init(&ctx);
			st_sha256_update(&ctx, msg, cut);
			st_sha256_update(&ctx, msg + cut, n - cut);
			st_sha256_final(&ctx, d);
			hex(d, h);
			assert_string_equal(h, edges[e].digest);
		}
		{
			st_sha256_t ctx;
			st_sha256_init(&ctx);
			for (size_t i = 0; i < n; i++)
				st_sha256_update(&ctx, msg + i, 1);
			st_sha256_final(&ctx, d);
			hex(d, h);
			assert_string_equal(h, edges[e].digest);
		}
	}
}

/* The same vectors through the portable block function. */
static void test_portable_implementation(void **state)
{
	bool accel = st_sha256_accel_for_test(false);

	test_nist_vectors(state);
	test_million_a_streamed(state);
	test_padding_edges_and_splits(state);
	if (accel)
		st_sha256_accel_for_test(true);
}

static uint64_t rnd(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* SHA-NI and portable agree on every length 0..4200 (all block counts
 * and tails) and on a 1 MiB body fed in random pieces. */
static void test_accel_matches_portable(void **state)
{
	enum { N = 1u << 20 };
	uint8_t *buf = malloc(N), a[32], b[32];
	uint64_t x = 0x9e3779b97f4a7c15ull;

	(void)state;
	assert_non_null(buf);
	if (!st_sha256_accel_for_test(true)) {
		free(buf);
		skip();
	}
	for (size_t i = 0; i < N; i++)
		buf[i] = (uint8_t)rnd(&x);
	for (size_t n = 0; n <= 4200; n++) {
		st_sha256_accel_for_test(true);
		st_sha256(buf + (n % 13), n, a); /* unaligned starts too */
		st_sha256_accel_for_test(false);
		st_sha256(buf + (n % 13), n, b);
		if (memcmp(a, b, 32) != 0)
			fail_msg("SHA-NI and portable differ at length %zu", n);
	}
	for (int pass = 0; pass < 2; pass++) {
		st_sha256_t ctx;
		size_t off = 0;

		st_sha256_accel_for_test(pass == 0);
		st_sha256_init(&ctx);
		while (off < N) {
			size_t take = (size_t)(rnd(&x) % 9000);
			if (take > N - off)
				take = N - off;
			st_sha256_update(&ctx, buf + off, take);
			off += take;
		}
		st_sha256_final(&ctx, pass == 0 ? a : b);
	}
	assert_memory_equal(a, b, 32);
	st_sha256_accel_for_test(true);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nist_vectors),
		cmocka_unit_test(test_million_a_streamed),
		cmocka_unit_test(test_padding_edges_and_splits),
		cmocka_unit_test(test_portable_implementation),
		cmocka_unit_test(test_accel_matches_portable),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
