#!/usr/bin/env bash
# The image built from deploy/Dockerfile as written, both stages: a runtime
# image holding the daemon and its four libraries and no build tools, whose
# entrypoint is the daemon, running as uid 0, that names the missing
# privilege when started without the manifests' capabilities.
. "$(dirname "$0")/lib.sh"
require_podman
need_image
LOG=${SOCKREAP_DEPLOY_BUILD_LOG:-$TMP/build.out}

in_image() { podman run --rm --network none --entrypoint "$1" "$IMAGE" "${@:2}"; }

if [ -r "$LOG" ]; then
	check "both stages were built (builder, then runtime)" \
		bash -c "grep -q '^\[1/2\] STEP' '$LOG' && grep -q '^\[2/2\] COMMIT' '$LOG'"
	check "the builder compiled the daemon with the Makefile" grep -q 'LD .*build/sockreap' "$LOG"
fi
want=$(podman image inspect --format '{{index .Labels "sockreap.test.version"}}' "$IMAGE")
[ -n "$want" ] || want=$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo 0.1)
v=$(podman run --rm --network none "$IMAGE" --version 2>&1)
check "the entrypoint is the daemon: --version says '$v' (want sockreap $want)" test "$v" = "sockreap $want"
check "runs as uid 0 (USER 0)" test "$(podman image inspect --format '{{.Config.User}}' "$IMAGE")" = 0
check "exposes 9750/tcp" bash -c "podman image inspect --format '{{.Config.ExposedPorts}}' '$IMAGE' | grep -q 9750/tcp"
check "the binary's libraries all resolve" bash -c "! podman run --rm --network none --entrypoint ldd '$IMAGE' /usr/local/bin/sockreap | grep -q 'not found'"
pk=$(in_image dpkg-query -W -f '${Package} ' libbpf1 libelf1 zlib1g libmicrohttpd12 2>&1)
check "runtime packages: $pk" test "$(wc -w <<<"$pk")" = 4
tools=$(in_image sh -c 'for t in cc gcc clang make bpftool; do command -v $t; done' 2>&1)
check "no build tools in the runtime image${tools:+ (found: $tools)}" test -z "$tools"
size=$(podman image inspect --format '{{.Size}}' "$IMAGE")
echo "  runtime image: $((size / 1000000)) MB (the Debian base alone: $(($(podman image inspect --format '{{.Size}}' "$BASE_IMAGE") / 1000000)) MB)"

# Started with podman's default capabilities (no CAP_BPF, CAP_PERFMON): one
# line naming what is missing, exit 2, as a pod without the manifest's
# securityContext would show in its log.
out=$(podman run --rm --network none "$IMAGE" 2>&1); rc=$?
check "without the added capabilities: exit 2 naming one ($rc: $(tail -1 <<<"$out"))" \
	bash -c "[ $rc = 2 ] && grep -q 'missing capability CAP_' <<<'$out'"

# The Dockerfile installs a subset of the Makefile's packages: each must
# still be in the Makefile's list, which stays the one source of truth.
pk=$(sed -n 's/^ARG BUILD_PKGS="\(.*\)"/\1/p' "$ROOT/deploy/Dockerfile")
mk=$(make -s -C "$ROOT" --no-print-directory -p -n 2>/dev/null | sed -n 's/^DEB_PKGS := //p' | head -1)
missing=
for p in $pk; do grep -qw -- "$p" <<<"$mk" || missing+=" $p"; done
check "the Dockerfile's BUILD_PKGS are all in the Makefile's DEB_PKGS${missing:+ (not:$missing)}" test -n "$pk" -a -n "$mk" -a -z "$missing"

# make deps in the builder stage reads the Makefile and every makefile it
# includes: each must be copied in before that step (the build broke once on
# deploy/deploy.mk).
copied=$(sed -n '/^RUN make deps/q; s/^COPY \([^ ]*\) .*/\1/p' "$ROOT/deploy/Dockerfile")
uncopied=
for f in Makefile $(sed -n 's/^include //p' "$ROOT/Makefile"); do grep -qx -- "$f" <<<"$copied" || uncopied+=" $f"; done
check "the builder stage copies every makefile before make deps${uncopied:+ (not:$uncopied)}" test -z "$uncopied"
finish
