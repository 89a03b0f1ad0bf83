/* ctl_store - sluicectl commands for the mail store (issue 3): domains,
 * users, aliases, mailboxes, messages, backup, status and check.
 *
 * They run on the control thread, which is not a worker: it has its own
 * st_client_t (waiting for each completion with st_client_wait and a
 * timeout) and its own st_reader_t. Passwords are hashed here (argon2id),
 * never on a worker. */
#ifndef CTL_STORE_H
#define CTL_STORE_H

#include "ctl_server.h"
#include "st.h"

typedef struct ctl_store ctl_store_t;

/* ctl_store_create - the control thread's store handles. 0, or an sl_err
 * with *error_r. Call before the control thread starts; the handles are
 * then used only by that thread. */
int ctl_store_create(st_store_t *store, ctl_store_t **cs_r, const char **error_r);
/* ctl_store_destroy - after the control thread stopped. *CS = NULL. */
void ctl_store_destroy(ctl_store_t **cs);

/* Handlers take a ctl_net_ctx_t as ctx (its `store` member; NULL when the
 * daemon runs without a store, and the commands say so). */
extern const ctl_cmd_t ctl_store_cmds[];

#endif
