/* sl_port - EAL bring-up and ethdev configuration. */
#include "sl_port.h"

#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "sl_err.h"
#include "sl_log.h"

struct sl_port {
	uint16_t port_id;
	uint16_t queues;
	char name[128];
	struct rte_mempool *pool;
	bool rx_intr;
};

static char sl_port_errbuf[256];

void sl_eal_conf_default(sl_eal_conf_t *c)
{
	memset(c, 0, sizeof(*c));
	c->memory_mb = 256;
	snprintf(c->log_level, sizeof(c->log_level), "notice");
}

/* sl_rx_signal_ignored - the handler we put on the real-time signals.
 *
 * DPDK's TAP PMD (22.11) makes the kernel raise a real-time signal for every
 * frame it queues on a TAP fd (O_ASYNC + F_SETSIG), so that an empty
 * rx_burst can return without a read(). It takes the first of SIGRTMIN+1 ..
 * SIGRTMAX that has no handler, and turns the trick off if none is free.
 * Measured under SMTP load on this VM, delivering those signals (a signal
 * frame per received frame, and every readv/writev interrupted on its way
 * out) was the worker's largest single kernel cost. Our worker polls while
 * traffic flows and sleeps in epoll on the queue fd when idle, so it needs
 * no trigger: taking the real-time signals first turns it off, and an empty
 * poll then costs one read() that fails with EAGAIN. We raise none of these
 * signals ourselves. */
static void sl_rx_signal_ignored(int sig) { (void)sig; }

static void sl_rx_signals_take(void)
{
	struct sigaction sa, old;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = sl_rx_signal_ignored;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	for (int sig = SIGRTMIN + 1; sig <= SIGRTMAX; sig++)
		if (sigaction(sig, NULL, &old) == 0 && old.sa_handler == SIG_DFL)
			sigaction(sig, &sa, NULL);
}

int sl_eal_init(const sl_eal_conf_t *c, const char **error_r)
{
	char mem[16], logl[48], vdev[300];
	char *argv[16];
	int argc = 0;

	argv[argc++] = "sluiced";
	argv[argc++] = "-l";
	argv[argc++] = (char *)(c->lcores[0] ? c->lcores : "0");
	snprintf(mem, sizeof(mem), "%u", c->memory_mb);
	argv[argc++] = "-m";
	argv[argc++] = mem;
	if (!c->hugepages)
		argv[argc++] = "--no-huge";
	argv[argc++] = "--no-shconf";
	if (!c->pci)
		argv[argc++] = "--no-pci";
	argv[argc++] = "--no-telemetry";
	snprintf(logl, sizeof(logl), "--log-level=%s", c->log_level[0] ? c->log_level : "notice");
	argv[argc++] = logl;
	if (c->vdev[0]) {
		snprintf(vdev, sizeof(vdev), "--vdev=%s", c->vdev);
		argv[argc++] = vdev;
	}
	argv[argc] = NULL;
	sl_rx_signals_take();
	if (rte_eal_init(argc, argv) < 0) {
		snprintf(sl_port_errbuf, sizeof(sl_port_errbuf), "DPDK EAL init failed: %s",
			 rte_strerror(rte_errno));
		*error_r = sl_port_errbuf;
		return SL_EIO;
	}
	return 0;
}

void sl_port_conf_default(sl_port_conf_t *c)
{
	memset(c, 0, sizeof(*c));
	c->queues = 1;
	c->rx_desc = 1024;
	c->tx_desc = 1024;
	c->mbufs = 16383;
	c->mtu = 1500;
	c->rx_interrupts = true;
}

static int sl_port_fail(const char **error_r, const char *what, const char *dev, int rc)
{
	snprintf(sl_port_errbuf, sizeof(sl_port_errbuf), "port %s: %s: %s", dev, what,
		 rte_strerror(rc < 0 ? -rc : rc));
	*error_r = sl_port_errbuf;
	return SL_EIO;
}

/* Configure and start; RX interrupts are tried first and dropped if the
 * driver refuses them, because polling alone still works everywhere. */
static int sl_port_setup(sl_port_t *p, const sl_port_conf_t *c, bool want_intr,
			 bool *intr_suspect_r, const char **error_r)
{
	struct rte_eth_conf conf;
	struct rte_eth_dev_info info;
	uint16_t rxd = c->rx_desc, txd = c->tx_desc;
	int rc;

	memset(&conf, 0, sizeof(conf));
	conf.intr_conf.rxq = want_intr ? 1 : 0;
	rc = rte_eth_dev_info_get(p->port_id, &info);
	if (rc != 0)
		return sl_port_fail(error_r, "dev_info", c->device, rc);
	if (c->queues > info.max_rx_queues || c->queues > info.max_tx_queues) {
		snprintf(sl_port_errbuf, sizeof(sl_port_errbuf),
			 "port %s: %u queues requested, device has %u rx / %u tx", c->device,
			 c->queues, info.max_rx_queues, info.max_tx_queues);
		*error_r = sl_port_errbuf;
		return SL_ECONFIG;
	}
	if (c->queues > 1) {
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_hf =
			(RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP) & info.flow_type_rss_offloads;
	}
	rc = rte_eth_dev_configure(p->port_id, c->queues, c->queues, &conf);
	if (rc != 0) {
		*intr_suspect_r = want_intr;
		return sl_port_fail(error_r, "configure", c->device, rc);
	}
	rc = rte_eth_dev_adjust_nb_rx_tx_desc(p->port_id, &rxd, &txd);
	if (rc != 0)
		return sl_port_fail(error_r, "adjust descriptors", c->device, rc);
	for (uint16_t q = 0; q < c->queues; q++) {
		rc = rte_eth_rx_queue_setup(p->port_id, q, rxd, rte_eth_dev_socket_id(p->port_id),
					    NULL, p->pool);
		if (rc != 0)
			return sl_port_fail(error_r, "rx queue setup", c->device, rc);
		rc = rte_eth_tx_queue_setup(p->port_id, q, txd, rte_eth_dev_socket_id(p->port_id),
					    NULL);
		if (rc != 0)
			return sl_port_fail(error_r, "tx queue setup", c->device, rc);
	}
	/* An MTU the device refuses is not fatal if it is the default. */
	rc = rte_eth_dev_set_mtu(p->port_id, c->mtu);
	if (rc != 0 && c->mtu != RTE_ETHER_MTU)
		return sl_port_fail(error_r, "set mtu", c->device, rc);
	rc = rte_eth_dev_start(p->port_id);
	if (rc != 0) {
		*intr_suspect_r = want_intr;
		return sl_port_fail(error_r, "start", c->device, rc);
	}
	return 0;
}

