/* daemon.c - the wiring: checks, the configuration resolved into targets,
 * tracker options and a scan plan, start-up, event=ready, the loop (a scan
 * every --interval, its result folded into the metrics, `list` and signals
 * between), clean shutdown. The only module below main.c that reads the
 * configuration; one scan is scan.c.
 */
#include "daemon.h"

#include <errno.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>

#include "bpf_log.h"
#include "clock.h"
#include "control.h"
#include "http.h"
#include "identity.h"
#include "list_server.h"
#include "pressure.h"
#include "log.h"
#include "metrics.h"
#include "observe.h"
#include "scan.h"
#include "startup.h"
#include "targets.h"
#include "tracker.h"
#include "value.h"
#include "version.h" /* build/version.h, made by the Makefile */

/* A backstop walk starts this often where one is needed, each step of it
 * visiting at least this many sockets. */
#define BACKSTOP_PERIOD_NS (10 * NS_PER_S)
#define BACKSTOP_MIN_STEP 1024

struct daemon {
	const struct sr_config *cfg;
	struct targets targets;
	struct scan_plan plan;
	struct scan_state state;
	struct scan_ctx ctx;
	struct scan_result result;
	struct tracker *tracker;
	struct http_server *http;
	struct sr_metrics metrics;
	struct observe_state observed;
	struct tracker_snapshot list_snap;
	struct identity_cache identities;
	struct pod_reaps pod_reaps;
	struct tcp_pressure pressure;
	bool pressure_said;	/* warned that it cannot be read */
	sigset_t wait_mask;	/* the mask while waiting: SIGINT/SIGTERM deliverable */
	uint64_t last_service_ns;
	int control_fd;
};


static volatile sig_atomic_t g_stop;

/* CPU time of the calling thread, seconds. */
static double thread_cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_signal(int sig)
{
	(void)sig;
	g_stop = 1;
}

/*
 * Between the reaps of a long scan (the scan's between_reaps): let
 * SIGINT/SIGTERM in and answer `list`, at most every 20 ms, so neither
 * waits for the scan to end.
 */
static void between_reaps(void *arg)
{
	struct daemon *d = arg;
	struct timespec zero = { 0, 0 };
	struct pollfd pfd = { d->control_fd, POLLIN, 0 };
	uint64_t now = now_ns();

	if (now - d->last_service_ns < 20 * NS_PER_MS)
		return;
	d->last_service_ns = now;
	if (ppoll(&pfd, d->control_fd >= 0, &zero, &d->wait_mask) > 0)
		list_serve(d->control_fd, d->tracker, &d->targets, &d->identities, &d->list_snap,
				   &d->state.pressure);
}

/* The targets, from --target specs and the plain flags that set their defaults. */
static int build_targets(struct daemon *d, char *err, size_t errlen)
{
	const struct sr_config *cfg = d->cfg;
	const char *paths[SR_MAX_CGROUPS];
	struct target_defaults plain = {
		.pol = { .stall_grace_ns = (uint64_t)(cfg->stall_grace_s * NS_PER_S),
			 .peer_gone_timeout_ns = (uint64_t)(cfg->peer_gone_timeout_s * NS_PER_S),
			 .idle_timeout_ns = (uint64_t)(cfg->idle_timeout_s * NS_PER_S),
			 .close_wait_timeout_ns = (uint64_t)(cfg->close_wait_timeout_s * NS_PER_S) },
		.dry_run = cfg->dry_run,
		.reap_unowned = cfg->reap_unowned,
		.cgroups = paths,
		.n_cgroups = cfg->n_cgroups,
		.ports = cfg->ports,
		.n_ports = cfg->n_ports,
	};

	for (size_t i = 0; i < cfg->n_cgroups; i++)
		paths[i] = cfg->cgroups[i];
	return targets_build(&d->targets, cfg->targets, cfg->n_targets, &plain, err, errlen);
}

/* Checks that need nothing loaded, and the tracker's options. 0, or exit status 2 with err set. */
static int prepare(struct daemon *d, struct tracker_opts *topts, char *err, size_t errlen)
{
	const struct sr_config *cfg = d->cfg;

	if ((cfg->metrics_file[0] &&
	     startup_check_file_dir("--metrics-file", cfg->metrics_file, err, errlen)) ||
	    build_targets(d, err, errlen) ||
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
					.send_path = cfg->send_path,
					.unowned_targets = targets_unowned_mask(&d->targets),
					.store = cfg->socket_state };
	/* An established socket becomes a candidate once silent for half its
	 * target's rx_idle timeout: well before the verdict can fire. */
	for (size_t i = 0; i < d->targets.n; i++)
		topts->idle_after_ns[i] = d->targets.t[i].pol.idle_timeout_ns / 2;
	startup_own_pidns(&topts->pidns_dev, &topts->pidns_ino);
	return 0;
}

