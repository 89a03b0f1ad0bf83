/* flt_av_scan - scan one object and the archives inside it.
 *
 * Per object, in order: EICAR, hash signatures (only for sizes the
 * database has, ClamAV's size-set trick), one Hyperscan block scan for all
 * body and logical subsignatures, the attachment policy, then, if the
 * bytes start like an archive or a compressed stream, its members through
 * libarchive. Every limit is checked before the bytes it guards are
 * produced, so a bomb costs at most the limits' worth of work. */
#include <archive.h>
#include <archive_entry.h>
#include <magic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/md5.h>
#include <wolfssl/wolfcrypt/sha.h>
#include <wolfssl/wolfcrypt/sha256.h>

#include "av/flt_av_dec.h"
#include "av/flt_av_private.h"
#include "sl_err.h"

#define AV_MAGIC_BYTES (256u * 1024) /* what libmagic looks at */
#define AV_READ_CHUNK (64u * 1024)
#define AV_CONFIRM_MATCH_LIMIT 1000000u /* PCRE2 steps per confirmation */
#define AV_CONFIRM_DEPTH_LIMIT 100000u
#define AV_CONFIRM_COUNT_MAX 256u       /* matches counted for a logical subsignature */

struct flt_av_scanner {
	const flt_av_db_t *db;
	flt_av_limits_t lim;
	flt_av_policy_t pol;
	hs_scratch_t *scratch;
	magic_t magic;
	uint32_t *counts;  /* ldb subsignature match counts, zero between scans */
	uint8_t *touched;  /* per signature: has counts this scan */
	uint32_t *tlist;   /* the touched signatures */
	size_t ntouched;
	uint8_t *pflag;    /* per pattern: waits for PCRE2 confirmation this scan */
	uint32_t *plist;   /* those patterns */
	size_t npending;
	pcre2_match_data *md;
	pcre2_match_context *mctx;
	/* per scan */
	flt_av_result_t *res;
	size_t pathlen;
	char path[FLT_AV_PATH_MAX];
};

void flt_av_limits_default(flt_av_limits_t *l)
{
	l->max_depth = 16;
	l->max_files = 1000;
	l->max_total = 100ull << 20;
	l->max_file = 25ull << 20;
	l->max_ratio = 100;
	l->ratio_floor = 1ull << 20;
}

const char *flt_av_verdict_str(enum flt_av_verdict v)
{
	switch (v) {
	case FLT_AV_CLEAN: return "clean";
	case FLT_AV_INFECTED: return "infected";
	case FLT_AV_POLICY: return "policy";
	case FLT_AV_LIMITS: return "limits";
	}
	return "unknown";
}

int flt_av_scanner_new(const flt_av_db_t *db, const flt_av_limits_t *limits, const flt_av_policy_t *policy,
		       flt_av_scanner_t **sc_r, const char **error_r)
{
	flt_av_scanner_t *sc;

	*sc_r = NULL;
	*error_r = NULL;
	if (!db->compiled) {
		*error_r = "signature database not compiled";
		return SL_ESTATE;
	}
	sc = calloc(1, sizeof(*sc));
	if (sc == NULL)
		return SL_ENOMEM;
	sc->db = db;
	if (limits != NULL)
		sc->lim = *limits;
	else
		flt_av_limits_default(&sc->lim);
	if (policy != NULL)
		sc->pol = *policy;
	else
		flt_av_policy_default(&sc->pol);
	if (db->hs != NULL && hs_alloc_scratch(db->hs, &sc->scratch) != HS_SUCCESS)
		goto nomem;
	if (db->ncounts > 0 && (sc->counts = calloc(db->ncounts, sizeof(*sc->counts))) == NULL)
		goto nomem;
	if (db->nsigs > 0 && ((sc->touched = calloc(db->nsigs, 1)) == NULL ||
			      (sc->tlist = calloc(db->nsigs, sizeof(*sc->tlist))) == NULL))
		goto nomem;
	if (db->npats > 0 && ((sc->pflag = calloc(db->npats, 1)) == NULL ||
			      (sc->plist = calloc(db->npats, sizeof(*sc->plist))) == NULL))
		goto nomem;
	/* PCRE2 confirmation: bounded backtracking, per-thread match data */
	sc->md = pcre2_match_data_create(4, NULL);
	sc->mctx = pcre2_match_context_create(NULL);
	if (sc->md == NULL || sc->mctx == NULL)
		goto nomem;
	pcre2_set_match_limit(sc->mctx, AV_CONFIRM_MATCH_LIMIT);
	pcre2_set_depth_limit(sc->mctx, AV_CONFIRM_DEPTH_LIMIT);
	if (sc->pol.enabled) {
		sc->magic = magic_open(MAGIC_MIME_TYPE | MAGIC_NO_CHECK_COMPRESS | MAGIC_NO_CHECK_ENCODING |
				       MAGIC_ERROR);
		if (sc->magic == NULL)
			goto nomem;
		if (magic_load(sc->magic, NULL) != 0) {
			/* the scanner is freed below: the text lives in thread-local storage */
			static __thread char text[256];

			snprintf(text, sizeof(text), "libmagic: %s", magic_error(sc->magic));
			*error_r = text;
			flt_av_scanner_free(&sc);
			return SL_EIO;
		}
	}
	*sc_r = sc;
	return 0;
nomem:
	flt_av_scanner_free(&sc);
	return SL_ENOMEM;
}

