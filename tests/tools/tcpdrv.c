/* tcpdrv.c - one end of a real TCP connection, driven by the integration tests.
 *
 *   tcpdrv server --port P --mode send|idle|reuse|forkexit|shared [--duration S] [--chunk B]
 *   tcpdrv client --host H --port P --mode read|trickle|idle|close [--rate B/s] [--duration S]
 *   tcpdrv server|client --mode churn [--count N]   many short connections
 *   tcpdrv server --mode swap   a child sends; on SIGUSR1 its fd number gets a fresh socket
 *   tcpdrv server|client --mode holdall [--count N] many idle connections held open
 *   common: --mode ping [--every S], --mode hold, --keepalive S (SO_KEEPALIVE every S s)
 *   tcpdrv client --mode request [--fin-after S]   send a request, half-close (SHUT_WR) S
 *                                  seconds later, read the answer to EOF
 *   tcpdrv server --mode answer [--every S] [--count B] [--how eof|early|late|peek|accept-late]
 *                                  [--backlog N]   reach the request as --how says (see
 *                                  run_answer), work S seconds, send a B-byte answer, close
 *   tcpdrv server --mode readhold  read to EOF, then keep the socket (a CLOSE_WAIT leak)
 *   tcpdrv server --mode flood --count N [--procs P]   accept N connections (over P
 *                                  processes), fill each send queue, report when each is shut
 *   tcpdrv client --mode holdall --count N   (with flood: small receive buffers, never read)
 *   tcpdrv server --mode zerowin [--sendfile]   fill the peer's window with nothing left
 *                                  unacknowledged, say "window_closed", then on SIGUSR1 send
 *                                  (or sendfile(2)) behind it
 *
 * Every run is bounded by --duration. The last line on stdout says how it
 * ended: "result=error errno=EPIPE elapsed=2.41 bytes=N" when a send or read
 * failed (the reap), "result=eof ..." when the peer shut down, or
 * "result=timeout ..." when the deadline passed with the connection intact.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <linux/sockios.h>
#include <linux/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <stdbool.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct args {
	const char *role, *mode, *host, *how;
	int port;
	double duration, rate, reuse_after, every, keepalive, fin_after;
	bool sendfile;
	unsigned long long count;
	int procs, backlog;
	size_t chunk;
};

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double t_start;

static double wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* at= is wall-clock time, so a test can compare it with `date +%s.%N`. */
static void finish(const char *result, int err, unsigned long long bytes)
{
	printf("result=%s errno=%s elapsed=%.3f at=%.3f bytes=%llu\n", result,
	       err ? strerrorname_np(err) : "none", mono() - t_start, wall(), bytes);
	fflush(stdout);
}

static void set_timeout(int fd, int opt, double s)
{
	struct timeval tv = { (time_t)s, (suseconds_t)((s - (double)(time_t)s) * 1e6) };

	if (s <= 0)
		tv = (struct timeval){ 0, 1000 };
	setsockopt(fd, SOL_SOCKET, opt, &tv, sizeof(tv));
}

/* Send until an error or the deadline; returns the errno, 0 at the deadline. */
static int send_until(int fd, double deadline, size_t chunk, unsigned long long *bytes)
{
	char *buf = calloc(1, chunk);
	int err = 0;

	while (mono() < deadline) {
		ssize_t n;

		set_timeout(fd, SO_SNDTIMEO, deadline - mono());
		n = send(fd, buf, chunk, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			err = errno;
			break;
		}
		*bytes += (unsigned long long)n;
	}
	free(buf);
	return err;
}

/* Send exactly count bytes (or until an error or the deadline), at most rate
 * bytes/s (0: as fast as the window allows); 0 or the errno. */
static int send_count(int fd, double deadline, size_t chunk, unsigned long long count, double rate,
		      unsigned long long *bytes)
{
	char *buf = calloc(1, chunk);
	double t0 = mono();
	int err = 0;

	while (*bytes < count && mono() < deadline) {
		size_t want = count - *bytes < chunk ? (size_t)(count - *bytes) : chunk;
		ssize_t n;

		if (rate > 0) {
			double allowed = rate * (mono() - t0) - (double)*bytes;

			if (allowed < 1) {
				usleep(5000);
				continue;
			}
			if (allowed < (double)want)
				want = (size_t)allowed;
		}
		set_timeout(fd, SO_SNDTIMEO, deadline - mono());
		n = send(fd, buf, want, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			err = errno;
			break;
		}
		*bytes += (unsigned long long)n;
	}
	free(buf);
	return err;
}

