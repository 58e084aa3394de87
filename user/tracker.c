/* tracker.c - the skeleton flow: probe, open, size, load, attach; sweeps. */
#include "tracker.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "bpf_log.h"
#include "log.h"
#include "netns.h"
#include "ports.h"
#include "probe.skel.h"
#include "tracker_internal.h"

static int or_port_mask(int fd, const struct sr_port_range *r, size_t n, __u32 bit)
{
	for (size_t i = 0; i < n; i++) {
		for (__u32 p = r[i].lo; p <= r[i].hi; p++) {
			__u32 v = 0;

			bpf_map_lookup_elem(fd, &p, &v);
			v |= bit;
			if (bpf_map_update_elem(fd, &p, &v, BPF_ANY))
				return -errno;
		}
	}
	return 0;
}

static int set_filters(struct tracker *t, const struct tracker_opts *o)
{
	int pfd = bpf_map__fd(t->skel->maps.sr_ports), cfd = bpf_map__fd(t->skel->maps.sr_cgroups);
	int ret = or_port_mask(pfd, o->exclude_ports, o->n_exclude_ports, SR_PORT_EXCLUDED);

	for (size_t i = 0; !ret && i < o->n_targets; i++) {
		const struct target_selector *tg = &o->targets[i];

		ret = or_port_mask(pfd, tg->ports, tg->n_ports, 1u << i);
		for (size_t c = 0; !ret && c < tg->n_cgroups; c++) {
			__u32 v = 0;

			bpf_map_lookup_elem(cfd, &tg->cgroup_ids[c], &v);
			v |= 1u << i;
			if (bpf_map_update_elem(cfd, &tg->cgroup_ids[c], &v, BPF_ANY))
				ret = -errno;
		}
	}
	return ret;
}

static void set_target_rodata(struct sockreap_bpf *skel, const struct tracker_opts *o)
{
	__u32 any_port = 0, any_cgroup = 0;
	bool port_lookup = o->n_exclude_ports > 0;

	for (size_t i = 0; i < o->n_targets; i++) {
		if (!o->targets[i].n_ports)
			any_port |= 1u << i;
		else
			port_lookup = true;
		if (!o->targets[i].n_cgroups)
			any_cgroup |= 1u << i;
	}
	skel->rodata->cfg_targets = (__u32)((1ull << o->n_targets) - 1);
	skel->rodata->cfg_any_port = any_port;
	skel->rodata->cfg_any_cgroup = any_cgroup;
	skel->rodata->cfg_port_lookup = port_lookup;
}

static bool btf_has_tp(const struct btf *btf, const char *tp)
{
	char name[128];

	snprintf(name, sizeof(name), "btf_trace_%s", tp);
	return btf__find_by_name_kind(btf, name, BTF_KIND_TYPEDEF) >= 0;
}

/* Does the kernel let tracing programs call bpf_get_socket_cookie() (5.12+)? */
static bool probe_cookie_helper(void)
{
	struct probe_bpf *p;

	bpf_log_quiet(true);
	p = probe_bpf__open_and_load();
	bpf_log_quiet(false);
	probe_bpf__destroy(p);
	return p != NULL;
}

#ifdef SR_TEST_HOOKS
/* Test builds only: pretend the kernel lacks what env NAME=1 says (see test_send_fallback.sh). */
static bool test_hook(const char *name)
{
	return getenv(name) != NULL;
}
#else
#define test_hook(name) false
#endif

/* Is this process under a seccomp filter (Seccomp: 2 in /proc/self/status)? */
static bool under_seccomp_filter(void)
{
	char line[128];
	bool filtered = false;
	FILE *f = fopen("/proc/self/status", "re");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "Seccomp:", 8))
			filtered = atoi(line + 8) == 2;
	if (f)
		fclose(f);
	return filtered;
}

/*
 * Open, configure, load and attach the trackers for t->send_path. quiet: a
 * failure is an answer (a fallback follows), so libbpf's messages are kept
 * for --verbose. 0, or negative errno with err set; the skeleton is gone then.
 */
