/* tracker.c - the skeleton flow: probe, open, size, load, attach; the store and filters. */
#include "tracker.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "bpf_log.h"
#include "clock.h"
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

#ifdef SR_TEST_HOOKS
/* Test builds only: pretend the kernel lacks what env NAME=1 says (see test_send_fallback.sh). */
static bool test_hook(const char *name)
{
	return getenv(name) != NULL;
}
#else
#define test_hook(name) false
#endif

enum probe { PROBE_COOKIE, PROBE_FENTRY, PROBE_STORAGE };

/*
 * Does one program of probe.bpf.c load here? The cookie probe, the storage
 * probe, or the fentry probe attached to fentry_target. Asked before the real
 * programs load, so a refusal is an answer, never a failed start to retry.
 */
static bool probe_loads(enum probe which, const char *fentry_target)
{
	struct probe_bpf *p = probe_bpf__open();
	bool ok = false;

	if (!p)
		return false;
	bpf_program__set_autoload(p->progs.sr_probe_cookie, which == PROBE_COOKIE);
	bpf_program__set_autoload(p->progs.sr_probe_fentry, which == PROBE_FENTRY);
	bpf_program__set_autoload(p->progs.sr_probe_storage, which == PROBE_STORAGE);
	bpf_log_quiet(true);
	if (which != PROBE_FENTRY ||
	    !bpf_program__set_attach_target(p->progs.sr_probe_fentry, 0, fentry_target))
		ok = probe_bpf__load(p) == 0;
	bpf_log_quiet(false);
	probe_bpf__destroy(p);
	return ok;
}

/* May tracing programs call bpf_get_socket_cookie() (5.12+)? */
static bool cookie_helper_allowed(void)
{
	return probe_loads(PROBE_COOKIE, NULL);
}

/* May tracing programs use socket-local storage (5.11+)? */
static bool storage_allowed(void)
{
	return !test_hook("SOCKREAP_TEST_NO_STORAGE") && probe_loads(PROBE_STORAGE, NULL);
}

/* Does the kernel have function fn and take an fentry program on it (no lockdown)? */
static bool fentry_can_attach(const struct btf *vmlinux, const char *fn)
{
	/* The test build's stand-in for lockdown: a function the kernel has but
	 * never lets a tracing program attach to (its BTF deny list), so the
	 * probe is refused by the kernel for real. */
	if (test_hook("SOCKREAP_TEST_REFUSE_FENTRY"))
		fn = "migrate_disable";
	if (btf__find_by_name_kind(vmlinux, fn, BTF_KIND_FUNC) < 0)
		return false;
	return probe_loads(PROBE_FENTRY, fn);
}

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

/* Room for one program's verifier log: untouched pages cost nothing, and the
 * reason for a refusal is at the end of a log that can run long. */
#define PROG_LOG_SIZE (1u << 20)

static bool g_verbose_logs;
static bool verbose_logs(void)
{
	return g_verbose_logs;
}

/* The last n lines of a log. */
static char *log_tail(char *log, int n)
{
	char *p = log + strlen(log);

	while (p > log && n >= 0)
		if (*--p == '\n')
			n--;
	return p == log ? log : p + 1;
}

/*
 * The program the kernel refused, from libbpf's per-program log buffers: the
 * one whose buffer holds a log (libbpf retries a failed load with logging
 * into it). Its name, and the log's last line, which says why.
 */
static bool refused_program(struct bpf_object *obj, char *const *logs, const char **name,
			    char *why, size_t whylen)
{
	struct bpf_program *prog;
	size_t i = 0;

	bpf_object__for_each_program(prog, obj) {
		char *log = logs[i++];
		const char *end, *line;

		if (!log || !log[0])
			continue;
		/* The reason is the last line before the verifier's statistics. */
		end = log + strnlen(log, PROG_LOG_SIZE);
		for (;;) {
			while (end > log && (end[-1] == '\n' || end[-1] == ' '))
				end--;
			for (line = end; line > log && line[-1] != '\n'; line--)
				;
			if (line == log || (strncmp(line, "processed ", 10) && strncmp(line, "verification time", 17)))
				break;
			end = line;
		}
		*name = bpf_program__name(prog);
		snprintf(why, whylen, "%.*s", (int)(end - line), line);
		/* Its tail, where the verifier explains itself (--verbose: whole). */
		log_lines(LOG_WARN, verbose_logs() ? log : log_tail(log, 30));
		return true;
	}
	return false;
}

