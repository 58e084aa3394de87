/* bpf_log.c - libbpf's messages into the daemon's log; what the verifier refused. */
#include "bpf_log.h"

#include <bpf/libbpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define VERIFIER_TAIL_LINES 30

static bool g_verbose;
static bool g_quiet; /* a load whose refusal is an answer, not an error */
/* What the kernel said about the last program it refused (for the one-line error). */
static char g_refused_prog[64], g_refused_why[256];

/* Keep the last non-empty line of a verifier log before its END marker. */
static void note_verifier_reason(const char *log)
{
	const char *end = strstr(log, "-- END PROG LOAD LOG --"), *p, *start;

	if (!end)
		end = log + strlen(log);
	for (p = end; p > log && (p[-1] == '\n' || p[-1] == ' '); p--)
		;
	for (start = p; start > log && start[-1] != '\n'; start--)
		;
	snprintf(g_refused_why, sizeof(g_refused_why), "%.*s", (int)(p - start), start);
}

/* The verifier log's last lines only, unless verbose: its reason is at the end. */
static char *verifier_tail(char *msg)
{
	char *begin = strstr(msg, "-- BEGIN PROG LOAD LOG --"), *p;
	int lines = 0;

	if (g_verbose || !begin)
		return msg;
	for (p = msg + strlen(msg); p > begin; p--)
		if (p[-1] == '\n' && ++lines > VERIFIER_TAIL_LINES)
			return p;
	return msg;
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	enum log_level lvl = level == LIBBPF_WARN ? LOG_WARN : LOG_DEBUG;
	char *msg = NULL, *q;

	if ((lvl == LOG_DEBUG || g_quiet) && !g_verbose)
		return 0;
	if (vasprintf(&msg, fmt, ap) < 0)
		return 0;
	if (strstr(msg, "-- BEGIN PROG LOAD LOG --")) {
		note_verifier_reason(msg);
		if (verifier_tail(msg) != msg)
			pr_warn("verifier log (its last %d lines; --verbose shows it whole):",
				VERIFIER_TAIL_LINES);
	}
	/* libbpf: prog 'NAME': BPF program load failed: ... */
	if ((q = strstr(msg, "prog '")) && (strstr(msg, "load failed") || strstr(msg, "failed to load")))
		sscanf(q, "prog '%63[^']'", g_refused_prog);
	log_lines(lvl, verifier_tail(msg));
	free(msg);
	return 0;
}

void bpf_log_setup(bool verbose)
{
	g_verbose = verbose;
	libbpf_set_print(libbpf_print);
}

void bpf_log_quiet(bool quiet)
{
	g_quiet = quiet;
}

void bpf_log_forget_refusal(void)
{
	g_refused_prog[0] = g_refused_why[0] = '\0';
}

const char *bpf_log_refused_prog(void)
{
	return g_refused_prog;
}

const char *bpf_log_refused_why(void)
{
	return g_refused_why;
}
