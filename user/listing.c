/* listing.c - render the daemon's view of each socket, like ss with verdicts. */
#include "listing.h"

#include <stdlib.h>
#include <string.h>

#include "format.h"
#include "log.h"

/* How far along its clock a row is, as a fraction of its limit. */
static double progress(const struct policy_verdict *v)
{
	if (v->reason != SR_REASON_NONE)
		return 1.0 + (double)v->age_ns / 1e9;
	if (v->pending != SR_REASON_NONE && v->limit_ns)
		return (double)v->age_ns / (double)v->limit_ns;
	return -1.0;
}

static int cmp_rows(const void *a, const void *b)
{
	const struct list_row *x = a, *y = b;
	double px = progress(&x->v), py = progress(&y->v);

	if (px != py)
		return px > py ? -1 : 1;
	return x->cookie < y->cookie ? -1 : x->cookie > y->cookie;
}

void listing_verdict(char *buf, size_t len, const struct policy_verdict *v)
{
	if (v->reason != SR_REASON_NONE)
		snprintf(buf, len, "STALLED %s %.1fs", policy_reason_name(v->reason),
			 (double)v->age_ns / 1e9);
	else if (v->pending != SR_REASON_NONE && v->age_ns)
		snprintf(buf, len, "stalling %.1f/%gs %s", (double)v->age_ns / 1e9,
			 (double)v->limit_ns / 1e9, policy_reason_name(v->pending));
	else
		snprintf(buf, len, "ok");
}

/* Seconds since a monotonic timestamp; negative when there is none. */
static double since(uint64_t now, uint64_t t)
{
	if (!t)
		return -1;
	return now > t ? (double)(now - t) / 1e9 : 0;
}

/* Does the row have a verdict or a running clock (and so a cause)? */
static bool has_clock(const struct policy_verdict *v)
{
	return v->reason != SR_REASON_NONE || v->pending != SR_REASON_NONE;
}

/* Who holds it: a process, the kernel (no process ever will), or nobody yet
 * (in a listener's accept queue, or not seen since it was accepted). */
static const char *owner_kind(const struct sr_sock *e)
{
	if (e->flags & SR_F_KERNEL)
		return "kernel";
	return e->ino ? "process" : "none";
}

/* POD and CONTAINER as the table shows them: the pod's UID (or the unit on a
 * plain host) and the 12-hex container id kubectl and crictl show. */
static void identity_cols(const struct pod_identity *who, const char **pod, char ctr[13])
{
	ctr[0] = '\0';
	*pod = "-";
	if (!who)
		return;
	podid_short_container(who, ctr);
	if (who->kind == PODID_POD)
		*pod = who->pod_uid;
	else if (who->kind == PODID_UNIT)
		*pod = who->unit;
}

/* The identity in JSON: null where not known. */
static void json_identity(FILE *f, const struct pod_identity *who)
{
	char ctr[13] = "";
	bool pod = who && who->kind == PODID_POD, unit = who && who->kind == PODID_UNIT;

	if (who)
		podid_short_container(who, ctr);
	fprintf(f, ",\"pod_uid\":%s%s%s", pod ? "\"" : "", pod ? who->pod_uid : "null", pod ? "\"" : "");
	fprintf(f, ",\"qos\":%s%s%s", pod && who->qos[0] ? "\"" : "",
		pod && who->qos[0] ? who->qos : "null", pod && who->qos[0] ? "\"" : "");
	fprintf(f, ",\"container_id\":%s%s%s", ctr[0] ? "\"" : "", ctr[0] ? ctr : "null",
		ctr[0] ? "\"" : "");
	fprintf(f, ",\"unit\":%s%s%s", unit ? "\"" : "", unit ? who->unit : "null", unit ? "\"" : "");
}

static void json_num_or_null(FILE *f, const char *key, double v)
{
	if (v < 0)
		fprintf(f, "\"%s\":null", key);
	else
		fprintf(f, "\"%s\":%.3f", key, v);
}

