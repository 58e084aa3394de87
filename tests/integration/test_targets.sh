#!/usr/bin/env bash
# Targeting: only sockets of the --cgroup directories (descendants included)
# and of the --port ports, minus --exclude-port, are ever reaped. Identical
# wedges outside the targets are untouched.
. "$(dirname "$0")/lib.sh"
require_env

DUR=$(scaled_int 6)
new_netns NS targets
CGMNT=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts)
[ -n "$CGMNT" ] || skip "no cgroup2 mount"
CGNAME=sockreap-test-$$
CG=$CGMNT/$CGNAME
mkdir -p "$CG/ctr" || skip "cannot create cgroups under $CGMNT"
# Move leftover processes home before removing the directories.
CLEANUPS+=("for f in $CG/ctr/cgroup.procs $CG/cgroup.procs; do for p in \$(cat \$f 2>/dev/null); do echo \$p > $CGMNT/cgroup.procs; done; done; rmdir $CG/ctr $CG")

# frozen_pair NAME PORT [CGROUP_DIR]: a sender whose reader is SIGSTOPped
# right after a moment of flowing data; the server (the socket that stalls)
# starts inside CGROUP_DIR if given. Each reader is frozen at once rather
# than all at the end: under TCG, starting the later pairs took seconds while
# the earlier ones streamed at full speed, which ate the servers' deadline.
frozen_pair() {
	local name=$1 port=$2 cg=${3:-}
	local srv=("$TCPDRV" server --port "$port" --mode send --duration $DUR)
	if [ -n "$cg" ]; then
		bg "$name-server" sh -c 'echo $$ > "$1/cgroup.procs" && shift && exec nsenter --net="$0" "$@"' \
			"/run/netns/$NS" "$cg" "${srv[@]}"
	else
		bg_ns "$name-server" "$NS" "${srv[@]}"
	fi
	SRVS+=("$BG_PID")
	wait_for "$TMP/$name-server.out" '^listening' 5 || { fail "$name: server did not start"; return; }
	bg_ns "$name-client" "$NS" "$TCPDRV" client --port "$port" --mode read --duration $DUR
	CLIS+=("$BG_PID")
	wait_for "$TMP/$name-client.out" '^connected' 5
	sleep "$(scaled 0.3)"
	sig STOP "$BG_PID"
}

wait_and_thaw() {
	wait_pids $((DUR + 5)) "${SRVS[@]}"
	sig CONT "${CLIS[@]}"
	wait_pids 5 "${CLIS[@]}"
}

echo "-- --cgroup (given relative to the cgroup2 mount)"
SRVS=() CLIS=()
start_daemon "$NS" cgd --cgroup "$CGNAME" --stall-grace "$(scaled 1.5)" --interval "$(scaled 0.5)"
frozen_pair in-child 5301 "$CG/ctr"
frozen_pair outside 5302
wait_and_thaw
expect_result "a wedge in a descendant of the target cgroup is reaped" "$TMP/in-child-server.out" error
expect_result "the identical wedge outside it is untouched" "$TMP/outside-server.out" timeout
check "the log names only the target's reap" bash -c "grep 'event=reap' '$TMP/cgd.out' | grep -q ':5301 ' && ! grep 'event=reap' '$TMP/cgd.out' | grep -q ':5302 '"
stop_daemon "$DAEMON_PID"

echo "-- --port and --exclude-port"
SRVS=() CLIS=()
start_daemon "$NS" portd --port 5311-5313 --exclude-port 5313 --stall-grace "$(scaled 1.5)" --interval "$(scaled 0.5)"
frozen_pair p5311 5311
frozen_pair p5312 5312
frozen_pair p5313 5313
frozen_pair p5314 5314
wait_and_thaw
expect_result "port 5311 (in --port) is reaped" "$TMP/p5311-server.out" error
expect_result "port 5312 (in the --port range) is reaped" "$TMP/p5312-server.out" error
expect_result "port 5313 (--exclude-port wins) is untouched" "$TMP/p5313-server.out" timeout
expect_result "port 5314 (not in --port) is untouched" "$TMP/p5314-server.out" timeout
stop_daemon "$DAEMON_PID"
finish
