#!/usr/bin/env bash
# What an operator sees: a real Prometheus scrapes /metrics and reads back
# the reap; promtool accepts the live exposition and the --metrics-file;
# `sockreap list --json` shows the stalling socket with a growing age, then
# not at all once reaped; hostile HTTP requests get errors and do not stop
# the scans; a process name with quotes and spaces cannot break a log line.
. "$(dirname "$0")/lib.sh"
require_env
for c in promtool prometheus curl python3; do command -v $c >/dev/null || skip "$c not installed (make deps)"; done

new_netns NS obs
# A program whose comm has quotes, spaces and '=' owns the wedged socket.
EVIL='ev"il x=1'
cp "$TCPDRV" "$TMP/$EVIL"
start_daemon "$NS" daemon --stall-grace 3 --interval 0.5 --metrics-addr 127.0.0.1:9750 \
	--metrics-file "$TMP/metrics.prom" --log-format json
LOG=$TMP/daemon.out
SOCK=$TMP/daemon.sock
metrics() { in_ns "$NS" curl -s --max-time 5 http://127.0.0.1:9750/metrics; }
scans() { metrics | awk '$1 == "sockreap_scans_total" { print $2 }'; }

echo "-- the exposition"
out=$(metrics)
check "promtool accepts the live /metrics" bash -c 'promtool check metrics <<<"$1"' _ "$out"
check "Content-Type is the text format 0.0.4" bash -c "in_ns() { nsenter --net=/run/netns/\$1 \"\${@:2}\"; }; in_ns '$NS' curl -s -o /dev/null -w '%{content_type}' http://127.0.0.1:9750/metrics | grep -q '^text/plain; version=0.0.4'"
check "/healthz answers ok" bash -c "nsenter --net=/run/netns/$NS curl -s http://127.0.0.1:9750/healthz | grep -qx ok"
sleep 0.6
check "promtool accepts the --metrics-file" bash -c "promtool check metrics < '$TMP/metrics.prom'"
check "the file is not world-writable" bash -c "[ \$(stat -c %a '$TMP/metrics.prom') = 644 ]"

echo "-- a real Prometheus"
cat >"$TMP/prometheus.yml" <<'YML'
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: sockreap
    static_configs:
      - targets: ['127.0.0.1:9750']
YML
bg_ns prometheus "$NS" prometheus --config.file="$TMP/prometheus.yml" --storage.tsdb.path="$TMP/tsdb" \
	--web.listen-address=127.0.0.1:9090
wait_for "$TMP/prometheus.out" 'Server is ready to receive web requests' 30 || fail "prometheus did not start"

echo "-- a wedge, seen by list, then reaped"
bg_ns evil-server "$NS" "$TMP/$EVIL" server --port 6101 --mode send --duration 10
SRV=$BG_PID
wait_for "$TMP/evil-server.out" '^listening' 5
bg_ns evil-client "$NS" "$TCPDRV" client --port 6101 --mode read --duration 10
CLI=$BG_PID
wait_for "$TMP/evil-client.out" '^connected' 5
sleep 0.3
sig STOP "$CLI"
age() { python3 -c 'import json,sys; r=[x for x in json.load(open(sys.argv[1])) if x["laddr"].endswith(":6101")]; print(r[0]["stall_age_s"] if r and r[0]["reason"]=="send_stall" else -1)' "$1"; }
# The stall starts when the reader's buffer is full, some time after the
# STOP: ask until the daemon shows it half a second old (at most 2.5 s).
for ((i = 0; i < 25; i++)); do
	sleep 0.1
	"$SOCKREAP" list --json --control-socket "$SOCK" >"$TMP/list1.json"
	[ "$(echo "$(age "$TMP/list1.json") > 0.5" | bc)" = 1 ] && break
done
sleep 1
"$SOCKREAP" list --json --control-socket "$SOCK" >"$TMP/list2.json"
"$SOCKREAP" list --control-socket "$SOCK" >"$TMP/list.txt"
a1=$(age "$TMP/list1.json") a2=$(age "$TMP/list2.json")
check "list --json shows the wedged socket stalling (age ${a1}s)" test "$(echo "$a1 > 0.5" | bc)" = 1
check "and its stall age grows (${a1}s -> ${a2}s)" test "$(echo "$a2 > $a1 + 0.5" | bc)" = 1
check "the table shows it with its verdict" grep -Eq '^127.0.0.1:6101 .*stalling [0-9.]+/3s send_stall' "$TMP/list.txt"
wait_pids 8 "$SRV"
sig CONT "$CLI"
expect_result "the wedged sender is woken" "$TMP/evil-server.out" error
wait_pids 3 "$CLI"
sleep 0.6
"$SOCKREAP" list --json --control-socket "$SOCK" >"$TMP/list3.json"
check "after the reap, list no longer shows it" \
	python3 -c 'import json,sys; sys.exit(any(x["laddr"].endswith(":6101") for x in json.load(open(sys.argv[1]))))' "$TMP/list3.json"

echo "-- the log line survives a hostile process name"
check "every log line is one JSON object" python3 -c '
import json, sys
for line in open(sys.argv[1]):
    json.loads(line)' "$LOG"
check "the reap line carries the name intact" python3 -c '
import json, sys
ok = any(e.get("event") == "reap" and e.get("comm") == sys.argv[2] and e.get("result") == "ok"
         for e in map(json.loads, open(sys.argv[1])))
sys.exit(0 if ok else 1)' "$LOG" "$EVIL"

echo "-- Prometheus reads the reap back"
q='sockreap_reaps_total{reason="send_stall",result="ok"}'
got=
for ((i = 0; i < 100; i++)); do
	got=$(in_ns "$NS" curl -s --max-time 2 -G http://127.0.0.1:9090/api/v1/query --data-urlencode "query=$q" |
		python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")' 2>/dev/null)
	[ "$got" = 1 ] && break
	sleep 0.2
done
check "Prometheus's query API returns $q = 1 (got '${got}')" test "$got" = 1

echo "-- hostile HTTP requests"
s0=$(scans)
in_ns "$NS" bash -c 'exec 3<>/dev/tcp/127.0.0.1/9750; sleep 4' &   # a client that says nothing
SLOW=$!
PIDS+=("$SLOW")
code() { in_ns "$NS" curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@"; }
check "unknown path -> 404" test "$(code http://127.0.0.1:9750/nope)" = 404
check "POST -> 405" test "$(code -X POST --data x http://127.0.0.1:9750/metrics)" = 405
big=$(head -c 100000 /dev/zero | tr '\0' a)
c=$(code -H "X-Big: $big" http://127.0.0.1:9750/metrics)
check "a 100 kB header is refused (got $c)" test "$c" != 200
raw() { in_ns "$NS" bash -c 'exec 3<>/dev/tcp/127.0.0.1/9750; printf "$1" >&3; timeout 5 head -c 12 <&3' _ "$1"; }
r=$(raw 'GET /metrics HTTP/1.1\r\nNoColonHere\r\n\r\n')
check "a malformed header line gets a 400 (got '${r}')" grep -q '^HTTP/1.[01] 400' <<<"$r"
r=$(raw 'GARBAGE\r\n\r\n')
check "a request line that is not HTTP gets no 200 (got '${r}')" bash -c '! grep -q " 200" <<<"$1"' _ "$r"
check "/metrics still answers while a silent client holds a connection" bash -c "test -n \"\$(nsenter --net=/run/netns/$NS curl -s --max-time 3 http://127.0.0.1:9750/metrics)\""
sleep 1
s1=$(scans)
check "scans went on meanwhile ($s0 -> $s1)" test "${s1:-0}" -gt "${s0:-0}"
stop_daemon "$DAEMON_PID"
finish
