# lib.sh - shared helpers for the deployment tests (sourced, bash).
#
# The tests run the image built from deploy/Dockerfile under podman (runc),
# with each container's settings taken from deploy/*.yaml by manifest.py.
# Everything a test creates (pods, containers, network namespaces, the
# cgroup parent of its pods, images it built) is registered and removed by
# the EXIT trap, pass or fail. Exit status: 0 pass, 1 fail, 77 skipped.
#
# Pods get no network of podman's (no bridge, no firewall rules on this
# machine): each has a private network namespace (--network none), and a veth
# pair into a "node" namespace made by the test stands in for the CNI, so
# the pod IP is reachable from the node as it is for the kubelet. All test
# traffic stays on loopback inside the pods and on that veth.

set -u

BUILD=${BUILD:-build}
TCPDRV=$(realpath "$BUILD/tests/tcpdrv" 2>/dev/null || echo "$BUILD/tests/tcpdrv")
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
MANIFEST=$HERE/manifest.py
PY=/usr/bin/python3
CACHE=${SOCKREAP_DEPLOY_CACHE:-/var/cache/sockreap-deploy}
BASE_IMAGE=docker.io/library/debian:bookworm
TAG=srd$$                                   # prefix of everything this run names
CG_PARENT=/sockreap-deploy-$$               # cgroup parent of this run's pods
TMP=$(mktemp -d /tmp/sockreap-deploy.XXXXXX)
FAILS=0
CHECKS=0
CLEANUPS=()
PODS=()
NETNS=()
UL=(--ulimit nofile=20000:20000 --ulimit nproc=32768:32768)

# podman reads this run's own settings, not the machine's (see the file).
export CONTAINERS_CONF=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/containers.conf

