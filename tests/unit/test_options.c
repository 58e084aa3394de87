/* test_options.c - the command-line and SOCKREAP_* contract of user/options.c:
 * most cases are rows (arguments and environment in, fields or an error out). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "options.h"

#define MAX_ARGS 160
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* struct sr_config holds 64 cgroup paths: keep it off the stack. */
static struct sr_config cfg;
/* The target options_parse_target() fills, at an address the tables can name. */
static struct sr_target tgt;
static char err[1024];

/* Parse a NULL-terminated argument list (without argv[0]) and environment. */
static int parse_env(const char *const *args, const char *const *env)
{
	char *argv[MAX_ARGS];
	int argc = 0;

	argv[argc++] = (char *)"sockreap";
	for (; args && *args; args++)
		argv[argc++] = (char *)*args;
	argv[argc] = NULL;
	memset(err, 'X', sizeof(err) - 1); /* the parser must clear or overwrite it */
	err[sizeof(err) - 1] = '\0';
	return options_parse(&cfg, argc, argv, (char *const *)env, err, sizeof(err));
}

#define ARGS(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define PARSE(...) parse_env(ARGS(__VA_ARGS__), NULL)
#define PARSE_ENV(env, ...) parse_env(ARGS(__VA_ARGS__), env)

/* A failed parse: -EINVAL, one line, starting "sockreap:", naming names. */
static void assert_bad_as(const char *what, int rc, const char *names)
{
	if (rc != -EINVAL || strncmp(err, "sockreap:", 9) || !strstr(err, names) || strchr(err, '\n'))
		fail_msg("%s: rc=%d err='%s', wanted -EINVAL and a line naming '%s'", what, rc, err,
			 names);
}

static void assert_ok_as(const char *what, int rc)
{
	if (rc != 0)
		fail_msg("%s: rc=%d err='%s'", what, rc, err);
	if (strcmp(err, ""))
		print_error("%s: succeeded with a message\n", what);
	assert_string_equal(err, "");
}

/* Outside the tables, a call names itself. */
#define assert_bad(rc, names) assert_bad_as(#rc, rc, names)
#define assert_ok(rc) assert_ok_as(#rc, rc)

/*
 * What a row expects of one field after the parse: the field (by address,
 * so that a row can name any field of cfg or tgt), its name and its value.
 * NUM is for integers and enums of any width, FLAG for bools, SECS for
 * seconds (compared exactly: the parser must keep the value as written),
 * TEXT for strings; the _Generic refuses a field of the wrong kind.
 */
struct want {
	const char *field; /* NULL ends the list */
	const void *at;
	enum { W_NUM, W_FLAG, W_SECS, W_TEXT } kind;
	size_t size;
	long long num;
	double secs;
	const char *text;
};

#define NUM(f, v) { #f, &(f), W_NUM, sizeof(f), .num = (v) }
#define FLAG(f, v) { #f, _Generic((f), bool: &(f)), W_FLAG, .num = (v) }
#define SECS(f, v) { #f, _Generic((f), double: &(f)), W_SECS, .secs = (v) }
#define TEXT(f, v) { #f, _Generic((f), char *: (f)), W_TEXT, .text = (v) }
#define WANT(...) ((const struct want[]){ __VA_ARGS__, { NULL } })

/* An integer or enum field of any width, as NUM names them all alike. */
static long long num_at(const void *at, size_t size)
{
	switch (size) {
	case sizeof(uint8_t):
		return *(const uint8_t *)at;
	case sizeof(uint16_t):
		return *(const uint16_t *)at;
	case sizeof(uint32_t):
		return *(const uint32_t *)at;
	default:
		return (long long)*(const uint64_t *)at;
	}
}

/* The field's value, or the one wanted, as text for the message of a failing row. */
static const char *show(const struct want *w, bool wanted, char *buf, size_t len)
{
	switch (w->kind) {
	case W_NUM:
		snprintf(buf, len, "%lld", wanted ? w->num : num_at(w->at, w->size));
		break;
	case W_FLAG:
		snprintf(buf, len, "%s", (wanted ? w->num : *(const bool *)w->at) ? "true" : "false");
		break;
	case W_SECS:
		snprintf(buf, len, "%.17g", wanted ? w->secs : *(const double *)w->at);
		break;
	case W_TEXT:
		snprintf(buf, len, "'%s'", wanted ? w->text : (const char *)w->at);
		break;
	}
	return buf;
}

static void check_wants(const char *row, const struct want *w)
{
	for (; w && w->field; w++) {
		char got[160], want[160];
		bool holds;

		switch (w->kind) {
		case W_NUM:
			holds = num_at(w->at, w->size) == w->num;
			break;
		case W_FLAG:
			holds = *(const bool *)w->at == w->num;
			break;
		case W_SECS:
			holds = *(const double *)w->at == w->secs;
			break;
		default:
			holds = !strcmp(w->at, w->text);
			break;
		}
		/* cmocka 1.1 cannot put a message on an assert: name the row first. */
		if (!holds)
			print_error("%s: %s is %s, want %s\n", row, w->field,
				    show(w, false, got, sizeof(got)), show(w, true, want, sizeof(want)));
		if (w->kind == W_NUM)
			assert_int_equal(num_at(w->at, w->size), w->num);
		else if (w->kind == W_TEXT)
			assert_string_equal(w->at, w->text);
		else
			assert_true(holds);
	}
}

/*
 * One options_parse() of args and env (NULL-terminated; either may be
 * NULL): it succeeds with every field of want as given or, with bad set,
 * fails naming bad (and saying says, if set). Rows give the environment
 * as .env, after what they want.
 */
struct parse_case {
	const char *what;
	const char *const *args;
	const struct want *want;
	const char *const *env;
	const char *bad, *says;
};

static void check_parses(const struct parse_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct parse_case *c = &cases[i];
		int rc = parse_env(c->args, c->env);

		if (!c->bad) {
			assert_ok_as(c->what, rc);
			check_wants(c->what, c->want);
			continue;
		}
		assert_bad_as(c->what, rc, c->bad);
		if (!c->says)
			continue;
		if (!strstr(err, c->says))
			print_error("%s: err='%s' does not say '%s'\n", c->what, err, c->says);
		assert_non_null(strstr(err, c->says));
	}
}

static void assert_defaults(const struct sr_config *c)
{
	assert_int_equal(c->mode, MODE_RUN);
	assert_true(c->stall_grace_s == 30.0);
	assert_true(c->idle_timeout_s == 0.0);
	assert_true(c->interval_s == 1.0);
	assert_false(c->all_netns);
	assert_false(c->dry_run);
	assert_false(c->verbose);
	assert_false(c->list_json);
	assert_int_equal(c->log_format, LOG_LOGFMT);
	assert_int_equal(c->send_path, TRACKER_SEND_AUTO);
	assert_int_equal(c->map_capacity, 65536);
	assert_string_equal(c->metrics_addr, "127.0.0.1:9750");
	assert_string_equal(c->metrics_file, "");
	assert_int_equal(c->n_ports, 0);
	assert_int_equal(c->n_exclude_ports, 0);
	assert_int_equal(c->n_cgroups, 0);
}