static int load_and_attach(struct tracker *t, const struct tracker_opts *opts, bool has_retx,
			   bool quiet, char *err, size_t errlen)
{
	int ret;

	t->skel = sockreap_bpf__open();
	if (!t->skel) {
		ret = -errno;
		snprintf(err, errlen, "sockreap: cannot open the BPF object: %s", strerror(-ret));
		return ret;
	}
	t->skel->rodata->cfg_netns_ino = opts->netns_ino;
	set_target_rodata(t->skel, opts);
	t->skel->rodata->cfg_pidns_dev = opts->pidns_dev;
	t->skel->rodata->cfg_pidns_ino = opts->pidns_ino;
	t->skel->rodata->cfg_key_cookie = t->cookie_keys;
	t->skel->rodata->cfg_key_salt = t->key_salt;
	bpf_map__set_max_entries(t->skel->maps.sr_socks, opts->map_capacity);
	bpf_map__set_max_entries(t->skel->maps.sr_hot, opts->map_capacity);
	if (t->send_path != TRACKER_SEND_TRACEPOINT)
		bpf_program__set_autoload(t->skel->progs.sr_on_sendmsg, false);
	if (t->send_path != TRACKER_SEND_FENTRY)
		bpf_program__set_autoload(t->skel->progs.sr_on_sendmsg_fentry, false);
	else if (test_hook("SOCKREAP_TEST_REFUSE_FENTRY"))
		/* A function no kernel has: the load fails as lockdown would make it. */
		bpf_program__set_attach_target(t->skel->progs.sr_on_sendmsg_fentry, 0,
					       "sockreap_test_no_such_function");
	/* Only evidence for the stall cause: without it retransmissions read 0. */
	if (!has_retx)
		bpf_program__set_autoload(t->skel->progs.sr_on_retransmit, false);

	bpf_log_quiet(quiet);
	bpf_log_forget_refusal();
	ret = sockreap_bpf__load(t->skel);
	bpf_log_quiet(false);
	if (ret == -EPERM && !bpf_log_refused_prog()[0] && under_seccomp_filter()) {
		snprintf(err, errlen,
			 "sockreap: bpf() was refused (%s) under a seccomp filter: the runtime's "
			 "default profile lets only CAP_SYS_ADMIN call bpf(); run with a profile that "
			 "allows it (deploy/sockreap-seccomp.json, see deploy/README.md)",
			 strerror(-ret));
	} else if (ret == -EPERM && !bpf_log_refused_prog()[0]) {
		/* Privileges were checked: what is left is the memory limit. */
		snprintf(err, errlen,
			 "sockreap: the kernel refused to create the BPF maps (%s): this kernel "
			 "charges BPF memory to RLIMIT_MEMLOCK (before Linux 5.11); raise it for the "
			 "daemon (ulimit -l unlimited, LimitMEMLOCK=infinity, --ulimit memlock=-1) or "
			 "grant CAP_SYS_RESOURCE",
			 strerror(-ret));
	} else if (ret) {
		/* The privileges were checked before: this is the kernel's word. */
		snprintf(err, errlen,
			 "sockreap: this kernel refused BPF program '%s' (%s): %s%s",
			 bpf_log_refused_prog()[0] ? bpf_log_refused_prog() : "?", strerror(-ret),
			 bpf_log_refused_why()[0] ? bpf_log_refused_why() : "no verifier message",
			 ret == -EPERM ? " (kernel lockdown refuses fentry programs: use --send-path "
					 "auto or sweep)"
				       : "; its verifier log is above (--verbose: whole)");
	}
	/* Filters go in before anything is attached: no event sees an empty filter. */
	if (!ret && (ret = set_filters(t, opts)))
		snprintf(err, errlen, "sockreap: cannot fill the filter maps: %s", strerror(-ret));
	if (!ret && (ret = sockreap_bpf__attach(t->skel)))
		snprintf(err, errlen, "sockreap: cannot attach the BPF programs: %s", strerror(-ret));
	if (ret) {
		sockreap_bpf__destroy(t->skel);
		t->skel = NULL;
	}
	return ret;
}

