#!/usr/bin/env bash
# soak_mix.sh [BUILD] - the mixed-traffic soak: every live and dead kind of
# connection at once (tests/tools/soakmix.c), thousands of them, against the
# real daemons, then every connection's fate compared with its label
# (tests/soak/report.py). Exit 0 only with zero false reaps and zero misses.
#
#   SOAK_SECONDS   how long the traffic runs after the daemons are ready (default 150)
#   SOAK_COUNT     scale of the connection counts (default 1: ~2 500 at once)
#   SR_TIME_SCALE  every grace, interval and wait multiplied (emulated guests: 3)
#   SOAK_KEEP=DIR  keep the fates, logs and report in DIR
#
# Two network namespaces: A holds the plain, idle and pg groups (each its own
# cgroup, so each target selects it), B a slow link (tbf on its loopback).
# Daemons: one in A (live), one in B (live), and a second one in A in dry-run
# mode: two daemons on one namespace, and a witness whose every dry-run
# verdict on a live connection counts as a false reap too.
. "$(dirname "$0")/../integration/lib.sh"
require_env
for c in nft tc python3; do command -v $c >/dev/null || skip "$c not installed (make deps)"; done
SOAKMIX=$BUILD/tests/soakmix
[ -x "$SOAKMIX" ] || { echo "FAIL: build first ($SOAKMIX)"; exit 1; }

SECONDS_RUN=${SOAK_SECONDS:-150}
COUNT=${SOAK_COUNT:-1}
GRACE=$(scaled 2) INTERVAL=$(scaled 0.5) IDLE=$(scaled 3) PG=$(scaled 2)
ulimit -n 65536 2>/dev/null || ulimit -n 20000 2>/dev/null || true

CGMNT=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts)
[ -n "$CGMNT" ] || skip "no cgroup2 mount"
CG=$CGMNT/sockreap-soak-$$
mkdir -p "$CG"/{plain,idle,pg,slow} || skip "cannot create cgroups under $CGMNT"
CLEANUPS+=("for d in plain idle pg slow; do for p in \$(cat $CG/\$d/cgroup.procs 2>/dev/null); do kill -KILL \$p; done; done; sleep 0.5; rmdir $CG/{plain,idle,pg,slow} $CG")

new_netns NSA soak-a
new_netns NSB soak-b
for ns in "$NSA" "$NSB"; do
	in_ns "$ns" nft -f - <<'NFT' || { echo "FAIL: nft"; exit 1; }
table inet soak {
	set bh { type inet_service; }
	chain out {
		type filter hook output priority 0;
		tcp sport @bh drop
	}
}
NFT
done
# B's loopback is a slow link, 20 Mbit/s with an Ethernet MTU: the
# slow_link kind's senders are faster, so their queues stay full, and move.
# (At loopback's 64 KB MTU every packet would outgrow tbf's burst and be
# dropped: a dead link, not a slow one.)
ip -n "$NSB" link set lo mtu 1500
in_ns "$NSB" tc qdisc add dev lo root tbf rate 20mbit burst 32kb limit 8mb ||
	{ echo "FAIL: tbf on $NSB's lo"; exit 1; }

OUT=${SOAK_KEEP:-$TMP/soak}
mkdir -p "$OUT"
# worker GROUP NS: soakmix for one group, in its cgroup and namespace.
worker() {
	local group=$1 ns=$2
	bg "worker-$group" sh -c 'echo $$ > "$1/cgroup.procs" && shift && exec nsenter --net="$0" "$@"' \
		"/run/netns/$ns" "$CG/$group" "$SOAKMIX" run --group "$group" --out "$OUT/fates-$group.jsonl" \
		--duration "$SECONDS_RUN" --grace "$GRACE" --interval "$INTERVAL" --idle-timeout "$IDLE" \
		--peer-gone "$PG" --scale "$SR_TIME_SCALE" --count-scale "$COUNT" \
		--ready "$TMP/ready-$group" --go "$TMP/go"
	WORKERS+=("$BG_PID")
}
WORKERS=()
worker plain "$NSA"
worker idle "$NSA"
worker pg "$NSA"
worker slow "$NSB"
for g in plain idle pg slow; do
	wait_for "$TMP/ready-$g" '^ready' 120 ||
		{ echo "FAIL: worker $g never got ready:"; cat "$TMP/worker-$g.out"; exit 1; }
