/* sd_dataplane - wires the port, the worker lcores and one netstack
 * instance per worker together, and starts the built-in services. */
#ifndef SD_DATAPLANE_H
#define SD_DATAPLANE_H

#include "ns.h"
#include "ns_tls.h"
#include "sd_config.h"
#include "sl_port.h"
#include "sl_worker.h"
#include "bayes_store.h"
#include "imap_server.h"
#include "pop3_server.h"
#include "smtp_server.h"
#include "st.h"

typedef struct sd_dataplane sd_dataplane_t;

/* sd_dataplane_create - EAL must be up. Opens the port, creates the
 * stacks, workers and services; with STORE (may be NULL) also one store
 * client and reader per lane, and the SMTP listeners when configured.
 * 0 or an sl_err with *error_r. */
int sd_dataplane_create(const sd_config_t *c, st_store_t *store, sd_dataplane_t **dp_r,
			const char **error_r);
/* sd_dataplane_run - run worker 0 on the calling (main) lcore and the
 * others on their lcores; returns after sd_dataplane_stop once every lane
 * has drained. */
void sd_dataplane_run(sd_dataplane_t *dp);
/* sd_dataplane_stop - any thread, async-signal-safe. The first call starts
 * a graceful stop: listeners close, sessions get 421, messages being
 * committed still get their 250, then the workers stop (at the latest
 * after a few seconds). A second call stops the workers at once. */
void sd_dataplane_stop(sd_dataplane_t *dp);
/* sd_dataplane_destroy - after run returned (or instead of it): releases
 * lanes in the safe order (auth pool, SMTP, store clients, stacks). The
 * store itself is the caller's. */
void sd_dataplane_destroy(sd_dataplane_t **dp);

unsigned sd_dataplane_workers(const sd_dataplane_t *dp);
sl_worker_t *sd_dataplane_worker(const sd_dataplane_t *dp, unsigned i);
/* The stack of worker I: touch it only from that worker (sl_worker_call). */
ns_stack_t *sd_dataplane_stack(const sd_dataplane_t *dp, unsigned i);
const sl_port_t *sd_dataplane_port(const sd_dataplane_t *dp);
/* The SMTP/POP3/IMAP server of worker I, or NULL: touch it only from
 * that worker. */
smtp_server_t *sd_dataplane_smtp(const sd_dataplane_t *dp, unsigned i);
pop3_server_t *sd_dataplane_pop3(const sd_dataplane_t *dp, unsigned i);
imap_server_t *sd_dataplane_imap(const sd_dataplane_t *dp, unsigned i);
smtp_filter_t *sd_dataplane_filter(const sd_dataplane_t *dp, unsigned i);
/* sd_dataplane_lane_tls - lane I's TLS context, or NULL. On lane I's own
 * worker only: `tls install` replaces it there. */
ns_tls_ctx_t *sd_dataplane_lane_tls(const sd_dataplane_t *dp, unsigned i);

/* sd_dataplane_tls_config - the TLS config the lanes use now, or NULL (no
 * TLS). Control thread; valid until the next sd_dataplane_tls_install. */
const ns_tls_config_t *sd_dataplane_tls_config(const sd_dataplane_t *dp);
/* sd_dataplane_tls_install - control thread: every lane makes a context
 * from CFG and its SMTP listeners switch to it (sl_worker_call); sessions
 * already in TLS finish on the old one. Takes its own reference to CFG.
 * 0, or SL_ESTATE (no TLS), SL_ETIMEDOUT, or a context error, with
 * *error_r. A failure on a later lane leaves earlier lanes switched. */
int sd_dataplane_tls_install(sd_dataplane_t *dp, ns_tls_config_t *cfg, const char **error_r);

#endif
