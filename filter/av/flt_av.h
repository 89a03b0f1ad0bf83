/* flt_av - virus signatures (ClamAV formats), archive recursion and
 * attachment policy.
 *
 * Two objects. A database (flt_av_db_t) is built once: load signature
 * files, then compile. After flt_av_db_compile it is immutable and may be
 * shared read-only by any number of threads. A scanner (flt_av_scanner_t)
 * belongs to one thread at a time: it holds the Hyperscan scratch, the
 * libmagic handle and per-scan counters. Scanners of one database never
 * touch each other.
 *
 * Formats and the supported subset are described in docs/filter-av.md. */
#ifndef FLT_AV_H
#define FLT_AV_H

#include <stddef.h>
#include <stdint.h>

#include "sl_buf.h"

typedef struct flt_av_db flt_av_db_t;
typedef struct flt_av_scanner flt_av_scanner_t;

/* The name given when a limit stops a scan (zip bombs and the like). */
#define FLT_AV_LIMITS_NAME "Heuristics.Limits.Exceeded"
/* The name of the built-in EICAR test-file detection. */
#define FLT_AV_EICAR_NAME "Eicar-Signature"

#define FLT_AV_NAME_MAX 128  /* signature names, including the NUL */
#define FLT_AV_PATH_MAX 512  /* "outer.zip/inner.zip/member", including the NUL */
#define FLT_AV_WARN_KEEP 32  /* warnings kept as text; all are counted */

enum flt_av_format {
	FLT_AV_FMT_HDB, /* MD5:size:name */
	FLT_AV_FMT_HSB, /* SHA1 or SHA256:size:name */
	FLT_AV_FMT_NDB, /* name:target:offset:hexsig */
	FLT_AV_FMT_LDB, /* name;target block;expression;subsig;... */
};

typedef struct flt_av_db_stats {
	uint32_t md5, sha1, sha256; /* hash signatures */
	uint32_t ndb;               /* body signatures */
	uint32_t ldb;               /* logical signatures */
	uint32_t ldb_subsigs;       /* their subsignatures */
	uint32_t patterns;          /* expressions in the Hyperscan database */
	uint32_t skipped;           /* unsupported lines skipped with a warning */
	uint32_t files;             /* signature files loaded */
} flt_av_db_stats_t;

/* flt_av_db_new - an empty database, ready for loading. 0 or SL_ENOMEM. */
int flt_av_db_new(flt_av_db_t **db_r);

/* flt_av_db_load_file - load one signature file; the format comes from the
 * extension (.hdb .hsb .ndb .ldb). Returns 0; SL_EINVAL for a malformed
 * line (error_r: "file:line: reason"); SL_ENOTSUP for an unknown
 * extension; SL_EIO if it cannot be read; SL_ELIMIT past the database
 * limits; SL_ESTATE after compile. Unsupported lines are skipped and
 * counted (flt_av_db_warning). On error the lines already loaded stay.
 * error_r points into the database and is valid until the next call. */
int flt_av_db_load_file(flt_av_db_t *db, const char *path, const char **error_r);

/* flt_av_db_load_dir - load every .hdb .hsb .ndb .ldb file of DIR in name
 * order (other files are ignored). Same returns; stops at the first error. */
int flt_av_db_load_dir(flt_av_db_t *db, const char *dir, const char **error_r);

/* flt_av_db_load_text - load signatures in FORMAT from memory; FILENAME is
 * only used in messages. Same returns as flt_av_db_load_file. */
int flt_av_db_load_text(flt_av_db_t *db, enum flt_av_format format, const char *filename,
			const char *text, size_t len, const char **error_r);

/* flt_av_db_compile - build the Hyperscan database and the hash indexes.
 * After it the database is read-only and thread-safe. 0; SL_EINVAL when
 * Hyperscan refuses a pattern (error_r names its file:line); SL_ENOMEM;
 * SL_ESTATE if already compiled. An empty database compiles (it then
 * detects EICAR only). */
int flt_av_db_compile(flt_av_db_t *db, const char **error_r);

/* flt_av_db_stats - counts of what was loaded. */
void flt_av_db_stats(const flt_av_db_t *db, flt_av_db_stats_t *stats_r);

/* flt_av_db_warning - the Nth kept warning text ("file:line: ...") or NULL.
 * At most FLT_AV_WARN_KEEP are kept; stats.skipped counts them all. */
const char *flt_av_db_warning(const flt_av_db_t *db, unsigned n);

/* flt_av_db_free - release the database and set *db to NULL. Every scanner
 * of it must be freed first. NULL is fine. */
