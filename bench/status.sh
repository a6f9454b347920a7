#!/usr/bin/env bash
# What the status API costs DNS: N generated zones, one in ten refused (so
# the API has findings to list), a 20 MB SPF token in one of them; DNS MX
# latency one query at a time, quiet and during 400 status requests 16 at
# a time (bench/cmd/statusload). With -b BINARY, the same run against
# another build (say, an older commit) for the before figure.
#
#   bench/status.sh [-n ZONES] [-b BINARY] [-r REQUESTS (400)]
set -euo pipefail

zones=10000 bin="" requests=400
while getopts "n:b:r:" opt; do
  case $opt in
    n) zones=$OPTARG ;;
    b) bin=$OPTARG ;;
    r) requests=$OPTARG ;;
    *) sed -n '2,8p' "$0"; exit 2 ;;
  esac
done
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/coredns-mx-status.XXXXXX)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

(cd "$repo" && go build -o "$work/statusload" ./bench/cmd/statusload && go run ./bench/cmd/zonegen -n "$zones" -dir "$work/zones")
[ -n "$bin" ] || { (cd "$repo" && go build -o "$work/coredns-mx" ./cmd/coredns-mx); bin="$work/coredns-mx"; }
for f in $(ls "$work/zones" | awk 'NR % 10 == 0'); do
  sed -i 's/ MX 10 \(.*\)$/ MX 10 192.0.2.1/' "$work/zones/$f"
done
python3 -c 'import sys; open(sys.argv[1],"a").write("@ TXT \"v=spf1 " + "a"*(20<<20) + " -all\"\n")' "$work/zones/$(ls "$work/zones" | sed -n 5p)"
port=$(( 20000 + RANDOM % 20000 )) sport=$(( 40000 + RANDOM % 20000 ))
printf '.:%s {\n  bind 127.0.0.1\n  mxzone %s {\n    reload 1h\n    status 127.0.0.1:%s\n  }\n}\n' "$port" "$work/zones" "$sport" > "$work/Corefile"
"$bin" -conf "$work/Corefile" > "$work/server.log" 2>&1 &
pid=$!
until dig @127.0.0.1 -p "$port" customer1.example. MX +tries=1 +time=1 2>/dev/null | grep -q NOERROR; do sleep 0.05; done
"$work/statusload" -dns "127.0.0.1:$port" -status "http://127.0.0.1:$sport" -zone customer1.example. -n "$requests" -c 16
echo "longest log line: $(awk '{ if (length($0) > m) m = length($0) } END { print m }' "$work/server.log") bytes"
