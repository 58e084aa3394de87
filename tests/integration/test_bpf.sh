#!/usr/bin/env bash
# The BPF bookkeeping, asserted on the map itself (tests/bpf/test_bpf.c, a
# cmocka binary): entries, per-state counters, queue transitions and the
# candidate set, the ACK prediction, the FIN and its read, deletion on close.
. "$(dirname "$0")/lib.sh"
require_env
[ -x "$BUILD/tests/test_bpf" ] || { echo "FAIL: build first ($BUILD/tests/test_bpf)"; exit 1; }
"$BUILD/tests/test_bpf"
