/* podid.h - who owns a cgroup: a Kubernetes pod and container, or a systemd unit. Pure. */
#ifndef SR_PODID_H
#define SR_PODID_H

#include <stddef.h>

enum podid_kind {
	PODID_NONE, /* the root, a slice, or a path we do not recognise */
	PODID_POD,  /* under a kubepods hierarchy, with a well-formed pod UID */
	PODID_UNIT, /* no pod: the innermost systemd .scope or .service */
};

/*
 * Every field is NUL-terminated and "" when unknown. The path comes from /proc
 * and may hold anything, so a field is filled only from a well-formed part:
 * pod_uid and container_id are lowercase hex and '-', unit has only systemd's
 * unit-name characters [A-Za-z0-9:_.@\-]. A log line can print them unquoted.
 * The container fields are independent of kind: docker's cgroupfs layout
 * "/docker/<id>" gives a container_id with PODID_NONE.
 */
struct pod_identity {
	enum podid_kind kind;
	char pod_uid[37];      /* "1b2c3d4e-5f60-7182-93a4-b5c6d7e8f901"; a static pod's is 32 hex */
	char qos[16];          /* "guaranteed", "burstable", "besteffort"; PODID_POD only */
	char container_id[65]; /* 64 lowercase hex; "" at pod level (pause, conmon) */
	char runtime[16];      /* "containerd", "crio", "docker", "podman"; "" if not known */
	char unit[128];        /* "sshd.service", "docker-<id>.scope"; PODID_UNIT only */
};

/*
 * Fill OUT from a cgroup v2 path: relative to the cgroup2 mount ("/kubepods/...")
 * or with its mount prefix ("/sys/fs/cgroup/unified/kubepods/..."). The innermost
 * kubepods hierarchy wins (kind nodes run inside containers). Malformed parts are
 * left empty. 0, also for PODID_NONE; -EINVAL for a NULL argument.
 */
int podid_parse(const char *cgroup_path, struct pod_identity *out);

/* The 12-hex short id kubectl, crictl and docker ps show; "" if there is no container id. */
void podid_short_container(const struct pod_identity *id, char out[13]);

/*
 * From the text of /proc/PID/cgroup, the cgroup v2 path (the "0::" line; a hybrid
 * host also lists v1 hierarchies, which do not count). 0, -ENOENT if there is no
 * such line, -ENAMETOOLONG if it does not fit in LEN, -EINVAL for NULL.
 */
int podid_cgroup_from_proc(const char *text, char *path, size_t len);

#endif
