#!/usr/bin/env bash
# run.sh - the benchmark suite of issue 6: `make bench` (BENCH_QUICK=1 for the short mode).
#
#   bench/run.sh [BUILD_DIR]
#
# Phases, each side by side in this one run:
#   hot     iperf3 loopback throughput, 1 and 8 streams, plus CPU per GB at a
#           fixed rate: arms none / attached (daemon idle) / full (scanning,
#           scraped), in the order A (B B A C C A)... so every arm run has a
#           "none" run next to it (paired, ABBA), after a warm-up
#   stats   kernel.bpf_stats_enabled=1 under the same load: run_time_ns /
#           run_cnt of each sr_* program of our daemon, event rates (perf stat)
#   profile (full mode) perf record of the hot path and of the scan at the largest N
#   scale   N established loopback connections (tests/tools/conns.c): the daemon's CPU
#           per scan, RSS and map memory; then the /proc + pidfd_getfd
#           watchdog baseline (bench/watchdog) at the same N
#   mapscan a hash map of sockreap's key/value filled to 1,000,000 entries
#           with batch updates, read whole with bpf_map_lookup_batch (bench/mapscan)
#   detect  100 readers frozen at once on 100 blocked senders (build/tests/tcpdrv)
#   sidecars (issue 21) 1, 4 and 8 daemons, each in a namespace of its own
#           (a sidecar), and one --all-netns daemon (a DaemonSet), under one
#           iperf3 stream, kernel.bpf_stats_enabled=1: the per-event cost
#           added to a socket none of them tracks and to one that one of them
#           tracks, next to the reference programs (bench/refprogs.bpf.c)
# BENCH_ONLY="hot stats storm scale mapscan detect sidecars" runs a subset and
# BENCH_SCALE_N="N..." other connection counts (for development).
# Raw data goes to BUILD/bench/data; bench/report.py turns it into the table
# (stdout) and BUILD/bench.json.
#
# Everything runs in network namespaces created here; the daemon runs inside
# them with its default scope (its own namespace), but for the sidecars
# phase's DaemonSet (--all-netns --dry-run, long grace). Every loop is bounded in
# count and time; the EXIT trap kills every process started, deletes every
# namespace and restores kernel.bpf_stats_enabled, pass or fail.

set -u

BUILD=${1:-build}
HERE=$(cd "$(dirname "$0")" && pwd)
QUICK=${BENCH_QUICK:-0}
[ "$QUICK" = 0 ] || QUICK=1
BUILT_SOCKREAP=$BUILD/sockreap
BUILT_TCPDRV=$BUILD/tests/tcpdrv
CONNS=$BUILD/tests/conns
WATCHDOG=$BUILD/bench/watchdog
MAPSCAN=$BUILD/bench/mapscan
REFLOAD=$BUILD/bench/refload
REPORT="python3 $HERE/report.py"
DATA=$BUILD/bench/data
TAG=srb$$

if [ "$QUICK" = 1 ]; then
	T_RUN=1 ROUNDS=2 T_STATS=1 STATS_WINDOWS=4 SCALE_N="1000 10000" WD_SCANS=3
	MAP_SIZES=100000,1000000 MAP_READS=3 PROFILE=0 BUDGET_S=200 STORM_COUNT=2000 STORM_OWNERS=20
	SIDECAR_ROUNDS=1 SIDECAR_WINDOWS=4 SIDECAR_BUDGET_S=150
else
	T_RUN=2 ROUNDS=14 T_STATS=2 STATS_WINDOWS=10 SCALE_N="1000 10000 50000" WD_SCANS=5
	MAP_SIZES=10000,100000,1000000 MAP_READS=5 PROFILE=1 BUDGET_S=1200 STORM_COUNT=10000 STORM_OWNERS=100
	SIDECAR_ROUNDS=2 SIDECAR_WINDOWS=5 SIDECAR_BUDGET_S=400
