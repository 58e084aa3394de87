/* test_log.c - log_format_line(): quoting, escaping and truncation of event lines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "log.h"

#define KV(k, v) ((struct log_kv){ (k), (v), false })
#define NUM(k, v) ((struct log_kv){ (k), (v), true })

static char line[4096];

/* Format kvs and check the full line and the length it reports. */
static void expect_line(enum log_format fmt, const struct log_kv *kvs, size_t n, const char *want)
{
	size_t got;

	memset(line, 'Z', sizeof(line));
	got = log_format_line(line, sizeof(line), fmt, kvs, n);
	assert_string_equal(line, want);
	assert_int_equal(got, strlen(want));
}

/* One key=value pair, logfmt. */
static void expect_logfmt1(const char *val, const char *want)
{
	struct log_kv kv = KV("comm", val);

	expect_line(LOG_LOGFMT, &kv, 1, want);
}

static void expect_json1(const char *val, const char *want)
{
	struct log_kv kv = KV("comm", val);

	expect_line(LOG_JSON, &kv, 1, want);
}

/*
 * A logfmt reader (as Loki or `hl` would read a line): key=value pairs
 * separated by spaces, a value either bare or "quoted" with backslash escapes.
 * Collects the keys; fails on anything malformed.
 */
static size_t logfmt_keys(const char *s, char keys[][32], size_t max)
{
	size_t n = 0;

	while (*s && *s != '\n') {
		size_t kl = strcspn(s, "= \"\n");

		assert_true(kl > 0 && kl < 32 && s[kl] == '=');
		assert_true(n < max);
		memcpy(keys[n], s, kl);
		keys[n++][kl] = '\0';
		s += kl + 1;
		if (*s == '"') {
			for (s++; *s != '"'; s++) {
				assert_true(*s != '\0' && *s != '\n');
				if (*s == '\\')
					s++;
			}
			s++;
		} else {
			s += strcspn(s, " \n");
		}
		if (*s == ' ')
			s++;
	}
	assert_string_equal(s, "\n"); /* exactly one newline, at the end */
	return n;
}

static void test_logfmt_plain_unquoted(void **state)
{
	const struct log_kv kvs[] = { KV("event", "reap"), KV("reason", "send_stall"),
				      NUM("pid", "4242"), KV("laddr", "10.0.0.1:80"),
				      KV("raddr", "[::1]:51234"), NUM("stalled_s", "31.5") };

	(void)state;
	expect_line(LOG_LOGFMT, kvs, 6,
		    "event=reap reason=send_stall pid=4242 laddr=10.0.0.1:80 raddr=[::1]:51234 "
		    "stalled_s=31.5\n");
	expect_line(LOG_LOGFMT, kvs, 0, "\n");
}

static void test_logfmt_quoting(void **state)
{
	(void)state;
	expect_logfmt1("a b", "comm=\"a b\"\n");
	expect_logfmt1("say \"hi\"", "comm=\"say \\\"hi\\\"\"\n");
	expect_logfmt1("a=b", "comm=\"a=b\"\n");
	expect_logfmt1("a\\b", "comm=\"a\\\\b\"\n");
	expect_logfmt1("a\nb", "comm=\"a\\nb\"\n");
	expect_logfmt1("a\tb", "comm=\"a\\tb\"\n");
	expect_logfmt1("a\rb", "comm=\"a\\rb\"\n");
	expect_logfmt1("\x01\x1f", "comm=\"\\x01\\x1f\"\n");
	expect_logfmt1("del\x7f", "comm=\"del\\x7f\"\n");
	expect_logfmt1("caf\xc3\xa9", "comm=\"caf\\xc3\\xa9\"\n");
	expect_logfmt1("\xff", "comm=\"\\xff\"\n");
	expect_logfmt1(" lead", "comm=\" lead\"\n");
	/* Punctuation that logfmt does not care about stays bare. */
	expect_logfmt1("kworker/0:1-events", "comm=kworker/0:1-events\n");
}

