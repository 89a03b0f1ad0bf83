/* ns_tls - TLS configuration (shared) and the per-lane contexts.
 *
 * A lane's context holds one WOLFSSL_CTX per configured certificate. Every
 * server handshake starts on the first (the default); wolfSSL calls
 * sni_cb once it has parsed the ClientHello's server_name, and sni_cb moves
 * the WOLFSSL object to the context of the certificate that claims the name
 * (wolfSSL_set_SSL_CTX), before any cipher suite or certificate is chosen.
 *
 * Admission: a lane lets at most handshakes_max handshakes run at once,
 * and at most handshakes_per_ip from one client address (an open-addressing
 * table sized 2x handshakes_max, backward-shift deletion). */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ns_tls_private.h"
#include "sl_err.h"
#include "sl_log.h"
#include "sl_time.h"

const char *const ns_tls_stats_names[] = {
#define NS_TLS_STATS_NAME(n) #n,
	NS_TLS_STATS_FIELDS(NS_TLS_STATS_NAME)
#undef NS_TLS_STATS_NAME
	NULL};

/* ---- process-wide ---- */

static pthread_once_t tls_once = PTHREAD_ONCE_INIT;
static int tls_init_rc;

static void tls_init_once(void)
{
	tls_init_rc = wolfSSL_Init() == WOLFSSL_SUCCESS ? 0 : SL_EIO;
}

int ns_tls_global_init(void)
{
	pthread_once(&tls_once, tls_init_once);
	return tls_init_rc;
}

char *ns_tls_errbuf(size_t *size_r)
{
	static __thread char buf[384];

	*size_r = sizeof(buf);
	return buf;
}

const char *ns_tls_err(const char *fmt, ...)
{
	size_t size;
	char *buf = ns_tls_errbuf(&size);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return buf;
}

/* ---- configuration ---- */

void ns_tls_config_params_default(ns_tls_config_params_t *p)
{
	memset(p, 0, sizeof(*p));
	p->min_version = NS_TLS_1_2;
	p->max_version = NS_TLS_1_3;
	p->handshake_timeout_us = 10 * SL_US_PER_S;
	p->linger_us = 30 * SL_US_PER_S;
	p->handshakes_max = 256;
	p->handshakes_per_ip = 8;
	p->rx_buf = 16384;
	p->ticket_rotate_s = 3600;
	p->session_lifetime_s = 7200;
	p->fail_log_per_s = 20;
}

static char *dup_or_null(const char *s)
{
	return s != NULL ? strdup(s) : NULL;
}

static void config_free(ns_tls_config_t *cfg)
{
	for (unsigned i = 0; i < cfg->n_certs; i++)
		ns_tls_cert_free(&cfg->certs[i]);
	free(cfg->ciphers);
	free(cfg->ca_file);
	memset(cfg->ticket_secret, 0, sizeof(cfg->ticket_secret));
	free(cfg);
}

