/* soakmix.c - the mixed-traffic soak's traffic: many real TCP connections of
 * every live and dead kind at once, each labelled at birth, each ending with
 * a fate seen from the application side.
 *
 *   soakmix kinds                         the kinds, their group and liveness (for the report)
 *   soakmix run --group G --out FILE --duration S --grace G --interval I
 *               [--idle-timeout S] [--peer-gone S] [--scale F] [--count-scale F]
 *               [--ready FILE] [--go FILE] [--worker N]
 *
 * One process per group, inside the network namespace (and cgroup) the
 * orchestrator (tests/soak/soak_mix.sh) put it in; both ends of every
 * connection live in it, so the daemon finds it as the owner of either.
 * Groups: plain (the default target), idle (a target with --idle-timeout),
 * pg (a target with peer-gone=), slow (a namespace whose loopback is a tbf
 * slow link). Long-lived live connections are opened half before --ready
 * is written (before the daemons start; served while they start), half
 * after --go appears. Dead ones
 * are born and killed in waves all along. At the end every live connection
 * closes in order and checks its bytes; every dead one's blocked end must
 * have seen an error (the reap). One JSON line per connection goes to --out
 * (churn: one line per failure and a summary line).
 *
 * Everything is bounded by --duration (at most 7200 s) and by counts.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/sockios.h>
#include <linux/tcp.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- kinds ------------------------------------------------------------ */

enum kind {
	K_BULK, K_TRICKLE, K_PAUSED, K_IDLE, K_HALF_EOF, K_HALF_EARLY, K_HALF_BUSY, K_HALF_PEEK,
	K_SENDFILE, K_CHURN, K_PING, K_PG_LIVE, K_SLOW,
	K_FROZEN, K_BLACKHOLE, K_ZEROWIN, K_SILENT, K_PEER_GONE, K_STORM,
	K_MAX,
};

/* Which rule must reap a dead kind (its limit: that rule's timeout + interval + 1 s). */
enum rule { R_NONE, R_STALL, R_IDLE, R_PEER_GONE };

struct kind_info {
	const char *name, *group;
	bool live;
	enum rule rule;
	int count;	  /* concurrent connections (long-lived) or per wave (dead, half-close) */
	bool long_lived;  /* opened at the start, closed in order at the end */
};

static const struct kind_info kinds[K_MAX] = {
	[K_BULK] = { "bulk", "plain", true, R_NONE, 16, true },
	[K_TRICKLE] = { "trickle", "plain", true, R_NONE, 100, true },
	[K_PAUSED] = { "paused", "plain", true, R_NONE, 40, true },
	[K_IDLE] = { "idle", "plain", true, R_NONE, 1600, true },
	[K_HALF_EOF] = { "half_closed_eof", "plain", true, R_NONE, 6, false },
	[K_HALF_EARLY] = { "half_closed_early", "plain", true, R_NONE, 6, false },
	[K_HALF_BUSY] = { "half_closed_busy", "plain", true, R_NONE, 6, false },
	[K_HALF_PEEK] = { "half_closed_peek", "plain", true, R_NONE, 6, false },
	[K_SENDFILE] = { "sendfile", "plain", true, R_NONE, 16, true },
	[K_CHURN] = { "churn", "plain", true, R_NONE, 40, false }, /* per second */
	[K_PING] = { "keepalive_ping", "idle", true, R_NONE, 200, true },
	[K_PG_LIVE] = { "full_close", "pg", true, R_NONE, 10, false },
	[K_SLOW] = { "slow_link", "slow", true, R_NONE, 8, true },
	[K_FROZEN] = { "frozen_reader", "plain", false, R_STALL, 6, false },
	[K_BLACKHOLE] = { "blackholed_peer", "plain", false, R_STALL, 4, false },
	[K_ZEROWIN] = { "zero_window_vanished", "plain", false, R_STALL, 3, false },
	[K_SILENT] = { "silent_server", "idle", false, R_IDLE, 6, false },
	[K_PEER_GONE] = { "peer_gone", "pg", false, R_PEER_GONE, 6, false },
	[K_STORM] = { "storm", "plain", false, R_STALL, 300, false },
};

/* ---- configuration ---------------------------------------------------- */

struct cfg {
	const char *group, *out, *ready, *go;
	double duration, grace, interval, idle_timeout, peer_gone;
	double scale;	    /* time scale (emulated guests): rates / scale, waits * scale */
	double count_scale; /* connection counts * this */
	int worker;
};

static struct cfg C;
static FILE *g_out;
static int g_ep;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts); /* wall clock: compared with the daemon's ts= */
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double frand(double lo, double hi)
{
	return lo + (hi - lo) * ((double)random() / (double)RAND_MAX);
}

static int count_of(enum kind k)
{
	int n = (int)lround(kinds[k].count * C.count_scale);

	return n < 1 ? 1 : n;
}

/* ---- connections ------------------------------------------------------ */

enum fate {
	F_RUNNING, F_COMPLETE, F_SHUT, F_REAPED, F_MISSED, F_HARNESS,
};
static const char *const fate_names[] = { "running", "complete", "shut", "reaped", "missed", "harness" };

struct conn;
struct end {
	struct conn *c;
	int fd;
	bool server;
	uint32_t events; /* epoll interest now */
};

