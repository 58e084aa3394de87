/* daemon.c - set up, then every --interval: snapshot -> policy -> reaper -> metrics/logs.
 *
 * Nothing here decides whether a socket is dead (policy.c does) or touches a
 * socket (reaper.c does). A stall "episode" is one (cookie, onset) pair: it
 * is logged once when it first fires and reaped once; failed attempts are
 * retried after another grace.
 */
#include "daemon.h"

#include <bpf/libbpf.h>
#include <errno.h>
#include <libgen.h>
#include <linux/capability.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "control.h"
#include "format.h"
#include "http.h"
#include "listing.h"
#include "log.h"
#include "metrics.h"
#include "owner.h"
#include "policy.h"
#include "reaper.h"
#include "tracker.h"

#define NS_PER_S 1000000000ull
#define NS_PER_MS 1000000ull

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
	(void)sig;
	g_stop = 1;
}

struct episode {
	uint64_t cookie;   /* 0 = dropped this scan (the fresh state did not confirm it) */
	uint64_t onset_ns;
	uint64_t retry_ns; /* 0 = settled: never act on this episode again */
};

/* An episode due this scan: new (log its stall line) or due for a retry. */
struct due {
	size_t ep;
	bool is_new;
	struct sr_sock e;
};

/* One target's rules; sr_sock.rule indexes daemon.rules. */
struct rule {
	char name[32];
	struct policy_config pol;
	bool dry_run;
};

struct daemon {
	const struct sr_config *cfg;
	struct rule rules[SR_MAX_TARGETS];
	size_t n_rules;
	struct tracker_target targets[SR_MAX_TARGETS];
	uint64_t cgroup_ids[SR_MAX_TARGETS][SR_MAX_CGROUPS];
	struct tracker *tracker;
	struct http_server *http;
	struct sr_metrics metrics;
	struct episode *eps, *next_eps;
	size_t n_eps, cap_eps;
	struct due *due;	/* this scan's episodes to act on (indexes into next_eps) */
	size_t cap_due;
	struct tracker_snapshot scan_snap, list_snap;
	struct owner_index owners; /* this scan's due sockets' owners, when several are due */
	sigset_t wait_mask;	/* the mask while waiting: SIGINT/SIGTERM deliverable */
	uint64_t last_service_ns;
	bool fatal;		/* lost the own network namespace: stop, exit 1 */
	uint64_t last_map_full;
	bool hot_full_warned;
	int control_fd;
	bool full_every_scan;	/* rx_idle is on: every established socket is a candidate */
	bool sweep_every_scan;
};

static const struct rule *rule_of(const struct daemon *d, const struct sr_sock *e)
{
	return &d->rules[e->rule < d->n_rules ? e->rule : 0];
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

/*
 * Capabilities in the effective set; each missing one is named. Each was
 * verified by dropping it alone (tests/integration/test_privilege.sh).
 */
static int check_privilege(const struct sr_config *cfg, char *err, size_t errlen)
{
	static const struct {
		int cap;
		bool all_netns_only;
		const char *name, *why;
	} need[] = {
		{ CAP_BPF, false, "CAP_BPF", "load the BPF programs" },
		{ CAP_PERFMON, false, "CAP_PERFMON", "load tracing programs that read kernel memory" },
		{ CAP_SYS_PTRACE, false, "CAP_SYS_PTRACE",
		  "read other processes' /proc/PID/fd links and duplicate their sockets (pidfd_getfd)" },
		{ CAP_DAC_READ_SEARCH, false, "CAP_DAC_READ_SEARCH",
		  "list other users' /proc/PID/fd directories to find a socket's owner" },
		{ CAP_SYS_ADMIN, true, "CAP_SYS_ADMIN", "enter other network namespaces (--all-netns)" },
	};
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];

	memset(data, 0, sizeof(data));
	if (syscall(SYS_capget, &hdr, data)) {
		snprintf(err, errlen, "sockreap: cannot read capabilities: %s", strerror(errno));
		return -errno;
	}
	for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
		int c = need[i].cap;

		if (need[i].all_netns_only && !cfg->all_netns)
			continue;
		if (!(data[c / 32].effective & (1u << (c % 32)))) {
			snprintf(err, errlen,
				 "sockreap: missing capability %s (needed to %s): run as root or grant it",
				 need[i].name, need[i].why);
			return -EPERM;
		}
	}
	return 0;
}

