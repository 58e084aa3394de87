// SPDX-License-Identifier: GPL-2.0-only
/* sockreap.bpf.c - record per-socket TCP facts; decide nothing.
 *
 * One struct sr_sock per in-scope TCP socket, kept in the socket's own
 * storage (sr_store, BPF_MAP_TYPE_SK_STORAGE: Linux 5.11+ lets tracing
 * programs use it; no capacity anyone can fill, freed with the socket
 * whatever events are missed) or, where the kernel does not allow that, in a
 * bounded hash map keyed by cookie or salted address (sr_socks). Beside it,
 * the candidates (sockets with data queued or in CLOSE_WAIT: those a scan
 * looks at): their keys (sr_hot, hash path), or copies of their records
 * (sr_cand, storage path: the daemon cannot look storage up by key), made on
 * every transition, at most every SR_SYNC_NS after other events, and by the
 * daemon's sweeps. The daemon picks the store before load.
 *
 *   tp_btf/tcp_sendmsg_locked (6.16+), or fentry/tcp_sendmsg_locked: the
 *       owner and queue growth, in the sender's context
 *   fentry/do_tcp_sendpages (before 6.5): sendfile, splice, kTLS
 *   tp_btf/tcp_probe: every received segment: ACK progress, receive time,
 *       the peer's window, the segment count
 *   tp_btf/inet_sock_set_state: state, the FIN in rcv_nxt; entry dropped on
 *       TCP_CLOSE
 *   tp_btf/tcp_retransmit_skb: retransmissions (evidence), the queue
 *   iter/tcp sr_walk: sockets older than the programs, the receive side no
 *       event shows, the backstop walk (one byte out per socket visited)
 *   iter/tcp sr_dump: the storage path's full read (`list`, rx_idle)
 *
 * Every event handler opens the same way (begin(): count, scope, tcp_sock,
 * clock, entry) and then does O(1) work: no loops but the bounded cgroup
 * walk when an entry is made.
 */
#include "core_types.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "sockreap.h"
#include "sr_match.h"

char LICENSE[] SEC("license") = "GPL";

/* Set by the daemon before load. */
const volatile __u32 cfg_netns_ino = 0;	   /* 0 = sockets of every network namespace */
/* Target bitmasks (see SR_MAX_TARGETS): the defined targets, those that
 * select any port, those that select any cgroup. The default: one target,
 * everything. */
const volatile __u32 cfg_targets = 1;
const volatile __u32 cfg_any_port = 1;
const volatile __u32 cfg_any_cgroup = 1;
const volatile bool cfg_port_lookup = false; /* some target selects ports, or --exclude-port */
/* The daemon's pid namespace when it is not the initial one (a sidecar):
 * owners are recorded as pids of that namespace, 0 if not visible there. */
const volatile __u64 cfg_pidns_dev = 0;
const volatile __u64 cfg_pidns_ino = 0;
/* The map key: the socket cookie, or (cfg_key_cookie false: tracing
 * programs may not call bpf_get_socket_cookie() before Linux 5.12) the
 * socket's address, XORed with a random salt so no kernel address leaves
 * the kernel as it is. Probed by the daemon, never assumed. */
const volatile bool cfg_key_cookie = true;
const volatile __u64 cfg_key_salt = 0;
/* The targets that ask to act on sockets with no user-space owner
 * (reap-unowned): only there is a kernel socket ever a candidate. */
const volatile __u32 cfg_unowned_targets = 0;
/* Per-socket state in socket-local storage (true) or the hash map. The
 * other store's code is dead to the verifier and its maps are not created. */
const volatile bool cfg_storage = false;
/* The length of a jiffy in ns (clock_getres(CLOCK_MONOTONIC_COARSE)): dates
 * tcp_sock.rcv_tstamp for the walk. 0 = unknown: a walk dates what it finds
 * as now. */
const volatile __u64 cfg_tick_ns = 0;

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct sr_sock);
} sr_store SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SR_DEFAULT_MAP_CAPACITY); /* resized before load */
	__type(key, __u64);
	__type(value, struct sr_sock);
} sr_socks SEC(".maps");

/* Indexed by local port: the targets selecting it, | SR_PORT_EXCLUDED. An
 * array lookup is inlined by the verifier. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u32);
} sr_ports SEC(".maps");

/* cgroup id -> the targets selecting it (and its descendants). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u64);
	__type(value, __u32);
} sr_cgroups SEC(".maps");

/*
 * The candidates: cookies of tracked sockets that could fire a verdict
 * without any further event (data queued, or in CLOSE_WAIT). The daemon's
 * scan reads this small set instead of every socket, so its cost follows
 * the sockets that can stall, not all sockets. Sized like sr_socks.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SR_DEFAULT_MAP_CAPACITY); /* resized before load */
	__type(key, __u64);
	__type(value, __u8);
} sr_hot SEC(".maps");

