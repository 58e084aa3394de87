/* policy.c - decide from one map entry whether a socket is dead.
 *
 * send_stall: the send queue stayed non-empty and acked bytes did not move
 * for the whole grace (ESTABLISHED, or CLOSE_WAIT: an owner answering a
 * half-closed peer that stopped ACKing). peer_gone (opt-in: only where the
 * protocol never half-closes): the peer closed (CLOSE_WAIT) and the owner has
 * not consumed it: data or the FIN still unread, no read and no ACK progress
 * for its timeout. From the server's side a half-close and a vanished client
 * send the same FIN, and a live owner may leave it unread for long (it read a
 * length-delimited request before the FIN came, it is busy, it saw the EOF
 * with MSG_PEEK or EPOLLRDHUP): only the application's protocol tells them
 * apart, so it is off unless asked for. An owner that read the EOF and keeps
 * the socket to answer is alive; only the opt-in close_wait rule (leak
 * cleanup) ever touches it. rx_idle (opt-in): nothing received for the idle
 * timeout. A clock that runs backwards, or an event newer than now, never
 * makes a socket look older: the age is then 0.
 */
#include "policy.h"

static const char *const reason_names[SR_REASON_MAX] = {
	[SR_REASON_NONE] = "none",
	[SR_REASON_SEND_STALL] = "send_stall",
	[SR_REASON_PEER_GONE] = "peer_gone",
	[SR_REASON_RX_IDLE] = "rx_idle",
	[SR_REASON_CLOSE_WAIT] = "close_wait",
};

const char *policy_reason_name(enum sr_reason r)
{
	return r < SR_REASON_MAX ? reason_names[r] : "unknown";
}

static const char *const cause_names[CAUSE_MAX] = {
	[CAUSE_UNKNOWN] = "unknown",	     [CAUSE_ZERO_WINDOW] = "zero_window",
	[CAUSE_NO_ACK] = "no_ack",	     [CAUSE_SILENT] = "silent",
	[CAUSE_DATA_UNREAD] = "data_unread", [CAUSE_FIN_UNREAD] = "fin_unread",
	[CAUSE_EOF_READ] = "eof_read",
};

const char *policy_cause_name(enum sr_cause c)
{
	return c < CAUSE_MAX ? cause_names[c] : "unknown";
}


uint32_t policy_queued_bytes(const struct sr_sock *e)
{
	uint32_t q = e->write_seq - e->snd_una;

	/* A write_seq "behind" snd_una is a torn read, not 4 GB queued. */
	return (int32_t)q < 0 ? 0 : q;
}

bool policy_unread(const struct sr_sock *e)
{
	return (int32_t)(e->rcv_nxt - e->copied_seq) > 0;
}

static uint64_t max_u64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

static uint64_t age(uint64_t now, uint64_t onset)
{
	return now > onset ? now - onset : 0;
}

/* Consider one rule: fire it, or remember it as the clock nearest to firing. */
static void consider(struct policy_verdict *v, enum sr_reason r, uint64_t onset, uint64_t now,
		     uint64_t limit)
{
	uint64_t a = age(now, onset);

	if (v->reason != SR_REASON_NONE)
		return;
	if (a >= limit) {
		*v = (struct policy_verdict){ r, SR_REASON_NONE, onset, a, limit };
		return;
	}
	/* Not yet: keep the rule with the least time left, for `list`. */
	if (v->pending == SR_REASON_NONE || limit - a < v->limit_ns - v->age_ns) {
		v->pending = r;
		v->onset_ns = onset;
		v->age_ns = a;
		v->limit_ns = limit;
	}
}

/* Heard from the peer after the clock started, its window closed: a peer that
 * is there and does not read (the stamp is tcp_probe's, or a walk's dating of
 * what tcp_probe missed, by the kernel's own receive times). */
static bool zero_window_heard(const struct sr_sock *e, uint64_t onset)
{
	return e->last_rx_ns && e->last_rx_ns > onset && e->snd_wnd == 0;
}

/*
 * How far kernel memory pressure seen until end holds a send_stall clock that
 * started at onset (bound at most): to the pressure's end, if that is after
 * the onset, or later, to when the retransmission timer left armed then fires
 * (to the last retransmission, if it came after the pressure). Under
 * pressure the kernel itself stalls live connections: a receiver on this
 * machine drops what it cannot queue while its queue is not empty, silently,
 * so a trickling reader with a long queue leaves its sender unacknowledged
 * for queue / rate seconds (like a blackholed peer), and its shrunken window
 * can read zero for longer than a grace while it reads (like a frozen reader).
 *
 * The bounds. While the pressure lasts, SR_PRESSURE_HOLD_GRACES graces: a dead
 * peer's queue holds memory too, and an endless hold could keep the pressure
 * forever; under pressure that never ends a dead peer is still reaped, at
 * 1 + SR_PRESSURE_HOLD_GRACES graces. Once it is over, the hold is known to
 * end: every timer armed during it fires by its end + TCP_RTO_MAX, so the
 * hold reaches that far at most (a live peer starved longer than the cap is
 * not shut for it; a dead one is reaped a grace after, retransmitting or not).
 * When pressure comes back, the hold the last end gave stands: under pressure
 * that then never ends a dead peer is reaped at four graces, or a grace after
 * that hold, whichever is later.
 */