struct conn {
	enum kind kind;
	int id, family;
	struct end s, c;
	uint16_t sport, cport;
	bool preexisting;
	double born, dies_at, died, end_at, err_at, next_at, phase_at;
	double stuck_at; /* zero_window_vanished: when data was first seen stuck behind the window */
	bool stuck;	 /* ... and it stayed: from there on a frozen reader (see zerowin_step) */
	int phase, err, memfd;
	char err_side;
	uint64_t sent, got, expect;
	double paced; /* the pacer's clock: bytes sent so far are "paid" up to here */
	double read_at; /* trickle, sendfile: the reader's last turn (or its start) */
	double owed;	/* ... bytes its rate allows that it has not read yet */
	double max_gap; /* ... the longest time between two of its turns */
	enum fate fate;
	struct conn *next_all;
};

static struct conn *g_all;
static int g_ids;
static int g_open; /* connections not yet finished */

/* Client source ports for the kinds nft blackholes by port: a range of
 * their own, below the ephemeral range (32768-60999), so a port in the drop
 * set never belongs to another connection. */
#define BH_PORT_LO 12000
#define BH_PORT_HI 13999
static int g_bh_next = BH_PORT_LO;

static uint16_t server_port(enum kind k, int family)
{
	return (uint16_t)(7000 + k * 20 + (family == AF_INET6 ? 10 : 0) + C.worker);
}

static void emit(const struct conn *c);

static void ep_set(struct end *e, uint32_t ev)
{
	struct epoll_event x = { .events = ev, .data.ptr = e };

	if (e->fd < 0 || ev == e->events)
		return;
	if (!e->events)
		epoll_ctl(g_ep, EPOLL_CTL_ADD, e->fd, &x);
	else if (!ev)
		epoll_ctl(g_ep, EPOLL_CTL_DEL, e->fd, NULL);
	else
		epoll_ctl(g_ep, EPOLL_CTL_MOD, e->fd, &x);
	e->events = ev;
}

static void end_close(struct end *e)
{
	if (e->fd < 0)
		return;
	ep_set(e, 0);
	close(e->fd);
	e->fd = -1;
}

static int g_churn_done, g_churn_failed;

/* The connection ends with this fate (first evidence wins). Churn's many
 * completions are counted, not written one by one. */
static void settle(struct conn *c, enum fate f, char side, int err)
{
	if (c->fate != F_RUNNING)
		return;
	if (c->kind == K_CHURN)
		*(f == F_COMPLETE ? &g_churn_done : &g_churn_failed) += 1;
	c->fate = f;
	c->err_side = side;
	c->err = err;
	c->err_at = now_s();
	end_close(&c->s);
	end_close(&c->c);
	if (c->memfd >= 0)
		close(c->memfd);
	c->memfd = -1;
	g_open--;
	if (c->kind != K_CHURN || f != F_COMPLETE)
		emit(c);
}

/* An end saw an error or an unexpected EOF: a reap if the connection is a
 * dead one past its death, else the worst bug (a live one was shut). */
static void broken(struct conn *c, char side, int err)
{
	if (!kinds[c->kind].live && c->died > 0)
		settle(c, F_REAPED, side, err);
	else
		settle(c, F_SHUT, side, err);
}

/* ---- listeners and connects ------------------------------------------- */

static int lfd_of[K_MAX][2];

static socklen_t addr_of(int family, uint16_t port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons(port);
		a->sin6_addr = in6addr_loopback;
		return sizeof(*a);
	}
	struct sockaddr_in *a = (struct sockaddr_in *)ss;

	a->sin_family = AF_INET;
	a->sin_port = htons(port);
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return sizeof(*a);
}

static int listener(enum kind k, int family)
{
	struct sockaddr_storage a;
	socklen_t al = addr_of(family, server_port(k, family), &a);
	int one = 1, fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, al) || listen(fd, 4096)) {
		fprintf(stderr, "soakmix: listen %s port %u: %s\n", kinds[k].name, server_port(k, family),
			strerror(errno));
		exit(1);
	}
	return fd;
}

static uint16_t local_port(int fd)
{
	struct sockaddr_storage a;
	socklen_t al = sizeof(a);

	if (getsockname(fd, (struct sockaddr *)&a, &al))
		return 0;
	return ntohs(a.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&a)->sin6_port
					     : ((struct sockaddr_in *)&a)->sin_port);
}

/* Bind fd to the next free port of the blackhole range. */
static int bind_bh_port(int fd, int family)
{
	for (int tries = 0; tries < BH_PORT_HI - BH_PORT_LO; tries++) {
		struct sockaddr_storage a;
		socklen_t al = addr_of(family, (uint16_t)g_bh_next, &a);

		if (++g_bh_next > BH_PORT_HI)
			g_bh_next = BH_PORT_LO;
		if (!bind(fd, (struct sockaddr *)&a, al))
			return 0;
	}
	return -1;
}

/* A connected pair on loopback: the client end and the server end the
 * listener accepted. Blocking connect and accept: loopback answers at once. */
