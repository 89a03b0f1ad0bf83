/* test_store_crash - the durability promise under SIGKILL.
 *
 * Each round forks a child that appends messages (1 KB to 2 MB) through
 * the writer and reports every acknowledged (completed) delivery on a
 * pipe, the way SMTP would answer 250. The parent kills it with SIGKILL at
 * a random moment, reopens the store, and checks that every acknowledged
 * message is present and byte-identical, that every message present has an
 * intact body, that UIDs never went back, and that st_store_check finds
 * the store consistent. Then it expunges everything (so the file stays
 * small) and starts the next round.
 *
 * ST_CRASH_ROUNDS (default 50) and ST_CRASH_SEED (default fixed) choose the
 * run; the seed is printed so a failure replays. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "test_store_util.h"

#define BODY_MIN 1024u
#define BODY_MAX (2u << 20)
#define INFLIGHT 4

struct ack {
	uint64_t idx;
	uint32_t uid;
	uint32_t pad;
};

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

/* Log-uniform sizes between BODY_MIN and BODY_MAX. */
static size_t body_size(uint64_t idx)
{
	double f = (double)(mix(idx) % 1000000) / 1000000.0;
	double lo = 10.0, hi = 21.0; /* log2 of 1 KiB and 2 MiB */

	size_t n = (size_t)exp2(lo + f * (hi - lo));
	if (n < BODY_MIN)
		n = BODY_MIN;
	if (n > BODY_MAX)
		n = BODY_MAX;
	return n;
}

static void body_make(uint8_t *p, size_t n, uint64_t idx)
{
	ut_fill(p, n, mix(idx) | 1);
}

/* --- the child --------------------------------------------------------- */

struct slot {
	uint64_t idx;
	uint8_t *body;
	st_deliver_t d;
	st_target_result_t tr;
	bool busy;
	int fd;
};

static st_deliver_target_t child_target;

static void child_done(void *ctx, const st_result_t *res)
{
	struct slot *sl = ctx;
	struct ack a = {sl->idx, sl->tr.uid, 0};

	if (res->err == 0 && sl->tr.err == 0) {
		/* The "250": only after the commit. */
		if (write(sl->fd, &a, sizeof(a)) != (ssize_t)sizeof(a))
			_exit(3);
	} else {
		_exit(4);
	}
	sl->busy = false;
}

static void child_main(const char *path, uint64_t user, uint64_t first_idx, int fd)
{
	static struct slot slots[INFLIGHT];
	st_store_opts_t o;
	st_store_t *s;
	st_client_t *c;
	const char *err;
	uint64_t next = first_idx;

	ut_opts(&o, path);
	if (st_store_open(&o, &s, &err) != 0 || st_client_create(s, INFLIGHT, &c) != 0)
		_exit(2);
	child_target = (st_deliver_target_t){user, NULL};
	for (int i = 0; i < INFLIGHT; i++) {
		slots[i].body = malloc(BODY_MAX);
		slots[i].fd = fd;
		if (slots[i].body == NULL)
			_exit(2);
	}
	for (;;) {
		for (int i = 0; i < INFLIGHT; i++) {
			struct slot *sl = &slots[i];
			size_t n;

			if (sl->busy)
				continue;
			sl->idx = next++;
			n = body_size(sl->idx);
			body_make(sl->body, n, sl->idx);
			memset(&sl->d, 0, sizeof(sl->d));
			sl->d.body = sl_slice_make(sl->body, n);
			sl->d.targets = &child_target;
			sl->d.n_targets = 1;
			sl->d.results = &sl->tr;
			sl->busy = true;
			if (st_msg_deliver(c, &sl->d, child_done, sl) != 0)
				_exit(5);
		}
		st_client_wait(c, 100);
	}
}

/* --- the parent -------------------------------------------------------- */

struct verify {
	uint8_t *buf;
	unsigned present;
	unsigned bad;
	uint32_t max_uid;
	st_reader_t *rd;
};

static int hash_part(void *ctx, sl_slice_t part)
{
	st_sha256_update(ctx, part.ptr, part.len);
	return 0;
}

/* Every message present, acknowledged or not, has an intact body. */
static int verify_one(void *ctx, const st_msg_info_t *m)
{
	struct verify *v = ctx;
	st_sha256_t h;
	uint8_t d[32];

	v->present++;
	if (m->uid > v->max_uid)
		v->max_uid = m->uid;
	st_sha256_init(&h);
	if (st_body_read(v->rd, &m->blob, 0, UINT64_MAX, hash_part, &h) != 0)
		v->bad++;
	st_sha256_final(&h, d);
	if (memcmp(d, m->blob.b, 32) != 0)
		v->bad++;
	return 0;
}

