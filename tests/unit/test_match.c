/* test_match.c - which target a socket belongs to (include/sr_match.h), the
 * function the BPF programs run when they create an entry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <linux/types.h>
#include "sockreap.h"
#include "sr_match.h"

#define BIT(i) (1u << (i))
#define ALL_TARGETS ((__u32)((1ull << SR_MAX_TARGETS) - 1))

static void test_default_single_target(void **state)
{
	(void)state;
	/* No --target, no --port, no --cgroup: one target selecting everything. */
	assert_int_equal(sr_match_target(1, 1, 0, 1, 0), 0);
	/* A lookup that found bits changes nothing for it. */
	assert_int_equal(sr_match_target(1, 1, 1, 1, 1), 0);
}

static void test_no_targets(void **state)
{
	(void)state;
	assert_int_equal(sr_match_target(0, 0, 0, 0, 0), -1);
	/* Selector bits without a defined target select nothing. */
	assert_int_equal(sr_match_target(0, ALL_TARGETS, ALL_TARGETS, ALL_TARGETS, ALL_TARGETS), -1);
}

static void test_port_only_target(void **state)
{
	(void)state;
	/* Target 0 selects by port (not in any_port), every cgroup. */
	assert_int_equal(sr_match_target(BIT(0), 0, BIT(0), BIT(0), 0), 0);
	assert_int_equal(sr_match_target(BIT(0), 0, 0, BIT(0), 0), -1);
	/* Another target's port bit is not this target's. */
	assert_int_equal(sr_match_target(BIT(0), 0, BIT(1), BIT(0), 0), -1);
	/* A cgroup bit does not stand in for the missing port bit. */
	assert_int_equal(sr_match_target(BIT(0), 0, 0, BIT(0), BIT(0)), -1);
}

static void test_cgroup_only_target(void **state)
{
	(void)state;
	/* Target 0 selects by cgroup, every port. */
	assert_int_equal(sr_match_target(BIT(0), BIT(0), 0, 0, BIT(0)), 0);
	assert_int_equal(sr_match_target(BIT(0), BIT(0), 0, 0, 0), -1);
	assert_int_equal(sr_match_target(BIT(0), BIT(0), 0, 0, BIT(2)), -1);
	/* A port bit does not stand in for the missing cgroup bit. */
	assert_int_equal(sr_match_target(BIT(0), BIT(0), BIT(0), 0, 0), -1);
}

static void test_port_and_cgroup_both_needed(void **state)
{
	__u32 t = BIT(0) | BIT(1) | BIT(2) | BIT(3);

	(void)state;
	/* Target 3 selects by both: neither any_port nor any_cgroup has its bit. */
	assert_int_equal(sr_match_target(t, 0, BIT(3), 0, BIT(3)), 3);
	assert_int_equal(sr_match_target(t, 0, BIT(3), 0, 0), -1);
	assert_int_equal(sr_match_target(t, 0, 0, 0, BIT(3)), -1);
	assert_int_equal(sr_match_target(t, 0, 0, 0, 0), -1);
	/* The port of one target and the cgroup of another make no match. */
	assert_int_equal(sr_match_target(t, 0, BIT(2), 0, BIT(3)), -1);
}

static void test_first_listed_wins(void **state)
{
	__u32 t = BIT(0) | BIT(1);

	(void)state;
	/* Target 0 by port 8765, target 1 by a cgroup; a socket matching both goes to 0. */
	assert_int_equal(sr_match_target(t, BIT(1), BIT(0), BIT(0), BIT(1)), 0);
	/* Target 0 does not select it: target 1 does. */
	assert_int_equal(sr_match_target(t, BIT(1), 0, BIT(0), BIT(1)), 1);
	/* Neither. */
	assert_int_equal(sr_match_target(t, BIT(1), 0, BIT(0), 0), -1);

	/* Two overlapping port targets, and the plain default last (index 2). */
	t = BIT(0) | BIT(1) | BIT(2);
	assert_int_equal(sr_match_target(t, BIT(2), BIT(0) | BIT(1), t, 0), 0);
	assert_int_equal(sr_match_target(t, BIT(2), BIT(1), t, 0), 1);
	assert_int_equal(sr_match_target(t, BIT(2), 0, t, 0), 2);

	/* Every target matches: the lowest index, not the highest. */
	assert_int_equal(sr_match_target(ALL_TARGETS, ALL_TARGETS, 0, ALL_TARGETS, 0), 0);
	/* Every target but the first few matches. */
	assert_int_equal(sr_match_target(ALL_TARGETS, 0, ALL_TARGETS & ~0x1fu, ALL_TARGETS, 0), 5);
}

