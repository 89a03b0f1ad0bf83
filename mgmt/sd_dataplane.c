/* sd_dataplane - port + workers + stacks. */
#include "sd_dataplane.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include "imap_recent.h"
#include "ns_diag.h"
#include "ns_tls.h"
#include "sl_err.h"
#include "sl_log.h"
#include "sl_time.h"

#define SD_MAX_WORKERS 16
/* Graceful stop: sessions get a moment to flush their 421, messages being
 * committed get their 250; after DRAIN_MAX the workers stop regardless. */
#define SD_DRAIN_MIN_US (100 * SL_US_PER_MS)
#define SD_DRAIN_MAX_US (10 * SL_US_PER_S)
#define SD_AUTH_QUEUE 256

typedef struct sd_dataplane sd_dataplane_t;

typedef struct sd_lane {
	sd_dataplane_t *dp;
	unsigned index;
	sl_worker_t *worker;
	ns_stack_t *stack;
	st_client_t *client;  /* this lane's store writes */
	st_reader_t *reader;  /* this lane's store reads */
	smtp_server_t *smtp;
	pop3_server_t *pop3;
	imap_server_t *imap;
	bayes_st_t *bayes;        /* the lane's view of the Bayes tokens */
	smtp_filter_t *filter;    /* the lane's content scans, or NULL */
	ns_tls_ctx_t *tls;    /* this lane's TLS context (owned), or NULL */
	ns_tls_config_t *install_cfg; /* tls install: the config to switch to */
	int install_rc;
	const char *install_err;
	bool draining;
	uint64_t drain_start;
	uint64_t fd_poll_last; /* last unconditional poll of the store/auth fds */
} sd_lane_t;

struct sd_dataplane {
	sl_port_t *port;
	unsigned n;
	atomic_int stopping;  /* 0 running, 1 draining, 2 hard stop */
	mta_authpool_t *auth;
	imap_recent_t *imap_recent; /* \Recent claims of every lane's IMAP sessions */
	flt_rules_t *rules;        /* the live rule set, or NULL (no filter) */
	flt_av_db_t *av;           /* the compiled virus signatures */
	flt_filter_t *filter;      /* shared by the lanes' scans */
	ns_tls_config_t *tls_cfg; /* shared by the lanes' contexts, or NULL */
	sd_lane_t lane[SD_MAX_WORKERS];
};

static void sd_lane_tx(void *ctx, struct rte_mbuf *m)
{
	sd_lane_t *l = ctx;

	sl_worker_tx(l->worker, m);
}

/* sd_lane_drain - the graceful part of a stop, on the lane's own worker. */
static void sd_lane_drain(sd_lane_t *l, uint64_t now_us)
{
	if (!l->draining) {
		l->draining = true;
		l->drain_start = now_us;
		if (l->smtp != NULL)
			smtp_server_shutdown(l->smtp, now_us);
		if (l->pop3 != NULL)
			pop3_server_shutdown(l->pop3, now_us);
		if (l->imap != NULL)
			imap_server_shutdown(l->imap, now_us);
	}
	if (now_us - l->drain_start >= SD_DRAIN_MAX_US ||
	    ((l->smtp == NULL || smtp_server_busy(l->smtp) == 0) &&
	     (l->pop3 == NULL || pop3_server_busy(l->pop3) == 0) &&
	     (l->imap == NULL || imap_server_busy(l->imap) == 0) &&
	     now_us - l->drain_start >= SD_DRAIN_MIN_US))
		sl_worker_stop(l->worker);
}

/* sd_lane_completions - store commits and auth results for every server of
 * the lane. The fast checks need no system call. An eventfd written after
 * we drained (the writer posts, then signals) would stay readable and keep
 * waking the worker, so the fds are also cleared once a millisecond. */
static void sd_lane_completions(sd_lane_t *l, uint64_t now_us)
{
	bool sweep = now_us - l->fd_poll_last >= SL_US_PER_MS;

	if (sweep)
		l->fd_poll_last = now_us;
	if (l->client != NULL && (sweep || st_client_pending(l->client)))
		st_client_poll(l->client);
	if (l->dp->auth != NULL && (sweep || mta_authpool_ready(l->dp->auth, l->index)))
		mta_authpool_poll(l->dp->auth, l->index);
}

