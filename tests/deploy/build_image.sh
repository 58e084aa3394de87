#!/usr/bin/env bash
# build_image.sh TAG          build deploy/Dockerfile (both stages) as TAG
# build_image.sh --remove TAG remove TAG and every intermediate image its build made
#
# The build context is the repository root, as the Dockerfile says. Images
# other than the cached Debian base (deploy/debian-base.sh) are not kept:
# the ids present before the build are recorded next to the tag, and
# --remove deletes exactly the ones that appeared.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
STATE=${TMPDIR:-/tmp}/sockreap-deploy-images
mkdir -p "$STATE"

if [ "${1:-}" = --remove ]; then
	tag=$2 f="$STATE/$(echo "$2" | tr '/:' '__').new"
	podman rmi -f "$tag" >/dev/null 2>&1
	if [ -s "$f" ]; then
		# Newest first: a child before its parent.
		tac "$f" | while read -r id; do podman rmi -f "$id" >/dev/null 2>&1; done
	fi
	rm -f "$f" "${f%.new}.before"
	exit 0
fi

tag=$1 f="$STATE/$(echo "$1" | tr '/:' '__')"
podman images -a -q --no-trunc | sort -u >"$f.before"
start=$(date +%s)
version=$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo 0.1)
# The label records the version given, for the test to compare with --version.
podman build --ulimit nofile=20000:20000 --ulimit nproc=32768:32768 --pull=never \
	--build-arg VERSION="$version" --label sockreap.test.version="$version" \
	-f "$ROOT/deploy/Dockerfile" -t "$tag" "$ROOT"
rc=$?
podman images -a -q --no-trunc | sort -u | comm -13 "$f.before" - >"$f.new"
echo "build_image: $tag: exit $rc after $(($(date +%s) - start)) s, $(wc -l <"$f.new") new image(s)"
exit $rc
