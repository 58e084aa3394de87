#!/usr/bin/env bash
# --metrics-file in a directory other users can write (a node_exporter
# textfile directory is often group-writable): the daemon says so at start-up;
# a FIFO planted at the temporary name the daemon used to write (PATH.tmp.PID)
# and a symlink planted at the file itself neither block the scans nor get
# followed; SIGTERM is still answered within 1 s.
. "$(dirname "$0")/lib.sh"
require_env

INTERVAL=$(scaled 0.25)
new_netns NS mfile
mkdir -m 0775 "$TMP/textfile"
chgrp nogroup "$TMP/textfile" 2>/dev/null || true
PROM=$TMP/textfile/sockreap.prom
start_daemon "$NS" daemon --interval "$INTERVAL" --stall-grace 2 --metrics-file "$PROM"
LOG=$TMP/daemon.out
check "a group-writable directory is warned about at start-up" \
	grep -q 'level=warn .*writable by group' "$LOG"

scans() { awk '$1 == "sockreap_scans_total" { print $2 }' "$PROM" 2>/dev/null; }
wait_for "$PROM" '^sockreap_scans_total' 5
mkfifo "$PROM.tmp.$DAEMON_PID"
echo secret >"$TMP/target"
ln -sf "$TMP/target" "$PROM"
before=$(scans)
# Bounded: at most 40 intervals for the file to show 4 more scans.
for ((i = 0; i < 40; i++)); do
	now=$(scans)
	[ -n "$now" ] && [ -n "$before" ] && [ "$now" -ge $((before + 4)) ] 2>/dev/null && break
	[ -z "$before" ] && before=$now
	sleep "$INTERVAL"
done
check "scans go on with the FIFO planted (scans_total ${before:-?} -> ${now:-?})" \
	test -n "$now" -a -n "$before" -a "${now:-0}" -ge $((${before:-0} + 4))
check "the symlink was replaced, not followed" bash -c "[ ! -L '$PROM' ] && [ \"\$(cat '$TMP/target')\" = secret ]"
check "no temporary file left beside it" bash -c "! ls -A '$TMP/textfile' | grep -q '^\\..*\\.tmp$'"
# 1 s on the host, scaled in a guest like every wait (0.42-0.57 s of it in
# CI's guests, 1.10 s once in a 5.10 guest slowed further): the exit frees
# the programs, slow under TCG. A daemon stuck on the FIFO is killed by
# stop_daemon's watchdog after 10 s and fails either way.
LIMIT=$(scaled 1)
t0=$(date +%s.%N)
stop_daemon "$DAEMON_PID"; rc=$?
took=$(echo "$(date +%s.%N) - $t0" | bc)
check "SIGTERM answered in ${took} s (<= $LIMIT s), exit 0 ($rc)" \
	test "$(echo "$took <= $LIMIT" | bc)" = 1 -a "$rc" = 0
finish
