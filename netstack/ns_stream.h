/* ns_stream - one byte-stream interface for protocol engines, plain or TLS.
 *
 * A stream wraps one TCP connection (ns.h) and has exactly the shape of the
 * ns_conn API: data / writable / closed events, send with backpressure,
 * zero-copy peek + consume (or recv), eof, shutdown, close, abort. Whether
 * the bytes travel in the clear or inside TLS (ns_tls.h) is invisible to
 * the engine: the same glue serves port 25 and port 465.
 *
 * A plain stream can be upgraded in place (STARTTLS, RFC 3207 / 2595 /
 * 3501): ns_stream_starttls() throws away every byte already received and
 * not consumed - a client that pipelined commands behind STARTTLS gets none
 * of them interpreted, before or after the handshake (CVE-2011-0411) - and
 * the same ns_stream_t then speaks TLS.
 *
 * Differences from ns_conn that an engine may notice, all by contract:
 *   - On a TLS stream, send accepts nothing (returns 0) until the handshake
 *     is done; `writable` fires then. Data becomes readable only after it.
 *   - `secured` (optional) says when the handshake completed.
 *   - `closed` also reports TLS failures: SL_EPROTO (handshake or record
 *     error, peer alert), SL_ETIMEDOUT (handshake too slow), SL_ELIMIT
 *     (handshake refused by a cap, at accept only), SL_ECLOSED (the peer
 *     closed mid-handshake).
 *   - peek returns at most one slice for a TLS stream (decrypted bytes are
 *     contiguous); it decrypts what TCP already holds when there is room.
 *
 * Events run on the lane, from inside ns_stack_input / ns_stack_poll, like
 * ns_conn's; inside them the app may call any ns_stream_* function on its
 * own stream, including close and starttls. No call recurses into an event
 * of the same stream.
 *
 * Handles: a stream is valid from `accepted` (or ns_stream_connect) until
 * `closed` returns or the app calls close/abort. */
#ifndef NS_STREAM_H
#define NS_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ns.h"
#include "sl_buf.h"

typedef struct ns_stream ns_stream_t;
typedef struct ns_listener ns_listener_t;
typedef struct ns_tls_ctx ns_tls_ctx_t;

typedef struct ns_stream_ops {
	/* A connection arrived on a listener. For a TLS listener this fires
	 * at TCP accept, before the handshake (so per-IP policy applies before
	 * any crypto). Set the ctx with ns_stream_set_ctx. Return 0 to keep it
	 * or a negative sl_err to reset it. Required for listeners. */
	int (*accepted)(ns_stream_t *st, void *listen_ctx);
	/* An active open (ns_stream_connect) reached ESTABLISHED. */
	void (*connected)(ns_stream_t *st, void *ctx);
	/* Readable data, or end of stream (see ns_stream_eof). */
	void (*data)(ns_stream_t *st, void *ctx);
	/* Room to send again after a send accepted less than asked (or, on
	 * TLS, after the handshake when a send was refused during it). */
	void (*writable)(ns_stream_t *st, void *ctx);
	/* The stream died on its own: REASON is one of ns_conn's (SL_ERESET,
	 * SL_ETIMEDOUT, ...) or a TLS one (above). ST is invalid once this
	 * returns; not called after the app closed or aborted the stream. */
	void (*closed)(ns_stream_t *st, void *ctx, int reason);
	/* Optional: the TLS handshake completed (implicit TLS or STARTTLS);
	 * ns_stream_tls_info now answers. Runs before the `writable` and
	 * `data` that may follow. */
	void (*secured)(ns_stream_t *st, void *ctx);
} ns_stream_ops_t;

/* ---- Listeners and active opens ---- */

/* ns_stream_listen - accept streams on PORT of STACK. TLS NULL: plain
 * streams (upgradeable with ns_stream_starttls); otherwise implicit TLS
 * (RFC 8314): every stream starts with a server handshake on TLS, which
 * the listener holds a reference to. OPS is copied. 0 and *L_R, or
 * SL_EINVAL (no `accepted`), SL_EADDRINUSE, SL_ENOMEM. */
int ns_stream_listen(ns_stack_t *stack, uint16_t port, const ns_stream_ops_t *ops,
		     void *listen_ctx, ns_tls_ctx_t *tls, ns_listener_t **l_r);
/* ns_stream_listener_set_tls - streams accepted from now on use TLS (a
 * new certificate after `tls install`); streams already open keep theirs.
 * Switching between plain and TLS is refused: SL_EINVAL. */
int ns_stream_listener_set_tls(ns_listener_t *l, ns_tls_ctx_t *tls);
/* ns_stream_unlisten - stop accepting (streams already accepted stay;
 * TCP handshakes the app has not seen are reset). *L = NULL. */
void ns_stream_unlisten(ns_listener_t **l);

/* ns_stream_connect - active open of a plain stream to DST_IP (network
 * order):DST_PORT; `connected` fires on ESTABLISHED. Upgrade it with
 * ns_stream_starttls_client. 0 and *ST_R, or ns_tcp_connect's errors. */