void flt_av_scanner_free(flt_av_scanner_t **scp)
{
	flt_av_scanner_t *sc = *scp;

	if (sc == NULL)
		return;
	hs_free_scratch(sc->scratch);
	if (sc->magic != NULL)
		magic_close(sc->magic);
	free(sc->counts);
	free(sc->touched);
	free(sc->tlist);
	free(sc->pflag);
	free(sc->plist);
	pcre2_match_data_free(sc->md);
	pcre2_match_context_free(sc->mctx);
	free(sc);
	*scp = NULL;
}

/* ---- verdicts ---- */

static void set_verdict(flt_av_scanner_t *sc, enum flt_av_verdict v, const char *name, const char *reason)
{
	flt_av_result_t *r = sc->res;

	r->verdict = v;
	snprintf(r->name, sizeof(r->name), "%s", name);
	snprintf(r->reason, sizeof(r->reason), "%s", reason != NULL ? reason : "");
	snprintf(r->where, sizeof(r->where), "%s", sc->path);
}

static void limit_hit(flt_av_scanner_t *sc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void limit_hit(flt_av_scanner_t *sc, const char *fmt, ...)
{
	char reason[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	set_verdict(sc, FLT_AV_LIMITS, FLT_AV_LIMITS_NAME, reason);
}

/* ---- EICAR ---- */

/* The EICAR test file: these 68 bytes first, then nothing but white space
 * (space, tab, CR, LF, Ctrl-Z) up to 128 bytes in all. */
static const char av_eicar[] = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

static bool is_eicar(sl_slice_t d)
{
	const size_t n = sizeof(av_eicar) - 1;

	if (d.len < n || d.len > 128 || memcmp(d.ptr, av_eicar, n) != 0)
		return false;
	for (size_t i = n; i < d.len; i++)
		if (d.ptr[i] != ' ' && d.ptr[i] != '\t' && d.ptr[i] != '\r' && d.ptr[i] != '\n' && d.ptr[i] != 0x1a)
			return false;
	return true;
}

/* ---- hashes ---- */

static int digest(enum av_hash_kind k, sl_slice_t d, uint8_t *out)
{
	const uint8_t *p = d.ptr;
	size_t left = d.len;
	int rc = 0;

	/* wolfCrypt takes word32 lengths: feed large buffers in slices */
	if (k == AV_H_MD5) {
		wc_Md5 c;

		rc = wc_InitMd5(&c);
		for (; rc == 0 && left > 0;) {
			word32 n = left > (1u << 30) ? (1u << 30) : (word32)left;
			rc = wc_Md5Update(&c, p, n);
			p += n;
			left -= n;
		}
		if (rc == 0)
			rc = wc_Md5Final(&c, out);
		wc_Md5Free(&c);
	} else if (k == AV_H_SHA1) {
		wc_Sha c;

		rc = wc_InitSha(&c);
		for (; rc == 0 && left > 0;) {
			word32 n = left > (1u << 30) ? (1u << 30) : (word32)left;
			rc = wc_ShaUpdate(&c, p, n);
			p += n;
			left -= n;
		}
		if (rc == 0)
			rc = wc_ShaFinal(&c, out);
		wc_ShaFree(&c);
	} else {
		wc_Sha256 c;

		rc = wc_InitSha256(&c);
		for (; rc == 0 && left > 0;) {
			word32 n = left > (1u << 30) ? (1u << 30) : (word32)left;
			rc = wc_Sha256Update(&c, p, n);
			p += n;
			left -= n;
		}
		if (rc == 0)
			rc = wc_Sha256Final(&c, out);
		wc_Sha256Free(&c);
	}
	return rc == 0 ? 0 : SL_EIO;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static const av_hash_t *hash_find(const av_hashset_t *hs, uint64_t size, const uint8_t *dg)
{
	size_t lo = 0, hi = hs->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const av_hash_t *h = &hs->v[mid];
		int c = h->size != size ? (h->size < size ? -1 : 1) : memcmp(h->digest, dg, hs->dlen);

		if (c == 0)
			return h;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* 1 and the signature name on a hit, 0 clean, <0 error. */
static int check_hashes(const flt_av_db_t *db, sl_slice_t d, const char **name_r)
{
	for (int k = 0; k < AV_H_COUNT; k++) {
		const av_hashset_t *hs = &db->hashes[k];
		uint64_t size = d.len;
		const av_hash_t *h;
		uint8_t dg[32];
		bool sized;
		int rc;

		if (hs->n == 0)
			continue;
		sized = bsearch(&size, hs->sizes, hs->nsizes, sizeof(*hs->sizes), cmp_u64) != NULL;
		if (!sized && !hs->any)
			continue;
		memset(dg, 0, sizeof(dg));
		rc = digest((enum av_hash_kind)k, d, dg);
		if (rc < 0)
			return rc;
		h = sized ? hash_find(hs, size, dg) : NULL;
		if (h == NULL && hs->any)
			h = hash_find(hs, AV_ANY_SIZE, dg);
		if (h != NULL) {
			*name_r = av_db_name(db, h->name);
			return 1;
		}
	}
	return 0;
}

/* ---- body and logical signatures ---- */

enum av_target av_file_type(sl_slice_t d)
{
	static const uint8_t macho[][4] = {{0xfe, 0xed, 0xfa, 0xce}, {0xfe, 0xed, 0xfa, 0xcf},
					   {0xce, 0xfa, 0xed, 0xfe}, {0xcf, 0xfa, 0xed, 0xfe}};

	if (d.len >= 4 && memcmp(d.ptr, "\x7f" "ELF", 4) == 0)
		return AV_T_ELF;
	for (size_t i = 0; i < sizeof(macho) / sizeof(macho[0]); i++)
		if (d.len >= 4 && memcmp(d.ptr, macho[i], 4) == 0)
			return AV_T_MACHO;
	if (d.len >= 0x40 && d.ptr[0] == 'M' && d.ptr[1] == 'Z') {
		uint32_t pe = (uint32_t)d.ptr[0x3c] | (uint32_t)d.ptr[0x3d] << 8 | (uint32_t)d.ptr[0x3e] << 16 |
			      (uint32_t)d.ptr[0x3f] << 24;

		if ((uint64_t)pe + 4 <= d.len && memcmp(d.ptr + pe, "PE\0\0", 4) == 0)
			return AV_T_PE;
	}
	return AV_T_ANY;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

typedef struct av_hsctx {
	flt_av_scanner_t *sc;
	uint64_t size;
	uint8_t ftype;
	int64_t hit; /* ndb signature index, or -1 */
} av_hsctx_t;

static int on_match(unsigned int id, unsigned long long from, unsigned long long to, unsigned int flags,
		    void *ctxp)
{
	av_hsctx_t *ctx = ctxp;
	flt_av_scanner_t *sc = ctx->sc;
	const flt_av_db_t *db = sc->db;
	const av_pat_t *p = &db->pats[id];
	const av_sig_t *s = &db->sigs[p->sig];
	uint64_t start = p->fixed_len >= 0 ? to - (uint64_t)p->fixed_len : from;
	uint32_t *c;

	(void)flags;
	if (s->target != AV_T_ANY && s->target != ctx->ftype)
		return 0;
	if (s->kind == AV_SIG_LDB && (ctx->size < s->fsize_min || ctx->size > s->fsize_max))
		return 0;
	if (p->confirm != NULL) {
		/* Hyperscan only preselected: PCRE2 decides after the scan */
		if (!sc->pflag[id]) {
			sc->pflag[id] = 1;
			sc->plist[sc->npending++] = id;
		}
		return 0;
	}
	if (p->off.kind == AV_OFF_ABS) {
		if (start < p->off.off || start - p->off.off > p->off.shift)
			return 0;
	} else if (p->off.kind == AV_OFF_EOF) {
		uint64_t base;

		if (ctx->size < p->off.off)
			return 0;
		base = ctx->size - p->off.off;
		if (start < base || start - base > p->off.shift)
			return 0;
	}
	if (s->kind == AV_SIG_NDB) {
		ctx->hit = p->sig;
		return 1; /* the first body signature decides: stop the scan */
	}
	c = &sc->counts[s->count_base + p->sub];
	if (*c < UINT32_MAX)
		(*c)++;
	if (!sc->touched[p->sig]) {
		sc->touched[p->sig] = 1;
		sc->tlist[sc->ntouched++] = p->sig;
	}
	return 0;
}

/* Matches of pattern P's exact form in D, up to MAX: anywhere for offset
 * '*', else anchored at the start of its offset window (the expression
 * itself spans the window's shift). A PCRE2 error, such as the match
 * limit, counts as no match. */
static uint32_t confirm(flt_av_scanner_t *sc, const av_pat_t *p, sl_slice_t d, uint32_t max)
{
	PCRE2_SPTR subj = d.len ? (PCRE2_SPTR)d.ptr : (PCRE2_SPTR) "";
	PCRE2_SIZE start = 0;
	uint32_t n = 0;

	if (p->off.kind != AV_OFF_ANY) {
		uint64_t base;

		if (p->off.kind == AV_OFF_ABS)
			base = p->off.off;
		else if (d.len >= p->off.off)
			base = d.len - p->off.off;
		else
			return 0;
		if (base > d.len)
			return 0;
		return pcre2_match(p->confirm, subj, d.len, (PCRE2_SIZE)base, PCRE2_ANCHORED, sc->md, sc->mctx) >= 0;
	}
	while (n < max && start <= d.len) {
		PCRE2_SIZE *ov;

		if (pcre2_match(p->confirm, subj, d.len, start, 0, sc->md, sc->mctx) < 0)
			break;
		ov = pcre2_get_ovector_pointer(sc->md);
		n++;
		start = ov[1] > start ? ov[1] : start + 1;
	}
	return n;
}

/* After the Hyperscan pass: confirm the preselected patterns, in load
 * order. Returns the first confirmed body signature, or -1; logical
 * subsignatures add their confirmed matches to the counts. */
static int64_t confirm_pending(flt_av_scanner_t *sc, sl_slice_t d, bool body_found)
{
	const flt_av_db_t *db = sc->db;
	int64_t hit = -1;

	if (sc->npending > 1)
		qsort(sc->plist, sc->npending, sizeof(*sc->plist), cmp_u32);
	for (size_t i = 0; i < sc->npending; i++) {
		const av_pat_t *p = &db->pats[sc->plist[i]];
		const av_sig_t *s = &db->sigs[p->sig];

		sc->pflag[sc->plist[i]] = 0;
		if (s->kind == AV_SIG_NDB) {
			if (!body_found && hit < 0 && confirm(sc, p, d, 1) > 0)
				hit = p->sig;
		} else if (!body_found && hit < 0) {
			uint32_t n = confirm(sc, p, d, AV_CONFIRM_COUNT_MAX);
			uint32_t *c = &sc->counts[s->count_base + p->sub];

			if (n == 0)
				continue;
			*c = *c > UINT32_MAX - n ? UINT32_MAX : *c + n;
			if (!sc->touched[p->sig]) {
				sc->touched[p->sig] = 1;
				sc->tlist[sc->ntouched++] = p->sig;
			}
		}
	}
	sc->npending = 0;
	return hit;
}

typedef struct av_val {
	uint64_t count;
	uint32_t distinct;
} av_val_t;

/* Value of node IDX of logical signature S (docs/filter-av.md). */
static av_val_t ldb_eval(const flt_av_scanner_t *sc, const av_sig_t *s, uint32_t idx)
{
	const av_node_t *n = &sc->db->nodes[s->node_base + idx];
	av_val_t a, b, v = {0, 0};
	bool ok;

	switch (n->op) {
	case AV_N_SUB:
		v.count = sc->counts[s->count_base + n->x];
		v.distinct = v.count > 0;
		return v;
	case AV_N_AND:
	case AV_N_OR:
		a = ldb_eval(sc, s, n->a);
		b = ldb_eval(sc, s, n->b);
		if (n->op == AV_N_AND && (a.count == 0 || b.count == 0))
			return v;
		v.count = a.count + b.count;
		v.distinct = a.distinct + b.distinct;
		return v;
	default:
		a = ldb_eval(sc, s, n->a);
		ok = n->op == AV_N_EQ ? a.count == n->x : n->op == AV_N_GT ? a.count > n->x : a.count < n->x;
		if (n->has_y && a.distinct < n->y)
			ok = false;
		v.count = ok;
		v.distinct = ok;
		return v;
	}
}

/* One Hyperscan pass for body and logical subsignatures, then the hashes,
 * then the logical expressions: the order in which clamscan reports when
 * several kinds match one object. 1 and the name on a hit, 0 clean, <0
 * error. */
static int check_signatures(flt_av_scanner_t *sc, sl_slice_t d, const char **name_r)
{
	const flt_av_db_t *db = sc->db;
	av_hsctx_t ctx = {.sc = sc, .size = d.len, .hit = -1};
	const char *empty = "";
	int found = 0;

	if (db->hs != NULL) {
		hs_error_t err;

		if (d.len > UINT32_MAX)
			return SL_ELIMIT; /* hs_scan takes an unsigned int length */
		ctx.ftype = (uint8_t)av_file_type(d);
		err = hs_scan(db->hs, d.len ? (const char *)d.ptr : empty, (unsigned)d.len, 0, sc->scratch,
			      on_match, &ctx);
		if (err != HS_SUCCESS && err != HS_SCAN_TERMINATED)
			found = SL_EIO;
		if (sc->npending > 0) {
			int64_t hit = confirm_pending(sc, d, ctx.hit >= 0 || found < 0);

			if (ctx.hit < 0)
				ctx.hit = hit;
		}
		if (found == 0 && ctx.hit >= 0) {
			*name_r = av_db_name(db, db->sigs[ctx.hit].name);
			found = 1;
		}
	}
	if (found == 0)
		found = check_hashes(db, d, name_r);
	/* the earliest-loaded logical signature that holds wins */
	if (sc->ntouched > 1)
		qsort(sc->tlist, sc->ntouched, sizeof(*sc->tlist), cmp_u32);
	for (size_t i = 0; i < sc->ntouched; i++) {
		const av_sig_t *s = &db->sigs[sc->tlist[i]];

		if (found == 0 && ldb_eval(sc, s, s->nnodes - 1).count > 0) {
			*name_r = av_db_name(db, s->name);
			found = 1;
		}
		memset(&sc->counts[s->count_base], 0, s->nsub * sizeof(*sc->counts));
		sc->touched[sc->tlist[i]] = 0;
	}
	sc->ntouched = 0;
	return found;
}

/* ---- policy ---- */

/* Is D the inline text of the message rather than an attachment: no file
 * name, a declared text type, at the top level (not an archive member), and
 * no NUL byte in what libmagic would look at? A mail client shows such a
 * part as text and never runs it, and every executable format the policy
 * blocks has NULs in its header, so libmagic has nothing to find there.
 * libmagic's text tests cost about 1 ms per part, more than all the rest of
 * the scan of a typical message (docs/perf.md), so body text skips them. */
static bool is_body_text(const char *name, const char *declared, sl_slice_t d, uint32_t depth)
{
	size_t n = d.len > AV_MAGIC_BYTES ? AV_MAGIC_BYTES : d.len;

	if (depth != 0 || name != NULL || declared == NULL)
		return false;
	while (*declared == ' ')
		declared++;
	if (strncasecmp(declared, "text/", 5) != 0)
		return false;
	return memchr(d.ptr, 0, n) == NULL;
}

/* 1 on a policy hit (verdict set). */
static int check_policy(flt_av_scanner_t *sc, const char *name, const char *declared, sl_slice_t d,
			uint32_t depth)
{
	char pname[64], reason[256];
	const char *t;

	if (!sc->pol.enabled)
		return 0;
	if (name != NULL && av_policy_check_name(&sc->pol, name, pname, sizeof(pname), reason, sizeof(reason))) {
		set_verdict(sc, FLT_AV_POLICY, pname, reason);
		return 1;
	}
	if (declared != NULL && av_policy_type_blocked(&sc->pol, declared)) {
		snprintf(reason, sizeof(reason), "declared type %.200s is blocked", declared);
		set_verdict(sc, FLT_AV_POLICY, "Policy.DeclaredType", reason);
		return 1;
	}
	if (sc->magic != NULL && d.len > 0 && !is_body_text(name, declared, d, depth)) {
		t = magic_buffer(sc->magic, d.ptr, d.len > AV_MAGIC_BYTES ? AV_MAGIC_BYTES : d.len);
		if (t != NULL && av_policy_type_blocked(&sc->pol, t)) {
			snprintf(reason, sizeof(reason), "true type %.200s is blocked", t);
			set_verdict(sc, FLT_AV_POLICY, "Policy.TrueType", reason);
			return 1;
		}
	}
	return 0;
}

/* ---- archives ---- */

enum av_arc { AV_ARC_NONE, AV_ARC_ARCHIVE, AV_ARC_COMPRESSED };

/* Only bytes that start like an archive or a compressed stream go to
 * libarchive: its format bidders are cheap, but not free on every file. */
static enum av_arc archive_kind(sl_slice_t d)
{
	static const struct {
		const char *magic;
		size_t len, off;
		enum av_arc kind;
	} tab[] = {
		{"PK\x03\x04", 4, 0, AV_ARC_ARCHIVE},    {"PK\x05\x06", 4, 0, AV_ARC_ARCHIVE},
		{"PK\x07\x08", 4, 0, AV_ARC_ARCHIVE},    {"7z\xbc\xaf\x27\x1c", 6, 0, AV_ARC_ARCHIVE},
		{"Rar!\x1a\x07", 6, 0, AV_ARC_ARCHIVE},  {"MSCF\0\0\0\0", 8, 0, AV_ARC_ARCHIVE},
		{"!<arch>\n", 8, 0, AV_ARC_ARCHIVE},     {"070707", 6, 0, AV_ARC_ARCHIVE},
		{"070701", 6, 0, AV_ARC_ARCHIVE},        {"070702", 6, 0, AV_ARC_ARCHIVE},
		{"\xc7\x71", 2, 0, AV_ARC_ARCHIVE},      {"\x71\xc7", 2, 0, AV_ARC_ARCHIVE},
		{"ustar", 5, 257, AV_ARC_ARCHIVE},       {"\x1f\x8b", 2, 0, AV_ARC_COMPRESSED},
		{"BZh", 3, 0, AV_ARC_COMPRESSED},        {"\xfd" "7zXZ\0", 6, 0, AV_ARC_COMPRESSED},
		{"\x28\xb5\x2f\xfd", 4, 0, AV_ARC_COMPRESSED}, {"LZIP", 4, 0, AV_ARC_COMPRESSED},
		{"\x1f\x9d", 2, 0, AV_ARC_COMPRESSED},   {"\x5d\x00\x00", 3, 0, AV_ARC_COMPRESSED},
	};

	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (d.len >= tab[i].off + tab[i].len && memcmp(d.ptr + tab[i].off, tab[i].magic, tab[i].len) == 0)
			return tab[i].kind;
	return AV_ARC_NONE;
}

static int scan_object(flt_av_scanner_t *sc, const char *name, const char *declared, sl_slice_t d,
		       uint32_t depth);

/* Push "/NAME" on the path; returns the old length for path_pop. */
static size_t path_push(flt_av_scanner_t *sc, const char *name)
{
	size_t old = sc->pathlen;
	int n = snprintf(sc->path + old, sizeof(sc->path) - old, "%s%s", old ? "/" : "", name);

	if (n < 0 || (size_t)n >= sizeof(sc->path) - old)
		sc->pathlen = sizeof(sc->path) - 1;
	else
		sc->pathlen = old + (size_t)n;
	return old;
}

static void path_pop(flt_av_scanner_t *sc, size_t old)
{
	sc->pathlen = old;
	sc->path[old] = '\0';
}

/* The name a raw compressed stream's content goes by: "x.gz" -> "x",
 * "x.tgz" -> "x.tar". */
static void raw_member_name(const char *outer, char *out, size_t len)
{
	static const char *const sfx[] = {".gz", ".bz2", ".xz", ".zst", ".lz", ".lzma", ".z", ".Z", NULL};
	size_t n = outer != NULL ? strlen(outer) : 0;

	if (n == 0) {
		snprintf(out, len, "data");
		return;
	}
	if (n > 4 && strcasecmp(outer + n - 4, ".tgz") == 0) {
		snprintf(out, len, "%.*s.tar", (int)(n - 4), outer);
		return;
	}
	for (size_t i = 0; sfx[i] != NULL; i++) {
		size_t s = strlen(sfx[i]);

		if (n > s && strcasecmp(outer + n - s, sfx[i]) == 0) {
			snprintf(out, len, "%.*s", (int)(n - s), outer);
			return;
		}
	}
	snprintf(out, len, "%s", outer);
}

/* Does the compressed stream D hold a tar? Decompresses one block. */
static bool compressed_holds_tar(sl_slice_t d)
{
	struct archive *a = archive_read_new();
	struct archive_entry *ent;
	uint8_t block[512];
	size_t got = 0;
	bool tar = false;

	if (a == NULL)
		return false;
	archive_read_support_filter_all(a);
	archive_read_support_format_raw(a);
	if (archive_read_open_memory(a, d.ptr, d.len) == ARCHIVE_OK &&
	    archive_read_next_header(a, &ent) == ARCHIVE_OK) {
		while (got < sizeof(block)) {
			la_ssize_t n = archive_read_data(a, block + got, sizeof(block) - got);

			if (n <= 0)
				break;
			got += (size_t)n;
		}
		tar = got == sizeof(block) && memcmp(block + 257, "ustar", 5) == 0;
	}
	archive_read_free(a);
	return tar;
}

/* Scan the members of archive D. 0 (verdict may be set) or <0 error. */
static int scan_archive(flt_av_scanner_t *sc, const char *name, sl_slice_t d, enum av_arc kind, uint32_t depth)
{
	flt_av_result_t *res = sc->res;
	struct archive *a = archive_read_new();
	struct archive_entry *ent;
	uint64_t extracted = 0;
	sl_buf_t buf;
	int rc = 0, r;

	if (a == NULL)
		return SL_ENOMEM;
	sl_buf_init(&buf, 0);
	if (kind == AV_ARC_COMPRESSED && compressed_holds_tar(d)) {
		/* a .tar.gz (.tar.bz2, ...) is one archive, one level */
		archive_read_support_filter_all(a);
		archive_read_support_format_tar(a);
	} else if (kind == AV_ARC_COMPRESSED) {
		/* Anything else compressed is one member, named after the outer
		 * file. libarchive's own guess at the format inside is not used: it
		 * reads a run of zeros as an empty tar, and text as mtree. */
		archive_read_support_filter_all(a);
		archive_read_support_format_raw(a);
	} else {
		/* the formats archive_kind() recognises, and no others */
		archive_read_support_format_zip(a);
		archive_read_support_format_7zip(a);
		archive_read_support_format_rar(a);
		archive_read_support_format_rar5(a);
		archive_read_support_format_cab(a);
		archive_read_support_format_ar(a);
		archive_read_support_format_cpio(a);
		archive_read_support_format_tar(a);
	}
	if (archive_read_open_memory(a, d.ptr, d.len) != ARCHIVE_OK) {
		res->broken++;
		goto out;
	}
	while ((r = archive_read_next_header(a, &ent)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
		const char *mname = archive_entry_pathname(ent);
		char rawname[256];
		uint64_t budget, cap;
		size_t old;

		if (archive_format(a) == ARCHIVE_FORMAT_RAW) {
			raw_member_name(name, rawname, sizeof(rawname));
			mname = rawname;
		} else if (mname == NULL) {
			mname = "?";
		}
		if (archive_entry_filetype(ent) != AE_IFREG)
			continue; /* directories, links, devices: no content */
		old = path_push(sc, mname);
		if (depth + 1 > sc->lim.max_depth) {
			limit_hit(sc, "archive nesting deeper than %u", sc->lim.max_depth);
			goto pop;
		}
		if (archive_entry_is_encrypted(ent)) {
			char pname[64], reason[256];

			if (sc->pol.enabled &&
			    av_policy_check_name(&sc->pol, mname, pname, sizeof(pname), reason, sizeof(reason))) {
				set_verdict(sc, FLT_AV_POLICY, pname, reason);
			} else if (sc->pol.enabled && sc->pol.block_encrypted) {
				set_verdict(sc, FLT_AV_POLICY, "Policy.Encrypted", "encrypted archive member");
			} else {
				res->encrypted++;
				res->files++;
			}
			goto pop;
		}
		/* Read the member straight into its buffer, at most one byte past
		 * min(max_file, what is left of max_total), and judge the ratio
		 * after every chunk. */
		budget = sc->lim.max_total - res->bytes;
		cap = sc->lim.max_file < budget ? sc->lim.max_file : budget;
		if (cap > SIZE_MAX / 4)
			cap = SIZE_MAX / 4;
		sl_buf_reset(&buf);
		buf.max = (size_t)cap + 1;
		if (archive_entry_size_is_set(ent) && archive_entry_size(ent) > 0 &&
		    (uint64_t)archive_entry_size(ent) <= cap)
			rc = sl_buf_reserve(&buf, (size_t)archive_entry_size(ent));
		while (rc == 0) {
			size_t want = buf.max - buf.len < AV_READ_CHUNK ? buf.max - buf.len : AV_READ_CHUNK;
			la_ssize_t n;

			rc = sl_buf_reserve(&buf, want);
			if (rc < 0)
				break;
			n = archive_read_data(a, buf.data + buf.len, want);
			if (n == 0)
				break;
			if (n < 0) {
				res->broken++;
				break; /* scan what we have: a truncated member may still carry its payload */
			}
			buf.len += (size_t)n;
			extracted += (uint64_t)n;
			if (extracted > sc->lim.ratio_floor && extracted / sc->lim.max_ratio > d.len) {
				limit_hit(sc, "expansion ratio above %u:1 (%llu bytes from %zu)", sc->lim.max_ratio,
					  (unsigned long long)extracted, d.len);
				goto pop;
			}
			if (buf.len > cap) {
				if (cap == sc->lim.max_file)
					limit_hit(sc, "member larger than max_file %llu bytes",
						  (unsigned long long)sc->lim.max_file);
				else
					limit_hit(sc, "more than max_total %llu bytes in all",
						  (unsigned long long)sc->lim.max_total);
				goto pop;
			}
		}
		if (rc < 0)
			goto pop;
		rc = scan_object(sc, mname, NULL, sl_buf_slice(&buf), depth + 1);
pop:
		path_pop(sc, old);
		if (rc < 0 || res->verdict != FLT_AV_CLEAN)
			goto out;
	}
	if (r != ARCHIVE_EOF && r != ARCHIVE_OK && r != ARCHIVE_WARN)
		res->broken++;
out:
	archive_read_free(a);
	sl_buf_free(&buf);
	return rc;
}

/* ---- container decoders (flt_av_dec.h) ---- */

typedef struct av_emctx {
	flt_av_scanner_t *sc;
	size_t container_len;
	uint64_t extracted; /* bytes of all members handed back so far */
} av_emctx_t;

/* The most one more member may hold: min(max_file, what is left of max_total). */
static void emit_cap(flt_av_scanner_t *sc, av_emit_t *e)
{
	uint64_t budget = sc->lim.max_total - sc->res->bytes;

	if (sc->lim.max_file <= budget) {
		e->cap = sc->lim.max_file;
		snprintf(e->cap_why, sizeof(e->cap_why), "member larger than max_file %llu bytes",
			 (unsigned long long)sc->lim.max_file);
	} else {
		e->cap = budget;
		snprintf(e->cap_why, sizeof(e->cap_why), "more than max_total %llu bytes in all",
			 (unsigned long long)sc->lim.max_total);
	}
}

static int emit_limit(av_emit_t *e, const char *reason)
{
	av_emctx_t *x = e->ctx;

	limit_hit(x->sc, "%s", reason);
	return 1;
}

/* A decoded member goes through the same checks as an archive member:
 * depth, expansion ratio of its container, size, then scan_object. */
static int emit_member(av_emit_t *e, const char *name, const char *declared, sl_slice_t data)
{
	av_emctx_t *x = e->ctx;
	flt_av_scanner_t *sc = x->sc;
	size_t old = path_push(sc, name != NULL && name[0] != '\0' ? name : "?");
	int rc = 0;

	if (e->depth + 1 > sc->lim.max_depth) {
		limit_hit(sc, "archive nesting deeper than %u", sc->lim.max_depth);
		goto pop;
	}
	x->extracted += data.len;
	if (x->extracted > sc->lim.ratio_floor && x->extracted / sc->lim.max_ratio > x->container_len) {
		limit_hit(sc, "expansion ratio above %u:1 (%llu bytes from %zu)", sc->lim.max_ratio,
			  (unsigned long long)x->extracted, x->container_len);
		goto pop;
	}
	if (data.len > sc->lim.max_file) {
		limit_hit(sc, "member larger than max_file %llu bytes", (unsigned long long)sc->lim.max_file);
		goto pop;
	}
	rc = scan_object(sc, name, declared, data, e->depth + 1);
pop:
	path_pop(sc, old);
	emit_cap(sc, e);
	if (rc < 0)
		return rc;
	return sc->res->verdict != FLT_AV_CLEAN;
}

/* Run decoder DEC over D; its members are scanned one level deeper. */
static int run_decoder(flt_av_scanner_t *sc, av_decoder_fn dec, const char *name, sl_slice_t d, uint32_t depth)
{
	av_emctx_t x = {.sc = sc, .container_len = d.len};
	av_emit_t e = {.member = emit_member, .limit = emit_limit, .depth = depth, .ctx = &x};
	int rc;

	emit_cap(sc, &e);
	rc = dec(d, name, &e);
	sc->res->broken += e.broken;
	return rc < 0 ? rc : 0;
}

static int scan_object(flt_av_scanner_t *sc, const char *name, const char *declared, sl_slice_t d,
		       uint32_t depth)
{
	flt_av_result_t *res = sc->res;
	const char *sig = NULL;
	enum av_arc kind;
	int rc;

	if (res->files >= sc->lim.max_files) {
		limit_hit(sc, "more than max_files %u objects", sc->lim.max_files);
		return 0;
	}
	if (d.len > sc->lim.max_total - res->bytes) {
		limit_hit(sc, "more than max_total %llu bytes in all", (unsigned long long)sc->lim.max_total);
		return 0;
	}
	res->files++;
	res->bytes += d.len;
	if (is_eicar(d)) {
		set_verdict(sc, FLT_AV_INFECTED, FLT_AV_EICAR_NAME, NULL);
		return 0;
	}
	rc = check_signatures(sc, d, &sig);
	if (rc < 0)
		return rc;
	if (rc > 0) {
		set_verdict(sc, FLT_AV_INFECTED, sig, NULL);
		return 0;
	}
	if (check_policy(sc, name, declared, d, depth))
		return 0;
	kind = archive_kind(d);
	if (kind != AV_ARC_NONE) {
		/* Zip members in methods libarchive lacks (implode, deflate64)
		 * first: libarchive would only see their names, and the name
		 * policy must not hide the virus inside. */
		if (d.len >= 4 && memcmp(d.ptr, "PK\3\4", 4) == 0) {
			rc = run_decoder(sc, av_dec_zipx, name, d, depth);
			if (rc < 0 || res->verdict != FLT_AV_CLEAN)
				return rc;
		}
		return scan_archive(sc, name, d, kind, depth);
	}
	{
		const char *what;
		av_decoder_fn dec = av_container_find(d, &what);

		if (dec == NULL)
			return 0;
		return run_decoder(sc, dec, name, d, depth);
	}
}

int flt_av_scan(flt_av_scanner_t *sc, const char *name, const char *declared_type, sl_slice_t data,
		flt_av_result_t *res)
{
	size_t old;
	int rc;

	memset(res, 0, sizeof(*res));
	sc->res = res;
	sc->pathlen = 0;
	sc->path[0] = '\0';
	if (name != NULL && name[0] == '\0')
		name = NULL;
	old = path_push(sc, name != NULL ? name : "-");
	rc = scan_object(sc, name, declared_type, data, 0);
	path_pop(sc, old);
	sc->res = NULL;
	if (rc < 0) {
		res->verdict = FLT_AV_CLEAN;
		res->name[0] = '\0';
	}
	return rc;
}
