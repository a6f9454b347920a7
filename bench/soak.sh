#!/usr/bin/env bash
# Soak: coredns-mx under a steady dnsperf load on N zones while soakedit
# edits the directory (valid and broken edits, deletions and re-additions,
# provider edits that would break customers). Checks that every query was
# answered, that no served zone answered SERVFAIL or REFUSED, that every
# check of soakedit passed, and that memory at the end is within 10 % of
# memory after the first minute. Loopback only; stops by itself.
#
#   bench/soak.sh [-n ZONES] [-d SECONDS] [-q QPS]
set -euo pipefail

zones=10000 duration=300 qps=20000
while getopts "n:d:q:" opt; do
  case $opt in
    n) zones=$OPTARG ;;
    d) duration=$OPTARG ;;
    q) qps=$OPTARG ;;
    *) sed -n '2,9p' "$0"; exit 2 ;;
  esac
done
for tool in dnsperf dig; do
  command -v $tool >/dev/null || { echo "soak: $tool is required" >&2; exit 1; }
done

repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/coredns-mx-soak.XXXXXX)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

(cd "$repo" && go build -o "$work/coredns-mx" ./cmd/coredns-mx && go build -o "$work/soakedit" ./bench/cmd/soakedit &&
  go run ./bench/cmd/zonegen -n "$zones" -dir "$work/zones")
port=$(( 20000 + RANDOM % 20000 ))
# The metrics tell soakedit when the server refused a broken edit; the
# provider zone is protected, so that its edits that would break its
# customers are held back (soakedit's breakProvider).
printf '.:%s {\n  bind 127.0.0.1\n  errors\n  prometheus 127.0.0.1:%s\n  mxzone %s {\n    reload 30s\n    state %s\n    protect provider.example.\n  }\n}\n' \
  "$port" "$((port + 1))" "$work/zones" "$work/state" > "$work/Corefile"
"$work/coredns-mx" -conf "$work/Corefile" -quiet > "$work/server.log" 2>&1 &
pid=$!
until dig @127.0.0.1 -p "$port" "customer$((zones - 1)).example." SOA +tries=1 +time=1 2>/dev/null | grep -q NOERROR; do sleep 0.05; done

awk -v n="$zones" 'BEGIN { srand(3); for (i = 0; i < 100000; i++) printf "customer%d.example. MX\n", int(rand() * n) }' > "$work/queries.txt"
dnsperf -s 127.0.0.1 -p "$port" -d "$work/queries.txt" -l "$duration" -Q "$qps" -c 4 -t 2 > "$work/dnsperf.txt" 2>&1 &
perf=$!
rss_first=""
( sleep $(( duration < 300 ? duration / 5 : 60 )); awk '/^VmRSS/ { print $2 }' "/proc/$pid/status" > "$work/rss_first" ) &
sampler=$!
edit_ok=0
"$work/soakedit" -dir "$work/zones" -server "127.0.0.1:$port" -metrics "127.0.0.1:$((port + 1))" -zones "$zones" -duration "${duration}s" > "$work/soakedit.txt" 2>&1 || edit_ok=$?
wait "$perf" || true
wait "$sampler" || true
rss_first=$(cat "$work/rss_first")
rss_end=$(awk '/^VmRSS/ { print $2 }' "/proc/$pid/status")

sent=$(awk '/Queries sent/ { print $3 }' "$work/dnsperf.txt")
completed=$(awk '/Queries completed/ { print $3 }' "$work/dnsperf.txt")
lost=$(awk '/Queries lost/ { print $3 }' "$work/dnsperf.txt")
rate=$(awk '/Queries per second/ { print $4 }' "$work/dnsperf.txt")
codes=$(grep "Response codes" "$work/dnsperf.txt" || true)
servfail=$(echo "$codes" | grep -o 'SERVFAIL [0-9]*' | awk '{ print $2 }' || true); servfail=${servfail:-0}
refused=$(echo "$codes" | grep -o 'REFUSED [0-9]*' | awk '{ print $2 }' || true); refused=${refused:-0}
growth=$(awk -v a="$rss_first" -v b="$rss_end" 'BEGIN { printf "%.1f", (b - a) * 100 / a }')

echo "### soak: $zones zones, ${duration}s at ${qps} QPS offered ($(date -u +%Y-%m-%d))"
echo
echo "| figure | value |"
echo "|---|---|"
echo "| queries sent / completed / lost | $sent / $completed / $lost |"
echo "| QPS held | $rate |"
echo "| response codes | ${codes#*: } |"
echo "| SERVFAIL / REFUSED from served zones | $servfail / $refused |"
echo "| edits (soakedit) | $(head -1 "$work/soakedit.txt") |"
echo "| soakedit failures | $(grep -E '^(failures|FAILURES)' "$work/soakedit.txt") |"
echo "| RSS after first minute / at end | $((rss_first / 1024)) MiB / $((rss_end / 1024)) MiB (${growth} %) |"
status=0
[ "$lost" = 0 ] || { echo "FAIL: $lost queries lost"; status=1; }
[ "$servfail" = 0 ] && [ "$refused" = 0 ] || { echo "FAIL: SERVFAIL or REFUSED answers"; status=1; }
[ "$edit_ok" = 0 ] || { echo "FAIL: soakedit:"; sed -n '2,30p' "$work/soakedit.txt"; status=1; }
awk -v g="$growth" 'BEGIN { exit (g > 10 || g < -10) }' || { echo "FAIL: memory moved ${growth} %"; status=1; }
exit $status
