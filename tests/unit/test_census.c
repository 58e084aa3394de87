/* test_census.c - the tracked-socket census from the BPF counters, and when
 * a full read of the records may be trusted (user/census.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "census.h"

/* Counters of n established sockets: ins inserted, ins - n deleted. */
static void counters_of(uint64_t c[SR_CNT_MAX], uint64_t ins, uint64_t n)
{
	memset(c, 0, sizeof(uint64_t) * SR_CNT_MAX);
	c[SR_CNT_INSERTS] = ins;
	c[SR_CNT_DELETES] = ins - n;
	c[SR_CNT_STATE_BASE + SR_TCP_ESTABLISHED] = n;
}

static void test_of_counters(void **state)
{
	uint64_t c[SR_CNT_MAX];
	struct tracker_census k;

	(void)state;
	counters_of(c, 7042, 4037);
	c[SR_CNT_KERNEL] = 2;
	census_of_counters(c, &k);
	assert_int_equal(k.tracked, 4037);
	assert_int_equal(k.kernel, 2);
	assert_int_equal(k.states[SR_TCP_ESTABLISHED], 4037);
	assert_int_equal(k.states[SR_TCP_CLOSE_WAIT], 0);
}

static void test_still_when_nothing_moved(void **state)
{
	uint64_t a[SR_CNT_MAX], b[SR_CNT_MAX];

	(void)state;
	counters_of(a, 7042, 4037);
	counters_of(b, 7042, 4037);
	b[SR_CNT_EV_PROBE] = 999; /* events that change no record do not count */
	assert_true(census_counters_still(a, b));
}

/* The soak's drift: 8 connections opened and 8 closed under a full read. The
 * census the counters make is the same before and after; the read is not to
 * be trusted. */
static void test_churn_under_the_read_is_movement(void **state)
{
	uint64_t a[SR_CNT_MAX], b[SR_CNT_MAX];
	struct tracker_census ka, kb;

	(void)state;
	counters_of(a, 7042, 4037);
	counters_of(b, 7050, 4037);
	census_of_counters(a, &ka);
	census_of_counters(b, &kb);
	assert_memory_equal(&ka, &kb, sizeof(ka));
	assert_false(census_counters_still(a, b));
}

static void test_state_move_is_movement(void **state)
{
	uint64_t a[SR_CNT_MAX], b[SR_CNT_MAX];

	(void)state;
	counters_of(a, 10, 10);
	counters_of(b, 10, 9);
	b[SR_CNT_DELETES] = 0;
	b[SR_CNT_STATE_BASE + SR_TCP_CLOSE_WAIT] = 1;
	assert_false(census_counters_still(a, b));
	counters_of(b, 10, 10);
	b[SR_CNT_KERNEL] = 1;
	assert_false(census_counters_still(a, b));
}

static void test_carry(void **state)
{
	struct tracker_census read = { .tracked = 4037 }, then = { .tracked = 4040 },
			      now = { .tracked = 4041 }, out;

	(void)state;
	read.states[SR_TCP_ESTABLISHED] = 4037;
	then.states[SR_TCP_ESTABLISHED] = 4040;
	now.states[SR_TCP_ESTABLISHED] = 4038;
	census_carry(&read, &now, &then, &out);
	assert_int_equal(out.tracked, 4038);
	assert_int_equal(out.states[SR_TCP_ESTABLISHED], 4035);
	/* Never below zero. */
	now.tracked = 0;
	census_carry(&read, &now, &then, &out);
	assert_int_equal(out.tracked, 0);
	/* No read kept yet: the counters as they are. */
	memset(&read, 0, sizeof(read));
	memset(&then, 0, sizeof(then));
	now.tracked = 12;
	census_carry(&read, &now, &then, &out);
	assert_int_equal(out.tracked, 12);
}

#define S 1000000000ull
#define MS 1000000ull
#define FREE UINT64_MAX /* no clock runs */

/* No lost event: one read once the events fall still, none while they move,
 * none again until they have moved and fallen still once more. */
static void test_read_once_when_quiet(void **state)
{
	struct census_watch w = { 0 };
	uint64_t c[SR_CNT_MAX];

	(void)state;
	counters_of(c, 100, 10);
	assert_false(census_due(&w, c, 0, 1 * S, FREE)); /* first sight: moved */
	counters_of(c, 120, 12);
	assert_false(census_due(&w, c, 0, 2 * S, FREE)); /* still moving */
	assert_true(census_due(&w, c, 0, 3 * S, FREE));  /* fell still, never read */
	assert_true(census_read_done(&w, true, 0, 3 * S, MS));
	assert_false(census_due(&w, c, 0, 9 * S, FREE)); /* settled */
	assert_false(census_due(&w, c, 0, 60 * S, FREE));
	counters_of(c, 121, 12);
	assert_false(census_due(&w, c, 0, 61 * S, FREE));
	assert_true(census_due(&w, c, 0, 62 * S, FREE));
	assert_true(census_read_done(&w, true, 0, 62 * S, MS));
	/* Moved and still again within 5 s of that read: waits its turn. */
	counters_of(c, 122, 12);
	assert_false(census_due(&w, c, 0, 63 * S, FREE));
	assert_false(census_due(&w, c, 0, 64 * S, FREE));
	assert_true(census_due(&w, c, 0, 67 * S, FREE));
}

