#!/usr/bin/env bash
# test.sh runs gatehouse's whole test suite on a fresh machine: it installs
# and builds the real peers the tests use (scripts/peers.sh), then runs
# formatting and static checks, the race-enabled tests, and short fuzzing.
set -euo pipefail
cd "$(dirname "$0")/.."

eval "$(bash scripts/peers.sh)"

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$unformatted" ]; then echo "not gofmt'ed:"; echo "$unformatted"; exit 1; fi

echo "== go vet"
go vet ./...

echo "== staticcheck"
STATICCHECK="${GATEHOUSE_PEERS:-$HOME/.cache/gatehouse-test}/staticcheck-v0.8.2"
if [ ! -x "$STATICCHECK" ]; then
  GOBIN="$(dirname "$STATICCHECK")/bin-staticcheck" go install honnef.co/go/tools/cmd/staticcheck@v0.8.2
  mv "$(dirname "$STATICCHECK")/bin-staticcheck/staticcheck" "$STATICCHECK"
fi
"$STATICCHECK" ./...

echo "== go test -race"
go test -race -count=1 -timeout 20m ./...

if [ -x scripts/fuzz.sh ]; then
  echo "== short fuzzing"
  bash scripts/fuzz.sh
fi
