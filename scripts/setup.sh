#!/usr/bin/env bash
# Idempotent set-up shared by `npm start` and `npm test`: the Rust targets the hosts build for.
# Quick when everything is already there.
set -euo pipefail

need_targets=()
installed=$(rustup target list --installed)
for target in wasm32-unknown-unknown wasm32-wasip2; do
  grep -qx "$target" <<<"$installed" || need_targets+=("$target")
done
if ((${#need_targets[@]})); then
  echo "setup: adding Rust targets ${need_targets[*]}"
  rustup target add "${need_targets[@]}"
fi
