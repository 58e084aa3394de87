/* scan.c - one scan: snapshot -> policy verdicts -> episodes -> the due
 * sockets refreshed, their owners indexed and read again -> reaper -> a
 * log line per decision, and a result the daemon folds into its metrics.
 *
 * Nothing here decides whether a socket is dead (policy.c does), touches a
 * socket (reaper.c does), or reads the configuration (scan_plan has what is
 * needed of it). A stall "episode" is one (key, onset) pair: it is logged
 * once when it first fires and reaped once; failed attempts are retried
 * after another grace.
 */
#include "scan.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "decisions.h"
#include "log.h"
#include "policy.h"

/* Count a verdict that first fired, and a reap attempt (latency: grace expiry -> done). */
static void note_stall(struct scan_result *r, const struct sr_sock *e, const struct policy_verdict *v)
{
	r->stalls[v->reason]++;
	r->stall_causes[v->reason][policy_cause(e, v)]++;
}

static void note_reap(struct scan_result *r, const struct sr_sock *e, const struct policy_verdict *v,
		      const struct reap_report *rep, enum reap_result res, double latency_s)
{
	if (rep->owner_failed)
		r->owner_failures[rep->cause]++;
	r->reaps[v->reason][res]++;
	if (res == REAP_OK) {
		r->reap_causes[v->reason][policy_cause(e, v)]++;
		hist_observe(&r->reap_latency, latency_s);
	}
}

/*
 * Act on one due episode, on the record read again just before: re-judge it
 * (events may have landed since the scan's read), log the stall line of a
 * new episode, then ask the reaper (which re-checks on the socket itself).
 */
static void act(const struct scan_ctx *c, const struct due *du, struct scan_result *r)
{
	struct scan_state *s = c->state;
	struct episode *ep = episodes_at(&s->eps, du->ep);
	struct sr_sock fresh = du->fresh;
	struct policy_verdict fv;
	const struct target *tg;
	struct reap_report rep;
	struct pod_identity who;
	struct reap_plan how;
	enum reap_result res;
	uint64_t now = now_ns();

	if (du->fresh_err) {
		/* Unreadable: do nothing now, and look again next scan. */
		r->scan_errors++;
		pr_warn("cannot read socket %llu afresh (%s): not acted on, retried next scan",
			(unsigned long long)ep->key, strerror(du->fresh_err));
		episode_retry_next_scan(ep, now);
		return;
	}
	if (!du->found) {
		episode_settle(ep); /* closed meanwhile */
		return;
	}
	tg = targets_of(c->targets, &fresh);
	fv = policy_verdict(&fresh, now, &tg->pol, &s->pressure);
	if (fv.reason == SR_REASON_NONE || fv.onset_ns != ep->onset_ns) {
		episode_forget(ep); /* recovered, or never was: the read lagged */
		return;
	}
	/* Without a send hook no owner is recorded: name it from the index. */
	if (!fresh.owner_tgid && s->owners.n) {
		const struct owner_slot *o = owner_index_find(&s->owners, fresh.ino);

		if (o)
			fresh.owner_tgid = (uint32_t)o->pid;
	}
	identity_of(c->identities, fresh.cgroup_id, (pid_t)fresh.owner_tgid, &who);
	if (du->is_new) {
		note_stall(r, &fresh, &fv);
		log_decision("stall", tg->name, ep->key, &fresh, &fv, NULL, 0, &who);
	}
	how = (struct reap_plan){ c->plan->method, tg->dry_run, tg->reap_unowned };
	res = reaper_reap(c->tracker, s->owners.n ? &s->owners : NULL, ep->key, &fresh, &fv, &how,
			  &rep);
	note_reap(r, &fresh, &fv, &rep, res, (double)(now_ns() - (fv.onset_ns + fv.limit_ns)) / NS_PER_S);
	log_decision("reap", tg->name, ep->key, &fresh, &fv, &rep, res, &who);
	if (c->pod_reaps && who.kind == PODID_POD)
		pod_reaps_add(c->pod_reaps, who.pod_uid, fv.reason, res);
	/* Gone meanwhile, its close unseen: a candidate copy must not outlive it.
	 * (A live socket nobody visible holds puts itself back on its next event.) */
	if (res == REAP_GONE || (res == REAP_NO_OWNER && rep.cause == OWNER_NOT_FOUND))
		tracker_forget(c->tracker, ep->key);
	/* Done with it: shut, reported by a dry run, or a kernel socket, which
	 * never gets an owner. One not yet accepted may get one: look again
	 * after another grace, as after any attempt that did not end it. */
	episode_acted(ep, res == REAP_OK || res == REAP_DRY_RUN ||
				  (res == REAP_UNOWNED && (fresh.flags & SR_F_KERNEL)),
		      now, fv.limit_ns);
}

