/* test_conf - sl_conf: the syntax subset, every value type, and the exact
 * text of every error. Table-driven: each good case lists the fields it
 * changes (as dumped by demo_dump), each bad case its full message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "sl_conf.h"
#include "sl_err.h"

#define KB 1024ULL
#define MB (1024ULL * KB)
#define GB (1024ULL * MB)
#define MS 1000ULL
#define S 1000000ULL

struct demo {
	bool verbose;
	int64_t offset, big;
	uint32_t port, count;
	uint64_t mem, timeout;
	char name[16];
	uint32_t gateway, address;
	uint8_t prefix;
	uint8_t mac[6];
	int level;
	sl_conf_strlist_t dns;
	struct {
		uint32_t ip, mtu;
		struct {
			uint64_t rto;
			struct {
				int x;
			} deep;
		} tcp;
	} net;
	char listen[4][32];
	unsigned nlisten;
	char tree[256];
};

#define OFF(f) offsetof(struct demo, f)

static const char *const levels[] = {"error", "warn", "info", "debug", NULL};

/* CUSTOM, repeatable: "listen" takes "addr:port" or { addr X; port Y }. */
static int parse_listen(const sl_conf_node_t *n, void *field_ptr, const char **error_r)
{
	char(*slot)[4][32] = field_ptr;
	unsigned *count = (unsigned *)((char *)field_ptr + sizeof(*slot));
	const char *addr = NULL, *port = NULL;

	if (*count >= 4) {
		*error_r = "at most 4 listeners";
		return SL_ELIMIT;
	}
	if (sl_conf_node_kind(n) == SL_CONF_NODE_SCALAR) {
		if (strchr(sl_conf_node_str(n), ':') == NULL) {
			*error_r = "expected addr:port";
			return SL_EINVAL;
		}
		snprintf((*slot)[(*count)++], 32, "%s", sl_conf_node_str(n));
		return 0;
	}
	if (sl_conf_node_kind(n) != SL_CONF_NODE_OBJECT) {
		*error_r = "expected addr:port or a section";
		return SL_EINVAL;
	}
	for (unsigned i = 0; i < sl_conf_node_count(n); i++) {
		const sl_conf_node_t *m = sl_conf_node_at(n, i);

		if (strcmp(sl_conf_node_key(m), "addr") == 0)
			addr = sl_conf_node_str(m);
		else if (strcmp(sl_conf_node_key(m), "port") == 0)
			port = sl_conf_node_str(m);
	}
	if (addr == NULL || port == NULL) {
		*error_r = "a listen section needs addr and port";
		return SL_EINVAL;
	}
	snprintf((*slot)[(*count)++], 32, "%s:%s", addr, port);
	return 0;
}

/* CUSTOM: renders the raw tree, to check the parser's output shape. */
static void render(const sl_conf_node_t *n, char *out, size_t size, bool top)
{
	size_t used = strlen(out);

	if (!top && sl_conf_node_key(n) != NULL)
		used += (size_t)snprintf(out + used, size - used, "%s=", sl_conf_node_key(n));
	if (used >= size)
		return;
	switch (sl_conf_node_kind(n)) {
	case SL_CONF_NODE_SCALAR:
		snprintf(out + used, size - used, sl_conf_node_quoted(n) ? "\"%s\"@%u" : "%s@%u",
			 sl_conf_node_str(n), sl_conf_node_line(n));
		return;
	case SL_CONF_NODE_OBJECT:
	case SL_CONF_NODE_ARRAY:
		snprintf(out + used, size - used, "%c",
			 sl_conf_node_kind(n) == SL_CONF_NODE_OBJECT ? '{' : '[');
		for (unsigned i = 0; i < sl_conf_node_count(n); i++) {
			used = strlen(out);
			if (i > 0 && used + 1 < size)
				strcat(out, " ");
			render(sl_conf_node_at(n, i), out, size, false);
		}
		used = strlen(out);
		snprintf(out + used, size - used, "%c",
			 sl_conf_node_kind(n) == SL_CONF_NODE_OBJECT ? '}' : ']');
		return;
	}
}

static int parse_tree(const sl_conf_node_t *n, void *field_ptr, const char **error_r)
{
	(void)error_r;
	assert_null(sl_conf_node_at(n, sl_conf_node_count(n)));
	((char *)field_ptr)[0] = '\0';
	render(n, field_ptr, 256, true);
	return 0;
}

static const sl_conf_field_t deep_fields[] = {
	{"x", SL_CONF_INT, OFF(net.tcp.deep.x) - OFF(net.tcp.deep), .flags = SL_CONF_F_REQUIRED},
	{NULL}};
static const sl_conf_section_t deep_section = {"deep", deep_fields};

static const sl_conf_field_t tcp_fields[] = {
	{"rto", SL_CONF_DURATION, OFF(net.tcp.rto) - OFF(net.tcp)},
	{"deep", SL_CONF_SECTION, OFF(net.tcp.deep) - OFF(net.tcp), .section = &deep_section},
	{NULL}};
static const sl_conf_section_t tcp_section = {"tcp", tcp_fields};

