/* mta_login - password logins for the POP3 and IMAP servers. */
#include "mta_login.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sl_err.h"
#include "sl_log.h"
#include "st.h"

mta_login_peer_t mta_login_peer_of(mta_conn_t *cn)
{
	return (mta_login_peer_t){mta_conn_ip(cn), mta_conn_ip_str(cn),
				  mta_srv_now(mta_conn_srv(cn))};
}

enum mta_login_status mta_login_start(const mta_login_t *l, const mta_login_peer_t *peer,
				      sl_slice_t authzid, sl_slice_t authcid, sl_slice_t password,
				      void (*done)(mta_auth_job_t *job), void *ctx, void *owner,
				      mta_auth_job_t **job_r)
{
	mta_auth_job_t *job;

	*job_r = NULL;
	/* No proxy authorization: authzid, if given, must be the user. */
	if (authzid.len > 0 &&
	    (authzid.len != authcid.len ||
	     strncasecmp((const char *)authzid.ptr, (const char *)authcid.ptr, authcid.len) != 0))
		return MTA_LOGIN_FAIL;
	if (authcid.len == 0 || authcid.len > ST_ADDR_MAX || password.len > ST_PASSWORD_MAX ||
	    memchr(authcid.ptr, 0, authcid.len) != NULL)
		return MTA_LOGIN_FAIL;
	if (l->pool == NULL)
		return MTA_LOGIN_TEMPFAIL;
	if (mta_authlock_locked(l->lock, peer->ip, peer->now_us)) {
		/* Too many failures from this address lately: no argon2 for it. */
		(*l->ip_locked)++;
		sl_log(SL_LOG_INFO, l->log, "[%s]: login refused, too many recent failures",
		       peer->ip_str);
		return l->locked;
	}
	job = calloc(1, sizeof(*job));
	if (job == NULL)
		return MTA_LOGIN_TEMPFAIL;
	memcpy(job->user, authcid.ptr, authcid.len);
	memcpy(job->password, password.ptr, password.len);
	job->password_len = password.len;
	job->done = done;
	job->ctx = ctx;
	job->owner = owner;
	job->lane = l->lane;
	if (mta_authpool_submit(l->pool, job) < 0) {
		mta_login_job_free(job);
		(*l->queue_full)++;
		return MTA_LOGIN_TEMPFAIL;
	}
	*job_r = job;
	return MTA_LOGIN_PENDING;
}

enum mta_login_status mta_login_result(const mta_login_t *l, const mta_login_peer_t *peer,
				       const mta_auth_job_t *job)
{
	enum mta_login_status st;

	if (job->rc == 0)
		st = MTA_LOGIN_OK;
	else if (job->rc == SL_EAUTH || job->rc == SL_EINVAL || job->rc == SL_ENOENT)
		st = MTA_LOGIN_FAIL;
	else
		st = MTA_LOGIN_TEMPFAIL;
	if (st != MTA_LOGIN_TEMPFAIL)
		mta_authlock_record(l->lock, peer->ip, st == MTA_LOGIN_OK, peer->now_us);
	if (st == MTA_LOGIN_OK)
		sl_log(SL_LOG_INFO, l->log, "[%s]: login <%s>", peer->ip_str, job->user);
	else if (st == MTA_LOGIN_FAIL)
		sl_log(SL_LOG_INFO, l->log, "[%s]: login failed for <%s>", peer->ip_str, job->user);
	return st;
}

void mta_login_job_free(mta_auth_job_t *job)
{
	explicit_bzero(job, sizeof(*job));
	free(job);
}
