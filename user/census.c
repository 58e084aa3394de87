/* census.c - how many sockets are tracked, from the BPF counters and full
 * reads (census.h). */
#include "census.h"

#include <string.h>

void census_of_counters(const uint64_t counters[SR_CNT_MAX], struct tracker_census *c)
{
	c->tracked = counters[SR_CNT_INSERTS] - counters[SR_CNT_DELETES];
	c->kernel = counters[SR_CNT_KERNEL];
	for (int st = 0; st < SR_TCP_NSTATES; st++)
		c->states[st] = counters[SR_CNT_STATE_BASE + st];
}

/*
 * Not the census the counters make: tracked is inserts - deletes, so a
 * connection opened and another closed during a full read leave it equal
 * while the read counted one of them and not the other, and that error
 * stayed in every later census (a soak ended with 1 tracked, 0 alive; in a
 * 60 s soak one full read in 19 had 8 inserts and 8 deletes under it). Any
 * creation or drop moves the inserts or the deletes. A state move without
 * either moves two state counts, and no chain of them comes back to where
 * it started without passing through TCP_CLOSE, a delete. On the kernel's
 * side a record changes under the socket's lock, which the walk takes for
 * each socket (Linux 5.15+): the walk sees a change only with its counts.
 */
bool census_counters_still(const uint64_t before[SR_CNT_MAX], const uint64_t after[SR_CNT_MAX])
{
	if (before[SR_CNT_INSERTS] != after[SR_CNT_INSERTS] ||
	    before[SR_CNT_DELETES] != after[SR_CNT_DELETES] ||
	    before[SR_CNT_KERNEL] != after[SR_CNT_KERNEL])
		return false;
	for (int st = 0; st < SR_TCP_NSTATES; st++)
		if (before[SR_CNT_STATE_BASE + st] != after[SR_CNT_STATE_BASE + st])
			return false;
	return true;
}

bool census_due(struct census_watch *w, const uint64_t counters[SR_CNT_MAX], uint64_t skipped_runs,
		uint64_t now_ns, uint64_t room_ns)
{
	bool moved = !w->have_prev || !census_counters_still(w->prev, counters);
	bool lost = skipped_runs != w->misses, quiet;

	memcpy(w->prev, counters, sizeof(w->prev));
	w->have_prev = true;
	if (moved)
		w->settled = false;
	quiet = !moved && !w->settled;
	if (!lost && !quiet)
		return false;
	if (w->at_ns && !w->tries && now_ns - w->at_ns < CENSUS_READ_EVERY_NS)
		return false;
	if (room_ns < 2 * w->cost_ns + CENSUS_MARGIN_NS &&
	    (!w->put_off_ns || now_ns - w->put_off_ns < CENSUS_PUT_OFF_NS)) {
		if (!w->put_off_ns)
			w->put_off_ns = now_ns;
		return false;
	}
	w->put_off_ns = 0;
	return true;
}

bool census_read_done(struct census_watch *w, bool exact, uint64_t skipped_runs, uint64_t now_ns,
		      uint64_t cost_ns)
{
	w->at_ns = now_ns;
	w->cost_ns = cost_ns;
	if (exact) {
		w->misses = skipped_runs;
		w->settled = true;
		w->tries = 0;
		return true;
	}
	if (++w->tries < CENSUS_TRIES)
		return false;
	/* Kept as the best guess: not settled, so the reads go on (every
	 * CENSUS_READ_EVERY_NS) until one is exact. */
	w->tries = 0;
	return true;
}

/* base + (now - then), never below zero. */
static uint64_t moved(uint64_t base, uint64_t now, uint64_t then)
{
	int64_t v = (int64_t)base + (int64_t)(now - then);

	return v > 0 ? (uint64_t)v : 0;
}

void census_carry(const struct tracker_census *read, const struct tracker_census *now,
		  const struct tracker_census *then, struct tracker_census *out)
{
	out->tracked = moved(read->tracked, now->tracked, then->tracked);
	out->kernel = moved(read->kernel, now->kernel, then->kernel);
	for (int st = 0; st < SR_TCP_NSTATES; st++)
		out->states[st] = moved(read->states[st], now->states[st], then->states[st]);
}