/* Nested sections use offsets relative to their own struct here. */
static const sl_conf_field_t net_fields[] = {
	{"ip", SL_CONF_IPV4, OFF(net.ip) - OFF(net)},
	{"mtu", SL_CONF_UINT, OFF(net.mtu) - OFF(net), 0, 576, 9000},
	{"tcp", SL_CONF_SECTION, OFF(net.tcp) - OFF(net), .section = &tcp_section},
	{NULL}};
static const sl_conf_section_t net_section = {"net", net_fields};

static const sl_conf_field_t root_fields[] = {
	{"verbose", SL_CONF_BOOL, OFF(verbose)},
	{"offset", SL_CONF_INT, OFF(offset), 0, -100, 100},
	{"big", SL_CONF_INT, OFF(big)},
	{"port", SL_CONF_UINT, OFF(port), 0, 1, 65535},
	{"count", SL_CONF_UINT, OFF(count)},
	{"mem", SL_CONF_SIZE, OFF(mem), 0, 64 * KB, 1 * GB},
	{"timeout", SL_CONF_DURATION, OFF(timeout), 0, 1 * MS, 3600 * S},
	{"name", SL_CONF_STRING, OFF(name), sizeof(((struct demo *)0)->name)},
	{"gateway", SL_CONF_IPV4, OFF(gateway)},
	{"address", SL_CONF_IPV4_CIDR, OFF(address), .aux_offset = OFF(prefix)},
	{"mac", SL_CONF_MAC, OFF(mac)},
	{"level", SL_CONF_ENUM, OFF(level), .choices = levels},
	{"dns", SL_CONF_STRLIST, OFF(dns)},
	{"net", SL_CONF_SECTION, OFF(net), .section = &net_section},
	{"listen", SL_CONF_CUSTOM, OFF(listen), .parse = parse_listen, .flags = SL_CONF_F_MULTI},
	{"tree", SL_CONF_CUSTOM, OFF(tree), .parse = parse_tree},
	{NULL}};
static const sl_conf_section_t root_section = {"", root_fields};

static void demo_default(struct demo *d)
{
	memset(d, 0, sizeof(*d));
	d->port = 25;
	d->mem = 1 * MB;
	d->timeout = 30 * S;
	d->level = 2;
	d->net.mtu = 1500;
	snprintf(d->name, sizeof(d->name), "sluice");
}

/* Every field that differs from the defaults, in schema order. */
static void demo_dump(const struct demo *d, char *out, size_t size)
{
	struct demo def;
	size_t n = 0;

	demo_default(&def);
	out[0] = '\0';
#define DUMP(...) n += (size_t)snprintf(out + n, n < size ? size - n : 0, __VA_ARGS__)
	if (d->verbose != def.verbose)
		DUMP("verbose=%d ", d->verbose);
	if (d->offset != def.offset)
		DUMP("offset=%lld ", (long long)d->offset);
	if (d->big != def.big)
		DUMP("big=%lld ", (long long)d->big);
	if (d->port != def.port)
		DUMP("port=%u ", d->port);
	if (d->count != def.count)
		DUMP("count=%u ", d->count);
	if (d->mem != def.mem)
		DUMP("mem=%llu ", (unsigned long long)d->mem);
	if (d->timeout != def.timeout)
		DUMP("timeout=%llu ", (unsigned long long)d->timeout);
	if (strcmp(d->name, def.name) != 0)
		DUMP("name=<%s> ", d->name);
	if (d->gateway != def.gateway)
		DUMP("gateway=%08x ", d->gateway);
	if (d->address != def.address || d->prefix != def.prefix)
		DUMP("address=%08x/%u ", d->address, d->prefix);
	if (memcmp(d->mac, def.mac, 6) != 0)
		DUMP("mac=%02x%02x%02x%02x%02x%02x ", d->mac[0], d->mac[1], d->mac[2], d->mac[3],
		     d->mac[4], d->mac[5]);
	if (d->level != def.level)
		DUMP("level=%d ", d->level);
	if (d->dns.count > 0) {
		DUMP("dns=");
		for (unsigned i = 0; i < d->dns.count; i++)
			DUMP("%s<%s>", i ? "," : "", d->dns.items[i]);
		DUMP(" ");
	}
	if (d->net.ip != def.net.ip)
		DUMP("net.ip=%08x ", d->net.ip);
	if (d->net.mtu != def.net.mtu)
		DUMP("net.mtu=%u ", d->net.mtu);
	if (d->net.tcp.rto != def.net.tcp.rto)
		DUMP("net.tcp.rto=%llu ", (unsigned long long)d->net.tcp.rto);
	if (d->net.tcp.deep.x != def.net.tcp.deep.x)
		DUMP("net.tcp.deep.x=%d ", d->net.tcp.deep.x);
	for (unsigned i = 0; i < d->nlisten; i++)
		DUMP("listen=%s ", d->listen[i]);
	if (d->tree[0] != '\0')
		DUMP("tree=%s ", d->tree);
#undef DUMP
	if (n > 0 && n <= size)
		out[n - 1] = '\0';
}

struct good_case {
	const char *text;
	const char *expect; /* demo_dump of the result */
};

