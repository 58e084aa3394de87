/* daemon.c - set up, then every --interval: snapshot -> policy -> reaper -> metrics/logs.
 *
 * Nothing here decides whether a socket is dead (policy.c does) or touches a
 * socket (reaper.c does). A stall "episode" is one (cookie, onset) pair: it
 * is logged once when it first fires and reaped once; failed attempts are
 * retried after another grace.
 */
#include "daemon.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>

#include "control.h"
#include "episodes.h"
#include "http.h"
#include "list_server.h"
#include "log.h"
#include "metrics.h"
#include "observe.h"
#include "owner.h"
#include "policy.h"
#include "reaper.h"
#include "startup.h"
#include "targets.h"
#include "tracker.h"

#define NS_PER_S 1000000000ull
#define NS_PER_MS 1000000ull

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
	(void)sig;
	g_stop = 1;
}

/* An episode due this scan: new (log its stall line) or due for a retry. */
struct due {
	size_t ep;
	bool is_new;
	struct sr_sock e;
};

struct daemon {
	const struct sr_config *cfg;
	struct targets targets;
	struct tracker *tracker;
	struct http_server *http;
	struct sr_metrics metrics;
	struct episodes eps;
	struct due *due;	/* this scan's episodes to act on (indexes into eps.next) */
	size_t cap_due;
	struct tracker_snapshot scan_snap, list_snap;
	struct owner_index owners; /* this scan's due sockets' owners, when several are due */
	sigset_t wait_mask;	/* the mask while waiting: SIGINT/SIGTERM deliverable */
	uint64_t last_service_ns;
	bool fatal;		/* lost the own network namespace: stop, exit 1 */
	struct observe_state observed;
	int control_fd;
	bool full_every_scan;	/* rx_idle is on: every established socket is a candidate */
	bool sweep_every_scan;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
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
		list_serve(d->control_fd, d->tracker, &d->targets, &d->list_snap);
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

static void scan(struct daemon *d)
{
	struct tracker_snapshot *snap = &d->scan_snap;
	uint64_t t0 = now_ns(), counters[SR_CNT_MAX];
	double cpu0 = thread_cpu_s();
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
	n_due = judge(d, snap, t0);
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
	episodes_commit(&d->eps);
observe:
	tracker_counters(d->tracker, counters);
	observe_counters(&d->observed, &d->metrics, counters, d->cfg->map_capacity);
	hist_observe(&d->metrics.scan_seconds, (double)(now_ns() - t0) / NS_PER_S);
	d->metrics.scan_cpu_seconds_total += thread_cpu_s() - cpu0;
	observe_publish(&d->metrics, d->http, d->cfg->metrics_file);
}


static enum tracker_send_path send_path_of(enum sr_send_path p)
{
	return p == SEND_PATH_TRACEPOINT ? TRACKER_SEND_TRACEPOINT
	       : p == SEND_PATH_FENTRY	 ? TRACKER_SEND_FENTRY
	       : p == SEND_PATH_SWEEP	 ? TRACKER_SEND_SWEEP
					 : TRACKER_SEND_AUTO;
}

/* Checks that need nothing loaded, and the tracker's options. 0, or exit status 2 with err set. */
static int prepare(struct daemon *d, struct tracker_opts *topts, char *err, size_t errlen)
{
	const struct sr_config *cfg = d->cfg;

	if ((cfg->metrics_file[0] &&
	     startup_check_file_dir("--metrics-file", cfg->metrics_file, err, errlen)) ||
	    targets_build(&d->targets, cfg, err, errlen) ||
	    startup_check_privilege(cfg->all_netns, err, errlen) ||
	    (!cfg->all_netns && startup_own_netns(&topts->netns_ino, err, errlen)))
		return 2;
	*topts = (struct tracker_opts){ .netns_ino = topts->netns_ino,
					.targets = d->targets.sel,
					.n_targets = d->targets.n,
					.exclude_ports = cfg->exclude_ports,
					.n_exclude_ports = cfg->n_exclude_ports,
					.map_capacity = cfg->map_capacity,
					.verbose = cfg->verbose,
					.send_path = send_path_of(cfg->send_path) };
	startup_own_pidns(&topts->pidns_dev, &topts->pidns_ino);
	d->full_every_scan = targets_any_idle_timeout(&d->targets);
	return 0;
}

/* Serve, load, attach and sweep. 0, or negative errno with err set. */
static int start(struct daemon *d, const struct tracker_opts *topts, char *err, size_t errlen)
{
	const struct sr_config *cfg = d->cfg;
	int ret;

	if (cfg->metrics_addr[0] && (ret = http_start(&d->http, cfg->metrics_addr, err, errlen)))
		return ret;
	if (cfg->control_socket[0] &&
	    (d->control_fd = control_listen(cfg->control_socket, err, errlen)) < 0)
		return d->control_fd;
	ret = tracker_open(&d->tracker, topts, err, errlen);
	if (ret)
		return ret;
	/* Without a send hook nothing reports a send to a silent peer: walk
	 * the sockets every scan instead. */
	d->sweep_every_scan = tracker_send_path(d->tracker) == TRACKER_SEND_SWEEP;
	ret = cfg->all_netns ? tracker_sweep_all_netns(d->tracker) : tracker_sweep(d->tracker);
	if (ret < 0) {
		snprintf(err, errlen, "sockreap: the start-up sweep (iter/tcp) failed: %s",
			 strerror(-ret));
		return ret;
	}
	if (cfg->kill_method == KILL_DESTROY && !tracker_has_destroy(d->tracker)) {
		snprintf(err, errlen, "sockreap: --kill-method destroy needs the bpf_sock_destroy() "
				      "kfunc (Linux 6.5+): use --kill-method shutdown or auto");
		return -EOPNOTSUPP;
	}
	return 0;
}

/* event=ready: what this kernel gave us, for operators and for the tests. */
static void log_ready(const struct daemon *d, uint32_t netns_ino)
{
	const struct sr_config *cfg = d->cfg;
	char ns[16], grace[32], interval[32];

	snprintf(ns, sizeof(ns), "%u", netns_ino);
	snprintf(grace, sizeof(grace), "%g", cfg->stall_grace_s);
	snprintf(interval, sizeof(interval), "%g", cfg->interval_s);
	log_event("ready",
		  (struct log_kv[]){
			  { "version", SOCKREAP_VERSION, false },
			  { "netns", cfg->all_netns ? "all" : ns, false },
			  { "send_path", tracker_send_path_name(tracker_send_path(d->tracker)), false },
			  { "destroy", tracker_has_destroy(d->tracker) ? "available" : "unavailable", false },
			  { "keys", tracker_keys_are_cookies(d->tracker) ? "cookie" : "address", false },
			  { "stall_grace_s", grace, true },
			  { "interval_s", interval, true },
			  { "dry_run", cfg->dry_run ? "true" : "false", false },
			  { "metrics_addr", cfg->metrics_addr[0] ? cfg->metrics_addr : "off", false },
		  },
		  9);
}

/* Scan every --interval until SIGINT/SIGTERM (or a fatal error); serve `list` between scans. */
static void run(struct daemon *d)
{
	uint64_t next = now_ns();

	while (!g_stop && !d->fatal) {
		uint64_t now;

		scan(d);
		next += (uint64_t)(d->cfg->interval_s * NS_PER_S);
		now = now_ns();
		if (next < now) /* a slow scan: do not try to catch up */
			next = now;
		/* At least one ppoll per round, even after an overrun: the only
		 * place (with service()) where SIGINT/SIGTERM are let in. */
		do {
			struct timespec ts = { (time_t)((next - now) / NS_PER_S),
					       (long)((next - now) % NS_PER_S) };
			struct pollfd pfd = { d->control_fd, POLLIN, 0 };

			if (ppoll(&pfd, d->control_fd >= 0, &ts, &d->wait_mask) > 0)
				list_serve(d->control_fd, d->tracker, &d->targets, &d->list_snap);
		} while (!g_stop && (now = now_ns()) < next);
	}
}

static void close_daemon(struct daemon *d)
{
	tracker_close(d->tracker);
	http_stop(d->http);
	control_close(d->control_fd, d->cfg->control_socket);
	episodes_free(&d->eps);
	free(d->due);
	tracker_snapshot_free(&d->scan_snap);
	tracker_snapshot_free(&d->list_snap);
	owner_index_free(&d->owners);
}

int daemon_run(const struct sr_config *cfg)
{
	struct daemon d = { .cfg = cfg, .control_fd = -1 };
	struct tracker_opts topts = { 0 };
	struct sigaction sa = { .sa_handler = on_signal };
	struct utsname uts;
	struct timespec wall;
	sigset_t block;
	char err[8400];
	int status = 2;

	tracker_setup_logging(cfg->verbose);
	if (prepare(&d, &topts, err, sizeof(err))) {
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
	sigprocmask(SIG_BLOCK, &block, &d.wait_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (start(&d, &topts, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		goto cleanup;
	}
	log_ready(&d, topts.netns_ino);
	run(&d);
	if (d.fatal) {
		fprintf(stderr, "sockreap: lost the daemon's own network namespace: stopping, "
				"nothing more is reaped (restart it)\n");
		log_event("stop", (struct log_kv[]){ { "error", "netns", false } }, 1);
		status = 1;
	} else {
		log_event("stop", NULL, 0);
		status = 0;
	}
cleanup:
	close_daemon(&d);
	sigprocmask(SIG_SETMASK, &d.wait_mask, NULL);
	return status;
}
