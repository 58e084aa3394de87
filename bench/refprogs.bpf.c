// SPDX-License-Identifier: GPL-2.0-only
/* refprogs.bpf.c - reference programs for the per-event cost bench.
 *
 * Attached next to the daemon's own programs on the same tracepoints, in the
 * same run, so the cost of sr_on_probe and sr_on_sendmsg is read against
 * what the machine charges for attaching anything at all (an empty program)
 * and for the least useful work a tracking program can do (one hash-map
 * update per event), not as nanoseconds that vary 2-3x between days.
 */
#include "core_types.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

/* One counter per connection, keyed by the socket's port pair: a plain field
 * read, so the reference pays for the hash update and nothing else. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u64);
} ref_counts SEC(".maps");

static __always_inline void one_update(const struct sock *sk)
{
	__u32 key = sk->__sk_common.skc_num | (__u32)sk->__sk_common.skc_dport << 16;
	__u64 *v = bpf_map_lookup_elem(&ref_counts, &key);
	__u64 one = 1;

	if (v)
		__sync_fetch_and_add(v, 1);
	else
		bpf_map_update_elem(&ref_counts, &key, &one, BPF_NOEXIST);
}

SEC("tp_btf/tcp_probe")
int BPF_PROG(ref_probe_empty, struct sock *sk, const struct sk_buff *skb)
{
	return 0;
}

SEC("tp_btf/tcp_probe")
int BPF_PROG(ref_probe_hash, struct sock *sk, const struct sk_buff *skb)
{
	one_update(sk);
	return 0;
}

SEC("tp_btf/tcp_sendmsg_locked")
int BPF_PROG(ref_send_empty, const struct sock *sk, const struct msghdr *msg,
	     const struct sk_buff *skb, int size_goal)
{
	return 0;
}

SEC("tp_btf/tcp_sendmsg_locked")
int BPF_PROG(ref_send_hash, const struct sock *sk, const struct msghdr *msg,
	     const struct sk_buff *skb, int size_goal)
{
	one_update(sk);
	return 0;
}
