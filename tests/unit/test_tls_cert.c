/* test_tls_cert - certificates for the TLS layer: generation, validation
 * (key match, key type and size, complete chain), description (names,
 * dates, SHA-256 fingerprint), the first-start self-signed certificate,
 * and SNI name matching. Keys are generated at test time (wolfCrypt, and
 * the openssl CLI for the shapes we refuse, when it is installed). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "ns_tls.h"
#include "ns_tls_private.h"
#include "sl_err.h"
#include "sl_log.h"

static char tmpdir[64];

static const char *tmp_path(const char *name)
{
	static char buf[4][256];
	static unsigned k;
	char *p = buf[k++ % 4];

	snprintf(p, 256, "%s/%s", tmpdir, name);
	return p;
}

static void write_buf(const char *path, const sl_buf_t *b)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(b->data, 1, b->len, f), b->len);
	fclose(f);
}

/* The openssl CLI cross-checks some cases. Without it they pass empty,
 * loudly: cmocka's TAP turns a skip into "not ok", a failure for
 * run_tests.sh, and a missing tool is not a TLS bug. */
static bool have_openssl(void)
{
	if (access("/usr/bin/openssl", X_OK) == 0)
		return true;
	fprintf(stderr, "test_tls_cert: no /usr/bin/openssl: cross-check not run\n");
	return false;
}

typedef struct pair {
	sl_buf_t cert, key;
} pair_t;

static void gen(pair_t *p, const char *host, enum ns_tls_key_kind kind, bool ca, const pair_t *issuer)
{
	ns_tls_gen_params_t gp = {.hostname = host, .key = kind, .days = 30, .is_ca = ca};
	const char *err = NULL;

	sl_buf_init(&p->cert, 1 << 20);
	sl_buf_init(&p->key, 1 << 20);
	if (issuer != NULL) {
		gp.issuer_cert_pem = &issuer->cert;
		gp.issuer_key_pem = &issuer->key;
	}
	if (ns_tls_cert_generate(&gp, &p->cert, &p->key, &err) != 0)
		fail_msg("generate %s: %s", host, err);
}

static void pair_free(pair_t *p)
{
	sl_buf_free(&p->cert);
	sl_buf_free(&p->key);
}

/* A chain file: the given PEMs concatenated. */
static sl_buf_t cat(const sl_buf_t *a, const sl_buf_t *b, const sl_buf_t *c)
{
	sl_buf_t out;

	sl_buf_init(&out, 1 << 20);
	assert_int_equal(sl_buf_append(&out, a->data, a->len), 0);
	if (b != NULL)
		assert_int_equal(sl_buf_append(&out, b->data, b->len), 0);
	if (c != NULL)
		assert_int_equal(sl_buf_append(&out, c->data, c->len), 0);
	return out;
}

static int check(const sl_buf_t *chain, const sl_buf_t *key, const char *ca_file,
		 ns_tls_cert_info_t *info, const char **err)
{
	ns_tls_cert_src_t src = {.cert_pem = chain->data, .cert_pem_len = chain->len,
				 .key_pem = key->data, .key_pem_len = key->len};

	*err = NULL;
	return ns_tls_cert_check(&src, ca_file, info, err);
}

static void test_generate_ecdsa_and_rsa(void **state)
{
	pair_t ec, rsa;
	ns_tls_cert_info_t info;
	const char *err;
	time_t now = time(NULL);

	(void)state;
	gen(&ec, "mx.example.org", NS_TLS_KEY_EC_P256, false, NULL);
	assert_int_equal(check(&ec.cert, &ec.key, NULL, &info, &err), 0);
	assert_string_equal(info.key_type, "ECDSA P-256");
	assert_string_equal(info.names, "mx.example.org");
	assert_non_null(strstr(info.subject, "CN=mx.example.org"));
	assert_true(info.self_signed);
	assert_int_equal(info.chain_len, 1);
	assert_true(info.not_before <= now + 1 && info.not_before > now - 2 * 86400);
	assert_true(info.not_after > now + 29 * 86400 && info.not_after < now + 31 * 86400);
	assert_int_equal(strlen(info.fingerprint), 95);
	for (int i = 2; i < 95; i += 3)
		assert_int_equal(info.fingerprint[i], ':');
	assert_non_null(strstr(ec.key.data ? (const char *)ec.key.data : "", "EC PRIVATE KEY"));

	gen(&rsa, "b.example.org", NS_TLS_KEY_RSA_2048, false, NULL);
	assert_int_equal(check(&rsa.cert, &rsa.key, NULL, &info, &err), 0);
	assert_string_equal(info.key_type, "RSA 2048");

	/* Crossed keys do not match. */
	assert_int_equal(check(&ec.cert, &rsa.key, NULL, &info, &err), SL_EINVAL);
	assert_non_null(strstr(err, "does not match"));
	pair_free(&ec);
	pair_free(&rsa);
}

