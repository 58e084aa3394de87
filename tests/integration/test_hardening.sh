#!/usr/bin/env bash
# Restart and capacity. A daemon killed with SIGKILL leaves nothing hooked
# (nothing is pinned); a restarted one finds a wedge older than itself and
# reaps it on time. With more sockets than --map-capacity nothing breaks,
# the overflow is counted and warned about at most once per scan, and once
# room frees up new sockets are tracked and reaped again. (Churn:
# test_churn.sh.)
. "$(dirname "$0")/lib.sh"
require_env
command -v nft >/dev/null || skip "nft not installed (make deps)"

new_netns NS hard

echo "-- restart without loss"
start_daemon "$NS" first --stall-grace 1.5 --interval 0.5
ids=$(daemon_prog_ids "$DAEMON_PID")
check "the daemon holds its programs ($(echo $ids))" test "$(wc -w <<<"$ids")" -ge 4
sig KILL "$DAEMON_PID"; wait "$DAEMON_PID" 2>/dev/null
check "SIGKILL leaves none of them loaded" progs_gone $ids
pair "$NS" 6201 halfopen send read 12
HALF_SRV=$SRV_PID
drop_to_port "$NS" 6201
sleep 1
T0=$(date +%s.%N)
start_daemon "$NS" second --stall-grace 1.5 --interval 0.5
wait_pids 8 "$HALF_SRV"
expect_result "the restarted daemon reaps the wedge that formed while none ran" "$TMP/halfopen-server.out" error
lat=$(echo "$(field_of "$TMP/halfopen-server.out" at) - $T0" | bc)
check "on time: ${lat}s after the restart (<= grace+interval+1 = 3s)" test "$(echo "$lat <= 3" | bc)" = 1
undrop "$NS"
stop_daemon "$DAEMON_PID"

echo "-- capacity (the hash store, where the kernel has no socket storage for tracing programs)"
start_daemon "$NS" cap --socket-state hash --map-capacity 64 --stall-grace 1.5 --interval 0.5 \
	--metrics-file "$TMP/cap.prom"
bg_ns hold-server "$NS" "$TCPDRV" server --port 6211 --mode holdall --duration 5
wait_for "$TMP/hold-server.out" '^listening' 5
bg_ns hold-client "$NS" "$TCPDRV" client --port 6211 --mode holdall --count 50 --duration 5
HOLD=$BG_PID
wait_for "$TMP/hold-client.out" '^opened=50' 10
sleep 1.2
check "the map holds its capacity, no more ($(metric "$TMP/cap.prom" sockreap_sockets_tracked))" \
	test "$(metric "$TMP/cap.prom" sockreap_sockets_tracked)" = 64
full=$(metric "$TMP/cap.prom" sockreap_map_full_total)
check "untracked sockets are counted (sockreap_map_full_total=$full)" test "${full:-0}" -ge 36
scans=$(metric "$TMP/cap.prom" sockreap_scans_total)
warns=$(grep -c 'socket map full' "$TMP/cap.out")
check "the warning is logged at most once per scan ($warns warnings, $scans scans)" test "$warns" -ge 1 -a "$warns" -le "$scans"
check "the daemon is still running" alive "$DAEMON_PID"
wait_pids 8 "$HOLD" "$(pgrep -f 'tcpdrv server --port 6211' | head -1)"
sleep 1
pair "$NS" 6212 after send read 5
sleep 0.3
sig STOP "$CLI_PID"
wait_pids 9 "$SRV_PID"
sig CONT "$CLI_PID"
expect_result "once room frees up, a new wedge is tracked and reaped" "$TMP/after-server.out" error
check "no reap other than that one" test "$(grep -c 'event=reap' "$TMP/cap.out")" = 1
stop_daemon "$DAEMON_PID"

finish