/* The storage path's candidates: key -> a copy of the record. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SR_DEFAULT_MAP_CAPACITY); /* resized before load */
	__type(key, __u64);
	__type(value, struct sr_sock);
} sr_cand SEC(".maps");

/* How stale a candidate's copy may grow between transitions, as long as
 * events keep coming (a frozen reader's probe replies, retransmissions to a
 * vanished peer). The daemon judges the copy; before acting, the kill path
 * re-checks the live socket itself. */
#define SR_SYNC_NS 250000000ull

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SR_CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} sr_counters SEC(".maps");

static __always_inline void count_add(__u32 idx, __u64 delta)
{
	__u64 *c = bpf_map_lookup_elem(&sr_counters, &idx);

	if (c)
		*c += delta; /* per-CPU slot: no atomic needed; a "-1" wraps, the sum is right */
}

static __always_inline void count(__u32 idx)
{
	count_add(idx, 1);
}

/* Keep the per-state gauges exact without the daemon reading every entry. */
static __always_inline void state_move(struct sr_sock *e, __u8 state, __u64 now)
{
	count_add(SR_CNT_STATE_BASE + (e->state % SR_TCP_NSTATES), (__u64)-1);
	count_add(SR_CNT_STATE_BASE + (state % SR_TCP_NSTATES), 1);
	e->state = state;
	e->state_since_ns = now;
}

/*
 * The time of an event, on the daemon's clock (CLOCK_MONOTONIC), read at
 * most once per jiffy per CPU: a clock read is the costliest thing these
 * programs did (under kvm-clock, about as much as all the rest of a send).
 * Every event of the same jiffy on this CPU gets the time of the first, at
 * most one tick (1-4 ms) early: an age reads that much older, nothing next to
 * a grace of seconds. (The coarse clock helper would do this for us, but
 * tracing programs may not call it.)
 */
struct sr_tick {
	__u64 jiffies; /* 0 while the slot is being written */
	__u64 ns;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sr_tick);
} sr_clock SEC(".maps");

static __always_inline __u64 sr_now(void)
{
	volatile struct sr_tick *t;
	__u32 zero = 0;
	__u64 j = bpf_jiffies64(), ns;

	t = bpf_map_lookup_elem(&sr_clock, &zero);
	if (!t)
		return bpf_ktime_get_ns();
	if (t->jiffies == j && j)
		return t->ns;
	/* A program that preempts this one on the same CPU (a softirq, or a
	 * task on a preemptible kernel) between the stores must not pair this
	 * jiffy with an old time: the slot reads invalid until both are in. */
	t->jiffies = 0;
	ns = bpf_ktime_get_ns();
	t->ns = ns;
	t->jiffies = j;
	return ns;
}

/* Store only a changed value: a line left unwritten stays shared between the
 * CPUs that read it (the ACKs of one socket are often processed on another
 * CPU than its sends). */
#define set_changed(dst, val)                  \
	do {                                   \
		__typeof__(dst) v_ = (val);    \
		if ((dst) != v_)               \
			(dst) = v_;            \
	} while (0)

/* RFC 793 sequence comparison: is a after b, modulo 2^32? */
static __always_inline bool seq_after(__u32 a, __u32 b)
{
	return (__s32)(a - b) > 0;
}

/*
 * The socket's map key. Unique among live sockets either way: a cookie is
 * never reused, an address only after the socket is freed, and its entry is
 * deleted at TCP_CLOSE, before that. The verifier lets no pointer become a
 * number, so the address is copied out of the stack slot holding it.
 *
 * A cookie, once made, is never changed: read it from the socket itself (a
 * plain load, where the helper costs a call and about a fifth of the ACK
 * path), and ask the helper only to make it, the first time.
 */
static __always_inline __u64 sock_key(const struct sock_common *skc)
{
	__u64 addr = 0;

	if (cfg_key_cookie) {
		__u64 cookie = skc->skc_cookie.counter;

		return cookie ? cookie : bpf_get_socket_cookie((void *)skc);
	}
	bpf_probe_read_kernel(&addr, sizeof(addr), &skc);
	return addr ^ cfg_key_salt;
}

/* Cheap checks done on every event, before the cookie and the map lookup. */
static __always_inline bool in_netns(const struct sock *sk)
{
	unsigned short family = sk->__sk_common.skc_family;

	if (family != AF_INET && family != AF_INET6)
		return false;
	if (cfg_netns_ino && sk->__sk_common.skc_net.net->ns.inum != cfg_netns_ino)
		return false;
	return true;
}

/*
 * The socket's cgroup v2. Before 5.15 sock_cgroup_data is one word holding
 * either the cgroup pointer or (low bit set) net_prio/net_cls data, in
 * which case the cgroup is not known: NULL, and no --cgroup target matches.
 */
