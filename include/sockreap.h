/* sockreap.h - types shared by the BPF programs and the daemon.
 *
 * Includes nothing: fixed-width __u64/__u32/__u16/__u8 fields only, largest
 * first, so both compilers lay the structs out identically.
 */
#ifndef SOCKREAP_H
#define SOCKREAP_H

#define SR_COMM_LEN 16
#define SR_DEFAULT_MAP_CAPACITY 65536

/* TCP states as the kernel numbers them (include/net/tcp_states.h). */
enum sr_tcp_state {
	SR_TCP_ESTABLISHED = 1,
	SR_TCP_SYN_SENT = 2,
	SR_TCP_SYN_RECV = 3,
	SR_TCP_FIN_WAIT1 = 4,
	SR_TCP_FIN_WAIT2 = 5,
	SR_TCP_TIME_WAIT = 6,
	SR_TCP_CLOSE = 7,
	SR_TCP_CLOSE_WAIT = 8,
	SR_TCP_LAST_ACK = 9,
	SR_TCP_LISTEN = 10,
	SR_TCP_CLOSING = 11,
	SR_TCP_NEW_SYN_RECV = 12,
};

#define SR_EEXIST 17 /* the kernel's EEXIST: BPF code has no errno.h */
#define SR_TCP_NSTATES 13 /* state numbers 0..12: per-state counters and name tables */
#define SR_RTO_MAX_NS (120ull * 1000000000ull) /* TCP_RTO_MAX: no retransmission timer is
						* armed longer */

/* The rules a verdict can fire for (what a kill path re-checks). */
enum sr_reason {
	SR_REASON_NONE = 0,
	SR_REASON_SEND_STALL,
	SR_REASON_PEER_GONE,
	SR_REASON_RX_IDLE,
	SR_REASON_CLOSE_WAIT,
	SR_REASON_MAX,
};

/* sr_sock.flags */
enum sr_sock_flag {
	SR_F_SWEPT = 1,	    /* first seen by the iter/tcp sweep, not by an event */
	SR_F_OWNER_SEEN = 2, /* owner_tgid/comm come from a send in process context */
	SR_F_KERNEL = 4,     /* a kernel socket (sk_kern_sock: NFS, MPTCP subflows, ...):
			      * no user-space owner to wake, never acted on unless asked */
};

/*
 * Targets: up to SR_MAX_TARGETS selectors (cgroups and/or local ports), each
 * with its own rules. sr_ports[port] and sr_cgroups[id] hold a bitmask of the
 * targets that select that port or cgroup; a socket belongs to the first
 * (lowest-numbered) target that selects it, recorded in sr_sock.rule.
 */
#define SR_MAX_TARGETS 16
#define SR_PORT_EXCLUDED (1u << 31) /* in sr_ports: --exclude-port, wins over every target */

#define SR_CGROUP_MAX_DEPTH 32 /* ancestors examined for --cgroup */

/* Per-CPU event counters, indexed by this enum (map sr_counters). */
enum sr_counter {
	SR_CNT_EV_SEND = 0,  /* tcp_sendmsg_locked events */
	SR_CNT_EV_PROBE,     /* tcp_probe events (every received segment) */
	SR_CNT_EV_STATE,     /* inet_sock_set_state events */
	SR_CNT_EV_WALK,     /* sockets visited by the iter/tcp sweep */
	SR_CNT_EV_RETRANS,   /* tcp_retransmit_skb events */
	SR_CNT_MAP_FULL,     /* entries that could not be created: map full (storage: no memory) */
	SR_CNT_HOT_FULL,     /* candidates that could not be recorded: sr_hot full */
	SR_CNT_INSERTS,      /* entries created */
	SR_CNT_DELETES,      /* hash path: entries deleted (TCP_CLOSE); inserts - deletes = tracked */
	SR_CNT_KERNEL,       /* hash path: tracked kernel sockets (SR_F_KERNEL), per-CPU deltas */
	SR_CNT_DEL_REFUSED,  /* storage path: closes whose record delete the kernel refused */
	SR_CNT_STATE_BASE,   /* hash path, + state: tracked sockets in that state (per-CPU deltas;
			      * the sum is exact). The storage path counts them in each read. */
	SR_CNT_MAX = SR_CNT_STATE_BASE + SR_TCP_NSTATES,
};

