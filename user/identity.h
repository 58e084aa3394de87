/* identity.h - who a socket belongs to: a Kubernetes pod and container, or a
 * systemd unit on a plain host, read from its cgroup without any API server.
 * Looked up once per cgroup and kept (a cgroup's path never changes). */
#ifndef SR_IDENTITY_H
#define SR_IDENTITY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "podid.h"

#define IDENTITY_SLOTS 512

struct identity_cache {
	char mount[256];	/* the cgroup2 mount; "" if none was found */
	struct {
		uint64_t cgroup_id; /* 0: empty */
		struct pod_identity who;
	} slot[IDENTITY_SLOTS];
};

/* Find the cgroup2 mount (without one, identities come from /proc only). */
void identity_init(struct identity_cache *c);

/*
 * Who owns a socket created in cgroup cgroup_id (BPF's record of it): the
 * cgroup's path looked up by id on the cgroup2 mount (it works from a
 * container, whose own /proc/PID/cgroup shows only "/"); else, if pid > 0,
 * the path /proc/pid/cgroup gives. kind PODID_NONE when neither tells.
 */
void identity_of(struct identity_cache *c, uint64_t cgroup_id, pid_t pid, struct pod_identity *out);

#endif