static struct conn *open_conn(enum kind k, int family)
{
	struct conn *c = calloc(1, sizeof(*c));
	struct sockaddr_storage a;
	socklen_t al = addr_of(family, server_port(k, family), &a);
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	if (!c || fd < 0)
		goto fail;
	c->kind = k;
	c->id = ++g_ids;
	c->family = family;
	c->memfd = -1;
	c->s = (struct end){ c, -1, true, 0 };
	c->c = (struct end){ c, fd, false, 0 };
	if ((k == K_BLACKHOLE || k == K_ZEROWIN) && bind_bh_port(fd, family))
		goto fail;
	if (k == K_STORM) {
		/* Hundreds of queues filled at once: kilobytes each, as a storm of
		 * small requests would be, not gigabytes of copies on two cores. */
		int small = 4096;

		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	}
	if (connect(fd, (struct sockaddr *)&a, al))
		goto fail;
	c->s.fd = accept4(lfd_of[k][family == AF_INET6], NULL, NULL, SOCK_CLOEXEC);
	if (c->s.fd < 0)
		goto fail;
	if (k == K_STORM) {
		int small = 4096;

		setsockopt(c->s.fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	}
	fcntl(c->s.fd, F_SETFL, O_NONBLOCK);
	fcntl(fd, F_SETFL, O_NONBLOCK);
	setsockopt(c->s.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->sport = local_port(c->s.fd);
	c->cport = local_port(fd);
	c->born = now_s();
	c->next_all = g_all;
	g_all = c;
	g_open++;
	return c;
fail:
	fprintf(stderr, "soakmix: cannot open a %s connection: %s\n", kinds[k].name, strerror(errno));
	if (fd >= 0)
		close(fd);
	if (c && c->s.fd >= 0)
		close(c->s.fd);
	free(c);
	return NULL;
}

/* ---- output ----------------------------------------------------------- */

static double limit_of(enum kind k)
{
	switch (kinds[k].rule) {
	case R_STALL:
		return C.grace + C.interval + C.scale;
	case R_IDLE:
		return C.idle_timeout + C.interval + C.scale;
	case R_PEER_GONE:
		return C.peer_gone + C.interval + C.scale;
	default:
		return 0;
	}
}

static void emit(const struct conn *c)
{
	double latency = c->died > 0 && c->err_at > 0 ? c->err_at - c->died : -1;

	fprintf(g_out,
		"{\"id\":\"%s%d-%d\",\"kind\":\"%s\",\"group\":\"%s\",\"live\":%s,\"family\":%d,"
		"\"sport\":%u,\"cport\":%u,\"preexisting\":%s,\"born\":%.3f,\"died\":%.3f,\"end\":%.3f,"
		"\"fate\":\"%s\",\"side\":\"%c\",\"errno\":\"%s\",\"latency\":%.3f,\"limit\":%.3f,"
		"\"sent\":%llu,\"got\":%llu,\"stuck\":%s,\"max_gap\":%.3f}\n",
		C.group, C.worker, c->id, kinds[c->kind].name, kinds[c->kind].group,
		kinds[c->kind].live ? "true" : "false", c->family == AF_INET6 ? 6 : 4, c->sport, c->cport,
		c->preexisting ? "true" : "false", c->born, c->died, c->err_at, fate_names[c->fate],
		c->err_side ? c->err_side : '-', c->err ? strerrorname_np(c->err) : "none", latency,
		limit_of(c->kind), (unsigned long long)c->sent, (unsigned long long)c->got,
		c->stuck ? "true" : "false", c->max_gap);
	fflush(g_out);
}

/* ---- I/O -------------------------------------------------------------- */

static char g_buf[1 << 16];

/* Send up to len bytes from the server end; n, 0 if it would block, or -errno. */
static ssize_t s_send(struct conn *c, size_t len)
{
	ssize_t n;

	if (len > sizeof(g_buf))
		len = sizeof(g_buf);
	if (c->memfd >= 0) {
		off_t off = (off_t)(c->sent % (1 << 20));

		if (len > (size_t)((1 << 20) - off))
			len = (size_t)((1 << 20) - off);
		n = sendfile(c->s.fd, c->memfd, &off, len);
	} else {
		n = send(c->s.fd, g_buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	}
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -errno;
	c->sent += (uint64_t)n;
	return n;
}

/* Read up to len from an end: n, 0 at EOF, -EAGAIN if nothing, or -errno. */
static ssize_t e_recv(struct end *e, size_t len, int flags)
{
	ssize_t n;

	if (len > sizeof(g_buf))
		len = sizeof(g_buf);
	n = recv(e->fd, g_buf, len, flags | MSG_DONTWAIT);
	if (n < 0)
		return errno == EINTR ? -EAGAIN : -errno;
	if (n > 0 && !e->server && !(flags & MSG_PEEK))
		e->c->got += (uint64_t)n;
	return n;
}

/* Bytes per second a paced sender or a slow reader moves. */
static double bulk_rate(void)
{
	return 2e6 / C.scale;
}
/* A slow reader that still frees a loopback window (64 KB segments, so
 * about 128 KB consumed) four times a grace: its ACKs progress. A slower one
 * is, on loopback, what a frozen reader looks like to the sender for a whole
 * grace (README: Guarantees). */
static double trickle_rate(void)
{
	return 4 * 131072 / C.grace;
}

static int tcp_state(int fd)
{
	struct tcp_info ti;
	socklen_t tl = sizeof(ti);

	memset(&ti, 0, sizeof(ti));
	return getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &tl) ? -1 : ti.tcpi_state;
}

/* ---- nft: the blackholes ---------------------------------------------- */

/* Ports to add to / remove from the drop set, applied once per loop turn. */
static char g_nft_add[4096], g_nft_del[4096];

static void nft_queue(char *list, uint16_t port)
{
	size_t l = strlen(list);

	snprintf(list + l, 4096 - l, "%s%u", l ? ", " : "", port);
}

static void nft_flush(void)
{
	char cmd[8400];

	if (g_nft_add[0]) {
		snprintf(cmd, sizeof(cmd), "nft add element inet soak bh '{ %s }'", g_nft_add);
		if (system(cmd))
			fprintf(stderr, "soakmix: %s failed\n", cmd);
		g_nft_add[0] = '\0';
	}
	if (g_nft_del[0]) {
		snprintf(cmd, sizeof(cmd), "nft delete element inet soak bh '{ %s }' 2>/dev/null", g_nft_del);
		if (system(cmd)) {
		} /* an element already gone is no harm */
		g_nft_del[0] = '\0';
	}
}

/* ---- the kinds' behaviour ---------------------------------------------- */

/* Long-lived live kinds stop and close in order from here on; no dead
 * connection is born after last_birth (its fate must settle in the run). */
static double g_t0, g_end_phase, g_last_birth, g_deadline;

static bool half_kind(enum kind k)
{
	return k == K_HALF_EOF || k == K_HALF_EARLY || k == K_HALF_BUSY || k == K_HALF_PEEK;
}

static bool sender_kind(enum kind k)
{
	return k == K_BULK || k == K_TRICKLE || k == K_PAUSED || k == K_SLOW || k == K_SENDFILE ||
	       k == K_FROZEN || k == K_BLACKHOLE || k == K_STORM;
}

/* Start a connection's life once opened. */
static void start_conn(struct conn *c)
{
	double t = now_s();

	c->phase = 0;
	c->next_at = t;
	switch (c->kind) {
	case K_BULK: case K_TRICKLE: case K_PAUSED: case K_SLOW: case K_FROZEN: case K_BLACKHOLE:
	case K_STORM: case K_SENDFILE:
		if (c->kind == K_SENDFILE) {
			c->memfd = memfd_create("soakmix", MFD_CLOEXEC);
			if (c->memfd < 0 || ftruncate(c->memfd, 1 << 20))
				settle(c, F_HARNESS, 's', errno);
		}
		ep_set(&c->s, c->kind == K_STORM ? EPOLLRDHUP : EPOLLOUT | EPOLLRDHUP);
		/* Trickle and sendfile readers read on their timer; paused ones
		 * toggle; the rest read whatever comes. */
		ep_set(&c->c, c->kind == K_TRICKLE || c->kind == K_SENDFILE ? EPOLLRDHUP : EPOLLIN | EPOLLRDHUP);
		/* A paused reader's first pause comes somewhere in its first grace;
		 * a slow one reads from the start: its queue plateaus at once, and a
		 * first read a whole grace late would leave its window shut for
		 * longer than a grace (what a frozen reader looks like). */
		c->phase_at = t + (c->kind == K_TRICKLE || c->kind == K_SENDFILE ? frand(0, 0.1)
										  : frand(0.3, 1.0) * C.grace);
		c->read_at = t; /* its first gap counts from here */
		break;
	case K_IDLE: case K_SILENT:
		ep_set(&c->s, EPOLLIN | EPOLLRDHUP);
		ep_set(&c->c, EPOLLIN | EPOLLRDHUP);
		if (c->kind == K_SILENT)
			c->died = c->born; /* silent from birth */
		break;
	case K_PING:
		ep_set(&c->s, EPOLLIN | EPOLLRDHUP);
		ep_set(&c->c, EPOLLIN | EPOLLRDHUP);
		c->next_at = t + frand(0, C.idle_timeout / 3);
		break;
	case K_HALF_EOF: case K_HALF_EARLY: case K_HALF_BUSY: case K_HALF_PEEK:
		if (send(c->c.fd, "GET /answer\n", 12, MSG_NOSIGNAL) != 12) {
			broken(c, 'c', errno);
			return;
		}
		c->phase_at = t + 0.2 * C.scale; /* the FIN, a little later */
		c->expect = 262144;
		c->end_at = t + 2.5 * C.grace; /* the answer */
		ep_set(&c->c, EPOLLIN);
		ep_set(&c->s, c->kind == K_HALF_PEEK ? EPOLLRDHUP : c->kind == K_HALF_BUSY ? 0 : EPOLLIN);
		break;
	case K_CHURN: case K_PG_LIVE: case K_PEER_GONE:
		if (send(c->c.fd, g_buf, 100, MSG_NOSIGNAL) != 100) {
			broken(c, 'c', errno);
			return;
		}
		if (c->kind == K_CHURN) {
			ep_set(&c->s, EPOLLIN);
			ep_set(&c->c, EPOLLIN);
		} else if (c->kind == K_PG_LIVE) {
			close(c->c.fd); /* a client that is done closes the whole connection */
			c->c.fd = -1;
			ep_set(&c->s, EPOLLIN);
		} else {
			/* The stuck owner never reads; it only looks at its socket's state. */
			c->dies_at = t + frand(0.5, 1.5) * C.grace;
			c->next_at = c->dies_at;
		}
		break;
	case K_ZEROWIN:
		c->next_at = t; /* fill the window on the timer */
		break;
	default:
		break;
	}
}

/* The answer of a half-closed connection, once the "work" is done. */
static void half_answer(struct conn *c)
{
	while (c->sent < c->expect) {
		ssize_t n = s_send(c, (size_t)(c->expect - c->sent));

		if (n < 0) {
			broken(c, 's', (int)-n);
			return;
		}
		if (n == 0) {
			ep_set(&c->s, EPOLLOUT);
			return;
		}
	}
	/* Read what is left (request, FIN) before closing: a close with unread
	 * data would reset the connection and drop the answer's tail. */
	for (;;) {
		ssize_t n = e_recv(&c->s, sizeof(g_buf), 0);

		if (n == 0)
			break;
		if (n == -EAGAIN) {
			ep_set(&c->s, EPOLLIN);
			c->phase = 2;
			return;
		}
		if (n < 0) {
			broken(c, 's', (int)-n);
			return;
		}
	}
	end_close(&c->s);
}

/* The orderly end of a live connection: the sender stops and shuts its
 * side; the reader reads to EOF, checks the count, closes; the server sees
 * that EOF and closes. */
static void begin_close(struct conn *c)
{
	if (c->phase >= 10)
		return;
	c->phase = 10;
	shutdown(c->s.fd, SHUT_WR);
	ep_set(&c->s, EPOLLIN | EPOLLRDHUP);
	ep_set(&c->c, EPOLLIN | EPOLLRDHUP);
}

static void client_readable(struct conn *c, uint32_t ev)
{
	for (int i = 0; i < 64; i++) {
		ssize_t n = e_recv(&c->c, sizeof(g_buf), 0);

		if (n == -EAGAIN)
			break;
		if (n < 0) {
			broken(c, 'c', (int)-n);
			return;
		}
		if (n > 0 && c->kind == K_PING) {
			if (send(c->c.fd, g_buf, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) != n) {
				broken(c, 'c', errno);
				return;
			}
			continue;
		}
		if (n > 0)
			continue;
		/* EOF */
		if (c->phase == 10 || (half_kind(c->kind) && !c->s.events && c->s.fd < 0) ||
		    (half_kind(c->kind) && c->got >= c->expect) ||
		    (c->kind == K_CHURN && c->got == 1000)) {
			if ((half_kind(c->kind) && c->got != c->expect) ||
			    (c->phase == 10 && c->got != c->sent)) {
				settle(c, F_SHUT, 'c', EPROTO); /* bytes lost: never a complete */
				return;
			}
			end_close(&c->c);
			if (c->s.fd < 0)
				settle(c, F_COMPLETE, '-', 0);
			return;
		}
		broken(c, 'c', 0); /* an EOF nobody asked for */
		return;
	}
	(void)ev;
}

static void server_readable(struct conn *c)
{
	for (int i = 0; i < 64; i++) {
		ssize_t n = e_recv(&c->s, sizeof(g_buf), c->kind == K_HALF_PEEK && c->phase < 2 ? MSG_PEEK : 0);

		if (n == -EAGAIN)
			return;
		if (n < 0) {
			broken(c, 's', (int)-n);
			return;
		}
		switch (c->kind) {
		case K_CHURN:
			if (n > 0 && c->phase == 0) {
				c->phase = 1;
				if (send(c->s.fd, g_buf, 1000, MSG_NOSIGNAL) != 1000) {
					broken(c, 's', errno);
					return;
				}
				c->sent = 1000;
				shutdown(c->s.fd, SHUT_WR);
				continue;
			}
			if (n == 0) {
				end_close(&c->s);
				if (c->c.fd < 0)
					settle(c, F_COMPLETE, '-', 0);
				return;
			}
			continue;
		case K_PG_LIVE:
			if (n == 0) { /* read the close promptly: alive, closes too */
				settle(c, F_COMPLETE, '-', 0);
				return;
			}
			continue;
		case K_HALF_EARLY:
			if (c->phase == 0 && n > 0) { /* the request, before the FIN: no more reads */
				c->phase = 1;
				ep_set(&c->s, 0);
				return;
			}
			break;
		case K_HALF_PEEK:
			if (c->phase == 0) { /* noticed the EOF; nothing consumed */
				c->phase = 1;
				ep_set(&c->s, 0);
				return;
			}
			break;
		case K_HALF_EOF:
			if (c->phase == 0 && n == 0) {
				c->phase = 1;
				ep_set(&c->s, 0);
				return;
			}
			break;
		default:
			break;
		}
		if (half_kind(c->kind) && c->phase == 2 && n == 0) {
			end_close(&c->s); /* the answer sent, the rest read: closed in order */
			if (c->c.fd < 0)
				settle(c, F_COMPLETE, '-', 0);
			return;
		}
		if (n == 0) {
			if (c->phase == 10) { /* the reader's close after our FIN */
				end_close(&c->s);
				if (c->c.fd < 0)
					settle(c, F_COMPLETE, '-', 0);
				return;
			}
			if (half_kind(c->kind))
				continue;
			broken(c, 's', 0);
			return;
		}
		/* Pings' replies and anything else: consumed. */
	}
}

static void server_writable(struct conn *c)
{
	double t = now_s();

	if (half_kind(c->kind)) {
		half_answer(c);
		return;
	}
	/* The storm's senders are quiet until the instant their readers all
	 * freeze together: three hundred paced streams would only load the CPU.
	 * The zero-window kind writes only once its peer is gone (phase 3). */
	if (c->kind == K_ZEROWIN ? c->phase != 3
				 : c->phase >= 10 || !sender_kind(c->kind) || (c->kind == K_STORM && c->died <= 0))
		return;
	for (int i = 0; i < 16; i++) {
		/* Paced while alive; a dead one's sender writes flat out, so its
		 * queue is full (and its stall begins) at once. */
		size_t want = sizeof(g_buf);
		ssize_t n;

		if (c->died <= 0) {
			double allowed;

			/* A token bucket holding at most 0.1 s of credit: a sender that
			 * was held up (before the daemons started) does not burst. */
			if (c->paced < t - 0.1)
				c->paced = t - 0.1;
			allowed = bulk_rate() * (t - c->paced);
			if (allowed < 4096) {
				ep_set(&c->s, EPOLLRDHUP);
				c->next_at = t + 0.02;
				return;
			}
			if (allowed < (double)want)
				want = (size_t)allowed;
		}
		n = s_send(c, want);
		if (n < 0) {
			broken(c, 's', (int)-n);
			return;
		}
		if (n == 0)
			return; /* EPOLLOUT stays: woken when there is room, or by the reap */
		c->paced += (double)n / bulk_rate();
	}
}

static void on_event(struct end *e, uint32_t ev)
{
	struct conn *c = e->c;

	if (c->fate != F_RUNNING)
		return;
	if (ev & EPOLLERR) {
		int err = 0;
		socklen_t l = sizeof(err);

		getsockopt(e->fd, SOL_SOCKET, SO_ERROR, &err, &l);
		broken(c, e->server ? 's' : 'c', err ? err : EPIPE);
		return;
	}
	if (e->server) {
		if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP))
			server_readable(c);
		if (c->fate == F_RUNNING && c->s.fd >= 0 && (ev & EPOLLOUT))
			server_writable(c);
		if (c->fate == F_RUNNING && c->s.fd >= 0 && (ev & EPOLLHUP) && sender_kind(c->kind) &&
		    c->phase < 10)
			broken(c, 's', EPIPE);
	} else {
		if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP))
			client_readable(c, ev);
	}
}

