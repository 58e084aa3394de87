/* metrics.c - Prometheus exposition of the daemon's counters.
 *
 * Labels stay bounded: reason, result, state, program. Never a socket
 * address, pid or process name: the endpoint may be scraped by anyone who
 * can reach it.
 */
#include "metrics.h"

#include "format.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static const char *const bpf_counter_names[SR_CNT_MAX] = {
	[SR_CNT_EV_SEND] = "tcp_sendmsg_locked",
	[SR_CNT_EV_PROBE] = "tcp_probe",
	[SR_CNT_EV_STATE] = "inet_sock_set_state",
	[SR_CNT_EV_WALK] = "iter_tcp",
	[SR_CNT_EV_RETRANS] = "tcp_retransmit_skb",
};

static void hist_init(struct histogram *h, const double *bounds, size_t n)
{
	memset(h, 0, sizeof(*h));
	h->n = n < HIST_MAX_BUCKETS ? n : HIST_MAX_BUCKETS;
	memcpy(h->bounds, bounds, h->n * sizeof(double));
}

void hist_observe(struct histogram *h, double v)
{
	size_t i = 0;

	while (i < h->n && v > h->bounds[i])
		i++;
	h->counts[i]++;
	h->sum += v;
	h->count++;
}

void pod_reaps_add(struct pod_reaps *p, const char *uid, enum sr_reason reason, enum reap_result res)
{
	size_t i;

	if (reason >= SR_REASON_MAX || res >= REAP_RESULT_MAX)
		return;
	for (i = 0; i < p->n && strcmp(p->pod[i].uid, uid); i++)
		;
	if (i == p->n && p->n < POD_REAPS_MAX)
		snprintf(p->pod[p->n++].uid, sizeof(p->pod[0].uid), "%s", uid);
	else if (i == p->n)
		i = POD_REAPS_MAX; /* "other" */
	p->pod[i].reaps[reason][res]++;
}

void hist_add(struct histogram *to, const struct histogram *from)
{
	for (size_t i = 0; i <= to->n && i <= HIST_MAX_BUCKETS; i++)
		to->counts[i] += from->counts[i];
	to->sum += from->sum;
	to->count += from->count;
}

void metrics_init(struct sr_metrics *m, const char *version, const char *kernel,
		  double start_time)
{
	static const double scan_b[] = { 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
					 0.01,	 0.025,	  0.05,	  0.1,	 0.25,	 1 };
	static const double reap_b[] = { 0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10 };

	memset(m, 0, sizeof(*m));
	hist_init(&m->scan_seconds, scan_b, sizeof(scan_b) / sizeof(scan_b[0]));
	hist_init(&m->reap_latency_seconds, reap_b, sizeof(reap_b) / sizeof(reap_b[0]));
	snprintf(m->version, sizeof(m->version), "%s", version);
	snprintf(m->kernel, sizeof(m->kernel), "%s", kernel);
	m->start_time_seconds = start_time;
}

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A family of one unlabelled sample. */
static void scalar(FILE *f, const char *name, const char *type, const char *help, uint64_t v)
{
	family(f, name, type, help);
	fprintf(f, "%s %llu\n", name, (unsigned long long)v);
}

/* Label values here are our own constants, but escape anyway (\\, \", \n). */
static void label_value(FILE *f, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			fputc('\\', f);
		if (*v == '\n') {
			fputs("\\n", f);
			continue;
		}
		fputc(*v, f);
	}
}

static void hist_render(FILE *f, const char *name, const struct histogram *h)
{
	uint64_t cum = 0;

	for (size_t i = 0; i < h->n; i++) {
		cum += h->counts[i];
		fprintf(f, "%s_bucket{le=\"%g\"} %llu\n", name, h->bounds[i], (unsigned long long)cum);
	}
	cum += h->counts[h->n];
	fprintf(f, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)cum);
	fprintf(f, "%s_sum %.9g\n%s_count %llu\n", name, h->sum, name, (unsigned long long)h->count);
}

/* Which causes policy_cause() can give for a reason. */
static bool cause_applies(int reason, int cause)
{
	switch (reason) {
	case SR_REASON_SEND_STALL:
		return cause == CAUSE_ZERO_WINDOW || cause == CAUSE_NO_ACK || cause == CAUSE_UNKNOWN;
	case SR_REASON_RX_IDLE:
		return cause == CAUSE_NO_ACK || cause == CAUSE_SILENT;
	case SR_REASON_PEER_GONE:
		return cause == CAUSE_DATA_UNREAD || cause == CAUSE_FIN_UNREAD;
	case SR_REASON_CLOSE_WAIT:
		return cause == CAUSE_EOF_READ;
	default:
		return false;
	}
}

