/* ns_tls_cert - certificates: load, validate, describe, generate.
 *
 * This is control-plane code (boot, `tls install`, `tls show`): it reads
 * files, allocates freely and may take milliseconds. It uses wolfCrypt's
 * certificate parser (DecodedCert) for what it reads and wc_MakeCert /
 * wc_SignCert (WOLFSSL_CERT_GEN, mk/wolfssl.mk) for what it
 * writes. PEM blocks are found by their BEGIN/END markers with bounded
 * searches; nothing relies on a terminating NUL. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ns_tls_private.h"
#include <wolfssl/wolfcrypt/asn.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/rsa.h>
#include <wolfssl/wolfcrypt/sha256.h>

#include "sl_err.h"
#include "sl_log.h"

#define PEM_FILE_MAX (1024 * 1024)
#define CHAIN_MAX 10
#define DER_MAX 8192

static const char pem_begin[] = "-----BEGIN CERTIFICATE-----";
static const char pem_end[] = "-----END CERTIFICATE-----";

/* One parsed certificate of a chain. */
typedef struct pcert {
	uint8_t der[DER_MAX];
	size_t len;
	char subject[WC_ASN_NAME_MAX];
	char issuer[WC_ASN_NAME_MAX];
	char cn[256];
	bool self_signed;
	bool is_ca;
	uint32_t key_oid;
	uint32_t curve_oid;
	uint8_t pubkey[1024];
	uint32_t pubkey_len;
	int64_t not_before, not_after;
	char *names[32]; /* DNS subjectAltNames, lower case */
	unsigned n_names;
} pcert_t;

static void pcert_free(pcert_t *c)
{
	for (unsigned i = 0; i < c->n_names; i++)
		free(c->names[i]);
	c->n_names = 0;
}

void ns_tls_fingerprint(const uint8_t *der, size_t len, char fp_r[NS_TLS_FP_LEN])
{
	static const char hex[] = "0123456789ABCDEF";
	uint8_t h[WC_SHA256_DIGEST_SIZE];

	if (wc_Sha256Hash(der, (word32)len, h) != 0) {
		fp_r[0] = '\0';
		return;
	}
	for (unsigned i = 0; i < sizeof(h); i++) {
		fp_r[3 * i] = hex[h[i] >> 4];
		fp_r[3 * i + 1] = hex[h[i] & 15];
		fp_r[3 * i + 2] = i + 1 < sizeof(h) ? ':' : '\0';
	}
}

static int read_file(const char *path, sl_buf_t *out, const char **error_r)
{
	uint8_t chunk[4096];
	FILE *f = fopen(path, "rb");
	size_t n;

	if (f == NULL) {
		*error_r = ns_tls_err("cannot open %s: %s", path, strerror(errno));
		return SL_EIO;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (sl_buf_append(out, chunk, n) < 0) {
			fclose(f);
			*error_r = ns_tls_err("%s is larger than %d bytes", path, PEM_FILE_MAX);
			return SL_EINVAL;
		}
	}
	if (ferror(f)) {
		fclose(f);
		*error_r = ns_tls_err("cannot read %s", path);
		return SL_EIO;
	}
	fclose(f);
	return 0;
}

static int64_t asn_time(const byte *p, int len)
{
	const byte *date;
	byte format;
	int dlen;
	struct tm tm;

	if (p == NULL || len <= 0 || wc_GetDateInfo(p, len, &date, &format, &dlen) != 0)
		return 0;
	memset(&tm, 0, sizeof(tm));
	if (wc_GetDateAsCalendarTime(date, dlen, format, &tm) != 0)
		return 0;
	return (int64_t)timegm(&tm);
}

static void lower_copy(char *dst, const char *src, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = (char)(src[i] >= 'A' && src[i] <= 'Z' ? src[i] + 32 : src[i]);
	dst[n] = '\0';
}

