/* tracker_walk.c - the walks over a namespace's sockets (iter/tcp): the
 * start-up discovery of sockets older than the programs, the refresh of the
 * receive side no event shows, the backstop walk in steps, and the storage
 * path's full read. They run in the namespace they are about, entered with
 * setns; losing the way back is remembered (tracker_lost_netns). */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "netns.h"
#include "tracker_internal.h"

/* A walk's result, noting a namespace the daemon could not return from. */
static int noted(struct tracker *t, int ret)
{
	if (ret == -ENOTRECOVERABLE)
		t->lost_netns = true;
	return ret;
}

bool tracker_lost_netns(const struct tracker *t)
{
	return t->lost_netns;
}

/* Walk the current namespace's sockets with an iterator program. */
int tracker_run_iter(struct bpf_link *link)
{
	char buf[16384];
	int fd = bpf_iter_create(bpf_link__fd(link));
	ssize_t r;
	int n = 0;

	if (fd < 0)
		return -errno;
	/* Reading drives the walk to its end; sr_walk writes one byte per
	 * socket (the destroy walk nothing). */
	while ((r = read(fd, buf, sizeof(buf))) > 0)
		n += (int)r;
	close(fd);
	return r < 0 ? -errno : n;
}

static int discover_here(void *ctx)
{
	return tracker_discover(ctx);
}

int tracker_refresh_netns(struct tracker *t, uint32_t netns_ino)
{
	return noted(t, netns_run_in(netns_ino, discover_here, t));
}

int tracker_discover_all(struct tracker *t)
{
	return noted(t, netns_for_each(discover_here, t));
}

int tracker_discover(struct tracker *t)
{
	int n = tracker_run_iter(t->walk_link);

	if (n > 0)
		t->iter_visited += (uint64_t)n;
	return n;
}

uint64_t tracker_sockets_walked(const struct tracker *t)
{
	return t->iter_visited;
}

/*
 * The backstop walk, in steps. An iter fd walks the namespace it was
 * created in, wherever it is read from, and each read resumes where the last
 * one stopped; sr_walk writes a byte per socket, so a read of n bytes
 * visits about n sockets. The fds of one walk are opened together (a tour
 * of the namespaces with --all-netns) and read over as many steps as it
 * takes.
 */
static int walk_open_here(void *ctx)
{
	struct tracker *t = ctx;
	int fd = bpf_iter_create(bpf_link__fd(t->walk_link));
	int *fds;

	if (fd < 0)
		return -errno;
	fds = realloc(t->walk_fds, (t->n_walk + 1) * sizeof(*fds));
	if (!fds) {
		close(fd);
		return -ENOMEM;
	}
	t->walk_fds = fds;
	t->walk_fds[t->n_walk++] = fd;
	return 0;
}

void tracker_walk_close(struct tracker *t)
{
	for (size_t i = t->walk_cur; i < t->n_walk; i++)
		close(t->walk_fds[i]);
	free(t->walk_fds);
	t->walk_fds = NULL;
	t->n_walk = t->walk_cur = 0;
}

bool tracker_backstop_walking(const struct tracker *t)
{
	return t->n_walk > 0;
}

int tracker_backstop_step(struct tracker *t, bool all_netns, uint64_t budget, uint64_t *visited_out,
			  uint64_t *walked)
{
	char buf[16384];
	uint64_t visited = 0;
	int ret = 0;

	*walked = *visited_out = 0;
	if (!t->n_walk) {
		t->walk_visited = 0;
		ret = noted(t, all_netns ? netns_for_each(walk_open_here, t) : walk_open_here(t));
		if (ret < 0 || !t->n_walk) {
			tracker_walk_close(t);
			return ret < 0 ? ret : -ENOENT;
		}
	}
	t->skel->bss->walk_queued_only = true;
	while (visited < budget && t->walk_cur < t->n_walk) {
		size_t want = budget - visited < sizeof(buf) ? (size_t)(budget - visited) : sizeof(buf);
		ssize_t r = read(t->walk_fds[t->walk_cur], buf, want);

		if (r < 0) {
			ret = -errno;
			break;
		}
		if (r == 0)
			close(t->walk_fds[t->walk_cur++]);
		visited += (uint64_t)r;
	}
	t->skel->bss->walk_queued_only = false;
	t->walk_visited += visited;
	t->iter_visited += visited;
	*visited_out = visited;
	if (ret < 0) {
		tracker_walk_close(t);
		return ret;
	}
	if (t->walk_cur == t->n_walk) {
		*walked = t->walk_visited;
		tracker_walk_close(t);
		return 1;
	}
	return 0;
}

struct dump_ctx {
	struct tracker *t;
	struct tracker_snapshot *s;
	size_t have; /* bytes of records read so far */
};

/*
 * Walk this namespace's sockets with sr_dump and collect the records it
 * writes. A read may end in the middle of a record: the buffer is one array,
 * and the next read completes it.
 */
static int dump_here(void *arg)
{
	struct dump_ctx *d = arg;
	int fd = bpf_iter_create(bpf_link__fd(d->t->dump_link)), ret = 0;

	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t r;

		if (tracker_snapshot_grow(d->s, d->have / sizeof(struct sr_sock) + 256)) {
			ret = -ENOMEM;
			break;
		}
		r = read(fd, (char *)d->s->socks + d->have, d->s->cap * sizeof(struct sr_sock) - d->have);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			ret = -errno;
			break;
		}
		if (r == 0)
			break;
		d->have += (size_t)r;
	}
	close(fd);
	return ret;
}

/* sr_dump in every watched namespace: every record (all), or the worthwhile. */
int tracker_dump(struct tracker *t, bool all, struct tracker_snapshot *s)
{
	struct dump_ctx d = { t, s, 0 };
	int ret;

	t->skel->bss->dump_all = all;
	ret = noted(t, t->all_netns ? netns_for_each(dump_here, &d) : dump_here(&d));
	s->n = d.have / sizeof(struct sr_sock);
	for (size_t i = 0; i < s->n; i++)
		s->keys[i] = s->socks[i].key;
	return ret < 0 ? ret : 0;
}
