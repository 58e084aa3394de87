/* targets.h - the targets: selector (for BPF) and rules (for the policy) each. */
#ifndef SR_TARGETS_H
#define SR_TARGETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy.h"
#include "target_spec.h"
#include "tracker.h"

/* One target's rules; sr_sock.rule indexes targets.t. */
struct target {
	char name[32];
	struct policy_config pol;
	bool dry_run;
	bool reap_unowned; /* act on sockets no process owns (destroy) */
};

struct targets {
	size_t n;
	struct target t[SR_MAX_TARGETS];
	struct target_selector sel[SR_MAX_TARGETS]; /* what the tracker matches, same index */
	uint64_t cgroup_ids[SR_MAX_TARGETS][SR_MAX_CGROUPS];
};

/* The plain flags: the rules every target starts from, and the selector of
 * the target they form themselves ("default"). */
struct target_defaults {
	struct policy_config pol;
	bool dry_run;		/* covers every target */
	bool reap_unowned;
	const char *const *cgroups;
	size_t n_cgroups;
	const struct sr_port_range *ports;
	size_t n_ports;
};

/*
 * The --target list in order (first match wins), then the plain flags'
 * target "default": alone when there are no specs, last when the defaults
 * select cgroups or ports. A target's unset rules come from the defaults.
 * 0, or -ENOENT with err set (a cgroup that does not exist).
 */
int targets_build(struct targets *tg, const struct sr_target *specs, size_t n_specs,
		  const struct target_defaults *plain, char *err, size_t errlen);

/* The target whose rules apply to a tracked socket. */
const struct target *targets_of(const struct targets *tg, const struct sr_sock *e);

/* The targets that act on unowned sockets, as a bitmask by index (for BPF). */
uint32_t targets_unowned_mask(const struct targets *tg);

/* Does any target have rx_idle on (every established socket is then a candidate)? */
bool targets_any_idle_timeout(const struct targets *tg);

#endif
