/* test_options.c - the command-line and SOCKREAP_* contract of user/options.c. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "options.h"

#define MAX_ARGS 160

/* struct sr_config holds 64 cgroup paths: keep it off the stack. */
static struct sr_config cfg;
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

/* A failed parse: -EINVAL, one line, starting "sockreap:", naming what. */
static void assert_bad(int rc, const char *names)
{
	if (rc != -EINVAL || strncmp(err, "sockreap:", 9) || !strstr(err, names) || strchr(err, '\n'))
		fail_msg("rc=%d err='%s', wanted -EINVAL and a line naming '%s'", rc, err, names);
}

static void assert_ok(int rc)
{
	if (rc != 0)
		fail_msg("rc=%d err='%s'", rc, err);
	assert_string_equal(err, "");
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
	assert_int_equal(c->send_path, SEND_PATH_AUTO);
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
	(void)state;
	assert_ok(PARSE("--stall-grace", "2.5"));
	assert_true(cfg.stall_grace_s == 2.5);
	assert_ok(PARSE("--stall-grace", "0.001"));
	assert_true(cfg.stall_grace_s == 0.001);
	assert_ok(PARSE("--stall-grace", "45"));
	assert_true(cfg.stall_grace_s == 45.0);

	assert_ok(PARSE("--idle-timeout", "90"));
	assert_true(cfg.idle_timeout_s == 90.0);
	assert_ok(PARSE("--idle-timeout", "0"));
	assert_true(cfg.idle_timeout_s == 0.0);
	assert_ok(PARSE("--idle-timeout", "0.5"));
	assert_true(cfg.idle_timeout_s == 0.5);

	assert_ok(PARSE("--close-wait-timeout", "600"));
	assert_true(cfg.close_wait_timeout_s == 600.0);
	assert_ok(PARSE("--close-wait-timeout", "0"));
	assert_true(cfg.close_wait_timeout_s == 0.0);
	assert_int_equal(PARSE("--close-wait-timeout", "-1"), -EINVAL);

	assert_ok(PARSE("--interval", "0.25"));
	assert_true(cfg.interval_s == 0.25);
	assert_ok(PARSE("--interval", "0.01"));
	assert_true(cfg.interval_s == 0.01);
	assert_ok(PARSE("--interval", "3600"));
	assert_true(cfg.interval_s == 3600.0);
	/* The rest stays at its default. */
	assert_true(cfg.stall_grace_s == 30.0);
}

static void test_boolean_flags(void **state)
{
	(void)state;
	assert_ok(PARSE("--all-netns"));
	assert_true(cfg.all_netns);
	assert_false(cfg.dry_run);
	assert_false(cfg.verbose);

	assert_ok(PARSE("--dry-run"));
	assert_true(cfg.dry_run);
	assert_false(cfg.all_netns);

	assert_ok(PARSE("--verbose"));
	assert_true(cfg.verbose);

	/* A flag never swallows the next argument as its value. */
	assert_ok(PARSE("--dry-run", "--all-netns", "--verbose"));
	assert_true(cfg.dry_run);
	assert_true(cfg.all_netns);
	assert_true(cfg.verbose);
}

static void test_cgroup_repeatable(void **state)
{
	(void)state;
	assert_ok(PARSE("--cgroup", "/kubepods/pod1", "--cgroup", "system.slice/x.service"));
	assert_int_equal(cfg.n_cgroups, 2);
	assert_string_equal(cfg.cgroups[0], "/kubepods/pod1");
	assert_string_equal(cfg.cgroups[1], "system.slice/x.service");

	assert_bad(PARSE("--cgroup", ""), "--cgroup");
}

static void test_ports_repeatable(void **state)
{
	(void)state;
	assert_ok(PARSE("--port", "80", "--port", "8000-8080", "--port=443"));
	assert_int_equal(cfg.n_ports, 3);
	assert_int_equal(cfg.ports[0].lo, 80);
	assert_int_equal(cfg.ports[0].hi, 80);
	assert_int_equal(cfg.ports[1].lo, 8000);
	assert_int_equal(cfg.ports[1].hi, 8080);
	assert_int_equal(cfg.ports[2].lo, 443);
	assert_int_equal(cfg.ports[2].hi, 443);
	assert_int_equal(cfg.n_exclude_ports, 0);

	assert_ok(PARSE("--exclude-port", "22", "--exclude-port", "1-1023", "--port", "65535"));
	assert_int_equal(cfg.n_exclude_ports, 2);
	assert_int_equal(cfg.exclude_ports[0].lo, 22);
	assert_int_equal(cfg.exclude_ports[0].hi, 22);
	assert_int_equal(cfg.exclude_ports[1].lo, 1);
	assert_int_equal(cfg.exclude_ports[1].hi, 1023);
	assert_int_equal(cfg.n_ports, 1);
	assert_int_equal(cfg.ports[0].lo, 65535);
	assert_int_equal(cfg.ports[0].hi, 65535);
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
	(void)state;
	assert_ok(PARSE("--metrics-addr", "0.0.0.0:9100"));
	assert_string_equal(cfg.metrics_addr, "0.0.0.0:9100");
	assert_ok(PARSE("--metrics-addr", "[::1]:9750"));
	assert_string_equal(cfg.metrics_addr, "[::1]:9750");
	assert_ok(PARSE("--metrics-addr", "localhost:1"));
	assert_string_equal(cfg.metrics_addr, "localhost:1");
	assert_ok(PARSE("--metrics-addr", "off"));
	assert_string_equal(cfg.metrics_addr, "");
}

