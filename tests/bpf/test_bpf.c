/* test_bpf.c - the BPF bookkeeping on a real loopback pair, in the kernel
 * selftests' style (prog_tests/sk_storage_tracing.c): load the trackers
 * through the daemon's own loader, drive one TCP connection in a private
 * network namespace, and assert on the map entries: creation and per-state
 * counters, queue transitions and the candidate set (out when the queue
 * drains, back when it refills), the ACK number that
 * sr_on_probe takes from the segment before tcp_ack() runs, the FIN in
 * rcv_nxt and its read, out of the set when the state leaves the candidate
 * states with data still queued, deletion on close. Whatever the kernel's send path
 * or map key (found by port, never by cookie), on every kernel of the matrix.
 *
 * Exit 77 (skipped) when not root or without BTF; needs no other process.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <linux/tcp.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "bpf_log.h"
#include "clock.h"
#include "log.h"
#include "policy.h"
#include "tracker.h"
#include "tracker_internal.h" /* the skeleton: one case suspends tcp_probe */

#define PORT 6601

static struct tracker *t;
static int lfd = -1, cli = -1, srv = -1;
static uint16_t cli_port;

/* The entry of the socket whose local port is port; false if none. */
static bool entry_of(uint16_t port, bool hot_only, struct sr_sock *out)
{
	struct tracker_snapshot snap = { 0 };
	bool found = false;
	int ret = hot_only ? tracker_read_candidates(t, &snap) : tracker_read(t, &snap);

	assert_int_equal(ret, 0);
	for (size_t i = 0; i < snap.n && !found; i++)
		if (snap.socks[i].sport == port) {
			*out = snap.socks[i];
			found = true;
		}
	tracker_snapshot_free(&snap);
	return found;
}

