#!/usr/bin/env bash
# Least privilege: with exactly the documented capabilities (CAP_BPF,
# CAP_PERFMON, CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH) and nothing else, the
# daemon reaps a wedged socket owned by another user; without any one of
# them it refuses to start, naming the missing capability.
. "$(dirname "$0")/lib.sh"
require_env
command -v setpriv >/dev/null || skip "setpriv not installed (util-linux)"

CAPS=(bpf perfmon sys_ptrace dac_read_search)
# Kernels before 5.11 charge BPF maps to RLIMIT_MEMLOCK: what a unit file's
# LimitMEMLOCK=infinity (or a container's --ulimit memlock=-1) gives the
# daemon, set here while still root; no capability is added for it.
# Where it cannot be raised (no CAP_SYS_RESOURCE, as on this VM) the kernel
# does not need it (5.11+ charges memory cgroups instead); if one did, the
# daemon would say so and the test would fail, as it should.
ulimit -l unlimited 2>/dev/null || true

caps_but() { local c out="-all"; for c in "${CAPS[@]}"; do [ "$c" = "${1:-}" ] || out+=",+$c"; done; echo "$out"; }

new_netns NS priv
for c in "${CAPS[@]}"; do
	out=$(in_ns "$NS" setpriv --bounding-set="$(caps_but "$c")" "$SOCKREAP" --metrics-addr off 2>&1); rc=$?
	want=CAP_$(tr a-z A-Z <<<"$c")
	if [ $rc = 2 ] && grep -q "missing capability $want " <<<"$out"; then
		ok "without $want: exit 2 naming it"
	else
		fail "without $want: exit $rc: $out"
	fi
done
out=$(in_ns "$NS" setpriv --bounding-set="$(caps_but)" "$SOCKREAP" --metrics-addr off --all-netns 2>&1); rc=$?
check "--all-netns additionally needs CAP_SYS_ADMIN (exit $rc)" grep -q 'missing capability CAP_SYS_ADMIN' <<<"$out"

DUR=$(scaled_int 6)
bg_ns daemon "$NS" setpriv --bounding-set="$(caps_but)" "$SOCKREAP" --metrics-addr off --stall-grace "$(scaled 1.5)" --interval "$(scaled 0.5)"
DAEMON_PID=$BG_PID
wait_for "$TMP/daemon.out" 'event=ready' 15 || { fail "daemon with only ${CAPS[*]} did not start: $(cat "$TMP/daemon.out")"; finish; exit; }
# CAP_DAC_READ_SEARCH=2, CAP_SYS_PTRACE=19, CAP_PERFMON=38, CAP_BPF=39
check "effective capabilities are exactly the documented four" \
	grep -q '^CapEff:[[:space:]]*000000c000080004$' "/proc/$DAEMON_PID/status"
bg_ns victim-server "$NS" setpriv --reuid=65534 --regid=65534 --clear-groups "$TCPDRV" server --port 5501 --mode send --duration $DUR
SRV_PID=$BG_PID
wait_for "$TMP/victim-server.out" '^listening' 5
bg_ns victim-client "$NS" "$TCPDRV" client --port 5501 --mode read --duration $DUR
CLI_PID=$BG_PID
wait_for "$TMP/victim-client.out" '^connected' 5
sleep "$(scaled 0.3)"
sig STOP "$CLI_PID"
wait_pids $((DUR + 5)) "$SRV_PID"
sig CONT "$CLI_PID"
expect_result "another user's wedged sender is woken" "$TMP/victim-server.out" error
check "reaped with result=ok" reap_ok_for "$TMP/daemon.out" 5501
stop_daemon "$DAEMON_PID"
finish
