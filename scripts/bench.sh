#!/usr/bin/env bash
# `npm run bench`: builds what the benchmarks need (into target/bench, apart from the other
# builds), runs every benchmark, and writes bench/RESULTS.md. Not part of `npm test`.
#   PORTCULLIS_BENCH_SECONDS       seconds per JWT measurement (default 2)
#   PORTCULLIS_BENCH_HTTP_SECONDS  seconds per wrk run (default 10)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export CARGO_TARGET_DIR=${PORTCULLIS_BENCH_TARGET_DIR:-$PWD/target/bench}
t=$CARGO_TARGET_DIR
bindgen=$(bash scripts/tools.sh)
results=$t/results.jsonl
mkdir -p "$t"
# The run's own line: the tree measured and when, which report.mjs quotes however much later it runs.
printf '{"bench":"run","commit":"%s","started":"%s"}\n' "$(git rev-parse --short HEAD)$(git diff --quiet HEAD || echo '+changes')" \
  "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$results"
command -v wrk >/dev/null || { echo "bench: installing wrk"; apt-get install -y wrk >/dev/null || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }; }

echo "== build: browser package, bench wasm binding, Worker bundle, component, host, bench binaries"
# The browser package exactly as scripts/web-build.sh builds it (opt-level z), into $t/web-pkg.
CARGO_PROFILE_RELEASE_OPT_LEVEL=z cargo build --locked --release -p portcullis-web --target wasm32-unknown-unknown
rm -rf "$t/web-pkg"
"$bindgen" --target web --out-dir "$t/web-pkg" --out-name portcullis_web --remove-name-section --remove-producers-section \
  "$t/wasm32-unknown-unknown/release/portcullis_web.wasm"
# The Worker bundle exactly as scripts/worker-build.sh builds it, into $t/worker-bundle.
CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="-C target-feature=+simd128" \
  CARGO_PROFILE_RELEASE_OPT_LEVEL=z cargo build --locked --release -p portcullis-worker --target wasm32-unknown-unknown
rm -rf "$t/worker-bundle"
"$bindgen" --target module --out-dir "$t/worker-bundle" --out-name index --no-typescript \
  --remove-name-section --remove-producers-section --experimental-reset-state-function --force-enable-abort-handler \
  "$t/wasm32-unknown-unknown/release/portcullis_worker.wasm"
sed -i 's/^import source /import /' "$t/worker-bundle/index.js"
# The bench binding, built for speed like the component (the release profile's opt-level 3; the
# Worker and the browser package are built at "z", for size): the core as a Node service would
# build it. Built at "s" it checks HS256 ~35% slower (bench/NOTES.md). With wasm SIMD, as the
# Worker: every runtime it is measured in is V8 (the browser package alone is built without).
CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="-C target-feature=+simd128" \
  cargo build --locked --release -p portcullis-bench --lib --target wasm32-unknown-unknown
"$bindgen" --target nodejs --out-dir "$t/node-pkg" --out-name portcullis_bench "$t/wasm32-unknown-unknown/release/portcullis_bench.wasm"
"$bindgen" --target web --out-dir "$t/web-bench-pkg" --out-name portcullis_bench "$t/wasm32-unknown-unknown/release/portcullis_bench.wasm"
cargo build --locked --release --target wasm32-wasip2 -p portcullis-component
# The host as `npm start` builds it (profile `host`: opt-level 3, no LTO). Separately from the
# bench binaries: built together, feature unification would rebuild wasmtime.
cargo build --locked --profile host -p portcullis-host --bin portcullis --example instantiate
cargo build --locked --release -p portcullis-bench --bins
# The JWT cases as a wasm32-wasip2 command, and the runner that runs it on the host's wasmtime.
cargo build --locked --release --target wasm32-wasip2 -p portcullis-bench-wasmtime
cargo build --locked --profile host -p portcullis-host --example run-command

echo "== sizes"
gz() { cat "$@" | gzip -9 | wc -c; }
w=$t/worker-bundle
# JavaScript counts the glue and every snippet it imports (inline ones and crates/js/js).
snippets() { find "$1/snippets" -name '*.js' | sort; }
printf '{"bench":"size","what":"Worker bundle (wasm + JS + shim)","raw":%d,"gzip":%d,"budget":%d}\n' \
  "$(cat "$w/index_bg.wasm" "$w/index.js" $(snippets "$w") worker/shim.mjs | wc -c)" \
  "$(($(gz "$w/index_bg.wasm") + $(gz "$w/index.js" $(snippets "$w") worker/shim.mjs)))" $((400 * 1024)) >>"$results"
