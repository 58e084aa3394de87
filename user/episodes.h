/* episodes.h - one stall episode per (socket, onset): logged once, acted on
 * once, retried after another grace while it lasts (pure, no I/O). */
#ifndef SR_EPISODES_H
#define SR_EPISODES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct episode {
	uint64_t key;      /* the socket's key; 0 = forgotten this scan (the fresh state did not confirm it) */
	uint64_t onset_ns; /* the verdict's clock start: a new onset is a new episode */
	uint64_t retry_ns; /* when to act (again); 0 = settled, never act again */
};

/*
 * The episodes of the last scan (cur, sorted) and those of this scan (next),
 * built as verdicts fire; a verdict that no longer fires ends its episode.
 */
struct episodes {
	struct episode *cur, *next;
	size_t n_cur, n_next, cap;
};

/* Start a scan: this scan's list is empty. */
void episodes_begin(struct episodes *eps);

/*
 * A verdict fires for key with this onset at now: carry its episode from
 * the last scan, or start one, due at once (*is_new). Returns its index in
 * this scan's list (valid until episodes_commit), or -ENOMEM.
 */
ssize_t episodes_carry(struct episodes *eps, uint64_t key, uint64_t onset_ns, uint64_t now,
		       bool *is_new);

static inline struct episode *episodes_at(struct episodes *eps, size_t i)
{
	return &eps->next[i];
}

/* Should it be acted on at now? */
bool episode_due(const struct episode *ep, uint64_t now);

/* Acted on: settled for good (shut down, or reported in a dry run), or try
 * again after another grace (the socket is still there and judged dead). */
void episode_acted(struct episode *ep, bool settled, uint64_t now, uint64_t grace_ns);

/* Closed meanwhile: nothing left to do, ever. */
void episode_settle(struct episode *ep);

/* Its state could not be read: act at the next scan. */
void episode_retry_next_scan(struct episode *ep, uint64_t now);

/* Recovered, or the map lagged: forget it (a new stall is a new episode). */
void episode_forget(struct episode *ep);

/* End the scan: this scan's episodes, less the forgotten ones, become the known ones. */
void episodes_commit(struct episodes *eps);

void episodes_free(struct episodes *eps);

#endif
