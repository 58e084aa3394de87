#!/bin/bash
# guest.sh: PID 1 inside a test guest, after the initramfs switched root into
# an overlay of the host's / (read-only 9p) and a tmpfs. Not for the host.
#
# Sets up the filesystems a BPF daemon expects, reads the job that run.sh
# left in the results share (9p tag "results", read-write), runs it with a
# time limit, writes its output and exit status back there, and powers off.
#
# No `set -e`: PID 1 must never exit early (that panics the guest before the
# status is written). Every step reports failure on the console instead.
set -u
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root LANG=C.UTF-8 TERM=dumb
umask 022

say() { echo "sr-guest: $*" > /dev/console; }
# Pure bash, no exec: under TCG every exec over 9p costs ~0.1-0.2 s.
is_mounted() {
	local _dev mp _rest
	[[ -r /proc/self/mounts ]] || return 1
	while read -r _dev mp _rest; do [[ $mp == "$1" ]] && return 0; done < /proc/self/mounts
	return 1
}
try_mount() { # try_mount TYPE DIR [OPTIONS]: mount if DIR exists, complain otherwise
	local type=$1 dir=$2 opts=${3:-}
	[[ -d $dir ]] || { say "no $dir: $type not mounted"; return 1; }
	is_mounted "$dir" && return 0
	mount -t "$type" ${opts:+-o "$opts"} "$type" "$dir" || { say "mount $type on $dir failed"; return 1; }
}
halt() {
	sync
	umount /run/sr-results 2>/dev/null
	# busybox-static's poweroff works without an init system to talk to;
	# sysrq 'o' is the fallback. If both fail, PID 1 exiting panics the
	# guest and qemu -no-reboot exits.
	/bin/busybox poweroff -f 2>/dev/null || echo o > /proc/sysrq-trigger
	sleep 30
	exit 1
}

try_mount proc /proc
read -r t0 _ < /proc/uptime && say "guest script started at ${t0}s"
try_mount sysfs /sys
is_mounted /dev || try_mount devtmpfs /dev
mkdir -p /dev/pts /dev/shm
try_mount devpts /dev/pts gid=5,mode=0620,ptmxmode=0666
try_mount tmpfs /dev/shm mode=1777
try_mount cgroup2 /sys/fs/cgroup nsdelegate
try_mount bpf /sys/fs/bpf mode=0700
try_mount securityfs /sys/kernel/security
try_mount debugfs /sys/kernel/debug
# tracefs has its own mount point since 4.1; older layouts use debug/tracing.
try_mount tracefs /sys/kernel/tracing || true
try_mount tmpfs /run mode=0755
mkdir -p /run/sr-results
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 results /run/sr-results ||
	{ say "cannot mount the results share"; halt; }
R=/run/sr-results
printf '%s\n' "$(cut -d' ' -f1 /proc/uptime)" > "$R/boot_uptime"
say "guest userspace up at $(cat "$R/boot_uptime")s"

# The job: SR_CWD, SR_TIMEOUT and SR_ARGV=(...), written by run.sh with %q.
# shellcheck disable=SC1091
. "$R/job" || { say "cannot read the job"; echo 1 > "$R/status"; halt; }

