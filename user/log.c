/* log.c - event lines in logfmt or JSON; libbpf's messages are routed here too. */
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static enum log_format g_fmt = LOG_LOGFMT;
static enum log_level g_level = LOG_INFO;

struct out {
	char *buf;
	size_t len;
	size_t pos; /* bytes the full line needs so far */
};

static void put_c(struct out *o, char c)
{
	if (o->pos + 1 < o->len)
		o->buf[o->pos] = c;
	o->pos++;
}

static void put_s(struct out *o, const char *s)
{
	while (*s)
		put_c(o, *s++);
}

static void put_hex(struct out *o, const char *prefix, unsigned char c)
{
	static const char hex[] = "0123456789abcdef";

	put_s(o, prefix);
	put_c(o, hex[c >> 4]);
	put_c(o, hex[c & 15]);
}

static bool logfmt_needs_quotes(const char *v)
{
	if (!*v)
		return true;
	for (const unsigned char *p = (const unsigned char *)v; *p; p++)
		if (*p <= ' ' || *p == '"' || *p == '=' || *p == '\\' || *p >= 0x7f)
			return true;
	return false;
}

/* Quoted string body: \" \\ \n \t, other control bytes and non-ASCII as \xNN
 * (logfmt) or \u00NN (JSON), so a line is always one line of ASCII. */
static void put_escaped(struct out *o, const char *v, bool json)
{
	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		switch (*p) {
		case '"': put_s(o, "\\\""); break;
		case '\\': put_s(o, "\\\\"); break;
		case '\n': put_s(o, "\\n"); break;
		case '\t': put_s(o, "\\t"); break;
		case '\r': put_s(o, "\\r"); break;
		default:
			if (*p < ' ' || *p >= 0x7f)
				put_hex(o, json ? "\\u00" : "\\x", *p);
			else
				put_c(o, (char)*p);
		}
	}
}

size_t log_format_line(char *buf, size_t len, enum log_format fmt,
		       const struct log_kv *kvs, size_t n)
{
	struct out o = { buf, len, 0 };
	bool json = fmt == LOG_JSON;

	if (json)
		put_c(&o, '{');
	for (size_t i = 0; i < n; i++) {
		const char *v = kvs[i].val ? kvs[i].val : "";

		if (i)
			put_c(&o, json ? ',' : ' ');
		if (json) {
			put_c(&o, '"');
			put_escaped(&o, kvs[i].key, true);
			put_s(&o, "\":");
		} else {
			put_s(&o, kvs[i].key);
			put_c(&o, '=');
		}
		if (kvs[i].num && *v) {
			put_s(&o, v);
		} else if (json || logfmt_needs_quotes(v)) {
			put_c(&o, '"');
			put_escaped(&o, v, json);
			put_c(&o, '"');
		} else {
			put_s(&o, v);
		}
	}
	if (json)
		put_c(&o, '}');
	put_c(&o, '\n');
	if (len)
		buf[o.pos < len ? o.pos : len - 1] = '\0';
	return o.pos;
}

void log_fput_json_string(FILE *f, const char *s)
{
	size_t n = strlen(s), len = 6 * n + 3;
	char small[256], *buf = len <= sizeof(small) ? small : malloc(len);
	struct out o = { buf, len, 0 };

	if (!buf)
		return;
	put_c(&o, '"');
	put_escaped(&o, s, true);
	put_c(&o, '"');
	fwrite(buf, 1, o.pos, f);
	if (buf != small)
		free(buf);
}

void log_setup(enum log_format fmt, enum log_level max_level)
{
	g_fmt = fmt;
	g_level = max_level;
}

static void emit(const struct log_kv *kvs, size_t n)
{
	char small[4096], *line = small;
	size_t need = log_format_line(small, sizeof(small), g_fmt, kvs, n);

	/* Never cut an event: a long one gets a buffer of its own. */
	if (need >= sizeof(small)) {
		line = malloc(need + 1);
		if (!line)
			return;
		need = log_format_line(line, need + 1, g_fmt, kvs, n);
	}
	/* One write per line, so lines from several threads never interleave. */
	if (write(STDERR_FILENO, line, need) < 0)
		need = 0;
	if (line != small)
		free(line);
}

static void time_iso(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 ts.tv_nsec / 1000000);
}

#define LOG_MAX_KVS 40

void log_event(const char *event, const struct log_kv *kvs, size_t n)
{
	struct log_kv all[LOG_MAX_KVS];
	char ts[80];
	size_t k = 0;

	time_iso(ts, sizeof(ts));
	all[k++] = (struct log_kv){ "ts", ts, false };
	all[k++] = (struct log_kv){ "event", event, false };
	for (size_t i = 0; i < n && k < LOG_MAX_KVS; i++)
		all[k++] = kvs[i];
	emit(all, k);
}

static const char *level_name[] = { "error", "warn", "info", "debug" };

/* One log event per line of msg, none cut (a verifier log is many lines). */
void log_lines(enum log_level level, char *msg)
{
	char *line = msg, *nl;

	if (level > g_level)
		return;
	do {
		size_t l;

		nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		l = strlen(line);
		while (l && line[l - 1] == ' ')
			line[--l] = '\0';
		if (l)
			log_event("log", (struct log_kv[]){ { "level", level_name[level], false },
							    { "msg", line, false } }, 2);
		line = nl ? nl + 1 : NULL;
	} while (line && *line);
}

void log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	char *msg = NULL;

	if (level > g_level)
		return;
	if (vasprintf(&msg, fmt, ap) < 0)
		return;
	log_lines(level, msg);
	free(msg);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}
