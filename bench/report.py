#!/usr/bin/env python3
"""report.py - statistics, table and JSON for the benchmark suite (bench/run.sh).

  report.py progs PID[:LABEL]... the BPF programs of these processes (ids from /proc/PID/fdinfo), as JSON
  report.py maps PID            our daemon's BPF maps, as JSON
  report.py report DATA OUT     read bench/run.sh's raw data, print the table, write OUT (JSON)

Ratios, never timed assertions: every figure is reported with the target it
is compared with and the margin; the exit status is 0 whatever the figures.
"""
import datetime
import glob
import json
import os
import random
import re
import subprocess
import sys

BOOTSTRAP = 5000


# --- helpers for run.sh ------------------------------------------------------


def fdinfo_ids(pid, key):
    """The BPF object ids (prog_id, map_id) named in the fdinfo of PID's descriptors."""
    ids = set()
    for path in glob.glob(f"/proc/{pid}/fdinfo/*"):
        try:
            with open(path) as f:
                for line in f:
                    if line.startswith(key + ":"):
                        ids.add(int(line.split()[1]))
        except OSError:
            pass
    return ids


def bpftool_json(*args):
    out = subprocess.run(["bpftool", "-j", *args], capture_output=True, text=True, check=True)
    return json.loads(out.stdout or "[]")


def cmd_progs(specs):
    """specs: PID or PID:LABEL; a label is appended to the names of that process's programs."""
    label = {}
    for spec in specs:
        pid, _, tag = spec.partition(":")
        for i in fdinfo_ids(int(pid), "prog_id"):
            label[i] = tag
    progs = [
        {"id": p["id"], "name": p.get("name", "") + (":" + label[p["id"]] if label[p["id"]] else ""),
         "run_time_ns": p.get("run_time_ns", 0), "run_cnt": p.get("run_cnt", 0)}
        for p in bpftool_json("prog", "show") if p["id"] in label
    ]
    json.dump(progs, sys.stdout)
    print()


def cmd_maps(pid):
    ids = fdinfo_ids(pid, "map_id")
    maps = [
        {"id": m["id"], "name": m.get("name", ""), "type": m.get("type"),
         "max_entries": m.get("max_entries"), "value_size": m.get("bytes_value"),
         "bytes_memlock": m.get("bytes_memlock")}
        for m in bpftool_json("map", "show") if m["id"] in ids
    ]
    json.dump(maps, sys.stdout)
    print()


# --- statistics ----------------------------------------------------------------