static void test_defaults(void **state)
{
	char *argv[] = { (char *)"sockreap", NULL };

	(void)state;
	memset(&cfg, 0xa5, sizeof(cfg));
	options_defaults(&cfg);
	assert_defaults(&cfg);

	memset(&cfg, 0xa5, sizeof(cfg));
	assert_int_equal(options_parse(&cfg, 1, argv, NULL, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_defaults(&cfg);

	/* Unrelated and near-miss variables change nothing. */
	assert_ok(parse_env(NULL, ARGS("PATH=/bin", "SOCKREAP_PORTX=1", "SOCKREAP_PORTS=1",
				       "XSOCKREAP_PORT=1", "SOCKREAP_PORT")));
	assert_defaults(&cfg);
}

static void test_seconds_flags(void **state)
{
	const struct parse_case cases[] = {
		{ "grace, a fraction", ARGS("--stall-grace", "2.5"), WANT(SECS(cfg.stall_grace_s, 2.5)) },
		{ "grace, a millisecond", ARGS("--stall-grace", "0.001"),
		  WANT(SECS(cfg.stall_grace_s, 0.001)) },
		{ "grace, whole", ARGS("--stall-grace", "45"), WANT(SECS(cfg.stall_grace_s, 45.0)) },
		{ "idle timeout", ARGS("--idle-timeout", "90"), WANT(SECS(cfg.idle_timeout_s, 90.0)) },
		{ "idle timeout off", ARGS("--idle-timeout", "0"), WANT(SECS(cfg.idle_timeout_s, 0.0)) },
		{ "idle timeout, a fraction", ARGS("--idle-timeout", "0.5"),
		  WANT(SECS(cfg.idle_timeout_s, 0.5)) },
		{ "close-wait timeout", ARGS("--close-wait-timeout", "600"),
		  WANT(SECS(cfg.close_wait_timeout_s, 600.0)) },
		{ "close-wait timeout off", ARGS("--close-wait-timeout", "0"),
		  WANT(SECS(cfg.close_wait_timeout_s, 0.0)) },
		{ "interval, a fraction", ARGS("--interval", "0.25"), WANT(SECS(cfg.interval_s, 0.25)) },
		{ "the shortest interval", ARGS("--interval", "0.01"), WANT(SECS(cfg.interval_s, 0.01)) },
		{ "the longest interval; the rest stays at its default", ARGS("--interval", "3600"),
		  WANT(SECS(cfg.interval_s, 3600.0), SECS(cfg.stall_grace_s, 30.0)) },
	};

	(void)state;
	check_parses(cases, ARRAY_SIZE(cases));
	assert_int_equal(PARSE("--close-wait-timeout", "-1"), -EINVAL);
}

static void test_boolean_flags(void **state)
{
	const struct parse_case cases[] = {
		{ "--all-netns", ARGS("--all-netns"),
		  WANT(FLAG(cfg.all_netns, true), FLAG(cfg.dry_run, false),
		       FLAG(cfg.verbose, false)) },
		{ "--dry-run", ARGS("--dry-run"),
		  WANT(FLAG(cfg.dry_run, true), FLAG(cfg.all_netns, false)) },
		{ "--verbose", ARGS("--verbose"), WANT(FLAG(cfg.verbose, true)) },
		{ "a flag never swallows the next argument as its value",
		  ARGS("--dry-run", "--all-netns", "--verbose"),
		  WANT(FLAG(cfg.dry_run, true), FLAG(cfg.all_netns, true),
		       FLAG(cfg.verbose, true)) },
	};

	(void)state;
	check_parses(cases, ARRAY_SIZE(cases));
}

static void test_cgroup_repeatable(void **state)
{
	const struct parse_case cases[] = {
		{ "two cgroups", ARGS("--cgroup", "/kubepods/pod1", "--cgroup", "system.slice/x.service"),
		  WANT(NUM(cfg.n_cgroups, 2), TEXT(cfg.cgroups[0], "/kubepods/pod1"),
		       TEXT(cfg.cgroups[1], "system.slice/x.service")) },
		{ "an empty cgroup", ARGS("--cgroup", ""), .bad = "--cgroup" },
	};

	(void)state;
	check_parses(cases, ARRAY_SIZE(cases));
}

static void test_ports_repeatable(void **state)
{
	const struct parse_case cases[] = {
		{ "ports and a range", ARGS("--port", "80", "--port", "8000-8080", "--port=443"),
		  WANT(NUM(cfg.n_ports, 3), NUM(cfg.ports[0].lo, 80), NUM(cfg.ports[0].hi, 80),
		       NUM(cfg.ports[1].lo, 8000), NUM(cfg.ports[1].hi, 8080),
		       NUM(cfg.ports[2].lo, 443), NUM(cfg.ports[2].hi, 443),
		       NUM(cfg.n_exclude_ports, 0)) },
		{ "excluded ports beside a port",
		  ARGS("--exclude-port", "22", "--exclude-port", "1-1023", "--port", "65535"),
		  WANT(NUM(cfg.n_exclude_ports, 2), NUM(cfg.exclude_ports[0].lo, 22),
		       NUM(cfg.exclude_ports[0].hi, 22), NUM(cfg.exclude_ports[1].lo, 1),
		       NUM(cfg.exclude_ports[1].hi, 1023), NUM(cfg.n_ports, 1),
		       NUM(cfg.ports[0].lo, 65535), NUM(cfg.ports[0].hi, 65535)) },
	};

	(void)state;
	check_parses(cases, ARRAY_SIZE(cases));
}

static void test_ports_at_most_64(void **state)
{
	const char *args[2 * SR_MAX_PORTS + 3];
	char vals[SR_MAX_PORTS + 1][8];
	int n = 0;

	(void)state;
	for (int i = 0; i < SR_MAX_PORTS; i++) {
		snprintf(vals[i], sizeof(vals[i]), "%d", 1000 + i);
		args[n++] = "--port";
		args[n++] = vals[i];
	}
	args[n] = NULL;
	assert_ok(parse_env(args, NULL));
	assert_int_equal(cfg.n_ports, SR_MAX_PORTS);
	assert_int_equal(cfg.ports[SR_MAX_PORTS - 1].lo, 1000 + SR_MAX_PORTS - 1);

	args[n++] = "--port";
	args[n++] = "2000";
	args[n] = NULL;
	assert_bad(parse_env(args, NULL), "--port");
	assert_int_equal(cfg.n_ports, SR_MAX_PORTS); /* never written past the array */
}

static void test_metrics_addr(void **state)
{
	const struct parse_case cases[] = {
		{ "any IPv4 address", ARGS("--metrics-addr", "0.0.0.0:9100"),
		  WANT(TEXT(cfg.metrics_addr, "0.0.0.0:9100")) },
		{ "IPv6 in brackets", ARGS("--metrics-addr", "[::1]:9750"),
		  WANT(TEXT(cfg.metrics_addr, "[::1]:9750")) },
		{ "a host name", ARGS("--metrics-addr", "localhost:1"),
		  WANT(TEXT(cfg.metrics_addr, "localhost:1")) },
		{ "off", ARGS("--metrics-addr", "off"), WANT(TEXT(cfg.metrics_addr, "")) },
	};

	(void)state;
	check_parses(cases, ARRAY_SIZE(cases));
}

static void test_metrics_file_log_format_capacity(void **state)
{
	const struct parse_case cases[] = {
		{ "a metrics file", ARGS("--metrics-file", "/var/lib/node_exporter/sockreap.prom"),
		  WANT(TEXT(cfg.metrics_file, "/var/lib/node_exporter/sockreap.prom")) },
		{ "an empty metrics file", ARGS("--metrics-file", ""), .bad = "--metrics-file" },
		{ "json logs", ARGS("--log-format", "json"), WANT(NUM(cfg.log_format, LOG_JSON)) },
		{ "the last log format wins", ARGS("--log-format", "json", "--log-format", "logfmt"),
		  WANT(NUM(cfg.log_format, LOG_LOGFMT)) },
		{ "capacity", ARGS("--map-capacity", "1024"), WANT(NUM(cfg.map_capacity, 1024)) },
		{ "the least capacity", ARGS("--map-capacity", "64"), WANT(NUM(cfg.map_capacity, 64)) },
		{ "the most capacity", ARGS("--map-capacity", "16777216"),
		  WANT(NUM(cfg.map_capacity, 16777216)) },
		{ "capacity below the least", ARGS("--map-capacity", "63"), .bad = "--map-capacity" },
		{ "capacity above the most", ARGS("--map-capacity", "16777217"), .bad = "--map-capacity" },
		{ "negative capacity", ARGS("--map-capacity", "-1"), .bad = "--map-capacity" },
		{ "fractional capacity", ARGS("--map-capacity", "1.5"), .bad = "--map-capacity" },
		{ "capacity that wraps in 32 bits", ARGS("--map-capacity", "4294967360"),
		  .bad = "--map-capacity" },
	};

	(void)state;
	check_parses(cases, ARRAY_SIZE(cases));
}

static void test_send_path(void **state)
{
	const struct parse_case cases[] = {
		{ "auto by default", ARGS("--dry-run"), WANT(NUM(cfg.send_path, TRACKER_SEND_AUTO)) },
		{ "tracepoint", ARGS("--send-path", "tracepoint"),
		  WANT(NUM(cfg.send_path, TRACKER_SEND_TRACEPOINT)) },
		{ "sweep, with '='", ARGS("--send-path=sweep"),
		  WANT(NUM(cfg.send_path, TRACKER_SEND_SWEEP)) },
		{ "fentry", ARGS("--send-path", "fentry"), WANT(NUM(cfg.send_path, TRACKER_SEND_FENTRY)) },
		{ "the flag over the variable", ARGS("--send-path", "auto"),
		  WANT(NUM(cfg.send_path, TRACKER_SEND_AUTO)), .env = ARGS("SOCKREAP_SEND_PATH=sweep") },
		{ "the variable", .env = ARGS("SOCKREAP_SEND_PATH=tracepoint"),
		  .want = WANT(NUM(cfg.send_path, TRACKER_SEND_TRACEPOINT)) },
		{ "an unknown path", ARGS("--send-path", "kprobe"), .bad = "--send-path" },
		{ "no value", ARGS("--send-path"), .bad = "--send-path" },
		{ "an unknown path in the variable", .env = ARGS("SOCKREAP_SEND_PATH=x"),
		  .bad = "SOCKREAP_SEND_PATH" },
	};

	(void)state;
	check_parses(cases, ARRAY_SIZE(cases));
}

static void test_flag_equals_value(void **state)
{
	const struct parse_case cases[] = {
		{ "every option as --flag=value",
		  ARGS("--stall-grace=7.5", "--idle-timeout=60", "--interval=2", "--cgroup=/a",
		       "--port=1-2", "--exclude-port=3", "--metrics-addr=[::]:9750",
		       "--metrics-file=/tmp/m.prom", "--log-format=json", "--map-capacity=128",
		       "--dry-run=true", "--all-netns=yes", "--verbose=on"),
		  WANT(SECS(cfg.stall_grace_s, 7.5), SECS(cfg.idle_timeout_s, 60.0),
		       SECS(cfg.interval_s, 2.0), NUM(cfg.n_cgroups, 1),
		       TEXT(cfg.cgroups[0], "/a"), NUM(cfg.n_ports, 1), NUM(cfg.ports[0].lo, 1),
		       NUM(cfg.ports[0].hi, 2), NUM(cfg.n_exclude_ports, 1),
		       NUM(cfg.exclude_ports[0].lo, 3), TEXT(cfg.metrics_addr, "[::]:9750"),
		       TEXT(cfg.metrics_file, "/tmp/m.prom"), NUM(cfg.log_format, LOG_JSON),
		       NUM(cfg.map_capacity, 128), FLAG(cfg.dry_run, true),
		       FLAG(cfg.all_netns, true), FLAG(cfg.verbose, true)) },
		{ "false-ish booleans", ARGS("--dry-run=0", "--all-netns=false", "--verbose=no"),
		  WANT(FLAG(cfg.dry_run, false), FLAG(cfg.all_netns, false),
		       FLAG(cfg.verbose, false)) },
		{ "a value may itself contain '='", ARGS("--cgroup=/a=b"),
		  WANT(TEXT(cfg.cgroups[0], "/a=b")) },
		{ "a boolean neither true nor false", ARGS("--dry-run=maybe"), .bad = "--dry-run" },
		{ "an empty value", ARGS("--stall-grace="), .bad = "--stall-grace" },
	};

	(void)state;
	check_parses(cases, ARRAY_SIZE(cases));
}

static void test_env_variables(void **state)
{
	const struct parse_case cases[] = {
		{ "every variable",
		  .env = ARGS("SOCKREAP_STALL_GRACE=30.5", "SOCKREAP_IDLE_TIMEOUT=90",
			      "SOCKREAP_INTERVAL=0.5", "SOCKREAP_ALL_NETNS=true", "SOCKREAP_DRY_RUN=1",
			      "SOCKREAP_VERBOSE=yes", "SOCKREAP_CGROUP=/kubepods/a,/kubepods/b",
			      "SOCKREAP_PORT=80,443", "SOCKREAP_EXCLUDE_PORT=22,6000-6100",
			      "SOCKREAP_METRICS_ADDR=[::1]:9100", "SOCKREAP_METRICS_FILE=/run/sockreap.prom",
			      "SOCKREAP_LOG_FORMAT=json", "SOCKREAP_MAP_CAPACITY=4096",
			      "SOCKREAP_CLOSE_WAIT_TIMEOUT=300"),
		  .want = WANT(NUM(cfg.mode, MODE_RUN), SECS(cfg.close_wait_timeout_s, 300.0),
			       SECS(cfg.stall_grace_s, 30.5), SECS(cfg.idle_timeout_s, 90.0),
			       SECS(cfg.interval_s, 0.5), FLAG(cfg.all_netns, true),
			       FLAG(cfg.dry_run, true), FLAG(cfg.verbose, true), NUM(cfg.n_cgroups, 2),
			       TEXT(cfg.cgroups[0], "/kubepods/a"), TEXT(cfg.cgroups[1], "/kubepods/b"),
			       NUM(cfg.n_ports, 2), NUM(cfg.ports[0].lo, 80), NUM(cfg.ports[0].hi, 80),
			       NUM(cfg.ports[1].lo, 443), NUM(cfg.ports[1].hi, 443),
			       NUM(cfg.n_exclude_ports, 2), NUM(cfg.exclude_ports[0].lo, 22),
			       NUM(cfg.exclude_ports[1].lo, 6000), NUM(cfg.exclude_ports[1].hi, 6100),
			       TEXT(cfg.metrics_addr, "[::1]:9100"),
			       TEXT(cfg.metrics_file, "/run/sockreap.prom"), NUM(cfg.log_format, LOG_JSON),
			       NUM(cfg.map_capacity, 4096)) },
		{ "empty list items are skipped; false-ish booleans are false",
		  .env = ARGS("SOCKREAP_PORT=80,,443,", "SOCKREAP_DRY_RUN=0", "SOCKREAP_METRICS_ADDR=off"),
		  .want = WANT(NUM(cfg.n_ports, 2), NUM(cfg.ports[1].lo, 443), FLAG(cfg.dry_run, false),
			       TEXT(cfg.metrics_addr, "")) },
		{ "an empty boolean is false", .env = ARGS("SOCKREAP_DRY_RUN="),
		  .want = WANT(FLAG(cfg.dry_run, false)) },
	};

	(void)state;
	check_parses(cases, ARRAY_SIZE(cases));
}

static void test_flag_wins_over_env(void **state)
{
	const char *const *env = ARGS("SOCKREAP_STALL_GRACE=30", "SOCKREAP_PORT=80,443",
				      "SOCKREAP_DRY_RUN=1", "SOCKREAP_CGROUP=/a,/b",
				      "SOCKREAP_EXCLUDE_PORT=22", "SOCKREAP_LOG_FORMAT=json",
				      "SOCKREAP_METRICS_ADDR=off");
	const struct parse_case cases[] = {
		{ "flags over variables",
		  ARGS("--stall-grace", "5", "--port", "8080", "--dry-run=0", "--cgroup", "/c",
		       "--log-format", "logfmt", "--metrics-addr", "127.0.0.1:1"),
		  .env = env,
		  .want = WANT(SECS(cfg.stall_grace_s, 5.0),
			       /* The repeatable flag replaces the environment's list, it
				* does not extend it. */
			       NUM(cfg.n_ports, 1), NUM(cfg.ports[0].lo, 8080), NUM(cfg.ports[0].hi, 8080),
			       NUM(cfg.n_cgroups, 1), TEXT(cfg.cgroups[0], "/c"), FLAG(cfg.dry_run, false),
			       NUM(cfg.log_format, LOG_LOGFMT), TEXT(cfg.metrics_addr, "127.0.0.1:1"),
			       /* Options not given on the command line keep the environment's value. */
			       NUM(cfg.n_exclude_ports, 1), NUM(cfg.exclude_ports[0].lo, 22)) },
		{ "two flags after an environment list: both flags, nothing of the env",
		  ARGS("--port", "1", "--port", "2"), .env = env,
		  .want = WANT(NUM(cfg.n_ports, 2), NUM(cfg.ports[0].lo, 1), NUM(cfg.ports[1].lo, 2),
			       NUM(cfg.n_cgroups, 2)) },
	};

	(void)state;
	check_parses(cases, ARRAY_SIZE(cases));
}

static void test_bad_numbers(void **state)
{
	static const char *const bad_values[] = { "abc", "", "1e999", "nan", "NaN", "inf",
						  "-1", "30x", "--", "3 0" };
	static const char *const opts[] = { "--stall-grace", "--idle-timeout", "--interval" };

	(void)state;
	for (size_t o = 0; o < sizeof(opts) / sizeof(opts[0]); o++) {
		for (size_t i = 0; i < sizeof(bad_values) / sizeof(bad_values[0]); i++) {
			char quoted[64];

			assert_bad(PARSE(opts[o], bad_values[i]), opts[o]);
			snprintf(quoted, sizeof(quoted), "'%s'", bad_values[i]);
			assert_non_null(strstr(err, quoted)); /* and shows the value */
		}
	}
}

static void test_bad_env_names_variable(void **state)
{
	const struct parse_case cases[] = {
		{ "a grace not a number", .env = ARGS("SOCKREAP_STALL_GRACE=abc"),
		  .bad = "SOCKREAP_STALL_GRACE", .says = "'abc'" },
		{ "no interval", .env = ARGS("SOCKREAP_INTERVAL=0"), .bad = "SOCKREAP_INTERVAL" },
		{ "port 0 in a list", .env = ARGS("SOCKREAP_PORT=80,0"), .bad = "SOCKREAP_PORT" },
		{ "port 65536 in a list", .env = ARGS("SOCKREAP_PORT=80,65536"), .bad = "SOCKREAP_PORT" },
		{ "a backwards range", .env = ARGS("SOCKREAP_EXCLUDE_PORT=10-5"),
		  .bad = "SOCKREAP_EXCLUDE_PORT" },
		{ "a boolean neither true nor false", .env = ARGS("SOCKREAP_DRY_RUN=maybe"),
		  .bad = "SOCKREAP_DRY_RUN" },
		{ "an unknown log format", .env = ARGS("SOCKREAP_LOG_FORMAT=xml"),
		  .bad = "SOCKREAP_LOG_FORMAT" },
		{ "an address without a port", .env = ARGS("SOCKREAP_METRICS_ADDR=foo"),
		  .bad = "SOCKREAP_METRICS_ADDR" },
		{ "capacity below the least", .env = ARGS("SOCKREAP_MAP_CAPACITY=1"),
		  .bad = "SOCKREAP_MAP_CAPACITY" },
	};

	(void)state;
	check_parses(cases, ARRAY_SIZE(cases));
	/* The last row's message says it is the environment, not a flag. */
	assert_null(strstr(err, "--map-capacity"));
}

/* A flag out of range, unknown, or without its value: refused, naming what. */
static void test_bad_flags(void **state)
{
	const struct parse_case cases[] = {
		/* Below a minimum, or above a maximum. */
		{ "no grace", ARGS("--stall-grace", "0"), .bad = "--stall-grace" },
		{ "no interval", ARGS("--interval", "0"), .bad = "--interval" },
		{ "an interval below 10 ms", ARGS("--interval", "0.001"), .bad = "--interval" },
		{ "an interval above an hour", ARGS("--interval", "3601"), .bad = "--interval" },
		{ "a negative idle timeout", ARGS("--idle-timeout", "-0.5"), .bad = "--idle-timeout" },
		/* Ports out of range. */
		{ "port 0", ARGS("--port", "0"), .bad = "--port" },
		{ "port 65536", ARGS("--port", "65536"), .bad = "--port" },
		{ "a backwards range", ARGS("--port", "10-5"), .bad = "--port" },
		{ "a port not a number", ARGS("--port", "abc"), .bad = "--port" },
		{ "a negative port", ARGS("--port", "-1"), .bad = "--port" },
		{ "an empty port", ARGS("--port", ""), .bad = "--port" },
		{ "excluded port 0", ARGS("--exclude-port", "0"), .bad = "--exclude-port" },
		{ "excluded port 70000", ARGS("--exclude-port", "70000"), .bad = "--exclude-port" },
		/* Log formats. */
		{ "xml logs", ARGS("--log-format", "xml"), .bad = "--log-format" },
		{ "format names are lower case", ARGS("--log-format", "JSON"), .bad = "--log-format" },
		{ "an empty format", ARGS("--log-format", ""), .bad = "--log-format" },
		{ "text logs, with '='", ARGS("--log-format=text"), .bad = "--log-format" },
		/* Unknown flags, and flags without their value. */
		{ "an unknown flag", ARGS("--bogus"), .bad = "--bogus" },
		{ "an unknown flag with a value", ARGS("--bogus=1"), .bad = "--bogus" },
		{ "no prefix matching", ARGS("--stall"), .bad = "--stall" },
		{ "no suffix either", ARGS("--stall-grace-s", "3"), .bad = "--stall-grace-s" },
		{ "a bare --", ARGS("--"), .bad = "--" },
		{ "a short flag", ARGS("-x"), .bad = "-x" },
		{ "a positional argument", ARGS("positional"), .bad = "positional" },
		{ "list is a mode, first only", ARGS("--dry-run", "list"), .bad = "list" },
		{ "a grace without its value", ARGS("--stall-grace"), .bad = "--stall-grace" },
		{ "a port without its value", ARGS("--port"), .bad = "--port" },
		{ "a cgroup without its value", ARGS("--cgroup"), .bad = "--cgroup" },
		{ "an address without its value", ARGS("--metrics-addr"), .bad = "--metrics-addr" },
		{ "a format without its value", ARGS("--dry-run", "--log-format"), .bad = "--log-format" },
	};

	(void)state;
	check_parses(cases, ARRAY_SIZE(cases));
}

static void test_bad_metrics_addr(void **state)
{
	static const char *const bad_values[] = { "foo", "1.2.3.4", "[::1]9750", "::1:80", ":80",
						  "host:", "host:0", "host:65536", "[::1]", "[]:80",
						  "[::1:80", "host:80x", "OFF" };

	(void)state;
	for (size_t i = 0; i < sizeof(bad_values) / sizeof(bad_values[0]); i++)
		assert_bad(PARSE("--metrics-addr", bad_values[i]), "--metrics-addr");
}

/* Found by fuzzing: outside input echoed in a message must not break the line. */
static void test_error_echo_stays_one_line(void **state)
{
	char *argv[] = { "sockreap", "--stal.\n\x01\xff", NULL };
	char *argv2[] = { "sockreap", "--port", "8\n0", NULL };

	(void)state;
	assert_int_equal(options_parse(&cfg, 2, argv, NULL, err, sizeof(err)), -EINVAL);
	assert_null(strchr(err, '\n'));
	assert_non_null(strstr(err, "'--stal.\\x0a\\x01\\xff'"));
	assert_int_equal(options_parse(&cfg, 3, argv2, NULL, err, sizeof(err)), -EINVAL);
	assert_null(strchr(err, '\n'));
	assert_non_null(strstr(err, "'8\\x0a0'"));
}

static void test_list_mode(void **state)
{
	const struct parse_case cases[] = {
		{ "list", ARGS("list"), WANT(NUM(cfg.mode, MODE_LIST), FLAG(cfg.list_json, false)) },
		{ "list --json", ARGS("list", "--json"),
		  WANT(NUM(cfg.mode, MODE_LIST), FLAG(cfg.list_json, true)) },
		{ "an unknown flag after list", ARGS("list", "--bogus"), .bad = "--bogus", .says = "list" },
		{ "an argument after list --json", ARGS("list", "--json", "extra"), .bad = "extra" },
		{ "a run flag after list", ARGS("list", "--dry-run"), .bad = "--dry-run" },
	};

	(void)state;
	check_parses(cases, ARRAY_SIZE(cases));
}

static void test_help_and_version(void **state)
{
	const struct parse_case cases[] = {
		{ "--help", ARGS("--help"), WANT(NUM(cfg.mode, MODE_HELP)) },
		{ "-h", ARGS("-h"), WANT(NUM(cfg.mode, MODE_HELP)) },
		{ "--help after a flag", ARGS("--dry-run", "--help"), WANT(NUM(cfg.mode, MODE_HELP)) },
		{ "--version", ARGS("--version"), WANT(NUM(cfg.mode, MODE_VERSION)) },
	};

	(void)state;
	check_parses(cases, ARRAY_SIZE(cases));

	/* The usage names every option of the contract. */
	{
		static const char *const names[] = {
			"--stall-grace", "--idle-timeout", "--interval", "--all-netns", "--cgroup",
			"--port", "--exclude-port", "--dry-run", "--metrics-addr", "--metrics-file",
			"--log-format", "--map-capacity", "--verbose", "--send-path", "list [--json]",
			"--help", "--version", "SOCKREAP_", "--target",
		};

		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (!strstr(options_usage(), names[i]))
				fail_msg("usage lacks %s", names[i]);
	}
}

/*
 * README's options table is the specs' own (--help comes from them too): the
 * table after README's marker must be exactly what the specs render.
 * Run from the repository root (make does), or with README=path.
 */
static void test_readme_table_matches_specs(void **state)
{
	static char want[65536], have[65536];
	const char *path = getenv("README") ? getenv("README") : "README.md";
	FILE *f = fopen(path, "re");
	size_t n;
	char *start, *end;

	(void)state;
	if (!f)
		fail_msg("cannot open %s (run from the repository root, or set README=)", path);
	n = fread(have, 1, sizeof(have) - 1, f);
	fclose(f);
	have[n] = '\0';
	assert_int_equal(options_markdown_table(want, sizeof(want)), 0);
	start = strstr(have, "| option | default | meaning |");
	if (!start)
		fail_msg("README has no options table");
	end = strstr(start, "\n\n");
	if (end)
		end[1] = '\0';
	if (strcmp(start, want))
		fail_msg("README's options table differs from the specs; regenerate it from "
			 "options_markdown_table():\n--- README\n%s--- specs\n%s", start, want);
}

static void test_parse_port_range(void **state)
{
	static const char *const bad_values[] = { "",	   "0",	   "65536", "10-5", "-5",
						  "5-",	   "-",	   "a",	    "80a",  " 80",
						  "80 ",   "+80",  "1-2-3", "0-10", "10-65536",
						  "99999999999999999999", "0x50", "1--2" };
	static const struct {
		const char *what, *s;
		uint16_t lo, hi;
	} good[] = {
		{ "one port", "80", 80, 80 },
		{ "every port", "1-65535", 1, 65535 },
		{ "a range of one", "10-10", 10, 10 },
		{ "the highest port", "65535", 65535, 65535 },
	};
	struct sr_port_range r = { 0 };

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		int rc = ports_parse_range(good[i].s, &r);

		if (rc || r.lo != good[i].lo || r.hi != good[i].hi)
			print_error("%s: '%s' gave rc=%d %u-%u, want %u-%u\n", good[i].what, good[i].s, rc,
				    r.lo, r.hi, good[i].lo, good[i].hi);
		assert_int_equal(rc, 0);
		assert_int_equal(r.lo, good[i].lo);
		assert_int_equal(r.hi, good[i].hi);
	}

	for (size_t i = 0; i < sizeof(bad_values) / sizeof(bad_values[0]); i++) {
		r.lo = 7;
		r.hi = 9;
		if (ports_parse_range(bad_values[i], &r) != -EINVAL)
			fail_msg("'%s' accepted as %u-%u", bad_values[i], r.lo, r.hi);
		assert_int_equal(r.lo, 7); /* untouched on error */
		assert_int_equal(r.hi, 9);
	}
}

static void test_split_hostport(void **state)
{
	static const char *const bad_values[] = { "foo",   "1.2.3.4", "[::1]9750", "::1:80", ":80",
						  "host:", "host:0",  "host:65536", "[::1]", "[]:80",
						  "[::1:80", "h:80x", "a:b:80", "",	   "[::1]]:80" };
	static const struct {
		const char *what, *s, *host;
		uint16_t port;
	} good[] = {
		{ "IPv4", "127.0.0.1:9750", "127.0.0.1", 9750 },
		{ "IPv6 in brackets", "[::1]:9750", "::1", 9750 },
		{ "IPv6 with a scope", "[fe80::1%eth0]:65535", "fe80::1%eth0", 65535 },
		{ "a host name", "localhost:1", "localhost", 1 },
	};
	char host[64];
	uint16_t port = 0;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		int rc = ports_split_hostport(good[i].s, host, sizeof(host), &port);

		if (rc || strcmp(host, good[i].host) || port != good[i].port)
			print_error("%s: '%s' gave rc=%d '%s' %u, want '%s' %u\n", good[i].what, good[i].s,
				    rc, rc ? "" : host, port, good[i].host, good[i].port);
		assert_int_equal(rc, 0);
		assert_string_equal(host, good[i].host);
		assert_int_equal(port, good[i].port);
	}

	/* The host buffer's size is respected: "abcdef" needs 7 bytes. */
	assert_int_equal(ports_split_hostport("abcdef:80", host, 6, &port), -EINVAL);
	assert_int_equal(ports_split_hostport("[abcdef]:80", host, 6, &port), -EINVAL);
	assert_int_equal(ports_split_hostport("abcdef:80", host, 7, &port), 0);
	assert_string_equal(host, "abcdef");

	for (size_t i = 0; i < sizeof(bad_values) / sizeof(bad_values[0]); i++) {
		port = 4242;
		if (ports_split_hostport(bad_values[i], host, sizeof(host), &port) != -EINVAL)
			fail_msg("'%s' accepted", bad_values[i]);
		assert_int_equal(port, 4242);
	}
}

