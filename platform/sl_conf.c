/* sl_conf - schema-driven config loading: walks the parse tree of
 * sl_conf_parse.c against sl_conf_field_t tables and fills the caller's
 * structs, with every error naming file, line and key path. */
#include "sl_conf.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sl_conf_private.h"
#include "sl_err.h"

#define KIB 1024ULL
#define US_PER_MS 1000ULL
#define US_PER_S 1000000ULL

/* The message handed back through error_r lives here until the next call
 * from this thread. */
static __thread char conf_errbuf[SL_CONF_ERR_MAX];

struct loader {
	const char *name;
	char *err;
	size_t err_size;
	char path[SL_CONF_PATH_MAX];
};

#define LERR(L, LINE, ...) \
	sl_conf_errf((L)->err, (L)->err_size, (L)->name, (LINE), (L)->path, __VA_ARGS__)

/* ---- value parsers -------------------------------------------------- */

static int digit_val(char c, unsigned base)
{
	int v;

	if (c >= '0' && c <= '9')
		v = c - '0';
	else if (c >= 'a' && c <= 'f')
		v = c - 'a' + 10;
	else if (c >= 'A' && c <= 'F')
		v = c - 'A' + 10;
	else
		return -1;
	return (unsigned)v < base ? v : -1;
}

/* Unsigned digits at *S (decimal, or hex after 0x when HEX_OK); advances
 * *S past them. SL_EINVAL on no digits or overflow. */
static int parse_digits(const char **s, bool hex_ok, uint64_t *r)
{
	const char *p = *s;
	unsigned base = 10;
	uint64_t v = 0;
	int d;

	if (hex_ok && p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
	}
	if (digit_val(*p, base) < 0)
		return SL_EINVAL;
	while ((d = digit_val(*p, base)) >= 0) {
		if (v > (UINT64_MAX - (uint64_t)d) / base)
			return SL_EINVAL;
		v = v * base + (uint64_t)d;
		p++;
	}
	*s = p;
	*r = v;
	return 0;
}

static bool eq_nocase(const char *a, const char *b)
{
	for (; *a != '\0' && *b != '\0'; a++, b++) {
		char x = *a, y = *b;

		if (x >= 'A' && x <= 'Z')
			x = (char)(x + 32);
		if (y >= 'A' && y <= 'Z')
			y = (char)(y + 32);
		if (x != y)
			return false;
	}
	return *a == *b;
}

/* Number followed by a unit from TABLE (NULL-key ended); an empty unit
 * means BARE_MULT. */
struct unit {
	const char *name;
	uint64_t mult;
};

static int parse_with_unit(const char *s, const struct unit *table, uint64_t bare_mult,
			   uint64_t *r)
{
	uint64_t v, mult = 0;

	if (parse_digits(&s, false, &v) < 0)
		return SL_EINVAL;
	if (*s == '\0') {
		mult = bare_mult;
	} else {
		for (const struct unit *u = table; u->name != NULL; u++)
			if (eq_nocase(s, u->name)) {
				mult = u->mult;
				break;
			}
	}
	if (mult == 0 || (v != 0 && v > UINT64_MAX / mult))
		return SL_EINVAL;
	*r = v * mult;
	return 0;
}

static const struct unit size_units[] = {
	{"b", 1},
	{"k", KIB}, {"kb", KIB},
	{"m", KIB * KIB}, {"mb", KIB * KIB},
	{"g", KIB * KIB * KIB}, {"gb", KIB * KIB * KIB},
	{"t", KIB * KIB * KIB * KIB}, {"tb", KIB * KIB * KIB * KIB},
	{NULL, 0}};

static const struct unit duration_units[] = {
	{"us", 1},
	{"ms", US_PER_MS},
	{"s", US_PER_S},
	{"min", 60 * US_PER_S},
	{"h", 3600 * US_PER_S},
	{NULL, 0}};

int sl_conf_parse_size(const char *s, uint64_t *r)
{
	return parse_with_unit(s, size_units, 1, r);
}

int sl_conf_parse_duration(const char *s, uint64_t *us_r)
{
	return parse_with_unit(s, duration_units, US_PER_S, us_r);
}

