#!/usr/bin/python3
"""seccomp-profile.py [RUNTIME_PROFILE] > sockreap-seccomp.json

A seccomp profile for sockreap on container runtimes whose default profile
allows bpf() only with CAP_SYS_ADMIN: CRI-O and podman, which use the
containers/common profile (/usr/share/containers/seccomp.json, the default
input). It is that profile with one change, half of the one containerd and
Docker made to theirs in 2022: bpf() is also allowed to a container holding
CAP_BPF. (They also allow perf_event_open() to CAP_PERFMON; sockreap attaches
its programs through bpf() links only, so that stays refused here.)
Everything else the runtime refuses stays refused.

deploy/sockreap-seccomp.json is this script's output for containers-common
0.50 (Debian 12). Regenerate it from your nodes' runtime profile if it is
newer, copy it to each node's kubelet seccomp directory
(/var/lib/kubelet/seccomp/sockreap-seccomp.json) and set, in the manifest:

    seccompProfile:
      type: Localhost
      localhostProfile: sockreap-seccomp.json
"""
import json
import sys

GATED = {"bpf": "CAP_BPF"}


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/containers/seccomp.json"
    with open(src) as f:
        prof = json.load(f)
    out = []
    for rule in prof["syscalls"]:
        # The rule refusing these calls (EPERM) to a container without
        # CAP_SYS_ADMIN: take them out, and refuse them below only when the
        # container has neither CAP_SYS_ADMIN nor the narrower capability.
        if rule.get("action") == "SCMP_ACT_ERRNO" and rule.get("excludes", {}).get("caps") == ["CAP_SYS_ADMIN"]:
            names = [n for n in rule["names"] if n not in GATED]
            if not names:
                continue
            rule = dict(rule, names=names)
        out.append(rule)
    for name, cap in GATED.items():
        out.append({"names": [name], "action": "SCMP_ACT_ALLOW", "args": [], "comment": "sockreap: %s with %s" % (name, cap),
                    "includes": {"caps": [cap]}, "excludes": {}})
        out.append({"names": [name], "action": "SCMP_ACT_ERRNO", "args": [], "comment": "",
                    "includes": {}, "excludes": {"caps": ["CAP_SYS_ADMIN", cap]}, "errnoRet": 1})
    prof["syscalls"] = out
    json.dump(prof, sys.stdout, indent="\t")
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