static int read_to_eof(int fd, double deadline, unsigned long long *bytes);

/* Send until an error (the reap) or the deadline; with count, exactly that
 * many bytes (paced to rate, if set), then an orderly close (result=sent
 * once the peer closed too). */
static int run_send(int fd, double deadline, size_t chunk, unsigned long long count, double rate)
{
	unsigned long long bytes = 0;
	int err;

	if (!count && rate > 0)
		count = ~0ull; /* paced, and unbounded but for the deadline */
	if (!count) {
		err = send_until(fd, deadline, chunk, &bytes);
		finish(err ? "error" : "timeout", err, bytes);
		return 0;
	}
	err = send_count(fd, deadline, chunk, count, rate, &bytes);
	if (!err && bytes == count && !shutdown(fd, SHUT_WR)) {
		unsigned long long rest = 0;

		err = read_to_eof(fd, deadline, &rest);
	}
	finish(err ? "error" : bytes == count ? "sent" : "timeout", err, bytes);
	return 0;
}

/* Read at most rate bytes/s (0 = as fast as possible) until EOF, error or deadline. */
static int run_read(int fd, double deadline, double rate)
{
	static char buf[65536];
	unsigned long long bytes = 0;
	double t0 = mono();

	while (mono() < deadline) {
		size_t want = sizeof(buf);
		ssize_t n;

		if (rate > 0) {
			double allowed = rate * (mono() - t0) - (double)bytes;

			if (allowed < 1) {
				usleep(20000);
				continue;
			}
			want = allowed < (double)sizeof(buf) ? (size_t)allowed : sizeof(buf);
		}
		set_timeout(fd, SO_RCVTIMEO, deadline - mono());
		n = recv(fd, buf, want, 0);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			finish("error", errno, bytes);
			return 0;
		}
		if (n == 0) {
			finish("eof", 0, bytes);
			return 0;
		}
		bytes += (unsigned long long)n;
	}
	finish("timeout", 0, bytes);
	return 0;
}

/* Hold the connection; notice a shutdown or error. */
static int run_idle(int fd, double deadline)
{
	return run_read(fd, deadline, 0);
}

/* --mptcp: every socket is IPPROTO_MPTCP (its TCP subflows are kernel sockets). */
static int g_proto;

/* host:port as a socket address; IPv6 when host has a ':'. Its length. */
static socklen_t sockaddr_of(const char *host, int port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (strchr(host, ':')) {
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host, &a6->sin6_addr) != 1)
			goto bad;
		return sizeof(*a6);
	} else {
		struct sockaddr_in *a4 = (struct sockaddr_in *)ss;

		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, host, &a4->sin_addr) != 1)
			goto bad;
		return sizeof(*a4);
	}
bad:
	fprintf(stderr, "tcpdrv: bad address %s\n", host);
	exit(2);
}

static int listen_on(const char *host, int port, int backlog)
{
	struct sockaddr_storage a;
	socklen_t al = sockaddr_of(host, port, &a);
	int one = 1, fd = socket(a.ss_family, SOCK_STREAM, g_proto);

	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, al) || listen(fd, backlog)) {
		perror("listen");
		exit(1);
	}
	return fd;
}

/* Connect from source address src (IPv4, for the churn's spread of ports). */
static int connect_from(uint32_t src, const char *host, int port, double deadline)
{
	struct sockaddr_in b = { .sin_family = AF_INET };
	struct sockaddr_storage a;
	socklen_t al = sockaddr_of(host, port, &a);

	b.sin_addr.s_addr = src;
	while (mono() < deadline) {
		int fd = socket(a.ss_family, SOCK_STREAM, g_proto);

		if ((a.ss_family != AF_INET || bind(fd, (struct sockaddr *)&b, sizeof(b)) == 0) &&
		    connect(fd, (struct sockaddr *)&a, al) == 0)
			return fd;
		close(fd);
		usleep(50000);
	}
	fprintf(stderr, "tcpdrv: cannot connect to %s:%d\n", host, port);
	exit(1);
}

static int connect_to(const char *host, int port, double deadline)
{
	return connect_from(htonl(INADDR_ANY), host, port, deadline);
}

/* With a small receive buffer (set before connect, so the window stays
 * small): thousands of never-read connections then hold kilobytes each. */