static void test_metrics_file_log_format_capacity(void **state)
{
	(void)state;
	assert_ok(PARSE("--metrics-file", "/var/lib/node_exporter/sockreap.prom"));
	assert_string_equal(cfg.metrics_file, "/var/lib/node_exporter/sockreap.prom");
	assert_bad(PARSE("--metrics-file", ""), "--metrics-file");

	assert_ok(PARSE("--log-format", "json"));
	assert_int_equal(cfg.log_format, LOG_JSON);
	assert_ok(PARSE("--log-format", "json", "--log-format", "logfmt"));
	assert_int_equal(cfg.log_format, LOG_LOGFMT);

	assert_ok(PARSE("--map-capacity", "1024"));
	assert_int_equal(cfg.map_capacity, 1024);
	assert_ok(PARSE("--map-capacity", "64"));
	assert_int_equal(cfg.map_capacity, 64);
	assert_ok(PARSE("--map-capacity", "16777216"));
	assert_int_equal(cfg.map_capacity, 16777216);
	assert_bad(PARSE("--map-capacity", "63"), "--map-capacity");
	assert_bad(PARSE("--map-capacity", "16777217"), "--map-capacity");
	assert_bad(PARSE("--map-capacity", "-1"), "--map-capacity");
	assert_bad(PARSE("--map-capacity", "1.5"), "--map-capacity");
	assert_bad(PARSE("--map-capacity", "4294967360"), "--map-capacity");
}

static void test_send_path(void **state)
{
	(void)state;
	assert_ok(PARSE("--dry-run"));
	assert_int_equal(cfg.send_path, SEND_PATH_AUTO);
	assert_ok(PARSE("--send-path", "tracepoint"));
	assert_int_equal(cfg.send_path, SEND_PATH_TRACEPOINT);
	assert_ok(PARSE("--send-path=sweep"));
	assert_int_equal(cfg.send_path, SEND_PATH_SWEEP);
	assert_ok(PARSE("--send-path", "fentry"));
	assert_int_equal(cfg.send_path, SEND_PATH_FENTRY);
	assert_ok(PARSE_ENV(ARGS("SOCKREAP_SEND_PATH=sweep"), "--send-path", "auto"));
	assert_int_equal(cfg.send_path, SEND_PATH_AUTO);
	assert_ok(PARSE_ENV(ARGS("SOCKREAP_SEND_PATH=tracepoint"), NULL));
	assert_int_equal(cfg.send_path, SEND_PATH_TRACEPOINT);
	assert_bad(PARSE("--send-path", "kprobe"), "--send-path");
	assert_bad(PARSE("--send-path"), "--send-path");
	assert_bad(PARSE_ENV(ARGS("SOCKREAP_SEND_PATH=x"), NULL), "SOCKREAP_SEND_PATH");
}

static void test_flag_equals_value(void **state)
{
	(void)state;
	assert_ok(PARSE("--stall-grace=7.5", "--idle-timeout=60", "--interval=2", "--cgroup=/a",
			"--port=1-2", "--exclude-port=3", "--metrics-addr=[::]:9750",
			"--metrics-file=/tmp/m.prom", "--log-format=json", "--map-capacity=128",
			"--dry-run=true", "--all-netns=yes", "--verbose=on"));
	assert_true(cfg.stall_grace_s == 7.5);
	assert_true(cfg.idle_timeout_s == 60.0);
	assert_true(cfg.interval_s == 2.0);
	assert_int_equal(cfg.n_cgroups, 1);
	assert_string_equal(cfg.cgroups[0], "/a");
	assert_int_equal(cfg.n_ports, 1);
	assert_int_equal(cfg.ports[0].lo, 1);
	assert_int_equal(cfg.ports[0].hi, 2);
	assert_int_equal(cfg.n_exclude_ports, 1);
	assert_int_equal(cfg.exclude_ports[0].lo, 3);
	assert_string_equal(cfg.metrics_addr, "[::]:9750");
	assert_string_equal(cfg.metrics_file, "/tmp/m.prom");
	assert_int_equal(cfg.log_format, LOG_JSON);
	assert_int_equal(cfg.map_capacity, 128);
	assert_true(cfg.dry_run);
	assert_true(cfg.all_netns);
	assert_true(cfg.verbose);

	assert_ok(PARSE("--dry-run=0", "--all-netns=false", "--verbose=no"));
	assert_false(cfg.dry_run);
	assert_false(cfg.all_netns);
	assert_false(cfg.verbose);

	/* A value may itself contain '='. */
	assert_ok(PARSE("--cgroup=/a=b"));
	assert_string_equal(cfg.cgroups[0], "/a=b");

	assert_bad(PARSE("--dry-run=maybe"), "--dry-run");
	assert_bad(PARSE("--stall-grace="), "--stall-grace");
}

