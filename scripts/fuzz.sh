#!/usr/bin/env bash
# fuzz.sh runs every fuzz target of gatehouse for a short, bounded time, one
# at a time, and exits non-zero if any of them fails. It is the "short
# fuzzing" step of scripts/test.sh; the committed seed corpora
# (testdata/fuzz/<Target>/ and each target's f.Add seeds) already run as
# regression tests in every plain `go test ./...`.
#
#   FUZZTIME=8s           how long each target fuzzes (default 8s; "500x" = 500 inputs)
#   FUZZMINIMIZETIME=1s   bound on minimising each new input (go's default is 60s,
#                         which would eat the whole budget on the larger inputs)
#
# Fourteen targets at the defaults take about two and a half minutes on two cores. A failing
# input is written to <package>/testdata/fuzz/<Target>/; `go test ./<package>`
# replays it. Commit it with the fix, so it stays a regression test.
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZTIME="${FUZZTIME:-8s}"
FUZZMINIMIZETIME="${FUZZMINIMIZETIME:-1s}"

# package target — every Fuzz function in the tree, listed explicitly.
targets=(
  "./redirect FuzzCheck"
  "./policy FuzzNormalizePath"
  "./session FuzzCookieStoreLoad"
  "./session FuzzLoginStatesTake"
  "./session FuzzRedisTicket"
  "./session FuzzRedisSessionValue"
  "./session FuzzSessionValues"
  "./proxy FuzzOriginalRequest"
  "./forwarded FuzzClientIP"
  "./headers FuzzIsReserved"
  "./internal/jsonlog FuzzSameStringsAsSlog"
  "./internal/jsonlog FuzzAppendTime"
  "./config FuzzParse"
  "./bearer FuzzVerify"
)

# A fuzz target added without being listed here would never be fuzzed.
found=$(grep -rhoE --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*' . | sed 's/^func //' | sort)
listed=$(printf '%s\n' "${targets[@]}" | awk '{print $2}' | sort)
if [ "$found" != "$listed" ]; then
  echo "fuzz.sh: the target list is out of date (< in the tree, > listed here):"
  diff <(echo "$found") <(echo "$listed") || true
  exit 1
fi

failed=()
for t in "${targets[@]}"; do
  read -r pkg name <<<"$t"
  echo "== fuzz $name ($pkg, $FUZZTIME)"
  corpus="$pkg/testdata/fuzz/$name"
  before=$({ ls "$corpus" 2>/dev/null || true; } | wc -l) # a target may have no corpus yet
  if ! out=$(go test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" -fuzzminimizetime "$FUZZMINIMIZETIME" "$pkg" 2>&1); then
    echo "$out"
    after=$({ ls "$corpus" 2>/dev/null || true; } | wc -l)
    # Go's fuzzer sometimes ends with "context deadline exceeded" when its
    # time is up while a worker is busy, without any failing input; only a
    # new file in the corpus is a real finding.
    if [ "$after" = "$before" ] && grep -q "context deadline exceeded" <<<"$out"; then
      echo "fuzz.sh: $name stopped at its deadline without a failing input (a known go test -fuzz quirk); not a failure"
      continue
    fi
    failed+=("$pkg $name")
  else
    echo "$out" | tail -3
  fi
done

if ((${#failed[@]} > 0)); then
  echo "fuzzing failed:"
  printf '  %s\n' "${failed[@]}"
  echo "failing inputs are under <package>/testdata/fuzz/<Target>/; go test <package> replays them"
  exit 1
fi
echo "fuzzing: ${#targets[@]} targets passed"
