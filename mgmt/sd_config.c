/* sd_config - schema of the sluiced config file and its defaults. */
#include "sd_config.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "sl_conf.h"
#include "sl_err.h"
#include "sl_log.h"
#include "sl_time.h"

#define OFF(f) offsetof(sd_config_t, f)
#define SZ(f) sizeof(((sd_config_t *)0)->f)
#define KB 1024ULL
#define MB (1024ULL * 1024ULL)
#define GB (1024ULL * MB)
#define S SL_US_PER_S
#define MS SL_US_PER_MS

static const char *const sd_log_levels[] = {"error", "warn", "info", "debug", NULL};
static const char *const sd_cc_names[] = {"newreno", "cubic", NULL};
static const char *const sd_fault_dirs[] = {"rx", "tx", "both", NULL};

static const sl_conf_field_t sd_dataplane_fields[] = {
	{"device", SL_CONF_STRING, OFF(dataplane.device), SZ(dataplane.device),
	 .help = "DPDK ethdev name (net_tap0) or PCI address (0000:03:00.0)"},
	{"vdev", SL_CONF_STRING, OFF(dataplane.vdev), SZ(dataplane.vdev),
	 .help = "virtual device to create first, e.g. net_tap0,iface=sluice0"},
	{"pci", SL_CONF_BOOL, OFF(dataplane.pci), .help = "let DPDK probe PCI devices"},
	{"hugepages", SL_CONF_BOOL, OFF(dataplane.hugepages),
	 .help = "use hugepages (false runs EAL with --no-huge)"},
	{"memory", SL_CONF_SIZE, OFF(dataplane.memory), 0, 64 * MB, 64 * GB,
	 .help = "DPDK memory (EAL -m)"},
	{"lcores", SL_CONF_STRING, OFF(dataplane.lcores), SZ(dataplane.lcores),
	 .help = "EAL lcore list; the first runs worker 0"},
	{"mbufs", SL_CONF_UINT, OFF(dataplane.mbufs), 0, 1023, 4000000,
	 .help = "packet buffers in the mempool"},
	{"rx_descriptors", SL_CONF_UINT, OFF(dataplane.rx_desc), 0, 64, 16384},
	{"tx_descriptors", SL_CONF_UINT, OFF(dataplane.tx_desc), 0, 64, 16384},
	{"mtu", SL_CONF_UINT, OFF(dataplane.mtu), 0, 576, 9000, .help = "IP MTU"},
	{"workers", SL_CONF_UINT, OFF(dataplane.workers), 0, 1, 1,
	 .help = "data-plane worker lcores (this release: 1)"},
	{"address", SL_CONF_IPV4_CIDR, OFF(dataplane.address), .aux_offset = OFF(dataplane.prefix_len),
	 .help = "appliance address with prefix, e.g. 198.18.0.2/24"},
	{"gateway", SL_CONF_IPV4, OFF(dataplane.gateway), .help = "default gateway"},
	{"mac", SL_CONF_MAC, OFF(dataplane.mac), .help = "override the device MAC"},
	{"rx_interrupts", SL_CONF_BOOL, OFF(dataplane.rx_interrupts),
	 .help = "sleep on RX interrupts when idle (adaptive polling)"},
	{"idle_sleep", SL_CONF_DURATION, OFF(dataplane.idle_sleep), 0, 0, 10 * S,
	 .help = "quiet time before a worker sleeps"},
	{"tx_drain", SL_CONF_DURATION, OFF(dataplane.tx_drain), 0, 1, 10 * MS,
	 .help = "TX buffer drain period under load"},
	{NULL}};

static const sl_conf_field_t sd_ip_fields[] = {
	{"arp_reachable", SL_CONF_DURATION, OFF(ip.arp_reachable), 0, 1 * S, 24 * 3600 * S},
	{"arp_cache_size", SL_CONF_UINT, OFF(ip.arp_cache_size), 0, 16, 1 << 20},
	{"arp_queue_max", SL_CONF_UINT, OFF(ip.arp_queue_max), 0, 1, 1024},
	{"reassembly_memory", SL_CONF_SIZE, OFF(ip.reasm_memory), 0, 64 * KB, 1 * GB},
	{"reassembly_timeout", SL_CONF_DURATION, OFF(ip.reasm_timeout), 0, 1 * S, 120 * S},
	{NULL}};

