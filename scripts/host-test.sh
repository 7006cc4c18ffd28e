#!/usr/bin/env bash
# The component under the wasmtime host: builds the component (release, wasm32-wasip2) and the
# `portcullis` binary, then runs against the real `portcullis serve`: the host's Rust HTTP tests
# and the embedding example (also part of `cargo test --workspace`), the shared node HTTP suite
# on SQLite, and on PostgreSQL + Redis the suite again plus two processes sharing state.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

echo "== component: cargo build --release --target wasm32-wasip2"
start=$SECONDS
cargo build --locked --release --target wasm32-wasip2 -p portcullis-component
wasm=target/wasm32-wasip2/release/portcullis_component.wasm
echo "component: $(wc -c <"$wasm") bytes, built in $((SECONDS - start)) s"

echo "== host and embedding example: cargo build"
start=$SECONDS
cargo build --locked -p portcullis-host -p portcullis-embed-example
echo "host built in $((SECONDS - start)) s"

echo "== HTTP suite on portcullis serve, embedding example"
cargo test --locked -p portcullis-host -p portcullis-embed-example -- --nocapture 2>&1 \
  | grep -v -E '^(GET|POST|PATCH|DELETE|PUT) /.* [0-9]{3} [0-9.]+ms' || true
test "${PIPESTATUS[0]}" -eq 0

echo "== the shared HTTP suite (tests/http/suite.mjs) on portcullis serve, SQLite"
node --test --test-timeout=300000 crates/host/tests/node/

echo "== PostgreSQL + Redis (loopback servers, stopped on exit): shared HTTP suite, two serve processes"
# Ports and state of their own, so this can run beside scripts/test.sh.
export TEST_SERVICES_DIR=/tmp/portcullis-host-services TEST_PG_PORT=55433 TEST_REDIS_PORT=56380
trap 'bash scripts/services.sh stop' EXIT
eval "$(bash scripts/services.sh start)"
node --test --test-timeout=300000 crates/host/tests/node/
cargo test --locked -p portcullis-host --features networked-tests --test shared