static void render_causes(FILE *f, const char *name, const uint64_t counts[SR_REASON_MAX][CAUSE_MAX])
{
	for (int r = SR_REASON_SEND_STALL; r < SR_REASON_MAX; r++)
		for (int c = 0; c < CAUSE_MAX; c++)
			if (cause_applies(r, c))
				fprintf(f, "%s{reason=\"%s\",cause=\"%s\"} %llu\n", name,
					policy_reason_name(r), policy_cause_name(c),
					(unsigned long long)counts[r][c]);
}

/* Decisions: reaps and stalls by reason, result and cause; owner failures. */
static void render_decisions(FILE *f, const struct sr_metrics *m)
{
	family(f, "sockreap_reaps_total", "counter", "Reap attempts by reason and result.");
	for (int r = SR_REASON_SEND_STALL; r < SR_REASON_MAX; r++)
		for (int x = 0; x < REAP_RESULT_MAX; x++)
			fprintf(f, "sockreap_reaps_total{reason=\"%s\",result=\"%s\"} %llu\n",
				policy_reason_name(r), reap_result_name(x),
				(unsigned long long)m->reaps[r][x]);

	family(f, "sockreap_stalls_total", "counter", "Verdicts fired, dry run included.");
	for (int r = SR_REASON_SEND_STALL; r < SR_REASON_MAX; r++)
		fprintf(f, "sockreap_stalls_total{reason=\"%s\"} %llu\n", policy_reason_name(r),
			(unsigned long long)m->stalls[r]);

	/* Causes by reason: only the pairs that can occur, so the label set stays small. */
	family(f, "sockreap_stall_causes_total", "counter", "Verdicts fired, by reason and cause.");
	render_causes(f, "sockreap_stall_causes_total", m->stall_causes);
	family(f, "sockreap_reap_causes_total", "counter",
	       "Sockets shut down (result ok), by reason and cause.");
	render_causes(f, "sockreap_reap_causes_total", m->reap_causes);

	family(f, "sockreap_owner_failures_total", "counter",
	       "Reap attempts that found no owner fd, by cause (the destroy fallback may follow).");
	for (int c = OWNER_INODE_UNKNOWN; c < OWNER_CAUSE_MAX; c++)
		fprintf(f, "sockreap_owner_failures_total{cause=\"%s\"} %llu\n",
			owner_cause_name(c), (unsigned long long)m->owner_failures[c]);
}

/* What is tracked: sockets now stalled, by state, map capacity, BPF events. */
static void render_tracking(FILE *f, const struct sr_metrics *m)
{
	family(f, "sockreap_stalled_sockets", "gauge", "Sockets whose verdict fires at the last scan.");
	for (int r = SR_REASON_SEND_STALL; r < SR_REASON_MAX; r++)
		fprintf(f, "sockreap_stalled_sockets{reason=\"%s\"} %llu\n", policy_reason_name(r),
			(unsigned long long)m->stalled_now[r]);

	scalar(f, "sockreap_sockets_tracked", "gauge",
	       "Sockets tracked (socket storage, or the BPF hash map).", m->sockets_tracked);
	scalar(f, "sockreap_sockets_kernel", "gauge",
	       "Tracked kernel sockets (NFS, MPTCP subflows): no process owns them, never acted on "
	       "unless --reap-unowned.",
	       m->sockets_kernel);

	scalar(f, "sockreap_scan_entries", "gauge",
	       "Sockets the last scan examined: the candidates (data queued, CLOSE_WAIT) or all.",
	       m->scan_entries);

	scalar(f, "sockreap_tcp_memory_pressure", "gauge",
	       "1 if the last scan saw the kernel's TCP under memory pressure (send stalls are "
	       "then held: three graces at most while it lasts, then until the timers it backed "
	       "off have fired).",
	       m->tcp_memory_pressure);

	family(f, "sockreap_sockets_by_state", "gauge", "Tracked sockets by TCP state.");
	for (int s = 1; s < SR_TCP_NSTATES; s++)
		if (m->tracked_by_state[s] || s == 1 || s == 8)
			fprintf(f, "sockreap_sockets_by_state{state=\"%s\"} %llu\n", format_tcp_state((unsigned int)s, true),
				(unsigned long long)m->tracked_by_state[s]);

	scalar(f, "sockreap_map_capacity", "gauge",
	       "Sockets the hash store can hold; 0 with socket storage, which has no fixed capacity.",
	       m->map_capacity);

	scalar(f, "sockreap_map_full_total", "counter",
	       "Sockets left untracked: the hash store was full (or, with socket storage, no memory).",
	       m->bpf[SR_CNT_MAP_FULL]);

	scalar(f, "sockreap_candidates_full_total", "counter",
	       "Candidates the candidate set could not hold (the scan then reads every socket).",
	       m->bpf[SR_CNT_HOT_FULL]);

	family(f, "sockreap_bpf_events_total", "counter", "Events seen by each BPF program.");
	for (int c = 0; c < SR_CNT_MAX; c++)
		if (bpf_counter_names[c])
			fprintf(f, "sockreap_bpf_events_total{program=\"%s\"} %llu\n",
				bpf_counter_names[c], (unsigned long long)m->bpf[c]);

	if (m->pod_reaps) {
		const struct pod_reaps *p = m->pod_reaps;

		family(f, "sockreap_pod_reaps_total", "counter",
		       "Reap attempts by pod, reason and result (--metrics-pod-labels).");
		for (size_t i = 0; i <= POD_REAPS_MAX; i++) {
			if (i >= p->n && i != POD_REAPS_MAX)
				continue;
			for (int r = SR_REASON_SEND_STALL; r < SR_REASON_MAX; r++)
				for (int x = 0; x < REAP_RESULT_MAX; x++)
					if (p->pod[i].reaps[r][x])
						fprintf(f, "sockreap_pod_reaps_total{pod_uid=\"%s\",reason=\"%s\","
							   "result=\"%s\"} %llu\n",
							i == POD_REAPS_MAX ? "other" : p->pod[i].uid,
							policy_reason_name(r), reap_result_name(x),
							(unsigned long long)p->pod[i].reaps[r][x]);
		}
	}

	family(f, "sockreap_bpf_recursion_misses_total", "counter",
	       "Events a BPF program missed: the kernel skipped it, as it would have nested in "
	       "itself on one CPU (reported by Linux 5.12+).");
	for (size_t i = 0; i < m->n_progs; i++)
		fprintf(f, "sockreap_bpf_recursion_misses_total{program=\"%s\"} %llu\n",
			m->recursion[i].event, (unsigned long long)m->recursion[i].misses);
}

