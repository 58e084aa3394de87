/*
 * test_podid.c - pod, container and unit from cgroup paths (user/podid.c), and
 * the paths of real cgroups by id and by pid (user/cgroup_path.c, root only).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "cgroup.h"
#include "cgroup_path.h"
#include "podid.h"

/* A pod UID as the API shows it, and as the systemd driver escapes it. */
#define UID "1b2c3d4e-5f60-7182-93a4-b5c6d7e8f901"
#define UID_ "1b2c3d4e_5f60_7182_93a4_b5c6d7e8f901"
#define UID2 "0a9b8c7d-6e5f-4a3b-8c2d-1e0f9a8b7c6d"
/* A static pod's UID: the kubelet's md5 of the manifest. */
#define STATIC_UID "5c9d1f3ac0d2b0c8e0a5d5e2a3a1b0c9"
#define CID "3f1c9e0b7a2d4c6e8f0a1b2c3d4e5f60718293a4b5c6d7e8f9012345678abcde"
#define CID2 "aa11bb22cc33dd44ee55ff66007788990a1b2c3d4e5f60718293a4b5c6d7e8f9"

#define SD_BURSTABLE "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_ ".slice"
#define SD_BESTEFFORT "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_ ".slice"
#define SD_GUARANTEED "/kubepods.slice/kubepods-pod" UID_ ".slice"
#define KIND_BESTEFFORT                                                              \
	"/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/" \
	"kubelet-kubepods-besteffort-pod" UID_ ".slice"

struct row {
	const char *path;
	enum podid_kind kind;
	const char *pod_uid, *qos, *container_id, *runtime, *unit;
};

#define POD(path, qos, cid, rt) { path, PODID_POD, UID, qos, cid, rt, "" }
#define UNIT(path, unit, cid, rt) { path, PODID_UNIT, "", "", cid, rt, unit }
#define NONE(path, cid, rt) { path, PODID_NONE, "", "", cid, rt, "" }