/* The fingerprint is the SHA-256 of the DER, as openssl computes it. */
static void test_fingerprint_matches_openssl(void **state)
{
	pair_t ec;
	ns_tls_cert_info_t info;
	const char *err;
	char cmd[512], line[256], *fp;
	FILE *f;

	(void)state;
	if (!have_openssl())
		return;
	gen(&ec, "fp.example", NS_TLS_KEY_EC_P256, false, NULL);
	assert_int_equal(check(&ec.cert, &ec.key, NULL, &info, &err), 0);
	write_buf(tmp_path("fp.crt"), &ec.cert);
	snprintf(cmd, sizeof(cmd), "/usr/bin/openssl x509 -noout -fingerprint -sha256 -in %s",
		 tmp_path("fp.crt"));
	f = popen(cmd, "r");
	assert_non_null(f);
	assert_non_null(fgets(line, sizeof(line), f));
	pclose(f);
	fp = strchr(line, '=');
	assert_non_null(fp);
	fp++;
	fp[strcspn(fp, "\r\n")] = '\0';
	assert_string_equal(fp, info.fingerprint);
	pair_free(&ec);
}

static void test_chain_rules(void **state)
{
	pair_t root, inter, leaf, other;
	ns_tls_cert_info_t info;
	const char *err;
	sl_buf_t chain;
	char root_file[256];

	(void)state;
	snprintf(root_file, sizeof(root_file), "%s", tmp_path("root.pem"));
	gen(&root, "Test Root", NS_TLS_KEY_EC_P256, true, NULL);
	gen(&inter, "Test Intermediate", NS_TLS_KEY_RSA_2048, true, &root);
	gen(&leaf, "mail.example.net", NS_TLS_KEY_EC_P256, false, &inter);
	gen(&other, "Other Root", NS_TLS_KEY_EC_P256, true, NULL);
	write_buf(root_file, &root.cert);

	/* Leaf, intermediate, root: complete on its own. */
	chain = cat(&leaf.cert, &inter.cert, &root.cert);
	assert_int_equal(check(&chain, &leaf.key, NULL, &info, &err), 0);
	assert_int_equal(info.chain_len, 3);
	assert_false(info.self_signed);
	assert_string_equal(info.names, "mail.example.net");
	sl_buf_free(&chain);

	/* Leaf and intermediate; the root is a trust anchor. */
	chain = cat(&leaf.cert, &inter.cert, NULL);
	assert_int_equal(check(&chain, &leaf.key, root_file, &info, &err), 0);
	assert_int_equal(info.chain_len, 2);
	/* ... but not in the other anchor's file. */
	write_buf(tmp_path("other.pem"), &other.cert);
	assert_int_equal(check(&chain, &leaf.key, tmp_path("other.pem"), &info, &err), SL_EINVAL);
	assert_non_null(strstr(err, "incomplete"));
	sl_buf_free(&chain);

	/* The intermediate is missing. */
	chain = cat(&leaf.cert, NULL, NULL);
	assert_int_equal(check(&chain, &leaf.key, root_file, &info, &err), SL_EINVAL);
	assert_non_null(strstr(err, "incomplete"));
	assert_non_null(strstr(err, "Test Intermediate"));
	sl_buf_free(&chain);

	/* Leaf then root, skipping the intermediate: broken. */
	chain = cat(&leaf.cert, &root.cert, NULL);
	assert_int_equal(check(&chain, &leaf.key, NULL, &info, &err), SL_EINVAL);
	assert_non_null(strstr(err, "not signed by certificate 2"));
	sl_buf_free(&chain);

	/* The right certificates in the wrong order: the key is not the
	 * first certificate's. */
	chain = cat(&inter.cert, &leaf.cert, &root.cert);
	assert_int_equal(check(&chain, &leaf.key, NULL, &info, &err), SL_EINVAL);
	sl_buf_free(&chain);

	pair_free(&root);
	pair_free(&inter);
	pair_free(&leaf);
	pair_free(&other);
}

/* A key that is not the certificate's is refused, for both key types
 * (wolfSSL 5.5.4's own check compares RSA keys only). */
static void test_mismatched_key_refused(void **state)
{
	static const enum ns_tls_key_kind kinds[] = {NS_TLS_KEY_EC_P256, NS_TLS_KEY_RSA_2048};
	ns_tls_cert_info_t info;
	const char *err;

	(void)state;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		pair_t a, b;

		gen(&a, "a.example.net", kinds[i], false, NULL);
		gen(&b, "b.example.net", kinds[i], false, NULL);
		assert_int_equal(check(&a.cert, &a.key, NULL, &info, &err), 0);
		assert_int_equal(check(&a.cert, &b.key, NULL, &info, &err), SL_EINVAL);
		assert_non_null(strstr(err, "does not match"));
		pair_free(&a);
		pair_free(&b);
	}
}

