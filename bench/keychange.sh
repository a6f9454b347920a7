#!/usr/bin/env bash
# Key change benchmark (issue 20): the time from a new TSIG key written into
# one policy file of N (POLICYDIR/ZONE.conf, renamed into place) until an
# UPDATE signed with it is acknowledged: the policy files read again, the
# server instance restarted in-process with the new secret, and the zones,
# journals and signatures handed over to it.
#
#   bench/keychange.sh [-n ZONES] [-r ROUNDS]
#
# Needs nsupdate and dig. Listens on 127.0.0.1 only and stops at exit.
set -euo pipefail

zones=100000 rounds=3
while getopts "n:r:" opt; do
  case $opt in
    n) zones=$OPTARG ;;
    r) rounds=$OPTARG ;;
    *) sed -n '2,10p' "$0"; exit 2 ;;
  esac
done
for tool in nsupdate dig; do
  command -v $tool >/dev/null || { echo "bench: $tool is required" >&2; exit 1; }
done
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/coredns-mx-keychange.XXXXXX)
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
secret="YmVuY2gtc2VjcmV0LWJlbmNoLXNlY3JldC0xMjM0NTY="
port=$(( 20000 + RANDOM % 20000 ))
echo "building and generating $zones zones with their policy files in $work" >&2
(cd "$repo" && go build -o "$work/coredns-mx" ./cmd/coredns-mx && go build -o "$work/updatebench" ./bench/cmd/updatebench)
"$work/updatebench" gen -dir "$work/zones" -policy "$work/policy" -zones "$zones" -records 12 -secret "$secret"
printf '.:%s {\n  bind 127.0.0.1\n  mxzone %s {\n    reload 1m\n    state %s\n    update %s\n  }\n}\n' \
  "$port" "$work/zones" "$work/state" "$work/policy" > "$work/Corefile"
"$work/coredns-mx" -conf "$work/Corefile" > "$work/log" 2>&1 &
pid=$!
# Ready, and done writing the first start's state copies (the hand-over waits for them).
until grep -q 'zone copies saved' "$work/log"; do sleep 0.2; done
for ((r = 0; r < rounds; r++)); do
  key="new$r." new=$(printf 'new-key-%d-new-key-new-key-new-key' "$r" | base64 -w0) zone="customer$r.example."
  printf 'key "%s" { algorithm hmac-sha256; secret "%s"; };\ngrant %s zonesub TXT;\n' "$key" "$new" "$key" > "$work/p.tmp"
  chmod 600 "$work/p.tmp"
  t0=$(date +%s%N)
  mv "$work/p.tmp" "$work/policy/${zone}conf"
  until printf 'server 127.0.0.1 %s\nzone %s\nupdate add _acme-challenge.%s 60 TXT "k"\nsend\n' "$port" "$zone" "$zone" |
      nsupdate -t 2 -y "hmac-sha256:$key:$new" 2>/dev/null; do sleep 0.02; done
  t1=$(date +%s%N)
  echo "round $r: new key acknowledged after $(( (t1 - t0) / 1000000 )) ms ($zones zones)"
done
