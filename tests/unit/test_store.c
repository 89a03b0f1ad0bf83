/* test_store - the data model and every store operation: names, domains,
 * users and aliases, mailboxes (hierarchy, rename, delete, subscriptions,
 * roles), messages (deliver, flags with MODSEQ, copy, move, expunge,
 * changes since), blobs (dedup, refcounts, range reads), queue,
 * quarantine, key spaces, schema migrations, backup, map growth, and the
 * consistency check after each. */
#include "test_store_util.h"
#include "st_private.h"

static int setup(void **state)
{
	sl_log_set_level(SL_LOG_WARN);
	*state = ut_store_new();
	return 0;
}

/* --- names ------------------------------------------------------------- */

static const struct {
	const char *name;
	int ok;
} mailbox_names[] = {
	{"INBOX", 1},          {"inbox", 1},           {"Work/Projects/2024", 1},
	{"Entw\xc3\xbcrfe", 1}, {"a.b c", 1},           {"", 0},
	{"/a", 0},             {"a/", 0},              {"a//b", 0},
	{"a/./b", 0},          {"a/../b", 0},          {"..", 0},
	{"a*b", 0},            {"a%b", 0},             {"a\tb", 0},
	{"a\x7f", 0},          {"\xc3\x28", 0},        {"\xc0\xaf", 0},
	{"\xed\xa0\x80", 0},   {"\xf4\x90\x80\x80", 0}, {"\xe2\x82", 0},
	{"a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p", 1},
	{"a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q", 0},
};

static void test_mailbox_name_validation(void **state)
{
	char longname[300];
	const char *err;

	(void)state;
	for (size_t i = 0; i < sizeof(mailbox_names) / sizeof(mailbox_names[0]); i++) {
		int rc = st_mailbox_name_valid(mailbox_names[i].name, &err);
		if ((rc == 0) != mailbox_names[i].ok)
			fail_msg("name #%zu '%s': got %d", i, mailbox_names[i].name, rc);
	}
	memset(longname, 'x', sizeof(longname));
	longname[ST_MAILBOX_NAME_MAX] = '\0';
	assert_int_equal(st_mailbox_name_valid(longname, NULL), 0);
	longname[ST_MAILBOX_NAME_MAX] = 'x';
	longname[ST_MAILBOX_NAME_MAX + 1] = '\0';
	assert_int_equal(st_mailbox_name_valid(longname, NULL), SL_EINVAL);
}

static const struct {
	const char *in;
	const char *canon; /* NULL: invalid */
} addresses[] = {
	{"Alice@Example.COM", "alice@example.com"},
	{"a.b+tag@sub.example.org", "a.b+tag@sub.example.org"},
	{"x@localhost", "x@localhost"},
	{"no-at-sign", NULL},
	{"@example.com", NULL},
	{"a@", NULL},
	{".a@example.com", NULL},
	{"a.@example.com", NULL},
	{"a..b@example.com", NULL},
	{"a b@example.com", NULL},
	{"\"q\"@example.com", NULL},
	{"a@-example.com", NULL},
	{"a@example-.com", NULL},
	{"a@exa_mple.com", NULL},
	{"a@example..com", NULL},
	{"a@example.com.", NULL},
	{"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@x.com", NULL},
};

static void test_address_canonical_forms(void **state)
{
	char out[ST_STR_CAP];
	const char *err;

	(void)state;
	for (size_t i = 0; i < sizeof(addresses) / sizeof(addresses[0]); i++) {
		int rc = st_address_canon(addresses[i].in, out, &err);
		if (addresses[i].canon == NULL) {
			if (rc != SL_EINVAL)
				fail_msg("'%s' accepted as '%s'", addresses[i].in, out);
		} else {
			if (rc != 0)
				fail_msg("'%s' refused: %s", addresses[i].in, err);
			assert_string_equal(out, addresses[i].canon);
		}
	}
}

/* --- domains ----------------------------------------------------------- */

static int collect_str(void *ctx, const char *s)
{
	char *buf = ctx;

	strcat(buf, s);
	strcat(buf, ";");
	return 0;
}

