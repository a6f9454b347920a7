#!/usr/bin/env bash
# One rollover step for many zones (issue 23, target 6): N generated zones
# signed, then a CSK rollover asked of every one at once; the DNS MX
# latency (one query at a time, bench/cmd/rollbench) quiet and until every
# zone publishes its new DNSKEY RRset, and how long that took. The server
# runs on CPU 0, the measuring client on CPU 1.
#
#   bench/rollover.sh [-n ZONES (10000)] [-b BINARY]
#
# BENCH_PPROF=FILE writes a CPU profile (BENCH_PPROF_SECONDS, 20) of the server from about 1 s
# into the step (BENCH_PPROF_AT=SECONDS after the server is up: other times).
set -euo pipefail

zones=10000 bin=""
while getopts "n:b:" opt; do
  case $opt in
    n) zones=$OPTARG ;;
    b) bin=$OPTARG ;;
    *) sed -n '2,9p' "$0"; exit 2 ;;
  esac
done
command -v dig >/dev/null || { echo "rollover: dig is required" >&2; exit 1; }
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/coredns-mx-roll.XXXXXX)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; cp "$work/server.log" "${TMPDIR:-/tmp}/rollover-server.log" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

(cd "$repo" && go build -o "$work/rollbench" ./bench/cmd/rollbench && go run ./bench/cmd/zonegen -n "$zones" -dir "$work/zones")
[ -n "$bin" ] || { (cd "$repo" && go build -o "$work/coredns-mx" ./cmd/coredns-mx); bin="$work/coredns-mx"; }
port=$(( 20000 + RANDOM % 20000 ))
# A long propagation delay: the step measured is the first, nothing after it.
pp=""; [ -n "${BENCH_PPROF:-}" ] && pp="  pprof 127.0.0.1:$((port + 1))\n"
printf ".:%s {\n  bind 127.0.0.1\n$pp  mxzone %s {\n    reload 1h\n    state %s\n    dnssec {\n      propagation_delay 1d\n    }\n  }\n}\n" \
  "$port" "$work/zones" "$work/state" > "$work/Corefile"
mkdir -p "$work/state"
taskset -c 0 "$bin" -conf "$work/Corefile" > "$work/server.log" 2>&1 &
pid=$!
until dig @127.0.0.1 -p "$port" customer1.example. MX +tries=1 +time=1 2>/dev/null | grep -q NOERROR; do sleep 0.05; done
until grep -q 'signed copies saved' "$work/server.log"; do sleep 0.1; done
[ -n "${BENCH_PPROF:-}" ] && (sleep "${BENCH_PPROF_AT:-3}"; curl -s -o "$BENCH_PPROF" "http://127.0.0.1:$((port + 1))/debug/pprof/profile?seconds=${BENCH_PPROF_SECONDS:-20}") &
taskset -c 1 "$work/rollbench" -dns "127.0.0.1:$port" -keys "$work/state/keys" -n "$zones"
grep -c 'request not taken' "$work/server.log" | sed 's/^/requests refused: /' || true
