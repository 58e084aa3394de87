/*
 * cgroup_path.c - the cgroup v2 path of a process (/proc/PID/cgroup) or of a
 * cgroup id (a kernfs file handle), the input podid_parse() reads.
 */
#include "cgroup_path.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "podid.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif
/* include/linux/exportfs.h, not in the uapi headers: a handle holding a kernfs node id. */
#define FILEID_KERNFS 0xfe

int cgroup_path_of_pid(pid_t pid, char *path, size_t len)
{
	char file[32], *text = NULL;
	size_t cap = 0;
	ssize_t n;
	FILE *f;
	int ret;

	if (pid <= 0 || !path)
		return -EINVAL;
	snprintf(file, sizeof(file), "/proc/%d/cgroup", (int)pid);
	f = fopen(file, "re");
	if (!f)
		return -errno;
	n = getdelim(&text, &cap, '\0', f);
	if (n >= 0)
		ret = podid_cgroup_from_proc(text, path, len);
	else /* a process that exited after the open reads as ESRCH */
		ret = ferror(f) && errno ? -errno : -ENOENT;
	free(text);
	fclose(f);
	return ret;
}

/* An fd's path as this process sees it; -ESTALE once what it names is removed. */
static int fd_path(int fd, char *buf, size_t size)
{
	static const char deleted[] = " (deleted)";
	char link[32];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, buf, size);
	if (n < 0)
		return -errno;
	if ((size_t)n >= size)
		return -ENAMETOOLONG;
	buf[n] = '\0';
	if ((size_t)n >= sizeof(deleted) - 1 && !strcmp(buf + n - (sizeof(deleted) - 1), deleted))
		return -ESTALE;
	return 0;
}

/* CGROUP without the MOUNT prefix both links gave; "/" for the mount itself. */
static int strip_mount(const char *mount, const char *cgroup, char *path, size_t len)
{
	size_t m = strcmp(mount, "/") ? strlen(mount) : 0;
	const char *rest = cgroup + m;

	/* Only a cgroup outside the subtree a bind mount shows fails this. */
	if (strncmp(cgroup, mount, m) || (*rest && *rest != '/'))
		return -EXDEV;
	if (!*rest)
		rest = "/";
	if (strlen(rest) >= len)
		return -ENAMETOOLONG;
	strcpy(path, rest);
	return 0;
}

int cgroup_path_of_id(const char *cgroup2_mount, uint64_t cgroup_id, char *path, size_t len)
{
	union {
		struct file_handle fh;
		char bytes[sizeof(struct file_handle) + sizeof(uint64_t)];
	} handle = { .fh = { .handle_bytes = sizeof(uint64_t), .handle_type = FILEID_KERNFS } };
	char mount_abs[PATH_MAX], cgroup_abs[PATH_MAX];
	struct statfs fs;
	int mount_fd, fd = -1, ret;

	if (!cgroup2_mount || !path)
		return -EINVAL;
	mount_fd = open(cgroup2_mount, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (mount_fd < 0)
		return -errno;
	/* A v1 hierarchy is kernfs too: the same id would name an unrelated cgroup there. */
	if (fstatfs(mount_fd, &fs) || (unsigned long)fs.f_type != CGROUP2_SUPER_MAGIC) {
		ret = -EINVAL;
		goto cleanup;
	}
	memcpy(handle.fh.f_handle, &cgroup_id, sizeof(cgroup_id));
	/* O_PATH: only a name is wanted, nothing is read from the cgroup. */
	fd = open_by_handle_at(mount_fd, &handle.fh, O_PATH | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		goto cleanup;
	}
	ret = fd_path(mount_fd, mount_abs, sizeof(mount_abs));
	if (!ret)
		ret = fd_path(fd, cgroup_abs, sizeof(cgroup_abs));
	if (!ret)
		ret = strip_mount(mount_abs, cgroup_abs, path, len);
cleanup:
	if (fd >= 0)
		close(fd);
	close(mount_fd);
	return ret;
}