int ns_stream_connect(ns_stack_t *stack, uint32_t dst_ip, uint16_t dst_port,
		      const ns_stream_ops_t *ops, void *ctx, ns_stream_t **st_r);

/* ---- The ns_conn shape ---- */

void ns_stream_set_ctx(ns_stream_t *st, void *ctx);
void *ns_stream_get_ctx(const ns_stream_t *st);

/* ns_stream_send - queue up to LEN bytes. Returns the number accepted
 * (0..LEN; fewer than LEN means `writable` will fire), or SL_ECLOSED after
 * shutdown, close, reset or a TLS failure. A TLS stream accepts at most
 * one record (16 KB) beyond what TCP can take at once. */
ssize_t ns_stream_send(ns_stream_t *st, const void *data, size_t len);
/* ns_stream_send_space - bytes send would take without waiting: a lower
 * bound. 0 does not arm `writable`; only a short send does. */
size_t ns_stream_send_space(const ns_stream_t *st);

/* ns_stream_peek - fill up to N slices with readable data without
 * consuming it; the number of slices. Valid until the next consume, recv,
 * peek, close, or return to the stack. */
unsigned ns_stream_peek(ns_stream_t *st, sl_slice_t *iov, unsigned n);
/* ns_stream_consume - LEN readable bytes are read (clamped). */
void ns_stream_consume(ns_stream_t *st, size_t len);
/* ns_stream_recv - copy up to LEN readable bytes into BUF and consume
 * them; the count (0 when nothing is readable). */
size_t ns_stream_recv(ns_stream_t *st, void *buf, size_t len);
/* ns_stream_readable - bytes ready to read now. */
size_t ns_stream_readable(ns_stream_t *st);
/* ns_stream_eof - the peer finished (FIN; on TLS, close_notify, or FIN
 * without it - counted as a truncation - or a TLS failure) and everything
 * before has been read. */
bool ns_stream_eof(ns_stream_t *st);

/* ns_stream_shutdown - finish sending (TLS: close_notify, then FIN) once
 * queued data is out; keep receiving. 0 or SL_ECLOSED. */
int ns_stream_shutdown(ns_stream_t *st);
/* ns_stream_close - graceful: queued data (TLS: and a close_notify) is
 * still delivered, then FIN. No further events; ST is invalid on return. */
void ns_stream_close(ns_stream_t *st);
/* ns_stream_abort - RST now; no events; ST is invalid on return. */
void ns_stream_abort(ns_stream_t *st);

/* ns_stream_get_info - the TCP connection's view (addresses, queues). */
void ns_stream_get_info(const ns_stream_t *st, ns_conn_info_t *r);

/* ---- TLS ---- */

/* ns_stream_starttls - upgrade a plain stream to a TLS server, in place.
 * Call it once the protocol's "go ahead" reply (220 / OK / +OK) has been
 * accepted by ns_stream_send. Every byte received and not consumed is
 * discarded now (and counted); the next bytes must be a ClientHello.
 * Returns the number of bytes discarded (>= 0), or: SL_ESTATE (already TLS,
 * shut down or failed), SL_ELIMIT (handshake caps: the stream stays plain;
 * the session should end), SL_ENOMEM. `secured` then fires, or `closed`. */
int ns_stream_starttls(ns_stream_t *st, ns_tls_ctx_t *tls);
/* ns_stream_starttls_client - the same for the client side (after the
 * server's go-ahead was read): discards unread bytes, sends the ClientHello
 * with SERVER_NAME as SNI (may be NULL). Returns bytes discarded, SL_ESTATE,
 * SL_ENOMEM, or SL_EPROTO (wolfSSL refused to start; close the stream). */
int ns_stream_starttls_client(ns_stream_t *st, ns_tls_ctx_t *tls, const char *server_name);

/* ns_stream_is_tls - TLS was started on ST (handshake done or not). */
bool ns_stream_is_tls(const ns_stream_t *st);
/* ns_stream_is_secured - the TLS handshake completed. */
bool ns_stream_is_secured(const ns_stream_t *st);

typedef struct ns_tls_info {
	const char *version;  /* "TLSv1.3" (static) */
	const char *cipher;   /* wolfSSL's name, "TLS13-AES128-GCM-SHA256" */
	const char *group;    /* key exchange: "X25519", "SECP256R1"; NULL if
				 wolfSSL cannot say (TLS 1.2 resumption) */
	const char *sni;      /* server name the client asked for, or NULL */
	unsigned cert_index;  /* which configured certificate was used */
	bool resumed;         /* abbreviated handshake (ticket) */
} ns_tls_info_t;

/* ns_tls_info - once secured: 0 and *R (strings valid while ST is), or
 * SL_ESTATE. For the Received: header and the logs. */
int ns_stream_tls_info(ns_stream_t *st, ns_tls_info_t *r);

#endif