static void sd_lane_tick(void *ctx, uint64_t now_us)
{
	sd_lane_t *l = ctx;

	ns_stack_poll(l->stack, now_us);
	if (l->smtp != NULL)
		smtp_server_tick(l->smtp, now_us);
	if (l->pop3 != NULL)
		pop3_server_tick(l->pop3, now_us);
	if (l->imap != NULL)
		imap_server_tick(l->imap, now_us);
	sd_lane_completions(l, now_us);
	if (unlikely(atomic_load_explicit(&l->dp->stopping, memory_order_relaxed) != 0))
		sd_lane_drain(l, now_us);
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
	sd_lane_t *l = ctx;
	uint64_t d = ns_stack_next_deadline(l->stack), e;

	if (l->smtp != NULL) {
		e = smtp_server_next_deadline(l->smtp);
		if (e < d)
			d = e;
	}
	if (l->pop3 != NULL) {
		e = pop3_server_next_deadline(l->pop3);
		if (e < d)
			d = e;
	}
	if (l->imap != NULL) {
		e = imap_server_next_deadline(l->imap);
		if (e < d)
			d = e;
	}
	if (l->draining) {
		e = sl_time_now_us() + 10 * SL_US_PER_MS;
		if (e < d)
			d = e;
	}
	return d;
}

/* sd_lane_smtp - the lane's SMTP listeners. */
static int sd_lane_smtp(const sd_config_t *c, sd_dataplane_t *dp, sd_lane_t *l,
			const char **error_r)
{
	smtp_server_params_t sp;

	memset(&sp, 0, sizeof(sp));
	sp.tls = l->tls;
	sp.stack = l->stack;
	sp.client = l->client;
	sp.reader = l->reader;
	sp.auth = dp->auth;
	sp.lane = l->index;
	if (dp->filter != NULL) {
		bayes_store_t bs;
		int rc = bayes_st_create(l->client, l->reader, &l->bayes);

		if (rc == 0) {
			bayes_autolearn_t al;

			bs = bayes_st_store(l->bayes);
			sd_config_filter_autolearn(c, &al);
			rc = smtp_filter_create(dp->filter, &bs, &al, &l->filter);
		}
		if (rc < 0) {
			*error_r = "cannot create the lane's content filter";
			return rc;
		}
		sp.filter = l->filter;
	}
	sd_config_smtp(c, &sp.engine);
	if (c->smtp.mx.port != 0)
		sp.listeners[sp.n_listeners++] = (smtp_listener_conf_t){
			(uint16_t)c->smtp.mx.port, SMTP_ROLE_MX, c->smtp.mx.allow_plaintext_auth,
			c->smtp.mx.require_tls};
	if (c->smtp.submission.port != 0)
		sp.listeners[sp.n_listeners++] = (smtp_listener_conf_t){
			(uint16_t)c->smtp.submission.port, SMTP_ROLE_SUBMISSION,
			c->smtp.submission.allow_plaintext_auth, c->smtp.submission.require_tls};
	if (c->smtp.submissions.port != 0)
		sp.listeners[sp.n_listeners++] = (smtp_listener_conf_t){
			(uint16_t)c->smtp.submissions.port, SMTP_ROLE_SUBMISSIONS, false, false};
	sp.max_sessions = c->smtp.max_connections;
	sp.max_per_ip = c->smtp.max_connections_per_ip;
	sp.staging_max = c->smtp.staging_memory;
	sp.auth_lockout_failures = c->smtp.auth_lockout_failures;
	sp.auth_lockout_us = c->smtp.auth_lockout_time;
	sp.now_us = sl_time_now_us();
	return smtp_server_create(&sp, &l->smtp, error_r);
}

/* sd_lane_pop3 - the lane's POP3 listeners (110 STLS, 995 implicit TLS). */
static int sd_lane_pop3(const sd_config_t *c, sd_dataplane_t *dp, sd_lane_t *l,
			const char **error_r)
{
	pop3_server_params_t pp;

	memset(&pp, 0, sizeof(pp));
	pp.stack = l->stack;
	pp.client = l->client;
	pp.reader = l->reader;
	pp.auth = dp->auth;
	pp.tls = l->tls;
	pp.lane = l->index;
	sd_config_pop3(c, &pp.engine);
	if (c->pop3.plain.port != 0)
		pp.listeners[pp.n_listeners++] = (pop3_listener_conf_t){
			(uint16_t)c->pop3.plain.port, false, c->pop3.plain.allow_plaintext_auth};
	if (c->pop3.tls.port != 0)
		pp.listeners[pp.n_listeners++] = (pop3_listener_conf_t){
			(uint16_t)c->pop3.tls.port, true, c->pop3.tls.allow_plaintext_auth};
	pp.max_sessions = c->pop3.max_connections;
	pp.max_per_ip = c->pop3.max_connections_per_ip;
	pp.auth_lockout_failures = c->pop3.auth_lockout_failures;
	pp.auth_lockout_us = c->pop3.auth_lockout_time;
	pp.now_us = sl_time_now_us();
	return pop3_server_create(&pp, &l->pop3, error_r);
}

