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
struct target_selector {
	const uint64_t *cgroup_ids; /* descendants included */
	size_t n_cgroups;
	const struct sr_port_range *ports;
	size_t n_ports;
};

/* How queued data is noticed: the tcp_sendmsg_locked tracepoint (6.16+), an
 * fentry program on the function (where the kernel allows it: no lockdown),
 * or none: ACKs and retransmissions, and a backstop sweep every 10 s. */
enum tracker_send_path {
	TRACKER_SEND_AUTO = 0,	/* the first of those that this kernel takes */
	TRACKER_SEND_TRACEPOINT,
	TRACKER_SEND_FENTRY,
	TRACKER_SEND_SWEEP,
};

struct tracker_opts {
	uint32_t netns_ino;	/* 0 = every network namespace */
	const struct target_selector *targets; /* first match wins; at most SR_MAX_TARGETS */
	size_t n_targets;
	const struct sr_port_range *exclude_ports;
	size_t n_exclude_ports;
	uint32_t map_capacity;
	bool verbose;
	enum tracker_send_path send_path;
	uint64_t pidns_dev, pidns_ino; /* the daemon's pid namespace, 0 if the initial one */
};

/*
 * One read of the map: n entries in cookies[]/socks[]. The snapshot owns its
 * buffers and reuses them read after read (a scan and a `list` answer each
 * keep their own); zero-initialise it, free it with tracker_snapshot_free().
 */
struct tracker_snapshot {
	size_t n, cap;
	uint64_t *cookies;
	struct sr_sock *socks;
	uint8_t *hot_vals;
};

void tracker_snapshot_free(struct tracker_snapshot *snap);

/* Returns 0 or negative errno; on failure *err names the problem and the fix. */
int tracker_open(struct tracker **out, const struct tracker_opts *opts, char *err, size_t errlen);
/* Walk the current netns's TCP sockets through iter/tcp, recording them.
 * Returns the sockets visited, or negative errno. */
int tracker_sweep(struct tracker *t);
/* The same in one network namespace, by inode. */
int tracker_sweep_netns(struct tracker *t, uint32_t netns_ino);
/* Sweep netns_ino, then read socket cookie's entry: its receive side as it is now. */
int tracker_refresh(struct tracker *t, uint64_t cookie, uint32_t netns_ino, struct sr_sock *out);
/* The same in every network namespace (--all-netns); returns how many, or negative errno. */
int tracker_sweep_all_netns(struct tracker *t);
/*
 * The periodic walk without a send hook, one step of it: looks up only
 * sockets with data queued or in CLOSE_WAIT (in every netns with all_netns),
 * visiting at most about budget sockets, and resumes at the next call where
 * this one stopped; a call after the end starts a new walk. *visited: the
 * sockets this step visited. Returns 1 when the walk reached its end
 * (*walked: the sockets it visited in all), 0 while it is under way, or
 * negative errno (the walk is then abandoned).
 */
int tracker_backstop_step(struct tracker *t, bool all_netns, uint64_t budget, uint64_t *visited,
			  uint64_t *walked);
/* Is a backstop walk under way (begun, not yet at its end or abandoned)? */
bool tracker_backstop_walking(const struct tracker *t);
/* Sockets visited by every walk so far (the start-up sweep's size, read after it). */
uint64_t tracker_sockets_swept(const struct tracker *t);
int tracker_read(struct tracker *t, struct tracker_snapshot *snap);
/* Only the candidates: sockets with data queued or in CLOSE_WAIT. */
int tracker_read_hot(struct tracker *t, struct tracker_snapshot *snap);
/* Fresh state of one socket; -ENOENT once it is gone. */
int tracker_lookup(struct tracker *t, uint64_t cookie, struct sr_sock *out);
void tracker_counters(struct tracker *t, uint64_t out[SR_CNT_MAX]);
/* The send path chosen (owner and queue at send time, or the sweep). */
enum tracker_send_path tracker_send_path(const struct tracker *t);
const char *tracker_send_path_name(enum tracker_send_path p);
/* Are map keys socket cookies (SO_COOKIE), or salted socket addresses (before
 * Linux 5.12, whose tracing programs cannot read cookies)? */
bool tracker_keys_are_cookies(const struct tracker *t);
/* Is the bpf_sock_destroy() kill fallback available (Linux 6.5+)? */
bool tracker_has_destroy(const struct tracker *t);

/*
 * Destroy socket cookie from the kernel side, in its own network namespace,
 * if the locked socket still passes check against e (enum sr_destroy_check);
 * with dry_run only check. enum sr_destroy_result, or negative errno.
 */
int tracker_destroy(struct tracker *t, uint64_t cookie, const struct sr_sock *e,
		    enum sr_destroy_check check, bool dry_run);

void tracker_close(struct tracker *t);

#endif
