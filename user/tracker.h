/* tracker.h - the BPF side seen from the daemon: load, attach, sweep, read. */
#ifndef SR_TRACKER_H
#define SR_TRACKER_H

#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sockreap.h"

struct tracker;

struct sr_port_range;

/* A target's selector: no cgroups = any cgroup, no ports = any port. */
struct tracker_target {
	const uint64_t *cgroup_ids; /* descendants included */
	size_t n_cgroups;
	const struct sr_port_range *ports;
	size_t n_ports;
};

struct tracker_opts {
	uint32_t netns_ino;	/* 0 = every network namespace */
	const struct tracker_target *targets; /* first match wins; at most SR_MAX_TARGETS */
	size_t n_targets;
	const struct sr_port_range *exclude_ports;
	size_t n_exclude_ports;
	uint32_t map_capacity;
	bool verbose;
	bool no_send_tp;
	uint64_t pidns_dev, pidns_ino; /* the daemon's pid namespace, 0 if the initial one */	/* do not attach tcp_sendmsg_locked even if present */
};

/* One read of the whole map. Arrays are owned by the tracker, valid until the next read. */
struct tracker_snapshot {
	size_t n;
	const uint64_t *cookies;
	const struct sr_sock *socks;
};

/* Returns 0 or negative errno; on failure *err names the problem and the fix. */
int tracker_open(struct tracker **out, const struct tracker_opts *opts, char *err, size_t errlen);
/* Walk the current netns's TCP sockets through iter/tcp, recording them. */
int tracker_sweep(struct tracker *t);
/* The same in one network namespace, by inode. */
int tracker_sweep_netns(struct tracker *t, uint32_t netns_ino);
/* The same in every network namespace (--all-netns); returns how many, or negative errno. */
int tracker_sweep_all_netns(struct tracker *t);
int tracker_read(struct tracker *t, struct tracker_snapshot *snap);
/* Only the candidates: sockets with data queued or in CLOSE_WAIT. */
int tracker_read_hot(struct tracker *t, struct tracker_snapshot *snap);
/* Fresh state of one socket; -ENOENT once it is gone. */
int tracker_lookup(struct tracker *t, uint64_t cookie, struct sr_sock *out);
void tracker_counters(struct tracker *t, uint64_t out[SR_CNT_MAX]);
/* Does the kernel have the tcp_sendmsg_locked tracepoint (owner at send time)? */
bool tracker_has_send_tp(const struct tracker *t);
/* Is the bpf_sock_destroy() kill fallback available (Linux 6.5+)? */
bool tracker_has_destroy(const struct tracker *t);

enum destroy_result {
	DESTROY_NOT_FOUND = 0,
	DESTROY_DONE = 1,
	DESTROY_CHANGED = 2, /* the live socket no longer matches the verdict: untouched */
};

/*
 * Destroy socket cookie from the kernel side, in its own network namespace,
 * if it is still in expect_state (and, if need_queue, still has data queued
 * with bytes_acked unchanged). enum destroy_result, or negative errno.
 */
int tracker_destroy(struct tracker *t, uint64_t cookie, const struct sr_sock *e, bool need_queue);

void tracker_close(struct tracker *t);

#endif
