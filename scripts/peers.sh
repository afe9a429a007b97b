#!/usr/bin/env bash
# peers.sh installs and builds the real servers the test suite talks to:
# redis-server, nginx, chromium and wrk from Debian; Caddy from its Go module; and
# the test OpenID provider built from tools/testop (the zitadel/oidc example OP,
# listening on loopback only; its own Go module so gatehouse's go.mod stays free
# of it).
# Built binaries are cached under $GATEHOUSE_PEERS (default ~/.cache/gatehouse-test),
# keyed by version or source hash, so only the first run on a machine pays for the builds.
# It prints shell `export` lines (and nothing else) on stdout for the test run to
# eval; progress goes to stderr.
#
# Why not Dex as the OpenID provider: the current Dex module needs a
# pseudo-version of github.com/dexidp/dex/api/v2 that the Go module proxy does
# not serve ("not available"), and the released api/v2 v2.4.0 lacks types
# that Dex uses, so Dex cannot be built here.
set -euo pipefail

PEERS="${GATEHOUSE_PEERS:-$HOME/.cache/gatehouse-test}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
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

# The test OpenID provider: cached by a hash of its module's sources, so an
# edit to tools/testop (or a new zitadel/oidc version in its go.mod) rebuilds it.
testop_src="$ROOT/tools/testop"
testop_hash=$(cd "$testop_src" && cat go.mod go.sum $(ls *.go | LC_ALL=C sort) | sha256sum | cut -c1-16)
testop="$PEERS/testop-$testop_hash"
if [ ! -x "$testop" ]; then
  log "building the test OpenID provider (tools/testop)"
  (cd "$testop_src" && GOWORK=off CGO_ENABLED=0 go build -mod=readonly -trimpath -o "$testop.tmp" . >&2)
  mv "$testop.tmp" "$testop"
fi

caddy="$PEERS/caddy-$CADDY_VERSION"
if [ "${GATEHOUSE_NO_CADDY:-}" = "" ] && [ ! -x "$caddy" ]; then
  log "building Caddy $CADDY_VERSION (a few minutes, once)"
  GOBIN="$PEERS/bin-caddy" CGO_ENABLED=0 go install "github.com/caddyserver/caddy/v2/cmd/caddy@$CADDY_VERSION" >&2
  mv "$PEERS/bin-caddy/caddy" "$caddy"
fi

echo "export GATEHOUSE_OIDC_OP_BIN=$testop"
[ -x "$caddy" ] && echo "export GATEHOUSE_CADDY_BIN=$caddy"
echo "export GATEHOUSE_REDIS_BIN=$(command -v redis-server)"
echo "export GATEHOUSE_NGINX_BIN=$(command -v nginx || echo /usr/sbin/nginx)"
echo "export GATEHOUSE_CHROMIUM_BIN=$(command -v chromium)"

# Helm, for deploy/'s tests (helm lint and helm template of deploy/helm/gatehouse).
HELM_VERSION="v3.22.0"
helm="$PEERS/helm-$HELM_VERSION"
if [ ! -x "$helm" ]; then
  log "building Helm $HELM_VERSION (a few minutes, once)"
  GOBIN="$PEERS/bin-helm" CGO_ENABLED=0 go install "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" >&2
  mv "$PEERS/bin-helm/helm" "$helm"
fi
echo "export GATEHOUSE_HELM_BIN=$helm"
