/* flt_av_db - load ClamAV signature files and compile them.
 *
 * Formats (docs/filter-av.md has the supported subset):
 *   .hdb  MD5:size:name
 *   .hsb  SHA1-or-SHA256:size:name         (the digest length tells which)
 *   .ndb  name:target:offset:hexsig[:minfl[:maxfl]]
 *   .ldb  name;Target:n[,Engine:a-b][,FileSize:a-b];expression;subsig;...
 * A line we cannot compile but ClamAV would accept is skipped and counted
 * as a warning; a line ClamAV would refuse too is an error. Every message
 * names file:line. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "av/flt_av_private.h"
#include "sl_err.h"
#include "sl_log.h"

#define AV_FILE_MAX (512ull << 20) /* one signature file */
#define AV_POOL_MAX (1ull << 31)   /* names and file-name pools */

typedef struct av_line {
	flt_av_db_t *db;
	uint32_t file; /* offset of the file name in db->files */
	uint32_t line;
} av_line_t;

static const char *fname(const flt_av_db_t *db, uint32_t off)
{
	return (const char *)db->files.data + off;
}

static int av_err(const av_line_t *l, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int av_err(const av_line_t *l, int code, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(l->db->err, sizeof(l->db->err), "%s:%u: ", fname(l->db, l->file), l->line);
	if (n < 0 || (size_t)n >= sizeof(l->db->err))
		return code;
	va_start(ap, fmt);
	vsnprintf(l->db->err + n, sizeof(l->db->err) - (size_t)n, fmt, ap);
	va_end(ap);
	return code;
}

static void av_warn(const av_line_t *l, const char *why)
{
	flt_av_db_t *db = l->db;

	if (db->stats.skipped < FLT_AV_WARN_KEEP)
		snprintf(db->warn[db->stats.skipped], sizeof(db->warn[0]), "%s:%u: skipped: %s",
			 fname(db, l->file), l->line, why);
	db->stats.skipped++;
	sl_log(SL_LOG_WARN, "av", "%s:%u: signature skipped: %s", fname(db, l->file), l->line, why);
}

int flt_av_db_new(flt_av_db_t **db_r)
{
	flt_av_db_t *db = calloc(1, sizeof(*db));

	*db_r = NULL;
	if (db == NULL)
		return SL_ENOMEM;
	sl_buf_init(&db->names, AV_POOL_MAX);
	sl_buf_init(&db->files, AV_POOL_MAX);
	db->hashes[AV_H_MD5].dlen = 16;
	db->hashes[AV_H_SHA1].dlen = 20;
	db->hashes[AV_H_SHA256].dlen = 32;
	*db_r = db;
	return 0;
}

void flt_av_db_free(flt_av_db_t **dbp)
{
	flt_av_db_t *db = *dbp;

	if (db == NULL)
		return;
	for (int k = 0; k < AV_H_COUNT; k++) {
		free(db->hashes[k].v);
		free(db->hashes[k].sizes);
	}
	for (size_t i = 0; i < db->npats; i++) {
		free(db->pats[i].expr);
		free(db->pats[i].exact);
		pcre2_code_free(db->pats[i].confirm);
	}
	free(db->pats);
	free(db->sigs);
	free(db->nodes);
	sl_buf_free(&db->names);
	sl_buf_free(&db->files);
	hs_free_database(db->hs);
	free(db);
	*dbp = NULL;
}

void flt_av_db_stats(const flt_av_db_t *db, flt_av_db_stats_t *stats_r)
{
	*stats_r = db->stats;
}

const char *flt_av_db_warning(const flt_av_db_t *db, unsigned n)
{
	if (n >= FLT_AV_WARN_KEEP || n >= db->stats.skipped)
		return NULL;
	return db->warn[n];
}

/* Grow *v (element size SZ) so that one more fits. */
static int grow(void **v, size_t *cap, size_t n, size_t sz)
{
	size_t ncap;
	void *p;

	if (n < *cap)
		return 0;
	if (n >= AV_SIGS_MAX * 4ull)
		return SL_ELIMIT;
	ncap = *cap ? *cap * 2 : 64;
	p = realloc(*v, ncap * sz);
	if (p == NULL)
		return SL_ENOMEM;
	*v = p;
	*cap = ncap;
	return 0;
}

/* Signature names: printable ASCII without spaces, below FLT_AV_NAME_MAX. */
static int add_name(const av_line_t *l, const char *s, size_t len, uint32_t *off_r)
{
	flt_av_db_t *db = l->db;
	int rc;

	if (len == 0)
		return av_err(l, SL_EINVAL, "empty signature name");
	if (len >= FLT_AV_NAME_MAX)
		return av_err(l, SL_EINVAL, "signature name longer than %d bytes", FLT_AV_NAME_MAX - 1);
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return av_err(l, SL_EINVAL, "signature name has a space or non-printable byte");
	if (db->names.len > UINT32_MAX - len - 1)
		return av_err(l, SL_ELIMIT, "too many signature names");
	*off_r = (uint32_t)db->names.len;
	rc = sl_buf_append(&db->names, s, len);
	if (rc == 0)
		rc = sl_buf_append(&db->names, "", 1);
	return rc < 0 ? av_err(l, rc, "%s", sl_strerror(rc)) : 0;
}

/* Split LINE at SEP into at most MAX fields; returns the count, or
 * MAX + 1 when there are more. */
static unsigned split(const char *line, size_t len, char sep, sl_slice_t *f, unsigned max)
{
	unsigned n = 0;
	size_t start = 0;

	for (size_t i = 0; i <= len; i++) {
		if (i == len || line[i] == sep) {
			if (n == max)
				return max + 1;
			f[n++] = sl_slice_make(line + start, i - start);
			start = i + 1;
		}
	}
	return n;
}

static bool slice_is(sl_slice_t s, const char *lit)
{
	return s.len == strlen(lit) && memcmp(s.ptr, lit, s.len) == 0;
}

static int parse_dec(sl_slice_t s, uint64_t *v_r)
{
	uint64_t v = 0;

	if (s.len == 0 || s.len > 19)
		return SL_EINVAL;
	for (size_t i = 0; i < s.len; i++) {
		if (s.ptr[i] < '0' || s.ptr[i] > '9')
			return SL_EINVAL;
		v = v * 10 + (uint64_t)(s.ptr[i] - '0');
	}
	*v_r = v;
	return 0;
}

/* Optional trailing functionality-level fields: decimal or empty. */
static int check_flevels(const av_line_t *l, const sl_slice_t *f, unsigned from, unsigned n)
{
	uint64_t v;

	for (unsigned i = from; i < n; i++)
		if (f[i].len != 0 && parse_dec(f[i], &v) < 0)
			return av_err(l, SL_EINVAL, "functionality level field %u is not a number", i + 1);
	return 0;
}

static int hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* .hdb / .hsb: digest:size:name[:flevel[:flevel]] */
static int parse_hash_line(const av_line_t *l, enum flt_av_format fmt, const char *line, size_t len)
{
	flt_av_db_t *db = l->db;
	sl_slice_t f[6];
	unsigned n = split(line, len, ':', f, 5);
	enum av_hash_kind kind;
	av_hashset_t *hs;
	av_hash_t h;
	int rc;

	if (n < 3 || n > 5)
		return av_err(l, SL_EINVAL, "expected hash:size:name");
	switch (f[0].len) {
	case 32: kind = AV_H_MD5; break;
	case 40: kind = AV_H_SHA1; break;
	case 64: kind = AV_H_SHA256; break;
	default:
		return av_err(l, SL_EINVAL, "hash of %zu hex digits (want 32, 40 or 64)", f[0].len);
	}
	if (fmt == FLT_AV_FMT_HDB && kind != AV_H_MD5)
		return av_err(l, SL_EINVAL, ".hdb holds MD5 hashes (32 hex digits)");
	if (fmt == FLT_AV_FMT_HSB && kind == AV_H_MD5)
		return av_err(l, SL_EINVAL, ".hsb holds SHA1 or SHA256 hashes (40 or 64 hex digits)");
	memset(&h, 0, sizeof(h));
	for (size_t i = 0; i < f[0].len; i += 2) {
		int hi = hexval(f[0].ptr[i]), lo = hexval(f[0].ptr[i + 1]);

		if (hi < 0 || lo < 0)
			return av_err(l, SL_EINVAL, "hash has a non-hex character");
		h.digest[i / 2] = (uint8_t)(hi << 4 | lo);
	}
	if (slice_is(f[1], "*"))
		h.size = AV_ANY_SIZE;
	else if (parse_dec(f[1], &h.size) < 0 || h.size == AV_ANY_SIZE)
		return av_err(l, SL_EINVAL, "size is neither a number nor '*'");
	rc = check_flevels(l, f, 3, n);
	if (rc < 0)
		return rc;
	if (h.size == AV_ANY_SIZE) {
		uint64_t fl = 0;

		/* ClamAV refuses '*' without it: older engines would read it as size 0 */
		if (n < 4 || parse_dec(f[3], &fl) < 0 || fl < 73)
			return av_err(l, SL_EINVAL, "size '*' needs a minimum functionality level of 73 or more "
						    "(hash:*:name:73)");
	}
	rc = add_name(l, (const char *)f[2].ptr, f[2].len, &h.name);
	if (rc < 0)
		return rc;
	hs = &db->hashes[kind];
	rc = grow((void **)&hs->v, &hs->cap, hs->n, sizeof(*hs->v));
	if (rc < 0)
		return av_err(l, rc, "%s", sl_strerror(rc));
	hs->v[hs->n++] = h;
	if (kind == AV_H_MD5)
		db->stats.md5++;
	else if (kind == AV_H_SHA1)
		db->stats.sha1++;
	else
		db->stats.sha256++;
	return 0;
}

static int parse_target(const av_line_t *l, sl_slice_t s, uint8_t *t_r, const char **why_r)
{
	uint64_t t;

	if (parse_dec(s, &t) < 0 || t > 255) {
		av_err(l, SL_EINVAL, "target type is not a number from 0 to 255");
		return SL_EINVAL;
	}
	if (t != AV_T_ANY && t != AV_T_PE && t != AV_T_ELF && t != AV_T_MACHO) {
		*why_r = "target type not supported (0, 1, 6 and 9 are)";
		return SL_ENOTSUP;
	}
	*t_r = (uint8_t)t;
	return 0;
}

/* Append one Hyperscan expression for signature SIG / subsignature SUB. */
static int add_pat(const av_line_t *l, uint32_t sig, uint32_t sub, const char *hex, size_t hexlen,
		   bool wide, bool nocase, const av_offset_t *off, const char **why_r)
{
	flt_av_db_t *db = l->db;
	sl_buf_t re, exact;
	av_pat_t *p;
	int64_t fixed;
	bool widened;
	int rc;

	sl_buf_init(&re, AV_LINE_MAX * 20);
	sl_buf_init(&exact, AV_LINE_MAX * 20);
	rc = av_hex_translate(hex, hexlen, wide, true, &re, &fixed, &widened, why_r);
	/* Hyperscan preselects, PCRE2 confirms: when a jump was widened, and
	 * when a variable-length match must start inside an offset window
	 * (Hyperscan reports where matches end) */
	if (rc == 0 && (widened || (off->kind != AV_OFF_ANY && fixed < 0))) {
		if (off->shift > AV_JUMP_MAX) {
			*why_r = "offset shift above 32767 on a variable-length signature";
			rc = SL_ENOTSUP;
		} else {
			if (off->kind != AV_OFF_ANY && off->shift > 0)
				rc = sl_buf_printf(&exact, ".{0,%llu}", (unsigned long long)off->shift);
			if (rc == 0)
				rc = sl_buf_append(&exact, "(?:", 3);
			if (rc == 0)
				rc = av_hex_translate(hex, hexlen, wide, false, &exact, &fixed, NULL, why_r);
			if (rc == 0)
				rc = sl_buf_append(&exact, ")", 1);
			fixed = -1;
		}
	}
	if (rc == SL_ELIMIT || rc == SL_ENOMEM)
		*why_r = "signature too large";
	if (rc == 0)
		rc = grow((void **)&db->pats, &db->pats_cap, db->npats, sizeof(*db->pats));
	if (rc < 0) {
		sl_buf_free(&re);
		sl_buf_free(&exact);
		return rc;
	}
	if (re.data == NULL) {
		sl_buf_free(&re);
		*why_r = "empty signature";
		return SL_EINVAL;
	}
	p = &db->pats[db->npats];
	memset(p, 0, sizeof(*p));
	p->expr = (char *)re.data; /* NUL-terminated by sl_buf; ownership moves */
	p->flags = HS_FLAG_DOTALL | (nocase ? HS_FLAG_CASELESS : 0);
	p->sig = sig;
	p->sub = sub;
	p->off = *off;
	p->fixed_len = fixed;
	p->file = l->file;
	p->line = l->line;
	p->exact = (char *)exact.data; /* NULL when Hyperscan decides alone */
	if ((off->kind == AV_OFF_ANY && sub == UINT32_MAX) || p->exact != NULL)
		p->flags |= HS_FLAG_SINGLEMATCH; /* one hit is all we need (PCRE2 counts the rest) */
	if (sub == UINT32_MAX)
		p->sub = 0;
	db->npats++;
	return 0;
}

static void drop_pats(flt_av_db_t *db, size_t keep)
{
	while (db->npats > keep) {
		db->npats--;
		free(db->pats[db->npats].expr);
		free(db->pats[db->npats].exact);
	}
}

static int new_sig(flt_av_db_t *db, av_sig_t **s_r)
{
	int rc;

	if (db->nsigs >= AV_SIGS_MAX)
		return SL_ELIMIT;
	rc = grow((void **)&db->sigs, &db->sigs_cap, db->nsigs, sizeof(*db->sigs));
	if (rc < 0)
		return rc;
	*s_r = &db->sigs[db->nsigs];
	memset(*s_r, 0, sizeof(**s_r));
	(*s_r)->fsize_max = UINT64_MAX;
	return 0;
}

/* .ndb: name:target:offset:hexsig[:minfl[:maxfl]] */
static int parse_ndb_line(const av_line_t *l, const char *line, size_t len)
{
	flt_av_db_t *db = l->db;
	sl_slice_t f[7];
	unsigned n = split(line, len, ':', f, 6);
	const char *why = NULL;
	av_offset_t off;
	av_sig_t *s;
	uint8_t target;
	int rc;

	if (n < 4 || n > 6)
		return av_err(l, SL_EINVAL, "expected name:target:offset:hexsig");
	rc = check_flevels(l, f, 4, n);
	if (rc < 0)
		return rc;
	rc = parse_target(l, f[1], &target, &why);
	if (rc == SL_EINVAL)
		return rc;
	if (rc == 0) {
		rc = av_offset_parse((const char *)f[2].ptr, f[2].len, &off, &why);
		if (rc == SL_EINVAL)
			return av_err(l, rc, "%s", why);
	}
	if (rc == SL_ENOTSUP) {
		av_warn(l, why);
		return 0;
	}
	rc = new_sig(db, &s);
	if (rc < 0)
		return av_err(l, rc, "%s", sl_strerror(rc));
	s->kind = AV_SIG_NDB;
	s->target = target;
	rc = add_pat(l, (uint32_t)db->nsigs, UINT32_MAX, (const char *)f[3].ptr, f[3].len, false, false, &off,
		     &why);
	if (rc == SL_ENOTSUP) {
		av_warn(l, why);
		return 0;
	}
	if (rc < 0)
		return av_err(l, rc, "%s", why != NULL ? why : sl_strerror(rc));
	rc = add_name(l, (const char *)f[0].ptr, f[0].len, &db->sigs[db->nsigs].name);
	if (rc < 0) {
		drop_pats(db, db->npats - 1);
		return rc;
	}
	db->nsigs++;
	db->stats.ndb++;
	return 0;
}

/* ---- logical expressions ---- */

typedef struct av_expr {
	const char *s;
	size_t len, i;
	const av_line_t *l;
	uint32_t nsub;
	uint32_t base; /* db->nnodes when this signature started */
	unsigned depth;
	uint64_t used; /* subsignatures referenced */
} av_expr_t;

static int expr_node(av_expr_t *e, av_node_t node, uint16_t *idx_r)
{
	flt_av_db_t *db = e->l->db;
	int rc;

	if (db->nnodes - e->base >= AV_LDB_NODES_MAX)
		return av_err(e->l, SL_EINVAL, "logical expression has more than %d terms", AV_LDB_NODES_MAX);
	rc = grow((void **)&db->nodes, &db->nodes_cap, db->nnodes, sizeof(*db->nodes));
	if (rc < 0)
		return av_err(e->l, rc, "%s", sl_strerror(rc));
	*idx_r = (uint16_t)(db->nnodes - e->base);
	db->nodes[db->nnodes++] = node;
	return 0;
}

static int expr_num(av_expr_t *e, uint32_t *v_r)
{
	uint64_t v = 0;
	size_t start = e->i;

	while (e->i < e->len && e->s[e->i] >= '0' && e->s[e->i] <= '9') {
		v = v * 10 + (uint64_t)(e->s[e->i] - '0');
		if (v > UINT32_MAX)
			return av_err(e->l, SL_EINVAL, "number too large in logical expression");
		e->i++;
	}
	if (e->i == start)
		return av_err(e->l, SL_EINVAL, "logical expression: number expected at column %zu", e->i + 1);
	*v_r = (uint32_t)v;
	return 0;
}

static int expr_or(av_expr_t *e, uint16_t *idx_r);

/* primary [ (=|>|<) X [,Y] ] */
static int expr_term(av_expr_t *e, uint16_t *idx_r)
{
	av_node_t node;
	uint16_t a;
	int rc;

	if (e->i < e->len && e->s[e->i] == '(') {
		if (++e->depth > AV_LDB_DEPTH_MAX)
			return av_err(e->l, SL_EINVAL, "logical expression nested too deeply");
		e->i++;
		rc = expr_or(e, &a);
		if (rc < 0)
			return rc;
		if (e->i >= e->len || e->s[e->i] != ')')
			return av_err(e->l, SL_EINVAL, "logical expression: ')' expected at column %zu", e->i + 1);
		e->i++;
		e->depth--;
	} else {
		uint32_t sub;

		rc = expr_num(e, &sub);
		if (rc < 0)
			return rc;
		if (sub >= e->nsub)
			return av_err(e->l, SL_EINVAL, "logical expression refers to subsignature %u of %u", sub,
				      e->nsub);
		e->used |= 1ull << sub;
		memset(&node, 0, sizeof(node));
		node.op = AV_N_SUB;
		node.x = sub;
		rc = expr_node(e, node, &a);
		if (rc < 0)
			return rc;
	}
	if (e->i < e->len && (e->s[e->i] == '=' || e->s[e->i] == '>' || e->s[e->i] == '<')) {
		memset(&node, 0, sizeof(node));
		node.op = e->s[e->i] == '=' ? AV_N_EQ : e->s[e->i] == '>' ? AV_N_GT : AV_N_LT;
		node.a = a;
		e->i++;
		rc = expr_num(e, &node.x);
		if (rc == 0 && e->i < e->len && e->s[e->i] == ',') {
			e->i++;
			node.has_y = 1;
			rc = expr_num(e, &node.y);
		}
		if (rc == 0)
			rc = expr_node(e, node, &a);
		if (rc < 0)
			return rc;
	}
	*idx_r = a;
	return 0;
}

/* '&' binds tighter than '|'. */
static int expr_and(av_expr_t *e, uint16_t *idx_r)
{
	uint16_t a, b;
	int rc = expr_term(e, &a);

	while (rc == 0 && e->i < e->len && e->s[e->i] == '&') {
		av_node_t node = {.op = AV_N_AND};

		e->i++;
		rc = expr_term(e, &b);
		if (rc < 0)
			return rc;
		node.a = a;
		node.b = b;
		rc = expr_node(e, node, &a);
	}
	*idx_r = a;
	return rc;
}

static int expr_or(av_expr_t *e, uint16_t *idx_r)
{
	uint16_t a, b;
	int rc = expr_and(e, &a);

	while (rc == 0 && e->i < e->len && e->s[e->i] == '|') {
		av_node_t node = {.op = AV_N_OR};

		e->i++;
		rc = expr_and(e, &b);
		if (rc < 0)
			return rc;
		node.a = a;
		node.b = b;
		rc = expr_node(e, node, &a);
	}
	*idx_r = a;
	return rc;
}

/* Target description block: Target:n, Engine:a-b, FileSize:a-b. */
static int parse_tdb(const av_line_t *l, sl_slice_t tdb, av_sig_t *s, const char **why_r)
{
	sl_slice_t kv[17], p[3];
	unsigned n = split((const char *)tdb.ptr, tdb.len, ',', kv, 16);
	bool have_target = false;

	if (n > 16)
		return av_err(l, SL_EINVAL, "target description block has too many entries");
	for (unsigned i = 0; i < n; i++) {
		unsigned np = split((const char *)kv[i].ptr, kv[i].len, ':', p, 2);

		if (np != 2)
			return av_err(l, SL_EINVAL, "target description entry is not Key:Value");
		if (slice_is(p[0], "Target")) {
			int rc = parse_target(l, p[1], &s->target, why_r);

			if (rc < 0)
				return rc;
			have_target = true;
		} else if (slice_is(p[0], "Engine") || slice_is(p[0], "FileSize")) {
			sl_slice_t r[3];
			uint64_t lo, hi;
			unsigned nr = split((const char *)p[1].ptr, p[1].len, '-', r, 2);

			if (nr == 1)
				r[1] = r[0];
			if (nr > 2 || parse_dec(r[0], &lo) < 0 || parse_dec(r[1], &hi) < 0 || hi < lo)
				return av_err(l, SL_EINVAL, "%.*s wants a range min-max", (int)p[0].len,
					      (const char *)p[0].ptr);
			if (slice_is(p[0], "FileSize")) {
				s->fsize_min = lo;
				s->fsize_max = hi;
			}
		} else {
			*why_r = "target description keyword not supported (Target, Engine, FileSize are)";
			return SL_ENOTSUP;
		}
	}
	if (!have_target)
		return av_err(l, SL_EINVAL, "target description block has no Target");
	return 0;
}

/* One ldb subsignature: [offset:]hexsig[::modifiers]. */
static int parse_subsig(const av_line_t *l, uint32_t sig, uint32_t sub, sl_slice_t f, const char **why_r)
{
	const char *s = (const char *)f.ptr;
	size_t len = f.len, colon = SIZE_MAX;
	bool nocase = false, wide = false, ascii = false;
	av_offset_t off = {.kind = AV_OFF_ANY};
	int rc;

	if (memchr(s, '/', len) != NULL) {
		*why_r = "PCRE subsignatures are not supported";
		return SL_ENOTSUP;
	}
	if (len > 0 && s[0] == '$') {
		*why_r = "macro subsignatures are not supported";
		return SL_ENOTSUP;
	}
	if (memchr(s, '#', len) != NULL) {
		*why_r = "byte-compare subsignatures are not supported";
		return SL_ENOTSUP;
	}
	for (size_t i = 0; i + 1 < len; i++) {
		if (s[i] == ':' && s[i + 1] == ':') {
			for (size_t j = i + 2; j < len; j++) {
				switch (s[j]) {
				case 'i': nocase = true; break;
				case 'w': wide = true; break;
				case 'a': ascii = true; break;
				case 'f':
					*why_r = "the fullword modifier ::f is not supported";
					return SL_ENOTSUP;
				default:
					return av_err(l, SL_EINVAL, "subsignature %u: unknown modifier '%c'", sub, s[j]);
				}
			}
			len = i;
			break;
		}
	}
	for (size_t i = 0; i < len; i++)
		if (s[i] == ':') {
			colon = i;
			break;
		}
	if (colon != SIZE_MAX) {
		rc = av_offset_parse(s, colon, &off, why_r);
		if (rc == SL_EINVAL)
			return av_err(l, rc, "subsignature %u: %s", sub, *why_r);
		if (rc < 0)
			return rc;
		s += colon + 1;
		len -= colon + 1;
	}
	if (!wide || ascii) {
		rc = add_pat(l, sig, sub, s, len, false, nocase, &off, why_r);
		if (rc == SL_EINVAL)
			return av_err(l, rc, "subsignature %u: %s", sub, *why_r);
		if (rc < 0)
			return rc;
	}
	if (wide) {
		rc = add_pat(l, sig, sub, s, len, true, nocase, &off, why_r);
		if (rc == SL_EINVAL)
			return av_err(l, rc, "subsignature %u: %s", sub, *why_r);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* .ldb: name;tdb;expression;subsig0;subsig1;... */
static int parse_ldb_line(const av_line_t *l, const char *line, size_t len)
{
	flt_av_db_t *db = l->db;
	sl_slice_t f[AV_LDB_SUBSIGS_MAX + 4];
	unsigned n = split(line, len, ';', f, AV_LDB_SUBSIGS_MAX + 3);
	size_t pats0 = db->npats, nodes0 = db->nnodes;
	const char *why = NULL;
	av_expr_t e;
	av_sig_t *s;
	uint16_t root;
	int rc;

	if (n > AV_LDB_SUBSIGS_MAX + 3)
		return av_err(l, SL_EINVAL, "more than %d subsignatures", AV_LDB_SUBSIGS_MAX);
	if (n < 4)
		return av_err(l, SL_EINVAL, "expected name;target block;expression;subsig...");
	rc = new_sig(db, &s);
	if (rc < 0)
		return av_err(l, rc, "%s", sl_strerror(rc));
	s->kind = AV_SIG_LDB;
	s->nsub = n - 3;
	s->count_base = db->ncounts;
	s->node_base = (uint32_t)db->nnodes;
	rc = parse_tdb(l, f[1], s, &why);
	if (rc < 0)
		goto fail;
	memset(&e, 0, sizeof(e));
	e.s = (const char *)f[2].ptr;
	e.len = f[2].len;
	e.l = l;
	e.nsub = s->nsub;
	e.base = (uint32_t)db->nnodes;
	rc = expr_or(&e, &root);
	if (rc == 0 && e.i != e.len)
		rc = av_err(l, SL_EINVAL, "logical expression: unexpected '%c' at column %zu", e.s[e.i], e.i + 1);
	if (rc < 0)
		goto fail;
	s = &db->sigs[db->nsigs];
	s->nnodes = (uint32_t)(db->nnodes - nodes0);
	for (unsigned i = 0; i < s->nsub; i++) {
		rc = parse_subsig(l, (uint32_t)db->nsigs, i, f[3 + i], &why);
		if (rc < 0)
			goto fail;
	}
	rc = add_name(l, (const char *)f[0].ptr, f[0].len, &db->sigs[db->nsigs].name);
	if (rc < 0)
		goto fail;
	db->ncounts += db->sigs[db->nsigs].nsub;
	db->nsigs++;
	db->stats.ldb++;
	db->stats.ldb_subsigs += n - 3;
	(void)root;
	return 0;
fail:
	drop_pats(db, pats0);
	db->nnodes = nodes0;
	if (rc == SL_ENOTSUP) {
		av_warn(l, why);
		return 0;
	}
	return rc;
}

static int add_file_name(flt_av_db_t *db, const char *name, uint32_t *off_r)
{
	size_t n = strlen(name);
	int rc;

	if (db->files.len > UINT32_MAX - n - 1)
		return SL_ELIMIT;
	*off_r = (uint32_t)db->files.len;
	rc = sl_buf_append(&db->files, name, n);
	return rc < 0 ? rc : sl_buf_append(&db->files, "", 1);
}

int flt_av_db_load_text(flt_av_db_t *db, enum flt_av_format fmt, const char *filename, const char *text,
			size_t len, const char **error_r)
{
	av_line_t l = {.db = db};
	size_t pos = 0;
	int rc;

	*error_r = NULL;
	db->err[0] = '\0';
	if (db->compiled) {
		snprintf(db->err, sizeof(db->err), "%s: database already compiled", filename);
		*error_r = db->err;
		return SL_ESTATE;
	}
	rc = add_file_name(db, filename, &l.file);
	if (rc < 0) {
		snprintf(db->err, sizeof(db->err), "%s: %s", filename, sl_strerror(rc));
		*error_r = db->err;
		return rc;
	}
	while (pos < len) {
		const char *line = text + pos;
		const char *nl = memchr(line, '\n', len - pos);
		size_t ll = nl != NULL ? (size_t)(nl - line) : len - pos;

		pos += ll + (nl != NULL);
		l.line++;
		if (ll > 0 && line[ll - 1] == '\r')
			ll--;
		if (ll > AV_LINE_MAX) {
			rc = av_err(&l, SL_EINVAL, "line longer than %u bytes", AV_LINE_MAX);
			break;
		}
		if (memchr(line, '\0', ll) != NULL) {
			rc = av_err(&l, SL_EINVAL, "NUL byte in line");
			break;
		}
		if (ll == 0 || line[0] == '#')
			continue;
		if (db->nsigs + db->stats.md5 + db->stats.sha1 + db->stats.sha256 >= AV_SIGS_MAX) {
			rc = av_err(&l, SL_ELIMIT, "more than %u signatures", AV_SIGS_MAX);
			break;
		}
		switch (fmt) {
		case FLT_AV_FMT_HDB:
		case FLT_AV_FMT_HSB: rc = parse_hash_line(&l, fmt, line, ll); break;
		case FLT_AV_FMT_NDB: rc = parse_ndb_line(&l, line, ll); break;
		case FLT_AV_FMT_LDB: rc = parse_ldb_line(&l, line, ll); break;
		default: rc = av_err(&l, SL_EINVAL, "unknown format");
		}
		if (rc < 0)
			break;
	}
	if (rc < 0) {
		if (db->err[0] == '\0')
			av_err(&l, rc, "%s", sl_strerror(rc));
		*error_r = db->err;
		return rc;
	}
	db->stats.files++;
	return 0;
}

static int format_of(const char *path, enum flt_av_format *fmt_r)
{
	const char *dot = strrchr(path, '.');
	static const struct {
		const char *ext;
		enum flt_av_format fmt;
	} map[] = {{".hdb", FLT_AV_FMT_HDB}, {".hsb", FLT_AV_FMT_HSB}, {".ndb", FLT_AV_FMT_NDB},
		   {".ldb", FLT_AV_FMT_LDB}};

	if (dot == NULL)
		return SL_ENOTSUP;
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(dot, map[i].ext) == 0) {
			*fmt_r = map[i].fmt;
			return 0;
		}
	return SL_ENOTSUP;
}

int flt_av_db_load_file(flt_av_db_t *db, const char *path, const char **error_r)
{
	enum flt_av_format fmt;
	struct stat st;
	char *text = NULL;
	FILE *f = NULL;
	int rc;

	*error_r = db->err;
	if (format_of(path, &fmt) < 0) {
		snprintf(db->err, sizeof(db->err), "%s: unknown signature format (want .hdb .hsb .ndb .ldb)", path);
		return SL_ENOTSUP;
	}
	f = fopen(path, "rb");
	if (f == NULL || fstat(fileno(f), &st) < 0) {
		snprintf(db->err, sizeof(db->err), "%s: %s", path, strerror(errno));
		rc = SL_EIO;
		goto out;
	}
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > AV_FILE_MAX) {
		snprintf(db->err, sizeof(db->err), "%s: not a regular file of at most 512 MiB", path);
		rc = SL_EIO;
		goto out;
	}
	text = malloc((size_t)st.st_size + 1);
	if (text == NULL) {
		snprintf(db->err, sizeof(db->err), "%s: out of memory", path);
		rc = SL_ENOMEM;
		goto out;
	}
	if (fread(text, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
		snprintf(db->err, sizeof(db->err), "%s: short read", path);
		rc = SL_EIO;
		goto out;
	}
	rc = flt_av_db_load_text(db, fmt, path, text, (size_t)st.st_size, error_r);
out:
	if (f != NULL)
		fclose(f);
	free(text);
	return rc;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int flt_av_db_load_dir(flt_av_db_t *db, const char *dir, const char **error_r)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;

	*error_r = db->err;
	if (d == NULL) {
		snprintf(db->err, sizeof(db->err), "%s: %s", dir, strerror(errno));
		return SL_EIO;
	}
	while ((de = readdir(d)) != NULL) {
		enum flt_av_format fmt;
		char *p;

		if (de->d_name[0] == '.' || format_of(de->d_name, &fmt) < 0)
			continue;
		if (grow((void **)&names, &cap, n, sizeof(*names)) < 0 ||
		    asprintf(&p, "%s/%s", dir, de->d_name) < 0) {
			snprintf(db->err, sizeof(db->err), "%s: out of memory", dir);
			rc = SL_ENOMEM;
			break;
		}
		names[n++] = p;
	}
	closedir(d);
	if (rc == 0)
		qsort(names, n, sizeof(*names), cmp_str);
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = flt_av_db_load_file(db, names[i], error_r);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

static int cmp_hash(const void *a, const void *b)
{
	const av_hash_t *x = a, *y = b;

	if (x->size != y->size)
		return x->size < y->size ? -1 : 1;
	return memcmp(x->digest, y->digest, sizeof(x->digest));
}

static int build_hashset(av_hashset_t *hs)
{
	/* a compile that failed in Hyperscan may be retried: start afresh */
	free(hs->sizes);
	hs->sizes = NULL;
	hs->nsizes = 0;
	hs->any = false;
	if (hs->n == 0)
		return 0;
	qsort(hs->v, hs->n, sizeof(*hs->v), cmp_hash);
	hs->sizes = malloc(hs->n * sizeof(*hs->sizes));
	if (hs->sizes == NULL)
		return SL_ENOMEM;
	for (size_t i = 0; i < hs->n; i++) {
		if (hs->v[i].size == AV_ANY_SIZE)
			hs->any = true;
		else if (hs->nsizes == 0 || hs->sizes[hs->nsizes - 1] != hs->v[i].size)
			hs->sizes[hs->nsizes++] = hs->v[i].size;
	}
	return 0;
}

int flt_av_db_compile(flt_av_db_t *db, const char **error_r)
{
	const char **exprs = NULL;
	unsigned *flags = NULL, *ids = NULL;
	hs_compile_error_t *cerr = NULL;
	int rc = 0;

	*error_r = db->err;
	if (db->compiled) {
		snprintf(db->err, sizeof(db->err), "database already compiled");
		return SL_ESTATE;
	}
	for (int k = 0; k < AV_H_COUNT && rc == 0; k++)
		rc = build_hashset(&db->hashes[k]);
	if (rc < 0) {
		snprintf(db->err, sizeof(db->err), "out of memory");
		return rc;
	}
	for (size_t i = 0; i < db->npats; i++) {
		av_pat_t *p = &db->pats[i];
		PCRE2_SIZE eoff;
		int ecode;

		if (p->exact == NULL || p->confirm != NULL)
			continue;
		/* anchored at the start of the offset window, or searched for */
		p->confirm = pcre2_compile((PCRE2_SPTR)p->exact, PCRE2_ZERO_TERMINATED,
					   PCRE2_DOTALL | PCRE2_NO_UTF_CHECK | PCRE2_NEVER_UTF | PCRE2_NEVER_UCP |
						   (p->flags & HS_FLAG_CASELESS ? PCRE2_CASELESS : 0),
					   &ecode, &eoff, NULL);
		if (p->confirm == NULL) {
			PCRE2_UCHAR msg[128];

			pcre2_get_error_message(ecode, msg, sizeof(msg));
			snprintf(db->err, sizeof(db->err), "%s:%u: pcre2: %s", fname(db, p->file), p->line,
				 (const char *)msg);
			return SL_EINVAL;
		}
	}
	if (db->npats > 0) {
		exprs = malloc(db->npats * sizeof(*exprs));
		flags = malloc(db->npats * sizeof(*flags));
		ids = malloc(db->npats * sizeof(*ids));
		if (exprs == NULL || flags == NULL || ids == NULL) {
			snprintf(db->err, sizeof(db->err), "out of memory");
			rc = SL_ENOMEM;
			goto out;
		}
		for (size_t i = 0; i < db->npats; i++) {
			exprs[i] = db->pats[i].expr;
			flags[i] = db->pats[i].flags;
			ids[i] = (unsigned)i;
		}
		if (hs_compile_multi(exprs, flags, ids, (unsigned)db->npats,
				     HS_MODE_BLOCK, NULL, &db->hs,
				     &cerr) != HS_SUCCESS) {
			if (cerr != NULL && cerr->expression >= 0 && (size_t)cerr->expression < db->npats) {
				const av_pat_t *p = &db->pats[cerr->expression];

				snprintf(db->err, sizeof(db->err), "%s:%u: hyperscan: %s", fname(db, p->file), p->line,
					 cerr->message);
			} else {
				snprintf(db->err, sizeof(db->err), "hyperscan: %s",
					 cerr != NULL ? cerr->message : "compile failed");
			}
			hs_free_compile_error(cerr);
			db->hs = NULL;
			rc = SL_EINVAL;
			goto out;
		}
	}
	db->stats.patterns = (uint32_t)db->npats;
	db->compiled = true;
out:
	free(exprs);
	free(flags);
	free(ids);
	return rc;
}
