/* sd_config_filter - the filter section of the sluiced config: the content
 * filter behind SMTP (docs/filter.md). Every key is in docs/config.md. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sd_config.h"
#include "sl_err.h"

#define OFF(f) offsetof(sd_config_t, f)
#define SZ(f) sizeof(((sd_config_t *)0)->f)
#define MB (1024ULL * 1024ULL)
#define GB (1024ULL * MB)

static const char *const sd_filter_actions[] = {"accept", "tag", "quarantine", "reject", NULL};

/* A score: a decimal number such as 5 or 6.5, from -1000 to 1000. */
static int parse_score(const sl_conf_node_t *node, void *field_ptr, const char **error_r)
{
	const char *s = sl_conf_node_str(node);
	char *end;
	double v;

	if (s == NULL || *s == '\0') {
		*error_r = "expected a score such as 5 or 6.5";
		return SL_ECONFIG;
	}
	v = strtod(s, &end);
	if (*end != '\0' || !isfinite(v) || v < -1000.0 || v > 1000.0) {
		*error_r = "expected a score such as 5 or 6.5 (-1000 to 1000)";
		return SL_ECONFIG;
	}
	*(double *)field_ptr = v;
	return 0;
}

static const sl_conf_field_t sd_filter_fields[] = {
	{"enabled", SL_CONF_BOOL, OFF(filter.enabled), .help = "scan every SMTP message"},
	{"rules", SL_CONF_STRLIST, OFF(filter.rules),
	 .help = "rule files or directories of *.cf (GTUBE is built in)"},
	{"signatures", SL_CONF_STRLIST, OFF(filter.signatures),
	 .help = "ClamAV-format signature files or directories (EICAR is built in)"},
	{"spam_score", SL_CONF_CUSTOM, OFF(filter.spam_score), .parse = parse_score,
	 .help = "at or above: spam (tagged)"},
	{"quarantine_score", SL_CONF_CUSTOM, OFF(filter.quarantine_score), .parse = parse_score,
	 .help = "at or above: quarantined"},
	{"reject_score", SL_CONF_CUSTOM, OFF(filter.reject_score), .parse = parse_score,
	 .help = "at or above: rejected with 550 5.7.1"},
	{"virus_action", SL_CONF_ENUM, OFF(filter.virus_action), .choices = sd_filter_actions},
	{"policy_action", SL_CONF_ENUM, OFF(filter.policy_action), .choices = sd_filter_actions},
	{"bayes", SL_CONF_BOOL, OFF(filter.bayes),
	 .help = "Bayes on the store's token counts (learned by autolearn or sluice-scan)"},
	{"autolearn", SL_CONF_BOOL, OFF(filter.autolearn.enabled),
	 .help = "Bayes learns the messages the rules alone are sure of"},
	{"autolearn_spam", SL_CONF_CUSTOM, OFF(filter.autolearn.spam_min), .parse = parse_score,
	 .help = "rules' score at or above: learned as spam"},
	{"autolearn_ham", SL_CONF_CUSTOM, OFF(filter.autolearn.ham_max), .parse = parse_score,
	 .help = "rules' score at or below: learned as ham"},
	{"max_scan_size", SL_CONF_SIZE, OFF(filter.max_scan_size), 0, 1 * MB, 1 * GB,
	 .help = "bytes of a message scanned; the rest passes unscanned"},
	{NULL}};

const sl_conf_section_t sd_filter_section = {"filter", sd_filter_fields};

void sd_config_filter_defaults(sd_config_t *c)
{
	flt_config_t fc;

	flt_config_default(&fc);
	c->filter.enabled = false;
	c->filter.spam_score = fc.spam_score;
	c->filter.quarantine_score = fc.quarantine_score;
	c->filter.reject_score = fc.reject_score;
	c->filter.virus_action = (int)fc.virus_action;
	c->filter.policy_action = (int)fc.policy_action;
	c->filter.bayes = fc.bayes;
	c->filter.max_scan_size = fc.max_message;
	bayes_autolearn_default(&c->filter.autolearn);
}

int sd_config_filter_check(const sd_config_t *c, const char *path, char *errbuf, size_t size)
{
	if (!c->filter.enabled)
		return 0;
	if (!(c->filter.spam_score <= c->filter.quarantine_score &&
	      c->filter.quarantine_score <= c->filter.reject_score)) {
		snprintf(errbuf, size,
			 "%s: filter: spam_score <= quarantine_score <= reject_score must hold", path);
		return SL_ECONFIG;
	}
	if (c->filter.autolearn.ham_max >= c->filter.autolearn.spam_min) {
		snprintf(errbuf, size, "%s: filter: autolearn_ham < autolearn_spam must hold", path);
		return SL_ECONFIG;
	}
	if (!sd_config_smtp_enabled(c)) {
		snprintf(errbuf, size, "%s: filter.enabled needs an SMTP listener", path);
		return SL_ECONFIG;
	}
	return 0;
}

void sd_config_filter(const sd_config_t *c, flt_config_t *r)
{
	flt_config_default(r);
	r->spam_score = c->filter.spam_score;
	r->quarantine_score = c->filter.quarantine_score;
	r->reject_score = c->filter.reject_score;
	r->virus_action = (enum flt_action)c->filter.virus_action;
	r->policy_action = (enum flt_action)c->filter.policy_action;
	r->bayes = c->filter.bayes;
	r->max_message = c->filter.max_scan_size;
}

void sd_config_filter_autolearn(const sd_config_t *c, bayes_autolearn_t *r)
{
	*r = c->filter.autolearn;
	r->enabled = r->enabled && c->filter.enabled && c->filter.bayes;
}
