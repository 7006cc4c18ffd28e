#!/usr/bin/env bash
# Starts (or stops) a throwaway PostgreSQL and Redis on loopback ports for the tests:
#   eval "$(bash scripts/services.sh start)"   # exports TEST_POSTGRES_URL and TEST_REDIS_URL
#   bash scripts/services.sh stop
# Installs the Debian packages when missing. State lives in a temp dir removed on stop.
set -euo pipefail
STATE=${TEST_SERVICES_DIR:-/tmp/portcullis-services}
PG_PORT=${TEST_PG_PORT:-55432}
REDIS_PORT=${TEST_REDIS_PORT:-56379}

pg_bin() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [[ -n "$dir" ]] && echo "$dir"
}

install_missing() {
  local need=()
  [[ -n "$(pg_bin)" ]] || need+=(postgresql)
  command -v redis-server >/dev/null || need+=(redis-server)
  if ((${#need[@]})); then
    echo "services: installing ${need[*]}" >&2
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >&2
  fi
}

as_postgres() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start() {
  install_missing
  stop >/dev/null 2>&1 || true
  mkdir -p "$STATE"
  local bin; bin=$(pg_bin)
  mkdir -p "$STATE/pg"
  [[ $(id -u) -eq 0 ]] && chown -R postgres "$STATE/pg"
  as_postgres "$bin/initdb" -D "$STATE/pg/data" -U postgres --auth=trust -E UTF8 >/dev/null
  as_postgres "$bin/pg_ctl" -D "$STATE/pg/data" -l "$STATE/pg/log" -w -t 60 \
    -o "-p $PG_PORT -k $STATE/pg -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
  as_postgres "$bin/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres portcullis
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
    --daemonize yes --pidfile "$STATE/redis.pid" --logfile "$STATE/redis.log"
  for _ in $(seq 1 50); do
    redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break
    sleep 0.1
  done
  echo "export TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:$PG_PORT/portcullis"
  echo "export TEST_REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0"
}

stop() {
  local bin; bin=$(pg_bin || true)
  if [[ -n "$bin" && -d "$STATE/pg/data" ]]; then
    as_postgres "$bin/pg_ctl" -D "$STATE/pg/data" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
  fi
  if [[ -f "$STATE/redis.pid" ]]; then
    kill "$(cat "$STATE/redis.pid")" 2>/dev/null || true
  fi
  rm -rf "$STATE"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
