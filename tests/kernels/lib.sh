# shellcheck shell=bash
# Shared helpers for the qemu kernel harness (sourced, never run).
# Everything here is plain bash: the harness must run on a bare Debian host.

# shellcheck disable=SC2034 # used by the scripts that source this
KERNELS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# Suites we know how to boot, and the kernel series each one ships.
# The series is only a sanity check on what the archive returned: the exact
# version always comes from the archive (never pinned here).
declare -A SUITE_SERIES=([bullseye]=5.10 [bookworm]=6.1 [trixie]=6.12)
ALL_SUITES=(bullseye bookworm trixie)

# KERNEL_CACHE is the base directory; each suite gets its own subdirectory so
# one variable serves the whole matrix. It lives under /var/cache by default
# so CI reruns on the same machine reuse downloaded kernels.
KERNEL_CACHE=${KERNEL_CACHE:-/var/cache/sockreap-kernels}

log() { printf '%s: %s\n' "${0##*/}" "$*" >&2; }
die() { log "error: $*"; exit 1; }

check_suite() {
	[[ -n ${1:-} && -n ${SUITE_SERIES[$1]:-} ]] ||
		die "unknown suite '${1:-}' (known: ${ALL_SUITES[*]})"
}

suite_dir() { printf '%s/%s\n' "$KERNEL_CACHE" "$1"; }

# A suite's cache is complete when fetch.sh wrote its last file (version)
# and every file it lists is present. fetch.sh writes version last, so a
# half-finished fetch never looks complete.
cache_complete() {
	local d; d=$(suite_dir "$1")
	[[ -s $d/version && -s $d/vmlinuz && -f $d/modules.order ]] || return 1
	# The whole module tree too: the tests' nft rules load nf_tables in the guest.
	[[ -s $d/lib-modules/modules.dep ]] || return 1
	local m
	while read -r m; do
		[[ -n $m && -s $d/modules/$m ]] || return 1
	done < "$d/modules.order"
}
