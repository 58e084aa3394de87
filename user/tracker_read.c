/* tracker_read.c - the tracked sockets seen from the daemon: snapshots (the
 * candidates, or all), fresh records of a few, the counters and the census.
 *
 * Two stores, one interface. The hash map is read in batches, its
 * candidates' keys from sr_hot. Socket-local storage cannot be looked up by
 * key: its candidates' records come as copies from sr_cand, made exact by a
 * sweep before the daemon acts, and a full read walks the sockets (sr_dump). */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "tracker_internal.h"

#define BATCH 4096


/* ---- the hash path ------------------------------------------------------- */

/*
 * Read a whole hash map in batches: keys into s->keys, values into s->socks
 * (the socket map) or s->hot_vals (the candidate set). The number read goes
 * to s->n.
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
			if (tracker_snapshot_grow(s, s->n + want))
				return -ENOMEM;
			count = want;
			ret = bpf_map_lookup_batch(fd, first ? NULL : &token, &token, s->keys + s->n,
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

/* ---- the interface -------------------------------------------------------- */

int tracker_read(struct tracker *t, struct tracker_snapshot *snap)
{
	if (t->store == TRACKER_STORE_STORAGE)
		return tracker_dump(t, true, snap);
	return read_all(snap, bpf_map__fd(t->skel->maps.sr_socks), false);
}

int tracker_read_worthwhile(struct tracker *t, struct tracker_snapshot *snap)
{
	if (t->store == TRACKER_STORE_STORAGE)
		return tracker_dump(t, false, snap);
	return tracker_read(t, snap);
}

int tracker_read_candidates(struct tracker *t, struct tracker_snapshot *snap)
{
	int hfd, sfd, ret;
	size_t kept = 0;

	/* The storage path's candidate set holds copies of the records themselves. */
	if (t->store == TRACKER_STORE_STORAGE)
		return read_all(snap, bpf_map__fd(t->skel->maps.sr_cand), false);
	hfd = bpf_map__fd(t->skel->maps.sr_hot);
	sfd = bpf_map__fd(t->skel->maps.sr_socks);
	ret = read_all(snap, hfd, true);
	if (ret)
		return ret;
	/* Then each candidate's entry. One whose entry is gone was closed
	 * between the two reads (BPF deletes both on TCP_CLOSE): drop it. */
	for (size_t i = 0; i < snap->n; i++) {
		if (bpf_map_lookup_elem(sfd, &snap->keys[i], &snap->socks[kept])) {
			if (errno != ENOENT)
				return -errno;
			bpf_map_delete_elem(hfd, &snap->keys[i]);
			continue;
		}
		snap->keys[kept++] = snap->keys[i];
	}
	snap->n = kept;
	return 0;
}

static int cmp_sock_key(const void *a, const void *b)
{
	uint64_t x = ((const struct sr_sock *)a)->key, y = ((const struct sr_sock *)b)->key;

	return x < y ? -1 : x > y;
}

/*
 * The storage path's records of those keys the candidate copies did not
 * give: sockets that are no candidates (judged silent for rx_idle, say),
 * found by one walk of the watched namespaces. A key the walk does not find
 * is of a socket gone.
 */
static int lookup_by_walk(struct tracker *t, const uint64_t *keys, size_t n, struct sr_sock *out,
			  bool *found)
{
	struct tracker_snapshot w = { 0 };
	int ret = tracker_dump(t, true, &w);

	if (!ret && w.n)
		qsort(w.socks, w.n, sizeof(*w.socks), cmp_sock_key);
	for (size_t i = 0; !ret && i < n; i++) {
		struct sr_sock probe = { .key = keys[i] };
		const struct sr_sock *e;

		if (found[i] || !w.n)
			continue;
		e = bsearch(&probe, w.socks, w.n, sizeof(*w.socks), cmp_sock_key);
		if (e) {
			out[i] = *e;
			found[i] = true;
		}
	}
	tracker_snapshot_free(&w);
	return ret;
}

int tracker_lookup_many(struct tracker *t, const uint64_t *keys, size_t n, struct sr_sock *out,
			bool *found)
{
	bool storage = t->store == TRACKER_STORE_STORAGE, missing = false;
	int fd = bpf_map__fd(storage ? t->skel->maps.sr_cand : t->skel->maps.sr_socks);

	for (size_t i = 0; i < n; i++) {
		found[i] = bpf_map_lookup_elem(fd, &keys[i], &out[i]) == 0;
		if (!found[i] && errno != ENOENT)
			return -errno;
		missing |= !found[i];
	}
	return storage && missing ? lookup_by_walk(t, keys, n, out, found) : 0;
}

