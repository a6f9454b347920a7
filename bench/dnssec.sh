#!/usr/bin/env bash
# DNSSEC benchmark (issue 14): coredns-mx signing every zone of a generated
# directory against itself unsigned and against Knot DNS signing the same
# zones (dnssec-signing: on, automatic keys), in one run.
#
#   bench/dnssec.sh [-n ZONES] [-r ROUNDS] [-l SECONDS] [-o RESULT.md]
#   BENCH_KNOT=0 bench/dnssec.sh ...   (without the Knot DNS column: its starts take minutes)
#
# Measured, per server: time from start until the last zone answers (for the
# signers: its DNSKEY, so that the zones are signed); for coredns-mx the
# first start with an empty state directory (every key made, every zone
# signed) and the restart with the signed copies in it; queries per second
# of MX at the apexes with DO set and without; RSS after SECONDS of DO
# queries; and the time from an edit of one zone file until the new serial
# is served signed. Server pinned to CPU 0 for queries, dnsperf to CPU 1.
# Needs dnsperf, dig and knotd. Everything listens on 127.0.0.1 only and
# stops at exit.
set -euo pipefail

zones=10000 rounds=3 seconds=10 out=""
while getopts "n:r:l:o:" opt; do
  case $opt in
    n) zones=$OPTARG ;;
    r) rounds=$OPTARG ;;
    l) seconds=$OPTARG ;;
    o) out=$OPTARG ;;
    *) sed -n '2,16p' "$0"; exit 2 ;;
  esac
done
tools=(dnsperf dig taskset)
[ "${BENCH_KNOT:-1}" = 1 ] && tools+=(knotd)
for tool in "${tools[@]}"; do
  command -v $tool >/dev/null || { echo "bench: $tool is required" >&2; exit 1; }
done

repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/coredns-mx-dnssec.XXXXXX)
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

cpus=$(nproc)
client_cpu=$(( cpus > 1 ? 1 : 0 ))
echo "building coredns-mx and generating $zones zones in $work" >&2
(cd "$repo" && go build -o "$work/coredns-mx" ./cmd/coredns-mx && go run ./bench/cmd/zonegen -n "$zones" -dir "$work/zones")
awk -v n="$zones" 'BEGIN { srand(1); for (i = 0; i < 200000; i++) printf "customer%d.example. MX\n", int(rand() * n) }' > "$work/mx.txt"
last="customer$((zones - 1)).example."
port=$(( 20000 + RANDOM % 20000 ))

# corefile NAME: unsigned (no state), unsigned-state (state, no dnssec),
# signed (state and dnssec); reloading on, so that an edit goes live.
corefile() {
  local state="" dnssec=""
  [ "$1" != unsigned ] && state="    state $work/state.$1"
  [ "$1" = signed ] && { state="    state $work/state.signed"; dnssec="    dnssec"; }
  printf '.:%s {\n  bind 127.0.0.1\n  mxzone %s {\n    reload 5s\n%s\n%s\n  }\n}\n' "$port" "$work/zones" "$state" "$dnssec"
}

knot_conf() {
  printf 'server:\n  listen: 127.0.0.1@%s\n  rundir: %s/knot\n  background-workers: %s\n' "$port" "$work" "$cpus"
  printf 'database:\n  storage: %s/knot\n' "$work"
  printf 'policy:\n  - id: csk\n    algorithm: ecdsap256sha256\n    single-type-signing: on\n'
  printf 'template:\n  - id: default\n    storage: %s/zones\n    semantic-checks: off\n    zonefile-sync: -1\n    zonefile-load: difference-no-serial\n    journal-content: all\n    file: "%%s.zone"\n    dnssec-signing: on\n    dnssec-policy: csk\n' "$work"
  printf 'zone:\n'
  for ((i = 0; i < zones; i++)); do printf '  - domain: customer%d.example.\n' "$i"; done
}

# start NAME PIN: starts a server on CPUs PIN and waits until the last zone
# answers its DNSKEY (signed servers) or SOA; sets pid and load_ms.
start() {
  local name=$1 pin=$2 t0 qtype=SOA
  [ "$name" = signed ] || [ "$name" = knot ] && qtype=DNSKEY
  t0=$(date +%s%N)
  if [ "$name" = knot ]; then
    mkdir -p "$work/knot"; knot_conf > "$work/knot.conf"
    taskset -c "$pin" knotd -c "$work/knot.conf" >/dev/null 2>&1 &
  else
    corefile "$name" > "$work/Corefile.$name"
    taskset -c "$pin" "$work/coredns-mx" -conf "$work/Corefile.$name" -quiet >"$work/log.$name" 2>&1 &
  fi
  pid=$!
  until dig @127.0.0.1 -p "$port" "$last" $qtype +tries=1 +time=1 +norec 2>/dev/null | grep -qE "ANSWER: [1-9]"; do
    kill -0 "$pid" 2>/dev/null || { echo "bench: $name exited at start" >&2; cat "$work/log.$name" >&2 || true; exit 1; }
    sleep 0.01
  done
  load_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
}

stop() {
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  pid=""
  sleep 0.5
}

qps() { # qps DO|plain
  local flag=""
  [ "$1" = DO ] && flag=-D
  taskset -c $client_cpu dnsperf -s 127.0.0.1 -p "$port" -d "$work/mx.txt" -l "$seconds" -c 8 -q 200 -t 2 $flag 2>/dev/null |
    awk '/Queries per second/ { print $4 }'
}

rss() { awk '/^VmRSS/ { print int($2 / 1024) }' "/proc/$1/status"; }