/* The scans themselves, reap latency, and who we are. */
static void render_daemon(FILE *f, const struct sr_metrics *m)
{
	scalar(f, "sockreap_scans_total", "counter", "Scans of the tracked sockets.", m->scans_total);

	family(f, "sockreap_scan_interval_seconds", "gauge", "The configured scan period.");
	fprintf(f, "sockreap_scan_interval_seconds %g\n", m->scan_interval_seconds);

	family(f, "sockreap_scan_cpu_seconds_total", "counter",
	       "CPU time (user + system) the daemon spent in scans.");
	fprintf(f, "sockreap_scan_cpu_seconds_total %.6f\n", m->scan_cpu_seconds_total);

	scalar(f, "sockreap_scan_errors_total", "counter",
	       "Scans that could not read the map; nothing was reaped in them.",
	       m->scan_errors_total);

	scalar(f, "sockreap_backstop_steps_total", "counter",
	       "Scans that took a step of the backstop walk (sweep path only).",
	       m->backstop_steps_total);
	scalar(f, "sockreap_backstop_walks_total", "counter",
	       "Backstop walks that reached their end (one starts every 10 s).",
	       m->backstop_walks_total);
	scalar(f, "sockreap_backstop_sockets_total", "counter",
	       "Sockets the backstop walk's steps visited.",
	       m->backstop_sockets_total);

	family(f, "sockreap_scan_duration_seconds", "histogram", "Wall time of one scan.");
	hist_render(f, "sockreap_scan_duration_seconds", &m->scan_seconds);

	family(f, "sockreap_reap_latency_seconds", "histogram",
	       "From the end of the grace window to the socket's shutdown.");
	hist_render(f, "sockreap_reap_latency_seconds", &m->reap_latency_seconds);

	family(f, "sockreap_start_time_seconds", "gauge", "Start time of the daemon, unix seconds.");
	fprintf(f, "sockreap_start_time_seconds %.3f\n", m->start_time_seconds);

	family(f, "sockreap_build_info", "gauge", "Version and kernel; always 1.");
	fputs("sockreap_build_info{version=\"", f);
	label_value(f, m->version);
	fputs("\",kernel=\"", f);
	label_value(f, m->kernel);
	fputs("\"} 1\n", f);

	if (m->store[0]) {
		family(f, "sockreap_socket_store_info", "gauge",
		       "Where per-socket state lives: socket-local storage, or the bounded hash map; "
		       "always 1.");
		fputs("sockreap_socket_store_info{store=\"", f);
		label_value(f, m->store);
		fputs("\"} 1\n", f);
	}
}

int metrics_render(const struct sr_metrics *m, char **out, size_t *len)
{
	FILE *f = open_memstream(out, len);

	if (!f)
		return -ENOMEM;

	render_decisions(f, m);
	render_tracking(f, m);
	render_daemon(f, m);
	if (fclose(f))
		return -ENOMEM;
	return 0;
}