static __always_inline struct cgroup *sock_cgroup(const struct sock *sk)
{
	const struct sock___old *old = (const void *)sk;
	__u64 v;

	if (bpf_core_field_exists(sk->sk_cgrp_data.cgroup))
		return BPF_CORE_READ(sk, sk_cgrp_data.cgroup);
	v = BPF_CORE_READ(old, sk_cgrp_data.val);
	return (v & 1) ? NULL : (struct cgroup *)v;
}

/* The id of the cgroup's ancestor at level i (ids inline before 5.15). */
static __always_inline __u64 cgroup_ancestor_id(struct cgroup *cg, int i)
{
	const struct cgroup___old *old = (const void *)cg;

	if (bpf_core_field_exists(cg->ancestors))
		return BPF_CORE_READ(cg, ancestors[i], kn, id);
	return BPF_CORE_READ(old, ancestor_ids[i]);
}

/* The targets selecting the socket's cgroup or one of its ancestors. */
static __always_inline __u32 cgroup_targets(const struct sock *sk)
{
	struct cgroup *cg = sock_cgroup(sk);
	__u32 mask = 0;
	int level;

	if (!cg)
		return 0;
	level = BPF_CORE_READ(cg, level);
	for (int i = 0; i < SR_CGROUP_MAX_DEPTH; i++) {
		__u32 *m;
		__u64 id;

		if (i > level)
			break;
		id = cgroup_ancestor_id(cg, i);
		m = bpf_map_lookup_elem(&sr_cgroups, &id);
		if (m)
			mask |= *m;
	}
	return mask;
}

/*
 * The index of the first target selecting the socket, or -1. Checked only
 * when an entry would be created: a socket's port and cgroup never change,
 * so a tracked socket keeps its target for good.
 */
static __always_inline int match_target(const struct sock *sk)
{
	__u32 port_sel = 0, cgroup_sel = 0;

	if (cfg_port_lookup) {
		__u32 port = sk->__sk_common.skc_num;
		__u32 *pm = bpf_map_lookup_elem(&sr_ports, &port);

		if (pm)
			port_sel = *pm;
	}
	/* The ancestor walk only when some target selects by cgroup. */
	if (cfg_targets & ~cfg_any_cgroup)
		cgroup_sel = cgroup_targets(sk);
	return sr_match_target(cfg_targets, cfg_any_port, port_sel, cfg_any_cgroup, cgroup_sel);
}

static __always_inline void fill_identity(struct sr_sock *e, const struct sock *sk)
{
	const struct sock_common *skc = &sk->__sk_common;

	e->family = skc->skc_family;
	e->sport = skc->skc_num;
	e->dport = bpf_ntohs(skc->skc_dport);
	if (e->family == AF_INET) {
		e->saddr[0] = skc->skc_rcv_saddr;
		e->daddr[0] = skc->skc_daddr;
	} else {
		BPF_CORE_READ_INTO(&e->saddr, skc, skc_v6_rcv_saddr.in6_u.u6_addr32);
		BPF_CORE_READ_INTO(&e->daddr, skc, skc_v6_daddr.in6_u.u6_addr32);
	}
	e->netns_ino = skc->skc_net.net->ns.inum;
	{
		struct cgroup *cg = sock_cgroup(sk);

		e->cgroup_id = cg ? BPF_CORE_READ(cg, kn, id) : 0;
	}
}

/* The socket's inode is known once it is attached to a file (after accept). */
static __always_inline void refresh_ino(struct sr_sock *e, const struct sock *sk)
{
	if (!e->ino)
		e->ino = BPF_CORE_READ(sk, sk_socket, file, f_inode, i_ino);
}

/* Is e worth the daemon's look without any further event: data queued, or
 * in CLOSE_WAIT? A kernel socket (NFS, an MPTCP subflow) has no owner to
 * wake: it never is unless its target asks, so however long it stalls it
 * costs the scans nothing. */
static __always_inline bool candidate(const struct sr_sock *e)
{
	if ((e->flags & SR_F_KERNEL) && !(cfg_unowned_targets & (1u << (e->rule % SR_MAX_TARGETS))))
		return false;
	return e->state == SR_TCP_CLOSE_WAIT || (e->queued_since_ns && e->state == SR_TCP_ESTABLISHED);
}

/*
 * Code for one store and code for the other must stay on their own branches:
 * the compiler would otherwise merge two map calls into one on a selected
 * map pointer, and the verifier would meet the map the other store never
 * created (libbpf poisons its references). An empty asm on one side stops it.
 */
#define keep_apart() asm volatile("" ::: "memory")

/* Into the candidate set: its key (hash path), or a copy of its record. */
static __always_inline void hot_add(struct sr_sock *e, __u64 now)
{
	__u8 one = 1;
	long err;

	if (!candidate(e))
		return;
	if (cfg_storage) {
		e->synced_ns = now;
		err = bpf_map_update_elem(&sr_cand, &e->key, e, BPF_ANY);
		keep_apart();
	} else {
		err = bpf_map_update_elem(&sr_hot, &e->key, &one, BPF_ANY);
	}
	if (err)
		count(SR_CNT_HOT_FULL);
}

