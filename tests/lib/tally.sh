# tally.sh - the checks and the tally every test harness shares (sourced,
# bash): tests/integration/lib.sh and tests/deploy/lib.sh for the checks of
# one test, tests/integration/run.sh and tests/deploy/run.sh for the tests
# of one run.

# --- the checks of one test: "  ok   ..." / "  FAIL ...", then the count ---
FAILS=0
CHECKS=0
skip() { echo "SKIP: $*"; exit 77; }
ok() { CHECKS=$((CHECKS + 1)); echo "  ok   $*"; }
fail() { CHECKS=$((CHECKS + 1)); FAILS=$((FAILS + 1)); echo "  FAIL $*"; }
# check DESCRIPTION CMD...: ok if CMD succeeds.
check() {
	local d=$1
	shift
	if "$@"; then ok "$d"; else fail "$d"; fi
}
# finish: the count, and the test's status. A harness with checks of its
# own to make at the end of every test defines pre_finish.
finish() {
	if declare -F pre_finish >/dev/null; then pre_finish; fi
	echo "  $((CHECKS - FAILS)) of $CHECKS checks passed"
	[ "$FAILS" -eq 0 ]
}
# keep_tmp DIR: at exit, a failed test (or KEEP_LOGS=1) keeps its files and
# says where; a passed one removes them.
keep_tmp() {
	if [ "$FAILS" -gt 0 ] || [ -n "${KEEP_LOGS:-}" ]; then
		echo "  logs kept in $1"
	else
		rm -rf "$1"
	fi
}

# --- the tests of one run: exit 0 passed, 77 skipped, else failed ---
T_PASS=0 T_FAILED=0 T_SKIPPED=0 T_FAILED_NAMES=()
# tally_run NAME CMD...: run one test, print its time, count its outcome.
tally_run() {
	local name=$1 s rc
	shift
	echo "== $name"
	s=$(date +%s)
	"$@"
	rc=$?
	echo "   ($(($(date +%s) - s)) s)"
	case $rc in
	0) T_PASS=$((T_PASS + 1)) ;;
	77) T_SKIPPED=$((T_SKIPPED + 1)) ;;
	*) T_FAILED=$((T_FAILED + 1)) T_FAILED_NAMES+=("$name") ;;
	esac
	return "$rc"
}
# tally_close LABEL: "LABEL: N passed, N failed, N skipped"; status 0 only
# if something passed and nothing failed.
tally_close() {
	[ "$T_FAILED" -gt 0 ] && echo "failed: ${T_FAILED_NAMES[*]}"
	echo "$1: $T_PASS passed, $T_FAILED failed, $T_SKIPPED skipped"
	[ "$T_FAILED" -eq 0 ] && [ "$T_PASS" -gt 0 ]
}
