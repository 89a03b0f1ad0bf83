/* sluiced - the Sluice appliance daemon: boot, wiring, lifecycle.
 *
 *   sluiced --config FILE [--check-config]
 *
 * Boot order: config (fail fast with a clear message), DPDK EAL, data plane
 * (port, stacks, workers, services), control socket. Worker 0 then runs on
 * the main lcore until SIGINT/SIGTERM, after which everything is torn down
 * in reverse order. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_eal.h>

#include "ctl_net.h"
#include "ctl_server.h"
#include "sd_config.h"
#include "sd_dataplane.h"
#include "sl_err.h"
#include "sl_log.h"
#include "sl_time.h"

static sd_dataplane_t *sd_running;

static void sd_on_signal(int sig)
{
	(void)sig;
	if (sd_running != NULL)
		sd_dataplane_stop(sd_running);
}

static void sd_usage(FILE *f)
{
	fprintf(f, "usage: sluiced --config FILE [--check-config]\n");
}

int main(int argc, char **argv)
{
	static sd_config_t conf;
	const char *config_path = NULL, *error = NULL;
	bool check_only = false;
	sl_eal_conf_t eal;
	sd_dataplane_t *dp = NULL;
	ctl_server_t *ctl = NULL;
	ctl_net_ctx_t net_ctx;
	static const ctl_cmd_t *const ctl_tables[] = {ctl_net_cmds, NULL};
	struct sigaction sa;
	int rc;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
			config_path = argv[++i];
		} else if (strcmp(argv[i], "--check-config") == 0) {
			check_only = true;
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			sd_usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "sluiced: unknown argument '%s'\n", argv[i]);
			sd_usage(stderr);
			return 2;
		}
	}
	if (config_path == NULL) {
		sd_usage(stderr);
		return 2;
	}
	rc = sd_config_load(config_path, &conf, &error);
	if (rc < 0) {
		fprintf(stderr, "sluiced: %s\n", error ? error : sl_strerror(rc));
		return 1;
	}
	if (check_only) {
		printf("%s: configuration OK\n", config_path);
		return 0;
	}
	sl_log_set_level((enum sl_log_level)conf.log_level);
	sl_log(SL_LOG_INFO, "sluiced", "starting (%s)", config_path);

	sd_config_eal(&conf, &eal);
	if (sl_eal_init(&eal, &error) < 0)
		sl_fatal("sluiced", "%s", error);
	rc = sd_dataplane_create(&conf, &dp, &error);
	if (rc < 0) {
		sl_log(SL_LOG_ERR, "sluiced", "data plane: %s", error ? error : sl_strerror(rc));
		goto out;
	}
	net_ctx.conf = &conf;
	net_ctx.dp = dp;
	net_ctx.started_us = sl_time_now_us();
	rc = ctl_server_start(conf.control_socket, ctl_tables, &net_ctx, &ctl, &error);
	if (rc < 0) {
		sl_log(SL_LOG_ERR, "sluiced", "%s", error ? error : sl_strerror(rc));
		goto out;
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = sd_on_signal;
	sigemptyset(&sa.sa_mask);
	sd_running = dp;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	sl_log(SL_LOG_INFO, "sluiced", "ready: control socket %s", conf.control_socket);
	sd_dataplane_run(dp);
	sl_log(SL_LOG_INFO, "sluiced", "shutting down");
	rc = 0;
out:
	sd_running = NULL;
	ctl_server_stop(&ctl);
	sd_dataplane_destroy(&dp);
	rte_eal_cleanup();
	sl_log(SL_LOG_INFO, "sluiced", "stopped");
	return rc < 0 ? 1 : 0;
}
