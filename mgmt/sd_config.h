/* sd_config - the sluiced configuration: the schema of the whole file, the
 * defaults, and the translation into each layer's parameters. Every key is
 * documented in docs/config.md. */
#ifndef SD_CONFIG_H
#define SD_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "ns.h"
#include "ns_diag.h"
#include "ns_tls.h"
#include "sl_conf.h"
#include "sl_fault.h"
#include "sl_port.h"
#include "filter.h"
#include "imap/imap_session.h"
#include "pop3/pop3_session.h"
#include "smtp/smtp_session.h"
#include "st.h"

/* Field types match what sl_conf fills: SIZE and DURATION are uint64_t,
 * UINT is uint32_t, ENUM is int. */
typedef struct sd_config {
	int log_level; /* enum sl_log_level */
	char hostname[256];
	char control_socket[108];

	struct {
		char device[128];
		char vdev[256];
		bool pci, hugepages, rx_interrupts;
		uint64_t memory;        /* bytes, EAL -m */
		char lcores[64];
		uint32_t mbufs, rx_desc, tx_desc, mtu, workers;
		uint32_t address;       /* network order */
		uint8_t prefix_len;
		uint32_t gateway;       /* network order, 0 = none */
		uint8_t mac[6];         /* all zero = the device's own */
		uint64_t idle_sleep;    /* us */
		uint64_t tx_drain;      /* us */
	} dataplane;

	struct {
		uint64_t arp_reachable, reasm_timeout; /* us */
		uint32_t arp_cache_size, arp_queue_max;
		uint64_t reasm_memory;                 /* bytes */
	} ip;

	struct {
		uint32_t max_connections, syn_backlog, time_wait_max, challenge_ack_limit;
		uint32_t keepalive_probes;
		uint64_t memory, sndbuf, rcvbuf;       /* bytes */
		int congestion_control;                /* enum ns_cc_algo */
		bool timestamps, sack, window_scaling;
		uint64_t delayed_ack, rto_min, rto_max, keepalive_idle, keepalive_interval,
			time_wait; /* us */
	} tcp;

	struct {
		uint32_t tcp_echo, tcp_discard, udp_echo; /* ports, 0 = off */
	} services;

	/* The mail store; path "" = no store (and then no SMTP). */
	struct {
		char path[256];
		uint64_t map_size, map_size_max, body_max, argon2_memory; /* bytes */
		uint32_t map_grow_pct, max_readers, batch_max, lane_inflight;
		uint32_t argon2_iterations, argon2_parallelism;
		uint32_t vanished_max; /* expunges kept per mailbox (QRESYNC) */
		bool special_mailboxes;
	} store;

	/* SMTP; a listener with port 0 is off. */
	struct {
		char hostname[256];          /* "" = the top-level hostname */
		uint64_t max_message_size, staging_memory;      /* bytes */
		uint64_t greeting_delay, timeout_command, timeout_data; /* us */
		uint64_t auth_lockout_time;  /* us */
		uint32_t auth_lockout_failures;
		uint32_t max_recipients, max_errors, max_auth_failures;
		uint32_t max_connections, max_connections_per_ip, auth_threads;
		int bare_eol;                /* enum smtp_eol_mode */
		bool vrfy, expn;
		struct sd_smtp_listener {
			uint32_t port;
			bool allow_plaintext_auth;
			bool require_tls;
		} mx, submission, submissions; /* 25, 587, 465 (implicit TLS) */
	} smtp;

	/* POP3 and IMAP (sd_config_access.c); a listener with port 0 is off.
	 * plain: 110/143, STLS/STARTTLS offered; tls: 995/993, implicit TLS. */
	struct sd_access {
		uint32_t max_connections, max_connections_per_ip;
		uint32_t max_errors, max_auth_failures, auth_lockout_failures;
		uint64_t timeout_auth, timeout, auth_lockout_time; /* us */
		uint64_t appendlimit;        /* bytes; IMAP only */
		struct sd_access_listener {
			uint32_t port;
			bool allow_plaintext_auth;
		} plain, tls;
	} pop3, imap;

	/* The content filter behind SMTP (sd_config_filter.c, docs/filter.md). */
	struct {
		bool enabled, bayes;
		sl_conf_strlist_t rules, signatures;
		double spam_score, quarantine_score, reject_score;
		bayes_autolearn_t autolearn; /* Bayes learns what the rules are sure of */
		int virus_action, policy_action; /* enum flt_action */
		uint64_t max_scan_size;          /* bytes */
	} filter;

	/* TLS for the listeners (docs/tls.md). cert/key are parallel lists, the
	 * first pair the default; none: a self-signed certificate. */
	struct {
		bool enabled;
		sl_conf_strlist_t cert, key;
		char ca_file[256];        /* "" = the system store */
		char selfsigned_dir[256]; /* "" = store.path, else /var/lib/sluice */
		int min_version;          /* 0: 1.2, 1: 1.3 */
		char ciphers[512];        /* "" = the default AEAD list */
		uint64_t handshake_timeout, ticket_rotation, session_lifetime; /* us */
		uint32_t handshakes_max, handshakes_per_ip;
		bool tickets;
	} tls;

	struct {
		bool enabled;
		int direction; /* 0 rx, 1 tx, 2 both */
		uint32_t seed, drop_ppm, duplicate_ppm, reorder_ppm, corrupt_ppm, reorder_depth;
	} fault_injection;
} sd_config_t;

