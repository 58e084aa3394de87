/* options.c - the command line and SOCKREAP_* environment: one table of specs,
 * each carrying its parser, destination and limits (value.h); a --target's
 * own spec is read by target_spec.c. */
#include "options.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "control.h"
#include "value.h"

/* value_enum() writes an int. */
_Static_assert(sizeof(enum log_format) == sizeof(int), "enum log_format is not int-sized");
_Static_assert(sizeof(enum tracker_send_path) == sizeof(int), "enum tracker_send_path is not int-sized");
_Static_assert(sizeof(enum reap_method) == sizeof(int), "enum reap_method is not int-sized");
_Static_assert(sizeof(enum tracker_store) == sizeof(int), "enum tracker_store is not int-sized");

static const struct value_name log_formats[] = {
	{ "logfmt", LOG_LOGFMT },
	{ "json", LOG_JSON },
	{ NULL, 0 },
};

static const struct value_name send_paths[] = {
	{ "auto", TRACKER_SEND_AUTO },
	{ "tracepoint", TRACKER_SEND_TRACEPOINT },
	{ "fentry", TRACKER_SEND_FENTRY },
	{ "sweep", TRACKER_SEND_SWEEP },
	{ NULL, 0 },
};

static const struct value_name socket_states[] = {
	{ "auto", TRACKER_STORE_AUTO },
	{ "storage", TRACKER_STORE_STORAGE },
	{ "hash", TRACKER_STORE_HASH },
	{ NULL, 0 },
};

static const struct value_name kill_methods[] = {
	{ "auto", REAP_METHOD_AUTO },
	{ "shutdown", REAP_METHOD_SHUTDOWN },
	{ "destroy", REAP_METHOD_DESTROY },
	{ NULL, 0 },
};

/* --target's value is a spec of its own. */
static int parse_target(const struct value_spec *sp, const char *val, void *dst, char *fix,
			size_t fixlen)
{
	(void)sp;
	return options_parse_target(val, dst, fix, fixlen);
}

#define STR_(x) #x
#define STR(x) STR_(x)

/*
 * The options, in --help's order: each carries its parser, destination,
 * limits, and what --help and README's table say of it. Built on cfg (its
 * fields are the destinations); --help builds it on a scratch copy.
 */
