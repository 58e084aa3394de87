# lib.sh - shared helpers for the integration tests (sourced, bash).
#
# Each test runs real TCP pairs and the real daemon inside network namespaces
# it creates, so the daemon (netns-scoped by default) never sees the machine's
# own connections. Everything created is registered and removed by the EXIT
# trap, pass or fail. Exit status: 0 pass, 1 fail, 77 skipped (not root, no BTF).

set -u

BUILD=${BUILD:-build}
# One knob for slow machines (an emulated guest runs 5-20x slower): every
# grace, interval, duration and wait a test uses is multiplied by it.
SR_TIME_SCALE=${SR_TIME_SCALE:-1}
scaled() { echo "$1 * $SR_TIME_SCALE" | bc; }
# A whole number of seconds, at least 1, scaled: for loop bounds.
scaled_int() { local v; v=$(echo "x = $1 * $SR_TIME_SCALE + 0.999; scale=0; x / 1" | bc); echo $((v < 1 ? 1 : v)); }
SOCKREAP=$BUILD/sockreap
TCPDRV=$BUILD/tests/tcpdrv
TMP=$(mktemp -d /tmp/sockreap-test.XXXXXX)
NAMESPACES=()
PIDS=()
CLEANUPS=()
. "$(dirname "${BASH_SOURCE[0]}")/../lib/tally.sh"

# ours PID: is it still a child of this script? A pid that has exited and
# been reaped may already belong to someone else (another test run, a
# benchmark): never signal it.
ours() { [ "$(awk '{ print $4 }' "/proc/$1/stat" 2>/dev/null)" = "$$" ]; }

# sig SIGNAL PID...: signal those of the pids that are still ours.
sig() {
	local s=$1 p; shift
	for p in "$@"; do ours "$p" && kill -"$s" "$p" 2>/dev/null; done
	return 0
}

# After a failed check: each daemon's last decisions and last lines, in the
# test's own output. CI shows that output, not the files it keeps, so a
# failure there must explain itself here.
DAEMON_LOGS=()
daemon_tails() {
	local f
	for f in "${DAEMON_LOGS[@]}"; do
		[ -f "$f" ] || continue
		echo "  -- ${f##*/}: last decisions, then last lines"
		grep -E 'event=(stall|reap) ' "$f" | tail -n 12 | sed 's/^/    /'
		echo "    ..."
		tail -n 6 "$f" | sed 's/^/    /'
	done
}