static int cmp_episode(const void *a, const void *b)
{
	const struct episode *x = a, *y = b;

	if (x->cookie != y->cookie)
		return x->cookie < y->cookie ? -1 : 1;
	if (x->onset_ns != y->onset_ns)
		return x->onset_ns < y->onset_ns ? -1 : 1;
	return 0;
}

static void log_decision(const char *event, const char *target, uint64_t cookie,
			 const struct sr_sock *e, const struct policy_verdict *v,
			 const struct reap_report *rep, enum reap_result res, const char *method)
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
		kv[n++] = (struct log_kv){ "result", policy_result_name(res), false };
		kv[n++] = (struct log_kv){ "method", method, false };
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

static enum reap_method reap_method_of(enum sr_kill_method k)
{
	return k == KILL_DESTROY ? REAP_METHOD_DESTROY
	       : k == KILL_SHUTDOWN ? REAP_METHOD_SHUTDOWN
				    : REAP_METHOD_AUTO;
}

/*
 * Re-read the entry and re-judge it just before acting: events may have
 * landed since the scan. Logs the stall line of a new episode, then asks the
 * reaper (which re-checks on the socket itself).
 */
static void act(struct daemon *d, const struct due *du)
{
	struct episode *ep = &d->next_eps[du->ep];
	struct sr_sock fresh;
	struct policy_verdict fv;
	const struct rule *rule;
	struct reap_report rep;
	enum reap_result res;
	uint64_t now = now_ns();
	int ret;

	ret = tracker_lookup(d->tracker, ep->cookie, &fresh);
	if (ret == -ENOENT) {
		ep->retry_ns = 0; /* closed meanwhile: nothing left to do */
		return;
	}
	if (ret) {
		/* Unreadable: do nothing now, and look again next scan. */
		d->metrics.scan_errors_total++;
		pr_warn("cannot read socket %llu from the map (%s): not acted on, retried next scan",
			(unsigned long long)ep->cookie, strerror(-ret));
		ep->retry_ns = now;
		return;
	}
	rule = rule_of(d, &fresh);
	fv = policy_verdict(&fresh, now, &rule->pol);
	if (fv.reason == REASON_NONE || fv.onset_ns != ep->onset_ns) {
		/* Recovered (or never was: the map lagged); a new stall is a new episode. */
		ep->cookie = 0;
		return;
	}
	/* The sweep path records no owner: name it from the index when it has it. */
	if (!fresh.owner_tgid && d->owners.n) {
		const struct owner_slot *o = owner_index_find(&d->owners, fresh.ino);

		if (o)
			fresh.owner_tgid = (uint32_t)o->pid;
	}
	if (du->is_new) {
		d->metrics.stalls[fv.reason]++;
		d->metrics.stall_causes[fv.reason][policy_cause(&fresh, &fv)]++;
		log_decision("stall", rule->name, ep->cookie, &fresh, &fv, NULL, 0, NULL);
	}
	res = reaper_reap(d->tracker, d->owners.n ? &d->owners : NULL, ep->cookie, &fresh, &fv,
			  reap_method_of(d->cfg->kill_method), rule->dry_run, &rep);
	if (rep.owner_failed)
		d->metrics.owner_failures[rep.cause]++;
	if (rep.fatal)
		d->fatal = true;
	d->metrics.reaps[fv.reason][res]++;
	if (res == REAP_OK)
		d->metrics.reap_causes[fv.reason][policy_cause(&fresh, &fv)]++;
	if (res == REAP_OK)
		hist_observe(&d->metrics.reap_latency_seconds,
			     (double)(now_ns() - (fv.onset_ns + fv.limit_ns)) / NS_PER_S);
	log_decision("reap", rule->name, ep->cookie, &fresh, &fv, &rep, res, rep.method);
	/* Settled once shut down (or reported, in a dry run). Otherwise the socket
	 * is still there and still judged dead: try again after another grace. */
	ep->retry_ns = (res == REAP_OK || res == REAP_DRY_RUN) ? 0 : now + fv.limit_ns;
}