/* ---- time-driven steps ------------------------------------------------ */

/* The zero-window kind: offer the peer its window, a segment at a time,
 * until it is zero with nothing outstanding (every byte acknowledged), then,
 * at its death, blackhole the peer and write behind the window. */
static void zerowin_step(struct conn *c, double t)
{
	struct tcp_info ti;
	socklen_t tl = sizeof(ti);
	int outq = 0;

	if (c->phase == 2) { /* the drop is in place: write behind the window */
		c->died = t;
		c->phase = 3;
		ep_set(&c->s, EPOLLOUT | EPOLLRDHUP);
		server_writable(c);
		return;
	}
	if (c->phase == 1) {
		if (t >= c->dies_at) {
			nft_queue(g_nft_add, c->cport);
			c->phase = 2;
		}
		c->next_at = t + 0.01;
		return;
	}
	if (c->phase == 3) { /* written behind the window: nothing more to do */
		c->next_at = t + 0.1;
		return;
	}
	memset(&ti, 0, sizeof(ti));
	if (getsockopt(c->s.fd, IPPROTO_TCP, TCP_INFO, &ti, &tl) || ioctl(c->s.fd, SIOCOUTQ, &outq)) {
		settle(c, F_HARNESS, 's', errno);
		return;
	}
	/* The receiver may take less than it advertised (its buffer's overhead
	 * outgrew the window it offered): then data stays queued behind a zero
	 * window the reader never reopens. That is no setup for this kind but a
	 * frozen reader, dead since the data stuck: declared so after 0.5 s of
	 * it, and the report then wants cause=zero_window. */
	if (outq > 0 && ti.tcpi_snd_wnd == 0) {
		if (c->stuck_at <= 0)
			c->stuck_at = t;
		if (t - c->stuck_at >= 0.5 * C.scale) {
			c->stuck = true;
			c->died = c->stuck_at;
			c->phase = 3;
			/* Watch the sender from here, as phase 2 does: the reap must
			 * reach the application (a 30-minute run saw three stuck ones
			 * reaped by the daemon and never noticed here). */
			ep_set(&c->s, EPOLLOUT | EPOLLRDHUP);
			server_writable(c);
			return;
		}
	} else {
		c->stuck_at = 0;
	}
	if (outq == 0 && ti.tcpi_snd_wnd == 0) {
		c->phase = 1;
		if (c->dies_at < t)
			c->dies_at = t;
	} else if (outq == 0 && ti.tcpi_snd_wnd > 0) {
		/* One segment at a time, as tcpdrv's zerowin does: the whole
		 * window in two segments made the reader drop one. */
		ssize_t n = s_send(c, ti.tcpi_snd_wnd < ti.tcpi_snd_mss ? ti.tcpi_snd_wnd : ti.tcpi_snd_mss);

		if (n < 0) {
			broken(c, 's', (int)-n);
			return;
		}
	}
	c->next_at = t + 0.002;
}