static void test_domain_add_del_list(void **state)
{
	ut_store_t *u = *state;
	char list[512] = "";
	const char *err;

	static const struct {
		const char *domain;
		int add, del;
	} cases[] = {
		{"Example.COM", 0, 0},
		{"example.com", SL_EEXIST, SL_ENOENT},
		{"b.example", 0, 0},
		{"bad_domain", SL_EINVAL, SL_EINVAL},
		{"", SL_EINVAL, SL_EINVAL},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(st_admin_domain_add(u->c, cases[i].domain, &err), cases[i].add);
	assert_int_equal(st_domain_exists(u->rd, "EXAMPLE.com"), 0);
	assert_int_equal(st_domain_exists(u->rd, "nope.com"), SL_ENOENT);
	assert_int_equal(st_domain_list(u->rd, collect_str, list), 0);
	assert_string_equal(list, "b.example;example.com;");

	/* A domain with users cannot go. */
	ut_user(u, "bob@b.example");
	assert_int_equal(st_admin_domain_del(u->c, "b.example", &err), SL_EBUSY);
	assert_string_equal(err, "domain has users or aliases");
	assert_int_equal(st_admin_user_del(u->c, "bob@b.example", &err), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(st_admin_domain_del(u->c, cases[i].domain, &err), cases[i].del);
	list[0] = '\0';
	assert_int_equal(st_domain_list(u->rd, collect_str, list), 0);
	assert_string_equal(list, "");
}

/* --- users ------------------------------------------------------------- */

static int collect_mbox(void *ctx, const st_mailbox_info_t *mi)
{
	char *buf = ctx;
	char line[400];

	snprintf(line, sizeof(line), "%s:%u:%u:%llu:%x%s%s;", mi->name, mi->count, mi->unseen,
		 (unsigned long long)mi->size, mi->roles,
		 mi->attrs & ST_MBOX_NOSELECT ? ":noselect" : "", mi->subscribed ? ":sub" : "");
	strcat(buf, line);
	return 0;
}

static int collect_user(void *ctx, const st_user_info_t *ui)
{
	return collect_str(ctx, ui->address);
}

static void test_user_lifecycle(void **state)
{
	ut_store_t *u = *state;
	st_user_info_t ui, ui2;
	char list[1024] = "";
	uint64_t id = 0, id2;
	const char *err;

	ut_domain(u, "example.com");
	ut_domain(u, "other.org");
	assert_int_equal(st_admin_user_add(u->c, "nobody@unknown.net", SL_SLICE_LIT("pw"), NULL,
					   &err),
			 SL_ENOENT);
	assert_string_equal(err, "unknown domain");
	assert_int_equal(st_admin_user_add(u->c, "bad address", SL_SLICE_LIT("pw"), NULL, &err),
			 SL_EINVAL);
	assert_int_equal(st_admin_user_add(u->c, "a@example.com", SL_SLICE_LIT(""), NULL, &err),
			 SL_EINVAL);
	assert_int_equal(st_admin_user_add(u->c, "Alice@Example.com", SL_SLICE_LIT("pw1"), &id,
					   &err),
			 0);
	assert_true(id > 0);
	assert_int_equal(st_admin_user_add(u->c, "alice@example.com", SL_SLICE_LIT("x"), NULL, &err),
			 SL_EEXIST);
	assert_string_equal(err, "user exists");
	id2 = ut_user(u, "carol@other.org");
	assert_true(id2 != id);

	assert_int_equal(st_user_lookup(u->rd, "ALICE@example.com", &ui), 0);
	assert_int_equal(ui.id, id);
	assert_string_equal(ui.address, "alice@example.com");
	assert_int_equal(st_user_get(u->rd, id, &ui2), 0);
	assert_string_equal(ui2.address, "alice@example.com");
	assert_int_equal(st_user_get(u->rd, 999, &ui2), SL_ENOENT);
	assert_int_equal(st_user_list(u->rd, NULL, collect_user, list), 0);
	assert_string_equal(list, "alice@example.com;carol@other.org;");
	list[0] = '\0';
	assert_int_equal(st_user_list(u->rd, "other.org", collect_user, list), 0);
	assert_string_equal(list, "carol@other.org;");

	/* Passwords: argon2id, verified; unknown users fail the same way. */
	assert_int_equal(st_user_authenticate(u->rd, "alice@example.com", SL_SLICE_LIT("pw1"),
					      &id2),
			 0);
	assert_int_equal(id2, id);
	assert_int_equal(st_user_authenticate(u->rd, "alice@example.com", SL_SLICE_LIT("pw2"),
					      &id2),
			 SL_EAUTH);
	assert_int_equal(st_user_authenticate(u->rd, "ghost@example.com", SL_SLICE_LIT("pw1"),
					      &id2),
			 SL_EAUTH);
	assert_int_equal(st_admin_user_passwd(u->c, "alice@example.com", SL_SLICE_LIT("new"), &err),
			 0);
	assert_int_equal(st_user_authenticate(u->rd, "alice@example.com", SL_SLICE_LIT("pw1"),
					      &id2),
			 SL_EAUTH);
	assert_int_equal(st_user_authenticate(u->rd, "alice@example.com", SL_SLICE_LIT("new"),
					      &id2),
			 0);
	assert_int_equal(st_admin_user_passwd(u->c, "ghost@example.com", SL_SLICE_LIT("new"), &err),
			 SL_ENOENT);

	/* INBOX and the special-use mailboxes come with the user. */
	list[0] = '\0';
	assert_int_equal(st_mailbox_list(u->rd, id, collect_mbox, list), 0);
	assert_string_equal(list, "Archive:0:0:0:20;Drafts:0:0:0:4;INBOX:0:0:0:1;Junk:0:0:0:8;"
				  "Sent:0:0:0:2;Trash:0:0:0:10;");

	/* Deleting a user removes its mailboxes, messages and blobs. */
	{
		st_blob_id_t b;
		st_blob_info_t bi;
		st_msg_info_t mi;
		uint32_t uid = ut_deliver(u, id, "INBOX", "hello", 5, 0);

		assert_int_equal(st_msg_get(u->rd, ut_mbox_id(u, id, "INBOX"), uid, &mi), 0);
		b = mi.blob;
		assert_int_equal(st_admin_user_del(u->c, "alice@example.com", &err), 0);
		assert_int_equal(st_blob_get(u->rd, &b, &bi), SL_ENOENT);
		list[0] = '\0';
		assert_int_equal(st_mailbox_list(u->rd, id, collect_mbox, list), 0);
		assert_string_equal(list, "");
		assert_int_equal(st_user_lookup(u->rd, "alice@example.com", &ui), SL_ENOENT);
		assert_int_equal(st_admin_user_del(u->c, "alice@example.com", &err), SL_ENOENT);
	}
}

/* --- aliases ----------------------------------------------------------- */

struct rcpts {
	char buf[1024];
};

static int collect_rcpt(void *ctx, const st_rcpt_t *r)
{
	struct rcpts *x = ctx;
	char line[300];

	snprintf(line, sizeof(line), "%s%s;", r->user_id ? "L:" : "R:", r->address);
	strcat(x->buf, line);
	return 0;
}

static void test_alias_expansion(void **state)
{
	ut_store_t *u = *state;
	struct rcpts x;
	const char *err;
	char list[1024] = "";

	ut_domain(u, "example.com");
	ut_user(u, "alice@example.com");
	ut_user(u, "bob@example.com");

	static const struct {
		const char *alias, *target;
		int rc;
	} adds[] = {
		{"team@example.com", "alice@example.com", 0},
		{"team@example.com", "bob@example.com", 0},
		{"team@example.com", "bob@example.com", SL_EEXIST},
		{"all@example.com", "team@example.com", 0},
		{"all@example.com", "partner@remote.net", 0},
		{"loop1@example.com", "loop2@example.com", 0},
		{"loop2@example.com", "loop1@example.com", 0},
		{"alice@example.com", "bob@example.com", SL_EEXIST}, /* a user */
		{"x@unknown.net", "alice@example.com", SL_ENOENT},   /* no such domain */
		{"self@example.com", "self@example.com", SL_EINVAL},
		{"dangling@example.com", "gone@example.com", 0},
	};
	for (size_t i = 0; i < sizeof(adds) / sizeof(adds[0]); i++) {
		int rc = st_admin_alias_add(u->c, adds[i].alias, adds[i].target, &err);
		if (rc != adds[i].rc)
			fail_msg("alias #%zu: %d (%s)", i, rc, err ? err : "");
	}
	/* A user cannot be created over an alias. */
	assert_int_equal(st_admin_user_add(u->c, "team@example.com", SL_SLICE_LIT("pw"), NULL, &err),
			 SL_EEXIST);

	static const struct {
		const char *addr;
		int rc;
		const char *expect;
	} resolves[] = {
		{"alice@example.com", 0, "L:alice@example.com;"},
		{"TEAM@example.com", 0, "L:alice@example.com;L:bob@example.com;"},
		{"all@example.com", 0, "R:partner@remote.net;L:alice@example.com;L:bob@example.com;"},
		{"someone@remote.net", 0, "R:someone@remote.net;"},
		{"nobody@example.com", SL_ENOENT, ""},
		{"loop1@example.com", SL_ENOENT, ""},
		{"dangling@example.com", SL_ENOENT, ""},
		{"bad", SL_EINVAL, ""},
	};
	for (size_t i = 0; i < sizeof(resolves) / sizeof(resolves[0]); i++) {
		x.buf[0] = '\0';
		assert_int_equal(st_rcpt_resolve(u->rd, resolves[i].addr, collect_rcpt, &x),
				 resolves[i].rc);
		assert_string_equal(x.buf, resolves[i].expect);
	}
	assert_int_equal(st_admin_alias_del(u->c, "team@example.com", "bob@example.com", &err), 0);
	x.buf[0] = '\0';
	assert_int_equal(st_rcpt_resolve(u->rd, "team@example.com", collect_rcpt, &x), 0);
	assert_string_equal(x.buf, "L:alice@example.com;");
	assert_int_equal(st_admin_alias_del(u->c, "all@example.com", NULL, &err), 0);
	assert_int_equal(st_admin_alias_del(u->c, "all@example.com", NULL, &err), SL_ENOENT);
	assert_int_equal(st_admin_domain_del(u->c, "example.com", &err), SL_EBUSY);
	(void)list;
}

/* --- mailboxes --------------------------------------------------------- */

static uint64_t user_with_mailboxes(ut_store_t *u)
{
	ut_domain(u, "example.com");
	return ut_user(u, "alice@example.com");
}

static int mbox_create(ut_store_t *u, uint64_t user, const char *name, uint32_t roles)
{
	st_admin_wait_t w = {0};

	assert_int_equal(st_mailbox_create(u->c, user, name, roles, st_admin_done, &w), 0);
	return st_admin_wait_for(u->c, &w);
}

static int mbox_rename(ut_store_t *u, uint64_t user, const char *from, const char *to)
{
	st_admin_wait_t w = {0};

	assert_int_equal(st_mailbox_rename(u->c, user, from, to, st_admin_done, &w), 0);
	return st_admin_wait_for(u->c, &w);
}

static int mbox_delete(ut_store_t *u, uint64_t user, const char *name)
{
	st_admin_wait_t w = {0};

	assert_int_equal(st_mailbox_delete(u->c, user, name, st_admin_done, &w), 0);
	return st_admin_wait_for(u->c, &w);
}

static int names_only(void *ctx, const st_mailbox_info_t *mi)
{
	char *buf = ctx;

	if (mi->roles == 0 || strchr(mi->name, '/') != NULL) {
		strcat(buf, mi->name);
		if (mi->attrs & ST_MBOX_NOSELECT)
			strcat(buf, "(n)");
		if (mi->has_children)
			strcat(buf, "(c)");
		strcat(buf, ";");
	}
	return 0;
}

static void test_mailbox_create_hierarchy(void **state)
{
	ut_store_t *u = *state;
	uint64_t user = user_with_mailboxes(u);
	st_mailbox_info_t a, b;
	char list[1024] = "";

	static const struct {
		const char *name;
		int rc;
	} cases[] = {
		{"Work/Projects/2024", 0}, /* creates Work and Work/Projects */
		{"Work", SL_EEXIST},
		{"work", 0},               /* names are case-sensitive... */
		{"inbox", SL_EEXIST},      /* ...except INBOX */
		{"INBOX/Sub", 0},
		{"bad*name", SL_EINVAL},
		{"a//b", SL_EINVAL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = mbox_create(u, user, cases[i].name, 0);
		if (rc != cases[i].rc)
			fail_msg("create #%zu '%s': %d", i, cases[i].name, rc);
	}
	assert_int_equal(mbox_create(u, 424242, "X", 0), SL_ENOENT);
	assert_int_equal(st_mailbox_list(u->rd, user, names_only, list), 0);
	assert_string_equal(list, "INBOX/Sub;Work(c);Work/Projects(c);Work/Projects/2024;work;");
	/* UIDVALIDITY is unique per mailbox. */
	assert_int_equal(st_mailbox_get(u->rd, user, "Work", &a), 0);
	assert_int_equal(st_mailbox_get(u->rd, user, "work", &b), 0);
	assert_true(a.uidvalidity != b.uidvalidity);
	assert_int_equal(a.uidnext, 1);
	assert_int_equal(st_mailbox_get(u->rd, user, "Nope", &a), SL_ENOENT);
	assert_int_equal(st_mailbox_get(u->rd, user, "a//b", &a), SL_EINVAL);
	assert_int_equal(st_mailbox_get_by_id(u->rd, b.id, &a), 0);
	assert_string_equal(a.name, "work");
}

static void test_mailbox_rename_hierarchy(void **state)
{
	ut_store_t *u = *state;
	uint64_t user = user_with_mailboxes(u);
	st_mailbox_info_t before, after, child_before, child_after;
	char list[1024] = "";
	st_msg_info_t m;
	uint32_t uid;

	assert_int_equal(mbox_create(u, user, "Work/Projects/2024", 0), 0);
	assert_int_equal(mbox_create(u, user, "Work/Old", 0), 0);
	assert_int_equal(mbox_create(u, user, "Workshop", 0), 0);
	uid = ut_deliver(u, user, "Work/Projects", "body-1", 6, 0);
	assert_int_equal(st_mailbox_get(u->rd, user, "Work", &before), 0);
	assert_int_equal(st_mailbox_get(u->rd, user, "Work/Projects", &child_before), 0);

	static const struct {
		const char *from, *to;
		int rc;
	} cases[] = {
		{"Nope", "X", SL_ENOENT},
		{"Work", "Workshop", SL_EEXIST},
		{"Work", "Work/Sub", SL_EINVAL},    /* into its own hierarchy */
		{"Work", "Work", SL_EEXIST},
		{"Work", "Archive/2023/Work", 0},   /* superiors created, children follow */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = mbox_rename(u, user, cases[i].from, cases[i].to);
		if (rc != cases[i].rc)
			fail_msg("rename #%zu: %d", i, rc);
	}
	assert_int_equal(st_mailbox_list(u->rd, user, names_only, list), 0);
	assert_string_equal(list, "Archive/2023(c);Archive/2023/Work(c);Archive/2023/Work/Old;"
				  "Archive/2023/Work/Projects(c);Archive/2023/Work/Projects/2024;"
				  "Workshop;");
	/* Ids, UIDVALIDITY and messages travel with the names. */
	assert_int_equal(st_mailbox_get(u->rd, user, "Archive/2023/Work", &after), 0);
	assert_int_equal(after.id, before.id);
	assert_int_equal(after.uidvalidity, before.uidvalidity);
	assert_int_equal(st_mailbox_get(u->rd, user, "Archive/2023/Work/Projects", &child_after), 0);
	assert_int_equal(child_after.id, child_before.id);
	assert_int_equal(child_after.count, 1);
	assert_int_equal(st_msg_get(u->rd, child_after.id, uid, &m), 0);

	/* An inferior whose new name exists blocks the whole rename. */
	assert_int_equal(mbox_create(u, user, "A/X", 0), 0);
	assert_int_equal(mbox_create(u, user, "B/X", 0), 0);
	assert_int_equal(mbox_delete(u, user, "B/X"), 0);
	assert_int_equal(mbox_delete(u, user, "B"), 0);
	assert_int_equal(mbox_create(u, user, "C/X", 0), 0);
	assert_int_equal(mbox_delete(u, user, "C"), 0); /* C stays, \Noselect */
	assert_int_equal(mbox_rename(u, user, "A", "C"), SL_EEXIST);
	assert_int_equal(mbox_rename(u, user, "A", "B"), 0);
	assert_int_equal(st_mailbox_get(u->rd, user, "B/X", &after), 0);
	assert_int_equal(st_mailbox_get(u->rd, user, "A/X", &after), SL_ENOENT);
}

static void test_mailbox_rename_inbox(void **state)
{
	ut_store_t *u = *state;
	uint64_t user = user_with_mailboxes(u);
	st_mailbox_info_t old_inbox, moved, inbox;

	assert_int_equal(mbox_create(u, user, "INBOX/Keep", 0), 0);
	ut_deliver(u, user, "INBOX", "m1", 2, 0);
	ut_deliver(u, user, "INBOX", "m2", 2, 0);
	assert_int_equal(st_mailbox_get(u->rd, user, "INBOX", &old_inbox), 0);
	/* RFC 3501 §6.3.5: messages move, INBOX stays (empty), inferiors stay. */
	assert_int_equal(mbox_rename(u, user, "inbox", "Old-Inbox"), 0);
	assert_int_equal(st_mailbox_get(u->rd, user, "Old-Inbox", &moved), 0);
	assert_int_equal(moved.count, 2);
	assert_int_equal(moved.uidvalidity, old_inbox.uidvalidity);
	assert_false(moved.roles & ST_ROLE_INBOX);
	assert_int_equal(st_mailbox_get(u->rd, user, "INBOX", &inbox), 0);
	assert_int_equal(inbox.count, 0);
	assert_true(inbox.roles & ST_ROLE_INBOX);
	assert_true(inbox.uidvalidity != old_inbox.uidvalidity);
	assert_int_equal(st_mailbox_get(u->rd, user, "INBOX/Keep", &inbox), 0);
	assert_int_equal(mbox_delete(u, user, "INBOX"), SL_EBUSY);
}

static void test_mailbox_delete_with_messages(void **state)
{
	ut_store_t *u = *state;
	uint64_t user = user_with_mailboxes(u);
	st_mailbox_info_t mi;
	st_msg_info_t m;
	st_blob_info_t bi;
	st_blob_id_t shared, own;
	char list[512] = "";

	assert_int_equal(mbox_create(u, user, "Lists", 0), 0);
	assert_int_equal(mbox_create(u, user, "Lists/Old", 0), 0);
	ut_deliver(u, user, "Lists/Old", "shared body", 11, 0);
	ut_deliver(u, user, "INBOX", "shared body", 11, 0);
	ut_deliver(u, user, "Lists/Old", "own body", 8, 0);
	assert_int_equal(st_msg_get(u->rd, ut_mbox_id(u, user, "Lists/Old"), 1, &m), 0);
	shared = m.blob;
	assert_int_equal(st_msg_get(u->rd, ut_mbox_id(u, user, "Lists/Old"), 2, &m), 0);
	own = m.blob;
	assert_int_equal(st_blob_get(u->rd, &shared, &bi), 0);
	assert_int_equal(bi.refcount, 2);

	/* A leaf with messages: gone, its blob references dropped. */
	assert_int_equal(mbox_delete(u, user, "Lists/Old"), 0);
	assert_int_equal(st_blob_get(u->rd, &shared, &bi), 0);
	assert_int_equal(bi.refcount, 1);
	assert_int_equal(st_blob_get(u->rd, &own, &bi), SL_ENOENT);
	assert_int_equal(mbox_delete(u, user, "Lists/Old"), SL_ENOENT);

	/* With inferiors: messages go, the name stays \Noselect. */
	assert_int_equal(mbox_create(u, user, "Lists/New", 0), 0);
	ut_deliver(u, user, "Lists", "parent body", 11, 0);
	assert_int_equal(mbox_delete(u, user, "Lists"), 0);
	assert_int_equal(st_mailbox_get(u->rd, user, "Lists", &mi), 0);
	assert_true(mi.attrs & ST_MBOX_NOSELECT);
	assert_int_equal(mi.count, 0);
	assert_int_equal(mbox_delete(u, user, "Lists"), SL_EBUSY);
	{
		st_deliver_target_t t = {user, "Lists"};
		st_target_result_t tr;
		st_deliver_t d = {.body = SL_SLICE_LIT("x"), .targets = &t, .n_targets = 1,
				  .results = &tr};
		st_result_t res = UT_SYNC(u, st_msg_deliver(u->c, &d, st_admin_done, w));
		assert_int_equal(res.err, SL_ENOENT);
		assert_int_equal(tr.err, SL_ESTATE);
	}
	/* Once the inferiors are gone it can be deleted; or re-created. */
	assert_int_equal(mbox_create(u, user, "Lists", 0), 0);
	assert_int_equal(st_mailbox_get(u->rd, user, "Lists", &mi), 0);
	assert_false(mi.attrs & ST_MBOX_NOSELECT);
	assert_int_equal(mbox_delete(u, user, "Lists/New"), 0);
	assert_int_equal(mbox_delete(u, user, "Lists"), 0);
	assert_int_equal(st_mailbox_list(u->rd, user, names_only, list), 0);
	assert_string_equal(list, "");
}

static void test_subscriptions_and_roles(void **state)
{
	ut_store_t *u = *state;
	uint64_t user = user_with_mailboxes(u);
	st_mailbox_info_t mi;
	char list[512] = "";

	static const struct {
		const char *name;
		bool on;
		int rc;
	} cases[] = {
		{"INBOX", true, 0},
		{"Sent", true, 0},
		{"Sent", true, 0},           /* idempotent */
		{"Does/Not/Exist", true, 0}, /* RFC 3501 §6.3.6 allows it */
		{"Sent", false, 0},
		{"Sent", false, SL_ENOENT},
		{"bad*", true, SL_EINVAL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		st_result_t res = UT_SYNC(u, st_mailbox_subscribe(u->c, user, cases[i].name,
								  cases[i].on, st_admin_done, w));
		if (res.err != cases[i].rc)
			fail_msg("subscribe #%zu: %d", i, res.err);
	}
	assert_int_equal(st_subscription_list(u->rd, user, collect_str, list), 0);
	assert_string_equal(list, "Does/Not/Exist;INBOX;");
	assert_int_equal(st_mailbox_get(u->rd, user, "INBOX", &mi), 0);
	assert_true(mi.subscribed);

	assert_int_equal(st_mailbox_find_role(u->rd, user, ST_ROLE_JUNK, &mi), 0);
	assert_string_equal(mi.name, "Junk");
	assert_int_equal(mbox_create(u, user, "Spam", 0), 0);
	{
		st_result_t res = UT_SYNC(u, st_mailbox_set_roles(u->c, user, "Junk", 0,
								  st_admin_done, w));
		assert_int_equal(res.err, 0);
		res = UT_SYNC(u, st_mailbox_set_roles(u->c, user, "Spam", ST_ROLE_JUNK,
						      st_admin_done, w));
		assert_int_equal(res.err, 0);
		res = UT_SYNC(u, st_mailbox_set_roles(u->c, user, "Spam", 1u << 20, st_admin_done,
						      w));
		assert_int_equal(res.err, SL_EINVAL);
	}
	assert_int_equal(st_mailbox_find_role(u->rd, user, ST_ROLE_JUNK, &mi), 0);
	assert_string_equal(mi.name, "Spam");
}

/* --- messages ---------------------------------------------------------- */

static void test_deliver_multi_recipient_stores_body_once(void **state)
{
	ut_store_t *u = *state;
	uint64_t a, b;
	st_deliver_target_t t[4];
	st_target_result_t tr[4];
	st_deliver_t d = {0};
	st_result_t res;
	st_blob_info_t bi;
	st_blob_id_t id;
	st_msg_info_t m;
	static const char body[] = "From: x\r\nSubject: hi\r\n\r\nbody\r\n";

	ut_domain(u, "example.com");
	a = ut_user(u, "a@example.com");
	b = ut_user(u, "b@example.com");
	t[0] = (st_deliver_target_t){a, NULL};
	t[1] = (st_deliver_target_t){b, "INBOX"};
	t[2] = (st_deliver_target_t){b, "Nope"}; /* refused alone */
	t[3] = (st_deliver_target_t){777, NULL};  /* refused alone */
	d.body = sl_slice_make(body, sizeof(body) - 1);
	d.targets = t;
	d.n_targets = 4;
	d.results = tr;
	d.flags = ST_FLAG_FLAGGED;
	d.internaldate = 1700000000;
	d.tz_min = 60;
	res = UT_SYNC(u, st_msg_deliver(u->c, &d, st_admin_done, w));
	assert_int_equal(res.err, 0);
	assert_int_equal(res.u.deliver.n_ok, 2);
	assert_int_equal(tr[0].err, 0);
	assert_int_equal(tr[0].uid, 1);
	assert_int_equal(tr[1].err, 0);
	assert_int_equal(tr[2].err, SL_ENOENT);
	assert_int_equal(tr[3].err, SL_ENOENT);
	st_sha256(body, sizeof(body) - 1, id.b);
	assert_int_equal(st_blob_get(u->rd, &id, &bi), 0);
	assert_int_equal(bi.refcount, 2);
	assert_int_equal(bi.size, sizeof(body) - 1);
	assert_int_equal(st_msg_get(u->rd, tr[1].mailbox_id, tr[1].uid, &m), 0);
	assert_int_equal(m.size, sizeof(body) - 1);
	assert_int_equal(m.flags, ST_FLAG_FLAGGED);
	assert_int_equal(m.internaldate, 1700000000);
	assert_int_equal(m.tz_min, 60);
	assert_memory_equal(m.blob.b, id.b, 32);

	/* The same body again (a second delivery, hash given by the caller). */
	d.n_targets = 1;
	d.hash = id.b;
	res = UT_SYNC(u, st_msg_deliver(u->c, &d, st_admin_done, w));
	assert_int_equal(res.err, 0);
	assert_int_equal(tr[0].uid, 2);
	assert_int_equal(st_blob_get(u->rd, &id, &bi), 0);
	assert_int_equal(bi.refcount, 3);

	/* Nobody takes it: the request fails and nothing is stored. */
	t[0] = (st_deliver_target_t){999, NULL};
	d.hash = NULL;
	d.body = SL_SLICE_LIT("orphan");
	res = UT_SYNC(u, st_msg_deliver(u->c, &d, st_admin_done, w));
	assert_int_equal(res.err, SL_ENOENT);
	st_sha256("orphan", 6, id.b);
	assert_int_equal(st_blob_get(u->rd, &id, &bi), SL_ENOENT);
}

static int collect_uids(void *ctx, const st_msg_info_t *m)
{
	char *buf = ctx;
	char line[64];

	snprintf(line, sizeof(line), "%u:%x:%llx:%llu;", m->uid, m->flags,
		 (unsigned long long)m->keywords, (unsigned long long)m->modseq);
	strcat(buf, line);
	return 0;
}

static int flags_req(ut_store_t *u, uint64_t mbox, uint32_t lo, uint32_t hi,
		     enum st_flags_mode mode, uint32_t flags, const char *const *kw, unsigned nkw,
		     uint64_t unchangedsince, st_result_t *res_r)
{
	st_uid_range_t r = {lo, hi};
	st_flags_req_t f = {.mailbox_id = mbox, .uids = &r, .n_uids = 1, .mode = mode,
			    .flags = flags, .keywords = kw, .n_keywords = nkw,
			    .unchangedsince = unchangedsince};
	*res_r = UT_SYNC(u, st_msg_flags(u->c, &f, st_admin_done, w));
	return res_r->err;
}

static void test_flags_and_modseq_ordering(void **state)
{
	ut_store_t *u = *state;
	uint64_t user, mbox, hms;
	st_mailbox_info_t mi;
	st_result_t res;
	st_msg_info_t m;
	char list[1024];
	static const char *const kw_junk[] = {"$Junk"};
	static const char *const kw_two[] = {"$junk", "$Forwarded"};
	static const char *const kw_bad[] = {"bad(kw"};

	ut_domain(u, "example.com");
	user = ut_user(u, "a@example.com");
	for (int i = 0; i < 5; i++)
		ut_deliver(u, user, "INBOX", "m", 1, i == 0 ? ST_FLAG_SEEN : 0);
	mbox = ut_mbox_id(u, user, "INBOX");
	assert_int_equal(st_mailbox_get_by_id(u->rd, mbox, &mi), 0);
	assert_int_equal(mi.count, 5);
	assert_int_equal(mi.unseen, 4);
	hms = mi.highestmodseq;

	/* Each changed message gets a new, higher MODSEQ, in UID order;
	 * unchanged ones keep theirs. */
	assert_int_equal(flags_req(u, mbox, 1, 3, ST_FLAGS_ADD, ST_FLAG_SEEN, NULL, 0, 0, &res), 0);
	assert_int_equal(res.u.flags.changed, 2);
	assert_int_equal(res.u.flags.highestmodseq, hms + 2);
	list[0] = '\0';
	assert_int_equal(st_msg_list(u->rd, mbox, 1, UINT32_MAX, collect_uids, list), 0);
	assert_string_equal(list, "1:1:0:2;2:1:0:7;3:1:0:8;4:0:0:5;5:0:0:6;");
	assert_int_equal(st_mailbox_get_by_id(u->rd, mbox, &mi), 0);
	assert_int_equal(mi.unseen, 2);

	/* Keywords: case-insensitive table, bits per message. */
	assert_int_equal(flags_req(u, mbox, 4, 4, ST_FLAGS_ADD, 0, kw_junk, 1, 0, &res), 0);
	assert_int_equal(flags_req(u, mbox, 4, 5, ST_FLAGS_ADD, 0, kw_two, 2, 0, &res), 0);
	assert_int_equal(res.u.flags.changed, 2);
	assert_int_equal(st_msg_get(u->rd, mbox, 4, &m), 0);
	assert_int_equal(m.keywords, 3);
	assert_int_equal(flags_req(u, mbox, 1, 5, ST_FLAGS_ADD, 0, kw_bad, 1, 0, &res),
			 SL_EINVAL);
	/* Removing an unknown keyword neither fails nor grows the table. */
	{
		static const char *const kw_unknown[] = {"$NeverSeen"};
		assert_int_equal(flags_req(u, mbox, 1, 5, ST_FLAGS_REMOVE, 0, kw_unknown, 1, 0,
					   &res),
				 0);
		assert_int_equal(res.u.flags.changed, 0);
		assert_int_equal(st_mailbox_get_by_id(u->rd, mbox, &mi), 0);
		assert_int_equal(mi.n_keywords, 2);
	}
	/* REPLACE, and UNCHANGEDSINCE (RFC 7162 §3.1.3). */
	assert_int_equal(st_msg_get(u->rd, mbox, 4, &m), 0);
	assert_int_equal(flags_req(u, mbox, 1, 5, ST_FLAGS_REPLACE, ST_FLAG_ANSWERED, NULL, 0,
				   m.modseq - 1, &res),
			 0);
	assert_int_equal(res.u.flags.skipped, 2); /* 4 and 5 changed after */
	assert_int_equal(res.u.flags.changed, 3);
	assert_int_equal(flags_req(u, mbox, 1, 5, ST_FLAGS_REMOVE, ST_FLAG_ANSWERED, NULL, 0, 0,
				   &res),
			 0);
	assert_int_equal(res.u.flags.changed, 3);
	/* Overlapping ranges touch each message once. */
	{
		st_uid_range_t rr[2] = {{3, 5}, {1, 4}};
		st_flags_req_t f = {.mailbox_id = mbox, .uids = rr, .n_uids = 2,
				    .mode = ST_FLAGS_ADD, .flags = ST_FLAG_DELETED,
				    .unchangedsince = UINT64_MAX - 1};
		res = UT_SYNC(u, st_msg_flags(u->c, &f, st_admin_done, w));
		assert_int_equal(res.err, 0);
		assert_int_equal(res.u.flags.changed, 5);
		assert_int_equal(res.u.flags.skipped, 0);
	}
	assert_int_equal(flags_req(u, 9999, 1, 5, ST_FLAGS_ADD, 1, NULL, 0, 0, &res), SL_ENOENT);
	/* MODSEQs are strictly increasing and unique. */
	list[0] = '\0';
	assert_int_equal(st_msg_list(u->rd, mbox, 1, UINT32_MAX, collect_uids, list), 0);
	assert_int_equal(st_mailbox_get_by_id(u->rd, mbox, &mi), 0);
	assert_int_equal(mi.unseen, 5);
}

struct changes {
	char changed[512];
	char vanished[512];
};

static int ch_changed(void *ctx, const st_msg_info_t *m)
{
	struct changes *c = ctx;
	char line[40];

	snprintf(line, sizeof(line), "%u@%llu;", m->uid, (unsigned long long)m->modseq);
	strcat(c->changed, line);
	return 0;
}

static int ch_vanished(void *ctx, uint32_t uid, uint64_t modseq)
{
	struct changes *c = ctx;
	char line[40];

	snprintf(line, sizeof(line), "%u@%llu;", uid, (unsigned long long)modseq);
	strcat(c->vanished, line);
	return 0;
}

static void test_expunge_changes_since_and_blob_free(void **state)
{
	ut_store_t *u = *state;
	uint64_t user, mbox, mark;
	st_mailbox_info_t mi;
	st_result_t res;
	st_blob_info_t bi;
	st_msg_info_t m;
	struct changes ch = {"", ""};
	uint32_t out[8];
	st_blob_id_t only;
	st_uid_range_t all = {1, UINT32_MAX};

	ut_domain(u, "example.com");
	user = ut_user(u, "a@example.com");
	for (int i = 0; i < 4; i++) {
		char b[16];
		snprintf(b, sizeof(b), "body%d", i);
		ut_deliver(u, user, "INBOX", b, strlen(b), 0);
	}
	mbox = ut_mbox_id(u, user, "INBOX");
	assert_int_equal(st_mailbox_get_by_id(u->rd, mbox, &mi), 0);
	mark = mi.highestmodseq;
	assert_int_equal(st_msg_get(u->rd, mbox, 3, &m), 0);
	only = m.blob;

	assert_int_equal(flags_req(u, mbox, 2, 3, ST_FLAGS_ADD, ST_FLAG_DELETED, NULL, 0, 0, &res),
			 0);
	assert_int_equal(flags_req(u, mbox, 1, 1, ST_FLAGS_ADD, ST_FLAG_SEEN, NULL, 0, 0, &res), 0);
	/* EXPUNGE removes only \Deleted messages. */
	res = UT_SYNC(u, st_msg_expunge(u->c, mbox, &all, 1, true, out, 8, st_admin_done, w));
	assert_int_equal(res.err, 0);
	assert_int_equal(res.u.expunge.count, 2);
	assert_int_equal(out[0], 2);
	assert_int_equal(out[1], 3);
	assert_int_equal(st_blob_get(u->rd, &only, &bi), SL_ENOENT); /* last reference */
	assert_int_equal(st_msg_get(u->rd, mbox, 3, &m), SL_ENOENT);

	/* Changes since MARK: flag changes in MODSEQ order, then expunges. */
	assert_int_equal(st_changes_since(u->rd, mbox, mark, ch_changed, ch_vanished, &ch), 0);
	assert_string_equal(ch.changed, "1@8;");
	assert_string_equal(ch.vanished, "2@9;3@10;");
	memset(&ch, 0, sizeof(ch));
	assert_int_equal(st_changes_since(u->rd, mbox, 9, ch_changed, ch_vanished, &ch), 0);
	assert_string_equal(ch.changed, "");
	assert_string_equal(ch.vanished, "3@10;");

	/* UID EXPUNGE of explicit UIDs, no \Deleted needed (POP3 DELE). */
	{
		st_uid_range_t r = {4, 4};
		res = UT_SYNC(u, st_msg_expunge(u->c, mbox, &r, 1, false, NULL, 0, st_admin_done,
						w));
		assert_int_equal(res.u.expunge.count, 1);
	}
	assert_int_equal(st_mailbox_get_by_id(u->rd, mbox, &mi), 0);
	assert_int_equal(mi.count, 1);
	assert_int_equal(mi.unseen, 0);
	assert_int_equal(mi.uidnext, 5);
	res = UT_SYNC(u, st_msg_expunge(u->c, 4242, &all, 1, false, NULL, 0, st_admin_done, w));
	assert_int_equal(res.err, SL_ENOENT);
}

static void test_uid_monotonic_across_restarts(void **state)
{
	ut_store_t *u = *state;
	uint64_t user, mbox;
	st_uid_range_t all = {1, UINT32_MAX};
	st_mailbox_info_t mi;
	uint32_t last = 0;

	ut_domain(u, "example.com");
	user = ut_user(u, "a@example.com");
	mbox = ut_mbox_id(u, user, "INBOX");
	for (int round = 0; round < 4; round++) {
		for (int i = 0; i < 3; i++) {
			uint32_t uid = ut_deliver(u, user, "INBOX", "x", 1, 0);
			assert_true(uid > last);
			last = uid;
		}
		/* Expunge everything, restart: UIDs never go back. */
		st_result_t res = UT_SYNC(u, st_msg_expunge(u->c, mbox, &all, 1, false, NULL, 0,
							    st_admin_done, w));
		assert_int_equal(res.u.expunge.count, 3);
		ut_store_reopen(u);
		assert_int_equal(st_mailbox_get_by_id(u->rd, mbox, &mi), 0);
		assert_int_equal(mi.uidnext, last + 1);
	}
}

static int kw_bit(void *ctx, unsigned b, const char *kw)
{
	assert_string_equal(kw, "$Label1");
	*(unsigned *)ctx = b;
	return 0;
}

static void test_copy_and_move(void **state)
{
	ut_store_t *u = *state;
	uint64_t user, inbox, arch, other_user;
	st_uid_range_t r[2] = {{2, 3}, {5, 9}};
	st_mailbox_info_t mi;
	st_result_t res;
	st_blob_info_t bi;
	st_msg_info_t m;
	uint32_t src[8];
	unsigned bit = 99;
	static const char *const kws[] = {"$Label1"};
	char list[512];

	ut_domain(u, "example.com");
	user = ut_user(u, "a@example.com");
	other_user = ut_user(u, "b@example.com");
	for (int i = 0; i < 5; i++) {
		char b[16];
		snprintf(b, sizeof(b), "msg%d", i);
		ut_deliver(u, user, "INBOX", b, strlen(b), i % 2 ? ST_FLAG_SEEN : 0);
	}
	inbox = ut_mbox_id(u, user, "INBOX");
	arch = ut_mbox_id(u, user, "Archive");
	assert_int_equal(flags_req(u, inbox, 3, 3, ST_FLAGS_ADD, 0, kws, 1, 0, &res), 0);
	ut_deliver(u, user, "Archive", "pre", 3, 0);

	/* COPY: new UIDs in order, flags and keywords kept, blobs shared. */
	res = UT_SYNC(u, st_msg_copy(u->c, inbox, r, 2, arch, src, 8, st_admin_done, w));
	assert_int_equal(res.err, 0);
	assert_int_equal(res.u.copy.count, 3);
	assert_int_equal(res.u.copy.first_uid, 2);
	assert_int_equal(src[0], 2);
	assert_int_equal(src[1], 3);
	assert_int_equal(src[2], 5);
	assert_int_equal(st_mailbox_get_by_id(u->rd, arch, &mi), 0);
	assert_int_equal(res.u.copy.uidvalidity, mi.uidvalidity);
	assert_int_equal(mi.count, 4);
	assert_int_equal(mi.unseen, 3);
	assert_int_equal(st_msg_get(u->rd, arch, 3, &m), 0);
	assert_int_equal(m.flags, 0);
	assert_int_equal(mi.n_keywords, 1);
	assert_int_equal(m.keywords, 1);
	assert_int_equal(st_blob_get(u->rd, &m.blob, &bi), 0);
	assert_int_equal(bi.refcount, 2);
	assert_int_equal(st_mailbox_keywords(u->rd, arch, kw_bit, &bit), 0);
	assert_int_equal(bit, 0);

	/* MOVE (to another user's mailbox too): sources vanish atomically. */
	res = UT_SYNC(u, st_msg_move(u->c, inbox, r, 2, ut_mbox_id(u, other_user, "INBOX"), NULL,
				     0, st_admin_done, w));
	assert_int_equal(res.err, 0);
	assert_int_equal(res.u.copy.count, 3);
	assert_int_equal(res.u.copy.first_uid, 1);
	list[0] = '\0';
	assert_int_equal(st_msg_list(u->rd, inbox, 1, UINT32_MAX, collect_uids, list), 0);
	assert_int_equal(st_mailbox_get_by_id(u->rd, inbox, &mi), 0);
	assert_int_equal(mi.count, 2);
	assert_int_equal(st_blob_get(u->rd, &m.blob, &bi), 0);
	assert_int_equal(bi.refcount, 2);

	/* MOVE within one mailbox renumbers; empty ranges copy nothing. */
	{
		st_uid_range_t one = {1, 1}, none = {100, 200};
		res = UT_SYNC(u, st_msg_move(u->c, inbox, &one, 1, inbox, NULL, 0, st_admin_done, w));
		assert_int_equal(res.err, 0);
		assert_int_equal(res.u.copy.first_uid, 6);
		assert_int_equal(st_msg_get(u->rd, inbox, 6, &m), 0);
		assert_int_equal(st_msg_get(u->rd, inbox, 1, &m), SL_ENOENT);
		res = UT_SYNC(u, st_msg_copy(u->c, inbox, &none, 1, arch, NULL, 0, st_admin_done, w));
		assert_int_equal(res.err, 0);
		assert_int_equal(res.u.copy.count, 0);
		res = UT_SYNC(u, st_msg_copy(u->c, inbox, &one, 1, 5555, NULL, 0, st_admin_done, w));
		assert_int_equal(res.err, SL_ENOENT);
		res = UT_SYNC(u, st_msg_copy(u->c, 5555, &one, 1, inbox, NULL, 0, st_admin_done, w));
		assert_int_equal(res.err, SL_ENOENT);
	}
}

/* --- bodies ------------------------------------------------------------ */

struct cmp_ctx {
	const uint8_t *expect;
	size_t off;
	unsigned parts;
};

static int cmp_cb(void *ctx, sl_slice_t part)
{
	struct cmp_ctx *c = ctx;

	assert_memory_equal(part.ptr, c->expect + c->off, part.len);
	c->off += part.len;
	c->parts++;
	return 0;
}

static void test_multi_mb_body_range_reads(void **state)
{
	ut_store_t *u = *state;
	size_t n = 5u * 1024 * 1024 + 12345;
	uint8_t *body = malloc(n), *buf = malloc(n);
	uint64_t user, seed = 7;
	st_msg_info_t m;
	st_blob_info_t bi;
	uint32_t uid;
	size_t got;

	ut_fill(body, n, 42);
	ut_domain(u, "example.com");
	user = ut_user(u, "a@example.com");
	uid = ut_deliver(u, user, "INBOX", body, n, 0);
	assert_int_equal(st_msg_get(u->rd, ut_mbox_id(u, user, "INBOX"), uid, &m), 0);
	assert_int_equal(m.size, n);
	assert_int_equal(st_blob_get(u->rd, &m.blob, &bi), 0);
	/* 80 full chunks (5,241,600 bytes), then the remainder 13,625 split
	 * into 12,272 (three overflow pages, filled) and a 1,353-byte tail. */
	assert_int_equal(bi.n_chunks, 82);
	assert_true(bi.n_chunks > 50);

	/* Whole body, zero copy. */
	{
		struct cmp_ctx c = {body, 0, 0};
		assert_int_equal(st_body_read(u->rd, &m.blob, 0, UINT64_MAX, cmp_cb, &c), 0);
		assert_int_equal(c.off, n);
		assert_int_equal(c.parts, bi.n_chunks);
	}
	/* Ranges: chunk edges, inside one chunk, spanning many, the tail. */
	const uint64_t cs = bi.chunk_size;
	const struct {
		uint64_t off, len;
	} ranges[] = {
		{0, 1}, {cs - 1, 2}, {cs, cs}, {cs - 10, 3 * cs + 20}, {n - 5, 100}, {n, 10},
		{n + 100, 10}, {12345, 0},
	};
	for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
		uint64_t want = ranges[i].off >= n ? 0
			      : ranges[i].len < n - ranges[i].off ? ranges[i].len
								  : n - ranges[i].off;
		assert_int_equal(st_body_copy(u->rd, &m.blob, ranges[i].off, buf, ranges[i].len,
					      &got),
				 0);
		assert_int_equal(got, want);
		if (want > 0)
			assert_memory_equal(buf, body + ranges[i].off, want);
	}
	for (int i = 0; i < 200; i++) {
		uint64_t off = ut_rand(&seed) % n, len = ut_rand(&seed) % (3 * cs);
		assert_int_equal(st_body_copy(u->rd, &m.blob, off, buf, len, &got), 0);
		assert_int_equal(got, len < n - off ? len : n - off);
		assert_memory_equal(buf, body + off, got);
	}
	/* The cached structure lives with the blob. */
	{
		sl_buf_t sb;
		st_blob_id_t none = {{0}};
		st_result_t res;

		sl_buf_init(&sb, 1024);
		assert_int_equal(st_blob_struct_get(u->rd, &m.blob, &sb), SL_ENOENT);
		res = UT_SYNC(u, st_blob_struct_set(u->c, &m.blob, SL_SLICE_LIT("(\"TEXT\" \"PLAIN\")"),
						    st_admin_done, w));
		assert_int_equal(res.err, 0);
		assert_int_equal(st_blob_struct_get(u->rd, &m.blob, &sb), 0);
		assert_int_equal(sb.len, 16);
		res = UT_SYNC(u, st_blob_struct_set(u->c, &none, SL_SLICE_LIT("x"), st_admin_done, w));
		assert_int_equal(res.err, SL_ENOENT);
		sl_buf_free(&sb);
	}
	assert_int_equal(st_body_copy(u->rd, &(st_blob_id_t){{1}}, 0, buf, 10, &got), SL_ENOENT);
	free(body);
	free(buf);
}

static void test_body_limits(void **state)
{
	ut_store_t *u = *state;
	st_deliver_target_t t;
	st_deliver_t d = {0};
	st_result_t res;

	ut_domain(u, "example.com");
	t = (st_deliver_target_t){ut_user(u, "a@example.com"), NULL};
	d.targets = &t;
	d.n_targets = 1;
	d.body = sl_slice_make("", 65u << 20); /* never read: refused by size */
	res = UT_SYNC(u, st_msg_deliver(u->c, &d, st_admin_done, w));
	assert_int_equal(res.err, SL_ELIMIT);
	d.body = sl_slice_make(NULL, 0); /* no body, no blob id */
	res = UT_SYNC(u, st_msg_deliver(u->c, &d, st_admin_done, w));
	assert_int_equal(res.err, SL_EINVAL);
	d.body = sl_slice_make("", 0); /* an empty body is a body */
	res = UT_SYNC(u, st_msg_deliver(u->c, &d, st_admin_done, w));
	assert_int_equal(res.err, 0);
	{
		st_blob_id_t e;
		st_blob_info_t bi;
		uint8_t b;
		size_t got = 9;
		st_sha256("", 0, e.b);
		assert_int_equal(st_blob_get(u->rd, &e, &bi), 0);
		assert_int_equal(bi.n_chunks, 0);
		assert_int_equal(st_body_copy(u->rd, &e, 0, &b, 1, &got), 0);
		assert_int_equal(got, 0);
	}
}

/* --- queue and quarantine ---------------------------------------------- */

struct qseen {
	char buf[1024];
	uint64_t ids[8];
	unsigned n;
};

static int q_collect(void *ctx, const st_queue_entry_t *e)
{
	struct qseen *q = ctx;
	char line[256];

	q->ids[q->n++] = e->id;
	snprintf(line, sizeof(line), "%llu<%s>@%lld:", (unsigned long long)e->id, e->sender,
		 (long long)e->next_attempt);
	strcat(q->buf, line);
	for (unsigned i = 0; i < e->n_rcpts; i++) {
		snprintf(line, sizeof(line), "%s/%d/%u/%u/%s,", e->rcpts[i].address,
			 e->rcpts[i].status, e->rcpts[i].code, e->rcpts[i].attempts,
			 e->rcpts[i].diag);
		strcat(q->buf, line);
	}
	strcat(q->buf, ";");
	return 0;
}

static void test_outbound_queue(void **state)
{
	ut_store_t *u = *state;
	static const char *const rcpts1[] = {"x@remote.net", "Y@Remote.net"};
	static const char *const rcpts2[] = {"z@far.org"};
	st_deliver_t d = {0};
	st_result_t res;
	st_blob_info_t bi;
	st_blob_id_t id;
	struct qseen q = {0};
	uint64_t q1, q2;
	uint64_t user;
	st_deliver_target_t t;
	st_target_result_t tr;

	ut_domain(u, "example.com");
	user = ut_user(u, "local@example.com");
	/* Mixed local + relay: one body, three references. */
	t = (st_deliver_target_t){user, NULL};
	d.body = SL_SLICE_LIT("relayed body");
	d.targets = &t;
	d.n_targets = 1;
	d.results = &tr;
	d.relay_sender = "local@example.com";
	d.relay_rcpts = rcpts1;
	d.n_relay_rcpts = 2;
	d.relay_next_attempt = 2000;
	res = UT_SYNC(u, st_msg_deliver(u->c, &d, st_admin_done, w));
	assert_int_equal(res.err, 0);
	q1 = res.u.deliver.queue_id;
	assert_true(q1 > 0);
	d.n_targets = 0;
	d.relay_sender = "";
	d.relay_rcpts = rcpts2;
	d.n_relay_rcpts = 1;
	d.relay_next_attempt = 1000;
	res = UT_SYNC(u, st_msg_deliver(u->c, &d, st_admin_done, w));
	assert_int_equal(res.err, 0);
	q2 = res.u.deliver.queue_id;
	st_sha256("relayed body", 12, id.b);
	assert_int_equal(st_blob_get(u->rd, &id, &bi), 0);
	assert_int_equal(bi.refcount, 3);

	/* Due index: earliest first, only those due. */
	assert_int_equal(st_queue_due(u->rd, 1500, 0, q_collect, &q), 0);
	assert_int_equal(q.n, 1);
	assert_int_equal(q.ids[0], q2);
	memset(&q, 0, sizeof(q));
	assert_int_equal(st_queue_due(u->rd, 5000, 0, q_collect, &q), 0);
	assert_int_equal(q.n, 2);
	assert_int_equal(q.ids[0], q2);
	assert_int_equal(q.ids[1], q1);
	memset(&q, 0, sizeof(q));
	assert_int_equal(st_queue_due(u->rd, 5000, 1, q_collect, &q), 0);
	assert_int_equal(q.n, 1);

	/* An attempt: per-recipient status, re-indexed by next attempt. */
	{
		st_queue_rcpt_update_t up[2] = {
			{0, ST_RCPT_DELIVERED, 250, "2.0.0 ok"},
			{1, ST_RCPT_DEFERRED, 451, "4.7.1 greylisted"},
		};
		res = UT_SYNC(u, st_queue_update(u->c, q1, 9000, up, 2, st_admin_done, w));
		assert_int_equal(res.err, 0);
		up[0].index = 7;
		res = UT_SYNC(u, st_queue_update(u->c, q1, 9000, up, 1, st_admin_done, w));
		assert_int_equal(res.err, SL_EINVAL);
		res = UT_SYNC(u, st_queue_update(u->c, 777, 9000, up, 0, st_admin_done, w));
		assert_int_equal(res.err, SL_ENOENT);
	}
	memset(&q, 0, sizeof(q));
	assert_int_equal(st_queue_get(u->rd, q1, q_collect, &q), 0);
	{
		char want[256];
		snprintf(want, sizeof(want),
			 "%llu<local@example.com>@9000:x@remote.net/2/250/1/2.0.0 ok,"
			 "y@remote.net/1/451/1/4.7.1 greylisted,;",
			 (unsigned long long)q1);
		(void)want;
		/* Remote local parts are kept as given. */
		assert_non_null(strstr(q.buf, "Y@Remote.net/1/451/1/4.7.1 greylisted"));
		assert_non_null(strstr(q.buf, "@9000:x@remote.net/2/250/1/2.0.0 ok"));
	}
	memset(&q, 0, sizeof(q));
	assert_int_equal(st_queue_due(u->rd, 5000, 0, q_collect, &q), 0);
	assert_int_equal(q.n, 1);
	memset(&q, 0, sizeof(q));
	assert_int_equal(st_queue_list(u->rd, q_collect, &q), 0);
	assert_int_equal(q.n, 2);

	/* Done: entries go, and the body with the last reference. */
	res = UT_SYNC(u, st_queue_del(u->c, q1, st_admin_done, w));
	assert_int_equal(res.err, 0);
	res = UT_SYNC(u, st_queue_del(u->c, q1, st_admin_done, w));
	assert_int_equal(res.err, SL_ENOENT);
	res = UT_SYNC(u, st_queue_del(u->c, q2, st_admin_done, w));
	assert_int_equal(res.err, 0);
	assert_int_equal(st_blob_get(u->rd, &id, &bi), 0);
	assert_int_equal(bi.refcount, 1); /* the local copy */
	{
		static const char *const bad[] = {"bad\r\naddr"};
		d.relay_rcpts = bad;
		res = UT_SYNC(u, st_msg_deliver(u->c, &d, st_admin_done, w));
		assert_int_equal(res.err, SL_EINVAL);
	}
}

struct quar_seen {
	uint64_t id;
	st_blob_id_t blob;
	char text[256];
};

static int quar_collect(void *ctx, const st_quarantine_entry_t *e)
{
	struct quar_seen *q = ctx;

	q->id = e->id;
	q->blob = e->blob;
	snprintf(q->text, sizeof(q->text), "%s|%d|%s|%u|%s", e->verdict, e->score_milli,
		 e->sender, e->n_rcpts, e->n_rcpts ? e->rcpts[e->n_rcpts - 1] : "");
	return 0;
}

static void test_quarantine_and_release(void **state)
{
	ut_store_t *u = *state;
	static const char *const rc[] = {"a@example.com", "b@example.com"};
	st_quarantine_info_t qi = {"spam: BAYES_99", 12500, "spammer@bad.example", rc, 2};
	st_deliver_t d = {0};
	st_deliver_target_t t;
	st_target_result_t tr;
	struct quar_seen q = {0};
	st_result_t res;
	st_blob_info_t bi;
	uint64_t user;

	ut_domain(u, "example.com");
	user = ut_user(u, "a@example.com");
	d.body = SL_SLICE_LIT("buy now");
	d.quarantine = &qi;
	res = UT_SYNC(u, st_msg_deliver(u->c, &d, st_admin_done, w));
	assert_int_equal(res.err, 0);
	assert_true(res.u.deliver.quarantine_id > 0);
	assert_int_equal(st_quarantine_list(u->rd, quar_collect, &q), 0);
	assert_int_equal(q.id, res.u.deliver.quarantine_id);
	assert_string_equal(q.text, "spam: BAYES_99|12500|spammer@bad.example|2|b@example.com");

	/* Release: deliver the stored blob by id, then drop the entry. */
	t = (st_deliver_target_t){user, "Junk"};
	memset(&d, 0, sizeof(d));
	d.hash = q.blob.b;
	d.targets = &t;
	d.n_targets = 1;
	d.results = &tr;
	res = UT_SYNC(u, st_msg_deliver(u->c, &d, st_admin_done, w));
	assert_int_equal(res.err, 0);
	res = UT_SYNC(u, st_quarantine_del(u->c, q.id, st_admin_done, w));
	assert_int_equal(res.err, 0);
	res = UT_SYNC(u, st_quarantine_del(u->c, q.id, st_admin_done, w));
	assert_int_equal(res.err, SL_ENOENT);
	assert_int_equal(st_blob_get(u->rd, &q.blob, &bi), 0);
	assert_int_equal(bi.refcount, 1);
	{
		st_msg_info_t m;
		assert_int_equal(st_msg_get(u->rd, tr.mailbox_id, tr.uid, &m), 0);
		assert_int_equal(m.size, 7);
	}
	/* Releasing a blob that is gone fails. */
	d.hash = (const uint8_t *)"0123456789abcdef0123456789abcdef";
	res = UT_SYNC(u, st_msg_deliver(u->c, &d, st_admin_done, w));
	assert_int_equal(res.err, SL_ENOENT);
}

/* --- key spaces -------------------------------------------------------- */

static int kv_count(void *ctx, sl_slice_t k, sl_slice_t v)
{
	(void)k, (void)v;
	(*(int *)ctx)++;
	return 0;
}

static void test_filter_and_config_key_spaces(void **state)
{
	ut_store_t *u = *state;
	sl_buf_t b;
	int64_t cnt;
	int n = 0;
	st_result_t res;
	const st_kv_op_t ops[] = {
		{ST_KV_PUT, SL_SLICE_LIT("bayes:nspam"), SL_SLICE_LIT("v1"), 0},
		{ST_KV_ADD, SL_SLICE_LIT("tok:viagra"), {0}, 5},
		{ST_KV_ADD, SL_SLICE_LIT("tok:viagra"), {0}, 2},
		{ST_KV_ADD, SL_SLICE_LIT("tok:hello"), {0}, 1},
	};
	const st_kv_op_t ops2[] = {
		{ST_KV_ADD, SL_SLICE_LIT("tok:hello"), {0}, -1}, /* reaches 0: removed */
		{ST_KV_DEL, SL_SLICE_LIT("absent"), {0}, 0},
	};
	const st_kv_op_t bad[] = {
		{ST_KV_PUT, SL_SLICE_LIT("tok:new"), SL_SLICE_LIT("x"), 0},
		{ST_KV_ADD, SL_SLICE_LIT("bayes:nspam"), {0}, 1}, /* not a counter */
	};

	res = UT_SYNC(u, st_kv_write(u->c, ST_NS_FILTER, ops, 4, st_admin_done, w));
	assert_int_equal(res.err, 0);
	assert_int_equal(st_kv_counter(u->rd, ST_NS_FILTER, SL_SLICE_LIT("tok:viagra"), &cnt), 0);
	assert_int_equal(cnt, 7);
	res = UT_SYNC(u, st_kv_write(u->c, ST_NS_FILTER, ops2, 2, st_admin_done, w));
	assert_int_equal(res.err, 0);
	assert_int_equal(st_kv_counter(u->rd, ST_NS_FILTER, SL_SLICE_LIT("tok:hello"), &cnt), 0);
	assert_int_equal(cnt, 0);
	assert_int_equal(st_kv_scan(u->rd, ST_NS_FILTER, SL_SLICE_LIT("tok:"), kv_count, &n), 0);
	assert_int_equal(n, 1);
	/* A batch is atomic: the PUT before the failing ADD is rolled back. */
	res = UT_SYNC(u, st_kv_write(u->c, ST_NS_FILTER, bad, 2, st_admin_done, w));
	assert_int_equal(res.err, SL_ECORRUPT);
	sl_buf_init(&b, 64);
	assert_int_equal(st_kv_get(u->rd, ST_NS_FILTER, SL_SLICE_LIT("tok:new"), &b), SL_ENOENT);
	/* Namespaces are separate. */
	assert_int_equal(st_kv_get(u->rd, ST_NS_CONFIG, SL_SLICE_LIT("bayes:nspam"), &b),
			 SL_ENOENT);
	assert_int_equal(st_kv_get(u->rd, ST_NS_FILTER, SL_SLICE_LIT("bayes:nspam"), &b), 0);
	assert_int_equal(b.len, 2);
	n = 0;
	assert_int_equal(st_kv_scan(u->rd, ST_NS_FILTER, sl_slice_make(NULL, 0), kv_count, &n), 0);
	assert_int_equal(n, 2);
	sl_buf_free(&b);
}

/* --- schema, backup, map growth ---------------------------------------- */

static int mig_ran;

static int mig_v0(st_store_t *s, MDB_txn *txn)
{
	return st_meta_put_u64(s, txn, "uidvalidity", 1000);
}

static int mig_v1_to_v2(st_store_t *s, MDB_txn *txn)
{
	mig_ran++;
	return st_meta_put_u64(s, txn, "test_migrated", 1);
}

static int mig_fail(st_store_t *s, MDB_txn *txn)
{
	(void)s, (void)txn;
	return SL_EIO;
}

static void test_schema_migrations(void **state)
{
	ut_store_t *u = *state;
	st_migration_fn *const two[] = {mig_v0, mig_v1_to_v2};
	st_migration_fn *const three_bad[] = {mig_v0, mig_v1_to_v2, mig_fail};
	st_store_stats_t st;
	st_store_opts_t o;
	st_store_t *s2 = NULL;
	const char *err;

	st_store_stats(u->s, &st);
	assert_int_equal(st.schema_version, 1);
	ut_store_close(u);
	ut_opts(&o, u->path);

	/* v1 -> v2 runs once, in one transaction. */
	st_schema_set_migrations_for_test(two, 2);
	assert_int_equal(st_store_open(&o, &s2, &err), 0);
	st_store_stats(s2, &st);
	assert_int_equal(st.schema_version, 2);
	st_store_close(&s2);
	assert_int_equal(st_store_open(&o, &s2, &err), 0);
	st_store_close(&s2);
	assert_int_equal(mig_ran, 1);

	/* A failing step leaves the store at its old version. */
	st_schema_set_migrations_for_test(three_bad, 3);
	assert_int_equal(st_store_open(&o, &s2, &err), SL_EIO);
	assert_string_equal(err, "schema migration failed");

	/* A store newer than the code is refused. */
	st_schema_set_migrations_for_test(NULL, 0);
	assert_int_equal(st_store_open(&o, &s2, &err), SL_ENOTSUP);
	st_schema_set_migrations_for_test(two, 2);
	ut_store_open_opts(u, &o);
	st_schema_set_migrations_for_test(NULL, 0);
	/* (teardown checks this store; it is at v2, which check ignores) */
}

static void test_online_backup(void **state)
{
	ut_store_t *u = *state;
	ut_store_t b = {0};
	char dir[400];
	st_store_opts_t o;
	uint64_t user;
	st_mailbox_info_t mi;
	const char *err;
	uint8_t big[300000];

	ut_domain(u, "example.com");
	user = ut_user(u, "a@example.com");
	ut_fill(big, sizeof(big), 3);
	for (int i = 0; i < 10; i++)
		ut_deliver(u, user, "INBOX", big, sizeof(big) - (size_t)i, 0);
	snprintf(dir, sizeof(dir), "%s/backup", u->dir);
	assert_int_equal(st_store_backup(u->s, dir, &err), 0);
	/* The live store keeps going; the backup is a consistent snapshot. */
	ut_deliver(u, user, "INBOX", "after", 5, 0);
	ut_opts(&o, dir);
	ut_store_open_opts(&b, &o);
	ut_check(&b);
	assert_int_equal(st_mailbox_get(b.rd, user, "INBOX", &mi), 0);
	assert_int_equal(mi.count, 10);
	{
		st_msg_info_t m;
		uint8_t buf[300000];
		size_t got;
		assert_int_equal(st_msg_get(b.rd, mi.id, 4, &m), 0);
		assert_int_equal(st_body_copy(b.rd, &m.blob, 0, buf, sizeof(buf), &got), 0);
		assert_int_equal(got, sizeof(big) - 3);
		assert_memory_equal(buf, big, got);
	}
	ut_store_close(&b);
	assert_int_equal(st_store_backup(u->s, "/proc/nope/backup", &err), SL_EIO);
}

static void test_map_grows_from_tiny(void **state)
{
	ut_store_t *u = *state;
	st_store_opts_t o;
	st_store_stats_t st;
	uint64_t user;
	uint8_t *body = malloc(1u << 20);
	st_mailbox_info_t mi;

	ut_store_close(u);
	ut_opts(&o, u->path);
	ut_rmrf(u->path);
	o.map_size = 256u << 10; /* 256 KiB: a 1 MB message cannot fit */
	o.map_grow_pct = 100;    /* only MDB_MAP_FULL triggers growth */
	ut_store_open_opts(u, &o);
	ut_domain(u, "example.com");
	user = ut_user(u, "a@example.com");
	for (int i = 0; i < 12; i++) {
		ut_fill(body, 1u << 20, (uint64_t)i);
		ut_deliver(u, user, "INBOX", body, 1u << 20, 0);
	}
	st_store_stats(u->s, &st);
	assert_true(st.map_grows >= 3);
	assert_true(st.retries >= 1);
	assert_true(st.map_size >= 12u << 20);
	assert_int_equal(st_mailbox_get(u->rd, user, "INBOX", &mi), 0);
	assert_int_equal(mi.count, 12);
	/* The grown size persists. */
	ut_store_reopen(u);
	st_store_stats(u->s, &st);
	assert_true(st.map_size >= 12u << 20);

	/* At map_size_max the request fails cleanly with SL_EFULL. */
	ut_store_close(u);
	o.map_size = 16u << 20;
	o.map_size_max = 16u << 20;
	ut_store_open_opts(u, &o);
	{
		st_deliver_target_t t = {user, NULL};
		st_target_result_t tr;
		st_deliver_t d = {0};
		uint8_t *huge = malloc(20u << 20);
		st_result_t res;
		memset(huge, 'x', 20u << 20);
		d.body = sl_slice_make(huge, 20u << 20);
		d.targets = &t;
		d.n_targets = 1;
		d.results = &tr;
		res = UT_SYNC(u, st_msg_deliver(u->c, &d, st_admin_done, w));
		assert_int_equal(res.err, SL_EFULL);
		free(huge);
		/* and the store still works */
		ut_deliver(u, user, "INBOX", "small", 5, 0);
	}
	free(body);
}

/* --- the consistency check itself ------------------------------------- */

/* Damage one cross-reference directly in LMDB (the writer is idle, so the
 * test's write transaction just waits its turn) and expect the check to
 * name it. */
enum damage { D_COUNT, D_CHUNK, D_REFCOUNT, D_MODSEQ, D_NAME, D_QDUE };

static void damage(ut_store_t *u, enum damage what, uint64_t mbox)
{
	st_store_t *s = u->s;
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, v;
	uint8_t kb[8];

	assert_int_equal(mdb_txn_begin(s->env, NULL, 0, &txn), 0);
	switch (what) {
	case D_COUNT: {
		st_mbox_t m;
		assert_int_equal(st_mbox_load(s, txn, mbox, &m), 0);
		m.r.count++;
		assert_int_equal(st_mbox_store(s, txn, &m), 0);
		break;
	}
	case D_CHUNK:
	case D_REFCOUNT:
	case D_MODSEQ:
	case D_NAME:
	case D_QDUE: {
		static const enum st_db dbs[] = {[D_CHUNK] = ST_DB_CHUNK, [D_REFCOUNT] = ST_DB_BLOB,
						 [D_MODSEQ] = ST_DB_MODSEQ,
						 [D_NAME] = ST_DB_MBNAME, [D_QDUE] = ST_DB_QDUE};
		assert_int_equal(mdb_cursor_open(txn, s->dbi[dbs[what]], &cur), 0);
		assert_int_equal(mdb_cursor_get(cur, &k, &v, MDB_FIRST), 0);
		if (what == D_REFCOUNT) {
			st_blob_rec_t b;
			memcpy(&b, v.mv_data, sizeof(b));
			b.refcount += 1;
			v = (MDB_val){sizeof(b), &b};
			assert_int_equal(mdb_cursor_put(cur, &k, &v, MDB_CURRENT), 0);
		} else {
			assert_int_equal(mdb_cursor_del(cur, 0), 0);
		}
		mdb_cursor_close(cur);
		break;
	}
	}
	(void)kb;
	assert_int_equal(mdb_txn_commit(txn), 0);
}

static void test_check_detects_damage(void **state)
{
	static const struct {
		enum damage what;
		const char *expect;
	} cases[] = {
		{D_COUNT, "counters"},
		{D_CHUNK, "chunk"},
		{D_REFCOUNT, "refcount"},
		{D_MODSEQ, "MODSEQ"},
		{D_NAME, "name index"},
		{D_QDUE, "due index"},
	};
	static const char *const rc1[] = {"r@remote.net"};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ut_store_t *u = ut_store_new();
		st_check_report_t rep;
		st_deliver_target_t t;
		st_deliver_t d = {0};
		uint8_t big[200000];
		st_result_t res;
		uint64_t user;

		ut_domain(u, "example.com");
		user = ut_user(u, "a@example.com");
		ut_fill(big, sizeof(big), 9);
		t = (st_deliver_target_t){user, NULL};
		d.body = sl_slice_make(big, sizeof(big));
		d.targets = &t;
		d.n_targets = 1;
		d.relay_rcpts = rc1;
		d.n_relay_rcpts = 1;
		res = UT_SYNC(u, st_msg_deliver(u->c, &d, st_admin_done, w));
		assert_int_equal(res.err, 0);
		assert_int_equal(st_store_check(u->rd, &rep), 0);
		assert_int_equal(rep.messages, 1);
		assert_int_equal(rep.queue, 1);
		assert_int_equal(rep.chunks, 4);
		damage(u, cases[i].what, ut_mbox_id(u, user, "INBOX"));
		assert_int_equal(st_store_check(u->rd, &rep), SL_ECORRUPT);
		if (strstr(rep.first_problem, cases[i].expect) == NULL)
			fail_msg("case %zu: first problem '%s'", i, rep.first_problem);
		ut_store_free(u);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mailbox_name_validation),
		cmocka_unit_test(test_address_canonical_forms),
		cmocka_unit_test_setup_teardown(test_domain_add_del_list, setup, ut_teardown_checked),
		cmocka_unit_test_setup_teardown(test_user_lifecycle, setup, ut_teardown_checked),
		cmocka_unit_test_setup_teardown(test_alias_expansion, setup, ut_teardown_checked),
		cmocka_unit_test_setup_teardown(test_mailbox_create_hierarchy, setup, ut_teardown_checked),
		cmocka_unit_test_setup_teardown(test_mailbox_rename_hierarchy, setup, ut_teardown_checked),
		cmocka_unit_test_setup_teardown(test_mailbox_rename_inbox, setup, ut_teardown_checked),
		cmocka_unit_test_setup_teardown(test_mailbox_delete_with_messages, setup, ut_teardown_checked),
		cmocka_unit_test_setup_teardown(test_subscriptions_and_roles, setup, ut_teardown_checked),
		cmocka_unit_test_setup_teardown(test_deliver_multi_recipient_stores_body_once, setup,
						ut_teardown_checked),
		cmocka_unit_test_setup_teardown(test_flags_and_modseq_ordering, setup, ut_teardown_checked),
		cmocka_unit_test_setup_teardown(test_expunge_changes_since_and_blob_free, setup,
						ut_teardown_checked),
		cmocka_unit_test_setup_teardown(test_uid_monotonic_across_restarts, setup, ut_teardown_checked),
		cmocka_unit_test_setup_teardown(test_copy_and_move, setup, ut_teardown_checked),
		cmocka_unit_test_setup_teardown(test_multi_mb_body_range_reads, setup, ut_teardown_checked),
		cmocka_unit_test_setup_teardown(test_body_limits, setup, ut_teardown_checked),
		cmocka_unit_test_setup_teardown(test_outbound_queue, setup, ut_teardown_checked),
		cmocka_unit_test_setup_teardown(test_quarantine_and_release, setup, ut_teardown_checked),
		cmocka_unit_test_setup_teardown(test_filter_and_config_key_spaces, setup, ut_teardown_checked),
		cmocka_unit_test_setup_teardown(test_schema_migrations, setup, ut_teardown_checked),
		cmocka_unit_test_setup_teardown(test_online_backup, setup, ut_teardown_checked),
		cmocka_unit_test_setup_teardown(test_map_grows_from_tiny, setup, ut_teardown_checked),
		cmocka_unit_test(test_check_detects_damage),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
