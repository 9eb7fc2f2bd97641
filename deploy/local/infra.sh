#!/usr/bin/env bash
# make infra: the local infrastructure on 127.0.0.1, idempotent. A server already answering on its
# port is used as it is; a missing one is installed through apt (PostgreSQL, Redis, Java and Maven),
# resolved from Maven Central (Apache Kafka) or built from the Go module proxy (everything else) and
# started with its data under .data/ (ignored by git).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
DATA=$ROOT/.data
CACHE=${ACME_CACHE:-$HOME/.cache/acme-platform}
mkdir -p "$DATA/infra" "$DATA/dapr" "$DATA/secrets" "$CACHE/bin"

log() { printf 'infra: %s\n' "$*"; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() {
  for _ in $(seq 1 150); do port_open "$1" && return 0; sleep 0.2; done
  log "nothing answers on 127.0.0.1:$1"; return 1
}
apt_install() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing ${missing[*]} with apt"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

go_bin() { deploy/local/gobin.sh "$1"; }

# start NAME PORT CMD...: starts CMD in the background (its own session, so it outlives make) unless
# something already answers on PORT; its pid and log go to .data/infra.
start() {
  local name=$1 port=$2; shift 2
  if port_open "$port"; then log "$name: 127.0.0.1:$port answers, using it"; return 0; fi
  log "$name: starting on 127.0.0.1:$port"
  setsid nohup "$@" >"$DATA/infra/$name.log" 2>&1 </dev/null &
  echo $! >"$DATA/infra/$name.pid"
  wait_port "$port" || { tail -20 "$DATA/infra/$name.log"; return 1; }
}

postgres() {
  port_open 5432 && { log "postgres: 127.0.0.1:5432 answers, using it"; return 0; }
  apt_install postgresql
  local ver; ver=$(ls /etc/postgresql | sort -V | tail -1)
  local conf=/etc/postgresql/$ver/main
  # Loopback only, and trust for local connections: a development server with no password to leak.
  sed -i "s/^#\?listen_addresses.*/listen_addresses = '127.0.0.1'/" "$conf/postgresql.conf"
  grep -q '^host all all 127.0.0.1/32 trust' "$conf/pg_hba.conf" ||
    sed -i '1i host all all 127.0.0.1/32 trust' "$conf/pg_hba.conf"
  log "postgres: starting cluster $ver/main"
  pg_ctlcluster --skip-systemctl-redirect "$ver" main start
  wait_port 5432
}

redis() {
  port_open 6379 && { log "redis: 127.0.0.1:6379 answers, using it"; return 0; }
  apt_install redis-server
  start redis 6379 redis-server --bind 127.0.0.1 --port 6379 --save "" --appendonly no --dir "$DATA/infra" --daemonize no
}

# ClamAV's daemon from Debian, with the repository's test signature (no freshclam here: no internet);
# clamd runs in the foreground of its own session, on 127.0.0.1:3310.
clamav() {
  port_open 3310 && { log "clamav: 127.0.0.1:3310 answers, using it"; return 0; }
  apt_install clamav-daemon
  mkdir -p "$DATA/infra/clamav/db"
  cp deploy/local/clamav/acme-test.ndb "$DATA/infra/clamav/db/"
  printf '%s\n' "TCPSocket 3310" "TCPAddr 127.0.0.1" "DatabaseDirectory $DATA/infra/clamav/db" "Foreground yes" \
    "LogFile $DATA/infra/clamav/clamd.log" "PidFile $DATA/infra/clamav/clamd.pid" \
    "StreamMaxLength 200M" "MaxFileSize 200M" "MaxScanSize 200M" >"$DATA/infra/clamav/clamd.conf"
  start clamav 3310 clamd -c "$DATA/infra/clamav/clamd.conf"
}

# Java runs the Java servers (Kafka; OpenSearch in the tests, whose small launcher javac compiles);
# Maven resolves their jars from Maven Central.
java_tools() {
  command -v javac >/dev/null || apt_install openjdk-17-jdk-headless
  command -v mvn >/dev/null || apt_install maven
}

# Prometheus from Debian: promtool checks and unit-tests the alert rules in make test. Debian's
# package enables a service listening on every interface; it is stopped and disabled where systemd
# started it (the platform's own Prometheus, when one runs, binds 127.0.0.1).
prometheus_tools() {
  command -v promtool >/dev/null && return 0
  apt_install prometheus
  if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    systemctl disable --now prometheus >/dev/null 2>&1 || true
  elif [ -x /etc/init.d/prometheus ]; then
    /etc/init.d/prometheus stop >/dev/null 2>&1 || true
  fi
}

postgres
redis
clamav
java_tools
prometheus_tools
#     name   port  command
start kafka  9092  "$(go_bin ./deploy/local/cmd/kafka)" -port 9092 -controller-port 9093 -data "$DATA/kafka" \
                   -classpath "$(deploy/local/java.sh kafka)"
mkdir -p "$DATA/infra/s3/acme-audit-archive" "$DATA/infra/s3/acme-files" # a versitygw posix bucket is a folder
start s3     7070  env ROOT_ACCESS_KEY_ID=acme-local-dev ROOT_SECRET_ACCESS_KEY=acme-local-dev-secret \
                   "$(go_bin github.com/versity/versitygw/cmd/versitygw@v1.8.0)" --port 127.0.0.1:7070 posix "$DATA/infra/s3"
start mail   1025  "$(go_bin github.com/axllent/mailpit@v1.27.11)" --smtp 127.0.0.1:1025 --listen 127.0.0.1:8025 --disable-version-check --smtp-disable-rdns
start stripe 12111 "$(go_bin github.com/stripe/stripe-mock@v0.203.0)" -http-addr 127.0.0.1:12111 -https-addr 127.0.0.1:12112
go run ./deploy/local/cmd/devsetup -secrets "$DATA/secrets/secrets.json" -databases acme_users,acme_projects,acme_audit,acme_billing,acme_files
log "ready: postgres 127.0.0.1:5432, redis 127.0.0.1:6379, kafka 127.0.0.1:9092, s3 127.0.0.1:7070, mail smtp 127.0.0.1:1025 ui 127.0.0.1:8025, stripe-mock 127.0.0.1:12111, clamd 127.0.0.1:3310"
