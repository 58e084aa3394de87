/* clock.h - the daemon's one clock: CLOCK_MONOTONIC in nanoseconds. */
#ifndef SR_CLOCK_H
#define SR_CLOCK_H

#include <stdint.h>
#include <time.h>

#define NS_PER_S 1000000000ull
#define NS_PER_MS 1000000ull

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

/* The kernel's jiffy in nanoseconds: the coarse clocks advance once per
 * jiffy, and report that as their resolution. 0 if it cannot be read. */
static inline uint64_t jiffy_ns(void)
{
	struct timespec res;

	if (clock_getres(CLOCK_MONOTONIC_COARSE, &res) || res.tv_sec)
		return 0;
	return (uint64_t)res.tv_nsec;
}

#endif
