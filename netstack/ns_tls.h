/* ns_tls - TLS for netstack streams, on wolfSSL: configuration, per-lane
 * contexts, certificates.
 *
 * Three objects, three lifetimes:
 *
 *   ns_tls_config_t  what the operator configured: certificates (PEM chain +
 *                    key, parsed and validated once), protocol versions,
 *                    ciphers, groups, ticket secret, timeouts and caps.
 *                    Built on the control plane, immutable afterwards,
 *                    shared by every lane (reference counted, atomically).
 *   ns_tls_ctx_t     one per lane (worker lcore): a WOLFSSL_CTX per
 *                    certificate (SNI picks one), a client WOLFSSL_CTX, the
 *                    per-IP table of handshakes in progress, the ticket key
 *                    cache and the lane's counters. Never shared, never
 *                    locked. Streams (ns_stream.h) hold a reference, so a
 *                    lane can swap in a new context (`tls install`) while
 *                    old sessions finish on the old one.
 *   certificates     ns_tls_cert_* below: load and validate (key matches,
 *                    chain complete, key type and size), describe (subject,
 *                    names, expiry, SHA-256 fingerprint), and generate
 *                    (self-signed ECDSA P-256 for a first start).
 *
 * What our wolfSSL 5.5.4 build (mk/wolfssl.mk: Debian's source and patches,
 * built with the x86-64 assembly) gives us, and therefore what this layer
 * does, is documented in docs/tls.md.
 *
 * Threading: ns_tls_global_init, the ns_tls_config_* and ns_tls_cert_*
 * functions may run on any thread (the control plane); an ns_tls_ctx_t and
 * its streams belong to the lane whose stack they were created on. */
#ifndef NS_TLS_H
#define NS_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ns.h"
#include "sl_buf.h"

typedef struct ns_tls_config ns_tls_config_t;
typedef struct ns_tls_ctx ns_tls_ctx_t;

/* Protocol versions (the wire values). Only these two exist here. */
#define NS_TLS_1_2 0x0303
#define NS_TLS_1_3 0x0304

/* The default cipher list, server order: AEAD only, forward secret only.
 * ChaCha20-Poly1305 leads (it was chosen when the library had no AES-NI
 * code; with it AES-GCM seals faster, and neither limits a session:
 * docs/tls.md has the numbers). */
#define NS_TLS_CIPHERS_DEFAULT                                                 \
	"TLS13-CHACHA20-POLY1305-SHA256:TLS13-AES128-GCM-SHA256:"              \
	"TLS13-AES256-GCM-SHA384:"                                             \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"           \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"           \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384"

/* ns_tls_global_init - wolfSSL_Init, once per process; any thread, any
 * number of times. 0 or SL_EIO. Every other function here calls it. */
int ns_tls_global_init(void);

/* ---- Certificates ---- */

/* One certificate as configured: a PEM chain (leaf first, then the
 * intermediates; the root may follow) and its PEM private key, either from
 * files or from memory (the *_pem fields are used when the path is NULL). */
typedef struct ns_tls_cert_src {
	const char *cert_file;
	const char *key_file;
	const void *cert_pem;
	size_t cert_pem_len;
	const void *key_pem;
	size_t key_pem_len;
	/* Host names this certificate answers for in SNI, "*.example.com"
	 * matching one label. NULL: the leaf's DNS subjectAltNames, or its CN
	 * when it has none. */
	const char *const *names;
	unsigned n_names;
} ns_tls_cert_src_t;

#define NS_TLS_FP_LEN 96 /* "AB:CD:..." 32 bytes, NUL included */

/* What `sluicectl tls show` prints about a certificate. */
typedef struct ns_tls_cert_info {
	char subject[336];     /* "/CN=mx.example.com" */
	char issuer[336];
	char names[512];       /* SNI names, comma separated (truncated) */
	char key_type[24];     /* "ECDSA P-256", "RSA 2048" */
	int64_t not_before;    /* seconds since the epoch */
	int64_t not_after;
	unsigned chain_len;    /* certificates in the chain, leaf included */
	bool self_signed;      /* the leaf is its own issuer */
	char fingerprint[NS_TLS_FP_LEN]; /* SHA-256 of the leaf's DER */
} ns_tls_cert_info_t;

