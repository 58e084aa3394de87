#!/bin/bash
# kernel-suite.sh SCALE [TEST...] - inside a guest: the integration tests
# (all, or test_TEST.sh for each TEST) against this kernel, with every grace,
# interval and wait multiplied by SCALE (SR_TIME_SCALE: TCG is slow).
#
# First the daemon is started once, to learn what this kernel offers from its
# own event=ready line (send path, destroy), which is printed for the record.
# If the kernel refuses the programs, the suite is skipped (exit 77) with the
# daemon's own one-line reason: that kernel is below the minimum, and the
# README says so; every other failure is a failure.
set -u
cd "$(dirname "$0")/../.." || exit 1
BUILD=${BUILD:-build}
scale=${1:?usage: kernel-suite.sh SCALE [TEST...]}
shift
echo "kernel $(uname -r), time scale $scale"
[ -x "$BUILD/sockreap" ] || { echo "FAIL: build first ($BUILD/sockreap)"; exit 1; }

# The probe runs in a namespace of its own, watching nothing but itself.
ns=srk-probe-$$
ip netns add "$ns" || { echo "FAIL: ip netns add"; exit 1; }
log=$(mktemp)
trap 'ip netns del "$ns" 2>/dev/null; rm -f "$log"' EXIT
nsenter --net="/run/netns/$ns" "$BUILD/sockreap" --metrics-addr off --control-socket off \
	--dry-run --stall-grace 3600 --interval 1 >"$log" 2>&1 &
pid=$!
for ((i = 0; i < 1200; i++)); do # at most 120 s: loading is slow under TCG
	grep -q 'event=ready' "$log" && break
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
done
kill -INT "$pid" 2>/dev/null
wait "$pid"
rc=$?
out=$(cat "$log")
ready=$(grep -m1 'event=ready' <<<"$out")
if [ -z "$ready" ]; then
	reason=$(grep -m1 '^sockreap: ' <<<"$out")
	if [ "$rc" = 2 ] && grep -q 'this kernel refused BPF program' <<<"$reason"; then
		echo "the daemon's verifier output on this kernel:"
		grep 'level=warn' <<<"$out" | tail -5 | sed 's/^/  /'
		echo "SKIP: $reason"
		exit 77
	fi
	echo "FAIL: the daemon did not start (exit $rc):"
	sed 's/^/  /' <<<"$out" | tail -20
	exit 1
fi
echo "ready: ${ready#*event=ready }"
SR_TIME_SCALE=$scale exec tests/integration/run.sh "$BUILD" "$@"
