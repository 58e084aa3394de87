#!/bin/bash
# fetch.sh [--refresh] SUITE
#
# Download the CURRENT stock Debian kernel of SUITE (bullseye = 5.10,
# bookworm = 6.1, trixie = 6.12) and keep what a qemu guest needs to boot this
# machine's own root filesystem over 9p:
#   $KERNEL_CACHE/SUITE/vmlinuz        the kernel image
#   $KERNEL_CACHE/SUITE/modules/*.ko   virtio_pci, 9pnet_virtio, 9p, overlay and
#                                      their dependencies, uncompressed
#   $KERNEL_CACHE/SUITE/modules.order  those file names, in load order
#   $KERNEL_CACHE/SUITE/package        the .deb it all came from (name version)
#   $KERNEL_CACHE/SUITE/version        the kernel release string (written last)
# KERNEL_CACHE defaults to /var/cache/sockreap-kernels.
#
# Prints the kernel release on stdout, progress on stderr. Idempotent: a
# complete cache is reused without touching the network; --refresh re-resolves
# the suite's current kernel (picks up a new point release).
#
# The machine's own apt sources, lists and dpkg status are left alone: apt runs
# with a private configuration in a temporary directory, removed on exit.
set -euo pipefail
# shellcheck source=tests/kernels/lib.sh
. "$(dirname "$0")/lib.sh"

