#!/usr/bin/env bash
# Races at the reap, made deterministic with the test build's pause hook
# (SOCKREAP_TEST_PAUSE: the reaper stops right before pidfd_getfd, after it
# has chosen the owner and fd): the fd number is given to a fresh socket
# (mismatch: the fresh one is untouched), the owner exits (gone), the reader
# resumes so ACKs move again (resumed: untouched). And the test build's
# netns hook: failing to return to the own namespace is fatal.
. "$(dirname "$0")/lib.sh"
require_env
grep -q SOCKREAP_TEST_PAUSE "$SOCKREAP" || skip "needs the test build (make san; BUILD=build/san)"

DUR=8
P=$TMP/pause
new_netns NS races
DAEMON_ENV=(SOCKREAP_TEST_PAUSE="$P")
start_daemon "$NS" daemon --stall-grace 1.5 --interval 0.5
DAEMON_ENV=()
LOG=$TMP/daemon.out

paused() { wait_for_file "$P.getfd.reached" 10; }
wait_for_file() { local i; for ((i = 0; i < $2 * 20; i++)); do [ -e "$1" ] && return 0; sleep 0.05; done; return 1; }
go() { touch "$P.getfd.go"; }

echo "-- the fd number is reused before pidfd_getfd"
bg_ns swap-server "$NS" "$TCPDRV" server --port 6301 --mode swap --duration $DUR
wait_for "$TMP/swap-server.out" '^listening' 5
# The reader never reads: the child's one big send() blocks at once.
bg_ns swap-client "$NS" "$TCPDRV" client --port 6301 --mode hold --duration $DUR
CLI=$BG_PID
wait_for "$TMP/swap-server.out" '^child pid=' 5
CHILD=$(grep -o '^child pid=[0-9]*' "$TMP/swap-server.out" | cut -d= -f2)
check "the reaper paused before pidfd_getfd" paused
kill -USR1 "$CHILD" # a grandchild (tcpdrv forked it), alive: blocked in send()
wait_for "$TMP/swap-server.out" '^swapped' 5
go
wait_for "$LOG" 'event=reap .*:6301 ' 5
check "the reap saw the cookie mismatch" grep -q 'event=reap .*result=mismatch .*laddr=127.0.0.1:6301 ' "$LOG"
# The next attempt finds no fd for the stalled socket: the destroy fallback.
wait_for "$TMP/swap-server.out" '^result=' $DUR
wait_for "$TMP/swap-server.out" '^fresh=' $DUR
check "the fresh socket on the reused fd number stayed healthy" grep -q '^fresh=healthy' "$TMP/swap-server.out"
check "the stalled socket, now without any fd, was destroyed: the blocked send() returned" \
	grep -Eq '^result=(short|error)' "$TMP/swap-server.out"
check "  by the destroy fallback" grep -q 'event=reap .*result=ok method=destroy .*laddr=127.0.0.1:6301 ' "$LOG"

echo "-- the owner exits before pidfd_getfd"
pair "$NS" 6302 exits send read $DUR
sleep 0.3
sig STOP "$CLI_PID"
check "the reaper paused" paused
sig KILL "$SRV_PID"
wait "$SRV_PID" 2>/dev/null
go
wait_for "$LOG" 'event=reap .*:6302 ' 5
check "reported as result=gone" grep -q 'event=reap .*result=gone .*laddr=127.0.0.1:6302 ' "$LOG"
sig CONT "$CLI_PID"

echo "-- ACKs resume before pidfd_getfd"
pair "$NS" 6303 resumes send read $DUR
RSRV=$SRV_PID
sleep 0.3
sig STOP "$CLI_PID"
check "the reaper paused" paused
sig CONT "$CLI_PID"
sleep 0.5
go
wait_for "$LOG" 'event=reap .*:6303 ' 5
check "reported as result=resumed" grep -Eq 'event=reap .*result=resumed .*laddr=127.0.0.1:6303 .*detail="(acked bytes moved|queue drained)"' "$LOG"
wait_pids $((DUR + 3)) "$RSRV"
expect_live "the resumed connection's sender" "$TMP/resumes-server.out" $DUR
check "the daemon is still running" alive "$DAEMON_PID"
stop_daemon "$DAEMON_PID"; rc=$?
check "and exits 0 (no sanitizer abort, got $rc)" test "$rc" = 0

echo "-- the way back to the daemon's own network namespace fails"
# On the sweep path with --all-netns the backstop walk tours every namespace
# 10 s after the start; from 1.5 s on the hook makes setns() home fail. The
# daemon must stop, not go on scanning from a namespace it does not believe
# it is in.
DAEMON_ENV=(SOCKREAP_TEST_FAIL_NETNS_HOME=1.5)
start_daemon "$NS" lost --all-netns --send-path sweep --dry-run --stall-grace 30 --interval 0.25
DAEMON_ENV=()
wait_pids 20 "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null; rc=$?
check "the daemon stopped by itself with exit status 1 (got $rc)" test "$rc" = 1
check "and said why" grep -q "lost the daemon's own network namespace" "$TMP/lost.out"
finish
