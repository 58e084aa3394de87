#!/usr/bin/env bash
# The fallback for kernels without the tcp_sendmsg_locked tracepoint
# (before 6.16), forced with --send-path sweep: no send event, so the ACK path
# (a frozen reader's zero-window replies) and the retransmissions (a half-open
# peer) reveal the queued data, and /proc finds the owner. Both are reaped; an
# active transfer is not; and no scan walks every socket.
. "$(dirname "$0")/lib.sh"
require_env
command -v nft >/dev/null || skip "nft not installed (make deps)"

GRACE=$(scaled 1.5) INTERVAL=$(scaled 0.5) DUR=$(scaled_int 7)
# From the freeze (or the drop): the window closes, the grace runs out, a
# scan sees it, the episode may be read again one scan later, the reap.
LIMIT=$(echo "$GRACE + 2 * $INTERVAL + $(scaled 2)" | bc)
DEAD_DUR=$(dead_duration "$LIMIT")
new_netns NS sendpath
start_daemon "$NS" daemon --send-path sweep --stall-grace "$GRACE" --interval "$INTERVAL" \
	--metrics-file "$TMP/metrics.prom"
LOG=$TMP/daemon.out
check "the chosen path is logged" grep -q 'event=ready .*send_path=sweep' "$LOG"

pair "$NS" 5401 frozen send read "$DEAD_DUR"
FROZEN_SRV=$SRV_PID FROZEN_CLI=$CLI_PID
pair "$NS" 5402 halfopen send read "$DEAD_DUR"
HALF_SRV=$SRV_PID
pair "$NS" 5403 bulk send read $DUR
BULK_SRV=$SRV_PID BULK_CLI=$CLI_PID
drop_to_port "$NS" 5402
T_DROP=$(date +%s.%N)
sleep "$(scaled 0.3)"
sig STOP "$FROZEN_CLI"
T_STOP=$(date +%s.%N)
wait_dead "$LIMIT" "$FROZEN_SRV" "$HALF_SRV"
sig CONT "$FROZEN_CLI"
wait_pids $((DUR + 5)) "$BULK_SRV" "$BULK_CLI"

expect_woken "frozen reader: sender" "$TMP/frozen-server.out" "$T_STOP" "$LIMIT"
expect_woken "half-open peer: sender" "$TMP/halfopen-server.out" "$T_DROP" "$LIMIT"
expect_live "bulk transfer server" "$TMP/bulk-server.out" $DUR
expect_live "bulk transfer client" "$TMP/bulk-client.out" $DUR
check "reaps found their owner through /proc" bash -c "grep 'event=reap' '$LOG' | grep -c 'result=ok .*comm=tcpdrv' | grep -qx 2"
# Not a walk of every socket per scan: the ACKs and retransmissions revealed
# the queues, and the backstop walk (every 10 s) looks up queued sockets only.
SCANS=$(metric "$TMP/metrics.prom" sockreap_scans_total)
WALKED=$(metric "$TMP/metrics.prom" 'sockreap_bpf_events_total{program="iter_tcp"}')
check "sockets looked up by sweeps ($WALKED) fewer than scans ($SCANS), not 6 per scan" \
	test "${WALKED:-999999}" -lt "${SCANS:-0}"
undrop "$NS"
stop_daemon "$DAEMON_PID"
finish
