/* sl_port - DPDK EAL bring-up and Ethernet port setup.
 *
 * Works the same for a net_tap vdev (the test and demo setup) and for a PCI
 * NIC: nothing here assumes TAP. Capabilities the device lacks (RX
 * interrupts, several queues) are detected and reported, never assumed. */
#ifndef SL_PORT_H
#define SL_PORT_H

#include <stdbool.h>
#include <stdint.h>

struct rte_mempool;

typedef struct sl_eal_conf {
	bool hugepages;          /* false: --no-huge (boxes without hugepages) */
	uint32_t memory_mb;      /* -m; default 256 */
	char lcores[64];         /* -l list; "" = "0" for one main lcore */
	char vdev[256];          /* --vdev argument, "" = none */
	bool pci;                /* false: --no-pci */
	char log_level[16];      /* DPDK's own log level ("error", "info"...) */
} sl_eal_conf_t;

/* sl_eal_init - run rte_eal_init with arguments built from C. The defaults
 * for a small box are --no-huge, -m 256, --no-shconf (DPDK 22.11 refuses
 * --in-memory together with --no-huge; --no-shconf likewise leaves no
 * runtime files behind). 0, or SL_EIO with *error_r set. Call once. */
int sl_eal_init(const sl_eal_conf_t *c, const char **error_r);
void sl_eal_conf_default(sl_eal_conf_t *c);

typedef struct sl_port_conf {
	char device[128];   /* ethdev name (net_tap0) or PCI address */
	uint16_t queues;    /* RX/TX queue pairs, one per worker lcore */
	uint16_t rx_desc, tx_desc;
	uint32_t mbufs;     /* mempool size */
	uint16_t mtu;       /* IP MTU */
	bool rx_interrupts; /* request RX interrupts for adaptive polling */
} sl_port_conf_t;

typedef struct sl_port sl_port_t;

typedef struct sl_port_stats {
	uint64_t rx_packets, tx_packets, rx_bytes, tx_bytes;
	uint64_t rx_missed, rx_errors, tx_errors, rx_nombuf;
} sl_port_stats_t;

void sl_port_conf_default(sl_port_conf_t *c);
/* sl_port_open - find DEVICE, create its mempool, configure QUEUES queue
 * pairs and start it. *port_r owns everything. 0, or SL_ENOENT (no such
 * device), SL_ENOMEM (mempool), SL_EIO (driver refused) with *error_r set.
 * When the device cannot do RX interrupts the port still opens;
 * sl_port_has_rx_intr() says so and workers fall back to plain polling. */
int sl_port_open(const sl_port_conf_t *c, sl_port_t **port_r, const char **error_r);
/* sl_port_close - stop and close the device; frees the pool; *P = NULL. */
void sl_port_close(sl_port_t **p);

uint16_t sl_port_id(const sl_port_t *p);
const char *sl_port_name(const sl_port_t *p);
void sl_port_mac(const sl_port_t *p, uint8_t mac_r[6]);
struct rte_mempool *sl_port_pool(const sl_port_t *p);
bool sl_port_has_rx_intr(const sl_port_t *p);
bool sl_port_link_up(const sl_port_t *p);
/* sl_port_get_stats - device counters (safe from any thread: the driver
 * counters are read, never written here). */
void sl_port_get_stats(const sl_port_t *p, sl_port_stats_t *r);

#endif
