/* tracker.c - the skeleton flow: open, size, load, attach; map reads in batches. */
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

#include "log.h"
#include "netns.h"
#include "ports.h"
#include "destroy.skel.h"
#include "probe.skel.h"
#include "sockreap.skel.h"

#define BATCH 4096

struct tracker {
	struct sockreap_bpf *skel;
	struct destroy_bpf *destroy; /* NULL without bpf_sock_destroy() */
	struct bpf_link *sweep_link;	/* the skeletons' own links to the iter/ programs */
	struct bpf_link *destroy_link;
	enum tracker_send_path send_path; /* how sends are seen: never AUTO once open */
	bool has_destroy;
	bool cookie_keys;	/* map keys are socket cookies, else salted addresses */
	__u64 key_salt;
	int ncpus;
	uint64_t *percpu; /* ncpus values for one counter */
};

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

#define VERIFIER_TAIL_LINES 30

static bool g_verbose;
static bool g_quiet; /* a probe is loading: its refusal is an answer, not an error */
/* What the kernel said about the last program it refused (for the one-line error). */
static char g_refused_prog[64], g_refused_why[256];

/* Keep the last non-empty line of a verifier log before its END marker. */
static void note_verifier_reason(const char *log)
{
	const char *end = strstr(log, "-- END PROG LOAD LOG --"), *p, *start;

	if (!end)
		end = log + strlen(log);
	for (p = end; p > log && (p[-1] == '\n' || p[-1] == ' '); p--)
		;
	for (start = p; start > log && start[-1] != '\n'; start--)
		;
	snprintf(g_refused_why, sizeof(g_refused_why), "%.*s", (int)(p - start), start);
}

/* The verifier log's last lines only, unless verbose: its reason is at the end. */
static char *verifier_tail(char *msg)
{
	char *begin = strstr(msg, "-- BEGIN PROG LOAD LOG --"), *p;
	int lines = 0;

	if (g_verbose || !begin)
		return msg;
	for (p = msg + strlen(msg); p > begin; p--)
		if (p[-1] == '\n' && ++lines > VERIFIER_TAIL_LINES)
			return p;
	return msg;
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	enum log_level lvl = level == LIBBPF_WARN ? LOG_WARN : LOG_DEBUG;
	char *msg = NULL, *q;

	if ((lvl == LOG_DEBUG || g_quiet) && !g_verbose)
		return 0;
	if (vasprintf(&msg, fmt, ap) < 0)
		return 0;
	if (strstr(msg, "-- BEGIN PROG LOAD LOG --")) {
		note_verifier_reason(msg);
		if (verifier_tail(msg) != msg)
			pr_warn("verifier log (its last %d lines; --verbose shows it whole):",
				VERIFIER_TAIL_LINES);
	}
	/* libbpf: prog 'NAME': BPF program load failed: ... */
	if ((q = strstr(msg, "prog '")) && (strstr(msg, "load failed") || strstr(msg, "failed to load")))
		sscanf(q, "prog '%63[^']'", g_refused_prog);
	log_lines(lvl, verifier_tail(msg));
	free(msg);
	return 0;
}

void tracker_setup_logging(bool verbose)
{
	g_verbose = verbose;
	libbpf_set_print(libbpf_print);
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

	g_quiet = true;
	p = probe_bpf__open_and_load();
	g_quiet = false;
	probe_bpf__destroy(p);
	return p != NULL;
}

/*
 * The destroy walk is optional: if its object will not load or attach here,
 * the daemon runs without the fallback (event=ready says destroy=unavailable).
 */
