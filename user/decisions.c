/* decisions.c - one log line per decision: event=stall when a verdict
 * first fires, event=reap per attempt, in the contract's key order. */
#include "decisions.h"

#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "format.h"
#include "log.h"

/* Who the socket belongs to: pod_uid= and container_id= (12 hex, as kubectl
 * and crictl show it) in a pod; unit= (and a container's id) on a plain
 * host; unit=- when the cgroup tells nothing. */
static size_t add_identity(struct log_kv *kv, size_t n, const struct pod_identity *who,
			   char ctr[13])
{
	podid_short_container(who, ctr);
	if (who->kind == PODID_POD) {
		kv[n++] = (struct log_kv){ "pod_uid", who->pod_uid, false };
		kv[n++] = (struct log_kv){ "container_id", ctr[0] ? ctr : "-", false };
		return n;
	}
	kv[n++] = (struct log_kv){ "unit", who->kind == PODID_UNIT ? who->unit : "-", false };
	if (ctr[0])
		kv[n++] = (struct log_kv){ "container_id", ctr, false };
	return n;
}

void log_decision(const char *event, const char *target, uint64_t key,
		  const struct sr_sock *e, const struct policy_verdict *v,
		  const struct reap_report *rep, enum reap_result res, const struct pod_identity *who)
{
	char ctr[13];
	char laddr[FORMAT_ADDR_LEN], raddr[FORMAT_ADDR_LEN], ck[24], pid[16], fd[16], q[16],
		age[32], lim[32], wnd[16], rtx[16], held[32];
	const char *cause = policy_cause_name(policy_cause(e, v));
	struct log_kv kv[24];
	size_t n = 0;

	format_addr(laddr, sizeof(laddr), e->family, e->saddr, e->sport);
	format_addr(raddr, sizeof(raddr), e->family, e->daddr, e->dport);
	snprintf(ck, sizeof(ck), "%llu", (unsigned long long)key);
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
		n = add_identity(kv, n, who, ctr);
		kv[n++] = (struct log_kv){ "pid", pid, true };
		kv[n++] = (struct log_kv){ "comm", rep->comm, false };
		kv[n++] = (struct log_kv){ "fd", fd, true };
	} else {
		snprintf(pid, sizeof(pid), "%u", e->owner_tgid);
		snprintf(q, sizeof(q), "%u", policy_queued_bytes(e));
		kv[n++] = (struct log_kv){ "cause", cause, false };
		kv[n++] = (struct log_kv){ "target", target, false };
		n = add_identity(kv, n, who, ctr);
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
	/* A send stall held back by kernel memory pressure: by how much. */
	if (v->held_ns) {
		snprintf(held, sizeof(held), "%.3f", (double)v->held_ns / NS_PER_S);
		kv[n++] = (struct log_kv){ "held_s", held, true };
	}
	if (rep && rep->detail)
		kv[n++] = (struct log_kv){ "detail", rep->detail, false };
	if (rep && rep->err)
		kv[n++] = (struct log_kv){ "error", strerror(rep->err), false };
	log_event(event, kv, n);
}
