#!/usr/bin/env bash
# Peers that fall silent in mid-transfer: their last ACKs are the last events
# the sockets ever see. On the storage path the scan judges a candidate's
# copy, which follows the socket's record at most every 250 ms: the copy
# lacked those last ACKs, and a re-check against it saw "acked bytes moved"
# at every attempt, never reaping (test_send_path caught it one run in four).
# Each sender must be woken within grace + interval + 1 s of the silence:
#   default path: the path to the peer is cut both ways on the way out (a
#     route or interface gone, a local firewall), so the sender's own
#     retransmissions fail locally too;
#   sweep path: the peer's ACKs are lost (a half-open peer), as in
#     test_send_path. (Cut both ways, data the sender writes after its last
#     ACK is seen by no event at all: the backstop walk's case, test_backstop.)
# Where the send hook is the fentry program (one event per call, not per
# chunk), a blocked sendall() whose queue an ACK emptied mid-call queues the
# rest unseen, and the backstop walk (every 10 s) is what finds it: there
# the limit is its period + grace + interval + 1 s.
. "$(dirname "$0")/lib.sh"
require_env
command -v nft >/dev/null || skip "nft not installed (make deps)"

GRACE=$(scaled 1.5)
INTERVAL=$(scaled 0.5)
N=6

# cut_path NS both|acks PORT...: on the way out, drop every packet to or from
# these ports (both), or only those to them: the clients' ACKs (acks).
cut_path() {
	local ns=$1 how=$2 ports rules; shift 2
	ports=$(IFS=,; echo "$*")
	rules="tcp dport { $ports } drop"
	[ "$how" = both ] && rules="$rules; tcp sport { $ports } drop"
	nsenter --net="/run/netns/$ns" nft -f - <<NFT
table inet srt {
	chain out {
		type filter hook output priority 0;
		$rules
	}
}
NFT
}

run_case() {
	local label=$1 how=$2; shift 2
	local ports=() srv=() t0 p
	echo "-- $label"
	new_netns NS "lastacks-$label"
	local limit dur path
	start_daemon "$NS" daemon --stall-grace "$GRACE" --interval "$INTERVAL" --metrics-file "$TMP/metrics-$label.prom" "$@"
	path=$(grep -o 'event=ready .*send_path=[a-z]*' "$TMP/daemon.out" | sed 's/.*send_path=//')
	limit=$(awk -v g="$GRACE" -v i="$INTERVAL" -v s="${SR_TIME_SCALE:-1}" -v p="$path" \
		'BEGIN { printf "%.3f", g + i + s + (p == "fentry" ? 10 : 0) }')
	# The connections' own deadlines are far past the cut: under TCG setting
	# up six transfers takes long, and a deadline counted from each start
	# ran out before a late cut (5.10 guest). The wait after the cut is
	# bounded by the limit; the verdict is each sender's own timestamp.
	dur=$(dead_duration "$limit")
	echo "   send_path=$path: each sender woken within $limit s"
	for k in $(seq 1 $N); do
		p=$((5500 + k))
		pair "$NS" "$p" "$label-$k" send read "$dur"
		ports+=("$p") srv+=("$SRV_PID")
	done
	sleep "$(scaled 0.8)" # transfers in full flow: many ACKs, many copies
	# The silence starts when nft has put the rule in place (under TCG its
	# start alone takes a second or more): counted from its return.
	cut_path "$NS" "$how" "${ports[@]}"
	t0=$(date +%s.%N)
	wait_dead "$limit" "${srv[@]}"
	for k in $(seq 1 $N); do
		expect_woken "$label: sender $k" "$TMP/$label-$k-server.out" "$t0" "$limit"
	done
	check "$label: no attempt found the peer's ACKs still moving" \
		bash -c "! grep -q 'detail=\"acked bytes moved\"' '$TMP/daemon.out'"
	undrop "$NS"
	stop_daemon "$DAEMON_PID"
	mv "$TMP/daemon.out" "$TMP/daemon-$label.out"
}

run_case default both
run_case sweep acks --send-path sweep
finish