/* Parse DER into C (no signature check). */
static int pcert_parse(pcert_t *c, const uint8_t *der, size_t len, const char **error_r)
{
	DecodedCert dc;
	int rc;

	memset(c, 0, sizeof(*c));
	if (len > sizeof(c->der)) {
		*error_r = "a certificate is larger than 8 KB";
		return SL_EINVAL;
	}
	memcpy(c->der, der, len);
	c->len = len;
	wc_InitDecodedCert(&dc, c->der, (word32)len, NULL);
	rc = wc_ParseCert(&dc, CERT_TYPE, NO_VERIFY, NULL);
	if (rc != 0) {
		wc_FreeDecodedCert(&dc);
		*error_r = ns_tls_err("a certificate does not parse (wolfCrypt %d)", rc);
		return SL_EINVAL;
	}
	snprintf(c->subject, sizeof(c->subject), "%s", dc.subject);
	snprintf(c->issuer, sizeof(c->issuer), "%s", dc.issuer);
	if (dc.subjectCN != NULL && dc.subjectCNLen > 0)
		snprintf(c->cn, sizeof(c->cn), "%.*s", dc.subjectCNLen, dc.subjectCN);
	c->self_signed = dc.selfSigned;
	c->is_ca = dc.isCA;
	c->key_oid = dc.keyOID;
	c->curve_oid = dc.pkCurveOID;
	if (dc.publicKey != NULL && dc.pubKeySize <= sizeof(c->pubkey)) {
		memcpy(c->pubkey, dc.publicKey, dc.pubKeySize);
		c->pubkey_len = dc.pubKeySize;
	}
	c->not_before = asn_time(dc.beforeDate, dc.beforeDateLen);
	c->not_after = asn_time(dc.afterDate, dc.afterDateLen);
	for (DNS_entry *e = dc.altNames; e != NULL && c->n_names < 32; e = e->next) {
		char *n;

		if (e->type != ASN_DNS_TYPE || e->len <= 0 || e->len > 253)
			continue;
		n = malloc((size_t)e->len + 1);
		if (n == NULL)
			break;
		lower_copy(n, e->name, (size_t)e->len);
		c->names[c->n_names++] = n;
	}
	wc_FreeDecodedCert(&dc);
	if (c->pubkey_len == 0) {
		pcert_free(c);
		*error_r = "a certificate has no usable public key";
		return SL_EINVAL;
	}
	return 0;
}

/* Every CERTIFICATE block of PEM, parsed, in order. Returns the count
 * (>= 1) or a negative sl_err. */
static int pem_chain(const uint8_t *pem, size_t len, pcert_t *out, unsigned max,
		     const char **error_r)
{
	const uint8_t *p = pem, *end = pem + len;
	unsigned n = 0;
	int rc;

	for (;;) {
		const uint8_t *b = memmem(p, (size_t)(end - p), pem_begin, sizeof(pem_begin) - 1);
		const uint8_t *e;
		uint8_t der[DER_MAX];
		int dlen;

		if (b == NULL)
			break;
		e = memmem(b, (size_t)(end - b), pem_end, sizeof(pem_end) - 1);
		if (e == NULL) {
			*error_r = "a certificate's PEM block has no END line";
			goto fail;
		}
		e += sizeof(pem_end) - 1;
		if (n == max) {
			*error_r = ns_tls_err("more than %u certificates in the chain", max);
			goto fail;
		}
		dlen = wc_CertPemToDer(b, (int)(e - b), der, sizeof(der), CERT_TYPE);
		if (dlen <= 0) {
			*error_r = ns_tls_err("certificate %u: bad PEM (wolfCrypt %d)", n + 1, dlen);
			goto fail;
		}
		rc = pcert_parse(&out[n], der, (size_t)dlen, error_r);
		if (rc < 0)
			goto fail;
		n++;
		p = e;
	}
	if (n == 0) {
		*error_r = "no CERTIFICATE block";
		return SL_EINVAL;
	}
	return (int)n;

fail:
	while (n > 0)
		pcert_free(&out[--n]);
	return SL_EINVAL;
}

/* SUBJECT (the issuer) signed C, by C's signature and names. */
static bool signed_by(const pcert_t *c, const pcert_t *subject)
{
	if (strcmp(c->issuer, subject->subject) != 0)
		return false;
	return wc_CheckCertSigPubKey(c->der, (word32)c->len, NULL, subject->pubkey,
				     subject->pubkey_len, (int)subject->key_oid) == 0;
}