/* The one-line reason a load failed, naming the program and the fix. */
static void load_error(struct bpf_object *obj, char *const *logs, int ret, char *err, size_t errlen)
{
	const char *prog = NULL;
	char why[256] = "";

	if (refused_program(obj, logs, &prog, why, sizeof(why)))
		snprintf(err, errlen, "sockreap: this kernel refused BPF program '%s' (%s): %s; the end "
			 "of its verifier log is above (--verbose: whole)", prog, strerror(-ret),
			 why[0] ? why : "no verifier message");
	else if (ret == -EPERM && under_seccomp_filter())
		snprintf(err, errlen,
			 "sockreap: bpf() was refused (%s) under a seccomp filter: the runtime's "
			 "default profile lets only CAP_SYS_ADMIN call bpf(); run with a profile that "
			 "allows it (deploy/sockreap-seccomp.json, see deploy/README.md)",
			 strerror(-ret));
	else if (ret == -EPERM)
		/* Privileges were checked before: what is left is the memory limit. */
		snprintf(err, errlen,
			 "sockreap: the kernel refused to create the BPF maps (%s): this kernel "
			 "charges BPF memory to RLIMIT_MEMLOCK (before Linux 5.11); raise it for the "
			 "daemon (ulimit -l unlimited, LimitMEMLOCK=infinity, --ulimit memlock=-1) or "
			 "grant CAP_SYS_RESOURCE",
			 strerror(-ret));
	else
		snprintf(err, errlen, "sockreap: cannot load the BPF programs: %s", strerror(-ret));
}

/*
 * Open, configure, load and attach the trackers for the send path chosen
 * (every decision is made before this: nothing here is a probe). 0, or
 * negative errno with err set; the skeleton is gone then.
 */
static int load_and_attach(struct tracker *t, const struct tracker_opts *opts, bool has_retx,
			   char *err, size_t errlen)
{
	struct bpf_program *prog;
	char *logs[16] = { 0 };
	size_t n = 0;
	int ret;

	g_verbose_logs = opts->verbose;
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
	t->skel->rodata->cfg_unowned_targets = opts->unowned_targets;
	t->skel->rodata->cfg_storage = t->store == TRACKER_STORE_STORAGE;
	t->skel->rodata->cfg_tick_ns = jiffy_ns();
	/* The other store's maps are never created (its code is dead to the
	 * verifier). The candidate set, keys or copies, is sized like the hash
	 * store: overflowing it costs full reads, never a missed socket. */
	if (t->store == TRACKER_STORE_STORAGE) {
		bpf_map__set_autocreate(t->skel->maps.sr_socks, false);
		bpf_map__set_autocreate(t->skel->maps.sr_hot, false);
		bpf_map__set_max_entries(t->skel->maps.sr_cand, opts->map_capacity);
	} else {
		bpf_map__set_autocreate(t->skel->maps.sr_store, false);
		bpf_map__set_autocreate(t->skel->maps.sr_cand, false);
		bpf_map__set_max_entries(t->skel->maps.sr_socks, opts->map_capacity);
		bpf_map__set_max_entries(t->skel->maps.sr_hot, opts->map_capacity);
		t->capacity = opts->map_capacity;
	}
	t->all_netns = opts->netns_ino == 0;
	bpf_program__set_autoload(t->skel->progs.sr_dump, t->store == TRACKER_STORE_STORAGE);
	bpf_program__set_autoload(t->skel->progs.sr_on_sendmsg, t->send_path == TRACKER_SEND_TRACEPOINT);
	bpf_program__set_autoload(t->skel->progs.sr_on_sendmsg_fentry, t->send_path == TRACKER_SEND_FENTRY);
	bpf_program__set_autoload(t->skel->progs.sr_on_sendpage_fentry, t->hooks_sendpage);
	/* Only evidence for the stall cause: without it retransmissions read 0. */
	bpf_program__set_autoload(t->skel->progs.sr_on_retransmit, has_retx);
	bpf_object__for_each_program(prog, t->skel->obj) {
		if (n < sizeof(logs) / sizeof(logs[0]) && bpf_program__autoload(prog) &&
		    (logs[n] = malloc(PROG_LOG_SIZE))) {
			logs[n][0] = '\0';
			bpf_program__set_log_buf(prog, logs[n], PROG_LOG_SIZE);
		}
		n++;
	}
	ret = sockreap_bpf__load(t->skel);
	if (ret)
		load_error(t->skel->obj, logs, ret, err, errlen);
	for (size_t i = 0; i < sizeof(logs) / sizeof(logs[0]); i++)
		free(logs[i]);
	/* .bss is the kernel's own zeroed map until loaded: set it after. */
	if (!ret)
		memcpy(t->skel->bss->dump_idle_after_ns, opts->idle_after_ns, sizeof(opts->idle_after_ns));
	/* Filters go in before anything is attached: no event sees an empty filter. */
	if (!ret && (ret = set_filters(t, opts)))
		snprintf(err, errlen, "sockreap: cannot fill the filter maps: %s", strerror(-ret));
	if (!ret && (ret = sockreap_bpf__attach(t->skel)))
		snprintf(err, errlen, "sockreap: cannot attach the BPF programs: %s", strerror(-ret));
	if (!ret && t->store == TRACKER_STORE_STORAGE)
		t->dump_link = t->skel->links.sr_dump;
	if (ret) {
		sockreap_bpf__destroy(t->skel);
		t->skel = NULL;
	}
	return ret;
}

