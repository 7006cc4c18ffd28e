#!/usr/bin/env bash
# Builds the Worker bundle: crates/worker for wasm32-unknown-unknown, then wasm-bindgen.
#   scripts/worker-build.sh          -> target/worker-bundle/release (what `npm start` serves)
#   scripts/worker-build.sh --test   -> target/worker-bundle/test (with the test-hooks routes)
# worker-build is not used: it downloads wasm-bindgen, wasm-opt and esbuild from the network.
# wasm-bindgen comes from `cargo install` at exactly the version in Cargo.lock, and wasm-opt is
# skipped (it makes the gzipped bundle larger here: 430 KB against 350 KB with opt-level z).
set -euo pipefail
cd "$(dirname "$0")/.."

flavour=release features=()
if [[ ${1:-} == --test ]]; then
  flavour=test features=(--features test-hooks)
fi
out=target/worker-bundle/$flavour
export CARGO_TARGET_DIR=${PORTCULLIS_WORKER_TARGET_DIR:-$PWD/target/worker}

# wasm-bindgen's CLI at exactly the version in Cargo.lock, from scripts/tools.sh (installed once
# into .tools/ with `cargo install`, shared with the browser build); WASM_BINDGEN_BIN overrides.
bindgen=${WASM_BINDGEN_BIN:-$(bash scripts/tools.sh)}

start=$(date +%s)
echo "worker-build: cargo build ($flavour)"
# opt-level z for this build only: 6% smaller than the workspace's "s" after gzip. Wasm SIMD,
# which workerd's V8 runs: sha2 then hashes with its SIMD backend (bench/NOTES.md).
CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="-C target-feature=+simd128" \
  CARGO_PROFILE_RELEASE_OPT_LEVEL=z cargo build --locked --release --target wasm32-unknown-unknown \
  -p portcullis-worker "${features[@]}"

rm -rf "$out"
"$bindgen" --target module --out-dir "$out" --out-name index --no-typescript \
  --remove-name-section --remove-producers-section \
  --experimental-reset-state-function --force-enable-abort-handler \
  "$CARGO_TARGET_DIR/wasm32-unknown-unknown/release/portcullis_worker.wasm"
# wasm-bindgen emits a source-phase import; esbuild (inside wrangler) wants a plain one.
sed -i 's/^import source /import /' "$out/index.js"

wasm_raw=$(stat -c %s "$out/index_bg.wasm")
wasm_gz=$(gzip -9 -c "$out/index_bg.wasm" | wc -c)
# The glue, every JavaScript snippet it imports (inline ones and crates/js/js) and the shim.
js() { cat "$out/index.js" $(find "$out/snippets" -name '*.js' | sort) worker/shim.mjs; }
js_raw=$(js | wc -c)
js_gz=$(js | gzip -9 | wc -c)
total_gz=$((wasm_gz + js_gz))
printf 'worker-build: bundle %s: wasm %d KB (gzip %d KB), js %d KB (gzip %d KB); total gzip %d KB (limit 400 KB); %d s\n' \
  "$out" $((wasm_raw / 1024)) $((wasm_gz / 1024)) $((js_raw / 1024)) $((js_gz / 1024)) $((total_gz / 1024)) $(($(date +%s) - start))
if ((total_gz > 400 * 1024)); then
  echo "worker-build: the bundle is over 400 KB gzipped" >&2
  exit 1
fi
