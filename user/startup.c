/* startup.c - what must hold before anything is loaded: privilege, paths, namespaces. */
#include "startup.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"

/*
 * Capabilities in the effective set; each missing one is named. Each was
 * verified by dropping it alone (tests/integration/test_privilege.sh).
 */
int startup_check_privilege(bool all_netns, char *err, size_t errlen)
{
	static const struct {
		int cap;
		bool all_netns_only;
		const char *name, *why;
	} need[] = {
		{ CAP_BPF, false, "CAP_BPF", "load the BPF programs" },
		{ CAP_PERFMON, false, "CAP_PERFMON", "load tracing programs that read kernel memory" },
		{ CAP_SYS_PTRACE, false, "CAP_SYS_PTRACE",
		  "read other processes' /proc/PID/fd links and duplicate their sockets (pidfd_getfd)" },
		{ CAP_DAC_READ_SEARCH, false, "CAP_DAC_READ_SEARCH",
		  "list other users' /proc/PID/fd directories to find a socket's owner" },
		{ CAP_SYS_ADMIN, true, "CAP_SYS_ADMIN", "enter other network namespaces (--all-netns)" },
	};
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];

	memset(data, 0, sizeof(data));
	if (syscall(SYS_capget, &hdr, data)) {
		snprintf(err, errlen, "sockreap: cannot read capabilities: %s", strerror(errno));
		return -errno;
	}
	for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
		int c = need[i].cap;

		if (need[i].all_netns_only && !all_netns)
			continue;
		if (!(data[c / 32].effective & (1u << (c % 32)))) {
			snprintf(err, errlen,
				 "sockreap: missing capability %s (needed to %s): run as root or grant it",
				 need[i].name, need[i].why);
			return -EPERM;
		}
	}
	return 0;
}

/*
 * The metrics file is replaced by rename each scan: in a directory anyone can
 * write, anyone could swap in their own file between scans. Refuse to start.
 * A group-writable one (a node_exporter textfile directory often is) lets
 * that group do the same: said loudly, once. The write itself is safe in
 * either (textfile.c: a random temporary name, created exclusively).
 */
int startup_check_file_dir(const char *opt, const char *path, char *err, size_t errlen)
{
	char dir[PATH_MAX];
	struct stat st;

	snprintf(dir, sizeof(dir), "%s", path);
	if (stat(dirname(dir), &st)) {
		snprintf(err, errlen, "sockreap: the directory of %s %s does not exist: create it first",
			 opt, path);
		return -ENOENT;
	}
	if (st.st_mode & S_IWOTH) {
		snprintf(err, errlen,
			 "sockreap: the directory of %s %s is world-writable: use a directory only "
			 "its owner can write",
			 opt, path);
		return -EPERM;
	}
	if (st.st_mode & S_IWGRP)
		pr_warn("the directory of %s %s is writable by group %u: its members can replace "
			"the file between scans; prefer a directory only its owner can write",
			opt, path, (unsigned int)st.st_gid);
	return 0;
}

/* PROC_PID_INIT_INO: the inode of the initial pid namespace, fixed by the kernel. */
#define PID_NS_INIT_INO 0xEFFFFFFCu

void startup_own_pidns(uint64_t *dev, uint64_t *ino)
{
	struct stat st;

	*dev = *ino = 0;
	if (stat("/proc/self/ns/pid", &st) || st.st_ino == PID_NS_INIT_INO)
		return;
	*dev = st.st_dev;
	*ino = st.st_ino;
}

int startup_own_netns(uint32_t *ino, char *err, size_t errlen)
{
	struct stat st;

	if (stat("/proc/self/ns/net", &st)) {
		snprintf(err, errlen,
			 "sockreap: cannot read /proc/self/ns/net (%s): is /proc mounted?",
			 strerror(errno));
		return -errno;
	}
	*ino = (uint32_t)st.st_ino;
	return 0;
}
