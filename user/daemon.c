/* daemon.c - the wiring: checks, start-up, event=ready, the loop (a scan
 * every --interval, `list` and signals between), clean shutdown. One scan
 * is scan.c; the steps it runs are their own modules.
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

#include "bpf_log.h"
#include "control.h"
#include "daemon_internal.h"
#include "list_server.h"
#include "log.h"
#include "startup.h"


static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
	(void)sig;
	g_stop = 1;
}

/*
 * Between reaps of a long scan: let SIGINT/SIGTERM in and answer `list`,
 * at most every 20 ms, so neither waits for the scan to end.
 */
void daemon_service(struct daemon *d, bool force)
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
	/*
	 * Without a send hook, queued data shows in the ACKs (tcp_probe, also
	 * the replies to zero-window probes) and in retransmissions to a silent
	 * peer. One case shows in neither: data written while the window was
	 * already zero with nothing unacknowledged, to a peer that then vanished
	 * (no probe is ever answered). A periodic iter/tcp walk catches that one,
	 * in steps (see backstop_step() in scan.c).
	 */
	if (tracker_send_path(d->tracker) == TRACKER_SEND_SWEEP)
		d->backstop_sweep_ns = SR_BACKSTOP_SWEEP_NS;
	d->last_sweep_ns = now_ns();
	ret = cfg->all_netns ? tracker_sweep_all_netns(d->tracker) : tracker_sweep(d->tracker);
	if (ret < 0) {
		snprintf(err, errlen, "sockreap: the start-up sweep (iter/tcp) failed: %s",
			 strerror(-ret));
		return ret;
	}
	d->backstop_sockets = tracker_sockets_swept(d->tracker);
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
	struct daemon d = { .cfg = cfg, .control_fd = -1, .stop = &g_stop };
	struct tracker_opts topts = { 0 };
	struct sigaction sa = { .sa_handler = on_signal };
	struct utsname uts;
	struct timespec wall;
	sigset_t block;
	char err[8400];
	int status = 2;

	bpf_log_setup(cfg->verbose);
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