static int ensure_eps(struct daemon *d, size_t want)
{
	struct episode *a, *b;
	struct due *c;
	size_t cap = d->cap_eps ? d->cap_eps : 64;

	if (want <= d->cap_eps)
		return 0;
	while (cap < want)
		cap *= 2;
	a = realloc(d->eps, cap * sizeof(*a));
	if (!a)
		return -ENOMEM;
	d->eps = a;
	b = realloc(d->next_eps, cap * sizeof(*b));
	if (!b)
		return -ENOMEM;
	d->next_eps = b;
	c = realloc(d->due, cap * sizeof(*c));
	if (!c)
		return -ENOMEM;
	d->due = c;
	d->cap_eps = cap;
	return 0;
}

static void publish_metrics(struct daemon *d)
{
	char *body = NULL;
	size_t len = 0;
	int ret;

	if (metrics_render(&d->metrics, &body, &len)) {
		pr_warn("cannot render metrics: out of memory");
		return;
	}
	if (d->http)
		http_publish(d->http, body, len);
	if (d->cfg->metrics_file[0]) {
		ret = metrics_write_file(d->cfg->metrics_file, body, len);
		if (ret)
			pr_warn("cannot write --metrics-file %s: %s", d->cfg->metrics_file, strerror(-ret));
	}
	free(body);
}

/* CPU time of the calling thread, seconds. */
static double thread_cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void serve_list(struct daemon *d);

/*
 * Between reaps of a long scan: let SIGINT/SIGTERM in and answer `list`,
 * at most every 20 ms, so neither waits for the scan to end.
 */
static void service(struct daemon *d, bool force)
{
	struct timespec zero = { 0, 0 };
	struct pollfd pfd = { d->control_fd, POLLIN, 0 };
	uint64_t now = now_ns();

	if (!force && now - d->last_service_ns < 20 * NS_PER_MS)
		return;
	d->last_service_ns = now;
	if (ppoll(&pfd, d->control_fd >= 0, &zero, &d->wait_mask) > 0)
		serve_list(d);
}

/*
 * Judge every entry of the snapshot: carry on known episodes, start new
 * ones, and queue those due now into d->due. Returns how many are due, or
 * -ENOMEM.
 */
static ssize_t judge(struct daemon *d, const struct tracker_snapshot *snap, uint64_t now,
		     size_t *n_next)
{
	size_t n_due = 0;

	memset(d->metrics.stalled_now, 0, sizeof(d->metrics.stalled_now));
	for (size_t i = 0; i < snap->n; i++) {
		const struct sr_sock *e = &snap->socks[i];
		struct policy_verdict v = policy_verdict(e, now, &rule_of(d, e)->pol);
		struct episode key = { snap->cookies[i], v.onset_ns, 0 }, *old, *ep;

		if (v.reason == REASON_NONE)
			continue;
		d->metrics.stalled_now[v.reason]++;
		if (ensure_eps(d, *n_next + 1))
			return -ENOMEM;
		ep = &d->next_eps[*n_next];
		old = d->n_eps ? bsearch(&key, d->eps, d->n_eps, sizeof(key), cmp_episode) : NULL;
		*ep = old ? *old : key;
		if (!old)
			ep->retry_ns = now; /* due now */
		if (ep->retry_ns && ep->retry_ns <= now)
			d->due[n_due++] = (struct due){ *n_next, !old, *e };
		(*n_next)++;
	}
	return (ssize_t)n_due;
}