int ns_tls_config_create(const ns_tls_config_params_t *p, ns_tls_config_t **cfg_r,
			 const char **error_r)
{
	ns_tls_config_t *cfg;
	WC_RNG rng;
	int rc;

	*cfg_r = NULL;
	if (ns_tls_global_init() < 0) {
		*error_r = "wolfSSL_Init failed";
		return SL_EIO;
	}
	if (p->n_certs > NS_TLS_CERTS_MAX || (p->n_certs > 0 && p->certs == NULL)) {
		*error_r = "tls: at most 16 certificates";
		return SL_EINVAL;
	}
	if ((p->min_version != NS_TLS_1_2 && p->min_version != NS_TLS_1_3) ||
	    (p->max_version != NS_TLS_1_2 && p->max_version != NS_TLS_1_3) ||
	    p->min_version > p->max_version) {
		*error_r = "tls: versions must be TLS 1.2 or 1.3, min <= max";
		return SL_EINVAL;
	}
	if (p->handshake_timeout_us == 0 || p->handshakes_max == 0 || p->handshakes_per_ip == 0 ||
	    p->rx_buf < 1024 || p->rx_buf > (1u << 24) || p->ticket_rotate_s == 0 ||
	    p->session_lifetime_s == 0 || p->linger_us == 0) {
		*error_r = "tls: a timeout, cap or buffer size is zero or out of range";
		return SL_EINVAL;
	}
	cfg = calloc(1, sizeof(*cfg));
	if (cfg == NULL)
		return SL_ENOMEM;
	cfg->refs = 1;
	cfg->p = *p;
	cfg->p.certs = NULL;
	cfg->p.ticket_secret = NULL;
	cfg->p.ticket_secret_from = NULL;
	cfg->ciphers = strdup(p->ciphers != NULL ? p->ciphers : NS_TLS_CIPHERS_DEFAULT);
	cfg->ca_file = dup_or_null(p->ca_file);
	if (cfg->ciphers == NULL || (p->ca_file != NULL && cfg->ca_file == NULL)) {
		rc = SL_ENOMEM;
		goto fail;
	}
	cfg->p.ciphers = cfg->ciphers;
	cfg->p.ca_file = cfg->ca_file;
	for (unsigned i = 0; i < p->n_certs; i++) {
		rc = ns_tls_cert_load(&p->certs[i], cfg->ca_file, &cfg->certs[i], error_r);
		if (rc < 0) {
			*error_r = ns_tls_err("certificate %u (%s): %s", i + 1,
					      p->certs[i].cert_file ? p->certs[i].cert_file : "in memory",
					      *error_r);
			goto fail;
		}
		cfg->n_certs++;
	}
	if (p->ticket_secret != NULL) {
		memcpy(cfg->ticket_secret, p->ticket_secret, NS_TLS_TICKET_SECRET_LEN);
	} else if (p->ticket_secret_from != NULL) {
		memcpy(cfg->ticket_secret, p->ticket_secret_from->ticket_secret,
		       NS_TLS_TICKET_SECRET_LEN);
	} else {
		if (wc_InitRng(&rng) != 0) {
			*error_r = "tls: no random numbers";
			rc = SL_EIO;
			goto fail;
		}
		rc = wc_RNG_GenerateBlock(&rng, cfg->ticket_secret, NS_TLS_TICKET_SECRET_LEN);
		wc_FreeRng(&rng);
		if (rc != 0) {
			*error_r = "tls: no random numbers";
			rc = SL_EIO;
			goto fail;
		}
	}
	ns_tls_ticket_key_id(cfg->ticket_secret, cfg->ticket_key_id);
	*cfg_r = cfg;
	return 0;

fail:
	config_free(cfg);
	return rc;
}

ns_tls_config_t *ns_tls_config_ref(ns_tls_config_t *cfg)
{
	__atomic_add_fetch(&cfg->refs, 1, __ATOMIC_RELAXED);
	return cfg;
}

void ns_tls_config_unref(ns_tls_config_t **cfgp)
{
	ns_tls_config_t *cfg = *cfgp;

	if (cfg == NULL)
		return;
	*cfgp = NULL;
	if (__atomic_sub_fetch(&cfg->refs, 1, __ATOMIC_ACQ_REL) == 0)
		config_free(cfg);
}

unsigned ns_tls_config_n_certs(const ns_tls_config_t *cfg)
{
	return cfg->n_certs;
}

int ns_tls_config_cert_info(const ns_tls_config_t *cfg, unsigned i, ns_tls_cert_info_t *r)
{
	if (i >= cfg->n_certs)
		return SL_ENOENT;
	*r = cfg->certs[i].info;
	return 0;
}

/* ---- SNI ---- */

/* The certificate for NAME: an exact name wins over a wildcard, an
 * earlier certificate over a later one; -1 when none claims it. */
static int cert_for_name(const ns_tls_config_t *cfg, const char *name, size_t len)
{
	int wild = -1;

	for (unsigned i = 0; i < cfg->n_certs; i++)
		for (unsigned j = 0; j < cfg->certs[i].n_names; j++) {
			const char *pat = cfg->certs[i].names[j];

			if (pat[0] != '*') {
				if (strlen(pat) == len && strncasecmp(pat, name, len) == 0)
					return (int)i;
			} else if (wild < 0 && ns_tls_name_match(pat, name, len)) {
				wild = (int)i;
			}
		}
	return wild;
}

