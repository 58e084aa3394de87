/* identity.c - a socket's pod, container or unit from its cgroup, cached. */
#include "identity.h"

#include <limits.h>
#include <string.h>

#include "cgroup.h"
#include "cgroup_path.h"

void identity_init(struct identity_cache *c)
{
	memset(c, 0, sizeof(*c));
	if (cgroup_mount(c->mount, sizeof(c->mount)))
		c->mount[0] = '\0';
}

/* The identity of one cgroup, by id, else of the process. */
static void look_up(const struct identity_cache *c, uint64_t cgroup_id, pid_t pid,
		    struct pod_identity *out)
{
	char path[PATH_MAX];

	memset(out, 0, sizeof(*out));
	if (cgroup_id && c->mount[0] && !cgroup_path_of_id(c->mount, cgroup_id, path, sizeof(path)) &&
	    !podid_parse(path, out) && out->kind != PODID_NONE)
		return;
	memset(out, 0, sizeof(*out));
	if (pid > 0 && !cgroup_path_of_pid(pid, path, sizeof(path)))
		podid_parse(path, out);
}

void identity_of(struct identity_cache *c, uint64_t cgroup_id, pid_t pid, struct pod_identity *out)
{
	size_t i = (size_t)(cgroup_id * 0x9E3779B97F4A7C15ull >> 55) % IDENTITY_SLOTS;

	/* A socket's cgroup is the one it was created in, for good: its
	 * identity is kept, keyed by it. */
	if (cgroup_id && c->slot[i].cgroup_id == cgroup_id) {
		*out = c->slot[i].who;
		return;
	}
	look_up(c, cgroup_id, pid, out);
	if (cgroup_id && out->kind != PODID_NONE) {
		c->slot[i].cgroup_id = cgroup_id;
		c->slot[i].who = *out;
	}
}
