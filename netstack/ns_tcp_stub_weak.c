/* ns_tcp_stub_weak - TEMPORARY weak stand-ins for the TCP module so that the
 * rest of netstack links and its tests run before ns_tcp*.c lands. The real
 * definitions are strong and win; delete this file once they exist. */
#include "ns_private.h"

__attribute__((weak)) int ns_tcp_create(ns_stack_t *s)
{
	(void)s;
	return 0;
}

__attribute__((weak)) void ns_tcp_destroy(ns_stack_t *s)
{
	(void)s;
}

__attribute__((weak)) void ns_tcp_input(ns_stack_t *s, struct rte_mbuf *m,
					const struct rte_ipv4_hdr *ip)
{
	(void)s;
	(void)ip;
	rte_pktmbuf_free(m);
}

__attribute__((weak)) void ns_tcp_flush(ns_stack_t *s)
{
	(void)s;
}

__attribute__((weak)) void ns_tcp_icmp_error(ns_stack_t *s, const struct rte_ipv4_hdr *orig_ip,
					     uint16_t orig_len, uint8_t type, uint8_t code)
{
	(void)s;
	(void)orig_ip;
	(void)orig_len;
	(void)type;
	(void)code;
}

/* Used by tests/fuzz/fuzz_rx.c's listener. */
__attribute__((weak)) int ns_tcp_listen(ns_stack_t *s, uint16_t port, const ns_conn_ops_t *ops,
					void *ctx)
{
	(void)s;
	(void)port;
	(void)ops;
	(void)ctx;
	return 0;
}

__attribute__((weak)) size_t ns_conn_recv(ns_conn_t *c, void *buf, size_t len)
{
	(void)c;
	(void)buf;
	(void)len;
	return 0;
}

__attribute__((weak)) ssize_t ns_conn_send(ns_conn_t *c, const void *data, size_t len)
{
	(void)c;
	(void)data;
	(void)len;
	return 0;
}

__attribute__((weak)) bool ns_conn_eof(const ns_conn_t *c)
{
	(void)c;
	return false;
}

__attribute__((weak)) void ns_conn_close(ns_conn_t *c)
{
	(void)c;
}