done
echo "  connections opened before the daemons: $(ss -N "$NSA" -tn state established 2>/dev/null | wc -l) in A"

# The daemons: targets by cgroup (first match wins), the plain flags for the rest of the soak's cgroup.
RULES=(--stall-grace "$GRACE" --interval "$INTERVAL"
	--target "name=idle,cgroup=$CG/idle,idle-timeout=$IDLE"
	--target "name=pg,cgroup=$CG/pg,peer-gone=$PG"
	--cgroup "$CG")
start_daemon "$NSA" daemon-a "${RULES[@]}" --metrics-file "$TMP/metrics-a.prom"
PID_A=$DAEMON_PID
start_daemon "$NSA" witness "${RULES[@]}" --dry-run --metrics-file "$TMP/metrics-witness.prom"
PID_W=$DAEMON_PID
start_daemon "$NSB" daemon-b --stall-grace "$GRACE" --interval "$INTERVAL" --cgroup "$CG/slow" \
	--metrics-file "$TMP/metrics-b.prom"
PID_B=$DAEMON_PID
# Packets the machine dropped (every CPU's backlog, all namespaces), read
# before and after: with the namespaces' own TCP counters, what a live
# connection's lost progress came from, if one is ever shut.
softnet_drops() { local s=0 a b r; while read -r a b r; do s=$((s + 16#$b)); done </proc/net/softnet_stat; echo $s; }
DROPS0=$(softnet_drops)
# A's receive-side losses over time, once a second: whether receivers went
# on dropping data (their buffers shrunk) after the kernel's TCP memory
# pressure ended, and for how long (README, Reliability). Columns: time,
# the TCP line's press flag (/proc/net/protocols), then TcpExt TCPRcvQDrop,
# PruneCalled, RcvPruned and TCPMemoryPressures. Builtins only, but sleep.
in_ns "$NSA" bash -c '
	col() { local i; for i in "${!h[@]}"; do [[ ${h[i]} == "$1" ]] && { echo "${v[i]}"; return; }; done; echo 0; }
	for ((n = 0; n < $3; n++)); do
		[[ -e $1 || ! -d /proc/$2 ]] && break
		press=? h=() v=()
		while read -ra w; do
			[[ ${w[0]} == protocol ]] && for i in "${!w[@]}"; do [[ ${w[i]} == press ]] && pi=$i; done
			[[ ${w[0]} == TCP && -n ${pi:-} ]] && press=${w[pi]}
		done </proc/net/protocols
		while read -ra w; do
			[[ ${w[0]} == TcpExt: ]] || continue
			if [[ ${#h[@]} -eq 0 ]]; then h=("${w[@]}"); else v=("${w[@]}"); fi
		done </proc/net/netstat
		echo "$EPOCHREALTIME $press $(col TCPRcvQDrop) $(col PruneCalled) $(col RcvPruned) $(col TCPMemoryPressures)"
		sleep 1
	done' _ "$TMP/timeline.stop" $$ $((SECONDS_RUN + 600)) >"$OUT/timeline.txt" 2>&1 &
TIMELINE_PID=$!
CLEANUPS+=("touch $TMP/timeline.stop")
touch "$TMP/go"
echo "  traffic for ${SECONDS_RUN}s (grace ${GRACE}s, interval ${INTERVAL}s, idle ${IDLE}s, peer-gone ${PG}s)"

wait_pids $((SECONDS_RUN + 120)) "${WORKERS[@]}"
# No leak: every soak connection is closed now (churn included), so each
# daemon's tracked count must come back to the TCP sockets still alive in
# its namespace (none of the soak's) within 10 s (socket storage re-counts
# at most every 5 s once the kernel reports skipped runs, and once the
# events fall still; a drift that no lost event explains is logged as
# "census: ... corrected", printed here).
alive() { ss -N "$1" -Htan | awk '$1 != "LISTEN" && $1 != "TIME-WAIT"' | wc -l; }
tracked() { metric "$1" sockreap_sockets_tracked; }
for d in "a $NSA" "witness $NSA" "b $NSB"; do
	read -r name ns <<<"$d"
	for ((i = 0; i < $(scaled_int 10) * 10; i++)); do
		[ "$(tracked "$TMP/metrics-$name.prom")" = "$(alive "$ns")" ] && break
		sleep 0.1
	done
	check "daemon $name: tracked sockets back to those alive in scope after the soak ($(tracked "$TMP/metrics-$name.prom") tracked, $(alive "$ns") alive)" \
		test "$(tracked "$TMP/metrics-$name.prom")" = "$(alive "$ns")"
done
for f in daemon-a witness daemon-b; do
	grep -h 'census: ' "$TMP/$f.out" | sed "s/^/  $f: /"
done
# Runs the kernel skipped (each a lost event: a skipped close leaves its
# record until the socket is freed), for reading a census line above.
for name in a witness b; do
	awk -v d="$name" '/^sockreap_bpf_recursion_misses_total\{/ && $2 > 0 { print "  daemon " d ": " $0 }' \
		"$TMP/metrics-$name.prom"
done
# Where the loopback lost packets, per namespace: counters that are not 0.
for d in "A $NSA" "B $NSB"; do
	read -r name ns <<<"$d"
	in_ns "$ns" nstat -az 2>/dev/null | awk -v n="$name" '
		$1 ~ /^(TcpRetransSegs|TcpExt(TCPBacklogDrop|TCPRcvQDrop|TCPOFODrop|PruneCalled|RcvPruned|TCPZeroWindowDrop|TCPMemoryPressures|ListenDrops|TCPLossProbes|TCPTimeouts))$/ && $2 > 0 {
			l = l " " $1 "=" $2 } END { print "  namespace " n " losses:" (l ? l : " none") }' | tee -a "$OUT/losses.txt"
done
echo "  backlog drops on every CPU during the soak: $(($(softnet_drops) - DROPS0))" | tee -a "$OUT/losses.txt"
touch "$TMP/timeline.stop"
wait "$TIMELINE_PID"
# From the timeline: when pressure was seen (flag or counter; the first and
# the last second, and in how many of the samples), and the receive drops
# after it.
awk 'NF == 6 {
		if (n++ == 0) { t0 = $1; d0 = lastd = $3; lastp = $6 }
		if ($2 == "yes" || $6 > lastp) { if (pt == "") p0 = $1; pt = $1; pd = $3; ps++ }
		if ($3 > lastd) dt = $1
		lastd = $3; lastp = $6; t = $1 }
	END {
		if (!n) { print "  timeline: no samples"; exit }
		printf "  namespace A: %d receive drops during the soak; ", lastd - d0
		if (pt == "") { print "no TCP memory pressure seen"; exit }
		printf "memory pressure seen from %.1f to %.1f s of %.1f (%d of %d samples), ", p0 - t0, pt - t0, t - t0, ps, n
		printf "last seen %.1f s before the end, %d drops after it", t - pt, lastd - pd
		if (dt > pt) printf ", the last %.1f s after it", dt - pt
		print "" }' "$OUT/timeline.txt" | tee -a "$OUT/losses.txt"
for p in "$PID_A" "$PID_W" "$PID_B"; do
	stop_daemon "$p"
	check "daemon $p exits 0 on SIGTERM" test $? = 0
done
cp "$TMP"/daemon-a.out "$TMP"/witness.out "$TMP"/daemon-b.out "$TMP"/metrics-*.prom "$OUT"/ 2>/dev/null
for g in plain idle pg slow; do
	check "worker $g finished and wrote its fates" grep -q '"summary"' "$OUT/fates-$g.jsonl"
	grep -v '^{' "$TMP/worker-$g.out" | head -5 | sed 's/^/    worker: /'
done
set -o pipefail
if python3 "$(dirname "$0")/report.py" --fates "$OUT"/fates-*.jsonl --reaper "$OUT/daemon-a.out" \
	--reaper "$OUT/daemon-b.out" --witness "$OUT/witness.out" --metrics "$OUT"/metrics-a.prom \
	--metrics "$OUT"/metrics-b.prom --grace "$GRACE" --json "$OUT/report.json" | tee "$OUT/report.txt"; then
	ok "zero false reaps, zero misses"
else
	fail "the soak found false reaps or misses (report above, files in $OUT)"
	KEEP_LOGS=1
fi
finish
