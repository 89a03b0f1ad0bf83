/* ns_tls_ticket - session ticket encryption with rotating keys.
 *
 * Stateless resumption (RFC 5077 for TLS 1.2, RFC 8446 §4.6.1 for 1.3):
 * wolfSSL serialises the session and calls ns_tls_ticket_cb to seal it.
 *
 * Keys rotate without any shared mutable state between lanes: time is cut
 * into epochs of ticket_rotate_s, and the key of epoch E is
 *     HKDF-SHA256(secret, info = "sluice ticket key v1" || E as 8 bytes BE)
 * so every lane derives the same key from the config's secret (32 random
 * bytes per config, or carried over a reload). A ticket is sealed with the
 * current epoch's key and opened with the key of the epoch it names, for
 * as long as that epoch is within session_lifetime_s of now; a ticket from
 * an older (still valid) epoch is accepted and replaced by a fresh one.
 *
 * Ticket layout (the three fields wolfSSL gives us):
 *   key_name[16]  "SLT1" | epoch (8, BE) | key id (4: which secret)
 *   iv[16]        96-bit random nonce | 4 zero bytes
 *   mac[32]       Poly1305 tag | 16 zero bytes
 * sealed with ChaCha20-Poly1305, key_name as additional data.
 *
 * wolfSSL 5.5.4 opens a TLS 1.3 ticket in place and, when the session's
 * suite is not the first it tries, calls us again with the same buffer,
 * which by then holds neither the sealed ticket nor our plaintext: without
 * the `opened` memory below such a ticket would fail its second opening and
 * never resume (test_resumption has the case). The memory is keyed by the
 * buffer, its length and the name, nonce and tag of a ticket that opened
 * (authenticated), and gives back the plaintext that opening produced. */
#include <string.h>

#include "ns_tls_private.h"
#include <wolfssl/wolfcrypt/chacha20_poly1305.h>
#include <wolfssl/wolfcrypt/hmac.h>

#define TICKET_MAGIC "SLT1"
#define TICKET_MAX NS_TLS_TICKET_MAX

uint64_t ns_tls_ticket_epoch(const ns_tls_config_t *cfg, uint64_t now_us)
{
	return now_us / ((uint64_t)cfg->p.ticket_rotate_s * 1000000u);
}

void ns_tls_ticket_key_id(const uint8_t secret[NS_TLS_TICKET_SECRET_LEN], uint8_t id_r[4])
{
	static const char info[] = "sluice ticket key id";
	uint8_t out[4];

	if (wc_HKDF(WC_SHA256, secret, NS_TLS_TICKET_SECRET_LEN, NULL, 0, (const byte *)info,
		    sizeof(info) - 1, out, sizeof(out)) != 0)
		memset(out, 0, sizeof(out));
	memcpy(id_r, out, 4);
}

static void put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t get_be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* The key of EPOCH, from the lane's small cache. NULL if HKDF fails. */
static const uint8_t *key_for(ns_tls_ctx_t *ctx, uint64_t epoch)
{
	static const char label[] = "sluice ticket key v1";
	uint8_t info[sizeof(label) - 1 + 8];
	ns_tls_ticket_key_t *k;

	for (unsigned i = 0; i < NS_TLS_TICKET_KEYS; i++)
		if (ctx->keys[i].valid && ctx->keys[i].epoch == epoch)
			return ctx->keys[i].key;
	k = &ctx->keys[ctx->key_next];
	ctx->key_next = (ctx->key_next + 1) % NS_TLS_TICKET_KEYS;
	memcpy(info, label, sizeof(label) - 1);
	put_be64(info + sizeof(label) - 1, epoch);
	k->valid = false;
	if (wc_HKDF(WC_SHA256, ctx->cfg->ticket_secret, NS_TLS_TICKET_SECRET_LEN, NULL, 0, info,
		    sizeof(info), k->key, sizeof(k->key)) != 0)
		return NULL;
	k->epoch = epoch;
	k->valid = true;
	return k->key;
}

