/* reaper.h - act on one verdict: duplicate the owner's fd, verify, shut down. */
#ifndef SR_REAPER_H
#define SR_REAPER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "policy.h"
#include "outcome.h"
#include "sockreap.h"

struct tracker;
struct owner_index;

/* How to kill: through the owner's fd (shutdown), from the kernel side
 * (bpf_sock_destroy), or the first with the second when no owner fd can be had. */
enum reap_method {
	REAP_METHOD_AUTO = 0,
	REAP_METHOD_SHUTDOWN,
	REAP_METHOD_DESTROY,
};

/* How the scan acts on a verdict: the method, and what its target allows. */
struct reap_plan {
	enum reap_method method;
	bool dry_run;	  /* verify everything, act on nothing */
	bool unowned_ok;  /* act on sockets no process owns (through destroy) */
};

struct reap_report {
	pid_t pid;		/* 0 if no owner was found */
	int fd;
	int err;		/* errno behind NO_OWNER / ERROR, else 0 */
	enum owner_cause cause;	/* with NO_OWNER: why */
	uint32_t queued;	/* bytes unacknowledged on the duplicated socket */
	char comm[16];
	const char *detail;	/* short reason for non-OK results */
	const char *method;	/* "shutdown", "destroy", or "none" (unowned): the path that decided */
	bool owner_failed;	/* no owner fd could be had (cause says why) */
};

/*
 * Reap the socket keyed key (entry e) for verdict v, as plan says. Never
 * touches a socket that is not the one e describes (SO_COOKIE, or its inode
 * where keys are addresses), nor one no process owns unless the plan allows
 * it, and re-checks the verdict with sr_recheck() on the socket it holds
 * before acting: on the duplicated fd (TCP_INFO, SIOCOUTQ, the receive side
 * re-read through t), or inside the destroy walk on the locked socket. A
 * dry run goes through every check. ix (may be NULL): owners indexed for
 * this scan, looked up before /proc is.
 */
enum reap_result reaper_reap(struct tracker *t, const struct owner_index *ix, uint64_t key,
			     const struct sr_sock *e, const struct policy_verdict *v,
			     const struct reap_plan *plan, struct reap_report *rep);

/*
 * The storage path's exact record of the socket keyed key (entry e, a
 * candidate copy that may lag its record by SR_SYNC_NS): read through a
 * duplicate of its owner's fd, verified to be that socket as before a reap,
 * and closed at once; nothing is done to the socket. 0, or negative errno
 * when no owner fd can be had or it holds another socket (then read the
 * record another way), -ENOENT too when the socket has no record.
 */
int reaper_read_exact(struct tracker *t, const struct owner_index *ix, uint64_t key,
		      const struct sr_sock *e, struct sr_sock *out);

#endif
