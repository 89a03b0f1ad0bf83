/* bench_store - durable appends per second through the store's group-commit
 * writer, or through plain LMDB with one transaction (and its fsyncs) per
 * message: the two sides of perf/store (issue 3). docs/perf.md explains the
 * method; perf/store/run.sh runs both, interleaved, and writes the report.
 *
 *   bench_store --mode sluice|lmdb --dir PARENT --size BYTES --submitters N
 *               [--inflight K] [--seconds S] [--warmup S] [--batch-max B]
 *               [--keep] [--hash store|random|seq]
 *
 * Both modes create a fresh directory PARENT/bench_store.XXXXXX (PARENT must
 * be on the disk under test, not tmpfs), open an environment in it, start N
 * submitter threads, count messages that are durable (completed) over S
 * seconds after W seconds of warm-up, stop, and remove the directory.
 *
 * sluice: st_store_open with the defaults the appliance uses (batch_max 256,
 *         batch_bytes_max 64 MiB, map 64 MiB growing), one domain and user;
 *         each thread has its own st_client_t with K requests in flight and
 *         calls st_msg_deliver to the user's INBOX with body.hash = NULL (the
 *         store hashes on the submitting thread); a message counts when its
 *         callback reports success, i.e. after the writer's commit (data
 *         pages written + fdatasync, meta page + fdatasync).
 * lmdb:   the same environment flags (MDB_NOTLS; no NOSYNC, no MAPASYNC, no
 *         WRITEMAP); each thread loops: mdb_txn_begin, put a 32-byte message
 *         record and the body (MDB_RESERVE + memcpy, same bytes), commit.
 *         LMDB serialises write transactions, so N threads change nothing
 *         but the queueing: one commit (two fdatasyncs) per message.
 *
 * Every body is distinct (a sequence number in its first line), so the
 * content-addressed store never deduplicates. Bodies are prepared once per
 * slot and only the sequence line is rewritten per message.
 *
 * Output: one JSON line on stdout; exit 0, or 1 when nothing completed. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <inttypes.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "sl_err.h"
#include "sl_log.h"
#include "st.h"

#define BS_SEQ_LINE 32 /* "X-Bench-Seq: %016" PRIx64 "\r\n" padded */
#define BS_LAT_BUCKETS 40

typedef struct bs_opts {
	const char *mode, *dir;
	size_t size;
	unsigned submitters, inflight, batch_max;
	double seconds, warmup;
	bool keep;
} bs_opts_t;

static bs_opts_t bs_opt = {.inflight = 4, .seconds = 5, .warmup = 1};

static atomic_uint_fast64_t bs_seq;      /* next message sequence number */
static atomic_uint_fast64_t bs_done;     /* durable messages */
static atomic_uint_fast64_t bs_errors;   /* failed requests */
static atomic_int bs_stop;
static atomic_int bs_go;
static atomic_uint bs_ready; /* submitter threads whose bodies and client exist */
static atomic_uint_fast64_t bs_lat[BS_LAT_BUCKETS]; /* log2(us) histogram */
static atomic_int bs_measuring;

static const char *bs_first_error;

/* Diagnostics only (--hash): who makes the blob id. STORE: st_msg_deliver
 * hashes the body (SHA-256, the normal path). RANDOM: a cheap pseudo-random
 * id, so the blob index still takes random inserts but nobody hashes. SEQ:
 * an id that grows with the sequence number, so blob-index inserts append
 * at its right edge like every other index. Comparing the three separates
 * the CPU of SHA-256 from the pages a random key dirties per commit. The
 * store trusts a given id (docs/store.md); bodies are distinct anyway. */
static enum { BS_HASH_STORE, BS_HASH_RANDOM, BS_HASH_SEQ } bs_hash_mode = BS_HASH_STORE;

static void bs_fake_hash(uint8_t *h, uint64_t seq)
{
	uint64_t x = seq * 0x9e3779b97f4a7c15ull + 1;

	for (int i = 0; i < ST_BLOB_ID_LEN; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		h[i] = (uint8_t)x;
	}
	if (bs_hash_mode == BS_HASH_SEQ)
		for (int i = 0; i < 8; i++)
			h[i] = (uint8_t)(seq >> (56 - 8 * i));
}

/* --- helpers ------------------------------------------------------------ */