static const sl_conf_field_t sd_tcp_fields[] = {
	{"max_connections", SL_CONF_UINT, OFF(tcp.max_connections), 0, 16, 4000000},
	{"memory", SL_CONF_SIZE, OFF(tcp.memory), 0, 1 * MB, 64 * GB,
	 .help = "bytes in all send and receive queues"},
	{"sndbuf", SL_CONF_SIZE, OFF(tcp.sndbuf), 0, 4 * KB, 64 * MB},
	{"rcvbuf", SL_CONF_SIZE, OFF(tcp.rcvbuf), 0, 4 * KB, 64 * MB},
	{"syn_backlog", SL_CONF_UINT, OFF(tcp.syn_backlog), 0, 1, 1 << 20,
	 .help = "half-open connections per listener before SYN cookies"},
	{"congestion_control", SL_CONF_ENUM, OFF(tcp.congestion_control), .choices = sd_cc_names},
	{"timestamps", SL_CONF_BOOL, OFF(tcp.timestamps)},
	{"sack", SL_CONF_BOOL, OFF(tcp.sack)},
	{"window_scaling", SL_CONF_BOOL, OFF(tcp.window_scaling)},
	{"delayed_ack", SL_CONF_DURATION, OFF(tcp.delayed_ack), 0, 1 * MS, 500 * MS},
	{"rto_min", SL_CONF_DURATION, OFF(tcp.rto_min), 0, 10 * MS, 10 * S},
	{"rto_max", SL_CONF_DURATION, OFF(tcp.rto_max), 0, 1 * S, 600 * S},
	{"keepalive_idle", SL_CONF_DURATION, OFF(tcp.keepalive_idle), 0, 0, 24 * 3600 * S,
	 .help = "0 disables keepalive"},
	{"keepalive_interval", SL_CONF_DURATION, OFF(tcp.keepalive_interval), 0, 1 * S, 3600 * S},
	{"keepalive_probes", SL_CONF_UINT, OFF(tcp.keepalive_probes), 0, 1, 100},
	{"time_wait", SL_CONF_DURATION, OFF(tcp.time_wait), 0, 1 * S, 240 * S},
	{"time_wait_max", SL_CONF_UINT, OFF(tcp.time_wait_max), 0, 16, 4000000},
	{"challenge_ack_limit", SL_CONF_UINT, OFF(tcp.challenge_ack_limit), 0, 1, 1000000},
	{NULL}};

static const sl_conf_field_t sd_services_fields[] = {
	{"tcp_echo", SL_CONF_UINT, OFF(services.tcp_echo), 0, 0, 65535, .help = "port, 0 = off"},
	{"tcp_discard", SL_CONF_UINT, OFF(services.tcp_discard), 0, 0, 65535},
	{"udp_echo", SL_CONF_UINT, OFF(services.udp_echo), 0, 0, 65535},
	{NULL}};

static const sl_conf_field_t sd_fault_fields[] = {
	{"enabled", SL_CONF_BOOL, OFF(fault_injection.enabled),
	 .help = "TESTS ONLY: inject packet faults on the data plane"},
	{"direction", SL_CONF_ENUM, OFF(fault_injection.direction), .choices = sd_fault_dirs},
	{"seed", SL_CONF_UINT, OFF(fault_injection.seed)},
	{"drop_ppm", SL_CONF_UINT, OFF(fault_injection.drop_ppm), 0, 0, 1000000},
	{"duplicate_ppm", SL_CONF_UINT, OFF(fault_injection.duplicate_ppm), 0, 0, 1000000},
	{"reorder_ppm", SL_CONF_UINT, OFF(fault_injection.reorder_ppm), 0, 0, 1000000},
	{"corrupt_ppm", SL_CONF_UINT, OFF(fault_injection.corrupt_ppm), 0, 0, 1000000},
	{"reorder_depth", SL_CONF_UINT, OFF(fault_injection.reorder_depth), 0, 1, 64},
	{NULL}};

static const char *const sd_eol_modes[] = {"reject", "normalize", NULL};