static void test_empty_and_null_values(void **state)
{
	const struct log_kv kvs[] = { KV("a", ""), { "b", NULL, false }, NUM("c", ""),
				      { "d", NULL, true } };

	(void)state;
	expect_line(LOG_LOGFMT, kvs, 4, "a=\"\" b=\"\" c=\"\" d=\"\"\n");
	expect_line(LOG_JSON, kvs, 4, "{\"a\":\"\",\"b\":\"\",\"c\":\"\",\"d\":\"\"}\n");
}

static void test_json_numbers_and_strings(void **state)
{
	const struct log_kv kvs[] = { KV("event", "reap"), NUM("pid", "4242"), KV("comm", "nginx"),
				      NUM("queued", "3800000"), KV("fd", "7") };

	(void)state;
	expect_line(LOG_JSON, kvs, 5,
		    "{\"event\":\"reap\",\"pid\":4242,\"comm\":\"nginx\",\"queued\":3800000,"
		    "\"fd\":\"7\"}\n");
	expect_line(LOG_JSON, kvs, 0, "{}\n");
}

static void test_json_escaping(void **state)
{
	(void)state;
	expect_json1("say \"hi\"", "{\"comm\":\"say \\\"hi\\\"\"}\n");
	expect_json1("a\\b", "{\"comm\":\"a\\\\b\"}\n");
	expect_json1("a\nb", "{\"comm\":\"a\\nb\"}\n");
	expect_json1("a\tb\r", "{\"comm\":\"a\\tb\\r\"}\n");
	expect_json1("\x01\x1f", "{\"comm\":\"\\u0001\\u001f\"}\n");
	expect_json1("\x7f", "{\"comm\":\"\\u007f\"}\n");
	expect_json1("\xc3\xa9", "{\"comm\":\"\\u00c3\\u00a9\"}\n");
	/* Characters that need nothing in JSON stay as they are. */
	expect_json1("a b=c/d'e", "{\"comm\":\"a b=c/d'e\"}\n");

	/* Keys are escaped too. */
	{
		struct log_kv kv = KV("k\"ey", "v");

		expect_line(LOG_JSON, &kv, 1, "{\"k\\\"ey\":\"v\"}\n");
	}
}

static void test_truncation(void **state)
{
	const struct log_kv kvs[] = { KV("event", "ready"), NUM("pid", "1") };
	const char *full = "event=ready pid=1\n"; /* 18 bytes */
	char small[32];

	(void)state;
	/* Too small: snprintf-like, the needed length back and a terminated prefix. */
	memset(small, 'Z', sizeof(small));
	assert_int_equal(log_format_line(small, 10, LOG_LOGFMT, kvs, 2), 18);
	assert_string_equal(small, "event=rea");
	assert_int_equal(small[10], 'Z'); /* nothing written past len */

	/* len == needed length: still one byte short (the NUL). */
	memset(small, 'Z', sizeof(small));
	assert_int_equal(log_format_line(small, 18, LOG_LOGFMT, kvs, 2), 18);
	assert_string_equal(small, "event=ready pid=1");
	assert_int_equal(small[18], 'Z');

	/* len == needed + 1: the whole line. */
	memset(small, 'Z', sizeof(small));
	assert_int_equal(log_format_line(small, 19, LOG_LOGFMT, kvs, 2), 18);
	assert_string_equal(small, full);

	memset(small, 'Z', sizeof(small));
	assert_int_equal(log_format_line(small, 1, LOG_LOGFMT, kvs, 2), 18);
	assert_int_equal(small[0], '\0');
	assert_int_equal(small[1], 'Z');

	/* len 0: measure only, buf untouched (may be NULL). */
	assert_int_equal(log_format_line(NULL, 0, LOG_LOGFMT, kvs, 2), 18);
	memset(small, 'Z', sizeof(small));
	assert_int_equal(log_format_line(small, 0, LOG_JSON, kvs, 2),
			 strlen("{\"event\":\"ready\",\"pid\":1}\n"));
	assert_int_equal(small[0], 'Z');

	/* Truncation inside an escape still leaves a terminated buffer. */
	{
		struct log_kv kv = KV("c", "\x01\x02");

		memset(small, 'Z', sizeof(small));
		assert_int_equal(log_format_line(small, 6, LOG_JSON, &kv, 1),
				 strlen("{\"c\":\"\\u0001\\u0002\"}\n"));
		assert_string_equal(small, "{\"c\":");
	}
}