fi
PHASES=${BENCH_ONLY:-hot stats storm scale mapscan detect sidecars}
SCALE_PATHS=${BENCH_SCALE_PATHS:-auto sweep}
SCALE_N=${BENCH_SCALE_N:-$SCALE_N}
want() { [[ " $PHASES " == *" $1 "* ]]; }
SCALE_CAPACITY=131072 # one map size for every N: 2 entries per connection at 50,000
# The daemon reads only its candidate set each scan; on the sweep path it also
# walks every socket once every 10 s (the backstop), a step of the walk per
# scan: 20 scans at 0.5 s hold exactly one walk, so the worst scan is one
# that takes a step and the mean is the amortized cost.
SCALE_INTERVAL=0.5 SCALE_SCANS=20
# Readers drain at 256 KB/s until frozen: ACK progress up to the freeze, and
# 100 pairs that do not starve this script of CPU, as 100 bulk transfers would.
DETECT_PAIRS=100 DETECT_GRACE=2 DETECT_INTERVAL=0.5 DETECT_READ_RATE=262144
# Sidecars: the most daemons of one arm, one namespace each.
SIDECAR_MAX=8

NAMESPACES=()
PIDS=()
STATS_RESTORE=
T_BEGIN=$(date +%s.%N)

# ours PID: still a child of this script. A PID that exited may have been
# recycled by someone else's process: never signal it.
ours() { [ "$(awk '/^PPid:/ {print $2}' "/proc/$1/status" 2>/dev/null)" = "$$" ]; }
signal_ours() { local sig=$1 p; shift; for p; do ours "$p" && kill -"$sig" "$p" 2>/dev/null; done; }

cleanup() {
	local p ns
	signal_ours CONT "${PIDS[@]}"
	signal_ours TERM "${PIDS[@]}"
	sleep 0.3
	signal_ours KILL "${PIDS[@]}"
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	for ns in "${NAMESPACES[@]}"; do ip netns del "$ns" 2>/dev/null; done
	[ -n "$STATS_RESTORE" ] && sysctl -q -w kernel.bpf_stats_enabled="$STATS_RESTORE"
}
trap cleanup EXIT
trap 'echo "bench: interrupted" >&2; exit 1' INT TERM

die() { echo "bench: $*" >&2; exit 1; }
now() { date +%s.%N; }
elapsed() { echo "$(now) - $T_BEGIN" | bc; }
log() { printf '[%6.1fs] %s\n' "$(elapsed)" "$*" >&2; }
# Seconds left of the mode's budget (negative once over).
left() { echo "$BUDGET_S - ($(now) - $T_BEGIN)" | bc; }
over_budget() { [ "$(echo "$(left) < $1" | bc)" = 1 ]; }

[ "$(id -u)" = 0 ] || die "needs root (BPF programs, network namespaces)"
[ -r /sys/kernel/btf/vmlinux ] || die "the kernel has no BTF (/sys/kernel/btf/vmlinux)"
for b in "$BUILT_SOCKREAP" "$BUILT_TCPDRV" "$CONNS" "$WATCHDOG" "$MAPSCAN" "$REFLOAD"; do
	[ -x "$b" ] || die "missing $b: run through 'make bench'"
done
for c in iperf3 bpftool python3 curl nsenter bc; do
	command -v "$c" >/dev/null || die "missing $c: run through 'make bench'"
done
HAVE_PERF=0
perf stat -e task-clock true >/dev/null 2>&1 && HAVE_PERF=1

rm -rf "$DATA"
mkdir -p "$DATA"/{bin,hot,stats,profile,scale,detect,sidecars,storm-build/tests}
# Private copies: build/ may be rebuilt by someone else while this runs, and
# every phase must measure the same daemon.
cp "$BUILT_SOCKREAP" "$BUILT_TCPDRV" "$REFLOAD" "$DATA/bin/" || die "cannot copy the binaries"
SOCKREAP=$DATA/bin/sockreap
TCPDRV=$DATA/bin/tcpdrv
# The storm test finds its binaries under a build directory: the same copies.
ln -s ../bin/sockreap "$DATA/storm-build/sockreap"
ln -s ../../bin/tcpdrv "$DATA/storm-build/tests/tcpdrv"
REFLOAD=$DATA/bin/refload

# new_netns VAR SUFFIX: a namespace with loopback up, removed by the trap.
new_netns() {
	local name_="$TAG-$2"
	ip netns add "$name_" || die "ip netns add $name_"
	NAMESPACES+=("$name_")
	ip -n "$name_" link set lo up
	printf -v "$1" '%s' "$name_"
}
del_netns() { ip netns del "$1" 2>/dev/null; }
in_ns() { local ns=$1; shift; nsenter --net="/run/netns/$ns" "$@"; }

