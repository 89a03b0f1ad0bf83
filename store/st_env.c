/* st_env - the LMDB environment: open/close, schema version and
 * migrations, error mapping, stats and online backup. */
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sl_log.h"
#include "st_private.h"

static const struct {
	const char *name;
	unsigned flags;
} db_spec[ST_DB__COUNT] = {
	[ST_DB_META] = {"meta", 0},       [ST_DB_DOMAIN] = {"domain", 0},
	[ST_DB_USER] = {"user", 0},       [ST_DB_USERID] = {"userid", 0},
	[ST_DB_ALIAS] = {"alias", MDB_DUPSORT},
	[ST_DB_MBNAME] = {"mbname", 0},   [ST_DB_MBOX] = {"mbox", 0},
	[ST_DB_SUBS] = {"subs", 0},       [ST_DB_MSG] = {"msg", 0},
	[ST_DB_MODSEQ] = {"modseq", 0},   [ST_DB_VANISHED] = {"vanished", 0},
	[ST_DB_BLOB] = {"blob", 0},       [ST_DB_CHUNK] = {"chunk", 0},
	[ST_DB_BSTRUCT] = {"bstruct", 0}, [ST_DB_QUEUE] = {"queue", 0},
	[ST_DB_QDUE] = {"qdue", 0},       [ST_DB_QUAR] = {"quar", 0},
	[ST_DB_FILTER] = {"filter", 0},   [ST_DB_CONFIG] = {"config", 0},
};

int st_lmdb_err(int rc)
{
	switch (rc) {
	case MDB_SUCCESS:
		return 0;
	case MDB_NOTFOUND:
		return SL_ENOENT;
	case MDB_KEYEXIST:
		return SL_EEXIST;
	case MDB_MAP_FULL:
		return ST_RETRY_MAPFULL;
	case MDB_TXN_FULL:
	case MDB_CURSOR_FULL:
		return ST_RETRY_TXNFULL;
	case MDB_READERS_FULL:
	case MDB_DBS_FULL:
	case MDB_TLS_FULL:
		return SL_ELIMIT;
	case MDB_MAP_RESIZED:
		return SL_EAGAIN;
	case MDB_CORRUPTED:
	case MDB_PAGE_NOTFOUND:
	case MDB_INVALID:
	case MDB_VERSION_MISMATCH:
	case MDB_INCOMPATIBLE:
	case MDB_BAD_DBI:
	case MDB_BAD_VALSIZE:
		return SL_ECORRUPT;
	case MDB_BAD_TXN:
	case MDB_BAD_RSLOT:
		return SL_ESTATE;
	case ENOMEM:
		return SL_ENOMEM;
	case ENOSPC:
		return SL_EFULL;
	case EINVAL:
		return SL_EINVAL;
	default:
		return SL_EIO;
	}
}

/* --- meta helpers ------------------------------------------------------ */

int st_meta_get_u64(st_store_t *s, MDB_txn *txn, const char *name, uint64_t *v_r)
{
	MDB_val k = st_val(name, strlen(name)), v;
	int rc = mdb_get(txn, s->dbi[ST_DB_META], &k, &v);

	if (rc != 0)
		return st_lmdb_err(rc);
	if (v.mv_size != 8)
		return SL_ECORRUPT;
	*v_r = st_be64_get(v.mv_data);
	return 0;
}

int st_meta_put_u64(st_store_t *s, MDB_txn *txn, const char *name, uint64_t val)
{
	uint8_t b[8];
	MDB_val k = st_val(name, strlen(name)), v = st_val(b, 8);

	st_be64_put(b, val);
	return st_lmdb_err(mdb_put(txn, s->dbi[ST_DB_META], &k, &v, 0));
}

/* st_meta_next_id - take the next value of counter NAME (first is 1). */
int st_meta_next_id(st_store_t *s, MDB_txn *txn, const char *name, uint64_t *id_r)
{
	uint64_t v = 0;
	int rc = st_meta_get_u64(s, txn, name, &v);

	if (rc < 0 && rc != SL_ENOENT)
		return rc;
	v++;
	rc = st_meta_put_u64(s, txn, name, v);
	if (rc == 0)
		*id_r = v;
	return rc;
}

/* --- schema ------------------------------------------------------------ */

/* 0 -> 1: a fresh store. UIDVALIDITY values are taken from a counter that
 * starts at the creation time, so they also differ from those of any store
 * created earlier on this box (a restored backup keeps its own). */
static int migrate_0_to_1(st_store_t *s, MDB_txn *txn)
{
	uint64_t seed = (uint64_t)time(NULL) & 0x7fffffffu;

	return st_meta_put_u64(s, txn, "uidvalidity", seed);
}