static void open_destroy(struct tracker *t)
{
	t->destroy = destroy_bpf__open_and_load();
	if (t->destroy && destroy_bpf__attach(t->destroy) == 0)
		t->destroy_link = t->destroy->links.sr_destroy;
	if (!t->destroy_link) {
		pr_warn("bpf_sock_destroy() is in the kernel but its walk would not load (%s): "
			"no destroy fallback",
			strerror(errno));
		destroy_bpf__destroy(t->destroy);
		t->destroy = NULL;
		t->has_destroy = false;
	}
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
	/* Only evidence for the stall cause: without it retransmissions read 0. */
	if (!has_retx)
		bpf_program__set_autoload(t->skel->progs.sr_on_retransmit, false);

	g_quiet = quiet;
	g_refused_prog[0] = g_refused_why[0] = '\0';
	ret = sockreap_bpf__load(t->skel);
	g_quiet = false;
	if (ret == -EPERM && !g_refused_prog[0]) {
		/* Privileges were checked: what is left is the memory limit. */
		snprintf(err, errlen,
			 "sockreap: the kernel refused to create the BPF maps (%s): this kernel "
			 "charges BPF memory to RLIMIT_MEMLOCK (before Linux 5.11); raise it for the "
			 "daemon (ulimit -l unlimited, LimitMEMLOCK=infinity, --ulimit memlock=-1) or "
			 "grant CAP_SYS_RESOURCE (or a seccomp profile refuses bpf())",
			 strerror(-ret));
	} else if (ret) {
		/* The privileges were checked before: this is the kernel's word. */
		snprintf(err, errlen,
			 "sockreap: this kernel refused BPF program '%s' (%s): %s%s",
			 g_refused_prog[0] ? g_refused_prog : "?", strerror(-ret),
			 g_refused_why[0] ? g_refused_why : "no verifier message",
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
	has_tp = btf_has_tp(vmlinux, "tcp_sendmsg_locked");
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
		open_destroy(t);
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

/* Walk the current namespace's sockets with the destroy program. */
static int run_iter(struct bpf_link *link)
{
	char buf[64];
	int fd = bpf_iter_create(bpf_link__fd(link));
	ssize_t r;

	if (fd < 0)
		return -errno;
	/* The program prints nothing; reading drives the walk to its end. */
	while ((r = read(fd, buf, sizeof(buf))) > 0)
		;
	close(fd);
	return r < 0 ? -errno : 0;
}

static int destroy_here(void *ctx)
{
	struct tracker *t = ctx;

	return run_iter(t->destroy_link);
}

int tracker_destroy(struct tracker *t, uint64_t cookie, const struct sr_sock *e,
		    enum sr_destroy_check check, bool dry_run)
{
	struct destroy_bpf__bss *bss;
	int ret;

	if (!t->has_destroy)
		return -EOPNOTSUPP;
	bss = t->destroy->bss;
	bss->destroy_cookie = cookie;
	bss->destroy_expect_acked = e->bytes_acked;
	bss->destroy_expect_state = e->state;
	bss->destroy_check = check;
	bss->destroy_dry_run = dry_run;
	bss->destroy_result = SR_DESTROY_NOT_FOUND;
	ret = netns_run_in(e->netns_ino, destroy_here, t);
	bss->destroy_cookie = 0;
	if (ret < 0)
		return ret;
	return bss->destroy_result;
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
	return run_iter(t->sweep_link);
}

static int grow(struct tracker_snapshot *s, size_t want)
{
	uint64_t *k;
	struct sr_sock *v;
	uint8_t *h;

	if (want <= s->cap)
		return 0;
	h = realloc(s->hot_vals, want);
	if (!h)
		return -ENOMEM;
	s->hot_vals = h;
	k = realloc(s->cookies, want * sizeof(*k));
	if (!k)
		return -ENOMEM;
	s->cookies = k;
	v = realloc(s->socks, want * sizeof(*v));
	if (!v)
		return -ENOMEM;
	s->socks = v;
	/* The kernel fills these; zero them once so tools that cannot see a
	 * bpf() batch write (valgrind) do not take them for uninitialised. */
	memset(k + s->cap, 0, (want - s->cap) * sizeof(*k));
	memset(v + s->cap, 0, (want - s->cap) * sizeof(*v));
	s->cap = want;
	return 0;
}

void tracker_snapshot_free(struct tracker_snapshot *snap)
{
	free(snap->cookies);
	free(snap->socks);
	free(snap->hot_vals);
	memset(snap, 0, sizeof(*snap));
}

/*
 * Read a whole hash map in batches: keys into s->cookies, values into
 * s->socks (the socket map) or s->hot_vals (the candidate set). The number
 * read goes to s->n.
 */
static int read_all(struct tracker_snapshot *s, int fd, bool hot)
{
	uint64_t token = 0;
	bool first = true;

	s->n = 0;
	for (;;) {
		__u32 want = BATCH, count;
		int ret;

		for (;;) {
			if (grow(s, s->n + want))
				return -ENOMEM;
			count = want;
			ret = bpf_map_lookup_batch(fd, first ? NULL : &token, &token, s->cookies + s->n,
						   hot ? (void *)(s->hot_vals + s->n) : (void *)(s->socks + s->n),
						   &count, NULL);
			/* ENOSPC with nothing read: one hash bucket holds more than
			 * `want` entries. Retry with more room. */
			if (!ret || errno != ENOSPC || count || want >= 64 * BATCH)
				break;
			want *= 4;
		}
		s->n += count;
		first = false;
		if (ret)
			return errno == ENOENT ? 0 : -errno;
	}
}

int tracker_read(struct tracker *t, struct tracker_snapshot *snap)
{
	return read_all(snap, bpf_map__fd(t->skel->maps.sr_socks), false);
}

int tracker_read_hot(struct tracker *t, struct tracker_snapshot *snap)
{
	int hfd = bpf_map__fd(t->skel->maps.sr_hot), sfd = bpf_map__fd(t->skel->maps.sr_socks);
	size_t kept = 0;
	int ret = read_all(snap, hfd, true);

	if (ret)
		return ret;
	/* Then each candidate's entry. One whose entry is gone was closed
	 * between the two reads (BPF deletes both on TCP_CLOSE): drop it. */
	for (size_t i = 0; i < snap->n; i++) {
		if (bpf_map_lookup_elem(sfd, &snap->cookies[i], &snap->socks[kept])) {
			if (errno != ENOENT)
				return -errno;
			bpf_map_delete_elem(hfd, &snap->cookies[i]);
			continue;
		}
		snap->cookies[kept++] = snap->cookies[i];
	}
	snap->n = kept;
	return 0;
}

int tracker_lookup(struct tracker *t, uint64_t cookie, struct sr_sock *out)
{
	if (bpf_map_lookup_elem(bpf_map__fd(t->skel->maps.sr_socks), &cookie, out))
		return -errno;
	return 0;
}

void tracker_counters(struct tracker *t, uint64_t out[SR_CNT_MAX])
{
	int fd = bpf_map__fd(t->skel->maps.sr_counters);

	for (__u32 i = 0; i < SR_CNT_MAX; i++) {
		out[i] = 0;
		if (bpf_map_lookup_elem(fd, &i, t->percpu))
			continue;
		for (int c = 0; c < t->ncpus; c++)
			out[i] += t->percpu[c];
	}
}

void tracker_close(struct tracker *t)
{
	if (!t)
		return;
	/* The links are the skeletons' own: destroyed with them. */
	destroy_bpf__destroy(t->destroy);
	sockreap_bpf__destroy(t->skel);
	free(t->percpu);
	free(t);
}
