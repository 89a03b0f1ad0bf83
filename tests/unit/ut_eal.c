/* ut_eal - EAL bring-up for unit tests. */
#include "ut_eal.h"

#include <stdio.h>
#include <stdlib.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_mbuf.h>

static int ut_eal_ready;
static struct rte_mempool *ut_mbuf_pool;

void ut_eal_init(void)
{
	char *argv[] = {"unit-test", "--no-huge", "-m", "512", "--no-pci", "--no-shconf",
			"-l", "0", "--log-level=lib.*:error", "--no-telemetry", NULL};

	if (ut_eal_ready)
		return;
	if (rte_eal_init((int)(sizeof(argv) / sizeof(argv[0])) - 1, argv) < 0) {
		fprintf(stderr, "ut_eal_init: rte_eal_init failed\n");
		abort();
	}
	ut_eal_ready = 1;
}

struct rte_mempool *ut_pool(void)
{
	ut_eal_init();
	if (ut_mbuf_pool == NULL) {
		ut_mbuf_pool = rte_pktmbuf_pool_create("ut_pool", 8191, 256, 0,
						       RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
		if (ut_mbuf_pool == NULL) {
			fprintf(stderr, "ut_pool: %s\n", rte_strerror(rte_errno));
			abort();
		}
	}
	return ut_mbuf_pool;
}