static void test_bad_inputs(void **state)
{
	static const char junk[] = "hello, I am not a certificate\n";
	static const char half[] = "-----BEGIN CERTIFICATE-----\nMIIB\n";
	static const char bad64[] = "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n";
	pair_t ec;
	sl_buf_t b;
	ns_tls_cert_info_t info;
	const char *err;
	ns_tls_cert_src_t src = {0};

	(void)state;
	gen(&ec, "x.example", NS_TLS_KEY_EC_P256, false, NULL);
	sl_buf_init(&b, 4096);
	sl_buf_append(&b, junk, sizeof(junk) - 1);
	assert_int_equal(check(&b, &ec.key, NULL, &info, &err), SL_EINVAL);
	assert_non_null(strstr(err, "no CERTIFICATE"));
	sl_buf_reset(&b);
	sl_buf_append(&b, half, sizeof(half) - 1);
	assert_int_equal(check(&b, &ec.key, NULL, &info, &err), SL_EINVAL);
	assert_non_null(strstr(err, "END"));
	sl_buf_reset(&b);
	sl_buf_append(&b, bad64, sizeof(bad64) - 1);
	assert_int_equal(check(&b, &ec.key, NULL, &info, &err), SL_EINVAL);
	/* A key that is junk. */
	sl_buf_reset(&b);
	sl_buf_append(&b, junk, sizeof(junk) - 1);
	assert_int_equal(check(&ec.cert, &b, NULL, &info, &err), SL_EINVAL);
	/* Missing files. */
	src.cert_file = "/nonexistent/cert.pem";
	src.key_file = "/nonexistent/key.pem";
	assert_int_equal(ns_tls_cert_check(&src, NULL, &info, &err), SL_EIO);
	assert_non_null(strstr(err, "/nonexistent/cert.pem"));
	/* Generation refuses a bad host name. */
	{
		ns_tls_gen_params_t gp = {.hostname = "bad host!"};
		sl_buf_t c, k;

		sl_buf_init(&c, 1 << 16);
		sl_buf_init(&k, 1 << 16);
		assert_int_equal(ns_tls_cert_generate(&gp, &c, &k, &err), SL_EINVAL);
		sl_buf_free(&c);
		sl_buf_free(&k);
	}
	sl_buf_free(&b);
	pair_free(&ec);
}

/* Shapes we refuse, made with the openssl CLI: RSA 1024, ECDSA P-521. A
 * PKCS#8 ("BEGIN PRIVATE KEY") key is accepted. */
static void test_key_types_from_openssl(void **state)
{
	static const struct {
		const char *keygen;
		int rc;
		const char *what;
	} rows[] = {
		{"genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024", SL_EINVAL, "1024 bits"},
		{"genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-521", SL_EINVAL, "curve"},
		{"genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384", 0, "ECDSA P-384"},
		{"genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072", 0, "RSA 3072"},
		{"genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256", 0, "ECDSA P-256"},
	};
	char cmd[1024], crt[256], key[256];

	(void)state;
	if (!have_openssl())
		return;
	snprintf(crt, sizeof(crt), "%s", tmp_path("o.crt"));
	snprintf(key, sizeof(key), "%s", tmp_path("o.key"));
	for (unsigned i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		ns_tls_cert_src_t src = {.cert_file = crt, .key_file = key};
		ns_tls_cert_info_t info;
		const char *err = NULL;
		int rc;

		snprintf(cmd, sizeof(cmd),
			 "/usr/bin/openssl %s -out %s 2>/dev/null && /usr/bin/openssl req -x509 -key %s "
			 "-out %s -days 30 -subj /CN=o.example 2>/dev/null",
			 rows[i].keygen, key, key, crt);
		assert_int_equal(system(cmd), 0);
		rc = ns_tls_cert_check(&src, NULL, &info, &err);
		if (rc != rows[i].rc)
			fail_msg("row %u: rc %d (%s)", i, rc, err ? err : "");
		if (rc == 0)
			assert_string_equal(info.key_type, rows[i].what);
		else if (strstr(err, rows[i].what) == NULL)
			fail_msg("row %u: %s", i, err);
	}
}

