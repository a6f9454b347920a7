#!/usr/bin/env bash
# Fuzz: run each fuzz target of the mxzone plugin for a while and print the
# executions done. A crasher fails the run and is left, minimised, under
# plugin/mxzone/testdata/fuzz/TARGET/, where `go test` replays it from then
# on. CI runs only the seed corpora (plain `go test`).
#
#   bench/fuzz.sh [-t DURATION] [TARGET...]     (default 5m each, all targets)
set -euo pipefail

fuzztime=5m
while getopts "t:" opt; do
  case $opt in
    t) fuzztime=$OPTARG ;;
    *) sed -n '2,8p' "$0"; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(FuzzParseZone FuzzFastParse FuzzRewrites FuzzServeDNS FuzzApply FuzzReplay)

cd "$(dirname "$0")/.."
status=0
for target in "${targets[@]}"; do
  log=$(mktemp)
  # The package that holds the target: go test fuzzes one package at a time.
  pkg=$(grep -rl --include='*_test.go' "^func ${target}(" plugin | head -1 | xargs -r dirname)
  [ -n "$pkg" ] || { echo "fuzz: no target $target" >&2; status=1; continue; }
  if go test "./$pkg" -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" > "$log" 2>&1; then
    result=ok
  else
    result=FAILED status=1
  fi
  last=$(grep -E '^fuzz: elapsed' "$log" | tail -1 || true)
  printf '%-15s %-6s %s\n' "$target" "$result" "${last#fuzz: }"
  if [ $result = FAILED ]; then sed -n '1,60p' "$log"; fi
  rm -f "$log"
done
exit $status
