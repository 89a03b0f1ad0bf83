/* ctl_store - store administration over the control socket. */
#include "ctl_store.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl_net.h"
#include "sl_err.h"
#include "sl_log.h"
#include "sl_time.h"

/* A write that has not completed after this is reported, not waited for. */
#define CTL_STORE_TIMEOUT_MS 30000
#define CTL_INFLIGHT 16
#define CTL_GET_MAX (8u * 1024 * 1024) /* bytes of a message per `message get` */

struct ctl_store {
	st_store_t *store;
	st_client_t *client;
	st_reader_t *reader;
};

/* Detail text for errors: the control thread is the only user. */
static char ctl_err[512];

static const char *ctl_errf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static const char *ctl_errf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ctl_err, sizeof(ctl_err), fmt, ap);
	va_end(ap);
	return ctl_err;
}

int ctl_store_create(st_store_t *store, ctl_store_t **cs_r, const char **error_r)
{
	ctl_store_t *cs = calloc(1, sizeof(*cs));
	int rc;

	*cs_r = NULL;
	if (cs == NULL)
		return SL_ENOMEM;
	cs->store = store;
	rc = st_client_create(store, CTL_INFLIGHT, &cs->client);
	if (rc == 0)
		rc = st_reader_create(store, &cs->reader);
	if (rc < 0) {
		*error_r = "cannot create the control thread's store handles";
		ctl_store_destroy(&cs);
		return rc;
	}
	*cs_r = cs;
	return 0;
}

void ctl_store_destroy(ctl_store_t **csp)
{
	ctl_store_t *cs = *csp;

	if (cs == NULL)
		return;
	st_client_destroy(&cs->client);
	st_reader_destroy(&cs->reader);
	free(cs);
	*csp = NULL;
}

/* ---- helpers ---- */

static ctl_store_t *ctl_cs(void *ctx, const char **error_r)
{
	ctl_store_t *cs = ((ctl_net_ctx_t *)ctx)->store;

	if (cs == NULL)
		*error_r = "no store configured (store.path in the config)";
	return cs;
}

static int ctl_argc(int argc, int min, int max, const char **error_r)
{
	if (argc < min || argc > max) {
		*error_r = argc < min ? "missing argument" : "too many arguments";
		return SL_EINVAL;
	}
	return 0;
}

/* A heap waiter: if the store does not answer in time we return and leak
 * it, because the completion will still write into it later. */
typedef struct ctl_wait {
	bool done;
	int err;
	const char *error;
	st_result_t res;
} ctl_wait_t;

static void ctl_done(void *ctx, const st_result_t *res)
{
	ctl_wait_t *w = ctx;

	w->res = *res;
	w->err = res->err;
	w->error = res->error;
	w->done = true;
}

/* ctl_wait_for - wait for W (submitted with SUBMIT_RC). 0 or the result's
 * error, with *error_r; SL_ETIMEDOUT leaves W allocated on purpose. */
static int ctl_wait_for(ctl_store_t *cs, ctl_wait_t *w, int submit_rc, const char *what,
			const char **error_r)
{
	uint64_t deadline = sl_time_now_us() + CTL_STORE_TIMEOUT_MS * SL_US_PER_MS;
	int rc;

	if (submit_rc < 0) {
		free(w);
		*error_r = ctl_errf("%s: %s", what, sl_strerror(submit_rc));
		return submit_rc;
	}
	while (!w->done) {
		uint64_t now = sl_time_now_us();

		if (now >= deadline) {
			*error_r = ctl_errf("%s: the store did not answer within %d s", what,
					    CTL_STORE_TIMEOUT_MS / 1000);
			return SL_ETIMEDOUT;
		}
		st_client_wait(cs->client, (int)((deadline - now) / SL_US_PER_MS) + 1);
	}
	rc = w->err;
	if (rc < 0)
		*error_r = ctl_errf("%s: %s", what, w->error ? w->error : sl_strerror(rc));
	free(w);
	return rc;
}