static int sni_cb(WOLFSSL *ssl, int *alert_r, void *arg)
{
	ns_tls_ctx_t *ctx = arg;
	ns_stream_t *st = wolfSSL_GetIOReadCtx(ssl);
	const char *name = wolfSSL_get_servername(ssl, WOLFSSL_SNI_HOST_NAME);
	int idx;

	(void)alert_r;
	if (name == NULL || name[0] == '\0')
		return 0; /* no SNI: the default certificate */
	idx = cert_for_name(ctx->cfg, name, strnlen(name, 256));
	/* Counted once per handshake: after a HelloRetryRequest the second
	 * ClientHello comes through here again. */
	if (idx < 0) {
		if (ns_tls_stream_once(st, 2))
			ctx->stats.sni_unknown++;
		return 0; /* the default, as most servers do */
	}
	if (ns_tls_stream_once(st, 2))
		ctx->stats.sni_matched++;
	if (idx > 0 && (unsigned)idx < ctx->n_srv)
		wolfSSL_set_SSL_CTX(ssl, ctx->srv[idx]);
	if (st != NULL)
		ns_tls_stream_set_cert(st, (unsigned)idx);
	return 0;
}

/* ---- the lane's context ---- */

static int ctx_common(WOLFSSL_CTX *w, const ns_tls_config_t *cfg, const char **error_r)
{
	static int groups[] = {WOLFSSL_ECC_X25519, WOLFSSL_ECC_SECP256R1, WOLFSSL_ECC_SECP384R1};

	if (wolfSSL_CTX_SetMinVersion(w, cfg->p.min_version == NS_TLS_1_3 ? WOLFSSL_TLSV1_3
									  : WOLFSSL_TLSV1_2) !=
	    WOLFSSL_SUCCESS) {
		*error_r = "tls: cannot set the minimum version";
		return SL_EINVAL;
	}
	if (cfg->p.max_version == NS_TLS_1_2 &&
	    wolfSSL_CTX_set_max_proto_version(w, TLS1_2_VERSION) != WOLFSSL_SUCCESS) {
		*error_r = "tls: cannot set the maximum version";
		return SL_EINVAL;
	}
	if (wolfSSL_CTX_set_cipher_list(w, cfg->ciphers) != WOLFSSL_SUCCESS) {
		*error_r = ns_tls_err("tls: wolfSSL refuses the cipher list \"%s\"", cfg->ciphers);
		return SL_EINVAL;
	}
	/* ECDHE only: no finite-field DH groups are offered or accepted. */
	if (wolfSSL_CTX_set_groups(w, groups, (int)(sizeof(groups) / sizeof(groups[0]))) !=
	    WOLFSSL_SUCCESS) {
		*error_r = "tls: cannot set the key exchange groups";
		return SL_EINVAL;
	}
	/* Sessions live in tickets only: no process-wide cache (and its
	 * lock shared by the lanes). */
	wolfSSL_CTX_set_session_cache_mode(w, WOLFSSL_SESS_CACHE_OFF);
	return 0;
}

static WOLFSSL_CTX *server_ctx(ns_tls_ctx_t *ctx, const ns_tls_cert_t *cert, const char **error_r,
			       int *rc_r)
{
	const ns_tls_config_t *cfg = ctx->cfg;
	WOLFSSL_CTX *w = wolfSSL_CTX_new(wolfSSLv23_server_method());

	*rc_r = SL_ENOMEM;
	if (w == NULL) {
		*error_r = "tls: out of memory";
		return NULL;
	}
	*rc_r = ctx_common(w, cfg, error_r);
	if (*rc_r < 0)
		goto fail;
	*rc_r = SL_EINVAL;
	if (wolfSSL_CTX_use_certificate_chain_buffer(w, cert->chain_pem.data,
						     (long)cert->chain_pem.len) != WOLFSSL_SUCCESS ||
	    wolfSSL_CTX_use_PrivateKey_buffer(w, cert->key_pem.data, (long)cert->key_pem.len,
					      WOLFSSL_FILETYPE_PEM) != WOLFSSL_SUCCESS) {
		*error_r = "tls: wolfSSL refuses a certificate or key that passed the checks";
		goto fail;
	}
	wolfSSL_CTX_set_verify(w, WOLFSSL_VERIFY_NONE, NULL);
	ns_tls_rsa_ctx_setup(w, cert);
	wolfSSL_CTX_set_servername_callback(w, sni_cb);
	wolfSSL_CTX_set_servername_arg(w, ctx);
	if (cfg->p.no_tickets) {
		wolfSSL_CTX_NoTicketTLSv12(w);
		wolfSSL_CTX_set_num_tickets(w, 0);
	} else {
		wolfSSL_CTX_set_TicketEncCb(w, ns_tls_ticket_cb);
		wolfSSL_CTX_set_TicketEncCtx(w, ctx);
		wolfSSL_CTX_set_timeout(w, cfg->p.session_lifetime_s);
	}
	/* Our order, not the client's (NS_TLS_CIPHERS_DEFAULT says why). */
	wolfSSL_CTX_set_options(w, WOLFSSL_OP_CIPHER_SERVER_PREFERENCE);
	*rc_r = 0;
	return w;

fail:
	wolfSSL_CTX_free(w);
	return NULL;
}

