/* ns_tcp_private - what the ns_tcp*.c files share, and nobody else.
 *
 * File map (one purpose each):
 *   ns_tcp.c         the TCP module: pool, 4-tuple hash, listeners, active
 *                    open, release/reap, the output queue, events, flush
 *   ns_tcp_api.c     the ns_conn_* calls of ns.h
 *   ns_tcp_input.c   segment validation and the RFC 9293 §3.10.7 state machine
 *   ns_tcp_output.c  building and sending segments; what to send next
 *   ns_tcp_opt.c     option parsing and building
 *   ns_tcp_queue.c   send queue, receive queue, out-of-order queue, SACK
 *                    blocks we report
 *   ns_tcp_sack.c    the sender's SACK scoreboard and RFC 6675 loss recovery
 *                    (plus lost-retransmission detection and the RACK rule
 *                    for a SACKed tail loss probe)
 *   ns_tcp_cc.c      congestion control: NewReno and CUBIC (RFC 9438)
 *   ns_tcp_timer.c   RTO (RFC 6298), tail loss probe (RFC 8985 §7), persist,
 *                    keepalive, delayed ACK, FIN_WAIT_2 and TIME_WAIT timers
 *   ns_tcp_isn.c     SipHash-2-4, ISNs (RFC 6528), timestamp offsets,
 *                    ephemeral port offsets (RFC 6056), SYN cookies
 *
 * Output is coalesced: input and the ns_conn_* calls only change state and
 * mark the connection (tcp_conn_mark); ns_tcp_flush then runs the app's
 * callbacks (accepted/connected, data, writable, closed, in that order) and
 * one tcp_output per marked connection. Timers do the same through the
 * flush that ns_stack_poll runs after them. The tx callback must not feed
 * frames back into the same stack synchronously.
 *
 * Sequence numbers are host order uint32_t compared with the SEQ_* helpers
 * (RFC 9293 §3.4: arithmetic modulo 2^32). Addresses are network order,
 * ports host order, as in ns.h.
 *
 * Connection lifetime. A connection object comes from a pool allocated at
 * ns_tcp_create. The app holds it from accept/connect until it calls
 * ns_conn_close/abort (the object is then "orphaned": no more callbacks) or
 * until `closed` returns. The protocol may finish earlier (LAST_ACK acked,
 * TIME_WAIT expired): the object then stays in CLOSED, unhashed, until the
 * app closes it. Objects are never returned to the pool while any code up
 * the stack may still hold a pointer: tcp_conn_release() unhooks everything
 * and parks the object on the zombie list; tcp_reap() returns zombies to the
 * pool at the end of ns_tcp_input and ns_tcp_flush. */
#ifndef NS_TCP_PRIVATE_H
#define NS_TCP_PRIVATE_H

#include <stdbool.h>
#include <stdint.h>

#include "ns_private.h"
#include "sl_err.h"
#include "sl_time.h"

/* ---- Sequence space (RFC 9293 §3.4) ---- */
#define SEQ_LT(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)) < 0)
#define SEQ_LEQ(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)) <= 0)
#define SEQ_GT(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)) > 0)
#define SEQ_GEQ(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)) >= 0)
#define SEQ_MAX(a, b) (SEQ_GT(a, b) ? (a) : (b))
#define SEQ_MIN(a, b) (SEQ_LT(a, b) ? (a) : (b))

/* ---- Header ---- */
#define NS_TH_FIN 0x01
#define NS_TH_SYN 0x02
#define NS_TH_RST 0x04
#define NS_TH_PSH 0x08
#define NS_TH_ACK 0x10
#define NS_TH_URG 0x20

#define NS_TCP_HDR_LEN 20
#define NS_TCP_OPT_MAX 40

enum ns_tcp_state {
	NS_TCP_CLOSED = 0,
	NS_TCP_LISTEN,
	NS_TCP_SYN_SENT,
	NS_TCP_SYN_RCVD,
	NS_TCP_ESTABLISHED,
	NS_TCP_FIN_WAIT_1,
	NS_TCP_FIN_WAIT_2,
	NS_TCP_CLOSE_WAIT,
	NS_TCP_CLOSING,
	NS_TCP_LAST_ACK,
	NS_TCP_TIME_WAIT,
	NS_TCP_NSTATES
};