static int connect_small(const char *host, int port, double deadline)
{
	struct sockaddr_storage a;
	socklen_t al = sockaddr_of(host, port, &a);
	int rcvbuf = 4096;

	while (mono() < deadline) {
		int fd = socket(a.ss_family, SOCK_STREAM, g_proto);

		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
		if (connect(fd, (struct sockaddr *)&a, al) == 0)
			return fd;
		close(fd);
		usleep(50000);
	}
	fprintf(stderr, "tcpdrv: cannot connect to %s:%d\n", host, port);
	exit(1);
}

static int accept_one(int lfd, double deadline)
{
	struct pollfd p = { lfd, POLLIN, 0 };

	if (poll(&p, 1, (int)((deadline - mono()) * 1000)) != 1) {
		fprintf(stderr, "tcpdrv: nobody connected\n");
		exit(1);
	}
	return accept(lfd, NULL, NULL);
}

/*
 * reuse: wedge a send on the connection, keep the stalled socket on a second
 * fd, and after --reuse-after seconds put a fresh connection on the original
 * fd number. The stalled socket must be reaped (found by inode on its other
 * fd); the fresh one must stay healthy.
 */
static int run_reuse(int lfd, int fd, const struct args *a, double deadline)
{
	int keep = dup(fd), fresh_c, fresh_s;
	char *buf = calloc(1, a->chunk);
	pid_t child;
	char ok;

	child = fork();
	if (child == 0) { /* sender on the stalled socket */
		close(fd);
		run_send(keep, deadline, a->chunk, 0, 0);
		_exit(0);
	}
	close(keep);
	usleep((useconds_t)(a->reuse_after * 1e6));
	fresh_c = connect_to("127.0.0.1", a->port, deadline);
	fresh_s = accept_one(lfd, deadline);
	dup2(fresh_s, fd); /* the stalled socket's old fd number now holds a fresh socket */
	close(fresh_s);
	printf("reused fd=%d\n", fd);
	fflush(stdout);
	/* Echo through the fresh connection until the deadline: it must keep working. */
	while (mono() < deadline - 0.2) {
		if (send(fd, "x", 1, MSG_NOSIGNAL) != 1 || recv(fresh_c, &ok, 1, 0) != 1) {
			printf("fresh=broken errno=%s\n", strerrorname_np(errno));
			fflush(stdout);
			break;
		}
		usleep(100000);
	}
	if (mono() >= deadline - 0.2)
		printf("fresh=healthy\n");
	fflush(stdout);
	free(buf);
	return 0;
}

/*
 * churn (server): accept, read to EOF, close, until the deadline.
 * churn (client): --count connections, each sending a few bytes and closing.
 * Many short-lived sockets: each must leave no map entry behind.
 */
static int run_churn_server(int lfd, double deadline)
{
	unsigned long long n = 0;
	char buf[4096];

	while (mono() < deadline) {
		struct pollfd p = { lfd, POLLIN, 0 };
		int c;

		if (poll(&p, 1, 100) != 1)
			continue;
		c = accept(lfd, NULL, NULL);
		if (c < 0)
			continue;
		set_timeout(c, SO_RCVTIMEO, 2);
		while (recv(c, buf, sizeof(buf), 0) > 0)
			;
		close(c);
		n++;
	}
	printf("accepted=%llu\n", n);
	finish("timeout", 0, 0);
	return 0;
}

static int run_churn_client(const struct args *a, double deadline)
{
	unsigned long long n;

	for (n = 0; n < a->count && mono() < deadline; n++) {
		/* Rotate the source over 127.0.0.1-64: each closed connection holds
		 * its port in TIME_WAIT for a minute, and one address has 28k. */
		int fd = connect_from(htonl(0x7f000001 + (uint32_t)(n % 64)), a->host, a->port, deadline);

		if (send(fd, "hello", 5, MSG_NOSIGNAL) != 5)
			break;
		close(fd);
	}
	printf("connections=%llu\n", n);
	finish(n == a->count ? "done" : "timeout", 0, 0);
	return 0;
}

/*
 * swap: a child holds the connection and blocks sending on it; on SIGUSR1 a
 * second thread puts a fresh connection on the same fd number (dup2). The
 * stalled socket then lives on only in the blocked send() and the fd number
 * the daemon found names another socket: the reap must see the cookie
 * mismatch and leave the fresh socket alone.
 */
struct swap_ctx {
	int lfd, fd, port;
	double deadline;
};

