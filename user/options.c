/* options.c - one table of options; one parser per kind of value. */
#include "options.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/types.h>

#include "control.h"
#include "sockreap.h"

enum opt_kind {
	K_SECONDS,	/* non-negative finite seconds, fractions allowed */
	K_FLAG,
	K_PORTS,	/* repeatable: N or LO-HI */
	K_CGROUP,	/* repeatable */
	K_ADDR,
	K_PATH,
	K_SOCKPATH,	/* a Unix socket path, or off */
	K_LOGFMT,
	K_SENDPATH,
	K_KILL,
	K_TARGET,	/* repeatable; ';'-separated in env */
	K_COUNT,
};

struct opt_spec {
	const char *name;	/* flag without "--"; env is SOCKREAP_ + upper, '-' -> '_' */
	enum opt_kind kind;
	size_t off;		/* offset of the field in struct sr_config */
	double min, max;	/* for numbers */
};

#define OFF(f) offsetof(struct sr_config, f)

static const struct opt_spec specs[] = {
	{ "stall-grace", K_SECONDS, OFF(stall_grace_s), 0.001, 86400.0 * 365 },
	{ "idle-timeout", K_SECONDS, OFF(idle_timeout_s), 0.0, 86400.0 * 365 },
	{ "close-wait-timeout", K_SECONDS, OFF(close_wait_timeout_s), 0.0, 86400.0 * 365 },
	{ "interval", K_SECONDS, OFF(interval_s), 0.01, 3600.0 },
	{ "all-netns", K_FLAG, OFF(all_netns), 0, 0 },
	{ "dry-run", K_FLAG, OFF(dry_run), 0, 0 },
	{ "verbose", K_FLAG, OFF(verbose), 0, 0 },
	{ "cgroup", K_CGROUP, 0, 0, 0 },
	{ "port", K_PORTS, OFF(n_ports), 0, 0 },
	{ "exclude-port", K_PORTS, OFF(n_exclude_ports), 0, 0 },
	{ "metrics-addr", K_ADDR, OFF(metrics_addr), 0, 0 },
	{ "metrics-file", K_PATH, OFF(metrics_file), 0, 0 },
	{ "control-socket", K_SOCKPATH, OFF(control_socket), 0, 0 },
	{ "log-format", K_LOGFMT, OFF(log_format), 0, 0 },
	{ "send-path", K_SENDPATH, OFF(send_path), 0, 0 },
	{ "kill-method", K_KILL, OFF(kill_method), 0, 0 },
	{ "target", K_TARGET, OFF(n_targets), 0, 0 },
	{ "map-capacity", K_COUNT, OFF(map_capacity), 64, 16 * 1024 * 1024 },
};

#define N_SPECS (sizeof(specs) / sizeof(specs[0]))

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
	"  --metrics-addr HOST:PORT Prometheus endpoint (default 127.0.0.1:9750); \"off\" disables\n"
	"  --metrics-file PATH      also write the exposition atomically each scan\n"
	"  --control-socket PATH    where `sockreap list` reaches the daemon\n"
	"                           (default /run/sockreap/control.sock); off disables\n"
	"  --log-format logfmt|json one line per event on stderr (default logfmt)\n"
	"  --send-path auto|tracepoint|sweep  how queued data is noticed: the tcp_sendmsg_locked\n"
	"                           tracepoint (Linux 6.16+), or a socket sweep every scan (default auto)\n"
	"  --kill-method auto|shutdown|destroy  shutdown() through the owner's fd, or\n"
	"                           bpf_sock_destroy() from the kernel side; auto: shutdown, destroy\n"
	"                           when no owner fd can be had (default auto)\n"
	"  --map-capacity N         sockets tracked at most (default 65536)\n"
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

static int parse_double(const char *s, double min, double max, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v) || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_ulong(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9') /* strtoul accepts "-1" and " 1" */
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_bool(const char *s, bool *out)
{
	static const char *yes[] = { "1", "true", "yes", "on" }, *no[] = { "0", "false", "no", "off", "" };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		if (!strcasecmp(s, yes[i]))
			return *out = true, 0;
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		if (!strcasecmp(s, no[i]))
			return *out = false, 0;
	return -EINVAL;
}

/*
 * Outside input echoed in a message: control bytes and non-ASCII as \xNN, cut
 * at 64 characters, so an error stays one readable line whatever was given.
 */
static const char *shown(const char *s, char *buf, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0, i;

	for (i = 0; s[i] && o + 5 < len && i < 64; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < ' ' || c >= 0x7f || c == '\\') {
			buf[o++] = '\\';
			buf[o++] = 'x';
			buf[o++] = hex[c >> 4];
			buf[o++] = hex[c & 15];
		} else {
			buf[o++] = (char)c;
		}
	}
	if (s[i] && o + 4 < len) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
	return buf;
}

