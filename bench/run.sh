#!/usr/bin/env bash
# bench/run.sh: gatehouse side by side with bare Go baselines, on loopback,
# driven by wrk (issue 4). One command:
#
#   bench/run.sh            full run (~6 min on 2 cores): 5 s runs, 3 rounds, 16 and 64 connections
#   bench/run.sh --quick    a few seconds: proves the harness works (CI)
#   bench/run.sh --record   full run, and also copy the report to bench/RESULTS.md
#
# It builds gatehouse and bench/cmd/*, starts an upstream (200, 100-byte
# body), a bare tuned httputil.ReverseProxy in front of it, a bare 202
# handler, a throwaway redis-server, a JWT issuer (benchpeer issuer), and
# gatehouse with cookie sessions, Redis sessions and bearer JWTs; signs in
# over HTTP with curl as a local user with five groups; then
# bench/cmd/benchdrive drives every target with wrk, interleaved
# A, B, C, A, B, C … per round, then the proxying group once more at equal
# load (a think time per request) for latency, and once more with each
# server alone on a core (taskset; wrk and the upstream on the others), and
# writes medians with ratios to the bare baselines of the same run to
# bench/results/latest.md (raw runs in bench/results/raw.tsv).
#
# Environment overrides: BENCH_DURATION (5s), BENCH_ROUNDS (3),
# BENCH_CONNS ("16 64"), BENCH_THREADS (2), BENCH_WARMUP (1s),
# BENCH_SESSIONS (10000), BENCH_PACED_MS (1: think time per request in the
# equal-load runs), BENCH_LOG_LEVEL (info: one access line per request, as
# shipped), BENCH_KEEP_WORK=1 keeps the scratch directory.
#
# Needs wrk and redis-server (Debian packages; scripts/peers.sh installs
# them), curl and go. No root. Every process it starts is stopped on exit.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

QUICK=0
RECORD=0
for arg in "$@"; do
  case "$arg" in
  --quick) QUICK=1 ;;
  --record) RECORD=1 ;;
  -h | --help) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) die "unknown argument $arg (try --help)" ;;
  esac
done

DURATION=${BENCH_DURATION:-5s}
ROUNDS=${BENCH_ROUNDS:-3}
CONNS=${BENCH_CONNS:-16 64}
THREADS=${BENCH_THREADS:-2}
WARMUP=${BENCH_WARMUP:-1s}
MEM_N=${BENCH_SESSIONS:-10000}
PACED_MS=${BENCH_PACED_MS:-1}
MEM_DURATION=5s
if [ "$QUICK" = 1 ]; then
  DURATION=1s ROUNDS=1 CONNS=16 WARMUP="" MEM_N=500 MEM_DURATION=1s
fi

need_tools
new_workdir
trap stop_all EXIT
trap 'exit 130' INT TERM
build_all

read -r P_UP P_RP P_ACC P_REDIS P_GHC P_GHR P_GHM P_LOGC P_LOGR P_ISS P_GHB P_GHG P_RPP P_UPX P_RPX P_RPPX P_GHX <<<"$("$WORK/benchpeer" freeport -n 17 | tr '\n' ' ')"

# The pinned runs put each server under test alone on the last CPU and wrk
# and the upstream on the others; they need two CPUs and taskset.
NCPU=$(nproc)
PIN=0
if [ "$NCPU" -ge 2 ] && command -v taskset >/dev/null; then
  PIN=1 SERVER_CPU=$((NCPU - 1)) CLIENT_CPUS=0
  [ "$NCPU" = 2 ] || CLIENT_CPUS="0-$((NCPU - 2))"
  PIN_THREADS=$((THREADS < NCPU - 1 ? THREADS : NCPU - 1))
fi

log "starting the upstream, the bare reverse proxy, the bare 202 handler, a JWT issuer and redis-server"
start upstream "$WORK/benchpeer" upstream -listen "127.0.0.1:$P_UP"
start revproxy "$WORK/benchpeer" revproxy -listen "127.0.0.1:$P_RP" -upstream "http://127.0.0.1:$P_UP"
start revproxy-pooled "$WORK/benchpeer" revproxy -buffer-pool -listen "127.0.0.1:$P_RPP" -upstream "http://127.0.0.1:$P_UP"
start accept "$WORK/benchpeer" accept -listen "127.0.0.1:$P_ACC"
if [ "$PIN" = 1 ]; then
  start upstream-pinned taskset -c "$CLIENT_CPUS" "$WORK/benchpeer" upstream -listen "127.0.0.1:$P_UPX"
  start revproxy-pinned taskset -c "$SERVER_CPU" "$WORK/benchpeer" revproxy -listen "127.0.0.1:$P_RPX" -upstream "http://127.0.0.1:$P_UPX"
  start revproxy-pooled-pinned taskset -c "$SERVER_CPU" "$WORK/benchpeer" revproxy -buffer-pool -listen "127.0.0.1:$P_RPPX" -upstream "http://127.0.0.1:$P_UPX"
