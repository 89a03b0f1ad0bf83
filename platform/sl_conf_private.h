/* sl_conf_private - the parse tree and the pieces shared by the parser
 * (sl_conf_parse.c) and the schema loader (sl_conf.c). Not for other
 * modules. */
#ifndef SL_CONF_PRIVATE_H
#define SL_CONF_PRIVATE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "sl_conf.h"

/* Longest key path kept for messages ("a.b.c"): every level at full key
 * length, plus the dots. */
#define SL_CONF_PATH_MAX ((SL_CONF_MAX_KEY + 1) * (SL_CONF_MAX_DEPTH + 1))
/* Size of the per-thread error message buffer. */
#define SL_CONF_ERR_MAX 1024

struct sl_conf_node {
	enum sl_conf_node_kind kind;
	bool quoted;             /* SCALAR written in quotes */
	unsigned line;           /* where the value starts */
	const char *key;         /* object member: its key; else NULL */
	unsigned key_line;       /* object member: line of the key */
	char *str;               /* SCALAR: decoded text, NUL-terminated */
	size_t len;              /* SCALAR: strlen(str) */
	unsigned count;          /* OBJECT/ARRAY: children */
	sl_conf_node_t **items;  /* OBJECT/ARRAY: children in file order */
	sl_conf_node_t *next;    /* sibling link while the parent is built */
};

/* All nodes and strings of one load come from a chunked bump allocator and
 * die together: no per-node free, no leak paths in the parser. */
typedef struct sl_conf_arena sl_conf_arena_t;

sl_conf_arena_t *sl_conf_arena_create(void);
/* sl_conf_arena_alloc - SIZE zeroed bytes, max-aligned; NULL when out of
 * memory. Valid until the arena is destroyed. */
void *sl_conf_arena_alloc(sl_conf_arena_t *a, size_t size);
void sl_conf_arena_destroy(sl_conf_arena_t **a);

/* sl_conf_parse - parse LEN bytes of TEXT into a tree whose root is an
 * OBJECT node (line 1), allocated from A. Returns 0, SL_ECONFIG with a
 * "NAME:LINE: [path: ]reason" message in ERR, or SL_ENOMEM. */
int sl_conf_parse(const char *name, const char *text, size_t len, sl_conf_arena_t *a,
		  sl_conf_node_t **root_r, char *err, size_t err_size);

/* sl_conf_errf - write "NAME:LINE: PATH: message" into ERR; LINE 0 leaves
 * out the line, an empty or NULL PATH leaves out the path. */
void sl_conf_errf(char *err, size_t err_size, const char *name, unsigned line,
		  const char *path, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* sl_conf_quote - copy S for quoting inside a message: at most 60 bytes
 * (then "..."), with control characters replaced by '?'. Returns OUT. */
const char *sl_conf_quote(const char *s, char *out, size_t out_size);

#endif