static uint64_t bs_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void bs_sleep(double s)
{
	struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static double bs_cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* Bytes written to the block device that holds DIR since boot, by anyone
 * (/proc/diskstats, sectors of 512 bytes): the write amplification of each
 * mode, including the file system's journal. /proc/self/io's write_bytes is
 * not used: it counts page-cache dirtying, not what reaches the disk. */
static unsigned bs_dev_major, bs_dev_minor;

static uint64_t bs_write_bytes(void)
{
	char line[256];
	unsigned ma, mi;
	unsigned long long f[7];
	uint64_t v = 0;
	FILE *fp = fopen("/proc/diskstats", "r");

	if (fp == NULL)
		return 0;
	while (fgets(line, sizeof(line), fp) != NULL) {
		if (sscanf(line, "%u %u %*s %llu %llu %llu %llu %llu %llu %llu", &ma, &mi, &f[0],
			   &f[1], &f[2], &f[3], &f[4], &f[5], &f[6]) != 9)
			continue;
		if (ma == bs_dev_major && mi == bs_dev_minor) {
			v = (uint64_t)f[6] * 512; /* field 10: sectors written */
			break;
		}
	}
	fclose(fp);
	return v;
}

/* Run time (ns) of the thread called NAME (first match), or 0. */
static uint64_t bs_thread_run_ns(const char *name)
{
	char path[300], comm[64];
	unsigned long long run = 0, wait = 0;
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;

	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
		f = fopen(path, "r");
		if (f == NULL)
			continue;
		if (fgets(comm, sizeof(comm), f) == NULL)
			comm[0] = 0;
		fclose(f);
		comm[strcspn(comm, "\n")] = 0;
		if (strcmp(comm, name) != 0)
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/schedstat", e->d_name);
		f = fopen(path, "r");
		if (f != NULL) {
			if (fscanf(f, "%llu %llu", &run, &wait) != 2)
				run = 0;
			fclose(f);
		}
		break;
	}
	closedir(d);
	return run;
}

static void bs_lat_add(uint64_t ns)
{
	uint64_t us = ns / 1000;
	unsigned b = 0;

	if (!atomic_load_explicit(&bs_measuring, memory_order_relaxed))
		return;
	while (us > 1 && b < BS_LAT_BUCKETS - 1) {
		us >>= 1;
		b++;
	}
	atomic_fetch_add_explicit(&bs_lat[b], 1, memory_order_relaxed);
}

/* Upper bound (us) of the bucket holding quantile Q. */
static uint64_t bs_lat_quantile(double q)
{
	uint64_t tot = 0, acc = 0;

	for (unsigned b = 0; b < BS_LAT_BUCKETS; b++)
		tot += atomic_load(&bs_lat[b]);
	if (tot == 0)
		return 0;
	for (unsigned b = 0; b < BS_LAT_BUCKETS; b++) {
		acc += atomic_load(&bs_lat[b]);
		if ((double)acc >= q * (double)tot)
			return (uint64_t)1 << (b + 1);
	}
	return 0;
}

/* A message body of SIZE bytes: a sequence line (rewritten per message),
 * a few headers, then 76-character text lines ending in CRLF. */
static uint8_t *bs_body_new(size_t size, unsigned salt)
{
	static const char hdr[] = "From: bench@example.org\r\nTo: bench@bench.test\r\n"
				  "Subject: store benchmark\r\n\r\n";
	uint8_t *p = malloc(size);
	uint64_t x = 0x9e3779b97f4a7c15ull * (salt + 1);

	if (p == NULL)
		return NULL;
	for (size_t i = 0; i < size; i++) {
		if (i % 78 == 76) {
			p[i] = '\r';
		} else if (i % 78 == 77) {
			p[i] = '\n';
		} else {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			p[i] = (uint8_t)('a' + x % 26);
		}
	}
	if (size >= BS_SEQ_LINE + sizeof(hdr))
		memcpy(p + BS_SEQ_LINE, hdr, sizeof(hdr) - 1);
	return p;
}