static size_t option_specs(struct sr_config *cfg, struct value_spec *out)
{
	const struct value_spec specs[] = {
		{ "stall-grace", value_seconds, VALUE_DST(cfg->stall_grace_s),
		  .lim.secs = { SR_STALL_GRACE_MIN_S, SR_RULE_MAX_S }, .arg = "S", .dflt = "30",
		  .help = "seconds of queued data with no ACK progress before `send_stall` fires; "
			  "fractions allowed" },
		{ "peer-gone-timeout", value_seconds, VALUE_DST(cfg->peer_gone_timeout_s),
		  .lim.secs = { SR_TIMEOUT_MIN_S, SR_RULE_MAX_S }, .arg = "S", .dflt = "0 (off)",
		  .help = "`peer_gone`: reap a socket whose peer closed while its owner left the close "
			  "(and any data) unread, with no read and no ACK progress, for S seconds. Only "
			  "for protocols whose clients never half-close (WebSocket, HTTP/2, gRPC)" },
		{ "idle-timeout", value_seconds, VALUE_DST(cfg->idle_timeout_s),
		  .lim.secs = { SR_TIMEOUT_MIN_S, SR_RULE_MAX_S }, .arg = "S", .dflt = "0 (off)",
		  .help = "`rx_idle`: reap an established socket that received nothing at all (no data, "
			  "no ACK, no keepalive reply) for S seconds" },
		{ "close-wait-timeout", value_seconds, VALUE_DST(cfg->close_wait_timeout_s),
		  .lim.secs = { SR_TIMEOUT_MIN_S, SR_RULE_MAX_S }, .arg = "S", .dflt = "0 (off)",
		  .help = "`close_wait`: leak cleanup, reap a socket held in CLOSE_WAIT for S seconds "
			  "after its owner read the peer's close (and made no ACK progress since)" },
		{ "interval", value_seconds, VALUE_DST(cfg->interval_s),
		  .lim.secs = { SR_INTERVAL_MIN_S, SR_INTERVAL_MAX_S }, .arg = "S", .dflt = "1",
		  .help = "scan period" },
		{ "all-netns", value_flag, VALUE_DST(cfg->all_netns), .implied = "1", .dflt = "off",
		  .help = "every network namespace; default is the daemon's own (a pod sidecar shares "
			  "the pod's)" },
		{ "cgroup", value_string, VALUE_LIST(cfg->n_cgroups, cfg->cgroups), .sep = ',',
		  .lim.str.what = "a cgroup v2 directory path", .arg = "PATH", .dflt = "all",
		  .help = "only sockets created in this cgroup v2 directory or a descendant; absolute, "
			  "or relative to the cgroup2 mount (found in /proc/self/mounts); repeatable" },
		{ "port", value_port_range, VALUE_LIST(cfg->n_ports, cfg->ports), .sep = ',',
		  .arg = "N|LO-HI", .dflt = "all", .help = "only sockets with this local port; repeatable" },
		{ "exclude-port", value_port_range, VALUE_LIST(cfg->n_exclude_ports, cfg->exclude_ports),
		  .sep = ',', .arg = "N|LO-HI", .dflt = "none",
		  .help = "never sockets with this local port (SSH, a collective-communication range); "
			  "wins over everything" },
		/* ';' between targets: a target's own items are ','-separated. */
		{ "target", parse_target, VALUE_LIST(cfg->n_targets, cfg->targets), .sep = ';',
		  .arg = "SPEC", .dflt = "none",
		  .help = "a target with its own rules (Per-target rules); repeatable, first match wins" },
		{ "dry-run", value_flag, VALUE_DST(cfg->dry_run), .implied = "1", .dflt = "off",
		  .help = "detect, verify, log and count, but never shut anything down (every target)" },
		{ "reap-unowned", value_flag, VALUE_DST(cfg->reap_unowned), .implied = "1", .dflt = "off",
		  .help = "also act on sockets no process owns (kernel sockets, connections not yet "
			  "accepted), through `bpf_sock_destroy()`; by default they are counted and "
			  "shown, never touched" },
		{ "kill-method", value_enum, VALUE_DST(cfg->kill_method), .lim.names = kill_methods,
		  .arg = "auto|shutdown|destroy", .dflt = "auto",
		  .help = "`shutdown()` through the owner's fd; `destroy`: `bpf_sock_destroy()` from the "
			  "kernel side (Linux 6.5+); `auto`: shutdown, and destroy when no owner fd can "
			  "be had" },
		{ "metrics-addr", value_addr, VALUE_DST(cfg->metrics_addr), .lim.str.off_ok = true,
		  .arg = "HOST:PORT", .dflt = SR_DEFAULT_METRICS_ADDR,
		  .help = "Prometheus endpoint (`/metrics`, `/healthz`); `off` disables" },
		{ "metrics-pod-labels", value_flag, VALUE_DST(cfg->metrics_pod_labels), .implied = "1",
		  .dflt = "off",
		  .help = "also count reaps by pod (`sockreap_pod_reaps_total{pod_uid,reason,result}`): one "
			  "label value per pod that had a reap, at most 1024, the rest as `other`" },
		{ "metrics-file", value_string, VALUE_DST(cfg->metrics_file),
		  .lim.str.what = "a file path", .arg = "PATH", .dflt = "none",
		  .help = "also write the exposition atomically each scan (node_exporter textfile "
			  "collector); its directory must not be world-writable" },
		{ "control-socket", value_string, VALUE_DST(cfg->control_socket),
		  .lim.str = { "a Unix socket path", true }, .arg = "PATH", .dflt = SR_DEFAULT_CONTROL_SOCKET,
		  .help = "where `sockreap list` reaches the daemon (mode 0600); `off` disables" },
		{ "log-format", value_enum, VALUE_DST(cfg->log_format), .lim.names = log_formats,
		  .arg = "logfmt|json", .dflt = "logfmt", .help = "one line per event on stderr" },
		{ "send-path", value_enum, VALUE_DST(cfg->send_path), .lim.names = send_paths,
		  .arg = "auto|tracepoint|fentry|sweep", .dflt = "auto",
		  .help = "how queued data is noticed: the `tcp_sendmsg_locked` tracepoint (Linux "
			  "6.16+), an fentry program on that function (kernels without lockdown), or no "
			  "send hook (`sweep`: ACKs, retransmissions and a backstop walk of the sockets "
			  "every 10 s); `auto` takes the first the kernel offers (see Kernels)" },
		{ "socket-state", value_enum, VALUE_DST(cfg->socket_state), .lim.names = socket_states,
		  .arg = "auto|storage|hash", .dflt = "auto",
		  .help = "where per-socket state lives: socket-local storage (Linux 5.11+: no capacity "
			  "to fill, freed with the socket) or a hash map bounded by `--map-capacity`; "
			  "`auto`: storage where the kernel allows it" },
		{ "map-capacity", value_count, VALUE_DST(cfg->map_capacity),
		  .lim.count = { SR_MAP_CAPACITY_MIN, SR_MAP_CAPACITY_MAX }, .arg = "N",
		  .dflt = STR(SR_DEFAULT_MAP_CAPACITY),
		  .help = "the hash store's size (sockets tracked at most; beyond it sockets stay "
			  "untracked, counted and warned about) and the candidate set's (overflowing it "
			  "costs full reads, never a missed socket)" },
		{ "verbose", value_flag, VALUE_DST(cfg->verbose), .implied = "1", .dflt = "off",
		  .help = "debug messages, libbpf's included" },
	};

	memcpy(out, specs, sizeof(specs));
	return ARRAY_SIZE(specs);
}