/*
 * Some facts no event delivers: the owner's reads (copied_seq) of a socket
 * in CLOSE_WAIT, its ACKs there (tcp_probe fires only when ESTABLISHED), the
 * inode of a socket accepted and never used. Before judging such a socket
 * for good, sweep its network namespace once, for all of them together.
 */
static void refresh_due(struct daemon *d, size_t n_due)
{
	uint32_t done[16];
	size_t n_done = 0;

	if (d->sweep_every_scan)
		return; /* swept at the start of this scan */
	for (size_t i = 0; i < n_due && !d->fatal; i++) {
		const struct sr_sock *e = &d->due[i].e;
		bool seen = false;
		int ret;

		if (e->state != SR_TCP_CLOSE_WAIT && e->ino)
			continue;
		for (size_t k = 0; k < n_done; k++)
			seen |= done[k] == e->netns_ino;
		if (seen)
			continue;
		ret = tracker_sweep_netns(d->tracker, e->netns_ino);
		if (ret == -ENOTRECOVERABLE)
			d->fatal = true;
		if (n_done < sizeof(done) / sizeof(done[0]))
			done[n_done++] = e->netns_ino;
	}
}

static int cmp_pid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * With several reaps due, find all their owners in one pass: the fd tables
 * of the owners BPF recorded, each read once, and every process's only if
 * some socket is still unaccounted for (no owner recorded: the sweep path,
 * or the recorded sender has passed the socket on). One due reap keeps the
 * direct search, which stops at the first match.
 */
static void index_owners(struct daemon *d, size_t n_due)
{
	pid_t *pids;
	size_t n = 0;
	bool missing = false;
	int ret = 0;

	owner_index_clear(&d->owners);
	if (n_due < 2 || d->cfg->kill_method == KILL_DESTROY)
		return;
	pids = malloc(n_due * sizeof(*pids));
	if (!pids)
		return; /* each reap searches /proc itself */
	for (size_t i = 0; i < n_due; i++)
		if (d->due[i].e.owner_tgid)
			pids[n++] = (pid_t)d->due[i].e.owner_tgid;
	qsort(pids, n, sizeof(*pids), cmp_pid);
	for (size_t i = 0; i < n && !ret; i++)
		if (i == 0 || pids[i] != pids[i - 1])
			ret = owner_index_add_pid(&d->owners, pids[i]);
	free(pids);
	owner_index_sort(&d->owners);
	for (size_t i = 0; i < n_due && !ret && !missing; i++)
		missing = d->due[i].e.ino && !owner_index_find(&d->owners, d->due[i].e.ino);
	if (missing && !ret) {
		ret = owner_index_add_all(&d->owners);
		owner_index_sort(&d->owners);
	}
	if (ret) /* out of memory or /proc unreadable: fall back to per-reap searches */
		owner_index_clear(&d->owners);
}

/* Drop the episodes the fresh state did not confirm; keep the rest sorted for bsearch. */
static void keep_episodes(struct daemon *d, size_t n_next)
{
	struct episode *tmp = d->eps;
	size_t kept = 0;

	for (size_t i = 0; i < n_next; i++)
		if (d->next_eps[i].cookie)
			d->next_eps[kept++] = d->next_eps[i];
	d->eps = d->next_eps;
	d->next_eps = tmp;
	d->n_eps = kept;
	if (kept) /* never qsort(NULL, 0): arrays are allocated at the first stall */
		qsort(d->eps, d->n_eps, sizeof(*d->eps), cmp_episode);
}