void tracker_forget(struct tracker *t, uint64_t key)
{
	if (t->store == TRACKER_STORE_STORAGE)
		bpf_map_delete_elem(bpf_map__fd(t->skel->maps.sr_cand), &key);
}

void tracker_resync(struct tracker *t, uint64_t key, const struct sr_sock *rec)
{
	/* BPF_EXIST: a copy BPF dropped meanwhile (the socket left the
	 * candidates) stays dropped. */
	if (t->store == TRACKER_STORE_STORAGE)
		bpf_map_update_elem(bpf_map__fd(t->skel->maps.sr_cand), &key, rec, BPF_EXIST);
}

int tracker_lookup_fd(struct tracker *t, int sock_fd, struct sr_sock *out)
{
	if (t->store != TRACKER_STORE_STORAGE)
		return -EOPNOTSUPP;
	if (bpf_map_lookup_elem(bpf_map__fd(t->skel->maps.sr_store), &sock_fd, out))
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

bool tracker_candidates_overflowed(struct tracker *t)
{
	__u32 idx = SR_CNT_HOT_FULL;
	uint64_t sum = 0;

	if (bpf_map_lookup_elem(bpf_map__fd(t->skel->maps.sr_counters), &idx, t->percpu))
		return false;
	for (int c = 0; c < t->ncpus; c++)
		sum += t->percpu[c];
	return sum > 0;
}

/* Count every tracked record (the storage path's full read). 0 or -errno. */
static int census_read(struct tracker *t, struct tracker_census *c)
{
	struct tracker_snapshot snap = { 0 };
	int ret = tracker_read(t, &snap);

	if (ret)
		return ret;
	memset(c, 0, sizeof(*c));
	c->tracked = snap.n;
	for (size_t i = 0; i < snap.n; i++) {
		c->kernel += !!(snap.socks[i].flags & SR_F_KERNEL);
		if (snap.socks[i].state < SR_TCP_NSTATES)
			c->states[snap.socks[i].state]++;
	}
	tracker_snapshot_free(&snap);
	return 0;
}

void tracker_census(struct tracker *t, const uint64_t counters[SR_CNT_MAX], uint64_t skipped_runs,
		    uint64_t room_ns, struct tracker_census *c)
{
	struct tracker_census ctr, read, after, carried;
	uint64_t now = now_ns(), again[SR_CNT_MAX], cost;
	bool lost;

	census_of_counters(counters, &ctr);
	if (t->store != TRACKER_STORE_STORAGE) {
		*c = ctr; /* the hash store: an entry lives until its delete */
		return;
	}
	lost = skipped_runs != t->census_watch.misses;
	if (census_due(&t->census_watch, counters, skipped_runs, now, room_ns) &&
	    !census_read(t, &read)) {
		cost = now_ns() - now;
		pr_debug("census read: %llu sockets in %.1f ms", (unsigned long long)read.tracked,
			 (double)cost / 1e6);
		/* A read that events moved under is inexact (a socket created or
		 * closed during it may count twice or not at all). */
		tracker_counters(t, again);
		census_of_counters(again, &after);
		if (census_read_done(&t->census_watch, census_counters_still(counters, again),
				     skipped_runs, now, cost)) {
			census_carry(&t->census_read, &after, &t->census_ctr, &carried);
			/* With no run skipped since the last read, a difference
			 * is a drift no new lost event explains: say so, it is
			 * corrected now. A close skipped earlier leaves its record
			 * until the socket is freed, which can be after that read:
			 * the line gives the runs skipped so far for that. */
			if (!lost && t->census_at_ns && carried.tracked != read.tracked)
				pr_info("census: %llu sockets tracked, the counters said %llu with no run skipped since the last count: corrected (runs skipped so far: %llu, record deletes refused so far: %llu)",
					(unsigned long long)read.tracked, (unsigned long long)carried.tracked,
					(unsigned long long)skipped_runs,
					(unsigned long long)again[SR_CNT_DEL_REFUSED]);
			t->census_read = read;
			t->census_ctr = after;
			t->census_at_ns = now;
		}
	}
	/* Until a read is kept both are zero: the counters as they are. */
	census_carry(&t->census_read, &ctr, &t->census_ctr, c);
}

int tracker_refresh(struct tracker *t, uint64_t key, uint32_t netns_ino, int sock_fd,
		    struct sr_sock *out)
{
	int ret = tracker_refresh_netns(t, netns_ino);
	bool found = false;

	if (ret < 0)
		return ret;
	if (sock_fd >= 0 && t->store == TRACKER_STORE_STORAGE)
		return tracker_lookup_fd(t, sock_fd, out);
	ret = tracker_lookup_many(t, &key, 1, out, &found);
	return ret ? ret : found ? 0 : -ENOENT;
}