static const struct row layouts[] = {
	/* systemd driver, each QoS class and runtime. */
	POD(SD_BURSTABLE "/cri-containerd-" CID ".scope", "burstable", CID, "containerd"),
	POD(SD_BESTEFFORT "/crio-" CID ".scope", "besteffort", CID, "crio"),
	POD(SD_GUARANTEED "/docker-" CID ".scope", "guaranteed", CID, "docker"),
	POD(SD_GUARANTEED "/cri-containerd-" CID ".scope", "guaranteed", CID, "containerd"),
	/* The pod-level cgroup (sandbox, a socket made at pod level) and CRI-O's monitor. */
	POD(SD_BURSTABLE, "burstable", "", ""),
	POD(SD_GUARANTEED "/", "guaranteed", "", ""),
	POD(SD_BESTEFFORT "/crio-conmon-" CID ".scope", "besteffort", "", ""),
	/* Below the container: runc's init, an app's own sub-cgroups. */
	POD(SD_BURSTABLE "/cri-containerd-" CID ".scope/init", "burstable", CID, "containerd"),
	POD(SD_BURSTABLE "/cri-containerd-" CID ".scope/app/worker-1/", "burstable", CID, "containerd"),
	/* With the mount prefix, unified or hybrid; without a leading slash; doubled slashes. */
	POD("/sys/fs/cgroup" SD_BURSTABLE "/crio-" CID ".scope", "burstable", CID, "crio"),
	POD("/sys/fs/cgroup/unified" SD_BESTEFFORT "/cri-containerd-" CID ".scope", "besteffort", CID,
	    "containerd"),
	POD("kubepods.slice/kubepods-pod" UID_ ".slice/cri-containerd-" CID ".scope", "guaranteed", CID,
	    "containerd"),
	POD("//kubepods.slice//kubepods-pod" UID_ ".slice///docker-" CID ".scope//", "guaranteed", CID,
	    "docker"),
	/* cgroupfs driver: bare ids, runtime unknown unless CRI-O names it. */
	POD("/kubepods/burstable/pod" UID "/" CID, "burstable", CID, ""),
	POD("/kubepods/besteffort/pod" UID "/" CID, "besteffort", CID, ""),
	POD("/kubepods/pod" UID "/" CID, "guaranteed", CID, ""),
	POD("/kubepods/pod" UID, "guaranteed", "", ""),
	POD("/kubepods/besteffort/pod" UID "/crio-" CID, "besteffort", CID, "crio"),
	POD("/kubepods/besteffort/pod" UID "/crio-conmon-" CID, "besteffort", "", ""),
	POD("/sys/fs/cgroup/unified/kubepods/burstable/pod" UID "/" CID "/", "burstable", CID, ""),
	/* kind: "kubelet-" slices; seen from the host, inside the node's docker scope. */
	POD(KIND_BESTEFFORT "/cri-containerd-" CID ".scope", "besteffort", CID, "containerd"),
	POD("/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-pod" UID_ ".slice/cri-containerd-" CID
	    ".scope",
	    "guaranteed", CID, "containerd"),
	POD("/system.slice/docker-" CID2 ".scope" KIND_BESTEFFORT "/cri-containerd-" CID ".scope",
	    "besteffort", CID, "containerd"),
	POD("/docker/" CID2 "/kubepods/burstable/pod" UID "/" CID, "burstable", CID, ""),
	/* A cluster inside a pod: the innermost pod owns the socket. */
	POD("/kubepods/burstable/pod" UID2 "/" CID2 "/kubepods/pod" UID "/" CID, "guaranteed", CID, ""),
	/* A static pod (kube-apiserver, etcd): a 32-hex UID with nothing to unescape. */
	{ "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" STATIC_UID
	  ".slice/cri-containerd-" CID ".scope",
	  PODID_POD, STATIC_UID, "burstable", CID, "containerd", "" },
	{ "/kubepods/pod" STATIC_UID "/" CID, PODID_POD, STATIC_UID, "guaranteed", CID, "", "" },

	/* Plain hosts: the innermost unit. */
	UNIT("/system.slice/slurmstepd.scope", "slurmstepd.scope", "", ""),
	UNIT("/system.slice/sshd.service", "sshd.service", "", ""),
	UNIT("/user.slice/user-1000.slice/session-3.scope", "session-3.scope", "", ""),
	UNIT("/user.slice/user-1000.slice/user@1000.service", "user@1000.service", "", ""),
	UNIT("/user.slice/user-1000.slice/user@1000.service/app.slice/app-org.gnome.Terminal.slice/"
	     "vte-spawn-6a1b.scope",
	     "vte-spawn-6a1b.scope", "", ""),
	UNIT("/sys/fs/cgroup/unified/system.slice/sshd.service", "sshd.service", "", ""),
	UNIT("/system.slice/nginx.service/worker/", "nginx.service", "", ""),
	UNIT("/init.scope", "init.scope", "", ""),
	UNIT("/system.slice/system-getty.slice/getty@tty1.service", "getty@tty1.service", "", ""),
	UNIT("/system.slice/systemd-fsck@dev-disk-by\\x2duuid-01.service",
	     "systemd-fsck@dev-disk-by\\x2duuid-01.service", "", ""),
	/* Containers without Kubernetes: docker, podman, systemd inside docker. */
	UNIT("/system.slice/docker-" CID ".scope", "docker-" CID ".scope", CID, "docker"),
	UNIT("/machine.slice/libpod-" CID ".scope", "libpod-" CID ".scope", CID, "podman"),
	UNIT("/machine.slice/libpod-" CID ".scope/container", "libpod-" CID ".scope", CID, "podman"),
	UNIT("/machine.slice/libpod-conmon-" CID ".scope", "libpod-conmon-" CID ".scope", "", ""),
	UNIT("/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" CID ".scope",
	     "libpod-" CID ".scope", CID, "podman"),
	UNIT("/system.slice/docker-" CID ".scope/system.slice/nginx.service", "nginx.service", CID,
	     "docker"),
	NONE("/docker/" CID, CID, ""),
	/* "pod" and "kubepods" inside names that are no pod. */
	UNIT("/system.slice/podman.service", "podman.service", "", ""),
	UNIT("/system.slice/kubelet.service", "kubelet.service", "", ""),
	UNIT("/system.slice/kubepods.service", "kubepods.service", "", ""),
	UNIT("/system.slice/kubepods-burstable-pod" UID_ ".slice/x.scope", "x.scope", "", ""),
	UNIT("/user.slice/pod" UID ".scope", "pod" UID ".scope", "", ""),
	NONE("/kubepodsX.slice/kubepodsX-pod" UID_ ".slice", "", ""),
	NONE("/notkubepods/pod" UID, "", ""),
	/* The root and slices: no owner. */
	NONE("/", "", ""),
	NONE("", "", ""),
	NONE("////", "", ""),
	NONE("/system.slice", "", ""),
	NONE("/kubepods.slice", "", ""),
	NONE("/kubepods.slice/kubepods-burstable.slice", "", ""),
	NONE("/kubepods/besteffort/", "", ""),
};