int sl_conf_parse_bool(const char *s, bool *r)
{
	static const char *const yes[] = {"true", "yes", "on"}, *const no[] = {"false", "no", "off"};

	for (int i = 0; i < 3; i++) {
		if (eq_nocase(s, yes[i])) {
			*r = true;
			return 0;
		}
		if (eq_nocase(s, no[i])) {
			*r = false;
			return 0;
		}
	}
	return SL_EINVAL;
}

/* Dotted quad at *S, advancing past it. Leading zeros are refused: other
 * tools read "010" as octal, and a config must mean one thing. */
static int parse_quad(const char **s, uint32_t *addr_r)
{
	const char *p = *s;
	uint32_t a = 0;

	for (int i = 0; i < 4; i++) {
		unsigned v = 0, n = 0;

		if (i > 0 && *p++ != '.')
			return SL_EINVAL;
		while (*p >= '0' && *p <= '9' && n < 4) {
			v = v * 10 + (unsigned)(*p++ - '0');
			n++;
		}
		if (n == 0 || n > 3 || v > 255 || (n > 1 && p[-(int)n] == '0'))
			return SL_EINVAL;
		a = a << 8 | v;
	}
	*s = p;
	*addr_r = a;
	return 0;
}

int sl_conf_parse_ipv4(const char *s, uint32_t *addr_r)
{
	uint32_t a;

	if (parse_quad(&s, &a) < 0 || *s != '\0')
		return SL_EINVAL;
	*addr_r = htobe32(a);
	return 0;
}

static int parse_cidr(const char *s, uint32_t *addr_r, uint8_t *prefix_r)
{
	uint32_t a;
	uint64_t prefix;

	if (parse_quad(&s, &a) < 0 || *s++ != '/')
		return SL_EINVAL;
	if ((s[0] == '0' && s[1] != '\0') || parse_digits(&s, false, &prefix) < 0 ||
	    *s != '\0' || prefix > 32)
		return SL_EINVAL;
	*addr_r = htobe32(a);
	*prefix_r = (uint8_t)prefix;
	return 0;
}

static int parse_mac(const char *s, uint8_t mac[6])
{
	uint8_t m[6];

	for (int i = 0; i < 6; i++) {
		int hi, lo;

		if (i > 0 && *s++ != ':')
			return SL_EINVAL;
		if ((hi = digit_val(s[0], 16)) < 0 || (lo = digit_val(s[1], 16)) < 0)
			return SL_EINVAL;
		m[i] = (uint8_t)(hi << 4 | lo);
		s += 2;
	}
	if (*s != '\0')
		return SL_EINVAL;
	memcpy(mac, m, 6);
	return 0;
}

static int parse_int64(const char *s, int64_t *r)
{
	bool neg = false;
	uint64_t v;

	if (*s == '-' || *s == '+')
		neg = *s++ == '-';
	if (parse_digits(&s, true, &v) < 0 || *s != '\0')
		return SL_EINVAL;
	if (neg) {
		if (v > (uint64_t)INT64_MAX + 1)
			return SL_EINVAL;
		*r = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
	} else {
		if (v > INT64_MAX)
			return SL_EINVAL;
		*r = (int64_t)v;
	}
	return 0;
}

/* ---- human-readable bounds for messages ----------------------------- */

static const char *fmt_size(uint64_t v, char *out, size_t n)
{
	static const char suffix[] = "tgmk";

	for (int i = 0; i < 4; i++) {
		uint64_t unit = 1ULL << (10 * (4 - i));

		if (v != 0 && v % unit == 0) {
			snprintf(out, n, "%llu%c", (unsigned long long)(v / unit), suffix[i]);
			return out;
		}
	}
	snprintf(out, n, "%llu", (unsigned long long)v);
	return out;
}

