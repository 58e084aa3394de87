/* reaper.h - act on one verdict: duplicate the owner's fd, verify, shut down. */
#ifndef SR_REAPER_H
#define SR_REAPER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "policy.h"
#include "sockreap.h"

struct reap_report {
	pid_t pid;		/* 0 if no owner was found */
	int fd;
	int err;		/* errno behind NO_OWNER / ERROR, else 0 */
	enum owner_cause cause;	/* with NO_OWNER: why */
	uint32_t queued;	/* bytes unacknowledged on the duplicated socket */
	char comm[16];
	const char *detail;	/* short reason for non-OK results */
};

/*
 * Reap socket cookie (entry e) for verdict v. Never touches a socket whose
 * SO_COOKIE differs from cookie, and re-checks the verdict against the
 * kernel's own TCP_INFO on the socket it holds before acting.
 */
enum reap_result reaper_reap(uint64_t cookie, const struct sr_sock *e,
			     const struct policy_verdict *v, bool dry_run, struct reap_report *rep);

#endif
