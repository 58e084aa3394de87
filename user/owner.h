/* owner.h - find a process holding a socket, by inode, through /proc. */
#ifndef SR_OWNER_H
#define SR_OWNER_H

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

#endif
