#!/usr/bin/env bash
# Kill soak: N signed zones that take updates, dnsperf at QPS for the whole
# run, one file edit and one UPDATE a second, kill -9 six times and the
# state directory's file system (a tmpfs of its own) full twice
# (bench/cmd/killsoak checks every answer, edit and update). Needs root
# (mount) and dnsperf. Figures in RELIABILITY.md.
#
#   bench/killsoak.sh [-n ZONES] [-d DURATION] [-q QPS]
set -euo pipefail
zones=10000 duration=10m qps=20000
while getopts "n:d:q:" opt; do
  case $opt in
    n) zones=$OPTARG ;;
    d) duration=$OPTARG ;;
    q) qps=$OPTARG ;;
    *) sed -n '2,8p' "$0"; exit 2 ;;
  esac
done
command -v dnsperf >/dev/null || { echo "killsoak: dnsperf is required" >&2; exit 1; }
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/coredns-mx-killsoak.XXXXXX)
mkdir "$work/state"
mount -t tmpfs -o size=512m tmpfs "$work/state"
dp=""
cleanup() { [ -n "$dp" ] && kill "$dp" 2>/dev/null; wait 2>/dev/null || true; umount "$work/state" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
(cd "$repo" && go build -o "$work/coredns-mx" ./cmd/coredns-mx && go build -o "$work/killsoak" ./bench/cmd/killsoak &&
  go run ./bench/cmd/zonegen -n "$zones" -dir "$work/zones")
port=$(( 20000 + RANDOM % 20000 ))
awk -v n="$zones" 'BEGIN { srand(3); for (i = 0; i < 100000; i++) printf "customer%d.example. MX\n", int(rand() * n) }' > "$work/queries.txt"
secs=$(( $(echo "$duration" | sed 's/m$/*60/; s/s$//') ))
( sleep 30; dnsperf -s 127.0.0.1 -p "$port" -d "$work/queries.txt" -l $((secs - 40)) -Q "$qps" -c 4 -t 2 > "$work/dnsperf.txt" 2>&1 ) &
dp=$!
status=0
"$work/killsoak" -bin "$work/coredns-mx" -zones "$work/zones" -n "$zones" -state "$work/state" -work "$work" \
  -duration "$duration" -port "$port" || status=$?
wait "$dp" || true
dp=""
grep -E "Queries (sent|completed|lost)|Response codes|Queries per second" "$work/dnsperf.txt" || true
echo "server log: $(grep -c '' "$work/server.log") lines, $(grep -c 'ERROR' "$work/server.log") ERROR"
grep ERROR "$work/server.log" | sed 's/[0-9]\{1,\}/N/g' | sort | uniq -c | sort -rn | head -8
exit $status
