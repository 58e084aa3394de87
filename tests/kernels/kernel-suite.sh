#!/bin/bash
# kernel-suite.sh SCALE [TEST...] - inside a guest: the integration tests
# (all, or test_TEST.sh for each TEST) against this kernel, with every grace,
# interval and wait multiplied by SCALE (SR_TIME_SCALE: TCG is slow).
#
# First the daemon is started once, to learn what this kernel offers from its
# own event=ready line (send path, destroy), which is printed for the record.
# A kernel of the matrix that refuses the programs fails the suite, with the
# daemon's own one-line reason and the verifier's last lines: every kernel
# here is one the README says is supported, so a refusal is a regression,
# never a skip. (Only "qemu cannot run here" skips, in run.sh.)
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
	echo "FAIL: the daemon did not start on a kernel it supports (exit $rc):"
	sed 's/^/  /' <<<"$out" | tail -20
	exit 1
fi
echo "ready: ${ready#*event=ready }"
SR_TIME_SCALE=$scale exec tests/integration/run.sh "$BUILD" "$@"
