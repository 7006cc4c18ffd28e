#!/usr/bin/env bash
# Builds the browser package (crates/web) into www/pkg/ and reports its gzip size.
set -euo pipefail
cd "$(dirname "$0")/.."
bindgen=$(bash scripts/tools.sh)
# opt-level z for this build only: smaller than the workspace's "s" after gzip.
CARGO_PROFILE_RELEASE_OPT_LEVEL=z cargo build --locked --release -p portcullis-web --target wasm32-unknown-unknown
rm -rf www/pkg/snippets  # a former build's snippets must not count or be served
"$bindgen" --target web --out-dir www/pkg --out-name portcullis_web --remove-name-section --remove-producers-section \
  target/wasm32-unknown-unknown/release/portcullis_web.wasm
raw=$(stat -c %s www/pkg/portcullis_web_bg.wasm)
gz=$(gzip -9 -c www/pkg/portcullis_web_bg.wasm | wc -c)
# The glue and the JavaScript snippets it imports (crates/js/js), as a page loads them.
js=$(cat www/pkg/portcullis_web.js $(find www/pkg/snippets -name '*.js' | sort) | gzip -9 | wc -c)
echo "web: portcullis_web_bg.wasm ${raw} bytes, ${gz} bytes gzip; glue and snippet JS ${js} bytes gzip; total $((gz + js)) bytes gzip (budget 204800)"
if ((gz + js > 204800)); then
  echo "web: the browser package is over its 200 KB gzip budget" >&2
  exit 1
fi
