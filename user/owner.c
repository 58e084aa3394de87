/* owner.c - /proc walk from a socket inode to (pid, fd); one-pass index for many. */
#include "owner.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* A directory entry's name as a non-negative number, or -1. */
static long name_number(const char *name)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(name, &end, 10);
	return (*end || end == name || errno || v < 0) ? -1 : v;
}

/*
 * Call fn(ctx, pid, fd, ino) for each socket in pid's fd table; stop when fn
 * returns non-zero and return that. 0 when the table ends (or cannot be read).
 */
static int each_socket(pid_t pid, int (*fn)(void *ctx, pid_t pid, int fd, uint64_t ino), void *ctx)
{
	char path[64], link[64];
	struct dirent *d;
	int dfd, ret = 0;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	dir = opendir(path);
	if (!dir)
		return 0;
	dfd = dirfd(dir);
	while (!ret && (d = readdir(dir))) {
		long fd = name_number(d->d_name);
		uint64_t ino;
		ssize_t n;

		if (fd < 0)
			continue;
		n = readlinkat(dfd, d->d_name, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		if (format_parse_socket_link(link, &ino) == 0)
			ret = fn(ctx, pid, (int)fd, ino);
	}
	closedir(dir);
	return ret;
}

struct search {
	uint64_t ino;
	struct owner_ref *out;
};

static int match_one(void *ctx, pid_t pid, int fd, uint64_t ino)
{
	struct search *s = ctx;

	if (ino != s->ino)
		return 0;
	*s->out = (struct owner_ref){ pid, fd };
	return 1;
}

/* Search one process's fd table. 0 found, -ENOENT not there. */
static int search_pid(pid_t pid, uint64_t ino, struct owner_ref *out)
{
	struct search s = { ino, out };

	return each_socket(pid, match_one, &s) ? 0 : -ENOENT;
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
		long pid = name_number(d->d_name);

		if (pid <= 0 || pid == self || pid == hint_pid)
			continue;
		if (search_pid((pid_t)pid, ino, out) == 0) {
			ret = 0;
			break;
		}
	}
	closedir(proc);
	return ret;
}

static int index_one(void *ctx, pid_t pid, int fd, uint64_t ino)
{
	struct owner_index *ix = ctx;

	if (ix->n == ix->cap) {
		size_t cap = ix->cap ? ix->cap * 2 : 1024;
		struct owner_slot *s = realloc(ix->slots, cap * sizeof(*s));

		if (!s)
			return -ENOMEM;
		ix->slots = s;
		ix->cap = cap;
	}
	ix->slots[ix->n++] = (struct owner_slot){ ino, pid, fd };
	return 0;
}

int owner_index_add_pid(struct owner_index *ix, pid_t pid)
{
	if (pid <= 0 || ix->all)
		return 0;
	return each_socket(pid, index_one, ix);
}

int owner_index_add_all(struct owner_index *ix)
{
	struct dirent *d;
	pid_t self = getpid();
	DIR *proc;
	int ret = 0;

	if (ix->all)
		return 0;
	proc = opendir("/proc");
	if (!proc)
		return -errno;
	ix->n = 0; /* start over: every process, each once */
	while (!ret && (d = readdir(proc))) {
		long pid = name_number(d->d_name);

		if (pid > 0 && pid != self)
			ret = each_socket((pid_t)pid, index_one, ix);
	}
	closedir(proc);
	ix->all = ret == 0;
	return ret;
}

static int cmp_slot(const void *a, const void *b)
{
	const struct owner_slot *x = a, *y = b;

	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

void owner_index_sort(struct owner_index *ix)
{
	if (ix->n)
		qsort(ix->slots, ix->n, sizeof(*ix->slots), cmp_slot);
}

const struct owner_slot *owner_index_find(const struct owner_index *ix, uint64_t ino)
{
	struct owner_slot key = { ino, 0, 0 };
	size_t lo = 0, hi = ix->n;

	/* The first slot with this inode (a shared socket has several). */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (cmp_slot(&ix->slots[mid], &key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < ix->n && ix->slots[lo].ino == ino ? &ix->slots[lo] : NULL;
}

void owner_index_clear(struct owner_index *ix)
{
	ix->n = 0;
	ix->all = false;
}

void owner_index_free(struct owner_index *ix)
{
	free(ix->slots);
	memset(ix, 0, sizeof(*ix));
}