/* A failed options_parse_target(): -EINVAL, one line, naming the key and showing the value. */
static void assert_target_bad(const char *what, const char *spec, const char *key, const char *val)
{
	struct sr_target t;
	char quoted[128];
	int rc;

	memset(err, 'X', sizeof(err) - 1);
	err[sizeof(err) - 1] = '\0';
	rc = options_parse_target(spec, &t, err, sizeof(err));
	if (rc != -EINVAL || strchr(err, '\n') || strlen(err) >= sizeof(err) - 1)
		fail_msg("%s: spec '%s': rc=%d err='%s', wanted -EINVAL and one line", what, spec, rc,
			 err);
	if (key) {
		snprintf(quoted, sizeof(quoted), "'%s'", key);
		if (!strstr(err, quoted))
			fail_msg("%s: spec '%s': err='%s' does not name key %s", what, spec, err, quoted);
	}
	if (val) {
		snprintf(quoted, sizeof(quoted), "'%s'", val);
		if (!strstr(err, quoted))
			fail_msg("%s: spec '%s': err='%s' does not show value %s", what, spec, err, quoted);
	}
}

/*
 * One options_parse_target() of spec into tgt, garbage beforehand (the
 * parser starts from a clean target): it succeeds with want or, REFUSED,
 * fails naming key and showing val (either may be NULL).
 */
