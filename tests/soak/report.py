#!/usr/bin/env python3
"""report.py - the mixed soak's verdict: every connection's fate against its label.

Inputs: the fates soakmix wrote (one JSON line per connection, churn's
completions as a count), the reaping daemons' logs, the dry-run witness's log
and the daemons' metrics files. A connection's fate comes from the
application side (a live one completed its exchange byte-exact; a dead one's
blocked end saw an error); the daemons' reap lines are mapped onto the
connections by their ports and time and cross-checked against it:

  false reap   a live connection the application saw shut, or that a reaping
               daemon logged result=ok for, or that the witness logged
               result=dry_run for (it would have been shut)
  (and a reap of a dead kind must carry that kind's cause=; a frozen reader
  whose kernel dropped segments it had advertised room for, the reap line
  showing an open window and retransmissions, is rightly no_ack)
  miss         a dead connection not shut by the end, or shut later than its
               rule's limit (timeout + interval + 1 s, scaled) after its stall
               began (the later of the moment the harness killed it and the
               onset the daemon's reap line gives), or shut with no reap line
               of a daemon to show for it

  harness      a slow reader (trickle, sendfile) whose turns came further apart
               than half a grace (--grace): its window may have stayed shut
               for a grace, so it was not the live reader its label says

Prints the confusion matrix (kind x fate), the totals, the worst detection
latency against its limit, the longest gap of a slow reader; --json writes
the same. Exit 1 on any false reap, miss, harness lapse, or inconsistency
between the application's and the daemons' accounts.
"""
import argparse
import collections
import json
import re
import sys

FATES = ["complete", "shut", "reaped", "late", "missed", "harness"]
# The cause= a reap of each dead kind must carry: what the kernel's own state
# says (a frozen reader keeps answering window probes with a zero window; a
# blackholed or vanished peer answers nothing).
CAUSES = {"frozen_reader": "zero_window", "storm": "zero_window", "blackholed_peer": "no_ack",
          "zero_window_vanished": "no_ack", "silent_server": "silent", "peer_gone": "data_unread"}


def parse_logfmt(line):
    out = {}
    for m in re.finditer(r'(\w+)=("(?:[^"\\]|\\.)*"|\S*)', line):
        v = m.group(2)
        out[m.group(1)] = v[1:-1] if v.startswith('"') else v
    return out


def port_of(addr):
    return int(addr.rsplit(":", 1)[1]) if addr and ":" in addr else None


def ts_of(iso):
    # 2026-12-02T05:54:12.204Z -> unix seconds (UTC)
    import datetime
    d = datetime.datetime.strptime(iso.rstrip("Z"), "%Y-%m-%dT%H:%M:%S.%f")
    return d.replace(tzinfo=datetime.timezone.utc).timestamp()


def load_lines(paths, events):
    out = []
    for p in paths:
        with open(p) as f:
            for line in f:
                if "event=" not in line:
                    continue
                kv = parse_logfmt(line)
                if kv.get("event") in events:
                    kv["_file"] = p
                    kv["_ts"] = ts_of(kv["ts"]) if "ts" in kv else 0
                    out.append(kv)
    return out


