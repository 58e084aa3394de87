/* tracker.h - the BPF side seen from the daemon: load, attach, sweep, read. */
#ifndef SR_TRACKER_H
#define SR_TRACKER_H

#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "census.h"
#include "sockreap.h"
#include "sr_recheck.h"

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

/* Where per-socket state lives: socket-local storage (Linux 5.11+: no
 * capacity, freed with the socket), or a bounded hash map (before 5.11,
 * whose tracing programs may not use socket storage). */
enum tracker_store {
	TRACKER_STORE_AUTO = 0, /* storage where the kernel allows it */
	TRACKER_STORE_STORAGE,
	TRACKER_STORE_HASH,
};

struct tracker_opts {
	uint32_t netns_ino;	/* 0 = every network namespace */
	const struct target_selector *targets; /* first match wins; at most SR_MAX_TARGETS */
	size_t n_targets;
	const struct sr_port_range *exclude_ports;
	size_t n_exclude_ports;
	uint32_t map_capacity;	/* the hash store's size (sockets tracked at most) */
	enum tracker_store store;
	/* Per target: silent this long makes an established socket worth a
	 * scan's look (its rx_idle timeout, or less); 0 = no rx_idle there. */
	uint64_t idle_after_ns[SR_MAX_TARGETS];
	bool verbose;
	enum tracker_send_path send_path;
	uint64_t pidns_dev, pidns_ino; /* the daemon's pid namespace, 0 if the initial one */
	uint32_t unowned_targets; /* targets that act on sockets no process owns (bit i: target i) */
};

/*
 * One read of the tracked sockets: n records in socks[], their keys in
 * keys[]. The snapshot owns its buffers and reuses them read after read (a
 * scan and a `list` answer each keep their own); zero-initialise it, free it
 * with tracker_snapshot_free().
 */
struct tracker_snapshot {
	size_t n, cap;
	uint64_t *keys;
	struct sr_sock *socks;
	uint8_t *hot_vals;
};

/* A loaded tracing program's kernel-side statistics (bpf_prog_info). */
struct tracker_prog_stat {
	const char *name; /* the event it handles: tcp_probe, inet_sock_set_state, ... */
	uint64_t recursion_misses; /* runs the kernel skipped: they would have nested */
	bool misses_known;	   /* the kernel reports them (Linux 5.12+) */
};

void tracker_snapshot_free(struct tracker_snapshot *snap);

/* Returns 0 or negative errno; on failure *err names the problem and the fix. */
int tracker_open(struct tracker **out, const struct tracker_opts *opts, char *err, size_t errlen);
/* Discover the current namespace's TCP sockets (iter/tcp), recording those
 * in scope: sockets older than the programs. The sockets visited, or
 * negative errno. */
int tracker_discover(struct tracker *t);
/* The same in every network namespace (--all-netns). */
int tracker_discover_all(struct tracker *t);
/* Walk one network namespace (by inode) again: the receive side no event
 * shows (reads, the FIN), segments an event missed, exact candidate copies. */
int tracker_refresh_netns(struct tracker *t, uint32_t netns_ino);
/* Refresh netns_ino, then read the record of the socket keyed key (held as
 * sock_fd, or -1): its receive side as it is now. */
int tracker_refresh(struct tracker *t, uint64_t key, uint32_t netns_ino, int sock_fd,
		    struct sr_sock *out);
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
/* Sockets visited by every walk so far (the discovery's size, read after it). */
uint64_t tracker_sockets_walked(const struct tracker *t);
/* Did a walk fail to return to the daemon's own network namespace? Then the
 * daemon must stop: it no longer runs where it thinks. */
bool tracker_lost_netns(const struct tracker *t);
/* Every tracked socket. */
int tracker_read(struct tracker *t, struct tracker_snapshot *snap);
/* Every socket a scan must judge when the candidates do not suffice (some
 * target has rx_idle, or the candidate set overflowed): the hash path reads
 * all; the storage path walks the sockets and keeps the candidates and those
 * silent for half their target's idle timeout. */
