#!/usr/bin/env bash
# CLOSE_WAIT without false reaps. A client that half-closes (shutdown(SHUT_WR),
# as `nc -N` does) and waits for an answer that takes 2.5 x the grace gets it
# whole, and nothing is logged; a peer that closed while the owner never reads
# is reaped as peer_gone; an owner that read the EOF and keeps the socket (a
# leak) is left alone unless --close-wait-timeout / close-wait-timeout= asks
# for the cleanup, which logs reason=close_wait.
. "$(dirname "$0")/lib.sh"
require_env

GRACE=$(scaled 1.5) INTERVAL=$(scaled 0.5) DUR=$(scaled_int 8) ANSWER_BYTES=4194304
CW_TIMEOUT=$(scaled 2)
WORK=$(echo "2.5 * $GRACE" | bc)
new_netns NS half
# Two targets: the leak cleanup on port 5904, the plain flags on the others.
start_daemon "$NS" daemon --stall-grace $GRACE --interval $INTERVAL --port 5901-5903 \
	--target "name=leak,port=5904,close-wait-timeout=$CW_TIMEOUT"
LOG=$TMP/daemon.out

# Live: the half-closed client waits for a 4 MB answer that takes 3.75 s of work.
bg_ns answer-server "$NS" "$TCPDRV" server --port 5901 --mode answer --every "$WORK" \
	--count $ANSWER_BYTES --duration $DUR
wait_for "$TMP/answer-server.out" '^listening' 5 || { echo "FAIL: answer server"; exit 1; }
bg_ns answer-client "$NS" "$TCPDRV" client --port 5901 --mode request --duration $DUR
# Dead: the peer closed; the owner never reads (the FIN stays unread).
pair "$NS" 5902 stuck hold close $DUR
# A leak: the owner read the EOF and keeps the socket; no cleanup asked for it.
pair "$NS" 5903 leak readhold close $DUR
# The same leak on the port whose target asks for cleanup after 2 s.
pair "$NS" 5904 cleanup readhold close $DUR

wait_pids $((DUR + 5)) $(printf '%s\n' "${PIDS[@]}" | grep -vx "$DAEMON_PID")

echo "-- half-closed client, answer after 2.5 x grace"
check "the server read the request to EOF and answered whole ($(tail -1 "$TMP/answer-server.out"))" \
	grep -q "^result=answered .* bytes=$ANSWER_BYTES\$" "$TMP/answer-server.out"
check "the client got the whole answer, then EOF ($(tail -1 "$TMP/answer-client.out"))" \
	grep -q "^result=eof .* bytes=$ANSWER_BYTES\$" "$TMP/answer-client.out"
check "no stall or reap logged for it" bash -c "! grep -E 'event=(stall|reap)' '$LOG' | grep -q ':5901 '"
check "ports 5901-5903 are in scope (the same target reaps 5902)" \
	grep -q 'event=reap reason=peer_gone .*:5902 ' "$LOG"

echo "-- peer closed, owner never reads"
check "reaped as peer_gone" reap_ok_for "$LOG" 5902
check "logged reason=peer_gone" grep -Eq 'event=reap reason=peer_gone result=ok .*laddr=127.0.0.1:5902 ' "$LOG"
age=$(grep 'event=reap reason=peer_gone' "$LOG" | grep ':5902 ' | grep -o 'stalled_s=[0-9.]*' | head -1 | cut -d= -f2)
limit=$(echo "$GRACE + $INTERVAL + $(scaled 1)" | bc) # the 1 s of slack scales too
check "reaped ${age:-?} s after the FIN (<= grace+interval+1 = $limit)" \
	test "$(echo "${age:-99} <= $limit" | bc)" = 1
check "the held socket left CLOSE_WAIT ($(grep -o 'state=[0-9]*' "$TMP/stuck-server.out"))" \
	bash -c "grep -q '^state=' '$TMP/stuck-server.out' && ! grep -q '^state=8$' '$TMP/stuck-server.out'"

echo "-- CLOSE_WAIT leak, EOF read"
check "without close-wait-timeout: still in CLOSE_WAIT at the end" grep -q '^state=8$' "$TMP/leak-server.out"
check "without close-wait-timeout: nothing logged" bash -c "! grep -E 'event=(stall|reap)' '$LOG' | grep -q ':5903 '"
check "with close-wait-timeout=2: reaped, reason=close_wait" \
	grep -Eq 'event=reap reason=close_wait result=ok .*target=leak .*laddr=127.0.0.1:5904 ' "$LOG"
check "with close-wait-timeout=2: the socket left CLOSE_WAIT" \
	bash -c "grep -q '^state=' '$TMP/cleanup-server.out' && ! grep -q '^state=8$' '$TMP/cleanup-server.out'"
stop_daemon "$DAEMON_PID"; rc=$?
check "daemon exits 0" test "$rc" = 0
finish