static void test_env_variables(void **state)
{
	(void)state;
	assert_ok(PARSE_ENV(ARGS("SOCKREAP_STALL_GRACE=30.5", "SOCKREAP_IDLE_TIMEOUT=90",
				 "SOCKREAP_INTERVAL=0.5", "SOCKREAP_ALL_NETNS=true",
				 "SOCKREAP_DRY_RUN=1", "SOCKREAP_VERBOSE=yes",
				 "SOCKREAP_CGROUP=/kubepods/a,/kubepods/b", "SOCKREAP_PORT=80,443",
				 "SOCKREAP_EXCLUDE_PORT=22,6000-6100",
				 "SOCKREAP_METRICS_ADDR=[::1]:9100",
				 "SOCKREAP_METRICS_FILE=/run/sockreap.prom",
				 "SOCKREAP_LOG_FORMAT=json", "SOCKREAP_MAP_CAPACITY=4096",
				 "SOCKREAP_CLOSE_WAIT_TIMEOUT=300"),
			    NULL));
	assert_int_equal(cfg.mode, MODE_RUN);
	assert_true(cfg.close_wait_timeout_s == 300.0);
	assert_true(cfg.stall_grace_s == 30.5);
	assert_true(cfg.idle_timeout_s == 90.0);
	assert_true(cfg.interval_s == 0.5);
	assert_true(cfg.all_netns);
	assert_true(cfg.dry_run);
	assert_true(cfg.verbose);
	assert_int_equal(cfg.n_cgroups, 2);
	assert_string_equal(cfg.cgroups[0], "/kubepods/a");
	assert_string_equal(cfg.cgroups[1], "/kubepods/b");
	assert_int_equal(cfg.n_ports, 2);
	assert_int_equal(cfg.ports[0].lo, 80);
	assert_int_equal(cfg.ports[0].hi, 80);
	assert_int_equal(cfg.ports[1].lo, 443);
	assert_int_equal(cfg.ports[1].hi, 443);
	assert_int_equal(cfg.n_exclude_ports, 2);
	assert_int_equal(cfg.exclude_ports[0].lo, 22);
	assert_int_equal(cfg.exclude_ports[1].lo, 6000);
	assert_int_equal(cfg.exclude_ports[1].hi, 6100);
	assert_string_equal(cfg.metrics_addr, "[::1]:9100");
	assert_string_equal(cfg.metrics_file, "/run/sockreap.prom");
	assert_int_equal(cfg.log_format, LOG_JSON);
	assert_int_equal(cfg.map_capacity, 4096);

	/* Empty list items are skipped; false-ish booleans are false. */
	assert_ok(PARSE_ENV(ARGS("SOCKREAP_PORT=80,,443,", "SOCKREAP_DRY_RUN=0",
				 "SOCKREAP_METRICS_ADDR=off"),
			    NULL));
	assert_int_equal(cfg.n_ports, 2);
	assert_int_equal(cfg.ports[1].lo, 443);
	assert_false(cfg.dry_run);
	assert_string_equal(cfg.metrics_addr, "");

	assert_ok(PARSE_ENV(ARGS("SOCKREAP_DRY_RUN="), NULL));
	assert_false(cfg.dry_run);
}

static void test_flag_wins_over_env(void **state)
{
	const char *const *env = ARGS("SOCKREAP_STALL_GRACE=30", "SOCKREAP_PORT=80,443",
				      "SOCKREAP_DRY_RUN=1", "SOCKREAP_CGROUP=/a,/b",
				      "SOCKREAP_EXCLUDE_PORT=22", "SOCKREAP_LOG_FORMAT=json",
				      "SOCKREAP_METRICS_ADDR=off");

	(void)state;
	assert_ok(PARSE_ENV(env, "--stall-grace", "5", "--port", "8080", "--dry-run=0",
			    "--cgroup", "/c", "--log-format", "logfmt", "--metrics-addr",
			    "127.0.0.1:1"));
	assert_true(cfg.stall_grace_s == 5.0);
	/* The repeatable flag replaces the environment's list, it does not extend it. */
	assert_int_equal(cfg.n_ports, 1);
	assert_int_equal(cfg.ports[0].lo, 8080);
	assert_int_equal(cfg.ports[0].hi, 8080);
	assert_int_equal(cfg.n_cgroups, 1);
	assert_string_equal(cfg.cgroups[0], "/c");
	assert_false(cfg.dry_run);
	assert_int_equal(cfg.log_format, LOG_LOGFMT);
	assert_string_equal(cfg.metrics_addr, "127.0.0.1:1");
	/* Options not given on the command line keep the environment's value. */
	assert_int_equal(cfg.n_exclude_ports, 1);
	assert_int_equal(cfg.exclude_ports[0].lo, 22);

	/* Two flags after an environment list: both flags, nothing of the env. */
	assert_ok(PARSE_ENV(env, "--port", "1", "--port", "2"));
	assert_int_equal(cfg.n_ports, 2);
	assert_int_equal(cfg.ports[0].lo, 1);
	assert_int_equal(cfg.ports[1].lo, 2);
	assert_int_equal(cfg.n_cgroups, 2);
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
	/* Below the minimum. */
	assert_bad(PARSE("--stall-grace", "0"), "--stall-grace");
	assert_bad(PARSE("--interval", "0"), "--interval");
	assert_bad(PARSE("--interval", "0.001"), "--interval");
	assert_bad(PARSE("--interval", "3601"), "--interval");
	assert_bad(PARSE("--idle-timeout", "-0.5"), "--idle-timeout");
}