static const char *fmt_duration(uint64_t us, char *out, size_t n)
{
	static const struct unit units[] = {
		{"h", 3600 * US_PER_S}, {"min", 60 * US_PER_S}, {"s", US_PER_S}, {"ms", US_PER_MS}};

	for (unsigned i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (us != 0 && us % units[i].mult == 0) {
			snprintf(out, n, "%llu%s", (unsigned long long)(us / units[i].mult),
				 units[i].name);
			return out;
		}
	snprintf(out, n, "%lluus", (unsigned long long)us);
	return out;
}

/* ---- schema walk ---------------------------------------------------- */

static int apply_section(struct loader *l, const sl_conf_section_t *sec,
			 const sl_conf_node_t *obj, char *base);

static const char *kind_name(enum sl_conf_node_kind k)
{
	return k == SL_CONF_NODE_OBJECT ? "a section" : k == SL_CONF_NODE_ARRAY ? "an array"
										 : "a value";
}

/* Range check for the unsigned types, in their own units. */
static int check_range(struct loader *l, const sl_conf_field_t *f, const sl_conf_node_t *n,
		       uint64_t v, uint64_t type_max)
{
	uint64_t lo = 0, hi = type_max;
	char q[72], a[32], b[32];

	if (f->min != 0 || f->max != 0) {
		lo = f->min > 0 ? (uint64_t)f->min : 0;
		hi = f->max < 0 ? 0 : (uint64_t)f->max < type_max ? (uint64_t)f->max : type_max;
	}
	if (v >= lo && v <= hi)
		return 0;
	if (f->type == SL_CONF_SIZE)
		LERR(l, n->line, "'%s' is out of range [%s, %s]", sl_conf_quote(n->str, q, sizeof(q)),
		     fmt_size(lo, a, sizeof(a)), fmt_size(hi, b, sizeof(b)));
	else if (f->type == SL_CONF_DURATION)
		LERR(l, n->line, "'%s' is out of range [%s, %s]", sl_conf_quote(n->str, q, sizeof(q)),
		     fmt_duration(lo, a, sizeof(a)), fmt_duration(hi, b, sizeof(b)));
	else
		LERR(l, n->line, "'%s' is out of range [%llu, %llu]",
		     sl_conf_quote(n->str, q, sizeof(q)), (unsigned long long)lo,
		     (unsigned long long)hi);
	return SL_ECONFIG;
}

static int apply_enum(struct loader *l, const sl_conf_field_t *f, const sl_conf_node_t *n,
		      void *dst)
{
	char list[256], q[72];
	size_t used = 0;
	int i;

	for (i = 0; f->choices != NULL && f->choices[i] != NULL; i++)
		if (strcmp(n->str, f->choices[i]) == 0) {
			memcpy(dst, &i, sizeof(i));
			return 0;
		}
	list[0] = '\0';
	for (i = 0; f->choices != NULL && f->choices[i] != NULL && used < sizeof(list); i++) {
		int w = snprintf(list + used, sizeof(list) - used, "%s%s", i ? ", " : "",
				 f->choices[i]);

		if (w < 0)
			break;
		used += (size_t)w;
	}
	LERR(l, n->line, "'%s' is not one of: %s", sl_conf_quote(n->str, q, sizeof(q)), list);
	return SL_ECONFIG;
}

static int strlist_append(sl_conf_strlist_t *list, const sl_conf_node_t *n)
{
	char **items, *copy;

	copy = malloc(n->len + 1);
	if (copy == NULL)
		return SL_ENOMEM;
	memcpy(copy, n->str, n->len + 1);
	/* Capacity is implied by count (the next power of two), so growth is
	 * geometric without a field for it: 100k repeats stay linear. */
	if ((list->count & (list->count - 1)) == 0) {
		size_t cap = list->count ? (size_t)list->count * 2 : 1;

		items = realloc(list->items, cap * sizeof(*items));
		if (items == NULL) {
			free(copy);
			return SL_ENOMEM;
		}
		list->items = items;
	}
	list->items[list->count++] = copy;
	return 0;
}

static int apply_strlist(struct loader *l, const sl_conf_node_t *n, sl_conf_strlist_t *list,
			 bool first)
{
	int rc;

	/* The first occurrence replaces the default; repeats append. */
	if (first)
		sl_conf_strlist_free(list);
	if (n->kind == SL_CONF_NODE_SCALAR)
		return strlist_append(list, n);
	if (n->kind == SL_CONF_NODE_OBJECT)
		goto bad;
	for (unsigned i = 0; i < n->count; i++) {
		if (n->items[i]->kind != SL_CONF_NODE_SCALAR) {
			n = n->items[i];
			goto bad;
		}
		if ((rc = strlist_append(list, n->items[i])) < 0)
			return rc;
	}
	return 0;
bad:
	LERR(l, n->line, "expected a string or an array of strings, found %s",
	     kind_name(n->kind));
	return SL_ECONFIG;
}

static int apply_field(struct loader *l, const sl_conf_field_t *f, const sl_conf_node_t *n,
		       char *base, bool first)
{
	void *dst = base + f->offset;
	char q[72];
	const char *cerr = NULL;
	uint64_t u;
	int64_t i64;
	uint32_t u32;
	uint8_t prefix;
	bool b;
	int rc;

	switch (f->type) {
	case SL_CONF_SECTION:
		if (n->kind != SL_CONF_NODE_OBJECT) {
			LERR(l, n->line, "expected a section { ... }, found %s", kind_name(n->kind));
			return SL_ECONFIG;
		}
		return apply_section(l, f->section, n, (char *)dst);
	case SL_CONF_STRLIST:
		return apply_strlist(l, n, dst, first);
	case SL_CONF_CUSTOM:
		rc = f->parse(n, dst, &cerr);
		if (rc < 0)
			LERR(l, n->line, "%s", cerr != NULL ? cerr : sl_strerror(rc));
		return rc < 0 ? (rc == SL_ENOMEM ? rc : SL_ECONFIG) : 0;
	default:
		break;
	}
	if (n->kind != SL_CONF_NODE_SCALAR) {
		LERR(l, n->line, "expected a single value, found %s", kind_name(n->kind));
		return SL_ECONFIG;
	}
	sl_conf_quote(n->str, q, sizeof(q));
	switch (f->type) {
	case SL_CONF_BOOL:
		if (sl_conf_parse_bool(n->str, &b) < 0) {
			LERR(l, n->line, "'%s' is not a boolean (true/false, yes/no, on/off)", q);
			return SL_ECONFIG;
		}
		memcpy(dst, &b, sizeof(b));
		return 0;
	case SL_CONF_INT:
		if (parse_int64(n->str, &i64) < 0) {
			LERR(l, n->line, "'%s' is not an integer", q);
			return SL_ECONFIG;
		}
		if ((f->min != 0 || f->max != 0) && (i64 < f->min || i64 > f->max)) {
			LERR(l, n->line, "'%s' is out of range [%lld, %lld]", q, (long long)f->min,
			     (long long)f->max);
			return SL_ECONFIG;
		}
		memcpy(dst, &i64, sizeof(i64));
		return 0;
	case SL_CONF_UINT: {
		const char *s = n->str;

		if (parse_digits(&s, true, &u) < 0 || *s != '\0') {
			LERR(l, n->line, "'%s' is not an unsigned integer", q);
			return SL_ECONFIG;
		}
		if ((rc = check_range(l, f, n, u, UINT32_MAX)) < 0)
			return rc;
		u32 = (uint32_t)u;
		memcpy(dst, &u32, sizeof(u32));
		return 0;
	}
	case SL_CONF_SIZE:
		if (sl_conf_parse_size(n->str, &u) < 0) {
			LERR(l, n->line, "'%s' is not a size (bytes, or a number with k, m, g or t)", q);
			return SL_ECONFIG;
		}
		goto u64_value;
	case SL_CONF_DURATION:
		if (sl_conf_parse_duration(n->str, &u) < 0) {
			LERR(l, n->line,
			     "'%s' is not a duration (a number with us, ms, s, min or h; bare = seconds)",
			     q);
			return SL_ECONFIG;
		}
	u64_value:
		if ((rc = check_range(l, f, n, u, UINT64_MAX)) < 0)
			return rc;
		memcpy(dst, &u, sizeof(u));
		return 0;
	case SL_CONF_STRING:
		if (n->len >= f->size) {
			LERR(l, n->line, "'%s' is longer than %zu bytes", q,
			     f->size > 0 ? f->size - 1 : 0);
			return SL_ECONFIG;
		}
		memcpy(dst, n->str, n->len + 1);
		return 0;
	case SL_CONF_IPV4:
		if (sl_conf_parse_ipv4(n->str, &u32) < 0) {
			LERR(l, n->line, "'%s' is not an IPv4 address", q);
			return SL_ECONFIG;
		}
		memcpy(dst, &u32, sizeof(u32));
		return 0;
	case SL_CONF_IPV4_CIDR:
		if (parse_cidr(n->str, &u32, &prefix) < 0) {
			LERR(l, n->line, "'%s' is not an IPv4 address with a prefix length (a.b.c.d/n)",
			     q);
			return SL_ECONFIG;
		}
		memcpy(dst, &u32, sizeof(u32));
		memcpy(base + f->aux_offset, &prefix, sizeof(prefix));
		return 0;
	case SL_CONF_MAC:
		if (parse_mac(n->str, dst) < 0) {
			LERR(l, n->line, "'%s' is not a MAC address (xx:xx:xx:xx:xx:xx)", q);
			return SL_ECONFIG;
		}
		return 0;
	case SL_CONF_ENUM:
		return apply_enum(l, f, n, dst);
	default:
		LERR(l, n->line, "the schema has a field of unknown type %d", (int)f->type);
		return SL_ECONFIG;
	}
}

static bool field_repeats(const sl_conf_field_t *f)
{
	return f->type == SL_CONF_STRLIST ||
	       (f->type == SL_CONF_CUSTOM && (f->flags & SL_CONF_F_MULTI) != 0);
}

/* Fill BASE from the members of OBJ per SEC. l->path holds OBJ's key path
 * ("" at the root) and is restored before returning. */
static int apply_section(struct loader *l, const sl_conf_section_t *sec,
			 const sl_conf_node_t *obj, char *base)
{
	size_t path_len = strlen(l->path), nfields = 0;
	unsigned *seen = NULL; /* per field: line of its first occurrence */
	char q[72];
	int rc;

	while (sec->fields[nfields].key != NULL)
		nfields++;
	seen = calloc(nfields + 1, sizeof(*seen));
	if (seen == NULL) {
		snprintf(l->err, l->err_size, "%s: out of memory", l->name);
		return SL_ENOMEM;
	}
	for (unsigned i = 0; i < obj->count; i++) {
		const sl_conf_node_t *m = obj->items[i];
		size_t fi;

		for (fi = 0; fi < nfields; fi++)
			if (strcmp(sec->fields[fi].key, m->key) == 0)
				break;
		if (fi == nfields) {
			sl_conf_quote(m->key, q, sizeof(q));
			if (path_len > 0)
				sl_conf_errf(l->err, l->err_size, l->name, m->key_line, NULL,
					     "unknown key '%s' in section '%s'", q, l->path);
			else
				sl_conf_errf(l->err, l->err_size, l->name, m->key_line, NULL,
					     "unknown key '%s'", q);
			rc = SL_ECONFIG;
			goto fail;
		}
		/* Key lengths and depth are bounded by the parser: this fits. */
		snprintf(l->path + path_len, sizeof(l->path) - path_len, "%s%s",
			 path_len ? "." : "", m->key);
		if (seen[fi] != 0 && !field_repeats(&sec->fields[fi])) {
			LERR(l, m->key_line, "duplicate key (first set at line %u)", seen[fi]);
			rc = SL_ECONFIG;
			goto fail;
		}
		rc = apply_field(l, &sec->fields[fi], m, base, seen[fi] == 0);
		if (rc < 0) {
			if (rc == SL_ENOMEM)
				snprintf(l->err, l->err_size, "%s: out of memory", l->name);
			goto fail;
		}
		seen[fi] = m->key_line;
		l->path[path_len] = '\0';
	}
	for (size_t fi = 0; fi < nfields; fi++) {
		if (seen[fi] != 0 || !(sec->fields[fi].flags & SL_CONF_F_REQUIRED))
			continue;
		if (path_len > 0)
			sl_conf_errf(l->err, l->err_size, l->name, obj->line, NULL,
				     "missing required key '%s' in section '%s'",
				     sec->fields[fi].key, l->path);
		else
			sl_conf_errf(l->err, l->err_size, l->name, 0, NULL,
				     "missing required key '%s'", sec->fields[fi].key);
		rc = SL_ECONFIG;
		goto fail;
	}
	rc = 0;
fail:
	l->path[path_len] = '\0';
	free(seen);
	return rc;
}

/* ---- public API ----------------------------------------------------- */

int sl_conf_load_string(const char *name, const char *text, size_t len,
			const sl_conf_section_t *root, void *out, const char **error_r)
{
	sl_conf_arena_t *arena = NULL;
	sl_conf_node_t *tree = NULL;
	struct loader *l = NULL;
	int rc = SL_ENOMEM;

	if (name == NULL)
		name = "<string>";
	conf_errbuf[0] = '\0';
	if (len > SL_CONF_MAX_FILE) {
		sl_conf_errf(conf_errbuf, sizeof(conf_errbuf), name, 0, NULL,
			     "file is larger than %d bytes", SL_CONF_MAX_FILE);
		rc = SL_ECONFIG;
		goto fail;
	}
	arena = sl_conf_arena_create();
	l = calloc(1, sizeof(*l));
	if (arena == NULL || l == NULL) {
		snprintf(conf_errbuf, sizeof(conf_errbuf), "%s: out of memory", name);
		goto fail;
	}
	rc = sl_conf_parse(name, text, len, arena, &tree, conf_errbuf, sizeof(conf_errbuf));
	if (rc < 0)
		goto fail;
	l->name = name;
	l->err = conf_errbuf;
	l->err_size = sizeof(conf_errbuf);
	rc = apply_section(l, root, tree, out);
fail:
	free(l);
	sl_conf_arena_destroy(&arena);
	if (rc < 0 && error_r != NULL)
		*error_r = conf_errbuf;
	return rc;
}

int sl_conf_load_file(const char *path, const sl_conf_section_t *root, void *out,
		      const char **error_r)
{
	char *text = NULL;
	size_t len = 0;
	struct stat st;
	int fd, rc = SL_EIO;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(conf_errbuf, sizeof(conf_errbuf), "%s: cannot open: %s", path,
			 strerror(errno));
		goto fail;
	}
	if (S_ISDIR(st.st_mode)) {
		snprintf(conf_errbuf, sizeof(conf_errbuf), "%s: is a directory", path);
		goto fail;
	}
	if (S_ISREG(st.st_mode) && st.st_size > SL_CONF_MAX_FILE)
		goto too_big;
	/* Read one byte past the limit, so that a file that grew (or a pipe)
	 * is caught as too big rather than silently truncated. */
	text = malloc(SL_CONF_MAX_FILE + 1);
	if (text == NULL) {
		snprintf(conf_errbuf, sizeof(conf_errbuf), "%s: out of memory", path);
		rc = SL_ENOMEM;
		goto fail;
	}
	while (len < SL_CONF_MAX_FILE + 1) {
		ssize_t got = read(fd, text + len, SL_CONF_MAX_FILE + 1 - len);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			snprintf(conf_errbuf, sizeof(conf_errbuf), "%s: read error: %s", path,
				 strerror(errno));
			goto fail;
		}
		if (got == 0)
			break;
		len += (size_t)got;
	}
	if (len > SL_CONF_MAX_FILE)
		goto too_big;
	close(fd);
	rc = sl_conf_load_string(path, text, len, root, out, error_r);
	free(text);
	return rc;
