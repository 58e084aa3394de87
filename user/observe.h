/* observe.h - metrics and warnings from the daemon's scans (no decisions here). */
#ifndef SR_OBSERVE_H
#define SR_OBSERVE_H

#include <stdbool.h>
#include <stdint.h>

#include "http.h"
#include "metrics.h"
#include "policy.h"
#include "scan.h"
#include "sockreap.h"
#include "tracker.h"

/* Warnings already given, so a lasting condition is not repeated every scan. */
struct observe_state {
	uint64_t last_map_full;
	bool hot_full_warned;
};

/* Fold one scan's result into the metrics. */
void observe_scan(struct sr_metrics *m, const struct scan_result *r);

/* Fold the BPF counters and the census into the metrics; warn once about a
 * full candidate set, and about a full map once per scan while it overflows. */
void observe_counters(struct observe_state *o, struct sr_metrics *m, const uint64_t counters[SR_CNT_MAX],
		      const struct tracker_census *census, uint32_t map_capacity);

/* Render the metrics and publish them: HTTP (if on) and the metrics file (if set). */
void observe_publish(const struct sr_metrics *m, struct http_server *http, const char *metrics_file);

#endif
