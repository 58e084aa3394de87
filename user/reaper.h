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

struct reap_report {
	pid_t pid;		/* 0 if no owner was found */
	int fd;
	int err;		/* errno behind NO_OWNER / ERROR, else 0 */
	enum owner_cause cause;	/* with NO_OWNER: why */
	uint32_t queued;	/* bytes unacknowledged on the duplicated socket */
	char comm[16];
	const char *detail;	/* short reason for non-OK results */
	const char *method;	/* "shutdown" or "destroy": the path that decided */
	bool owner_failed;	/* no owner fd could be had (cause says why) */
	bool fatal;		/* the daemon lost its own network namespace: stop */
};

/*
 * Reap socket cookie (entry e) for verdict v, by method. Never touches a
 * socket whose SO_COOKIE differs from cookie, and re-checks the verdict on
 * the socket it holds before acting: TCP_INFO, SIOCOUTQ and FIONREAD on the
 * duplicated fd, the socket's receive side re-read through t, or inside the
 * destroy walk on the locked socket. A dry run goes through every check.
 * ix (may be NULL): owners indexed for this scan, looked up before /proc is.
 */
enum reap_result reaper_reap(struct tracker *t, const struct owner_index *ix, uint64_t cookie,
			     const struct sr_sock *e, const struct policy_verdict *v,
			     enum reap_method method, bool dry_run, struct reap_report *rep);

#endif
