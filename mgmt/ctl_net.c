/* ctl_net - status and network show commands. Anything owned by a worker
 * (stack counters, the TCP table) is read on that worker through
 * sl_worker_call, never from the control thread directly. */
#include "ctl_net.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sl_err.h"
#include "sl_time.h"

#define CTL_CALL_TIMEOUT_US (2 * SL_US_PER_S)

static int ctl_no_args(int argc, const char **error_r)
{
	if (argc != 0) {
		*error_r = "this command takes no arguments";
		return SL_EINVAL;
	}
	return 0;
}

static int ctl_status(void *ctx, int argc, char **argv, sl_buf_t *out, const char **error_r)
{
	ctl_net_ctx_t *c = ctx;
	uint64_t up = (sl_time_now_us() - c->started_us) / SL_US_PER_S;
	unsigned n = sd_dataplane_workers(c->dp);

	(void)argv;
	if (ctl_no_args(argc, error_r) < 0)
		return SL_EINVAL;
	sl_buf_printf(out, "hostname: %s\n", c->conf->hostname);
	sl_buf_printf(out, "uptime: %" PRIu64 "d %02" PRIu64 ":%02" PRIu64 ":%02" PRIu64 " (%" PRIu64
			   " s)\n",
		      up / 86400, up / 3600 % 24, up / 60 % 60, up % 60, up);
	sl_buf_printf(out, "workers: %u\n", n);
	sl_buf_printf(out, "%-6s %-6s %-9s %12s %10s %12s %12s %7s\n", "worker", "lcore", "state",
		      "turns", "sleeps", "rx_pkts", "tx_pkts", "busy");
	for (unsigned i = 0; i < n; i++) {
		sl_worker_t *w = sd_dataplane_worker(c->dp, i);
		sl_worker_stats_t st;
		uint64_t wall = sl_time_now_us() - c->started_us;

		sl_worker_get_stats(w, &st);
		sl_buf_printf(out, "%-6u %-6u %-9s %12" PRIu64 " %10" PRIu64 " %12" PRIu64 " %12" PRIu64
				   " %6.1f%%\n",
			      i, sl_worker_lcore(w), sl_worker_state_name(sl_worker_get_state(w)),
			      st.turns, st.sleeps, st.rx_packets, st.tx_packets,
			      wall ? 100.0 * (double)st.busy_us / (double)wall : 0.0);
	}
	return 0;
}

static void ctl_fmt_ip(uint32_t ip_be, char *buf, size_t len)
{
	struct in_addr a = {.s_addr = ip_be};

	inet_ntop(AF_INET, &a, buf, (socklen_t)len);
}

static int ctl_show_interfaces(void *ctx, int argc, char **argv, sl_buf_t *out,
			       const char **error_r)
{
	ctl_net_ctx_t *c = ctx;
	const sl_port_t *p = sd_dataplane_port(c->dp);
	sl_port_stats_t st;
	uint8_t mac[6];
	char ip[INET_ADDRSTRLEN], gw[INET_ADDRSTRLEN];

	(void)argv;
	if (ctl_no_args(argc, error_r) < 0)
		return SL_EINVAL;
	sl_port_get_stats(p, &st);
	sl_port_mac(p, mac);
	if (memcmp(c->conf->dataplane.mac, "\0\0\0\0\0\0", 6) != 0)
		memcpy(mac, c->conf->dataplane.mac, 6);
	ctl_fmt_ip(c->conf->dataplane.address, ip, sizeof(ip));
	ctl_fmt_ip(c->conf->dataplane.gateway, gw, sizeof(gw));
	sl_buf_printf(out, "port %u: %s\n", sl_port_id(p), sl_port_name(p));
	sl_buf_printf(out, "  link:        %s\n", sl_port_link_up(p) ? "up" : "down");
	sl_buf_printf(out, "  mac:         %02x:%02x:%02x:%02x:%02x:%02x\n", mac[0], mac[1],
		      mac[2], mac[3], mac[4], mac[5]);
	sl_buf_printf(out, "  address:     %s/%u\n", ip, c->conf->dataplane.prefix_len);
	sl_buf_printf(out, "  gateway:     %s\n", c->conf->dataplane.gateway ? gw : "none");
	sl_buf_printf(out, "  mtu:         %u\n", c->conf->dataplane.mtu);
	sl_buf_printf(out, "  rx_interrupts: %s\n", sl_port_has_rx_intr(p) ? "yes" : "no");
	sl_buf_printf(out, "  rx_packets:  %" PRIu64 "\n  rx_bytes:    %" PRIu64 "\n", st.rx_packets,
		      st.rx_bytes);
	sl_buf_printf(out, "  tx_packets:  %" PRIu64 "\n  tx_bytes:    %" PRIu64 "\n", st.tx_packets,
		      st.tx_bytes);
	sl_buf_printf(out, "  rx_dropped:  %" PRIu64 " (missed %" PRIu64 ", no mbuf %" PRIu64
			   ", errors %" PRIu64 ")\n",
		      st.rx_missed + st.rx_nombuf + st.rx_errors, st.rx_missed, st.rx_nombuf,
		      st.rx_errors);
	sl_buf_printf(out, "  tx_errors:   %" PRIu64 "\n", st.tx_errors);
	for (unsigned i = 0; i < sd_dataplane_workers(c->dp); i++) {
		sl_worker_stats_t ws;
		sl_worker_get_stats(sd_dataplane_worker(c->dp, i), &ws);
		sl_buf_printf(out, "  worker %u tx_dropped: %" PRIu64 "\n", i, ws.tx_dropped);
	}
	return 0;
}

