#!/usr/bin/env bash
# Kernel TCP memory pressure holds send stalls with no answer (no_ack), one
# grace at most: under pressure the kernel itself drops live connections'
# segments, and a live peer can go unacknowledged for longer than a grace.
# Pressure is made real for the whole test: TCP's thresholds (tcp_mem, one
# for the whole machine) at one page, its hard limit as it was, and a frozen
# reader on a port no target selects holding megabytes: the kernel stays in
# pressure and refuses nothing for it. Restored at exit. Then, in targets: a
# blackholed peer (no_ack) is held a grace and reaped at two, its lines say
# held_s; a frozen reader (zero_window: a peer heard, not reading) is reaped
# at one grace, not held.
. "$(dirname "$0")/lib.sh"
require_env
command -v nft >/dev/null || skip "nft not installed (make deps)"

GRACE=$(scaled 2) INTERVAL=$(scaled 0.5)
# From the freeze (or the drop): the grace, a scan, a re-read one scan later,
# the reap; held, one grace more.
LIMIT=$(echo "$GRACE + 2 * $INTERVAL + $(scaled 2)" | bc)
HELD_LIMIT=$(echo "$LIMIT + $GRACE" | bc)
DEAD_DUR=$(dead_duration "$HELD_LIMIT")
new_netns NS pressure

pair "$NS" 5503 holder send read "$DEAD_DUR"
HOLD_CLI=$CLI_PID
sig STOP "$HOLD_CLI"
OLD_MEM=$(cat /proc/sys/net/ipv4/tcp_mem)
CLEANUPS+=("echo '$OLD_MEM' > /proc/sys/net/ipv4/tcp_mem")
echo "1 1 $(echo "$OLD_MEM" | awk '{ print $3 }')" > /proc/sys/net/ipv4/tcp_mem

start_daemon "$NS" daemon --port 5501 --port 5502 --stall-grace "$GRACE" --interval "$INTERVAL" \
	--metrics-file "$TMP/metrics.prom"
LOG=$TMP/daemon.out
pair "$NS" 5501 frozen send read "$DEAD_DUR"
FROZEN_SRV=$SRV_PID FROZEN_CLI=$CLI_PID
pair "$NS" 5502 halfopen send read "$DEAD_DUR"
HALF_SRV=$SRV_PID
# The daemon sees the pressure before anything goes dead (10 s at most).
for _ in $(seq 1 100); do
	[ "$(metric "$TMP/metrics.prom" sockreap_tcp_memory_pressure 2>/dev/null)" = 1 ] && break
	sleep 0.1
done
check "the daemon sees the kernel's TCP under memory pressure (gauge 1)" \
	test "$(metric "$TMP/metrics.prom" sockreap_tcp_memory_pressure)" = 1

drop_to_port "$NS" 5502
T_DROP=$(date +%s.%N)
sig STOP "$FROZEN_CLI"
T_STOP=$(date +%s.%N)
wait_dead "$HELD_LIMIT" "$FROZEN_SRV" "$HALF_SRV"
sig CONT "$FROZEN_CLI"

expect_woken "frozen reader (not held): sender" "$TMP/frozen-server.out" "$T_STOP" "$LIMIT"
expect_woken "blackholed peer (held): sender" "$TMP/halfopen-server.out" "$T_DROP" "$HELD_LIMIT"
# Held: not woken before two graces (its clock ran from the drop, or later).
AT=$(field_of "$TMP/halfopen-server.out" at)
check "blackholed peer: not reaped before two graces ($(echo "${AT:-0} - $T_DROP" | bc) s, >= $(echo "2 * $GRACE - $INTERVAL" | bc) s)" \
	test "$(echo "${AT:-0} - $T_DROP >= 2 * $GRACE - $INTERVAL" | bc)" = 1
HELD=$(grep 'event=reap ' "$LOG" | grep 'laddr=[^ ]*:5502 ' | grep -o ' held_s=[0-9.]*' | head -1 | cut -d= -f2)
check "blackholed peer: reap line cause=no_ack result=ok, held_s=${HELD:-none} (a grace: $GRACE)" bash -c \
	"grep 'event=reap ' '$LOG' | grep 'laddr=[^ ]*:5502 ' | grep -q 'result=ok .*cause=no_ack ' &&
	 test \"\$(echo '${HELD:-0} >= $GRACE - 0.001' | bc)\" = 1"
check "blackholed peer: its stall line says held_s too" bash -c \
	"grep 'event=stall ' '$LOG' | grep 'laddr=[^ ]*:5502 ' | grep -q ' held_s='"
check "frozen reader: reap line cause=zero_window result=ok, not held" bash -c \
	"grep 'event=reap ' '$LOG' | grep 'laddr=[^ ]*:5501 ' | grep 'result=ok .*cause=zero_window ' | grep -vq 'held_s='"
check "nothing on the holder's port (no target selects it)" no_reap_for "$LOG" 5503
stop_daemon "$DAEMON_PID"
finish