#define SHOWN(s) shown((s), (char[300]){ 0 }, 300)

int options_parse_port_range(const char *s, struct sr_port_range *out)
{
	char lo[8];
	const char *dash = strchr(s, '-');
	unsigned long a, b;

	if (!dash)
		dash = s + strlen(s);
	if ((size_t)(dash - s) >= sizeof(lo))
		return -EINVAL;
	memcpy(lo, s, (size_t)(dash - s));
	lo[dash - s] = '\0';
	if (parse_ulong(lo, 1, 65535, &a))
		return -EINVAL;
	b = a;
	if (*dash && parse_ulong(dash + 1, 1, 65535, &b))
		return -EINVAL;
	if (b < a)
		return -EINVAL;
	out->lo = (uint16_t)a;
	out->hi = (uint16_t)b;
	return 0;
}

int options_parse_target(const char *spec, struct sr_target *t, char *err, size_t errlen)
{
	const char *p = spec;

	memset(t, 0, sizeof(*t));
	if (!*spec) {
		snprintf(err, errlen, "an empty target: give key=value pairs, e.g. port=8765,stall-grace=30");
		return -EINVAL;
	}
	while (*p) {
		char item[SR_TARGET_PATH + 32], *val;
		size_t l = strcspn(p, ",");
		int bad_val = 0;

		if (l >= sizeof(item)) {
			snprintf(err, errlen, "an item of the target is too long");
			return -EINVAL;
		}
		memcpy(item, p, l);
		item[l] = '\0';
		p += l + (p[l] == ',');
		val = strchr(item, '=');
		if (!val) {
			snprintf(err, errlen, "'%s' is not key=value", SHOWN(item));
			return -EINVAL;
		}
		*val++ = '\0';
		if (!strcmp(item, "name")) {
			bad_val = !*val || strlen(val) >= sizeof(t->name);
			if (!bad_val)
				snprintf(t->name, sizeof(t->name), "%s", val);
		} else if (!strcmp(item, "cgroup")) {
			bad_val = !*val || strlen(val) >= SR_TARGET_PATH || t->n_cgroups == SR_TARGET_CGROUPS;
			if (!bad_val)
				snprintf(t->cgroups[t->n_cgroups++], SR_TARGET_PATH, "%s", val);
		} else if (!strcmp(item, "port")) {
			bad_val = t->n_ports == SR_TARGET_PORTS ||
				  options_parse_port_range(val, &t->ports[t->n_ports]);
			if (!bad_val)
				t->n_ports++;
		} else if (!strcmp(item, "stall-grace")) {
			bad_val = parse_double(val, 0.001, 86400.0 * 365, &t->stall_grace_s) != 0;
			t->has_stall_grace = true;
		} else if (!strcmp(item, "idle-timeout")) {
			bad_val = parse_double(val, 0, 86400.0 * 365, &t->idle_timeout_s) != 0;
			t->has_idle_timeout = true;
		} else if (!strcmp(item, "close-wait-timeout")) {
			bad_val = parse_double(val, 0, 86400.0 * 365, &t->close_wait_timeout_s) != 0;
			t->has_close_wait_timeout = true;
		} else if (!strcmp(item, "dry-run")) {
			bad_val = parse_bool(val, &t->dry_run) != 0;
			t->has_dry_run = true;
		} else {
			snprintf(err, errlen,
				 "unknown key '%s': use name, cgroup, port, stall-grace, idle-timeout, "
				 "close-wait-timeout, dry-run",
				 SHOWN(item));
			return -EINVAL;
		}
		if (bad_val) {
			snprintf(err, errlen, "bad value '%s' for key '%s'", SHOWN(val), item);
			return -EINVAL;
		}
	}
	return 0;
}

int options_split_hostport(const char *s, char *host, size_t hostlen, uint16_t *port)
{
	const char *colon, *h = s;
	size_t hl;
	unsigned long p;

	if (*s == '[') {
		const char *rb = strchr(s, ']');

		if (!rb || rb[1] != ':')
			return -EINVAL;
		h = s + 1;
		hl = (size_t)(rb - h);
		colon = rb + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || memchr(s, ':', (size_t)(colon - s)))
			return -EINVAL; /* bare IPv6 needs brackets */
		hl = (size_t)(colon - s);
	}
	if (hl == 0 || hl >= hostlen || parse_ulong(colon + 1, 1, 65535, &p))
		return -EINVAL;
	memcpy(host, h, hl);
	host[hl] = '\0';
	*port = (uint16_t)p;
	return 0;
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