static void test_acknowledged_messages_survive_sigkill(void **state)
{
	const char *env_rounds = getenv("ST_CRASH_ROUNDS"), *env_seed = getenv("ST_CRASH_SEED");
	unsigned rounds = env_rounds ? (unsigned)atoi(env_rounds) : 50;
	uint64_t seed = env_seed ? strtoull(env_seed, NULL, 0) : 0x5eed2024ull;
	ut_store_t *u = ut_store_new();
	uint8_t *expect = malloc(BODY_MAX), *got = malloc(BODY_MAX);
	struct ack *acks = malloc(sizeof(*acks) * 65536);
	uint64_t user, mbox, total_acked = 0, total_present = 0;
	uint32_t prev_max_uid = 0;
	unsigned kills_before_ack = 0;

	(void)state;
	assert_non_null(expect);
	assert_non_null(got);
	print_message("crash test: %u rounds, ST_CRASH_SEED=0x%llx\n", rounds,
		      (unsigned long long)seed);
	ut_domain(u, "example.com");
	user = ut_user(u, "crash@example.com");
	mbox = ut_mbox_id(u, user, "INBOX");
	ut_store_close(u);

	for (unsigned round = 0; round < rounds; round++) {
		uint64_t rs = mix(seed + round);
		useconds_t delay = (useconds_t)(10000 + rs % 240000);
		int p[2], status;
		size_t n_acks = 0, have = 0;
		ssize_t r;
		pid_t pid;

		assert_int_equal(pipe(p), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(p[0]);
			child_main(u->path, user, ((uint64_t)round << 32) | 1, p[1]);
			_exit(1);
		}
		close(p[1]);
		usleep(delay);
		kill(pid, SIGKILL);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		if (!WIFSIGNALED(status))
			fail_msg("round %u: child exited on its own (status %d)", round,
				 WEXITSTATUS(status));
		/* Everything in the pipe was acknowledged before the kill. */
		while ((r = read(p[0], (uint8_t *)acks + have, sizeof(*acks) * 65536 - have)) > 0)
			have += (size_t)r;
		close(p[0]);
		n_acks = have / sizeof(*acks);
		if (n_acks == 0)
			kills_before_ack++;

		{
			st_store_opts_t o;
			ut_opts(&o, u->path);
			ut_store_open_opts(u, &o);
		}
		{
			st_check_report_t rep;
			int rc = st_store_check(u->rd, &rep);
			if (rc != 0)
				fail_msg("round %u: store inconsistent: %s", round, rep.first_problem);
		}
		for (size_t i = 0; i < n_acks; i++) {
			st_msg_info_t m;
			size_t n = body_size(acks[i].idx), cnt;
			uint8_t want_id[32];

			if (st_msg_get(u->rd, mbox, acks[i].uid, &m) != 0)
				fail_msg("round %u: acknowledged uid %u (msg %llu) is missing", round,
					 acks[i].uid, (unsigned long long)acks[i].idx);
			assert_true(acks[i].uid > prev_max_uid);
			body_make(expect, n, acks[i].idx);
			assert_int_equal(m.size, n);
			st_sha256(expect, n, want_id);
			assert_memory_equal(m.blob.b, want_id, 32);
			assert_int_equal(st_body_copy(u->rd, &m.blob, 0, got, BODY_MAX, &cnt), 0);
			assert_int_equal(cnt, n);
			assert_memory_equal(got, expect, n);
		}
		{
			struct verify v = {.rd = u->rd};
			st_uid_range_t all = {1, UINT32_MAX};
			st_result_t res;

			assert_int_equal(st_msg_list(u->rd, mbox, 1, UINT32_MAX, verify_one, &v), 0);
			if (v.bad != 0)
				fail_msg("round %u: %u damaged bodies", round, v.bad);
			assert_true(v.present >= n_acks);
			total_present += v.present;
			if (v.max_uid > prev_max_uid)
				prev_max_uid = v.max_uid;
			res = UT_SYNC(u, st_msg_expunge(u->c, mbox, &all, 1, false, NULL, 0,
							st_admin_done, w));
			assert_int_equal(res.err, 0);
		}
		{
			st_mailbox_info_t mi;
			assert_int_equal(st_mailbox_get_by_id(u->rd, mbox, &mi), 0);
			/* UIDs never go back, even for unacknowledged appends. */
			assert_true(mi.uidnext > prev_max_uid);
		}
		ut_store_close(u);
		total_acked += n_acks;
	}
	print_message("crash test: %llu acknowledged, %llu present after kills, %u kills before "
		      "the first ack\n",
		      (unsigned long long)total_acked, (unsigned long long)total_present,
		      kills_before_ack);
	if (rounds >= 10)
		assert_true(total_acked > rounds); /* the test did exercise something */
	free(expect);
	free(got);
	free(acks);
	ut_store_free(u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_acknowledged_messages_survive_sigkill),
	};
	sl_log_set_level(SL_LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
