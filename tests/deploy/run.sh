#!/usr/bin/env bash
# run.sh BUILD_DIR [NAME...] - the deployment tests (all, or test_NAME.sh for
# each NAME) against one image built from deploy/Dockerfile; prints
# "deploy: N passed, N failed, N skipped". Exit 0 if all ran and passed, 77
# if podman cannot run at all (with the reason), 1 otherwise.
#
# One run at a time per machine (the podman storage and the base image cache
# are shared). The image build and the tests that time reaps hold
# /tmp/sockreap-cpu.lock, which the qemu guest runs also take, so that none
# of them runs on a machine the others saturate (make test runs the
# integration tests before them, alone).
set -u
BUILD=${1:-build}
export BUILD
shift
cd "$(dirname "$0")/../.." || exit 1
CACHE=${SOCKREAP_DEPLOY_CACHE:-/var/cache/sockreap-deploy}
CPU_LOCK=/tmp/sockreap-cpu.lock
start_all=$(date +%s)

tests=()
if [ $# -gt 0 ]; then
	for n in "$@"; do tests+=("tests/deploy/test_$n.sh"); done
else
	tests=(tests/deploy/test_image.sh tests/deploy/test_sidecar.sh tests/deploy/test_daemonset.sh
		tests/deploy/test_install.sh)
fi

. tests/lib/tally.sh
skip_all() { echo "SKIP: $*"; T_SKIPPED=${#tests[@]}; tally_close deploy; exit 77; }

[ "$(id -u)" = 0 ] || skip_all "the deployment tests need root (podman, network namespaces, cgroups)"
command -v podman >/dev/null || skip_all "podman not installed (make deploy-deps)"
mkdir -p "$CACHE"
exec 8>"$CACHE/.run.lock"
flock -w 3600 8 || { echo "FAIL: another deployment test run holds $CACHE/.run.lock"; T_FAILED=1; tally_close deploy; exit 1; }

TMP=$(mktemp -d /tmp/sockreap-deploy-run.XXXXXX)
IMAGE=localhost/sockreap-deploy-test:run$$
# This run's own podman settings (runc, the ulimits this machine allows).
export CONTAINERS_CONF=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/containers.conf
# podman builds the pods' infra image (podman-pause) on first use: it goes
# too unless it was there before.
pause_before=$(podman images -q --filter reference=localhost/podman-pause 2>/dev/null)
# podman's cgroup parent: this run's podman commands (the checks, the image
# build) make it before any test starts; it goes at the end unless it was
# there before the run (the tests are told, so they leave it to this).
. tests/deploy/cgroups.sh
export SOCKREAP_LIBPOD_PARENT_WAS=$(libpod_parent_dirs)
cleanup() {
	tests/deploy/build_image.sh --remove "$IMAGE"
	[ -n "$pause_before" ] || podman rmi -f $(podman images -q --filter reference=localhost/podman-pause) >/dev/null 2>&1
	[ -n "$SOCKREAP_LIBPOD_PARENT_WAS" ] || rm_cgroups $(libpod_parent_dirs)
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

t=$(date +%s)
if ! deploy/debian-base.sh >"$TMP/base.out" 2>&1; then
	cat "$TMP/base.out"
	skip_all "no Debian base image ($(tail -1 "$TMP/base.out"))"
fi
echo "== base image: $(tail -1 "$TMP/base.out") ($(($(date +%s) - t)) s)"
out=$(podman run --rm --network none docker.io/library/debian:bookworm true 2>&1) ||
	skip_all "podman cannot run a container: $out"

echo "== building $IMAGE from deploy/Dockerfile"
t=$(date +%s)
export SOCKREAP_DEPLOY_BUILD_LOG=$TMP/build.log
flock -E 75 -w 3600 "$CPU_LOCK" bash -c 'w=$(($(date +%s) - $0)); [ $w -lt 2 ] ||
	echo "   (waited $w s for $1)" >&3; exec tests/deploy/build_image.sh "$2" 3>&-' "$t" "$CPU_LOCK" "$IMAGE" \
	3>&1 >"$SOCKREAP_DEPLOY_BUILD_LOG" 2>&1
rc=$?
tail -1 "$SOCKREAP_DEPLOY_BUILD_LOG"
if [ $rc -ne 0 ]; then
	[ $rc = 75 ] && echo "$CPU_LOCK stayed taken for an hour"
	tail -20 "$SOCKREAP_DEPLOY_BUILD_LOG"
	echo "FAIL: the image did not build"
	T_FAILED=1 T_FAILED_NAMES=(image-build)
	tally_close deploy
	exit 1
fi
echo "   ($(($(date +%s) - t)) s)"
export SOCKREAP_DEPLOY_IMAGE=$IMAGE

# A test that times reaps holds the CPU lock while it runs.
locked() {
	local s
	s=$(date +%s)
	flock -E 75 -w 3600 "$CPU_LOCK" bash -c 'w=$(($(date +%s) - $0)); [ $w -lt 2 ] ||
		echo "   (waited $w s for $1)"; exec bash "$2"' "$s" "$CPU_LOCK" "$1"
	local rc=$?
	[ $rc = 75 ] && echo "   FAIL: $CPU_LOCK stayed taken for an hour"
	return $rc
}
for t in "${tests[@]}"; do
	name=$(basename "$t" .sh)
	case $name in
	test_sidecar | test_daemonset | test_install) tally_run "$name" locked "$t" ;;
	*) tally_run "$name" bash "$t" ;;
	esac
done
echo "deployment tests: $(($(date +%s) - start_all)) s"
tally_close deploy