static uint64_t counter(int idx)
{
	uint64_t c[SR_CNT_MAX];

	tracker_counters(t, c);
	return c[idx];
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* Poll until cond(port) holds, 3 s at most (the events are asynchronous to us). */
static bool eventually(bool (*cond)(void))
{
	for (int i = 0; i < 300; i++) {
		if (cond())
			return true;
		sleep_ms(10);
	}
	return cond();
}

static int setup(void **state)
{
	struct target_selector all = { 0 };
	struct tracker_opts o = { .targets = &all, .n_targets = 1, .map_capacity = 1024 };
	const char *path = getenv("TEST_BPF_SEND_PATH"), *store = getenv("TEST_BPF_STORE");
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(PORT) };
	struct ifreq ifr = { 0 };
	socklen_t al = sizeof(a);
	struct stat st;
	char err[8400];
	int one = 1, small = 16384, s;

	(void)state;
	log_setup(LOG_LOGFMT, LOG_WARN);
	bpf_log_setup(false);
	/* A private namespace: the trackers see this test's sockets only. */
	if (unshare(CLONE_NEWNET) || stat("/proc/thread-self/ns/net", &st))
		return -1;
	s = socket(AF_INET, SOCK_DGRAM, 0);
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	ifr.ifr_flags = IFF_UP;
	if (s < 0 || ioctl(s, SIOCSIFFLAGS, &ifr))
		return -1;
	close(s);
	o.netns_ino = (uint32_t)st.st_ino;
	/* TEST_BPF_SEND_PATH=sweep: the path with no send hook (test_bpf.sh runs both). */
	if (path && !strcmp(path, "sweep"))
		o.send_path = TRACKER_SEND_SWEEP;
	/* TEST_BPF_STORE=hash: the bounded hash map where socket storage would do. */
	if (store && !strcmp(store, "hash"))
		o.store = TRACKER_STORE_HASH;
	if (tracker_open(&t, &o, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	fprintf(stderr, "send path %s, store %s, keys %s\n", tracker_send_path_name(tracker_send_path(t)),
		tracker_store_name(tracker_store(t)), tracker_keys_are_cookies(t) ? "cookie" : "address");
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&a, sizeof(a)) || listen(lfd, 4))
		return -1;
	cli = socket(AF_INET, SOCK_STREAM, 0);
	/* Small buffers (set before connect, so the window stays small): the
	 * server's queue can be filled, and then stays filled, in a few sends. */
	setsockopt(cli, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	if (connect(cli, (struct sockaddr *)&a, sizeof(a)))
		return -1;
	srv = accept(lfd, NULL, NULL);
	if (srv < 0 || getsockname(cli, (struct sockaddr *)&a, &al))
		return -1;
	setsockopt(srv, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	cli_port = ntohs(a.sin_port);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	if (cli >= 0)
		close(cli);
	if (srv >= 0)
		close(srv);
	if (lfd >= 0)
		close(lfd);
	tracker_close(t);
	return 0;
}

static bool both_tracked(void)
{
	struct sr_sock e;

	return entry_of(PORT, false, &e) && entry_of(cli_port, false, &e);
}

/* Both ends become entries, ESTABLISHED, counted per state; nothing queued. */
static void test_established(void **state)
{
	struct sr_sock e;

	(void)state;
	assert_true(eventually(both_tracked));
	assert_true(entry_of(PORT, false, &e));
	assert_int_equal(e.state, SR_TCP_ESTABLISHED);
	assert_int_equal(e.family, AF_INET);
	assert_int_equal(e.dport, cli_port);
	assert_int_equal(policy_queued_bytes(&e), 0);
	assert_int_equal(counter(SR_CNT_INSERTS) - counter(SR_CNT_DELETES), 2);
	assert_int_equal(counter(SR_CNT_STATE_BASE + SR_TCP_ESTABLISHED), 2);
	assert_false(entry_of(PORT, true, &e)); /* not a candidate */
}

/* When the kernel last heard from the peer on fd, by TCP_INFO (ms, the
 * kernel's own receive times), on the daemon's clock; ack: the last ACK it
 * accepted, else the last data segment. */
static uint64_t kernel_heard_ns(int fd, bool ack)
{
	struct tcp_info ti;
	socklen_t tl = sizeof(ti);
	uint64_t now = now_ns();

	assert_int_equal(getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &tl), 0);
	return now - (uint64_t)(ack ? ti.tcpi_last_ack_recv : ti.tcpi_last_data_recv) * NS_PER_MS;
}

/*
 * Segments tcp_probe did not see (the kernel skips a run that would nest in
 * another on the same CPU): a walk finds the segment count moved and dates
 * the segments by the kernel's own receive times, not as the walk's now. A
 * vanished peer's last reply, dated now, once read as an answer after the
 * send stall's clock started (cause=zero_window for a no_ack). tcp_probe is
 * detached here for one exchange: the server sends a byte (the client's data
 * time), the client's ACK comes back (the server's ACK time), and the walk
 * runs 600 ms later.
 */
static void test_unseen_segments_dated(void **state)
{
	struct sr_sock c, s;
	uint64_t tick = jiffy_ns(), sent, walked, kc, ks, slack;
	char b = 'x';

	(void)state;
	assert_true(tick > 0);
	assert_non_null(t->skel->links.sr_on_probe);
	assert_int_equal(bpf_link__destroy(t->skel->links.sr_on_probe), 0);
	t->skel->links.sr_on_probe = NULL;
	sent = now_ns();
	assert_int_equal(send(srv, &b, 1, 0), 1);
	assert_int_equal(recv(cli, &b, 1, 0), 1);
	sleep_ms(600);
	walked = now_ns();
	assert_true(tracker_discover(t) >= 0);
	kc = kernel_heard_ns(cli, false);
	ks = kernel_heard_ns(srv, true);
	t->skel->links.sr_on_probe = bpf_program__attach(t->skel->progs.sr_on_probe);
	assert_non_null(t->skel->links.sr_on_probe);
	assert_true(entry_of(cli_port, false, &c));
	assert_true(entry_of(PORT, false, &s));
	/* The setup: both heard from after the send, and well before the walk. */
	if (kc + 2 * tick < sent || ks + 2 * tick < sent || kc + 300 * NS_PER_MS > walked ||
	    ks + 300 * NS_PER_MS > walked)
		fail_msg("setup: sent %llu, kernel heard client %llu server %llu, walk %llu",
			 (unsigned long long)sent, (unsigned long long)kc, (unsigned long long)ks,
			 (unsigned long long)walked);
	/* Dated within the jiffies (theirs, the walk's, one before) and the ms
	 * TCP_INFO rounds down to of the kernel's time: never the walk's. */
	slack = 3 * tick + 2 * NS_PER_MS;
	if (c.last_rx_ns + slack < kc || c.last_rx_ns > kc + slack || s.last_rx_ns + slack < ks ||
	    s.last_rx_ns > ks + slack)
		fail_msg("walk dated client %lld ms, server %lld ms from the kernel's times (slack %llu ms)",
			 ((long long)c.last_rx_ns - (long long)kc) / (long long)NS_PER_MS,
			 ((long long)s.last_rx_ns - (long long)ks) / (long long)NS_PER_MS,
			 (unsigned long long)(slack / NS_PER_MS));
}

/* The server's queue, as the kernel has it. */
static int server_outq(void)
{
	int outq = -1;

	assert_int_equal(ioctl(srv, SIOCOUTQ, &outq), 0);
	return outq;
}

/* A candidate with data queued. On the sweep path no event may have seen the
 * last send yet (no send hook, and the window is closed): a sweep is that
 * path's view, harmless on the others. */
static bool server_hot(void)
{
	struct sr_sock e;

	tracker_discover(t);
	return entry_of(PORT, true, &e) && policy_queued_bytes(&e) > 0;
}

/* Out of the candidate set, its entry showing an empty queue. */
static bool server_drained(void)
{
	struct sr_sock e;

	return !entry_of(PORT, true, &e) && entry_of(PORT, false, &e) &&
	       policy_queued_bytes(&e) == 0;
}

/* Send until the peer's window and the send buffer are full: the queue then
 * stays non-empty until the client reads. */
static void fill_server(void)
{
	static char buf[1 << 16];
	int n = 0;

	while (send(srv, buf, sizeof(buf), MSG_DONTWAIT) > 0 && ++n < 1000)
		;
	assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
	assert_true(server_outq() > 0);
}

/* Read everything queued to cli, until the server's send queue is empty. */
static void drain_client(void)
{
	static char buf[1 << 16];
	int outq = 1;

	for (int i = 0; i < 3000 && outq > 0; i++) {
		if (recv(cli, buf, sizeof(buf), MSG_DONTWAIT) < 0) {
			assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
			sleep_ms(1);
		}
		outq = server_outq();
	}
	assert_int_equal(outq, 0);
}

/*
 * Data queued to a reader that does not read: a candidate, with its queue.
 * Then the reader drains it: the ACKs seen by sr_on_probe empty the queue
 * and take it out of the candidate set, and the acked-bytes count it
 * predicted from each segment's ACK number is the kernel's own, exactly.
 */
static void test_queue_and_ack_prediction(void **state)
{
	struct tcp_info ti;
	socklen_t tl = sizeof(ti);
	struct sr_sock e;

	(void)state;
	fill_server();
	assert_true(eventually(server_hot));
	assert_true(entry_of(PORT, true, &e));
	assert_true(e.queued_since_ns > 0);
	drain_client();
	assert_true(eventually(server_drained));
	assert_true(entry_of(PORT, false, &e));
	assert_int_equal(e.queued_since_ns, 0);
	assert_int_equal(getsockopt(srv, IPPROTO_TCP, TCP_INFO, &ti, &tl), 0);
	assert_int_equal(e.bytes_acked, ti.tcpi_bytes_acked);
	assert_int_equal(e.write_seq, e.snd_una);
}

/*
 * A queue that fills and empties over and over, the daemon reading the
 * candidate set in between: each refill puts the socket in (asserted every
 * cycle), each drain takes it out again (asserted every cycle), whatever
 * order the sender's and the ACKs' CPUs update the entry in.
 */
static void test_candidate_out_and_back(void **state)
{
	struct sr_sock e;

	(void)state;
	for (int i = 0; i < 200; i++) {
		fill_server();
		if (!eventually(server_hot))
			fail_msg("cycle %d: a full queue is not a candidate", i);
		entry_of(PORT, true, &e); /* a read of the set while it holds the socket */
		drain_client();
		if (!eventually(server_drained))
			fail_msg("cycle %d: a drained queue is still a candidate", i);
	}
}

static bool server_close_wait(void)
{
	struct sr_sock e;

	return entry_of(PORT, true, &e) && e.state == SR_TCP_CLOSE_WAIT;
}

/* The peer's FIN: CLOSE_WAIT, a candidate, the FIN unread; then read. */
static void test_fin_unread_then_read(void **state)
{
	struct sr_sock e;
	char c;

	(void)state;
	assert_int_equal(shutdown(cli, SHUT_WR), 0);
	assert_true(eventually(server_close_wait));
	assert_true(entry_of(PORT, false, &e));
	assert_true(policy_unread(&e));
	assert_int_equal((uint32_t)(e.rcv_nxt - e.copied_seq), 1); /* just the FIN */
	assert_int_equal(counter(SR_CNT_STATE_BASE + SR_TCP_CLOSE_WAIT), 1);
	assert_int_equal(recv(srv, &c, 1, 0), 0); /* EOF: the FIN is read */
	assert_true(tracker_discover(t) >= 0);	   /* no event sees a read: a walk does */
	assert_true(entry_of(PORT, false, &e));
	assert_false(policy_unread(&e));
}

static bool server_last_ack_not_candidate(void)
{
	struct sr_sock e;

	return entry_of(PORT, false, &e) && e.state == SR_TCP_LAST_ACK && !entry_of(PORT, true, &e);
}

/*
 * A candidate that leaves the candidate states with data still queued: the
 * owner answers the half-close (its queue fills, the client reads nothing),
 * then closes its own side (LAST_ACK). The socket is no candidate any more:
 * the set must drop it at once, not keep a copy that still says CLOSE_WAIT
 * (the soak caught such a stale copy after FIN_WAIT1, on the storage path).
 */
static void test_state_change_leaves_candidates(void **state)
{
	(void)state;
	fill_server();
	assert_true(eventually(server_close_wait));
	assert_int_equal(shutdown(srv, SHUT_WR), 0);
	assert_true(server_outq() > 0);
	if (!eventually(server_last_ack_not_candidate))
		fail_msg("LAST_ACK with data queued: still in the candidate set (or not LAST_ACK)");
}

static bool none_tracked(void)
{
	return counter(SR_CNT_INSERTS) == counter(SR_CNT_DELETES);
}

static bool none_left(void)
{
	struct sr_sock e;

	return !entry_of(PORT, false, &e) && !entry_of(cli_port, false, &e);
}

/* Runs of the state program the kernel skipped (they would have nested). */
static uint64_t state_misses(void)
{
	struct tracker_prog_stat st[16];
	size_t n = tracker_prog_stats(t, st, 16);
	uint64_t m = 0;

	for (size_t i = 0; i < n; i++)
		if (!strcmp(st[i].name, "inet_sock_set_state"))
			m += st[i].recursion_misses;
	return m;
}

/*
 * Both closed, in order (the client drains what the server queued, so the
 * server's FIN goes out): no entry left on either store. On the hash store
 * the map is the only record, so every insert must have its delete and no
 * state gauge may keep a count (a lost close would leak the entry). Socket
 * storage is freed with its socket whatever events are missed: there the
 * counters are the programs' bookkeeping, checked unless the kernel skipped
 * a run of the state program (recursion, counted in bpf_prog_info).
 */
static void test_deleted_on_close(void **state)
{
	char buf[65536];
	int fl;

	(void)state;
	fl = fcntl(cli, F_GETFL);
	fcntl(cli, F_SETFL, fl | O_NONBLOCK);
	for (int i = 0; i < 3000; i++) {
		ssize_t n = recv(cli, buf, sizeof(buf), 0);

		if (n == 0)
			break; /* the server's FIN: everything read */
		if (n < 0 && errno != EAGAIN)
			fail_msg("draining the client: %s", strerror(errno));
		if (n < 0)
			sleep_ms(1);
	}
	close(srv);
	srv = -1;
	close(cli);
	cli = -1;
	assert_true(eventually(none_left));
	if (tracker_store(t) == TRACKER_STORE_STORAGE && state_misses() > 0) {
		printf("state program: %llu runs skipped (recursion); storage freed with the sockets\n",
		       (unsigned long long)state_misses());
		return;
	}
	if (!eventually(none_tracked))
		fail_msg("inserts %llu, deletes %llu, state-program runs skipped %llu",
			 (unsigned long long)counter(SR_CNT_INSERTS), (unsigned long long)counter(SR_CNT_DELETES),
			 (unsigned long long)state_misses());
	assert_int_equal(counter(SR_CNT_STATE_BASE + SR_TCP_ESTABLISHED), 0);
	assert_int_equal(counter(SR_CNT_STATE_BASE + SR_TCP_CLOSE_WAIT), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_established),
		cmocka_unit_test(test_unseen_segments_dated),
		cmocka_unit_test(test_queue_and_ack_prediction),
		cmocka_unit_test(test_candidate_out_and_back),
		cmocka_unit_test(test_fin_unread_then_read),
		cmocka_unit_test(test_state_change_leaves_candidates),
		cmocka_unit_test(test_deleted_on_close),
	};

	if (geteuid() != 0 || access("/sys/kernel/btf/vmlinux", R_OK)) {
		printf("SKIP: needs root and kernel BTF\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, setup, teardown);
}