static __always_inline void hot_del(const struct sr_sock *e)
{
	if (cfg_storage) {
		bpf_map_delete_elem(&sr_cand, &e->key);
		keep_apart();
	} else {
		bpf_map_delete_elem(&sr_hot, &e->key);
	}
}

/* After an event changed a candidate's record: its copy follows, at most
 * every SR_SYNC_NS (a busy sender's ACKs would otherwise each pay for it). */
static __always_inline void hot_sync(struct sr_sock *e, __u64 now)
{
	if (cfg_storage && now - e->synced_ns >= SR_SYNC_NS)
		hot_add(e, now);
}

/* The entry of sk, or NULL: it is not tracked. On the storage path one
 * lookup in the socket's own storage list, no key needed. */
static __always_inline struct sr_sock *entry_find(const struct sock *sk)
{
	__u64 key;

	if (cfg_storage)
		return bpf_sk_storage_get(&sr_store, (void *)sk, NULL, 0);
	key = sock_key(&sk->__sk_common);
	return bpf_map_lookup_elem(&sr_socks, &key);
}

/*
 * Create the entry of sk, if the socket is in a target. A full map (or, for
 * storage, no memory) is counted and the socket simply stays untracked:
 * never fatal, and the next event retries. A function of its own (a BPF
 * subprogram): inlined, the compiler zeroed the new record on the stack on
 * every event, before the lookup that almost always finds it.
 */
static __noinline struct sr_sock *entry_create(const struct sock *sk, const struct tcp_sock *tp,
					       __u64 now, __u8 flags)
{
	struct sr_sock fresh = {}, *e;
	long err;
	int rule;

	if (!sk || !tp)
		return NULL;
	rule = match_target(sk);
	if (rule < 0)
		return NULL;
	fill_identity(&fresh, sk);
	fresh.key = sock_key(&sk->__sk_common);
	fresh.rule = rule;
	fresh.state = sk->__sk_common.skc_state;
	fresh.flags = flags;
	if (BPF_CORE_READ_BITFIELD_PROBED(sk, sk_kern_sock))
		fresh.flags |= SR_F_KERNEL;
	fresh.segs_in = tp->segs_in;
	fresh.write_seq = tp->write_seq;
	fresh.snd_una = tp->snd_una;
	fresh.bytes_acked = tp->bytes_acked;
	fresh.rcv_nxt = tp->rcv_nxt;
	fresh.copied_seq = tp->copied_seq;
	fresh.snd_wnd = tp->snd_wnd;
	/* Nothing is known of the past: count from now, so a socket is never
	 * judged stalled for longer than it has been watched. */
	fresh.last_progress_ns = now;
	fresh.first_seen_ns = now;
	fresh.state_since_ns = now;
	fresh.last_read_ns = now;
	if (fresh.write_seq != fresh.snd_una)
		fresh.queued_since_ns = now;
	if (cfg_storage) {
		/* Made from fresh, or the one another CPU made an instant before:
		 * only the CPU whose nonce it carries counts it. */
		fresh.nonce = bpf_get_prandom_u32();
		e = bpf_sk_storage_get(&sr_store, (void *)sk, &fresh, BPF_SK_STORAGE_GET_F_CREATE);
		if (!e) /* no memory, or another CPU's record won the race: look again */
			e = bpf_sk_storage_get(&sr_store, (void *)sk, NULL, 0);
		if (!e) {
			count(SR_CNT_MAP_FULL);
			return NULL;
		}
		if (e->nonce == fresh.nonce) {
			count(SR_CNT_INSERTS);
			if (e->flags & SR_F_KERNEL)
				count(SR_CNT_KERNEL);
			count(SR_CNT_STATE_BASE + (e->state % SR_TCP_NSTATES));
			hot_add(e, now);
		}
		return e;
	}
	err = bpf_map_update_elem(&sr_socks, &fresh.key, &fresh, BPF_NOEXIST);
	if (err && err != -SR_EEXIST /* raced with another CPU */) {
		count(SR_CNT_MAP_FULL);
		return NULL;
	}
	if (!err) {
		count(SR_CNT_INSERTS);
		if (fresh.flags & SR_F_KERNEL)
			count(SR_CNT_KERNEL);
		count(SR_CNT_STATE_BASE + (fresh.state % SR_TCP_NSTATES));
		hot_add(&fresh, now);
	}
	return bpf_map_lookup_elem(&sr_socks, &fresh.key);
}

/* The entry of sk, created when absent (NULL: not tracked). */
static __always_inline struct sr_sock *entry_get(const struct sock *sk, const struct tcp_sock *tp,
						  __u64 now, __u8 flags)
{
	struct sr_sock *e = entry_find(sk);

	return e ? e : entry_create(sk, tp, now, flags);
}

