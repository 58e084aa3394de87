#!/usr/bin/env bash
# Scope by network namespace. A daemon watches only its own namespace: a
# wedge in another one is untouched. With --all-netns it is reaped; that
# daemon is narrowed with --port so it can never touch this machine's own
# connections. A wedge that formed before the daemon started (a half-open
# peer: no event ever arrives for it) is found by the start-up sweep.
. "$(dirname "$0")/lib.sh"
require_env
command -v nft >/dev/null || skip "nft not installed (make deps)"

DUR=7
new_netns NA watcher
new_netns NB other

echo "-- default scope: the daemon's own namespace only"
start_daemon "$NA" own --stall-grace 1.5 --interval 0.5
pair "$NB" 5201 other send read $DUR
sleep 0.3
sig STOP "$CLI_PID"
wait_pids $((DUR + 5)) "$SRV_PID"
sig CONT "$CLI_PID"
expect_result "a wedge in another namespace is untouched" "$TMP/other-server.out" timeout
check "nothing was logged for it" bash -c "! grep -q 'event=stall' '$TMP/own.out'"
stop_daemon "$DAEMON_PID"
wait_pids 5 "$CLI_PID"

echo "-- --all-netns (narrowed to the test port), with a wedge older than the daemon"
pair "$NB" 5202 preexisting send read 12
PRE_SRV=$SRV_PID
drop_to_port "$NB" 5202
sleep 1 # the send queue fills and stays full before the daemon exists
T0=$(date +%s.%N)
start_daemon "$NA" all --all-netns --port 5202 --stall-grace 1.5 --interval 0.5
wait_pids 10 "$PRE_SRV"
expect_result "the pre-existing half-open wedge in another namespace is reaped" "$TMP/preexisting-server.out" error
check "the reap is logged with result=ok" reap_ok_for "$TMP/all.out" 5202
at=$(field_of "$TMP/preexisting-server.out" at)
lat=$(echo "${at:-0} - $T0" | bc)
if [ -n "$at" ] && [ "$(echo "$lat <= 1.5 + 0.5 + 1 + 1" | bc)" = 1 ]; then
	ok "reaped ${lat}s after the daemon started (grace counts from when it was first seen)"
else
	fail "reaped ${lat}s after the daemon started"
fi
stop_daemon "$DAEMON_PID"

echo "-- --all-netns with the destroy walk entering the socket's namespace"
start_daemon "$NA" alldestroy --all-netns --port 5203 --kill-method destroy --stall-grace 1.5 --interval 0.5
if grep -q 'destroy=available' "$TMP/alldestroy.out"; then
	pair "$NB" 5203 otherdestroy send read 7
	sleep 0.3
	sig STOP "$CLI_PID"
	wait_pids 10 "$SRV_PID"
	sig CONT "$CLI_PID"
	expect_result "a wedge in another namespace is destroyed from the daemon's" "$TMP/otherdestroy-server.out" error
	check "with ECONNABORTED" test "$(field_of "$TMP/otherdestroy-server.out" errno)" = ECONNABORTED
fi
stop_daemon "$DAEMON_PID"
finish