int tracker_read_worthwhile(struct tracker *t, struct tracker_snapshot *snap);
/* Only the candidates: data queued, or CLOSE_WAIT. The storage path's are
 * copies, 250 ms stale at most while events come (exact after a sweep); the
 * kill path re-checks the live socket itself before acting. */
int tracker_read_candidates(struct tracker *t, struct tracker_snapshot *snap);
/* A candidate that is gone (its close unseen: an event the kernel skipped):
 * drop the storage path's copy. A live socket's next event puts it back. */
void tracker_forget(struct tracker *t, uint64_t key);
/* Fresh records of the sockets keyed keys[0..n): out[i] and found[i] (false
 * once it is gone). 0 or negative errno. */
int tracker_lookup_many(struct tracker *t, const uint64_t *keys, size_t n, struct sr_sock *out,
			bool *found);
/* Set a candidate's copy to its exact record (read through an fd), if it
 * still has a copy: later scans judge what the socket really had. */
void tracker_resync(struct tracker *t, uint64_t key, const struct sr_sock *rec);
/* The storage path's record of the socket held as sock_fd; -EOPNOTSUPP on the hash path. */
int tracker_lookup_fd(struct tracker *t, int sock_fd, struct sr_sock *out);
void tracker_counters(struct tracker *t, uint64_t out[SR_CNT_MAX]);
/* Has the candidate set ever been full? Then some candidates may be missing
 * from it for good, and a scan must read more than it. */
bool tracker_candidates_overflowed(struct tracker *t);
/* The census, from the counters BPF keeps on creation, state change and
 * close; on the storage path re-counted by a full read (at most every 5 s)
 * once skipped_runs (the programs' recursion misses summed, from
 * tracker_prog_stats) has moved, until one read finds the counters still,
 * since a skipped close would otherwise count a freed socket forever; and
 * once after the events fall still. room_ns: the time before a verdict's
 * clock may fire (census_due: a read is put off rather than delay it). */
void tracker_census(struct tracker *t, const uint64_t counters[SR_CNT_MAX], uint64_t skipped_runs,
		    uint64_t room_ns, struct tracker_census *c);
/* The store chosen, its name; its capacity (0: none, the storage path). */
enum tracker_store tracker_store(const struct tracker *t);
const char *tracker_store_name(enum tracker_store s);
uint32_t tracker_capacity(const struct tracker *t);
/* Up to max loaded programs' statistics; returns how many. */
size_t tracker_prog_stats(struct tracker *t, struct tracker_prog_stat *out, size_t max);
/* The send path chosen (owner and queue at send time, or the sweep). */
enum tracker_send_path tracker_send_path(const struct tracker *t);
const char *tracker_send_path_name(enum tracker_send_path p);
/* Are map keys socket cookies (SO_COOKIE), or salted socket addresses (before
 * Linux 5.12, whose tracing programs cannot read cookies)? */
bool tracker_keys_are_cookies(const struct tracker *t);
/* Is the bpf_sock_destroy() kill fallback available (Linux 6.5+)? */
bool tracker_has_destroy(const struct tracker *t);
/* Is do_tcp_sendpages() (sendfile, splice, kTLS before Linux 6.5) watched? */
bool tracker_hooks_sendpage(const struct tracker *t);
/* Are sendfile()/splice() writes seen only by the backstop walk (no send
 * hook, or an unhooked sendpage path)? */
bool tracker_sendfile_backstop(const struct tracker *t);
/* Can data be queued unseen by any hook? Then the periodic backstop walk
 * must run: without the tracepoint (which fires per chunk queued), the
 * fentry program fires once per call, and a blocked sendall() whose last
 * ACK emptied the queue mid-call queues the rest with no event at all. */
bool tracker_needs_backstop(const struct tracker *t);

/*
 * Destroy socket cookie (in network namespace netns_ino) from the kernel
 * side, if the locked socket still passes sr_recheck(x); with dry_run only
 * check. enum sr_destroy_result (*why: the re-check's answer when
 * SR_DESTROY_CHANGED), or negative errno.
 */
int tracker_destroy(struct tracker *t, uint64_t cookie, uint32_t netns_ino,
		    const struct sr_expect *x, bool dry_run, uint32_t *why);

void tracker_close(struct tracker *t);

#endif