static void test_no_injection_logfmt(void **state)
{
	const struct log_kv kvs[] = { KV("event", "reap"), KV("comm", "my \"evil\" proc\nevent=reap"),
				      NUM("pid", "7") };
	char keys[8][32];

	(void)state;
	expect_line(LOG_LOGFMT, kvs, 3,
		    "event=reap comm=\"my \\\"evil\\\" proc\\nevent=reap\" pid=7\n");
	assert_int_equal(logfmt_keys(line, keys, 8), 3);
	assert_string_equal(keys[0], "event");
	assert_string_equal(keys[1], "comm");
	assert_string_equal(keys[2], "pid");

	/* A value ending in a backslash cannot escape its closing quote. */
	{
		const struct log_kv k2[] = { KV("comm", "x\\"), KV("event", "y") };

		expect_line(LOG_LOGFMT, k2, 2, "comm=\"x\\\\\" event=y\n");
		assert_int_equal(logfmt_keys(line, keys, 8), 2);
		assert_string_equal(keys[1], "event");
	}
	/* Nor a bare value with a space or a lone '='. */
	{
		const struct log_kv k3[] = { KV("comm", "a event=reap"), KV("x", "=") };

		expect_line(LOG_LOGFMT, k3, 2, "comm=\"a event=reap\" x=\"=\"\n");
		assert_int_equal(logfmt_keys(line, keys, 8), 2);
		assert_string_equal(keys[0], "comm");
		assert_string_equal(keys[1], "x");
	}
}

static void test_no_injection_json(void **state)
{
	const struct log_kv kvs[] = { KV("event", "reap"), KV("comm", "my \"evil\" proc\nevent=reap") };

	(void)state;
	expect_line(LOG_JSON, kvs, 2,
		    "{\"event\":\"reap\",\"comm\":\"my \\\"evil\\\" proc\\nevent=reap\"}\n");
	assert_ptr_equal(strchr(line, '\n'), line + strlen(line) - 1);
	expect_json1("\",\"event\":\"x", "{\"comm\":\"\\\",\\\"event\\\":\\\"x\"}\n");
}

static void test_every_byte_stays_on_one_line(void **state)
{
	char val[256];

	(void)state;
	/* All 255 non-NUL bytes in one value: one line, printable ASCII only. */
	for (int i = 1; i < 256; i++)
		val[i - 1] = (char)i;
	val[255] = '\0';
	for (int f = LOG_LOGFMT; f <= LOG_JSON; f++) {
		struct log_kv kv = KV("v", val);
		size_t n = log_format_line(line, sizeof(line), (enum log_format)f, &kv, 1);

		assert_true(n < sizeof(line));
		assert_int_equal(strlen(line), n);
		assert_int_equal(line[n - 1], '\n');
		for (size_t i = 0; i + 1 < n; i++)
			if ((unsigned char)line[i] < 0x20 || (unsigned char)line[i] >= 0x7f)
				fail_msg("format %d: byte 0x%02x at %zu", f, (unsigned char)line[i], i);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_logfmt_plain_unquoted),
		cmocka_unit_test(test_logfmt_quoting),
		cmocka_unit_test(test_empty_and_null_values),
		cmocka_unit_test(test_json_numbers_and_strings),
		cmocka_unit_test(test_json_escaping),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_no_injection_logfmt),
		cmocka_unit_test(test_no_injection_json),
		cmocka_unit_test(test_every_byte_stays_on_one_line),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
