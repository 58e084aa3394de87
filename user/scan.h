/* scan.h - one scan: read the tracked sockets, judge them, act on the due
 * ones, and report what happened. The daemon builds the context once and
 * folds each result into its metrics; a scan reads no configuration. */
#ifndef SR_SCAN_H
#define SR_SCAN_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "episodes.h"
#include "identity.h"
#include "metrics.h"
#include "owner.h"
#include "reaper.h"
#include "targets.h"
#include "tracker.h"

/* The configuration resolved once, at start-up, into what a scan needs. */
struct scan_plan {
	enum reap_method method;	  /* how a verdict is acted on */
	bool read_more;			  /* rx_idle somewhere: the candidates do not suffice */
	uint64_t backstop_period_ns;	  /* a backstop walk starts this often; 0: none */
	uint64_t backstop_min_step;	  /* sockets a step visits at the least */
	uint64_t scans_per_period;	  /* scans in one backstop period: a step's share */
	bool all_netns;			  /* the backstop walk tours every namespace */
};

/* An episode due this scan: new (log its stall line) or due for a retry. */
struct due {
	size_t ep;
	bool is_new;
	struct sr_sock e;	/* as the scan read it */
	struct sr_sock fresh;	/* as read again just before acting, if found */
	bool found;
	int fresh_err;		/* the re-read failed (errno): act next scan */
	bool exact;		/* storage path: fresh is the record itself, not a copy */
	bool refreshed;		/* its namespace was walked this scan */
};

/* What lasts from one scan to the next, and the scratch a scan reuses. */
struct scan_state {
	struct episodes eps;
	struct tracker_snapshot snap;
	struct owner_index owners;	/* this scan's due sockets' owners, when several are due */
	struct due *due;
	size_t cap_due;
	uint64_t last_walk_ns;		/* when the last backstop walk started */
	uint64_t walk_size;		/* the last complete walk's size: it sets the step */
	struct policy_pressure pressure; /* the kernel's TCP memory pressure (set by
					  * the daemon before each scan) */
};

/* Everything a scan works with, built once by the daemon. */
struct scan_ctx {
	struct tracker *tracker;
	const struct targets *targets;
	const struct scan_plan *plan;
	struct scan_state *state;
	struct identity_cache *identities; /* who each socket belongs to (pod, unit) */
	struct pod_reaps *pod_reaps;	/* reaps counted by pod (an observer), or NULL */
	volatile sig_atomic_t *stop;	/* set by SIGINT/SIGTERM: stop between reaps */
	/* Called between the reaps of a long scan (let signals in, answer `list`). */
	void (*between_reaps)(void *arg);
	void *arg;
};

/* What one scan did: the daemon folds it into its metrics. */
struct scan_result {
	bool read_failed;		/* the tracked sockets could not be read: nothing done */
	bool lost_netns;		/* the daemon lost its own network namespace: stop */
	uint64_t entries;		/* sockets judged */
	uint64_t stalled_now[SR_REASON_MAX];
	uint64_t stalls[SR_REASON_MAX];			/* verdicts that first fired */
	uint64_t stall_causes[SR_REASON_MAX][CAUSE_MAX];
	uint64_t reaps[SR_REASON_MAX][REAP_RESULT_MAX];
	uint64_t reap_causes[SR_REASON_MAX][CAUSE_MAX];	/* result ok */
	uint64_t owner_failures[OWNER_CAUSE_MAX];
	uint64_t scan_errors;		/* reads that failed, this scan */
	struct histogram reap_latency;	/* grace expiry -> done, result ok */
	uint64_t backstop_steps, backstop_walks, backstop_sockets;
	uint64_t calm_ns;		/* from the scan's start until a verdict's clock may
					 * fire (one running, or a retry): UINT64_MAX none */
};

/* One scan at now_ns. The result is zeroed first (its histogram bounds kept). */
void scan(const struct scan_ctx *c, uint64_t now_ns, struct scan_result *r);

void scan_state_free(struct scan_state *s);

#endif