/*
 * The configuration resolved into what a scan needs, once: how to act, what
 * to read, the backstop walk's rhythm. Without a send hook, queued data
 * shows in the ACKs (tcp_probe, also the replies to zero-window probes) and
 * in retransmissions to a silent peer; one case shows in neither: data
 * written while the window was already zero with nothing unacknowledged, to
 * a peer that then vanished. A periodic walk catches that one, in steps.
 */
static void plan(struct daemon *d)
{
	uint64_t interval_ns = (uint64_t)(d->cfg->interval_s * NS_PER_S);

	d->plan = (struct scan_plan){
		.method = d->cfg->kill_method,
		/* The candidates are never merely silent: with rx_idle on, a scan
		 * reads more (the hash store, every socket; the storage path walks
		 * its sockets and keeps the silent ones). */
		.read_more = targets_any_idle_timeout(&d->targets),
		.backstop_period_ns = tracker_needs_backstop(d->tracker) ? BACKSTOP_PERIOD_NS : 0,
		.backstop_min_step = BACKSTOP_MIN_STEP,
		.scans_per_period = interval_ns ? BACKSTOP_PERIOD_NS / interval_ns : 1,
		.all_netns = d->cfg->all_netns,
	};
	d->state.last_walk_ns = now_ns();
	d->state.walk_size = tracker_sockets_walked(d->tracker);
	d->ctx = (struct scan_ctx){ .tracker = d->tracker,
				    .targets = &d->targets,
				    .plan = &d->plan,
				    .state = &d->state,
				    .identities = &d->identities,
				    .pod_reaps = d->cfg->metrics_pod_labels ? &d->pod_reaps : NULL,
				    .stop = &g_stop,
				    .between_reaps = between_reaps,
				    .arg = d };
}

/* The time a census read may take without delaying a verdict's clock: from
 * now to where the scan (started at t0) found the next may fire, less the
 * wait before the next scan. */
static uint64_t census_room(const struct daemon *d, uint64_t t0)
{
	uint64_t calm = d->result.calm_ns, spent = now_ns() - t0 + (uint64_t)(d->cfg->interval_s * NS_PER_S);

	if (calm == UINT64_MAX)
		return UINT64_MAX;
	return calm > spent ? calm - spent : 0;
}

/* The scan, then what it did folded into the metrics, and them published. */
static void scan_and_observe(struct daemon *d)
{
	struct tracker_prog_stat progs[ARRAY_SIZE(d->metrics.recursion)];
	struct tracker_census census;
	uint64_t counters[SR_CNT_MAX], skipped = 0, t0 = now_ns();
	double cpu0 = thread_cpu_s();
	size_t n_progs;
	bool known = true;

	/* Before the scan: its verdicts hold send stalls the kernel's memory
	 * pressure may have caused (policy.h). */
	if (tcp_pressure_read(&d->pressure, t0) && d->pressure.unreadable && !d->pressure_said) {
		pr_warn("cannot read the kernel's TCP memory pressure (/proc/net/protocols): "
			"counted as pressure, send stalls are held up to three graces longer");
		d->pressure_said = true;
	}
	d->state.pressure = d->pressure.seen;
	d->metrics.tcp_memory_pressure = d->pressure.seen.ongoing;
	scan(&d->ctx, t0, &d->result);
	observe_scan(&d->metrics, &d->result);
	tracker_counters(d->tracker, counters);
	n_progs = tracker_prog_stats(d->tracker, progs, ARRAY_SIZE(progs));
	for (size_t i = 0; i < n_progs; i++) {
		d->metrics.recursion[i].event = progs[i].name;
		d->metrics.recursion[i].misses = progs[i].recursion_misses;
		skipped += progs[i].recursion_misses;
		known &= progs[i].misses_known;
	}
	/* A kernel that does not count them: no sample. */
	d->metrics.n_progs = known ? n_progs : 0;
	tracker_census(d->tracker, counters, skipped, census_room(d, t0), &census);
	observe_counters(&d->observed, &d->metrics, counters, &census, tracker_capacity(d->tracker));
	hist_observe(&d->metrics.scan_seconds, (double)(now_ns() - t0) / NS_PER_S);
	d->metrics.scan_cpu_seconds_total += thread_cpu_s() - cpu0;
	observe_publish(&d->metrics, d->http, d->cfg->metrics_file);
}

