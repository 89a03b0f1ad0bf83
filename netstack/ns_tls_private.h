/* ns_tls_private - what ns_stream.c, ns_tls.c, ns_tls_stream.c,
 * ns_tls_ticket.c and ns_tls_cert.c share, and nobody else (STYLE.md #3).
 *
 * Module ownership:
 *   ns_stream.c       the stream object, listeners, TCP callback dispatch,
 *                     event delivery (re-entrancy guard), the plain impl
 *   ns_tls_stream.c   the TLS impl: wolfSSL I/O callbacks, handshake,
 *                     record I/O, close_notify, failures and their logs
 *   ns_tls.c          config and per-lane context: WOLFSSL_CTX per cert,
 *                     SNI, handshake admission (per-IP table), counters
 *   ns_tls_ticket.c   session ticket keys: derivation, rotation, callback
 *   ns_tls_cert.c     PEM parsing, validation, description, generation */
#ifndef NS_TLS_PRIVATE_H
#define NS_TLS_PRIVATE_H

/* A configure-built options.h may define system macros (_FORTIFY_SOURCE);
 * the build's own flags decide those. options.h must precede every other
 * wolfSSL header so the structure layouts match the library's. */
#define WOLFSSL_OPTIONS_IGNORE_SYS
#include <wolfssl/options.h>
/* Our library is built from Debian's source with other options than
 * Debian's package (mk/wolfssl.mk): structures such as WOLFSSL_CTX, Aes or
 * ecc_key differ in layout between the two, so compiling against the other
 * one's headers breaks silently at run time. Refuse it here. */
#ifndef SLUICE_WOLFSSL
#error "wolfSSL headers are not Sluice's build (build/third_party/wolfssl): see mk/wolfssl.mk"
#endif
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/random.h>

#include "ns_private.h"
#include "ns_stream.h"
#include "ns_tls.h"
#include "sl_timer.h"

#define NS_TLS_LOG "tls"
#define NS_TLS_RECORD_MAX 16384
/* Ciphertext a TLS stream holds when TCP's send queue cannot take a whole
 * record or handshake flight: the bound of ns_stream_send's promise. */
#define NS_TLS_OV_MAX (64 * 1024)
#define NS_TLS_TICKET_SECRET_LEN 32
#define NS_TLS_TICKET_KEYS 4 /* derived keys cached per lane */
#define NS_TLS_TICKET_MAX 4096 /* sealed session bytes we handle */

/* ---- the stream (ns_stream.c) ---- */

/* One implementation of the stream calls: plain (ns_stream.c) or TLS
 * (ns_tls_stream.c). STARTTLS swaps st->impl. The on_* entries are the
 * TCP events, delivered with the stream already looked up. */
typedef struct ns_stream_impl {
	ssize_t (*send)(ns_stream_t *st, const void *data, size_t len);
	size_t (*send_space)(const ns_stream_t *st);
	unsigned (*peek)(ns_stream_t *st, sl_slice_t *iov, unsigned n);
	void (*consume)(ns_stream_t *st, size_t len);
	size_t (*readable)(ns_stream_t *st);
	bool (*eof)(ns_stream_t *st);
	int (*shutdown)(ns_stream_t *st);
	void (*close)(ns_stream_t *st);
	void (*abort)(ns_stream_t *st);
	void (*on_data)(ns_stream_t *st);
	void (*on_writable)(ns_stream_t *st);
	void (*on_closed)(ns_stream_t *st, int reason);
	void (*destroy)(ns_stream_t *st); /* free impl state (not the conn) */
} ns_stream_impl_t;

typedef struct ns_tls_conn ns_tls_conn_t;

struct ns_stream {
	ns_stack_t *stack;
	ns_conn_t *conn;            /* NULL once closed, aborted or gone */
	const ns_stream_impl_t *impl;
	ns_stream_ops_t ops;
	void *ctx;
	ns_tls_conn_t *tls;         /* NULL while plain */
	uint32_t remote_ip;         /* network order */
	uint16_t remote_port;
	uint16_t depth;             /* app events running on this stream */
	bool app_gone;              /* closed/aborted by the app, or `closed`
				       delivered: no more events */
	bool dead;                  /* free once depth is back to 0 */
};

