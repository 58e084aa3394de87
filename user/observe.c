/* observe.c - what the daemon shows of its decisions: log lines, metrics, warnings.
 *
 * Observers only: nothing here decides or acts. One log line per decision
 * (event=stall when a verdict first fires, event=reap per attempt), counters
 * folded into the metrics, and the exposition published each scan.
 */
#include "observe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "format.h"
#include "log.h"

void observe_decision(const char *event, const char *target, uint64_t cookie,
		      const struct sr_sock *e, const struct policy_verdict *v,
		      const struct reap_report *rep, enum reap_result res)
{
	char laddr[FORMAT_ADDR_LEN], raddr[FORMAT_ADDR_LEN], ck[24], pid[16], fd[16], q[16],
		age[32], lim[32], wnd[16], rtx[16];
	const char *cause = policy_cause_name(policy_cause(e, v));
	struct log_kv kv[20];
	size_t n = 0;

	format_addr(laddr, sizeof(laddr), e->family, e->saddr, e->sport);
	format_addr(raddr, sizeof(raddr), e->family, e->daddr, e->dport);
	snprintf(ck, sizeof(ck), "%llu", (unsigned long long)cookie);
	snprintf(age, sizeof(age), "%.3f", (double)v->age_ns / NS_PER_S);
	snprintf(lim, sizeof(lim), "%.3f", (double)v->limit_ns / NS_PER_S);
	/* The contract's order: reason, then result for a reap; target after them. */
	kv[n++] = (struct log_kv){ "reason", policy_reason_name(v->reason), false };
	if (rep) {
		snprintf(pid, sizeof(pid), "%d", rep->pid);
		snprintf(fd, sizeof(fd), "%d", rep->fd);
		snprintf(q, sizeof(q), "%u", rep->queued ? rep->queued : policy_queued_bytes(e));
		kv[n++] = (struct log_kv){ "result", reap_result_name(res), false };
		kv[n++] = (struct log_kv){ "method", rep->method, false };
		kv[n++] = (struct log_kv){ "cause", cause, false };
		kv[n++] = (struct log_kv){ "target", target, false };
		kv[n++] = (struct log_kv){ "pid", pid, true };
		kv[n++] = (struct log_kv){ "comm", rep->comm, false };
		kv[n++] = (struct log_kv){ "fd", fd, true };
	} else {
		snprintf(pid, sizeof(pid), "%u", e->owner_tgid);
		snprintf(q, sizeof(q), "%u", policy_queued_bytes(e));
		kv[n++] = (struct log_kv){ "cause", cause, false };
		kv[n++] = (struct log_kv){ "target", target, false };
		kv[n++] = (struct log_kv){ "pid", pid, true };
		kv[n++] = (struct log_kv){ "comm", e->comm, false };
	}
	kv[n++] = (struct log_kv){ "cookie", ck, true };
	kv[n++] = (struct log_kv){ "laddr", laddr, false };
	kv[n++] = (struct log_kv){ "raddr", raddr, false };
	kv[n++] = (struct log_kv){ "queued", q, true };
	kv[n++] = (struct log_kv){ "stalled_s", age, true };
	kv[n++] = (struct log_kv){ "grace_s", lim, true };
	/* The evidence behind cause=: the peer's window and retransmissions. */
	snprintf(wnd, sizeof(wnd), "%u", e->snd_wnd);
	snprintf(rtx, sizeof(rtx), "%u", e->retransmits);
	kv[n++] = (struct log_kv){ "snd_wnd", wnd, true };
	kv[n++] = (struct log_kv){ "retransmits", rtx, true };
	if (rep && rep->detail)
		kv[n++] = (struct log_kv){ "detail", rep->detail, false };
	if (rep && rep->err)
		kv[n++] = (struct log_kv){ "error", strerror(rep->err), false };
	log_event(event, kv, n);
}

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
		ret = metrics_write_file(metrics_file, body, len);
		if (ret)
			pr_warn("cannot write --metrics-file %s: %s", metrics_file, strerror(-ret));
	}
	free(body);
}

void observe_counters(struct observe_state *o, struct sr_metrics *m, const uint64_t counters[SR_CNT_MAX],
		      uint32_t map_capacity)
{
	memcpy(m->bpf, counters, sizeof(m->bpf));
	/* Exact every scan without reading the map: BPF counts creations and deletions. */
	m->sockets_tracked = counters[SR_CNT_INSERTS] - counters[SR_CNT_DELETES];
	for (int st = 0; st < SR_TCP_NSTATES; st++)
		m->tracked_by_state[st] = counters[SR_CNT_STATE_BASE + st];
	if (counters[SR_CNT_HOT_FULL] && !o->hot_full_warned) {
		pr_warn("candidate set full: every scan now reads every socket; raise --map-capacity");
		o->hot_full_warned = true;
	}
	if (counters[SR_CNT_MAP_FULL] > o->last_map_full) {
		pr_warn("socket map full (capacity %u): %llu sockets left untracked since the last scan; "
			"raise --map-capacity",
			map_capacity, (unsigned long long)(counters[SR_CNT_MAP_FULL] - o->last_map_full));
		o->last_map_full = counters[SR_CNT_MAP_FULL];
	}
}

void observe_reap(struct sr_metrics *m, const struct sr_sock *e, const struct policy_verdict *v,
		  const struct reap_report *rep, enum reap_result res, double latency_s)
{
	if (rep->owner_failed)
		m->owner_failures[rep->cause]++;
	m->reaps[v->reason][res]++;
	if (res == REAP_OK) {
		m->reap_causes[v->reason][policy_cause(e, v)]++;
		hist_observe(&m->reap_latency_seconds, latency_s);
	}
}

void observe_stall(struct sr_metrics *m, const struct sr_sock *e, const struct policy_verdict *v)
{
	m->stalls[v->reason]++;
	m->stall_causes[v->reason][policy_cause(e, v)]++;
}
