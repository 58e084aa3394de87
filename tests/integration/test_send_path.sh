#!/usr/bin/env bash
# The fallback for kernels without the tcp_sendmsg_locked tracepoint
# (before 6.16), forced with --send-path sweep: no owner is known from a send
# event, so the sweep notices queued data and /proc finds the owner. A frozen
# reader and a half-open peer are still reaped; an active transfer is not.
. "$(dirname "$0")/lib.sh"
require_env
command -v nft >/dev/null || skip "nft not installed (make deps)"

DUR=$(scaled_int 7)
new_netns NS sendpath
start_daemon "$NS" daemon --send-path sweep --stall-grace "$(scaled 1.5)" --interval "$(scaled 0.5)"
LOG=$TMP/daemon.out
check "the chosen path is logged" grep -q 'event=ready .*send_path=sweep' "$LOG"

pair "$NS" 5401 frozen send read $DUR
FROZEN_SRV=$SRV_PID FROZEN_CLI=$CLI_PID
pair "$NS" 5402 halfopen send read $DUR
HALF_SRV=$SRV_PID
pair "$NS" 5403 bulk send read $DUR
BULK_SRV=$SRV_PID BULK_CLI=$CLI_PID
drop_to_port "$NS" 5402
sleep "$(scaled 0.3)"
sig STOP "$FROZEN_CLI"
wait_pids $((DUR + 5)) "$FROZEN_SRV" "$HALF_SRV" "$BULK_SRV" "$BULK_CLI"
sig CONT "$FROZEN_CLI"

expect_result "frozen reader: sender woken" "$TMP/frozen-server.out" error
expect_result "half-open peer: sender woken" "$TMP/halfopen-server.out" error
expect_live "bulk transfer server" "$TMP/bulk-server.out" $DUR
expect_live "bulk transfer client" "$TMP/bulk-client.out" $DUR
check "reaps found their owner through /proc" bash -c "grep 'event=reap' '$LOG' | grep -c 'result=ok .*comm=tcpdrv' | grep -qx 2"
undrop "$NS"
stop_daemon "$DAEMON_PID"
finish