fi
start issuer "$WORK/benchpeer" issuer -listen "127.0.0.1:$P_ISS" -token-out "$WORK/token.jwt"
start_redis "$P_REDIS"
wait_http upstream "http://127.0.0.1:$P_UP/" 200
wait_http revproxy "http://127.0.0.1:$P_RP/" 200
wait_http revproxy-pooled "http://127.0.0.1:$P_RPP/" 200
wait_http accept "http://127.0.0.1:$P_ACC/" 202
wait_http issuer "http://127.0.0.1:$P_ISS/jwks.json" 200
if [ "$PIN" = 1 ]; then
  wait_http upstream-pinned "http://127.0.0.1:$P_UPX/" 200
  wait_http revproxy-pinned "http://127.0.0.1:$P_RPX/" 200
  wait_http revproxy-pooled-pinned "http://127.0.0.1:$P_RPPX/" 200
fi
TOKEN="$(cat "$WORK/token.jwt")"

write_users
write_config "$WORK/cookie.yaml" "$P_GHC" cookie "$P_UP" "$P_REDIS"
write_config "$WORK/redis.yaml" "$P_GHR" redis "$P_UP" "$P_REDIS"
# The same Redis store with its local cache off: one GET per request, for
# comparison (the default, above, reuses a session read moments ago).
write_config "$WORK/redis-get.yaml" "$P_GHG" redis "$P_UP" "$P_REDIS"
sed -i 's|^  redis: {url: \(.*\)}$|  redis: {url: \1, local_cache: 0s}|' "$WORK/redis-get.yaml"
grep -q 'local_cache: 0s' "$WORK/redis-get.yaml" || die "could not turn the local cache off in redis-get.yaml"
"$WORK/gatehouse" check --config "$WORK/redis-get.yaml" >&2 || die "gatehouse check rejected redis-get.yaml"
write_config "$WORK/mem.yaml" "$P_GHM" cookie "$P_UP" "$P_REDIS"
write_config "$WORK/bearer.yaml" "$P_GHB" cookie "$P_UP" "$P_REDIS" "$P_ISS"
write_config "$WORK/login-cookie.yaml" "$P_LOGC" cookie "$P_UP" "$P_REDIS"
[ "$PIN" = 0 ] || write_config "$WORK/pinned.yaml" "$P_GHX" cookie "$P_UPX" "$P_REDIS"
write_config "$WORK/login-redis.yaml" "$P_LOGR" redis "$P_UP" "$P_REDIS"

# Logins run on separate instances with the same secret (and Redis), so the
# 64 MiB argon2id hash never inflates the RSS of the instances measured.
log "signing in over HTTP (local login, cookie and Redis sessions)"
start login-cookie "$WORK/gatehouse" serve --config "$WORK/login-cookie.yaml"
start login-redis "$WORK/gatehouse" serve --config "$WORK/login-redis.yaml"
wait_http login-cookie "http://127.0.0.1:$P_LOGC/ping" 200
wait_http login-redis "http://127.0.0.1:$P_LOGR/ping" 200
COOKIE="$(login "http://127.0.0.1:$P_LOGC")"
RCOOKIE="$(login "http://127.0.0.1:$P_LOGR")"
stop login-cookie
stop login-redis
[ -n "$COOKIE" ] && [ -n "$RCOOKIE" ] || die "login set no _gatehouse cookie"
COOKIE_COUNT=$(awk -F '; ' '{ print NF }' <<<"$COOKIE")
COOKIE_BYTES=$(($(printf '%s' "$COOKIE" | wc -c) - 2 * (COOKIE_COUNT - 1)))
log "session cookie: $COOKIE_BYTES bytes in $COOKIE_COUNT cookie(s); Redis ticket cookie: ${#RCOOKIE} bytes"

log "minting $MEM_N distinct sessions for the memory test"
"$WORK/mintsessions" -config "$WORK/mem.yaml" -n "$MEM_N" -out "$WORK/sessions.txt"