int ns_tls_ticket_cb(WOLFSSL *ssl, unsigned char key_name[WOLFSSL_TICKET_NAME_SZ],
		     unsigned char iv[WOLFSSL_TICKET_IV_SZ],
		     unsigned char mac[WOLFSSL_TICKET_MAC_SZ], int enc, unsigned char *ticket,
		     int in_len, int *out_len, void *user)
{
	ns_tls_ctx_t *ctx = user;
	ns_stream_t *st = wolfSSL_GetIOReadCtx(ssl);
	const ns_tls_config_t *cfg = ctx->cfg;
	uint64_t now = ns_tls_ticket_epoch(cfg, ctx->stack->now_us), epoch, window;
	uint8_t tmp[TICKET_MAX];
	const uint8_t *key;

	if (in_len <= 0 || in_len > TICKET_MAX)
		return WOLFSSL_TICKET_RET_REJECT;
	if (enc) {
		memcpy(key_name, TICKET_MAGIC, 4);
		put_be64(key_name + 4, now);
		memcpy(key_name + 12, cfg->ticket_key_id, 4);
		memset(iv, 0, WOLFSSL_TICKET_IV_SZ);
		memset(mac, 0, WOLFSSL_TICKET_MAC_SZ);
		key = key_for(ctx, now);
		if (key == NULL || !ctx->rng_ok ||
		    wc_RNG_GenerateBlock(&ctx->rng, iv, CHACHA20_POLY1305_AEAD_IV_SIZE) != 0)
			return WOLFSSL_TICKET_RET_FATAL;
		if (wc_ChaCha20Poly1305_Encrypt(key, iv, key_name, WOLFSSL_TICKET_NAME_SZ, ticket,
						(word32)in_len, tmp, mac) != 0)
			return WOLFSSL_TICKET_RET_FATAL;
		memcpy(ticket, tmp, (size_t)in_len);
		*out_len = in_len;
		ctx->stats.tickets_issued++;
		return WOLFSSL_TICKET_RET_OK;
	}
	if (ticket == ctx->opened_ptr && in_len == ctx->opened_len &&
	    memcmp(key_name, ctx->opened_name, 16) == 0 && memcmp(iv, ctx->opened_iv, 16) == 0 &&
	    memcmp(mac, ctx->opened_mac, 32) == 0) {
		memcpy(ticket, ctx->opened, (size_t)in_len); /* opened already */
		*out_len = in_len;
		if (ns_tls_stream_once(st, 3))
			ctx->stats.tickets_opened++; /* the same ticket, another stream */
		return ctx->opened_rc;
	}
	if (memcmp(key_name, TICKET_MAGIC, 4) != 0 ||
	    memcmp(key_name + 12, cfg->ticket_key_id, 4) != 0)
		goto reject; /* another secret: an old config, or another box */
	epoch = get_be64(key_name + 4);
	window = (cfg->p.session_lifetime_s + cfg->p.ticket_rotate_s - 1) / cfg->p.ticket_rotate_s;
	if (epoch > now || now - epoch > window)
		goto reject; /* from the future, or its key has retired */
	key = key_for(ctx, epoch);
	if (key == NULL ||
	    wc_ChaCha20Poly1305_Decrypt(key, iv, key_name, WOLFSSL_TICKET_NAME_SZ, ticket,
					(word32)in_len, mac, tmp) != 0)
		goto reject;
	memcpy(ticket, tmp, (size_t)in_len);
	memset(tmp, 0, (size_t)in_len);
	*out_len = in_len;
	ctx->opened_ptr = ticket;
	ctx->opened_len = in_len;
	memcpy(ctx->opened_name, key_name, 16);
	memcpy(ctx->opened_iv, iv, 16);
	memcpy(ctx->opened_mac, mac, 32);
	memcpy(ctx->opened, ticket, (size_t)in_len);
	ctx->opened_rc = WOLFSSL_TICKET_RET_OK;
	if (ns_tls_stream_once(st, 3))
		ctx->stats.tickets_opened++;
	if (epoch != now) {
		if (ns_tls_stream_once(st, 1))
			ctx->stats.tickets_renewed++;
		/* resume, and reseal with today's key */
		ctx->opened_rc = WOLFSSL_TICKET_RET_CREATE;
	}
	return ctx->opened_rc;

reject:
	/* wolfSSL may offer the same ticket once per cipher suite it tries. */
	if (ns_tls_stream_once(st, 0))
		ctx->stats.tickets_rejected++;
	return WOLFSSL_TICKET_RET_REJECT;
}