/* ---- things read on the worker ---- */

typedef struct ctl_stats_call {
	ns_stack_t *stack;
	smtp_server_t *smtp;
	ns_stats_t stats;
	struct smtp_stats smtp_stats;
	smtp_server_stats_t smtp_glue;
	pop3_server_t *pop3;
	struct pop3_stats pop3_stats;
	pop3_server_stats_t pop3_glue;
	imap_server_t *imap;
	struct imap_stats imap_stats;
	imap_server_stats_t imap_glue;
	smtp_filter_t *filter;
	smtp_filter_stats_t filter_stats;
	const sd_dataplane_t *dp; /* the lane's TLS context is read on its worker */
	unsigned lane;
	bool have_tls;
	ns_tls_stats_t tls_stats;
} ctl_stats_call_t;

static void ctl_stats_on_worker(void *arg)
{
	ctl_stats_call_t *k = arg;
	ns_tls_ctx_t *tls;

	ns_stack_get_stats(k->stack, &k->stats);
	if (k->smtp != NULL)
		smtp_server_get_stats(k->smtp, &k->smtp_stats, &k->smtp_glue);
	if (k->pop3 != NULL)
		pop3_server_get_stats(k->pop3, &k->pop3_stats, &k->pop3_glue);
	if (k->imap != NULL)
		imap_server_get_stats(k->imap, &k->imap_stats, &k->imap_glue);
	if (k->filter != NULL)
		smtp_filter_get_stats(k->filter, &k->filter_stats);
	tls = sd_dataplane_lane_tls(k->dp, k->lane);
	k->have_tls = tls != NULL;
	if (tls != NULL)
		ns_tls_ctx_get_stats(tls, &k->tls_stats);
}

/* ctl_add_u64s - DST[i] += SRC[i] over a struct of uint64_t counters. */
static void ctl_add_u64s(void *dst, const void *src, size_t size)
{
	uint64_t *d = dst;
	const uint64_t *s = src;

	for (size_t f = 0; f < size / sizeof(uint64_t); f++)
		d[f] += s[f];
}

/* ctl_print_engine - "<proto>.<name> <value>" lines from an engine's
 * *_stats_format output, aligned like the rest. */
static void ctl_print_engine(sl_buf_t *out, int (*format)(const void *, sl_buf_t *),
			     const void *st)
{
	sl_buf_t tmp;

	sl_buf_init(&tmp, 64 * 1024);
	format(st, &tmp);
	for (size_t i = 0; i < tmp.len;) {
		const char *line = (const char *)tmp.data + i;
		size_t n = strcspn(line, "\n"), sp = strcspn(line, " ");

		if (sp < n)
			sl_buf_printf(out, "%-32.*s %.*s\n", (int)sp, line, (int)(n - sp - 1),
				      line + sp + 1);
		i += n + 1;
	}
	sl_buf_free(&tmp);
}

