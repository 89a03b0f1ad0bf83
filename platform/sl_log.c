/* sl_log - leveled logging. */
#include "sl_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static enum sl_log_level sl_log_level = SL_LOG_INFO;

static const char *const sl_log_names[] = {"error", "warn", "info", "debug"};

void sl_log_set_level(enum sl_log_level level) { sl_log_level = level; }
enum sl_log_level sl_log_get_level(void) { return sl_log_level; }

int sl_log_level_parse(const char *name)
{
	for (unsigned i = 0; i < sizeof(sl_log_names) / sizeof(sl_log_names[0]); i++)
		if (strcmp(name, sl_log_names[i]) == 0)
			return (int)i;
	return -1;
}

void sl_logv(enum sl_log_level level, const char *component, const char *fmt, va_list ap)
{
	char line[1024];
	struct timespec ts;
	struct tm tm;
	int n;

	if (level > sl_log_level)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s [%s] ",
		     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
		     tm.tm_sec, ts.tv_nsec / 1000000, sl_log_names[level], component);
	if (n < 0 || (size_t)n >= sizeof(line))
		n = 0;
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	/* one fputs per line so concurrent threads do not interleave mid-line */
	fprintf(stderr, "%s\n", line);
}

void sl_log(enum sl_log_level level, const char *component, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sl_logv(level, component, fmt, ap);
	va_end(ap);
}

void sl_fatal(const char *component, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sl_logv(SL_LOG_ERR, component, fmt, ap);
	va_end(ap);
	exit(1);
}

void sl_panic(const char *component, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sl_logv(SL_LOG_ERR, component, fmt, ap);
	va_end(ap);
	abort();
}
