/* ns - Sluice's polling-mode TCP/IP stack: the public API.
 *
 * One ns_stack_t per worker lcore; it is never shared and never locked. The
 * stack is sans-clock: the owner sets the time with ns_stack_poll() once per
 * loop turn, feeds received Ethernet frames to ns_stack_input(), and calls
 * ns_stack_flush() after each RX burst so that TCP coalesces its ACKs and
 * output. Frames to send go to the params' tx callback. The same code runs
 * over DPDK ports and over the in-memory wire used by the unit tests.
 *
 * mbuf ownership: ns_stack_input() takes the mbuf; the tx callback receives
 * ownership of every mbuf handed to it (and frees it on failure).
 *
 * All IPv4 addresses in this API are in network byte order; ports are in
 * host byte order. */
#ifndef NS_H
#define NS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sl_buf.h"

struct rte_mbuf;
struct rte_mempool;

typedef struct ns_stack ns_stack_t;
typedef struct ns_conn ns_conn_t;

/* Hands one complete Ethernet frame to the driver. Ownership moves. */
typedef void ns_tx_fn_t(void *ctx, struct rte_mbuf *m);

enum ns_cc_algo { NS_CC_NEWRENO = 0, NS_CC_CUBIC = 1 };

typedef struct ns_stack_params {
	uint8_t mac[6];
	uint32_t ip;              /* our address */
	uint8_t prefix_len;       /* on-link subnet */
	uint32_t gateway;         /* 0 = none: off-link destinations unreachable */
	uint16_t mtu;             /* IP MTU; default 1500, max 65000 */
	struct rte_mempool *pool; /* mbufs for everything the stack sends */
	ns_tx_fn_t *tx;
	void *tx_ctx;
	uint64_t now_us;          /* the stack's clock at creation */

	/* ARP */
	uint64_t arp_reachable_us;  /* entry lifetime (default 60 s) */
	uint32_t arp_cache_size;    /* entries (default 1024) */
	uint32_t arp_queue_max;     /* packets held per unresolved address (default 8) */

	/* IPv4 reassembly */
	uint32_t reasm_mem_max;     /* bytes held in all partial datagrams (default 4 MB) */
	uint64_t reasm_timeout_us;  /* default 30 s */

	/* TCP */
	uint32_t max_conns;         /* connection table size (default 16384) */
	uint64_t tcp_mem_max;       /* bytes in all send+receive queues (default 256 MB) */
	uint32_t sndbuf;            /* per-connection send queue (default 1 MB) */
	uint32_t rcvbuf;            /* per-connection receive window (default 1 MB) */
	uint32_t syn_backlog;       /* half-open + unaccepted per listener before
				       SYN cookies are used (default 256) */
	enum ns_cc_algo cc;         /* congestion control (default CUBIC) */
	bool timestamps, sack, window_scaling; /* RFC 7323 / 2018 (default on) */
	uint64_t delack_us;         /* delayed ACK timeout (default 40 ms) */
	uint64_t rto_min_us;        /* default 200 ms */
	uint64_t rto_max_us;        /* default 60 s */
	uint64_t keepalive_idle_us; /* 0 = off (default 2 h) */
	uint64_t keepalive_intvl_us;/* default 75 s */
	uint32_t keepalive_probes;  /* default 9 */
	uint64_t time_wait_us;      /* 2*MSL (default 60 s) */
	uint32_t time_wait_max;     /* TIME_WAIT entries kept; oldest recycled beyond */
	uint32_t challenge_ack_limit; /* per second, RFC 5961 §7 (default 1000) */
	uint64_t isn_secret[2];     /* RFC 6528 key; all zero = random */
} ns_stack_params_t;

/* ns_stack_params_default - fill P with the defaults documented above;
 * mac/ip/pool/tx must still be set by the caller. */
void ns_stack_params_default(ns_stack_params_t *p);

/* ns_stack_create - a new stack. NULL with *error_r set (static string) on
 * bad params or allocation failure. */
ns_stack_t *ns_stack_create(const ns_stack_params_t *p, const char **error_r);
/* ns_stack_destroy - reset every connection (no callbacks), free all held
 * mbufs and state, set *S = NULL. */
void ns_stack_destroy(ns_stack_t **s);

/* ns_stack_poll - set the clock to NOW_US (monotonic) and fire due timers. */
void ns_stack_poll(ns_stack_t *s, uint64_t now_us);
/* ns_stack_input - process one received Ethernet frame (takes ownership). */
void ns_stack_input(ns_stack_t *s, struct rte_mbuf *m);
/* ns_stack_flush - send what the last inputs produced (coalesced ACKs, data
 * queued by callbacks). Call after each RX burst and after app sends that
 * happened outside a callback. */
void ns_stack_flush(ns_stack_t *s);
/* ns_stack_next_deadline - earliest pending timer expiry (SL_TIME_NEVER if
 * none); the sleep timeout for adaptive polling. */
uint64_t ns_stack_next_deadline(const ns_stack_t *s);
/* ns_stack_announce - send a gratuitous ARP for our address. */
void ns_stack_announce(ns_stack_t *s);
uint32_t ns_stack_ip(const ns_stack_t *s);