static void die(struct conn *c, double t)
{
	c->died = t;
	switch (c->kind) {
	case K_FROZEN:
	case K_STORM:
		ep_set(&c->c, 0); /* the reader stops reading, for good */
		ep_set(&c->s, EPOLLOUT | EPOLLRDHUP);
		break;
	case K_BLACKHOLE:
		nft_queue(g_nft_add, c->cport); /* its ACKs never reach the sender again */
		ep_set(&c->s, EPOLLOUT | EPOLLRDHUP);
		break;
	case K_PEER_GONE:
		end_close(&c->c); /* the peer closes; the owner never reads it */
		c->next_at = t;
		break;
	default:
		break;
	}
}

static void on_timer(struct conn *c, double t)
{
	enum kind k = c->kind;

	if (!kinds[k].live && c->died <= 0 && c->dies_at > 0 && t >= c->dies_at && k != K_ZEROWIN)
		die(c, t);
	if (c->fate != F_RUNNING)
		return;
	if (kinds[k].long_lived && t >= g_end_phase && c->phase < 10) {
		begin_close(c);
		return;
	}
	if (k == K_ZEROWIN) {
		if (t >= c->next_at)
			zerowin_step(c, t);
		return;
	}
	if (k == K_PEER_GONE && c->died > 0 && t >= c->next_at) {
		int st = tcp_state(c->s.fd);

		if (st != 1 /* ESTABLISHED */ && st != 8 /* CLOSE_WAIT */)
			settle(c, F_REAPED, 's', 0);
		c->next_at = t + 0.1 * C.scale;
		return;
	}
	if (half_kind(k)) {
		if (c->phase_at > 0 && t >= c->phase_at) {
			c->phase_at = 0;
			if (shutdown(c->c.fd, SHUT_WR))
				broken(c, 'c', errno);
		}
		if (c->end_at > 0 && t >= c->end_at && c->s.fd >= 0) {
			c->end_at = 0;
			half_answer(c);
		}
		return;
	}
	if (c->phase >= 10)
		return;
	if (sender_kind(k) && c->died <= 0 && t >= c->next_at && !(c->s.events & EPOLLOUT)) {
		ep_set(&c->s, EPOLLOUT | EPOLLRDHUP);
		server_writable(c);
	}
	if ((k == K_TRICKLE || k == K_SENDFILE) && t >= c->phase_at) {
		/* A slow reader: its rate, in a turn every 0.1 s. A late turn (the
		 * loop was busy) reads what the rate allowed since the last one, so
		 * the rate holds; the longest gap between turns goes to its fate
		 * line, for the report to judge whether the harness kept it live. */
		double dt = t - c->read_at;
		ssize_t n;

		if (dt > c->max_gap)
			c->max_gap = dt;
		c->read_at = t;
		c->owed = fmin(c->owed + trickle_rate() * dt, trickle_rate());
		n = c->owed >= 1 ? e_recv(&c->c, (size_t)c->owed, 0) : -EAGAIN;
		if (n > 0)
			c->owed -= (double)n;
		else if (n == 0 || n != -EAGAIN)
			broken(c, 'c', n == 0 ? 0 : (int)-n);
		c->phase_at = t + 0.1;
	}
	if (k == K_PAUSED && t >= c->phase_at) {
		/* Reading for a while, then not reading for half a grace. */
		bool reading = c->c.events & EPOLLIN;

		ep_set(&c->c, reading ? EPOLLRDHUP : EPOLLIN | EPOLLRDHUP);
		c->phase_at = t + (reading ? 0.5 : frand(0.3, 1.0)) * C.grace;
		if (!reading)
			client_readable(c, 0);
	}
	if (k == K_PING && t >= c->next_at) {
		if (send(c->s.fd, g_buf, 8, MSG_NOSIGNAL | MSG_DONTWAIT) != 8) {
			broken(c, 's', errno);
			return;
		}
		c->sent += 8;
		c->next_at = t + C.idle_timeout / 3;
	}
}

