/* target_spec.h - one --target: a selector (cgroups and/or local ports) and
 * the rules it overrides, parsed from "key=value,key=value". */
#ifndef SR_TARGET_SPEC_H
#define SR_TARGET_SPEC_H

#include <stdbool.h>
#include <stddef.h>

#include "ports.h"

#define SR_MAX_PORTS 64	/* --port, --exclude-port: ranges each */
#define SR_MAX_CGROUPS 64	/* --cgroup: directories */
#define SR_TARGET_CGROUPS 4
#define SR_TARGET_PORTS 8
#define SR_TARGET_PATH 512

/*
 * Limits of the rules, for a target's keys and the plain flags of the same
 * name alike: stall-grace, idle-timeout, close-wait-timeout.
 */
#define SR_STALL_GRACE_MIN_S 0.001
#define SR_TIMEOUT_MIN_S 0.0		/* idle and close-wait timeouts: 0 = off */
#define SR_RULE_MAX_S (86400.0 * 365)	/* a year */

struct sr_target {
	char name[32];
	size_t n_cgroups;
	char cgroups[SR_TARGET_CGROUPS][SR_TARGET_PATH];
	size_t n_ports;
	struct sr_port_range ports[SR_TARGET_PORTS];
	bool has_stall_grace, has_peer_gone_timeout, has_idle_timeout, has_close_wait_timeout,
		has_dry_run, has_reap_unowned;
	double stall_grace_s;
	double peer_gone_timeout_s;
	double idle_timeout_s;
	double close_wait_timeout_s;
	bool dry_run;
	bool reap_unowned;
};

/*
 * Parse a --target spec: comma-separated key=value with keys name, cgroup,
 * port (N or LO-HI; cgroup and port may repeat), stall-grace, peer-gone,
 * idle-timeout, close-wait-timeout, dry-run, reap-unowned. Strict: unknown keys and bad values are
 * errors naming the key. 0, or -EINVAL with a one-line message in err.
 */
int options_parse_target(const char *spec, struct sr_target *t, char *err, size_t errlen);

#endif
