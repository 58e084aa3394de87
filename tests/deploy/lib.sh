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
. "$HERE/../lib/tally.sh"
. "$HERE/cgroups.sh"
CLEANUPS=()
PODS=()
NETNS=()
POD_IDS=() # kube play's pods, also those a test removed itself (their cgroups stay behind)
BGPIDS=()
CG2=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts)
# podman's default cgroup parent, if it was there before this run (run.sh
# says: its own podman commands make it before any test starts).
LIBPOD_PARENT_WAS=${SOCKREAP_LIBPOD_PARENT_WAS-$(libpod_parent_dirs)}
# The network `podman kube play` makes for its pods (kept by podman): removed
# at exit unless it was there before.
KUBE_NET=podman-default-kube-network
KUBE_NET_WAS=$(podman network exists "$KUBE_NET" 2>/dev/null && echo yes)
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
		in_node podman rm -f -t 0 "$c" >/dev/null 2>&1
	done
	for ((c = ${#CLEANUPS[@]} - 1; c >= 0; c--)); do eval "${CLEANUPS[c]}" >/dev/null 2>&1; done
	local ids=("${POD_IDS[@]}")
	for p in "${PODS[@]}"; do
		ids+=("$(podman pod inspect --format '{{.Id}}' "$p" 2>/dev/null)")
		# A SIGSTOPped container would hold podman for its stop timeout.
		podman pod kill -s CONT "$p" >/dev/null 2>&1
		# kube play's pods are on podman's bridge in the node namespace:
		# its network teardown must run there.
		in_node podman pod rm -f -t 0 "$p" >/dev/null 2>&1
	done
	[ -n "$KUBE_NET_WAS" ] || podman network rm -f "$KUBE_NET" >/dev/null 2>&1
	for p in "${BGPIDS[@]}"; do kill -CONT "$p" 2>/dev/null; kill -KILL "$p" 2>/dev/null; done
	for ns in "${NETNS[@]}"; do ip netns del "$ns" 2>/dev/null; done
	# kube play's pods live under podman's default parent, libpod_parent:
	# this run's pods go, and the parent too if this run made it.
	for p in "${ids[@]}"; do
		[ -n "$p" ] && rm_cgroups /sys/fs/cgroup/*/libpod_parent/"$p" /sys/fs/cgroup/libpod_parent/"$p"
	done
	[ -n "$LIBPOD_PARENT_WAS" ] || rm_cgroups $(libpod_parent_dirs)
	# podman (cgroupfs manager) leaves pod directories behind in the
	# name=systemd and unified hierarchies: remove this run's whole parent.
	rm_cgroups /sys/fs/cgroup/*/"${CG_PARENT#/}" /sys/fs/cgroup/"${CG_PARENT#/}"
	keep_tmp "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# fatal MSG: a step the rest of the test depends on failed.
fatal() { fail "$*"; finish; exit 1; }

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
new_pod() {
	local var=$1 name=$2; shift 2
	podman pod create --name "$name" --network none --cgroup-parent "$CG_PARENT/${POD_CGROUP:-pods}" \
		"$@" >"$TMP/$name.pod" 2>&1 || fatal "podman pod create $name: $(cat "$TMP/$name.pod")"
	PODS+=("$name")
	podman pod start "$name" >/dev/null 2>&1 || fatal "podman pod start $name"
	link_pod "$var" "$name"
}

# node_ns: the namespace standing for the node (made once); in_node CMD...
# runs CMD in it (nsenter, not `ip netns exec`, which would remount /sys).
NODE_NS=
node_ns() {
	[ -n "$NODE_NS" ] && return 0
	NODE_NS=$TAG-node
	ip netns add "$NODE_NS" || fatal "ip netns add $NODE_NS"
	NETNS+=("$NODE_NS")
	ip -n "$NODE_NS" link set lo up
}
in_node() {
	if [ -n "$NODE_NS" ]; then nsenter --net="/run/netns/$NODE_NS" "$@"; else "$@"; fi
}

# link_pod VAR POD: what the CNI does for a pod made with --network none:
# a link-local /30 on a veth between the pod's network namespace and the
# node namespace (nothing is routed anywhere else). Sets ${VAR}_IP and
# ${VAR}_NETPID (a process in the pod's namespaces).
POD_N=0
link_pod() {
	local var=$1 name=$2 infra pid a b ip
	node_ns
	POD_N=$((POD_N + 1))
	infra=$(podman pod inspect --format '{{.InfraContainerID}}' "$name")
	pid=$(podman inspect --format '{{.State.Pid}}' "$infra")
	[ "${pid:-0}" -gt 0 ] || fatal "$name: no infra process"
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

# kube_play VAR NAME FILE [variant options]...: FILE as `podman kube play`
# reads it, with only the changes manifest.py variant names (a pod name of
# this run, the images under test, documented edits), and the kubelet's
# seccomp directory replaced by deploy/ (the node-side profile file). podman
# runs in the node namespace: its bridge (the CNI's part) and the host ports
# it publishes for every containerPort (which Kubernetes would not) are
# there, not on this machine. Sets ${VAR}_IP (the pod's IP on that bridge)
# and ${VAR}_NETPID.
kube_play() {
	local var=$1 name=$2 file=$3 infra pid ip; shift 3
	node_ns
	"$PY" "$MANIFEST" variant "$file" --name "$name" "$@" >"$TMP/$name.yaml" 2>"$TMP/$name.changes" ||
		fatal "manifest.py variant: $(cat "$TMP/$name.changes")"
	sed 's/^manifest.py: /  /' "$TMP/$name.changes"
	PODS+=("$name")
	in_node podman kube play --seccomp-profile-root "${SECCOMP_ROOT:-$ROOT/deploy}" \
		"$TMP/$name.yaml" >"$TMP/$name.play" 2>&1 || fatal "podman kube play $name: $(tail -3 "$TMP/$name.play")"
	POD_IDS+=("$(podman pod inspect --format '{{.Id}}' "$name" 2>/dev/null)")
	infra=$(podman pod inspect --format '{{.InfraContainerID}}' "$name") || fatal "no pod $name after kube play"
	pid=$(podman inspect --format '{{.State.Pid}}' "$infra")
	ip=$(podman inspect --format '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$infra")
	[ "${pid:-0}" -gt 0 ] && [ -n "$ip" ] || fatal "$name: no infra process or no pod IP"
	printf -v "${var}_IP" '%s' "$ip"
	printf -v "${var}_NETPID" '%s' "$pid"
}

# kubelet_cgroup CONTAINER POD_UID QOS: move the container's processes to
# where the kubelet's cgroupfs driver puts a container,
# <parent>/kubepods/QOS/pod<UID>/<container id> (this run's parent; podman
# has no pod UID of its own). Done before the process opens its socket: a
# socket keeps the cgroup it was created in, and its listener's if accepted.
kubelet_cgroup() {
	local ctr=$1 uid=$2 qos=$3 id pid from dir p
	id=$(podman inspect --format '{{.Id}}' "$ctr") && pid=$(cpid "$ctr") || fatal "no container $ctr"
	from=$(awk -F: '$1 == "0" { print $3 }' "/proc/$pid/cgroup")
	dir=$CG2$CG_PARENT/kubepods/$qos/pod$uid/$id
	mkdir -p "$dir" || fatal "mkdir $dir"
	# The gate's shell forks a short sleep every 0.1 s: one listed may have
	# exited (or be a zombie) before it is moved, and the move fails with
	# ESRCH (seen in CI). What counts is the container's main process, the
	# shell that execs tcpdrv: it must end up in place.
	for p in $(cat "$CG2$from/cgroup.procs"); do
		echo "$p" >"$dir/cgroup.procs" 2>/dev/null || true
	done
	grep -qx "$pid" "$dir/cgroup.procs" || fatal "move $ctr's process $pid to $dir"
}

# The command of a gated container: waits (at most 60 s) for /tmp/go, which
# open_gate makes once the test has placed it, then runs tcpdrv ARGS.
GATE_SH='i=0; while [ ! -e /tmp/go ]; do i=$((i + 1)); [ $i -le 600 ] || exit 3; sleep 0.1; done; exec /usr/local/bin/tcpdrv "$@"'
open_gate() { podman exec "$1" touch /tmp/go || fatal "cannot open the gate of $1"; }

# app_image ARGS...: an image of the base with tcpdrv whose entrypoint is
# the gated `tcpdrv ARGS` (a stand-in for a manifest's application image),
# in APP_IMAGE; removed at exit.
app_image() {
	local ctx=$TMP/app-image
	APP_IMAGE=localhost/sockreap-deploy-app:$TAG
	mkdir -p "$ctx" && cp "$TCPDRV" "$ctx/tcpdrv" || fatal "app image context"
	{
		echo "FROM $BASE_IMAGE"
		echo "COPY tcpdrv /usr/local/bin/tcpdrv"
		"$PY" -c 'import json, sys; print("ENTRYPOINT " + json.dumps(["/bin/sh", "-c", sys.argv[1], "gate"] + sys.argv[2:]))' \
			"$GATE_SH" "$@"
	} >"$ctx/Containerfile"
	CLEANUPS+=("podman rmi -f '$APP_IMAGE'")
	podman build --network none -t "$APP_IMAGE" -f "$ctx/Containerfile" "$ctx" >"$TMP/app-image.out" 2>&1 ||
		fatal "podman build $APP_IMAGE: $(tail -3 "$TMP/app-image.out")"
}

# node_client NAME IP PORT DURATION: a reading client in the node namespace,
# as a remote browser would be; its pid in CLIENT_PID, output in $TMP/NAME.out.
node_client() {
	ip netns exec "$NODE_NS" "$TCPDRV" client --host "$2" --port "$3" --mode read --duration "$4" \
		>"$TMP/$1.out" 2>&1 &
	CLIENT_PID=$!
	disown "$CLIENT_PID" # killed at exit, without a "Killed" line
	BGPIDS+=("$CLIENT_PID")
	local i
	for ((i = 0; i < 50; i++)); do grep -q '^connected' "$TMP/$1.out" && return 0; sleep 0.2; done
	fatal "$1 did not connect to $2:$3: $(cat "$TMP/$1.out")"
}

# node_curl URL...: curl from the node's namespace (as the kubelet or Prometheus).
node_curl() { ip netns exec "$NODE_NS" curl -sS --max-time 3 "$@"; }

cpid() { podman inspect --format '{{.State.Pid}}' "$1" 2>/dev/null; }
running() { [ "$(podman inspect --format '{{.State.Running}}' "$1" 2>/dev/null)" = true ]; }

# app NAME POD [--gated] ARGS...: a container of the base image running
# `tcpdrv ARGS` (bind-mounted read-only from the build) in POD; --gated: only
# once open_gate NAME says so (GATE_SH), so the test can place it first.
app() {
	local name=$1 pod=$2 cmd=(tcpdrv); shift 2
	if [ "${1:-}" = --gated ]; then shift; cmd=(/bin/sh -c "$GATE_SH" gate); fi
	podman run -d --name "$name" --pod "$pod" -v "$TCPDRV:/usr/local/bin/tcpdrv:ro" \
		"$BASE_IMAGE" "${cmd[@]}" "$@" >"$TMP/$name.id" 2>&1 || fatal "podman run $name: $(cat "$TMP/$name.id")"
}

# wedge NAME POD PORT DURATION: a server blocked in send() on a client that
# is then frozen (SIGSTOP); sets WEDGE_T0 (epoch seconds of the freeze).
# With WEDGE_POD_UID set, the server runs in a kubelet-shaped cgroup of that
# pod UID (kubelet_cgroup), placed before it listens.
wedge() {
	local name=$1 pod=$2 port=$3 dur=$4
	if [ -n "${WEDGE_POD_UID:-}" ]; then
		app "$name-server" "$pod" --gated server --port "$port" --mode send --duration "$dur"
		kubelet_cgroup "$name-server" "$WEDGE_POD_UID" burstable
		open_gate "$name-server"
	else
		app "$name-server" "$pod" server --port "$port" --mode send --duration "$dur"
	fi
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
