/* sluiced - the Sluice appliance daemon: boot, wiring, lifecycle.
 *
 *   sluiced --config FILE [--check-config]
 *
 * Boot order: config (fail fast with a clear message), the mail store (an
 * unusable path stops boot before DPDK is touched), DPDK EAL, data plane
 * (port, stacks, workers, services, SMTP), control socket. Worker 0 then
 * runs on the main lcore until SIGINT/SIGTERM; the first signal drains
 * (SMTP sessions get 421, messages being committed their 250), a second
 * one stops at once. Then everything is torn down in reverse order, the
 * store last, after every in-flight write has completed. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_eal.h>

#include "ctl_net.h"
#include "ctl_server.h"
#include "ctl_store.h"
#include "ctl_tls.h"
#include "sd_config.h"
#include "sd_dataplane.h"
#include "sl_err.h"
#include "sl_log.h"
#include "sl_time.h"
#include "st.h"

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
	static const ctl_cmd_t *const ctl_tables[] = {ctl_net_cmds, ctl_store_cmds, ctl_tls_cmds, NULL};
	st_store_opts_t so;
	st_store_t *store = NULL;
	ctl_store_t *ctl_st = NULL;
	cpu_set_t all_cpus, lcore_cpus;
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

	/* Before the EAL: a bad path should fail fast, and the writer thread
	 * then keeps the process's full CPU set instead of lcore 0's. */
	if (sd_config_store(&conf, &so)) {
		errno = 0;
		rc = st_store_open(&so, &store, &error);
		if (rc < 0) {
			int e = errno;

			fprintf(stderr, "sluiced: store %s: %s%s%s\n", so.path,
				error ? error : sl_strerror(rc), e ? ": " : "", e ? strerror(e) : "");
			return 1;
		}
		sl_log(SL_LOG_INFO, "sluiced", "store open: %s", so.path);
		rc = ctl_store_create(store, &ctl_st, &error);
		if (rc < 0) {
			fprintf(stderr, "sluiced: %s\n", error);
			st_store_close(&store);
			return 1;
		}
	} else if (sd_config_mail_enabled(&conf)) {
		fprintf(stderr, "sluiced: smtp, pop3 and imap need a store\n");
		return 1;
	}

	sd_config_eal(&conf, &eal);
	pthread_getaffinity_np(pthread_self(), sizeof(all_cpus), &all_cpus);
	if (sl_eal_init(&eal, &error) < 0)
		sl_fatal("sluiced", "%s", error);
	/* The EAL pinned us to lcore 0. Threads created now (control, auth
	 * verifiers) inherit our CPU set: give them the whole box so argon2id
	 * does not compete with the worker, then pin ourselves back. */
	pthread_getaffinity_np(pthread_self(), sizeof(lcore_cpus), &lcore_cpus);
	pthread_setaffinity_np(pthread_self(), sizeof(all_cpus), &all_cpus);
	rc = sd_dataplane_create(&conf, store, &dp, &error);
	if (rc < 0) {
		sl_log(SL_LOG_ERR, "sluiced", "data plane: %s", error ? error : sl_strerror(rc));
		goto out;
	}
	net_ctx.conf = &conf;
	net_ctx.dp = dp;
	net_ctx.started_us = sl_time_now_us();
	net_ctx.store = ctl_st;
	rc = ctl_server_start(conf.control_socket, ctl_tables, &net_ctx, &ctl, &error);
	pthread_setaffinity_np(pthread_self(), sizeof(lcore_cpus), &lcore_cpus);
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

	if (sd_config_smtp_enabled(&conf))
		sl_log(SL_LOG_INFO, "sluiced",
		       "smtp: mx port %u, submission port %u, submissions (implicit TLS) port %u, "
		       "TLS %s",
		       conf.smtp.mx.port, conf.smtp.submission.port, conf.smtp.submissions.port,
		       sd_dataplane_tls_config(dp) != NULL ? "on" : "off");
	if (sd_config_pop3_enabled(&conf))
		sl_log(SL_LOG_INFO, "sluiced", "pop3: port %u (STLS), port %u (implicit TLS)",
		       conf.pop3.plain.port, conf.pop3.tls.port);
	if (sd_config_imap_enabled(&conf))
		sl_log(SL_LOG_INFO, "sluiced", "imap: port %u (STARTTLS), port %u (implicit TLS)",
		       conf.imap.plain.port, conf.imap.tls.port);
	sl_log(SL_LOG_INFO, "sluiced", "ready: control socket %s", conf.control_socket);
	sd_dataplane_run(dp);
	sl_log(SL_LOG_INFO, "sluiced", "shutting down");
	rc = 0;
out:
	sd_running = NULL;
	ctl_server_stop(&ctl);
	/* Waits for the lanes' writes still in the store's hands. */
	sd_dataplane_destroy(&dp);
	ctl_store_destroy(&ctl_st);
	st_store_close(&store);
	rte_eal_cleanup();
	sl_log(SL_LOG_INFO, "sluiced", "stopped");
	return rc < 0 ? 1 : 0;
}
