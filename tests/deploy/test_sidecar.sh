#!/usr/bin/env bash
# deploy/sidecar-pod.yaml run by a real consumer of Kubernetes YAML: `podman
# kube play` reads the manifest itself (security context, volumes, env,
# resources, shareProcessNamespace), so nothing is translated by us. The
# only changes (manifest.py variant prints each): a pod name of this run, the
# images under test (sockreap's, and for `server` an image whose server
# wedges in send()), and the edits the manifest's comments document (the
# Localhost seccomp profile, then SOCKREAP_DRY_RUN=false), with the profile
# also in the annotation podman 4.3 reads instead of the field. The node side:
# the kubelet's seccomp directory is deploy/ (holding sockreap-seccomp.json);
# podman runs in a network namespace standing in for the node, so its bridge
# (the CNI's part) and the host ports it publishes are there.
#
# Proves: as written, under this runtime's default seccomp profile, the
# daemon fails the way the manifest says; with the Localhost profile it gets
# ready with exactly its four capabilities, its dry run logs the wedge with
# the pod's identity and touches nothing; switched to live it wakes the
# wedged server within grace + interval + 1 s, the reap line naming the pod
# UID and container id the test gave the server's cgroup (kubelet layout).
. "$(dirname "$0")/lib.sh"
require_podman
need_image

F=$ROOT/deploy/sidecar-pod.yaml
PORT=$(mget "$F" spec.containers.server.ports.ws.containerPort)
GRACE=$(mget "$F" spec.containers.sockreap.env.SOCKREAP_STALL_GRACE)
INTERVAL=1 # the daemon's default: the manifest does not set SOCKREAP_INTERVAL
LIMIT=$(echo "$GRACE + $INTERVAL + 1" | bc)
manifest probe "$F" sockreap
read -r MPORT HPATH <<<"${MF[0]}"
POD_UID=$(cat /proc/sys/kernel/random/uuid)
echo "  manifest: server port $PORT, stall grace ${GRACE}s, probe :$MPORT$HPATH; pod UID $POD_UID (kubelet-shaped cgroup)"
check "the manifest ships with SOCKREAP_DRY_RUN=true" test "$(mget "$F" spec.containers.sockreap.env.SOCKREAP_DRY_RUN)" = true
check "the pod shares its pid namespace (shareProcessNamespace)" test "$(mget "$F" spec.shareProcessNamespace)" = True
app_image server --host 0.0.0.0 --port "$PORT" --mode send --duration 300
IMAGES=(--image "sockreap=$IMAGE" --image "server=$APP_IMAGE")

proc_field() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
# metric VAR NAME{LABELS}: its value from /metrics on ${VAR}_IP, 0 if absent.
metric() { local ip=${1}_IP; node_curl "http://${!ip}:$MPORT/metrics" | awk -v k="$2" '$1 == k { v = $2 } END { print v + 0 }'; }
# ready CONTAINER: until its log says event=ready (true), or it exited
# (the pod's restartPolicy then starts it again: a restart counts too).
ready() {
	local i
	for ((i = 0; i < 150; i++)); do
		podman logs "$1" 2>&1 | grep -q 'event=ready' && return 0
		[ "$(podman inspect --format '{{.State.ExitCode}}/{{.RestartCount}}' "$1" 2>/dev/null)" = 0/0 ] || return 1
		sleep 0.2
	done
	return 1
}
# play_wedge POD: the pod's server placed in its kubelet-shaped cgroup, a
# node client that reads, then freezes; sets T0, SRV (host pid), SRV_NSPID.
play_wedge() {
	kubelet_cgroup "$1-server" "$POD_UID" burstable
	open_gate "$1-server"
	wait_log "$1-server" '^listening' 10 || fatal "$1: the server did not listen: $(podman logs "$1-server" 2>&1)"
	local ip=${2}_IP
	node_client "$1-client" "${!ip}" "$PORT" 300
	sleep 0.5
	kill -STOP "$CLIENT_PID"
	T0=$(date +%s.%N) SRV=$(cpid "$1-server") CLI=$CLIENT_PID
	SRV_NSPID=$(awk '$1 == "NSpid:" { print $NF }' "/proc/$SRV/status")
	SRV_CTR=$(podman inspect --format '{{.Id}}' "$1-server" | cut -c1-12)
}

