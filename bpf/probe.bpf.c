// SPDX-License-Identifier: GPL-2.0-only
/* probe.bpf.c - loaded, never attached: what this kernel lets the daemon do,
 * asked before the real programs load (libbpf-tools' fentry_can_attach()).
 * The daemon loads one program of this object at a time:
 *   sr_probe_cookie  may tracing programs call bpf_get_socket_cookie() (5.12+)?
 *                    The map is keyed by cookie if so, by socket address if not.
 *   sr_probe_fentry  does the kernel take an fentry program on a function (its
 *                    attach target is set before load)? Lockdown refuses them.
 *   sr_probe_storage may tracing programs use socket-local storage (5.11+)?
 *                    Per-socket state lives there if so, in a hash map if not.
 */
#include "core_types.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(sr_probe_cookie, const struct sock *sk, const int oldstate, const int newstate)
{
	return bpf_get_socket_cookie((void *)sk) == 0;
}

SEC("fentry/tcp_sendmsg_locked")
int BPF_PROG(sr_probe_fentry)
{
	return 0;
}

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u64);
} sr_probe_store SEC(".maps");

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(sr_probe_storage, const struct sock *sk, const int oldstate, const int newstate)
{
	return bpf_sk_storage_get(&sr_probe_store, (void *)sk, NULL, 0) != NULL;
}
