/* netns.h - run a function inside each network namespace of the machine. */
#ifndef SR_NETNS_H
#define SR_NETNS_H

/*
 * Call fn(ctx) once inside every distinct network namespace found through
 * /proc/PID/ns/net and /run/netns/, then return the calling thread to its own.
 * Returns the number of namespaces visited, or negative errno if the thread
 * could not get back home (fatal: the caller must stop).
 */
int netns_for_each(int (*fn)(void *ctx), void *ctx);

#endif
