#!/bin/bash
# matrix.sh [SUITE...] [--timeout S] [--results DIR] [-- CMD...]
#
# Run CMD (default: a smoke check that the guest boots and has BTF) under each
# suite's stock kernel via run.sh, one after another (each guest takes both
# cores and the CPU lock). Prints one line per kernel and closes with exactly
#   kernels: N passed, N failed, N skipped
# A kernel passes when CMD exits 0, is skipped when run.sh says SKIP (77),
# and fails otherwise. Exit status: 1 if any failed; 77 if all were skipped;
# else 0. --results DIR keeps each guest's files in DIR/SUITE.
#
#   tests/kernels/matrix.sh -- make unit
#   tests/kernels/matrix.sh bullseye trixie --timeout 900 -- tests/integration/run.sh
set -euo pipefail
# shellcheck source=tests/kernels/lib.sh
. "$(dirname "$0")/lib.sh"

suites=() run_opts=() results=""
while [[ $# -gt 0 ]]; do
	case $1 in
	--timeout) [[ -n ${2:-} ]] || die "--timeout needs a value"; run_opts+=(--timeout "$2"); shift 2 ;;
	--results) [[ -n ${2:-} ]] || die "--results needs a directory"; results=$2; shift 2 ;;
	--) shift; break ;;
	-*) die "usage: matrix.sh [SUITE...] [--timeout S] [--results DIR] [-- CMD...]" ;;
	*) check_suite "$1"; suites+=("$1"); shift ;;
	esac
done
[[ ${#suites[@]} -gt 0 ]] || suites=("${ALL_SUITES[@]}")
if [[ $# -eq 0 ]]; then
	set -- 'uname -r && test -r /sys/kernel/btf/vmlinux'
fi

passed=0 failed=0 skipped=0 lines=()
out=$(mktemp "${TMPDIR:-/tmp}/sockreap-matrix.XXXXXX")
trap 'rm -f "$out"' EXIT
for suite in "${suites[@]}"; do
	echo "=== $suite ==="
	opts=("${run_opts[@]}")
	[[ -n $results ]] && opts+=(--results "$results/$suite")
	start=$SECONDS
	set +e
	"$KERNELS_DIR/run.sh" "$suite" "${opts[@]}" -- "$@" | tee "$out"
	rc=${PIPESTATUS[0]}
	set -e
	release=$(cat "$(suite_dir "$suite")/version" 2>/dev/null || echo '?')
	took=$((SECONDS - start))
	case $rc in
	0) passed=$((passed + 1)); lines+=("$suite $release: PASS (${took}s)") ;;
	77) skipped=$((skipped + 1)); lines+=("$suite $release: SKIP $(grep -m1 '^SKIP:' "$out" | cut -c7-)") ;;
	*) failed=$((failed + 1)); lines+=("$suite $release: FAIL (exit $rc, ${took}s)") ;;
	esac
done
echo "=== summary ==="
printf '%s\n' "${lines[@]}"
echo "kernels: $passed passed, $failed failed, $skipped skipped"
[[ $failed -eq 0 ]] || exit 1
[[ $passed -gt 0 || $skipped -eq 0 ]] || exit 77
exit 0
