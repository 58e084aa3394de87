/* test_textfile.c - the metrics file's atomic, hostile-directory-safe write (user/textfile.c). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "textfile.h"

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "re");
	char *buf = calloc(1, 65536);

	assert_non_null(f);
	assert_non_null(buf);
	*len = fread(buf, 1, 65535, f);
	fclose(f);
	return buf;
}

/* Names in dir other than "." and "..". */
static size_t dir_entries(const char *dir, char names[][256], size_t max)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;

	assert_non_null(d);
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (n < max)
			snprintf(names[n], sizeof(names[0]), "%s", de->d_name);
		n++;
	}
	closedir(d);
	return n;
}

static void test_write_file_atomic(void **state)
{
	char dir[] = "/tmp/sockreap-test-XXXXXX", path[128], bad[160], names[4][256];
	const char *first = "sockreap_up 1\n", *second = "sockreap_up 2\nsockreap_more 3\n";
	struct stat st1, st2;
	char *got, oldbuf[64] = "";
	size_t len;
	mode_t old_umask = umask(022);
	int oldfd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/sockreap.prom", dir);

	assert_int_equal(textfile_write(path, first, strlen(first)), 0);
	got = slurp(path, &len);
	assert_int_equal(len, strlen(first));
	assert_memory_equal(got, first, len);
	free(got);
	assert_int_equal(dir_entries(dir, names, 4), 1);
	assert_string_equal(names[0], "sockreap.prom");
	assert_int_equal(stat(path, &st1), 0);
	assert_int_equal(st1.st_mode & 0777, 0644);

	/* Replace it: a reader that had the old file open keeps the old content
	 * whole (rename, not rewrite in place). */
	oldfd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(oldfd >= 0);
	assert_int_equal(textfile_write(path, second, strlen(second)), 0);
	assert_int_equal(read(oldfd, oldbuf, sizeof(oldbuf) - 1), (ssize_t)strlen(first));
	assert_string_equal(oldbuf, first);
	close(oldfd);
	assert_int_equal(stat(path, &st2), 0);
	assert_true(st1.st_ino != st2.st_ino);
	got = slurp(path, &len);
	assert_int_equal(len, strlen(second));
	assert_memory_equal(got, second, len);
	free(got);
	assert_int_equal(dir_entries(dir, names, 4), 1);

	/* Empty content: an empty file. */
	assert_int_equal(textfile_write(path, "", 0), 0);
	assert_int_equal(stat(path, &st2), 0);
	assert_int_equal(st2.st_size, 0);
	assert_int_equal(dir_entries(dir, names, 4), 1);

	/* A directory that does not exist: an errno, and nothing left behind. */
	snprintf(bad, sizeof(bad), "%s/missing/sockreap.prom", dir);
	assert_int_equal(textfile_write(bad, first, strlen(first)), -ENOENT);
	assert_int_equal(dir_entries(dir, names, 4), 1);

	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
	umask(old_umask);
}

/*
 * Whatever another writer of the directory plants (a FIFO at the old
 * predictable temporary name, a FIFO or a symlink at the file itself), the
 * write neither blocks nor follows it: it returns at once, and path ends as
 * our regular file.
 */
static void test_write_planted(void **state)
{
	char dir[] = "/tmp/sockreap-test-XXXXXX", path[128], fifo[192], target[160], lnk[160];
	const char *text = "sockreap_up 1\n";
	struct timespec t0, t1;
	struct stat st;
	char *got;
	size_t len;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/m.prom", dir);
	/* The names the old code used, PATH.tmp.PID, for a range of pids. */
	for (int pid = getpid() - 4; pid <= getpid() + 4; pid++) {
		snprintf(fifo, sizeof(fifo), "%s.tmp.%d", path, pid);
		assert_int_equal(mkfifo(fifo, 0666), 0);
	}
	assert_int_equal(mkfifo(path, 0666), 0); /* a FIFO at the file itself */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(textfile_write(path, text, strlen(text)), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_true(t1.tv_sec - t0.tv_sec < 2); /* returned, did not wait on a reader */
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	got = slurp(path, &len);
	assert_int_equal(len, strlen(text));
	free(got);

	/* A symlink at the file: replaced by the rename, its target untouched. */
	snprintf(target, sizeof(target), "%s/target", dir);
	snprintf(lnk, sizeof(lnk), "%s/l.prom", dir);
	assert_int_equal(close(open(target, O_WRONLY | O_CREAT, 0600)), 0);
	assert_int_equal(symlink(target, lnk), 0);
	assert_int_equal(textfile_write(lnk, text, strlen(text)), 0);
	assert_int_equal(lstat(lnk, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(stat(target, &st), 0);
	assert_int_equal(st.st_size, 0);

	/* Nothing of ours is left behind: the FIFOs planted, the two files, the target. */
	{
		char names[16][256];

		assert_int_equal(dir_entries(dir, names, 16), 9 + 3);
		for (size_t i = 0; i < 12; i++)
			assert_null(strstr(names[i], ".tmp") && names[i][0] == '.' ? names[i] : NULL);
	}
	{
		char cmd[256];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		assert_int_equal(system(cmd), 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_file_atomic),
		cmocka_unit_test(test_write_planted),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
