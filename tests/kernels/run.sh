#!/bin/bash
# run.sh SUITE [--timeout S] [--results DIR] [--verbose] -- CMD...
#
# Boot Debian SUITE's stock kernel (bullseye 5.10, bookworm 6.1, trixie 6.12)
# under qemu/TCG with THIS machine's / as its root (read-only 9p + tmpfs
# overlay), run CMD as root in the current directory, and exit with CMD's exit
# status. One CMD argument is a shell command line ('uname -r; ip link');
# several are run as an argv. CMD's stdout+stderr is printed when the guest
# is done (the guest has no way to stream it but the console).
#
#   --timeout S    guest-side limit for CMD (default 600); the host kills qemu
#                  at S + $SR_BOOT_ALLOWANCE (default 240) seconds
#   --results DIR  keep the guest's files there (output, status, console.log,
#                  qemu.log, boot_uptime, kept/: the logs of failed tests);
#                  default: a temporary directory,
#                  removed on exit (kept/ is copied out first)
#   --verbose      stream the guest console to stderr while it runs
#
# Exit status: CMD's; 77 with "SKIP: ..." only when qemu is missing or cannot
# start; 1 when the kernel cannot be had, or the guest never reported a status
# (crash, hang, timeout), with the console's tail.
#
# CPU lock: a TCG guest eats both cores for minutes, which would break
# timing-sensitive tests running alongside. Every boot holds an exclusive
# flock on $SOCKREAP_CPU_LOCK (default /tmp/sockreap-cpu.lock) for its whole
# life; do not wrap run.sh in flock on the same file yourself (it would wait
# on you) -- or export SOCKREAP_CPU_LOCKED=1 if you already hold it.
#
# Why TCG: /dev/kvm on the development machines is nested paravirtual KVM on
# which stock kernels hang in the decompressor.
set -euo pipefail
# shellcheck source=tests/kernels/lib.sh
. "$(dirname "$0")/lib.sh"

usage() { die "usage: run.sh SUITE [--timeout S] [--results DIR] [--verbose] -- CMD..."; }
skip() { echo "SKIP: $*"; exit 77; }

[[ $# -ge 1 ]] || usage
suite=$1; shift
check_suite "$suite"
timeout_s=600 results="" verbose=0
while [[ $# -gt 0 ]]; do
	case $1 in
	--timeout) [[ ${2:-} =~ ^[0-9]+$ && $2 -gt 0 ]] || die "--timeout needs whole seconds"; timeout_s=$2; shift 2 ;;
	--results) [[ -n ${2:-} ]] || usage; results=$2; shift 2 ;;
	--verbose) verbose=1; shift ;;
	--) shift; break ;;
	*) usage ;;
	esac