# bg OUTFILE NS CMD...: start CMD in NS (nsenter execs it: BG_PID is CMD itself).
bg() {
	local out=$1 ns=$2; shift 2
	nsenter --net="/run/netns/$ns" "$@" >"$out" 2>&1 &
	BG_PID=$!
	PIDS+=("$BG_PID")
}

# wait_for FILE REGEX TIMEOUT_S
wait_for() {
	local f=$1 re=$2 t=$3 i
	for ((i = 0; i < t * 20; i++)); do
		grep -Eq -- "$re" "$f" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

# stop PID: TERM, then KILL after 10 s; bounded.
stop() {
	local pid=$1 i
	signal_ours TERM "$pid"
	for ((i = 0; i < 200; i++)); do ours "$pid" || break; sleep 0.05; done
	signal_ours KILL "$pid"
	wait "$pid" 2>/dev/null
	return 0
}

# start_daemon LOG NS ARGS...: sockreap in NS, waits for event=ready; sets DAEMON_PID.
start_daemon() {
	local out=$1 ns=$2; shift 2
	bg "$out" "$ns" "$SOCKREAP" --control-socket off --log-format json "$@"
	DAEMON_PID=$BG_PID
	wait_for "$out" '"event":"ready"' 15 || { sed 's/^/    /' "$out" >&2; die "the daemon did not get ready"; }
}

# CPU time of every thread of PID, in ns (sum_exec_runtime: exact, unlike ticks).
cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {printf "%d\n", s}'; }
metric() { awk -v m="$2" '$1 == m {print $2}' "$1" 2>/dev/null; }
# sr_* programs loaded on this machine by others (concurrent tests): noise to report.
sr_probe_progs() { bpftool prog show 2>/dev/null | grep -c 'name sr_on_probe'; }

{
	echo "mode=$([ "$QUICK" = 1 ] && echo quick || echo full)"
	echo "nproc=$(nproc)"
	echo "kernel=$(uname -r)"
	echo "cpu=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
	echo "mem_mib=$(awk '/MemTotal/ {printf "%d", $2 / 1024}' /proc/meminfo)"
	echo "iperf3=$(iperf3 --version 2>/dev/null | head -1)"
	echo "sockreap=$("$SOCKREAP" --version 2>/dev/null | head -1)"
	echo "sockreap_sha256=$(sha256sum "$SOCKREAP" | cut -c1-16)"
	echo "git_head=$(git -C "$HERE/.." rev-parse --short HEAD 2>/dev/null)"
	echo "git_dirty_files=$(git -C "$HERE/.." status --porcelain -- bpf user include 2>/dev/null | wc -l)"
	echo "have_perf=$HAVE_PERF"
	echo "t_run=$T_RUN"
	echo "rounds=$ROUNDS"
	echo "start=$T_BEGIN"
} >"$DATA/meta.env"
phase_done() { echo "phase_$1_s=$(echo "$(now) - $2" | bc)" >>"$DATA/meta.env"; }

#
# 1. Hot path: iperf3 in a private netns, three arms, paired ABBA rounds.
#
IPERF_PORT=5201 METRICS_PORT=9760 IPERF_LOG=$DATA/hot/iperf-server.log
start_iperf_server() {
	bg "$IPERF_LOG" "$HOT" iperf3 -s -p $IPERF_PORT -B 127.0.0.1
	IPERF_SRV=$BG_PID
	sleep 0.3
}
# iperf_run OUT ARGS...: one bounded client run; a failed run restarts the server.
iperf_run() {
	local out=$1; shift
	in_ns "$HOT" timeout -k 2 $((T_RUN + 20)) iperf3 -c 127.0.0.1 -p $IPERF_PORT -J "$@" >"$out" 2>&1
	if ! grep -q '"sum_received"' "$out" || grep -q '"error"' "$out"; then
		log "iperf3 run failed ($out); restarting its server"
		stop "$IPERF_SRV"
		start_iperf_server
		return 1
	fi
	return 0
}
ARM=none DAEMON_PID= SCRAPER_PID=
set_arm() {
	local arm=$1
	[ "$arm" = "$ARM" ] && return 0
	if [ -n "$SCRAPER_PID" ]; then stop "$SCRAPER_PID"; SCRAPER_PID=; fi
	if [ -n "$DAEMON_PID" ]; then stop "$DAEMON_PID"; DAEMON_PID=; fi
	case $arm in
	idle) # programs attached, the daemon asleep: no scan after the first
		start_daemon "$DATA/hot/daemon-idle.log" "$HOT" --interval 3600 --metrics-addr off ;;
	full) # scanning every second and scraped every second
		start_daemon "$DATA/hot/daemon-full.log" "$HOT" --interval 1 \
			--metrics-addr 127.0.0.1:$METRICS_PORT
		bg /dev/null "$HOT" bash -c "for ((i = 0; i < 900; i++)); do
			curl -s -o /dev/null --max-time 1 http://127.0.0.1:$METRICS_PORT/metrics; sleep 1; done"
		SCRAPER_PID=$BG_PID ;;
	esac
	ARM=$arm
}