/* sd_lane_imap - the lane's IMAP listeners (143 STARTTLS, 993 implicit TLS). */
static int sd_lane_imap(const sd_config_t *c, sd_dataplane_t *dp, sd_lane_t *l,
			const char **error_r)
{
	imap_server_params_t ip;

	memset(&ip, 0, sizeof(ip));
	ip.stack = l->stack;
	ip.client = l->client;
	ip.reader = l->reader;
	ip.auth = dp->auth;
	ip.recent = dp->imap_recent;
	ip.tls = l->tls;
	ip.lane = l->index;
	sd_config_imap(c, &ip.engine);
	if (c->imap.plain.port != 0)
		ip.listeners[ip.n_listeners++] = (imap_listener_conf_t){
			(uint16_t)c->imap.plain.port, false, c->imap.plain.allow_plaintext_auth};
	if (c->imap.tls.port != 0)
		ip.listeners[ip.n_listeners++] = (imap_listener_conf_t){
			(uint16_t)c->imap.tls.port, true, c->imap.tls.allow_plaintext_auth};
	ip.max_sessions = c->imap.max_connections;
	ip.max_per_ip = c->imap.max_connections_per_ip;
	ip.auth_lockout_failures = c->imap.auth_lockout_failures;
	ip.auth_lockout_us = c->imap.auth_lockout_time;
	ip.now_us = sl_time_now_us();
	return imap_server_create(&ip, &l->imap, error_r);
}