/* ---- Counters ---- */

#define NS_STATS_FIELDS(X)                                                     \
	/* link */                                                             \
	X(eth_rx_frames) X(eth_rx_bytes) X(eth_tx_frames) X(eth_tx_bytes)      \
	X(eth_rx_drop_not_for_us) X(eth_rx_drop_ethertype) X(eth_rx_drop_short) \
	X(eth_tx_drop_nombuf) X(eth_rx_drop_multiseg)                          \
	/* arp */                                                              \
	X(arp_rx) X(arp_rx_bad) X(arp_tx_requests) X(arp_tx_replies)           \
	X(arp_tx_gratuitous) X(arp_resolve_failed) X(arp_queue_drops)          \
	X(arp_cache_entries)                                                   \
	/* ipv4 */                                                             \
	X(ip_rx) X(ip_rx_bad_csum) X(ip_rx_bad_header) X(ip_rx_not_for_us)     \
	X(ip_rx_unknown_proto) X(ip_tx) X(ip_tx_no_route)                      \
	X(ip_frag_rx) X(ip_reasm_ok) X(ip_reasm_timeout) X(ip_reasm_drop_mem)   \
	X(ip_reasm_drop_bad) X(ip_frag_tx) X(ip_frag_dup)                      \
	/* icmp */                                                             \
	X(icmp_rx) X(icmp_rx_bad_csum) X(icmp_echo_replies) X(icmp_unreach_tx) \
	X(icmp_unreach_rx) X(icmp_rx_bad) X(icmp_unreach_ratelimited)          \
	/* udp */                                                              \
	X(udp_rx) X(udp_rx_bad_csum) X(udp_rx_bad_header) X(udp_rx_no_port)   \
	X(udp_tx)                                                              \
	/* tcp */                                                              \
	X(tcp_rx_segs) X(tcp_tx_segs) X(tcp_rx_bad_csum) X(tcp_rx_bad_header)  \
	X(tcp_rx_bad_options) X(tcp_retransmits) X(tcp_fast_retransmits)       \
	X(tcp_rto_expired) X(tcp_sack_recoveries) X(tcp_challenge_acks)        \
	X(tcp_challenge_acks_suppressed) X(tcp_syncookies_sent)                \
	X(tcp_syncookies_ok) X(tcp_syncookies_failed) X(tcp_rst_tx)            \
	X(tcp_rst_rx) X(tcp_active_opens) X(tcp_passive_opens)                 \
	X(tcp_conns_current) X(tcp_time_wait_current)                          \
	X(tcp_time_wait_recycled) X(tcp_listen_overflows) X(tcp_mem_drops)     \
	X(tcp_ooo_segs) X(tcp_dup_segs) X(tcp_paws_drops) X(tcp_out_of_window) \
	X(tcp_keepalive_timeouts) X(tcp_zero_window_probes) X(tcp_conn_limit_drops) \
	X(tcp_tlp_probes) X(tcp_lost_retransmits)

typedef struct ns_stats {
#define NS_STATS_DECLARE(name) uint64_t name;
	NS_STATS_FIELDS(NS_STATS_DECLARE)
#undef NS_STATS_DECLARE
} ns_stats_t;

/* ns_stack_get_stats - snapshot of the counters. */
void ns_stack_get_stats(const ns_stack_t *s, ns_stats_t *r);
/* ns_stats_names - the counter names in field order (NULL-terminated). */
extern const char *const ns_stats_names[];

/* ---- TCP: the event API for protocol engines ----
 *
 * Callbacks run on the owning lcore, from inside ns_stack_input/poll. They
 * may call any ns_conn_* function on their own connection. */
typedef struct ns_conn_ops {
	/* A passive open reached ESTABLISHED. LISTEN_CTX is the listener's ctx.
	 * Set the connection's ctx with ns_conn_set_ctx. Return 0 to keep the
	 * connection, or a negative sl_err to reset it. */
	int (*accepted)(ns_conn_t *c, void *listen_ctx);
	/* An active open reached ESTABLISHED. */
	void (*connected)(ns_conn_t *c, void *ctx);
	/* In-order data (or the peer's FIN: see ns_conn_eof) is readable. */
	void (*data)(ns_conn_t *c, void *ctx);
	/* Send space opened after ns_conn_send accepted less than asked. */
	void (*writable)(ns_conn_t *c, void *ctx);
	/* The connection died on its own: REASON is SL_ERESET, SL_ETIMEDOUT,
	 * SL_ECONNREFUSED, SL_EUNREACH or SL_ELIMIT. C is invalid once the
	 * callback returns; do not call ns_conn_close on it. Not called after
	 * the app itself called ns_conn_close or ns_conn_abort. */
	void (*closed)(ns_conn_t *c, void *ctx, int reason);
} ns_conn_ops_t;

/* ns_tcp_listen - accept connections on PORT; OPS/CTX are copied to each
 * accepted connection (CTX as listen_ctx). 0, SL_EADDRINUSE, SL_ENOMEM, or
 * SL_EINVAL (port 0, or no `accepted` callback). */
