/* watchdog.c - the baseline sockreap is compared with: an outside userspace sidecar that polls
 * every TCP socket each interval, as applications do today without kernel help.
 *
 *   watchdog [--scans K] [--interval S] [--grace S]
 *
 * One scan, the way a sidecar without BPF must do it:
 *   1. list the TCP sockets of this network namespace (ESTABLISHED and
 *      CLOSE_WAIT inodes) with one NETLINK_SOCK_DIAG dump (cheaper than
 *      parsing /proc/net/tcp, so the baseline is not a straw man);
 *   2. walk /proc/PID/fd of every process, readlink each fd, and keep those
 *      naming one of these socket inodes;
 *   3. for each such socket (once, whatever the number of holders):
 *      pidfd_open (once per process) + pidfd_getfd, ioctl(SIOCOUTQ),
 *      getsockopt(TCP_INFO), close; a socket with queued data whose
 *      tcpi_bytes_acked has not moved for --grace seconds is counted stalled.
 * Nothing is ever shut down. The process CPU time (CLOCK_PROCESS_CPUTIME_ID)
 * of each scan and of each phase is measured; the last line on stdout is a
 * JSON object with the medians.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/sockios.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

#define MAX_SCANS 100
#define TCPF_ESTABLISHED (1u << 1)
#define TCPF_CLOSE_WAIT (1u << 8)

/* What the watchdog remembers of one socket between scans (open addressing by inode). */
struct slot {
	uint64_t ino;	  /* 0 = empty */
	uint64_t acked;	  /* tcpi_bytes_acked at the last progress */
	double progress;  /* when acked last moved, or first seen */
	uint32_t listed;  /* scan number in which sock_diag listed it */
	uint32_t checked; /* scan number in which it was queried */
};

struct table {
	struct slot *s;
	size_t cap, used;
};

struct scan_stats {
	double cpu_s, wall_s, list_cpu_s, walk_cpu_s, query_cpu_s;
	long listed, fds_read, queried, stalled, getfd_failed;
};

static double clock_s(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
	return clock_s(CLOCK_PROCESS_CPUTIME_ID);
}

static size_t hash_ino(uint64_t ino, size_t cap)
{
	return (size_t)((ino * 0x9E3779B97F4A7C15ull) >> 17) & (cap - 1);
}

static struct slot *table_find(struct table *t, uint64_t ino)
{
	for (size_t i = hash_ino(ino, t->cap);; i = (i + 1) & (t->cap - 1)) {
		if (t->s[i].ino == ino)
			return &t->s[i];
		if (!t->s[i].ino)
			return NULL;
	}
}

static int table_grow(struct table *t)
{
	struct table n = { calloc(t->cap * 2, sizeof(struct slot)), t->cap * 2, t->used };

	if (!n.s)
		return -ENOMEM;
	for (size_t i = 0; i < t->cap; i++) {
		size_t j;

		if (!t->s[i].ino)
			continue;
		for (j = hash_ino(t->s[i].ino, n.cap); n.s[j].ino; j = (j + 1) & (n.cap - 1))
			;
		n.s[j] = t->s[i];
	}
	free(t->s);
	*t = n;
	return 0;
}

static struct slot *table_insert(struct table *t, uint64_t ino)
{
	struct slot *s = table_find(t, ino);
	size_t i;

	if (s)
		return s;
	if (2 * (t->used + 1) > t->cap && table_grow(t))
		return NULL;
	for (i = hash_ino(ino, t->cap); t->s[i].ino; i = (i + 1) & (t->cap - 1))
		;
	t->s[i] = (struct slot){ .ino = ino };
	t->used++;
	return &t->s[i];
}