static WOLFSSL_CTX *client_ctx(const ns_tls_config_t *cfg, const char **error_r, int *rc_r)
{
	WOLFSSL_CTX *w = wolfSSL_CTX_new(wolfSSLv23_client_method());

	*rc_r = SL_ENOMEM;
	if (w == NULL) {
		*error_r = "tls: out of memory";
		return NULL;
	}
	*rc_r = ctx_common(w, cfg, error_r);
	if (*rc_r < 0)
		goto fail;
	if (cfg->p.client_verify) {
		const char *ca = cfg->ca_file != NULL ? cfg->ca_file
						      : "/etc/ssl/certs/ca-certificates.crt";

		if (wolfSSL_CTX_load_verify_locations(w, ca, NULL) != WOLFSSL_SUCCESS) {
			*error_r = ns_tls_err("tls: cannot load trust anchors from %s", ca);
			*rc_r = SL_EINVAL;
			goto fail;
		}
		wolfSSL_CTX_set_verify(w, WOLFSSL_VERIFY_PEER, NULL);
	} else {
		wolfSSL_CTX_set_verify(w, WOLFSSL_VERIFY_NONE, NULL);
	}
	*rc_r = 0;
	return w;

fail:
	wolfSSL_CTX_free(w);
	return NULL;
}

static void ctx_free(ns_tls_ctx_t *ctx)
{
	for (unsigned i = 0; i < ctx->n_srv; i++)
		wolfSSL_CTX_free(ctx->srv[i]);
	if (ctx->cli != NULL)
		wolfSSL_CTX_free(ctx->cli);
	ns_tls_rsa_ctx_free(ctx); /* before the RNG its keys point to */
	if (ctx->rng_ok)
		wc_FreeRng(&ctx->rng);
	memset(ctx->keys, 0, sizeof(ctx->keys));
	memset(ctx->opened, 0, sizeof(ctx->opened));
	free(ctx->ipt);
	ns_tls_config_unref(&ctx->cfg);
	free(ctx);
}

int ns_tls_ctx_create(ns_stack_t *stack, ns_tls_config_t *cfg, ns_tls_ctx_t **ctx_r,
		      const char **error_r)
{
	ns_tls_ctx_t *ctx;
	uint32_t cap = 16;
	int rc;

	*ctx_r = NULL;
	if (ns_tls_global_init() < 0) {
		*error_r = "wolfSSL_Init failed";
		return SL_EIO;
	}
	if (stack == NULL || cfg == NULL) {
		*error_r = "tls: no stack or config";
		return SL_EINVAL;
	}
	ctx = calloc(1, sizeof(*ctx));
	if (ctx == NULL)
		return SL_ENOMEM;
	ctx->stack = stack;
	ctx->cfg = ns_tls_config_ref(cfg);
	ctx->refs = 1;
	while (cap < 2 * cfg->p.handshakes_max && cap < (1u << 24))
		cap <<= 1;
	ctx->ipt = calloc(cap, sizeof(*ctx->ipt));
	ctx->ipt_mask = cap - 1;
	if (ctx->ipt == NULL) {
		rc = SL_ENOMEM;
		*error_r = "tls: out of memory";
		goto fail;
	}
	if (wc_InitRng(&ctx->rng) != 0) {
		rc = SL_EIO;
		*error_r = "tls: no random numbers";
		goto fail;
	}
	ctx->rng_ok = true;
	for (unsigned i = 0; i < cfg->n_certs; i++) {
		ctx->srv[i] = server_ctx(ctx, &cfg->certs[i], error_r, &rc);
		if (ctx->srv[i] == NULL)
			goto fail;
		ctx->n_srv++;
	}
	ctx->cli = client_ctx(cfg, error_r, &rc);
	if (ctx->cli == NULL)
		goto fail;
	*ctx_r = ctx;
	return 0;

fail:
	ctx_free(ctx);
	return rc;
}

void ns_tls_ctx_ref(ns_tls_ctx_t *ctx)
{
	ctx->refs++;
}

