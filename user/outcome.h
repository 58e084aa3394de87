/* outcome.h - what a reap attempt came to, and why no owner fd could be had:
 * the reaper's vocabulary, shared with the observers (pure). */
#ifndef SR_OUTCOME_H
#define SR_OUTCOME_H

/* What acting on a verdict came to: the result= of a reap log line. */
enum reap_result {
	REAP_OK = 0,	/* shut down */
	REAP_DRY_RUN,	/* verified, and left alone because of --dry-run */
	REAP_GONE,	/* the socket or its owner went away first */
	REAP_NO_OWNER,	/* no process holding it could be found or duplicated */
	REAP_MISMATCH,	/* the fd now holds another socket: untouched */
	REAP_RESUMED,	/* the kernel's fresh state shows progress: untouched */
	REAP_ERROR,
	REAP_UNOWNED,	/* no user-space owner (kernel socket, not yet accepted): untouched */
	REAP_RESULT_MAX,
};

/* Why no owner fd could be had (result=no_owner). */
enum owner_cause {
	OWNER_OK = 0,
	OWNER_INODE_UNKNOWN,	/* the socket's inode was never seen */
	OWNER_NOT_FOUND,	/* no visible process holds it (other pid namespace, passed away) */
	OWNER_PROC_UNREADABLE,	/* /proc could not be read */
	OWNER_PTRACE_DENIED,	/* pidfd_getfd refused: EPERM */
	OWNER_GETFD_FAILED,	/* pidfd_getfd failed otherwise */
	OWNER_CAUSE_MAX,
};

const char *reap_result_name(enum reap_result r);
const char *owner_cause_name(enum owner_cause c);
/* Why sr_recheck() said a verdict no longer holds (enum sr_recheck), for detail=. */
const char *recheck_name(unsigned int why);

#endif