/* ns_tls_cert_check - validate a certificate chain and key for use as a
 * server certificate, as `tls install` needs:
 *   - every PEM block parses, the first is the leaf;
 *   - the key is RSA of 2048 bits or more, or ECDSA P-256 or P-384, and it
 *     matches the leaf's public key;
 *   - the chain is complete: each certificate is signed by the next one and
 *     is within its validity dates, and the last one is self-signed or
 *     signed by a trust anchor in CA_FILE (a PEM bundle; NULL: the system
 *     store /etc/ssl/certs/ca-certificates.crt, if present).
 * 0 and *INFO_R filled (INFO_R may be NULL), or SL_EINVAL with *error_r
 * saying which rule failed (thread-local text, valid until the next call on
 * this thread), SL_EIO for an unreadable file, SL_ENOMEM. */
int ns_tls_cert_check(const ns_tls_cert_src_t *src, const char *ca_file,
		      ns_tls_cert_info_t *info_r, const char **error_r);

/* Certificate generation (wolfCrypt's wc_MakeCert/wc_SignCert). */
enum ns_tls_key_kind { NS_TLS_KEY_EC_P256 = 0, NS_TLS_KEY_RSA_2048 = 1 };

typedef struct ns_tls_gen_params {
	const char *hostname;       /* CN and the one DNS subjectAltName (a CA:
				       the CN only, any printable text) */
	enum ns_tls_key_kind key;
	uint32_t days;              /* validity from now (0: 3650) */
	bool is_ca;                 /* basicConstraints CA:TRUE, keyCertSign */
	/* The issuer; both NULL: self-signed. */
	const sl_buf_t *issuer_cert_pem;
	const sl_buf_t *issuer_key_pem;
} ns_tls_gen_params_t;

/* ns_tls_cert_generate - a new key and certificate, both PEM, appended to
 * CERT_PEM_R and KEY_PEM_R (which the caller initialised and frees). 0,
 * SL_EINVAL (bad hostname or issuer) with *error_r, SL_ENOMEM, SL_EIO (the
 * RNG or wolfCrypt failed). */
int ns_tls_cert_generate(const ns_tls_gen_params_t *p, sl_buf_t *cert_pem_r,
			 sl_buf_t *key_pem_r, const char **error_r);

/* ns_tls_selfsigned_ensure - first-start certificate: when CERT_PATH and
 * KEY_PATH both exist, check them (ns_tls_cert_check, no CA file needed for
 * a self-signed one); when neither exists, generate a self-signed ECDSA
 * P-256 certificate for HOSTNAME, valid ten years, and store it (key file
 * mode 0600, each file written to a temporary name and renamed). Returns 1
 * when it generated, 0 when the files were there, or a negative sl_err with
 * *error_r (one file without the other is SL_EEXIST: the operator decides).
 * *INFO_R (may be NULL) describes the certificate, fingerprint included; a
 * generation is also logged with the fingerprint. */
int ns_tls_selfsigned_ensure(const char *cert_path, const char *key_path, const char *hostname,
			     ns_tls_cert_info_t *info_r, const char **error_r);

/* ns_tls_fingerprint - SHA-256 of DER as "AB:CD:..." into FP_R. */
void ns_tls_fingerprint(const uint8_t *der, size_t len, char fp_r[NS_TLS_FP_LEN]);

/* ---- Configuration (shared by the lanes) ---- */

typedef struct ns_tls_config_params {
	const ns_tls_cert_src_t *certs; /* the first is the default: no SNI, or
					   a name no certificate claims */
	unsigned n_certs;               /* 1..NS_TLS_CERTS_MAX; 0 = client only */
	const char *ca_file;            /* for the chain check and client
					   verification (NULL: system store) */
	uint16_t min_version;           /* NS_TLS_1_2 (default) or NS_TLS_1_3 */
	uint16_t max_version;           /* NS_TLS_1_3 (default) or NS_TLS_1_2 */
	const char *ciphers;            /* wolfSSL names; NULL: the default */
	uint64_t handshake_timeout_us;  /* from TLS start to done (default 10 s) */
	uint64_t linger_us;             /* a closed stream flushing its last
					   records (default 30 s), then RST */
	uint32_t handshakes_max;        /* in progress per lane (default 256) */
	uint32_t handshakes_per_ip;     /* in progress per lane and client
					   address (default 8) */
	uint32_t rx_buf;                /* decrypted bytes held per stream
					   before TCP's window closes (default
					   16384, min 1024) */
	bool no_tickets;                /* no session tickets (default: on) */
	uint32_t ticket_rotate_s;       /* a new ticket key every N s (3600) */
	uint32_t session_lifetime_s;    /* ticket lifetime (default 7200):
					   keys stay valid for decryption this
					   long after they stop encrypting */
	const uint8_t *ticket_secret;   /* 32 bytes shared by all lanes; NULL:
					   random, or inherited: */
	const ns_tls_config_t *ticket_secret_from; /* keep a reloaded config's
						      tickets valid */
	bool client_verify;             /* client streams verify the server's
					   chain against ca_file (default off:
					   opportunistic SMTP) */
	uint32_t fail_log_per_s;        /* failure log lines per second per
					   lane, the rest counted (default 20;
					   0 = unlimited) */
} ns_tls_config_params_t;