/* Make BODY unique: its first line carries a fresh sequence number. */
static uint64_t bs_body_stamp(uint8_t *body, size_t size)
{
	uint64_t seq = atomic_fetch_add(&bs_seq, 1);
	char line[BS_SEQ_LINE + 1];

	snprintf(line, sizeof(line), "X-Bench-Seq: %016" PRIx64 "\r\n", seq);
	memset(line + strlen(line), ' ', BS_SEQ_LINE - strlen(line));
	line[BS_SEQ_LINE - 2] = '\r';
	line[BS_SEQ_LINE - 1] = '\n';
	memcpy(body, line, size < BS_SEQ_LINE ? size : BS_SEQ_LINE);
	return seq;
}

static void bs_wait_go(void)
{
	atomic_fetch_add(&bs_ready, 1);
	while (!atomic_load(&bs_go))
		bs_sleep(0.001);
}

/* --- sluice: the group-commit writer ------------------------------------ */

static st_store_t *bs_store;
static uint64_t bs_user_id;

typedef struct bs_slot {
	uint8_t *body;
	uint8_t hash[ST_BLOB_ID_LEN];
	st_deliver_target_t target;
	st_target_result_t result;
	uint64_t t0;
	bool busy;
} bs_slot_t;

static void bs_deliver_done(void *ctx, const st_result_t *res)
{
	bs_slot_t *sl = ctx;

	sl->busy = false;
	if (res->err == 0 && sl->result.err == 0) {
		atomic_fetch_add(&bs_done, 1);
		bs_lat_add(bs_now_ns() - sl->t0);
	} else {
		if (atomic_fetch_add(&bs_errors, 1) == 0)
			bs_first_error = res->error != NULL ? res->error : sl_strerror(res->err);
	}
}

static void *bs_sluice_thread(void *arg)
{
	unsigned idx = (unsigned)(uintptr_t)arg, k = bs_opt.inflight;
	bs_slot_t *slots = calloc(k, sizeof(*slots));
	st_client_t *c = NULL;
	int rc;

	if (slots == NULL) {
		fprintf(stderr, "bench_store: out of memory\n");
		exit(1); /* main waits for every thread to be ready */
	}
	for (unsigned i = 0; i < k; i++) {
		slots[i].body = bs_body_new(bs_opt.size, idx * k + i);
		if (slots[i].body == NULL) {
			fprintf(stderr, "bench_store: out of memory\n");
			exit(1);
		}
		slots[i].target.user_id = bs_user_id;
		slots[i].target.mailbox = NULL; /* INBOX */
	}
	rc = st_client_create(bs_store, k, &c);
	if (rc != 0) {
		fprintf(stderr, "bench_store: st_client_create: %s\n", sl_strerror(rc));
		exit(1);
	}
	bs_wait_go();
	while (!atomic_load(&bs_stop)) {
		for (unsigned i = 0; i < k && !atomic_load(&bs_stop); i++) {
			bs_slot_t *sl = &slots[i];
			st_deliver_t d;

			if (sl->busy)
				continue;
			uint64_t seq = bs_body_stamp(sl->body, bs_opt.size);
			memset(&d, 0, sizeof(d));
			d.body.ptr = sl->body;
			d.body.len = bs_opt.size;
			d.hash = NULL; /* hashed by the store on this thread */
			if (bs_hash_mode != BS_HASH_STORE) {
				bs_fake_hash(sl->hash, seq);
				d.hash = sl->hash;
			}
			d.targets = &sl->target;
			d.n_targets = 1;
			d.results = &sl->result;
			sl->busy = true;
			sl->t0 = bs_now_ns();
			rc = st_msg_deliver(c, &d, bs_deliver_done, sl);
			if (rc != 0) {
				sl->busy = false;
				if (rc == SL_EAGAIN)
					break;
				fprintf(stderr, "bench_store: st_msg_deliver: %s\n", sl_strerror(rc));
				exit(1);
			}
		}
		st_client_wait(c, 100);
	}
	st_client_destroy(&c); /* waits for what is still in flight */
	for (unsigned i = 0; i < k; i++)
		free(slots[i].body);
	free(slots);
	return NULL;
}

