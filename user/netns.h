/* netns.h - run a function inside each network namespace of the machine. */
#ifndef SR_NETNS_H
#define SR_NETNS_H

/*
 * Call fn(ctx) once inside every distinct network namespace found through
 * /proc/PID/ns/net and /run/netns/, then return the calling thread to its own.
 * Returns the number of namespaces visited, or -ENOTRECOVERABLE if the thread
 * could not get back home (fatal: the caller must stop; nothing it does from
 * then on would be in the namespace it believes).
 */
int netns_for_each(int (*fn)(void *ctx), void *ctx);

/*
 * Call fn(ctx) inside the network namespace whose inode is ino (the calling
 * thread's own: no move). Returns fn's result, -ENOENT if no such namespace
 * is reachable, -ENOTRECOVERABLE as above, or another negative errno.
 */
int netns_run_in(unsigned int ino, int (*fn)(void *ctx), void *ctx);

#endif
