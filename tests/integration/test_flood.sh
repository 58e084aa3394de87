#!/usr/bin/env bash
# Nobody can blind the daemon. An unprivileged user opens 100 000 idle
# loopback connections in its scope (200 000 sockets, split over processes
# for RLIMIT_NOFILE; 20 000 connections in an emulated guest), then a reader
# freezes: on the socket-storage path (Linux 5.11+) there is no capacity to
# fill, the frozen one is reaped within grace + interval + 1 s, and `list`
# still answers. On the hash store (before 5.11, or --socket-state hash),
# its capacity set to half the flood's sockets, the documented behaviour:
# past --map-capacity new sockets go untracked, counted
# (sockreap_map_full_total) and warned about, so the wedge formed after the
# flood is not reaped.
. "$(dirname "$0")/lib.sh"
require_env
id nobody >/dev/null 2>&1 || skip "no user nobody"

CONNS=$BUILD/tests/conns
# In an emulated guest (SR_TIME_SCALE > 1) 20 000: connect() under TCG
# makes about 600 a second, and the point there is the kernel's path, not
# the scale (the host run shows that).
if [ "${SR_TIME_SCALE:-1}" = 1 ]; then N=${FLOOD_CONNS:-100000}; else N=${FLOOD_CONNS:-20000}; fi
GRACE=$(scaled 2) INTERVAL=$(scaled 0.5) DUR=$(scaled_int 12)
# The hash store's capacity: half the flood's sockets, so that the flood
# fills it whatever N is.
CAPACITY=$N
new_netns NS flood
# conns binds its clients to 127.0.0.2-17: sixteen source addresses, room
# for 28 000 ephemeral ports each.
for a in $(seq 2 17); do ip -n "$NS" addr add "127.0.0.$a/8" dev lo 2>/dev/null; done

# flood NAME PORT_BASE STORE_ARGS...: the flood, a daemon, a frozen reader.
flood() {
	local name=$1 base=$2; shift 2
	start_daemon "$NS" "$name" --stall-grace "$GRACE" --interval "$INTERVAL" \
		--map-capacity "$CAPACITY" --metrics-file "$TMP/$name.prom" "$@"
	STORE=$(grep -m1 -o 'store=[a-z]*' "$TMP/$name.out" | cut -d= -f2)
	bg "$name-flood" nsenter --net="/run/netns/$NS" setpriv --reuid=nobody --regid=nogroup \
		--clear-groups "$CONNS" --count "$N" --base-port "$base" --duration $((DUR + $(scaled_int 120)))
	FLOOD=$BG_PID
	wait_for "$TMP/$name-flood.out" '^ready' 120 ||
		{ fail "$name: $N connections did not open: $(sort -u "$TMP/$name-flood.out" | head -5 | tr '\n' ' ')"; return 1; }
	echo "  $name (store=$STORE): $(grep -o 'conns=[0-9]* .*setup_s=[0-9.]*' "$TMP/$name-flood.out")"
	sleep "$(scaled 1)"
	pair "$NS" $((base - 1)) "$name-wedge" send read "$DUR"
	WEDGE_SRV=$SRV_PID WEDGE_CLI=$CLI_PID
	sleep "$(scaled 0.3)"
	sig STOP "$WEDGE_CLI"
	T_STOP=$(date +%s.%N)
}


echo "-- the store this kernel offers"
flood auto 21000 || { finish; exit 1; }
if [ "$STORE" = storage ]; then
	wait_pids $((DUR + 5)) "$WEDGE_SRV"
	# The limit: grace + interval + 1.
	expect_woken "the reader frozen after the flood: its sender" "$TMP/auto-wedge-server.out" "$T_STOP" \
		"$(echo "$GRACE + $INTERVAL + $(scaled 1)" | bc)"
	tracked=$(metric "$TMP/auto.prom" sockreap_sockets_tracked)
	check "every socket tracked: $tracked (>= $((2 * N)))" test "${tracked:-0}" -ge $((2 * N))
	check "no capacity reported, nothing left untracked" \
		test "$(metric "$TMP/auto.prom" sockreap_map_capacity) $(metric "$TMP/auto.prom" sockreap_map_full_total)" = "0 0"
	t0=$(date +%s.%N)
	lines=$(in_ns "$NS" "$SOCKREAP" list --control-socket "$TMP/auto.sock" 2>"$TMP/auto-list.err" | wc -l)
	check "list still answers: $lines lines (>= $((2 * N))) in $(echo "$(date +%s.%N) - $t0" | bc) s $(head -c 200 "$TMP/auto-list.err")" \
		test "$lines" -ge $((2 * N))
	# A reader slower than the daemon's scan loop gets the whole answer too
	# (it comes as a file: the daemon never waits for the reader, and never
	# cuts it short; a 6.1 guest once got 32 520 of 40 001 lines when the
	# daemon wrote into the socket and gave a reader 0.5 s).
	lines=$(in_ns "$NS" "$SOCKREAP" list --control-socket "$TMP/auto.sock" 2>>"$TMP/auto-list.err" |
		{ IFS= read -r _ && sleep "$(scaled 2)" && echo $(($(wc -l) + 1)); })
	check "a reader that pauses 2 s after the first line gets every line: $lines (>= $((2 * N)))" \
		test "${lines:-0}" -ge $((2 * N))
	sig CONT "$WEDGE_CLI"
	sig TERM "$FLOOD"; wait_pids 30 "$FLOOD"
	stop_daemon "$DAEMON_PID"
	echo "-- the hash store (kernels before 5.11, or --socket-state hash)"
	flood hash 23000 --socket-state hash || { finish; exit 1; }
fi
# The hash store: full before the wedge formed; documented, counted, warned.
sleep "$(echo "$GRACE + $INTERVAL + $(scaled 1)" | bc)"
name=$([ "$STORE" = hash ] && [ -e "$TMP/hash.prom" ] && echo hash || echo auto)
full=$(metric "$TMP/$name.prom" sockreap_map_full_total)
check "hash store: the flood filled it (sockreap_map_full_total=$full, capacity $(metric "$TMP/$name.prom" sockreap_map_capacity))" \
	test "${full:-0}" -gt 0
check "hash store: the overflow is warned about" grep -q 'socket map full' "$TMP/$name.out"
check "hash store: the wedge formed after the flood is not tracked, so not reaped (documented)" \
	bash -c "alive $WEDGE_SRV 2>/dev/null || ! grep -q 'event=reap' '$TMP/$name.out'"
lines=$(in_ns "$NS" "$SOCKREAP" list --control-socket "$TMP/$name.sock" | wc -l)
check "hash store: list still answers ($lines lines)" test "$lines" -gt 1
sig CONT "$WEDGE_CLI"
stop_daemon "$DAEMON_PID"
check "the daemon exits 0" test $? = 0
finish
