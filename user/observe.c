/* observe.c - what the daemon shows of its scans: a scan's result and the
 * BPF counters folded into the metrics, warnings about what overflows, and
 * the exposition published. Observers only: nothing here decides or acts
 * (the log line per decision is decisions.c). */
#include "observe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "format.h"
#include "log.h"
#include "textfile.h"

void observe_publish(const struct sr_metrics *m, struct http_server *http, const char *metrics_file)
{
	char *body = NULL;
	size_t len = 0;
	int ret;

	if (metrics_render(m, &body, &len)) {
		pr_warn("cannot render metrics: out of memory");
		return;
	}
	if (http)
		http_publish(http, body, len);
	if (metrics_file[0]) {
		ret = textfile_write(metrics_file, body, len);
		if (ret)
			pr_warn("cannot write --metrics-file %s: %s", metrics_file, strerror(-ret));
	}
	free(body);
}

void observe_counters(struct observe_state *o, struct sr_metrics *m, const uint64_t counters[SR_CNT_MAX],
		      const struct tracker_census *census, uint32_t map_capacity)
{
	memcpy(m->bpf, counters, sizeof(m->bpf));
	m->sockets_tracked = census->tracked;
	m->sockets_kernel = census->kernel;
	for (int st = 0; st < SR_TCP_NSTATES; st++)
		m->tracked_by_state[st] = census->states[st];
	if (counters[SR_CNT_HOT_FULL] && !o->hot_full_warned) {
		pr_warn("candidate set full: every scan now reads every socket; raise --map-capacity");
		o->hot_full_warned = true;
	}
	if (counters[SR_CNT_MAP_FULL] > o->last_map_full && !map_capacity) {
		pr_warn("no kernel memory for socket storage: %llu sockets left untracked since the last "
			"scan", (unsigned long long)(counters[SR_CNT_MAP_FULL] - o->last_map_full));
		o->last_map_full = counters[SR_CNT_MAP_FULL];
	} else if (counters[SR_CNT_MAP_FULL] > o->last_map_full) {
		pr_warn("socket map full (capacity %u): %llu sockets left untracked since the last scan; "
			"raise --map-capacity",
			map_capacity, (unsigned long long)(counters[SR_CNT_MAP_FULL] - o->last_map_full));
		o->last_map_full = counters[SR_CNT_MAP_FULL];
	}
}

void observe_scan(struct sr_metrics *m, const struct scan_result *r)
{
	for (int i = 0; i < SR_REASON_MAX; i++) {
		m->stalls[i] += r->stalls[i];
		for (int k = 0; k < CAUSE_MAX; k++) {
			m->stall_causes[i][k] += r->stall_causes[i][k];
			m->reap_causes[i][k] += r->reap_causes[i][k];
		}
		for (int k = 0; k < REAP_RESULT_MAX; k++)
			m->reaps[i][k] += r->reaps[i][k];
	}
	for (int i = 0; i < OWNER_CAUSE_MAX; i++)
		m->owner_failures[i] += r->owner_failures[i];
	hist_add(&m->reap_latency_seconds, &r->reap_latency);
	m->scans_total++;
	m->scan_errors_total += r->scan_errors;
	m->backstop_steps_total += r->backstop_steps;
	m->backstop_walks_total += r->backstop_walks;
	m->backstop_sockets_total += r->backstop_sockets;
	/* The gauges of the last scan that read the sockets. */
	if (!r->read_failed) {
		m->scan_entries = r->entries;
		memcpy(m->stalled_now, r->stalled_now, sizeof(m->stalled_now));
	}
}