/* Is LAST issued by an anchor in the PEM bundle at PATH? */
static int anchored(const pcert_t *last, const char *path, const char **error_r)
{
	sl_buf_t bundle;
	const uint8_t *p, *end;
	pcert_t *ca;
	int rc = SL_EINVAL;

	sl_buf_init(&bundle, 16 * PEM_FILE_MAX);
	rc = read_file(path, &bundle, error_r);
	if (rc < 0) {
		sl_buf_free(&bundle);
		return rc;
	}
	ca = malloc(sizeof(*ca));
	if (ca == NULL) {
		sl_buf_free(&bundle);
		return SL_ENOMEM;
	}
	rc = SL_EINVAL;
	p = bundle.data;
	end = bundle.data + bundle.len;
	while (p != NULL && p < end) {
		const uint8_t *b = memmem(p, (size_t)(end - p), pem_begin, sizeof(pem_begin) - 1);
		const uint8_t *e;
		uint8_t der[DER_MAX];
		int dlen;
		const char *ignored;

		if (b == NULL)
			break;
		e = memmem(b, (size_t)(end - b), pem_end, sizeof(pem_end) - 1);
		if (e == NULL)
			break;
		e += sizeof(pem_end) - 1;
		p = e;
		dlen = wc_CertPemToDer(b, (int)(e - b), der, sizeof(der), CERT_TYPE);
		if (dlen <= 0 || pcert_parse(ca, der, (size_t)dlen, &ignored) < 0)
			continue;
		if (signed_by(last, ca)) {
			rc = 0;
			pcert_free(ca);
			break;
		}
		pcert_free(ca);
	}
	free(ca);
	sl_buf_free(&bundle);
	if (rc < 0)
		*error_r = ns_tls_err("the chain is incomplete: no certificate for its issuer \"%s\" "
				      "(append the intermediate certificates to the chain file)",
				      last->issuer);
	return rc;
}

static const char *key_desc(const pcert_t *c, char *buf, size_t size, const char **error_r)
{
	if (c->key_oid == ECDSAk) {
		if (c->curve_oid == ECC_SECP256R1_OID)
			return "ECDSA P-256";
		if (c->curve_oid == ECC_SECP384R1_OID)
			return "ECDSA P-384";
		*error_r = "the key is ECDSA on a curve other than P-256 or P-384";
		return NULL;
	}
	if (c->key_oid == RSAk) {
		RsaKey rsa;
		word32 idx = 0;
		int bits;

		if (wc_InitRsaKey(&rsa, NULL) != 0)
			return NULL;
		if (wc_RsaPublicKeyDecode(c->pubkey, &idx, &rsa, c->pubkey_len) != 0) {
			wc_FreeRsaKey(&rsa);
			*error_r = "the RSA public key does not parse";
			return NULL;
		}
		bits = wc_RsaEncryptSize(&rsa) * 8;
		wc_FreeRsaKey(&rsa);
		if (bits < 2048) {
			*error_r = ns_tls_err("the RSA key has %d bits; 2048 is the minimum", bits);
			return NULL;
		}
		snprintf(buf, size, "RSA %d", bits);
		return buf;
	}
	*error_r = "the key is neither RSA nor ECDSA";
	return NULL;
}

/* wolfSSL 5.5.4's check_private_key does not compare ECDSA keys, so do it
 * here: derive the public point from the private key and compare it with
 * the certificate's (its SubjectPublicKeyInfo decoded), both exported as
 * X9.63 points. 0, SL_EINVAL or SL_ENOMEM. */
static int ecc_key_matches(const pcert_t *leaf, const sl_buf_t *key_pem)
{
	uint8_t der[DER_MAX], pub[256], cert_pub[256];
	word32 idx = 0, cidx = 0, pub_len = sizeof(pub), cert_pub_len = sizeof(cert_pub);
	ecc_key key, cert_key;
	int dlen, rc = SL_EINVAL;

	dlen = wc_KeyPemToDer(key_pem->data, (int)key_pem->len, der, sizeof(der), NULL);
	if (dlen <= 0)
		return SL_EINVAL;
	if (wc_ecc_init(&key) != 0)
		return SL_ENOMEM;
	if (wc_ecc_init(&cert_key) != 0) {
		wc_ecc_free(&key);
		return SL_ENOMEM;
	}
	if (wc_EccPrivateKeyDecode(der, &idx, &key, (word32)dlen) == 0 &&
	    wc_ecc_make_pub(&key, NULL) == 0 && wc_ecc_export_x963(&key, pub, &pub_len) == 0 &&
	    wc_EccPublicKeyDecode(leaf->pubkey, &cidx, &cert_key, leaf->pubkey_len) == 0 &&
	    wc_ecc_export_x963(&cert_key, cert_pub, &cert_pub_len) == 0 &&
	    pub_len == cert_pub_len && memcmp(pub, cert_pub, pub_len) == 0)
		rc = 0;
	wc_ecc_free(&key);
	wc_ecc_free(&cert_key);
	explicit_bzero(der, sizeof(der));
	return rc;
}