/* Room for this scan's due list: at most one per episode. */
static int ensure_due(struct scan_state *s, size_t want)
{
	size_t cap = s->cap_due ? s->cap_due : 64;
	struct due *a;

	if (want <= s->cap_due)
		return 0;
	while (cap < want)
		cap *= 2;
	a = realloc(s->due, cap * sizeof(*a));
	if (!a)
		return -ENOMEM;
	s->due = a;
	s->cap_due = cap;
	return 0;
}

static void calm(struct scan_result *r, uint64_t left_ns)
{
	if (left_ns < r->calm_ns)
		r->calm_ns = left_ns;
}

/*
 * Judge every record of the snapshot: carry on known episodes, start new
 * ones, and queue those due now. Returns how many are due, or -ENOMEM.
 */
static ssize_t judge(const struct scan_ctx *c, uint64_t now, struct scan_result *r)
{
	struct scan_state *s = c->state;
	const struct tracker_snapshot *snap = &s->snap;
	size_t n_due = 0;

	episodes_begin(&s->eps);
	for (size_t i = 0; i < snap->n; i++) {
		const struct sr_sock *e = &snap->socks[i];
		const struct target *tg = targets_of(c->targets, e);
		struct policy_verdict v = policy_verdict(e, now, &tg->pol, &s->pressure);
		const struct episode *ep;
		ssize_t k;
		bool is_new;

		/* A kernel socket has no process to wake: not judged unless asked
		 * (BPF keeps it out of the candidates; a full read still sees it). */
		if ((e->flags & SR_F_KERNEL) && !tg->reap_unowned)
			continue;
		if (v.reason == SR_REASON_NONE) {
			if (v.pending != SR_REASON_NONE)
				calm(r, v.limit_ns - v.age_ns);
			continue;
		}
		r->stalled_now[v.reason]++;
		k = episodes_carry(&s->eps, snap->keys[i], v.onset_ns, now, &is_new);
		if (k < 0 || ensure_due(s, n_due + 1))
			return -ENOMEM;
		ep = episodes_at(&s->eps, (size_t)k);
		if (episode_due(ep, now))
			s->due[n_due++] = (struct due){ .ep = (size_t)k, .is_new = is_new, .e = *e };
		else if (ep->retry_ns)
			calm(r, ep->retry_ns - now);
	}
	return (ssize_t)n_due;
}

/* Walk the namespace of due socket i (which re-reads every socket in it and
 * re-copies its record), and mark every due socket in it refreshed. */
static void refresh_netns_of(const struct scan_ctx *c, size_t n_due, size_t i)
{
	struct scan_state *s = c->state;
	uint32_t ns = s->due[i].e.netns_ino;
	uint64_t t0 = now_ns();
	int ret = tracker_refresh_netns(c->tracker, ns);

	pr_debug("refresh of netns %u: %d sockets in %.1f ms", ns, ret, (double)(now_ns() - t0) / 1e6);
	for (size_t k = 0; k < n_due; k++)
		if (s->due[k].e.netns_ino == ns)
			s->due[k].refreshed = true;
}

/*
 * Some facts no event delivers: the owner's reads (copied_seq) of a socket
 * in CLOSE_WAIT, its ACKs there (tcp_probe fires only when ESTABLISHED), the
 * inode of a socket accepted and never used, a segment tcp_probe missed (the
 * kernel skips a program that would nest in itself). Before judging such a
 * socket for good, refresh its network namespace once, for all of them together.
 */
static void refresh_due(const struct scan_ctx *c, size_t n_due)
{
	struct scan_state *s = c->state;

	/* Each due entry starts not refreshed and not exact (judge() zeroes it). */
	for (size_t i = 0; i < n_due && !tracker_lost_netns(c->tracker); i++) {
		const struct sr_sock *e = &s->due[i].e;

		if (s->due[i].refreshed ||
		    (e->state != SR_TCP_CLOSE_WAIT && e->ino &&
		     policy_verdict(e, now_ns(), &targets_of(c->targets, e)->pol, &s->pressure).reason !=
			     SR_REASON_RX_IDLE))
			continue;
		refresh_netns_of(c, n_due, i);
	}
}