/* ---- Constants ---- */
#define NS_TCP_MSS_DEFAULT 536              /* RFC 9293 §3.7.1 (no MSS option) */
#define NS_TCP_MSS_MIN 88                   /* refuse to go below (PMTU floor) */
#define NS_TCP_RTO_INIT_US (1 * SL_US_PER_S) /* RFC 6298 §2.1 */
#define NS_TCP_RTO_SYN_LOST_US (3 * SL_US_PER_S) /* RFC 6298 §5.7 */
#define NS_TCP_SYN_RETRIES 6                /* ~63 s, like Linux */
#define NS_TCP_SYNACK_RETRIES 5
#define NS_TCP_RETRIES 15                   /* data RTOs before giving up */
#define NS_TCP_ORPHAN_RETRIES 8             /* for connections the app closed */
#define NS_TCP_DUPTHRESH 3                  /* RFC 5681 §3.2, RFC 6675 */
#define NS_TCP_SB_MAX 32                    /* scoreboard ranges kept */
#define NS_TCP_RSACK_MAX 4                  /* SACK blocks we remember to report */
#define NS_TCP_OOO_MAX 2048                 /* out-of-order segments per connection */
#define NS_TCP_LISTEN_MAX 64
#define NS_TCP_EPH_MIN 49152                /* RFC 6335 dynamic ports */
#define NS_TCP_EPH_MAX 65535
#define NS_TCP_MAX_WSCALE 14                /* RFC 7323 §2.3 */
#define NS_TCP_PAWS_IDLE_US (24ULL * 86400 * SL_US_PER_S) /* RFC 7323 §5.5 */
#define NS_TCP_COALESCE_MAX 1024            /* small segments are copied, not kept */
#define NS_TCP_RX_MEM_FACTOR 4              /* truesize per conn: this x rcvbuf */
#define NS_TCP_WAIT_MEM_US SL_US_PER_MS     /* recheck for mbufs after refusals */
#define NS_TCP_OOW_ACK_US (500 * SL_US_PER_MS) /* like Linux tcp_invalid_ratelimit */
#define NS_TCP_TLP_MIN_US (10 * SL_US_PER_MS)  /* floor of the probe timeout */
#define NS_TCP_WCDELACK_US (200 * SL_US_PER_MS) /* RFC 8985 §7.2 WCDelAckT */
#define NS_TCP_COOKIE_LIFE_US (2 * 60 * SL_US_PER_S) /* a cookie validates up to this old */

/* ---- Parsed segment ---- */
struct ns_tcp_blk {
	uint32_t start, end; /* [start, end) */
};

struct ns_tcp_opts {
	bool has_mss, has_ws, sack_ok, has_ts;
	uint8_t wscale;
	uint8_t nsack;
	uint16_t mss;
	uint32_t tsval, tsecr;
	struct ns_tcp_blk sack[4];
};

struct ns_tcp_seg {
	uint32_t saddr, daddr; /* network order */
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint32_t len;          /* payload bytes */
	uint32_t end;          /* seq + len + SYN + FIN */
	uint16_t wnd;          /* raw, unscaled */
	uint8_t flags;
	struct ns_tcp_opts o;
};

/* ---- Connection ---- */

/* What the single main timer of a connection is doing (at most one at a
 * time; the delayed-ACK timer is the second). */
enum ns_tcp_tmode {
	NS_TCP_T_NONE = 0,
	NS_TCP_T_RTO,       /* SYN, data or FIN outstanding */
	NS_TCP_T_PERSIST,   /* zero window, data waiting */
	NS_TCP_T_KEEPALIVE,
	NS_TCP_T_FIN_WAIT_2, /* orphaned FIN_WAIT_2 must not live forever */
	NS_TCP_T_TIME_WAIT,
	NS_TCP_T_TLP,       /* tail loss probe before the RTO (RFC 8985 §7) */
};