/* The key in KEY_PEM belongs to the certificate LEAF. */
static int key_matches(const pcert_t *leaf, const sl_buf_t *key_pem, const char **error_r)
{
	WOLFSSL_CTX *w = wolfSSL_CTX_new(wolfSSLv23_server_method());
	int rc = SL_EINVAL;

	if (w == NULL)
		return SL_ENOMEM;
	if (wolfSSL_CTX_use_certificate_buffer(w, leaf->der, (long)leaf->len,
					       WOLFSSL_FILETYPE_ASN1) != WOLFSSL_SUCCESS)
		*error_r = "wolfSSL refuses the leaf certificate";
	else if (wolfSSL_CTX_use_PrivateKey_buffer(w, key_pem->data, (long)key_pem->len,
						   WOLFSSL_FILETYPE_PEM) != WOLFSSL_SUCCESS)
		*error_r = "the private key does not parse, or does not match the certificate";
	else if (wolfSSL_CTX_check_private_key(w) != WOLFSSL_SUCCESS)
		*error_r = "the private key does not match the certificate";
	else if (leaf->key_oid == ECDSAk && ecc_key_matches(leaf, key_pem) < 0)
		*error_r = "the private key does not match the certificate";
	else
		rc = 0;
	wolfSSL_CTX_free(w);
	return rc;
}

static void join_names(char *dst, size_t size, char *const *names, unsigned n)
{
	size_t off = 0;

	dst[0] = '\0';
	for (unsigned i = 0; i < n && off + 1 < size; i++) {
		int k = snprintf(dst + off, size - off, "%s%s", i ? "," : "", names[i]);

		if (k < 0)
			break;
		off += (size_t)k;
	}
	if (off >= size)
		dst[size - 1] = '\0';
}

/* Validate CHAIN_PEM + KEY_PEM; fill INFO and (when NAMES_R) the SNI
 * names: configured ones, else the DNS SANs, else the CN. */
static int check_pem(const sl_buf_t *chain_pem, const sl_buf_t *key_pem, const char *ca_file,
		     const char *const *cfg_names, unsigned n_cfg_names, ns_tls_cert_info_t *info,
		     char ***names_r, unsigned *n_names_r, const char **error_r)
{
	pcert_t *chain;
	char kbuf[24];
	const char *kd;
	int64_t now = (int64_t)time(NULL);
	int n, rc;

	chain = calloc(CHAIN_MAX, sizeof(*chain));
	if (chain == NULL)
		return SL_ENOMEM;
	n = pem_chain(chain_pem->data, chain_pem->len, chain, CHAIN_MAX, error_r);
	if (n < 0) {
		free(chain);
		return n;
	}
	rc = SL_EINVAL;
	kd = key_desc(&chain[0], kbuf, sizeof(kbuf), error_r);
	if (kd == NULL)
		goto out;
	rc = key_matches(&chain[0], key_pem, error_r);
	if (rc < 0)
		goto out;
	rc = SL_EINVAL;
	for (int i = 0; i < n; i++) {
		if (chain[i].not_before > now) {
			*error_r = ns_tls_err("certificate %d (%s) is not valid yet", i + 1,
					      chain[i].subject);
			goto out;
		}
		if (chain[i].not_after < now) {
			*error_r = ns_tls_err("certificate %d (%s) has expired", i + 1,
					      chain[i].subject);
			goto out;
		}
		if (i + 1 < n && !signed_by(&chain[i], &chain[i + 1])) {
			*error_r = ns_tls_err("certificate %d (%s) is not signed by certificate %d "
					      "(%s): the chain is out of order or broken",
					      i + 1, chain[i].subject, i + 2, chain[i + 1].subject);
			goto out;
		}
	}
	if (chain[n - 1].self_signed) {
		if (!signed_by(&chain[n - 1], &chain[n - 1])) {
			*error_r = "the last certificate claims to be self-signed but its signature "
				   "does not verify";
			goto out;
		}
	} else {
		const char *bundle = ca_file != NULL ? ca_file : "/etc/ssl/certs/ca-certificates.crt";

		if (ca_file == NULL && access(bundle, R_OK) != 0) {
			*error_r = ns_tls_err("the chain is incomplete: it does not end in a "
					      "self-signed root and there is no trust store (%s) to "
					      "find its issuer \"%s\" in",
					      bundle, chain[n - 1].issuer);
			goto out;
		}
		rc = anchored(&chain[n - 1], bundle, error_r);
		if (rc < 0)
			goto out;
	}
	if (info != NULL) {
		memset(info, 0, sizeof(*info));
		snprintf(info->subject, sizeof(info->subject), "%s", chain[0].subject);
		snprintf(info->issuer, sizeof(info->issuer), "%s", chain[0].issuer);
		snprintf(info->key_type, sizeof(info->key_type), "%s", kd);
		info->not_before = chain[0].not_before;
		info->not_after = chain[0].not_after;
		info->chain_len = (unsigned)n;
		info->self_signed = chain[0].self_signed;
		ns_tls_fingerprint(chain[0].der, chain[0].len, info->fingerprint);
	}
	if (names_r != NULL) {
		unsigned k = n_cfg_names > 0 ? n_cfg_names : chain[0].n_names;
		char **names = calloc(k > 0 ? k : 1, sizeof(*names));

		rc = SL_ENOMEM;
		if (names == NULL)
			goto out;
		if (n_cfg_names > 0) {
			for (unsigned i = 0; i < k; i++) {
				size_t len = strnlen(cfg_names[i], 254);

				names[i] = malloc(len + 1);
				if (names[i] != NULL)
					lower_copy(names[i], cfg_names[i], len);
			}
		} else if (k > 0) {
			for (unsigned i = 0; i < k; i++)
				names[i] = strdup(chain[0].names[i]);
		} else if (chain[0].cn[0] != '\0') {
			names[0] = malloc(strlen(chain[0].cn) + 1);
			if (names[0] != NULL)
				lower_copy(names[0], chain[0].cn, strlen(chain[0].cn));
			k = 1;
		}
		for (unsigned i = 0; i < k; i++)
			if (names[i] == NULL) {
				for (unsigned j = 0; j < k; j++)
					free(names[j]);
				free(names);
				goto out;
			}
		*names_r = names;
		*n_names_r = k;
		if (info != NULL)
			join_names(info->names, sizeof(info->names), names, k);
	} else if (info != NULL) {
		join_names(info->names, sizeof(info->names), chain[0].names, chain[0].n_names);
	}
	rc = 0;

out:
	for (int i = 0; i < n; i++)
		pcert_free(&chain[i]);
	free(chain);
	return rc;
}

