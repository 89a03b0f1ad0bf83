/* rules_cache - compiled Hyperscan databases kept on disk between runs.
 *
 * Compiling the default rule set takes Hyperscan about 1.3 CPU seconds, ten
 * times what scanning a thousand messages costs. A database depends only on
 * what build_db hands to hs_compile_multi: the expressions, their flags and
 * ids, the mode, the Hyperscan version and the CPU it is tuned for. Those
 * are hashed (SHA-256) into the file name DIR/<hex>.hsdb, so a changed rule,
 * a new Hyperscan or another CPU simply misses; scores and descriptions are
 * not part of a database and do not invalidate it.
 *
 * File: "SLHSDB01", u32 n, then per pattern {u32 id, u8 flags, u32 hsflags}
 * as they stood after compiling (a pattern Hyperscan refused is a prefilter
 * confirmed by PCRE2), u64 length, the SHA-256 of the database bytes, and
 * hs_serialize_database's bytes. Every field is checked against what is
 * being built and the bytes against their hash (hs_deserialize_database
 * does not notice a flipped byte everywhere), and Hyperscan checks its
 * version and platform; anything that does not fit is a miss and the
 * database is compiled as if there were no cache. Writing goes through a
 * temporary file and rename(2), so a reader never sees half a file. Stale
 * files are never read again and may be deleted at any time. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/sha256.h>

#include "rules_private.h"
#include "sl_err.h"

#define CACHE_MAGIC "SLHSDB01"
#define CACHE_FORMAT "sluice rules hsdb 1"
#define CACHE_MAX_FILE (512u << 20)
#define CACHE_REC 9 /* u32 id, u8 flags, u32 hsflags */
#define CACHE_SUM WC_SHA256_DIGEST_SIZE

static int sha256(const void *data, size_t len, uint8_t out[CACHE_SUM])
{
	wc_Sha256 c;
	int rc = wc_InitSha256(&c);

	while (rc == 0 && len > 0) {
		word32 n = len > (1u << 30) ? (1u << 30) : (word32)len;

		rc = wc_Sha256Update(&c, data, n);
		data = (const uint8_t *)data + n;
		len -= n;
	}
	if (rc == 0)
		rc = wc_Sha256Final(&c, out);
	wc_Sha256Free(&c);
	return rc == 0 ? 0 : SL_EIO;
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

int rules_cache_path(const flt_ruleset_t *set, const uint32_t *ids, size_t n, unsigned mode,
		     char *path, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	hs_platform_info_t plat;
	uint8_t d[WC_SHA256_DIGEST_SIZE], rec[CACHE_REC];
	char name[2 * WC_SHA256_DIGEST_SIZE + 1];
	const char *ver = hs_version();
	wc_Sha256 c;
	int rc;

	memset(&plat, 0, sizeof(plat));
	if (hs_populate_platform(&plat) != HS_SUCCESS)
		return SL_EIO;
	if (wc_InitSha256(&c) != 0)
		return SL_ENOMEM;
	rc = wc_Sha256Update(&c, (const uint8_t *)CACHE_FORMAT, sizeof(CACHE_FORMAT));
	rc |= wc_Sha256Update(&c, (const uint8_t *)ver, (word32)strlen(ver) + 1);
	rc |= wc_Sha256Update(&c, (const uint8_t *)&plat.tune, sizeof(plat.tune));
	rc |= wc_Sha256Update(&c, (const uint8_t *)&plat.cpu_features, sizeof(plat.cpu_features));
	put32(rec, mode);
	put32(rec + 4, (uint32_t)n);
	rc |= wc_Sha256Update(&c, rec, 8);
	for (size_t i = 0; i < n && rc == 0; i++) {
		const pat_t *p = &set->pats[ids[i]];
		size_t relen = strlen(p->re);

		put32(rec, ids[i]);
		rec[4] = p->flags;
		put32(rec + 5, p->hsflags);
		rc |= wc_Sha256Update(&c, rec, CACHE_REC);
		put32(rec, (uint32_t)relen);
		rc |= wc_Sha256Update(&c, rec, 4);
		rc |= wc_Sha256Update(&c, (const uint8_t *)p->re, (word32)relen);
	}
	if (rc == 0)
		rc = wc_Sha256Final(&c, d);
	wc_Sha256Free(&c);
	if (rc != 0)
		return SL_EIO;
	for (size_t i = 0; i < sizeof(d); i++) {
		name[2 * i] = hex[d[i] >> 4];
		name[2 * i + 1] = hex[d[i] & 15];
	}
	name[sizeof(name) - 1] = '\0';
	if ((size_t)snprintf(path, len, "%s/%s.hsdb", set->cache_dir, name) >= len)
		return SL_ELIMIT;
	return 0;
}

static int read_all(const char *path, uint8_t **buf_r, size_t *len_r)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	uint8_t *buf;
	size_t got = 0;

	if (fd < 0)
		return SL_ENOENT;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
	    (unsigned long long)st.st_size > CACHE_MAX_FILE) {
		close(fd);
		return SL_EINVAL;
	}
	buf = malloc((size_t)st.st_size);
	if (buf == NULL) {
		close(fd);
		return SL_ENOMEM;
	}
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	if (got != (size_t)st.st_size) {
		free(buf);
		return SL_EIO;
	}
	*buf_r = buf;
	*len_r = got;
	return 0;
}

