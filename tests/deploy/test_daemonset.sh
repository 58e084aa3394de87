#!/usr/bin/env bash
# deploy/daemonset.yaml's container under podman, with the manifest's host
# pid namespace, capabilities (CAP_SYS_ADMIN included), --all-netns, the
# runtime's default seccomp profile, volumes and SOCKREAP_* variables. Two
# application pods, each in its own network namespace, wedge a server on the
# same port: one under the cgroup parent the daemon selects (its wedge is
# reaped within grace + interval + 1 s), one outside it (untouched).
#
# The cgroup selector is the one override besides the dry run: the
# manifest's kubepods.slice does not exist here, and this machine's own
# connections must never be in scope. The pods live under this run's own
# cgroup parent, laid out as the kubelet's cgroupfs driver does: the daemon
# selects <parent>/kubepods, pod a is in <parent>/kubepods/burstable (its
# server in <parent>/kubepods/burstable/pod<UID>/<container id>, where the
# kubelet would put it: the reap line must name that pod UID and container),
# pod b in <parent>/system.
#
# Translated by manifest.py, not read by `podman kube play`: podman 4.3
# (Debian 12) plays Pod, Deployment and PersistentVolumeClaim only
# (DaemonSet came in podman 4.7).
. "$(dirname "$0")/lib.sh"
require_podman
need_image

