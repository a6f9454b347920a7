#!/usr/bin/env bash
# Dynamic update benchmark (issue 20): coredns-mx taking RFC 2136 UPDATE
# against Knot DNS's DDNS and stock CoreDNS's dynupdate plugin (one server
# block per zone, bbolt database, tsig plugin; it does not sign) in the same
# run, unsigned and signed.
#
#   bench/update.sh [-n UPDATES] [-p PAIRS] [-z ZONES] [-s "10 10000 100000"] [-o RESULT.md]
#   BENCH_KNOT=0 bench/update.sh ...   (without the Knot DNS column)
#
# Measured, per server and zone size (records): the time from sending one
# TSIG-signed UPDATE (an add or a delete of one TXT) to its acknowledgement,
# p50 and p99 over UPDATES sequential ones (journal fsync included: Knot's
# journal and coredns-mx's both sync before the answer); then PAIRS
# ACME-style add+delete pairs over ZONES zones from 16 clients at once:
# pairs per second, acknowledged adds not answered right after (lost), and
# updates not acknowledged or TXT records left at the end (half-applied),
# with MX queries from 4 clients beside them (QPS and p99, against the same
# queries with no updates). Server on CPU 0, the load on the other CPU.
# Everything listens on 127.0.0.1 only and stops at exit.
set -euo pipefail

updates=200 pairs=1000 zones=1000 sizes="10 10000 100000" out=""
while getopts "n:p:z:s:o:" opt; do
  case $opt in
    n) updates=$OPTARG ;;
    p) pairs=$OPTARG ;;
    z) zones=$OPTARG ;;
    s) sizes=$OPTARG ;;
    o) out=$OPTARG ;;
    *) sed -n '2,17p' "$0"; exit 2 ;;
  esac
done
tools=(dig taskset)
[ "${BENCH_KNOT:-1}" = 1 ] && tools+=(knotd)
for tool in "${tools[@]}"; do
  command -v $tool >/dev/null || { echo "bench: $tool is required" >&2; exit 1; }
done

repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/coredns-mx-update.XXXXXX)
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
secret="YmVuY2gtc2VjcmV0LWJlbmNoLXNlY3JldC0xMjM0NTY="
cpus=$(nproc)
client_cpu=$(( cpus > 1 ? 1 : 0 ))
echo "building coredns-mx and updatebench in $work" >&2
(cd "$repo" && go build -o "$work/coredns-mx" ./cmd/coredns-mx && go build -o "$work/updatebench" ./bench/cmd/updatebench)
port=$(( 20000 + RANDOM % 20000 ))

# gen NAME ZONES RECORDS: a zone and policy directory.
gen() {
  rm -rf "$work/$1"
  "$work/updatebench" gen -dir "$work/$1/zones" -policy "$work/$1/policy" -zones "$2" -records "$3" -secret "$secret"
}

mx_conf() { # DIR SIGNED
  local dnssec=""
  [ "$2" = 1 ] && dnssec="    dnssec"
  printf '.:%s {\n  bind 127.0.0.1\n  mxzone %s {\n    reload 1m\n    state %s\n    update %s\n%s\n  }\n}\n' \
    "$port" "$1/zones" "$1/state" "$1/policy" "$dnssec"
}

dyn_conf() { # DIR ZONES: stock CoreDNS, one dynupdate server block a zone
  for ((i = 0; i < $2; i++)); do
    printf 'customer%d.example.:%s {\n  bind 127.0.0.1\n  tsig {\n    secret bench. %s\n    require_opcode UPDATE\n  }\n' "$i" "$port" "$secret"
    printf '  dynupdate {\n    file %s/zones/customer%d.example.zone\n    database %s/dyn/customer%d.db\n' "$1" "$i" "$1" "$i"
    printf '    allow bench. _acme-challenge.customer%d.example. TXT\n    max_records 200000\n    max_bytes 67108864\n  }\n}\n' "$i"
  done
}

knot_conf() { # DIR ZONES SIGNED
  printf 'server:\n  listen: 127.0.0.1@%s\n  rundir: %s/knot\n  background-workers: %s\n' "$port" "$1" "$cpus"
  printf 'database:\n  storage: %s/knot\n' "$1"
  printf 'key:\n  - id: bench.\n    algorithm: hmac-sha256\n    secret: %s\n' "$secret"
  printf 'acl:\n  - id: upd\n    key: bench.\n    action: update\n'
  printf 'policy:\n  - id: csk\n    algorithm: ecdsap256sha256\n    single-type-signing: on\n'
  local signing=off
  [ "$3" = 1 ] && signing=on
  printf 'template:\n  - id: default\n    storage: %s/zones\n    file: "%%s.zone"\n    acl: upd\n    semantic-checks: off\n    zonefile-sync: -1\n    journal-content: changes\n    dnssec-signing: %s\n    dnssec-policy: csk\n' "$1" "$signing"
  printf 'zone:\n'
  for ((i = 0; i < $2; i++)); do printf '  - domain: customer%d.example.\n' "$i"; done
}

