/* ctl_tls - TLS control commands. Both run on the control thread: `show`
 * reads the shared, immutable config; `install` builds a new config here
 * (parsing and checking PEM is slow work that stays off the workers) and
 * only the per-lane context switch runs on each worker (sl_worker_call,
 * in sd_dataplane_tls_install). */
#include "ctl_tls.h"

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "ctl_net.h"
#include "ns_tls.h"
#include "sl_err.h"
#include "sl_log.h"

#define CTL_TLS_PATH_MAX 512

static void ctl_tls_date(int64_t t, char buf[32])
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(buf, 32, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

static void ctl_tls_describe(sl_buf_t *out, const ns_tls_cert_info_t *ci)
{
	char nb[32], na[32];
	int64_t left = ci->not_after - (int64_t)time(NULL);

	ctl_tls_date(ci->not_before, nb);
	ctl_tls_date(ci->not_after, na);
	sl_buf_printf(out, "  subject:     %s\n", ci->subject);
	sl_buf_printf(out, "  issuer:      %s%s\n", ci->issuer, ci->self_signed ? " (self-signed)" : "");
	sl_buf_printf(out, "  names:       %s\n", ci->names);
	sl_buf_printf(out, "  key:         %s\n", ci->key_type);
	sl_buf_printf(out, "  valid:       %s to %s (%s%lld days)\n", nb, na,
		      left < 0 ? "EXPIRED " : "", (long long)((left < 0 ? -left : left) / 86400));
	sl_buf_printf(out, "  chain:       %u certificate%s\n", ci->chain_len,
		      ci->chain_len == 1 ? "" : "s");
	sl_buf_printf(out, "  sha256:      %s\n", ci->fingerprint);
}

static int ctl_tls_show(void *ctx, int argc, char **argv, sl_buf_t *out, const char **error_r)
{
	ctl_net_ctx_t *c = ctx;
	const ns_tls_config_t *cfg = sd_dataplane_tls_config(c->dp);
	unsigned n;

	(void)argv;
	if (argc != 0) {
		*error_r = "usage: tls show";
		return SL_EINVAL;
	}
	if (cfg == NULL) {
		sl_buf_printf(out, "tls: off\n");
		return 0;
	}
	n = ns_tls_config_n_certs(cfg);
	sl_buf_printf(out, "tls: on, %u certificate%s\n", n, n == 1 ? "" : "s");
	for (unsigned i = 0; i < n; i++) {
		ns_tls_cert_info_t ci;

		if (ns_tls_config_cert_info(cfg, i, &ci) < 0)
			continue;
		sl_buf_printf(out, "certificate %u%s:\n", i, i == 0 ? " (default)" : "");
		ctl_tls_describe(out, &ci);
	}
	return 0;
}

/* The files behind the certificates the lanes use now, index for index
 * with the live config: the configured ones (or the first-start
 * self-signed one) until the first install, then what installs made of
 * them. Control thread only. */
static struct {
	bool known;
	unsigned n;
	char cert[NS_TLS_CERTS_MAX][CTL_TLS_PATH_MAX];
	char key[NS_TLS_CERTS_MAX][CTL_TLS_PATH_MAX];
} ctl_tls_files;

static void ctl_tls_files_load(const sd_config_t *conf)
{
	ns_tls_config_params_t p;
	ns_tls_cert_src_t srcs[NS_TLS_CERTS_MAX];

	if (ctl_tls_files.known)
		return;
	ctl_tls_files.known = true;
	sd_config_tls(conf, &p, srcs);
	if (p.n_certs == 0) {
		sd_config_tls_selfsigned(conf, ctl_tls_files.cert[0], ctl_tls_files.key[0],
					 CTL_TLS_PATH_MAX);
		ctl_tls_files.n = 1;
		return;
	}
	for (unsigned i = 0; i < p.n_certs; i++) {
		snprintf(ctl_tls_files.cert[i], CTL_TLS_PATH_MAX, "%s", srcs[i].cert_file);
		snprintf(ctl_tls_files.key[i], CTL_TLS_PATH_MAX, "%s", srcs[i].key_file);
	}
	ctl_tls_files.n = p.n_certs;
}

/* ctl_tls_names_meet - do two comma-separated name lists share a name
 * (ASCII case-insensitive, exact: "*.example.com" meets only itself)? */
static bool ctl_tls_names_meet(const char *a, const char *b)
{
	for (const char *x = a; *x != '\0';) {
		size_t xl = strcspn(x, ",");

		for (const char *y = b; *y != '\0';) {
			size_t yl = strcspn(y, ",");

			if (xl > 0 && xl == yl && strncasecmp(x, y, xl) == 0)
				return true;
			y += yl + (y[yl] == ',');
		}
		x += xl + (x[xl] == ',');
	}
	return false;
}

/* tls install CERT KEY - validate (key matches, chain complete), then
 * every lane switches to it; sessions already in TLS finish on the old
 * certificate, ticket keys stay the same (resumption keeps working).
 *
 * The other certificates stay: the new one replaces, in place, every
 * certificate that shares an SNI name with it (a renewal), and if it
 * shares none it becomes the default, the others still answering for
 * their names. */
static int ctl_tls_install(void *ctx, int argc, char **argv, sl_buf_t *out, const char **error_r)
{
	static __thread char errbuf[512];
	ctl_net_ctx_t *c = ctx;
	const ns_tls_config_t *cur = sd_dataplane_tls_config(c->dp);
	ns_tls_config_params_t p;
	ns_tls_cert_src_t srcs[NS_TLS_CERTS_MAX], conf_srcs[NS_TLS_CERTS_MAX];
	ns_tls_cert_info_t ci, old;
	ns_tls_config_t *cfg = NULL;
	unsigned keep[NS_TLS_CERTS_MAX], n = 0, replaced = 0, at = 0;
	const char *err = NULL;
	int rc;

	if (argc != 2) {
		*error_r = "usage: tls install CERT KEY";
		return SL_EINVAL;
	}
	if (cur == NULL) {
		*error_r = "TLS is off (tls.enabled = false, or no SMTP listener)";
		return SL_ESTATE;
	}
	if (strlen(argv[0]) >= CTL_TLS_PATH_MAX || strlen(argv[1]) >= CTL_TLS_PATH_MAX) {
		*error_r = "path too long";
		return SL_EINVAL;
	}
	sd_config_tls(c->conf, &p, conf_srcs);
	memset(srcs, 0, sizeof(srcs));
	srcs[0].cert_file = argv[0];
	srcs[0].key_file = argv[1];
	rc = ns_tls_cert_check(&srcs[0], p.ca_file, &ci, &err);
	if (rc < 0) {
		snprintf(errbuf, sizeof(errbuf), "%s: %s", argv[0], err ? err : sl_strerror(rc));
		*error_r = errbuf;
		return rc;
	}
	ctl_tls_files_load(c->conf);
	/* the new list: KEEP[] indexes the current files, UINT_MAX the new */
	for (unsigned i = 0; i < ctl_tls_files.n && i < ns_tls_config_n_certs(cur); i++) {
		if (ns_tls_config_cert_info(cur, i, &old) == 0 &&
		    ctl_tls_names_meet(old.names, ci.names)) {
			if (replaced++ == 0)
				keep[n++] = UINT_MAX;
			continue;
		}
		keep[n++] = i;
	}
	if (replaced == 0) {
		if (n == NS_TLS_CERTS_MAX) {
			*error_r = "16 certificates are installed already, and this one renews none";
			return SL_ELIMIT;
		}
		memmove(keep + 1, keep, n * sizeof(keep[0]));
		keep[0] = UINT_MAX;
		n++;
	}
	memset(srcs, 0, sizeof(srcs));
	for (unsigned i = 0; i < n; i++) {
		srcs[i].cert_file = keep[i] == UINT_MAX ? argv[0] : ctl_tls_files.cert[keep[i]];
		srcs[i].key_file = keep[i] == UINT_MAX ? argv[1] : ctl_tls_files.key[keep[i]];
		if (keep[i] == UINT_MAX)
			at = i;
	}
	p.certs = srcs;
	p.n_certs = n;
	p.ticket_secret_from = cur;
	rc = ns_tls_config_create(&p, &cfg, &err);
	if (rc < 0) {
		snprintf(errbuf, sizeof(errbuf), "%s", err ? err : sl_strerror(rc));
		*error_r = errbuf;
		return rc;
	}
	rc = sd_dataplane_tls_install(c->dp, cfg, &err);
	ns_tls_config_unref(&cfg);
	if (rc < 0) {
		snprintf(errbuf, sizeof(errbuf), "install: %s", err ? err : sl_strerror(rc));
		*error_r = errbuf;
		return rc;
	}
	{
		char cert[NS_TLS_CERTS_MAX][CTL_TLS_PATH_MAX], key[NS_TLS_CERTS_MAX][CTL_TLS_PATH_MAX];

		for (unsigned i = 0; i < n; i++) {
			snprintf(cert[i], CTL_TLS_PATH_MAX, "%s", srcs[i].cert_file);
			snprintf(key[i], CTL_TLS_PATH_MAX, "%s", srcs[i].key_file);
		}
		memcpy(ctl_tls_files.cert, cert, sizeof(cert));
		memcpy(ctl_tls_files.key, key, sizeof(key));
		ctl_tls_files.n = n;
	}
	sl_log(SL_LOG_INFO, "tls", "installed %s: %s, SHA-256 %s (certificate %u of %u%s)", argv[0],
	       ci.subject, ci.fingerprint, at, n,
	       replaced ? ", renewing" : ", the new default");
	sl_buf_printf(out, "installed on %u worker%s (new connections use it now) as certificate %u%s, %s:\n",
		      sd_dataplane_workers(c->dp), sd_dataplane_workers(c->dp) == 1 ? "" : "s", at,
		      at == 0 ? " (default)" : "",
		      replaced ? "replacing the one(s) with the same names" : "the others kept for their names");
	ctl_tls_describe(out, &ci);
	return 0;
}

const ctl_cmd_t ctl_tls_cmds[] = {
	{"tls show", "tls show", ctl_tls_show},
	{"tls install", "tls install CERT KEY   (PEM chain, leaf first; PEM key)", ctl_tls_install},
	{NULL},
};
