#!/usr/bin/env bash
# Load and crash run (docs/RELIABILITY.md, "Load and crash"): builds the component and the
# `portcullis` binary, then runs tests/load/run.mjs against a real `portcullis serve` on SQLite in
# a fresh data directory: a seeded mix of requests, every answer checked against a model,
# `kill -9` of the server during the load, restart, every acknowledged write checked, audit clean.
#
#   bash scripts/load-test.sh                  # CI form: 10,000 requests, 64 in flight, 1 kill
#   bash scripts/load-test.sh long             # long form: 200,000 requests, 64 in flight, 4 kills
#   bash scripts/load-test.sh postgres         # CI form on PostgreSQL + Redis (loopback servers)
#   bash scripts/load-test.sh ci|long|postgres [extra run.mjs options, e.g. --seed 7]
#
# LOAD_PROFILE=release builds and runs the release binary (the default is debug, as the other
# host tests use, so CI shares its build).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

form=${1:-ci}
shift || true
profile=${LOAD_PROFILE:-debug}

echo "== component and host: cargo build"
start=$SECONDS
cargo build --locked --release --target wasm32-wasip2 -p portcullis-component
if [[ $profile == release ]]; then
  cargo build --locked --release -p portcullis-host
else
  cargo build --locked -p portcullis-host
fi
echo "built in $((SECONDS - start)) s"

target=${CARGO_TARGET_DIR:-target}
run=(node tests/load/run.mjs --bin "$target/$profile/portcullis"
  --component "$target/wasm32-wasip2/release/portcullis_component.wasm")

case $form in
  ci) "${run[@]}" --requests 10000 --concurrency 64 --kills 1 --max-seconds 240 "$@" ;;
  long) "${run[@]}" --requests 200000 --concurrency 64 --kills 4 --max-seconds 3600 "$@" ;;
  postgres)
    # Ports and state of their own, so this can run beside the other test stages.
    export TEST_SERVICES_DIR=/tmp/portcullis-load-services TEST_PG_PORT=55451 TEST_REDIS_PORT=56401
    trap 'bash scripts/services.sh stop' EXIT
    eval "$(bash scripts/services.sh start)"
    "${run[@]}" --requests 10000 --concurrency 64 --kills 1 --max-seconds 240 "$@"
    ;;
  *)
    echo "usage: bash scripts/load-test.sh [ci|long|postgres] [run.mjs options]" >&2
    exit 2
    ;;
esac
