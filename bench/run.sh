#!/usr/bin/env bash
# Load benchmark: coredns-mx's mxzone against stock CoreDNS auto and file
# (same binary), CoreDNS's whoami as the ceiling of any plugin, and Knot DNS
# and NSD when installed. Server pinned to CPU 0, dnsperf to CPU 1, servers in
# alternation for ROUNDS rounds; prints medians and ratios, load time and RSS.
#
#   bench/run.sh [-n ZONES] [-r ROUNDS] [-l SECONDS] [-o RESULT.md] [-R] [-C]
#   -R: also restarts: each server started, stopped and started again with
#       its state kept (mxzone: a state directory, once its start snapshot
#       is written; Knot and NSD: their run directories); the column is the
#       second start's time until the last zone answers.
#   -C: also times `coredns-mx check` of the same directory, ROUNDS times, on
#       all CPUs like the first load (the row compares its median to mxzone's).
#   BENCH_SERVERS="mxzone auto" bench/run.sh ...   (a subset of the servers)
#   BENCH_BASELINE=/path/to/coredns-mx bench/run.sh ... (adds "baseline": mxzone
#                                                       from another build, same run)
#
# Needs dnsperf and dig (Debian: dnsperf, bind9-dnsutils); knotd and nsd are
# optional columns. Everything listens on 127.0.0.1 only and stops at exit.
set -euo pipefail

zones=10000 rounds=3 seconds=10 out="" restarts=0 checks=0
while getopts "n:r:l:o:RC" opt; do
  case $opt in
    n) zones=$OPTARG ;;
    r) rounds=$OPTARG ;;
    l) seconds=$OPTARG ;;
    o) out=$OPTARG ;;
    R) restarts=1 ;;
    C) checks=1 ;;
    *) sed -n '2,17p' "$0"; exit 2 ;;
  esac
done
for tool in dnsperf dig taskset; do
  command -v $tool >/dev/null || { echo "bench: $tool is required" >&2; exit 1; }
done

repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/coredns-mx-bench.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

cpus=$(nproc)
server_cpu=0 client_cpu=$(( cpus > 1 ? 1 : 0 ))

echo "building coredns-mx and generating $zones zones in $work" >&2
(cd "$repo" && go build -o "$work/coredns-mx" ./cmd/coredns-mx && go run ./bench/cmd/zonegen -n "$zones" -dir "$work/zones")

# Query files: MX at the apexes, and the mixed load (MX 70%, A 15%,
# NXDOMAIN 10%, SOA 5%), spread over all zones.
awk -v n="$zones" 'BEGIN { srand(1); for (i = 0; i < 200000; i++) printf "customer%d.example. MX\n", int(rand() * n) }' > "$work/mx.txt"
awk -v n="$zones" 'BEGIN { srand(2); for (i = 0; i < 200000; i++) { z = int(rand() * n); r = rand();
  if (r < 0.70) printf "customer%d.example. MX\n", z;
  else if (r < 0.85) printf "www.customer%d.example. A\n", z;
  else if (r < 0.95) printf "nope%d.customer%d.example. A\n", i, z;
  else printf "customer%d.example. SOA\n", z } }' > "$work/mixed.txt"

port=$(( 20000 + RANDOM % 20000 ))
last="customer$((zones - 1)).example."

# corefile NAME: the Corefile of a CoreDNS variant.
corefile() {
  case $1 in
    mxzone|baseline) printf '.:%s {\n  bind 127.0.0.1\n  mxzone %s {\n    reload 0\n%b  }\n}\n' "$port" "$work/zones" \
      "${state_dir:+    state $state_dir\n}" ;;
    auto)   printf '.:%s {\n  bind 127.0.0.1\n  auto {\n    directory %s (.*)\\.zone {1}\n    reload 0\n  }\n}\n' "$port" "$work/zones" ;;
    file)   printf '.:%s {\n  bind 127.0.0.1\n  file %s/customer0.example.zone customer0.example.\n}\n' "$port" "$work/zones" ;;
    whoami) printf '.:%s {\n  bind 127.0.0.1\n  whoami\n}\n' "$port" ;;
  esac
}

knot_conf() {
  printf 'server:\n  listen: 127.0.0.1@%s\n  rundir: %s/knot\n' "$port" "$work"
  printf 'database:\n  storage: %s/knot\n' "$work"
  printf 'template:\n  - id: default\n    storage: %s/zones\n    semantic-checks: off\n    zonefile-sync: -1\n    journal-content: none\n    file: "%%s.zone"\n' "$work"
  printf 'zone:\n'
  for ((i = 0; i < zones; i++)); do printf '  - domain: customer%d.example.\n' "$i"; done
}