static void *swap_thread(void *p)
{
	struct swap_ctx *c = p;
	sigset_t set;
	int sig, cfd, sfd;
	char ok;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigwait(&set, &sig);
	cfd = connect_to("127.0.0.1", c->port, c->deadline);
	sfd = accept_one(c->lfd, c->deadline);
	dup2(sfd, c->fd);
	close(sfd);
	printf("swapped fd=%d\n", c->fd);
	fflush(stdout);
	while (mono() < c->deadline - 0.3) {
		if (send(c->fd, "x", 1, MSG_NOSIGNAL) != 1 || recv(cfd, &ok, 1, 0) != 1) {
			printf("fresh=broken errno=%s\n", strerrorname_np(errno));
			fflush(stdout);
			return NULL;
		}
		usleep(100000);
	}
	printf("fresh=healthy\n");
	fflush(stdout);
	return NULL;
}

static int run_swap(int lfd, int fd, const struct args *a, double deadline)
{
	struct swap_ctx ctx = { lfd, fd, a->port, deadline };
	unsigned long long bytes = 0;
	pthread_t th;
	sigset_t set;
	pid_t child;
	int err;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL); /* only the swap thread takes it */
	child = fork();
	if (child > 0) {
		close(fd);
		printf("child pid=%d\n", child);
		fflush(stdout);
		waitpid(child, NULL, 0);
		return 0;
	}
	pthread_create(&th, NULL, swap_thread, &ctx);
	/* One send() of more than can ever be queued, blocking until the reap or
	 * the deadline: a second call would go to whatever fd 4 is by then. */
	{
		size_t big = 64u << 20;
		char *buf = calloc(1, big);
		ssize_t n;

		set_timeout(fd, SO_SNDTIMEO, deadline - mono());
		n = send(fd, buf, big, MSG_NOSIGNAL);
		err = n < 0 ? errno : 0;
		bytes = n > 0 ? (unsigned long long)n : 0;
		free(buf);
	}
	/* A send that had copied some bytes returns their count, not the error:
	 * "short" is a send that came back before the deadline. */
	if (!err && mono() < deadline - 0.2)
		finish("short", 0, bytes);
	else
		finish(err ? "error" : "timeout", err, bytes);
	pthread_join(th, NULL);
	return 0;
}

/* sendfile(2) from a 1 MB memfd, over and over, until an error or the deadline. */
static int sendfile_until(int fd, double deadline, unsigned long long *bytes)
{
	int src = memfd_create("tcpdrv", MFD_CLOEXEC), err = 0;

	if (src < 0 || ftruncate(src, 1 << 20))
		return errno;
	while (!err && mono() < deadline) {
		off_t off = 0;

		set_timeout(fd, SO_SNDTIMEO, deadline - mono());
		while (off < (1 << 20) && mono() < deadline) {
			ssize_t n = sendfile(fd, src, &off, (size_t)((1 << 20) - off));

			if (n < 0 && errno != EAGAIN && errno != EINTR) {
				err = errno;
				break;
			}
			if (n > 0)
				*bytes += (unsigned long long)n;
		}
	}
	close(src);
	return err;
}

/*
 * zerowin: the one case only the sweep path's backstop walk sees. Send the
 * peer's window, one segment at a time and only with nothing outstanding,
 * until the peer (a reader that never reads) advertises a zero window and
 * everything sent is acknowledged; say "window_closed" and wait for SIGUSR1
 * (the test drops the peer's packets meanwhile, so no window probe is
 * answered); then send until an error or the deadline. The data is queued
 * behind a zero window: never transmitted, so never retransmitted, and no ACK
 * comes back. If the peer drops data it had offered room for, the rest waits
 * behind a zero window the reader never reopens, retransmitted: no setup for
 * this case. Say "stuck" after 1 s of it and end, so the test can start over.
 */
