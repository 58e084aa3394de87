#!/usr/bin/env bash
# run.sh BUILD_DIR [NAME...] - run the integration tests (all, or test_NAME.sh
# for each NAME); print "N passed, N failed, N skipped".
set -u
BUILD=${1:-build}
export BUILD
shift
cd "$(dirname "$0")/../.." || exit 1
pass=0 failed=0 skipped=0 failed_names=()
tests=()
if [ $# -gt 0 ]; then
	for n in "$@"; do tests+=("tests/integration/test_$n.sh"); done
else
	tests=(tests/integration/test_*.sh)
fi
for t in "${tests[@]}"; do
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
echo "integration tests against $BUILD/sockreap:"
echo "integration: $pass passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ] && [ "$pass" -gt 0 ]