/* Malformed and hostile: what is malformed stays empty, the rest is still read. */
static const struct row malformed[] = {
	/* Pod UIDs one short, one long, non-hex, uppercase, dashes moved, wrong separator. */
	NONE("/kubepods/burstable/pod1b2c3d4e-5f60-7182-93a4-b5c6d7e8f90/" CID, CID, ""),
	NONE("/kubepods/burstable/pod1b2c3d4e-5f60-7182-93a4-b5c6d7e8f9011/" CID, CID, ""),
	NONE("/kubepods/burstable/pod1b2c3d4e-5f60-7182-93a4-b5c6d7e8f9g1/" CID, CID, ""),
	NONE("/kubepods/burstable/pod1B2C3D4E-5F60-7182-93A4-B5C6D7E8F901/" CID, CID, ""),
	NONE("/kubepods/burstable/pod1b2c3d4e5-f60-7182-93a4-b5c6d7e8f901/" CID, CID, ""),
	NONE("/kubepods/burstable/pod" UID_ "/" CID, CID, ""),
	NONE("/kubepods/burstable/pod5c9d1f3ac0d2b0c8e0a5d5e2a3a1b0c/" CID, CID, ""),
	NONE("/kubepods/burstable/pod/" CID, CID, ""),
	NONE("/kubepods/burstable/" UID "/" CID, CID, ""),
	/* Under systemd a dash would have nested the slice: only underscores. */
	NONE("/kubepods.slice/kubepods-pod" UID ".slice", "", ""),
	UNIT("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1b2c3d4e_5f60_7182_93a4_"
	     "b5c6d7e8f9.slice/cri-containerd-" CID ".scope",
	     "cri-containerd-" CID ".scope", CID, "containerd"),
	/* A level whose stem is not its parent's, or a level that does not exist. */
	NONE("/kubepods.slice/kubelet-kubepods-pod" UID_ ".slice", "", ""),
	NONE("/kubepods.slice/kubepods-burstable.slice/kubepods-besteffort-pod" UID_ ".slice", "", ""),
	NONE("/kubepods.slice/kubepods-burstable.slice/kubepods-pod" UID_ ".slice", "", ""),
	NONE("/kubepods/guaranteed/pod" UID, "", ""),
	NONE("/kubepods.slice/burstable/pod" UID, "", ""),
	NONE("/kubepods.slice/kubepods-.slice", "", ""),
	NONE("/kubepods.slice/kubepods-pod" UID_, "", ""),
	/* Missing slashes run components together. */
	NONE("kubepods.slicekubepods-pod" UID_ ".slice", "", ""),
	NONE("/kubepods/burstablepod" UID "/" CID, CID, ""),
	NONE("/kubepods/burstable/pod" UID CID, "", ""),
	/* Container ids of 63 and 65 hex, non-hex, uppercase: the pod is still known. */
	POD(SD_BURSTABLE "/cri-containerd-" "3f1c9e0b7a2d4c6e8f0a1b2c3d4e5f60718293a4b5c6d7e8f9012345678abcd"
			 ".scope",
	    "burstable", "", ""),
	POD(SD_BURSTABLE "/cri-containerd-" CID "f.scope", "burstable", "", ""),
	POD(SD_BURSTABLE "/cri-containerd-" "3f1c9e0b7a2d4c6e8f0a1b2c3d4e5f60718293a4b5c6d7e8f9012345678abcdg"
			 ".scope",
	    "burstable", "", ""),
	POD("/kubepods/pod" UID "/3F1C9E0B7A2D4C6E8F0A1B2C3D4E5F60718293A4B5C6D7E8F9012345678ABCDE",
	    "guaranteed", "", ""),
	POD(SD_BURSTABLE "/cri-containerd-.scope", "burstable", "", ""),
	POD(SD_BURSTABLE "/unknown-" CID ".scope", "burstable", "", ""),
	/* Unit names: empty stems, characters no unit has (the path could be anything). */
	NONE("/system.slice/.service", "", ""),
	NONE("/.scope", "", ""),
	NONE("/system.slice/we ird.service", "", ""),
	NONE("/system.slice/a\"b=c.service", "", ""),
	NONE("/system.slice/line\nbreak.scope", "", ""),
	NONE("/system.slice/caf\xc3\xa9.service", "", ""),
	NONE("/system.slice/sshd.servicex", "", ""),
	/* The innermost unit decides even when it is the malformed one. */
	NONE("/system.slice/sshd.service/bad name.scope", "", ""),
};