nsd_conf() {
  printf 'server:\n  ip-address: 127.0.0.1@%s\n  server-count: 1\n  rrl-ratelimit: 0\n  username: ""\n  zonesdir: %s/zones\n  database: ""\n  pidfile: %s/nsd/nsd.pid\n  xfrdfile: %s/nsd/xfrd.state\n  zonelistfile: %s/nsd/zone.list\n  logfile: %s/nsd/log\n' \
    "$port" "$work" "$work" "$work" "$work" "$work"
  printf 'remote-control:\n  control-enable: no\n'
  for ((i = 0; i < zones; i++)); do printf 'zone:\n  name: customer%d.example.\n  zonefile: customer%d.example.zone\n' "$i" "$i"; done
}

# start NAME: start a server; sets pid and load_ms (time until the last
# zone answers). In the load phase every server may use every CPU; in the
# query phase it is pinned to the server CPU. A server that exits before it
# answers most likely found the port taken (other tests, other servers):
# it is started again on another port, up to five times.
start() {
  local attempt
  for attempt in 1 2 3 4 5; do
    launch "$1" && return 0
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && return 1 # running, but not answering
    echo "bench: $1 exited at start (port $port taken?); trying another port" >&2
    port=$(( 20000 + RANDOM % 20000 ))
  done
  return 1
}

# launch NAME: one attempt of start.
launch() {
  local name=$1 t0 pin=$server_cpu
  [ "$load_cpus" = all ] && pin="0-$((cpus - 1))"
  t0=$(date +%s%N)
  case $name in
    knot)
      [ "$keep_db" = 1 ] || { rm -rf "$work/knot"; mkdir -p "$work/knot"; }; knot_conf > "$work/knot.conf"
      taskset -c "$pin" knotd -c "$work/knot.conf" >/dev/null 2>&1 & ;;
    nsd)
      [ "$keep_db" = 1 ] || { rm -rf "$work/nsd"; mkdir -p "$work/nsd"; }; nsd_conf > "$work/nsd.conf"
      taskset -c "$pin" nsd -d -c "$work/nsd.conf" >/dev/null 2>&1 & ;;
    *)
      corefile "$name" > "$work/Corefile.$name"
      bin=$work/coredns-mx
      [ "$name" = baseline ] && bin=$BENCH_BASELINE
      taskset -c "$pin" "$bin" -conf "$work/Corefile.$name" -quiet >/dev/null 2>&1 & ;;
  esac
  pid=$!
  pids+=("$pid")
  local probe=$last
  [ "$name" = file ] && probe=customer0.example.
  [ "$name" = whoami ] && probe=.
  local tries=0
  until dig @127.0.0.1 -p "$port" "$probe" SOA +tries=1 +time=1 +norec 2>/dev/null | grep -qE "status: NOERROR"; do
    kill -0 "$pid" 2>/dev/null || return 1
    tries=$((tries + 1))
    [ $tries -gt 30000 ] && { echo "bench: $name did not answer for $probe" >&2; return 1; }
    sleep 0.01
  done
  load_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
}

stop() {
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  pids=("${pids[@]/$pid}")
  sleep 0.5
}

rss() { awk '/^VmRSS|^VmHWM/ { printf "%s %d ", $1, $2 / 1024 }' "/proc/$1/status"; }

# nsd forks: its memory is the sum over its processes.
rss_total() {
  local total=0 p
  for p in $1 $(pgrep -P "$1" || true); do
    total=$(( total + $(awk '/^VmRSS/ { print $2 }' "/proc/$p/status" 2>/dev/null || echo 0) ))
  done
  echo $(( total / 1024 ))
}

qps() {
  taskset -c $client_cpu dnsperf -s 127.0.0.1 -p "$port" -d "$work/$1.txt" -l "$seconds" -c 8 -q 200 -t 2 2>/dev/null |
    awk '/Queries per second/ { print $4 }'
}

servers=(mxzone)
[ -n "${BENCH_BASELINE:-}" ] && servers+=(baseline)
servers+=(auto whoami)
[ "$zones" -eq 1 ] && servers+=(file)
command -v knotd >/dev/null && servers+=(knot)
command -v nsd >/dev/null && servers+=(nsd)
if [ -n "${BENCH_SERVERS:-}" ]; then read -r -a servers <<< "$BENCH_SERVERS"; fi

