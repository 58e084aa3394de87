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

#ifdef SR_TEST_HOOKS
#include <time.h>
/* Test builds only: SOCKREAP_TEST_FAIL_NETNS_HOME=S makes the way home fail
 * from S seconds after the first namespace tour on. */
static int test_fail_home(void)
{
	const char *after = getenv("SOCKREAP_TEST_FAIL_NETNS_HOME");
	static struct timespec t0;
	struct timespec now;

	if (!after)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (!t0.tv_sec)
		t0 = now;
	if ((double)(now.tv_sec - t0.tv_sec) + (double)(now.tv_nsec - t0.tv_nsec) / 1e9 < atof(after))
		return 0;
	errno = EPERM;
	return 1;
}
#else
#define test_fail_home() 0
#endif

/* Where a tour stands: namespaces seen, the way home, and what to run. */
struct tour {
	struct seen seen;
	int home;
	unsigned int want; /* only this namespace inode; 0 = every one */
	int (*fn)(void *ctx);
	void *ctx;
	int visited;
	int fn_ret;	/* with want: fn's result */
};

/*
 * Enter the namespace at path (if not seen yet, and the one wanted), run fn,
 * come back. 0 to go on, 1 when the wanted namespace is done, negative errno
 * if the thread could not get back home.
 */
static int visit(const char *path, struct tour *t)
{
	struct stat st;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0; /* the process exited meanwhile */
	/* The inode is known before entering: skip what is not wanted. */
	if (fstat(fd, &st) || (t->want && st.st_ino != t->want) || seen_add(&t->seen, st.st_ino) != 1) {
		close(fd);
		return 0;
	}
	if (setns(fd, CLONE_NEWNET)) {
		pr_warn("cannot enter network namespace %s: %s", path, strerror(errno));
		close(fd);
		return 0;
	}
	close(fd);
	ret = t->fn(t->ctx);
	if (ret < 0 && !t->want)
		pr_warn("sweep of network namespace %s failed: %s", path, strerror(-ret));
	t->fn_ret = ret;
	t->visited++;
	if (setns(t->home, CLONE_NEWNET) || test_fail_home()) {
		pr_warn("cannot return to the daemon's own network namespace: %s", strerror(errno));
		return -ENOTRECOVERABLE;
	}
	return t->want ? 1 : 0;
}

static int tour(struct tour *t)
{
	struct dirent *d;
	char path[300];
	int ret = 0;
	DIR *dir;

	t->home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (t->home < 0)
		return -errno;
	/* Our own first, so it is visited even if everything else fails. */
	ret = visit("/proc/thread-self/ns/net", t);
	dir = opendir("/run/netns");
	while (!ret && dir && (d = readdir(dir))) {
		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/run/netns/%s", d->d_name);
		ret = visit(path, t);
	}
	if (dir)
		closedir(dir);
	dir = opendir("/proc");
	while (!ret && dir && (d = readdir(dir))) {
		if (d->d_name[0] < '1' || d->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/ns/net", d->d_name);
		ret = visit(path, t);
	}
	if (dir)
		closedir(dir);
	close(t->home);
	free(t->seen.inos);
	return ret < 0 ? ret : 0;
}

int netns_for_each(int (*fn)(void *ctx), void *ctx)
{
	struct tour t = { .fn = fn, .ctx = ctx };
	int ret = tour(&t);

	return ret ? ret : t.visited;
}

int netns_run_in(unsigned int ino, int (*fn)(void *ctx), void *ctx)
{
	struct tour t = { .want = ino, .fn = fn, .ctx = ctx };
	struct stat st;
	int ret;

	if (stat("/proc/thread-self/ns/net", &st) == 0 && st.st_ino == ino)
		return fn(ctx);
	ret = tour(&t);
	if (ret < 0)
		return ret;
	return t.visited ? t.fn_ret : -ENOENT;
}