/* Forget sk (it closed). Its storage would go with the socket anyway, but
 * then neither its candidate copy nor the counts would follow. */
static __always_inline void entry_drop(const struct sock *sk, struct sr_sock *e)
{
	count_add(SR_CNT_STATE_BASE + (e->state % SR_TCP_NSTATES), (__u64)-1);
	if (e->flags & SR_F_KERNEL)
		count_add(SR_CNT_KERNEL, (__u64)-1);
	hot_del(e);
	if (cfg_storage) {
		/* Gone for the counts whatever the delete says: a record the
		 * kernel would not delete now (its storage lock can refuse)
		 * stays on the closed socket until it is freed, where no walk
		 * sees it; marked closed for any read that would. Counted, so
		 * that a census correction can say whether this happened. */
		if (bpf_sk_storage_delete(&sr_store, (void *)sk)) {
			e->state = SR_TCP_CLOSE;
			count(SR_CNT_DEL_REFUSED);
		}
		count(SR_CNT_DELETES);
	} else if (bpf_map_delete_elem(&sr_socks, &e->key) == 0) {
		count(SR_CNT_DELETES);
	}
}

/* What every event handler has in hand once begin() let it through. */
struct ev {
	const struct tcp_sock *tp;
	struct sr_sock *e;
	__u64 now;
};

/* States a handler looks at (bit i: state i). */
#define IN_EST (1u << SR_TCP_ESTABLISHED)
#define IN_EST_CW (IN_EST | (1u << SR_TCP_CLOSE_WAIT))

/*
 * The opening every event handler shares: count the event, keep TCP sockets
 * of the watched namespaces in the given states (0: any), take the tcp_sock,
 * read the clock, find the entry, or make it when create says so. false:
 * nothing to do for this event.
 */
static __always_inline bool begin(struct ev *x, __u32 counter, const struct sock *sk, __u32 states,
				  bool create)
{
	count(counter);
	if (!in_netns(sk))
		return false;
	if (states && !((1u << (sk->__sk_common.skc_state & 31)) & states))
		return false;
	x->tp = bpf_skc_to_tcp_sock((void *)sk);
	if (!x->tp)
		return false;
	x->now = sr_now();
	x->e = create ? entry_get(sk, x->tp, x->now, 0) : entry_find(sk);
	return x->e != NULL;
}

/*
 * A rise of the acked-bytes counter is ACK progress. It can also fall: the
 * ACK number sr_on_probe adds ahead of tcp_ack() may be refused there, and
 * the next read corrects it downwards. That correction is not progress.
 */
static __always_inline void note_acked(struct sr_sock *e, __u64 acked, __u64 now)
{
	if (acked > e->bytes_acked)
		set_changed(e->last_progress_ns, now);
	set_changed(e->bytes_acked, acked);
}

/* The owner's reads: copied_seq moving is the owner consuming data (or the FIN). */
static __always_inline void note_read(struct sr_sock *e, const struct tcp_sock *tp, __u64 now)
{
	__u32 copied = tp->copied_seq;

	if (copied != e->copied_seq) {
		e->last_read_ns = now;
		e->copied_seq = copied;
	}
	set_changed(e->rcv_nxt, tp->rcv_nxt);
}

/*
 * Queue bookkeeping, on the transitions only; true when the queue starts.
 * empty -> queued puts the socket in the candidate set, queued -> empty
 * takes it out (unless it is waiting in CLOSE_WAIT, a candidate for
 * peer_gone), so the set holds the sockets queued now, and a scan's cost
 * follows them rather than every socket active lately.
 */
static __always_inline bool note_queue(struct sr_sock *e, __u64 now)
{
	if (e->write_seq == e->snd_una) {
		if (e->queued_since_ns) {
			e->queued_since_ns = 0;
			if (e->state != SR_TCP_CLOSE_WAIT)
				hot_del(e);
		}
	} else if (!e->queued_since_ns) {
		e->queued_since_ns = now;
		hot_add(e, now);
		return true;
	}
	hot_sync(e, now);
	return false;
}

/* The send side as tcp_sock has it now (write_seq: what the caller counts as
 * queued): ACK progress, the queue, the candidate set. */
static __always_inline bool note_tx(struct sr_sock *e, const struct tcp_sock *tp, __u32 write_seq,
				    __u64 now)
{
	note_acked(e, tp->bytes_acked, now);
	set_changed(e->snd_una, tp->snd_una);
	set_changed(e->write_seq, write_seq);
	return note_queue(e, now);
}

