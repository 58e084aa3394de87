#!/usr/bin/env python3
"""check_deps.py BUILD_DIR - the daemon's modules depend on each other in one
direction only, and the configuration stays at the top.

  - Between the objects of user/*.c: A depends on B when A uses a symbol B
    defines (nm). No cycle may exist: a module never calls back up.
  - Only main.c, daemon.c and options.c (and daemon.h, their interface) may
    include options.h: nothing below the daemon reads the configuration.
  - tracker_internal.h is the tracker's own: only tracker*.c include it.

Prints each problem; exit 1 if any, 0 otherwise (with the module order).
"""
import glob
import os
import re
import subprocess
import sys


def symbols(obj):
    out = subprocess.run(["nm", obj], capture_output=True, text=True, check=True).stdout
    defined, used = set(), set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == "U":
            used.add(parts[1])
        elif len(parts) == 3 and parts[1] in "TDBRG":
            defined.add(parts[2])
    return defined, used


def find_cycle(graph):
    """A cycle as a list of nodes, or None (iterative DFS, colours)."""
    colour = {n: 0 for n in graph}
    for root in sorted(graph):
        if colour[root]:
            continue
        stack = [(root, iter(sorted(graph[root])))]
        path = [root]
        colour[root] = 1
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                colour[node] = 2
                stack.pop()
                path.pop()
            elif colour[nxt] == 1:
                return path[path.index(nxt):] + [nxt]
            elif colour[nxt] == 0:
                colour[nxt] = 1
                stack.append((nxt, iter(sorted(graph[nxt]))))
                path.append(nxt)
    return None


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    problems = []
    objs = sorted(glob.glob(os.path.join(build, "user", "*.o")))
    if not objs:
        print(f"no objects in {build}/user: build first")
        return 1
    mods = {os.path.basename(o)[:-2]: symbols(o) for o in objs}
    owner = {}
    for m, (defined, _) in mods.items():
        for s in defined:
            owner[s] = m
    graph = {m: {owner[s] for s in used if s in owner and owner[s] != m}
             for m, (_, used) in mods.items()}
    cycle = find_cycle(graph)
    if cycle:
        problems.append("module cycle: " + " -> ".join(cycle))

    allowed = {"main.c", "daemon.c", "options.c", "daemon.h", "options.h"}
    for f in sorted(glob.glob(os.path.join(root, "user", "*.[ch]"))):
        text = open(f).read()
        name = os.path.basename(f)
        if re.search(r'#include "options\.h"', text) and name not in allowed:
            problems.append(f"user/{name} includes options.h: only the top (main, daemon, options) may")
        if '#include "tracker_internal.h"' in text and not name.startswith("tracker"):
            problems.append(f"user/{name} includes tracker_internal.h: it is the tracker's own")

    for p in problems:
        print("FAIL " + p)
    if not problems:
        edges = sum(len(v) for v in graph.values())
        print(f"deps: {len(mods)} modules, {edges} dependencies, no cycle; configuration read at the top only")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