/* Network byte order of a.b.c.d, as dumped on little-endian hosts. */
static const struct good_case good_cases[] = {
	/* Empty input and comments only. */
	{"", ""},
	{"\n\n  \t\n", ""},
	{"# only a comment", ""},
	{"// slash comment\n/* block\n comment */\n", ""},
	/* The three separators and four terminators. */
	{"port = 26;", "port=26"},
	{"port 26;", "port=26"},
	{"port: 26", "port=26"},
	{"port : 26", "port=26"},
	{"port:26", "port=26"},
	{"port=26,count=3", "port=26 count=3"},
	{"port 26\ncount 3\n", "port=26 count=3"},
	{"port 26 # trailing comment\ncount 3 // another\n", "port=26 count=3"},
	{"port 26 /* note */ ; count /* x */ 3", "port=26 count=3"},
	{"port 26 /* a comment\n spanning lines */ count 3", "port=26 count=3"},
	{"port 26\r\ncount 3\r\n", "port=26 count=3"},
	/* Booleans. */
	{"verbose true", "verbose=1"},
	{"verbose yes", "verbose=1"},
	{"verbose on", "verbose=1"},
	{"verbose TRUE", "verbose=1"},
	{"verbose \"on\"", "verbose=1"},
	{"verbose false", ""},
	{"verbose off", ""},
	/* Integers. */
	{"offset -100", "offset=-100"},
	{"offset +7", "offset=7"},
	{"offset 0x10", "offset=16"},
	{"big -9223372036854775808", "big=-9223372036854775808"},
	{"big 9223372036854775807", "big=9223372036854775807"},
	{"count 4294967295", "count=4294967295"},
	{"count 0xffffffff", "count=4294967295"},
	{"port 1", "port=1"},
	{"port 65535", "port=65535"},
	/* Sizes and durations. */
	{"mem 65536", "mem=65536"},
	{"mem 64k", "mem=65536"},
	{"mem 64KB", "mem=65536"},
	{"mem 16m", "mem=16777216"},
	{"mem 1g", "mem=1073741824"},
	{"mem 100000b", "mem=100000"},
	{"timeout 10", "timeout=10000000"},
	{"timeout 10s", "timeout=10000000"},
	{"timeout 250ms", "timeout=250000"},
	{"timeout 1000us", "timeout=1000"},
	{"timeout 5min", "timeout=300000000"},
	{"timeout 1h", "timeout=3600000000"},
	/* Strings: bare, double and single quoted, escapes, UTF-8. */
	{"name mx.example", "name=<mx.example>"},
	{"name \"a b;c#d{}\"", "name=<a b;c#d{}>"},
	{"name \"q\\\"\\\\\\/x\"", "name=<q\"\\/x>"},
	{"name \"\\t\\u00e9\"", "name=<\t\xc3\xa9>"},
	{"name \"\\ud83d\\ude00\"", "name=<\xf0\x9f\x98\x80>"},
	{"name 'a\\'b\\\\c\\n'", "name=<a'b\\c\\n>"},
	{"name \"\"", "name=<>"},
	{"name \"123456789012345\"", "name=<123456789012345>"},
	{"name caf\xc3\xa9", "name=<caf\xc3\xa9>"},
	{"name a//b", "name=<a//b>"},
	/* Addresses. */
	{"gateway 198.18.0.1", "gateway=010012c6"},
	{"gateway 0.0.0.0", ""},
	{"gateway \"255.255.255.255\"", "gateway=ffffffff"},
	{"address 198.18.0.2/24", "address=020012c6/24"},
	{"address 10.0.0.0/8", "address=0000000a/8"},
	{"address 0.0.0.0/0", ""},
	{"mac 02:00:00:00:00:01", "mac=020000000001"},
	{"mac: 0A:bC:de:F0:12:34", "mac=0abcdef01234"},
	{"level debug", "level=3"},
	{"level \"error\"", "level=0"},
	/* Lists: one string, arrays, repeats append. */
	{"dns 1.1.1.1", "dns=<1.1.1.1>"},
	{"dns [a, b, \"c d\"]", "dns=<a>,<b>,<c d>"},
	{"dns [a, b,]", "dns=<a>,<b>"},
	{"dns []", ""},
	{"dns [\n  a,\n  b # comment\n]\n", "dns=<a>,<b>"},
	{"dns a; dns b; dns [c, d]", "dns=<a>,<b>,<c>,<d>"},
	/* Sections. */
	{"net { ip 10.0.0.1; mtu 9000; }", "net.ip=0100000a net.mtu=9000"},
	{"net = { mtu 600 }", "net.mtu=600"},
	{"net {\n  mtu 600\n  tcp { rto 200ms }\n}\n", "net.mtu=600 net.tcp.rto=200000"},
	{"net {};", ""},
	{"net { ip 10.0.0.1 } port 26", "port=26 net.ip=0100000a"},
	{"net{mtu=600;}", "net.mtu=600"},
	{"net { tcp { deep { x 5 } } }", "net.tcp.deep.x=5"},
	/* CUSTOM: repeatable, scalar or section. */
	{"listen 0.0.0.0:25\nlisten { addr 1.2.3.4; port 587 }",
	 "listen=0.0.0.0:25 listen=1.2.3.4:587"},
	/* CUSTOM sees the raw tree, with lines and quoting. */
	{"tree [a, \"b\", [c], {k v}]", "tree=[a@1 \"b\"@1 [c@1] {k=v@1}]"},
	{"tree {\n a 1\n b [2,\n3]\n}", "tree={a=1@2 b=[2@3 3@4]}"},
	{"tree '::1'", "tree=\"::1\"@1"},
	{"tree ::1", "tree=::1@1"},
	{"tree: ::1", "tree=::1@1"},
	{"tree = ::1", "tree=::1@1"},
};

