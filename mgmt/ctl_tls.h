/* ctl_tls - `tls show` and `tls install CERT KEY`: the certificates the
 * SMTP listeners present, and replacing them without a restart. */
#ifndef CTL_TLS_H
#define CTL_TLS_H

#include "ctl_server.h"

/* Handlers take a ctl_net_ctx_t (ctl_net.h) as ctx. */
extern const ctl_cmd_t ctl_tls_cmds[];

#endif
