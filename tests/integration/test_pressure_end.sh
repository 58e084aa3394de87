#!/usr/bin/env bash
# When kernel TCP memory pressure ends, a send stall is held on until the
# retransmission timer its socket armed during the pressure fires (twice the
# RTO then), not only to the pressure's end: the timer backed off under
# pressure for a live peer as for a dead one, and until it fires the peer had
# no chance to answer. Once the pressure is over this holds past the three
# graces that bound it while the pressure lasts (its end + TCP_RTO_MAX at
# most): a live connection the pressure starved longer than the cap is not
# shut for it.
#
# Made real: pressure as in test_pressure (tcp_mem at one page, a frozen
# reader on a port no target selects holding megabytes); a peer blackholed
# under it; once `list` shows that its last retransmission left a timer due
# past the cap, the pressure is ended (tcp_mem restored, the holder killed,
# which frees its memory), before the cap's grace runs out. The reap line's
# held_s must then reach that timer, past the cap and measurably later than
# the pressure's end, and no further; the peer is still reaped, a grace after
# the timer.
. "$(dirname "$0")/lib.sh"
require_env
command -v nft >/dev/null || skip "nft not installed (make deps)"

GRACE=$(scaled 2.5) INTERVAL=$(scaled 0.5)
LIMIT=$(echo "$GRACE + 2 * $INTERVAL + $(scaled 2)" | bc)
CAP=$(echo "3 * $GRACE" | bc)
# The timer waited for is armed before four graces (the cap's grace) and, as
# the RTO doubles, due before twice that.
HELD_MAX=$(echo "$LIMIT + 8 * $GRACE" | bc)
DEAD_DUR=$(dead_duration "$HELD_MAX")
# How long the timer must still have to run when the pressure is ended, and
# the margin the comparisons allow (a scan, the list call, the kill).
AHEAD=$(scaled 1.5) MARGIN=$(scaled 0.5)
new_netns NS pressend

pair "$NS" 5523 holder send read "$DEAD_DUR"
HOLDER_CLI=$CLI_PID
sig STOP "$HOLDER_CLI"
start_daemon "$NS" daemon --port 5521 --stall-grace "$GRACE" --interval "$INTERVAL" \
	--metrics-file "$TMP/metrics.prom"
LOG=$TMP/daemon.out
# Paced, to a reader that keeps up: data always queued, acknowledged until
# the drop.
SERVER_EXTRA=(--rate 1048576 --chunk 16384)
pair "$NS" 5521 dropped send read "$DEAD_DUR"
DROP_SRV=$SRV_PID

tcp_mem_pressure
check "the daemon sees the kernel's TCP under memory pressure (gauge 1)" \
	pressure_gauge_is "$TMP/metrics.prom" 1

drop_to_port "$NS" 5521
T_DROP=$(date +%s.%N)

# Wait for a retransmission whose timer is due past the cap (and AHEAD s past
# now): the RTO doubles from 0.2 s on each timeout, and one comes before four
# graces. DUE: when, in s after the drop.
REM=-1 DUE=0
for _ in $(seq 1 $((5 * $(scaled_int 20)))); do
	"$SOCKREAP" list --json --control-socket "$TMP/daemon.sock" >"$TMP/list.json" 2>/dev/null || true
	T_LIST=$(date +%s.%N)
	REM=$(python3 - "$TMP/list.json" <<'PY'
import json, sys
try:
    rows = [r for r in json.load(open(sys.argv[1])) if r["laddr"].endswith(":5521")]
except (OSError, ValueError):
    rows = []
r = rows[0] if rows else {}
a, t = r.get("since_retransmit_s"), r.get("retransmit_timeout_s")
print(-1 if a is None or t is None else round(t - a, 3))
PY
)
	DUE=$(echo "$T_LIST + $REM - $T_DROP" | bc)
	[ "$(echo "$REM >= $AHEAD && $DUE >= $CAP + $MARGIN" | bc)" = 1 ] && break
	[ "$(echo "$T_LIST - $T_DROP > 4 * $GRACE" | bc)" = 1 ] && break
	sleep 0.2
done
echo "  list: the last retransmission's timer fires ${REM} s after $T_LIST, ${DUE} s after the drop (cap $CAP s)"
check "list: a retransmission under pressure left a timer due past the cap (${DUE} >= $CAP + $MARGIN s), ${REM} s ahead (>= $AHEAD)" \
	test "$(echo "$REM >= $AHEAD && $DUE >= $CAP + $MARGIN" | bc)" = 1

# End the pressure: the thresholds back, the holder's memory freed.
echo "$OLD_TCP_MEM" > /proc/sys/net/ipv4/tcp_mem
kill -KILL "$HOLDER_CLI" 2>/dev/null
check "the daemon sees the pressure end (gauge 0)" pressure_gauge_is "$TMP/metrics.prom" 0
T_CALM=$(date +%s.%N)

# Reaped a grace after the timer fires: the hold ends there, not at the cap.
WOKEN=$(echo "$DUE + $LIMIT + $MARGIN" | bc)
wait_dead "$WOKEN" "$DROP_SRV"
expect_woken "blackholed peer: sender" "$TMP/dropped-server.out" "$T_DROP" "$WOKEN"
H=$(grep 'event=reap ' "$LOG" | grep 'laddr=[^ ]*:5521 ' | grep -o ' held_s=[0-9.]*' | head -1 | cut -d= -f2)
# Held to the pressure's end alone, held_s would be at most END (the stall's
# clock started at the drop, the daemon last saw pressure before T_CALM); to
# the timer, at least WANT.
END=$(echo "$T_CALM - $T_DROP" | bc)
WANT=$(echo "$DUE - $MARGIN" | bc)
check "the test separates the two holds (timer $WANT s > pressure's end $END s + $MARGIN)" \
	test "$(echo "$WANT > $END + $MARGIN" | bc)" = 1
check "reap line: result=ok, held_s=${H:-none} reaches the timer past the cap (>= $WANT s, cap $CAP s, pressure's end $END s)" \
	bash -c "grep 'event=reap ' '$LOG' | grep 'laddr=[^ ]*:5521 ' | grep -q 'result=ok ' &&
		 test \"\$(echo '${H:-0} >= $WANT && ${H:-0} > $CAP' | bc)\" = 1"
# No further: the timer fires late by up to an eighth of its length (the
# kernel's timer wheel), and that length is at most DUE.
NOT_PAST=$(echo "$DUE * 1.125 + $MARGIN" | bc)
check "held_s not past the timer (${H:-none} <= $NOT_PAST s: due $DUE s, the timer wheel's slack)" \
	test "$(echo "${H:-0} <= $NOT_PAST" | bc)" = 1
check "nothing on the holder's port (no target selects it)" no_reap_for "$LOG" 5523
stop_daemon "$DAEMON_PID"
finish