struct bad_case {
	const char *text;
	int rc;
	const char *error;
};

static const struct bad_case bad_cases[] = {
	/* Unknown and repeated keys. */
	{"foo 1", SL_ECONFIG, "t.conf:1: unknown key 'foo'"},
	{"\n\nnet {\n  foo 1\n}", SL_ECONFIG, "t.conf:4: unknown key 'foo' in section 'net'"},
	{"net { tcp { bar 1 } }", SL_ECONFIG, "t.conf:1: unknown key 'bar' in section 'net.tcp'"},
	{"Port 26", SL_ECONFIG, "t.conf:1: unknown key 'Port'"},
	{"port 1\nport 2", SL_ECONFIG, "t.conf:2: port: duplicate key (first set at line 1)"},
	{"net {}\nnet {}", SL_ECONFIG, "t.conf:2: net: duplicate key (first set at line 1)"},
	{"tree 1; tree 2", SL_ECONFIG, "t.conf:1: tree: duplicate key (first set at line 1)"},
	/* Required keys. */
	{"\nnet {\n tcp {\n  deep {\n  }\n }\n}", SL_ECONFIG,
	 "t.conf:4: missing required key 'x' in section 'net.tcp.deep'"},
	/* Values of the wrong shape or content. */
	{"verbose maybe", SL_ECONFIG,
	 "t.conf:1: verbose: 'maybe' is not a boolean (true/false, yes/no, on/off)"},
	{"verbose 1", SL_ECONFIG,
	 "t.conf:1: verbose: '1' is not a boolean (true/false, yes/no, on/off)"},
	{"offset 1.5", SL_ECONFIG, "t.conf:1: offset: '1.5' is not an integer"},
	{"offset 101", SL_ECONFIG, "t.conf:1: offset: '101' is out of range [-100, 100]"},
	{"offset -101", SL_ECONFIG, "t.conf:1: offset: '-101' is out of range [-100, 100]"},
	{"big 9223372036854775808", SL_ECONFIG,
	 "t.conf:1: big: '9223372036854775808' is not an integer"},
	{"big -", SL_ECONFIG, "t.conf:1: big: '-' is not an integer"},
	{"port 0", SL_ECONFIG, "t.conf:1: port: '0' is out of range [1, 65535]"},
	{"port 65536", SL_ECONFIG, "t.conf:1: port: '65536' is out of range [1, 65535]"},
	{"port -1", SL_ECONFIG, "t.conf:1: port: '-1' is not an unsigned integer"},
	{"port 25x", SL_ECONFIG, "t.conf:1: port: '25x' is not an unsigned integer"},
	{"count 4294967296", SL_ECONFIG,
	 "t.conf:1: count: '4294967296' is out of range [0, 4294967295]"},
	{"count 99999999999999999999", SL_ECONFIG,
	 "t.conf:1: count: '99999999999999999999' is not an unsigned integer"},
	{"mem 1.5g", SL_ECONFIG,
	 "t.conf:1: mem: '1.5g' is not a size (bytes, or a number with k, m, g or t)"},
	{"mem 64q", SL_ECONFIG,
	 "t.conf:1: mem: '64q' is not a size (bytes, or a number with k, m, g or t)"},
	{"mem k", SL_ECONFIG,
	 "t.conf:1: mem: 'k' is not a size (bytes, or a number with k, m, g or t)"},
	{"mem 99999999999t", SL_ECONFIG,
	 "t.conf:1: mem: '99999999999t' is not a size (bytes, or a number with k, m, g or t)"},
	{"mem 1k", SL_ECONFIG, "t.conf:1: mem: '1k' is out of range [64k, 1g]"},
	{"mem 2g", SL_ECONFIG, "t.conf:1: mem: '2g' is out of range [64k, 1g]"},
	{"timeout 5m", SL_ECONFIG,
	 "t.conf:1: timeout: '5m' is not a duration (a number with us, ms, s, min or h; bare = seconds)"},
	{"timeout -1s", SL_ECONFIG,
	 "t.conf:1: timeout: '-1s' is not a duration (a number with us, ms, s, min or h; bare = seconds)"},
	{"timeout 2h", SL_ECONFIG, "t.conf:1: timeout: '2h' is out of range [1ms, 1h]"},
	{"timeout 999us", SL_ECONFIG, "t.conf:1: timeout: '999us' is out of range [1ms, 1h]"},
	{"name \"1234567890123456\"", SL_ECONFIG,
	 "t.conf:1: name: '1234567890123456' is longer than 15 bytes"},
	{"name \"a\\nb\\tc0123456789012345678901\"", SL_ECONFIG,
	 "t.conf:1: name: 'a?b?c0123456789012345678901' is longer than 15 bytes"},
	{"gateway 1.2.3", SL_ECONFIG, "t.conf:1: gateway: '1.2.3' is not an IPv4 address"},
	{"\n\n\nnet {\n ip 1.2.3\n}", SL_ECONFIG, "t.conf:5: net.ip: '1.2.3' is not an IPv4 address"},
	{"gateway 1.2.3.256", SL_ECONFIG, "t.conf:1: gateway: '1.2.3.256' is not an IPv4 address"},
	{"gateway 01.2.3.4", SL_ECONFIG, "t.conf:1: gateway: '01.2.3.4' is not an IPv4 address"},
	{"gateway 1.2.3.4.5", SL_ECONFIG, "t.conf:1: gateway: '1.2.3.4.5' is not an IPv4 address"},
	{"gateway 1.2.3.4/24", SL_ECONFIG, "t.conf:1: gateway: '1.2.3.4/24' is not an IPv4 address"},
	{"gateway 1..3.4", SL_ECONFIG, "t.conf:1: gateway: '1..3.4' is not an IPv4 address"},
	{"address 1.2.3.4", SL_ECONFIG,
	 "t.conf:1: address: '1.2.3.4' is not an IPv4 address with a prefix length (a.b.c.d/n)"},
	{"address 1.2.3.4/33", SL_ECONFIG,
	 "t.conf:1: address: '1.2.3.4/33' is not an IPv4 address with a prefix length (a.b.c.d/n)"},
	{"address 1.2.3.4/", SL_ECONFIG,
	 "t.conf:1: address: '1.2.3.4/' is not an IPv4 address with a prefix length (a.b.c.d/n)"},
	{"address 1.2.3.4/08", SL_ECONFIG,
	 "t.conf:1: address: '1.2.3.4/08' is not an IPv4 address with a prefix length (a.b.c.d/n)"},
	{"mac 02:00:00:00:00", SL_ECONFIG,
	 "t.conf:1: mac: '02:00:00:00:00' is not a MAC address (xx:xx:xx:xx:xx:xx)"},
	{"mac 02:00:00:00:00:0g", SL_ECONFIG,
	 "t.conf:1: mac: '02:00:00:00:00:0g' is not a MAC address (xx:xx:xx:xx:xx:xx)"},
	{"mac 02-00-00-00-00-01", SL_ECONFIG,
	 "t.conf:1: mac: '02-00-00-00-00-01' is not a MAC address (xx:xx:xx:xx:xx:xx)"},
	{"level loud", SL_ECONFIG,
	 "t.conf:1: level: 'loud' is not one of: error, warn, info, debug"},
	{"level DEBUG", SL_ECONFIG,
	 "t.conf:1: level: 'DEBUG' is not one of: error, warn, info, debug"},
	{"port [1]", SL_ECONFIG, "t.conf:1: port: expected a single value, found an array"},
	{"port { a 1 }", SL_ECONFIG, "t.conf:1: port: expected a single value, found a section"},
	{"net 1", SL_ECONFIG, "t.conf:1: net: expected a section { ... }, found a value"},
	{"net [1]", SL_ECONFIG, "t.conf:1: net: expected a section { ... }, found an array"},
	{"dns {a 1}", SL_ECONFIG,
	 "t.conf:1: dns: expected a string or an array of strings, found a section"},
	{"dns [a,\n[b]]", SL_ECONFIG,
	 "t.conf:2: dns: expected a string or an array of strings, found an array"},
	{"listen 25", SL_ECONFIG, "t.conf:1: listen: expected addr:port"},
	{"listen a:1\nlisten b:2\nlisten c:3\nlisten d:4\nlisten e:5", SL_ECONFIG,
	 "t.conf:5: listen: at most 4 listeners"},
	{"listen { addr x }", SL_ECONFIG, "t.conf:1: listen: a listen section needs addr and port"},
	/* Syntax: missing values, junk, stray punctuation. */
	{"port", SL_ECONFIG, "t.conf:1: port: missing value (found end of file)"},
	{"port\n26", SL_ECONFIG, "t.conf:1: port: missing value (found end of line)"},
	{"port =\n26", SL_ECONFIG, "t.conf:1: port: missing value (found end of line)"},
	{"port = ;", SL_ECONFIG, "t.conf:1: port: missing value (found ';')"},
	{"port /* c\n */ 26", SL_ECONFIG, "t.conf:1: port: missing value (found '26')"},
	{"net { port }", SL_ECONFIG, "t.conf:1: net.port: missing value (found '}')"},
	{"port 26 27", SL_ECONFIG, "t.conf:1: port: unexpected '27' after the value (missing ';'?)"},
	{"\nname \"a\" b;", SL_ECONFIG,
	 "t.conf:2: name: unexpected 'b' after the value (missing ';'?)"},
	{"dns [a] b", SL_ECONFIG, "t.conf:1: dns: unexpected 'b' after the value (missing ';'?)"},
	{"port 26 {", SL_ECONFIG, "t.conf:1: port: unexpected '{' after the value (missing ';'?)"},
	{"port 26 }", SL_ECONFIG, "t.conf:1: port: unexpected '}' after the value (missing ';'?)"},
	{"port 26;;", SL_ECONFIG, "t.conf:1: expected a key, found ';'"},
	{"}", SL_ECONFIG, "t.conf:1: unexpected '}' (no section is open)"},
	{"net { } }", SL_ECONFIG, "t.conf:1: unexpected '}' (no section is open)"},
	{"9port 1", SL_ECONFIG, "t.conf:1: expected a key, found '9port'"},
	{"\"port\" 1", SL_ECONFIG, "t.conf:1: expected a key, found '\"'"},
	{"net.ip 1.2.3.4", SL_ECONFIG,
	 "t.conf:1: net: dotted keys are not supported (use a section: net { ... })"},
	{"tree x=y", SL_ECONFIG, "t.conf:1: tree: unexpected '=' after the value (missing ';'?)"},
	{"port = = 1", SL_ECONFIG, "t.conf:1: port: expected a value, found '='"},
	{"dns [a b]", SL_ECONFIG, "t.conf:1: dns: expected ',' or ']' in the array, found 'b'"},
	{"dns [a,,b]", SL_ECONFIG, "t.conf:1: dns: expected a value, found ','"},
	{"dns [a; b]", SL_ECONFIG, "t.conf:1: dns: expected ',' or ']' in the array, found ';'"},
	/* Unterminated things point at where they started. */
	{"\nname \"abc\nport 1", SL_ECONFIG, "t.conf:2: name: unterminated string (missing \")"},
	{"name 'abc", SL_ECONFIG, "t.conf:1: name: unterminated string (missing ')"},
	{"name \"abc\\\"", SL_ECONFIG, "t.conf:1: name: unterminated string (missing \")"},
	{"\nnet {\n  mtu 600\n", SL_ECONFIG, "t.conf:2: net: unterminated section (missing '}')"},
	{"net { tcp {\n rto 1s }", SL_ECONFIG, "t.conf:1: net: unterminated section (missing '}')"},
	{"dns [a,\nb", SL_ECONFIG, "t.conf:1: dns: unterminated array (missing ']')"},
	{"port 1 /* open\n\n", SL_ECONFIG, "t.conf:1: unterminated comment (missing '*/')"},
	{"/*/", SL_ECONFIG, "t.conf:1: unterminated comment (missing '*/')"},
	/* Escapes. */
	{"name \"\\q\"", SL_ECONFIG,
	 "t.conf:1: name: unknown escape '\\q' in a string (use \\\\ for a backslash)"},
	{"name \"\\u12\"", SL_ECONFIG, "t.conf:1: name: '\\u' must be followed by 4 hex digits"},
	{"name \"\\u0000\"", SL_ECONFIG, "t.conf:1: name: '\\u0000' is not allowed in a string"},
	{"name \"\\ud800x\"", SL_ECONFIG,
	 "t.conf:1: name: '\\ud800' is an unpaired UTF-16 surrogate"},
	{"name \"\\udc00\"", SL_ECONFIG,
	 "t.conf:1: name: '\\udc00' is an unpaired UTF-16 surrogate"},
	/* Bytes the grammar never allows. */
	{"port 1\x01", SL_ECONFIG, "t.conf:1: control character 0x01 in the text"},
	{"\n\nname \"a\x1b\"", SL_ECONFIG, "t.conf:3: control character 0x1b in the text"},
	{"port 1\r", SL_ECONFIG, "t.conf:1: control character 0x0d in the text"},
};