cleanup() {
	local p ns c
	# Only the test's own shell cleans up: a subshell that inherited the trap
	# (a watchdog killed with SIGTERM) must not tear the test down under it.
	[ "$BASHPID" = "$$" ] || return 0
	for p in "${PIDS[@]}"; do sig CONT "$p"; sig KILL "$p"; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	for c in "${CLEANUPS[@]}"; do eval "$c" 2>/dev/null; done
	for ns in "${NAMESPACES[@]}"; do ip netns del "$ns" 2>/dev/null; done
	[ "$FAILS" -gt 0 ] && daemon_tails
	if [ "$FAILS" -gt 0 ] && [ -n "${SR_KEEP_FAILED:-}" ]; then
		# In a guest, whose /tmp dies with it: the logs (not the bulk data)
		# go to the results share, which the host keeps (tests/kernels/run.sh).
		local dst=$SR_KEEP_FAILED/$(basename "$0" .sh).$$
		mkdir -p "$dst" && (cd "$TMP" && find . -type f -size -16M -exec cp --parents {} "$dst" \; 2>/dev/null)
		echo "  logs kept in the results share: kept/${dst##*/}"
		rm -rf "$TMP"
	else
		keep_tmp "$TMP"
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

require_env() {
	[ "$(id -u)" = 0 ] || skip "needs root"
	[ -r /sys/kernel/btf/vmlinux ] || skip "kernel has no BTF"
	[ -x "$SOCKREAP" ] && [ -x "$TCPDRV" ] || { echo "FAIL: build first ($SOCKREAP, $TCPDRV)"; exit 1; }
}

# new_netns VAR SUFFIX: create a namespace with loopback up, name in $VAR.
# (Not a $(...) function: the cleanup list must be updated in this shell.)
new_netns() {
	local ns="srt-$$-$2"
	ip netns add "$ns" || { echo "FAIL: ip netns add $ns"; exit 1; }
	NAMESPACES+=("$ns")
	ip -n "$ns" link set lo up
	printf -v "$1" '%s' "$ns"
}

# in_ns NS CMD...: run in the namespace's network stack, keeping the host's
# mounts (/sys/fs/cgroup, /sys/fs/bpf), unlike `ip netns exec`.
in_ns() { local ns=$1; shift; nsenter --net="/run/netns/$ns" "$@"; }

# bg NAME CMD...: start an executable (not a function: BG_PID must be the
# process itself, for kill -STOP) in the background, output to $TMP/NAME.out.
bg() {
	local name=$1; shift
	"$@" >"$TMP/$name.out" 2>&1 &
	BG_PID=$!
	PIDS+=("$BG_PID")
}

# bg_ns NAME NS CMD...: bg inside a namespace; nsenter execs CMD, same pid.
bg_ns() {
	local name=$1 ns=$2; shift 2
	bg "$name" nsenter --net="/run/netns/$ns" "$@"
}

# wait_for FILE REGEX TIMEOUT_S: poll until the file has a matching line.
wait_for() {
	local f=$1 re=$2 end
	end=$((SECONDS + $(scaled_int "$3")))
	# Bounded by the clock, not a count of polls: a poll is slow in a guest.
	while [ "$SECONDS" -lt "$end" ]; do
		grep -Eq -- "$re" "$f" 2>/dev/null && return 0
		sleep 0.05
	done
	grep -Eq -- "$re" "$f" 2>/dev/null
}

# pressure_gauge_is FILE V: the metrics file FILE shows
# sockreap_tcp_memory_pressure V within 10 s (scaled).
pressure_gauge_is() { wait_for "$1" "^sockreap_tcp_memory_pressure $2\$" 10; }

# tcp_mem_pressure: the kernel's TCP memory thresholds at one page (the hard
# limit kept), so any queued data puts TCP under memory pressure; the old
# values in OLD_TCP_MEM, restored at cleanup.
tcp_mem_pressure() {
	OLD_TCP_MEM=$(cat /proc/sys/net/ipv4/tcp_mem)
	CLEANUPS+=("echo '$OLD_TCP_MEM' > /proc/sys/net/ipv4/tcp_mem")
	echo "1 1 $(echo "$OLD_TCP_MEM" | awk '{ print $3 }')" > /proc/sys/net/ipv4/tcp_mem
}

# start_daemon NS NAME ARGS...: run sockreap in NS, wait for event=ready.
# DAEMON_ENV=(VAR=value ...) adds environment variables.
DAEMON_ENV=()
start_daemon() {
	local ns=$1 name=$2; shift 2
	bg_ns "$name" "$ns" env "${DAEMON_ENV[@]}" "$SOCKREAP" --metrics-addr off \
		--control-socket "$TMP/$name.sock" "$@"
	DAEMON_PID=$BG_PID
	DAEMON_LOGS+=("$TMP/$name.out")
	if ! wait_for "$TMP/$name.out" 'event.{0,3}[=:].{0,1}ready' 15; then
		echo "FAIL: daemon $name did not get ready:"; sed 's/^/    /' "$TMP/$name.out"
		exit 1
	fi
}

# stop_daemon PID [SIG]: signal it and return its exit status (137 if it had
# to be killed after 10 s).
stop_daemon() {
	local pid=$1 signal=${2:-TERM} dog rc
	sig "$signal" "$pid"
	(trap - EXIT INT TERM; sleep 10; kill -KILL "$pid" 2>/dev/null) &
	dog=$!
	wait "$pid" 2>/dev/null; rc=$?
	kill -KILL "$dog" 2>/dev/null; wait "$dog" 2>/dev/null
	return $rc
}

# pair NS PORT NAME SERVER_MODE CLIENT_MODE DURATION [CLIENT_EXTRA...]:
# server and client of one connection; sets SRV_PID and CLI_PID.
# SERVER_EXTRA=(...) before the call adds server options for that call.
SERVER_EXTRA=()
pair() {
	local ns=$1 port=$2 name=$3 smode=$4 cmode=$5 dur=$6; shift 6
	bg_ns "$name-server" "$ns" "$TCPDRV" server --port "$port" --mode "$smode" --duration "$dur" \
		"${SERVER_EXTRA[@]}"
	SERVER_EXTRA=()
	SRV_PID=$BG_PID
	wait_for "$TMP/$name-server.out" '^listening' 5 || { echo "FAIL: $name server did not listen"; exit 1; }
	bg_ns "$name-client" "$ns" "$TCPDRV" client --port "$port" --mode "$cmode" --duration "$dur" "$@"
	CLI_PID=$BG_PID
	wait_for "$TMP/$name-client.out" '^connected' 5 || { echo "FAIL: $name client did not connect"; exit 1; }
}

# zerowin_pair NS PORT DUR [SERVER ARGS...]: a zerowin sender (tcpdrv) on
# PORT and a reader that never reads, up to the sender's "window_closed".
# A pair whose reader dropped data it had offered room for ends "stuck"
# (tcpdrv says why): no setup for a write behind the window, so it is
# stopped and a new pair started on the next port, three tries in all, each
# said in the output. Sets ZW_PORT and ZW_SRV; returns 1 if none got there.
zerowin_pair() {
	local ns=$1 port=$2 dur=$3 try; shift 3
	for try in 1 2 3; do
		ZW_PORT=$((port + try - 1))
		SERVER_EXTRA=("$@")
		pair "$ns" "$ZW_PORT" zerowin zerowin hold "$dur"
		ZW_SRV=$SRV_PID
		wait_for "$TMP/zerowin-server.out" '^(window_closed|stuck)' 10 || return 1
		grep -q '^window_closed' "$TMP/zerowin-server.out" && return 0
		echo "  try $try on port $ZW_PORT: the reader dropped data it had offered room for ($(grep -m1 '^stuck' "$TMP/zerowin-server.out")); a new pair"
		sig KILL "$CLI_PID" "$ZW_SRV"
		mv "$TMP/zerowin-server.out" "$TMP/zerowin-server.try$try.out"
		mv "$TMP/zerowin-client.out" "$TMP/zerowin-client.try$try.out"
	done
	return 1
}

# drop_to_port NS PORT: a half-open peer. In NS, drop every packet sent to
# PORT: the peer's ACKs to a server on PORT never arrive. Undone at exit or
# by undrop NS.
drop_to_port() {
	nsenter --net="/run/netns/$1" nft -f - <<NFT
table inet srt {
	chain out {
		type filter hook output priority 0;
		tcp dport $2 drop
	}
}
NFT
}
undrop() { nsenter --net="/run/netns/$1" nft delete table inet srt; }

# metric FILE NAME: the value of an unlabelled sample in a metrics file.
metric() { awk -v m="$2" '$1 == m { print $2 }' "$1"; }

# result FILE: the last result= line's result.
result_of() { grep -o '^result=[a-z]*' "$1" | tail -1 | cut -d= -f2; }
field_of() { grep '^result=' "$1" | tail -1 | grep -o "$2=[^ ]*" | cut -d= -f2; }

expect_result() { # NAME FILE WANT
	local got; got=$(result_of "$2")
	if [ "$got" = "$3" ]; then ok "$1: result=$got"; else fail "$1: result=${got:-none}, want $3 ($(tail -1 "$2"))"; fi
}

# dead_duration LIMIT: the own deadline of a connection the test expects
# reaped within LIMIT s (scaled) of the moment it makes it dead: far past the
# limit, so that a slow setup (several pairs under TCG on a loaded machine)
# eats nothing of the time the daemon is given. The verdict is
# expect_woken's, counted from that moment.
dead_duration() { awk -v l="$1" -v s="$SR_TIME_SCALE" 'BEGIN { printf "%d", l + 60 * s }'; }

# wait_dead LIMIT PID...: wait for the senders made dead, at most LIMIT s
# (scaled already) and 6 s (scaled by wait_pids) more; what is left then is
# killed.
wait_dead() {
	local limit=$1; shift
	wait_pids "$(awk -v l="$limit" -v s="$SR_TIME_SCALE" 'BEGIN { printf "%d", l / s + 6 }')" "$@"
}

# expect_woken NAME FILE T0 LIMIT: the sender ended with an error, at most
# LIMIT s after T0 (date +%s.%N, taken when the test made it dead), by the
# sender's own timestamp: no race between two deadlines.
expect_woken() {
	local got at lat
	got=$(result_of "$2") at=$(field_of "$2" at)
	if [ "$got" != error ] || [ -z "$at" ]; then
		fail "$1: result=${got:-none}, want error ($(tail -1 "$2"))"
		return
	fi
	lat=$(echo "$at - $3" | bc)
	if [ "$(echo "$lat >= 0 && $lat <= $4" | bc)" = 1 ]; then
		ok "$1: woken with an error ${lat}s after it went dead (<= ${4}s)"
	else
		fail "$1: woken with an error ${lat}s after it went dead, limit ${4}s"
	fi
}

# The other end's output: X-server.out <-> X-client.out.
peer_of() {
	case $1 in
	*-server.out) echo "${1%-server.out}-client.out" ;;
	*-client.out) echo "${1%-client.out}-server.out" ;;
	esac
}