/* A lost event asks for a read even while the events move; an inexact read
 * is retried at once, kept after CENSUS_TRIES, and does not settle. */
static void test_lost_event_and_inexact_reads(void **state)
{
	struct census_watch w = { 0 };
	uint64_t c[SR_CNT_MAX];

	(void)state;
	counters_of(c, 100, 10);
	assert_false(census_due(&w, c, 0, 1 * S, FREE));
	counters_of(c, 110, 10);
	assert_true(census_due(&w, c, 1, 2 * S, FREE)); /* skipped run reported */
	assert_false(census_read_done(&w, false, 1, 2 * S, MS));
	counters_of(c, 120, 10);
	assert_true(census_due(&w, c, 1, 2 * S + 1, FREE)); /* retried at once */
	assert_false(census_read_done(&w, false, 1, 2 * S + 1, MS));
	counters_of(c, 130, 10);
	assert_true(census_due(&w, c, 1, 2 * S + 2, FREE));
	assert_true(census_read_done(&w, false, 1, 2 * S + 2, MS)); /* kept as a guess */
	counters_of(c, 140, 10);
	assert_false(census_due(&w, c, 1, 3 * S, FREE)); /* 5 s between reads now */
	assert_true(census_due(&w, c, 1, 8 * S, FREE));
	assert_true(census_read_done(&w, true, 1, 8 * S, MS));
	assert_false(census_due(&w, c, 1, 20 * S, FREE)); /* exact: settled */
	counters_of(c, 150, 10);
	assert_true(census_due(&w, c, 2, 21 * S, FREE));
}

/* A read due is put off while a clock may fire before it would be done
 * (room < twice the last read's cost + CENSUS_MARGIN_NS), at most
 * CENSUS_PUT_OFF_NS; with room enough it goes ahead at once. */
static void test_put_off_while_a_clock_runs(void **state)
{
	struct census_watch w = { 0 };
	uint64_t c[SR_CNT_MAX];

	(void)state;
	counters_of(c, 100, 10);
	assert_false(census_due(&w, c, 0, 1 * S, FREE));
	assert_true(census_due(&w, c, 0, 2 * S, FREE));
	assert_true(census_read_done(&w, true, 0, 2 * S, 300 * MS)); /* took 300 ms */
	counters_of(c, 101, 10);
	assert_false(census_due(&w, c, 0, 10 * S, FREE));
	/* Due now; a clock fires within 2 x 300 ms + 100 ms: put off. */
	assert_false(census_due(&w, c, 0, 11 * S, 699 * MS));
	assert_false(census_due(&w, c, 0, 12 * S, 0));
	/* Room enough: read. */
	assert_true(census_due(&w, c, 0, 13 * S, 700 * MS));
	assert_true(census_read_done(&w, true, 0, 13 * S, 300 * MS));
	/* Never room (a stall that lasts): read after CENSUS_PUT_OFF_NS anyway. */
	counters_of(c, 102, 10);
	assert_false(census_due(&w, c, 0, 20 * S, 0));
	assert_false(census_due(&w, c, 0, 21 * S, 0)); /* put off from here */
	assert_false(census_due(&w, c, 0, 21 * S + CENSUS_PUT_OFF_NS - 1, 0));
	assert_true(census_due(&w, c, 0, 21 * S + CENSUS_PUT_OFF_NS, 0));
	assert_true(census_read_done(&w, true, 0, 51 * S, 300 * MS));
	/* The next put-off counts from its own start. */
	counters_of(c, 103, 10);
	assert_false(census_due(&w, c, 0, 60 * S, 0));
	assert_false(census_due(&w, c, 0, 61 * S, 0));
	assert_false(census_due(&w, c, 0, 62 * S, 0));
	assert_true(census_due(&w, c, 0, 61 * S + CENSUS_PUT_OFF_NS, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_of_counters),
		cmocka_unit_test(test_still_when_nothing_moved),
		cmocka_unit_test(test_churn_under_the_read_is_movement),
		cmocka_unit_test(test_state_move_is_movement),
		cmocka_unit_test(test_carry),
		cmocka_unit_test(test_read_once_when_quiet),
		cmocka_unit_test(test_lost_event_and_inexact_reads),
		cmocka_unit_test(test_put_off_while_a_clock_runs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
