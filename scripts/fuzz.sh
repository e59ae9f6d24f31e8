#!/usr/bin/env bash
# `npm run fuzz`: runs every cargo-fuzz target (fuzz/) for a time budget and prints,
# per target, executions, exec/s, coverage (libFuzzer's cov/ft) and crashes.
#
#   FUZZ_SECONDS=N        seconds per target (default 20: ≥ 10 million executions in
#                         all on a 2-core machine, see docs/resilience.md)
#   FUZZ_TARGETS="a b"    only these targets (default: every one in fuzz/src/lib.rs)
#   FUZZ_JOBS=N           targets run side by side (default: the number of cores)
#   FUZZ_TARGET_DIR=dir   cargo's target dir (default fuzz/target)
#
# Toolchain: stable with `--sanitizer none` (the code under test is safe Rust, so
# AddressSanitizer would add cost and find nothing a panic does not; no nightly to
# install). `-a` keeps debug assertions and overflow checks on, which release builds
# of the worker lack. The corpus grows in fuzz/corpus/<target> (git-ignored) from the
# committed fuzz/seeds/<target>; a crash is written to fuzz/artifacts/<target>/ and
# fails the run. Turn each into a regression test (docs/resilience.md, "A crash").
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

CARGO_FUZZ_VERSION=0.13.1
if ! cargo fuzz --version 2>/dev/null | grep -qw "$CARGO_FUZZ_VERSION"; then
  echo "fuzz: installing cargo-fuzz $CARGO_FUZZ_VERSION (about 2 minutes, once)" >&2
  cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked --force
fi

seconds=${FUZZ_SECONDS:-20}
jobs=${FUZZ_JOBS:-$(nproc)}
targets=${FUZZ_TARGETS:-$(sed -n '/^pub const TARGETS/,/^];/s/^ *"\([a-z_]*\)",$/\1/p' fuzz/src/lib.rs)}
target_dir=${FUZZ_TARGET_DIR:-$PWD/fuzz/target}
flags=(-a --sanitizer none --target-dir "$target_dir")
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

cd fuzz
started=$(date +%s)
cargo fuzz build "${flags[@]}" >&2
echo "fuzz: built in $(( $(date +%s) - started )) s; ${seconds} s per target, ${jobs} at a time" >&2

run_one() {
  local t=$1
  mkdir -p "corpus/$t" "artifacts/$t"
  # -timeout: one input taking seconds is a finding (a hang) too.
  cargo fuzz run "${flags[@]}" "$t" "corpus/$t" "seeds/$t" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="artifacts/$t/" >"$logs/$t.log" 2>&1
}

running=0
for t in $targets; do
  run_one "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then wait -n || true; running=$((running - 1)); fi
done
wait || true

failed=0
total=0
printf '%-14s %12s %9s %7s %7s %7s %s\n' target executions exec/s cov ft corpus crashes
for t in $targets; do
  log="$logs/$t.log"
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  last=$(grep -E '^#[0-9]+' "$log" | tail -1)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$last")
  crashes=$(find "artifacts/$t" -type f | wc -l)
  if grep -qE 'panicked|SUMMARY: libFuzzer|ERROR: libFuzzer' "$log"; then
    failed=1
    echo "----- $t failed:" >&2
    grep -E "panicked|SUMMARY|Test unit written|^thread" -A3 "$log" | head -30 >&2
  fi
  total=$((total + ${execs:-0}))
  printf '%-14s %12s %9s %7s %7s %7s %s\n' "$t" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$crashes"
done
echo "fuzz: ${total} executions in all, $(( $(date +%s) - started )) s"
if [ "$failed" -ne 0 ]; then
  echo "fuzz: FAILED: crashes are in fuzz/artifacts/<target>/; reproduce with" >&2
  echo "  (cd fuzz && cargo fuzz run -a --sanitizer none <target> artifacts/<target>/<file>)" >&2
  exit 1
fi
