#!/usr/bin/env bash
# Signing outside the reload lock: a signed server with a 50,000-record zone
# (just under 1 MiB) and a small one. Each round rewrites the big zone, then
# 50 ms later the small one, and reports when each new serial answers,
# counted from the small write. The small edit alone is measured first, as
# the floor (debounce and reload). With -b BINARY, the same run against
# another build (an older commit) for the before figure.
#
#   bench/signaside.sh [-b BINARY] [-r ROUNDS]
set -euo pipefail
bin="" rounds=5
while getopts "b:r:" opt; do
  case $opt in
    b) bin=$OPTARG ;;
    r) rounds=$OPTARG ;;
    *) sed -n '2,9p' "$0"; exit 2 ;;
  esac
done
command -v dig >/dev/null || { echo "signaside: dig is required" >&2; exit 1; }
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/coredns-mx-signaside.XXXXXX)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
[ -n "$bin" ] || { (cd "$repo" && go build -o "$work/coredns-mx" ./cmd/coredns-mx); bin="$work/coredns-mx"; }
mkdir "$work/zones"
port=$(( 20000 + RANDOM % 20000 ))
big() { awk -v s="$1" 'BEGIN { printf "$ORIGIN big.example.\n$TTL 300\n@ SOA ns1 hostmaster %d 3600 600 86400 300\n@ NS ns1\nns1 A 192.0.2.53\n", s
  for (i = 0; i < 50000; i++) printf "h%d A 192.0.2.%d\n", i, i % 250 + 1 }' > "$work/zones/.big"; mv "$work/zones/.big" "$work/zones/big.example.zone"; }
small() { printf '$ORIGIN small.example.\n$TTL 300\n@ SOA ns1 hostmaster %s 3600 600 86400 300\n@ NS ns1\nns1 A 192.0.2.53\n' "$1" > "$work/zones/.small"
  mv "$work/zones/.small" "$work/zones/small.example.zone"; }
soa() { dig @127.0.0.1 -p "$port" "$1" SOA +short +tries=1 +time=1; }
ms() { echo $(( ($2 - $1) / 1000000 )); }
big 1; small 1
printf '.:%s {\n  bind 127.0.0.1\n  mxzone %s {\n    reload 30s\n    state %s\n    dnssec\n  }\n}\n' "$port" "$work/zones" "$work/state" > "$work/Corefile"
"$bin" -conf "$work/Corefile" > "$work/server.log" 2>&1 &
pid=$!
until soa big.example. | grep -q "example. 1 "; do sleep 0.1; done
sleep 2
s=1
for r in $(seq "$rounds"); do
  s=$((s + 1)); t0=$(date +%s%N); small "$s"
  until soa small.example. | grep -q "example. $s "; do :; done
  echo "small edit alone: live after $(ms "$t0" "$(date +%s%N)") ms"
  sleep 0.5
done
for r in $(seq "$rounds"); do
  s=$((s + 1)); big "$s"; sleep 0.05
  t0=$(date +%s%N); small "$s"
  until soa small.example. | grep -q "example. $s "; do :; done
  t1=$(date +%s%N)
  until soa big.example. | grep -q "example. $s "; do sleep 0.01; done
  echo "while the big zone is signed: small edit live after $(ms "$t0" "$t1") ms, big edit after $(ms "$t0" "$(date +%s%N)") ms"
done