static void run_good(const struct good_case *c)
{
	struct demo d;
	const char *err = NULL;
	char dump[1024];
	int rc;

	demo_default(&d);
	rc = sl_conf_load_string("t.conf", c->text, strlen(c->text), &root_section, &d, &err);
	if (rc != 0)
		fail_msg("input <%s>: unexpected error %d: %s", c->text, rc, err);
	demo_dump(&d, dump, sizeof(dump));
	if (strcmp(dump, c->expect) != 0)
		fail_msg("input <%s>: got <%s>, want <%s>", c->text, dump, c->expect);
	sl_conf_release(&root_section, &d);
	assert_int_equal(d.dns.count, 0);
	assert_null(d.dns.items);
}

static void test_good_inputs(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(good_cases) / sizeof(good_cases[0]); i++)
		if (good_cases[i].expect != NULL)
			run_good(&good_cases[i]);
}

static void test_bad_inputs(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *c = &bad_cases[i];
		struct demo d;
		const char *err = NULL;
		int rc;

		demo_default(&d);
		rc = sl_conf_load_string("t.conf", c->text, strlen(c->text), &root_section, &d,
					 &err);
		if (rc != c->rc || err == NULL || strcmp(err, c->error) != 0)
			fail_msg("input <%s>: got %d <%s>, want %d <%s>", c->text, rc,
				 err ? err : "(null)", c->rc, c->error);
		sl_conf_release(&root_section, &d);
	}
}

