#!/usr/bin/env bash
# A kernel-owned TCP socket is never touched. Two in-kernel TCP users, each
# where the kernel has it: MPTCP, whose TCP subflows are kernel sockets (the
# application holds the MPTCP socket, never a subflow), and the NFS client
# (SunRPC's transport: a kernel socket with no file). Each is blackholed for
# 2.5 x grace with data queued and no ACK progress. The daemon counts and
# shows the socket (sockreap_sockets_kernel, `list`: owner kernel) but logs no
# stall and shuts nothing: the MPTCP transfer completes byte-exact once the
# blackhole lifts, and the NFS client's connection is still there.
. "$(dirname "$0")/lib.sh"
require_env
command -v nft >/dev/null || skip "nft not installed (make deps)"
HAS_MPTCP= HAS_NFS=
python3 -c 'import socket; socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)' 2>/dev/null && HAS_MPTCP=1
{ modprobe nfsv4 2>/dev/null; grep -qw nfs4 /proc/filesystems; } && command -v mount >/dev/null && HAS_NFS=1
[ -n "$HAS_MPTCP$HAS_NFS" ] || skip "this kernel has neither MPTCP nor the NFS client: no in-kernel TCP user to test with"

GRACE=$(scaled 1.5) INTERVAL=$(scaled 0.5) DUR=$(scaled_int 40)
RATE=4194304 PORT=5951
BLACKHOLE=$(echo "2.5 * $GRACE" | bc)
# Paced, the transfer lasts the settle time, the blackhole and 3 s (scaled)
# more, so the blackhole lands mid-transfer however slowly nft loads; a check
# below proves it did rather than trusting the margin.
BYTES=$(echo "x = $RATE * ($(scaled 4) + $BLACKHOLE); scale=0; x / 16384 * 16384" | bc)
new_netns NS kern
start_daemon "$NS" daemon --stall-grace "$GRACE" --interval "$INTERVAL" --metrics-file "$TMP/metrics.prom"
LOG=$TMP/daemon.out

