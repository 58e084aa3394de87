// SPDX-License-Identifier: GPL-2.0
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

char LICENSE[] SEC("license") = "GPL";

/*
 * The kill fallback, when no owner fd can be had (owner in a pid namespace
 * the daemon cannot see, ptrace denied): bpf_sock_destroy() on the socket
 * whose cookie is destroy_cookie, from an iter/tcp walk of its namespace
 * (the kfunc is allowed only there; Linux 6.5+). The walk holds the socket
 * lock, so the verdict is re-checked on the live socket before acting
 * (enum sr_destroy_check); a dry run stops right there.
 */
extern int bpf_sock_destroy(struct sock_common *sk) __ksym;

__u64 destroy_cookie = 0;
__u64 destroy_expect_acked = 0;
__u32 destroy_expect_state = 0;
__u32 destroy_check = SR_CHECK_STATE;
__u32 destroy_dry_run = 0;
int destroy_result = SR_DESTROY_NOT_FOUND; /* enum sr_destroy_result, or <0 = kfunc error */

static __always_inline bool destroy_still_dead(const struct sock_common *skc,
					       const struct tcp_sock *tp)
{
	if (skc->skc_state != destroy_expect_state)
		return false;
	switch (destroy_check) {
	case SR_CHECK_SEND_STALL:
		return tp->bytes_acked == destroy_expect_acked && tp->write_seq != tp->snd_una;
	case SR_CHECK_UNREAD:
		return tp->copied_seq != tp->rcv_nxt;
	default:
		return true;
	}
}

SEC("iter/tcp")
int sr_destroy(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	const struct tcp_sock *tp;
	int err;

	if (!skc || !destroy_cookie || bpf_get_socket_cookie(skc) != destroy_cookie)
		return 0;
	tp = bpf_skc_to_tcp_sock(skc);
	if (!tp)
		return 0;
	if (!destroy_still_dead(skc, tp)) {
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
