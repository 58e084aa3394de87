/* bpf_log.c - libbpf's messages into the daemon's log, verifier logs cut to
 * their tail unless verbose (which program was refused, and why, the tracker
 * learns from libbpf's per-program log buffers, not from this text). */
#include "bpf_log.h"

#include <bpf/libbpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define VERIFIER_TAIL_LINES 30

static bool g_verbose;
static bool g_quiet; /* a load whose refusal is an answer, not an error */

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
	char *msg = NULL;

	if ((lvl == LOG_DEBUG || g_quiet) && !g_verbose)
		return 0;
	if (vasprintf(&msg, fmt, ap) < 0)
		return 0;
	if (verifier_tail(msg) != msg)
		pr_warn("verifier log (its last %d lines; --verbose shows it whole):",
			VERIFIER_TAIL_LINES);
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