/* Phase 1: one sock_diag dump per family; marks the listed inodes with this scan's number. */
static int list_family(int nl, uint8_t family, struct table *t, uint32_t scan, double now,
		       long *listed)
{
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 req;
	} msg = {
		.nlh = { .nlmsg_len = sizeof(msg), .nlmsg_type = SOCK_DIAG_BY_FAMILY,
			 .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP },
		.req = { .sdiag_family = family, .sdiag_protocol = IPPROTO_TCP,
			 .idiag_states = TCPF_ESTABLISHED | TCPF_CLOSE_WAIT },
	};
	static char buf[1 << 16];

	if (send(nl, &msg, sizeof(msg), 0) < 0)
		return -errno;
	for (;;) {
		ssize_t n = recv(nl, buf, sizeof(buf), 0);
		struct nlmsghdr *h = (struct nlmsghdr *)buf;

		if (n < 0)
			return -errno;
		for (; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
			struct inet_diag_msg *m = NLMSG_DATA(h);
			struct slot *s;

			if (h->nlmsg_type == NLMSG_DONE)
				return 0;
			if (h->nlmsg_type == NLMSG_ERROR)
				return -EIO;
			if (!m->idiag_inode)
				continue;
			s = table_insert(t, m->idiag_inode);
			if (!s)
				return -ENOMEM;
			if (!s->listed)
				s->progress = now;
			s->listed = scan;
			(*listed)++;
		}
	}
}

/* Phase 3 for one socket: duplicate it out of its owner and ask the kernel. */
static void query_socket(int pidfd, int fd, struct slot *s, double now, double grace,
			 struct scan_stats *st)
{
	struct tcp_info ti;
	socklen_t tl = sizeof(ti);
	int dup = (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0), outq = 0;

	if (dup < 0) {
		st->getfd_failed++;
		return;
	}
	memset(&ti, 0, sizeof(ti));
	if (ioctl(dup, SIOCOUTQ, &outq) == 0 &&
	    getsockopt(dup, IPPROTO_TCP, TCP_INFO, &ti, &tl) == 0) {
		st->queried++;
		if (ti.tcpi_bytes_acked != s->acked) {
			s->acked = ti.tcpi_bytes_acked;
			s->progress = now;
		} else if (outq > 0 && now - s->progress >= grace) {
			st->stalled++;
		}
	}
	close(dup);
}

/* A socket found in phase 2, queried in phase 3. */
struct found {
	struct slot *slot;
	int pid, fd;
};

struct found_list {
	struct found *v;
	size_t n, cap;
};

static int found_add(struct found_list *l, struct slot *s, int pid, int fd)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 1024;
		struct found *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = (struct found){ s, pid, fd };
	return 0;
}

/* Phase 2 for one process: its fds naming a listed socket not yet found this scan. */
static int walk_pid(int proc_fd, int pid, struct table *t, uint32_t scan, struct found_list *out,
		    struct scan_stats *st)
{
	char path[32], link[64];
	struct dirent *d;
	int dfd, ret = 0;
	DIR *dir;

	snprintf(path, sizeof(path), "%d/fd", pid);
	dfd = openat(proc_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return 0; /* gone, or a kernel thread */
	dir = fdopendir(dfd);
	if (!dir) {
		close(dfd);
		return 0;
	}
	while (!ret && (d = readdir(dir))) {
		struct slot *s;
		ssize_t n;

		if (d->d_name[0] == '.')
			continue;
		n = readlinkat(dfd, d->d_name, link, sizeof(link) - 1);
		st->fds_read++;
		if (n < 9 || memcmp(link, "socket:[", 8))
			continue;
		link[n] = '\0';
		s = table_find(t, strtoull(link + 8, NULL, 10));
		if (!s || s->listed != scan || s->checked == scan)
			continue;
		s->checked = scan; /* a socket shared by several processes is queried once */
		ret = found_add(out, s, pid, atoi(d->d_name));
	}
	closedir(dir);
	return ret;
}

static int scan_once(int nl, struct table *t, uint32_t scan, double grace, struct found_list *f,
		     struct scan_stats *st)
{
	double c0 = cpu_s(), w0 = clock_s(CLOCK_MONOTONIC), c1, c2;
	struct dirent *d;
	int ret, pidfd = -1, pidfd_of = -1;
	DIR *proc;

