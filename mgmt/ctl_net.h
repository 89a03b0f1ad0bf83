/* ctl_net - control commands about the daemon and the data plane:
 * status, show interfaces, show connections, show stats. */
#ifndef CTL_NET_H
#define CTL_NET_H

#include <stdint.h>

#include "ctl_server.h"
#include "sd_config.h"
#include "sd_dataplane.h"

struct ctl_store;

/* The daemon as the control commands see it (every table gets this). */
typedef struct ctl_net_ctx {
	const sd_config_t *conf;
	sd_dataplane_t *dp;
	uint64_t started_us;     /* monotonic */
	struct ctl_store *store; /* ctl_store.h; NULL without a store */
} ctl_net_ctx_t;

/* Handlers take a ctl_net_ctx_t as ctx. */
extern const ctl_cmd_t ctl_net_cmds[];

#endif
