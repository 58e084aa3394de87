#!/usr/bin/env bash
# Why a connection died, from the kernel's own state. A reader frozen with
# SIGSTOP: its kernel keeps answering window probes with a zero window ->
# cause=zero_window. A peer whose packets nft drops: nothing comes back while
# the sender retransmits -> cause=no_ack. Seen in `list` while the clock runs,
# then on the stall and reap lines and in the metrics.
. "$(dirname "$0")/lib.sh"
require_env
command -v nft >/dev/null || skip "nft not installed (make deps)"

GRACE=$(scaled 3) INTERVAL=$(scaled 0.5) DUR=$(scaled_int 10)
new_netns NS cause
start_daemon "$NS" daemon --stall-grace "$GRACE" --interval $INTERVAL --metrics-file "$TMP/metrics.prom"
LOG=$TMP/daemon.out

pair "$NS" 6401 frozen send read $DUR
FROZEN_SRV=$SRV_PID FROZEN_CLI=$CLI_PID
# Paced at 1 MB/s to a reader that keeps up: its window never closes, so the
# last word the sender heard is an open window, whatever the scheduler does
# to the reader. Once dropped the sender hears nothing at all.
SERVER_EXTRA=(--rate 1048576 --chunk 16384)
pair "$NS" 6402 dropped send read $DUR
DROPPED_SRV=$SRV_PID
drop_to_port "$NS" 6402
sleep "$(scaled 0.3)"
sig STOP "$FROZEN_CLI"

# While the clock runs: list shows the cause and its evidence.
sleep "$(echo "$GRACE * 0.6" | bc)"
"$SOCKREAP" list --json --control-socket "$TMP/daemon.sock" >"$TMP/list.json"
row() { python3 -c 'import json,sys; r=[x for x in json.load(open(sys.argv[1])) if x["laddr"].endswith(":"+sys.argv[2])]; print(json.dumps(r[0]) if r else "{}")' "$TMP/list.json" "$1"; }
field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1]).get(sys.argv[2]))' "$1" "$2"; }
FR=$(row 6401) DR=$(row 6402)
echo "  list: $FR"
echo "  list: $DR"
check "list, frozen reader: cause zero_window, send window 0" \
	test "$(field "$FR" cause) $(field "$FR" snd_wnd_bytes)" = "zero_window 0"
check "list, dropped peer: cause no_ack" test "$(field "$DR" cause)" = no_ack
check "list, dropped peer: retransmissions counted ($(field "$DR" retransmits))" \
	test "$(field "$DR" retransmits)" -gt 0
"$SOCKREAP" list --control-socket "$TMP/daemon.sock" >"$TMP/list.txt"
check "list table has the CAUSE column" grep -q 'CAUSE' "$TMP/list.txt"
# The dropped peer's last retransmission and the timer it left (twice the RTO,
# TCP_RTO_MAX at most); the frozen reader's kernel answers its probes: none.
check "list, dropped peer: its last retransmission ($(field "$DR" since_retransmit_s) s ago) and timer ($(field "$DR" retransmit_timeout_s) s) known" \
	python3 -c 'import json,sys; r=json.loads(sys.argv[1]); a=r["since_retransmit_s"]; t=r["retransmit_timeout_s"]; sys.exit(not (a is not None and 0 <= a <= float(sys.argv[2]) and t is not None and 0 < t <= 120))' "$DR" "$GRACE"
check "list, frozen reader: retransmission fields agree with its count ($(field "$FR" retransmits): none, null)" \
	python3 -c 'import json,sys; r=json.loads(sys.argv[1]); n=r["retransmits"]==0; sys.exit(not ((r["since_retransmit_s"] is None) == n and (r["retransmit_timeout_s"] is None) == n))' "$FR"

# The senders end when reaped (or at their deadline).
wait_pids $((DUR + 5)) "$FROZEN_SRV" "$DROPPED_SRV"
sig CONT "$FROZEN_CLI"
undrop "$NS"

check "stall line: frozen reader -> cause=zero_window" grep -Eq 'event=stall reason=send_stall cause=zero_window .*laddr=127.0.0.1:6401 ' "$LOG"
check "reap line: frozen reader -> cause=zero_window, result=ok" \
	grep -Eq 'event=reap reason=send_stall result=ok method=shutdown cause=zero_window .*laddr=127.0.0.1:6401 .*snd_wnd=0 ' "$LOG"
check "stall line: dropped peer -> cause=no_ack" grep -Eq 'event=stall reason=send_stall cause=no_ack .*laddr=127.0.0.1:6402 ' "$LOG"
check "reap line: dropped peer -> cause=no_ack, result=ok" \
	grep -Eq 'event=reap reason=send_stall result=ok method=shutdown cause=no_ack .*laddr=127.0.0.1:6402 ' "$LOG"
sleep "$(scaled 0.6)"
check "metrics: one zero_window and one no_ack reap" bash -c \
	"grep -q '^sockreap_reap_causes_total{reason=\"send_stall\",cause=\"zero_window\"} 1$' '$TMP/metrics.prom' &&
	 grep -q '^sockreap_reap_causes_total{reason=\"send_stall\",cause=\"no_ack\"} 1$' '$TMP/metrics.prom'"
check "metrics: the existing reaps_total is unchanged in form" \
	grep -q '^sockreap_reaps_total{reason="send_stall",result="ok"} 2$' "$TMP/metrics.prom"
stop_daemon "$DAEMON_PID"
finish
