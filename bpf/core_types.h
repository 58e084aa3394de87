// SPDX-License-Identifier: GPL-2.0-only
/* core_types.h - the few kernel types the BPF programs read, declared by hand.
 *
 * Only the fields we use are listed; preserve_access_index makes libbpf
 * relocate each access against the running kernel's BTF at load time, so the
 * build does not depend on the build machine's kernel (no vmlinux.h).
 */
#ifndef SOCKREAP_CORE_TYPES_H
#define SOCKREAP_CORE_TYPES_H

#include <linux/types.h>
#include <linux/bpf.h>
#include <linux/in6.h>
#include <stdbool.h>

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6

#define __core __attribute__((preserve_access_index))

struct ns_common {
	unsigned int inum;
} __core;

struct net {
	struct ns_common ns;
} __core;

typedef struct {
	struct net *net;
} possible_net_t;

typedef struct {
	__s64 counter;
} atomic64_t;

struct sock_common {
	__be32 skc_daddr;
	__be32 skc_rcv_saddr;
	__be16 skc_dport;
	__u16 skc_num;
	unsigned short skc_family;
	volatile unsigned char skc_state;
	possible_net_t skc_net;
	atomic64_t skc_cookie;
	struct in6_addr skc_v6_daddr;
	struct in6_addr skc_v6_rcv_saddr;
} __core;

struct kernfs_node {
	__u64 id;
} __core;

struct cgroup {
	struct kernfs_node *kn;
	int level;
	struct cgroup *ancestors[];
} __core;

struct sock_cgroup_data {
	struct cgroup *cgroup;
} __core;

/* Before 5.15: ancestors by id, inline; the socket's cgroup in one tagged word. */
struct cgroup___old {
	int level;
	__u64 ancestor_ids[];
} __core;

struct sock_cgroup_data___old {
	__u64 val;
} __core;

struct inode {
	unsigned long i_ino;
} __core;

struct file {
	struct inode *f_inode;
} __core;

struct socket {
	struct file *file;
} __core;

struct sock {
	struct sock_common __sk_common;
	__u8 sk_kern_sock : 1;
	__u16 sk_protocol;
	struct socket *sk_socket;
	struct sock_cgroup_data sk_cgrp_data;
} __core;

struct sock___old {
	struct sock_cgroup_data___old sk_cgrp_data;
} __core;

/* tcp_sock begins with its inet_connection_sock (an embedded struct). */
struct inet_connection_sock {
	__u32 icsk_rto; /* jiffies: the retransmission timeout, backed off */
	struct {
		__u32 lrcvtime; /* jiffies: the last data segment received */
	} icsk_ack;
} __core;

struct tcp_sock {
	__u32 rcv_nxt;
	__u32 copied_seq;
	__u32 snd_una;
	__u32 snd_nxt;
	__u32 snd_wnd;
	__u32 write_seq;
	__u32 segs_in;
	__u32 rcv_tstamp; /* jiffies: the last ACK tcp_ack() accepted */
	__u64 bytes_acked;
} __core;

struct sk_buff {
	char cb[48];
} __core;

/* TCP's view of skb->cb, filled by tcp_v4_fill_cb()/tcp_v6_fill_cb() before
 * tcp_rcv_established() runs. */
struct tcp_skb_cb {
	__u32 seq;
	__u8 tcp_flags;
	__u32 ack_seq;
} __core;

struct iov_iter {
	__kernel_size_t count;
} __core;

struct msghdr {
	struct iov_iter msg_iter;
} __core;

struct seq_file;
struct page;
struct bpf_iter_meta {
	struct seq_file *seq;
} __core;

struct bpf_map;
struct bpf_iter__bpf_sk_storage_map {
	struct bpf_iter_meta *meta;
	struct bpf_map *map;
	struct sock *sk;
	void *value;
} __core;

struct bpf_iter__tcp {
	struct bpf_iter_meta *meta;
	struct sock_common *sk_common;
	__u32 uid;
} __core;

#define SR_TCPHDR_ACK 0x10 /* TCPHDR_ACK in tcp_skb_cb.tcp_flags */

#endif /* SOCKREAP_CORE_TYPES_H */
