/* sr_recheck.h - is a verdict still true of the live socket? One predicate for
 * both kill paths: the reaper runs it on the fd it duplicated (facts from
 * TCP_INFO, SIOCOUTQ and a fresh sweep of the socket), the destroy walk on
 * the locked socket itself (facts from tcp_sock). Written once, so the two
 * can never re-check different things. Includes nothing (sockreap.h first).
 */
#ifndef SR_RECHECK_H
#define SR_RECHECK_H

/* The socket as the kernel has it at the moment of acting. */
struct sr_live {
	__u64 bytes_acked;
	__u32 state;
	__u32 queued;	  /* write_seq - snd_una: bytes not yet acknowledged */
	__u32 rcv_nxt;
	__u32 copied_seq; /* short of rcv_nxt: data or the FIN still unread */
	__u32 segs_in;	  /* segments received, data or bare ACK (tcp_sock.segs_in) */
	__u32 owned;	  /* held by a user-space file: accepted, not a kernel socket */
};

/* What the verdict was judged on, from the map entry that fired it. */
struct sr_expect {
	__u64 bytes_acked;
	__u32 reason;	  /* enum sr_reason */
	__u32 state;
	__u32 copied_seq;
	__u32 segs_in;
	__u32 unowned_ok; /* the target asks to act on sockets no process owns */
	__u32 pad;
};

/* Why a verdict no longer holds; SR_RECHECK_DEAD: it does, act. */
enum sr_recheck {
	SR_RECHECK_DEAD = 0,
	SR_RECHECK_STATE,      /* the socket left the verdict's state */
	SR_RECHECK_DRAINED,    /* send_stall: nothing queued any more */
	SR_RECHECK_ACKED,      /* the peer acknowledged data since */
	SR_RECHECK_READ,       /* peer_gone: the owner has read everything, the FIN too */
	SR_RECHECK_READING,    /* the owner read since (copied_seq moved) */
	SR_RECHECK_RECEIVED,   /* rx_idle: a segment arrived since */
	SR_RECHECK_UNOWNED,    /* no user-space owner, and none was asked for */
	SR_RECHECK_NO_VERDICT, /* not a rule this predicate knows */
	SR_RECHECK_MAX,
};

/*
 * The re-check of each rule, on the facts the rule itself is made of:
 * send_stall: same state, data queued, no ACK progress;
 * peer_gone: CLOSE_WAIT, data or the FIN unread, no read and no ACK progress;
 * close_wait: CLOSE_WAIT, no read and no ACK progress;
 * rx_idle: ESTABLISHED, no segment at all received (data, ACK, probe: segs_in
 * counts them all, where the kernel's receive timestamps miss a data segment
 * whose ACK repeats snd_una).
 */
static inline __u32 sr_recheck(const struct sr_expect *x, const struct sr_live *l)
{
	if (!l->owned && !x->unowned_ok)
		return SR_RECHECK_UNOWNED;
	switch (x->reason) {
	case SR_REASON_SEND_STALL:
		if (l->state != x->state)
			return SR_RECHECK_STATE;
		if ((__s32)l->queued <= 0)
			return SR_RECHECK_DRAINED;
		if (l->bytes_acked != x->bytes_acked)
			return SR_RECHECK_ACKED;
		return SR_RECHECK_DEAD;
	case SR_REASON_PEER_GONE:
	case SR_REASON_CLOSE_WAIT:
		if (l->state != SR_TCP_CLOSE_WAIT)
			return SR_RECHECK_STATE;
		if (x->reason == SR_REASON_PEER_GONE && l->rcv_nxt == l->copied_seq)
			return SR_RECHECK_READ;
		if (l->copied_seq != x->copied_seq)
			return SR_RECHECK_READING;
		if (l->bytes_acked != x->bytes_acked)
			return SR_RECHECK_ACKED;
		return SR_RECHECK_DEAD;
	case SR_REASON_RX_IDLE:
		if (l->state != SR_TCP_ESTABLISHED)
			return SR_RECHECK_STATE;
		if (l->segs_in != x->segs_in)
			return SR_RECHECK_RECEIVED;
		return SR_RECHECK_DEAD;
	default:
		return SR_RECHECK_NO_VERDICT;
	}
}

#endif
