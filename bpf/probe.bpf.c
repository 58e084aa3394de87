// SPDX-License-Identifier: GPL-2.0
/* probe.bpf.c - loaded, never attached: does this kernel let tracing
 * programs call bpf_get_socket_cookie() (Linux 5.12+)? The daemon keys its
 * map by cookie if so, by socket address otherwise. */
#include "core_types.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(sr_probe_cookie, const struct sock *sk, const int oldstate, const int newstate)
{
	return bpf_get_socket_cookie((void *)sk) == 0;
}
