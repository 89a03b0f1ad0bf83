/* fuzz_conf - libFuzzer harness for the config parser and schema loader.
 *
 * Feeds arbitrary bytes to sl_conf_load_string against a schema that uses
 * every field type (nested sections, a repeatable STRLIST, a CUSTOM field
 * that walks the whole tree). It must never crash, read out of bounds or
 * leak, and every failure must come with a message. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sl_conf.h"
#include "sl_err.h"

struct fz {
	bool flag;
	int64_t i;
	uint32_t u, ip, cidr, inner_u;
	uint8_t prefix, mac[6];
	uint64_t size, dur;
	char str[32];
	int level;
	sl_conf_strlist_t list, inner_list;
	unsigned walked;
};

#define OFF(f) offsetof(struct fz, f)

static const char *const fz_levels[] = {"error", "warn", "info", "debug", NULL};

/* Touch every node, the way a CUSTOM parser would. */
static unsigned fz_walk(const sl_conf_node_t *n)
{
	unsigned total = 1;
	const char *s = sl_conf_node_str(n);

	if (s != NULL)
		total += (unsigned)strlen(s) + sl_conf_node_quoted(n);
	if (sl_conf_node_key(n) != NULL)
		total += (unsigned)strlen(sl_conf_node_key(n));
	total += sl_conf_node_line(n) & 1;
	for (unsigned i = 0; i < sl_conf_node_count(n); i++)
		total += fz_walk(sl_conf_node_at(n, i));
	return total;
}

static int fz_custom(const sl_conf_node_t *n, void *field_ptr, const char **error_r)
{
	unsigned *walked = field_ptr;

	*walked += fz_walk(n);
	if (sl_conf_node_kind(n) == SL_CONF_NODE_SCALAR && strcmp(sl_conf_node_str(n), "bad") == 0) {
		*error_r = "custom refused it";
		return SL_EINVAL;
	}
	return 0;
}

static const sl_conf_field_t fz_inner_fields[] = {
	{"u", SL_CONF_UINT, OFF(inner_u), 0, 1, 100},
	{"list", SL_CONF_STRLIST, OFF(inner_list)},
	{NULL}};
static const sl_conf_section_t fz_inner = {"inner", fz_inner_fields};

static const sl_conf_field_t fz_fields[] = {
	{"flag", SL_CONF_BOOL, OFF(flag)},
	{"i", SL_CONF_INT, OFF(i), 0, -1000, 1000},
	{"u", SL_CONF_UINT, OFF(u)},
	{"size", SL_CONF_SIZE, OFF(size), 0, 1, 1LL << 40},
	{"dur", SL_CONF_DURATION, OFF(dur)},
	{"str", SL_CONF_STRING, OFF(str), sizeof(((struct fz *)0)->str)},
	{"ip", SL_CONF_IPV4, OFF(ip)},
	{"cidr", SL_CONF_IPV4_CIDR, OFF(cidr), .aux_offset = OFF(prefix)},
	{"mac", SL_CONF_MAC, OFF(mac)},
	{"level", SL_CONF_ENUM, OFF(level), .choices = fz_levels},
	{"list", SL_CONF_STRLIST, OFF(list)},
	{"inner", SL_CONF_SECTION, 0, .section = &fz_inner},
	{"any", SL_CONF_CUSTOM, OFF(walked), .parse = fz_custom, .flags = SL_CONF_F_MULTI},
	{NULL}};
static const sl_conf_section_t fz_root = {"", fz_fields};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz out;
	const char *err = NULL;
	int rc;

	memset(&out, 0, sizeof(out));
	rc = sl_conf_load_string("fuzz.conf", (const char *)data, size, &fz_root, &out, &err);
	if (rc < 0 && (err == NULL || strncmp(err, "fuzz.conf", 9) != 0))
		abort(); /* every error must name the file */
	if (rc == 0 && memchr(out.str, '\0', sizeof(out.str)) == NULL)
		abort(); /* STRING is always terminated */
	sl_conf_release(&fz_root, &out);
	return 0;
}