static void scan(struct daemon *d)
{
	struct tracker_snapshot *snap = &d->scan_snap;
	uint64_t t0 = now_ns(), counters[SR_CNT_MAX];
	double cpu0 = thread_cpu_s();
	size_t n_next = 0;
	ssize_t n_due;
	bool full;
	int ret;

	d->metrics.scans_total++;
	if (d->sweep_every_scan) {
		ret = d->cfg->all_netns ? tracker_sweep_all_netns(d->tracker) : tracker_sweep(d->tracker);
		if (ret == -ENOTRECOVERABLE)
			d->fatal = true;
		else if (ret < 0)
			pr_warn("iter/tcp sweep failed: %s", strerror(-ret));
	}
	/* Only the candidates (queued data, CLOSE_WAIT) can fire send_stall or
	 * peer_gone: read those. Every socket is read when rx_idle is on, and
	 * for good once the candidate set has overflowed: a socket left out of
	 * it would never be seen again otherwise. */
	full = d->full_every_scan || d->metrics.bpf[SR_CNT_HOT_FULL] > 0;
	ret = full ? tracker_read(d->tracker, snap) : tracker_read_hot(d->tracker, snap);
	if (ret || d->fatal) {
		/* Fail safe: without a trustworthy snapshot, touch nothing. */
		d->metrics.scan_errors_total++;
		pr_warn("cannot read the socket map (%s): skipping this scan, nothing reaped",
			strerror(ret ? -ret : ENOTRECOVERABLE));
		goto observe;
	}
	d->metrics.scan_entries = snap->n;
	n_due = judge(d, snap, t0, &n_next);
	if (n_due < 0) {
		pr_warn("out of memory tracking stalls: skipping this scan, nothing reaped");
		goto observe;
	}
	refresh_due(d, (size_t)n_due);
	index_owners(d, (size_t)n_due);
	for (ssize_t i = 0; i < n_due && !g_stop && !d->fatal; i++) {
		act(d, &d->due[i]);
		service(d, false);
	}
	keep_episodes(d, n_next);
observe:
	tracker_counters(d->tracker, counters);
	memcpy(d->metrics.bpf, counters, sizeof(counters));
	/* Exact every scan without reading the map: BPF counts creations and deletions. */
	d->metrics.sockets_tracked = counters[SR_CNT_INSERTS] - counters[SR_CNT_DELETES];
	for (int st = 0; st < SR_TCP_STATE_MAX; st++)
		d->metrics.tracked_by_state[st] = counters[SR_CNT_STATE_BASE + st];
	if (counters[SR_CNT_HOT_FULL] && !d->hot_full_warned) {
		pr_warn("candidate set full: every scan now reads every socket; raise --map-capacity");
		d->hot_full_warned = true;
	}
	if (counters[SR_CNT_MAP_FULL] > d->last_map_full) {
		pr_warn("socket map full (capacity %u): %llu sockets left untracked since the last scan; "
			"raise --map-capacity",
			d->cfg->map_capacity,
			(unsigned long long)(counters[SR_CNT_MAP_FULL] - d->last_map_full));
		d->last_map_full = counters[SR_CNT_MAP_FULL];
	}
	hist_observe(&d->metrics.scan_seconds, (double)(now_ns() - t0) / NS_PER_S);
	d->metrics.scan_cpu_seconds_total += thread_cpu_s() - cpu0;
	publish_metrics(d);
}

/* Add one target: its selector for BPF and its rules for the policy. */
static int add_rule(struct daemon *d, const char *name, const struct policy_config *pol,
		    bool dry_run, const char *const *cgroups, size_t n_cgroups,
		    const struct sr_port_range *ports, size_t n_ports, char *err, size_t errlen)
{
	size_t i = d->n_rules;
	struct rule *r = &d->rules[i];

	snprintf(r->name, sizeof(r->name), "%s", name);
	r->pol = *pol;
	r->dry_run = dry_run;
	for (size_t c = 0; c < n_cgroups; c++)
		if (cgroup_resolve(cgroups[c], &d->cgroup_ids[i][c], err, errlen))
			return -ENOENT;
	d->targets[i] = (struct tracker_target){ d->cgroup_ids[i], n_cgroups, ports, n_ports };
	d->n_rules++;
	return 0;
}

