/* test_sd_config - the sluiced config schema for the store and SMTP
 * sections: defaults, every key reaching its struct field and the engine
 * config, and the cross-field checks with their exact messages. The
 * shipped configs (conf/demo.conf, the e2e configs) must load. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "sd_config.h"
#include "sl_err.h"
#include "sl_time.h"

#define MB (1024ULL * 1024ULL)

static const char *const base =
	"dataplane { device = net_tap0; address = 198.18.0.2/24; }\n";

/* Load BASE + EXTRA from a temporary file. */
static int load(const char *extra, sd_config_t *c, const char **error_r)
{
	char path[] = "/tmp/test_sd_config_XXXXXX";
	int fd = mkstemp(path), rc;
	FILE *f;

	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fprintf(f, "%s%s", base, extra);
	fclose(f);
	rc = sd_config_load(path, c, error_r);
	unlink(path);
	return rc;
}

static void test_defaults_no_store_no_smtp(void **state)
{
	static sd_config_t c;
	st_store_opts_t so;
	const char *e = NULL;

	(void)state;
	assert_int_equal(load("", &c, &e), 0);
	assert_false(sd_config_store(&c, &so));
	assert_false(sd_config_smtp_enabled(&c));
	assert_int_equal(c.smtp.max_connections_per_ip, 50);
	assert_int_equal(c.smtp.auth_threads, 1);
	assert_int_equal(c.smtp.auth_lockout_failures, 10);
	assert_int_equal(c.smtp.auth_lockout_time, 15 * 60 * SL_US_PER_S);
	assert_int_equal(c.store.lane_inflight, 1024);
}

static void test_store_and_smtp_keys(void **state)
{
	static sd_config_t c;
	st_store_opts_t so;
	struct smtp_config sc;
	const char *e = NULL;

	(void)state;
	assert_int_equal(load("hostname = host.example;\n"
			      "store { path = /var/lib/x; map_size = 16m; map_size_max = 1g;\n"
			      "  map_grow_pct = 90; max_readers = 200; batch_max = 64;\n"
			      "  lane_inflight = 512; body_max = 32m; special_mailboxes = no;\n"
			      "  argon2_iterations = 3; argon2_memory = 8m; argon2_parallelism = 2; }\n"
			      "smtp { max_message_size = 10m; max_recipients = 200; max_errors = 7;\n"
			      "  max_auth_failures = 2; max_connections = 99; max_connections_per_ip = 4;\n"
			      "  staging_memory = 64m; greeting_delay = 250ms; timeout_command = 30s;\n"
			      "  timeout_data = 1min; bare_eol = normalize; vrfy = yes; expn = on;\n"
			      "  auth_threads = 2; auth_lockout_failures = 0; auth_lockout_time = 1h;\n"
			      "  mx { port = 25; }\n"
			      "  submission { port = 587; allow_plaintext_auth = true; } }\n",
			      &c, &e),
			 0);
	assert_true(sd_config_store(&c, &so));
	assert_string_equal(so.path, "/var/lib/x");
	assert_int_equal(so.map_size, 16 * MB);
	assert_int_equal(so.map_size_max, 1024 * MB);
	assert_int_equal(so.map_grow_pct, 90);
	assert_int_equal(so.max_readers, 200);
	assert_int_equal(so.batch_max, 64);
	assert_int_equal(so.body_max, 32 * MB);
	assert_false(so.create_special_mailboxes);
	assert_int_equal(so.argon2_t_cost, 3);
	assert_int_equal(so.argon2_m_cost_kib, 8 * 1024);
	assert_int_equal(so.argon2_parallelism, 2);
	assert_int_equal(c.store.lane_inflight, 512);
	assert_true(sd_config_smtp_enabled(&c));
	assert_int_equal(c.smtp.mx.port, 25);
	assert_false(c.smtp.mx.allow_plaintext_auth);
	assert_int_equal(c.smtp.submission.port, 587);
	assert_true(c.smtp.submission.allow_plaintext_auth);
	assert_int_equal(c.smtp.max_connections, 99);
	assert_int_equal(c.smtp.max_connections_per_ip, 4);
	assert_int_equal(c.smtp.staging_memory, 64 * MB);
	assert_int_equal(c.smtp.auth_threads, 2);
	assert_int_equal(c.smtp.auth_lockout_failures, 0);
	assert_int_equal(c.smtp.auth_lockout_time, 3600 * SL_US_PER_S);
	sd_config_smtp(&c, &sc);
	assert_string_equal(sc.hostname, "host.example"); /* falls back to hostname */
	assert_int_equal(sc.message_max, 10 * MB);
	assert_int_equal(sc.rcpt_max, 200);
	assert_int_equal(sc.errors_max, 7);
	assert_int_equal(sc.auth_failures_max, 2);
	assert_int_equal(sc.greeting_delay_us, 250 * SL_US_PER_MS);
	assert_int_equal(sc.timeout_cmd_us, 30 * SL_US_PER_S);
	assert_int_equal(sc.timeout_data_us, 60 * SL_US_PER_S);
	assert_int_equal(sc.eol_mode, SMTP_EOL_NORMALIZE);
	assert_true(sc.vrfy_enabled && sc.expn_enabled);
}

static void test_smtp_hostname_overrides(void **state)
{
	static sd_config_t c;
	struct smtp_config sc;
	const char *e = NULL;

	(void)state;
	assert_int_equal(load("hostname = a.example;\nstore { path = /x; }\n"
			      "smtp { hostname = mx.b.example; mx { port = 2525; } }\n",
			      &c, &e),
			 0);
	sd_config_smtp(&c, &sc);
	assert_string_equal(sc.hostname, "mx.b.example");
}