F=$ROOT/deploy/daemonset.yaml
PORT=$(mget "$F" spec.containers.sockreap.env.SOCKREAP_PORT)
GRACE=$(mget "$F" spec.containers.sockreap.env.SOCKREAP_STALL_GRACE)
INTERVAL=1
LIMIT=$(echo "$GRACE + $INTERVAL + 1" | bc)
manifest probe "$F" sockreap
read -r MPORT HPATH <<<"${MF[0]}"
manifest cmd "$F" sockreap
check "the manifest runs --all-netns (${MF[*]})" grep -qw -- --all-netns <<<"${MF[*]}"
check "the manifest sets hostPID" test "$(mget "$F" spec.hostPID)" = True
check "the manifest ships with SOCKREAP_DRY_RUN=true" test "$(mget "$F" spec.containers.sockreap.env.SOCKREAP_DRY_RUN)" = true
SELECTED=${CG_PARENT#/}/kubepods
echo "  manifest: port $PORT, stall grace ${GRACE}s, probe :$MPORT$HPATH; selector $SELECTED"

manifest pod-args "$F"
POD_CGROUP=kube-system new_pod DS "$TAG-ds" "${MF[@]}"

echo "-- as written (SOCKREAP_CGROUP=$(mget "$F" spec.containers.sockreap.env.SOCKREAP_CGROUP), dry run)"
# Safe to run unchanged: it is a dry run. Without kubepods.slice it must exit
# 2 naming the cgroup, as the manifest says.
if [ -d "/sys/fs/cgroup/unified/kubepods.slice" ] || [ -d "/sys/fs/cgroup/kubepods.slice" ]; then
	echo "  (this machine has a kubepods.slice: the missing-cgroup check does not apply)"
elif start_sockreap "$TAG-asis" "$TAG-ds" "$F" sockreap; then
	fail "the daemon started with a cgroup selector that does not exist"
else
	for ((i = 0; i < 50; i++)); do running "$TAG-asis" || break; sleep 0.2; done
	rc=$(podman inspect --format '{{.State.ExitCode}}' "$TAG-asis")
	line=$(podman logs "$TAG-asis" 2>&1 | tail -1)
	check "a missing SOCKREAP_CGROUP directory: exit 2 naming it ($line)" \
		bash -c "[ '$rc' = 2 ] && grep -q kubepods.slice <<<'$line'"
fi
podman rm -f -t 0 "$TAG-asis" >/dev/null 2>&1

echo "-- two pods wedged on port $PORT; the daemon selects one by its cgroup"
POD_CGROUP=kubepods/burstable new_pod A "$TAG-a" --share ipc,net,uts
POD_CGROUP=system new_pod B "$TAG-b" --share ipc,net,uts
start_sockreap "$TAG-daemon" "$TAG-ds" "$F" sockreap \
	--env SOCKREAP_CGROUP="$SELECTED" --env SOCKREAP_DRY_RUN=false ||
	fatal "the daemon did not get ready: $(podman logs "$TAG-daemon" 2>&1 | tail -3)"
ok "ready: $(podman logs "$TAG-daemon" 2>&1 | grep -o 'event=ready.*' | cut -c1-150)"
D=$(cpid "$TAG-daemon")
# + CAP_SYS_ADMIN=21
check "effective capabilities: the four documented ones and CAP_SYS_ADMIN" \
	test "$(awk '$1 == "CapEff:" { print $2 }' "/proc/$D/status")" = 000000c000280004
check "host pid namespace" test "$(readlink "/proc/$D/ns/pid")" = "$(readlink /proc/$$/ns/pid)"
check "its own network namespace (hostNetwork: false)" test "$(readlink "/proc/$D/ns/net")" != "$(readlink /proc/$$/ns/net)"
check "the ready line says netns=all" bash -c "podman logs '$TAG-daemon' 2>&1 | grep -q 'event=ready.* netns=all '"

A_UID=$(cat /proc/sys/kernel/random/uuid)
WEDGE_POD_UID=$A_UID wedge "$TAG-a" "$TAG-a" "$PORT" 300
A_T0=$WEDGE_T0 A_PID=$WEDGE_PID
A_CTR=$(podman inspect --format '{{.Id}}' "$TAG-a-server" | cut -c1-12)
wedge "$TAG-b" "$TAG-b" "$PORT" 300
B_T0=$WEDGE_T0 B_PID=$WEDGE_PID
check "pod a is under the selected cgroup" grep -q "^0::/$SELECTED/" "/proc/$A_PID/cgroup"
check "pod b is not" bash -c "! grep -q '^0::/$SELECTED/' /proc/$B_PID/cgroup"
sleep 1
podman exec "$TAG-daemon" /usr/local/bin/sockreap list --json >"$TMP/list.json" 2>&1
check "sockreap list --json: pod a's stalled socket names pod_uid=$A_UID container_id=$A_CTR" "$PY" -c '
import json, sys
rows = [r for r in json.load(open(sys.argv[1])) if r.get("pid") == int(sys.argv[2])]
sys.exit(not rows or not all(r.get("pod_uid") == sys.argv[3] and r.get("container_id") == sys.argv[4] for r in rows))' \
	"$TMP/list.json" "$A_PID" "$A_UID" "$A_CTR"

wait_result "$TAG-a-server" $((${GRACE%.*} + INTERVAL + 5))
r=$(result_line "$TAG-a-server")
at=$(grep -o 'at=[0-9.]*' <<<"$r" | cut -d= -f2)
lat=$(echo "${at:-0} - $A_T0" | bc)
check "selected pod: server woken with EPIPE ($r)" grep -q 'result=error errno=EPIPE' <<<"$r"
check "  ${lat}s after its client froze (<= grace + interval + 1 = ${LIMIT}s)" \
	test "$(echo "${at:-0} > 0 && $lat <= $LIMIT" | bc)" = 1
check "  the reap names its owner by host pid (pid=$A_PID)" \
	bash -c "podman logs '$TAG-daemon' 2>&1 | grep 'event=reap' | grep -q 'result=ok .* pid=$A_PID '"
check "  and its pod: pod_uid=$A_UID container_id=$A_CTR" \
	bash -c "podman logs '$TAG-daemon' 2>&1 | grep 'event=reap .*result=ok' | grep -q 'pod_uid=$A_UID container_id=$A_CTR '"
echo "  reap latency, DaemonSet shape: ${lat}s from the freeze (grace ${GRACE}s)" >>"$TMP/notes"

# The other pod's wedge is older than a grace by now; give it one more scan.
end=$(echo "$B_T0 + $GRACE + $INTERVAL + 3" | bc)
while [ "$(echo "$(date +%s.%N) < $end" | bc)" = 1 ]; do sleep 0.5; done
check "pod outside the selector: server still blocked past grace + interval + 3 s" \
	bash -c "[ -z \"\$(podman logs '$TAG-b-server' 2>&1 | grep '^result=')\" ]"
q=$(send_q "$B_NETPID" "$PORT")
check "  its send queue still full ($q bytes)" test "$q" -gt 100000
check "  no stall or reap logged for it" bash -c "! podman logs '$TAG-daemon' 2>&1 | grep -q 'pid=$B_PID '"
podman exec "$TAG-daemon" /usr/local/bin/sockreap list --json >"$TMP/list2.json" 2>&1
check "  and the daemon does not track it (sockreap list --json)" "$PY" -c '
import json, sys
sys.exit(any(r.get("pid") == int(sys.argv[2]) for r in json.load(open(sys.argv[1]))))' "$TMP/list2.json" "$B_PID"
m=$(node_curl "http://$DS_IP:$MPORT/metrics" | awk '$1 == "sockreap_reaps_total{reason=\"send_stall\",result=\"ok\"}" { print $2 }')
check "metrics on the pod IP ($DS_IP:$MPORT) count one reap (${m:-none})" test "${m:-0}" = 1
h=$(node_curl "http://$DS_IP:$MPORT$HPATH")
check "$HPATH on the pod IP answers: $h" test -n "$h"
podman stop -t 10 "$TAG-daemon" >/dev/null 2>&1
check "SIGTERM: exit status 0" test "$(podman inspect --format '{{.State.ExitCode}}' "$TAG-daemon")" = 0
sort -u "$TMP/notes" 2>/dev/null
finish
