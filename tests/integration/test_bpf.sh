#!/usr/bin/env bash
# The BPF bookkeeping, asserted on the map itself (tests/bpf/test_bpf.c, a
# cmocka binary): entries, per-state counters, queue transitions and the
# candidate set, the ACK prediction, the FIN and its read, deletion on close.
. "$(dirname "$0")/lib.sh"
require_env
[ -x "$BUILD/tests/test_bpf" ] || { echo "FAIL: build first ($BUILD/tests/test_bpf)"; exit 1; }
# On the kernel's own send path (a hook sees each send) and the sweep path
# (no send hook: ACKs, retransmissions and walks only), each with the store
# the kernel offers (socket storage from 5.11) and with the hash map.
rc=0
for path in auto sweep; do
	for store in auto hash; do
		echo "-- send path: $path, store: $store"
		TEST_BPF_SEND_PATH=$path TEST_BPF_STORE=$store "$BUILD/tests/test_bpf" || rc=1
	done
done
exit $rc