#define MAX_SPECS 32

/* "--name ARG" as --help and README show it. */
static void flag_text(const struct value_spec *sp, char *buf, size_t len)
{
	if (sp->arg)
		snprintf(buf, len, "--%s %s", sp->name, sp->arg);
	else
		snprintf(buf, len, "--%s", sp->name);
}

/* Append text to buf at *o, wrapped at 79 columns with the given indent. */
static void wrap(char *buf, size_t len, size_t *o, const char *text, int col, int indent)
{
	const char *p = text;

	while (*p && *o < len) {
		size_t w = strcspn(p, " ");

		if (col + (int)w + 1 > 79 && col > indent) {
			*o += (size_t)snprintf(buf + *o, len - *o, "\n%*s", indent, "");
			col = indent;
		}
		*o += (size_t)snprintf(buf + *o, len - *o, "%s%.*s", col > indent ? " " : "", (int)w, p);
		col += (int)w + (col > indent ? 1 : 0);
		p += w;
		while (*p == ' ')
			p++;
	}
}

const char *options_usage(void)
{
	static char buf[8192];
	static struct sr_config scratch;
	struct value_spec specs[MAX_SPECS];
	size_t n = option_specs(&scratch, specs), o = 0;

	o += (size_t)snprintf(buf + o, sizeof(buf) - o,
			      "Usage: sockreap [options]        watch TCP sockets and reap dead ones (foreground)\n"
			      "       sockreap list [--json] [--control-socket PATH]\n"
			      "                                 show the sockets a running daemon tracks\n"
			      "       sockreap --help | --version\n\n"
			      "Options (each also as env SOCKREAP_<OPTION>, e.g. SOCKREAP_STALL_GRACE=30; the "
			      "flag wins):\n");
	for (size_t i = 0; i < n && o < sizeof(buf); i++) {
		char flag[64], text[1024];

		flag_text(&specs[i], flag, sizeof(flag));
		snprintf(text, sizeof(text), "%s (default: %s)", specs[i].help, specs[i].dflt);
		/* Markdown's backquotes are for README; the terminal gets the words. */
		for (char *c = text; *c; c++)
			if (*c == '`')
				memmove(c, c + 1, strlen(c));
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "  %s\n%*s", flag, 6, "");
		wrap(buf, sizeof(buf), &o, text, 6, 6);
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "\n");
	}
	if (o < sizeof(buf))
		snprintf(buf + o, sizeof(buf) - o,
			 "\nA --target SPEC is key=value pairs: name, cgroup, port (selectors; both must "
			 "match),\nstall-grace, peer-gone, idle-timeout, close-wait-timeout, dry-run, "
			 "reap-unowned.\n");
	return buf;
}

