/* test_listing.c - `sockreap list` rendering: order, verdict text, JSON shape. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include "listing.h"

/* GCC 12 takes the buffer open_memstream() fills for a local: a false positive. */
#pragma GCC diagnostic ignored "-Wdangling-pointer"

#define S 1000000000ull

static char *render(struct list_row *rows, size_t n, uint64_t now, bool json)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	listing_render(f, rows, n, now, json);
	fclose(f);
	return buf;
}

static struct sr_sock sock(uint16_t sport, uint32_t queued, const char *comm)
{
	struct sr_sock e = { 0 };

	e.family = AF_INET;
	e.saddr[0] = htonl(0x7f000001);
	e.daddr[0] = htonl(0x7f000001);
	e.sport = sport;
	e.dport = 40000;
	e.state = SR_TCP_ESTABLISHED;
	e.snd_una = 1000;
	e.write_seq = 1000 + queued;
	e.owner_tgid = 42;
	snprintf(e.comm, sizeof(e.comm), "%s", comm);
	return e;
}

static void test_empty(void **state)
{
	char *j = render(NULL, 0, 0, true), *t = render(NULL, 0, 0, false);

	(void)state;
	assert_string_equal(j, "[]\n");
	assert_non_null(strstr(t, "LOCAL"));
	assert_null(strchr(strchr(t, '\n') + 1, '\n')); /* header only */
	free(j);
	free(t);
}

static void test_verdict_text(void **state)
{
	struct policy_verdict fired = { SR_REASON_SEND_STALL, SR_REASON_NONE, 0, 31200000000ull, 30 * S };
	struct policy_verdict pending = { SR_REASON_NONE, SR_REASON_SEND_STALL, 0, 12300000000ull, 30 * S };
	struct policy_verdict none = { SR_REASON_NONE, SR_REASON_NONE, 0, 0, 0 };
	char b[64];

	(void)state;
	listing_verdict(b, sizeof(b), &fired);
	assert_string_equal(b, "STALLED send_stall 31.2s");
	listing_verdict(b, sizeof(b), &pending);
	assert_string_equal(b, "stalling 12.3/30s send_stall");
	listing_verdict(b, sizeof(b), &none);
	assert_string_equal(b, "ok");
}

static void test_sorted_by_stall_age(void **state)
{
	struct sr_sock a = sock(1001, 0, "idle"), b = sock(1002, 500, "far"), c = sock(1003, 500, "near");
	struct list_row rows[3] = {
		{ 1, &a, { SR_REASON_NONE, SR_REASON_NONE, 0, 0, 0 }, "default" },
		{ 2, &b, { SR_REASON_NONE, SR_REASON_SEND_STALL, 0, 25 * S, 30 * S }, "default" },
		{ 3, &c, { SR_REASON_SEND_STALL, SR_REASON_NONE, 0, 31 * S, 30 * S }, "default" },
	};
	char *t = render(rows, 3, 100 * S, false);
	char *p1 = strstr(t, ":1003"), *p2 = strstr(t, ":1002"), *p3 = strstr(t, ":1001");

	(void)state;
	assert_non_null(p1);
	assert_non_null(p2);
	assert_non_null(p3);
	assert_true(p1 < p2 && p2 < p3); /* fired, then the most advanced clock, then ok */
	free(t);
}

static void test_json_escapes_comm(void **state)
{
	struct sr_sock a = sock(1001, 10, "a\"b\\c\nd");
	struct list_row rows[1] = { { 7, &a, { SR_REASON_NONE, SR_REASON_NONE, 0, 0, 0 }, "t\"x" } };
	char *j = render(rows, 1, 100 * S, true);

	(void)state;
	assert_non_null(strstr(j, "\"comm\":\"a\\\"b\\\\c\\nd\""));
	assert_non_null(strstr(j, "\"target\":\"t\\\"x\""));
	assert_non_null(strstr(j, "\"cookie\":7,"));
	assert_non_null(strstr(j, "\"queued_bytes\":10,"));
	assert_non_null(strstr(j, "\"since_receive_s\":null"));
	assert_non_null(strstr(j, "\"since_retransmit_s\":null,\"retransmit_timeout_s\":null"));
	assert_non_null(strstr(j, "\"laddr\":\"127.0.0.1:1001\""));
	free(j);
}

static void test_table_keeps_columns_with_hostile_comm(void **state)
{
	struct sr_sock a = sock(1001, 10, "x y\tz");
	struct list_row rows[1] = { { 7, &a, { SR_REASON_NONE, SR_REASON_NONE, 0, 0, 0 }, "default" } };
	char *t = render(rows, 1, 100 * S, false);

	(void)state;
	assert_non_null(strstr(t, " x?y?z "));
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_verdict_text),
		cmocka_unit_test(test_sorted_by_stall_age),
		cmocka_unit_test(test_json_escapes_comm),
		cmocka_unit_test(test_table_keeps_columns_with_hostile_comm),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
