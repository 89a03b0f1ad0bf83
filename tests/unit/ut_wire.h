/* ut_wire - test rigs for TCP in virtual time.
 *
 * ut_wire_t connects two ns_stack instances (side 0: 10.77.0.1, side 1:
 * 10.77.0.2, one /24) through an in-memory link: each direction has a
 * propagation delay, a serialization rate with a drop-tail queue, and
 * seeded faults from sl_fault (loss, duplication, reordering, corruption).
 * Time is virtual: ut_wire_step() jumps straight to the next frame delivery
 * or timer expiry, so nothing ever sleeps and a run replays exactly from its
 * seed (the seed also fixes both stacks' ISN secrets).
 *
 * ut_peer_t is one stack plus a scripted peer: the test writes raw TCP
 * segments (any flags, options, checksum) and reads what the stack sends
 * back, parsed. Addresses are ut_pkt's: the stack is ut_ip_us, the peer
 * ut_ip_peer. */
#ifndef UT_WIRE_H
#define UT_WIRE_H

#include <stdbool.h>
#include <stdint.h>

#include "ns.h"
#include "sl_fault.h"

struct rte_mempool;

/* ---- Two stacks on a wire ---- */

typedef struct ut_wire ut_wire_t;

typedef struct ut_wire_params {
	struct rte_mempool *pool;   /* NULL: ut_pool() */
	uint64_t seed;
	sl_fault_params_t fault[2]; /* [0]: side 0 -> 1, [1]: 1 -> 0; seeds are
				       derived from SEED when left 0 */
	uint64_t delay_us;          /* one-way propagation (default 500) */
	uint64_t rate_bps;          /* link rate; 0 = unlimited (default 1e9) */
	uint32_t queue_max;         /* frames waiting per direction (default 512) */
	uint64_t quantum_us;        /* time granularity of a step (default 20) */
	/* Called for each side's params after the defaults are set. */
	void (*tweak)(ns_stack_params_t *p, int side, void *arg);
	void *tweak_arg;
} ut_wire_params_t;

typedef struct ut_wire_stats {
	uint64_t frames[2];      /* handed to the link, per direction */
	uint64_t delivered[2];
	uint64_t queue_drops[2];
	sl_fault_stats_t fault[2];
} ut_wire_stats_t;

/* ut_wire_params_default - the defaults above, no faults. */
void ut_wire_params_default(ut_wire_params_t *p);
/* ut_wire_create - both stacks, already knowing each other's MAC. Aborts
 * the test (cmocka assert) on failure. */
ut_wire_t *ut_wire_create(const ut_wire_params_t *p);
/* ut_wire_destroy - destroy both stacks, free frames in flight; *W = NULL. */
void ut_wire_destroy(ut_wire_t **w);
ns_stack_t *ut_wire_stack(ut_wire_t *w, int side);
/* Network order. */
uint32_t ut_wire_ip(int side);
uint64_t ut_wire_now(const ut_wire_t *w);
/* ut_wire_flush - ns_stack_flush both sides (after app calls made outside
 * callbacks) and put what they sent on the link. */
void ut_wire_flush(ut_wire_t *w);
/* ut_wire_step - advance to the next event, deliver what is due, fire
 * timers, flush. False when nothing at all is pending. */
bool ut_wire_step(ut_wire_t *w);
/* ut_wire_run - step until DONE(ARG) (checked before each step) or MAX_US
 * of virtual time passed or the wire went idle. Returns DONE's verdict. */
bool ut_wire_run(ut_wire_t *w, bool (*done)(void *arg), void *arg, uint64_t max_us);
void ut_wire_get_stats(const ut_wire_t *w, ut_wire_stats_t *r);

/* ---- One stack and a scripted peer ---- */

#define UT_SEG_DATA_MAX 2048

typedef struct ut_seg {
	uint16_t sport, dport;   /* host order */
	uint32_t seq, ack;
	uint8_t flags;           /* NS_TH_* values: FIN 1, SYN 2, RST 4, PSH 8, ACK 16 */
	uint16_t wnd;            /* raw header field */
	/* Options: set to send them; filled when receiving. */
	bool has_mss, has_ws, sack_ok, has_ts;
	uint16_t mss;
	uint8_t ws;
	uint32_t tsval, tsecr;
	uint8_t nsack;
	uint32_t sack[4][2];
	/* Sending only: raw option bytes instead of the fields above, and a
	 * deliberately wrong checksum. */
	const uint8_t *raw_opts;
	uint8_t raw_optlen;
	bool bad_csum;
	/* Payload: to send, LEN bytes at DATA; received, a copy (truncated to
	 * UT_SEG_DATA_MAX) valid until the next ut_peer_recv. */
	const uint8_t *data;
	uint16_t len;
} ut_seg_t;

#define UT_FIN 0x01
#define UT_SYN 0x02
#define UT_RST 0x04
#define UT_PSH 0x08
#define UT_ACK 0x10

typedef struct ut_peer ut_peer_t;

/* ut_peer_create - a stack with ut_params() defaults changed by TWEAK
 * (may be NULL), which has learned the peer's MAC. */
