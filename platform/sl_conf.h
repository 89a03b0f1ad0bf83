/* sl_conf - strict, schema-driven loading of config files written in a
 * documented subset of UCL (docs/config.md). Debian packages no UCL config
 * library (its libucl-dev is an unrelated compressor), so the parser is ours;
 * a bonus is that every error carries the file and line.
 *
 * Each layer describes its own section as a table of sl_conf_field_t; the
 * daemon composes them into one root schema. Loading rejects unknown keys,
 * wrong types and out-of-range values with an error that names the key path
 * ("demo.conf:12: net.ip: '1.2.3' is not an IPv4 address"). Fields not present keep the
 * value the caller put in the struct beforehand (the default). */
#ifndef SL_CONF_H
#define SL_CONF_H

#include <stddef.h>
#include <stdint.h>

enum sl_conf_type {
	SL_CONF_BOOL,     /* bool */
	SL_CONF_INT,      /* int64_t, bounded by [min, max] */
	SL_CONF_UINT,     /* uint32_t, bounded by [min, max] */
	SL_CONF_SIZE,     /* uint64_t bytes; accepts 64k, 16m, 1g; bounded */
	SL_CONF_DURATION, /* uint64_t microseconds; accepts 10s, 250ms, 5min */
	SL_CONF_STRING,   /* char[size], size taken from the field's `size` */
	SL_CONF_IPV4,     /* uint32_t, network byte order */
	SL_CONF_IPV4_CIDR,/* uint32_t addr (network order) + uint8_t prefix at
			     offset `aux_offset` ("198.18.0.2/24") */
	SL_CONF_MAC,      /* uint8_t[6] ("02:00:00:00:00:01") */
	SL_CONF_ENUM,     /* int; value is index into `choices` (NULL-ended) */
	SL_CONF_SECTION,  /* nested object described by `section` */
	SL_CONF_STRLIST,  /* sl_conf_strlist_t: array of strings */
	SL_CONF_CUSTOM,   /* parsed by `parse` */
};

/* A parsed value: scalar (kept as text), object or array. Opaque. */
typedef struct sl_conf_node sl_conf_node_t;
typedef struct sl_conf_field sl_conf_field_t;

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
	/* CUSTOM: return 0 or an sl_err with *error_r set (static or thread-
	 * local string). */
	int (*parse)(const sl_conf_node_t *node, void *field_ptr, const char **error_r);
	const char *help;  /* one line, shown by --help-config */
};

/* sl_conf_load_file - parse PATH and fill OUT per ROOT. Returns 0, or
 * SL_ECONFIG / SL_EIO with *error_r set to a message naming the file and the
 * key path. The message lives until the next call from this thread. */
int sl_conf_load_file(const char *path, const sl_conf_section_t *root, void *out,
		      const char **error_r);
/* sl_conf_load_string - the same for an in-memory UCL text (tests). */
int sl_conf_load_string(const char *text, const sl_conf_section_t *root, void *out,
			const char **error_r);
void sl_conf_strlist_free(sl_conf_strlist_t *l);

/* sl_conf_parse_size / _duration - "64k" -> 65536, "250ms" -> 250000 us.
 * 0 or SL_EINVAL. Exposed for the CLI and tests. */
int sl_conf_parse_size(const char *s, uint64_t *r);
int sl_conf_parse_duration(const char *s, uint64_t *us_r);

#endif
