/* cgroup.c - find the cgroup2 mount (never hard-coded) and cgroup ids. */
#include "cgroup.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

int cgroup_mount_from_text(const char *mounts, char *out, size_t outlen)
{
	const char *line = mounts;

	while (line && *line) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		char dev[256], dir[PATH_MAX], type[64];
		char buf[PATH_MAX + 512];

		if (len < sizeof(buf)) {
			memcpy(buf, line, len);
			buf[len] = '\0';
			/* /proc/mounts escapes spaces as \040; cgroup mounts have none. */
			if (sscanf(buf, "%255s %4095s %63s", dev, dir, type) == 3 &&
			    !strcmp(type, "cgroup2") && strlen(dir) < outlen) {
				strcpy(out, dir);
				return 0;
			}
		}
		line = nl ? nl + 1 : NULL;
	}
	return -ENOENT;
}

int cgroup_mount(char *mnt, size_t len)
{
	char *text = NULL;
	size_t cap = 0;
	FILE *f = fopen("/proc/self/mounts", "re");
	ssize_t n;
	int ret;

	if (!f)
		return -errno;
	n = getdelim(&text, &cap, '\0', f);
	fclose(f);
	if (n < 0) {
		free(text);
		return -EIO;
	}
	ret = cgroup_mount_from_text(text, mnt, len);
	free(text);
	return ret;
}

static int try_path(const char *p, uint64_t *id)
{
	struct statfs sf;
	struct stat st;

	if (statfs(p, &sf) || stat(p, &st))
		return -errno;
	if ((unsigned long)sf.f_type != CGROUP2_SUPER_MAGIC || !S_ISDIR(st.st_mode))
		return -ENOTDIR;
	*id = (uint64_t)st.st_ino; /* on cgroup2 the inode number is the cgroup id */
	return 0;
}

int cgroup_resolve(const char *path, uint64_t *id, char *err, size_t errlen)
{
	char mnt[PATH_MAX], joined[PATH_MAX * 2];
	int ret = cgroup_mount(mnt, sizeof(mnt));

	if (ret) {
		snprintf(err, errlen,
			 "sockreap: no cgroup v2 filesystem is mounted (see /proc/self/mounts): "
			 "mount cgroup2 or drop --cgroup");
		return ret;
	}
	if (path[0] == '/' && !strncmp(path, mnt, strlen(mnt)) && try_path(path, id) == 0)
		return 0;
	snprintf(joined, sizeof(joined), "%s/%s", mnt, path[0] == '/' ? path + 1 : path);
	if (try_path(joined, id) == 0)
		return 0;
	snprintf(err, errlen,
		 "sockreap: --cgroup '%s' is not a cgroup v2 directory (cgroup2 is mounted at %s): "
		 "give a path under it, absolute or relative",
		 path, mnt);
	return -ENOENT;
}