/*
 * The --target list in order (first match wins), then the plain flags'
 * target: alone when there is no --target, last when --cgroup or --port
 * are given beside --target. A target's unset rules come from the plain flags;
 * --dry-run covers every target.
 */
static int build_rules(struct daemon *d, char *err, size_t errlen)
{
	const struct sr_config *cfg = d->cfg;
	struct policy_config plain = {
		(uint64_t)(cfg->stall_grace_s * NS_PER_S),
		(uint64_t)(cfg->idle_timeout_s * NS_PER_S),
		(uint64_t)(cfg->close_wait_timeout_s * NS_PER_S),
	};
	const char *paths[SR_MAX_CGROUPS];

	for (size_t i = 0; i < cfg->n_targets; i++) {
		const struct sr_target *t = &cfg->targets[i];
		struct policy_config pol = plain;
		char name[32];

		if (t->has_stall_grace)
			pol.stall_grace_ns = (uint64_t)(t->stall_grace_s * NS_PER_S);
		if (t->has_idle_timeout)
			pol.idle_timeout_ns = (uint64_t)(t->idle_timeout_s * NS_PER_S);
		if (t->has_close_wait_timeout)
			pol.close_wait_timeout_ns = (uint64_t)(t->close_wait_timeout_s * NS_PER_S);
		snprintf(name, sizeof(name), "%s", t->name);
		if (!name[0])
			snprintf(name, sizeof(name), "target%zu", i + 1);
		for (size_t c = 0; c < t->n_cgroups; c++)
			paths[c] = t->cgroups[c];
		if (add_rule(d, name, &pol, cfg->dry_run || (t->has_dry_run && t->dry_run), paths,
			     t->n_cgroups, t->ports, t->n_ports, err, errlen))
			return -ENOENT;
	}
	if (cfg->n_targets && !cfg->n_cgroups && !cfg->n_ports)
		return 0;
	for (size_t c = 0; c < cfg->n_cgroups; c++)
		paths[c] = cfg->cgroups[c];
	return add_rule(d, "default", &plain, cfg->dry_run, paths, cfg->n_cgroups, cfg->ports,
			cfg->n_ports, err, errlen);
}

/*
 * The metrics file is replaced by rename each scan: in a directory others can
 * write, they could swap in their own file or a link. Refuse to start.
 */
static int check_file_dir(const char *opt, const char *path, char *err, size_t errlen)
{
	char dir[SR_PATH_MAX];
	struct stat st;

	snprintf(dir, sizeof(dir), "%s", path);
	if (stat(dirname(dir), &st)) {
		snprintf(err, errlen, "sockreap: the directory of %s %s does not exist: create it first",
			 opt, path);
		return -ENOENT;
	}
	if (st.st_mode & S_IWOTH) {
		snprintf(err, errlen,
			 "sockreap: the directory of %s %s is world-writable: use a directory only "
			 "its owner can write",
			 opt, path);
		return -EPERM;
	}
	return 0;
}

/* PROC_PID_INIT_INO: the inode of the initial pid namespace, fixed by the kernel. */
#define PID_NS_INIT_INO 0xEFFFFFFCu

/* A daemon in a child pid namespace (a sidecar) has BPF translate owners into its pids. */
static void own_pidns(struct tracker_opts *o)
{
	struct stat st;

	if (stat("/proc/self/ns/pid", &st) || st.st_ino == PID_NS_INIT_INO)
		return;
	o->pidns_dev = st.st_dev;
	o->pidns_ino = st.st_ino;
}