static ctl_wait_t *ctl_wait_new(ctl_store_t *cs, int *rc_r)
{
	ctl_wait_t *w = calloc(1, sizeof(*w));

	/* Free a slot if earlier timed-out requests hold them all. */
	while (st_client_inflight(cs->client) >= CTL_INFLIGHT)
		if (st_client_wait(cs->client, 1000) == 0)
			break;
	*rc_r = w != NULL ? 0 : SL_ENOMEM;
	return w;
}

/* Address sanity before the store's own checks, for a clearer message. */
static int ctl_check_address(const char *addr, const char **error_r)
{
	const char *at = strrchr(addr, '@');

	if (at == NULL) {
		*error_r = ctl_errf("bad address syntax: no '@' in '%.200s'", addr);
		return SL_EINVAL;
	}
	if (at == addr || at[1] == '\0') {
		*error_r = ctl_errf("bad address syntax: '%.200s'", addr);
		return SL_EINVAL;
	}
	return 0;
}

/* --password-stdin SECRET: sluicectl puts the stdin line after the flag. */
static int ctl_password(int argc, char **argv, int at, sl_slice_t *pw_r, const char **error_r)
{
	if (argc <= at || strcmp(argv[at], "--password-stdin") != 0) {
		*error_r = "missing --password-stdin (the password is read from standard input)";
		return SL_EINVAL;
	}
	if (argc != at + 2) {
		*error_r = argc < at + 2 ? "missing password" : "too many arguments";
		return SL_EINVAL;
	}
	if (argv[at + 1][0] == '\0') {
		*error_r = "empty password";
		return SL_EINVAL;
	}
	if (strlen(argv[at + 1]) > ST_PASSWORD_MAX) {
		*error_r = ctl_errf("password longer than %d bytes", ST_PASSWORD_MAX);
		return SL_EINVAL;
	}
	*pw_r = sl_slice_make(argv[at + 1], strlen(argv[at + 1]));
	return 0;
}

/* ---- domains ---- */

static int cmd_domain_add_del(void *ctx, int argc, char **argv, const char **error_r, bool add)
{
	ctl_store_t *cs = ctl_cs(ctx, error_r);
	ctl_wait_t *w;
	int rc;

	if (cs == NULL)
		return SL_ESTATE;
	if (ctl_argc(argc, 1, 1, error_r) < 0)
		return SL_EINVAL;
	w = ctl_wait_new(cs, &rc);
	if (w == NULL)
		return rc;
	rc = add ? st_domain_add(cs->client, argv[0], ctl_done, w)
		 : st_domain_del(cs->client, argv[0], ctl_done, w);
	return ctl_wait_for(cs, w, rc, argv[0], error_r);
}

static int cmd_domain_add(void *ctx, int argc, char **argv, sl_buf_t *out, const char **error_r)
{
	int rc = cmd_domain_add_del(ctx, argc, argv, error_r, true);

	if (rc == 0)
		sl_buf_printf(out, "domain %s added\n", argv[0]);
	return rc;
}

static int cmd_domain_del(void *ctx, int argc, char **argv, sl_buf_t *out, const char **error_r)
{
	int rc = cmd_domain_add_del(ctx, argc, argv, error_r, false);

	if (rc == 0)
		sl_buf_printf(out, "domain %s deleted\n", argv[0]);
	return rc;
}

static int domain_row(void *ctx, const char *domain)
{
	return sl_buf_printf(ctx, "%s\n", domain) < 0 ? 1 : 0;
}

static int cmd_domain_list(void *ctx, int argc, char **argv, sl_buf_t *out, const char **error_r)
{
	ctl_store_t *cs = ctl_cs(ctx, error_r);
	int rc;

	(void)argv;
	if (cs == NULL)
		return SL_ESTATE;
	if (ctl_argc(argc, 0, 0, error_r) < 0)
		return SL_EINVAL;
	rc = st_domain_list(cs->reader, domain_row, out);
	if (rc < 0)
		*error_r = ctl_errf("domain list: %s", sl_strerror(rc));
	return rc < 0 ? rc : 0;
}

/* ---- users ---- */