static void expect_field(size_t i, const struct row *r, const char *field, const char *got,
			 const char *want)
{
	if (strcmp(got, want))
		fail_msg("row %zu \"%s\": %s is \"%s\", want \"%s\"", i, r->path, field, got, want);
}

static void check_rows(const struct row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct row *r = &rows[i];
		struct pod_identity id;
		char short_id[13];

		memset(&id, 'Z', sizeof(id));
		assert_int_equal(podid_parse(r->path, &id), 0);
		if (id.kind != r->kind)
			fail_msg("row %zu \"%s\": kind %d, want %d", i, r->path, id.kind, r->kind);
		expect_field(i, r, "pod_uid", id.pod_uid, r->pod_uid);
		expect_field(i, r, "qos", id.qos, r->qos);
		expect_field(i, r, "container_id", id.container_id, r->container_id);
		expect_field(i, r, "runtime", id.runtime, r->runtime);
		expect_field(i, r, "unit", id.unit, r->unit);
		podid_short_container(&id, short_id);
		assert_int_equal(strlen(short_id), *r->container_id ? 12 : 0);
		assert_memory_equal(short_id, r->container_id, strlen(short_id));
	}
}

static void test_layouts(void **state)
{
	(void)state;
	check_rows(layouts, sizeof(layouts) / sizeof(layouts[0]));
}

static void test_malformed(void **state)
{
	(void)state;
	check_rows(malformed, sizeof(malformed) / sizeof(malformed[0]));
}

/* 64 KiB of components, then a pod: read to the end, nothing copied on the way. */
static void test_very_long_paths(void **state)
{
	static char path[70000];
	struct pod_identity id;
	size_t k = 0;

	(void)state;
	while (k < 65536)
		k += (size_t)snprintf(path + k, sizeof(path) - k, "/kubepods/burstable/x%zu.scope", k);
	snprintf(path + k, sizeof(path) - k, "/kubepods/pod" UID "/" CID);
	assert_int_equal(podid_parse(path, &id), 0);
	assert_int_equal(id.kind, PODID_POD);
	assert_string_equal(id.pod_uid, UID);
	assert_string_equal(id.container_id, CID);

	/* One component of 64 KiB: no unit, no id, no overrun. */
	path[0] = '/';
	memset(path + 1, 'a', 65536);
	strcpy(path + 65537, ".service");
	assert_int_equal(podid_parse(path, &id), 0);
	assert_int_equal(id.kind, PODID_NONE);
	assert_string_equal(id.unit, "");
}

