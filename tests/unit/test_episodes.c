/* test_episodes.c - the stall episode life cycle of user/episodes.c: one
 * socket over two scans as a table, the rest one story per test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

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

/* cmocka 1.1 cannot put a message on an assert: name the row, then assert. */
static void assert_row(const char *what, const char *check, bool got, bool want)
{
	if (got != want)
		print_error("%s: %s is %s, want %s\n", what, check, got ? "true" : "false",
			    want ? "true" : "false");
	assert_true(got == want);
}

/*
 * Every story starts the same: socket 7, stalled since 100 s, fires at
 * 130 s in the first scan, a new episode due at once.
 */
static struct episode *first_scan(struct episodes *eps, const char *what)
{
	struct episode *ep;
	bool is_new;

	episodes_begin(eps);
	ep = fire(eps, 7, S(100), S(130), &is_new);
	assert_row(what, "first scan: new", is_new, true);
	assert_row(what, "first scan: due at 130 s", episode_due(ep, S(130)), true);
	return ep;
}

/* Acted on in the first scan; what the second scan makes of it. */
struct second_scan {
	const char *what;
	bool settled;	     /* how the first scan's action ended */
	uint64_t onset, now; /* the verdict of the second scan */
	bool is_new;
	struct {
		uint64_t at; /* 0 ends the list */
		bool due;
	} due[2];
};

static void test_second_scan(void **state)
{
	static const struct second_scan cases[] = {
		{ "shut down: the same stall is known, never due again", true, S(100), S(131), false,
		  { { S(131), false }, { S(100000), false } } },
		{ "not settled (e.g. no_owner): due after another grace", false, S(100), S(159), false,
		  { { S(159), false }, { S(160), true } } },
		{ "progress, then a new stall: a new episode, due", true, S(200), S(230), true,
		  { { S(230), true } } },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct second_scan *c = &cases[i];
		struct episodes eps = { 0 };
		struct episode *ep = first_scan(&eps, c->what);
		bool is_new;

		episode_acted(ep, c->settled, S(130), S(30));
		episodes_commit(&eps);
		episodes_begin(&eps);
		ep = fire(&eps, 7, c->onset, c->now, &is_new);
		assert_row(c->what, "new", is_new, c->is_new);
		for (size_t d = 0; d < 2 && c->due[d].at; d++) {
			char check[48];

			snprintf(check, sizeof(check), "due at %llu s",
				 (unsigned long long)(c->due[d].at / S(1)));
			assert_row(c->what, check, episode_due(ep, c->due[d].at), c->due[d].due);
		}
		episodes_commit(&eps);
		episodes_free(&eps);
	}
}

static void test_ends_when_verdict_stops(void **state)
{
	struct episodes eps = { 0 };
	struct episode *ep;
	bool is_new;

	(void)state;
	ep = first_scan(&eps, __func__);
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

	(void)state;
	ep = first_scan(&eps, __func__);
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
		cmocka_unit_test(test_second_scan),
		cmocka_unit_test(test_ends_when_verdict_stops),
		cmocka_unit_test(test_settle_and_retry_next_scan),
		cmocka_unit_test(test_many_sorted_lookup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
