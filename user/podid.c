/*
 * podid.c - read pod, container and systemd unit out of a cgroup v2 path.
 *
 * The kubelet lays pods out in one of two drivers:
 *   systemd:  kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid>.slice/cri-containerd-<id>.scope
 *   cgroupfs: kubepods/burstable/pod<uid>/<id>
 * Guaranteed pods have no QoS level: kubepods.slice/kubepods-pod<uid>.slice/...
 * A kind node adds a "kubelet-" prefix to every slice. Everything here reads
 * the path in place, as (pointer, length) spans: nothing is copied until a
 * part is known to be well-formed and to fit.
 */
#include "podid.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

struct span {
	const char *p;
	size_t len;
};

/* The kubepods hierarchy a pod was found under, and how its children are named. */
struct kube_level {
	bool systemd;
	struct span stem; /* systemd: the level's slice name without ".slice" */
};

static const struct span no_span;

static bool span_eq(struct span s, const char *lit)
{
	return s.len == strlen(lit) && !memcmp(s.p, lit, s.len);
}

static bool span_cut_span_prefix(struct span *s, struct span prefix)
{
	if (s->len < prefix.len || memcmp(s->p, prefix.p, prefix.len))
		return false;
	s->p += prefix.len;
	s->len -= prefix.len;
	return true;
}

static bool span_cut_prefix(struct span *s, const char *lit)
{
	return span_cut_span_prefix(s, (struct span){ lit, strlen(lit) });
}

static bool span_cut_suffix(struct span *s, const char *lit)
{
	size_t n = strlen(lit);

	if (s->len < n || memcmp(s->p + s->len - n, lit, n))
		return false;
	s->len -= n;
	return true;
}

static bool span_copy(struct span s, char *dst, size_t size)
{
	if (s.len >= size)
		return false;
	memcpy(dst, s.p, s.len);
	dst[s.len] = '\0';
	return true;
}

/* The next non-empty component after *cursor: "//a/" and a trailing '/' are harmless. */
static bool next_component(const char **cursor, struct span *c)
{
	const char *p = *cursor;

	while (*p == '/')
		p++;
	if (!*p)
		return false;
	c->p = p;
	c->len = strcspn(p, "/");
	*cursor = p + c->len;
	return true;
}

/* Lowercase only: the kubelet and the runtimes never print uppercase ids. */
static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static bool all_hex(struct span s)
{
	for (size_t i = 0; i < s.len; i++)
		if (!is_hex(s.p[i]))
			return false;
	return true;
}

static bool is_uuid_dash(size_t i)
{
	return i == 8 || i == 13 || i == 18 || i == 23;
}

/*
 * 8-4-4-4-12 hex with SEP between the groups, written back with dashes. SEP is
 * '_' under the systemd driver: there a '-' in a slice name means nesting
 * (a-b.slice is a child of a.slice), so the kubelet escapes the UID's dashes.
 * A static pod's UID is the kubelet's 32-hex hash of its manifest, no dashes.
 */
static bool parse_pod_uid(struct span s, char sep, char out[37])
{
	char uid[37];

	if (s.len == 32 && all_hex(s))
		return span_copy(s, out, 37);
	if (s.len != 36)
		return false;
	for (size_t i = 0; i < s.len; i++) {
		if (is_uuid_dash(i) ? s.p[i] != sep : !is_hex(s.p[i]))
			return false;
		uid[i] = is_uuid_dash(i) ? '-' : s.p[i];
	}
	uid[36] = '\0';
	memcpy(out, uid, sizeof(uid));
	return true;
}

static bool parse_container_id(struct span s, char out[65])
{
	return s.len == 64 && all_hex(s) && span_copy(s, out, 65);
}

/*
 * A container's cgroup, named by its runtime: "cri-containerd-<id>.scope",
 * "crio-<id>.scope", "docker-<id>.scope", "libpod-<id>.scope", or the bare id
 * of the cgroupfs driver. The monitor CRI-O and podman start beside each
 * container, "crio-conmon-<id>.scope" or "libpod-conmon-<id>.scope", is not the
 * container: "conmon-<id>" is no id, so it is left out with no rule of its own.
 */
static bool parse_container(struct span c, struct pod_identity *out)
{
	static const struct {
		const char *prefix, *runtime;
	} runtimes[] = {
		{ "cri-containerd-", "containerd" },
		{ "crio-", "crio" },
		{ "docker-", "docker" },
		{ "libpod-", "podman" },
		{ "", "" },
	};

	span_cut_suffix(&c, ".scope");
	for (size_t i = 0; i < sizeof(runtimes) / sizeof(runtimes[0]); i++) {
		struct span id = c;

		if (span_cut_prefix(&id, runtimes[i].prefix) && parse_container_id(id, out->container_id)) {
			strcpy(out->runtime, runtimes[i].runtime);
			return true;
		}
	}
	return false;
}

