#!/usr/bin/env bash
# --send-path auto on a kernel without the tcp_sendmsg_locked tracepoint that
# refuses fentry (lockdown): the daemon falls back to the sweep, says so in
# event=ready, and still reaps. No kernel here is both, so the test build's
# hooks hide the tracepoint and make the fentry load fail for real (an attach
# target no kernel has), through the daemon's own fallback code.
. "$(dirname "$0")/lib.sh"
require_env
grep -q SOCKREAP_TEST_REFUSE_FENTRY "$SOCKREAP" || skip "needs the test build (make san; BUILD=build/san)"

DUR=$(scaled_int 7)
new_netns NS fallback
DAEMON_ENV=(SOCKREAP_TEST_HIDE_SEND_TP=1 SOCKREAP_TEST_REFUSE_FENTRY=1)
start_daemon "$NS" daemon --stall-grace "$(scaled 1.5)" --interval "$(scaled 0.5)"
DAEMON_ENV=()
LOG=$TMP/daemon.out
check "event=ready says send_path=sweep" grep -q 'event=ready .*send_path=sweep' "$LOG"
check "and why: fentry was refused" grep -q 'fentry on tcp_sendmsg_locked refused here' "$LOG"

pair "$NS" 5451 frozen send read $DUR
FROZEN_SRV=$SRV_PID FROZEN_CLI=$CLI_PID
sleep "$(scaled 0.3)"
sig STOP "$FROZEN_CLI"
wait_pids $((DUR + 5)) "$FROZEN_SRV"
sig CONT "$FROZEN_CLI"
expect_result "frozen reader: sender woken" "$TMP/frozen-server.out" error
check "reaped through the sweep" grep -q 'event=reap reason=send_stall result=ok .*laddr=127.0.0.1:5451 ' "$LOG"

echo "-- --send-path fentry requires it: exit 2 naming the program"
out=$(in_ns "$NS" env SOCKREAP_TEST_REFUSE_FENTRY=1 "$SOCKREAP" --metrics-addr off --control-socket off \
	--send-path fentry 2>&1); rc=$?
check "exit 2 ($rc)" test "$rc" = 2
check "names sr_on_sendmsg_fentry" grep -q "refused BPF program 'sr_on_sendmsg_fentry'" <<<"$out"
stop_daemon "$DAEMON_PID"
finish
