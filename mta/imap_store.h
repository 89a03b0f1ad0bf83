/* imap_store - the store side of the IMAP engine's requests.
 *
 * Answers every request of an imap_session_t (mta/imap/imap_session.h)
 * except AUTH and STARTTLS (the server does those: auth pool, TLS) from
 * store/st.h:
 *   reads    LIST, STATUS, SELECT/EXAMINE, FETCH, BODY, SECTION, SYNC: one
 *            short st_read on the lane's reader, completed before
 *            imap_store_serve returns;
 *   structure ENVELOPE/BODY/BODYSTRUCTURE and the MIME part table
 *            (mta/imap/imap_structure.h) are built by parsing the body once
 *            at APPEND and cached with the blob (st_blob_struct_set); a
 *            body without one (an SMTP delivery, an older message) gets it
 *            built and cached at its first FETCH that needs it;
 *   writes   STORE, EXPUNGE, COPY/MOVE, APPEND, CREATE/DELETE/RENAME/
 *            (UN)SUBSCRIBE: submitted on the lane's st_client_t; the
 *            engine's *_done runs in the store callback (st_client_poll,
 *            i.e. from the server's tick), after the group commit.
 *
 * It also keeps what the engine leaves to the glue across sessions of a
 * lane: which session gets \Recent for a new message (the first read-write
 * SELECT after its delivery claims it: a per-lane table mailbox id ->
 * highest UID claimed, in memory, so after a restart the messages already
 * there are \Recent to the first session once more), and telling the
 * sessions that have a mailbox selected when it changes: at once after a
 * write of this lane, and by polling the mailbox's change generation
 * (st_mailbox_gen, raised by the store writer after every commit that
 * changed it) for the sessions in IDLE, so changes made
 * by other lanes and by SMTP delivery reach an IDLE client within
 * poll_us. NOOP/CHECK see them through the engine's sync_on_poll.
 *
 * Lifetimes: a write borrows the request's arrays (UID ranges, the APPEND
 * body in the engine's input buffer) until the store has committed. If the
 * connection goes away meanwhile, imap_store_sess_destroy takes the engine
 * session over and destroys it when the write completes.
 *
 * Threading: one imap_store_t per lane, used on the lane's thread only. */
#ifndef IMAP_STORE_H
#define IMAP_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "imap/imap_session.h"
#include "st.h"

typedef struct imap_store imap_store_t;
typedef struct imap_store_sess imap_store_sess_t;

typedef struct imap_store_params {
	st_reader_t *reader;  /* the lane's; borrowed */
	st_client_t *client;  /* the lane's; borrowed */
	uint64_t poll_us;     /* st_mailbox_gen poll of IDLE sessions' mailboxes
				 (0: 50 ms) */
	/* Called after a session's request completed asynchronously or its
	 * mailbox changed: the owner pumps the session (output, next request).
	 * Never called from inside imap_store_serve. */
	void (*wake)(void *owner);
	/* \Recent claims shared with the other lanes (borrowed); NULL: the
	 * store side keeps its own (one lane, or a test). */
	struct imap_recent *recent;
} imap_store_params_t;

/* Counters of the store side. */
#define IMAP_STORE_STATS_FIELDS(X)                                                \
	X(reads) X(read_errors) X(writes_submitted) X(writes_committed)           \
	X(writes_failed) X(writes_inflight) X(submit_retries) X(notifications)    \
	X(gen_polls) X(orphaned_sessions) X(structs_built) X(structs_cached)
typedef struct imap_store_stats {
#define IMAP_STORE_STATS_DECLARE(n) uint64_t n;
	IMAP_STORE_STATS_FIELDS(IMAP_STORE_STATS_DECLARE)
#undef IMAP_STORE_STATS_DECLARE
} imap_store_stats_t;
extern const char *const imap_store_stats_names[]; /* field order, NULL-ended */

/* imap_store_create - 0 and *ST_R, SL_EINVAL (missing reader, client or
 * wake), SL_ENOMEM. */
int imap_store_create(const imap_store_params_t *p, imap_store_t **st_r);
/* imap_store_destroy - every session must have been destroyed first.
 * Writes still in the store's hands are detached: their callbacks (run by
 * a later st_client_poll/_destroy) only free them and the engine sessions
 * they took over. *ST = NULL; NULL is a no-op. */
void imap_store_destroy(imap_store_t **st);

/* imap_store_sess_create - bind engine session S (owned by the caller
 * until imap_store_sess_destroy) with OWNER for the wake callback. 0,
 * SL_ENOMEM. */
int imap_store_sess_create(imap_store_t *st, imap_session_t *s, void *owner,
			   imap_store_sess_t **ss_r);
/* imap_store_sess_destroy - unbind. *S (the engine session) is destroyed
 * now, or, if a write of it is in the store's hands, taken over and
 * destroyed when that write completes; *S is set to NULL either way.
 * *SS = NULL; NULL is a no-op. */
void imap_store_sess_destroy(imap_store_sess_t **ss, imap_session_t **s);

/* imap_store_sess_login - the session authenticated as USER_ID. */
void imap_store_sess_login(imap_store_sess_t *ss, uint64_t user_id);
/* imap_store_sess_user - the user id (0 before login). */
uint64_t imap_store_sess_user(const imap_store_sess_t *ss);

/* imap_store_sess_busy - a write of the session is in the store's hands or
 * queued for a retry: its request is being served, do not serve it again. */
bool imap_store_sess_busy(const imap_store_sess_t *ss);

/* imap_store_serve - start serving the session's outstanding request RQ
 * (not AUTH or STARTTLS). Returns:
 *   0           completed (reads) or submitted (writes: the completion
 *               runs when the lane polls its store client, then wake);
 *   SL_EAGAIN   the store client is full: the session is queued and
 *               imap_store_tick submits it again (do not call again);
 *   SL_EINVAL   RQ is AUTH/STARTTLS/NONE (nothing was done).
 * A request kind it does not know ends the session ("* BYE"), returning 0.
 * The engine's completion may have closed the session: check
 * imap_session_closing after the call. */
int imap_store_serve(imap_store_sess_t *ss, const struct imap_request *rq, uint64_t now_us);

/* imap_store_tick - resubmit queued writes, poll the mailboxes of IDLE
 * sessions; wakes sessions as needed. The store completions are run by
 * whoever polls the lane's client (the lane, once per loop turn). */
void imap_store_tick(imap_store_t *st, uint64_t now_us);
/* imap_store_next_deadline - when tick has work (a queued write, an IDLE
 * poll), or SL_TIME_NEVER. */
uint64_t imap_store_next_deadline(const imap_store_t *st);
/* imap_store_busy - writes in the store's hands or queued. */
unsigned imap_store_busy(const imap_store_t *st);
void imap_store_get_stats(const imap_store_t *st, imap_store_stats_t *r);

#endif