/* "kubepods" (cgroupfs), "kubepods.slice" or a prefixed "kubelet-kubepods.slice" (kind). */
static bool kube_root(struct span c, struct kube_level *level)
{
	struct span stem = c, prefix;

	if (span_eq(c, "kubepods")) {
		*level = (struct kube_level){ .systemd = false, .stem = no_span };
		return true;
	}
	if (!span_cut_suffix(&stem, ".slice"))
		return false;
	prefix = stem;
	if (span_eq(stem, "kubepods") || (span_cut_suffix(&prefix, "-kubepods") && prefix.len)) {
		*level = (struct kube_level){ .systemd = true, .stem = stem };
		return true;
	}
	return false;
}

/*
 * A child of LEVEL: its own name, without the parent's "<stem>-" and ".slice"
 * the systemd driver repeats. On success LEVEL becomes the child.
 */
static bool kube_child(struct kube_level *level, struct span c, struct span *name)
{
	struct span rest = c;

	if (level->systemd) {
		if (!span_cut_span_prefix(&rest, level->stem) || !span_cut_prefix(&rest, "-") ||
		    !span_cut_suffix(&rest, ".slice"))
			return false;
		level->stem = c;
		span_cut_suffix(&level->stem, ".slice");
	}
	*name = rest;
	return true;
}

/* CURSOR is just past a kubepods root: [QoS level,] pod, [container, [anything below]]. */
static bool parse_pod(const char *cursor, struct kube_level level, struct pod_identity *out)
{
	const char *qos = "guaranteed";
	struct span c, name;

	if (!next_component(&cursor, &c) || !kube_child(&level, c, &name))
		return false;
	if (span_eq(name, "burstable") || span_eq(name, "besteffort")) {
		qos = span_eq(name, "burstable") ? "burstable" : "besteffort";
		if (!next_component(&cursor, &c) || !kube_child(&level, c, &name))
			return false;
	}
	if (!span_cut_prefix(&name, "pod") ||
	    !parse_pod_uid(name, level.systemd ? '_' : '-', out->pod_uid))
		return false;
	out->kind = PODID_POD;
	strcpy(out->qos, qos);
	/* Cgroups below the container's (runc's "init", the app's own) are still its. */
	if (next_component(&cursor, &c))
		parse_container(c, out);
	return true;
}

/* The innermost pod wins: a kind node's pods sit below the node container's own. */
static bool find_innermost_pod(const char *path, struct pod_identity *out)
{
	const char *cursor = path;
	struct kube_level level;
	struct span c;
	bool found = false;

	while (next_component(&cursor, &c)) {
		struct pod_identity pod = { 0 };

		if (kube_root(c, &level) && parse_pod(cursor, level, &pod)) {
			*out = pod;
			found = true;
		}
	}
	return found;
}

static bool is_unit_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr(":_.@\\-", c));
}

static bool is_unit_name(struct span c)
{
	struct span stem = c;

	if (!span_cut_suffix(&stem, ".scope") && !span_cut_suffix(&stem, ".service"))
		return false;
	return stem.len > 0;
}

static void fill_unit(struct span unit, struct pod_identity *out)
{
	for (size_t i = 0; i < unit.len; i++)
		if (!is_unit_char(unit.p[i]))
			return;
	if (span_copy(unit, out->unit, sizeof(out->unit)))
		out->kind = PODID_UNIT;
}

/*
 * No pod: the innermost unit names the owner, the innermost container cgroup
 * the container (they differ for systemd inside a container:
 * system.slice/docker-<id>.scope/system.slice/nginx.service).
 */
static void parse_plain_host(const char *path, struct pod_identity *out)
{
	struct span c, unit = no_span;

	while (next_component(&path, &c)) {
		if (is_unit_name(c))
			unit = c;
		parse_container(c, out); /* writes only what it recognises */
	}
	if (unit.len)
		fill_unit(unit, out);
}

int podid_parse(const char *cgroup_path, struct pod_identity *out)
{
	if (!cgroup_path || !out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (!find_innermost_pod(cgroup_path, out))
		parse_plain_host(cgroup_path, out);
	return 0;
}

void podid_short_container(const struct pod_identity *id, char out[13])
{
	out[0] = '\0';
	if (id && strnlen(id->container_id, sizeof(id->container_id)) >= 12) {
		memcpy(out, id->container_id, 12);
		out[12] = '\0';
	}
}

static const char *next_line(const char *line)
{
	const char *nl = strchr(line, '\n');

	return nl ? nl + 1 : NULL;
}

int podid_cgroup_from_proc(const char *text, char *path, size_t len)
{
	if (!text || !path)
		return -EINVAL;
	for (const char *line = text; line; line = next_line(line)) {
		struct span p;

		if (strncmp(line, "0::", 3))
			continue;
		p.p = line + 3;
		p.len = strcspn(p.p, "\n");
		/*
		 * The kernel appends this to a removed cgroup's path (a zombie's, or a
		 * process racing its pod's teardown); the cgroup it names is the one.
		 */
		span_cut_suffix(&p, " (deleted)");
		return span_copy(p, path, len) ? 0 : -ENAMETOOLONG;
	}
	return -ENOENT;
}