int ns_tcp_listen(ns_stack_t *s, uint16_t port, const ns_conn_ops_t *ops, void *ctx);
/* ns_tcp_unlisten - stop accepting on PORT (accepted connections stay;
 * handshakes the app has not seen yet are reset). 0 or SL_ENOENT. */
int ns_tcp_unlisten(ns_stack_t *s, uint16_t port);
/* ns_tcp_connect - active open to DST_IP:DST_PORT from an ephemeral port.
 * On success *conn_r is valid until `closed` fires or the app closes it;
 * `connected` fires on ESTABLISHED. The SYN is sent at once. 0, SL_ELIMIT,
 * SL_EUNREACH, SL_ENOMEM, or SL_EINVAL (port 0, broadcast/multicast). */
int ns_tcp_connect(ns_stack_t *s, uint32_t dst_ip, uint16_t dst_port,
		   const ns_conn_ops_t *ops, void *ctx, ns_conn_t **conn_r);

void ns_conn_set_ctx(ns_conn_t *c, void *ctx);
void *ns_conn_get_ctx(const ns_conn_t *c);

/* ns_conn_send - queue up to LEN bytes for sending. Returns the number
 * accepted (0..LEN; fewer than LEN means the send queue is full and
 * `writable` will fire), or SL_ECLOSED after shutdown/close or reset. */
ssize_t ns_conn_send(ns_conn_t *c, const void *data, size_t len);
/* ns_conn_send_space - bytes ns_conn_send would accept now. */
size_t ns_conn_send_space(const ns_conn_t *c);

/* ns_conn_peek - fill up to N slices with readable in-order data, without
 * consuming it. Returns the number of slices. The slices stay valid until
 * the next ns_conn_consume/recv/close or return to the stack. */
unsigned ns_conn_peek(ns_conn_t *c, sl_slice_t *iov, unsigned n);
/* ns_conn_consume - mark LEN readable bytes as read (opens the window). */
void ns_conn_consume(ns_conn_t *c, size_t len);
/* ns_conn_recv - copy up to LEN readable bytes into BUF and consume them.
 * Returns the count (0 when nothing is readable). */
size_t ns_conn_recv(ns_conn_t *c, void *buf, size_t len);
/* ns_conn_readable - bytes ready to read. */
size_t ns_conn_readable(const ns_conn_t *c);
/* ns_conn_eof - the peer sent FIN and all data before it has been read. */
bool ns_conn_eof(const ns_conn_t *c);

/* ns_conn_shutdown - send FIN once queued data is sent; keep receiving.
 * The handle stays valid until ns_conn_close, also after both FINs are
 * exchanged (the state then shows "CLOSED" or "TIME_WAIT"). */
int ns_conn_shutdown(ns_conn_t *c);
/* ns_conn_close - graceful close: queued data is still delivered, then FIN.
 * The app is done with C: no further callbacks, C is invalid on return. */
void ns_conn_close(ns_conn_t *c);
/* ns_conn_abort - send RST and free now; no callbacks; C invalid on return. */
void ns_conn_abort(ns_conn_t *c);

typedef struct ns_conn_info {
	uint32_t local_ip, remote_ip;
	uint16_t local_port, remote_port;
	const char *state;        /* "ESTABLISHED", "TIME_WAIT", ... (static) */
	uint32_t snd_queued;      /* bytes not yet acknowledged or not yet sent */
	uint32_t rcv_queued;      /* bytes readable, not yet consumed */
	uint32_t cwnd, ssthresh, snd_wnd, rcv_wnd, mss;
	uint32_t srtt_us, rto_us;
	uint64_t retransmits;
	uint64_t bytes_in, bytes_out;
} ns_conn_info_t;

void ns_conn_get_info(const ns_conn_t *c, ns_conn_info_t *r);
/* ns_stack_foreach_conn - call FN for every connection (listeners too,
 * state "LISTEN"). FN must not change the stack. */
void ns_stack_foreach_conn(const ns_stack_t *s, void (*fn)(const ns_conn_info_t *i, void *arg),
			   void *arg);

/* ---- UDP ---- */

/* PAYLOAD is valid only during the call. */
typedef void ns_udp_recv_fn_t(void *ctx, uint32_t src_ip, uint16_t src_port, uint16_t dst_port,
			      sl_slice_t payload);

/* ns_udp_bind - deliver datagrams for PORT to FN. 0, SL_EADDRINUSE, SL_ENOMEM. */
int ns_udp_bind(ns_stack_t *s, uint16_t port, ns_udp_recv_fn_t *fn, void *ctx);
int ns_udp_unbind(ns_stack_t *s, uint16_t port);
/* ns_udp_sendto - send one datagram (fragmented if larger than the MTU).
 * 0, SL_EINVAL (too large), SL_ENOMEM, SL_EUNREACH. */
int ns_udp_sendto(ns_stack_t *s, uint16_t src_port, uint32_t dst_ip, uint16_t dst_port,
		  const void *data, size_t len);

#endif
