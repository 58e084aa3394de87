#!/usr/bin/env bash
# The scenario matrix against one daemon (grace 2 s, interval 0.5 s): the
# dead connections are reaped and their blocked senders woken; the live ones
# (trickle, short pause, idle, bulk, fresh socket on a reused fd) are never touched.
. "$(dirname "$0")/lib.sh"
require_env
command -v nft >/dev/null || skip "nft not installed (make deps)"

GRACE=$(scaled 2) INTERVAL=$(scaled 0.5) DUR=$(scaled_int 9)
new_netns NS scen
start_daemon "$NS" daemon --stall-grace $GRACE --interval $INTERVAL --metrics-file "$TMP/metrics.prom"
LOG=$TMP/daemon.out

# Dead: a reader frozen with SIGSTOP while the server is blocked in send().
pair "$NS" 5001 frozen send read $DUR
FROZEN_SRV=$SRV_PID FROZEN_CLI=$CLI_PID
sleep "$(scaled 0.3)"
sig STOP "$FROZEN_CLI"
T_STOP=$(date +%s.%N)

# Dead: a half-open peer; its ACKs are dropped after the handshake.
pair "$NS" 5002 halfopen send read $DUR
HALF_SRV=$SRV_PID
drop_to_port "$NS" 5002
T_DROP=$(date +%s.%N)

# Live: a reader draining 128 KB/s, a reader paused 1 s (< grace), an idle
# connection, a bulk transfer.
pair "$NS" 5003 trickle send trickle $DUR --rate 131072
pair "$NS" 5004 paused send read $DUR
PAUSED_CLI=$CLI_PID
pair "$NS" 5005 idle idle idle $DUR
pair "$NS" 5006 bulk send read $DUR

# A stalled socket whose fd number is reused by a fresh socket before the reap.
bg_ns reuse-server "$NS" "$TCPDRV" server --port 5007 --mode reuse --reuse-after "$(scaled 1)" --duration $DUR
REUSE_SRV=$BG_PID
wait_for "$TMP/reuse-server.out" '^listening' 5
bg_ns reuse-client "$NS" "$TCPDRV" client --port 5007 --mode read --duration $DUR
REUSE_CLI=$BG_PID
wait_for "$TMP/reuse-client.out" '^connected' 5
sleep "$(scaled 0.3)"
sig STOP "$REUSE_CLI"

sig STOP "$PAUSED_CLI"; sleep "$(scaled 1)"; sig CONT "$PAUSED_CLI"

# Everything but the daemon and the two stopped readers ends by its deadline
# (or its reap); the stopped ones are let go afterwards.
wait_pids $((DUR + 5)) $(printf '%s\n' "${PIDS[@]}" | grep -vx -e "$DAEMON_PID" -e "$FROZEN_CLI" -e "$REUSE_CLI")
for p in "$FROZEN_CLI" "$REUSE_CLI"; do sig CONT "$p" 2>/dev/null; done
wait_pids 5 "$FROZEN_CLI" "$REUSE_CLI"
undrop "$NS"

echo "-- dead connections are reaped"
limit=$(echo "$GRACE + $INTERVAL + $(scaled 1)" | bc) # grace + interval + 1; the 1 s of slack scales too
expect_woken "frozen reader: sender" "$TMP/frozen-server.out" "$T_STOP" "$limit"
expect_woken "half-open peer: sender" "$TMP/halfopen-server.out" "$T_DROP" "$limit"
check "frozen reader: reaped (result=ok) in the log" reap_ok_for "$LOG" 5001
check "half-open peer: reaped (result=ok) in the log" reap_ok_for "$LOG" 5002
check "reused fd: the stalled socket was reaped" grep -q '^result=error' "$TMP/reuse-server.out"
check "reused fd: the fresh socket on the old fd number is untouched" grep -q '^fresh=healthy' "$TMP/reuse-server.out"
check "reused fd: exactly one reap on port 5007" test "$(grep 'event=reap' "$LOG" | grep -c 'laddr=[^ ]*:5007 ')" = 1

echo "-- live connections are untouched"
for n in trickle paused idle bulk; do
	expect_live "$n server" "$TMP/$n-server.out" $DUR
	expect_live "$n client" "$TMP/$n-client.out" $DUR
done
for port in 5003 5004 5005 5006; do
	check "no reap logged on port $port" no_reap_for "$LOG" $port
done
check "no stall logged for live ports" bash -c "! grep 'event=stall' '$LOG' | grep -Eq ':500[3-6] '"
check "the trickle reader really moved data" test "$(field_of "$TMP/trickle-client.out" bytes)" -gt 500000

echo "-- clean close removes entries"
gone() { grep -q '^sockreap_sockets_tracked 0$' "$TMP/metrics.prom"; }
for ((i = 0; i < 60; i++)); do gone && break; sleep 0.1; done
check "no socket left in the map once every connection closed" gone
check "and no established socket in the per-state gauge" grep -q '^sockreap_sockets_by_state{state="established"} 0$' "$TMP/metrics.prom"
check "metrics count the reaps" grep -q 'sockreap_reaps_total{reason="send_stall",result="ok"} [3-9]' "$TMP/metrics.prom"
check "the daemon logged no warnings" bash -c "! grep -q 'level=warn' '$LOG'"

stop_daemon "$DAEMON_PID"
check "daemon exits 0 on SIGTERM" grep -q 'event=stop' "$LOG"
finish
