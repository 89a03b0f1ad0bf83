/* sd_dataplane - wires the port, the worker lcores and one netstack
 * instance per worker together, and starts the built-in services. */
#ifndef SD_DATAPLANE_H
#define SD_DATAPLANE_H

#include "ns.h"
#include "sd_config.h"
#include "sl_port.h"
#include "sl_worker.h"

typedef struct sd_dataplane sd_dataplane_t;

/* sd_dataplane_create - EAL must be up. Opens the port, creates the
 * stacks, workers and services. 0 or an sl_err with *error_r. */
int sd_dataplane_create(const sd_config_t *c, sd_dataplane_t **dp_r, const char **error_r);
/* sd_dataplane_run - run worker 0 on the calling (main) lcore and the
 * others on their lcores; returns after sd_dataplane_stop. */
void sd_dataplane_run(sd_dataplane_t *dp);
/* sd_dataplane_stop - any thread, async-signal-safe. */
void sd_dataplane_stop(sd_dataplane_t *dp);
void sd_dataplane_destroy(sd_dataplane_t **dp);

unsigned sd_dataplane_workers(const sd_dataplane_t *dp);
sl_worker_t *sd_dataplane_worker(const sd_dataplane_t *dp, unsigned i);
/* The stack of worker I: touch it only from that worker (sl_worker_call). */
ns_stack_t *sd_dataplane_stack(const sd_dataplane_t *dp, unsigned i);
const sl_port_t *sd_dataplane_port(const sd_dataplane_t *dp);

#endif