void flt_av_db_free(flt_av_db_t **db);

/* Hard limits of one scan (one top-level buffer and all it contains). */
typedef struct flt_av_limits {
	uint32_t max_depth;      /* archive nesting; the top-level buffer is depth 0 */
	uint32_t max_files;      /* objects scanned, the top level included */
	uint64_t max_total;      /* bytes scanned in all, the top level included */
	uint64_t max_file;       /* bytes of one extracted member */
	uint32_t max_ratio;      /* extracted bytes per byte of the archive holding them */
	uint64_t ratio_floor;    /* the ratio is judged only past this many extracted bytes */
} flt_av_limits_t;

/* flt_av_limits_default - depth 16, 1000 files, 100 MiB total, 25 MiB per
 * member, ratio 100 past 1 MiB. */
void flt_av_limits_default(flt_av_limits_t *limits_r);

/* Attachment policy. The lists are NULL-terminated arrays of strings that
 * the caller keeps alive as long as the scanner; NULL means the built-in
 * default list, and an array holding only NULL means "none". */
typedef struct flt_av_policy {
	const char *const *block_ext;    /* extensions, lower case, without the dot */
	const char *const *decoy_ext;    /* inner extensions that make a double extension */
	const char *const *block_types;  /* MIME types from libmagic (true type) */
	int block_encrypted;             /* 1: an encrypted archive member is a policy hit */
	int enabled;                     /* 0: no policy checks at all */
} flt_av_policy_t;

/* flt_av_policy_default - defaults (docs/filter-av.md): enabled, encrypted
 * members blocked, built-in lists. */
void flt_av_policy_default(flt_av_policy_t *policy_r);

/* The built-in lists, NULL-terminated. */
extern const char *const flt_av_default_block_ext[];
extern const char *const flt_av_default_decoy_ext[];
extern const char *const flt_av_default_block_types[];

/* flt_av_scanner_new - a scanner for one thread. LIMITS and POLICY are
 * copied (NULL: defaults); the lists they point to are not. 0; SL_ESTATE if
 * DB is not compiled; SL_ENOMEM; SL_EIO if libmagic cannot load its
 * database (error_r says why). */
int flt_av_scanner_new(const flt_av_db_t *db, const flt_av_limits_t *limits,
		       const flt_av_policy_t *policy, flt_av_scanner_t **sc_r,
		       const char **error_r);

/* flt_av_scanner_free - release the scanner, set *sc to NULL. NULL is fine. */
void flt_av_scanner_free(flt_av_scanner_t **sc);

enum flt_av_verdict {
	FLT_AV_CLEAN = 0,
	FLT_AV_INFECTED, /* name: the signature */
	FLT_AV_POLICY,   /* name: Policy.*; reason says which rule */
	FLT_AV_LIMITS,   /* name: FLT_AV_LIMITS_NAME; reason says which limit */
};

typedef struct flt_av_result {
	enum flt_av_verdict verdict;
	char name[FLT_AV_NAME_MAX];
	char reason[256];         /* human text for POLICY and LIMITS, "" otherwise */
	char where[FLT_AV_PATH_MAX]; /* the object that decided: "a.zip/b.zip/x.exe" */
	uint32_t files;           /* objects scanned */
	uint64_t bytes;           /* bytes scanned */
	uint32_t encrypted;       /* encrypted members not scanned (policy allowed them) */
	uint32_t broken;          /* archives that stopped early on a format error */
} flt_av_result_t;

/* flt_av_verdict_str - "clean", "infected", "policy", "limits". */
const char *flt_av_verdict_str(enum flt_av_verdict v);

/* flt_av_scan - scan one object: NAME is its file name (may be NULL or ""),
 * DECLARED_TYPE the MIME type its sender declared (may be NULL), DATA its
 * decoded bytes. Archives inside are scanned recursively within the
 * scanner's limits. The first finding decides and ends the scan, in this
 * order per object: EICAR, body signatures, hash signatures, logical
 * signatures (clamscan's order), policy, then the archive's members.
 * Returns 0 with *res_r filled (any verdict), or SL_ENOMEM / SL_EIO (or
 * SL_ELIMIT for an object over 4 GiB with limits raised that far) when the
 * scan itself failed (*res_r is then CLEAN and must not be trusted). Bad
 * input never fails the call. */
int flt_av_scan(flt_av_scanner_t *sc, const char *name, const char *declared_type,
		sl_slice_t data, flt_av_result_t *res_r);

#endif
