#!/usr/bin/env bash
# Reap storms: COUNT connections stall at once (their clients never read)
# and every one is shut down within grace + interval + 1 s of the moment all
# queues were full: held by one owner, spread over OWNERS owners, on the
# tracepoint path (where the kernel has it) and on the sweep path.
. "$(dirname "$0")/lib.sh"
require_env

# In a guest (SR_TIME_SCALE) every time is scaled, the reaping budget
# twice over: the budget is CPU work (2 000 pidfd_getfd + shutdown + log
# line), which TCG slows about tenfold, not threefold (bullseye, 2000 reaps:
# 3.1 s after the first, against a scaled budget of 3 s).
COUNT=${STORM_COUNT:-2000} OWNERS=${STORM_OWNERS:-20}
GRACE=$(scaled 2) INTERVAL=$(scaled 0.25) DUR=$(scaled_int 60)
if [ "${SR_TIME_SCALE:-1}" = 1 ]; then BUDGET=1; else BUDGET=$(scaled 2); fi
ulimit -n $((COUNT + 1024)) 2>/dev/null || skip "cannot raise the fd limit to $((COUNT + 1024)) (each side holds COUNT)"
LIMIT=$(echo "$GRACE + $INTERVAL + $BUDGET" | bc)

# storm NAME PORT PROCS DAEMON_ARGS...: one storm against a fresh daemon.
storm() {
	local name=$1 port=$2 procs=$3 wedged last n
	shift 3
	start_daemon "$NS" "$name" --stall-grace $GRACE --interval $INTERVAL "$@"
	bg_ns "$name-flood" "$NS" "$TCPDRV" server --port "$port" --mode flood --count "$COUNT" \
		--procs "$procs" --duration $DUR
	wait_for "$TMP/$name-flood.out" '^listening' 5 || { fail "$name: flood server did not listen"; return; }
	bg_ns "$name-clients" "$NS" "$TCPDRV" client --port "$port" --mode holdall --count "$COUNT" --duration $DUR
	# Each flood process prints "reaped=N of=M last_at=T" when all of its sockets are shut.
	for ((i = 0; i < DUR * 4; i++)); do
		[ "$(grep -c '^reaped=' "$TMP/$name-flood.out")" -ge "$procs" ] && break
		sleep 0.25
	done
	wedged=$(grep -o '^wedged=[0-9]* at=[0-9.]*' "$TMP/$name-flood.out" | awk -F'at=' '{ print $2 }' | sort -n | tail -1)
	last=$(grep -o 'last_at=[0-9.]*' "$TMP/$name-flood.out" | cut -d= -f2 | sort -n | tail -1)
	n=$(grep -o '^reaped=[0-9]*' "$TMP/$name-flood.out" | cut -d= -f2 | paste -sd+ | bc)
	check "$name: all $COUNT sockets of $procs owner(s) reaped (got ${n:-0})" test "${n:-0}" = "$COUNT"
	lat=$(echo "${last:-0} - ${wedged:-0}" | bc)
	check "$name: the last one ${lat}s after all queues were full (<= grace+interval+budget = $LIMIT)" \
		test "$(echo "${last:-0} > 0 && $lat <= $LIMIT" | bc)" = 1
	check "$name: one reap line per socket" test "$(grep -c "event=reap reason=send_stall result=ok .*laddr=127.0.0.1:$port " "$TMP/$name.out")" = "$COUNT"
	stop_daemon "$DAEMON_PID"
	sig KILL $(printf '%s\n' "${PIDS[@]}")
	wait_pids 5 $(printf '%s\n' "${PIDS[@]}")
}

new_netns NS storm
echo "-- one owner, $COUNT connections, default send path"
storm one 6201 1
echo "-- $OWNERS owners, $COUNT connections"
storm many 6202 "$OWNERS"
echo "-- one owner, $COUNT connections, --send-path sweep"
storm sweep 6203 1 --send-path sweep
finish