void sd_config_default(sd_config_t *c);
/* sd_config_load - defaults, then PATH on top, then cross-field checks.
 * 0 or SL_ECONFIG/SL_EIO with *error_r naming file, line and key. */
int sd_config_load(const char *path, sd_config_t *c, const char **error_r);

void sd_config_eal(const sd_config_t *c, sl_eal_conf_t *r);
void sd_config_port(const sd_config_t *c, sl_port_conf_t *r);
/* sd_config_stack - stack params except mac/pool/tx/now, which the caller
 * sets once the port is open. */
void sd_config_stack(const sd_config_t *c, ns_stack_params_t *r);
void sd_config_services(const sd_config_t *c, ns_diag_conf_t *r);
/* sd_config_fault - fault params for one direction (SALT decorrelates the
 * RX and TX streams); false when that direction is off. */
bool sd_config_fault(const sd_config_t *c, bool tx, sl_fault_params_t *r);
/* sd_config_store - store options; false when no store is configured.
 * R->path points into C. */
bool sd_config_store(const sd_config_t *c, st_store_opts_t *r);
/* sd_config_smtp_enabled - at least one SMTP listener is configured. */
bool sd_config_smtp_enabled(const sd_config_t *c);
/* sd_config_smtp - the engine config shared by the listeners (role,
 * allow_plaintext_auth and stats are set per listener). R->hostname
 * points into C. */
void sd_config_smtp(const sd_config_t *c, struct smtp_config *r);
/* The pop3 and imap sections (sd_config_access.c). */
extern const sl_conf_section_t sd_pop3_section, sd_imap_section;
void sd_config_access_defaults(sd_config_t *c);
/* sd_config_access_check - cross-field checks; 0, or SL_ECONFIG with the
 * reason in ERRBUF. */
int sd_config_access_check(const sd_config_t *c, const char *path, char *errbuf, size_t size);
bool sd_config_pop3_enabled(const sd_config_t *c);
bool sd_config_imap_enabled(const sd_config_t *c);
/* sd_config_pop3 / sd_config_imap - the engine config shared by the
 * listeners (stls/starttls_available, allow_plaintext_auth and stats are
 * set per listener). R->hostname points into C. */
void sd_config_pop3(const sd_config_t *c, struct pop3_config *r);
void sd_config_imap(const sd_config_t *c, struct imap_config *r);
/* The filter section (sd_config_filter.c). */
extern const sl_conf_section_t sd_filter_section;
void sd_config_filter_defaults(sd_config_t *c);
int sd_config_filter_check(const sd_config_t *c, const char *path, char *errbuf, size_t size);
/* sd_config_filter - the filter's config (the rule and signature paths
 * are read from C by the caller). */
void sd_config_filter(const sd_config_t *c, flt_config_t *r);
/* sd_config_filter_autolearn - what the lanes auto-learn (R->enabled false
 * when Bayes or the filter is off). */
void sd_config_filter_autolearn(const sd_config_t *c, bayes_autolearn_t *r);
/* sd_config_mail_enabled - any of SMTP, POP3, IMAP has a listener. */
bool sd_config_mail_enabled(const sd_config_t *c);
/* sd_config_tls_enabled - TLS contexts are wanted (tls.enabled and a mail
 * listener). */
bool sd_config_tls_enabled(const sd_config_t *c);
/* sd_config_tls - TLS params from C; SRCS (NS_TLS_CERTS_MAX entries) gets
 * the configured certificates, R->certs points at it (n_certs 0: none
 * configured, use a self-signed one). Strings point into C. */
void sd_config_tls(const sd_config_t *c, ns_tls_config_params_t *r, ns_tls_cert_src_t *srcs);
/* sd_config_tls_selfsigned - where the first-start certificate lives:
 * "<dir>/selfsigned-cert.pem" and "-key.pem". */
void sd_config_tls_selfsigned(const sd_config_t *c, char *cert_r, char *key_r, size_t size);

#endif
