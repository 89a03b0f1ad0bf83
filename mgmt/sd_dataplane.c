/* sd_dataplane - port + workers + stacks. */
#include "sd_dataplane.h"

#include <stdlib.h>
#include <string.h>

#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include "ns_diag.h"
#include "sl_err.h"
#include "sl_log.h"
#include "sl_time.h"

#define SD_MAX_WORKERS 16

typedef struct sd_lane {
	sl_worker_t *worker;
	ns_stack_t *stack;
} sd_lane_t;

struct sd_dataplane {
	sl_port_t *port;
	unsigned n;
	sd_lane_t lane[SD_MAX_WORKERS];
};

static void sd_lane_tx(void *ctx, struct rte_mbuf *m)
{
	sd_lane_t *l = ctx;

	sl_worker_tx(l->worker, m);
}

static void sd_lane_tick(void *ctx, uint64_t now_us)
{
	ns_stack_poll(((sd_lane_t *)ctx)->stack, now_us);
}

static void sd_lane_rx(void *ctx, struct rte_mbuf **pkts, uint16_t n)
{
	ns_stack_t *s = ((sd_lane_t *)ctx)->stack;

	for (uint16_t i = 0; i < n; i++) {
		if (i + 1 < n)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1], void *));
		ns_stack_input(s, pkts[i]);
	}
}

static void sd_lane_flush(void *ctx)
{
	ns_stack_flush(((sd_lane_t *)ctx)->stack);
}

static uint64_t sd_lane_deadline(void *ctx)
{
	return ns_stack_next_deadline(((sd_lane_t *)ctx)->stack);
}

static const sl_worker_ops_t sd_lane_ops = {
	.tick = sd_lane_tick,
	.rx = sd_lane_rx,
	.flush = sd_lane_flush,
	.next_deadline = sd_lane_deadline,
};

int sd_dataplane_create(const sd_config_t *c, sd_dataplane_t **dp_r, const char **error_r)
{
	sd_dataplane_t *dp;
	sl_port_conf_t pc;
	ns_stack_params_t sp;
	ns_diag_conf_t dc;
	sl_fault_params_t frx, ftx;
	bool has_frx, has_ftx;
	int rc;

	dp = calloc(1, sizeof(*dp));
	if (dp == NULL)
		return SL_ENOMEM;
	sd_config_port(c, &pc);
	rc = sl_port_open(&pc, &dp->port, error_r);
	if (rc < 0)
		goto fail;
	has_frx = sd_config_fault(c, false, &frx);
	has_ftx = sd_config_fault(c, true, &ftx);
	if (has_frx || has_ftx)
		sl_log(SL_LOG_WARN, "dataplane",
		       "FAULT INJECTION IS ON (seed %u): packets will be dropped/mangled",
		       c->fault_injection.seed);
	dp->n = c->dataplane.workers;
	for (unsigned i = 0; i < dp->n; i++) {
		sd_lane_t *l = &dp->lane[i];
		sl_worker_params_t wp;

		sd_config_stack(c, &sp);
		if (memcmp(c->dataplane.mac, "\0\0\0\0\0\0", 6) != 0)
			memcpy(sp.mac, c->dataplane.mac, 6);
		else
			sl_port_mac(dp->port, sp.mac);
		sp.pool = sl_port_pool(dp->port);
		sp.tx = sd_lane_tx;
		sp.tx_ctx = l;
		sp.now_us = sl_time_now_us();
		l->stack = ns_stack_create(&sp, error_r);
		if (l->stack == NULL) {
			rc = SL_ECONFIG;
			goto fail;
		}
		sl_worker_params_default(&wp);
		wp.port_id = sl_port_id(dp->port);
		wp.queue_id = (uint16_t)i;
		wp.rx_intr = sl_port_has_rx_intr(dp->port);
		wp.idle_us = c->dataplane.idle_sleep;
		wp.tx_drain_us = c->dataplane.tx_drain;
		wp.ops = &sd_lane_ops;
		wp.ctx = l;
		wp.fault_rx = has_frx ? &frx : NULL;
		wp.fault_tx = has_ftx ? &ftx : NULL;
		wp.pool = sl_port_pool(dp->port);
		l->worker = sl_worker_create(&wp, error_r);
		if (l->worker == NULL) {
			rc = SL_ENOMEM;
			goto fail;
		}
		sd_config_services(c, &dc);
		rc = ns_diag_start(l->stack, &dc);
		if (rc < 0) {
			*error_r = "cannot bind the diagnostic services";
			goto fail;
		}
	}
	*dp_r = dp;
	return 0;
fail:
	sd_dataplane_destroy(&dp);
	return rc;
}

void sd_dataplane_run(sd_dataplane_t *dp)
{
	unsigned lcore = rte_get_next_lcore(-1, 1, 0);

	for (unsigned i = 1; i < dp->n; i++) {
		rte_eal_remote_launch(sl_worker_run, dp->lane[i].worker, lcore);
		lcore = rte_get_next_lcore(lcore, 1, 0);
	}
	/* Announce ourselves once the worker owns the stack. */
	ns_stack_announce(dp->lane[0].stack);
	sl_worker_run(dp->lane[0].worker);
	rte_eal_mp_wait_lcore();
}

void sd_dataplane_stop(sd_dataplane_t *dp)
{
	for (unsigned i = 0; i < dp->n; i++)
		if (dp->lane[i].worker)
			sl_worker_stop(dp->lane[i].worker);
}

void sd_dataplane_destroy(sd_dataplane_t **dpp)
{
	sd_dataplane_t *dp = *dpp;

	if (dp == NULL)
		return;
	for (unsigned i = 0; i < SD_MAX_WORKERS; i++) {
		ns_stack_destroy(&dp->lane[i].stack);
		sl_worker_destroy(&dp->lane[i].worker);
	}
	sl_port_close(&dp->port);
	free(dp);
	*dpp = NULL;
}

unsigned sd_dataplane_workers(const sd_dataplane_t *dp) { return dp->n; }
sl_worker_t *sd_dataplane_worker(const sd_dataplane_t *dp, unsigned i) { return dp->lane[i].worker; }
ns_stack_t *sd_dataplane_stack(const sd_dataplane_t *dp, unsigned i) { return dp->lane[i].stack; }
const sl_port_t *sd_dataplane_port(const sd_dataplane_t *dp) { return dp->port; }
