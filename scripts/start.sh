#!/usr/bin/env bash
# Runs Portcullis locally on the embedded default (`npm start`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cat >&2 <<'MSG'
Portcullis has no runnable host yet: the core library (tokens, storage contract, SQLite and
embedded KV backends) is built and tested by `npm test`. `portcullis serve` (wasmtime host,
SQLite + embedded KV) and the Worker on local workerd are the next milestones.
MSG
exit 2
