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

/* A full read's census carried forward by what the counters moved since it:
 * read + (now - then), field by field, never below zero. */
void census_carry(const struct tracker_census *read, const struct tracker_census *now,
		  const struct tracker_census *then, struct tracker_census *out);

#endif
