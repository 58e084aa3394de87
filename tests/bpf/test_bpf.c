/* test_bpf.c - the BPF bookkeeping on a real loopback pair, in the kernel
 * selftests' style (prog_tests/sk_storage_tracing.c): load the trackers
 * through the daemon's own loader, drive one TCP connection in a private
 * network namespace, and assert on the map entries: creation and per-state
 * counters, queue transitions and the candidate set (out when the queue
 * drains, back when it refills), the ACK number that
 * sr_on_probe takes from the segment before tcp_ack() runs, the FIN in
 * rcv_nxt and its read, deletion on close. Whatever the kernel's send path
 * or map key (found by port, never by cookie), on every kernel of the matrix.
 *
 * Exit 77 (skipped) when not root or without BTF; needs no other process.
 */
#include <arpa/inet.h>
#include <errno.h>
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
#include "log.h"
#include "policy.h"
#include "tracker.h"

#define PORT 6601

static struct tracker *t;
static int lfd = -1, cli = -1, srv = -1;
static uint16_t cli_port;

/* The entry of the socket whose local port is port; false if none. */
static bool entry_of(uint16_t port, bool hot_only, struct sr_sock *out)
{
	struct tracker_snapshot snap = { 0 };
	bool found = false;
	int ret = hot_only ? tracker_read_hot(t, &snap) : tracker_read(t, &snap);

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
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(PORT) };
	struct ifreq ifr = { 0 };
	socklen_t al = sizeof(a);
	struct stat st;
	char err[8400];
	int one = 1, s;

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
	if (tracker_open(&t, &o, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	fprintf(stderr, "send path %s, keys %s\n", tracker_send_path_name(tracker_send_path(t)),
		tracker_keys_are_cookies(t) ? "cookie" : "address");
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&a, sizeof(a)) || listen(lfd, 4))
		return -1;
	cli = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(cli, (struct sockaddr *)&a, sizeof(a)))
		return -1;
	srv = accept(lfd, NULL, NULL);
	if (srv < 0 || getsockname(cli, (struct sockaddr *)&a, &al))
		return -1;
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

static bool server_hot(void)
{
	struct sr_sock e;

	tracker_sweep(t); /* the sweep path's view, harmless on the others */
	return entry_of(PORT, true, &e) && policy_queued_bytes(&e) > 0;
}

static bool server_drained(void)
{
	struct sr_sock e;

	return !entry_of(PORT, true, &e) && entry_of(PORT, false, &e) &&
	       policy_queued_bytes(&e) == 0;
}

/*
 * Data queued to a reader that does not read: a candidate. Then the reader
 * drains it: the ACKs seen by sr_on_probe empty the queue and take it out of
 * the candidate set, and the acked-bytes count it predicted from each
 * segment's ACK number is the kernel's own, exactly.
 */
static void test_queue_and_ack_prediction(void **state)
{
	static char buf[1 << 16];
	struct tcp_info ti;
	socklen_t tl = sizeof(ti);
	struct sr_sock e;
	ssize_t sent;
	size_t got = 0;

	(void)state;
	sent = send(srv, buf, sizeof(buf), MSG_DONTWAIT);
	assert_true(sent > 0);
	assert_true(eventually(server_hot) || server_drained());
	while (got < (size_t)sent) {
		ssize_t n = recv(cli, buf, sizeof(buf), 0);

		assert_true(n > 0);
		got += (size_t)n;
	}
	assert_true(eventually(server_drained));
	assert_true(entry_of(PORT, false, &e));
	assert_int_equal(getsockopt(srv, IPPROTO_TCP, TCP_INFO, &ti, &tl), 0);
	assert_int_equal(e.bytes_acked, ti.tcpi_bytes_acked);
	assert_int_equal(e.write_seq, e.snd_una);
}

static bool server_hot_untouched(void)
{
	struct sr_sock e;

	return entry_of(PORT, true, &e) && policy_queued_bytes(&e) > 0;
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
		assert_int_equal(ioctl(srv, SIOCOUTQ, &outq), 0);
	}
	assert_int_equal(outq, 0);
}

/*
 * A queue that empties and refills over and over, while the daemon reads the
 * candidate set: each drain takes the socket out, each refill puts it back.
 * After many such cycles a queue that stays full (a reader that stopped) is
 * a candidate with no further help (no sweep), and out of the set once read.
 */
static void test_candidate_out_and_back(void **state)
{
	static char buf[1 << 16];
	struct sr_sock e;
	int i;

	(void)state;
	for (i = 0; i < 200; i++) {
		assert_int_equal(send(srv, buf, 1024, 0), 1024);
		entry_of(PORT, true, &e); /* a read while the queue flips */
		drain_client();
	}
	assert_true(eventually(server_drained));
	while (send(srv, buf, sizeof(buf), MSG_DONTWAIT) > 0 && ++i < 2000)
		;
	assert_true(eventually(server_hot_untouched));
	drain_client();
	assert_true(eventually(server_drained));
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
	assert_true(tracker_sweep(t) >= 0);	   /* no event sees a read: the sweep does */
	assert_true(entry_of(PORT, false, &e));
	assert_false(policy_unread(&e));
}

static bool none_tracked(void)
{
	return counter(SR_CNT_INSERTS) == counter(SR_CNT_DELETES);
}

/* Both closed: both entries deleted, nothing left in any state. */
static void test_deleted_on_close(void **state)
{
	struct sr_sock e;

	(void)state;
	close(srv);
	srv = -1;
	close(cli);
	cli = -1;
	assert_true(eventually(none_tracked));
	assert_false(entry_of(PORT, false, &e));
	assert_false(entry_of(cli_port, false, &e));
	assert_int_equal(counter(SR_CNT_STATE_BASE + SR_TCP_ESTABLISHED), 0);
	assert_int_equal(counter(SR_CNT_STATE_BASE + SR_TCP_CLOSE_WAIT), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_established),
		cmocka_unit_test(test_queue_and_ack_prediction),
		cmocka_unit_test(test_candidate_out_and_back),
		cmocka_unit_test(test_fin_unread_then_read),
		cmocka_unit_test(test_deleted_on_close),
	};

	if (geteuid() != 0 || access("/sys/kernel/btf/vmlinux", R_OK)) {
		printf("SKIP: needs root and kernel BTF\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, setup, teardown);
}
