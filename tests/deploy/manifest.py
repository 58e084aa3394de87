#!/usr/bin/python3
"""manifest.py - run a container of a Kubernetes manifest under podman with
the manifest's own settings, read from the YAML (never re-typed in a test).

  manifest.py pod-args FILE                 podman pod create arguments
  manifest.py run-args FILE CONTAINER [--env NAME=VALUE]... [--seccomp-root DIR]
                                     [--localhost-seccomp PROFILE]
                                            podman run arguments (before the image)
  manifest.py cmd FILE CONTAINER            command and args (after the image)
  manifest.py get FILE PATH                 one value: spec.containers.sockreap.env.SOCKREAP_PORT,
                                            spec.containers.server.ports.ws.containerPort, ...
                                            (list items are picked by their name)
  manifest.py probe FILE CONTAINER          "PORT PATH" of the liveness probe
  manifest.py variant FILE [--name NAME] [--image CONTAINER=IMAGE]...
                      [--env CONTAINER.NAME=VALUE]... [--localhost-seccomp CONTAINER=PROFILE]
                      [--seccomp-annotation CONTAINER=PROFILE]
                                            the manifest as YAML for `podman kube play`,
                                            with only these changes (each named on stderr)

Output is NUL-separated (bash: mapfile -d ''). Every field that decides what
the container may do is translated or refused: a securityContext key, volume
type or env source this script does not know makes it exit 2 naming the
field, so a manifest change can never be silently dropped from the test.
Fields that do not change the container's privileges (image, ports,
probes, resource requests, scheduling) are listed on stderr as not applied.
--env replaces the value of a variable the manifest sets (an unknown name is
an error: the test overrides, it does not add). --seccomp-root is where
Localhost seccomp profiles live (the kubelet's /var/lib/kubelet/seccomp).
--localhost-seccomp replaces a RuntimeDefault profile by that Localhost one,
the change the manifest's comment tells CRI-O users to make.

variant is for a consumer that reads the YAML itself (podman kube play): it
changes nothing but what it is told (a unique pod name, the images under
test, a documented env or seccomp change), refuses a change the manifest
does not already have a field for, and names every change on stderr.
--seccomp-annotation copies a container's Localhost profile into the
annotation podman 4.3 reads instead of the field (it ignores the field).
"""
import sys

import yaml

POD_KINDS = ("Pod", "DaemonSet", "Deployment", "StatefulSet", "ReplicaSet", "Job")
# What the runtime's default profile is called here: podman applies its
# default (containers-common's seccomp.json) when no profile is named.
RUNTIME_DEFAULT = None


def die(msg):
    sys.stderr.write("manifest.py: %s\n" % msg)
    sys.exit(2)


def load_docs(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d]


def workload(docs, path):
    """The one workload of docs (an object in docs) and its pod spec, or exit 2."""
    pods = [d for d in docs if d.get("kind") in POD_KINDS]
    if len(pods) != 1:
        die("%s: want exactly one workload (%s), found %d" % (path, "/".join(POD_KINDS), len(pods)))
    d = pods[0]
    spec = d["spec"] if d["kind"] == "Pod" else d["spec"]["template"]["spec"]
    return d, spec


def load_pod(path):
    return workload(load_docs(path), path)


def container(spec, name):
    for c in spec.get("containers", []):
        if c.get("name") == name:
            return c
    die("no container named %s" % name)


def caps(names):
    out = []
    for n in names:
        n = str(n)
        out.append(n if n == "ALL" else n.upper().removeprefix("CAP_"))
    return out


def security_args(pod_sc, sc, seccomp_root):
    """The container's securityContext over the pod's, as podman flags."""
    args = []
    known_pod = {"runAsUser", "runAsGroup", "runAsNonRoot", "seccompProfile", "fsGroup",
                 "supplementalGroups"}
    for k in pod_sc:
        if k not in known_pod:
            die("pod securityContext.%s is not translated" % k)
    merged = dict(pod_sc)
    merged.update(sc)
    user, group = merged.get("runAsUser"), merged.get("runAsGroup")
    for k, v in merged.items():
        if k in ("runAsUser", "runAsGroup", "fsGroup"):
            continue
        if k == "supplementalGroups":
            for g in v:
                args += ["--group-add", str(g)]
        elif k == "runAsNonRoot":
            if v and (user is None or int(user) == 0):
                die("runAsNonRoot: true with uid %s" % user)
        elif k == "privileged":
            if v:
                args.append("--privileged")
        elif k == "allowPrivilegeEscalation":
            if v is False:
                args += ["--security-opt", "no-new-privileges"]
        elif k == "readOnlyRootFilesystem":
            if v:
                # Kubernetes mounts no tmpfs on /run or /tmp: neither may podman.
                args += ["--read-only", "--read-only-tmpfs=false"]
        elif k == "capabilities":
            for ck in v:
                if ck not in ("add", "drop"):
                    die("securityContext.capabilities.%s is not translated" % ck)
            for c in caps(v.get("drop", [])):
                args += ["--cap-drop", c.lower()]
            for c in caps(v.get("add", [])):
                args += ["--cap-add", c.lower()]
        elif k == "seccompProfile":
            t = v.get("type")
            if t == "RuntimeDefault":
                pass  # podman's default profile
            elif t == "Unconfined":
                args += ["--security-opt", "seccomp=unconfined"]
            elif t == "Localhost":
                if not seccomp_root:
                    die("seccompProfile Localhost needs --seccomp-root")
                args += ["--security-opt", "seccomp=%s/%s" % (seccomp_root, v["localhostProfile"])]
            else:
                die("seccompProfile type %s is not translated" % t)
        else:
            die("securityContext.%s is not translated" % k)
    if user is not None or group is not None:
        args += ["--user", "%s:%s" % (user if user is not None else 0, group if group is not None else 0)]
    return args


