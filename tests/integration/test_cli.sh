#!/usr/bin/env bash
# The command-line contract on the real binary: bad input exits 2 with one
# line naming the problem and leaves nothing attached; SIGINT/SIGTERM exit 0
# and detach everything.
. "$(dirname "$0")/lib.sh"
require_env

# Programs loaded by anyone but the daemons of this test (an operator's
# sockreap, a benchmark) are ignored: compare program ids before and after.
sr_ids() { bpftool prog show 2>/dev/null | awk -F'[: ]+' '/name (sr_on_|sr_sweep|sr_destroy)/ { print $1 }' | sort; }
BEFORE=$(sr_ids)
# The kernel frees a program after its last reference, from a work queue: allow 3 s.
detached() {
	local i
	for ((i = 0; i < 60; i++)); do
		[ -z "$(comm -13 <(echo "$BEFORE") <(sr_ids))" ] && return 0
		sleep 0.05
	done
	return 1
}

new_netns NS cli
bad() { # DESCRIPTION EXPECTED_TEXT ARGS... (env via `env` prefix in ARGS)
	local d=$1 want=$2; shift 2
	local out rc
	out=$(in_ns "$NS" "$@" 2>&1); rc=$?
	if [ $rc = 2 ] && [ "$(printf '%s\n' "$out" | wc -l)" = 1 ] && grep -q -- "$want" <<<"$out" && detached; then
		ok "$d → exit 2: $out"
	else
		fail "$d → exit $rc, output: $out"
	fi
}
bad "unknown flag" "unknown option '--frobnicate'" "$SOCKREAP" --frobnicate
bad "bad number" "invalid value 'abc' for --stall-grace" "$SOCKREAP" --stall-grace abc
bad "missing value" "needs a value" "$SOCKREAP" --interval
bad "zero interval" "for --interval" "$SOCKREAP" --interval 0
bad "bad port" "for --port" "$SOCKREAP" --port 70000
bad "bad env var" "SOCKREAP_STALL_GRACE" env SOCKREAP_STALL_GRACE=soon "$SOCKREAP"
bad "bad log format" "use logfmt or json" "$SOCKREAP" --log-format xml
bad "missing cgroup" "is not a cgroup v2 directory" "$SOCKREAP" --cgroup /no/such/cgroup --metrics-addr off
mkdir -m 1777 "$TMP/open"
bad "world-writable metrics-file directory" "is world-writable" "$SOCKREAP" --metrics-addr off --metrics-file "$TMP/open/m.prom"
bad "no privilege" "missing capability CAP_" setpriv --reuid=65534 --regid=65534 --clear-groups "$SOCKREAP" --metrics-addr off

# Port in use: occupy it first, inside the namespace.
bg_ns holder "$NS" "$TCPDRV" server --port 9750 --mode idle --duration 20
wait_for "$TMP/holder.out" '^listening' 5
bad "metrics port in use" "cannot listen on 127.0.0.1:9750" "$SOCKREAP"
sig TERM "$BG_PID"

out=$("$SOCKREAP" --help); check "--help exits 0 and names every contract option" \
	bash -c 'for o in stall-grace idle-timeout interval all-netns cgroup port dry-run metrics-addr metrics-file log-format; do grep -q -- "--$o" <<<"$1" || exit 1; done' _ "$out"
check "--version exits 0" bash -c "'$SOCKREAP' --version | grep -q '^sockreap '"

echo "-- clean exit"
for sig in INT TERM; do
	start_daemon "$NS" "sig$sig" --stall-grace 1
	ids=$(daemon_prog_ids "$DAEMON_PID")
	check "SIG$sig: programs attached while running ($(echo $ids))" test "$(wc -w <<<"$ids")" -ge 4
	stop_daemon "$DAEMON_PID" "$sig"; rc=$?
	check "SIG$sig: exit status 0 (got $rc)" test "$rc" = 0
	check "SIG$sig: event=stop logged" grep -q 'event=stop' "$TMP/sig$sig.out"
	check "SIG$sig: nothing left attached" progs_gone $ids
done

echo "-- environment configures, the flag wins"
DAEMON_ENV=(SOCKREAP_STALL_GRACE=7 SOCKREAP_INTERVAL=0.25 SOCKREAP_LOG_FORMAT=json)
start_daemon "$NS" envd --interval 0.5
DAEMON_ENV=()
check "env var applied (json log, grace 7)" grep -q '"event":"ready".*"stall_grace_s":7' "$TMP/envd.out"
check "the flag wins over the env var (interval 0.5)" grep -q '"interval_s":0.5' "$TMP/envd.out"
stop_daemon "$DAEMON_PID"
finish