static const sl_conf_field_t sd_store_fields[] = {
	{"path", SL_CONF_STRING, OFF(store.path), SZ(store.path),
	 .help = "directory of the LMDB store (created if missing)"},
	{"map_size", SL_CONF_SIZE, OFF(store.map_size), 0, 1 * MB, 1024 * GB,
	 .help = "initial LMDB map size"},
	{"map_size_max", SL_CONF_SIZE, OFF(store.map_size_max), 0, 1 * MB, 1024 * GB,
	 .help = "the map grows up to this"},
	{"map_grow_pct", SL_CONF_UINT, OFF(store.map_grow_pct), 0, 10, 100},
	{"max_readers", SL_CONF_UINT, OFF(store.max_readers), 0, 16, 4096},
	{"batch_max", SL_CONF_UINT, OFF(store.batch_max), 0, 1, 4096,
	 .help = "requests per group-commit transaction"},
	{"lane_inflight", SL_CONF_UINT, OFF(store.lane_inflight), 0, 16, 2048,
	 .help = "write requests in flight per worker"},
	{"body_max", SL_CONF_SIZE, OFF(store.body_max), 0, 64 * KB, 1 * GB,
	 .help = "largest message body stored"},
	{"special_mailboxes", SL_CONF_BOOL, OFF(store.special_mailboxes),
	 .help = "user add also creates Sent, Drafts, Junk, Trash, Archive"},
	{"argon2_iterations", SL_CONF_UINT, OFF(store.argon2_iterations), 0, 1, 100},
	{"argon2_memory", SL_CONF_SIZE, OFF(store.argon2_memory), 0, 8 * KB, 4 * GB},
	{"argon2_parallelism", SL_CONF_UINT, OFF(store.argon2_parallelism), 0, 1, 64},
	{"vanished_max", SL_CONF_UINT, OFF(store.vanished_max), 0, 1, 67108864,
	 .help = "expunges kept per mailbox for QRESYNC; older ones fold into a floor"},
	{NULL}};

static const sl_conf_field_t sd_smtp_mx_fields[] = {
	{"port", SL_CONF_UINT, OFF(smtp.mx.port), 0, 0, 65535, .help = "0 = off"},
	{"allow_plaintext_auth", SL_CONF_BOOL, OFF(smtp.mx.allow_plaintext_auth)},
	{"require_tls", SL_CONF_BOOL, OFF(smtp.mx.require_tls),
	 .help = "MAIL and AUTH get 530 5.7.0 before STARTTLS"},
	{NULL}};

static const sl_conf_field_t sd_smtp_sub_fields[] = {
	{"port", SL_CONF_UINT, OFF(smtp.submission.port), 0, 0, 65535, .help = "0 = off"},
	{"allow_plaintext_auth", SL_CONF_BOOL, OFF(smtp.submission.allow_plaintext_auth)},
	{"require_tls", SL_CONF_BOOL, OFF(smtp.submission.require_tls),
	 .help = "MAIL and AUTH get 530 5.7.0 before STARTTLS"},
	{NULL}};

static const sl_conf_field_t sd_smtp_subs_fields[] = {
	{"port", SL_CONF_UINT, OFF(smtp.submissions.port), 0, 0, 65535,
	 .help = "implicit TLS (RFC 8314), 0 = off"},
	{NULL}};

static const sl_conf_section_t sd_smtp_mx_section = {"mx", sd_smtp_mx_fields};
static const sl_conf_section_t sd_smtp_sub_section = {"submission", sd_smtp_sub_fields};
static const sl_conf_section_t sd_smtp_subs_section = {"submissions", sd_smtp_subs_fields};

static const char *const sd_tls_versions[] = {"1.2", "1.3", NULL};

static const sl_conf_field_t sd_tls_fields[] = {
	{"enabled", SL_CONF_BOOL, OFF(tls.enabled), .help = "TLS on the mail listeners"},
	{"cert", SL_CONF_STRLIST, OFF(tls.cert),
	 .help = "PEM chain file(s), leaf first; the first is the default (SNI picks)"},
	{"key", SL_CONF_STRLIST, OFF(tls.key), .help = "PEM key file(s), one per cert"},
	{"ca_file", SL_CONF_STRING, OFF(tls.ca_file), SZ(tls.ca_file),
	 .help = "trust anchors for the chain check (default: system store)"},
	{"selfsigned_dir", SL_CONF_STRING, OFF(tls.selfsigned_dir), SZ(tls.selfsigned_dir),
	 .help = "where the first-start certificate is kept (default: store.path)"},
	{"min_version", SL_CONF_ENUM, OFF(tls.min_version), .choices = sd_tls_versions},
	{"ciphers", SL_CONF_STRING, OFF(tls.ciphers), SZ(tls.ciphers),
	 .help = "wolfSSL cipher list (default: AEAD with ECDHE only)"},
	{"handshake_timeout", SL_CONF_DURATION, OFF(tls.handshake_timeout), 0, 100 * MS, 300 * S},
	{"handshakes_max", SL_CONF_UINT, OFF(tls.handshakes_max), 0, 1, 1000000},
	{"handshakes_per_ip", SL_CONF_UINT, OFF(tls.handshakes_per_ip), 0, 1, 1000000},
	{"tickets", SL_CONF_BOOL, OFF(tls.tickets), .help = "session resumption with tickets"},
	{"ticket_rotation", SL_CONF_DURATION, OFF(tls.ticket_rotation), 0, 1 * S, 7 * 86400 * S},
	{"session_lifetime", SL_CONF_DURATION, OFF(tls.session_lifetime), 0, 1 * S, 7 * 86400 * S},
	{NULL}};

