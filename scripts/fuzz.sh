#!/usr/bin/env bash
# Runs every cargo-fuzz target of fuzz/ for a bounded time (default 20 s each) from its
# committed seeds (fuzz/seeds/<target>), and fails on any crash, panic, leak or timeout.
#
#   bash scripts/fuzz.sh [seconds-per-target] [target...]
#
# FUZZ_TARGET_DIR moves the (sanitizer) build out of fuzz/target, e.g. to a cache that outlives
# a fresh clone. The working corpus goes to fuzz/corpus/<target> (gitignored) and is kept between runs, so a
# longer run picks up where the last one stopped. Per-target figures are printed at the end and
# written to target/fuzz-summary.txt. Long-run figures: docs/RELIABILITY.md.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-20}"
shift || true
CARGO_FUZZ_VERSION=0.13.1
tools="$PWD/.tools"
export PATH="$tools/bin:$PATH"
if ! cargo fuzz --version 2>/dev/null | grep -q "$CARGO_FUZZ_VERSION"; then
  cargo install cargo-fuzz --version "=$CARGO_FUZZ_VERSION" --locked --root "$tools"
fi
# cargo-fuzz passes -Z flags (sanitizers, sancov); stable rustc accepts them with this.
export RUSTC_BOOTSTRAP=1
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cd fuzz && cargo fuzz list)
fi
# cargo fuzz has no --locked: check the lock file first, then build.
cargo metadata --locked --format-version 1 --manifest-path fuzz/Cargo.toml > /dev/null
target_dir=()
if [ -n "${FUZZ_TARGET_DIR:-}" ]; then
  target_dir=(--target-dir "$FUZZ_TARGET_DIR")
fi
(cd fuzz && cargo fuzz build "${target_dir[@]}")
summary="$PWD/target/fuzz-summary.txt"
mkdir -p target
: > "$summary"
failed=0
for t in "${targets[@]}"; do
  corpus="fuzz/corpus/$t"
  mkdir -p "$corpus"
  log="$PWD/target/fuzz-$t.log"
  start=$(date +%s)
  # -timeout: one input taking over 10 s is a hang; -rss_limit_mb: 2 GiB is a leak.
  if ! (cd fuzz && cargo fuzz run "${target_dir[@]}" "$t" "corpus/$t" "seeds/$t" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1) > "$log" 2>&1; then
    tail -n 60 "$log"
    echo "fuzz.sh: $t FAILED (log: $log; reproducer under fuzz/artifacts/$t/)" | tee -a "$summary" >&2
    failed=1
    continue
  fi
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
  last=$(grep -E '#[0-9]+.*(cov|ft):' "$log" | tail -n 1)
  cov=$(echo "$last" | grep -o 'cov: [0-9]*' | grep -o '[0-9]*' || echo '?')
  ft=$(echo "$last" | grep -o 'ft: [0-9]*' | grep -o '[0-9]*' || echo '?')
  files=$(find "$corpus" -type f | wc -l)
  line="$t: ${seconds}s, $runs executions, cov $cov, ft $ft, corpus $files, crashes 0 ($(( $(date +%s) - start ))s wall)"
  echo "$line" | tee -a "$summary"
done
exit "$failed"