struct target_case {
	const char *what, *spec;
	const struct want *want;
	bool bad;
	const char *key, *val;
};

#define REFUSED(k, v) .bad = true, .key = (k), .val = (v)

static void check_targets(const struct target_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct target_case *c = &cases[i];
		int rc;

		if (c->bad) {
			assert_target_bad(c->what, c->spec, c->key, c->val);
			continue;
		}
		memset(&tgt, 0xa5, sizeof(tgt));
		rc = options_parse_target(c->spec, &tgt, err, sizeof(err));
		if (rc)
			print_error("%s: spec '%s': rc=%d err='%s'\n", c->what, c->spec, rc, err);
		assert_int_equal(rc, 0);
		check_wants(c->what, c->want);
	}
}

static void test_target_parse_all_keys(void **state)
{
	const struct target_case cases[] = {
		{ "every key",
		  "name=ws,cgroup=/kubepods/podX,port=8765,cgroup=system.slice/x.service,"
		  "port=9000-9100,stall-grace=2.5,idle-timeout=90,close-wait-timeout=120,dry-run=yes",
		  WANT(FLAG(tgt.has_close_wait_timeout, true), SECS(tgt.close_wait_timeout_s, 120.0),
		       TEXT(tgt.name, "ws"), NUM(tgt.n_cgroups, 2),
		       TEXT(tgt.cgroups[0], "/kubepods/podX"),
		       TEXT(tgt.cgroups[1], "system.slice/x.service"), NUM(tgt.n_ports, 2),
		       NUM(tgt.ports[0].lo, 8765), NUM(tgt.ports[0].hi, 8765),
		       NUM(tgt.ports[1].lo, 9000), NUM(tgt.ports[1].hi, 9100),
		       FLAG(tgt.has_stall_grace, true), SECS(tgt.stall_grace_s, 2.5),
		       FLAG(tgt.has_idle_timeout, true), SECS(tgt.idle_timeout_s, 90.0),
		       FLAG(tgt.has_dry_run, true), FLAG(tgt.dry_run, true)) },
		{ "a value may contain '='; a trailing ',' ends the list", "cgroup=/a=b,",
		  WANT(NUM(tgt.n_cgroups, 1), TEXT(tgt.cgroups[0], "/a=b"), NUM(tgt.n_ports, 0),
		       TEXT(tgt.name, "")) },
	};

	(void)state;
	check_targets(cases, ARRAY_SIZE(cases));
}