/* unit[128]: a 127-character name fits, a 128-character one is left out. */
static void test_unit_length_limit(void **state)
{
	char path[256], name[129];
	struct pod_identity id;

	(void)state;
	memset(name, 'u', sizeof(name));
	strcpy(name + 127 - strlen(".scope"), ".scope");
	snprintf(path, sizeof(path), "/system.slice/%s", name);
	assert_int_equal(podid_parse(path, &id), 0);
	assert_int_equal(id.kind, PODID_UNIT);
	assert_string_equal(id.unit, name);

	memset(name, 'u', sizeof(name));
	strcpy(name + 128 - strlen(".scope"), ".scope");
	snprintf(path, sizeof(path), "/system.slice/%s", name);
	assert_int_equal(podid_parse(path, &id), 0);
	assert_int_equal(id.kind, PODID_NONE);
	assert_string_equal(id.unit, "");
}

static void test_null_arguments(void **state)
{
	struct pod_identity id;
	char out[13] = "untouched";

	(void)state;
	assert_int_equal(podid_parse(NULL, &id), -EINVAL);
	assert_int_equal(podid_parse("/", NULL), -EINVAL);
	assert_int_equal(podid_cgroup_from_proc(NULL, out, sizeof(out)), -EINVAL);
	assert_int_equal(podid_cgroup_from_proc("0::/\n", NULL, 0), -EINVAL);
	podid_short_container(NULL, out);
	assert_string_equal(out, "");
}

static void test_short_container(void **state)
{
	struct pod_identity id;
	char out[13];

	(void)state;
	assert_int_equal(podid_parse(SD_BURSTABLE "/cri-containerd-" CID ".scope", &id), 0);
	podid_short_container(&id, out);
	assert_string_equal(out, "3f1c9e0b7a2d");
	assert_int_equal(podid_parse(SD_BURSTABLE, &id), 0);
	memset(out, 'Z', sizeof(out));
	podid_short_container(&id, out);
	assert_string_equal(out, "");

	/* Filled by hand with less than a short id: nothing, not a prefix of it. */
	memset(&id, 'f', sizeof(id));
	strcpy(id.container_id, "3f1c");
	podid_short_container(&id, out);
	assert_string_equal(out, "");
}

/* This machine's /proc/self/cgroup: v1 hierarchies, then the unified one. */
static const char proc_hybrid[] =
	"12:pids:/system.slice/sshd.service\n"
	"11:memory:/system.slice/sshd.service\n"
	"10:cpu,cpuacct:/system.slice/sshd.service\n"
	"1:name=systemd:/system.slice/sshd.service\n"
	"0::/system.slice/sshd.service\n";

static void test_cgroup_from_proc(void **state)
{
	static const char pod_path[] = SD_BURSTABLE "/cri-containerd-" CID ".scope";
	char path[512];

	(void)state;
	assert_int_equal(podid_cgroup_from_proc(proc_hybrid, path, sizeof(path)), 0);
	assert_string_equal(path, "/system.slice/sshd.service");

	/* Unified only, no newline at the end. */
	assert_int_equal(podid_cgroup_from_proc("0::" SD_BURSTABLE "/cri-containerd-" CID ".scope",
						path, sizeof(path)),
			 0);
	assert_string_equal(path, pod_path);

	/* The root, and a cgroup removed while its process lives on. */
	assert_int_equal(podid_cgroup_from_proc("0::/\n", path, sizeof(path)), 0);
	assert_string_equal(path, "/");
	assert_int_equal(podid_cgroup_from_proc("0::/kubepods/pod" UID "/" CID " (deleted)\n", path,
						sizeof(path)),
			 0);
	assert_string_equal(path, "/kubepods/pod" UID "/" CID);

	/* v1 only, or lines that only look like it: no v2 path, PATH untouched. */
	strcpy(path, "untouched");
	assert_int_equal(podid_cgroup_from_proc("12:pids:/a\n1:name=systemd:/b\n", path, sizeof(path)),
			 -ENOENT);
	assert_int_equal(podid_cgroup_from_proc("10::/x\n 0::/y\n0:cpu:/z\n00::/w", path, sizeof(path)),
			 -ENOENT);
	assert_int_equal(podid_cgroup_from_proc("", path, sizeof(path)), -ENOENT);
	assert_string_equal(path, "untouched");

	/* Exactly room for the path and its NUL; one byte less is refused. */
	assert_int_equal(podid_cgroup_from_proc(proc_hybrid, path, sizeof("/system.slice/sshd.service")),
			 0);
	assert_string_equal(path, "/system.slice/sshd.service");
	strcpy(path, "untouched");
	assert_int_equal(podid_cgroup_from_proc(proc_hybrid, path, sizeof("/system.slice/sshd.service") - 1),
			 -ENAMETOOLONG);
	assert_int_equal(podid_cgroup_from_proc(proc_hybrid, path, 0), -ENAMETOOLONG);
	assert_string_equal(path, "untouched");
}

