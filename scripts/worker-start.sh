#!/usr/bin/env bash
# Serves Portcullis as a Worker on local workerd (`npm start`): builds the bundle, applies the D1
# migrations to the local database and runs `wrangler dev --local` on 127.0.0.1:${PORT:-8787}.
# Nothing contacts Cloudflare. State (local KV and D1) lives in .data/worker/state; the
# development settings (an encryption key, a bootstrap token, a JWT secret) are generated into
# .data/worker/.dev.vars on the first run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/worker-build.sh

export WRANGLER_SEND_METRICS=false CLOUDFLARE_CF_FETCH_ENABLED=false
wrangler=node_modules/.bin/wrangler
dir=.data/worker
vars=$dir/.dev.vars
mkdir -p "$dir/state"

if [[ ! -f $vars ]]; then
  (umask 077 && node worker/dev-vars.mjs > "$vars")
  echo "worker-start: wrote development settings to $vars"
fi

"$wrangler" d1 migrations apply DB --local --persist-to "$dir/state" </dev/null

token=$(sed -n 's/^PORTCULLIS_BOOTSTRAP_TOKEN=//p' "$vars")
port=${PORT:-8787}
cat <<MSG
worker-start: Portcullis on http://127.0.0.1:$port (local workerd, KV and D1 in $dir/state)
worker-start: bootstrap token (admin): $token
  curl -H "Authorization: Bearer $token" http://127.0.0.1:$port/auth/api/v1/token-info
worker-start: run the Cron trigger (expiry) with: curl http://127.0.0.1:$port/__scheduled
MSG
exec "$wrangler" dev --local --ip 127.0.0.1 --port "$port" --persist-to "$dir/state" --env-file "$vars" \
  --test-scheduled --show-interactive-dev-session=false