/*
 * The send path, decided before anything loads: the tracepoint where the
 * kernel has it, else fentry where the kernel takes it, else the sweep; or
 * the one asked for, if this kernel offers it. 0, or -EOPNOTSUPP with err set.
 */
static int choose_send_path(struct tracker *t, const struct btf *vmlinux,
			    enum tracker_send_path want, char *err, size_t errlen)
{
	bool has_tp = btf_has_tp(vmlinux, "tcp_sendmsg_locked") && !test_hook("SOCKREAP_TEST_HIDE_SEND_TP");

	if (want == TRACKER_SEND_TRACEPOINT && !has_tp) {
		snprintf(err, errlen, "sockreap: this kernel has no tcp_sendmsg_locked tracepoint "
				      "(Linux 6.16+): use --send-path auto, fentry or sweep");
		return -EOPNOTSUPP;
	}
	if (want == TRACKER_SEND_AUTO && has_tp)
		want = TRACKER_SEND_TRACEPOINT;
	if (want == TRACKER_SEND_AUTO || want == TRACKER_SEND_FENTRY) {
		bool fentry = fentry_can_attach(vmlinux, "tcp_sendmsg_locked");

		if (!fentry && want == TRACKER_SEND_FENTRY) {
			snprintf(err, errlen, "sockreap: this kernel refused BPF program "
					      "'sr_on_sendmsg_fentry' (fentry on tcp_sendmsg_locked, asked "
					      "before load; kernel lockdown refuses fentry): use --send-path "
					      "auto or sweep");
			return -EOPNOTSUPP;
		}
		if (!fentry)
			pr_info("fentry on tcp_sendmsg_locked refused here: the send path is the sweep");
		want = fentry ? TRACKER_SEND_FENTRY : TRACKER_SEND_SWEEP;
	}
	t->send_path = want;
	/* Before 6.5, sendfile/splice/kTLS send through do_tcp_sendpages(): hook
	 * it too where fentry is in use; where it cannot be hooked, the backstop
	 * walk is what sees what it queues. */
	t->has_sendpage = btf__find_by_name_kind(vmlinux, "do_tcp_sendpages", BTF_KIND_FUNC) >= 0;
	t->hooks_sendpage = want == TRACKER_SEND_FENTRY && t->has_sendpage &&
			    fentry_can_attach(vmlinux, "do_tcp_sendpages");
	return 0;
}

/* The store, decided before load: socket storage where tracing programs may
 * use it, else the hash map; or the one asked for, if this kernel has it. */
static int choose_store(struct tracker *t, enum tracker_store want, char *err, size_t errlen)
{
	bool storage = want != TRACKER_STORE_HASH && storage_allowed();

	if (want == TRACKER_STORE_STORAGE && !storage) {
		snprintf(err, errlen, "sockreap: this kernel does not let tracing programs use socket "
				      "storage (Linux 5.11+): use --socket-state auto or hash");
		return -EOPNOTSUPP;
	}
	t->store = storage ? TRACKER_STORE_STORAGE : TRACKER_STORE_HASH;
	return 0;
}