def metric_sum(paths, name, labels):
    total = 0.0
    for p in paths:
        with open(p) as f:
            for line in f:
                if not line.startswith(name + "{") and not line.startswith(name + " "):
                    continue
                if all(f'{k}="{v}"' in line for k, v in labels.items()):
                    total += float(line.split()[-1])
    return total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fates", nargs="+", required=True)
    ap.add_argument("--reaper", action="append", default=[])
    ap.add_argument("--witness", action="append", default=[])
    ap.add_argument("--metrics", action="append", default=[])
    ap.add_argument("--grace", type=float, required=True)
    ap.add_argument("--json")
    a = ap.parse_args()

    conns, churn_ok, churn_failed = [], 0, 0
    for p in a.fates:
        with open(p) as f:
            for line in f:
                r = json.loads(line)
                if "summary" in r:
                    churn_ok += r["churn_complete"]
                    churn_failed += r["churn_failed"]
                else:
                    conns.append(r)

    # Which connection a daemon line is about: same port pair, within its life.
    by_ports = collections.defaultdict(list)
    for c in conns:
        by_ports[frozenset((c["sport"], c["cport"]))].append(c)

    def find(kv):
        cands = by_ports.get(frozenset((port_of(kv.get("laddr")), port_of(kv.get("raddr")))), [])
        t = kv["_ts"]
        for c in cands:
            if c["born"] - 1 <= t <= (c["end"] if c["end"] > 0 else 1e12) + 1:
                return c
        return None

    problems = []
    reaps = load_lines(a.reaper, {"reap"})
    stalls = load_lines(a.reaper, {"stall"})
    witness = load_lines(a.witness, {"reap"})
    reap_ok = [r for r in reaps if r.get("result") == "ok"]
    reaped_by_daemon = {}
    dropped_by_reader = []
    for r in reap_ok:
        c = find(r)
        if c is None:
            # Churn's completions are not listed one by one: a reap of one would
            # also show as a failed churn connection on the application side.
            problems.append(f"reap line matching no soak connection: {r.get('laddr')} {r.get('raddr')}")
            continue
        reaped_by_daemon.setdefault(c["id"], r)
        want = CAUSES.get(c["kind"])
        if c.get("stuck"):
            # zero_window_vanished whose data stuck behind the window before
            # the peer vanished (soakmix: zerowin_step): a frozen reader.
            want = "zero_window"
        if (want == "zero_window" and r.get("cause") == "no_ack" and c["kind"] in ("frozen_reader", "storm")
                and int(r.get("snd_wnd") or 0) > 0 and int(r.get("retransmits") or 0) > 0):
            # The reader's kernel dropped segments it had advertised room
            # for (receive memory spent before the window closed: seen on
            # 5.10): the sender retransmits into an open window and hears
            # nothing, which is what no_ack says.
            dropped_by_reader.append(c["id"])
            want = "no_ack"
        if want and r.get("cause") != want:
            problems.append(f'{c["id"]} {c["kind"]}: reaped with cause={r.get("cause")}, want {want}')
        if c["live"]:
            c["false_by_daemon"] = r.get("reason")
    for r in witness:
        if r.get("result") != "dry_run":
            continue
        c = find(r)
        if c is not None and c["live"]:
            c["false_by_witness"] = r.get("reason")
    live_stall_lines = 0
    for r in stalls:
        c = find(r)
        if c is not None and c["live"]:
            live_stall_lines += 1

    matrix = collections.OrderedDict()
    false_reaps, misses, worst = [], [], None
    live_seconds = 0.0
    for c in sorted(conns, key=lambda c: (not c["live"], c["kind"], c["family"])):
        # A dead connection's clock starts at its stall onset: when the
        # harness killed it, or later if the queue still moved for a while
        # (a frozen reader's buffer filling): the daemon's own onset, from
        # its reap line (its time less its stalled_s), where that is later.
        r = reaped_by_daemon.get(c["id"])
        if not c["live"] and c["fate"] == "reaped" and r is not None:
            onset = max(c["died"], r["_ts"] - float(r.get("stalled_s", 0)))
            c["latency"] = c["end"] - onset
        fate = c["fate"]
        if fate == "reaped" and c["latency"] > c["limit"]:
            fate = "late"
        row = matrix.setdefault(f'{c["kind"]} (IPv{c["family"]})', collections.Counter())
        row[fate] += 1
        if c["live"]:
            live_seconds += max(0.0, (c["end"] or c["born"]) - c["born"])
            if fate != "complete" or "false_by_daemon" in c or "false_by_witness" in c:
                why = fate if fate != "complete" else ("reap logged" if "false_by_daemon" in c else
                                                       "witness would have reaped")
                false_reaps.append(f'{c["id"]} {c["kind"]} IPv{c["family"]} ports {c["sport"]}/{c["cport"]}: '
                                   f'{why} ({c["errno"]} on the {c["side"]} end)')
        else:
            if fate != "reaped":
                misses.append(f'{c["id"]} {c["kind"]}: {fate}'
                              + (f' after {c["latency"]:.2f}s, limit {c["limit"]:.2f}s' if fate == "late" else ""))
            elif c["id"] not in reaped_by_daemon:
                misses.append(f'{c["id"]} {c["kind"]}: shut with no reap line of a daemon for it')
            if c["latency"] >= 0 and fate in ("reaped", "late"):
                ratio = c["latency"] / c["limit"]
                if worst is None or ratio > worst[0]:
                    worst = (ratio, c["latency"], c["limit"], c["kind"])
    row = matrix.setdefault("churn (IPv4+6)", collections.Counter())
    row["complete"] += churn_ok
    row["shut"] += churn_failed
    if churn_failed:
        false_reaps.append(f"{churn_failed} churn connection(s) failed")

    # The daemons' counters agree with their own lines.
    if a.metrics:
        m_ok = metric_sum(a.metrics, "sockreap_reaps_total", {"result": "ok"})
        if int(m_ok) != len(reap_ok):
            problems.append(f"metrics count {int(m_ok)} reaps (result ok), the logs {len(reap_ok)}")

    # The table.
    w = max(len(k) for k in matrix) + 2
    print(f'{"kind":<{w}}' + "".join(f"{f:>9}" for f in FATES))
    for k, row in matrix.items():
        print(f"{k:<{w}}" + "".join(f"{row[f]:>9}" for f in FATES))
    live = [c for c in conns if c["live"]]
    dead = [c for c in conns if not c["live"]]
    reaped_ok = sum(1 for c in dead if c["fate"] == "reaped" and c["latency"] <= c["limit"])
    print()
    print(f"live connections: {len(live)} (+{churn_ok + churn_failed} churn), "
          f"{live_seconds / 3600:.2f} connection-hours, false reaps: {len(false_reaps)}")
    print(f"dead connections: {len(dead)}, reaped within their limit: {reaped_ok}, missed: {len(misses)}")
    if worst:
        print(f"worst detection latency: {worst[1]:.3f}s against a limit of {worst[2]:.3f}s "
              f"({worst[0]:.0%}, {worst[3]})")
    print(f"reap lines (result=ok): {len(reap_ok)}; stall verdicts on live connections that the "
          f"re-check then spared: {live_stall_lines}")
    gaps = [c for c in live if c.get("max_gap", 0) > 0]
    lapses = [c for c in gaps if c["max_gap"] > a.grace / 2]
    if gaps:
        g = max(gaps, key=lambda c: c["max_gap"])
        print(f"longest gap between a slow reader's turns: {g['max_gap']:.3f}s ({g['id']} {g['kind']}; "
              f"at most half the grace, {a.grace / 2:.3f}s)")
    if dropped_by_reader:
        print(f"frozen readers whose kernel dropped what it had advertised room for (cause=no_ack, "
              f"snd_wnd > 0, retransmitting): {len(dropped_by_reader)}")
    # Send stalls held back by kernel TCP memory pressure (the reap line's
    # held_s: its clock restarted from the last moment pressure was seen,
    # three graces late at most). Such a reap's latency counts from there,
    # the daemon's onset.
    held = [float(r["held_s"]) for r in reap_ok if r.get("held_s")]
    if held:
        print(f"reaps held by kernel TCP memory pressure: {len(held)} (held_s up to {max(held):.3f}s)")
    stuck = sum(1 for c in dead if c.get("stuck"))
    if stuck:
        print(f"zero_window_vanished whose data stuck behind the window before the peer vanished "
              f"(judged as frozen readers): {stuck}")
    for p in false_reaps[:20]:
        print(f"FALSE REAP: {p}")
    for p in misses[:20]:
        print(f"MISS: {p}")
    for p in problems[:20]:
        print(f"INCONSISTENT: {p}")
    for c in lapses[:20]:
        print(f"HARNESS: {c['id']} {c['kind']} read nothing for {c['max_gap']:.3f}s (grace {a.grace}s): "
              f"the soak did not keep it live")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"matrix": {k: dict(v) for k, v in matrix.items()},
                       "live": len(live), "churn": churn_ok + churn_failed,
                       "live_connection_hours": live_seconds / 3600,
                       "dead": len(dead), "reaped_within_limit": reaped_ok,
                       "false_reaps": false_reaps, "misses": misses, "inconsistent": problems,
                       "harness_lapses": [c["id"] for c in lapses],
                       "longest_reader_gap_s": max((c["max_gap"] for c in gaps), default=0),
                       "worst_latency": worst and {"latency_s": worst[1], "limit_s": worst[2],
                                                   "kind": worst[3]}}, f, indent=1)
    return 1 if false_reaps or misses or problems or lapses else 0


if __name__ == "__main__":
    sys.exit(main())