start gh-cookie "$WORK/gatehouse" serve --config "$WORK/cookie.yaml"
start gh-redis "$WORK/gatehouse" serve --config "$WORK/redis.yaml"
start gh-mem "$WORK/gatehouse" serve --config "$WORK/mem.yaml"
start gh-bearer "$WORK/gatehouse" serve --config "$WORK/bearer.yaml"
start gh-redis-get "$WORK/gatehouse" serve --config "$WORK/redis-get.yaml"
wait_http gh-cookie "http://127.0.0.1:$P_GHC/ping" 200
wait_http gh-redis "http://127.0.0.1:$P_GHR/ready" 200
wait_http gh-mem "http://127.0.0.1:$P_GHM/ping" 200
wait_http gh-bearer "http://127.0.0.1:$P_GHB/ready" 200
wait_http gh-redis-get "http://127.0.0.1:$P_GHG/ready" 200
if [ "$PIN" = 1 ]; then
  start gh-pinned taskset -c "$SERVER_CPU" "$WORK/gatehouse" serve --config "$WORK/pinned.yaml"
  wait_http gh-pinned "http://127.0.0.1:$P_GHX/ping" 200
fi

# revision names the commit measured and any uncommitted changes built with it.
revision() {
  local rev changed
  rev="$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null)" || { echo unknown; return; }
  changed="$(cd "$ROOT" && git status --porcelain --untracked-files=no -- . ':!bench' | awk '{ print $2 }' | paste -sd, -)"
  if [ -n "$changed" ]; then echo "$rev + uncommitted changes to $changed"; else echo "$rev"; fi
}

PATH_UNDER_TEST=/app/page
FA_HEADERS="$(json_str "Cookie: $COOKIE"), \"X-Forwarded-Method: GET\", \"X-Forwarded-Proto: https\", \"X-Forwarded-Host: app.example.com\", \"X-Forwarded-Uri: $PATH_UNDER_TEST?x=1\""
PINNED=null SKIPPED="[]"
if [ "$PIN" = 1 ]; then
  PINNED=$(
    cat <<EOF
{"server_cpus": "$SERVER_CPU", "client_cpus": "$CLIENT_CPUS", "conns": 16, "threads": $PIN_THREADS,
   "group": {"name": "proxying",
     "baseline": {"name": "bare httputil.ReverseProxy", "url": "http://127.0.0.1:$P_RPX$PATH_UNDER_TEST",
                  "pid": ${PID[revproxy-pinned]}, "headers": [$(json_str "Cookie: $COOKIE")], "expect": 200},
     "subjects": [
       {"name": "bare httputil.ReverseProxy + buffer pool (as gatehouse's)", "url": "http://127.0.0.1:$P_RPPX$PATH_UNDER_TEST",
        "pid": ${PID[revproxy-pooled-pinned]}, "headers": [$(json_str "Cookie: $COOKIE")], "expect": 200},
       {"name": "gatehouse proxy, cookie session", "url": "http://127.0.0.1:$P_GHX$PATH_UNDER_TEST",
        "pid": ${PID[gh-pinned]}, "headers": [$(json_str "Cookie: $COOKIE")], "expect": 200}
     ]}}
EOF
  )
else
  SKIPPED="[{\"name\": \"server on its own core\", \"note\": \"needs 2 CPUs and taskset; this machine has $NCPU CPU(s)\"}]"
