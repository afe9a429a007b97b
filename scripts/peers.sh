#!/usr/bin/env bash
# peers.sh installs and builds the real servers the test suite talks to:
# redis-server, nginx and chromium from Debian; Dex and Caddy from the Go module proxy.
# Built binaries are cached under $GATEHOUSE_PEERS (default ~/.cache/gatehouse-test),
# keyed by version, so only the first run on a machine pays for the builds.
# It prints shell `export` lines for the test run to eval.
set -euo pipefail

PEERS="${GATEHOUSE_PEERS:-$HOME/.cache/gatehouse-test}"
DEX_VERSION="v0.0.0-20260806151424-ab64ed778070"
DEX_COMMIT="ab64ed778070"
CADDY_VERSION="v2.11.9"
mkdir -p "$PEERS"

log() { echo "peers: $*" >&2; }

need_apt=()
command -v redis-server >/dev/null || need_apt+=(redis-server)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need_apt+=(nginx)
command -v chromium >/dev/null || need_apt+=(chromium)
command -v wrk >/dev/null || need_apt+=(wrk)
if [ "${#need_apt[@]}" -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then SUDO=sudo; else SUDO=; fi
  log "apt-get install ${need_apt[*]}"
  $SUDO apt-get update -qq >&2
  $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >&2
fi

dex="$PEERS/dex-$DEX_COMMIT"
if [ ! -x "$dex" ]; then
  log "building Dex $DEX_VERSION (a few minutes, once)"
  src=$(GOFLAGS=-mod=mod go mod download -json "github.com/dexidp/dex@$DEX_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  work=$(mktemp -d)
  cp -r "$src/." "$work/"
  chmod -R u+w "$work"
  (cd "$work" &&
    go mod edit -dropreplace github.com/dexidp/dex/api/v2 &&
    go get "github.com/dexidp/dex/api/v2@$DEX_COMMIT" >&2 &&
    CGO_ENABLED=0 go build -o "$dex.tmp" ./cmd/dex >&2)
  mv "$dex.tmp" "$dex"
  rm -rf "$work"
fi

caddy="$PEERS/caddy-$CADDY_VERSION"
if [ "${GATEHOUSE_NO_CADDY:-}" = "" ] && [ ! -x "$caddy" ]; then
  log "building Caddy $CADDY_VERSION (a few minutes, once)"
  GOBIN="$PEERS/bin-caddy" CGO_ENABLED=0 go install "github.com/caddyserver/caddy/v2/cmd/caddy@$CADDY_VERSION" >&2
  mv "$PEERS/bin-caddy/caddy" "$caddy"
fi

echo "export GATEHOUSE_DEX_BIN=$dex"
[ -x "$caddy" ] && echo "export GATEHOUSE_CADDY_BIN=$caddy"
echo "export GATEHOUSE_REDIS_BIN=$(command -v redis-server)"
echo "export GATEHOUSE_NGINX_BIN=$(command -v nginx || echo /usr/sbin/nginx)"
echo "export GATEHOUSE_CHROMIUM_BIN=$(command -v chromium)"