static int src_read(const ns_tls_cert_src_t *src, sl_buf_t *chain, sl_buf_t *key,
		    const char **error_r)
{
	int rc;

	if (src->cert_file != NULL)
		rc = read_file(src->cert_file, chain, error_r);
	else if (src->cert_pem != NULL)
		rc = sl_buf_append(chain, src->cert_pem, src->cert_pem_len);
	else
		rc = SL_EINVAL, *error_r = "no certificate given";
	if (rc < 0) {
		if (rc == SL_ELIMIT)
			*error_r = "the certificate PEM is too large";
		return rc == SL_ELIMIT ? SL_EINVAL : rc;
	}
	if (src->key_file != NULL)
		rc = read_file(src->key_file, key, error_r);
	else if (src->key_pem != NULL)
		rc = sl_buf_append(key, src->key_pem, src->key_pem_len);
	else
		rc = SL_EINVAL, *error_r = "no private key given";
	if (rc == SL_ELIMIT)
		*error_r = "the key PEM is too large";
	return rc == SL_ELIMIT ? SL_EINVAL : rc;
}

int ns_tls_cert_check(const ns_tls_cert_src_t *src, const char *ca_file,
		      ns_tls_cert_info_t *info_r, const char **error_r)
{
	sl_buf_t chain, key;
	int rc;

	if (ns_tls_global_init() < 0) {
		*error_r = "wolfSSL_Init failed";
		return SL_EIO;
	}
	sl_buf_init(&chain, PEM_FILE_MAX);
	sl_buf_init(&key, PEM_FILE_MAX);
	rc = src_read(src, &chain, &key, error_r);
	if (rc == 0)
		rc = check_pem(&chain, &key, ca_file, src->names, src->n_names, info_r, NULL, NULL,
			       error_r);
	sl_buf_free(&chain);
	if (key.data != NULL)
		memset(key.data, 0, key.len);
	sl_buf_free(&key);
	return rc;
}