static int run_zerowin(int fd, double deadline, bool sendfile)
{
	unsigned long long bytes = 0;
	static char buf[65536];
	struct timespec wait_ts;
	struct tcp_info ti;
	socklen_t tl;
	sigset_t set;
	int one = 1, outq = 0, err;
	double left, stuck_at = 0;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	for (;;) {
		if (mono() >= deadline) {
			finish("timeout", 0, bytes);
			return 0;
		}
		tl = sizeof(ti);
		memset(&ti, 0, sizeof(ti));
		if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &tl) || ioctl(fd, SIOCOUTQ, &outq)) {
			finish("error", errno, bytes);
			return 0;
		}
		if (outq == 0 && ti.tcpi_snd_wnd == 0)
			break;
		if (outq > 0 && ti.tcpi_snd_wnd == 0) {
			if (stuck_at == 0)
				stuck_at = mono();
			if (mono() - stuck_at >= 1.0) {
				printf("stuck bytes=%llu outq=%d\n", bytes, outq);
				finish("stuck", 0, bytes);
				return 0;
			}
		} else {
			stuck_at = 0;
		}
		/* One full segment of the window the peer offers, or the window's
		 * rest, never more: room offered is not taken back, so all of it
		 * is acknowledged. (The whole window at once, two segments, made
		 * the peer drop one on every run here: the buffer the window stood
		 * for did not hold both segments' overhead. Segments much smaller
		 * than the window overflow it the same way.) */
		if (outq == 0) {
			size_t n = ti.tcpi_snd_wnd < ti.tcpi_snd_mss ? ti.tcpi_snd_wnd : ti.tcpi_snd_mss;
			ssize_t r = send(fd, buf, n < sizeof(buf) ? n : sizeof(buf), MSG_DONTWAIT | MSG_NOSIGNAL);

			if (r > 0)
				bytes += (unsigned long long)r;
		}
		usleep(2000);
	}
	printf("window_closed bytes=%llu\n", bytes);
	fflush(stdout);
	left = deadline - mono();
	wait_ts.tv_sec = (time_t)left;
	wait_ts.tv_nsec = (long)((left - (double)wait_ts.tv_sec) * 1e9);
	if (left <= 0 || sigtimedwait(&set, NULL, &wait_ts) != SIGUSR1) {
		finish("timeout", 0, bytes);
		return 0;
	}
	err = sendfile ? sendfile_until(fd, deadline, &bytes) : send_until(fd, deadline, 65536, &bytes);
	finish(err ? "error" : "timeout", err, bytes);
	return 0;
}

/* holdall (server): accept every connection and keep it open until the deadline. */
static int run_holdall_server(int lfd, double deadline)
{
	unsigned long long n = 0;

	while (mono() < deadline) {
		struct pollfd p = { lfd, POLLIN, 0 };

		if (poll(&p, 1, 100) == 1 && accept(lfd, NULL, NULL) >= 0)
			n++;
	}
	printf("held=%llu\n", n);
	finish("timeout", 0, 0);
	return 0;
}

/* holdall (client): open --count idle connections and keep them until the deadline. */
static int run_holdall_client(const struct args *a, double deadline)
{
	unsigned long long n;

	for (n = 0; n < a->count && mono() < deadline; n++)
		connect_small(a->host, a->port, deadline);
	printf("opened=%llu\n", n);
	fflush(stdout);
	while (mono() < deadline)
		usleep(50000);
	finish("timeout", 0, 0);
	return 0;
}

/* ping: one byte every `every` seconds, like a server's application-level ping. */
static int run_ping(int fd, double deadline, double every)
{
	unsigned long long bytes = 0;

	while (mono() < deadline) {
		if (send(fd, "p", 1, MSG_NOSIGNAL) != 1) {
			finish("error", errno, bytes);
			return 0;
		}
		bytes++;
		usleep((useconds_t)(every * 1e6));
	}
	finish("timeout", 0, bytes);
	return 0;
}

/*
 * hold: never read or write, like an owner stuck behind a lock. At the
 * deadline report the socket's TCP state; "state=7" (CLOSE) after the peer
 * closed means it was reaped, 8 (CLOSE_WAIT) that it was left alone.
 */
static int run_hold(int fd, double deadline)
{
	struct tcp_info ti;
	socklen_t tl = sizeof(ti);

	while (mono() < deadline)
		usleep(50000);
	memset(&ti, 0, sizeof(ti));
	getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &tl);
	printf("state=%u\n", ti.tcpi_state);
	finish("timeout", 0, 0);
	return 0;
}

/*
 * forkexit: the process that wedged the send forks and exits; the child
 * keeps the socket, blocked in recv(). The recorded sender is gone, so the
 * owner must be found through /proc. The child's EOF is the reap.
 * shared: fork first; the parent sends (wedged), the child blocks in recv()
 * on the same socket. One socket, two holders: reaped once, both woken.
 */