/* Serve, load, attach and discover the sockets. 0, or negative errno with err set. */
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
	d->metrics.map_capacity = tracker_capacity(d->tracker);
	snprintf(d->metrics.store, sizeof(d->metrics.store), "%s",
		 tracker_store_name(tracker_store(d->tracker)));
	ret = cfg->all_netns ? tracker_discover_all(d->tracker) : tracker_discover(d->tracker);
	if (ret < 0) {
		snprintf(err, errlen, "sockreap: the start-up walk of the sockets (iter/tcp) failed: %s",
			 strerror(-ret));
		return ret;
	}
	plan(d);
	if (cfg->kill_method == REAP_METHOD_DESTROY && !tracker_has_destroy(d->tracker)) {
		snprintf(err, errlen, "sockreap: --kill-method destroy needs the bpf_sock_destroy() "
				      "kfunc (Linux 6.5+): use --kill-method shutdown or auto");
		return -EOPNOTSUPP;
	}
	return 0;
}

/* How sendfile()/splice() writes are seen: by the send path itself (6.5+:
 * they go through tcp_sendmsg_locked), by fentry on do_tcp_sendpages, or
 * only by the backstop walk. */
static const char *sendfile_path(const struct tracker *t)
{
	if (tracker_hooks_sendpage(t))
		return "fentry";
	return tracker_sendfile_backstop(t) ? "backstop" : "send_path";
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
			  { "sendfile", sendfile_path(d->tracker), false },
			  { "destroy", tracker_has_destroy(d->tracker) ? "available" : "unavailable", false },
			  { "store", tracker_store_name(tracker_store(d->tracker)), false },
			  { "keys", tracker_keys_are_cookies(d->tracker) ? "cookie" : "address", false },
			  { "stall_grace_s", grace, true },
			  { "interval_s", interval, true },
			  { "dry_run", cfg->dry_run ? "true" : "false", false },
			  { "metrics_addr", cfg->metrics_addr[0] ? cfg->metrics_addr : "off", false },
		  },
		  11);
}

/* Scan every --interval until SIGINT/SIGTERM (or a fatal error); serve `list` between scans. */
static void run(struct daemon *d)
{
	uint64_t next = now_ns();

	while (!g_stop && !tracker_lost_netns(d->tracker)) {
		uint64_t now;

		scan_and_observe(d);
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
				list_serve(d->control_fd, d->tracker, &d->targets, &d->identities, &d->list_snap,
				   &d->state.pressure);
		} while (!g_stop && (now = now_ns()) < next);
	}
}

static void close_daemon(struct daemon *d)
{
	tracker_close(d->tracker);
	http_stop(d->http);
	control_close(d->control_fd, d->cfg->control_socket);
	scan_state_free(&d->state);
	tracker_snapshot_free(&d->list_snap);
}

int daemon_run(const struct sr_config *cfg)
{
	static struct daemon d; /* large (targets, metrics): off the stack */
	struct tracker_opts topts = { 0 };
	struct sigaction sa = { .sa_handler = on_signal };
	struct utsname uts;
	struct timespec wall;
	sigset_t block;
	char err[8400];
	int status = 2;

	/* Start-up parses the kernel's BTF several times (each probe, the load:
	 * megabytes each). A fixed mmap threshold keeps such blocks out of the
	 * heap, so they go back to the system when freed instead of staying
	 * resident for the daemon's life. */
	mallopt(M_MMAP_THRESHOLD, 256 * 1024);
	d = (struct daemon){ .cfg = cfg, .control_fd = -1 };
	bpf_log_setup(cfg->verbose);
	if (prepare(&d, &topts, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return 2;
	}
	uname(&uts);
	clock_gettime(CLOCK_REALTIME, &wall);
	metrics_init(&d.metrics, SOCKREAP_VERSION, uts.release,
		     (double)wall.tv_sec + (double)wall.tv_nsec / 1e9);
	d.metrics.scan_interval_seconds = cfg->interval_s;
	d.metrics.pod_reaps = cfg->metrics_pod_labels ? &d.pod_reaps : NULL;
	identity_init(&d.identities);
	/* A scan's own histogram of reap latencies, folded into the metrics' after each. */
	d.result.reap_latency = d.metrics.reap_latency_seconds;

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
	malloc_trim(0);
	log_ready(&d, topts.netns_ino);
	run(&d);
	if (tracker_lost_netns(d.tracker)) {
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
