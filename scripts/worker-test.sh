#!/usr/bin/env bash
# The Worker's tests: the adapter's unit tests (cargo), then the test build (with the test-hooks
# routes) on local workerd through wrangler dev, on free loopback ports with fresh local KV and
# D1 state per test file: the shared HTTP suite (tests/http/suite.mjs) and the Worker-specific
# tests (tests/worker/*.test.mjs). Nothing contacts Cloudflare.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export WRANGLER_SEND_METRICS=false CLOUDFLARE_CF_FETCH_ENABLED=false

# Natively, in the workspace's target dir: after `cargo test --workspace` this is a no-op build.
echo "== worker: adapter unit tests, migrations in sync (cargo test)"
cargo test --locked -p portcullis-worker

echo "== worker: build (test-hooks)"
bash scripts/worker-build.sh --test

echo "== worker: HTTP suite and Worker tests on local workerd (node --test)"
# One file at a time: each starts its own workerd. Bounded: 5 minutes for all of them.
node --test --test-concurrency=1 --test-timeout=300000 tests/worker/
