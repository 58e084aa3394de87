// SPDX-License-Identifier: GPL-2.0-only
/* destroy.bpf.c - the kernel-side kill, in an object of its own.
 *
 * Loaded only when the kernel's BTF has the bpf_sock_destroy() kfunc (Linux
 * 6.5+). Kept apart from sockreap.bpf.c because libbpf resolves a kfunc
 * extern for the whole object: on a kernel without it, libbpf 1.1 then
 * searches module BTF, which needs CAP_SYS_ADMIN, and the main programs
 * would not load with the documented capabilities.
 */
#include "core_types.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "sockreap.h"
#include "sr_recheck.h"

char LICENSE[] SEC("license") = "GPL";

/*
 * The kernel-side kill: bpf_sock_destroy() on the socket whose cookie is
 * destroy_cookie, from an iter/tcp walk of its namespace (the kfunc is
 * allowed only there; Linux 6.5+). The walk holds the socket lock, so the
 * verdict is re-checked on the live socket with the reaper's own predicate
 * (sr_recheck.h) before acting; a dry run stops right there.
 */
extern int bpf_sock_destroy(struct sock_common *sk) __ksym;

__u64 destroy_cookie = 0;
struct sr_expect destroy_expect = {};
__u32 destroy_dry_run = 0;
__u32 destroy_recheck = SR_RECHECK_DEAD; /* with SR_DESTROY_CHANGED: why */
int destroy_result = SR_DESTROY_NOT_FOUND; /* enum sr_destroy_result, or <0 = kfunc error */

/* A user-space file holds it: accepted (a socket in a listener's accept
 * queue has no struct socket yet) and not a kernel socket (NFS, MPTCP
 * subflows: no file, or sk_kern_sock). */
static __always_inline __u32 owned(const struct sock *sk)
{
	struct socket *so = sk->sk_socket;

	if (!so || !BPF_CORE_READ(so, file))
		return 0;
	return !BPF_CORE_READ_BITFIELD_PROBED(sk, sk_kern_sock);
}

SEC("iter/tcp")
int sr_destroy(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	const struct tcp_sock *tp;
	struct sr_live live;
	int err;

	if (!skc || !destroy_cookie || bpf_get_socket_cookie(skc) != destroy_cookie)
		return 0;
	tp = bpf_skc_to_tcp_sock(skc);
	if (!tp)
		return 0;
	live.bytes_acked = tp->bytes_acked;
	live.state = skc->skc_state;
	live.queued = tp->write_seq - tp->snd_una;
	live.rcv_nxt = tp->rcv_nxt;
	live.copied_seq = tp->copied_seq;
	live.segs_in = tp->segs_in;
	live.owned = owned((const struct sock *)tp);
	destroy_recheck = sr_recheck(&destroy_expect, &live);
	if (destroy_recheck != SR_RECHECK_DEAD) {
		destroy_result = SR_DESTROY_CHANGED;
		return 0;
	}
	if (destroy_dry_run) {
		destroy_result = SR_DESTROY_WOULD;
		return 0;
	}
	err = bpf_sock_destroy(skc);
	destroy_result = err ? err : SR_DESTROY_DONE;
	return 0;
}
