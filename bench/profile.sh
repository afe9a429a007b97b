#!/usr/bin/env bash
# bench/profile.sh: CPU and allocation profiles of gatehouse under wrk load.
#
#   bench/profile.sh                       all modes: cookie-proxy forward-auth redis-proxy bearer-proxy
#   bench/profile.sh forward-auth          one mode
#
# Serves the Gateway with bench/cmd/benchprof (wired like `gatehouse serve`,
# plus net/http/pprof on a second loopback port) in front of the bench
# upstream, signs in over HTTP, and while wrk drives a mode (BENCH_CONNS,
# default 64 connections, BENCH_PROFILE_SECONDS, default 8) takes a CPU
# profile and the allocations made during it. Profiles go to
# bench/results/profile-MODE.{cpu,allocs}.pb.gz (inspect them with
# `go tool pprof -http 127.0.0.1:0 FILE`); the top entries are printed.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

MODES=("$@")
[ "${#MODES[@]}" -gt 0 ] || MODES=(cookie-proxy forward-auth redis-proxy bearer-proxy)
CONNS=${BENCH_CONNS:-64}
SECS=${BENCH_PROFILE_SECONDS:-8}
THREADS=${BENCH_THREADS:-2}

need_tools
new_workdir
trap stop_all EXIT
trap 'exit 130' INT TERM
build_all
read -r P_UP P_REDIS P_GHC P_GHR P_PPC P_PPR P_ISS P_GHB P_PPB <<<"$("$WORK/benchpeer" freeport -n 9 | tr '\n' ' ')"

start upstream "$WORK/benchpeer" upstream -listen "127.0.0.1:$P_UP"
start_redis "$P_REDIS"
start issuer "$WORK/benchpeer" issuer -listen "127.0.0.1:$P_ISS" -token-out "$WORK/token.jwt"
wait_http upstream "http://127.0.0.1:$P_UP/" 200
wait_http issuer "http://127.0.0.1:$P_ISS/jwks.json" 200
write_users
write_config "$WORK/cookie.yaml" "$P_GHC" cookie "$P_UP" "$P_REDIS"
write_config "$WORK/redis.yaml" "$P_GHR" redis "$P_UP" "$P_REDIS"
write_config "$WORK/bearer.yaml" "$P_GHB" cookie "$P_UP" "$P_REDIS" "$P_ISS"
start prof-cookie "$WORK/benchprof" -config "$WORK/cookie.yaml" -pprof "127.0.0.1:$P_PPC"
start prof-redis "$WORK/benchprof" -config "$WORK/redis.yaml" -pprof "127.0.0.1:$P_PPR"
start prof-bearer "$WORK/benchprof" -config "$WORK/bearer.yaml" -pprof "127.0.0.1:$P_PPB"
wait_http prof-cookie "http://127.0.0.1:$P_GHC/ping" 200
wait_http prof-redis "http://127.0.0.1:$P_GHR/ready" 200
wait_http prof-bearer "http://127.0.0.1:$P_GHB/ready" 200
COOKIE="$(login "http://127.0.0.1:$P_GHC")"
RCOOKIE="$(login "http://127.0.0.1:$P_GHR")"
mkdir -p "$BENCH/results"

for mode in "${MODES[@]}"; do
  case "$mode" in
  cookie-proxy) url="http://127.0.0.1:$P_GHC/app/page" pp=$P_PPC hdrs="Cookie: $COOKIE" ;;
  redis-proxy) url="http://127.0.0.1:$P_GHR/app/page" pp=$P_PPR hdrs="Cookie: $RCOOKIE" ;;
  bearer-proxy) url="http://127.0.0.1:$P_GHB/app/page" pp=$P_PPB hdrs="Authorization: Bearer $(cat "$WORK/token.jwt")" ;;
  forward-auth)
    url="http://127.0.0.1:$P_GHC/oauth2/auth" pp=$P_PPC
    hdrs="Cookie: $COOKIE
X-Forwarded-Method: GET
X-Forwarded-Proto: https
X-Forwarded-Host: app.example.com
X-Forwarded-Uri: /app/page?x=1"
    ;;
  *) die "unknown mode $mode (cookie-proxy, forward-auth, redis-proxy, bearer-proxy)" ;;
  esac
  out="$BENCH/results/profile-$mode"
  log "profiling $mode: wrk -c $CONNS for $((SECS + 3)) s, CPU profile over $SECS s"
  BENCH_HEADERS="$hdrs" BENCH_LUA_DIR="$BENCH/wrk" start "wrk-$mode" \
    wrk -t "$THREADS" -c "$CONNS" -d "$((SECS + 3))s" -s "$BENCH/wrk/headers.lua" "$url"
  sleep 1 # let the connections open and the pools fill before sampling
  curl -sS -o "$WORK/allocs0.pb.gz" "http://127.0.0.1:$pp/debug/pprof/allocs"
  curl -sS -o "$out.cpu.pb.gz" "http://127.0.0.1:$pp/debug/pprof/profile?seconds=$SECS"
  curl -sS -o "$WORK/allocs1.pb.gz" "http://127.0.0.1:$pp/debug/pprof/allocs"
  wait "${PID[wrk-$mode]}" || die "wrk failed for $mode"
  (cd "$ROOT" && go tool pprof -proto -base "$WORK/allocs0.pb.gz" "$WORK/allocs1.pb.gz" >"$out.allocs.pb.gz" 2>/dev/null)
  echo
  echo "=== $mode: CPU, top 30 by flat time ==="
  (cd "$ROOT" && go tool pprof -top -nodecount=30 "$out.cpu.pb.gz" 2>/dev/null)
  echo
  echo "=== $mode: CPU, top 30 by cumulative time ==="
  (cd "$ROOT" && go tool pprof -top -cum -nodecount=30 "$out.cpu.pb.gz" 2>/dev/null)
  echo
  echo "=== $mode: bytes allocated during the profile, top 25 ==="
  (cd "$ROOT" && go tool pprof -top -sample_index=alloc_space -nodecount=25 "$out.allocs.pb.gz" 2>/dev/null)
  echo
  echo "=== $mode: objects allocated during the profile, top 25 ==="
  (cd "$ROOT" && go tool pprof -top -sample_index=alloc_objects -nodecount=25 "$out.allocs.pb.gz" 2>/dev/null)
done
log "profiles in bench/results/profile-*.pb.gz"