static st_migration_fn *const default_steps[] = {migrate_0_to_1};
static st_migration_fn *const *mig_steps = default_steps;
static unsigned mig_n = sizeof(default_steps) / sizeof(default_steps[0]);

void st_schema_set_migrations_for_test(st_migration_fn *const *steps, unsigned n_steps)
{
	if (steps == NULL) {
		mig_steps = default_steps;
		mig_n = sizeof(default_steps) / sizeof(default_steps[0]);
	} else {
		mig_steps = steps;
		mig_n = n_steps;
	}
}

/* Open every database and bring the schema to the current version in one
 * write transaction: a migration either completes or leaves no trace. */
static int schema_open(st_store_t *s, const char **error_r)
{
	MDB_txn *txn = NULL;
	uint64_t ver = 0;
	int rc;

	rc = mdb_txn_begin(s->env, NULL, 0, &txn);
	if (rc != 0) {
		*error_r = "cannot begin the schema transaction";
		return st_lmdb_err(rc);
	}
	for (int i = 0; i < ST_DB__COUNT; i++) {
		rc = mdb_dbi_open(txn, db_spec[i].name, MDB_CREATE | db_spec[i].flags, &s->dbi[i]);
		if (rc != 0) {
			*error_r = "cannot open a database";
			goto fail;
		}
	}
	rc = st_meta_get_u64(s, txn, "schema", &ver);
	if (rc == SL_ENOENT) {
		ver = 0;
	} else if (rc < 0) {
		*error_r = "cannot read the schema version";
		goto fail_sl;
	}
	if (ver > mig_n) {
		*error_r = "store schema is newer than this firmware";
		rc = SL_ENOTSUP;
		goto fail_sl;
	}
	for (uint64_t v = ver; v < mig_n; v++) {
		rc = mig_steps[v](s, txn);
		if (rc == 0)
			rc = st_meta_put_u64(s, txn, "schema", v + 1);
		if (rc < 0) {
			*error_r = "schema migration failed";
			goto fail_sl;
		}
		if (v > 0 || ver > 0)
			sl_log(SL_LOG_INFO, ST_LOG, "schema migrated to version %llu",
			       (unsigned long long)v + 1);
	}
	rc = mdb_txn_commit(txn);
	txn = NULL;
	if (rc != 0) {
		*error_r = "cannot commit the schema transaction";
		goto fail;
	}
	s->schema_version = mig_n;
	return 0;
fail:
	rc = st_lmdb_err(rc);
fail_sl:
	if (txn != NULL)
		mdb_txn_abort(txn);
	return rc;
}

/* --- open / close ------------------------------------------------------ */

void st_store_opts_default(st_store_opts_t *o)
{
	memset(o, 0, sizeof(*o));
	o->map_size = 64ull << 20;
	o->map_size_max = 64ull << 30;
	o->map_grow_pct = 80;
	o->max_readers = 126;
	o->queue_size = 4096;
	o->batch_max = 256;
	o->batch_bytes_max = 64ull << 20;
	o->body_max = 64ull << 20;
	o->malloc_trim_threshold = 128ull << 20;
	o->vanished_max = 10000;
	o->create_special_mailboxes = true;
	o->argon2_t_cost = 2;
	o->argon2_m_cost_kib = 19456;
	o->argon2_parallelism = 1;
}

static int opts_check(const st_store_opts_t *o, const char **error_r)
{
	if (o->path == NULL || o->path[0] == '\0' || strlen(o->path) >= 4000) {
		*error_r = "store path missing or too long";
		return SL_EINVAL;
	}
	if (o->map_size < (64u << 10) || o->map_size_max < o->map_size) {
		*error_r = "map size must be >= 64 KiB and <= map_size_max";
		return SL_EINVAL;
	}
	if (o->queue_size < 2 || (o->queue_size & (o->queue_size - 1)) != 0 ||
	    o->queue_size > (1u << 20)) {
		*error_r = "queue_size must be a power of two up to 1M";
		return SL_EINVAL;
	}
	if (o->batch_max == 0 || o->map_grow_pct == 0 || o->map_grow_pct > 100 ||
	    o->max_readers == 0 || o->body_max == 0 || o->batch_bytes_max == 0) {
		*error_r = "batch_max, map_grow_pct, max_readers, body_max must be positive";
		return SL_EINVAL;
	}
	if (o->vanished_max == 0 || o->vanished_max > ST_VANISHED_MAX_LIMIT) {
		*error_r = "vanished_max must be 1..67108864";
		return SL_EINVAL;
	}
	if (o->argon2_t_cost < 1 || o->argon2_parallelism < 1 ||
	    o->argon2_m_cost_kib < 8 * o->argon2_parallelism) {
		*error_r = "argon2 cost out of range";
		return SL_EINVAL;
	}
	return 0;
}

