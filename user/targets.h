/* targets.h - the targets: selector (for BPF) and rules (for the policy) each. */
#ifndef SR_TARGETS_H
#define SR_TARGETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "options.h"
#include "policy.h"
#include "tracker.h"

/* One target's rules; sr_sock.rule indexes targets.t. */
struct target {
	char name[32];
	struct policy_config pol;
	bool dry_run;
};

struct targets {
	size_t n;
	struct target t[SR_MAX_TARGETS];
	struct target_selector sel[SR_MAX_TARGETS]; /* what the tracker matches, same index */
	uint64_t cgroup_ids[SR_MAX_TARGETS][SR_MAX_CGROUPS];
};

/*
 * The --target list in order (first match wins), then the plain flags'
 * target "default": alone when there is no --target, last when --cgroup or
 * --port are given beside --target. A target's unset rules come from the
 * plain flags; --dry-run covers every target. 0, or -ENOENT with err set
 * (a cgroup that does not exist).
 */
int targets_build(struct targets *tg, const struct sr_config *cfg, char *err, size_t errlen);

/* The target whose rules apply to a tracked socket. */
const struct target *targets_of(const struct targets *tg, const struct sr_sock *e);

/* Does any target have rx_idle on (every established socket is then a candidate)? */
bool targets_any_idle_timeout(const struct targets *tg);

#endif
