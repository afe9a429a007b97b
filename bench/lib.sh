# bench/lib.sh: helpers shared by bench/run.sh and bench/profile.sh (sourced,
# not run). Every process started with `start` is stopped by `stop_all`, which
# the caller installs as its EXIT trap. Everything listens on 127.0.0.1.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BENCH="$ROOT/bench"

declare -A PID=()
STARTED=()

log() { echo "bench: $*" >&2; }
die() { echo "bench: $*" >&2; exit 1; }

need_tools() {
  local missing=()
  for t in wrk redis-server curl go; do
    command -v "$t" >/dev/null || missing+=("$t")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    die "missing ${missing[*]}: run scripts/peers.sh (it installs wrk and redis-server from Debian)"
  fi
}

# new_workdir makes the scratch directory (configs, secret, minted sessions,
# binaries, logs); it is removed by stop_all.
new_workdir() {
  WORK="$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-bench.XXXXXX")"
  chmod 700 "$WORK"
}

# stop_all stops every process this script started (by PID), waits for
# them, and removes the scratch directory. Installed as the EXIT trap.
stop_all() {
  local p
  for p in "${STARTED[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${STARTED[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ -n "${WORK:-}" ] && [ -d "$WORK" ]; then
    if [ "${BENCH_KEEP_WORK:-}" != "" ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
  fi
}

# start NAME CMD ARGS…: runs CMD in the background. stdout is discarded;
# stderr keeps only its last 256 KiB in $WORK/NAME.log (gatehouse writes one
# access line per request to stderr, as in production, through a pipe).
start() {
  local name=$1
  shift
  "$@" >/dev/null 2> >(tail -c 262144 >"$WORK/$name.log") &
  PID[$name]=$!
  STARTED+=("$!")
}

# stop NAME: stops one process started with start.
stop() {
  local p=${PID[$1]}
  kill "$p" 2>/dev/null || true
  wait "$p" 2>/dev/null || true
}

# wait_http NAME URL [STATUS]: waits up to 15 s for URL to answer (STATUS,
# default any), failing early with NAME's log if the process exits.
wait_http() {
  local name=$1 url=$2 want=${3:-} code deadline=$((SECONDS + 15))
  while [ "$SECONDS" -lt "$deadline" ]; do
    if ! kill -0 "${PID[$name]}" 2>/dev/null; then
      sleep 0.2
      die "$name exited during start-up; its log:
$(cat "$WORK/$name.log" 2>/dev/null)"
    fi
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$url" || true)
    if [ "$code" != "000" ] && { [ -z "$want" ] || [ "$code" = "$want" ]; }; then
      return 0
    fi
    sleep 0.1
  done
  die "$name did not answer $url within 15 s (last status $code); its log:
$(tail -c 4000 "$WORK/$name.log" 2>/dev/null)"
}

# start_redis PORT: a throwaway redis-server, no persistence.
start_redis() {
  start redis redis-server --port "$1" --bind 127.0.0.1 --save "" --appendonly no --protected-mode yes
  local deadline=$((SECONDS + 15))
  until redis_ping "$1"; do
    kill -0 "${PID[redis]}" 2>/dev/null || die "redis-server exited: $(cat "$WORK/redis.log")"
    [ "$SECONDS" -lt "$deadline" ] || die "redis-server did not answer PING within 15 s"
    sleep 0.1
  done
}

redis_ping() {
  # RESP inline PING over bash's /dev/tcp; no redis-cli needed.
  local reply
  { exec 9<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null || return 1
  printf 'PING\r\n' >&9
  read -r -t 2 reply <&9 || true
  exec 9<&- 9>&-
  [[ "$reply" == +PONG* ]]
}

# build_all builds gatehouse and the harness's helpers into $WORK.
build_all() {
  log "building gatehouse and the harness helpers"
  (cd "$ROOT" && go build -o "$WORK/gatehouse" ./cmd/gatehouse) || die "go build ./cmd/gatehouse failed"
  (cd "$ROOT" && go build -o "$WORK/" ./bench/cmd/...) || die "go build ./bench/cmd/... failed"
}

# write_users: the local user "bench" with five groups and a random password
# ($PASSWORD), hashed with `gatehouse hash-password`.
write_users() {
  PASSWORD="$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"
  local hash
  hash="$(printf '%s' "$PASSWORD" | "$WORK/gatehouse" hash-password)" || die "gatehouse hash-password failed"
  cat >"$WORK/users.yaml" <<EOF
users:
  - username: bench
    email: bench.user@example.com
    groups: [engineering, platform-team, oncall, k8s-admins, vpn-users]
    password: "$hash"
EOF
  SECRET="$(head -c 36 /dev/urandom | base64 | tr -d '\n')"
}

# write_config FILE PORT STORE UPSTREAM_PORT REDIS_PORT [ISSUER_PORT]: a
# gatehouse config protecting everything, in front of the bench upstream;
# with ISSUER_PORT it also accepts bearer JWTs from `benchpeer issuer` there.
write_config() {
  local file=$1 port=$2 store=$3 up=$4 redis=$5 issuer=${6:-}
  cat >"$file" <<EOF
server:
  listen: 127.0.0.1:$port
  public_url: http://127.0.0.1:$port
  trusted_proxies: [127.0.0.1/32]
session:
  store: $store
  secrets: ["$SECRET"]
  cookie: {secure: false}
  redis: {url: "redis://127.0.0.1:$redis/0"}
providers:
  - {id: local, type: local, users_file: users.yaml, totp: "off"}
upstreams:
  - {path: /, url: "http://127.0.0.1:$up"}
rules:
  - {name: everyone, prefix: /, allow: authenticated}
default: deny
log: {level: ${BENCH_LOG_LEVEL:-info}, format: json}
EOF
  if [ -n "$issuer" ]; then
    cat >>"$file" <<EOF
bearer:
  issuers:
    - {issuer: "http://127.0.0.1:$issuer", audiences: [gatehouse-bench], jwks_url: "http://127.0.0.1:$issuer/jwks.json", algorithms: [ES256]}
EOF
  fi
  chmod 600 "$file"
  "$WORK/gatehouse" check --config "$file" >&2 || die "gatehouse check rejected $file"
}

# login BASE_URL: signs in as bench over HTTP, the way a browser does, and
# prints the session's Cookie header value (chunks joined with "; ").
login() {
  local base=$1 jar="$WORK/jar.$RANDOM" page csrf code
  page="$(curl -sS -c "$jar" "$base/oauth2/sign_in")" || die "GET $base/oauth2/sign_in failed"
  csrf="$(sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' <<<"$page" | head -n 1)"
  [ -n "$csrf" ] || die "no csrf field on $base/oauth2/sign_in"
  code="$(curl -sS -b "$jar" -c "$jar" -o /dev/null -w '%{http_code}' -H "Origin: $base" \
    --data-urlencode username=bench --data-urlencode "password=$PASSWORD" \
    --data-urlencode "csrf=$csrf" --data-urlencode rd=/ "$base/oauth2/sign_in")"
  [ "$code" = 303 ] || die "local login at $base answered $code, want 303"
  # Netscape jar: field 6 is the name, 7 the value (HttpOnly lines start #HttpOnly_).
  awk -F '\t' '$6 ~ /^_gatehouse(_[0-9]+)?$/ { printf "%s%s=%s", sep, $6, $7; sep = "; " }' "$jar"
  rm -f "$jar"
}

# json_str S: S as a JSON string (the values here never hold control characters).
json_str() {
  local s=${1//\\/\\\\}
  printf '"%s"' "${s//\"/\\\"}"
}