/* sd_lane_mail - the lane's store handles, TLS context and mail servers. */
static int sd_lane_mail(const sd_config_t *c, st_store_t *store, sd_dataplane_t *dp,
			sd_lane_t *l, const char **error_r)
{
	int rc;

	rc = st_client_create(store, c->store.lane_inflight, &l->client);
	if (rc < 0) {
		*error_r = "cannot create the lane's store client";
		return rc;
	}
	rc = st_reader_create(store, &l->reader);
	if (rc < 0) {
		*error_r = "cannot create the lane's store reader";
		return rc;
	}
	if (sl_worker_watch_fd(l->worker, st_client_fd(l->client)) < 0 ||
	    (dp->auth != NULL && sl_worker_watch_fd(l->worker, mta_authpool_fd(dp->auth, l->index)) < 0)) {
		*error_r = "too many fds to watch on a worker";
		return SL_ELIMIT;
	}
	if (dp->tls_cfg != NULL) {
		rc = ns_tls_ctx_create(l->stack, dp->tls_cfg, &l->tls, error_r);
		if (rc < 0)
			return rc;
	}
	if (sd_config_smtp_enabled(c)) {
		rc = sd_lane_smtp(c, dp, l, error_r);
		if (rc < 0)
			return rc;
	}
	if (sd_config_pop3_enabled(c)) {
		rc = sd_lane_pop3(c, dp, l, error_r);
		if (rc < 0)
			return rc;
	}
	if (sd_config_imap_enabled(c)) {
		rc = sd_lane_imap(c, dp, l, error_r);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* sd_av_build - the virus signatures of filter.signatures (files or
 * directories), compiled once and shared read-only by every lane. */
static int sd_av_build(const sd_config_t *c, sd_dataplane_t *dp, const char **error_r)
{
	static char errbuf[700];
	flt_av_db_stats_t st;
	const char *err = NULL;
	struct stat sb;
	int rc;

	rc = flt_av_db_new(&dp->av);
	if (rc < 0) {
		*error_r = "filter: no memory for the virus database";
		return rc;
	}
	for (unsigned i = 0; i < c->filter.signatures.count; i++) {
		const char *path = c->filter.signatures.items[i];

		if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
			rc = flt_av_db_load_dir(dp->av, path, &err);
		else
			rc = flt_av_db_load_file(dp->av, path, &err);
		if (rc < 0)
			goto fail;
	}
	rc = flt_av_db_compile(dp->av, &err);
	if (rc < 0)
		goto fail;
	flt_av_db_stats(dp->av, &st);
	sl_log(SL_LOG_INFO, "filter",
	       "virus signatures: %u files, %u hash, %u body, %u logical (%u lines skipped)",
	       st.files, st.md5 + st.sha1 + st.sha256, st.ndb, st.ldb, st.skipped);
	for (unsigned i = 0; i < st.skipped && flt_av_db_warning(dp->av, i) != NULL; i++)
		sl_log(SL_LOG_WARN, "filter", "skipped: %s", flt_av_db_warning(dp->av, i));
	return 0;
fail:
	snprintf(errbuf, sizeof(errbuf), "filter.signatures: %s", err ? err : sl_strerror(rc));
	*error_r = errbuf;
	return rc;
}

/* sd_rules_cache - compiled Hyperscan databases are kept in
 * <store.path>/hs-cache, so a start (or a later reload) with unchanged
 * rules reads them back instead of compiling for a second or more. The
 * cache is best effort: without it every load compiles. */
static void sd_rules_cache(const sd_config_t *c, flt_rules_t *rules)
{
	char dir[sizeof(c->store.path) + 16];

	if (c->store.path[0] == '\0')
		return;
	snprintf(dir, sizeof(dir), "%s/hs-cache", c->store.path);
	if ((mkdir(dir, 0700) < 0 && errno != EEXIST) || flt_rules_set_cache(rules, dir) < 0)
		sl_log(SL_LOG_WARN, "filter", "rule cache %s unusable (%s): compiling every load",
		       dir, strerror(errno));
}

/* sd_filter_build - the rule set and the filter every lane scans with. */
static int sd_filter_build(const sd_config_t *c, sd_dataplane_t *dp, const char **error_r)
{
	static char errbuf[700];
	flt_config_t fc;
	flt_ruleset_stats_t rs;
	flt_ruleset_t *set;
	const char *err = NULL;
	int rc;

	rc = flt_rules_new(&dp->rules);
	if (rc < 0) {
		*error_r = "filter: no memory for the rule set";
		return rc;
	}
	sd_rules_cache(c, dp->rules);
	if (c->filter.rules.count > 0) {
		rc = flt_rules_load(dp->rules, (const char *const *)c->filter.rules.items,
				    c->filter.rules.count, 0, &err);
		if (rc < 0) {
			snprintf(errbuf, sizeof(errbuf), "filter.rules: %s", err ? err : sl_strerror(rc));
			*error_r = errbuf;
			return rc;
		}
	}
	rc = sd_av_build(c, dp, error_r);
	if (rc < 0)
		return rc;
	sd_config_filter(c, &fc);
	rc = flt_filter_new(&fc, dp->rules, dp->av, &dp->filter);
	if (rc < 0) {
		*error_r = "filter: bad thresholds or no memory";
		return rc;
	}
	set = flt_rules_current(dp->rules);
	flt_ruleset_stats(set, &rs);
	flt_ruleset_unref(&set);
	sl_log(SL_LOG_INFO, "filter",
	       "%zu rules loaded (%zu of %zu databases from the cache); spam %.1f, quarantine %.1f, "
	       "reject %.1f",
	       (size_t)rs.rules, rs.dbs_cached, rs.block_dbs + rs.stream_dbs, fc.spam_score,
	       fc.quarantine_score, fc.reject_score);
	return 0;
}

static void sd_log_cert(const char *what, const ns_tls_cert_info_t *ci)
{
	char exp[32];
	time_t t = (time_t)ci->not_after;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(exp, sizeof(exp), "%Y-%m-%d %H:%M:%SZ", &tm);
	sl_log(SL_LOG_INFO, "tls", "%s: %s, %s, names %s, expires %s, SHA-256 %s", what,
	       ci->subject, ci->key_type, ci->names, exp, ci->fingerprint);
}

/* sd_tls_build - the config every lane's context is made from: the
 * configured certificates, or the first-start self-signed one. */
static int sd_tls_build(const sd_config_t *c, ns_tls_config_t **cfg_r, const char **error_r)
{
	static char errbuf[700];
	ns_tls_config_params_t p;
	ns_tls_cert_src_t srcs[NS_TLS_CERTS_MAX];
	ns_tls_cert_info_t ci;
	char cert[300], key[300];
	const char *host = c->smtp.hostname[0] ? c->smtp.hostname : c->hostname, *err = NULL;
	int rc;

	sd_config_tls(c, &p, srcs);
	if (p.n_certs == 0) {
		sd_config_tls_selfsigned(c, cert, key, sizeof(cert));
		rc = ns_tls_selfsigned_ensure(cert, key, host, &ci, &err);
		if (rc < 0) {
			snprintf(errbuf, sizeof(errbuf), "tls: self-signed certificate %s: %s", cert,
				 err ? err : sl_strerror(rc));
			*error_r = errbuf;
			return rc;
		}
		sl_log(SL_LOG_INFO, "tls", "%s the self-signed certificate %s (no tls.cert configured)",
		       rc == 1 ? "generated" : "using", cert);
		srcs[0].cert_file = cert;
		srcs[0].key_file = key;
		p.n_certs = 1;
	}
	rc = ns_tls_config_create(&p, cfg_r, &err);
	if (rc < 0) {
		snprintf(errbuf, sizeof(errbuf), "tls: %s", err ? err : sl_strerror(rc));
		*error_r = errbuf;
		return rc;
	}
	for (unsigned i = 0; i < ns_tls_config_n_certs(*cfg_r); i++)
		if (ns_tls_config_cert_info(*cfg_r, i, &ci) == 0)
			sd_log_cert(i == 0 ? "certificate (default)" : "certificate", &ci);
	return 0;
}

static const sl_worker_ops_t sd_lane_ops = {
	.tick = sd_lane_tick,
	.rx = sd_lane_rx,
	.flush = sd_lane_flush,
	.next_deadline = sd_lane_deadline,
};

int sd_dataplane_create(const sd_config_t *c, st_store_t *store, sd_dataplane_t **dp_r,
			const char **error_r)
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
	if (store != NULL && sd_config_tls_enabled(c)) {
		rc = sd_tls_build(c, &dp->tls_cfg, error_r);
		if (rc < 0)
			goto fail;
	}
	if (store != NULL && c->filter.enabled) {
		rc = sd_filter_build(c, dp, error_r);
		if (rc < 0)
			goto fail;
	}
	if (store != NULL && sd_config_mail_enabled(c)) {
		rc = mta_authpool_create(store, c->smtp.auth_threads, dp->n, SD_AUTH_QUEUE, &dp->auth,
					  error_r);
		if (rc < 0)
			goto fail;
	}
	if (sd_config_imap_enabled(c)) {
		dp->imap_recent = imap_recent_create();
		if (dp->imap_recent == NULL) {
			*error_r = "imap: out of memory";
			rc = SL_ENOMEM;
			goto fail;
		}
	}
	for (unsigned i = 0; i < dp->n; i++) {
		sd_lane_t *l = &dp->lane[i];
		sl_worker_params_t wp;

		l->dp = dp;
		l->index = i;
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
		if (store != NULL) {
			rc = sd_lane_mail(c, store, dp, l, error_r);
			if (rc < 0)
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
	/* Async-signal-safe: an atomic add and eventfd writes. */
	int was = atomic_fetch_add(&dp->stopping, 1);

	for (unsigned i = 0; i < dp->n; i++)
		if (dp->lane[i].worker) {
			if (was == 0)
				sl_worker_wake(dp->lane[i].worker);
			else
				sl_worker_stop(dp->lane[i].worker);
		}
}

void sd_dataplane_destroy(sd_dataplane_t **dpp)
{
	sd_dataplane_t *dp = *dpp;

	if (dp == NULL)
		return;
	/* Auth jobs come back to their lanes, which then free them. */
	mta_authpool_stop(dp->auth);
	for (unsigned i = 0; i < SD_MAX_WORKERS; i++) {
		sd_lane_t *l = &dp->lane[i];

		if (l->smtp != NULL)
			smtp_server_tick(l->smtp, sl_time_now_us());
		if (l->pop3 != NULL)
			pop3_server_tick(l->pop3, sl_time_now_us());
		if (l->imap != NULL)
			imap_server_tick(l->imap, sl_time_now_us());
		if (dp->auth != NULL && i < dp->n)
			mta_authpool_poll(dp->auth, i);
		smtp_server_destroy(&l->smtp);
		pop3_server_destroy(&l->pop3);
		imap_server_destroy(&l->imap);
		/* Every stream is aborted: the context goes before its stack. */
		ns_tls_ctx_destroy(&l->tls);
		/* Waits for this lane's writes still in the store's hands and runs
		 * their completions (auto-learns count in l->filter). */
		st_client_destroy(&l->client);
		smtp_filter_destroy(&l->filter);
		if (bayes_st_destroy(&l->bayes) < 0)
			sl_log(SL_LOG_WARN, "filter", "lane %u: Bayes updates still in flight", i);
		st_reader_destroy(&l->reader);
	}
	mta_authpool_destroy(&dp->auth);
	imap_recent_destroy(&dp->imap_recent);
	flt_filter_free(&dp->filter);
	flt_rules_free(&dp->rules);
	flt_av_db_free(&dp->av);
	for (unsigned i = 0; i < SD_MAX_WORKERS; i++) {
		ns_stack_destroy(&dp->lane[i].stack);
		sl_worker_destroy(&dp->lane[i].worker);
	}
	ns_tls_config_unref(&dp->tls_cfg);
	sl_port_close(&dp->port);
	free(dp);
	*dpp = NULL;
}

unsigned sd_dataplane_workers(const sd_dataplane_t *dp) { return dp->n; }
sl_worker_t *sd_dataplane_worker(const sd_dataplane_t *dp, unsigned i) { return dp->lane[i].worker; }
ns_stack_t *sd_dataplane_stack(const sd_dataplane_t *dp, unsigned i) { return dp->lane[i].stack; }
const sl_port_t *sd_dataplane_port(const sd_dataplane_t *dp) { return dp->port; }
smtp_server_t *sd_dataplane_smtp(const sd_dataplane_t *dp, unsigned i) { return dp->lane[i].smtp; }
pop3_server_t *sd_dataplane_pop3(const sd_dataplane_t *dp, unsigned i) { return dp->lane[i].pop3; }
imap_server_t *sd_dataplane_imap(const sd_dataplane_t *dp, unsigned i) { return dp->lane[i].imap; }
smtp_filter_t *sd_dataplane_filter(const sd_dataplane_t *dp, unsigned i) { return dp->lane[i].filter; }
ns_tls_ctx_t *sd_dataplane_lane_tls(const sd_dataplane_t *dp, unsigned i) { return dp->lane[i].tls; }
const ns_tls_config_t *sd_dataplane_tls_config(const sd_dataplane_t *dp) { return dp->tls_cfg; }

/* On lane L's worker: a context for the new config, the listeners switch
 * to it, the old one is let go (its sessions finish on it). */
static void sd_lane_tls_install(void *arg)
{
	sd_lane_t *l = arg;
	ns_tls_ctx_t *ctx = NULL;

	l->install_err = NULL;
	l->install_rc = ns_tls_ctx_create(l->stack, l->install_cfg, &ctx, &l->install_err);
	if (l->install_rc < 0)
		return;
	l->install_rc = 0;
	if (l->smtp != NULL)
		l->install_rc = smtp_server_set_tls(l->smtp, ctx);
	if (l->install_rc == 0 && l->pop3 != NULL)
		l->install_rc = pop3_server_set_tls(l->pop3, ctx);
	if (l->install_rc == 0 && l->imap != NULL)
		l->install_rc = imap_server_set_tls(l->imap, ctx);
	if (l->install_rc < 0) {
		l->install_err = "a mail server of this lane runs without TLS";
		ns_tls_ctx_destroy(&ctx);
		return;
	}
	ns_tls_ctx_destroy(&l->tls);
	l->tls = ctx;
}

int sd_dataplane_tls_install(sd_dataplane_t *dp, ns_tls_config_t *cfg, const char **error_r)
{
	static char errbuf[300];
	int rc;

	if (dp->tls_cfg == NULL) {
		*error_r = "TLS is not enabled (no mail listener, or tls.enabled = false)";
		return SL_ESTATE;
	}
	for (unsigned i = 0; i < dp->n; i++) {
		sd_lane_t *l = &dp->lane[i];

		if (l->tls == NULL)
			continue;
		l->install_cfg = cfg;
		rc = sl_worker_call(l->worker, sd_lane_tls_install, l, 5 * SL_US_PER_S);
		if (rc < 0) {
			/* It may still run later: CFG must stay alive (leaked). */
			ns_tls_config_ref(cfg);
			snprintf(errbuf, sizeof(errbuf), "worker %u did not answer", i);
			*error_r = errbuf;
			return rc;
		}
		if (l->install_rc < 0) {
			snprintf(errbuf, sizeof(errbuf), "worker %u: %s", i,
				 l->install_err ? l->install_err : sl_strerror(l->install_rc));
			*error_r = errbuf;
			return l->install_rc;
		}
	}
	ns_tls_config_unref(&dp->tls_cfg);
	dp->tls_cfg = ns_tls_config_ref(cfg);
	return 0;
}
