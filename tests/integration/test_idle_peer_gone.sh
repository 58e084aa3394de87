#!/usr/bin/env bash
# The two other silent deaths. rx_idle (--idle-timeout): a client blocked in
# recv() whose server went silent wakes with EOF; a connection that receives
# pings or keepalive replies never does, and without --idle-timeout nothing
# is ever reaped for idleness. peer_gone (--peer-gone-timeout, opt-in): the
# peer closed, the owner holds the socket un-read in CLOSE_WAIT; after the
# timeout it is shut down and leaves CLOSE_WAIT.
. "$(dirname "$0")/lib.sh"
require_env

IDLE=2 INTERVAL=0.5 DUR=7
new_netns NS idle
start_daemon "$NS" daemon --idle-timeout $IDLE --stall-grace 1.5 --peer-gone-timeout 1.5 --interval $INTERVAL
LOG=$TMP/daemon.out

T0=$(date +%s.%N)
pair "$NS" 5801 silent idle idle $DUR          # nothing ever sent either way
pair "$NS" 5802 pinged ping idle $DUR          # the server pings every 0.5 s
pair "$NS" 5803 keepalive idle idle $DUR --keepalive 1   # TCP keepalive every 1 s
pair "$NS" 5804 peergone hold close $DUR       # the client closes; the server never reads
PG_SRV=$SRV_PID
wait_pids $((DUR + 5)) $(printf '%s\n' "${PIDS[@]}" | grep -vx "$DAEMON_PID")

echo "-- rx_idle"
expect_result "silent server: the blocked reader is woken" "$TMP/silent-client.out" eof
at=$(field_of "$TMP/silent-client.out" at)
lat=$(echo "${at:-0} - $T0" | bc)
limit=$(echo "$IDLE + $INTERVAL + 1" | bc)
check "silent server: woken after ${lat}s (<= idle-timeout+interval+1 = ${limit}s)" \
	test "$(echo "$lat <= $limit && $lat >= $IDLE" | bc)" = 1
check "logged as reason=rx_idle result=ok" grep -Eq 'event=reap reason=rx_idle result=ok .*addr=127.0.0.1:5801 ' "$LOG"
expect_live "pinged client" "$TMP/pinged-client.out" $DUR
expect_live "keepalive client" "$TMP/keepalive-client.out" $DUR
expect_live "keepalive server" "$TMP/keepalive-server.out" $DUR
check "no reap logged for the pinged or keepalive connections" bash -c "! grep 'event=reap' '$LOG' | grep -Eq ':580[23] '"

echo "-- peer_gone"
check "the held socket was shut down (left CLOSE_WAIT: state=$(grep -o 'state=[0-9]*' "$TMP/peergone-server.out"))" \
	bash -c "grep -q '^state=' '$TMP/peergone-server.out' && ! grep -q '^state=8$' '$TMP/peergone-server.out'"
check "logged as reason=peer_gone result=ok" grep -q 'event=reap reason=peer_gone result=ok .*laddr=127.0.0.1:5804 ' "$LOG"
stop_daemon "$DAEMON_PID"

echo "-- without --idle-timeout, a silent connection is never touched"
start_daemon "$NS" noidle --stall-grace 1.5 --interval $INTERVAL
pair "$NS" 5811 silent2 idle idle 4
wait_pids 9 "$SRV_PID" "$CLI_PID"
expect_live "silent client" "$TMP/silent2-client.out" 4
check "nothing logged" bash -c "! grep -q 'event=stall' '$TMP/noidle.out'"
stop_daemon "$DAEMON_PID"
finish
