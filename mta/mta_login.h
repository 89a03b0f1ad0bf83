/* mta_login - password logins for the SMTP, POP3 and IMAP servers: the
 * checks before the auth pool, the job, and the outcome.
 *
 * A server keeps one mta_login_t (the lane's auth pool, its per-address
 * failure table, counters). mta_login_start() refuses at once what needs no
 * password check (a proxy authorization: authzid must be the user; an empty
 * or oversized name or password; an address with too many recent failures)
 * or submits a job whose DONE callback runs on the lane later; there the
 * server calls mta_login_result() for the verdict, which also records it
 * against the address and logs it.
 *
 * The statuses have the values of the engines' enums (POP3_AUTH_*,
 * IMAP_AUTH_*): OK 0, FAIL 1, TEMPFAIL 2. */
#ifndef MTA_LOGIN_H
#define MTA_LOGIN_H

#include <stdint.h>

#include "mta_authpool.h"
#include "mta_conn.h"
#include "mta_iptable.h"
#include "sl_buf.h"

enum mta_login_status {
	MTA_LOGIN_OK = 0,
	MTA_LOGIN_FAIL = 1,
	MTA_LOGIN_TEMPFAIL = 2,
	MTA_LOGIN_PENDING = 3, /* submitted: DONE will run */
};

/* The client, as the checks and the log need it. */
typedef struct mta_login_peer {
	uint32_t ip;              /* network order */
	const char *ip_str;
	uint64_t now_us;
} mta_login_peer_t;

typedef struct mta_login {
	mta_authpool_t *pool;     /* NULL: every login fails temporarily */
	mta_authlock_t *lock;     /* failures per client address */
	unsigned lane;
	const char *log;          /* log tag */
	uint64_t *ip_locked;      /* counter: refused for recent failures */
	uint64_t *queue_full;     /* counter: the pool's queue was full */
	/* What an address over the failure limit gets: MTA_LOGIN_FAIL (POP3,
	 * IMAP) or MTA_LOGIN_TEMPFAIL (SMTP's 454, RFC 4954 §6). */
	enum mta_login_status locked;
} mta_login_t;

/* mta_login_start - see above. CTX and OWNER go into the job (ctx: the
 * server, owner: the session). On MTA_LOGIN_PENDING *JOB_R is the job (the
 * caller keeps it to abandon it: job->owner = NULL). */
enum mta_login_status mta_login_start(const mta_login_t *l, const mta_login_peer_t *peer,
				      sl_slice_t authzid,
				      sl_slice_t authcid, sl_slice_t password,
				      void (*done)(mta_auth_job_t *job), void *ctx, void *owner,
				      mta_auth_job_t **job_r);
/* mta_login_result - the outcome of a finished JOB of PEER. */
enum mta_login_status mta_login_result(const mta_login_t *l, const mta_login_peer_t *peer,
				       const mta_auth_job_t *job);
/* mta_login_peer_of - PEER of an mta_conn connection. */
mta_login_peer_t mta_login_peer_of(mta_conn_t *cn);
/* mta_login_job_free - wipe and free a job handed back by the pool. */
void mta_login_job_free(mta_auth_job_t *job);

#endif
