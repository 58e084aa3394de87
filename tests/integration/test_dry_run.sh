#!/usr/bin/env bash
# --dry-run: a frozen reader's stall is detected, logged and counted, and
# the blocked sender is left alone.
. "$(dirname "$0")/lib.sh"
require_env

DUR=6
new_netns NS dry
start_daemon "$NS" daemon --dry-run --stall-grace 1.5 --interval 0.5 --metrics-file "$TMP/metrics.prom"
LOG=$TMP/daemon.out

pair "$NS" 5101 frozen send read $DUR
sleep 0.3
sig STOP "$CLI_PID"
wait_pids $((DUR + 5)) "$SRV_PID"
sig CONT "$CLI_PID"

check "the stall is logged" grep -q 'event=stall reason=send_stall .*laddr=127.0.0.1:5101 ' "$LOG"
check "the reap is logged as result=dry_run" grep -q 'event=reap reason=send_stall result=dry_run .*laddr=127.0.0.1:5101 ' "$LOG"
check "the would-be reap is logged once, not every scan" test "$(grep -c 'event=reap' "$LOG")" = 1
expect_result "the blocked sender is left alone" "$TMP/frozen-server.out" timeout
check "metrics count the dry run" grep -q 'sockreap_reaps_total{reason="send_stall",result="dry_run"} 1' "$TMP/metrics.prom"
check "metrics count the stall" grep -q 'sockreap_stalls_total{reason="send_stall"} 1' "$TMP/metrics.prom"
stop_daemon "$DAEMON_PID"
finish
