#!/usr/bin/env bash
# Runs every test of the project (`npm test`). CI runs exactly this through .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

echo "== formatting: cargo fmt --check (rustfmt.toml)"
cargo fmt --all --check
cargo fmt --all --check --manifest-path fuzz/Cargo.toml

echo "== core, sessions, JWT and native backends: cargo test"
# The host's tests run in scripts/host-test.sh below, with its Node suite and PostgreSQL + Redis.
cargo test --workspace --locked --exclude portcullis-host --exclude portcullis-embed-example

echo "== the core builds for every host"
cargo build --locked -p portcullis --target wasm32-unknown-unknown
cargo build --locked -p portcullis --target wasm32-wasip2

echo "== PostgreSQL + Redis backends (servers started on loopback, stopped on exit)"
# In a subshell, so the servers' URLs (TEST_POSTGRES_URL, TEST_REDIS_URL) do not reach the later
# stages: the host's SQLite pass must not pick them up.
(
  trap 'bash scripts/services.sh stop' EXIT
  eval "$(bash scripts/services.sh start)"
  cargo test --locked -p portcullis-native --features networked-tests --test networked
  # The fault-injection property test of tests/faults.rs, on PostgreSQL + Redis.
  cargo test --locked -p portcullis-native --features networked-tests --test faults
)

echo "== the component on the wasmtime host (HTTP suite on SQLite, on PostgreSQL + Redis, two processes)"
bash scripts/host-test.sh

echo "== load and crash: 10,000 requests, 64 in flight, kill -9 and restart (the long form: docs/RELIABILITY.md)"
bash scripts/load-test.sh

echo "== Worker on local workerd (the shared HTTP suite and the Worker's own tests)"
bash scripts/worker-test.sh

echo "== races: four portcullis serve on PostgreSQL + Redis, the Worker, the SQL lock (bounded; long form: docs/RELIABILITY.md)"
bash scripts/race-test.sh

echo "== the pages in Chromium (browser package, inspector, token manager)"
bash scripts/browser-test.sh

echo "== fuzzing, bounded: 15 s per target (the long form: docs/RELIABILITY.md)"
bash scripts/fuzz.sh 15

echo "== OpenAPI document and schemathesis against portcullis serve, bounded (the long form: docs/RELIABILITY.md)"
bash scripts/schemathesis.sh

echo "== JWT vectors through WebCrypto and through pure Rust, in Node and in Chromium (node --test)"
# The bench binding (crates/bench) carries the vectors' runner; built for Node and for the web,
# with wasm SIMD as scripts/bench.sh builds it.
CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="-C target-feature=+simd128" \
  cargo build --locked --release -p portcullis-bench --lib --target wasm32-unknown-unknown
bindgen=$(bash scripts/tools.sh)
for target in nodejs web; do
  "$bindgen" --target "$target" --out-dir "target/webcrypto-test/$([[ $target == web ]] && echo web || echo node)-pkg" \
    --out-name portcullis_bench target/wasm32-unknown-unknown/release/portcullis_bench.wasm
done
node --test tests/webcrypto/

echo "== JWT interop with jose (node --test)"
cargo build --locked -p portcullis-jwt-cli
node --test tests/interop/