int ns_tls_cert_load(const ns_tls_cert_src_t *src, const char *ca_file, ns_tls_cert_t *cert,
		     const char **error_r)
{
	int rc;

	memset(cert, 0, sizeof(*cert));
	sl_buf_init(&cert->chain_pem, PEM_FILE_MAX);
	sl_buf_init(&cert->key_pem, PEM_FILE_MAX);
	rc = src_read(src, &cert->chain_pem, &cert->key_pem, error_r);
	if (rc == 0)
		rc = check_pem(&cert->chain_pem, &cert->key_pem, ca_file, src->names, src->n_names,
			       &cert->info, &cert->names, &cert->n_names, error_r);
	if (rc < 0)
		ns_tls_cert_free(cert);
	return rc;
}

void ns_tls_cert_free(ns_tls_cert_t *cert)
{
	for (unsigned i = 0; i < cert->n_names; i++)
		free(cert->names[i]);
	free(cert->names);
	cert->names = NULL;
	cert->n_names = 0;
	sl_buf_free(&cert->chain_pem);
	if (cert->key_pem.data != NULL)
		memset(cert->key_pem.data, 0, cert->key_pem.len);
	sl_buf_free(&cert->key_pem);
}

bool ns_tls_name_match(const char *pattern, const char *name, size_t len)
{
	size_t plen = strlen(pattern);

	if (pattern[0] == '*' && pattern[1] == '.') {
		size_t suffix = plen - 1; /* ".example.com" */
		const char *dot;

		/* One whole label, and only one, stands for the '*'. */
		if (len <= suffix || strncasecmp(name + len - suffix, pattern + 1, suffix) != 0)
			return false;
		dot = memchr(name, '.', len - suffix);
		return dot == NULL;
	}
	return plen == len && strncasecmp(pattern, name, len) == 0;
}

/* ---- generation ---- */

static bool hostname_ok(const char *h)
{
	size_t n = strnlen(h, 254);

	if (n == 0 || n > 253 || h[0] == '.' || h[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = h[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '.' || (c == '*' && i == 0)))
			return false;
	}
	return true;
}

/* A CA's common name: printable ASCII. */
static bool cn_ok(const char *cn)
{
	size_t n = strnlen(cn, CTC_NAME_SIZE);

	if (n == 0 || n >= CTC_NAME_SIZE)
		return false;
	for (size_t i = 0; i < n; i++)
		if (cn[i] < 0x20 || cn[i] > 0x7e)
			return false;
	return true;
}

static size_t der_len(uint8_t *p, size_t len)
{
	if (len < 128) {
		p[0] = (uint8_t)len;
		return 1;
	}
	if (len < 256) {
		p[0] = 0x81;
		p[1] = (uint8_t)len;
		return 2;
	}
	p[0] = 0x82;
	p[1] = (uint8_t)(len >> 8);
	p[2] = (uint8_t)len;
	return 3;
}

/* GeneralNames with one dNSName, into the Cert's raw altNames. */
static void set_san(Cert *cert, const char *host)
{
	size_t h = strlen(host), inner, off = 0;
	uint8_t ilen[3];

	inner = 1 + der_len(ilen, h) + h;
	cert->altNames[off++] = 0x30; /* SEQUENCE */
	off += der_len(cert->altNames + off, inner);
	cert->altNames[off++] = 0x82; /* [2] dNSName, IA5String */
	off += der_len(cert->altNames + off, h);
	memcpy(cert->altNames + off, host, h);
	cert->altNamesSz = (int)(off + h);
}

typedef struct gen_key {
	int type; /* ECC_TYPE or RSA_TYPE */
	ecc_key ecc;
	RsaKey rsa;
	bool ecc_init, rsa_init;
} gen_key_t;

static void gen_key_free(gen_key_t *k)
{
	if (k->ecc_init)
		wc_ecc_free(&k->ecc);
	if (k->rsa_init)
		wc_FreeRsaKey(&k->rsa);
	k->ecc_init = k->rsa_init = false;
}

static void *gen_key_ptr(gen_key_t *k)
{
	return k->type == ECC_TYPE ? (void *)&k->ecc : (void *)&k->rsa;
}

/* A private key from PEM (EC or RSA, traditional or PKCS#8). */
static int key_from_pem(const sl_buf_t *pem, gen_key_t *k)
{
	uint8_t der[4096];
	word32 idx = 0;
	int dlen = wc_KeyPemToDer(pem->data, (int)pem->len, der, sizeof(der), NULL);

	if (dlen <= 0)
		return SL_EINVAL;
	if (wc_ecc_init(&k->ecc) == 0) {
		k->ecc_init = true;
		if (wc_EccPrivateKeyDecode(der, &idx, &k->ecc, (word32)dlen) == 0) {
			k->type = ECC_TYPE;
			return 0;
		}
		gen_key_free(k);
	}
	idx = 0;
	if (wc_InitRsaKey(&k->rsa, NULL) == 0) {
		k->rsa_init = true;
		if (wc_RsaPrivateKeyDecode(der, &idx, &k->rsa, (word32)dlen) == 0) {
			k->type = RSA_TYPE;
			return 0;
		}
		gen_key_free(k);
	}
	return SL_EINVAL;
}