static const sl_conf_section_t sd_tls_section = {"tls", sd_tls_fields};

static const sl_conf_field_t sd_smtp_fields[] = {
	{"hostname", SL_CONF_STRING, OFF(smtp.hostname), SZ(smtp.hostname),
	 .help = "name in the greeting and Received: (default: hostname)"},
	{"max_message_size", SL_CONF_SIZE, OFF(smtp.max_message_size), 0, 64 * KB, 1 * GB},
	{"max_recipients", SL_CONF_UINT, OFF(smtp.max_recipients), 0, 100, 1000,
	 .help = "RFC 5321 4.5.3.1.8: at least 100"},
	{"max_errors", SL_CONF_UINT, OFF(smtp.max_errors), 0, 1, 1000},
	{"max_auth_failures", SL_CONF_UINT, OFF(smtp.max_auth_failures), 0, 1, 100},
	{"max_connections", SL_CONF_UINT, OFF(smtp.max_connections), 0, 1, 1000000,
	 .help = "SMTP sessions per worker"},
	{"max_connections_per_ip", SL_CONF_UINT, OFF(smtp.max_connections_per_ip), 0, 1, 1000000},
	{"staging_memory", SL_CONF_SIZE, OFF(smtp.staging_memory), 0, 1 * MB, 64 * GB,
	 .help = "bytes of messages being received, per worker"},
	{"greeting_delay", SL_CONF_DURATION, OFF(smtp.greeting_delay), 0, 0, 60 * S},
	{"timeout_command", SL_CONF_DURATION, OFF(smtp.timeout_command), 0, 1 * S, 3600 * S},
	{"timeout_data", SL_CONF_DURATION, OFF(smtp.timeout_data), 0, 1 * S, 3600 * S},
	{"bare_eol", SL_CONF_ENUM, OFF(smtp.bare_eol), .choices = sd_eol_modes},
	{"vrfy", SL_CONF_BOOL, OFF(smtp.vrfy)},
	{"expn", SL_CONF_BOOL, OFF(smtp.expn)},
	{"auth_lockout_failures", SL_CONF_UINT, OFF(smtp.auth_lockout_failures), 0, 0, 100000,
	 .help = "failed AUTH per client address before AUTH is refused (0 = off)"},
	{"auth_lockout_time", SL_CONF_DURATION, OFF(smtp.auth_lockout_time), 0, 1 * S, 24 * 3600 * S},
	{"auth_threads", SL_CONF_UINT, OFF(smtp.auth_threads), 0, 1, 64,
	 .help = "threads verifying passwords (argon2id), off the workers"},
	{"mx", SL_CONF_SECTION, 0, .section = &sd_smtp_mx_section},
	{"submission", SL_CONF_SECTION, 0, .section = &sd_smtp_sub_section},
	{"submissions", SL_CONF_SECTION, 0, .section = &sd_smtp_subs_section},
	{NULL}};

static const sl_conf_section_t sd_store_section = {"store", sd_store_fields};
static const sl_conf_section_t sd_smtp_section = {"smtp", sd_smtp_fields};
static const sl_conf_section_t sd_dataplane_section = {"dataplane", sd_dataplane_fields};
static const sl_conf_section_t sd_ip_section = {"ip", sd_ip_fields};
static const sl_conf_section_t sd_tcp_section = {"tcp", sd_tcp_fields};
static const sl_conf_section_t sd_services_section = {"services", sd_services_fields};
static const sl_conf_section_t sd_fault_section = {"fault_injection", sd_fault_fields};