#define NS_TCPF_INUSE (1u << 0)
#define NS_TCPF_HASHED (1u << 1)
#define NS_TCPF_ON_OUTQ (1u << 2)   /* on the flush queue */
#define NS_TCPF_DEAD (1u << 3)      /* released; waits for tcp_reap */
#define NS_TCPF_ORPHAN (1u << 4)    /* app closed: no callbacks */
#define NS_TCPF_PASSIVE (1u << 5)   /* came from a listener */
#define NS_TCPF_SHUT_WR (1u << 6)   /* FIN follows the queued data */
#define NS_TCPF_TS (1u << 7)        /* timestamps negotiated */
#define NS_TCPF_SACK (1u << 8)      /* SACK negotiated */
#define NS_TCPF_ACK_NOW (1u << 9)
#define NS_TCPF_WANT_WRITABLE (1u << 10)
#define NS_TCPF_SYN_LOST (1u << 11) /* SYN or SYN-ACK was retransmitted */
#define NS_TCPF_RXT_HEAD (1u << 12) /* retransmit at snd_una next output */
#define NS_TCPF_FIN_RCVD (1u << 13) /* peer's FIN is in sequence */
#define NS_TCPF_ON_TW (1u << 14)    /* on the TIME_WAIT list */
#define NS_TCPF_CWND_LIMITED (1u << 15)
#define NS_TCPF_WAIT_MEM (1u << 16) /* send refused for lack of mbufs */
#define NS_TCPF_SEND_SYN (1u << 17) /* (re)send SYN / SYN-ACK */
#define NS_TCPF_RECOVERY (1u << 18) /* in fast recovery */
#define NS_TCPF_OOO_FIN (1u << 19)  /* a FIN beyond a hole: ooo_fin_seq */
#define NS_TCPF_APP_SEEN (1u << 20) /* the app has the handle */
#define NS_TCPF_WSCALE (1u << 21)   /* window scaling negotiated */
#define NS_TCPF_TLP (1u << 22)      /* a tail loss probe is out (tlp_end) */
#define NS_TCPF_TLP_RXT (1u << 23)  /* ... and it was a retransmission */

#define NS_TCP_EV_ESTABLISHED 0x01
#define NS_TCP_EV_DATA 0x02
#define NS_TCP_EV_WRITABLE 0x04
#define NS_TCP_EV_CLOSED 0x08

struct ns_tcp_listener {
	bool used;
	uint16_t port;
	uint32_t half_open; /* SYN_RCVD connections (the backlog) */
	uint64_t cookie_us; /* when the last SYN cookie went out (0: never) */
	ns_conn_ops_t ops;
	void *ctx;
};

/* RFC 9438 state; windows in segments. */
struct ns_cubic {
	double w_max;       /* window before the last reduction */
	double k;           /* time to get back to w_max (s) */
	double w_est;       /* Reno-friendly estimate */
	double origin;      /* plateau of the current epoch */
	double frac;        /* fractional bytes owed to cwnd */
	uint64_t t_epoch_us;/* 0: no epoch yet */
};

struct ns_conn {
	ns_stack_t *s;
	struct ns_conn *hnext;    /* hash chain, free list or zombie list */
	struct ns_conn *out_next; /* flush queue */
	struct ns_conn *tw_prev, *tw_next;
	uint32_t flags;
	uint8_t state;            /* enum ns_tcp_state */
	uint8_t tmode;            /* enum ns_tcp_tmode */
	uint8_t ev;               /* NS_TCP_EV_* pending */
	uint8_t backoff;          /* RTO doublings */
	uint8_t retries;          /* consecutive timeouts of the main timer */
	uint8_t snd_wscale, rcv_wscale;
	uint8_t nsb;              /* scoreboard ranges in use */

	uint32_t lip, rip;        /* network order */
	uint16_t lport, rport;    /* host order */
	struct ns_tcp_listener *listener; /* while SYN_RCVD from a listener */
	ns_conn_ops_t ops;
	void *ctx;
	int close_reason;         /* for EV_CLOSED */
	int soft_err;             /* last ICMP soft error (RFC 1122 4.2.3.9) */