# The fixed rate: a third of the warm-up's single-stream maximum.
fixed_rate() {
	python3 -c 'import json, sys
print(int(max(json.load(open(f))["end"]["sum_received"]["bits_per_second"] for f in sys.argv[1:]) / 3))' "$@"
}

SEQ=0
occurrence() { # ROUND ARM: the three runs of one arm occurrence
	local r=$1 arm=$2 kind foreign mine=1 f
	set_arm "$arm"
	[ "$arm" = none ] && mine=0
	foreign=$(($(sr_probe_progs) - mine))
	for kind in p1 p8 rate; do
		f="$DATA/hot/$SEQ-$arm-$kind.json"
		case $kind in
		p1) iperf_run "$f" -t "$T_RUN" ;;
		p8) iperf_run "$f" -t "$T_RUN" -P 8 ;;
		rate) iperf_run "$f" -t "$T_RUN" -b "$RATE" ;;
		esac && printf '%d\t%d\t%s\t%s\t%d\t%s\n' "$SEQ" "$r" "$arm" "$kind" "$foreign" \
			"$(basename "$f")" >>"$DATA/hot/runs.tsv"
	done
	SEQ=$((SEQ + 1))
}

phase_hot() {
	local p0 r arm
	p0=$(now)
	log "hot path: warm-up"
	iperf_run "$DATA/hot/warmup-p1.json" -t "$T_RUN"
	iperf_run "$DATA/hot/warmup-p8.json" -t "$T_RUN" -P 8
	iperf_run "$DATA/hot/warmup-p1b.json" -t "$T_RUN" || die "iperf3 does not run in the namespace"
	RATE=$(fixed_rate "$DATA/hot/warmup-p1.json" "$DATA/hot/warmup-p1b.json") ||
		die "cannot read the warm-up's throughput"
	echo "fixed_rate_bps=$RATE" >>"$DATA/meta.env"
	printf 'seq\tround\tarm\tkind\tforeign_sr_progs\tfile\n' >"$DATA/hot/runs.tsv"
	occurrence 0 none
	for ((r = 1; r <= ROUNDS; r++)); do
		# Leave the other phases room: this one may use about half of the budget.
		if [ "$r" -gt 2 ] && over_budget "$(echo "$BUDGET_S * 0.5" | bc)"; then
			log "hot path: stopping after $((r - 1)) rounds (time budget)"
			break
		fi
		log "hot path: round $r of $ROUNDS"
		for arm in idle idle none full full none; do occurrence "$r" "$arm"; done
	done
	phase_done hot "$p0"
}