/* Answer one `sockreap list` from a fresh read of the map. */
static void serve_list(struct daemon *d)
{
	struct tracker_snapshot *snap = &d->list_snap;
	struct list_row *rows = NULL;
	char req[SR_CONTROL_REQ_MAX], *body = NULL;
	size_t len = 0;
	uint64_t now;
	FILE *f;
	int c = control_accept(d->control_fd, req, sizeof(req));

	if (c < 0)
		return;
	f = open_memstream(&body, &len);
	if (!f)
		goto out;
	if (strcmp(req, "list") && strcmp(req, "list json")) {
		fprintf(f, "sockreap: unknown request\n");
	} else if (tracker_read(d->tracker, snap)) {
		fprintf(f, "sockreap: cannot read the socket map\n");
	} else if (snap->n && !(rows = calloc(snap->n, sizeof(*rows)))) {
		fprintf(f, "sockreap: out of memory\n");
	} else {
		now = now_ns();
		for (size_t i = 0; i < snap->n; i++) {
			const struct rule *r = rule_of(d, &snap->socks[i]);

			rows[i] = (struct list_row){ snap->cookies[i], &snap->socks[i],
						     policy_verdict(&snap->socks[i], now, &r->pol),
						     r->name };
		}
		listing_render(f, rows, snap->n, now, !strcmp(req, "list json"));
	}
	if (fclose(f) == 0)
		control_reply(c, body, len);
out:
	free(rows);
	free(body);
	close(c);
}

static int own_netns(uint32_t *ino, char *err, size_t errlen)
{
	struct stat st;

	if (stat("/proc/self/ns/net", &st)) {
		snprintf(err, errlen,
			 "sockreap: cannot read /proc/self/ns/net (%s): is /proc mounted?",
			 strerror(errno));
		return -errno;
	}
	*ino = (uint32_t)st.st_ino;
	return 0;
}

