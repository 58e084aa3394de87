#!/usr/bin/env bash
# check.sh [--update] - check deploy/monitoring: the alerting rules parse and
# pass their unit tests, every alert has a firing and a silent case, the
# PrometheusRule holds the same groups as the plain rule file, every PromQL
# expression of the dashboard parses and names only sockreap's metrics, and a
# self-test: broken copies of each alert (never fires, fires on healthy
# series, fires without waiting for its `for:`) must make the tests fail.
# Prints "monitoring: N passed, N failed"; exit 0 if all passed, 1 otherwise.
#
# --update first rewrites deploy/monitoring/prometheusrule.yaml from
# deploy/monitoring/sockreap-alerts.yaml (the file to edit).
#
# Needs promtool (Debian: prometheus) and python3 with yaml (python3-yaml).
# Under a minute (mostly the self-test's 25 promtool runs); no timing, no network.
set -u
cd "$(dirname "$0")/../.." || exit 1

MON=deploy/monitoring
RULES=$MON/sockreap-alerts.yaml
PROMRULE=$MON/prometheusrule.yaml
DASH=$MON/sockreap-dashboard.json
TESTS=("$MON"/tests/*.yaml)
LIMIT="timeout 60"

pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
closing() {
	echo "monitoring: $pass passed, $fail failed"
	[ "$fail" -eq 0 ]
	exit
}

for tool in promtool python3 timeout; do
	command -v "$tool" >/dev/null || { bad "$tool not found (apt-get install prometheus python3-yaml)"; closing; }
done
python3 -c 'import yaml' 2>/dev/null || { bad "python3 has no yaml module (apt-get install python3-yaml)"; closing; }

TMP=$(mktemp -d /tmp/sockreap-monitoring.XXXXXX) || exit 1
trap 'rm -rf "$TMP"' EXIT

# run NAME CMD...: one check, its output shown only when it fails.
run() {
	local name=$1
	shift
	if $LIMIT "$@" >"$TMP/out" 2>&1; then
		ok "$name"
	else
		bad "$name"
		sed 's/^/     /' "$TMP/out" | head -60
	fi
}

# --- the PrometheusRule, generated from the plain rule file ------------------
# Its groups are the plain file's text from `groups:` on, indented under spec.
generate_promrule() {
	python3 - "$RULES" <<'EOF'
import sys
lines = open(sys.argv[1]).read().splitlines()
start = next(i for i, l in enumerate(lines) if l.startswith("groups:"))
print("""# prometheusrule.yaml - sockreap's alerting rules as a prometheus-operator
# PrometheusRule. Generated from sockreap-alerts.yaml by
# `tests/monitoring/check.sh --update`: edit that file, not this one (check.sh
# fails when their groups differ). The scrape job the rules assume
# (job="sockreap") is explained at the top of sockreap-alerts.yaml.
#
# Apply it in a namespace your Prometheus reads rules from
# (ruleNamespaceSelector; unset means the Prometheus object's own) with the
# labels its ruleSelector asks for (kube-prometheus-stack: release=NAME):
#   kubectl apply -n monitoring -f deploy/monitoring/prometheusrule.yaml
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: sockreap
  labels:
    app.kubernetes.io/name: sockreap
    app.kubernetes.io/component: alerting
spec:""")
for l in lines[start:]:
    print(("  " + l) if l else "")
EOF
}

if [ "${1:-}" = "--update" ]; then
	generate_promrule >"$TMP/promrule.yaml" && cp "$TMP/promrule.yaml" "$PROMRULE" &&
		echo "wrote $PROMRULE"
fi

# --- the rule files ----------------------------------------------------------
run "promtool check rules $RULES" promtool check rules "$RULES"

# The alerts every deployment relies on, each with for:, a severity, summary
# and description, and in the tests at least one firing and one silent case.
run "every alert has for, severity, summary, description, and firing and silent tests" \
	python3 - "$RULES" "${TESTS[@]}" <<'EOF'
import sys, yaml
REQUIRED = {"SockreapDown", "SockreapNotScanning", "SockreapReapRateHigh", "SockreapReapFailures",
            "SockreapMapFull", "SockreapEventsLost", "SockreapScanSlow", "SockreapScanErrors"}
doc = yaml.safe_load(open(sys.argv[1]))
problems, alerts = [], []
if set(doc) != {"groups"}:
    problems.append(f"top-level keys {sorted(doc)}: expected only groups")
for g in doc["groups"]:
    for r in g["rules"]:
        if "alert" not in r:
            continue
        a = r["alert"]
        alerts.append(a)
        if not r.get("for"):
            problems.append(f"{a}: no for:")
        if r.get("labels", {}).get("severity") not in ("critical", "warning", "info"):
            problems.append(f"{a}: severity label not critical, warning or info")
        for k in ("summary", "description"):
            if not r.get("annotations", {}).get(k):
                problems.append(f"{a}: no {k} annotation")
if len(alerts) != len(set(alerts)):
    problems.append(f"alert names repeat: {sorted(alerts)}")
for a in sorted(REQUIRED - set(alerts)):
    problems.append(f"{a}: missing")
fires, silent = set(), set()
for f in sys.argv[2:]:
    for t in yaml.safe_load(open(f)).get("tests", []):
        for c in t.get("alert_rule_test", []):
            (fires if c.get("exp_alerts") else silent).add(c["alertname"])
for a in alerts:
    if a not in fires:
        problems.append(f"{a}: no test where it fires")
    if a not in silent:
        problems.append(f"{a}: no test where it stays silent (exp_alerts: [])")
for p in problems:
    print(p)
sys.exit(1 if problems else 0)
EOF

run "promtool test rules ${MON}/tests/*.yaml (${#TESTS[@]} files)" promtool test rules "${TESTS[@]}"

# --- PrometheusRule == plain file ----------------------------------------------
run "$PROMRULE holds the same groups as $RULES" python3 - "$RULES" "$PROMRULE" <<'EOF'
import sys, yaml
plain = yaml.safe_load(open(sys.argv[1]))
docs = [d for d in yaml.safe_load_all(open(sys.argv[2])) if d is not None]
if len(docs) != 1:
    sys.exit(f"{sys.argv[2]}: {len(docs)} documents, expected one PrometheusRule")
pr = docs[0]
want = {"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule"}
for k, v in want.items():
    if pr.get(k) != v:
        sys.exit(f"{k} is {pr.get(k)!r}, expected {v!r}")
if (pr.get("metadata") or {}).get("name") != "sockreap":
    sys.exit("metadata.name is not sockreap")
if pr.get("spec", {}).get("groups") != plain["groups"]:
    import difflib
    a = yaml.safe_dump(plain["groups"], sort_keys=True, width=1000).splitlines()
    b = yaml.safe_dump(pr.get("spec", {}).get("groups"), sort_keys=True, width=1000).splitlines()
    print("\n".join(difflib.unified_diff(a, b, "sockreap-alerts.yaml", "prometheusrule.yaml", lineterm="", n=1)))
    sys.exit("the groups differ: edit sockreap-alerts.yaml, then run tests/monitoring/check.sh --update")
EOF

generate_promrule >"$TMP/generated.yaml"
if cmp -s "$TMP/generated.yaml" "$PROMRULE"; then
	ok "$PROMRULE is exactly what --update writes"
else
	# Same groups but other text (comments, layout) is allowed; say so.
	echo "note $PROMRULE differs in text from what --update would write (its groups are what count)"
fi

# --- the dashboard -----------------------------------------------------------
# Every expression (panels, nested rows, annotations, variable queries) as a
# recording rule, Grafana's variables replaced, for promtool to parse; every
# sockreap_* name and reason/result value must be one the daemon exports.
run "$DASH is a dashboard whose expressions name only sockreap's metrics" \
	python3 - "$DASH" "$RULES" "$TMP/dashboard-rules.yaml" <<'EOF'
import json, re, sys, yaml
METRICS = {
    "sockreap_reaps_total", "sockreap_stalls_total", "sockreap_stall_causes_total",
    "sockreap_reap_causes_total", "sockreap_stalled_sockets", "sockreap_owner_failures_total",
    "sockreap_sockets_tracked", "sockreap_sockets_by_state", "sockreap_map_capacity",
    "sockreap_map_full_total", "sockreap_candidates_full_total", "sockreap_bpf_events_total",
    "sockreap_bpf_recursion_misses_total", "sockreap_scans_total", "sockreap_scan_errors_total",
    "sockreap_scan_interval_seconds", "sockreap_scan_cpu_seconds_total",
    "sockreap_start_time_seconds", "sockreap_build_info", "sockreap_pod_reaps_total",
}
HISTOGRAMS = {"sockreap_scan_duration_seconds", "sockreap_reap_latency_seconds"}
for h in HISTOGRAMS:
    METRICS |= {h + "_bucket", h + "_sum", h + "_count"}
VALUES = {
    "reason": {"send_stall", "peer_gone", "close_wait", "rx_idle"},
    "result": {"ok", "dry_run", "gone", "no_owner", "mismatch", "resumed", "error", "unowned"},
}
VARS = {"__rate_interval": "5m", "__interval": "1m", "__range": "1h", "job": "sockreap",
        "instance": "node-a:9750"}

problems = []
d = json.load(open(sys.argv[1]))
if not 36 <= d.get("schemaVersion", 0) <= 41:
    problems.append(f"schemaVersion {d.get('schemaVersion')}")
tvars = {v["name"]: v for v in d.get("templating", {}).get("list", [])}
ds = tvars.get("datasource", {})
if ds.get("type") != "datasource" or ds.get("query") != "prometheus":
    problems.append("no datasource variable of type prometheus")
for v in ("job", "instance"):
    if tvars.get(v, {}).get("type") != "query":
        problems.append(f"no {v} query variable")

exprs = []  # (where, expr)
ids = set()
def walk(panels):
    for p in panels:
        if p.get("id") in ids:
            problems.append(f"panel id {p.get('id')} repeats")
        ids.add(p.get("id"))
        g = p.get("gridPos", {})
        if g.get("x", 0) + g.get("w", 0) > 24:
            problems.append(f"panel {p.get('title')!r} wider than the grid")
        if p.get("type") == "row":
            walk(p.get("panels", []))
            continue
        if (p.get("datasource") or {}).get("uid") != "${datasource}":
            problems.append(f"panel {p.get('title')!r}: datasource is not ${{datasource}}")
        if not p.get("targets"):
            problems.append(f"panel {p.get('title')!r}: no query")
        for t in p.get("targets", []):
            exprs.append((f"panel {p.get('title')!r} {t.get('refId')}", t.get("expr", "")))
walk(d.get("panels", []))
for a in d.get("annotations", {}).get("list", []):
    if a.get("expr"):
        exprs.append((f"annotation {a.get('name')!r}", a["expr"]))
for v in tvars.values():
    q = v.get("query")
    q = q.get("query", "") if isinstance(q, dict) else q
    m = re.fullmatch(r"\s*label_values\((.*),\s*\w+\s*\)\s*", q or "")
    if v.get("type") == "query":
        if not m:
            problems.append(f"variable {v['name']}: not label_values(SELECTOR, LABEL): {q!r}")
        else:
            exprs.append((f"variable {v['name']}", m.group(1)))

def names_and_values(where, e):
    for name in re.findall(r"\bsockreap_[a-z_]+", e):
        if name not in METRICS:
            problems.append(f"{where}: {name} is not a sockreap metric")
    for label, _, val in re.findall(r'\b(reason|result)\s*(=~|!~|=|!=)\s*"([^"]*)"', e):
        for v in val.split("|"):
            if v not in VALUES[label]:
                problems.append(f"{where}: {label} value {v!r} is not one the daemon exports")

# The alert expressions get the name and value checks too.
for g in yaml.safe_load(open(sys.argv[2]))["groups"]:
    for r in g["rules"]:
        names_and_values(f"rule {r.get('alert') or r.get('record')}", r["expr"])

rules = []
for n, (where, e) in enumerate(exprs):
    if not e.strip():
        problems.append(f"{where}: empty expression")
        continue
    names_and_values(where, e)
    sub = re.sub(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)", lambda m: VARS.get(m.group(1) or m.group(2), m.group(0)), e)
    if "$" in sub:
        problems.append(f"{where}: unknown variable in {e!r}")
        continue
    rules.append({"record": f"dashboard:expr{n}", "expr": sub, "labels": {"where": where}})
yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}, open(sys.argv[3], "w"), width=1000)
print(f"{len(rules)} expressions")
for p in problems:
    print(p)
sys.exit(1 if problems else 0)
EOF
run "every dashboard expression parses (promtool check rules)" promtool check rules "$TMP/dashboard-rules.yaml"

# --- self-test: the unit tests catch broken alerts -------------------------------
# Each broken copy goes into a copy of deploy/monitoring (tests find the rules
# as ../sockreap-alerts.yaml) and must parse, so that only the tests refuse it.
ST=$TMP/selftest
mkdir -p "$ST/tests" && cp "${TESTS[@]}" "$ST/tests/"
st_tests=("$ST"/tests/*.yaml)
cp "$RULES" "$ST/sockreap-alerts.yaml"
if $LIMIT promtool test rules "${st_tests[@]}" >"$TMP/out" 2>&1; then
	ok "self-test control: the unbroken copy passes its tests"
	control=ok
else
	# Every broken copy would fail too, proving nothing: do not count them.
	bad "self-test control: the unbroken copy fails its tests; the self-test is not run"
	control=bad
fi

# mutate ALERT KIND: write the broken rules to $ST/sockreap-alerts.yaml.
#   never:  the expr becomes `vector(0) > 1`          (caught by the firing cases)
#   always: the threshold loosened to fire on healthy series (the silent cases)
#   eager:  `for: 0s`                                 (the silent cases inside `for:`)
mutate() {
	python3 - "$RULES" "$ST/sockreap-alerts.yaml" "$1" "$2" <<'EOF'
import re, sys, yaml
src, dst, alert, kind = sys.argv[1:]
# The threshold of each alert, loosened to ">= 0"-like: a new alert needs a line.
LOOSEN = {
    "SockreapDown": (r"==\s*0\b", ">= 0"),
    "SockreapNotScanning": (r"==\s*0\b", ">= 0"),
    "SockreapReapRateHigh": (r">\s*1\s*$", ">= 0"),
    "SockreapReapFailures": (r">\s*0\b", ">= 0"),
    "SockreapMapFull": (r">\s*0\b", ">= 0"),
    "SockreapEventsLost": (r">\s*0\b", ">= 0"),
    "SockreapScanSlow": (r">\s*sockreap_scan_interval_seconds", ">= 0 * sockreap_scan_interval_seconds"),
    "SockreapScanErrors": (r">\s*0\b", ">= 0"),
}
doc = yaml.safe_load(open(src))
hit = [r for g in doc["groups"] for r in g["rules"] if r.get("alert") == alert]
if len(hit) != 1:
    sys.exit(f"{alert}: {len(hit)} rules")
r = hit[0]
if kind == "never":
    r["expr"] = "vector(0) > 1"
elif kind == "eager":
    if r.get("for") in (None, "0s", "0m", "0"):
        sys.exit(f"{alert}: no for: to remove")
    r["for"] = "0s"
elif kind == "always":
    if alert not in LOOSEN:
        sys.exit(f"{alert}: add its threshold to LOOSEN in tests/monitoring/check.sh")
    pat, new = LOOSEN[alert]
    r["expr"], n = re.subn(pat, new, r["expr"])
    if n == 0:
        sys.exit(f"{alert}: threshold {pat!r} not found in {r['expr']!r}")
yaml.safe_dump(doc, open(dst, "w"), sort_keys=False, width=1000)
EOF
}

alerts=$(python3 -c 'import sys, yaml
for g in yaml.safe_load(open(sys.argv[1]))["groups"]:
    for r in g["rules"]:
        if "alert" in r: print(r["alert"])' "$RULES")
[ "$control" = ok ] || alerts=
for alert in $alerts; do
	for kind in never always eager; do
		name="self-test: $alert broken ($kind) fails the tests"
		if ! mutate "$alert" "$kind" >"$TMP/out" 2>&1; then
			bad "$name: cannot break it"
			sed 's/^/     /' "$TMP/out"
			continue
		fi
		if ! $LIMIT promtool check rules "$ST/sockreap-alerts.yaml" >"$TMP/out" 2>&1; then
			bad "$name: the broken copy does not even parse"
			sed 's/^/     /' "$TMP/out" | head -20
			continue
		fi
		$LIMIT promtool test rules "${st_tests[@]}" >"$TMP/out" 2>&1
		rc=$?
		if [ "$rc" -eq 1 ] && grep -q "FAILED" "$TMP/out"; then
			ok "$name"
		elif [ "$rc" -eq 0 ]; then
			bad "$name: the tests still pass"
		else
			bad "$name: promtool exited $rc"
			sed 's/^/     /' "$TMP/out" | head -20
		fi
	done
done

closing
