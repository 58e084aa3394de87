#!/usr/bin/env bash
# CLOSE_WAIT without false reaps. A client that half-closes (shutdown(SHUT_WR),
# as `nc -N` does) and waits for an answer that takes 2.5 x the grace gets it
# whole, and nothing is shut, however the server reaches the request: it read
# it to EOF; it read it before the FIN came and never reads again until it
# answers; it is busy and reaches request and FIN late; it noticed the EOF
# with EPOLLRDHUP and MSG_PEEK; the connection waited in a full accept queue.
# peer_gone is off by default: a peer that closed while its owner never reads
# is left alone, unless its target sets peer-gone=S; then it is reaped within
# S + interval + 1 s, but a connection nobody has accepted yet is still left
# alone (result=unowned). A CLOSE_WAIT leak whose owner read the EOF is left
# alone unless close-wait-timeout= asks for the cleanup (reason=close_wait).
. "$(dirname "$0")/lib.sh"
require_env

GRACE=$(scaled 1.5) INTERVAL=$(scaled 0.5) DUR=$(scaled_int 9) ANSWER_BYTES=4194304
CW_TIMEOUT=$(scaled 2) FIN_AFTER=$(scaled 0.3)
WORK=$(echo "2.5 * $GRACE" | bc)
new_netns NS half
# The plain flags on 5901-5909 (peer_gone off, the default); the leak cleanup
# on 5904; peer_gone on for 5910-5919 (a protocol that never half-closes).
start_daemon "$NS" daemon --stall-grace $GRACE --interval $INTERVAL --port 5901-5909 \
	--target "name=leak,port=5904,close-wait-timeout=$CW_TIMEOUT" \
	--target "name=ws,port=5910-5919,peer-gone=$GRACE"
LOG=$TMP/daemon.out

# answer NAME PORT HOW [SERVER_ARGS...]: a server answering a half-closed
# client after WORK seconds, reaching the request as HOW says (tcpdrv).
answer() {
	local name=$1 port=$2 how=$3; shift 3
	bg_ns "$name-server" "$NS" "$TCPDRV" server --port "$port" --mode answer --how "$how" \
		--every "$WORK" --count $ANSWER_BYTES --duration $DUR "$@"
	wait_for "$TMP/$name-server.out" '^listening' 5 || { echo "FAIL: $name server"; exit 1; }
	bg_ns "$name-client" "$NS" "$TCPDRV" client --port "$port" --mode request \
		--fin-after "$FIN_AFTER" --duration $DUR
	wait_for "$TMP/$name-client.out" '^half-closed' 5 || { echo "FAIL: $name client"; exit 1; }
}
answer eof 5901 eof
answer early 5905 early
answer busy 5906 late
answer peek 5907 peek
answer queued 5908 accept-late --backlog 1
answer queued-ws 5918 accept-late --backlog 1
# The peer closed; the owner never reads (the FIN stays unread).
pair "$NS" 5902 stuck hold close $DUR
pair "$NS" 5912 stuck-ws hold close $DUR
T_CLOSED=$(date +%s.%N)
# A leak: the owner read the EOF and keeps the socket; no cleanup asked for it.
pair "$NS" 5903 leak readhold close $DUR
# The same leak on the port whose target asks for cleanup after 2 s.
pair "$NS" 5904 cleanup readhold close $DUR

wait_pids $((DUR + 5)) $(printf '%s\n' "${PIDS[@]}" | grep -vx "$DAEMON_PID")

echo "-- half-closed clients answered after 2.5 x grace (peer_gone off: the default)"
for s in eof:5901 early:5905 busy:5906 peek:5907 queued:5908 queued-ws:5918; do
	n=${s%%:*} port=${s#*:}
	check "$n: the server answered whole ($(tail -1 "$TMP/$n-server.out"))" \
		grep -q "^result=answered .* bytes=$ANSWER_BYTES\$" "$TMP/$n-server.out"
	check "$n: the client got the whole answer, then EOF ($(tail -1 "$TMP/$n-client.out"))" \
		grep -q "^result=eof .* bytes=$ANSWER_BYTES\$" "$TMP/$n-client.out"
	check "$n: nothing shut on port $port" bash -c "! grep 'event=reap' '$LOG' | grep ':$port ' | grep -vq 'result=unowned'"
done
check "early: the server read its request before the FIN ($(grep -m1 '^request=' "$TMP/early-server.out"))" \
	grep -q '^request=12 how=early' "$TMP/early-server.out"
check "peek: the server saw the EOF without consuming it" grep -q '^request=12 how=peek' "$TMP/peek-server.out"
check "no stall logged on the default target's answer ports" \
	bash -c "! grep 'event=stall' '$LOG' | grep -Eq ':(5901|5905|5906|5907|5908) '"

echo "-- peer closed, owner never reads"
check "peer_gone off (default): not reaped" no_reap_for "$LOG" 5902
check "peer_gone off (default): still in CLOSE_WAIT at the end" grep -q '^state=8$' "$TMP/stuck-server.out"
check "peer-gone=$GRACE on its target: reaped as peer_gone" \
	grep -Eq 'event=reap reason=peer_gone result=ok .*target=ws .*laddr=127.0.0.1:5912 ' "$LOG"
age=$(grep 'event=reap reason=peer_gone' "$LOG" | grep ':5912 ' | grep -o 'stalled_s=[0-9.]*' | head -1 | cut -d= -f2)
limit=$(echo "$GRACE + $INTERVAL + $(scaled 1)" | bc) # the 1 s of slack scales too
check "reaped ${age:-?} s after the FIN (<= peer-gone + interval + 1 = $limit)" \
	test "$(echo "${age:-99} <= $limit" | bc)" = 1
check "the held socket left CLOSE_WAIT ($(grep -o 'state=[0-9]*' "$TMP/stuck-ws-server.out"))" \
	bash -c "grep -q '^state=' '$TMP/stuck-ws-server.out' && ! grep -q '^state=8$' '$TMP/stuck-ws-server.out'"
check "peer-gone on, connection still in the accept queue: logged result=unowned, not shut" \
	grep -Eq 'event=reap reason=peer_gone result=unowned method=none .*laddr=127.0.0.1:5918 ' "$LOG"

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