refresh=0
if [[ ${1:-} == --refresh ]]; then refresh=1; shift; fi
[[ $# -eq 1 ]] || die "usage: fetch.sh [--refresh] SUITE   (SUITE: ${ALL_SUITES[*]})"
suite=$1
check_suite "$suite"
dir=$(suite_dir "$suite")

if [[ $refresh -eq 0 ]] && cache_complete "$suite"; then
	cat "$dir/version"
	exit 0
fi

for tool in apt-get dpkg-deb depmod xz flock; do
	command -v "$tool" >/dev/null || die "$tool not found (Debian host expected)"
done

mkdir -p "$KERNEL_CACHE"
# One fetch per suite at a time: matrix runs and CI jobs may race on a cold cache.
exec 9>"$KERNEL_CACHE/.$suite.lock"
flock -w 1800 9 || die "timed out waiting for another fetch of $suite"
# Someone else may have completed it while we waited for the lock.
if [[ $refresh -eq 0 ]] && cache_complete "$suite"; then
	cat "$dir/version"
	exit 0
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/sockreap-fetch.XXXXXX")
cleanup() { rm -rf "$work" "$dir.new.$$"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- private apt configuration ------------------------------------------------
# Signature checking: the debian-archive-keyring package on a Debian 12 host
# ships the 11/bullseye, 12/bookworm and 13/trixie keys (the combined keyring
# and per-suite files). Use every one of them that exists; fall back to
# trusted=yes only when none is present, because then there is nothing to
# check against (and say so loudly).
keyrings=()
for k in /usr/share/keyrings/debian-archive-keyring.gpg \
	/usr/share/keyrings/debian-archive-"$suite"-stable.gpg \
	/usr/share/keyrings/debian-archive-"$suite"-automatic.gpg \
	/usr/share/keyrings/debian-archive-"$suite"-security-automatic.gpg; do
	[[ -s $k ]] && keyrings+=("$k")
done
if [[ ${#keyrings[@]} -gt 0 ]]; then
	opt="[arch=amd64 signed-by=$(IFS=,; echo "${keyrings[*]}")]"
else
	log "WARNING: no Debian archive keyring in /usr/share/keyrings; using trusted=yes (install debian-archive-keyring to verify signatures)"
	opt="[arch=amd64 trusted=yes]"
fi
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
security=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
# The kernel's current point release may be in the suite itself, in -updates
# (point-release staging) or in -security (where bullseye's LTS kernels land).
# apt picks the highest version across them.
cat > "$work/sources.list" <<EOS
deb $opt $mirror $suite main
deb $opt $mirror $suite-updates main
deb $opt $security $suite-security main
EOS
mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/state" "$work/empty.d" "$work/deb"
apt_opts=(
	-o Dir::Etc::sourcelist="$work/sources.list"
	-o Dir::Etc::sourceparts="$work/empty.d"
	-o Dir::Etc::preferences="$work/empty.d/none"
	-o Dir::Etc::preferencesparts="$work/empty.d"
	-o Dir::State="$work/state"
	-o Dir::State::Lists="$work/lists"
	-o Dir::State::status=/dev/null
	-o Dir::Cache="$work/cache"
	-o APT::Architecture=amd64
	-o APT::Architectures=amd64
	-o Acquire::Languages=none
	-o Acquire::Retries=3
	-o Acquire::http::Timeout=60
	# The private directories are root-only (mktemp): download as root
	# rather than have apt warn that _apt cannot write there.
	-o APT::Sandbox::User=root
	-q
)

log "$suite: apt-get update (private lists in $work)"
timeout 900 apt-get "${apt_opts[@]}" update >&2 || die "apt-get update for $suite failed"

# The metapackage's Depends names the suite's current ABI package, e.g.
# linux-image-6.1.0-41-amd64 (= 6.1.158-1). Never pin: always ask the archive.
meta=$(apt-cache "${apt_opts[@]}" show --no-all-versions linux-image-amd64) ||
	die "linux-image-amd64 not found in $suite"
pkg=$(printf '%s\n' "$meta" | sed -n 's/^Depends: //p' | tr ',' '\n' |
	sed -n 's/^ *\(linux-image-[0-9][^ ]*\).*/\1/p' | head -n1)
[[ -n $pkg ]] || die "cannot find the kernel image in linux-image-amd64's Depends:
$(printf '%s\n' "$meta" | grep '^Depends:')"
log "$suite: linux-image-amd64 -> $pkg"

(cd "$work/deb" && timeout 1800 apt-get "${apt_opts[@]}" download "$pkg" >&2) ||
	die "apt-get download $pkg failed"
deb=$(ls "$work"/deb/*.deb)
pkgver=$(dpkg-deb -f "$deb" Version)
log "$suite: extracting $pkg $pkgver"
dpkg-deb -x "$deb" "$work/root"

# ---- kernel image and module tree --------------------------------------------
# bullseye/bookworm keep modules in /lib/modules, trixie in /usr/lib/modules.
# (find complains about the one that is absent: ignore its status.)
moddir=$({ find "$work/root/lib/modules" "$work/root/usr/lib/modules" -mindepth 1 -maxdepth 1 \
	-type d 2>/dev/null || true; } | head -n1)
[[ -n $moddir && -d $moddir/kernel ]] || die "no module tree in $pkg"
release=${moddir##*/}
# The package ships no modules.dep: its postinst runs depmod. Run this host's
# depmod on the unpacked tree instead (kmod reads .ko.xz; -b expects
# BASE/lib/modules/RELEASE, which a symlink provides for either layout).
if [[ ! -f $moddir/modules.dep ]]; then
	command -v depmod >/dev/null || die "depmod not found (apt-get install kmod)"
	mkdir -p "$work/depmod/lib/modules"
	ln -s "$moddir" "$work/depmod/lib/modules/$release"
	depmod -b "$work/depmod" "$release" || die "depmod failed on $release"
fi
[[ -f $moddir/modules.dep ]] || die "no modules.dep for $release"
[[ -f $work/root/boot/vmlinuz-$release ]] || die "no /boot/vmlinuz-$release in $pkg"
[[ $release == "${SUITE_SERIES[$suite]}".* ]] ||
	log "note: $suite now ships $release (expected the ${SUITE_SERIES[$suite]} series)"

# Modules the initramfs loads to reach the 9p root and build the overlay:
# virtio_pci (the 9p devices are PCI), 9pnet_virtio + 9p, overlay. Their
# dependencies come from this kernel's modules.dep (never a fixed list: 9p needs
# fscache on 5.10, netfs on 6.x; virtio_pci grew modern/legacy helper modules).
# A module that is built in (modules.builtin) needs nothing.
wanted=(virtio_pci 9pnet_virtio 9p overlay)
order=$(awk -v want="${wanted[*]}" -v builtin="$moddir/modules.builtin" '
	function modname(p,   n) { n = p; sub(/.*\//, "", n); sub(/\.ko(\.(xz|gz|zst))?$/, "", n); gsub(/-/, "_", n); return n }
	BEGIN {
		while ((getline line < builtin) > 0) isbuiltin[modname(line)] = 1
	}
	{
		path = $1; sub(/:$/, "", path)
		n = modname(path); file[n] = path
		deps[n] = ""
		for (i = 2; i <= NF; i++) deps[n] = deps[n] " " modname($i)
	}
	# Depth-first, dependencies before dependants, each once.
	function visit(n,   d, k, i) {
		if (n in seen) return
		seen[n] = 1
		if (!(n in file)) {
			if (n in isbuiltin) return
			print "MISSING " n; return
		}
		k = split(deps[n], d, " ")
		for (i = 1; i <= k; i++) visit(d[i])
		print file[n]
	}
	END { k = split(want, w, " "); for (i = 1; i <= k; i++) visit(w[i]) }
' "$moddir/modules.dep")
if grep -q '^MISSING' <<<"$order"; then
	die "$release lacks modules: $(grep '^MISSING' <<<"$order" | cut -d' ' -f2 | tr '\n' ' ')"
fi

new="$dir.new.$$"
rm -rf "$new"
mkdir -p "$new/modules" "$new/lib-modules"
cp "$work/root/boot/vmlinuz-$release" "$new/vmlinuz"
: > "$new/modules.order"
while read -r rel; do
	[[ -n $rel ]] || continue
	src="$moddir/$rel"
	base=${rel##*/}
	# busybox insmod loads only plain ELF: decompress (the module signature
	# is appended inside the .ko and survives decompression).
	case $base in
	*.ko.xz) base=${base%.xz}; xz -dc "$src" > "$new/modules/$base" ;;
	*.ko.zst) base=${base%.zst}; zstd -qdc "$src" > "$new/modules/$base" ;;
	*.ko.gz) base=${base%.gz}; gzip -dc "$src" > "$new/modules/$base" ;;
	*.ko) cp "$src" "$new/modules/$base" ;;
	*) die "unexpected module file $rel" ;;
	esac
	echo "$base" >> "$new/modules.order"
done <<<"$order"
# The whole tree (with the modules.dep made above), for the guest's
# /lib/modules/RELEASE: the tests need more than the boot modules (nft's
# nf_tables, loaded on demand by the guest kernel through modprobe).
cp -a "$moddir/." "$new/lib-modules/"
echo "$pkg $pkgver" > "$new/package"
echo "$release" > "$new/version"

# Swap the finished directory in as a whole so readers never see a mix.
rm -rf "$dir"
mv "$new" "$dir"
log "$suite: cached $release in $dir ($(tr '\n' ' ' < "$dir/modules.order"))"
cat "$dir/version"