fi
mkdir -p "$BENCH/results"
cat >"$WORK/spec.json" <<EOF
{
  "revision": $(json_str "$(revision)"),
  "duration": "$DURATION", "warmup": "$WARMUP", "rounds": $ROUNDS,
  "conns": [$(echo $CONNS | tr ' ' ',')], "threads": $THREADS,
  "lua_dir": $(json_str "$BENCH/wrk"),
  "out": $(json_str "$BENCH/results/latest.md"),
  "raw": $(json_str "$BENCH/results/raw.tsv"),
  "groups": [
    {"name": "proxying",
     "baseline": {"name": "bare httputil.ReverseProxy", "url": "http://127.0.0.1:$P_RP$PATH_UNDER_TEST",
                  "pid": ${PID[revproxy]}, "headers": [$(json_str "Cookie: $COOKIE")], "expect": 200},
     "subjects": [
       {"name": "bare httputil.ReverseProxy + buffer pool (as gatehouse's)", "url": "http://127.0.0.1:$P_RPP$PATH_UNDER_TEST",
        "pid": ${PID[revproxy-pooled]}, "headers": [$(json_str "Cookie: $COOKIE")], "expect": 200},
       {"name": "gatehouse proxy, cookie session", "url": "http://127.0.0.1:$P_GHC$PATH_UNDER_TEST",
        "pid": ${PID[gh-cookie]}, "headers": [$(json_str "Cookie: $COOKIE")], "expect": 200,
        "goal": {"rps_min": 0.9, "p99_max": 1.2}},
       {"name": "gatehouse proxy, Redis session", "url": "http://127.0.0.1:$P_GHR$PATH_UNDER_TEST",
        "pid": ${PID[gh-redis]}, "peer_pid": ${PID[redis]}, "peer_name": "redis-server",
        "headers": [$(json_str "Cookie: $RCOOKIE")], "expect": 200, "goal": {"rps_min": 0.75}},
       {"name": "gatehouse proxy, Redis session, local cache off", "url": "http://127.0.0.1:$P_GHG$PATH_UNDER_TEST",
        "pid": ${PID[gh-redis-get]}, "peer_pid": ${PID[redis]}, "peer_name": "redis-server",
        "headers": [$(json_str "Cookie: $RCOOKIE")], "expect": 200},
       {"name": "gatehouse proxy, bearer JWT", "url": "http://127.0.0.1:$P_GHB$PATH_UNDER_TEST",
        "pid": ${PID[gh-bearer]}, "headers": [$(json_str "Authorization: Bearer $TOKEN")], "expect": 200}
     ]},
    {"name": "own answers",
     "baseline": {"name": "bare net/http 202", "url": "http://127.0.0.1:$P_ACC/oauth2/auth",
                  "pid": ${PID[accept]}, "headers": [$FA_HEADERS], "expect": 202},
     "subjects": [
       {"name": "gatehouse forward-auth, cookie session", "url": "http://127.0.0.1:$P_GHC/oauth2/auth",
        "pid": ${PID[gh-cookie]}, "headers": [$FA_HEADERS], "expect": 202, "goal": {"rps_min": 0.75}},
       {"name": "gatehouse anonymous → 302 to sign-in", "url": "http://127.0.0.1:$P_GHC$PATH_UNDER_TEST",
        "pid": ${PID[gh-cookie]}, "headers": [], "expect": 302}
     ]}
  ],
  "paced": {"group": "proxying", "conns": 16, "think_ms": $PACED_MS},
  "pinned": $PINNED,
  "skipped": $SKIPPED,
  "memory": {"name": "gatehouse proxy, cookie session (fresh instance)", "url": "http://127.0.0.1:$P_GHM$PATH_UNDER_TEST",
             "pid": ${PID[gh-mem]}, "warm_headers": [$(json_str "Cookie: $COOKIE")],
             "sessions": $(json_str "$WORK/sessions.txt"), "n": $MEM_N, "duration": "$MEM_DURATION",
             "conns": 16, "max_growth_mib": 20},
  "cookie": {"what": "the harness's local login: email and 5 groups", "bytes": $COOKIE_BYTES,
             "count": $COOKIE_COUNT, "budget": 1200},
  "notes": [
    "gatehouse logs at level ${BENCH_LOG_LEVEL:-info} (info: one JSON access line per request, as shipped) to stderr, read through a pipe; the baselines log nothing.",
    "Every target gets the same request: the bare proxy and the bare 202 handler receive the session cookie (and forward-auth headers) too; only the bearer mode sends an ES256 JWT (iss, aud, sub, email, 5 groups) instead of the cookie, the same token every time, as an API client reusing its access token does.",
    "The Redis row's notes give redis-server's own CPU per request, which the gatehouse column does not include.",
    "The upstream is a separate Go process (200, 100-byte body); it and wrk compete with the server under test for the same cores.",
    "The second proxying row is the bare proxy reusing its 32 KiB body copy buffers through a sync.Pool, as gatehouse does (ReverseProxy's default allocates one per request). It is not a target's baseline (issue 4 defines the bare proxy as tuned by its transport); it shows how much of gatehouse's ratio comes from that pool rather than from its authentication work."
  ]
}
EOF

# In the background so that a signal to this script is handled at once.
"$WORK/benchdrive" -spec "$WORK/spec.json" &
STARTED+=("$!")
wait "$!" || die "benchdrive failed"
if [ "$RECORD" = 1 ]; then
  cp "$BENCH/results/latest.md" "$BENCH/RESULTS.md"
  log "copied the report to bench/RESULTS.md"
fi
log "report: bench/results/latest.md"