	/* Send side (RFC 9293 §3.3.1) and the send queue. */
	uint32_t iss, snd_una, snd_nxt, snd_max, snd_wl1, snd_wl2;
	uint32_t snd_wnd, max_sndwnd;
	uint32_t sq_seq;          /* seq of the first queued byte */
	uint32_t sq_len;          /* bytes queued: unacked + unsent */
	uint32_t sq_mem;          /* bytes charged for the queue's mbufs */
	struct rte_mbuf *sq_head, *sq_tail;
	struct rte_mbuf *sq_cur;  /* lookup hint: an mbuf of the queue */
	uint32_t sq_cur_seq;      /* seq of sq_cur's first byte */
	uint16_t mss;             /* peer's MSS, clamped to our MTU and mbuf */
	uint16_t smss;            /* payload of a full segment (mss - fixed opts) */
	uint16_t rcv_mss;         /* largest segment seen from the peer */

	/* Receive side and its queues. */
	uint32_t irs, rcv_nxt, rcv_adv, last_ack_sent;
	uint32_t rq_len;          /* readable bytes */
	uint32_t rx_mem;          /* truesize of rq + ooo */
	struct rte_mbuf *rq_head, *rq_tail;
	struct rte_mbuf *ooo_head;/* sorted; seq in hash.usr */
	uint32_t ooo_cnt;
	uint32_t ooo_fin_seq;
	uint32_t rcv_unacked;     /* bytes since our last ACK */
	uint32_t rsack[NS_TCP_RSACK_MAX]; /* a seq inside each block, MRU */
	uint8_t nrsack;
	uint8_t ka_probes;

	/* Timestamps (RFC 7323). */
	uint32_t ts_offset, ts_recent;
	uint64_t ts_recent_us;

	/* RTT and RTO (RFC 6298), microseconds. */
	uint32_t srtt_us, rttvar_us, rto_us, min_rtt_us;
	uint32_t rtt_seq;
	uint64_t rtt_start_us;
	bool rtt_active;

	/* Congestion control and loss recovery. */
	uint32_t cwnd, ssthresh;
	uint32_t dupacks;
	uint32_t recover;         /* RFC 6582 / RFC 6675 RecoveryPoint */
	uint32_t high_rxt;        /* RFC 6675 HighRxt */
	uint32_t rescue_rxt;      /* RFC 6675 RescueRxt */
	uint32_t rxt_mark;        /* snd_max when the last retransmission left */
	uint32_t tlp_seq, tlp_end;/* RFC 8985: what the probe carried */
	uint32_t lost_hint;       /* unSACKed bytes below are lost (TLP) */
	uint32_t abc_bytes;       /* NewReno byte counting (RFC 3465) */
	uint32_t sacked_bytes;
	struct ns_tcp_blk sb[NS_TCP_SB_MAX]; /* scoreboard, sorted, disjoint */
	struct ns_cubic cubic;

	sl_timer_t timer, delack;
	uint64_t last_rx_us, last_tx_us;
	uint64_t last_oow_ack_us; /* rate limit for ACKs to bad pure ACKs */

	uint64_t retransmits, bytes_in, bytes_out;
};

struct ns_tcp_cc_ops {
	const char *name;
	void (*init)(struct ns_conn *c);
	/* New data ACKed outside recovery; ACKED bytes. */
	void (*acked)(struct ns_conn *c, uint32_t acked);
	/* Loss detected (fast retransmit or RTO): set ssthresh (and cwnd for
	 * fast recovery). */
	void (*loss)(struct ns_conn *c, bool rto);
	/* Recovery finished (cumulative ACK at or beyond RecoveryPoint). */
	void (*recovered)(struct ns_conn *c);
};