static void test_access_sections(void **state)
{
	static sd_config_t c;
	struct pop3_config pc;
	struct imap_config ic;
	const char *e = NULL;

	(void)state;
	assert_int_equal(load("hostname = a.example;\nstore { path = /x; }\n"
			      "pop3 { timeout = 2min; max_auth_failures = 5; plain { port = 110; } "
			      "tls { port = 995; } }\n"
			      "imap { appendlimit = 10m; plain { port = 143; allow_plaintext_auth = true; } }\n",
			      &c, &e),
			 0);
	assert_true(sd_config_pop3_enabled(&c));
	assert_true(sd_config_imap_enabled(&c));
	assert_true(sd_config_mail_enabled(&c));
	assert_true(sd_config_tls_enabled(&c));
	assert_int_equal(c.pop3.tls.port, 995);
	assert_false(c.pop3.plain.allow_plaintext_auth);
	assert_true(c.imap.plain.allow_plaintext_auth);
	assert_int_equal(c.imap.tls.port, 0);
	sd_config_pop3(&c, &pc);
	assert_string_equal(pc.hostname, "a.example");
	assert_int_equal(pc.timeout_us, 120 * SL_US_PER_S);
	assert_int_equal(pc.auth_failures_max, 5);
	sd_config_imap(&c, &ic);
	assert_int_equal(ic.appendlimit, 10 * 1024 * 1024);
	/* Off by default. */
	assert_int_equal(load("store { path = /x; }\n", &c, &e), 0);
	assert_false(sd_config_pop3_enabled(&c));
	assert_false(sd_config_imap_enabled(&c));
}

static const struct {
	const char *text, *error; /* error: suffix after "<path>: " */
} bad[] = {
	{"smtp { mx { port = 25; } }\n", "smtp needs a store: set store.path"},
	{"store { path = /x; }\nsmtp { mx { port = 25; } submission { port = 25; } }\n",
	 "smtp.mx.port and smtp.submission.port are both"},
	{"store { path = /x; body_max = 16m; }\nsmtp { max_message_size = 16m; mx { port = 25; } }\n",
	 "smtp.max_message_size must be at least 4k below store.body_max"},
	{"store { path = /x; }\nsmtp { max_message_size = 30m; staging_memory = 20m; "
	 "mx { port = 25; } }\n",
	 "smtp.staging_memory is smaller than one message"},
	{"store { path = /x; map_size = 2g; map_size_max = 1g; }\n",
	 "store.map_size is larger than store.map_size_max"},
	{"smtp { max_recipients = 99; }\n", "smtp.max_recipients: '99' is out of range [100, 1000]"},
	{"smtp { bare_eol = lax; }\n", "smtp.bare_eol: "},
	{"smtp { mx { port = 70000; } }\n", "smtp.mx.port: '70000' is out of range [0, 65535]"},
	{"smtp { pop3 { port = 110; } }\n", "unknown key 'pop3' in section 'smtp'"},
	{"pop3 { plain { port = 110; } }\n", "pop3 and imap need a store: set store.path"},
	{"store { path = /x; }\nsmtp { mx { port = 25; } }\nimap { plain { port = 25; } }\n",
	 "smtp.mx.port and imap.plain.port are both 25"},
	{"store { path = /x; }\npop3 { tls { port = 993; } }\nimap { tls { port = 993; } }\n",
	 "pop3.tls.port and imap.tls.port are both 993"},
	{"store { path = /x; }\ntls { enabled = false; }\nimap { tls { port = 993; } }\n",
	 "pop3.tls and imap.tls (implicit TLS) need tls.enabled"},
	{"store { path = /x; }\ntls { enabled = false; }\npop3 { plain { port = 110; } }\n",
	 "without tls.enabled nobody could log in"},
	{"store { path = /x; body_max = 1m; }\nimap { appendlimit = 2m; plain { port = 143; } }\n",
	 "imap.appendlimit is larger than store.body_max"},
	{"imap { timeout = 1s; }\n", "imap.timeout: '1s' is out of range"},
	{"pop3 { plain { starttls = yes; } }\n", "unknown key 'starttls' in section 'pop3.plain'"},
	{"store { path = /x; }\nsmtp { mx { port = 25; } }\n"
	 "filter { enabled = true; autolearn_spam = 3; autolearn_ham = 3; }\n",
	 "filter: autolearn_ham < autolearn_spam must hold"},
	{"filter { autolearn_ham = lots; }\n", "filter.autolearn_ham: expected a score"},
};

static void test_bad_configs(void **state)
{
	static sd_config_t c;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *e = NULL;

		if (load(bad[i].text, &c, &e) == 0)
			fail_msg("case %zu accepted: %s", i, bad[i].text);
		assert_non_null(e);
		if (strstr(e, bad[i].error) == NULL)
			fail_msg("case %zu: '%s' does not contain '%s'", i, e, bad[i].error);
	}
}

static void test_shipped_configs_load(void **state)
{
	static const char *const files[] = {"conf/demo.conf"};
	static sd_config_t c;

	(void)state;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		const char *e = NULL;

		if (access(files[i], R_OK) != 0)
			continue; /* run from elsewhere than the tree root */
		if (sd_config_load(files[i], &c, &e) != 0)
			fail_msg("%s: %s", files[i], e);
		assert_true(sd_config_smtp_enabled(&c));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_no_store_no_smtp),
		cmocka_unit_test(test_store_and_smtp_keys),
		cmocka_unit_test(test_smtp_hostname_overrides),
		cmocka_unit_test(test_bad_configs),
		cmocka_unit_test(test_access_sections),
		cmocka_unit_test(test_shipped_configs_load),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