int st_store_open(const st_store_opts_t *o, st_store_t **s_r, const char **error_r)
{
	st_store_t *s = NULL;
	MDB_envinfo info;
	MDB_stat stat;
	long pg = sysconf(_SC_PAGESIZE);
	int rc, dead = 0;

	*s_r = NULL;
	rc = opts_check(o, error_r);
	if (rc < 0)
		return rc;
	/* See malloc_trim_threshold in st.h: keep the writer's freed dirty
	 * pages mapped between transactions. Process-wide, and only ever
	 * raised by the store. */
	if (o->malloc_trim_threshold > 0) {
		(void)mallopt(M_TRIM_THRESHOLD,
			      (int)(o->malloc_trim_threshold > INT_MAX ? INT_MAX
								       : o->malloc_trim_threshold));
		/* Setting M_TRIM_THRESHOLD also freezes glibc's mmap threshold
		 * at 128 KiB, so every argon2id verification (19 MiB) got a
		 * fresh mmap and ~4,900 page faults: 94-107 ms of CPU per login
		 * instead of 26-37 (perf/imap, docs/perf.md). Blocks up to 32
		 * MiB (glibc's largest setting) now come from the heap and
		 * stay mapped like the writer's pages. */
		(void)mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
	}
	if (mkdir(o->path, 0700) < 0 && errno != EEXIST) {
		*error_r = "cannot create the store directory";
		return SL_EIO;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		*error_r = "out of memory";
		return SL_ENOMEM;
	}
	s->opts = *o;
	snprintf(s->path, sizeof(s->path), "%s", o->path);
	s->opts.path = s->path;
	s->wake_fd = -1;
	pthread_mutex_init(&s->readers_lock, NULL);
	pthread_mutex_init(&s->dummy_lock, NULL);
	if (pg <= 0)
		pg = 4096;
	/* The map must be a multiple of the OS page size. */
	s->opts.map_size = (o->map_size + (uint64_t)pg - 1) / (uint64_t)pg * (uint64_t)pg;

	rc = mdb_env_create(&s->env);
	if (rc != 0) {
		*error_r = "mdb_env_create failed";
		goto fail_lmdb;
	}
	mdb_env_set_maxdbs(s->env, ST_DB__COUNT + 2);
	mdb_env_set_maxreaders(s->env, o->max_readers);
	mdb_env_set_mapsize(s->env, s->opts.map_size);
	/* MDB_NOTLS: read transactions belong to st_reader handles, not to
	 * threads. Never MDB_NOSYNC / MDB_NOMETASYNC / MDB_MAPASYNC: a commit
	 * returns only after fsync (docs/store.md, durability). */
	rc = mdb_env_open(s->env, s->path, MDB_NOTLS, 0600);
	if (rc != 0) {
		*error_r = "cannot open the LMDB environment";
		goto fail_lmdb;
	}
	/* Reader slots of processes that died (a crash, a SIGKILL) would pin
	 * old pages forever and let the file grow without bound. */
	rc = mdb_reader_check(s->env, &dead);
	if (rc != 0) {
		*error_r = "mdb_reader_check failed";
		goto fail_lmdb;
	}
	if (dead > 0)
		sl_log(SL_LOG_WARN, ST_LOG, "cleared %d stale reader slot(s)", dead);
	/* LMDB fsyncs its files but not the directory that holds them: make
	 * a just-created data.mdb survive a power cut too. */
	{
		int dfd = open(s->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0 || fsync(dfd) < 0) {
			if (dfd >= 0)
				close(dfd);
			*error_r = "cannot fsync the store directory";
			rc = SL_EIO;
			goto fail;
		}
		close(dfd);
	}
	mdb_env_stat(s->env, &stat);
	s->page_size = stat.ms_psize;
	for (;;) {
		rc = schema_open(s, error_r);
		if (rc != ST_RETRY_MAPFULL)
			break;
		rc = st_map_grow(s, 0);
		if (rc < 0) {
			*error_r = "map too small for the schema";
			goto fail;
		}
	}
	if (rc < 0)
		goto fail;
	mdb_env_info(s->env, &info);
	atomic_store(&s->map_size, (uint64_t)info.me_mapsize);
	atomic_store(&s->map_used, ((uint64_t)info.me_last_pgno + 1) * s->page_size);

	s->ring = calloc(o->queue_size, sizeof(*s->ring));
	if (s->ring == NULL) {
		*error_r = "out of memory";
		rc = SL_ENOMEM;
		goto fail;
	}
	s->ring_mask = o->queue_size - 1;
	for (size_t i = 0; i < o->queue_size; i++)
		atomic_init(&s->ring[i].seq, i);
	s->wake_fd = eventfd(0, EFD_CLOEXEC);
	if (s->wake_fd < 0) {
		*error_r = "eventfd failed";
		rc = SL_EIO;
		goto fail;
	}
	rc = st_writer_start(s);
	if (rc < 0) {
		*error_r = "cannot start the writer thread";
		goto fail;
	}
	sl_log(SL_LOG_INFO, ST_LOG, "opened %s: schema %u, map %llu MiB", s->path,
	       s->schema_version, (unsigned long long)(info.me_mapsize >> 20));
	*s_r = s;
	return 0;
fail_lmdb:
	rc = st_lmdb_err(rc);
fail:
	st_store_close(&s);
	return rc;
}