static void test_bad_env_names_variable(void **state)
{
	(void)state;
	assert_bad(PARSE_ENV(ARGS("SOCKREAP_STALL_GRACE=abc"), NULL), "SOCKREAP_STALL_GRACE");
	assert_non_null(strstr(err, "'abc'"));
	assert_bad(PARSE_ENV(ARGS("SOCKREAP_INTERVAL=0"), NULL), "SOCKREAP_INTERVAL");
	assert_bad(PARSE_ENV(ARGS("SOCKREAP_PORT=80,0"), NULL), "SOCKREAP_PORT");
	assert_bad(PARSE_ENV(ARGS("SOCKREAP_PORT=80,65536"), NULL), "SOCKREAP_PORT");
	assert_bad(PARSE_ENV(ARGS("SOCKREAP_EXCLUDE_PORT=10-5"), NULL), "SOCKREAP_EXCLUDE_PORT");
	assert_bad(PARSE_ENV(ARGS("SOCKREAP_DRY_RUN=maybe"), NULL), "SOCKREAP_DRY_RUN");
	assert_bad(PARSE_ENV(ARGS("SOCKREAP_LOG_FORMAT=xml"), NULL), "SOCKREAP_LOG_FORMAT");
	assert_bad(PARSE_ENV(ARGS("SOCKREAP_METRICS_ADDR=foo"), NULL), "SOCKREAP_METRICS_ADDR");
	assert_bad(PARSE_ENV(ARGS("SOCKREAP_MAP_CAPACITY=1"), NULL), "SOCKREAP_MAP_CAPACITY");
	/* It says it is the environment, not a flag. */
	assert_null(strstr(err, "--map-capacity"));
}

static void test_out_of_range(void **state)
{
	(void)state;
	assert_bad(PARSE("--port", "0"), "--port");
	assert_bad(PARSE("--port", "65536"), "--port");
	assert_bad(PARSE("--port", "10-5"), "--port");
	assert_bad(PARSE("--port", "abc"), "--port");
	assert_bad(PARSE("--port", "-1"), "--port");
	assert_bad(PARSE("--port", ""), "--port");
	assert_bad(PARSE("--exclude-port", "0"), "--exclude-port");
	assert_bad(PARSE("--exclude-port", "70000"), "--exclude-port");
}

