/* reaper.c - pidfd_open + pidfd_getfd, verify SO_COOKIE and TCP_INFO, shutdown.
 *
 * The order matters: hold a pidfd before trusting a pid (pids recycle), check
 * the cookie on the duplicate itself (fd numbers recycle), and set SO_LINGER
 * {1,0} before shutdown(SHUT_RDWR) so the owner's eventual close() sends RST
 * instead of leaving an orphan with megabytes queued. SHUT_RD alone would
 * not wake a sender blocked in sk_stream_wait_memory. Every kill path lives
 * here: the owner's fd, the bpf_sock_destroy() walk, and the choice between.
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
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "owner.h"
#include "sr_recheck.h"
#include "tracker.h"

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

/* Test builds only: SOCKREAP_TEST_REAP_DELAY_MS=N makes each reap take N ms
 * longer, so a test can act deterministically in the middle of a burst. */
static void test_delay(void)
{
	const char *ms = getenv("SOCKREAP_TEST_REAP_DELAY_MS");

	if (ms)
		usleep((useconds_t)atoi(ms) * 1000);
}
#else
#define test_pause(stage) ((void)0)
#define test_delay() ((void)0)
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

/* What verdict v was judged on, for sr_recheck(). */
static struct sr_expect expect_of(const struct sr_sock *e, const struct policy_verdict *v,
				  bool unowned_ok)
{
	return (struct sr_expect){ .bytes_acked = e->bytes_acked,
				   .reason = v->reason,
				   .state = e->state,
				   .copied_seq = e->copied_seq,
				   .segs_in = e->segs_in,
				   .unowned_ok = unowned_ok };
}

/*
 * The socket we hold, as the kernel has it now: TCP_INFO and SIOCOUTQ on the
 * fd; for the CLOSE_WAIT rules also its receive side, which no call on an
 * fd shows (copied_seq, the FIN): a sweep of its network namespace re-reads
 * it into the map. 0, or negative errno when the state cannot be read (then
 * nothing is done: fail safe).
 */
static int live_of_fd(struct tracker *t, int fd, uint64_t key, const struct sr_sock *e,
		      const struct policy_verdict *v, struct sr_live *l, struct reap_report *rep)
{
	struct tcp_info ti;
	socklen_t tl = sizeof(ti);
	struct sr_sock fresh;
	int outq = 0, ret;

	memset(&ti, 0, sizeof(ti));
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &tl) ||
	    tl < offsetof(struct tcp_info, tcpi_segs_in) + sizeof(ti.tcpi_segs_in)) {
		rep->detail = "tcp_info unreadable";
		return -EIO;
	}
	if (ioctl(fd, SIOCOUTQ, &outq)) {
		rep->detail = "queue size unreadable";
		return -errno;
	}
	rep->queued = (uint32_t)(outq > 0 ? outq : 0);
	*l = (struct sr_live){ .bytes_acked = ti.tcpi_bytes_acked,
			       .state = ti.tcpi_state,
			       .queued = (uint32_t)outq,
			       .rcv_nxt = e->rcv_nxt,
			       .copied_seq = e->copied_seq,
			       .segs_in = ti.tcpi_segs_in,
			       /* Duplicated from a process's fd table: owned by definition. */
			       .owned = 1 };
	if (v->reason != SR_REASON_PEER_GONE && v->reason != SR_REASON_CLOSE_WAIT)
		return 0;
	ret = tracker_refresh(t, key, e->netns_ino, fd, &fresh);
	if (ret) {
		rep->detail = "socket state unreadable";
		return ret;
	}
	l->rcv_nxt = fresh.rcv_nxt;
	l->copied_seq = fresh.copied_seq;
	return 0;
}

/*
 * Is the duplicated fd the socket the map entry describes? Its cookie, or,
 * where the map is keyed by address (kernels before 5.12), its inode: unique
 * among live sockets, and recorded by BPF from the socket itself.
 */
