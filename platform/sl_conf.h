/* sl_conf - strict, schema-driven loading of config files written in a
 * documented subset of UCL / nginx syntax (docs/config-syntax.md). Debian
 * packages no UCL config library (its libucl-dev is an unrelated
 * compressor), so the parser is ours; a bonus is that every error carries
 * the file and line.
 *
 * Each layer describes its own section as a table of sl_conf_field_t; the
 * daemon composes them into one root schema. Loading rejects unknown keys,
 * repeated keys, wrong types and out-of-range values with an error that
 * names the file, line and key path:
 *   demo.conf:12: net.ip: '1.2.3' is not an IPv4 address
 *   demo.conf:3: unknown key 'foo' in section 'net'
 * Fields not present keep the value the caller put in the struct beforehand
 * (the default). */
#ifndef SL_CONF_H
#define SL_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Hard limits of the parser; larger input is an error, never truncated. */
#define SL_CONF_MAX_FILE (1024 * 1024) /* bytes per file */
#define SL_CONF_MAX_LINE 8192          /* bytes per line, excluding '\n' */
#define SL_CONF_MAX_DEPTH 16           /* nested sections and arrays */
#define SL_CONF_MAX_KEY 64             /* bytes per key */

enum sl_conf_type {
	SL_CONF_BOOL,     /* bool: true/false, yes/no, on/off */
	SL_CONF_INT,      /* int64_t, bounded by [min, max] */
	SL_CONF_UINT,     /* uint32_t, bounded by [min, max] */
	SL_CONF_SIZE,     /* uint64_t bytes; accepts 64k, 16m, 1g; bounded */
	SL_CONF_DURATION, /* uint64_t microseconds; accepts 10s, 250ms, 5min;
			     bounds are in microseconds */
	SL_CONF_STRING,   /* char[size], size taken from the field's `size` */
	SL_CONF_IPV4,     /* uint32_t, network byte order */
	SL_CONF_IPV4_CIDR,/* uint32_t addr (network order) + uint8_t prefix at
			     offset `aux_offset` ("198.18.0.2/24") */
	SL_CONF_MAC,      /* uint8_t[6] ("02:00:00:00:00:01") */
	SL_CONF_ENUM,     /* int; value is index into `choices` (NULL-ended) */
	SL_CONF_SECTION,  /* nested object described by `section` */
	SL_CONF_STRLIST,  /* sl_conf_strlist_t: a string or an array of strings;
			     a repeated key appends */
	SL_CONF_CUSTOM,   /* parsed by `parse` */
};

/* Field flags. */
#define SL_CONF_F_REQUIRED 0x1u /* missing key is an error */
#define SL_CONF_F_MULTI 0x2u    /* CUSTOM: the key may repeat; `parse` runs
				   once per occurrence, in file order */

/* A parsed value: a scalar (kept as text), an object or an array. Opaque;
 * read it with the sl_conf_node_* accessors. Nodes live only for the
 * duration of the load call (i.e. of a CUSTOM `parse` call). */
typedef struct sl_conf_node sl_conf_node_t;
typedef struct sl_conf_field sl_conf_field_t;

enum sl_conf_node_kind {
	SL_CONF_NODE_SCALAR, /* bare word or quoted string */
	SL_CONF_NODE_OBJECT, /* { key value; ... } */
	SL_CONF_NODE_ARRAY,  /* [ v, v, ... ] */
};

typedef struct sl_conf_section {
	const char *name;
	const sl_conf_field_t *fields; /* ends with a {NULL} entry */
} sl_conf_section_t;

typedef struct sl_conf_strlist {
	unsigned count;
	char **items; /* owned; free with sl_conf_strlist_free */
} sl_conf_strlist_t;

