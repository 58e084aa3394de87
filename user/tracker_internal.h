/* tracker_internal.h - the tracker's state, shared by its loader (tracker.c)
 * and its reader (tracker_read.c); nothing else includes it. */
#ifndef SR_TRACKER_INTERNAL_H
#define SR_TRACKER_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "destroy.skel.h"
#include "sockreap.skel.h"
#include "tracker.h"

struct tracker {
	struct sockreap_bpf *skel;
	struct destroy_bpf *destroy; /* NULL without bpf_sock_destroy() */
	struct bpf_link *sweep_link;	/* the skeletons' own links to the iter/ programs */
	struct bpf_link *destroy_link;
	enum tracker_send_path send_path; /* how sends are seen: never AUTO once open */
	bool has_destroy;
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
};

/* Walk the current namespace's sockets with an iterator program: the bytes it
 * wrote (sr_sweep: one per socket), or -errno. */
int tracker_run_iter(struct bpf_link *link);

/* Load and attach the destroy walk (tracker_destroy.c); on failure run without it. */
void tracker_open_destroy(struct tracker *t);

#endif