/* ---- the run ------------------------------------------------------------ */

static bool mine(enum kind k)
{
	return !strcmp(kinds[k].group, C.group);
}



/* Families alternate per kind over the whole run, so a kind spawned one at
 * a time still gets both. */
static struct conn *spawn_one(enum kind k, int i, bool preexisting, double dies_at)
{
	static unsigned int spawned[K_MAX];
	struct conn *c = open_conn(k, spawned[k]++ % 2 ? AF_INET6 : AF_INET);

	(void)i;

	if (!c)
		return NULL;
	c->preexisting = preexisting;
	c->dies_at = dies_at;
	start_conn(c);
	return c;
}

static void spawn(enum kind k, int n, bool preexisting)
{
	for (int i = 0; i < n; i++) {
		double dies = kinds[k].live ? 0 : now_s() + frand(0.5, 1.5) * C.grace;

		spawn_one(k, i, preexisting, dies);
	}
}

static void emit_summary(void)
{
	fprintf(g_out, "{\"summary\":\"%s%d\",\"churn_complete\":%d,\"churn_failed\":%d}\n", C.group,
		C.worker, g_churn_done, g_churn_failed);
	fflush(g_out);
}

/* Free what has settled (its fds are closed: no event can name it now). */
static void reap_settled(void)
{
	struct conn **pp = &g_all;

	while (*pp) {
		struct conn *c = *pp;

		if (c->fate == F_RUNNING) {
			pp = &c->next_all;
			continue;
		}
		if (c->kind == K_BLACKHOLE || c->kind == K_ZEROWIN)
			nft_queue(g_nft_del, c->cport);
		*pp = c->next_all;
		free(c);
	}
}