# expect_live NAME FILE [DUR]: the connection was never cut. Judged by what
# each end saw, never by which of two deadlines fired first: this end ran to
# its own deadline (result=timeout), or it ended (EOF, or the reset of a
# close with data unread) after its peer had reached the peer's own deadline
# intact (the peer's result=timeout, printed before it closed).
expect_live() {
	local got at peer pgot pat
	got=$(result_of "$2") at=$(field_of "$2" at)
	peer=$(peer_of "$2")
	pgot=$(result_of "$peer" 2>/dev/null) pat=$(field_of "$peer" at 2>/dev/null)
	if [ "$got" = timeout ]; then
		ok "$1: untouched until its deadline (result=timeout after $(field_of "$2" elapsed)s)"
	elif [ "$got" = eof ] || [ "$got" = error ] && [ "$pgot" = timeout ] && [ -n "$at" ] && [ -n "$pat" ] &&
		[ "$(echo "$at >= $pat - 0.01" | bc)" = 1 ]; then
		ok "$1: ended (result=$got errno=$(field_of "$2" errno)) after its peer reached its own deadline intact"
	else
		fail "$1: result=${got:-none} at ${at:-?}, its peer result=${pgot:-none} at ${pat:-?} ($(tail -1 "$2"))"
	fi
}