static int run_forked(int fd, const struct args *a, double deadline, bool exit_parent)
{
	unsigned long long bytes = 0;
	pid_t child;

	if (exit_parent) {
		send_until(fd, mono() + a->reuse_after, a->chunk, &bytes);
		child = fork();
		if (child > 0) {
			printf("parent exits pid=%d child=%d\n", getpid(), child);
			fflush(stdout);
			_exit(0);
		}
		return run_read(fd, deadline, 0);
	}
	child = fork();
	if (child == 0)
		return run_read(fd, deadline, 0) + (int)(fflush(stdout) & 0);
	printf("child pid=%d\n", child);
	fflush(stdout);
	run_send(fd, deadline, a->chunk, 0, 0);
	waitpid(child, NULL, 0);
	return 0;
}

/* request (client): a request, then SHUT_WR like `nc -N`; the answer is read to EOF. */
static int run_request(int fd, double deadline, double fin_after)
{
	if (send(fd, "GET /answer\n", 12, MSG_NOSIGNAL) != 12) {
		finish("error", errno, 0);
		return 0;
	}
	/* --fin-after: let a server that reads its request at once take it
	 * before the FIN comes (it then never reads the FIN). */
	if (fin_after > 0)
		usleep((useconds_t)(fin_after * 1e6));
	if (shutdown(fd, SHUT_WR)) {
		finish("error", errno, 0);
		return 0;
	}
	printf("half-closed\n");
	fflush(stdout);
	return run_read(fd, deadline, 0);
}

/* Read until the peer's EOF (recv() returns 0); 0, or the errno. */
static int read_to_eof(int fd, double deadline, unsigned long long *bytes)
{
	char buf[4096];

	for (;;) {
		ssize_t n;

		set_timeout(fd, SO_RCVTIMEO, deadline - mono());
		n = recv(fd, buf, sizeof(buf), 0);
		if (n == 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return errno;
		if (n > 0)
			*bytes += (unsigned long long)n;
	}
}

/*
 * Notice the peer's close without consuming it, as an event loop does:
 * epoll with EPOLLRDHUP, then a MSG_PEEK of the request. copied_seq does not
 * move: to the kernel the FIN is still unread. 0, or the errno.
 */
static int peek_eof(int fd, double deadline, unsigned long long *bytes)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP }, got;
	char buf[4096];
	int ep = epoll_create1(EPOLL_CLOEXEC), err = 0;
	ssize_t n;

	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev))
		return errno;
	while (mono() < deadline) {
		int r = epoll_wait(ep, &got, 1, 50);

		if (r < 0 && errno != EINTR) {
			err = errno;
			break;
		}
		if (r == 1 && (got.events & EPOLLRDHUP))
			break;
	}
	close(ep);
	n = recv(fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);
	if (n > 0)
		*bytes = (unsigned long long)n;
	return err;
}

/*
 * answer (server): a half-closed client's request answered after `every`
 * seconds of work, as --how says the server reaches it:
 *   eof    read the request to EOF, then work (the default)
 *   early  read the request once, before the client's FIN arrives, then work
 *          without another recv (the FIN stays unread)
 *   late   a busy server: work first, request and FIN unread meanwhile
 *   peek   notice the EOF with EPOLLRDHUP and MSG_PEEK, consume nothing, work
 *   accept-late (main): the connection waits in the accept queue meanwhile
 * then send `size` bytes, read what is left to EOF, and close.
 */
static int run_answer(int fd, double deadline, double work, unsigned long long size, const char *how)
{
	unsigned long long got = 0, sent = 0;
	char *buf = calloc(1, 65536);
	bool early = !strcmp(how, "early"), late = !strcmp(how, "late"), peek = !strcmp(how, "peek");
	int err = 0;
	ssize_t n;

	if (early) {
		set_timeout(fd, SO_RCVTIMEO, deadline - mono());
		n = recv(fd, buf, 65536, 0);
		err = n < 0 ? errno : 0;
		got = n > 0 ? (unsigned long long)n : 0;
	} else if (peek) {
		err = peek_eof(fd, deadline, &got);
	} else if (!late) {
		err = read_to_eof(fd, deadline, &got);
	}
	if (!err) {
		printf("request=%llu how=%s\n", got, how);
		fflush(stdout);
		usleep((useconds_t)(work * 1e6));
	}
	while (!err && sent < size) {
		size_t want = size - sent < 65536 ? (size_t)(size - sent) : 65536;

		set_timeout(fd, SO_SNDTIMEO, deadline - mono());
		n = send(fd, buf, want, MSG_NOSIGNAL);
		if (n < 0 && errno != EINTR && errno != EAGAIN)
			err = errno;
		if (n > 0)
			sent += (unsigned long long)n;
		if (mono() >= deadline)
			break;
	}
	/* What is still unread (the request, the FIN) is read before the close:
	 * a close with unread data sends RST and drops the unsent answer. */
	if (!err && (early || late || peek)) {
		got = 0;
		err = read_to_eof(fd, deadline, &got);
	}
	free(buf);
	close(fd);
	finish(err ? "error" : sent == size ? "answered" : "timeout", err, sent);
	return 0;
}

