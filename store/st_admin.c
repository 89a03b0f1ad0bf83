/* st_admin - password hashing and the blocking helpers the control socket
 * uses (sluicectl domain/user/alias commands). Mailbox listing, user and
 * domain listing, and backup need no helper: st_mailbox_list, st_user_list,
 * st_domain_list and st_store_backup are already synchronous. */
#include <argon2.h>
#include <sys/random.h>

#include "st_private.h"

#define SALT_LEN 16
#define HASH_LEN 32

int st_password_hash(st_store_t *s, sl_slice_t password, char *out, size_t cap)
{
	const st_store_opts_t *o = &s->opts;
	uint8_t salt[SALT_LEN];
	size_t need;
	int rc;

	if (password.len == 0 || password.len > ST_PASSWORD_MAX || password.ptr == NULL)
		return SL_EINVAL;
	need = argon2_encodedlen(o->argon2_t_cost, o->argon2_m_cost_kib, o->argon2_parallelism,
				 SALT_LEN, HASH_LEN, Argon2_id) + 1;
	if (need > cap || need > ST_PWHASH_MAX)
		return SL_ELIMIT;
	if (getrandom(salt, sizeof(salt), 0) != (ssize_t)sizeof(salt))
		return SL_EIO;
	rc = argon2id_hash_encoded(o->argon2_t_cost, o->argon2_m_cost_kib, o->argon2_parallelism,
				   password.ptr, password.len, salt, SALT_LEN, HASH_LEN, out, cap);
	if (rc == ARGON2_OK)
		return 0;
	return rc == ARGON2_MEMORY_ALLOCATION_ERROR ? SL_ENOMEM : SL_EINVAL;
}

void st_admin_done(void *ctx, const st_result_t *res)
{
	st_admin_wait_t *w = ctx;

	w->res = *res;
	w->done = true;
}

int st_admin_wait_for(st_client_t *c, st_admin_wait_t *w)
{
	while (!w->done)
		st_client_wait(c, -1);
	return w->res.err;
}

static int finish(st_client_t *c, st_admin_wait_t *w, int submit_rc, const char **error_r)
{
	const char *dummy;
	int rc;

	if (error_r == NULL)
		error_r = &dummy;
	if (submit_rc < 0) {
		*error_r = sl_strerror(submit_rc);
		return submit_rc;
	}
	rc = st_admin_wait_for(c, w);
	*error_r = rc == 0 ? NULL : w->res.error != NULL ? w->res.error : sl_strerror(rc);
	return rc;
}

/* Submit with retry: a client whose slots are all in flight frees one by
 * running a completion. */
#define SUBMIT(c, call)                                       \
	({                                                    \
		int rc_;                                      \
		while ((rc_ = (call)) == SL_EAGAIN)           \
			st_client_wait((c), -1);              \
		rc_;                                          \
	})

int st_admin_domain_add(st_client_t *c, const char *domain, const char **error_r)
{
	st_admin_wait_t w = {0};

	return finish(c, &w, SUBMIT(c, st_domain_add(c, domain, st_admin_done, &w)), error_r);
}

int st_admin_domain_del(st_client_t *c, const char *domain, const char **error_r)
{
	st_admin_wait_t w = {0};

	return finish(c, &w, SUBMIT(c, st_domain_del(c, domain, st_admin_done, &w)), error_r);
}

int st_admin_user_add(st_client_t *c, const char *address, sl_slice_t password, uint64_t *id_r,
		      const char **error_r)
{
	st_admin_wait_t w = {0};
	char hash[ST_PWHASH_MAX];
	const char *dummy;
	int rc;

	if (error_r == NULL)
		error_r = &dummy;
	rc = st_password_hash(c->s, password, hash, sizeof(hash));
	if (rc < 0) {
		*error_r = rc == SL_EINVAL ? "empty or too long password" : "cannot hash password";
		return rc;
	}
	rc = finish(c, &w, SUBMIT(c, st_user_add(c, address, hash, st_admin_done, &w)), error_r);
	if (rc == 0 && id_r != NULL)
		*id_r = w.res.u.user.id;
	return rc;
}

int st_admin_user_del(st_client_t *c, const char *address, const char **error_r)
{
	st_admin_wait_t w = {0};

	return finish(c, &w, SUBMIT(c, st_user_del(c, address, st_admin_done, &w)), error_r);
}

int st_admin_user_passwd(st_client_t *c, const char *address, sl_slice_t password,
			 const char **error_r)
{
	st_admin_wait_t w = {0};
	char hash[ST_PWHASH_MAX];
	const char *dummy;
	int rc;

	if (error_r == NULL)
		error_r = &dummy;
	rc = st_password_hash(c->s, password, hash, sizeof(hash));
	if (rc < 0) {
		*error_r = rc == SL_EINVAL ? "empty or too long password" : "cannot hash password";
		return rc;
	}
	return finish(c, &w, SUBMIT(c, st_user_passwd(c, address, hash, st_admin_done, &w)),
		      error_r);
}

int st_admin_alias_add(st_client_t *c, const char *alias, const char *target,
		       const char **error_r)
{
	st_admin_wait_t w = {0};

	return finish(c, &w, SUBMIT(c, st_alias_add(c, alias, target, st_admin_done, &w)),
		      error_r);
}

int st_admin_alias_del(st_client_t *c, const char *alias, const char *target,
		       const char **error_r)
{
	st_admin_wait_t w = {0};

	return finish(c, &w, SUBMIT(c, st_alias_del(c, alias, target, st_admin_done, &w)),
		      error_r);
}