cleanup() {
	local c p ns d
	[ "$BASHPID" = "$$" ] || return 0
	# Keep every container's log, then remove the containers (a SIGSTOPped
	# one would hold podman for its whole stop timeout).
	for c in $(podman ps -a --filter "name=^$TAG-" --format '{{.Names}}' 2>/dev/null); do
		podman logs "$c" >"$TMP/$c.log" 2>&1
		podman kill -s CONT "$c" >/dev/null 2>&1
		podman rm -f -t 0 "$c" >/dev/null 2>&1
	done
	for ((c = ${#CLEANUPS[@]} - 1; c >= 0; c--)); do eval "${CLEANUPS[c]}" >/dev/null 2>&1; done
	for p in "${PODS[@]}"; do
		# A SIGSTOPped container would hold podman for its stop timeout.
		podman pod kill -s CONT "$p" >/dev/null 2>&1
		podman pod rm -f -t 0 "$p" >/dev/null 2>&1
	done
	for ns in "${NETNS[@]}"; do ip netns del "$ns" 2>/dev/null; done
	# podman (cgroupfs manager) leaves pod directories behind in the
	# name=systemd and unified hierarchies: remove this run's whole parent.
	for d in /sys/fs/cgroup/*/"${CG_PARENT#/}" /sys/fs/cgroup/"${CG_PARENT#/}"; do
		[ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
	done
	if [ "$FAILS" -gt 0 ] || [ -n "${KEEP_LOGS:-}" ]; then
		echo "  logs kept in $TMP"
	else
		rm -rf "$TMP"
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

skip() { echo "SKIP: $*"; exit 77; }
ok() { CHECKS=$((CHECKS + 1)); echo "  ok   $*"; }
fail() { CHECKS=$((CHECKS + 1)); FAILS=$((FAILS + 1)); echo "  FAIL $*"; }
check() { local d=$1; shift; if "$@"; then ok "$d"; else fail "$d"; fi; }
# fatal MSG: a step the rest of the test depends on failed.
fatal() { fail "$*"; finish; exit 1; }
finish() { echo "  $((CHECKS - FAILS)) of $CHECKS checks passed"; [ "$FAILS" -eq 0 ]; }

# require_podman: root, podman that can run a container, the base image.
require_podman() {
	[ "$(id -u)" = 0 ] || skip "needs root"
	command -v podman >/dev/null || skip "podman not installed (make deploy-deps)"
	command -v runc >/dev/null || skip "runc not installed (make deploy-deps)"
	[ -x "$PY" ] && "$PY" -c 'import yaml' 2>/dev/null || skip "python3-yaml not installed (make deploy-deps)"
	[ -r /sys/kernel/btf/vmlinux ] || skip "kernel has no BTF"
	[ -x "$TCPDRV" ] || { echo "FAIL: build first ($TCPDRV)"; exit 1; }
	"$ROOT/deploy/debian-base.sh" >"$TMP/base.out" 2>&1 || skip "no Debian base image: $(tail -1 "$TMP/base.out")"
	local out
	out=$(podman run --rm --network none "$BASE_IMAGE" true 2>&1) || skip "podman cannot run a container: $out"
}

# need_image: the image built from deploy/Dockerfile, in $IMAGE. run.sh
# builds it once for every test (SOCKREAP_DEPLOY_IMAGE); a test run alone
# builds its own and removes it at exit.
need_image() {
	if [ -n "${SOCKREAP_DEPLOY_IMAGE:-}" ] && podman image exists "$SOCKREAP_DEPLOY_IMAGE"; then
		IMAGE=$SOCKREAP_DEPLOY_IMAGE
		return 0
	fi
	IMAGE=localhost/sockreap-deploy-test:$TAG
	echo "  building $IMAGE from deploy/Dockerfile"
	CLEANUPS+=("'$HERE/build_image.sh' --remove '$IMAGE'")
	"$HERE/build_image.sh" "$IMAGE" >"$TMP/build.out" 2>&1 ||
		fatal "image build failed: $(tail -3 "$TMP/build.out")"
}

# manifest VERB FILE ARGS...: manifest.py's NUL-separated output into MF[].
manifest() {
	MF=()
	local out
	out=$(mktemp "$TMP/mf.XXXXXX")
	"$PY" "$MANIFEST" "$@" >"$out" 2>"$out.err" || fatal "manifest.py $*: $(cat "$out.err")"
	mapfile -d '' MF <"$out"
	grep -h 'not applied' "$out.err" | sed 's/^/  note /' >>"$TMP/notes"
	rm -f "$out" "$out.err"
}
mget() { manifest get "$@"; printf '%s' "${MF[0]}"; }

# new_pod VAR NAME POD_ARGS...: a pod with a private network namespace
# (loopback up) and a veth to the node namespace; its IP in ${VAR}_IP.
NODE_NS=
POD_N=0
new_pod() {
	local var=$1 name=$2 infra pid a b ip; shift 2
	if [ -z "$NODE_NS" ]; then
		NODE_NS=$TAG-node
		ip netns add "$NODE_NS" || fatal "ip netns add $NODE_NS"
		NETNS+=("$NODE_NS")
		ip -n "$NODE_NS" link set lo up
	fi
	POD_N=$((POD_N + 1))
	podman pod create --name "$name" --network none --cgroup-parent "$CG_PARENT/${POD_CGROUP:-pods}" \
		"$@" >"$TMP/$name.pod" 2>&1 || fatal "podman pod create $name: $(cat "$TMP/$name.pod")"
	PODS+=("$name")
	podman pod start "$name" >/dev/null 2>&1 || fatal "podman pod start $name"
	infra=$(podman pod inspect --format '{{.InfraContainerID}}' "$name")
	pid=$(podman inspect --format '{{.State.Pid}}' "$infra")
	[ "${pid:-0}" -gt 0 ] || fatal "$name: no infra process"
	# A link-local /30 per pod, on a veth between two namespaces this test
	# made: nothing is routed anywhere else.
	a=$TAG-$POD_N-n b=$TAG-$POD_N-p ip=169.254.$((96 + POD_N)).2
	ip -n "$NODE_NS" link add "$a" type veth peer name "$b" netns "/proc/$pid/ns/net" ||
		fatal "veth for $name"
	ip -n "$NODE_NS" addr add "169.254.$((96 + POD_N)).1/30" dev "$a"
	ip -n "$NODE_NS" link set "$a" up
	nsenter --net="/proc/$pid/ns/net" ip addr add "$ip/30" dev "$b"
	nsenter --net="/proc/$pid/ns/net" ip link set "$b" up
	nsenter --net="/proc/$pid/ns/net" ip link set lo up
	printf -v "${var}_IP" '%s' "$ip"
	printf -v "${var}_NETPID" '%s' "$pid"
}

# node_curl URL...: curl from the node's namespace (as the kubelet or Prometheus).
node_curl() { ip netns exec "$NODE_NS" curl -sS --max-time 3 "$@"; }

cpid() { podman inspect --format '{{.State.Pid}}' "$1" 2>/dev/null; }
running() { [ "$(podman inspect --format '{{.State.Running}}' "$1" 2>/dev/null)" = true ]; }

# app NAME POD CMD...: a container of the base image running tcpdrv (bind-
# mounted read-only from the build) in POD.
app() {
	local name=$1 pod=$2; shift 2
	podman run -d --name "$name" --pod "$pod" -v "$TCPDRV:/usr/local/bin/tcpdrv:ro" \
		"$BASE_IMAGE" tcpdrv "$@" >"$TMP/$name.id" 2>&1 || fatal "podman run $name: $(cat "$TMP/$name.id")"
}

# wedge NAME POD PORT DURATION: a server blocked in send() on a client that
# is then frozen (SIGSTOP); sets WEDGE_T0 (epoch seconds of the freeze).
wedge() {
	local name=$1 pod=$2 port=$3 dur=$4
	app "$name-server" "$pod" server --port "$port" --mode send --duration "$dur"
	wait_log "$name-server" '^listening' 10 || fatal "$name server did not listen: $(podman logs "$name-server" 2>&1)"
	app "$name-client" "$pod" client --host 127.0.0.1 --port "$port" --mode read --duration "$dur"
	wait_log "$name-client" '^connected' 10 || fatal "$name client did not connect: $(podman logs "$name-client" 2>&1)"
	sleep 0.3
	kill -STOP "$(cpid "$name-client")" || fatal "SIGSTOP $name client"
	WEDGE_T0=$(date +%s.%N)
	WEDGE_PID=$(cpid "$name-server")
	# The server's pid as its pod sees it (the last NSpid field).
	WEDGE_NSPID=$(awk '$1 == "NSpid:" { print $NF }' "/proc/$WEDGE_PID/status")
}

# wait_result CONTAINER TIMEOUT_S: until tcpdrv printed its result= line.
wait_result() {
	local i
	for ((i = 0; i < $2 * 5; i++)); do
		[ -n "$(result_line "$1")" ] && return 0
		sleep 0.2
	done
	return 1
}

# wait_log CONTAINER REGEX TIMEOUT_S: poll the container's log.
wait_log() {
	local c=$1 re=$2 t=$3 i
	for ((i = 0; i < t * 5; i++)); do
		podman logs "$c" 2>&1 | grep -Eq -- "$re" && return 0
		sleep 0.2
	done
	return 1
}

# result_of CONTAINER: tcpdrv's closing result= line.
result_line() { podman logs "$1" 2>&1 | grep '^result=' | tail -1; }

# send_q NETPID PORT: bytes queued on the server side of PORT in that namespace.
send_q() {
	nsenter --net="/proc/$1/ns/net" ss -Htn state established "( sport = :$2 )" |
		awk '{ s += $2 } END { print s + 0 }'
}

# start_sockreap NAME POD|- FILE CONTAINER [--env N=V]...: run the manifest's
# container from $IMAGE; POD "-" for none. Waits for event=ready.
start_sockreap() {
	local name=$1 pod=$2 file=$3 ctr=$4 i; shift 4
	manifest run-args "$file" "$ctr" "$@" --seccomp-root "${SECCOMP_ROOT:-$ROOT/deploy}"
	local run=("${MF[@]}")
	manifest cmd "$file" "$ctr"
	local cmd=("${MF[@]}")
	[ "$pod" = - ] && pod= || pod="--pod=$pod"
	echo "podman run -d --name $name $pod ${run[*]} $IMAGE ${cmd[*]}" >"$TMP/$name.cmdline"
	podman run -d --name "$name" ${pod:+"$pod"} "${run[@]}" "$IMAGE" "${cmd[@]}" >"$TMP/$name.id" 2>&1 ||
		fatal "podman run $name: $(cat "$TMP/$name.id")"
	for ((i = 0; i < 150; i++)); do
		podman logs "$name" 2>&1 | grep -q 'event=ready' && return 0
		running "$name" || break
		sleep 0.2
	done
	return 1
}
