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
_Static_assert(sizeof(enum sr_send_path) == sizeof(int), "enum sr_send_path is not int-sized");
_Static_assert(sizeof(enum sr_kill_method) == sizeof(int), "enum sr_kill_method is not int-sized");

static const struct value_name log_formats[] = {
	{ "logfmt", LOG_LOGFMT },
	{ "json", LOG_JSON },
	{ NULL, 0 },
};

static const struct value_name send_paths[] = {
	{ "auto", SEND_PATH_AUTO },
	{ "tracepoint", SEND_PATH_TRACEPOINT },
	{ "fentry", SEND_PATH_FENTRY },
	{ "sweep", SEND_PATH_SWEEP },
	{ NULL, 0 },
};

static const struct value_name kill_methods[] = {
	{ "auto", KILL_AUTO },
	{ "shutdown", KILL_SHUTDOWN },
	{ "destroy", KILL_DESTROY },
	{ NULL, 0 },
};

#define STR_(x) #x
#define STR(x) STR_(x)

static const char usage[] =
	"Usage: sockreap [options]        watch TCP sockets and reap stalled ones (foreground)\n"
	"       sockreap list [--json]    show the sockets a running daemon tracks\n"
	"       sockreap --help | --version\n"
	"\n"
	"Options (each also as env SOCKREAP_<OPTION>, e.g. SOCKREAP_STALL_GRACE=30; the flag wins):\n"
	"  --stall-grace SECONDS    send queue > 0 with no ACK progress this long = stalled (default 30)\n"
	"  --idle-timeout SECONDS   reap sockets that received nothing this long; 0 = off (default)\n"
	"  --close-wait-timeout SECONDS  leak cleanup: reap a socket held in CLOSE_WAIT this long\n"
	"                           although its owner read the peer's close; 0 = off (default)\n"
	"  --interval SECONDS       scan period (default 1)\n"
	"  --all-netns              every network namespace (default: only the daemon's own)\n"
	"  --cgroup PATH            only sockets of this cgroup v2 directory and its descendants; repeatable\n"
	"  --port N|LO-HI           only sockets with this local port; repeatable\n"
	"  --exclude-port N|LO-HI   never sockets with this local port; repeatable\n"
	"  --target SPEC            a target with its own rules, e.g.\n"
	"                           'name=ws,cgroup=/kubepods/podX,port=8765,stall-grace=30,idle-timeout=90';\n"
	"                           keys: name cgroup port stall-grace idle-timeout close-wait-timeout\n"
	"                           dry-run; repeatable,\n"
	"                           first match wins; the plain flags give the defaults\n"
	"  --dry-run                detect, log and count, but never reap\n"
	"  --metrics-addr HOST:PORT Prometheus endpoint (default " SR_DEFAULT_METRICS_ADDR "); \"off\" disables\n"
	"  --metrics-file PATH      also write the exposition atomically each scan\n"
	"  --control-socket PATH    where `sockreap list` reaches the daemon\n"
	"                           (default " SR_DEFAULT_CONTROL_SOCKET "); off disables\n"
	"  --log-format logfmt|json one line per event on stderr (default logfmt)\n"
	"  --send-path auto|tracepoint|fentry|sweep  how queued data is noticed: the\n"
	"                           tcp_sendmsg_locked tracepoint (Linux 6.16+), an fentry program on\n"
	"                           it (where the kernel allows: no lockdown), or none (sweep: ACKs,\n"
	"                           retransmissions, a socket sweep every 10 s); auto takes the first\n"
	"                           that loads (default auto)\n"
	"  --kill-method auto|shutdown|destroy  shutdown() through the owner's fd, or\n"
	"                           bpf_sock_destroy() from the kernel side; auto: shutdown, destroy\n"
	"                           when no owner fd can be had (default auto)\n"
	"  --map-capacity N         sockets tracked at most (default " STR(SR_DEFAULT_MAP_CAPACITY) ")\n"
	"  --verbose                debug messages, libbpf's included\n";

const char *options_usage(void)
{
	return usage;
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

/* --target's value is a spec of its own. */
static int parse_target(const struct value_spec *sp, const char *val, void *dst, char *fix,
			size_t fixlen)
{
	(void)sp;
	return options_parse_target(val, dst, fix, fixlen);
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
	const struct value_spec specs[] = {
		{ "stall-grace", value_seconds, VALUE_DST(cfg->stall_grace_s),
		  .lim.secs = { SR_STALL_GRACE_MIN_S, SR_RULE_MAX_S } },
		{ "idle-timeout", value_seconds, VALUE_DST(cfg->idle_timeout_s),
		  .lim.secs = { SR_TIMEOUT_MIN_S, SR_RULE_MAX_S } },
		{ "close-wait-timeout", value_seconds, VALUE_DST(cfg->close_wait_timeout_s),
		  .lim.secs = { SR_TIMEOUT_MIN_S, SR_RULE_MAX_S } },
		{ "interval", value_seconds, VALUE_DST(cfg->interval_s),
		  .lim.secs = { SR_INTERVAL_MIN_S, SR_INTERVAL_MAX_S } },
		{ "all-netns", value_flag, VALUE_DST(cfg->all_netns), .implied = "1" },
		{ "dry-run", value_flag, VALUE_DST(cfg->dry_run), .implied = "1" },
		{ "verbose", value_flag, VALUE_DST(cfg->verbose), .implied = "1" },
		{ "cgroup", value_string, VALUE_LIST(cfg->n_cgroups, cfg->cgroups), .sep = ',',
		  .lim.str.what = "a cgroup v2 directory path" },
		{ "port", value_port_range, VALUE_LIST(cfg->n_ports, cfg->ports), .sep = ',' },
		{ "exclude-port", value_port_range, VALUE_LIST(cfg->n_exclude_ports, cfg->exclude_ports),
		  .sep = ',' },
		{ "metrics-addr", value_addr, VALUE_DST(cfg->metrics_addr), .lim.str.off_ok = true },
		{ "metrics-file", value_string, VALUE_DST(cfg->metrics_file),
		  .lim.str.what = "a file path" },
		{ "control-socket", value_string, VALUE_DST(cfg->control_socket),
		  .lim.str = { "a Unix socket path", true } },
		{ "log-format", value_enum, VALUE_DST(cfg->log_format), .lim.names = log_formats },
		{ "send-path", value_enum, VALUE_DST(cfg->send_path), .lim.names = send_paths },
		{ "kill-method", value_enum, VALUE_DST(cfg->kill_method), .lim.names = kill_methods },
		/* ';' between targets: a target's own items are ','-separated. */
		{ "target", parse_target, VALUE_LIST(cfg->n_targets, cfg->targets), .sep = ';' },
		{ "map-capacity", value_count, VALUE_DST(cfg->map_capacity),
		  .lim.count = { SR_MAP_CAPACITY_MIN, SR_MAP_CAPACITY_MAX } },
	};
	const size_t n = ARRAY_SIZE(specs);
	bool seen[ARRAY_SIZE(specs)] = { false };

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
