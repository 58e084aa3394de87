#!/bin/bash
# initramfs.sh SUITE
#
# Build (or reuse) $KERNEL_CACHE/SUITE/initramfs.cpio.gz for the kernel that
# fetch.sh cached, and print its path. The initramfs is busybox-static plus
# that kernel's modules and an /init that:
#   1. mounts proc, sys, devtmpfs and insmods the modules in dependency order;
#   2. mounts this host's / read-only over virtio-9p (tag "hostroot"), a tmpfs
#      for writes, and an overlay of the two;
#   3. switch_roots into the overlay and runs the guest script named on the
#      kernel command line (sockreap.guest=PATH, normally guest.sh next to
#      this file), with the host's own bash: the guest userspace IS this
#      machine's userspace, so host-built binaries run inside as they are.
# Reused when its inputs (this script, busybox, the modules) are unchanged.
set -euo pipefail
# shellcheck source=tests/kernels/lib.sh
. "$(dirname "$0")/lib.sh"

[[ $# -eq 1 ]] || die "usage: initramfs.sh SUITE   (SUITE: ${ALL_SUITES[*]})"
suite=$1
check_suite "$suite"
dir=$(suite_dir "$suite")
cache_complete "$suite" || die "no complete kernel cache for $suite in $dir (run fetch.sh $suite)"

busybox=${BUSYBOX:-/bin/busybox}
# The initramfs has no libc: only a static busybox works there.
# (ldd itself exits 1 on a static binary: judge by what it says.)
if [[ ! -x $busybox ]] || [[ $(LC_ALL=C ldd "$busybox" 2>&1 || true) != *'not a dynamic'* ]]; then
	log "SKIP: no static busybox at $busybox (apt-get install busybox-static)"
	exit 77
fi
for tool in cpio gzip sha256sum; do
	command -v "$tool" >/dev/null || die "$tool not found"
done

# The cache key covers every input, so an edit to /init below, a busybox
# upgrade or a re-fetched kernel all rebuild it.
key=$( {
	sha256sum "$0" "$busybox" "$dir/version" "$dir/modules.order"
	(cd "$dir/modules" && xargs sha256sum < "$dir/modules.order")
} | sha256sum | cut -d' ' -f1)
out=$dir/initramfs.cpio.gz

exec 9>"$KERNEL_CACHE/.$suite.lock"
flock -w 600 9 || die "timed out waiting for the $suite cache lock"
if [[ -s $out && $(cat "$dir/initramfs.key" 2>/dev/null) == "$key" ]]; then
	echo "$out"
	exit 0
fi

stage=$(mktemp -d "${TMPDIR:-/tmp}/sockreap-initramfs.XXXXXX")
trap 'rm -rf "$stage" "$out.tmp.$$"' EXIT
trap 'exit 130' INT TERM

mkdir -p "$stage"/{bin,dev,proc,sys,lower,rw,newroot,lib/modules}
cp "$busybox" "$stage/bin/busybox"
for applet in sh mount umount insmod mkdir cat echo switch_root poweroff sleep cut; do
	ln -s busybox "$stage/bin/$applet"
done
cp "$dir"/modules/*.ko "$stage/lib/modules/"
cp "$dir/modules.order" "$stage/modules.order"
cp "$dir/version" "$stage/version"

cat > "$stage/init" <<'INIT'
#!/bin/sh
# PID 1 of the sockreap test initramfs: reach the host's root over 9p and
# hand over to the guest script. Any failure powers off at once, so the host
# sees "no exit status" and prints this console.
export PATH=/bin
say() { echo "sr-init: $*"; }
fail() {
	say "FAILED: $*"
	poweroff -f
	sleep 10
	# If even poweroff failed: PID 1 exiting panics, panic=-1 reboots and
	# qemu -no-reboot exits.
	exit 1
}

mount -t proc proc /proc || fail "mount proc"
mount -t sysfs sysfs /sys || fail "mount sysfs"
mount -t devtmpfs devtmpfs /dev || fail "mount devtmpfs"
say "kernel $(cat /version), initramfs up at $(cut -d' ' -f1 /proc/uptime)s"

# Dependency order was computed from the kernel's own modules.dep by fetch.sh.
for m in $(cat /modules.order); do
	insmod "/lib/modules/$m" || fail "insmod $m"
done
say "modules loaded at $(cut -d' ' -f1 /proc/uptime)s"

# The 9p device appears asynchronously after virtio_pci probes: retry, bounded.
# msize: the kernel clamps it to what the virtio transport supports.
# cache=loose: the host root is read-only for the guest's lifetime and page
# caching makes exec/mmap over 9p usable under TCG.
n=0
until mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose hostroot /lower 2>/dev/null; do
	n=$((n + 1))
	[ $n -lt 50 ] || fail "mount 9p hostroot (is -virtfs ...mount_tag=hostroot given?)"
	sleep 0.1
done
mount -t tmpfs -o mode=0755 sr-rw /rw || fail "mount tmpfs"
mkdir -p /rw/upper /rw/work
mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work overlay /newroot ||
	fail "mount overlay"

guest=
for arg in $(cat /proc/cmdline); do
	case $arg in sockreap.guest=*) guest=${arg#sockreap.guest=} ;; esac
done
[ -n "$guest" ] || fail "no sockreap.guest=PATH on the kernel command line"
[ -f "/newroot$guest" ] || fail "guest script $guest not found in the host root"

say "root ready at $(cut -d' ' -f1 /proc/uptime)s (9p mount retries: $n); running $guest"
mount -o move /dev /newroot/dev || fail "move /dev"
umount /proc /sys
exec switch_root /newroot /bin/bash "$guest"
INIT
chmod 0755 "$stage/init"

(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort |
	cpio --quiet -o -H newc -R 0:0 | gzip -6 -n) > "$out.tmp.$$"
mv "$out.tmp.$$" "$out"
echo "$key" > "$dir/initramfs.key"
log "$suite: built $out ($(du -h "$out" | cut -f1))"
echo "$out"
