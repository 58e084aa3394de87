/* conns.c - hold N established loopback TCP connections, for the scale benchmark and the
 * flood test (tests/integration/test_flood.sh).
 *
 *   conns --count N [--active K] [--ports P] [--base-port B] [--duration S]
 *
 * Both ends live in this process tree: 2N fds. RLIMIT_NOFILE is raised to its
 * hard limit, which a root without CAP_SYS_RESOURCE cannot lift (20,000 on
 * the development VMs), so the connections are split over as many worker
 * processes as that needs, each with its own P listening ports. Clients bind
 * to 127.0.0.2..127.0.0.17 with IP_BIND_ADDRESS_NO_PORT, so the ephemeral
 * range (about 28,000 ports per 4-tuple prefix) is never exhausted. The first
 * K clients (spread over the workers) are "busy": each sends 64 bytes once a
 * second, spread evenly over the second, and the server side reads them
 * (epoll). The rest stay idle with empty queues.
 *
 * Prints "ready conns=N active=K workers=W pids=..." once every connection is
 * accepted, then holds them until SIGINT/SIGTERM or --duration (at most
 * 600 s), closes everything and prints "done ...". Exit 1 if the connections
 * cannot be made; workers die with the parent (PR_SET_PDEATHSIG).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_PORTS 64
#define MAX_WORKERS 64
#define SRC_ADDRS 16
#define BATCH 256 /* connects between two accept drains; well under the backlog */
#define TICK_MS 50
#define MSG_BYTES 64

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
	(void)sig;
	g_stop = 1;
}

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct opts {
	long count, active, ports, base_port;
	double duration;
};

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "count", required_argument, 0, 'n' },	    { "active", required_argument, 0, 'a' },
		{ "ports", required_argument, 0, 'p' },	    { "base-port", required_argument, 0, 'b' },
		{ "duration", required_argument, 0, 'd' }, { 0, 0, 0, 0 },
	};
	int c;

	*o = (struct opts){ .count = 1000, .active = 0, .ports = 8, .base_port = 20000,
			    .duration = 120 };
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		char *end;

		errno = 0;
		switch (c) {
		case 'n': o->count = strtol(optarg, &end, 10); break;
		case 'a': o->active = strtol(optarg, &end, 10); break;
		case 'p': o->ports = strtol(optarg, &end, 10); break;
		case 'b': o->base_port = strtol(optarg, &end, 10); break;
		case 'd': o->duration = strtod(optarg, &end); break;
		default: return -1;
		}
		if (errno || *end)
			return -1;
	}
	if (o->count < 1 || o->count > 200000 || o->active < 0 || o->active > o->count ||
	    o->ports < 1 || o->ports > MAX_PORTS || o->base_port < 1 ||
	    o->base_port + o->ports > 32768 || o->duration <= 0 || o->duration > 600)
		return -1;
	return 0;
}

/* Raise the soft fd limit to the hard one; returns the connections one process can hold. */
static long conns_per_process(long ports)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return -1;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl))
		return -1;
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > 2000000)
		rl.rlim_cur = 2000000;
	return ((long)rl.rlim_cur - ports - 64) / 2;
}

static int listen_on(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 4096)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Connection i: source 127.0.0.(2 + i % SRC_ADDRS), destination port base + i % ports. */
static int connect_one(long i, long base_port, const struct opts *o)
{
	struct sockaddr_in src = { .sin_family = AF_INET,
				   .sin_addr.s_addr = htonl(0x7f000002u + (uint32_t)(i % SRC_ADDRS)) };
	struct sockaddr_in dst = { .sin_family = AF_INET,
				   .sin_port = htons((uint16_t)(base_port + i % o->ports)),
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	/* The port is picked at connect() for the full 4-tuple, not at bind(). */
	setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&src, sizeof(src)) ||
	    connect(fd, (struct sockaddr *)&dst, sizeof(dst))) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Accept whatever is queued on every listener; returns how many were accepted. */
