/* mta_conn - the connection driver shared by the POP3 and IMAP servers.
 *
 * A sans-IO engine (mta/pop3, mta/imap) only turns bytes into replies and
 * requests. mta_srv_t does everything between it and the network for one
 * protocol on one lane: it listens (plain ports, and implicit-TLS ports
 * whose streams start with a handshake), caps sessions per lane and per
 * client address, runs each session's timer, and pumps each connection:
 *
 *   send the engine's output (a short write waits for `writable`);
 *   start the engine's outstanding request once (proto->start_request);
 *   close once the engine is closing and its output is out;
 *   feed input straight from the TCP receive queue: peek, then consume
 *   only what the engine took, so unread bytes close the TCP window (the
 *   backpressure).
 *
 * The protocol server (pop3_server.c, imap_server.c) supplies the engine's
 * entry points and the request handlers through mta_proto_ops_t. A request
 * completes either inside start_request or later (a store commit, an auth
 * result): the protocol then calls mta_conn_request_done(), the engine's
 * *_done(), and (only when not inside start_request) mta_conn_pump().
 *
 * STARTTLS/STLS: start_request calls mta_conn_starttls(); once the engine's
 * "go ahead" reply is accepted by the stream, everything the client sent
 * after the command is discarded (CVE-2011-0411) and the handshake runs;
 * its outcome reaches the engine through ops->tls_done.
 *
 * Threading: a server belongs to its lane's worker; nothing locks. */
#ifndef MTA_CONN_H
#define MTA_CONN_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "ns.h"
#include "ns_stream.h"
#include "sl_buf.h"

typedef struct mta_srv mta_srv_t;
typedef struct mta_conn mta_conn_t;

#define MTA_SRV_LISTENERS_MAX 4

typedef struct mta_proto_ops {
	const char *name; /* log tag: "pop3", "imap" */
	/* A new connection on a listener whose ctx is LST_CTX: create the
	 * engine session (its greeting in the output). */
	int (*session_create)(void *proto, void *lst_ctx, mta_conn_t *cn, uint64_t now,
			      void **sess_r);
	/* The connection ends: abandon whatever request is in flight (its
	 * completion must then only free), release per-connection state,
	 * destroy the session. */
	void (*session_destroy)(void *proto, mta_conn_t *cn, void *sess);
	int (*input)(void *sess, uint64_t now, const void *p, size_t n, size_t *used_r);
	sl_slice_t (*output)(const void *sess);
	int (*output_consume)(void *sess, uint64_t now, size_t n);
	bool (*closing)(const void *sess);
	bool (*has_request)(const void *sess);
	/* Act on the engine's outstanding request; must not call mta_conn_pump. */
	void (*start_request)(void *proto, mta_conn_t *cn, uint64_t now);
	uint64_t (*deadline)(const void *sess);
	int (*timeout)(void *sess, uint64_t now);
	void (*shutdown)(void *sess, uint64_t now, const char *text);
	int (*tls_done)(void *sess, uint64_t now, bool ok);
} mta_proto_ops_t;

typedef struct mta_listen_conf {
	uint16_t port;
	bool implicit_tls; /* 993, 995: needs params.tls */
	void *ctx;         /* the protocol's (its engine config), handed to session_create */
} mta_listen_conf_t;

/* Counters of the driver (per lane; summed by the caller). */
typedef struct mta_srv_stats {
	uint64_t accepted;          /* sessions started */
	uint64_t current;           /* sessions open now */
	uint64_t rejected_limit;    /* refused: the lane's session cap (told so, reset past the overflow) */
	uint64_t rejected_ip_limit; /* refused: too many from one address */
	uint64_t tls_refused;       /* STARTTLS could not start */
	uint64_t plaintext_discarded; /* bytes thrown away at STARTTLS */
	uint64_t pump_yields;       /* a request that made no progress into a full
				     * stream: waited for `writable` instead */
} mta_srv_stats_t;

typedef struct mta_srv_params {
	ns_stack_t *stack;
	ns_tls_ctx_t *tls;        /* borrowed; NULL: no TLS */
	const mta_proto_ops_t *ops;
	void *proto;              /* first argument of the ops that take it */
	mta_listen_conf_t listeners[MTA_SRV_LISTENERS_MAX];
	unsigned n_listeners;
	uint32_t max_sessions;    /* per lane */
	uint32_t max_per_ip;      /* concurrent sessions per client address */
	const char *ip_limit_text; /* the shutdown text for a session over max_per_ip */
	uint64_t now_us;
} mta_srv_params_t;

/* mta_srv_create - listen on every port. 0, or SL_EINVAL (bad params, an
 * implicit-TLS port without TLS) / SL_EADDRINUSE / SL_ENOMEM, with
 * *error_r (static text). */
int mta_srv_create(const mta_srv_params_t *p, mta_srv_t **srv_r, const char **error_r);
/* mta_srv_destroy - abort every connection (session_destroy for each),
 * stop listening. *SRV = NULL; NULL is a no-op. */
void mta_srv_destroy(mta_srv_t **srv);
/* mta_srv_set_tls - new sessions (and STARTTLS from now on) use TLS; the
 * caller destroys the old context afterwards. SL_EINVAL if the server was
 * made without TLS. */
int mta_srv_set_tls(mta_srv_t *srv, ns_tls_ctx_t *tls);
bool mta_srv_has_tls(const mta_srv_t *srv);
/* mta_srv_tick - set the clock and fire session timers. */
void mta_srv_tick(mta_srv_t *srv, uint64_t now_us);
uint64_t mta_srv_next_deadline(const mta_srv_t *srv);
uint64_t mta_srv_now(const mta_srv_t *srv);
/* mta_srv_shutdown - stop listening; every session gets ops->shutdown
 * (TEXT) now, or once its request in flight is done. */
void mta_srv_shutdown(mta_srv_t *srv, uint64_t now_us, const char *text);
/* mta_srv_busy - connections with a request in flight (a drain waits). */
unsigned mta_srv_busy(const mta_srv_t *srv);
void mta_srv_get_stats(const mta_srv_t *srv, mta_srv_stats_t *r);
/* mta_srv_foreach - FN for every connection; FN may pump (and so free)
 * the connection it is given, not others. */
void mta_srv_foreach(mta_srv_t *srv, void (*fn)(void *ctx, mta_conn_t *cn), void *ctx);

/* --- per connection, for the protocol server --- */
void *mta_conn_session(const mta_conn_t *cn);
/* The protocol's own per-connection data (NULL until set). */
void *mta_conn_data(const mta_conn_t *cn);
void mta_conn_set_data(mta_conn_t *cn, void *data);
mta_srv_t *mta_conn_srv(const mta_conn_t *cn);
uint32_t mta_conn_ip(const mta_conn_t *cn);       /* network order */
const char *mta_conn_ip_str(const mta_conn_t *cn);
uint16_t mta_conn_port(const mta_conn_t *cn);     /* the client's */
uint64_t mta_conn_id(const mta_conn_t *cn);
bool mta_conn_implicit_tls(const mta_conn_t *cn);
/* mta_conn_starttls - from start_request: upgrade once the output is out.
 * Without TLS the engine gets tls_done(false) at once. */
void mta_conn_starttls(mta_conn_t *cn);
/* mta_conn_request_done - the outstanding request is answered: call it
 * right before the engine's *_done, so the next request can start. */
void mta_conn_request_done(mta_conn_t *cn);
/* mta_conn_pump - after an asynchronous completion. May free CN. */
void mta_conn_pump(mta_conn_t *cn);

#endif
