#!/usr/bin/env bash
# Kernel TCP memory pressure holds send stalls, three graces at most while it
# lasts (this test's pressure never ends; test_pressure_end, its end): under
# pressure the kernel itself stalls live connections (a receiver here drops
# what it cannot queue, silently, and its window can read zero while it
# reads), for longer than a grace. Pressure is made real for the whole test:
# TCP's thresholds (tcp_mem, one for the whole machine) at one page, its hard
# limit as it was, and a frozen reader on a port no target selects holding
# megabytes: the kernel stays in pressure and refuses nothing for it.
# Restored at exit. Then, in targets: a blackholed peer (no_ack) and a frozen
# reader (zero_window) are held three graces and reaped at four, their lines
# saying held_s; the cause is still what the peer said since the stall began.
. "$(dirname "$0")/lib.sh"
require_env
command -v nft >/dev/null || skip "nft not installed (make deps)"

GRACE=$(scaled 2) INTERVAL=$(scaled 0.5)
# From the freeze (or the drop): the grace, a scan, a re-read one scan
# later, the reap; held, three graces more.
LIMIT=$(echo "$GRACE + 2 * $INTERVAL + $(scaled 2)" | bc)
HELD_LIMIT=$(echo "$LIMIT + 3 * $GRACE" | bc)
DEAD_DUR=$(dead_duration "$HELD_LIMIT")
new_netns NS pressure

# The holder, and the frozen reader's window closed before the pressure
# begins: under pressure a frozen reader's kernel may drop what it had
# advertised room for rather than close its window (then cause=no_ack).
pair "$NS" 5503 holder send read "$DEAD_DUR"
sig STOP "$CLI_PID"
start_daemon "$NS" daemon --port 5501 --port 5502 --stall-grace "$GRACE" --interval "$INTERVAL" \
	--metrics-file "$TMP/metrics.prom"
LOG=$TMP/daemon.out
pair "$NS" 5501 frozen send read "$DEAD_DUR"
FROZEN_SRV=$SRV_PID FROZEN_CLI=$CLI_PID
pair "$NS" 5502 halfopen send read "$DEAD_DUR"
HALF_SRV=$SRV_PID
sig STOP "$FROZEN_CLI"
T_STOP=$(date +%s.%N)
sleep "$(scaled 0.5)"

tcp_mem_pressure
# The daemon sees the pressure before the blackhole.
check "the daemon sees the kernel's TCP under memory pressure (gauge 1)" \
	pressure_gauge_is "$TMP/metrics.prom" 1

drop_to_port "$NS" 5502
T_DROP=$(date +%s.%N)
wait_dead "$HELD_LIMIT" "$FROZEN_SRV" "$HALF_SRV"
sig CONT "$FROZEN_CLI"

line() { grep "event=$1 " "$LOG" | grep "laddr=[^ ]*:$2 "; }
# held NAME PORT OUT T0 CAUSE: reaped with CAUSE, held three graces (its
# lines say so), woken after four graces from T0 and within the held limit.
held() {
	local at h
	expect_woken "$1: sender" "$3" "$4" "$HELD_LIMIT"
	at=$(field_of "$3" at)
	check "$1: not woken before four graces ($(echo "${at:-0} - $4" | bc) s, >= $(echo "4 * $GRACE - $INTERVAL" | bc) s)" \
		test "$(echo "${at:-0} - $4 >= 4 * $GRACE - $INTERVAL" | bc)" = 1
	h=$(line reap "$2" | grep -o ' held_s=[0-9.]*' | head -1 | cut -d= -f2)
	check "$1: reap line cause=$5 result=ok, held_s=${h:-none} (three graces: $(echo "3 * $GRACE" | bc))" \
		bash -c "$(declare -f line); LOG='$LOG'; line reap $2 | grep -q 'result=ok .*cause=$5 ' &&
			 test \"\$(echo '${h:-0} >= 3 * $GRACE - 0.001' | bc)\" = 1"
	check "$1: its stall line says held_s too" bash -c \
		"$(declare -f line); LOG='$LOG'; line stall $2 | grep -q ' held_s='"
}
held "blackholed peer" 5502 "$TMP/halfopen-server.out" "$T_DROP" no_ack
held "frozen reader" 5501 "$TMP/frozen-server.out" "$T_STOP" zero_window
check "nothing on the holder's port (no target selects it)" no_reap_for "$LOG" 5503
stop_daemon "$DAEMON_PID"
finish