struct ns_tcp {
	ns_stack_t *s;
	struct ns_conn *conns;    /* the pool */
	uint32_t nconns;
	struct ns_conn *free_list;
	struct ns_conn *zombies;
	struct ns_conn **buckets;
	uint32_t hmask, hseed;
	struct ns_tcp_listener listeners[NS_TCP_LISTEN_MAX];
	struct ns_conn *outq_head, *outq_tail;
	struct ns_conn *tw_head, *tw_tail; /* oldest first */
	uint32_t nlive;           /* in use, not TIME_WAIT */
	uint32_t ntw;
	uint64_t mem_used;        /* bytes charged to all queues */
	uint32_t depth;           /* nesting of input/flush: reaping waits */
	uint32_t wait_mem;        /* connections refused send space for memory */
	uint64_t wait_mem_us;     /* last time they were checked */

	uint64_t chack_sec;       /* RFC 5961 §7 limiter: current second */
	uint32_t chack_count;

	uint64_t isn_key[2], cookie_key[2], ts_key[2], port_key[2];
	uint32_t eph_next;

	/* Effective parameters (ns.h defaults applied to zeros). */
	uint32_t max_conns, tw_max, sndbuf, rcvbuf, backlog, chack_limit;
	uint32_t ka_probes;
	uint64_t mem_max, delack_us, rto_min_us, rto_max_us, ka_idle_us, ka_intvl_us;
	uint64_t tw_us;
	uint16_t mss_adv;         /* MSS we announce: MTU - 40 */
	uint16_t mss_cap;         /* largest segment payload one mbuf carries */
	uint8_t rcv_wscale;
	uint32_t pool_reserve;    /* mbufs the send path leaves for RX/ACKs */
	const struct ns_tcp_cc_ops *cc;
};

/* ---- Small helpers ---- */
static inline struct ns_tcp *tcp_of(const struct ns_conn *c)
{
	return c->s->tcp;
}

static inline uint32_t tcp_data_end(const struct ns_conn *c)
{
	return c->sq_seq + c->sq_len;
}

/* The FIN, once queued, sits right after the data. */
static inline bool tcp_fin_sent(const struct ns_conn *c)
{
	return (c->flags & NS_TCPF_SHUT_WR) && SEQ_GT(c->snd_max, tcp_data_end(c));
}

static inline bool tcp_fin_acked(const struct ns_conn *c)
{
	return (c->flags & NS_TCPF_SHUT_WR) && SEQ_GT(c->snd_una, tcp_data_end(c));
}

static inline uint32_t tcp_ts_now(const struct ns_conn *c)
{
	/* 1 ms ticks (RFC 7323 §5.4 allows 1 ms..1 s; PAWS relies on it). */
	return (uint32_t)(c->s->now_us / SL_US_PER_MS) + c->ts_offset;
}

static inline bool tcp_synchronized(const struct ns_conn *c)
{
	return c->state >= NS_TCP_ESTABLISHED;
}

/* ---- ns_tcp.c ---- */
struct ns_conn *tcp_conn_lookup(struct ns_tcp *t, uint32_t lip, uint32_t rip, uint16_t lport,
				uint16_t rport);
/* A fresh zeroed connection, or NULL (pool empty / max_conns). */
struct ns_conn *tcp_conn_alloc(struct ns_tcp *t, uint32_t rip, uint16_t lport, uint16_t rport);
void tcp_conn_hash(struct ns_tcp *t, struct ns_conn *c);
void tcp_conn_unhash(struct ns_tcp *t, struct ns_conn *c);
/* Negotiated-option setup once the peer's SYN options are known. */
void tcp_conn_setup_opts(struct ns_conn *c, const struct ns_tcp_opts *o);
/* Put C on the flush queue (ACKs, data, events). */
void tcp_conn_mark(struct ns_conn *c);
void tcp_conn_event(struct ns_conn *c, uint8_t ev);
/* The protocol is over. With the app attached and REASON < 0, `closed`
 * fires at the next flush; otherwise the object is released. */
void tcp_conn_finish(struct ns_conn *c, int reason);
/* Unhook C from everything (hash, timers, queues, lists) and park it. */
void tcp_conn_release(struct ns_conn *c);
void tcp_reap(struct ns_tcp *t);
void tcp_set_state(struct ns_conn *c, enum ns_tcp_state st);
void tcp_enter_time_wait(struct ns_conn *c);
struct ns_tcp_listener *tcp_listener_find(struct ns_tcp *t, uint16_t port);
/* Static state names for ns_conn_info. */
extern const char *const ns_tcp_state_names[NS_TCP_NSTATES];