	memset(st, 0, sizeof(*st));
	f->n = 0;
	ret = list_family(nl, AF_INET, t, scan, w0, &st->listed);
	if (!ret)
		ret = list_family(nl, AF_INET6, t, scan, w0, &st->listed);
	if (ret)
		return ret;
	c1 = cpu_s();
	proc = opendir("/proc");
	if (!proc)
		return -errno;
	while (!ret && (d = readdir(proc))) {
		int pid = atoi(d->d_name);

		if (pid <= 0 || pid == getpid())
			continue;
		ret = walk_pid(dirfd(proc), pid, t, scan, f, st);
	}
	closedir(proc);
	if (ret)
		return ret;
	c2 = cpu_s();
	/* Found in /proc order: one pidfd per process, held while its sockets are queried. */
	for (size_t i = 0; i < f->n; i++) {
		if (f->v[i].pid != pidfd_of) {
			if (pidfd >= 0)
				close(pidfd);
			pidfd = (int)syscall(SYS_pidfd_open, f->v[i].pid, 0);
			pidfd_of = f->v[i].pid;
		}
		if (pidfd >= 0)
			query_socket(pidfd, f->v[i].fd, f->v[i].slot, w0, grace, st);
		else
			st->getfd_failed++;
	}
	if (pidfd >= 0)
		close(pidfd);
	st->cpu_s = cpu_s() - c0;
	st->wall_s = clock_s(CLOCK_MONOTONIC) - w0;
	st->list_cpu_s = c1 - c0;
	st->walk_cpu_s = c2 - c1;
	st->query_cpu_s = st->cpu_s - (c2 - c0);
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Median of one field over the scans (values copied, so the input is untouched). */
static double median_of(const struct scan_stats *st, int n, size_t off)
{
	double v[MAX_SCANS];

	for (int i = 0; i < n; i++)
		v[i] = *(const double *)((const char *)&st[i] + off);
	qsort(v, (size_t)n, sizeof(v[0]), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "scans", required_argument, 0, 's' },
		{ "interval", required_argument, 0, 'i' },
		{ "grace", required_argument, 0, 'g' },
		{ 0, 0, 0, 0 },
	};
	static struct scan_stats st[MAX_SCANS];
	struct found_list found = { 0 };
	struct table t = { calloc(1024, sizeof(struct slot)), 1024, 0 };
	double interval = 0.2, grace = 30;
	int scans = 5, c, nl, status = 1;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 's': scans = atoi(optarg); break;
		case 'i': interval = atof(optarg); break;
		case 'g': grace = atof(optarg); break;
		default: return 2;
		}
	}
	if (scans < 1 || scans > MAX_SCANS || interval < 0 || interval > 60 || !t.s) {
		fprintf(stderr, "usage: watchdog [--scans 1..%d] [--interval S] [--grace S]\n",
			MAX_SCANS);
		return 2;
	}
	nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (nl < 0) {
		fprintf(stderr, "watchdog: cannot open NETLINK_SOCK_DIAG: %s\n", strerror(errno));
		goto cleanup;
	}
	for (int i = 0; i < scans; i++) {
		int ret = scan_once(nl, &t, (uint32_t)i + 1, grace, &found, &st[i]);

		if (ret) {
			fprintf(stderr, "watchdog: scan failed: %s\n", strerror(-ret));
			goto cleanup;
		}
		printf("scan=%d listed=%ld fds_read=%ld queried=%ld stalled=%ld getfd_failed=%ld "
		       "cpu_s=%.6f wall_s=%.6f\n",
		       i + 1, st[i].listed, st[i].fds_read, st[i].queried, st[i].stalled,
		       st[i].getfd_failed, st[i].cpu_s, st[i].wall_s);
		if (i + 1 < scans)
			usleep((useconds_t)(interval * 1e6));
	}
	printf("{\"scans\":%d,\"sockets_listed\":%ld,\"sockets_queried\":%ld,\"fds_read\":%ld,"
	       "\"cpu_s_per_scan\":%.6f,\"wall_s_per_scan\":%.6f,\"list_cpu_s\":%.6f,"
	       "\"walk_cpu_s\":%.6f,\"query_cpu_s\":%.6f}\n",
	       scans, st[scans - 1].listed, st[scans - 1].queried, st[scans - 1].fds_read,
	       median_of(st, scans, offsetof(struct scan_stats, cpu_s)),
	       median_of(st, scans, offsetof(struct scan_stats, wall_s)),
	       median_of(st, scans, offsetof(struct scan_stats, list_cpu_s)),
	       median_of(st, scans, offsetof(struct scan_stats, walk_cpu_s)),
	       median_of(st, scans, offsetof(struct scan_stats, query_cpu_s)));
	status = 0;
cleanup:
	if (nl >= 0)
		close(nl);
	free(t.s);
	free(found.v);
	return status;
}
