/* sr_match.h - which target a socket belongs to: one pure function, used by
 * the BPF programs at entry creation and by the unit tests. */
#ifndef SR_MATCH_H
#define SR_MATCH_H

/*
 * targets: bit i set for each defined target i; any_port / any_cgroup: the
 * targets that select every port / every cgroup; port_sel / cgroup_sel: the
 * targets that select this socket's local port / its cgroup or an ancestor
 * (port_sel may carry SR_PORT_EXCLUDED). Returns the lowest-numbered matching
 * target (first listed wins), or -1.
 */
static inline int sr_match_target(__u32 targets, __u32 any_port, __u32 port_sel, __u32 any_cgroup,
				  __u32 cgroup_sel)
{
	__u32 m = targets & (any_port | port_sel) & (any_cgroup | cgroup_sel);

	if (port_sel & SR_PORT_EXCLUDED)
		return -1;
	for (int i = 0; i < SR_MAX_TARGETS; i++)
		if (m & (1u << i))
			return i;
	return -1;
}

#endif