static void test_target_has_flags_only_for_keys_given(void **state)
{
	const struct target_case cases[] = {
		{ "a port only", "port=80",
		  WANT(TEXT(tgt.name, ""), NUM(tgt.n_cgroups, 0), NUM(tgt.n_ports, 1),
		       NUM(tgt.ports[0].lo, 80), NUM(tgt.ports[0].hi, 80),
		       FLAG(tgt.has_stall_grace, false), FLAG(tgt.has_idle_timeout, false),
		       FLAG(tgt.has_dry_run, false), FLAG(tgt.dry_run, false)) },
		{ "a grace only", "stall-grace=5",
		  WANT(FLAG(tgt.has_stall_grace, true), SECS(tgt.stall_grace_s, 5.0),
		       FLAG(tgt.has_idle_timeout, false), FLAG(tgt.has_dry_run, false),
		       NUM(tgt.n_ports, 0), NUM(tgt.n_cgroups, 0)) },
		{ "an explicit 0 is given (rx_idle off for this target), not absent", "idle-timeout=0",
		  WANT(FLAG(tgt.has_idle_timeout, true), SECS(tgt.idle_timeout_s, 0.0),
		       FLAG(tgt.has_stall_grace, false), FLAG(tgt.has_dry_run, false)) },
		{ "dry-run off and a name", "dry-run=off,name=x",
		  WANT(FLAG(tgt.has_dry_run, true), FLAG(tgt.dry_run, false),
		       FLAG(tgt.has_stall_grace, false), FLAG(tgt.has_idle_timeout, false),
		       TEXT(tgt.name, "x")) },
	};

	(void)state;
	check_targets(cases, ARRAY_SIZE(cases));
}

