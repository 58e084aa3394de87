#!/usr/bin/env bash
# sendfile(2) behind a zero window to a peer that then vanished, on the
# default send path. Before Linux 6.5 sendfile/splice/kTLS send through
# do_tcp_sendpages(), not tcp_sendmsg_locked(): the daemon hooks it with
# fentry where the kernel allows, or else relies on the backstop walk, and
# event=ready says which (sendfile=send_path|fentry|backstop). The sender
# fills the peer's window with nothing left unacknowledged, nft then drops
# the peer's packets, and the sender writes with sendfile(): no ACK, no
# retransmission follows, only the hook (or the walk) sees the queue. It is
# reaped within grace + interval + 1 s where a hook sees it (within the
# walk's period more where only the walk does), and the blocked sendfile()
# wakes with an error.
. "$(dirname "$0")/lib.sh"
require_env
command -v nft >/dev/null || skip "nft not installed (make deps)"

GRACE=$(scaled 1.5) INTERVAL=$(scaled 0.5) PERIOD=10 # the backstop walk's, not scaled
DUR=$(echo "x = $PERIOD + 3 * $GRACE + $(scaled 10); scale=0; x / 1" | bc)
new_netns NS sendfile
start_daemon "$NS" daemon --stall-grace "$GRACE" --interval "$INTERVAL"
LOG=$TMP/daemon.out
how=$(grep -m1 'event=ready' "$LOG" | grep -o 'sendfile=[a-z_]*' | cut -d= -f2)
echo "  this kernel: $(grep -m1 -o 'send_path=[a-z]* sendfile=[a-z_]*' "$LOG")"
check "event=ready says how sendfile writes are seen (sendfile=${how:-?})" \
	grep -Eq 'event=ready .*sendfile=(send_path|fentry|backstop) ' "$LOG"

zerowin_pair "$NS" 5961 "$DUR" --sendfile ||
	{ fail "the sender never saw a zero window with nothing outstanding"; finish; exit 1; }
drop_to_port "$NS" "$ZW_PORT"
sig USR1 "$ZW_SRV"
SIGNALLED=$(date +%s.%N)
wait_pids "$DUR" "$ZW_SRV"

expect_result "the sendfile() sender behind the zero window is woken" "$TMP/zerowin-server.out" error
check "reaped for send_stall" reap_ok_for "$LOG" "$ZW_PORT"
at=$(field_of "$TMP/zerowin-server.out" at)
LIMIT=$(echo "$GRACE + $INTERVAL + $(scaled 1)" | bc)
[ "$how" = backstop ] && LIMIT=$(echo "$PERIOD + $LIMIT + $INTERVAL" | bc)
check "woken $(echo "${at:-0} - $SIGNALLED" | bc) s after the sendfile() (<= $LIMIT, sendfile=$how)" \
	test "$(echo "${at:-0} > 0 && ${at:-0} - $SIGNALLED <= $LIMIT" | bc)" = 1
undrop "$NS"
stop_daemon "$DAEMON_PID"
check "the daemon exits 0" test $? = 0
finish
