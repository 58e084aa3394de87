#!/usr/bin/env bash
# Finding the owner across process boundaries: a daemon in its own pid
# namespace (unshare --pid --mount-proc, like a sidecar with a shared process
# namespace) reaps a socket of a process in that namespace; an owner that
# forked and exited leaves the socket to its child, which is found; a socket
# held by two processes is reaped once and both are woken.
. "$(dirname "$0")/lib.sh"
require_env
command -v unshare >/dev/null || skip "unshare not installed (util-linux)"

DUR=6
new_netns NS owner

echo "-- daemon in a child pid namespace"
bg_ns pidns "$NS" unshare --pid --fork --mount-proc --kill-child=TERM bash -c \
	'"$1" server --port 5601 --mode send --duration '$DUR' > "$2/pidns-server.out" 2>&1 &
	 exec "$3" --metrics-addr off --control-socket off --stall-grace 1.5 --interval 0.5' _ "$TCPDRV" "$TMP" "$SOCKREAP"
PIDNS_PID=$BG_PID
wait_for "$TMP/pidns.out" 'event=ready' 15 || { fail "daemon in a pid namespace did not start: $(cat "$TMP/pidns.out")"; }
wait_for "$TMP/pidns-server.out" '^listening' 5
bg_ns pidns-client "$NS" "$TCPDRV" client --port 5601 --mode read --duration $DUR
CLI=$BG_PID
wait_for "$TMP/pidns-client.out" '^connected' 5
sleep 0.3
sig STOP "$CLI"
wait_for "$TMP/pidns-server.out" '^result=' $((DUR + 3))
sig CONT "$CLI"
expect_result "the sender in the daemon's pid namespace is woken" "$TMP/pidns-server.out" error
nspid=$(grep -o '^listening.* pid=[0-9]*' "$TMP/pidns-server.out" | grep -o '[0-9]*$')
check "the reap names the owner by its pid in that namespace (pid=$nspid)" \
	grep -q "event=reap .*result=ok .*pid=$nspid comm=tcpdrv " "$TMP/pidns.out"
check "the stall line, from the BPF record, names the same pid" \
	grep -q "event=stall .*pid=$nspid comm=tcpdrv " "$TMP/pidns.out"
stop_daemon "$PIDNS_PID"

echo "-- an owner that forked and exited; a socket shared by two processes"
start_daemon "$NS" daemon --stall-grace 1.5 --interval 0.5
LOG=$TMP/daemon.out
bg_ns forkexit-server "$NS" "$TCPDRV" server --port 5602 --mode forkexit --reuse-after 0.8 --duration $DUR
FE_SRV=$BG_PID
wait_for "$TMP/forkexit-server.out" '^listening' 5
bg_ns forkexit-client "$NS" "$TCPDRV" client --port 5602 --mode read --duration $DUR
FE_CLI=$BG_PID
# Frozen at once, not after the next pair's start-up: the parent sends for
# 0.8 s only, and must fork with a full queue left behind.
wait_for "$TMP/forkexit-client.out" '^connected' 5
sleep 0.3
sig STOP "$FE_CLI"
bg_ns shared-server "$NS" "$TCPDRV" server --port 5603 --mode shared --duration $DUR
SH_SRV=$BG_PID
wait_for "$TMP/shared-server.out" '^listening' 5
bg_ns shared-client "$NS" "$TCPDRV" client --port 5603 --mode read --duration $DUR
SH_CLI=$BG_PID
wait_for "$TMP/shared-client.out" '^connected' 5
sleep 0.3
sig STOP "$SH_CLI"
wait_for "$TMP/forkexit-server.out" '^result=' $((DUR + 3))
wait_pids $((DUR + 3)) "$SH_SRV"
sig CONT "$FE_CLI" "$SH_CLI"

check "forkexit: the original sender exited" grep -q '^parent exits' "$TMP/forkexit-server.out"
expect_result "forkexit: the child holding the socket is woken (EOF)" "$TMP/forkexit-server.out" eof
child=$(grep -o 'child=[0-9]*' "$TMP/forkexit-server.out" | cut -d= -f2)
check "forkexit: the reap found the child (pid=$child) through /proc" \
	grep -q "event=reap .*result=ok .*pid=$child " "$LOG"
check "shared: the blocked sender is woken" grep -q '^result=error' "$TMP/shared-server.out"
check "shared: the other holder, blocked in recv(), is woken" grep -q '^result=eof' "$TMP/shared-server.out"
check "shared: reaped exactly once" test "$(grep 'event=reap' "$LOG" | grep -c 'laddr=[^ ]*:5603 ')" = 1
stop_daemon "$DAEMON_PID"
finish
