/* pressure.h - is the kernel's TCP under memory pressure? Read once a scan.
 *
 * Under pressure (tcp_mem's middle threshold crossed) the kernel itself drops
 * segments of live connections (TcpExtTCPRcvQDrop, PruneCalled): a live
 * peer's data can go unacknowledged for seconds, which the send_stall rule
 * cannot tell from a peer that is gone. The policy holds such verdicts back
 * while pressure is seen (policy.h), so the daemon records when it last was.
 */
#ifndef SR_PRESSURE_H
#define SR_PRESSURE_H

#include <stdbool.h>
#include <stdint.h>

#include "policy.h"

struct tcp_pressure {
	struct policy_pressure seen; /* what the reads found, as the policy takes it */
	uint64_t entered;	/* TcpExtTCPMemoryPressures of our namespace, last read */
	bool have_entered;
	bool unreadable;	/* the last read failed: counted as pressure (fail safe) */
};

/* Is the TCP protocol line of /proc/net/protocols marked under pressure?
 * 1 yes, 0 no, -1 no such line or column. */
int pressure_parse_protocols(const char *text);

/* TcpExt's TCPMemoryPressures in /proc/net/netstat text: 0, or -1 if absent. */
int pressure_parse_netstat(const char *text, uint64_t *count);

/*
 * Read both at now: pressure is seen if the kernel's flag is set, or if the
 * count of entries into pressure moved since the last read (an episode that
 * came and went between two scans). A file that cannot be read counts as
 * pressure: holding a verdict back is bounded, acting on a live connection is
 * not undone. Returns p->seen.ongoing.
 */
bool tcp_pressure_read(struct tcp_pressure *p, uint64_t now);

#endif