/* The sending process, as a pid of the daemon's pid namespace (0: not visible there). */
static __always_inline void note_owner(struct sr_sock *e)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	if (cfg_pidns_ino) {
		struct bpf_pidns_info ns = {};

		tgid = bpf_get_ns_current_pid_tgid(cfg_pidns_dev, cfg_pidns_ino, &ns, sizeof(ns))
			       ? 0
			       : ns.tgid;
	}
	if (e->owner_tgid != tgid || !(e->flags & SR_F_OWNER_SEEN)) {
		e->owner_tgid = tgid;
		e->flags |= SR_F_OWNER_SEEN;
		bpf_get_current_comm(e->comm, sizeof(e->comm));
	}
}

/*
 * A send, in the sender's context with the socket locked: every ACK so far
 * has been processed. pending is what the message has left to copy, not yet
 * in write_seq; counting it may over-count a send that returns short, and
 * the next ACK re-reads write_seq.
 */
static __always_inline int on_send(const struct sock *sk, __u32 pending)
{
	struct ev x;
	bool started;

	if (!begin(&x, SR_CNT_EV_SEND, sk, IN_EST_CW, true))
		return 0;
	note_read(x.e, x.tp, x.now);
	started = note_tx(x.e, x.tp, x.tp->write_seq + pending, x.now);
	/* The owner is the process whose send started the queue (the one a
	 * stall blocks), or the first seen sending: not looked up on every
	 * send. It is a hint; the reaper finds the holder through /proc when
	 * the fd has moved. */
	if (started || !(x.e->flags & SR_F_OWNER_SEEN))
		note_owner(x.e);
	refresh_ino(x.e, sk);
	return 0;
}

/* Linux 6.16+: fires in tcp_sendmsg_locked's copy loop, before each chunk is queued. */
SEC("tp_btf/tcp_sendmsg_locked")
int BPF_PROG(sr_on_sendmsg, const struct sock *sk, const struct msghdr *msg,
	     const struct sk_buff *skb, int size_goal)
{
	return on_send(sk, (__u32)msg->msg_iter.count);
}

/*
 * Before the tracepoint exists: the same facts at the function's entry,
 * where the kernel allows fentry (no lockdown). The daemon asks before load
 * whether it does, and else takes the sweep path.
 */
SEC("fentry/tcp_sendmsg_locked")
int BPF_PROG(sr_on_sendmsg_fentry, struct sock *sk, struct msghdr *msg, __u64 size)
{
	return on_send(sk, (__u32)msg->msg_iter.count);
}

/*
 * Before Linux 6.5 sendfile(), splice() and kTLS send through
 * do_tcp_sendpages(), never through tcp_sendmsg_locked(): without this a
 * sendfile() write behind a zero window to a peer that then vanished would
 * show in no event. Loaded where the kernel has the function and takes fentry.
 */
SEC("fentry/do_tcp_sendpages")
int BPF_PROG(sr_on_sendpage_fentry, struct sock *sk, struct page *page, int offset, __u64 size)
{
	return on_send(sk, (__u32)size);
}

/*
 * Fires at the start of tcp_rcv_established for every segment received on an
 * ESTABLISHED socket, before tcp_ack() runs: tcp_sock still holds the values
 * from before this segment, so the new snd_una comes from the segment's own
 * ACK number (accepted only if it acknowledges something sent). A zero-window
 * probe's ACK repeats snd_una and is not progress.
 */
SEC("tp_btf/tcp_probe")
int BPF_PROG(sr_on_probe, struct sock *sk, const struct sk_buff *skb)
{
	const struct tcp_skb_cb *cb;
	struct sr_sock *e;
	__u64 acked;
	__u32 una, ack;
	struct ev x;

	/* tcp_probe fires only for ESTABLISHED sockets: no state test. */
	if (!begin(&x, SR_CNT_EV_PROBE, sk, 0, true))
		return 0;
	e = x.e;
	/* sr_now() moves once per jiffy: this store does too, not per segment. */
	set_changed(e->last_rx_ns, x.now);
	/* Every segment: rx_idle's re-check compares this count with the live
	 * socket's, and a count kept per jiffy would miss a burst's tail. */
	e->segs_in = x.tp->segs_in;
	/* A frozen reader's kernel answers window probes with a zero window:
	 * keep what the peer advertises (it lags this segment by one). */
	set_changed(e->snd_wnd, x.tp->snd_wnd);
	una = x.tp->snd_una;
	acked = x.tp->bytes_acked;
	/* The segment's ACK, already parsed by TCP into skb->cb: no copy. */
	cb = (const struct tcp_skb_cb *)skb->cb;
	if (cb->tcp_flags & SR_TCPHDR_ACK) {
		ack = cb->ack_seq;
		if (seq_after(ack, una) && !seq_after(ack, x.tp->snd_nxt)) {
			acked += ack - una;
			una = ack;
		}
	}
	/* Most segments change nothing but the receive time (pure data to a
	 * reader, duplicate ACKs, zero-window probe replies): stop here, unless
	 * the entry's queue mark disagrees with the queue. The sender's CPU and
	 * this one update the entry without a lock: an ACK that emptied the
	 * queue can clear the mark just after a send re-filled it, and if that
	 * was the last send (the window closed) only this check re-sets it, at
	 * the next zero-window probe's reply. Otherwise the stall is never seen. */
	if (acked == e->bytes_acked && una == e->snd_una && x.tp->write_seq == e->write_seq &&
	    e->ino && (x.tp->write_seq != una) == (e->queued_since_ns != 0)) {
		/* Nothing new, but a candidate's copy may lag what changed since it
		 * was made (the last progress before a stall): let it catch up. */
		if (e->queued_since_ns)
			hot_sync(e, x.now);
		return 0;
	}
	note_acked(e, acked, x.now);
	set_changed(e->snd_una, una);
	/* Usually unchanged here, and the sender's CPU writes it: a store
	 * would pull its line over on every ACK. */
	set_changed(e->write_seq, x.tp->write_seq);
	note_queue(e, x.now);
	refresh_ino(e, sk);
	return 0;
}

