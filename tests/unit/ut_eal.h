/* ut_eal - shared helpers for unit tests that need DPDK (mbufs, rings). */
#ifndef UT_EAL_H
#define UT_EAL_H

struct rte_mempool;

/* ut_eal_init - bring up a minimal EAL once per process: no hugepages, no
 * PCI, in-memory, one lcore, quiet logs. Aborts the test run if EAL fails. */
void ut_eal_init(void);
/* ut_pool - a process-wide mbuf pool (8191 mbufs of 2 KB data room),
 * created on first use. Calls ut_eal_init. */
struct rte_mempool *ut_pool(void);

#endif
