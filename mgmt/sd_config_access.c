/* sd_config_access - the pop3 and imap sections of the sluiced config:
 * schema, defaults, cross-field checks and the engine configs. Both
 * sections have the same shape (struct sd_access); every key is in
 * docs/config.md. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "sd_config.h"
#include "sl_err.h"
#include "sl_time.h"

#define OFF(f) offsetof(sd_config_t, f)
#define MB (1024ULL * 1024ULL)
#define GB (1024ULL * MB)
#define S SL_US_PER_S

/* One listener table per section and kind: offsets differ, shape does not. */
#define SD_ACCESS_LISTENER(sec, kind, port_help)                                          \
	static const sl_conf_field_t sd_##sec##_##kind##_fields[] = {                     \
		{"port", SL_CONF_UINT, OFF(sec.kind.port), 0, 0, 65535, .help = port_help}, \
		{"allow_plaintext_auth", SL_CONF_BOOL, OFF(sec.kind.allow_plaintext_auth),   \
		 .help = "logins before TLS (default false: TLS first)"},                    \
		{NULL}};                                                                      \
	static const sl_conf_section_t sd_##sec##_##kind##_section = {#kind,              \
								      sd_##sec##_##kind##_fields}

#define SD_ACCESS_FIELDS(sec)                                                                \
	{"max_connections", SL_CONF_UINT, OFF(sec.max_connections), 0, 1, 1000000,           \
	 .help = "sessions per worker"},                                                     \
	{"max_connections_per_ip", SL_CONF_UINT, OFF(sec.max_connections_per_ip), 0, 1, 1000000}, \
	{"max_errors", SL_CONF_UINT, OFF(sec.max_errors), 0, 1, 1000},                        \
	{"max_auth_failures", SL_CONF_UINT, OFF(sec.max_auth_failures), 0, 1, 100,           \
	 .help = "failed logins in one session before it is closed"},                        \
	{"auth_lockout_failures", SL_CONF_UINT, OFF(sec.auth_lockout_failures), 0, 0, 100000, \
	 .help = "failed logins per client address before logins are refused (0 = off)"},   \
	{"auth_lockout_time", SL_CONF_DURATION, OFF(sec.auth_lockout_time), 0, 1 * S,        \
	 24 * 3600 * S},                                                                     \
	{"timeout_auth", SL_CONF_DURATION, OFF(sec.timeout_auth), 0, 1 * S, 3600 * S,         \
	 .help = "idle time allowed before login"},                                          \
	{"timeout", SL_CONF_DURATION, OFF(sec.timeout), 0, 10 * S, 24 * 3600 * S,             \
	 .help = "idle time allowed after login"},                                           \
	{"plain", SL_CONF_SECTION, 0, .section = &sd_##sec##_plain_section},                  \
	{"tls", SL_CONF_SECTION, 0, .section = &sd_##sec##_tls_section}

SD_ACCESS_LISTENER(pop3, plain, "110: STLS offered (RFC 2595); 0 = off");
SD_ACCESS_LISTENER(pop3, tls, "995: implicit TLS (RFC 8314); 0 = off");
SD_ACCESS_LISTENER(imap, plain, "143: STARTTLS offered; 0 = off");
SD_ACCESS_LISTENER(imap, tls, "993: implicit TLS (RFC 8314); 0 = off");

static const sl_conf_field_t sd_pop3_fields[] = {
	SD_ACCESS_FIELDS(pop3),
	{NULL}};

static const sl_conf_field_t sd_imap_fields[] = {
	SD_ACCESS_FIELDS(imap),
	{"appendlimit", SL_CONF_SIZE, OFF(imap.appendlimit), 0, 64 * 1024, 1 * GB,
	 .help = "largest APPEND (RFC 7889)"},
	{NULL}};

const sl_conf_section_t sd_pop3_section = {"pop3", sd_pop3_fields};
const sl_conf_section_t sd_imap_section = {"imap", sd_imap_fields};

static void access_defaults(struct sd_access *a, uint32_t errors, uint32_t auth_failures,
			    uint64_t timeout_auth, uint64_t timeout)
{
	a->max_connections = 1000;
	a->max_connections_per_ip = 20;
	a->max_errors = errors;
	a->max_auth_failures = auth_failures;
	a->auth_lockout_failures = 10;
	a->auth_lockout_time = 15 * 60 * S;
	a->timeout_auth = timeout_auth;
	a->timeout = timeout;
}

void sd_config_access_defaults(sd_config_t *c)
{
	struct pop3_config pc;
	struct imap_config ic;

	pop3_config_defaults(&pc);
	imap_config_defaults(&ic);
	access_defaults(&c->pop3, pc.errors_max, pc.auth_failures_max, pc.timeout_auth_us,
			pc.timeout_us);
	access_defaults(&c->imap, ic.errors_max, ic.auth_failures_max, ic.timeout_preauth_us,
			ic.timeout_us);
	c->imap.appendlimit = ic.appendlimit;
}

bool sd_config_pop3_enabled(const sd_config_t *c)
{
	return c->pop3.plain.port != 0 || c->pop3.tls.port != 0;
}

bool sd_config_imap_enabled(const sd_config_t *c)
{
	return c->imap.plain.port != 0 || c->imap.tls.port != 0;
}

bool sd_config_mail_enabled(const sd_config_t *c)
{
	return sd_config_smtp_enabled(c) || sd_config_pop3_enabled(c) || sd_config_imap_enabled(c);
}

/* Every mail port of the config, for the duplicate check. */
static unsigned mail_ports(const sd_config_t *c, uint32_t *ports, const char **names)
{
	const struct {
		uint32_t port;
		const char *name;
	} all[] = {
		{c->smtp.mx.port, "smtp.mx"},     {c->smtp.submission.port, "smtp.submission"},
		{c->smtp.submissions.port, "smtp.submissions"},
		{c->pop3.plain.port, "pop3.plain"}, {c->pop3.tls.port, "pop3.tls"},
		{c->imap.plain.port, "imap.plain"}, {c->imap.tls.port, "imap.tls"},
		{c->services.tcp_echo, "services.tcp_echo"},
		{c->services.tcp_discard, "services.tcp_discard"},
	};
	unsigned n = 0;

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (all[i].port != 0) {
			ports[n] = all[i].port;
			names[n++] = all[i].name;
		}
	return n;
}

int sd_config_access_check(const sd_config_t *c, const char *path, char *errbuf, size_t size)
{
	uint32_t ports[16];
	const char *names[16];
	unsigned n = mail_ports(c, ports, names);

	for (unsigned i = 0; i < n; i++)
		for (unsigned j = i + 1; j < n; j++)
			if (ports[i] == ports[j]) {
				snprintf(errbuf, size, "%s: %s.port and %s.port are both %u", path,
					 names[i], names[j], ports[i]);
				return SL_ECONFIG;
			}
	if ((sd_config_pop3_enabled(c) || sd_config_imap_enabled(c)) && c->store.path[0] == '\0') {
		snprintf(errbuf, size, "%s: pop3 and imap need a store: set store.path", path);
		return SL_ECONFIG;
	}
	if (!c->tls.enabled && (c->pop3.tls.port != 0 || c->imap.tls.port != 0)) {
		snprintf(errbuf, size, "%s: pop3.tls and imap.tls (implicit TLS) need tls.enabled",
			 path);
		return SL_ECONFIG;
	}
	if (!c->tls.enabled && ((c->pop3.plain.port != 0 && !c->pop3.plain.allow_plaintext_auth) ||
				(c->imap.plain.port != 0 && !c->imap.plain.allow_plaintext_auth))) {
		snprintf(errbuf, size,
			 "%s: without tls.enabled nobody could log in on pop3.plain/imap.plain: "
			 "enable TLS or set allow_plaintext_auth",
			 path);
		return SL_ECONFIG;
	}
	if (sd_config_imap_enabled(c) && c->imap.appendlimit > c->store.body_max) {
		snprintf(errbuf, size, "%s: imap.appendlimit is larger than store.body_max", path);
		return SL_ECONFIG;
	}
	return 0;
}

static const char *mail_hostname(const sd_config_t *c)
{
	return c->smtp.hostname[0] ? c->smtp.hostname : c->hostname;
}

void sd_config_pop3(const sd_config_t *c, struct pop3_config *r)
{
	pop3_config_defaults(r);
	r->hostname = mail_hostname(c);
	r->errors_max = c->pop3.max_errors;
	r->auth_failures_max = c->pop3.max_auth_failures;
	r->timeout_auth_us = c->pop3.timeout_auth;
	r->timeout_us = c->pop3.timeout;
}

void sd_config_imap(const sd_config_t *c, struct imap_config *r)
{
	imap_config_defaults(r);
	r->hostname = mail_hostname(c);
	r->errors_max = c->imap.max_errors;
	r->auth_failures_max = c->imap.max_auth_failures;
	r->timeout_preauth_us = c->imap.timeout_auth;
	r->timeout_us = c->imap.timeout;
	r->appendlimit = c->imap.appendlimit;
}
