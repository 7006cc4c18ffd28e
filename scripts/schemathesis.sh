#!/usr/bin/env bash
# Schemathesis against a real `portcullis serve` (the component on the wasmtime host, SQLite and
# the embedded KV in a fresh data directory), driven by the document the server itself serves at
# /auth/openapi.json. Fails on any 5xx, any status, content type, header or body the document
# does not allow, on schema-invalid input accepted, on a 405 without `Allow`, and on an operation
# that answers 2xx without its credential. (Not positive_data_acceptance: input a schema calls
# valid is still refused for rules no schema states, e.g. a duplicate token name or an expiry
# less than 5 minutes ahead, and the document lists those 422s.)
#
#   bash scripts/schemathesis.sh              CI form: 40 cases per operation and phase, at most 4 min
#   bash scripts/schemathesis.sh 1000 1800    long form: 1000 cases per operation, at most 30 min
#
# Arguments (or SCHEMATHESIS_EXAMPLES / SCHEMATHESIS_TIMEOUT): cases per operation, seconds
# before the run is stopped as failed. SCHEMATHESIS_SEED=N repeats a run. schemathesis 4.32.5 and
# its dependencies, pinned in scripts/schemathesis-requirements.txt, are installed into
# .tools/schemathesis (from PyPI, once). Nothing else is contacted: schemathesis 4 has no
# telemetry or report upload, and its example database stays in memory.
set -euo pipefail
cd "$(dirname "$0")/.."
examples=${1:-${SCHEMATHESIS_EXAMPLES:-40}}
timeout_s=${2:-${SCHEMATHESIS_TIMEOUT:-240}}
version=4.32.5
venv="$PWD/.tools/schemathesis"
st="$venv/bin/schemathesis"

if [[ "$("$st" --version 2>/dev/null)" != *"$version"* ]]; then
  echo "schemathesis: installing $version into .tools/schemathesis (once)" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-input -r scripts/schemathesis-requirements.txt
fi

bash scripts/setup.sh
target=${CARGO_TARGET_DIR:-$PWD/target}
echo "== build: the component (release, wasm32-wasip2) and portcullis (debug)"
cargo build --locked --release --target wasm32-wasip2 -p portcullis-component
cargo build --locked -p portcullis-host

work=$(mktemp -d "${TMPDIR:-/tmp}/portcullis-schemathesis-XXXXXX")
server=
stop() {
  if [[ -n "$server" ]] && kill -0 "$server" 2>/dev/null; then
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap stop EXIT

# Only the settings of this run reach the component.
while read -r name; do unset "$name"; done < <(compgen -e | grep '^PORTCULLIS_' || true)
export PORTCULLIS_KNOWN_SCOPES="read:all,exec:notebook,read:image,write:files"
# The compiled component is cached where the host tests keep it (same key: the component's hash).
export PORTCULLIS_HOST_CACHE_DIR="$target/tmp/portcullis-host-tests-cache"
portcullis="$target/debug/portcullis"
where=(--data "$work/data" --component "$target/wasm32-wasip2/release/portcullis_component.wasm")

"$portcullis" serve --listen 127.0.0.1:0 "${where[@]}" >"$work/serve.log" 2>&1 &
server=$!
url=
for _ in $(seq 600); do # up to 300 s: the first start compiles the component
  url=$(sed -n 's/^portcullis: listening on \(http:\/\/[^ ]*\)$/\1/p' "$work/serve.log" | head -1)
  [[ -n "$url" ]] && break
  kill -0 "$server" 2>/dev/null || break
  sleep 0.5
done
if [[ -z "$url" ]]; then
  echo "schemathesis: portcullis serve did not start; its log:" >&2
  cat "$work/serve.log" >&2
  exit 1
fi
bootstrap=$("$portcullis" bootstrap-token "${where[@]}")

# The credential of the run: a user token of an administrator with every scope, made with the
# bootstrap token (a real token with a row, unlike the bootstrap token).
made=$(curl -sS --max-time 30 -X POST "$url/auth/api/v1/tokens" -H "authorization: Bearer $bootstrap" \
  -H 'content-type: application/json' \
  -d '{"username":"fuzz-admin","token_type":"user","token_name":"schemathesis","scopes":["admin:token","admin:session","admin:userinfo","user:token","read:all","exec:notebook","read:image","write:files"]}')
token=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])' <<<"$made")

echo "== schemathesis $version on $url: $examples cases per operation, stopped after ${timeout_s} s"
checks=not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance
checks+=,response_schema_conformance,negative_data_rejection,missing_required_header
checks+=,unsupported_method,allow_header_conformance,ignored_auth
# The server's request lines are `METHOD /path STATUS 1.2ms [note]` (never a token).
server_errors='^[A-Z]+ [^ ]* 5[0-9][0-9] [0-9.]+ms|trapped|panicked'
seed=()
[[ -n "${SCHEMATHESIS_SEED:-}" ]] && seed=(--seed "$SCHEMATHESIS_SEED")
start=$SECONDS
status=0
# From the temporary directory: schemathesis and Hypothesis write caches into the working
# directory. One worker: with two, Hypothesis's concurrent ast.parse calls trip CPython 3.11.7
# ("SystemError: AST constructor recursion depth mismatch").
(cd "$work" && timeout --kill-after=10 "$timeout_s" "$st" run "$url/auth/openapi.json" \
  --url "$url" \
  --header "Authorization: Bearer $token" \
  --checks "$checks" \
  --max-examples "$examples" \
  --workers 1 \
  --request-timeout 30 \
  --generation-database none \
  --suppress-health-check too_slow,filter_too_much \
  --no-color \
  "${seed[@]}") || status=$?
echo "schemathesis: exit $status after $((SECONDS - start)) s"
if ((status != 0)); then
  echo "== portcullis serve: errors in its log" >&2
  grep -E "$server_errors" "$work/serve.log" | head -20 >&2 || true
  exit "$status"
fi
if grep -qE "$server_errors" "$work/serve.log"; then
  echo "schemathesis: the server logged a 5xx or a trap:" >&2
  grep -E "$server_errors" "$work/serve.log" | head -20 >&2
  exit 1
fi