/* ---- ns_tcp_opt.c ---- */
/* Parse TCP options; false when malformed (the segment keeps what parsed). */
bool tcp_opts_parse(const uint8_t *p, unsigned len, bool syn, struct ns_tcp_opts *o);
/* Write the options for a segment into BUF (40 bytes); returns length. */
unsigned tcp_opts_build_syn(uint8_t *buf, uint16_t mss, int wscale, bool sack_ok, bool ts,
			    uint32_t tsval, uint32_t tsecr);
unsigned tcp_opts_build(uint8_t *buf, const struct ns_conn *c, uint32_t tsval,
			unsigned max_sack);
/* Option bytes every full segment of C carries (timestamps). */
unsigned tcp_opts_fixed_len(const struct ns_conn *c);

/* ---- ns_tcp_output.c ---- */
/* Send everything C may send now (SYN, data, FIN, ACK). */
void tcp_output(struct ns_conn *c);
/* Send one segment of C: DLEN bytes of queued data from SEQ, FLAGS. */
int tcp_xmit(struct ns_conn *c, uint32_t seq, uint32_t dlen, uint8_t flags);
/* Send a segment with no connection (RST, cookie SYN-ACK). */
int tcp_xmit_raw(ns_stack_t *s, uint32_t lip, uint32_t rip, uint16_t lport, uint16_t rport,
		 uint32_t seq, uint32_t ack, uint8_t flags, uint16_t wnd, const uint8_t *opts,
		 unsigned optlen);
/* RST in reply to SEG for which no connection exists (RFC 9293 §3.10.7.1). */
void tcp_send_reset_for(ns_stack_t *s, const struct ns_tcp_seg *seg);
/* The window to advertise now (unscaled bytes), honouring no-shrink. */
uint32_t tcp_rcv_window(struct ns_conn *c);
/* RFC 5961 §7: a challenge ACK, if the global budget allows. */
void tcp_challenge_ack(struct ns_conn *c);
/* RFC 8985 §7.3: the tail loss probe (new data, else the last segment). */
void tcp_send_tlp(struct ns_conn *c);
/* Pure ACK now, for keepalive / zero-window probes: seq snd_una - 1. */
int tcp_send_probe(struct ns_conn *c);
/* Internet checksum of a TCP segment with the IPv4 pseudo-header; 0 when a
 * received segment (checksum field included) is intact. */
uint16_t tcp_cksum(uint32_t src, uint32_t dst, const void *seg, uint32_t len);

/* ---- ns_tcp_queue.c ---- */
/* Append up to LEN app bytes; returns bytes taken. */
size_t tcp_sq_append(struct ns_conn *c, const uint8_t *data, size_t len);
/* Drop send-queue bytes below SEQ (acknowledged). */
void tcp_sq_ack(struct ns_conn *c, uint32_t seq);
/* Copy LEN queued bytes starting at SEQ into DST. */
void tcp_sq_copy(struct ns_conn *c, uint32_t seq, uint32_t len, uint8_t *dst);
void tcp_sq_free(struct ns_conn *c);
/* Take in-sequence payload M (data already at the payload). */
void tcp_rq_append(struct ns_conn *c, struct rte_mbuf *m);
/* Queue an out-of-order payload at SEQ; false if dropped (M freed). */
bool tcp_ooo_insert(struct ns_conn *c, struct rte_mbuf *m, uint32_t seq);
/* Move now-contiguous out-of-order data to the receive queue. */
void tcp_ooo_drain(struct ns_conn *c);
void tcp_rq_free(struct ns_conn *c);
void tcp_rq_consume(struct ns_conn *c, size_t len);
/* SACK blocks to send (RFC 2018 §4), at most MAX; returns count. */
unsigned tcp_rsack_blocks(const struct ns_conn *c, struct ns_tcp_blk *out, unsigned max);
void tcp_rsack_note(struct ns_conn *c, uint32_t seq);
/* Truesize accounting for received mbufs. */
uint32_t tcp_mbuf_truesize(const struct rte_mbuf *m);
bool tcp_mem_charge(struct ns_conn *c, uint32_t bytes);
void tcp_mem_uncharge(struct ns_conn *c, uint32_t bytes);