done
[[ $# -ge 1 ]] || usage
boot_allowance=${SR_BOOT_ALLOWANCE:-240}
lockfile=${SOCKREAP_CPU_LOCK:-/tmp/sockreap-cpu.lock}
lock_wait=${SOCKREAP_CPU_LOCK_WAIT:-7200}

qemu=${QEMU:-qemu-system-x86_64}
command -v "$qemu" >/dev/null || skip "$qemu not found (apt-get install qemu-system-x86)"

# Kernel and initramfs: cached after the first run. A kernel of the matrix
# that cannot be had (Debian's archive unreachable on a cold cache) fails:
# a green run must mean every kernel was tested. Only a machine where qemu
# cannot run at all skips.
release=$("$KERNELS_DIR/fetch.sh" "$suite") || die "cannot fetch the $suite kernel (see above)"
set +e
initrd=$("$KERNELS_DIR/initramfs.sh" "$suite"); rc=$?
set -e
[[ $rc -eq 77 ]] && die "no static busybox (apt-get install busybox-static, or make deps)"
[[ $rc -eq 0 ]] || die "building the $suite initramfs failed"
kdir=$(suite_dir "$suite")

own_results=0
if [[ -z $results ]]; then
	results=$(mktemp -d "${TMPDIR:-/tmp}/sockreap-kernel-$suite.XXXXXX")
	own_results=1
else
	mkdir -p "$results"
	results=$(cd "$results" && pwd)
	rm -rf "$results"/{job,output,status,status.tmp,boot_uptime,console.log,qemu.log,kept}
fi

qpid="" tailpid=""
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
	# Best effort throughout: one failed kill must not skip the rest.
	set +e
	# Never leave a guest running: it would hold the CPU lock and both cores.
	if [[ -n $qpid ]] && kill -0 "$qpid" 2>/dev/null; then
		# timeout(1) leads its own process group (with qemu in it):
		# signal the group, and the pid in case the group is not set up yet.
		kill -TERM -- -"$qpid" "$qpid" 2>/dev/null
		for _ in $(seq 50); do kill -0 "$qpid" 2>/dev/null || break; sleep 0.2; done
		kill -KILL -- -"$qpid" "$qpid" 2>/dev/null
	fi
	[[ -n $tailpid ]] && kill "$tailpid" 2>/dev/null
	# A failed test's logs outlive the results directory.
	if [[ -d $results/kept ]] && [[ -n $(ls -A "$results/kept") ]]; then
		kept=$(mktemp -d "${TMPDIR:-/tmp}/sockreap-kernel-$suite-kept.XXXXXX")
		cp -r "$results/kept/." "$kept/" && log "logs of the failed tests kept in $kept"
	fi
	[[ $own_results -eq 1 ]] && rm -rf "$results"
	return 0 # (the script's exit status stays what it was)
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The job the guest script sources (bash %q round-trips any argument).
{
	printf 'SR_CWD=%q\n' "$PWD"
	printf 'SR_MODULES=%q\n' "$kdir/lib-modules"
	printf 'SR_TIMEOUT=%q\n' "$timeout_s"
	printf 'SR_ARGV=('; printf ' %q' "$@"; printf ' )\n'
} > "$results/job"
: > "$results/console.log"

if [[ ${SOCKREAP_CPU_LOCKED:-0} != 1 ]]; then
	exec 8>>"$lockfile"
	if ! flock -n 8; then
		log "waiting for $lockfile (another guest or a timing-sensitive test is running)"
		flock -w "$lock_wait" 8 || die "could not get $lockfile in ${lock_wait}s"
	fi
	export SOCKREAP_CPU_LOCKED=1
fi

append="console=ttyS0 quiet panic=-1 sockreap.guest=$KERNELS_DIR/guest.sh"
# 4 GiB by default (SR_GUEST_MEM): in 2 GiB the kernel's TCP memory limit
# (tcp_mem, sized from RAM) is about 120 MB, which the soak's queues reach
# when the guest runs slowly; under that pressure the kernel drops live
# connections' data (TcpExtTCPRcvQDrop) and they make no progress for longer
# than the guests' grace (README, Reliability). SR_GUEST_MEM=2G shows it;
# 4 GiB makes it rarer, not impossible (seen once more on 5.10, host slowed).
# shellcheck disable=SC2054 # the commas are qemu option syntax
qemu_args=(
	-accel tcg,thread=multi -cpu max -smp 2 -m "${SR_GUEST_MEM:-4G}"
	-nodefaults -display none -no-reboot -monitor none
	-chardev "file,id=con,path=$results/console.log" -serial chardev:con
	-kernel "$kdir/vmlinuz" -initrd "$initrd" -append "$append"
	# The host's / read-only as the guest's root; multidevs=remap keeps
	# inode numbers unique across the host's submounts.
	-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap
	# Where the guest reads its job and writes output and status.
	-virtfs "local,path=$results,mount_tag=results,security_model=none"
)
start_ms=$(( $(date +%s%N) / 1000000 ))
log "booting $suite ($release) under TCG, limit $((timeout_s + boot_allowance))s"
# timeout(1) is the hard stop: TERM at the limit, KILL 10 s later. The lock
# fd is inherited by qemu, so the lock lasts exactly as long as the guest.
timeout -k 10 "$((timeout_s + boot_allowance))" "$qemu" "${qemu_args[@]}" \
	< /dev/null > "$results/qemu.log" 2>&1 &
qpid=$!
if [[ $verbose -eq 1 ]]; then
	tail -n +1 -F "$results/console.log" --pid="$qpid" >&2 2>/dev/null &
	tailpid=$!
fi
set +e
wait "$qpid"; qrc=$?
set -e
qpid=
if [[ -n $tailpid ]]; then
	# tail stops by itself once qemu is gone (--pid); give it a moment to flush.
	sleep 0.3; kill "$tailpid" 2>/dev/null || true; wait "$tailpid" 2>/dev/null || true; tailpid=
fi
elapsed_ms=$(( $(date +%s%N) / 1000000 - start_ms ))
elapsed=$((elapsed_ms / 1000)).$(printf %03d $((elapsed_ms % 1000)) | cut -c1)

if [[ -s $results/status ]]; then
	rc=$(cat "$results/status")
	[[ $rc =~ ^[0-9]+$ ]] || { log "bad status '$rc'"; rc=1; }
	cat "$results/output" 2>/dev/null || true
	log "$suite $release: exit $rc; userspace at $(cat "$results/boot_uptime" 2>/dev/null || echo '?')s guest uptime; ${elapsed}s in all"
	exit "$rc"
fi

# No status. Either qemu never ran a guest (bad qemu, no 9p support, ...) --
# a skip -- or the guest crashed or hung: a failure, with the evidence.
if ! grep -q 'sr-init:' "$results/console.log" && [[ $qrc -ne 0 && $qrc -ne 124 && $qrc -ne 137 ]]; then
	echo "SKIP: qemu could not start a guest (exit $qrc): $(head -c 500 "$results/qemu.log")"
	exit 77
fi
if [[ $qrc -eq 124 || $qrc -eq 137 ]]; then
	log "$suite $release: guest timed out after ${elapsed}s (killed; no exit status)"
else
	log "$suite $release: guest stopped without an exit status (qemu exit $qrc, ${elapsed}s)"
fi
log "--- console tail ---"
tail -n 40 "$results/console.log" >&2
[[ -s $results/qemu.log ]] && { log "--- qemu ---"; tail -n 20 "$results/qemu.log" >&2; }
[[ -s $results/output ]] && { log "--- command output so far ---"; tail -n 40 "$results/output" >&2; }
exit 1
