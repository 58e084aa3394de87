/* census.h - how many sockets are tracked (in all, kernel ones, by state),
 * from the counters BPF keeps and from full reads of the records. Pure. */
#ifndef SR_CENSUS_H
#define SR_CENSUS_H

#include <linux/types.h>
#include <stdbool.h>
#include <stdint.h>

#include "sockreap.h"

struct tracker_census {
	uint64_t tracked, kernel;
	uint64_t states[SR_TCP_NSTATES];
};

/* The census the counters make: tracked = inserts - deletes. */
void census_of_counters(const uint64_t counters[SR_CNT_MAX], struct tracker_census *c);

/*
 * Whether no event created, dropped or moved a record between two reads of
 * the counters: a full read taken between them counted exactly what they
 * say. Judged on the inserts and the deletes themselves, which only grow,
 * not on the census they make (see census.c).
 */
bool census_counters_still(const uint64_t before[SR_CNT_MAX], const uint64_t after[SR_CNT_MAX]);

/*
 * When to count the records again (the storage path: a record goes with its
 * socket, the counters only with the events the programs saw). After the
 * kernel reports skipped runs (a close unseen would count forever), and once
 * whenever the events fall still with no exact read since they last moved:
 * whatever made the counters drift, the gauge is then exact within one read
 * of the traffic stopping. At most one read every CENSUS_READ_EVERY_NS,
 * unless the last one was inexact (events moved under it); CENSUS_TRIES
 * inexact reads in a row are kept as the best guess.
 */
#define CENSUS_READ_EVERY_NS (5ull * 1000000000ull)
#define CENSUS_TRIES 3
/*
 * A read visits every record (0.3 s at 200 000 sockets here) and the scan
 * waits for it: it is put off while a clock may fire before it is done
 * (room: the time until then, less the next scan's wait), so that the
 * census, a gauge, never delays a reap. Room enough is twice the last
 * read's cost and CENSUS_MARGIN_NS; a read is put off CENSUS_PUT_OFF_NS at
 * most (stalls that never end, a dry run's, would otherwise starve it).
 */
#define CENSUS_MARGIN_NS (100ull * 1000000ull)
#define CENSUS_PUT_OFF_NS (30ull * 1000000000ull)

struct census_watch {
	uint64_t prev[SR_CNT_MAX]; /* the counters at the last call */
	bool have_prev;
	bool settled;		   /* an exact read since the events last moved */
	uint64_t misses;	   /* skipped runs reported at the last exact read */
	uint64_t at_ns;		   /* the last read (0: none yet) */
	int tries;		   /* inexact reads in a row */
	uint64_t cost_ns;	   /* how long the last read took */
	uint64_t put_off_ns;	   /* since when a read due is put off (0: none) */
};

/* Called once per scan with the counters now and the room before the next
 * clock may fire (UINT64_MAX: none runs): whether to read now. */
bool census_due(struct census_watch *w, const uint64_t counters[SR_CNT_MAX], uint64_t skipped_runs,
		uint64_t now_ns, uint64_t room_ns);

/* After a read that took cost_ns: whether it is kept (exact, or the last of
 * CENSUS_TRIES). */
bool census_read_done(struct census_watch *w, bool exact, uint64_t skipped_runs, uint64_t now_ns,
		      uint64_t cost_ns);

/* A full read's census carried forward by what the counters moved since it:
 * read + (now - then), field by field, never below zero. */
void census_carry(const struct tracker_census *read, const struct tracker_census *now,
		  const struct tracker_census *then, struct tracker_census *out);

#endif
