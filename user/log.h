/* log.h - one line per event on stderr, logfmt or JSON, same keys in both. */
#ifndef SR_LOG_H
#define SR_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum log_format {
	LOG_LOGFMT = 0,
	LOG_JSON,
};

enum log_level {
	LOG_ERROR = 0,
	LOG_WARN,
	LOG_INFO,
	LOG_DEBUG,
};

/* One key=value pair. num: the value is a number and stays unquoted in JSON. */
struct log_kv {
	const char *key;
	const char *val;
	bool num;
};

/*
 * Format kvs as one line (with '\n') into buf, escaping values so that spaces,
 * quotes, control bytes and '=' cannot break the line. Returns the length the
 * full line needs, like snprintf; buf holds a truncated line if that is >= len.
 */
size_t log_format_line(char *buf, size_t len, enum log_format fmt,
		       const struct log_kv *kvs, size_t n);

/* Write s to f as a JSON string literal, quotes included, escaped as in log lines. */
void log_fput_json_string(FILE *f, const char *s);

void log_setup(enum log_format fmt, enum log_level max_level);
/* Write one event line; kvs are appended after event=NAME. */
void log_event(const char *event, const struct log_kv *kvs, size_t n);

__attribute__((format(printf, 2, 3))) void log_msg(enum log_level level, const char *fmt, ...);
void log_vmsg(enum log_level level, const char *fmt, va_list ap);
/* Log each line of msg (modified in place) as its own event; nothing is cut. */
void log_lines(enum log_level level, char *msg);

#define pr_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define pr_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define pr_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