static bool same_socket(struct tracker *t, int fd, uint64_t key, const struct sr_sock *e)
{
	uint64_t got = 0;
	socklen_t gl = sizeof(got);
	struct stat st;

	if (tracker_keys_are_cookies(t))
		return getsockopt(fd, SOL_SOCKET, SO_COOKIE, &got, &gl) == 0 && got == key;
	return e->ino && fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_ino == e->ino;
}

/* Where the socket's fd is: the scan's index first, then a /proc search. 0 or -errno. */
static int locate_owner(const struct owner_index *ix, const struct sr_sock *e, struct owner_ref *own)
{
	const struct owner_slot *slot = ix ? owner_index_find(ix, e->ino) : NULL;

	if (slot) {
		*own = (struct owner_ref){ slot->pid, slot->fd };
		return 0;
	}
	if (ix && ix->all)
		return -ENOENT; /* every process was indexed: nobody holds it */
	return owner_find(e->ino, (pid_t)e->owner_tgid, own);
}

/*
 * A duplicate of the owner's fd for socket e: the owner located, its pid
 * pinned with a pidfd (pids recycle), the fd re-checked, then pidfd_getfd.
 * REAP_OK with *dup (the caller closes it), or the result to report.
 * for_reap: held to act (the owner's name is read for the reap line, and
 * the test build may pause before pidfd_getfd), not only to read the record.
 */
static enum reap_result hold_owner_fd(const struct owner_index *ix, const struct sr_sock *e,
				      struct reap_report *rep, int *dup, bool for_reap)
{
	struct owner_ref own;
	enum reap_result res = REAP_OK;
	int pidfd, ret;

	if (!e->ino) {
		rep->detail = "socket inode unknown";
		rep->cause = OWNER_INODE_UNKNOWN;
		return REAP_NO_OWNER;
	}
	ret = locate_owner(ix, e, &own);
	if (ret) {
		rep->err = -ret;
		rep->detail = ret == -ENOENT ? "no process holds the socket" : "cannot read /proc";
		rep->cause = ret == -ENOENT ? OWNER_NOT_FOUND : OWNER_PROC_UNREADABLE;
		return REAP_NO_OWNER;
	}
	rep->pid = own.pid;
	rep->fd = own.fd;
	if (for_reap) /* the name is for the reap line; a read through the fd logs nothing */
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
		close(pidfd);
		return REAP_GONE;
	}
	if (for_reap)
		test_pause("getfd");
	*dup = (int)syscall(SYS_pidfd_getfd, pidfd, own.fd, 0);
	if (*dup < 0) {
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
	}
	close(pidfd);
	return res;
}

/*
 * No user-space owner: a kernel socket (no process to wake), or one still in
 * a listener's accept queue (its inode is unknown even after the scan's
 * sweep). Left alone unless the target asks; then only the kernel side can
 * act on it. NULL when the socket may have an owner.
 */
static const char *unowned(const struct sr_sock *e)
{
	if (e->flags & SR_F_KERNEL)
		return "kernel socket: no process owns it";
	if (!e->ino)
		return "not accepted yet: no process holds it";
	return NULL;
}

int reaper_read_exact(struct tracker *t, const struct owner_index *ix, uint64_t key,
		      const struct sr_sock *e, struct sr_sock *out)
{
	struct reap_report rep;
	int dup = -1, ret;

	memset(&rep, 0, sizeof(rep));
	if (tracker_store(t) != TRACKER_STORE_STORAGE)
		return -EOPNOTSUPP;
	if (unowned(e))
		return -ENOENT;
	if (hold_owner_fd(ix, e, &rep, &dup, false) != REAP_OK)
		return rep.err ? -rep.err : -ENOENT;
	ret = same_socket(t, dup, key, e) ? tracker_lookup_fd(t, dup, out) : -ESTALE;
	close(dup);
	return ret;
}

/* Through the owner: its fd duplicated, its identity and the verdict re-checked, shutdown. */
static enum reap_result reap_shutdown(struct tracker *t, const struct owner_index *ix, uint64_t key,
				      const struct sr_sock *e, const struct policy_verdict *v,
				      const struct sr_expect *x, bool dry_run,
				      struct reap_report *rep)
{
	struct linger lg = { 1, 0 };
	enum reap_result res;
	struct sr_live live = { 0 };
	uint32_t why;
	int dup = -1, ret;