/* readhold (server): read to EOF, then keep the socket open: a CLOSE_WAIT leak. */
static int run_readhold(int fd, double deadline)
{
	unsigned long long got = 0;
	int err = read_to_eof(fd, deadline, &got);

	if (err) {
		finish("error", err, got);
		return 0;
	}
	printf("eof read\n");
	fflush(stdout);
	return run_hold(fd, deadline);
}

/*
 * flood (server): accept `count` connections, give each a small send buffer
 * and fill it without blocking (the clients never read), then watch them
 * all: a reaped socket (shut down both ways) reports POLLHUP. Prints
 * "wedged=N at=T" once all queues are full and "reaped=N last_at=T" at the
 * end. With procs > 1 the connections are spread over that many processes
 * (each its own owner), each reporting its own lines.
 */
static int run_flood(int lfd, unsigned long long count, int procs, double deadline)
{
	unsigned long long want = count / (unsigned long long)procs, n = 0, reaped = 0;
	int sndbuf = 4096, me = 0;
	double last_at = 0;
	struct pollfd *p;

	for (int i = 1; i < procs; i++)
		if (fork() == 0) {
			me = i;
			break;
		}
	if (me == procs - 1)
		want += count % (unsigned long long)procs;
	p = calloc(want ? want : 1, sizeof(*p));
	while (n < want && mono() < deadline) {
		struct pollfd lp = { lfd, POLLIN, 0 };
		int c;

		if (poll(&lp, 1, 100) != 1 || (c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) < 0)
			continue;
		setsockopt(c, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
		p[n++] = (struct pollfd){ c, POLLOUT, 0 };
	}
	close(lfd);
	for (unsigned long long i = 0; i < n; i++) {
		static char buf[65536];

		while (send(p[i].fd, buf, sizeof(buf), MSG_NOSIGNAL) > 0)
			;
		p[i].events = 0; /* POLLHUP and POLLERR are always reported */
	}
	printf("wedged=%llu at=%.3f\n", n, wall());
	fflush(stdout);
	while (reaped < n && mono() < deadline) {
		int r = poll(p, (nfds_t)n, 100);

		for (unsigned long long i = 0; r > 0 && i < n; i++) {
			if (p[i].fd < 0 || !(p[i].revents & (POLLHUP | POLLERR)))
				continue;
			close(p[i].fd);
			p[i].fd = -1; /* poll ignores it from now on */
			reaped++;
			last_at = wall();
		}
	}
	printf("reaped=%llu of=%llu last_at=%.3f\n", reaped, n, last_at);
	finish(reaped == n ? "reaped" : "timeout", 0, 0);
	if (me == 0)
		while (wait(NULL) > 0)
			;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "port", required_argument, 0, 'p' },	   { "host", required_argument, 0, 'H' },
		{ "mode", required_argument, 0, 'm' },	   { "duration", required_argument, 0, 'd' },
		{ "rate", required_argument, 0, 'r' },	   { "chunk", required_argument, 0, 'c' },
		{ "reuse-after", required_argument, 0, 'u' }, { "every", required_argument, 0, 'e' },
		{ "keepalive", required_argument, 0, 'k' },	   { "count", required_argument, 0, 'n' },
		{ "procs", required_argument, 0, 'P' },
		{ "how", required_argument, 0, 'w' },	   { "fin-after", required_argument, 0, 'f' },
		{ "sendfile", no_argument, 0, 'S' },	   { "backlog", required_argument, 0, 'b' },
		{ "mptcp", no_argument, 0, 'M' },
		{ 0, 0, 0, 0 },
	};
	struct args a = { .host = "127.0.0.1", .duration = 10, .chunk = 65536, .reuse_after = 1,
			  .every = 0.5, .procs = 1, .how = "eof", .backlog = 4096 };
	double deadline;
	int c, fd, lfd = -1;

	if (argc < 2) {
		fprintf(stderr, "usage: tcpdrv server|client --port P --mode M [...]\n");
		return 2;
	}
	a.role = argv[1];
	optind = 2;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'p': a.port = atoi(optarg); break;
		case 'H': a.host = optarg; break;
		case 'm': a.mode = optarg; break;
		case 'd': a.duration = atof(optarg); break;
		case 'r': a.rate = atof(optarg); break;
		case 'c': a.chunk = (size_t)atol(optarg); break;
		case 'u': a.reuse_after = atof(optarg); break;
		case 'e': a.every = atof(optarg); break;
		case 'k': a.keepalive = atof(optarg); break;
		case 'n': a.count = strtoull(optarg, NULL, 10); break;
		case 'P': a.procs = atoi(optarg); break;
		case 'w': a.how = optarg; break;
		case 'f': a.fin_after = atof(optarg); break;
		case 'S': a.sendfile = true; break;
		case 'b': a.backlog = atoi(optarg); break;
		case 'M': g_proto = 262 /* IPPROTO_MPTCP */; break;
		default: return 2;
		}
	}
	if (!a.mode || !a.port || a.duration <= 0 || a.duration > 600 || !a.chunk || a.procs < 1 ||
	    a.procs > 1000) {
		fprintf(stderr, "tcpdrv: need --port, --mode and a --duration up to 600 s\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	t_start = mono();
	deadline = t_start + a.duration;
	if (!strcmp(a.mode, "churn") && !strcmp(a.role, "client"))
		return run_churn_client(&a, deadline);
	if (!strcmp(a.mode, "holdall") && !strcmp(a.role, "client"))
		return run_holdall_client(&a, deadline);
	if (!strcmp(a.role, "server")) {
		lfd = listen_on(a.host, a.port, a.backlog);
		printf("listening port=%d pid=%d\n", a.port, getpid());
		fflush(stdout);
		if (!strcmp(a.mode, "churn"))
			return run_churn_server(lfd, deadline);
		if (!strcmp(a.mode, "holdall"))
			return run_holdall_server(lfd, deadline);
		if (!strcmp(a.mode, "flood"))
			return run_flood(lfd, a.count, a.procs, deadline);
		/* answer --how accept-late: the connection waits in the accept
		 * queue (a backlog of 1 is full with it) while the server works. */
		if (!strcmp(a.mode, "answer") && !strcmp(a.how, "accept-late")) {
			usleep((useconds_t)(a.every * 1e6));
			a.every = 0;
			a.how = "eof";
		}
		fd = accept_one(lfd, deadline);
	} else {
		fd = connect_to(a.host, a.port, deadline);
	}
	printf("connected fd=%d\n", fd);
	fflush(stdout);
	t_start = mono();
	if (a.keepalive > 0) {
		int one = 1, secs = (int)a.keepalive;

		setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
		setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &secs, sizeof(secs));
		setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &secs, sizeof(secs));
	}
	if (!strcmp(a.mode, "send"))
		return run_send(fd, deadline, a.chunk, a.count, a.rate);
	if (!strcmp(a.mode, "read"))
		return run_read(fd, deadline, 0);
	if (!strcmp(a.mode, "trickle"))
		return run_read(fd, deadline, a.rate);
	if (!strcmp(a.mode, "idle"))
		return run_idle(fd, deadline);
	if (!strcmp(a.mode, "ping"))
		return run_ping(fd, deadline, a.every);
	if (!strcmp(a.mode, "hold"))
		return run_hold(fd, deadline);
	if (!strcmp(a.mode, "request"))
		return run_request(fd, deadline, a.fin_after);
	if (!strcmp(a.mode, "answer"))
		return run_answer(fd, deadline, a.every, a.count ? a.count : 1 << 20, a.how);
	if (!strcmp(a.mode, "readhold"))
		return run_readhold(fd, deadline);
	if (!strcmp(a.mode, "close")) { /* close at once: the peer is left in CLOSE_WAIT */
		usleep((useconds_t)(a.reuse_after * 1e6));
		close(fd);
		finish("closed", 0, 0);
		return 0;
	}
	if (!strcmp(a.mode, "zerowin"))
		return run_zerowin(fd, deadline, a.sendfile);
	if (!strcmp(a.mode, "forkexit"))
		return run_forked(fd, &a, deadline, true);
	if (!strcmp(a.mode, "shared"))
		return run_forked(fd, &a, deadline, false);
	if (!strcmp(a.mode, "swap") && lfd >= 0)
		return run_swap(lfd, fd, &a, deadline);
	if (!strcmp(a.mode, "reuse") && lfd >= 0)
		return run_reuse(lfd, fd, &a, deadline);
	fprintf(stderr, "tcpdrv: unknown mode %s\n", a.mode);
	return 2;
}
