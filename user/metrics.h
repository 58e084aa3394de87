/* metrics.h - the daemon's counters and their Prometheus text rendering (pure). */
#ifndef SR_METRICS_H
#define SR_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "policy.h"
#include "outcome.h"
#include "sockreap.h"

#define HIST_MAX_BUCKETS 16

struct histogram {
	size_t n;			  /* finite bounds */
	double bounds[HIST_MAX_BUCKETS];  /* upper bounds, ascending */
	uint64_t counts[HIST_MAX_BUCKETS + 1]; /* per bucket, not cumulative; last is +Inf */
	double sum;
	uint64_t count;
};

/* Reaps counted by pod (--metrics-pod-labels): bounded, since every pod
 * is a label value; past POD_REAPS_MAX pods the rest count as "other". */
#define POD_REAPS_MAX 1024
struct pod_reaps {
	size_t n;
	struct {
		char uid[40];
		uint64_t reaps[SR_REASON_MAX][REAP_RESULT_MAX];
	} pod[POD_REAPS_MAX + 1]; /* the last: "other" */
};

/* Count one reap attempt of a socket of pod uid. */
void pod_reaps_add(struct pod_reaps *p, const char *uid, enum sr_reason reason, enum reap_result res);

struct sr_metrics {
	uint64_t reaps[SR_REASON_MAX][REAP_RESULT_MAX];
	uint64_t stalls[SR_REASON_MAX];
	uint64_t stall_causes[SR_REASON_MAX][CAUSE_MAX];	/* verdicts fired, by cause */
	uint64_t reap_causes[SR_REASON_MAX][CAUSE_MAX];	/* result=ok reaps, by cause */
	uint64_t owner_failures[OWNER_CAUSE_MAX];
	uint64_t stalled_now[SR_REASON_MAX];
	uint64_t tracked_by_state[SR_TCP_NSTATES];
	uint64_t sockets_tracked;
	uint64_t sockets_kernel;	/* tracked kernel sockets: never acted on unless asked */
	uint64_t scan_entries;		/* entries the last scan examined */
	uint64_t tcp_memory_pressure;	/* 1: the last scan saw the kernel's TCP under memory pressure */
	uint64_t map_capacity;
	uint64_t bpf[SR_CNT_MAX];	/* summed per-CPU BPF counters */
	/* Events the kernel skipped per program (it would have nested in itself):
	 * n_progs of them, where the kernel reports it (Linux 5.12+). */
	size_t n_progs;
	struct {
		const char *event;
		uint64_t misses;
	} recursion[8];
	double scan_interval_seconds;	/* the configured scan period */
	char store[16];			/* "storage" or "hash" */
	uint64_t scans_total;
	double scan_cpu_seconds_total;	/* CPU time of the scan thread spent scanning */
	uint64_t scan_errors_total;	/* scans whose map read failed: nothing was done */
	/* The sweep path's backstop walk, taken in steps (one per scan at most). */
	uint64_t backstop_steps_total;
	uint64_t backstop_walks_total;	/* walks that reached their end */
	uint64_t backstop_sockets_total; /* sockets the steps visited */
	struct histogram scan_seconds;
	struct histogram reap_latency_seconds; /* grace expiry -> shutdown done */
	double start_time_seconds;	/* unix time */
	struct pod_reaps *pod_reaps;	/* NULL unless --metrics-pod-labels */
	char version[32];
	char kernel[64];
};

void metrics_init(struct sr_metrics *m, const char *version, const char *kernel,
		  double start_time);
void hist_observe(struct histogram *h, double v);
/* Add the observations of from (same bounds) into to. */
void hist_add(struct histogram *to, const struct histogram *from);

/*
 * Render the exposition (text format 0.0.4) into a malloc'd buffer.
 * Returns 0 with the buffer in out and its length in len, or -ENOMEM. No I/O.
 */
int metrics_render(const struct sr_metrics *m, char **out, size_t *len);


#endif
