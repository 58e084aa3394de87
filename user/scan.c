/* scan.c - one scan: snapshot -> policy verdicts -> episodes -> the due
 * sockets refreshed and their owners indexed -> reaper -> observers.
 *
 * Nothing here decides whether a socket is dead (policy.c does) or touches a
 * socket (reaper.c does). A stall "episode" is one (cookie, onset) pair: it
 * is logged once when it first fires and reaped once; failed attempts are
 * retried after another grace.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon_internal.h"
#include "log.h"
#include "policy.h"
#include "reaper.h"

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
	struct episode *ep = episodes_at(&d->eps, du->ep);
	struct sr_sock fresh;
	struct policy_verdict fv;
	const struct target *tg;
	struct reap_report rep;
	enum reap_result res;
	uint64_t now = now_ns();
	int ret;

	ret = tracker_lookup(d->tracker, ep->cookie, &fresh);
	if (ret == -ENOENT) {
		episode_settle(ep); /* closed meanwhile */
		return;
	}
	if (ret) {
		/* Unreadable: do nothing now, and look again next scan. */
		d->metrics.scan_errors_total++;
		pr_warn("cannot read socket %llu from the map (%s): not acted on, retried next scan",
			(unsigned long long)ep->cookie, strerror(-ret));
		episode_retry_next_scan(ep, now);
		return;
	}
	tg = targets_of(&d->targets, &fresh);
	fv = policy_verdict(&fresh, now, &tg->pol);
	if (fv.reason == REASON_NONE || fv.onset_ns != ep->onset_ns) {
		episode_forget(ep); /* recovered, or never was: the map lagged */
		return;
	}
	/* The sweep path records no owner: name it from the index when it has it. */
	if (!fresh.owner_tgid && d->owners.n) {
		const struct owner_slot *o = owner_index_find(&d->owners, fresh.ino);

		if (o)
			fresh.owner_tgid = (uint32_t)o->pid;
	}
	if (du->is_new) {
		observe_stall(&d->metrics, &fresh, &fv);
		observe_decision("stall", tg->name, ep->cookie, &fresh, &fv, NULL, 0);
	}
	res = reaper_reap(d->tracker, d->owners.n ? &d->owners : NULL, ep->cookie, &fresh, &fv,
			  reap_method_of(d->cfg->kill_method), tg->dry_run, &rep);
	d->fatal |= rep.fatal;
	observe_reap(&d->metrics, &fresh, &fv, &rep, res,
		     (double)(now_ns() - (fv.onset_ns + fv.limit_ns)) / NS_PER_S);
	observe_decision("reap", tg->name, ep->cookie, &fresh, &fv, &rep, res);
	episode_acted(ep, res == REAP_OK || res == REAP_DRY_RUN, now, fv.limit_ns);
}

/* Room for this scan's due list: at most one per episode. */
static int ensure_due(struct daemon *d, size_t want)
{
	size_t cap = d->cap_due ? d->cap_due : 64;
	struct due *a;

	if (want <= d->cap_due)
		return 0;
	while (cap < want)
		cap *= 2;
	a = realloc(d->due, cap * sizeof(*a));
	if (!a)
		return -ENOMEM;
	d->due = a;
	d->cap_due = cap;
	return 0;
}

/* CPU time of the calling thread, seconds. */
static double thread_cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}


/*
 * Judge every entry of the snapshot: carry on known episodes, start new
 * ones, and queue those due now into d->due. Returns how many are due, or
 * -ENOMEM.
 */
