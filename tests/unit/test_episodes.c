/* test_episodes.c - the stall episode life cycle of user/episodes.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "episodes.h"

#define S(x) ((uint64_t)(x) * 1000000000ull)

/* One scan in which the verdict fires for cookie with onset: its episode. */
static struct episode *fire(struct episodes *eps, uint64_t cookie, uint64_t onset, uint64_t now,
			    bool *is_new)
{
	ssize_t k = episodes_carry(eps, cookie, onset, now, is_new);

	assert_true(k >= 0);
	return episodes_at(eps, (size_t)k);
}

static void test_new_episode_due_once(void **state)
{
	struct episodes eps = { 0 };
	struct episode *ep;
	bool is_new;

	(void)state;
	episodes_begin(&eps);
	ep = fire(&eps, 7, S(100), S(130), &is_new);
	assert_true(is_new);
	assert_true(episode_due(ep, S(130)));
	episode_acted(ep, true, S(130), S(30)); /* shut down */
	episodes_commit(&eps);

	/* The same stall, next scan: known, settled, never due again. */
	episodes_begin(&eps);
	ep = fire(&eps, 7, S(100), S(131), &is_new);
	assert_false(is_new);
	assert_false(episode_due(ep, S(131)));
	assert_false(episode_due(ep, S(100000)));
	episodes_commit(&eps);
	episodes_free(&eps);
}

static void test_retry_after_grace(void **state)
{
	struct episodes eps = { 0 };
	struct episode *ep;
	bool is_new;

	(void)state;
	episodes_begin(&eps);
	ep = fire(&eps, 7, S(100), S(130), &is_new);
	episode_acted(ep, false, S(130), S(30)); /* e.g. no_owner: try again */
	episodes_commit(&eps);
	episodes_begin(&eps);
	ep = fire(&eps, 7, S(100), S(159), &is_new);
	assert_false(is_new);
	assert_false(episode_due(ep, S(159)));
	assert_true(episode_due(ep, S(160)));
	episodes_commit(&eps);
	episodes_free(&eps);
}

static void test_new_onset_is_new_episode(void **state)
{
	struct episodes eps = { 0 };
	struct episode *ep;
	bool is_new;

	(void)state;
	episodes_begin(&eps);
	ep = fire(&eps, 7, S(100), S(130), &is_new);
	episode_acted(ep, true, S(130), S(30));
	episodes_commit(&eps);
	/* Progress, then a new stall of the same socket: a new episode, due. */
	episodes_begin(&eps);
	ep = fire(&eps, 7, S(200), S(230), &is_new);
	assert_true(is_new);
	assert_true(episode_due(ep, S(230)));
	episodes_commit(&eps);
	episodes_free(&eps);
}

static void test_ends_when_verdict_stops(void **state)
{
	struct episodes eps = { 0 };
	struct episode *ep;
	bool is_new;

	(void)state;
	episodes_begin(&eps);
	ep = fire(&eps, 7, S(100), S(130), &is_new);
	episode_acted(ep, true, S(130), S(30));
	fire(&eps, 8, S(100), S(130), &is_new);
	episodes_commit(&eps);
	assert_int_equal(eps.n_cur, 2);
	/* Socket 7 no longer fires; 8 was forgotten (the map lagged). */
	episodes_begin(&eps);
	ep = fire(&eps, 8, S(100), S(131), &is_new);
	assert_false(is_new);
	episode_forget(ep);
	episodes_commit(&eps);
	assert_int_equal(eps.n_cur, 0);
	/* Both fire again: new episodes, due at once. */
	episodes_begin(&eps);
	assert_true(episode_due(fire(&eps, 7, S(100), S(132), &is_new), S(132)));
	assert_true(is_new);
	assert_true(episode_due(fire(&eps, 8, S(100), S(132), &is_new), S(132)));
	assert_true(is_new);
	episodes_commit(&eps);
	episodes_free(&eps);
}

static void test_settle_and_retry_next_scan(void **state)
{
	struct episodes eps = { 0 };
	struct episode *ep;
	bool is_new;

	(void)state;
	episodes_begin(&eps);
	ep = fire(&eps, 7, S(100), S(130), &is_new);
	episode_retry_next_scan(ep, S(130)); /* state unreadable now */
	assert_true(episode_due(ep, S(131)));
	episode_retry_next_scan(ep, 0);	     /* even at time zero it is not "settled" */
	assert_true(episode_due(ep, 1));
	episode_settle(ep);
	assert_false(episode_due(ep, S(100000)));
	episodes_commit(&eps);
	episodes_free(&eps);
}

static void test_many_sorted_lookup(void **state)
{
	struct episodes eps = { 0 };
	bool is_new;

	(void)state;
	episodes_begin(&eps);
	for (uint64_t c = 1000; c > 0; c--)
		episode_acted(fire(&eps, c * 7919 % 1009 + 1, S(c), S(2000), &is_new), true, S(2000), S(30));
	episodes_commit(&eps);
	episodes_begin(&eps);
	for (uint64_t c = 1; c <= 1000; c++) {
		fire(&eps, c * 7919 % 1009 + 1, S(c), S(2001), &is_new);
		assert_false(is_new);
	}
	episodes_commit(&eps);
	assert_int_equal(eps.n_cur, 1000);
	episodes_free(&eps);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_episode_due_once),
		cmocka_unit_test(test_retry_after_grace),
		cmocka_unit_test(test_new_onset_is_new_episode),
		cmocka_unit_test(test_ends_when_verdict_stops),
		cmocka_unit_test(test_settle_and_retry_next_scan),
		cmocka_unit_test(test_many_sorted_lookup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