/* ctl_print_glue - "<proto>.<name> <value>" for a glue counter struct. */
static void ctl_print_glue(sl_buf_t *out, const char *proto, const char *const *names,
			   const void *st)
{
	const uint64_t *v = st;

	for (size_t f = 0; names[f] != NULL; f++) {
		char name[64];

		snprintf(name, sizeof(name), "%s.%s", proto, names[f]);
		sl_buf_printf(out, "%-32s %" PRIu64 "\n", name, v[f]);
	}
}

static int ctl_smtp_format(const void *st, sl_buf_t *out) { return smtp_stats_format(st, out); }
static int ctl_pop3_format(const void *st, sl_buf_t *out) { return pop3_stats_format(st, out); }
static int ctl_imap_format(const void *st, sl_buf_t *out) { return imap_stats_format(st, out); }

static int ctl_show_stats(void *ctx, int argc, char **argv, sl_buf_t *out, const char **error_r)
{
	ctl_net_ctx_t *c = ctx;
	ns_stats_t total;
	struct smtp_stats smtp_total;
	smtp_server_stats_t smtp_glue;
	struct pop3_stats pop3_total;
	pop3_server_stats_t pop3_glue;
	struct imap_stats imap_total;
	imap_server_stats_t imap_glue;
	const uint64_t *src;
	smtp_filter_stats_t filter_total;
	ns_tls_stats_t tls_total;
	bool have_smtp = false, have_pop3 = false, have_imap = false, have_filter = false;
	bool have_tls = false;

	(void)argv;
	if (ctl_no_args(argc, error_r) < 0)
		return SL_EINVAL;
	memset(&total, 0, sizeof(total));
	memset(&smtp_total, 0, sizeof(smtp_total));
	memset(&smtp_glue, 0, sizeof(smtp_glue));
	memset(&pop3_total, 0, sizeof(pop3_total));
	memset(&pop3_glue, 0, sizeof(pop3_glue));
	memset(&imap_total, 0, sizeof(imap_total));
	memset(&imap_glue, 0, sizeof(imap_glue));
	memset(&filter_total, 0, sizeof(filter_total));
	memset(&tls_total, 0, sizeof(tls_total));
	for (unsigned i = 0; i < sd_dataplane_workers(c->dp); i++) {
		/* heap: on timeout the worker may still write into it later */
		ctl_stats_call_t *k = calloc(1, sizeof(*k));
		if (k == NULL)
			return SL_ENOMEM;
		k->stack = sd_dataplane_stack(c->dp, i);
		k->smtp = sd_dataplane_smtp(c->dp, i);
		k->pop3 = sd_dataplane_pop3(c->dp, i);
		k->imap = sd_dataplane_imap(c->dp, i);
		k->filter = sd_dataplane_filter(c->dp, i);
		k->dp = c->dp;
		k->lane = i;
		if (sl_worker_call(sd_dataplane_worker(c->dp, i), ctl_stats_on_worker, k,
				   CTL_CALL_TIMEOUT_US) < 0) {
			*error_r = "worker did not answer in time";
			return SL_ETIMEDOUT;
		}
		ctl_add_u64s(&total, &k->stats, sizeof(total));
		if (k->smtp != NULL) {
			have_smtp = true;
			smtp_stats_add(&smtp_total, &k->smtp_stats);
			ctl_add_u64s(&smtp_glue, &k->smtp_glue, sizeof(smtp_glue));
		}
		if (k->pop3 != NULL) {
			have_pop3 = true;
			pop3_stats_add(&pop3_total, &k->pop3_stats);
			ctl_add_u64s(&pop3_glue, &k->pop3_glue, sizeof(pop3_glue));
		}
		if (k->imap != NULL) {
			have_imap = true;
			imap_stats_add(&imap_total, &k->imap_stats);
			ctl_add_u64s(&imap_glue, &k->imap_glue, sizeof(imap_glue));
		}
		if (k->filter != NULL) {
			have_filter = true;
			ctl_add_u64s(&filter_total, &k->filter_stats, sizeof(filter_total));
		}
		if (k->have_tls) {
			have_tls = true;
			ctl_add_u64s(&tls_total, &k->tls_stats, sizeof(tls_total));
		}
		free(k);
	}
	src = (const uint64_t *)&total;
	for (size_t f = 0; ns_stats_names[f] != NULL; f++)
		sl_buf_printf(out, "%-32s %" PRIu64 "\n", ns_stats_names[f], src[f]);
	if (have_smtp) {
		ctl_print_engine(out, ctl_smtp_format, &smtp_total);
		ctl_print_glue(out, "smtp", smtp_server_stats_names, &smtp_glue);
	}
	if (have_pop3) {
		ctl_print_engine(out, ctl_pop3_format, &pop3_total);
		ctl_print_glue(out, "pop3", pop3_server_stats_names, &pop3_glue);
	}
	if (have_imap) {
		ctl_print_engine(out, ctl_imap_format, &imap_total);
		ctl_print_glue(out, "imap", imap_server_stats_names, &imap_glue);
	}
	if (have_filter)
		ctl_print_glue(out, "filter", smtp_filter_stats_names, &filter_total);
	/* since start or the last `tls install` (each install starts new
	 * contexts with new counters) */
	if (have_tls)
		ctl_print_glue(out, "tls", ns_tls_stats_names, &tls_total);
	return 0;
}