/* Often runs in softirq context: the current task is not the owner here. */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(sr_on_state, const struct sock *sk, const int oldstate, const int newstate)
{
	bool create = newstate == SR_TCP_ESTABLISHED || newstate == SR_TCP_CLOSE_WAIT;
	struct ev x;

	/* The only tracepoint here that fires for other protocols too (MPTCP). */
	if (sk->sk_protocol != IPPROTO_TCP) {
		count(SR_CNT_EV_STATE);
		return 0;
	}
	if (!begin(&x, SR_CNT_EV_STATE, sk, 0, create))
		return 0;
	if (newstate == SR_TCP_CLOSE) {
		entry_drop(sk, x.e);
		return 0;
	}
	if (x.e->state != newstate) {
		state_move(x.e, newstate, x.now);
		/* The FIN is in rcv_nxt now; the owner has not read it yet. */
		if (newstate == SR_TCP_CLOSE_WAIT)
			note_read(x.e, x.tp, x.now);
		/* In the candidates or out, as the new state has it (FIN_WAIT1 after
		 * the owner's own close is no candidate: a copy must not linger). */
		if (candidate(x.e))
			hot_add(x.e, x.now);
		else
			hot_del(x.e);
	}
	refresh_ino(x.e, sk);
	return 0;
}

/*
 * A retransmission, and when the timer it leaves armed fires at the latest:
 * after a timeout's retransmission the kernel doubles the RTO (a fast
 * retransmission keeps it), TCP_RTO_MAX at most. Under memory pressure a live
 * socket's timer backs off like a dead one's; the daemon holds its verdict
 * until that timer has had its chance (policy.c). Without the jiffy's length
 * the time is unknown: 0.
 */
static __always_inline void note_retrans(struct sr_sock *e, const struct tcp_sock *tp, __u64 now)
{
	const struct inet_connection_sock *icsk = (const void *)tp;
	__u64 rto = (__u64)icsk->icsk_rto * cfg_tick_ns * 2;

	__sync_fetch_and_add(&e->retransmits, 1);
	e->retrans_ns = now;
	e->retrans_due_ns = cfg_tick_ns ? now + (rto < SR_RTO_MAX_NS ? rto : SR_RTO_MAX_NS) : 0;
}

/*
 * A retransmission: evidence that the peer is not acknowledging. Counted,
 * and the queue noted: before Linux 6.16 without fentry (no send hook) this
 * and the ACK path are what reveal data queued to a silent peer, so the
 * daemon need not walk every socket each scan. Rare: free in steady state.
 */
SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(sr_on_retransmit, const struct sock *sk, const struct sk_buff *skb)
{
	struct ev x;

	if (!begin(&x, SR_CNT_EV_RETRANS, sk, IN_EST_CW, true))
		return 0;
	note_retrans(x.e, x.tp, x.now);
	note_tx(x.e, x.tp, x.tp->write_seq, x.now);
	refresh_ino(x.e, sk);
	return 0;
}

/* Set by the daemon around a backstop sweep (no send hook, see daemon.c):
 * then only a socket with data queued, or in CLOSE_WAIT, is worth a lookup.
 * Every other one is tracked already (state changes create entries) or
 * cannot fire a verdict without an event that the programs see. */
volatile bool walk_queued_only;

/*
 * When the segments the walk found and no event showed arrived: the later of
 * the kernel's own two receive times (jiffies), the last data segment
 * (icsk_ack.lrcvtime) and the last ACK tcp_ack() accepted (rcv_tstamp: every
 * segment that acknowledges no less than an earlier one; the fast path skips
 * tcp_ack() for data that acknowledges nothing new, hence both), dated back
 * from now and one jiffy earlier still: `now` is that of the first event of
 * this jiffy on this CPU, so the result is the start of the segment's jiffy
 * or before it, never after. A reply that came before the send stall's clock
 * started then never reads as heard after it (the cause label), and one that
 * came after it does; dated as now, a vanished peer's last reply, skipped by
 * tcp_probe, read as a sign of life after the clock started. If that time is
 * more than a jiffy before the last one recorded (the unseen segments carried
 * older ACKs and no data), or the jiffy's length is unknown: now, so rx_idle
 * restarts its clock, never early.
 */