static void test_target_dry_run_values(void **state)
{
	static const char *const yes[] = { "1", "true", "yes", "on" };
	static const char *const no[] = { "0", "false", "no", "off" };
	struct sr_target t;
	char spec[64];

	(void)state;
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		snprintf(spec, sizeof(spec), "port=1,dry-run=%s", yes[i]);
		assert_int_equal(options_parse_target(spec, &t, err, sizeof(err)), 0);
		assert_true(t.has_dry_run);
		if (!t.dry_run)
			fail_msg("'%s' parsed as false", spec);
	}
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		/* After a "true" in the same spec, so a false that is ignored shows. */
		snprintf(spec, sizeof(spec), "dry-run=1,dry-run=%s", no[i]);
		assert_int_equal(options_parse_target(spec, &t, err, sizeof(err)), 0);
		assert_true(t.has_dry_run);
		if (t.dry_run)
			fail_msg("'%s' parsed as true", spec);
	}
}

static void test_target_limits(void **state)
{
	char name_fits[40], spec_fits[48], name_long[40], spec_long[48];
	const struct target_case cases[] = {
		/* SR_TARGET_CGROUPS cgroups, SR_TARGET_PORTS ports: accepted. */
		{ "4 cgroups", "cgroup=/a,cgroup=/b,cgroup=/c,cgroup=/d",
		  WANT(NUM(tgt.n_cgroups, 4), TEXT(tgt.cgroups[3], "/d")) },
		{ "8 ports", "port=1,port=2,port=3,port=4,port=5,port=6,port=7,port=8-65535",
		  WANT(NUM(tgt.n_ports, 8), NUM(tgt.ports[7].lo, 8), NUM(tgt.ports[7].hi, 65535)) },
		/* One more: refused, naming the key and the value that did not fit. */
		{ "5 cgroups", "cgroup=/a,cgroup=/b,cgroup=/c,cgroup=/d,cgroup=/e",
		  REFUSED("cgroup", "/e") },
		{ "9 ports", "port=1,port=2,port=3,port=4,port=5,port=6,port=7,port=8,port=9",
		  REFUSED("port", "9") },
		/* name: at most 31 characters (it must fit name[32] with its NUL). */
		{ "a name of 31 characters", spec_fits, WANT(TEXT(tgt.name, name_fits)) },
		{ "a name of 32 characters", spec_long, REFUSED("name", name_long) },
		/* stall-grace: from 0.001 s to a year; idle-timeout from 0. */
		{ "the shortest grace", "stall-grace=0.001", WANT(SECS(tgt.stall_grace_s, 0.001)) },
		{ "the longest grace", "stall-grace=31536000",
		  WANT(SECS(tgt.stall_grace_s, 31536000.0)) },
		{ "a grace over a year", "stall-grace=31536001", REFUSED("stall-grace", "31536001") },
		{ "a negative idle timeout", "idle-timeout=-1", REFUSED("idle-timeout", "-1") },
	};

	(void)state;
	assert_int_equal(SR_TARGET_CGROUPS, 4);
	assert_int_equal(SR_TARGET_PORTS, 8);
	memset(name_fits, 'n', 31);
	name_fits[31] = '\0';
	snprintf(spec_fits, sizeof(spec_fits), "name=%s", name_fits);
	memset(name_long, 'n', 32);
	name_long[32] = '\0';
	snprintf(spec_long, sizeof(spec_long), "name=%s", name_long);
	check_targets(cases, ARRAY_SIZE(cases));
}

static void test_target_direct_errors(void **state)
{
	const struct target_case cases[] = {
		{ "a key without a value", "port", REFUSED(NULL, "port") },
		{ "a key without a value after a good one", "port=80,name", REFUSED(NULL, "name") },
		{ "an unknown key", "foo=1", REFUSED("foo", NULL) },
		{ "an unknown key after a good one", "port=80,foo=1", REFUSED("foo", NULL) },
		{ "port 0", "port=0", REFUSED("port", "0") },
		{ "a backwards range", "port=9-3", REFUSED("port", "9-3") },
		{ "port 65536", "port=65536", REFUSED("port", "65536") },
		{ "an empty port", "port=", REFUSED("port", "") },
		{ "a grace not a number", "stall-grace=abc", REFUSED("stall-grace", "abc") },
		{ "no grace", "stall-grace=0", REFUSED("stall-grace", "0") },
		{ "an idle timeout not a number", "idle-timeout=x", REFUSED("idle-timeout", "x") },
		{ "a boolean neither true nor false", "dry-run=maybe", REFUSED("dry-run", "maybe") },
		{ "an empty name", "name=", REFUSED("name", "") },
		{ "an empty cgroup", "cgroup=", REFUSED("cgroup", "") },
		/* Keys are exact: no case folding, no spaces. */
		{ "no case folding", "Port=80", REFUSED("Port", NULL) },
		{ "no spaces", "port =80", REFUSED("port ", NULL) },
	};
	struct sr_target t;

	(void)state;
	memset(err, 'X', sizeof(err) - 1);
	err[sizeof(err) - 1] = '\0';
	assert_int_equal(options_parse_target("", &t, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "empty"));

	check_targets(cases, ARRAY_SIZE(cases));

	/* A short error buffer is respected (ASan watches). */
	{
		char small[8];

		assert_int_equal(options_parse_target("foo=1", &t, small, sizeof(small)), -EINVAL);
		assert_int_equal(strlen(small), sizeof(small) - 1);
	}
}

static void test_target_flags_in_order(void **state)
{
	const struct parse_case cases[] = {
		{ "three targets around a plain flag",
		  ARGS("--target", "name=a,port=80", "--stall-grace", "7",
		       "--target=port=81,stall-grace=5", "--target", "cgroup=/k,dry-run=1"),
		  WANT(NUM(cfg.n_targets, 3), TEXT(cfg.targets[0].name, "a"),
		       NUM(cfg.targets[0].n_ports, 1), NUM(cfg.targets[0].ports[0].lo, 80),
		       FLAG(cfg.targets[0].has_stall_grace, false),
		       TEXT(cfg.targets[1].name, ""), NUM(cfg.targets[1].ports[0].lo, 81),
		       FLAG(cfg.targets[1].has_stall_grace, true),
		       SECS(cfg.targets[1].stall_grace_s, 5.0), NUM(cfg.targets[2].n_ports, 0),
		       NUM(cfg.targets[2].n_cgroups, 1), TEXT(cfg.targets[2].cgroups[0], "/k"),
		       FLAG(cfg.targets[2].has_dry_run, true), FLAG(cfg.targets[2].dry_run, true),
		       /* The plain flags stay the defaults, untouched by the targets. */
		       SECS(cfg.stall_grace_s, 7.0), FLAG(cfg.dry_run, false),
		       NUM(cfg.n_ports, 0), NUM(cfg.n_cgroups, 0)) },
		{ "no target", ARGS("--dry-run"), WANT(NUM(cfg.n_targets, 0)) },
	};

	(void)state;
	check_parses(cases, ARRAY_SIZE(cases));
}