typedef struct ctl_conns_call {
	ns_stack_t *stack;
	sl_buf_t *out;
	unsigned count;
} ctl_conns_call_t;

static void ctl_conn_row(const ns_conn_info_t *i, void *arg)
{
	ctl_conns_call_t *k = arg;
	char l[INET_ADDRSTRLEN], r[INET_ADDRSTRLEN], la[32], ra[32];

	ctl_fmt_ip(i->local_ip, l, sizeof(l));
	ctl_fmt_ip(i->remote_ip, r, sizeof(r));
	snprintf(la, sizeof(la), "%s:%u", l, i->local_port);
	snprintf(ra, sizeof(ra), "%s:%u", r, i->remote_port);
	sl_buf_printf(k->out,
		      "%-21s %-21s %-12s %9u %9u %8u %8u %7u %7u %6" PRIu64 "\n", la, ra, i->state,
		      i->snd_queued, i->rcv_queued, i->cwnd, i->snd_wnd, i->srtt_us / 1000,
		      i->rto_us / 1000, i->retransmits);
	k->count++;
}

static void ctl_conns_on_worker(void *arg)
{
	ctl_conns_call_t *k = arg;

	ns_stack_foreach_conn(k->stack, ctl_conn_row, k);
}

static int ctl_show_connections(void *ctx, int argc, char **argv, sl_buf_t *out,
				const char **error_r)
{
	ctl_net_ctx_t *c = ctx;
	unsigned total = 0;

	(void)argv;
	if (ctl_no_args(argc, error_r) < 0)
		return SL_EINVAL;
	sl_buf_printf(out, "%-21s %-21s %-12s %9s %9s %8s %8s %7s %7s %6s\n", "local", "remote",
		      "state", "sendq", "recvq", "cwnd", "sndwnd", "srtt_ms", "rto_ms", "rexmit");
	for (unsigned i = 0; i < sd_dataplane_workers(c->dp); i++) {
		/* The table is written into a private buffer on the worker and
		 * copied out only when the call completed in time. */
		ctl_conns_call_t *k = calloc(1, sizeof(*k));
		sl_buf_t *rows = calloc(1, sizeof(*rows));
		if (k == NULL || rows == NULL) {
			free(k);
			free(rows);
			return SL_ENOMEM;
		}
		sl_buf_init(rows, 64 * 1024 * 1024);
		k->stack = sd_dataplane_stack(c->dp, i);
		k->out = rows;
		if (sl_worker_call(sd_dataplane_worker(c->dp, i), ctl_conns_on_worker, k,
				   CTL_CALL_TIMEOUT_US) < 0) {
			*error_r = "worker did not answer in time";
			return SL_ETIMEDOUT; /* k and rows leak on purpose */
		}
		if (rows->len)
			sl_buf_append(out, rows->data, rows->len);
		total += k->count;
		sl_buf_free(rows);
		free(rows);
		free(k);
	}
	sl_buf_printf(out, "%u connections\n", total);
	return 0;
}

const ctl_cmd_t ctl_net_cmds[] = {
	{"status", "status", ctl_status},
	{"show interfaces", "show interfaces", ctl_show_interfaces},
	{"show connections", "show connections", ctl_show_connections},
	{"show stats", "show stats", ctl_show_stats},
	{NULL},
};