static int bs_sluice_setup(const char *path)
{
	st_store_opts_t o;
	st_client_t *c = NULL;
	const char *err = NULL;
	int rc;

	st_store_opts_default(&o);
	o.path = path;
	o.create_special_mailboxes = false;
	o.argon2_t_cost = 1; /* one user, created once: not measured */
	o.argon2_m_cost_kib = 8;
	o.argon2_parallelism = 1;
	if (bs_opt.batch_max)
		o.batch_max = bs_opt.batch_max;
	while (o.queue_size < bs_opt.submitters * bs_opt.inflight + 64)
		o.queue_size *= 2;
	rc = st_store_open(&o, &bs_store, &err);
	if (rc != 0) {
		fprintf(stderr, "bench_store: st_store_open: %s (%s)\n", sl_strerror(rc),
			err ? err : "");
		return rc;
	}
	rc = st_client_create(bs_store, 4, &c);
	if (rc == 0)
		rc = st_admin_domain_add(c, "bench.test", &err);
	if (rc == 0)
		rc = st_admin_user_add(c, "bench@bench.test", (sl_slice_t){(const uint8_t *)"x", 1},
				       &bs_user_id, &err);
	st_client_destroy(&c);
	if (rc != 0)
		fprintf(stderr, "bench_store: setup: %s (%s)\n", sl_strerror(rc), err ? err : "");
	return rc;
}

/* --- lmdb: one transaction and its fsyncs per message ------------------- */

static MDB_env *bs_env;
static MDB_dbi bs_dbi_msg, bs_dbi_body;

static void *bs_lmdb_thread(void *arg)
{
	unsigned idx = (unsigned)(uintptr_t)arg;
	uint8_t *body = bs_body_new(bs_opt.size, idx);

	if (body == NULL) {
		fprintf(stderr, "bench_store: out of memory\n");
		exit(1);
	}
	bs_wait_go();
	while (!atomic_load(&bs_stop)) {
		uint64_t seq = bs_body_stamp(body, bs_opt.size), t0 = bs_now_ns();
		uint8_t key[8];
		struct {
			uint64_t seq, size;
			int64_t date;
			uint32_t flags, pad;
		} rec = {seq, bs_opt.size, time(NULL), 0, 0};
		MDB_txn *txn = NULL;
		MDB_val k = {sizeof(key), key}, v;
		int rc;

		for (int i = 0; i < 8; i++)
			key[i] = (uint8_t)(seq >> (56 - 8 * i));
		rc = mdb_txn_begin(bs_env, NULL, 0, &txn);
		if (rc == 0) {
			v.mv_size = sizeof(rec);
			v.mv_data = &rec;
			rc = mdb_put(txn, bs_dbi_msg, &k, &v, 0);
		}
		if (rc == 0) {
			v.mv_size = bs_opt.size;
			v.mv_data = NULL;
			rc = mdb_put(txn, bs_dbi_body, &k, &v, MDB_RESERVE);
			if (rc == 0)
				memcpy(v.mv_data, body, bs_opt.size);
		}
		if (rc == 0) {
			rc = mdb_txn_commit(txn); /* fdatasync data, write meta, fdatasync */
			txn = NULL;
		}
		if (txn != NULL)
			mdb_txn_abort(txn);
		if (rc == 0) {
			atomic_fetch_add(&bs_done, 1);
			bs_lat_add(bs_now_ns() - t0);
		} else if (atomic_fetch_add(&bs_errors, 1) == 0) {
			bs_first_error = mdb_strerror(rc);
		}
	}
	free(body);
	return NULL;
}

static int bs_lmdb_setup(const char *path)
{
	MDB_txn *txn = NULL;
	int rc;

	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return SL_EIO;
	rc = mdb_env_create(&bs_env);
	if (rc == 0)
		rc = mdb_env_set_maxdbs(bs_env, 4);
	if (rc == 0)
		rc = mdb_env_set_mapsize(bs_env, (size_t)64 << 30); /* sparse; never full */
	if (rc == 0)
		rc = mdb_env_set_maxreaders(bs_env, 126);
	if (rc == 0)
		rc = mdb_env_open(bs_env, path, MDB_NOTLS, 0600);
	if (rc == 0)
		rc = mdb_txn_begin(bs_env, NULL, 0, &txn);
	if (rc == 0)
		rc = mdb_dbi_open(txn, "msg", MDB_CREATE, &bs_dbi_msg);
	if (rc == 0)
		rc = mdb_dbi_open(txn, "body", MDB_CREATE, &bs_dbi_body);
	if (rc == 0) {
		rc = mdb_txn_commit(txn);
		txn = NULL;
	}
	if (txn != NULL)
		mdb_txn_abort(txn);
	if (rc != 0)
		fprintf(stderr, "bench_store: lmdb setup: %s\n", mdb_strerror(rc));
	return rc;
}