struct sl_conf_field {
	const char *key;
	enum sl_conf_type type;
	size_t offset;     /* of the value in the section's struct */
	size_t size;       /* STRING: buffer size */
	int64_t min, max;  /* numeric bounds (inclusive); both 0 = unbounded */
	const sl_conf_section_t *section; /* SECTION */
	const char *const *choices;       /* ENUM */
	size_t aux_offset;                /* IPV4_CIDR: prefix length */
	/* CUSTOM: NODE is the value (any kind), FIELD_PTR points at `offset`
	 * in the section's struct. Return 0, or an sl_err with *error_r set to
	 * a reason (static or thread-local string); the loader prefixes it
	 * with file, line and key path. */
	int (*parse)(const sl_conf_node_t *node, void *field_ptr, const char **error_r);
	const char *help;  /* one line, shown by --help-config */
	unsigned flags;    /* SL_CONF_F_* */
};

/* sl_conf_load_file - parse PATH and fill OUT per ROOT. Returns 0, or
 * SL_ECONFIG (bad syntax or value), SL_EIO (cannot read) or SL_ENOMEM, with
 * *error_r set to a message naming the file (as PATH was given), the line
 * and the key path. The message lives until the next call from this
 * thread. On error OUT may be partly updated: load into a scratch copy when
 * the old configuration must survive a failed reload. STRLIST fields of
 * OUT must hold either {0, NULL} or a list from an earlier load, which a
 * present key frees and replaces. */
int sl_conf_load_file(const char *path, const sl_conf_section_t *root, void *out,
		      const char **error_r);
/* sl_conf_load_string - the same for the LEN bytes at TEXT (no NUL needed;
 * an embedded NUL is an error). NAME stands for the file name in messages
 * (NULL: "<string>"). */
int sl_conf_load_string(const char *name, const char *text, size_t len,
			const sl_conf_section_t *root, void *out, const char **error_r);
/* sl_conf_strlist_free - free the items and leave L as {0, NULL}. */
void sl_conf_strlist_free(sl_conf_strlist_t *l);
/* sl_conf_release - free everything a load allocated in OUT (every
 * STRLIST, through nested sections). OUT stays usable, lists empty. */
void sl_conf_release(const sl_conf_section_t *root, void *out);

/* Node accessors, for CUSTOM parsers. All take a non-NULL node. */
enum sl_conf_node_kind sl_conf_node_kind(const sl_conf_node_t *n);
/* sl_conf_node_str - the text of a scalar (quotes removed, escapes
 * decoded, never containing NUL), or NULL for an object or array. */
const char *sl_conf_node_str(const sl_conf_node_t *n);
/* sl_conf_node_quoted - true when the scalar was written in quotes. */
bool sl_conf_node_quoted(const sl_conf_node_t *n);
/* sl_conf_node_line - 1-based line where the value starts. */
unsigned sl_conf_node_line(const sl_conf_node_t *n);
/* sl_conf_node_count - elements of an array or members of an object, in
 * file order; 0 for a scalar. */
unsigned sl_conf_node_count(const sl_conf_node_t *n);
/* sl_conf_node_at - element I (0-based) of an array or object, or NULL when
 * out of range or N is a scalar. */
const sl_conf_node_t *sl_conf_node_at(const sl_conf_node_t *n, unsigned i);
/* sl_conf_node_key - the key of an object member; NULL for an array
 * element or the root. */
const char *sl_conf_node_key(const sl_conf_node_t *n);

/* Value parsers used by the loader, exposed for the CLI, CUSTOM parsers
 * and tests. Each takes a NUL-terminated string and returns 0 or SL_EINVAL
 * (out-parameter untouched on error).
 * sl_conf_parse_size: "65536", "64k", "16m", "1g" (also kb/mb/gb, any
 *   case; powers of 1024) -> bytes.
 * sl_conf_parse_duration: "10" (seconds), "10us", "250ms", "10s", "5min",
 *   "2h" -> microseconds.
 * sl_conf_parse_bool: true/false, yes/no, on/off (any case).
 * sl_conf_parse_ipv4: dotted quad, decimal, no leading zeros -> network
 *   byte order. */
int sl_conf_parse_size(const char *s, uint64_t *r);
int sl_conf_parse_duration(const char *s, uint64_t *us_r);
int sl_conf_parse_bool(const char *s, bool *r);
int sl_conf_parse_ipv4(const char *s, uint32_t *addr_r);

#endif
