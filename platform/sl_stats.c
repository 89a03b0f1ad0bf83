/* sl_stats - sum and print counter structs named by a field table. */
#include "sl_stats.h"

#include <inttypes.h>
#include <stdint.h>
#include <string.h>

void sl_stats_add(const sl_stat_field_t *fields, size_t n, void *dst, const void *src)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t v, d;

		memcpy(&v, (const char *)src + fields[i].off, sizeof(v));
		memcpy(&d, (char *)dst + fields[i].off, sizeof(d));
		d += v;
		memcpy((char *)dst + fields[i].off, &d, sizeof(d));
	}
}

int sl_stats_format(const char *prefix, const sl_stat_field_t *fields, size_t n, const void *st,
		    sl_buf_t *out)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t v;
		int rc;

		memcpy(&v, (const char *)st + fields[i].off, sizeof(v));
		rc = sl_buf_printf(out, "%s.%s %" PRIu64 "\n", prefix, fields[i].name, v);
		if (rc < 0)
			return rc;
	}
	return 0;
}