int options_markdown_table(char *buf, size_t len)
{
	static struct sr_config scratch;
	struct value_spec specs[MAX_SPECS];
	size_t n = option_specs(&scratch, specs), o = 0;

	o += (size_t)snprintf(buf + o, len - o, "| option | default | meaning |\n| --- | --- | --- |\n");
	for (size_t i = 0; i < n && o < len; i++) {
		char flag[64];

		flag_text(&specs[i], flag, sizeof(flag));
		o += (size_t)snprintf(buf + o, len - o, "| `%s` | %s | %s |\n", flag, specs[i].dflt,
				      specs[i].help);
	}
	return o < len ? 0 : -ENOSPC;
}

void options_defaults(struct sr_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->mode = MODE_RUN;
	cfg->stall_grace_s = SR_DEFAULT_STALL_GRACE_S;
	cfg->interval_s = SR_DEFAULT_INTERVAL_S;
	cfg->log_format = LOG_LOGFMT;
	cfg->map_capacity = SR_DEFAULT_MAP_CAPACITY;
	snprintf(cfg->metrics_addr, sizeof(cfg->metrics_addr), "%s", SR_DEFAULT_METRICS_ADDR);
	snprintf(cfg->control_socket, sizeof(cfg->control_socket), "%s", SR_DEFAULT_CONTROL_SOCKET);
}

static void env_name(const char *opt, char *buf, size_t len)
{
	size_t k = (size_t)snprintf(buf, len, "SOCKREAP_");

	for (const char *c = opt; *c && k + 1 < len; c++)
		buf[k++] = *c == '-' ? '_' : (char)(*c >= 'a' && *c <= 'z' ? *c - 32 : *c);
	buf[k] = '\0';
}

static int bad(char *err, size_t errlen, const char *name, bool from_env, const char *val,
	       const char *fix)
{
	char where[96];

	if (from_env)
		env_name(name, where, sizeof(where));
	else
		snprintf(where, sizeof(where), "--%s", name);
	snprintf(err, errlen, "sockreap: invalid value '%s' for %s%s: %s", SHOWN(val),
		 from_env ? "environment " : "", where, fix);
	return -EINVAL;
}

static int apply(const struct value_spec *sp, const char *val, bool from_env, char *err,
		 size_t errlen)
{
	char fix[512];

	if (value_apply(sp, val, fix, sizeof(fix)))
		return bad(err, errlen, sp->name, from_env, val, fix);
	return 0;
}

static const char *env_lookup(char *const envp[], const char *name)
{
	size_t nl = strlen(name);

	for (size_t i = 0; envp && envp[i]; i++)
		if (!strncmp(envp[i], name, nl) && envp[i][nl] == '=')
			return envp[i] + nl + 1;
	return NULL;
}

