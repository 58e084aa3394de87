/* tracker_internal.h - the tracker's state, shared by its loader (tracker.c)
 * and its reader (tracker_read.c); nothing else includes it. */
#ifndef SR_TRACKER_INTERNAL_H
#define SR_TRACKER_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <linux/types.h>

/* The skeletons' data sections use the shared types: declare them first. */
#include "sockreap.h"
#include "sr_recheck.h"
#include "destroy.skel.h"
#include "sockreap.skel.h"
#include "tracker.h"

struct tracker {
	struct sockreap_bpf *skel;
	struct destroy_bpf *destroy; /* NULL without bpf_sock_destroy() */
	struct bpf_link *walk_link;	/* the skeletons' own links to the iter/ programs */
	struct bpf_link *destroy_link;
	enum tracker_send_path send_path; /* how sends are seen: never AUTO once open */
	enum tracker_store store;	/* where state lives: never AUTO once open */
	uint32_t capacity;		/* the hash store's size, 0 on the storage path */
	struct bpf_link *dump_link;	/* sr_dump: the storage path's full read (iter/tcp) */
	bool all_netns;			/* watching every network namespace */
	bool lost_netns;		/* a walk could not return to the daemon's namespace */
	bool has_destroy;
	bool has_sendpage;	/* the kernel sends sendfile/splice through do_tcp_sendpages (< 6.5) */
	bool hooks_sendpage;	/* ... and an fentry program watches it */
	bool cookie_keys;	/* map keys are socket cookies, else salted addresses */
	__u64 key_salt;
	int ncpus;
	uint64_t *percpu; /* ncpus values for one counter */
	/* The backstop walk under way (tracker_backstop_step): one iter fd per
	 * network namespace, walk_fds[walk_cur] the one being read. */
	int *walk_fds;
	size_t n_walk, walk_cur;
	uint64_t walk_visited;	 /* sockets the walk under way has visited */
	uint64_t iter_visited;	 /* sockets every walk so far has visited */
	/* The storage path's census (tracker_census): counted by a full read,
	 * then moved by the counters; read again when census_due says. */
	struct tracker_census census_read;  /* what the last kept read counted */
	struct tracker_census census_ctr;   /* ... and the counters said then */
	struct census_watch census_watch;
	uint64_t census_at_ns;		    /* the last kept read (0: none yet) */
};

/* tracker_walk.c: walk the current namespace's sockets with an iterator
 * program: the bytes it wrote (sr_walk: one per socket), or -errno. */
int tracker_run_iter(struct bpf_link *link);
/* tracker_walk.c: end a backstop walk under way. */
void tracker_walk_close(struct tracker *t);
/* tracker_walk.c: the storage path's full read: every record (all), or those
 * worth a scan's look, in every watched namespace. */
int tracker_dump(struct tracker *t, bool all, struct tracker_snapshot *s);

/* tracker_snapshot.c: room for want records in s. 0 or -ENOMEM. */
int tracker_snapshot_grow(struct tracker_snapshot *s, size_t want);

/* tracker_destroy.c: load and attach the destroy walk; on failure run without it. */
void tracker_open_destroy(struct tracker *t);

#endif
