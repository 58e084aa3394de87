/* netns.c - setns() tour of the machine's network namespaces.
 *
 * An iter/tcp walk covers only the namespace of the thread that creates it,
 * so the --all-netns start-up sweep enters each namespace in turn. Only the
 * calling thread moves; the metrics thread stays where it was.
 */
#include "netns.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

struct seen {
	ino_t *inos;
	size_t n, cap;
};

static int seen_add(struct seen *s, ino_t ino)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->inos[i] == ino)
			return 0;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		ino_t *p = realloc(s->inos, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		s->inos = p;
		s->cap = cap;
	}
	s->inos[s->n++] = ino;
	return 1;
}

/* Enter the namespace at path (if not seen yet), run fn, come back. */
static int visit(const char *path, struct seen *s, int home, int (*fn)(void *), void *ctx,
		 int *visited)
{
	struct stat st;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0; /* the process exited meanwhile */
	if (fstat(fd, &st) || seen_add(s, st.st_ino) != 1) {
		close(fd);
		return 0;
	}
	if (setns(fd, CLONE_NEWNET)) {
		pr_warn("cannot enter network namespace %s: %s", path, strerror(errno));
		close(fd);
		return 0;
	}
	close(fd);
	ret = fn(ctx);
	if (ret)
		pr_warn("sweep of network namespace %s failed: %s", path, strerror(-ret));
	(*visited)++;
	if (setns(home, CLONE_NEWNET))
		return -errno;
	return 0;
}

int netns_for_each(int (*fn)(void *ctx), void *ctx)
{
	struct seen s = { 0 };
	struct dirent *d;
	char path[300];
	int home, visited = 0, ret = 0;
	DIR *dir;

	home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (home < 0)
		return -errno;
	/* Our own first, so it is visited even if everything else fails. */
	ret = visit("/proc/thread-self/ns/net", &s, home, fn, ctx, &visited);
	dir = opendir("/run/netns");
	while (!ret && dir && (d = readdir(dir))) {
		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/run/netns/%s", d->d_name);
		ret = visit(path, &s, home, fn, ctx, &visited);
	}
	if (dir)
		closedir(dir);
	dir = opendir("/proc");
	while (!ret && dir && (d = readdir(dir))) {
		if (d->d_name[0] < '1' || d->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/ns/net", d->d_name);
		ret = visit(path, &s, home, fn, ctx, &visited);
	}
	if (dir)
		closedir(dir);
	close(home);
	free(s.inos);
	return ret ? ret : visited;
}

struct find_ctx {
	unsigned int want;
	int (*fn)(void *);
	void *ctx;
	int ret;
	int found;
};

static int run_if_wanted(void *p)
{
	struct find_ctx *f = p;
	struct stat st;

	if (f->found || stat("/proc/thread-self/ns/net", &st) || st.st_ino != f->want)
		return 0;
	f->found = 1;
	f->ret = f->fn(f->ctx);
	return 0;
}

int netns_run_in(unsigned int ino, int (*fn)(void *ctx), void *ctx)
{
	struct find_ctx f = { ino, fn, ctx, 0, 0 };
	struct stat st;
	int ret;

	if (stat("/proc/thread-self/ns/net", &st) == 0 && st.st_ino == ino)
		return fn(ctx);
	ret = netns_for_each(run_if_wanted, &f);
	if (ret < 0)
		return ret;
	return f.found ? f.ret : -ENOENT;
}