static void test_bad_log_format(void **state)
{
	(void)state;
	assert_bad(PARSE("--log-format", "xml"), "--log-format");
	assert_bad(PARSE("--log-format", "JSON"), "--log-format");
	assert_bad(PARSE("--log-format", ""), "--log-format");
	assert_bad(PARSE("--log-format=text"), "--log-format");
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

static void test_unknown_and_missing(void **state)
{
	(void)state;
	assert_bad(PARSE("--bogus"), "--bogus");
	assert_bad(PARSE("--bogus=1"), "--bogus");
	assert_bad(PARSE("--stall"), "--stall"); /* no prefix matching */
	assert_bad(PARSE("--stall-grace-s", "3"), "--stall-grace-s");
	assert_bad(PARSE("--"), "--");
	assert_bad(PARSE("-x"), "-x");
	assert_bad(PARSE("positional"), "positional");
	assert_bad(PARSE("--dry-run", "list"), "list"); /* list is a mode, first only */

	assert_bad(PARSE("--stall-grace"), "--stall-grace");
	assert_bad(PARSE("--port"), "--port");
	assert_bad(PARSE("--cgroup"), "--cgroup");
	assert_bad(PARSE("--metrics-addr"), "--metrics-addr");
	assert_bad(PARSE("--dry-run", "--log-format"), "--log-format");
}

static void test_list_mode(void **state)
{
	(void)state;
	assert_ok(PARSE("list"));
	assert_int_equal(cfg.mode, MODE_LIST);
	assert_false(cfg.list_json);

	assert_ok(PARSE("list", "--json"));
	assert_int_equal(cfg.mode, MODE_LIST);
	assert_true(cfg.list_json);

	assert_bad(PARSE("list", "--bogus"), "--bogus");
	assert_non_null(strstr(err, "list"));
	assert_bad(PARSE("list", "--json", "extra"), "extra");
	assert_bad(PARSE("list", "--dry-run"), "--dry-run");
}

static void test_help_and_version(void **state)
{
	(void)state;
	assert_ok(PARSE("--help"));
	assert_int_equal(cfg.mode, MODE_HELP);
	assert_ok(PARSE("-h"));
	assert_int_equal(cfg.mode, MODE_HELP);
	assert_ok(PARSE("--dry-run", "--help"));
	assert_int_equal(cfg.mode, MODE_HELP);
	assert_ok(PARSE("--version"));
	assert_int_equal(cfg.mode, MODE_VERSION);

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

static void test_parse_port_range(void **state)
{
	static const char *const bad_values[] = { "",	   "0",	   "65536", "10-5", "-5",
						  "5-",	   "-",	   "a",	    "80a",  " 80",
						  "80 ",   "+80",  "1-2-3", "0-10", "10-65536",
						  "99999999999999999999", "0x50", "1--2" };
	struct sr_port_range r;

	(void)state;
	assert_int_equal(options_parse_port_range("80", &r), 0);
	assert_int_equal(r.lo, 80);
	assert_int_equal(r.hi, 80);
	assert_int_equal(options_parse_port_range("1-65535", &r), 0);
	assert_int_equal(r.lo, 1);
	assert_int_equal(r.hi, 65535);
	assert_int_equal(options_parse_port_range("10-10", &r), 0);
	assert_int_equal(r.lo, 10);
	assert_int_equal(r.hi, 10);
	assert_int_equal(options_parse_port_range("65535", &r), 0);
	assert_int_equal(r.lo, 65535);
	assert_int_equal(r.hi, 65535);

	for (size_t i = 0; i < sizeof(bad_values) / sizeof(bad_values[0]); i++) {
		r.lo = 7;
		r.hi = 9;
		if (options_parse_port_range(bad_values[i], &r) != -EINVAL)
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
	char host[64];
	uint16_t port = 0;

	(void)state;
	assert_int_equal(options_split_hostport("127.0.0.1:9750", host, sizeof(host), &port), 0);
	assert_string_equal(host, "127.0.0.1");
	assert_int_equal(port, 9750);
	assert_int_equal(options_split_hostport("[::1]:9750", host, sizeof(host), &port), 0);
	assert_string_equal(host, "::1");
	assert_int_equal(port, 9750);
	assert_int_equal(options_split_hostport("[fe80::1%eth0]:65535", host, sizeof(host), &port), 0);
	assert_string_equal(host, "fe80::1%eth0");
	assert_int_equal(port, 65535);
	assert_int_equal(options_split_hostport("localhost:1", host, sizeof(host), &port), 0);
	assert_string_equal(host, "localhost");
	assert_int_equal(port, 1);

	/* The host buffer's size is respected: "abcdef" needs 7 bytes. */
	assert_int_equal(options_split_hostport("abcdef:80", host, 6, &port), -EINVAL);
	assert_int_equal(options_split_hostport("[abcdef]:80", host, 6, &port), -EINVAL);
	assert_int_equal(options_split_hostport("abcdef:80", host, 7, &port), 0);
	assert_string_equal(host, "abcdef");

	for (size_t i = 0; i < sizeof(bad_values) / sizeof(bad_values[0]); i++) {
		port = 4242;
		if (options_split_hostport(bad_values[i], host, sizeof(host), &port) != -EINVAL)
			fail_msg("'%s' accepted", bad_values[i]);
		assert_int_equal(port, 4242);
	}
}

/* A failed options_parse_target(): -EINVAL, one line, naming the key and showing the value. */
static void assert_target_bad(const char *spec, const char *key, const char *val)
{
	struct sr_target t;
	char quoted[128];
	int rc;

	memset(err, 'X', sizeof(err) - 1);
	err[sizeof(err) - 1] = '\0';
	rc = options_parse_target(spec, &t, err, sizeof(err));
	if (rc != -EINVAL || strchr(err, '\n') || strlen(err) >= sizeof(err) - 1)
		fail_msg("spec '%s': rc=%d err='%s', wanted -EINVAL and one line", spec, rc, err);
	if (key) {
		snprintf(quoted, sizeof(quoted), "'%s'", key);
		if (!strstr(err, quoted))
			fail_msg("spec '%s': err='%s' does not name key %s", spec, err, quoted);
	}
	if (val) {
		snprintf(quoted, sizeof(quoted), "'%s'", val);
		if (!strstr(err, quoted))
			fail_msg("spec '%s': err='%s' does not show value %s", spec, err, quoted);
	}
}

static void test_target_parse_all_keys(void **state)
{
	struct sr_target t;

	(void)state;
	memset(&t, 0xa5, sizeof(t));
	assert_int_equal(options_parse_target("name=ws,cgroup=/kubepods/podX,port=8765,"
					      "cgroup=system.slice/x.service,port=9000-9100,"
					      "stall-grace=2.5,idle-timeout=90,close-wait-timeout=120,"
					      "dry-run=yes",
					      &t, err, sizeof(err)),
			 0);
	assert_true(t.has_close_wait_timeout);
	assert_true(t.close_wait_timeout_s == 120.0);
	assert_string_equal(t.name, "ws");
	assert_int_equal(t.n_cgroups, 2);
	assert_string_equal(t.cgroups[0], "/kubepods/podX");
	assert_string_equal(t.cgroups[1], "system.slice/x.service");
	assert_int_equal(t.n_ports, 2);
	assert_int_equal(t.ports[0].lo, 8765);
	assert_int_equal(t.ports[0].hi, 8765);
	assert_int_equal(t.ports[1].lo, 9000);
	assert_int_equal(t.ports[1].hi, 9100);
	assert_true(t.has_stall_grace);
	assert_true(t.stall_grace_s == 2.5);
	assert_true(t.has_idle_timeout);
	assert_true(t.idle_timeout_s == 90.0);
	assert_true(t.has_dry_run);
	assert_true(t.dry_run);

	/* A value may contain '='; a trailing ',' ends the list. */
	memset(&t, 0xa5, sizeof(t));
	assert_int_equal(options_parse_target("cgroup=/a=b,", &t, err, sizeof(err)), 0);
	assert_int_equal(t.n_cgroups, 1);
	assert_string_equal(t.cgroups[0], "/a=b");
	assert_int_equal(t.n_ports, 0);
	assert_string_equal(t.name, "");
}

static void test_target_has_flags_only_for_keys_given(void **state)
{
	struct sr_target t;

	(void)state;
	/* Garbage beforehand: the parser starts from a clean target. */
	memset(&t, 0xa5, sizeof(t));
	assert_int_equal(options_parse_target("port=80", &t, err, sizeof(err)), 0);
	assert_string_equal(t.name, "");
	assert_int_equal(t.n_cgroups, 0);
	assert_int_equal(t.n_ports, 1);
	assert_int_equal(t.ports[0].lo, 80);
	assert_int_equal(t.ports[0].hi, 80);
	assert_false(t.has_stall_grace);
	assert_false(t.has_idle_timeout);
	assert_false(t.has_dry_run);
	assert_false(t.dry_run);

	memset(&t, 0xa5, sizeof(t));
	assert_int_equal(options_parse_target("stall-grace=5", &t, err, sizeof(err)), 0);
	assert_true(t.has_stall_grace);
	assert_true(t.stall_grace_s == 5.0);
	assert_false(t.has_idle_timeout);
	assert_false(t.has_dry_run);
	assert_int_equal(t.n_ports, 0);
	assert_int_equal(t.n_cgroups, 0);

	/* An explicit 0 is given (it turns rx_idle off for this target), not absent. */
	memset(&t, 0xa5, sizeof(t));
	assert_int_equal(options_parse_target("idle-timeout=0", &t, err, sizeof(err)), 0);
	assert_true(t.has_idle_timeout);
	assert_true(t.idle_timeout_s == 0.0);
	assert_false(t.has_stall_grace);
	assert_false(t.has_dry_run);

	memset(&t, 0xa5, sizeof(t));
	assert_int_equal(options_parse_target("dry-run=off,name=x", &t, err, sizeof(err)), 0);
	assert_true(t.has_dry_run);
	assert_false(t.dry_run);
	assert_false(t.has_stall_grace);
	assert_false(t.has_idle_timeout);
	assert_string_equal(t.name, "x");
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
	struct sr_target t;
	char spec[512], name[40];

	(void)state;
	/* SR_TARGET_CGROUPS cgroups, SR_TARGET_PORTS ports: accepted. */
	assert_int_equal(SR_TARGET_CGROUPS, 4);
	assert_int_equal(SR_TARGET_PORTS, 8);
	assert_int_equal(options_parse_target("cgroup=/a,cgroup=/b,cgroup=/c,cgroup=/d", &t, err,
					      sizeof(err)),
			 0);
	assert_int_equal(t.n_cgroups, 4);
	assert_string_equal(t.cgroups[3], "/d");
	assert_int_equal(options_parse_target("port=1,port=2,port=3,port=4,port=5,port=6,port=7,"
					      "port=8-65535",
					      &t, err, sizeof(err)),
			 0);
	assert_int_equal(t.n_ports, 8);
	assert_int_equal(t.ports[7].lo, 8);
	assert_int_equal(t.ports[7].hi, 65535);

	/* One more: refused, naming the key and the value that did not fit. */
	assert_target_bad("cgroup=/a,cgroup=/b,cgroup=/c,cgroup=/d,cgroup=/e", "cgroup", "/e");
	assert_target_bad("port=1,port=2,port=3,port=4,port=5,port=6,port=7,port=8,port=9", "port",
			  "9");

	/* name: at most 31 characters (it must fit name[32] with its NUL). */
	memset(name, 'n', 31);
	name[31] = '\0';
	snprintf(spec, sizeof(spec), "name=%s", name);
	assert_int_equal(options_parse_target(spec, &t, err, sizeof(err)), 0);
	assert_string_equal(t.name, name);
	memset(name, 'n', 32);
	name[32] = '\0';
	snprintf(spec, sizeof(spec), "name=%s", name);
	assert_target_bad(spec, "name", name);

	/* stall-grace: from 0.001 s to a year; idle-timeout from 0. */
	assert_int_equal(options_parse_target("stall-grace=0.001", &t, err, sizeof(err)), 0);
	assert_true(t.stall_grace_s == 0.001);
	assert_int_equal(options_parse_target("stall-grace=31536000", &t, err, sizeof(err)), 0);
	assert_true(t.stall_grace_s == 31536000.0);
	assert_target_bad("stall-grace=31536001", "stall-grace", "31536001");
	assert_target_bad("idle-timeout=-1", "idle-timeout", "-1");
}

static void test_target_direct_errors(void **state)
{
	struct sr_target t;

	(void)state;
	memset(err, 'X', sizeof(err) - 1);
	err[sizeof(err) - 1] = '\0';
	assert_int_equal(options_parse_target("", &t, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "empty"));

	assert_target_bad("port", NULL, "port");
	assert_target_bad("port=80,name", NULL, "name");
	assert_target_bad("foo=1", "foo", NULL);
	assert_target_bad("port=80,foo=1", "foo", NULL);
	assert_target_bad("port=0", "port", "0");
	assert_target_bad("port=9-3", "port", "9-3");
	assert_target_bad("port=65536", "port", "65536");
	assert_target_bad("port=", "port", "");
	assert_target_bad("stall-grace=abc", "stall-grace", "abc");
	assert_target_bad("stall-grace=0", "stall-grace", "0");
	assert_target_bad("idle-timeout=x", "idle-timeout", "x");
	assert_target_bad("dry-run=maybe", "dry-run", "maybe");
	assert_target_bad("name=", "name", "");
	assert_target_bad("cgroup=", "cgroup", "");
	/* Keys are exact: no case folding, no spaces. */
	assert_target_bad("Port=80", "Port", NULL);
	assert_target_bad("port =80", "port ", NULL);

	/* A short error buffer is respected (ASan watches). */
	{
		char small[8];

		assert_int_equal(options_parse_target("foo=1", &t, small, sizeof(small)), -EINVAL);
		assert_int_equal(strlen(small), sizeof(small) - 1);
	}
}

static void test_target_flags_in_order(void **state)
{
	(void)state;
	assert_ok(PARSE("--target", "name=a,port=80", "--stall-grace", "7",
			"--target=port=81,stall-grace=5", "--target", "cgroup=/k,dry-run=1"));
	assert_int_equal(cfg.n_targets, 3);
	assert_string_equal(cfg.targets[0].name, "a");
	assert_int_equal(cfg.targets[0].n_ports, 1);
	assert_int_equal(cfg.targets[0].ports[0].lo, 80);
	assert_false(cfg.targets[0].has_stall_grace);
	assert_string_equal(cfg.targets[1].name, "");
	assert_int_equal(cfg.targets[1].ports[0].lo, 81);
	assert_true(cfg.targets[1].has_stall_grace);
	assert_true(cfg.targets[1].stall_grace_s == 5.0);
	assert_int_equal(cfg.targets[2].n_ports, 0);
	assert_int_equal(cfg.targets[2].n_cgroups, 1);
	assert_string_equal(cfg.targets[2].cgroups[0], "/k");
	assert_true(cfg.targets[2].has_dry_run);
	assert_true(cfg.targets[2].dry_run);
	/* The plain flags stay the defaults, untouched by the targets. */
	assert_true(cfg.stall_grace_s == 7.0);
	assert_false(cfg.dry_run);
	assert_int_equal(cfg.n_ports, 0);
	assert_int_equal(cfg.n_cgroups, 0);

	assert_ok(PARSE("--dry-run"));
	assert_int_equal(cfg.n_targets, 0);
}

static void test_target_env(void **state)
{
	const char *const *env = ARGS("SOCKREAP_TARGET=port=80,stall-grace=5;name=b,port=81");

	(void)state;
	assert_ok(PARSE_ENV(env, NULL));
	assert_int_equal(cfg.n_targets, 2);
	assert_string_equal(cfg.targets[0].name, "");
	assert_int_equal(cfg.targets[0].n_ports, 1);
	assert_int_equal(cfg.targets[0].ports[0].lo, 80);
	assert_true(cfg.targets[0].has_stall_grace);
	assert_true(cfg.targets[0].stall_grace_s == 5.0);
	assert_string_equal(cfg.targets[1].name, "b");
	assert_int_equal(cfg.targets[1].ports[0].lo, 81);
	assert_false(cfg.targets[1].has_stall_grace);

	/* Other flags keep the environment's targets. */
	assert_ok(PARSE_ENV(env, "--port", "9"));
	assert_int_equal(cfg.n_targets, 2);
	assert_int_equal(cfg.n_ports, 1);

	/* A --target flag replaces the environment's list entirely. */
	assert_ok(PARSE_ENV(env, "--target", "port=90"));
	assert_int_equal(cfg.n_targets, 1);
	assert_int_equal(cfg.targets[0].n_ports, 1);
	assert_int_equal(cfg.targets[0].ports[0].lo, 90);
	assert_false(cfg.targets[0].has_stall_grace); /* nothing left over from the env's first */
	assert_string_equal(cfg.targets[0].name, "");

	assert_ok(PARSE_ENV(env, "--target", "name=x,port=1", "--target", "name=y,port=2"));
	assert_int_equal(cfg.n_targets, 2);
	assert_string_equal(cfg.targets[0].name, "x");
	assert_string_equal(cfg.targets[1].name, "y");

	/* Empty items between ';' are skipped, as in the other lists. */
	assert_ok(PARSE_ENV(ARGS("SOCKREAP_TARGET=;port=1;;port=2,dry-run=no;"), NULL));
	assert_int_equal(cfg.n_targets, 2);
	assert_int_equal(cfg.targets[0].ports[0].lo, 1);
	assert_int_equal(cfg.targets[1].ports[0].lo, 2);
	assert_true(cfg.targets[1].has_dry_run);
	assert_false(cfg.targets[1].dry_run);
	assert_ok(PARSE_ENV(ARGS("SOCKREAP_TARGET="), NULL));
	assert_int_equal(cfg.n_targets, 0);
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
	(void)state;
	assert_list_full("SOCKREAP_PORT", sizeof(cfg.ports) / sizeof(cfg.ports[0]), ',', "%u%c");
	assert_list_full("SOCKREAP_EXCLUDE_PORT",
			 sizeof(cfg.exclude_ports) / sizeof(cfg.exclude_ports[0]), ',', "%u%c");
	assert_list_full("SOCKREAP_CGROUP", sizeof(cfg.cgroups) / sizeof(cfg.cgroups[0]), ',',
			 "/c%u%c");
	assert_list_full("SOCKREAP_TARGET", sizeof(cfg.targets) / sizeof(cfg.targets[0]), ';',
			 "port=%u%c");

	/* A target's own lists, and its string sizes, from its arrays too. */
	assert_bad(PARSE("--target", "cgroup=/a,cgroup=/b,cgroup=/c,cgroup=/d,cgroup=/e"), "--target");
	assert_non_null(strstr(err, "at most 4 can be given"));
	assert_bad(PARSE("--target", "port=1,port=2,port=3,port=4,port=5,port=6,port=7,port=8,port=9"),
		   "--target");
	assert_non_null(strstr(err, "at most 8 can be given"));
	assert_bad(PARSE("--target", "name=abcdefghijklmnopqrstuvwxyz012345"), "--target");
	assert_non_null(strstr(err, "at most 31 bytes"));
	/* ... and a target's rules share the flags' limits. */
	assert_bad(PARSE("--target", "stall-grace=0"), "--target");
	assert_non_null(strstr(err, "from 0.001 to 31536000"));
}

static void test_string_sizes_in_messages(void **state)
{
	char long_path[SR_PATH_MAX + 1], sock[sizeof(cfg.control_socket) + 1];

	(void)state;
	memset(long_path, 'p', sizeof(long_path) - 1);
	long_path[sizeof(long_path) - 1] = '\0';
	assert_bad(PARSE("--metrics-file", long_path), "--metrics-file");
	assert_non_null(strstr(err, "at most 4095 bytes"));
	assert_bad(PARSE("--cgroup", long_path), "--cgroup");
	assert_non_null(strstr(err, "at most 4095 bytes"));

	memset(sock, 's', sizeof(sock) - 1);
	sock[sizeof(sock) - 1] = '\0';
	assert_bad(PARSE("--control-socket", sock), "--control-socket");
	assert_non_null(strstr(err, "at most 107 bytes, or off"));
	sock[sizeof(sock) - 2] = '\0'; /* 107 bytes: fits */
	assert_ok(PARSE("--control-socket", sock));
	assert_string_equal(cfg.control_socket, sock);
	assert_ok(PARSE("--control-socket", "off"));
	assert_string_equal(cfg.control_socket, "");
}

/* The enum-valued options share one mapper: every name accepted, all listed when wrong. */
static void test_enum_options(void **state)
{
	(void)state;
	assert_ok(PARSE("--dry-run"));
	assert_int_equal(cfg.kill_method, KILL_AUTO);
	assert_ok(PARSE("--kill-method", "shutdown"));
	assert_int_equal(cfg.kill_method, KILL_SHUTDOWN);
	assert_ok(PARSE("--kill-method=destroy"));
	assert_int_equal(cfg.kill_method, KILL_DESTROY);
	assert_ok(PARSE_ENV(ARGS("SOCKREAP_KILL_METHOD=destroy"), "--kill-method", "auto"));
	assert_int_equal(cfg.kill_method, KILL_AUTO);
	assert_ok(PARSE_ENV(ARGS("SOCKREAP_KILL_METHOD=shutdown"), NULL));
	assert_int_equal(cfg.kill_method, KILL_SHUTDOWN);

	assert_bad(PARSE("--kill-method", "Destroy"), "--kill-method");
	assert_non_null(strstr(err, "use auto, shutdown or destroy"));
	assert_bad(PARSE("--send-path", "kprobe"), "--send-path");
	assert_non_null(strstr(err, "use auto, tracepoint, fentry or sweep"));
	assert_bad(PARSE("--log-format", "xml"), "--log-format");
	assert_non_null(strstr(err, "use logfmt or json"));
	assert_bad(PARSE_ENV(ARGS("SOCKREAP_KILL_METHOD="), NULL), "SOCKREAP_KILL_METHOD");
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
		cmocka_unit_test(test_out_of_range),
		cmocka_unit_test(test_bad_log_format),
		cmocka_unit_test(test_bad_metrics_addr),
		cmocka_unit_test(test_unknown_and_missing),
		cmocka_unit_test(test_error_echo_stays_one_line),
		cmocka_unit_test(test_list_mode),
		cmocka_unit_test(test_help_and_version),
		cmocka_unit_test(test_parse_port_range),
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
