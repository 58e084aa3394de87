/* cgroup_path.h - the cgroup v2 path of a process or of a cgroup id, for podid_parse(). */
#ifndef SR_CGROUP_PATH_H
#define SR_CGROUP_PATH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * The cgroup v2 path of PID, as /proc/PID/cgroup gives it (relative to the
 * cgroup2 mount, or to the reader's cgroup namespace). 0, or negative errno:
 * -ENOENT if the process is gone or the host has no cgroup v2 hierarchy,
 * -ENAMETOOLONG if it does not fit in LEN.
 */
int cgroup_path_of_pid(pid_t pid, char *path, size_t len);

/*
 * The path, relative to CGROUP2_MOUNT ("/" for the root), of the cgroup whose
 * id is CGROUP_ID (bpf_get_current_cgroup_id(), cgroup->kn->id). Needs
 * CAP_DAC_READ_SEARCH. 0, or negative errno: -ESTALE if that cgroup is gone,
 * -EPERM without the capability, -EOPNOTSUPP on a kernel that cannot look a
 * cgroup up by id, -EINVAL if CGROUP2_MOUNT is not a cgroup2 mount, -EXDEV
 * if the cgroup lies outside the subtree CGROUP2_MOUNT shows (a bind mount),
 * -ENAMETOOLONG if the path does not fit in LEN.
 */
int cgroup_path_of_id(const char *cgroup2_mount, uint64_t cgroup_id, char *path, size_t len);

#endif