int daemon_run(const struct sr_config *cfg)
{
	struct daemon d = { .cfg = cfg, .control_fd = -1 };
	struct tracker_opts topts = { .map_capacity = cfg->map_capacity,
				      .verbose = cfg->verbose,
				      .no_send_tp = cfg->send_path == SEND_PATH_SWEEP };
	struct sigaction sa = { .sa_handler = on_signal };
	struct utsname uts;
	struct timespec wall;
	sigset_t block, orig;
	char err[8400], ns[16], grace[32], interval[32];
	uint64_t next;
	int ret, status = 2;

	tracker_setup_logging(cfg->verbose);
	if ((cfg->metrics_file[0] &&
	     check_file_dir("--metrics-file", cfg->metrics_file, err, sizeof(err))) ||
	    build_rules(&d, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return 2;
	}
	own_pidns(&topts);
	for (size_t i = 0; i < d.n_rules; i++)
		if (d.rules[i].pol.idle_timeout_ns)
			d.full_every_scan = true;
	topts.targets = d.targets;
	topts.n_targets = d.n_rules;
	topts.exclude_ports = cfg->exclude_ports;
	topts.n_exclude_ports = cfg->n_exclude_ports;
	if (check_privilege(cfg, err, sizeof(err)) ||
	    (!cfg->all_netns && own_netns(&topts.netns_ino, err, sizeof(err)))) {
		fprintf(stderr, "%s\n", err);
		return 2;
	}
	uname(&uts);
	clock_gettime(CLOCK_REALTIME, &wall);
	metrics_init(&d.metrics, SOCKREAP_VERSION, uts.release,
		     (double)wall.tv_sec + (double)wall.tv_nsec / 1e9);
	d.metrics.map_capacity = cfg->map_capacity;

	/* Signals stay blocked except while waiting in ppoll: no wake-up is lost. */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, &orig);
	d.wait_mask = orig;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (cfg->metrics_addr[0] && (ret = http_start(&d.http, cfg->metrics_addr, err, sizeof(err)))) {
		fprintf(stderr, "%s\n", err);
		goto cleanup;
	}
	if (cfg->control_socket[0] &&
	    (d.control_fd = control_listen(cfg->control_socket, err, sizeof(err))) < 0) {
		fprintf(stderr, "%s\n", err);
		goto cleanup;
	}
	ret = tracker_open(&d.tracker, &topts, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "%s\n", err);
		goto cleanup;
	}
	/* Without the send tracepoint nothing reports a send to a silent peer:
	 * walk the sockets every scan instead. */
	d.sweep_every_scan = !tracker_has_send_tp(d.tracker);
	if (d.sweep_every_scan && cfg->send_path == SEND_PATH_TRACEPOINT) {
		fprintf(stderr, "sockreap: this kernel has no tcp_sendmsg_locked tracepoint (Linux 6.16+): "
				"use --send-path auto or sweep\n");
		goto cleanup;
	}
	ret = cfg->all_netns ? tracker_sweep_all_netns(d.tracker) : tracker_sweep(d.tracker);
	if (ret < 0) {
		fprintf(stderr, "sockreap: the start-up sweep (iter/tcp) failed: %s\n", strerror(-ret));
		goto cleanup;
	}
	if (cfg->kill_method == KILL_DESTROY && !tracker_has_destroy(d.tracker)) {
		fprintf(stderr, "sockreap: --kill-method destroy needs the bpf_sock_destroy() kfunc "
				"(Linux 6.5+): use --kill-method shutdown or auto\n");
		goto cleanup;
	}
	snprintf(ns, sizeof(ns), "%u", topts.netns_ino);
	snprintf(grace, sizeof(grace), "%g", cfg->stall_grace_s);
	snprintf(interval, sizeof(interval), "%g", cfg->interval_s);
	log_event("ready",
		  (struct log_kv[]){
			  { "version", SOCKREAP_VERSION, false },
			  { "netns", cfg->all_netns ? "all" : ns, false },
			  { "send_path", d.sweep_every_scan ? "sweep" : "tracepoint", false },
			  { "destroy", tracker_has_destroy(d.tracker) ? "available" : "unavailable", false },
			  { "stall_grace_s", grace, true },
			  { "interval_s", interval, true },
			  { "dry_run", cfg->dry_run ? "true" : "false", false },
			  { "metrics_addr", cfg->metrics_addr[0] ? cfg->metrics_addr : "off", false },
		  },
		  8);

	next = now_ns();
	while (!g_stop && !d.fatal) {
		uint64_t now;

		scan(&d);
		next += (uint64_t)(cfg->interval_s * NS_PER_S);
		now = now_ns();
		if (next < now) /* a slow scan: do not try to catch up */
			next = now;
		/* At least one ppoll per round, even after an overrun: the only
		 * place (with service()) where SIGINT/SIGTERM are let in. */
		do {
			struct timespec ts = { (time_t)((next - now) / NS_PER_S),
					       (long)((next - now) % NS_PER_S) };
			struct pollfd pfd = { d.control_fd, POLLIN, 0 };

			if (ppoll(&pfd, d.control_fd >= 0, &ts, &orig) > 0)
				serve_list(&d);
		} while (!g_stop && (now = now_ns()) < next);
	}
	if (d.fatal) {
		fprintf(stderr, "sockreap: lost the daemon's own network namespace: stopping, "
				"nothing more is reaped (restart it)\n");
		log_event("stop", (struct log_kv[]){ { "error", "netns", false } }, 1);
		status = 1;
		goto cleanup;
	}
	log_event("stop", NULL, 0);
	status = 0;
cleanup:
	tracker_close(d.tracker);
	http_stop(d.http);
	control_close(d.control_fd, cfg->control_socket);
	free(d.eps);
	free(d.next_eps);
	free(d.due);
	tracker_snapshot_free(&d.scan_snap);
	tracker_snapshot_free(&d.list_snap);
	owner_index_free(&d.owners);
	sigprocmask(SIG_SETMASK, &orig, NULL);
	return status;
}
