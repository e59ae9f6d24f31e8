#!/usr/bin/env bash
# `npm test`: native unit tests, the release wasm build, then the Miniflare suites
# against the built worker and the local stack — on PGlite, and again on a
# PostgreSQL server when TEST_DATABASE_URL is set.
#
# TEST_RESILIENCE=1 (set by .ci/run) adds short slices of the resilience tools
# (docs/resilience.md): every fuzz target for FUZZ_SECONDS (3) each, schemathesis with
# SCHEMATHESIS_EXAMPLES (30) per operation, and a SOAK_SECONDS (20) soak per backend.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
source scripts/env.sh

cargo test --quiet
bash scripts/build.sh

echo "test: Miniflare suites on PGlite" >&2
TEST_BACKEND=pglite npx vitest run

if [ -n "${TEST_DATABASE_URL:-}" ]; then
  echo "test: Miniflare suites on the PostgreSQL server from TEST_DATABASE_URL" >&2
  TEST_BACKEND=postgres npx vitest run
fi

if [ -n "${TEST_RESILIENCE:-}" ]; then
  backends=pglite
  [ -n "${TEST_DATABASE_URL:-}" ] && backends=both
  slice() {
    local name=$1 started=$SECONDS
    shift
    echo "test: resilience slice: $name" >&2
    "$@"
    echo "test: resilience slice $name took $((SECONDS - started)) s" >&2
  }
  slice fuzz env FUZZ_SECONDS="${FUZZ_SECONDS:-3}" bash scripts/fuzz.sh
  slice schemathesis bash scripts/schemathesis.sh --backend "$backends" --examples "${SCHEMATHESIS_EXAMPLES:-30}"
  slice soak node soak/run.mjs --seconds "${SOAK_SECONDS:-20}" --backend "$backends"
fi
