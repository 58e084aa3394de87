#!/usr/bin/env bash
# make install and deploy/sockreap.service: the files land under PREFIX and
# DESTDIR with the paths rewritten, the configuration is never overwritten,
# the unit passes systemd-analyze verify and its offline security review; and
# under a real systemd (PID 1 of a container: this machine's PID 1 is not
# systemd) the installed unit starts the daemon as a transient user with
# exactly the four documented capabilities, which reaps a wedged socket of
# another user and stops with status 0.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip "needs root"
command -v systemd-analyze >/dev/null || skip "systemd-analyze not installed (make deploy-deps)"
[ -x "$BUILD/sockreap" ] || { echo "FAIL: build first ($BUILD/sockreap)"; exit 1; }

# The Makefile includes deploy/deploy.mk; until it does, name both.
MK=(make -s --no-print-directory -C "$ROOT" BUILD="$(realpath "$BUILD")")
grep -q '^include deploy/deploy.mk' "$ROOT/Makefile" || MK+=(-f Makefile -f deploy/deploy.mk)

echo "-- make install"
D1=$TMP/dest-usr D2=$TMP/dest-default
"${MK[@]}" install DESTDIR="$D1" PREFIX=/usr >"$TMP/install1.out" 2>&1 || fatal "make install PREFIX=/usr: $(tail -3 "$TMP/install1.out")"
check "PREFIX=/usr: the binary at /usr/bin/sockreap, mode 0755" test "$(stat -c %a "$D1/usr/bin/sockreap" 2>/dev/null)" = 755
check "  the unit at /usr/lib/systemd/system/sockreap.service" test -f "$D1/usr/lib/systemd/system/sockreap.service"
check "  whose ExecStart is /usr/bin/sockreap" grep -qx 'ExecStart=/usr/bin/sockreap' "$D1/usr/lib/systemd/system/sockreap.service"
check "  the configuration at /etc/default/sockreap, dry run on" grep -qx 'SOCKREAP_DRY_RUN=true' "$D1/etc/default/sockreap"
check "  the installed binary runs ($("$D1/usr/bin/sockreap" --version 2>&1))" bash -c "'$D1/usr/bin/sockreap' --version >/dev/null"
"${MK[@]}" install DESTDIR="$D2" >"$TMP/install2.out" 2>&1 || fatal "make install: $(tail -3 "$TMP/install2.out")"
check "default PREFIX: /usr/local/bin/sockreap" test -x "$D2/usr/local/bin/sockreap"
check "  the unit in /usr/local/lib/systemd/system (on systemd's search path), ExecStart=/usr/local/bin/sockreap" \
	grep -qx 'ExecStart=/usr/local/bin/sockreap' "$D2/usr/local/lib/systemd/system/sockreap.service"
echo 'SOCKREAP_PORT=9999' >>"$D2/etc/default/sockreap"
"${MK[@]}" install DESTDIR="$D2" >"$TMP/install3.out" 2>&1
check "a second install keeps the edited configuration" grep -qx 'SOCKREAP_PORT=9999' "$D2/etc/default/sockreap"
"${MK[@]}" uninstall DESTDIR="$D2" >/dev/null 2>&1
check "uninstall removes the binary and the unit" \
	bash -c "[ ! -e '$D2/usr/local/bin/sockreap' ] && [ ! -e '$D2/usr/local/lib/systemd/system/sockreap.service' ]"
check "  and keeps the configuration" test -f "$D2/etc/default/sockreap"

echo "-- systemd-analyze"
# verify resolves ExecStart on this machine's file system: point it at the
# installed binary under DESTDIR; the unit is otherwise the installed one.
mkdir -p "$TMP/verify"
sed "s|^ExecStart=/usr/bin/sockreap|ExecStart=$D1/usr/bin/sockreap|" \
	"$D1/usr/lib/systemd/system/sockreap.service" >"$TMP/verify/sockreap.service"