/*
 * Read every due socket again just before acting: events may have landed
 * since the scan's read (and the refresh above re-read what no event shows).
 * Each is re-judged on this record. On the storage path the scan judged
 * candidate copies, which follow their records at most every SR_SYNC_NS: a
 * peer that fell silent right after a burst of ACKs leaves a copy without
 * them, and re-checked against it the live socket would show "acked bytes
 * moved" at every attempt, forever. So the record itself is read, through a
 * duplicate of the owner's fd, and the copy set to it (later scans judge
 * what the socket had). Where no owner fd can be had, the socket's
 * namespace is walked, which re-copies every record (at 200 000 sockets
 * 0.3 s here: too slow to pay for every stall).
 */
static void reread_due(const struct scan_ctx *c, size_t n_due)
{
	struct scan_state *s = c->state;
	const struct owner_index *ix = s->owners.n ? &s->owners : NULL;
	bool copies = tracker_store(c->tracker) == TRACKER_STORE_STORAGE;
	uint64_t *keys = malloc(n_due * sizeof(*keys) + 1);
	size_t *idx = malloc(n_due * sizeof(*idx) + 1);
	struct sr_sock *out = malloc(n_due * sizeof(*out) + 1);
	bool *found = malloc(n_due * sizeof(*found) + 1);
	int ret = keys && idx && out && found ? 0 : -ENOMEM;
	size_t n = 0;

	for (size_t i = 0; !ret && i < n_due; i++) {
		struct due *du = &s->due[i];
		uint64_t key = episodes_at(&s->eps, du->ep)->key;

		if (copies && reaper_read_exact(c->tracker, ix, key, &du->e, &du->fresh) == 0) {
			du->exact = du->found = true;
			du->fresh_err = 0;
			if (memcmp(&du->fresh, &du->e, sizeof(du->e)))
				tracker_resync(c->tracker, key, &du->fresh);
			continue;
		}
		if (copies && !du->refreshed && !tracker_lost_netns(c->tracker))
			refresh_netns_of(c, n_due, i);
		keys[n] = key;
		idx[n++] = i;
	}
	if (!ret && n)
		ret = tracker_lookup_many(c->tracker, keys, n, out, found);
	for (size_t k = 0; k < (ret ? n_due : n); k++) {
		struct due *du = &s->due[ret ? k : idx[k]];

		if (du->exact)
			continue;
		du->fresh_err = ret ? -ret : 0;
		du->found = !ret && found[k];
		if (du->found)
			du->fresh = out[k];
	}
	free(keys);
	free(idx);
	free(out);
	free(found);
}

static int cmp_pid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * With several reaps due, find all their owners in one pass: the fd tables
 * of the owners BPF recorded, each read once, and every process's only if
 * some socket is still unaccounted for (no owner recorded: no send hook, or
 * the recorded sender has passed the socket on). The index also names the
 * owner in the stall line where BPF recorded none. One due reap with its
 * owner recorded keeps the direct search, which stops at the first match.
 */
static void index_owners(const struct scan_ctx *c, size_t n_due)
{
	struct scan_state *s = c->state;
	bool missing = false, unknown = false;
	pid_t *pids;
	size_t n = 0;
	int ret = 0;

	owner_index_clear(&s->owners);
	for (size_t i = 0; i < n_due; i++)
		unknown |= !s->due[i].e.owner_tgid;
	/* One reap with its owner recorded: the direct search is cheaper. */
	if ((n_due < 2 && !unknown) || c->plan->method == REAP_METHOD_DESTROY)
		return;
	pids = malloc(n_due * sizeof(*pids));
	if (!pids)
		return; /* each reap searches /proc itself */
	for (size_t i = 0; i < n_due; i++)
		if (s->due[i].e.owner_tgid)
			pids[n++] = (pid_t)s->due[i].e.owner_tgid;
	qsort(pids, n, sizeof(*pids), cmp_pid);
	for (size_t i = 0; i < n && !ret; i++)
		if (i == 0 || pids[i] != pids[i - 1])
			ret = owner_index_add_pid(&s->owners, pids[i]);
	free(pids);
	owner_index_sort(&s->owners);
	for (size_t i = 0; i < n_due && !ret && !missing; i++)
		missing = s->due[i].e.ino && !owner_index_find(&s->owners, s->due[i].e.ino);
	if (missing && !ret) {
		ret = owner_index_add_all(&s->owners);
		owner_index_sort(&s->owners);
	}
	if (ret) /* out of memory or /proc unreadable: fall back to per-reap searches */
		owner_index_clear(&s->owners);
}

