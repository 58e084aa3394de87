/* targets.c - from the configuration to the targets: each a selector for BPF
 * and the rules the policy applies to the sockets it selects. */
#include "targets.h"

#include <errno.h>
#include <stdio.h>

#include "cgroup.h"
#include "clock.h"

/* Add one target: its selector for BPF and its rules for the policy. */
static int add_target(struct targets *tg, const char *name, const struct policy_config *pol,
		      bool dry_run, bool reap_unowned, const char *const *cgroups, size_t n_cgroups,
		      const struct sr_port_range *ports, size_t n_ports, char *err, size_t errlen)
{
	size_t i = tg->n;
	struct target *r = &tg->t[i];

	snprintf(r->name, sizeof(r->name), "%s", name);
	r->pol = *pol;
	r->dry_run = dry_run;
	r->reap_unowned = reap_unowned;
	for (size_t c = 0; c < n_cgroups; c++)
		if (cgroup_resolve(cgroups[c], &tg->cgroup_ids[i][c], err, errlen))
			return -ENOENT;
	tg->sel[i] = (struct target_selector){ tg->cgroup_ids[i], n_cgroups, ports, n_ports };
	tg->n++;
	return 0;
}

/*
 * The --target list in order (first match wins), then the plain flags'
 * target: alone when there is no --target, last when it selects cgroups or
 * ports beside --target. A target's unset rules come from the plain flags;
 * their dry run covers every target.
 */
int targets_build(struct targets *tg, const struct sr_target *specs, size_t n_specs,
		  const struct target_defaults *plain, char *err, size_t errlen)
{
	const char *paths[SR_TARGET_CGROUPS];

	for (size_t i = 0; i < n_specs; i++) {
		const struct sr_target *t = &specs[i];
		struct policy_config pol = plain->pol;
		char name[32];

		if (t->has_stall_grace)
			pol.stall_grace_ns = (uint64_t)(t->stall_grace_s * NS_PER_S);
		if (t->has_peer_gone_timeout)
			pol.peer_gone_timeout_ns = (uint64_t)(t->peer_gone_timeout_s * NS_PER_S);
		if (t->has_idle_timeout)
			pol.idle_timeout_ns = (uint64_t)(t->idle_timeout_s * NS_PER_S);
		if (t->has_close_wait_timeout)
			pol.close_wait_timeout_ns = (uint64_t)(t->close_wait_timeout_s * NS_PER_S);
		snprintf(name, sizeof(name), "%s", t->name);
		if (!name[0])
			snprintf(name, sizeof(name), "target%zu", i + 1);
		for (size_t c = 0; c < t->n_cgroups; c++)
			paths[c] = t->cgroups[c];
		if (add_target(tg, name, &pol, plain->dry_run || (t->has_dry_run && t->dry_run),
			       t->has_reap_unowned ? t->reap_unowned : plain->reap_unowned, paths,
			       t->n_cgroups, t->ports, t->n_ports, err, errlen))
			return -ENOENT;
	}
	if (n_specs && !plain->n_cgroups && !plain->n_ports)
		return 0;
	return add_target(tg, "default", &plain->pol, plain->dry_run, plain->reap_unowned,
			  plain->cgroups, plain->n_cgroups, plain->ports, plain->n_ports, err, errlen);
}

const struct target *targets_of(const struct targets *tg, const struct sr_sock *e)
{
	/* The rule index comes from BPF: never trust it past the table. */
	return &tg->t[e->rule < tg->n ? e->rule : 0];
}

uint32_t targets_unowned_mask(const struct targets *tg)
{
	uint32_t m = 0;

	for (size_t i = 0; i < tg->n; i++)
		if (tg->t[i].reap_unowned)
			m |= 1u << i;
	return m;
}

bool targets_any_idle_timeout(const struct targets *tg)
{
	for (size_t i = 0; i < tg->n; i++)
		if (tg->t[i].pol.idle_timeout_ns)
			return true;
	return false;
}