static int ctl_user_write(ctl_store_t *cs, const char *addr, sl_slice_t pw, bool add,
			  const char **error_r)
{
	char hash[ST_PWHASH_MAX];
	ctl_wait_t *w;
	int rc;

	/* argon2id, tens of ms: here on the control thread, never a worker. */
	rc = st_password_hash(cs->store, pw, hash, sizeof(hash));
	if (rc < 0) {
		*error_r = ctl_errf("cannot hash the password: %s", sl_strerror(rc));
		return rc;
	}
	w = ctl_wait_new(cs, &rc);
	if (w == NULL)
		return rc;
	rc = add ? st_user_add(cs->client, addr, hash, ctl_done, w)
		 : st_user_passwd(cs->client, addr, hash, ctl_done, w);
	explicit_bzero(hash, sizeof(hash));
	return ctl_wait_for(cs, w, rc, addr, error_r);
}

/* user add / user passwd: ADD picks which. */
static int cmd_user_write(void *ctx, int argc, char **argv, sl_buf_t *out, const char **error_r,
			  bool add)
{
	ctl_store_t *cs = ctl_cs(ctx, error_r);
	sl_slice_t pw;
	int rc;

	if (cs == NULL)
		return SL_ESTATE;
	if (argc < 1) {
		*error_r = "missing argument";
		return SL_EINVAL;
	}
	if (ctl_check_address(argv[0], error_r) < 0)
		return SL_EINVAL;
	if (ctl_password(argc, argv, 1, &pw, error_r) < 0)
		return SL_EINVAL;
	rc = ctl_user_write(cs, argv[0], pw, add, error_r);
	explicit_bzero(argv[2], pw.len);
	if (rc == 0)
		sl_buf_printf(out, add ? "user %s added\n" : "password of %s changed\n", argv[0]);
	return rc;
}

static int cmd_user_add(void *ctx, int argc, char **argv, sl_buf_t *out, const char **error_r)
{
	return cmd_user_write(ctx, argc, argv, out, error_r, true);
}

static int cmd_user_passwd(void *ctx, int argc, char **argv, sl_buf_t *out, const char **error_r)
{
	return cmd_user_write(ctx, argc, argv, out, error_r, false);
}

static int cmd_user_del(void *ctx, int argc, char **argv, sl_buf_t *out, const char **error_r)
{
	ctl_store_t *cs = ctl_cs(ctx, error_r);
	ctl_wait_t *w;
	int rc;

	if (cs == NULL)
		return SL_ESTATE;
	if (ctl_argc(argc, 1, 1, error_r) < 0)
		return SL_EINVAL;
	if (ctl_check_address(argv[0], error_r) < 0)
		return SL_EINVAL;
	w = ctl_wait_new(cs, &rc);
	if (w == NULL)
		return rc;
	rc = ctl_wait_for(cs, w, st_user_del(cs->client, argv[0], ctl_done, w), argv[0], error_r);
	if (rc == 0)
		sl_buf_printf(out, "user %s deleted\n", argv[0]);
	return rc;
}