	rep->method = "shutdown";
	res = hold_owner_fd(ix, e, rep, &dup, true);
	if (res != REAP_OK)
		return res;
	if (!same_socket(t, dup, key, e)) {
		rep->detail = "fd now holds another socket";
		res = REAP_MISMATCH;
	} else if ((ret = live_of_fd(t, dup, key, e, v, &live, rep))) {
		/* Unreadable state: do nothing, and say so (result=error). */
		rep->err = -ret;
		res = REAP_ERROR;
	} else if ((why = sr_recheck(x, &live)) != SR_RECHECK_DEAD) {
		rep->detail = recheck_name(why);
		res = REAP_RESUMED;
	} else if (dry_run) {
		res = REAP_DRY_RUN;
	} else if (setsockopt(dup, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) ||
		   shutdown(dup, SHUT_RDWR)) {
		rep->err = errno;
		rep->detail = "shutdown failed";
		res = REAP_ERROR;
	}
	close(dup);
	return res;
}

/*
 * From the kernel side: bpf_sock_destroy() in an iter/tcp walk, which runs
 * the same re-check (sr_recheck) on the live, locked socket, ownership
 * included. The blocked sender sees ECONNABORTED.
 */
static enum reap_result reap_destroy(struct tracker *t, uint64_t key, const struct sr_sock *e,
				     const struct sr_expect *x, bool dry_run,
				     struct reap_report *rep)
{
	uint32_t why = SR_RECHECK_DEAD;
	int ret;

	rep->method = "destroy";
	ret = tracker_destroy(t, key, e->netns_ino, x, dry_run, &why);
	switch (ret) {
	case SR_DESTROY_DONE:
		return REAP_OK;
	case SR_DESTROY_WOULD:
		return REAP_DRY_RUN;
	case SR_DESTROY_CHANGED:
		rep->detail = recheck_name(why);
		return why == SR_RECHECK_UNOWNED ? REAP_UNOWNED : REAP_RESUMED;
	case SR_DESTROY_NOT_FOUND:
		rep->detail = "socket not found by the destroy walk";
		return REAP_GONE;
	default:
		rep->err = ret < 0 ? -ret : 0;
		rep->detail = ret == -EOPNOTSUPP ? "bpf_sock_destroy() unavailable (Linux 6.5+)"
						 : "bpf_sock_destroy() failed";
		return REAP_ERROR;
	}
}

enum reap_result reaper_reap(struct tracker *t, const struct owner_index *ix, uint64_t key,
			     const struct sr_sock *e, const struct policy_verdict *v,
			     const struct reap_plan *plan, struct reap_report *rep)
{
	struct sr_expect x = expect_of(e, v, plan->unowned_ok);
	const char *why_unowned = unowned(e);
	enum reap_result res;

	memset(rep, 0, sizeof(*rep));
	test_delay();
	if (why_unowned && !plan->unowned_ok) {
		rep->method = "none";
		rep->detail = why_unowned;
		return REAP_UNOWNED;
	}
	if (why_unowned || plan->method == REAP_METHOD_DESTROY) {
		res = reap_destroy(t, key, e, &x, plan->dry_run, rep);
		if (why_unowned && !rep->detail)
			rep->detail = why_unowned;
		return res;
	}
	res = reap_shutdown(t, ix, key, e, v, &x, plan->dry_run, rep);
	if (res != REAP_NO_OWNER)
		return res;
	rep->owner_failed = true;
	if (plan->method == REAP_METHOD_AUTO && tracker_has_destroy(t)) {
		/* The owner failure stays visible as detail= next to the
		 * fallback's outcome; its errno belongs to the failed lookup, not
		 * to this result. */
		const char *owner_detail = rep->detail ? rep->detail : "no owner fd";

		rep->err = 0;
		res = reap_destroy(t, key, e, &x, plan->dry_run, rep);
		if (!rep->detail)
			rep->detail = owner_detail;
	}
	return res;
}