# A private tmpfs on /tmp, as on a real machine, but the host's /tmp holds
# worktrees (e.g. /tmp/some-build): keep the job's directory visible by
# moving a bind of it over the fresh tmpfs.
if [[ $SR_CWD == /tmp/* && -d $SR_CWD ]]; then
	mkdir -p /.sr-stash && mount --bind "$SR_CWD" /.sr-stash
	try_mount tmpfs /tmp mode=1777
	mkdir -p "$SR_CWD" && mount --move /.sr-stash "$SR_CWD"
else
	try_mount tmpfs /tmp mode=1777
fi

# This kernel's own module tree (the host's / has only the host's), so the
# kernel can load what the tests need on demand (nf_tables for nft).
if [[ -d ${SR_MODULES:-} ]]; then
	mkdir -p "/lib/modules/$(uname -r)" &&
		mount --bind "$SR_MODULES" "/lib/modules/$(uname -r)" ||
		say "cannot bind this kernel's modules"
fi
# Warm the overlay. On 5.10 under TCG every open of a file that only the 9p
# lower layer holds costs ~12 ms (1.1 ms once in the tmpfs upper layer), and
# every path through a lower symlink (/lib -> usr/lib) an uncached readlink;
# 6.1 and later cache both. One exec of a dynamic program opens the loader's
# cache, its libraries and ~20 locale files, so the 5.10 guest spent ~250 ms
# per exec on 9p. Copy those once into the upper layer (rewriting a file
# through the overlay puts it there; the content is the host's, unchanged):
# the merged-/usr symlinks, the loader's cache, the locale, and the libraries
# of the programs the tests run most.
warm_overlay() {
	local link target files=() libs=()
	for link in /bin /sbin /lib /lib32 /lib64 /libx32; do
		[[ -L $link ]] || continue
		if ! target=$(readlink "$link") || ! ln -sfn "$target" "$link"; then
			say "cannot copy up $link"
		fi
	done
	# ldd prints "name => /path (addr)" or "/path (addr)": keep the paths.
	mapfile -t libs < <(ldd /bin/bash /bin/grep /bin/sleep /bin/ip /usr/bin/nsenter \
		/usr/bin/python3 "$SR_CWD/${BUILD:-build}/sockreap" 2>/dev/null |
		grep -o '/[^ ]*' | sort -u)
	mapfile -t files < <(realpath -e /etc/ld.so.cache /usr/share/locale/locale.alias \
		/usr/lib/locale/C.utf8 /usr/lib/*/gconv/gconv-modules.cache "${libs[@]}" \
		2>/dev/null | sort -u)
	tar -C / -cf - "${files[@]#/}" 2>/dev/null | tar -C / -xpf - ||
		say "cannot copy up ${#files[@]} files"
	say "copied ${#files[@]} files into the overlay's upper layer by $(cut -d' ' -f1 /proc/uptime)s"
}

# devtmpfs has no /dev/fd (udev would add it): bash's <(...) needs it.
[[ -e /dev/fd ]] || ln -s /proc/self/fd /dev/fd
warm_overlay
ip link set lo up || say "ip link set lo up failed"
hostname "sockreap-$(uname -r)" 2>/dev/null
cd "$SR_CWD" || { say "no directory $SR_CWD"; echo 1 > "$R/status"; halt; }

# A failing integration test leaves its logs here (tests/integration/lib.sh).
export SR_KEEP_FAILED=$R/kept
say "running in $SR_CWD (limit ${SR_TIMEOUT}s): ${SR_ARGV[*]}"
# One argument is a shell command line; several are an argv run as given.
if [[ ${#SR_ARGV[@]} -eq 1 ]]; then
	cmd=(bash -c "${SR_ARGV[0]}")
else
	cmd=("${SR_ARGV[@]}")
fi
# -k: a command that ignores SIGTERM is killed 5 s later; 124 = timed out.
# In a session of its own whose leader (bash) stays alive in another process
# group than the command's (timeout makes its own): that group is never
# orphaned, so the kernel does not SIGHUP it when a test SIGSTOPs a member and
# another exits (POSIX orphaned-group rule; PID 1 has no session to lend).
setsid --wait bash -c 'timeout -k 5 "$@"; exit $?' _ "$SR_TIMEOUT" "${cmd[@]}" \
	< /dev/null > "$R/output" 2>&1
rc=$?
[[ $rc -eq 124 ]] && say "command timed out after ${SR_TIMEOUT}s"
# Write-then-rename: the host never reads a half-written status.
echo "$rc" > "$R/status.tmp" && mv "$R/status.tmp" "$R/status"
say "exit status $rc"
halt
