#!/usr/bin/env bash
# Which pod? Wedged servers in cgroups shaped like the kubelet's (systemd
# driver: kubepods.slice/.../kubepods-burstable-pod<UID>.slice/
# cri-containerd-<ID>.scope; cgroupfs driver: kubepods/besteffort/pod<UID>/
# <ID>) and like a plain host's systemd unit: every stall and reap line
# names pod_uid= and container_id= (12 hex), or unit=; `list` shows POD and
# CONTAINER; --metrics-pod-labels counts reaps by pod. No API server involved.
. "$(dirname "$0")/lib.sh"
require_env

GRACE=$(scaled 3) INTERVAL=$(scaled 0.5)
# From the freeze: the grace, a scan, one more if the episode is read again,
# the reap. The wedges' own deadlines are far past it (dead_duration): their
# setup, three at a time under TCG, eats nothing of the daemon's time.
LIMIT=$(echo "$GRACE + 2 * $INTERVAL + $(scaled 2)" | bc)
DUR=$(dead_duration "$LIMIT")
new_netns NS ident
CGMNT=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts)
[ -n "$CGMNT" ] || skip "no cgroup2 mount"
BASE=$CGMNT/sockreap-ident-$$
UID1=1b2c3d4e-5f60-7182-93a4-b5c6d7e8f901 UID2=0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9
ID1=$(printf 'a%.0s' {1..8})$(printf '0123456789abcdef%.0s' {1..3})12345678
ID2=$(printf 'b%.0s' {1..8})$(printf 'fedcba9876543210%.0s' {1..3})87654321
SYSD=$BASE/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID1//-/_}.slice/cri-containerd-$ID1.scope
CGFS=$BASE/kubepods/besteffort/pod$UID2/$ID2
UNIT=$BASE/system.slice/gpu-worker.service
mkdir -p "$SYSD" "$CGFS" "$UNIT" || skip "cannot create cgroups under $CGMNT"
CLEANUPS+=("for d in \$(find $BASE -depth -type d); do for p in \$(cat \$d/cgroup.procs 2>/dev/null); do echo \$p > $CGMNT/cgroup.procs; done; rmdir \$d; done")

start_daemon "$NS" daemon --stall-grace "$GRACE" --interval "$INTERVAL" --cgroup "$BASE" \
	--metrics-pod-labels --metrics-file "$TMP/metrics.prom"
LOG=$TMP/daemon.out

# wedge NAME PORT CGROUP: a server in CGROUP sending to a reader (frozen
# below, all three at once: their stalls start together).
wedge() {
	bg "$1-server" sh -c 'echo $$ > "$1/cgroup.procs" && shift && exec nsenter --net="$0" "$@"' \
		"/run/netns/$NS" "$3" "$TCPDRV" server --port "$2" --mode send --duration "$DUR"
	SRVS+=("$BG_PID")
	wait_for "$TMP/$1-server.out" '^listening' 5 || { fail "$1: server did not start"; return; }
	bg_ns "$1-client" "$NS" "$TCPDRV" client --port "$2" --mode read --duration "$DUR"
	CLIS+=("$BG_PID")
	wait_for "$TMP/$1-client.out" '^connected' 5
}
SRVS=() CLIS=()
wedge systemd 6601 "$SYSD"
wedge cgroupfs 6602 "$CGFS"
wedge unit 6603 "$UNIT"
sleep "$(scaled 0.3)"
for p in "${CLIS[@]}"; do sig STOP "$p"; done
# A third of the grace into their stalls: list shows who they belong to.
sleep "$(scaled 1)"
in_ns "$NS" "$SOCKREAP" list --json --control-socket "$TMP/daemon.sock" >"$TMP/list.json"
in_ns "$NS" "$SOCKREAP" list --control-socket "$TMP/daemon.sock" >"$TMP/list.txt"
wait_dead "$LIMIT" "${SRVS[@]}"
for p in "${CLIS[@]}"; do sig CONT "$p"; done

line() { grep "event=$1 " "$LOG" | grep "laddr=127.0.0.1:$2 " | head -1; }
for e in stall reap; do
	check "systemd driver: the $e line names pod_uid=$UID1 container_id=${ID1:0:12}" \
		bash -c "grep -q 'pod_uid=$UID1 container_id=${ID1:0:12} ' <<<'$(line $e 6601)'"
	check "cgroupfs driver: the $e line names pod_uid=$UID2 container_id=${ID2:0:12}" \
		bash -c "grep -q 'pod_uid=$UID2 container_id=${ID2:0:12} ' <<<'$(line $e 6602)'"
	check "plain host: the $e line names unit=gpu-worker.service" \
		bash -c "grep -q 'unit=gpu-worker.service ' <<<'$(line $e 6603)'"
done
check "every wedge was reaped" test "$(grep -c 'event=reap .*result=ok' "$LOG")" = 3
row() { python3 -c 'import json,sys; r=[x for x in json.load(open(sys.argv[1])) if x["laddr"].endswith(":"+sys.argv[2])]; print(json.dumps(r[0]) if r else "{}")' "$TMP/list.json" "$1"; }
check "list --json: pod_uid, qos, container_id of the systemd-driver pod ($(row 6601 | cut -c1-80)...)" \
	python3 -c 'import json,sys; r=json.loads(sys.argv[1]); sys.exit(not (r.get("pod_uid") == sys.argv[2] and r.get("qos") == "burstable" and r.get("container_id") == sys.argv[3]))' \
	"$(row 6601)" "$UID1" "${ID1:0:12}"
check "list --json: the cgroupfs pod is besteffort" \
	python3 -c 'import json,sys; r=json.loads(sys.argv[1]); sys.exit(not (r.get("pod_uid") == sys.argv[2] and r.get("qos") == "besteffort"))' "$(row 6602)" "$UID2"
check "list --json: the plain unit" \
	python3 -c 'import json,sys; r=json.loads(sys.argv[1]); sys.exit(not (r.get("unit") == "gpu-worker.service" and r.get("pod_uid") is None))' "$(row 6603)"
check "list: POD and CONTAINER columns" bash -c "head -1 '$TMP/list.txt' | grep -q 'POD .*CONTAINER' && grep -q '$UID1 *${ID1:0:12}' '$TMP/list.txt'"
check "--metrics-pod-labels: reaps counted by pod" \
	grep -q "^sockreap_pod_reaps_total{pod_uid=\"$UID1\",reason=\"send_stall\",result=\"ok\"} 1" "$TMP/metrics.prom"
check "and only pods have such a label value" bash -c "! grep '^sockreap_pod_reaps_total' '$TMP/metrics.prom' | grep -vq -e '$UID1' -e '$UID2'"
stop_daemon "$DAEMON_PID"
check "the daemon exits 0" test $? = 0
finish