void ns_tls_ctx_unref(ns_tls_ctx_t **ctxp)
{
	ns_tls_ctx_t *ctx = *ctxp;

	if (ctx == NULL)
		return;
	*ctxp = NULL;
	if (--ctx->refs == 0)
		ctx_free(ctx);
}

void ns_tls_ctx_destroy(ns_tls_ctx_t **ctxp)
{
	ns_tls_ctx_unref(ctxp);
}

const ns_tls_config_t *ns_tls_ctx_config(const ns_tls_ctx_t *ctx)
{
	return ctx->cfg;
}

void ns_tls_ctx_get_stats(const ns_tls_ctx_t *ctx, ns_tls_stats_t *r)
{
	*r = ctx->stats;
}

const char *ns_tls_ctx_last_failure(const ns_tls_ctx_t *ctx)
{
	return ctx->last_failure;
}

/* ---- handshake admission ---- */

static uint32_t ip_hash(uint32_t ip)
{
	return (ip * 2654435761u) >> 7;
}

int ns_tls_hs_admit(ns_tls_ctx_t *ctx, uint32_t ip)
{
	uint32_t i;

	if (ctx->stats.handshakes_current >= ctx->cfg->p.handshakes_max) {
		ctx->stats.handshakes_refused_max++;
		return SL_ELIMIT;
	}
	if (ip == 0)
		ip = 1; /* 0 marks an empty slot; 0.0.0.0 never connects anyway */
	i = ip_hash(ip) & ctx->ipt_mask;
	while (ctx->ipt[i].ip != 0 && ctx->ipt[i].ip != ip)
		i = (i + 1) & ctx->ipt_mask;
	if (ctx->ipt[i].ip == ip && ctx->ipt[i].count >= ctx->cfg->p.handshakes_per_ip) {
		ctx->stats.handshakes_refused_ip++;
		return SL_ELIMIT;
	}
	/* The table has 2x handshakes_max slots and at most handshakes_max
	 * are in use, so the probe above always found a free one. */
	ctx->ipt[i].ip = ip;
	ctx->ipt[i].count++;
	ctx->stats.handshakes_current++;
	return 0;
}

void ns_tls_hs_release(ns_tls_ctx_t *ctx, uint32_t ip)
{
	uint32_t i, j, k;

	if (ip == 0)
		ip = 1;
	i = ip_hash(ip) & ctx->ipt_mask;
	while (ctx->ipt[i].ip != ip) {
		if (ctx->ipt[i].ip == 0)
			sl_panic(NS_TLS_LOG, "handshake slot released twice");
		i = (i + 1) & ctx->ipt_mask;
	}
	ctx->stats.handshakes_current--;
	if (--ctx->ipt[i].count > 0)
		return;
	/* Backward-shift deletion keeps every probe chain unbroken. */
	ctx->ipt[i].ip = 0;
	j = i;
	for (;;) {
		j = (j + 1) & ctx->ipt_mask;
		if (ctx->ipt[j].ip == 0)
			return;
		k = ip_hash(ctx->ipt[j].ip) & ctx->ipt_mask;
		/* Move j into the hole at i unless its home k lies cyclically
		 * in (i, j]. */
		if ((i <= j) ? (i < k && k <= j) : (i < k || k <= j))
			continue;
		ctx->ipt[i] = ctx->ipt[j];
		ctx->ipt[j].ip = 0;
		ctx->ipt[j].count = 0;
		i = j;
	}
}

/* ---- failure log ---- */

void ns_tls_fail_log(ns_tls_ctx_t *ctx, const char *fmt, ...)
{
	uint64_t now = ctx->stack->now_us;
	uint32_t limit = ctx->cfg->p.fail_log_per_s;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ctx->last_failure, sizeof(ctx->last_failure), fmt, ap);
	va_end(ap);
	if (now - ctx->log_window >= SL_US_PER_S) {
		if (ctx->log_count > limit && limit > 0)
			sl_log(SL_LOG_INFO, NS_TLS_LOG, "%u more TLS failures not logged in the last second",
			       ctx->log_count - limit);
		ctx->log_window = now;
		ctx->log_count = 0;
	}
	if (limit > 0 && ctx->log_count++ >= limit) {
		ctx->stats.fail_logs_suppressed++;
		return;
	}
	sl_log(SL_LOG_INFO, NS_TLS_LOG, "%s", ctx->last_failure);
}