static const sl_conf_field_t sd_root_fields[] = {
	{"log_level", SL_CONF_ENUM, OFF(log_level), .choices = sd_log_levels},
	{"hostname", SL_CONF_STRING, OFF(hostname), SZ(hostname)},
	{"control_socket", SL_CONF_STRING, OFF(control_socket), SZ(control_socket)},
	{"dataplane", SL_CONF_SECTION, 0, .section = &sd_dataplane_section},
	{"ip", SL_CONF_SECTION, 0, .section = &sd_ip_section},
	{"tcp", SL_CONF_SECTION, 0, .section = &sd_tcp_section},
	{"services", SL_CONF_SECTION, 0, .section = &sd_services_section},
	{"store", SL_CONF_SECTION, 0, .section = &sd_store_section},
	{"smtp", SL_CONF_SECTION, 0, .section = &sd_smtp_section},
	{"pop3", SL_CONF_SECTION, 0, .section = &sd_pop3_section},
	{"imap", SL_CONF_SECTION, 0, .section = &sd_imap_section},
	{"filter", SL_CONF_SECTION, 0, .section = &sd_filter_section},
	{"tls", SL_CONF_SECTION, 0, .section = &sd_tls_section},
	{"fault_injection", SL_CONF_SECTION, 0, .section = &sd_fault_section},
	{NULL}};

static const sl_conf_section_t sd_root_section = {"", sd_root_fields};

void sd_config_default(sd_config_t *c)
{
	ns_stack_params_t p;
	st_store_opts_t so;
	struct smtp_config sc;

	memset(c, 0, sizeof(*c));
	ns_stack_params_default(&p);
	c->log_level = SL_LOG_INFO;
	snprintf(c->hostname, sizeof(c->hostname), "sluice.localdomain");
	snprintf(c->control_socket, sizeof(c->control_socket), "/run/sluice/sluiced.sock");
	c->dataplane.memory = 256 * MB;
	snprintf(c->dataplane.lcores, sizeof(c->dataplane.lcores), "0");
	c->dataplane.mbufs = 16383;
	c->dataplane.rx_desc = 1024;
	c->dataplane.tx_desc = 1024;
	c->dataplane.mtu = 1500;
	c->dataplane.workers = 1;
	c->dataplane.rx_interrupts = true;
	c->dataplane.idle_sleep = 500;
	c->dataplane.tx_drain = 100;
	c->ip.arp_reachable = p.arp_reachable_us;
	c->ip.arp_cache_size = p.arp_cache_size;
	c->ip.arp_queue_max = p.arp_queue_max;
	c->ip.reasm_memory = p.reasm_mem_max;
	c->ip.reasm_timeout = p.reasm_timeout_us;
	c->tcp.max_connections = p.max_conns;
	c->tcp.memory = p.tcp_mem_max;
	c->tcp.sndbuf = p.sndbuf;
	c->tcp.rcvbuf = p.rcvbuf;
	c->tcp.syn_backlog = p.syn_backlog;
	c->tcp.congestion_control = p.cc;
	c->tcp.timestamps = p.timestamps;
	c->tcp.sack = p.sack;
	c->tcp.window_scaling = p.window_scaling;
	c->tcp.delayed_ack = p.delack_us;
	c->tcp.rto_min = p.rto_min_us;
	c->tcp.rto_max = p.rto_max_us;
	c->tcp.keepalive_idle = p.keepalive_idle_us;
	c->tcp.keepalive_interval = p.keepalive_intvl_us;
	c->tcp.keepalive_probes = p.keepalive_probes;
	c->tcp.time_wait = p.time_wait_us;
	c->tcp.time_wait_max = p.time_wait_max;
	c->tcp.challenge_ack_limit = p.challenge_ack_limit;
	st_store_opts_default(&so);
	c->store.map_size = so.map_size;
	c->store.map_size_max = so.map_size_max;
	c->store.map_grow_pct = so.map_grow_pct;
	c->store.max_readers = so.max_readers;
	c->store.batch_max = so.batch_max;
	c->store.lane_inflight = 1024;
	c->store.body_max = so.body_max;
	c->store.special_mailboxes = so.create_special_mailboxes;
	c->store.argon2_iterations = so.argon2_t_cost;
	c->store.argon2_memory = (uint64_t)so.argon2_m_cost_kib * KB;
	c->store.argon2_parallelism = so.argon2_parallelism;
	c->store.vanished_max = so.vanished_max;
	smtp_config_defaults(&sc);
	c->smtp.max_message_size = sc.message_max;
	c->smtp.max_recipients = sc.rcpt_max;
	c->smtp.max_errors = sc.errors_max;
	c->smtp.max_auth_failures = sc.auth_failures_max;
	c->smtp.greeting_delay = sc.greeting_delay_us;
	c->smtp.timeout_command = sc.timeout_cmd_us;
	c->smtp.timeout_data = sc.timeout_data_us;
	c->smtp.bare_eol = sc.eol_mode;
	c->smtp.max_connections = 1000;
	c->smtp.max_connections_per_ip = 50;
	c->smtp.staging_memory = 512 * MB;
	c->smtp.auth_threads = 1;
	c->smtp.auth_lockout_failures = 10;
	c->smtp.auth_lockout_time = 15 * 60 * S;
	sd_config_access_defaults(c);
	sd_config_filter_defaults(c);
	c->tls.enabled = true;
	c->tls.tickets = true;
	c->tls.handshake_timeout = 10 * S;
	c->tls.handshakes_max = 256;
	c->tls.handshakes_per_ip = 8;
	c->tls.ticket_rotation = 3600 * S;
	c->tls.session_lifetime = 7200 * S;
	c->fault_injection.direction = 2;
	c->fault_injection.seed = 1;
	c->fault_injection.reorder_depth = 3;
}