int rules_cache_load(flt_ruleset_t *set, const char *path, const uint32_t *ids, size_t n,
		     hs_database_t **db_r)
{
	uint8_t *buf = NULL;
	size_t len = 0, off;
	uint64_t dblen;
	uint8_t sum[CACHE_SUM];
	hs_database_t *db = NULL;
	int rc;

	*db_r = NULL;
	rc = read_all(path, &buf, &len);
	if (rc != 0)
		goto out;
	rc = SL_EINVAL;
	off = 8 + 4 + n * CACHE_REC + 8 + CACHE_SUM;
	if (len < off || memcmp(buf, CACHE_MAGIC, 8) != 0 || get32(buf + 8) != n)
		goto out;
	for (size_t i = 0; i < n; i++) {
		const uint8_t *r = buf + 12 + i * CACHE_REC;

		if (get32(r) != ids[i] || (r[4] & ~(PF_PREFILTER | PF_SOM)) != 0)
			goto out;
	}
	memcpy(&dblen, buf + off - 8 - CACHE_SUM, 8);
	if (dblen != len - off || sha256(buf + off, dblen, sum) != 0 ||
	    memcmp(sum, buf + off - CACHE_SUM, CACHE_SUM) != 0)
		goto out;
	if (hs_deserialize_database((const char *)buf + off, dblen, &db) != HS_SUCCESS) {
		db = NULL;
		goto out;
	}
	/* The patterns as they were compiled: prefilters confirmed by PCRE2. */
	for (size_t i = 0; i < n; i++) {
		const uint8_t *r = buf + 12 + i * CACHE_REC;
		pat_t *p = &set->pats[ids[i]];

		p->flags = r[4];
		p->hsflags = get32(r + 5);
	}
	*db_r = db;
	rc = 0;
out:
	free(buf);
	return rc;
}

/* Write all of BUF to FD. */
static int write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len > 0) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return SL_EIO;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

int rules_cache_store(const flt_ruleset_t *set, const char *path, const uint32_t *ids, size_t n,
		      const hs_database_t *db)
{
	static atomic_uint seq;
	char tmp[4200];
	char *bytes = NULL;
	size_t blen = 0, hlen = 12 + n * CACHE_REC + 8 + CACHE_SUM;
	uint8_t *head = NULL;
	uint64_t dblen;
	int fd, rc;

	if (hs_serialize_database(db, &bytes, &blen) != HS_SUCCESS)
		return SL_ENOMEM;
	head = malloc(hlen);
	if (head == NULL) {
		rc = SL_ENOMEM;
		goto out;
	}
	memcpy(head, CACHE_MAGIC, 8);
	put32(head + 8, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		uint8_t *r = head + 12 + i * CACHE_REC;

		put32(r, ids[i]);
		r[4] = set->pats[ids[i]].flags;
		put32(r + 5, set->pats[ids[i]].hsflags);
	}
	dblen = blen;
	memcpy(head + hlen - 8 - CACHE_SUM, &dblen, 8);
	rc = sha256(bytes, blen, head + hlen - CACHE_SUM);
	if (rc != 0)
		goto out;
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.%ld.%u.tmp", path, (long)getpid(),
			     atomic_fetch_add(&seq, 1)) >= sizeof(tmp)) {
		rc = SL_ELIMIT;
		goto out;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		rc = SL_EIO;
		goto out;
	}
	rc = write_all(fd, head, hlen);
	if (rc == 0)
		rc = write_all(fd, bytes, blen);
	if (close(fd) != 0 && rc == 0)
		rc = SL_EIO;
	if (rc == 0 && rename(tmp, path) != 0)
		rc = SL_EIO;
	if (rc != 0)
		unlink(tmp);
out:
	free(head);
	free(bytes); /* hs_serialize_database allocates with the misc allocator, malloc */
	return rc;
}
