/* ns_diag - built-in diagnostic services on top of the public stack API:
 * TCP echo (RFC 862), TCP discard (RFC 863) and UDP echo. They exist so that
 * the packet path can be tested and benchmarked with stock kernel clients
 * before any mail protocol runs. Switched on per service in the config. */
#ifndef NS_DIAG_H
#define NS_DIAG_H

#include <stdint.h>

#include "ns.h"

typedef struct ns_diag_conf {
	uint16_t tcp_echo_port;    /* 0 = off (demo: 7) */
	uint16_t tcp_discard_port; /* 0 = off (demo: 9) */
	uint16_t udp_echo_port;    /* 0 = off (demo: 7) */
} ns_diag_conf_t;

/* ns_diag_start - bind the enabled services on S. 0, or the first bind
 * error (SL_EADDRINUSE...) with nothing left bound. */
int ns_diag_start(ns_stack_t *s, const ns_diag_conf_t *c);

#endif
