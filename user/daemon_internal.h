/* daemon_internal.h - the daemon's state, shared by its wiring (daemon.c)
 * and one scan (scan.c); nothing else includes it. */
#ifndef SR_DAEMON_INTERNAL_H
#define SR_DAEMON_INTERNAL_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "clock.h"
#include "episodes.h"
#include "http.h"
#include "metrics.h"
#include "observe.h"
#include "options.h"
#include "owner.h"
#include "targets.h"
#include "tracker.h"

/* An episode due this scan: new (log its stall line) or due for a retry. */
struct due {
	size_t ep;
	bool is_new;
	struct sr_sock e;
};

struct daemon {
	volatile sig_atomic_t *stop;	/* set by SIGINT/SIGTERM */
	const struct sr_config *cfg;
	struct targets targets;
	struct tracker *tracker;
	struct http_server *http;
	struct sr_metrics metrics;
	struct episodes eps;
	struct due *due;	/* this scan's episodes to act on (indexes into eps.next) */
	size_t cap_due;
	struct tracker_snapshot scan_snap, list_snap;
	struct owner_index owners; /* this scan's due sockets' owners, when several are due */
	sigset_t wait_mask;	/* the mask while waiting: SIGINT/SIGTERM deliverable */
	uint64_t last_service_ns;
	bool fatal;		/* lost the own network namespace: stop, exit 1 */
	struct observe_state observed;
	int control_fd;
	bool full_every_scan;	/* rx_idle is on: every established socket is a candidate */
	/* No send hook (send_path=sweep): an iter/tcp walk starting every
	 * SR_BACKSTOP_SWEEP_NS backstops what no segment reveals, a step of it
	 * each scan, so that its cost is spread over the period. 0 = none. */
	uint64_t backstop_sweep_ns;
	uint64_t last_sweep_ns;	  /* when the last walk started */
	uint64_t backstop_sockets; /* the last complete walk's size: it sets the step */
};


/* The backstop walk's period on the sweep path (see daemon.c), and the
 * fewest sockets one step visits. */
#define SR_BACKSTOP_SWEEP_NS (10 * NS_PER_S)
#define SR_BACKSTOP_MIN_STEP 1024

/* One scan: snapshot -> judge -> refresh the due -> index owners -> reap each -> observe. */
void scan(struct daemon *d);

/* Between reaps of a long scan: let SIGINT/SIGTERM in and answer `list` (every 20 ms at most). */
void daemon_service(struct daemon *d, bool force);

#endif