#
# 2. Per-event cost: the kernel's own accounting under the same load, full daemon.
#
phase_stats() {
	local p0 kind w extra ref_first ref_last
	p0=$(now)
	log "per-event cost (kernel.bpf_stats_enabled=1), next to the reference programs"
	# The references ride the same tracepoints in the same windows
	# (refprogs.bpf.c): one copy attached before the daemon's programs, one
	# after, as programs on a tracepoint run in the order of attachment.
	set_arm none
	bg "$DATA/stats/refload-first.out" "$HOT" "$REFLOAD"
	ref_first=$BG_PID
	wait_for "$DATA/stats/refload-first.out" '^ready' 15 || die "refload did not attach: $(cat "$DATA/stats/refload-first.out")"
	set_arm full
	bg "$DATA/stats/refload-last.out" "$HOT" "$REFLOAD"
	ref_last=$BG_PID
	wait_for "$DATA/stats/refload-last.out" '^ready' 15 || die "refload did not attach: $(cat "$DATA/stats/refload-last.out")"
	STATS_RESTORE=$(sysctl -n kernel.bpf_stats_enabled)
	sysctl -q -w kernel.bpf_stats_enabled=1
	# STATS_WINDOWS windows per load, each a run of its own: the ratio to the
	# references is taken per window, and its spread gives the interval.
	for kind in p1 p8; do
		extra=()
		[ "$kind" = p8 ] && extra=(-P 8)
		for ((w = 0; w < STATS_WINDOWS; w++)); do
			$REPORT progs "$DAEMON_PID" "$ref_first:first" "$ref_last:last" >"$DATA/stats/$kind.$w.before.json"
			if [ "$w" = 0 ] && [ "$HAVE_PERF" = 1 ]; then
				perf stat -a -x, -o "$DATA/stats/$kind.perf" \
					-e 'tcp:tcp_probe,tcp:tcp_sendmsg_locked,sock:inet_sock_set_state' -- \
					nsenter --net="/run/netns/$HOT" timeout -k 2 $((T_STATS + 20)) \
					iperf3 -c 127.0.0.1 -p $IPERF_PORT -J -t "$T_STATS" "${extra[@]}" \
					>"$DATA/stats/$kind.$w.iperf.json" 2>/dev/null
			else
				in_ns "$HOT" timeout -k 2 $((T_STATS + 20)) iperf3 -c 127.0.0.1 -p $IPERF_PORT \
					-J -t "$T_STATS" "${extra[@]}" >"$DATA/stats/$kind.$w.iperf.json" 2>/dev/null
			fi
			$REPORT progs "$DAEMON_PID" "$ref_first:first" "$ref_last:last" >"$DATA/stats/$kind.$w.after.json"
		done
	done
	sysctl -q -w kernel.bpf_stats_enabled="$STATS_RESTORE"
	STATS_RESTORE=
	stop "$ref_first"
	stop "$ref_last"
	phase_done stats "$p0"

	[ "$PROFILE" = 1 ] && [ "$HAVE_PERF" = 1 ] || return 0
	p0=$(now)
	log "profile: the hot path (perf record -a, full daemon, one stream)"
	perf record -q -a -e cpu-clock -F 1999 -o "$DATA/profile/hot.data" -- \
		nsenter --net="/run/netns/$HOT" timeout -k 2 20 \
		iperf3 -c 127.0.0.1 -p $IPERF_PORT -t 3 >/dev/null 2>&1
	# Only iperf3's samples (loopback softirq work runs in its context), as a
	# share of them: the machine may be busy with other work meanwhile.
	perf report -i "$DATA/profile/hot.data" --stdio --no-children --sort sym --comms iperf3 \
		--percentage relative --percent-limit 0.02 2>/dev/null | grep -v '^#' | grep -v '^$' \
		>"$DATA/profile/hot.txt"
	rm -f "$DATA/profile/hot.data"
	phase_done profile_hot "$p0"
}

