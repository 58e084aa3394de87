/* test_cgroup.c - finding the cgroup2 mount in /proc/self/mounts text (user/cgroup.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cgroup.h"

/* A Kubernetes node or a current systemd host: the unified hierarchy only. */
static const char mounts_unified[] =
	"sysfs /sys sysfs rw,nosuid,nodev,noexec,relatime 0 0\n"
	"proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0\n"
	"udev /dev devtmpfs rw,nosuid,relatime,size=8111236k,nr_inodes=2027809,mode=755 0 0\n"
	"securityfs /sys/kernel/security securityfs rw,nosuid,nodev,noexec,relatime 0 0\n"
	"cgroup2 /sys/fs/cgroup cgroup2 rw,nosuid,nodev,noexec,relatime,nsdelegate,memory_recursiveprot 0 0\n"
	"pstore /sys/fs/pstore pstore rw,nosuid,nodev,noexec,relatime 0 0\n"
	"bpf /sys/fs/bpf bpf rw,nosuid,nodev,noexec,relatime,mode=700 0 0\n"
	"/dev/sda1 / ext4 rw,relatime,errors=remount-ro 0 0\n";

/* The development machines: hybrid, v1 controllers plus cgroup2 under unified/. */
static const char mounts_hybrid[] =
	"sysfs /sys sysfs rw,nosuid,nodev,noexec,relatime 0 0\n"
	"tmpfs /sys/fs/cgroup tmpfs ro,nosuid,nodev,noexec,mode=755 0 0\n"
	"cgroup /sys/fs/cgroup/systemd cgroup rw,nosuid,nodev,noexec,relatime,xattr,name=systemd 0 0\n"
	"cgroup /sys/fs/cgroup/cpu,cpuacct cgroup rw,nosuid,nodev,noexec,relatime,cpu,cpuacct 0 0\n"
	"cgroup /sys/fs/cgroup/memory cgroup rw,nosuid,nodev,noexec,relatime,memory 0 0\n"
	"cgroup2 /sys/fs/cgroup/unified cgroup2 rw,nosuid,nodev,noexec,relatime,nsdelegate 0 0\n"
	"cgroup /sys/fs/cgroup/pids cgroup rw,nosuid,nodev,noexec,relatime,pids 0 0\n";

/* Pure v1, as on an old CentOS 7 node: no cgroup2 anywhere. */
static const char mounts_v1_only[] =
	"sysfs /sys sysfs rw,nosuid,nodev,noexec,relatime 0 0\n"
	"tmpfs /sys/fs/cgroup tmpfs ro,nosuid,nodev,noexec,mode=755 0 0\n"
	"cgroup /sys/fs/cgroup/systemd cgroup rw,nosuid,nodev,noexec,relatime,xattr,name=systemd 0 0\n"
	"cgroup /sys/fs/cgroup/memory cgroup rw,nosuid,nodev,noexec,relatime,memory 0 0\n"
	/* Names that mention cgroup2 but are not of type cgroup2. */
	"cgroup2 /mnt/fake cgroup rw,relatime,name=cgroup2 0 0\n"
	"none /mnt/cgroup2 tmpfs rw,relatime 0 0\n";

static char out[4096];

static void test_unified(void **state)
{
	(void)state;
	memset(out, 'Z', sizeof(out));
	assert_int_equal(cgroup_mount_from_text(mounts_unified, out, sizeof(out)), 0);
	assert_string_equal(out, "/sys/fs/cgroup");
}

static void test_hybrid(void **state)
{
	(void)state;
	memset(out, 'Z', sizeof(out));
	assert_int_equal(cgroup_mount_from_text(mounts_hybrid, out, sizeof(out)), 0);
	assert_string_equal(out, "/sys/fs/cgroup/unified");
}

static void test_no_cgroup2(void **state)
{
	(void)state;
	strcpy(out, "untouched");
	assert_int_equal(cgroup_mount_from_text(mounts_v1_only, out, sizeof(out)), -ENOENT);
	assert_string_equal(out, "untouched");
	assert_int_equal(cgroup_mount_from_text("", out, sizeof(out)), -ENOENT);
	assert_int_equal(cgroup_mount_from_text("\n\n\n", out, sizeof(out)), -ENOENT);
	assert_int_equal(cgroup_mount_from_text("garbage\ncgroup2\ncgroup2 /x\n", out, sizeof(out)),
			 -ENOENT);
	assert_string_equal(out, "untouched");
}

static void test_first_mount_wins_and_last_line(void **state)
{
	(void)state;
	/* Several cgroup2 mounts (a container's view plus a bind): the first one. */
	assert_int_equal(cgroup_mount_from_text("cgroup2 /sys/fs/cgroup cgroup2 rw 0 0\n"
						"cgroup2 /run/other cgroup2 rw 0 0\n",
						out, sizeof(out)),
			 0);
	assert_string_equal(out, "/sys/fs/cgroup");

	/* No newline after the last line. */
	assert_int_equal(cgroup_mount_from_text("proc /proc proc rw 0 0\n"
						"none /custom/cg2 cgroup2 rw 0 0",
						out, sizeof(out)),
			 0);
	assert_string_equal(out, "/custom/cg2");
}

/* Inside a container, overlay lines carry every layer: far longer than a path. */
static void test_long_overlay_line_skipped(void **state)
{
	static char text[20000];
	size_t k;

	(void)state;
	k = (size_t)snprintf(text, sizeof(text), "overlay / overlay rw,relatime,lowerdir=");
	while (k < 12000)
		k += (size_t)snprintf(text + k, sizeof(text) - k,
				      "/var/lib/docker/overlay2/l/ABCDEFGHIJKLMNOPQRSTUVWXYZ:");
	k += (size_t)snprintf(text + k, sizeof(text) - k,
			      ",upperdir=/u,workdir=/w 0 0\n"
			      "cgroup2 /sys/fs/cgroup cgroup2 ro,nosuid,nodev,noexec,relatime 0 0\n");
	assert_true(k < sizeof(text));
	assert_int_equal(cgroup_mount_from_text(text, out, sizeof(out)), 0);
	assert_string_equal(out, "/sys/fs/cgroup");
}

static void test_output_buffer_bounds(void **state)
{
	char small[32];

	(void)state;
	/* Exactly big enough. */
	memset(small, 'Z', sizeof(small));
	assert_int_equal(cgroup_mount_from_text(mounts_hybrid, small, sizeof("/sys/fs/cgroup/unified")),
			 0);
	assert_string_equal(small, "/sys/fs/cgroup/unified");

	/* One byte short: refused, nothing written. */
	memset(small, 'Z', sizeof(small));
	assert_int_not_equal(cgroup_mount_from_text(mounts_hybrid, small,
						    sizeof("/sys/fs/cgroup/unified") - 1),
			     0);
	assert_int_equal(small[0], 'Z');
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unified),
		cmocka_unit_test(test_hybrid),
		cmocka_unit_test(test_no_cgroup2),
		cmocka_unit_test(test_first_mount_wins_and_last_line),
		cmocka_unit_test(test_long_overlay_line_skipped),
		cmocka_unit_test(test_output_buffer_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