int sd_config_load(const char *path, sd_config_t *c, const char **error_r)
{
	static char errbuf[512];
	int rc;

	sd_config_default(c);
	rc = sl_conf_load_file(path, &sd_root_section, c, error_r);
	if (rc < 0)
		return rc;
	if (c->dataplane.device[0] == '\0') {
		snprintf(errbuf, sizeof(errbuf), "%s: dataplane.device is required", path);
		goto fail;
	}
	if (c->dataplane.address == 0) {
		snprintf(errbuf, sizeof(errbuf), "%s: dataplane.address is required", path);
		goto fail;
	}
	if (c->dataplane.prefix_len < 8 || c->dataplane.prefix_len > 30) {
		snprintf(errbuf, sizeof(errbuf), "%s: dataplane.address: prefix /%u out of range 8-30",
			 path, c->dataplane.prefix_len);
		goto fail;
	}
	if (c->tcp.rto_min > c->tcp.rto_max) {
		snprintf(errbuf, sizeof(errbuf), "%s: tcp.rto_min is larger than tcp.rto_max", path);
		goto fail;
	}
	if (c->tcp.sndbuf > c->tcp.memory || c->tcp.rcvbuf > c->tcp.memory) {
		snprintf(errbuf, sizeof(errbuf), "%s: tcp.sndbuf/rcvbuf larger than tcp.memory", path);
		goto fail;
	}
	if (c->store.map_size > c->store.map_size_max) {
		snprintf(errbuf, sizeof(errbuf), "%s: store.map_size is larger than store.map_size_max",
			 path);
		goto fail;
	}
	if (c->tls.cert.count != c->tls.key.count || c->tls.cert.count > NS_TLS_CERTS_MAX) {
		snprintf(errbuf, sizeof(errbuf),
			 "%s: tls.cert and tls.key must be lists of the same length (at most %u)",
			 path, NS_TLS_CERTS_MAX);
		goto fail;
	}
	if (c->tls.ticket_rotation > c->tls.session_lifetime) {
		snprintf(errbuf, sizeof(errbuf),
			 "%s: tls.ticket_rotation is longer than tls.session_lifetime", path);
		goto fail;
	}
	if (sd_config_smtp_enabled(c)) {
		if (c->store.path[0] == '\0') {
			snprintf(errbuf, sizeof(errbuf),
				 "%s: smtp needs a store: set store.path", path);
			goto fail;
		}
		if (!c->tls.enabled &&
		    (c->smtp.submissions.port != 0 || c->smtp.mx.require_tls ||
		     c->smtp.submission.require_tls)) {
			snprintf(errbuf, sizeof(errbuf),
				 "%s: smtp.submissions and require_tls need tls.enabled", path);
			goto fail;
		}
		/* The Received: header and the staging buffer live beside the
		 * body, which must fit what the store accepts. */
		if (c->smtp.max_message_size + 4096 > c->store.body_max) {
			snprintf(errbuf, sizeof(errbuf),
				 "%s: smtp.max_message_size must be at least 4k below store.body_max",
				 path);
			goto fail;
		}
		if (c->smtp.max_message_size + 4096 > c->smtp.staging_memory) {
			snprintf(errbuf, sizeof(errbuf),
				 "%s: smtp.staging_memory is smaller than one message", path);
			goto fail;
		}
	}
	if (sd_config_access_check(c, path, errbuf, sizeof(errbuf)) < 0 ||
	    sd_config_filter_check(c, path, errbuf, sizeof(errbuf)) < 0)
		goto fail;
	return 0;
fail:
	*error_r = errbuf;
	return SL_ECONFIG;
}