/* ---- ns_tcp_sack.c ---- */
/* Record the SACK blocks of an incoming ACK; returns bytes newly SACKed. */
uint32_t tcp_sb_update(struct ns_conn *c, const struct ns_tcp_opts *o);
/* Forget scoreboard ranges below snd_una. */
void tcp_sb_trim(struct ns_conn *c);
void tcp_sb_clear(struct ns_conn *c);
bool tcp_sb_is_sacked(const struct ns_conn *c, uint32_t seq, uint32_t *end_r);
/* RFC 6675 IsLost(snd_una) for entering recovery. */
bool tcp_sb_head_lost(const struct ns_conn *c);
/* RFC 6675 SetPipe(). */
uint32_t tcp_sack_pipe(const struct ns_conn *c);
/* RFC 6675 NextSeg(): the range to send next and what it is. */
enum ns_tcp_nextseg { NS_TCP_NS_NONE, NS_TCP_NS_RXT, NS_TCP_NS_NEW, NS_TCP_NS_RESCUE };
enum ns_tcp_nextseg tcp_sack_next_seg(const struct ns_conn *c, uint32_t *seq_r, uint32_t *len_r);
/* Next seq at or after SEQ that is not SACKed (skipping SACKed ranges). */
uint32_t tcp_sb_skip(const struct ns_conn *c, uint32_t seq, uint32_t *until_r);

/* ---- ns_tcp_cc.c ---- */
extern const struct ns_tcp_cc_ops ns_tcp_cc_newreno, ns_tcp_cc_cubic;
uint32_t tcp_initial_window(const struct ns_conn *c);

/* ---- ns_tcp_timer.c ---- */
void tcp_timers_init(struct ns_conn *c);
void tcp_timers_cancel(struct ns_conn *c);
/* Choose and arm the main timer for the current state. */
void tcp_timer_update(struct ns_conn *c);
/* Restart the RTO from now (RFC 6298 §5.3). */
void tcp_rto_restart(struct ns_conn *c);
void tcp_delack_schedule(struct ns_conn *c);
void tcp_delack_cancel(struct ns_conn *c);
void tcp_rtt_sample(struct ns_conn *c, uint32_t rtt_us);
uint64_t tcp_rto_current(const struct ns_conn *c);

/* ---- ns_tcp_isn.c ---- */
uint64_t ns_siphash24(const uint64_t key[2], const void *data, size_t len);
uint32_t tcp_isn(struct ns_tcp *t, uint32_t lip, uint32_t rip, uint16_t lport, uint16_t rport);
uint32_t tcp_ts_offset(struct ns_tcp *t, uint32_t lip, uint32_t rip, uint16_t lport,
		       uint16_t rport);
uint32_t tcp_port_offset(struct ns_tcp *t, uint32_t lip, uint32_t rip, uint16_t rport);
/* SYN cookies (the cookie is our ISN; see ns_tcp_isn.c). */
uint32_t tcp_cookie_make(struct ns_tcp *t, const struct ns_tcp_seg *seg, uint16_t mss,
			 uint32_t *mss_idx_r);
/* 0 and the MSS in *mss_r, or SL_EINVAL. */
int tcp_cookie_check(struct ns_tcp *t, const struct ns_tcp_seg *seg, uint16_t *mss_r);
/* Option bits carried in the low bits of our SYN-ACK TSval. */
uint32_t tcp_cookie_ts_encode(uint32_t ts_now, int wscale, bool sack_ok);
void tcp_cookie_ts_decode(uint32_t tsecr, int *wscale_r, bool *sack_ok_r);
/* Key material from the params (or random when they are zero). */
void tcp_keys_init(struct ns_tcp *t, const uint64_t secret[2]);

#endif
