/* textfile.c - atomic replacement of a file in a directory others may write.
 *
 * The temporary name is random and opened O_CREAT|O_EXCL|O_NOFOLLOW|
 * O_NONBLOCK: a predictable name could be taken first by anyone who can
 * write the directory (a node_exporter textfile directory is often group-
 * writable), and a FIFO there would block open() forever, with the scan
 * thread, and the reaps, behind it. It is hidden and ends in .tmp, so a
 * collector reading *.prom never sees a half-written file.
 */
#include "textfile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* An unguessable 64-bit number: getrandom(), never blocking. */
static uint64_t random_u64(void)
{
	struct timespec ts;
	uint64_t r;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) == (ssize_t)sizeof(r))
		return r;
	/* No entropy yet (early boot): still not a name anyone can plant ahead. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_nsec << 32) ^ (uint64_t)ts.tv_sec ^ ((uint64_t)getpid() << 48);
}

/* Create a fresh temporary file beside path: its fd, or negative errno. */
static int create_temp(const char *path, char *tmp, size_t len)
{
	const char *slash = strrchr(path, '/');
	int dirlen = slash ? (int)(slash - path) : 1;
	const char *dir = slash ? path : ".", *base = slash ? slash + 1 : path;

	for (int tries = 0; tries < 16; tries++) {
		struct stat st;
		int fd;

		if ((size_t)snprintf(tmp, len, "%.*s/.%s.%016llx.tmp", dirlen, dir, base,
				     (unsigned long long)random_u64()) >= len)
			return -ENAMETOOLONG;
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0644);
		if (fd < 0 && errno == EEXIST)
			continue;
		if (fd < 0)
			return -errno;
		/* O_EXCL made it ours and new: a plain file with one link. */
		if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_nlink != 1) {
			close(fd);
			return -EEXIST;
		}
		return fd;
	}
	return -EEXIST;
}

int textfile_write(const char *path, const char *buf, size_t len)
{
	char tmp[PATH_MAX + 32];
	int fd = create_temp(path, tmp, sizeof(tmp)), ret = 0;

	if (fd < 0)
		return fd;
	/* Readable by the collector whatever the daemon's umask. */
	if (fchmod(fd, 0644))
		ret = -errno;
	for (size_t off = 0; !ret && off < len;) {
		ssize_t w = write(fd, buf + off, len - off);

		if (w < 0 && errno != EINTR && errno != EAGAIN)
			ret = -errno;
		if (w > 0)
			off += (size_t)w;
	}
	if (close(fd) && !ret)
		ret = -errno;
	if (!ret && rename(tmp, path))
		ret = -errno;
	if (ret)
		unlink(tmp);
	return ret;
}