static int append_pem(sl_buf_t *out, const uint8_t *der, int dlen, int type)
{
	uint8_t pem[DER_MAX * 2];
	int n = wc_DerToPem(der, (word32)dlen, pem, sizeof(pem), type);

	if (n <= 0)
		return SL_EIO;
	return sl_buf_append(out, pem, (size_t)n);
}

int ns_tls_cert_generate(const ns_tls_gen_params_t *p, sl_buf_t *cert_pem_r,
			 sl_buf_t *key_pem_r, const char **error_r)
{
	WC_RNG rng;
	gen_key_t key, issuer_key, *signer;
	Cert *cert = NULL;
	uint8_t *der = NULL;
	int dlen, rc = SL_EIO;
	bool rng_ok = false;

	memset(&key, 0, sizeof(key));
	memset(&issuer_key, 0, sizeof(issuer_key));
	if (ns_tls_global_init() < 0) {
		*error_r = "wolfSSL_Init failed";
		return SL_EIO;
	}
	if (p->hostname == NULL || (p->is_ca ? !cn_ok(p->hostname) : !hostname_ok(p->hostname))) {
		*error_r = p->is_ca ? "generate: not a valid CA name" : "generate: not a valid host name";
		return SL_EINVAL;
	}
	if ((p->issuer_cert_pem == NULL) != (p->issuer_key_pem == NULL)) {
		*error_r = "generate: an issuer needs both its certificate and its key";
		return SL_EINVAL;
	}
	cert = calloc(1, sizeof(*cert));
	der = malloc(DER_MAX);
	if (cert == NULL || der == NULL) {
		rc = SL_ENOMEM;
		goto out;
	}
	*error_r = "generate: wolfCrypt failed";
	if (wc_InitRng(&rng) != 0)
		goto out;
	rng_ok = true;
	if (p->key == NS_TLS_KEY_RSA_2048) {
		key.type = RSA_TYPE;
		if (wc_InitRsaKey(&key.rsa, NULL) != 0)
			goto out;
		key.rsa_init = true;
		if (wc_MakeRsaKey(&key.rsa, 2048, WC_RSA_EXPONENT, &rng) != 0)
			goto out;
	} else {
		key.type = ECC_TYPE;
		if (wc_ecc_init(&key.ecc) != 0)
			goto out;
		key.ecc_init = true;
		if (wc_ecc_make_key_ex(&rng, 32, &key.ecc, ECC_SECP256R1) != 0)
			goto out;
	}
	if (wc_InitCert(cert) != 0)
		goto out;
	snprintf(cert->subject.commonName, CTC_NAME_SIZE, "%s", p->hostname);
	cert->daysValid = p->days > 0 ? (int)p->days : 3650;
	cert->isCA = p->is_ca ? 1 : 0;
	if (!p->is_ca)
		set_san(cert, p->hostname);
	if (wc_SetKeyUsage(cert, p->is_ca ? "keyCertSign,cRLSign,digitalSignature"
					  : (key.type == RSA_TYPE ? "digitalSignature,keyEncipherment"
								  : "digitalSignature")) != 0)
		goto out;
	if (!p->is_ca && wc_SetExtKeyUsage(cert, "serverAuth") != 0)
		goto out;
	if (wc_SetSubjectKeyIdFromPublicKey_ex(cert, key.type, gen_key_ptr(&key)) != 0)
		goto out;
	if (p->issuer_cert_pem != NULL) {
		uint8_t idder[DER_MAX];
		int ilen = wc_CertPemToDer(p->issuer_cert_pem->data, (int)p->issuer_cert_pem->len,
					   idder, sizeof(idder), CERT_TYPE);

		if (ilen <= 0 || key_from_pem(p->issuer_key_pem, &issuer_key) < 0) {
			*error_r = "generate: the issuer certificate or key does not parse";
			rc = SL_EINVAL;
			goto out;
		}
		if (wc_SetIssuerBuffer(cert, idder, ilen) != 0 ||
		    wc_SetAuthKeyIdFromCert(cert, idder, ilen) != 0)
			goto out;
	} else {
		cert->selfSigned = 1;
	}
	signer = p->issuer_cert_pem != NULL ? &issuer_key : &key;
	cert->sigType = signer->type == ECC_TYPE ? CTC_SHA256wECDSA : CTC_SHA256wRSA;
	dlen = wc_MakeCert_ex(cert, der, DER_MAX, key.type, gen_key_ptr(&key), &rng);
	if (dlen <= 0)
		goto out;
	dlen = wc_SignCert_ex(cert->bodySz, cert->sigType, der, DER_MAX, signer->type,
			      gen_key_ptr(signer), &rng);
	if (dlen <= 0)
		goto out;
	rc = append_pem(cert_pem_r, der, dlen, CERT_TYPE);
	if (rc < 0)
		goto out;
	if (key.type == ECC_TYPE) {
		dlen = wc_EccKeyToDer(&key.ecc, der, DER_MAX);
		rc = dlen > 0 ? append_pem(key_pem_r, der, dlen, ECC_PRIVATEKEY_TYPE) : SL_EIO;
	} else {
		dlen = wc_RsaKeyToDer(&key.rsa, der, DER_MAX);
		rc = dlen > 0 ? append_pem(key_pem_r, der, dlen, PRIVATEKEY_TYPE) : SL_EIO;
	}

out:
	gen_key_free(&issuer_key);
	gen_key_free(&key);
	if (rng_ok)
		wc_FreeRng(&rng);
	if (der != NULL) {
		memset(der, 0, DER_MAX);
		free(der);
	}
	free(cert);
	return rc;
}

