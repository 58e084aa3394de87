/* control.c - a Unix socket for `sockreap list`: one request line, one answer.
 *
 * Served from the scan loop between scans and between reaps of a long scan
 * (single thread: a fresh map read, no locking). A client's request is
 * bounded in total time, however the client trickles or stalls
 * (SR_CONTROL_REQUEST_MS). The answer is written to a memfd and the fd is
 * passed to the client (SCM_RIGHTS): one small message, whatever the
 * answer's size, so a slow reader costs the scan loop nothing and never
 * gets a list cut short.
 */
#include "control.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <poll.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

static int make_addr(const char *path, struct sockaddr_un *a)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(a->sun_path))
		return -ENAMETOOLONG;
	strcpy(a->sun_path, path);
	return 0;
}

static void set_timeouts(int fd, int secs)
{
	struct timeval tv = { secs, 0 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

int control_listen(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un a;
	char dir[sizeof(a.sun_path)];
	int fd, probe;
	mode_t old;

	if (make_addr(path, &a)) {
		snprintf(err, errlen, "sockreap: --control-socket path too long: %s", path);
		return -ENAMETOOLONG;
	}
	snprintf(dir, sizeof(dir), "%s", path);
	if (mkdir(dirname(dir), 0700) && errno != EEXIST) {
		snprintf(err, errlen, "sockreap: cannot create the directory of --control-socket %s: %s",
			 path, strerror(errno));
		return -errno;
	}
	probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (probe >= 0 && connect(probe, (struct sockaddr *)&a, sizeof(a)) == 0) {
		close(probe);
		snprintf(err, errlen,
			 "sockreap: another sockreap daemon answers on %s: stop it, or give this one "
			 "another --control-socket",
			 path);
		return -EADDRINUSE;
	}
	if (probe >= 0)
		close(probe);
	unlink(path); /* stale, from a daemon that was killed */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	old = umask(0177); /* the socket is created 0600: root only, like the daemon */
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 4)) {
		int e = errno;

		umask(old);
		close(fd);
		snprintf(err, errlen, "sockreap: cannot listen on --control-socket %s: %s", path,
			 strerror(e));
		return -e;
	}
	umask(old);
	return fd;
}

void control_close(int fd, const char *path)
{
	if (fd < 0)
		return;
	close(fd);
	unlink(path);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait until fd is ready for events or the deadline passes. 1 ready, 0 not. */
static int wait_ready(int fd, short events, int64_t deadline)
{
	struct pollfd p = { fd, events, 0 };
	int64_t left = deadline - now_ms();

	return left > 0 && poll(&p, 1, (int)left) == 1 && (p.revents & (events | POLLHUP | POLLERR));
}

int control_accept(int lfd, char *req, size_t reqlen)
{
	int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	int64_t deadline = now_ms() + SR_CONTROL_REQUEST_MS;
	size_t got = 0;

	if (c < 0)
		return -1;
	/* The whole request within the bound, however the client trickles it. */
	while (got + 1 < reqlen && !memchr(req, '\n', got) && wait_ready(c, POLLIN, deadline)) {
		ssize_t n = read(c, req + got, reqlen - 1 - got);

		if (n <= 0)
			break;
		got += (size_t)n;
	}
	req[got] = '\0';
	if (!strchr(req, '\n')) {
		close(c);
		return -1;
	}
	*strchr(req, '\n') = '\0';
	return c;
}

int control_reply(int c, int body_fd)
{
	char one = 'A', ctl[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { &one, 1 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl,
			    .msg_controllen = sizeof(ctl) };
	struct cmsghdr *cm;

	memset(ctl, 0, sizeof(ctl));
	cm = CMSG_FIRSTHDR(&m);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &body_fd, sizeof(int));
	/* A fresh connection's buffer is empty: one byte never waits. */
	return sendmsg(c, &m, MSG_NOSIGNAL | MSG_DONTWAIT) == 1 ? 0 : -errno;
}

/* The answer's fd from the daemon's one message, or negative errno. */
static int receive_answer(int fd)
{
	char one, ctl[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { &one, 1 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl,
			    .msg_controllen = sizeof(ctl) };
	struct cmsghdr *cm;
	ssize_t n = recvmsg(fd, &m, MSG_CMSG_CLOEXEC);
	int body = -1;

	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
	cm = CMSG_FIRSTHDR(&m);
	if (n == 1 && cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
	    cm->cmsg_len == CMSG_LEN(sizeof(int)))
		memcpy(&body, CMSG_DATA(cm), sizeof(int));
	return body >= 0 ? body : -EPROTO; /* closed without an answer, or not ours */
}

int control_request(const char *path, const char *req, FILE *out)
{
	struct sockaddr_un a;
	char buf[65536];
	ssize_t n = 0;
	int fd, body, ret = 0;

	if (make_addr(path, &a))
		return -ENAMETOOLONG;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		ret = -errno;
		close(fd);
		return ret;
	}
	set_timeouts(fd, SR_CONTROL_CLIENT_WAIT_S);
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req) || write(fd, "\n", 1) != 1)
		ret = -EIO;
	/* No answer in time is a failure, not an empty list (a daemon listing
	 * 40 000 sockets under an emulator took longer than the 10 s once
	 * allowed here, and `list` printed nothing and exited 0). */
	if (!ret && (body = receive_answer(fd)) < 0)
		ret = body;
	close(fd);
	if (ret)
		return ret;
	/* From its start: the daemon's writes share the file's offset. */
	for (off_t off = 0; (n = pread(body, buf, sizeof(buf), off)) > 0; off += n)
		fwrite(buf, 1, (size_t)n, out);
	if (n < 0)
		ret = -errno;
	close(body);
	return ret;
}
