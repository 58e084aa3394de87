#!/usr/bin/env bash
# run.sh BUILD_DIR - run every integration test; print "N passed, N failed, N skipped".
set -u
BUILD=${1:-build}
export BUILD
cd "$(dirname "$0")/../.." || exit 1
pass=0 failed=0 skipped=0 failed_names=()
for t in tests/integration/test_*.sh; do
	name=$(basename "$t" .sh)
	echo "== $name"
	start=$(date +%s)
	bash "$t"
	rc=$?
	echo "   ($(( $(date +%s) - start )) s)"
	case $rc in
	0) pass=$((pass + 1)) ;;
	77) skipped=$((skipped + 1)) ;;
	*) failed=$((failed + 1)); failed_names+=("$name") ;;
	esac
done
[ "$failed" -gt 0 ] && echo "failed: ${failed_names[*]}"
echo "integration: $pass passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ] && [ "$pass" -gt 0 ]