static void test_excluded_port_wins(void **state)
{
	(void)state;
	assert_int_equal(sr_match_target(1, 1, SR_PORT_EXCLUDED, 1, 0), -1);
	/* Every target would match, by port and by cgroup: still excluded. */
	assert_int_equal(sr_match_target(ALL_TARGETS, ALL_TARGETS, SR_PORT_EXCLUDED | ALL_TARGETS,
					 ALL_TARGETS, ALL_TARGETS),
			 -1);
	/* The same without the exclusion bit, so the bit is what refused it. */
	assert_int_equal(sr_match_target(ALL_TARGETS, ALL_TARGETS, ALL_TARGETS, ALL_TARGETS,
					 ALL_TARGETS),
			 0);
	/* Excluded with no target selecting the port at all. */
	assert_int_equal(sr_match_target(0x3, 0, SR_PORT_EXCLUDED, 0x3, 0), -1);
}

static void test_bits_beyond_targets_ignored(void **state)
{
	(void)state;
	/* Two targets defined; bits 2.. of the selectors are stale or foreign. */
	assert_int_equal(sr_match_target(0x3, 0, BIT(2) | BIT(5), 0x3, 0), -1);
	assert_int_equal(sr_match_target(0x3, BIT(4), 0, BIT(4), 0), -1);
	assert_int_equal(sr_match_target(0x3, 0, BIT(7) | BIT(1), 0x3, 0), 1);
	/* A lower undefined bit does not shadow a defined higher one. */
	assert_int_equal(sr_match_target(BIT(3), BIT(0) | BIT(3), 0, ALL_TARGETS, 0), 3);
	/* No index at or above SR_MAX_TARGETS comes back (it indexes rules[] and __u8 rule). */
	assert_int_equal(sr_match_target(BIT(20), BIT(20), 0, BIT(20), 0), -1);
	assert_int_equal(sr_match_target(BIT(SR_MAX_TARGETS), BIT(SR_MAX_TARGETS), 0,
					 BIT(SR_MAX_TARGETS), 0),
			 -1);
}

static void test_highest_target(void **state)
{
	int last = SR_MAX_TARGETS - 1;

	(void)state;
	assert_int_equal(last, 15);
	/* All 16 defined; only the last selects this socket, by port and cgroup. */
	assert_int_equal(sr_match_target(ALL_TARGETS, 0, BIT(last), 0, BIT(last)), last);
	assert_int_equal(sr_match_target(ALL_TARGETS, BIT(last), 0, BIT(last), 0), last);
	assert_int_equal(sr_match_target(BIT(last), BIT(last), 0, BIT(last), 0), last);
	/* Its port bit alone is not enough. */
	assert_int_equal(sr_match_target(ALL_TARGETS, 0, BIT(last), 0, 0), -1);
	/* Target 14 beats it. */
	assert_int_equal(sr_match_target(ALL_TARGETS, BIT(last) | BIT(last - 1), 0,
					 BIT(last) | BIT(last - 1), 0),
			 last - 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_single_target),
		cmocka_unit_test(test_no_targets),
		cmocka_unit_test(test_port_only_target),
		cmocka_unit_test(test_cgroup_only_target),
		cmocka_unit_test(test_port_and_cgroup_both_needed),
		cmocka_unit_test(test_first_listed_wins),
		cmocka_unit_test(test_excluded_port_wins),
		cmocka_unit_test(test_bits_beyond_targets_ignored),
		cmocka_unit_test(test_highest_target),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