/*
 * The real kernel, as root with a cgroup2 mount: a fake pod (cgroupfs layout)
 * made under this test's own directory, a child process moved into it.
 */
struct real_cgroup {
	char mount[256];
	char base[PATH_MAX]; /* <mount>/sockreap-test-podid-<pid> */
	char rel_leaf[512];  /* the container's cgroup relative to the mount */
	pid_t child;
};

static const char *const fake_pod_levels[] = { "/kubepods", "/burstable", "/pod" UID, "/" CID };

static int real_setup(void **state)
{
	struct real_cgroup *rc = calloc(1, sizeof(*rc));
	char mounts[65536];
	FILE *f = fopen("/proc/self/mounts", "re");
	size_t n = f ? fread(mounts, 1, sizeof(mounts) - 1, f) : 0;

	if (f)
		fclose(f);
	mounts[n] = '\0';
	if (!rc)
		return -1;
	rc->child = -1;
	if (geteuid() == 0 && cgroup_mount_from_text(mounts, rc->mount, sizeof(rc->mount)) == 0) {
		snprintf(rc->base, sizeof(rc->base), "%s/sockreap-test-podid-%d", rc->mount, (int)getpid());
		snprintf(rc->rel_leaf, sizeof(rc->rel_leaf), "%s", rc->base + strlen(rc->mount));
		for (size_t i = 0; i < 4; i++)
			strcat(rc->rel_leaf, fake_pod_levels[i]);
	}
	*state = rc;
	return 0;
}

/* Kill and reap the child, then remove the fake pod innermost first. */
static int real_teardown(void **state)
{
	struct real_cgroup *rc = *state;
	char dir[PATH_MAX * 2];

	if (rc->child > 0) {
		kill(rc->child, SIGKILL);
		waitpid(rc->child, NULL, 0);
	}
	for (int depth = 4; rc->base[0] && depth >= 0; depth--) {
		snprintf(dir, sizeof(dir), "%s", rc->base);
		for (int i = 0; i < depth; i++)
			strcat(dir, fake_pod_levels[i]);
		rmdir(dir);
	}
	free(rc);
	return 0;
}

/* Make the fake pod's cgroups, or skip where that is not allowed (not root, read-only). */
static void make_fake_pod(struct real_cgroup *rc)
{
	char dir[PATH_MAX * 2];

	if (!rc->base[0]) {
		print_message("skipped: needs root and a cgroup2 mount\n");
		skip();
	}
	snprintf(dir, sizeof(dir), "%s", rc->base);
	for (size_t i = 0; i <= 4; i++) {
		if (i > 0)
			strcat(dir, fake_pod_levels[i - 1]);
		if (mkdir(dir, 0755) && errno != EEXIST) {
			print_message("skipped: mkdir %s: %s\n", dir, strerror(errno));
			skip();
		}
	}
}

static uint64_t inode_of(const char *mount, const char *rel)
{
	char dir[PATH_MAX * 2];
	struct stat st;

	snprintf(dir, sizeof(dir), "%s%s", mount, strcmp(rel, "/") ? rel : "");
	assert_int_equal(stat(dir, &st), 0);
	return (uint64_t)st.st_ino;
}