int sl_port_open(const sl_port_conf_t *c, sl_port_t **port_r, const char **error_r)
{
	sl_port_t *p;
	char pool_name[RTE_MEMPOOL_NAMESIZE];
	uint32_t data_room;
	int rc;

	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return SL_ENOMEM;
	if (rte_eth_dev_get_port_by_name(c->device, &p->port_id) != 0) {
		snprintf(sl_port_errbuf, sizeof(sl_port_errbuf),
			 "port %s: no such DPDK device (%u ports available)", c->device,
			 rte_eth_dev_count_avail());
		*error_r = sl_port_errbuf;
		rc = SL_ENOENT;
		goto fail;
	}
	snprintf(p->name, sizeof(p->name), "%s", c->device);
	p->queues = c->queues;
	/* One frame must fit one mbuf: the stack works on single segments. */
	data_room = RTE_PKTMBUF_HEADROOM + c->mtu + RTE_ETHER_HDR_LEN + RTE_ETHER_CRC_LEN;
	if (data_room < RTE_MBUF_DEFAULT_BUF_SIZE)
		data_room = RTE_MBUF_DEFAULT_BUF_SIZE;
	if (data_room > UINT16_MAX) {
		snprintf(sl_port_errbuf, sizeof(sl_port_errbuf), "port %s: mtu %u too large",
			 c->device, c->mtu);
		*error_r = sl_port_errbuf;
		rc = SL_ECONFIG;
		goto fail;
	}
	snprintf(pool_name, sizeof(pool_name), "pool_p%u", p->port_id);
	p->pool = rte_pktmbuf_pool_create(pool_name, c->mbufs, 256, 0, (uint16_t)data_room,
					  rte_eth_dev_socket_id(p->port_id));
	if (p->pool == NULL) {
		snprintf(sl_port_errbuf, sizeof(sl_port_errbuf),
			 "port %s: mempool of %u mbufs: %s (raise dataplane.memory?)", c->device,
			 c->mbufs, rte_strerror(rte_errno));
		*error_r = sl_port_errbuf;
		rc = SL_ENOMEM;
		goto fail;
	}
	p->rx_intr = c->rx_interrupts;
	bool intr_suspect = false;
	rc = sl_port_setup(p, c, p->rx_intr, &intr_suspect, error_r);
	if (rc != 0 && intr_suspect) {
		/* Driver refused configure/start with RX interrupts: retry
		 * without, and let the workers busy-poll. */
		sl_log(SL_LOG_WARN, "port", "%s: %s; retrying without RX interrupts", c->device,
		       *error_r);
		p->rx_intr = false;
		rte_eth_dev_stop(p->port_id);
		rc = sl_port_setup(p, c, false, &intr_suspect, error_r);
	}
	if (rc != 0)
		goto fail;
	rte_eth_promiscuous_disable(p->port_id);
	*port_r = p;
	return 0;
fail:
	if (p->pool != NULL)
		rte_mempool_free(p->pool);
	free(p);
	return rc;
}

void sl_port_close(sl_port_t **pp)
{
	sl_port_t *p = *pp;

	if (p == NULL)
		return;
	rte_eth_dev_stop(p->port_id);
	rte_eth_dev_close(p->port_id);
	rte_mempool_free(p->pool);
	free(p);
	*pp = NULL;
}

uint16_t sl_port_id(const sl_port_t *p) { return p->port_id; }
const char *sl_port_name(const sl_port_t *p) { return p->name; }
struct rte_mempool *sl_port_pool(const sl_port_t *p) { return p->pool; }
bool sl_port_has_rx_intr(const sl_port_t *p) { return p->rx_intr; }

void sl_port_mac(const sl_port_t *p, uint8_t mac_r[6])
{
	struct rte_ether_addr a;

	rte_eth_macaddr_get(p->port_id, &a);
	memcpy(mac_r, a.addr_bytes, 6);
}

bool sl_port_link_up(const sl_port_t *p)
{
	struct rte_eth_link link;

	if (rte_eth_link_get_nowait(p->port_id, &link) != 0)
		return false;
	return link.link_status == RTE_ETH_LINK_UP;
}

void sl_port_get_stats(const sl_port_t *p, sl_port_stats_t *r)
{
	struct rte_eth_stats st;

	memset(r, 0, sizeof(*r));
	if (rte_eth_stats_get(p->port_id, &st) != 0)
		return;
	r->rx_packets = st.ipackets;
	r->tx_packets = st.opackets;
	r->rx_bytes = st.ibytes;
	r->tx_bytes = st.obytes;
	r->rx_missed = st.imissed;
	r->rx_errors = st.ierrors;
	r->tx_errors = st.oerrors;
	r->rx_nombuf = st.rx_nombuf;
}