void sd_config_eal(const sd_config_t *c, sl_eal_conf_t *r)
{
	sl_eal_conf_default(r);
	r->hugepages = c->dataplane.hugepages;
	r->memory_mb = (uint32_t)(c->dataplane.memory / MB);
	r->pci = c->dataplane.pci;
	snprintf(r->lcores, sizeof(r->lcores), "%s", c->dataplane.lcores);
	snprintf(r->vdev, sizeof(r->vdev), "%s", c->dataplane.vdev);
	snprintf(r->log_level, sizeof(r->log_level), "%s",
		 c->log_level >= SL_LOG_DEBUG ? "info" : "notice");
}

void sd_config_port(const sd_config_t *c, sl_port_conf_t *r)
{
	sl_port_conf_default(r);
	snprintf(r->device, sizeof(r->device), "%s", c->dataplane.device);
	r->queues = (uint16_t)c->dataplane.workers;
	r->rx_desc = (uint16_t)c->dataplane.rx_desc;
	r->tx_desc = (uint16_t)c->dataplane.tx_desc;
	r->mbufs = c->dataplane.mbufs;
	r->mtu = (uint16_t)c->dataplane.mtu;
	r->rx_interrupts = c->dataplane.rx_interrupts;
}

void sd_config_stack(const sd_config_t *c, ns_stack_params_t *p)
{
	ns_stack_params_default(p);
	p->ip = c->dataplane.address;
	p->prefix_len = c->dataplane.prefix_len;
	p->gateway = c->dataplane.gateway;
	p->mtu = (uint16_t)c->dataplane.mtu;
	p->arp_reachable_us = c->ip.arp_reachable;
	p->arp_cache_size = c->ip.arp_cache_size;
	p->arp_queue_max = c->ip.arp_queue_max;
	p->reasm_mem_max = (uint32_t)c->ip.reasm_memory;
	p->reasm_timeout_us = c->ip.reasm_timeout;
	p->max_conns = c->tcp.max_connections;
	p->tcp_mem_max = c->tcp.memory;
	p->sndbuf = (uint32_t)c->tcp.sndbuf;
	p->rcvbuf = (uint32_t)c->tcp.rcvbuf;
	p->syn_backlog = c->tcp.syn_backlog;
	p->cc = (enum ns_cc_algo)c->tcp.congestion_control;
	p->timestamps = c->tcp.timestamps;
	p->sack = c->tcp.sack;
	p->window_scaling = c->tcp.window_scaling;
	p->delack_us = c->tcp.delayed_ack;
	p->rto_min_us = c->tcp.rto_min;
	p->rto_max_us = c->tcp.rto_max;
	p->keepalive_idle_us = c->tcp.keepalive_idle;
	p->keepalive_intvl_us = c->tcp.keepalive_interval;
	p->keepalive_probes = c->tcp.keepalive_probes;
	p->time_wait_us = c->tcp.time_wait;
	p->time_wait_max = c->tcp.time_wait_max;
	p->challenge_ack_limit = c->tcp.challenge_ack_limit;
}

void sd_config_services(const sd_config_t *c, ns_diag_conf_t *r)
{
	r->tcp_echo_port = (uint16_t)c->services.tcp_echo;
	r->tcp_discard_port = (uint16_t)c->services.tcp_discard;
	r->udp_echo_port = (uint16_t)c->services.udp_echo;
}