/* --- main --------------------------------------------------------------- */

static int bs_rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(p);
}

static void bs_usage(void)
{
	fprintf(stderr, "usage: bench_store --mode sluice|lmdb --dir PARENT --size BYTES "
			"--submitters N [--inflight K] [--seconds S] [--warmup S] "
			"[--batch-max B] [--keep] [--hash store|random|seq]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"mode", required_argument, NULL, 'm'},    {"dir", required_argument, NULL, 'd'},
		{"size", required_argument, NULL, 's'},    {"submitters", required_argument, NULL, 'n'},
		{"inflight", required_argument, NULL, 'k'}, {"seconds", required_argument, NULL, 't'},
		{"warmup", required_argument, NULL, 'w'},  {"batch-max", required_argument, NULL, 'b'},
		{"keep", no_argument, NULL, 'K'},
		{"hash", required_argument, NULL, 'H'},
		{NULL, 0, NULL, 0}};
	char top[512], path[600];
	pthread_t *th;
	bool sluice;
	int c, rc;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'm': bs_opt.mode = optarg; break;
		case 'd': bs_opt.dir = optarg; break;
		case 's': bs_opt.size = strtoull(optarg, NULL, 0); break;
		case 'n': bs_opt.submitters = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'k': bs_opt.inflight = (unsigned)strtoul(optarg, NULL, 0); break;
		case 't': bs_opt.seconds = strtod(optarg, NULL); break;
		case 'w': bs_opt.warmup = strtod(optarg, NULL); break;
		case 'b': bs_opt.batch_max = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'K': bs_opt.keep = true; break;
		case 'H':
			if (strcmp(optarg, "store") == 0)
				bs_hash_mode = BS_HASH_STORE;
			else if (strcmp(optarg, "random") == 0)
				bs_hash_mode = BS_HASH_RANDOM;
			else if (strcmp(optarg, "seq") == 0)
				bs_hash_mode = BS_HASH_SEQ;
			else
				bs_usage();
			break;
		default: bs_usage();
		}
	}
	if (bs_opt.mode == NULL || bs_opt.dir == NULL || bs_opt.size < 64 ||
	    bs_opt.submitters == 0 || bs_opt.submitters > 4096 || bs_opt.inflight == 0 ||
	    bs_opt.inflight > 4096 || bs_opt.seconds <= 0)
		bs_usage();
	if (strcmp(bs_opt.mode, "sluice") == 0)
		sluice = true;
	else if (strcmp(bs_opt.mode, "lmdb") == 0)
		sluice = false;
	else
		bs_usage();
	sl_log_set_level(SL_LOG_WARN); /* "map grown" lines are not news here */

	snprintf(top, sizeof(top), "%s/bench_store.XXXXXX", bs_opt.dir);
	if (mkdtemp(top) == NULL) {
		fprintf(stderr, "bench_store: mkdtemp %s: %s\n", top, strerror(errno));
		return 1;
	}
	snprintf(path, sizeof(path), "%s/db", top);
	{
		struct stat st;

		if (stat(top, &st) == 0) {
			bs_dev_major = major(st.st_dev);
			bs_dev_minor = minor(st.st_dev);
		}
	}
	rc = sluice ? bs_sluice_setup(path) : bs_lmdb_setup(path);
	if (rc != 0)
		goto out;

	th = calloc(bs_opt.submitters, sizeof(*th));
	for (unsigned i = 0; i < bs_opt.submitters; i++) {
		if (pthread_create(&th[i], NULL, sluice ? bs_sluice_thread : bs_lmdb_thread,
				   (void *)(uintptr_t)i) != 0) {
			fprintf(stderr, "bench_store: pthread_create failed at %u\n", i);
			exit(1);
		}
	}
	/* Every body prepared and every client created before the clock
	 * starts: at 1 MB x 256 submitters x 4 slots that is 1 GiB of bodies,
	 * seconds of CPU that used to leak into the warm-up and the window. */
	while (atomic_load(&bs_ready) < bs_opt.submitters)
		bs_sleep(0.01);

	st_store_stats_t s0 = {0}, s1 = {0};
	uint64_t d0, d1, w0, w1, wr0, wr1, t0, t1, e1;
	double c0, c1;

	atomic_store(&bs_go, 1);
	bs_sleep(bs_opt.warmup);
	if (sluice)
		st_store_stats(bs_store, &s0);
	d0 = atomic_load(&bs_done);
	wr0 = bs_write_bytes();
	w0 = sluice ? bs_thread_run_ns("st-writer") : 0;
	c0 = bs_cpu_s();
	t0 = bs_now_ns();
	atomic_store(&bs_measuring, 1);
	bs_sleep(bs_opt.seconds);
	d1 = atomic_load(&bs_done);
	t1 = bs_now_ns();
	c1 = bs_cpu_s();
	w1 = sluice ? bs_thread_run_ns("st-writer") : 0;
	wr1 = bs_write_bytes();
	if (sluice)
		st_store_stats(bs_store, &s1);
	atomic_store(&bs_measuring, 0);
	atomic_store(&bs_stop, 1);
	for (unsigned i = 0; i < bs_opt.submitters; i++)
		pthread_join(th[i], NULL);
	free(th);
	e1 = atomic_load(&bs_errors);

	double secs = (double)(t1 - t0) / 1e9, n = (double)(d1 - d0);
	double rate = secs > 0 ? n / secs : 0;
	uint64_t db = s1.batches - s0.batches, dr = s1.requests - s0.requests;

	printf("{\"suite\": \"store\", \"mode\": \"%s\", \"size\": %zu, \"submitters\": %u, "
	       "\"inflight\": %u, \"seconds\": %.3f, \"msgs\": %" PRIu64 ", \"msgs_per_s\": %.1f, "
	       "\"mib_per_s\": %.2f, \"errors\": %" PRIu64 ", \"cpu_s\": %.3f, "
	       "\"cpu_ms_per_msg\": %.4f, \"disk_written_per_msg\": %.0f, "
	       "\"lat_p50_us_le\": %" PRIu64 ", \"lat_p99_us_le\": %" PRIu64,
	       bs_opt.mode, bs_opt.size, bs_opt.submitters, sluice ? bs_opt.inflight : 1, secs,
	       d1 - d0, rate, rate * (double)bs_opt.size / 1048576.0, e1, c1 - c0,
	       n > 0 ? (c1 - c0) * 1000.0 / n : 0.0, n > 0 ? (double)(wr1 - wr0) / n : 0.0,
	       bs_lat_quantile(0.5), bs_lat_quantile(0.99));
	if (sluice)
		printf(", \"batches\": %" PRIu64 ", \"batch_avg\": %.2f, \"batch_max\": %" PRIu64
		       ", \"batch_max_cfg\": %u, \"commits_per_s\": %.1f, \"writer_cpu_share\": %.3f, "
		       "\"map_grows\": %" PRIu64 ", \"singles\": %" PRIu64
		       ", \"apply_ms_per_batch\": %.3f, \"commit_ms_per_batch\": %.3f"
		       ", \"post_ms_per_batch\": %.3f"
		       ", \"hash\": \"%s\"",
		       db, db ? (double)dr / (double)db : 0.0, s1.batch_max,
		       bs_opt.batch_max ? bs_opt.batch_max : 256, secs > 0 ? (double)db / secs : 0,
		       secs > 0 ? (double)(w1 - w0) / 1e9 / secs : 0.0, s1.map_grows, s1.singles,
		       db ? (double)(s1.apply_ns - s0.apply_ns) / 1e6 / (double)db : 0.0,
		       db ? (double)(s1.commit_ns - s0.commit_ns) / 1e6 / (double)db : 0.0,
		       db ? (double)(s1.post_ns - s0.post_ns) / 1e6 / (double)db : 0.0,
		       bs_hash_mode == BS_HASH_STORE ? "store" : bs_hash_mode == BS_HASH_RANDOM ? "random" : "seq");
	else
		printf(", \"commits_per_s\": %.1f", rate);
	if (e1 > 0 && bs_first_error != NULL)
		printf(", \"first_error\": \"%s\"", bs_first_error);
	printf("}\n");
	fflush(stdout);
	rc = d1 > d0 ? 0 : 1;
out:
	if (sluice)
		st_store_close(&bs_store);
	else if (bs_env != NULL)
		mdb_env_close(bs_env);
	if (!bs_opt.keep)
		nftw(top, bs_rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return rc != 0;
}
