#!/usr/bin/env bash
# Per-target rules: each --target has its own grace and its own reap time;
# overlapping targets resolve to the first listed; a target's dry-run spares
# its sockets while another target's are reaped.
. "$(dirname "$0")/lib.sh"
require_env

DUR=7
new_netns NS rules
start_daemon "$NS" daemon --interval 0.25 \
	--target 'name=fast,port=5911,stall-grace=1' \
	--target 'name=slow,port=5912,stall-grace=3.5' \
	--target 'name=careful,port=5913,stall-grace=1,dry-run=yes' \
	--target 'name=wide,port=5913-5914,stall-grace=1'
LOG=$TMP/daemon.out

SRVS=() CLIS=()
for p in 5911 5912 5913 5914 5915; do
	pair "$NS" $p p$p send read $DUR
	SRVS+=("$SRV_PID") CLIS+=("$CLI_PID")
done
sleep 0.3
sig STOP "${CLIS[@]}"
wait_pids $((DUR + 5)) "${SRVS[@]}"
sig CONT "${CLIS[@]}"

# The daemon's own account of each reap: how long the socket had been
# stalled (its clock) when it was shut down.
stalled() { grep 'event=reap .*result=ok' "$LOG" | grep "laddr=127.0.0.1:$1 " | grep -o 'stalled_s=[0-9.]*' | head -1 | cut -d= -f2; }
within() { [ -n "$1" ] && [ "$(echo "$1 >= $2 && $1 <= $3" | bc)" = 1 ]; }
fast=$(stalled 5911) slow=$(stalled 5912)
expect_result "fast target (grace 1): reaped" "$TMP/p5911-server.out" error
expect_result "slow target (grace 3.5): reaped" "$TMP/p5912-server.out" error
check "fast reaped after its own grace, within one interval + 0.25 s (${fast}s in [1, 1.5])" within "$fast" 1 1.5
check "slow reaped after its own grace, within one interval + 0.25 s (${slow}s in [3.5, 4.0])" within "$slow" 3.5 4.0
check "so the fast one's sender woke first" test "$(echo "$(field_of "$TMP/p5911-server.out" at) < $(field_of "$TMP/p5912-server.out" at)" | bc)" = 1
check "log names the targets" bash -c "grep -q 'event=reap .*target=fast .*:5911 ' '$LOG' && grep -q 'event=reap .*target=slow .*:5912 ' '$LOG'"
expect_result "port 5913 belongs to the first matching target (dry-run): untouched" "$TMP/p5913-server.out" timeout
check "  logged as target=careful result=dry_run" grep -q 'event=reap .*result=dry_run .*target=careful .*:5913 ' "$LOG"
expect_result "port 5914 (second, overlapping target): reaped" "$TMP/p5914-server.out" error
expect_result "port 5915, in no target: untouched" "$TMP/p5915-server.out" timeout
check "  and never logged" bash -c "! grep -q ':5915 ' '$LOG'"
stop_daemon "$DAEMON_PID"
finish
