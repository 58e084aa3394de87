#!/usr/bin/env bash
# The daemon stays answerable while it reaps a burst: one owner's COUNT
# connections stall at once (the clients never read), and while the reaps
# run, `sockreap list` answers within its bound, a control client that
# trickles its request is cut off without holding anyone up, and SIGTERM
# ends the daemon (exit 0, its programs detached) within 1 s. Reaping is
# fast (test_storm.sh), so the test build's hook makes each reap take 10 ms
# longer: the burst then lasts COUNT x 10 ms, and the checks land inside it.
. "$(dirname "$0")/lib.sh"
require_env
grep -q SOCKREAP_TEST_REAP_DELAY_MS "$SOCKREAP" || skip "needs the test build (make san; BUILD=build/san)"

COUNT=${BURST_COUNT:-1000} DUR=60
new_netns NS burst
# ulimit: COUNT sockets on each side, plus the daemon's duplicates.
ulimit -n $((COUNT + 1024)) 2>/dev/null || skip "cannot raise the fd limit to $((COUNT + 1024)) (each side holds COUNT)"
DAEMON_ENV=(SOCKREAP_TEST_REAP_DELAY_MS=10)
start_daemon "$NS" daemon --stall-grace 1 --interval 0.25
DAEMON_ENV=()
LOG=$TMP/daemon.out
PROGS=$(daemon_prog_ids "$DAEMON_PID")

bg_ns flood "$NS" "$TCPDRV" server --port 6101 --mode flood --count "$COUNT" --duration $DUR
wait_for "$TMP/flood.out" '^listening' 5 || { echo "FAIL: flood server did not listen"; exit 1; }
bg_ns clients "$NS" "$TCPDRV" client --port 6101 --mode holdall --count "$COUNT" --duration $DUR
wait_for "$TMP/flood.out" '^wedged=' 60 || { echo "FAIL: the connections were not wedged: $(cat "$TMP/flood.out")"; exit 1; }
echo "  $(grep '^wedged=' "$TMP/flood.out")"
wait_for "$LOG" 'event=reap reason=send_stall' 15 || { echo "FAIL: no reap began"; exit 1; }

echo "-- during the burst"
# A client that sends its request one byte every 0.1 s, never finishing it.
python3 - "$TMP/daemon.sock" >"$TMP/trickle.out" 2>&1 <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
print("connected", flush=True)
try:
    for _ in range(30):
        s.send(b"l")
        time.sleep(0.1)
    print("trickle=not_cut")
except OSError as e:
    print("trickle=cut", e.errno)
PY
TRICKLE=$!
PIDS+=("$TRICKLE")
wait_for "$TMP/trickle.out" '^connected' 10 || fail "the trickling client could not connect: $(cat "$TMP/trickle.out")"
t0=$(date +%s.%N)
timeout 10 "$SOCKREAP" list --control-socket "$TMP/daemon.sock" >"$TMP/list.out" 2>&1
rc=$?
t_list=$(echo "$(date +%s.%N) - $t0" | bc)
check "list answered during the burst in ${t_list}s (< 2 s), exit $rc" \
	test "$rc" = 0 -a "$(echo "$t_list < 2" | bc)" = 1
check "its answer lists the stalled sockets ($(grep -c ':6101 ' "$TMP/list.out") rows)" grep -q '127.0.0.1:6101 ' "$TMP/list.out"

reaps_before=$(grep -c 'event=reap' "$LOG")
t0=$(date +%s.%N)
sig TERM "$DAEMON_PID"
wait "$DAEMON_PID"; rc=$?
t_stop=$(echo "$(date +%s.%N) - $t0" | bc)
reaps_after=$(grep -c 'event=reap' "$LOG")
echo "  SIGTERM after $reaps_before of $COUNT reaps; $reaps_after logged at exit"
check "SIGTERM mid-burst: exit status 0 (got $rc)" test "$rc" = 0
check "SIGTERM mid-burst: exited ${t_stop}s after the signal (<= 1 s)" test "$(echo "$t_stop <= 1" | bc)" = 1
check "the burst was still under way at the signal ($reaps_before < $COUNT reaps)" test "$reaps_before" -lt "$COUNT"
check "its programs are detached" progs_gone $PROGS
check "logged event=stop" grep -q 'event=stop' "$LOG"
wait "$TRICKLE" 2>/dev/null
check "the trickling control client was cut off ($(tail -1 "$TMP/trickle.out"))" grep -q 'trickle=cut' "$TMP/trickle.out"
finish