extern const ns_stream_impl_t ns_stream_plain_impl;
extern const ns_stream_impl_t ns_tls_stream_impl;

/* Event delivery to the app. Each returns false when the stream is gone
 * (the app closed it inside the event): the caller must not touch ST. */
bool ns_stream_ev_data(ns_stream_t *st);
bool ns_stream_ev_writable(ns_stream_t *st);
bool ns_stream_ev_secured(ns_stream_t *st);
/* ns_stream_ev_closed - `closed` (once, unless the app already let go),
 * then the stream is released. ST is invalid afterwards. */
void ns_stream_ev_closed(ns_stream_t *st, int reason);
/* ns_stream_release - free the impl state and the stream (now, or when
 * the event running on it returns). The conn must be gone already. */
void ns_stream_release(ns_stream_t *st);
/* ns_stream_detach_conn - forget the TCP connection (it was closed,
 * aborted, or died): clears its ctx and st->conn. */
void ns_stream_detach_conn(ns_stream_t *st);

/* ---- the TLS impl (ns_tls_stream.c) ---- */

/* ns_tls_stream_start - make ST a TLS stream on CTX (server or client),
 * in place. The caller has already discarded unread plaintext. A server is
 * admitted against the handshake caps first (SL_ELIMIT: nothing changed).
 * A client sends its ClientHello at once. 0, SL_ELIMIT, SL_ENOMEM,
 * SL_EPROTO (client: wolfSSL failed to start; the stream is failed). */
int ns_tls_stream_start(ns_stream_t *st, ns_tls_ctx_t *ctx, bool server, const char *sni);
int ns_tls_stream_info(ns_stream_t *st, ns_tls_info_t *r);
bool ns_tls_stream_secured(const ns_stream_t *st);
/* ns_tls_stream_once - true the first time BIT is asked for on ST (wolfSSL
 * may run the ticket callback several times per handshake; counters count
 * handshakes). False for a NULL stream. */
bool ns_tls_stream_once(ns_stream_t *st, unsigned bit);
/* Which certificate SNI chose (ns_tls.c's callback tells the stream). */
void ns_tls_stream_set_cert(ns_stream_t *st, unsigned idx);

/* ---- config and lane context (ns_tls.c) ---- */

typedef struct ns_tls_cert {
	sl_buf_t chain_pem;        /* as configured */
	sl_buf_t key_pem;
	char **names;              /* lower case; "*.x" wildcards */
	unsigned n_names;
	ns_tls_cert_info_t info;
} ns_tls_cert_t;

struct ns_tls_config {
	int refs;                  /* atomic */
	ns_tls_config_params_t p;  /* pointers below replace P's */
	char *ciphers;
	char *ca_file;
	ns_tls_cert_t certs[NS_TLS_CERTS_MAX];
	unsigned n_certs;
	uint8_t ticket_secret[NS_TLS_TICKET_SECRET_LEN];
	uint8_t ticket_key_id[4];  /* tells tickets of other secrets apart */
};

typedef struct ns_tls_ip_slot {
	uint32_t ip;               /* 0 = empty */
	uint32_t count;
} ns_tls_ip_slot_t;

typedef struct ns_tls_ticket_key {
	uint64_t epoch;
	bool valid;
	uint8_t key[32];
} ns_tls_ticket_key_t;