too_big:
	snprintf(conf_errbuf, sizeof(conf_errbuf), "%s: file is larger than %d bytes", path,
		 SL_CONF_MAX_FILE);
	rc = SL_ECONFIG;
fail:
	if (fd >= 0)
		close(fd);
	free(text);
	if (error_r != NULL)
		*error_r = conf_errbuf;
	return rc;
}

void sl_conf_strlist_free(sl_conf_strlist_t *l)
{
	if (l == NULL)
		return;
	for (unsigned i = 0; i < l->count; i++)
		free(l->items[i]);
	free(l->items);
	l->items = NULL;
	l->count = 0;
}

void sl_conf_release(const sl_conf_section_t *root, void *out)
{
	for (const sl_conf_field_t *f = root->fields; f->key != NULL; f++) {
		char *dst = (char *)out + f->offset;

		if (f->type == SL_CONF_STRLIST)
			sl_conf_strlist_free((sl_conf_strlist_t *)dst);
		else if (f->type == SL_CONF_SECTION)
			sl_conf_release(f->section, dst);
	}
}

enum sl_conf_node_kind sl_conf_node_kind(const sl_conf_node_t *n)
{
	return n->kind;
}

const char *sl_conf_node_str(const sl_conf_node_t *n)
{
	return n->kind == SL_CONF_NODE_SCALAR ? n->str : NULL;
}

bool sl_conf_node_quoted(const sl_conf_node_t *n)
{
	return n->quoted;
}

unsigned sl_conf_node_line(const sl_conf_node_t *n)
{
	return n->line;
}

unsigned sl_conf_node_count(const sl_conf_node_t *n)
{
	return n->kind == SL_CONF_NODE_SCALAR ? 0 : n->count;
}

const sl_conf_node_t *sl_conf_node_at(const sl_conf_node_t *n, unsigned i)
{
	if (n->kind == SL_CONF_NODE_SCALAR || i >= n->count)
		return NULL;
	return n->items[i];
}

const char *sl_conf_node_key(const sl_conf_node_t *n)
{
	return n->key;
}
