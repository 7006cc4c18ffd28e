#!/usr/bin/env bash
# The pages (www/) in Debian's Chromium driven by playwright-core, against the Worker on local
# workerd (started by the test), or against BASE_URL/BOOTSTRAP_TOKEN when given.
# Screenshots land in test-output/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if ! command -v chromium >/dev/null; then
  echo "browser-test: installing Debian's chromium"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
fi
bash scripts/web-build.sh
[[ -n ${BASE_URL:-} ]] || bash scripts/worker-build.sh --test
node --test --test-timeout=180000 www/tests/