# start SERVER DIR ZONES SIGNED: waits until the last zone answers.
start() {
  local last="customer$(( $3 - 1 )).example." qtype=SOA
  [ "$4" = 1 ] && qtype=DNSKEY
  if [ "$1" = knot ]; then
    mkdir -p "$2/knot"; knot_conf "$2" "$3" "$4" > "$2/knot.conf"
    taskset -c 0 knotd -c "$2/knot.conf" >"$2/knot.log" 2>&1 &
  elif [ "$1" = dynupdate ]; then
    mkdir -p "$2/dyn"; dyn_conf "$2" "$3" > "$2/Corefile.dyn"
    taskset -c 0 "$work/coredns-mx" -conf "$2/Corefile.dyn" >"$2/dyn.log" 2>&1 &
  else
    mx_conf "$2" "$4" > "$2/Corefile"
    taskset -c 0 "$work/coredns-mx" -conf "$2/Corefile" >"$2/mx.log" 2>&1 &
  fi
  pid=$!
  for _ in $(seq 1 1200); do
    if dig +short +time=1 +tries=1 @127.0.0.1 -p "$port" "$last" $qtype | grep -q .; then return; fi
    sleep 0.1
  done
  echo "bench: $1 did not start" >&2; exit 1
}
stop() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""; }

val() { awk -v k="$1" '$1 == k { print $2 }' "$2"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }'; }

servers="mxzone dynupdate"
[ "${BENCH_KNOT:-1}" = 1 ] && servers="mxzone dynupdate knot"
report="$work/report.md"
{
  echo "| server | signed | records in the zone | UPDATE p50 ms | p99 ms |"
  echo "|---|---|---|---|---|"
} > "$report"
for size in $sizes; do
  gen "size$size" 1 "$size"
  for signed in 0 1; do
    for s in $servers; do
      [ "$s" = dynupdate ] && [ "$signed" = 1 ] && continue # it does not sign
      rm -rf "$work/size$size/state" "$work/size$size/knot" "$work/size$size/dyn"
      start "$s" "$work/size$size" 1 "$signed"
      taskset -c "$client_cpu" "$work/updatebench" seq -server "127.0.0.1:$port" -n "$updates" -secret "$secret" > "$work/seq.$s.$size.$signed"
      stop
      echo "| $s | $signed | $size | $(val update_p50_ms "$work/seq.$s.$size.$signed") | $(val update_p99_ms "$work/seq.$s.$size.$signed") |" >> "$report"
    done
  done
done
{
  echo
  echo "| server | $pairs pairs over $zones zones, 16 clients: pairs/s | lost | half-applied | MX QPS idle | QPS during | ratio | p99 idle ms | p99 during ms |"
  echo "|---|---|---|---|---|---|---|---|---|"
} >> "$report"
gen storm "$zones" 12
# storm LABEL SERVER [RATE]
storm() {
  local f="$work/storm.$2.${3:-0}"
  rm -rf "$work/storm/state" "$work/storm/knot" "$work/storm/dyn"
  start "$2" "$work/storm" "$zones" 0
  taskset -c "$client_cpu" "$work/updatebench" storm -server "127.0.0.1:$port" -zones "$zones" -pairs "$pairs" -clients 16 \
    -secret "$secret" -rate "${3:-0}" > "$f"
  stop
  echo "| $1 | $(val storm_pairs_per_s "$f") | $(val lost "$f") | $(val half_applied "$f") | $(val idle_qps "$f") | $(val storm_qps "$f") | $(ratio "$(val storm_qps "$f")" "$(val idle_qps "$f")") | $(val idle_p99_ms "$f") | $(val storm_p99_ms "$f") |" >> "$report"
}
for s in $servers; do storm "$s" "$s"; done
if [ "${BENCH_KNOT:-1}" = 1 ]; then
  # The same pairs at Knot's pace: what the queries keep at equal work.
  storm "mxzone at Knot's pairs/s" mxzone "$(val storm_pairs_per_s "$work/storm.knot.0")"
fi
cat "$report"
[ -n "$out" ] && cp "$report" "$out"
exit 0