/*
 * One tracked socket: in its socket-local storage (Linux 5.11+), or in the
 * hash map keyed by key. Times are CLOCK_MONOTONIC nanoseconds
 * (bpf_ktime_get_ns()). Queued bytes are write_seq - snd_una in 32-bit
 * sequence arithmetic.
 */
struct sr_sock {
	__u64 key;		/* the socket's identity for the daemon: its cookie (SO_COOKIE), or
				 * before Linux 5.12 its address, salted (checked by inode then) */
	__u64 bytes_acked;	/* tcp_sock.bytes_acked including the ACK being processed */
	__u64 last_progress_ns; /* last time bytes_acked advanced (or first seen) */
	__u64 queued_since_ns;	/* when the send queue became non-empty; 0 = empty */
	__u64 last_rx_ns;	/* last segment received (tcp_probe); 0 = none seen */
	__u64 first_seen_ns;	/* when the entry was created */
	__u64 state_since_ns;	/* when the socket entered its current state */
	__u64 cgroup_id;	/* cgroup v2 id of the socket (sk_cgrp_data) */
	__u64 ino;		/* socket inode, as in /proc/PID/fd "socket:[ino]"; 0 = unknown */
	__u64 last_read_ns;	/* last time copied_seq was seen to move (or first seen) */
	__u64 synced_ns;	/* storage path: when the candidate copy in sr_cand was last made */
	__u64 retrans_ns;	/* the last retransmission seen (tcp_retransmit_skb); 0 = none */
	__u64 retrans_due_ns;	/* when the retransmission timer it left armed fires at the
				 * latest (twice the RTO then, at most TCP_RTO_MAX); 0 = unknown */
	__u32 saddr[4];		/* IPv4 in saddr[0], network byte order */
	__u32 daddr[4];
	__u32 write_seq;	/* highest sequence queued by the application */
	__u32 snd_una;		/* oldest unacknowledged sequence */
	/* Receive side, refreshed on sends, state changes and sweeps (never per
	 * segment): copied_seq short of rcv_nxt means data, or the peer's FIN,
	 * is still unread by the owner. A FIN counts one in rcv_nxt and, once
	 * read (recv() returned 0), one in copied_seq. */
	__u32 rcv_nxt;
	__u32 copied_seq;
	__u32 snd_wnd;		/* the peer's advertised window (bytes), as of the last
				 * segment received before this one (tcp_probe runs before tcp_ack) */
	__u32 retransmits;	/* segments retransmitted while tracked (tcp_retransmit_skb) */
	__u32 netns_ino;	/* network namespace inode */
	__u32 owner_tgid;	/* the process whose send started the current queue (else the
				 * first seen sending), as a pid of the daemon's pid
				 * namespace; 0 = unknown */
	__u32 segs_in;		/* tcp_sock.segs_in as of the last segment seen: every
				 * segment received, data or not (rx_idle's re-check) */
	__u32 nonce;		/* storage path: which CPU made the record (it alone counts it) */
	__u16 family;		/* AF_INET or AF_INET6 */
	__u16 sport;		/* local port, host byte order */
	__u16 dport;		/* remote port, host byte order */
	__u8 state;		/* enum sr_tcp_state */
	__u8 flags;		/* enum sr_sock_flag */
	__u8 rule;		/* index of the target whose rules apply */
	__u8 pad[7];
	char comm[SR_COMM_LEN];
};

/* What the destroy walk (iter/tcp + bpf_sock_destroy()) reports back; the
 * re-check it makes on the locked socket is sr_recheck() (sr_recheck.h). */
enum sr_destroy_result {
	SR_DESTROY_NOT_FOUND = 0,
	SR_DESTROY_DONE = 1,
	SR_DESTROY_CHANGED = 2,	/* the live socket no longer matches the verdict: untouched */
	SR_DESTROY_WOULD = 3,	/* dry run: it matches, and was left alone */
};

#endif /* SOCKREAP_H */
