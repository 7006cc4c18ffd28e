#!/usr/bin/env bash
# Races (tests/races/races.mjs): concurrent refreshes of one token, concurrent child-token
# requests, concurrent session creation at the per-user limit (refuse and evict-oldest) and lock
# contention, (a) across four `portcullis serve` processes sharing PostgreSQL + Redis and (b) on
# the Worker on local workerd; then the SQL lock's own contention test on PostgreSQL.
#   bash scripts/race-test.sh          # CI form: 4 rounds of each race, 8 requests at once
#   bash scripts/race-test.sh 200      # long form (docs/RELIABILITY.md)
# RACE_CONCURRENCY, RACE_GRACE (refresh grace, s) and RACE_LIMIT (sessions per user) override
# the other figures; RACES_REPORT=<file> collects the per-race figures as JSON lines.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export RACE_ROUNDS=${1:-4}
export WRANGLER_SEND_METRICS=false CLOUDFLARE_CF_FETCH_ENABLED=false
# Generous per-file bound: the long form runs minutes; a hang still ends.
timeout_ms=$((600000 + RACE_ROUNDS * 30000))

echo "== races: build the component, the host and the Worker (test-hooks)"
cargo build --locked --release --target wasm32-wasip2 -p portcullis-component
cargo build --locked -p portcullis-host
bash scripts/worker-build.sh --test

echo "== races: four portcullis serve processes on PostgreSQL + Redis ($RACE_ROUNDS rounds)"
# Ports and state of their own, so this can run beside the other stages.
(
  export TEST_SERVICES_DIR=/tmp/portcullis-race-services TEST_PG_PORT=55461 TEST_REDIS_PORT=56411
  trap 'bash scripts/services.sh stop' EXIT
  eval "$(bash scripts/services.sh start)"
  node --test --test-timeout="$timeout_ms" tests/races/host.race.mjs
  echo "== races: the SQL lock contended by four processes (cargo test, PostgreSQL)"
  cargo test --locked -p portcullis-native --features networked-tests --test networked -- lock --nocapture
)

echo "== races: the Worker on local workerd ($RACE_ROUNDS rounds)"
node --test --test-timeout="$timeout_ms" tests/races/worker.race.mjs
