/* test_store_sha256 - the store's SHA-256 against the FIPS 180-4 / NIST
 * vectors, padding boundaries (checked against Python's hashlib), and
 * streaming in every split. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "st.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nist_vectors),
		cmocka_unit_test(test_million_a_streamed),
		cmocka_unit_test(test_padding_edges_and_splits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