/* A list comes as one variable, its items separated by sp->sep; empty items are skipped. */
static int apply_env(const struct value_spec *sp, const char *val, char *err, size_t errlen)
{
	const char sep[] = { sp->sep, '\0' };
	char item[SR_PATH_MAX];
	const char *p = val;

	if (!sp->count)
		return apply(sp, val, true, err, errlen);
	while (*p) {
		size_t l = strcspn(p, sep);

		if (l >= sizeof(item))
			return bad(err, errlen, sp->name, true, val, "an item is too long");
		memcpy(item, p, l);
		item[l] = '\0';
		if (l && apply(sp, item, true, err, errlen))
			return -EINVAL;
		p += l + (p[l] != '\0');
	}
	return 0;
}

static const struct value_spec *find_spec(const struct value_spec *specs, size_t n,
					  const char *name, size_t len)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(specs[i].name) == len && !strncmp(specs[i].name, name, len))
			return &specs[i];
	return NULL;
}

/* sockreap list [--json] [--control-socket PATH] */
static int parse_list(struct sr_config *cfg, const struct value_spec *control_socket, int argc,
		      char *const argv[], char *err, size_t errlen)
{
	cfg->mode = MODE_LIST;
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			cfg->list_json = true;
		} else if (!strcmp(argv[i], "--control-socket") && i + 1 < argc) {
			if (apply(control_socket, argv[++i], false, err, errlen))
				return -EINVAL;
		} else {
			snprintf(err, errlen,
				 "sockreap: unknown argument '%s' to list: use 'sockreap list [--json] "
				 "[--control-socket PATH]'",
				 SHOWN(argv[i]));
			return -EINVAL;
		}
	}
	return 0;
}

/* The flags, in order. seen[i]: specs[i] was given already on this command line. */
static int parse_args(struct sr_config *cfg, const struct value_spec *specs, size_t n, bool *seen,
		      int argc, char *const argv[], char *err, size_t errlen)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val, *eq;
		const struct value_spec *sp;
		size_t nl;

		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			cfg->mode = MODE_HELP;
			return 0;
		}
		if (!strcmp(a, "--version")) {
			cfg->mode = MODE_VERSION;
			return 0;
		}
		if (strncmp(a, "--", 2)) {
			snprintf(err, errlen, "sockreap: unexpected argument '%s': see 'sockreap --help'",
				 SHOWN(a));
			return -EINVAL;
		}
		eq = strchr(a + 2, '=');
		nl = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
		sp = find_spec(specs, n, a + 2, nl);
		if (!sp) {
			snprintf(err, errlen, "sockreap: unknown option '%s': see 'sockreap --help'", SHOWN(a));
			return -EINVAL;
		}
		if (eq) {
			val = eq + 1;
		} else if (sp->implied) {
			val = sp->implied;
		} else if (i + 1 < argc) {
			val = argv[++i];
		} else {
			snprintf(err, errlen, "sockreap: option '--%s' needs a value: see 'sockreap --help'",
				 sp->name);
			return -EINVAL;
		}
		/* A repeatable flag replaces its environment list, never extends it. */
		if (sp->count && !seen[sp - specs])
			*sp->count = 0;
		seen[sp - specs] = true;
		if (apply(sp, val, false, err, errlen))
			return -EINVAL;
	}
	return 0;
}

int options_parse(struct sr_config *cfg, int argc, char *const argv[], char *const envp[],
		  char *err, size_t errlen)
{
	/* Flag names; the variable is SOCKREAP_ + the name in upper case, '-' as '_'. */
	struct value_spec specs[MAX_SPECS];
	const size_t n = option_specs(cfg, specs);
	bool seen[MAX_SPECS] = { false };

	options_defaults(cfg);
	err[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		char name[64];
		const char *v;

		env_name(specs[i].name, name, sizeof(name));
		v = env_lookup(envp, name);
		if (v && apply_env(&specs[i], v, err, errlen))
			return -EINVAL;
	}
	if (argc > 1 && !strcmp(argv[1], "list"))
		return parse_list(cfg, find_spec(specs, n, "control-socket", strlen("control-socket")),
				  argc, argv, err, errlen);
	return parse_args(cfg, specs, n, seen, argc, argv, err, errlen);
}