int tracker_open(struct tracker **out, const struct tracker_opts *opts, char *err, size_t errlen)
{
	struct tracker *t = calloc(1, sizeof(*t));
	struct btf *vmlinux = NULL;
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
	t->cookie_keys = cookie_helper_allowed();
	ret = choose_store(t, opts->store, err, errlen);
	if (ret)
		goto fail;
	if (!t->cookie_keys && getrandom(&t->key_salt, sizeof(t->key_salt), 0) < 0)
		pr_warn("no random salt for socket keys: %s", strerror(errno));
	ret = choose_send_path(t, vmlinux, opts->send_path, err, errlen);
	if (!ret)
		ret = load_and_attach(t, opts, btf_has_tp(vmlinux, "tcp_retransmit_skb"), err, errlen);
	if (ret)
		goto fail;
	/* The skeleton's attach links the iter/ programs too. */
	t->walk_link = t->skel->links.sr_walk;
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

enum tracker_store tracker_store(const struct tracker *t)
{
	return t->store;
}

const char *tracker_store_name(enum tracker_store st)
{
	static const char *const names[] = {
		[TRACKER_STORE_AUTO] = "auto",
		[TRACKER_STORE_STORAGE] = "storage",
		[TRACKER_STORE_HASH] = "hash",
	};

	return st <= TRACKER_STORE_HASH ? names[st] : "?";
}

uint32_t tracker_capacity(const struct tracker *t)
{
	return t->capacity;
}

/* The event a tracing program handles, as sockreap_bpf_events_total names it
 * (the iterators run on the daemon's reads: nothing to miss). */
static const char *event_of(const char *prog)
{
	static const struct {
		const char *prog, *event;
	} map[] = {
		{ "sr_on_sendmsg", "tcp_sendmsg_locked" },
		{ "sr_on_sendmsg_fentry", "tcp_sendmsg_locked" },
		{ "sr_on_sendpage_fentry", "do_tcp_sendpages" },
		{ "sr_on_probe", "tcp_probe" },
		{ "sr_on_state", "inet_sock_set_state" },
		{ "sr_on_retransmit", "tcp_retransmit_skb" },
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (!strcmp(map[i].prog, prog))
			return map[i].event;
	return NULL;
}

size_t tracker_prog_stats(struct tracker *t, struct tracker_prog_stat *out, size_t max)
{
	struct bpf_program *prog;
	size_t n = 0;

	bpf_object__for_each_program(prog, t->skel->obj) {
		const char *event = event_of(bpf_program__name(prog));
		struct bpf_prog_info info;
		__u32 len = sizeof(info);
		int fd = bpf_program__fd(prog);

		if (n >= max || fd < 0 || !event)
			continue;
		memset(&info, 0, sizeof(info));
		if (bpf_obj_get_info_by_fd(fd, &info, &len))
			continue;
		out[n++] = (struct tracker_prog_stat){
			.name = event,
			.recursion_misses = info.recursion_misses,
			/* The kernel fills what it knows: older ones stop short of it. */
			.misses_known = len >= offsetof(struct bpf_prog_info, recursion_misses) +
						       sizeof(info.recursion_misses),
		};
	}
	return n;
}

bool tracker_hooks_sendpage(const struct tracker *t)
{
	return t->hooks_sendpage;
}

bool tracker_sendfile_backstop(const struct tracker *t)
{
	return t->send_path == TRACKER_SEND_SWEEP || (t->has_sendpage && !t->hooks_sendpage);
}

/*
 * The fentry program sees a send at the call's entry, counting what the
 * call has still to copy; the next ACK's tcp_probe re-reads the real queue.
 * An ACK that acknowledges everything while the call waits for memory takes
 * the socket out of the candidates, and the call, woken, queues the rest
 * with no event: if the path to the peer then fails (no ACK; the 6.1 guest
 * counted no retransmission failing locally), only a walk finds it (seen
 * there in test_last_acks: 2 of 6 senders never reaped).
 */
bool tracker_needs_backstop(const struct tracker *t)
{
	return t->send_path != TRACKER_SEND_TRACEPOINT || tracker_sendfile_backstop(t);
}

void tracker_close(struct tracker *t)
{
	if (!t)
		return;
	tracker_walk_close(t);
	/* The links are the skeletons' own: destroyed with them. */
	destroy_bpf__destroy(t->destroy);
	sockreap_bpf__destroy(t->skel);
	free(t->percpu);
	free(t);
}
