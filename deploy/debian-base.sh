#!/usr/bin/env bash
# debian-base.sh - make sure podman has the Debian 12 base images that
# deploy/Dockerfile names (debian:bookworm, debian:bookworm-slim) on a machine
# that reaches Debian's package mirrors but no container registry.
#
# The root filesystem is made with debootstrap (minbase, from deb.debian.org),
# given the same apt sources as Debian's official image, and imported with
# `podman import` under both names. The tarball is cached so that a later run
# (or a machine whose podman storage was wiped) imports it in seconds:
#
#   deploy/debian-base.sh            # import if missing; debootstrap if no cache
#   SOCKREAP_BASE_REFRESH=1 deploy/debian-base.sh   # debootstrap again
#
# Cache directory: $SOCKREAP_DEPLOY_CACHE (default /var/cache/sockreap-deploy).
# An image already present under those names (pulled from a registry, say) is
# used as it is. Needs root, podman, debootstrap. Exit 0 when both names exist.
set -u

CACHE=${SOCKREAP_DEPLOY_CACHE:-/var/cache/sockreap-deploy}
SUITE=bookworm
MIRROR=${SOCKREAP_DEBIAN_MIRROR:-http://deb.debian.org/debian}
TARBALL=$CACHE/debian-$SUITE-minbase.tar
NAMES=(docker.io/library/debian:$SUITE docker.io/library/debian:$SUITE-slim)

die() { echo "debian-base: $*" >&2; exit 1; }
have_image() { podman image exists "$1" 2>/dev/null; }

[ "$(id -u)" = 0 ] || die "needs root (podman storage, debootstrap)"
command -v podman >/dev/null || die "podman not installed (make deploy-deps)"
mkdir -p "$CACHE" || die "cannot create $CACHE"

# One builder at a time per machine: a second run waits, then finds the image.
exec 9>"$CACHE/.lock"
flock -w 900 9 || die "another run holds $CACHE/.lock for over 15 minutes"

if [ -z "${SOCKREAP_BASE_REFRESH:-}" ]; then
	all=1
	for n in "${NAMES[@]}"; do have_image "$n" || all=; done
	if [ -n "$all" ]; then
		echo "debian-base: ${NAMES[*]} present"
		exit 0
	fi
fi

if [ -n "${SOCKREAP_BASE_REFRESH:-}" ] || [ ! -s "$TARBALL" ]; then
	command -v debootstrap >/dev/null || die "debootstrap not installed (make deploy-deps)"
	root=$(mktemp -d "$CACHE/root.XXXXXX") || die "mktemp in $CACHE"
	trap 'rm -rf "$root" "$TARBALL.tmp"' EXIT
	echo "debian-base: debootstrap --variant=minbase $SUITE from $MIRROR (about a minute)"
	if ! debootstrap --variant=minbase "$SUITE" "$root" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1; then
		tail -5 "$CACHE/debootstrap.log" >&2
		die "debootstrap failed (log: $CACHE/debootstrap.log)"
	fi
	# The official image's sources: the release, its updates and security.
	rm -f "$root/etc/apt/sources.list"
	cat >"$root/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: http://deb.debian.org/debian
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
	rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb
	# The runtime provides /dev, /proc and /sys.
	tar --numeric-owner -C "$root" --exclude=./dev/* --exclude=./proc/* --exclude=./sys/* \
		-cf "$TARBALL.tmp" . || die "tar of the root filesystem failed"
	mv -f "$TARBALL.tmp" "$TARBALL"
	rm -rf "$root"
	trap - EXIT
fi

echo "debian-base: importing $TARBALL"
id=$(podman import --change 'CMD ["bash"]' --change 'LABEL sockreap.base=debootstrap-minbase' \
	--message "debootstrap --variant=minbase $SUITE" "$TARBALL" "${NAMES[0]}" 2>/dev/null | tail -1) ||
	die "podman import failed"
podman tag "$id" "${NAMES[1]}" || die "podman tag ${NAMES[1]} failed"
id=${id#sha256:}
echo "debian-base: ${NAMES[*]} = ${id:0:12}"
