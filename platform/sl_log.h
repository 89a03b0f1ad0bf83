/* sl_log - leveled logging to stderr (or a sink set by the daemon).
 *
 * Use sl_fatal only for an unusable environment at start-up, and sl_panic
 * only for our own broken invariants; peer input never ends the process
 * (STYLE.md #6). */
#ifndef SL_LOG_H
#define SL_LOG_H

#include <stdarg.h>

enum sl_log_level {
	SL_LOG_ERR = 0,
	SL_LOG_WARN = 1,
	SL_LOG_INFO = 2,
	SL_LOG_DEBUG = 3,
};

/* sl_log_set_level - messages above LEVEL are dropped. Default: INFO. */
void sl_log_set_level(enum sl_log_level level);
enum sl_log_level sl_log_get_level(void);
/* sl_log_level_parse - "error"|"warn"|"info"|"debug" -> level; -1 if unknown. */
int sl_log_level_parse(const char *name);

/* sl_log - write one line "LEVEL [component] message" to stderr. */
void sl_log(enum sl_log_level level, const char *component, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void sl_logv(enum sl_log_level level, const char *component, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

/* sl_fatal - log and exit(1). Start-up environment errors only. */
void sl_fatal(const char *component, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));
/* sl_panic - log and abort(). Broken internal invariants only. */
void sl_panic(const char *component, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));

#define SL_LOG_ENABLED(level) ((level) <= sl_log_get_level())

#endif