static void expect_fake_pod(const char *path)
{
	struct pod_identity id;

	assert_int_equal(podid_parse(path, &id), 0);
	assert_int_equal(id.kind, PODID_POD);
	assert_string_equal(id.pod_uid, UID);
	assert_string_equal(id.qos, "burstable");
	assert_string_equal(id.container_id, CID);
}

/* What BPF reports (the id) back to a path and a pod; gone once removed. */
static void test_real_path_of_id(void **state)
{
	struct real_cgroup *rc = *state;
	char path[PATH_MAX], leaf[PATH_MAX * 2];
	uint64_t id;

	make_fake_pod(rc);
	id = inode_of(rc->mount, rc->rel_leaf);
	assert_int_equal(cgroup_path_of_id(rc->mount, id, path, sizeof(path)), 0);
	assert_string_equal(path, rc->rel_leaf);
	expect_fake_pod(path);

	/* The mount itself, spelled with a trailing slash: the root cgroup. */
	snprintf(leaf, sizeof(leaf), "%s/", rc->mount);
	assert_int_equal(cgroup_path_of_id(leaf, inode_of(rc->mount, "/"), path, sizeof(path)), 0);
	assert_string_equal(path, "/");

	assert_int_equal(cgroup_path_of_id(rc->mount, id, path, strlen(rc->rel_leaf)), -ENAMETOOLONG);
	assert_int_equal(cgroup_path_of_id("/proc", id, path, sizeof(path)), -EINVAL);
	assert_int_equal(cgroup_path_of_id("/nonexistent-sockreap", id, path, sizeof(path)), -ENOENT);
	assert_int_equal(cgroup_path_of_id(NULL, id, path, sizeof(path)), -EINVAL);

	snprintf(leaf, sizeof(leaf), "%s%s", rc->mount, rc->rel_leaf);
	assert_int_equal(rmdir(leaf), 0);
	assert_int_equal(cgroup_path_of_id(rc->mount, id, path, sizeof(path)), -ESTALE);
}

/* A process in the fake container, found by pid; this process agrees with its id. */
static void test_real_path_of_pid(void **state)
{
	struct real_cgroup *rc = *state;
	char path[PATH_MAX], by_id[PATH_MAX], procs[PATH_MAX * 2], pid_text[16];
	int fd, len;

	make_fake_pod(rc);
	rc->child = fork();
	assert_true(rc->child >= 0);
	if (rc->child == 0) {
		pause();
		_exit(0);
	}
	snprintf(procs, sizeof(procs), "%s%s/cgroup.procs", rc->mount, rc->rel_leaf);
	len = snprintf(pid_text, sizeof(pid_text), "%d", (int)rc->child);
	fd = open(procs, O_WRONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, pid_text, (size_t)len), len);
	close(fd);

	assert_int_equal(cgroup_path_of_pid(rc->child, path, sizeof(path)), 0);
	assert_string_equal(path, rc->rel_leaf);
	expect_fake_pod(path);

	assert_int_equal(cgroup_path_of_pid(getpid(), path, sizeof(path)), 0);
	assert_int_equal(cgroup_path_of_id(rc->mount, inode_of(rc->mount, path), by_id, sizeof(by_id)), 0);
	assert_string_equal(by_id, path);

	assert_int_equal(cgroup_path_of_pid(0, path, sizeof(path)), -EINVAL);
	assert_int_equal(cgroup_path_of_pid(INT_MAX, path, sizeof(path)), -ENOENT); /* above pid_max */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layouts),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_very_long_paths),
		cmocka_unit_test(test_unit_length_limit),
		cmocka_unit_test(test_null_arguments),
		cmocka_unit_test(test_short_container),
		cmocka_unit_test(test_cgroup_from_proc),
		cmocka_unit_test_setup_teardown(test_real_path_of_id, real_setup, real_teardown),
		cmocka_unit_test_setup_teardown(test_real_path_of_pid, real_setup, real_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
