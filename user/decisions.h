/* decisions.h - the log line of each decision the daemon makes. */
#ifndef SR_DECISIONS_H
#define SR_DECISIONS_H

#include <stdint.h>

#include "podid.h"
#include "policy.h"
#include "reaper.h"

/*
 * One decision line: event "stall" (rep NULL) or "reap". The contract's key
 * order: reason, then result and method for a reap, then the rest; cookie=
 * is the socket's key (its cookie, or before Linux 5.12 a salted address);
 * who: the pod and container, or unit, it belongs to.
 */
void log_decision(const char *event, const char *target, uint64_t key, const struct sr_sock *e,
		  const struct policy_verdict *v, const struct reap_report *rep, enum reap_result res,
		  const struct pod_identity *who);

#endif