def volume_args(spec, c):
    vols = {v["name"]: v for v in spec.get("volumes", [])}
    args = []
    for m in c.get("volumeMounts", []):
        for k in m:
            if k not in ("name", "mountPath", "readOnly"):
                die("volumeMounts.%s is not translated" % k)
        v = vols.get(m["name"]) or die("volume %s is not defined" % m["name"])
        ro = bool(m.get("readOnly"))
        if "hostPath" in v:
            hp = v["hostPath"]
            # Like the kubelet (and containerd): a recursive bind mount.
            args += ["-v", "%s:%s:%s" % (hp["path"], m["mountPath"], "ro,rbind" if ro else "rw,rbind")]
        elif "emptyDir" in v:
            ed = v["emptyDir"] or {}
            opts = "type=tmpfs,destination=%s" % m["mountPath"]
            if ed.get("sizeLimit"):
                opts += ",tmpfs-size=%s" % quantity_bytes(ed["sizeLimit"])
            if ro:
                opts += ",ro=true"
            args += ["--mount", opts]
        else:
            die("volume %s: type %s is not translated" % (v["name"], [k for k in v if k != "name"]))
    return args


def quantity_bytes(q):
    q = str(q)
    units = {"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "k": 1000, "M": 10**6, "G": 10**9}
    for u, mul in units.items():
        if q.endswith(u):
            return int(float(q[: -len(u)]) * mul)
    return int(q)


def cpu_cores(q):
    q = str(q)
    return float(q[:-1]) / 1000 if q.endswith("m") else float(q)


def env_args(c, overrides):
    args = []
    seen = set()
    for e in c.get("env", []):
        if "valueFrom" in e:
            die("env %s: valueFrom is not translated" % e["name"])
        val = overrides.get(e["name"], e.get("value", ""))
        seen.add(e["name"])
        args += ["--env", "%s=%s" % (e["name"], val)]
    for n in overrides:
        if n not in seen:
            die("--env %s: the manifest does not set it" % n)
    if c.get("envFrom"):
        die("envFrom is not translated")
    return args


def run_args(path, name, overrides, seccomp_root, localhost):
    doc, spec = load_pod(path)
    c = container(spec, name)
    if localhost:
        sp = c.get("securityContext", {}).get("seccompProfile", {})
        if sp.get("type") != "RuntimeDefault":
            die("--localhost-seccomp: the manifest's profile is %s, not RuntimeDefault" % sp.get("type"))
        c["securityContext"]["seccompProfile"] = {"type": "Localhost", "localhostProfile": localhost}
    ignored = []
    args = []
    if spec.get("hostPID"):
        args += ["--pid", "host"]
    if spec.get("hostNetwork"):
        args += ["--network", "host"]
    if spec.get("hostIPC"):
        args += ["--ipc", "host"]
    args += security_args(spec.get("securityContext", {}), c.get("securityContext", {}), seccomp_root)
    args += volume_args(spec, c)
    args += env_args(c, overrides)
    res = c.get("resources", {})
    lim = res.get("limits", {})
    for k, v in lim.items():
        if k == "cpu":
            args += ["--cpus", "%g" % cpu_cores(v)]
        elif k == "memory":
            args += ["--memory", str(quantity_bytes(v))]
        else:
            ignored.append("resources.limits.%s" % k)
    if "requests" in res:
        ignored.append("resources.requests")
    if spec.get("terminationGracePeriodSeconds") is not None:
        args += ["--stop-timeout", str(spec["terminationGracePeriodSeconds"])]
    if "command" in c:
        args += ["--entrypoint", c["command"][0]]
    known = {"name", "image", "imagePullPolicy", "env", "securityContext", "volumeMounts",
             "resources", "args", "command", "ports", "livenessProbe", "readinessProbe",
             "startupProbe"}
    for k in c:
        if k not in known:
            die("container field %s is not translated" % k)
    ignored += [k for k in ("image", "imagePullPolicy", "ports", "livenessProbe", "readinessProbe",
                            "startupProbe") if k in c]
    sys.stderr.write("manifest.py: %s/%s: not applied by podman: %s\n" % (doc["kind"], name, ", ".join(ignored)))
    return args


def cmd(path, name):
    _, spec = load_pod(path)
    c = container(spec, name)
    return [str(a) for a in c.get("command", [])[1:]] + [str(a) for a in c.get("args", [])]


def pod_args(path):
    _, spec = load_pod(path)
    share = ["ipc", "net", "uts"]
    if spec.get("shareProcessNamespace"):
        share.append("pid")
    return ["--share", ",".join(share)]


def get(path, expr):
    doc, spec = load_pod(path)
    node = {"spec": spec, "metadata": doc.get("metadata", {}), "kind": doc.get("kind")}
    for part in expr.split("."):
        if isinstance(node, list):
            hit = [x for x in node if isinstance(x, dict) and x.get("name") == part]
            if not hit:
                die("%s: no item named %s" % (expr, part))
            node = hit[0]
            if "value" in node and set(node) <= {"name", "value"}:
                node = node["value"]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            die("%s: no %s" % (expr, part))
    return [str(node)]


def probe(path, name):
    _, spec = load_pod(path)
    c = container(spec, name)
    http = c.get("livenessProbe", {}).get("httpGet") or die("%s has no httpGet liveness probe" % name)
    port = http["port"]
    if isinstance(port, str):
        port = [p["containerPort"] for p in c.get("ports", []) if p.get("name") == port][0]
    return ["%s %s" % (port, http.get("path", "/"))]


def variant(path, opts):
    docs = load_docs(path)
    doc, spec = workload(docs, path)  # changed in place, so in docs
    changed = []

    def change(where, old, new):
        changed.append("%s: %s -> %s" % (where, old, new))

    i = 0
    while i < len(opts):
        opt, arg = opts[i], opts[i + 1] if i + 1 < len(opts) else die("%s needs a value" % opts[i])
        i += 2
        if opt == "--name":
            change("metadata.name", doc["metadata"]["name"], arg)
            doc["metadata"]["name"] = arg
            continue
        cname, sep, val = arg.partition("=" if opt != "--env" else ".")
        if not sep:
            die("%s %s: want CONTAINER%sVALUE" % (opt, arg, "=" if opt != "--env" else "."))
        c = container(spec, cname)
        if opt == "--image":
            change("%s.image" % cname, c["image"], val)
            c["image"] = val
        elif opt == "--env":
            name, _, value = val.partition("=")
            hit = [e for e in c.get("env", []) if e.get("name") == name and "value" in e]
            if not hit:
                die("--env %s: the manifest does not set it" % name)
            change("%s.env.%s" % (cname, name), hit[0]["value"], value)
            hit[0]["value"] = value
        elif opt == "--seccomp-annotation":
            # podman 4.3's kube play ignores securityContext.seccompProfile and
            # reads only the annotation Kubernetes dropped in 1.27: mirror the
            # container's Localhost field there, so both consumers see it.
            sp = c.get("securityContext", {}).get("seccompProfile", {})
            if sp.get("type") != "Localhost" or sp.get("localhostProfile") != val:
                die("--seccomp-annotation %s: its seccompProfile is not Localhost %s" % (cname, val))
            key = "container.seccomp.security.alpha.kubernetes.io/%s" % cname
            doc["metadata"].setdefault("annotations", {})[key] = "localhost/" + val
            change("metadata.annotations.%s" % key, None, "localhost/" + val)
        elif opt == "--localhost-seccomp":
            sc = c.get("securityContext", {})
            if sc.get("seccompProfile", {}).get("type") != "RuntimeDefault":
                die("--localhost-seccomp: %s's profile is not RuntimeDefault" % cname)
            sc["seccompProfile"] = {"type": "Localhost", "localhostProfile": val}
            change("%s.securityContext.seccompProfile" % cname, "RuntimeDefault", "Localhost " + val)
        else:
            die("unknown option %s" % opt)
    for line in changed:
        sys.stderr.write("manifest.py: changed %s\n" % line)
    return [yaml.safe_dump_all(docs, sort_keys=False)]


def main(argv):
    if len(argv) < 3:
        die("usage: see the header of this file")
    verb, path = argv[1], argv[2]
    rest = argv[3:]
    if verb == "pod-args":
        out = pod_args(path)
    elif verb == "cmd":
        out = cmd(path, rest[0])
    elif verb == "get":
        out = get(path, rest[0])
    elif verb == "probe":
        out = probe(path, rest[0])
    elif verb == "run-args":
        name, overrides, root, localhost = rest[0], {}, None, None
        i = 1
        while i < len(rest):
            if rest[i] == "--env":
                k, _, v = rest[i + 1].partition("=")
                overrides[k] = v
                i += 2
            elif rest[i] == "--seccomp-root":
                root = rest[i + 1]
                i += 2
            elif rest[i] == "--localhost-seccomp":
                localhost = rest[i + 1]
                i += 2
            else:
                die("unknown option %s" % rest[i])
        out = run_args(path, name, overrides, root, localhost)
    elif verb == "variant":
        sys.stdout.write(variant(path, rest)[0])
        return
    else:
        die("unknown verb %s" % verb)
    sys.stdout.write("".join(a + "\0" for a in out))


if __name__ == "__main__":
    main(sys.argv)
