#!/usr/bin/env bash
# deploy/sidecar-pod.yaml in a real pod: a podman pod sharing its network and
# pid namespaces (shareProcessNamespace: true), a server wedged in send() on
# a frozen client, and the sockreap container run with the manifest's own
# securityContext, volumes, resources and SOCKREAP_* variables (manifest.py).
# Proves: with this runtime's default seccomp profile the daemon fails the
# way the manifest says; with deploy/sockreap-seccomp.json it gets ready, its
# dry run logs and touches nothing, and switched to live (SOCKREAP_DRY_RUN
# alone changed) it wakes the wedged server within grace + interval + 1 s;
# /healthz and /metrics answer on the pod IP.
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
manifest pod-args "$F"
POD_ARGS=("${MF[@]}")
POD=$TAG-sidecar
echo "  manifest: server port $PORT, stall grace ${GRACE}s, probe :$MPORT$HPATH, pod ${POD_ARGS[*]}"
check "the manifest ships with SOCKREAP_DRY_RUN=true" test "$(mget "$F" spec.containers.sockreap.env.SOCKREAP_DRY_RUN)" = true
check "the pod shares its pid namespace (shareProcessNamespace)" grep -q pid <<<"${POD_ARGS[*]}"
new_pod SC "$POD" "${POD_ARGS[@]}"

# metric NAME{LABELS}: its value from /metrics on the pod IP, 0 if absent.
metric() { node_curl "http://$SC_IP:$MPORT/metrics" | awk -v k="$1" '$1 == k { v = $2 } END { print v + 0 }'; }
proc_field() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }

echo "-- as written, under this runtime's default seccomp profile"
prof=$(podman info --format '{{.Host.Security.SECCOMPProfilePath}}')
gated=$("$PY" -c '
import json, sys
p = json.load(open(sys.argv[1]))
print(any("bpf" in r["names"] and r["action"] == "SCMP_ACT_ALLOW" and "CAP_BPF" in r.get("includes", {}).get("caps", []) for r in p["syscalls"]) and "no" or "yes")' "$prof")
if start_sockreap "$TAG-rtdefault" "$POD" "$F" sockreap; then
	if [ "$gated" = yes ]; then fail "the daemon got ready although $prof allows bpf() only with CAP_SYS_ADMIN"
	else ok "ready under $prof, which allows bpf() with CAP_BPF"; fi
else
	for ((i = 0; i < 50; i++)); do running "$TAG-rtdefault" || break; sleep 0.2; done
	rc=$(podman inspect --format '{{.State.ExitCode}}' "$TAG-rtdefault")
	line=$(podman logs "$TAG-rtdefault" 2>&1 | grep -v 'event=log' | tail -1)
	if [ "$gated" = yes ] && [ "$rc" = 2 ] && grep -Eqi 'Operation not permitted|EPERM|seccomp' <<<"$line"; then
		ok "$prof allows bpf() only with CAP_SYS_ADMIN: exit 2, as the manifest's comment says: $line"
	else
		fail "under $prof (bpf gated by SYS_ADMIN: $gated): exit $rc: $line"
	fi
fi
podman rm -f -t 0 "$TAG-rtdefault" >/dev/null 2>&1

echo "-- with deploy/sockreap-seccomp.json as its Localhost profile; dry run as shipped"
if cmp -s <("$ROOT/deploy/seccomp-profile.py" "$prof") "$ROOT/deploy/sockreap-seccomp.json"; then
	ok "deploy/sockreap-seccomp.json is $prof plus bpf() for CAP_BPF (seccomp-profile.py)"
else
	echo "  note deploy/sockreap-seccomp.json was made from another version of $prof"
fi
LOCAL=(--localhost-seccomp sockreap-seccomp.json)
wedge "$TAG-w1" "$POD" "$PORT" 300
W1_NET=$WEDGE_PID W1_NSPID=$WEDGE_NSPID
start_sockreap "$TAG-dry" "$POD" "$F" sockreap "${LOCAL[@]}" ||
	fatal "the dry-run sidecar did not get ready: $(podman logs "$TAG-dry" 2>&1 | tail -3)"
T_READY=$(date +%s.%N)
ok "ready: $(podman logs "$TAG-dry" 2>&1 | grep -o 'event=ready.*' | cut -c1-150)"
# Start-up time under the manifest's CPU limit (the liveness probe's budget).
t_start=$(date -d "$(podman inspect --format '{{.State.StartedAt}}' "$TAG-dry" | sed 's/ +0000 UTC$//; s/ UTC$//')" +%s.%N 2>/dev/null)
t_ready=$(date -d "$(podman logs "$TAG-dry" 2>&1 | grep -o '^ts=[^ ]* event=ready' | cut -d' ' -f1 | cut -d= -f2)" +%s.%N 2>/dev/null)
[ -n "$t_start" ] && [ -n "$t_ready" ] &&
	echo "  start-up under the manifest's CPU limit: $(echo "$t_ready - $t_start" | bc) s from container start to event=ready" >>"$TMP/notes"
D=$(cpid "$TAG-dry")
# CAP_DAC_READ_SEARCH=2, CAP_SYS_PTRACE=19, CAP_PERFMON=38, CAP_BPF=39
check "effective capabilities are exactly the four documented ones" test "$(proc_field "$D" CapEff)" = 000000c000080004
check "bounding set is the same four (drop ALL)" test "$(proc_field "$D" CapBnd)" = 000000c000080004
check "no_new_privs is set (allowPrivilegeEscalation: false)" test "$(proc_field "$D" NoNewPrivs)" = 1
check "a seccomp filter is on" test "$(proc_field "$D" Seccomp)" = 2
check "runs as uid 0" test "$(awk '$1 == "Uid:" { print $3 }' "/proc/$D/status")" = 0
check "the root filesystem is read-only" bash -c "! podman exec '$TAG-dry' touch /probe 2>/dev/null"
check "/run/sockreap is a writable emptyDir holding the control socket" podman exec "$TAG-dry" test -S /run/sockreap/control.sock
check "the daemon sees the server in /proc (shared pid namespace)" \
	bash -c "podman exec '$TAG-dry' sh -c 'cat /proc/[0-9]*/cmdline' 2>/dev/null | tr '\0' ' ' | grep -q 'tcpdrv server'"
check "memory limit from the manifest is applied" test "$(podman inspect --format '{{.HostConfig.Memory}}' "$TAG-dry")" = 67108864
h=$(node_curl "http://$SC_IP:$MPORT$HPATH")
check "$HPATH on the pod IP ($SC_IP:$MPORT) answers: $h" test -n "$h"

# The sweep finds the older wedge at start; its clock runs from then.
wait_log "$TAG-dry" "event=reap .*result=dry_run.*laddr=[^ ]*:$PORT " $((${GRACE%.*} + INTERVAL + 5)) ||
	fail "no dry-run reap logged within grace + interval + 4 s of ready"
check "dry run: the verdict is logged (event=stall, event=reap result=dry_run)" \
	bash -c "podman logs '$TAG-dry' 2>&1 | grep -q 'event=stall reason=send_stall.*laddr=[^ ]*:$PORT '"
sleep 2
if running "$TAG-w1-server" && [ -z "$(result_line "$TAG-w1-server")" ]; then
	ok "dry run: the wedged server is untouched (still blocked in send())"
else
	fail "dry run: the server woke: $(result_line "$TAG-w1-server")"
fi
q=$(send_q "$W1_NET" "$PORT")
check "dry run: its send queue is still full ($q bytes)" test "$q" -gt 100000
check "metrics on the pod IP count the dry-run reap" test "$(metric 'sockreap_reaps_total{reason="send_stall",result="dry_run"}')" -ge 1
check "and no real reap" test "$(metric 'sockreap_reaps_total{reason="send_stall",result="ok"}')" -eq 0
if command -v promtool >/dev/null; then
	node_curl "http://$SC_IP:$MPORT/metrics" >"$TMP/metrics.txt"
	check "the exposition passes promtool check metrics" bash -c "promtool check metrics <'$TMP/metrics.txt' >/dev/null 2>&1"
fi
check "sockreap list (kubectl exec) shows the stalled socket" \
	bash -c "podman exec '$TAG-dry' sockreap list | grep -q ':$PORT .*send_stall'"
podman stop -t 10 "$TAG-dry" >/dev/null 2>&1
check "SIGTERM: exit status 0" test "$(podman inspect --format '{{.State.ExitCode}}' "$TAG-dry")" = 0
check "the dry-run daemon's exit left the server blocked" test -z "$(result_line "$TAG-w1-server")"

echo "-- switched to live: SOCKREAP_DRY_RUN=false, nothing else changed"
start_sockreap "$TAG-live" "$POD" "$F" sockreap "${LOCAL[@]}" --env SOCKREAP_DRY_RUN=false ||
	fatal "the live sidecar did not get ready: $(podman logs "$TAG-live" 2>&1 | tail -3)"
T_READY=$(date +%s.%N)
# The wedge older than the daemon: reaped one grace after the start-up sweep.
wait_result "$TAG-w1-server" $((${GRACE%.*} + INTERVAL + 5))
r=$(result_line "$TAG-w1-server")
at=$(grep -o 'at=[0-9.]*' <<<"$r" | cut -d= -f2)
lat=$(echo "${at:-0} - $T_READY" | bc)
check "the older wedge: server woken with EPIPE ($r)" grep -q 'result=error errno=EPIPE' <<<"$r"
check "  ${lat}s after the live daemon was ready (<= grace + interval + 1 = ${LIMIT}s)" \
	test "$(echo "${at:-0} > 0 && $lat <= $LIMIT" | bc)" = 1
check "  reaped (result=ok), the owner named by its pid in the pod (pid=$W1_NSPID)" \
	bash -c "podman logs '$TAG-live' 2>&1 | grep 'event=reap' | grep -q 'result=ok .* pid=$W1_NSPID comm=tcpdrv .*laddr=[^ ]*:$PORT '"
podman kill -s CONT "$TAG-w1-client" >/dev/null 2>&1
podman rm -f -t 0 "$TAG-w1-client" "$TAG-w1-server" >/dev/null 2>&1

# A wedge made under the live daemon: from the freeze to the wake-up.
wedge "$TAG-w2" "$POD" "$PORT" 300
wait_result "$TAG-w2-server" $((${GRACE%.*} + INTERVAL + 5))
r=$(result_line "$TAG-w2-server")
at=$(grep -o 'at=[0-9.]*' <<<"$r" | cut -d= -f2)
lat=$(echo "${at:-0} - $WEDGE_T0" | bc)
check "a new wedge: server woken with EPIPE ($r)" grep -q 'result=error errno=EPIPE' <<<"$r"
check "  ${lat}s after its client froze (<= grace + interval + 1 = ${LIMIT}s)" \
	test "$(echo "${at:-0} > 0 && $lat <= $LIMIT" | bc)" = 1
echo "  reap latency in the pod: ${lat}s from the freeze (grace ${GRACE}s)" >>"$TMP/notes"
check "metrics on the pod IP count both reaps" test "$(metric 'sockreap_reaps_total{reason="send_stall",result="ok"}')" -eq 2
podman stop -t 10 "$TAG-live" >/dev/null 2>&1
check "SIGTERM: exit status 0" test "$(podman inspect --format '{{.State.ExitCode}}' "$TAG-live")" = 0
sort -u "$TMP/notes" 2>/dev/null
finish