# no_reap_for LOG PORT: the daemon logged no reap of a socket on PORT.
no_reap_for() { ! grep 'event=reap' "$1" | grep -Eq "(laddr|raddr)=[^ ]*:$2 "; }
reap_ok_for() { grep 'event=reap' "$1" | grep 'result=ok' | grep -Eq "laddr=[^ ]*:$2 "; }

# The BPF programs a running daemon holds, by id (from its fds' fdinfo), and a
# bounded wait for them to be gone: other sockreap instances on the machine
# (a benchmark, an operator's) do not disturb the check.
daemon_prog_ids() { grep -h '^prog_id:' /proc/"$1"/fdinfo/* 2>/dev/null | awk '{ print $2 }' | sort -u; }
progs_gone() {
	local i id live
	for ((i = 0; i < 60; i++)); do
		live=$(bpftool prog show 2>/dev/null | awk -F: '/^[0-9]+:/ { print $1 }')
		for id in "$@"; do grep -qx "$id" <<<"$live" && break; done
		grep -qx "${id:-none}" <<<"$live" || return 0
		sleep 0.05
	done
	return 1
}

alive() { ours "$1" && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }

# wait_pids TIMEOUT_S PID...: bounded wait for test processes to end on their own.
wait_pids() {
	local end p any
	end=$((SECONDS + $(scaled_int "$1"))); shift
	while [ "$SECONDS" -lt "$end" ]; do
		any=
		for p in "$@"; do alive "$p" && any=1 && break; done
		[ -n "$any" ] || break
		sleep 0.05
	done
	for p in "$@"; do alive "$p" && sig KILL "$p"; wait "$p" 2>/dev/null; done
}

# Before finish's count (tally.sh): a sanitized build reports memory errors
# and leaks on stderr.
pre_finish() {
	if grep -l -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$TMP"/*.out 2>/dev/null; then
		fail "sanitizer report in the files above"
	fi
}