struct ns_tls_ctx {
	ns_stack_t *stack;
	ns_tls_config_t *cfg;
	unsigned refs;             /* owner + listeners + TLS streams */
	WOLFSSL_CTX *srv[NS_TLS_CERTS_MAX];
	unsigned n_srv;
	WOLFSSL_CTX *cli;
	ns_tls_ip_slot_t *ipt;
	uint32_t ipt_mask;
	WC_RNG rng;
	bool rng_ok;
	ns_tls_ticket_key_t keys[NS_TLS_TICKET_KEYS];
	unsigned key_next;
	/* The ticket last opened in place (wolfSSL 5.5.4 hands the same buffer
	 * back once per cipher suite it tries; see ns_tls_ticket.c). */
	const unsigned char *opened_ptr;
	int opened_len;
	int opened_rc;
	uint8_t opened_name[16], opened_iv[16], opened_mac[32];
	uint8_t opened[NS_TLS_TICKET_MAX];
	/* RSA-2048 server keys in the IFMA engine's form (ns_tls_rsa.c),
	 * made on first use; freed with the context. */
	struct ns_tls_rsa_key *rsa_keys[NS_TLS_CERTS_MAX];
	unsigned n_rsa_keys;
	ns_tls_stats_t stats;
	uint64_t log_window;       /* start of the current second */
	uint32_t log_count;        /* lines logged in it */
	char last_failure[320];
};

void ns_tls_ctx_ref(ns_tls_ctx_t *ctx);
void ns_tls_ctx_unref(ns_tls_ctx_t **ctx);
/* Handshake admission: SL_ELIMIT when the lane or IP (network order) is at
 * its cap; otherwise counts it. release undoes one admit. */
int ns_tls_hs_admit(ns_tls_ctx_t *ctx, uint32_t ip);
void ns_tls_hs_release(ns_tls_ctx_t *ctx, uint32_t ip);
/* ns_tls_fail_log - one failure line, rate limited per lane; always kept
 * as the last failure. */
void ns_tls_fail_log(ns_tls_ctx_t *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- tickets (ns_tls_ticket.c) ---- */

/* wolfSSL's SessionTicketEncCb; user ctx = the lane's ns_tls_ctx_t. */
int ns_tls_ticket_cb(WOLFSSL *ssl, unsigned char key_name[WOLFSSL_TICKET_NAME_SZ],
		     unsigned char iv[WOLFSSL_TICKET_IV_SZ],
		     unsigned char mac[WOLFSSL_TICKET_MAC_SZ], int enc, unsigned char *ticket,
		     int in_len, int *out_len, void *user);
/* ns_tls_ticket_epoch - the key epoch at NOW_US (rotation counter). */
uint64_t ns_tls_ticket_epoch(const ns_tls_config_t *cfg, uint64_t now_us);
/* ns_tls_ticket_key_id - the 4 bytes naming SECRET in tickets. */
void ns_tls_ticket_key_id(const uint8_t secret[NS_TLS_TICKET_SECRET_LEN], uint8_t id_r[4]);

/* ---- the RSA-2048 signer (ns_tls_rsa.c) ---- */

/* ns_tls_rsa_ctx_setup - route W's RSA signatures (PSS and PKCS#1 v1.5)
 * to the IFMA engine when CERT's key is RSA-2048 and the CPU has IFMA;
 * otherwise leave W to wolfSSL's own signer. */
void ns_tls_rsa_ctx_setup(WOLFSSL_CTX *w, const ns_tls_cert_t *cert);
/* ns_tls_rsa_ssl_setup - give a server SSL the lane context its
 * callbacks find their keys in. */
void ns_tls_rsa_ssl_setup(WOLFSSL *ssl, ns_tls_ctx_t *ctx);
/* ns_tls_rsa_ctx_free - zeroise and free the lane's engine keys. */
void ns_tls_rsa_ctx_free(ns_tls_ctx_t *ctx);

/* ---- certificates (ns_tls_cert.c) ---- */

/* ns_tls_cert_load - read SRC (files or memory) into CERT (PEM copies,
 * names) and validate it with ns_tls_cert_check. 0 or sl_err with
 * *error_r. CERT is cleared on failure. */
int ns_tls_cert_load(const ns_tls_cert_src_t *src, const char *ca_file, ns_tls_cert_t *cert,
		     const char **error_r);
void ns_tls_cert_free(ns_tls_cert_t *cert);
/* ns_tls_name_match - does host name NAME (LEN bytes, any case) match
 * PATTERN (lower case, maybe "*.x")? */
bool ns_tls_name_match(const char *pattern, const char *name, size_t len);
/* ns_tls_errbuf - the thread's error text buffer (error_r targets). */
char *ns_tls_errbuf(size_t *size_r);
const char *ns_tls_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