static void render_json(FILE *f, const struct list_row *rows, size_t n, uint64_t now)
{
	fputc('[', f);
	for (size_t i = 0; i < n; i++) {
		const struct sr_sock *e = rows[i].e;
		const struct policy_verdict *v = &rows[i].v;
		char la[FORMAT_ADDR_LEN], ra[FORMAT_ADDR_LEN], verdict[64];

		format_addr(la, sizeof(la), e->family, e->saddr, e->sport);
		format_addr(ra, sizeof(ra), e->family, e->daddr, e->dport);
		listing_verdict(verdict, sizeof(verdict), v);
		fprintf(f, "%s\n{\"cookie\":%llu,\"laddr\":\"%s\",\"raddr\":\"%s\",\"state\":\"%s\",\"owner\":\"%s\",\"pid\":%u,\"comm\":",
			i ? "," : "", (unsigned long long)rows[i].cookie, la, ra, format_tcp_state(e->state, false),
			owner_kind(e), e->owner_tgid);
		log_fput_json_string(f, e->comm);
		fprintf(f, ",\"cgroup_id\":%llu", (unsigned long long)e->cgroup_id);
		json_identity(f, rows[i].who);
		fputs(",\"target\":", f);
		log_fput_json_string(f, rows[i].target ? rows[i].target : "");
		fprintf(f, ",\"queued_bytes\":%u,\"acked_bytes\":%llu,", policy_queued_bytes(e),
			(unsigned long long)e->bytes_acked);
		json_num_or_null(f, "since_ack_progress_s", since(now, e->last_progress_ns));
		fputc(',', f);
		json_num_or_null(f, "since_receive_s", since(now, e->last_rx_ns));
		fprintf(f, ",\"snd_wnd_bytes\":%u,\"retransmits\":%u,", e->snd_wnd, e->retransmits);
		json_num_or_null(f, "since_retransmit_s", since(now, e->retrans_ns));
		fputc(',', f);
		json_num_or_null(f, "retransmit_timeout_s",
				 e->retrans_ns && e->retrans_due_ns > e->retrans_ns
					 ? (double)(e->retrans_due_ns - e->retrans_ns) / 1e9
					 : -1);
		fprintf(f, ",\"verdict\":\"%s\",\"reason\":\"%s\",\"cause\":%s%s%s,"
			   "\"stall_age_s\":%.3f,\"limit_s\":%.3f}",
			verdict,
			policy_reason_name(v->reason != SR_REASON_NONE ? v->reason : v->pending),
			has_clock(v) ? "\"" : "", has_clock(v) ? policy_cause_name(policy_cause(e, v)) : "null",
			has_clock(v) ? "\"" : "", (double)v->age_ns / 1e9, (double)v->limit_ns / 1e9);
	}
	fputs(n ? "\n]\n" : "]\n", f);
}

static void fmt_age(char *buf, size_t len, double s)
{
	if (s < 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%.1f", s);
}

static void render_table(FILE *f, const struct list_row *rows, size_t n, uint64_t now)
{
	fprintf(f, "%-22s %-22s %-10s %7s %-16s %10s %14s %8s %8s %8s %5s %-10s %-36s %-12s %-12s %s\n",
		"LOCAL", "REMOTE", "STATE", "PID", "COMM", "QUEUED", "ACKED", "ACK_AGE", "RX_AGE",
		"SND_WND", "RETX", "TARGET", "POD", "CONTAINER", "CAUSE", "VERDICT");
	for (size_t i = 0; i < n; i++) {
		const struct sr_sock *e = rows[i].e;
		char la[FORMAT_ADDR_LEN], ra[FORMAT_ADDR_LEN], verdict[64], pid[16], ack[16], rx[16];
		char comm[SR_COMM_LEN + 1], ctr[13];
		const char *pod;

		format_addr(la, sizeof(la), e->family, e->saddr, e->sport);
		format_addr(ra, sizeof(ra), e->family, e->daddr, e->dport);
		listing_verdict(verdict, sizeof(verdict), &rows[i].v);
		identity_cols(rows[i].who, &pod, ctr);
		if (e->flags & SR_F_KERNEL)
			snprintf(pid, sizeof(pid), "kernel");
		else
			snprintf(pid, sizeof(pid), e->owner_tgid ? "%u" : "-", e->owner_tgid);
		/* A comm is 15 bytes of anything: keep the columns intact. */
		memcpy(comm, e->comm, SR_COMM_LEN);
		comm[SR_COMM_LEN] = '\0';
		for (char *c = comm; *c; c++)
			if (*c <= ' ' || *c >= 0x7f)
				*c = '?';
		fmt_age(ack, sizeof(ack), since(now, e->last_progress_ns));
		fmt_age(rx, sizeof(rx), since(now, e->last_rx_ns));
		fprintf(f, "%-22s %-22s %-10s %7s %-16s %10u %14llu %8s %8s %8u %5u %-10s %-36s %-12s %-12s %s\n",
			la, ra, format_tcp_state(e->state, false), pid, comm[0] ? comm : "-", policy_queued_bytes(e),
			(unsigned long long)e->bytes_acked, ack, rx, e->snd_wnd, e->retransmits,
			rows[i].target ? rows[i].target : "-", pod, ctr[0] ? ctr : "-",
			has_clock(&rows[i].v) ? policy_cause_name(policy_cause(e, &rows[i].v)) : "-",
			verdict);
	}
}

void listing_render(FILE *f, struct list_row *rows, size_t n, uint64_t now_ns, bool json)
{
	if (n) /* never qsort(NULL, 0) */
		qsort(rows, n, sizeof(*rows), cmp_rows);
	if (json)
		render_json(f, rows, n, now_ns);
	else
		render_table(f, rows, n, now_ns);
}
