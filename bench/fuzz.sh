#!/usr/bin/env bash
# Fuzz: run each fuzz target of the mxzone plugin and its packages for a
# while and print the executions done. A crasher fails the run and is left,
# minimised, under testdata/fuzz/TARGET/ of the target's package (the path
# is printed), where `go test` replays it from then on. CI runs only the
# seed corpora (plain `go test`).
#
#   bench/fuzz.sh [-t DURATION] [-l] [TARGET...]
#       default: 5m each, every Fuzz function under plugin/; -l lists them
set -euo pipefail

fuzztime=5m list=0
while getopts "t:l" opt; do
  case $opt in
    t) fuzztime=$OPTARG ;;
    l) list=1 ;;
    *) sed -n '2,10p' "$0"; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
cd "$(dirname "$0")/.."
targets=("$@")
# Every target there is, so that a new one is fuzzed without a change here.
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(grep -rhoE --include='*_test.go' '^func Fuzz[A-Za-z0-9_]+' plugin | sed 's/^func //' | sort)
if [ $list = 1 ]; then printf '%s\n' "${targets[@]}"; exit 0; fi
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
  if [ $result = FAILED ]; then
    sed -n '1,60p' "$log"
    echo "fuzz: crasher kept in $pkg/testdata/fuzz/$target/ (go test ./$pkg replays it)"
  fi
  rm -f "$log"
done
exit $status