int tracker_open(struct tracker **out, const struct tracker_opts *opts, char *err, size_t errlen)
{
	struct tracker *t = calloc(1, sizeof(*t));
	struct btf *vmlinux = NULL;
	bool has_tp, has_retx;
	int ret;

	if (!t)
		return -ENOMEM;
	vmlinux = btf__load_vmlinux_btf();
	if (!vmlinux) {
		ret = -errno;
		snprintf(err, errlen,
			 "sockreap: cannot read kernel BTF (/sys/kernel/btf/vmlinux): %s; "
			 "run on a kernel built with CONFIG_DEBUG_INFO_BTF=y",
			 strerror(-ret));
		goto fail;
	}
	if (!btf_has_tp(vmlinux, "tcp_probe") || !btf_has_tp(vmlinux, "inet_sock_set_state")) {
		ret = -EOPNOTSUPP;
		snprintf(err, errlen,
			 "sockreap: kernel lacks the tcp_probe or inet_sock_set_state tracepoint; "
			 "run on Linux 4.16 or newer");
		goto fail;
	}
	t->has_destroy = btf__find_by_name_kind(vmlinux, "bpf_sock_destroy", BTF_KIND_FUNC) >= 0;

	t->cookie_keys = probe_cookie_helper();
	if (!t->cookie_keys && getrandom(&t->key_salt, sizeof(t->key_salt), 0) < 0)
		pr_warn("no random salt for socket keys: %s", strerror(errno));
	has_tp = btf_has_tp(vmlinux, "tcp_sendmsg_locked") && !test_hook("SOCKREAP_TEST_HIDE_SEND_TP");
	has_retx = btf_has_tp(vmlinux, "tcp_retransmit_skb");
	if (has_tp && opts->send_path != TRACKER_SEND_SWEEP && opts->send_path != TRACKER_SEND_FENTRY)
		t->send_path = TRACKER_SEND_TRACEPOINT;
	else if (opts->send_path == TRACKER_SEND_AUTO || opts->send_path == TRACKER_SEND_FENTRY)
		t->send_path = TRACKER_SEND_FENTRY;
	else
		t->send_path = TRACKER_SEND_SWEEP;
	if (t->send_path == TRACKER_SEND_TRACEPOINT || opts->send_path == TRACKER_SEND_TRACEPOINT) {
		if (!has_tp) {
			ret = -EOPNOTSUPP;
			snprintf(err, errlen, "sockreap: this kernel has no tcp_sendmsg_locked tracepoint "
					      "(Linux 6.16+): use --send-path auto, fentry or sweep");
			goto fail;
		}
	}
	ret = load_and_attach(t, opts, has_retx, opts->send_path == TRACKER_SEND_AUTO, err, errlen);
	if (ret && t->send_path == TRACKER_SEND_FENTRY && opts->send_path == TRACKER_SEND_AUTO) {
		/* fentry refused (kernel lockdown, no BTF for the function):
		 * the sweep needs nothing more than what is already loaded. */
		pr_info("fentry on tcp_sendmsg_locked refused here: the send path is the sweep");
		t->send_path = TRACKER_SEND_SWEEP;
		ret = load_and_attach(t, opts, has_retx, false, err, errlen);
	}
	if (ret)
		goto fail;
	/* The skeleton's attach links the iter/ programs too. */
	t->sweep_link = t->skel->links.sr_sweep;
	if (t->has_destroy)
		tracker_open_destroy(t);
	t->ncpus = libbpf_num_possible_cpus();
	t->percpu = calloc((size_t)(t->ncpus > 0 ? t->ncpus : 1), sizeof(uint64_t));
	if (t->ncpus <= 0 || !t->percpu) {
		ret = -ENOMEM;
		snprintf(err, errlen, "sockreap: out of memory");
		goto fail;
	}
	btf__free(vmlinux);
	*out = t;
	return 0;
fail:
	btf__free(vmlinux);
	tracker_close(t);
	return ret;
}

enum tracker_send_path tracker_send_path(const struct tracker *t)
{
	return t->send_path;
}

const char *tracker_send_path_name(enum tracker_send_path p)
{
	static const char *const names[] = {
		[TRACKER_SEND_AUTO] = "auto",	  [TRACKER_SEND_TRACEPOINT] = "tracepoint",
		[TRACKER_SEND_FENTRY] = "fentry", [TRACKER_SEND_SWEEP] = "sweep",
	};

	return p <= TRACKER_SEND_SWEEP ? names[p] : "?";
}

bool tracker_keys_are_cookies(const struct tracker *t)
{
	return t->cookie_keys;
}

bool tracker_has_destroy(const struct tracker *t)
{
	return t->has_destroy;
}

