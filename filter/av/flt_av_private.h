/* flt_av_private - the contract between the flt_av modules (loader, hex
 * translation, scanner, policy). Not for use outside filter/av/. */
#ifndef FLT_AV_PRIVATE_H
#define FLT_AV_PRIVATE_H

#include <stdbool.h>
#include <stdint.h>

#include <hs/hs.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "av/flt_av.h"
#include "sl_buf.h"

#define AV_LINE_MAX (64u * 1024)    /* one signature line */
#define AV_SIGS_MAX (1u << 22)      /* signatures of all kinds together */
#define AV_JUMP_MAX 32767u          /* largest {n-m} / offset shift bound we compile */
#define AV_LDB_SUBSIGS_MAX 64       /* ClamAV's own limit */
#define AV_LDB_NODES_MAX 256        /* expression nodes per logical signature */
#define AV_LDB_DEPTH_MAX 32         /* parentheses nesting in an expression */
#define AV_ANY_SIZE UINT64_MAX      /* hash entry with size '*' */

/* File types a body signature can be restricted to (ClamAV target types). */
enum av_target {
	AV_T_ANY = 0,
	AV_T_PE = 1,
	AV_T_ELF = 6,
	AV_T_MACHO = 9,
};

enum av_off_kind { AV_OFF_ANY, AV_OFF_ABS, AV_OFF_EOF };

typedef struct av_offset {
	enum av_off_kind kind;
	uint64_t off;   /* ABS: from the start; EOF: back from the end */
	uint64_t shift; /* floating offset: start may be up to this much later */
} av_offset_t;

enum av_hash_kind { AV_H_MD5, AV_H_SHA1, AV_H_SHA256, AV_H_COUNT };

typedef struct av_hash {
	uint64_t size; /* AV_ANY_SIZE for '*' */
	uint32_t name; /* offset in db->names */
	uint8_t digest[32];
} av_hash_t;

typedef struct av_hashset {
	av_hash_t *v;
	size_t n, cap;
	uint64_t *sizes; /* sorted distinct sizes (not AV_ANY_SIZE), built by compile */
	size_t nsizes;
	bool any;        /* some entry has size '*': hash every object */
	unsigned dlen;   /* digest length in bytes */
} av_hashset_t;

/* One Hyperscan expression. Several may feed one subsignature (::wa). */
typedef struct av_pat {
	char *expr;
	unsigned flags;
	uint32_t sig;      /* index in db->sigs */
	uint32_t sub;      /* subsignature index within an ldb; 0 for ndb */
	av_offset_t off;
	int64_t fixed_len; /* match length, or -1 when variable */
	uint32_t file, line;
	char *exact;       /* PCRE2 form with exact jumps, when Hyperscan only preselects */
	pcre2_code *confirm; /* compiled EXACT (with the offset window), or NULL: Hyperscan decides */
} av_pat_t;

enum av_node_op { AV_N_SUB, AV_N_AND, AV_N_OR, AV_N_EQ, AV_N_GT, AV_N_LT };

typedef struct av_node {
	uint8_t op;
	uint8_t has_y;    /* comparisons: ",Y" given */
	uint16_t a, b;    /* children (node indices within the signature's range) */
	uint32_t x, y;    /* AV_N_SUB: x = subsig; comparisons: X and Y */
} av_node_t;

enum av_sig_kind { AV_SIG_NDB, AV_SIG_LDB };

typedef struct av_sig {
	uint8_t kind;
	uint8_t target;       /* enum av_target */
	uint32_t name;        /* offset in db->names */
	uint32_t nsub;        /* ldb: subsignatures */
	uint32_t count_base;  /* ldb: first slot in the scanner's count array */
	uint32_t node_base;   /* ldb: first node; the root is the last one */
	uint32_t nnodes;
	uint64_t fsize_min, fsize_max; /* ldb FileSize:, else 0..UINT64_MAX */
} av_sig_t;

struct flt_av_db {
	bool compiled;
	av_hashset_t hashes[AV_H_COUNT];
	av_sig_t *sigs;
	size_t nsigs, sigs_cap;
	av_pat_t *pats;
	size_t npats, pats_cap;
	av_node_t *nodes;
	size_t nnodes, nodes_cap;
	uint32_t ncounts;      /* total ldb subsignatures: size of the count array */
	sl_buf_t names;        /* NUL-terminated signature names */
	sl_buf_t files;        /* NUL-terminated file names, for messages */
	hs_database_t *hs;     /* NULL when there are no patterns */
	flt_av_db_stats_t stats;
	char warn[FLT_AV_WARN_KEEP][256];
	char err[512];
};

/* av_hex_translate - turn a ClamAV hex signature into a regular
 * expression (Hyperscan and PCRE2 syntax alike) appended to OUT. WIDE
 * interleaves NULs after literal bytes (::w). WIDEN turns jumps above 32
 * bytes into ".*" (the Hyperscan preselection form) and sets *widened_r
 * (which may be NULL when the caller does not care).
 * *fixed_len_r is the match length, or -1 if it varies. Returns 0,
 * SL_EINVAL (malformed; *why_r says why) or SL_ENOTSUP (valid ClamAV
 * syntax we do not compile; *why_r says which), SL_ELIMIT/SL_ENOMEM from
 * the buffer. */
int av_hex_translate(const char *hex, size_t len, bool wide, bool widen, sl_buf_t *out, int64_t *fixed_len_r,
		     bool *widened_r, const char **why_r);

/* av_offset_parse - "*", "n", "n,m", "EOF-n", "EOF-n,m". 0, SL_EINVAL,
 * SL_ENOTSUP (EP+n, Sx+n, SEx, SL+n, VI). */
int av_offset_parse(const char *s, size_t len, av_offset_t *off_r, const char **why_r);

/* av_db_name - the NUL-terminated name at offset OFF. */
static inline const char *av_db_name(const flt_av_db_t *db, uint32_t off)
{
	return (const char *)db->names.data + off;
}

/* av_file_type - the target type of DATA (PE, ELF, Mach-O or ANY). */
enum av_target av_file_type(sl_slice_t data);

/* av_policy_check_name - extension rules against NAME. 1 and a reason in
 * REASON (and the policy name in NAME_R) on a hit, 0 otherwise. */
int av_policy_check_name(const flt_av_policy_t *p, const char *name, char *name_r, size_t name_len,
			 char *reason, size_t reason_len);

/* av_policy_type_blocked - 1 if MIME type T is in the policy's list. */
int av_policy_type_blocked(const flt_av_policy_t *p, const char *t);

#endif