static void test_selfsigned_first_start(void **state)
{
	const char *c = tmp_path("self.crt"), *k = tmp_path("self.key");
	ns_tls_cert_info_t i1, i2;
	const char *err = NULL;
	struct stat sb;

	(void)state;
	unlink(c);
	unlink(k);
	assert_int_equal(ns_tls_selfsigned_ensure(c, k, "gw.example.com", &i1, &err), 1);
	assert_int_equal(stat(k, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_string_equal(i1.key_type, "ECDSA P-256");
	assert_string_equal(i1.names, "gw.example.com");
	assert_true(i1.not_after - i1.not_before > 3600LL * 24 * 3000);
	/* Second start: the same certificate. */
	assert_int_equal(ns_tls_selfsigned_ensure(c, k, "gw.example.com", &i2, &err), 0);
	assert_string_equal(i1.fingerprint, i2.fingerprint);
	/* Half a pair is the operator's problem, not overwritten. */
	unlink(k);
	assert_int_equal(ns_tls_selfsigned_ensure(c, k, "gw.example.com", &i2, &err), SL_EEXIST);
	assert_int_equal(access(k, F_OK), -1);
	unlink(c);
}

/* A config describes its certificates for `tls show`; configured SNI
 * names override the certificate's own. */
static void test_config_cert_info(void **state)
{
	static const char *const names[] = {"Mail.Example.COM", "*.mx.example.com"};
	pair_t a, b;
	ns_tls_cert_src_t src[2] = {0};
	ns_tls_config_params_t p;
	ns_tls_config_t *cfg;
	ns_tls_cert_info_t info;
	const char *err = NULL;

	(void)state;
	gen(&a, "a.example", NS_TLS_KEY_EC_P256, false, NULL);
	gen(&b, "b.example", NS_TLS_KEY_EC_P256, false, NULL);
	write_buf(tmp_path("a.crt"), &a.cert);
	write_buf(tmp_path("a.key"), &a.key);
	src[0].cert_file = tmp_path("a.crt");
	src[0].key_file = tmp_path("a.key");
	src[1].cert_pem = b.cert.data;
	src[1].cert_pem_len = b.cert.len;
	src[1].key_pem = b.key.data;
	src[1].key_pem_len = b.key.len;
	src[1].names = names;
	src[1].n_names = 2;
	ns_tls_config_params_default(&p);
	p.certs = src;
	p.n_certs = 2;
	assert_int_equal(ns_tls_config_create(&p, &cfg, &err), 0);
	assert_int_equal(ns_tls_config_n_certs(cfg), 2);
	assert_int_equal(ns_tls_config_cert_info(cfg, 0, &info), 0);
	assert_string_equal(info.names, "a.example");
	assert_int_equal(ns_tls_config_cert_info(cfg, 1, &info), 0);
	assert_string_equal(info.names, "mail.example.com,*.mx.example.com");
	assert_int_equal(ns_tls_config_cert_info(cfg, 2, &info), SL_ENOENT);
	{
		ns_tls_config_t *extra = ns_tls_config_ref(cfg);

		ns_tls_config_unref(&cfg);
		assert_null(cfg);
		assert_int_equal(ns_tls_config_n_certs(extra), 2); /* still alive */
		ns_tls_config_unref(&extra);
	}
	pair_free(&a);
	pair_free(&b);
}

static void test_sni_name_match(void **state)
{
	static const struct {
		const char *pattern, *name;
		bool match;
	} rows[] = {
		{"mx.example.com", "mx.example.com", true},
		{"mx.example.com", "MX.Example.Com", true},
		{"mx.example.com", "mx.example.co", false},
		{"mx.example.com", "xmx.example.com", false},
		{"*.example.com", "mx.example.com", true},
		{"*.example.com", "MX.EXAMPLE.COM", true},
		{"*.example.com", "a.b.example.com", false},
		{"*.example.com", "example.com", false},
		{"*.example.com", ".example.com", false},
		{"*.example.com", "mxexample.com", false},
	};

	(void)state;
	for (unsigned i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		if (ns_tls_name_match(rows[i].pattern, rows[i].name, strlen(rows[i].name)) !=
		    rows[i].match)
			fail_msg("row %u: %s vs %s", i, rows[i].pattern, rows[i].name);
}

static int setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_tls_cert.XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_generate_ecdsa_and_rsa),
		cmocka_unit_test(test_fingerprint_matches_openssl),
		cmocka_unit_test(test_chain_rules),
		cmocka_unit_test(test_mismatched_key_refused),
		cmocka_unit_test(test_bad_inputs),
		cmocka_unit_test(test_key_types_from_openssl),
		cmocka_unit_test(test_selfsigned_first_start),
		cmocka_unit_test(test_config_cert_info),
		cmocka_unit_test(test_sni_name_match),
	};

	sl_log_set_level(SL_LOG_WARN);
	return cmocka_run_group_tests(tests, setup, teardown);
}
