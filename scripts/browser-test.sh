#!/usr/bin/env bash
# The pages in Debian's Chromium (playwright-core), against the real `portcullis serve` on a
# loopback port with a throwaway data directory. Screenshots land in test-output/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if ! command -v chromium >/dev/null; then
  echo "browser-test: installing Debian's chromium"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
fi
bash scripts/web-build.sh
cargo build --locked --release --target wasm32-wasip2 -p portcullis-component
cargo build --locked -p portcullis-host

data=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
PORTCULLIS_KNOWN_SCOPES=read:all ./target/debug/portcullis serve --data "$data" --listen "127.0.0.1:$port" --www www \
  >"$data/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$port/health" >/dev/null && break
  sleep 0.2
done
export BASE_URL="http://127.0.0.1:$port"
BOOTSTRAP_TOKEN=$(./target/debug/portcullis bootstrap-token --data "$data")
export BOOTSTRAP_TOKEN
node --test --test-timeout=120000 www/tests/