def median(v):
    s = sorted(v)
    n = len(s)
    if not n:
        return None
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def percentile(v, q):
    """Nearest-rank percentile (q in 0..100)."""
    s = sorted(v)
    if not s:
        return None
    k = max(0, min(len(s) - 1, int(-(-q * len(s) // 100)) - 1))
    return s[k]


def bootstrap_median_ci(v, seed=6):
    """95% percentile-bootstrap interval of the median."""
    if len(v) < 2:
        return [None, None]
    rnd = random.Random(seed)
    meds = sorted(median([rnd.choice(v) for _ in v]) for _ in range(BOOTSTRAP))
    return [meds[int(0.025 * BOOTSTRAP)], meds[int(0.975 * BOOTSTRAP) - 1]]


def summary(v):
    return {"n": len(v), "median": median(v), "ci95": bootstrap_median_ci(v),
            "min": min(v) if v else None, "max": max(v) if v else None,
            "p25": percentile(v, 25), "p75": percentile(v, 75)}


def read_env(path):
    env = {}
    with open(path) as f:
        for line in f:
            if "=" in line:
                k, v = line.strip().split("=", 1)
                env[k] = v
    return env


def load_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def read_metrics(path):
    m = {}
    try:
        with open(path) as f:
            for line in f:
                if line.startswith("#") or not line.strip():
                    continue
                k, v = line.rsplit(" ", 1)
                m[k] = float(v)
    except OSError:
        pass
    return m


# --- 1. hot path ----------------------------------------------------------------


def iperf_figures(doc):
    end = doc["end"]
    rx = end["sum_received"]
    cpu = end.get("cpu_utilization_percent", {})
    gb = rx["bytes"] / 1e9
    cpu_s = (cpu.get("host_total", 0) + cpu.get("remote_total", 0)) / 100 * rx["seconds"]
    return {"bps": rx["bits_per_second"], "bytes": rx["bytes"], "seconds": rx["seconds"],
            "cpu_s_per_gb": cpu_s / gb if gb else None,
            "host_cpu_pct": cpu.get("host_total"), "remote_cpu_pct": cpu.get("remote_total")}


def hot_path(data):
    rows = []
    path = os.path.join(data, "hot", "runs.tsv")
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        next(f)
        for line in f:
            seq, rnd, arm, kind, foreign, name = line.rstrip("\n").split("\t")
            doc = load_json(os.path.join(data, "hot", name))
            if doc and "end" in doc and "sum_received" in doc["end"]:
                rows.append({"seq": int(seq), "round": int(rnd), "arm": arm, "kind": kind,
                             "foreign": int(foreign), **iperf_figures(doc)})
    arm_of = {r["seq"]: r["arm"] for r in rows}
    run = {(r["seq"], r["kind"]): r for r in rows}
    out = {"order": "A (B B A C C A) x rounds; each arm run paired with its adjacent 'none' run",
           "foreign_sr_programs": sorted({r["foreign"] for r in rows})}
    for kind, field, better in (("p1", "bps", "higher"), ("p8", "bps", "higher"),
                                ("rate", "cpu_s_per_gb", "lower")):
        res = {"metric": "throughput ratio arm/none" if field == "bps"
               else "CPU-seconds per GB ratio arm/none (fixed rate)", "better": better}
        for arm in ("idle", "full"):
            ratios, matched = [], []
            for seq, a in sorted(arm_of.items()):
                if a != arm:
                    continue
                partner = seq - 1 if arm_of.get(seq - 1) == "none" else (
                    seq + 1 if arm_of.get(seq + 1) == "none" else None)
                x, y = run.get((seq, kind)), run.get((partner, kind))
                if x and y and x[field] and y[field]:
                    ratios.append(x[field] / y[field])
                    if x["foreign"] == y["foreign"]:
                        matched.append(x[field] / y[field])
            res[arm] = summary(ratios)
            res[arm]["ratios"] = [round(r, 4) for r in ratios]
            # Pairs whose two runs saw the same number of other sr_* programs
            # (concurrent tests' daemons attach to the same tracepoints).
            res[arm]["same_foreign_programs"] = summary(matched)
        for arm in ("none", "idle", "full"):
            vals = [r[field] for r in rows if r["arm"] == arm and r["kind"] == kind]
            res.setdefault("absolute", {})[arm] = {
                "median": median(vals), "min": min(vals) if vals else None,
                "max": max(vals) if vals else None, "n": len(vals),
                "unit": "bit/s" if field == "bps" else "CPU-s/GB"}
            if kind == "rate":
                res["absolute"][arm]["achieved_bps"] = median(
                    [r["bps"] for r in rows if r["arm"] == arm and r["kind"] == kind])
        out[kind] = res
    return out


# --- 2. per-event cost ----------------------------------------------------------


def perf_counts(path):
    counts = {}
    try:
        with open(path) as f:
            for line in f:
                parts = line.strip().split(",")
                if len(parts) >= 3 and parts[0].replace(".", "").isdigit():
                    counts[parts[2]] = float(parts[0])
    except OSError:
        pass
    return counts


# Each of our programs and the references it is held against (bench/refprogs.bpf.c):
# the same tracepoint, the same windows. Programs on one tracepoint run in the
# order they were attached, and the first one touching the socket pays its
# cache misses: one copy of the references runs before ours (":first") and one
# after (":last"); the ratio is taken against their mean, each one shown too.
REFERENCES = {"sr_on_probe": ("ref_probe_empty", "ref_probe_hash"),
              "sr_on_sendmsg": ("ref_send_empty", "ref_send_hash")}
REF_COPIES = ("first", "last")
REFERENCE_GOAL = 1.5  # our program <= 1.5x the one-hash-update reference


def window_costs(before, after):
    """{name: (events, ns)} between two `progs` snapshots."""
    b = {p["name"]: p for p in before or []}
    out = {}
    for p in after or []:
        q = b.get(p["name"], {"run_time_ns": 0, "run_cnt": 0})
        out[p["name"]] = (p["run_cnt"] - q["run_cnt"], p["run_time_ns"] - q["run_time_ns"])
    return out


def bpf_stats(data, hot):
    out = {}
    for kind in ("p1", "p8"):
        windows = []
        for w in range(1000):
            base = os.path.join(data, "stats", f"{kind}.{w}")
            if not os.path.exists(base + ".after.json"):
                break
            doc = load_json(base + ".iperf.json")
            if not doc or "end" not in doc or "sum_received" not in doc["end"]:
                continue
            windows.append((iperf_figures(doc),
                            window_costs(load_json(base + ".before.json"), load_json(base + ".after.json"))))
        if not windows:
            continue
        secs = sum(f["seconds"] for f, _ in windows)  # rates over the transfers themselves
        gb = sum(f["bytes"] for f, _ in windows) / 1e9
        cpu_s = sum(f["cpu_s_per_gb"] * f["bytes"] / 1e9 for f, _ in windows if f["cpu_s_per_gb"])
        names = sorted({n for _, c in windows for n in c})
        progs = {}
        total_ns = 0
        for name in names:
            cnt = sum(c.get(name, (0, 0))[0] for _, c in windows)
            ns = sum(c.get(name, (0, 0))[1] for _, c in windows)
            if not name.startswith("ref_"):
                total_ns += ns
            per_window = [c[name][1] / c[name][0] for _, c in windows if c.get(name, (0, 0))[0] > 0]
            progs[name] = {"events": cnt, "ns_per_event": ns / cnt if cnt else None,
                           "ns_per_event_windows": summary(per_window),
                           "events_per_s": cnt / secs, "events_per_gb": cnt / gb if gb else None,
                           "cpu_share_of_one_core": ns / 1e9 / secs}
        # Per window: ours / reference, so a slow window slows both.
        def per_event(c, name):
            ev, ns = c.get(name, (0, 0))
            return ns / ev if ev > 0 and ns > 0 else None

        def ref_cost(c, ref, copy):
            if copy != "mean":
                return per_event(c, f"{ref}:{copy}")
            v = [per_event(c, f"{ref}:{k}") for k in REF_COPIES]
            return sum(v) / len(v) if None not in v else None

        refs = {}
        for ours, (empty, onehash) in REFERENCES.items():
            for ref in (empty, onehash):
                for copy in ("mean",) + REF_COPIES:
                    v = [per_event(c, ours) / ref_cost(c, ref, copy) for _, c in windows
                         if per_event(c, ours) and ref_cost(c, ref, copy)]
                    if v:
                        refs[f"{ours}/{ref}" + ("" if copy == "mean" else ":" + copy)] = summary(v)
        cpu_ns_per_gb = cpu_s / gb * 1e9 if gb and cpu_s else None
        bpf_ns_per_gb = total_ns / gb if gb else None
        share = bpf_ns_per_gb / cpu_ns_per_gb if cpu_ns_per_gb else None
        out[kind] = {
            "windows": len(windows), "seconds": secs, "programs": progs, "versus_references": refs,
            "throughput_bps": gb * 8e9 / secs if secs else None,
            "tracepoint_events_per_s": {k: v / windows[0][0]["seconds"] for k, v in
                                        perf_counts(os.path.join(data, "stats", kind + ".perf")).items()},
            "bpf_ns_per_gb": bpf_ns_per_gb, "iperf_cpu_ns_per_gb": cpu_ns_per_gb,
            "bpf_share_of_cpu": share,
            "predicted_ratio": 1 - share if share is not None else None,
            "measured_ratio_idle": hot.get(kind, {}).get("idle", {}).get("median"),
        }
    return out


# --- profiles -------------------------------------------------------------------


def profile(path, top=15):
    lines = []
    try:
        with open(path) as f:
            for line in f:
                m = re.match(r"\s*([\d.]+)%\s+(.*)$", line)
                if m:
                    lines.append((float(m.group(1)), " ".join(m.group(2).split())))
    except OSError:
        return None
    share = lambda pat: round(sum(p for p, s in lines if re.search(pat, s)), 2)
    return {"top": [{"pct": p, "symbol": s} for p, s in lines[:top]],
            "sr_programs_pct": share(r"bpf_prog_\w+_sr_"),
            "tracepoint_dispatch_pct": share(r"bpf_trace_run|__bpf_trace_|__traceiter_"),
            "bpf_map_pct": share(r"htab_|bpf_map|generic_map_lookup_batch|copy_to_user|_copy_to_user")}


# --- 3./4. scale and watchdog ---------------------------------------------------


SCALE_PATHS = ("auto", "fentry", "sweep")  # the --send-path of each scale run (bench/run.sh)


def ready_field(log, key):
    """A field of the daemon's event=ready line (JSON log)."""
    try:
        for line in open(log):
            if '"event":"ready"' in line:
                return json.loads(line).get(key)
    except (OSError, ValueError):
        pass
    return None


def scale(data):
    out = []
    dirs = glob.glob(os.path.join(data, "scale", "*", "*"))
    order = lambda p: (SCALE_PATHS.index(os.path.basename(os.path.dirname(p)))
                       if os.path.basename(os.path.dirname(p)) in SCALE_PATHS else 9, int(os.path.basename(p)))
    for d in sorted(dirs, key=order):
        n = int(os.path.basename(d))
        path = os.path.basename(os.path.dirname(d))
        m0, m1 = read_metrics(os.path.join(d, "m0.prom")), read_metrics(os.path.join(d, "m1.prom"))
        if not m0 or not m1:
            continue
        scans = m1.get("sockreap_scans_total", 0) - m0.get("sockreap_scans_total", 0)
        cpu = m1.get("sockreap_scan_cpu_seconds_total", 0) - m0.get("sockreap_scan_cpu_seconds_total", 0)
        wall = m1.get("sockreap_scan_duration_seconds_sum", 0) - m0.get("sockreap_scan_duration_seconds_sum", 0)
        try:
            t0, c0 = open(os.path.join(d, "t0")).read().split()
            t1, c1 = open(os.path.join(d, "t1")).read().split()
            proc_cpu = (int(c1) - int(c0)) / 1e9
        except (OSError, ValueError):
            proc_cpu = None
        status = {}
        try:
            for line in open(os.path.join(d, "status")):
                k, _, v = line.partition(":")
                status[k] = v.strip()
        except OSError:
            pass
        kib = lambda k: int(status[k].split()[0]) if k in status else None
        socks = next((m for m in load_json(os.path.join(d, "maps.json")) or [] if m["name"] == "sr_socks"), {})
        wd = None
        try:
            for line in open(os.path.join(d, "watchdog.out")):
                if line.startswith("{"):
                    wd = json.loads(line)
        except (OSError, ValueError):
            pass
        # Per-scan CPU from the window's samples (one line per scan seen).
        samples = []
        try:
            for line in open(os.path.join(d, "scans.txt")):
                a, b = line.split()
                samples.append((int(float(a)), float(b)))
        except (OSError, ValueError):
            pass
        per_scan = [(b2 - b1) * 1e3 for (a1, b1), (a2, b2) in zip(samples, samples[1:]) if a2 - a1 == 1]
        if len(samples) >= 2 and samples[-1][0] > samples[0][0]:
            scans = samples[-1][0] - samples[0][0]
            cpu = samples[-1][1] - samples[0][1]
        tracked = m1.get("sockreap_sockets_tracked")
        row = {
            "connections": n, "send_path_option": path,
            "send_path": ready_field(os.path.join(d, "daemon.log"), "send_path"),
            "sockets_tracked": tracked, "scans": scans,
            "scan_cpu_ms": cpu / scans * 1e3 if scans else None,
            "scan_cpu_median_ms": median(per_scan), "scan_cpu_max_ms": max(per_scan, default=None),
            "scan_cpu_per_scan_ms": [round(x, 3) for x in per_scan],
            "scan_wall_ms": wall / scans * 1e3 if scans else None,
            "process_cpu_ms_per_scan": proc_cpu / scans * 1e3 if scans and proc_cpu is not None else None,
            "scan_cpu_ns_per_tracked_socket": cpu / scans * 1e9 / tracked if scans and tracked else None,
            "rss_mib": kib("VmRSS") / 1024 if kib("VmRSS") else None,
            "rss_hwm_mib": kib("VmHWM") / 1024 if kib("VmHWM") else None,
            "map_capacity": socks.get("max_entries"),
            "map_memlock_mib": socks["bytes_memlock"] / 2**20 if socks.get("bytes_memlock") else None,
            "watchdog": wd,
        }
        if wd and row["scan_cpu_ms"]:
            row["watchdog_cpu_ms_per_scan"] = wd["cpu_s_per_scan"] * 1e3
            row["watchdog_over_sockreap"] = wd["cpu_s_per_scan"] * 1e3 / row["scan_cpu_ms"]
            if row["process_cpu_ms_per_scan"]:
                row["watchdog_over_sockreap_process"] = wd["cpu_s_per_scan"] * 1e3 / row["process_cpu_ms_per_scan"]
        out.append(row)
    return out


def mapscan(data):
    rows = []
    try:
        for line in open(os.path.join(data, "mapscan.jsonl")):
            if line.startswith("{"):
                rows.append(json.loads(line))
    except (OSError, ValueError):
        pass
    return rows


# --- 5. detection ----------------------------------------------------------------


def iso_ts(s):
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def detection(data):
    d = os.path.join(data, "detect")
    if not os.path.exists(os.path.join(d, "daemon.log")):
        return None
    try:
        grace, interval = map(float, open(os.path.join(d, "config")).read().split())
        freeze = [float(x) for x in open(os.path.join(d, "freeze_at")).read().split()]
    except (OSError, ValueError):
        return None
    stall, reap = {}, {}
    for line in open(os.path.join(d, "daemon.log")):
        try:
            ev = json.loads(line)
        except ValueError:
            continue
        port = str(ev.get("laddr", "")).rsplit(":", 1)[-1]
        if ev.get("event") == "stall" and port not in stall:
            stall[port] = ev
        if ev.get("event") == "reap" and ev.get("result") == "ok" and port not in reap:
            reap[port] = ev
    target = grace + interval + 0.05
    rows, errors, results = [], 0, {}
    for path in sorted(glob.glob(os.path.join(d, "srv-*.out"))):
        port = None
        last = None
        for line in open(path):
            m = re.match(r"listening port=(\d+)", line)
            if m:
                port = m.group(1)
            if line.startswith("result="):
                last = dict(kv.split("=", 1) for kv in line.split())
        if not last:
            results["none"] = results.get("none", 0) + 1
            continue
        results[last["result"]] = results.get(last["result"], 0) + 1
        if last["result"] != "error":
            continue
        errors += 1
        at = float(last["at"])
        row = {"port": port, "freeze_to_error_s": at - freeze[0]}
        r = reap.get(port)
        if r:
            r_ts = iso_ts(r["ts"])
            onset = r_ts - float(r["stalled_s"])
            s = stall.get(port)
            if s:
                onset = min(onset, iso_ts(s["ts"]) - float(s["stalled_s"]))
            row.update({"onset_to_shutdown_s": r_ts - onset, "shutdown_to_error_s": at - r_ts,
                        "onset_to_error_s": at - onset, "stalled_s_at_reap": float(r["stalled_s"])})
        rows.append(row)
    dist = lambda k: {"p50": percentile([r[k] for r in rows if k in r], 50),
                      "p99": percentile([r[k] for r in rows if k in r], 99),
                      "max": max([r[k] for r in rows if k in r], default=None),
                      "min": min([r[k] for r in rows if k in r], default=None),
                      "n": len([r for r in rows if k in r])}
    within = [r for r in rows if r.get("onset_to_error_s") is not None and r["onset_to_error_s"] <= target]
    pairs = len(glob.glob(os.path.join(d, "srv-*.out")))
    return {"pairs": pairs, "grace_s": grace, "interval_s": interval, "target_s": target,
            "sender_results": results, "reaped_ok": len(reap),
            "onset_to_shutdown_s": dist("onset_to_shutdown_s"),
            "shutdown_to_error_s": dist("shutdown_to_error_s"),
            "onset_to_error_s": dist("onset_to_error_s"),
            "freeze_to_error_s": dist("freeze_to_error_s"),
            "within_target": len(within), "freeze_spread_s": freeze[-1] - freeze[0]}


# --- 6. sidecars ------------------------------------------------------------------


SIDECAR_KS = (1, 4, 8)
SIDECAR_ARMS = [("untargeted", k) for k in SIDECAR_KS] + [("targeted", k) for k in SIDECAR_KS] + [("ds", 1)]
SIDECAR_BOOTSTRAP = 2000
# The unit of the ratios: a minimal tracker on the same two hooks, one hash
# update per event on each (refprogs.bpf.c); and what attaching an empty
# program to each hook costs.
TRACKER_REFS = ("ref_probe_hash", "ref_send_hash")
EMPTY_REFS = ("ref_probe_empty", "ref_send_empty")


def sidecar_window(costs):
    """One window's figures from window_costs() (keys NAME:LABEL), or None.

    Events: the run count of the empty reference on tcp_probe. Every program
    on a tracepoint runs for every segment the machine receives (the
    namespace filter is inside each program), so any of them counts the
    same events; the references' one copy stays attached through every arm
    and every window while daemons come and go, so it counts them the same
    way in every arm. The daemons' sr_on_probe counts are kept as a check.
    """
    progs = {}
    for key, (cnt, ns) in costs.items():
        name, _, label = key.rpartition(":")
        progs[(name, label)] = (cnt, ns)
    events = progs.get(("ref_probe_empty", "ref"), (0, 0))[0]
    probes = [cnt for (name, label), (cnt, _) in progs.items() if name == "sr_on_probe"]
    if events <= 0:
        events = max(probes, default=0)
    if events <= 0:
        return None
    # Our tracing programs only: sr_walk and sr_dump (iter/tcp) are scan work.
    ours = {k: v for k, v in progs.items() if k[0].startswith("sr_on_") and k[1] != "ref"}
    targeted_ns = sum(ns for (_, label), (_, ns) in ours.items() if label in ("hot", "ds"))
    untargeted_ns = sum(ns for (_, label), (_, ns) in ours.items() if label.startswith("sc"))
    untargeted_daemons = len({label for _, label in ours if label.startswith("sc")})
    tracker_ns = sum(progs.get((n, "ref"), (0, 0))[1] for n in TRACKER_REFS)
    empty_ns = sum(progs.get((n, "ref"), (0, 0))[1] for n in EMPTY_REFS)
    return {"events": events, "ours_ns": targeted_ns + untargeted_ns, "targeted_ns": targeted_ns,
            "untargeted_ns": untargeted_ns, "untargeted_daemons": untargeted_daemons,
            "tracker_ns": tracker_ns, "empty_ns": empty_ns,
            "probe_count_disagreement": max((abs(c - events) / events for c in probes), default=0)}


def sidecar_break_even(t, u, d):
    """Smallest N >= 1 with t + (N - 1) u > d: N sidecars, one of them
    tracking the segment's socket, against one DaemonSet tracking it."""
    if None in (t, u, d):
        return None
    if t > d:
        return 1
    if u <= 0:
        return None
    return int((d - t) // u) + 2


def sidecar_break_even_untargeted(u, d):
    """Smallest N >= 1 with N u > d: a socket no sidecar tracks (a pod
    without one, the host) against a DaemonSet that tracks every socket."""
    if None in (u, d) or u <= 0:
        return None
    return int(d // u) + 1


def sidecar_model(med):
    """t, u, d from the per-arm medians {arm: value}: u is the slope through
    the origin of the untargeted arms' cost over K (least squares)."""
    ks = [k for k in SIDECAR_KS if med.get(("untargeted", k)) is not None]
    u = (sum(k * med[("untargeted", k)] for k in ks) / sum(k * k for k in ks)) if ks else None
    return med.get(("targeted", 1)), u, med.get(("ds", 1))


def sidecars(data):
    d = os.path.join(data, "sidecars")
    path = os.path.join(d, "runs.tsv")
    if not os.path.exists(path):
        return None
    arms, foreign, bps = {}, set(), {}
    with open(path) as f:
        next(f)
        for line in f:
            arm, k, rnd, w, nforeign, base = line.rstrip("\n").split("\t")
            c = window_costs(load_json(os.path.join(d, base + ".before.json")),
                             load_json(os.path.join(d, base + ".after.json")))
            win = sidecar_window(c)
            if not win:
                continue
            doc = load_json(os.path.join(d, base + ".iperf.json"))
            if doc and "end" in doc and "sum_received" in doc["end"]:
                bps.setdefault((arm, int(k)), []).append(iperf_figures(doc)["bps"])
            win["foreign"] = int(nforeign)
            foreign.add(int(nforeign))
            arms.setdefault((arm, int(k)), []).append(win)
    # Per window: ns per event, and ratios to the references of the same
    # window (the events cancel: every program ran for the same ones).
    per_event = lambda ws, f: [f(w) / w["events"] for w in ws]
    ratio = lambda ws, f, ref: [f(w) / w[ref] for w in ws if w[ref] > 0]
    out = {"arms": {}, "foreign_sr_programs": sorted(foreign),
           "events": "run_cnt of ref_probe_empty (one copy attached through every arm): every tcp_probe event "
                     "of the machine, iperf3's segments almost all of them",
           "cost": "sum of run_time_ns of every daemon's sr_on_* programs over the events; x_tracker: over "
                   "ref_probe_hash + ref_send_hash in the same window"}
    x_tracker = {}
    for key in SIDECAR_ARMS:
        ws = arms.get(key)
        if not ws:
            continue
        arm, k = key
        x_tracker[key] = ratio(ws, lambda w: w["ours_ns"], "tracker_ns")
        res = {"windows": len(ws), "k": k,
               "ns_per_event": summary(per_event(ws, lambda w: w["ours_ns"])),
               "x_tracker": summary(x_tracker[key]),
               "tracker_ns_per_event": summary(per_event(ws, lambda w: w["tracker_ns"])),
               "empty_ns_per_event": summary(per_event(ws, lambda w: w["empty_ns"])),
               "events_per_window": median([w["events"] for w in ws]),
               "throughput_bps": median(bps.get(key, [])),
               "probe_count_disagreement_max": max(w["probe_count_disagreement"] for w in ws)}
        if arm != "ds" and any(w["untargeted_daemons"] for w in ws):
            unt = [w for w in ws if w["untargeted_daemons"]]
            res["untargeted_per_daemon_ns_per_event"] = summary(
                per_event(unt, lambda w: w["untargeted_ns"] / w["untargeted_daemons"]))
            res["untargeted_per_daemon_x_empty"] = summary(
                ratio(unt, lambda w: w["untargeted_ns"] / w["untargeted_daemons"], "empty_ns"))
        if arm != "untargeted":
            res["tracking_daemon_ns_per_event"] = summary(per_event(ws, lambda w: w["targeted_ns"]))
        out["arms"][f"{arm}{k}"] = res
    ns_med = {key: out["arms"][f"{key[0]}{key[1]}"]["ns_per_event"]["median"] for key in x_tracker}
    x_med = {key: median(v) for key, v in x_tracker.items()}
    # The break-even in reference units, which hold across the arms (measured
    # one after the other) and across days; in ns beside it.
    model = {}
    for unit, med in (("x_tracker", x_med), ("ns_per_event", ns_med)):
        t, u, dd = sidecar_model(med)
        model[unit] = {"targeted_sidecar_t": t, "untargeted_daemon_u": u, "daemonset_d": dd,
                       "break_even_sidecar_pods": sidecar_break_even(t, u, dd),
                       "break_even_other_sockets": sidecar_break_even_untargeted(u, dd),
                       "node_over_daemonset": {str(n): (t + (n - 1) * u) / dd if None not in (t, u, dd) else None
                                               for n in SIDECAR_KS},
                       "measured_targeted_over_daemonset": {
                           str(k): med[("targeted", k)] / dd for k in SIDECAR_KS
                           if med.get(("targeted", k)) is not None and dd}}
    # Bootstrap: windows resampled within each arm, the model and the
    # break-even recomputed each time.
    if all(len(v) >= 2 for v in x_tracker.values()) and len(x_tracker) == len(SIDECAR_ARMS):
        rnd = random.Random(21)
        pods, other = [], []
        for _ in range(SIDECAR_BOOTSTRAP):
            med = {key: median([rnd.choice(v) for _ in v]) for key, v in x_tracker.items()}
            t, u, dd = sidecar_model(med)
            pods.append(sidecar_break_even(t, u, dd))
            other.append(sidecar_break_even_untargeted(u, dd))
        ci = lambda v: [percentile([x for x in v if x is not None], 2.5),
                        percentile([x for x in v if x is not None], 97.5)] if None not in v else None
        model["x_tracker"]["break_even_sidecar_pods_ci95"] = ci(pods)
        model["x_tracker"]["break_even_other_sockets_ci95"] = ci(other)
    out["model"] = model
    return out


# --- targets and table -------------------------------------------------------------


def fmt(v, spec=".3f", none="-"):
    return none if v is None else format(v, spec)


def storms(data):
    """The storm test's own lines (tests/integration/test_storm.sh) at bench size."""
    out = []
    try:
        text = open(os.path.join(data, "storm.out")).read()
    except OSError:
        return out
    for m in re.finditer(r"^\s*(ok|FAIL)\s+(\w+): all (\d+) sockets of (\d+) owner\(s\) reaped \(got (\d+)\)", text, re.M):
        lat = re.search(rf"^\s*(ok|FAIL)\s+{m.group(2)}: the last one ([0-9.]+)s after all queues were full "
                        rf"\(<= grace\+interval\+(?:1|budget) = ([0-9.]+)\)", text, re.M)
        out.append({"name": m.group(2), "count": int(m.group(3)), "owners": int(m.group(4)),
                    "reaped": int(m.group(5)), "last_s": float(lat.group(2)) if lat else None,
                    "limit_s": float(lat.group(3)) if lat else None,
                    "ok": m.group(1) == "ok" and bool(lat) and lat.group(1) == "ok"})
    return out


def targets(hot, stats, sc, det, storms=None):
    t = []
    for kind in ("p1", "p8"):
        for arm in ("idle", "full"):
            s = hot.get(kind, {}).get(arm, {})
            lo = (s.get("ci95") or [None])[0]
            med = s.get("median")
            met = None if med is None or lo is None else med >= 0.99 and lo >= 0.98
            t.append({"target": f"hot path {kind} {arm}: ratio >= 0.99, 95% lower bound >= 0.98",
                      "value": f"{fmt(med, '.4f')} [{fmt(lo, '.4f')}, {fmt((s.get('ci95') or [None, None])[1], '.4f')}]",
                      "met": met,
                      "margin": None if med is None or lo is None else
                      f"median {med - 0.99:+.4f}, lower bound {lo - 0.98:+.4f}"})
    for kind in ("p1", "p8"):
        for ours, (_, onehash) in REFERENCES.items():
            v = stats.get(kind, {}).get("versus_references", {}).get(f"{ours}/{onehash}")
            if not v:
                continue
            t.append({"target": f"{ours} ({kind} load) <= {REFERENCE_GOAL}x {onehash}, same run",
                      "value": f"{fmt(v['median'], '.2f')}x [{fmt(v['ci95'][0], '.2f')}, {fmt(v['ci95'][1], '.2f')}]",
                      "met": v["median"] <= REFERENCE_GOAL and (v["ci95"][1] or 99) <= REFERENCE_GOAL,
                      "margin": f"upper bound {REFERENCE_GOAL - (v['ci95'][1] or 99):+.2f}"})
    big = next((r for r in sc if r["connections"] == 50000 and r["send_path_option"] == "auto"), None)
    if big:
        cpu, worst, rss = big.get("scan_cpu_ms"), big.get("scan_cpu_max_ms"), big.get("rss_mib")
        t.append({"target": "scan CPU <= 20 ms at 50,000 connections (every scan)",
                  "value": f"worst {fmt(worst, '.2f')} ms, median {fmt(big.get('scan_cpu_median_ms'), '.2f')} ms, "
                           f"mean {fmt(cpu, '.2f')} ms",
                  "met": None if worst is None else worst <= 20,
                  "margin": None if worst is None else f"worst {20 - worst:+.2f} ms ({worst / 20:.2f}x the target)"})
        t.append({"target": "RSS <= 16 MiB at 50,000 connections", "value": f"{fmt(rss, '.1f')} MiB",
                  "met": rss is not None and rss <= 16,
                  "margin": None if rss is None else f"{16 - rss:+.1f} MiB ({rss / 16:.2f}x the target)"})
    else:
        t.append({"target": "scan CPU <= 20 ms and RSS <= 16 MiB at 50,000 connections",
                  "value": "not measured in this mode", "met": None, "margin": None})
    for path in ("fentry", "sweep"):
        row = next((r for r in sc if r["connections"] == 50000 and r["send_path_option"] == path), None)
        if not row:
            continue
        mean, worst = row.get("scan_cpu_ms"), row.get("scan_cpu_max_ms")
        # Every scan, the ones that take a step of the backstop walk included.
        t.append({"target": f"--send-path {path} (pre-6.16 kernels): scan CPU <= 5 ms per scan at 50,000 connections"
                            " (every scan, the backstop walk's steps included)",
                  "value": f"worst {fmt(worst, '.2f')} ms, median {fmt(row.get('scan_cpu_median_ms'), '.2f')} ms, "
                           f"mean {fmt(mean, '.2f')} ms",
                  "met": None if worst is None else worst <= 5,
                  "margin": None if worst is None else f"worst {5 - worst:+.2f} ms"})
    for st in storms or []:
        t.append({"target": f"storm {st['name']}: {st['count']} sockets reaped within grace + interval + 1 s",
                  "value": f"{st['reaped']} reaped, the last {fmt(st['last_s'], '.2f')} s after all queues were full",
                  "met": st["ok"], "margin": f"limit {fmt(st['limit_s'], '.2f')} s"})
    ten = next((r for r in sc if r["connections"] == 10000 and r["send_path_option"] == "auto"), None)
    ratio = ten.get("watchdog_over_sockreap") if ten else None
    t.append({"target": "sockreap >= 20x cheaper than the watchdog at 10,000 connections",
              "value": f"{fmt(ratio, '.1f')}x", "met": None if ratio is None else ratio >= 20,
              "margin": None if ratio is None else f"{ratio / 20:.2f}x the target"})
    if det:
        mx = det["onset_to_error_s"]["max"]
        all_in = det["within_target"] == det["pairs"]
        t.append({"target": f"every detection within grace + interval + 50 ms ({det['target_s']:.2f} s)",
                  "value": f"{det['within_target']} of {det['pairs']}; max {fmt(mx)} s",
                  "met": all_in,
                  "margin": None if mx is None else f"{(det['target_s'] - mx) * 1e3:+.0f} ms at the max"})
    return t


def print_table(r):
    m = r["machine"]
    print()
    print(f"sockreap benchmark ({r['mode']} mode) - {m.get('nproc')} cores, Linux {m.get('kernel')}, "
          f"{m.get('cpu')}; took {r['durations_s'].get('total', 0):.0f} s")
    b = r["sockreap_build"]
    print(f"daemon: git {b.get('git_head')} with {b.get('git_dirty_files')} uncommitted files in bpf/ user/ include/,"
          f" binary sha256 {b.get('sockreap_sha256')}")
    hot = r["hot_path"]
    print(f"\n1. Hot path: iperf3 loopback, ratio arm/none, median of adjacent ABBA pairs [bootstrap 95%]"
          f" (other sr_* programs loaded by concurrent tests: {hot.get('foreign_sr_programs')})")
    print(f"   {'load':<24}{'none':>12}{'attached/none':>30}{'full daemon/none':>30}")
    for kind, label in (("p1", "1 stream, Gbit/s"), ("p8", "8 streams, Gbit/s"),
                        ("rate", "fixed rate, CPU-s/GB")):
        h = hot.get(kind, {})
        a = h.get("absolute", {}).get("none", {})
        scale_ = 1e-9 if kind != "rate" else 1
        cell = lambda arm: (f"{fmt(h.get(arm, {}).get('median'), '.4f')} "
                            f"[{fmt((h.get(arm, {}).get('ci95') or [None])[0], '.3f')},"
                            f"{fmt((h.get(arm, {}).get('ci95') or [None, None])[1], '.3f')}] "
                            f"n={h.get(arm, {}).get('n', 0)}")
        none = a.get("median")
        print(f"   {label:<24}{fmt(none * scale_ if none else None, '.2f'):>12}{cell('idle'):>30}{cell('full'):>30}")
    same = "; ".join(
        f"{kind} {arm} {fmt(hot.get(kind, {}).get(arm, {}).get('same_foreign_programs', {}).get('median'), '.4f')}"
        f" (n={hot.get(kind, {}).get(arm, {}).get('same_foreign_programs', {}).get('n', 0)})"
        for kind in ("p1", "p8", "rate") for arm in ("idle", "full"))
    print(f"   only pairs whose two runs saw the same foreign programs: {same}")
    st = r["bpf_programs"]
    print("\n2. Per-event cost (kernel.bpf_stats_enabled, under iperf3 load, full daemon), next to the reference"
          " programs on the same tracepoints in the same windows (ref_*_empty: nothing; ref_*_hash: one hash update)")
    print(f"   {'program':<18}{'1 stream ns/ev':>16}{'events/s':>12}{'8 streams ns/ev':>17}{'events/s':>12}")
    names = sorted({n for k in st.values() for n in k.get("programs", {})})
    for name in names:
        a = st.get("p1", {}).get("programs", {}).get(name, {})
        b = st.get("p8", {}).get("programs", {}).get(name, {})
        print(f"   {name:<18}{fmt(a.get('ns_per_event'), '.1f'):>16}{fmt(a.get('events_per_s'), '.0f'):>12}"
              f"{fmt(b.get('ns_per_event'), '.1f'):>17}{fmt(b.get('events_per_s'), '.0f'):>12}")
    print("   ours / reference per window, median [bootstrap 95%]: against the mean of the copy run before ours"
          " and the one run after, then each")
    cell = lambda v: f"{fmt(v['median'], '.2f')} [{fmt(v['ci95'][0], '.2f')}, {fmt(v['ci95'][1], '.2f')}]" if v else "-"
    for kind in ("p1", "p8"):
        vr = st.get(kind, {}).get("versus_references", {})
        for ours, pair in REFERENCES.items():
            for ref in pair:
                key = f"{ours}/{ref}"
                if key in vr:
                    print(f"   {kind} {key:<30} {cell(vr[key]):<20} first {cell(vr.get(key + ':first')):<20}"
                          f" last {cell(vr.get(key + ':last'))} (n={vr[key]['n']})")
    for kind in ("p1", "p8"):
        k = st.get(kind)
        if k:
            print(f"   {kind}: BPF {fmt(k['bpf_ns_per_gb'] / 1e6 if k['bpf_ns_per_gb'] else None, '.2f')} ms of CPU per GB"
                  f" = {fmt(k['bpf_share_of_cpu'] * 100 if k['bpf_share_of_cpu'] is not None else None, '.2f')}% of"
                  f" iperf3's CPU -> predicted ratio {fmt(k['predicted_ratio'], '.4f')},"
                  f" measured (attached) {fmt(k['measured_ratio_idle'], '.4f')}")
    for name in ("hot", "scan"):
        p = r["profiles"].get(name)
        if p:
            top = ", ".join(f"{e['symbol'][:48]} {e['pct']}%" for e in p["top"][:5])
            print(f"   profile {name}: sr_* programs {p['sr_programs_pct']}%, tracepoint dispatch "
                  f"{p['tracepoint_dispatch_pct']}%, map code {p['bpf_map_pct']}%; top: {top}")
    print("\n3./4. Scale: N established loopback connections (2 tracked sockets each); the watchdog at the same N")
    print("   scan CPU per scan (ms): median / worst / mean over a window of 20 scans (10 s; on the sweep path it"
          " holds one backstop walk, in steps); proc = every thread of the daemon, per scan")
    print(f"   {'path':<8}{'N':>7}{'tracked':>9}{'median':>9}{'worst':>9}{'mean':>9}{'ns/socket':>11}{'proc':>8}{'RSS MiB':>9}"
          f"{'map MiB':>9}{'watchdog ms':>13}{'watchdog/sockreap':>19}")
    for s in r["scale"]:
        print(f"   {(s['send_path'] or s['send_path_option'])[:8]:<8}{s['connections']:>7}{fmt(s['sockets_tracked'], '.0f'):>9}{fmt(s['scan_cpu_median_ms'], '.3f'):>9}"
              f"{fmt(s['scan_cpu_max_ms'], '.3f'):>9}{fmt(s['scan_cpu_ms'], '.3f'):>9}"
              f"{fmt(s['scan_cpu_ns_per_tracked_socket'], '.0f'):>11}{fmt(s['process_cpu_ms_per_scan'], '.3f'):>8}"
              f"{fmt(s['rss_mib'], '.1f'):>9}{fmt(s['map_memlock_mib'], '.1f'):>9}"
              f"{fmt(s.get('watchdog_cpu_ms_per_scan'), '.1f'):>13}{fmt(s.get('watchdog_over_sockreap'), '.1f'):>18}x")
    if r["mapscan"]:
        print("   full batched map read (bench/mapscan, bpf_map_lookup_batch, batch 4096):")
        for m in r["mapscan"]:
            print(f"   {m['entries']:>9} entries: {m['cpu_ns_per_entry']:.0f} ns/entry CPU "
                  f"({m['read_cpu_s'] * 1e3:.1f} ms a read), map {m['memlock_bytes'] / 2**20:.1f} MiB"
                  + (f"; unbatched {m['unbatched_cpu_ns_per_entry']:.0f} ns/entry"
                     if m["unbatched_cpu_ns_per_entry"] >= 0 else ""))
    if r["storms"]:
        print("\n   reap storms (the storm test at bench size; grace 2 s, interval 0.25 s):")
        for st in r["storms"]:
            print(f"   {st['name']:<6} {st['count']} sockets, {st['owners']} owner(s): {st['reaped']} reaped, the last "
                  f"{fmt(st['last_s'], '.2f')} s after all queues were full (limit {fmt(st['limit_s'], '.2f')} s)")
    d = r["detection"]
    if d:
        print(f"\n5. Detection: {d['pairs']} readers frozen at once, grace {d['grace_s']:g} s, interval "
              f"{d['interval_s']:g} s (target {d['target_s']:.2f} s); senders: {d['sender_results']}")
        for k, label in (("onset_to_shutdown_s", "onset -> shutdown"), ("shutdown_to_error_s", "shutdown -> sender error"),
                         ("onset_to_error_s", "onset -> sender error"), ("freeze_to_error_s", "SIGSTOP -> sender error")):
            x = d[k]
            print(f"   {label:<26} p50 {fmt(x['p50'])} s  p99 {fmt(x['p99'])} s  max {fmt(x['max'])} s  (n={x['n']})")
    sc = r.get("sidecars")
    if sc and sc["arms"]:
        a = sc["arms"]
        cell = lambda v, spec=".2f": (f"{fmt(v['median'], spec)} [{fmt(v['ci95'][0], spec)}, {fmt(v['ci95'][1], spec)}]"
                                      if v else "-")
        print("\n6. Sidecars (issue 21): iperf3 (1 stream) in a namespace of its own; per received segment (tcp_probe"
              " event), the run_time_ns of every daemon's sr_on_* programs summed; x ref = over a one-hash tracker"
              " on the same two hooks (ref_probe_hash + ref_send_hash, same windows); median [bootstrap 95%]")
        print(f"   {'K':<3}{'untargeted ns/ev':>24}{'x ref':>20}{'per daemon x empty':>22}"
              f"{'targeted ns/ev':>24}{'x ref':>20}{'n':>4}")
        for k in SIDECAR_KS:
            u, t = a.get(f"untargeted{k}", {}), a.get(f"targeted{k}", {})
            print(f"   {k:<3}{cell(u.get('ns_per_event'), '.0f'):>24}{cell(u.get('x_tracker')):>20}"
                  f"{cell(u.get('untargeted_per_daemon_x_empty')):>22}"
                  f"{cell(t.get('ns_per_event'), '.0f'):>24}{cell(t.get('x_tracker')):>20}"
                  f"{min(u.get('windows', 0), t.get('windows', 0)):>4}")
        ds = a.get("ds1", {})
        print(f"   DaemonSet (one --all-netns daemon tracking the socket): {cell(ds.get('ns_per_event'), '.0f')} ns/event,"
              f" x ref {cell(ds.get('x_tracker'))} (n={ds.get('windows', 0)}); the reference itself"
              f" {fmt(ds.get('tracker_ns_per_event', {}).get('median'), '.0f')} ns/event")
        refs = ", ".join(f"{name} {fmt(a[name]['tracker_ns_per_event']['median'], '.0f')}"
                         for name in [f"{arm}{k}" for arm, k in SIDECAR_ARMS] if name in a)
        print(f"   the reference's own ns/event per arm (what x ref divides by): {refs}")
        m = sc["model"].get("x_tracker", {})
        mn = sc["model"].get("ns_per_event", {})
        print(f"   model (x ref): one tracking sidecar T = {fmt(m.get('targeted_sidecar_t'), '.3f')}, each other daemon"
              f" U = {fmt(m.get('untargeted_daemon_u'), '.3f')} (slope over K), one DaemonSet D ="
              f" {fmt(m.get('daemonset_d'), '.3f')}; in ns: {fmt(mn.get('targeted_sidecar_t'), '.0f')},"
              f" {fmt(mn.get('untargeted_daemon_u'), '.1f')}, {fmt(mn.get('daemonset_d'), '.0f')}")
        node = ", ".join(f"N={n}: {fmt(v, '.2f')}x" for n, v in m.get("node_over_daemonset", {}).items())
        meas = ", ".join(f"K={k}: {fmt(v, '.2f')}x" for k, v in m.get("measured_targeted_over_daemonset", {}).items())
        print(f"   a segment of a sidecar pod, N sidecars per node, T + (N-1)U over D: {node} (measured, targeted K"
              f" over D: {meas})")
        ci = m.get("break_even_sidecar_pods_ci95") or [None, None]
        print(f"   break-even: N = {m.get('break_even_sidecar_pods')} sidecars per node [bootstrap 95%:"
              f" {ci[0]}, {ci[1]}]: from that many, a sidecar pod's segment costs more than under one DaemonSet"
              f" (in ns: {mn.get('break_even_sidecar_pods')})")
        ci = m.get("break_even_other_sockets_ci95") or [None, None]
        print(f"   a socket no sidecar tracks (a pod without one, the host), N U against D: more from"
              f" N = {m.get('break_even_other_sockets')} [{ci[0]}, {ci[1]}] (in ns: {mn.get('break_even_other_sockets')})")
        dis = max((v.get("probe_count_disagreement_max", 0) for v in a.values()), default=0)
        print(f"   events per window (median, K=1 untargeted): {fmt(a.get('untargeted1', {}).get('events_per_window'), '.0f')};"
              f" daemons' sr_on_probe counts off the reference's by at most {dis * 100:.3f}%;"
              f" foreign sr_* programs: {sc['foreign_sr_programs']}")
    print("\nTargets")
    for t in r["targets"]:
        mark = {True: "MET ", False: "MISS", None: "n/a "}[t["met"]]
        print(f"   {mark} {t['target']}: {t['value']}" + (f" ({t['margin']})" if t["margin"] else ""))
    print()


def cmd_report(data, out):
    env = read_env(os.path.join(data, "meta.env"))
    dur = {k[len("phase_"):-2]: float(v) for k, v in env.items() if k.startswith("phase_")}
    if "end" in env:
        dur["total"] = float(env["end"]) - float(env["start"])
    hot = hot_path(data)
    stats = bpf_stats(data, hot)
    sc = scale(data)
    det = detection(data)
    r = {
        "mode": env.get("mode"),
        "machine": {k: env.get(k) for k in ("nproc", "kernel", "cpu", "mem_mib", "iperf3")},
        "sockreap_build": {k: env.get(k) for k in ("sockreap", "sockreap_sha256", "git_head", "git_dirty_files")},
        "durations_s": dur,
        "settings": {"t_run_s": env.get("t_run"), "rounds": env.get("rounds"),
                     "fixed_rate_bps": env.get("fixed_rate_bps")},
        "hot_path": hot,
        "bpf_programs": stats,
        "profiles": {"hot": profile(os.path.join(data, "profile", "hot.txt")),
                     "scan": profile(os.path.join(data, "profile", "scan.txt"))},
        "scale": sc,
        "mapscan": mapscan(data),
        "detection": det,
    }
    r["storms"] = storms(data)
    r["sidecars"] = sidecars(data)
    r["targets"] = targets(hot, stats, sc, det, r["storms"])
    with open(out, "w") as f:
        json.dump(r, f, indent=1)
    print_table(r)
    print(f"written: {out}")


def main(argv):
    if len(argv) >= 3 and argv[1] == "progs":
        cmd_progs(argv[2:])
    elif len(argv) == 3 and argv[1] == "maps":
        cmd_maps(int(argv[2]))
    elif len(argv) == 4 and argv[1] == "report":
        cmd_report(argv[2], argv[3])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
