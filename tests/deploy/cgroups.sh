# cgroups.sh - cgroup directories the deployment tests and their runner
# remove (sourced, bash).

# libpod_parent_dirs: podman's default cgroup parent (cgroupfs manager), in
# every hierarchy it exists in; nothing if absent.
libpod_parent_dirs() { ls -d /sys/fs/cgroup/*/libpod_parent /sys/fs/cgroup/libpod_parent 2>/dev/null; }

# rm_cgroups DIR...: remove each cgroup directory that exists, and those
# below it. conmon leaves a cgroup of its own (libpod_parent/conmon) for a
# moment after its pod is gone: try again for up to 5 s.
rm_cgroups() {
	local d i left
	for ((i = 0; i < 50; i++)); do
		left=
		for d; do
			[ -d "$d" ] || continue
			find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
			[ -d "$d" ] && left=1
		done
		[ -z "$left" ] && return 0
		sleep 0.1
	done
	return 0
}

