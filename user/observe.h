/* observe.h - log lines, metrics and warnings for the daemon's decisions (no decisions here). */
#ifndef SR_OBSERVE_H
#define SR_OBSERVE_H

#include <stdbool.h>
#include <stdint.h>

#include "http.h"
#include "metrics.h"
#include "policy.h"
#include "reaper.h"
#include "sockreap.h"

/* Warnings already given, so a lasting condition is not repeated every scan. */
struct observe_state {
	uint64_t last_map_full;
	bool hot_full_warned;
};

/*
 * One decision line: event "stall" (rep NULL) or "reap". The contract's key
 * order: reason, then result and method for a reap, then the rest.
 */
void observe_decision(const char *event, const char *target, uint64_t cookie,
		      const struct sr_sock *e, const struct policy_verdict *v,
		      const struct reap_report *rep, enum reap_result res);

/* Count a verdict that first fired, and a reap attempt (latency: grace expiry -> done). */
void observe_stall(struct sr_metrics *m, const struct sr_sock *e, const struct policy_verdict *v);
void observe_reap(struct sr_metrics *m, const struct sr_sock *e, const struct policy_verdict *v,
		  const struct reap_report *rep, enum reap_result res, double latency_s);

/* Fold the BPF counters into the metrics; warn once about a full candidate
 * set, and about a full map once per scan while it overflows. */
void observe_counters(struct observe_state *o, struct sr_metrics *m, const uint64_t counters[SR_CNT_MAX],
		      uint32_t map_capacity);

/* Render the metrics and publish them: HTTP (if on) and the metrics file (if set). */
void observe_publish(const struct sr_metrics *m, struct http_server *http, const char *metrics_file);

#endif
