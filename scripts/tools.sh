#!/usr/bin/env bash
# Installs the build tools the wasm packages need, pinned, into .tools/ (idempotent):
#   wasm-bindgen-cli at exactly the wasm-bindgen version in Cargo.lock.
# Prints nothing when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD/.tools"
version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
bin="$root/bin/wasm-bindgen"
if [[ ! -x "$bin" ]] || [[ "$("$bin" --version 2>/dev/null)" != "wasm-bindgen $version" ]]; then
  echo "tools: installing wasm-bindgen-cli $version into .tools/ (a few minutes, once)" >&2
  # Without --locked: the CLI's own lockfile pins a yanked crate.
  cargo install --quiet --root "$root" wasm-bindgen-cli --version "=$version" >&2
fi
echo "$bin"