static ssize_t judge(struct daemon *d, const struct tracker_snapshot *snap, uint64_t now)
{
	size_t n_due = 0;

	episodes_begin(&d->eps);
	memset(d->metrics.stalled_now, 0, sizeof(d->metrics.stalled_now));
	for (size_t i = 0; i < snap->n; i++) {
		const struct sr_sock *e = &snap->socks[i];
		struct policy_verdict v = policy_verdict(e, now, &targets_of(&d->targets, e)->pol);
		ssize_t k;
		bool is_new;

		if (v.reason == REASON_NONE)
			continue;
		d->metrics.stalled_now[v.reason]++;
		k = episodes_carry(&d->eps, snap->cookies[i], v.onset_ns, now, &is_new);
		if (k < 0 || ensure_due(d, n_due + 1))
			return -ENOMEM;
		if (episode_due(episodes_at(&d->eps, (size_t)k), now))
			d->due[n_due++] = (struct due){ (size_t)k, is_new, *e };
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
 * or the recorded sender has passed the socket on). The index also names
 * the owner in the stall line where BPF recorded none. One due reap with its
 * owner recorded keeps the direct search, which stops at the first match.
 */
static void index_owners(struct daemon *d, size_t n_due)
{
	pid_t *pids;
	size_t n = 0;
	bool missing = false;
	int ret = 0;

	bool unknown = false;

	owner_index_clear(&d->owners);
	for (size_t i = 0; i < n_due; i++)
		unknown |= !d->due[i].e.owner_tgid;
	/* One reap with its owner recorded: the direct search is cheaper. */
	if ((n_due < 2 && !unknown) || d->cfg->kill_method == KILL_DESTROY)
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

/*
 * Without a send hook: the next step of the backstop walk. A walk starts at
 * most once per period and each step visits the last walk's size over the
 * scans of one period, so a walk ends within the period and every socket is
 * looked at once per period, as one walk of the whole table would, without
 * its cost landing on one scan (56 ms at 100,000 sockets here).
 */
static void backstop_step(struct daemon *d, uint64_t now)
{
	uint64_t interval_ns = (uint64_t)(d->cfg->interval_s * NS_PER_S);
	uint64_t scans, step, visited, walked;
	int ret;

	if (!d->backstop_sweep_ns)
		return;
	if (!tracker_backstop_walking(d->tracker)) {
		if (now - d->last_sweep_ns < d->backstop_sweep_ns)
			return;
		d->last_sweep_ns = now;
	}
	scans = interval_ns ? d->backstop_sweep_ns / interval_ns : 1;
	step = d->backstop_sockets / (scans ? scans : 1) + 1;
	if (step < SR_BACKSTOP_MIN_STEP)
		step = SR_BACKSTOP_MIN_STEP;
	ret = tracker_backstop_step(d->tracker, d->cfg->all_netns, step, &visited, &walked);
	d->metrics.backstop_steps_total++;
	d->metrics.backstop_sockets_total += visited;
	if (ret == 0)
		return;
	if (ret == 1) {
		d->backstop_sockets = walked;
		d->metrics.backstop_walks_total++;
	} else if (ret == -ENOTRECOVERABLE)
		d->fatal = true;
	else
		pr_warn("iter/tcp backstop walk failed: %s", strerror(-ret));
}

void scan(struct daemon *d)
{
	struct tracker_snapshot *snap = &d->scan_snap;
	uint64_t t0 = now_ns(), counters[SR_CNT_MAX];
	double cpu0 = thread_cpu_s();
	ssize_t n_due;
	bool full;
	int ret;

	d->metrics.scans_total++;
	backstop_step(d, t0);
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
	n_due = judge(d, snap, t0);
	if (n_due < 0) {
		pr_warn("out of memory tracking stalls: skipping this scan, nothing reaped");
		goto observe;
	}
	refresh_due(d, (size_t)n_due);
	index_owners(d, (size_t)n_due);
	for (ssize_t i = 0; i < n_due && !*d->stop && !d->fatal; i++) {
		act(d, &d->due[i]);
		daemon_service(d, false);
	}
	episodes_commit(&d->eps);
observe:
	tracker_counters(d->tracker, counters);
	observe_counters(&d->observed, &d->metrics, counters, d->cfg->map_capacity);
	hist_observe(&d->metrics.scan_seconds, (double)(now_ns() - t0) / NS_PER_S);
	d->metrics.scan_cpu_seconds_total += thread_cpu_s() - cpu0;
	observe_publish(&d->metrics, d->http, d->cfg->metrics_file);
}


