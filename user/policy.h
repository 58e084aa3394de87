/* policy.h - the verdict on one tracked socket: a pure function, no I/O. */
#ifndef SR_POLICY_H
#define SR_POLICY_H

#include <linux/types.h>
#include <stdbool.h>
#include <stdint.h>

#include "sockreap.h"

/* Why a verdict fired, from the kernel's own facts: the cause= of log lines. */
enum sr_cause {
	CAUSE_UNKNOWN = 0,	/* the recorded state does not tell */
	CAUSE_ZERO_WINDOW,	/* the peer is alive, answers window probes, reads nothing */
	CAUSE_NO_ACK,		/* data outstanding and nothing heard from the peer (gone, or cut off) */
	CAUSE_SILENT,		/* rx_idle with nothing outstanding: the peer just stopped sending */
	CAUSE_DATA_UNREAD,	/* peer_gone: the owner left data (and the FIN) unread */
	CAUSE_FIN_UNREAD,	/* peer_gone: the owner read the data but not the FIN */
	CAUSE_EOF_READ,		/* close_wait: the owner read the close and keeps the socket */
	CAUSE_MAX,
};

struct policy_config {
	uint64_t stall_grace_ns; /* send_stall */
	uint64_t peer_gone_timeout_ns; /* peer_gone; 0 = off (only for protocols whose
					* clients never half-close) */
	uint64_t idle_timeout_ns; /* rx_idle; 0 = off */
	uint64_t close_wait_timeout_ns; /* close_wait (leak cleanup); 0 = off */
};

struct policy_verdict {
	enum sr_reason reason;	/* SR_REASON_NONE: leave it alone */
	enum sr_reason pending; /* with SR_REASON_NONE: the rule whose clock runs, if any */
	uint64_t onset_ns;	/* when the condition began (its clock's start) */
	uint64_t age_ns;	/* now - onset_ns, 0 if the clock is not running */
	uint64_t limit_ns;	/* the grace the age is measured against */
	uint64_t held_ns;	/* send_stall: how far kernel memory pressure moved the
				 * clock's start (onset_ns includes it); 0 = not held */
};

/* Bytes queued and not yet acknowledged: write_seq - snd_una, modulo 2^32. */
uint32_t policy_queued_bytes(const struct sr_sock *e);

/* Has the owner left data or the peer's FIN unread (copied_seq short of rcv_nxt)? */
bool policy_unread(const struct sr_sock *e);

/* While it lasts, kernel memory pressure holds a send stall's clock this many
 * graces at most. */
#define SR_PRESSURE_HOLD_GRACES 3

/* What the daemon knows of the kernel's TCP memory pressure (pressure.h). */
struct policy_pressure {
	uint64_t until_ns;	/* until when it may have lasted: the last read that
				 * found it, or the first after it that did not (the
				 * end lies between); 0: never seen */
	uint64_t ended_ns;	/* the end of the last pressure that ended (until_ns
				 * then); 0: none yet */
	bool ongoing;		/* the last read found it (or could not tell) */
};

/*
 * The verdict on e at now_ns, given the kernel's memory pressure pr (NULL:
 * none). Under pressure the kernel itself stalls live connections' data, so a
 * send_stall clock running then restarts from the pressure's end, or later
 * from when a retransmission timer armed by then fires (its RTO backed off
 * during the pressure), or from a retransmission made after it. While the
 * pressure lasts, SR_PRESSURE_HOLD_GRACES graces later at most; once it is
 * over, no later than its end + TCP_RTO_MAX (every timer armed during it has
 * fired by then), and that hold stands if pressure returns. The other rules
 * are not held.
 */
struct policy_verdict policy_verdict(const struct sr_sock *e, uint64_t now_ns,
				     const struct policy_config *cfg,
				     const struct policy_pressure *pr);

/*
 * The cause of verdict v (fired or pending) on entry e: for send_stall, a
 * zero window advertised in segments received after the clock started means
 * the peer is there but not reading; data outstanding otherwise (an open
 * window, or probes no longer answered) means nobody is acknowledging.
 */
enum sr_cause policy_cause(const struct sr_sock *e, const struct policy_verdict *v);

const char *policy_reason_name(enum sr_reason r);
const char *policy_cause_name(enum sr_cause c);

#endif
