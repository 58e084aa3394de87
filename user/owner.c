/* owner.c - /proc walk from a socket inode to (pid, fd). */
#include "owner.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "format.h"

int owner_fd_is(pid_t pid, int fd, uint64_t ino)
{
	char path[64], link[64];
	uint64_t got;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return 0;
	link[n] = '\0';
	return format_parse_socket_link(link, &got) == 0 && got == ino;
}

/* Search one process's fd table. 0 found, -ENOENT not there. */
static int search_pid(pid_t pid, uint64_t ino, struct owner_ref *out)
{
	char path[64];
	struct dirent *d;
	DIR *dir;
	int ret = -ENOENT;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	dir = opendir(path);
	if (!dir)
		return -ENOENT;
	while ((d = readdir(dir))) {
		char *end;
		long fd = strtol(d->d_name, &end, 10);

		if (*end || end == d->d_name || fd < 0)
			continue;
		if (owner_fd_is(pid, (int)fd, ino)) {
			out->pid = pid;
			out->fd = (int)fd;
			ret = 0;
			break;
		}
	}
	closedir(dir);
	return ret;
}

int owner_find(uint64_t ino, pid_t hint_pid, struct owner_ref *out)
{
	struct dirent *d;
	pid_t self = getpid();
	DIR *proc;
	int ret = -ENOENT;

	if (!ino)
		return -ENOENT;
	if (hint_pid > 0 && search_pid(hint_pid, ino, out) == 0)
		return 0;
	proc = opendir("/proc");
	if (!proc)
		return -errno;
	while ((d = readdir(proc))) {
		char *end;
		long pid = strtol(d->d_name, &end, 10);

		if (*end || end == d->d_name || pid <= 0 || pid == self || pid == hint_pid)
			continue;
		if (search_pid((pid_t)pid, ino, out) == 0) {
			ret = 0;
			break;
		}
	}
	closedir(proc);
	return ret;
}
