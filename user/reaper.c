/* reaper.c - pidfd_open + pidfd_getfd, verify SO_COOKIE and TCP_INFO, shutdown.
 *
 * The order matters: hold a pidfd before trusting a pid (pids recycle), check
 * the cookie on the duplicate itself (fd numbers recycle), and set SO_LINGER
 * {1,0} before shutdown(SHUT_RDWR) so the owner's eventual close() sends RST
 * instead of leaving an orphan with megabytes queued. SHUT_RD alone would
 * not wake a sender blocked in sk_stream_wait_memory.
 */
#include "reaper.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <stddef.h>
#include <linux/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "owner.h"

#ifndef SO_COOKIE
#define SO_COOKIE 57
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

#ifdef SR_TEST_HOOKS
/*
 * Test builds only: with SOCKREAP_TEST_PAUSE=BASE, announce reaching a stage
 * by creating BASE.STAGE.reached and wait (10 s at most) for BASE.STAGE.go,
 * so a test can act deterministically between the reaper's steps.
 */
static void test_pause(const char *stage)
{
	const char *base = getenv("SOCKREAP_TEST_PAUSE");
	char reached[512], go[512];
	int fd;

	if (!base)
		return;
	snprintf(reached, sizeof(reached), "%s.%s.reached", base, stage);
	snprintf(go, sizeof(go), "%s.%s.go", base, stage);
	fd = open(reached, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd >= 0)
		close(fd);
	for (int i = 0; i < 200 && access(go, F_OK); i++)
		usleep(50000);
	unlink(go);
	unlink(reached);
}
#else
#define test_pause(stage) ((void)0)
#endif

static void read_comm(pid_t pid, char *buf, size_t len)
{
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	buf[0] = '\0';
	f = fopen(path, "re");
	if (!f)
		return;
	if (fgets(buf, (int)len, f))
		buf[strcspn(buf, "\n")] = '\0';
	fclose(f);
}

/*
 * Is the verdict still true by the kernel's own account of the socket we
 * hold? The map can lag an event; TCP_INFO cannot. NULL = act; else a reason.
 */
static const char *still_dead(int fd, const struct sr_sock *e, const struct policy_verdict *v,
			      uint32_t *queued)
{
	struct tcp_info ti;
	socklen_t tl = sizeof(ti);
	int outq = 0;

	memset(&ti, 0, sizeof(ti));
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &tl) || tl < offsetof(struct tcp_info, tcpi_bytes_acked) + sizeof(ti.tcpi_bytes_acked))
		return "tcp_info unreadable";
	if (ioctl(fd, SIOCOUTQ, &outq))
		return "outq unreadable";
	*queued = (uint32_t)(outq > 0 ? outq : 0);
	switch (v->reason) {
	case REASON_SEND_STALL:
		if (ti.tcpi_state != SR_TCP_ESTABLISHED)
			return "state changed";
		if (outq <= 0)
			return "queue drained";
		if (ti.tcpi_bytes_acked != e->bytes_acked)
			return "acked bytes moved";
		return NULL;
	case REASON_PEER_GONE:
		return ti.tcpi_state == SR_TCP_CLOSE_WAIT ? NULL : "state changed";
	case REASON_RX_IDLE:
		/* rcv_tstamp is in jiffies: allow a second of slack. */
		if (ti.tcpi_state != SR_TCP_ESTABLISHED)
			return "state changed";
		if ((uint64_t)ti.tcpi_last_ack_recv * 1000000ull + 1000000000ull < v->age_ns)
			return "received recently";
		return NULL;
	default:
		return "no verdict";
	}
}

enum reap_result reaper_reap(uint64_t cookie, const struct sr_sock *e,
			     const struct policy_verdict *v, bool dry_run, struct reap_report *rep)
{
	struct owner_ref own;
	enum reap_result res;
	uint64_t got = 0;
	socklen_t gl = sizeof(got);
	int pidfd = -1, dup = -1, ret;
	struct linger lg = { 1, 0 };

	memset(rep, 0, sizeof(*rep));
	if (!e->ino) {
		rep->detail = "socket inode unknown";
		rep->cause = OWNER_INODE_UNKNOWN;
		return REAP_NO_OWNER;
	}
	ret = owner_find(e->ino, (pid_t)e->owner_tgid, &own);
	if (ret) {
		rep->err = -ret;
		rep->detail = ret == -ENOENT ? "no process holds the socket" : "cannot read /proc";
		rep->cause = ret == -ENOENT ? OWNER_NOT_FOUND : OWNER_PROC_UNREADABLE;
		return REAP_NO_OWNER;
	}
	rep->pid = own.pid;
	rep->fd = own.fd;
	read_comm(own.pid, rep->comm, sizeof(rep->comm));

	pidfd = (int)syscall(SYS_pidfd_open, own.pid, 0);
	if (pidfd < 0) {
		rep->err = errno;
		if (errno == ESRCH) {
			rep->detail = "owner exited";
			return REAP_GONE;
		}
		/* ENOSYS (before Linux 5.3, or under valgrind): no owner fd can be had. */
		rep->detail = "pidfd_open failed";
		rep->cause = OWNER_GETFD_FAILED;
		return REAP_NO_OWNER;
	}
	/* The pid is pinned now; make sure it is still the process we looked at. */
	if (!owner_fd_is(own.pid, own.fd, e->ino)) {
		rep->detail = "fd closed or reused before pidfd_open";
		res = REAP_GONE;
		goto out;
	}
	test_pause("getfd");
	dup = (int)syscall(SYS_pidfd_getfd, pidfd, own.fd, 0);
	if (dup < 0) {
		rep->err = errno;
		if (errno == EBADF || errno == ESRCH) {
			rep->detail = "fd closed";
			res = REAP_GONE;
		} else {
			rep->detail = errno == EPERM ? "pidfd_getfd denied (needs CAP_SYS_PTRACE)"
						      : "pidfd_getfd failed";
			rep->cause = errno == EPERM ? OWNER_PTRACE_DENIED : OWNER_GETFD_FAILED;
			res = REAP_NO_OWNER;
		}
		goto out;
	}
	if (getsockopt(dup, SOL_SOCKET, SO_COOKIE, &got, &gl) || got != cookie) {
		rep->detail = "fd now holds another socket";
		res = REAP_MISMATCH;
		goto out;
	}
	rep->detail = still_dead(dup, e, v, &rep->queued);
	if (rep->detail) {
		res = REAP_RESUMED;
		goto out;
	}
	if (dry_run) {
		res = REAP_DRY_RUN;
		goto out;
	}
	if (setsockopt(dup, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) ||
	    shutdown(dup, SHUT_RDWR)) {
		rep->err = errno;
		rep->detail = "shutdown failed";
		res = REAP_ERROR;
		goto out;
	}
	res = REAP_OK;
out:
	if (dup >= 0)
		close(dup);
	close(pidfd);
	return res;
}
