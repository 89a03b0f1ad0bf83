/* ns_diag - echo and discard services. */
#include "ns_diag.h"

#include "sl_err.h"
#include "sl_log.h"

/* Echo keeps no per-connection state: whatever cannot be sent back right
 * now stays in the receive queue, which closes the window towards the
 * client. That is backpressure end to end, with no buffer of our own. */
static void diag_echo_pump(ns_conn_t *c)
{
	sl_slice_t iov[8];
	unsigned n;

	for (;;) {
		n = ns_conn_peek(c, iov, 8);
		if (n == 0)
			break;
		size_t moved = 0;
		for (unsigned i = 0; i < n; i++) {
			ssize_t k = ns_conn_send(c, iov[i].ptr, iov[i].len);
			if (k < 0) {
				ns_conn_abort(c);
				return;
			}
			moved += (size_t)k;
			if ((size_t)k < iov[i].len)
				break;
		}
		if (moved == 0)
			break;
		ns_conn_consume(c, moved);
	}
	if (ns_conn_eof(c) && ns_conn_readable(c) == 0)
		ns_conn_close(c);
}

static int diag_echo_accepted(ns_conn_t *c, void *listen_ctx)
{
	(void)c;
	(void)listen_ctx;
	return 0;
}

static void diag_echo_data(ns_conn_t *c, void *ctx)
{
	(void)ctx;
	diag_echo_pump(c);
}

static void diag_echo_writable(ns_conn_t *c, void *ctx)
{
	(void)ctx;
	diag_echo_pump(c);
}

static void diag_closed(ns_conn_t *c, void *ctx, int reason)
{
	(void)c;
	(void)ctx;
	(void)reason;
}

static const ns_conn_ops_t diag_echo_ops = {
	.accepted = diag_echo_accepted,
	.data = diag_echo_data,
	.writable = diag_echo_writable,
	.closed = diag_closed,
};

static void diag_discard_data(ns_conn_t *c, void *ctx)
{
	size_t n = ns_conn_readable(c);

	(void)ctx;
	ns_conn_consume(c, n);
	if (ns_conn_eof(c))
		ns_conn_close(c);
}

static const ns_conn_ops_t diag_discard_ops = {
	.accepted = diag_echo_accepted,
	.data = diag_discard_data,
	.closed = diag_closed,
};


static void diag_udp_echo(void *ctx, uint32_t src_ip, uint16_t src_port, uint16_t dst_port,
			  sl_slice_t payload)
{
	ns_stack_t *s = ctx;

	(void)ns_udp_sendto(s, dst_port, src_ip, src_port, payload.ptr, payload.len);
}

int ns_diag_start(ns_stack_t *s, const ns_diag_conf_t *c)
{
	int rc;

	if (c->tcp_echo_port && (rc = ns_tcp_listen(s, c->tcp_echo_port, &diag_echo_ops, NULL)) < 0)
		goto fail;
	if (c->tcp_discard_port &&
	    (rc = ns_tcp_listen(s, c->tcp_discard_port, &diag_discard_ops, NULL)) < 0)
		goto fail;
	if (c->udp_echo_port && (rc = ns_udp_bind(s, c->udp_echo_port, diag_udp_echo, s)) < 0)
		goto fail;
	return 0;
fail:
	sl_log(SL_LOG_ERR, "diag", "cannot start diagnostic services: %s", sl_strerror(rc));
	if (c->tcp_echo_port)
		ns_tcp_unlisten(s, c->tcp_echo_port);
	if (c->tcp_discard_port)
		ns_tcp_unlisten(s, c->tcp_discard_port);
	return rc;
}