out=$(systemd-analyze verify "$TMP/verify/sockreap.service" 2>&1); rc=$?
check "systemd-analyze verify: exit $rc, no warnings${out:+ ($out)}" test "$rc" = 0 -a -z "$out"
sec=$(systemd-analyze security --offline=yes "$TMP/verify/sockreap.service" 2>&1 | grep -o 'Overall exposure level.*')
score=$(grep -o '[0-9]*\.[0-9]' <<<"$sec" | head -1)
check "systemd-analyze security --offline: ${sec:-no result} (want <= 3.0)" test "$(echo "${score:-10} <= 3.0" | bc)" = 1

echo "-- the installed unit under systemd"
if ! command -v podman >/dev/null || ! podman run --rm --network none "$BASE_IMAGE" true >/dev/null 2>&1; then
	if ! "$ROOT/deploy/debian-base.sh" >"$TMP/base.out" 2>&1 || ! command -v podman >/dev/null; then
		echo "  SKIP of this part: podman cannot run a container"
		finish; exit
	fi
fi
SD_IMAGE=localhost/sockreap-deploy-systemd:$TAG
mkdir -p "$TMP/sd"
cat >"$TMP/sd/Containerfile" <<EOF
FROM $BASE_IMAGE
RUN apt-get update -q \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \\
        systemd libbpf1 libelf1 zlib1g libmicrohttpd12 util-linux \\
 && rm -rf /var/lib/apt/lists/*
CMD ["/lib/systemd/systemd"]
EOF
CLEANUPS+=("'$HERE/build_image.sh' --remove '$SD_IMAGE'")
(cd "$TMP/sd" && podman images -a -q --no-trunc | sort -u >"$TMP/sd.before" &&
	podman build --pull=never "${UL[@]}" -t "$SD_IMAGE" . >"$TMP/sd/build.out" 2>&1; rc=$?
	podman images -a -q --no-trunc | sort -u | comm -13 "$TMP/sd.before" - \
		>"${TMPDIR:-/tmp}/sockreap-deploy-images/$(echo "$SD_IMAGE" | tr '/:' '__').new"; exit $rc) ||
	fatal "systemd image build failed: $(tail -3 "$TMP/sd/build.out")"

# The operator's edits: live, a short grace, the test port.
sed -e 's/^SOCKREAP_DRY_RUN=true/SOCKREAP_DRY_RUN=false/' -e 's/^SOCKREAP_STALL_GRACE=30/SOCKREAP_STALL_GRACE=3/' \
	-e 's/^#SOCKREAP_PORT=8765/SOCKREAP_PORT=8765/' "$D1/etc/default/sockreap" >"$TMP/sd/env"
C=$TAG-systemd
# Privileged, so that the unit's own settings are what confines the daemon.
# Its own network namespace (loopback only): the daemon's default scope.
podman run -d --name "$C" --privileged --network none --systemd=always --cgroup-parent "$CG_PARENT/systemd" \
	-v "$D1/usr/bin/sockreap:/usr/bin/sockreap:ro" \
	-v "$D1/usr/lib/systemd/system/sockreap.service:/usr/lib/systemd/system/sockreap.service:ro" \
	-v "$TMP/sd/env:/etc/default/sockreap:ro" -v "$TCPDRV:/usr/local/bin/tcpdrv:ro" \
	"$SD_IMAGE" >"$TMP/sd/run.out" 2>&1 || fatal "podman run systemd: $(cat "$TMP/sd/run.out")"
for ((i = 0; i < 100; i++)); do
	s=$(podman exec "$C" systemctl is-system-running 2>/dev/null)
	[ "$s" = running ] || [ "$s" = degraded ] && break
	sleep 0.2
done
check "systemd is up in the container ($s)" test "$s" = running -o "$s" = degraded
out=$(podman exec "$C" systemd-analyze verify /usr/lib/systemd/system/sockreap.service 2>&1)
check "systemd-analyze verify of the unit at its installed path: no warnings${out:+ ($out)}" test -z "$out"
podman exec "$C" systemctl start sockreap
ready=
for ((i = 0; i < 75; i++)); do
	podman exec "$C" journalctl -u sockreap -o cat --no-pager 2>/dev/null | grep -q 'event=ready' && ready=1 && break
	sleep 0.2
done
check "systemctl start sockreap: event=ready in the journal" test -n "$ready"
[ -n "$ready" ] || { podman exec "$C" journalctl -u sockreap -o cat --no-pager | tail -5; finish; exit 1; }
P=$(podman exec "$C" systemctl show -p MainPID --value sockreap)
st=$(podman exec "$C" cat "/proc/$P/status")
field() { awk -v k="$1:" '$1 == k { print $2 }' <<<"$st"; }
check "runs as a transient user (uid $(field Uid))" test "$(field Uid)" -gt 0
check "effective = bounding = ambient = the four documented capabilities" \
	test "$(field CapEff)$(field CapBnd)$(field CapAmb)" = 000000c000080004000000c000080004000000c000080004
check "no_new_privs" test "$(field NoNewPrivs)" = 1
check "system call filter on" test "$(field Seccomp)" = 2
check "/run/sockreap/control.sock exists" podman exec "$C" test -S /run/sockreap/control.sock

# Another user's server (nobody), wedged on a frozen client.
podman exec "$C" mkdir -p /run/t
podman exec -d "$C" sh -c 'echo $$ >/run/t/srv.pid; exec setpriv --reuid=65534 --regid=65534 --clear-groups tcpdrv server --port 8765 --mode send --duration 60 >/run/t/srv.out 2>&1' >/dev/null
for ((i = 0; i < 50; i++)); do podman exec "$C" grep -q '^listening' /run/t/srv.out 2>/dev/null && break; sleep 0.1; done
podman exec -d "$C" sh -c 'echo $$ >/run/t/cli.pid; exec tcpdrv client --host 127.0.0.1 --port 8765 --mode read --duration 60 >/run/t/cli.out 2>&1' >/dev/null
for ((i = 0; i < 50; i++)); do podman exec "$C" grep -q '^connected' /run/t/cli.out 2>/dev/null && break; sleep 0.1; done
sleep 0.3
podman exec "$C" sh -c 'kill -STOP "$(cat /run/t/cli.pid)"'
T0=$(date +%s.%N)
for ((i = 0; i < 50; i++)); do podman exec "$C" grep -q '^result=' /run/t/srv.out 2>/dev/null && break; sleep 0.2; done
r=$(podman exec "$C" grep '^result=' /run/t/srv.out)
at=$(grep -o 'at=[0-9.]*' <<<"$r" | cut -d= -f2)
check "another user's wedged server woken with EPIPE ($r)" grep -q 'result=error errno=EPIPE' <<<"$r"
check "  $(echo "${at:-0} - $T0" | bc)s after its client froze (<= grace 3 + interval 1 + 1)" \
	test "$(echo "${at:-0} > 0 && ${at:-0} - $T0 <= 5" | bc)" = 1
check "  reaped (event=reap result=ok in the journal)" \
	bash -c "podman exec '$C' journalctl -u sockreap -o cat --no-pager | grep -q 'event=reap .*result=ok'"
check "sockreap list, as root, reaches the daemon" bash -c "podman exec '$C' sockreap list >/dev/null"
podman exec "$C" sh -c 'kill -CONT "$(cat /run/t/cli.pid)"'
podman exec "$C" systemctl stop sockreap
check "systemctl stop: exit status 0" test "$(podman exec "$C" systemctl show -p ExecMainStatus --value sockreap)" = 0
check "  Result=success" test "$(podman exec "$C" systemctl show -p Result --value sockreap)" = success
finish
