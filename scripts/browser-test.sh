#!/usr/bin/env bash
# The pages (www/) in Debian's Chromium driven by playwright-core: against the Worker on local
# workerd (started by the test), then against `portcullis serve --www www` (started here), or
# only against BASE_URL/BOOTSTRAP_TOKEN when given. Screenshots land in test-output/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if ! command -v chromium >/dev/null; then
  echo "browser-test: installing Debian's chromium"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
fi
bash scripts/web-build.sh
if [[ -n ${BASE_URL:-} ]]; then
  exec node --test --test-timeout=180000 www/tests/
fi

echo "== pages on the Worker (local workerd)"
bash scripts/worker-build.sh --test
node --test --test-timeout=180000 www/tests/

echo "== pages on portcullis serve"
cargo build --locked --release --target wasm32-wasip2 -p portcullis-component
cargo build --locked -p portcullis-host
data=$(mktemp -d)
port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
./target/debug/portcullis serve --data "$data" --listen "127.0.0.1:$port" --www www >"$data/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$data"' EXIT
# The first start compiles the component (longer on a debug host and a busy machine): wait up to
# 5 minutes, and stop with its log if it dies or never answers.
ready=
for _ in $(seq 1 1500); do
  if curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1; then ready=1; break; fi
  kill -0 $server 2>/dev/null || break
  sleep 0.2
done
if [[ -z $ready ]]; then
  echo "browser-test: portcullis serve did not come up:" >&2
  cat "$data/serve.log" >&2
  exit 1
fi
PAGES_TARGET=host BASE_URL="http://127.0.0.1:$port" BOOTSTRAP_TOKEN=$(./target/debug/portcullis bootstrap-token --data "$data") \
  node --test --test-timeout=180000 www/tests/