bool sd_config_fault(const sd_config_t *c, bool tx, sl_fault_params_t *r)
{
	const int dir = c->fault_injection.direction;

	if (!c->fault_injection.enabled || (tx && dir == 0) || (!tx && dir == 1))
		return false;
	memset(r, 0, sizeof(*r));
	r->seed = (uint64_t)c->fault_injection.seed * 2 + (tx ? 1 : 0);
	r->drop_ppm = c->fault_injection.drop_ppm;
	r->dup_ppm = c->fault_injection.duplicate_ppm;
	r->reorder_ppm = c->fault_injection.reorder_ppm;
	r->corrupt_ppm = c->fault_injection.corrupt_ppm;
	r->reorder_depth = c->fault_injection.reorder_depth;
	return true;
}

bool sd_config_store(const sd_config_t *c, st_store_opts_t *r)
{
	if (c->store.path[0] == '\0')
		return false;
	st_store_opts_default(r);
	r->path = c->store.path;
	r->map_size = c->store.map_size;
	r->map_size_max = c->store.map_size_max;
	r->map_grow_pct = c->store.map_grow_pct;
	r->max_readers = c->store.max_readers;
	r->batch_max = c->store.batch_max;
	r->body_max = c->store.body_max;
	r->create_special_mailboxes = c->store.special_mailboxes;
	r->argon2_t_cost = c->store.argon2_iterations;
	r->argon2_m_cost_kib = (uint32_t)(c->store.argon2_memory / KB);
	r->argon2_parallelism = c->store.argon2_parallelism;
	r->vanished_max = c->store.vanished_max;
	return true;
}

bool sd_config_smtp_enabled(const sd_config_t *c)
{
	return c->smtp.mx.port != 0 || c->smtp.submission.port != 0 ||
	       c->smtp.submissions.port != 0;
}

bool sd_config_tls_enabled(const sd_config_t *c)
{
	return c->tls.enabled && sd_config_mail_enabled(c);
}

void sd_config_tls(const sd_config_t *c, ns_tls_config_params_t *r, ns_tls_cert_src_t *srcs)
{
	ns_tls_config_params_default(r);
	memset(srcs, 0, NS_TLS_CERTS_MAX * sizeof(*srcs));
	for (unsigned i = 0; i < c->tls.cert.count && i < NS_TLS_CERTS_MAX; i++) {
		srcs[i].cert_file = c->tls.cert.items[i];
		srcs[i].key_file = c->tls.key.items[i];
	}
	r->certs = srcs;
	r->n_certs = c->tls.cert.count;
	r->ca_file = c->tls.ca_file[0] ? c->tls.ca_file : NULL;
	r->min_version = c->tls.min_version == 1 ? NS_TLS_1_3 : NS_TLS_1_2;
	r->ciphers = c->tls.ciphers[0] ? c->tls.ciphers : NULL;
	r->handshake_timeout_us = c->tls.handshake_timeout;
	r->handshakes_max = c->tls.handshakes_max;
	r->handshakes_per_ip = c->tls.handshakes_per_ip;
	r->no_tickets = !c->tls.tickets;
	r->ticket_rotate_s = (uint32_t)(c->tls.ticket_rotation / S);
	r->session_lifetime_s = (uint32_t)(c->tls.session_lifetime / S);
}

void sd_config_tls_selfsigned(const sd_config_t *c, char *cert_r, char *key_r, size_t size)
{
	const char *dir = c->tls.selfsigned_dir[0] ? c->tls.selfsigned_dir
			  : c->store.path[0]       ? c->store.path
						   : "/var/lib/sluice";

	snprintf(cert_r, size, "%s/selfsigned-cert.pem", dir);
	snprintf(key_r, size, "%s/selfsigned-key.pem", dir);
}

void sd_config_smtp(const sd_config_t *c, struct smtp_config *r)
{
	smtp_config_defaults(r);
	r->hostname = c->smtp.hostname[0] ? c->smtp.hostname : c->hostname;
	r->vrfy_enabled = c->smtp.vrfy;
	r->expn_enabled = c->smtp.expn;
	r->eol_mode = (enum smtp_eol_mode)c->smtp.bare_eol;
	r->message_max = c->smtp.max_message_size;
	r->rcpt_max = c->smtp.max_recipients;
	r->errors_max = c->smtp.max_errors;
	r->auth_failures_max = c->smtp.max_auth_failures;
	r->greeting_delay_us = c->smtp.greeting_delay;
	r->timeout_cmd_us = c->smtp.timeout_command;
	r->timeout_data_us = c->smtp.timeout_data;
}
