#!/usr/bin/env bash
# Runs Portcullis locally on the embedded default (`npm start`): the component on the wasmtime
# host `portcullis serve`, with SQLite and the SQLite-backed KV in .data/host (created on the
# first run with a generated encryption key and bootstrap token). Nothing else to install.
# The same API on local workerd: `npm run start:worker`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "start: building the component and the host (the first build takes several minutes)"
cargo build --locked --release --target wasm32-wasip2 -p portcullis-component
cargo build --locked --profile host -p portcullis-host
bash scripts/web-build.sh
bin=target/host/portcullis
data=.data/host
port=${PORT:-8080}
token=$("$bin" bootstrap-token --data "$data")
cat <<MSG
start: Portcullis on http://127.0.0.1:$port (SQLite + embedded KV in $data); pages: /index.html, /tokens.html
start: bootstrap token (admin, keep it secret): $token
  B=$token
  curl -s -X POST localhost:$port/auth/api/v1/tokens -H "authorization: Bearer \$B" \\
    -d '{"username":"alice","token_type":"user","token_name":"laptop","scopes":["user:token"]}'
MSG
exec "$bin" serve --data "$data" --listen "127.0.0.1:$port" --www www