#define NS_TLS_CERTS_MAX 16

/* ns_tls_config_params_default - the defaults documented above. */
void ns_tls_config_params_default(ns_tls_config_params_t *p);

/* ns_tls_config_create - load and check every certificate
 * (ns_tls_cert_check) and the settings. 0 and *CFG_R with one reference, or
 * SL_EINVAL / SL_EIO / SL_ENOMEM with *error_r (thread-local text). Nothing
 * is kept from P: strings and PEM are copied. */
int ns_tls_config_create(const ns_tls_config_params_t *p, ns_tls_config_t **cfg_r,
			 const char **error_r);
/* ns_tls_config_ref / _unref - atomic; unref frees at zero and sets *CFG to
 * NULL. Every lane context made from a config holds a reference. */
ns_tls_config_t *ns_tls_config_ref(ns_tls_config_t *cfg);
void ns_tls_config_unref(ns_tls_config_t **cfg);
/* ns_tls_config_n_certs / _cert_info - what `tls show` prints. 0 or
 * SL_ENOENT. */
unsigned ns_tls_config_n_certs(const ns_tls_config_t *cfg);
int ns_tls_config_cert_info(const ns_tls_config_t *cfg, unsigned i, ns_tls_cert_info_t *r);

/* ---- The lane's context ---- */

/* ns_tls_ctx_create - the lane's wolfSSL contexts for CFG, on STACK (whose
 * clock and timer wheel the streams use). Takes a reference to CFG. 0 and
 * *CTX_R, or SL_ENOMEM / SL_EINVAL with *error_r. */
int ns_tls_ctx_create(ns_stack_t *stack, ns_tls_config_t *cfg, ns_tls_ctx_t **ctx_r,
		      const char **error_r);
/* ns_tls_ctx_destroy - the owner lets go; streams still using the context
 * keep it until they end (then it is freed). *CTX = NULL. Before the
 * stack is destroyed, every stream on it must be closed or aborted. */
void ns_tls_ctx_destroy(ns_tls_ctx_t **ctx);
const ns_tls_config_t *ns_tls_ctx_config(const ns_tls_ctx_t *ctx);

/* Per-lane counters. */
#define NS_TLS_STATS_FIELDS(X)                                                 \
	X(handshakes_started) X(handshakes_ok) X(handshakes_resumed)           \
	X(handshakes_failed) X(handshake_timeouts) X(handshakes_refused_ip)    \
	X(handshakes_refused_max) X(handshakes_current) X(tls12) X(tls13)      \
	X(sni_matched) X(sni_unknown) X(plaintext_discarded)                   \
	X(alerts_garbage) X(records_failed) X(truncated_eof)                   \
	X(tickets_issued) X(tickets_opened) X(tickets_renewed)                 \
	X(tickets_rejected)                                                    \
	X(fail_logs_suppressed) X(streams_tls)                                 \
	X(rsa_ifma_signs) X(rsa_ifma_fallbacks)

typedef struct ns_tls_stats {
#define NS_TLS_STATS_DECLARE(name) uint64_t name;
	NS_TLS_STATS_FIELDS(NS_TLS_STATS_DECLARE)
#undef NS_TLS_STATS_DECLARE
} ns_tls_stats_t;

extern const char *const ns_tls_stats_names[]; /* field order, NULL-ended */

/* ns_tls_ctx_get_stats - the lane's counters (lane thread). */
void ns_tls_ctx_get_stats(const ns_tls_ctx_t *ctx, ns_tls_stats_t *r);
/* ns_tls_ctx_last_failure - the text of the latest failed handshake on
 * this lane ("" if none); valid until the next failure. */
const char *ns_tls_ctx_last_failure(const ns_tls_ctx_t *ctx);

#endif