/*
 * Where queued data can hide from every hook: the next step of the backstop
 * walk. A walk starts at most once per period and each step visits the last
 * walk's size over the scans of one period, so a walk ends within the
 * period and every socket is looked at once per period, as one walk of the
 * whole table would, without its cost landing on one scan (56 ms at
 * 100,000 sockets here).
 */
static void backstop_step(const struct scan_ctx *c, uint64_t now, struct scan_result *r)
{
	const struct scan_plan *p = c->plan;
	struct scan_state *s = c->state;
	uint64_t step, visited, walked;
	int ret;

	if (!p->backstop_period_ns)
		return;
	if (!tracker_backstop_walking(c->tracker)) {
		if (now - s->last_walk_ns < p->backstop_period_ns)
			return;
		s->last_walk_ns = now;
	}
	step = s->walk_size / (p->scans_per_period ? p->scans_per_period : 1) + 1;
	if (step < p->backstop_min_step)
		step = p->backstop_min_step;
	ret = tracker_backstop_step(c->tracker, p->all_netns, step, &visited, &walked);
	r->backstop_steps++;
	r->backstop_sockets += visited;
	if (ret == 1) {
		s->walk_size = walked;
		r->backstop_walks++;
	} else if (ret < 0 && !tracker_lost_netns(c->tracker)) {
		pr_warn("iter/tcp backstop walk failed: %s", strerror(-ret));
	}
}

void scan(const struct scan_ctx *c, uint64_t now, struct scan_result *r)
{
	struct scan_state *s = c->state;
	struct histogram keep = r->reap_latency;
	ssize_t n_due;
	bool more;
	int ret;

	memset(r, 0, sizeof(*r));
	r->reap_latency = keep;
	memset(r->reap_latency.counts, 0, sizeof(r->reap_latency.counts));
	r->reap_latency.sum = 0;
	r->reap_latency.count = 0;
	r->calm_ns = UINT64_MAX;
	backstop_step(c, now, r);
	/* Only the candidates (queued data, CLOSE_WAIT) can fire send_stall or
	 * peer_gone: read those. More is read when rx_idle is on, and for good
	 * once the candidate set has overflowed: a socket left out of it would
	 * never be seen again otherwise. */
	more = c->plan->read_more || tracker_candidates_overflowed(c->tracker);
	ret = more ? tracker_read_worthwhile(c->tracker, &s->snap)
		   : tracker_read_candidates(c->tracker, &s->snap);
	r->lost_netns = tracker_lost_netns(c->tracker);
	if (ret || r->lost_netns) {
		/* Fail safe: without a trustworthy snapshot, touch nothing. */
		r->read_failed = true;
		r->scan_errors++;
		pr_warn("cannot read the tracked sockets (%s): skipping this scan, nothing reaped",
			strerror(ret ? -ret : ENOTRECOVERABLE));
		return;
	}
	r->entries = s->snap.n;
	n_due = judge(c, now, r);
	if (n_due < 0) {
		pr_warn("out of memory tracking stalls: skipping this scan, nothing reaped");
		return;
	}
	refresh_due(c, (size_t)n_due);
	index_owners(c, (size_t)n_due);
	reread_due(c, (size_t)n_due);
	for (ssize_t i = 0; i < n_due && !*c->stop && !tracker_lost_netns(c->tracker); i++) {
		act(c, &s->due[i], r);
		if (c->between_reaps)
			c->between_reaps(c->arg);
	}
	episodes_commit(&s->eps);
	r->lost_netns = tracker_lost_netns(c->tracker);
}

void scan_state_free(struct scan_state *s)
{
	episodes_free(&s->eps);
	tracker_snapshot_free(&s->snap);
	owner_index_free(&s->owners);
	free(s->due);
	memset(s, 0, sizeof(*s));
}