mptcp_case() {
	# The sender paced, the reader as fast as it can: data is always in flight,
	# so the blackhole always leaves some unacknowledged.
	bg_ns server "$NS" "$TCPDRV" server --mptcp --port $PORT --mode send --count $BYTES --rate $RATE \
		--chunk 16384 --duration "$DUR"
	SRV_PID=$BG_PID
	wait_for "$TMP/server.out" '^listening' 5 || { echo "FAIL: server did not listen"; exit 1; }
	bg_ns client "$NS" "$TCPDRV" client --mptcp --port $PORT --mode read --duration "$DUR"
	CLI_PID=$BG_PID
	wait_for "$TMP/client.out" '^connected' 5 || { echo "FAIL: client did not connect"; exit 1; }
	sleep "$(scaled 1)"

	echo "-- MPTCP (its TCP subflows)"
	in_ns "$NS" nft -f - <<-NFT
	table inet srt {
		chain out {
			type filter hook output priority 0;
			tcp dport $PORT drop
		}
	}
	NFT
	sleep "$BLACKHOLE"
	list=$(in_ns "$NS" "$SOCKREAP" list --json --control-socket "$TMP/daemon.sock")
	cp "$TMP/metrics.prom" "$TMP/during.prom"; echo "$list" >"$TMP/list.json"
	running=$(grep -c '^result=' "$TMP/server.out")
	in_ns "$NS" nft delete table inet srt
	wait_pids "$DUR" "$SRV_PID" "$CLI_PID"

	check "the transfer was still running when the blackhole lifted" test "$running" = 0

	check "list shows the subflow as a kernel socket" \
		python3 -c 'import json,sys; r=json.loads(sys.argv[1]); sys.exit(not any(x["owner"] == "kernel" and x["laddr"].endswith(":'$PORT'") for x in r))' "$list"
	stalled=$(python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print(max([x["stall_age_s"] for x in r if x["owner"] == "kernel" and x["laddr"].endswith(":'$PORT'")] or [0]))' "$list")
	check "its send_stall clock ran past the grace unacted (${stalled} s >= $GRACE)" \
		test "$(echo "$stalled >= $GRACE" | bc)" = 1
	check "counted: $(grep '^sockreap_sockets_kernel ' "$TMP/during.prom") (both ends' subflows)" \
		grep -q '^sockreap_sockets_kernel [2-9]' "$TMP/during.prom"
	check "no stall and no reap logged on port $PORT" bash -c "! grep -E 'event=(stall|reap)' '$LOG' | grep -q ':$PORT '"
	check "the server sent every byte and closed in order ($(tail -1 "$TMP/server.out"))" \
		grep -q "^result=sent .* bytes=$BYTES\$" "$TMP/server.out"
	check "the client got every byte, then EOF ($(tail -1 "$TMP/client.out"))" \
		grep -q "^result=eof .* bytes=$BYTES\$" "$TMP/client.out"
}

# The NFS client's transport: the kernel connects to a server on PORT2 that
# accepts and never answers; every data segment to it is dropped (the
# handshake passes), so the RPC it sends first is never acknowledged.
nfs_case() {
	local port=5971 grace_left
	echo "-- NFS client (SunRPC transport)"
	in_ns "$NS" nft -f - <<NFT
table inet srt_nfs {
	chain out {
		type filter hook output priority 0;
		tcp dport $port ip length > 64 drop
	}
}
NFT
	bg_ns nfs-server "$NS" "$TCPDRV" server --port $port --mode hold --duration "$DUR"
	wait_for "$TMP/nfs-server.out" '^listening' 5 || { fail "nfs: fake server did not listen"; return; }
	mkdir -p "$TMP/mnt"
	bg_ns nfs-mount "$NS" unshare -m --propagation private mount -i -t nfs4 \
		-o vers=4.1,proto=tcp,port=$port,addr=127.0.0.1,soft,timeo=600,retrans=2 127.0.0.1:/ "$TMP/mnt"
	MOUNT_PID=$BG_PID
	wait_for "$TMP/nfs-server.out" '^connected' 10 || { fail "nfs: the kernel client never connected"; return; }
	sleep "$BLACKHOLE"
	list=$(in_ns "$NS" "$SOCKREAP" list --json --control-socket "$TMP/daemon.sock")
	echo "$list" >"$TMP/nfs-list.json"
	cp "$TMP/metrics.prom" "$TMP/nfs-during.prom"
	check "nfs: list shows the client's transport as a kernel socket" \
		python3 -c 'import json,sys; r=json.loads(sys.argv[1]); sys.exit(not any(x["owner"] == "kernel" and x["raddr"].endswith(":'$port'") for x in r))' "$list"
	stalled=$(python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print(max([x["stall_age_s"] for x in r if x["owner"] == "kernel" and x["raddr"].endswith(":'$port'")] or [0]))' "$list")
	check "nfs: its send_stall clock ran past the grace unacted (${stalled} s >= $GRACE)" \
		test "$(echo "$stalled >= $GRACE" | bc)" = 1
	check "nfs: counted ($(grep '^sockreap_sockets_kernel ' "$TMP/nfs-during.prom"))" \
		grep -q '^sockreap_sockets_kernel [1-9]' "$TMP/nfs-during.prom"
	check "nfs: the connection is still established" \
		bash -c "nsenter --net=/run/netns/$NS ss -Htn state established '( dport = :$port )' | grep -q ."
	check "nfs: no stall and no reap logged for it" bash -c "! grep -E 'event=(stall|reap)' '$LOG' | grep -q ':$port '"
	in_ns "$NS" nft delete table inet srt_nfs
	sig KILL "$MOUNT_PID"
	wait_pids 10 "$MOUNT_PID"
}

if [ -n "$HAS_MPTCP" ]; then mptcp_case; else echo "-- no MPTCP in this kernel: its case is not run"; fi
if [ -n "$HAS_NFS" ]; then nfs_case; else echo "-- no NFS client in this kernel: its case is not run"; fi
stop_daemon "$DAEMON_PID"
check "daemon exits 0" test $? = 0
finish