void st_store_close(st_store_t **sp)
{
	st_store_t *s = sp != NULL ? *sp : NULL;

	if (s == NULL)
		return;
	*sp = NULL;
	if (s->writer_started)
		st_writer_stop(s);
	if (s->readers != NULL)
		sl_log(SL_LOG_ERR, ST_LOG, "store closed with readers still open");
	if (s->env != NULL)
		mdb_env_close(s->env);
	if (s->wake_fd >= 0)
		close(s->wake_fd);
	pthread_mutex_destroy(&s->readers_lock);
	pthread_mutex_destroy(&s->dummy_lock);
	free(s->ring);
	free(s);
}

void st_store_stats(st_store_t *s, st_store_stats_t *st)
{
	memset(st, 0, sizeof(*st));
	st->requests = atomic_load(&s->st_requests);
	st->batches = atomic_load(&s->st_batches);
	st->batch_max = atomic_load(&s->st_batch_max);
	st->map_grows = atomic_load(&s->st_grows);
	st->map_size = atomic_load(&s->map_size);
	st->map_used = atomic_load(&s->map_used);
	st->retries = atomic_load(&s->st_retries);
	st->singles = atomic_load(&s->st_singles);
	st->schema_version = s->schema_version;
	st->apply_ns = atomic_load(&s->st_apply_ns);
	st->commit_ns = atomic_load(&s->st_commit_ns);
	st->post_ns = atomic_load(&s->st_post_ns);
}

/* --- backup ------------------------------------------------------------ */

int st_store_backup(st_store_t *s, const char *dir, const char **error_r)
{
	char tmp[4200], fin[4200];
	st_reader_t *rd = NULL;
	int fd = -1, dfd = -1, rc;

	if (dir == NULL || strlen(dir) > 4000) {
		*error_r = "backup path missing or too long";
		return SL_EINVAL;
	}
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		*error_r = "cannot create the backup directory";
		return SL_EIO;
	}
	snprintf(tmp, sizeof(tmp), "%s/data.mdb.tmp", dir);
	snprintf(fin, sizeof(fin), "%s/data.mdb", dir);
	rc = st_reader_create(s, &rd);
	if (rc < 0) {
		*error_r = "out of memory";
		return rc;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		*error_r = "cannot create the backup file";
		rc = SL_EIO;
		goto fail;
	}
	/* The copy reads through its own read transaction; holding the gate
	 * keeps the writer from remapping under it. */
	rc = st_reader_begin(rd, NULL);
	if (rc < 0) {
		*error_r = "cannot enter the read gate";
		goto fail;
	}
	rc = mdb_env_copyfd2(s->env, fd, MDB_CP_COMPACT);
	st_reader_end(rd);
	if (rc != 0) {
		*error_r = "mdb_env_copyfd2 failed";
		rc = st_lmdb_err(rc);
		goto fail;
	}
	if (fsync(fd) < 0 || close(fd) < 0) {
		fd = -1;
		*error_r = "cannot fsync the backup file";
		rc = SL_EIO;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, fin) < 0) {
		*error_r = "cannot rename the backup file";
		rc = SL_EIO;
		goto fail;
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd) < 0) {
		*error_r = "cannot fsync the backup directory";
		rc = SL_EIO;
		goto fail;
	}
	close(dfd);
	st_reader_destroy(&rd);
	sl_log(SL_LOG_INFO, ST_LOG, "backup written to %s", fin);
	return 0;
fail:
	if (fd >= 0) {
		close(fd);
		unlink(tmp);
	}
	if (dfd >= 0)
		close(dfd);
	st_reader_destroy(&rd);
	return rc;
}