printf '{"bench":"size","what":"browser package (wasm + glue and snippet JS)","raw":%d,"gzip":%d,"budget":%d}\n' \
  "$(cat "$t/web-pkg/portcullis_web_bg.wasm" "$t/web-pkg/portcullis_web.js" $(snippets "$t/web-pkg") | wc -c)" \
  "$(($(gz "$t/web-pkg/portcullis_web_bg.wasm") + $(gz "$t/web-pkg/portcullis_web.js" $(snippets "$t/web-pkg"))))" $((200 * 1024)) >>"$results"
c=$t/wasm32-wasip2/release/portcullis_component.wasm
printf '{"bench":"size","what":"component (wasm32-wasip2)","raw":%d,"gzip":%d,"budget":null}\n' "$(wc -c <"$c")" "$(gz "$c")" >>"$results"
tail -n 3 "$results"

echo "== start-up on wasmtime: compile, load compiled, instantiate (on-demand and pooling), first request"
"$t/host/examples/instantiate" "$c" 200 | tee -a "$results"

echo "== start-up on workerd: ready, first request, warm request (ours and a bare Worker)"
node --no-warnings bench/worker-start.mjs "$t/worker-bundle" | tee -a "$results"

echo "== JWT validation in Node/V8: ours (wasm) vs jose"
node --no-warnings bench/jwt-node.mjs "$t/node-pkg" "$t/web-pkg" | tee -a "$results"

echo "== JWT validation in workerd and in Chromium: ours (wasm) vs jose in the same runtime"
node --no-warnings bench/jwt-workerd.mjs "$t/web-bench-pkg" | tee -a "$results"
node --no-warnings bench/jwt-chromium.mjs "$t/web-bench-pkg" | tee -a "$results"

echo "== JWT validation native and in wasmtime: ours vs jwt-compact"
cargo bench --locked -p portcullis-bench --bench jwt 2>/dev/null | grep '^{' | tee -a "$results"
"$t/host/examples/run-command" "$t/wasm32-wasip2/release/jwt-wasmtime.wasm" | tee -a "$results"

echo "== /auth: portcullis serve (embedded default, and PostgreSQL + Redis) vs bare hyper, wrk"
# Loopback PostgreSQL and Redis of their own (scripts/services.sh), stopped when this stage ends.
(
  export TEST_SERVICES_DIR=/tmp/portcullis-bench-services TEST_PG_PORT=55434 TEST_REDIS_PORT=56381
  trap 'bash scripts/services.sh stop' EXIT
  eval "$(bash scripts/services.sh start)"
  node bench/http.mjs "$t" | tee -a "$results"
)

echo "== scale: 1,000 vs 1,000,000 stored tokens, /auth on portcullis serve and the core API"
# Data directories of `portcullis serve`; filling is bounded by PORTCULLIS_BENCH_FILL_SECONDS
# (default here 600), and the count reached is reported.
rm -rf "$t/scale" && mkdir -p "$t/scale"
for n in 1000 1000000; do
  PORTCULLIS_BENCH_FILL_SECONDS=${PORTCULLIS_BENCH_FILL_SECONDS:-600} "$t/release/scale" fill "$t/scale/tokens-$n" "$n" | tee -a "$results"
done
node bench/scale-http.mjs "$t" "$t/scale/tokens-1000" "$t/scale/tokens-1000000" | tee -a "$results"
rm -rf "$t/scale"
"$t/release/scale" ops | tee -a "$results"

echo "== /auth: the Worker on local workerd vs a bare Worker and a workers-oauth-provider Worker, wrk"
# The provider Worker's dependency (pinned in bench/oauth-worker/package-lock.json), apart from the project's.
[[ -d bench/oauth-worker/node_modules/@cloudflare/workers-oauth-provider ]] ||
  npm ci --prefix bench/oauth-worker --ignore-scripts --no-audit --no-fund
if [[ -f target/worker-bundle/test/index.js ]] || bash scripts/worker-build.sh --test; then
  node bench/worker.mjs "$t/worker-bundle" | tee -a "$results"
fi

node bench/report.mjs "$results" >bench/RESULTS.md
node bench/plot.mjs "$results" bench/throughput.svg
echo "bench: wrote bench/RESULTS.md and bench/throughput.svg"
