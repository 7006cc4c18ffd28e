#!/usr/bin/env bash
# Idempotent set-up shared by `npm start` and `npm test`: the Rust targets the hosts build for
# and the npm packages of the tests. Quick when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

need_targets=()
installed=$(rustup target list --installed)
for target in wasm32-unknown-unknown wasm32-wasip2; do
  grep -qx "$target" <<<"$installed" || need_targets+=("$target")
done
if ((${#need_targets[@]})); then
  echo "setup: adding Rust targets ${need_targets[*]}"
  rustup target add "${need_targets[@]}"
fi

# rustfmt for the formatting check of `npm test` (a minimal rustup profile leaves it out).
cargo fmt --version >/dev/null 2>&1 || rustup component add rustfmt

# npm packages, exactly as package-lock.json pins them; skipped when already installed.
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi
