#!/usr/bin/env bash
# The sweep path's backstop walk (no send hook: --send-path sweep). Data
# written while the peer's window was already zero, with nothing left
# unacknowledged, to a peer that then went silent shows in no ACK and no
# retransmission: only the walk, which starts every 10 s, finds it. The
# sender is reaped within one period + grace + the walk's steps and scans,
# and not before the first walk. The walk is taken in steps: with more
# sockets than one step visits (1024 at the least), one walk spans several
# scans.
. "$(dirname "$0")/lib.sh"
require_env
command -v nft >/dev/null || skip "nft not installed (make deps)"

PERIOD=10 # SR_BACKSTOP_SWEEP_NS, not scaled
IDLE=${BACKSTOP_IDLE:-1500} # idle connections, two tracked sockets each: three steps a walk
GRACE=$(scaled 1.5) INTERVAL=$(scaled 0.25)
DUR=$(echo "x = 2 * $PERIOD + 3 * $GRACE + 10; scale=0; x / 1" | bc)
ulimit -n $((2 * IDLE + 1024)) 2>/dev/null || skip "cannot raise the fd limit to $((2 * IDLE + 1024))"
iso_s() { date -d "$1" +%s.%N; }

new_netns NS backstop
# The idle connections first: the start-up sweep counts them, and that count
# sets the step of the first walk.
bg_ns idle-server "$NS" "$TCPDRV" server --port 5501 --mode holdall --duration "$DUR"
wait_for "$TMP/idle-server.out" '^listening' 5 || { echo "FAIL: idle server did not listen"; exit 1; }
bg_ns idle-clients "$NS" "$TCPDRV" client --port 5501 --mode holdall --count "$IDLE" --duration "$DUR"
wait_for "$TMP/idle-clients.out" '^opened=' 60 || { echo "FAIL: the idle connections did not open"; exit 1; }

start_daemon "$NS" daemon --send-path sweep --stall-grace "$GRACE" --interval "$INTERVAL" \
	--metrics-file "$TMP/metrics.prom"
LOG=$TMP/daemon.out
READY=$(iso_s "$(grep -m1 'event=ready' "$LOG" | grep -o '^ts=[^ ]*' | cut -d= -f2)")

zerowin_pair "$NS" 5502 "$DUR" ||
	{ fail "the zerowin sender never saw a zero window with nothing outstanding"; finish; exit 1; }
drop_to_port "$NS" "$ZW_PORT"
sig USR1 "$ZW_SRV"
SIGNALLED=$(date +%s.%N)
wait_pids "$DUR" "$ZW_SRV"

expect_result "the sender queued behind the zero window is woken" "$TMP/zerowin-server.out" error
check "reaped for send_stall" reap_ok_for "$LOG" "$ZW_PORT"
line=$(grep 'event=reap .*result=ok' "$LOG" | grep "laddr=127.0.0.1:$ZW_PORT " | head -1)
reap_at=0
[ -n "$line" ] && reap_at=$(iso_s "$(grep -o '^ts=[^ ]*' <<<"$line" | cut -d= -f2)")
stalled=$(grep -o 'stalled_s=[0-9.]*' <<<"$line" | cut -d= -f2)
onset=$(echo "${reap_at:-0} - ${stalled:-0}" | bc)
check "found by a backstop walk: its queue first seen $(echo "$onset - $READY" | bc) s after ready (>= $PERIOD - interval)" \
	test "$(echo "${reap_at:-0} > 0 && $onset - $READY >= $PERIOD - $INTERVAL" | bc)" = 1
# The worst case: the send just after a walk passed the socket; the next walk
# starts a period later, at a scan (+ 1 interval); its third step reaches the
# socket (+ 2 intervals); the grace; the scan that sees it expire (+ 1
# interval). Then 1 s of slack.
LIMIT=$(echo "$PERIOD + $GRACE + 4 * $INTERVAL + $(scaled 1)" | bc)
check "reaped $(echo "$reap_at - $SIGNALLED" | bc) s after the send (<= period + grace + 4 intervals + 1 = $LIMIT)" \
	test "$(echo "${reap_at:-0} > 0 && $reap_at - $SIGNALLED <= $LIMIT" | bc)" = 1

WALKS=$(metric "$TMP/metrics.prom" sockreap_backstop_walks_total) STEPS=$(metric "$TMP/metrics.prom" sockreap_backstop_steps_total)
VISITED=$(metric "$TMP/metrics.prom" sockreap_backstop_sockets_total)
check "at least one walk reached its end (walks=$WALKS)" test "${WALKS:-0}" -ge 1
check "each walk took several steps ($STEPS steps for $WALKS walks, $((2 * IDLE)) sockets)" \
	test "${WALKS:-0}" -ge 1 -a "${STEPS:-0}" -ge $((3 * ${WALKS:-1}))
check "every socket visited once a walk ($VISITED visited by $WALKS walks)" \
	test "${WALKS:-0}" -ge 1 -a "${VISITED:-0}" -ge $((2 * IDLE * ${WALKS:-1}))
undrop "$NS"
stop_daemon "$DAEMON_PID"
check "the daemon exits 0" test $? = 0
finish