static __always_inline __u64 unseen_rx_time(const struct sr_sock *e, const struct tcp_sock *tp, __u64 now)
{
	const struct inet_connection_sock *icsk = (const void *)tp;
	__u32 j = (__u32)bpf_jiffies64(), ack_age = j - tp->rcv_tstamp, data_age = j - icsk->icsk_ack.lrcvtime;
	__u64 back = ((__u64)(ack_age < data_age ? ack_age : data_age) + 1) * cfg_tick_ns;

	if (!cfg_tick_ns || back >= now || now - back + cfg_tick_ns < e->last_rx_ns)
		return now;
	return now - back > e->last_rx_ns ? now - back : e->last_rx_ns;
}

/*
 * Walks every TCP socket of the network namespace the iterator was created
 * in: records sockets that existed before the tracepoints were attached (a
 * half-open peer sends nothing, so no event would ever reveal it) and
 * refreshes the queue figures of those already tracked.
 *
 * One byte out per socket visited: a read of n bytes then walks about n
 * sockets and the next read resumes there, so the daemon can spread a walk
 * over several scans (tracker_backstop_step).
 */
SEC("iter/tcp")
int sr_walk(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	const struct tcp_sock *tp;
	const struct sock *sk;
	struct sr_sock *e;
	__u8 state, mark = 0;
	__u64 now;

	if (!skc)
		return 0;
	bpf_seq_write(ctx->meta->seq, &mark, sizeof(mark));
	state = skc->skc_state;
	if (state != SR_TCP_ESTABLISHED && state != SR_TCP_CLOSE_WAIT)
		return 0;
	tp = bpf_skc_to_tcp_sock(skc);
	if (!tp)
		return 0;
	if (walk_queued_only && state == SR_TCP_ESTABLISHED && tp->write_seq == tp->snd_una)
		return 0;
	sk = (const struct sock *)tp;
	if (!in_netns(sk))
		return 0;
	count(SR_CNT_EV_WALK);
	now = sr_now();
	e = entry_get(sk, tp, now, SR_F_SWEPT);
	if (!e)
		return 0;
	note_read(e, tp, now);
	set_changed(e->snd_wnd, tp->snd_wnd);
	if (e->state != state) /* a state change the map missed (full at the time) */
		state_move(e, state, now);
	/* Segments tcp_probe did not see (an event the kernel skipped, see
	 * recursion_misses): the peer was heard from at some point since. */
	if (state == SR_TCP_ESTABLISHED && tp->segs_in != e->segs_in) {
		e->segs_in = tp->segs_in;
		e->last_rx_ns = unseen_rx_time(e, tp, now);
	}
	note_tx(e, tp, tp->write_seq, now);
	refresh_ino(e, sk);
	if (state == SR_TCP_CLOSE_WAIT || candidate(e))
		hot_add(e, now);
	return 0;
}

/*
 * The storage path's full read (`list`, and scans when some target has
 * rx_idle): the record of every tracked socket of this namespace, or only
 * those worth a scan's look (candidates, and sockets silent for half their
 * target's idle timeout), one struct sr_sock each. A walk of the namespace's
 * sockets: socket storage cannot be listed any other way on every kernel.
 */
__u32 dump_all;					/* every record, not only the worthwhile */
__u64 dump_idle_after_ns[SR_MAX_TARGETS];	/* per target: silent this long makes a
						 * socket worth a look (0: no rx_idle) */

SEC("iter/tcp")
int sr_dump(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	const struct tcp_sock *tp;
	struct sr_sock *e;
	__u64 idle_after, heard;

	if (!skc || !cfg_storage)
		return 0;
	tp = bpf_skc_to_tcp_sock(skc);
	if (!tp)
		return 0;
	e = bpf_sk_storage_get(&sr_store, (void *)tp, NULL, 0);
	if (!e || e->state == SR_TCP_CLOSE)
		return 0;
	if (!dump_all && !candidate(e)) {
		if ((e->flags & SR_F_KERNEL) && !(cfg_unowned_targets & (1u << (e->rule % SR_MAX_TARGETS))))
			return 0;
		idle_after = dump_idle_after_ns[e->rule % SR_MAX_TARGETS];
		heard = e->last_rx_ns > e->first_seen_ns ? e->last_rx_ns : e->first_seen_ns;
		if (!idle_after || e->state != SR_TCP_ESTABLISHED || bpf_ktime_get_ns() - heard < idle_after)
			return 0;
	}
	bpf_seq_write(ctx->meta->seq, e, sizeof(*e));
	return 0;
}
