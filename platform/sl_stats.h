/* sl_stats - counter structs made of uint64_t fields, named by a table:
 * sum one into another (lanes into a total) and print them as
 * "prefix.name value" lines for `sluicectl show stats`.
 *
 *   static const sl_stat_field_t f[] = {SL_STAT(struct x_stats, sessions), ...};
 *   sl_stats_add(f, SL_STAT_COUNT(f), &total, &lane);
 *   sl_stats_format("x", f, SL_STAT_COUNT(f), &total, out);
 */
#ifndef SL_STATS_H
#define SL_STATS_H

#include <stddef.h>

#include "sl_buf.h"

typedef struct sl_stat_field {
	const char *name;
	size_t off; /* offset of a uint64_t in the struct */
} sl_stat_field_t;

#define SL_STAT(type, field) {#field, offsetof(type, field)}
#define SL_STAT_COUNT(table) (sizeof(table) / sizeof((table)[0]))

/* DST.f += SRC.f for every field of the table. */
void sl_stats_add(const sl_stat_field_t *fields, size_t n, void *dst, const void *src);

/* Append "PREFIX.name value\n" per field; 0 or the sl_buf error. */
int sl_stats_format(const char *prefix, const sl_stat_field_t *fields, size_t n, const void *st,
		    sl_buf_t *out);

#endif