/* Text built at run time: limits and embedded NUL. */
static void expect_error(const char *text, size_t len, int want_rc, const char *want)
{
	struct demo d;
	const char *err = NULL;
	int rc;

	demo_default(&d);
	rc = sl_conf_load_string("t.conf", text, len, &root_section, &d, &err);
	if (rc != want_rc || err == NULL || strcmp(err, want) != 0)
		fail_msg("got %d <%s>, want %d <%s>", rc, err ? err : "(null)", want_rc, want);
	sl_conf_release(&root_section, &d);
}

static void test_limits(void **state)
{
	char *big = malloc(SL_CONF_MAX_FILE + 2);
	char buf[256];
	struct demo d;
	const char *err = NULL;
	size_t n = 0;

	(void)state;
	assert_non_null(big);
	/* NUL inside the text: the length is what counts, not a terminator. */
	expect_error("port 1\nname \"a\0b\"", 18, SL_ECONFIG, "t.conf:2: NUL byte in the text");
	/* Lines: exactly 8192 bytes is fine, 8193 is not. */
	memset(big, ' ', SL_CONF_MAX_FILE + 1);
	memcpy(big, "port 1\n", 7);
	big[7 + SL_CONF_MAX_LINE] = '\n';
	demo_default(&d);
	assert_int_equal(sl_conf_load_string("t.conf", big, 8 + SL_CONF_MAX_LINE, &root_section,
					     &d, &err), 0);
	big[7 + SL_CONF_MAX_LINE] = ' ';
	expect_error(big, 8 + SL_CONF_MAX_LINE, SL_ECONFIG,
		     "t.conf:2: line is longer than 8192 bytes");
	/* File size: 1 MB of blank lines loads, one byte more does not. */
	memset(big, '\n', SL_CONF_MAX_FILE + 1);
	assert_int_equal(sl_conf_load_string("t.conf", big, SL_CONF_MAX_FILE, &root_section, &d,
					     &err), 0);
	expect_error(big, SL_CONF_MAX_FILE + 1, SL_ECONFIG,
		     "t.conf: file is larger than 1048576 bytes");
	/* Nesting: 16 levels is the limit (here via CUSTOM, which takes any
	 * shape), the 17th is refused where it opens. */
	n = (size_t)snprintf(buf, sizeof(buf), "tree ");
	for (int i = 1; i < SL_CONF_MAX_DEPTH; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "[");
	n += (size_t)snprintf(buf + n, sizeof(buf) - n, "{}");
	for (int i = 1; i < SL_CONF_MAX_DEPTH; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "]");
	demo_default(&d);
	if (sl_conf_load_string("t.conf", buf, n, &root_section, &d, &err) != 0)
		fail_msg("16 levels: %s", err);
	n = (size_t)snprintf(buf, sizeof(buf), "tree {\n");
	for (int i = 1; i < SL_CONF_MAX_DEPTH; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "a {\n");
	n += (size_t)snprintf(buf + n, sizeof(buf) - n, "b [1]");
	expect_error(buf, n, SL_ECONFIG,
		     "t.conf:17: tree.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.b: nesting deeper than 16 levels");
	/* Keys: 64 bytes is the limit. */
	memset(buf, 'k', 65);
	memcpy(buf + 65, " 1", 3);
	expect_error(buf, 67, SL_ECONFIG,
		     "t.conf:1: key 'kkkkkkkkkkkkkkkkkkkk...' is longer than 64 bytes");
	memcpy(buf + 64, " 1", 3);
	expect_error(buf, 66, SL_ECONFIG,
		     "t.conf:1: unknown key "
		     "'kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk...'");
	free(big);
}