echo "-- as written, under this runtime's default seccomp profile"
prof=$(podman info --format '{{.Host.Security.SECCOMPProfilePath}}')
gated=$("$PY" -c '
import json, sys
p = json.load(open(sys.argv[1]))
print(any("bpf" in r["names"] and r["action"] == "SCMP_ACT_ALLOW" and "CAP_BPF" in r.get("includes", {}).get("caps", []) for r in p["syscalls"]) and "no" or "yes")' "$prof")
P0=$TAG-asis
kube_play P0 "$P0" "$F" "${IMAGES[@]}"
if ready "$P0-sockreap"; then
	if [ "$gated" = yes ]; then fail "the daemon got ready although $prof allows bpf() only with CAP_SYS_ADMIN"
	else ok "ready under $prof, which allows bpf() with CAP_BPF"; fi
else
	# It exits 2 and the pod's restartPolicy (Always) starts it again, as the
	# kubelet would (CrashLoopBackOff): the exit code of one run is seen
	# only in passing, the one-line reason stays in the log.
	for ((i = 0; i < 50; i++)); do
		[ "$(podman inspect --format '{{.RestartCount}}' "$P0-sockreap")" -gt 0 ] && break
		sleep 0.2
	done
	restarts=$(podman inspect --format '{{.RestartCount}}' "$P0-sockreap")
	line=$(podman logs "$P0-sockreap" 2>&1 | grep -v 'event=log' | tail -1)
	if [ "$gated" = yes ] && [ "$restarts" -gt 0 ] && grep -Eqi 'Operation not permitted|EPERM|seccomp' <<<"$line" &&
		! podman logs "$P0-sockreap" 2>&1 | grep -q 'event=ready'; then
		ok "$prof allows bpf() only with CAP_SYS_ADMIN: it exits (restarted $restarts times), as the manifest's comment says: $line"
	else
		fail "under $prof (bpf gated by SYS_ADMIN: $gated): restarted ${restarts:-?} times: $line"
	fi
fi
in_node podman pod rm -f -t 0 "$P0" >/dev/null 2>&1

echo "-- the documented Localhost profile, as the field alone"
# podman 4.3's kube play does not apply securityContext.seccompProfile (it
# reads only the annotation Kubernetes dropped in 1.27): shown, not hidden.
PL=$TAG-field
kube_play PL "$PL" "$F" "${IMAGES[@]}" --localhost-seccomp sockreap=sockreap-seccomp.json
if ready "$PL-sockreap"; then
	echo "  note podman applies securityContext.seccompProfile (Localhost) itself: the annotation below is no longer needed" >>"$TMP/notes"
	ok "podman applied the Localhost profile from the field"
else
	echo "  note podman $(podman version --format '{{.Client.Version}}') kube play ignores securityContext.seccompProfile: with the Localhost field alone bpf() is still refused; the test adds the old seccomp annotation for podman" >>"$TMP/notes"
	ok "podman ignores the seccompProfile field (bpf() still refused): the annotation is needed for podman"
fi
in_node podman pod rm -f -t 0 "$PL" >/dev/null 2>&1

echo "-- the Localhost profile the manifest documents (deploy/sockreap-seccomp.json); dry run as shipped"
if cmp -s <("$ROOT/deploy/seccomp-profile.py" "$prof") "$ROOT/deploy/sockreap-seccomp.json"; then
	ok "deploy/sockreap-seccomp.json is $prof plus bpf() for CAP_BPF (seccomp-profile.py)"
else
	echo "  note deploy/sockreap-seccomp.json was made from another version of $prof"
fi
LOCAL=(--localhost-seccomp sockreap=sockreap-seccomp.json --seccomp-annotation sockreap=sockreap-seccomp.json)
P1=$TAG-dry
kube_play P1 "$P1" "$F" "${IMAGES[@]}" "${LOCAL[@]}"
ready "$P1-sockreap" || fatal "the dry-run sidecar did not get ready: $(podman logs "$P1-sockreap" 2>&1 | tail -3)"
ok "ready: $(podman logs "$P1-sockreap" 2>&1 | grep -o 'event=ready.*' | cut -c1-150)"
D=$(cpid "$P1-sockreap")
# Start-up time under the manifest's CPU limit (the liveness probe's budget).
t_start=$(date -d "$(podman inspect --format '{{.State.StartedAt}}' "$P1-sockreap" | sed 's/ +0000 UTC$//; s/ UTC$//')" +%s.%N 2>/dev/null)
t_ready=$(date -d "$(podman logs "$P1-sockreap" 2>&1 | grep -o '^ts=[^ ]* event=ready' | cut -d' ' -f1 | cut -d= -f2)" +%s.%N 2>/dev/null)
[ -n "$t_start" ] && [ -n "$t_ready" ] &&
	echo "  start-up under the manifest's CPU limit: $(echo "$t_ready - $t_start" | bc) s from container start to event=ready" >>"$TMP/notes"
# CAP_DAC_READ_SEARCH=2, CAP_SYS_PTRACE=19, CAP_PERFMON=38, CAP_BPF=39
check "effective capabilities are exactly the four documented ones" test "$(proc_field "$D" CapEff)" = 000000c000080004
check "bounding set is the same four (drop ALL)" test "$(proc_field "$D" CapBnd)" = 000000c000080004
check "no_new_privs is set (allowPrivilegeEscalation: false)" test "$(proc_field "$D" NoNewPrivs)" = 1
check "a seccomp filter is on" test "$(proc_field "$D" Seccomp)" = 2
check "runs as uid 0" test "$(awk '$1 == "Uid:" { print $3 }' "/proc/$D/status")" = 0
check "the root filesystem is read-only" \
	bash -c "podman exec '$P1-sockreap' /usr/bin/test -d /usr && ! podman exec '$P1-sockreap' /usr/bin/touch /probe 2>/dev/null"
check "/run/sockreap holds the control socket (the emptyDir)" \
	test -S "/proc/$D/root/run/sockreap/control.sock"
check "the daemon and the server share a pid namespace (shareProcessNamespace)" \
	test "$(readlink "/proc/$D/ns/pid")" = "$(readlink "/proc/$(cpid "$P1-server")/ns/pid")"
check "memory limit from the manifest is applied" test "$(podman inspect --format '{{.HostConfig.Memory}}' "$P1-sockreap")" = 67108864
check "CPU limit from the manifest is applied (200m)" test "$(podman inspect --format '{{.HostConfig.CpuQuota}}/{{.HostConfig.CpuPeriod}}' "$P1-sockreap")" = 20000/100000
h=$(node_curl "http://$P1_IP:$MPORT$HPATH")
check "$HPATH on the pod IP ($P1_IP:$MPORT) answers, as the kubelet's probe asks it: $h" test -n "$h"
hc=$(podman inspect --format '{{.Config.Healthcheck.Test}}' "$P1-sockreap")
echo "  note podman turns the httpGet probe into a command run inside the container ($hc: a named port is not resolved, and the image has no curl); the kubelet asks from the node, as above" >>"$TMP/notes"

play_wedge "$P1" P1
wait_log "$P1-sockreap" "event=reap .*result=dry_run.*laddr=[^ ]*:$PORT " $((${GRACE%.*} + INTERVAL + 5)) ||
	fail "no dry-run reap logged within grace + interval + 4 s"
stall=$(podman logs "$P1-sockreap" 2>&1 | grep -m1 "event=stall reason=send_stall.*laddr=[^ ]*:$PORT ")
check "dry run: the stall is logged with the pod's identity (pod_uid=$POD_UID container_id=$SRV_CTR)" \
	grep -q "pod_uid=$POD_UID container_id=$SRV_CTR " <<<"$stall"
check "dry run: so is the reap (result=dry_run)" bash -c "podman logs '$P1-sockreap' 2>&1 | grep 'event=reap .*result=dry_run' | grep -q 'pod_uid=$POD_UID container_id=$SRV_CTR '"
sleep 2
if kill -0 "$SRV" 2>/dev/null && [ -z "$(result_line "$P1-server")" ]; then
	ok "dry run: the wedged server is untouched (still blocked in send())"
else
	fail "dry run: the server woke: $(result_line "$P1-server")"
fi
q=$(send_q "$P1_NETPID" "$PORT")
check "dry run: its send queue is still full ($q bytes)" test "$q" -gt 100000
check "metrics on the pod IP count the dry-run reap" test "$(metric P1 'sockreap_reaps_total{reason="send_stall",result="dry_run"}')" -ge 1
check "and no real reap" test "$(metric P1 'sockreap_reaps_total{reason="send_stall",result="ok"}')" -eq 0
if command -v promtool >/dev/null; then
	node_curl "http://$P1_IP:$MPORT/metrics" >"$TMP/metrics.txt"
	check "the exposition passes promtool check metrics" bash -c "promtool check metrics <'$TMP/metrics.txt' >/dev/null 2>&1"
fi
podman exec "$P1-sockreap" /usr/local/bin/sockreap list >"$TMP/list.txt" 2>&1
podman exec "$P1-sockreap" /usr/local/bin/sockreap list --json >"$TMP/list.json" 2>&1
check "sockreap list (kubectl exec) shows the stalled socket with its POD and CONTAINER" \
	grep -q ":$PORT .*$POD_UID *$SRV_CTR" "$TMP/list.txt"
check "sockreap list --json names its pod_uid and container_id" "$PY" -c '
import json, sys
rows = [r for r in json.load(open(sys.argv[1])) if r["laddr"].endswith(":" + sys.argv[2])]
sys.exit(not any(r.get("pod_uid") == sys.argv[3] and r.get("container_id") == sys.argv[4] and r.get("qos") == "burstable" for r in rows))' \
	"$TMP/list.json" "$PORT" "$POD_UID" "$SRV_CTR"
podman stop -t 10 "$P1-sockreap" >/dev/null 2>&1
check "SIGTERM: exit status 0" test "$(podman inspect --format '{{.State.ExitCode}}' "$P1-sockreap")" = 0
blocked=$(kill -0 "$SRV" 2>/dev/null && [ -z "$(result_line "$P1-server")" ] && echo yes)
check "the dry-run daemon's exit left the server blocked" test "$blocked" = yes
in_node podman pod rm -f -t 0 "$P1" >/dev/null 2>&1

echo "-- switched to live: SOCKREAP_DRY_RUN=false, nothing else changed"
P2=$TAG-live
kube_play P2 "$P2" "$F" "${IMAGES[@]}" "${LOCAL[@]}" --env sockreap.SOCKREAP_DRY_RUN=false
ready "$P2-sockreap" || fatal "the live sidecar did not get ready: $(podman logs "$P2-sockreap" 2>&1 | tail -3)"
play_wedge "$P2" P2
wait_result "$P2-server" $((${GRACE%.*} + INTERVAL + 5))
r=$(result_line "$P2-server")
at=$(grep -o 'at=[0-9.]*' <<<"$r" | cut -d= -f2)
lat=$(echo "${at:-0} - $T0" | bc)
check "the wedged server woken with EPIPE ($r)" grep -q 'result=error errno=EPIPE' <<<"$r"
check "  ${lat}s after its client froze (<= grace + interval + 1 = ${LIMIT}s)" \
	test "$(echo "${at:-0} > 0 && $lat <= $LIMIT" | bc)" = 1
reap=$(podman logs "$P2-sockreap" 2>&1 | grep 'event=reap .*result=ok' | grep "laddr=[^ ]*:$PORT ")
check "  reaped (result=ok), the owner named by its pid in the pod (pid=$SRV_NSPID)" \
	grep -q "pid=$SRV_NSPID comm=tcpdrv " <<<"$reap"
check "  and by its pod: pod_uid=$POD_UID container_id=$SRV_CTR" grep -q "pod_uid=$POD_UID container_id=$SRV_CTR " <<<"$reap"
echo "  reap latency in the pod (kube play): ${lat}s from the freeze (grace ${GRACE}s)" >>"$TMP/notes"
check "metrics on the pod IP count the reap" test "$(metric P2 'sockreap_reaps_total{reason="send_stall",result="ok"}')" -eq 1
podman stop -t 10 "$P2-sockreap" >/dev/null 2>&1
check "SIGTERM: exit status 0" test "$(podman inspect --format '{{.State.ExitCode}}' "$P2-sockreap")" = 0
sort -u "$TMP/notes" 2>/dev/null
finish
