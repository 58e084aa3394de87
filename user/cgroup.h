/* cgroup.h - resolve --cgroup paths to cgroup v2 ids. */
#ifndef SR_CGROUP_H
#define SR_CGROUP_H

#include <stddef.h>
#include <stdint.h>

/* From the text of /proc/self/mounts, the first cgroup2 mount point. 0 or -ENOENT. Pure. */
int cgroup_mount_from_text(const char *mounts, char *out, size_t outlen);

/* This process's cgroup2 mount point, from /proc/self/mounts. 0 or negative errno. */
int cgroup_mount(char *mnt, size_t len);

/*
 * Resolve PATH (absolute, or relative to the cgroup2 mount; "/kubepods/x" is
 * tried under the mount too) to its cgroup id (the directory's inode).
 * 0, or negative errno with a message in err.
 */
int cgroup_resolve(const char *path, uint64_t *id, char *err, size_t errlen);

#endif
