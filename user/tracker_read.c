/* tracker_read.c - the map seen from the daemon: snapshots in batches, one
 * socket, the per-CPU counters. */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tracker_internal.h"

#define BATCH 4096

static int grow(struct tracker_snapshot *s, size_t want)
{
	uint64_t *k;
	struct sr_sock *v;
	uint8_t *h;

	if (want <= s->cap)
		return 0;
	h = realloc(s->hot_vals, want);
	if (!h)
		return -ENOMEM;
	s->hot_vals = h;
	k = realloc(s->cookies, want * sizeof(*k));
	if (!k)
		return -ENOMEM;
	s->cookies = k;
	v = realloc(s->socks, want * sizeof(*v));
	if (!v)
		return -ENOMEM;
	s->socks = v;
	/* The kernel fills these; zero them once so tools that cannot see a
	 * bpf() batch write (valgrind) do not take them for uninitialised. */
	memset(k + s->cap, 0, (want - s->cap) * sizeof(*k));
	memset(v + s->cap, 0, (want - s->cap) * sizeof(*v));
	s->cap = want;
	return 0;
}

void tracker_snapshot_free(struct tracker_snapshot *snap)
{
	free(snap->cookies);
	free(snap->socks);
	free(snap->hot_vals);
	memset(snap, 0, sizeof(*snap));
}

/*
 * Read a whole hash map in batches: keys into s->cookies, values into
 * s->socks (the socket map) or s->hot_vals (the candidate set). The number
 * read goes to s->n.
 */
static int read_all(struct tracker_snapshot *s, int fd, bool hot)
{
	uint64_t token = 0;
	bool first = true;

	s->n = 0;
	for (;;) {
		__u32 want = BATCH, count;
		int ret;

		for (;;) {
			if (grow(s, s->n + want))
				return -ENOMEM;
			count = want;
			ret = bpf_map_lookup_batch(fd, first ? NULL : &token, &token, s->cookies + s->n,
						   hot ? (void *)(s->hot_vals + s->n) : (void *)(s->socks + s->n),
						   &count, NULL);
			/* ENOSPC with nothing read: one hash bucket holds more than
			 * `want` entries. Retry with more room. */
			if (!ret || errno != ENOSPC || count || want >= 64 * BATCH)
				break;
			want *= 4;
		}
		s->n += count;
		first = false;
		if (ret)
			return errno == ENOENT ? 0 : -errno;
	}
}

int tracker_read(struct tracker *t, struct tracker_snapshot *snap)
{
	return read_all(snap, bpf_map__fd(t->skel->maps.sr_socks), false);
}

int tracker_read_hot(struct tracker *t, struct tracker_snapshot *snap)
{
	int hfd = bpf_map__fd(t->skel->maps.sr_hot), sfd = bpf_map__fd(t->skel->maps.sr_socks);
	size_t kept = 0;
	int ret = read_all(snap, hfd, true);

	if (ret)
		return ret;
	/* Then each candidate's entry. One whose entry is gone was closed
	 * between the two reads (BPF deletes both on TCP_CLOSE): drop it. */
	for (size_t i = 0; i < snap->n; i++) {
		if (bpf_map_lookup_elem(sfd, &snap->cookies[i], &snap->socks[kept])) {
			if (errno != ENOENT)
				return -errno;
			bpf_map_delete_elem(hfd, &snap->cookies[i]);
			continue;
		}
		snap->cookies[kept++] = snap->cookies[i];
	}
	snap->n = kept;
	return 0;
}

int tracker_lookup(struct tracker *t, uint64_t cookie, struct sr_sock *out)
{
	if (bpf_map_lookup_elem(bpf_map__fd(t->skel->maps.sr_socks), &cookie, out))
		return -errno;
	return 0;
}

void tracker_counters(struct tracker *t, uint64_t out[SR_CNT_MAX])
{
	int fd = bpf_map__fd(t->skel->maps.sr_counters);

	for (__u32 i = 0; i < SR_CNT_MAX; i++) {
		out[i] = 0;
		if (bpf_map_lookup_elem(fd, &i, t->percpu))
			continue;
		for (int c = 0; c < t->ncpus; c++)
			out[i] += t->percpu[c];
	}
}