/* Write LEN bytes to PATH atomically (temporary file, fsync, rename). */
static int write_file(const char *path, const void *data, size_t len, mode_t mode,
		      const char **error_r)
{
	char tmp[4096];
	int fd, n;
	const uint8_t *p = data;

	n = snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		*error_r = "path too long";
		return SL_EINVAL;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		goto fail;
	while (len > 0) {
		ssize_t w = write(fd, p, len);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			close(fd);
			goto fail;
		}
		p += w;
		len -= (size_t)w;
	}
	if (fchmod(fd, mode) != 0 || fsync(fd) != 0) {
		close(fd);
		goto fail;
	}
	close(fd);
	if (rename(tmp, path) != 0)
		goto fail;
	return 0;

fail:
	*error_r = ns_tls_err("cannot write %s: %s", path, strerror(errno));
	unlink(tmp);
	return SL_EIO;
}

int ns_tls_selfsigned_ensure(const char *cert_path, const char *key_path, const char *hostname,
			     ns_tls_cert_info_t *info_r, const char **error_r)
{
	ns_tls_cert_src_t src = {.cert_file = cert_path, .key_file = key_path};
	ns_tls_gen_params_t gp = {.hostname = hostname, .key = NS_TLS_KEY_EC_P256, .days = 3650};
	bool have_cert = access(cert_path, F_OK) == 0, have_key = access(key_path, F_OK) == 0;
	ns_tls_cert_info_t info;
	sl_buf_t c, k;
	int rc;

	if (have_cert && have_key)
		return ns_tls_cert_check(&src, NULL, info_r, error_r);
	if (have_cert != have_key) {
		*error_r = ns_tls_err("%s exists but %s does not: not overwriting either",
				      have_cert ? cert_path : key_path, have_cert ? key_path : cert_path);
		return SL_EEXIST;
	}
	sl_buf_init(&c, PEM_FILE_MAX);
	sl_buf_init(&k, PEM_FILE_MAX);
	rc = ns_tls_cert_generate(&gp, &c, &k, error_r);
	if (rc == 0)
		rc = write_file(key_path, k.data, k.len, 0600, error_r);
	if (rc == 0)
		rc = write_file(cert_path, c.data, c.len, 0644, error_r);
	if (k.data != NULL)
		memset(k.data, 0, k.len);
	sl_buf_free(&c);
	sl_buf_free(&k);
	if (rc < 0)
		return rc;
	rc = ns_tls_cert_check(&src, NULL, &info, error_r);
	if (rc < 0)
		return rc;
	sl_log(SL_LOG_INFO, NS_TLS_LOG,
	       "generated a self-signed ECDSA P-256 certificate for %s (%s), SHA-256 fingerprint %s",
	       hostname, cert_path, info.fingerprint);
	if (info_r != NULL)
		*info_r = info;
	return 1;
}
