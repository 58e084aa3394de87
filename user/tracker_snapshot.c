/* tracker_snapshot.c - the buffers a read of the tracked sockets fills,
 * grown as needed and reused read after read. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tracker_internal.h"

int tracker_snapshot_grow(struct tracker_snapshot *s, size_t want)
{
	uint64_t *k;
	struct sr_sock *v;
	uint8_t *h;
	size_t cap = s->cap ? s->cap : 256;

	if (want <= s->cap)
		return 0;
	while (cap < want)
		cap *= 2;
	h = realloc(s->hot_vals, cap);
	if (!h)
		return -ENOMEM;
	s->hot_vals = h;
	k = realloc(s->keys, cap * sizeof(*k));
	if (!k)
		return -ENOMEM;
	s->keys = k;
	v = realloc(s->socks, cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	s->socks = v;
	/* The kernel fills these; zero them once so tools that cannot see a
	 * bpf() batch write (valgrind) do not take them for uninitialised. */
	memset(k + s->cap, 0, (cap - s->cap) * sizeof(*k));
	memset(v + s->cap, 0, (cap - s->cap) * sizeof(*v));
	s->cap = cap;
	return 0;
}

void tracker_snapshot_free(struct tracker_snapshot *snap)
{
	free(snap->keys);
	free(snap->socks);
	free(snap->hot_vals);
	memset(snap, 0, sizeof(*snap));
}