static void ctl_fmt_time(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int user_row(void *ctx, const st_user_info_t *u)
{
	char when[32];

	ctl_fmt_time(u->created, when, sizeof(when));
	return sl_buf_printf(ctx, "%-40s %8" PRIu64 "  %s\n", u->address, u->id, when) < 0 ? 1 : 0;
}

static int cmd_user_list(void *ctx, int argc, char **argv, sl_buf_t *out, const char **error_r)
{
	ctl_store_t *cs = ctl_cs(ctx, error_r);
	int rc;

	if (cs == NULL)
		return SL_ESTATE;
	if (ctl_argc(argc, 0, 1, error_r) < 0)
		return SL_EINVAL;
	if (argc == 1) {
		rc = st_domain_exists(cs->reader, argv[0]);
		if (rc < 0) {
			*error_r = ctl_errf("%s: %s", argv[0],
					    rc == SL_ENOENT  ? "unknown domain"
					    : rc == SL_EINVAL ? "bad domain syntax"
							      : sl_strerror(rc));
			return rc;
		}
	}
	sl_buf_printf(out, "%-40s %8s  %s\n", "user", "id", "created");
	rc = st_user_list(cs->reader, argc == 1 ? argv[0] : NULL, user_row, out);
	if (rc < 0)
		*error_r = ctl_errf("user list: %s", sl_strerror(rc));
	return rc < 0 ? rc : 0;
}

/* ---- aliases ---- */

static int cmd_alias_add(void *ctx, int argc, char **argv, sl_buf_t *out, const char **error_r)
{
	ctl_store_t *cs = ctl_cs(ctx, error_r);
	ctl_wait_t *w;
	int rc;

	if (cs == NULL)
		return SL_ESTATE;
	if (ctl_argc(argc, 2, 2, error_r) < 0)
		return SL_EINVAL;
	if (ctl_check_address(argv[0], error_r) < 0 || ctl_check_address(argv[1], error_r) < 0)
		return SL_EINVAL;
	w = ctl_wait_new(cs, &rc);
	if (w == NULL)
		return rc;
	rc = ctl_wait_for(cs, w, st_alias_add(cs->client, argv[0], argv[1], ctl_done, w), argv[0],
			  error_r);
	if (rc == 0)
		sl_buf_printf(out, "alias %s -> %s added\n", argv[0], argv[1]);
	return rc;
}

static int cmd_alias_del(void *ctx, int argc, char **argv, sl_buf_t *out, const char **error_r)
{
	ctl_store_t *cs = ctl_cs(ctx, error_r);
	ctl_wait_t *w;
	int rc;

	if (cs == NULL)
		return SL_ESTATE;
	if (ctl_argc(argc, 1, 2, error_r) < 0)
		return SL_EINVAL;
	if (ctl_check_address(argv[0], error_r) < 0)
		return SL_EINVAL;
	w = ctl_wait_new(cs, &rc);
	if (w == NULL)
		return rc;
	rc = ctl_wait_for(cs, w,
			  st_alias_del(cs->client, argv[0], argc == 2 ? argv[1] : NULL, ctl_done, w),
			  argv[0], error_r);
	if (rc == 0)
		sl_buf_printf(out, "alias %s%s%s deleted\n", argv[0], argc == 2 ? " -> " : "",
			      argc == 2 ? argv[1] : "");
	return rc;
}

static int alias_row(void *ctx, const char *alias, const char *target)
{
	return sl_buf_printf(ctx, "%s -> %s\n", alias, target) < 0 ? 1 : 0;
}

static int cmd_alias_list(void *ctx, int argc, char **argv, sl_buf_t *out, const char **error_r)
{
	ctl_store_t *cs = ctl_cs(ctx, error_r);
	int rc;

	(void)argv;
	if (cs == NULL)
		return SL_ESTATE;
	if (ctl_argc(argc, 0, 0, error_r) < 0)
		return SL_EINVAL;
	rc = st_alias_list(cs->reader, alias_row, out);
	if (rc < 0)
		*error_r = ctl_errf("alias list: %s", sl_strerror(rc));
	return rc < 0 ? rc : 0;
}

/* ---- mailboxes and messages ---- */

static int ctl_user_id(ctl_store_t *cs, const char *addr, uint64_t *id_r, const char **error_r)
{
	st_user_info_t u;
	int rc;

	if (ctl_check_address(addr, error_r) < 0)
		return SL_EINVAL;
	rc = st_user_lookup(cs->reader, addr, &u);
	if (rc < 0) {
		*error_r = ctl_errf("%s: %s", addr,
				    rc == SL_ENOENT  ? "unknown user"
				    : rc == SL_EINVAL ? "bad address syntax"
						      : sl_strerror(rc));
		return rc;
	}
	*id_r = u.id;
	return 0;
}

static void ctl_roles(uint32_t roles, char *buf, size_t len)
{
	static const char *const names[] = {"inbox", "sent", "drafts", "junk", "trash", "archive"};
	size_t used = 0;

	buf[0] = '\0';
	for (unsigned i = 0; i < 6; i++)
		if (roles & (1u << i)) {
			int n = snprintf(buf + used, len - used, "%s%s", used ? "," : "", names[i]);
			if (n < 0 || (size_t)n >= len - used)
				break;
			used += (size_t)n;
		}
	if (used == 0)
		snprintf(buf, len, "-");
}

static int mailbox_row(void *ctx, const st_mailbox_info_t *m)
{
	char roles[64];

	ctl_roles(m->roles, roles, sizeof(roles));
	return sl_buf_printf(ctx, "%-24s %8" PRIu32 " %8" PRIu32 " %12" PRIu64 "  %s\n", m->name,
			     m->count, m->unseen, m->size, roles) < 0
		       ? 1
		       : 0;
}

static int cmd_mailbox_list(void *ctx, int argc, char **argv, sl_buf_t *out, const char **error_r)
{
	ctl_store_t *cs = ctl_cs(ctx, error_r);
	uint64_t id;
	int rc;

	if (cs == NULL)
		return SL_ESTATE;
	if (ctl_argc(argc, 1, 1, error_r) < 0)
		return SL_EINVAL;
	rc = ctl_user_id(cs, argv[0], &id, error_r);
	if (rc < 0)
		return rc;
	sl_buf_printf(out, "%-24s %8s %8s %12s  %s\n", "mailbox", "messages", "unseen", "size",
		      "roles");
	rc = st_mailbox_list(cs->reader, id, mailbox_row, out);
	if (rc < 0)
		*error_r = ctl_errf("mailbox list: %s", sl_strerror(rc));
	return rc < 0 ? rc : 0;
}

static int ctl_mailbox(ctl_store_t *cs, const char *user, const char *name,
		       st_mailbox_info_t *mb_r, const char **error_r)
{
	uint64_t id;
	int rc = ctl_user_id(cs, user, &id, error_r);

	if (rc < 0)
		return rc;
	rc = st_mailbox_get(cs->reader, id, name, mb_r);
	if (rc < 0)
		*error_r = ctl_errf("%s: mailbox %s: %s", user, name,
				    rc == SL_ENOENT ? "no such mailbox" : sl_strerror(rc));
	return rc;
}

static int message_row(void *ctx, const st_msg_info_t *m)
{
	sl_buf_t *out = ctx;
	char when[32], hex[2 * ST_BLOB_ID_LEN + 1];

	ctl_fmt_time(m->internaldate, when, sizeof(when));
	for (unsigned i = 0; i < ST_BLOB_ID_LEN; i++)
		snprintf(hex + 2 * i, 3, "%02x", m->blob.b[i]);
	return sl_buf_printf(out, "%8" PRIu32 " %10" PRIu64 " %-6s %s %s\n", m->uid, m->size,
			     (m->flags & ST_FLAG_SEEN) ? "seen" : "-", when, hex) < 0
		       ? 1
		       : 0;
}

static int cmd_message_list(void *ctx, int argc, char **argv, sl_buf_t *out, const char **error_r)
{
	ctl_store_t *cs = ctl_cs(ctx, error_r);
	st_mailbox_info_t mb;
	int rc;

	if (cs == NULL)
		return SL_ESTATE;
	if (ctl_argc(argc, 1, 2, error_r) < 0)
		return SL_EINVAL;
	rc = ctl_mailbox(cs, argv[0], argc == 2 ? argv[1] : "INBOX", &mb, error_r);
	if (rc < 0)
		return rc;
	sl_buf_printf(out, "%8s %10s %-6s %-20s %s\n", "uid", "size", "flags", "date", "sha256");
	rc = st_msg_list(cs->reader, mb.id, 1, UINT32_MAX, message_row, out);
	if (rc < 0)
		*error_r = ctl_errf("message list: %s", sl_strerror(rc));
	return rc < 0 ? rc : 0;
}

static int body_part(void *ctx, sl_slice_t part)
{
	return sl_buf_append(ctx, part.ptr, part.len) < 0 ? 1 : 0;
}

static int ctl_parse_u64(const char *s, uint64_t *r)
{
	char *end;
	unsigned long long v;

	if (*s < '0' || *s > '9')
		return SL_EINVAL;
	v = strtoull(s, &end, 10);
	if (*end != '\0')
		return SL_EINVAL;
	*r = v;
	return 0;
}

/* message get USER MAILBOX UID [OFFSET [LENGTH]]: the stored bytes, raw
 * (Received: header first), at most 8 MiB per call. */
static int cmd_message_get(void *ctx, int argc, char **argv, sl_buf_t *out, const char **error_r)
{
	ctl_store_t *cs = ctl_cs(ctx, error_r);
	st_mailbox_info_t mb;
	st_msg_info_t m;
	uint64_t uid, off = 0, len = CTL_GET_MAX;
	int rc;

	if (cs == NULL)
		return SL_ESTATE;
	if (ctl_argc(argc, 3, 5, error_r) < 0)
		return SL_EINVAL;
	if (ctl_parse_u64(argv[2], &uid) < 0 || uid == 0 || uid > UINT32_MAX ||
	    (argc > 3 && ctl_parse_u64(argv[3], &off) < 0) ||
	    (argc > 4 && ctl_parse_u64(argv[4], &len) < 0)) {
		*error_r = "UID, OFFSET and LENGTH are decimal numbers";
		return SL_EINVAL;
	}
	if (len > CTL_GET_MAX)
		len = CTL_GET_MAX;
	rc = ctl_mailbox(cs, argv[0], argv[1], &mb, error_r);
	if (rc < 0)
		return rc;
	rc = st_msg_get(cs->reader, mb.id, (uint32_t)uid, &m);
	if (rc < 0) {
		*error_r = ctl_errf("%s: %s: uid %" PRIu64 ": %s", argv[0], argv[1], uid,
				    rc == SL_ENOENT ? "no such message" : sl_strerror(rc));
		return rc;
	}
	rc = st_body_read(cs->reader, &m.blob, off, len, body_part, out);
	if (rc != 0) {
		*error_r = ctl_errf("reading the body: %s", rc > 0 ? "output too large"
									: sl_strerror(rc));
		return rc > 0 ? SL_ELIMIT : rc;
	}
	return 0;
}

/* ---- outbound queue (filled by authenticated relaying; sent later) ---- */

static int queue_row(void *ctx, const st_queue_entry_t *e)
{
	sl_buf_t *out = ctx;
	char when[32];

	ctl_fmt_time(e->created, when, sizeof(when));
	if (sl_buf_printf(out, "%" PRIu64 " %s size=%" PRIu64 " attempts=%" PRIu32 " from=<%s>\n",
			  e->id, when, e->size, e->attempts, e->sender) < 0)
		return 1;
	for (unsigned i = 0; i < e->n_rcpts; i++) {
		static const char *const st[] = {"pending", "deferred", "delivered", "failed"};
		const st_queue_rcpt_t *r = &e->rcpts[i];

		if (sl_buf_printf(out, "    to=<%s> %s\n", r->address,
				  (unsigned)r->status < 4 ? st[r->status] : "?") < 0)
			return 1;
	}
	return 0;
}

static int cmd_queue_list(void *ctx, int argc, char **argv, sl_buf_t *out, const char **error_r)
{
	ctl_store_t *cs = ctl_cs(ctx, error_r);
	int rc;

	(void)argv;
	if (cs == NULL)
		return SL_ESTATE;
	if (ctl_argc(argc, 0, 0, error_r) < 0)
		return SL_EINVAL;
	rc = st_queue_list(cs->reader, queue_row, out);
	if (rc != 0) {
		*error_r = rc > 0 ? "queue listing too large" : ctl_errf("queue list: %s", sl_strerror(rc));
		return rc > 0 ? SL_ELIMIT : rc;
	}
	return 0;
}

/* ---- whole store ---- */

static int cmd_backup(void *ctx, int argc, char **argv, sl_buf_t *out, const char **error_r)
{
	ctl_store_t *cs = ctl_cs(ctx, error_r);
	uint64_t t0 = sl_time_now_us();
	int rc;

	if (cs == NULL)
		return SL_ESTATE;
	if (ctl_argc(argc, 1, 1, error_r) < 0)
		return SL_EINVAL;
	if (argv[0][0] != '/') {
		*error_r = "PATH must be absolute (it is opened by the daemon)";
		return SL_EINVAL;
	}
	rc = st_store_backup(cs->store, argv[0], error_r);
	if (rc < 0) {
		*error_r = ctl_errf("backup to %s: %s", argv[0], *error_r ? *error_r : sl_strerror(rc));
		return rc;
	}
	sl_buf_printf(out, "backup written to %s/data.mdb in %" PRIu64 " ms\n", argv[0],
		      (uint64_t)((sl_time_now_us() - t0) / SL_US_PER_MS));
	return 0;
}

static int cmd_store_status(void *ctx, int argc, char **argv, sl_buf_t *out,
			    const char **error_r)
{
	ctl_store_t *cs = ctl_cs(ctx, error_r);
	ctl_net_ctx_t *c = ctx;
	st_store_stats_t st;

	(void)argv;
	if (cs == NULL)
		return SL_ESTATE;
	if (ctl_argc(argc, 0, 0, error_r) < 0)
		return SL_EINVAL;
	st_store_stats(cs->store, &st);
	sl_buf_printf(out, "path:           %s\n", c->conf->store.path);
	sl_buf_printf(out, "schema:         %" PRIu32 "\n", st.schema_version);
	sl_buf_printf(out, "map_size:       %" PRIu64 "\n", st.map_size);
	sl_buf_printf(out, "map_used:       %" PRIu64 "\n", st.map_used);
	sl_buf_printf(out, "map_grows:      %" PRIu64 "\n", st.map_grows);
	sl_buf_printf(out, "requests:       %" PRIu64 "\n", st.requests);
	sl_buf_printf(out, "batches:        %" PRIu64 "\n", st.batches);
	sl_buf_printf(out, "batch_max:      %" PRIu64 "\n", st.batch_max);
	sl_buf_printf(out, "retries:        %" PRIu64 "\n", st.retries);
	sl_buf_printf(out, "singles:        %" PRIu64 "\n", st.singles);
	return 0;
}

static int cmd_store_check(void *ctx, int argc, char **argv, sl_buf_t *out, const char **error_r)
{
	ctl_store_t *cs = ctl_cs(ctx, error_r);
	st_check_report_t r;
	int rc;

	(void)argv;
	if (cs == NULL)
		return SL_ESTATE;
	if (ctl_argc(argc, 0, 0, error_r) < 0)
		return SL_EINVAL;
	rc = st_store_check(cs->reader, &r);
	if (rc < 0 && rc != SL_ECORRUPT) {
		*error_r = ctl_errf("check: %s", sl_strerror(rc));
		return rc;
	}
	sl_buf_printf(out,
		      "users %" PRIu64 ", mailboxes %" PRIu64 ", messages %" PRIu64 ", blobs %" PRIu64
		      ", chunks %" PRIu64 ", queue %" PRIu64 ", quarantine %" PRIu64 "\n",
		      r.users, r.mailboxes, r.messages, r.blobs, r.chunks, r.queue, r.quarantine);
	if (rc == SL_ECORRUPT) {
		*error_r = ctl_errf("%" PRIu64 " problems; first: %s", r.problems, r.first_problem);
		return rc;
	}
	sl_buf_printf(out, "consistent\n");
	return 0;
}

const ctl_cmd_t ctl_store_cmds[] = {
	{"domain add", "domain add DOMAIN", cmd_domain_add},
	{"domain del", "domain del DOMAIN", cmd_domain_del},
	{"domain list", "domain list", cmd_domain_list},
	{"user add", "user add USER@DOMAIN --password-stdin", cmd_user_add},
	{"user del", "user del USER@DOMAIN", cmd_user_del},
	{"user passwd", "user passwd USER@DOMAIN --password-stdin", cmd_user_passwd},
	{"user list", "user list [DOMAIN]", cmd_user_list},
	{"alias add", "alias add ALIAS@DOMAIN TARGET", cmd_alias_add},
	{"alias del", "alias del ALIAS@DOMAIN [TARGET]", cmd_alias_del},
	{"alias list", "alias list", cmd_alias_list},
	{"mailbox list", "mailbox list USER@DOMAIN", cmd_mailbox_list},
	{"message list", "message list USER@DOMAIN [MAILBOX]", cmd_message_list},
	{"message get", "message get USER@DOMAIN MAILBOX UID [OFFSET [LENGTH]]", cmd_message_get},
	{"queue list", "queue list", cmd_queue_list},
	{"backup", "backup PATH", cmd_backup},
	{"store status", "store status", cmd_store_status},
	{"store check", "store check", cmd_store_check},
	{NULL},
};