#
# 3./4. Scale: N real connections, the daemon's scan, then the watchdog at the same N.
#
scale_one() { # N SEND_PATH
	local n=$1 path=$2 d="$DATA/scale/$2/$1" active i tracked s s0 c last conns_pid ns
	mkdir -p "$d"
	log "scale: N=$n connections, --send-path $path"
	new_netns ns "scale$n"
	start_daemon "$d/daemon.log" "$ns" --interval $SCALE_INTERVAL --metrics-addr off \
		--metrics-file "$d/metrics.prom" --map-capacity $SCALE_CAPACITY --send-path "$path"
	active=$((n / 5 < 2000 ? n / 5 : 2000))
	bg "$d/conns.out" "$ns" "$CONNS" --count "$n" --active "$active" --duration 180
	conns_pid=$BG_PID
	if ! wait_for "$d/conns.out" '^ready' 60; then
		sed 's/^/    /' "$d/conns.out" >&2
		die "conns did not make $n connections"
	fi
	# Both ends of every connection tracked (bounded wait), then a settling second.
	for ((i = 0; i < 100; i++)); do
		tracked=$(metric "$d/metrics.prom" sockreap_sockets_tracked)
		[ "${tracked:-0}" -ge $((2 * n)) ] && break
		sleep 0.2
	done
	sleep 1
	cp "$d/metrics.prom" "$d/m0.prom"
	echo "$(now) $(cpu_ns "$DAEMON_PID")" >"$d/t0"
	s0=$(metric "$d/m0.prom" sockreap_scans_total)
	# Every scan of the window, from the metrics file (replaced whole at the end of
	# each scan): "scans_total scan_cpu_seconds_total". Bounded at 4x the window.
	last=
	for ((i = 0; i < SCALE_SCANS * 40; i++)); do
		read -r s c < <(awk '$1 == "sockreap_scans_total" {s = $2}
			$1 == "sockreap_scan_cpu_seconds_total" {c = $2} END {print s, c}' "$d/metrics.prom")
		[ "$s" != "$last" ] && echo "$s $c" >>"$d/scans.txt" && last=$s
		[ "${s:-0}" -ge $((${s0:-0} + SCALE_SCANS)) ] && break
		sleep 0.05
	done
	cp "$d/metrics.prom" "$d/m1.prom"
	echo "$(now) $(cpu_ns "$DAEMON_PID")" >"$d/t1"
	cp "/proc/$DAEMON_PID/status" "$d/status"
	$REPORT maps "$DAEMON_PID" >"$d/maps.json"
	if [ "$PROFILE" = 1 ] && [ "$HAVE_PERF" = 1 ] && [ "$n" = "${SCALE_N##* }" ] && [ "$path" = auto ]; then
		log "profile: the daemon's scans at N=$n"
		# 10.5 s: the candidate scans and one full read.
		perf record -q -e cpu-clock -F 1999 -p "$DAEMON_PID" -o "$d/scan.data" -- sleep 10.5 \
			>/dev/null 2>&1
		perf report -i "$d/scan.data" --stdio --no-children --sort dso,sym \
			--percent-limit 0.5 2>/dev/null | grep -v '^#' | grep -v '^$' \
			>"$DATA/profile/scan.txt"
		rm -f "$d/scan.data"
	fi
	if [ "$path" = auto ]; then
		log "scale: watchdog baseline at N=$n"
		in_ns "$ns" timeout -k 2 120 "$WATCHDOG" --scans "$WD_SCANS" --interval 0.2 \
			>"$d/watchdog.out" 2>&1 || log "watchdog failed at N=$n (see $d/watchdog.out)"
	fi
	stop "$conns_pid"
	stop "$DAEMON_PID"
	DAEMON_PID=
	del_netns "$ns"
}

phase_scale() {
	local p0 n
	p0=$(now)
	# auto: the send tracepoint here (6.16+); sweep: the last resort where the
	# kernel refuses fentry (a full walk per scan). fentry (5.10-6.15 nodes)
	# shares the candidate scan of auto, and lockdown refuses it on this VM;
	# BENCH_SCALE_PATHS="auto fentry sweep" measures it where it loads.
	for path in $SCALE_PATHS; do
		for n in $SCALE_N; do
			if over_budget 30; then log "scale: skipping N=$n $path (time budget)"; continue; fi
			scale_one "$n" "$path"
		done
	done
	phase_done scale "$p0"
}

phase_mapscan() {
	local p0
	p0=$(now)
	log "mapscan: a hash map of sr_sock values, sizes $MAP_SIZES"
	timeout -k 2 120 "$MAPSCAN" --entries "$MAP_SIZES" --reads "$MAP_READS" \
		>"$DATA/mapscan.jsonl" || log "mapscan failed (see $DATA/mapscan.jsonl)"
	phase_done mapscan "$p0"
}

#
# Reap storms: the storm test at bench size, its own figures.
#
phase_storm() {
	local p0
	p0=$(now)
	log "storm: $STORM_COUNT stalled sockets at once (tests/integration/test_storm.sh)"
	STORM_COUNT=$STORM_COUNT STORM_OWNERS=$STORM_OWNERS BUILD=$DATA/storm-build \
		timeout -k 5 600 bash "$HERE/../tests/integration/test_storm.sh" >"$DATA/storm.out" 2>&1 ||
		log "storm: the test failed (see $DATA/storm.out)"
	phase_done storm "$p0"
}

#
# 5. Detection latency: DETECT_PAIRS readers frozen at once on blocked senders.
#
phase_detect() {
	local p0 ns i p done_n=0 srvs=() clis=() d="$DATA/detect"
	p0=$(now)
	log "detection: $DETECT_PAIRS frozen readers, --stall-grace $DETECT_GRACE --interval $DETECT_INTERVAL"
	new_netns ns detect
	start_daemon "$d/daemon.log" "$ns" --stall-grace $DETECT_GRACE \
		--interval $DETECT_INTERVAL --metrics-addr off
	echo "$DETECT_GRACE $DETECT_INTERVAL" >"$d/config"
	for ((i = 0; i < DETECT_PAIRS; i++)); do
		bg "$d/srv-$i.out" "$ns" "$TCPDRV" server --port $((21000 + i)) --mode send --duration 40
		srvs+=("$BG_PID")
	done
	for ((i = 0; i < DETECT_PAIRS; i++)); do
		wait_for "$d/srv-$i.out" '^listening' 10 || die "detection: server $i did not listen"
	done
	for ((i = 0; i < DETECT_PAIRS; i++)); do
		bg "$d/cli-$i.out" "$ns" "$TCPDRV" client --port $((21000 + i)) --mode trickle \
			--rate $DETECT_READ_RATE --duration 40
		clis+=("$BG_PID")
	done
	for ((i = 0; i < DETECT_PAIRS; i++)); do
		wait_for "$d/cli-$i.out" '^connected' 10 || die "detection: client $i did not connect"
	done
	sleep 1 # every sender blocked on a full window, its reader draining it slowly
	now >"$d/freeze_at"
	signal_ours STOP "${clis[@]}"
	now >>"$d/freeze_at"
	# Every sender unblocked; bounded at 20 s.
	for ((i = 0; i < 400; i++)); do
		done_n=$(grep -l '^result=' "$d"/srv-*.out 2>/dev/null | wc -l)
		[ "$done_n" -ge "$DETECT_PAIRS" ] && break
		sleep 0.05
	done
	log "detection: $done_n of $DETECT_PAIRS senders saw an error"
	signal_ours CONT "${clis[@]}"
	signal_ours TERM "${srvs[@]}" "${clis[@]}"
	for p in "${srvs[@]}" "${clis[@]}"; do wait "$p" 2>/dev/null; done
	stop "$DAEMON_PID"
	DAEMON_PID=
	del_netns "$ns"
	phase_done detect "$p0"
}

#
# 6. Sidecars (issue 21): K daemons, each in a namespace of its own, iperf3 in HOT.
#
# The daemons of the arm being measured, one variable per role. Their labels
# in `report.py progs` say the role: sc1..sc8 a sidecar of its own namespace
# (untargeted by the load), hot the sidecar of HOT (tracks iperf3's
# sockets), ds the DaemonSet daemon, ref the reference programs.
SC_PID=() SC_HOT= SC_DS= SC_REF=
sc_specs() {
	local i
	for ((i = 1; i <= SIDECAR_MAX; i++)); do
		[ -n "${SC_PID[i]:-}" ] && printf '%s:sc%d ' "${SC_PID[i]}" "$i"
	done
	[ -n "$SC_HOT" ] && printf '%s:hot ' "$SC_HOT"
	[ -n "$SC_DS" ] && printf '%s:ds ' "$SC_DS"
	printf '%s:ref\n' "$SC_REF"
}

# sc_start FIRST LAST ROUND: the sidecars of namespaces sc<FIRST>..sc<LAST>,
# each in its default scope (its own namespace), started one after the other.
sc_start() {
	local i
	for ((i = $1; i <= $2; i++)); do
		start_daemon "$DATA/sidecars/sc$i.r$3.log" "$TAG-sc$i" --metrics-addr off --stall-grace 3600
		SC_PID[i]=$DAEMON_PID
		DAEMON_PID=
	done
}

# sc_stop FIRST LAST: TERM to them all at once, then each waited for (bounded).
sc_stop() {
	local i
	for ((i = $1; i <= $2; i++)); do signal_ours TERM "${SC_PID[i]}"; done
	for ((i = $1; i <= $2; i++)); do stop "${SC_PID[i]}"; SC_PID[i]=; done
}

# sc_windows ARM K ROUND: SIDECAR_WINDOWS windows, each one iperf3 run of one
# stream between two snapshots of every program of the arm's daemons and of
# the references.
sc_windows() {
	local arm=$1 k=$2 r=$3 w base specs ours foreign
	read -ra specs < <(sc_specs)
	ours=$((${#specs[@]} - 1))
	log "sidecars: round $r, $arm K=$k ($ours daemons)"
	for ((w = 0; w < SIDECAR_WINDOWS; w++)); do
		base="$DATA/sidecars/$arm$k.r$r.w$w"
		foreign=$(($(sr_probe_progs) - ours))
		$REPORT progs "${specs[@]}" >"$base.before.json"
		iperf_run "$base.iperf.json" -t "$T_STATS" || continue
		$REPORT progs "${specs[@]}" >"$base.after.json"
		printf '%s\t%d\t%d\t%d\t%d\t%s\n' "$arm" "$k" "$r" "$w" "$foreign" "$(basename "$base")" \
			>>"$DATA/sidecars/runs.tsv"
	done
}

phase_sidecars() {
	local p0 r0 r i ns t_round=0 d="$DATA/sidecars"
	p0=$(now)
	log "sidecars: 1, 4 and 8 daemons in namespaces of their own, with and without iperf3's; one --all-netns daemon"
	for ((i = 1; i <= SIDECAR_MAX; i++)); do new_netns ns "sc$i"; done
	new_netns ns ds
	# One copy of the references for the whole phase, attached before every
	# daemon: the same programs in the same place in every arm, so each arm's
	# cost is held against them window by window.
	bg "$d/refload.out" "$HOT" "$REFLOAD"
	SC_REF=$BG_PID
	wait_for "$d/refload.out" '^ready' 15 || die "refload did not attach: $(cat "$d/refload.out")"
	STATS_RESTORE=$(sysctl -n kernel.bpf_stats_enabled)
	sysctl -q -w kernel.bpf_stats_enabled=1
	printf 'arm\tk\tround\twindow\tforeign_sr_progs\tbase\n' >"$d/runs.tsv"
	# The arms of a round grow and shrink one set of daemons (10 starts, not
	# 27); the daemon tracking iperf3's sockets, in the targeted arms as in
	# the DaemonSet arm, is the first attached after the references.
	for ((r = 1; r <= SIDECAR_ROUNDS; r++)); do
		if [ "$r" -gt 1 ] && [ "$(echo "$(now) - $p0 + $t_round > $SIDECAR_BUDGET_S" | bc)" = 1 ]; then
			log "sidecars: stopping after $((r - 1)) rounds (time budget)"
			break
		fi
		r0=$(now)
		# The DaemonSet: every namespace, the host's included, so --dry-run:
		# it acts on nothing whatever it sees (the BPF side is the same).
		start_daemon "$d/ds.r$r.log" "$TAG-ds" --all-netns --dry-run --metrics-addr off --stall-grace 3600
		SC_DS=$DAEMON_PID DAEMON_PID=
		sc_windows ds 1 "$r"
		stop "$SC_DS"
		SC_DS=
		start_daemon "$d/hot.r$r.log" "$HOT" --metrics-addr off --stall-grace 3600
		SC_HOT=$DAEMON_PID DAEMON_PID=
		sc_windows targeted 1 "$r"
		sc_start 1 3 "$r"
		sc_windows targeted 4 "$r"
		sc_start 4 7 "$r"
		sc_windows targeted 8 "$r"
		stop "$SC_HOT"
		SC_HOT=
		sc_start 8 8 "$r"
		sc_windows untargeted 8 "$r"
		sc_stop 5 8
		sc_windows untargeted 4 "$r"
		sc_stop 2 4
		sc_windows untargeted 1 "$r"
		sc_stop 1 1
		t_round=$(echo "$(now) - $r0" | bc)
	done
	sysctl -q -w kernel.bpf_stats_enabled="$STATS_RESTORE"
	STATS_RESTORE=
	stop "$SC_REF"
	SC_REF=
	for ((i = 1; i <= SIDECAR_MAX; i++)); do del_netns "$TAG-sc$i"; done
	del_netns "$TAG-ds"
	phase_done sidecars "$p0"
}

if want hot || want stats; then
	new_netns HOT hot
	start_iperf_server
	want hot && phase_hot
	want stats && phase_stats
	set_arm none
	stop "$IPERF_SRV"
	del_netns "$HOT"
fi
want storm && phase_storm
want scale && phase_scale
want mapscan && phase_mapscan
want detect && phase_detect
# Last, bounded by its own SIDECAR_BUDGET_S rather than the budget the phases
# above share, with no other phase's daemon attached: every daemon's programs
# run for every socket of the machine, so one left over would count as a sidecar.
if want sidecars; then
	new_netns HOT schot
	IPERF_LOG=$DATA/sidecars/iperf-server.log
	start_iperf_server
	iperf_run "$DATA/sidecars/warmup.json" -t "$T_STATS" || die "iperf3 does not run in the namespace"
	phase_sidecars
	stop "$IPERF_SRV"
	del_netns "$HOT"
fi

echo "end=$(now)" >>"$DATA/meta.env"
log "report"
$REPORT report "$DATA" "$BUILD/bench.json"
