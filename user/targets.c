/* targets.c - from the configuration to the targets: each a selector for BPF
 * and the rules the policy applies to the sockets it selects. */
#include "targets.h"

#include <errno.h>
#include <stdio.h>

#include "cgroup.h"
#include "clock.h"

/* Add one target: its selector for BPF and its rules for the policy. */
static int add_target(struct targets *tg, const char *name, const struct policy_config *pol,
		      bool dry_run, const char *const *cgroups, size_t n_cgroups,
		      const struct sr_port_range *ports, size_t n_ports, char *err, size_t errlen)
{
	size_t i = tg->n;
	struct target *r = &tg->t[i];

	snprintf(r->name, sizeof(r->name), "%s", name);
	r->pol = *pol;
	r->dry_run = dry_run;
	for (size_t c = 0; c < n_cgroups; c++)
		if (cgroup_resolve(cgroups[c], &tg->cgroup_ids[i][c], err, errlen))
			return -ENOENT;
	tg->sel[i] = (struct target_selector){ tg->cgroup_ids[i], n_cgroups, ports, n_ports };
	tg->n++;
	return 0;
}

/*
 * The --target list in order (first match wins), then the plain flags'
 * target: alone when there is no --target, last when --cgroup or --port
 * are given beside --target. A target's unset rules come from the plain flags;
 * --dry-run covers every target.
 */
int targets_build(struct targets *tg, const struct sr_config *cfg, char *err, size_t errlen)
{
	struct policy_config plain = {
		(uint64_t)(cfg->stall_grace_s * NS_PER_S),
		(uint64_t)(cfg->idle_timeout_s * NS_PER_S),
		(uint64_t)(cfg->close_wait_timeout_s * NS_PER_S),
	};
	const char *paths[SR_MAX_CGROUPS];

	for (size_t i = 0; i < cfg->n_targets; i++) {
		const struct sr_target *t = &cfg->targets[i];
		struct policy_config pol = plain;
		char name[32];

		if (t->has_stall_grace)
			pol.stall_grace_ns = (uint64_t)(t->stall_grace_s * NS_PER_S);
		if (t->has_idle_timeout)
			pol.idle_timeout_ns = (uint64_t)(t->idle_timeout_s * NS_PER_S);
		if (t->has_close_wait_timeout)
			pol.close_wait_timeout_ns = (uint64_t)(t->close_wait_timeout_s * NS_PER_S);
		snprintf(name, sizeof(name), "%s", t->name);
		if (!name[0])
			snprintf(name, sizeof(name), "target%zu", i + 1);
		for (size_t c = 0; c < t->n_cgroups; c++)
			paths[c] = t->cgroups[c];
		if (add_target(tg, name, &pol, cfg->dry_run || (t->has_dry_run && t->dry_run), paths,
			       t->n_cgroups, t->ports, t->n_ports, err, errlen))
			return -ENOENT;
	}
	if (cfg->n_targets && !cfg->n_cgroups && !cfg->n_ports)
		return 0;
	for (size_t c = 0; c < cfg->n_cgroups; c++)
		paths[c] = cfg->cgroups[c];
	return add_target(tg, "default", &plain, cfg->dry_run, paths, cfg->n_cgroups, cfg->ports,
			  cfg->n_ports, err, errlen);
}

const struct target *targets_of(const struct targets *tg, const struct sr_sock *e)
{
	/* The rule index comes from BPF: never trust it past the table. */
	return &tg->t[e->rule < tg->n ? e->rule : 0];
}

bool targets_any_idle_timeout(const struct targets *tg)
{
	for (size_t i = 0; i < tg->n; i++)
		if (tg->t[i].pol.idle_timeout_ns)
			return true;
	return false;
}
