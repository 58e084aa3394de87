#!/usr/bin/env bash
# One integration run of the daemon under valgrind: a frozen reader is
# reaped, and at exit valgrind reports no memory error and no leak.
# valgrind 3.19 does not implement pidfd_open, so the daemon takes its
# destroy fallback there (which this run also exercises).
. "$(dirname "$0")/lib.sh"
require_env
command -v valgrind >/dev/null || skip "valgrind not installed (make deps)"

new_netns NS vg
bg_ns daemon "$NS" valgrind --leak-check=full --errors-for-leak-kinds=definite,indirect \
	--suppressions=tests/valgrind.supp --error-exitcode=9 \
	"$SOCKREAP" --metrics-addr 127.0.0.1:9750 --control-socket "$TMP/ctl.sock" --stall-grace 1.5 --interval 0.5
DAEMON_PID=$BG_PID
wait_for "$TMP/daemon.out" 'event=ready' 60 || fail "the daemon under valgrind did not start"
pair "$NS" 6501 frozen send read 8
sleep 0.3
sig STOP "$CLI_PID"
wait_pids 12 "$SRV_PID"
sig CONT "$CLI_PID"
in_ns "$NS" curl -s --max-time 10 http://127.0.0.1:9750/metrics >/dev/null
"$SOCKREAP" list --control-socket "$TMP/ctl.sock" >/dev/null
expect_result "the frozen reader's sender is woken" "$TMP/frozen-server.out" error
check "reaped (result=ok)" grep -q 'event=reap .*result=ok .*:6501 ' "$TMP/daemon.out"
stop_daemon "$DAEMON_PID"; rc=$?
check "valgrind exits 0 (got $rc)" test "$rc" = 0
check "no memory error" grep -q 'ERROR SUMMARY: 0 errors' "$TMP/daemon.out"
check "no leak" grep -Eq 'All heap blocks were freed|definitely lost: 0 bytes' "$TMP/daemon.out"
finish