serial() { dig @127.0.0.1 -p "$port" "$1" SOA +short +tries=1 +time=1 | awk '{ print $3 }'; }

# edit_ms: the time from an edit of one zone file (written aside, renamed)
# until its new serial is served.
edit_ms() {
  local zone=customer$((zones / 2)).example f t0 before
  f=$work/zones/$zone.zone
  before=$(serial "$zone.")
  t0=$(date +%s%N)
  sed 's/^www     A     192.0.2.80/www     A     192.0.2.81/; s/ 1 7200 / 2 7200 /' "$f" > "$f.tmp" && mv "$f.tmp" "$f"
  until [ "$(serial "$zone.")" != "$before" ]; do sleep 0.005; done
  echo $(( ($(date +%s%N) - t0) / 1000000 ))
  sed 's/^www     A     192.0.2.81/www     A     192.0.2.80/; s/ 2 7200 / 1 7200 /' "$f" > "$f.tmp" && mv "$f.tmp" "$f"
}

median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{ a[NR] = $1 } END { if (NR == 0) print 0; else print a[int((NR + 1) / 2)] }'; }

# saved NAME WHAT: waits until the log of the first start of NAME says its
# copies are written (it writes them after it serves).
saved() {
  local tries=0
  until grep -q "$2" "$work/log.$1"; do
    tries=$((tries + 1)); [ $tries -gt 6000 ] && { echo "bench: $1 wrote no copies" >&2; exit 1; }
    sleep 0.1
  done
}

declare -A res
all="0-$((cpus - 1))"
# Starts, on every CPU. The first start of "signed" makes every key and
# signature; the restarts find their copies.
start unsigned "$all"; res[start,unsigned]=$load_ms; stop
start unsigned-state "$all"; res[first,unsigned-state]=$load_ms; saved unsigned-state "zone copies saved"; stop
start unsigned-state "$all"; res[restart,unsigned-state]=$load_ms; stop # and again in the rounds
start signed "$all"; res[first,signed]=$load_ms; saved signed "signed copies saved"; stop
for ((r = 1; r <= rounds; r++)); do
  start signed "$all"; res[restart,signed]+="$load_ms "; stop
  start unsigned "$all"; res[start,unsigned]+=" $load_ms"; stop
  start unsigned-state "$all"; res[restart,unsigned-state]+=" $load_ms"; stop
done
servers=(unsigned signed)
if [ "${BENCH_KNOT:-1}" = 1 ]; then
  servers+=(knot)
  rm -rf "$work/knot"
  start knot "$all"; res[first,knot]=$load_ms; stop
  start knot "$all"; res[restart,knot]=$load_ms; stop
fi

for ((r = 1; r <= rounds; r++)); do
  for name in "${servers[@]}"; do
    start "$name" 0
    for kind in plain DO; do
      q=$(qps $kind)
      res[$name,$kind]+="$q "
      echo "round $r $name $kind: $q QPS" >&2
      [ "$kind" = DO ] && res[$name,rss]+="$(rss "$pid") "
    done
    if [ "$name" != knot ]; then res[$name,edit]+="$(edit_ms) "; sleep 1; fi
    stop
  done
done

{
  echo "### $zones zones signed ($(date -u +%Y-%m-%d), $cpus CPUs; starts on all CPUs; queries: server on CPU 0, dnsperf on CPU $client_cpu; $rounds rounds of ${seconds}s, medians)"
  echo
  echo "| server | first start (ms) | restart (ms) | MX QPS, no DO | MX QPS, DO | RSS after ${seconds} s of DO queries (MiB) | edit served (ms) |"
  echo "|---|---|---|---|---|---|---|"
  us=$(echo "${res[start,unsigned]}" | median)
  # Without a state directory every start is a first start: no restart.
  echo "| mxzone unsigned, no state | $us | - | $(echo "${res[unsigned,plain]}" | median) | $(echo "${res[unsigned,DO]}" | median) | $(echo "${res[unsigned,rss]}" | median) | $(echo "${res[unsigned,edit]}" | median) |"
  uss=$(echo "${res[restart,unsigned-state]}" | median)
  echo "| mxzone unsigned, state | ${res[first,unsigned-state]} | $uss | - | - | - | - |"
  sr=$(echo "${res[restart,signed]}" | median)
  echo "| mxzone signed (nsec) | ${res[first,signed]} | $sr | $(echo "${res[signed,plain]}" | median) | $(echo "${res[signed,DO]}" | median) | $(echo "${res[signed,rss]}" | median) | $(echo "${res[signed,edit]}" | median) |"
  [ "${BENCH_KNOT:-1}" = 1 ] && echo "| Knot DNS signing | ${res[first,knot]:-} | ${res[restart,knot]:-} | $(echo "${res[knot,plain]:-}" | median) | $(echo "${res[knot,DO]:-}" | median) | $(echo "${res[knot,rss]:-}" | median) | - |"
  echo
  awk -v sr="$sr" -v us="$us" -v ss="$uss" \
      -v sdo="$(echo "${res[signed,DO]}" | median)" -v up="$(echo "${res[unsigned,plain]}" | median)" \
      -v kdo="$(echo "${res[knot,DO]:-}" | median)" 'BEGIN {
    printf "- restart with signed copies / unsigned start: %.2fx (target at most 1.5x); / unsigned restart with state: %.2fx\n", sr / us, sr / ss
    printf "- DO-set QPS of the signed zones / unsigned QPS of mxzone: %.2fx (target at least 0.9x)\n", sdo / up
    if (kdo > 0) printf "- DO-set QPS, mxzone / Knot DNS: %.2fx\n", sdo / kdo
  }'
} | tee ${out:+"$out"}