static void test_target_env(void **state)
{
	const char *const *env = ARGS("SOCKREAP_TARGET=port=80,stall-grace=5;name=b,port=81");
	const struct parse_case cases[] = {
		{ "two targets from the environment", .env = env,
		  .want = WANT(NUM(cfg.n_targets, 2), TEXT(cfg.targets[0].name, ""),
			       NUM(cfg.targets[0].n_ports, 1), NUM(cfg.targets[0].ports[0].lo, 80),
			       FLAG(cfg.targets[0].has_stall_grace, true),
			       SECS(cfg.targets[0].stall_grace_s, 5.0), TEXT(cfg.targets[1].name, "b"),
			       NUM(cfg.targets[1].ports[0].lo, 81),
			       FLAG(cfg.targets[1].has_stall_grace, false)) },
		{ "other flags keep the environment's targets", ARGS("--port", "9"), .env = env,
		  .want = WANT(NUM(cfg.n_targets, 2), NUM(cfg.n_ports, 1)) },
		{ "a --target flag replaces the environment's list entirely", ARGS("--target", "port=90"),
		  .env = env,
		  .want = WANT(NUM(cfg.n_targets, 1), NUM(cfg.targets[0].n_ports, 1),
			       NUM(cfg.targets[0].ports[0].lo, 90),
			       /* nothing left over from the env's first */
			       FLAG(cfg.targets[0].has_stall_grace, false),
			       TEXT(cfg.targets[0].name, "")) },
		{ "two --target flags replace it",
		  ARGS("--target", "name=x,port=1", "--target", "name=y,port=2"), .env = env,
		  .want = WANT(NUM(cfg.n_targets, 2), TEXT(cfg.targets[0].name, "x"),
			       TEXT(cfg.targets[1].name, "y")) },
		{ "empty items between ';' are skipped, as in the other lists",
		  .env = ARGS("SOCKREAP_TARGET=;port=1;;port=2,dry-run=no;"),
		  .want = WANT(NUM(cfg.n_targets, 2), NUM(cfg.targets[0].ports[0].lo, 1),
			       NUM(cfg.targets[1].ports[0].lo, 2), FLAG(cfg.targets[1].has_dry_run, true),
			       FLAG(cfg.targets[1].dry_run, false)) },
		{ "an empty variable", .env = ARGS("SOCKREAP_TARGET="),
		  .want = WANT(NUM(cfg.n_targets, 0)) },
	};

	(void)state;
	check_parses(cases, ARRAY_SIZE(cases));
}

static void test_target_errors_through_options_parse(void **state)
{
	static const struct {
		const char *spec, *key, *val;
	} cases[] = {
		{ "port", NULL, "port" },
		{ "foo=1", "foo", NULL },
		{ "port=0", "port", "0" },
		{ "port=9-3", "port", "9-3" },
		{ "stall-grace=abc", "stall-grace", "abc" },
		{ "stall-grace=0", "stall-grace", "0" },
		{ "dry-run=maybe", "dry-run", "maybe" },
		{ "cgroup=/a,cgroup=/b,cgroup=/c,cgroup=/d,cgroup=/e", "cgroup", "/e" },
		{ "port=1,port=2,port=3,port=4,port=5,port=6,port=7,port=8,port=9", "port", "9" },
		{ "name=abcdefghijklmnopqrstuvwxyz012345", "name", "abcdefghijklmnopqrstuvwxyz012345" },
	};

	(void)state;
	assert_bad(PARSE("--target", ""), "--target");
	assert_bad(PARSE("--target"), "--target");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char envvar[256], quoted[128];

		assert_bad(PARSE("--target", cases[i].spec), "--target");
		if (cases[i].key) {
			snprintf(quoted, sizeof(quoted), "'%s'", cases[i].key);
			if (!strstr(err, quoted))
				fail_msg("'%s': err='%s' does not name %s", cases[i].spec, err, quoted);
		}
		if (cases[i].val) {
			snprintf(quoted, sizeof(quoted), "'%s'", cases[i].val);
			if (!strstr(err, quoted))
				fail_msg("'%s': err='%s' does not show %s", cases[i].spec, err, quoted);
		}
		assert_int_equal(cfg.n_targets, 0);

		/* The same from the environment names the variable, not the flag. */
		snprintf(envvar, sizeof(envvar), "SOCKREAP_TARGET=port=1;%s", cases[i].spec);
		assert_bad(PARSE_ENV(ARGS(envvar), NULL), "SOCKREAP_TARGET");
		assert_null(strstr(err, "--target"));
		if (cases[i].key) {
			snprintf(quoted, sizeof(quoted), "'%s'", cases[i].key);
			assert_non_null(strstr(err, quoted));
		}
		assert_int_equal(cfg.n_targets, 1); /* the good one before it */
	}
}

static void test_target_at_most_15(void **state)
{
	const char *args[2 * SR_MAX_TARGETS + 3];
	char vals[SR_MAX_TARGETS][16], envvar[SR_MAX_TARGETS * 16 + 32];
	int n = 0;
	size_t el;

	(void)state;
	assert_int_equal(SR_MAX_TARGETS - 1, 15); /* target 15 is the plain flags' */
	el = (size_t)snprintf(envvar, sizeof(envvar), "SOCKREAP_TARGET=");
	for (int i = 0; i < SR_MAX_TARGETS - 1; i++) {
		snprintf(vals[i], sizeof(vals[i]), "port=%d", 1000 + i);
		args[n++] = "--target";
		args[n++] = vals[i];
		el += (size_t)snprintf(envvar + el, sizeof(envvar) - el, "%s;", vals[i]);
	}
	args[n] = NULL;
	assert_ok(parse_env(args, NULL));
	assert_int_equal(cfg.n_targets, 15);
	assert_int_equal(cfg.targets[0].ports[0].lo, 1000);
	assert_int_equal(cfg.targets[14].ports[0].lo, 1014);
	assert_ok(PARSE_ENV(ARGS(envvar), NULL));
	assert_int_equal(cfg.n_targets, 15);
	assert_int_equal(cfg.targets[14].ports[0].lo, 1014);

	/* A 16th: refused, and nothing written past the array. */
	snprintf(vals[15], sizeof(vals[15]), "port=2000");
	args[n++] = "--target";
	args[n++] = vals[15];
	args[n] = NULL;
	assert_bad(parse_env(args, NULL), "--target");
	assert_non_null(strstr(err, "'port=2000'"));
	assert_non_null(strstr(err, "15"));
	assert_int_equal(cfg.n_targets, 15);

	/* 15 from the environment, then 15 flags: they replace, not extend. */
	args[n - 2] = NULL;
	assert_ok(parse_env(args, ARGS(envvar)));
	assert_int_equal(cfg.n_targets, 15);
	/* ... and a 16th flag is still refused. */
	args[n - 2] = "--target";
	assert_bad(parse_env(args, ARGS(envvar)), "--target");

	snprintf(envvar + el, sizeof(envvar) - el, "port=2000");
	assert_bad(PARSE_ENV(ARGS(envvar), NULL), "SOCKREAP_TARGET");
	assert_non_null(strstr(err, "'port=2000'"));
	assert_int_equal(cfg.n_targets, 15);
}

/* Every numeric option: its limits accepted, one step outside refused, and the
 * message states the limits the spec carries (flag and variable alike). */
static void test_limits_in_messages(void **state)
{
	static const struct {
		const char *flag, *var;
		double min, max;
		bool whole;
	} opts[] = {
		{ "--stall-grace", "SOCKREAP_STALL_GRACE", SR_STALL_GRACE_MIN_S, SR_RULE_MAX_S, false },
		{ "--idle-timeout", "SOCKREAP_IDLE_TIMEOUT", SR_TIMEOUT_MIN_S, SR_RULE_MAX_S, false },
		{ "--close-wait-timeout", "SOCKREAP_CLOSE_WAIT_TIMEOUT", SR_TIMEOUT_MIN_S, SR_RULE_MAX_S,
		  false },
		{ "--interval", "SOCKREAP_INTERVAL", SR_INTERVAL_MIN_S, SR_INTERVAL_MAX_S, false },
		{ "--map-capacity", "SOCKREAP_MAP_CAPACITY", SR_MAP_CAPACITY_MIN, SR_MAP_CAPACITY_MAX,
		  true },
	};

	(void)state;
	for (size_t o = 0; o < sizeof(opts) / sizeof(opts[0]); o++) {
		char lo[32], hi[32], below[32], above[32], limits[96], var[96];

		snprintf(lo, sizeof(lo), "%.17g", opts[o].min);
		snprintf(hi, sizeof(hi), "%.17g", opts[o].max);
		snprintf(below, sizeof(below), "%.17g", opts[o].min - 1);
		snprintf(above, sizeof(above), "%.17g", opts[o].max + 1);
		if (opts[o].whole)
			snprintf(limits, sizeof(limits), "from %.0f to %.0f", opts[o].min, opts[o].max);
		else
			snprintf(limits, sizeof(limits), "from %g to %.0f", opts[o].min, opts[o].max);

		assert_ok(PARSE(opts[o].flag, lo));
		assert_ok(PARSE(opts[o].flag, hi));
		assert_bad(PARSE(opts[o].flag, below), opts[o].flag);
		if (!strstr(err, limits))
			fail_msg("%s %s: err='%s' does not say '%s'", opts[o].flag, below, err, limits);
		assert_bad(PARSE(opts[o].flag, above), opts[o].flag);
		if (!strstr(err, limits))
			fail_msg("%s %s: err='%s' does not say '%s'", opts[o].flag, above, err, limits);

		snprintf(var, sizeof(var), "%s=%s", opts[o].var, above);
		assert_bad(PARSE_ENV(ARGS(var), NULL), opts[o].var);
		assert_non_null(strstr(err, limits));
	}
}