static uint64_t hold_until(const struct sr_sock *e, uint64_t onset, uint64_t end, uint64_t bound)
{
	uint64_t until = end;

	if (end <= onset)
		return 0;
	/* A retransmission of this stall made before the pressure ended left a
	 * timer backed off during it, which fires after: until then the peer,
	 * alive or not, had no chance to answer. A retransmission after the
	 * pressure is that chance (only the last one is known, so the hold runs
	 * to it: later rather than earlier); the grace counts from there. */
	if (e->retrans_ns >= onset && e->retrans_ns <= end && e->retrans_due_ns > until)
		until = e->retrans_due_ns;
	else if (e->retrans_ns > end)
		until = e->retrans_ns;
	return (until < bound ? until : bound) - onset;
}

static uint64_t pressure_hold(const struct sr_sock *e, uint64_t onset,
			      const struct policy_pressure *pr, uint64_t grace)
{
	uint64_t cap = onset + SR_PRESSURE_HOLD_GRACES * grace, over = 0;

	if (!pr)
		return 0;
	/* The last pressure that ended: held to its timers, past the cap. */
	if (pr->ended_ns)
		over = hold_until(e, onset, pr->ended_ns, max_u64(cap, pr->ended_ns + SR_RTO_MAX_NS));
	if (!pr->ongoing)
		return over;
	/* Pressure again (or still): the cap, but a hold the last pressure's end
	 * gave does not shrink back when it returns (the verdict would then
	 * fire overdue); that one is bounded too. */
	return max_u64(hold_until(e, onset, pr->until_ns, cap), over);
}

struct policy_verdict policy_verdict(const struct sr_sock *e, uint64_t now,
				     const struct policy_config *cfg,
				     const struct policy_pressure *pr)
{
	struct policy_verdict v = { SR_REASON_NONE, SR_REASON_NONE, 0, 0, 0, 0 };
	uint64_t held = 0;
	bool established = e->state == SR_TCP_ESTABLISHED;
	bool close_wait = e->state == SR_TCP_CLOSE_WAIT;
	/* In CLOSE_WAIT the owner reading, or its data being acknowledged, shows life. */
	uint64_t cw_onset = max_u64(max_u64(e->state_since_ns, e->last_progress_ns), e->last_read_ns);

	if ((established || close_wait) && policy_queued_bytes(e) > 0 && e->queued_since_ns) {
		uint64_t onset = max_u64(e->queued_since_ns, e->last_progress_ns);

		held = pressure_hold(e, onset, pr, cfg->stall_grace_ns);
		consider(&v, SR_REASON_SEND_STALL, onset + held, now, cfg->stall_grace_ns);
	}
	if (close_wait && policy_unread(e)) {
		if (cfg->peer_gone_timeout_ns)
			consider(&v, SR_REASON_PEER_GONE, cw_onset, now, cfg->peer_gone_timeout_ns);
	} else if (close_wait && cfg->close_wait_timeout_ns)
		consider(&v, SR_REASON_CLOSE_WAIT, cw_onset, now, cfg->close_wait_timeout_ns);
	if (cfg->idle_timeout_ns && established)
		consider(&v, SR_REASON_RX_IDLE, max_u64(e->last_rx_ns, e->first_seen_ns), now,
			 cfg->idle_timeout_ns);
	if (v.reason == SR_REASON_SEND_STALL ||
	    (v.reason == SR_REASON_NONE && v.pending == SR_REASON_SEND_STALL))
		v.held_ns = held;
	return v;
}

enum sr_cause policy_cause(const struct sr_sock *e, const struct policy_verdict *v)
{
	enum sr_reason r = v->reason != SR_REASON_NONE ? v->reason : v->pending;
	bool outstanding = policy_queued_bytes(e) > 0;

	switch (r) {
	case SR_REASON_SEND_STALL:
		/* A zero window, still advertised by segments arriving after the
		 * clock started (probe replies): the peer is there, not reading.
		 * (A clock held by memory pressure started held_ns earlier.) */
		if (zero_window_heard(e, v->onset_ns - v->held_ns))
			return CAUSE_ZERO_WINDOW;
		/* Data outstanding that the peer has room for, or probes it stopped
		 * answering, and still no ACK: nobody is acknowledging. */
		if (outstanding)
			return CAUSE_NO_ACK;
		return CAUSE_UNKNOWN;
	case SR_REASON_RX_IDLE:
		return outstanding ? CAUSE_NO_ACK : CAUSE_SILENT;
	case SR_REASON_PEER_GONE:
		/* The FIN takes one sequence number: more unread is data. */
		return (uint32_t)(e->rcv_nxt - e->copied_seq) > 1 ? CAUSE_DATA_UNREAD : CAUSE_FIN_UNREAD;
	case SR_REASON_CLOSE_WAIT:
		return CAUSE_EOF_READ;
	default:
		return CAUSE_UNKNOWN;
	}
}