/* Apply one value. Repeatable kinds add one item (comma-separated in env). */
static int apply(struct sr_config *cfg, const struct opt_spec *sp, const char *val, bool from_env,
		 char *err, size_t errlen)
{
	char *base = (char *)cfg;
	unsigned long u;
	double d;

	switch (sp->kind) {
	case K_SECONDS:
		if (parse_double(val, sp->min, sp->max, &d)) {
			char fix[128];

			snprintf(fix, sizeof(fix), "give a number of seconds from %g to %.0f, e.g. 30 or 2.5",
				 sp->min, sp->max);
			return bad(err, errlen, sp->name, from_env, val, fix);
		}
		*(double *)(base + sp->off) = d;
		return 0;
	case K_FLAG:
		if (parse_bool(val, (bool *)(base + sp->off)))
			return bad(err, errlen, sp->name, from_env, val, "use 1/true/yes or 0/false/no");
		return 0;
	case K_COUNT:
		if (parse_ulong(val, (unsigned long)sp->min, (unsigned long)sp->max, &u)) {
			char fix[128];

			snprintf(fix, sizeof(fix), "give a whole number from %.0f to %.0f", sp->min, sp->max);
			return bad(err, errlen, sp->name, from_env, val, fix);
		}
		*(uint32_t *)(base + sp->off) = (uint32_t)u;
		return 0;
	case K_PORTS: {
		size_t *n = (size_t *)(base + sp->off);
		struct sr_port_range *arr = sp->off == OFF(n_ports) ? cfg->ports : cfg->exclude_ports;

		if (*n == SR_MAX_PORTS)
			return bad(err, errlen, sp->name, from_env, val, "at most 64 can be given");
		if (options_parse_port_range(val, &arr[*n]))
			return bad(err, errlen, sp->name, from_env, val,
				   "give a TCP port from 1 to 65535, or a range LO-HI");
		(*n)++;
		return 0;
	}
	case K_CGROUP:
		if (!*val || strlen(val) >= SR_PATH_MAX)
			return bad(err, errlen, sp->name, from_env, val, "give a cgroup v2 directory path");
		if (cfg->n_cgroups == SR_MAX_CGROUPS)
			return bad(err, errlen, sp->name, from_env, val, "at most 64 cgroups can be given");
		snprintf(cfg->cgroups[cfg->n_cgroups++], SR_PATH_MAX, "%s", val);
		return 0;
	case K_ADDR: {
		char host[256];
		uint16_t port;

		if (!strcmp(val, "off")) {
			cfg->metrics_addr[0] = '\0';
			return 0;
		}
		if (strlen(val) >= sizeof(cfg->metrics_addr) ||
		    options_split_hostport(val, host, sizeof(host), &port))
			return bad(err, errlen, sp->name, from_env, val,
				   "use HOST:PORT (e.g. 127.0.0.1:9750, [::1]:9750) or off");
		snprintf(cfg->metrics_addr, sizeof(cfg->metrics_addr), "%s", val);
		return 0;
	}
	case K_PATH:
		if (!*val || strlen(val) >= SR_PATH_MAX)
			return bad(err, errlen, sp->name, from_env, val, "give a file path");
		snprintf(base + sp->off, SR_PATH_MAX, "%s", val);
		return 0;
	case K_SOCKPATH:
		if (!strcmp(val, "off")) {
			cfg->control_socket[0] = '\0';
			return 0;
		}
		if (!*val || strlen(val) >= sizeof(cfg->control_socket))
			return bad(err, errlen, sp->name, from_env, val,
				   "give a Unix socket path of at most 107 bytes, or off");
		snprintf(cfg->control_socket, sizeof(cfg->control_socket), "%s", val);
		return 0;
	case K_LOGFMT:
		if (!strcmp(val, "logfmt"))
			cfg->log_format = LOG_LOGFMT;
		else if (!strcmp(val, "json"))
			cfg->log_format = LOG_JSON;
		else
			return bad(err, errlen, sp->name, from_env, val, "use logfmt or json");
		return 0;
	case K_SENDPATH:
		if (!strcmp(val, "auto"))
			cfg->send_path = SEND_PATH_AUTO;
		else if (!strcmp(val, "tracepoint"))
			cfg->send_path = SEND_PATH_TRACEPOINT;
		else if (!strcmp(val, "sweep"))
			cfg->send_path = SEND_PATH_SWEEP;
		else
			return bad(err, errlen, sp->name, from_env, val, "use auto, tracepoint or sweep");
		return 0;
	case K_TARGET: {
		char msg[512];

		if (cfg->n_targets == SR_MAX_TARGETS - 1)
			return bad(err, errlen, sp->name, from_env, val, "at most 15 targets can be given");
		if (options_parse_target(val, &cfg->targets[cfg->n_targets], msg, sizeof(msg)))
			return bad(err, errlen, sp->name, from_env, val, msg);
		cfg->n_targets++;
		return 0;
	}
	case K_KILL:
		if (!strcmp(val, "auto"))
			cfg->kill_method = KILL_AUTO;
		else if (!strcmp(val, "shutdown"))
			cfg->kill_method = KILL_SHUTDOWN;
		else if (!strcmp(val, "destroy"))
			cfg->kill_method = KILL_DESTROY;
		else
			return bad(err, errlen, sp->name, from_env, val, "use auto, shutdown or destroy");
		return 0;
	}
	return -EINVAL;
}