static void test_null_name_and_no_error_r(void **state)
{
	struct demo d;
	const char *err = NULL;

	(void)state;
	demo_default(&d);
	assert_int_equal(sl_conf_load_string(NULL, "foo 1", 5, &root_section, &d, &err),
			 SL_ECONFIG);
	assert_string_equal(err, "<string>:1: unknown key 'foo'");
	assert_int_equal(sl_conf_load_string(NULL, "foo 1", 5, &root_section, &d, NULL),
			 SL_ECONFIG);
	/* A successful load leaves error_r alone. */
	err = "untouched";
	assert_int_equal(sl_conf_load_string("x", "port 7", 6, &root_section, &d, &err), 0);
	assert_string_equal(err, "untouched");
	assert_int_equal(d.port, 7);
}

static void test_required_at_top_level(void **state)
{
	static const sl_conf_field_t fields[] = {
		{"a", SL_CONF_UINT, 0, .flags = SL_CONF_F_REQUIRED}, {NULL}};
	static const sl_conf_section_t sec = {"", fields};
	uint32_t v = 0;
	const char *err = NULL;

	(void)state;
	assert_int_equal(sl_conf_load_string("r.conf", "", 0, &sec, &v, &err), SL_ECONFIG);
	assert_string_equal(err, "r.conf: missing required key 'a'");
	assert_int_equal(sl_conf_load_string("r.conf", "a 3", 3, &sec, &v, &err), 0);
	assert_int_equal(v, 3);
}

/* A present STRLIST replaces a list left by an earlier load; an absent one
 * keeps it. */
