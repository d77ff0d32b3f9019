#!/usr/bin/env bash
# Installs (from Debian packages, when missing: PostgreSQL, Redis, HAProxy, Chromium + ChromeDriver) and starts
# the services the test suite talks to,
# on loopback, with throwaway data directories under $SVC_DIR. Prints the environment to export.
#   .ci/services.sh start   -> starts PostgreSQL and Redis, writes $SVC_DIR/env
#   .ci/services.sh stop    -> stops them
set -euo pipefail
SVC_DIR=${SVC_DIR:-/tmp/tessera-svc}
PG_PORT=${PG_PORT:-55432}
REDIS_PORT=${REDIS_PORT:-56379}

need_pkgs=()
command -v redis-server >/dev/null 2>&1 || need_pkgs+=(redis-server)
command -v haproxy >/dev/null 2>&1 || need_pkgs+=(haproxy)
command -v chromium >/dev/null 2>&1 || need_pkgs+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need_pkgs+=(chromium-driver)
command -v curl >/dev/null 2>&1 || need_pkgs+=(curl)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_pkgs+=(postgresql)

install() {
  if [ ${#need_pkgs[@]} -gt 0 ]; then
    echo "installing: ${need_pkgs[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
  fi
}

pg_bin() { ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1; }

start() {
  install
  mkdir -p "$SVC_DIR"
  chmod 755 "$SVC_DIR"
  # PostgreSQL refuses to run as root: run it as the postgres user with its own dirs and port.
  local bin; bin=$(pg_bin)
  local pgdata="$SVC_DIR/pg"
  if [ ! -f "$pgdata/PG_VERSION" ]; then
    rm -rf "$pgdata"; mkdir -p "$pgdata"; chown postgres:postgres "$pgdata"
    runuser -u postgres -- "$bin/initdb" -D "$pgdata" -U postgres --auth=trust -E UTF8 >/dev/null
  fi
  mkdir -p "$SVC_DIR/pgsock"; chown postgres:postgres "$SVC_DIR/pgsock"
  touch "$SVC_DIR/pg.log"; chown postgres:postgres "$SVC_DIR/pg.log"
  if ! runuser -u postgres -- "$bin/pg_ctl" -D "$pgdata" status >/dev/null 2>&1 && ! "$bin/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; then
    touch "$SVC_DIR/pg.ours"
    runuser -u postgres -- "$bin/pg_ctl" -D "$pgdata" -l "$SVC_DIR/pg.log" -w -t 60 \
      -o "-p $PG_PORT -k $SVC_DIR/pgsock -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=400" start >/dev/null
  fi
  if ! redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then
    touch "$SVC_DIR/redis.ours"
    redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no \
      --dir "$SVC_DIR" --pidfile "$SVC_DIR/redis.pid" --logfile "$SVC_DIR/redis.log"
  fi
  for _ in $(seq 1 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
  cat > "$SVC_DIR/env" <<ENV
export TESSERA_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:$PG_PORT/postgres
export TESSERA_TEST_REDIS_URL=redis://127.0.0.1:$REDIS_PORT/
ENV
  echo "services up; source $SVC_DIR/env"
}

stop() {
  local bin; bin=$(pg_bin 2>/dev/null || true)
  # Stop only what this directory's `start` started (a developer's running services are left alone).
  [ -n "$bin" ] && [ -f "$SVC_DIR/pg.ours" ] && rm -f "$SVC_DIR/pg.ours" && runuser -u postgres -- "$bin/pg_ctl" -D "$SVC_DIR/pg" -m fast stop >/dev/null 2>&1 || true
  if [ -f "$SVC_DIR/redis.ours" ]; then
    rm -f "$SVC_DIR/redis.ours"
    redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
  fi
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