ut_peer_t *ut_peer_create(void (*tweak)(ns_stack_params_t *p, void *arg), void *arg);
/* ut_peer_destroy - destroy the stack and captured frames; *P = NULL. */
void ut_peer_destroy(ut_peer_t **p);
ns_stack_t *ut_peer_stack(ut_peer_t *p);
uint64_t ut_peer_now(const ut_peer_t *p);
/* ut_peer_send - SEG from the peer to the stack, then ns_stack_flush. */
void ut_peer_send(ut_peer_t *p, const ut_seg_t *seg);
/* ut_peer_send_raw - an IPv4 frame with L4 bytes as given (no checksum
 * fixing): for hostile input. */
void ut_peer_send_raw(ut_peer_t *p, const void *l4, size_t len);
/* ut_peer_recv - the oldest TCP segment the stack sent (ARP answered and
 * other frames skipped). False if none is waiting. */
bool ut_peer_recv(ut_peer_t *p, ut_seg_t *seg_r);
/* ut_peer_pending - TCP segments waiting. */
unsigned ut_peer_pending(ut_peer_t *p);
void ut_peer_drain(ut_peer_t *p);
/* ut_peer_advance - move the clock by US, firing every timer at its own
 * expiry on the way (ns_stack_poll per expiry), then flush. */
void ut_peer_advance(ut_peer_t *p, uint64_t us);

/* ---- A TCP fixture on ut_peer: the peer's sequence state and an app ----
 *
 * Tests read as transcripts: ut_tfx_send_* puts a segment from the peer on
 * the wire, ut_tfx_expect asserts the stack's answer and keeps the peer's
 * view (timestamp echo) up to date. The stack listens on (or connects to)
 * UT_TFX_PORT; the peer uses UT_TFX_PPORT and ISS UT_TFX_PISS. */

#define UT_TFX_PORT 25
#define UT_TFX_PPORT 40000
#define UT_TFX_PISS 1000000u

/* The app: counts every callback, reads all data into rx. */
typedef struct ut_app {
	ns_conn_t *c;
	int accepted, connected, data, writable, closed, reason;
	int accept_rc;
	bool close_on_data, abort_on_data, eof;
	bool no_read;        /* leave data in the stack (window tests) */
	size_t rxlen;
	uint8_t rx[8192];
} ut_app_t;

extern const ns_conn_ops_t ut_app_ops;

/* The fixture. */

typedef struct ut_tfx {
	ut_peer_t *p;
	ut_app_t app;
	unsigned avail0;
	uint32_t snd;      /* peer's next sequence number */
	uint32_t rcv;      /* next sequence number expected from the stack */
	uint32_t our_iss;  /* the stack's ISS */
	uint32_t fin_seq;  /* sequence number of the stack's FIN */
	uint16_t port, pport;
	uint16_t wnd;
	bool ts;
	uint32_t tsval, ts_echo;
} ut_tfx_t;

typedef void ut_tfx_tweak_fn(ns_stack_params_t *p, void *arg);

/* ut_tfx_init - a ut_peer with TWEAK applied; notes the pool level. */
void ut_tfx_init(ut_tfx_t *f, ut_tfx_tweak_fn *tweak, void *arg);
/* ut_tfx_fini - destroy, and assert every mbuf came back. */
void ut_tfx_fini(ut_tfx_t *f);
ns_stack_t *ut_tfx_stack(ut_tfx_t *f);
ns_stats_t ut_tfx_stats(ut_tfx_t *f);
/* ut_tfx_seg - a segment from the peer at its current seq/ack, window and
 * timestamp. */
ut_seg_t ut_tfx_seg(ut_tfx_t *f, uint8_t flags);
/* ut_tfx_syn - a SYN with MSS 1460, window scale 7, SACK-permitted and
 * (if f->ts) a timestamp, at seq f->snd. */
ut_seg_t ut_tfx_syn(ut_tfx_t *f);
void ut_tfx_send(ut_tfx_t *f, const ut_seg_t *g);
void ut_tfx_send_flags(ut_tfx_t *f, uint8_t flags);
/* ut_tfx_send_data - LEN bytes in sequence; advances f->snd. */
void ut_tfx_send_data(ut_tfx_t *f, const void *data, uint16_t len);
/* ut_tfx_expect - the next segment from the stack has exactly FLAGS. */
ut_seg_t ut_tfx_expect(ut_tfx_t *f, uint8_t flags);
void ut_tfx_expect_none(ut_tfx_t *f);
void ut_tfx_flush(ut_tfx_t *f);
/* ut_tfx_info - the connection with remote port PPORT (not listeners). */
bool ut_tfx_info(ut_tfx_t *f, uint16_t pport, ns_conn_info_t *r);
/* ut_tfx_state_of / ut_tfx_state - its state name, or "NONE". */
const char *ut_tfx_state_of(ut_tfx_t *f, uint16_t pport);
const char *ut_tfx_state(ut_tfx_t *f);
void ut_tfx_listen(ut_tfx_t *f);
/* ut_tfx_est_passive - listen, SYN, SYN-ACK, ACK: ESTABLISHED, accepted. */
void ut_tfx_est_passive(ut_tfx_t *f);
/* ut_tfx_est_active - connect and read our SYN; with ANSWER, complete the
 * handshake. f->port becomes our ephemeral port, f->pport UT_TFX_PORT. */
void ut_tfx_est_active(ut_tfx_t *f, bool answer);

#endif