/* Until path appears (or until): serve the connections already open, as
 * their applications would while the daemons start (slow readers read,
 * senders send, pings ping); nothing is born or closed yet. */
static void serve_until(const char *path, double until)
{
	struct epoll_event evs[256];

	while (path && access(path, F_OK) && now_s() < until) {
		int n = epoll_wait(g_ep, evs, 256, 10);
		double t;

		for (int i = 0; i < n; i++)
			on_event(evs[i].data.ptr, evs[i].events);
		t = now_s();
		for (struct conn *c = g_all; c; c = c->next_all)
			if (c->fate == F_RUNNING)
				on_timer(c, t);
	}
}

static int run(void)
{
	struct epoll_event evs[256];
	double t, next_wave, next_churn, next_scan = 0, storm_at;
	struct rlimit rl = { 65536, 65536 };

	setrlimit(RLIMIT_NOFILE, &rl);
	getrlimit(RLIMIT_NOFILE, &rl);
	g_ep = epoll_create1(EPOLL_CLOEXEC);
	for (int k = 0; k < K_MAX; k++)
		if (mine((enum kind)k)) {
			lfd_of[k][0] = listener((enum kind)k, AF_INET);
			lfd_of[k][1] = listener((enum kind)k, AF_INET6);
		}
	/* Half of the long-lived connections exist before the daemons do. */
	for (int k = 0; k < K_MAX; k++)
		if (mine((enum kind)k) && kinds[k].long_lived)
			spawn((enum kind)k, count_of((enum kind)k) / 2, true);
	if (C.ready) {
		FILE *f = fopen(C.ready, "w");

		if (f) {
			fprintf(f, "ready %d\n", g_open);
			fclose(f);
		}
	}
	g_end_phase = g_deadline = HUGE_VAL; /* no end phase before the go */
	serve_until(C.go, now_s() + 600);
	g_t0 = now_s();
	g_deadline = g_t0 + C.duration;
	g_end_phase = g_deadline - fmax(4 * C.grace, 15 * C.scale);
	g_last_birth = g_deadline - (1.5 * C.grace + limit_of(K_FROZEN) + limit_of(K_SILENT) +
				     limit_of(K_PEER_GONE) + 5 * C.scale);
	for (int k = 0; k < K_MAX; k++)
		if (mine((enum kind)k) && kinds[k].long_lived)
			spawn((enum kind)k, count_of((enum kind)k) - count_of((enum kind)k) / 2, false);
	next_wave = g_t0 + C.grace;
	next_churn = g_t0;
	/* Mid-run, or earlier in a short run: while births are still allowed. */
	storm_at = g_t0 + fmax(C.grace, fmin(C.duration / 2, g_last_birth - g_t0 - C.grace));
	for (;;) {
		int n = epoll_wait(g_ep, evs, 256, 10);

		for (int i = 0; i < n; i++)
			on_event(evs[i].data.ptr, evs[i].events);
		t = now_s();
		if (t >= g_deadline)
			break;
		if (t < next_scan)
			continue;
		next_scan = t + 0.01;
		for (struct conn *c = g_all; c; c = c->next_all)
			if (c->fate == F_RUNNING)
				on_timer(c, t);
		/* Births: dead waves, half-closed and full-close cycles, churn, the storm. */
		if (t >= next_wave && t < g_last_birth) {
			next_wave = t + 2 * C.grace;
			for (int k = K_FROZEN; k < K_STORM; k++)
				if (mine((enum kind)k))
					spawn((enum kind)k, count_of((enum kind)k), false);
			if (mine(K_PG_LIVE))
				spawn(K_PG_LIVE, count_of(K_PG_LIVE), false);
		}
		if (mine(K_STORM) && storm_at > 0 && t >= storm_at && t < g_last_birth) {
			double at = t + C.grace;

			for (int i = 0; i < count_of(K_STORM); i++)
				spawn_one(K_STORM, i, false, at); /* all die at the same instant */
			storm_at = 0;
		}
		if (t < g_end_phase - 3 * C.grace)
			for (int k = K_HALF_EOF; k <= K_HALF_PEEK; k++) {
				int running = 0;

				if (!mine((enum kind)k))
					continue;
				for (struct conn *c = g_all; c; c = c->next_all)
					running += (int)c->kind == k && c->fate == F_RUNNING;
				for (int i = running; i < count_of((enum kind)k); i++)
					spawn_one((enum kind)k, i, false, 0);
			}
		if (mine(K_CHURN) && t < g_end_phase) {
			/* count_of(K_CHURN) per second, in steps of 0.1 s. */
			while (next_churn <= t) {
				next_churn += 0.1;
				for (int i = 0; i < (count_of(K_CHURN) + 9) / 10; i++)
					spawn_one(K_CHURN, i, false, 0);
			}
		}
		nft_flush();
		reap_settled();
	}
	/* The deadline: whatever has not settled is a failure of its kind. */
	for (struct conn *c = g_all; c; c = c->next_all)
		if (c->fate == F_RUNNING)
			settle(c, kinds[c->kind].live || c->died <= 0 ? F_HARNESS : F_MISSED, '-', 0);
	reap_settled();
	nft_flush();
	emit_summary();
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: soakmix kinds | soakmix run --group G --out FILE --duration S --grace S "
			"--interval S [--idle-timeout S] [--peer-gone S] [--scale F] [--count-scale F] "
			"[--ready FILE] [--go FILE] [--worker N]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "group", required_argument, 0, 'g' },	       { "out", required_argument, 0, 'o' },
		{ "duration", required_argument, 0, 'd' },     { "grace", required_argument, 0, 'G' },
		{ "interval", required_argument, 0, 'i' },     { "idle-timeout", required_argument, 0, 'I' },
		{ "peer-gone", required_argument, 0, 'P' },    { "scale", required_argument, 0, 's' },
		{ "count-scale", required_argument, 0, 'n' }, { "ready", required_argument, 0, 'r' },
		{ "go", required_argument, 0, 'x' },	       { "worker", required_argument, 0, 'w' },
		{ 0, 0, 0, 0 },
	};
	int o;

	if (argc >= 2 && !strcmp(argv[1], "kinds")) {
		for (int k = 0; k < K_MAX; k++)
			printf("%s %s %s %s %d\n", kinds[k].name, kinds[k].group, kinds[k].live ? "live" : "dead",
			       kinds[k].rule == R_STALL ? "send_stall" : kinds[k].rule == R_IDLE ? "rx_idle"
					: kinds[k].rule == R_PEER_GONE ? "peer_gone" : "-",
			       server_port((enum kind)k, AF_INET) - 0);
		return 0;
	}
	if (argc < 2 || strcmp(argv[1], "run"))
		usage();
	C = (struct cfg){ .scale = 1, .count_scale = 1, .interval = 1, .grace = 2 };
	optind = 2;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'g': C.group = optarg; break;
		case 'o': C.out = optarg; break;
		case 'd': C.duration = atof(optarg); break;
		case 'G': C.grace = atof(optarg); break;
		case 'i': C.interval = atof(optarg); break;
		case 'I': C.idle_timeout = atof(optarg); break;
		case 'P': C.peer_gone = atof(optarg); break;
		case 's': C.scale = atof(optarg); break;
		case 'n': C.count_scale = atof(optarg); break;
		case 'r': C.ready = optarg; break;
		case 'x': C.go = optarg; break;
		case 'w': C.worker = atoi(optarg); break;
		default: usage();
		}
	}
	if (!C.group || !C.out || C.duration <= 0 || C.duration > 7200 || C.grace <= 0 || C.scale <= 0 ||
	    C.worker < 0 || C.worker > 9)
		usage();
	if ((!strcmp(C.group, "idle") && C.idle_timeout <= 0) || (!strcmp(C.group, "pg") && C.peer_gone <= 0))
		usage();
	g_out = fopen(C.out, "w");
	if (!g_out) {
		perror(C.out);
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	srandom((unsigned int)(getpid() ^ (unsigned int)now_s()));
	return run();
}