static const char *env_lookup(char *const envp[], const char *name)
{
	size_t nl = strlen(name);

	for (size_t i = 0; envp && envp[i]; i++)
		if (!strncmp(envp[i], name, nl) && envp[i][nl] == '=')
			return envp[i] + nl + 1;
	return NULL;
}

static int apply_env(struct sr_config *cfg, const struct opt_spec *sp, const char *val,
		     char *err, size_t errlen)
{
	char item[SR_PATH_MAX];
	const char *p = val;

	const char *sep = sp->kind == K_TARGET ? ";" : ",";

	if (sp->kind != K_PORTS && sp->kind != K_CGROUP && sp->kind != K_TARGET)
		return apply(cfg, sp, val, true, err, errlen);
	/* Repeatable: a list, ',' separated (';' for targets, which use ','). */
	while (*p) {
		size_t l = strcspn(p, sep);

		if (l >= sizeof(item))
			return bad(err, errlen, sp->name, true, val, "an item is too long");
		memcpy(item, p, l);
		item[l] = '\0';
		if (l && apply(cfg, sp, item, true, err, errlen))
			return -EINVAL;
		p += l + (p[l] != '\0');
	}
	return 0;
}

static const struct opt_spec *find_spec(const char *name, size_t len)
{
	for (size_t i = 0; i < N_SPECS; i++)
		if (strlen(specs[i].name) == len && !strncmp(specs[i].name, name, len))
			return &specs[i];
	return NULL;
}

int options_parse(struct sr_config *cfg, int argc, char *const argv[], char *const envp[],
		  char *err, size_t errlen)
{
	bool seen[N_SPECS] = { false };
	int i = 1;

	options_defaults(cfg);
	err[0] = '\0';
	for (size_t s = 0; s < N_SPECS; s++) {
		char name[64];
		const char *v;

		env_name(specs[s].name, name, sizeof(name));
		v = env_lookup(envp, name);
		if (v && apply_env(cfg, &specs[s], v, err, errlen))
			return -EINVAL;
	}

	if (argc > 1 && !strcmp(argv[1], "list")) {
		cfg->mode = MODE_LIST;
		for (i = 2; i < argc; i++) {
			if (!strcmp(argv[i], "--json")) {
				cfg->list_json = true;
			} else if (!strcmp(argv[i], "--control-socket") && i + 1 < argc) {
				if (apply(cfg, find_spec("control-socket", 14), argv[++i], false, err, errlen))
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

	for (; i < argc; i++) {
		const char *a = argv[i], *val = NULL, *eq;
		const struct opt_spec *sp;
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
		sp = find_spec(a + 2, nl);
		if (!sp) {
			snprintf(err, errlen, "sockreap: unknown option '%s': see 'sockreap --help'", SHOWN(a));
			return -EINVAL;
		}
		if (eq) {
			val = eq + 1;
		} else if (sp->kind == K_FLAG) {
			val = "1";
		} else if (i + 1 < argc) {
			val = argv[++i];
		} else {
			snprintf(err, errlen, "sockreap: option '--%s' needs a value: see 'sockreap --help'",
				 sp->name);
			return -EINVAL;
		}
		/* A repeatable flag replaces its environment list, never extends it. */
		if (!seen[sp - specs]) {
			seen[sp - specs] = true;
			if (sp->kind == K_PORTS)
				*(size_t *)((char *)cfg + sp->off) = 0;
			if (sp->kind == K_CGROUP)
				cfg->n_cgroups = 0;
			if (sp->kind == K_TARGET)
				cfg->n_targets = 0;
		}
		if (apply(cfg, sp, val, false, err, errlen))
			return -EINVAL;
	}
	return 0;
}