static void test_strlist_reload(void **state)
{
	struct demo d;
	const char *err = NULL;

	(void)state;
	demo_default(&d);
	assert_int_equal(sl_conf_load_string("t", "dns [a, b]", 10, &root_section, &d, &err), 0);
	assert_int_equal(d.dns.count, 2);
	assert_int_equal(sl_conf_load_string("t", "port 9", 6, &root_section, &d, &err), 0);
	assert_int_equal(d.dns.count, 2);
	assert_int_equal(sl_conf_load_string("t", "dns c", 5, &root_section, &d, &err), 0);
	assert_int_equal(d.dns.count, 1);
	assert_string_equal(d.dns.items[0], "c");
	sl_conf_release(&root_section, &d);
	sl_conf_strlist_free(&d.dns); /* twice is harmless */
	sl_conf_strlist_free(NULL);
}

static void write_file(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	fclose(f);
}

static void test_load_file(void **state)
{
	char dir[] = "/tmp/test_conf.XXXXXX", path[64], want[160];
	const char *err = NULL;
	struct demo d;
	char *big;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/demo.conf", dir);
	write_file(path, "# demo\nport 587\nnet {\n  ip 10.1.2.3\n}\n", 38);
	demo_default(&d);
	assert_int_equal(sl_conf_load_file(path, &root_section, &d, &err), 0);
	assert_int_equal(d.port, 587);
	assert_int_equal(d.net.ip, 0x0302010a);

	write_file(path, "port 587\nnet {\n  ip 1.2.3\n}\n", 28);
	assert_int_equal(sl_conf_load_file(path, &root_section, &d, &err), SL_ECONFIG);
	snprintf(want, sizeof(want), "%s:3: net.ip: '1.2.3' is not an IPv4 address", path);
	assert_string_equal(err, want);

	big = malloc(SL_CONF_MAX_FILE + 1);
	assert_non_null(big);
	memset(big, '\n', SL_CONF_MAX_FILE + 1);
	write_file(path, big, SL_CONF_MAX_FILE + 1);
	free(big);
	assert_int_equal(sl_conf_load_file(path, &root_section, &d, &err), SL_ECONFIG);
	snprintf(want, sizeof(want), "%s: file is larger than 1048576 bytes", path);
	assert_string_equal(err, want);
	unlink(path);

	assert_int_equal(sl_conf_load_file(path, &root_section, &d, &err), SL_EIO);
	snprintf(want, sizeof(want), "%s: cannot open: No such file or directory", path);
	assert_string_equal(err, want);
	assert_int_equal(sl_conf_load_file(dir, &root_section, &d, &err), SL_EIO);
	snprintf(want, sizeof(want), "%s: is a directory", dir);
	assert_string_equal(err, want);
	rmdir(dir);
}

static void test_value_parsers(void **state)
{
	static const struct {
		const char *s;
		int rc;
		uint64_t v;
	} sizes[] = {
		{"0", 0, 0}, {"1", 0, 1}, {"64k", 0, 64 * KB}, {"64K", 0, 64 * KB},
		{"16m", 0, 16 * MB}, {"1g", 0, GB}, {"2t", 0, 2 * 1024 * GB},
		{"18446744073709551615", 0, UINT64_MAX}, {"18446744073709551616", SL_EINVAL, 0},
		{"16777216t", SL_EINVAL, 0}, {"", SL_EINVAL, 0}, {" 1", SL_EINVAL, 0},
		{"1 k", SL_EINVAL, 0}, {"0x10", SL_EINVAL, 0}, {"-1", SL_EINVAL, 0},
	}, durations[] = {
		{"0", 0, 0}, {"10", 0, 10 * S}, {"10us", 0, 10}, {"250ms", 0, 250 * MS},
		{"10s", 0, 10 * S}, {"5min", 0, 300 * S}, {"2h", 0, 7200 * S}, {"2H", 0, 7200 * S},
		{"1d", SL_EINVAL, 0}, {"1m", SL_EINVAL, 0}, {"ms", SL_EINVAL, 0},
		{"1.5s", SL_EINVAL, 0}, {"99999999999999h", SL_EINVAL, 0},
	};
	uint64_t v;
	uint32_t a;
	bool b;

	(void)state;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		v = 12345;
		assert_int_equal(sl_conf_parse_size(sizes[i].s, &v), sizes[i].rc);
		assert_int_equal(v, sizes[i].rc == 0 ? sizes[i].v : 12345);
	}
	for (size_t i = 0; i < sizeof(durations) / sizeof(durations[0]); i++) {
		v = 12345;
		assert_int_equal(sl_conf_parse_duration(durations[i].s, &v), durations[i].rc);
		assert_int_equal(v, durations[i].rc == 0 ? durations[i].v : 12345);
	}
	assert_int_equal(sl_conf_parse_bool("Off", &b), 0);
	assert_false(b);
	assert_int_equal(sl_conf_parse_bool("y", &b), SL_EINVAL);
	assert_int_equal(sl_conf_parse_ipv4("198.18.0.2", &a), 0);
	assert_int_equal(a, 0x020012c6);
	assert_int_equal(sl_conf_parse_ipv4("198.18.0.2 ", &a), SL_EINVAL);
	assert_int_equal(sl_conf_parse_ipv4("1234.1.1.1", &a), SL_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_inputs),
		cmocka_unit_test(test_bad_inputs),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_null_name_and_no_error_r),
		cmocka_unit_test(test_required_at_top_level),
		cmocka_unit_test(test_strlist_reload),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_value_parsers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
