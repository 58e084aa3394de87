/* outcome.c - the names of reap results and owner causes, as logs and metrics show them. */
#include "outcome.h"

#include <linux/types.h>

#include "sockreap.h"
#include "sr_recheck.h"

static const char *const result_names[REAP_RESULT_MAX] = {
	[REAP_OK] = "ok",	      [REAP_DRY_RUN] = "dry_run", [REAP_GONE] = "gone",
	[REAP_NO_OWNER] = "no_owner", [REAP_MISMATCH] = "mismatch", [REAP_RESUMED] = "resumed",
	[REAP_ERROR] = "error",	      [REAP_UNOWNED] = "unowned",
};

const char *reap_result_name(enum reap_result r)
{
	return r < REAP_RESULT_MAX ? result_names[r] : "unknown";
}

static const char *const owner_cause_names[OWNER_CAUSE_MAX] = {
	[OWNER_OK] = "ok",
	[OWNER_INODE_UNKNOWN] = "inode_unknown",
	[OWNER_NOT_FOUND] = "not_found",
	[OWNER_PROC_UNREADABLE] = "proc_unreadable",
	[OWNER_PTRACE_DENIED] = "ptrace_denied",
	[OWNER_GETFD_FAILED] = "getfd_failed",
};

const char *owner_cause_name(enum owner_cause c)
{
	return c < OWNER_CAUSE_MAX ? owner_cause_names[c] : "unknown";
}

static const char *const recheck_names[SR_RECHECK_MAX] = {
	[SR_RECHECK_DEAD] = "still dead",
	[SR_RECHECK_STATE] = "state changed",
	[SR_RECHECK_DRAINED] = "queue drained",
	[SR_RECHECK_ACKED] = "acked bytes moved",
	[SR_RECHECK_READ] = "owner read the close",
	[SR_RECHECK_READING] = "owner is reading",
	[SR_RECHECK_RECEIVED] = "received since",
	[SR_RECHECK_UNOWNED] = "no process owns it",
	[SR_RECHECK_NO_VERDICT] = "no verdict",
};

const char *recheck_name(unsigned int why)
{
	return why < SR_RECHECK_MAX ? recheck_names[why] : "unknown";
}
