#!/usr/bin/env bash
# run.sh BUILD_DIR [NAME...] - run the integration tests (all, or test_NAME.sh
# for each NAME); print "N passed, N failed, N skipped".
set -u
BUILD=${1:-build}
export BUILD
shift
cd "$(dirname "$0")/../.." || exit 1
. tests/lib/tally.sh
tests=()
if [ $# -gt 0 ]; then
	for n in "$@"; do tests+=("tests/integration/test_$n.sh"); done
else
	tests=(tests/integration/test_*.sh)
fi
for t in "${tests[@]}"; do
	tally_run "$(basename "$t" .sh)" bash "$t"
done
echo "integration tests against $BUILD/sockreap:"
tally_close integration