declare -A results load rsslines rssafter restart
load_cpus=all state_dir="" keep_db=0
for name in "${servers[@]}"; do
  start "$name"
  load[$name]=$load_ms
  sleep 3 # let each server settle (mxzone hands the parser's garbage back)
  if [ "$name" = nsd ]; then rsslines[$name]="VmRSS: $(rss_total "$pid") (all processes)"; else rsslines[$name]=$(rss "$pid"); fi
  stop
done
if [ "$restarts" = 1 ]; then
  for name in "${servers[@]}"; do
    case $name in auto|whoami|file) continue ;; esac
    state_dir="" keep_db=0
    [[ $name == mxzone || $name == baseline ]] && { state_dir=$work/state-$name; rm -rf "$state_dir"; }
    start "$name"
    if [ -n "$state_dir" ]; then
      # The snapshot is renamed into place once complete.
      for ((w = 0; w < 6000; w++)); do [ -f "$state_dir/snapshot" ] && break; sleep 0.1; done
      [ -f "$state_dir/snapshot" ] || { echo "bench: $name wrote no start snapshot" >&2; exit 1; }
    fi
    stop
    keep_db=1
    start "$name"
    restart[$name]=$load_ms
    echo "restart $name: ${load_ms} ms" >&2
    stop
  done
  state_dir="" keep_db=0
fi
checkms=""
if [ "$checks" = 1 ]; then
  for ((r = 1; r <= rounds; r++)); do
    t0=$(date +%s%N)
    # Exit status 1 means some zone is refused; only a crash (>1) stops the bench.
    "$work/coredns-mx" check "$work/zones" >/dev/null 2>&1 || [ $? -eq 1 ]
    ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    checkms+="$ms "
    echo "check round $r: $ms ms" >&2
  done
fi
load_cpus=one
for ((r = 1; r <= rounds; r++)); do
  for name in "${servers[@]}"; do
    start "$name"
    for load_kind in mx mixed; do
      q=$(qps $load_kind)
      results[$name,$load_kind]+="$q "
      echo "round $r $name $load_kind: $q QPS" >&2
      if [ "$load_kind" = mx ]; then
        # Memory after SECONDS of queries: what traffic adds to the loaded set.
        if [ "$name" = nsd ]; then m=$(rss_total "$pid"); else m=$(awk '/^VmRSS/ { print int($2 / 1024) }' "/proc/$pid/status"); fi
        rssafter[$name]+="$m "
      fi
    done
    stop
  done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{ a[NR] = $1 } END { if (NR == 0) print 0; else print a[int((NR + 1) / 2)] }'; }

{
  echo "### $zones zones ($(date -u +%Y-%m-%d), $(nproc) CPUs: server on CPU $server_cpu, dnsperf on CPU $client_cpu, $rounds rounds of ${seconds}s, medians)"
  echo
  echo "| server | MX QPS | mixed QPS | MX vs mxzone | load (ms) | memory 3 s after load (MiB) | RSS after ${seconds} s of MX queries (MiB) | restart (ms) |"
  echo "|---|---|---|---|---|---|---|---|"
  base=$(echo "${results[mxzone,mx]}" | median)
  for name in "${servers[@]}"; do
    mx=$(echo "${results[$name,mx]}" | median)
    mixed=$(echo "${results[$name,mixed]}" | median)
    ratio=$(awk -v a="$mx" -v b="$base" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }')
    after=$(echo "${rssafter[$name]}" | median)
    echo "| $name | $mx | $mixed | $ratio | ${load[$name]} | ${rsslines[$name]} | $after | ${restart[$name]:--} |"
  done
  echo
  mx=$(echo "${results[mxzone,mx]}" | median)
  for other in baseline auto file whoami knot nsd; do
    [[ " ${servers[*]} " == *" $other "* ]] || continue
    [ -n "${results[$other,mx]:-}" ] || continue
    o=$(echo "${results[$other,mx]}" | median)
    m2=$(echo "${results[mxzone,mixed]}" | median)
    o2=$(echo "${results[$other,mixed]}" | median)
    awk -v a="$mx" -v b="$o" -v c="$m2" -v d="$o2" -v n="$other" 'BEGIN { printf "- mxzone / %s: MX %.2fx, mixed %.2fx\n", n, (b > 0 ? a / b : 0), (d > 0 ? c / d : 0) }'
  done
  if [ -n "$checkms" ]; then
    awk -v c="$(echo "$checkms" | median)" -v l="${load[mxzone]:-0}" -v all="$checkms" 'BEGIN {
      printf "- coredns-mx check: %d ms (median of %s ms); / mxzone load %d ms: %.2fx\n", c, all, l, (l > 0 ? c / l : 0) }'
  fi
} | tee ${out:+"$out"}