/* A list one item past its array: refused from the environment, with the capacity. */
static void assert_list_full(const char *var, size_t cap, char sep, const char *fmt)
{
	static char env[64 * 1024];
	char want[64];
	size_t o = (size_t)snprintf(env, sizeof(env), "%s=", var);

	for (size_t i = 0; i <= cap; i++)
		o += (size_t)snprintf(env + o, sizeof(env) - o, fmt, (unsigned)(i + 1), sep);
	assert_true(o < sizeof(env));
	assert_bad(PARSE_ENV(ARGS(env), NULL), var);
	snprintf(want, sizeof(want), "at most %zu can be given", cap);
	if (!strstr(err, want))
		fail_msg("%s: err='%s' does not say '%s'", var, err, want);
}

static void test_list_capacity_in_messages(void **state)
{
	const struct {
		const char *var;
		size_t cap;
		char sep;
		const char *fmt;
	} lists[] = {
		{ "SOCKREAP_PORT", ARRAY_SIZE(cfg.ports), ',', "%u%c" },
		{ "SOCKREAP_EXCLUDE_PORT", ARRAY_SIZE(cfg.exclude_ports), ',', "%u%c" },
		{ "SOCKREAP_CGROUP", ARRAY_SIZE(cfg.cgroups), ',', "/c%u%c" },
		{ "SOCKREAP_TARGET", ARRAY_SIZE(cfg.targets), ';', "port=%u%c" },
	};
	/* A target's own lists, and its string sizes, from its arrays too; and a
	 * target's rules share the flags' limits. */
	const struct parse_case targets[] = {
		{ "5 cgroups in a target",
		  ARGS("--target", "cgroup=/a,cgroup=/b,cgroup=/c,cgroup=/d,cgroup=/e"), .bad = "--target",
		  .says = "at most 4 can be given" },
		{ "9 ports in a target",
		  ARGS("--target", "port=1,port=2,port=3,port=4,port=5,port=6,port=7,port=8,port=9"),
		  .bad = "--target", .says = "at most 8 can be given" },
		{ "a target name of 32 bytes", ARGS("--target", "name=abcdefghijklmnopqrstuvwxyz012345"),
		  .bad = "--target", .says = "at most 31 bytes" },
		{ "no grace in a target", ARGS("--target", "stall-grace=0"), .bad = "--target",
		  .says = "from 0.001 to 31536000" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(lists); i++)
		assert_list_full(lists[i].var, lists[i].cap, lists[i].sep, lists[i].fmt);
	check_parses(targets, ARRAY_SIZE(targets));
}

static void test_string_sizes_in_messages(void **state)
{
	char long_path[SR_PATH_MAX + 1], sock_long[sizeof(cfg.control_socket) + 1],
		sock_fits[sizeof(cfg.control_socket)];
	const struct parse_case cases[] = {
		{ "a metrics file of 4096 bytes", ARGS("--metrics-file", long_path),
		  .bad = "--metrics-file", .says = "at most 4095 bytes" },
		{ "a cgroup of 4096 bytes", ARGS("--cgroup", long_path), .bad = "--cgroup",
		  .says = "at most 4095 bytes" },
		{ "a control socket of 108 bytes", ARGS("--control-socket", sock_long),
		  .bad = "--control-socket", .says = "at most 107 bytes, or off" },
		{ "a control socket of 107 bytes: fits", ARGS("--control-socket", sock_fits),
		  WANT(TEXT(cfg.control_socket, sock_fits)) },
		{ "no control socket", ARGS("--control-socket", "off"),
		  WANT(TEXT(cfg.control_socket, "")) },
	};

	(void)state;
	memset(long_path, 'p', sizeof(long_path) - 1);
	long_path[sizeof(long_path) - 1] = '\0';
	memset(sock_long, 's', sizeof(sock_long) - 1);
	sock_long[sizeof(sock_long) - 1] = '\0';
	memset(sock_fits, 's', sizeof(sock_fits) - 1);
	sock_fits[sizeof(sock_fits) - 1] = '\0';
	check_parses(cases, ARRAY_SIZE(cases));
}

/* The enum-valued options share one mapper: every name accepted, all listed when wrong. */
static void test_enum_options(void **state)
{
	const struct parse_case cases[] = {
		{ "auto by default", ARGS("--dry-run"), WANT(NUM(cfg.kill_method, REAP_METHOD_AUTO)) },
		{ "shutdown", ARGS("--kill-method", "shutdown"),
		  WANT(NUM(cfg.kill_method, REAP_METHOD_SHUTDOWN)) },
		{ "destroy, with '='", ARGS("--kill-method=destroy"),
		  WANT(NUM(cfg.kill_method, REAP_METHOD_DESTROY)) },
		{ "the flag over the variable", ARGS("--kill-method", "auto"),
		  WANT(NUM(cfg.kill_method, REAP_METHOD_AUTO)),
		  .env = ARGS("SOCKREAP_KILL_METHOD=destroy") },
		{ "the variable", .env = ARGS("SOCKREAP_KILL_METHOD=shutdown"),
		  .want = WANT(NUM(cfg.kill_method, REAP_METHOD_SHUTDOWN)) },
		{ "names are lower case", ARGS("--kill-method", "Destroy"), .bad = "--kill-method",
		  .says = "use auto, shutdown or destroy" },
		{ "an unknown send path", ARGS("--send-path", "kprobe"), .bad = "--send-path",
		  .says = "use auto, tracepoint, fentry or sweep" },
		{ "an unknown log format", ARGS("--log-format", "xml"), .bad = "--log-format",
		  .says = "use logfmt or json" },
		{ "an empty variable", .env = ARGS("SOCKREAP_KILL_METHOD="),
		  .bad = "SOCKREAP_KILL_METHOD" },
	};

	(void)state;
	check_parses(cases, ARRAY_SIZE(cases));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_seconds_flags),
		cmocka_unit_test(test_boolean_flags),
		cmocka_unit_test(test_cgroup_repeatable),
		cmocka_unit_test(test_ports_repeatable),
		cmocka_unit_test(test_ports_at_most_64),
		cmocka_unit_test(test_metrics_addr),
		cmocka_unit_test(test_metrics_file_log_format_capacity),
		cmocka_unit_test(test_send_path),
		cmocka_unit_test(test_flag_equals_value),
		cmocka_unit_test(test_env_variables),
		cmocka_unit_test(test_flag_wins_over_env),
		cmocka_unit_test(test_bad_numbers),
		cmocka_unit_test(test_bad_env_names_variable),
		cmocka_unit_test(test_bad_flags),
		cmocka_unit_test(test_bad_metrics_addr),
		cmocka_unit_test(test_error_echo_stays_one_line),
		cmocka_unit_test(test_list_mode),
		cmocka_unit_test(test_help_and_version),
		cmocka_unit_test(test_parse_port_range),
		cmocka_unit_test(test_readme_table_matches_specs),
		cmocka_unit_test(test_split_hostport),
		cmocka_unit_test(test_target_parse_all_keys),
		cmocka_unit_test(test_target_has_flags_only_for_keys_given),
		cmocka_unit_test(test_target_dry_run_values),
		cmocka_unit_test(test_target_limits),
		cmocka_unit_test(test_target_direct_errors),
		cmocka_unit_test(test_target_flags_in_order),
		cmocka_unit_test(test_target_env),
		cmocka_unit_test(test_target_errors_through_options_parse),
		cmocka_unit_test(test_target_at_most_15),
		cmocka_unit_test(test_limits_in_messages),
		cmocka_unit_test(test_list_capacity_in_messages),
		cmocka_unit_test(test_string_sizes_in_messages),
		cmocka_unit_test(test_enum_options),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