static long drain_accepts(const int *lfds, long nl, int *srv, long have, long max, int ep)
{
	long got = 0;

	for (long l = 0; l < nl; l++) {
		while (have + got < max) {
			int fd = accept4(lfds[l], NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
			struct epoll_event ev = { .events = EPOLLIN };

			if (fd < 0)
				break;
			ev.data.fd = fd;
			epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
			srv[have + got++] = fd;
		}
	}
	return got;
}

/* Read what the busy clients sent; at most one epoll batch per call. */
static void read_ready(int ep, int timeout_ms)
{
	struct epoll_event evs[512];
	char buf[4096];
	int n = epoll_wait(ep, evs, 512, timeout_ms);

	for (int i = 0; i < n; i++)
		while (read(evs[i].data.fd, buf, sizeof(buf)) > 0)
			;
}

/* One worker's share: connections [first, first + count), the busy ones among them. */
struct share {
	long first, count, active, base_port;
};

/* Make the share's connections, report readiness on fd `ready`, hold them until told to stop. */
static int run_worker(const struct opts *o, const struct share *sh, int ready, double deadline)
{
	int lfds[MAX_PORTS], *cli = NULL, *srv = NULL, ep = -1, status = 1;
	long n_cli = 0, n_srv = 0, nl = 0, next_busy = 0;

	cli = calloc((size_t)sh->count, sizeof(*cli));
	srv = calloc((size_t)sh->count, sizeof(*srv));
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (!cli || !srv || ep < 0) {
		fprintf(stderr, "conns: out of memory\n");
		goto cleanup;
	}
	for (; nl < o->ports; nl++) {
		lfds[nl] = listen_on((int)(sh->base_port + nl));
		if (lfds[nl] < 0) {
			fprintf(stderr, "conns: cannot listen on 127.0.0.1:%ld: %s\n",
				sh->base_port + nl, strerror(errno));
			goto cleanup;
		}
	}
	while (n_cli < sh->count && !g_stop && mono() < deadline) {
		int fd = connect_one(sh->first + n_cli, sh->base_port, o);

		if (fd < 0) {
			fprintf(stderr, "conns: connect #%ld failed: %s\n", sh->first + n_cli,
				strerror(errno));
			goto cleanup;
		}
		cli[n_cli++] = fd;
		if (n_cli % BATCH == 0)
			n_srv += drain_accepts(lfds, nl, srv, n_srv, sh->count, ep);
	}
	/* The last handshakes complete in softirq: wait for them, bounded. */
	while (n_srv < n_cli && !g_stop && mono() < deadline) {
		struct pollfd p[MAX_PORTS];

		for (long l = 0; l < nl; l++)
			p[l] = (struct pollfd){ lfds[l], POLLIN, 0 };
		poll(p, (nfds_t)nl, 100);
		n_srv += drain_accepts(lfds, nl, srv, n_srv, sh->count, ep);
	}
	if (n_srv < sh->count) {
		fprintf(stderr, "conns: only %ld of %ld connections made\n", n_srv, sh->count);
		goto cleanup;
	}
	if (write(ready, "r", 1) != 1)
		goto cleanup;

	/* Each tick sends on the next active/(1000/TICK_MS) busy clients: one message
	 * per busy client per second. */
	while (!g_stop && mono() < deadline) {
		long per_tick = (sh->active * TICK_MS + 999) / 1000;
		double tick_end = mono() + TICK_MS / 1000.0;
		char msg[MSG_BYTES] = { 0 };

		for (long k = 0; k < per_tick && sh->active; k++) {
			send(cli[next_busy], msg, sizeof(msg), MSG_NOSIGNAL | MSG_DONTWAIT);
			next_busy = (next_busy + 1) % sh->active;
		}
		while (!g_stop && mono() < tick_end)
			read_ready(ep, (int)((tick_end - mono()) * 1000) + 1);
	}
	status = 0;
cleanup:
	for (long i = 0; i < n_cli; i++)
		close(cli[i]);
	for (long i = 0; i < n_srv; i++)
		close(srv[i]);
	for (long l = 0; l < nl; l++)
		close(lfds[l]);
	if (ep >= 0)
		close(ep);
	free(cli);
	free(srv);
	return status;
}

static void stop_workers(const pid_t *pids, int n)
{
	for (int w = 0; w < n; w++)
		kill(pids[w], SIGTERM);
	for (int w = 0; w < n; w++)
		waitpid(pids[w], NULL, 0); /* each worker is bounded by its own deadline */
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };
	pid_t pids[MAX_WORKERS];
	int pipes[MAX_WORKERS], n_workers = 0, status = 1, n_ready = 0;
	long per_proc, workers;
	double t0, deadline;
	struct opts o;

	if (parse_opts(argc, argv, &o)) {
		fprintf(stderr, "usage: conns --count N [--active K] [--ports P] [--base-port B] "
				"[--duration S (<= 600)]\n");
		return 2;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	t0 = mono();
	deadline = t0 + o.duration;
	per_proc = conns_per_process(o.ports);
	if (per_proc < 1) {
		fprintf(stderr, "conns: cannot raise RLIMIT_NOFILE: %s\n", strerror(errno));
		return 1;
	}
	workers = (o.count + per_proc - 1) / per_proc;
	if (workers > MAX_WORKERS || o.base_port + workers * o.ports > 32768) {
		fprintf(stderr, "conns: %ld connections need %ld processes at %ld each: too many\n",
			o.count, workers, per_proc);
		return 1;
	}
	for (; n_workers < workers; n_workers++) {
		long lo = o.count * n_workers / workers, hi = o.count * (n_workers + 1) / workers;
		struct share sh = { lo, hi - lo,
				    o.active * (n_workers + 1) / workers - o.active * n_workers / workers,
				    o.base_port + n_workers * o.ports };
		int p[2];

		if (pipe2(p, O_CLOEXEC))
			goto cleanup;
		pids[n_workers] = fork();
		if (pids[n_workers] < 0) {
			close(p[0]);
			close(p[1]);
			goto cleanup;
		}
		if (pids[n_workers] == 0) {
			prctl(PR_SET_PDEATHSIG, SIGTERM);
			close(p[0]);
			_exit(run_worker(&o, &sh, p[1], deadline));
		}
		close(p[1]);
		pipes[n_workers] = p[0];
	}
	/* One byte from each worker once its share is connected; EOF means it failed. */
	for (int w = 0; w < n_workers; w++) {
		struct pollfd p = { pipes[w], POLLIN, 0 };
		char c;

		while (!g_stop && mono() < deadline && poll(&p, 1, 200) == 0)
			;
		if (g_stop || mono() >= deadline || read(pipes[w], &c, 1) != 1)
			break;
		n_ready++;
	}
	if (n_ready < n_workers) {
		fprintf(stderr, "conns: %d of %d workers failed to connect their share\n",
			n_workers - n_ready, n_workers);
		goto cleanup;
	}
	printf("ready conns=%ld active=%ld workers=%d setup_s=%.2f pids=%d", o.count, o.active,
	       n_workers, mono() - t0, getpid());
	for (int w = 0; w < n_workers; w++)
		printf(",%d", pids[w]);
	printf("\n");
	fflush(stdout);
	while (!g_stop && mono() < deadline) {
		int st;
		pid_t dead = waitpid(-1, &st, WNOHANG);

		if (dead > 0) {
			fprintf(stderr, "conns: worker %d ended early\n", dead);
			goto cleanup;
		}
		usleep(100000);
	}
	printf("done conns=%ld held_s=%.1f\n", o.count, mono() - t0);
	fflush(stdout);
	status = 0;
cleanup:
	stop_workers(pids, n_workers);
	for (int w = 0; w < n_workers; w++)
		close(pipes[w]);
	return status;
}
