#!/usr/bin/env bash
# The kill fallback: bpf_sock_destroy() from an iter/tcp walk. Forced with
# --kill-method destroy, and chosen by auto when no owner fd can be had (the
# owner lives outside the daemon's pid namespace, so /proc does not show it).
# The blocked sender sees ECONNABORTED.
. "$(dirname "$0")/lib.sh"
require_env
command -v unshare >/dev/null || skip "unshare not installed (util-linux)"

DUR=6
new_netns NS destroy

frozen() { # NAME PORT: a frozen reader pair; waits for the sender to end
	pair "$NS" "$2" "$1" send read $DUR
	local srv=$SRV_PID cli=$CLI_PID
	sleep 0.3
	sig STOP "$cli"
	wait_pids $((DUR + 5)) "$srv"
	sig CONT "$cli"
}

echo "-- --kill-method destroy"
start_daemon "$NS" forced --kill-method destroy --stall-grace 1.5 --interval 0.5
if ! grep -q 'destroy=available' "$TMP/forced.out"; then
	skip "bpf_sock_destroy() not available on this kernel"
fi
frozen forced 5701
expect_result "the blocked sender is woken" "$TMP/forced-server.out" error
check "with ECONNABORTED" test "$(field_of "$TMP/forced-server.out" errno)" = ECONNABORTED
check "logged as method=destroy result=ok" grep -q 'event=reap .*result=ok method=destroy .*laddr=127.0.0.1:5701 ' "$TMP/forced.out"
stop_daemon "$DAEMON_PID"

echo "-- --kill-method destroy --dry-run: verified on the live socket, left alone"
start_daemon "$NS" dry --kill-method destroy --dry-run --stall-grace 1.5 --interval 0.5
pair "$NS" 5703 dry send read $DUR
DRY_SRV=$SRV_PID DRY_CLI=$CLI_PID
sleep 0.3
sig STOP "$DRY_CLI"
wait_for "$TMP/dry.out" 'event=reap .*:5703 ' $((DUR - 1))
# The reader resumes: the next verdict is checked again on the live socket.
check "logged result=dry_run method=destroy" grep -q 'event=reap reason=send_stall result=dry_run method=destroy .*laddr=127.0.0.1:5703 ' "$TMP/dry.out"
sig CONT "$DRY_CLI"
wait_pids $((DUR + 5)) "$DRY_SRV" "$DRY_CLI"
expect_live "the sender was never touched" "$TMP/dry-server.out" $DUR
stop_daemon "$DAEMON_PID"

echo "-- auto, owner unreachable (outside the daemon's pid namespace)"
bg_ns auto "$NS" unshare --pid --fork --mount-proc --kill-child=TERM \
	"$SOCKREAP" --metrics-addr off --control-socket off --stall-grace 1.5 --interval 0.5 \
	--metrics-file "$TMP/auto.prom"
AUTO_PID=$BG_PID
wait_for "$TMP/auto.out" 'event=ready' 15 || fail "daemon did not start: $(cat "$TMP/auto.out")"
frozen auto 5702
expect_result "the blocked sender is woken" "$TMP/auto-server.out" error
check "with ECONNABORTED" test "$(field_of "$TMP/auto-server.out" errno)" = ECONNABORTED
check "logged as method=destroy after the owner search failed" \
	grep -q 'event=reap .*result=ok method=destroy .*laddr=127.0.0.1:5702 .*detail="no process holds the socket"' "$TMP/auto.out"
check "a result=ok line carries no error= left from the owner search" \
	bash -c "! grep 'event=reap .*result=ok' '$TMP/auto.out' | grep -q ' error='"
sleep 0.6
check "the owner failure is counted by cause" grep -q '^sockreap_owner_failures_total{cause="not_found"} 1$' "$TMP/auto.prom"
check "the reap is counted as ok" grep -q '^sockreap_reaps_total{reason="send_stall",result="ok"} 1$' "$TMP/auto.prom"
stop_daemon "$AUTO_PID"
finish