/* Walk the current namespace's sockets with an iterator program. */
int tracker_run_iter(struct bpf_link *link)
{
	char buf[16384];
	int fd = bpf_iter_create(bpf_link__fd(link));
	ssize_t r;
	int n = 0;

	if (fd < 0)
		return -errno;
	/* Reading drives the walk to its end; sr_sweep writes one byte per
	 * socket (the destroy walk nothing). */
	while ((r = read(fd, buf, sizeof(buf))) > 0)
		n += (int)r;
	close(fd);
	return r < 0 ? -errno : n;
}

static int sweep_here(void *ctx)
{
	return tracker_sweep(ctx);
}

int tracker_sweep_netns(struct tracker *t, uint32_t netns_ino)
{
	return netns_run_in(netns_ino, sweep_here, t);
}

int tracker_refresh(struct tracker *t, uint64_t cookie, uint32_t netns_ino, struct sr_sock *out)
{
	int ret = tracker_sweep_netns(t, netns_ino);

	return ret < 0 ? ret : tracker_lookup(t, cookie, out);
}

int tracker_sweep_all_netns(struct tracker *t)
{
	return netns_for_each(sweep_here, t);
}

int tracker_sweep(struct tracker *t)
{
	int n = tracker_run_iter(t->sweep_link);

	if (n > 0)
		t->iter_visited += (uint64_t)n;
	return n;
}

uint64_t tracker_sockets_swept(const struct tracker *t)
{
	return t->iter_visited;
}

/*
 * The backstop walk, in steps. An iter fd walks the namespace it was
 * created in, wherever it is read from, and each read resumes where the last
 * one stopped; sr_sweep writes a byte per socket, so a read of n bytes
 * visits about n sockets. The fds of one walk are opened together (a tour
 * of the namespaces with --all-netns) and read over as many steps as it
 * takes.
 */
static int walk_open_here(void *ctx)
{
	struct tracker *t = ctx;
	int fd = bpf_iter_create(bpf_link__fd(t->sweep_link));
	int *fds;

	if (fd < 0)
		return -errno;
	fds = realloc(t->walk_fds, (t->n_walk + 1) * sizeof(*fds));
	if (!fds) {
		close(fd);
		return -ENOMEM;
	}
	t->walk_fds = fds;
	t->walk_fds[t->n_walk++] = fd;
	return 0;
}

static void walk_close(struct tracker *t)
{
	for (size_t i = t->walk_cur; i < t->n_walk; i++)
		close(t->walk_fds[i]);
	free(t->walk_fds);
	t->walk_fds = NULL;
	t->n_walk = t->walk_cur = 0;
}

bool tracker_backstop_walking(const struct tracker *t)
{
	return t->n_walk > 0;
}

int tracker_backstop_step(struct tracker *t, bool all_netns, uint64_t budget, uint64_t *visited_out,
			  uint64_t *walked)
{
	char buf[16384];
	uint64_t visited = 0;
	int ret = 0;

	*walked = *visited_out = 0;
	if (!t->n_walk) {
		t->walk_visited = 0;
		ret = all_netns ? netns_for_each(walk_open_here, t) : walk_open_here(t);
		if (ret < 0 || !t->n_walk) {
			walk_close(t);
			return ret < 0 ? ret : -ENOENT;
		}
	}
	t->skel->bss->sweep_queued_only = true;
	while (visited < budget && t->walk_cur < t->n_walk) {
		size_t want = budget - visited < sizeof(buf) ? (size_t)(budget - visited) : sizeof(buf);
		ssize_t r = read(t->walk_fds[t->walk_cur], buf, want);

		if (r < 0) {
			ret = -errno;
			break;
		}
		if (r == 0)
			close(t->walk_fds[t->walk_cur++]);
		visited += (uint64_t)r;
	}
	t->skel->bss->sweep_queued_only = false;
	t->walk_visited += visited;
	t->iter_visited += visited;
	*visited_out = visited;
	if (ret < 0) {
		walk_close(t);
		return ret;
	}
	if (t->walk_cur == t->n_walk) {
		*walked = t->walk_visited;
		walk_close(t);
		return 1;
	}
	return 0;
}

void tracker_close(struct tracker *t)
{
	if (!t)
		return;
	walk_close(t);
	/* The links are the skeletons' own: destroyed with them. */
	destroy_bpf__destroy(t->destroy);
	sockreap_bpf__destroy(t->skel);
	free(t->percpu);
	free(t);
}
