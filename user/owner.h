/* owner.h - find a process holding a socket, by inode, through /proc. */
#ifndef SR_OWNER_H
#define SR_OWNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct owner_ref {
	pid_t pid;
	int fd;
};

/*
 * Find a process and fd number holding socket inode ino. hint_pid (0 = none)
 * is searched first; then every process. 0 and *out, -ENOENT when no process
 * holds it, another negative errno on failure.
 */
int owner_find(uint64_t ino, pid_t hint_pid, struct owner_ref *out);

/* Does /proc/PID/fd/FD still name socket ino? */
int owner_fd_is(pid_t pid, int fd, uint64_t ino);

/*
 * Socket inode -> (pid, fd), built in one pass over fd tables, for a scan
 * with many reaps due: each lookup is then a binary search instead of a
 * walk of the owner's whole fd table (quadratic in a reap storm) or, with
 * no owner recorded (the sweep path), of every process. An entry is a hint:
 * the reaper re-verifies it after pinning the pid, as with owner_find().
 */
struct owner_slot {
	uint64_t ino;
	pid_t pid;
	int fd;
};

struct owner_index {
	size_t n, cap;
	struct owner_slot *slots;
	bool all;	/* every process was indexed */
};

/* Index the sockets of process pid (call once per pid; a vanished pid adds nothing). 0 or -ENOMEM. */
int owner_index_add_pid(struct owner_index *ix, pid_t pid);
/* Index every visible process but the daemon. 0, -ENOMEM, or -errno if /proc is unreadable. */
int owner_index_add_all(struct owner_index *ix);
/* Sort after adding; then look up. NULL when ino is not indexed. */
void owner_index_sort(struct owner_index *ix);
const struct owner_slot *owner_index_find(const struct owner_index *ix, uint64_t ino);
void owner_index_clear(struct owner_index *ix);	/* empty, memory kept */
void owner_index_free(struct owner_index *ix);

#endif
